// Planted: literals of the wrong kind or outside the type's bounds.
resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: 'app-planted'
  location: 'westeurope'
  properties: {
    httpsOnly: 'yes'
    siteConfig: {
      minimumElasticInstanceCount: 50
    }
    functionAppConfig: {
      scaleAndConcurrency: {
        maximumInstanceCount: 'forty'
      }
    }
  }
}

resource group 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-planted'
  location: 'global'
  properties: {
    groupShortName: 'far-too-long-a-name'
    enabled: true
  }
}
