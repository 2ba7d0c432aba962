//! The embedded ledger on a SQLite file (`CADENCE_STATE=sqlite:PATH`).
//!
//! One file holds six tables (the `fleet` table came without a schema bump: older builds ignore it):
//!
//! | table        | key                    | what                                                      |
//! |--------------|------------------------|-----------------------------------------------------------|
//! | `events`     | `event_id`             | Event Grid ids fully processed, with when                 |
//! | `first_seen` | `concern_key`          | when a concern was first seen (never moves once written)  |
//! | `actions`    | `key`                  | `claimed` (owner, token, until) / `done` / `failed`       |
//! | `refs`       | `concern_key, channel` | adapter references (GitHub issue number, PR branch)       |
//! | `pending`    | `key`                  | notifications queued for the next digest (action JSON)    |
//! | `fleet`      | `cluster_key`          | what the rings know of each cluster (`sweep::fleet`)      |
//!
//! Times are stored as integer nanoseconds since the Unix epoch, so they round-trip exactly and
//! compare correctly inside SQL (`until <= now`).
//!
//! Several processes may share the file: the journal is WAL (readers never block the writer),
//! every connection waits up to [`BUSY_TIMEOUT`] for a lock instead of failing at once, and
//! every write (a [`SqliteLedger::claim`] among them) runs in a `BEGIN IMMEDIATE` transaction,
//! so the read-decide-write of a claim is serialised across processes, not only across tasks.
//! WAL needs a local disk (it uses shared memory): on a network share such as the Functions
//! `/home` (Azure Files), use the blob ledger for more than one instance.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use super::{ActionState, Claim, ClaimToken, Completion, Ledger, LedgerError, PendingNotification};
use crate::action::ActionKey;

