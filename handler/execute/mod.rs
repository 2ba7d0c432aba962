//! The executor: claim → act → complete, for every planned action.
//!
//! # Why a replay is safe
//!
//! Event Grid delivers at least once, out of order, with duplicates even after success; sweeps
//! find the same facts again every run. The executor makes every delivery of the same plan
//! converge on one execution per [`ActionKey`]:
//!
//! 1. **Claim.** The key is claimed in the [`Ledger`] atomically. A key that is done or failed
//!    permanently is skipped; a key another worker holds live is waited for briefly, then left
//!    to the platform's retry (the holder records the result, or its lease runs out and the
//!    retry takes over).
//! 2. **Act.** The adapter ([`Actuator`]) carries out the action.
//! 3. **Complete.** The outcome is recorded under the claim token. A later replay finds the key
//!    finished and does nothing. A worker whose lease ran out cannot overwrite the new
//!    holder's record (its token no longer matches: [`LedgerError::LostClaim`]).
//!
//! The one gap is a crash between act and complete: the claim expires, a retry claims the key
//! again and calls the adapter a second time. That is covered by the adapter contract: each
//! adapter that creates something checks for it first (GitHub looks up a hidden marker in the
//! issue/PR body; ARM upgrades check the cluster's current version/operation), so the second
//! call finds the first one's work and reports it (`Ok` or [`ActionError::AlreadyDone`]).
//!
//! Failures are classified where they are born ([`ActionError`]):
//! - transient / throttled: retried here a bounded number of times ([`retry`]), then the claim
//!   is released and the action is reported `needs_retry`, so the invocation answers non-2xx
//!   and the platform delivers again; keys that completed are not repeated on that retry;
//! - configuration (401/403, a refused login, a webhook URL that is gone): a setting or a
//!   permission must change. The claim is released and the action reported
//!   `needs_configuration`, which fails the invocation like `needs_retry` — never recorded as
//!   failed, so the first delivery or sweep after the fix does the work. Logged at error level
//!   once per setting per interval ([`crate::error::log_configuration_failure`]);
//! - permanent (the request itself is invalid): recorded as failed with the reason, never
//!   retried, and reported through the concern's channels;
//! - already done: recorded as done;
//! - deferred (busy cluster, window closed): released and reported; the next opportunity (a
//!   sweep, the next event) plans it again. It does not fail the invocation.
//!
//! # Digests across invocations
//!
//! The Functions host runs one invocation per Event Grid event and per queued cluster, so
//! "one plan" is often one cluster. With a [`DigestWindow`] (the host's default), email and
//! chat actions are not sent by the invocation that planned them: they are *queued* in the
//! ledger ([`Ledger::queue_notification`], keyed by the action key, so a duplicate delivery
//! queues nothing new) and reported [`Outcome::Queued`]. The digest timer calls
//! [`Executor::flush_digests`]: once the queue has been quiet for `quiet` (or its oldest entry
//! has waited `max_wait`), every queued notification runs as ONE plan through the same
//! claim → act → complete, so each recipient and channel gets one message for the whole
//! burst. A queued entry is removed only after its key is finished (done or failed); one
//! that needs a retry stays for the next tick.
//!
//! Why this stays exactly once: sending is still guarded by the key's claim, and the queue is
//! only a list of work. A crash after sending but before removing leaves an entry whose key is
//! done: the next flush finds it finished and only removes it. A duplicate delivery of an
//! event whose notification was already sent plans nothing (the key is done); one that
//! arrives while the notification waits replaces the entry (same key, newest facts).
//!
//! Layer: run: claim → act → complete around the adapters.

pub mod retry;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use jiff::{SignedDuration, Timestamp};

use crate::action::{Action, ActionKey};
use crate::actions::{Actuator, Performed};
use crate::domain::{OperationReport, OperationStatus};
use crate::error::ActionError;
use crate::store::{ActionState, Claim, ClaimToken, Completion, Ledger, LedgerError, PendingNotification};

pub use retry::{RetryDecision, RetryPolicy};

/// The lease a claim gets by default: longer than any single adapter call, short enough that
/// a crashed worker's keys come back within one or two Event Grid retries.
pub const DEFAULT_LEASE: SignedDuration = SignedDuration::from_mins(5);

