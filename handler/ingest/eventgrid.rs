//! The Event Grid schema envelope: `{id, topic, subject, eventType, eventTime, data,
//! dataVersion, metadataVersion}`. Unknown fields are ignored; only `id` and `eventType` are
//! required to call it an event (the rest is checked where it is used, with a reason).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Envelope, IngestError, decode_owned};

/// One Event Grid schema event, as delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventGridEvent {
    pub id: String,
    /// The resource the event is about's publisher: for AKS the cluster id; for Resource
    /// Notifications the subscription. Event Grid fills it in on delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub event_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_time: Option<String>,
    #[serde(default)]
    pub data: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_version: Option<String>,
}

impl EventGridEvent {
    pub(crate) fn into_envelope(self) -> Result<Envelope, IngestError> {
        let data = decode_owned(self.data)?;
        Ok(Envelope { id: self.id, event_type: self.event_type, source: self.topic, subject: self.subject, time: self.event_time, data })
    }
}

pub(crate) fn parse(value: Value) -> Result<Envelope, IngestError> {
    serde_json::from_value::<EventGridEvent>(value)
        .map_err(|e| {
            IngestError::NotAnEvent(format!(
                "an Event Grid schema event (it has `eventType`) that does not fit the schema: {e}; `id` and `eventType` must be strings"
            ))
        })?
        .into_envelope()
}
