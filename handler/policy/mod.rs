//! Policy: which clusters, which signals, which actions, and the cadence targets. Loaded from
//! TOML (`CADENCE_CONFIG`), or the built-in notify-only default when no file exists.
//!
//! The format is documented in `docs/policy.md` and shown in `cadence.example.toml`. In short:
//! `[defaults]` holds cadence targets and upgrade settings; each `[[rule]]` selects clusters
//! (subscription, resource group and cluster name globs, tags) and signals, may override any
//! default, and names the channels to tell (GitHub issue/PR, email, chat).
//!
//! **How rules combine.** A rule *applies* to a signal when its selectors match the cluster and
//! its `signals` list (default: all) includes the signal. Every applicable rule contributes its
//! channels (the same channel named twice is planned once). Each setting (a cadence target, an
//! upgrade mode, a window) comes from the first applicable rule, in file order, that sets it, and
//! otherwise from `[defaults]`. A signal no rule applies to is still planned, as a log line.
//!
//! Everything is validated and compiled (globs, signal names) once at load, so matching a signal
//! against the policy is a few comparisons.
//!
//! Layer: core: pure, no IO but reading the policy file it parses (`tests/core_imports.rs`).

pub mod baseline;
pub mod calendar;
pub mod channels;
mod glob;
mod parse;
pub mod rings;
mod summary;
pub mod versions;
pub mod windows;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub use baseline::{BASELINE_WITHIN_DAYS, BaselineException, BaselinePolicy};
pub use glob::{Glob, GlobError};

use crate::action::{ChatKind, Stage, VersionLocator};
use crate::domain::{ClusterFacts, ClusterId, ConcernKind, SignalKind};
use windows::MaintenanceWindow;

/// Every signal name a rule's `signals = [...]` may list: the values of [`SignalKind::name`].
pub const SIGNAL_NAMES: [&str; 14] = [
    "new-kubernetes-version",
    "upgrades-offered",
    "support-ending",
    "support-ended",
    "node-image-available",
    "certificate-expiring",
    "node-pool-rolling",
    "maintenance",
    "operation",
    "resolved",
    "events-not-wired",
    "baseline",
    "aks-channel",
    "ring-inversion",
];

fn signal_bit(name: &str) -> u16 {
    SIGNAL_NAMES.iter().position(|n| *n == name).map_or(0, |i| 1 << i)
}

/// The signals that open a concern of this kind (a rule listing any of them also hears about
/// that concern's `operation` and `resolved` signals).
fn concern_signal_mask(kind: ConcernKind) -> u16 {
    match kind {
        ConcernKind::KubernetesUpgrade => signal_bit("new-kubernetes-version") | signal_bit("upgrades-offered"),
        ConcernKind::Support => signal_bit("support-ending") | signal_bit("support-ended"),
        ConcernKind::NodeImage => signal_bit("node-image-available"),
        ConcernKind::Certificate => signal_bit("certificate-expiring"),
        ConcernKind::NodePoolRoll => signal_bit("node-pool-rolling"),
        ConcernKind::Maintenance => signal_bit("maintenance"),
        ConcernKind::EventWiring => signal_bit("events-not-wired"),
        ConcernKind::Baseline => signal_bit("baseline"),
        ConcernKind::AksChannel => signal_bit("aks-channel"),
        ConcernKind::RingInversion => signal_bit("ring-inversion"),
    }
}

/// Whether a cluster change is only announced or also carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeMode {
    /// Tell the channels; never change the cluster (the default).
    Notify,
    /// Also carry the change out, inside a maintenance window, once every gate allows it.
    Auto,
}

impl UpgradeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notify => "notify",
            Self::Auto => "auto",
        }
    }
}

/// Who must approve an `auto` change before aks-cadence starts it (`approval` under
/// `[rule.upgrade]`; see `plan::approval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApprovalVia {
    /// No approval: `auto` acts once every other gate allows it (the default).
    #[default]
    None,
    /// A person with write access approves on the concern's GitHub issue: the approval label
    /// or an `/approve` comment; the hold label or `/hold` stops it again.
    Github,
}

impl ApprovalVia {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Github => "github",
        }
    }
}

/// The label that approves a change (`approval_label`).
pub const DEFAULT_APPROVAL_LABEL: &str = "aks-cadence/approved";
/// The label that stops an approved change (`hold_label`).
pub const DEFAULT_HOLD_LABEL: &str = "aks-cadence/hold";
/// The label that releases a target a failed upgrade stopped for later rings (`release_label`).
pub const DEFAULT_RELEASE_LABEL: &str = "aks-cadence/release";

