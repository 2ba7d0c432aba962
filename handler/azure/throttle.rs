//! Throttling and retries for ARM, kept apart from IO so that every decision is a table test.
//!
//! ARM meters each principal per subscription with token buckets (reads: 250, refilling 25/s;
//! writes: 200, refilling 10/s) and reports what is left in `x-ms-ratelimit-remaining-
//! subscription-reads` / `-writes` (and the `-global-` variants of the regional limiter). When the
//! bucket is empty it answers 429 with `Retry-After`. Resource Graph has its own quota
//! (`x-ms-user-quota-remaining`, `x-ms-user-quota-resets-after` as `hh:mm:ss`).
//!
//! Two mechanisms keep a sweep inside those limits:
//! - [`retry_decision`] (pure): what to do with one failed attempt.
//! - [`Pacer`]: per scope (subscription, or Resource Graph), a 429 pauses *every* request on
//!   that scope until `Retry-After` has passed (not only the one that got it), and when the
//!   remaining budget drops under a low-water mark, requests are spaced at the refill rate so the
//!   bucket is never run dry by a burst of concurrent workers.
//!
//! Retries follow the one policy ([`crate::retry::next_attempt`]), with the ARM client's own
//! limits ([`ArmRetryPolicy`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::arm::ArmErrorKind;

/// Which token bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    Reads,
    Writes,
}

impl Budget {
    /// Refill rate of the bucket, per second.
    pub fn refill_per_second(self) -> f64 {
        match self {
            Self::Reads => 25.0,
            Self::Writes => 10.0,
        }
    }
    /// Under this many remaining requests the pacer spaces requests at the refill rate.
    pub fn low_water(self) -> u32 {
        match self {
            Self::Reads => 50,
            Self::Writes => 20,
        }
    }
}

/// Limits of the retry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmRetryPolicy {
    /// Attempts in total (first try included) for transient failures of idempotent requests.
    pub max_attempts_transient: u32,
    /// Attempts in total for 429s (a 429 means the request was not executed, so every method
    /// may be retried).
    pub max_attempts_throttled: u32,
    /// First backoff; doubled on each further attempt.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited out in-process: the error goes up as
    /// `Throttled` so the caller (executor, queue) can come back later.
    pub max_retry_after: Duration,
}

impl Default for ArmRetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts_transient: 3,
            max_attempts_throttled: 6,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

pub use crate::retry::RetryDecision;
use crate::retry::{FailureClass, RetryLimits, next_attempt};

impl ArmRetryPolicy {
    /// These limits in the shared form of [`crate::retry`].
    pub fn limits(&self) -> RetryLimits {
        RetryLimits {
            transient_attempts: self.max_attempts_transient,
            throttled_attempts: self.max_attempts_throttled,
            base: self.base_backoff,
            max_backoff: self.max_backoff,
            max_server_wait: self.max_retry_after,
        }
    }
}

/// The ARM client's retry decision: the one policy (`execute::retry::next_attempt`) applied to
/// the attempt count (attempts made so far, ≥ 1), the classified error and whether the request
/// may be repeated safely.
///
/// - Throttled: wait the server's `Retry-After` (or the backoff when it gave none), up to
///   `max_attempts_throttled`; a `Retry-After` beyond `max_retry_after` gives up at once.
/// - Transient (5xx, timeouts, connection errors): only idempotent requests (GET, and PUT with
///   `If-Match`) are repeated — a POST action that timed out may have started an operation.
/// - Everything else (permanent, conflict, not found, precondition failed): give up; retrying
///   cannot change the answer.
pub fn retry_decision(policy: &ArmRetryPolicy, attempts: u32, kind: &ArmErrorKind, idempotent: bool) -> RetryDecision {
    let class = match kind {
        // A 429 means the request was not executed: any method may be repeated.
        ArmErrorKind::Throttled { retry_after } => FailureClass::Throttled { retry_after: *retry_after },
        ArmErrorKind::Transient if idempotent => FailureClass::Transient,
        _ => FailureClass::Final,
    };
    next_attempt(&policy.limits(), class, attempts)
}

