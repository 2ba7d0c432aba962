//! The shared ledger contract suite (`store::contract`) against the blob ledger on a real
//! Azurite — the same cases `ledger_sqlite.rs` runs on SQLite. Each store name maps to its own
//! container, so "the same store" opened twice is two clients on one container.

mod ledger_blob_support;

use std::sync::Arc;

use aks_cadence::store::Ledger;
use aks_cadence::store::blob::BlobLedger;
use aks_cadence::store::contract::{self, OpenLedger};
use ledger_blob_support::{container_url, unique_container};

fn blob_opener() -> OpenLedger {
    // One prefix per opener: names inside one test share containers, other tests do not.
    let prefix = unique_container("contract");
    Arc::new(move |name: String| {
        let safe: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
        let container: String = format!("{prefix}-{safe}").chars().take(63).collect::<String>().trim_end_matches('-').to_string();
        let url = container_url(&container);
        Box::pin(async move {
            let ledger = BlobLedger::new(&url, None).expect("blob ledger opens");
            ledger.ensure_container().await.expect("container is created in Azurite");
            Arc::new(ledger) as Arc<dyn Ledger>
        })
    })
}

macro_rules! contract_case {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            contract::$name(blob_opener()).await;
        }
    )*};
}

contract_case!(
    events_are_marked_processed_once,
    concurrent_event_marks_succeed_once,
    first_seen_keeps_the_first_time,
    seen_reads_first_seen_without_recording,
    a_new_key_is_acquired_and_shows_as_claimed,
    a_live_claim_is_held_elsewhere,
    an_expired_claim_is_taken_over_and_the_stale_token_loses,
    done_is_finished_for_every_later_claim,
    failed_is_finished_and_keeps_the_reason,
    release_frees_the_key_for_a_retry,
    wrong_or_spent_tokens_are_lost_claims,
    concurrent_claims_acquire_exactly_once,
    two_instances_on_one_store_acquire_exactly_once,
    refs_are_stored_and_replaced,
    list_actions_is_sorted_by_key,
    everything_survives_a_restart,
);

#[test]
fn every_contract_case_runs_against_blob_too() {
    let source = include_str!("ledger_blob_contract.rs");
    for (name, _) in contract::CASES {
        assert!(source.contains(&format!("    {name},")), "contract case `{name}` is not run against the blob ledger");
    }
}
