//! Facts for the planner that are data, and the pure decisions the pipeline takes on them: what
//! a sweep saw of one cluster ([`ClusterSnapshot`]), what a sweep remembers from one run to
//! the next ([`memory`]), and — from those and the policy — each cluster's [`PlanFacts`]
//! ([`sweep_plan_facts`]), its security baseline ([`baseline_of`]), the signals a sweep adds
//! ([`snapshot_signal`]), the operations it saw end ([`ended_in`]), and which first sightings
//! a batch of signals asks the ledger for ([`sightings`]). The pipeline (run layer) reads and
//! writes the ledger around these; the sweep (an edge) fills the snapshots.
//!
//! Layer: core: pure, no IO.

pub mod memory;
pub mod sightings;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::{ActionKind, UpgradeScope};
use crate::baseline::report::BaselineMemory;
use crate::domain::{ClusterFacts, ClusterId, ConcernKind, OperationStatus, Origin, Signal, SignalKind};
use crate::plan::{PlanFacts, WindowScope, WindowStatus};
use crate::policy::Policy;
use crate::policy::windows::MaintenanceSchedules;
use memory::{ClusterMemory, Observed};

/// An operation aks-cadence started on the cluster, to report on (from the ledger: the
/// outcome detail of an `Execute` action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedOperation {
    pub concern: ConcernKind,
    pub target: String,
    /// The `Azure-AsyncOperation` URL, when known; without it the cluster's provisioning state
    /// is the best evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_url: Option<String>,
}

/// What a per-cluster sweep found.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSnapshot {
    pub cluster: ClusterId,
    pub facts: ClusterFacts,
    pub fqdn: Option<String>,
    /// The run's id and time (every signal's origin and observation time).
    pub run_id: String,
    pub swept_at: Timestamp,
    /// The findings, as signals with `Origin::Sweep { run_id }`.
    pub signals: Vec<Signal>,
    /// `maintenanceConfigurations` as ARM returned them (each a `{name, id, properties}`),
    /// for `policy::windows::MaintenanceSchedules::from_arm_list`.
    pub maintenance_configurations: Vec<Value>,
    /// Whether the configurations were read. `false` (the read failed) is not "the cluster has
    /// none": the planner then knows no window and holds every change, rather than falling
    /// back to the policy's window for a cluster whose own window it could not see.
    pub maintenance_read: bool,
    /// The facts this run's concern targets were made from, for the next run to compare with.
    pub observed: Observed,
    /// Every version the region offers (for the "target offered" gate), when read.
    pub offered_in_region: Option<Vec<String>>,
    /// Whether an operation is running on the cluster or one of its pools.
    pub busy: bool,
    /// Readiness facts of the pending upgrades (`sweep::readiness`); `None` when not read.
    pub readiness: Option<crate::readiness::ReadinessFacts>,
    /// Reads that failed without failing the sweep (a missing role action, a deleted pool).
    pub notes: Vec<String>,
    /// The resource as the security baseline reads it (from the inventory; see
    /// `ClusterRecord::baseline`), when the inventory carried it.
    pub baseline: Option<Value>,
    /// The subscription's Defender for Containers plan, when the sweep read it (once per sweep).
    pub defender_plan: Option<crate::baseline::DefenderPlan>,
}

/// A signal about `snap`'s cluster as of its sweep.
pub fn snapshot_signal(snap: &ClusterSnapshot, kind: SignalKind) -> Signal {
    Signal {
        cluster: snap.cluster.clone(),
        facts: snap.facts.clone(),
        kind,
        observed_at: snap.swept_at,
        origin: Origin::Sweep { run_id: snap.run_id.clone() },
    }
}

/// Whether the sweep saw `op` end (its `Operation` signal has a final status).
pub fn ended_in(snap: &ClusterSnapshot, op: &TrackedOperation) -> bool {
    snap.signals.iter().any(|s| {
        matches!(&s.kind, SignalKind::Operation { concern, target, status }
            if *concern == op.concern && *target == op.target && *status != OperationStatus::InProgress)
    })
}

