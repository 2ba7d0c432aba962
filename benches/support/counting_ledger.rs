//! A ledger wrapper for the benchmarks: an optional fixed latency before every call (a storage
//! account's round trip in front of a local ledger), and the calls counted per method with the
//! span they cover. Included by `benches/digest_queue.rs` and `benches/plan_ledger.rs` with
//! `#[path]`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aks_cadence::action::ActionKey;
use aks_cadence::store::{ActionState, Claim, ClaimToken, Completion, Ledger, LedgerError, PendingNotification};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};

/// Per method: calls, and the span from the first call's start to the last call's end.
pub struct Span {
    calls: u64,
    first: Instant,
    last: Instant,
}

/// Counts the calls of the inner ledger per method, with the span they cover (where a phase
/// spends its time: the executor calls one method after another).
/// With a `latency`, every call first sleeps that long (tokio timer): a storage account's round
/// trip in front of the local ledger.
pub struct Counting {
    pub inner: Arc<dyn Ledger>,
    latency: Duration,
    calls: Mutex<BTreeMap<&'static str, Span>>,
    total: AtomicU64,
}

impl Counting {
    pub fn new(inner: Arc<dyn Ledger>, latency: Duration) -> Self {
        Self { inner, latency, calls: Mutex::default(), total: AtomicU64::new(0) }
    }
    async fn call<T>(&self, name: &'static str, inner: impl Future<Output = Result<T, LedgerError>>) -> Result<T, LedgerError> {
        self.total.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        self.calls.lock().unwrap().entry(name).or_insert(Span { calls: 0, first: start, last: start }).calls += 1;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let result = inner.await;
        let end = Instant::now();
        if let Some(span) = self.calls.lock().unwrap().get_mut(name) {
            span.last = span.last.max(end);
        }
        result
    }
    /// The calls since the last `take`, as `claim 1000 in 0.12 s, complete 1000 in 0.10 s, …`
    /// (ordered by first call).
    pub fn take(&self) -> (u64, String) {
        let calls = std::mem::take(&mut *self.calls.lock().unwrap());
        let total = self.total.swap(0, Ordering::Relaxed);
        let mut spans: Vec<_> = calls.into_iter().collect();
        spans.sort_by_key(|(_, s)| s.first);
        let detail = spans
            .iter()
            .map(|(k, s)| format!("{k} {} in {:.2} s", s.calls, (s.last - s.first).as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ");
        (total, detail)
    }
}

#[async_trait]
impl Ledger for Counting {
    async fn mark_event_processed(&self, id: &str, at: Timestamp) -> Result<bool, LedgerError> {
        self.call("mark_event_processed", self.inner.mark_event_processed(id, at)).await
    }
    async fn mark_event_processed_soon(&self, id: &str, at: Timestamp) -> Result<(), LedgerError> {
        self.call("mark_event_processed_soon", self.inner.mark_event_processed_soon(id, at)).await
    }
    async fn event_processed(&self, id: &str) -> Result<bool, LedgerError> {
        self.call("event_processed", self.inner.event_processed(id)).await
    }
    async fn first_seen(&self, key: &str, at: Timestamp) -> Result<Timestamp, LedgerError> {
        self.call("first_seen", self.inner.first_seen(key, at)).await
    }
    async fn seen(&self, key: &str) -> Result<Option<Timestamp>, LedgerError> {
        self.call("seen", self.inner.seen(key)).await
    }
    async fn action_state(&self, key: &ActionKey) -> Result<Option<ActionState>, LedgerError> {
        self.call("action_state", self.inner.action_state(key)).await
    }
    async fn claim(&self, key: &ActionKey, owner: &str, now: Timestamp, lease: SignedDuration) -> Result<Claim, LedgerError> {
        self.call("claim", self.inner.claim(key, owner, now, lease)).await
    }
    async fn complete(&self, key: &ActionKey, token: &ClaimToken, completion: Completion, now: Timestamp) -> Result<(), LedgerError> {
        self.call("complete", self.inner.complete(key, token, completion, now)).await
    }
    async fn release(&self, key: &ActionKey, token: &ClaimToken) -> Result<(), LedgerError> {
        self.call("release", self.inner.release(key, token)).await
    }
    async fn get_ref(&self, key: &str, channel: &str) -> Result<Option<String>, LedgerError> {
        self.call("get_ref", self.inner.get_ref(key, channel)).await
    }
    async fn put_ref(&self, key: &str, channel: &str, value: &str) -> Result<(), LedgerError> {
        self.call("put_ref", self.inner.put_ref(key, channel, value)).await
    }
    async fn list_actions(&self) -> Result<Vec<(ActionKey, ActionState)>, LedgerError> {
        self.call("list_actions", self.inner.list_actions()).await
    }
    async fn queue_notification(&self, key: &ActionKey, action: &str, at: Timestamp) -> Result<(), LedgerError> {
        self.call("queue_notification", self.inner.queue_notification(key, action, at)).await
    }
    async fn pending_notifications(&self) -> Result<Vec<PendingNotification>, LedgerError> {
        self.call("pending_notifications", self.inner.pending_notifications()).await
    }
    async fn remove_notification(&self, key: &ActionKey) -> Result<(), LedgerError> {
        self.call("remove_notification", self.inner.remove_notification(key)).await
    }
}
