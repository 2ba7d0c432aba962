//! The planner: (signal, policy, ledger facts, now) → actions. Pure: no IO, no clock, no
//! clients (house rule 1). Every decision here is a table test.
//!
//! The orchestrator calls [`concerns`] first, looks up what the ledger knows about those
//! concerns (first-seen times: `Ledger::first_seen(concern.key(), at)` with `at` from
//! [`observed_at`]: the event's time, not after now, and not trusted when it is more than
//! 48 hours old or more than 5 minutes ahead) and the cluster's maintenance-window status, then calls
//! [`plan`].
//!
//! # Concerns and their targets
//!
//! A target names what resolves the concern, chosen so that newer facts about the same thing
//! land on the same concern (same key, same GitHub issue) while a *new* occurrence after the old
//! one is resolved gets a fresh concern (and a fresh first-seen time and deadline):
//!
//! | concern | target | example |
//! |---|---|---|
//! | kubernetes-upgrade, patch | `patch:<current version>` — newer patches while the cluster is still on it update it (see "Lineages") | `patch:1.30.4` |
//! | kubernetes-upgrade, minor | the next minor line | `1.31` |
//! | support | the running minor line | `1.29` |
//! | node-image | `<pool>@<current image>` | `nodepool1@AKSUbuntu-2204gen2containerd-202405.03.0` |
//! | certificate | `<certificate>@<expiry date>` | `api-server@2026-05-01` |
//! | node-pool-roll | the pool | `nodepool1` |
//! | maintenance | the scheduled event id | `8a1b…` |
//! | event-wiring | [`EVENT_WIRING_TARGET`] (`aks-events`): one concern per cluster | `aks-events` |
//! | aks-channel | the setting policy requires a value of (`ChannelSetting::target`) | `upgradeChannel`, `nodeOSUpgradeChannel` |
//!
//! The helper functions ([`patch_target`], [`minor_target`], …) build these, so a sweep can emit
//! a matching `Resolved` signal.
//!
//! # Lineages
//!
//! One concern per cluster and kind of concern is open, following the newest target. A cluster's
//! patch concerns, its minor concerns, its support concerns and each pool's node-image concerns
//! form a *lineage* ([`lineages`]) whose *head* — the concern and version told last — is a
//! ledger fact ([`PlanFacts::heads`], stored by the orchestrator from [`Planned::heads`]). Each
//! finding is judged against its head:
//! - the head's own target (or not comparable): planned as always;
//! - a newer version of the head's concern: planned as always (new pull-request and execute
//!   keys) plus an **Update** per message channel, keyed by the new version (`~<digest>`) and
//!   noted `superseded 1.30.4 → 1.30.7`: the issue is commented on and retitled, mail and chat
//!   hear the new target once;
//! - a newer concern: planned as always, and the old concern closed — **Resolve** with the
//!   plain keys a sweep's `Resolved` plans when the cluster has left it (patch, support and
//!   node-image targets name what the cluster runs; a minor once the cluster runs its line),
//!   else a **Resolve** keyed `~superseded-<digest>` that names the newer concern
//!   ([`Action::superseded_by`]) so the issue is closed as not planned with a link;
//! - an older target (a late event): nothing is planned, and [`Planned::notes`] says why;
//! - an event that does not know the cluster's version (newest version offered) against a
//!   head a sweep set: nothing (the sweep knows the cluster's next step).
//!
//! While a head stands, its supersession is planned again (same keys) so a retried run still
//! tells it. The first target of a lineage keeps the keys it always had.
//!
//! # The escalation ladder
//!
//! For concerns with a cadence (upgrades, node images), `deadline = first_seen + N days`
//! (`patch_within_days`, `minor_within_days`, `node_image_within_days`); support uses the EOL
//! date when known; certificates their expiry. Only the highest stage reached is planned:
//! **Notice** when first known; **Reminder** once `now ≥ deadline − reminder_days_before`;
//! **Overdue** once `now ≥ deadline`. Certificates use `certificate_warn_days` instead: a
//! notice at the first (largest) threshold, a reminder at each later one (one key per
//! threshold), overdue once expired. Each stage has its own key per channel, so each is sent
//! once however often the fact is seen; an adapter that receives a reminder for a concern it
//! never opened opens it then.
//!
//! **Escalation routing.** A rule's `[rule.notice]`, `[rule.reminder]` and `[rule.overdue]`
//! add recipients to that stage's messages ([`stage_routes`]): the stage's extra mail
//! recipients get one mail (those a base mail already reaches are left out), its extra chat
//! destinations one message each (a destination a base channel posts to is not posted twice),
//! and its labels and assignees go on the concern's issue as one
//! [`ActionKind::GithubEscalation`] per repository (`…/github-escalation:<repo>/overdue`),
//! planned after the issue's own action so the issue exists when it runs. Routes of every
//! applicable rule add up like channels. They ride on the stage's message, so they follow the
//! ladder exactly: a concern first seen late is told at the stage it is in, with that stage's
//! routes; a stage passed over between two sweeps routes nothing of its own; each stage's
//! routes are sent once, by key.
//!
//! **Update** tells news about a concern already known (first seen before this signal): a node
//! pool roll's phase, a planned-maintenance status, an AKS support notice, the outcome of an
//! operation aks-cadence started. The channel part of its key carries a short digest of the
//! fact (`…/teams:URL_SETTING~1a2b3c4d/update`), so each distinct fact is told once. Sweeps
//! restate state rather than report news, so sweep findings climb the ladder but do not update.
//! A roll's notice names its end phase (`…/log~failed/notice`, `…/log~succeeded/notice`; the
//! started notice is `…/log/notice`), so Started and Failed with the same time — both first
//! facts — are both told.
//!
//! **Resolve** (`resolved` signals, a succeeded roll, a completed or cancelled maintenance)
//! closes the concern's GitHub issues (or logs, when no rule opens issues).
//!
//! **Execute** is planned for every upgrade, node image and certificate concern, with the
//! first gate that holds it back in `hold` (in this order: policy notify-only, `auto_after_days`
//! not yet passed, cluster not `Succeeded`/`Running` (unknown counts as not ready: events carry
//! no state), another operation running, target not offered in the region, no open window,
//! window closing too soon). The window is the one of the change's kind ([`WindowScope`]: node
//! image, Kubernetes version, certificate rotation — [`PlanFacts::window_for`]), since AKS keeps
//! a separate schedule for node OS upgrades. `hold: None` means "may run now". Held actions are only reported
//! — dry-run shows what would be upgraded, when, and what holds it back; the executor must
//! skip them without claiming their key.
//!
//! Layer: core: pure, no IO (`tests/core_imports.rs`).

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::action::{Action, ActionKey, ActionKind, Hold, Stage, UpgradeScope};
use crate::domain::{
    BaselineItem, BaselineState, CertificateKind, ClusterId, Concern, ConcernKind, MaintenanceKind, MaintenanceStatus,
    OfferedVersion, OperationStatus, Origin, RollingPhase, Signal, SignalKind,
};
use crate::baseline::report as baseline_report;
use crate::policy::channels::{self, AksApplies, ChangeKind, Channels, ManagedSchedule};
use crate::policy::versions::{self, AksVersion, MinorLine};
use crate::policy::rings;
use crate::policy::{Cadence, Policy, Rule, UpgradeMode};

pub use crate::policy::windows::WindowStatus;

pub mod approval;
pub mod release;
mod say;

/// Which maintenance window governs a kind of cluster change. AKS keeps separate schedules:
/// node image upgrades follow `aksManagedNodeOSUpgradeSchedule`, version upgrades
/// `aksManagedAutoUpgradeSchedule`, and certificate rotation (it restarts the control plane and
/// every node) the auto-upgrade one too — each falling back to `default` (see
/// `policy::windows::MaintenanceSchedules::for_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowScope {
    /// `upgradeNodeImageVersion` on a pool.
    NodeImage,
    /// Patch and minor upgrades of the control plane (pools following).
    KubernetesVersion,
    /// `rotateClusterCertificates`.
    CertificateRotation,
}

impl WindowScope {
    /// The scope of a cluster-changing action; `None` for messages.
    pub fn of_action(kind: &ActionKind) -> Option<Self> {
        match kind {
            ActionKind::Upgrade { upgrade: UpgradeScope::NodeImage { .. }, .. } => Some(Self::NodeImage),
            ActionKind::Upgrade { .. } => Some(Self::KubernetesVersion),
            ActionKind::RotateCertificates => Some(Self::CertificateRotation),
            _ => None,
        }
    }

    /// The scope whose window a concern's messages mention (the change that would resolve it).
    pub fn of_concern(kind: ConcernKind) -> Option<Self> {
        match kind {
            ConcernKind::NodeImage => Some(Self::NodeImage),
            ConcernKind::KubernetesUpgrade | ConcernKind::Support => Some(Self::KubernetesVersion),
            ConcernKind::Certificate => Some(Self::CertificateRotation),
            ConcernKind::NodePoolRoll
            | ConcernKind::Maintenance
            | ConcernKind::EventWiring
            | ConcernKind::Baseline
            | ConcernKind::AksChannel
            | ConcernKind::RingInversion => None,
        }
    }

    pub const ALL: [WindowScope; 3] = [Self::NodeImage, Self::KubernetesVersion, Self::CertificateRotation];
}

/// What the ledger and the cluster's live state say, gathered before planning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanFacts {
    /// Concern key → when the concern was first seen for this cluster.
    pub first_seen: BTreeMap<String, Timestamp>,
    /// The window status for cluster-changing actions whose scope has no entry in `windows`
    /// (events and tests that know one window for everything).
    pub window: WindowStatus,
    /// The window status per kind of change, when the cluster's schedules differ by kind (a
    /// sweep fills all three from the cluster's maintenance configurations).
    pub windows: BTreeMap<WindowScope, WindowStatus>,
    /// Whether an operation is already running on the cluster (`provisioningState` not final).
    pub cluster_busy: bool,
    /// Versions the region offers (from `kubernetesVersions`), when known.
    pub offered_in_region: Option<Vec<String>>,
    /// Lineage key → the head the ledger holds for it ([`lineages`]; see "Lineages").
    pub heads: BTreeMap<String, Head>,
    /// What a sweep read for the readiness of the cluster's upgrades (`crate::readiness`);
    /// `None` when nothing was read (events, or no upgrade pending).
    pub readiness: Option<crate::readiness::ReadinessFacts>,
    /// Why a scope's window is [`WindowStatus::Unknown`], when a sweep can say
    /// (`facts::sweep_plan_facts`): such a change is held as [`Hold::WindowUnknown`]
    /// naming it; without a cause, as "no maintenance window is known (define one …)".
    pub window_causes: BTreeMap<WindowScope, String>,
    /// Concern key → the web address of its merged infrastructure-code pull request (a ledger
    /// fact, [`IAC_CHANNEL`]): the change is handled through IaC — held, watched like an AKS
    /// channel's change ([`Hold::HandledByIac`]).
    pub handled_by_iac: BTreeMap<String, String>,
    /// The cluster's own maintenance configuration governing each scope, when a sweep read and
    /// parsed them (AKS's schedules: what an auto-upgrade channel waits for). The watchdog counts
    /// their windows (`aks_channel_grace_windows`).
    pub schedules: BTreeMap<WindowScope, crate::policy::windows::MaintenanceWindow>,
    /// The cluster's ring and the fleet's ring facts (`policy::rings`), when policy has
    /// `[[ring]]`s, the cluster is in one and a sweep read the fleet's memory.
    pub ring: Option<RingPlace>,
}

/// A cluster's place in the rings: its ring (index into `Policy::rings`) and the fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct RingPlace {
    pub index: usize,
    pub fleet: std::sync::Arc<FleetRings>,
}

/// Every ring's clusters as the fleet's stored memory knows them, and the targets people
/// released (a release lifts the stop a failed upgrade puts on a target).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetRings {
    pub rings: Vec<rings::RingView>,
    /// Targets (versions, node images) released by a person (`plan::release`).
    pub released: BTreeSet<String>,
}

impl FleetRings {
    /// Every target an upgrade failed to reach on a cluster of some ring, released or not.
    pub fn failed_targets(&self) -> BTreeSet<String> {
        self.rings.iter().flat_map(|r| &r.members).flat_map(|m| &m.failed).map(|f| f.target.clone()).collect()
    }

    /// Whether a failed upgrade stops some target nobody released (only then can a failure stop
    /// hold a change, and only then is a release worth reading).
    pub fn stops_any(&self) -> bool {
        self.failed_targets().iter().any(|t| !self.released.contains(t))
    }
}

/// The ledger reference channel that keeps, under a concern's key, the merged pull request
/// that handles its change through infrastructure code.
pub const IAC_CHANNEL: &str = "iac-merged";

impl PlanFacts {
    /// The window that governs changes of `scope`: its own entry, else [`PlanFacts::window`].
    pub fn window_for(&self, scope: WindowScope) -> &WindowStatus {
        self.windows.get(&scope).unwrap_or(&self.window)
    }

