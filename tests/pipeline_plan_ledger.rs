//! The ledger reads and writes of planning: what they decide (signal order, first key wins,
//! first sightings, `Resolved` only for seen concerns, finished keys and their failure
//! reports) with many signals whose reads finish out of order, and that they overlap up to the
//! pipeline's bound.

mod pipeline_support;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aks_cadence::action::{Action, ActionKey, ActionKind, Stage};
use aks_cadence::actions::Actuator;
use aks_cadence::domain::{ClusterFacts, Concern, ConcernKind, OfferedVersion, Origin, Signal, SignalKind};
use aks_cadence::pipeline::{Pipeline, PipelineError, RunReport, fixed_clock};
use aks_cadence::policy::Policy;
use aks_cadence::store::{ActionState, Claim, ClaimToken, Completion, Ledger, LedgerError, PendingNotification};
use aks_cadence::sweep::ClusterSnapshot;
use aks_cadence::sweep::memory::Observed;
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use pipeline_support::*;

const NOW: &str = "2026-01-15T14:00:00Z";

/// Patches are told (issue and mail), never applied: planning only, no upgrade gates.
const POLICY: &str = r#"
[defaults.upgrade]
patch = "notify"

[[rule]]
name = "all"
[rule.github_issue]
repo = "contoso/platform-infra"
[rule.email]
to = ["ops@example.com"]
"#;

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn minutes_ago(m: i64) -> Timestamp {
    now() - SignedDuration::from_mins(m)
}

fn facts() -> ClusterFacts {
    ClusterFacts {
        location: Some("westeurope".into()),
        kubernetes_version: Some("1.30.4".into()),
        support_plan: Some("KubernetesOfficial".into()),
        provisioning_state: Some("Succeeded".into()),
        power_state: Some("Running".into()),
        ..ClusterFacts::default()
    }
}

fn signal(name: &str, kind: SignalKind, at: Timestamp) -> Signal {
    Signal { cluster: cluster(name), facts: facts(), kind, observed_at: at, origin: Origin::Sweep { run_id: "run".into() } }
}

/// `name` runs 1.30.4 and 1.30.7 is offered: the concern `patch:1.30.4` opens.
fn opens(name: &str, at: Timestamp) -> Signal {
    signal(name, SignalKind::UpgradesOffered { current: "1.30.4".into(), offered: vec![OfferedVersion { version: "1.30.7".into(), is_preview: false }] }, at)
}

/// `name` no longer needs `patch:1.30.4`.
fn resolves(name: &str, at: Timestamp) -> Signal {
    signal(name, SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: "patch:1.30.4".into() }, at)
}

fn concern_key(name: &str) -> String {
    Concern::new(cluster(name), ConcernKind::KubernetesUpgrade, "patch:1.30.4").key()
}

fn everything() -> Arc<FakeAdapter> {
    Arc::new(FakeAdapter::handling("everything", |_| true))
}

fn pipeline_with(ledger: &Arc<dyn Ledger>, adapter: &Arc<FakeAdapter>, dry_run: bool) -> Pipeline {
    parts(Arc::new(Policy::parse(POLICY, "test.toml").unwrap()), ledger, vec![Arc::clone(adapter) as Arc<dyn Actuator>], dry_run, fixed_clock(now())).pipeline()
}

fn pipeline(ledger: &Arc<dyn Ledger>, dry_run: bool) -> Pipeline {
    pipeline_with(ledger, &everything(), dry_run)
}

/// Wraps a ledger: every call waits a little (a deterministic 0–3 ms spread, so that calls
/// issued in one order finish in another), counts the calls in flight per method, and can fail
/// the calls about one key.
struct Slow {
    inner: Arc<dyn Ledger>,
    fixed: Option<Duration>,
    calls: AtomicU64,
    /// Per method, and for all methods (""): (in flight now, most in flight at once).
    in_flight: Mutex<BTreeMap<&'static str, (usize, usize)>>,
    fail: Option<Failure>,
}