/// Minimum minutes left in an open maintenance window for a change to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinWindow {
    pub node_image: u32,
    pub patch: u32,
    pub minor: u32,
    pub certificate_rotation: u32,
}

/// The effective settings for one cluster and signal (defaults overlaid by applicable rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cadence {
    pub patch_within_days: u32,
    pub minor_within_days: u32,
    pub node_image_within_days: u32,
    pub reminder_days_before: u32,
    /// Days before a certificate's expiry at which to warn, largest first.
    pub certificate_warn_days: Vec<u32>,
    pub include_preview: bool,
    pub node_image: UpgradeMode,
    pub patch: UpgradeMode,
    pub minor: UpgradeMode,
    pub certificate_rotation: UpgradeMode,
    /// Days after a concern is first seen before `auto` may act.
    pub auto_after_days: u32,
    pub min_window_minutes: MinWindow,
    /// Leave changes an AKS auto-upgrade channel applies to AKS (`respect_aks_channels`): held,
    /// told as AKS's, watched at the deadline. See `policy::channels`.
    pub respect_aks_channels: bool,
    /// Days after the cadence deadline before a change AKS should have applied is escalated
    /// as "auto-upgrade is configured but did not happen" (`aks_channel_grace_days`).
    pub aks_channel_grace_days: u32,
    /// Who approves `auto` changes before they start (`approval`).
    pub approval: ApprovalVia,
    /// The label that approves (`approval_label`).
    pub approval_label: String,
    /// The label that holds (`hold_label`).
    pub hold_label: String,
    /// The label that releases a target a failed upgrade in an earlier ring stopped
    /// (`release_label`; `plan::release`).
    pub release_label: String,
    /// Windows of the channel's own AKS schedule that may open and close, after the change was
    /// first seen, before the watchdog escalates (`aks_channel_grace_windows`; 0 = not used).
    /// Whichever comes first — this or the deadline plus `aks_channel_grace_days` — escalates.
    pub aks_channel_grace_windows: u32,
    /// The cluster auto-upgrade channel a swept cluster must have (`require_upgrade_channel`);
    /// a cluster without it gets an `aks-channel upgradeChannel` finding.
    pub require_upgrade_channel: Option<channels::UpgradeChannel>,
    /// The node OS channel a swept cluster must have (`require_node_os_channel`).
    pub require_node_os_channel: Option<channels::NodeOsChannel>,
}

impl Cadence {
    /// The channel policy requires for `setting`, if any.
    pub fn required_channel(&self, setting: channels::ChannelSetting) -> Option<channels::RequiredChannel> {
        match setting {
            channels::ChannelSetting::Upgrade => self.require_upgrade_channel.map(channels::RequiredChannel::Upgrade),
            channels::ChannelSetting::NodeOs => self.require_node_os_channel.map(channels::RequiredChannel::NodeOs),
        }
    }
}

impl Default for Cadence {
    fn default() -> Self {
        Self {
            patch_within_days: 14,
            minor_within_days: 60,
            node_image_within_days: 7,
            reminder_days_before: 3,
            certificate_warn_days: vec![60, 30, 7],
            include_preview: false,
            node_image: UpgradeMode::Notify,
            patch: UpgradeMode::Notify,
            minor: UpgradeMode::Notify,
            certificate_rotation: UpgradeMode::Notify,
            auto_after_days: 0,
            min_window_minutes: MinWindow { node_image: 60, patch: 120, minor: 120, certificate_rotation: 60 },
            respect_aks_channels: true,
            aks_channel_grace_days: 0,
            approval: ApprovalVia::None,
            approval_label: DEFAULT_APPROVAL_LABEL.into(),
            hold_label: DEFAULT_HOLD_LABEL.into(),
            release_label: DEFAULT_RELEASE_LABEL.into(),
            aks_channel_grace_windows: 0,
            require_upgrade_channel: None,
            require_node_os_channel: None,
        }
    }
}

