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
use crate::error::ActionError;

/// The outcome detail of a successful action (an issue URL, a message id, an operation id).
pub type Performed = Result<String, ActionError>;

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
