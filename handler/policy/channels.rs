//! What AKS's own auto-upgrade machinery applies: a pure model of the cluster auto-upgrade
//! channel (`autoUpgradeProfile.upgradeChannel`) and the node OS auto-upgrade channel
//! (`autoUpgradeProfile.nodeOSUpgradeChannel`), from Microsoft's docs:
//!
//! - <https://learn.microsoft.com/en-us/azure/aks/auto-upgrade-cluster> — `patch`: latest patch
//!   of the current minor; `stable`: latest patch of minor N-1 (N = newest supported minor);
//!   `rapid`: latest patch of N (through N-1 first from N-2); `node-image`: node images only;
//!   `none`: nothing. Runs inside `aksManagedAutoUpgradeSchedule`.
//! - <https://learn.microsoft.com/en-us/azure/aks/auto-upgrade-node-image> — `NodeImage`: the
//!   newest node image, weekly; `SecurityPatch`: AKS-tested security patches (a security-only
//!   VHD, not the newest image); `Unmanaged`: the OS's own unattended upgrades about 06:00 UTC
//!   daily, outside any maintenance configuration (Windows: none); `None`: nothing. The managed
//!   ones run inside `aksManagedNodeOSUpgradeSchedule`.
//!
//! [`applies`] answers, for one channel pair and one kind of change, whether AKS applies it,
//! to what, and inside which maintenance configuration. No IO.

use std::fmt;

use super::versions::{AksVersion, MinorLine};

/// `autoUpgradeProfile.upgradeChannel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeChannel {
    None,
    Patch,
    Stable,
    Rapid,
    NodeImage,
}

impl UpgradeChannel {
    pub const ALL: [Self; 5] = [Self::None, Self::Patch, Self::Stable, Self::Rapid, Self::NodeImage];

    /// As ARM and `az aks update --auto-upgrade-channel` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Patch => "patch",
            Self::Stable => "stable",
            Self::Rapid => "rapid",
            Self::NodeImage => "node-image",
        }
    }

    /// Reads ARM's value (case-insensitive: ARM has returned both `patch` and `Patch`).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// `autoUpgradeProfile.nodeOSUpgradeChannel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum NodeOsChannel {
    None,
    Unmanaged,
    SecurityPatch,
    NodeImage,
}

impl NodeOsChannel {
    pub const ALL: [Self; 4] = [Self::None, Self::Unmanaged, Self::SecurityPatch, Self::NodeImage];

    /// As ARM and `az aks update --node-os-upgrade-channel` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Unmanaged => "Unmanaged",
            Self::SecurityPatch => "SecurityPatch",
            Self::NodeImage => "NodeImage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Which of the two AKS-managed maintenance configurations an auto-upgrade waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ManagedSchedule {
    /// `aksManagedAutoUpgradeSchedule`: the cluster auto-upgrade channel.
    #[serde(rename = "aksManagedAutoUpgradeSchedule")]
    AutoUpgrade,
    /// `aksManagedNodeOSUpgradeSchedule`: the node OS channel.
    #[serde(rename = "aksManagedNodeOSUpgradeSchedule")]
    NodeOs,
    /// No maintenance configuration: the OS's own updater (`Unmanaged`), about 06:00 UTC daily.
    OsDaily,
}

impl ManagedSchedule {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AutoUpgrade => "aksManagedAutoUpgradeSchedule",
            Self::NodeOs => "aksManagedNodeOSUpgradeSchedule",
            Self::OsDaily => "the OS's daily unattended upgrade (about 06:00 UTC)",
        }
    }
}

/// A kind of change a concern asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The newest patch of the running minor.
    Patch,
    /// The next minor line.
    Minor,
    /// The newest node image of a pool.
    NodeImage,
    /// OS security updates on the nodes (`windows`: the pool runs Windows).
    NodeOs { windows: bool },
}

/// What AKS upgrades to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelTarget {
    /// The newest patch of this minor line.
    LatestPatchOf(MinorLine),
    /// The newest node image.
    LatestNodeImage,
    /// A security-only image (not the newest full image).
    SecurityPatches,
    /// The OS's own packages.
    OsPackages,
}

