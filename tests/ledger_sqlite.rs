//! The ledger contract suite (`store::contract`) on a real SQLite file, plus what is specific
//! to the file: the schema on disk, reopening after a restart, a second process on the same
//! file, and a file written by a newer version.

use std::path::PathBuf;
use std::sync::Arc;

use aks_cadence::store::contract::{self, OpenLedger};
use aks_cadence::store::sqlite::SqliteLedger;
use aks_cadence::store::{Ledger, LedgerError};

/// Store names become files in one temporary directory that lives as long as the opener.
fn sqlite_opener() -> (OpenLedger, Arc<tempfile::TempDir>) {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let root: PathBuf = dir.path().to_path_buf();
    let open: OpenLedger = Arc::new(move |name: String| {
        let path = root.join(format!("{name}.db"));
        Box::pin(async move { Arc::new(SqliteLedger::open(path).expect("open sqlite ledger")) as Arc<dyn Ledger> })
    });
    (open, dir)
}

macro_rules! contract_case {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let (open, _dir) = sqlite_opener();
            contract::$name(open).await;
        }
    )*};
}

aks_cadence::ledger_contract_cases!(contract_case);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_contract_suite_runs_against_one_directory() {
    let (open, _dir) = sqlite_opener();
    contract::run_contract_suite(open).await;
}


#[test]
fn open_creates_the_six_tables_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cadence.db");
    drop(SqliteLedger::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables.sort();
    assert_eq!(tables, ["actions", "events", "first_seen", "fleet", "pending", "refs"]);
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    // Opening again (a restart) keeps the file as it is.
    drop(SqliteLedger::open(&path).unwrap());
}

#[tokio::test]
async fn a_schema_1_file_is_upgraded_in_place_and_keeps_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    // The schema-1 layout exactly as the first release wrote it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE events (event_id TEXT PRIMARY KEY NOT NULL, processed_at INTEGER NOT NULL);
         CREATE TABLE first_seen (concern_key TEXT PRIMARY KEY NOT NULL, at INTEGER NOT NULL);
         CREATE TABLE actions (key TEXT PRIMARY KEY NOT NULL, status TEXT NOT NULL CHECK (status IN ('claimed', 'done', 'failed')),
             owner TEXT, token TEXT, until INTEGER, detail TEXT, updated_at INTEGER NOT NULL);
         CREATE TABLE refs (concern_key TEXT NOT NULL, channel TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (concern_key, channel));
         INSERT INTO events VALUES ('e-old', 1);
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let ledger = SqliteLedger::open(&path).unwrap();
    assert!(ledger.event_processed("e-old").await.unwrap(), "records of the old schema are kept");
    assert!(ledger.pending_notifications().await.unwrap().is_empty(), "the digest queue exists and is empty");
    let version: i64 = rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 2);
}

#[test]
fn a_file_from_a_newer_version_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    match SqliteLedger::open(&path) {
        Err(LedgerError::Corrupt(msg)) => {
            assert!(msg.contains("newer"), "{msg}");
            assert!(msg.contains("CADENCE_STATE"), "the message says how to fix it: {msg}");
        }
        other => panic!("expected a corrupt-ledger error, got {other:?}"),
    }
}

#[test]
fn a_missing_directory_is_unavailable_and_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("cadence.db");
    match SqliteLedger::open(&path) {
        Err(LedgerError::Unavailable(msg)) => assert!(msg.contains("no-such-dir"), "{msg}"),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

/// Calls run on the caller's thread without waiting for a lock; when another process holds the
/// file's write lock, the call waits on the ledger thread instead (up to the busy timeout, on a
/// connection of its own, so reads go on meanwhile) and then succeeds, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_meets_another_process_lock_waits_for_it_then_runs_once() {
    use aks_cadence::action::ActionKey;
    use aks_cadence::store::Claim;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cadence.db");
    let ledger = SqliteLedger::open(&path).unwrap();
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let key = ActionKey::from_raw("k-locked");
    ledger.first_seen("concern-before-the-lock", now).await.unwrap();
    // Another "process" (a connection of its own) takes the write lock and keeps it.
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut claim = Box::pin(ledger.claim(&key, "me", now, jiff::SignedDuration::from_mins(5)));
    assert!(futures::poll!(&mut claim).is_pending(), "the claim waits for the lock instead of failing");
    // While the ledger thread waits for the lock on its own connection, the callers' connection
    // goes on: a read answers now. (Were it queued behind the waiting claim it would wait for a
    // COMMIT that comes only after it: the claim would time out and fail below.)
    assert_eq!(ledger.seen("concern-before-the-lock").await.unwrap(), Some(now), "a read is not held up by a waiting write");
    assert!(!ledger.event_processed("event-x").await.unwrap());
    other.execute_batch("COMMIT").unwrap();
    assert!(matches!(claim.await.unwrap(), Claim::Acquired(_)), "the claim runs once the lock is free");
    match ledger.claim(&key, "someone else", now, jiff::SignedDuration::from_mins(5)).await.unwrap() {
        Claim::HeldElsewhere { owner, .. } => assert_eq!(owner, "me", "the waiting claim ran exactly once"),
        other => panic!("expected the key held by the first claim, got {other:?}"),
    }
}

