//! The run-time support-calendar refresh (`CADENCE_SUPPORT_CALENDAR_URL`, off unless set): one
//! GET of a public calendar API (endoflife.date's API v1 product shape, parsed by
//! `policy::calendar::SupportCalendar::from_endoflife`) per sweep run. The refresh is never
//! required: a failure (unreachable, a non-2xx, a body that is not a calendar) leaves the
//! embedded calendar in charge, is reported once per run, and never fails the sweep.
//!
//! Layer: edge: one HTTP read in, a parsed calendar (or the reason there is none) out.

use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use tokio::sync::OnceCell;

use crate::policy::calendar::SupportCalendar;

/// The largest calendar answer read (endoflife.date's AKS product is a few kilobytes).
const MAX_BODY_BYTES: usize = 1 << 20;

/// The refresh's client and URL, built once at start-up (no IO).
#[derive(Debug, Clone)]
pub struct CalendarRefresh {
    url: String,
    client: reqwest::Client,
}

impl CalendarRefresh {
    /// `url` as validated by the settings (https, or http to loopback).
    pub fn new(url: impl Into<String>) -> Self {
        let client = crate::azure::client_builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .expect("the reqwest client builds with static options and a prebuilt TLS configuration");
        Self { url: url.into(), client }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Reads and parses the calendar; `Err` says why not, in words for the sweep's notes.
    pub async fn fetch(&self, today: Date) -> Result<SupportCalendar, String> {
        let response = self.client.get(&self.url).header("accept", "application/json").send().await.map_err(|e| {
            let e = e.without_url();
            format!("no answer ({e})")
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        if response.content_length().is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(format!("the answer is larger than {MAX_BODY_BYTES} bytes"));
        }
        let bytes = response.bytes().await.map_err(|e| format!("the answer was cut off ({})", e.without_url()))?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(format!("the answer is larger than {MAX_BODY_BYTES} bytes"));
        }
        let body: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| format!("the answer is not JSON ({e})"))?;
        SupportCalendar::from_endoflife(&body, &self.url, today).map_err(|e| e.to_string())
    }
}

/// One run's refresh, read at most once (the run's queue messages on this instance share it).
#[derive(Debug, Default)]
pub struct RefreshCache {
    cell: OnceCell<Result<Arc<SupportCalendar>, String>>,
}

impl RefreshCache {
    /// The run's refreshed calendar, reading it the first time. The second value is the note to
    /// report, given only to the caller that made the read, so a failure is reported once per run.
    pub async fn get(&self, refresh: &CalendarRefresh, today: Date) -> (Option<Arc<SupportCalendar>>, Option<String>) {
        let mut note = None;
        let said = &mut note;
        let outcome = self
            .cell
            .get_or_init(|| async move {
                let r = refresh.fetch(today).await.map(Arc::new);
                *said = Some(match &r {
                    Ok(c) => format!("support calendar: read {} minors from {}", c.minors.len(), refresh.url()),
                    Err(why) => format!(
                        "support calendar: the refresh from {} failed ({why}); support dates come from the built-in calendar this run",
                        refresh.url()
                    ),
                });
                r
            })
            .await;
        (outcome.as_ref().ok().cloned(), note)
    }
}
