//! Run layer: after a sweep, the fleet dashboard issue of each configured repository is brought
//! up to date (`actions::github::dashboard`) from the fleet's records (`sweep::fleet`: one per
//! cluster, written by the pipeline with the sweep's plan). `handler status` reads the same
//! records back, calling neither Azure nor GitHub.
//!
//! Which sweeps update the dashboard:
//! - `handler sweep` and the timer's inline sweep (the whole fleet in one invocation): at the
//!   end of the sweep, from the records of its inventory. A cluster whose own sweep failed keeps
//!   its previous record (shown "as of" its day).
//! - serverless fan-out (more clusters than `CADENCE_SWEEP_INLINE_MAX`): each `sweep-cluster`
//!   invocation writes its cluster's record; the NEXT timer run (which takes the inventory
//!   anyway) updates the dashboards from those records. The dashboard issue therefore lags one
//!   timer period behind in that mode (`handler status` does not: it reads the records).
//!
//! Both mark the records of clusters their inventory no longer lists (`left_at`): the dashboard
//! and `handler status` stop showing them.
//!
//! Dry-run: the records are observations (like first sightings) and are kept, so `handler
//! status` works with the notify-only default; the dashboard issues are written only by live runs.
//!
//! Nothing here fails a sweep: a ledger or GitHub failure is a log line, and the next sweep
//! tries again (the record of what was posted is written only after posting).
//!
//! Before the records were one per cluster, the dashboard kept a fleet-wide status record
//! (`aks-cadence#fleet`, channel `status`). [`load`] still reads that record while the ledger
//! holds no fleet record yet (a ledger last swept by an earlier release); the next sweep writes
//! the records and the old one is no longer read.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use crate::actions::github::GithubActuator;
use crate::dashboard::{self, FleetStatus};
use crate::domain::ClusterId;
use crate::pipeline::Pipeline;
use crate::store::{Ledger, LedgerError};
use crate::sweep::fleet::FleetRecord;

/// The ledger key of the fleet-wide records (dashboard digests; the earlier releases' status).
pub const FLEET_KEY: &str = "aks-cadence#fleet";
/// The channel (under [`FLEET_KEY`]) of the fleet status earlier releases kept; read only.
pub const STATUS_CHANNEL: &str = "status";

/// The fleet as its records show it: every record that is shown (not seeded, not left) and, when
/// `inventory` is given, whose cluster it lists (by key). `rings`: the ring names in policy
/// order. The fleet's time is `now`, or without one the newest record's `seen_at`. Pure.
pub fn assemble<'r>(
    records: impl IntoIterator<Item = &'r FleetRecord>,
    inventory: Option<&BTreeSet<String>>,
    rings: Vec<String>,
    now: Option<Timestamp>,
) -> FleetStatus {
    let mut clusters: BTreeMap<String, dashboard::ClusterStatus> = BTreeMap::new();
    for record in records {
        let Some(status) = record.status() else { continue };
        if inventory.is_some_and(|inv| !inv.contains(&status.cluster.key())) {
            continue;
        }
        clusters.insert(status.cluster.key(), status);
    }
    let swept_at = now.or_else(|| clusters.values().map(|c| c.swept_at).max()).unwrap_or(Timestamp::UNIX_EPOCH);
    FleetStatus { swept_at, rings, clusters: clusters.into_values().collect() }
}

/// The records of clusters `inventory` no longer lists that are not yet marked `left_at`, now
/// marked (to be written). Pure.
pub fn departed(records: &BTreeMap<String, FleetRecord>, inventory: &BTreeSet<String>, now: Timestamp) -> Vec<(String, FleetRecord)> {
    records
        .iter()
        .filter(|(key, r)| !inventory.contains(*key) && r.left_at.is_none())
        .map(|(key, r)| (key.clone(), FleetRecord { left_at: Some(now), ..r.clone() }))
        .collect()
}

/// What [`load`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    /// The fleet from its per-cluster records.
    Records(FleetStatus),
    /// Only the fleet-wide status an earlier release kept: shown as it was; the next sweep
    /// writes the per-cluster records.
    Earlier(FleetStatus),
}

/// The fleet for `handler status`: from the clusters' records, or while there is none the
/// status an earlier release kept (`None`: no sweep has kept either). An unreadable record
/// (written by a newer release) is skipped.
pub async fn load(ledger: &dyn Ledger, rings: Vec<String>) -> Result<Option<Loaded>, LedgerError> {
    let records: Vec<FleetRecord> = ledger.fleet().await?.into_iter().filter_map(|(_, v)| FleetRecord::from_stored(&v)).collect();
    let fleet = assemble(&records, None, rings, None);
    if !fleet.clusters.is_empty() {
        return Ok(Some(Loaded::Records(fleet)));
    }
    let earlier: Option<FleetStatus> = ledger.get_ref(FLEET_KEY, STATUS_CHANNEL).await?.and_then(|v| serde_json::from_str(&v).ok());
    Ok(earlier.map(Loaded::Earlier))
}

