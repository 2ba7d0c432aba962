//! Shared by the pipeline_* tests: hand-built signals and actions, a scripted counting
//! adapter, and a ledger on a temporary SQLite file.
#![allow(dead_code)]

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aks_cadence::action::{Action, ActionKind, Stage};
use aks_cadence::actions::{Actuator, Performed};
use aks_cadence::domain::{ClusterFacts, ClusterId, Concern, ConcernKind, Origin, Signal, SignalKind};
use aks_cadence::error::ActionError;
use aks_cadence::execute::{Executor, RetryPolicy};
use aks_cadence::pipeline::Clock;
use aks_cadence::policy::Policy;
pub use aks_cadence::wiring::Parts;
use aks_cadence::store::Ledger;
use aks_cadence::store::sqlite::SqliteLedger;
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

pub fn t0() -> Timestamp {
    "2026-03-01T10:00:00Z".parse().unwrap()
}

pub fn cluster(name: &str) -> ClusterId {
    ClusterId::from_parts("00000000-0000-0000-0000-000000000001", "rg-platform", name)
}

pub fn new_version_signal(cluster_name: &str) -> Signal {
    Signal {
        cluster: cluster(cluster_name),
        facts: ClusterFacts::default(),
        kind: SignalKind::NewKubernetesVersion {
            latest_supported: Some("1.31.2".into()),
            latest_stable: Some("1.31.2".into()),
            lowest_minor: Some("1.29.9".into()),
            latest_preview: None,
        },
        observed_at: t0(),
        origin: Origin::Manual,
    }
}

/// A notice about `cluster_name` going to `kind`.
pub fn action(cluster_name: &str, kind: ActionKind) -> Action {
    let concern = Concern::new(cluster(cluster_name), ConcernKind::KubernetesUpgrade, "1.31");
    Action::new(concern, Stage::Notice, kind, format!("{cluster_name}: upgrade to 1.31.2 available"), new_version_signal(cluster_name))
}

pub fn log_action(cluster_name: &str) -> Action {
    action(cluster_name, ActionKind::Log)
}

pub fn email_action(cluster_name: &str) -> Action {
    action(cluster_name, ActionKind::Email { to: vec!["ops@example.com".into()] })
}

/// An adapter that counts every call, answers from a per-key script (then `Ok`), and can
/// pause inside `perform` so that concurrent executions overlap.
pub struct FakeAdapter {
    pub name: &'static str,
    pub kinds: fn(&ActionKind) -> bool,
    pub delay: Duration,
    script: Mutex<BTreeMap<String, VecDeque<Result<String, ActionError>>>>,
    performed: Mutex<BTreeMap<String, usize>>,
    batches: Mutex<Vec<usize>>,
}

impl FakeAdapter {
    pub fn handling(name: &'static str, kinds: fn(&ActionKind) -> bool) -> Self {
        Self { name, kinds, delay: Duration::ZERO, script: Mutex::default(), performed: Mutex::default(), batches: Mutex::default() }
    }
    pub fn logs() -> Self {
        Self::handling("fake-log", |k| matches!(k, ActionKind::Log))
    }
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
    /// The next results for `action`, in order; once spent, every call succeeds.
    pub fn script(&self, action: &Action, results: Vec<Result<String, ActionError>>) {
        self.script.lock().unwrap().insert(action.key.as_str().to_string(), results.into());
    }
    /// How many times `action` was performed.
    pub fn performed(&self, action: &Action) -> usize {
        self.performed.lock().unwrap().get(action.key.as_str()).copied().unwrap_or(0)
    }
    pub fn total_performed(&self) -> usize {
        self.performed.lock().unwrap().values().sum()
    }
    /// The size of every batch `perform` received, in order.
    pub fn batches(&self) -> Vec<usize> {
        self.batches.lock().unwrap().clone()
    }
}

#[async_trait]
impl Actuator for FakeAdapter {
    fn name(&self) -> &'static str {
        self.name
    }
    fn handles(&self, kind: &ActionKind) -> bool {
        (self.kinds)(kind)
    }
    async fn perform(&self, batch: &[Action]) -> Vec<Performed> {
        self.batches.lock().unwrap().push(batch.len());
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        batch
            .iter()
            .map(|a| {
                let key = a.key.as_str().to_string();
                *self.performed.lock().unwrap().entry(key.clone()).or_default() += 1;
                let scripted = self.script.lock().unwrap().get_mut(&key).and_then(VecDeque::pop_front);
                scripted.unwrap_or_else(|| Ok(format!("{} did {}", self.name, a.summary))).map(Into::into)
            })
            .collect()
    }
}

/// A SQLite ledger in a temporary directory; `reopen` simulates a restart.
pub struct TempLedger {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl TempLedger {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cadence.db");
        Self { _dir: dir, path }
    }
    pub fn open(&self) -> Arc<dyn Ledger> {
        Arc::new(SqliteLedger::open(&self.path).unwrap())
    }
}

/// Millisecond retries so tests stay fast; same shape as the default.
pub const FAST_RETRY: RetryPolicy = RetryPolicy { max_attempts: 3, base: Duration::from_millis(1), cap: Duration::from_millis(20) };

pub fn executor(ledger: &Arc<dyn Ledger>, adapters: Vec<Arc<dyn Actuator>>, owner: &str) -> Executor {
    Executor::new(Arc::clone(ledger), adapters, owner, SignedDuration::from_mins(5)).with_retry_policy(FAST_RETRY)
}

/// A pipeline's parts as production assembles them (`wiring::Parts`), with the test's policy,
/// ledger, adapters and clock, claims owned by `w1` and millisecond retries. Change a field
/// (`digest`, `owner`) with struct update syntax, then `.pipeline()`.
pub fn parts(policy: Arc<Policy>, ledger: &Arc<dyn Ledger>, adapters: Vec<Arc<dyn Actuator>>, dry_run: bool, clock: Clock) -> Parts {
    Parts { owner: "w1".into(), retry: FAST_RETRY, ..Parts::new(policy, Arc::clone(ledger), adapters, dry_run, clock) }
}
