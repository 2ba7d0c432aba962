//! Run layer: the sweep end to end — inventory and fan-out (the `sweep` timer), one cluster from a queue
//! message (`sweep-cluster`), or the whole fleet in-process (`handler sweep`) — each swept
//! cluster planned, and unless dry-run carried out, through [`Pipeline::handle_snapshots`].
//!
//! The operations aks-cadence follows on a cluster live in the pipeline's per-cluster memory
//! (`sweep::memory`); the per-cluster sweep reads them before it polls. The timer does not read
//! them: that would be one ledger read per cluster inside one invocation, while each
//! `sweep-cluster` invocation reads its own cluster's for the same cost, spread out.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use futures::StreamExt as _;
use jiff::Timestamp;
use serde_json::Value;

use crate::action::Action;
use crate::sweep::fanout::{decode_json_value, parse_cluster_message, run_id_at, sweep_in_order};
use crate::sweep::inventory::{ClusterRecord, InventorySource, SpooledInventory, inventory, inventory_spooled};
use crate::sweep::spool::FleetRecords;
use crate::sweep::{ClusterSnapshot, SweepCache, SweepContext, SweepError, SweepRun, TrackedOperation, sweep_cluster, wiring};
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
    if let Some(note) = embedded.staleness(now, &running_minors(snapshots)) {
        tracing::warn!("{note}");
        logs.push(note);
    }
    date_support(sweeper, cache, now, snapshots, logs).await
}

/// The Kubernetes minors `snapshots` run.
fn running_minors(snapshots: &[ClusterSnapshot]) -> Vec<MinorLine> {
    snapshots.iter().filter_map(|s| s.observed.kubernetes_version.as_deref()).filter_map(|v| MinorLine::parse(v).ok()).collect()
}

/// [`attach_support_dates`] without the staleness note (a sweep planned in batches says it once,
/// for every minor of the run, at its end).
async fn date_support(
    sweeper: &Sweeper,
    cache: &SweepCache,
    now: Timestamp,
    snapshots: &mut [ClusterSnapshot],
    logs: &mut Vec<String>,
) -> Result<(), PipelineError> {
    let embedded = SupportCalendar::embedded();
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

/// Where a sweep planned in batches hands each batch once the pipeline has planned it (and,
/// unless dry-run, carried it out): the command line prints it, the timer keeps its log lines.
/// The batch's snapshots and plan are dropped afterwards, so keep only what is needed.
pub trait SweepOutput {
    /// One batch: its clusters' snapshots (in sweep order) and what the pipeline did with them.
    fn batch(&mut self, snapshots: &[ClusterSnapshot], report: &RunReport);
    /// Lines about the run as a whole: inventory and wiring notes, support-calendar and
    /// Defender notes (each said once), the digest sent at the end, the fleet status.
    fn log(&mut self, lines: Vec<String>);
}

/// Keeps every batch whole (tests and tools that look at a whole small sweep).
#[derive(Debug, Default)]
pub struct Collected {
    pub snapshots: Vec<ClusterSnapshot>,
    pub planned: Vec<Action>,
    /// The batches' log lines and the run's, in the order they came.
    pub log: Vec<String>,
    /// How many clusters each batch planned.
    pub batches: Vec<usize>,
}

impl SweepOutput for Collected {
    fn batch(&mut self, snapshots: &[ClusterSnapshot], report: &RunReport) {
        self.snapshots.extend(snapshots.iter().cloned());
        self.planned.extend(report.planned.iter().cloned());
        self.log.extend(report.log.iter().cloned());
        self.batches.push(snapshots.len());
    }
    fn log(&mut self, lines: Vec<String>) {
        self.log.extend(lines);
    }
}

/// What a sweep planned in batches leaves at its end: per cluster only what the run's end
/// needs (the plan itself went to the [`SweepOutput`] batch by batch).
#[derive(Debug)]
pub struct SweepSummary {
    pub run_id: String,
    pub source: InventorySource,
    /// Clusters swept (each planned with its batch).
    pub swept: usize,
    /// Clusters whose sweep failed, with their inventory records, in sweep order.
    pub failures: Vec<(ClusterRecord, SweepError)>,
    /// Actions planned, and of those held, over every batch.
    pub planned: usize,
    pub held: usize,
    /// Batches planned.
    pub batches: usize,
}

/// The timer's `Logs`: at most [`TIMER_LOG_LINES`] lines are kept for the response (an inline
/// sweep of `CADENCE_SWEEP_INLINE_MAX` clusters can say more); the rest go to the handler's own
/// log and are counted.
struct TimerLogs {
    lines: Vec<String>,
    more: usize,
}

/// Log lines an inline sweep keeps for the timer invocation's `Logs`.
pub const TIMER_LOG_LINES: usize = 1000;

impl TimerLogs {
    fn push(&mut self, line: String) {
        if self.lines.len() < TIMER_LOG_LINES {
            self.lines.push(line);
        } else {
            tracing::info!("{line}");
            self.more += 1;
        }
    }
    fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.lines.push(format!("… and {} more line(s), in the handler's log only", self.more));
        }
        self.lines
    }
}

