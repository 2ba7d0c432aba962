//! The rings around planning (issue 13), kept apart from the orchestrator's sequence:
//! - a sweep's ring view and the ring inversions of its clusters (`sweep_rings`);
//! - the fleet's ring view with the targets people released (`plan::release`), read from the
//!   ledger once per failed target and run (cached like the fleet's records);
//! - ring places for signals planned without a sweep (events, replays), so that an event's
//!   recommendation waits for the rings as a sweep's does;
//! - ring release by a person: before a sweep is planned, the issue of each cluster a failure
//!   stop holds is read (only then: a fleet without an unreleased failure reads nothing); a
//!   writer's release is kept in the ledger (`release:<target>` under `plan::release::RECORD_KEY`)
//!   and applies to the whole fleet at once, and the issue it was given on is told once.
//!
//! Also the approvals' last step of a run: the issue a change awaits approval on, once this run
//! opened it.
//!
//! Layer: run (part of the orchestrator); the decisions are `plan::release`, `plan::approval`
//! and `policy::rings`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::Timestamp;

use super::{FLEET_CACHE_FOR, Pipeline, PipelineError, RunReport};
use crate::action::{Action, ActionKind, Stage};
use crate::execute::{ExecutionReport, Outcome};
use crate::domain::{Signal, SignalKind};
use crate::plan::release::{self, Decision, Release};
use crate::plan::{self, FleetRings, PlanFacts};
use crate::store::LedgerError;
use crate::sweep::ClusterSnapshot;
use crate::sweep::fleet::{self, FleetRecord};

impl Pipeline {
    /// A sweep's rings (none without `[[ring]]`s): the fleet as this run leaves it (`before`,
    /// with this run's clusters as `next` has them) with the released targets, and the ring
    /// inversions of this run's clusters — by cluster name, as the rings know them — each
    /// logged in `report`: clusters AKS upgrades through a channel cannot be ordered by the
    /// gate, so a person is told when one took a version before the earlier ring had soaked it.
    pub(super) async fn sweep_rings(
        &self,
        before: &BTreeMap<String, FleetRecord>,
        next: &[(String, FleetRecord)],
        snapshots: &[ClusterSnapshot],
        now: Timestamp,
        report: &mut RunReport,
    ) -> Result<(Option<Arc<FleetRings>>, Vec<(String, SignalKind)>), PipelineError> {
        if self.policy.rings.is_empty() {
            return Ok((None, Vec::new()));
        }
        let mut merged = before.clone();
        merged.extend(next.iter().cloned());
        let view = self.rings_with_releases(merged.values(), now).await?;
        let swept: BTreeSet<&str> = snapshots.iter().map(|s| s.cluster.name()).collect();
        let mut inversions = Vec::new();
        for inversion in crate::policy::rings::open_inversions(&view.rings, now) {
            if swept.contains(inversion.cluster.as_str()) {
                let line = inversion.describe();
                tracing::warn!("{line}");
                report.log.push(line.clone());
                inversions.push((inversion.cluster.clone(), SignalKind::RingInversion { version: inversion.version.clone(), detail: line }));
            }
        }
        Ok((Some(view), inversions))
    }

