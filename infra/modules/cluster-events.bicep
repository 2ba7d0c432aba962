// One cluster's Microsoft.ContainerService.ManagedClusters system topic (deployed into the
// cluster's resource group, in the cluster's region) with an event subscription to the
// `aks-events` function: new Kubernetes versions, support ending/ended, node pool rolling.
param tags object
param clusterId string
@description('The cluster\'s region (the topic must be in its source\'s region).')
param clusterLocation string
param topicName string
param deployEventSubscription bool
@description('functionResourceId, eventGridIdentityId, deadLetterStorageId, deadLetterContainer, maxDeliveryAttempts, eventTimeToLiveInMinutes')
param delivery object

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: topicName
  location: clusterLocation
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${delivery.eventGridIdentityId}': {}
    }
  }
  properties: {
    source: clusterId
    topicType: 'Microsoft.ContainerService.ManagedClusters'
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
        'Microsoft.ContainerService.NewKubernetesVersionAvailable'
        'Microsoft.ContainerService.ClusterSupportEnding'
        'Microsoft.ContainerService.ClusterSupportEnded'
        'Microsoft.ContainerService.NodePoolRollingStarted'
        'Microsoft.ContainerService.NodePoolRollingSucceeded'
        'Microsoft.ContainerService.NodePoolRollingFailed'
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
