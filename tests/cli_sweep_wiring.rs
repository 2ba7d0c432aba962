//! The sweep's event-wiring check through the real binary (`handler sweep --dry-run`) against a
//! fake ARM on loopback: one Resource Graph query for the fleet's AKS system topics, one event
//! subscription list per system topic when the function app's id is known, and an
//! `events-not-wired` finding — with the commands that wire the cluster — for each cluster whose
//! events do not reach `aks-events`; the concern resolves once the cluster is wired.
//!
//! The event subscription lists follow the documented `SystemTopicEventSubscriptions_List`
//! shape (`value[].properties.destination.{endpointType, properties.resourceId}`).

mod arm_common;
mod fleet_support;

use std::path::Path;
use std::process::Output;

use fleet_support::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NOW: &str = "2026-01-15T09:00:00Z";
const APP: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aks-cadence/providers/Microsoft.Web/sites/func-cadence";

fn function() -> String {
    format!("{APP}/functions/aks-events")
}

fn sweep(dir: &Path, server: &MockServer, extra_env: &[(&str, &str)]) -> Output {
    handler_sweep(dir, server, extra_env, &["--dry-run", "--now", NOW])
}

fn lines(o: &Output) -> Vec<Value> {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect()
}

/// The event-wiring lines of a sweep, by cluster name.
fn wiring_lines(lines: &[Value]) -> Vec<(String, Value)> {
    lines
        .iter()
        .filter(|l| l["concern"] == "event-wiring")
        .map(|l| (l["cluster"].as_str().unwrap().rsplit('/').next().unwrap().to_string(), l.clone()))
        .collect()
}

fn subscription_to(resource_id: &str, endpoint_type: &str) -> Value {
    json!({
        "id": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.EventGrid/systemTopics/t/eventSubscriptions/aks-cadence",
        "name": "aks-cadence",
        "type": "Microsoft.EventGrid/systemTopics/eventSubscriptions",
        "properties": {
            "topic": "/subscriptions/x/resourceGroups/rg/providers/microsoft.containerservice/managedclusters/c",
            "provisioningState": "Succeeded",
            "destination": {"endpointType": endpoint_type, "properties": {"resourceId": resource_id, "maxEventsPerBatch": 1, "preferredBatchSizeInKilobytes": 64}},
            "filter": {"includedEventTypes": ["Microsoft.ContainerService.NewKubernetesVersionAvailable"]},
            "eventDeliverySchema": "EventGridSchema"
        }
    })
}

/// `GET <topic>/eventSubscriptions` answering `subscriptions`, expected `times` times.
async fn mount_subscriptions(server: &MockServer, topic: &str, subscriptions: Vec<Value>, times: u64) {
    Mock::given(method("GET"))
        .and(path(format!("{topic}/eventSubscriptions")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": subscriptions})))
        .expect(times)
        .mount(server)
        .await;
}

/// The wiring query, answered with `rows` and expected once per sweep.
async fn mount_topics_once(server: &MockServer, rows: Vec<Value>) {
    Mock::given(method("POST"))
        .and(path("/providers/Microsoft.ResourceGraph/resources"))
        .and(body_string_contains(WIRING_QUERY_MARK))
        .respond_with(ResponseTemplate::new(200).set_body_json(arm_common::graph_page("resources_basic_query.2024-04-01.json", rows)))
        .with_priority(1)
        .expect(1)
        .mount(server)
        .await;
}

fn fleet() -> (FleetCluster, FleetCluster, FleetCluster) {
    (
        FleetCluster::new("wired", "1.24.6", LATEST_IMAGE, vec![]),
        FleetCluster::new("new-cluster", "1.24.6", LATEST_IMAGE, vec![]),
        FleetCluster::new("elsewhere", "1.24.6", LATEST_IMAGE, vec![]),
    )
}

#[tokio::test]
async fn each_cluster_whose_events_do_not_reach_aks_events_is_reported_with_the_commands_that_wire_it() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    let (wired, new, elsewhere) = fleet();
    let (wired_id, new_id, elsewhere_id) = (wired.id(), new.id(), elsewhere.id());
    // `wired` and `elsewhere` have their system topic; `new-cluster` has none.
    mount_topics_once(&server, vec![system_topic_row(&wired_id), system_topic_row(&elsewhere_id)]).await;
    mount_subscriptions(&server, &system_topic_id(&wired_id), vec![subscription_to(&function().to_uppercase(), "AzureFunction")], 1).await;
    let other_app = function().replace("func-cadence", "func-someone-else");
    mount_subscriptions(&server, &system_topic_id(&elsewhere_id), vec![subscription_to(&other_app, "AzureFunction")], 1).await;
    mount_fleet(&server, &[wired, new, elsewhere]).await;
    expect_no_cluster_writes(&server).await;
    let dir = tempfile::tempdir().unwrap();

    let out = sweep(dir.path(), &server, &[("CADENCE_FUNCTION_APP_ID", APP)]);
    let planned = lines(&out);
    let found = wiring_lines(&planned);
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 2, "one finding per unwired cluster, none for the wired one: {found:#?}");
    assert!(names.contains(&"new-cluster") && names.contains(&"elsewhere"), "{names:?}");

    let (_, no_topic) = found.iter().find(|(n, _)| n == "new-cluster").unwrap();
    assert_eq!((no_topic["signal"].as_str(), no_topic["stage"].as_str(), no_topic["action"].as_str()), (Some("events-not-wired"), Some("notice"), Some("log")));
    let summary = no_topic["summary"].as_str().unwrap();
    for part in [
        "has no Event Grid system topic",
        &format!("az eventgrid system-topic create --subscription {} --resource-group rg1 --name aks-cadence-new-cluster --location location1 --topic-type Microsoft.ContainerService.ManagedClusters --source {new_id}", arm_common::SUB),
        &format!("az eventgrid system-topic event-subscription create --subscription {} --resource-group rg1 --system-topic-name aks-cadence-new-cluster --name aks-cadence --endpoint-type azurefunction --endpoint {}", arm_common::SUB, function()),
        "Microsoft.ContainerService.NodePoolRollingFailed",
        "clusterIds parameter of infra/main.bicep",
    ] {
        assert!(summary.contains(part), "`{part}` in {summary}");
    }

    let (_, unsubscribed) = found.iter().find(|(n, _)| n == "elsewhere").unwrap();
    let summary = unsubscribed["summary"].as_str().unwrap();
    assert!(summary.contains(&format!("has a system topic ({})", system_topic_id(&elsewhere_id))), "{summary}");
    assert!(!summary.contains("system-topic create"), "the topic exists: only the subscription is missing: {summary}");
    assert!(summary.contains("--system-topic-name aks-cadence-elsewhere --name aks-cadence --endpoint-type azurefunction"), "{summary}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("swept 3 cluster(s)"), "{stderr}");
    server.verify().await;
}

#[tokio::test]
async fn without_the_function_app_id_only_clusters_without_a_system_topic_are_reported() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    let (wired, new, elsewhere) = fleet();
    mount_topics_once(&server, vec![system_topic_row(&wired.id()), system_topic_row(&elsewhere.id())]).await;
    // No function to look for: no subscription is listed.
    mount_subscriptions(&server, &system_topic_id(&wired.id()), vec![], 0).await;
    mount_subscriptions(&server, &system_topic_id(&elsewhere.id()), vec![], 0).await;
    mount_fleet(&server, &[wired, new, elsewhere]).await;
    let dir = tempfile::tempdir().unwrap();

    let out = sweep(dir.path(), &server, &[]);
    let found = wiring_lines(&lines(&out));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, "new-cluster");
    assert!(found[0].1["summary"].as_str().unwrap().contains("--endpoint <function app resource id>/functions/aks-events"), "{}", found[0].1);
    assert!(String::from_utf8_lossy(&out.stderr).is_empty() || !String::from_utf8_lossy(&out.stderr).contains("error"), "{}", String::from_utf8_lossy(&out.stderr));
    server.verify().await;
}

