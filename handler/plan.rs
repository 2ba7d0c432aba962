//! The planner: (signal, policy, ledger facts, now) → actions. Pure: no IO, no clock, no
//! clients (house rule 1). Every decision here is a table test.
//!
//! The orchestrator calls [`concerns`] first, looks up what the ledger knows about those
//! concerns (first-seen times) and the cluster's maintenance-window status, then calls [`plan`].

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::action::Action;
use crate::domain::{Concern, Signal};
use crate::policy::Policy;

/// The maintenance-window status of the cluster at `now`, computed by the orchestrator from
/// `policy::windows` so that the planner stays pure.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(tag = "window", rename_all = "snake_case")]
pub enum WindowStatus {
    /// No window is known (neither AKS nor policy defines one): cluster changes stay held.
    #[default]
    Unknown,
    /// A window is open now and closes at `until`.
    Open { until: Timestamp },
    /// Closed now; the next window opens at `next` (if one is scheduled).
    Closed { next: Option<Timestamp> },
}

/// What the ledger and the cluster's live state say, gathered before planning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanFacts {
    /// Concern key → when the concern was first seen for this cluster.
    pub first_seen: BTreeMap<String, Timestamp>,
    /// The window status for cluster-changing actions.
    pub window: WindowStatus,
    /// Whether an operation is already running on the cluster (`provisioningState` not final).
    pub cluster_busy: bool,
    /// Versions the region offers (from `kubernetesVersions`), when known.
    pub offered_in_region: Option<Vec<String>>,
}

/// The concerns a signal is about (so the orchestrator can look up their first-seen times).
pub fn concerns(signal: &Signal, policy: &Policy) -> Vec<Concern> {
    let _ = (signal, policy);
    Vec::new()
}

/// Plans the actions for one signal.
pub fn plan(signal: &Signal, policy: &Policy, facts: &PlanFacts, now: Timestamp) -> Vec<Action> {
    let _ = (signal, policy, facts, now);
    Vec::new()
}
