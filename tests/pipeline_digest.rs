//! Digests across invocations (issue 3: "notifications produced by one batch of work — a
//! sweep, or a burst of events — are grouped into one digest per recipient and channel").
//!
//! Under the Functions host every Event Grid event and every fanned-out cluster is its own
//! invocation. With a `DigestWindow` the executor queues email and chat actions in the ledger,
//! and `flush_digests` (the `digest` timer) sends the whole queue as one plan once it is quiet
//! — exactly once, through the same claim → act → complete. These tests run on a real SQLite
//! ledger with counting adapters and a clock the test moves.

mod pipeline_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use aks_cadence::action::{Action, ActionKey, ActionKind, ChatKind, Hold, Stage};
use aks_cadence::actions::Actuator;
use aks_cadence::error::ActionError;
use aks_cadence::execute::{DigestWindow, Executor, Outcome};
use aks_cadence::ingest::Ingested;
use aks_cadence::pipeline::{Clock, EventSink, Pipeline, PipelineError};
use aks_cadence::policy::Policy;
use aks_cadence::store::{ActionState, Claim, ClaimToken, Completion, Ledger, LedgerError, PendingNotification};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use pipeline_support::*;

fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}

const WINDOW: DigestWindow = DigestWindow { quiet: SignedDuration::from_secs(60), max_wait: SignedDuration::from_secs(900) };

fn is_email(k: &ActionKind) -> bool {
    matches!(k, ActionKind::Email { .. })
}
fn is_chat(k: &ActionKind) -> bool {
    matches!(k, ActionKind::Chat { .. })
}
fn is_issue(k: &ActionKind) -> bool {
    matches!(k, ActionKind::GithubIssue { .. })
}

fn teams_action(cluster_name: &str) -> Action {
    action(cluster_name, ActionKind::Chat { chat: ChatKind::Teams, url_setting: "TEAMS_URL".into() })
}

struct Adapters {
    log: Arc<FakeAdapter>,
    email: Arc<FakeAdapter>,
    chat: Arc<FakeAdapter>,
}

impl Adapters {
    fn new() -> Self {
        Self {
            log: Arc::new(FakeAdapter::logs()),
            email: Arc::new(FakeAdapter::handling("fake-email", is_email)),
            chat: Arc::new(FakeAdapter::handling("fake-chat", is_chat)),
        }
    }
    fn all(&self) -> Vec<Arc<dyn Actuator>> {
        vec![Arc::clone(&self.log) as Arc<dyn Actuator>, Arc::clone(&self.email) as _, Arc::clone(&self.chat) as _]
    }
    fn executor(&self, ledger: &Arc<dyn Ledger>, owner: &str) -> Executor {
        executor(ledger, self.all(), owner).with_digest(WINDOW)
    }
}

fn pending(at: &str, queued: i64, updated: i64) -> PendingNotification {
    let base: Timestamp = at.parse().unwrap();
    PendingNotification { key: ActionKey::from_raw(format!("k{queued}")), action: "{}".into(), queued_at: base + secs(queued), updated_at: base + secs(updated) }
}

#[test]
fn a_digest_is_due_a_quiet_period_after_the_latest_queueing_or_max_wait_after_the_oldest() {
    let at = "2026-03-01T10:00:00Z";
    let base: Timestamp = at.parse().unwrap();
    // (entries as (queued, updated) seconds after base, due seconds after base)
    let rows: &[(&[(i64, i64)], i64)] = &[
        (&[(0, 0)], 60),
        (&[(0, 0), (10, 10), (20, 20)], 80),
        // Re-queueing a key (a duplicate delivery) counts as activity.
        (&[(0, 45)], 105),
        // A queue that never goes quiet is sent once its oldest entry waited max_wait.
        (&[(0, 0), (850, 890)], 900),
        (&[(100, 100), (0, 880)], 900),
    ];
    for (entries, due) in rows {
        let list: Vec<PendingNotification> = entries.iter().map(|(q, u)| pending(at, *q, *u)).collect();
        assert_eq!(WINDOW.due_at(&list), Some(base + secs(*due)), "{entries:?}");
    }
    assert_eq!(WINDOW.due_at(&[]), None, "nothing queued, nothing due");
}