    /// The window to show with an action: the one governing its change, or for messages the
    /// one governing the change that would resolve its concern.
    pub fn window_for_action(&self, kind: &ActionKind, concern: ConcernKind) -> &WindowStatus {
        match WindowScope::of_action(kind).or_else(|| WindowScope::of_concern(concern)) {
            Some(scope) => self.window_for(scope),
            None => &self.window,
        }
    }
}

/// How long before `now` an event's own time is trusted as when its fact was observed: Event
/// Grid retries a delivery for at most 24 hours, so a genuine event is never older than that
/// when it first arrives; twice that leaves room for the handler's own outages.
pub const EVENT_TIME_TRUSTED_BEFORE: SignedDuration = SignedDuration::from_hours(48);
/// How far after `now` an event's own time is still only clock skew (it is then taken as `now`,
/// as every time after `now` is).
pub const EVENT_TIME_TRUSTED_AFTER: SignedDuration = SignedDuration::from_mins(5);

/// When a signal's fact counts as observed, for first-seen dates and "known before": its
/// `observed_at`, never after `now`. An event's own time is a claim of the sender: one more than
/// [`EVENT_TIME_TRUSTED_BEFORE`] before `now` or more than [`EVENT_TIME_TRUSTED_AFTER`] after it
/// is not trusted, and the receive time `now` is used — with the note (`Some`) to log. Sweep and
/// hand-fed signals carry our own clock's time and are taken as they are.
pub fn observed_at(signal: &Signal, now: Timestamp) -> (Timestamp, Option<String>) {
    let at = signal.observed_at;
    if !matches!(signal.origin, Origin::EventGrid { .. }) {
        return (at.min(now), None);
    }
    let too_old = now.checked_sub(EVENT_TIME_TRUSTED_BEFORE).is_ok_and(|earliest| at < earliest);
    let future = now.checked_add(EVENT_TIME_TRUSTED_AFTER).is_ok_and(|latest| at > latest);
    let why = match (too_old, future) {
        (true, _) => format!("more than {} hours before", EVENT_TIME_TRUSTED_BEFORE.as_hours()),
        (_, true) => format!("more than {} minutes after", EVENT_TIME_TRUSTED_AFTER.as_mins()),
        _ => return (at.min(now), None),
    };
    let id = match &signal.origin {
        Origin::EventGrid { event_id, .. } => event_id.as_str(),
        _ => "",
    };
    let note = format!(
        "event {id}: its time {at} is {why} it was received ({now}), so it is not trusted for first-seen dates: {now} is used for what it says about {}",
        signal.cluster.name()
    );
    (now, Some(note))
}

/// Target of a patch-upgrade concern: patches *from* `current`.
pub fn patch_target(current: &AksVersion) -> String {
    format!("patch:{current}")
}
/// Target of a minor-upgrade concern: the minor line to reach.
pub fn minor_target(line: MinorLine) -> String {
    line.to_string()
}
/// Target of a support concern: the running minor line (the raw version if it does not parse).
pub fn support_target(kubernetes_version: &str) -> String {
    MinorLine::parse(kubernetes_version).map_or_else(|_| kubernetes_version.trim().to_string(), |l| l.to_string())
}
/// Target of a node-image concern.
pub fn node_image_target(pool: &str, current_image: &str) -> String {
    format!("{pool}@{current_image}")
}
/// Target of a certificate concern.
pub fn certificate_target(certificate: CertificateKind, not_after: Timestamp) -> String {
    format!("{}@{}", certificate.as_str(), day(not_after))
}

// ---------------------------------------------------------------------------------------------
// Lineages: one open concern per cluster and kind of concern, following the newest target.
// ---------------------------------------------------------------------------------------------

/// The ledger reference channel a lineage's head is kept under (`Ledger::get_ref(<lineage
/// key>, LINEAGE_CHANNEL)`, see [`lineages`]).
pub const LINEAGE_CHANNEL: &str = "lineage";

/// Concerns of one cluster that replace one another: its patch upgrades, its minor upgrades,
/// its support notices, one pool's node images. Certificates, node pool rolls and planned
/// maintenance have none (several can be live at once: each is its own concern).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lineage {
    Patch,
    Minor,
    Support,
    NodeImage { pool: String },
}

impl Lineage {
    /// `"<cluster key>#<concern kind>#~<line>"` — the `~` keeps it apart from concern keys.
    fn key(&self, cluster: &ClusterId) -> String {
        let (kind, line) = match self {
            Self::Patch => (ConcernKind::KubernetesUpgrade, "patch".to_string()),
            Self::Minor => (ConcernKind::KubernetesUpgrade, "minor".to_string()),
            Self::Support => (ConcernKind::Support, "minor".to_string()),
            Self::NodeImage { pool } => (ConcernKind::NodeImage, format!("pool:{}", pool.to_ascii_lowercase())),
        };
        format!("{}#{}#~{line}", cluster.key(), kind.as_str())
    }
}

/// Where a finding stands in its lineage.
#[derive(Debug, Clone)]
struct Position {
    lineage: Lineage,
    /// The version the finding's messages name: the upgrade's target version, the newest
    /// version offered, the newest node image. `None` for support (its target says it all).
    version: Option<String>,
    /// Whether the finding knows the cluster's current version (a sweep's finding, or a support
    /// notice, which names it) — an event's "newest version offered" does not.
    informed: bool,
    /// The cluster's current version, when known (minor upgrades: whether the old concern is met).
    current: Option<AksVersion>,
}

impl Position {
    /// How a person names this target: `1.30.7`, `AKSUbuntu-…-202411.12.0`, `1.29`.
    fn told(&self, target: &str) -> String {
        told(target, self.version.as_deref())
    }
}

fn told(target: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => v.to_string(),
        None => target.strip_prefix("patch:").unwrap_or(target).to_string(),
    }
}

/// The head of a lineage: the concern and target told last. Stored as JSON in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    /// The concern's target (`patch:1.30.2`, `1.31`, `nodepool1@<image>`).
    pub target: String,
    /// The version told for it (see `Position::version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Whether the cluster's current version was known when it was told.
    #[serde(default)]
    pub informed: bool,
    /// The head it replaced: its supersession is planned again (same keys) while this head
    /// stands, so that a retried run still tells it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Box<Head>>,
}

impl Head {
    fn of(concern: &Concern, p: &Position) -> Self {
        Self { target: concern.target.clone(), version: p.version.clone(), informed: p.informed, previous: None }
    }
    fn without_previous(&self) -> Self {
        Self { previous: None, ..self.clone() }
    }
    fn told(&self) -> String {
        told(&self.target, self.version.as_deref())
    }
    /// Reads a stored head; an unreadable one (damaged, or from a newer release) counts as
    /// none: the finding is then planned as before lineages existed.
    pub fn from_stored(value: &str) -> Option<Self> {
        serde_json::from_str(value).ok()
    }
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("a head serializes")
    }
}

/// What a finding means for its lineage's head.
#[derive(Debug, Clone)]
enum Verdict {
    /// The head's own target (or not comparable with it): plan as usual.
    Same,
    /// A newer target of the head's own concern: tell it as an update.
    Newer { from: Head },
    /// A newer concern: the head's concern is closed — as resolved when the cluster has left
    /// it (`met`), else as superseded by this one.
    Replaces { old: Head, met: bool },
    /// An older target than the head's (an event delivered late): plan nothing.
    Stale { head: Head },
    /// An event without the cluster's version, about a lineage a sweep's finding heads.
    Covered { head: Head },
}

/// Compares a finding with the head of its lineage. Pure.
fn judge(head: &Head, concern: &Concern, p: &Position) -> Verdict {
    use std::cmp::Ordering::{Equal, Greater, Less};
    let same_concern = head.target.eq_ignore_ascii_case(&concern.target);
    let versions = || compare_versions(&p.lineage, head.version.as_deref(), p.version.as_deref());
    if head.informed && !p.informed {
        return if same_concern && versions() == Some(Equal) { Verdict::Same } else { Verdict::Covered { head: head.clone() } };
    }
    let better_informed = p.informed && !head.informed;
    if same_concern {
        return match versions() {
            Some(Greater) => Verdict::Newer { from: head.clone() },
            Some(Less) if better_informed => Verdict::Newer { from: head.clone() },
            Some(Less) => Verdict::Stale { head: head.clone() },
            Some(Equal) | None => Verdict::Same,
        };
    }
    let order = if better_informed { Some(Greater) } else { compare_targets(&p.lineage, &head.target, &concern.target) };
    match order {
        Some(Greater) => {
            // Patch, support and node-image targets name what the cluster runs: a new one
            // means the cluster left the old one. A minor concern is met once the cluster runs
            // its line (the sweep also resolves it then, with the same key).
            let met = match p.lineage {
                Lineage::Minor => match (&p.current, MinorLine::parse(&head.target)) {
                    (Some(current), Ok(line)) => current.minor_line() >= line,
                    _ => false,
                },
                _ => true,
            };
            Verdict::Replaces { old: head.clone(), met }
        }
        Some(Less) => Verdict::Stale { head: head.clone() },
        Some(Equal) | None => Verdict::Same,
    }
}

/// Orders two versions told within one concern (`None` when either does not parse).
fn compare_versions(lineage: &Lineage, old: Option<&str>, new: Option<&str>) -> Option<std::cmp::Ordering> {
    let (old, new) = (old?, new?);
    match lineage {
        Lineage::NodeImage { .. } => Some(image_order(new)?.cmp(&image_order(old)?)),
        _ => Some(AksVersion::parse(new).ok()?.cmp(&AksVersion::parse(old).ok()?)),
    }
}

/// Orders two concern targets of one lineage (`None` when either does not parse).
fn compare_targets(lineage: &Lineage, old: &str, new: &str) -> Option<std::cmp::Ordering> {
    match lineage {
        Lineage::Patch => {
            let v = |t: &str| AksVersion::parse(t.strip_prefix("patch:")?).ok();
            Some(v(new)?.cmp(&v(old)?))
        }
        Lineage::Minor | Lineage::Support => Some(MinorLine::parse(new).ok()?.cmp(&MinorLine::parse(old).ok()?)),
        Lineage::NodeImage { .. } => {
            let image = |t: &str| t.rsplit_once('@').and_then(|(_, i)| image_order(i));
            Some(image(new)?.cmp(&image(old)?))
        }
    }
}

/// A node image's version as numbers: `AKSUbuntu-2204gen2containerd-202411.12.0` → `[202411,
/// 12, 0]` (the part after the last `-`; AKS dates its images there).
fn image_order(image: &str) -> Option<Vec<u64>> {
    let tail = image.rsplit_once('-').map_or(image, |(_, t)| t);
    tail.split('.').map(|n| n.parse::<u64>().ok()).collect()
}

/// The lineage keys a signal's findings belong to, for the orchestrator to read their heads
/// (`Ledger::get_ref(key, LINEAGE_CHANNEL)`) into [`PlanFacts::heads`].
pub fn lineages(signal: &Signal, policy: &Policy) -> Vec<String> {
    scan(signal, policy).lineages
}

fn lineage_of(what: &What) -> Option<Lineage> {
    match what {
        What::Upgrade { scope: Scope::Patch, .. } => Some(Lineage::Patch),
        What::Upgrade { scope: Scope::Minor, .. } | What::NewestVersion { .. } => Some(Lineage::Minor),
        What::SupportEnding { .. } | What::SupportEnded { .. } => Some(Lineage::Support),
        What::NodeImage { pool, .. } => Some(Lineage::NodeImage { pool: pool.clone() }),
        _ => None,
    }
}
/// Target of the event-wiring concern: what resolves it is events reaching `aks-events`. One
/// target whatever is missing, so a cluster that gets its topic but not yet the subscription
/// keeps the same concern (and issue).
pub const EVENT_WIRING_TARGET: &str = "aks-events";

/// The AKS event types the `aks-events` subscription delivers (as infra/modules/cluster-events.bicep).
pub const AKS_EVENT_TYPES: [&str; 6] = [
    "Microsoft.ContainerService.NewKubernetesVersionAvailable",
    "Microsoft.ContainerService.ClusterSupportEnding",
    "Microsoft.ContainerService.ClusterSupportEnded",
    "Microsoft.ContainerService.NodePoolRollingStarted",
    "Microsoft.ContainerService.NodePoolRollingSucceeded",
    "Microsoft.ContainerService.NodePoolRollingFailed",
];

