// Two user-assigned identities, so each holds only what its job needs:
// - the Function's: ARM (custom role), ledger container, host storage, Key Vault secrets, App Insights;
// - Event Grid's: writing dead letters to the dead-letter container, nothing else.
param location string
param tags object
param functionIdentityName string
param eventGridIdentityName string

resource functionIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: functionIdentityName
  location: location
  tags: tags
}

resource eventGridIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: eventGridIdentityName
  location: location
  tags: tags
}

output functionIdentityId string = functionIdentity.id
output functionPrincipalId string = functionIdentity.properties.principalId
output functionClientId string = functionIdentity.properties.clientId
output eventGridIdentityId string = eventGridIdentity.id
output eventGridPrincipalId string = eventGridIdentity.properties.principalId
