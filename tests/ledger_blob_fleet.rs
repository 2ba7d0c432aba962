//! Harness for the scale-out proof: several `handler` processes on one Azurite container.
//!
//! The proof itself (issue 5) is `tests/scaleout_proof.rs`; this checks only that the fleet
//! comes up against the binary of this build.

mod ledger_blob_support;

use ledger_blob_support::{fresh_ledger, HandlerFleet};

#[tokio::test]
async fn four_handler_processes_on_one_container_all_come_up() {
    let (_, url) = fresh_ledger("fleet").await;
    let fleet = HandlerFleet::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_handler")),
        4,
        &[("CADENCE_STATE", format!("blob:{url}")), ("CADENCE_DRY_RUN", "true".into())],
    );
    let distinct: std::collections::BTreeSet<u16> = fleet.ports.iter().copied().collect();
    assert_eq!(distinct.len(), 4, "each process has its own port");
    for i in 0..4 {
        assert!(fleet.base_url(i).starts_with("http://127.0.0.1:"));
    }
}