#[tokio::test]
async fn email_and_chat_are_queued_while_other_actions_run_at_once() {
    let store = TempLedger::new();
    let ledger = store.open();
    let a = Adapters::new();
    let ex = a.executor(&ledger, "w1");
    let mut held = email_action("held");
    held.hold = Some(Hold::Busy);
    let report = ex.execute(vec![log_action("prod"), email_action("prod"), teams_action("prod"), held.clone()], t0()).await;

    let outcome = |x: &Action| report.outcome(&x.key).cloned();
    assert!(matches!(outcome(&log_action("prod")), Some(Outcome::Done { .. })), "{report:?}");
    assert_eq!(outcome(&email_action("prod")), Some(Outcome::Queued));
    assert_eq!(outcome(&teams_action("prod")), Some(Outcome::Queued));
    assert!(matches!(outcome(&held), Some(Outcome::Deferred { .. })), "a held action is neither claimed nor queued");
    assert!(!report.needs_retry());
    assert_eq!((a.email.total_performed(), a.chat.total_performed()), (0, 0), "nothing was sent by the invocation");
    let queued: Vec<ActionKey> = ledger.pending_notifications().await.unwrap().into_iter().map(|p| p.key).collect();
    assert_eq!(queued.len(), 2);
    assert!(queued.contains(&email_action("prod").key) && queued.contains(&teams_action("prod").key));
    assert_eq!(ledger.action_state(&email_action("prod").key).await.unwrap(), None, "queueing claims nothing");
}

#[tokio::test]
async fn notifications_of_separate_invocations_go_out_as_one_batch_once_the_queue_is_quiet() {
    let store = TempLedger::new();
    let ledger = store.open();
    let a = Adapters::new();
    let ex = a.executor(&ledger, "w1");
    // Three invocations (three events), ten seconds apart.
    for (i, name) in ["aks-a", "aks-b", "aks-c"].iter().enumerate() {
        let report = ex.execute(vec![email_action(name), teams_action(name)], t0() + secs(10 * i as i64)).await;
        assert_eq!(report.count(|o| *o == Outcome::Queued), 2);
    }

    let early = ex.flush_digests(t0() + secs(30), false).await.unwrap();
    assert!(early.actions.is_empty() && early.report.executed.is_empty(), "not due while the burst may go on");
    assert_eq!((early.waiting, early.due_at), (6, Some(t0() + secs(80))));
    assert_eq!(a.email.total_performed(), 0);

    let sent = ex.flush_digests(t0() + secs(80), false).await.unwrap();
    assert_eq!(sent.actions.len(), 6);
    assert_eq!(a.email.batches(), vec![3], "one batch of three emails (one digest per recipient list)");
    assert_eq!(a.chat.batches(), vec![3], "one batch of three Teams entries");
    assert_eq!(sent.waiting, 0);
    assert!(ledger.pending_notifications().await.unwrap().is_empty(), "sent entries leave the queue");
    for name in ["aks-a", "aks-b", "aks-c"] {
        assert!(matches!(ledger.action_state(&email_action(name).key).await.unwrap(), Some(ActionState::Done { .. })));
    }

    // The next tick finds nothing; a redelivery of an event already sent queues nothing new
    // once the plan sees the key done (the executor only finds it finished).
    let next = ex.flush_digests(t0() + secs(140), true).await.unwrap();
    assert!(next.actions.is_empty());
    assert_eq!(a.email.total_performed(), 3);
}

#[tokio::test]
async fn the_same_notification_queued_by_concurrent_deliveries_and_flushed_by_two_instances_is_sent_once() {
    let store = TempLedger::new();
    let a = Adapters::new();
    let (l1, l2) = (store.open(), store.open());
    let (e1, e2) = (Arc::new(a.executor(&l1, "instance-1")), Arc::new(a.executor(&l2, "instance-2")));
    let deliveries: Vec<_> = (0..6)
        .map(|i| {
            let ex = if i % 2 == 0 { Arc::clone(&e1) } else { Arc::clone(&e2) };
            tokio::spawn(async move { ex.execute(vec![email_action("prod"), log_action("prod")], t0()).await })
        })
        .collect();
    for d in deliveries {
        assert!(!d.await.unwrap().needs_retry());
    }
    assert_eq!(l1.pending_notifications().await.unwrap().len(), 1, "one queued entry for six deliveries");

    let later = t0() + secs(61);
    let (f1, f2) = tokio::join!(e1.flush_digests(later, false), e2.flush_digests(later, false));
    let (f1, f2) = (f1.unwrap(), f2.unwrap());
    assert_eq!(a.email.performed(&email_action("prod")), 1, "two overlapping timer ticks send it once");
    assert_eq!(a.log.performed(&log_action("prod")), 1);
    let sent = f1.report.count(|o| matches!(o, Outcome::Done { .. })) + f2.report.count(|o| matches!(o, Outcome::Done { .. }));
    assert_eq!(sent, 1);
    // The tick that lost the claim race either found the key finished or left it for the next
    // tick; the next tick clears the queue either way, sending nothing.
    e1.flush_digests(later + secs(60), true).await.unwrap();
    assert!(l1.pending_notifications().await.unwrap().is_empty());
    assert_eq!(a.email.total_performed(), 1);
}