/// Settings as written in `[defaults]` or in a rule: each one optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub patch_within_days: Option<u32>,
    pub minor_within_days: Option<u32>,
    pub node_image_within_days: Option<u32>,
    pub reminder_days_before: Option<u32>,
    pub certificate_warn_days: Option<Vec<u32>>,
    pub include_preview: Option<bool>,
    pub node_image: Option<UpgradeMode>,
    pub patch: Option<UpgradeMode>,
    pub minor: Option<UpgradeMode>,
    pub certificate_rotation: Option<UpgradeMode>,
    pub auto_after_days: Option<u32>,
    pub min_window_node_image: Option<u32>,
    pub min_window_patch: Option<u32>,
    pub min_window_minor: Option<u32>,
    pub min_window_certificate_rotation: Option<u32>,
    pub respect_aks_channels: Option<bool>,
    pub aks_channel_grace_days: Option<u32>,
    pub approval: Option<ApprovalVia>,
    pub approval_label: Option<String>,
    pub hold_label: Option<String>,
    pub release_label: Option<String>,
    pub aks_channel_grace_windows: Option<u32>,
    pub require_upgrade_channel: Option<channels::UpgradeChannel>,
    pub require_node_os_channel: Option<channels::NodeOsChannel>,
}

impl Overrides {
    /// Fills what `self` leaves unset from `base`.
    fn or(&mut self, base: &Overrides) {
        macro_rules! fill {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = base.$f.clone(); } )* };
        }
        fill!(
            patch_within_days,
            minor_within_days,
            node_image_within_days,
            reminder_days_before,
            certificate_warn_days,
            include_preview,
            node_image,
            patch,
            minor,
            certificate_rotation,
            auto_after_days,
            min_window_node_image,
            min_window_patch,
            min_window_minor,
            min_window_certificate_rotation,
            respect_aks_channels,
            aks_channel_grace_days,
            approval,
            approval_label,
            hold_label,
            release_label,
            aks_channel_grace_windows,
            require_upgrade_channel,
            require_node_os_channel
        );
    }

    fn resolve(&self, d: &Cadence) -> Cadence {
        Cadence {
            patch_within_days: self.patch_within_days.unwrap_or(d.patch_within_days),
            minor_within_days: self.minor_within_days.unwrap_or(d.minor_within_days),
            node_image_within_days: self.node_image_within_days.unwrap_or(d.node_image_within_days),
            reminder_days_before: self.reminder_days_before.unwrap_or(d.reminder_days_before),
            certificate_warn_days: self
                .certificate_warn_days
                .clone()
                .unwrap_or_else(|| d.certificate_warn_days.clone()),
            include_preview: self.include_preview.unwrap_or(d.include_preview),
            node_image: self.node_image.unwrap_or(d.node_image),
            patch: self.patch.unwrap_or(d.patch),
            minor: self.minor.unwrap_or(d.minor),
            certificate_rotation: self.certificate_rotation.unwrap_or(d.certificate_rotation),
            auto_after_days: self.auto_after_days.unwrap_or(d.auto_after_days),
            respect_aks_channels: self.respect_aks_channels.unwrap_or(d.respect_aks_channels),
            aks_channel_grace_days: self.aks_channel_grace_days.unwrap_or(d.aks_channel_grace_days),
            approval: self.approval.unwrap_or(d.approval),
            approval_label: self.approval_label.clone().unwrap_or_else(|| d.approval_label.clone()),
            hold_label: self.hold_label.clone().unwrap_or_else(|| d.hold_label.clone()),
            release_label: self.release_label.clone().unwrap_or_else(|| d.release_label.clone()),
            aks_channel_grace_windows: self.aks_channel_grace_windows.unwrap_or(d.aks_channel_grace_windows),
            require_upgrade_channel: self.require_upgrade_channel.or(d.require_upgrade_channel),
            require_node_os_channel: self.require_node_os_channel.or(d.require_node_os_channel),
            min_window_minutes: MinWindow {
                node_image: self.min_window_node_image.unwrap_or(d.min_window_minutes.node_image),
                patch: self.min_window_patch.unwrap_or(d.min_window_minutes.patch),
                minor: self.min_window_minor.unwrap_or(d.min_window_minutes.minor),
                certificate_rotation: self
                    .min_window_certificate_rotation
                    .unwrap_or(d.min_window_minutes.certificate_rotation),
            },
        }
    }
}

/// What a rule does when a cluster's tags are unknown (event signals carry none; sweeps do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenTagsUnknown {
    /// The rule does not apply until tags are known (the default: a `tags` selector is a
    /// promise about the cluster, and an unknown cluster has not kept it).
    #[default]
    Skip,
    /// The rule applies as if its `tags` matched.
    Match,
}

