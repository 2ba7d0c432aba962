//! The event-wiring check: do the AKS events of every swept cluster reach this app?
//!
//! A cluster's events (new versions, support notices, node pool rolls) are published on its
//! Event Grid system topic (topic type `Microsoft.ContainerService.ManagedClusters`, `source` =
//! the cluster id; at most one per cluster, always in the cluster's subscription) and reach
//! `aks-events` through an event subscription on that topic. A cluster created after the
//! infrastructure was deployed has neither, and is heard only at sweeps.
//!
//! Once per sweep:
//! 1. one Resource Graph query ([`WIRING_QUERY`]) lists the fleet's AKS system topics — Resource
//!    Graph's `resources` table holds `microsoft.eventgrid/systemtopics`, but not their event
//!    subscriptions (no Resource Graph table lists `systemTopics/eventSubscriptions`);
//! 2. when this app's function id is known (`CADENCE_FUNCTION_APP_ID`, or App Service's
//!    `WEBSITE_*`), one ARM list of event subscriptions per system topic of a swept cluster,
//!    [`LIST_CONCURRENCY`] at a time, looking for a destination that is the `aks-events`
//!    function. Without the id only missing system topics are reported.
//!
//! What comes out is data ([`Wiring`] per cluster); [`signals`] turns it into `EventsNotWired`
//! findings, or `Resolved { event-wiring }` for clusters that are wired (planned only when the
//! ledger has seen the concern, so a wired fleet leaves no trace).

use std::collections::{BTreeMap, HashMap};

use futures::StreamExt as _;
use jiff::Timestamp;
use serde_json::Value;

use super::inventory::{ClusterRecord, GraphError, graph_rows};
use crate::azure::{ArmCall, ArmClient};
use crate::domain::{ClusterId, ConcernKind, Origin, Signal, SignalKind};
use crate::plan::EVENT_WIRING_TARGET;

/// The fleet's AKS system topics and the cluster each is for.
pub const WIRING_QUERY: &str = "resources
| where type =~ 'microsoft.eventgrid/systemtopics'
| where tostring(properties.topicType) =~ 'Microsoft.ContainerService.ManagedClusters'
| project id, source = tostring(properties.source)
| order by id asc";

/// The api-version of `Microsoft.EventGrid` calls.
pub const EVENTGRID_API_VERSION: &str = "2025-02-15";

/// Event-subscription lists in flight at once.
pub const LIST_CONCURRENCY: usize = 8;

/// The function every cluster's events should reach: `<function app id>/functions/aks-events`.
pub fn aks_events_function(function_app_id: &str) -> String {
    format!("{}/functions/aks-events", function_app_id.trim_end_matches('/'))
}

/// How one cluster's events are wired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wiring {
    /// A system topic, and (when the function is known) a subscription delivering to it.
    Wired,
    /// No Event Grid system topic for the cluster.
    NoSystemTopic,
    /// A system topic without an event subscription to the function.
    NotSubscribed { system_topic: String },
}

/// The check's result: a verdict per cluster it could decide, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WiringReport {
    pub clusters: BTreeMap<ClusterId, Wiring>,
    /// Topics whose subscriptions could not be listed (those clusters get no verdict).
    pub notes: Vec<String>,
}

