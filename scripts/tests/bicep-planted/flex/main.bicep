// Planted: site properties and app settings Flex Consumption does not support.
param settings object = {}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: 'func-planted'
  location: 'westeurope'
  kind: 'functionapp,linux'
  properties: {
    vnetRouteAllEnabled: true
    siteConfig: {
      ftpsState: 'Disabled'
      alwaysOn: true
      appSettings: [
        {
          name: 'FUNCTIONS_WORKER_RUNTIME'
          value: 'custom'
        }
      ]
    }
    functionAppConfig: {
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(settings, {
    WEBSITE_RUN_FROM_PACKAGE: '1'
  })
}
