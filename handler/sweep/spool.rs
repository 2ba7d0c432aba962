//! The fleet's inventory records while a sweep runs, in sweep order, without holding them.
//!
//! `handler sweep` reads the inventory page by page into a [`Spool`]: each record goes to an
//! unnamed temporary file (created in `TMPDIR`, removed by the system when the process ends,
//! however it ends) and only its id and place stay in memory. [`Spool::finish`] puts them in
//! [`sweep_order`]; [`FleetRecords::records`] then reads one record at a time as the sweep
//! takes it.
//! What the sweep holds per cluster of the fleet is its id (~0.2 KB), not its record (pools,
//! tags, the baseline view: 2–4 KB), so its memory does not grow with the fleet's records.
//!
//! A fleet already in memory (the timer's inline sweep, at most `CADENCE_SWEEP_INLINE_MAX`
//! clusters) is a [`FleetRecords`] too ([`FleetRecords::in_memory`]), so both sweep the same way.
//!
//! Layer: edge (a local file; no Azure).

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use super::inventory::ClusterRecord;
use crate::domain::ClusterId;

/// Why the spool failed: the temporary file could not be created, written or read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the sweep's temporary inventory file failed ({0}); check that TMPDIR (else /tmp) is writable and has space")]
pub struct SpoolError(pub String);

fn io(e: impl std::fmt::Display) -> SpoolError {
    SpoolError(e.to_string())
}

/// The order a sweep takes clusters in: the subscriptions in turn — the first cluster (by id)
/// of every subscription, then the second of every subscription, and so on; within a turn the
/// subscriptions by id. The sweeps in flight then read from every subscription, each within its
/// own ARM read bucket, instead of emptying one subscription's bucket while the others refill
/// unused (clusters by id, one subscription after another, took the sum of the subscriptions'
/// waits instead of the longest: docs/azure.md, *Batches*). The order is fixed by the ids alone,
/// so a sweep in batches plans the same clusters together whatever ARM's latency.
pub fn sweep_order<T>(items: &mut [T], id: impl Fn(&T) -> &ClusterId) {
    // By id, then (stable) by the id ignoring case: a subscription written in two cases is one.
    items.sort_by(|a, b| id(a).cmp(id(b)));
    items.sort_by_cached_key(|item| id(item).key());
    let mut turn = Vec::with_capacity(items.len());
    let mut last: Option<String> = None;
    let mut n = 0usize;
    for item in items.iter() {
        let sub = id(item).subscription().to_ascii_lowercase();
        n = if last.as_deref() == Some(sub.as_str()) { n + 1 } else { 0 };
        turn.push(n);
        last = Some(sub);
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| turn[a].cmp(&turn[b]).then_with(|| a.cmp(&b)));
    apply_permutation(items, order);
}

/// Reorders `items` so that position `i` holds what was at `order[i]`.
fn apply_permutation<T>(items: &mut [T], mut order: Vec<usize>) {
    for i in 0..items.len() {
        // Follow the cycle starting at `i`, swapping each element into place.
        let mut current = i;
        while order[current] != i {
            let next = order[current];
            items.swap(current, next);
            order[current] = current;
            current = next;
        }
        order[current] = current;
    }
}

/// Records being read in (any order, duplicates dropped by cluster id).
pub struct Spool {
    file: BufWriter<File>,
    written: u64,
    seen: HashSet<String>,
    entries: Vec<(ClusterId, u64, u32)>,
}

impl Spool {
    /// An empty spool over a new unnamed temporary file.
    pub fn new() -> Result<Self, SpoolError> {
        Ok(Self { file: BufWriter::new(tempfile::tempfile().map_err(io)?), written: 0, seen: HashSet::new(), entries: Vec::new() })
    }

    /// Adds `record` unless a record of the same cluster (any case) was added before; whether
    /// it was added.
    pub fn push(&mut self, record: &ClusterRecord) -> Result<bool, SpoolError> {
        if !self.seen.insert(record.id.key()) {
            return Ok(false);
        }
        let bytes = serde_json::to_vec(record).map_err(io)?;
        let len = u32::try_from(bytes.len()).map_err(|_| SpoolError(format!("a record of {} bytes", bytes.len())))?;
        self.file.write_all(&bytes).map_err(io)?;
        self.entries.push((record.id.clone(), self.written, len));
        self.written += u64::from(len);
        Ok(true)
    }

