//! Who aks-cadence is to Azure: a [`TokenSource`] yields bearer tokens for ARM.
//!
//! In production the source wraps one credential of the official `azure_identity` crate, chosen
//! explicitly by `AZURE_CREDENTIAL` (the crate has no DefaultAzureCredential, and guessing would
//! make a misconfigured app act under an unexpected identity):
//!
//! | setting | credential | reads |
//! |---|---|---|
//! | `managed_identity` | `ManagedIdentityCredential` | `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` (App Service / Functions, api-version 2019-08-01), else IMDS; `AZURE_CLIENT_ID` selects a user-assigned identity |
//! | `workload_identity` | `WorkloadIdentityCredential` | `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE` |
//! | `client_secret` | `ClientSecretCredential` | `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` |
//! | `azure_cli` | `AzureCliCredential` | `az account get-access-token` (local use) |
//!
//! The scope is derived from `ARM_ENDPOINT` (`https://management.azure.com/.default`, or the
//! sovereign cloud's ARM host), and so is the Entra authority host for the two credentials that
//! talk to Entra directly. The credentials' own retries are off (house rule 7: the ARM client
//! retries token failures as transient) and they use our reqwest client (rustls on aws-lc).
//!
//! Tests inject [`StaticToken`].

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::settings::{AzureCredentialKind, Secret, Settings, SettingsError};

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not get an Azure token ({credential}): {message}")]
pub struct IdentityError {
    /// Which credential failed (`managed_identity`, …).
    pub credential: &'static str,
    pub message: String,
}

/// Yields a bearer token for ARM. Implementations cache; callers ask before every request.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    async fn token(&self) -> Result<Secret, IdentityError>;
}

/// A fixed token (tests, and local runs against a fake ARM).
#[derive(Debug, Clone)]
pub struct StaticToken(Secret);

impl StaticToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(Secret::new(token))
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self) -> Result<Secret, IdentityError> {
        Ok(self.0.clone())
    }
}

/// The ARM token scope for an ARM endpoint: `<scheme>://<host>[:port]/.default`.
pub fn arm_scope(arm_endpoint: &str) -> String {
    match url::Url::parse(arm_endpoint) {
        Ok(u) => format!("{}/.default", u.origin().ascii_serialization()),
        Err(_) => format!("{}/.default", arm_endpoint.trim_end_matches('/')),
    }
}

/// The Entra cloud that goes with an ARM endpoint (`None` = public cloud, or whatever
/// `AZURE_AUTHORITY_HOST` says).
pub fn cloud_for(arm_endpoint: &str) -> Option<azure_core::cloud::CloudConfiguration> {
    let host = url::Url::parse(arm_endpoint).ok()?.host_str()?.to_ascii_lowercase();
    if host.ends_with(".usgovcloudapi.net") {
        Some(azure_core::cloud::CloudConfiguration::AzureGovernment)
    } else if host.ends_with(".chinacloudapi.cn") {
        Some(azure_core::cloud::CloudConfiguration::AzureChina)
    } else {
        None
    }
}

fn kind_name(kind: AzureCredentialKind) -> &'static str {
    match kind {
        AzureCredentialKind::ManagedIdentity => "managed_identity",
        AzureCredentialKind::WorkloadIdentity => "workload_identity",
        AzureCredentialKind::ClientSecret => "client_secret",
        AzureCredentialKind::AzureCli => "azure_cli",
    }
}

/// A token source backed by an `azure_identity` credential, with a small cache in front
/// (the CLI credential does not cache; the others do, and one more layer costs nothing).
pub struct AzureCredentialSource {
    kind: AzureCredentialKind,
    scope: String,
    credential: Arc<dyn TokenCredential>,
    cached: Mutex<Option<(Secret, OffsetDateTime)>>,
}

impl fmt::Debug for AzureCredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureCredentialSource").field("kind", &kind_name(self.kind)).field("scope", &self.scope).finish_non_exhaustive()
    }
}

impl AzureCredentialSource {
    /// Builds the credential `settings.azure_credential` names. Errors name the setting.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let credential = credential(settings)?;
        Ok(Self { kind: settings.azure_credential, scope: arm_scope(&settings.arm_endpoint), credential, cached: Mutex::new(None) })
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }
}

