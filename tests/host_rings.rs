//! Rings in serverless fan-out: each `sweep-cluster` message plans one cluster, so the other
//! clusters of its ring come from the ledger's fleet records. The timer seeds a record for every
//! cluster never swept, so prod's message, handled before dev's, is held by ring dev (dev waiting,
//! version unknown) instead of skipping an empty ring.

mod arm_common;
mod fleet_support;

use std::sync::Arc;

use aks_cadence::actions::Actuator;
use aks_cadence::actions::log::LogActuator;
use aks_cadence::host::{AppState, EventGate, SweepRoutes, app};
use aks_cadence::pipeline::{EventSink, fixed_clock};
use aks_cadence::policy::Policy;
use aks_cadence::store::Ledger;
use aks_cadence::store::sqlite::SqliteLedger;
use aks_cadence::sweep::{CertificateChecks, SweepContext};
use aks_cadence::sweeper::Sweeper;
use aks_cadence::wiring::Parts;
use arm_common::*;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use fleet_support::*;
use serde_json::{Value, json};
use tower::ServiceExt;
use wiremock::MockServer;

const POLICY: &str = r#"
[defaults.upgrade]
patch = "auto"

[defaults.upgrade.window]
schedule = { daily = { intervalDays = 1 } }
durationHours = 6
startTime = "08:00"
utcOffset = "+00:00"

[[ring]]
name = "dev"
clusters = ["dev"]
soak_days = 3

[[ring]]
name = "prod"
clusters = ["prod"]
soak_days = 0
"#;

fn host(server: &MockServer, ledger: Arc<dyn Ledger>, now: &str) -> AppState {
    let policy = Policy::parse(POLICY, "test.toml").unwrap();
    let actuators = vec![Arc::new(LogActuator) as Arc<dyn Actuator>];
    let pipeline = Arc::new(Parts::new(Arc::new(policy), ledger, actuators, true, fixed_clock(now.parse().unwrap())).pipeline());
    let mut ctx = SweepContext::new(client(&server.uri()), vec![SUB.into()], 4);
    ctx.options.certificates = CertificateChecks::off();
    ctx.inline_max = 0; // always fan out
    let sweeper = Arc::new(Sweeper::new(ctx, Arc::clone(&pipeline)));
    AppState { sink: pipeline as Arc<dyn EventSink>, max_body_bytes: 1024 * 1024, sweep: SweepRoutes::Ready(sweeper), gate: EventGate::default() }
}

async fn post(state: &AppState, route: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::builder().method("POST").uri(route).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

fn queue_invocation(message: &Value) -> Value {
    let mut v = fixture("functions-host/customhandler_request_queue_trigger.docs.json");
    v["Data"] = json!({"cluster": message});
    v
}

#[tokio::test]
async fn a_prod_message_handled_before_any_dev_message_is_held_by_ring_dev() {
    let server = MockServer::start().await;
    let dev = FleetCluster::new("dev", "1.24.6", LATEST_IMAGE, vec!["1.24.9"]).without_maintenance_configurations();
    let prod = FleetCluster::new("prod", "1.24.6", LATEST_IMAGE, vec!["1.24.9"]).without_maintenance_configurations();
    mount_fleet_for(&server, &[dev, prod], TOKEN).await;
    expect_no_cluster_writes(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(dir.path().join("cadence.db")).unwrap());
    let state = host(&server, Arc::clone(&ledger), "2026-01-15T09:00:00Z");

    let timer = json!({"Data": {"timer": fixture("functions-host/timer_info_object.docs.json")}, "Metadata": {}});
    let (status, answer) = post(&state, "/sweep", timer).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(ledger.fleet().await.unwrap().len(), 2, "the timer seeds both clusters: {answer}");
    let messages = answer["Outputs"]["clusters"].as_array().unwrap().clone();
    let message = |name: &str| messages.iter().find(|m| m["cluster"]["id"].as_str().unwrap().ends_with(&format!("/{name}"))).unwrap().clone();

    // prod first: dev has not been swept, its version is unknown: prod waits for it.
    let (status, answer) = post(&state, "/sweep-cluster", queue_invocation(&message("prod"))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let logs = answer["Logs"].to_string();
    assert!(logs.contains("held: ring dev has not taken this target yet (waiting: dev)"), "{logs}");

    // dev's message: ring 0, never held by a ring.
    let (status, answer) = post(&state, "/sweep-cluster", queue_invocation(&message("dev"))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(!answer["Logs"].to_string().contains("held: ring"), "{answer}");
    server.verify().await;
}
