//! The orchestrator's own duties, independent of what the policy plans: duplicate deliveries,
//! dry-run leaving no state behind, unknown events, and ledger failures mapped to the answer
//! the platform needs.

mod pipeline_support;

use std::sync::Arc;

use aks_cadence::action::ActionKey;
use aks_cadence::actions::Actuator;
use aks_cadence::ingest::Ingested;
use aks_cadence::pipeline::{EventSink, Pipeline, PipelineError, fixed_clock};
use aks_cadence::policy::Policy;
use aks_cadence::store::{ActionState, Claim, ClaimToken, Completion, Ledger, LedgerError, PendingNotification};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use pipeline_support::*;

fn pipeline(ledger: &Arc<dyn Ledger>, adapter: &Arc<FakeAdapter>, dry_run: bool) -> Pipeline {
    parts(Arc::new(Policy::builtin()), ledger, vec![Arc::clone(adapter) as Arc<dyn Actuator>], dry_run, fixed_clock(t0())).pipeline()
}

fn event(id: &str) -> Ingested {
    Ingested::Signals {
        event_id: id.into(),
        event_type: "Microsoft.ContainerService.NewKubernetesVersionAvailable".into(),
        signals: vec![new_version_signal("prod-weu")],
    }
}

#[tokio::test]
async fn a_processed_event_is_skipped_when_delivered_again() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let p = pipeline(&ledger, &adapter, false);
    p.handle(vec![event("e-1")]).await.unwrap();
    assert!(ledger.event_processed("e-1").await.unwrap(), "a successful run marks the event");
    let again = p.handle(vec![event("e-1")]).await.unwrap();
    assert!(again.planned.is_empty());
    assert!(again.log.iter().any(|l| l.contains("e-1") && l.contains("already processed")), "{:?}", again.log);
}

#[tokio::test]
async fn a_processed_event_stays_processed_after_a_restart() {
    let store = TempLedger::new();
    let adapter = Arc::new(FakeAdapter::logs());
    pipeline(&store.open(), &adapter, false).handle(vec![event("e-restart")]).await.unwrap();
    let again = pipeline(&store.open(), &adapter, false).handle(vec![event("e-restart")]).await.unwrap();
    assert!(again.log.iter().any(|l| l.contains("already processed")), "{:?}", again.log);
}

#[tokio::test]
async fn the_same_event_twice_in_one_batch_is_handled_once() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let report = pipeline(&ledger, &adapter, false).handle(vec![event("e-1"), event("e-1")]).await.unwrap();
    assert_eq!(report.log.iter().filter(|l| l.contains("already processed")).count(), 1, "{:?}", report.log);
}

#[tokio::test]
async fn dry_run_leaves_no_event_or_action_state_behind() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    pipeline(&ledger, &adapter, true).handle(vec![event("e-dry")]).await.unwrap();
    assert!(!ledger.event_processed("e-dry").await.unwrap(), "switching dry-run off later must not lose the event");
    assert!(ledger.list_actions().await.unwrap().is_empty());
    assert_eq!(adapter.total_performed(), 0);
}

#[tokio::test]
async fn unknown_event_types_are_acknowledged_with_a_log_line() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let report = pipeline(&ledger, &adapter, false)
        .handle(vec![Ingested::Unknown { event_id: "u-1".into(), event_type: "Microsoft.ContainerService.NodePoolRollingProgress".into() }])
        .await
        .unwrap();
    assert!(report.log.iter().any(|l| l.contains("NodePoolRollingProgress") && l.contains("not handled")), "{:?}", report.log);
}

/// A ledger that always fails with the given error.
struct BrokenLedger(fn() -> LedgerError);

