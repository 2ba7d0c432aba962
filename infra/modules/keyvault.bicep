// Key Vault for the GitHub, SMTP and chat secrets. RBAC only, purge protection on. The Function
// reads secrets through Key Vault references resolved with its user-assigned identity.
param location string
param tags object
param vaultName string
param readerPrincipalId string
param secretsOfficerObjectId string
@description('Enabled, or Disabled (reachable only through a private endpoint; firewall Deny).')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109: A parameter: with privateNetworking the vault is Disabled/Deny and reached through its private endpoint; without it the app has no VNet and resolves Key Vault references over the public endpoint. Access is RBAC-only either way.
  //checkov:skip=CKV_AZURE_189: Same reason as CKV_AZURE_109: public network access is Disabled with privateNetworking and needed without it; no secret is readable without an RBAC role.
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enablePurgeProtection: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
      bypass: 'AzureServices'
    }
  }
}

var secretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var secretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, readerPrincipalId, secretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsUser)
    principalId: readerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource officer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(secretsOfficerObjectId)) {
  name: guid(vault.id, secretsOfficerObjectId, secretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficer)
    principalId: secretsOfficerObjectId
  }
}

output name string = vault.name
output id string = vault.id
