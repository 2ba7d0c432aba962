//! The one orchestrator (house rule 5): ingest result → concerns → ledger facts → plan →
//! executor → report. The host, `handler replay` and the sweep all call it.
//!
//! For one delivery (one event or a batch) the pipeline:
//! 1. skips events whose id the ledger has already processed (duplicate deliveries);
//! 2. for each signal asks the planner which concerns it is about, reads (and records) when
//!    each was first seen, reads the heads of its lineages (`plan`, "Lineages"), and plans —
//!    the planner stays pure; the heads planning moved are stored before anything runs;
//! 3. drops actions whose key the ledger already finished, and collapses equal keys; then, for
//!    upgrades every other gate lets run, asks GitHub whether the concern's pull request is
//!    merged (handled through IaC) and, when policy requires approval, whether a writer
//!    approved the target on the concern's issue ([`plan::approval`]);
//! 4. in dry-run, stops there: the plan is logged and returned (nothing is claimed or marked);
//! 5. otherwise hands the whole delivery's plan to the one path every entry shares
//!    (`Pipeline::carry_out`: execute → log → report failures → verdict), so notifications
//!    of one batch group into digests (under the host the executor queues email and chat in
//!    the ledger instead, and [`Pipeline::flush_digests`] — the `digest` timer — sends the
//!    queue of many invocations as one plan, entering the same path after the executor: see
//!    `execute`, "Digests across invocations");
//! 6. if anything needs a retry, answers [`PipelineError::Retryable`] *without* marking the
//!    events processed, so the platform delivers again and the finished keys are skipped;
//!    otherwise marks every event processed.
//!
//! Dry-run records first-seen times (they are observations, and they make dry-run deadlines
//! real) but no event or action state, so switching dry-run off later loses nothing.
//!
//! # Sweeps ([`Pipeline::handle_snapshots`])
//!
//! A sweep brings, per cluster, its signals and its live facts ([`ClusterSnapshot`]). Each
//! cluster's signals are planned with that cluster's [`PlanFacts`]:
//! - the window of each kind of change at `now` (`facts::sweep_plan_facts`, pure, in the core): from the cluster's own
//!   maintenance configurations (node image → `aksManagedNodeOSUpgradeSchedule`, versions and
//!   rotation → `aksManagedAutoUpgradeSchedule`, each falling back to `default`); from the
//!   policy's window (`Policy::window_for`) when the cluster has none; unknown — every change
//!   held — when the configurations could not be read or do not parse;
//! - `cluster_busy` and the versions the region offers;
//! - `Resolved` signals for the concerns the move since the previous sweep met
//!   (`facts::memory`), added to the cluster's own. A `Resolved` is planned only for a concern
//!   the ledger has seen ([`Ledger::seen`]): restating "met" for targets that never were a
//!   concern leaves no trace.
//!
//! Every cluster's actions form ONE plan for the executor, so mail and chat send one digest
//! for the whole sweep. Then the outcome of every upgrade or rotation of the plan is followed
//! up from the operation the adapter reported (typed: `OperationReport`, never its text): one
//! still running is remembered for the next sweep to poll (`facts::memory`), one that ended
//! (or that ARM or the adapter refused) is told at once through the concern's channels as an
//! `Operation` signal, in a second, smaller plan on the same path. Last, each cluster's memory is written: the
//! operations always, the observed facts only when the run needs no retry (so a retried run
//! resolves the same concerns again).
//!
//! Layer: run: the sequencer of the stages.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use jiff::Timestamp;

use crate::action::{Action, ActionKey, ActionKind, Stage};
use crate::actions::github::GithubApprovals;
use crate::plan::approval;
use crate::domain::{ClusterId, ConcernKind, OperationReport, OperationStatus, Signal, SignalKind};
use crate::execute::{ExecutionReport, Executor, Outcome};
use crate::followup;
use crate::ingest::Ingested;
use crate::plan::{self, PlanFacts};
use crate::policy::Policy;
use crate::policy::calendar::EolNotice;
use crate::store::{ActionState, Ledger, LedgerError};
use crate::facts::memory::{self, ClusterMemory, MEMORY_CHANNEL, Observed};
use crate::facts::sightings::{KeyAnswer, Sightings};
use crate::facts::{ClusterSnapshot, TrackedOperation, baseline_of, ended_in, snapshot_signal, sweep_plan_facts};
use crate::sweep::fleet::{self, FleetRecord};

mod fleet_order;
mod known;

/// What one run of the pipeline did, for the invocation's `Logs`/`ReturnValue` and for dry-run.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Every action planned (after dropping keys the ledger already finished).
    pub planned: Vec<Action>,
    /// One line per notable step, also sent to the Functions host `Logs` array.
    pub log: Vec<String>,
    /// Actions planned whose keys the ledger had already finished (done or failed): not run
    /// again, but a failure report may go through their channel.
    pub finished: Vec<Action>,
    /// Events of the delivery that could not be used (`Ingested::Ignored`: a time out of range,
    /// a version number out of range, a required field missing), one line each with the reason.
    /// Each was acknowledged on its own — a redelivery carries the same bytes — while the other
    /// events of its delivery were planned and acted on. Not repeated in `log`: the host has
    /// already put the same line in the invocation's `Logs` (`host::deliver`).
    pub ignored: Vec<String>,
    /// Messages told only once ARM accepted a change (execute key → message): the approval
    /// echo ("Starting the upgrade …, approved by @alice") is not sent for a refused PUT.
    pub after_start: Vec<(ActionKey, Action)>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Something a retry could fix (ledger unavailable, an adapter's transient failure): the
    /// invocation must answer non-2xx so the platform delivers again.
    #[error("retryable: {0}")]
    Retryable(String),
    /// A setting or a permission must change (a refused token, a missing role or container):
    /// the invocation answers non-2xx like [`Self::Retryable`], so the platform delivers
    /// again until the fix is in and finally dead-letters; nothing is recorded as done or
    /// failed. The message names the setting ("… Fix: GITHUB_TOKEN").
    #[error("configuration: {0}")]
    Configuration(String),
    /// The ledger's data is unreadable (a corrupt record, an answer no setting explains): a
    /// retry will not help (answer 2xx, log as error for a person).
    #[error("{0}")]
    Permanent(String),
}