/// The az commands that wire a cluster's AKS events to the `aks-events` function: the system
/// topic (when there is none; named as infra/main.bicep names it) and the event subscription
/// (named `aks-cadence`, the infra's name). Without the function's id the subscription command
/// keeps a `<…>` placeholder to fill in.
pub fn wiring_commands(cluster: &ClusterId, location: Option<&str>, system_topic: Option<&str>, function: Option<&str>) -> Vec<String> {
    let (topic_rg, topic_name) = match system_topic {
        Some(id) => {
            let parts: Vec<&str> = id.trim_end_matches('/').split('/').collect();
            let rg = parts
                .iter()
                .position(|p| p.eq_ignore_ascii_case("resourceGroups"))
                .and_then(|i| parts.get(i + 1))
                .copied()
                .unwrap_or(cluster.resource_group());
            (rg.to_string(), parts.last().copied().unwrap_or_default().to_string())
        }
        None => (cluster.resource_group().to_string(), format!("aks-cadence-{}", cluster.name())),
    };
    let sub = shell_word(cluster.subscription());
    let mut v = Vec::new();
    if system_topic.is_none() {
        v.push(format!(
            "az eventgrid system-topic create --subscription {sub} --resource-group {} --name {} --location {} --topic-type Microsoft.ContainerService.ManagedClusters --source {}",
            shell_word(&topic_rg),
            shell_word(&topic_name),
            location.map_or_else(|| "<the cluster's region>".to_string(), shell_word),
            shell_word(cluster.as_str())
        ));
    }
    v.push(format!(
        "az eventgrid system-topic event-subscription create --subscription {sub} --resource-group {} --system-topic-name {} --name aks-cadence --endpoint-type azurefunction --endpoint {} --included-event-types {}",
        shell_word(&topic_rg),
        shell_word(&topic_name),
        function.map_or_else(|| "<function app resource id>/functions/aks-events".to_string(), shell_word),
        AKS_EVENT_TYPES.join(" ")
    ));
    v
}

/// Single-quotes a shell word when it holds anything beyond `[A-Za-z0-9._/-]`.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What the orchestrator reads before it plans a signal, from one reading of the signal: the
/// concerns it is about ([`concerns`], for their first sightings) and the lineage keys of its
/// findings ([`lineages`], for their heads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub concerns: Vec<Concern>,
    pub lineages: Vec<String>,
}

/// [`concerns`] and [`lineages`] of `signal` at once (the policy resolved and the signal
/// analysed once, not once for each).
pub fn scan(signal: &Signal, policy: &Policy) -> Scan {
    let cadence = policy.cadence_for(&signal.cluster, &signal.facts, &signal.kind);
    let findings = analyse(signal, &cadence);
    let lineages = findings.iter().filter_map(|f| lineage_of(&f.what)).map(|l| l.key(&signal.cluster)).collect();
    Scan { concerns: findings.into_iter().map(|f| f.concern).collect(), lineages }
}

/// The concerns a signal is about (so the orchestrator can look up their first-seen times).
pub fn concerns(signal: &Signal, policy: &Policy) -> Vec<Concern> {
    scan(signal, policy).concerns
}

/// Plans the actions for one signal.
pub fn plan(signal: &Signal, policy: &Policy, facts: &PlanFacts, now: Timestamp) -> Vec<Action> {
    plan_with_heads(signal, policy, facts, now).actions
}

/// What planning one signal gives the orchestrator: the actions, the lineage heads to record
/// (see "Lineages" in the module docs) and notes for the run's log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Planned {
    pub actions: Vec<Action>,
    /// (lineage key, head) for every lineage whose head this signal moved; the orchestrator
    /// stores them (`Ledger::put_ref(key, LINEAGE_CHANNEL, head.to_stored())`) and gives them
    /// to the next signal it plans.
    pub heads: Vec<(String, Head)>,
    /// Why a finding planned nothing (an older target than the one already told).
    pub notes: Vec<String>,
    /// The targets a failed upgrade in an earlier ring stops for this signal's concerns (each
    /// with the issue that can release it: `plan::release`).
    pub stops: Vec<release::Stop>,
}

/// The failure stops planning `signal` with `facts` meets (`plan::release`): what the
/// orchestrator reads releases for before it plans. Empty, without planning, when the fleet has
/// no unreleased failure or the cluster is in no ring.
pub fn failure_stops(signal: &Signal, policy: &Policy, facts: &PlanFacts, now: Timestamp) -> Vec<release::Stop> {
    if !facts.ring.as_ref().is_some_and(|place| place.fleet.stops_any()) {
        return Vec::new();
    }
    plan_with_heads(signal, policy, facts, now).stops
}

/// Plans the actions for one signal, following each concern's lineage (`facts.heads`).
pub fn plan_with_heads(signal: &Signal, policy: &Policy, facts: &PlanFacts, now: Timestamp) -> Planned {
    let rules: Vec<&Rule> = policy.applicable(&signal.cluster, &signal.facts, &signal.kind).collect();
    let cadence = policy.cadence_for(&signal.cluster, &signal.facts, &signal.kind);
    let mut p = Planner { signal, facts, now, cadence: &cadence, rules, out: Vec::new(), keys: BTreeSet::new(), readiness: &policy.readiness, stops: Vec::new() };
    let mut heads = Vec::new();
    let mut notes = Vec::new();
    for finding in analyse(signal, &cadence) {
        let Some(position) = p.position(&finding) else {
            p.finding(finding);
            continue;
        };
        let key = position.lineage.key(&signal.cluster);
        let head = facts.heads.get(&key);
        let verdict = head.map_or(Verdict::Same, |h| judge(h, &finding.concern, &position));
        if let Verdict::Stale { head } | Verdict::Covered { head } = &verdict {
            let why = match verdict {
                Verdict::Stale { .. } => format!("is older than {} already told", head.told()),
                _ => format!("does not know the cluster's version, and a sweep's finding ({}) leads", head.told()),
            };
            let c = &finding.concern;
            notes.push(format!("{}: {} {} ({}) {why}; nothing planned", signal.cluster.name(), c.kind.as_str(), c.target, position.told(&c.target)));
            continue;
        }
        let next = match (head, &verdict) {
            (None, _) => Some(Head::of(&finding.concern, &position)),
            (Some(h), Verdict::Same) => (!h.informed && position.informed).then(|| Head { informed: true, ..h.clone() }),
            (Some(h), _) => Some(Head { previous: Some(Box::new(h.without_previous())), ..Head::of(&finding.concern, &position) }),
        };
        // A supersession is planned again while its head stands, so that a run that could not
        // finish it (a retry) still tells it; its keys make it happen once.
        let succession = match (&verdict, head) {
            (Verdict::Same, Some(h)) if h.target.eq_ignore_ascii_case(&finding.concern.target) && h.version == position.version => {
                h.previous.as_deref().map(|prev| judge(prev, &finding.concern, &position))
            }
            (Verdict::Newer { .. } | Verdict::Replaces { .. }, _) => Some(verdict.clone()),
            _ => None,
        };
        let concern = finding.concern.clone();
        let start = p.out.len();
        p.finding(finding);
        if let Some(s) = succession {
            p.succession(&concern, &position, s, start);
        }
        if let Some(h) = next {
            heads.push((key, h));
        }
    }
    Planned { actions: p.out, heads, notes, stops: p.stops }
}

// ---------------------------------------------------------------------------------------------
// Analysis: signal → findings (concern + what is known about it).
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Patch,
    Minor,
}

#[derive(Debug)]
enum What {
    Upgrade {
        scope: Scope,
        current: AksVersion,
        target: AksVersion,
    },
    /// An event announced versions but the cluster's version is not known yet.
    NewestVersion {
        newest: AksVersion,
    },
    SupportEnding {
        version: String,
        eol: Option<Timestamp>,
        support_type: Option<String>,
        /// Where `eol` came from (`SignalKind::SupportEnding::eol_source`).
        source: Option<String>,
    },
    SupportEnded {
        version: String,
    },
    NodeImage {
        pool: String,
        current: String,
        latest: String,
    },
    Certificate {
        certificate: CertificateKind,
        not_after: Timestamp,
    },
    Roll {
        pool: String,
        phase: RollingPhase,
        error: Option<String>,
    },
    Maintenance {
        upgrade: MaintenanceKind,
        status: MaintenanceStatus,
        scheduled: Option<Timestamp>,
        details: Option<String>,
    },
    Operation {
        status: OperationStatus,
    },
    Resolved,
    NotWired {
        system_topic: Option<String>,
        function: Option<String>,
    },
    /// One failing security-baseline check (its item is in the signal).
    BaselineCheck {
        check: String,
    },
    /// The cluster's baseline checklist (the items are in the signal).
    BaselineChecklist,
    /// An AKS channel setting differs from the one policy requires.
    ChannelRequired {
        current: Option<String>,
        required: String,
    },
    /// A later ring took a version through its AKS channel before the earlier ring soaked it.
    RingInversion { detail: String },
}

#[derive(Debug)]
struct Finding {
    concern: Concern,
    what: What,
}

fn analyse(signal: &Signal, cadence: &Cadence) -> Vec<Finding> {
    let cluster = &signal.cluster;
    let make = |kind, target: String, what| Finding { concern: Concern::new(cluster.clone(), kind, target), what };
    let lts = versions::is_lts(signal.facts.support_plan.as_deref());
    match &signal.kind {
        SignalKind::NewKubernetesVersion { latest_supported, latest_stable, latest_preview, .. } => {
            let mut offered: Vec<OfferedVersion> = [latest_supported, latest_stable]
                .into_iter()
                .flatten()
                .map(|v| OfferedVersion { version: v.clone(), is_preview: false })
                .collect();
            if let Some(p) = latest_preview {
                offered.push(OfferedVersion { version: p.clone(), is_preview: true });
            }
            let current = signal.facts.kubernetes_version.as_deref().and_then(|v| AksVersion::parse(v).ok());
            match current {
                Some(current) => upgrade_findings(cluster, &current, &offered, cadence.include_preview, lts, true),
                None => {
                    let newest = offered
                        .iter()
                        .filter(|o| cadence.include_preview || !o.is_preview)
                        .filter_map(|o| AksVersion::parse(&o.version).ok())
                        .max();
                    newest
                        .map(|newest| {
                            make(
                                ConcernKind::KubernetesUpgrade,
                                minor_target(newest.minor_line()),
                                What::NewestVersion { newest },
                            )
                        })
                        .into_iter()
                        .collect()
                }
            }
        }
        SignalKind::UpgradesOffered { current, offered } => match AksVersion::parse(current) {
            Ok(current) => upgrade_findings(cluster, &current, offered, cadence.include_preview, lts, false),
            Err(_) => Vec::new(),
        },
        SignalKind::SupportEnding { kubernetes_version, eol_date, support_type, eol_source } => vec![make(
            ConcernKind::Support,
            support_target(kubernetes_version),
            What::SupportEnding {
                version: kubernetes_version.clone(),
                eol: *eol_date,
                support_type: support_type.clone(),
                source: eol_source.clone(),
            },
        )],
        SignalKind::SupportEnded { kubernetes_version } => vec![make(
            ConcernKind::Support,
            support_target(kubernetes_version),
            What::SupportEnded { version: kubernetes_version.clone() },
        )],
        SignalKind::NodeImageAvailable { pool, current, latest } => {
            if current.eq_ignore_ascii_case(latest) {
                return Vec::new();
            }
            vec![make(
                ConcernKind::NodeImage,
                node_image_target(pool, current),
                What::NodeImage { pool: pool.clone(), current: current.clone(), latest: latest.clone() },
            )]
        }
        SignalKind::CertificateExpiring { certificate, not_after } => vec![make(
            ConcernKind::Certificate,
            certificate_target(*certificate, *not_after),
            What::Certificate { certificate: *certificate, not_after: *not_after },
        )],
        SignalKind::NodePoolRolling { pool, phase, error } => vec![make(
            ConcernKind::NodePoolRoll,
            pool.clone(),
            What::Roll { pool: pool.clone(), phase: *phase, error: error.clone() },
        )],
        SignalKind::Maintenance { event_id, upgrade, status, scheduled_time, details } => vec![make(
            ConcernKind::Maintenance,
            event_id.clone(),
            What::Maintenance {
                upgrade: upgrade.clone(),
                status: status.clone(),
                scheduled: *scheduled_time,
                details: details.clone(),
            },
        )],
        SignalKind::Operation { concern, target, status } => {
            vec![make(*concern, target.clone(), What::Operation { status: status.clone() })]
        }
        SignalKind::Resolved { concern, target } => vec![make(*concern, target.clone(), What::Resolved)],
        SignalKind::EventsNotWired { system_topic, function } => vec![make(
            ConcernKind::EventWiring,
            EVENT_WIRING_TARGET.to_string(),
            What::NotWired { system_topic: system_topic.clone(), function: function.clone() },
        )],
        SignalKind::ChannelRequired { setting, current, required } => vec![make(
            ConcernKind::AksChannel,
            setting.clone(),
            What::ChannelRequired { current: current.clone(), required: required.clone() },
        )],
        SignalKind::RingInversion { version, detail } => {
            vec![make(ConcernKind::RingInversion, version.clone(), What::RingInversion { detail: detail.clone() })]
        }
        SignalKind::Baseline { opened, items, .. } => {
            let mut out: Vec<Finding> = items
                .iter()
                .filter(|i| i.status.is_failing())
                .filter_map(|i| {
                    let target = baseline_report::check_target(&i.check, i.since?);
                    Some(make(ConcernKind::Baseline, target, What::BaselineCheck { check: i.check.clone() }))
                })
                .collect();
            if let Some(opened) = opened {
                out.push(make(ConcernKind::Baseline, baseline_report::checklist_target(*opened), What::BaselineChecklist));
            }
            out
        }
    }
}

