//! Ingestion: Event Grid and CloudEvents wire types → [`Signal`]. Wire types stop here.
//!
//! ```text
//! ingest_value(json)           decode strings-holding-JSON, split batches
//!   ├─ eventgrid::parse        Event Grid schema envelope  ┐
//!   ├─ cloudevents::parse      CloudEvents 1.0 envelope    ┘→ Envelope (schema-neutral)
//!   └─ classify(Envelope)
//!        ├─ aks::ingest            Microsoft.ContainerService.*           → Signal
//!        ├─ notifications::ingest  ResourceNotifications ScheduledEventEmitted → Signal per cluster
//!        ├─ SubscriptionValidationEvent                                    → SubscriptionValidation
//!        └─ anything else                                                  → Unknown
//! ```
//!
//! Two kinds of "no": a payload that is not an event at all is an [`IngestError`] (the caller
//! decides the status code); an event we read but cannot use (a type we do not handle, a
//! topic that is not a cluster id, a required field missing) is a successful
//! [`Ingested::Unknown`] / [`Ingested::Ignored`] with the reason, because Event Grid must get a
//! success for it — a retry would bring the same bytes back.
//!
//! Layer: edge: wire types in, `Signal` out; imports the core only.

mod aks;
mod cloudevents;
mod eventgrid;
mod notifications;

use jiff::Timestamp;
use serde_json::Value;

use crate::domain::{ClusterFacts, ClusterId, Origin, Signal, SignalKind, in_time_range, time_range};
use crate::policy::versions::AksVersion;

pub use cloudevents::CloudEvent;
pub use eventgrid::EventGridEvent;

/// The Event Grid type of the webhook validation handshake.
pub const SUBSCRIPTION_VALIDATION_EVENT: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";

/// How many times a string holding JSON is decoded before we give up (the Functions host
/// encodes at most twice in practice; the bound keeps hostile input cheap).
const MAX_DECODE_DEPTH: usize = 8;

/// What one delivered event turned into.
#[derive(Debug, Clone, PartialEq)]
pub enum Ingested {
    /// A domain signal (one event may concern several clusters: an ARN notice lists resources).
    Signals { event_id: String, event_type: String, signals: Vec<Signal> },
    /// A type we do not handle (logged, acknowledged with success).
    Unknown { event_id: String, event_type: String },
    /// `SubscriptionValidationEvent` (only meaningful on the webhook path).
    SubscriptionValidation { event_id: String, validation_code: String, validation_url: Option<String> },
    /// A type we handle, but this event cannot become a signal (its topic is not a cluster id,
    /// a required field is missing or unreadable). Acknowledged with success like `Unknown`:
    /// a redelivery would carry the same bytes. `reason` says what was wrong.
    Ignored { event_id: String, event_type: String, reason: String },
}

impl Ingested {
    pub fn event_id(&self) -> &str {
        match self {
            Self::Signals { event_id, .. }
            | Self::Unknown { event_id, .. }
            | Self::SubscriptionValidation { event_id, .. }
            | Self::Ignored { event_id, .. } => event_id,
        }
    }

    pub fn event_type(&self) -> &str {
        match self {
            Self::Signals { event_type, .. } | Self::Unknown { event_type, .. } | Self::Ignored { event_type, .. } => event_type,
            Self::SubscriptionValidation { .. } => SUBSCRIPTION_VALIDATION_EVENT,
        }
    }

