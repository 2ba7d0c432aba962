//! The fleet's memory: ONE record per cluster, written by the pipeline after each sweep of that
//! cluster (`Ledger::put_fleet`, only when it changed), read by the ring gate
//! (`policy::rings`, the whole fleet once per run) and by the fleet dashboard and `handler
//! status` (`fleet_status`). In serverless fan-out each `sweep-cluster` message sees one
//! cluster: the other clusters of its ring are known only from these records.
//!
//! A record holds:
//! - for the rings: the cluster's id and tags (ring membership is decided again from the policy
//!   on every read, so moving a cluster between rings needs no migration), its control-plane
//!   version and each pool's node image with **since when** it has run it (the first sweep that
//!   saw it there; the first sweep of a cluster counts as "since now", so a soak never starts
//!   before aks-cadence saw it), the upgrades aks-cadence started and is following, and the
//!   upgrades that failed;
//! - for the dashboard: its channels, the ring it was shown in, the window that governs its next
//!   version change (from the facts the sweep planned with), and its open concerns from that
//!   sweep's plan (stage, deadline, what holds each change).
//!
//! A cluster no sweep has seen for [`STALE_DAYS`] days (deleted, or out of the identity's reach)
//! is left out of its ring: it no longer holds the next ring back. A whole-fleet sweep whose
//! inventory no longer lists a cluster marks its record `left_at`: the dashboard and `handler
//! status` stop showing it (the ring gate still waits the [`STALE_DAYS`]).
//!
//! Layer: edge (sweep): pure functions over the stored records; the ledger calls are the
//! pipeline's and `fleet_status`'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::dashboard::{ClusterStatus, ConcernStatus};
use crate::domain::{ClusterFacts, ClusterId, OperationStatus, SignalKind};
use crate::plan::FleetRings;
use crate::policy::Policy;
use crate::policy::rings::{Failure, Member, RingView, Running};
use crate::policy::windows::WindowStatus;

use super::ClusterSnapshot;
use super::memory::Observed;

/// Days after which a cluster no sweep has seen is left out of its ring.
pub const STALE_DAYS: i64 = 30;
/// Failed upgrades kept per cluster (the newest).
pub const FAILURES_KEPT: usize = 10;

/// What runs, since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Since {
    pub version: String,
    pub since: Timestamp,
    /// A sweep saw the change to it (`false`: the first sweep found it there).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub changed: bool,
}

/// An upgrade aks-cadence started and follows: the concern target it was for and the version
/// or node image it goes to (a failure is recorded against the latter).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upgrading {
    pub concern: String,
    pub to: String,
}

/// An upgrade that failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    pub to: String,
    pub at: Timestamp,
}

/// One cluster's record (`Ledger::put_fleet`, JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetRecord {
    /// The cluster's ARM id.
    pub cluster: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<Since>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_images: BTreeMap<String, Since>,
    /// The cluster's `upgradeChannel` (ring inversion: AKS orders those clusters itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_channel: Option<String>,
    /// The cluster's `nodeOSUpgradeChannel` (dashboard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_os_upgrade_channel: Option<String>,
    /// The ring the sweep placed it in, by name (dashboard; the gate decides again from `tags`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring: Option<String>,
    /// The window that governed its version changes at the sweep (dashboard: next window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowStatus>,
    /// Its open concerns in the sweep's plan, sorted by (kind, target) (dashboard).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concerns: Vec<ConcernStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upgrading: Vec<Upgrading>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<Failed>,
    /// The last sweep that saw the cluster (kept to the day: an unchanged record is rewritten
    /// by the first sweep of a new UTC day only).
    pub seen_at: Timestamp,
    /// Written before any sweep of the cluster itself (fan-out seeding with `[[ring]]`s): the
    /// ring gate waits on it, the dashboard does not show it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub seeded: bool,
    /// When a whole-fleet sweep's inventory first no longer listed the cluster (dashboard and
    /// `handler status` leave it out; a later sweep of it clears this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<Timestamp>,
}