/// How long the executor waits, by default, for a key another worker holds live.
pub const DEFAULT_HELD_WAIT: Duration = Duration::from_secs(4);

/// Ledger calls in flight at once while claiming a plan and recording its results (matters
/// for remote ledgers).
const CLAIM_CONCURRENCY: usize = 16;

/// The ledger key of the lock one digest sender holds (a claim, never completed).
const FLUSH_LOCK: &str = "aks-cadence#digest#sender";

/// Ledger writes in flight at once while queueing a plan's notifications.
const QUEUE_CONCURRENCY: usize = 16;

/// How long notifications wait in the ledger so that the notifications of many invocations
/// (a burst of events, a fanned-out sweep) share one digest. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestWindow {
    /// The queue is sent once nothing has joined it for this long (`CADENCE_DIGEST_QUIET_SECONDS`).
    pub quiet: SignedDuration,
    /// … or once its oldest entry has waited this long, however busy it stays
    /// (`CADENCE_DIGEST_MAX_WAIT_SECONDS`).
    pub max_wait: SignedDuration,
}

impl DigestWindow {
    /// When `pending` is due: `quiet` after the latest queueing, or `max_wait` after the
    /// oldest, whichever comes first. `None` when nothing is queued. Pure.
    pub fn due_at(&self, pending: &[PendingNotification]) -> Option<Timestamp> {
        let latest = pending.iter().map(|p| p.updated_at).max()?;
        let oldest = pending.iter().map(|p| p.queued_at).min()?;
        let quiet = latest.checked_add(self.quiet).unwrap_or(Timestamp::MAX);
        let capped = oldest.checked_add(self.max_wait).unwrap_or(Timestamp::MAX);
        Some(quiet.min(capped))
    }
}

/// What [`Executor::flush_digests`] did.
#[derive(Debug, Clone, Default)]
pub struct Flushed {
    /// The notifications sent (or found finished) as one plan, in queue order.
    pub actions: Vec<Action>,
    /// The channels their failures are reported through, as kept when each was queued
    /// (`followup::report_channel` of the plan that queued it): the concern's issue or email.
    pub report_channels: Vec<Action>,
    /// Their outcomes.
    pub report: ExecutionReport,
    /// Entries still queued afterwards (not yet due, needing a retry, or unreadable).
    pub waiting: usize,
    /// When the queue is due, if it was not due now.
    pub due_at: Option<Timestamp>,
    /// Lines for the invocation's `Logs`.
    pub log: Vec<String>,
}

/// What happened to one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Carried out now (or found already done by the adapter); recorded as done. `operation`:
    /// what the adapter reported of a long-running operation the action started; `issue`: the
    /// issue the action opened or updated (both typed, see [`crate::actions::Done`]).
    Done { detail: String, operation: Option<OperationReport>, issue: Option<String> },
    /// Failed permanently; recorded with the reason and not retried. `operation`: how the
    /// long-running operation the action started ended, when it ran and ended without success
    /// ([`ActionError::OperationEnded`]).
    Failed { reason: String, operation: Option<OperationStatus> },
    /// Finished by an earlier run (done or failed): nothing to do.
    AlreadyFinished(ActionState),
    /// Not carried out; a later delivery must try again. Fails the invocation.
    NeedsRetry { reason: String },
    /// Not carried out: a setting or a permission must change first (`setting` names it). The
    /// claim is released and the invocation fails, so the platform delivers again until the
    /// fix is in (and finally dead-letters); never recorded as failed.
    NeedsConfiguration { setting: String, reason: String },
    /// Not now (busy cluster, closed window); planned again at the next opportunity.
    Deferred { reason: String },
    /// A notification queued in the ledger for the next digest ([`DigestWindow`]).
    Queued,
    /// No adapter handles this kind of action (its settings are missing). Logged as an error.
    Unhandled,
    /// The action ran, but our lease had run out and another worker took the key over; its
    /// result is the one recorded.
    LostClaim { detail: String },
    /// The ledger refused in a way a retry cannot fix (corrupt or unreadable store).
    LedgerBroken { reason: String },
}