/// Patch and minor upgrade findings from `current` given what is offered. `sparse` = the list is
/// an event's "latest" versions only, so a newer minor beyond the next one still tells us the
/// next minor exists (its exact patch is then unknown: the target is the minor line, which ARM
/// accepts as "latest patch of that minor").
fn upgrade_findings(
    cluster: &ClusterId,
    current: &AksVersion,
    offered: &[OfferedVersion],
    include_preview: bool,
    lts: bool,
    sparse: bool,
) -> Vec<Finding> {
    let choice = versions::upgrade_choice(current, offered, include_preview, lts);
    let mut out = Vec::new();
    if let Some(target) = choice.patch {
        out.push(Finding {
            concern: Concern::new(cluster.clone(), ConcernKind::KubernetesUpgrade, patch_target(current)),
            what: What::Upgrade { scope: Scope::Patch, current: current.clone(), target },
        });
    }
    let minor = choice.minor.or_else(|| {
        let next = current.minor_line().next()?;
        let beyond = sparse
            && !lts
            && offered
                .iter()
                .filter(|o| include_preview || !o.is_preview)
                .filter_map(|o| AksVersion::parse(&o.version).ok())
                .any(|v| v.minor_line() > next);
        beyond.then_some(AksVersion { major: next.major, minor: next.minor, patch: None })
    });
    if let Some(target) = minor {
        out.push(Finding {
            concern: Concern::new(cluster.clone(), ConcernKind::KubernetesUpgrade, minor_target(target.minor_line())),
            what: What::Upgrade { scope: Scope::Minor, current: current.clone(), target },
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Planning: findings → actions.
// ---------------------------------------------------------------------------------------------

/// A cluster change to plan as an Execute action.
struct Change<'v> {
    kind: ActionKind,
    /// "upgrade Kubernetes 1.30.4 → 1.30.7 (patch)", for the summary.
    what: String,
    mode: UpgradeMode,
    /// The version to check against the region's offer (version upgrades only).
    target: Option<&'v AksVersion>,
    min_minutes: u32,
    deadline: Option<Timestamp>,
    /// What the rings say about the target (`None`: eligible, or not ring-gated).
    ring: Option<Hold>,
}

struct Planner<'a> {
    signal: &'a Signal,
    facts: &'a PlanFacts,
    now: Timestamp,
    cadence: &'a Cadence,
    rules: Vec<&'a Rule>,
    out: Vec<Action>,
    keys: BTreeSet<ActionKey>,
    readiness: &'a crate::readiness::ReadinessPolicy,
    /// Failure stops met while planning (`plan::release`).
    stops: Vec<release::Stop>,
}

fn days(n: u32) -> SignedDuration {
    // u32 days × 24 fits an i64 many times over: no overflow whatever policy says.
    SignedDuration::from_hours(i64::from(n) * 24)
}

/// `t + n days`, or the last instant there is: times and day counts come from payloads and
/// policy, so the sum is checked rather than trusted to stay in range.
fn after_days(t: Timestamp, n: u32) -> Timestamp {
    t.checked_add(days(n)).unwrap_or(Timestamp::MAX)
}

/// `t - n days`, or the first instant there is.
fn before_days(t: Timestamp, n: u32) -> Timestamp {
    t.checked_sub(days(n)).unwrap_or(Timestamp::MIN)
}

fn day(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

/// A short digest of a fact, for update keys.
fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(8);
    for b in &h.finalize()[..4] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// Notice → Reminder → Overdue by the clock.
fn ladder(now: Timestamp, deadline: Timestamp, reminder_days_before: u32) -> Stage {
    if now >= deadline {
        Stage::Overdue
    } else if now >= before_days(deadline, reminder_days_before) {
        Stage::Reminder
    } else {
        Stage::Notice
    }
}

impl Planner<'_> {
    fn name(&self) -> &str {
        self.signal.cluster.name()
    }

    /// A minor-line target made exact from the region's offer when it is known.
    fn exact(&self, target: AksVersion) -> AksVersion {
        if target.patch.is_none()
            && let Some(exact) = self.facts.offered_in_region.as_ref().and_then(|o| newest_of_line(o, target.minor_line()))
        {
            return exact;
        }
        target
    }

    /// Where a finding stands in its lineage (`None`: the finding has no lineage).
    fn position(&self, f: &Finding) -> Option<Position> {
        let lineage = lineage_of(&f.what)?;
        let (version, informed, current) = match &f.what {
            What::Upgrade { current, target, .. } => (Some(self.exact(target.clone()).to_string()), true, Some(current.clone())),
            What::NewestVersion { newest } => (Some(newest.to_string()), false, None),
            What::NodeImage { latest, .. } => (Some(latest.clone()), true, None),
            // Support notices name the version the cluster runs.
            _ => (None, true, None),
        };
        Some(Position { lineage, version, informed, current })
    }

    /// Plans what a newer target means for the head it replaces (`verdict`); the finding's own
    /// actions are `self.out[start..]`.
    fn succession(&mut self, concern: &Concern, p: &Position, verdict: Verdict, start: usize) {
        let name = self.name().to_string();
        let to = p.told(&concern.target);
        let is_message = |a: &Action| {
            a.concern == *concern
                && matches!(a.stage, Stage::Notice | Stage::Reminder | Stage::Overdue)
                && matches!(a.kind, ActionKind::GithubIssue { .. } | ActionKind::Email { .. } | ActionKind::Chat { .. } | ActionKind::Log)
        };
        match verdict {
            Verdict::Newer { from } => {
                // The concern's channels hear the new target once: its issue gets a comment
                // and is retitled, mail and chat get a message (one key per target told).
                let note = format!("superseded {} → {to}", from.told());
                let fact = digest(&["target", &to]);
                let told: Vec<Action> = self.out[start..].iter().filter(|a| is_message(a)).cloned().collect();
                for a in told {
                    let before = self.out.len();
                    self.push(concern, Stage::Update, a.kind, a.summary, Some(&fact), a.deadline, None);
                    if let Some(update) = self.out.get_mut(before) {
                        update.note = Some(note.clone());
                    }
                }
            }
            Verdict::Replaces { old, met } => {
                let old_concern = Concern::new(concern.cluster.clone(), concern.kind, old.target.clone());
                let note = format!("superseded {} → {to}", old.told());
                for a in self.out[start..].iter_mut().filter(|a| is_message(a)) {
                    a.note.get_or_insert_with(|| format!("{note} ({} {} replaces {})", concern.kind.as_str(), concern.target, old.target));
                }
                let before = self.out.len();
                if met {
                    // The same actions a sweep's `Resolved` signal plans (same keys: done once).
                    let summary = say::resolved(&name, old_concern.kind, &old_concern.target);
                    self.tell(&old_concern, Stage::Resolve, &summary, None, None);
                } else {
                    let summary = say::superseded(&name, old_concern.kind, &old.target, &old.told(), &concern.target, &to);
                    let fact = digest(&["superseded-by", &concern.target.to_ascii_lowercase()]);
                    self.tell(&old_concern, Stage::Resolve, &summary, Some(&format!("superseded-{fact}")), None);
                    for a in &mut self.out[before..] {
                        a.note = Some(note.clone());
                        a.superseded_by = Some(concern.clone());
                    }
                }
            }
            Verdict::Same | Verdict::Stale { .. } | Verdict::Covered { .. } => {}
        }
    }

    fn first_seen(&self, concern: &Concern) -> Timestamp {
        self.facts.first_seen.get(&concern.key()).copied().unwrap_or_else(|| self.observed())
    }

    /// When this signal's fact was observed, as far as it is trusted ([`observed_at`]).
    fn observed(&self) -> Timestamp {
        observed_at(self.signal, self.now).0
    }

    /// The concern was seen before this signal: news about it is an update.
    ///
    /// Compared with the signal's own time, which every redelivery of an event carries
    /// unchanged (the receive time would not be: a second delivery would find the first one's
    /// sighting "before" it and tell the same fact again as an update). A time outside the trust
    /// window ([`observed_at`]) cannot say what came before it: such a signal is never news
    /// about a known concern (its notice key is the one already finished, if any).
    fn known_before(&self, concern: &Concern) -> bool {
        let trusted = observed_at(self.signal, self.now).1.is_none();
        trusted && self.facts.first_seen.get(&concern.key()).is_some_and(|t| *t < self.signal.observed_at)
    }

    /// Whether the signal reports news (events, replays) rather than restating state (sweeps).
    fn is_news(&self) -> bool {
        !matches!(self.signal.origin, Origin::Sweep { .. })
    }

    /// Message channels of the applicable rules, plus `stage`'s own routes (see "Escalation
    /// routing"); a log line when nothing else is told.
    fn message_kinds(&self, stage: Stage) -> Vec<ActionKind> {
        let mut kinds = Vec::new();
        for rule in &self.rules {
            if let Some(i) = &rule.github_issue {
                kinds.push(ActionKind::GithubIssue {
                    repo: i.repo.clone(),
                    labels: i.labels.clone(),
                    assignees: i.assignees.clone(),
                });
            }
            if let Some(to) = &rule.email {
                kinds.push(ActionKind::Email { to: to.clone() });
            }
            for c in &rule.chat {
                kinds.push(ActionKind::Chat { chat: c.kind, url_setting: c.url_setting.clone() });
            }
        }
        let routed = stage_routes(&self.rules, stage, &kinds);
        kinds.extend(routed);
        if kinds.is_empty() {
            kinds.push(ActionKind::Log);
        }
        kinds
    }

    fn close_kinds(&self) -> Vec<ActionKind> {
        let mut kinds: Vec<ActionKind> = self
            .rules
            .iter()
            .filter_map(|r| r.github_issue.as_ref())
            .map(|i| ActionKind::GithubClose { repo: i.repo.clone() })
            .collect();
        if kinds.is_empty() {
            kinds.push(ActionKind::Log);
        }
        kinds
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        concern: &Concern,
        stage: Stage,
        kind: ActionKind,
        summary: String,
        fact: Option<&str>,
        deadline: Option<Timestamp>,
        hold: Option<Hold>,
    ) {
        let mut action = Action::new(concern.clone(), stage, kind, summary, self.signal.clone());
        if let Some(fact) = fact {
            action.key = ActionKey::new(concern, &format!("{}~{fact}", action.kind.channel()), stage);
        }
        if !self.keys.insert(action.key.clone()) {
            return;
        }
        action.first_seen = Some(self.first_seen(concern));
        action.deadline = deadline;
        // Messages of an upgrade concern say what is not ready; the update on a failed operation
        // names AKS's likely cause with its fix (`crate::readiness`).
        if !action.kind.changes_cluster() {
            action.note = match (stage, &self.signal.kind) {
                (Stage::Notice | Stage::Reminder | Stage::Overdue, _) => self.readiness_of_concern(concern).and_then(|a| a.summary()),
                (Stage::Update, SignalKind::Operation { status: OperationStatus::Failed { code, message }, .. }) => {
                    crate::readiness::explain_failure(code, message)
                }
                _ => None,
            };
        }
        action.hold = hold;
        action.window = Some(self.facts.window_for_action(&action.kind, concern.kind).clone());
        self.out.push(action);
    }

    /// One message per channel.
    fn tell(
        &mut self,
        concern: &Concern,
        stage: Stage,
        summary: &str,
        fact: Option<&str>,
        deadline: Option<Timestamp>,
    ) {
        let kinds = if stage == Stage::Resolve { self.close_kinds() } else { self.message_kinds(stage) };
        for kind in kinds {
            self.push(concern, stage, kind, summary.to_string(), fact, deadline, None);
        }
    }

    /// The first gate that holds a cluster change back, or `None` when it may run now.
    fn gate(
        &self,
        mode: UpgradeMode,
        first_seen: Timestamp,
        target: Option<&AksVersion>,
        min_minutes: u32,
        scope: WindowScope,
        ring: Option<Hold>,
    ) -> Option<Hold> {
        if mode == UpgradeMode::Notify {
            return Some(Hold::PolicyNotifyOnly);
        }
        let allowed_from = after_days(first_seen, self.cadence.auto_after_days);
        if self.now < allowed_from {
            return Some(Hold::NotBefore { at: allowed_from });
        }
        if ring.is_some() {
            return ring;
        }
        let f = &self.signal.facts;
        let provisioning = f.provisioning_state.as_deref();
        let power = f.power_state.as_deref();
        let ready = provisioning.is_some_and(|s| s.eq_ignore_ascii_case("Succeeded"))
            && power.is_some_and(|s| s.eq_ignore_ascii_case("Running"));
        if !ready {
            let state = format!(
                "provisioningState {}, powerState {}",
                provisioning.unwrap_or("unknown"),
                power.unwrap_or("unknown")
            );
            return Some(Hold::ClusterNotReady { state });
        }
        if self.facts.cluster_busy {
            return Some(Hold::Busy);
        }
        if let (Some(target), Some(offered)) = (target, &self.facts.offered_in_region)
            && !versions::is_offered(target, offered)
        {
            return Some(Hold::TargetNotOffered { target: target.to_string() });
        }
        match self.facts.window_for(scope) {
            WindowStatus::Unknown => Some(match self.facts.window_causes.get(&scope) {
                Some(cause) => Hold::WindowUnknown { cause: cause.clone() },
                None => Hold::OutsideWindow { next: None },
            }),
            WindowStatus::Closed { next } => Some(Hold::OutsideWindow { next: *next }),
            WindowStatus::Open { until }
                if until.duration_since(self.now) < SignedDuration::from_mins(i64::from(min_minutes)) =>
            {
                Some(Hold::WindowTooShort { closes: *until })
            }
            WindowStatus::Open { .. } => None,
        }
    }

    /// What the rings say about `target` for this cluster (`policy::rings::gate`): `None` when
    /// it is eligible, or the cluster is in no ring, or the fleet's facts are unknown.
    fn ring_hold(&self, target: rings::Target<'_>) -> Option<Hold> {
        let place = self.facts.ring.as_ref()?;
        let name = match target {
            rings::Target::Kubernetes(v) => v.to_string(),
            rings::Target::NodeImage(i) => i.to_string(),
        };
        let released = place.fleet.released.contains(&name);
        match rings::gate(&place.fleet.rings, place.index, target, released, self.now) {
            rings::Gate::Eligible => None,
            rings::Gate::Held { ring, waiting, until, failed } => Some(Hold::Ring { ring, waiting, until, failed }),
        }
    }

    /// Adds the ring hold to the messages pushed since `start` (the issue says why the target
    /// waits, and until when if known).
    fn note_ring(&mut self, start: usize, ring: Option<&Hold>) {
        let Some(hold) = ring else { return };
        let line = format!("The target waits: {}.", hold.describe());
        let release = release::how_to_release(&self.cadence.release_label);
        for action in &mut self.out[start..] {
            let mut line = line.clone();
            if matches!(hold, Hold::Ring { failed: true, .. }) && matches!(action.kind, ActionKind::GithubIssue { .. }) {
                line = format!("{line} {release}");
            }
            action.note = Some(match action.note.take() {
                Some(note) => format!("{note}\n{line}"),
                None => line,
            });
        }
    }

    /// A target stopped by a failed upgrade in an earlier ring (`ring` is a failure stop): the
    /// stop is noted for the orchestrator (releases are read on the concern's issue), and a
    /// concern told before the failure hears once that its target is stopped, and how to release it.
    fn failure_stop(&mut self, concern: &Concern, ring: Option<&Hold>, target: &str, deadline: Timestamp) {
        let Some(Hold::Ring { ring, waiting, failed: true, .. }) = ring else { return };
        let Some(place) = &self.facts.ring else { return };
        let since = rings::first_failure(&place.fleet.rings, ring, target).unwrap_or(self.now);
        let repo = self.rules.iter().find_map(|r| r.github_issue.as_ref()).map(|i| i.repo.clone());
        let label = self.cadence.release_label.clone();
        self.stops.push(release::Stop { concern: concern.clone(), target: target.to_string(), ring: ring.clone(), since, repo, label });
        // First seen at or before the failure: its notice was planned before the failure was
        // recorded (a sweep records failures after it plans), so it did not say so.
        if self.facts.first_seen.get(&concern.key()).is_some_and(|seen| *seen <= since) {
            let fact = digest(&["stopped", target, &since.to_string()]);
            let summary = format!(
                "{}: the upgrade to {target} failed in ring {ring} ({}); {target} is stopped for this cluster until a newer target appears or a person releases it",
                self.name(),
                waiting.join(", ")
            );
            let start = self.out.len();
            self.tell(concern, Stage::Update, &summary, Some(&fact), Some(deadline));
            let how = release::how_to_release(&self.cadence.release_label);
            for a in self.out[start..].iter_mut().filter(|a| matches!(a.kind, ActionKind::GithubIssue { .. })) {
                a.note = Some(how.clone());
            }
        }
    }

    /// The readiness of the upgrade that resolves `concern`, when a sweep read its facts.
    fn readiness_of_concern(&self, concern: &Concern) -> Option<crate::readiness::Assessment> {
        use crate::readiness::{Scope, assess};
        let facts = self.facts.readiness.as_ref()?;
        let scope = match concern.kind {
            ConcernKind::KubernetesUpgrade => Scope::AllPools,
            ConcernKind::NodeImage => Scope::Pool(concern.target.split('@').next().unwrap_or("")),
            _ => return None,
        };
        Some(assess(self.readiness, facts, scope))
    }

    /// A readiness failure (or, when policy says so, an unknown) holds an upgrade the window
    /// would let run; the gates before it (policy, cluster state) come first.
    fn readiness_hold(&self, concern: &Concern, kind: &ActionKind, gate: Option<Hold>) -> Option<Hold> {
        if !matches!(kind, ActionKind::Upgrade { .. })
            || !matches!(gate, None | Some(Hold::OutsideWindow { .. } | Hold::WindowUnknown { .. } | Hold::WindowTooShort { .. }))
        {
            return gate;
        }
        match self.readiness_of_concern(concern) {
            Some(a) if a.holds(self.readiness) => Some(Hold::Readiness { problems: a.problems, unknown: a.unknown }),
            _ => gate,
        }
    }

    /// The issue messages planned from `before` on say how to approve, when policy requires
    /// approval for this `auto` change (`plan::approval`).
    fn how_to_approve(&mut self, before: usize, mode: UpgradeMode) {
        if mode != UpgradeMode::Auto || self.cadence.approval != crate::policy::ApprovalVia::Github {
            return;
        }
        let how = approval::how_to_approve(&self.cadence.approval_label, &self.cadence.hold_label);
        for a in self.out[before..].iter_mut().filter(|a| matches!(a.kind, ActionKind::GithubIssue { .. })) {
            a.note = Some(match a.note.take() {
                Some(n) => format!("{n}\n\n{how}"),
                None => how.clone(),
            });
        }
    }

    fn execute(&mut self, concern: &Concern, change: Change<'_>) {
        let Change { kind, what, mode, target, min_minutes, deadline, ring } = change;
        let scope = WindowScope::of_action(&kind).unwrap_or(WindowScope::KubernetesVersion);
        let hold = self.gate(mode, self.first_seen(concern), target, min_minutes, scope, ring);
        let hold = self.readiness_hold(concern, &kind, hold);
        // Approval comes last: it is read from GitHub only for a change every other gate lets
        // run (`pipeline`, `plan::approval`), so until then it is awaited.
        let hold = match hold {
            None if self.cadence.approval == crate::policy::ApprovalVia::Github && matches!(kind, ActionKind::Upgrade { .. }) => {
                Some(Hold::AwaitingApproval { url: None, cause: None })
            }
            other => other,
        };
        let summary = say::execute(self.name(), &what, hold.as_ref(), self.facts.window_for(scope));
        self.push(concern, Stage::Execute, kind, summary, None, deadline, hold);
    }

    fn finding(&mut self, f: Finding) {
        let Finding { concern, what } = f;
        let name = self.name().to_string();
        match what {
            What::Upgrade { scope, current, target } => self.upgrade(&concern, scope, &current, target),
            What::NewestVersion { newest } => {
                // An event's recommendation waits for the rings as a sweep's does.
                let ring = self.ring_hold(rings::Target::Kubernetes(&newest));
                let start = self.out.len();
                self.tell(&concern, Stage::Notice, &say::newest_version(&name, &newest), None, None);
                self.note_ring(start, ring.as_ref());
            }
            What::SupportEnding { version, eol, support_type, source } => {
                let support_type = support_type.as_deref();
                if self.known_before(&concern) && self.is_news() {
                    let fact = digest(&[&version, &eol.map(day).unwrap_or_default(), support_type.unwrap_or("")]);
                    let update = say::support_update(&name, &version, eol, support_type);
                    self.tell(&concern, Stage::Update, &update, Some(&fact), eol);
                }
                let stage = eol.map_or(Stage::Notice, |eol| ladder(self.now, eol, self.cadence.reminder_days_before));
                let summary = say::support_ending(&name, stage, &version, eol, support_type, source.as_deref());
                self.tell(&concern, stage, &summary, None, eol);
            }
            What::SupportEnded { version } => {
                self.tell(&concern, Stage::Overdue, &say::support_ended(&name, &version), None, None);
            }
            What::NodeImage { pool, current, latest } => self.node_image(&concern, &pool, &current, latest),
            What::Certificate { certificate, not_after } => {
                let Some((stage, fact)) = certificate_stage(self.now, not_after, &self.cadence.certificate_warn_days) else {
                    return; // not yet within any warning threshold
                };
                let summary = say::certificate(&name, stage, certificate, not_after, self.now);
                self.tell(&concern, stage, &summary, fact.as_deref(), Some(not_after));
                let change = Change {
                    kind: ActionKind::RotateCertificates,
                    what: say::certificate_change(certificate, not_after),
                    mode: self.cadence.certificate_rotation,
                    target: None,
                    min_minutes: self.cadence.min_window_minutes.certificate_rotation,
                    deadline: Some(not_after),
                    // A certificate rotation is not a target a ring soaks.
                    ring: None,
                };
                self.execute(&concern, change);
            }
            What::Roll { pool, phase, error } => {
                let fact = digest(&[&format!("{phase:?}"), error.as_deref().unwrap_or(""), &self.signal.observed_at.to_string()]);
                let stage = self.news_stage(&concern);
                let fact_key = if stage == Stage::Update { Some(fact.as_str()) } else { roll_notice_key(phase) };
                self.tell(&concern, stage, &say::roll(&name, stage, &pool, phase, error.as_deref()), fact_key, None);
                if phase == RollingPhase::Succeeded {
                    self.tell(&concern, Stage::Resolve, &say::roll_resolved(&name, &pool), Some(&fact), None);
                }
            }
            What::Maintenance { upgrade, status, scheduled, details } => {
                let what = say::maintenance_what(&upgrade);
                let status_s = say::maintenance_status(&status, scheduled);
                let stage = self.news_stage(&concern);
                let fact = digest(&[&status_s]);
                let fact_key = (stage == Stage::Update).then_some(fact.as_str());
                let summary = say::maintenance(&name, stage, what, &status_s, details.as_deref());
                self.tell(&concern, stage, &summary, fact_key, scheduled);
                if matches!(status, MaintenanceStatus::Completed | MaintenanceStatus::Canceled) {
                    self.tell(&concern, Stage::Resolve, &say::maintenance_resolved(&name, what, &status_s), None, None);
                }
            }
            What::Operation { status } => {
                let summary = say::operation(&name, concern.kind, &concern.target, &status);
                self.tell(&concern, Stage::Update, &summary, Some(&operation_fact(&status)), None);
            }
            What::Resolved if concern.kind == ConcernKind::Baseline && !baseline_report::is_checklist_target(&concern.target) => {
                self.baseline_fixed(&concern);
            }
            What::Resolved if concern.kind == ConcernKind::RingInversion => {
                self.tell(&concern, Stage::Resolve, &say::ring_inversion_over(&name, &concern.target), None, None);
            }
            What::Resolved if concern.kind == ConcernKind::AksChannel => {
                let summary = say::channel_set(&name, &concern.target, self.channel_now(&concern.target).as_deref());
                self.tell(&concern, Stage::Resolve, &summary, None, None);
            }
            What::Resolved => {
                let summary = match self.applied_by_aks(&concern) {
                    Some(aks) => say::resolved_by_aks(&name, concern.kind, &concern.target, &aks, self.now_running(&concern).as_deref()),
                    None => say::resolved(&name, concern.kind, &concern.target),
                };
                self.tell(&concern, Stage::Resolve, &summary, None, None);
            }
            What::BaselineCheck { check } => self.baseline_check(&concern, &check),
            What::BaselineChecklist => self.baseline_checklist(&concern),
            What::ChannelRequired { current, required } => {
                let command = channels::ChannelSetting::of_target(&concern.target)
                    .and_then(|setting| channels::RequiredChannel::parse(setting, &required))
                    .map(|r| r.command(&concern.cluster));
                let summary = say::channel_required(&name, &concern.target, current.as_deref(), &required, command.as_deref());
                self.tell(&concern, Stage::Notice, &summary, None, None);
            }
            What::RingInversion { detail } => {
                // Once per cluster and version: a later sweep of the same inversion is not news.
                if !self.known_before(&concern) {
                    self.tell(&concern, Stage::Notice, &format!("{name}: {detail}"), None, None);
                }
            }
            What::NotWired { system_topic, function } => {
                let location = self.signal.facts.location.as_deref();
                let fix = wiring_commands(&concern.cluster, location, system_topic.as_deref(), function.as_deref());
                let summary = say::not_wired(&name, system_topic.as_deref(), function.as_deref(), &fix);
                self.tell(&concern, Stage::Notice, &summary, None, None);
            }
        }
    }

    /// A news fact about a concern already known is an update; the first one its notice.
    fn news_stage(&self, concern: &Concern) -> Stage {
        if self.known_before(concern) { Stage::Update } else { Stage::Notice }
    }

    /// A patch or minor upgrade: its messages on the cadence ladder, a pull request per rule
    /// that asks for one, and the Execute.
    fn upgrade(&mut self, concern: &Concern, scope: Scope, current: &AksVersion, target: AksVersion) {
        let name = self.name().to_string();
        let target = self.exact(target);
        let terms = UpgradeTerms::of(scope, self.cadence);
        let deadline = after_days(self.first_seen(concern), terms.within_days);
        let upgrade = ActionKind::Upgrade { upgrade: terms.upgrade.clone(), target: target.to_string() };
        let what = say::upgrade_change(current, &target, terms.label);
        let change = if scope == Scope::Patch { ChangeKind::Patch } else { ChangeKind::Minor };
        if let Some(aks) = self.aks_applies(change, Some(current)) {
            let told = say::version_change(current, &target, terms.label);
            return self.by_aks(concern, &aks, &told, deadline, upgrade, what);
        }
        if let Some(pr) = self.facts.handled_by_iac.get(&concern.key()).cloned() {
            let told = say::version_change(current, &target, terms.label);
            return self.by_iac(concern, &pr, &told, deadline, upgrade, what);
        }
        let ring = self.ring_hold(rings::Target::Kubernetes(&target));
        let stage = ladder(self.now, deadline, self.cadence.reminder_days_before);
        let summary = say::upgrade_available(&name, stage, current, &target, terms.label, deadline);
        let start = self.out.len();
        self.tell(concern, stage, &summary, None, Some(deadline));
        self.note_ring(start, ring.as_ref());
        self.how_to_approve(start, terms.mode);
        self.failure_stop(concern, ring.as_ref(), &target.to_string(), deadline);
        // One pull request per target version: a newer patch of the same concern updates it.
        // None while the rings hold the target: the file must not move ahead of the ring.
        let prs: Vec<_> = if ring.is_some() { Vec::new() } else { self.rules.iter().filter_map(|r| r.github_pr.clone()).collect() };
        for pr in prs {
            let kind = ActionKind::GithubPullRequest {
                repo: pr.repo,
                path: pr.path,
                locator: pr.locator,
                base: pr.base,
                version: target.to_string(),
            };
            let summary = say::upgrade_pull_request(&name, stage, current, &target, terms.label, deadline);
            self.push(concern, Stage::Notice, kind, summary, Some(&target.to_string()), Some(deadline), None);
        }
        let change = Change {
            kind: upgrade,
            what,
            mode: terms.mode,
            target: Some(&target),
            min_minutes: terms.min_minutes,
            deadline: Some(deadline),
            ring,
        };
        self.execute(concern, change);
    }

    /// A node image upgrade: its messages on the cadence ladder and the Execute.
    fn node_image(&mut self, concern: &Concern, pool: &str, current: &str, latest: String) {
        let name = self.name().to_string();
        let deadline = after_days(self.first_seen(concern), self.cadence.node_image_within_days);
        if let Some(aks) = self.aks_applies(ChangeKind::NodeImage, None) {
            let told = say::node_image_told(pool, current, &latest);
            let what = say::node_image_change(pool, &latest);
            let kind = ActionKind::Upgrade { upgrade: UpgradeScope::NodeImage { pool: pool.to_string() }, target: latest };
            return self.by_aks(concern, &aks, &told, deadline, kind, what);
        }
        let ring = self.ring_hold(rings::Target::NodeImage(&latest));
        let stage = ladder(self.now, deadline, self.cadence.reminder_days_before);
        let summary = say::node_image_available(&name, stage, pool, current, &latest, deadline);
        let start = self.out.len();
        self.tell(concern, stage, &summary, None, Some(deadline));
        self.note_ring(start, ring.as_ref());
        self.how_to_approve(start, self.cadence.node_image);
        self.failure_stop(concern, ring.as_ref(), &latest, deadline);
        let change = Change {
            what: say::node_image_change(pool, &latest),
            kind: ActionKind::Upgrade { upgrade: UpgradeScope::NodeImage { pool: pool.to_string() }, target: latest },
            mode: self.cadence.node_image,
            target: None,
            min_minutes: self.cadence.min_window_minutes.node_image,
            deadline: Some(deadline),
            ring,
        };
        self.execute(concern, change);
    }
}

impl Planner<'_> {
    /// Which AKS channel applies `change` on this cluster, when policy leaves such changes to
    /// AKS (`respect_aks_channels`). `None`: aks-cadence's own cadence rules. Events carry no
    /// channel: only a sweep's findings (and replays of them) know one.
    fn aks_applies(&self, change: ChangeKind, current: Option<&AksVersion>) -> Option<AksApplies> {
        if !self.cadence.respect_aks_channels {
            return None;
        }
        let f = &self.signal.facts;
        let channels = Channels::read(f.upgrade_channel.as_deref(), f.node_os_upgrade_channel.as_deref());
        channels::applies(channels, change, current, self.newest_minor())
    }

    /// The newest generally available minor the signal shows (N for `stable` and `rapid`): the
    /// newest non-preview version the cluster is offered, or the line it runs. A cluster's
    /// upgrade profile lists only the next minor, so N may be under-counted: `stable` and
    /// `rapid` are then counted on for less than they do, never for more.
    fn newest_minor(&self) -> Option<MinorLine> {
        let mut lines: Vec<MinorLine> = Vec::new();
        if let SignalKind::UpgradesOffered { current, offered } = &self.signal.kind {
            lines.extend(AksVersion::parse(current).ok().map(|v| v.minor_line()));
            lines.extend(offered.iter().filter(|o| !o.is_preview).filter_map(|o| AksVersion::parse(&o.version).ok()).map(|v| v.minor_line()));
        }
        lines.into_iter().max()
    }

    /// The AKS channel that applied a concern now resolved, when one applies that kind of
    /// change (the change was held for it, so AKS is who applied it).
    fn applied_by_aks(&self, concern: &Concern) -> Option<AksApplies> {
        match concern.kind {
            ConcernKind::NodeImage => self.aks_applies(ChangeKind::NodeImage, None),
            ConcernKind::KubernetesUpgrade => match concern.target.strip_prefix("patch:") {
                Some(from) => {
                    let from = AksVersion::parse(from).ok()?;
                    self.aks_applies(ChangeKind::Patch, Some(&from))
                }
                None => {
                    let line = MinorLine::parse(&concern.target).ok()?;
                    let from = AksVersion { major: line.major, minor: line.minor.checked_sub(1)?, patch: Some(0) };
                    self.aks_applies(ChangeKind::Minor, Some(&from))
                }
            },
            _ => None,
        }
    }

    /// The cluster's value of an AKS channel setting (`upgradeChannel`), as the signal's facts
    /// carry it.
    fn channel_now(&self, target: &str) -> Option<String> {
        let f = &self.signal.facts;
        match channels::ChannelSetting::of_target(target)? {
            channels::ChannelSetting::Upgrade => Some(f.upgrade_channel.clone().unwrap_or_else(|| "none".to_string())),
            channels::ChannelSetting::NodeOs => f.node_os_upgrade_channel.clone(),
        }
    }

    /// What the cluster runs now, for a resolved concern's message (version or pool image).
    fn now_running(&self, concern: &Concern) -> Option<String> {
        let f = &self.signal.facts;
        match concern.kind {
            ConcernKind::NodeImage => {
                let pool = concern.target.split_once('@').map(|(p, _)| p)?;
                f.node_pools.iter().find(|p| p.name.eq_ignore_ascii_case(pool)).and_then(|p| p.node_image_version.clone())
            }
            _ => f.kubernetes_version.clone(),
        }
    }

    /// A change an AKS channel applies: told as AKS's (no one is asked to act), planned as an
    /// Execute held by the channel (aks-cadence never starts it), and watched: once the
    /// deadline plus `aks_channel_grace_days` passes with the change still missing, it is
    /// overdue as "auto-upgrade is configured but did not happen", with the likely causes.
    fn by_aks(&mut self, concern: &Concern, aks: &AksApplies, told: &str, deadline: Timestamp, kind: ActionKind, what: String) {
        let name = self.name().to_string();
        let window = schedule_scope(aks.schedule).map(|scope| self.facts.window_for(scope).clone());
        let watch = watchdog_at(
            after_days(deadline, self.cadence.aks_channel_grace_days),
            schedule_scope(aks.schedule).and_then(|scope| self.facts.schedules.get(&scope)),
            self.first_seen(concern),
            self.cadence.aks_channel_grace_windows,
        );
        let stage = if self.now >= watch { Stage::Overdue } else { Stage::Notice };
        let summary = say::by_aks(&name, stage, told, aks, window.as_ref(), watch);
        let before = self.out.len();
        self.tell(concern, stage, &summary, None, Some(watch));
        if stage == Stage::Overdue {
            let assessment = self.readiness_of_concern(concern);
            let suspects = crate::readiness::watchdog_suspects(assessment.as_ref(), self.signal.facts.power_state.as_deref());
            let causes = say::watchdog_causes(&concern.cluster, aks, self.signal.facts.location.as_deref(), &suspects);
            for a in &mut self.out[before..] {
                a.note = Some(causes.clone());
            }
        }
        let next = match window {
            Some(WindowStatus::Closed { next }) => next,
            _ => None,
        };
        let hold = Hold::AksChannel { channel: aks.channel.clone(), schedule: aks.schedule.as_str().to_string(), next };
        let summary = say::execute(&name, &what, Some(&hold), &WindowStatus::Unknown);
        self.push(concern, Stage::Execute, kind, summary, None, Some(watch), Some(hold));
    }
}

impl Planner<'_> {
    /// A change whose infrastructure-code pull request was merged: aks-cadence never starts it
    /// (the IaC pipeline applies it) and watches for it as for an AKS channel's change — once
    /// the deadline plus `aks_channel_grace_days` passes with the version still missing, it is
    /// overdue as "merged through IaC but not applied". Days only: the IaC pipeline's deploys
    /// follow no AKS schedule, so `aks_channel_grace_windows` does not apply (docs/github.md).
    fn by_iac(&mut self, concern: &Concern, pr: &str, told: &str, deadline: Timestamp, kind: ActionKind, what: String) {
        let name = self.name().to_string();
        let watch = after_days(deadline, self.cadence.aks_channel_grace_days);
        let stage = if self.now >= watch { Stage::Overdue } else { Stage::Notice };
        let summary = say::by_iac(&name, stage, told, pr, watch);
        self.tell(concern, stage, &summary, None, Some(watch));
        let hold = Hold::HandledByIac { pr: pr.to_string() };
        let summary = say::execute(&name, &what, Some(&hold), &WindowStatus::Unknown);
        self.push(concern, Stage::Execute, kind, summary, None, Some(watch), Some(hold));
    }
}