    /// One human line for logs (and the Functions host `Logs` array). Never contains secrets:
    /// only ids, types, cluster ids and reasons derived from the payload's shape.
    pub fn describe(&self) -> String {
        match self {
            Self::Signals { event_id, event_type, signals } => {
                let clusters: Vec<&str> = signals.iter().map(|s| s.cluster.as_str()).collect();
                let kind = signals.first().map(|s| s.kind.name()).unwrap_or("none");
                format!("event {event_id} ({event_type}): {} {kind} signal(s) for {}", signals.len(), clusters.join(", "))
            }
            Self::Unknown { event_id, event_type } => {
                format!("event {event_id}: type {event_type} is not handled; acknowledged and ignored")
            }
            Self::SubscriptionValidation { event_id, .. } => {
                format!("event {event_id}: Event Grid subscription validation")
            }
            Self::Ignored { event_id, event_type, reason } => {
                format!("event {event_id} ({event_type}) ignored: {reason}")
            }
        }
    }
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("not an Event Grid or CloudEvents event: {0}")]
    NotAnEvent(String),
}

/// Parses one event or a batch (JSON value: object or array; strings holding JSON are decoded,
/// repeatedly) in Event Grid schema or CloudEvents 1.0.
///
/// An empty array is an empty batch (`Ok(vec![])`). Any element that is not an event makes the
/// whole payload an error: Event Grid itself never produces such a batch, so it is a caller's
/// mistake worth reporting rather than half-processing.
pub fn ingest_value(value: &Value) -> Result<Vec<Ingested>, IngestError> {
    ingest_owned(value.clone())
}

/// [`ingest_value`] for a value the caller no longer needs (the host's request bodies): no copy.
pub fn ingest_owned(value: Value) -> Result<Vec<Ingested>, IngestError> {
    ingest_delivery(value).map(|events| events.into_iter().map(|d| d.ingested).collect())
}

/// One delivered event with the topic it names (Event Grid `topic` / CloudEvents `source`), so
/// the host can apply the topic allow-list (`crate::topics`) before anything is planned.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub topic: Option<String>,
    pub ingested: Ingested,
}

/// [`ingest_owned`], keeping each event's topic.
pub fn ingest_delivery(value: Value) -> Result<Vec<Delivered>, IngestError> {
    match decode_owned(value)? {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                decode_owned(item).and_then(ingest_one).map_err(|e| match e {
                    IngestError::NotAnEvent(m) => IngestError::NotAnEvent(format!("batch element {i}: {m}")),
                    IngestError::MalformedJson(m) => IngestError::MalformedJson(format!("batch element {i}: {m}")),
                })
            })
            .collect(),
        other => ingest_one(other).map(|one| vec![one]),
    }
}

/// [`ingest_delivery`] for one event's JSON text (as the Functions host passes a binding),
/// read straight into its envelope type: no `Value` tree for the envelope, only for `data`.
/// Takes an Event Grid or CloudEvents object, or a JSON string holding one.
///
/// `None` when the text is anything else: a batch, a string holding JSON twice, an envelope
/// that does not fit its type (a missing or mistyped field, a duplicate key), an object with
/// neither schema's keys. The caller then takes [`ingest_delivery`], which gives the answer or
/// the error. Every answer this gives is the one `ingest_delivery` gives for the same text: a
/// typed read succeeds only where reading the `Value` succeeds with the same fields (duplicate
/// keys, which a `Value` resolves to the last, fail here), and only for the schema
/// `ingest_delivery` picks by the same keys.
pub fn ingest_event_text(text: &str) -> Option<Result<Delivered, IngestError>> {
    if text.starts_with('"') {
        let inner: String = serde_json::from_str(text).ok()?;
        return typed_event(&inner);
    }
    typed_event(text)
}

/// [`ingest_event_text`] for an object's text.
fn typed_event(text: &str) -> Option<Result<Delivered, IngestError>> {
    if !text.starts_with('{') {
        return None;
    }
    // The schema the text looks like is tried first. Either read, when it succeeds, is the one
    // `ingest_one` makes: an Event Grid event has `eventType` (it is required), and a CloudEvent
    // is taken only without one (it has `type` and `source`, which are required).
    let event_grid = || serde_json::from_str::<EventGridEvent>(text).ok().map(EventGridEvent::into_envelope);
    let cloud_event = || serde_json::from_str::<CloudEvent>(text).ok().filter(|e| !e.event_type_key.0).map(CloudEvent::into_envelope);
    let envelope = if text.contains("\"eventType\"") { event_grid().or_else(cloud_event) } else { cloud_event().or_else(event_grid) }?;
    Some(envelope.map(|envelope| Delivered { topic: envelope.source.clone(), ingested: classify(envelope) }))
}