/// The `azure_identity` credential `AZURE_CREDENTIAL` names, without a scope: ARM wraps it in
/// an [`AzureCredentialSource`]; the blob ledger (`CADENCE_STATE=blob:https://…`) hands it to
/// the storage client, which asks for its own scope. Building it does no network IO (a token is
/// first asked for when a request needs one), so a wrong identity shows at the first call. One
/// thing is checked here because no retry can fix it: `azure_cli` needs an `az` on `PATH`
/// (see [`az_on_path`]); without one the start fails at once, naming the setting and the fix.
pub fn credential(settings: &Settings) -> Result<Arc<dyn TokenCredential>, SettingsError> {
    use azure_core::http::{ClientOptions, RetryOptions, Transport};
    use azure_identity::*;

    let kind = settings.azure_credential;
    let err = |e: azure_core::Error| setting_error(kind, e.to_string(), GENERIC_FIX.into());
    let client_options = ClientOptions {
        transport: Some(Transport::new(Arc::new(super::http_client()))),
        retry: RetryOptions::none(),
        cloud: cloud_for(&settings.arm_endpoint).map(Arc::new),
        ..Default::default()
    };
    let credential: Arc<dyn TokenCredential> = match kind {
        AzureCredentialKind::ManagedIdentity => ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
            user_assigned_id: settings.azure_client_id.clone().map(UserAssignedId::ClientId),
            client_options,
        }))
        .map_err(err)?,
        AzureCredentialKind::WorkloadIdentity => WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
            credential_options: ClientAssertionCredentialOptions { client_options },
            client_id: settings.azure_client_id.clone(),
            tenant_id: settings.azure_tenant_id.clone(),
            token_file_path: None,
        }))
        .map_err(err)?,
        AzureCredentialKind::ClientSecret => {
            let missing = |name: &str| {
                setting_error(kind, format!("{name} is not set; client_secret needs AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"), GENERIC_FIX.into())
            };
            let tenant = settings.azure_tenant_id.as_deref().ok_or_else(|| missing("AZURE_TENANT_ID"))?;
            let client = settings.azure_client_id.clone().ok_or_else(|| missing("AZURE_CLIENT_ID"))?;
            let secret = settings.azure_client_secret.as_ref().ok_or_else(|| missing("AZURE_CLIENT_SECRET"))?;
            ClientSecretCredential::new(
                tenant,
                client,
                azure_core::credentials::Secret::new(secret.expose().to_string()),
                Some(ClientSecretCredentialOptions { client_options }),
            )
            .map_err(err)?
        }
        AzureCredentialKind::AzureCli if !az_on_path(std::env::var_os("PATH").as_deref()) => {
            return Err(setting_error(
                kind,
                "it runs the Azure CLI (the default outside the Functions host), but there is no `az` on PATH".into(),
                "install the Azure CLI and run `az login`, or set it to client_secret with AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET".into(),
            ));
        }
        AzureCredentialKind::AzureCli => AzureCliCredential::new(Some(AzureCliCredentialOptions {
            tenant_id: settings.azure_tenant_id.clone(),
            ..Default::default()
        }))
        .map_err(err)?,
    };
    Ok(credential)
}

const GENERIC_FIX: &str = "set AZURE_CREDENTIAL to managed_identity (Functions), workload_identity, client_secret or azure_cli, with the settings it needs";

/// A credential that cannot be built is a wrong setting: exit 2 naming `AZURE_CREDENTIAL`.
fn setting_error(kind: AzureCredentialKind, problem: String, fix: String) -> SettingsError {
    SettingsError { name: "AZURE_CREDENTIAL", problem: format!("{}: {problem}", kind_name(kind)), fix }
}

/// Whether `az` is an executable file in one of `path`'s directories. `AzureCliCredential` runs
/// `/bin/sh -c "cd /bin && az account get-access-token …"`, and the shell exits 127 when `az`
/// is missing; the ARM client would retry that as a transient token failure and every call of a
/// sweep would print the same cause. With `PATH` unset the shell searches its built-in default
/// path, and so does this check.
#[cfg(unix)]
pub fn az_on_path(path: Option<&std::ffi::OsStr>) -> bool {
    use std::os::unix::fs::PermissionsExt;
    const SHELL_DEFAULT: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let path = path.unwrap_or(std::ffi::OsStr::new(SHELL_DEFAULT));
    std::env::split_paths(path).any(|dir| {
        // The shell runs in /bin, so an empty or relative PATH entry is relative to /bin.
        let file = std::path::Path::new("/bin").join(dir).join("az");
        std::fs::metadata(file).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// On Windows `cmd` resolves `az` through `PATHEXT` too; the credential's own error says it.
#[cfg(not(unix))]
pub fn az_on_path(_path: Option<&std::ffi::OsStr>) -> bool {
    true
}

#[async_trait]
impl TokenSource for AzureCredentialSource {
    async fn token(&self) -> Result<Secret, IdentityError> {
        // Held across the await on purpose: concurrent callers wait for one refresh instead of
        // each asking the identity endpoint.
        let mut cached = self.cached.lock().await;
        let margin = azure_core::time::Duration::minutes(5);
        if let Some((token, expires)) = cached.as_ref()
            && *expires - margin > OffsetDateTime::now_utc()
        {
            return Ok(token.clone());
        }
        let scopes = [self.scope.as_str()];
        let token = self
            .credential
            .get_token(&scopes, None)
            .await
            .map_err(|e| IdentityError { credential: kind_name(self.kind), message: e.to_string() })?;
        let secret = Secret::new(token.token.secret().to_string());
        *cached = Some((secret.clone(), token.expires_on));
        Ok(secret)
    }
}

/// The token source the settings ask for.
pub fn from_settings(settings: &Settings) -> Result<Arc<dyn TokenSource>, SettingsError> {
    Ok(Arc::new(AzureCredentialSource::from_settings(settings)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_follows_the_arm_endpoint() {
        assert_eq!(arm_scope("https://management.azure.com"), "https://management.azure.com/.default");
        assert_eq!(arm_scope("https://management.usgovcloudapi.net/"), "https://management.usgovcloudapi.net/.default");
        assert_eq!(arm_scope("http://127.0.0.1:8080"), "http://127.0.0.1:8080/.default");
    }

    #[cfg(unix)]
    #[test]
    fn az_is_found_only_as_an_executable_file_on_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().as_os_str().to_owned();
        assert!(!az_on_path(Some(&path)), "an empty folder has no az");
        let az = dir.path().join("az");
        std::fs::write(&az, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(!az_on_path(Some(&path)), "a file that cannot be run is not az");
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(az_on_path(Some(&path)));
        let two = std::env::join_paths(["/nonexistent", dir.path().to_str().unwrap()]).unwrap();
        assert!(az_on_path(Some(&two)), "any PATH entry will do");
    }

    #[test]
    fn sovereign_clouds_pick_their_authority() {
        assert!(matches!(cloud_for("https://management.usgovcloudapi.net"), Some(azure_core::cloud::CloudConfiguration::AzureGovernment)));
        assert!(matches!(cloud_for("https://management.chinacloudapi.cn"), Some(azure_core::cloud::CloudConfiguration::AzureChina)));
        assert!(cloud_for("https://management.azure.com").is_none());
    }
}
