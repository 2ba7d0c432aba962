// One aks-cadence custom role, created once (in the deployment's subscription) with every swept
// subscription in its assignable scopes. Custom role names are unique per Microsoft Entra tenant,
// so the role must not be created again per subscription: the assignments in the other
// subscriptions (role-assignment.bicep) point at this one definition.
targetScope = 'subscription'

@description('The role definition\'s name (a GUID), stable per installation and role.')
param roleGuid string
@description('Display name; unique in the tenant.')
param roleName string
param roleDescription string
param actions array
@description('\'/subscriptions/<id>\' for every subscription the role is assigned in.')
param assignableScopes array

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: roleGuid
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
    assignableScopes: assignableScopes
  }
}

output roleGuid string = role.name
