//! What a sweep remembers about a cluster from one run to the next: one ledger reference per
//! cluster (`Ledger::get_ref(<cluster key>, "sweep")`), written by the pipeline after a run.
//!
//! It holds two things:
//!
//! * [`Observed`]: the facts the planner's concern targets were built from (control-plane
//!   version, each pool's node image, certificate expiry dates). Comparing the previous run's
//!   facts with this run's names, **exactly**, the concerns that are now met — with the very
//!   targets the planner gave them (`plan::patch_target`, `plan::minor_target`, …), so a
//!   `Resolved` signal closes the GitHub issue that was opened:
//!
//!   | moved | resolved |
//!   |---|---|
//!   | 1.30.4 → 1.30.7 | `kubernetes-upgrade patch:1.30.4` |
//!   | 1.29.9 → 1.31.2 | `kubernetes-upgrade patch:1.29.9`, `1.30`, `1.31`; `support 1.29`, `1.30` |
//!   | pool image A → B, or pool deleted | `node-image <pool>@A` |
//!   | a certificate's expiry date changed (rotated) | `certificate <kind>@<old date>` |
//!
//!   Facts a run could not read (a failed pool read, a certificate source that did not
//!   answer) resolve nothing: only a fact seen to change does.
//!
//! * The operations aks-cadence started and is still following ([`TrackedOperation`]): an
//!   upgrade the adapter left running (reported `OperationReport::Started` with its status URL) is polled by the next
//!   sweeps until it ends, and its outcome told through the concern's channels.
//!
//! Why one reference per cluster is safe to read-modify-write without a lock: only the
//! pipeline's handling of that cluster's sweep writes it, and sweeps of one cluster are hours
//! apart (a timer run, or `handler sweep`). Two overlapping writers could at worst drop one
//! tracked operation (its outcome then goes untold; the concern still resolves by version).
//!
//! Layer: core: sweep memory as data (the pipeline reads and writes it in the ledger).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::TrackedOperation;
use crate::baseline::report::{self as baseline_report, BaselineMemory};
use crate::domain::{CertificateKind, ConcernKind};
use crate::plan;
use crate::policy::versions::AksVersion;

/// The ledger reference channel the memory is kept under (the concern key is the cluster key).
pub const MEMORY_CHANNEL: &str = "sweep";

/// What one sweep saw, for the next one to compare with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// The control-plane version the upgrade findings were made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    /// Every pool of the cluster with its node image (`None` when the inventory had none).
    #[serde(default)]
    pub node_images: BTreeMap<String, Option<String>>,
    /// Expiry dates per certificate kind, for the kinds whose source was read this run (a kind
    /// with an empty list was read and had no such certificate).
    #[serde(default)]
    pub certificates: BTreeMap<CertificateKind, Vec<Timestamp>>,
    /// The security baseline's failing checks (`None`: not assessed this run — no `[baseline]`
    /// policy, or the inventory carried no baseline properties).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineMemory>,
    /// The cluster's AKS channel settings (`None`: not remembered — a memory written before
    /// they were kept). A required channel's concern resolves when a sweep sees the setting
    /// move to the required value (`plan::channel_findings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<ObservedChannels>,
    /// The versions of the cluster's open ring inversions (`None`: not judged — no `[[ring]]`,
    /// or a memory written before they were kept). A version that leaves the list resolves its
    /// `ring-inversion` concern (`policy::rings::open_inversions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_inversions: Option<Vec<String>>,
}

