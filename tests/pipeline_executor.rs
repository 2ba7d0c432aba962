//! The executor on a real SQLite ledger with hand-built actions and a counting fake adapter:
//! claim → act → complete, exactly once, whatever the deliveries do.

mod pipeline_support;

use std::sync::Arc;
use std::time::Duration;

use aks_cadence::action::ActionKind;
use aks_cadence::actions::Actuator;
use aks_cadence::error::ActionError;
use aks_cadence::execute::Outcome;
use aks_cadence::store::{ActionState, Claim, Completion};
use async_trait::async_trait;
use jiff::SignedDuration;
use pipeline_support::*;

fn adapters(a: &Arc<FakeAdapter>) -> Vec<Arc<dyn Actuator>> {
    vec![Arc::clone(a) as Arc<dyn Actuator>]
}

#[tokio::test]
async fn a_duplicate_plan_executes_once() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let exec = executor(&ledger, adapters(&adapter), "w1");
    let plan = vec![log_action("prod-weu"), log_action("prod-neu")];

    let first = exec.execute(plan.clone(), t0()).await;
    assert_eq!(first.count(|o| matches!(o, Outcome::Done { .. })), 2, "{first:?}");
    let second = exec.execute(plan.clone(), t0() + SignedDuration::from_mins(1)).await;
    assert_eq!(second.count(|o| matches!(o, Outcome::AlreadyFinished(ActionState::Done { .. }))), 2, "{second:?}");
    assert!(!second.needs_retry());
    assert_eq!(adapter.performed(&plan[0]), 1);
    assert_eq!(adapter.performed(&plan[1]), 1);
}

#[tokio::test]
async fn the_same_key_twice_in_one_plan_runs_once() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let exec = executor(&ledger, adapters(&adapter), "w1");
    let a = log_action("prod-weu");
    let report = exec.execute(vec![a.clone(), a.clone()], t0()).await;
    assert_eq!(report.executed.len(), 1);
    assert_eq!(adapter.performed(&a), 1);
    assert_eq!(adapter.batches(), vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_executions_of_one_plan_execute_once() {
    let store = TempLedger::new();
    let adapter = Arc::new(FakeAdapter::logs().with_delay(Duration::from_millis(150)));
    let plan = vec![log_action("prod-weu"), log_action("prod-neu"), log_action("stage-weu")];
    // Eight deliveries of the same event, each with its own executor and its own connection
    // to the ledger file, as separate host instances would have.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let ledger = store.open();
            let exec = executor(&ledger, adapters(&adapter), &format!("worker-{i}"));
            let plan = plan.clone();
            tokio::spawn(async move { exec.execute(plan, t0()).await })
        })
        .collect();
    let mut done = 0;
    for t in tasks {
        let report = t.await.unwrap();
        assert!(!report.needs_retry(), "waiters see the holder finish within the wait: {report:?}");
        done += report.count(|o| matches!(o, Outcome::Done { .. }));
    }
    assert_eq!(done, 3, "each key is done by exactly one delivery");
    for a in &plan {
        assert_eq!(adapter.performed(a), 1, "{}", a.key);
    }
}

#[tokio::test]
async fn a_transient_failure_is_retried_within_the_invocation_then_done() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let a = log_action("prod-weu");
    adapter.script(&a, vec![Err(ActionError::Transient("connection reset".into()))]);
    let report = executor(&ledger, adapters(&adapter), "w1").execute(vec![a.clone()], t0()).await;
    assert!(matches!(report.outcome(&a.key), Some(Outcome::Done { .. })), "{report:?}");
    assert_eq!(adapter.performed(&a), 2);
    assert_eq!(adapter.batches(), vec![1, 1], "only the failed action goes again");
}

