//! `POST /sweep` and `POST /sweep-cluster` as the Functions host calls them, with a real
//! pipeline (SQLite ledger) and a fake ARM on loopback.

mod arm_common;
mod fleet_support;

use std::sync::Arc;

use aks_cadence::actions::Actuator;
use aks_cadence::actions::log::LogActuator;
use aks_cadence::host::{AppState, EventGate, SweepRoutes, app};
use aks_cadence::pipeline::{EventSink, fixed_clock};
use aks_cadence::policy::Policy;
use aks_cadence::wiring::Parts;
use aks_cadence::store::sqlite::SqliteLedger;
use aks_cadence::store::{ActionState, Ledger};
use aks_cadence::sweeper::Sweeper;
use aks_cadence::sweep::{CertificateChecks, SweepContext};
use arm_common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use fleet_support::*;
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NOW: &str = "2026-01-15T09:00:00Z";

struct Host {
    state: AppState,
    ledger: Arc<dyn Ledger>,
    _dir: tempfile::TempDir,
}

fn host(server: &MockServer, dry_run: bool) -> Host {
    host_inline(server, dry_run, 0)
}

/// `inline_max` = `CADENCE_SWEEP_INLINE_MAX`.
fn host_inline(server: &MockServer, dry_run: bool, inline_max: usize) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(dir.path().join("cadence.db")).unwrap());
    let policy = Policy::parse("[defaults.upgrade]\npatch = \"auto\"\n", "test.toml").unwrap();
    let actuators = vec![Arc::new(LogActuator) as Arc<dyn Actuator>];
    let pipeline = Arc::new(Parts::new(Arc::new(policy), Arc::clone(&ledger), actuators, dry_run, fixed_clock(NOW.parse().unwrap())).pipeline());
    let mut ctx = SweepContext::new(client(&server.uri()), vec![SUB.into()], 4);
    ctx.options.certificates = CertificateChecks::off();
    ctx.inline_max = inline_max;
    let sweeper = Arc::new(Sweeper::new(ctx, Arc::clone(&pipeline)));
    let state = AppState { sink: pipeline as Arc<dyn EventSink>, max_body_bytes: 1024 * 1024, sweep: SweepRoutes::Ready(sweeper), gate: EventGate::default() };
    Host { state, ledger, _dir: dir }
}

