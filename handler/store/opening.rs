//! A ledger that is still being opened: the host starts answering while the SQLite file is
//! opened (created, switched to WAL, its schema checked) on a thread of its own, and the first
//! calls wait for it.
//!
//! Why: creating the file costs several fsyncs, and the Functions host waits for `GET /` before
//! it delivers anything; nothing needs the ledger before the first delivery. A file that cannot
//! be opened still stops the host: [`OpeningLedger::opened`] answers the open's error, which
//! `serve` turns into the same message and exit code as before; calls made meanwhile answer it
//! too (never a 2xx for work not done).

use std::sync::Arc;

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

use super::{ActionState, Claim, ClaimToken, Completion, Ledger, LedgerError, PendingNotification};
use crate::action::ActionKey;
use crate::policy::calendar::EolNotice;

type Opened = Option<Result<Arc<dyn Ledger>, LedgerError>>;

/// A [`Ledger`] whose backend is opened on a thread of its own (see the module docs).
#[derive(Clone)]
pub struct OpeningLedger {
    state: tokio::sync::watch::Receiver<Opened>,
}

impl OpeningLedger {
    /// Starts `open` on a new thread; `Err` when the thread cannot be started.
    pub fn start(open: impl FnOnce() -> Result<Arc<dyn Ledger>, LedgerError> + Send + 'static) -> std::io::Result<Self> {
        let (tx, state) = tokio::sync::watch::channel(None);
        std::thread::Builder::new().name("ledger-open".into()).spawn(move || {
            let _ = tx.send(Some(open()));
        })?;
        Ok(Self { state })
    }

    /// The open's outcome, once it is known.
    pub async fn opened(&self) -> Result<Arc<dyn Ledger>, LedgerError> {
        if let Some(done) = &*self.state.borrow() {
            return answer(done);
        }
        let mut state = self.state.clone();
        match state.wait_for(Option::is_some).await {
            Ok(done) => answer(done.as_ref().expect("waited for Some")),
            Err(_) => Err(LedgerError::Unavailable("the ledger's opening thread stopped without an answer".into())),
        }
    }
}

fn answer(done: &Result<Arc<dyn Ledger>, LedgerError>) -> Result<Arc<dyn Ledger>, LedgerError> {
    match done {
        Ok(ledger) => Ok(Arc::clone(ledger)),
        Err(e) => Err(same(e)),
    }
}

/// The open's error again, for every call that asks.
fn same(e: &LedgerError) -> LedgerError {
    match e {
        LedgerError::Unavailable(m) => LedgerError::Unavailable(m.clone()),
        LedgerError::Configuration { setting, message } => LedgerError::Configuration { setting: setting.clone(), message: message.clone() },
        LedgerError::Corrupt(m) => LedgerError::Corrupt(m.clone()),
        LedgerError::LostClaim { key } => LedgerError::LostClaim { key: key.clone() },
    }
}

#[async_trait]
impl Ledger for OpeningLedger {
    async fn mark_event_processed(&self, event_id: &str, at: Timestamp) -> Result<bool, LedgerError> {
        self.opened().await?.mark_event_processed(event_id, at).await
    }
    async fn mark_event_processed_soon(&self, event_id: &str, at: Timestamp) -> Result<(), LedgerError> {
        self.opened().await?.mark_event_processed_soon(event_id, at).await
    }
    async fn event_processed(&self, event_id: &str) -> Result<bool, LedgerError> {
        self.opened().await?.event_processed(event_id).await
    }
    async fn first_seen(&self, concern_key: &str, at: Timestamp) -> Result<Timestamp, LedgerError> {
        self.opened().await?.first_seen(concern_key, at).await
    }
    async fn seen(&self, concern_key: &str) -> Result<Option<Timestamp>, LedgerError> {
        self.opened().await?.seen(concern_key).await
    }
    async fn action_state(&self, key: &ActionKey) -> Result<Option<ActionState>, LedgerError> {
        self.opened().await?.action_state(key).await
    }
    async fn claim(&self, key: &ActionKey, owner: &str, now: Timestamp, lease: SignedDuration) -> Result<Claim, LedgerError> {
        self.opened().await?.claim(key, owner, now, lease).await
    }
    async fn complete(&self, key: &ActionKey, token: &ClaimToken, completion: Completion, now: Timestamp) -> Result<(), LedgerError> {
        self.opened().await?.complete(key, token, completion, now).await
    }
    async fn release(&self, key: &ActionKey, token: &ClaimToken) -> Result<(), LedgerError> {
        self.opened().await?.release(key, token).await
    }
    async fn get_ref(&self, concern_key: &str, channel: &str) -> Result<Option<String>, LedgerError> {
        self.opened().await?.get_ref(concern_key, channel).await
    }
    async fn put_ref(&self, concern_key: &str, channel: &str, value: &str) -> Result<(), LedgerError> {
        self.opened().await?.put_ref(concern_key, channel, value).await
    }
    async fn put_fleet(&self, cluster_key: &str, value: &str) -> Result<(), LedgerError> {
        self.opened().await?.put_fleet(cluster_key, value).await
    }
    async fn fleet(&self) -> Result<Vec<(String, String)>, LedgerError> {
        self.opened().await?.fleet().await
    }
    async fn list_actions(&self) -> Result<Vec<(ActionKey, ActionState)>, LedgerError> {
        self.opened().await?.list_actions().await
    }
    async fn queue_notification(&self, key: &ActionKey, action: &str, at: Timestamp) -> Result<(), LedgerError> {
        self.opened().await?.queue_notification(key, action, at).await
    }
    async fn pending_notifications(&self) -> Result<Vec<PendingNotification>, LedgerError> {
        self.opened().await?.pending_notifications().await
    }
    async fn remove_notification(&self, key: &ActionKey) -> Result<(), LedgerError> {
        self.opened().await?.remove_notification(key).await
    }
    async fn remember_eol_notice(&self, minor: &str, notice: &EolNotice) -> Result<bool, LedgerError> {
        self.opened().await?.remember_eol_notice(minor, notice).await
    }
    async fn eol_notice(&self, minor: &str) -> Result<Option<EolNotice>, LedgerError> {
        self.opened().await?.eol_notice(minor).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_wait_for_the_open_and_then_reach_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cadence.db");
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let opening = OpeningLedger::start(move || {
            gate.recv().unwrap();
            Ok(Arc::new(super::super::sqlite::SqliteLedger::open(path)?) as Arc<dyn Ledger>)
        })
        .unwrap();
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let mut marked = Box::pin(opening.mark_event_processed("e-1", at));
        assert!(futures::poll!(&mut marked).is_pending(), "the call waits while the file is being opened");
        release.send(()).unwrap();
        assert!(marked.await.unwrap());
        assert!(opening.event_processed("e-1").await.unwrap());
    }

    #[tokio::test]
    async fn an_open_that_failed_is_the_answer_of_every_call() {
        let opening = OpeningLedger::start(|| Err(LedgerError::Corrupt("written by a newer aks-cadence".into()))).unwrap();
        assert!(matches!(opening.opened().await, Err(LedgerError::Corrupt(m)) if m.contains("newer")));
        assert!(matches!(opening.event_processed("e").await, Err(LedgerError::Corrupt(_))));
        assert!(matches!(opening.event_processed("e").await, Err(LedgerError::Corrupt(_))), "and again");
    }
}
