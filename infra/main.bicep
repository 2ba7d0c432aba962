// aks-cadence: everything it needs in one subscription-scoped deployment.
//
//   az deployment sub create -l <region> -f infra/main.bicep -p @infra/main.parameters.json
//
// Deploy twice on a first install: once with deployEventSubscriptions=false (Event Grid checks
// that the `aks-events` function exists when a subscription is created, and the code is not
// there yet), zip-deploy the app, then again with deployEventSubscriptions=true. The workflow in
// .github/workflows/deploy.yml does exactly that; see docs/deploy.md.
targetScope = 'subscription'

@description('Short name for this installation; used in resource names (lowercase letters and digits).')
@minLength(2)
@maxLength(12)
param name string = 'cadence'

@description('Region for the resource group and everything regional in it. Must offer Flex Consumption.')
param location string

@description('Resource group to create (or reuse) for aks-cadence.')
@minLength(1)
@maxLength(90)
param resourceGroupName string = 'rg-aks-cadence'

@description('Cluster resource ids whose Microsoft.ContainerService.ManagedClusters system topic (one per cluster) should deliver to aks-cadence. A cluster can have only one such system topic: leave out clusters that already have one and add an event subscription to it instead (docs/deploy.md).')
param clusterIds array = []

@description('Create the subscription-wide Azure Resource Notifications system topic for AKS scheduled events (ContainerServiceEventResources). Only one may exist per subscription: set false if one exists and subscribe it by hand.')
param createResourceNotificationsTopic bool = true

@description('Create the Event Grid event subscriptions. False on the very first deployment, before the function code exists.')
param deployEventSubscriptions bool = true

@description('Other subscriptions aks-cadence sweeps (and, with allowClusterChanges, acts on). The roles are created once, in this subscription, with every listed subscription in their assignable scopes, and assigned in each (the deploying principal needs rights there).')
param extraSubscriptionIds array = []

@description('Grant the upgrader role (cluster write, node image upgrade, certificate rotation, operation status). Set true only when a policy says "auto" for some change; false = notify-only, the identity cannot change any cluster.')
param allowClusterChanges bool = false

@description('Let the sweep read each cluster\'s user kubeconfig (listClusterUserCredential) for the cluster CA and client certificate expiry. Adds the action to the reader role and sets CADENCE_SWEEP_KUBECONFIG_CERTS to match. On clusters without Entra ID integration that kubeconfig is cluster-admin access: read docs/deploy.md first.')
param readKubeconfigCertificates bool = false

@description('Plan and print only (CADENCE_DRY_RUN). Start with true; set false when the plans look right.')
param dryRun bool = true

