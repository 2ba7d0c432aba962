//! The executor's limits for the one retry policy ([`crate::retry`], house rule 7): a pure
//! function of the failure's classification and the attempt number, [`next_attempt`]. Two
//! places retry, each with its own limits, through it:
//!
//! | who | limits | classification |
//! |---|---|---|
//! | the executor, per action batch ([`RetryPolicy::decide`]) | [`RetryPolicy::DEFAULT`]: 3 attempts, 0.5 s doubling to 4 s, a server wait up to 4 s | [`ActionError`] |
//! | the ARM client, per request (`azure::throttle::retry_decision`) | 3 attempts for transient failures, 6 for 429, 1 s doubling to 30 s, a `Retry-After` up to 2 min | `ArmErrorKind`, and whether the request may be repeated (a POST that may have started an operation may not) |
//!
//! The limits differ because the budgets do: the executor answers Event Grid within 30 s, an
//! ARM request inside a sweep may wait out ARM's bucket. The attempts do not multiply: the ARM
//! client gives up with a classified error that the executor only retries when the wait is
//! short, and adapters turn their library's retries off (octocrab, azure_core).
//!
//! The budget is small on purpose. Event Grid waits 30 s for an answer; anything that needs
//! longer than a few seconds is better left to the platform's own retry (10 s, 30 s, 1 min, …),
//! which the executor triggers by reporting `needs_retry` so the invocation answers non-2xx.
//! With [`RetryPolicy::DEFAULT`] the executor sleeps at most
//! [`RetryPolicy::max_total_wait`] = 2 × 4 s = 8 s per batch.

use std::time::Duration;

use crate::error::ActionError;
pub use crate::retry::{FailureClass, RetryDecision, RetryLimits, next_attempt};

/// Bounded exponential backoff with a cap. Deterministic (no jitter): the attempts are few and
/// the platform spreads its own retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included.
    pub max_attempts: u32,
    /// Delay after the first failure; doubled after each further one.
    pub base: Duration,
    /// No single delay is longer. A server asking for more (`Retry-After`) is left to the
    /// platform's retry instead.
    pub cap: Duration,
}

impl RetryPolicy {
    /// 3 attempts, 0.5 s then 1 s backoff, at most 4 s for a server-requested wait.
    pub const DEFAULT: Self = Self { max_attempts: 3, base: Duration::from_millis(500), cap: Duration::from_secs(4) };

    /// Decides after attempt number `attempt` (1 = the first try) failed with `err`.
    pub fn decide(&self, err: &ActionError, attempt: u32) -> RetryDecision {
        let class = match err {
            ActionError::Transient(_) => FailureClass::Transient,
            ActionError::Throttled { retry_after, .. } => FailureClass::Throttled { retry_after: *retry_after },
            // Retrying now cannot change these: they are recorded (permanent), counted as done
            // (already done), left for the next opportunity (deferred) or for the platform's
            // redelivery after a person fixes a setting (configuration).
            ActionError::Permanent(_)
            | ActionError::OperationEnded { .. }
            | ActionError::AlreadyDone(_)
            | ActionError::Deferred(_)
            | ActionError::Configuration { .. } => FailureClass::Final,
        };
        next_attempt(&self.limits(), class, attempt)
    }

    /// These limits in the shared form.
    pub fn limits(&self) -> RetryLimits {
        RetryLimits {
            transient_attempts: self.max_attempts,
            throttled_attempts: self.max_attempts,
            base: self.base,
            max_backoff: self.cap,
            max_server_wait: self.cap,
        }
    }

