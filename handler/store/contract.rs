//! The ledger contract as a test suite every [`Ledger`] implementation runs.
//!
//! An implementation provides an [`OpenLedger`] function: given a store *name*, it opens the
//! store with that name, creating it empty the first time. Opening the same name again must
//! reach the same data (that is how the suite checks "survives a restart" and "two processes
//! share one store"); different names must not share data. For SQLite a name is a file in a
//! temporary directory; for a blob ledger it can be a container or a prefix.
//!
//! ```no_run
//! # async fn demo() {
//! use std::sync::Arc;
//! use aks_cadence::store::{contract, sqlite::SqliteLedger, Ledger};
//! let dir = tempfile::tempdir().unwrap();
//! let root = dir.path().to_path_buf();
//! contract::run_contract_suite(Arc::new(move |name: String| {
//!     let path = root.join(format!("{name}.db"));
//!     Box::pin(async move { Arc::new(SqliteLedger::open(path).unwrap()) as Arc<dyn Ledger> })
//! }))
//! .await;
//! # }
//! ```
//!
//! Each case is also public, so a test file can give every case its own test (and name).

use std::sync::Arc;

use futures::future::BoxFuture;
use jiff::{SignedDuration, Timestamp};

use super::{ActionState, Claim, ClaimToken, Completion, Ledger, LedgerError, PendingNotification};
use crate::action::ActionKey;

/// Opens (or reopens) the store with the given name.
pub type OpenLedger = Arc<dyn Fn(String) -> BoxFuture<'static, Arc<dyn Ledger>> + Send + Sync>;

type Case = fn(OpenLedger) -> BoxFuture<'static, ()>;

/// Calls `$callback!(case, case, …)` with the name of every case: the one list of the cases.
/// A backend's test file defines a macro making one test per case and passes it here, so a
/// new case reaches every backend without editing their files.
#[macro_export]
macro_rules! ledger_contract_cases {
    ($callback:ident) => {
        $callback!(
            events_are_marked_processed_once,
            concurrent_event_marks_succeed_once,
            a_mark_made_soon_is_seen_at_once_and_written_by_a_clean_stop,
            first_seen_keeps_the_first_time,
            seen_reads_first_seen_without_recording,
            a_new_key_is_acquired_and_shows_as_claimed,
            a_live_claim_is_held_elsewhere,
            an_expired_claim_is_taken_over_and_the_stale_token_loses,
            done_is_finished_for_every_later_claim,
            failed_is_finished_and_keeps_the_reason,
            release_frees_the_key_for_a_retry,
            wrong_or_spent_tokens_are_lost_claims,
            concurrent_claims_acquire_exactly_once,
            two_instances_on_one_store_acquire_exactly_once,
            refs_are_stored_and_replaced,
            fleet_records_are_stored_replaced_and_shared,
            list_actions_is_sorted_by_key,
            everything_survives_a_restart,
            queued_notifications_keep_the_first_time_and_the_latest_action,
            concurrent_queueings_of_one_key_make_one_entry,
            removing_a_queued_notification_is_idempotent,
            queued_notifications_are_shared_and_survive_a_restart,
            eol_notices_are_remembered_per_minor_and_a_newer_one_wins
        );
    };
}

macro_rules! cases_table {
    ($($name:ident),* $(,)?) => {
        /// Every case, by name.
        pub const CASES: &[(&str, Case)] = &[$((stringify!($name), |o| Box::pin($name(o)))),*];
    };
}
crate::ledger_contract_cases!(cases_table);

/// Runs every case, each on its own store name.
pub async fn run_contract_suite(open: OpenLedger) {
    for (name, case) in CASES {
        tracing::info!(case = name, "ledger contract");
        case(Arc::clone(&open)).await;
    }
}