/// (method, key, error): calls of `method` about `key` fail.
type Failure = (&'static str, String, fn() -> LedgerError);

impl Slow {
    fn new(inner: Arc<dyn Ledger>) -> Self {
        Self { inner, fixed: None, calls: AtomicU64::new(0), in_flight: Mutex::default(), fail: None }
    }
    fn with_delay(mut self, delay: Duration) -> Self {
        self.fixed = Some(delay);
        self
    }
    fn failing_on(mut self, method: &'static str, key: &str, error: fn() -> LedgerError) -> Self {
        self.fail = Some((method, key.to_string(), error));
        self
    }
    /// The most calls of `method` that were in flight at once.
    fn max_in_flight(&self, method: &str) -> usize {
        self.in_flight.lock().unwrap().get(method).map_or(0, |(_, max)| *max)
    }
    /// Forgets the maxima (calls still in flight stay counted).
    fn reset(&self) {
        self.in_flight.lock().unwrap().values_mut().for_each(|(now, max)| *max = *now);
    }
    async fn call<T>(&self, method: &'static str, key: &str, inner: impl Future<Output = Result<T, LedgerError>>) -> Result<T, LedgerError> {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        for counter in [method, ""] {
            let mut m = self.in_flight.lock().unwrap();
            let (now, max) = m.entry(counter).or_default();
            *now += 1;
            *max = (*max).max(*now);
        }
        let delay = self.fixed.unwrap_or_else(|| Duration::from_micros((n.wrapping_mul(2654435761) >> 5) % 3000));
        tokio::time::sleep(delay).await;
        let result = match &self.fail {
            Some((m, k, error)) if *m == method && k == key => Err(error()),
            _ => inner.await,
        };
        for counter in [method, ""] {
            self.in_flight.lock().unwrap().get_mut(counter).unwrap().0 -= 1;
        }
        result
    }
}

#[async_trait]
impl Ledger for Slow {
    async fn mark_event_processed(&self, id: &str, at: Timestamp) -> Result<bool, LedgerError> {
        self.call("mark_event_processed", id, self.inner.mark_event_processed(id, at)).await
    }
    async fn event_processed(&self, id: &str) -> Result<bool, LedgerError> {
        self.call("event_processed", id, self.inner.event_processed(id)).await
    }
    async fn first_seen(&self, key: &str, at: Timestamp) -> Result<Timestamp, LedgerError> {
        self.call("first_seen", key, self.inner.first_seen(key, at)).await
    }
    async fn seen(&self, key: &str) -> Result<Option<Timestamp>, LedgerError> {
        self.call("seen", key, self.inner.seen(key)).await
    }
    async fn action_state(&self, key: &ActionKey) -> Result<Option<ActionState>, LedgerError> {
        self.call("action_state", key.as_str(), self.inner.action_state(key)).await
    }
    async fn claim(&self, key: &ActionKey, owner: &str, now: Timestamp, lease: SignedDuration) -> Result<Claim, LedgerError> {
        self.call("claim", key.as_str(), self.inner.claim(key, owner, now, lease)).await
    }
    async fn complete(&self, key: &ActionKey, token: &ClaimToken, completion: Completion, now: Timestamp) -> Result<(), LedgerError> {
        self.call("complete", key.as_str(), self.inner.complete(key, token, completion, now)).await
    }
    async fn release(&self, key: &ActionKey, token: &ClaimToken) -> Result<(), LedgerError> {
        self.call("release", key.as_str(), self.inner.release(key, token)).await
    }
    async fn get_ref(&self, key: &str, channel: &str) -> Result<Option<String>, LedgerError> {
        self.call("get_ref", key, self.inner.get_ref(key, channel)).await
    }
    async fn put_ref(&self, key: &str, channel: &str, value: &str) -> Result<(), LedgerError> {
        self.call("put_ref", key, self.inner.put_ref(key, channel, value)).await
    }
    async fn list_actions(&self) -> Result<Vec<(ActionKey, ActionState)>, LedgerError> {
        self.call("list_actions", "", self.inner.list_actions()).await
    }
    async fn queue_notification(&self, key: &ActionKey, action: &str, at: Timestamp) -> Result<(), LedgerError> {
        self.call("queue_notification", key.as_str(), self.inner.queue_notification(key, action, at)).await
    }
    async fn pending_notifications(&self) -> Result<Vec<PendingNotification>, LedgerError> {
        self.call("pending_notifications", "", self.inner.pending_notifications()).await
    }
    async fn remove_notification(&self, key: &ActionKey) -> Result<(), LedgerError> {
        self.call("remove_notification", key.as_str(), self.inner.remove_notification(key)).await
    }
}

