//! Placeholder `handler` binary (storage-infra branch): serves the host routes on
//! `FUNCTIONS_CUSTOMHANDLER_PORT` so that packaging can check the packaged binary starts and
//! answers `GET /`. The pipeline work replaces this file with the real CLI; take that version
//! when merging.

use std::sync::Arc;

use aks_cadence::host::{self, AppState};
use aks_cadence::pipeline::Pipeline;

fn main() -> anyhow::Result<()> {
    let port: u16 = match std::env::var("FUNCTIONS_CUSTOMHANDLER_PORT") {
        Ok(p) => p.parse()?,
        Err(_) => 8080,
    };
    tokio::runtime::Runtime::new()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let state = AppState { sink: Arc::new(Pipeline {}), max_body_bytes: 1024 * 1024 };
        host::serve(listener, state, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    })?;
    Ok(())
}
