//! `POST /digest` (function `digest`, timerTrigger `timer`, every minute): sends the email and
//! chat notifications that invocations queued in the ledger, once they are due, as one digest
//! per recipient and channel (see `execute`'s module docs, "Digests across invocations").
//!
//! | situation | status | why |
//! |---|---|---|
//! | nothing queued, not due yet, or sent | 200 + `Logs` | done; what waits goes out at a later tick |
//! | a notification needs a retry, or the ledger is unavailable | 500 + `Logs` | a timer is never retried, but the queue keeps the work: the next tick sends it; monitoring sees the failed invocation |
//! | a permanent pipeline error (ledger unreadable) | 500 + `Logs` | a person must look |
//!
//! The timer payload says only whether the tick is late; the body is not needed and not read.

use axum::http::StatusCode;
use axum::extract::State;
use axum::response::Response;

use super::AppState;
use super::invocation::InvocationResponse;

/// `POST /digest`.
pub(crate) async fn timer(State(state): State<AppState>) -> Response {
    match state.sink.flush_digests().await {
        Ok(report) => {
            if !report.planned.is_empty() {
                tracing::info!(route = "/digest", notifications = report.planned.len(), "digest sent");
            }
            InvocationResponse::with_logs(report.log).into_response_with(StatusCode::OK)
        }
        Err(e) => {
            tracing::error!(route = "/digest", error = %e, "digest not sent; the queue keeps it for the next tick");
            InvocationResponse::with_logs(vec![format!("digest not sent, the next tick tries again: {e}")])
                .into_response_with(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}