impl fmt::Display for ChannelTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LatestPatchOf(line) => write!(f, "the newest patch of {line}"),
            Self::LatestNodeImage => f.write_str("the newest node image"),
            Self::SecurityPatches => f.write_str("AKS-tested security patches"),
            Self::OsPackages => f.write_str("the OS's security packages"),
        }
    }
}

/// Which channel applies a change, setting, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AksApplies {
    /// `upgradeChannel patch`, `nodeOSUpgradeChannel NodeImage`.
    pub channel: String,
    pub target: ChannelTarget,
    pub schedule: ManagedSchedule,
}

/// The cluster's channels as read from ARM (`None` = not set or not read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Channels {
    pub upgrade: Option<UpgradeChannel>,
    pub node_os: Option<NodeOsChannel>,
}

impl Channels {
    /// From the raw strings of `autoUpgradeProfile` (unknown values count as unset).
    pub fn read(upgrade: Option<&str>, node_os: Option<&str>) -> Self {
        Self { upgrade: upgrade.and_then(UpgradeChannel::parse), node_os: node_os.and_then(NodeOsChannel::parse) }
    }
}

/// Whether AKS applies `change` on a cluster running `current` with `channels`, given the
/// newest supported minor `newest` (N, for `stable` and `rapid`; `None` when unknown, and then
/// those channels are not counted on for version changes). `None`: AKS does not apply it, so
/// aks-cadence's own cadence rules.
pub fn applies(channels: Channels, change: ChangeKind, current: Option<&AksVersion>, newest: Option<MinorLine>) -> Option<AksApplies> {
    let by_upgrade = |target| AksApplies {
        channel: format!("upgradeChannel {}", channels.upgrade.map_or("", UpgradeChannel::as_str)),
        target,
        schedule: ManagedSchedule::AutoUpgrade,
    };
    let by_node_os = |target, schedule| AksApplies {
        channel: format!("nodeOSUpgradeChannel {}", channels.node_os.map_or("", NodeOsChannel::as_str)),
        target,
        schedule,
    };
    match change {
        ChangeKind::Patch | ChangeKind::Minor => {
            let line = current?.minor_line();
            // The line the channel keeps the cluster on: its own (`patch`), N-1 (`stable`, never
            // going back from N) or N (`rapid`).
            let (goal, keeps_patched) = match channels.upgrade? {
                UpgradeChannel::Patch => (line, true),
                UpgradeChannel::Stable => {
                    let n1 = previous(newest?)?;
                    (line.max(n1), line <= n1)
                }
                UpgradeChannel::Rapid => (line.max(newest?), true),
                UpgradeChannel::None | UpgradeChannel::NodeImage => return None,
            };
            let applies = match change {
                ChangeKind::Patch => keeps_patched,
                _ => goal > line,
            };
            applies.then(|| by_upgrade(ChannelTarget::LatestPatchOf(goal)))
        }
        ChangeKind::NodeImage => match (channels.node_os, channels.upgrade) {
            (Some(NodeOsChannel::NodeImage), _) => Some(by_node_os(ChannelTarget::LatestNodeImage, ManagedSchedule::NodeOs)),
            (_, Some(UpgradeChannel::NodeImage)) => Some(by_upgrade(ChannelTarget::LatestNodeImage)),
            _ => None,
        },
        ChangeKind::NodeOs { windows } => match channels.node_os {
            Some(NodeOsChannel::NodeImage) => Some(by_node_os(ChannelTarget::LatestNodeImage, ManagedSchedule::NodeOs)),
            Some(NodeOsChannel::SecurityPatch) => Some(by_node_os(ChannelTarget::SecurityPatches, ManagedSchedule::NodeOs)),
            Some(NodeOsChannel::Unmanaged) if !windows => Some(by_node_os(ChannelTarget::OsPackages, ManagedSchedule::OsDaily)),
            _ if channels.upgrade == Some(UpgradeChannel::NodeImage) => Some(by_upgrade(ChannelTarget::LatestNodeImage)),
            _ => None,
        },
    }
}

