//! Run layer: the sweep end to end — inventory and fan-out (the `sweep` timer), one cluster from a queue
//! message (`sweep-cluster`), or the whole fleet in-process (`handler sweep`) — each swept
//! cluster planned, and unless dry-run carried out, through [`Pipeline::handle_snapshots`].
//!
//! The operations aks-cadence follows on a cluster live in the pipeline's per-cluster memory
//! (`sweep::memory`); the per-cluster sweep reads them before it polls. The timer does not read
//! them: that would be one ledger read per cluster inside one invocation, while each
//! `sweep-cluster` invocation reads its own cluster's for the same cost, spread out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::StreamExt as _;
use jiff::Timestamp;
use serde_json::Value;

use crate::sweep::fanout::{LocalSweep, decode_json_value, parse_cluster_message, sweep_inventory_observed};
use crate::sweep::inventory::{ClusterRecord, inventory};
use crate::sweep::{ClusterSnapshot, SweepCache, SweepContext, SweepError, TrackedOperation, sweep_cluster, wiring};
use crate::domain::{ClusterId, Signal};
use crate::pipeline::{Pipeline, PipelineError, RunReport};
use crate::policy::calendar::{self, SupportCalendar};
use crate::policy::versions::{self, MinorLine};

/// Why a sweep invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum SweepFailure {
    #[error(transparent)]
    Sweep(#[from] SweepError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

impl SweepFailure {
    /// Whether delivering the same invocation again can help (queue: answer non-2xx).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Sweep(e) => e.is_retryable(),
            Self::Pipeline(e) => e.is_retryable(),
        }
    }
}

/// Gives each snapshot its subscription's Defender plan when the policy reports the security
/// baseline: one Resource Graph query per run (`cache`). A failed read leaves the plan unknown
/// (the `defender-plan` check then says so) and is logged; it never fails the sweep.
async fn attach_defender_plans(sweeper: &Sweeper, cache: &SweepCache, snapshots: &mut [ClusterSnapshot], logs: &mut Vec<String>) {
    if !sweeper.pipeline.reports_baseline() || snapshots.iter().all(|s| s.baseline.is_none()) {
        return;
    }
    match cache.subscription_facts(&sweeper.ctx.arm, &sweeper.ctx.subscriptions).await {
        Ok(facts) => {
            for snap in snapshots {
                snap.defender_plan = facts.defender_plan(snap.cluster.subscription()).cloned();
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "baseline: the Defender plans could not be read; defender-plan is unknown this run");
            logs.push(format!("baseline: the Defender plans could not be read ({e}); defender-plan is unknown this run"));
        }
    }
}