impl FleetRecord {
    pub fn from_stored(value: &str) -> Option<Self> {
        serde_json::from_str(value).ok()
    }
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("fleet record serializes")
    }

    /// Whether `self` differs from `before` in more than a `seen_at` of the same UTC day (worth
    /// a write): an unchanged cluster is written once a day at most, and a record's `seen_at`
    /// is always on the day of the last sweep that saw it (the dashboard's "as of" mark).
    pub fn worth_writing(&self, before: Option<&FleetRecord>) -> bool {
        match before {
            None => true,
            Some(b) => {
                let same_but_seen = FleetRecord { seen_at: b.seen_at, ..self.clone() } == *b;
                !same_but_seen || utc_day(self.seen_at) != utc_day(b.seen_at)
            }
        }
    }

    /// The dashboard's view of the record (`None`: seeded, left the fleet, or an id that does
    /// not parse).
    pub fn status(&self) -> Option<ClusterStatus> {
        if self.seeded || self.left_at.is_some() {
            return None;
        }
        let cluster = ClusterId::parse(&self.cluster).ok()?;
        Some(ClusterStatus {
            cluster,
            swept_at: self.seen_at,
            ring: self.ring.clone(),
            kubernetes_version: self.kubernetes.as_ref().map(|k| k.version.clone()),
            upgrade_channel: self.upgrade_channel.clone(),
            node_os_upgrade_channel: self.node_os_upgrade_channel.clone(),
            node_images: self.node_images.iter().map(|(pool, s)| (pool.clone(), Some(s.version.clone()))).collect(),
            window: self.window.clone().unwrap_or_default(),
            concerns: self.concerns.clone(),
        })
    }

    /// Records a failed upgrade to `to` (the newest [`FAILURES_KEPT`] are kept).
    pub fn fail(&mut self, to: &str, at: Timestamp) {
        self.failed.retain(|f| f.to != to);
        self.failed.push(Failed { to: to.to_string(), at });
        if self.failed.len() > FAILURES_KEPT {
            self.failed.remove(0);
        }
    }
}

fn utc_day(t: Timestamp) -> jiff::civil::Date {
    jiff::tz::Offset::UTC.to_datetime(t).date()
}

/// This sweep's record of a swept cluster: [`observe`], the operations the sweep saw end taken
/// off `upgrading` (a failed one recorded against its target: it stops the target for later
/// rings), and the ring it belongs to now.
pub fn observe_sweep(previous: Option<&FleetRecord>, snap: &ClusterSnapshot, policy: &Policy, now: Timestamp) -> FleetRecord {
    let mut record = observe(previous, &snap.cluster, &snap.facts, &snap.observed, now);
    for signal in &snap.signals {
        if let SignalKind::Operation { target, status, .. } = &signal.kind
            && !matches!(status, OperationStatus::InProgress)
        {
            let to: Vec<String> = record.upgrading.iter().filter(|u| u.concern == *target).map(|u| u.to.clone()).collect();
            record.upgrading.retain(|u| u.concern != *target);
            if matches!(status, OperationStatus::Failed { .. }) {
                for to in to {
                    record.fail(&to, now);
                }
            }
        }
    }
    record.ring = crate::dashboard::ring_of(policy, &snap.cluster, &snap.facts);
    record
}

/// Each record's open concerns from the run's plan (`actions`: planned and finished alike, see
/// `dashboard::open_concerns`).
pub fn attach_concerns<'a>(records: &mut [(String, FleetRecord)], actions: impl IntoIterator<Item = &'a Action>) {
    let mut open = crate::dashboard::open_concerns(actions);
    for (_, record) in records {
        let Ok(id) = ClusterId::parse(&record.cluster) else { continue };
        let mut concerns = open.remove(&id).unwrap_or_default();
        concerns.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.target.cmp(&b.target)));
        record.concerns = concerns;
    }
}