impl PipelineError {
    /// Whether the invocation must answer non-2xx so the platform delivers again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable(_) | Self::Configuration(_))
    }
}

impl From<LedgerError> for PipelineError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Unavailable(_) | LedgerError::LostClaim { .. } => Self::Retryable(e.to_string()),
            LedgerError::Configuration { ref setting, ref message } => {
                crate::error::log_configuration_failure(setting, message);
                Self::Configuration(format!("ledger: {message}. Fix: {setting}"))
            }
            LedgerError::Corrupt(_) => Self::Permanent(e.to_string()),
        }
    }
}

/// Where the host sends what it ingested. [`Pipeline`] is the real one; host tests use a
/// recording sink.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync {
    /// Handles what one delivery contained (one event or a batch). `Err(Retryable)` makes the
    /// invocation answer non-2xx so that Event Grid delivers again.
    async fn handle(&self, events: Vec<Ingested>) -> Result<RunReport, PipelineError>;

    /// Sends the notifications queued for a digest when they are due (the `digest` timer).
    /// Sinks that queue nothing have nothing to send.
    async fn flush_digests(&self) -> Result<RunReport, PipelineError> {
        Ok(RunReport::default())
    }
}

/// The time source; injected so tests and `handler replay --now` are deterministic.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(Timestamp::now)
}

/// A clock stopped at `at`.
pub fn fixed_clock(at: Timestamp) -> Clock {
    Arc::new(move || at)
}

/// Ledger calls the pipeline keeps in flight at once while planning (first sightings, action
/// states) and while reading and writing the clusters' sweep memory. On the blob ledger each
/// call is an HTTP round trip to Azure Storage, so one at a time an inline sweep of 1,000
/// clusters spends minutes planning; 16 (as the executor's claims) hides most of the latency
/// while staying far below a storage account's request limits, and costs nothing on SQLite
/// (its calls queue on one connection). What is planned does not depend on it.
pub const LEDGER_CONCURRENCY: usize = 16;

/// The pipeline.
pub struct Pipeline {
    policy: Arc<Policy>,
    ledger: Arc<dyn Ledger>,
    executor: Executor,
    dry_run: bool,
    clock: Clock,
    ledger_concurrency: usize,
    /// Reads approvals from GitHub issues (`plan::approval`); `None` without GitHub credentials
    /// (a change that needs approval then holds, saying so).
    approvals: Option<Arc<GithubApprovals>>,
    /// The fleet's records (`sweep::fleet`) as last read or written, and when (on the clock).
    fleet_cache: std::sync::Mutex<Option<(Timestamp, FleetRecords)>>,
    /// Ring releases read from the ledger (`fleet_order`): ledger channel → (read at, released).
    release_cache: std::sync::Mutex<BTreeMap<String, (Timestamp, bool)>>,
    /// First sightings already read or written by this process (`known`): never re-read.
    known: known::KnownSightings,
}

/// Every cluster's fleet record, by cluster key.
pub type FleetRecords = Arc<BTreeMap<String, FleetRecord>>;

/// How long the fleet's records read for the rings are reused (on the pipeline's clock): the
/// queue messages of one fan-out run handled by one instance read them once, and a soak counts
/// in days.
pub const FLEET_CACHE_FOR: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

impl Pipeline {
    /// The time now on this pipeline's clock (the wall clock, or the one a test or `--now`
    /// fixed), for callers that sequence work around it (the sweeper).
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    pub fn new(policy: Arc<Policy>, ledger: Arc<dyn Ledger>, executor: Executor, dry_run: bool, clock: Clock) -> Self {
        Self { policy, ledger, executor, dry_run, clock, ledger_concurrency: LEDGER_CONCURRENCY, approvals: None, fleet_cache: Default::default(), release_cache: Default::default(), known: Default::default() }
    }

    /// Reads approvals through `reader` (`approval = "github"` in policy).
    pub fn with_approvals(mut self, reader: Option<Arc<GithubApprovals>>) -> Self {
        self.approvals = reader;
        self
    }

    /// How many ledger calls planning and sweep memory keep in flight (default
    /// [`LEDGER_CONCURRENCY`]; 1 = one after another, as the benchmark's baseline).
    pub fn with_ledger_concurrency(mut self, calls: usize) -> Self {
        self.ledger_concurrency = calls.max(1);
        self
    }

    /// The policy this pipeline plans with (the fleet dashboard reads its repositories and windows).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The ledger this pipeline records in (the fleet status is kept there too).
    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    /// Whether this pipeline only plans.
    /// Whether the policy reports the security baseline (`[baseline]`).
    pub fn reports_baseline(&self) -> bool {
        self.policy.baseline.is_some()
    }

    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Whether the policy checks upgrade readiness (`[readiness] enabled`, default true): when
    /// it does not, a sweep makes none of the readiness reads.
    pub fn checks_readiness(&self) -> bool {
        self.policy.readiness.enabled
    }

    /// Plans and runs signals that did not come from an event and carry no live facts. All
    /// signals form one plan, so notifications group into digests. Sweeps use
    /// [`Pipeline::handle_snapshots`], which adds each cluster's windows and state.
    pub async fn handle_signals(&self, signals: Vec<Signal>) -> Result<RunReport, PipelineError> {
        let now = (self.clock)();
        let mut report = RunReport::default();
        let groups = self.event_groups(&signals, now).await?;
        let plan = self.plan(&groups, now, &mut report).await?;
        self.carry_out(plan, now, &mut report, false).await.verdict?;
        Ok(report)
    }

    /// The EOL notice remembered for Kubernetes `minor` (`1.30`), for the sweep's support dates.
    pub async fn eol_notice(&self, minor: &str) -> Result<Option<EolNotice>, PipelineError> {
        Ok(self.ledger.eol_notice(minor).await?)
    }

    /// The operations aks-cadence is following on `cluster` (from its sweep memory), for the
    /// per-cluster sweep to poll.
    pub async fn tracked_operations(&self, cluster: &ClusterId) -> Result<Vec<TrackedOperation>, PipelineError> {
        Ok(self.memory(cluster).await?.operations)
    }

