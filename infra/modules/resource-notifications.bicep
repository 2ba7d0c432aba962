// The subscription-wide Azure Resource Notifications system topic for AKS
// (Microsoft.ResourceNotifications.ContainerServiceEventResources, location `global`, source =
// the subscription): ScheduledEventEmitted for planned maintenance (auto-upgrade, node OS) 7
// days and 24 hours ahead, and EOL notices, for every cluster in the subscription.
// One such topic may exist per subscription.
param tags object
param topicName string
param deployEventSubscription bool
@description('functionResourceId, eventGridIdentityId, deadLetterStorageId, deadLetterContainer, maxDeliveryAttempts, eventTimeToLiveInMinutes')
param delivery object

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: topicName
  location: 'global'
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${delivery.eventGridIdentityId}': {}
    }
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.ResourceNotifications.ContainerServiceEventResources'
  }
}

resource toFunction 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (deployEventSubscription) {
  parent: topic
  name: 'aks-cadence'
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: delivery.functionResourceId
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    filter: {
      includedEventTypes: [
        'Microsoft.ResourceNotifications.ContainerServiceEventResources.ScheduledEventEmitted'
      ]
    }
    eventDeliverySchema: 'EventGridSchema'
    retryPolicy: {
      maxDeliveryAttempts: delivery.maxDeliveryAttempts
      eventTimeToLiveInMinutes: delivery.eventTimeToLiveInMinutes
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: delivery.eventGridIdentityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: delivery.deadLetterStorageId
          blobContainerName: delivery.deadLetterContainer
        }
      }
    }
  }
}

output topicId string = topic.id