/// When the watchdog escalates a change an AKS channel should apply: at `by_days` (the deadline
/// plus `aks_channel_grace_days`), or once `windows` windows of the channel's own `schedule`
/// have opened and closed since the change was first seen, whichever comes first
/// (`aks_channel_grace_windows`; 0, or no schedule known: days only). Pure.
pub fn watchdog_at(
    by_days: Timestamp,
    schedule: Option<&crate::policy::windows::MaintenanceWindow>,
    first_seen: Timestamp,
    windows: u32,
) -> Timestamp {
    match schedule.and_then(|w| w.nth_closed_since(first_seen, windows)) {
        Some(by_windows) => by_windows.min(by_days),
        None => by_days,
    }
}

/// The findings about a swept cluster's AKS channel settings under policy (pure): for each
/// setting a rule (or `[defaults]`) requires, `ChannelRequired` while the cluster's value
/// differs, and `Resolved { aks-channel, <setting> }` when it matches and `previous` (the
/// value the last sweep saw; `None` outer: no earlier sweep remembered it) was different — so
/// an unchanged cluster restates nothing, and the pipeline plans a resolution only for a concern
/// the ledger has seen. `current` is (upgradeChannel, nodeOSUpgradeChannel) as ARM gave them.
pub fn channel_findings(
    policy: &Policy,
    cluster: &ClusterId,
    facts: &crate::domain::ClusterFacts,
    current: (Option<&str>, Option<&str>),
    previous: Option<(Option<&str>, Option<&str>)>,
) -> Vec<SignalKind> {
    let mut out = Vec::new();
    for setting in channels::ChannelSetting::ALL {
        let (now, before) = match setting {
            channels::ChannelSetting::Upgrade => (current.0, previous.map(|p| p.0)),
            channels::ChannelSetting::NodeOs => (current.1, previous.map(|p| p.1)),
        };
        // The rules that hear about this concern decide what is required.
        let probe = SignalKind::ChannelRequired { setting: setting.target().to_string(), current: None, required: String::new() };
        let Some(required) = policy.cadence_for(cluster, facts, &probe).required_channel(setting) else { continue };
        if !required.met_by(now) {
            out.push(SignalKind::ChannelRequired {
                setting: setting.target().to_string(),
                current: now.map(str::to_string),
                required: required.as_str().to_string(),
            });
        } else if before.is_none_or(|b| !b.map(str::trim).unwrap_or("").eq_ignore_ascii_case(now.map(str::trim).unwrap_or(""))) {
            out.push(SignalKind::Resolved { concern: ConcernKind::AksChannel, target: setting.target().to_string() });
        }
    }
    out
}