#[tokio::test]
async fn transient_failures_past_the_budget_release_the_key_and_the_platform_retry_runs_it_once_more() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let (flaky, fine) = (log_action("prod-weu"), log_action("prod-neu"));
    let down = || Err(ActionError::Transient("HTTP 503".into()));
    adapter.script(&flaky, vec![down(), down(), down()]);
    let exec = executor(&ledger, adapters(&adapter), "w1");

    let first = exec.execute(vec![flaky.clone(), fine.clone()], t0()).await;
    assert!(first.needs_retry(), "the invocation must fail so Event Grid delivers again");
    assert!(matches!(first.outcome(&flaky.key), Some(Outcome::NeedsRetry { reason }) if reason.contains("503")), "{first:?}");
    assert!(matches!(first.outcome(&fine.key), Some(Outcome::Done { .. })));
    assert_eq!(adapter.performed(&flaky), 3, "bounded: FAST_RETRY allows 3 attempts");
    assert_eq!(ledger.action_state(&flaky.key).await.unwrap(), None, "the claim was released");

    // Event Grid's retry: the finished action is not repeated, the released one runs once more.
    let retry = exec.execute(vec![flaky.clone(), fine.clone()], t0() + SignedDuration::from_secs(10)).await;
    assert!(!retry.needs_retry(), "{retry:?}");
    assert!(matches!(retry.outcome(&flaky.key), Some(Outcome::Done { .. })));
    assert!(matches!(retry.outcome(&fine.key), Some(Outcome::AlreadyFinished(_))));
    assert_eq!(adapter.performed(&flaky), 4);
    assert_eq!(adapter.performed(&fine), 1);
}

#[tokio::test]
async fn a_permanent_failure_is_recorded_with_its_reason_and_not_retried() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let a = log_action("prod-weu");
    adapter.script(&a, vec![Err(ActionError::Permanent("HTTP 404: repository not found".into()))]);
    let exec = executor(&ledger, adapters(&adapter), "w1");

    let report = exec.execute(vec![a.clone()], t0()).await;
    assert!(!report.needs_retry(), "a retry cannot help, so the invocation succeeds");
    assert!(matches!(report.outcome(&a.key), Some(Outcome::Failed { reason, .. }) if reason.contains("404")));
    assert!(matches!(ledger.action_state(&a.key).await.unwrap(), Some(ActionState::Failed { reason, .. }) if reason == "HTTP 404: repository not found"));

    let again = exec.execute(vec![a.clone()], t0() + SignedDuration::from_hours(1)).await;
    assert!(matches!(again.outcome(&a.key), Some(Outcome::AlreadyFinished(ActionState::Failed { .. }))));
    assert_eq!(adapter.performed(&a), 1);
}

#[tokio::test]
async fn a_configuration_failure_is_never_recorded_it_fails_the_invocation_and_runs_once_after_the_fix() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let (refused, fine) = (log_action("prod-weu"), log_action("prod-neu"));
    let token_refused = || Err(ActionError::configuration("GITHUB_TOKEN", "GitHub refused the credentials (HTTP 401: Bad credentials)"));
    adapter.script(&refused, vec![token_refused(), token_refused()]);
    let exec = executor(&ledger, adapters(&adapter), "w1");

    let first = exec.execute(vec![refused.clone(), fine.clone()], t0()).await;
    assert!(first.needs_retry(), "the invocation must fail so the platform delivers again: {first:?}");
    assert!(
        matches!(first.outcome(&refused.key), Some(Outcome::NeedsConfiguration { setting, reason }) if setting == "GITHUB_TOKEN" && reason.contains("Fix: GITHUB_TOKEN")),
        "{first:?}"
    );
    assert_eq!(adapter.performed(&refused), 1, "not retried in-process: the same request cannot work before a person acts");
    assert_eq!(ledger.action_state(&refused.key).await.unwrap(), None, "never recorded as failed: the claim was released");
    assert!(matches!(first.outcome(&fine.key), Some(Outcome::Done { .. })));

    // Still broken at the platform's next delivery: still nothing recorded.
    let second = exec.execute(vec![refused.clone(), fine.clone()], t0() + SignedDuration::from_secs(30)).await;
    assert!(second.needs_retry());
    assert_eq!(ledger.action_state(&refused.key).await.unwrap(), None);

    // The token is fixed: the next delivery does the work, once; the rest is not repeated.
    let fixed = exec.execute(vec![refused.clone(), fine.clone()], t0() + SignedDuration::from_mins(5)).await;
    assert!(!fixed.needs_retry(), "{fixed:?}");
    assert!(matches!(fixed.outcome(&refused.key), Some(Outcome::Done { .. })));
    assert!(matches!(fixed.outcome(&fine.key), Some(Outcome::AlreadyFinished(_))));
    let later = exec.execute(vec![refused.clone()], t0() + SignedDuration::from_hours(1)).await;
    assert!(matches!(later.outcome(&refused.key), Some(Outcome::AlreadyFinished(ActionState::Done { .. }))));
    assert_eq!(adapter.performed(&refused), 3);
    assert_eq!(adapter.performed(&fine), 1);
}

