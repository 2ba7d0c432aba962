//! First sightings this process has already read or written, so a concern seen again (the next
//! event about the same cluster and version) costs no ledger call.
//!
//! Exact, not a guess: a concern's first-seen time never moves once written (the ledger's
//! contract: `first_seen` inserts if absent and returns the stored value; nothing updates or
//! deletes it), so a remembered answer is the answer every later read would give, in this
//! process or any other. Only answers the ledger gave are kept, never an absence (another
//! instance may record the concern at any time). Bounded: when [`KNOWN_MAX`] keys are held the
//! map is emptied and fills again from the ledger — a few ledger calls, never a wrong answer.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::Timestamp;

/// Keys held at most (a key is ~150 bytes: ~3 MiB when full).
pub const KNOWN_MAX: usize = 16_384;

/// Concern key → when it was first seen, as the ledger answered.
#[derive(Default)]
pub struct KnownSightings {
    map: Mutex<HashMap<String, Timestamp>>,
}

impl KnownSightings {
    /// The first-seen time the ledger gave for `key`, if this process has read or written it.
    pub fn get(&self, key: &str) -> Option<Timestamp> {
        self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).copied()
    }

    /// Keeps the ledger's answer for `key`.
    pub fn keep(&self, key: &str, at: Timestamp) {
        let mut map = self.map.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= KNOWN_MAX && !map.contains_key(key) {
            map.clear();
        }
        map.entry(key.to_string()).or_insert(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_kept_answer_is_returned_and_never_replaced() {
        let known = KnownSightings::default();
        assert_eq!(known.get("k"), None);
        known.keep("k", at("2026-05-01T00:00:00Z"));
        known.keep("k", at("2026-06-01T00:00:00Z"));
        assert_eq!(known.get("k"), Some(at("2026-05-01T00:00:00Z")), "the first answer stays: first sightings never move");
    }

    #[test]
    fn a_full_map_is_emptied_before_a_new_key_and_keeps_working() {
        let known = KnownSightings::default();
        for i in 0..KNOWN_MAX {
            known.keep(&format!("k{i}"), at("2026-05-01T00:00:00Z"));
        }
        // A key already held does not empty it.
        known.keep("k0", at("2026-05-02T00:00:00Z"));
        assert_eq!(known.get("k1"), Some(at("2026-05-01T00:00:00Z")));
        known.keep("new", at("2026-05-03T00:00:00Z"));
        assert_eq!(known.get("k1"), None, "emptied at the bound");
        assert_eq!(known.get("new"), Some(at("2026-05-03T00:00:00Z")));
        assert_eq!(known.map.lock().unwrap().len(), 1);
    }
}