/// This sweep's record of a cluster, from its previous record: a version or image that did not
/// change keeps its `since`; a changed or new one runs since `now`. Facts this run could not
/// read (a pool whose image is unknown, no version) keep what the previous record knew.
pub fn observe(previous: Option<&FleetRecord>, cluster: &ClusterId, facts: &ClusterFacts, observed: &Observed, now: Timestamp) -> FleetRecord {
    let keep = |before: Option<&Since>, now_running: &str| match before {
        Some(b) if b.version == now_running => b.clone(),
        Some(_) => Since { version: now_running.to_string(), since: now, changed: true },
        None => Since { version: now_running.to_string(), since: now, changed: false },
    };
    let kubernetes = match observed.kubernetes_version.as_ref().or(facts.kubernetes_version.as_ref()) {
        Some(v) => Some(keep(previous.and_then(|p| p.kubernetes.as_ref()), v)),
        None => previous.and_then(|p| p.kubernetes.clone()),
    };
    let mut node_images = BTreeMap::new();
    for (pool, image) in &observed.node_images {
        let before = previous.and_then(|p| p.node_images.get(pool));
        match image {
            Some(image) => {
                node_images.insert(pool.clone(), keep(before, image));
            }
            None => {
                if let Some(b) = before {
                    node_images.insert(pool.clone(), b.clone());
                }
            }
        }
    }
    FleetRecord {
        cluster: cluster.as_str().to_string(),
        tags: facts.tags.clone(),
        kubernetes,
        node_images,
        upgrade_channel: facts.upgrade_channel.clone(),
        node_os_upgrade_channel: facts.node_os_upgrade_channel.clone(),
        ring: None,
        window: None,
        concerns: Vec::new(),
        upgrading: previous.map(|p| p.upgrading.clone()).unwrap_or_default(),
        failed: previous.map(|p| p.failed.clone()).unwrap_or_default(),
        seen_at: now,
        seeded: false,
        left_at: None,
    }
}

/// Each ring's clusters (file order), from the records of the fleet. Records seen within
/// [`STALE_DAYS`] only; a record whose cluster id does not parse is skipped.
pub fn rings<'r>(policy: &Policy, records: impl IntoIterator<Item = &'r FleetRecord>, now: Timestamp) -> Arc<FleetRings> {
    let mut views: Vec<RingView> =
        policy.rings.iter().map(|r| RingView { name: r.name.clone(), soak_days: r.soak_days, members: Vec::new() }).collect();
    let oldest = now.checked_sub(SignedDuration::from_hours(24 * STALE_DAYS)).unwrap_or(Timestamp::MIN);
    for record in records {
        if record.seen_at < oldest {
            continue;
        }
        let Ok(id) = ClusterId::parse(&record.cluster) else { continue };
        let facts = ClusterFacts { tags: record.tags.clone(), ..ClusterFacts::default() };
        let Some(index) = policy.ring_of(&id, &facts) else { continue };
        views[index].members.push(member(&id, record));
    }
    for view in &mut views {
        view.members.sort_by(|a, b| a.cluster.cmp(&b.cluster));
    }
    Arc::new(FleetRings { rings: views, released: Default::default() })
}