#[tokio::test]
async fn already_done_from_the_adapter_is_recorded_as_done() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let a = log_action("prod-weu");
    adapter.script(&a, vec![Err(ActionError::AlreadyDone("branch exists".into()))]);
    let report = executor(&ledger, adapters(&adapter), "w1").execute(vec![a.clone()], t0()).await;
    assert!(matches!(report.outcome(&a.key), Some(Outcome::Done { detail, .. }) if detail.contains("branch exists")));
    assert!(matches!(ledger.action_state(&a.key).await.unwrap(), Some(ActionState::Done { .. })));
    assert_eq!(adapter.performed(&a), 1);
}

#[tokio::test]
async fn throttling_longer_than_the_budget_goes_straight_to_the_platform_retry() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let a = log_action("prod-weu");
    adapter.script(&a, vec![Err(ActionError::Throttled { retry_after: Some(Duration::from_secs(60)), message: "secondary rate limit".into() })]);
    let report = executor(&ledger, adapters(&adapter), "w1").execute(vec![a.clone()], t0()).await;
    assert!(report.needs_retry());
    assert_eq!(adapter.performed(&a), 1, "no in-invocation wait of 60 s");
    assert_eq!(ledger.action_state(&a.key).await.unwrap(), None);
}

#[tokio::test]
async fn a_deferred_action_is_released_without_failing_the_invocation() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let a = log_action("prod-weu");
    adapter.script(&a, vec![Err(ActionError::Deferred("HTTP 409: operation in progress".into()))]);
    let report = executor(&ledger, adapters(&adapter), "w1").execute(vec![a.clone()], t0()).await;
    assert!(!report.needs_retry());
    assert!(matches!(report.outcome(&a.key), Some(Outcome::Deferred { .. })));
    assert_eq!(ledger.action_state(&a.key).await.unwrap(), None, "free for the next opportunity");
}

#[tokio::test]
async fn after_a_restart_nothing_is_executed_again() {
    let store = TempLedger::new();
    let adapter = Arc::new(FakeAdapter::logs());
    let (ok, failed) = (log_action("prod-weu"), log_action("prod-neu"));
    adapter.script(&failed, vec![Err(ActionError::Permanent("bad config".into()))]);
    {
        let ledger = store.open();
        executor(&ledger, adapters(&adapter), "before-restart").execute(vec![ok.clone(), failed.clone()], t0()).await;
    }
    let ledger = store.open();
    let report = executor(&ledger, adapters(&adapter), "after-restart").execute(vec![ok.clone(), failed.clone()], t0() + SignedDuration::from_hours(2)).await;
    assert_eq!(report.count(|o| matches!(o, Outcome::AlreadyFinished(_))), 2, "{report:?}");
    assert_eq!(adapter.total_performed(), 2);
}

#[tokio::test]
async fn actions_for_one_adapter_go_to_it_in_one_batch() {
    let store = TempLedger::new();
    let ledger = store.open();
    let logs = Arc::new(FakeAdapter::logs());
    let mail = Arc::new(FakeAdapter::handling("fake-mail", |k| matches!(k, ActionKind::Email { .. })));
    let exec = executor(&ledger, vec![Arc::clone(&logs) as Arc<dyn Actuator>, Arc::clone(&mail) as Arc<dyn Actuator>], "w1");
    let plan = vec![email_action("a"), log_action("a"), email_action("b"), email_action("c"), log_action("b")];
    let report = exec.execute(plan.clone(), t0()).await;
    assert_eq!(report.count(|o| matches!(o, Outcome::Done { .. })), 5);
    assert_eq!(mail.batches(), vec![3], "one digest-sized batch for mail");
    assert_eq!(logs.batches(), vec![2]);
    let keys: Vec<_> = report.executed.iter().map(|e| e.key.clone()).collect();
    assert_eq!(keys, plan.iter().map(|a| a.key.clone()).collect::<Vec<_>>(), "the report keeps plan order");
}