/// Which clusters a rule selects. Empty lists select everything; a non-empty list matches when
/// any of its globs does; all given lists must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    pub subscriptions: Vec<Glob>,
    pub resource_groups: Vec<Glob>,
    pub clusters: Vec<Glob>,
    /// Tag name (matched ignoring case) → value glob.
    pub tags: Vec<(String, Glob)>,
    pub when_tags_unknown: WhenTagsUnknown,
}

impl Selector {
    pub fn matches(&self, cluster: &ClusterId, facts: &ClusterFacts) -> bool {
        let any = |globs: &[Glob], text: &str| globs.is_empty() || globs.iter().any(|g| g.is_match(text));
        if !any(&self.subscriptions, cluster.subscription())
            || !any(&self.resource_groups, cluster.resource_group())
            || !any(&self.clusters, cluster.name())
        {
            return false;
        }
        if self.tags.is_empty() {
            return true;
        }
        // An empty tag map is "unknown": events carry no tags, and a cluster without tags
        // could not match a tag selector anyway.
        if facts.tags.is_empty() {
            return self.when_tags_unknown == WhenTagsUnknown::Match;
        }
        self.tags
            .iter()
            .all(|(name, value)| facts.tags.iter().any(|(k, v)| k.eq_ignore_ascii_case(name) && value.is_match(v)))
    }
}

/// `[rule.github_issue]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubIssueTarget {
    pub repo: String,
    pub labels: Vec<String>,
    pub assignees: Vec<String>,
}

/// `[rule.github_pr]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubPrTarget {
    pub repo: String,
    pub path: String,
    pub locator: VersionLocator,
    pub base: Option<String>,
}

/// `[[rule.chat]]`: the webhook URL lives in the app setting named `url_setting`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTarget {
    pub kind: ChatKind,
    pub url_setting: String,
}

/// The stages a rule can route differently, as the policy names them (`[rule.notice]`,
/// `[rule.reminder]`, `[rule.overdue]`).
pub const ROUTED_STAGES: [Stage; 3] = [Stage::Notice, Stage::Reminder, Stage::Overdue];

/// `[rule.notice]`, `[rule.reminder]`, `[rule.overdue]`: who else hears of a concern when it
/// reaches that stage, on top of the rule's own channels (escalation routing).
///
/// `labels` and `assignees` are added to the rule's GitHub issue (the parser requires a
/// `[rule.github_issue]` in the same rule); `email` recipients get that stage's mail; `chat`
/// destinations get that stage's message. The planner adds the routes of every applicable rule
/// up and plans each recipient, destination, label and assignee once (`plan`, "Escalation
/// routing").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageRoute {
    pub assignees: Vec<String>,
    pub labels: Vec<String>,
    pub email: Vec<String>,
    pub chat: Vec<ChatTarget>,
}

impl StageRoute {
    /// Whether the route adds anything to the rule's GitHub issue.
    pub fn touches_issue(&self) -> bool {
        !self.labels.is_empty() || !self.assignees.is_empty()
    }
}

/// One `[[rule]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    /// Line of the rule in the policy file (for messages).
    pub line: usize,
    pub selector: Selector,
    /// Bit set over [`SIGNAL_NAMES`]; `None` = every signal.
    signals: Option<u16>,
    pub settings: Overrides,
    pub github_issue: Option<GithubIssueTarget>,
    pub github_pr: Option<GithubPrTarget>,
    pub email: Option<Vec<String>>,
    pub chat: Vec<ChatTarget>,
    /// A maintenance window (ARM `maintenanceWindow` shape) for clusters that define none.
    pub window: Option<MaintenanceWindow>,
    /// Escalation routing: extra recipients per stage (only [`ROUTED_STAGES`] appear).
    pub routes: BTreeMap<Stage, StageRoute>,
}

