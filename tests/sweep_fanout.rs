//! Fan-out through the Functions host: the timer's queue output and the queue trigger.

mod arm_common;

use std::collections::BTreeMap;
use std::sync::Arc;

use aks_cadence::domain::{ClusterId, ConcernKind, Origin};
use aks_cadence::pipeline::fixed_clock;
use aks_cadence::policy::Policy;
use aks_cadence::store::Ledger;
use aks_cadence::store::sqlite::SqliteLedger;
use aks_cadence::sweep::fanout::{CLUSTERS_OUTPUT_BINDING, ClusterMessage, MESSAGE_KIND};
use aks_cadence::sweeper::{SweepFailure, Sweeper};
use aks_cadence::sweep::{Inventory, InventorySource, SweepContext, SweepError, TrackedOperation, plan_fanout};
use aks_cadence::wiring::Parts;
use arm_common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn mount_inventory(server: &MockServer, clusters: &[Value]) {
    Mock::given(method("POST"))
        .and(path("/providers/Microsoft.ResourceGraph/resources"))
        .respond_with(ResponseTemplate::new(200).set_body_json(graph_page("resources_basic_query.2024-04-01.json", clusters.iter().map(graph_row).collect())))
        .expect(1)
        .mount(server)
        .await;
}

fn timer_invocation() -> Value {
    json!({"Data": {"timer": fixture("functions-host/timer_info_object.docs.json")}, "Metadata": {}})
}

/// The sweep functions as production runs them (`Sweeper`), planning in dry-run on a ledger in
/// `dir`, as of a fixed instant. Certificates are not read (the fixtures' API server names are
/// public: nothing here resolves names).
fn sweeper(server: &MockServer, dir: &tempfile::TempDir) -> Sweeper {
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(dir.path().join("cadence.db")).unwrap());
    let pipeline = Parts::new(Arc::new(Policy::builtin()), ledger, Vec::new(), true, fixed_clock("2026-01-15T02:00:00Z".parse().unwrap())).pipeline();
    let mut ctx = SweepContext::new(client(&server.uri()), vec![SUB.into()], 4);
    ctx.options.certificates = aks_cadence::sweep::CertificateChecks::off();
    Sweeper::new(ctx, Arc::new(pipeline))
}

/// `POST /sweep` with the documented timer payload; `CADENCE_SWEEP_INLINE_MAX=0`: always fan out.
async fn timer_response(server: &MockServer) -> Value {
    let dir = tempfile::tempdir().unwrap();
    sweeper(server, &dir).timer(&timer_invocation()).await.unwrap()
}

#[tokio::test]
async fn the_timer_emits_one_queue_message_object_per_cluster() {
    let server = MockServer::start().await;
    let a = cluster_variant("a", "1.24.9", "AKSUbuntu:1604:2020.03.11");
    let b = cluster_variant("b", "1.25.5", "AKSUbuntu:1604:2020.03.11");
    mount_inventory(&server, &[a.clone(), b]).await;
    let resp = timer_response(&server).await;

    // The custom-handler response shape, as in the documented example.
    let documented = fixture("functions-host/customhandler_response_payload.docs.json");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&resp), keys(&documented));
    assert_eq!(resp["ReturnValue"], Value::Null);
    assert!(resp["Logs"][0].as_str().unwrap().contains("2 clusters from Resource Graph"), "{}", resp["Logs"]);

    let messages = resp["Outputs"][CLUSTERS_OUTPUT_BINDING].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    for m in messages {
        assert!(m.is_object(), "queue messages are JSON objects, never strings (the host base64-decodes strings): {m}");
        assert_eq!(m["kind"], MESSAGE_KIND);
        assert!(m["runId"].as_str().unwrap().starts_with("sweep-"));
        assert!(serde_json::to_vec(m).unwrap().len() < 64 * 1024, "fits a queue message");
    }
    assert_eq!(messages[0]["cluster"]["id"], a["id"]);
    assert_eq!(messages[0]["cluster"]["pools"][0]["nodeImageVersion"], "AKSUbuntu:1604:2020.03.11");
    // The timer reads no ledger: each `sweep-cluster` invocation reads its own cluster's
    // followed operations. Messages the inline sweep re-queues carry them (`plan_fanout`).
    assert!(messages.iter().all(|m| m.get("tracked").is_none()));
    let records: Vec<ClusterMessage> = messages.iter().map(|m| serde_json::from_value(m.clone()).unwrap()).collect();
    let inv = Inventory { source: InventorySource::ResourceGraph, clusters: records.iter().map(|m| m.cluster.clone()).collect(), notes: Vec::new() };
    let mut tracked = BTreeMap::new();
    tracked.insert(
        ClusterId::parse(a["id"].as_str().unwrap()).unwrap(),
        vec![TrackedOperation { concern: ConcernKind::NodeImage, target: "nodepool1".into(), status_url: None }],
    );
    let requeued = plan_fanout(&inv, &records[0].run_id, records[0].swept_at, &tracked);
    assert_eq!(requeued[0]["tracked"][0]["concern"], "node-image");
    assert!(requeued[1].get("tracked").is_none());
}

