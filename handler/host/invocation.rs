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
        (status, [(axum::http::header::CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"))], self.to_json())
            .into_response()
    }

    /// The answer's JSON text, as `serde_json` writes it. The usual answer (no outputs, no
    /// return value: log lines only) is written straight into one buffer of the right size.
    pub fn to_json(&self) -> String {
        if !(self.outputs.is_empty() && self.return_value.is_null()) {
            return serde_json::to_string(self).expect("an invocation response serializes");
        }
        let mut out = String::with_capacity(48 + self.logs.iter().map(|l| l.len() + 8).sum::<usize>());
        out.push_str("{\"Outputs\":{},\"Logs\":[");
        for (i, line) in self.logs.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            crate::json_text::escape(&mut out, line);
        }
        out.push_str("],\"ReturnValue\":null}");
        out
    }
}

/// `POST /aks-events`.
///
/// The answer is written after the runtime's other ready work (`yield_now`: the requests already
/// read, and its next look at the sockets), so the answers to a burst of invocations go out
/// together. Each answer written while the Functions host's threads sleep wakes one of them, and
/// on the same machine that wake-up is paid by the handler's CPU (the TCP send runs the host's
/// receive and schedules its thread); answers that go out together wake it once. With no other
/// work ready the task resumes after that look at the sockets, which does not wait. Measured in
/// docs/host.md (*Answers written together*).
pub(crate) async fn aks_events(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let response = answer_event(state, body).await;
    tokio::task::yield_now().await;
    response
}

/// What [`aks_events`] answers.
async fn answer_event(state: AppState, body: Result<Bytes, BytesRejection>) -> Response {
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

/// Invocation body → ingested events; `Err` is the reason, for the log.
///
/// The common body — an object whose `Data` holds the event binding, as an object or a
/// string — is read without a `Value` tree: `Metadata` is skipped unread and the event goes
/// straight into its envelope type (`ingest::ingest_event_text`). Anything else, and every
/// body that is not an event, takes [`read_event_general`], which gives the same answer for
/// what the fast path reads and says what is wrong with the rest.
fn read_event(body: &[u8]) -> Result<Vec<ingest::Delivered>, String> {
    match read_event_typed(body) {
        Some(read) => read,
        None => read_event_general(body),
    }
}

/// The invocation envelope as the Functions host sends it, `Metadata` left unread.
#[derive(Deserialize)]
struct TypedInvocation<'a> {
    #[serde(rename = "Data", borrow)]
    data: std::collections::BTreeMap<&'a str, &'a serde_json::value::RawValue>,
}

/// The fast path of [`read_event`]; `None` hands the body to [`read_event_general`].
fn read_event_typed(body: &[u8]) -> Option<Result<Vec<ingest::Delivered>, String>> {
    let text = std::str::from_utf8(body).ok()?;
    let invocation: TypedInvocation = serde_json::from_str(text).ok()?;
    let event = match invocation.data.get(EVENT_BINDING) {
        Some(event) => *event,
        None if invocation.data.len() == 1 => *invocation.data.values().next().expect("one entry"),
        None => return None,
    };
    let delivered = ingest::ingest_event_text(event.get())?;
    Some(delivered.map(|one| vec![one]).map_err(binding_error))
}

/// Invocation body → ingested events through a `Value`: any body, and the reason when it is
/// not an event. Works on owned values throughout: the body is parsed once and nothing is
/// copied.
fn read_event_general(body: &[u8]) -> Result<Vec<ingest::Delivered>, String> {
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
    ingest::ingest_delivery(event).map_err(binding_error)
}

/// Why the event binding is not an event, for the log.
fn binding_error(e: IngestError) -> String {
    match e {
        IngestError::MalformedJson(m) => format!("Data.{EVENT_BINDING} holds malformed JSON: {m}"),
        IngestError::NotAnEvent(m) => format!("Data.{EVENT_BINDING} is not an event: {m}"),
    }
}