#[tokio::test]
async fn an_action_no_adapter_handles_is_reported_and_left_unclaimed() {
    let store = TempLedger::new();
    let ledger = store.open();
    let logs = Arc::new(FakeAdapter::logs());
    let a = email_action("prod-weu");
    let report = executor(&ledger, adapters(&logs), "w1").execute(vec![a.clone()], t0()).await;
    assert_eq!(report.outcome(&a.key), Some(&Outcome::Unhandled));
    assert!(!report.needs_retry(), "a retry cannot configure the adapter");
    assert_eq!(ledger.action_state(&a.key).await.unwrap(), None, "it runs once the adapter is configured");
}

#[tokio::test]
async fn a_key_held_by_a_crashed_worker_waits_for_its_lease_then_runs() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let a = log_action("prod-weu");
    // A worker claimed the key and died.
    let lease = SignedDuration::from_mins(5);
    assert!(matches!(ledger.claim(&a.key, "crashed", t0(), lease).await.unwrap(), Claim::Acquired(_)));
    let exec = executor(&ledger, adapters(&adapter), "w1").with_held_wait(Duration::from_millis(60));

    let early = exec.execute(vec![a.clone()], t0() + SignedDuration::from_secs(30)).await;
    assert!(early.needs_retry(), "the platform must come back: {early:?}");
    assert!(matches!(early.outcome(&a.key), Some(Outcome::NeedsRetry { reason }) if reason.contains("crashed")));
    assert_eq!(adapter.performed(&a), 0);

    let later = exec.execute(vec![a.clone()], t0() + lease).await;
    assert!(matches!(later.outcome(&a.key), Some(Outcome::Done { .. })), "{later:?}");
    assert_eq!(adapter.performed(&a), 1);
}

/// An adapter that, like GitHub's, checks for its own earlier work before creating.
struct MarkerChecking {
    created: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl Actuator for MarkerChecking {
    fn name(&self) -> &'static str {
        "marker"
    }
    fn handles(&self, _: &ActionKind) -> bool {
        true
    }
    async fn perform(&self, batch: &[aks_cadence::action::Action]) -> Vec<aks_cadence::actions::Performed> {
        let mut created = self.created.lock().unwrap();
        batch
            .iter()
            .map(|a| {
                if created.contains(&a.key.to_string()) {
                    Err(ActionError::AlreadyDone(format!("found marker for {}", a.key)))
                } else {
                    created.push(a.key.to_string());
                    Ok("issue #1".into())
                }
            })
            .collect()
    }
}

#[tokio::test]
async fn a_crash_between_act_and_record_is_caught_by_the_adapters_own_check() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(MarkerChecking { created: Default::default() });
    let a = log_action("prod-weu");
    let lease = SignedDuration::from_mins(5);
    // A first worker claims and acts, then crashes before recording.
    assert!(matches!(ledger.claim(&a.key, "crashed", t0(), lease).await.unwrap(), Claim::Acquired(_)));
    adapter.perform(std::slice::from_ref(&a)).await;

    // The platform's retry after the lease: the adapter finds its marker; nothing is created twice.
    let exec = aks_cadence::execute::Executor::new(Arc::clone(&ledger), vec![Arc::clone(&adapter) as Arc<dyn Actuator>], "w1", lease);
    let report = exec.execute(vec![a.clone()], t0() + lease + SignedDuration::from_secs(1)).await;
    assert!(matches!(report.outcome(&a.key), Some(Outcome::Done { detail, .. }) if detail.contains("found marker")), "{report:?}");
    assert_eq!(adapter.created.lock().unwrap().len(), 1);
}