/// How long a connection waits for another process's lock before answering "unavailable".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema version this code writes (`PRAGMA user_version`).
/// 2 added `pending` (created by `CREATE TABLE IF NOT EXISTS`, so a version-1 file is
/// upgraded in place when opened).
const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    event_id     TEXT PRIMARY KEY NOT NULL,
    processed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS first_seen (
    concern_key TEXT PRIMARY KEY NOT NULL,
    at          INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    key        TEXT PRIMARY KEY NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('claimed', 'done', 'failed')),
    owner      TEXT,
    token      TEXT,
    until      INTEGER,
    detail     TEXT,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refs (
    concern_key TEXT NOT NULL,
    channel     TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (concern_key, channel)
);
CREATE TABLE IF NOT EXISTS fleet (
    cluster_key TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    key        TEXT PRIMARY KEY NOT NULL,
    action     TEXT NOT NULL,
    queued_at  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
";

/// SQLite-backed [`Ledger`].
///
/// Each read runs on the caller's thread unless SQLite answers busy (the usual case: every call
/// is a few microseconds of work on a local file; a read that finds another task using the
/// connection waits those microseconds for it), so the event path
/// pays no thread hand-off per ledger call; the reads of one turn of the runtime share a read
/// transaction ([`SqliteLedger::share_reads`]). Writes are batched: every write queued until the
/// runtime next gets to the batch shares one `BEGIN IMMEDIATE` transaction and one commit, and
/// each is answered after that commit ([`SqliteLedger::with_write`]). The connection's busy
/// handler is off for these calls: when another process holds the file's write lock, SQLite
/// answers "busy" at once and the call (which has changed nothing: a write takes the lock before
/// it writes) goes to the ledger's own thread instead, which waits up to [`BUSY_TIMEOUT`] for the lock on a connection
/// of its own, as every call used to. So an async worker never waits on another process's lock,
/// and while the thread waits the callers' connection goes on serving (reads never wait for a
/// writer in WAL mode; a write that meets the lock queues behind the waiting one). Statements stay prepared
/// (`prepare_cached`) for the life of the connection. Cross-process safety is unchanged: WAL, the
/// busy timeout (on the ledger thread), and `BEGIN IMMEDIATE` around every batch of writes.
///
/// Checkpoints (copying the write-ahead log back into the file, with its fsyncs) do not run on
/// a caller's thread either: the connection's automatic checkpoint is off, and a checkpointer
/// thread with its own connection runs a passive checkpoint (it never blocks readers or the
/// writer) after every [`CHECKPOINT_EVERY`] calls and once a second while there were any. When
/// the checkpointer's connection cannot be opened, the automatic checkpoint stays on.
///
/// SQLite starts the log over (writes from its beginning again) only when a write begins with
/// every frame of it already copied back. Under a steady stream of writes the checkpointer's
/// copy is nearly always overtaken by a commit that lands while it runs, so the log would only
/// grow (to 61 MiB in the benchmark, docs/host.md). When a checkpoint saw
/// [`RESTART_AFTER_FRAMES`] frames or more, the checkpointer catches up with what was committed
/// meanwhile ([`catch_up`]), and the next batch of writes first copies the few frames committed
/// since (a passive checkpoint on its own connection, with its fsyncs; once in some 3,000 events
/// under full load) and then begins with nothing left to copy, so its commit starts the log over.
///
/// Clones share the connections and the threads. When the last clone is dropped the queue
/// closes, the threads finish what is queued, close their connections and are joined, so a file
/// that is reopened right after (a restart) sees every write.
#[derive(Clone)]
pub struct SqliteLedger {
    worker: Arc<Worker>,
    path: PathBuf,
}

/// A call for the ledger thread: runs with the connection and answers on its own channel.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The connection, the ledger thread (for calls that must wait for a lock) and the checkpointer.
struct Worker {
    conn: Arc<std::sync::Mutex<Connection>>,
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Calls made so far (the checkpointer looks whether there were new ones).
    calls: Arc<std::sync::atomic::AtomicUsize>,
    checkpoints: Option<std::sync::mpsc::SyncSender<()>>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
    /// The writes waiting for the next batch (see [`SqliteLedger::with_write`]).
    writes: std::sync::Mutex<Vec<Box<dyn Write>>>,
    /// Batches committed so far ([`SqliteLedger::commits`]).
    commits: Arc<std::sync::atomic::AtomicUsize>,
    /// Set by the checkpointer when the log has grown long: the next batch copies the rest of
    /// it back first, so that its commit starts the log over (see the type's docs).
    restart: Arc<std::sync::atomic::AtomicBool>,
    /// The processed marks not yet committed ([`SqliteLedger::mark_event_processed_soon`]).
    marks: Arc<std::sync::Mutex<Marks>>,
}

/// The longest a processed mark waits for a batch of writes to join before it is committed on
/// its own (see [`SqliteLedger::mark_event_processed_soon`]).
pub const MARK_WAITS_AT_MOST: Duration = Duration::from_millis(10);

/// Processed marks waiting for a commit: the next batch of writes also writes those no batch
/// under way carries, and a mark leaves only once a batch that wrote it has committed.
#[derive(Default)]
struct Marks {
    /// Event id → when it was processed (nanoseconds) and whether a batch under way carries it,
    /// for every mark not yet committed.
    waiting: std::collections::HashMap<String, (i64, bool)>,
    /// When the oldest waiting mark began to wait, or the last batch that carried the marks
    /// failed: the watching task commits them [`MARK_WAITS_AT_MOST`] after it.
    since: Option<tokio::time::Instant>,
    /// Whether a task is watching `since` (at most one is).
    watched: bool,
    /// Batches under way that write the marks ([`MarkWrite`]s not yet dropped): the watching
    /// task adds none of its own while one is.
    taken: usize,
}

impl Marks {
    /// The waiting marks no batch under way carries, as a write for the next batch, if there
    /// are any.
    fn write(marks: &Arc<std::sync::Mutex<Marks>>) -> Option<Box<dyn Write>> {
        let mut guard = marks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let ids: Vec<(String, i64)> = guard
            .waiting
            .iter_mut()
            .filter(|(_, (_, carried))| !*carried)
            .map(|(id, (at, carried))| {
                *carried = true;
                (id.clone(), *at)
            })
            .collect();
        if ids.is_empty() {
            return None;
        }
        guard.taken += 1;
        Some(Box::new(MarkWrite { ids, marks: Arc::clone(marks), written: false, committed: false }))
    }
}

/// Waiting processed marks, written in a batch with the writes queued with them. They are
/// taken off the waiting list only when that batch has committed; a batch that fails (or is
/// dropped before it ran) leaves them waiting for the next one, and the watching task tries
/// again no sooner than [`MARK_WAITS_AT_MOST`] later. The insert is idempotent: a mark another
/// process wrote meanwhile is one row.
struct MarkWrite {
    ids: Vec<(String, i64)>,
    marks: Arc<std::sync::Mutex<Marks>>,
    written: bool,
    committed: bool,
}

impl Write for MarkWrite {
    fn run(&mut self, conn: &mut Connection) -> Result<(), LedgerError> {
        self.written = false;
        for (id, at) in &self.ids {
            insert_mark(conn, id, *at)?;
        }
        self.written = true;
        Ok(())
    }

    fn answer(mut self: Box<Self>, failed: Option<&LedgerError>) {
        self.committed = failed.is_none() && self.written;
        // The drop settles the marks.
    }
}

impl Drop for MarkWrite {
    fn drop(&mut self) {
        let mut marks = self.marks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        marks.taken -= 1;
        if self.committed {
            for (id, _) in &self.ids {
                marks.waiting.remove(id);
            }
            if marks.waiting.is_empty() {
                marks.since = None;
            }
            return;
        }
        tracing::debug!(marks = self.ids.len(), "processed marks not committed; they wait for the next batch of writes");
        for (id, _) in &self.ids {
            if let Some((_, carried)) = marks.waiting.get_mut(id) {
                *carried = false;
            }
        }
        marks.since = Some(tokio::time::Instant::now());
    }
}

/// A write waiting for its batch: runs with the connection inside the batch's transaction
/// (perhaps twice: a run that met another process's lock changed nothing and runs again on the
/// ledger thread), and answers once the batch has committed or failed.
trait Write: Send {
    /// Runs the write and keeps its answer. `Err` is the write's own error, for the batch to
    /// name when SQLite rolled the whole transaction back with it.
    fn run(&mut self, conn: &mut Connection) -> Result<(), LedgerError>;
    /// Sends the kept answer, or `failed` when the batch did not commit.
    fn answer(self: Box<Self>, failed: Option<&LedgerError>);
}

struct PendingWrite<T, F> {
    f: F,
    kept: Option<Result<T, LedgerError>>,
    answer: tokio::sync::oneshot::Sender<Result<T, LedgerError>>,
}

impl<T, F> Write for PendingWrite<T, F>
where
    T: Send,
    F: Fn(&mut Connection) -> Result<T, LedgerError> + Send,
{
    fn run(&mut self, conn: &mut Connection) -> Result<(), LedgerError> {
        let result = (self.f)(conn);
        let own = result.as_ref().err().cloned();
        self.kept = Some(result);
        own.map_or(Ok(()), Err)
    }

    fn answer(self: Box<Self>, failed: Option<&LedgerError>) {
        let answer = match (failed, self.kept) {
            (Some(e), _) => Err(e.clone()),
            (None, Some(kept)) => kept,
            (None, None) => Err(LedgerError::Unavailable("a SQLite ledger write was answered before it ran".into())),
        };
        // A dropped receiver is a caller that has gone away (its request was cancelled): the
        // write has committed all the same, as it would have without the batch.
        let _ = self.answer.send(answer);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The processed marks still waiting are committed on the ledger thread, which waits
        // for another process's lock if it must; the join below waits for that.
        if let Some(marks) = Marks::write(&self.marks) {
            self.batch_on_the_thread(vec![marks]);
        }
        // Closing the queues ends the threads' loops once the queued calls have run.
        drop(self.jobs.take());
        drop(self.checkpoints.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if let Some(thread) = self.checkpointer.take() {
            let _ = thread.join();
        }
        let lost = self.marks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).waiting.len();
        if lost > 0 {
            tracing::warn!(
                marks = lost,
                "processed marks could not be written as the ledger closed; a redelivery of those events is planned again and finds its actions finished"
            );
        }
    }
}

/// How many distinct statements stay prepared: every statement below has its own entry.
const STATEMENT_CACHE: usize = 32;

/// Ledger calls between two checkpoint requests (a few pages of log each at most: the log stays
/// far below SQLite's own automatic threshold of 1,000 pages).
pub const CHECKPOINT_EVERY: usize = 256;

/// A log this long (frames, a page each: 16 MiB at 4 KiB pages) when a checkpoint ran is
/// started over by the next batch of writes (see [`SqliteLedger`]).
pub const RESTART_AFTER_FRAMES: i64 = 4096;

/// Frames committed during a checkpoint that the checkpointer leaves to the batch that starts
/// the log over (see [`catch_up`]). That batch's copy ends in an `fsync` of the ledger file on
/// the event path, and its time follows the pages copied (scattered writes): with 64 here and
/// three passes it took a median 3.0 ms at 8,000 events/s, with 8 and ten passes 0.6–1.7 ms
/// (docs/host.md, *The live tail, timed from both sides*).
const CAUGHT_UP_FRAMES: i64 = 8;

/// Passes the checkpointer makes at most to catch up before it asks for a restart.
const CATCH_UP_PASSES: usize = 10;

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLedger").field("path", &self.path).finish()
    }
}