#[tokio::test]
async fn overlapping_flushes_never_split_one_digest_in_two() {
    let store = TempLedger::new();
    let a = Adapters::new();
    let (l1, l2) = (store.open(), store.open());
    let (e1, e2) = (a.executor(&l1, "instance-1"), a.executor(&l2, "instance-2"));
    let plan: Vec<Action> = (0..40).map(|i| email_action(&format!("aks-{i:02}"))).collect();
    e1.execute(plan, t0()).await;

    let later = t0() + secs(61);
    let (f1, f2) = tokio::join!(e1.flush_digests(later, false), e2.flush_digests(later, true));
    let (f1, f2) = (f1.unwrap(), f2.unwrap());
    assert_eq!(a.email.batches(), vec![40], "one sender, one batch: {:?} / {:?}", f1.log, f2.log);
    // The other flush either ran while the sender held the lock (and says who sends) or after it
    // (and found the queue empty); which one depends on scheduling.
    let other = if f1.actions.is_empty() { &f1 } else { &f2 };
    assert!(
        other.log.iter().any(|l| l.contains("is sending the digest")) || (other.log.is_empty() && other.waiting == 0),
        "the other flush says who sends or found nothing left: {:?}",
        other.log
    );
    assert!(l1.pending_notifications().await.unwrap().is_empty());
    assert!(l1.list_actions().await.unwrap().iter().all(|(k, _)| k.as_str() != "aks-cadence#digest#sender"), "the sender's lock is released");
}

#[tokio::test]
async fn a_flush_while_another_instance_sends_says_who_sends_and_leaves_the_queue() {
    let store = TempLedger::new();
    let a = Adapters::new();
    let (l1, l2) = (store.open(), store.open());
    let (e1, e2) = (a.executor(&l1, "instance-1"), a.executor(&l2, "instance-2"));
    e1.execute(vec![email_action("prod")], t0()).await;
    let later = t0() + secs(61);
    let lock = ActionKey::from_raw("aks-cadence#digest#sender");
    let Claim::Acquired(token) = l1.claim(&lock, "instance-1", later, secs(300)).await.unwrap() else {
        panic!("the lock is free")
    };

    let f2 = e2.flush_digests(later, true).await.unwrap();
    assert!(f2.actions.is_empty());
    assert_eq!(f2.waiting, 1);
    assert!(f2.log.iter().any(|l| l.contains("instance-1 is sending the digest")), "{:?}", f2.log);
    assert_eq!(a.email.total_performed(), 0);
    assert_eq!(l1.pending_notifications().await.unwrap().len(), 1, "the queue is left to the sender");

    l1.release(&lock, &token).await.unwrap();
    e2.flush_digests(later, true).await.unwrap();
    assert_eq!(a.email.total_performed(), 1, "once released, the next tick sends");
}

/// A SQLite ledger whose `remove_notification` fails: the process "crashes" after sending and
/// recording, before the queue entry is gone.
struct RemoveFails(Arc<dyn Ledger>);

