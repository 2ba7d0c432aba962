// A storage account reachable only with Entra ID (no shared keys, no anonymous blobs, TLS 1.2+).
param location string
param tags object
param accountName string
param containers array
param queues array
@description('Enabled (reachable over the public endpoint, Entra ID only) or Disabled (private endpoints only).')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_206: Locally redundant storage is enough: the ledger is rebuilt by the next sweep and dead letters are a short-lived buffer.
  //checkov:skip=CKV_AZURE_59: Public access is a parameter: Disabled for the host account with privateNetworking. It stays Enabled without privateNetworking (the app has no VNet) and for the data account, where Event Grid writes dead letters with a user-assigned identity, which a storage firewall refuses. Every request needs an Entra ID token: shared keys and anonymous blob access are off.
  //checkov:skip=CKV_AZURE_35: Same reason as CKV_AZURE_59: where public access stays Enabled the firewall must allow it (the app without a VNet; Event Grid's user-assigned identity, which trusted-service access does not cover); with public access Disabled the firewall is Deny.
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
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
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
