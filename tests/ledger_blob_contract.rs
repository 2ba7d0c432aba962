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

aks_cadence::ledger_contract_cases!(contract_case);