#[async_trait]
impl Ledger for RemoveFails {
    async fn mark_event_processed(&self, id: &str, at: Timestamp) -> Result<bool, LedgerError> {
        self.0.mark_event_processed(id, at).await
    }
    async fn event_processed(&self, id: &str) -> Result<bool, LedgerError> {
        self.0.event_processed(id).await
    }
    async fn first_seen(&self, k: &str, at: Timestamp) -> Result<Timestamp, LedgerError> {
        self.0.first_seen(k, at).await
    }
    async fn seen(&self, k: &str) -> Result<Option<Timestamp>, LedgerError> {
        self.0.seen(k).await
    }
    async fn action_state(&self, k: &ActionKey) -> Result<Option<ActionState>, LedgerError> {
        self.0.action_state(k).await
    }
    async fn claim(&self, k: &ActionKey, owner: &str, now: Timestamp, lease: SignedDuration) -> Result<Claim, LedgerError> {
        self.0.claim(k, owner, now, lease).await
    }
    async fn complete(&self, k: &ActionKey, t: &ClaimToken, c: Completion, now: Timestamp) -> Result<(), LedgerError> {
        self.0.complete(k, t, c, now).await
    }
    async fn release(&self, k: &ActionKey, t: &ClaimToken) -> Result<(), LedgerError> {
        self.0.release(k, t).await
    }
    async fn get_ref(&self, c: &str, ch: &str) -> Result<Option<String>, LedgerError> {
        self.0.get_ref(c, ch).await
    }
    async fn put_ref(&self, c: &str, ch: &str, v: &str) -> Result<(), LedgerError> {
        self.0.put_ref(c, ch, v).await
    }
    async fn list_actions(&self) -> Result<Vec<(ActionKey, ActionState)>, LedgerError> {
        self.0.list_actions().await
    }
    async fn queue_notification(&self, k: &ActionKey, a: &str, at: Timestamp) -> Result<(), LedgerError> {
        self.0.queue_notification(k, a, at).await
    }
    async fn pending_notifications(&self) -> Result<Vec<PendingNotification>, LedgerError> {
        self.0.pending_notifications().await
    }
    async fn remove_notification(&self, _: &ActionKey) -> Result<(), LedgerError> {
        Err(LedgerError::Unavailable("killed before the queue entry was removed".into()))
    }
}