#[tokio::test]
async fn once_the_cluster_is_wired_the_concern_resolves() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    let (_, new, _) = fleet();
    let id = new.id();
    let topic = system_topic_id(&id);
    // The platform's own variables name the app (no CADENCE_FUNCTION_APP_ID).
    let platform = [("WEBSITE_OWNER_NAME", "00000000-0000-0000-0000-000000000000+rg-aks-cadence-WestEuropewebspace-Linux"), ("WEBSITE_RESOURCE_GROUP", "rg-aks-cadence"), ("WEBSITE_SITE_NAME", "func-cadence")];

    // First sweep: a system topic, but its only subscription goes to an Event Hub.
    mount_topics_once(&server, vec![system_topic_row(&id)]).await;
    mount_subscriptions(&server, &topic, vec![subscription_to(&function(), "EventHub")], 1).await;
    mount_fleet(&server, &[FleetCluster::new("new-cluster", "1.24.6", LATEST_IMAGE, vec![])]).await;
    let dir = tempfile::tempdir().unwrap();
    let first = wiring_lines(&lines(&sweep(dir.path(), &server, &platform)));
    assert_eq!(first.len(), 1, "{first:#?}");
    assert_eq!(first[0].1["stage"], "notice");
    server.verify().await;

    // Someone ran the commands: the topic now delivers to aks-events.
    server.reset().await;
    mount_identity(&server).await;
    mount_topics_once(&server, vec![system_topic_row(&id)]).await;
    mount_subscriptions(&server, &topic, vec![subscription_to(&function(), "EventHub"), subscription_to(&function(), "AzureFunction")], 1).await;
    mount_fleet(&server, &[FleetCluster::new("new-cluster", "1.24.6", LATEST_IMAGE, vec![])]).await;
    let second = wiring_lines(&lines(&sweep(dir.path(), &server, &platform)));
    assert_eq!(second.len(), 1, "{second:#?}");
    assert_eq!((second[0].1["stage"].as_str(), second[0].1["signal"].as_str()), (Some("resolve"), Some("resolved")), "{second:#?}");
    server.verify().await;
}

#[tokio::test]
async fn a_failed_wiring_query_is_a_note_and_the_sweep_goes_on() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    Mock::given(method("POST"))
        .and(path("/providers/Microsoft.ResourceGraph/resources"))
        .and(body_string_contains(WIRING_QUERY_MARK))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "AuthorizationFailed", "message": "no systemTopics/read"}})))
        .with_priority(1)
        .mount(&server)
        .await;
    let (wired, new, elsewhere) = fleet();
    mount_fleet(&server, &[wired, new, elsewhere]).await;
    let dir = tempfile::tempdir().unwrap();
    let out = sweep(dir.path(), &server, &[("CADENCE_FUNCTION_APP_ID", APP), ("RUST_LOG", "info")]);
    let planned = lines(&out);
    assert!(wiring_lines(&planned).is_empty(), "nothing known, nothing reported");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("event wiring not checked this sweep") && stderr.contains("AuthorizationFailed"), "{stderr}");
    assert!(stderr.contains("swept 3 cluster(s)"), "{stderr}");
}

#[test]
fn a_bad_function_app_id_exits_2_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir.path())
        .env_clear()
        .env("CADENCE_FUNCTION_APP_ID", "func-cadence")
        .args(["sweep", "--dry-run"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.starts_with("error: setting CADENCE_FUNCTION_APP_ID: ") && err.contains("Fix: "), "{err}");
}