impl Rule {
    /// The signal names this rule listed (`None` = all).
    pub fn signals(&self) -> Option<Vec<&'static str>> {
        self.signals.map(|mask| {
            SIGNAL_NAMES.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, n)| *n).collect()
        })
    }

    /// Whether this rule wants to hear about `kind`. `operation` and `resolved` signals are
    /// heard by a rule that lists them, or that lists a signal opening the same concern kind.
    pub fn wants(&self, kind: &SignalKind) -> bool {
        let Some(mask) = self.signals else { return true };
        if mask & signal_bit(kind.name()) != 0 {
            return true;
        }
        match kind {
            SignalKind::Operation { concern, .. } | SignalKind::Resolved { concern, .. } => {
                mask & concern_signal_mask(*concern) != 0
            }
            _ => false,
        }
    }

    /// Whether the rule has any channel (a stage route's mail or chat counts).
    pub fn has_channels(&self) -> bool {
        self.github_issue.is_some()
            || self.github_pr.is_some()
            || self.sends_email()
            || !self.chat.is_empty()
            || self.routes.values().any(|r| !r.chat.is_empty())
    }

    /// Whether the rule sends mail, at every stage or at one (`SMTP_URL` is needed).
    pub fn sends_email(&self) -> bool {
        self.email.is_some() || self.routes.values().any(|r| !r.email.is_empty())
    }

    /// The extra recipients of `stage` (`[rule.<stage>]`), if the rule routes it.
    pub fn route(&self, stage: Stage) -> Option<&StageRoute> {
        self.routes.get(&stage)
    }
}

/// The validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Where it was loaded from (`None` for the built-in policy).
    pub source: Option<String>,
    /// `[defaults]` over the built-in defaults.
    pub defaults: Cadence,
    /// The default window (`[defaults.upgrade.window]`), if any.
    pub default_window: Option<MaintenanceWindow>,
    pub rules: Vec<Rule>,
    /// `[[ring]]`s in file order (`policy::rings`): the order the fleet takes a target.
    pub rings: Vec<rings::Ring>,
    /// `[baseline]`: the security baseline, off when the section is absent.
    pub baseline: Option<BaselinePolicy>,
    /// `[readiness]`: the checks before an upgrade is due (`crate::readiness`; on by default).
    pub readiness: crate::readiness::ReadinessPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Self::builtin()
    }
}

/// A policy problem, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {field}: {problem}. Fix: {fix}")]
pub struct PolicyError {
    pub path: String,
    pub line: usize,
    pub field: String,
    pub problem: String,
    pub fix: String,
}

impl Policy {
    /// The built-in default: notify-only, every signal planned as a log notice, the default
    /// cadence targets.
    pub fn builtin() -> Self {
        Self { source: None, defaults: Cadence::default(), default_window: None, rules: Vec::new(), rings: Vec::new(), baseline: None, readiness: Default::default() }
    }

    /// Whether this is the built-in policy (no file).
    pub fn is_builtin(&self) -> bool {
        self.source.is_none()
    }

    /// Loads a policy file. A missing file is not an error: `Ok(None)`.
    pub fn load(path: &Path) -> Result<Option<Self>, Vec<PolicyError>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(vec![PolicyError {
                path: path.display().to_string(),
                line: 0,
                field: "(file)".into(),
                problem: format!("cannot be read: {e}"),
                fix: "check the path in CADENCE_CONFIG and the file's permissions".into(),
            }]),
        }
    }

    /// Parses and validates policy text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &str) -> Result<Self, Vec<PolicyError>> {
        parse::parse(text, path)
    }

    /// Loads `path` or, when there is no file, the built-in policy.
    pub fn load_or_builtin(path: &Path) -> Result<Self, Vec<PolicyError>> {
        Ok(Self::load(path)?.unwrap_or_else(Self::builtin))
    }

    /// The rules that apply to a signal of `kind` about `cluster`, in file order.
    pub fn applicable<'p>(
        &'p self,
        cluster: &'p ClusterId,
        facts: &'p ClusterFacts,
        kind: &'p SignalKind,
    ) -> impl Iterator<Item = &'p Rule> + 'p {
        self.rules.iter().filter(move |r| r.wants(kind) && r.selector.matches(cluster, facts))
    }

    /// The effective settings for a signal of `kind` about `cluster`.
    pub fn cadence_for(&self, cluster: &ClusterId, facts: &ClusterFacts, kind: &SignalKind) -> Cadence {
        let mut acc = Overrides::default();
        for rule in self.applicable(cluster, facts, kind) {
            acc.or(&rule.settings);
        }
        acc.resolve(&self.defaults)
    }

    /// The maintenance window policy defines for `cluster`, for clusters that have none of
    /// their own: the first rule selecting the cluster that sets one (whatever its `signals`),
    /// else `[defaults.upgrade.window]`. Validated when the policy was loaded.
    pub fn window_for(&self, cluster: &ClusterId, facts: &ClusterFacts) -> Option<&MaintenanceWindow> {
        self.rules
            .iter()
            .filter(|r| r.window.is_some() && r.selector.matches(cluster, facts))
            .find_map(|r| r.window.as_ref())
            .or(self.default_window.as_ref())
    }

    /// The ring `cluster` belongs to (index into [`Policy::rings`]): the first whose selectors
    /// match it. `None`: in no ring, so not ring-gated.
    pub fn ring_of(&self, cluster: &ClusterId, facts: &ClusterFacts) -> Option<usize> {
        self.rings.iter().position(|r| r.selector.matches(cluster, facts))
    }

    /// Names of every app setting the policy refers to (chat webhook URLs), so start-up can
    /// check they exist.
    pub fn referenced_settings(&self) -> BTreeSet<&str> {
        self.rules
            .iter()
            .flat_map(|r| r.chat.iter().chain(r.routes.values().flat_map(|s| s.chat.iter())).map(|c| c.url_setting.as_str()))
            .collect()
    }
}