#[cfg(test)]
mod tests {
    //! The fast path of `read_event` against the general one: the same answer for every body
    //! it takes (Microsoft's payloads, as objects and as strings, and hostile variants), and the
    //! general path for every body it does not.
    use super::*;
    use serde_json::json;

    fn body(event: &Value) -> Vec<u8> {
        // The host's `Metadata` repeats event fields; the fast path must skip it unread.
        json!({"Data": {EVENT_BINDING: event}, "Metadata": {"data": event, "sys": {"MethodName": "aks-events"}}}).to_string().into_bytes()
    }

    /// Both paths on `body`: whether the fast one took it, and (when it did) that it agrees.
    fn fast_agrees(body: &[u8]) -> bool {
        let general = read_event_general(body);
        match read_event_typed(body) {
            Some(typed) => {
                assert_eq!(typed, general, "the fast path differs on {}", String::from_utf8_lossy(body));
                true
            }
            None => false,
        }
    }

    #[test]
    fn every_real_event_takes_the_fast_path_as_an_object_and_as_a_string_with_the_general_paths_answer() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventgrid");
        let mut events = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let is_event = ["eventType", "specversion", "specVersion"].iter().any(|k| event.get(k).is_some());
            for binding in [event.clone(), Value::String(event.to_string())] {
                let taken = fast_agrees(&body(&binding));
                assert_eq!(taken, is_event, "{}: fast path taken: {taken}", path.display());
                // A renamed binding carries the event when it is the only one.
                let renamed = json!({"Data": {"eventGridEvent": binding}}).to_string();
                assert_eq!(fast_agrees(renamed.as_bytes()), is_event, "{}, renamed binding", path.display());
            }
            events += usize::from(is_event);
        }
        assert!(events >= 19, "expected Microsoft's event payloads in {}, found {events}", dir.display());
    }

    #[test]
    fn bodies_the_fast_path_cannot_read_exactly_go_to_the_general_path() {
        let eg = r#"{"id":"e1","topic":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1","subject":"c1","eventType":"Microsoft.ContainerService.NewKubernetesVersionAvailable","eventTime":"2026-03-01T00:00:00Z","data":{"latestSupportedKubernetesVersion":"1.31.2","latestStableKubernetesVersion":"1.30.6","lowestMinorKubernetesVersion":"1.28.9","latestPreviewKubernetesVersion":"1.32.0"},"dataVersion":"1","metadataVersion":"1"}"#;
        let ce = r#"{"id":"c1","source":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c1","type":"Microsoft.ContainerService.NodePoolRollingStarted","time":"2026-03-01T00:00:00Z","data":{"nodePoolName":"np1"},"specversion":"1.0"}"#;
        let wrap = |event: &str| format!(r#"{{"Data":{{"event":{event}}},"Metadata":{{}}}}"#);
        let cases: Vec<(&str, String, bool)> = vec![
            ("an Event Grid event", wrap(eg), true),
            ("a CloudEvent", wrap(ce), true),
            ("an event given as a string", wrap(&serde_json::to_string(eg).unwrap()), true),
            ("data given as a string holding JSON", wrap(&eg.replace(r#""data":{"latestSupportedKubernetesVersion":"1.31.2","latestStableKubernetesVersion":"1.30.6","lowestMinorKubernetesVersion":"1.28.9","latestPreviewKubernetesVersion":"1.32.0"}"#, r#""data":"{\"latestSupportedKubernetesVersion\":\"1.31.2\"}""#)), true),
            ("a CloudEvent of specversion 2.0 (refused by both)", wrap(&ce.replace(r#""specversion":"1.0""#, r#""specversion":"2.0""#)), true),
            ("an Event Grid event that also has CloudEvents keys", wrap(&eg.replace(r#""dataVersion""#, r#""specversion":"1.0","type":"x","source":"y","dataVersion""#)), true),
            ("a key written with escapes", wrap(&ce.replace(r#""nodePoolName""#, r#""node\u0050oolName""#)), true),
            ("a duplicate id (a Value keeps the last)", wrap(&eg.replace(r#"{"id":"e1","#, r#"{"id":"e0","id":"e1","#)), false),
            ("a duplicate source in a CloudEvent", wrap(&ce.replace(r#""type""#, r#""source":"/x","type""#)), false),
            ("eventType null on a CloudEvent's keys", wrap(&ce.replace(r#""type""#, r#""eventType":null,"type""#)), false),
            ("eventType written with escapes on a CloudEvent", wrap(&ce.replace(r#""type""#, r#""event\u0054ype":5,"type""#)), false),
            ("both specversion spellings", wrap(&ce.replace(r#""specversion":"1.0""#, r#""specversion":"1.0","specVersion":"1.0""#)), false),
            ("an id that is a number", wrap(&eg.replace(r#""id":"e1""#, r#""id":1"#)), false),
            ("no schema keys", wrap(r#"{"hello":"world"}"#), false),
            ("a batch", wrap(&format!("[{eg},{ce}]")), false),
            ("an event encoded twice", wrap(&serde_json::to_string(&serde_json::to_string(eg).unwrap()).unwrap()), false),
            ("a string that is not JSON", wrap(r#""hello""#), false),
            ("Data given as a string", format!(r#"{{"Data":{}}}"#, serde_json::to_string(&wrap(eg)).unwrap()), false),
            ("a body given as a string", serde_json::to_string(&wrap(eg)).unwrap(), false),
            ("two bindings, neither named event", format!(r#"{{"Data":{{"a":{eg},"b":{ce}}}}}"#), false),
            ("a binding name written with escapes", format!(r#"{{"Data":{{"\u0065vent":{eg}}}}}"#), false),
            ("no Data", r#"{"Metadata":{}}"#.to_string(), false),
            ("two Data keys", format!(r#"{{"Data":{{"event":{ce}}},"Data":{{"event":{eg}}}}}"#), false),
            ("text after the body", format!("{} x", wrap(eg)), false),
        ];
        for (name, body, fast) in &cases {
            assert_eq!(fast_agrees(body.as_bytes()), *fast, "{name}: fast path taken");
        }
        let mut not_utf8 = wrap(eg).into_bytes();
        not_utf8.insert(10, 0xff);
        assert!(!fast_agrees(&not_utf8), "a body that is not UTF-8");
        // The cases the general path reads as an event, which the fast path left to it.
        for name in ["a duplicate id (a Value keeps the last)", "a batch", "two Data keys", "a binding name written with escapes"] {
            let body = &cases.iter().find(|c| c.0 == name).unwrap().1;
            assert!(read_event(body.as_bytes()).is_ok(), "{name}: {:?}", read_event(body.as_bytes()));
        }
    }

    #[test]
    fn the_answer_is_the_text_serde_json_writes_for_it() {
        let lines = || vec!["event e-1 (Microsoft.ContainerService.ClusterSupportEnded) ingested".to_string(), "dry-run: log k: \"1.29\" → 1.30\n\\ \u{1} 日本".to_string(), String::new()];
        let mut answers = vec![
            InvocationResponse::default(),
            InvocationResponse::with_logs(lines()),
            InvocationResponse::with_logs(vec!["one".into()]),
            InvocationResponse { return_value: json!({"status": 200}), ..InvocationResponse::with_logs(lines()) },
        ];
        let mut with_output = InvocationResponse::with_logs(lines());
        with_output.outputs.insert("queue".into(), json!({"a": "b"}));
        answers.push(with_output);
        for answer in &answers {
            assert_eq!(answer.to_json(), serde_json::to_string(answer).unwrap(), "{answer:?}");
        }
        let response = InvocationResponse::with_logs(lines()).into_response_with(StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[axum::http::header::CONTENT_TYPE], "application/json");
    }
}