    /// Records added so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The records in [`sweep_order`], ready to be read.
    pub fn finish(self) -> Result<FleetRecords, SpoolError> {
        let Self { file, mut entries, .. } = self;
        let file = file.into_inner().map_err(|e| io(e.error()))?;
        sweep_order(&mut entries, |e| &e.0);
        let mut ids = Vec::with_capacity(entries.len());
        let mut places = Vec::with_capacity(entries.len());
        for (id, offset, len) in entries {
            ids.push(id);
            places.push((offset, len));
        }
        Ok(FleetRecords { ids, store: Arc::new(Store::File { file: Mutex::new(file), places }), error: Arc::default() })
    }
}

enum Store {
    Memory(Vec<ClusterRecord>),
    File { file: Mutex<File>, places: Vec<(u64, u32)> },
}

impl Store {
    fn read(&self, i: usize) -> Result<ClusterRecord, SpoolError> {
        match self {
            Self::Memory(records) => Ok(records[i].clone()),
            Self::File { file, places } => {
                let (offset, len) = places[i];
                let mut buf = vec![0u8; len as usize];
                let mut f = file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                f.seek(SeekFrom::Start(offset)).map_err(io)?;
                f.read_exact(&mut buf).map_err(io)?;
                drop(f);
                serde_json::from_slice(&buf).map_err(io)
            }
        }
    }
}

/// A fleet's records in [`sweep_order`]: their ids in memory, the records read one at a time.
pub struct FleetRecords {
    ids: Vec<ClusterId>,
    store: Arc<Store>,
    /// The first record that could not be read back (it ended a [`RecordReader`]).
    error: Arc<Mutex<Option<SpoolError>>>,
}

impl FleetRecords {
    /// Records already in memory, put in [`sweep_order`] here (duplicates are the caller's).
    pub fn in_memory(mut records: Vec<ClusterRecord>) -> Self {
        sweep_order(&mut records, |r| &r.id);
        let ids = records.iter().map(|r| r.id.clone()).collect();
        Self { ids, store: Arc::new(Store::Memory(records)), error: Arc::default() }
    }