/// The window scope of an AKS-managed schedule (`None`: the OS's own daily updater).
fn schedule_scope(schedule: ManagedSchedule) -> Option<WindowScope> {
    match schedule {
        ManagedSchedule::AutoUpgrade => Some(WindowScope::KubernetesVersion),
        ManagedSchedule::NodeOs => Some(WindowScope::NodeImage),
        ManagedSchedule::OsDaily => None,
    }
}

/// What policy says about one kind of version upgrade.
struct UpgradeTerms {
    label: &'static str,
    within_days: u32,
    mode: UpgradeMode,
    min_minutes: u32,
    upgrade: UpgradeScope,
}

impl UpgradeTerms {
    fn of(scope: Scope, cadence: &Cadence) -> Self {
        match scope {
            Scope::Patch => Self {
                label: "patch",
                within_days: cadence.patch_within_days,
                mode: cadence.patch,
                min_minutes: cadence.min_window_minutes.patch,
                upgrade: UpgradeScope::Patch,
            },
            Scope::Minor => Self {
                label: "minor",
                within_days: cadence.minor_within_days,
                mode: cadence.minor,
                min_minutes: cadence.min_window_minutes.minor,
                upgrade: UpgradeScope::Minor,
            },
        }
    }
}

/// A certificate's stage by its warning thresholds (`certificate_warn_days`): a notice at the
/// first (largest), a reminder keyed by each later one, overdue once expired; `None` before
/// the first threshold.
fn certificate_stage(now: Timestamp, not_after: Timestamp, warn: &[u32]) -> Option<(Stage, Option<String>)> {
    if now >= not_after {
        return Some((Stage::Overdue, None));
    }
    match warn.iter().copied().filter(|t| now >= before_days(not_after, *t)).min()? {
        t if Some(&t) == warn.first() => Some((Stage::Notice, None)),
        t => Some((Stage::Reminder, Some(format!("{t}d")))),
    }
}

