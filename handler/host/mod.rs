//! The Azure Functions custom-handler protocol and the Event Grid webhook.
//! (Filled in by the host work; the signatures below are the contract `main` uses.)

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::pipeline::EventSink;

/// Everything the routes need.
#[derive(Clone)]
pub struct AppState {
    pub sink: Arc<dyn EventSink>,
    /// Bodies larger than this get 413.
    pub max_body_bytes: usize,
}

/// The router: `GET /`, `POST /aks-events`, `POST|OPTIONS /api/eventgrid`.
pub fn app(state: AppState) -> Router {
    let _ = state;
    Router::new()
}

/// Serves `app(state)` on `listener` until `shutdown` resolves.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await
}
