//! The domain every stage after `ingest/` and `sweep/` speaks: clusters, signals, concerns.
//!
//! Wire types never leave the edge modules; everything here is ours and stable.
//!
//! Layer: core: the vocabulary (clusters, concerns, signals); pure, no IO.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The instants aks-cadence works with: what the SQLite ledger can store (signed 64-bit
/// nanoseconds since the Unix epoch), 1677-09-21T00:12:43.145224192Z to
/// 2262-04-11T23:47:16.854775807Z. A time from a payload outside it is out of range: the
/// event it came with is ignored with a reason (see `ingest`), never stored.
pub fn time_range() -> (Timestamp, Timestamp) {
    let at = |ns: i64| Timestamp::from_nanosecond(i128::from(ns)).unwrap_or(Timestamp::UNIX_EPOCH);
    (at(i64::MIN), at(i64::MAX))
}

/// Whether `t` is inside [`time_range`].
pub fn in_time_range(t: Timestamp) -> bool {
    let (min, max) = time_range();
    (min..=max).contains(&t)
}

/// The ARM resource id of a managed cluster:
/// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}`.
///
/// ARM ids are case-insensitive, so equality, hashing and [`ClusterId::key`] ignore case while
/// [`ClusterId::as_str`] keeps the spelling we were given (for links and messages).
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClusterId {
    raw: String,
    subscription: (usize, usize),
    resource_group: (usize, usize),
    name: (usize, usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{id}` is not a managed cluster resource id: {why}; expected /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name>")]
pub struct ClusterIdError {
    pub id: String,
    pub why: &'static str,
}

impl ClusterId {
    /// Parses a cluster id. A longer id below a cluster (for example a scheduled event's
    /// `…/managedClusters/c1/scheduledEvents/e1`) is cut back to the cluster.
    pub fn parse(id: &str) -> Result<Self, ClusterIdError> {
        let err = |why| ClusterIdError { id: id.to_string(), why };
        let trimmed = id.trim().trim_end_matches('/');
        if !trimmed.starts_with('/') {
            return Err(err("it does not start with '/'"));
        }
        let segments: Vec<&str> = trimmed[1..].split('/').collect();
        let find = |name: &str| {
            segments
                .iter()
                .position(|s| s.eq_ignore_ascii_case(name))
                .filter(|i| i + 1 < segments.len() && !segments[i + 1].is_empty())
        };
        let sub = find("subscriptions").ok_or_else(|| err("no subscriptions segment"))?;
        let rg = find("resourceGroups").ok_or_else(|| err("no resourceGroups segment"))?;
        let provider = find("providers").ok_or_else(|| err("no providers segment"))?;
        if !segments[provider + 1].eq_ignore_ascii_case("Microsoft.ContainerService") {
            return Err(err("the provider is not Microsoft.ContainerService"));
        }
        let mc = find("managedClusters").ok_or_else(|| err("no managedClusters segment"))?;
        if !(sub < rg && rg < provider && provider < mc) {
            return Err(err("the segments are out of order"));
        }
        // Keep exactly the cluster part: /subscriptions/s/resourceGroups/rg/providers/P/managedClusters/n,
        // the text of `trimmed` up to the end of the name. Segments are slices of `trimmed`,
        // so each one's byte span there is its offset.
        let span = |i: usize| {
            let start = segments[i].as_ptr() as usize - trimmed.as_ptr() as usize;
            (start, start + segments[i].len())
        };
        let name = span(mc + 1);
        Ok(Self { subscription: span(sub + 1), resource_group: span(rg + 1), name, raw: trimmed[..name.1].to_string() })
    }

    /// Builds the id from its parts.
    pub fn from_parts(subscription: &str, resource_group: &str, name: &str) -> Self {
        Self::parse(&format!(
            "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/Microsoft.ContainerService/managedClusters/{name}"
        ))
        .expect("parts form a valid cluster id")
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
    pub fn subscription(&self) -> &str {
        &self.raw[self.subscription.0..self.subscription.1]
    }
    pub fn resource_group(&self) -> &str {
        &self.raw[self.resource_group.0..self.resource_group.1]
    }
    pub fn name(&self) -> &str {
        &self.raw[self.name.0..self.name.1]
    }
    /// The case-folded id used in idempotency keys and ledger rows.
    pub fn key(&self) -> String {
        self.raw.to_ascii_lowercase()
    }
}

impl PartialEq for ClusterId {
    fn eq(&self, other: &Self) -> bool {
        self.raw.eq_ignore_ascii_case(&other.raw)
    }
}
impl Eq for ClusterId {}
impl Hash for ClusterId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The lowercase bytes (as `Eq` compares), a block at a time.
        let mut block = [0u8; 64];
        for chunk in self.raw.as_bytes().chunks(block.len()) {
            let lower = &mut block[..chunk.len()];
            lower.copy_from_slice(chunk);
            lower.make_ascii_lowercase();
            state.write(lower);
        }
    }
}
impl PartialOrd for ClusterId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ClusterId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // As `self.key().cmp(&other.key())`, without building either key.
        self.raw.bytes().map(|b| b.to_ascii_lowercase()).cmp(other.raw.bytes().map(|b| b.to_ascii_lowercase()))
    }
}
impl fmt::Debug for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClusterId({})", self.raw)
    }
}
impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}
impl TryFrom<String> for ClusterId {
    type Error = ClusterIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}
impl From<ClusterId> for String {
    fn from(value: ClusterId) -> Self {
        value.raw
    }
}

/// What is known about a cluster when a signal is made. Events carry almost nothing (the id);
/// sweeps fill in what ARM and Resource Graph returned. Everything is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterFacts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The control plane's current version (`currentKubernetesVersion`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// `supportPlan`: `KubernetesOfficial` or `AKSLongTermSupport`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_plan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_os_upgrade_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_pools: Vec<NodePoolFacts>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodePoolFacts {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_image_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// Where a signal came from. Used for logs and for event-id de-duplication, never for
/// idempotency keys (an event and a sweep finding about the same thing must coalesce).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Origin {
    /// An Event Grid delivery (either schema); `event_id` is the envelope id.
    EventGrid { event_id: String, event_type: String },
    /// A fleet sweep finding.
    Sweep { run_id: String },
    /// Fed by hand (`handler replay`) or by a test.
    Manual,
}

/// One fact about one cluster that the planner understands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub cluster: ClusterId,
    #[serde(default)]
    pub facts: ClusterFacts,
    pub kind: SignalKind,
    /// When the fact was true (event time, or sweep time).
    pub observed_at: Timestamp,
    pub origin: Origin,
}

/// Phase of a node pool roll reported by AKS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollingPhase {
    Started,
    Succeeded,
    Failed,
}

/// Status of a planned-maintenance notice (Resource Notifications `eventStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceStatus {
    Scheduled,
    Started,
    Completed,
    Canceled,
    Failed,
    Other(String),
}

/// What a planned-maintenance notice upgrades, read from its free text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceKind {
    /// `K8sVersionUpgrade`
    KubernetesVersion,
    /// `NodeOSUpgrade` (node image / security patches)
    NodeOs,
    Unknown,
}

/// Which certificate a certificate finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateKind {
    /// The API server's serving certificate (read over TLS).
    ApiServer,
    /// The client certificate in the admin/user kubeconfig.
    KubeconfigClient,
    /// The cluster CA.
    ClusterCa,
}