impl Outcome {
    /// Whether this outcome must fail the invocation so the platform delivers again.
    pub fn needs_retry(&self) -> bool {
        matches!(self, Self::NeedsRetry { .. } | Self::NeedsConfiguration { .. })
    }
    fn label(&self) -> &'static str {
        match self {
            Self::Done { .. } => "done",
            Self::Failed { .. } => "failed",
            Self::AlreadyFinished(_) => "already finished",
            Self::NeedsRetry { .. } => "needs retry",
            Self::NeedsConfiguration { .. } => "needs a configuration fix",
            Self::Deferred { .. } => "deferred",
            Self::Queued => "queued for the digest",
            Self::Unhandled => "no adapter",
            Self::LostClaim { .. } => "lost claim",
            Self::LedgerBroken { .. } => "ledger broken",
        }
    }
}

/// One action's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    pub key: ActionKey,
    /// The action type (`github_issue`, `log`, …).
    pub action: &'static str,
    pub outcome: Outcome,
}

/// What [`Executor::execute`] did, one entry per distinct key, in plan order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionReport {
    pub executed: Vec<Executed>,
}

impl ExecutionReport {
    /// Whether any action must be retried by the platform (the invocation answers non-2xx).
    pub fn needs_retry(&self) -> bool {
        self.executed.iter().any(|e| e.outcome.needs_retry())
    }
    /// Whether the ledger itself is broken (a retry will not help; a person must look).
    pub fn ledger_broken(&self) -> Option<&str> {
        self.executed.iter().find_map(|e| match &e.outcome {
            Outcome::LedgerBroken { reason } => Some(reason.as_str()),
            _ => None,
        })
    }
    /// The outcome of `key`, if it was in the plan.
    pub fn outcome(&self, key: &ActionKey) -> Option<&Outcome> {
        self.executed.iter().find(|e| &e.key == key).map(|e| &e.outcome)
    }
    /// How many actions ended with an outcome matching `f`.
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.executed.iter().filter(|e| f(&e.outcome)).count()
    }
    /// One line per action, for the invocation's `Logs`.
    pub fn log_lines(&self) -> Vec<String> {
        self.executed
            .iter()
            .map(|e| {
                let why = match &e.outcome {
                    Outcome::Done { detail, .. } | Outcome::LostClaim { detail } => format!(": {detail}"),
                    Outcome::Failed { reason, .. }
                    | Outcome::NeedsRetry { reason }
                    | Outcome::NeedsConfiguration { reason, .. }
                    | Outcome::Deferred { reason }
                    | Outcome::LedgerBroken { reason } => format!(": {reason}"),
                    Outcome::AlreadyFinished(_) | Outcome::Unhandled | Outcome::Queued => String::new(),
                };
                format!("{} {} {}{}", e.action, e.key, e.outcome.label(), why)
            })
            .collect()
    }
}

/// Carries out plans: claim → act → complete. See the module docs for why a replay is safe.
pub struct Executor {
    ledger: Arc<dyn Ledger>,
    actuators: Vec<Arc<dyn Actuator>>,
    owner: String,
    lease: SignedDuration,
    retry: RetryPolicy,
    held_wait: Duration,
    digest: Option<DigestWindow>,
}

impl Executor {
    /// `owner` names this worker in claims (host name and process id); `lease` is how long a
    /// claim stays live (it must outlast the slowest adapter call, retries included).
    pub fn new(ledger: Arc<dyn Ledger>, actuators: Vec<Arc<dyn Actuator>>, owner: impl Into<String>, lease: SignedDuration) -> Self {
        Self { ledger, actuators, owner: owner.into(), lease, retry: RetryPolicy::DEFAULT, held_wait: DEFAULT_HELD_WAIT, digest: None }
    }

    /// Replaces the retry policy (tests use millisecond delays).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How long to wait for keys another worker holds before reporting them `needs_retry`.
    pub fn with_held_wait(mut self, wait: Duration) -> Self {
        self.held_wait = wait;
        self
    }

    /// Queues email and chat actions for digests across invocations instead of sending them
    /// (see the module docs); [`Executor::flush_digests`] sends them.
    pub fn with_digest(mut self, window: DigestWindow) -> Self {
        self.digest = Some(window);
        self
    }

    /// Executes a plan. Actions with the same key run once. Actions for the same adapter go to
    /// it in one batch (so mail and chat can send one digest for a whole sweep). With a
    /// [`DigestWindow`], email and chat actions are queued instead ([`Outcome::Queued`]).
    pub async fn execute(&self, plan: Vec<Action>, now: Timestamp) -> ExecutionReport {
        self.execute_inner(plan, now, self.digest.is_some()).await
    }

