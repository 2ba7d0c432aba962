//! The one orchestrator (house rule 5): ingest result → concerns → ledger facts → plan →
//! executor → report. The host, `handler replay` and the sweep all call it.

use crate::action::Action;
use crate::ingest::Ingested;

/// What one run of the pipeline did, for the invocation's `Logs`/`ReturnValue` and for dry-run.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Every action planned (after dropping keys the ledger already finished).
    pub planned: Vec<Action>,
    /// One line per notable step, also sent to the Functions host `Logs` array.
    pub log: Vec<String>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Something a retry could fix (ledger unavailable, an adapter's transient failure): the
    /// invocation must answer non-2xx so the platform delivers again.
    #[error("retryable: {0}")]
    Retryable(String),
    /// A bug or misconfiguration; retrying will not help (answer 2xx, log as error).
    #[error("{0}")]
    Permanent(String),
}

/// Where the host sends what it ingested. [`Pipeline`] is the real one; host tests use a
/// recording sink.
#[async_trait::async_trait]
pub trait EventSink: Send + Sync {
    /// Handles what one delivery contained (one event or a batch). `Err(Retryable)` makes the
    /// invocation answer non-2xx so that Event Grid delivers again.
    async fn handle(&self, events: Vec<Ingested>) -> Result<RunReport, PipelineError>;
}

/// The pipeline. (Filled in by the orchestrator work.)
pub struct Pipeline {}

#[async_trait::async_trait]
impl EventSink for Pipeline {
    async fn handle(&self, events: Vec<Ingested>) -> Result<RunReport, PipelineError> {
        let _ = events;
        Ok(RunReport::default())
    }
}
