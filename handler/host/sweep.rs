//! `POST /sweep` (function `sweep`, timerTrigger `timer`) and `POST /sweep-cluster` (function
//! `sweep-cluster`, queueTrigger `cluster`).
//!
//! Status codes, chosen for what the host does with them:
//!
//! | route | situation | status | why |
//! |---|---|---|---|
//! | `/sweep` | queued one message per cluster | 200, `Outputs.clusters` = the messages (JSON objects) | done |
//! | `/sweep` | inventory failed, or ARM is not configured | 500 + `Logs` saying why | a timer is never retried, so a failed invocation costs nothing and is what monitoring shows; the next tick tries again |
//! | `/sweep-cluster` | swept and planned | 200 | done |
//! | `/sweep-cluster` | a read or an action that may work later failed (ARM 5xx/429, ledger busy, an adapter's transient failure) | 500 | the message returns to the queue (poison after 5 dequeues) |
//! | `/sweep-cluster` | the message is not ours, a permanent pipeline error, or ARM is not configured | 200 + error log | the same message would fail the same way five times, then sit in the poison queue |

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::invocation::InvocationResponse;
use super::{AppState, SweepRoutes};
use crate::sweep::SweepError;
use crate::sweeper::SweepFailure;

fn body_value(body: Result<Bytes, BytesRejection>) -> Result<Value, String> {
    let bytes = body.map_err(|r| format!("the invocation body could not be read: {}", r.body_text()))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the invocation body is not JSON: {e}"))
}

/// `POST /sweep`.
pub(crate) async fn timer(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let sweeper = match &state.sweep {
        SweepRoutes::Ready(s) => s,
        SweepRoutes::NotConfigured { reason } => {
            tracing::error!(route = "/sweep", %reason, "sweep requested but ARM is not configured");
            return InvocationResponse::with_logs(vec![format!("sweep not run: ARM is not configured: {reason}")])
                .into_response_with(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    // The timer payload only says whether the tick is late; a body we cannot read does not
    // stop the sweep.
    let body = body_value(body).unwrap_or(Value::Null);
    match sweeper.timer(&body).await {
        Ok(response) => {
            let n = response.pointer("/Outputs/clusters").and_then(Value::as_array).map_or(0, Vec::len);
            tracing::info!(route = "/sweep", clusters = n, "sweep fanned out");
            (StatusCode::OK, Json(response)).into_response()
        }
        Err(e) => {
            tracing::error!(route = "/sweep", error = %e, "sweep failed; the next timer tick tries again");
            InvocationResponse::with_logs(vec![format!("sweep failed, the next timer tick tries again: {e}")])
                .into_response_with(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// `POST /sweep-cluster`.
pub(crate) async fn cluster(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let sweeper = match &state.sweep {
        SweepRoutes::Ready(s) => s,
        SweepRoutes::NotConfigured { reason } => {
            tracing::error!(route = "/sweep-cluster", %reason, "queue message acknowledged without a sweep: ARM is not configured");
            return InvocationResponse::with_logs(vec![format!(
                "not swept, acknowledged so it is not retried: ARM is not configured: {reason}"
            )])
            .into_response_with(StatusCode::OK);
        }
    };
    let body = match body_value(body) {
        Ok(v) => v,
        Err(why) => {
            tracing::error!(route = "/sweep-cluster", reason = %why, "queue message acknowledged without a sweep");
            return InvocationResponse::with_logs(vec![format!("not swept, acknowledged so it is not retried: {why}")])
                .into_response_with(StatusCode::OK);
        }
    };
    match sweeper.cluster(&body).await {
        Ok(run) => {
            let snap = &run.snapshot;
            let held = run.report.planned.iter().filter(|a| a.hold.is_some()).count();
            let mut logs = run.report.log;
            logs.push(format!(
                "{}: {} finding(s), {} action(s) planned, {held} held{}",
                snap.cluster,
                snap.signals.len(),
                run.report.planned.len(),
                if sweeper.pipeline.dry_run() { " (dry-run)" } else { "" }
            ));
            tracing::info!(route = "/sweep-cluster", cluster = %snap.cluster, planned = run.report.planned.len(), "cluster swept");
            InvocationResponse::with_logs(logs).into_response_with(StatusCode::OK)
        }
        Err(e) if e.is_retryable() => {
            tracing::warn!(route = "/sweep-cluster", error = %e, "retryable failure; failing the invocation so the queue delivers again");
            InvocationResponse::with_logs(vec![format!("retryable failure, the queue delivers the message again: {e}")])
                .into_response_with(StatusCode::INTERNAL_SERVER_ERROR)
        }
        Err(e) => {
            let what = match &e {
                SweepFailure::Sweep(SweepError::BadMessage(_)) => "not a sweep-cluster message",
                _ => "failed, not retried (a retry cannot help)",
            };
            tracing::error!(route = "/sweep-cluster", error = %e, "{what}; acknowledging");
            InvocationResponse::with_logs(vec![format!("{what}: {e}")]).into_response_with(StatusCode::OK)
        }
    }
}
