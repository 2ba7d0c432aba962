//! The whole pipeline (ingested signals → built-in policy → plan → executor → ledger) with a
//! counting adapter.
//!
//! NOTE: these tests need the planner and the built-in policy from the policy-plan branch; on
//! the pipeline branch alone `plan::plan` is a stub that plans nothing, so they fail there.
//! Every assertion in this file depends on that merge.

mod pipeline_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use aks_cadence::action::{Action, ActionKind};
use aks_cadence::actions::{Actuator, Performed};
use aks_cadence::domain::{Origin, Signal, SignalKind};
use aks_cadence::error::ActionError;
use aks_cadence::ingest::Ingested;
use aks_cadence::pipeline::{EventSink, Pipeline, PipelineError, fixed_clock};
use aks_cadence::policy::Policy;
use aks_cadence::store::{ActionState, Ledger};
use async_trait::async_trait;
use jiff::SignedDuration;
use pipeline_support::*;

/// Handles every kind of action; counts; fails transiently while `down`.
#[derive(Default)]
struct Everything {
    performed: AtomicUsize,
    batches: AtomicUsize,
    down: AtomicBool,
}

#[async_trait]
impl Actuator for Everything {
    fn name(&self) -> &'static str {
        "everything"
    }
    fn handles(&self, _: &ActionKind) -> bool {
        true
    }
    async fn perform(&self, batch: &[Action]) -> Vec<Performed> {
        self.batches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        batch
            .iter()
            .map(|a| {
                self.performed.fetch_add(1, Ordering::SeqCst);
                if self.down.load(Ordering::SeqCst) { Err(ActionError::Transient("HTTP 502".into())) } else { Ok(format!("did {}", a.key).into()) }
            })
            .collect()
    }
}

fn pipeline(ledger: &Arc<dyn Ledger>, adapter: &Arc<Everything>, dry_run: bool) -> Pipeline {
    parts(Arc::new(Policy::builtin()), ledger, vec![Arc::clone(adapter) as Arc<dyn Actuator>], dry_run, fixed_clock(t0() + SignedDuration::from_hours(1))).pipeline()
}

fn support_ended(cluster_name: &str) -> Signal {
    Signal {
        cluster: cluster(cluster_name),
        facts: Default::default(),
        kind: SignalKind::SupportEnded { kubernetes_version: "1.29.9".into() },
        observed_at: t0(),
        origin: Origin::Manual,
    }
}

fn event(id: &str, signals: Vec<Signal>) -> Ingested {
    Ingested::Signals { event_id: id.into(), event_type: "Microsoft.ContainerService.ClusterSupportEnded".into(), signals }
}

#[tokio::test]
async fn the_builtin_policy_plans_a_notice_that_runs_once_across_deliveries() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(Everything::default());
    let p = pipeline(&ledger, &adapter, false);

    let first = p.handle(vec![event("e-1", vec![support_ended("prod-weu")])]).await.unwrap();
    assert!(!first.planned.is_empty(), "the built-in policy plans every signal as a notice");
    assert_eq!(adapter.performed.load(Ordering::SeqCst), first.planned.len());
    for a in &first.planned {
        assert!(matches!(ledger.action_state(&a.key).await.unwrap(), Some(ActionState::Done { .. })), "{}", a.key);
    }
    assert!(ledger.event_processed("e-1").await.unwrap());

    // The same fact under another event id (a sweep, a re-sent notice) coalesces on the keys.
    let second = p.handle(vec![event("e-2", vec![support_ended("prod-weu")])]).await.unwrap();
    assert!(second.planned.is_empty(), "finished keys are dropped: {:?}", second.planned);
    assert_eq!(adapter.performed.load(Ordering::SeqCst), first.planned.len());
}

#[tokio::test]
async fn dry_run_plans_records_first_seen_and_executes_nothing() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(Everything::default());
    let report = pipeline(&ledger, &adapter, true).handle(vec![event("e-1", vec![support_ended("prod-weu")])]).await.unwrap();
    assert!(!report.planned.is_empty());
    assert_eq!(adapter.performed.load(Ordering::SeqCst), 0);
    assert!(ledger.list_actions().await.unwrap().is_empty());
    let concern = &report.planned[0].concern;
    assert_eq!(ledger.first_seen(&concern.key(), t0() + SignedDuration::from_hours(9)).await.unwrap(), t0(), "first seen = when the fact was observed");
}

#[tokio::test]
async fn a_transient_failure_fails_the_delivery_and_the_redelivery_finishes_it() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(Everything::default());
    adapter.down.store(true, Ordering::SeqCst);
    let p = pipeline(&ledger, &adapter, false);

    let err = p.handle(vec![event("e-1", vec![support_ended("prod-weu")])]).await.unwrap_err();
    assert!(matches!(err, PipelineError::Retryable(_)), "{err:?}");
    assert!(!ledger.event_processed("e-1").await.unwrap(), "not marked, so the redelivery is not skipped");
    let tries = adapter.performed.load(Ordering::SeqCst);
    assert!(tries >= 1);

    adapter.down.store(false, Ordering::SeqCst);
    let report = p.handle(vec![event("e-1", vec![support_ended("prod-weu")])]).await.unwrap();
    assert!(!report.planned.is_empty());
    assert_eq!(adapter.performed.load(Ordering::SeqCst), tries + report.planned.len());
    assert!(ledger.event_processed("e-1").await.unwrap());
}

#[tokio::test]
async fn a_sweep_plans_all_clusters_as_one_batch() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(Everything::default());
    let signals = (1..=5).map(|i| support_ended(&format!("aks-{i}"))).collect();
    let report = pipeline(&ledger, &adapter, false).handle_signals(signals).await.unwrap();
    assert!(report.planned.len() >= 5, "{}", report.planned.len());
    assert_eq!(adapter.batches.load(Ordering::SeqCst), 1, "one adapter, one batch: digests group");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_concurrent_deliveries_of_one_event_act_once() {
    let store = TempLedger::new();
    let adapter = Arc::new(Everything::default());
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let ledger = store.open();
            let p = pipeline(&ledger, &adapter, false);
            tokio::spawn(async move { p.handle(vec![event("e-1", vec![support_ended("prod-weu")])]).await })
        })
        .collect();
    let mut planned = 0;
    for t in tasks {
        planned = planned.max(t.await.unwrap().expect("every delivery answers success").planned.len());
    }
    assert!(planned >= 1);
    assert_eq!(adapter.performed.load(Ordering::SeqCst), planned, "each action performed once");
}