impl SweepOutput for TimerLogs {
    fn batch(&mut self, _snapshots: &[ClusterSnapshot], report: &RunReport) {
        for line in &report.log {
            self.push(line.clone());
        }
    }
    fn log(&mut self, lines: Vec<String>) {
        for line in lines {
            self.push(line);
        }
    }
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
        let clusters = inv.clusters.len();
        let source = inv.source;
        let mut logs = TimerLogs { lines: Vec::new(), more: 0 };
        // At most `CADENCE_SWEEP_INLINE_MAX` records: they stay in memory.
        let inv = SpooledInventory { source, clusters: FleetRecords::in_memory(inv.clusters), notes: inv.notes };
        let (summary, tracked) = self.sweep_batched(inv, self.ctx.concurrency, now, &NoProgress, &mut logs).await?;
        let mut head = vec![format!(
            "{}: {} clusters from {}{}, swept in this invocation in {} batch(es) of up to {}: {} action(s) planned",
            summary.run_id,
            clusters,
            crate::sweep::fanout::source_name(source),
            if past_due { " (timer was past due)" } else { "" },
            summary.batches,
            self.ctx.batch,
            summary.planned
        )];
        let mut retry = crate::sweep::Inventory { source, clusters: Vec::new(), notes: Vec::new() };
        for (record, e) in summary.failures {
            head.push(format!("{}: {e}{}", record.id, if e.is_retryable() { " (queued to be swept again)" } else { "" }));
            if e.is_retryable() {
                retry.clusters.push(record);
            }
        }
        head.extend(logs.finish());
        let messages = crate::sweep::plan_fanout(&retry, &summary.run_id, now, &tracked);
        let mut outputs = serde_json::Map::new();
        outputs.insert(crate::sweep::fanout::CLUSTERS_OUTPUT_BINDING.into(), Value::Array(messages));
        Ok(crate::sweep::fanout::custom_handler_response(outputs, head))
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
    /// of the pipeline's clock, planned in batches of `CADENCE_SWEEP_BATCH` clusters
    /// ([`Sweeper::sweep_batched`]): each batch goes to `out` once planned (and carried out
    /// unless dry-run), then is dropped. Clusters whose sweep failed are in
    /// [`SweepSummary::failures`]; the others are planned regardless.
    ///
    /// The inventory is read into a temporary file (`sweep::spool`) and read back a record at
    /// a time, so the fleet's records are never all in memory.
    pub async fn local<O: SweepOutput + ?Sized>(&self, concurrency: usize, progress: &dyn SweepProgress, out: &mut O) -> Result<SweepSummary, SweepFailure> {
        let now = self.pipeline.now();
        let inv = inventory_spooled(&self.ctx.arm, &self.ctx.subscriptions).await?;
        Ok(self.sweep_batched(inv, concurrency, now, progress, out).await?.0)
    }

