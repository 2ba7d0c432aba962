//! The notify-only adapter: writes the action as a structured log line. It is what the built-in
//! default policy uses, and what every action becomes in dry-run.

use async_trait::async_trait;

use super::{Actuator, Performed};
use crate::action::{Action, ActionKind};

/// Logs actions of kind [`ActionKind::Log`].
#[derive(Debug, Default, Clone)]
pub struct LogActuator;

#[async_trait]
impl Actuator for LogActuator {
    fn name(&self) -> &'static str {
        "log"
    }
    fn handles(&self, kind: &ActionKind) -> bool {
        matches!(kind, ActionKind::Log)
    }
    async fn perform(&self, batch: &[Action]) -> Vec<Performed> {
        batch
            .iter()
            .map(|a| {
                tracing::info!(key = %a.key, cluster = %a.concern.cluster, summary = %a.summary, "notice");
                Ok(format!("logged: {}", a.summary).into())
            })
            .collect()
    }
}