/// Dates each snapshot's support findings (`policy::calendar`, precedence): the EOL notice the
/// ledger remembers for the minor, else the run's calendar refresh (when
/// `CADENCE_SUPPORT_CALENDAR_URL` is set: read once per run, and only when there is something
/// to date), else the built-in calendar. Says when the built-in calendar is stale for a minor a
/// cluster runs. A refresh that fails is a line in `logs` (once per run), never a failed sweep;
/// a ledger that cannot be read fails it, as every other ledger read of the sweep does.
async fn attach_support_dates(
    sweeper: &Sweeper,
    cache: &SweepCache,
    now: Timestamp,
    snapshots: &mut [ClusterSnapshot],
    logs: &mut Vec<String>,
) -> Result<(), PipelineError> {
    let embedded = SupportCalendar::embedded();
    let running: Vec<MinorLine> =
        snapshots.iter().filter_map(|s| s.observed.kubernetes_version.as_deref()).filter_map(|v| MinorLine::parse(v).ok()).collect();
    if let Some(note) = embedded.staleness(now, &running) {
        tracing::warn!("{note}");
        logs.push(note);
    }
    let lts_of = |s: &ClusterSnapshot| versions::is_lts(s.facts.support_plan.as_deref());
    let wanted: BTreeSet<(MinorLine, bool)> =
        snapshots.iter().flat_map(|s| s.signals.iter().filter_map(move |sig| calendar::date_wanted(&sig.kind, lts_of(s)))).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let refreshed = match &sweeper.ctx.calendar_refresh {
        Some(refresh) => {
            let (calendar, note) = cache.support_calendar.get(refresh, calendar::utc_day(now)).await;
            if let Some(note) = note {
                // A failure is for a person to see (the default filter shows warnings); an
                // answer is routine.
                if calendar.is_none() {
                    tracing::warn!("{note}");
                } else {
                    tracing::info!("{note}");
                }
                logs.push(note);
            }
            calendar
        }
        None => None,
    };
    let mut notices = BTreeMap::new();
    for minor in wanted.iter().map(|(m, _)| *m).collect::<BTreeSet<_>>() {
        notices.insert(minor, sweeper.pipeline.eol_notice(&minor.to_string()).await?);
    }
    let ends: BTreeMap<(MinorLine, bool), calendar::SupportEnd> = wanted
        .iter()
        .filter_map(|&(m, lts)| {
            let notice = notices.get(&m).and_then(Option::as_ref);
            calendar::support_end(m, lts, notice, refreshed.as_deref(), embedded).map(|end| ((m, lts), end))
        })
        .collect();
    for snap in snapshots.iter_mut() {
        let lts = lts_of(snap);
        for signal in &mut snap.signals {
            if let Some(want) = calendar::date_wanted(&signal.kind, lts)
                && let Some(end) = ends.get(&want)
                && let Some(kind) = calendar::dated(&signal.kind, end, now)
            {
                signal.kind = kind;
            }
        }
    }
    Ok(())
}

/// Adds each wiring finding to its cluster's snapshot, so it is planned with the sweep's one
/// plan (a cluster whose own sweep failed has no snapshot: its finding waits for the next sweep).
fn attach(snapshots: &mut [ClusterSnapshot], signals: Vec<Signal>) {
    let index: std::collections::HashMap<ClusterId, usize> = snapshots.iter().enumerate().map(|(i, s)| (s.cluster.clone(), i)).collect();
    for signal in signals {
        if let Some(&i) = index.get(&signal.cluster) {
            snapshots[i].signals.push(signal);
        }
    }
}

/// What a local sweep tells as it goes: the command line draws a progress bar from it (the
/// Functions host's sweeps tell nothing). Called from the sweep's tasks, so `Sync`.
pub trait SweepProgress: Sync {
    /// The inventory is read: `clusters` will be swept.
    fn inventory_taken(&self, _clusters: usize) {}
    /// One cluster's sweep ended (`ok` = it produced a snapshot).
    fn cluster_swept(&self, _cluster: &ClusterId, _ok: bool) {}
    /// Every cluster is swept; the plan is being made (and carried out unless dry-run).
    fn planning(&self) {}
}

/// Every cluster of a local sweep's inventory: those swept and those whose sweep failed.
fn swept_or_failed(local: &LocalSweep) -> Vec<ClusterId> {
    local.snapshots.iter().map(|s| s.cluster.clone()).chain(local.failures.iter().map(|(id, _)| id.clone())).collect()
}

/// Tells nothing.
pub struct NoProgress;
impl SweepProgress for NoProgress {}

/// What one `sweep-cluster` invocation did.
#[derive(Debug)]
pub struct ClusterRun {
    pub snapshot: ClusterSnapshot,
    pub report: RunReport,
}

/// The sweep's clients and the pipeline its findings go to. Built once at start-up (no IO).
pub struct Sweeper {
    pub ctx: SweepContext,
    pub pipeline: Arc<Pipeline>,
    /// Posts the fleet dashboard issues after a sweep (`fleet_status`); `None`: no GitHub.
    dashboard: Option<Arc<crate::actions::github::GithubActuator>>,
}