async fn post(state: &AppState, route: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::builder().method("POST").uri(route).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn timer_invocation() -> Value {
    json!({"Data": {"timer": fixture("functions-host/timer_info_object.docs.json")}, "Metadata": {}})
}

/// What the host posts for a queue message: the documented request with our message.
fn queue_invocation(message: &Value) -> Value {
    let mut v = fixture("functions-host/customhandler_request_queue_trigger.docs.json");
    v["Data"] = json!({"cluster": message});
    v
}

fn fleet() -> Vec<FleetCluster> {
    vec![
        FleetCluster::new("prod", "1.24.6", OLD_IMAGE, vec!["1.24.9", "1.25.5"]),
        FleetCluster::new("dev", "1.25.5", LATEST_IMAGE, vec![]),
    ]
}

#[tokio::test]
async fn the_timer_answers_one_queue_message_object_per_cluster_and_each_message_is_swept_and_planned() {
    let server = MockServer::start().await;
    mount_fleet_for(&server, &fleet(), TOKEN).await;
    expect_no_cluster_writes(&server).await;
    let h = host(&server, true);

    let (status, timer) = post(&h.state, "/sweep", timer_invocation()).await;
    assert_eq!(status, StatusCode::OK, "{timer}");
    let messages = timer["Outputs"]["clusters"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert!(messages.iter().all(|m| m.is_object() && m["kind"] == "aks-cadence.sweep-cluster"), "{timer}");
    assert!(timer["Logs"][0].as_str().unwrap().contains("2 clusters from Resource Graph"), "{timer}");

    let prod = messages.iter().find(|m| m["cluster"]["id"].as_str().unwrap().ends_with("/prod")).unwrap();
    let (status, answer) = post(&h.state, "/sweep-cluster", queue_invocation(prod)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let logs: Vec<&str> = answer["Logs"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    // Planned with the cluster's own windows: the patch may start in the open auto-upgrade window.
    assert!(logs.iter().any(|l| l.starts_with("dry-run: upgrade") && l.contains("1.24.6 → 1.24.9 (patch) — would start now")), "{logs:#?}");
    assert!(logs.iter().any(|l| l.starts_with("dry-run: log") && l.contains("node pool nodepool1 image")), "{logs:#?}");
    assert!(logs.last().unwrap().contains("action(s) planned") && logs.last().unwrap().ends_with("(dry-run)"), "{logs:#?}");
    assert!(h.ledger.list_actions().await.unwrap().is_empty(), "dry-run claims nothing");
}

#[tokio::test]
async fn a_live_per_cluster_sweep_carries_out_its_plan_and_remembers_the_cluster() {
    let server = MockServer::start().await;
    let clusters = fleet();
    mount_fleet_for(&server, &clusters, TOKEN).await;
    let h = host(&server, false);
    let (_, timer) = post(&h.state, "/sweep", timer_invocation()).await;
    let prod = timer["Outputs"]["clusters"].as_array().unwrap().iter().find(|m| m["cluster"]["id"].as_str().unwrap().ends_with("/prod")).unwrap().clone();

    // A message delivered as JSON text is read the same.
    let (status, answer) = post(&h.state, "/sweep-cluster", queue_invocation(&Value::String(prod.to_string()))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let done = h.ledger.list_actions().await.unwrap();
    assert!(!done.is_empty() && done.iter().all(|(_, s)| matches!(s, ActionState::Done { .. })), "{done:?}");
    // This process has no Azure adapter: the upgrade the open window allows is reported, not claimed.
    let logs = answer["Logs"].to_string();
    assert!(logs.contains("upgrade-patch:1.24.9/execute no adapter"), "{logs}");
    assert!(!done.iter().any(|(k, _)| k.as_str().ends_with("/execute")), "{done:?}");
    let memory = h.ledger.get_ref(&aks_cadence::domain::ClusterId::parse(&clusters[0].id()).unwrap().key(), "sweep").await.unwrap();
    assert!(memory.unwrap().contains("\"kubernetes_version\":\"1.24.6\""), "the next sweep compares with what this one saw");
}

#[tokio::test]
async fn a_read_that_may_work_later_fails_the_queue_invocation_and_a_foreign_message_does_not() {
    let server = MockServer::start().await;
    let clusters = fleet();
    Mock::given(method("GET"))
        .and(path(format!("{}/upgradeProfiles/default", clusters[0].id())))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    mount_fleet_for(&server, &clusters, TOKEN).await;
    let h = host(&server, true);
    let (_, timer) = post(&h.state, "/sweep", timer_invocation()).await;
    let prod = timer["Outputs"]["clusters"].as_array().unwrap().iter().find(|m| m["cluster"]["id"].as_str().unwrap().ends_with("/prod")).unwrap().clone();

    let (status, answer) = post(&h.state, "/sweep-cluster", queue_invocation(&prod)).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "the queue delivers it again: {answer}");
    assert!(answer["Logs"][0].as_str().unwrap().starts_with("retryable failure"), "{answer}");

    let documented = fixture("functions-host/customhandler_request_queue_trigger.docs.json");
    let (status, answer) = post(&h.state, "/sweep-cluster", queue_invocation(&documented["Data"]["myQueueItem"])).await;
    assert_eq!(status, StatusCode::OK, "never retried: {answer}");
    assert!(answer["Logs"][0].as_str().unwrap().starts_with("not a sweep-cluster message"), "{answer}");
}

#[tokio::test]
async fn a_failed_inventory_fails_the_timer_invocation_visibly() {
    let server = MockServer::start().await;
    for (m, p) in [("POST", "/providers/Microsoft.ResourceGraph/resources"), ("GET", "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.ContainerService/managedClusters")] {
        Mock::given(method(m))
            .and(path(p))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "AuthorizationFailed", "message": "no read"}})))
            .mount(&server)
            .await;
    }
    Mock::given(method("GET")).and(path_regex(".*")).respond_with(ResponseTemplate::new(404)).mount(&server).await;
    let h = host(&server, true);
    let (status, answer) = post(&h.state, "/sweep", timer_invocation()).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert!(answer["Logs"][0].as_str().unwrap().contains("AuthorizationFailed"), "{answer}");
    assert_eq!(answer["Outputs"], json!({}));
}