    /// The clusters, in sweep order.
    pub fn ids(&self) -> &[ClusterId] {
        &self.ids
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Every record in sweep order, each read when the iterator is advanced. A record that
    /// cannot be read back ends the iteration; [`FleetRecords::error`] then says why.
    pub fn records(&self) -> RecordReader {
        RecordReader { store: Arc::clone(&self.store), next: 0, len: self.ids.len(), error: Arc::clone(&self.error) }
    }

    /// Why a [`RecordReader`] stopped early, if one did.
    pub fn error(&self) -> Option<SpoolError> {
        self.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// [`FleetRecords::records`].
pub struct RecordReader {
    store: Arc<Store>,
    next: usize,
    len: usize,
    error: Arc<Mutex<Option<SpoolError>>>,
}

impl Iterator for RecordReader {
    type Item = ClusterRecord;

    fn next(&mut self) -> Option<ClusterRecord> {
        if self.next >= self.len {
            return None;
        }
        match self.store.read(self.next) {
            Ok(record) => {
                self.next += 1;
                Some(record)
            }
            Err(e) => {
                self.next = self.len;
                self.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(e);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::inventory::{BaselineView, PoolRecord};
    use serde_json::json;

    fn record(name: &str, version: &str) -> ClusterRecord {
        ClusterRecord {
            id: ClusterId::from_parts("00000000-0000-0000-0000-000000000001", "rg-platform", name),
            location: "westeurope".into(),
            tags: [("env".to_string(), "prod".to_string())].into(),
            current_kubernetes_version: Some(version.into()),
            kubernetes_version: Some(version.into()),
            provisioning_state: Some("Succeeded".into()),
            power_state: Some("Running".into()),
            support_plan: None,
            upgrade_channel: Some("patch".into()),
            node_os_upgrade_channel: None,
            fqdn: Some(format!("{name}.hcp.westeurope.azmk8s.io")),
            private_fqdn: None,
            pools: vec![PoolRecord { name: "system".into(), node_image_version: Some("AKSUbuntu-2204gen2containerd-202405.03.0".into()), ..Default::default() }],
            baseline: Some(BaselineView::new(&json!({"properties": {"disableLocalAccounts": true}, "sku": {"tier": "Standard"}}))),
        }
    }

    fn id(sub: &str, name: &str) -> ClusterId {
        ClusterId::from_parts(sub, "rg", name)
    }

    #[test]
    fn the_sweep_takes_the_subscriptions_in_turn_and_each_subscriptions_clusters_by_id() {
        let mut ids = vec![id("sub-b", "b2"), id("sub-a", "a3"), id("sub-c", "c1"), id("sub-a", "a1"), id("sub-b", "b1"), id("sub-a", "a2")];
        sweep_order(&mut ids, |i| i);
        let names: Vec<&str> = ids.iter().map(ClusterId::name).collect();
        assert_eq!(names, ["a1", "b1", "c1", "a2", "b2", "a3"]);
        // The order depends on the ids only, not on the order they came in.
        let mut again = vec![id("sub-a", "a2"), id("sub-c", "c1"), id("sub-a", "a1"), id("sub-b", "b1"), id("sub-a", "a3"), id("sub-b", "b2")];
        sweep_order(&mut again, |i| i);
        assert_eq!(again, ids);
        // One subscription: by id.
        let mut one = vec![id("s", "c"), id("s", "a"), id("s", "b")];
        sweep_order(&mut one, |i| i);
        assert_eq!(one.iter().map(ClusterId::name).collect::<Vec<_>>(), ["a", "b", "c"]);
        // A subscription id in another case is the same subscription.
        let mut cased = vec![id("SUB-A", "x2"), id("sub-a", "x1"), id("sub-b", "y1")];
        sweep_order(&mut cased, |i| i);
        assert_eq!(cased.iter().map(ClusterId::name).collect::<Vec<_>>(), ["x1", "y1", "x2"]);
        let mut apart = vec![id("sub-a", "a1"), id("SUB-B", "b1"), id("SUB-A", "a2")];
        sweep_order(&mut apart, |i| i);
        assert_eq!(apart.iter().map(ClusterId::name).collect::<Vec<_>>(), ["a1", "b1", "a2"], "sub-a and SUB-A take turns as one");
    }

    #[test]
    fn a_permutation_moves_each_item_once() {
        for n in 0..7usize {
            let mut items: Vec<usize> = (0..n).map(|i| i * 10).collect();
            // Reverse, then a rotation: cycles of every length.
            let order: Vec<usize> = (0..n).rev().collect();
            apply_permutation(&mut items, order.clone());
            assert_eq!(items, order.iter().map(|i| i * 10).collect::<Vec<_>>());
            let mut items: Vec<usize> = (0..n).collect();
            let rotation: Vec<usize> = (0..n).map(|i| (i + 2) % n.max(1)).collect();
            apply_permutation(&mut items, rotation.clone());
            assert_eq!(items, rotation);
        }
    }

    #[test]
    fn records_come_back_whole_in_cluster_order_once_each() {
        let mut spool = Spool::new().unwrap();
        for (name, v) in [("aks-c", "1.30.4"), ("aks-a", "1.29.9"), ("aks-b", "1.31.2")] {
            assert!(spool.push(&record(name, v)).unwrap());
        }
        let mut dup = record("AKS-A", "1.28.0");
        dup.id = ClusterId::parse(&dup.id.as_str().to_uppercase()).unwrap();
        assert!(!spool.push(&dup).unwrap(), "the same cluster in another case is a duplicate");
        assert_eq!(spool.len(), 3);
        let fleet = spool.finish().unwrap();
        let names: Vec<&str> = fleet.ids().iter().map(|id| id.name()).collect();
        assert_eq!(names, ["aks-a", "aks-b", "aks-c"]);
        let read: Vec<ClusterRecord> = fleet.records().collect();
        assert_eq!(read, vec![record("aks-a", "1.29.9"), record("aks-b", "1.31.2"), record("aks-c", "1.30.4")]);
        // Read again (a second pass), the same.
        assert_eq!(fleet.records().count(), 3);
        assert_eq!(fleet.error(), None);
    }

    #[test]
    fn a_fleet_in_memory_reads_the_same_as_a_spooled_one() {
        let records = vec![record("aks-c", "1.30.4"), record("aks-a", "1.29.9")];
        let mut spool = Spool::new().unwrap();
        for r in &records {
            spool.push(r).unwrap();
        }
        let spooled = spool.finish().unwrap();
        let memory = FleetRecords::in_memory(records);
        assert_eq!(memory.ids(), spooled.ids());
        assert_eq!(memory.records().collect::<Vec<_>>(), spooled.records().collect::<Vec<_>>());
    }

    #[test]
    fn a_record_that_cannot_be_read_back_ends_the_reading_and_says_why() {
        let mut spool = Spool::new().unwrap();
        spool.push(&record("aks-a", "1.29.9")).unwrap();
        spool.push(&record("aks-b", "1.30.4")).unwrap();
        let mut fleet = spool.finish().unwrap();
        // The second record's place now points past the end of the file.
        if let Some(Store::File { places, .. }) = Arc::get_mut(&mut fleet.store) {
            places[1].0 += 1 << 20;
        }
        let read: Vec<ClusterRecord> = fleet.records().collect();
        assert_eq!(read.len(), 1, "the first record was read, the reading stopped at the second");
        let e = fleet.error().expect("the failure is kept");
        assert!(e.to_string().contains("TMPDIR"), "{e}");
    }
}
