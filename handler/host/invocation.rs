//! The custom-handler invocation protocol for non-HTTP triggers, and `POST /aks-events`.
//!
//! The Functions host posts `{"Data": {<binding>: value}, "Metadata": {...}}` to
//! `/{FunctionName}` and reads back `{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}`.
//! Any non-2xx answer fails the invocation; for the Event Grid trigger the host then answers
//! 500 to Event Grid, which delivers again (up to 24 h). So `/aks-events` answers non-2xx
//! only for [`PipelineError::Retryable`] and [`PipelineError::Configuration`] (a setting to fix:
//! the redelivery after the fix does the work); everything a redelivery would bring back unchanged
//! — a body that is not an event, an event we do not handle, an oversize body, an event from a
//! topic that `CADENCE_EVENTGRID_ALLOWED_TOPICS` does not allow — is answered 200 with a log
//! line saying why, so it is not retried for a day to no effect.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{AppState, deliver, screen};
use crate::ingest::{self, IngestError};
use crate::pipeline::PipelineError;

/// The binding name of the `aks-events` eventGridTrigger (function.json `name`).
pub const EVENT_BINDING: &str = "event";

/// How much larger than `max_body_bytes` an invocation body may be: the host wraps the event
/// in `Data` and adds trigger `Metadata`, which can repeat event fields.
pub(crate) fn body_limit(max_body_bytes: usize) -> usize {
    max_body_bytes.saturating_mul(4).saturating_add(64 * 1024)
}

/// What the Functions host posts for a non-HTTP trigger.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InvocationRequest {
    /// Binding name → value. Values may be JSON, or JSON strings holding JSON (sometimes
    /// encoded twice): decode with [`crate::ingest::decode_owned`].
    #[serde(rename = "Data", default)]
    pub data: Map<String, Value>,
    #[serde(rename = "Metadata", default)]
    pub metadata: Map<String, Value>,
}

/// What the handler answers to the Functions host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationResponse {
    /// Output binding name → value. Emit queue messages as JSON objects: a string that
    /// happens to be valid base64 is turned into bytes by the host.
    #[serde(rename = "Outputs")]
    pub outputs: Map<String, Value>,
    /// Lines the host writes to its own log (Application Insights) for this invocation.
    #[serde(rename = "Logs")]
    pub logs: Vec<String>,
    /// Bound to a `$return` output when the function has one; ignored otherwise.
    #[serde(rename = "ReturnValue")]
    pub return_value: Value,
}

impl InvocationResponse {
    pub fn with_logs(logs: Vec<String>) -> Self {
        Self { logs, ..Self::default() }
    }

    /// The response with a status: 200 for success, non-2xx to fail the invocation.
    pub fn into_response_with(self, status: StatusCode) -> Response {
        (status, Json(self)).into_response()
    }
}

/// `POST /aks-events`.
pub(crate) async fn aks_events(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let mut logs = Vec::new();
    let ingested = match body.map_err(|r| unreadable(&r, &state)).and_then(|b| read_event(&b)) {
        Ok(ingested) => ingested,
        Err(why) => {
            // Retrying cannot change these bytes: acknowledge, and say why loudly.
            tracing::error!(route = "/aks-events", reason = %why, "invocation body is not an event; acknowledged without processing");
            logs.push(format!("not processed, acknowledged so it is not retried: {why}"));
            return InvocationResponse::with_logs(logs).into_response_with(StatusCode::OK);
        }
    };
    if ingested.is_empty() {
        logs.push("the delivery held no events".into());
    }
    // A foreign topic's event is acknowledged (200) with the log line `screen` wrote: failing
    // the invocation would have Event Grid retry it for a day, and no retry changes its topic.
    let (ingested, _refused) = screen(&state, "/aks-events", ingested, &mut logs);
    match deliver(&state, "/aks-events", ingested, &mut logs).await {
        Ok(report) => {
            logs.extend(report.log);
            InvocationResponse::with_logs(logs).into_response_with(StatusCode::OK)
        }
        Err(PipelineError::Retryable(why)) => {
            tracing::warn!(route = "/aks-events", reason = %why, "retryable failure; failing the invocation so Event Grid delivers again");
            logs.push(format!("retryable failure, failing the invocation so Event Grid delivers again: {why}"));
            InvocationResponse::with_logs(logs).into_response_with(StatusCode::INTERNAL_SERVER_ERROR)
        }
        Err(PipelineError::Configuration(why)) => {
            // Logged at error level once per setting by the pipeline; the host's own line is a
            // warning so a broken token does not flood the log.
            tracing::warn!(route = "/aks-events", reason = %why, "configuration failure; failing the invocation so Event Grid delivers again after the fix");
            logs.push(format!("configuration failure, failing the invocation so Event Grid delivers again after the fix: {why}"));
            InvocationResponse::with_logs(logs).into_response_with(StatusCode::INTERNAL_SERVER_ERROR)
        }
        Err(PipelineError::Permanent(why)) => {
            tracing::error!(route = "/aks-events", error = %why, "pipeline failed; a retry cannot help, acknowledging");
            logs.push(format!("failed, not retried (a retry cannot help): {why}"));
            InvocationResponse::with_logs(logs).into_response_with(StatusCode::OK)
        }
    }
}

fn unreadable(rejection: &BytesRejection, state: &AppState) -> String {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        format!("the invocation body is larger than {} bytes (CADENCE_MAX_BODY_BYTES × 4 + 64 KiB)", body_limit(state.max_body_bytes))
    } else {
        format!("the invocation body could not be read: {}", rejection.body_text())
    }
}

/// Invocation body → ingested events; `Err` is the reason, for the log. Works on owned values
/// throughout: the body is parsed once and nothing is copied.
fn read_event(body: &[u8]) -> Result<Vec<ingest::Delivered>, String> {
    let raw: Value =
        serde_json::from_slice(body).map_err(|e| format!("the invocation body is not JSON: {}", ingest::describe_json_error(&e)))?;
    let raw = ingest::decode_owned(raw).map_err(|e| e.to_string())?;
    let Value::Object(mut envelope) = raw else {
        return Err("the invocation body is not {\"Data\": {...}, \"Metadata\": {...}}: it is not a JSON object".into());
    };
    let data = ingest::decode_owned(envelope.remove("Data").unwrap_or(Value::Null)).map_err(|e| e.to_string())?;
    let Value::Object(mut data) = data else {
        return Err("the invocation body's `Data` is not an object of binding names".into());
    };
    let event = match data.remove(EVENT_BINDING) {
        Some(v) => v,
        // A renamed binding still carries the event when it is the only one.
        None if data.len() == 1 => data.into_iter().next().expect("one entry").1,
        None => {
            let names: Vec<&str> = data.keys().map(String::as_str).collect();
            return Err(format!(
                "Data has no `{EVENT_BINDING}` binding (found: [{}]); the eventGridTrigger in function-definitions/aks-events/function.json must be named `{EVENT_BINDING}`",
                names.join(", ")
            ));
        }
    };
    ingest::ingest_delivery(event).map_err(|e| match e {
        IngestError::MalformedJson(m) => format!("Data.{EVENT_BINDING} holds malformed JSON: {m}"),
        IngestError::NotAnEvent(m) => format!("Data.{EVENT_BINDING} is not an event: {m}"),
    })
}
