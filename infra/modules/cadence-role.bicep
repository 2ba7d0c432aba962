// The custom role (exactly the ARM actions aks-cadence calls) and its assignment to the
// Function's identity, on one subscription.
targetScope = 'subscription'

param roleName string
param roleDescription string
param actions array
param principalId string

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, roleName)
  properties: {
    roleName: roleName
    description: roleDescription
    type: 'CustomRole'
    permissions: [
      {
        actions: actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, role.id)
  properties: {
    roleDefinitionId: role.id
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'aks-cadence: read the AKS fleet, plan, and start upgrades/rotations that policy allows'
  }
}

output roleDefinitionId string = role.id
