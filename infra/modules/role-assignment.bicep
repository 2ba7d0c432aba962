// Assigns an aks-cadence custom role (created once by role-definition.bicep) to the Function's
// identity on one subscription.
targetScope = 'subscription'

@description('The role definition\'s name (GUID); the definition itself lives in the deployment\'s subscription and lists this subscription in its assignable scopes.')
param roleGuid string
param principalId string
param assignmentDescription string

// A custom role is a tenant-wide object; an assignment names it by this subscription's path.
var roleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleGuid)

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleGuid)
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: assignmentDescription
  }
}
