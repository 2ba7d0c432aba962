// Planted: an api-version Azure's types do not have.
resource plan 'Microsoft.Web/serverfarms@2099-01-01' = {
  name: 'asp-planted'
  location: 'westeurope'
}