/// The spacing to apply between requests of one scope, given what the server says remains in
/// the bucket: none above the low-water mark, one refill interval below it.
pub fn pacing_interval(remaining: Option<u32>, budget: Budget) -> Option<Duration> {
    match remaining {
        Some(r) if r < budget.low_water() => Some(Duration::from_secs_f64(1.0 / budget.refill_per_second())),
        _ => None,
    }
}

/// The remaining budget reported by ARM headers (the lowest of the subscription and the
/// regional/global limiter when both are present).
pub fn remaining_from_headers(headers: &http::HeaderMap, budget: Budget) -> Option<u32> {
    let names: &[&str] = match budget {
        Budget::Reads => &["x-ms-ratelimit-remaining-subscription-reads", "x-ms-ratelimit-remaining-subscription-global-reads"],
        Budget::Writes => &["x-ms-ratelimit-remaining-subscription-writes", "x-ms-ratelimit-remaining-subscription-global-writes"],
    };
    names
        .iter()
        .filter_map(|n| headers.get(*n)?.to_str().ok()?.trim().parse::<u32>().ok())
        .min()
}

/// Resource Graph's own quota: when `x-ms-user-quota-remaining` is 0, how long until it resets
/// (`x-ms-user-quota-resets-after`, `hh:mm:ss`).
pub fn resource_graph_pause(headers: &http::HeaderMap) -> Option<Duration> {
    let remaining: u32 = headers.get("x-ms-user-quota-remaining")?.to_str().ok()?.trim().parse().ok()?;
    if remaining > 0 {
        return None;
    }
    let resets = headers.get("x-ms-user-quota-resets-after")?.to_str().ok()?;
    parse_hms(resets)
}

fn parse_hms(v: &str) -> Option<Duration> {
    let mut parts = v.trim().split(':');
    let h: u64 = parts.next()?.parse().ok()?;
    let m: u64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || s < 0.0 {
        return None;
    }
    Some(Duration::from_secs(h * 3600 + m * 60) + Duration::from_secs_f64(s))
}

#[derive(Debug)]
struct ScopeState {
    remaining: HashMap<Budget, u32>,
    paused_until: Option<Instant>,
    next_slot: HashMap<Budget, Instant>,
}

/// Shared pacing state of one ARM client, per scope (a subscription id in lower case, or
/// `resourcegraph`). A std mutex is right here: it is held for a few arithmetic operations and
/// never across an await.
#[derive(Debug, Default)]
pub struct Pacer {
    scopes: Mutex<HashMap<String, ScopeState>>,
}

impl Pacer {
    /// Reserves a slot for one request and returns how long to wait before sending it.
    pub fn reserve(&self, scope: &str, budget: Budget) -> Duration {
        let now = Instant::now();
        let mut scopes = self.scopes.lock().expect("pacer lock");
        let st = scopes.entry(scope.to_string()).or_insert_with(|| ScopeState {
            remaining: HashMap::new(),
            paused_until: None,
            next_slot: HashMap::new(),
        });
        let earliest = st.paused_until.filter(|t| *t > now).unwrap_or(now);
        match pacing_interval(st.remaining.get(&budget).copied(), budget) {
            None => earliest - now,
            Some(interval) => {
                let slot = st.next_slot.get(&budget).copied().unwrap_or(now).max(earliest);
                st.next_slot.insert(budget, slot + interval);
                slot - now
            }
        }
    }

    /// Records what the server said remains.
    pub fn observe(&self, scope: &str, budget: Budget, remaining: Option<u32>) {
        let Some(r) = remaining else { return };
        let mut scopes = self.scopes.lock().expect("pacer lock");
        if let Some(st) = scopes.get_mut(scope) {
            st.remaining.insert(budget, r);
        }
    }

