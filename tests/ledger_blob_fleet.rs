//! Harness for the scale-out proof: several `handler` processes on one Azurite container.
//!
//! The proof itself (issue 5) needs the merged host, pipeline and GitHub adapter; it goes here:
//! 1. A fresh container (`fresh_ledger`) and a wiremock "GitHub" in this process answering
//!    `GET /search/issues` (no marker found) and `POST /repos/o/r/issues` (201, a number).
//! 2. `HandlerFleet::start(env!("CARGO_BIN_EXE_handler"), 4, …)` with `CADENCE_STATE=blob:<url>`,
//!    `CADENCE_DRY_RUN=false`, `GITHUB_API_URL=<wiremock>`, `GITHUB_TOKEN=test`, and a
//!    `CADENCE_CONFIG` policy that opens a GitHub issue for every new-version signal.
//! 3. 200 distinct `NewKubernetesVersionAvailable` events (the real fixture, 200 cluster ids),
//!    each delivered 3 times as custom-handler invocations (`POST /aks-events` with
//!    `{"Data":{"event":…},"Metadata":{}}`), round-robin over the 4 processes, 32 at a time;
//!    a non-2xx answer is delivered again (as Event Grid would), bounded.
//! 4. Assert wiremock saw exactly 200 issue creations and `BlobLedger::list_actions` shows 200
//!    `Done` github-issue keys; print both counts.
//!
//! What exists today: the fleet harness, checked below against the binary of this build.

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