fn t0() -> Timestamp {
    // Sub-second digits on purpose: stored times must round-trip exactly.
    "2026-03-01T10:00:00.123456789Z".parse().expect("valid timestamp")
}
fn secs(n: i64) -> SignedDuration {
    SignedDuration::from_secs(n)
}
fn key(name: &str) -> ActionKey {
    ActionKey::from_raw(format!("/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/c#kubernetes-upgrade#1.31/{name}/notice"))
}
async fn acquire(l: &dyn Ledger, k: &ActionKey, owner: &str, now: Timestamp, lease: SignedDuration) -> ClaimToken {
    match l.claim(k, owner, now, lease).await.expect("claim") {
        Claim::Acquired(t) => t,
        other => panic!("expected to acquire {k}, got {other:?}"),
    }
}

pub async fn events_are_marked_processed_once(open: OpenLedger) {
    let l = open("events".into()).await;
    assert!(!l.event_processed("e-1").await.unwrap(), "unknown event is not processed");
    assert!(l.mark_event_processed("e-1", t0()).await.unwrap(), "first mark returns true");
    assert!(!l.mark_event_processed("e-1", t0() + secs(5)).await.unwrap(), "second mark returns false");
    assert!(l.event_processed("e-1").await.unwrap());
    assert!(!l.event_processed("e-2").await.unwrap(), "other ids are untouched");
}

pub async fn concurrent_event_marks_succeed_once(open: OpenLedger) {
    let l = open("events-concurrent".into()).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let l = Arc::clone(&l);
            tokio::spawn(async move { l.mark_event_processed("dup", t0()).await.unwrap() })
        })
        .collect();
    let mut firsts = 0;
    for t in tasks {
        firsts += usize::from(t.await.unwrap());
    }
    assert_eq!(firsts, 1, "exactly one concurrent mark is the first");
}

/// The event path's mark ([`Ledger::mark_event_processed_soon`]): this process sees it at
/// once; a clean stop (the ledger dropped) leaves it written.
pub async fn a_mark_made_soon_is_seen_at_once_and_written_by_a_clean_stop(open: OpenLedger) {
    {
        let l = open("events-soon".into()).await;
        assert!(!l.event_processed("e-soon").await.unwrap(), "unknown event is not processed");
        l.mark_event_processed_soon("e-soon", t0()).await.unwrap();
        assert!(l.event_processed("e-soon").await.unwrap(), "this process sees its mark at once");
        l.mark_event_processed_soon("e-soon", t0() + secs(5)).await.unwrap();
        assert!(!l.event_processed("e-other").await.unwrap(), "other ids are untouched");
        // `l` is dropped here: the process stops cleanly.
    }
    let l = open("events-soon".into()).await;
    assert!(l.event_processed("e-soon").await.unwrap(), "the mark was written by the stop");
    assert!(!l.mark_event_processed("e-soon", t0()).await.unwrap(), "and is one row: a durable mark finds it");
}

pub async fn seen_reads_first_seen_without_recording(open: OpenLedger) {
    let l = open("seen".into()).await;
    assert_eq!(l.seen("c#kubernetes-upgrade#patch:1.30.4").await.unwrap(), None, "never seen");
    assert_eq!(l.seen("c#kubernetes-upgrade#patch:1.30.4").await.unwrap(), None, "asking records nothing");
    assert_eq!(l.first_seen("c#kubernetes-upgrade#patch:1.30.4", t0()).await.unwrap(), t0(), "so the first sighting is still the first");
    assert_eq!(l.seen("c#kubernetes-upgrade#patch:1.30.4").await.unwrap(), Some(t0()));
    assert_eq!(l.seen("c#kubernetes-upgrade#patch:1.30.7").await.unwrap(), None, "keys are independent");
}

pub async fn first_seen_keeps_the_first_time(open: OpenLedger) {
    let l = open("first-seen".into()).await;
    assert_eq!(l.first_seen("c#support#1.30", t0()).await.unwrap(), t0());
    assert_eq!(l.first_seen("c#support#1.30", t0() + secs(3600)).await.unwrap(), t0(), "a later sighting keeps the first time");
    assert_eq!(l.first_seen("c#support#1.30", t0() - secs(3600)).await.unwrap(), t0(), "the first recorded time never moves");
    assert_eq!(l.first_seen("c#support#1.31", t0() + secs(7)).await.unwrap(), t0() + secs(7), "keys are independent");
}