/// A key that is there, with any value (`null` too); `default` is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Present(pub bool);

impl<'de> serde::Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <serde::de::IgnoredAny as serde::Deserialize>::deserialize(d).map(|_| Present(true))
    }
}

/// Parses raw bytes (a request body) and ingests them.
pub fn ingest_bytes(body: &[u8]) -> Result<Vec<Ingested>, IngestError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| IngestError::MalformedJson(describe_json_error(&e)))?;
    ingest_owned(value)
}

/// Decodes a value that may be a JSON string holding JSON (possibly encoded again), as the
/// Functions host sometimes delivers binding data. Stops at the first value that is not a
/// string, or at a string that does not parse as JSON (a plain string is returned as is).
pub fn decode_owned(mut value: Value) -> Result<Value, IngestError> {
    for _ in 0..MAX_DECODE_DEPTH {
        let Value::String(s) = &value else { return Ok(value) };
        match serde_json::from_str::<Value>(s) {
            Ok(inner) => value = inner,
            Err(_) => return Ok(value),
        }
    }
    match value {
        Value::String(_) => {
            Err(IngestError::MalformedJson(format!("a string still encodes JSON after {MAX_DECODE_DEPTH} rounds of decoding")))
        }
        other => Ok(other),
    }
}

/// [`decode_owned`] for a borrowed value; copies only when there is something to decode.
pub fn decode_nested(value: &Value) -> Result<std::borrow::Cow<'_, Value>, IngestError> {
    match value {
        Value::String(_) => decode_owned(value.clone()).map(std::borrow::Cow::Owned),
        other => Ok(std::borrow::Cow::Borrowed(other)),
    }
}

/// A description of a serde_json error with its line and column, for 400 bodies and logs.
pub fn describe_json_error(e: &serde_json::Error) -> String {
    // serde_json's Display already ends with "at line L column C".
    e.to_string()
}

/// The schema-neutral envelope both wire formats are read into.
#[derive(Debug, Clone)]
pub(crate) struct Envelope {
    pub id: String,
    pub event_type: String,
    /// Event Grid `topic` / CloudEvents `source`: for AKS events the cluster id; for Resource
    /// Notifications the subscription.
    pub source: Option<String>,
    pub subject: Option<String>,
    /// Event Grid `eventTime` / CloudEvents `time`, unparsed.
    pub time: Option<String>,
    /// The payload, already decoded if it arrived as a string or as `data_base64`.
    pub data: Value,
}

impl Envelope {
    fn unknown(&self) -> Ingested {
        Ingested::Unknown { event_id: self.id.clone(), event_type: self.event_type.clone() }
    }

    fn ignored(&self, reason: impl Into<String>) -> Ingested {
        Ingested::Ignored { event_id: self.id.clone(), event_type: self.event_type.clone(), reason: reason.into() }
    }

    fn origin(&self) -> Origin {
        Origin::EventGrid { event_id: self.id.clone(), event_type: self.event_type.clone() }
    }

    /// The event time; `Err` carries the reason for an `Ignored`.
    fn observed_at(&self) -> Result<Timestamp, String> {
        match self.time.as_deref() {
            None => Err("the event has no time (eventTime / time)".into()),
            Some(t) => parse_event_time(t),
        }
    }

    fn signal(&self, cluster: ClusterId, facts: ClusterFacts, kind: SignalKind, observed_at: Timestamp) -> Signal {
        Signal { cluster, facts, kind, observed_at, origin: self.origin() }
    }
}

