//! The one orchestrator (house rule 5): ingest result → concerns → ledger facts → plan →
//! executor → report. The host, `handler replay` and the sweep all call it.
//!
//! For one delivery (one event or a batch) the pipeline:
//! 1. skips events whose id the ledger has already processed (duplicate deliveries);
//! 2. for each signal asks the planner which concerns it is about, reads (and records) when
//!    each was first seen, and plans — the planner stays pure;
//! 3. drops actions whose key the ledger already finished, and collapses equal keys;
//! 4. in dry-run, stops there: the plan is logged and returned (nothing is claimed or marked);
//! 5. otherwise hands the whole delivery's plan to the executor at once, so notifications of
//!    one batch group into digests;
//! 6. if anything needs a retry, answers [`PipelineError::Retryable`] *without* marking the
//!    events processed, so the platform delivers again and the finished keys are skipped;
//!    otherwise marks every event processed.
//!
//! Dry-run records first-seen times (they are observations, and they make dry-run deadlines
//! real) but no event or action state, so switching dry-run off later loses nothing.

use std::collections::HashSet;
use std::sync::Arc;

use jiff::Timestamp;

use crate::action::Action;
use crate::domain::Signal;
use crate::execute::Executor;
use crate::ingest::Ingested;
use crate::plan::{self, PlanFacts};
use crate::policy::Policy;
use crate::store::{ActionState, Ledger, LedgerError};

/// What one run of the pipeline did, for the invocation's `Logs`/`ReturnValue` and for dry-run.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Every action planned (after dropping keys the ledger already finished).
    pub planned: Vec<Action>,
    /// One line per notable step, also sent to the Functions host `Logs` array.
    pub log: Vec<String>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Something a retry could fix (ledger unavailable, an adapter's transient failure): the
    /// invocation must answer non-2xx so the platform delivers again.
    #[error("retryable: {0}")]
    Retryable(String),
    /// A bug or misconfiguration; retrying will not help (answer 2xx, log as error).
    #[error("{0}")]
    Permanent(String),
}

impl From<LedgerError> for PipelineError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Unavailable(_) | LedgerError::LostClaim { .. } => Self::Retryable(e.to_string()),
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

/// The pipeline.
pub struct Pipeline {
    policy: Arc<Policy>,
    ledger: Arc<dyn Ledger>,
    executor: Executor,
    dry_run: bool,
    clock: Clock,
}

impl Pipeline {
    pub fn new(policy: Arc<Policy>, ledger: Arc<dyn Ledger>, executor: Executor, dry_run: bool, clock: Clock) -> Self {
        Self { policy, ledger, executor, dry_run, clock }
    }

    /// Whether this pipeline only plans.
    pub fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Plans and runs signals that did not come from an event (sweeps). All signals form one
    /// plan, so a sweep's notifications group into digests.
    pub async fn handle_signals(&self, signals: Vec<Signal>) -> Result<RunReport, PipelineError> {
        let now = (self.clock)();
        let mut report = RunReport::default();
        let plan = self.plan(&signals, now, &mut report).await?;
        self.run(plan, now, &mut report).await?;
        Ok(report)
    }

    /// Concerns → first-seen facts → plan, for every signal; finished keys and repeated keys
    /// dropped.
    async fn plan(&self, signals: &[Signal], now: Timestamp, report: &mut RunReport) -> Result<Vec<Action>, PipelineError> {
        let mut plan = Vec::new();
        let mut keys = HashSet::new();
        for signal in signals {
            let mut facts = PlanFacts::default();
            // A fact is first seen when it was observed (events can arrive late), never in
            // the future of our clock.
            let observed = signal.observed_at.min(now);
            for concern in plan::concerns(signal, &self.policy) {
                let key = concern.key();
                let at = self.ledger.first_seen(&key, observed).await?;
                facts.first_seen.insert(key, at);
            }
            for action in plan::plan(signal, &self.policy, &facts, now) {
                if !keys.insert(action.key.clone()) {
                    continue;
                }
                match self.ledger.action_state(&action.key).await? {
                    Some(ActionState::Done { .. } | ActionState::Failed { .. }) => {
                        report.log.push(format!("{} {} already finished", action.kind.name(), action.key));
                    }
                    _ => plan.push(action),
                }
            }
        }
        Ok(plan)
    }

    /// Dry-run: log the plan. Otherwise execute it and turn the outcome into the answer.
    async fn run(&self, plan: Vec<Action>, now: Timestamp, report: &mut RunReport) -> Result<(), PipelineError> {
        if self.dry_run {
            for action in &plan {
                tracing::info!(plan = %action.dry_run_line(), "dry-run: planned");
                report.log.push(format!("dry-run: {} {}: {}", action.kind.name(), action.key, action.summary));
            }
            report.planned = plan;
            return Ok(());
        }
        report.planned = plan.clone();
        let executed = self.executor.execute(plan, now).await;
        report.log.extend(executed.log_lines());
        if let Some(reason) = executed.ledger_broken() {
            return Err(PipelineError::Permanent(format!("ledger error: {reason}")));
        }
        if executed.needs_retry() {
            let waiting: Vec<String> = executed
                .executed
                .iter()
                .filter(|e| e.outcome.needs_retry())
                .map(|e| match &e.outcome {
                    crate::execute::Outcome::NeedsRetry { reason } => format!("{}: {reason}", e.key),
                    _ => e.key.to_string(),
                })
                .collect();
            return Err(PipelineError::Retryable(format!("{} action(s) need a retry: {}", waiting.len(), waiting.join("; "))));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl EventSink for Pipeline {
    async fn handle(&self, events: Vec<Ingested>) -> Result<RunReport, PipelineError> {
        let now = (self.clock)();
        let mut report = RunReport::default();
        let mut fresh: Vec<String> = Vec::new();
        let mut signals: Vec<Signal> = Vec::new();
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
                    signals.extend(s);
                }
                Ingested::Unknown { event_id, event_type } => {
                    tracing::info!(%event_id, %event_type, "ignoring an event type aks-cadence does not handle");
                    report.log.push(format!("event {event_id}: type {event_type} is not handled; ignored"));
                }
                Ingested::SubscriptionValidation { event_id, .. } => {
                    tracing::info!(%event_id, "subscription validation event outside the webhook handshake; ignored");
                    report.log.push(format!("event {event_id}: subscription validation; ignored"));
                }
                // Variants the ingest edge adds (an event of a handled type that cannot become a
                // signal) are acknowledged like unknown types: a redelivery brings the same bytes.
                #[allow(unreachable_patterns)]
                other => {
                    tracing::info!(event = ?other, "event acknowledged without signals");
                    report.log.push(format!("event acknowledged without signals: {other:?}"));
                }
            }
        }
        let plan = self.plan(&signals, now, &mut report).await?;
        self.run(plan, now, &mut report).await?;
        if !self.dry_run {
            for event_id in fresh {
                self.ledger.mark_event_processed(&event_id, (self.clock)()).await?;
            }
        }
        Ok(report)
    }
}
