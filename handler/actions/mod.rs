//! Adapters that carry out actions: GitHub, email, chat, Azure, and the log/dry-run printer.
//!
//! Each adapter implements [`Actuator`] for the action kinds it [`handles`](Actuator::handles).
//! The executor hands it a batch (so mail and chat can send one digest per recipient for a whole
//! sweep) after claiming every key in the ledger; the adapter returns one result per action.
//!
//! Contract for every adapter: `perform` must tolerate being called again for an action whose
//! previous attempt crashed after acting but before the ledger recorded it. Adapters that create
//! things keep their own check for that (GitHub: a hidden marker looked up before creating).
//!
//! Layer: edge: the adapters that carry out actions; import the core and the other edges, never the run layer.

pub mod azure;
pub mod chat;
pub mod digest;
pub mod email;
pub mod github;
pub mod log;
pub mod render;
pub mod version_edit;

use async_trait::async_trait;

use crate::action::{Action, ActionKind};
use crate::domain::OperationReport;
use crate::error::ActionError;

/// What an adapter did: the one-line detail recorded and logged (an issue URL, a message id,
/// an operation id) and, for an action that starts a long-running operation, what became of
/// the operation — typed, so nobody reads it back out of the detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub detail: String,
    /// `Started` (still running) or `Ended(Succeeded)` from the Azure adapter; `None` when no
    /// operation was started (every other adapter).
    pub operation: Option<OperationReport>,
    /// The web address of the GitHub issue the action opened or updated (the issue adapter's
    /// answer; `None` from every other adapter), so a change awaiting approval can name the
    /// issue opened in the same run.
    pub issue: Option<String>,
}

impl Done {
    /// A result that started no operation.
    pub fn detail(detail: impl Into<String>) -> Self {
        Self { detail: detail.into(), operation: None, issue: None }
    }

    /// The issue adapter's answer: the issue's web address, as the detail and typed.
    pub fn issue(url: impl Into<String>) -> Self {
        let url = url.into();
        Self { detail: url.clone(), operation: None, issue: Some(url) }
    }
}

impl From<String> for Done {
    fn from(detail: String) -> Self {
        Self::detail(detail)
    }
}

impl From<&str> for Done {
    fn from(detail: &str) -> Self {
        Self::detail(detail)
    }
}

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// The detail reads as the text recorded (`r.as_deref() == Ok("posted to …")`).
impl std::ops::Deref for Done {
    type Target = str;
    fn deref(&self) -> &str {
        &self.detail
    }
}

/// One action's result: done (with its detail and operation), or how it failed.
pub type Performed = Result<Done, ActionError>;

#[async_trait]
pub trait Actuator: Send + Sync {
    /// A short name for logs (`github`, `email`, …).
    fn name(&self) -> &'static str;
    /// Whether this adapter carries out actions of this kind.
    fn handles(&self, kind: &ActionKind) -> bool;
    /// Carries out a batch of actions this adapter handles; returns one result per action, in
    /// the same order.
    async fn perform(&self, batch: &[Action]) -> Vec<Performed>;
}
