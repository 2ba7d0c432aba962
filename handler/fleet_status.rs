//! Run layer: after a sweep, the fleet's status ([`FleetStatus`]) is kept in the ledger and each
//! configured repository's dashboard issue is brought up to date (`actions::github::dashboard`).
//! `handler status` reads the same record back, calling neither Azure nor GitHub.
//!
//! Which sweeps write it:
//! - `handler sweep` and the timer's inline sweep (the whole fleet in one invocation): at the
//!   end of the sweep, from its snapshots and its plan. A cluster whose own sweep failed keeps
//!   its previous status (shown "as of" its day).
//! - serverless fan-out (more clusters than `CADENCE_SWEEP_INLINE_MAX`): each `sweep-cluster`
//!   invocation stores its cluster's status under the cluster's key; the NEXT timer run (which
//!   takes the inventory anyway) assembles the fleet from those records, stores it and updates
//!   the dashboards. The dashboard therefore lags one timer period behind in that mode.
//!
//! Dry-run: the status is an observation (like first sightings) and is kept, so `handler
//! status` works with the notify-only default; the dashboard issues are written only by live runs.
//!
//! Nothing here fails a sweep: a ledger or GitHub failure is a log line, and the next sweep
//! tries again (the record of what was posted is written only after posting).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;

use crate::action::Action;
use crate::actions::github::GithubActuator;
use crate::dashboard::{self, ClusterStatus, ConcernStatus, FleetStatus};
use crate::domain::ClusterId;
use crate::facts::sweep_plan_facts;
use crate::pipeline::Pipeline;
use crate::plan::WindowScope;
use crate::policy::Policy;
use crate::store::{Ledger, LedgerError};
use crate::sweep::ClusterSnapshot;

/// The ledger key of the fleet's records.
pub const FLEET_KEY: &str = "aks-cadence#fleet";
/// The channel of the fleet status (under [`FLEET_KEY`]) and of a cluster's own status (under
/// the cluster's key, fan-out mode).
pub const STATUS_CHANNEL: &str = "status";

/// One cluster's status from its sweep snapshot and its open concerns. Pure.
pub fn cluster_status(snap: &ClusterSnapshot, policy: &Policy, now: Timestamp, concerns: Vec<ConcernStatus>) -> ClusterStatus {
    let facts = sweep_plan_facts(snap, policy, now, &mut Vec::new());
    let mut concerns = concerns;
    concerns.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.target.cmp(&b.target)));
    ClusterStatus {
        cluster: snap.cluster.clone(),
        swept_at: snap.swept_at,
        ring: dashboard::ring_of(policy, &snap.cluster, &snap.facts),
        kubernetes_version: snap.observed.kubernetes_version.clone().or_else(|| snap.facts.kubernetes_version.clone()),
        upgrade_channel: snap.facts.upgrade_channel.clone(),
        node_os_upgrade_channel: snap.facts.node_os_upgrade_channel.clone(),
        node_images: snap.observed.node_images.clone(),
        window: facts.window_for(WindowScope::KubernetesVersion).clone(),
        concerns,
    }
}

/// The fleet after a sweep: a status for every swept cluster; the clusters whose sweep failed
/// keep their `previous` status (left out when there is none). Sorted by cluster id. Pure.
pub fn fleet_status(
    snapshots: &[ClusterSnapshot],
    actions: &[&Action],
    failed: &[ClusterId],
    previous: Option<&FleetStatus>,
    policy: &Policy,
    now: Timestamp,
) -> FleetStatus {
    let mut open = dashboard::open_concerns(actions.iter().copied());
    let mut clusters: BTreeMap<String, ClusterStatus> = BTreeMap::new();
    for snap in snapshots {
        let concerns = open.remove(&snap.cluster).unwrap_or_default();
        clusters.insert(snap.cluster.key(), cluster_status(snap, policy, now, concerns));
    }
    if let Some(previous) = previous {
        let failed: BTreeSet<String> = failed.iter().map(ClusterId::key).collect();
        for c in &previous.clusters {
            if failed.contains(&c.cluster.key()) && !clusters.contains_key(&c.cluster.key()) {
                clusters.insert(c.cluster.key(), c.clone());
            }
        }
    }
    FleetStatus { swept_at: now, rings: policy.rings.iter().map(|r| r.name.clone()).collect(), clusters: clusters.into_values().collect() }
}

/// The fleet status the last sweep kept (`None`: no sweep has kept one yet). An unreadable
/// record (written by a newer release) counts as none.
pub async fn load(ledger: &dyn Ledger) -> Result<Option<FleetStatus>, LedgerError> {
    Ok(ledger.get_ref(FLEET_KEY, STATUS_CHANNEL).await?.and_then(|v| serde_json::from_str(&v).ok()))
}

async fn store(ledger: &dyn Ledger, fleet: &FleetStatus) -> Result<(), LedgerError> {
    ledger.put_ref(FLEET_KEY, STATUS_CHANNEL, &serde_json::to_string(fleet).expect("the fleet status serializes")).await
}