/// Many writes with the automatic checkpoint off on the callers' connection (the checkpointer
/// thread does it): a reopened file has every write.
#[tokio::test]
async fn many_writes_checkpointed_off_the_callers_thread_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cadence.db");
    let ledger = SqliteLedger::open(&path).unwrap();
    let at = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    for i in 0..3_000 {
        assert!(ledger.mark_event_processed(&format!("e-{i}"), at).await.unwrap());
    }
    drop(ledger);
    let reopened = SqliteLedger::open(&path).unwrap();
    for i in [0, 1_499, 2_999] {
        assert!(reopened.event_processed(&format!("e-{i}")).await.unwrap(), "e-{i} survived the restart");
    }
}

/// Writes queued at the same time share one transaction and one commit, and each answers as it
/// would alone: on one key, one claim acquires and the others see it held; every first sighting
/// keeps the first time written; every event is marked once.
#[tokio::test(flavor = "current_thread")]
async fn concurrent_writes_share_commits_and_each_answers_as_if_alone() {
    use aks_cadence::action::ActionKey;
    use aks_cadence::store::Claim;
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(dir.path().join("cadence.db")).unwrap();
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let before = ledger.commits();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let at = now + jiff::SignedDuration::from_secs(i);
                let seen = ledger.first_seen(&format!("concern-{}", i % 10), at).await.unwrap();
                let claim = ledger.claim(&ActionKey::from_raw(format!("k-{}", i % 25)), &format!("owner-{i}"), now, jiff::SignedDuration::from_mins(5)).await.unwrap();
                let marked = ledger.mark_event_processed(&format!("e-{}", i % 50), now).await.unwrap();
                (i, seen, claim, marked)
            })
        })
        .collect();
    let mut acquired = std::collections::BTreeMap::new();
    let mut marked = 0;
    for task in tasks {
        let (i, seen, claim, newly_marked) = task.await.unwrap();
        assert_eq!(seen, now + jiff::SignedDuration::from_secs(i % 10), "concern-{} keeps the first time written", i % 10);
        match claim {
            Claim::Acquired(_) => assert!(acquired.insert(i % 25, format!("owner-{i}")).is_none(), "k-{} acquired twice", i % 25),
            Claim::HeldElsewhere { .. } => {}
            other => panic!("unexpected claim answer {other:?}"),
        }
        marked += usize::from(newly_marked);
    }
    let commits = ledger.commits() - before;
    assert!(commits <= 10, "300 writes queued together took {commits} commits; expected a few batches");
    assert!(commits >= 3, "each task's three writes are in order, so at least three batches: {commits}");
    assert_eq!(acquired.len(), 25, "every key acquired exactly once");
    assert_eq!(marked, 50, "every event marked exactly once");
    for (key, owner) in &acquired {
        match ledger.claim(&ActionKey::from_raw(format!("k-{key}")), "late", now, jiff::SignedDuration::from_mins(5)).await.unwrap() {
            Claim::HeldElsewhere { owner: held, .. } => assert_eq!(&held, owner, "k-{key} is held by the claim that was told it acquired"),
            other => panic!("expected k-{key} held, got {other:?}"),
        }
    }
}

