//! Planning an inline sweep against a ledger with round-trip latency: `Pipeline::handle_snapshots`
//! in dry-run over N clusters (default 1,000), each with its sweep memory from the previous
//! sweep (one `Resolved` for a concern never seen) and one patch on offer (a concern opened;
//! an issue and a mail planned). Per cluster that is a memory read, a `first_seen`, a `seen`
//! and two `action_state` reads — what the blob ledger answers with one HTTP round trip each.
//!
//! The ledger is SQLite in a temporary directory behind a wrapper that sleeps a fixed latency
//! (default 2 ms, tokio timer) before every call (`benches/support/counting_ledger.rs`). Each bound runs on a fresh, identically seeded
//! ledger; the baseline in the same run is bound 1 (one call at a time, as planning did before
//! `LEDGER_CONCURRENCY`). Prints wall time, ledger calls and calls/s per bound, and the ratio to
//! the baseline.
//!
//! With `CADENCE_TEST_AZURITE_BLOB` set (`source scripts/services.sh && start_services`), the
//! same sweep also runs on the real blob ledger against Azurite, one fresh container per bound:
//! once as is (loopback HTTP: the single-threaded emulator's CPU is the limit, not latency), once
//! with the same added latency (a storage account's round trip).
//!
//! ```text
//! cargo bench --profile dev --bench plan_ledger                # 1000 clusters, 2 ms, bounds 1 and 16
//! PLAN_LEDGER_LATENCY_MS=5 PLAN_LEDGER_BOUNDS=1,4,16,64 cargo bench --profile dev --bench plan_ledger -- 2000
//! ```
//! The work is waiting, so `--profile dev` gives the same figures as a release build.

#[path = "support/counting_ledger.rs"]
mod counting_ledger;
#[path = "../tests/ledger_blob_support/mod.rs"]
mod ledger_blob_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aks_cadence::domain::{ClusterFacts, ClusterId, OfferedVersion, Origin, Signal, SignalKind};
use aks_cadence::pipeline::{LEDGER_CONCURRENCY, fixed_clock};
use aks_cadence::policy::Policy;
use aks_cadence::wiring::Parts;
use aks_cadence::store::sqlite::SqliteLedger;
use aks_cadence::store::Ledger;
use aks_cadence::sweep::ClusterSnapshot;
use aks_cadence::sweep::memory::{ClusterMemory, MEMORY_CHANNEL, Observed};
use counting_ledger::Counting;
use futures::StreamExt;
use jiff::Timestamp;

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

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn now() -> Timestamp {
    "2026-01-15T14:00:00Z".parse().unwrap()
}