    /// Every cluster of an inventory already taken, swept at `concurrency` and planned in
    /// batches of `CADENCE_SWEEP_BATCH` clusters in sweep order (`sweep::spool::sweep_order`), so that what is held at once
    /// is one batch, the sweeps in flight and a few ids and counts per cluster — not the fleet:
    /// - each batch's snapshots get their event-wiring findings (one check per run, before the
    ///   sweep), their subscription's Defender plan and their support dates (each read once per
    ///   run: the run's cache), then go to [`Pipeline::handle_snapshots_with`] (plan, carry
    ///   out unless dry-run, remember each cluster's memory and fleet record) and to `out`;
    /// - with more clusters than one batch, a live run queues email and chat in the ledger and
    ///   sends the queue at the end as one digest per recipient (unless the pipeline queues for
    ///   the `digest` timer anyway, as the host's does by default); with one batch they go with
    ///   it, as before;
    /// - a batch the pipeline fails does not stop the others; the first failure is the run's
    ///   answer, after the digest is sent (and the fleet status is then left as it was).
    ///
    /// Ring gating reads the fleet's records (`Pipeline::fleet_records`): a batch sees the
    /// records the earlier batches of this run wrote and the previous run's for the later ones,
    /// as the fan-out's per-cluster plans do.
    ///
    /// Returns the summary and the operations followed per cluster (for the timer's retries).
    async fn sweep_batched<O: SweepOutput + ?Sized>(
        &self,
        inv: SpooledInventory,
        concurrency: usize,
        now: Timestamp,
        progress: &dyn SweepProgress,
        out: &mut O,
    ) -> Result<(SweepSummary, BTreeMap<ClusterId, Vec<TrackedOperation>>), SweepFailure> {
        let batch = self.ctx.batch.max(1);
        let run_id = run_id_at(now);
        let clusters = inv.clusters;
        progress.inventory_taken(clusters.len());
        out.log(inv.notes);
        let ids = clusters.ids();
        let tracked = self.tracked(ids.to_vec()).await?;
        // The wiring check reads the inventory before the sweep consumes it (one verdict per
        // cluster kept); each batch's findings are made from its clusters' records and join
        // their snapshots (a cluster whose own sweep failed has no snapshot: its finding waits
        // for the next sweep).
        let mut wiring_logs = Vec::new();
        let wiring = self.wiring_report(ids, &mut wiring_logs).await;
        out.log(wiring_logs);
        let batched = clusters.len() > batch;
        let queue = batched && !self.pipeline.dry_run();
        if batched {
            // With `[[ring]]`s, a cluster of an early batch must find the clusters of later
            // batches never swept yet in their rings (waiting, version unknown), as a fan-out
            // message does, not an empty ring it would skip.
            self.seed_fleet(&clusters).await?;
        }
        let run = SweepRun::new(run_id.clone(), now);
        let cache = Arc::clone(&run.cache);
        let mut summary = SweepSummary { run_id, source: inv.source, swept: 0, failures: Vec::new(), planned: 0, held: 0, batches: 0 };
        let mut said: BTreeSet<String> = BTreeSet::new();
        let mut running: BTreeSet<MinorLine> = BTreeSet::new();
        let mut failed: Option<PipelineError> = None;
        let swept = |id: &ClusterId, ok: bool| progress.cluster_swept(id, ok);
        {
            let mut batches = std::pin::pin!(sweep_in_order(&self.ctx, clusters.records(), concurrency, &tracked, run, &swept).chunks(batch));
            while let Some(chunk) = batches.next().await {
                let mut snapshots = Vec::with_capacity(chunk.len());
                let mut records = Vec::with_capacity(chunk.len());
                for (record, swept) in chunk {
                    match swept {
                        Ok(snapshot) => {
                            snapshots.push(snapshot);
                            records.push(record);
                        }
                        Err(e) => summary.failures.push((record, e)),
                    }
                }
                if snapshots.is_empty() {
                    continue;
                }
                if let Some(report) = &wiring {
                    let mut found: HashMap<ClusterId, Vec<Signal>> = HashMap::new();
                    for signal in wiring::signals(&records, report, self.wiring_function(), &summary.run_id, now) {
                        found.entry(signal.cluster.clone()).or_default().push(signal);
                    }
                    for snap in &mut snapshots {
                        snap.signals.extend(found.remove(&snap.cluster).unwrap_or_default());
                    }
                }
                drop(records);
                running.extend(running_minors(&snapshots));
                let mut notes = Vec::new();
                attach_defender_plans(self, &cache, &mut snapshots, &mut notes).await;
                let dated = date_support(self, &cache, now, &mut snapshots, &mut notes).await;
                // A note about the run (a failed read, a refresh) is said once, not per batch.
                out.log(notes.into_iter().filter(|n| said.insert(n.clone())).collect());
                summary.swept += snapshots.len();
                summary.batches += 1;
                let handled = match dated {
                    Ok(()) => self.pipeline.handle_snapshots_with(&snapshots, queue).await,
                    Err(e) => Err(e),
                };
                match handled {
                    Ok(report) => {
                        summary.planned += report.planned.len();
                        summary.held += report.planned.iter().filter(|a| a.hold.is_some()).count();
                        out.batch(&snapshots, &report);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, clusters = snapshots.len(), "a batch of the sweep failed; the next batches go on");
                        out.log(vec![format!("the batch of {} cluster(s) from {} did not complete: {e}", snapshots.len(), snapshots[0].cluster)]);
                        failed.get_or_insert(e);
                    }
                }
            }
        }
        progress.planning();
        if let Some(e) = clusters.error() {
            // The clusters after the unreadable record were not swept: the run failed.
            failed.get_or_insert(PipelineError::Retryable(e.to_string()));
        }
        let running: Vec<MinorLine> = running.into_iter().collect();
        if let Some(note) = SupportCalendar::embedded().staleness(now, &running) {
            tracing::warn!("{note}");
            out.log(vec![note]);
        }
        if queue && !self.pipeline.queues_digests() {
            // Every batch queued its email and chat: one digest per recipient for the sweep.
            match self.pipeline.flush_digests(true).await {
                Ok(report) => out.log(report.log),
                Err(e) => {
                    out.log(vec![format!("the sweep's email and chat stay queued (`handler digest --send` sends them): {e}")]);
                    failed.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        out.log(self.keep_status(clusters.ids()).await);
        Ok((summary, tracked))
    }

    /// [`Pipeline::seed_fleet`] for every record of `clusters`, 1,000 records at a time (with
    /// `[[ring]]`s only; a fleet without rings reads nothing here).
    async fn seed_fleet(&self, clusters: &FleetRecords) -> Result<(), SweepFailure> {
        if self.pipeline.policy().rings.is_empty() {
            return Ok(());
        }
        let mut records = clusters.records();
        loop {
            let chunk: Vec<ClusterRecord> = records.by_ref().take(1000).collect();
            if chunk.is_empty() {
                break;
            }
            self.pipeline.seed_fleet(&chunk).await?;
        }
        match clusters.error() {
            Some(e) => Err(SweepError::from(e).into()),
            None => Ok(()),
        }
    }

    /// The event-wiring findings for `clusters` (`sweep::wiring`): none when the check is off;
    /// when it fails, a line in `logs` and none (a sweep never fails for it).
    async fn wiring(&self, clusters: &[ClusterRecord], run_id: &str, now: Timestamp, logs: &mut Vec<String>) -> Vec<Signal> {
        let ids: Vec<ClusterId> = clusters.iter().map(|c| c.id.clone()).collect();
        match self.wiring_report(&ids, logs).await {
            Some(report) => wiring::signals(clusters, &report, self.wiring_function(), run_id, now),
            None => Vec::new(),
        }
    }

    /// The `aks-events` function the wiring check looks for (`None`: system topics only).
    fn wiring_function(&self) -> Option<&str> {
        self.ctx.wiring.as_ref().and_then(|check| check.function.as_deref())
    }

    /// The event-wiring verdict per cluster of `clusters` (one check per run): `None` when the
    /// check is off or failed (then a line in `logs`).
    async fn wiring_report(&self, clusters: &[ClusterId], logs: &mut Vec<String>) -> Option<wiring::WiringReport> {
        let check = self.ctx.wiring.as_ref()?;
        if clusters.is_empty() {
            return None;
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
                Some(report)
            }
            Err(e) => {
                tracing::warn!(error = %e, "event wiring not checked this sweep");
                logs.push(format!("event wiring not checked this sweep: {e}"));
                None
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