/// The versions of `cluster`'s open ring inversions among the run's (cluster name, signal).
pub fn inversion_versions(cluster: &str, inversions: &[(String, crate::domain::SignalKind)]) -> Vec<String> {
    let mut out: Vec<String> = inversions
        .iter()
        .filter(|(name, _)| name == cluster)
        .filter_map(|(_, kind)| match kind {
            crate::domain::SignalKind::RingInversion { version, .. } => Some(version.clone()),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `autoUpgradeProfile` as a sweep saw it (ARM's raw values; `None`: absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedChannels {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_os: Option<String>,
}

impl ObservedChannels {
    /// (upgradeChannel, nodeOSUpgradeChannel), as `plan::channel_findings` takes them.
    pub fn pair(&self) -> (Option<&str>, Option<&str>) {
        (self.upgrade.as_deref(), self.node_os.as_deref())
    }
}

/// The per-cluster memory as stored in the ledger (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMemory {
    /// What the last fully handled sweep saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
    /// Operations aks-cadence started that have not been seen to end.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<TrackedOperation>,
}

impl ClusterMemory {
    /// Reads a stored value; an unreadable one (written by a newer release, or damaged) counts
    /// as empty memory: the worst outcome is one run that resolves nothing by comparison.
    pub fn from_stored(value: Option<&str>) -> Self {
        value.and_then(|v| serde_json::from_str(v).ok()).unwrap_or_default()
    }

    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("memory serializes")
    }
}

/// The concerns (kind, target) that the move from `previous` to `now` resolved. Pure.
pub fn resolutions(previous: &Observed, now: &Observed) -> Vec<(ConcernKind, String)> {
    let mut out = Vec::new();
    let parse = |v: &Option<String>| v.as_deref().and_then(|v| AksVersion::parse(v).ok());
    if let (Some(before), Some(after)) = (parse(&previous.kubernetes_version), parse(&now.kubernetes_version))
        && after > before
    {
        out.push((ConcernKind::KubernetesUpgrade, plan::patch_target(&before)));
        let (from, to) = (before.minor_line(), after.minor_line());
        // Minor concerns name the line to reach; support concerns the line being left. A
        // cluster moves a few minors at most: the bound only guards against nonsense data.
        let mut line = from;
        for _ in 0..16 {
            if line >= to {
                break;
            }
            let Some(next) = line.next() else { break };
            out.push((ConcernKind::Support, plan::support_target(&line.to_string())));
            line = next;
            out.push((ConcernKind::KubernetesUpgrade, plan::minor_target(line)));
        }
    }
    if let (Some(before), Some(after)) = (&previous.ring_inversions, &now.ring_inversions) {
        for version in before.iter().filter(|v| !after.contains(v)) {
            out.push((ConcernKind::RingInversion, version.clone()));
        }
    }
    for (pool, image) in &previous.node_images {
        let Some(image) = image else { continue };
        let moved = match now.node_images.get(pool) {
            None => true, // the pool is gone: nothing left to upgrade
            Some(Some(current)) => current != image,
            Some(None) => false, // unknown now: not seen to change
        };
        if moved {
            out.push((ConcernKind::NodeImage, plan::node_image_target(pool, image)));
        }
    }
    for (kind, dates) in &previous.certificates {
        let Some(current) = now.certificates.get(kind) else { continue };
        let current: Vec<String> = current.iter().map(|d| plan::certificate_target(*kind, *d)).collect();
        for date in dates {
            let target = plan::certificate_target(*kind, *date);
            if !current.contains(&target) && !out.iter().any(|(k, t)| *k == ConcernKind::Certificate && *t == target) {
                out.push((ConcernKind::Certificate, target));
            }
        }
    }
    if let (Some(before), Some(after)) = (&previous.baseline, &now.baseline) {
        out.extend(baseline_report::resolutions(before, after));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(v: &str) -> Observed {
        Observed { kubernetes_version: Some(v.into()), ..Observed::default() }
    }
    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_ring_inversion_that_leaves_the_list_resolves_and_an_unjudged_run_resolves_none() {
        let judged = |v: &[&str]| Observed { ring_inversions: Some(v.iter().map(|s| s.to_string()).collect()), ..Observed::default() };
        assert_eq!(resolutions(&judged(&["1.30.7"]), &judged(&[])), vec![(ConcernKind::RingInversion, "1.30.7".to_string())]);
        assert_eq!(resolutions(&judged(&["1.30.7"]), &judged(&["1.30.7"])), vec![], "still open");
        assert_eq!(resolutions(&judged(&["1.30.7"]), &Observed::default()), vec![], "not judged (no rings): nothing resolved");
    }

    #[test]
    fn a_newer_patch_resolves_the_patch_concern_of_the_old_version_only() {
        assert_eq!(resolutions(&at("1.30.4"), &at("1.30.7")), vec![(ConcernKind::KubernetesUpgrade, "patch:1.30.4".to_string())]);
        assert_eq!(resolutions(&at("1.30.7"), &at("1.30.7")), vec![], "no move, nothing resolved");
        assert_eq!(resolutions(&at("1.30.7"), &at("1.30.4")), vec![], "a version going back resolves nothing");
        assert_eq!(resolutions(&Observed::default(), &at("1.30.4")), vec![], "nothing to compare with");
    }

    #[test]
    fn minors_crossed_resolve_their_minor_and_support_concerns() {
        let r = resolutions(&at("1.29.9"), &at("1.31.2"));
        let want: Vec<(ConcernKind, String)> = vec![
            (ConcernKind::KubernetesUpgrade, "patch:1.29.9".into()),
            (ConcernKind::Support, "1.29".into()),
            (ConcernKind::KubernetesUpgrade, "1.30".into()),
            (ConcernKind::Support, "1.30".into()),
            (ConcernKind::KubernetesUpgrade, "1.31".into()),
        ];
        assert_eq!(r, want);
        // The targets are the planner's own.
        assert_eq!(want[2].1, plan::minor_target(crate::policy::versions::MinorLine::new(1, 30)));
    }

    #[test]
    fn node_images_resolve_when_seen_to_change_or_when_the_pool_is_gone() {
        let before = Observed {
            node_images: [("a".into(), Some("img-1".into())), ("b".into(), Some("img-1".into())), ("c".into(), Some("img-1".into())), ("d".into(), None)]
                .into_iter()
                .collect(),
            ..Observed::default()
        };
        let after = Observed {
            node_images: [("a".into(), Some("img-2".into())), ("b".into(), Some("img-1".into())), ("d".into(), Some("img-2".into()))]
                .into_iter()
                .collect(),
            ..Observed::default()
        };
        assert_eq!(
            resolutions(&before, &after),
            vec![(ConcernKind::NodeImage, "a@img-1".to_string()), (ConcernKind::NodeImage, "c@img-1".to_string())]
        );
        let unknown = Observed { node_images: [("a".into(), None)].into_iter().collect(), ..Observed::default() };
        let known = Observed { node_images: [("a".into(), Some("img-1".into()))].into_iter().collect(), ..Observed::default() };
        assert_eq!(resolutions(&known, &unknown), vec![], "an image the inventory no longer shows is not a change");
    }

    #[test]
    fn a_rotated_certificate_resolves_the_old_expiry_and_an_unread_source_resolves_nothing() {
        let before = Observed {
            certificates: [
                (CertificateKind::ApiServer, vec![t("2026-05-01T10:00:00Z")]),
                (CertificateKind::KubeconfigClient, vec![t("2026-05-01T10:00:00Z")]),
            ]
            .into_iter()
            .collect(),
            ..Observed::default()
        };
        let after = Observed {
            certificates: [(CertificateKind::ApiServer, vec![t("2028-05-01T10:00:00Z")])].into_iter().collect(),
            ..Observed::default()
        };
        assert_eq!(resolutions(&before, &after), vec![(ConcernKind::Certificate, "api-server@2026-05-01".to_string())]);
        assert_eq!(resolutions(&before, &before), vec![]);
    }

    #[test]
    fn memory_round_trips_and_unreadable_memory_is_empty() {
        let m = ClusterMemory {
            observed: Some(at("1.30.4")),
            operations: vec![TrackedOperation { concern: ConcernKind::KubernetesUpgrade, target: "patch:1.30.4".into(), status_url: Some("https://m/op".into()) }],
        };
        assert_eq!(ClusterMemory::from_stored(Some(&m.to_stored())), m);
        assert_eq!(ClusterMemory::from_stored(Some("not json")), ClusterMemory::default());
        assert_eq!(ClusterMemory::from_stored(None), ClusterMemory::default());
    }
}