pub async fn a_new_key_is_acquired_and_shows_as_claimed(open: OpenLedger) {
    let l = open("claim-new".into()).await;
    let k = key("a");
    assert_eq!(l.action_state(&k).await.unwrap(), None);
    acquire(&*l, &k, "worker-a", t0(), secs(60)).await;
    assert_eq!(l.action_state(&k).await.unwrap(), Some(ActionState::Claimed { owner: "worker-a".into(), until: t0() + secs(60) }));
}

pub async fn a_live_claim_is_held_elsewhere(open: OpenLedger) {
    let l = open("claim-live".into()).await;
    let k = key("a");
    acquire(&*l, &k, "worker-a", t0(), secs(60)).await;
    let again = l.claim(&k, "worker-b", t0() + secs(59), secs(60)).await.unwrap();
    assert_eq!(again, Claim::HeldElsewhere { owner: "worker-a".into(), until: t0() + secs(60) });
    // The same owner asking again is not special: a claim is held by its token, not its name.
    let same = l.claim(&k, "worker-a", t0() + secs(1), secs(60)).await.unwrap();
    assert!(matches!(same, Claim::HeldElsewhere { .. }), "{same:?}");
}

pub async fn an_expired_claim_is_taken_over_and_the_stale_token_loses(open: OpenLedger) {
    let l = open("claim-expired".into()).await;
    let k = key("a");
    let stale = acquire(&*l, &k, "worker-a", t0(), secs(10)).await;
    // The lease ends at t0+10s: from then on the key may be taken over.
    let fresh = acquire(&*l, &k, "worker-b", t0() + secs(10), secs(10)).await;
    assert_ne!(stale, fresh, "tokens are unique per claim");
    let lost = l.complete(&k, &stale, Completion::Done { detail: "late".into() }, t0() + secs(11)).await;
    assert!(matches!(lost, Err(LedgerError::LostClaim { .. })), "{lost:?}");
    let lost = l.release(&k, &stale).await;
    assert!(matches!(lost, Err(LedgerError::LostClaim { .. })), "{lost:?}");
    assert_eq!(l.action_state(&k).await.unwrap(), Some(ActionState::Claimed { owner: "worker-b".into(), until: t0() + secs(20) }));
    l.complete(&k, &fresh, Completion::Done { detail: "issue #7".into() }, t0() + secs(12)).await.unwrap();
    assert_eq!(l.action_state(&k).await.unwrap(), Some(ActionState::Done { detail: "issue #7".into(), at: t0() + secs(12) }));
}

pub async fn done_is_finished_for_every_later_claim(open: OpenLedger) {
    let l = open("done".into()).await;
    let k = key("a");
    let t = acquire(&*l, &k, "worker-a", t0(), secs(60)).await;
    l.complete(&k, &t, Completion::Done { detail: "https://github.example/o/r/issues/1".into() }, t0() + secs(1)).await.unwrap();
    let done = ActionState::Done { detail: "https://github.example/o/r/issues/1".into(), at: t0() + secs(1) };
    assert_eq!(l.claim(&k, "worker-b", t0() + secs(2), secs(60)).await.unwrap(), Claim::Finished(done.clone()));
    // Long after any lease: still finished.
    assert_eq!(l.claim(&k, "worker-b", t0() + secs(86_400 * 365), secs(60)).await.unwrap(), Claim::Finished(done));
}

