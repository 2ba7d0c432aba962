//! What the digest queue costs: N email notifications sent at once (the baseline, an executor
//! without a digest window: one plan, one batch) against the queue path the Functions host
//! takes (N invocations of one email action each, `QUEUE_BOUND` at a time, on an executor
//! `with_digest`, then one `flush_digests` a quiet period later that sends the whole queue as
//! one plan).
//!
//! The adapter is a no-op that handles `ActionKind::Email`, answers `Ok` for every action and
//! records its batch sizes, so the figures are the executor's and the ledger's work only. Each
//! path runs on a fresh, empty ledger; the run checks (asserts) that the flush handed the
//! adapter exactly one batch of N and left the queue empty. A counting wrapper around the
//! ledger reports the ledger calls of each phase.
//!
//! SQLite (a temporary file) always, as is and with a fixed latency before every ledger call
//! (`DIGEST_QUEUE_LATENCY_MS`, default 2; 0 skips it): the round trip of a storage account,
//! where calls made one at a time add up and bounded concurrency pays. With `CADENCE_TEST_AZURITE_BLOB` set (`source
//! scripts/services.sh && start_services`) also the blob ledger on Azurite, one fresh container
//! per path (deleted afterwards).
//!
//! ```text
//! cargo bench --profile dev --bench digest_queue        # SQLite 1000,10000; +2 ms 1000; Azurite 1000
//! DIGEST_QUEUE_SQLITE=1000 DIGEST_QUEUE_LATENT=1000,3000 DIGEST_QUEUE_BLOB=1000,3000 cargo bench --profile dev --bench digest_queue
//! ```
//! The work is ledger calls and waiting, so `--profile dev` shows the same shape as a release
//! build (absolute CPU figures are higher).
//! ```text
//! ```

#[path = "support/counting_ledger.rs"]
mod counting_ledger;
#[path = "../tests/ledger_blob_support/mod.rs"]
mod ledger_blob_support;
#[path = "../tests/pipeline_support/mod.rs"]
mod pipeline_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aks_cadence::action::{Action, ActionKind};
use aks_cadence::actions::{Actuator, Performed};
use aks_cadence::execute::{DigestWindow, Executor, Outcome};
use aks_cadence::store::Ledger;
use aks_cadence::store::sqlite::SqliteLedger;
use async_trait::async_trait;
use counting_ledger::Counting;
use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};

/// Invocations in flight at once on the queue path (the host runs many side by side).
const QUEUE_BOUND: usize = 16;

const WINDOW: DigestWindow = DigestWindow { quiet: SignedDuration::from_secs(60), max_wait: SignedDuration::from_secs(900) };

fn now() -> Timestamp {
    "2026-03-01T10:00:00Z".parse().unwrap()
}

fn sizes(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// A notice about cluster `i` mailed to ops.
fn email_action(i: usize) -> Action {
    pipeline_support::email_action(&format!("aks-{i:05}"))
}

/// Handles email, sends nothing, answers `Ok` for each action and records batch sizes.
#[derive(Default)]
struct NoopMail {
    batches: Mutex<Vec<usize>>,
}

#[async_trait]
impl Actuator for NoopMail {
    fn name(&self) -> &'static str {
        "noop-email"
    }
    fn handles(&self, kind: &ActionKind) -> bool {
        matches!(kind, ActionKind::Email { .. })
    }
    async fn perform(&self, batch: &[Action]) -> Vec<Performed> {
        self.batches.lock().unwrap().push(batch.len());
        batch.iter().map(|_| Ok("sent (no-op)".into())).collect()
    }
}

