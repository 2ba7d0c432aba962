//! Fleet sweeps: inventory + per-cluster findings → signals.
//!
//! ```text
//! inventory  Resource Graph (paged by $skipToken) → ClusterRecord; fallback: ARM list per subscription
//! spool      `handler sweep`'s inventory in a temporary file, read back a record at a time in sweep order
//! cluster    sweep_cluster: one record → ClusterSnapshot (signals, maintenance configs, region offer)
//! support    a region's kubernetesVersions → support status (N-2 window, LTS)
//! fanout     timer → one queue message per cluster; queue message → sweep_cluster; sweep_inventory
//! memory     (re-exported from the core's `facts::memory`: what a sweep remembers per cluster)
//! fleet      what the rings know of every cluster (versions and since when, failed upgrades)
//! certs      (re-exported from `azure::certs`, shared with the Azure adapter's rotation guard)
//! wiring     once per sweep: which clusters' AKS events do not reach `aks-events`
//! readiness  before a pending upgrade: the region's vCPU quota and subnet usage (shared per sweep)
//! calendar   the optional support-calendar refresh (one read per run; never fails a sweep)
//! ```
//!
//! Wire types (Resource Graph rows, ARM bodies) stop here: what leaves is [`crate::domain::Signal`]
//! plus raw maintenance-configuration JSON for `policy::windows`.
//!
//! Layer: edge: ARM reads in, snapshots and signals out; imports the core and the other edges, never the run layer.

pub mod calendar;
pub mod cluster;
pub mod fanout;
pub mod fleet;
pub mod inventory;
pub mod readiness;
pub mod spool;
pub mod support;
pub mod wiring;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;

pub use crate::azure::certs;
pub use crate::facts::memory;
pub use cluster::{CertificateChecks, ClusterSnapshot, SweepCache, SweepOptions, SweepRun, TrackedOperation, UpgradeSource, sweep_cluster};
pub use fanout::{plan_fanout, sweep_inventory};
pub use inventory::{ClusterRecord, Inventory, InventorySource};

use crate::azure::{ArmClient, ArmError};

/// Why a sweep (or one cluster's sweep) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SweepError {
    /// Neither Resource Graph nor the ARM listing gave an inventory.
    #[error("inventory failed: Resource Graph: {graph}; listing clusters: {fallback}")]
    Inventory { graph: String, fallback: ArmError },
    /// A read that retrying may fix failed (after the client's own retries).
    #[error(transparent)]
    Arm(#[from] ArmError),
    /// A queue message that is not ours or does not parse: acknowledge it, it will never work.
    #[error("bad sweep-cluster message: {0}")]
    BadMessage(String),
    /// The temporary file holding the inventory failed (`sweep::spool`).
    #[error(transparent)]
    Spool(#[from] spool::SpoolError),
}

impl SweepError {
    /// Whether the invocation should fail so that the platform delivers again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Inventory { fallback, .. } => fallback.is_retryable(),
            // A refused role is fixed by a person; the redelivery after that works.
            Self::Arm(e) => e.is_retryable() || e.kind == crate::azure::ArmErrorKind::Forbidden,
            Self::BadMessage(_) => false,
            // A full or read-only temporary directory: the next run tries again.
            Self::Spool(_) => true,
        }
    }
}

/// What the sweep functions need, built once at start-up.
#[derive(Debug)]
pub struct SweepContext {
    pub arm: ArmClient,
    /// `CADENCE_SUBSCRIPTIONS` (empty = every subscription the identity can read).
    pub subscriptions: Vec<String>,
    /// `CADENCE_SWEEP_CONCURRENCY`: clusters swept at once in-process.
    pub concurrency: usize,
    /// `CADENCE_SWEEP_INLINE_MAX`: the timer sweeps fleets up to this size itself (one plan)
    /// instead of fanning out (0 = always fan out).
    pub inline_max: usize,
    /// `CADENCE_SWEEP_BATCH`: an in-process sweep plans its clusters this many at a time.
    pub batch: usize,
    pub options: SweepOptions,
    /// The event-wiring check (`CADENCE_SWEEP_EVENT_WIRING`); `None` = not run.
    pub wiring: Option<WiringCheck>,
    /// The support-calendar refresh (`CADENCE_SUPPORT_CALENDAR_URL`); `None` = the built-in
    /// calendar and the ledger's EOL notices only.
    pub calendar_refresh: Option<calendar::CalendarRefresh>,
    /// Caches of recent runs, so that the queue messages of one run handled by this instance
    /// share region and node-image reads.
    runs: Mutex<HashMap<String, (Instant, Arc<cluster::SweepCache>)>>,
}

/// What the event-wiring check looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WiringCheck {
    /// The `aks-events` function's resource id; `None` = check system topics only.
    pub function: Option<String>,
}

/// How long a run's cache is kept for queue messages arriving late.
const RUN_CACHE_TTL: Duration = Duration::from_secs(2 * 3600);

impl SweepContext {
    pub fn new(arm: ArmClient, subscriptions: Vec<String>, concurrency: usize) -> Self {
        Self {
            arm,
            subscriptions,
            concurrency: concurrency.max(1),
            inline_max: 0,
            batch: crate::settings::DEFAULT_SWEEP_BATCH,
            options: SweepOptions::default(),
            wiring: None,
            calendar_refresh: None,
            runs: Mutex::new(HashMap::new()),
        }
    }

    pub fn from_settings(settings: &crate::settings::Settings, arm: ArmClient) -> Self {
        let mut ctx = Self::new(arm, settings.subscriptions.clone(), settings.sweep_concurrency);
        ctx.inline_max = settings.sweep_inline_max;
        ctx.batch = settings.sweep_batch.max(1);
        ctx.options.certificates.kubeconfig = settings.sweep_kubeconfig_certs;
        ctx.options.readiness = true;
        ctx.calendar_refresh = settings.support_calendar_url.as_deref().map(calendar::CalendarRefresh::new);
        if settings.sweep_event_wiring {
            ctx.wiring = Some(WiringCheck { function: settings.function_app_id.as_deref().map(wiring::aks_events_function) });
        }
        ctx
    }

    /// The run `run_id` on this instance (its cache is shared by every message of the run).
    pub fn run(&self, run_id: &str, now: Timestamp) -> SweepRun {
        let mut runs = self.runs.lock().expect("runs lock");
        runs.retain(|_, (at, _)| at.elapsed() < RUN_CACHE_TTL);
        let cache = runs.entry(run_id.to_string()).or_insert_with(|| (Instant::now(), Arc::default())).1.clone();
        SweepRun { run_id: run_id.to_string(), now, cache }
    }
}