// ---------------------------------------------------------------------------------------------
// A batch with every case, many times over
// ---------------------------------------------------------------------------------------------

const CASES: usize = 7;
const ROUNDS: usize = 30;

fn name(i: usize) -> String {
    format!("c{i:03}")
}

/// Cluster `i` plays case `i % CASES`:
/// 0. opens its concern;
/// 1. opens it, and the same signal comes again at the end of the batch;
/// 2. resolves a concern the ledger saw before the batch;
/// 3. resolves a concern never seen;
/// 4. resolves, then opens, a concern never seen;
/// 5. opens a concern whose mail is already done;
/// 6. opens a concern whose mail failed earlier.
fn batch() -> Vec<Signal> {
    let mut signals = Vec::new();
    let mut repeated = Vec::new();
    for i in 0..CASES * ROUNDS {
        let (n, at) = (name(i), minutes_ago((i % 50) as i64));
        match i % CASES {
            1 => {
                signals.push(opens(&n, at));
                repeated.push(opens(&n, at));
            }
            2 | 3 => signals.push(resolves(&n, at)),
            4 => {
                signals.push(resolves(&n, at));
                signals.push(opens(&n, at));
            }
            _ => signals.push(opens(&n, at)),
        }
    }
    signals.extend(repeated);
    signals
}

fn seeded_first_seen(i: usize) -> Timestamp {
    minutes_ago(10_000 + i as i64)
}

/// A fresh ledger in the state the batch's cases expect: concerns of case 2 seen, the mails
/// of case 5 done and of case 6 failed.
async fn prepared(store: &TempLedger) -> Arc<dyn Ledger> {
    let ledger = store.open();
    // The mail keys, from a plan on a scratch ledger.
    let scratch = TempLedger::new();
    let report = pipeline(&scratch.open(), true).handle_signals(batch()).await.unwrap();
    for i in 0..CASES * ROUNDS {
        let n = name(i);
        match i % CASES {
            2 => {
                ledger.first_seen(&concern_key(&n), seeded_first_seen(i)).await.unwrap();
            }
            5 | 6 => {
                let mail = report.planned.iter().find(|a| a.concern.cluster == cluster(&n) && matches!(a.kind, ActionKind::Email { .. })).unwrap();
                let Claim::Acquired(token) = ledger.claim(&mail.key, "earlier", minutes_ago(60 * 24), SignedDuration::from_mins(5)).await.unwrap() else {
                    panic!("fresh key")
                };
                let completion = if i % CASES == 5 { Completion::Done { detail: "sent".into() } } else { Completion::Failed { reason: "mailbox full".into() } };
                ledger.complete(&mail.key, &token, completion, minutes_ago(60 * 24)).await.unwrap();
            }
            _ => {}
        }
    }
    ledger
}

fn cluster_index(a: &Action) -> usize {
    a.concern.cluster.name()[1..].parse().unwrap()
}

fn is_failure_report(a: &Action) -> bool {
    a.key.as_str().contains("~failure-")
}