    /// Holds every request on `scope` for `wait` (after a 429 or an exhausted quota).
    pub fn pause(&self, scope: &str, wait: Duration) {
        let until = Instant::now() + wait;
        let mut scopes = self.scopes.lock().expect("pacer lock");
        if let Some(st) = scopes.get_mut(scope) {
            st.paused_until = Some(st.paused_until.map_or(until, |t| t.max(until)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> ArmRetryPolicy {
        ArmRetryPolicy::default()
    }

    #[test]
    fn retry_decisions_follow_the_classification() {
        use ArmErrorKind as K;
        use RetryDecision::{GiveUp, RetryIn as RetryAfter};
        let s = Duration::from_secs;
        let table: Vec<(u32, K, bool, RetryDecision)> = vec![
            // 429: the server's Retry-After, for any method
            (1, K::Throttled { retry_after: Some(s(7)) }, false, RetryAfter(s(7))),
            (1, K::Throttled { retry_after: None }, true, RetryAfter(s(1))),
            (3, K::Throttled { retry_after: None }, true, RetryAfter(s(4))),
            (6, K::Throttled { retry_after: Some(s(1)) }, true, GiveUp),
            (1, K::Throttled { retry_after: Some(s(600)) }, true, GiveUp),
            // transient: idempotent requests only, with doubling backoff
            (1, K::Transient, true, RetryAfter(s(1))),
            (2, K::Transient, true, RetryAfter(s(2))),
            (3, K::Transient, true, GiveUp),
            (1, K::Transient, false, GiveUp),
            // never retried
            (1, K::Conflict, true, GiveUp),
            (1, K::NotFound, true, GiveUp),
            (1, K::Permanent, true, GiveUp),
            (1, K::PreconditionFailed, true, GiveUp),
        ];
        for (attempts, kind, idem, want) in table {
            assert_eq!(retry_decision(&p(), attempts, &kind, idem), want, "{attempts} {kind:?} {idem}");
        }
    }

    #[test]
    fn backoff_is_capped() {
        let throttled = ArmErrorKind::Throttled { retry_after: None };
        let many = ArmRetryPolicy { max_attempts_throttled: 100, ..p() };
        assert_eq!(retry_decision(&many, 30, &throttled, true), RetryDecision::RetryIn(Duration::from_secs(30)));
    }

    #[test]
    fn pacing_starts_under_the_low_water_mark() {
        assert_eq!(pacing_interval(None, Budget::Reads), None);
        assert_eq!(pacing_interval(Some(50), Budget::Reads), None);
        assert_eq!(pacing_interval(Some(49), Budget::Reads), Some(Duration::from_millis(40)));
        assert_eq!(pacing_interval(Some(0), Budget::Writes), Some(Duration::from_millis(100)));
    }

    #[test]
    fn remaining_takes_the_lowest_limiter() {
        let mut h = http::HeaderMap::new();
        h.insert("x-ms-ratelimit-remaining-subscription-reads", "11999".parse().unwrap());
        h.insert("x-ms-ratelimit-remaining-subscription-global-reads", "30".parse().unwrap());
        assert_eq!(remaining_from_headers(&h, Budget::Reads), Some(30));
        assert_eq!(remaining_from_headers(&h, Budget::Writes), None);
    }

    #[test]
    fn resource_graph_quota_pauses_only_when_exhausted() {
        let mut h = http::HeaderMap::new();
        h.insert("x-ms-user-quota-remaining", "0".parse().unwrap());
        h.insert("x-ms-user-quota-resets-after", "00:00:03".parse().unwrap());
        assert_eq!(resource_graph_pause(&h), Some(Duration::from_secs(3)));
        h.insert("x-ms-user-quota-remaining", "4".parse().unwrap());
        assert_eq!(resource_graph_pause(&h), None);
    }

    #[test]
    fn pacer_spaces_requests_when_the_bucket_is_low_and_pauses_after_429() {
        let pacer = Pacer::default();
        assert_eq!(pacer.reserve("s", Budget::Reads), Duration::ZERO);
        pacer.observe("s", Budget::Reads, Some(3));
        let a = pacer.reserve("s", Budget::Reads);
        let b = pacer.reserve("s", Budget::Reads);
        let c = pacer.reserve("s", Budget::Reads);
        assert!(a <= Duration::from_millis(1), "{a:?}");
        assert!(b >= Duration::from_millis(35) && b <= Duration::from_millis(41), "{b:?}");
        assert!(c >= Duration::from_millis(75) && c <= Duration::from_millis(81), "{c:?}");
        // Other scopes are unaffected.
        assert_eq!(pacer.reserve("other", Budget::Reads), Duration::ZERO);
        pacer.pause("other", Duration::from_secs(2));
        let w = pacer.reserve("other", Budget::Reads);
        assert!(w > Duration::from_millis(1900), "{w:?}");
    }
}