/// The minor line before `line` (`None` below x.0).
fn previous(line: MinorLine) -> Option<MinorLine> {
    Some(MinorLine { major: line.major, minor: line.minor.checked_sub(1)? })
}

// ---------------------------------------------------------------------------------------------
// Required channels: policy `require_upgrade_channel` / `require_node_os_channel`.
// ---------------------------------------------------------------------------------------------

/// The AKS security best-practice guide's recommendation (`../shared/seed/`, "Kubernetes のバー
/// ジョンアップグレード": 自動アップグレードチャネルを考慮する), quoted in every finding.
pub const BEST_PRACTICE: &str = "the AKS security best-practice guide recommends considering an auto-upgrade channel (https://learn.microsoft.com/azure/aks/upgrade-cluster#set-auto-upgrade-channel)";

/// One of the two channel settings a policy can require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelSetting {
    /// `autoUpgradeProfile.upgradeChannel` (`require_upgrade_channel`).
    Upgrade,
    /// `autoUpgradeProfile.nodeOSUpgradeChannel` (`require_node_os_channel`).
    NodeOs,
}

impl ChannelSetting {
    pub const ALL: [Self; 2] = [Self::Upgrade, Self::NodeOs];

    /// The ARM property name: the concern's target (`aks-channel upgradeChannel`).
    pub fn target(self) -> &'static str {
        match self {
            Self::Upgrade => "upgradeChannel",
            Self::NodeOs => "nodeOSUpgradeChannel",
        }
    }

    /// Which setting a concern target names (case-insensitive, as concern keys are).
    pub fn of_target(target: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.target().eq_ignore_ascii_case(target))
    }

    /// The `az aks update` flag that sets it.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Upgrade => "--auto-upgrade-channel",
            Self::NodeOs => "--node-os-upgrade-channel",
        }
    }

    /// Microsoft's page about the setting.
    pub fn doc(self) -> &'static str {
        match self {
            Self::Upgrade => "https://learn.microsoft.com/azure/aks/auto-upgrade-cluster",
            Self::NodeOs => "https://learn.microsoft.com/azure/aks/auto-upgrade-node-os-image",
        }
    }
}

/// A channel policy requires, as AKS spells it (`patch`, `NodeImage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequiredChannel {
    Upgrade(UpgradeChannel),
    NodeOs(NodeOsChannel),
}

impl RequiredChannel {
    /// The channel `name` (any case) of `setting`.
    pub fn parse(setting: ChannelSetting, name: &str) -> Option<Self> {
        match setting {
            ChannelSetting::Upgrade => UpgradeChannel::parse(name).map(Self::Upgrade),
            ChannelSetting::NodeOs => NodeOsChannel::parse(name).map(Self::NodeOs),
        }
    }

    pub fn setting(self) -> ChannelSetting {
        match self {
            Self::Upgrade(_) => ChannelSetting::Upgrade,
            Self::NodeOs(_) => ChannelSetting::NodeOs,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upgrade(c) => c.as_str(),
            Self::NodeOs(c) => c.as_str(),
        }
    }

    /// Whether the cluster's raw value (`None`: absent from ARM's answer) is this channel.
    /// ARM compares these values case-insensitively, so a cluster reporting `Patch` has `patch`.
    /// An absent `upgradeChannel` is `none` (AKS's documented default); an absent
    /// `nodeOSUpgradeChannel` is not any channel (it is reported as "not set").
    pub fn met_by(self, current: Option<&str>) -> bool {
        match self {
            Self::Upgrade(want) => current.map_or(Some(UpgradeChannel::None), UpgradeChannel::parse) == Some(want),
            Self::NodeOs(want) => current.and_then(NodeOsChannel::parse) == Some(want),
        }
    }

    /// The command that sets it on `cluster`.
    pub fn command(self, cluster: &crate::domain::ClusterId) -> String {
        format!(
            "az aks update --subscription {} --resource-group {} --name {} {} {}",
            shell_word(cluster.subscription()),
            shell_word(cluster.resource_group()),
            shell_word(cluster.name()),
            self.setting().flag(),
            self.as_str()
        )
    }
}

/// Single-quotes a shell word when it holds anything beyond `[A-Za-z0-9._/-]`.
fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