impl Sweeper {
    pub fn new(ctx: SweepContext, pipeline: Arc<Pipeline>) -> Self {
        Self { ctx, pipeline, dashboard: None }
    }

    /// The sweeper, posting the fleet dashboard through `github` after each live sweep.
    pub fn with_dashboard(mut self, github: Arc<crate::actions::github::GithubActuator>) -> Self {
        self.dashboard = Some(github);
        self
    }

    /// The one hook at a whole-fleet sweep's end (`inventory`: every cluster it listed): the
    /// records of clusters that left marked, the dashboards updated (`fleet_status`).
    async fn keep_status(&self, inventory: &[ClusterId]) -> Vec<String> {
        crate::fleet_status::keep(&self.pipeline, self.dashboard.as_deref(), inventory).await
    }

    /// `POST /sweep`: inventory, then the custom-handler response.
    ///
    /// - More clusters than `CADENCE_SWEEP_INLINE_MAX` (1000 by default): one queue message per
    ///   cluster in `Outputs.clusters`; each `sweep-cluster` invocation is its own plan, and its
    ///   own retry.
    /// - Otherwise the whole fleet is swept here, at `CADENCE_SWEEP_CONCURRENCY`, as ONE plan
    ///   (one digest per recipient for the sweep). Clusters whose sweep failed in a way a retry
    ///   can fix go out as queue messages, so the queue retries them; a pipeline failure fails
    ///   the invocation (the next tick sweeps again).
    pub async fn timer(&self, body: &Value) -> Result<Value, SweepFailure> {
        // The injected clock, as every other stage: a test (or `--now`) fixes it.
        let now = self.pipeline.now();
        let past_due = crate::sweep::fanout::timer_past_due(body);
        let inv = inventory(&self.ctx.arm, &self.ctx.subscriptions).await?;
        if inv.clusters.is_empty() || inv.clusters.len() > self.ctx.inline_max {
            // The rings of each message's plan come from the ledger: seed clusters never swept.
            self.pipeline.seed_fleet(&inv.clusters).await?;
            let mut response = crate::sweep::fanout::fanout_response(&inv, now, past_due, &BTreeMap::new());
            // The queue messages plan each cluster on its own; the wiring findings of the whole
            // fleet are planned here, as one plan.
            let mut logs = Vec::new();
            let wiring = self.wiring(&inv.clusters, &crate::sweep::fanout::run_id_at(now), now, &mut logs).await;
            if !wiring.is_empty() {
                match self.pipeline.handle_signals(wiring).await {
                    Ok(report) => logs.extend(report.log),
                    // The next sweep finds the same clusters again: report, do not fail the fan-out.
                    Err(e) => logs.push(format!("event wiring findings not carried out this time: {e}")),
                }
            }
            let ids: Vec<ClusterId> = inv.clusters.iter().map(|c| c.id.clone()).collect();
            logs.extend(self.keep_status(&ids).await);
            if let Some(Value::Array(lines)) = response.get_mut("Logs") {
                lines.extend(logs.into_iter().map(Value::String));
            }
            return Ok(response);
        }
        let records = inv.clusters.clone();
        let source = inv.source;
        let (local, tracked) = self.sweep_taken(inv, self.ctx.concurrency, now, &NoProgress).await?;
        let mut report = self.pipeline.handle_snapshots(&local.snapshots).await?;
        let status = self.keep_status(&swept_or_failed(&local)).await;
        report.log.extend(status);
        let mut logs = vec![format!(
            "{}: {} clusters from {}{}, swept in this invocation as one plan: {} action(s) planned",
            local.run_id,
            records.len(),
            crate::sweep::fanout::source_name(source),
            if past_due { " (timer was past due)" } else { "" },
            report.planned.len()
        )];
        logs.extend(local.notes.iter().cloned());
        let mut retry = crate::sweep::Inventory { source, clusters: Vec::new(), notes: Vec::new() };
        for (id, e) in &local.failures {
            logs.push(format!("{id}: {e}{}", if e.is_retryable() { " (queued to be swept again)" } else { "" }));
            if e.is_retryable()
                && let Some(record) = records.iter().find(|r| r.id == *id)
            {
                retry.clusters.push(record.clone());
            }
        }
        logs.extend(report.log);
        let messages = crate::sweep::plan_fanout(&retry, &local.run_id, now, &tracked);
        let mut outputs = serde_json::Map::new();
        outputs.insert(crate::sweep::fanout::CLUSTERS_OUTPUT_BINDING.into(), Value::Array(messages));
        Ok(crate::sweep::fanout::custom_handler_response(outputs, logs))
    }