    async fn memory(&self, cluster: &ClusterId) -> Result<ClusterMemory, LedgerError> {
        Ok(ClusterMemory::from_stored(self.ledger.get_ref(&cluster.key(), MEMORY_CHANNEL).await?.as_deref()))
    }

    /// Each snapshot's cluster memory, in order, up to `ledger_concurrency` reads in flight.
    // The streams below own their items: a closure over borrowed items, held across an await,
    // trips the Send check of the async fns that call these (axum handlers).
    async fn memories(&self, snapshots: &[ClusterSnapshot]) -> Result<Vec<ClusterMemory>, LedgerError> {
        let clusters: Vec<ClusterId> = snapshots.iter().map(|snap| snap.cluster.clone()).collect();
        futures::stream::iter(clusters).map(|cluster| async move { self.memory(&cluster).await }).buffered(self.ledger_concurrency).try_collect().await
    }

    /// Writes (cluster key, stored memory) pairs, up to `ledger_concurrency` in flight; the
    /// first error in order is the answer (writes already in flight may land: each is that
    /// cluster's memory as this run leaves it, as those before the error are).
    async fn remember(&self, writes: Vec<(String, String)>) -> Result<(), LedgerError> {
        futures::stream::iter(writes)
            .map(|(key, stored)| async move { self.ledger.put_ref(&key, MEMORY_CHANNEL, &stored).await })
            .buffered(self.ledger_concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// Every cluster's fleet record (`sweep::fleet`), read from the ledger at most once per
    /// [`FLEET_CACHE_FOR`]. Unreadable records are skipped (the cluster's next sweep rewrites it).
    pub async fn fleet_records(&self, now: Timestamp) -> Result<FleetRecords, LedgerError> {
        if let Some((at, records)) = &*self.fleet_cache.lock().expect("fleet cache lock")
            && now >= *at
            && now.duration_since(*at) < FLEET_CACHE_FOR
        {
            return Ok(Arc::clone(records));
        }
        let read = self.ledger.fleet().await?;
        let records: BTreeMap<String, FleetRecord> =
            read.into_iter().filter_map(|(key, value)| FleetRecord::from_stored(&value).map(|r| (key, r))).collect();
        let records = Arc::new(records);
        *self.fleet_cache.lock().expect("fleet cache lock") = Some((now, Arc::clone(&records)));
        Ok(records)
    }

    /// The fleet records a run of `snapshots` starts from: every cluster's with `[[ring]]`s (the
    /// gate needs the whole fleet), else only those of the run's clusters (a fan-out message
    /// reads one record, not the fleet's).
    async fn fleet_before(&self, snapshots: &[ClusterSnapshot], now: Timestamp) -> Result<FleetRecords, LedgerError> {
        if !self.policy.rings.is_empty() {
            return self.fleet_records(now).await;
        }
        let keys: Vec<String> = snapshots.iter().map(|snap| snap.cluster.key()).collect();
        let read: Vec<(String, Option<String>)> = futures::stream::iter(keys)
            .map(|key| async move { self.ledger.fleet_of(&key).await.map(|v| (key, v)) })
            .buffered(self.ledger_concurrency)
            .try_collect()
            .await?;
        Ok(Arc::new(read.into_iter().filter_map(|(key, v)| v.as_deref().and_then(FleetRecord::from_stored).map(|r| (key, r))).collect()))
    }

    /// Writes the fleet records that changed (up to `ledger_concurrency` in flight) and keeps
    /// them in the cache.
    pub async fn remember_fleet(&self, before: &BTreeMap<String, FleetRecord>, next: Vec<(String, FleetRecord)>, now: Timestamp) -> Result<(), LedgerError> {
        let writes: Vec<(String, FleetRecord)> = next.into_iter().filter(|(key, r)| r.worth_writing(before.get(key))).collect();
        if writes.is_empty() {
            return Ok(());
        }
        futures::stream::iter(writes.clone())
            .map(|(key, record)| async move { self.ledger.put_fleet(&key, &record.to_stored()).await })
            .buffered(self.ledger_concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        let mut cache = self.fleet_cache.lock().expect("fleet cache lock");
        if let Some((at, records)) = cache.as_mut()
            && now >= *at
        {
            let mut updated = (**records).clone();
            updated.extend(writes);
            *records = Arc::new(updated);
        }
        Ok(())
    }

    /// Before a fan-out: with `[[ring]]`s, a fleet record for every cluster of the inventory
    /// that has none yet (its id, tags and channel; no version), so that a `sweep-cluster`
    /// message of a later ring handled before the earlier ring's messages finds that ring's
    /// clusters — waiting, version unknown — instead of an empty ring it would skip.
    pub async fn seed_fleet(&self, clusters: &[crate::sweep::ClusterRecord]) -> Result<(), PipelineError> {
        if self.policy.rings.is_empty() {
            return Ok(());
        }
        let now = (self.clock)();
        let before = self.fleet_records(now).await?;
        let new: Vec<(String, FleetRecord)> = clusters
            .iter()
            .filter(|c| !before.contains_key(&c.id.key()))
            .map(|c| {
                let facts = crate::domain::ClusterFacts { tags: c.tags.clone(), upgrade_channel: c.upgrade_channel.clone(), ..Default::default() };
                (c.id.key(), FleetRecord { seeded: true, ..fleet::observe(None, &c.id, &facts, &Observed::default(), now) })
            })
            .collect();
        self.remember_fleet(&before, new, now).await?;
        Ok(())
    }

    /// Plans one sweep (one or many clusters) as one plan, executes it, follows up the
    /// operations it started, and remembers what each cluster looked like. See the module docs.
    pub async fn handle_snapshots(&self, snapshots: &[ClusterSnapshot]) -> Result<RunReport, PipelineError> {
        self.handle_snapshots_with(snapshots, false).await
    }

    /// Whether email and chat are queued for the `digest` timer (the host's default) rather
    /// than sent with the run.
    pub fn queues_digests(&self) -> bool {
        self.executor.queues_digests()
    }

    /// [`Pipeline::handle_snapshots`] for one batch of a sweep planned in batches
    /// (`sweeper`): with `queue_notifications`, email and chat are queued in the ledger, so
    /// that the sweep's end sends them as one digest per recipient ([`Pipeline::flush_digests`]).
    pub async fn handle_snapshots_with(&self, snapshots: &[ClusterSnapshot], queue_notifications: bool) -> Result<RunReport, PipelineError> {
        let now = (self.clock)();
        let mut report = RunReport::default();
        let mut groups: Vec<(Vec<Signal>, PlanFacts)> = Vec::with_capacity(snapshots.len());
        let memories: Vec<ClusterMemory> = self.memories(snapshots).await?;
        // Every cluster's fleet record with `[[ring]]`s (this run's only without), and this run's
        // clusters as this run sees them (`sweep::fleet`); each ring's clusters from those.
        let fleet_before: FleetRecords = self.fleet_before(snapshots, now).await?;
        let mut fleet_next: Vec<(String, FleetRecord)> =
            snapshots.iter().map(|snap| (snap.cluster.key(), fleet::observe_sweep(fleet_before.get(&snap.cluster.key()), snap, &self.policy, now))).collect();
        let (ring_view, inversions) = self.sweep_rings(&fleet_before, &fleet_next, snapshots, now, &mut report).await?;
        // What each cluster looked like this run (the snapshot's facts, plus the baseline).
        let mut observed: Vec<Observed> = Vec::with_capacity(snapshots.len());
        for ((snap, memory), (_, record)) in snapshots.iter().zip(&memories).zip(fleet_next.iter_mut()) {
            for note in &snap.notes {
                report.log.push(format!("{}: {note}", snap.cluster.name()));
            }
            let mut signals = snap.signals.clone();
            let mut seen = snap.observed.clone();
            if let Some((baseline_memory, kind)) = baseline_of(&self.policy, snap, memory, now) {
                seen.baseline = Some(baseline_memory);
                signals.push(snapshot_signal(snap, kind));
            }
            for (_, kind) in inversions.iter().filter(|(name, _)| name == snap.cluster.name()) {
                signals.push(snapshot_signal(snap, kind.clone()));
            }
            if ring_view.is_some() {
                seen.ring_inversions = Some(memory::inversion_versions(snap.cluster.name(), &inversions));
            }
            // Required AKS channels (policy), judged against what the last sweep saw.
            if let Some(channels) = &seen.channels {
                let previous = memory.observed.as_ref().and_then(|o| o.channels.as_ref()).map(|c| c.pair());
                for kind in plan::channel_findings(&self.policy, &snap.cluster, &snap.facts, channels.pair(), previous) {
                    signals.push(snapshot_signal(snap, kind));
                }
            }
            if let Some(previous) = &memory.observed {
                for (concern, target) in memory::resolutions(previous, &seen) {
                    signals.push(snapshot_signal(snap, SignalKind::Resolved { concern, target }));
                }
            }
            observed.push(seen);
            let mut facts = sweep_plan_facts(snap, &self.policy, now, &mut report.log);
            record.window = Some(facts.window_for(plan::WindowScope::KubernetesVersion).clone());
            if let Some(fleet) = &ring_view {
                facts.ring = self.policy.ring_of(&snap.cluster, &snap.facts).map(|index| plan::RingPlace { index, fleet: Arc::clone(fleet) });
            }
            groups.push((signals, facts));
        }
        let released = self.read_releases(&mut groups, now, &mut report).await?;
        let borrowed: Vec<(&[Signal], PlanFacts)> = groups.iter().map(|(s, f)| (&s[..], f.clone())).collect();
        let mut plan = self.plan(&borrowed, now, &mut report).await?;
        self.tell_releases(&mut plan, &report.finished, &released).await?;
        let Carried { executed, verdict: mut outcome } = self.carry_out(plan.clone(), now, &mut report, queue_notifications).await;
        self.name_opened_issues(&mut report.planned, &executed);
        if self.dry_run {
            // Nothing ran: nothing to follow up, and memory stays as it was (dry-run leaves no
            // state but observations: first sightings, and the versions the rings soak).
            outcome?;
            fleet::attach_concerns(&mut fleet_next, report.planned.iter().chain(&report.finished));
            self.remember_fleet(&fleet_before, fleet_next, now).await?;
            return Ok(report);
        }

        // Follow up what the plan's upgrades and rotations did (the adapter's typed report).
        let mut started: Vec<(ClusterId, TrackedOperation)> = Vec::new();
        let mut ended: Vec<Signal> = Vec::new();
        for action in plan.iter().filter(|a| a.stage == Stage::Execute && a.kind.changes_cluster()) {
            let operation = executed.outcome(&action.key).and_then(operation_of);
            if let ActionKind::Upgrade { target: to, .. } = &action.kind
                && let Some((_, record)) = fleet_next.iter_mut().find(|(key, _)| *key == action.concern.cluster.key())
            {
                match &operation {
                    Some(OperationReport::Started { .. }) => {
                        record.upgrading.retain(|u| u.concern != action.concern.target);
                        record.upgrading.push(fleet::Upgrading { concern: action.concern.target.clone(), to: to.clone() });
                    }
                    Some(OperationReport::Ended(OperationStatus::Failed { .. })) => record.fail(to, now),
                    _ => {}
                }
            }
            match operation {
                Some(OperationReport::Started { status_url, .. }) => started.push((
                    action.concern.cluster.clone(),
                    TrackedOperation { concern: action.concern.kind, target: action.concern.target.clone(), status_url: Some(status_url) },
                )),
                Some(OperationReport::Ended(status)) => ended.push(Signal {
                    kind: SignalKind::Operation { concern: action.concern.kind, target: action.concern.target.clone(), status },
                    observed_at: now,
                    ..action.signal.clone()
                }),
                None => {}
            }
        }
        if !ended.is_empty() {
            // How the operations ended, told through the concerns' channels: the same path.
            let plan = self.plan(&[(&ended[..], PlanFacts::default())], now, &mut report).await?;
            let told = self.carry_out(plan, now, &mut report, queue_notifications).await.verdict;
            outcome = outcome.and(told);
        }

        // Remember each cluster: operations always (one started now must be followed even if
        // something else needs a retry), observed facts only after a clean run.
        let mut writes: Vec<(String, String)> = Vec::new();
        for ((snap, memory), seen) in snapshots.iter().zip(memories).zip(observed) {
            let mut next = memory.clone();
            if outcome.is_ok() {
                next.operations.retain(|op| !ended_in(snap, op));
                next.observed = Some(seen);
            }
            for (_, op) in started.iter().filter(|(c, _)| *c == snap.cluster) {
                next.operations.retain(|o| !(o.concern == op.concern && o.target == op.target));
                next.operations.push(op.clone());
            }
            if next != memory {
                writes.push((snap.cluster.key(), next.to_stored()));
            }
        }
        self.remember(writes).await?;
        fleet::attach_concerns(&mut fleet_next, report.planned.iter().chain(&report.finished));
        self.remember_fleet(&fleet_before, fleet_next, now).await?;
        outcome?;
        Ok(report)
    }

    /// Concerns → first-seen facts → plan, for every signal with its group's live facts;
    /// finished keys and repeated keys dropped.
    ///
    /// The ledger is read in rounds, each with up to `ledger_concurrency` calls in
    /// flight (see [`LEDGER_CONCURRENCY`]); the planner's calls between them are pure, so the
    /// plan is the one a call-by-call walk of the signals gives:
    /// 1. each concern key's first sighting ([`Pipeline::sightings`]), once per key, and each
    ///    lineage's head ([`Pipeline::heads`]), once per lineage — a signal sees the heads as the
    ///    signals before it left them; the heads that moved are written after planning (live runs);
    /// 2. the state of each distinct action key the signals plan, in signal order (the first
    ///    action with a key wins);
    /// 3. the state of each failure report of a key that failed earlier.
    ///
    /// Results are consumed in order, so the first ledger error in that order fails the plan
    /// (calls already in flight after it may have run: first sightings are observations, so
    /// recording one early is harmless, and the other calls only read).
    async fn plan(&self, groups: &[(&[Signal], PlanFacts)], now: Timestamp, report: &mut RunReport) -> Result<Vec<Action>, PipelineError> {
        let items: Vec<(&Signal, &PlanFacts)> = groups.iter().flat_map(|(signals, base)| signals.iter().map(move |s| (s, base))).collect();
        let signals: Vec<&Signal> = items.iter().map(|(s, _)| *s).collect();
        for signal in &signals {
            if let (_, Some(note)) = plan::observed_at(signal, now) {
                tracing::info!("{note}");
                report.log.push(note);
            }
        }
        // Each signal's concerns and lineages, read once for the ledger calls and the loop below.
        let scans: Vec<plan::Scan> = signals.iter().map(|s| plan::scan(s, &self.policy)).collect();
        let sightings = self.sightings(&signals, &scans, now).await?;
        let mut heads = self.heads(&scans).await?;
        let mut moved: BTreeMap<String, plan::Head> = BTreeMap::new();

        let mut keys = HashSet::new();
        let mut candidates: Vec<Action> = Vec::new();
        for (((signal, base), sighted), scan) in items.into_iter().zip(sightings).zip(scans) {
            let mut facts = base.clone();
            let resolved = matches!(signal.kind, SignalKind::Resolved { .. });
            let mut known = false;
            for (key, at) in sighted {
                if let Some(at) = at {
                    known = true;
                    facts.first_seen.insert(key, at);
                }
            }
            // "Resolved" closes what is open: it never opens (or records) a concern.
            if resolved && !known {
                continue;
            }
            // Each signal sees the lineage heads as the signals before it left them.
            for key in scan.lineages {
                if let Some(head) = heads.get(&key) {
                    facts.heads.insert(key, head.clone());
                }
            }
            // Upgrades handled through infrastructure code (a merged pull request, recorded by
            // `approve`): only rules that open pull requests can have them.
            if self.policy.applicable(&signal.cluster, &signal.facts, &signal.kind).any(|r| r.github_pr.is_some()) {
                for concern in scan.concerns.iter().filter(|c| c.kind == ConcernKind::KubernetesUpgrade) {
                    if let Some(pr) = self.ledger.get_ref(&concern.key(), plan::IAC_CHANNEL).await? {
                        facts.handled_by_iac.insert(concern.key(), pr);
                    }
                }
            }
            let planned = plan::plan_with_heads(signal, &self.policy, &facts, now);
            report.log.extend(planned.notes);
            for (key, head) in planned.heads {
                heads.insert(key.clone(), head.clone());
                moved.insert(key, head);
            }
            candidates.extend(planned.actions.into_iter().filter(|a| keys.insert(a.key.clone())));
        }
        if !self.dry_run {
            self.record_heads(moved).await?;
        }

        let states = self.action_states(candidates.iter().map(|a| a.key.clone()).collect()).await?;
        let mut plan = Vec::new();
        let mut finished: Vec<Action> = Vec::new();
        let mut failed_before: Vec<(ActionKey, String)> = Vec::new();
        for (action, state) in candidates.into_iter().zip(states) {
            match state {
                Some(ActionState::Done { .. }) => {
                    report.log.push(format!("{} {} already finished", action.kind.name(), action.key));
                    finished.push(action);
                }
                Some(ActionState::Failed { reason, .. }) => {
                    report.log.push(format!("{} {} failed earlier: {reason}", action.kind.name(), action.key));
                    failed_before.push((action.key.clone(), reason));
                    finished.push(action);
                }
                _ => plan.push(action),
            }
        }
        // A failure recorded earlier is reported until its report is done (a report that
        // could not be sent then is retried with every later plan of the concern).
        if !failed_before.is_empty() {
            let candidates: Vec<Action> = plan.iter().chain(&finished).cloned().collect();
            let followups: Vec<Action> = followup::failure_reports(&candidates, &failed_before).into_iter().filter(|f| keys.insert(f.key.clone())).collect();
            let states = self.action_states(followups.iter().map(|f| f.key.clone()).collect()).await?;
            plan.extend(followups.into_iter().zip(states).filter(|(_, state)| state.is_none()).map(|(f, _)| f));
        }
        self.approve(&mut plan, &finished, now, report).await?;
        report.finished.extend(finished);
        Ok(plan)
    }

    /// Approvals (`plan::approval`): for each upgrade policy makes wait for approval, records
    /// when its target was first proposed (a ledger first sighting: approvals count from then),
    /// and — only for those every other gate lets run now, to keep GitHub calls few — reads
    /// the concern's issue and applies the decision. An approved change runs with the plan, its
    /// approval is kept in the ledger and told on the issue once ARM accepted the change
    /// (`RunReport::after_start`); an unreadable state holds it,
    /// naming the cause. Dry runs read and decide, and record nothing but the proposal time.
    async fn approve(&self, plan: &mut [Action], finished: &[Action], now: Timestamp, report: &mut RunReport) -> Result<(), PipelineError> {
        let mut echoes: Vec<(ActionKey, Action)> = Vec::new();
        // A merged pull request for the concern hands the change to infrastructure code.
        if let Some(reader) = &self.approvals {
            for action in plan.iter_mut().filter(|a| approval::ready_but_for_approval(a) && a.concern.kind == ConcernKind::KubernetesUpgrade) {
                let signal = &action.signal;
                let repos: Vec<String> = self.policy.applicable(&signal.cluster, &signal.facts, &signal.kind).filter_map(|r| r.github_pr.as_ref()).map(|p| p.repo.clone()).collect();
                for repo in repos {
                    match reader.merged_pull(&action.concern, &repo).await {
                        Ok(Some(pr)) => {
                            report.log.push(format!("{}: {} is handled through infrastructure code: {pr} is merged", action.concern.cluster.name(), action.concern.target));
                            if !self.dry_run {
                                self.ledger.put_ref(&action.concern.key(), plan::IAC_CHANNEL, &pr).await?;
                            }
                            approval::handled_by_iac(action, pr);
                            break;
                        }
                        Ok(None) => {}
                        Err(e) => report.log.push(format!("{}: the pull request of {} could not be read: {e}", action.concern.cluster.name(), action.concern.target)),
                    }
                }
            }
        }
        for i in 0..plan.len() {
            let Some(terms) = approval::terms_for(&self.policy, &plan[i]) else { continue };
            let ActionKind::Upgrade { target, .. } = &plan[i].kind else { continue };
            let target = target.clone();
            let concern = plan[i].concern.clone();
            let proposed = self.ledger.first_seen(&approval::proposal_key(&concern, &target), now).await?;
            if !approval::awaits_reading(&plan[i]) {
                continue;
            }
            let read = match (terms, &self.approvals) {
                (None, _) => Err("no [rule.github_issue] applies to this cluster, and approvals are given on the concern's issue".to_string()),
                (Some(_), None) => Err("GitHub credentials are not set (GITHUB_TOKEN or GITHUB_APP_*)".to_string()),
                (Some(terms), Some(reader)) => match reader.activity(&concern, &terms.repo, &terms.label).await {
                    // The issue is opened by this run: the next run reads it.
                    Ok(None) => continue,
                    Ok(Some(activity)) => Ok((approval::decide(&activity, &terms.label, &terms.hold_label, proposed), activity.url)),
                    Err(e) => {
                        // A setting to fix is said loudly, as for every other GitHub call; the
                        // change holds meanwhile and the next run reads again.
                        if let crate::error::ActionError::Configuration { setting, message } = &e {
                            crate::error::log_configuration_failure(setting, message);
                        }
                        Err(e.to_string())
                    }
                },
            };
            if let Err(cause) = &read {
                report.log.push(format!("{}: approval of {target} not read: {cause}", concern.cluster.name()));
            }
            let Some(given) = approval::apply(&mut plan[i], read) else { continue };
            report.log.push(format!("{}: {target} approved by @{} at {} ({})", concern.cluster.name(), given.by, given.at, given.via.as_str()));
            if self.dry_run {
                continue;
            }
            let record = serde_json::to_string(&given).map_err(|e| PipelineError::Permanent(format!("approval record: {e}")))?;
            self.ledger.put_ref(&concern.key(), &approval::record_channel(&target), &record).await?;
            let told = plan
                .iter()
                .chain(finished)
                .filter(|a| a.concern == concern && matches!(a.kind, ActionKind::GithubIssue { .. }))
                .filter(|a| matches!(a.stage, Stage::Notice | Stage::Reminder | Stage::Overdue))
                .max_by_key(|a| a.stage);
            if let Some(told) = told {
                echoes.push((plan[i].key.clone(), approval::echo(&plan[i], told, &given)));
            }
        }
        let states = self.action_states(echoes.iter().map(|(_, e)| e.key.clone()).collect()).await?;
        report.after_start.extend(echoes.into_iter().zip(states).filter(|(_, state)| state.is_none()).map(|(e, _)| e));
        Ok(())
    }

    /// For each signal, in order, its concern keys with when each was first seen
    /// ([`facts::sightings`] decides what to ask and what each signal sees). Each distinct key
    /// is asked once, up to `ledger_concurrency` keys in flight.
    async fn sightings(&self, signals: &[&Signal], scans: &[plan::Scan], now: Timestamp) -> Result<Vec<Vec<(String, Option<Timestamp>)>>, LedgerError> {
        let sightings = Sightings::of_scans(signals, scans, now);
        let answers: Vec<KeyAnswer> = in_order(sightings.reads.clone(), self.ledger_concurrency, |read| async move {
            // A first sighting this process has had from the ledger is the ledger's answer
            // (it never moves): no call for it.
            let known = self.known.get(&read.key);
            let before = match (read.asks_seen(), known) {
                (false, _) => None,
                (true, Some(at)) => Some(at),
                (true, None) => self.ledger.seen(&read.key).await?,
            };
            let after = match (read.records_at(), before.or(known)) {
                (None, _) => None,
                // Already recorded: `first_seen` would answer the same and record nothing.
                (Some(_), Some(at)) => Some(at),
                (Some(earliest), None) => Some(self.ledger.first_seen(&read.key, earliest).await?),
            };
            if let Some(at) = before.or(after) {
                self.known.keep(&read.key, at);
            }
            Ok::<_, LedgerError>((before, after))
        })
        .await?;
        Ok(sightings.answer(&answers))
    }

    /// The heads of the lineages `signals` are about (see `plan`, "Lineages"), each read once,
    /// up to `ledger_concurrency` reads in flight. An unreadable head counts as none.
    async fn heads(&self, scans: &[plan::Scan]) -> Result<BTreeMap<String, plan::Head>, LedgerError> {
        let keys: BTreeSet<String> = scans.iter().flat_map(|s| s.lineages.iter().cloned()).collect();
        let read: Vec<(String, Option<String>)> = in_order(keys, self.ledger_concurrency, |key| async move {
            let stored = self.ledger.get_ref(&key, plan::LINEAGE_CHANNEL).await?;
            Ok::<_, LedgerError>((key, stored))
        })
        .await?;
        Ok(read.into_iter().filter_map(|(key, stored)| Some((key, plan::Head::from_stored(stored.as_deref()?)?))).collect())
    }

    /// Stores the lineage heads planning moved (before acting, as first sightings are: a retry
    /// plans the same supersession again, and its keys make it happen once).
    async fn record_heads(&self, heads: BTreeMap<String, plan::Head>) -> Result<(), LedgerError> {
        futures::stream::iter(heads)
            .map(|(key, head)| async move { self.ledger.put_ref(&key, plan::LINEAGE_CHANNEL, &head.to_stored()).await })
            .buffered(self.ledger_concurrency)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    /// The ledger state of each key, in order, up to `ledger_concurrency` reads in flight.
    async fn action_states(&self, keys: Vec<ActionKey>) -> Result<Vec<Option<ActionState>>, LedgerError> {
        in_order(keys, self.ledger_concurrency, |key| async move { self.ledger.action_state(&key).await }).await
    }

    /// The one path from a plan to the invocation's answer, whatever gathered the plan (an
    /// event, signals, a sweep, the operations a sweep saw end): dry-run logs the plan and
    /// stops; otherwise execute → log → report failures → verdict ([`Pipeline::settle`]).
    async fn carry_out(&self, plan: Vec<Action>, now: Timestamp, report: &mut RunReport, queue_notifications: bool) -> Carried {
        if self.dry_run {
            for action in &plan {
                tracing::info!(plan = action.dry_run_json().as_str(), "dry-run: planned");
                report.log.push(format!("dry-run: {} {}: {}", action.kind.name(), action.key, action.summary));
            }
            report.planned.extend(plan);
            return Carried { executed: ExecutionReport::default(), verdict: Ok(()) };
        }
        let executed = if queue_notifications {
            self.executor.execute_queued(plan.clone(), now).await
        } else {
            self.executor.execute(plan.clone(), now).await
        };
        self.settle(plan, executed, &[], now, report).await
    }

    /// After the executor ran `plan` (here, or as the digest queue's flush): log each outcome,
    /// report the permanent failures through the concern's other channels — found among the
    /// plan, the actions planning found finished, and `channels` (the ones a queued notification
    /// kept) — and turn it all into the verdict.
    async fn settle(&self, plan: Vec<Action>, executed: ExecutionReport, channels: &[Action], now: Timestamp, report: &mut RunReport) -> Carried {
        report.log.extend(executed.log_lines());
        let candidates: Vec<Action> = plan.iter().chain(&report.finished).chain(channels).cloned().collect();
        report.planned.extend(plan);
        let reported = self.report_failures(&candidates, &executed, now, report).await;
        let mut outcome = verdict(&executed).and(reported);
        // The approval echoes of the changes ARM accepted: a refused change got its failure
        // report above, never the echo.
        let accepted = accepted_only(report, &executed);
        if !accepted.is_empty() {
            let told = self.executor.execute(accepted.clone(), now).await;
            report.log.extend(told.log_lines());
            report.planned.extend(accepted);
            outcome = outcome.and(verdict(&told));
        }
        Carried { verdict: outcome, executed }
    }

    /// Reports the permanent failures of `executed` through the concern's other channels (see
    /// [`followup`]). A report that cannot be sent now fails the verdict, so the delivery comes
    /// again and planning (which sees the recorded failure) tries the report again. Reports
    /// are executed and logged like any plan, but their own failures are not reported (no loops).
    async fn report_failures(&self, candidates: &[Action], executed: &ExecutionReport, now: Timestamp, report: &mut RunReport) -> Result<(), PipelineError> {
        let failed: Vec<(ActionKey, String)> = executed
            .executed
            .iter()
            .filter_map(|e| match &e.outcome {
                Outcome::Failed { reason, .. } => Some((e.key.clone(), reason.clone())),
                _ => None,
            })
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        let reports = followup::failure_reports(candidates, &failed);
        if reports.is_empty() {
            return Ok(());
        }
        let told = self.executor.execute(reports.clone(), now).await;
        report.log.extend(told.log_lines());
        report.planned.extend(reports);
        verdict(&told)
    }

    /// Sends the notifications queued for a digest when they are due (or at once with
    /// `force`): every queued email and chat message as ONE plan, so each recipient and
    /// channel gets one message for a whole burst of invocations (see `execute`'s module
    /// docs). A notification that fails permanently is reported like any other: on the
    /// concern's GitHub issue, else by its email — the channel kept with the notification when
    /// it was queued (`execute::Flushed::report_channels`). Dry-run sends nothing.
    pub async fn flush_digests(&self, force: bool) -> Result<RunReport, PipelineError> {
        let mut report = RunReport::default();
        if self.dry_run {
            // Dry-run queues nothing; what a live run queued before stays queued (and is said
            // once a minute, so that it is not forgotten).
            let queued = self.ledger.pending_notifications().await?.len();
            if queued > 0 {
                report.log.push(format!("dry-run: {queued} notification(s) queued by a live run are not sent"));
            }
            return Ok(report);
        }
        let now = (self.clock)();
        let flushed = self.executor.flush_digests(now, force).await?;
        report.log.extend(flushed.log.iter().cloned());
        if flushed.actions.is_empty() {
            return Ok(report);
        }
        self.settle(flushed.actions, flushed.report, &flushed.report_channels, now, &mut report).await.verdict?;
        Ok(report)
    }
}

/// What [`Pipeline::carry_out`] did with a plan: the executor's report (empty in dry-run) and
/// what it means for the invocation.
struct Carried {
    executed: ExecutionReport,
    verdict: Result<(), PipelineError>,
}

/// What the outcome of an upgrade or rotation says about its operation, as the adapter
/// reported it (typed): done → started or succeeded; failed → how the operation ended, or —
/// when it never ran — refused with the reason. `None`: nothing started (already done, not
/// run this time).
fn operation_of(outcome: &Outcome) -> Option<OperationReport> {
    match outcome {
        Outcome::Done { operation, .. } => operation.clone(),
        Outcome::Failed { reason, operation } => {
            Some(OperationReport::Ended(operation.clone().unwrap_or_else(|| OperationStatus::Refused { reason: reason.clone() })))
        }
        _ => None,
    }
}

/// The messages of `report.after_start` whose change ARM accepted in `executed` (taken out of
/// the report): the others are dropped, as their change did not start.
fn accepted_only(report: &mut RunReport, executed: &ExecutionReport) -> Vec<Action> {
    std::mem::take(&mut report.after_start).into_iter().filter(|(key, _)| matches!(executed.outcome(key), Some(Outcome::Done { .. }))).map(|(_, message)| message).collect()
}

/// What an execution means for the invocation.
fn verdict(executed: &ExecutionReport) -> Result<(), PipelineError> {
    if let Some(reason) = executed.ledger_broken() {
        return Err(PipelineError::Permanent(format!("ledger error: {reason}")));
    }
    if executed.needs_retry() {
        let mut configuration = false;
        let waiting: Vec<String> = executed
            .executed
            .iter()
            .filter(|e| e.outcome.needs_retry())
            .map(|e| match &e.outcome {
                Outcome::NeedsRetry { reason } => format!("{}: {reason}", e.key),
                Outcome::NeedsConfiguration { reason, .. } => {
                    configuration = true;
                    format!("{}: {reason}", e.key)
                }
                _ => e.key.to_string(),
            })
            .collect();
        if configuration {
            return Err(PipelineError::Configuration(format!(
                "{} action(s) wait for a configuration fix (or a retry): {}",
                waiting.len(),
                waiting.join("; ")
            )));
        }
        return Err(PipelineError::Retryable(format!("{} action(s) need a retry: {}", waiting.len(), waiting.join("; "))));
    }
    Ok(())
}

/// The EOL notice a delivered support-ending signal with a date is (`EOLNotification`,
/// `ClusterSupportEnding`), keyed by its minor, for the ledger to remember.
fn eol_notice_of(signal: &Signal, event_type: &str) -> Option<(String, EolNotice)> {
    let SignalKind::SupportEnding { kubernetes_version, eol_date: Some(eol), support_type, .. } = &signal.kind else {
        return None;
    };
    let minor = crate::policy::versions::MinorLine::parse(kubernetes_version).ok()?;
    let notice = EolNotice { eol: *eol, observed_at: signal.observed_at, support_type: support_type.clone(), event_type: event_type.to_string() };
    Some((minor.to_string(), notice))
}

#[async_trait::async_trait]
impl EventSink for Pipeline {
    async fn flush_digests(&self) -> Result<RunReport, PipelineError> {
        Pipeline::flush_digests(self, false).await
    }

    async fn handle(&self, events: Vec<Ingested>) -> Result<RunReport, PipelineError> {
        let now = (self.clock)();
        let mut report = RunReport::default();
        let mut fresh: Vec<String> = Vec::new();
        let mut signals: Vec<Signal> = Vec::new();
        let mut notices: Vec<(String, EolNotice)> = Vec::new();
        for event in events {
            match event {
                Ingested::Signals { event_id, event_type, signals: s } => {
                    if fresh.contains(&event_id) || self.ledger.event_processed(&event_id).await? {
                        tracing::info!(%event_id, %event_type, "duplicate delivery; already processed");
                        report.log.push(format!("event {event_id} ({event_type}) already processed; skipped"));
                        continue;
                    }
                    report.log.push(format!("event {event_id} ({event_type}): {} signal(s)", s.len()));
                    fresh.push(event_id);
                    notices.extend(s.iter().filter_map(|signal| eol_notice_of(signal, &event_type)));
                    signals.extend(s);
                }
                Ingested::Unknown { event_id, event_type } => {
                    // The host has logged it at info already ("event type not handled").
                    tracing::debug!(%event_id, %event_type, "ignoring an event type aks-cadence does not handle");
                    report.log.push(format!("event {event_id}: type {event_type} is not handled; ignored"));
                }
                Ingested::SubscriptionValidation { event_id, .. } => {
                    tracing::info!(%event_id, "subscription validation event outside the webhook handshake; ignored");
                    report.log.push(format!("event {event_id}: subscription validation; ignored"));
                }
                // An event of a handled type that cannot become a signal (a time or version out
                // of range, a field missing) is acknowledged on its own — a redelivery brings the
                // same bytes — and reported; the rest of the delivery goes on without it.
                ignored @ Ingested::Ignored { .. } => {
                    // The host has logged it as a warning already (`host::deliver`).
                    let line = ignored.describe();
                    tracing::info!("{line}");
                    report.ignored.push(line);
                }
            }
        }
        let groups = self.event_groups(&signals, now).await?;
        let plan = self.plan(&groups, now, &mut report).await?;
        self.carry_out(plan, now, &mut report, false).await.verdict?;
        if !self.dry_run {
            // Before the events count as processed: a crash here brings them again.
            for (minor, notice) in &notices {
                if self.ledger.remember_eol_notice(minor, notice).await? {
                    report.log.push(format!("EOL notice for Kubernetes {minor} remembered: support ends {}", notice.eol.strftime("%Y-%m-%d")));
                }
            }
            // Every action is recorded by now: the mark only spares a redelivery its planning,
            // so the answer need not wait for it to be durable.
            for event_id in fresh {
                self.ledger.mark_event_processed_soon(&event_id, (self.clock)()).await?;
            }
        }
        Ok(report)
    }
}

/// `f` of each item, in order, up to `n` calls in flight; the first error in that order is the
/// answer (calls already in flight after it may have run). A single item is awaited directly:
/// the event path's usual case, without a stream to set up.
async fn in_order<I, T, E, F, Fut>(items: I, n: usize, mut f: F) -> Result<Vec<T>, E>
where
    I: IntoIterator,
    I::IntoIter: ExactSizeIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let items = items.into_iter();
    if items.len() <= 1 {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(f(item).await?);
        }
        return Ok(out);
    }
    futures::stream::iter(items).map(f).buffered(n).try_collect().await
}
