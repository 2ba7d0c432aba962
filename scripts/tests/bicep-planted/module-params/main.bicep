// Planted: a module given a parameter it lacks, a value outside its @allowed list, and not given
// one without a default.
module store 'modules/store.bicep' = {
  name: 'planted-store'
  params: {
    accountName: 'stplanted'
    access: 'Sometimes'
    sku: 'Standard_LRS'
  }
}