    /// `POST /sweep-cluster`: the message in `Data.cluster` → the cluster's sweep → its plan,
    /// carried out unless dry-run.
    pub async fn cluster(&self, body: &Value) -> Result<ClusterRun, SweepFailure> {
        let body = decode_json_value(body);
        let message = body
            .get("Data")
            .and_then(|d| d.get(crate::sweep::fanout::CLUSTER_TRIGGER_BINDING))
            .ok_or_else(|| SweepError::BadMessage(format!("no Data.{} in the invocation", crate::sweep::fanout::CLUSTER_TRIGGER_BINDING)))?;
        let m = parse_cluster_message(message)?;
        let mut tracked = m.tracked.clone();
        for op in self.pipeline.tracked_operations(&m.cluster.id).await? {
            if !tracked.iter().any(|t| t.concern == op.concern && t.target == op.target) {
                tracked.push(op);
            }
        }
        let run = self.ctx.run(&m.run_id, m.swept_at);
        let mut snapshot = sweep_cluster(&self.ctx.arm, &self.ctx.options, &run, &m.cluster, &tracked).await?;
        // The run's cache: the queue messages of one run handled by this instance share the query.
        let mut notes = Vec::new();
        attach_defender_plans(self, &run.cache, std::slice::from_mut(&mut snapshot), &mut notes).await;
        attach_support_dates(self, &run.cache, run.now, std::slice::from_mut(&mut snapshot), &mut notes).await?;
        snapshot.notes.extend(notes);
        let report = self.pipeline.handle_snapshots(std::slice::from_ref(&snapshot)).await?;
        Ok(ClusterRun { snapshot, report })
    }

    /// `handler sweep`: the whole fleet in-process, at most `concurrency` clusters at once, as
    /// of the pipeline's clock, planned as ONE plan (one digest per recipient). Clusters whose
    /// sweep failed are in [`LocalSweep::failures`]; the others are planned regardless.
    pub async fn local(&self, concurrency: usize) -> Result<(LocalSweep, RunReport), SweepFailure> {
        self.local_observed(concurrency, &NoProgress).await
    }

    /// [`Sweeper::local`], telling `progress` how far it got (the command line's progress bar).
    pub async fn local_observed(&self, concurrency: usize, progress: &dyn SweepProgress) -> Result<(LocalSweep, RunReport), SweepFailure> {
        let local = self.read_fleet_observed(concurrency, progress).await?;
        let mut report = self.pipeline.handle_snapshots(&local.snapshots).await?;
        let status = self.keep_status(&swept_or_failed(&local)).await;
        report.log.extend(status);
        Ok((local, report))
    }

    /// The reading half of [`Sweeper::local`] (inventory, every cluster, the event-wiring
    /// check, the baseline's Defender plans), as of the pipeline's clock, before anything is
    /// planned.
    pub async fn read_fleet(&self, concurrency: usize) -> Result<LocalSweep, SweepFailure> {
        self.read_fleet_observed(concurrency, &NoProgress).await
    }

    async fn read_fleet_observed(&self, concurrency: usize, progress: &dyn SweepProgress) -> Result<LocalSweep, SweepFailure> {
        let now = self.pipeline.now();
        let inv = inventory(&self.ctx.arm, &self.ctx.subscriptions).await?;
        Ok(self.sweep_taken(inv, concurrency, now, progress).await?.0)
    }

