//! `/api/eventgrid`: a direct Event Grid webhook subscription, forwarded verbatim by the
//! Functions host (`enableForwardingHttpRequest`).
//!
//! - `CADENCE_EVENTGRID_WEBHOOK=off` → every request gets 404 naming the setting.
//! - `POST` with `aeg-event-type: SubscriptionValidation` → `{"validationResponse": code}` when
//!   the validation event's topic is allowed, else 403.
//! - `OPTIONS` with `WebHook-Request-Origin: eventgrid.azure.net` (the CloudEvents handshake) →
//!   200 with `WebHook-Allowed-Origin` and `WebHook-Allowed-Rate: *`; any other origin → 403.
//! - `POST` with `aeg-event-type: Unsubscribe` → 200.
//! - `POST` of an Event Grid array, a CloudEvent or a CloudEvents batch → events from allowed
//!   topics are ingested and sunk, 200; a delivery with no event from an allowed topic → 403.
//!
//! Event Grid never retries 400, 403 or 413, so those are kept for bodies that no redelivery
//! could fix (not JSON, not events, too big, from a topic we do not take); unknown event types
//! get 200 and a log line, and only a retryable sink failure gets 503 so that Event Grid
//! delivers again.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiError, AppState, deliver, screen};
use crate::ingest::{self, IngestError, Ingested};
use crate::pipeline::PipelineError;
use crate::topics::ALLOWED_TOPICS_SETTING;

const AEG_EVENT_TYPE: &str = "aeg-event-type";
const WEBHOOK_REQUEST_ORIGIN: &str = "webhook-request-origin";
const ROUTE: &str = "/api/eventgrid";
/// The origin Event Grid names in the CloudEvents abuse-protection handshake.
pub(crate) const EVENT_GRID_ORIGIN: &str = "eventgrid.azure.net";
/// The setting that turns the route off.
pub(crate) const WEBHOOK_SETTING: &str = "CADENCE_EVENTGRID_WEBHOOK";

fn disabled() -> ApiError {
    ApiError::NotFound(format!(
        "the Event Grid webhook /api/eventgrid is turned off ({WEBHOOK_SETTING}=off); AKS events reach this app through the aks-events Event Grid trigger. Set {WEBHOOK_SETTING}=on to subscribe a webhook to it"
    ))
}

/// A JSON body read within `AppState::max_body_bytes`, with our error shape for what is
/// wrong: 413 when too big, 400 naming the problem when not JSON.
pub(crate) struct JsonPayload(pub Value);

impl FromRequest<AppState> for JsonPayload {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit: state.max_body_bytes }
            } else {
                ApiError::UnreadableBody(rejection.body_text())
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonPayload).map_err(|e| ApiError::MalformedJson(ingest::describe_json_error(&e)))
    }
}

/// `OPTIONS /api/eventgrid`: the CloudEvents webhook handshake (abuse protection). Event Grid
/// names itself `eventgrid.azure.net` in `WebHook-Request-Origin`; only that origin is allowed
/// (403 without `WebHook-Allowed-Origin` for any other, which the CloudEvents webhook spec reads
/// as "not allowed"). The handshake carries no topic, so the topic allow-list applies to the
/// deliveries that follow; who may deliver at all is decided by the function key (or Entra
/// auth) in front of this route.
pub(crate) async fn handshake(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.gate.webhook {
        return disabled().into_response();
    }
    let mut response = StatusCode::OK.into_response();
    if let Some(origin) = headers.get(WEBHOOK_REQUEST_ORIGIN) {
        let shown = String::from_utf8_lossy(origin.as_bytes()).into_owned();
        if !shown.trim().eq_ignore_ascii_case(EVENT_GRID_ORIGIN) {
            tracing::warn!(route = ROUTE, origin = %shown, "CloudEvents webhook handshake refused: the origin is not Event Grid");
            return ApiError::OriginNotAllowed(format!(
                "WebHook-Request-Origin `{shown}` is not allowed: this endpoint takes deliveries from Azure Event Grid ({EVENT_GRID_ORIGIN}) only"
            ))
            .into_response();
        }
        tracing::info!(route = ROUTE, origin = %shown, "CloudEvents webhook handshake");
        let h = response.headers_mut();
        h.insert("webhook-allowed-origin", HeaderValue::from_static(EVENT_GRID_ORIGIN));
        h.insert("webhook-allowed-rate", HeaderValue::from_static("*"));
    }
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    response
}