/// When a batch cannot commit (another process keeps the write lock past the busy timeout),
/// every write in it answers "unavailable" and none of them is written: the callers retry.
#[tokio::test(flavor = "current_thread")]
async fn a_batch_that_cannot_commit_fails_every_write_in_it_and_writes_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cadence.db");
    let ledger = SqliteLedger::open(&path).unwrap();
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let writes: Vec<_> = (0..8)
        .map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.first_seen(&format!("concern-{i}"), now).await })
        })
        .collect();
    for write in writes {
        match write.await.unwrap() {
            Err(LedgerError::Unavailable(msg)) => assert!(msg.contains("locked"), "{msg}"),
            other => panic!("expected the write to fail as unavailable, got {other:?}"),
        }
    }
    other.execute_batch("ROLLBACK").unwrap();
    for i in 0..8 {
        assert_eq!(ledger.seen(&format!("concern-{i}")).await.unwrap(), None, "concern-{i} was not written");
    }
    // The ledger carries on once the lock is gone.
    assert_eq!(ledger.first_seen("concern-0", now).await.unwrap(), now);
}

/// Reads share a read transaction until the runtime's next turn, and a batch of writes ends it
/// first: a read that follows this process's own write sees it, while the other tasks' reads
/// go on around the batches.
#[tokio::test(flavor = "current_thread")]
async fn a_read_after_its_own_write_sees_it_while_other_reads_share_a_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(dir.path().join("cadence.db")).unwrap();
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move {
                let concern = format!("concern-{i}");
                let event = format!("event-{i}");
                assert_eq!(ledger.seen(&concern).await.unwrap(), None, "{concern} not seen yet");
                assert!(!ledger.event_processed(&event).await.unwrap(), "{event} not processed yet");
                let at = now + jiff::SignedDuration::from_secs(i);
                assert_eq!(ledger.first_seen(&concern, at).await.unwrap(), at);
                assert_eq!(ledger.seen(&concern).await.unwrap(), Some(at), "{concern}: the read after the write sees it");
                assert!(ledger.mark_event_processed(&event, now).await.unwrap());
                assert!(ledger.event_processed(&event).await.unwrap(), "{event}: the read after the mark sees it");
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// A batch of writes runs in a transaction of its own even when reads opened one just before
/// it: A reads (opening the shared read transaction), C queues a write, the runtime ends A's
/// read transaction, and B reads (opening a new one) before C's batch runs.
#[tokio::test(flavor = "current_thread")]
async fn a_batch_ends_the_read_transaction_opened_just_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(dir.path().join("cadence.db")).unwrap();
    let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let a = tokio::spawn({
        let ledger = ledger.clone();
        async move { ledger.seen("a").await.unwrap() }
    });
    let b = tokio::spawn({
        let ledger = ledger.clone();
        async move {
            one_turn().await;
            one_turn().await;
            ledger.seen("b").await.unwrap()
        }
    });
    let c = tokio::spawn({
        let ledger = ledger.clone();
        async move { ledger.first_seen("c", now).await }
    });
    assert_eq!(a.await.unwrap(), None);
    assert_eq!(b.await.unwrap(), None);
    assert_eq!(c.await.unwrap().expect("the write commits in a transaction of its own"), now);
    assert_eq!(ledger.seen("c").await.unwrap(), Some(now));
}

/// Goes to the back of the runtime's run queue once.
async fn one_turn() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

/// Another process's commit is seen from the next turn of the runtime on: the shared read
/// transaction does not outlive the turn that opened it.
#[tokio::test(flavor = "current_thread")]
async fn a_commit_by_another_process_is_seen_by_the_next_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cadence.db");
    let ledger = SqliteLedger::open(&path).unwrap();
    for i in 0..5 {
        let concern = format!("concern-{i}");
        assert_eq!(ledger.seen(&concern).await.unwrap(), None);
        // Another process (its own connection, outside this runtime) writes and commits.
        let other = rusqlite::Connection::open(&path).unwrap();
        other.execute("INSERT INTO first_seen (concern_key, at) VALUES (?1, ?2)", rusqlite::params![concern, 1_800_000_000_000_000_000i64 + i]).unwrap();
        drop(other);
        tokio::task::yield_now().await;
        assert!(ledger.seen(&concern).await.unwrap().is_some(), "{concern}: committed by another process one turn ago");
    }
}

/// A fresh ledger file (kept while the directory lives), its path, the ledger and a time.
fn a_ledger() -> (tempfile::TempDir, PathBuf, SqliteLedger, jiff::Timestamp) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cadence.db");
    let ledger = SqliteLedger::open(&path).unwrap();
    (dir, path, ledger, jiff::Timestamp::from_second(1_800_000_000).unwrap())
}