#[tokio::test]
async fn planning_many_signals_keeps_signal_order_first_keys_sightings_and_finished_keys() {
    let store = TempLedger::new();
    let ledger: Arc<dyn Ledger> = Arc::new(Slow::new(prepared(&store).await));
    let report = pipeline(&ledger, true).handle_signals(batch()).await.unwrap();

    // Signal order, then the failure reports; every key once.
    let (own, reports): (Vec<&Action>, Vec<&Action>) = report.planned.iter().partition(|a| !is_failure_report(a));
    assert!(report.planned.iter().skip(own.len()).all(is_failure_report), "failure reports come last");
    let order: Vec<usize> = own.iter().map(|a| cluster_index(a)).collect();
    assert!(order.is_sorted(), "signal order: {order:?}");
    let mut keys: Vec<&str> = report.planned.iter().map(|a| a.key.as_str()).collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), before, "a key is planned once");

    for i in 0..CASES * ROUNDS {
        let n = name(i);
        let at = minutes_ago((i % 50) as i64);
        let mine: Vec<&Action> = own.iter().copied().filter(|a| cluster_index(a) == i).collect();
        let finished: Vec<&Action> = report.finished.iter().filter(|a| cluster_index(a) == i).collect();
        let seen = ledger.seen(&concern_key(&n)).await.unwrap();
        let stages = |stage: Stage| mine.iter().filter(|a| a.stage == stage).count();
        match i % CASES {
            0 | 1 => {
                assert_eq!(seen, Some(at), "{n}: first seen when observed");
                assert_eq!(stages(Stage::Notice), 2, "{n}: issue and mail, once each: {mine:#?}");
                assert!(mine.iter().all(|a| a.first_seen == Some(at)), "{n}");
            }
            2 => {
                assert_eq!(seen, Some(seeded_first_seen(i)), "{n}: a close moves no sighting");
                assert!(stages(Stage::Resolve) > 0, "{n}: a seen concern is closed: {mine:#?}");
                assert!(mine.iter().all(|a| a.stage == Stage::Resolve && a.first_seen == Some(seeded_first_seen(i))), "{n}: {mine:#?}");
            }
            3 => {
                assert_eq!(seen, None, "{n}: restating 'met' for a concern never seen leaves no trace");
                assert!(mine.is_empty(), "{n}: {mine:#?}");
            }
            4 => {
                assert_eq!(seen, Some(at), "{n}");
                assert!(stages(Stage::Notice) == 2 && stages(Stage::Resolve) == 0, "{n}: the close came before the concern existed: {mine:#?}");
            }
            5 => {
                assert_eq!(finished.len(), 1, "{n}");
                assert!(matches!(finished[0].kind, ActionKind::Email { .. }));
                assert!(mine.iter().all(|a| !matches!(a.kind, ActionKind::Email { .. })), "{n}: done mail not planned again");
                assert!(report.log.contains(&format!("email {} already finished", finished[0].key)), "{n}");
                assert!(!reports.iter().any(|a| cluster_index(a) == i), "{n}: nothing failed");
            }
            6 => {
                assert_eq!(finished.len(), 1, "{n}");
                assert!(report.log.contains(&format!("email {} failed earlier: mailbox full", finished[0].key)), "{n}");
                let told: Vec<&&Action> = reports.iter().filter(|a| cluster_index(a) == i).collect();
                assert_eq!(told.len(), 1, "{n}: the failure is told once");
                assert!(matches!(told[0].kind, ActionKind::GithubIssue { .. }), "{n}: on the concern's issue");
            }
            _ => unreachable!(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// One concern, several signals in one batch
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn signals_of_one_batch_about_one_concern_share_the_earliest_sighting_whatever_their_order() {
    let store = TempLedger::new();
    let ledger: Arc<dyn Ledger> = Arc::new(Slow::new(store.open()));
    let (early, late) = (minutes_ago(30), minutes_ago(5));
    // Cluster i's concern is opened at the start and again at the end of the batch: the later
    // observation first for even i, the earlier first for odd i. A `Resolved` observed even
    // earlier never counts as a sighting.
    let n = 60;
    let mut signals: Vec<Signal> = (0..n).map(|i| opens(&name(i), if i % 2 == 0 { late } else { early })).collect();
    signals.extend((0..n).map(|i| resolves(&name(i), minutes_ago(90))));
    signals.extend((0..n).map(|i| opens(&name(i), if i % 2 == 0 { early } else { late })));
    let report = pipeline(&ledger, true).handle_signals(signals).await.unwrap();
    for i in 0..n {
        let mine: Vec<&Action> = report.planned.iter().filter(|a| cluster_index(a) == i).collect();
        let notices: Vec<&&Action> = mine.iter().filter(|a| a.stage == Stage::Notice).collect();
        assert_eq!(ledger.seen(&concern_key(&name(i))).await.unwrap(), Some(early), "{}", name(i));
        assert_eq!(notices.len(), 2, "{}: issue and mail, planned once: {mine:#?}", name(i));
        assert!(mine.iter().all(|a| a.first_seen == Some(early)), "{}: every action of the concern: {mine:#?}", name(i));
        let first = if i % 2 == 0 { late } else { early };
        assert!(notices.iter().all(|a| a.signal.observed_at == first), "{}: the first signal's notices", name(i));
        // The close came after the concern was opened in this batch, so it is planned.
        assert!(mine.iter().any(|a| a.stage == Stage::Resolve), "{}: {mine:#?}", name(i));
    }
}

#[tokio::test]
async fn the_plan_is_the_same_whether_the_ledger_is_read_one_call_at_a_time_or_many() {
    let mut runs: Vec<(usize, RunReport)> = Vec::new();
    for calls in [1, 3, 16, 64] {
        let store = TempLedger::new();
        let ledger: Arc<dyn Ledger> = Arc::new(Slow::new(prepared(&store).await));
        let report = pipeline(&ledger, true).with_ledger_concurrency(calls).handle_signals(batch()).await.unwrap();
        runs.push((calls, report));
    }
    let facts = |r: &RunReport| {
        let line = |a: &Action| (a.key.to_string(), a.first_seen, a.deadline, a.summary.clone(), a.note.clone());
        (r.planned.iter().map(line).collect::<Vec<_>>(), r.finished.iter().map(line).collect::<Vec<_>>(), r.log.clone())
    };
    let (_, one) = &runs[0];
    assert!(one.planned.len() > CASES * ROUNDS, "a plan worth comparing: {}", one.planned.len());
    for (calls, report) in &runs[1..] {
        assert!(facts(report) == facts(one), "{calls} calls at once plan otherwise than one at a time");
    }
}

// ---------------------------------------------------------------------------------------------
// Calls in flight
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn planning_overlaps_ledger_reads_up_to_the_bound_and_no_further() {
    for (calls, expect_overlap) in [(None, true), (Some(4), true), (Some(1), false)] {
        let store = TempLedger::new();
        let slow = Arc::new(Slow::new(prepared(&store).await).with_delay(Duration::from_millis(2)));
        let ledger: Arc<dyn Ledger> = Arc::clone(&slow) as Arc<dyn Ledger>;
        let p = pipeline(&ledger, true);
        let p = match calls {
            Some(n) => p.with_ledger_concurrency(n),
            None => p,
        };
        let bound = calls.unwrap_or(aks_cadence::pipeline::LEDGER_CONCURRENCY);
        p.handle_signals(batch()).await.unwrap();
        for method in ["first_seen", "seen", "action_state", ""] {
            let max = slow.max_in_flight(method);
            assert!(max <= bound, "{method:?}: {max} calls in flight, bound {bound}");
            if expect_overlap {
                assert!(max > 1, "{method:?}: reads overlap with bound {bound}");
            } else {
                assert_eq!(max, 1, "{method:?}: one at a time");
            }
        }
    }
}

fn sweep_of(i: usize) -> ClusterSnapshot {
    let at = now();
    ClusterSnapshot {
        cluster: cluster(&name(i)),
        facts: facts(),
        fqdn: None,
        run_id: "run".into(),
        swept_at: at,
        signals: vec![opens(&name(i), at)],
        maintenance_configurations: Vec::new(),
        maintenance_read: true,
        observed: Observed { kubernetes_version: Some("1.30.4".into()), ..Observed::default() },
        offered_in_region: None,
        busy: false,
        readiness: None,
        notes: vec![format!("note {i}")],
        baseline: None,
        defender_plan: None,
    }
}

#[tokio::test]
async fn a_sweep_reads_and_writes_cluster_memory_up_to_the_bound_at_once() {
    let store = TempLedger::new();
    let slow = Arc::new(Slow::new(store.open()).with_delay(Duration::from_millis(2)));
    let ledger: Arc<dyn Ledger> = Arc::clone(&slow) as Arc<dyn Ledger>;
    let adapter = everything();
    let snaps: Vec<ClusterSnapshot> = (0..60).map(sweep_of).collect();
    let report = pipeline_with(&ledger, &adapter, false).with_ledger_concurrency(8).handle_snapshots(&snaps).await.unwrap();

    for method in ["get_ref", "put_ref"] {
        let max = slow.max_in_flight(method);
        assert!(max > 1 && max <= 8, "{method}: {max} calls in flight, bound 8");
    }
    let notes: Vec<&String> = report.log.iter().filter(|l| l.contains(": note ")).collect();
    let expected: Vec<String> = (0..60).map(|i| format!("{}: note {i}", name(i))).collect();
    assert!(notes.iter().zip(&expected).all(|(a, b)| *a == b) && notes.len() == 60, "notes in cluster order: {notes:?}");
    for i in 0..60 {
        let stored = ledger.get_ref(&cluster(&name(i)).key(), "sweep").await.unwrap();
        assert!(stored.is_some_and(|m| m.contains("1.30.4")), "{}: memory written", name(i));
    }
    assert_eq!(adapter.total_performed(), 120, "issue and mail for every cluster");

    // The next sweep reads every memory back: nothing changed, so nothing is written.
    slow.reset();
    pipeline_with(&ledger, &adapter, false).handle_snapshots(&snaps).await.unwrap();
    assert!(slow.max_in_flight("get_ref") > 1);
    assert_eq!(slow.max_in_flight("put_ref"), 0, "memory unchanged, not written again");
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_ledger_error_on_one_concern_among_many_fails_the_plan_and_nothing_runs() {
    let store = TempLedger::new();
    let ledger: Arc<dyn Ledger> =
        Arc::new(Slow::new(store.open()).failing_on("first_seen", &concern_key(&name(37)), || LedgerError::Unavailable("HTTP 503 from storage".into())));
    let adapter = everything();
    let signals: Vec<Signal> = (0..80).map(|i| opens(&name(i), now())).collect();
    let err = pipeline_with(&ledger, &adapter, false).handle_signals(signals).await.unwrap_err();
    assert!(matches!(err, PipelineError::Retryable(ref m) if m.contains("HTTP 503")), "{err:?}");
    assert_eq!(adapter.total_performed(), 0);
    assert!(store.open().list_actions().await.unwrap().is_empty(), "nothing claimed");
}

#[tokio::test]
async fn a_corrupt_action_state_among_many_is_a_permanent_error() {
    let scratch = TempLedger::new();
    let signals: Vec<Signal> = (0..80).map(|i| opens(&name(i), now())).collect();
    let planned = pipeline(&scratch.open(), true).handle_signals(signals.clone()).await.unwrap().planned;
    let key = planned.iter().find(|a| cluster_index(a) == 51).unwrap().key.to_string();

    let store = TempLedger::new();
    let ledger: Arc<dyn Ledger> = Arc::new(Slow::new(store.open()).failing_on("action_state", &key, || LedgerError::Corrupt("unreadable record".into())));
    let adapter = everything();
    let err = pipeline_with(&ledger, &adapter, false).handle_signals(signals).await.unwrap_err();
    assert!(matches!(err, PipelineError::Permanent(ref m) if m.contains("unreadable record")), "{err:?}");
    assert_eq!(adapter.total_performed(), 0);
}

#[tokio::test]
async fn a_sweep_memory_that_cannot_be_read_fails_the_sweep_before_anything_runs() {
    let snaps: Vec<ClusterSnapshot> = (0..40).map(sweep_of).collect();
    let store = TempLedger::new();
    let ledger: Arc<dyn Ledger> =
        Arc::new(Slow::new(store.open()).failing_on("get_ref", &cluster(&name(23)).key(), || LedgerError::Unavailable("HTTP 500 from storage".into())));
    let adapter = everything();
    let err = pipeline_with(&ledger, &adapter, false).handle_snapshots(&snaps).await.unwrap_err();
    assert!(matches!(err, PipelineError::Retryable(ref m) if m.contains("HTTP 500")), "{err:?}");
    assert_eq!(adapter.total_performed(), 0, "nothing planned without every cluster's memory");
}

#[tokio::test]
async fn a_sweep_memory_that_cannot_be_written_makes_the_sweep_retryable_and_earlier_clusters_are_remembered() {
    let snaps: Vec<ClusterSnapshot> = (0..40).map(sweep_of).collect();
    let store = TempLedger::new();
    let ledger: Arc<dyn Ledger> =
        Arc::new(Slow::new(store.open()).failing_on("put_ref", &cluster(&name(31)).key(), || LedgerError::Unavailable("HTTP 500 from storage".into())));
    let adapter = everything();
    let err = pipeline_with(&ledger, &adapter, false).handle_snapshots(&snaps).await.unwrap_err();
    assert!(matches!(err, PipelineError::Retryable(ref m) if m.contains("HTTP 500")), "{err:?}");
    assert_eq!(adapter.total_performed(), 80, "the plan ran");
    let plain = store.open();
    for i in 0..31 {
        assert!(plain.get_ref(&cluster(&name(i)).key(), "sweep").await.unwrap().is_some(), "{}: remembered", name(i));
    }
    assert_eq!(plain.get_ref(&cluster(&name(31)).key(), "sweep").await.unwrap(), None);
}