thread_local! {
    /// Set by [`sql`] when SQLite answered busy or locked on this thread: the call that ran
    /// on the caller's thread goes to the ledger thread to wait for the lock.
    static BUSY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl SqliteLedger {
    /// Opens (creating if needed) the ledger file and its schema, and starts the ledger thread.
    /// Blocking: call it at start-up (or inside `spawn_blocking`).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(|e| {
            LedgerError::Unavailable(format!("cannot open SQLite ledger {}: {e}", path.display()))
        })?;
        init(&conn).map_err(|e| match e {
            LedgerError::Unavailable(m) => LedgerError::Unavailable(format!("{}: {m}", path.display())),
            LedgerError::Corrupt(m) => LedgerError::Corrupt(format!("{}: {m}", path.display())),
            other => other,
        })?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Calls on the caller's thread never wait for a lock (see the type's docs).
        conn.busy_timeout(Duration::ZERO).map_err(sql)?;
        let calls: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let restart: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let (checkpoints, checkpointer) = match start_checkpointer(&path, Arc::clone(&calls), Arc::clone(&restart)) {
            Some((kick, thread)) => {
                conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(sql)?;
                (Some(kick), Some(thread))
            }
            None => (None, None),
        };
        // The ledger thread's own connection: while it waits for another process's lock, the
        // callers' connection stays free (reads go on: WAL readers never wait for a writer).
        let waiter = Connection::open(&path).map_err(|e| {
            LedgerError::Unavailable(format!("cannot open SQLite ledger {}: {e}", path.display()))
        })?;
        waiter.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        waiter.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        if checkpoints.is_some() {
            waiter.pragma_update(None, "wal_autocheckpoint", 0).map_err(sql)?;
        }
        settle(&waiter)?;
        let conn = Arc::new(std::sync::Mutex::new(conn));
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("sqlite-ledger".into())
            .spawn(move || run(waiter, queue))
            .map_err(|e| LedgerError::Unavailable(format!("cannot start the SQLite ledger thread for {}: {e}", path.display())))?;
        let worker = Worker { conn, jobs: Some(jobs), thread: Some(thread), calls, checkpoints, checkpointer, writes: std::sync::Mutex::default(), commits: Arc::default(), restart, marks: Arc::default() };
        Ok(Self { worker: Arc::new(worker), path })
    }

    /// The file this ledger lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many write transactions this ledger (and its clones) has committed: each holds every
    /// write that joined its batch (see [`Self::with_write`]). A figure for tests and benchmarks.
    pub fn commits(&self) -> usize {
        self.worker.commits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` with the connection: here unless SQLite answers busy, else on the ledger thread
    /// (which waits for the lock). `f` may run twice when the first run met a lock; a run that
    /// met a lock has changed nothing (see the docs).
    ///
    /// The connection's mutex is waited for when another task holds it: it is held only for a
    /// call's own work, never while waiting on SQLite's locks (microseconds for the event path's
    /// point reads and batches; a sweep's read of the whole fleet is longer). Handing the call to the ledger
    /// thread instead would queue it behind a write that waits there for another process's lock:
    /// a read would then wait for that process's commit, up to the busy timeout.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: Fn(&mut Connection) -> Result<T, LedgerError> + Send + 'static,
    {
        self.count_call();
        {
            let mut conn = self.worker.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            BUSY.with(|b| b.set(false));
            self.share_reads(&conn);
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut conn)));
            drop(conn);
            match ran {
                Ok(result) if !BUSY.with(|b| b.get()) => return result,
                Ok(_) => {}
                Err(_) => {
                    tracing::error!("a SQLite ledger call panicked; the ledger carries on");
                    return Err(self.failed());
                }
            }
        }
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = answer.send(f(conn));
        });
        let stopped = || LedgerError::Unavailable(format!("the SQLite ledger thread for {} has stopped", self.path.display()));
        self.worker.jobs.as_ref().ok_or_else(stopped)?.send(job).map_err(|_| stopped())?;
        // A dropped answer means the call panicked (the thread caught it and carries on).
        answered.await.map_err(|_| self.failed())?
    }

    /// Runs the write `f` in the next batch: one transaction (`BEGIN IMMEDIATE` … `COMMIT`)
    /// for every write queued until the batch runs, answered once it has committed. The first
    /// write into an empty queue spawns the task that runs the batch; that task yields once
    /// first ([`BackOfTheQueue`]), so the other requests the runtime has ready reach their writes
    /// and join it. On a busy event path this turns several commits per event (first sightings,
    /// claims, completions, the event's own mark) into a share of one. The batch runs here when the
    /// connection is free and SQLite does not answer busy, else on the ledger thread, which
    /// waits for the lock (as [`Self::with_conn`]). Each answer waits for the commit: a claim
    /// is never answered `Acquired` before it is durable. When any write meets a rollback of
    /// the whole transaction (an IO error, a full disk), or the commit fails, every write of
    /// the batch answers that error (nothing of the batch was written) and the callers retry.
    async fn with_write<T, F>(&self, f: F) -> Result<T, LedgerError>
    where
        T: Send + 'static,
        F: Fn(&mut Connection) -> Result<T, LedgerError> + Send + 'static,
    {
        self.count_call();
        let (answer, answered) = tokio::sync::oneshot::channel();
        let first = {
            let mut queue = self.worker.writes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            queue.push(Box::new(PendingWrite { f, kept: None, answer }));
            queue.len() == 1
        };
        if first {
            // A task of its own, not this caller's future: a request cancelled while it waits
            // must not strand the writes that joined its batch.
            let worker = Arc::clone(&self.worker);
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move {
                        BackOfTheQueue(false).await;
                        worker.flush();
                    });
                }
                Err(_) => self.worker.flush(),
            }
        }
        // A dropped answer means the batch never ran (the ledger thread has stopped).
        answered.await.map_err(|_| self.failed())?
    }

    /// Opens a read transaction for the reads of this turn of the runtime, when none is open:
    /// the reads that run before the runtime next gets to [`end_reads`] share it. Taking and
    /// dropping SQLite's shared locks (file and WAL-index locks, four `fcntl` calls) is most of
    /// what a point read costs; shared, it is paid once per turn instead of once per read. The
    /// snapshot is no older than the turn: a batch of writes ends the transaction before it
    /// begins its own (so a read after one of this process's commits sees it), and another
    /// process's commit is seen from the next turn on (as if the read had run a moment
    /// earlier). Outside a tokio runtime each read is its own transaction.
    fn share_reads(&self, conn: &Connection) {
        if !conn.is_autocommit() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        if exec(conn, "BEGIN", []).is_err() {
            return;
        }
        let worker = Arc::downgrade(&self.worker);
        runtime.spawn(async move {
            BackOfTheQueue(false).await;
            if let Some(worker) = worker.upgrade() {
                end_reads(&worker.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            }
        });
    }

    fn failed(&self) -> LedgerError {
        LedgerError::Unavailable(format!("a SQLite ledger call on {} failed unexpectedly", self.path.display()))
    }

    /// Asks the checkpointer for a checkpoint every [`CHECKPOINT_EVERY`] calls.
    fn count_call(&self) {
        use std::sync::atomic::Ordering;
        let made = self.worker.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(kick) = &self.worker.checkpoints
            && made % CHECKPOINT_EVERY == 0
        {
            // Full means a request is already waiting: nothing to add.
            let _ = kick.try_send(());
        }
    }
}

/// Pending once, woken at once: the task goes to the back of its worker's run queue, behind the
/// requests already runnable (which reach their writes and join the batch), without waiting for
/// the next poll of the IO driver as `tokio::task::yield_now` does (which would let requests
/// that arrive meanwhile hold the batch up too).
struct BackOfTheQueue(bool);

impl std::future::Future for BackOfTheQueue {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

impl Worker {
    /// Runs the queued writes as one batch: here when the connection is free and SQLite does
    /// not answer busy, else on the ledger thread, which waits for the lock.
    fn flush(&self) {
        let queued = std::mem::take(&mut *self.writes.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        // The marks go first: answered first, they are settled (taken off the waiting list, or
        // handed back) before any caller of the batch hears its answer.
        let mut writes: Vec<Box<dyn Write>> = Marks::write(&self.marks).into_iter().collect();
        writes.extend(queued);
        if writes.is_empty() {
            return;
        }
        let writes = match self.conn.try_lock() {
            Ok(mut conn) => match batch(&mut conn, writes, true, &self.commits, &self.restart) {
                None => return,
                Some(busy) => busy,
            },
            Err(_) => writes,
        };
        self.batch_on_the_thread(writes);
    }

    /// Runs `writes` as one batch on the ledger thread, which waits for another process's lock.
    /// The queue is closed only when the last clone is gone (and in [`Worker::drop`], after
    /// this), and a queued write holds one through its batch's task: the send cannot fail. Were
    /// it to, the writes are dropped with the job and every caller hears that its write failed.
    fn batch_on_the_thread(&self, writes: Vec<Box<dyn Write>>) {
        let commits = Arc::clone(&self.commits);
        let restart = Arc::clone(&self.restart);
        let job: Job = Box::new(move |conn| {
            let _ = batch(conn, writes, false, &commits, &restart);
        });
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
    }
}

/// Commits the waiting processed marks that no batch of writes has taken along within
/// [`MARK_WAITS_AT_MOST`] of the oldest (or of the last failed try), one batch at a time; ends
/// when none are waiting (or the ledger is gone: its drop writes them).
async fn watch_marks(worker: std::sync::Weak<Worker>) {
    loop {
        let due = {
            let Some(worker) = worker.upgrade() else { return };
            let mut marks = worker.marks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match marks.since {
                None => {
                    marks.watched = false;
                    return;
                }
                // A batch that writes them is under way: look again later.
                Some(_) if marks.taken > 0 => tokio::time::Instant::now() + MARK_WAITS_AT_MOST,
                Some(since) => since + MARK_WAITS_AT_MOST,
            }
        };
        tokio::time::sleep_until(due).await;
        let Some(worker) = worker.upgrade() else { return };
        let overdue = {
            let marks = worker.marks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            marks.taken == 0 && marks.since.is_some_and(|since| since.elapsed() >= MARK_WAITS_AT_MOST)
        };
        if overdue {
            worker.flush();
        }
    }
}

/// Ends the read transaction [`SqliteLedger::share_reads`] opened, if it is still open. Only
/// reads ran in it (every write runs in a batch, which ends it first), so there is nothing to
/// commit: this only lets go of the snapshot and the shared locks.
fn end_reads(conn: &Connection) {
    if !conn.is_autocommit() && exec(conn, "COMMIT", []).is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Runs `writes` in one `BEGIN IMMEDIATE` transaction and answers each of them (see
/// [`SqliteLedger::with_write`]). With `hand_off`, SQLite answering busy (another process holds
/// the write lock) rolls back and gives the writes back untouched, to run where waiting for the
/// lock is allowed; without it, busy is the answer (after the connection's busy timeout).
/// When `restart` is set, the rest of the log is copied back first (see [`SqliteLedger`]).
fn batch(
    conn: &mut Connection,
    mut writes: Vec<Box<dyn Write>>,
    hand_off: bool,
    commits: &std::sync::atomic::AtomicUsize,
    restart: &std::sync::atomic::AtomicBool,
) -> Option<Vec<Box<dyn Write>>> {
    BUSY.with(|b| b.set(false));
    // The reads of this turn may hold a read transaction open; a write takes the lock afresh.
    end_reads(conn);
    if restart.swap(false, std::sync::atomic::Ordering::Relaxed) {
        // Passive: when the checkpointer or a reader is in the way this copies less (or
        // nothing), the log is not started over this time, and a later checkpoint asks again.
        if let Err(e) = checkpoint(conn) {
            tracing::debug!(error = %e, "SQLite checkpoint before a write did not run; a later one will");
        }
    }
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), LedgerError> {
        exec(conn, "BEGIN IMMEDIATE", []).map_err(sql)?;
        for write in writes.iter_mut() {
            let own = write.run(conn);
            if BUSY.with(|b| b.get()) || conn.is_autocommit() {
                // SQLite rolled the transaction back (or a write met a lock): nothing of the
                // batch is written.
                return Err(match own {
                    Err(e) => e,
                    Ok(()) => LedgerError::Unavailable("SQLite rolled back a ledger transaction".into()),
                });
            }
        }
        exec(conn, "COMMIT", []).map_err(sql)?;
        Ok(())
    }));
    let failure = match ran {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => {
            tracing::error!("a SQLite ledger write panicked; its batch was rolled back and the ledger carries on");
            Some(LedgerError::Unavailable("a SQLite ledger write failed unexpectedly; nothing of its batch was written".into()))
        }
    };
    if let Some(failure) = failure {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if hand_off && BUSY.with(|b| b.get()) {
            return Some(writes);
        }
        for write in writes {
            write.answer(Some(&failure));
        }
        return None;
    }
    commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    for write in writes {
        write.answer(None);
    }
    None
}

/// A passive checkpoint on `conn`: copies what no reader still needs, never waits for a lock,
/// never blocks the writer (what it cannot copy now, a later one does). Answers how many frames
/// the log held when it began.
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}

/// The checkpointer: its own connection to `path`, a passive checkpoint on every request and
/// once a second when `calls` moved; it sets `restart` when the log had grown to
/// [`RESTART_AFTER_FRAMES`]. `None` when its connection cannot be opened.
fn start_checkpointer(path: &Path, calls: Arc<std::sync::atomic::AtomicUsize>, restart: Arc<std::sync::atomic::AtomicBool>) -> Option<(std::sync::mpsc::SyncSender<()>, std::thread::JoinHandle<()>)> {
    let conn = Connection::open(path).ok()?;
    let (kick, kicks) = std::sync::mpsc::sync_channel::<()>(1);
    let thread = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            use std::sync::mpsc::RecvTimeoutError;
            let mut checkpointed_at = 0;
            loop {
                match kicks.recv_timeout(Duration::from_secs(1)) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
                let made = calls.load(std::sync::atomic::Ordering::Relaxed);
                if made == checkpointed_at {
                    continue;
                }
                checkpointed_at = made;
                match checkpoint(&conn) {
                    Ok(frames) if frames >= RESTART_AFTER_FRAMES => {
                        let passes = catch_up(frames, || checkpoint(&conn));
                        tracing::debug!(frames, passes, "SQLite write-ahead log caught up; the next batch of writes starts it over");
                        restart.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "SQLite checkpoint did not run; the next one will"),
                }
            }
        })
        .ok()?;
    Some((kick, thread))
}

/// Copies back what was committed while the checkpoint that saw `frames` ran, and again while
/// that ran, until a pass saw no more than [`CAUGHT_UP_FRAMES`] new frames (or after
/// [`CATCH_UP_PASSES`]), so that the batch that starts the log over has only the last few
/// frames to copy, with its `fsync`s, on the event path. Answers the passes made.
fn catch_up(frames: i64, mut checkpoint: impl FnMut() -> rusqlite::Result<i64>) -> usize {
    let mut seen = frames;
    for pass in 1..=CATCH_UP_PASSES {
        match checkpoint() {
            Ok(now) if now - seen > CAUGHT_UP_FRAMES => seen = now,
            _ => return pass,
        }
    }
    CATCH_UP_PASSES
}

/// The ledger thread: runs the calls that met a lock on its own connection (`conn`), waiting
/// for the lock up to [`BUSY_TIMEOUT`], until every sender is gone.
fn run(mut conn: Connection, queue: std::sync::mpsc::Receiver<Job>) {
    while let Ok(job) = queue.recv() {
        // A panic in one call must not take the ledger down for the rest of the process. It
        // cannot leave a half-done write behind either: every multi-statement change runs in a
        // transaction that rolls back when dropped during the unwind.
        let call = std::panic::AssertUnwindSafe(|| job(&mut conn));
        if std::panic::catch_unwind(call).is_err() {
            tracing::error!("a SQLite ledger call panicked; the ledger carries on");
        }
    }
}

/// The settings every connection that writes runs with (they last for the connection):
/// - `synchronous = NORMAL`: in WAL mode a commit survives a crash of the process, and the log
///   is fsynced at each checkpoint (a power loss can lose the commits since the last one);
/// - `ignore_check_constraints`: the `actions.status IN (...)` check is not evaluated on our
///   writes. SQLite evaluates that list through a temporary index built for every claim and
///   every completion (a b-tree opened, a page allocated and zeroed, three rows inserted, all
///   torn down again); with the global locks that `.cargo/config.toml` compiles out, that was
///   11% of a live event's instructions (docs/host.md). The statuses this code writes are fixed
///   strings (`claimed` in the claim's SQL, `done` and `failed` from [`Completion`]); the
///   constraint stays in the schema for any other writer.
fn settle(conn: &Connection) -> Result<(), LedgerError> {
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
    conn.pragma_update(None, "ignore_check_constraints", true).map_err(sql)?;
    Ok(())
}

fn init(conn: &Connection) -> Result<(), LedgerError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(sql)?;
    if version > SCHEMA_VERSION {
        return Err(LedgerError::Corrupt(format!(
            "the ledger was written by a newer aks-cadence (schema {version}, this build knows {SCHEMA_VERSION}); upgrade the handler or point CADENCE_STATE at a new file"
        )));
    }
    // `journal_mode` answers with the mode in force; a file system without shared memory
    // support keeps its old mode, which is still correct (only slower under concurrency).
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).map_err(sql)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(journal_mode = %mode, "SQLite ledger is not in WAL mode; concurrent processes will wait on each other");
    }
    settle(conn)?;
    // One transaction: one commit for the whole schema instead of one per table.
    let version_update = if version == SCHEMA_VERSION { String::new() } else { format!("PRAGMA user_version = {SCHEMA_VERSION};") };
    conn.execute_batch(&format!("BEGIN IMMEDIATE; {SCHEMA} {version_update} COMMIT;")).map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        sql(e)
    })?;
    Ok(())
}

/// Classifies a SQLite error where it is born: lock contention and IO are worth a retry,
/// everything else needs a person.
fn sql(e: rusqlite::Error) -> LedgerError {
    if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)) {
        BUSY.with(|b| b.set(true));
    }
    match e.sqlite_error_code() {
        Some(
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::OutOfMemory
            | ErrorCode::OperationInterrupted
            | ErrorCode::FileLockingProtocolFailed,
        ) => LedgerError::Unavailable(e.to_string()),
        _ => LedgerError::Corrupt(e.to_string()),
    }
}

fn to_nanos(t: Timestamp) -> Result<i64, LedgerError> {
    i64::try_from(t.as_nanosecond()).map_err(|_| LedgerError::Corrupt(format!("timestamp {t} is out of the ledger's range")))
}

fn from_nanos(n: i64) -> Result<Timestamp, LedgerError> {
    Timestamp::from_nanosecond(i128::from(n)).map_err(|e| LedgerError::Corrupt(format!("stored time {n} is invalid: {e}")))
}

/// One row of `actions`, as stored.
struct Row {
    status: String,
    owner: Option<String>,
    until: Option<i64>,
    detail: Option<String>,
    updated_at: i64,
}

impl Row {
    fn state(self, key: &str) -> Result<ActionState, LedgerError> {
        match self.status.as_str() {
            "claimed" => Ok(ActionState::Claimed {
                owner: self.owner.unwrap_or_default(),
                until: from_nanos(self.until.ok_or_else(|| LedgerError::Corrupt(format!("claimed key {key} has no expiry")))?)?,
            }),
            "done" => Ok(ActionState::Done { detail: self.detail.unwrap_or_default(), at: from_nanos(self.updated_at)? }),
            "failed" => Ok(ActionState::Failed { reason: self.detail.unwrap_or_default(), at: from_nanos(self.updated_at)? }),
            other => Err(LedgerError::Corrupt(format!("key {key} has unknown status `{other}`"))),
        }
    }
}

/// Runs a cached statement (prepared once per connection, then reused).
fn exec(conn: &Connection, statement: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(statement)?.execute(p)
}

/// Marks `event_id` processed at `at` (nanoseconds); `false` when it already was.
fn insert_mark(conn: &Connection, event_id: &str, at: i64) -> Result<bool, LedgerError> {
    let n = exec(conn, "INSERT INTO events (event_id, processed_at) VALUES (?1, ?2) ON CONFLICT (event_id) DO NOTHING", params![event_id, at])
        .map_err(sql)?;
    Ok(n == 1)
}

/// Runs a cached query that returns one row (or `QueryReturnedNoRows`).
fn one<T>(conn: &Connection, statement: &str, p: impl rusqlite::Params, f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    conn.prepare_cached(statement)?.query_row(p, f)
}

fn read_row(conn: &Connection, key: &str) -> Result<Option<Row>, LedgerError> {
    conn.prepare_cached("SELECT status, owner, until, detail, updated_at FROM actions WHERE key = ?1")
        .and_then(|mut stmt| {
            stmt.query_row(params![key], |r| {
                Ok(Row { status: r.get(0)?, owner: r.get(1)?, until: r.get(2)?, detail: r.get(3)?, updated_at: r.get(4)? })
            })
            .optional()
        })
        .map_err(sql)
}

#[async_trait]
impl Ledger for SqliteLedger {
    async fn mark_event_processed(&self, event_id: &str, at: Timestamp) -> Result<bool, LedgerError> {
        let (id, at) = (event_id.to_string(), to_nanos(at)?);
        self.with_write(move |c| insert_mark(c, &id, at)).await
    }

    /// The mark waits in memory and is written with the next batch of writes (an event's first
    /// sighting or claim, under load the next event's), or on its own once it has waited
    /// [`MARK_WAITS_AT_MOST`], or when the ledger is dropped (a clean stop); `event_processed`
    /// in this process sees it meanwhile. So at a steady rate the mark costs no commit of its
    /// own, and the delivery's answer does not wait for one. Another process sharing the file
    /// sees it once committed.
    async fn mark_event_processed_soon(&self, event_id: &str, at: Timestamp) -> Result<(), LedgerError> {
        let at = to_nanos(at)?;
        let watch = {
            let mut marks = self.worker.marks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // A mark made again while a batch carries it (a duplicate delivery) waits again:
            // that batch removes it only if it commits.
            marks.waiting.insert(event_id.to_string(), (at, false));
            marks.since.get_or_insert_with(tokio::time::Instant::now);
            !std::mem::replace(&mut marks.watched, true)
        };
        if watch {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(watch_marks(Arc::downgrade(&self.worker)));
                }
                Err(_) => {
                    self.worker.marks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).watched = false;
                    self.worker.flush();
                }
            }
        }
        Ok(())
    }

    async fn event_processed(&self, event_id: &str) -> Result<bool, LedgerError> {
        if self.worker.marks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).waiting.contains_key(event_id) {
            return Ok(true);
        }
        let id = event_id.to_string();
        self.with_conn(move |c| {
            one(c, "SELECT 1 FROM events WHERE event_id = ?1", params![id], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
                .map_err(sql)
        })
        .await
    }

    async fn first_seen(&self, concern_key: &str, at: Timestamp) -> Result<Timestamp, LedgerError> {
        let (key, at) = (concern_key.to_string(), to_nanos(at)?);
        self.with_write(move |c| {
            // Insert-if-absent then read, in one statement: whoever wrote first wins, and every
            // caller (in any process) gets that first value back.
            let stored: i64 = one(c, 
                    "INSERT INTO first_seen (concern_key, at) VALUES (?1, ?2)
                     ON CONFLICT (concern_key) DO UPDATE SET at = first_seen.at
                     RETURNING at",
                    params![key, at],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            from_nanos(stored)
        })
        .await
    }

    async fn seen(&self, concern_key: &str) -> Result<Option<Timestamp>, LedgerError> {
        let key = concern_key.to_string();
        self.with_conn(move |c| {
            let stored: Option<i64> = one(c, "SELECT at FROM first_seen WHERE concern_key = ?1", params![key], |r| r.get(0))
                .optional()
                .map_err(sql)?;
            stored.map(from_nanos).transpose()
        })
        .await
    }

    async fn action_state(&self, key: &ActionKey) -> Result<Option<ActionState>, LedgerError> {
        let key = key.as_str().to_string();
        self.with_conn(move |c| read_row(c, &key)?.map(|r| r.state(&key)).transpose()).await
    }

    async fn claim(&self, key: &ActionKey, owner: &str, now: Timestamp, lease: SignedDuration) -> Result<Claim, LedgerError> {
        let key = key.as_str().to_string();
        let owner = owner.to_string();
        let until_ts = now
            .checked_add(lease)
            .map_err(|e| LedgerError::Corrupt(format!("lease {lease} from {now} overflows: {e}")))?;
        let (now, until) = (to_nanos(now)?, to_nanos(until_ts)?);
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.with_write(move |c| {
            // The batch's transaction began IMMEDIATE: it took the write lock up front, so no
            // other process can slip in between the upsert and the read-back below.
            // Insert a fresh claim, or take over a claim whose lease has run out. Done and
            // failed rows, and live claims, are left alone (the WHERE makes the update a no-op).
            let taken = exec(c, 
                    "INSERT INTO actions (key, status, owner, token, until, detail, updated_at)
                     VALUES (?1, 'claimed', ?2, ?3, ?4, NULL, ?5)
                     ON CONFLICT (key) DO UPDATE SET
                         owner = excluded.owner, token = excluded.token,
                         until = excluded.until, updated_at = excluded.updated_at
                     WHERE actions.status = 'claimed' AND actions.until <= excluded.updated_at",
                    params![key, owner, token, until, now],
                )
                .map_err(sql)?;
            let outcome = if taken == 1 {
                Claim::Acquired(ClaimToken(token.clone()))
            } else {
                let row = read_row(c, &key)?.ok_or_else(|| LedgerError::Corrupt(format!("key {key} vanished during a claim")))?;
                match row.state(&key)? {
                    ActionState::Claimed { owner, until } => Claim::HeldElsewhere { owner, until },
                    finished => Claim::Finished(finished),
                }
            };
            Ok(outcome)
        })
        .await
    }

    async fn complete(&self, key: &ActionKey, token: &ClaimToken, completion: Completion, now: Timestamp) -> Result<(), LedgerError> {
        let key = key.as_str().to_string();
        let token = token.0.clone();
        let now = to_nanos(now)?;
        let (status, detail) = match completion {
            Completion::Done { detail } => ("done", detail),
            Completion::Failed { reason } => ("failed", reason),
        };
        self.with_write(move |c| {
            // The token check makes a stale worker (whose claim expired and was taken over)
            // unable to overwrite the new holder's row.
            let n = exec(c, 
                    "UPDATE actions SET status = ?3, detail = ?4, updated_at = ?5, token = NULL, until = NULL
                     WHERE key = ?1 AND token = ?2 AND status = 'claimed'",
                    params![key, token, status, detail, now],
                )
                .map_err(sql)?;
            if n == 1 { Ok(()) } else { Err(LedgerError::LostClaim { key: key.clone() }) }
        })
        .await
    }

    async fn release(&self, key: &ActionKey, token: &ClaimToken) -> Result<(), LedgerError> {
        let key = key.as_str().to_string();
        let token = token.0.clone();
        self.with_write(move |c| {
            let n = exec(c, "DELETE FROM actions WHERE key = ?1 AND token = ?2 AND status = 'claimed'", params![key, token])
                .map_err(sql)?;
            if n == 1 { Ok(()) } else { Err(LedgerError::LostClaim { key: key.clone() }) }
        })
        .await
    }

    async fn get_ref(&self, concern_key: &str, channel: &str) -> Result<Option<String>, LedgerError> {
        let (k, ch) = (concern_key.to_string(), channel.to_string());
        self.with_conn(move |c| {
            one(c, "SELECT value FROM refs WHERE concern_key = ?1 AND channel = ?2", params![k, ch], |r| r.get(0))
                .optional()
                .map_err(sql)
        })
        .await
    }

    async fn put_ref(&self, concern_key: &str, channel: &str, value: &str) -> Result<(), LedgerError> {
        let (k, ch, v) = (concern_key.to_string(), channel.to_string(), value.to_string());
        self.with_write(move |c| {
            exec(c, 
                "INSERT INTO refs (concern_key, channel, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (concern_key, channel) DO UPDATE SET value = excluded.value",
                params![k, ch, v],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn put_fleet(&self, cluster_key: &str, value: &str) -> Result<(), LedgerError> {
        let (k, v) = (cluster_key.to_string(), value.to_string());
        self.with_write(move |c| {
            exec(c, "INSERT INTO fleet (cluster_key, value) VALUES (?1, ?2) ON CONFLICT (cluster_key) DO UPDATE SET value = excluded.value", params![k, v])
                .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn fleet_of(&self, cluster_key: &str) -> Result<Option<String>, LedgerError> {
        let k = cluster_key.to_string();
        self.with_conn(move |c| {
            let mut stmt = c.prepare_cached("SELECT value FROM fleet WHERE cluster_key = ?1").map_err(sql)?;
            stmt.query_row(params![k], |r| r.get::<_, String>(0)).optional().map_err(sql)
        })
        .await
    }

    async fn fleet(&self) -> Result<Vec<(String, String)>, LedgerError> {
        self.with_conn(|c| {
            let mut stmt = c.prepare_cached("SELECT cluster_key, value FROM fleet ORDER BY cluster_key").map_err(sql)?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(sql)?;
            rows.collect::<Result<Vec<(String, String)>, _>>().map_err(sql)
        })
        .await
    }

    async fn list_actions(&self) -> Result<Vec<(ActionKey, ActionState)>, LedgerError> {
        self.with_conn(|c| {
            let mut stmt = c.prepare_cached("SELECT key, status, owner, until, detail, updated_at FROM actions ORDER BY key").map_err(sql)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((r.get::<_, String>(0)?, Row { status: r.get(1)?, owner: r.get(2)?, until: r.get(3)?, detail: r.get(4)?, updated_at: r.get(5)? }))
                })
                .map_err(sql)?;
            let mut out = Vec::new();
            for row in rows {
                let (key, row) = row.map_err(sql)?;
                let state = row.state(&key)?;
                out.push((ActionKey::from_raw(key), state));
            }
            Ok(out)
        })
        .await
    }

    async fn queue_notification(&self, key: &ActionKey, action: &str, at: Timestamp) -> Result<(), LedgerError> {
        let (key, action, at) = (key.as_str().to_string(), action.to_string(), to_nanos(at)?);
        self.with_write(move |c| {
            exec(c, 
                "INSERT INTO pending (key, action, queued_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                 ON CONFLICT (key) DO UPDATE SET action = excluded.action,
                     updated_at = max(pending.updated_at, excluded.updated_at)",
                params![key, action, at],
            )
            .map_err(sql)?;
            Ok(())
        })
        .await
    }

    async fn pending_notifications(&self) -> Result<Vec<PendingNotification>, LedgerError> {
        self.with_conn(|c| {
            let mut stmt = c.prepare_cached("SELECT key, action, queued_at, updated_at FROM pending ORDER BY queued_at, key").map_err(sql)?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?)))
                .map_err(sql)?;
            let mut out = Vec::new();
            for row in rows {
                let (key, action, queued_at, updated_at) = row.map_err(sql)?;
                out.push(PendingNotification {
                    key: ActionKey::from_raw(key),
                    action,
                    queued_at: from_nanos(queued_at)?,
                    updated_at: from_nanos(updated_at)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn remove_notification(&self, key: &ActionKey) -> Result<(), LedgerError> {
        let key = key.as_str().to_string();
        self.with_write(move |c| {
            exec(c, "DELETE FROM pending WHERE key = ?1", params![key]).map_err(sql)?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::ActionKey;
    use crate::store::{Claim, Ledger};

    /// A connection set up as the ledger's own: the schema, its settings, no automatic checkpoint.
    fn ledger_connection(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        init(&conn).unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn
    }

    fn commit_sightings(conn: &Connection, from: usize, n: usize) {
        for i in from..from + n {
            exec(conn, "INSERT INTO first_seen (concern_key, at) VALUES (?1, ?2)", params![format!("concern-{i}"), i as i64]).unwrap();
        }
    }

    /// One write for a batch, as the event path queues one, and where its answer arrives.
    fn one_write(key: &str) -> (Box<dyn Write>, tokio::sync::oneshot::Receiver<Result<(), LedgerError>>) {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let key = key.to_string();
        let f = move |c: &mut Connection| exec(c, "INSERT INTO first_seen (concern_key, at) VALUES (?1, 0)", params![key]).map(|_| ()).map_err(sql);
        (Box::new(PendingWrite { f, kept: None, answer }), answered)
    }

    /// A mark is carried by one batch at a time: a second batch made while the first is under
    /// way writes none of it again; a batch that did not commit leaves it for the next one, and
    /// one that committed takes it off the waiting list.
    #[test]
    fn a_waiting_mark_is_carried_by_one_batch_at_a_time_until_one_commits() {
        let marks: Arc<std::sync::Mutex<Marks>> = Arc::default();
        let wait = |id: &str| {
            marks.lock().unwrap().waiting.insert(id.to_string(), (1, false));
        };
        let carried = |write: &Option<Box<dyn Write>>| write.is_some();
        wait("e-1");
        let first = Marks::write(&marks);
        assert!(carried(&first));
        assert!(!carried(&Marks::write(&marks)), "e-1 is carried by the first batch already");
        wait("e-2");
        let second = Marks::write(&marks);
        assert!(carried(&second), "e-2 was not carried yet");
        assert_eq!(marks.lock().unwrap().taken, 2);
        // The first batch fails: e-1 waits for the next one.
        first.unwrap().answer(Some(&LedgerError::Unavailable("rolled back".into())));
        assert_eq!(marks.lock().unwrap().taken, 1);
        let third = Marks::write(&marks);
        assert!(carried(&third), "e-1 is carried again");
        assert!(marks.lock().unwrap().since.is_some());
        // The second and third commit: nothing waits any more.
        let dir = tempfile::tempdir().unwrap();
        let mut conn = ledger_connection(&dir.path().join("cadence.db"));
        for write in [second, third] {
            let mut write = write.unwrap();
            write.run(&mut conn).unwrap();
            write.answer(None);
        }
        let marks = marks.lock().unwrap();
        assert!(marks.waiting.is_empty() && marks.since.is_none() && marks.taken == 0);
    }

    /// Under a steady stream of writes a commit lands while the checkpointer copies, so the
    /// write after it begins with frames left to copy and SQLite appends to the log instead of
    /// starting it over. Asked to (`restart`), a batch copies the rest first, and its commit
    /// starts the log over.
    #[test]
    fn a_batch_asked_to_restart_the_log_copies_the_rest_back_first_and_its_commit_starts_the_log_over() {
        for asked in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("cadence.db");
            let mut conn = ledger_connection(&path);
            let checkpointer = Connection::open(&path).unwrap();
            commit_sightings(&conn, 0, 200);
            // A write that began before the checkpoint and commits after it.
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            commit_sightings(&conn, 200, 1);
            assert!(checkpoint(&checkpointer).unwrap() >= 200, "the log holds a frame per commit");
            conn.execute_batch("COMMIT").unwrap();
            let (commits, restart) = (std::sync::atomic::AtomicUsize::new(0), std::sync::atomic::AtomicBool::new(asked));
            let (write, mut answered) = one_write("after");
            assert!(batch(&mut conn, vec![write], true, &commits, &restart).is_none(), "the batch ran here");
            assert!(matches!(answered.try_recv(), Ok(Ok(()))), "the write is answered once committed");
            assert_eq!(commits.load(std::sync::atomic::Ordering::Relaxed), 1);
            assert!(!restart.load(std::sync::atomic::Ordering::Relaxed), "the request is used up");
            let frames = checkpoint(&checkpointer).unwrap();
            if asked {
                assert!(frames < 10, "the batch's commit started the log over: {frames} frames");
            } else {
                assert!(frames > 200, "without the request the log only grows: {frames} frames");
            }
            // Nothing was lost either way.
            let rows: i64 = conn.query_row("SELECT count(*) FROM first_seen", [], |r| r.get(0)).unwrap();
            assert_eq!(rows, 202);
        }
    }

    /// The checkpointer asks for the log to be started over once a checkpoint found it
    /// [`RESTART_AFTER_FRAMES`] long, and not before.
    #[test]
    fn the_checkpointer_asks_for_a_restart_once_the_log_is_long() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cadence.db");
        let conn = ledger_connection(&path);
        let calls: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let restart: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let (kick, thread) = start_checkpointer(&path, Arc::clone(&calls), Arc::clone(&restart)).unwrap();
        // A reader on the file as it was keeps every checkpoint from copying anything, so each
        // checkpoint below sees the whole log.
        let reader = Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader.query_row("SELECT count(*) FROM first_seen", [], |r| r.get(0)).unwrap();
        let checkpoint_now = || {
            calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            // The channel holds one request: the third send returns once the thread has taken
            // the second, that is once the checkpoint the first asked for has run.
            for _ in 0..3 {
                kick.send(()).unwrap();
            }
        };
        commit_sightings(&conn, 0, 100);
        checkpoint_now();
        assert!(!restart.load(std::sync::atomic::Ordering::Relaxed), "a short log is left to grow");
        commit_sightings(&conn, 100, RESTART_AFTER_FRAMES as usize);
        checkpoint_now();
        assert!(restart.load(std::sync::atomic::Ordering::Relaxed), "a log of {RESTART_AFTER_FRAMES} frames or more is to be started over");
        reader.execute_batch("COMMIT").unwrap();
        drop(kick);
        thread.join().unwrap();
    }

    /// The catch-up before a restart goes on while commits keep landing during its passes, and
    /// stops at the first pass that saw few new frames, or at a failed one, or after
    /// [`CATCH_UP_PASSES`].
    #[test]
    fn the_catch_up_before_a_restart_stops_once_a_pass_saw_few_new_frames() {
        let passes = |frames: Vec<rusqlite::Result<i64>>| {
            let mut frames = frames.into_iter();
            catch_up(4_096, || frames.next().expect("no more passes than the test gives"))
        };
        assert_eq!(passes(vec![Ok(4_300), Ok(4_400), Ok(4_400 + CAUGHT_UP_FRAMES)]), 3);
        assert_eq!(passes(vec![Ok(4_096 + CAUGHT_UP_FRAMES + 1), Ok(4_096 + CAUGHT_UP_FRAMES + 1)]), 2);
        assert_eq!(passes(vec![Ok(4_200), Err(rusqlite::Error::InvalidQuery)]), 2);
        let steady = (1..=CATCH_UP_PASSES as i64).map(|n| Ok(4_096 + 20 * n)).collect();
        assert_eq!(passes(steady), CATCH_UP_PASSES);
    }

    /// A read that finds the callers' connection held by another task for a moment waits for
    /// it, and is not handed to the ledger thread: there it would queue behind a write that
    /// waits for another process's lock, and so wait for that process's commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_that_meets_the_connection_in_use_waits_for_it_not_behind_a_write_waiting_for_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cadence.db");
        let ledger = SqliteLedger::open(&path).unwrap();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        ledger.first_seen("before", now).await.unwrap();
        // Another process holds the write lock: the claim goes to the ledger thread and waits.
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let claim = {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.claim(&ActionKey::from_raw("k"), "me", now, jiff::SignedDuration::from_mins(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!claim.is_finished(), "the claim waits for the other process's lock");
        // Another task holds the callers' connection for a moment, as a batch or a read does.
        let (held, holding) = std::sync::mpsc::channel();
        let worker = Arc::clone(&ledger.worker);
        let holder = std::thread::spawn(move || {
            let conn = worker.conn.lock().unwrap();
            held.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            drop(conn);
        });
        holding.recv().unwrap();
        let read = tokio::time::timeout(Duration::from_secs(2), ledger.seen("before")).await;
        assert_eq!(read.expect("the read answers before the other process commits").unwrap(), Some(now));
        holder.join().unwrap();
        other.execute_batch("COMMIT").unwrap();
        assert!(matches!(claim.await.unwrap().unwrap(), Claim::Acquired(_)), "the claim runs once the lock is free");
    }

    /// The ledger's connections skip the `status` check (`settle`), so every status they write
    /// must be one the check allows; and the check still guards any other writer of the file.
    #[tokio::test]
    async fn every_status_the_ledger_writes_is_one_the_schema_allows_and_other_writers_are_still_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cadence.db");
        let ledger = SqliteLedger::open(&path).unwrap();
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let lease = jiff::SignedDuration::from_mins(5);
        let completions = [None, Some(Completion::Done { detail: "d".into() }), Some(Completion::Failed { reason: "r".into() })];
        for (i, completion) in completions.into_iter().enumerate() {
            let key = ActionKey::from_raw(&format!("k{i}"));
            let Claim::Acquired(token) = ledger.claim(&key, "me", now, lease).await.unwrap() else { panic!("a fresh key is acquired") };
            if let Some(completion) = completion {
                ledger.complete(&key, &token, completion, now).await.unwrap();
            }
        }
        drop(ledger);
        let other = Connection::open(&path).unwrap();
        let statuses: Vec<String> =
            other.prepare("SELECT status FROM actions ORDER BY key").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(statuses, ["claimed", "done", "failed"]);
        let refused = other.execute("UPDATE actions SET status = 'finished' WHERE key = 'k1'", []).unwrap_err();
        assert!(refused.to_string().contains("CHECK constraint failed"), "{refused}");
    }
}
