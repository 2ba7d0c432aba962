// A storage account reachable only with Entra ID (no shared keys, no anonymous blobs, TLS 1.2+).
param location string
param tags object
param accountName string
param containers array
param queues array

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_206: Locally redundant storage is enough: the ledger is rebuilt by the next sweep and dead letters are a short-lived buffer.
  //checkov:skip=CKV_AZURE_59: Event Grid dead-lettering and the Flex Consumption app reach the account over its public endpoint (no VNet in this baseline); access is Entra ID only: shared keys are off and anonymous blob access is off.
  //checkov:skip=CKV_AZURE_35: A deny-by-default firewall would shut out the Flex Consumption app, which is not a "trusted Azure service" and has no VNet in this baseline; every request needs an Entra ID token with a data role.
  //checkov:skip=CKV_AZURE_43: The name is computed ('st' + name + one letter + uniqueString, cut to 24 lowercase letters and digits), which checkov cannot evaluate.
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for c in containers: {
  parent: blobService
  name: c
  properties: {
    publicAccess: 'None'
  }
}]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = if (!empty(queues)) {
  parent: account
  name: 'default'
}

resource storageQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for q in queues: {
  parent: queueService
  name: q
}]

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