    /// [`Executor::execute`], queueing email and chat for a digest even without a
    /// [`DigestWindow`]: a sweep planned in batches queues them so that its end sends one
    /// digest per recipient ([`Executor::flush_digests`] with `force`).
    pub async fn execute_queued(&self, plan: Vec<Action>, now: Timestamp) -> ExecutionReport {
        self.execute_inner(plan, now, true).await
    }

    /// Whether this executor queues email and chat for the `digest` timer ([`DigestWindow`]).
    pub fn queues_digests(&self) -> bool {
        self.digest.is_some()
    }

    /// Sends the queued notifications as one plan when they are due at `now` (or at once
    /// with `force`), and removes the entries whose keys are finished. Without a
    /// [`DigestWindow`] anything queued is due at once (a process whose window was turned off
    /// still sends what an earlier one queued).
    pub async fn flush_digests(&self, now: Timestamp, force: bool) -> Result<Flushed, LedgerError> {
        let pending = self.ledger.pending_notifications().await?;
        let mut flushed = Flushed::default();
        if pending.is_empty() {
            return Ok(flushed);
        }
        let due_at = self.digest.and_then(|w| w.due_at(&pending)).unwrap_or(now);
        if !force && now < due_at {
            flushed.waiting = pending.len();
            flushed.due_at = Some(due_at);
            flushed.log.push(format!("{} notification(s) queued; the digest goes out at {due_at}", pending.len()));
            return Ok(flushed);
        }
        // One sender at a time: two overlapping flushes would each win the claims of part of
        // the queue and split one digest into two. The lock is a claim with this executor's
        // lease, released at the end (a crashed sender's lock runs out with its lease).
        let lock = ActionKey::from_raw(FLUSH_LOCK);
        let token = match self.ledger.claim(&lock, &self.owner, now, self.lease).await? {
            Claim::Acquired(token) => Some(token),
            Claim::HeldElsewhere { owner, until } => {
                flushed.waiting = pending.len();
                flushed.log.push(format!("{} notification(s) queued; {owner} is sending the digest (until {until} at most)", pending.len()));
                return Ok(flushed);
            }
            Claim::Finished(state) => {
                tracing::warn!(?state, "the digest lock holds a finished record; sending without it");
                None
            }
        };
        let result = self.flush_locked(now, flushed).await;
        if let Some(token) = token
            && let Err(e) = self.ledger.release(&lock, &token).await
        {
            tracing::warn!(error = %e, "the digest lock stays until its lease ends");
        }
        result
    }

    /// [`Executor::flush_digests`] once this executor holds the digest lock: the queue is read
    /// again (the previous holder may have sent part of what was listed before).
    async fn flush_locked(&self, now: Timestamp, mut flushed: Flushed) -> Result<Flushed, LedgerError> {
        let pending = self.ledger.pending_notifications().await?;
        for entry in &pending {
            match read_queued(&entry.action) {
                Ok((action, via)) if action.key == entry.key => {
                    flushed.actions.push(action);
                    flushed.report_channels.extend(via);
                }
                Ok((action, _)) => {
                    tracing::error!(key = %entry.key, found = %action.key, "a queued notification holds another key; left in the ledger for a person to look at");
                    flushed.log.push(format!("queued notification {} holds the action of {}; left queued", entry.key, action.key));
                    flushed.waiting += 1;
                }
                Err(e) => {
                    tracing::error!(key = %entry.key, error = %e, "a queued notification cannot be read; left in the ledger for a person to look at");
                    flushed.log.push(format!("queued notification {} cannot be read ({e}); left queued", entry.key));
                    flushed.waiting += 1;
                }
            }
        }
        tracing::info!(notifications = flushed.actions.len(), "sending the queued notifications as one digest");
        flushed.report = self.execute_inner(flushed.actions.clone(), now, false).await;
        let (finished, waiting): (Vec<&Executed>, Vec<&Executed>) = flushed.report.executed.iter().partition(|e| {
            matches!(e.outcome, Outcome::Done { .. } | Outcome::Failed { .. } | Outcome::AlreadyFinished(_) | Outcome::LostClaim { .. })
        });
        flushed.waiting += waiting.len();
        // A removal that fails leaves an entry whose key is finished: the next flush finds it
        // finished, sends nothing and removes it then.
        futures::stream::iter(finished)
            .for_each_concurrent(QUEUE_CONCURRENCY, |e| async move {
                if let Err(err) = self.ledger.remove_notification(&e.key).await {
                    tracing::warn!(key = %e.key, error = %err, "a sent notification stays queued until the next digest removes it");
                }
            })
            .await;
        Ok(flushed)
    }

