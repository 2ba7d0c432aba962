//! The Azure Functions custom-handler protocol and the Event Grid webhook.
//!
//! ```text
//! GET  /                 readiness probe of the Functions host: 200 at once
//! POST /aks-events       function `aks-events` (eventGridTrigger, binding `event`):
//!                        {"Data":{"event":…},"Metadata":{…}} → {"Outputs":{},"Logs":[…],"ReturnValue":null}
//! POST /api/eventgrid    function `eventgrid` (httpTrigger, forwarded verbatim): a direct
//! OPTIONS /api/eventgrid Event Grid webhook — handshakes, Event Grid arrays, CloudEvents
//! POST /sweep            function `sweep` (timerTrigger `timer`): inventory → Outputs.clusters
//! POST /sweep-cluster    function `sweep-cluster` (queueTrigger `cluster`): one cluster swept,
//!                        planned and (unless dry-run) carried out
//! POST /digest           function `digest` (timerTrigger `timer`, every minute): sends the
//!                        email and chat notifications queued for a digest, once due
//! ```
//!
//! Both event routes take events only from the topics `CADENCE_EVENTGRID_ALLOWED_TOPICS` allows
//! ([`crate::topics`], [`screen`]); `/api/eventgrid` answers 404 when `CADENCE_EVENTGRID_WEBHOOK`
//! is off.
//!
//! Status codes are chosen for what the sender does with them (see `docs/host.md`): Event
//! Grid retries 5xx and never retries 400/413, and the Functions host turns any non-2xx from
//! `/aks-events` into a failed invocation that Event Grid retries. So a non-2xx means "try
//! again" and is sent only when the sink says a retry can help.
//!
//! Layer: run: the custom-handler entry point; hands deliveries to the pipeline and the sweeper.

mod digest;
mod error;
pub mod invocation;
pub mod log_json;
pub mod log_writer;
mod sweep;
mod webhook;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

pub use error::ApiError;

use crate::ingest::{Delivered, Ingested};
use crate::topics::{ALLOWED_TOPICS_SETTING, AllowListOrigin, TopicAllowList};
use crate::pipeline::{EventSink, PipelineError, RunReport};
use crate::sweeper::Sweeper;

/// Everything the routes need.
#[derive(Clone)]
pub struct AppState {
    pub sink: Arc<dyn EventSink>,
    /// Bodies larger than this get 413.
    pub max_body_bytes: usize,
    /// What the sweep routes use.
    pub sweep: SweepRoutes,
    /// Which topics may deliver, and whether `/api/eventgrid` serves at all.
    pub gate: EventGate,
}

impl AppState {
    /// The event routes only: the sweep routes answer that ARM is not configured.
    pub fn events_only(sink: Arc<dyn EventSink>, max_body_bytes: usize) -> Self {
        Self {
            sink,
            max_body_bytes,
            sweep: SweepRoutes::NotConfigured { reason: "no ARM client in this process".into() },
            gate: EventGate::default(),
        }
    }
}

/// What the event routes let in: events from allowed topics (`CADENCE_EVENTGRID_ALLOWED_TOPICS`,
/// both routes), and `/api/eventgrid` only while `CADENCE_EVENTGRID_WEBHOOK` is on.
#[derive(Debug, Clone)]
pub struct EventGate {
    pub topics: Arc<TopicAllowList>,
    pub webhook: bool,
}

impl Default for EventGate {
    /// Every topic, webhook on (what no settings at all mean).
    fn default() -> Self {
        Self { topics: Arc::new(TopicAllowList::everything(AllowListOrigin::Unset)), webhook: true }
    }
}

impl EventGate {
    pub fn from_settings(settings: &crate::settings::Settings) -> Self {
        Self { topics: Arc::new(settings.eventgrid_allowed_topics.clone()), webhook: settings.eventgrid_webhook }
    }
}

/// An event refused because its topic is not allowed.
#[derive(Debug, Clone)]
pub(crate) struct Refused {
    pub topic: Option<String>,
    /// It was the webhook's subscription validation event (the handshake is refused too).
    pub validation: bool,
}

/// Whether the sweep routes can work. The host's readiness never depends on it: without ARM
/// (no credential could be built) the event routes serve as usual and the sweep routes say
/// which setting is missing.
#[derive(Clone)]
pub enum SweepRoutes {
    Ready(Arc<Sweeper>),
    NotConfigured { reason: String },
}

