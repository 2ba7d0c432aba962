//! Azure Resource Manager: identity, the ARM client, and the table of ARM calls and the role
//! actions they need.
//!
//! ```text
//! identity   TokenSource: azure_identity credentials chosen by AZURE_CREDENTIAL, or a static token
//! arm        ArmClient: base URL from ARM_ENDPOINT, bounded concurrency, retries, 429/Retry-After,
//!            x-ms-ratelimit-remaining-* pacing, error classification, long-running operations
//! throttle   the pure parts: retry decision, pacing delay, header parsing
//! calls      ArmCall: every kind of request the code makes, with the RBAC action it needs
//!            (the roles in infra/roles/ are checked against it)
//! ```
//!
//! The upgrade/rotation adapter that uses this client is `actions::azure`; fleet sweeps are in
//! `sweep/`.
//!
//! Layer: edge: identity and the ARM client; imports the core only.

pub mod arm;
pub mod calls;
pub mod identity;
pub mod throttle;

pub use arm::{ArmClient, ArmConfig, ArmError, ArmErrorKind, ArmResponse, LroOutcome};
pub use calls::ArmCall;
pub use identity::{StaticToken, TokenSource};

/// The api-version used for every `Microsoft.ContainerService` call.
pub const AKS_API_VERSION: &str = "2026-06-01";
/// The api-version of Azure Resource Graph queries.
pub const RESOURCE_GRAPH_API_VERSION: &str = "2024-04-01";
/// The api-version used to list subscriptions (`Microsoft.Resources`).
pub const SUBSCRIPTIONS_API_VERSION: &str = "2022-12-01";

/// Builds the HTTP client every Azure call uses (ARM and the identity endpoints).
///
/// reqwest is built with `rustls-no-provider`: the process-wide rustls provider is aws-lc, installed
/// here if nobody has installed one yet (never ring, never OpenSSL). Redirects are off: ARM does
/// not redirect, and following one would carry the bearer token elsewhere.
pub fn http_client() -> reqwest::Client {
    // Ignore the error: it only means a provider is already installed (by main or another client).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(100))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("aks-cadence/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the reqwest client builds with static options")
}
