// Planted (in main.parameters.json): an unknown parameter, a value of the wrong type, one outside
// @allowed, one too long, and a required parameter left out.
@minLength(2)
@maxLength(12)
param name string
param location string
param count int = 1
@allowed([
  'Enabled'
  'Disabled'
])
param access string = 'Enabled'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${name}-${count}-${access}'
  location: location
}
