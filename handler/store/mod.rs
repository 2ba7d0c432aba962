//! The ledger: what has been delivered, first seen and done. It is the memory that makes
//! at-least-once delivery safe.
//!
//! Two implementations share one contract (and one contract test suite):
//! [`sqlite::SqliteLedger`] (embedded default, `CADENCE_STATE=sqlite:PATH`) and, for scale-out,
//! a blob-backed ledger on Azure Storage.
//!
//! Layer: edge: the ledger backends; imports the core only.

pub mod blob;
pub mod contract;
pub mod opening;
pub mod sqlite;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::action::ActionKey;
use crate::policy::calendar::EolNotice;

#[derive(Debug, Clone, thiserror::Error)]
pub enum LedgerError {
    /// The store could not be reached or answered with a server error: retry later.
    #[error("ledger unavailable: {0}")]
    Unavailable(String),
    /// The store refuses us or is not where the setting says (401/403: a role assignment
    /// still propagating or removed; 404: the container is missing): a change of a setting or
    /// a permission fixes it. Answered non-2xx so the platform delivers again.
    #[error("ledger configuration: {message}. Fix: {setting}")]
    Configuration { setting: String, message: String },
    /// The store's data is unreadable or it answers in a way no setting explains: a person
    /// must look.
    #[error("ledger error: {0}")]
    Corrupt(String),
    /// A claim token did not match (the claim expired and someone else took it).
    #[error("claim on {key} is no longer held by this worker")]
    LostClaim { key: String },
}

/// Proof that this worker holds the claim on a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimToken(pub String);

/// The state of one action key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ActionState {
    /// Someone is working on it until `until` (then the claim expires and may be retaken).
    Claimed { owner: String, until: Timestamp },
    /// Done; `detail` says what was done (issue URL, message id, operation id).
    Done { detail: String, at: Timestamp },
    /// Failed permanently; not retried.
    Failed { reason: String, at: Timestamp },
}

/// What [`Ledger::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller now holds the key; act, then `complete` or `release`.
    Acquired(ClaimToken),
    /// Finished earlier (done or failed permanently): do nothing.
    Finished(ActionState),
    /// Another worker holds a live claim: do nothing now (their result will be recorded, or
    /// their claim expires and a retry takes it).
    HeldElsewhere { owner: String, until: Timestamp },
}

/// A notification (email or chat action) waiting in the ledger for its digest: the host's
/// invocations queue them, and the digest timer sends everything queued as one plan (see
/// `execute::DigestWindow`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNotification {
    pub key: ActionKey,
    /// The planned action, as JSON (`Action`'s serde form).
    pub action: String,
    /// When the key was first queued (kept by later queueings of the same key).
    pub queued_at: Timestamp,
    /// When the key was last queued.
    pub updated_at: Timestamp,
}

/// How an action ended, for [`Ledger::complete`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Completion {
    Done { detail: String },
    Failed { reason: String },
}