    async fn execute_inner(&self, plan: Vec<Action>, now: Timestamp, queue_notifications: bool) -> ExecutionReport {
        let started = Instant::now();
        let clock = move || now.checked_add(SignedDuration::try_from(started.elapsed()).unwrap_or(SignedDuration::MAX)).unwrap_or(now);

        let mut seen = HashSet::new();
        let plan: Vec<Action> = plan.into_iter().filter(|a| seen.insert(a.key.clone())).collect();
        let order: Vec<(ActionKey, &'static str)> = plan.iter().map(|a| (a.key.clone(), a.kind.name())).collect();
        let mut outcomes: Vec<(ActionKey, Outcome)> = Vec::with_capacity(plan.len());

        // A notification queued for a digest keeps the channel its failure would be reported
        // through (this plan's issue or email of its concern), read back by the flush.
        let report_via: HashMap<ActionKey, Action> = if queue_notifications {
            plan.iter()
                .filter(|a| a.kind.is_notification())
                .filter_map(|a| Some((a.key.clone(), crate::followup::report_channel(&plan, a)?.clone())))
                .collect()
        } else {
            HashMap::new()
        };
        // Pair each action with its adapter; an action nobody handles is not claimed, so it
        // runs once its adapter is configured.
        let mut pending: Vec<(usize, Action)> = Vec::new();
        let mut to_queue: Vec<(Action, Option<Action>)> = Vec::new();
        for action in plan {
            // A gate holds this action back (policy, window, cluster state): it is not claimed,
            // so the first plan without a hold carries it out.
            if let Some(hold) = &action.hold {
                let reason = format!("held back: {}", serde_json::to_string(hold).unwrap_or_else(|_| format!("{hold:?}")));
                tracing::info!(key = %action.key, %reason, "not carried out now");
                outcomes.push((action.key.clone(), Outcome::Deferred { reason }));
                continue;
            }
            match self.actuators.iter().position(|a| a.handles(&action.kind)) {
                Some(_) if queue_notifications && action.kind.is_notification() => {
                    let via = report_via.get(&action.key).cloned();
                    to_queue.push((action, via));
                }
                Some(i) => pending.push((i, action)),
                None => {
                    tracing::error!(key = %action.key, action = action.kind.name(), "no adapter is configured for this action; check its settings");
                    outcomes.push((action.key.clone(), Outcome::Unhandled));
                }
            }
        }

        // Queued at the plan's time, like every other fact of this plan.
        outcomes.extend(self.queue(to_queue, now).await);

        let mut waited = Duration::ZERO;
        let mut pause = Duration::from_millis(25);
        loop {
            let (acquired, held) = self.claim_all(pending, clock(), &mut outcomes).await;
            // One batch per adapter; adapters run side by side.
            let batches = (0..self.actuators.len()).filter_map(|i| {
                let batch: Vec<(Action, ClaimToken)> = acquired.iter().filter(|(j, _, _)| *j == i).map(|(_, a, t)| (a.clone(), t.clone())).collect();
                (!batch.is_empty()).then(|| self.run_batch(&self.actuators[i], batch, &clock))
            });
            for batch in futures::future::join_all(batches).await {
                outcomes.extend(batch);
            }

            if held.is_empty() {
                break;
            }
            if waited + pause > self.held_wait {
                for (_, action, (owner, until)) in held {
                    let reason = format!("held by {owner} until {until}");
                    tracing::info!(key = %action.key, %reason, "leaving the key to its holder; the platform will deliver again");
                    outcomes.push((action.key, Outcome::NeedsRetry { reason }));
                }
                break;
            }
            // Another worker (a concurrent duplicate delivery) is on these keys: give it a
            // moment to finish, then look again.
            tokio::time::sleep(pause).await;
            waited += pause;
            pause = (pause * 2).min(Duration::from_secs(1));
            pending = held.into_iter().map(|(i, a, _)| (i, a)).collect();
        }

        // Report in plan order (keys are distinct here: the plan was de-duplicated above).
        let mut by_key: HashMap<ActionKey, Outcome> = outcomes.into_iter().collect();
        let executed = order
            .into_iter()
            .filter_map(|(key, action)| {
                let outcome = by_key.remove(&key)?;
                Some(Executed { key, action, outcome })
            })
            .collect();
        ExecutionReport { executed }
    }

    /// Queues notifications for the next digest (see the module docs).
    async fn queue(&self, actions: Vec<(Action, Option<Action>)>, now: Timestamp) -> Vec<(ActionKey, Outcome)> {
        futures::stream::iter(actions)
            .map(|(action, via)| async move {
                let outcome = match queued_json(&action, via.as_ref()) {
                    Ok(json) => match self.ledger.queue_notification(&action.key, &json, now).await {
                        Ok(()) => {
                            tracing::info!(key = %action.key, action = action.kind.name(), "queued for the digest");
                            Outcome::Queued
                        }
                        Err(e) => ledger_outcome(e),
                    },
                    Err(e) => Outcome::LedgerBroken { reason: format!("cannot encode {} for the digest queue: {e}", action.key) },
                };
                (action.key, outcome)
            })
            .buffer_unordered(QUEUE_CONCURRENCY)
            .collect()
            .await
    }

    /// Claims every pending key. Returns the acquired ones and the ones held live elsewhere;
    /// everything else goes straight to `outcomes`.
    #[allow(clippy::type_complexity)]
    async fn claim_all(
        &self,
        pending: Vec<(usize, Action)>,
        now: Timestamp,
        outcomes: &mut Vec<(ActionKey, Outcome)>,
    ) -> (Vec<(usize, Action, ClaimToken)>, Vec<(usize, Action, (String, Timestamp))>) {
        let claims: Vec<((usize, Action), Result<Claim, LedgerError>)> = futures::stream::iter(pending)
            .map(|(i, action)| async move {
                let claim = self.ledger.claim(&action.key, &self.owner, now, self.lease).await;
                ((i, action), claim)
            })
            .buffered(CLAIM_CONCURRENCY)
            .collect()
            .await;
        let (mut acquired, mut held) = (Vec::new(), Vec::new());
        for ((i, action), claim) in claims {
            match claim {
                Ok(Claim::Acquired(token)) => acquired.push((i, action, token)),
                Ok(Claim::Finished(state)) => {
                    tracing::debug!(key = %action.key, "already finished");
                    outcomes.push((action.key, Outcome::AlreadyFinished(state)));
                }
                Ok(Claim::HeldElsewhere { owner, until }) => held.push((i, action, (owner, until))),
                Err(e) => outcomes.push((action.key, ledger_outcome(e))),
            }
        }
        (acquired, held)
    }

    /// Runs one adapter's batch with the bounded in-invocation retries, recording each result.
    /// The results of one `perform` are recorded (complete / release) with up to
    /// [`CLAIM_CONCURRENCY`] ledger calls in flight, like the claims before it: each call is
    /// about its own key, and a digest of thousands is otherwise thousands of round trips one
    /// after another (`benches/digest_queue.rs`).
    async fn run_batch(&self, actuator: &Arc<dyn Actuator>, batch: Vec<(Action, ClaimToken)>, clock: &(impl Fn() -> Timestamp + Sync)) -> Vec<(ActionKey, Outcome)> {
        let mut outcomes = Vec::with_capacity(batch.len());
        let (mut actions, mut tokens): (Vec<Action>, Vec<ClaimToken>) = batch.into_iter().unzip();
        let mut attempt = 1;
        loop {
            let mut results: Vec<Performed> = actuator.perform(&actions).await;
            if results.len() != actions.len() {
                tracing::error!(adapter = actuator.name(), expected = actions.len(), got = results.len(), "adapter returned the wrong number of results");
                results.resize_with(actions.len(), || Err(ActionError::Transient(format!("adapter {} returned no result for this action", actuator.name()))));
            }
            let (mut again_actions, mut again_tokens, mut wait) = (Vec::new(), Vec::new(), Duration::ZERO);
            let mut records: Vec<(ActionKey, ClaimToken, Record)> = Vec::with_capacity(actions.len());
            for ((action, token), result) in actions.into_iter().zip(tokens).zip(results) {
                let completion = match result {
                    Ok(done) => Completed::Done { detail: done.detail, operation: done.operation, issue: done.issue },
                    Err(ActionError::AlreadyDone(detail)) => Completed::Done { detail: format!("already done: {detail}"), operation: None, issue: None },
                    Err(ActionError::Permanent(reason)) => Completed::Failed { reason, operation: None },
                    Err(ActionError::OperationEnded { status, reason }) => Completed::Failed { reason, operation: Some(status) },
                    Err(ActionError::Deferred(reason)) => {
                        tracing::info!(key = %action.key, %reason, "deferred");
                        records.push((action.key, token, Record::Release(Outcome::Deferred { reason })));
                        continue;
                    }
                    Err(ActionError::Configuration { setting, message }) => {
                        crate::error::log_configuration_failure(&setting, &message);
                        let reason = format!("{message}. Fix: {setting}");
                        records.push((action.key, token, Record::Release(Outcome::NeedsConfiguration { setting, reason })));
                        continue;
                    }
                    Err(err) => match self.retry.decide(&err, attempt) {
                        RetryDecision::RetryIn(d) => {
                            tracing::info!(key = %action.key, attempt, delay_ms = d.as_millis() as u64, error = %err, "retrying");
                            wait = wait.max(d);
                            again_actions.push(action);
                            again_tokens.push(token);
                            continue;
                        }
                        RetryDecision::GiveUp => {
                            tracing::warn!(key = %action.key, attempt, error = %err, "giving up for this invocation; the platform will deliver again");
                            records.push((action.key, token, Record::Release(Outcome::NeedsRetry { reason: err.to_string() })));
                            continue;
                        }
                    },
                };
                records.push((action.key, token, Record::Complete(completion)));
            }
            let recorded: Vec<(ActionKey, Outcome)> = futures::stream::iter(records)
                .map(|(key, token, record)| async move {
                    let outcome = match record {
                        Record::Complete(completion) => self.complete(&key, &token, completion, clock()).await,
                        Record::Release(outcome) => self.release(&key, &token, outcome).await,
                    };
                    (key, outcome)
                })
                .buffer_unordered(CLAIM_CONCURRENCY)
                .collect()
                .await;
            outcomes.extend(recorded);
            if again_actions.is_empty() {
                break;
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
            actions = again_actions;
            tokens = again_tokens;
        }
        outcomes
    }

    async fn complete(&self, key: &ActionKey, token: &ClaimToken, completed: Completed, now: Timestamp) -> Outcome {
        let (completion, outcome) = match completed {
            Completed::Done { detail, operation, issue } => (Completion::Done { detail: detail.clone() }, Outcome::Done { detail, operation, issue }),
            Completed::Failed { reason, operation } => (Completion::Failed { reason: reason.clone() }, Outcome::Failed { reason, operation }),
        };
        match &outcome {
            Outcome::Done { detail, .. } => tracing::info!(key = %key, %detail, "done"),
            Outcome::Failed { reason, .. } => tracing::error!(key = %key, %reason, "failed permanently; recorded, not retried"),
            _ => {}
        }
        match self.ledger.complete(key, token, completion, now).await {
            Ok(()) => outcome,
            Err(LedgerError::LostClaim { .. }) => {
                tracing::warn!(key = %key, "our claim expired and another worker took the key; its result stands");
                Outcome::LostClaim { detail: outcome.label().to_string() }
            }
            // The action ran but is not recorded: the retry will call the adapter again, and
            // the adapter's own check finds this run's work.
            Err(e) => ledger_outcome(e),
        }
    }

    async fn release(&self, key: &ActionKey, token: &ClaimToken, outcome: Outcome) -> Outcome {
        match self.ledger.release(key, token).await {
            Ok(()) | Err(LedgerError::LostClaim { .. }) => outcome,
            Err(e) => {
                // The claim stays until its lease ends; a retry after that takes it over.
                tracing::warn!(key = %key, error = %e, "could not release the claim; it expires with its lease");
                match e {
                    LedgerError::Corrupt(reason) => Outcome::LedgerBroken { reason },
                    LedgerError::Configuration { .. } => ledger_outcome(e),
                    _ => outcome,
                }
            }
        }
    }
}

/// What [`Executor::run_batch`] records for one performed action.
enum Record {
    /// Done or failed: `complete` under the claim.
    Complete(Completed),
    /// Not finished (deferred, or out of retries): `release` the claim, report the outcome.
    Release(Outcome),
}

/// The queue entry of a notification: the action's JSON (so a reader of `Action` — `handler
/// digest` — reads it as it is), plus the channel its failure is reported through under
/// [`REPORT_VIA`] when the plan had one.
fn queued_json(action: &Action, via: Option<&Action>) -> Result<String, serde_json::Error> {
    let mut value = serde_json::to_value(action)?;
    if let (Some(via), Some(object)) = (via, value.as_object_mut()) {
        object.insert(REPORT_VIA.to_string(), serde_json::to_value(via)?);
    }
    serde_json::to_string(&value)
}

/// Reads a queue entry written by [`queued_json`] (or, before the channel was kept, a bare
/// action: its failure then has no channel to be reported through).
fn read_queued(json: &str) -> Result<(Action, Option<Action>), serde_json::Error> {
    let mut value: serde_json::Value = serde_json::from_str(json)?;
    let via = value.as_object_mut().and_then(|o| o.remove(REPORT_VIA));
    let via = via.map(serde_json::from_value::<Action>).transpose()?;
    Ok((serde_json::from_value(value)?, via))
}

/// The key of a queue entry's report channel.
const REPORT_VIA: &str = "report_via";

/// A finished action: what the ledger records ([`Completion`]), plus the operation report the
/// outcome carries (not recorded: a replay finds the key finished and follows nothing).
enum Completed {
    Done { detail: String, operation: Option<OperationReport>, issue: Option<String> },
    Failed { reason: String, operation: Option<OperationStatus> },
}

fn ledger_outcome(e: LedgerError) -> Outcome {
    match e {
        LedgerError::Configuration { setting, message } => {
            crate::error::log_configuration_failure(&setting, &message);
            Outcome::NeedsConfiguration { reason: format!("ledger: {message}. Fix: {setting}"), setting }
        }
        LedgerError::Unavailable(m) => Outcome::NeedsRetry { reason: format!("ledger unavailable: {m}") },
        LedgerError::LostClaim { key } => Outcome::NeedsRetry { reason: format!("claim on {key} lost") },
        LedgerError::Corrupt(reason) => Outcome::LedgerBroken { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{ActionKind, Stage};
    use crate::domain::{ClusterId, Concern, ConcernKind, Origin, Signal, SignalKind};

    fn action(kind: ActionKind) -> Action {
        let cluster = ClusterId::from_parts("s", "rg", "aks-prod");
        let signal = Signal {
            cluster: cluster.clone(),
            facts: Default::default(),
            kind: SignalKind::SupportEnded { kubernetes_version: "1.29.4".into() },
            observed_at: "2026-03-01T00:00:00Z".parse().unwrap(),
            origin: Origin::Manual,
        };
        Action::new(Concern::new(cluster, ConcernKind::Support, "1.29"), Stage::Notice, kind, "aks-prod: 1.29 is out of support".into(), signal)
    }

    #[test]
    fn a_queue_entry_keeps_its_report_channel_and_still_reads_as_the_action() {
        let mail = action(ActionKind::Email { to: vec!["ops@example.com".into()] });
        let issue = action(ActionKind::GithubIssue { repo: "o/r".into(), labels: vec![], assignees: vec![] });
        let json = queued_json(&mail, Some(&issue)).unwrap();
        assert_eq!(read_queued(&json).unwrap(), (mail.clone(), Some(issue)));
        // `handler digest` reads the entry as the action it is.
        assert_eq!(serde_json::from_str::<Action>(&json).unwrap(), mail);
        // An entry written before the channel was kept reads with none.
        assert_eq!(read_queued(&serde_json::to_string(&mail).unwrap()).unwrap(), (mail.clone(), None));
        assert_eq!(read_queued(&queued_json(&mail, None).unwrap()).unwrap(), (mail, None));
    }
}