    /// The rings of the fleet `records` describe, with the failed targets people released.
    pub(super) async fn rings_with_releases<'r>(&self, records: impl IntoIterator<Item = &'r FleetRecord>, now: Timestamp) -> Result<Arc<FleetRings>, LedgerError> {
        let view = fleet::rings(&self.policy, records, now);
        let failed = view.failed_targets();
        if failed.is_empty() {
            return Ok(view);
        }
        let mut view = (*view).clone();
        for target in failed {
            if self.released(&target, now).await? {
                view.released.insert(target);
            }
        }
        Ok(Arc::new(view))
    }

    /// Whether the ledger keeps a release of `target`. A release is for good: once seen it is
    /// not read again; "not released" is read again after [`FLEET_CACHE_FOR`].
    async fn released(&self, target: &str, now: Timestamp) -> Result<bool, LedgerError> {
        let channel = release::record_channel(target);
        if let Some((at, yes)) = self.release_cache.lock().expect("release cache lock").get(&channel)
            && (*yes || (now >= *at && now.duration_since(*at) < FLEET_CACHE_FOR))
        {
            return Ok(*yes);
        }
        let yes = self.ledger.get_ref(release::RECORD_KEY, &channel).await?.is_some();
        self.release_cache.lock().expect("release cache lock").insert(channel, (now, yes));
        Ok(yes)
    }

    /// Signals planned without a sweep (events, replays), each with its cluster's ring place
    /// when policy has `[[ring]]`s: the fleet's facts as the sweeps recorded them (read once per
    /// [`FLEET_CACHE_FOR`]). An event carries no tags, so a ring that selects by tags takes its
    /// cluster only with `when_tags_unknown = "match"`, as a rule does.
    pub(super) async fn event_groups<'s>(&self, signals: &'s [Signal], now: Timestamp) -> Result<Vec<(&'s [Signal], PlanFacts)>, PipelineError> {
        let places: Vec<Option<usize>> = signals.iter().map(|s| self.policy.ring_of(&s.cluster, &s.facts)).collect();
        let fleet = if places.iter().any(Option::is_some) {
            let records = self.fleet_records(now).await?;
            Some(self.rings_with_releases(records.values(), now).await?)
        } else {
            None
        };
        Ok(signals
            .iter()
            .zip(places)
            .map(|(signal, place)| {
                let ring = place.zip(fleet.as_ref()).map(|(index, fleet)| plan::RingPlace { index, fleet: Arc::clone(fleet) });
                (std::slice::from_ref(signal), PlanFacts { ring, ..PlanFacts::default() })
            })
            .collect())
    }

    /// Before a sweep is planned: for each change a failure stop holds (`plan::failure_stops`),
    /// reads the concern's issue for a writer's release (once per concern; a target released on
    /// one issue is released for every cluster). A release is kept in the ledger (not in dry
    /// runs) and every group plans with it. Returns the releases given, for [`Self::tell_releases`].
    pub(super) async fn read_releases(&self, groups: &mut [(Vec<Signal>, PlanFacts)], now: Timestamp, report: &mut RunReport) -> Result<Vec<Release>, PipelineError> {
        let stops: Vec<release::Stop> = groups.iter().flat_map(|(signals, facts)| signals.iter().flat_map(move |s| plan::failure_stops(s, &self.policy, facts, now))).collect();
        let mut given: Vec<Release> = Vec::new();
        let mut released: BTreeSet<String> = BTreeSet::new();
        let mut asked: BTreeSet<(String, String)> = BTreeSet::new();
        for stop in stops {
            if released.contains(&stop.target) || !asked.insert((stop.concern.key(), stop.target.clone())) {
                continue;
            }
            let name = stop.concern.cluster.name();
            let (reader, repo) = match (&self.approvals, &stop.repo) {
                (Some(reader), Some(repo)) => (reader, repo),
                (None, _) => {
                    report.log.push(format!("{name}: {} is stopped by a failed upgrade in ring {}; releases are not read: GitHub credentials are not set (GITHUB_TOKEN or GITHUB_APP_*)", stop.target, stop.ring));
                    continue;
                }
                (_, None) => {
                    report.log.push(format!("{name}: {} is stopped by a failed upgrade in ring {}; no [rule.github_issue] applies to this cluster, so it cannot be released here", stop.target, stop.ring));
                    continue;
                }
            };
            let activity = match reader.release_activity(&stop.concern, repo, &stop.label).await {
                // The issue is opened by this run: the next run reads it.
                Ok(None) => continue,
                Ok(Some(activity)) => activity,
                Err(e) => {
                    if let crate::error::ActionError::Configuration { setting, message } = &e {
                        crate::error::log_configuration_failure(setting, message);
                    }
                    report.log.push(format!("{name}: the release of {} not read: {e}", stop.target));
                    continue;
                }
            };
            match release::decide(&activity, &stop.label, stop.since) {
                Decision::Released { by, at, via } => {
                    let given_now = Release { target: stop.target.clone(), ring: stop.ring.clone(), by, at, via, url: activity.url, concern: Some(stop.concern.clone()) };
                    report.log.push(format!("{name}: {} {}", given_now.target, given_now.said()));
                    if !self.dry_run {
                        let channel = release::record_channel(&given_now.target);
                        self.ledger.put_ref(release::RECORD_KEY, &channel, &given_now.to_stored()).await?;
                        self.release_cache.lock().expect("release cache lock").insert(channel, (now, true));
                    }
                    released.insert(stop.target);
                    given.push(given_now);
                }
                Decision::NotReleased => {}
                Decision::Unknown { cause } => report.log.push(format!("{name}: the release of {} not read: {cause}", stop.target)),
            }
        }
        if !released.is_empty() {
            let mut shared: Option<Arc<FleetRings>> = None;
            for place in groups.iter_mut().filter_map(|(_, facts)| facts.ring.as_mut()) {
                let fleet = shared.get_or_insert_with(|| {
                    let mut fleet = (*place.fleet).clone();
                    fleet.released.extend(released.iter().cloned());
                    Arc::new(fleet)
                });
                place.fleet = Arc::clone(fleet);
            }
        }
        Ok(given)
    }

    /// After a run's execution: a change still awaiting approval names the concern's issue when
    /// this run opened (or updated) it — the issue adapter's typed answer (`Outcome::Done`'s
    /// `issue`) — so the first run's `held_by` has the URL too, not only the next run's.
    pub(super) fn name_opened_issues(&self, planned: &mut [Action], executed: &ExecutionReport) {
        let answered: Vec<(&Action, &str)> = planned
            .iter()
            .filter(|a| matches!(a.kind, ActionKind::GithubIssue { .. }))
            .filter_map(|a| match executed.outcome(&a.key) {
                Some(Outcome::Done { issue: Some(url), .. }) => Some((a, url.as_str())),
                _ => None,
            })
            .collect();
        let opened: Vec<(crate::domain::Concern, String, String)> = answered
            .into_iter()
            .filter_map(|(a, url)| match &a.kind {
                ActionKind::GithubIssue { repo, .. } => Some((a.concern.clone(), repo.to_ascii_lowercase(), url.to_string())),
                _ => None,
            })
            .collect();
        crate::plan::approval::name_issues(&self.policy, planned, |concern, repo| {
            opened.iter().find(|(c, r, _)| c == concern && r.eq_ignore_ascii_case(repo)).map(|(_, _, url)| url.clone())
        });
    }

    /// Tells each release given this run on the issue it was given on, once (keyed by the
    /// release): an update of the issue's latest message. Dry runs tell nothing.
    pub(super) async fn tell_releases(&self, plan: &mut Vec<Action>, finished: &[Action], given: &[Release]) -> Result<(), PipelineError> {
        if self.dry_run || given.is_empty() {
            return Ok(());
        }
        let mut echoes: Vec<Action> = Vec::new();
        for r in given {
            let Some(concern) = &r.concern else { continue };
            let told = plan
                .iter()
                .chain(finished)
                .filter(|a| a.concern == *concern && matches!(a.kind, ActionKind::GithubIssue { .. }))
                .filter(|a| matches!(a.stage, Stage::Notice | Stage::Reminder | Stage::Overdue))
                .max_by_key(|a| a.stage);
            if let Some(told) = told {
                echoes.push(release::echo(told, r));
            }
        }
        let states = self.action_states(echoes.iter().map(|e| e.key.clone()).collect()).await?;
        plan.extend(echoes.into_iter().zip(states).filter(|(_, state)| state.is_none()).map(|(e, _)| e));
        Ok(())
    }
}
