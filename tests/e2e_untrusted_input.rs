//! Issue 9 through the real binary: one bad event in a delivery is ignored and reported on its
//! own while its siblings are planned and acted on (host protocol, webhook and `replay`); a
//! version that overflowed `MinorLine::next` is ignored with a reason instead of panicking; a
//! roll's Started and Failed with the same time both reach the ledger.
//!
//! Live runs use the built-in policy (its notices are log actions, recorded in the SQLite
//! ledger `cadence.db` in the handler's working directory), so nothing leaves the machine.

mod e2e_support;
#[allow(dead_code)]
mod email_support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use aks_cadence::store::sqlite::SqliteLedger;
use aks_cadence::store::{ActionState, Ledger};
use e2e_support::*;
use serde_json::{Value, json};

const CLUSTER: &str = "/subscriptions/00000000-0000-0000-0000-00000000a001/resourceGroups/rg-prod-weu/providers/Microsoft.ContainerService/managedClusters/aks-prod-weu";

/// A real fixture with its placeholders filled in, its own id, time and pool.
fn roll(fixture_name: &str, id: &str, time: &str, pool: &str) -> Value {
    let mut v = fixture(fixture_name);
    v["id"] = json!(id);
    v["topic"] = json!(CLUSTER);
    v["subject"] = json!("aks-prod-weu");
    v["eventTime"] = json!(time);
    v["data"]["nodePoolName"] = json!(pool);
    v
}

fn recent() -> String {
    (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1)).to_string()
}

/// [good, bad (.NET's "no value" time), good].
fn good_bad_good() -> Value {
    json!([
        roll("aks_node_pool_rolling_failed.eventgrid.json", "good-1", &recent(), "pool-a"),
        roll("aks_node_pool_rolling_failed.eventgrid.json", "bad-0001", "0001-01-01T00:00:00Z", "pool-bad"),
        roll("aks_node_pool_rolling_failed.eventgrid.json", "good-2", &recent(), "pool-b"),
    ])
}

fn live() -> Env {
    Env::default().set("CADENCE_DRY_RUN", "false").set("CADENCE_LOG_FORMAT", "json")
}

async fn actions(dir: &Path) -> Vec<(String, ActionState)> {
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(dir.join("cadence.db")).unwrap());
    ledger.list_actions().await.unwrap().into_iter().map(|(k, s)| (k.to_string(), s)).collect()
}

fn done_for(actions: &[(String, ActionState)], needle: &str) -> usize {
    actions.iter().filter(|(k, s)| k.contains(needle) && matches!(s, ActionState::Done { .. })).count()
}

#[tokio::test]
async fn a_delivery_with_one_out_of_range_time_acts_on_its_good_events_and_reports_the_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let handler = Handler::start(dir.path(), &live()).await;
    let answer = handler.invoke(&good_bad_good()).await;
    assert_eq!(answer.status, 200, "the bad event is permanent and reported; nothing to retry: {}", answer.body);
    let logs = answer.logs();
    let bad: Vec<&str> = logs.lines().filter(|l| l.contains("bad-0001")).collect();
    assert!(!bad.is_empty(), "the bad event is reported in the host's Logs: {logs}");
    assert!(bad.iter().any(|l| l.contains("out of range") && l.contains("1677-09-21") && l.contains("2262-04-11")), "{logs}");
    assert!(!logs.contains("RFC 3339"), "the time is well-formed, only out of range: {logs}");
    assert!(!logs.contains("failed, not retried"), "the delivery did not fail as a whole: {logs}");

    let recorded = actions(dir.path()).await;
    assert_eq!(done_for(&recorded, "#pool-a/"), 1, "the first good event was acted on: {recorded:?}");
    assert_eq!(done_for(&recorded, "#pool-b/"), 1, "the second good event was acted on: {recorded:?}");
    assert_eq!(recorded.iter().filter(|(k, _)| k.contains("pool-bad")).count(), 0, "{recorded:?}");

    // A redelivery (the same bytes) acts on nothing again.
    let again = handler.invoke(&good_bad_good()).await;
    assert_eq!(again.status, 200);
    assert_eq!(actions(dir.path()).await, recorded);
}

#[tokio::test]
async fn the_webhook_counts_the_bad_event_as_ignored_and_acts_on_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let handler = Handler::start(dir.path(), &live()).await;
    let answer = handler.webhook("application/json", &good_bad_good()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json(), json!({"events": 3, "signals": 2, "unknown": 0, "ignored": 1}));
    let output = handler.output();
    assert!(output.lines().any(|l| l.contains("bad-0001") && l.contains("out of range")), "the handler logs why: {output}");
    let recorded = actions(dir.path()).await;
    assert_eq!(done_for(&recorded, "#pool-a/") + done_for(&recorded, "#pool-b/"), 2, "{recorded:?}");
}

