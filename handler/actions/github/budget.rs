//! The client-side budget for GitHub content creation.
//!
//! GitHub's secondary limits allow no more than 80 content-generating requests a minute and 500
//! an hour; crossing them earns 403s and, if ignored, a banned integration. Every mutating request
//! (issues, comments, pull requests, refs, commits, edits) first takes a token here. Two token
//! buckets guarantee the limits over *any* window, not just on average: a bucket of capacity `c`
//! refilling `r` per second admits at most `c + r·T` requests in `T` seconds, so
//! 20 + 1/s·60 s = 80 a minute and 100 + 400/h·1 h = 500 an hour.
//!
//! When a token is a short wait away the caller waits (requests are made serially anyway, as
//! GitHub asks); when the wait would be long the call fails as `Throttled` with the wait as its
//! `retry_after`, so the one retry policy reschedules it instead of holding an invocation open.
//!
//! The budget is per process. Several Functions instances each keep their own; the server's
//! `retry-after` (classified in `client`) covers what they add up to.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ActionError;

/// A token bucket over an injected clock (pure: tests pass their own instants).
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(capacity: u32, per_second: f64, now: Instant) -> Self {
        Self { capacity: capacity as f64, per_second, tokens: capacity as f64, last: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = self.last.max(now);
    }

    /// Takes one token, going into debt if needed; returns how long until the token is really
    /// there (zero when it already was).
    pub fn reserve(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else if self.per_second <= 0.0 {
            Duration::MAX
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }

    /// Gives back a reserved token (the caller decided not to wait for it).
    pub fn refund(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.capacity);
    }
}

/// The budget shared by every GitHub call of one actuator.
#[derive(Debug)]
pub struct ContentBudget {
    buckets: Mutex<Vec<TokenBucket>>,
    max_wait: Duration,
    /// What the limits are, for the `Throttled` message.
    describe: String,
}

impl ContentBudget {
    /// GitHub.com's secondary limits: ≤ 80 a minute and ≤ 500 an hour; waits of up to 5 s.
    pub fn github_defaults() -> Self {
        Self::with_limits(80, 500)
    }

    /// At most `per_minute` requests in any minute and `per_hour` in any hour (settings
    /// `GITHUB_CONTENT_PER_MINUTE`, `GITHUB_CONTENT_PER_HOUR`); waits of up to 5 s. A quarter of
    /// the minute's allowance (a fifth of the hour's) may go at once, the rest refills evenly:
    /// `c + r·T` = the limit, so 80/min is 20 at once + 1/s and 500/h is 100 at once + 400/h.
    pub fn with_limits(per_minute: u32, per_hour: u32) -> Self {
        let now = Instant::now();
        let bucket = |limit: u32, burst_share: u32, window_secs: f64| {
            let burst = (limit / burst_share).max(1);
            TokenBucket::new(burst, f64::from(limit.saturating_sub(burst)) / window_secs, now)
        };
        let mut budget = Self::new(vec![bucket(per_minute, 4, 60.0), bucket(per_hour, 5, 3600.0)], Duration::from_secs(5));
        budget.describe = format!("≤ {per_minute} per minute, ≤ {per_hour} per hour");
        budget
    }

    /// A custom budget (tests, GitHub Enterprise Server instances with other limits).
    pub fn new(buckets: Vec<TokenBucket>, max_wait: Duration) -> Self {
        Self { buckets: Mutex::new(buckets), max_wait, describe: "custom limits".into() }
    }

    /// Reserves a token in every bucket at `now`: `Ok(wait)` to go ahead after `wait`, or
    /// `Err(wait)` (nothing reserved) when the wait is longer than the budget allows.
    pub fn reserve_at(&self, now: Instant) -> Result<Duration, Duration> {
        // A std Mutex: held for a few float operations, never across an await.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let wait = buckets.iter_mut().map(|b| b.reserve(now)).max().unwrap_or(Duration::ZERO);
        if wait > self.max_wait {
            buckets.iter_mut().for_each(TokenBucket::refund);
            Err(wait)
        } else {
            Ok(wait)
        }
    }

