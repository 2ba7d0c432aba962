// Alerts that bring silent failures to a person: an action group that emails `alertEmail`, and
// three log alerts on Application Insights. (The dead-letter alerts sit next to each Event Grid
// system topic, in cluster-events.bicep and resource-notifications.bicep.) What fires each one
// and what to do: docs/deploy.md, "Alerts".
param location string
param tags object
param actionGroupName string
@maxLength(12)
param actionGroupShortName string
param alertEmail string
param appInsightsId string
param namePrefix string
@description('The sweep timer\'s period in hours (function-definitions/sweep/function.json: every 6 hours).')
param sweepPeriodHours int

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: actionGroupShortName
    enabled: true
    emailReceivers: [
      {
        name: 'aks-cadence-operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// (a) Any failed function invocation (Functions logs one request per invocation; a non-2xx from
// the handler, a timeout or a host error makes it unsuccessful).
resource failedInvocations 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-failed-invocations'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'aks-cadence: failed function invocations'
    description: 'A function invocation of aks-cadence failed (Application Insights requests with success == false). See docs/deploy.md, Alerts.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'requests | where success == false | project timestamp, operation_Name, resultCode, operation_Id'
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'operation_Name'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// (b) No successful `sweep` for two timer periods. Only once the app has sent telemetry from
// before that span (a new installation is not "late"); it stays fired until a person closes it,
// so an app that went completely quiet is not auto-resolved when its telemetry ages out.
var sweepSilence = sweepPeriodHours * 2
resource sweepMissing 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-sweep-missing'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'aks-cadence: no successful sweep for ${sweepSilence} hours'
    description: 'The sweep timer (every ${sweepPeriodHours} h) has not completed successfully for two periods: sweeps failed or did not run. See docs/deploy.md, Alerts.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'P1D'
    criteria: {
      allOf: [
        {
          query: 'let silence = ${sweepSilence}h; let seenBefore = toscalar(union requests, traces | where timestamp < ago(silence) | count); requests | where timestamp > ago(silence) | where operation_Name == "sweep" and success == true | summarize successes = count() | where successes == 0 and seenBefore > 0'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

// (d) Configuration failures the handler logs. The handler writes JSON log lines to stdout; the
// Functions host logs each stdout line of the custom handler as one trace (category
// Host.Function.Console, at Information level whatever the line says), so the query parses the
// line itself: tracing's JSON format puts the message and fields under `fields`.
resource configurationFailures 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-configuration-failures'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'aks-cadence: configuration failure'
    description: 'The handler logged "configuration failure: …" naming a setting to fix (fields.failure_class = configuration, fields.setting). See docs/deploy.md, Alerts.'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'traces | where message startswith "{" | extend line = parse_json(message) | where tostring(line.level) == "ERROR" and tostring(line.fields.failure_class) == "configuration" and tostring(line.fields.message) startswith "configuration failure:" | extend setting = tostring(line.fields.setting) | project timestamp, setting, detail = tostring(line.fields.message), cloud_RoleInstance'
          timeAggregation: 'Count'
          dimensions: [
            {
              name: 'setting'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