@description('Maximum instances of the Flex Consumption app (40-1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('GitHub API base URL (GitHub Enterprise Server: https://ghe.example.com/api/v3).')
param githubApiUrl string = 'https://api.github.com'

@description('GitHub App id and installation id, when authenticating as a GitHub App (the private key is a Key Vault secret). Empty = token authentication.')
param githubAppId string = ''
param githubAppInstallationId string = ''

@description('SMTP relay URL: smtp://host:587 (STARTTLS) or smtps://host:465. Empty = no e-mail.')
param smtpUrl string = ''
param smtpFrom string = ''
param smtpUsername string = ''

@description('App setting name → Key Vault secret name, for every secret you store in the vault (GITHUB_TOKEN or GITHUB_APP_PRIVATE_KEY, SMTP_PASSWORD, chat webhook URLs named by the policy). Only list secrets that exist: an unresolved reference would reach the app as text.')
param keyVaultSecretSettings object = {}

@description('Object id of a person or group allowed to manage the Key Vault secrets (Key Vault Secrets Officer). Empty = none.')
param secretsOfficerObjectId string = ''

@description('Deadline for an event to be delivered before it is dead-lettered, in minutes (max 1440).')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

@description('Delivery attempts before an event is dead-lettered (max 30).')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Accept inbound requests to the Function App only from Event Grid (access restriction on the service tag AzureEventGrid). Test posts from elsewhere are then refused with 403 (docs/deploy.md).')
param restrictInboundToEventGrid bool = false

@description('Put the host storage account and Key Vault behind private endpoints (public network access Disabled) in a new VNet the Function App is integrated with; the data account (ledger, dead letters) gets a private endpoint too but stays reachable for Event Grid. See docs/deploy.md, Networking.')
param privateNetworking bool = false

@description('With privateNetworking: the VNet\'s address space and, inside it, the Function App\'s integration subnet and the private endpoints\' subnet.')
param vnetAddressPrefix string = '10.90.0.0/24'
param appSubnetPrefix string = '10.90.0.0/25'
param privateEndpointSubnetPrefix string = '10.90.0.128/27'

@description('With privateNetworking: resource id of a NAT gateway (same region) for the app subnet\'s outbound traffic; empty = the subnet keeps default outbound access.')
param natGatewayId string = ''

@description('Email address that receives the alerts (failed invocations, sweeps missing, events dead-lettered or dropped, configuration failures). Empty = no alerts are created.')
param alertEmail string = ''

param tags object = {
  application: 'aks-cadence'
}

// The ARM actions the code calls, exactly (written from handler/azure/calls.rs; tests/arm_role.rs
// checks the three files together cover them and nothing else), split by what they allow.
// Shape: the one `az role definition create --role-definition` takes.
var readerRoleFile = loadJsonContent('roles/reader.json')
var kubeconfigRoleFile = loadJsonContent('roles/kubeconfig-certificates.json')
var upgraderRoleFile = loadJsonContent('roles/upgrader.json')

var token = toLower(uniqueString(subscription().id, resourceGroupName, name))
var sweptSubscriptionIds = concat([subscription().subscriptionId], extraSubscriptionIds)
var functionAppName = 'func-${name}-${token}'
var vaultName = take('kv-${name}-${token}', 24)
var ledgerContainer = 'ledger'
var deadLetterContainer = 'deadletter'
// Must match function-definitions/sweep (queue output) and sweep-cluster (queue trigger).
var sweepQueue = 'sweep-clusters'
// Must match the sweep timer in function-definitions/sweep/function.json (`0 0 */6 * * *`);
// scripts/static-checks.sh checks it. The "sweep missing" alert waits two periods.
var sweepPeriodHours = 6

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module identities 'modules/identities.bicep' = {
  name: 'cadence-identities'
  scope: rg
  params: {
    location: location
    tags: tags
    functionIdentityName: 'id-${name}-func-${token}'
    eventGridIdentityName: 'id-${name}-eventgrid-${token}'
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'cadence-monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    workspaceName: 'log-${name}-${token}'
    appInsightsName: 'appi-${name}-${token}'
    publisherPrincipalId: identities.outputs.functionPrincipalId
  }
}

// Host storage: AzureWebJobsStorage (coordination, timer locks), the deployment package, and the
// sweep fan-out queue. The Functions host needs Storage Blob Data Owner on it.
module hostStorage 'modules/storage.bicep' = {
  name: 'cadence-host-storage'
  scope: rg
  params: {
    location: location
    tags: tags
    accountName: take('st${name}h${token}', 24)
    containers: ['app-package']
    queues: [sweepQueue, '${sweepQueue}-poison']
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

// Data storage: the shared ledger and Event Grid's dead letters, nothing else. It stays reachable
// over its public endpoint (Entra ID only) even with privateNetworking: Event Grid dead-letters
// with its user-assigned identity, and a storage firewall admits trusted Azure services only with
// a system-assigned one. With privateNetworking the app reaches it through a private endpoint.
module dataStorage 'modules/storage.bicep' = {
  name: 'cadence-data-storage'
  scope: rg
  params: {
    location: location
    tags: tags
    accountName: take('st${name}d${token}', 24)
    containers: [ledgerContainer, deadLetterContainer]
    queues: []
  }
}

module access 'modules/storage-access.bicep' = {
  name: 'cadence-storage-access'
  scope: rg
  params: {
    hostAccountName: hostStorage.outputs.name
    dataAccountName: dataStorage.outputs.name
    ledgerContainer: ledgerContainer
    deadLetterContainer: deadLetterContainer
    functionPrincipalId: identities.outputs.functionPrincipalId
    eventGridPrincipalId: identities.outputs.eventGridPrincipalId
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'cadence-keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    vaultName: vaultName
    readerPrincipalId: identities.outputs.functionPrincipalId
    secretsOfficerObjectId: secretsOfficerObjectId
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

module network 'modules/network.bicep' = if (privateNetworking) {
  name: 'cadence-network'
  scope: rg
  params: {
    location: location
    tags: tags
    vnetName: 'vnet-${name}-${token}'
    vnetAddressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    natGatewayId: natGatewayId
  }
}

module privateEndpoints 'modules/private-endpoints.bicep' = if (privateNetworking) {
  name: 'cadence-private-endpoints'
  scope: rg
  params: {
    location: location
    tags: tags
    subnetId: privateNetworking ? network.outputs.endpointSubnetId : ''
    endpoints: privateNetworking ? [
      {
        name: 'pe-${hostStorage.outputs.name}-blob'
        resourceId: hostStorage.outputs.id
        groupId: 'blob'
        zoneId: network.outputs.blobZoneId
      }
      {
        name: 'pe-${hostStorage.outputs.name}-queue'
        resourceId: hostStorage.outputs.id
        groupId: 'queue'
        zoneId: network.outputs.queueZoneId
      }
      {
        name: 'pe-${hostStorage.outputs.name}-table'
        resourceId: hostStorage.outputs.id
        groupId: 'table'
        zoneId: network.outputs.tableZoneId
      }
      {
        name: 'pe-${dataStorage.outputs.name}-blob'
        resourceId: dataStorage.outputs.id
        groupId: 'blob'
        zoneId: network.outputs.blobZoneId
      }
      {
        name: 'pe-${vault.outputs.name}'
        resourceId: vault.outputs.id
        groupId: 'vault'
        zoneId: network.outputs.vaultZoneId
      }
    ] : []
  }
}

// { SETTING: '@Microsoft.KeyVault(VaultName=…;SecretName=…)' } for each configured secret. Built as
// JSON text because the Bicep parser CI uses (pycep) predates lambdas such as toObject(); names are
// app-setting and secret names (letters, digits, '-' and '_'), so no escaping is needed.
var secretReferencePairs = [for entry in items(keyVaultSecretSettings): '"${entry.key}":"@Microsoft.KeyVault(VaultName=${vaultName};SecretName=${entry.value})"']
var secretReferences = json('{${join(secretReferencePairs, ',')}}')

var plainSettings = {
  CADENCE_STATE: 'blob:${dataStorage.outputs.blobEndpoint}${ledgerContainer}'
  CADENCE_DRY_RUN: dryRun ? 'true' : 'false'
  CADENCE_CONFIG: 'cadence.toml'
  CADENCE_SUBSCRIPTIONS: join(sweptSubscriptionIds, ',')
  // Same parameter as the reader role's listClusterUserCredential action: role and setting agree.
  CADENCE_SWEEP_KUBECONFIG_CERTS: readKubeconfigCertificates ? 'true' : 'false'
  // Events are taken from these topics only: the swept subscriptions (their Resource Notifications
  // topic and every cluster in them) and the clusters wired here, wherever they live.
  CADENCE_EVENTGRID_ALLOWED_TOPICS: join(concat(sweptSubscriptionIds, clusterIds), ',')
  // Every subscription created here delivers to the `aks-events` trigger: the webhook stays off.
  CADENCE_EVENTGRID_WEBHOOK: 'off'
  AZURE_CREDENTIAL: 'managed_identity'
  AZURE_CLIENT_ID: identities.outputs.functionClientId
  GITHUB_API_URL: githubApiUrl
}
var githubAppSettings = empty(githubAppId) ? {} : {
  GITHUB_APP_ID: githubAppId
  GITHUB_APP_INSTALLATION_ID: githubAppInstallationId
}
var smtpSettings = empty(smtpUrl) ? {} : union({
  SMTP_URL: smtpUrl
  SMTP_FROM: smtpFrom
}, empty(smtpUsername) ? {} : { SMTP_USERNAME: smtpUsername })

module app 'modules/functionapp.bicep' = {
  name: 'cadence-functionapp'
  scope: rg
  params: {
    location: location
    tags: tags
    planName: 'asp-${name}-${token}'
    appName: functionAppName
    identityId: identities.outputs.functionIdentityId
    identityClientId: identities.outputs.functionClientId
    hostStorageName: hostStorage.outputs.name
    hostBlobEndpoint: hostStorage.outputs.blobEndpoint
    appInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    appSettings: union(plainSettings, githubAppSettings, smtpSettings, secretReferences)
    virtualNetworkSubnetId: privateNetworking ? network.outputs.appSubnetId : ''
    restrictInboundToEventGrid: restrictInboundToEventGrid
  }
  dependsOn: [access, privateEndpoints]
}

// Least-privilege custom roles, each defined ONCE (custom role names are unique per tenant) in
// this subscription with every swept subscription as an assignable scope, then assigned to the
// Function's identity in each swept subscription. The display names carry the installation's
// token so two installations in one tenant never collide.
var roleAssignableScopes = [for sub in sweptSubscriptionIds: '/subscriptions/${sub}']

module readerRole 'modules/role-definition.bicep' = {
  name: 'cadence-role-reader'
  params: {
    roleGuid: guid(subscription().id, resourceGroupName, name, 'aks-cadence-reader')
    roleName: '${readerRoleFile.Name} (${name}-${token})'
    roleDescription: readerRoleFile.Description
    actions: concat(readerRoleFile.Actions, readKubeconfigCertificates ? kubeconfigRoleFile.Actions : [])
    assignableScopes: roleAssignableScopes
  }
}

module upgraderRole 'modules/role-definition.bicep' = if (allowClusterChanges) {
  name: 'cadence-role-upgrader'
  params: {
    roleGuid: guid(subscription().id, resourceGroupName, name, 'aks-cadence-upgrader')
    roleName: '${upgraderRoleFile.Name} (${name}-${token})'
    roleDescription: upgraderRoleFile.Description
    actions: upgraderRoleFile.Actions
    assignableScopes: roleAssignableScopes
  }
}

module readerAssignments 'modules/role-assignment.bicep' = [for sub in sweptSubscriptionIds: {
  name: 'cadence-reader-${uniqueString(sub)}'
  scope: subscription(sub)
  params: {
    roleGuid: readerRole.outputs.roleGuid
    principalId: identities.outputs.functionPrincipalId
    assignmentDescription: 'aks-cadence: read the AKS fleet'
  }
}]

module upgraderAssignments 'modules/role-assignment.bicep' = [for sub in sweptSubscriptionIds: if (allowClusterChanges) {
  name: 'cadence-upgrader-${uniqueString(sub)}'
  scope: subscription(sub)
  params: {
    roleGuid: allowClusterChanges ? upgraderRole.outputs.roleGuid : ''
    principalId: identities.outputs.functionPrincipalId
    assignmentDescription: 'aks-cadence: start the upgrades and certificate rotations policy allows'
  }
}]

module alerts 'modules/alerts.bicep' = if (!empty(alertEmail)) {
  name: 'cadence-alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    actionGroupName: 'ag-${name}-${token}'
    actionGroupShortName: take('cadence${name}', 12)
    alertEmail: alertEmail
    appInsightsId: monitoring.outputs.appInsightsId
    namePrefix: 'alert-${name}'
    sweepPeriodHours: sweepPeriodHours
  }
}
var alertActionGroupId = empty(alertEmail) ? '' : alerts.outputs.actionGroupId

var functionResourceId = '${app.outputs.id}/functions/aks-events'
var delivery = {
  functionResourceId: functionResourceId
  eventGridIdentityId: identities.outputs.eventGridIdentityId
  deadLetterStorageId: dataStorage.outputs.id
  deadLetterContainer: deadLetterContainer
  maxDeliveryAttempts: maxDeliveryAttempts
  eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
}

module scheduledEvents 'modules/resource-notifications.bicep' = if (createResourceNotificationsTopic) {
  name: 'cadence-resource-notifications'
  scope: rg
  params: {
    tags: tags
    topicName: 'aks-scheduled-events-${name}'
    alertActionGroupId: alertActionGroupId
    deployEventSubscription: deployEventSubscriptions
    delivery: delivery
  }
  dependsOn: [access]
}

// The clusters themselves, for their region (a system topic lives in its source's region).
resource clusters 'Microsoft.ContainerService/managedClusters@2024-09-01' existing = [for clusterId in clusterIds: {
  name: last(split(clusterId, '/'))
  scope: resourceGroup(split(clusterId, '/')[2], split(clusterId, '/')[4])
}]

module clusterEvents 'modules/cluster-events.bicep' = [for (clusterId, i) in clusterIds: {
  name: 'cadence-cluster-events-${i}'
  scope: resourceGroup(split(clusterId, '/')[2], split(clusterId, '/')[4])
  params: {
    tags: tags
    clusterId: clusterId
    clusterLocation: clusters[i].location
    alertActionGroupId: alertActionGroupId
    deployEventSubscription: deployEventSubscriptions
    delivery: delivery
  }
  dependsOn: [access]
}]

output resourceGroupName string = rg.name
output functionAppName string = app.outputs.name
output keyVaultName string = vault.outputs.name
output ledgerUrl string = '${dataStorage.outputs.blobEndpoint}${ledgerContainer}'
output deadLetterUrl string = '${dataStorage.outputs.blobEndpoint}${deadLetterContainer}'
output functionIdentityPrincipalId string = identities.outputs.functionPrincipalId