/// `POST /api/eventgrid`.
///
/// Events whose topic is not allowed are refused one by one and logged. A delivery in which no
/// event is allowed is answered 403: Event Grid does not retry it (it dead-letters or drops
/// it), which is right for events from elsewhere. A mixed delivery — some events allowed, some
/// not — is answered for its allowed events (200, or 503 when they must be retried): failing it
/// would make Event Grid dead-letter or redeliver the allowed events too, and no redelivery
/// changes a refused event's topic. (A real Event Grid delivery comes from one subscription,
/// hence one topic, so a mixed batch means hand-made or custom-topic input.)
pub(crate) async fn deliver_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonPayload, ApiError>,
) -> Result<Response, ApiError> {
    if !state.gate.webhook {
        return Err(disabled());
    }
    let aeg_type = headers.get(AEG_EVENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    if aeg_type == "unsubscribe" {
        tracing::info!(route = ROUTE, "Event Grid unsubscribe notice; acknowledged");
        return Ok(Json(json!({"status": "unsubscribed"})).into_response());
    }
    let JsonPayload(value) = body?;
    let delivered = ingest::ingest_delivery(value).map_err(|e| match e {
        IngestError::MalformedJson(m) => ApiError::MalformedJson(m),
        IngestError::NotAnEvent(m) => {
            ApiError::NotAnEvent(format!("{m}. This endpoint takes an Event Grid event array, a CloudEvent, or a CloudEvents batch"))
        }
    })?;
    let total = delivered.len();
    let mut logs = Vec::new();
    let (ingested, refused) = screen(&state, ROUTE, delivered, &mut logs);
    let refusal = |what: &str| {
        let topics: Vec<&str> = refused.iter().map(|r| r.topic.as_deref().unwrap_or("(none)")).collect();
        ApiError::TopicNotAllowed(format!(
            "{what} from topic {} is refused: the topic is not allowed here; if it should deliver here, add it to {ALLOWED_TOPICS_SETTING}",
            topics.join(", ")
        ))
    };

    let validation = ingested.iter().find_map(|i| match i {
        Ingested::SubscriptionValidation { validation_code, event_id, .. } => Some((validation_code.clone(), event_id.clone())),
        _ => None,
    });
    if let Some((code, event_id)) = validation {
        tracing::info!(route = ROUTE, event_id = %event_id, "answering the Event Grid subscription validation");
        return Ok(Json(json!({"validationResponse": code})).into_response());
    }
    if refused.iter().any(|r| r.validation) {
        return Err(refusal("the subscription validation"));
    }
    if aeg_type == "subscriptionvalidation" {
        return Err(ApiError::ValidationEventMissing(
            "aeg-event-type is SubscriptionValidation but the body holds no Microsoft.EventGrid.SubscriptionValidationEvent with data.validationCode; send the validation event Event Grid sent".into(),
        ));
    }
    if ingested.is_empty() && !refused.is_empty() {
        return Err(refusal("the delivery"));
    }

    let mut counts = Counts::of(&ingested);
    counts.events = total;
    counts.refused = refused.len();
    match deliver(&state, ROUTE, ingested, &mut logs).await {
        Ok(report) => {
            for line in &report.log {
                tracing::info!(route = ROUTE, "{line}");
            }
            Ok(Json(counts.to_json()).into_response())
        }
        Err(PipelineError::Retryable(why)) => {
            tracing::warn!(route = ROUTE, reason = %why, "retryable failure; answering 503 so Event Grid delivers again");
            Err(ApiError::RetryLater)
        }
        Err(PipelineError::Configuration(why)) => {
            tracing::warn!(route = "/api/eventgrid", reason = %why, "configuration failure; answering 503 so Event Grid delivers again after the fix");
            Err(ApiError::RetryLater)
        }
        Err(PipelineError::Permanent(why)) => {
            // A bug or misconfiguration: a redelivery would fail the same way, so acknowledge.
            tracing::error!(route = ROUTE, error = %why, "pipeline failed; a retry cannot help, acknowledging");
            Ok(Json(counts.to_json()).into_response())
        }
    }
}

/// The success body: counts only (never plan details — the webhook is reachable from outside).
struct Counts {
    events: usize,
    signals: usize,
    unknown: usize,
    ignored: usize,
    /// Events from topics that are not allowed (logged, not processed).
    refused: usize,
}

impl Counts {
    fn of(ingested: &[Ingested]) -> Self {
        let mut c = Self { events: ingested.len(), signals: 0, unknown: 0, ignored: 0, refused: 0 };
        for i in ingested {
            match i {
                Ingested::Signals { signals, .. } => c.signals += signals.len(),
                Ingested::Unknown { .. } => c.unknown += 1,
                Ingested::Ignored { .. } => c.ignored += 1,
                Ingested::SubscriptionValidation { .. } => {}
            }
        }
        c
    }

    fn to_json(&self) -> Value {
        let mut v = json!({"events": self.events, "signals": self.signals, "unknown": self.unknown, "ignored": self.ignored});
        // Only when something was refused: the four counts stay the whole answer otherwise.
        if self.refused > 0 {
            v["refused"] = json!(self.refused);
        }
        v
    }
}
