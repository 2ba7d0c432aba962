// Planted: values outside closed enums, as a literal, through a parameter's @allowed list,
// through a variable's conditional, and a free-text parameter written to a closed enum.
@allowed([
  'Hot'
  'Warm'
])
param tier string = 'Hot'
param cold bool = false
param mode string
var certMode = cold ? 'Optional' : 'Sometimes'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stplanted'
  location: 'westeurope'
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: tier
  }
}

resource literal 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: 'stplanted2'
  location: 'westeurope'
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Frozen'
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: 'app-planted'
  location: 'westeurope'
  properties: {
    clientCertMode: certMode
    ipMode: mode
  }
}
