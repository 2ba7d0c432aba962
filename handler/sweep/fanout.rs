//! Fan-out: the `sweep` timer takes the inventory and emits one queue message per cluster
//! through its queue output binding `clusters`; the `sweep-cluster` queueTrigger (binding
//! `cluster`) runs the per-cluster sweep, so many Function instances share a large fleet.
//! Locally (and for fleets up to `CADENCE_SWEEP_INLINE_MAX`), [`sweep_inventory`] runs the very
//! same per-cluster code in-process with bounded concurrency. The invocations themselves are
//! handled by the run layer's `Sweeper` (`sweeper`), which plans what this module reads.
//!
//! Messages are JSON objects, never strings: the Functions host turns a string output that
//! happens to be valid base64 into bytes. A queue output given an array writes one message per
//! element. Each message carries the cluster's inventory record (≈1 KB, far under the 64 KB
//! queue limit), so the per-cluster sweep needs no further inventory read.

use std::collections::BTreeMap;

use futures::StreamExt as _;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::cluster::{ClusterSnapshot, SweepRun, TrackedOperation, sweep_cluster};
use super::inventory::{ClusterRecord, Inventory, InventorySource};
use super::{SweepContext, SweepError};
use crate::domain::ClusterId;

/// The timer function's queue output binding.
pub const CLUSTERS_OUTPUT_BINDING: &str = "clusters";
/// The `sweep-cluster` function's queue trigger binding.
pub const CLUSTER_TRIGGER_BINDING: &str = "cluster";
/// `kind` of a fan-out message (so a stray message on the queue is recognised).
pub const MESSAGE_KIND: &str = "aks-cadence.sweep-cluster";

/// One fan-out queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterMessage {
    pub kind: String,
    pub version: u32,
    pub run_id: String,
    /// When the timer ran: the observation time of every signal of this run.
    pub swept_at: Timestamp,
    pub cluster: ClusterRecord,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracked: Vec<TrackedOperation>,
}

/// A run id for a sweep started at `now` (`sweep-20260115T020000Z`).
pub fn run_id_at(now: Timestamp) -> String {
    format!("sweep-{}", now.strftime("%Y%m%dT%H%M%SZ"))
}

/// One queue message (a JSON object) per cluster of the inventory. `tracked` holds the
/// operations aks-cadence started, per cluster (from the ledger).
pub fn plan_fanout(inventory: &Inventory, run_id: &str, now: Timestamp, tracked: &BTreeMap<ClusterId, Vec<TrackedOperation>>) -> Vec<Value> {
    inventory
        .clusters
        .iter()
        .map(|c| {
            let m = ClusterMessage {
                kind: MESSAGE_KIND.into(),
                version: 1,
                run_id: run_id.to_string(),
                swept_at: now,
                cluster: c.clone(),
                tracked: tracked.get(&c.id).cloned().unwrap_or_default(),
            };
            serde_json::to_value(m).expect("a message serializes")
        })
        .collect()
}

/// The custom-handler response for a non-HTTP invocation.
pub fn custom_handler_response(outputs: serde_json::Map<String, Value>, logs: Vec<String>) -> Value {
    json!({ "Outputs": outputs, "Logs": logs, "ReturnValue": null })
}

/// Decodes a binding value the host may have delivered as JSON text, possibly twice.
pub fn decode_json_value(v: &Value) -> Value {
    let mut cur = v.clone();
    for _ in 0..4 {
        match &cur {
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(inner) => cur = inner,
                Err(_) => break,
            },
            _ => break,
        }
    }
    cur
}

/// Reads a fan-out message (object, or JSON text of one).
pub fn parse_cluster_message(v: &Value) -> Result<ClusterMessage, SweepError> {
    let v = decode_json_value(v);
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != MESSAGE_KIND {
        return Err(SweepError::BadMessage(format!("`kind` is `{kind}`, expected `{MESSAGE_KIND}`")));
    }
    serde_json::from_value(v).map_err(|e| SweepError::BadMessage(e.to_string()))
}

/// Whether the timer invocation says the tick is late (`IsPastDue`).
pub fn timer_past_due(body: &Value) -> bool {
    body.get("Data")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|d| d.values())
        .map(decode_json_value)
        .any(|t| t.get("IsPastDue").and_then(Value::as_bool).unwrap_or(false))
}

/// The timer's custom-handler response for an inventory: one queue message per cluster.
pub fn fanout_response(inv: &Inventory, now: Timestamp, past_due: bool, tracked: &BTreeMap<ClusterId, Vec<TrackedOperation>>) -> Value {
    let run_id = run_id_at(now);
    let messages = plan_fanout(inv, &run_id, now, tracked);
    let mut logs = vec![format!("{run_id}: {} clusters from {}{}", inv.clusters.len(), source_name(inv.source), if past_due { " (timer was past due)" } else { "" })];
    logs.extend(inv.notes.iter().cloned());
    let mut outputs = serde_json::Map::new();
    outputs.insert(CLUSTERS_OUTPUT_BINDING.into(), Value::Array(messages));
    custom_handler_response(outputs, logs)
}