/// One cluster's own status record (fan-out mode).
pub async fn store_cluster(ledger: &dyn Ledger, status: &ClusterStatus) -> Result<(), LedgerError> {
    ledger.put_ref(&status.cluster.key(), STATUS_CHANNEL, &serde_json::to_string(status).expect("a cluster status serializes")).await
}

/// The clusters' own status records, for the ids given (fan-out mode), 16 reads at a time;
/// clusters without one are left out.
pub async fn load_clusters(ledger: &Arc<dyn Ledger>, clusters: Vec<ClusterId>) -> Result<Vec<ClusterStatus>, LedgerError> {
    let read: Vec<Option<String>> = futures::stream::iter(clusters)
        .map(|id| {
            let ledger = Arc::clone(ledger);
            async move { ledger.get_ref(&id.key(), STATUS_CHANNEL).await }
        })
        .buffered(crate::pipeline::LEDGER_CONCURRENCY)
        .try_collect()
        .await?;
    let mut out: Vec<ClusterStatus> = read.into_iter().flatten().filter_map(|v| serde_json::from_str(&v).ok()).collect();
    out.sort_by_key(|c| c.cluster.key());
    Ok(out)
}

/// Keeps `fleet` in the ledger and, in a live run with GitHub configured, brings every
/// repository's dashboard up to date. Returns one log line per thing done or failed.
pub async fn keep(pipeline: &Pipeline, publisher: Option<&GithubActuator>, fleet: &FleetStatus) -> Vec<String> {
    let mut log = Vec::new();
    if let Err(e) = store(pipeline.ledger().as_ref(), fleet).await {
        tracing::warn!(error = %e, "the fleet status was not kept this sweep");
        log.push(format!("fleet status not kept this sweep: {e}"));
    }
    let Some(publisher) = publisher.filter(|_| !pipeline.dry_run()) else { return log };
    let repos = dashboard::dashboard_repos(pipeline.policy());
    if repos.is_empty() {
        return log;
    }
    let rendered = dashboard::dashboard(fleet);
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
    use crate::action::{ActionKind, Stage};
    use crate::domain::{ClusterFacts, Concern, ConcernKind, Origin, Signal, SignalKind};
    use crate::sweep::memory::Observed;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn snapshot(name: &str, version: &str) -> ClusterSnapshot {
        let cluster = ClusterId::from_parts("s", "rg", name);
        ClusterSnapshot {
            cluster,
            facts: ClusterFacts { upgrade_channel: Some("patch".into()), ..ClusterFacts::default() },
            fqdn: None,
            run_id: "run".into(),
            swept_at: t("2026-01-15T09:00:00Z"),
            signals: Vec::new(),
            maintenance_configurations: Vec::new(),
            maintenance_read: true,
            observed: Observed { kubernetes_version: Some(version.into()), ..Observed::default() },
            offered_in_region: None,
            busy: false,
            readiness: None,
            notes: Vec::new(),
            baseline: None,
            defender_plan: None,
        }
    }

    #[test]
    fn a_cluster_whose_sweep_failed_keeps_its_last_status_and_one_that_left_the_fleet_goes() {
        let policy = Policy::builtin();
        let now = t("2026-01-15T09:00:00Z");
        let a = snapshot("a", "1.30.4");
        let signal = Signal { cluster: a.cluster.clone(), facts: a.facts.clone(), kind: SignalKind::SupportEnded { kubernetes_version: "1.30.4".into() }, observed_at: now, origin: Origin::Manual };
        let action = Action::new(Concern::new(a.cluster.clone(), ConcernKind::Support, "1.30"), Stage::Overdue, ActionKind::Log, "s".into(), signal);
        let mut previous = fleet_status(&[snapshot("b", "1.29.9"), snapshot("gone", "1.28.1")], &[], &[], None, &policy, t("2026-01-14T09:00:00Z"));
        previous.clusters.iter_mut().for_each(|c| c.swept_at = t("2026-01-14T09:00:00Z"));
        let b = ClusterId::from_parts("s", "rg", "b");
        let fleet = fleet_status(&[a], &[&action], std::slice::from_ref(&b), Some(&previous), &policy, now);
        let names: Vec<&str> = fleet.clusters.iter().map(|c| c.cluster.name()).collect();
        assert_eq!(names, ["a", "b"], "b failed and keeps its status; `gone` is no longer in the inventory");
        assert_eq!(fleet.clusters[0].concerns.len(), 1);
        assert_eq!(fleet.clusters[0].concerns[0].stage, Stage::Overdue);
        assert_eq!(fleet.clusters[0].upgrade_channel.as_deref(), Some("patch"));
        assert_eq!(fleet.clusters[1].swept_at, t("2026-01-14T09:00:00Z"), "b's status is the old one");
        assert_eq!(fleet.clusters[1].kubernetes_version.as_deref(), Some("1.29.9"));
    }
}