pub async fn failed_is_finished_and_keeps_the_reason(open: OpenLedger) {
    let l = open("failed".into()).await;
    let k = key("a");
    let t = acquire(&*l, &k, "worker-a", t0(), secs(60)).await;
    l.complete(&k, &t, Completion::Failed { reason: "HTTP 404: repo not found".into() }, t0() + secs(1)).await.unwrap();
    let failed = ActionState::Failed { reason: "HTTP 404: repo not found".into(), at: t0() + secs(1) };
    assert_eq!(l.action_state(&k).await.unwrap(), Some(failed.clone()));
    assert_eq!(l.claim(&k, "worker-b", t0() + secs(3600), secs(60)).await.unwrap(), Claim::Finished(failed));
}

pub async fn release_frees_the_key_for_a_retry(open: OpenLedger) {
    let l = open("release".into()).await;
    let k = key("a");
    let first = acquire(&*l, &k, "worker-a", t0(), secs(60)).await;
    l.release(&k, &first).await.unwrap();
    assert_eq!(l.action_state(&k).await.unwrap(), None, "a released key looks never tried");
    let second = acquire(&*l, &k, "worker-b", t0() + secs(1), secs(60)).await;
    assert_ne!(first, second);
    let spent = l.complete(&k, &first, Completion::Done { detail: "x".into() }, t0() + secs(2)).await;
    assert!(matches!(spent, Err(LedgerError::LostClaim { .. })), "a released token is spent: {spent:?}");
}

pub async fn wrong_or_spent_tokens_are_lost_claims(open: OpenLedger) {
    let l = open("tokens".into()).await;
    let k = key("a");
    let forged = ClaimToken("not-a-real-token".into());
    assert!(matches!(l.complete(&k, &forged, Completion::Done { detail: "x".into() }, t0()).await, Err(LedgerError::LostClaim { .. })), "completing an unclaimed key");
    assert!(matches!(l.release(&k, &forged).await, Err(LedgerError::LostClaim { .. })), "releasing an unclaimed key");
    let t = acquire(&*l, &k, "worker-a", t0(), secs(60)).await;
    assert!(matches!(l.complete(&k, &forged, Completion::Done { detail: "x".into() }, t0()).await, Err(LedgerError::LostClaim { .. })));
    l.complete(&k, &t, Completion::Done { detail: "first".into() }, t0() + secs(1)).await.unwrap();
    let twice = l.complete(&k, &t, Completion::Failed { reason: "second".into() }, t0() + secs(2)).await;
    assert!(matches!(twice, Err(LedgerError::LostClaim { .. })), "a token completes once: {twice:?}");
    assert!(matches!(l.release(&k, &t).await, Err(LedgerError::LostClaim { .. })), "a done key cannot be released");
    assert_eq!(l.action_state(&k).await.unwrap(), Some(ActionState::Done { detail: "first".into(), at: t0() + secs(1) }));
}