/// Another process's connection holding the file's write lock (until `ROLLBACK`).
fn write_lock(path: &std::path::Path) -> rusqlite::Connection {
    let other = rusqlite::Connection::open(path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    other
}

/// Whether `event_id`'s processed mark is in the file, as another process reads it.
fn committed(path: &std::path::Path, event_id: &str) -> bool {
    let other = rusqlite::Connection::open(path).unwrap();
    other.query_row("SELECT count(*) FROM events WHERE event_id = ?1", [event_id], |r| r.get::<_, i64>(0)).unwrap() == 1
}

/// The event path's processed mark waits in memory and is written with the next batch of
/// writes: no commit of its own. This process sees it at once, another from that commit on.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_mark_made_soon_is_written_with_the_next_batch_of_writes() {
    let (_dir, path, ledger, now) = a_ledger();
    let before = ledger.commits();
    ledger.mark_event_processed_soon("e-1", now).await.unwrap();
    ledger.mark_event_processed_soon("e-2", now).await.unwrap();
    assert!(ledger.event_processed("e-1").await.unwrap(), "this process sees its mark at once");
    assert!(!committed(&path, "e-1"), "not committed yet");
    assert_eq!(ledger.commits(), before, "no commit of its own");
    assert_eq!(ledger.first_seen("concern", now).await.unwrap(), now);
    assert_eq!(ledger.commits(), before + 1, "the marks went with the sighting's commit");
    assert!(committed(&path, "e-1") && committed(&path, "e-2"), "both marks are in the file");
    assert!(ledger.event_processed("e-2").await.unwrap(), "and read from it");
}

/// A mark that no batch of writes takes along is committed on its own once it has waited
/// `MARK_WAITS_AT_MOST` (10 ms), and not before.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_mark_no_write_takes_along_is_committed_on_its_own_after_ten_milliseconds() {
    use aks_cadence::store::sqlite::MARK_WAITS_AT_MOST;
    assert_eq!(MARK_WAITS_AT_MOST, std::time::Duration::from_millis(10));
    let (_dir, path, ledger, now) = a_ledger();
    let before = ledger.commits();
    ledger.mark_event_processed_soon("e-1", now).await.unwrap();
    tokio::time::sleep(MARK_WAITS_AT_MOST - std::time::Duration::from_millis(1)).await;
    assert!(!committed(&path, "e-1"), "not committed after 9 ms");
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    assert!(committed(&path, "e-1"), "committed after 10 ms");
    assert_eq!(ledger.commits(), before + 1, "in one commit");
    // Nothing waits any more: the watch has ended and time passing commits nothing.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert_eq!(ledger.commits(), before + 1);
    ledger.mark_event_processed_soon("e-2", now).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(11)).await;
    assert!(committed(&path, "e-2"), "a later mark is watched again");
}

/// A batch that cannot commit (another process keeps the write lock past the busy timeout)
/// leaves the marks it carried waiting, still seen by this process, and a later batch writes
/// them (the next write's, or the 10 ms watch's if that comes first: on a busy machine it may
/// have queued one behind the lock).
#[tokio::test(flavor = "current_thread")]
async fn marks_whose_batch_fails_wait_for_a_later_one() {
    let (_dir, path, ledger, now) = a_ledger();
    let other = write_lock(&path);
    ledger.mark_event_processed_soon("e-1", now).await.unwrap();
    match ledger.first_seen("concern", now).await {
        Err(LedgerError::Unavailable(msg)) => assert!(msg.contains("locked"), "{msg}"),
        other => panic!("expected the write to fail as unavailable, got {other:?}"),
    }
    assert!(ledger.event_processed("e-1").await.unwrap(), "the mark still waits, seen by this process");
    other.execute_batch("ROLLBACK").unwrap();
    assert_eq!(ledger.first_seen("concern", now).await.unwrap(), now);
    for _ in 0..500 {
        if committed(&path, "e-1") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the mark was not written within 5 s of the lock's end");
}

/// A clean stop (the last clone dropped) writes the marks still waiting, even while another
/// process holds the write lock for a while: the ledger thread waits for it.
#[tokio::test(flavor = "current_thread")]
async fn a_clean_stop_writes_the_waiting_marks_waiting_for_another_process_lock() {
    let (_dir, path, ledger, now) = a_ledger();
    let other = write_lock(&path);
    let holder = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        other.execute_batch("ROLLBACK").unwrap();
    });
    ledger.mark_event_processed_soon("e-stop", now).await.unwrap();
    drop(ledger);
    holder.join().unwrap();
    assert!(committed(&path, "e-stop"), "the stop waited for the lock and wrote the mark");
}