    /// The longest the executor can sleep on one batch under this policy.
    pub fn max_total_wait(&self) -> Duration {
        self.cap.saturating_mul(self.max_attempts.saturating_sub(1))
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// [`RetryPolicy::DEFAULT`]`.decide(err, attempt)`.
pub fn decide(err: &ActionError, attempt: u32) -> RetryDecision {
    RetryPolicy::DEFAULT.decide(err, attempt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use RetryDecision::{GiveUp, RetryIn};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }
    fn throttled(after: Option<u64>) -> ActionError {
        ActionError::Throttled { retry_after: after.map(Duration::from_secs), message: "slow down".into() }
    }

    #[test]
    fn decisions_follow_the_classification_table() {
        let transient = ActionError::Transient("timeout".into());
        let cases: Vec<(&str, ActionError, u32, RetryDecision)> = vec![
            ("transient, first failure", transient.clone(), 1, RetryIn(ms(500))),
            ("transient, second failure doubles", transient.clone(), 2, RetryIn(ms(1000))),
            ("transient, attempts exhausted", transient.clone(), 3, GiveUp),
            ("transient, far past the limit", transient, 40, GiveUp),
            ("throttled without retry-after backs off", throttled(None), 1, RetryIn(ms(500))),
            ("throttled honours retry-after", throttled(Some(3)), 1, RetryIn(ms(3000))),
            ("throttled at the cap still waits", throttled(Some(4)), 2, RetryIn(ms(4000))),
            ("throttled longer than the cap goes to the platform", throttled(Some(60)), 1, GiveUp),
            ("throttled, attempts exhausted", throttled(Some(1)), 3, GiveUp),
            ("permanent never retries", ActionError::Permanent("404".into()), 1, GiveUp),
            ("configuration is not retried in-process: a setting must change", ActionError::configuration("GITHUB_TOKEN", "401"), 1, GiveUp),
            ("already done never retries", ActionError::AlreadyDone("exists".into()), 1, GiveUp),
            ("deferred waits for the next opportunity", ActionError::Deferred("409".into()), 1, GiveUp),
        ];
        for (name, err, attempt, want) in cases {
            assert_eq!(decide(&err, attempt), want, "{name}");
        }
    }

    #[test]
    fn the_executor_and_the_arm_client_share_the_policy_and_differ_only_in_limits() {
        let arm = crate::azure::throttle::ArmRetryPolicy::default().limits();
        let exec = RetryPolicy::DEFAULT.limits();
        let minute = FailureClass::Throttled { retry_after: Some(Duration::from_secs(60)) };
        assert_eq!(next_attempt(&exec, minute, 1), GiveUp, "an invocation leaves a minute's wait to the platform");
        assert_eq!(next_attempt(&arm, minute, 1), RetryIn(Duration::from_secs(60)), "a sweep waits out ARM's bucket");
        assert_eq!(next_attempt(&arm, FailureClass::Throttled { retry_after: None }, 5), RetryIn(Duration::from_secs(16)));
        assert_eq!(next_attempt(&exec, FailureClass::Throttled { retry_after: None }, 3), GiveUp);
        for limits in [arm, exec] {
            assert_eq!(next_attempt(&limits, FailureClass::Final, 1), GiveUp);
            assert_eq!(next_attempt(&limits, FailureClass::Transient, limits.transient_attempts), GiveUp);
        }
    }

    #[test]
    fn backoff_is_capped() {
        let p = RetryPolicy { max_attempts: 10, base: ms(500), cap: Duration::from_secs(4) };
        let delays: Vec<RetryDecision> = (1..10).map(|a| p.decide(&ActionError::Transient("x".into()), a)).collect();
        assert_eq!(
            delays,
            vec![RetryIn(ms(500)), RetryIn(ms(1000)), RetryIn(ms(2000)), RetryIn(ms(4000)), RetryIn(ms(4000)), RetryIn(ms(4000)), RetryIn(ms(4000)), RetryIn(ms(4000)), RetryIn(ms(4000))]
        );
        let unbounded = RetryPolicy { max_attempts: u32::MAX, ..p };
        assert_eq!(unbounded.decide(&ActionError::Transient("x".into()), u32::MAX - 1), RetryIn(ms(4000)), "no overflow on huge attempt numbers");
    }

    #[test]
    fn default_budget_stays_well_inside_event_grids_thirty_seconds() {
        assert!(RetryPolicy::DEFAULT.max_total_wait() <= Duration::from_secs(10));
        // Every possible sequence of decisions sums to at most max_total_wait.
        let worst: Duration = (1..RetryPolicy::DEFAULT.max_attempts)
            .map(|a| match decide(&throttled(Some(4)), a) {
                RetryIn(d) => d,
                GiveUp => Duration::ZERO,
            })
            .sum();
        assert!(worst <= RetryPolicy::DEFAULT.max_total_wait(), "{worst:?}");
    }
}