async fn race(ledgers: Vec<Arc<dyn Ledger>>, k: ActionKey, tasks: usize, now: Timestamp) -> (usize, usize) {
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let l = Arc::clone(&ledgers[i % ledgers.len()]);
            let k = k.clone();
            tokio::spawn(async move { l.claim(&k, &format!("worker-{i}"), now, secs(60)).await.expect("claim") })
        })
        .collect();
    let (mut acquired, mut held) = (0, 0);
    for h in handles {
        match h.await.unwrap() {
            Claim::Acquired(_) => acquired += 1,
            Claim::HeldElsewhere { .. } => held += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    (acquired, held)
}

pub async fn concurrent_claims_acquire_exactly_once(open: OpenLedger) {
    let l = open("race".into()).await;
    assert_eq!(race(vec![Arc::clone(&l)], key("a"), 24, t0()).await, (1, 23));
    // Racing for an expired claim: again exactly one wins.
    assert_eq!(race(vec![l], key("a"), 24, t0() + secs(61)).await, (1, 23));
}

pub async fn two_instances_on_one_store_acquire_exactly_once(open: OpenLedger) {
    let a = open("shared".into()).await;
    let b = open("shared".into()).await;
    assert_eq!(race(vec![Arc::clone(&a), Arc::clone(&b)], key("a"), 24, t0()).await, (1, 23));
    // What one instance writes, the other reads.
    assert!(a.mark_event_processed("from-a", t0()).await.unwrap());
    assert!(b.event_processed("from-a").await.unwrap());
    assert!(!b.mark_event_processed("from-a", t0()).await.unwrap());
}

pub async fn refs_are_stored_and_replaced(open: OpenLedger) {
    let l = open("refs".into()).await;
    assert_eq!(l.get_ref("c#support#1.30", "github-issue:o/r").await.unwrap(), None);
    l.put_ref("c#support#1.30", "github-issue:o/r", "17").await.unwrap();
    l.put_ref("c#support#1.30", "github-pr:o/r:main.bicep", "cadence/c-1.31").await.unwrap();
    assert_eq!(l.get_ref("c#support#1.30", "github-issue:o/r").await.unwrap().as_deref(), Some("17"));
    l.put_ref("c#support#1.30", "github-issue:o/r", "18").await.unwrap();
    assert_eq!(l.get_ref("c#support#1.30", "github-issue:o/r").await.unwrap().as_deref(), Some("18"), "put replaces");
    assert_eq!(l.get_ref("c#support#1.30", "github-pr:o/r:main.bicep").await.unwrap().as_deref(), Some("cadence/c-1.31"), "channels are independent");
    assert_eq!(l.get_ref("c#support#1.31", "github-issue:o/r").await.unwrap(), None, "concerns are independent");
}

pub async fn fleet_records_are_stored_replaced_and_shared(open: OpenLedger) {
    let a = open("fleet".into()).await;
    assert_eq!(a.fleet().await.unwrap(), vec![]);
    a.put_fleet("sub/rg/dev-a", "{\"v\":1}").await.unwrap();
    a.put_fleet("sub/rg/prod-a", "{\"v\":1}").await.unwrap();
    a.put_fleet("sub/rg/dev-a", "{\"v\":2}").await.unwrap();
    let b = open("fleet".into()).await;
    let mut read = b.fleet().await.unwrap();
    read.sort();
    assert_eq!(
        read,
        vec![("sub/rg/dev-a".to_string(), "{\"v\":2}".to_string()), ("sub/rg/prod-a".to_string(), "{\"v\":1}".to_string())],
        "put replaces; another instance on the same store reads every cluster"
    );
    assert_eq!(b.fleet_of("sub/rg/dev-a").await.unwrap().as_deref(), Some("{\"v\":2}"), "one cluster's record, as stored last");
    assert_eq!(b.fleet_of("sub/rg/gone").await.unwrap(), None, "a cluster without a record");
}

pub async fn list_actions_is_sorted_by_key(open: OpenLedger) {
    let l = open("list".into()).await;
    assert!(l.list_actions().await.unwrap().is_empty());
    let (kc, ka, kb) = (key("c"), key("a"), key("b"));
    let tc = acquire(&*l, &kc, "w", t0(), secs(60)).await;
    let ta = acquire(&*l, &ka, "w", t0(), secs(60)).await;
    let tb = acquire(&*l, &kb, "w", t0(), secs(60)).await;
    l.complete(&kc, &tc, Completion::Done { detail: "d".into() }, t0()).await.unwrap();
    l.complete(&ka, &ta, Completion::Failed { reason: "r".into() }, t0()).await.unwrap();
    l.release(&kb, &tb).await.unwrap();
    let kd = key("d");
    acquire(&*l, &kd, "w", t0(), secs(60)).await;
    let listed = l.list_actions().await.unwrap();
    assert_eq!(
        listed,
        vec![
            (ka, ActionState::Failed { reason: "r".into(), at: t0() }),
            (kc, ActionState::Done { detail: "d".into(), at: t0() }),
            (kd, ActionState::Claimed { owner: "w".into(), until: t0() + secs(60) }),
        ],
        "released keys are gone; the rest sorted by key"
    );
}

pub async fn everything_survives_a_restart(open: OpenLedger) {
    let (done, failed, live) = (key("done"), key("failed"), key("live"));
    {
        let l = open("restart".into()).await;
        l.mark_event_processed("e-restart", t0()).await.unwrap();
        l.first_seen("c#node-image#pool1", t0()).await.unwrap();
        let t = acquire(&*l, &done, "before", t0(), secs(60)).await;
        l.complete(&done, &t, Completion::Done { detail: "issue #3".into() }, t0()).await.unwrap();
        let t = acquire(&*l, &failed, "before", t0(), secs(60)).await;
        l.complete(&failed, &t, Completion::Failed { reason: "404".into() }, t0()).await.unwrap();
        acquire(&*l, &live, "before", t0(), secs(600)).await;
        l.put_ref("c#node-image#pool1", "github-issue:o/r", "3").await.unwrap();
        // `l` is dropped here: the process "restarts".
    }
    let l = open("restart".into()).await;
    assert!(l.event_processed("e-restart").await.unwrap());
    assert!(!l.mark_event_processed("e-restart", t0()).await.unwrap());
    assert_eq!(l.first_seen("c#node-image#pool1", t0() + secs(99)).await.unwrap(), t0());
    assert_eq!(l.claim(&done, "after", t0() + secs(1), secs(60)).await.unwrap(), Claim::Finished(ActionState::Done { detail: "issue #3".into(), at: t0() }));
    assert_eq!(l.claim(&failed, "after", t0() + secs(1), secs(60)).await.unwrap(), Claim::Finished(ActionState::Failed { reason: "404".into(), at: t0() }));
    assert_eq!(l.claim(&live, "after", t0() + secs(1), secs(60)).await.unwrap(), Claim::HeldElsewhere { owner: "before".into(), until: t0() + secs(600) });
    assert_eq!(l.get_ref("c#node-image#pool1", "github-issue:o/r").await.unwrap().as_deref(), Some("3"));
}

pub async fn queued_notifications_keep_the_first_time_and_the_latest_action(open: OpenLedger) {
    let l = open("pending".into()).await;
    assert!(l.pending_notifications().await.unwrap().is_empty(), "nothing is queued at first");
    let (ka, kb) = (key("email-a"), key("email-b"));
    l.queue_notification(&kb, r#"{"v":1}"#, t0() + secs(2)).await.unwrap();
    l.queue_notification(&ka, r#"{"v":1}"#, t0() + secs(5)).await.unwrap();
    // The same key again (a duplicate delivery, or newer facts): one entry, first time kept.
    l.queue_notification(&kb, r#"{"v":2}"#, t0() + secs(9)).await.unwrap();
    // A queueing whose clock is behind never moves `updated_at` back.
    l.queue_notification(&kb, r#"{"v":3}"#, t0() + secs(7)).await.unwrap();
    assert_eq!(
        l.pending_notifications().await.unwrap(),
        vec![
            PendingNotification { key: kb.clone(), action: r#"{"v":3}"#.into(), queued_at: t0() + secs(2), updated_at: t0() + secs(9) },
            PendingNotification { key: ka.clone(), action: r#"{"v":1}"#.into(), queued_at: t0() + secs(5), updated_at: t0() + secs(5) },
        ],
        "oldest first; the latest action replaces the older one"
    );
}

pub async fn concurrent_queueings_of_one_key_make_one_entry(open: OpenLedger) {
    let a = open("pending-race".into()).await;
    let b = open("pending-race".into()).await;
    let k = key("email-race");
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let l = if i % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) };
            let k = k.clone();
            tokio::spawn(async move { l.queue_notification(&k, &format!(r#"{{"i":{i}}}"#), t0() + secs(i)).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let pending = a.pending_notifications().await.unwrap();
    assert_eq!(pending.len(), 1, "one entry per key: {pending:?}");
    assert_eq!(pending[0].key, k);
    assert_eq!(pending[0].updated_at, t0() + secs(11), "the latest queueing's time");
    assert!(pending[0].queued_at <= t0() + secs(11));
}

pub async fn removing_a_queued_notification_is_idempotent(open: OpenLedger) {
    let l = open("pending-remove".into()).await;
    let (ka, kb) = (key("email-a"), key("email-b"));
    l.queue_notification(&ka, "{}", t0()).await.unwrap();
    l.queue_notification(&kb, "{}", t0()).await.unwrap();
    l.remove_notification(&ka).await.unwrap();
    l.remove_notification(&ka).await.unwrap();
    l.remove_notification(&key("never-queued")).await.unwrap();
    let left: Vec<ActionKey> = l.pending_notifications().await.unwrap().into_iter().map(|p| p.key).collect();
    assert_eq!(left, vec![kb], "only the removed key is gone");
    // A key queued again after its removal is a new entry with a new first time.
    l.queue_notification(&ka, "{}", t0() + secs(30)).await.unwrap();
    let again = l.pending_notifications().await.unwrap();
    assert_eq!(again.iter().find(|p| p.key == ka).map(|p| p.queued_at), Some(t0() + secs(30)));
}

pub async fn queued_notifications_are_shared_and_survive_a_restart(open: OpenLedger) {
    let k = key("email-restart");
    {
        let l = open("pending-restart".into()).await;
        l.queue_notification(&k, r#"{"kind":"email"}"#, t0()).await.unwrap();
        let other = open("pending-restart".into()).await;
        assert_eq!(other.pending_notifications().await.unwrap().len(), 1, "another instance sees the queue");
    }
    let l = open("pending-restart".into()).await;
    let pending = l.pending_notifications().await.unwrap();
    assert_eq!(pending, vec![PendingNotification { key: k, action: r#"{"kind":"email"}"#.into(), queued_at: t0(), updated_at: t0() }]);
    assert!(open("pending-elsewhere".into()).await.pending_notifications().await.unwrap().is_empty(), "stores are independent");
}

pub async fn eol_notices_are_remembered_per_minor_and_a_newer_one_wins(open: OpenLedger) {
    use crate::policy::calendar::EolNotice;
    let notice = |eol_day: i64, observed: i64| EolNotice {
        eol: t0() + secs(eol_day * 86_400),
        observed_at: t0() + secs(observed),
        support_type: Some("KubernetesOfficial".into()),
        event_type: "Microsoft.ResourceNotifications.HealthResources.ResourceAnnotated".into(),
    };
    {
        let l = open("eol".into()).await;
        assert_eq!(l.eol_notice("1.30").await.unwrap(), None);
        assert!(l.remember_eol_notice("1.30", &notice(90, 10)).await.unwrap());
        assert!(!l.remember_eol_notice("1.30", &notice(90, 10)).await.unwrap(), "a redelivery changes nothing");
        assert!(!l.remember_eol_notice("1.30", &notice(60, 5)).await.unwrap(), "an older notice arriving late changes nothing");
        assert!(l.remember_eol_notice("1.30", &notice(120, 20)).await.unwrap(), "a newer notice replaces it");
        assert!(l.remember_eol_notice("1.31", &notice(200, 1)).await.unwrap());
    }
    // Another client on the same store (a restart, a second instance) reads the same.
    let l = open("eol".into()).await;
    assert_eq!(l.eol_notice("1.30").await.unwrap(), Some(notice(120, 20)));
    assert_eq!(l.eol_notice("1.31").await.unwrap(), Some(notice(200, 1)), "minors are independent");
    assert_eq!(l.eol_notice("1.29").await.unwrap(), None);
    // A record no one can read is reported, not taken as "no notice".
    l.put_ref(&super::eol_notice_key("1.29"), super::EOL_NOTICE_CHANNEL, "not json").await.unwrap();
    assert!(matches!(l.eol_notice("1.29").await, Err(LedgerError::Corrupt(_))));
}
