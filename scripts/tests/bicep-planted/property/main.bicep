// Planted: properties the type does not have, at the top and nested.
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stplanted'
  location: 'westeurope'
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAcess: false
    encryption: {
      keySource: 'Microsoft.Storage'
      services: {
        blobs: {
          enabled: true
        }
      }
    }
  }
}