/// A roll's notice names its end phase in the key: Started and Failed of one roll with the
/// same time are both the concern's first fact, and one key for both dropped the failure. The
/// Started notice keeps the key it always had; true duplicates (same type, pool and time)
/// still share one.
fn roll_notice_key(phase: RollingPhase) -> Option<&'static str> {
    match phase {
        RollingPhase::Started => None,
        RollingPhase::Succeeded => Some("succeeded"),
        RollingPhase::Failed => Some("failed"),
    }
}

/// The fact an operation's update is keyed by.
fn operation_fact(status: &OperationStatus) -> String {
    match status {
        OperationStatus::InProgress => digest(&["in-progress"]),
        OperationStatus::Succeeded => digest(&["succeeded"]),
        OperationStatus::Failed { code, message } => digest(&["failed", code, message]),
        OperationStatus::Canceled => digest(&["canceled"]),
        OperationStatus::Refused { reason } => digest(&["refused", reason]),
    }
}

/// The security baseline: one concern per failing check, told through every channel but the
/// GitHub issue (mail and chat digests list new failures and fixes), and one checklist issue per
/// cluster and episode ([`crate::baseline::report`]). The baseline only reports: nothing here
/// plans a change to the cluster.
impl Planner<'_> {
    fn baseline_items(&self) -> &[BaselineItem] {
        match &self.signal.kind {
            SignalKind::Baseline { items, .. } => items,
            _ => &[],
        }
    }

    /// The message channels for one check at `stage`: all but GitHub issues and their
    /// escalations (the checklist holds the checks).
    fn baseline_check_kinds(&self, stage: Stage) -> Vec<ActionKind> {
        let mut kinds: Vec<ActionKind> = self
            .message_kinds(stage)
            .into_iter()
            .filter(|k| !matches!(k, ActionKind::GithubIssue { .. } | ActionKind::GithubEscalation { .. } | ActionKind::Log))
            .collect();
        if kinds.is_empty() {
            kinds.push(ActionKind::Log);
        }
        kinds
    }

    fn baseline_check(&mut self, concern: &Concern, check: &str) {
        let Some(item) = self.baseline_items().iter().find(|i| i.check == check).cloned() else { return };
        let stage = item.due.map_or(Stage::Notice, |d| ladder(self.now, d, self.cadence.reminder_days_before));
        let summary = say::baseline_check(self.name(), stage, &item);
        for kind in self.baseline_check_kinds(stage) {
            self.push(concern, stage, kind, summary.clone(), None, item.due, None);
        }
    }

    fn baseline_fixed(&mut self, concern: &Concern) {
        let check = baseline_report::check_of_target(&concern.target).unwrap_or(&concern.target).to_string();
        let summary = say::baseline_fixed(self.name(), &check);
        for kind in self.baseline_check_kinds(Stage::Resolve) {
            self.push(concern, Stage::Resolve, kind, summary.clone(), None, None, None);
        }
    }

    /// The checklist issue: opened with the first failing check, updated (a comment and a
    /// refreshed body) when checks start failing or are fixed, closed by the `Resolved` signal
    /// of the episode. Only GitHub issues carry it.
    fn baseline_checklist(&mut self, concern: &Concern) {
        let SignalKind::Baseline { items, newly_failing, fixed, .. } = &self.signal.kind else { return };
        let failing: Vec<&str> = items.iter().filter(|i| i.status.is_failing()).map(|i| i.check.as_str()).collect();
        let judged = items.iter().filter(|i| !matches!(i.status, BaselineState::Unknown | BaselineState::NotApplicable)).count();
        let summary = say::baseline_checklist(self.name(), Stage::Notice, &failing, judged);
        let changes = ((!newly_failing.is_empty() || !fixed.is_empty()) && self.known_before(concern)).then(|| {
            let mut all: Vec<&str> = newly_failing.iter().chain(fixed).map(String::as_str).collect();
            all.sort_unstable();
            (say::baseline_changes(newly_failing, fixed), digest(&all))
        });
        let update = say::baseline_checklist(self.name(), Stage::Update, &failing, judged);
        let kinds: Vec<ActionKind> = self
            .rules
            .iter()
            .filter_map(|r| r.github_issue.as_ref())
            .map(|i| ActionKind::GithubIssue { repo: i.repo.clone(), labels: i.labels.clone(), assignees: i.assignees.clone() })
            .collect();
        for kind in kinds {
            self.push(concern, Stage::Notice, kind.clone(), summary.clone(), None, None, None);
            if let Some((note, fact)) = &changes {
                let before = self.out.len();
                self.push(concern, Stage::Update, kind, update.clone(), Some(fact), None, None);
                if let Some(update) = self.out.get_mut(before) {
                    update.note = Some(note.clone());
                }
            }
        }
    }
}

/// The extra actions of `stage`'s routes (`[rule.notice]`, `[rule.reminder]`,
/// `[rule.overdue]`) of `rules`, given the channels `base` already planned: one mail to every
/// extra recipient no base mail reaches, each extra chat destination the base does not post to,
/// and per repository one [`ActionKind::GithubEscalation`] with the labels and assignees of
/// every rule opening its issue there. Recipients, labels and logins compare ignoring case;
/// the first spelling, in file order, is kept. Pure.
pub fn stage_routes(rules: &[&Rule], stage: Stage, base: &[ActionKind]) -> Vec<ActionKind> {
    let routes: Vec<(&Rule, &crate::policy::StageRoute)> = rules.iter().filter_map(|r| r.route(stage).map(|s| (*r, s))).collect();
    let mut out = Vec::new();
    let mut mailed: BTreeSet<String> = base
        .iter()
        .filter_map(|k| match k {
            ActionKind::Email { to } => Some(to.iter().map(|a| mailbox(a))),
            _ => None,
        })
        .flatten()
        .collect();
    let extra: Vec<String> = routes.iter().flat_map(|(_, r)| r.email.iter()).filter(|a| mailed.insert(mailbox(a))).cloned().collect();
    if !extra.is_empty() {
        out.push(ActionKind::Email { to: extra });
    }
    for c in routes.iter().flat_map(|(_, r)| r.chat.iter()) {
        let kind = ActionKind::Chat { chat: c.kind, url_setting: c.url_setting.clone() };
        if !base.contains(&kind) && !out.contains(&kind) {
            out.push(kind);
        }
    }
    let mut escalations: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for (rule, route) in routes.iter().filter(|(_, r)| r.touches_issue()) {
        let Some(issue) = &rule.github_issue else { continue };
        let at = match escalations.iter().position(|(repo, ..)| repo.eq_ignore_ascii_case(&issue.repo)) {
            Some(i) => i,
            None => {
                escalations.push((issue.repo.clone(), Vec::new(), Vec::new()));
                escalations.len() - 1
            }
        };
        let (_, labels, assignees) = &mut escalations[at];
        add_unique(labels, &route.labels);
        add_unique(assignees, &route.assignees);
    }
    out.extend(escalations.into_iter().map(|(repo, labels, assignees)| ActionKind::GithubEscalation { repo, labels, assignees }));
    out
}

/// The address of a recipient (`Ops <ops@example.com>` → `ops@example.com`), lower-cased.
fn mailbox(recipient: &str) -> String {
    let r = recipient.trim();
    let addr = match (r.rfind('<'), r.strip_suffix('>')) {
        (Some(i), Some(inner)) => &inner[i + 1..],
        _ => r,
    };
    addr.trim().to_ascii_lowercase()
}

/// Appends each of `new` that `list` does not hold yet (ignoring case).
fn add_unique(list: &mut Vec<String>, new: &[String]) {
    for n in new {
        if !list.iter().any(|l| l.eq_ignore_ascii_case(n)) {
            list.push(n.clone());
        }
    }
}