    /// Takes a token for one content-creating request, waiting briefly if needed.
    pub async fn acquire(&self) -> Result<(), ActionError> {
        match self.reserve_at(Instant::now()) {
            Ok(wait) if wait.is_zero() => Ok(()),
            Ok(wait) => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Err(wait) => Err(ActionError::Throttled {
                retry_after: Some(Duration::from_secs(wait.as_secs().max(1) + 1).min(Duration::from_secs(3600))),
                message: format!("client-side GitHub content budget exhausted ({})", self.describe),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts how many requests a budget admits within `window` when asked every `step`.
    fn admitted(budget: &ContentBudget, start: Instant, window: Duration, step: Duration) -> usize {
        let mut n = 0;
        let mut t = Duration::ZERO;
        while t < window {
            if let Ok(w) = budget.reserve_at(start + t)
                && t + w < window
            {
                n += 1;
            }
            t += step;
        }
        n
    }

    #[test]
    fn defaults_never_admit_more_than_80_in_a_minute() {
        let start = Instant::now();
        let b = ContentBudget::new(vec![TokenBucket::new(20, 1.0, start), TokenBucket::new(100, 400.0 / 3600.0, start)], Duration::from_secs(5));
        let n = admitted(&b, start, Duration::from_secs(60), Duration::from_millis(50));
        assert!(n <= 80, "{n} admitted in a minute");
        assert!(n >= 75, "the budget should not starve either: {n}");
    }

    #[test]
    fn limits_from_settings_reproduce_the_defaults_and_scale() {
        let start = Instant::now();
        let d = ContentBudget::with_limits(80, 500);
        assert_eq!(d.describe, "≤ 80 per minute, ≤ 500 per hour");
        let n = admitted(&d, start, Duration::from_secs(60), Duration::from_millis(50));
        assert!((75..=80).contains(&n), "{n} admitted in a minute");
        let small = ContentBudget::with_limits(20, 125);
        let n = admitted(&small, start, Duration::from_secs(60), Duration::from_millis(50));
        assert!((17..=20).contains(&n), "{n} admitted in a minute");
        let one = ContentBudget::with_limits(1, 1);
        assert_eq!(one.reserve_at(start), Ok(Duration::ZERO));
        assert!(one.reserve_at(start).is_err(), "a limit of 1 admits one at once");
    }

    #[test]
    fn defaults_never_admit_more_than_500_in_an_hour() {
        let start = Instant::now();
        let b = ContentBudget::new(vec![TokenBucket::new(20, 1.0, start), TokenBucket::new(100, 400.0 / 3600.0, start)], Duration::from_secs(5));
        let n = admitted(&b, start, Duration::from_secs(3600), Duration::from_millis(500));
        assert!(n <= 500, "{n} admitted in an hour");
    }

    #[test]
    fn a_long_wait_is_refused_and_reserves_nothing() {
        let start = Instant::now();
        let b = ContentBudget::new(vec![TokenBucket::new(1, 1.0 / 60.0, start)], Duration::from_secs(5));
        assert_eq!(b.reserve_at(start), Ok(Duration::ZERO));
        let refused = b.reserve_at(start).unwrap_err();
        assert!(refused > Duration::from_secs(50), "{refused:?}");
        // Refused again, not deeper in debt.
        assert!(b.reserve_at(start).unwrap_err() <= refused);
        assert_eq!(b.reserve_at(start + Duration::from_secs(60)), Ok(Duration::ZERO));
    }

    #[test]
    fn a_short_wait_is_granted_with_its_length() {
        let start = Instant::now();
        let b = ContentBudget::new(vec![TokenBucket::new(1, 1.0, start)], Duration::from_secs(5));
        assert_eq!(b.reserve_at(start), Ok(Duration::ZERO));
        let w = b.reserve_at(start).unwrap();
        assert!(w > Duration::from_millis(900) && w <= Duration::from_secs(1), "{w:?}");
    }
}
