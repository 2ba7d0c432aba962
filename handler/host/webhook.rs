//! `/api/eventgrid`: a direct Event Grid webhook subscription, forwarded verbatim by the
//! Functions host (`enableForwardingHttpRequest`).
//!
//! - `POST` with `aeg-event-type: SubscriptionValidation` → `{"validationResponse": code}`.
//! - `OPTIONS` with `WebHook-Request-Origin` (the CloudEvents handshake) → 200 with
//!   `WebHook-Allowed-Origin` and `WebHook-Allowed-Rate: *`.
//! - `POST` with `aeg-event-type: Unsubscribe` → 200.
//! - `POST` of an Event Grid array, a CloudEvent or a CloudEvents batch → ingest, sink, 200.
//!
//! Event Grid never retries 400 or 413, so those are kept for bodies that no redelivery could
//! fix (not JSON, not events, too big); unknown event types get 200 and a log line, and only a
//! retryable sink failure gets 503 so that Event Grid delivers again.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{ApiError, AppState, deliver};
use crate::ingest::{self, IngestError, Ingested};
use crate::pipeline::PipelineError;

const AEG_EVENT_TYPE: &str = "aeg-event-type";
const WEBHOOK_REQUEST_ORIGIN: &str = "webhook-request-origin";

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

/// `OPTIONS /api/eventgrid`: the CloudEvents webhook handshake (abuse protection). We allow
/// the origin that asks; who may deliver at all is decided by the function key (or Entra
/// auth) in front of this route.
pub(crate) async fn handshake(headers: HeaderMap) -> Response {
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    h.insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    if let Some(origin) = headers.get(WEBHOOK_REQUEST_ORIGIN) {
        tracing::info!(route = "/api/eventgrid", origin = ?origin, "CloudEvents webhook handshake");
        h.insert("webhook-allowed-origin", origin.clone());
        h.insert("webhook-allowed-rate", HeaderValue::from_static("*"));
    }
    response
}

/// `POST /api/eventgrid`.
pub(crate) async fn deliver_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonPayload, ApiError>,
) -> Result<Response, ApiError> {
    let aeg_type = headers.get(AEG_EVENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    if aeg_type == "unsubscribe" {
        tracing::info!(route = "/api/eventgrid", "Event Grid unsubscribe notice; acknowledged");
        return Ok(Json(json!({"status": "unsubscribed"})).into_response());
    }
    let JsonPayload(value) = body?;
    let ingested = ingest::ingest_owned(value).map_err(|e| match e {
        IngestError::MalformedJson(m) => ApiError::MalformedJson(m),
        IngestError::NotAnEvent(m) => {
            ApiError::NotAnEvent(format!("{m}. This endpoint takes an Event Grid event array, a CloudEvent, or a CloudEvents batch"))
        }
    })?;

    let validation = ingested.iter().find_map(|i| match i {
        Ingested::SubscriptionValidation { validation_code, event_id, .. } => Some((validation_code.clone(), event_id.clone())),
        _ => None,
    });
    if let Some((code, event_id)) = validation {
        tracing::info!(route = "/api/eventgrid", event_id = %event_id, "answering the Event Grid subscription validation");
        return Ok(Json(json!({"validationResponse": code})).into_response());
    }
    if aeg_type == "subscriptionvalidation" {
        return Err(ApiError::ValidationEventMissing(
            "aeg-event-type is SubscriptionValidation but the body holds no Microsoft.EventGrid.SubscriptionValidationEvent with data.validationCode; send the validation event Event Grid sent".into(),
        ));
    }

    let counts = Counts::of(&ingested);
    let mut logs = Vec::new();
    match deliver(&state, "/api/eventgrid", ingested, &mut logs).await {
        Ok(report) => {
            for line in &report.log {
                tracing::info!(route = "/api/eventgrid", "{line}");
            }
            Ok(Json(counts.to_json()).into_response())
        }
        Err(PipelineError::Retryable(why)) => {
            tracing::warn!(route = "/api/eventgrid", reason = %why, "retryable failure; answering 503 so Event Grid delivers again");
            Err(ApiError::RetryLater)
        }
        Err(PipelineError::Configuration(why)) => {
            tracing::warn!(route = "/api/eventgrid", reason = %why, "configuration failure; answering 503 so Event Grid delivers again after the fix");
            Err(ApiError::RetryLater)
        }
        Err(PipelineError::Permanent(why)) => {
            // A bug or misconfiguration: a redelivery would fail the same way, so acknowledge.
            tracing::error!(route = "/api/eventgrid", error = %why, "pipeline failed; a retry cannot help, acknowledging");
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
}

impl Counts {
    fn of(ingested: &[Ingested]) -> Self {
        let mut c = Self { events: ingested.len(), signals: 0, unknown: 0, ignored: 0 };
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
        json!({"events": self.events, "signals": self.signals, "unknown": self.unknown, "ignored": self.ignored})
    }
}
