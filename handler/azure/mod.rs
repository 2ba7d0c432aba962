//! Azure Resource Manager: identity, the ARM client, and the table of ARM calls and the role
//! actions they need.
//!
//! ```text
//! identity   TokenSource: azure_identity credentials chosen by AZURE_CREDENTIAL, or a static token
//! arm        ArmClient: base URL from ARM_ENDPOINT, bounded concurrency, retries, 429/Retry-After,
//!            x-ms-ratelimit-remaining-* pacing, error classification, long-running operations
//! throttle   the pure parts: retry decision, pacing delay, header parsing
//! tls        the one rustls configuration of every HTTP client; trust roots loaded once, lazily
//! calls      ArmCall: every kind of request the code makes, with the RBAC action it needs
//!            (the roles in infra/roles/ are checked against it)
//! aks        AKS reads the sweep and the Azure adapter share: upgrade profile, user kubeconfigs
//! certs      certificate expiry readers (API server TLS, kubeconfigs), shared the same way
//! ```
//!
//! The upgrade/rotation adapter that uses this client is `actions::azure`; fleet sweeps are in
//! `sweep/`.
//!
//! Layer: edge: identity and the ARM client; imports the core only.

pub mod aks;
pub mod arm;
pub mod calls;
pub mod certs;
pub mod identity;
pub mod throttle;
pub mod tls;

pub use arm::{ArmClient, ArmConfig, ArmError, ArmErrorKind, ArmResponse, LroOutcome};
pub use calls::ArmCall;
pub use identity::{StaticToken, TokenSource};

/// The api-version used for every `Microsoft.ContainerService` call.
pub const AKS_API_VERSION: &str = "2026-06-01";
/// The api-version of Azure Resource Graph queries.
pub const RESOURCE_GRAPH_API_VERSION: &str = "2024-04-01";
/// The api-version used to list subscriptions (`Microsoft.Resources`).
pub const SUBSCRIPTIONS_API_VERSION: &str = "2022-12-01";

/// A reqwest builder with what every client of the handler shares: the process's one TLS
/// configuration ([`tls::client_config`]: aws-lc, trust roots loaded once, on first use),
/// redirects off, our user agent. Building a client from it does no IO.
///
/// reqwest is built with `rustls-no-provider`: the process-wide rustls provider is aws-lc,
/// installed by [`tls`] if nobody has installed one yet (never ring, never OpenSSL). Redirects
/// are off: ARM does not redirect, and following one would carry the bearer token (or a
/// webhook's body) elsewhere.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls::client_config())
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("aks-cadence/", env!("CARGO_PKG_VERSION")))
}

/// The HTTP client every Azure call uses (ARM and the identity endpoints): built once per
/// process, on first call, and shared (clones share one connection pool).
pub fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            client_builder()
                .connect_timeout(std::time::Duration::from_secs(10))
                .timeout(std::time::Duration::from_secs(100))
                .build()
                .expect("the reqwest client builds with static options and a prebuilt TLS configuration")
        })
        .clone()
}
