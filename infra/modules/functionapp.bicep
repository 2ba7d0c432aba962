// The Function App on a Flex Consumption plan (Linux, custom handler runtime), running as the
// user-assigned identity for everything: host storage, deployment package, Key Vault references,
// Application Insights, ARM.
param location string
param tags object
param planName string
param appName string
param identityId string
param identityClientId string
param hostStorageName string
param hostBlobEndpoint string
param appInsightsConnectionString string
param maximumInstanceCount int
param appSettings object

@description('The VNet integration subnet (delegated to Microsoft.App/environments); empty = no VNet integration.')
param virtualNetworkSubnetId string = ''

@description('Accept inbound requests to the app only from Event Grid (service tag AzureEventGrid). The SCM (deployment) endpoint keeps its own, unrestricted rules.')
param restrictInboundToEventGrid bool = false

@description('Memory per instance (MB). The handler needs little; 2048 is the smallest size offered for every runtime.')
param instanceMemoryMB int = 2048

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225: Zone redundancy is offered for Flex Consumption in some regions only; a zone outage delays work (Event Grid retries for 24 h, the timer sweep catches up) without losing it.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  //checkov:skip=CKV_AZURE_17: Client certificates do not apply: the only callers are Event Grid (system key) and the Functions host's triggers.
  //checkov:skip=CKV_AZURE_212: Flex Consumption scales instances itself; there is no fixed instance count to raise.
  //checkov:skip=CKV_AZURE_222: Event Grid delivers to the Functions endpoint over the public network (it cannot deliver to a private endpoint); function keys protect it, and restrictInboundToEventGrid admits only the AzureEventGrid service tag. EasyAuth is not supported on Flex Consumption.
  //checkov:skip=CKV_AZURE_213: App Service health checks do not apply to Functions: the host itself probes the custom handler (GET /) and restarts it.
  //checkov:skip=CKV_AZURE_78: Flex Consumption does not support FTPS and rejects siteConfig.ftpsState (https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations); FTP publishing is off through basicPublishingCredentialsPolicies ftp (allow false) below.
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    // Flex Consumption routes all outbound traffic through the integration subnet.
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      // No ftpsState: Flex Consumption does not support FTPS and ARM rejects the property there
      // (error 51021); FTP and SCM basic publishing credentials are off below.
      http20Enabled: true
      remoteDebuggingEnabled: false
      ipSecurityRestrictions: restrictInboundToEventGrid ? [
        {
          name: 'event-grid'
          description: 'Event Grid deliveries (aks-events, eventgrid)'
          action: 'Allow'
          tag: 'ServiceTag'
          ipAddress: 'AzureEventGrid'
          priority: 100
        }
      ] : []
      ipSecurityRestrictionsDefaultAction: restrictInboundToEventGrid ? 'Deny' : 'Allow'
      // Deployments (zip deploy, the workflow) go to the SCM endpoint, which Entra ID protects
      // (basic publishing credentials are off).
      scmIpSecurityRestrictionsUseMain: false
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostBlobEndpoint}app-package'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov reads every sites/config as web-server settings; this one is the app settings.
  //checkov:skip=CKV_AZURE_13: Authentication is per function (system key / Entra token); EasyAuth is not supported on Flex Consumption.
  //checkov:skip=CKV_AZURE_63: App Service HTTP logs do not exist for Functions; requests and traces go to Application Insights.
  //checkov:skip=CKV_AZURE_65: Same as CKV_AZURE_63 (detailed error pages are an App Service web-server feature).
  //checkov:skip=CKV_AZURE_66: Same as CKV_AZURE_63 (failed request tracing is an IIS/App Service feature).
  //checkov:skip=CKV_AZURE_80: No .NET Framework: the app is a native custom handler.
  //checkov:skip=CKV_AZURE_88: Flex Consumption runs the package from blob storage, not Azure Files.
  //checkov:skip=CKV_AZURE_222: Event Grid must reach the function endpoint over the public network; function keys protect it, and restrictInboundToEventGrid admits only the AzureEventGrid service tag.
  parent: site
  name: 'appsettings'
  properties: union(appSettings, {
    // Host storage with the user-assigned identity (no connection string, no keys).
    AzureWebJobsStorage__accountName: hostStorageName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  })
}

resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