#[async_trait]
impl Ledger for BrokenLedger {
    async fn mark_event_processed(&self, _: &str, _: Timestamp) -> Result<bool, LedgerError> {
        Err((self.0)())
    }
    async fn event_processed(&self, _: &str) -> Result<bool, LedgerError> {
        Err((self.0)())
    }
    async fn first_seen(&self, _: &str, _: Timestamp) -> Result<Timestamp, LedgerError> {
        Err((self.0)())
    }
    async fn seen(&self, _: &str) -> Result<Option<Timestamp>, LedgerError> {
        Err((self.0)())
    }
    async fn action_state(&self, _: &ActionKey) -> Result<Option<ActionState>, LedgerError> {
        Err((self.0)())
    }
    async fn claim(&self, _: &ActionKey, _: &str, _: Timestamp, _: SignedDuration) -> Result<Claim, LedgerError> {
        Err((self.0)())
    }
    async fn complete(&self, _: &ActionKey, _: &ClaimToken, _: Completion, _: Timestamp) -> Result<(), LedgerError> {
        Err((self.0)())
    }
    async fn release(&self, _: &ActionKey, _: &ClaimToken) -> Result<(), LedgerError> {
        Err((self.0)())
    }
    async fn get_ref(&self, _: &str, _: &str) -> Result<Option<String>, LedgerError> {
        Err((self.0)())
    }
    async fn put_ref(&self, _: &str, _: &str, _: &str) -> Result<(), LedgerError> {
        Err((self.0)())
    }
    async fn list_actions(&self) -> Result<Vec<(ActionKey, ActionState)>, LedgerError> {
        Err((self.0)())
    }
    async fn queue_notification(&self, _: &ActionKey, _: &str, _: Timestamp) -> Result<(), LedgerError> {
        Err((self.0)())
    }
    async fn pending_notifications(&self) -> Result<Vec<PendingNotification>, LedgerError> {
        Err((self.0)())
    }
    async fn remove_notification(&self, _: &ActionKey) -> Result<(), LedgerError> {
        Err((self.0)())
    }
}

#[tokio::test]
async fn an_unavailable_ledger_makes_the_delivery_retryable() {
    let ledger: Arc<dyn Ledger> = Arc::new(BrokenLedger(|| LedgerError::Unavailable("database is locked".into())));
    let adapter = Arc::new(FakeAdapter::logs());
    let err = pipeline(&ledger, &adapter, false).handle(vec![event("e-1")]).await.unwrap_err();
    assert!(matches!(err, PipelineError::Retryable(ref m) if m.contains("locked")), "{err:?}");
    assert_eq!(adapter.total_performed(), 0);
}

#[tokio::test]
async fn a_ledger_that_refuses_the_identity_fails_the_delivery_as_a_configuration_failure() {
    let ledger: Arc<dyn Ledger> = Arc::new(BrokenLedger(|| LedgerError::Configuration {
        setting: "CADENCE_STATE (the identity's role on the container)".into(),
        message: "blob ledger x: read was refused (403 AuthorizationPermissionMismatch)".into(),
    }));
    let adapter = Arc::new(FakeAdapter::logs());
    let err = pipeline(&ledger, &adapter, false).handle(vec![event("e-1")]).await.unwrap_err();
    assert!(matches!(err, PipelineError::Configuration(ref m) if m.contains("403") && m.contains("Fix: CADENCE_STATE")), "{err:?}");
    assert!(err.is_retryable(), "answered non-2xx: the event comes back after the role is granted");
    assert_eq!(adapter.total_performed(), 0);
}

#[tokio::test]
async fn a_corrupt_ledger_is_a_permanent_error_not_a_retry_loop() {
    let ledger: Arc<dyn Ledger> = Arc::new(BrokenLedger(|| LedgerError::Corrupt("file is not a database".into())));
    let adapter = Arc::new(FakeAdapter::logs());
    let err = pipeline(&ledger, &adapter, false).handle(vec![event("e-1")]).await.unwrap_err();
    assert!(matches!(err, PipelineError::Permanent(_)), "{err:?}");
}

#[tokio::test]
async fn sweeps_without_event_ids_run_through_the_same_pipeline() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let report = pipeline(&ledger, &adapter, false).handle_signals(vec![new_version_signal("prod-weu"), new_version_signal("prod-neu")]).await.unwrap();
    assert!(report.log.iter().all(|l| !l.contains("already processed")));
}