    /// Every cluster of an inventory already taken, with the operations followed on each (read
    /// from the ledger), the event-wiring findings attached to their clusters' snapshots and,
    /// with a `[baseline]` policy, each subscription's Defender plan.
    async fn sweep_taken(
        &self,
        inv: crate::sweep::Inventory,
        concurrency: usize,
        now: Timestamp,
        progress: &dyn SweepProgress,
    ) -> Result<(LocalSweep, BTreeMap<ClusterId, Vec<TrackedOperation>>), SweepFailure> {
        progress.inventory_taken(inv.clusters.len());
        let tracked = self.tracked(inv.clusters.iter().map(|c| c.id.clone()).collect()).await?;
        // The wiring check reads the inventory before the sweep consumes it (no copy of every
        // record is kept for it); its findings join their clusters' snapshots after the sweep.
        let mut wiring_logs = Vec::new();
        let wiring = self.wiring(&inv.clusters, &crate::sweep::fanout::run_id_at(now), now, &mut wiring_logs).await;
        let swept = |id: &ClusterId, ok: bool| progress.cluster_swept(id, ok);
        let mut local = sweep_inventory_observed(&self.ctx, inv, concurrency, &tracked, now, &swept).await;
        progress.planning();
        attach(&mut local.snapshots, wiring);
        local.notes.extend(wiring_logs);
        let mut baseline_logs = Vec::new();
        attach_defender_plans(self, &SweepCache::default(), &mut local.snapshots, &mut baseline_logs).await;
        local.notes.extend(baseline_logs);
        let mut calendar_logs = Vec::new();
        let run = self.ctx.run(&local.run_id, now);
        attach_support_dates(self, &run.cache, now, &mut local.snapshots, &mut calendar_logs).await?;
        local.notes.extend(calendar_logs);
        Ok((local, tracked))
    }

    /// The event-wiring findings for `clusters` (`sweep::wiring`): none when the check is off;
    /// when it fails, a line in `logs` and none (a sweep never fails for it).
    async fn wiring(&self, clusters: &[ClusterRecord], run_id: &str, now: Timestamp, logs: &mut Vec<String>) -> Vec<Signal> {
        let Some(check) = &self.ctx.wiring else { return Vec::new() };
        if clusters.is_empty() {
            return Vec::new();
        }
        let function = check.function.as_deref();
        match wiring::check(&self.ctx.arm, &self.ctx.subscriptions, clusters, function).await {
            Ok(report) => {
                logs.extend(report.notes.iter().cloned());
                let unwired = report.clusters.values().filter(|w| **w != wiring::Wiring::Wired).count();
                if unwired > 0 {
                    logs.push(format!(
                        "{unwired} cluster(s) whose AKS events do not reach aks-events{}",
                        if function.is_none() { " (no system topic; subscriptions not checked: the function app id is unknown, set CADENCE_FUNCTION_APP_ID)" } else { "" }
                    ));
                }
                wiring::signals(clusters, &report, function, run_id, now)
            }
            Err(e) => {
                tracing::warn!(error = %e, "event wiring not checked this sweep");
                logs.push(format!("event wiring not checked this sweep: {e}"));
                Vec::new()
            }
        }
    }

    /// The followed operations of each cluster, read from the ledger 16 at a time.
    async fn tracked(&self, clusters: Vec<ClusterId>) -> Result<BTreeMap<ClusterId, Vec<TrackedOperation>>, PipelineError> {
        let read: Vec<(ClusterId, Result<Vec<TrackedOperation>, PipelineError>)> = futures::stream::iter(clusters)
            .map(|id| async move {
                let ops = self.pipeline.tracked_operations(&id).await;
                (id, ops)
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut out = BTreeMap::new();
        for (id, ops) in read {
            let ops = ops?;
            if !ops.is_empty() {
                out.insert(id, ops);
            }
        }
        Ok(out)
    }
}
