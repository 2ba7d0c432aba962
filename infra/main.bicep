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
param resourceGroupName string = 'rg-aks-cadence'

@description('Cluster resource ids whose Microsoft.ContainerService.ManagedClusters system topic (one per cluster) should deliver to aks-cadence. A cluster can have only one such system topic: leave out clusters that already have one and add an event subscription to it instead (docs/deploy.md).')
param clusterIds array = []

@description('Create the subscription-wide Azure Resource Notifications system topic for AKS scheduled events (ContainerServiceEventResources). Only one may exist per subscription: set false if one exists and subscribe it by hand.')
param createResourceNotificationsTopic bool = true

@description('Create the Event Grid event subscriptions. False on the very first deployment, before the function code exists.')
param deployEventSubscriptions bool = true

@description('Other subscriptions aks-cadence sweeps and acts on: each gets the custom role and its assignment too (the deploying principal needs rights there).')
param extraSubscriptionIds array = []

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

param tags object = {
  application: 'aks-cadence'
}

// The ARM actions the code calls, exactly (written from handler/azure/calls.rs).
// Shape: the one `az role definition create --role-definition` takes.
var roleDefinition = loadJsonContent('role-definition.json')

var token = toLower(uniqueString(subscription().id, resourceGroupName, name))
var functionAppName = 'func-${name}-${token}'
var vaultName = take('kv-${name}-${token}', 24)
var ledgerContainer = 'ledger'
var deadLetterContainer = 'deadletter'
// Must match function-definitions/sweep (queue output) and sweep-cluster (queue trigger).
var sweepQueue = 'sweep-clusters'

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
  }
}

// Data storage: the shared ledger and Event Grid's dead letters, nothing else.
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
  CADENCE_SUBSCRIPTIONS: join(concat([subscription().subscriptionId], extraSubscriptionIds), ',')
  // Events are taken from these topics only: the swept subscriptions (their Resource Notifications
  // topic and every cluster in them) and the clusters wired here, wherever they live.
  CADENCE_EVENTGRID_ALLOWED_TOPICS: join(concat([subscription().subscriptionId], extraSubscriptionIds, clusterIds), ',')
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
  }
  dependsOn: [access]
}

// Least-privilege custom role (exactly the ARM actions the code calls) on each subscription.
module cadenceRole 'modules/cadence-role.bicep' = {
  name: 'cadence-role'
  params: {
    roleName: '${roleDefinition.Name} (${name})'
    roleDescription: roleDefinition.Description
    actions: roleDefinition.Actions
    principalId: identities.outputs.functionPrincipalId
  }
}

module extraRoles 'modules/cadence-role.bicep' = [for sub in extraSubscriptionIds: {
  name: 'cadence-role-${uniqueString(sub)}'
  scope: subscription(sub)
  params: {
    roleName: '${roleDefinition.Name} (${name})'
    roleDescription: roleDefinition.Description
    actions: roleDefinition.Actions
    principalId: identities.outputs.functionPrincipalId
  }
}]

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
    topicName: 'aks-cadence-${last(split(clusterId, '/'))}'
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