/// Reads one decoded JSON value as one event.
fn ingest_one(value: Value) -> Result<Delivered, IngestError> {
    let Value::Object(map) = &value else {
        return Err(IngestError::NotAnEvent(format!(
            "expected a JSON object (one event) or an array of them, found {}; send an Event Grid event, an array of them, or a CloudEvent",
            kind_of(&value)
        )));
    };
    let is_event_grid = map.contains_key("eventType");
    let is_cloudevent =
        map.contains_key("specversion") || map.contains_key("specVersion") || (map.contains_key("type") && map.contains_key("source"));
    let envelope = if is_event_grid {
        eventgrid::parse(value)?
    } else if is_cloudevent {
        cloudevents::parse(value)?
    } else {
        return Err(IngestError::NotAnEvent(
            "the object has neither `eventType` (Event Grid schema) nor `specversion`/`type`/`source` (CloudEvents 1.0); send an Event Grid event or a CloudEvent"
                .into(),
        ));
    };
    let topic = envelope.source.clone();
    Ok(Delivered { topic, ingested: classify(envelope) })
}

/// Routes a parsed envelope by its type.
fn classify(envelope: Envelope) -> Ingested {
    let t = envelope.event_type.as_str();
    if t.eq_ignore_ascii_case(SUBSCRIPTION_VALIDATION_EVENT) {
        let code = envelope.data.get("validationCode").and_then(Value::as_str);
        return match code {
            Some(code) => Ingested::SubscriptionValidation {
                event_id: envelope.id.clone(),
                validation_code: code.to_string(),
                validation_url: envelope.data.get("validationUrl").and_then(Value::as_str).map(str::to_string),
            },
            None => envelope.ignored("a SubscriptionValidationEvent without data.validationCode"),
        };
    }
    if let Some(short) = strip_prefix_ignore_case(t, aks::TYPE_PREFIX) {
        return aks::ingest(&envelope, short);
    }
    if notifications::is_scheduled_event(&envelope) {
        return notifications::ingest(&envelope);
    }
    envelope.unknown()
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

/// Parses an RFC 3339 timestamp (Event Grid uses 7 fractional digits). A time without an
/// offset (ARN `resourceEventTime`) is taken as UTC, which is what ARM emits.
pub(crate) fn parse_time(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let civil: jiff::civil::DateTime = s.parse().ok()?;
    jiff::tz::TimeZone::UTC.to_timestamp(civil).ok()
}

/// An event's own time (`eventTime`, `time`, ARN `resourceEventTime`): RFC 3339 and inside
/// [`time_range`]. `Err` is the reason the event is ignored: "not an RFC 3339 timestamp" for
/// text that is not a time, "out of range" (with the range) for a time the ledger cannot store,
/// such as .NET's `0001-01-01T00:00:00Z`.
pub(crate) fn parse_event_time(s: &str) -> Result<Timestamp, String> {
    let out_of_range = || {
        let (min, max) = time_range();
        format!("the event time `{s}` is out of range: aks-cadence handles times from {min} to {max}")
    };
    match parse_time(s) {
        Some(t) if in_time_range(t) => Ok(t),
        Some(_) => Err(out_of_range()),
        // Well-formed but past what a timestamp holds at all (.NET's `DateTime.MaxValue`,
        // `9999-12-31T23:59:59.9999999Z`, is beyond the last instant jiff represents).
        None if jiff::fmt::temporal::Pieces::parse(s.trim()).is_ok() => Err(out_of_range()),
        None => Err(format!("the event time `{s}` is not an RFC 3339 timestamp")),
    }
}

/// A version a payload names is refused when a number in it is out of range (above
/// `versions::MAX_VERSION_NUMBER`, such as `1.18446744073709551615`): the event is ignored
/// with this reason rather than planned with a number nothing can compute with. Text that is
/// no version at all is left to the planner, whose messages quote it as given.
pub(crate) fn check_version(field: &str, value: Option<&str>) -> Result<(), String> {
    match value.map(AksVersion::parse) {
        Some(Err(e)) if e.out_of_range => Err(format!("{field}: {e}")),
        _ => Ok(()),
    }
}

/// A time in a payload's data that is really a .NET "no value" (`0001-01-01T00:00:00`, or
/// `9999-12-31T23:59:59.9999999`, `DateTime.MaxValue`) — anything before the Unix epoch or
/// past [`time_range`] — reads as absent.
pub(crate) fn parse_meaningful_time(s: &str) -> Option<Timestamp> {
    parse_time(s).filter(|t| t.as_second() > 0 && in_time_range(*t))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string that is not JSON",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_holding_json_are_decoded_until_they_are_not() {
        let inner = json!({"a": 1});
        let once = Value::String(inner.to_string());
        let twice = Value::String(once.to_string());
        assert_eq!(decode_nested(&twice).unwrap().as_ref(), &inner);
        let plain = Value::String("hello".into());
        assert_eq!(decode_nested(&plain).unwrap().as_ref(), &plain);
    }

    #[test]
    fn decoding_is_bounded() {
        let mut v = json!({"a": 1});
        for _ in 0..(MAX_DECODE_DEPTH + 2) {
            v = Value::String(v.to_string());
        }
        assert!(matches!(decode_nested(&v), Err(IngestError::MalformedJson(_))));
    }

    #[test]
    fn times_with_seven_fraction_digits_and_without_offset_parse() {
        assert!(parse_time("2023-03-29T18:00:00.0000000Z").is_some());
        assert_eq!(parse_time("2024-04-16T22:17:12.1032748"), parse_time("2024-04-16T22:17:12.1032748Z"));
        assert!(parse_meaningful_time("0001-01-01T00:00:00.0000000Z").is_none());
        assert!(parse_meaningful_time("9999-12-31T23:59:59.9999999Z").is_none());
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn event_times_outside_the_ledger_range_are_out_of_range_not_malformed() {
        for (input, want) in [
            ("2026-03-01T00:00:00Z", Ok(())),
            ("1677-09-21T00:12:43.145224192Z", Ok(())),
            ("2262-04-11T23:47:16.854775807Z", Ok(())),
            ("1677-09-21T00:12:43.145224191Z", Err("out of range")),
            ("2262-04-11T23:47:16.854775808Z", Err("out of range")),
            ("0001-01-01T00:00:00Z", Err("out of range")),
            ("0001-01-01T00:00:00", Err("out of range")),
            ("9999-12-31T23:59:59.9999999Z", Err("out of range")),
            ("yesterday", Err("not an RFC 3339 timestamp")),
            ("", Err("not an RFC 3339 timestamp")),
        ] {
            let got = parse_event_time(input);
            match want {
                Ok(()) => assert!(got.is_ok(), "{input}: {got:?}"),
                Err(text) => {
                    let reason = got.expect_err(input);
                    assert!(reason.contains(text), "{input}: {reason}");
                    if text == "out of range" {
                        assert!(reason.contains("1677-09-21T00:12:43.145224192Z") && reason.contains("2262-04-11T23:47:16.854775807Z"), "{reason}");
                        assert!(!reason.contains("RFC 3339"), "{reason}");
                    }
                }
            }
        }
    }

    #[test]
    fn non_objects_are_not_events() {
        assert!(matches!(ingest_value(&json!(42)), Err(IngestError::NotAnEvent(_))));
        assert!(matches!(ingest_value(&json!({"hello": "world"})), Err(IngestError::NotAnEvent(_))));
        let err = ingest_value(&json!([{"hello": 1}])).unwrap_err();
        assert!(err.to_string().contains("batch element 0"), "{err}");
    }

    #[test]
    fn an_empty_batch_is_empty() {
        assert_eq!(ingest_value(&json!([])).unwrap(), vec![]);
    }
}
