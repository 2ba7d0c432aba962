// Planted: names that break Azure's rules for some allowed input, names that collide in a loop,
// and a name that cannot be evaluated.
@minLength(2)
@maxLength(12)
param name string
param clusterIds array = []
param location string

// 'st' + name + 'data' + 13 = up to 31 characters: too long for a storage account.
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'st${name}data${uniqueString(name)}'
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
}

// The cluster name as it is: underscores and 63 characters break Event Grid's rule.
resource topics 'Microsoft.EventGrid/systemTopics@2025-02-15' = [for id in clusterIds: {
  name: 'aks-cadence-${last(split(id, '/'))}'
  location: location
  properties: {
    source: id
    topicType: 'Microsoft.ContainerService.ManagedClusters'
  }
}]

// Underscores replaced, no hash: my_cluster and my-cluster get the same name.
resource alerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [for id in clusterIds: {
  name: 'lost-${toLower(replace(last(split(id, '/')), '_', '-'))}'
  location: 'global'
  properties: {
    severity: 1
    enabled: true
    scopes: []
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
    }
  }
}]

// Depends on something only known at deployment.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${resourceGroup().location}'
  location: location
}
