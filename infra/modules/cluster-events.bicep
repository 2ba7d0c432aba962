// One cluster's Microsoft.ContainerService.ManagedClusters system topic (deployed into the
// cluster's resource group, in the cluster's region) with an event subscription to the
// `aks-events` function: new Kubernetes versions, support ending/ended, node pool rolling.
param tags object
@description('The cluster\'s resource id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>.')
param clusterId string
@description('The cluster\'s region (the topic must be in its source\'s region).')
param clusterLocation string
param deployEventSubscription bool
@description('functionResourceId, eventGridIdentityId, deadLetterStorageId, deadLetterContainer, maxDeliveryAttempts, eventTimeToLiveInMinutes')
param delivery object
@description('Action group for the lost-event alerts; empty = no alerts.')
param alertActionGroupId string = ''

// The system topic's name. Event Grid allows 3-50 alphanumerics and hyphens; an AKS cluster name
// 1-63 alphanumerics, hyphens and underscores. `aks-cadence-<cluster>` is kept wherever it is valid
// (installations so far have that name, and a cluster can have only one system topic, so a new
// name would not deploy next to the old one); otherwise the cluster name is lower-cased, its
// underscores become hyphens, it is cut to 24 characters, and a hash of the cluster id
// (lower-cased: resource ids are case-insensitive) keeps the name unique and stable: at most
// 12 + 24 + 1 + 13 = 50 characters. scripts/tests/test_topic_names.py evaluates this expression
// against a Python model of it over awkward cluster names.
var clusterName = last(split(clusterId, '/'))
var legacyTopicName = 'aks-cadence-${clusterName}'
var topicName = (length(legacyTopicName) <= 50 && !contains(clusterName, '_')) ? legacyTopicName : 'aks-cadence-${take(replace(toLower(clusterName), '_', '-'), 24)}-${uniqueString(toLower(clusterId))}'

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
    description: 'Event Grid, AKS events of this cluster: events ${m.what} instead of delivered to aks-cadence. See docs/deploy.md, Alerts.'
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
output topicName string = topic.name
