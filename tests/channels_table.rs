//! What AKS applies, per channel and kind of change: the table from Microsoft's auto-upgrade
//! pages (docs/azure.md, "AKS's own upgrades"), checked cell by cell.

use aks_cadence::policy::channels::{
    AksApplies, ChangeKind, ChannelTarget, Channels, ManagedSchedule, NodeOsChannel, UpgradeChannel, applies,
};
use aks_cadence::policy::versions::{AksVersion, MinorLine};

fn v(s: &str) -> AksVersion {
    AksVersion::parse(s).unwrap()
}
fn line(s: &str) -> MinorLine {
    MinorLine::parse(s).unwrap()
}

/// The newest supported minor is 1.31 (N); N-1 is 1.30.
const N: &str = "1.31";

#[derive(Debug, PartialEq)]
enum Want {
    No,
    /// By the cluster channel, to the newest patch of this line, in aksManagedAutoUpgradeSchedule.
    Version(&'static str),
    /// By this channel, to this target, in this schedule.
    Other(ChannelTarget, ManagedSchedule),
}

fn got(a: Option<AksApplies>) -> Want {
    match a {
        None => Want::No,
        Some(AksApplies { target: ChannelTarget::LatestPatchOf(l), schedule: ManagedSchedule::AutoUpgrade, .. }) => {
            Want::Version(Box::leak(l.to_string().into_boxed_str()))
        }
        Some(a) => Want::Other(a.target, a.schedule),
    }
}

#[test]
fn cluster_channels_by_running_minor_for_patch_and_minor_changes() {
    use UpgradeChannel as U;
    use Want::{No, Version};
    // (channel, running, patch concern, minor concern)
    let table: &[(UpgradeChannel, &str, Want, Want)] = &[
        (U::None, "1.30.4", No, No),
        (U::NodeImage, "1.30.4", No, No),
        (U::Patch, "1.29.9", Version("1.29"), No),
        (U::Patch, "1.30.4", Version("1.30"), No),
        (U::Patch, "1.31.1", Version("1.31"), No),
        // stable: the newest patch of N-1; from N-2 that is a minor upgrade too; on N it does nothing.
        (U::Stable, "1.29.9", Version("1.30"), Version("1.30")),
        (U::Stable, "1.30.4", Version("1.30"), No),
        (U::Stable, "1.31.1", No, No),
        // rapid: the newest patch of N, through N-1 from N-2.
        (U::Rapid, "1.29.9", Version("1.31"), Version("1.31")),
        (U::Rapid, "1.30.4", Version("1.31"), Version("1.31")),
        (U::Rapid, "1.31.1", Version("1.31"), No),
    ];
    for (channel, running, patch, minor) in table {
        let c = Channels { upgrade: Some(*channel), node_os: None };
        let current = v(running);
        let at = |kind| got(applies(c, kind, Some(&current), Some(line(N))));
        assert_eq!(at(ChangeKind::Patch), *patch, "{channel:?} on {running}: patch");
        assert_eq!(at(ChangeKind::Minor), *minor, "{channel:?} on {running}: minor");
        // Node images and node OS are never the cluster channel's, except node-image's.
        if *channel != U::NodeImage {
            assert_eq!(at(ChangeKind::NodeImage), No, "{channel:?}: node image");
            assert_eq!(at(ChangeKind::NodeOs { windows: false }), No, "{channel:?}: node OS");
        }
    }
}

#[test]
fn stable_and_rapid_are_not_counted_on_when_the_newest_minor_is_unknown() {
    for channel in [UpgradeChannel::Stable, UpgradeChannel::Rapid] {
        let c = Channels { upgrade: Some(channel), node_os: None };
        assert_eq!(applies(c, ChangeKind::Patch, Some(&v("1.30.4")), None), None, "{channel:?}");
        assert_eq!(applies(c, ChangeKind::Minor, Some(&v("1.30.4")), None), None, "{channel:?}");
    }
    // patch needs no N; no channel decides a version change without the running version.
    let patch = Channels { upgrade: Some(UpgradeChannel::Patch), node_os: None };
    assert!(applies(patch, ChangeKind::Patch, Some(&v("1.30.4")), None).is_some());
    assert_eq!(applies(patch, ChangeKind::Patch, None, Some(line(N))), None);
}

/// (node OS channel, cluster channel, node image, node OS on Linux, node OS on Windows)
type NodeOsRow = (Option<NodeOsChannel>, Option<UpgradeChannel>, Want, Want, Want);

#[test]
fn node_os_channels_for_node_image_and_node_os_changes() {
    use ChannelTarget::{LatestNodeImage, OsPackages, SecurityPatches};
    use ManagedSchedule::{AutoUpgrade, NodeOs, OsDaily};
    use NodeOsChannel as O;
    use Want::{No, Other};
    // (node OS channel, cluster channel, node image, node OS on Linux, node OS on Windows)
    let table: &[NodeOsRow] = &[
        (None, None, No, No, No),
        (Some(O::None), Some(UpgradeChannel::Patch), No, No, No),
        (Some(O::Unmanaged), None, No, Other(OsPackages, OsDaily), No),
        (Some(O::SecurityPatch), None, No, Other(SecurityPatches, NodeOs), Other(SecurityPatches, NodeOs)),
        (Some(O::NodeImage), None, Other(LatestNodeImage, NodeOs), Other(LatestNodeImage, NodeOs), Other(LatestNodeImage, NodeOs)),
        // The cluster channel node-image upgrades node images in the auto-upgrade schedule …
        (None, Some(UpgradeChannel::NodeImage), Other(LatestNodeImage, AutoUpgrade), Other(LatestNodeImage, AutoUpgrade), Other(LatestNodeImage, AutoUpgrade)),
        // … unless the node OS channel NodeImage (its own schedule) does.
        (Some(O::NodeImage), Some(UpgradeChannel::NodeImage), Other(LatestNodeImage, NodeOs), Other(LatestNodeImage, NodeOs), Other(LatestNodeImage, NodeOs)),
    ];
    for (node_os, upgrade, image, linux, windows) in table {
        let c = Channels { upgrade: *upgrade, node_os: *node_os };
        let at = |kind| got(applies(c, kind, Some(&v("1.30.4")), Some(line(N))));
        assert_eq!(at(ChangeKind::NodeImage), *image, "{node_os:?}/{upgrade:?}: node image");
        assert_eq!(at(ChangeKind::NodeOs { windows: false }), *linux, "{node_os:?}/{upgrade:?}: node OS (Linux)");
        assert_eq!(at(ChangeKind::NodeOs { windows: true }), *windows, "{node_os:?}/{upgrade:?}: node OS (Windows)");
    }
}

#[test]
fn the_channel_applying_a_change_is_named_as_arm_spells_it() {
    let c = Channels::read(Some("Patch"), Some("nodeimage"));
    assert_eq!(c, Channels { upgrade: Some(UpgradeChannel::Patch), node_os: Some(NodeOsChannel::NodeImage) });
    let patch = applies(c, ChangeKind::Patch, Some(&v("1.30.4")), None).unwrap();
    assert_eq!(patch.channel, "upgradeChannel patch");
    let image = applies(c, ChangeKind::NodeImage, None, None).unwrap();
    assert_eq!(image.channel, "nodeOSUpgradeChannel NodeImage");
    assert_eq!(image.schedule.as_str(), "aksManagedNodeOSUpgradeSchedule");
    assert_eq!(Channels::read(Some("weekly"), Some("")), Channels::default(), "unknown values count as unset");
}
