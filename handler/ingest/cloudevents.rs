//! The CloudEvents 1.0 structured-mode envelope: `{id, source, type, specversion, time?,
//! subject?, datacontenttype?, dataschema?, data | data_base64}` plus any extension
//! attributes (ignored). Microsoft's own examples spell `specVersion`; both are accepted.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Envelope, IngestError, decode_owned};

/// One CloudEvent, as delivered in structured mode (`application/cloudevents+json`, or an
/// element of `application/cloudevents-batch+json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub id: String,
    /// For AKS events the cluster id; for Resource Notifications the subscription.
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(alias = "specVersion", default, skip_serializing_if = "Option::is_none")]
    pub specversion: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datacontenttype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataschema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_base64: Option<String>,
    /// Whether the object also has `eventType` (with any value), which makes it an Event Grid
    /// event however malformed: `ingest_event_text` then leaves it to the general path. Never
    /// written.
    #[serde(rename = "eventType", default, skip_serializing)]
    pub event_type_key: super::Present,
}

impl CloudEvent {
    pub(crate) fn into_envelope(self) -> Result<Envelope, IngestError> {
        if let Some(v) = self.specversion.as_deref()
            && !v.starts_with('1')
        {
            return Err(IngestError::NotAnEvent(format!("CloudEvents specversion `{v}` is not 1.x; only CloudEvents 1.0 is supported")));
        }
        let data = match (self.data, self.data_base64) {
            (Some(data), _) => decode_owned(data)?,
            (None, Some(b64)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| IngestError::NotAnEvent(format!("CloudEvent `data_base64` is not base64 ({e})")))?;
                // Binary data that is JSON is read as JSON; anything else stays a string of
                // its bytes (our types all carry JSON, so it will be reported as unreadable).
                serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
            }
            (None, None) => Value::Null,
        };
        Ok(Envelope { id: self.id, event_type: self.event_type, source: Some(self.source), subject: self.subject, time: self.time, data })
    }
}

pub(crate) fn parse(value: Value) -> Result<Envelope, IngestError> {
    serde_json::from_value::<CloudEvent>(value)
        .map_err(|e| {
            IngestError::NotAnEvent(format!(
                "a CloudEvent that does not fit CloudEvents 1.0: {e}; `id`, `source` and `type` must be strings"
            ))
        })?
        .into_envelope()
}