/// The router: `GET /`, `POST /aks-events`, `POST|OPTIONS /api/eventgrid`, `POST /sweep`,
/// `POST /sweep-cluster`, `POST /digest`.
pub fn app(state: AppState) -> Router {
    // The invocation envelope wraps the event and may repeat parts of it in `Metadata`, so
    // `/aks-events` accepts a few times the webhook's limit (see `invocation`).
    let invocation_limit = invocation::body_limit(state.max_body_bytes);
    Router::new()
        .route("/", get(ready))
        .route("/aks-events", post(invocation::aks_events).layer(DefaultBodyLimit::max(invocation_limit)))
        .route("/sweep", post(sweep::timer).layer(DefaultBodyLimit::max(invocation_limit)))
        .route("/sweep-cluster", post(sweep::cluster).layer(DefaultBodyLimit::max(invocation_limit)))
        .route("/digest", post(digest::timer).layer(DefaultBodyLimit::max(invocation_limit)))
        .route(
            "/api/eventgrid",
            post(webhook::deliver_events).options(webhook::handshake).layer(DefaultBodyLimit::max(state.max_body_bytes)),
        )
        .fallback(not_found)
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` resolves.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    // Small request/response exchanges on kept-alive connections: without TCP_NODELAY, Nagle
    // and delayed ACKs can add tens of milliseconds to a reply.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}

/// The Functions host probes `GET /` until it gets any answer; answer at once.
async fn ready() -> &'static str {
    if !PROBED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        FIRST_PROBE.notify_one();
    }
    "ok"
}

static PROBED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static FIRST_PROBE: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Resolves once `GET /` has been answered in this process (the host's readiness probe): work
/// that can wait (loading the trust roots) starts after it, so it does not compete with the
/// probe for the CPU. One waiter at a time.
pub async fn first_probe() {
    if !PROBED.load(std::sync::atomic::Ordering::Relaxed) {
        FIRST_PROBE.notified().await;
    }
}

async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    // Only the path: a forwarded query string may hold the function key (`?code=`).
    ApiError::NotFound(format!("no function is served at {method} {}", uri.path()))
}

/// Applies the topic allow-list: the events from allowed topics go on; each refused one gets a
/// warning and a line in `logs` naming its topic and the setting to change.
pub(crate) fn screen(state: &AppState, route: &'static str, delivered: Vec<Delivered>, logs: &mut Vec<String>) -> (Vec<Ingested>, Vec<Refused>) {
    let topics = &state.gate.topics;
    let mut allowed = Vec::with_capacity(delivered.len());
    let mut refused = Vec::new();
    for Delivered { topic, ingested } in delivered {
        if topics.allows(topic.as_deref()) {
            allowed.push(ingested);
            continue;
        }
        let shown = topic.as_deref().unwrap_or("(none)");
        tracing::warn!(
            route,
            event_id = %ingested.event_id(),
            event_type = %ingested.event_type(),
            topic = %shown,
            setting = ALLOWED_TOPICS_SETTING,
            "event refused: its topic is not allowed"
        );
        logs.push(format!(
            "event {} ({}) refused: topic {shown} is not allowed (allowed: {topics}); if it should deliver here, add it to {ALLOWED_TOPICS_SETTING}",
            ingested.event_id(),
            ingested.event_type()
        ));
        refused.push(Refused { topic, validation: matches!(ingested, Ingested::SubscriptionValidation { .. }) });
    }
    (allowed, refused)
}

/// Logs what each ingested event became, then hands the deliverable ones to the sink.
/// Validation events are answered by the caller and never reach the sink. Returns the sink's
/// report (empty when nothing needed it). `logs` collects one line per event.
async fn deliver(
    state: &AppState,
    route: &'static str,
    ingested: Vec<Ingested>,
    logs: &mut Vec<String>,
) -> Result<RunReport, PipelineError> {
    let mut deliverable = Vec::with_capacity(ingested.len());
    for item in ingested {
        let line = item.describe();
        match &item {
            Ingested::Signals { event_id, event_type, signals } => {
                tracing::info!(route, event_id = event_id.as_str(), event_type = event_type.as_str(), signals = signals.len(), "event ingested");
            }
            Ingested::Unknown { event_id, event_type } => {
                tracing::info!(route, event_id = event_id.as_str(), event_type = event_type.as_str(), "event type not handled; acknowledged");
            }
            Ingested::Ignored { event_id, event_type, reason } => {
                tracing::warn!(route, event_id = event_id.as_str(), event_type = event_type.as_str(), reason = reason.as_str(), "event ignored");
            }
            Ingested::SubscriptionValidation { event_id, .. } => {
                tracing::info!(route, event_id = event_id.as_str(), "subscription validation event");
            }
        }
        logs.push(line);
        if !matches!(item, Ingested::SubscriptionValidation { .. }) {
            deliverable.push(item);
        }
    }
    if deliverable.is_empty() {
        return Ok(RunReport::default());
    }
    state.sink.handle(deliverable).await
}