fn newest_of_line(offered: &[String], line: MinorLine) -> Option<AksVersion> {
    offered
        .iter()
        .filter_map(|o| AksVersion::parse(o).ok())
        .filter(|v| v.minor_line() == line && v.patch.is_some())
        .max()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    //! The private parts of planning, tested where they live: how a finding is judged against
    //! its lineage's head and the head kept, the fleet's failure stops, each change's window
    //! scope, the wiring commands' shell words, and the small pure helpers (an operation's
    //! update fact, recipients, a stage's extra chat destinations, the watchdog's date). Tables
    //! of whole plans are in tests/plan_*.rs.

    use super::*;
    use crate::domain::{ClusterFacts, OfferedVersion, Origin};

    fn cluster() -> ClusterId {
        ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod-weu", "aks-prod-weu")
    }

    fn head(target: &str, version: Option<&str>, informed: bool) -> Head {
        Head { target: target.into(), version: version.map(str::to_string), informed, previous: None }
    }

    fn position(version: &str, informed: bool) -> Position {
        Position { lineage: Lineage::Minor, version: Some(version.into()), informed, current: None }
    }

    fn minor(target: &str) -> Concern {
        Concern::new(cluster(), ConcernKind::KubernetesUpgrade, target)
    }

    fn verdict(v: &Verdict) -> &'static str {
        match v {
            Verdict::Same => "same",
            Verdict::Newer { .. } => "newer",
            Verdict::Replaces { .. } => "replaces",
            Verdict::Stale { .. } => "stale",
            Verdict::Covered { .. } => "covered",
        }
    }

    #[test]
    fn a_finding_is_judged_against_its_lineages_head_by_who_knew_the_clusters_version() {
        // (head version, head informed, finding version, finding informed) → verdict, all of
        // the same concern (target 1.31).
        for (head_version, head_informed, version, informed, want) in [
            // A sweep's head and an event that does not know the cluster's version: the same
            // version is the same finding; any other is covered by the sweep's.
            ("1.31.2", true, "1.31.2", false, "same"),
            ("1.31.2", true, "1.31.3", false, "covered"),
            // Neither knows it: ordered by version.
            ("1.31.2", false, "1.31.3", false, "newer"),
            ("1.31.3", false, "1.31.2", false, "stale"),
            ("1.31.2", false, "1.31.2", false, "same"),
            // Both know it.
            ("1.31.2", true, "1.31.3", true, "newer"),
            ("1.31.3", true, "1.31.2", true, "stale"),
            // A sweep's finding after an event's head: an older version is still news, since
            // only the sweep knows what the cluster runs.
            ("1.31.3", false, "1.31.2", true, "newer"),
        ] {
            let got = judge(&head("1.31", Some(head_version), head_informed), &minor("1.31"), &position(version, informed));
            assert_eq!(verdict(&got), want, "head {head_version} (informed {head_informed}), finding {version} (informed {informed})");
        }
    }

    #[test]
    fn a_head_that_replaced_another_keeps_only_that_one_not_its_whole_history() {
        let mut older = head("1.30", Some("1.30.9"), true);
        older.previous = Some(Box::new(head("1.29", Some("1.29.9"), true)));
        let mut current = head("1.31", Some("1.31.2"), true);
        current.previous = Some(Box::new(older.clone()));
        let kept = current.without_previous();
        assert_eq!(kept, head("1.31", Some("1.31.2"), true));
        assert_eq!(older.without_previous(), head("1.30", Some("1.30.9"), true));
    }

    fn policy() -> Policy {
        let text = r#"
[[rule]]
name = "platform"
[rule.github_issue]
repo = "contoso/ops"
"#;
        Policy::parse(text, "plan-unit.toml").unwrap_or_else(|e| panic!("{e:#?}"))
    }

    fn swept_upgrades(current: &str, offered: &[&str]) -> Signal {
        let facts = ClusterFacts {
            kubernetes_version: Some(current.into()),
            provisioning_state: Some("Succeeded".into()),
            power_state: Some("Running".into()),
            ..ClusterFacts::default()
        };
        Signal {
            cluster: cluster(),
            facts,
            kind: SignalKind::UpgradesOffered {
                current: current.into(),
                offered: offered.iter().map(|v| OfferedVersion { version: (*v).into(), is_preview: false }).collect(),
            },
            observed_at: "2026-11-29T09:00:00Z".parse().unwrap(),
            origin: Origin::Sweep { run_id: "run-1".into() },
        }
    }

    /// The heads a sweep's first plan of `signal` records, by lineage key.
    fn first_heads(signal: &Signal, now: Timestamp) -> BTreeMap<String, Head> {
        let planned = plan_with_heads(signal, &policy(), &PlanFacts::default(), now);
        assert!(!planned.heads.is_empty(), "the sweep's finding records heads");
        assert!(planned.heads.iter().all(|(_, h)| h.informed), "{:?}", planned.heads);
        planned.heads.into_iter().collect()
    }

    #[test]
    fn a_sweep_finding_what_an_event_told_marks_the_head_informed_and_an_informed_head_stays_as_it_is() {
        let signal = swept_upgrades("1.30.4", &["1.30.7", "1.31.2"]);
        let now = signal.observed_at;
        let told = first_heads(&signal, now);
        // The same heads, as an event (not knowing the cluster's version) left them.
        let uninformed: BTreeMap<String, Head> = told.iter().map(|(k, h)| (k.clone(), Head { informed: false, ..h.clone() })).collect();
        let facts = PlanFacts { heads: uninformed.clone(), ..PlanFacts::default() };
        let moved: BTreeMap<String, Head> = plan_with_heads(&signal, &policy(), &facts, now).heads.into_iter().collect();
        assert_eq!(moved, told, "each head is recorded again, informed, and otherwise unchanged");
        // Heads the sweep itself recorded: nothing to record again.
        let facts = PlanFacts { heads: told, ..PlanFacts::default() };
        assert_eq!(plan_with_heads(&signal, &policy(), &facts, now).heads, vec![]);
    }

    #[test]
    fn a_supersession_is_planned_again_only_while_its_head_stands_unchanged() {
        let signal = swept_upgrades("1.30.4", &["1.30.7", "1.31.2"]);
        let now = signal.observed_at;
        let plain = |heads: &BTreeMap<String, Head>| {
            let facts = PlanFacts { heads: heads.clone(), ..PlanFacts::default() };
            plan_with_heads(&signal, &policy(), &facts, now).actions.into_iter().map(|a| a.key.to_string()).collect::<Vec<_>>()
        };
        // Each head as stored after it replaced an older version of its concern.
        let with_previous = |version: Option<&str>| -> BTreeMap<String, Head> {
            first_heads(&signal, now)
                .into_iter()
                .map(|(k, h)| {
                    let previous = Head { version: h.version.as_ref().map(|_| "1.0.0".to_string()), ..h.clone() };
                    let version = version.map(str::to_string).or(h.version.clone());
                    (k, Head { version, previous: Some(Box::new(previous)), ..h })
                })
                .collect()
        };
        let without_previous = |heads: BTreeMap<String, Head>| -> BTreeMap<String, Head> {
            heads.into_iter().map(|(k, h)| (k, h.without_previous())).collect()
        };
        // The head stands as the finding would leave it: its supersession is planned again.
        let standing = with_previous(None);
        assert_ne!(plain(&standing), plain(&without_previous(standing.clone())), "the supersession is planned again");
        // The head names another version (one that does not compare): it is not this finding's,
        // and its supersession is not planned again.
        let other = with_previous(Some("not-a-version"));
        assert_eq!(plain(&other), plain(&without_previous(other.clone())));
    }

    #[test]
    fn the_fleets_failed_targets_stop_changes_until_each_is_released() {
        let at: Timestamp = "2026-11-29T09:00:00Z".parse().unwrap();
        let member = |cluster: &str, failed: &[&str]| rings::Member {
            cluster: cluster.into(),
            failed: failed.iter().map(|t| rings::Failure { target: (*t).into(), at }).collect(),
            ..rings::Member::default()
        };
        let ring = |name: &str, members: Vec<rings::Member>| rings::RingView { name: name.into(), soak_days: 3, members };
        let fleet = FleetRings {
            rings: vec![ring("canary", vec![member("a", &["1.31.2"]), member("b", &[])]), ring("prod", vec![member("c", &["1.31.2", "img-7"])])],
            released: BTreeSet::new(),
        };
        assert_eq!(fleet.failed_targets(), BTreeSet::from(["1.31.2".to_string(), "img-7".to_string()]));
        assert!(fleet.stops_any());
        let partly = FleetRings { released: BTreeSet::from(["1.31.2".to_string()]), ..fleet.clone() };
        assert!(partly.stops_any(), "img-7 is not released");
        let all = FleetRings { released: BTreeSet::from(["1.31.2".to_string(), "img-7".to_string()]), ..fleet.clone() };
        assert!(!all.stops_any());
        let none = FleetRings { rings: vec![ring("canary", vec![member("a", &[])])], released: BTreeSet::new() };
        assert_eq!(none.failed_targets(), BTreeSet::new());
        assert!(!none.stops_any());
    }

    #[test]
    fn each_cluster_change_has_the_window_scope_of_its_operation_and_a_message_none() {
        let upgrade = |upgrade: UpgradeScope| ActionKind::Upgrade { upgrade, target: "1.31.2".into() };
        assert_eq!(WindowScope::of_action(&upgrade(UpgradeScope::NodeImage { pool: "np1".into() })), Some(WindowScope::NodeImage));
        assert_eq!(WindowScope::of_action(&upgrade(UpgradeScope::Patch)), Some(WindowScope::KubernetesVersion));
        assert_eq!(WindowScope::of_action(&upgrade(UpgradeScope::Minor)), Some(WindowScope::KubernetesVersion));
        assert_eq!(WindowScope::of_action(&ActionKind::RotateCertificates), Some(WindowScope::CertificateRotation));
        assert_eq!(WindowScope::of_action(&ActionKind::Log), None);
    }

    #[test]
    fn the_wiring_commands_name_the_topic_its_group_and_quote_what_a_shell_would_split() {
        let cluster = ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod-weu", "aks-prod-weu");
        let types = AKS_EVENT_TYPES.join(" ");
        // No system topic yet: one is created, named as infra/main.bicep names it.
        assert_eq!(
            wiring_commands(&cluster, Some("westeurope"), None, None),
            vec![
                "az eventgrid system-topic create --subscription 00000000-0000-0000-0000-00000000a001 --resource-group rg-prod-weu --name aks-cadence-aks-prod-weu --location westeurope --topic-type Microsoft.ContainerService.ManagedClusters --source /subscriptions/00000000-0000-0000-0000-00000000a001/resourceGroups/rg-prod-weu/providers/Microsoft.ContainerService/managedClusters/aks-prod-weu".to_string(),
                format!("az eventgrid system-topic event-subscription create --subscription 00000000-0000-0000-0000-00000000a001 --resource-group rg-prod-weu --system-topic-name aks-cadence-aks-prod-weu --name aks-cadence --endpoint-type azurefunction --endpoint <function app resource id>/functions/aks-events --included-event-types {types}"),
            ]
        );
        // An existing system topic in another group: only the subscription, in the topic's group.
        let topic = "/subscriptions/00000000-0000-0000-0000-00000000a001/resourceGroups/rg-events/providers/Microsoft.EventGrid/systemTopics/aks topic/";
        let function = "/subscriptions/s/resourceGroups/rg-fn/providers/Microsoft.Web/sites/fn/functions/aks-events";
        assert_eq!(
            wiring_commands(&cluster, None, Some(topic), Some(function)),
            vec![format!(
                "az eventgrid system-topic event-subscription create --subscription 00000000-0000-0000-0000-00000000a001 --resource-group rg-events --system-topic-name 'aks topic' --endpoint-type azurefunction --endpoint {function} --included-event-types {types}"
            )
            .replace(" --endpoint-type", " --name aks-cadence --endpoint-type")]
        );
        // Without a region, a placeholder a person fills in (as the function's id above).
        assert!(wiring_commands(&cluster, None, None, None)[0].contains(" --location <the cluster's region> "));
    }

    #[test]
    fn each_operation_status_keys_its_update_apart_and_a_failure_by_its_code_and_message() {
        let failed = |code: &str, message: &str| OperationStatus::Failed { code: code.into(), message: message.into() };
        let facts: Vec<String> = [
            OperationStatus::InProgress,
            OperationStatus::Succeeded,
            failed("QuotaExceeded", "no cores"),
            failed("QuotaExceeded", "no IPs"),
            failed("OperationNotAllowed", "no cores"),
            OperationStatus::Canceled,
            OperationStatus::Refused { reason: "minor skip".into() },
            OperationStatus::Refused { reason: "window closed".into() },
        ]
        .iter()
        .map(operation_fact)
        .collect();
        assert!(facts.iter().all(|f| f.len() == 8 && f.chars().all(|c| c.is_ascii_hexdigit())), "{facts:?}");
        assert_eq!(facts.iter().collect::<BTreeSet<_>>().len(), facts.len(), "{facts:?}");
        assert_eq!(operation_fact(&failed("QuotaExceeded", "no cores")), facts[2], "the same failure keys the same update");
    }

    #[test]
    fn a_recipient_is_compared_by_its_address_and_a_list_takes_each_name_once_ignoring_case() {
        for (recipient, want) in [
            ("Ops <Ops@Contoso.example>", "ops@contoso.example"),
            ("  ops@contoso.example ", "ops@contoso.example"),
            ("<ops@contoso.example>", "ops@contoso.example"),
            ("Ops <ops@contoso.example", "ops <ops@contoso.example"),
        ] {
            assert_eq!(mailbox(recipient), want, "{recipient:?}");
        }
        let mut list = vec!["sre".to_string()];
        add_unique(&mut list, &["SRE".into(), "platform".into(), "Platform".into(), "oncall".into()]);
        assert_eq!(list, ["sre", "platform", "oncall"]);
    }

    #[test]
    fn a_stage_route_adds_each_chat_destination_once_and_none_the_base_already_posts_to() {
        let text = r#"
[[rule]]
name = "platform"
[[rule.chat]]
kind = "teams"
url_setting = "TEAMS_PLATFORM"
[[rule.overdue.chat]]
kind = "teams"
url_setting = "TEAMS_PLATFORM"
[[rule.overdue.chat]]
kind = "slack"
url_setting = "SLACK_INCIDENTS"

[[rule]]
name = "prod"
[[rule.overdue.chat]]
kind = "slack"
url_setting = "SLACK_INCIDENTS"
"#;
        let policy = Policy::parse(text, "routes.toml").unwrap_or_else(|e| panic!("{e:#?}"));
        let rules: Vec<&Rule> = policy.rules.iter().collect();
        let chat = |chat, url: &str| ActionKind::Chat { chat, url_setting: url.into() };
        let base = [chat(crate::action::ChatKind::Teams, "TEAMS_PLATFORM")];
        assert_eq!(stage_routes(&rules, Stage::Overdue, &base), vec![chat(crate::action::ChatKind::Slack, "SLACK_INCIDENTS")]);
        assert_eq!(stage_routes(&rules, Stage::Reminder, &base), vec![]);
    }

    #[test]
    fn an_aks_schedule_governs_the_window_of_its_own_changes_and_the_os_updater_none() {
        assert_eq!(schedule_scope(ManagedSchedule::AutoUpgrade), Some(WindowScope::KubernetesVersion));
        assert_eq!(schedule_scope(ManagedSchedule::NodeOs), Some(WindowScope::NodeImage));
        assert_eq!(schedule_scope(ManagedSchedule::OsDaily), None);
    }

    #[test]
    fn without_a_schedule_the_watchdog_counts_days_only() {
        let by_days: Timestamp = "2026-12-10T00:00:00Z".parse().unwrap();
        let first_seen: Timestamp = "2026-11-29T09:00:00Z".parse().unwrap();
        assert_eq!(watchdog_at(by_days, None, first_seen, 2), by_days);
        assert_eq!(watchdog_at(by_days, None, first_seen, 0), by_days);
    }

    #[test]
    fn a_shell_word_is_quoted_unless_it_is_only_letters_digits_and_dot_underscore_dash_slash() {
        for (word, want) in [
            ("aks-prod_1.2/x", "aks-prod_1.2/x"),
            ("", "''"),
            ("two words", "'two words'"),
            ("it's", r"'it'\''s'"),
            ("$HOME", "'$HOME'"),
            ("a;b", "'a;b'"),
        ] {
            assert_eq!(shell_word(word), want, "{word:?}");
        }
    }
}