#[tokio::test]
async fn a_version_that_overflowed_is_ignored_with_a_reason_and_the_handler_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let handler = Handler::start(dir.path(), &live()).await;
    let mut ended = fixture("aks_cluster_support_ended.eventgrid.json");
    ended["id"] = json!("huge-version");
    ended["topic"] = json!(CLUSTER);
    ended["eventTime"] = json!(recent());
    ended["data"]["kubernetesVersion"] = json!("1.18446744073709551615");
    let mut offered = fixture("aks_new_kubernetes_version_available.eventgrid.json");
    offered["id"] = json!("huge-offer");
    offered["topic"] = json!(CLUSTER);
    offered["eventTime"] = json!(recent());
    offered["data"]["latestSupportedKubernetesVersion"] = json!("1.18446744073709551615");
    let sibling = roll("aks_node_pool_rolling_started.eventgrid.json", "fine", &recent(), "pool-c");
    let answer = handler.invoke(&json!([ended, offered, sibling])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let logs = answer.logs();
    for id in ["huge-version", "huge-offer"] {
        assert!(logs.lines().any(|l| l.contains(id) && l.contains("ignored") && l.contains("out of range")), "{id}: {logs}");
    }
    assert!(!logs.contains("upgrade to 1.0"), "{logs}");
    let recorded = actions(dir.path()).await;
    assert_eq!(done_for(&recorded, "#pool-c/"), 1, "{recorded:?}");
    assert!(recorded.iter().all(|(k, _)| !k.contains("18446744073709551615")), "{recorded:?}");
    // Still serving.
    assert_eq!(handler.invoke(&json!([])).await.status, 200);
}

#[tokio::test]
async fn a_rolls_start_and_failure_with_the_same_time_are_both_acted_on() {
    let dir = tempfile::tempdir().unwrap();
    let handler = Handler::start(dir.path(), &live()).await;
    let at = recent();
    let delivery = json!([
        roll("aks_node_pool_rolling_started.eventgrid.json", "roll-started", &at, "nodepool1"),
        roll("aks_node_pool_rolling_failed.eventgrid.json", "roll-failed", &at, "nodepool1"),
    ]);
    let answer = handler.invoke(&delivery).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let recorded = actions(dir.path()).await;
    let keys: Vec<&str> = recorded.iter().map(|(k, _)| k.as_str()).collect();
    assert!(keys.iter().any(|k| k.ends_with("#node-pool-roll#nodepool1/log/notice")), "the start: {keys:?}");
    assert!(keys.iter().any(|k| k.ends_with("#node-pool-roll#nodepool1/log~failed/notice")), "the failure: {keys:?}");
    assert!(recorded.iter().all(|(_, s)| matches!(s, ActionState::Done { .. })), "{recorded:?}");
    assert!(answer.logs().contains("roll failed"), "{}", answer.logs());
}

// ------------------------------------------------------------------ replay

fn replay(dir: &Path, files: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .args(["replay", "--now", "2026-03-02T12:00:00Z"])
        .args(files)
        .output()
        .expect("run handler replay")
}

fn planned_pools(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .map(|v| v["target"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn replay_goes_on_past_a_file_with_a_bad_event_and_exits_1_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let at = "2026-03-02T11:00:00Z";
    let write = |name: &str, v: Value| std::fs::write(dir.path().join(name), v.to_string()).unwrap();
    write("good.json", json!([roll("aks_node_pool_rolling_failed.eventgrid.json", "g1", at, "pool-a")]));
    write(
        "bad.json",
        json!([
            roll("aks_node_pool_rolling_failed.eventgrid.json", "b0", "0001-01-01T00:00:00Z", "pool-bad"),
            roll("aks_node_pool_rolling_failed.eventgrid.json", "b1", at, "pool-beside-bad"),
        ]),
    );
    write("good2.json", json!([roll("aks_node_pool_rolling_failed.eventgrid.json", "g2", at, "pool-b")]));
    let out = replay(dir.path(), &["good.json", "bad.json", "good2.json"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "an input had a bad event: {err}");
    assert_eq!(planned_pools(&out), ["pool-a", "pool-beside-bad", "pool-b"], "every plan line it could make: {err}");
    assert!(err.lines().any(|l| l.contains("bad.json") && l.contains("b0") && l.contains("out of range")), "{err}");
    assert!(err.contains("replayed 4 event(s) from 3 input(s): 3 action(s) planned"), "{err}");
    assert!(err.contains("1 input(s) had a problem"), "{err}");
}

#[test]
fn replay_of_an_overflowing_version_ignores_it_with_a_reason_instead_of_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let mut ended = fixture("aks_cluster_support_ended.cloudevent.json");
    ended["source"] = json!(CLUSTER);
    ended["data"]["kubernetesVersion"] = json!("1.18446744073709551615");
    std::fs::write(dir.path().join("huge.json"), ended.to_string()).unwrap();
    let out = replay(dir.path(), &["huge.json"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "no panic (101), a reported bad event: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("data.kubernetesVersion") && err.contains("out of range"), "{err}");
    assert!(planned_pools(&out).is_empty());
}