/// An adapter so slow that another worker takes the key over while it runs.
struct Overtaken {
    ledger: Arc<dyn aks_cadence::store::Ledger>,
}

#[async_trait]
impl Actuator for Overtaken {
    fn name(&self) -> &'static str {
        "slow"
    }
    fn handles(&self, _: &ActionKind) -> bool {
        true
    }
    async fn perform(&self, batch: &[aks_cadence::action::Action]) -> Vec<aks_cadence::actions::Performed> {
        for a in batch {
            // Far past the lease, another worker claims and finishes the key.
            let later = t0() + SignedDuration::from_hours(1);
            let Claim::Acquired(token) = self.ledger.claim(&a.key, "other", later, SignedDuration::from_mins(5)).await.unwrap() else {
                panic!("the expired claim should be taken over")
            };
            self.ledger.complete(&a.key, &token, Completion::Done { detail: "by other".into() }, later).await.unwrap();
        }
        batch.iter().map(|_| Ok("by slow".into())).collect()
    }
}

#[tokio::test]
async fn a_worker_whose_lease_ran_out_does_not_overwrite_the_new_holders_record() {
    let store = TempLedger::new();
    let ledger = store.open();
    let a = log_action("prod-weu");
    let exec = aks_cadence::execute::Executor::new(
        Arc::clone(&ledger),
        vec![Arc::new(Overtaken { ledger: Arc::clone(&ledger) }) as Arc<dyn Actuator>],
        "slow-worker",
        SignedDuration::from_secs(1),
    );
    let report = exec.execute(vec![a.clone()], t0()).await;
    assert!(matches!(report.outcome(&a.key), Some(Outcome::LostClaim { .. })), "{report:?}");
    assert!(!report.needs_retry());
    assert!(matches!(ledger.action_state(&a.key).await.unwrap(), Some(ActionState::Done { detail, .. }) if detail == "by other"));
}

/// An adapter that breaks its contract by returning fewer results than actions.
struct Forgetful;

#[async_trait]
impl Actuator for Forgetful {
    fn name(&self) -> &'static str {
        "forgetful"
    }
    fn handles(&self, _: &ActionKind) -> bool {
        true
    }
    async fn perform(&self, _: &[aks_cadence::action::Action]) -> Vec<aks_cadence::actions::Performed> {
        Vec::new()
    }
}

#[tokio::test]
async fn an_adapter_that_returns_too_few_results_leaves_its_actions_for_a_retry() {
    let store = TempLedger::new();
    let ledger = store.open();
    let a = log_action("prod-weu");
    let exec = executor(&ledger, vec![Arc::new(Forgetful) as Arc<dyn Actuator>], "w1");
    let report = exec.execute(vec![a.clone()], t0()).await;
    assert!(report.needs_retry(), "{report:?}");
    assert_eq!(ledger.action_state(&a.key).await.unwrap(), None);
}

#[tokio::test]
async fn a_held_action_is_neither_claimed_nor_carried_out() {
    let store = TempLedger::new();
    let ledger = store.open();
    let adapter = Arc::new(FakeAdapter::logs());
    let exec = executor(&ledger, adapters(&adapter), "w1");
    let mut held = log_action("prod-weu");
    held.hold = Some(aks_cadence::action::Hold::OutsideWindow { next: None });
    let free = log_action("prod-neu");

    let report = exec.execute(vec![held.clone(), free.clone()], t0()).await;
    assert_eq!(report.count(|o| matches!(o, Outcome::Deferred { .. })), 1, "{report:?}");
    assert!(!report.needs_retry(), "a hold is not a failure: {report:?}");
    assert_eq!(adapter.performed(&held), 0);
    assert_eq!(adapter.performed(&free), 1);
    assert_eq!(ledger.action_state(&held.key).await.unwrap(), None, "the held key must stay unclaimed");

    // Once the gate opens, the same key runs.
    held.hold = None;
    let report = exec.execute(vec![held.clone()], t0()).await;
    assert_eq!(report.count(|o| matches!(o, Outcome::Done { .. })), 1, "{report:?}");
    assert_eq!(adapter.performed(&held), 1);
}