impl CertificateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiServer => "api-server",
            Self::KubeconfigClient => "kubeconfig-client",
            Self::ClusterCa => "cluster-ca",
        }
    }
}

/// Status of an operation aks-cadence itself started (an upgrade or a rotation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    InProgress,
    Succeeded,
    Failed { code: String, message: String },
    Canceled,
    /// Nothing was started: the adapter (a live gate, a minor skip) or ARM (a refused request)
    /// refused the change, for `reason`.
    Refused { reason: String },
}

/// What an adapter that starts long-running operations (`actions::azure`) reports about the
/// one an action started, typed, next to the detail text it records: the pipeline follows a
/// started operation in the sweep memory and tells an ended one through the concern's channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationReport {
    /// Still running when the adapter stopped following it: the sweep polls `status_url`.
    Started { operation_id: String, status_url: String },
    /// Ended with this status ([`OperationStatus::Refused`]: never started).
    Ended(OperationStatus),
}

/// The facts a signal carries. Versions are kept as the strings AKS sent (they are parsed and
/// compared in `policy::versions`), so nothing is lost at the edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SignalKind {
    /// `NewKubernetesVersionAvailable`: the region now offers these versions.
    NewKubernetesVersion {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latest_supported: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latest_stable: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lowest_minor: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latest_preview: Option<String>,
    },
    /// A sweep read the cluster's upgrade profile: these upgrades are offered from `current`.
    UpgradesOffered {
        current: String,
        /// Offered target versions, with whether each is a preview.
        offered: Vec<OfferedVersion>,
    },
    /// `ClusterSupportEnding`, an `EOLNotification` notice, or a sweep's support-calendar check.
    SupportEnding {
        kubernetes_version: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eol_date: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        support_type: Option<String>,
        /// Where `eol_date` came from, for people (an AKS notice, the calendar refresh, the
        /// built-in calendar: `policy::calendar::EndSource`); `None` when the event itself
        /// carried the date.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eol_source: Option<String>,
    },
    /// `ClusterSupportEnded`, or a sweep finding the version out of support.
    SupportEnded { kubernetes_version: String },
    /// A newer node image is available for a pool (sweep only).
    NodeImageAvailable { pool: String, current: String, latest: String },
    /// A certificate expires at `not_after` (sweep only).
    CertificateExpiring { certificate: CertificateKind, not_after: Timestamp },
    /// `NodePoolRolling{Started,Succeeded,Failed}`.
    NodePoolRolling {
        pool: String,
        phase: RollingPhase,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// ARN `ScheduledEventEmitted` from `AutoUpgrader`: planned maintenance.
    Maintenance {
        event_id: String,
        upgrade: MaintenanceKind,
        status: MaintenanceStatus,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scheduled_time: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        details: Option<String>,
    },
    /// Progress of an operation aks-cadence started (sweep only).
    Operation { concern: ConcernKind, target: String, status: OperationStatus },
    /// The cluster now meets this concern's target: close what is open (sweep only).
    Resolved { concern: ConcernKind, target: String },
    /// The security baseline's checks for the cluster (sweep only, with a `[baseline]` policy):
    /// every check the policy applies, each with its status. Failing checks are concerns of
    /// their own (`baseline` / `<check>@<since>`); the checklist is one concern per episode
    /// (`baseline` / `checklist@<opened>`), see `baseline::report`.
    Baseline {
        /// When the cluster's current run of failing checks began (the checklist's episode).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        opened: Option<Timestamp>,
        /// Shared: every action planned from the signal carries it (a fleet sweep plans many),
        /// and a clone is then a reference count, not a copy of every check.
        items: std::sync::Arc<[BaselineItem]>,
        /// Targets (`<check>@<since>`) failing since the previous sweep.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        newly_failing: Vec<String>,
        /// Targets that failed at the previous sweep and pass (or are excepted) now.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        fixed: Vec<String>,
    },
    /// The cluster's AKS events do not reach this function app (sweep only): no Event Grid
    /// system topic for the cluster (`system_topic: None`), or a system topic with no event
    /// subscription delivering to `function` (the `aks-events` function's resource id, when
    /// this installation knows it).
    EventsNotWired {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        system_topic: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        function: Option<String>,
    },
    /// The cluster's AKS channel `setting` (`upgradeChannel` / `nodeOSUpgradeChannel`) is not
    /// the one policy requires (`require_upgrade_channel` / `require_node_os_channel`; sweep
    /// only). `current` is ARM's value (`None`: not set).
    ChannelRequired {
        setting: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        current: Option<String>,
        required: String,
    },
    /// The cluster, in a later `[[ring]]`, received `version` through its AKS channel before
    /// the earlier ring had soaked it (`policy::rings::inversions`; sweep only). `detail` says
    /// it for a person, with the window stagger that prevents it.
    RingInversion { version: String, detail: String },
}