fn member(id: &ClusterId, record: &FleetRecord) -> Member {
    let running = |s: &Since| Running { version: s.version.clone(), since: s.since, seen_to_change: s.changed };
    // `none` (or no channel) leaves the control plane to aks-cadence; `node-image` moves only images.
    let aks_channel = record
        .upgrade_channel
        .as_deref()
        .filter(|c| ["patch", "stable", "rapid"].iter().any(|k| c.eq_ignore_ascii_case(k)))
        .map(|c| format!("upgradeChannel {c}"));
    Member {
        cluster: id.name().to_string(),
        kubernetes: record.kubernetes.as_ref().map(running),
        node_images: record.node_images.values().map(running).collect(),
        failed: record.failed.iter().map(|f| Failure { target: f.to.clone(), at: f.at }).collect(),
        aks_channel,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn since_moves_only_when_the_version_or_image_changes() {
        let id = ClusterId::from_parts("sub", "rg", "dev-a");
        let facts = ClusterFacts::default();
        let seen = |v: &str, img: Option<&str>| Observed {
            kubernetes_version: Some(v.into()),
            node_images: [("pool".to_string(), img.map(str::to_string))].into_iter().collect(),
            ..Observed::default()
        };
        let first = observe(None, &id, &facts, &seen("1.30.4", Some("img-1")), t("2026-03-01T00:00:00Z"));
        assert_eq!(first.kubernetes, Some(Since { version: "1.30.4".into(), since: t("2026-03-01T00:00:00Z"), changed: false }));
        let same = observe(Some(&first), &id, &facts, &seen("1.30.4", Some("img-1")), t("2026-03-02T00:00:00Z"));
        assert_eq!(same.kubernetes.as_ref().unwrap().since, t("2026-03-01T00:00:00Z"));
        assert_eq!(same.node_images["pool"].since, t("2026-03-01T00:00:00Z"));
        assert!(same.worth_writing(Some(&first)), "a day later: seen_at is refreshed");
        let late = observe(Some(&first), &id, &facts, &seen("1.30.4", Some("img-1")), t("2026-03-01T23:59:00Z"));
        assert!(!late.worth_writing(Some(&first)), "the same day, nothing changed: no write");
        let moved = observe(Some(&same), &id, &facts, &seen("1.30.7", None), t("2026-03-03T00:00:00Z"));
        assert_eq!(moved.kubernetes, Some(Since { version: "1.30.7".into(), since: t("2026-03-03T00:00:00Z"), changed: true }));
        assert_eq!(moved.node_images["pool"].since, t("2026-03-01T00:00:00Z"), "an unread image keeps what was known");
        let soon = observe(Some(&moved), &id, &facts, &seen("1.30.7", None), t("2026-03-03T01:00:00Z"));
        assert!(!soon.worth_writing(Some(&moved)), "nothing changed an hour later: no write");
        let mut failed = soon.clone();
        failed.fail("1.30.9", t("2026-03-03T01:00:00Z"));
        assert!(failed.worth_writing(Some(&moved)));
        assert_eq!(FleetRecord::from_stored(&failed.to_stored()), Some(failed));
    }

    #[test]
    fn rings_take_each_cluster_once_in_file_order_and_leave_out_stale_ones() {
        let policy = Policy::parse(
            "[[ring]]\nname = \"dev\"\nclusters = [\"dev-*\"]\nsoak_days = 2\n\n[[ring]]\nname = \"all\"\nsoak_days = 0\n",
            "t.toml",
        )
        .unwrap();
        let record = |name: &str, seen: &str| FleetRecord {
            cluster: ClusterId::from_parts("sub", "rg", name).as_str().to_string(),
            tags: BTreeMap::new(),
            kubernetes: Some(Since { version: "1.30.4".into(), since: t("2026-01-01T00:00:00Z"), changed: false }),
            node_images: BTreeMap::new(),
            upgrade_channel: None,
            node_os_upgrade_channel: None,
            ring: None,
            window: None,
            concerns: Vec::new(),
            upgrading: Vec::new(),
            failed: Vec::new(),
            seen_at: t(seen),
            seeded: false,
            left_at: None,
        };
        let records = [record("dev-a", "2026-03-01T00:00:00Z"), record("prod-a", "2026-03-01T00:00:00Z"), record("dev-gone", "2026-01-01T00:00:00Z")];
        let fleet = rings(&policy, &records, t("2026-03-02T00:00:00Z"));
        let names = |i: usize| fleet.rings[i].members.iter().map(|m| m.cluster.clone()).collect::<Vec<_>>();
        assert_eq!(names(0), vec!["dev-a"], "dev-gone was last seen more than {STALE_DAYS} days ago");
        assert_eq!(names(1), vec!["prod-a"], "dev-a belongs to the first ring that selects it only");
    }
}
