// Planted: a role assignment without its principal, a metric alert criterion without a name.
resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid('planted')
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'acdd72a7-3385-48ef-bd42-f606fba81ae7')
  }
}