/// One baseline check's result for one cluster, as plain data for plans, messages and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineItem {
    /// The check's id (`docs/baseline.md`).
    pub check: String,
    /// What the check asks for, in a few words.
    pub title: String,
    /// `low`, `medium` or `high` (after `[baseline.severity]`).
    pub severity: String,
    pub status: BaselineState,
    /// What was seen, or why the check is excepted / unknown / not applicable.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The fix for this cluster (an `az` command or portal steps), for failing checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// Since when the check has been failing (failing checks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// When it should be fixed by: `since` + `[baseline] within_days` (failing checks only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Timestamp>,
}

/// Where a baseline check stands for a cluster once policy is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaselineState {
    Pass,
    Fail,
    /// Failing, accepted by a running exception.
    Excepted,
    /// Failing, and its exception ran out: failing again.
    ExceptionExpired,
    NotApplicable,
    Unknown,
}

impl BaselineState {
    pub fn is_failing(self) -> bool {
        matches!(self, Self::Fail | Self::ExceptionExpired)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferedVersion {
    pub version: String,
    #[serde(default)]
    pub is_preview: bool,
}

impl SignalKind {
    /// A short stable name, used in logs, policy `signals = [...]` lists and dry-run output.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NewKubernetesVersion { .. } => "new-kubernetes-version",
            Self::UpgradesOffered { .. } => "upgrades-offered",
            Self::SupportEnding { .. } => "support-ending",
            Self::SupportEnded { .. } => "support-ended",
            Self::NodeImageAvailable { .. } => "node-image-available",
            Self::CertificateExpiring { .. } => "certificate-expiring",
            Self::NodePoolRolling { .. } => "node-pool-rolling",
            Self::Maintenance { .. } => "maintenance",
            Self::Operation { .. } => "operation",
            Self::Resolved { .. } => "resolved",
            Self::EventsNotWired { .. } => "events-not-wired",
            Self::Baseline { .. } => "baseline",
            Self::ChannelRequired { .. } => "aks-channel",
            Self::RingInversion { .. } => "ring-inversion",
        }
    }
}

