//! Errors of outbound actions, classified where they are born (house rule 6). The retry policy
//! (`execute::retry`) is a pure function of this classification; nobody downcasts.
//!
//! Layer: core: failures classified where they are born; pure, no IO.

use std::time::Duration;

/// How an outbound call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// Timeouts, connection errors, 5xx: trying again later may work.
    #[error("transient failure: {0}")]
    Transient(String),
    /// 429, GitHub secondary limits, ARM throttling: wait `retry_after` (when the server said).
    #[error("throttled (retry after {retry_after:?}): {message}")]
    Throttled { retry_after: Option<Duration>, message: String },
    /// 401/403, a missing or refused credential, a webhook URL that is gone, a repository the
    /// token cannot see: a change of a setting or a permission fixes it, not the same request
    /// later and not nothing. Never recorded as failed: the claim is released and the
    /// invocation fails, so the platform delivers again (and finally dead-letters), and the
    /// work runs on the first delivery or sweep after the fix. `setting` names what to fix.
    #[error("configuration failure: {message}. Fix: {setting}")]
    Configuration { setting: String, message: String },
    /// The request itself is invalid (422 validation, a policy value the API refuses, a path
    /// that does not exist in the repository): nothing fixes it. Recorded as failed and
    /// reported through the concern's channels.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// A long-running operation the service started ended without success (ARM: `Failed` with
    /// its code and message, or `Canceled`): permanent like [`Self::Permanent`] — recorded as
    /// failed with `reason` —, and `status` is how the operation ended, told through the
    /// concern's channels (typed: nobody reads it back from `reason`).
    #[error("permanent failure: {reason}")]
    OperationEnded { status: crate::domain::OperationStatus, reason: String },
    /// The thing already exists / was already done (e.g. 422 "already exists").
    #[error("already done: {0}")]
    AlreadyDone(String),
    /// Not now (409 operation in progress, window closed): try at the next opportunity, not
    /// by failing the invocation.
    #[error("deferred: {0}")]
    Deferred(String),
}

impl ActionError {
    /// A configuration failure: `setting` names the setting, permission or policy field to fix.
    pub fn configuration(setting: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Configuration { setting: setting.into(), message: message.into() }
    }

    /// The same error with `prefix: ` in front of its message (the call that failed).
    pub fn context(self, prefix: &str) -> Self {
        match self {
            Self::Transient(m) => Self::Transient(format!("{prefix}: {m}")),
            Self::Throttled { retry_after, message } => Self::Throttled { retry_after, message: format!("{prefix}: {message}") },
            Self::Configuration { setting, message } => Self::Configuration { setting, message: format!("{prefix}: {message}") },
            Self::Permanent(m) => Self::Permanent(format!("{prefix}: {m}")),
            Self::OperationEnded { status, reason } => Self::OperationEnded { status, reason: format!("{prefix}: {reason}") },
            Self::AlreadyDone(m) => Self::AlreadyDone(format!("{prefix}: {m}")),
            Self::Deferred(m) => Self::Deferred(format!("{prefix}: {m}")),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient(_) | Self::Throttled { .. })
    }
}

/// How often one configuration failure (per setting) is logged at error level by one process.
/// A broken token fails every delivery until it is fixed; one error line per setting per
/// interval is what a person (and the alert on these lines) needs, not thousands.
pub const CONFIGURATION_LOG_INTERVAL: Duration = Duration::from_secs(600);

/// Logs a configuration failure: at error level, with `failure_class = "configuration"` and
/// `setting`, the first time and then once per [`CONFIGURATION_LOG_INTERVAL`] for the same
/// setting; in between at debug level. The message starts with `configuration failure:` (the
/// deployment's alert matches on it, see docs/deploy.md).
pub fn log_configuration_failure(setting: &str, message: &str) {
    static SEEN: std::sync::Mutex<Option<OncePer>> = std::sync::Mutex::new(None);
    let loud = {
        let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.get_or_insert_with(|| OncePer::new(CONFIGURATION_LOG_INTERVAL)).due(setting, std::time::Instant::now())
    };
    if loud {
        tracing::error!(failure_class = "configuration", setting, "configuration failure: {message}. Fix: {setting}");
    } else {
        tracing::debug!(failure_class = "configuration", setting, "configuration failure (already logged within the interval): {message}");
    }
}

/// "Once per interval per key", pure apart from the `Instant` passed in.
#[derive(Debug)]
pub struct OncePer {
    interval: Duration,
    last: std::collections::HashMap<String, std::time::Instant>,
}

impl OncePer {
    pub fn new(interval: Duration) -> Self {
        Self { interval, last: std::collections::HashMap::new() }
    }

    /// Whether `key` is due at `now` (never seen, or last due at least `interval` ago); if so,
    /// `now` becomes its last time.
    pub fn due(&mut self, key: &str, now: std::time::Instant) -> bool {
        match self.last.get(key) {
            Some(&at) if now.saturating_duration_since(at) < self.interval => false,
            _ => {
                self.last.insert(key.to_string(), now);
                true
            }
        }
    }
}

/// Parses a `Retry-After` header value: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let d = at.duration_since(now);
    Some(Duration::from_secs(d.as_secs().max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_failure_is_due_once_per_interval_per_setting() {
        let start = std::time::Instant::now();
        let mut once = OncePer::new(Duration::from_secs(600));
        assert!(once.due("GITHUB_TOKEN", start), "the first time is logged");
        assert!(!once.due("GITHUB_TOKEN", start + Duration::from_secs(599)), "within the interval: quiet");
        assert!(once.due("SMTP_PASSWORD", start + Duration::from_secs(1)), "another setting has its own interval");
        assert!(once.due("GITHUB_TOKEN", start + Duration::from_secs(600)), "after the interval: logged again");
        assert!(!once.due("GITHUB_TOKEN", start + Duration::from_secs(900)));
    }

    #[test]
    fn a_configuration_failure_names_the_setting_to_fix() {
        let e = ActionError::configuration("GITHUB_TOKEN", "GitHub answered 401 Bad credentials").context("POST /repos/o/r/issues");
        assert_eq!(e.to_string(), "configuration failure: POST /repos/o/r/issues: GitHub answered 401 Bad credentials. Fix: GITHUB_TOKEN");
        assert!(!e.is_retryable(), "not the same request later: a changed setting");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