/// The ledger contract. Every method is atomic on its own; implementations must tolerate being
/// called concurrently from several processes on the same store.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Marks an Event Grid event id as fully processed. Returns `false` if it already was.
    async fn mark_event_processed(&self, event_id: &str, at: Timestamp) -> Result<bool, LedgerError>;
    /// Marks an event id processed without waiting for the mark to be durable: the event
    /// path's mark, after every action of the delivery has been recorded. This process's
    /// [`Ledger::event_processed`] answers `true` at once; the store has it soon after (an
    /// implementation says when), and a crash before that loses only the mark — a later
    /// redelivery is planned again and drops its actions, whose keys are finished
    /// (docs/pipeline.md, *For one delivery*). An `Err` is a mark that will not be written.
    ///
    /// The default waits for [`Ledger::mark_event_processed`]; the SQLite ledger writes the
    /// mark with its next batch of writes ([`sqlite::MARK_WAITS_AT_MOST`]).
    async fn mark_event_processed_soon(&self, event_id: &str, at: Timestamp) -> Result<(), LedgerError> {
        self.mark_event_processed(event_id, at).await.map(|_| ())
    }
    /// Whether an event id has already been fully processed.
    async fn event_processed(&self, event_id: &str) -> Result<bool, LedgerError>;

    /// Returns when `(concern key)` was first seen, recording `at` if this is the first time.
    async fn first_seen(&self, concern_key: &str, at: Timestamp) -> Result<Timestamp, LedgerError>;
    /// When `(concern key)` was first seen, recording nothing (`None` = never seen). Used to
    /// close only concerns that exist: a sweep restates "resolved" for targets that were
    /// usually never a concern, and those must leave no trace.
    async fn seen(&self, concern_key: &str) -> Result<Option<Timestamp>, LedgerError>;

    /// The state of an action key, if any.
    async fn action_state(&self, key: &ActionKey) -> Result<Option<ActionState>, LedgerError>;

    /// Atomically claims `key` for `owner` for `lease`. An expired claim is taken over.
    async fn claim(&self, key: &ActionKey, owner: &str, now: Timestamp, lease: SignedDuration)
        -> Result<Claim, LedgerError>;

    /// Records the outcome of a claimed key.
    async fn complete(&self, key: &ActionKey, token: &ClaimToken, completion: Completion, now: Timestamp)
        -> Result<(), LedgerError>;

    /// Gives a claim back after a retryable failure so that a retry can claim it again.
    async fn release(&self, key: &ActionKey, token: &ClaimToken) -> Result<(), LedgerError>;

    /// A reference an adapter keeps per concern and channel (GitHub issue number, PR branch).
    async fn get_ref(&self, concern_key: &str, channel: &str) -> Result<Option<String>, LedgerError>;
    /// Stores (or replaces) such a reference.
    async fn put_ref(&self, concern_key: &str, channel: &str, value: &str) -> Result<(), LedgerError>;

    /// Stores (or replaces) the fleet record of one cluster (`sweep::fleet`: what the rings
    /// know of it), keyed by the cluster's key.
    ///
    /// The default keeps nothing: a ledger without fleet memory (a test double) leaves the
    /// rings to the clusters of the current run. Both real backends keep it.
    async fn put_fleet(&self, cluster_key: &str, value: &str) -> Result<(), LedgerError> {
        let _ = (cluster_key, value);
        Ok(())
    }
    /// Every cluster's fleet record as (cluster key, value), in no particular order.
    async fn fleet(&self) -> Result<Vec<(String, String)>, LedgerError> {
        Ok(Vec::new())
    }
    /// One cluster's fleet record (`None`: none kept) — a sweep of a few clusters without
    /// rings reads only theirs.
    async fn fleet_of(&self, cluster_key: &str) -> Result<Option<String>, LedgerError> {
        let _ = cluster_key;
        Ok(None)
    }

    /// Every action key with its state, sorted by key (status pages, tests, `handler status`).
    async fn list_actions(&self) -> Result<Vec<(ActionKey, ActionState)>, LedgerError>;

    /// Queues a notification for the next digest. Queueing a key again replaces the action
    /// (newer facts) and `updated_at`, and keeps `queued_at`: a duplicate delivery never
    /// makes a second entry.
    async fn queue_notification(&self, key: &ActionKey, action: &str, at: Timestamp) -> Result<(), LedgerError>;
    /// Every queued notification, oldest first (`queued_at`, then key).
    async fn pending_notifications(&self) -> Result<Vec<PendingNotification>, LedgerError>;
    /// Removes a queued notification once its key is finished. Removing one that is not there
    /// is not an error (two flushes may both remove it).
    async fn remove_notification(&self, key: &ActionKey) -> Result<(), LedgerError>;

    /// Remembers an EOL notice AKS sent about Kubernetes `minor` (`1.30`), so that later sweeps
    /// date that minor's support concerns from it (`policy::calendar`, precedence). Kept in the
    /// refs (one per minor, [`EOL_NOTICE_CHANNEL`]), so every backend has it. A notice observed
    /// after the one stored replaces it; an older or equal one (a redelivery, an out-of-order
    /// delivery) changes nothing. Two different notices about one minor stored at the same
    /// moment by two instances: the last write wins, and the next notice sets it right.
    /// Returns whether the stored notice changed.
    async fn remember_eol_notice(&self, minor: &str, notice: &EolNotice) -> Result<bool, LedgerError> {
        let key = eol_notice_key(minor);
        if let Some(stored) = self.eol_notice(minor).await?
            && !notice.supersedes(&stored)
        {
            return Ok(false);
        }
        let value = serde_json::to_string(notice).map_err(|e| LedgerError::Corrupt(format!("EOL notice for {minor}: {e}")))?;
        self.put_ref(&key, EOL_NOTICE_CHANNEL, &value).await?;
        Ok(true)
    }

    /// The EOL notice remembered for Kubernetes `minor`, if any. An unreadable record is
    /// `Corrupt` (a person must look), never silently none.
    async fn eol_notice(&self, minor: &str) -> Result<Option<EolNotice>, LedgerError> {
        match self.get_ref(&eol_notice_key(minor), EOL_NOTICE_CHANNEL).await? {
            None => Ok(None),
            Some(v) => serde_json::from_str(&v)
                .map(Some)
                .map_err(|e| LedgerError::Corrupt(format!("the EOL notice stored for Kubernetes {minor} does not parse ({e})"))),
        }
    }
}

/// The ref channel EOL notices are remembered under.
pub const EOL_NOTICE_CHANNEL: &str = "eol-notice";

/// The ref key of `minor`'s EOL notice (`kubernetes-version#1.30`).
pub fn eol_notice_key(minor: &str) -> String {
    format!("kubernetes-version#{}", minor.trim().to_ascii_lowercase())
}