/// What an ops team tracks as one thing: one GitHub issue, one PR, one line in a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConcernKind {
    /// The control plane should move to a newer patch or minor.
    KubernetesUpgrade,
    /// The running minor is leaving (or has left) support.
    Support,
    /// A node pool's image is behind.
    NodeImage,
    /// A certificate nears expiry.
    Certificate,
    /// A node pool roll (started by AKS or by us) and how it ended.
    NodePoolRoll,
    /// Planned maintenance announced by AKS.
    Maintenance,
    /// The cluster's AKS events are not wired to this function app.
    EventWiring,
    /// The security baseline: one failing check (`<check>@<since>`), or the cluster's
    /// checklist (`checklist@<opened>`).
    Baseline,
    /// An AKS auto-upgrade channel setting differs from the one policy requires (target: the
    /// setting, `upgradeChannel` or `nodeOSUpgradeChannel`).
    AksChannel,
    /// A later ring received a version through its AKS channel before the earlier ring soaked
    /// it (target: the version). Told once per cluster and version; nothing to apply.
    RingInversion,
}

impl ConcernKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KubernetesUpgrade => "kubernetes-upgrade",
            Self::Support => "support",
            Self::NodeImage => "node-image",
            Self::Certificate => "certificate",
            Self::NodePoolRoll => "node-pool-roll",
            Self::Maintenance => "maintenance",
            Self::EventWiring => "event-wiring",
            Self::Baseline => "baseline",
            Self::AksChannel => "aks-channel",
            Self::RingInversion => "ring-inversion",
        }
    }
}