struct Figures {
    n: usize,
    baseline: Duration,
    queue: Duration,
    flush: Duration,
    calls: Vec<(&'static str, u64, String)>,
}

fn executor(ledger: &Arc<Counting>, mail: &Arc<NoopMail>) -> Executor {
    let ledger: Arc<dyn Ledger> = Arc::clone(ledger) as Arc<dyn Ledger>;
    Executor::new(ledger, vec![Arc::clone(mail) as Arc<dyn Actuator>], "bench", SignedDuration::from_mins(5))
}

/// The baseline: the N actions executed at once, one plan, on an executor without a digest.
async fn baseline(inner: Arc<dyn Ledger>, latency: Duration, actions: &[Action]) -> (Duration, u64, String) {
    let ledger = Arc::new(Counting::new(inner, latency));
    let mail = Arc::new(NoopMail::default());
    let executor = executor(&ledger, &mail);
    let started = Instant::now();
    let report = executor.execute(actions.to_vec(), now()).await;
    let elapsed = started.elapsed();
    assert_eq!(report.count(|o| matches!(o, Outcome::Done { .. })), actions.len(), "baseline: every action done");
    assert_eq!(*mail.batches.lock().unwrap(), vec![actions.len()], "baseline: one batch of N");
    let (total, detail) = ledger.take();
    (elapsed, total, detail)
}

/// The queue path: N invocations of one action each, then one flush a quiet period later.
async fn queue_then_flush(inner: Arc<dyn Ledger>, latency: Duration, actions: &[Action]) -> (Duration, Duration, [(u64, String); 2]) {
    let n = actions.len();
    let ledger = Arc::new(Counting::new(inner, latency));
    let mail = Arc::new(NoopMail::default());
    let executor = executor(&ledger, &mail).with_digest(WINDOW);

    let started = Instant::now();
    let queued: usize = futures::stream::iter(actions)
        .map(|action| executor.execute(vec![action.clone()], now()))
        .buffer_unordered(QUEUE_BOUND)
        .map(|report| report.count(|o| *o == Outcome::Queued))
        .fold(0, |sum, q| async move { sum + q })
        .await;
    let queue = started.elapsed();
    assert_eq!(queued, n, "every invocation queued its notification");
    assert!(mail.batches.lock().unwrap().is_empty(), "nothing is sent while queueing");
    let queue_calls = ledger.take();

    let started = Instant::now();
    let flushed = executor.flush_digests(now() + SignedDuration::from_secs(61), false).await.expect("flush");
    let flush = started.elapsed();
    let flush_calls = ledger.take();

    assert_eq!(*mail.batches.lock().unwrap(), vec![n], "the flush hands the adapter exactly one batch of N");
    assert_eq!(flushed.report.count(|o| matches!(o, Outcome::Done { .. })), n, "every queued notification done");
    assert_eq!(flushed.waiting, 0, "nothing left waiting");
    let left = ledger.inner.pending_notifications().await.expect("read the queue");
    assert!(left.is_empty(), "the queue is empty after the flush ({} left)", left.len());
    (queue, flush, [queue_calls, flush_calls])
}

async fn measure(n: usize, latency: Duration, mut fresh: impl AsyncFnMut() -> Arc<dyn Ledger>) -> Figures {
    let actions: Vec<Action> = (0..n).map(email_action).collect();
    let (baseline, b_total, b_detail) = baseline(fresh().await, latency, &actions).await;
    let (queue, flush, [(q_total, q_detail), (f_total, f_detail)]) = queue_then_flush(fresh().await, latency, &actions).await;
    Figures {
        n,
        baseline,
        queue,
        flush,
        calls: vec![("baseline", b_total, b_detail), ("queue", q_total, q_detail), ("flush", f_total, f_detail)],
    }
}

fn print(ledger: &str, figures: &[Figures]) {
    println!("{ledger}:");
    println!("  {:>6}  {:>10}  {:>10}  {:>10}  {:>10}  {:>7}  {:>8}  {:>8}", "N", "baseline", "queue", "flush", "total", "total/b", "queue/N", "flush/b");
    for f in figures {
        let total = f.queue + f.flush;
        println!(
            "  {:>6}  {:>8.3} s  {:>8.3} s  {:>8.3} s  {:>8.3} s  {:>6.2}x  {:>5.0} µs  {:>7.2}x",
            f.n,
            f.baseline.as_secs_f64(),
            f.queue.as_secs_f64(),
            f.flush.as_secs_f64(),
            total.as_secs_f64(),
            total.as_secs_f64() / f.baseline.as_secs_f64(),
            f.queue.as_secs_f64() * 1e6 / f.n as f64,
            f.flush.as_secs_f64() / f.baseline.as_secs_f64(),
        );
    }
    for f in figures {
        for (phase, total, detail) in &f.calls {
            println!("    N={:<6} {phase:<8} {total:>6} ledger calls ({detail})", f.n);
        }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    println!(
        "digest_queue: N email notifications — baseline = sent at once (one plan, no digest window); queue = N invocations \
         of one action, {QUEUE_BOUND} at a time, then one flush_digests 61 s later (one plan)"
    );
    println!("  total/b = (queue + flush) / baseline; queue/N = queue time per invocation; flush/b = flush / baseline");

    let sqlite = async |n: usize, latency: Duration| {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut i = 0;
        measure(n, latency, async || {
            i += 1;
            Arc::new(SqliteLedger::open(dir.path().join(format!("cadence-{i}.db"))).expect("sqlite ledger")) as Arc<dyn Ledger>
        })
        .await
    };
    let mut figures = Vec::new();
    for n in sizes("DIGEST_QUEUE_SQLITE", &[1000, 10_000]) {
        figures.push(sqlite(n, Duration::ZERO).await);
    }
    print("SQLite ledger (temporary file)", &figures);

    let latency = Duration::from_millis(std::env::var("DIGEST_QUEUE_LATENCY_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(2));
    if !latency.is_zero() {
        let mut figures = Vec::new();
        for n in sizes("DIGEST_QUEUE_LATENT", &[1000]) {
            figures.push(sqlite(n, latency).await);
        }
        print(&format!("SQLite ledger + {} ms per call (a storage account's round trip)", latency.as_millis()), &figures);
    }

    if std::env::var("CADENCE_TEST_AZURITE_BLOB").is_ok() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let endpoint = ledger_blob_support::endpoint();
        let mut figures = Vec::new();
        for n in sizes("DIGEST_QUEUE_BLOB", &[1000]) {
            let mut urls = Vec::new();
            figures
                .push(
                    measure(n, Duration::ZERO, async || {
                        let (ledger, url) = ledger_blob_support::fresh_ledger("digestbench").await;
                        urls.push(url);
                        Arc::new(ledger) as Arc<dyn Ledger>
                    })
                    .await,
                );
            for url in urls {
                ledger_blob_support::delete_container(&url).await;
            }
        }
        print(&format!("blob ledger on Azurite ({endpoint})"), &figures);
    } else {
        println!("(set CADENCE_TEST_AZURITE_BLOB, e.g. `source scripts/services.sh && start_services`, for the blob ledger figures)");
    }
}