fn cluster(i: usize) -> ClusterId {
    ClusterId::from_parts(&format!("{:08x}-0000-0000-0000-000000000000", i % 4), &format!("rg-{}", i / 50), &format!("c{i:05}"))
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

fn snapshot(i: usize) -> ClusterSnapshot {
    let kind = SignalKind::UpgradesOffered { current: "1.30.4".into(), offered: vec![OfferedVersion { version: "1.30.7".into(), is_preview: false }] };
    let signal = Signal { cluster: cluster(i), facts: facts(), kind, observed_at: now(), origin: Origin::Sweep { run_id: "bench".into() } };
    ClusterSnapshot {
        cluster: cluster(i),
        facts: facts(),
        fqdn: None,
        run_id: "bench".into(),
        swept_at: now(),
        signals: vec![signal],
        maintenance_configurations: Vec::new(),
        maintenance_read: true,
        observed: Observed { kubernetes_version: Some("1.30.4".into()), ..Observed::default() },
        offered_in_region: None,
        busy: false,
        readiness: None,
        notes: Vec::new(),
        baseline: None,
        defender_plan: None,
    }
}

/// The previous sweep saw 1.30.2: this one restates `patch:1.30.2` met (never a concern).
async fn seed(ledger: &dyn Ledger, clusters: usize) {
    let previous = ClusterMemory { observed: Some(Observed { kubernetes_version: Some("1.30.2".into()), ..Observed::default() }), ..ClusterMemory::default() };
    let stored = previous.to_stored();
    futures::stream::iter(0..clusters)
        .map(|i| {
            let stored = &stored;
            async move { ledger.put_ref(&cluster(i).key(), MEMORY_CHANNEL, stored).await.expect("seed memory") }
        })
        .buffer_unordered(32)
        .collect::<Vec<()>>()
        .await;
}

struct Figure {
    bound: usize,
    elapsed: Duration,
    calls: u64,
    planned: usize,
}

/// Plans the sweep once, in dry-run, with `bound` ledger calls in flight.
async fn plan_once(inner: Arc<dyn Ledger>, latency: Duration, snaps: &[ClusterSnapshot], bound: usize) -> Figure {
    let ledger = Arc::new(Counting::new(inner, latency));
    let dyn_ledger: Arc<dyn Ledger> = Arc::clone(&ledger) as Arc<dyn Ledger>;
    let policy = Arc::new(Policy::parse(POLICY, "bench.toml").expect("policy"));
    let pipeline = Parts::new(policy, dyn_ledger, Vec::new(), true, fixed_clock(now())).pipeline().with_ledger_concurrency(bound);
    let started = Instant::now();
    let report = pipeline.handle_snapshots(snaps).await.expect("sweep plans");
    Figure { bound, elapsed: started.elapsed(), calls: ledger.take().0, planned: report.planned.len() }
}

fn print(figures: &[Figure]) {
    let baseline = figures.iter().find(|f| f.bound == 1).map(|f| f.elapsed);
    for f in figures {
        let ratio = baseline.map_or(String::new(), |b| format!("  {:5.1}x faster than one at a time", b.as_secs_f64() / f.elapsed.as_secs_f64()));
        println!(
            "  bound {:>3}: {:>8.3} s  {:>6} ledger calls  {:>8.0} calls/s  {} actions planned{ratio}",
            f.bound,
            f.elapsed.as_secs_f64(),
            f.calls,
            f.calls as f64 / f.elapsed.as_secs_f64(),
            f.planned
        );
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let clusters: usize = std::env::args().skip(1).find(|a| !a.starts_with('-')).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let latency = Duration::from_millis(env_or("PLAN_LEDGER_LATENCY_MS", 2));
    let mut bounds: Vec<usize> = std::env::var("PLAN_LEDGER_BOUNDS")
        .ok()
        .map(|v| v.split(',').filter_map(|b| b.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, LEDGER_CONCURRENCY]);
    if !bounds.contains(&1) {
        bounds.insert(0, 1);
    }
    let snaps: Vec<ClusterSnapshot> = (0..clusters).map(snapshot).collect();

    println!("plan_ledger: dry-run sweep of {clusters} clusters through Pipeline::handle_snapshots");
    println!("SQLite ledger + {} ms per call (bound 1 = the baseline, one call at a time):", latency.as_millis());
    let mut figures = Vec::new();
    for &bound in &bounds {
        let dir = tempfile::tempdir().expect("temp dir");
        let inner: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(dir.path().join("cadence.db")).expect("sqlite ledger"));
        seed(inner.as_ref(), clusters).await;
        figures.push(plan_once(inner, latency, &snaps, bound).await);
    }
    print(&figures);
    let planned: Vec<usize> = figures.iter().map(|f| f.planned).collect();
    assert!(planned.windows(2).all(|w| w[0] == w[1]), "every bound plans the same: {planned:?}");

    if std::env::var("CADENCE_TEST_AZURITE_BLOB").is_ok() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let endpoint = ledger_blob_support::endpoint();
        for added in [Duration::ZERO, latency] {
            println!("blob ledger on Azurite ({endpoint}) + {} ms per call:", added.as_millis());
            let mut figures = Vec::new();
            for &bound in &bounds {
                let (ledger, url) = ledger_blob_support::fresh_ledger("planbench").await;
                let inner: Arc<dyn Ledger> = Arc::new(ledger);
                seed(inner.as_ref(), clusters).await;
                figures.push(plan_once(inner, added, &snaps, bound).await);
                ledger_blob_support::delete_container(&url).await;
            }
            print(&figures);
        }
    } else {
        println!("(set CADENCE_TEST_AZURITE_BLOB, e.g. `source scripts/services.sh && start_services`, for the blob ledger figure)");
    }
}