/// (cluster, concern, target): the identity of one concern. Idempotency keys, GitHub markers
/// and ledger rows all derive from it, never from an event id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Concern {
    pub cluster: ClusterId,
    pub kind: ConcernKind,
    /// What the concern is resolved by, e.g. `1.31` (a minor line), `nodepool1`, `api-server`.
    /// Choose it so that newer facts about the same thing keep the same target (a newer patch
    /// of the same minor updates the concern in place rather than opening a new one).
    pub target: String,
}

impl Concern {
    pub fn new(cluster: ClusterId, kind: ConcernKind, target: impl Into<String>) -> Self {
        Self { cluster, kind, target: target.into() }
    }
    /// `"<cluster id, lower case>#<kind>#<target>"`, stable across releases.
    pub fn key(&self) -> String {
        let (cluster, kind) = (self.cluster.as_str(), self.kind.as_str());
        let mut key = String::with_capacity(cluster.len() + kind.len() + self.target.len() + 2);
        key.push_str(cluster);
        key.make_ascii_lowercase();
        key.push('#');
        key.push_str(kind);
        key.push('#');
        let at = key.len();
        key.push_str(&self.target);
        key[at..].make_ascii_lowercase();
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_parses_parts_and_ignores_case() {
        let a = ClusterId::parse("/subscriptions/S1/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/Prod").unwrap();
        let b = ClusterId::parse("/subscriptions/s1/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/prod/").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.subscription(), "S1");
        assert_eq!(a.resource_group(), "RG");
        assert_eq!(a.name(), "Prod");
        assert_eq!(a.key(), b.key());
        // Spaces around it and a trailing slash are not part of the id; its own case is kept.
        let c = ClusterId::parse("  /subscriptions/S1/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/Prod/ ").unwrap();
        assert_eq!(c.as_str(), a.as_str());
        assert_eq!(b.as_str(), "/subscriptions/s1/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/prod");
        assert_eq!((b.subscription(), b.resource_group(), b.name()), ("s1", "rg", "prod"));
    }

    #[test]
    fn cluster_id_cuts_child_resources_back_to_the_cluster() {
        let id = ClusterId::parse("/subscriptions/{subscription-id}/resourcegroups/{rg-name}/providers/Microsoft.ContainerService/managedClusters/{managedcluster-id}/scheduledEvents/{event-id}").unwrap();
        assert_eq!(id.name(), "{managedcluster-id}");
        assert_eq!(id.as_str(), "/subscriptions/{subscription-id}/resourcegroups/{rg-name}/providers/Microsoft.ContainerService/managedClusters/{managedcluster-id}");
        assert_eq!((id.subscription(), id.resource_group()), ("{subscription-id}", "{rg-name}"));
    }

    #[test]
    fn cluster_id_rejects_other_resources_with_a_reason() {
        let err = ClusterId::parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm").unwrap_err();
        assert!(err.to_string().contains("Microsoft.ContainerService"), "{err}");
        assert!(ClusterId::parse("subscriptions/s").is_err());
    }

    #[test]
    fn concern_key_is_case_folded() {
        let c = Concern::new(ClusterId::from_parts("S", "RG", "C"), ConcernKind::KubernetesUpgrade, "1.31");
        assert_eq!(c.key(), "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/c#kubernetes-upgrade#1.31");
        let pool = Concern::new(ClusterId::from_parts("S", "RG", "C"), ConcernKind::NodeImage, "NodePool1@AKSUbuntu-2204");
        assert_eq!(pool.key(), "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/c#node-image#nodepool1@aksubuntu-2204");
    }
}