/// Validates a policy file for `handler config check [PATH]`. Unlike [`Policy::load`], a
/// missing file is an error.
pub fn check(path: &Path) -> Result<Policy, Vec<PolicyError>> {
    match Policy::load(path)? {
        Some(p) => Ok(p),
        None => Err(vec![PolicyError {
            path: path.display().to_string(),
            line: 0,
            field: "(file)".into(),
            problem: "does not exist".into(),
            fix: "pass the path of your policy file, or copy cadence.example.toml to cadence.toml".into(),
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CertificateKind, MaintenanceKind, MaintenanceStatus, OperationStatus, RollingPhase};

    #[test]
    fn signal_names_cover_every_signal_kind() {
        let t = jiff::Timestamp::UNIX_EPOCH;
        let kinds = [
            SignalKind::NewKubernetesVersion {
                latest_supported: None,
                latest_stable: None,
                lowest_minor: None,
                latest_preview: None,
            },
            SignalKind::UpgradesOffered { current: "1.30.1".into(), offered: vec![] },
            SignalKind::SupportEnding { kubernetes_version: "1.29".into(), eol_date: None, support_type: None, eol_source: None },
            SignalKind::SupportEnded { kubernetes_version: "1.29".into() },
            SignalKind::NodeImageAvailable { pool: "p".into(), current: "a".into(), latest: "b".into() },
            SignalKind::CertificateExpiring { certificate: CertificateKind::ApiServer, not_after: t },
            SignalKind::NodePoolRolling { pool: "p".into(), phase: RollingPhase::Started, error: None },
            SignalKind::Maintenance {
                event_id: "e".into(),
                upgrade: MaintenanceKind::Unknown,
                status: MaintenanceStatus::Scheduled,
                scheduled_time: None,
                details: None,
            },
            SignalKind::Operation {
                concern: ConcernKind::NodeImage,
                target: "p".into(),
                status: OperationStatus::InProgress,
            },
            SignalKind::Resolved { concern: ConcernKind::NodeImage, target: "p".into() },
            SignalKind::EventsNotWired { system_topic: None, function: None },
            SignalKind::Baseline { opened: None, items: Vec::new().into(), newly_failing: vec![], fixed: vec![] },
            SignalKind::ChannelRequired { setting: "upgradeChannel".into(), current: None, required: "patch".into() },
            SignalKind::RingInversion { version: "1.30.7".into(), detail: "ring inversion: …".into() },
        ];
        let names: BTreeSet<&str> = kinds.iter().map(|k| k.name()).collect();
        assert_eq!(names, SIGNAL_NAMES.iter().copied().collect::<BTreeSet<_>>());
    }

    #[test]
    fn selector_globs_ignore_case_and_tags_unknown_skip_by_default() {
        let id = ClusterId::from_parts("sub-1", "RG-Prod-WEU", "aks-prod-weu");
        let mut s = Selector {
            resource_groups: vec![Glob::new("rg-prod-*").unwrap()],
            clusters: vec![Glob::new("aks-*-weu").unwrap(), Glob::new("other").unwrap()],
            ..Selector::default()
        };
        assert!(s.matches(&id, &ClusterFacts::default()));
        s.tags = vec![("env".into(), Glob::new("prod").unwrap())];
        assert!(!s.matches(&id, &ClusterFacts::default()), "unknown tags: skip");
        let mut facts = ClusterFacts::default();
        facts.tags.insert("Env".into(), "Prod".into());
        assert!(s.matches(&id, &facts));
        facts.tags.insert("Env".into(), "dev".into());
        assert!(!s.matches(&id, &facts));
        s.when_tags_unknown = WhenTagsUnknown::Match;
        assert!(s.matches(&id, &ClusterFacts::default()));
    }
}