/// After a whole-fleet sweep (`inventory`: every cluster it listed, swept or not): the records
/// of clusters that left marked, and in a live run with GitHub configured every repository's
/// dashboard brought up to date from the inventory's records. Returns one log line per thing
/// done or failed.
pub async fn keep(pipeline: &Pipeline, publisher: Option<&GithubActuator>, inventory: &[ClusterId]) -> Vec<String> {
    let mut log = Vec::new();
    let now = pipeline.now();
    let records = match pipeline.fleet_records(now).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "the fleet records were not read: no dashboard this sweep");
            return vec![format!("fleet records not read this sweep ({e}): the dashboard is not updated")];
        }
    };
    let inventory: BTreeSet<String> = inventory.iter().map(ClusterId::key).collect();
    // An empty inventory (no cluster in reach at all) marks nothing: more likely lost access
    // than a fleet deleted.
    let left = if inventory.is_empty() { Vec::new() } else { departed(&records, &inventory, now) };
    if !left.is_empty()
        && let Err(e) = pipeline.remember_fleet(&records, left, now).await
    {
        tracing::warn!(error = %e, "clusters that left the fleet were not marked this sweep");
        log.push(format!("clusters that left the fleet not marked this sweep: {e}"));
    }
    let Some(publisher) = publisher.filter(|_| !pipeline.dry_run()) else { return log };
    let repos = dashboard::dashboard_repos(pipeline.policy());
    if repos.is_empty() {
        return log;
    }
    let rings = pipeline.policy().rings.iter().map(|r| r.name.clone()).collect();
    let fleet = assemble(records.values(), Some(&inventory), rings, Some(now));
    if fleet.clusters.is_empty() {
        return log;
    }
    let rendered = dashboard::dashboard(&fleet);
    for repo in repos {
        match publisher.publish_dashboard(&repo, &rendered).await {
            Ok(done) => {
                tracing::info!(repo = %repo, "{}", done.describe(&repo));
                log.push(done.describe(&repo));
            }
            Err(e) => {
                tracing::warn!(repo = %repo, error = %e, "the fleet dashboard was not updated; the next sweep tries again");
                log.push(format!("fleet dashboard {repo}: not updated this sweep ({e}); the next sweep tries again"));
            }
        }
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ClusterFacts;
    use crate::sweep::fleet::observe;
    use crate::sweep::memory::Observed;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn record(name: &str, version: &str, at: &str) -> (String, FleetRecord) {
        let id = ClusterId::from_parts("s", "rg", name);
        let facts = ClusterFacts { upgrade_channel: Some("patch".into()), ..ClusterFacts::default() };
        let observed = Observed { kubernetes_version: Some(version.into()), ..Observed::default() };
        (id.key(), observe(None, &id, &facts, &observed, t(at)))
    }

    #[test]
    fn the_dashboard_shows_the_inventory_s_records_and_a_cluster_that_left_is_marked_once() {
        let records: BTreeMap<String, FleetRecord> =
            [record("a", "1.30.4", "2026-01-15T09:00:00Z"), record("b", "1.29.9", "2026-01-14T09:00:00Z"), record("gone", "1.28.1", "2026-01-14T09:00:00Z")]
                .into_iter()
                .collect();
        let inventory: BTreeSet<String> = ["a", "b"].iter().map(|n| ClusterId::from_parts("s", "rg", n).key()).collect();
        let now = t("2026-01-15T09:00:00Z");
        let fleet = assemble(records.values(), Some(&inventory), Vec::new(), Some(now));
        let names: Vec<&str> = fleet.clusters.iter().map(|c| c.cluster.name()).collect();
        assert_eq!(names, ["a", "b"], "`gone` is no longer in the inventory");
        assert_eq!(fleet.clusters[1].swept_at, t("2026-01-14T09:00:00Z"), "b's sweep failed: its record is the old one");
        assert_eq!(fleet.clusters[0].upgrade_channel.as_deref(), Some("patch"));
        let left = departed(&records, &inventory, now);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].1.left_at, Some(now));
        let mut after = records.clone();
        after.extend(left);
        assert!(departed(&after, &inventory, now).is_empty(), "marked once");
        let everything = assemble(after.values(), None, Vec::new(), None);
        assert_eq!(everything.clusters.len(), 2, "`handler status` leaves the departed cluster out");
        assert_eq!(everything.swept_at, now, "the newest record's time");
    }
}
