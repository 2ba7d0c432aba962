//! The one retry policy (house rule 7): a pure function of the failure's classification and the
//! attempt number, [`next_attempt`]. Two places retry, each with its own limits, through it:
//!
//! | who | limits | classification |
//! |---|---|---|
//! | the executor, per action batch (`execute::RetryPolicy::decide`) | `execute::RetryPolicy::DEFAULT`: 3 attempts, 0.5 s doubling to 4 s, a server wait up to 4 s | `ActionError` |
//! | the ARM client, per request (`azure::throttle::retry_decision`) | `azure::throttle::ArmRetryPolicy`: 3 attempts for transient failures, 6 for 429, 1 s doubling to 30 s, a `Retry-After` up to 2 min | `ArmErrorKind`, and whether the request may be repeated (a POST that may have started an operation may not) |
//!
//! The limits differ because the budgets do: the executor answers Event Grid within 30 s, an
//! ARM request inside a sweep may wait out ARM's bucket. The attempts do not multiply: the ARM
//! client gives up with a classified error that the executor only retries when the wait is
//! short, and adapters turn their library's retries off (octocrab, azure_core).
//!
//! Pure and dependency-free: both layers import it from here, neither from the other.
//!
//! Layer: core: the one retry decision; pure, no IO.

use std::time::Duration;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after this delay, in this invocation.
    RetryIn(Duration),
    /// Stop trying here: record a permanent failure, or (for retryable errors) release the
    /// claim and let the platform deliver again later.
    GiveUp,
}

/// How a failure may be retried: what each retrying site maps its own errors to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// May work if repeated (timeouts, 5xx, connection errors) and repeating is safe.
    Transient,
    /// The server said "slow down", with the wait it asked for, if any.
    Throttled { retry_after: Option<Duration> },
    /// Retrying cannot change the answer (or repeating is not safe).
    Final,
}

/// The limits of one retrying site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryLimits {
    /// Attempts in total (the first included) for transient failures.
    pub transient_attempts: u32,
    /// Attempts in total for throttled ones.
    pub throttled_attempts: u32,
    /// Delay after the first failure; doubled after each further one.
    pub base: Duration,
    /// No backoff delay is longer.
    pub max_backoff: Duration,
    /// A server asking for a longer wait is not waited for here: give up, and let the caller
    /// (the platform's retry, the queue, the next sweep) come back later.
    pub max_server_wait: Duration,
}

/// THE retry policy: after attempt number `attempt` (1 = the first try) failed as `class`.
pub fn next_attempt(limits: &RetryLimits, class: FailureClass, attempt: u32) -> RetryDecision {
    match class {
        FailureClass::Transient if attempt < limits.transient_attempts => RetryDecision::RetryIn(backoff(limits, attempt)),
        FailureClass::Throttled { retry_after } if attempt < limits.throttled_attempts => match retry_after {
            None => RetryDecision::RetryIn(backoff(limits, attempt)),
            Some(wait) if wait <= limits.max_server_wait => RetryDecision::RetryIn(wait),
            // The server wants a longer pause than this site can afford.
            Some(_) => RetryDecision::GiveUp,
        },
        _ => RetryDecision::GiveUp,
    }
}

/// `base × 2^(attempt-1)`, capped; never overflows.
fn backoff(limits: &RetryLimits, attempt: u32) -> Duration {
    let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
    limits.base.saturating_mul(factor).min(limits.max_backoff)
}