async fn mount_cluster_reads(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path_regex(r"/kubernetesVersions$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("kubernetes_versions_list.2025-10-01.json", "200")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/managedClusters/[^/]+/upgradeProfiles/default$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("managedclusters_get_upgrade_profile.2026-06-01.json", "200")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/agentPools/[^/]+/upgradeProfiles/default$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("agentpools_get_upgrade_profile.2026-06-01.json", "200")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/maintenanceConfigurations$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("maintenance_configurations_list_maintenance_window.2026-06-01.json", "200")))
        .mount(server)
        .await;
}

/// The documented queue-trigger request, with our binding name and our message as its value.
fn queue_invocation(message: Value) -> Value {
    let mut inv = fixture("functions-host/customhandler_request_queue_trigger.docs.json");
    inv["Data"] = json!({ "cluster": message });
    inv
}

#[tokio::test]
async fn a_queue_message_runs_the_cluster_sweep_whether_it_arrives_as_object_or_text() {
    let server = MockServer::start().await;
    mount_inventory(&server, &[cluster_variant("a", "1.7.7", "AKSUbuntu:1604:2020.01.01")]).await;
    mount_cluster_reads(&server).await;
    let resp = timer_response(&server).await;
    let message = resp["Outputs"]["clusters"][0].clone();
    let dir = tempfile::tempdir().unwrap();
    let sweeper = sweeper(&server, &dir);

    for delivered in [message.clone(), Value::String(message.to_string()), Value::String(Value::String(message.to_string()).to_string())] {
        let snap = sweeper.cluster(&queue_invocation(delivered)).await.unwrap().snapshot;
        assert_eq!(snap.cluster.name(), "a");
        assert_eq!(snap.signals.len(), 4, "{:?}", snap.signals);
        for s in &snap.signals {
            assert_eq!(s.origin, Origin::Sweep { run_id: message["runId"].as_str().unwrap().into() });
            assert_eq!(s.observed_at.to_string(), message["sweptAt"].as_str().unwrap());
        }
    }
}

#[tokio::test]
async fn a_foreign_queue_message_is_rejected_without_retry() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let sweeper = sweeper(&server, &dir);
    // The documented example's own queue item is not ours.
    let documented = fixture("functions-host/customhandler_request_queue_trigger.docs.json");
    let err = sweeper.cluster(&queue_invocation(documented["Data"]["myQueueItem"].clone())).await.unwrap_err();
    assert!(matches!(err, SweepFailure::Sweep(SweepError::BadMessage(_))), "{err}");
    assert!(!err.is_retryable());
    let err = sweeper.cluster(&documented).await.unwrap_err();
    assert!(err.to_string().contains("Data.cluster"), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// Fan-out and the fleet dashboard: each `sweep-cluster` invocation writes its cluster's fleet
/// record (with its open concerns), which `handler status` reads at once; the next timer run
/// shows the same records on the dashboard issue.
#[tokio::test]
async fn each_cluster_invocation_writes_its_fleet_record_for_the_status_and_the_next_timer_run() {
    let server = MockServer::start().await;
    // On the version the upgrade profile example reports (what the cluster sweep observes).
    let a = cluster_variant("a", "1.7.7", "AKSUbuntu:1604:2020.01.01");
    Mock::given(method("POST"))
        .and(path("/providers/Microsoft.ResourceGraph/resources"))
        .respond_with(ResponseTemplate::new(200).set_body_json(graph_page("resources_basic_query.2024-04-01.json", vec![graph_row(&a)])))
        .mount(&server)
        .await;
    mount_cluster_reads(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let sweeper = sweeper(&server, &dir);
    let ledger = SqliteLedger::open(dir.path().join("cadence.db")).unwrap();

    use aks_cadence::fleet_status::{Loaded, load};
    let first = sweeper.timer(&timer_invocation()).await.unwrap();
    assert!(load(&ledger, Vec::new()).await.unwrap().is_none(), "no cluster has reported yet");
    sweeper.cluster(&queue_invocation(first["Outputs"]["clusters"][0].clone())).await.unwrap();
    let Some(Loaded::Records(after_invocation)) = load(&ledger, Vec::new()).await.unwrap() else { panic!("the cluster's record") };

    sweeper.timer(&timer_invocation()).await.unwrap();
    let Some(Loaded::Records(fleet)) = load(&ledger, Vec::new()).await.unwrap() else { panic!("the cluster's record") };
    assert_eq!(fleet, after_invocation, "the timer run rewrites no record of a cluster still in the inventory");
    assert_eq!(fleet.clusters.len(), 1);
    assert_eq!(fleet.clusters[0].cluster.name(), "a");
    assert_eq!(fleet.clusters[0].kubernetes_version.as_deref(), Some("1.7.7"));
    assert!(!fleet.clusters[0].concerns.is_empty(), "its open concerns came with it: {:?}", fleet.clusters[0]);
}