/// Where an inventory came from, for logs.
pub fn source_name(source: InventorySource) -> &'static str {
    match source {
        InventorySource::ResourceGraph => "Resource Graph",
        InventorySource::ArmList => "ARM listing",
    }
}

/// What a local (in-process) sweep did.
#[derive(Debug)]
pub struct LocalSweep {
    pub run_id: String,
    pub source: InventorySource,
    pub snapshots: Vec<ClusterSnapshot>,
    pub failures: Vec<(ClusterId, SweepError)>,
    pub notes: Vec<String>,
}

/// The per-cluster sweep of every cluster of an inventory already taken, as of `now` (the
/// observation time of every signal), with at most `concurrency` clusters in flight.
pub async fn sweep_inventory(
    ctx: &SweepContext,
    inv: Inventory,
    concurrency: usize,
    tracked: &BTreeMap<ClusterId, Vec<TrackedOperation>>,
    now: Timestamp,
) -> LocalSweep {
    sweep_inventory_observed(ctx, inv, concurrency, tracked, now, &|_, _| {}).await
}

/// [`sweep_inventory`], calling `swept(cluster, ok)` as each cluster's sweep ends (progress).
/// Holds every snapshot at once: a whole-fleet sweep streams them instead ([`sweep_in_order`]).
pub async fn sweep_inventory_observed(
    ctx: &SweepContext,
    inv: Inventory,
    concurrency: usize,
    tracked: &BTreeMap<ClusterId, Vec<TrackedOperation>>,
    now: Timestamp,
    swept: &(dyn Fn(&ClusterId, bool) + Sync),
) -> LocalSweep {
    let run_id = run_id_at(now);
    let run = SweepRun::new(run_id.clone(), now);
    let mut clusters = inv.clusters;
    clusters.sort_by(|a, b| a.id.cmp(&b.id));
    let results: Vec<(ClusterRecord, Result<ClusterSnapshot, SweepError>)> =
        sweep_in_order(ctx, clusters, concurrency, tracked, run, swept).collect().await;
    let mut snapshots = Vec::new();
    let mut failures = Vec::new();
    for (record, r) in results {
        match r {
            Ok(s) => snapshots.push(s),
            Err(e) => failures.push((record.id, e)),
        }
    }
    LocalSweep { run_id, source: inv.source, snapshots, failures, notes: inv.notes }
}

/// The per-cluster sweep of each of `clusters`, at most `concurrency` in flight, each result
/// (with the cluster's record) yielded in the order of `clusters`: a cluster that ends early
/// waits for those before it (so a sweep planned in batches plans in a fixed order, whatever
/// ARM's latency). Records are taken one by one as their sweeps start; what is held at once is
/// the sweeps in flight and the results waiting for a slower one before them.
pub fn sweep_in_order<'a>(
    ctx: &'a SweepContext,
    clusters: impl IntoIterator<Item = ClusterRecord, IntoIter: Send + 'a>,
    concurrency: usize,
    tracked: &'a BTreeMap<ClusterId, Vec<TrackedOperation>>,
    run: SweepRun,
    swept: &'a (dyn Fn(&ClusterId, bool) + Sync),
) -> impl futures::Stream<Item = (ClusterRecord, Result<ClusterSnapshot, SweepError>)> + Send + 'a {
    // Owned inputs per cluster: the futures borrow nothing from the stream's closure, so the
    // whole sweep is `Send` (an HTTP route can await it).
    let work = clusters.into_iter().enumerate().map(move |(i, record)| {
        let ops = tracked.get(&record.id).cloned().unwrap_or_default();
        (i, record, ops, run.clone())
    });
    let mut waiting: BTreeMap<usize, (ClusterRecord, Result<ClusterSnapshot, SweepError>)> = BTreeMap::new();
    let mut next = 0usize;
    futures::stream::iter(work)
        .map(move |(i, record, ops, run)| async move {
            let r = sweep_cluster(&ctx.arm, &ctx.options, &run, &record, &ops).await;
            swept(&record.id, r.is_ok());
            (i, record, r)
        })
        .buffer_unordered(concurrency.max(1))
        .map(move |(i, record, r)| {
            waiting.insert(i, (record, r));
            let mut ready = Vec::new();
            while let Some(item) = waiting.remove(&next) {
                ready.push(item);
                next += 1;
            }
            futures::stream::iter(ready)
        })
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_is_decoded_even_when_encoded_twice() {
        let inner = json!({"kind": MESSAGE_KIND});
        let once = Value::String(inner.to_string());
        let twice = Value::String(once.to_string());
        assert_eq!(decode_json_value(&twice), inner);
        assert_eq!(decode_json_value(&Value::String("plain".into())), Value::String("plain".into()));
    }

    #[test]
    fn run_ids_are_sortable_timestamps() {
        let t: Timestamp = "2026-01-15T02:00:00Z".parse().unwrap();
        assert_eq!(run_id_at(t), "sweep-20260115T020000Z");
    }
}
