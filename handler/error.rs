//! Errors of outbound actions, classified where they are born (house rule 6). The retry policy
//! (`execute::retry`) is a pure function of this classification; nobody downcasts.

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
    /// Other 4xx, invalid configuration, a locator that does not match: retrying cannot help.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// The thing already exists / was already done (e.g. 422 "already exists").
    #[error("already done: {0}")]
    AlreadyDone(String),
    /// Not now (409 operation in progress, window closed): try at the next opportunity, not
    /// by failing the invocation.
    #[error("deferred: {0}")]
    Deferred(String),
}

impl ActionError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient(_) | Self::Throttled { .. })
    }

    /// Classifies an HTTP status (with an optional `Retry-After` already parsed).
    pub fn from_status(status: u16, retry_after: Option<Duration>, message: impl Into<String>) -> Self {
        let message = message.into();
        match status {
            429 => Self::Throttled { retry_after, message },
            408 | 500..=599 => Self::Transient(format!("HTTP {status}: {message}")),
            409 => Self::Deferred(format!("HTTP 409: {message}")),
            _ => Self::Permanent(format!("HTTP {status}: {message}")),
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
    fn statuses_are_classified_where_they_are_born() {
        assert!(matches!(ActionError::from_status(429, None, "x"), ActionError::Throttled { .. }));
        assert!(matches!(ActionError::from_status(503, None, "x"), ActionError::Transient(_)));
        assert!(matches!(ActionError::from_status(409, None, "x"), ActionError::Deferred(_)));
        assert!(matches!(ActionError::from_status(404, None, "x"), ActionError::Permanent(_)));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
