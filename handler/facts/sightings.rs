//! First sightings of a batch of signals, as data: which concern keys the batch is about, what
//! the pipeline must ask the ledger for each (once per key), and which answer each signal sees.
//! The pipeline makes the ledger calls ([`Pipeline::sightings`](crate::pipeline)); the rule is
//! here, pure:
//!
//! Per key this gives what asking signal by signal would give, except that the sighting
//! recorded is the EARLIEST observation of the batch (`observed_at`, never after `now`) rather
//! than the first in batch order: with the occurrences of a key in signal order, let the first
//! opening one (not `Resolved`) be at `i0`:
//! - no opening signal: `seen(key)` for every (`Resolved`) occurrence;
//! - else `Resolved` occurrences before `i0` see the ledger as it was (`seen(key)`, asked
//!   first, only when there are any), and every occurrence from `i0` on gets
//!   `first_seen(key, earliest)` — so all signals of one batch about a concern plan with the
//!   same first sighting, whatever order the batch came in.
//!
//! Layer: core: pure, no IO.

use std::collections::HashMap;

use jiff::Timestamp;

use crate::domain::{Signal, SignalKind};
use crate::plan;
use crate::policy::Policy;

/// What the batch says about one concern key, and so what to ask the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyReads {
    pub key: String,
    /// The first signal (index) that opens the concern, with the batch's earliest observation.
    pub opened: Option<(usize, Timestamp)>,
    /// Whether a `Resolved` signal comes before the first opening one.
    pub resolved_first: bool,
}

impl KeyReads {
    /// Whether the ledger must be asked `seen(key)` (records nothing): for `Resolved`
    /// occurrences before the first opening one, or when nothing opens the key.
    pub fn asks_seen(&self) -> bool {
        self.resolved_first || self.opened.is_none()
    }

    /// When to record the key's first sighting (`first_seen(key, at)`) if `seen` did not find
    /// it: the earliest observation of the signals that open it; `None` when none does.
    pub fn records_at(&self) -> Option<Timestamp> {
        self.opened.map(|(_, at)| at)
    }
}

/// The ledger's answers for one key: (`seen` before the first opening signal, the sighting
/// from it on).
pub type KeyAnswer = (Option<Timestamp>, Option<Timestamp>);

/// The reads a batch needs, and which key each signal is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sightings {
    /// One per distinct key, in order of first mention.
    pub reads: Vec<KeyReads>,
    /// For each signal, in order, the indices into `reads` of its concern keys.
    per_signal: Vec<Vec<usize>>,
}

impl Sightings {
    /// The reads `signals` need (see the module docs).
    pub fn of(signals: &[&Signal], policy: &Policy, now: Timestamp) -> Self {
        let scans: Vec<plan::Scan> = signals.iter().map(|s| plan::scan(s, policy)).collect();
        Self::of_scans(signals, &scans, now)
    }

    /// [`Self::of`] from each signal's [`plan::scan`] (`scans[i]` is that of `signals[i]`).
    pub fn of_scans(signals: &[&Signal], scans: &[plan::Scan], now: Timestamp) -> Self {
        debug_assert_eq!(signals.len(), scans.len(), "one scan per signal");
        let mut reads: Vec<KeyReads> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut per_signal: Vec<Vec<usize>> = Vec::with_capacity(signals.len());
        for ((i, signal), scan) in signals.iter().enumerate().zip(scans) {
            // A fact is first seen when it was observed (events can arrive late), never in
            // the future of our clock, and an event's time only within the trust window.
            let (observed, _) = plan::observed_at(signal, now);
            let resolved = matches!(signal.kind, SignalKind::Resolved { .. });
            let mut mine = Vec::new();
            for concern in &scan.concerns {
                let key = concern.key();
                let r = *index.entry(key.clone()).or_insert_with(|| {
                    reads.push(KeyReads { key, opened: None, resolved_first: false });
                    reads.len() - 1
                });
                let entry = &mut reads[r];
                match (&mut entry.opened, resolved) {
                    (None, true) => entry.resolved_first = true,
                    (None, false) => entry.opened = Some((i, observed)),
                    (Some((_, earliest)), false) => *earliest = (*earliest).min(observed),
                    (Some(_), true) => {}
                }
                mine.push(r);
            }
            per_signal.push(mine);
        }
        Self { reads, per_signal }
    }

    /// For each signal, in order, its concern keys with when each was first seen (`None`: the
    /// ledger has not seen it; only a `Resolved` signal, which records nothing, can get that),
    /// from the ledger's `answers` (one per [`Self::reads`], in order).
    pub fn answer(self, answers: &[KeyAnswer]) -> Vec<Vec<(String, Option<Timestamp>)>> {
        let Self { reads, per_signal } = self;
        per_signal
            .into_iter()
            .enumerate()
            .map(|(i, mine)| {
                mine.into_iter()
                    .map(|r| {
                        let (before, after) = answers[r];
                        let at = match reads[r].opened {
                            Some((i0, _)) if i >= i0 => after,
                            _ => before,
                        };
                        (reads[r].key.clone(), at)
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClusterId, Origin};

    fn signal(kind: SignalKind, at: &str) -> Signal {
        Signal { cluster: ClusterId::from_parts("s", "rg", "aks-a"), facts: Default::default(), kind, observed_at: at.parse().unwrap(), origin: Origin::Manual }
    }

    #[test]
    fn a_resolved_before_the_opening_signal_sees_the_ledger_as_it_was_and_the_rest_the_earliest_sighting() {
        let policy = Policy::default();
        let now: Timestamp = "2026-03-10T00:00:00Z".parse().unwrap();
        let ended = || SignalKind::SupportEnded { kubernetes_version: "1.29.4".into() };
        let opening_late = signal(ended(), "2026-03-05T00:00:00Z");
        let opening_early = signal(ended(), "2026-03-02T00:00:00Z");
        let key = plan::concerns(&opening_late, &policy)[0].key();
        let (concern, target) = (plan::concerns(&opening_late, &policy)[0].kind, plan::concerns(&opening_late, &policy)[0].target.clone());
        let resolved = signal(SignalKind::Resolved { concern, target }, "2026-03-01T00:00:00Z");

        let sightings = Sightings::of(&[&resolved, &opening_late, &opening_early], &policy, now);
        assert_eq!(sightings.reads.len(), 1, "one key, asked once");
        let read = &sightings.reads[0];
        assert!(read.asks_seen(), "a Resolved comes first");
        assert_eq!(read.records_at(), Some("2026-03-02T00:00:00Z".parse().unwrap()), "the earliest observation of the batch");

        let first: Timestamp = "2026-03-02T00:00:00Z".parse().unwrap();
        let answered = sightings.answer(&[(None, Some(first))]);
        assert_eq!(answered, vec![vec![(key.clone(), None)], vec![(key.clone(), Some(first))], vec![(key.clone(), Some(first))]]);
    }

    #[test]
    fn a_key_only_resolved_is_only_looked_up() {
        let policy = Policy::default();
        let now: Timestamp = "2026-03-10T00:00:00Z".parse().unwrap();
        let probe = signal(SignalKind::SupportEnded { kubernetes_version: "1.29.4".into() }, "2026-03-05T00:00:00Z");
        let c = &plan::concerns(&probe, &policy)[0];
        let resolved = signal(SignalKind::Resolved { concern: c.kind, target: c.target.clone() }, "2026-03-05T00:00:00Z");
        let sightings = Sightings::of(&[&resolved], &policy, now);
        assert!(sightings.reads[0].asks_seen());
        assert_eq!(sightings.reads[0].records_at(), None, "a Resolved records nothing");
    }
}
