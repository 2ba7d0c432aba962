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
@description('Action group for the lost-event alerts; empty = no alerts.')
param alertActionGroupId string = ''

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

// Events Event Grid gave up on reach a person: dead-lettered (written to the dead-letter
// container) or dropped (not even dead-lettered). Metrics of Microsoft.EventGrid/systemTopics.
var lostEventMetrics = [
  {
    metric: 'DeadLetteredCount'
    suffix: 'dead-lettered'
    what: 'dead-lettered (see the deadletter container)'
  }
  {
    metric: 'DroppedEventCount'
    suffix: 'dropped'
    what: 'dropped without a dead letter'
  }
]

resource lostEvents 'Microsoft.Insights/metricAlerts@2018-03-01' = [for m in lostEventMetrics: if (!empty(alertActionGroupId)) {
  name: '${topicName}-${m.suffix}'
  location: 'global'
  tags: tags
  properties: {
    description: 'Event Grid, AKS scheduled events (Resource Notifications): events ${m.what} instead of delivered to aks-cadence. See docs/deploy.md, Alerts.'
    severity: 1
    enabled: true
    scopes: [
      topic.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: m.metric
          metricNamespace: 'Microsoft.EventGrid/systemTopics'
          metricName: m.metric
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: alertActionGroupId
      }
    ]
  }
}]

output topicId string = topic.id