#[tokio::test]
async fn a_small_fleet_is_swept_inside_the_timer_as_one_plan_and_only_failed_clusters_are_queued() {
    let server = MockServer::start().await;
    let mut clusters = fleet();
    clusters.push(FleetCluster::new("flaky", "1.24.6", OLD_IMAGE, vec!["1.24.9"]));
    Mock::given(method("GET"))
        .and(path(format!("{}/upgradeProfiles/default", clusters[2].id())))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    mount_fleet_for(&server, &clusters, TOKEN).await;
    let h = host_inline(&server, false, 3);

    let (status, answer) = post(&h.state, "/sweep", timer_invocation()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let logs = answer["Logs"].to_string();
    assert!(logs.contains("3 clusters from Resource Graph, swept in this invocation in 1 batch(es) of up to 250"), "{logs}");
    // The one cluster that may work later goes to the queue; the others were planned and done here.
    let queued = answer["Outputs"]["clusters"].as_array().unwrap();
    assert_eq!(queued.len(), 1, "{answer}");
    assert!(queued[0]["cluster"]["id"].as_str().unwrap().ends_with("/flaky"));
    assert!(logs.contains("(queued to be swept again)"), "{logs}");
    let done = h.ledger.list_actions().await.unwrap();
    assert!(done.iter().any(|(k, _)| k.as_str().contains("/managedclusters/prod#node-image#")), "{done:?}");
    assert!(!done.iter().any(|(k, _)| k.as_str().contains("/managedclusters/flaky#")), "{done:?}");
}

#[tokio::test]
async fn an_upgrade_left_running_is_polled_by_the_next_per_cluster_sweep_and_its_end_told() {
    use aks_cadence::actions::azure::AzureActuator;
    let server = MockServer::start().await;
    let clusters = fleet();
    let op_url = format!("{}{OP_PATH}?api-version=2017-08-31", server.uri());
    Mock::given(method("PUT"))
        .and(path(clusters[0].id()))
        .and(wiremock::matchers::header("if-match", ETAG))
        .respond_with(ResponseTemplate::new(201).insert_header("Azure-AsyncOperation", op_url.as_str()).insert_header("Retry-After", "0").set_body_json(clusters[0].resource.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let in_progress = fixture("arm/async_operation_status_inprogress.docs.json");
    // While the first invocation follows it: in progress (it gives up after 50 ms).
    Mock::given(method("GET")).and(path(OP_PATH)).respond_with(ResponseTemplate::new(200).set_body_json(in_progress)).up_to_n_times(20).mount(&server).await;
    mount_fleet_for(&server, &clusters, TOKEN).await;

    // A live host whose Azure adapter follows an operation for 50 ms only.
    let dir = tempfile::tempdir().unwrap();
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(dir.path().join("cadence.db")).unwrap());
    let mut cfg = aks_cadence::azure::ArmConfig::new(server.uri());
    cfg.lro_timeout = std::time::Duration::from_millis(50);
    cfg.lro_poll_default = std::time::Duration::from_millis(10);
    let upgrader = aks_cadence::azure::ArmClient::new(cfg, Arc::new(aks_cadence::azure::StaticToken::new(TOKEN))).unwrap();
    let adapters: Vec<Arc<dyn Actuator>> = vec![Arc::new(LogActuator), Arc::new(AzureActuator::new(upgrader))];
    let policy = Policy::parse("[defaults.upgrade]\npatch = \"auto\"\n", "test.toml").unwrap();
    let pipeline = Arc::new(Parts::new(Arc::new(policy), Arc::clone(&ledger), adapters, false, fixed_clock(NOW.parse().unwrap())).pipeline());
    let mut ctx = SweepContext::new(client(&server.uri()), vec![SUB.into()], 4);
    ctx.options.certificates = CertificateChecks::off();
    let state = AppState { sink: pipeline.clone() as Arc<dyn EventSink>, max_body_bytes: 1 << 20, sweep: SweepRoutes::Ready(Arc::new(Sweeper::new(ctx, Arc::clone(&pipeline)))), gate: EventGate::default() };

    let (_, timer) = post(&state, "/sweep", timer_invocation()).await;
    let prod = timer["Outputs"]["clusters"].as_array().unwrap().iter().find(|m| m["cluster"]["id"].as_str().unwrap().ends_with("/prod")).unwrap().clone();
    let (status, answer) = post(&state, "/sweep-cluster", queue_invocation(&prod)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = aks_cadence::domain::ClusterId::parse(&clusters[0].id()).unwrap();
    let followed = pipeline.tracked_operations(&id).await.unwrap();
    assert_eq!(followed.len(), 1, "{answer}");
    assert_eq!(followed[0].status_url.as_deref(), Some(op_url.as_str()));
    assert_eq!(followed[0].target, "patch:1.24.6");

    // The operation ends; the next timer's message for the cluster polls it and tells the outcome.
    let mut failed = fixture("arm/async_operation_status_inprogress.docs.json");
    failed["status"] = json!("Failed");
    failed["error"] = json!({"code": "UpgradeFailed", "message": "drain timed out"});
    Mock::given(method("GET")).and(path(OP_PATH)).respond_with(ResponseTemplate::new(200).set_body_json(failed)).with_priority(1).mount(&server).await;
    let (status, answer) = post(&state, "/sweep-cluster", queue_invocation(&prod)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["Logs"].to_string().contains("the operation aks-cadence started failed: UpgradeFailed: drain timed out"), "{answer}");
    assert!(pipeline.tracked_operations(&id).await.unwrap().is_empty(), "an ended operation is no longer followed");
}