/// The security baseline of a swept cluster (with a `[baseline]` policy and the inventory's
/// baseline properties): this run's baseline memory and the signal to plan. Pure.
pub fn baseline_of(policy: &Policy, snap: &ClusterSnapshot, memory: &ClusterMemory, now: Timestamp) -> Option<(BaselineMemory, SignalKind)> {
    let checks = policy.baseline.as_ref()?;
    let resource = snap.baseline.as_ref()?;
    let context = crate::baseline::ClusterContext {
        maintenance_configurations: snap.maintenance_read.then(|| {
            snap.maintenance_configurations.iter().filter_map(|c| c.get("name").and_then(|n| n.as_str()).map(str::to_string)).collect()
        }),
        defender_plan: snap.defender_plan.clone(),
    };
    let previous = memory.observed.as_ref().and_then(|o| o.baseline.as_ref());
    Some(crate::baseline::report::assessed(checks, &snap.cluster, &snap.facts, resource, &context, previous, now))
}

/// The live facts a sweep gives the planner for one cluster at `now` (pure). Notes about
/// windows that could not be read go to `log`.
///
/// Windows, per kind of change ([`WindowScope`]):
/// - the configurations were not read (a failed read) → unknown: every change held, rather
///   than falling back to the policy's window for a cluster whose own window we did not see;
/// - the cluster has none of the three configurations AKS honours → the policy's window
///   (`Policy::window_for`) for every kind, when policy defines one; else unknown;
/// - otherwise each kind's window as `MaintenanceSchedules::for_action` picks it; a
///   configuration that does not parse leaves the changes it governs unknown (held).
pub fn sweep_plan_facts(snap: &ClusterSnapshot, policy: &Policy, now: Timestamp, log: &mut Vec<String>) -> PlanFacts {
    let mut facts = PlanFacts { cluster_busy: snap.busy, offered_in_region: snap.offered_in_region.clone(), readiness: snap.readiness.clone(), ..PlanFacts::default() };
    let name = snap.cluster.name();
    if !snap.maintenance_read {
        log.push(format!("{name}: maintenance configurations unknown; cluster changes are held"));
        // The read's own error, as `sweep::cluster` noted it ("maintenance configurations: …").
        let reason = snap
            .notes
            .iter()
            .find_map(|n| n.strip_prefix("maintenance configurations: "))
            .unwrap_or("the sweep did not read them");
        let cause = format!(
            "the cluster's maintenance configurations could not be read ({reason}); when that is a \
             missing permission, grant Microsoft.ContainerService/managedClusters/maintenanceConfigurations/read"
        );
        for scope in WindowScope::ALL {
            facts.window_causes.insert(scope, cause.clone());
        }
        return facts;
    }
    let (schedules, errors) = MaintenanceSchedules::from_arm_list(&Value::Array(snap.maintenance_configurations.clone()));
    for e in &errors {
        log.push(format!("{name}: maintenance configuration ignored, the changes it governs are held: {e}"));
    }
    if schedules == MaintenanceSchedules::default() && errors.is_empty() {
        if let Some(window) = policy.window_for(&snap.cluster, &snap.facts) {
            facts.window = window.status_at(now);
        }
        return facts;
    }
    for scope in WindowScope::ALL {
        // A representative action of each scope, for `MaintenanceSchedules::for_action`.
        let kind = match scope {
            WindowScope::NodeImage => ActionKind::Upgrade { upgrade: UpgradeScope::NodeImage { pool: String::new() }, target: String::new() },
            WindowScope::KubernetesVersion => ActionKind::Upgrade { upgrade: UpgradeScope::Patch, target: String::new() },
            WindowScope::CertificateRotation => ActionKind::RotateCertificates,
        };
        if let Some(window) = schedules.for_action(&kind) {
            facts.schedules.insert(scope, window.clone());
        }
        let status = schedules.status_for(&kind, now);
        if status == WindowStatus::Unknown {
            let cause = if errors.is_empty() {
                let own = match scope {
                    WindowScope::NodeImage => "aksManagedNodeOSUpgradeSchedule",
                    WindowScope::KubernetesVersion | WindowScope::CertificateRotation => "aksManagedAutoUpgradeSchedule",
                };
                format!(
                    "the cluster's own maintenance configurations define none for this change, and the \
                     policy's window is not used for a cluster that has its own (add {own} or default)"
                )
            } else {
                let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
                format!("a maintenance configuration of the cluster does not parse: {}", errors.join("; "))
            };
            facts.window_causes.insert(scope, cause);
        }
        facts.windows.insert(scope, status);
    }
    facts.window = WindowStatus::Unknown;
    facts
}

