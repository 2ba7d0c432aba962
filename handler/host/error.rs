//! The HTTP error type of the webhook routes: `{"error": {"code", "message"}}` with the real
//! status for client errors (logged at info — they are the sender's problem, not ours) and a
//! generic body for internal ones (details logged as errors, never sent).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not JSON.
    #[error("{0}")]
    MalformedJson(String),
    /// JSON, but not an Event Grid / CloudEvents event or batch.
    #[error("{0}")]
    NotAnEvent(String),
    /// `aeg-event-type: SubscriptionValidation` without a validation event in the body.
    #[error("{0}")]
    ValidationEventMissing(String),
    /// The body could not be read (connection reset, bad chunking).
    #[error("{0}")]
    UnreadableBody(String),
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    NotFound(String),
    /// Every event of the delivery (or its validation event) comes from a topic that is not in
    /// `CADENCE_EVENTGRID_ALLOWED_TOPICS`. 403: Event Grid does not retry it.
    #[error("{0}")]
    TopicNotAllowed(String),
    /// A CloudEvents handshake from an origin that is not Event Grid.
    #[error("{0}")]
    OriginNotAllowed(String),
    /// The sink asked for a redelivery (ledger unavailable, transient adapter failure).
    /// Details are logged where the failure is seen; the body stays generic.
    #[error("temporarily unable to process the delivery")]
    RetryLater,
    /// A bug. Logged with its details; the body says only that it happened.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::NotAnEvent(_) | Self::ValidationEventMissing(_) | Self::UnreadableBody(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::TopicNotAllowed(_) | Self::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::RetryLater => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::NotAnEvent(_) => "not_an_event",
            Self::ValidationEventMissing(_) => "validation_event_missing",
            Self::UnreadableBody(_) => "unreadable_body",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::NotFound(_) => "not_found",
            Self::TopicNotAllowed(_) => "topic_not_allowed",
            Self::OriginNotAllowed(_) => "origin_not_allowed",
            Self::RetryLater => "retry_later",
            Self::Internal(_) => "internal",
        }
    }

    /// The message sent to the client: what is wrong and how to fix it.
    fn public_message(&self) -> String {
        match self {
            Self::MalformedJson(detail) => format!(
                "the body is not valid JSON ({detail}); send an Event Grid event array (application/json) or a CloudEvent / CloudEvents batch (application/cloudevents+json, application/cloudevents-batch+json)"
            ),
            Self::NotAnEvent(detail) => detail.clone(),
            Self::ValidationEventMissing(detail) => detail.clone(),
            Self::UnreadableBody(detail) => format!("the body could not be read ({detail}); send it again"),
            Self::PayloadTooLarge { limit } => format!(
                "the body is larger than {limit} bytes; Event Grid delivers at most 1 MB per event, so send smaller batches (raise CADENCE_MAX_BODY_BYTES only if you must)"
            ),
            Self::NotFound(detail) | Self::TopicNotAllowed(detail) | Self::OriginNotAllowed(detail) => detail.clone(),
            Self::RetryLater => "temporarily unable to process the delivery; deliver it again later".into(),
            Self::Internal(_) => "internal error; see the handler's logs".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal(detail) => tracing::error!(status = status.as_u16(), code = self.code(), error = %detail, "internal error"),
            Self::RetryLater => tracing::warn!(status = status.as_u16(), code = self.code(), "asked the sender to retry"),
            _ => tracing::info!(status = status.as_u16(), code = self.code(), error = %self, "client error"),
        }
        let body = json!({"error": {"code": self.code(), "message": self.public_message()}});
        (status, Json(body)).into_response()
    }
}
