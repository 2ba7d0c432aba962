// Planted: properties Azure sets, written by the template.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-planted'
  location: 'westeurope'
  properties: {}
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stplanted'
  location: 'westeurope'
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    creationTime: '2026-01-01T00:00:00Z'
  }
}