/// Checks `clusters` (the sweep's inventory, by id). `function` is the `aks-events` function's
/// id. `Err` when the Resource Graph query failed: then nothing is known (and nothing reported).
pub async fn check(arm: &ArmClient, subscriptions: &[String], clusters: &[ClusterId], function: Option<&str>) -> Result<WiringReport, GraphError> {
    let rows = graph_rows(arm, ArmCall::EventWiringQuery, WIRING_QUERY, subscriptions).await?;
    let mut topics: HashMap<String, String> = HashMap::new();
    for row in &rows {
        let (Some(id), Some(source)) = (row.get("id").and_then(Value::as_str), row.get("source").and_then(Value::as_str)) else { continue };
        topics.entry(source.trim().trim_end_matches('/').to_ascii_lowercase()).or_insert_with(|| id.to_string());
    }
    let mut report = WiringReport::default();
    let mut to_list: Vec<(ClusterId, String)> = Vec::new();
    for id in clusters {
        match topics.get(&id.key()) {
            None => {
                report.clusters.insert(id.clone(), Wiring::NoSystemTopic);
            }
            Some(topic) if function.is_some() => to_list.push((id.clone(), topic.clone())),
            Some(_) => {
                report.clusters.insert(id.clone(), Wiring::Wired);
            }
        }
    }
    let Some(function) = function else { return Ok(report) };
    let listed: Vec<(ClusterId, String, Result<bool, String>)> = futures::stream::iter(to_list)
        .map(|(cluster, topic)| async move {
            let path = format!("{topic}/eventSubscriptions");
            let found = match arm.list_all(ArmCall::ListSystemTopicEventSubscriptions, &path, EVENTGRID_API_VERSION).await {
                Ok(subs) => Ok(subs.iter().any(|s| delivers_to(s, function))),
                Err(e) => Err(e.to_string()),
            };
            (cluster, topic, found)
        })
        .buffer_unordered(LIST_CONCURRENCY)
        .collect()
        .await;
    for (cluster, topic, found) in listed {
        match found {
            Ok(true) => {
                report.clusters.insert(cluster, Wiring::Wired);
            }
            Ok(false) => {
                report.clusters.insert(cluster, Wiring::NotSubscribed { system_topic: topic });
            }
            Err(e) => report.notes.push(format!("{}: event wiring not checked: listing the event subscriptions of {topic} failed: {e}", cluster.name())),
        }
    }
    Ok(report)
}

/// Whether an event subscription (as ARM lists it) delivers to `function`: an `AzureFunction`
/// destination, direct or with the topic's identity, whose `resourceId` is the function.
pub fn delivers_to(subscription: &Value, function: &str) -> bool {
    let p = &subscription["properties"];
    [&p["destination"], &p["deliveryWithResourceIdentity"]["destination"]].into_iter().any(|d| {
        d["endpointType"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("AzureFunction"))
            && d["properties"]["resourceId"].as_str().is_some_and(|id| id.trim_end_matches('/').eq_ignore_ascii_case(function.trim_end_matches('/')))
    })
}

/// The findings of a check, one signal per cluster with a verdict: `EventsNotWired`, or
/// `Resolved` for a wired cluster.
pub fn signals(clusters: &[ClusterRecord], report: &WiringReport, function: Option<&str>, run_id: &str, now: Timestamp) -> Vec<Signal> {
    clusters
        .iter()
        .filter_map(|c| {
            let kind = match report.clusters.get(&c.id)? {
                Wiring::Wired => SignalKind::Resolved { concern: ConcernKind::EventWiring, target: EVENT_WIRING_TARGET.to_string() },
                Wiring::NoSystemTopic => SignalKind::EventsNotWired { system_topic: None, function: function.map(str::to_string) },
                Wiring::NotSubscribed { system_topic } => {
                    SignalKind::EventsNotWired { system_topic: Some(system_topic.clone()), function: function.map(str::to_string) }
                }
            };
            Some(Signal { cluster: c.id.clone(), facts: c.facts(), kind, observed_at: now, origin: Origin::Sweep { run_id: run_id.to_string() } })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const F: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/functions/aks-events";

    #[test]
    fn a_subscription_delivers_to_the_function_directly_or_with_the_topic_identity_in_any_case() {
        let direct = json!({"properties": {"destination": {"endpointType": "AzureFunction", "properties": {"resourceId": F.to_uppercase()}}}});
        let identity = json!({"properties": {"deliveryWithResourceIdentity": {"identity": {"type": "UserAssigned"}, "destination": {"endpointType": "AzureFunction", "properties": {"resourceId": F}}}}});
        assert!(delivers_to(&direct, F) && delivers_to(&identity, F));
        let elsewhere = json!({"properties": {"destination": {"endpointType": "AzureFunction", "properties": {"resourceId": F.replace("/app/", "/other/")}}}});
        let hub = json!({"properties": {"destination": {"endpointType": "EventHub", "properties": {"resourceId": F}}}});
        let webhook = json!({"properties": {"destination": {"endpointType": "WebHook", "properties": {"endpointBaseUrl": "https://app.azurewebsites.net/api/eventgrid"}}}});
        for s in [elsewhere, hub, webhook] {
            assert!(!delivers_to(&s, F), "{s}");
        }
    }

    #[test]
    fn the_function_id_is_the_app_id_and_aks_events() {
        assert_eq!(aks_events_function("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/app/"), F);
    }
}