#[tokio::test]
async fn a_crash_after_sending_but_before_the_entry_is_removed_sends_nothing_twice() {
    let store = TempLedger::new();
    let a = Adapters::new();
    let crashing: Arc<dyn Ledger> = Arc::new(RemoveFails(store.open()));
    let ex = a.executor(&crashing, "w1");
    ex.execute(vec![email_action("prod")], t0()).await;
    let first = ex.flush_digests(t0() + secs(60), false).await.unwrap();
    assert!(matches!(first.report.outcome(&email_action("prod").key), Some(Outcome::Done { .. })), "{first:?}");
    assert_eq!(store.open().pending_notifications().await.unwrap().len(), 1, "the entry survived the crash");

    // After the restart, the next tick finds the key finished: nothing is sent, the entry goes.
    let restarted = store.open();
    let ex = a.executor(&restarted, "w2");
    let second = ex.flush_digests(t0() + secs(120), false).await.unwrap();
    assert!(matches!(second.report.outcome(&email_action("prod").key), Some(Outcome::AlreadyFinished(_))), "{second:?}");
    assert_eq!(a.email.total_performed(), 1, "sent once");
    assert!(restarted.pending_notifications().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_notification_that_fails_for_now_stays_queued_for_the_next_tick() {
    let store = TempLedger::new();
    let ledger = store.open();
    let a = Adapters::new();
    let mail = email_action("prod");
    a.email.script(&mail, vec![Err(ActionError::Transient("421 try later".into())); 3]);
    let ex = a.executor(&ledger, "w1");
    ex.execute(vec![mail.clone(), teams_action("prod")], t0()).await;

    let first = ex.flush_digests(t0() + secs(60), false).await.unwrap();
    assert!(first.report.needs_retry(), "{first:?}");
    assert_eq!(first.waiting, 1, "the email waits; the card went out");
    let left: Vec<ActionKey> = ledger.pending_notifications().await.unwrap().into_iter().map(|p| p.key).collect();
    assert_eq!(left, vec![mail.key.clone()]);
    assert_eq!(ledger.action_state(&mail.key).await.unwrap(), None, "its claim was released");

    let second = ex.flush_digests(t0() + secs(120), false).await.unwrap();
    assert!(matches!(second.report.outcome(&mail.key), Some(Outcome::Done { .. })));
    assert_eq!((a.email.performed(&mail), a.chat.performed(&teams_action("prod"))), (4, 1), "three failed attempts, one success; the card once");
    assert!(ledger.pending_notifications().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreadable_queue_entry_stays_for_a_person_and_does_not_hold_up_the_others() {
    let store = TempLedger::new();
    let ledger = store.open();
    let a = Adapters::new();
    let ex = a.executor(&ledger, "w1");
    let junk = ActionKey::from_raw("written-by-something-else");
    ledger.queue_notification(&junk, "{not json", t0()).await.unwrap();
    ex.execute(vec![email_action("prod")], t0()).await;

    let flushed = ex.flush_digests(t0() + secs(60), false).await.unwrap();
    assert_eq!(a.email.total_performed(), 1, "the readable notification went out");
    assert_eq!(flushed.waiting, 1);
    assert!(flushed.log.iter().any(|l| l.contains("written-by-something-else") && l.contains("cannot be read")), "{:?}", flushed.log);
    let left: Vec<ActionKey> = ledger.pending_notifications().await.unwrap().into_iter().map(|p| p.key).collect();
    assert_eq!(left, vec![junk]);
}

// ------------------------------------------------------------------ through the pipeline

/// A clock the test moves.
fn movable_clock() -> (Clock, Arc<AtomicI64>) {
    let offset = Arc::new(AtomicI64::new(0));
    let o = Arc::clone(&offset);
    (Arc::new(move || t0() + secs(o.load(Ordering::SeqCst))), offset)
}

const POLICY: &str = "[[rule]]\nname = \"platform\"\n[rule.github_issue]\nrepo = \"o/r\"\n[rule.email]\nto = [\"ops@example.com\"]\n";

fn event(id: &str, cluster_name: &str) -> Vec<Ingested> {
    vec![Ingested::Signals {
        event_id: id.into(),
        event_type: "Microsoft.ContainerService.NewKubernetesVersionAvailable".into(),
        signals: vec![new_version_signal(cluster_name)],
    }]
}

/// A live pipeline under `POLICY` (an issue and an email per concern) with the digest queue
/// on a SQLite ledger, counting GitHub and email adapters, and a clock the test moves.
struct Platform {
    _store: TempLedger,
    ledger: Arc<dyn Ledger>,
    github: Arc<FakeAdapter>,
    email: Arc<FakeAdapter>,
    offset: Arc<AtomicI64>,
    p: Pipeline,
}

impl Platform {
    fn new() -> Self {
        let store = TempLedger::new();
        let ledger = store.open();
        let github = Arc::new(FakeAdapter::handling("fake-github", is_issue));
        let email = Arc::new(FakeAdapter::handling("fake-email", is_email));
        let adapters: Vec<Arc<dyn Actuator>> = vec![Arc::clone(&github) as Arc<dyn Actuator>, Arc::clone(&email) as _];
        let (clock, offset) = movable_clock();
        let policy = Arc::new(Policy::parse(POLICY, "cadence.toml").unwrap());
        let p = Parts { digest: Some(WINDOW), ..parts(policy, &ledger, adapters, false, clock) }.pipeline();
        Self { _store: store, ledger, github, email, offset, p }
    }
}

#[tokio::test]
async fn a_burst_of_events_opens_each_issue_at_once_and_mails_one_digest_listing_every_cluster() {
    let Platform { _store, ledger, github, email, offset, p } = Platform::new();

    let clusters: Vec<String> = (0..25).map(|i| format!("aks-{i:02}")).collect();
    for (i, c) in clusters.iter().enumerate() {
        offset.store(i as i64, Ordering::SeqCst);
        let report = p.handle(event(&format!("e-{i}"), c)).await.expect("each invocation succeeds");
        assert!(report.log.iter().any(|l| l.starts_with("email ") && l.contains("queued for the digest")), "{:?}", report.log);
        // A duplicate delivery of the same event is recognised and queues nothing new.
        p.handle(event(&format!("e-{i}"), c)).await.unwrap();
    }
    assert_eq!(github.total_performed(), 25, "issues are opened by the invocations themselves");
    assert_eq!(email.total_performed(), 0);
    assert_eq!(ledger.pending_notifications().await.unwrap().len(), 25);

    // The timer ticks during the burst and once it is quiet.
    offset.store(30, Ordering::SeqCst);
    let waiting = EventSink::flush_digests(&p).await.unwrap();
    assert!(waiting.planned.is_empty() && waiting.log.iter().any(|l| l.contains("goes out at")), "{:?}", waiting.log);
    offset.store(24 + 60, Ordering::SeqCst);
    let sent = EventSink::flush_digests(&p).await.unwrap();
    assert_eq!(sent.planned.len(), 25);
    assert_eq!(email.batches(), vec![25], "one email for the whole burst");
    let mut named: Vec<String> = sent.planned.iter().map(|a| a.concern.cluster.name().to_string()).collect();
    named.sort();
    assert_eq!(named, clusters);
    assert!(EventSink::flush_digests(&p).await.unwrap().planned.is_empty(), "the next tick has nothing to send");
}

#[tokio::test]
async fn an_email_that_bounces_in_the_digest_is_reported_on_the_concerns_issue() {
    let Platform { _store, ledger, github: _, email, offset, p } = Platform::new();

    p.handle(event("e-1", "prod-weu")).await.unwrap();
    let queued = ledger.pending_notifications().await.unwrap();
    let mail: Action = serde_json::from_str(&queued[0].action).unwrap();
    email.script(&mail, vec![Err(ActionError::Permanent("550 5.1.1 mailbox unknown".into()))]);

    offset.store(60, Ordering::SeqCst);
    let report = p.flush_digests(false).await.expect("a permanent failure does not fail the tick");
    assert!(matches!(ledger.action_state(&mail.key).await.unwrap(), Some(ActionState::Failed { .. })));
    let issue_key = ledger
        .list_actions()
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .find(|k| k.as_str().contains("~failure-"))
        .expect("a failure report was carried out");
    assert!(issue_key.as_str().contains("github-issue:o/r"), "reported on the concern's issue: {issue_key}");
    let report_action = report.planned.iter().find(|a| a.key == issue_key).expect("the report is in the run");
    assert_eq!(report_action.stage, Stage::Update);
    let note = report_action.note.as_deref().unwrap();
    assert!(note.contains("Email to ops@example.com") && note.contains("550 5.1.1"), "{note}");
    assert!(ledger.pending_notifications().await.unwrap().is_empty(), "a failed notification leaves the queue");
}

#[tokio::test]
async fn a_digest_that_needs_a_retry_fails_the_tick_and_a_dry_run_sends_nothing() {
    let store = TempLedger::new();
    let ledger = store.open();
    let email = Arc::new(FakeAdapter::handling("fake-email", is_email));
    let adapters = || vec![Arc::clone(&email) as Arc<dyn Actuator>];
    let (clock, offset) = movable_clock();
    let policy = Arc::new(Policy::parse("[[rule]]\nname = \"p\"\n[rule.email]\nto = [\"ops@example.com\"]\n", "cadence.toml").unwrap());
    let live = Parts { digest: Some(WINDOW), ..parts(Arc::clone(&policy), &ledger, adapters(), false, Arc::clone(&clock)) }.pipeline();
    live.handle(event("e-1", "prod")).await.unwrap();
    let mail: Action = serde_json::from_str(&ledger.pending_notifications().await.unwrap()[0].action).unwrap();
    email.script(&mail, vec![Err(ActionError::Transient("connection reset".into())); 3]);
    offset.store(60, Ordering::SeqCst);

    let dry = Parts { digest: Some(WINDOW), owner: "w2".into(), ..parts(Arc::clone(&policy), &ledger, adapters(), true, Arc::clone(&clock)) }.pipeline();
    let nothing = dry.flush_digests(true).await.unwrap();
    assert!(nothing.planned.is_empty() && email.total_performed() == 0, "dry-run never sends what a live run queued");
    assert_eq!(nothing.log, vec!["dry-run: 1 notification(s) queued by a live run are not sent".to_string()]);

    let failed = live.flush_digests(false).await;
    assert!(matches!(failed, Err(PipelineError::Retryable(ref m)) if m.contains("connection reset")), "{failed:?}");
    assert_eq!(ledger.pending_notifications().await.unwrap().len(), 1, "still queued");
    offset.store(120, Ordering::SeqCst);
    live.flush_digests(false).await.expect("the next tick sends it");
    assert_eq!(email.performed(&mail), 4);
    assert!(ledger.pending_notifications().await.unwrap().is_empty());
}
