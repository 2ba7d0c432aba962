//! Settings: read and validated once at start-up, then passed down (house rule 10).
//!
//! Every setting is an environment variable (Functions app settings; Key Vault references in
//! Azure). Secrets are held in [`Secret`], whose `Debug`/`Display` never show the value.
//! Errors name the setting and the fix.
//!
//! Layer: edge: settings read and validated once at start-up.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// A secret value. Its `Debug` and `Display` print `***`; read it with [`Secret::expose`] only
/// at the point of use (an Authorization header, an SMTP login).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}
impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("setting {name}: {problem}. Fix: {fix}")]
pub struct SettingsError {
    pub name: &'static str,
    pub problem: String,
    pub fix: String,
}

fn bad(name: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> SettingsError {
    SettingsError { name, problem: problem.into(), fix: fix.into() }
}

/// Where the ledger lives (`CADENCE_STATE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// `sqlite:PATH` (default `sqlite:cadence.db`).
    Sqlite(PathBuf),
    /// `blob:https://account.blob.core.windows.net/container` (managed identity), or
    /// `blob:http://127.0.0.1:10000/devstoreaccount1/container?<sas>` (emulator).
    Blob(String),
}

/// How to authenticate to Azure (`AZURE_CREDENTIAL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzureCredentialKind {
    ManagedIdentity,
    WorkloadIdentity,
    ClientSecret,
    AzureCli,
}

/// GitHub authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GithubAuth {
    Token(Secret),
    App { app_id: u64, private_key: Secret, installation_id: u64 },
}

/// All settings, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `FUNCTIONS_CUSTOMHANDLER_PORT` (the host's choice) — `None` when not under the host.
    pub port: Option<u16>,
    /// `CADENCE_CONFIG`, default `./cadence.toml`; a missing file means the built-in policy.
    pub config_path: PathBuf,
    /// `CADENCE_STATE`, default `sqlite:cadence.db`.
    pub state: StateLocation,
    /// `CADENCE_DRY_RUN` (default `true`): plan and print, act on nothing.
    pub dry_run: bool,
    /// `CADENCE_MAX_BODY_BYTES` (default 1 MiB — Event Grid's own delivery limit).
    pub max_body_bytes: usize,
    /// `CADENCE_LOG_FORMAT` = `json` | `text`; JSON by default under the Functions host.
    pub log_json: bool,
    /// `CADENCE_SUBSCRIPTIONS`: comma-separated subscription ids to sweep (empty = all readable).
    pub subscriptions: Vec<String>,
    /// `CADENCE_EVENTGRID_ALLOWED_TOPICS`: the Event Grid topics whose events both event routes
    /// process (see [`crate::topics`]); unset = the subscriptions of `CADENCE_SUBSCRIPTIONS`, or
    /// every topic when that is unset too.
    pub eventgrid_allowed_topics: crate::topics::TopicAllowList,
    /// `CADENCE_EVENTGRID_WEBHOOK` = `on` (default) | `off`: whether `/api/eventgrid` serves.
    /// `off` answers 404 naming the setting (infra sets it: its subscriptions use `aks-events`).
    pub eventgrid_webhook: bool,
    /// `CADENCE_SWEEP_CONCURRENCY` (default 16): per-cluster sweeps run at once in-process.
    pub sweep_concurrency: usize,
    /// `CADENCE_CLAIM_LEASE_SECONDS` (default 300, 5–3600): how long a claim on an action stays
    /// live. A claim left by an instance that died is taken over once it ends, so it bounds how
    /// long that instance's work waits; it must outlast the slowest action (retries and the
    /// GitHub budget's in-place waits included), or a slow action can be taken over and run twice.
    pub claim_lease: jiff::SignedDuration,
    /// `CADENCE_SWEEP_INLINE_MAX` (default 1000): fleets of at most this many clusters are swept
    /// inside the timer invocation as ONE plan (one digest per recipient); larger fleets fan
    /// out one queue message per cluster (each cluster its own plan, retried by the queue).
    pub sweep_inline_max: usize,
    /// `CADENCE_SWEEP_BATCH` (default 250, at least 1): an in-process sweep (`handler sweep`, the
    /// timer's inline sweep) plans, carries out and forgets its clusters this many at a time, so
    /// its memory follows this number and the concurrency, not the fleet's size.
    pub sweep_batch: usize,
    /// `CADENCE_SWEEP_EVENT_WIRING` (default true): each sweep checks, with one Resource Graph
    /// query, that every cluster's AKS events reach this app (`sweep::wiring`), and reports the
    /// clusters whose events do not, with the commands that wire them.
    pub sweep_event_wiring: bool,
    /// `CADENCE_SUPPORT_CALENDAR_URL` (default unset: off): a public support-calendar API read
    /// once per sweep (endoflife.date's API v1 product shape, e.g.
    /// `https://endoflife.date/api/v1/products/azure-kubernetes-service`) to date support
    /// concerns ahead of the built-in calendar (docs/policy.md, "Support calendar"). https
    /// only, except plain http to loopback (a local mirror or a test fake). A failed read
    /// falls back to the built-in calendar; it never fails a sweep.
    pub support_calendar_url: Option<String>,
    /// The function app's resource id, for the event-wiring check: `CADENCE_FUNCTION_APP_ID`,
    /// else built from what App Service sets (`WEBSITE_OWNER_NAME` = `<subscription>+…`,
    /// `WEBSITE_RESOURCE_GROUP`, `WEBSITE_SITE_NAME`). `None` locally: the check then reports
    /// only clusters without a system topic.
    pub function_app_id: Option<String>,
    /// `CADENCE_SWEEP_KUBECONFIG_CERTS` (default true): sweeps read each cluster's user
    /// kubeconfig (`POST …/listClusterUserCredential`, one ARM write-bucket request per cluster)
    /// for the cluster CA and client certificate expiries. `false` skips that read (the API
    /// server certificate is still read over TLS); the rotation guard reads it regardless.
    pub sweep_kubeconfig_certs: bool,
    /// `CADENCE_DIGEST_QUIET_SECONDS` (default 60, 0–3600): under the host, email and chat
    /// notifications wait in the ledger until none has joined them for this long, then go out
    /// as one digest per recipient and channel (the `digest` timer checks every minute). `0`
    /// sends each invocation's notifications at once (a burst of events then means one message
    /// per event). `handler replay` and `handler sweep` always send at once: one run is one batch.
    pub digest_quiet: jiff::SignedDuration,
    /// `CADENCE_DIGEST_MAX_WAIT_SECONDS` (default 900, from the quiet period up to 86400): a
    /// digest goes out once its oldest notification has waited this long, even while new ones
    /// keep joining (a fan-out sweep of a large fleet).
    pub digest_max_wait: jiff::SignedDuration,
    /// `ARM_ENDPOINT` (default `https://management.azure.com`).
    pub arm_endpoint: String,
    /// `AZURE_CREDENTIAL` (default `managed_identity` under the host, else `azure_cli`).
    pub azure_credential: AzureCredentialKind,
    /// `AZURE_CLIENT_ID` (user-assigned managed identity / app id), `AZURE_TENANT_ID`.
    pub azure_client_id: Option<String>,
    pub azure_tenant_id: Option<String>,
    /// `AZURE_CLIENT_SECRET` for `client_secret`.
    pub azure_client_secret: Option<Secret>,
    /// `GITHUB_API_URL` (default `https://api.github.com`).
    pub github_api_url: String,
    /// `GITHUB_TOKEN`, or `GITHUB_APP_ID` + `GITHUB_APP_PRIVATE_KEY` + `GITHUB_APP_INSTALLATION_ID`.
    pub github_auth: Option<GithubAuth>,
    /// `GITHUB_CONTENT_PER_MINUTE` (default 80) and `GITHUB_CONTENT_PER_HOUR` (default 500): this
    /// process's client-side budget for content-creating GitHub requests (GitHub.com's secondary
    /// limits). Lower them when several instances share one token (each keeps its own budget);
    /// GitHub Enterprise Server administrators can set other limits, or none.
    pub github_content_per_minute: u32,
    pub github_content_per_hour: u32,
    /// `SMTP_URL` (`smtp://host:25` STARTTLS, `smtps://host:465` implicit TLS,
    /// `smtp://host:1025?tls=none` plain for a local relay).
    pub smtp_url: Option<String>,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Secret>,
    /// `SMTP_FROM`, e.g. `aks-cadence <cadence@example.com>`.
    pub smtp_from: Option<String>,
    /// Every other variable, for settings that policy names (chat webhook URLs). Values are
    /// secrets: webhook URLs carry their own credentials.
    named: BTreeMap<String, Secret>,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_map(std::env::vars().collect())
    }

    /// Reads from a map (tests inject their own).
    pub fn from_map(env: BTreeMap<String, String>) -> Result<Self, SettingsError> {
        let get = |k: &str| env.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let under_host = get("FUNCTIONS_CUSTOMHANDLER_PORT").is_some();

        let port = match get("FUNCTIONS_CUSTOMHANDLER_PORT") {
            None => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| {
                bad("FUNCTIONS_CUSTOMHANDLER_PORT", format!("`{p}` is not a port number"), "set a number 1-65535 (the Functions host sets it for you)")
            })?),
        };
        let config_path = PathBuf::from(get("CADENCE_CONFIG").unwrap_or_else(|| "cadence.toml".into()));
        let state = parse_state(get("CADENCE_STATE").as_deref().unwrap_or("sqlite:cadence.db"))?;
        let dry_run = parse_bool("CADENCE_DRY_RUN", get("CADENCE_DRY_RUN"), true)?;
        let max_body_bytes = parse_num("CADENCE_MAX_BODY_BYTES", get("CADENCE_MAX_BODY_BYTES"), 1024 * 1024)?;
        let log_json = match get("CADENCE_LOG_FORMAT").as_deref() {
            None => under_host,
            Some("json") => true,
            Some("text") => false,
            Some(other) => return Err(bad("CADENCE_LOG_FORMAT", format!("`{other}` is not a log format"), "use `json` or `text`")),
        };
        let subscriptions: Vec<String> = get("CADENCE_SUBSCRIPTIONS")
            .map(|s| s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect())
            .unwrap_or_default();
        let eventgrid_allowed_topics = match get("CADENCE_EVENTGRID_ALLOWED_TOPICS") {
            None => crate::topics::TopicAllowList::from_subscriptions(&subscriptions),
            Some(v) => crate::topics::TopicAllowList::parse(&v).map_err(|problem| {
                bad(
                    "CADENCE_EVENTGRID_ALLOWED_TOPICS",
                    problem,
                    "list subscription ids or ARM id prefixes, comma-separated (e.g. `<sub-a>,/subscriptions/<sub-b>/resourceGroups/prod`), or `*` for every topic",
                )
            })?,
        };
        let eventgrid_webhook = match get("CADENCE_EVENTGRID_WEBHOOK").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("on" | "true" | "1" | "yes") => true,
            Some("off" | "false" | "0" | "no") => false,
            Some(other) => {
                return Err(bad("CADENCE_EVENTGRID_WEBHOOK", format!("`{other}` is neither on nor off"), "use `on` (serve /api/eventgrid) or `off` (answer 404: no webhook subscription uses it)"));
            }
        };
        let sweep_concurrency = parse_num("CADENCE_SWEEP_CONCURRENCY", get("CADENCE_SWEEP_CONCURRENCY"), 16)?;
        if sweep_concurrency == 0 {
            return Err(bad("CADENCE_SWEEP_CONCURRENCY", "0 would never sweep", "use a number from 1 to 256"));
        }
        let lease_seconds = parse_num("CADENCE_CLAIM_LEASE_SECONDS", get("CADENCE_CLAIM_LEASE_SECONDS"), 300)?;
        if !(5..=3600).contains(&lease_seconds) {
            return Err(bad(
                "CADENCE_CLAIM_LEASE_SECONDS",
                format!("{lease_seconds} is outside 5–3600"),
                "use the default 300, or a number of seconds that outlasts the slowest action (a crashed instance's work waits this long)",
            ));
        }
        let claim_lease = jiff::SignedDuration::from_secs(lease_seconds as i64);
        let sweep_inline_max = parse_num("CADENCE_SWEEP_INLINE_MAX", get("CADENCE_SWEEP_INLINE_MAX"), 1000)?;
        let sweep_batch = parse_num("CADENCE_SWEEP_BATCH", get("CADENCE_SWEEP_BATCH"), DEFAULT_SWEEP_BATCH)?;
        if sweep_batch == 0 {
            return Err(bad("CADENCE_SWEEP_BATCH", "0 would never plan", "use a number of clusters from 1 up (default 250)"));
        }
        let sweep_kubeconfig_certs = parse_bool("CADENCE_SWEEP_KUBECONFIG_CERTS", get("CADENCE_SWEEP_KUBECONFIG_CERTS"), true)?;
        let sweep_event_wiring = parse_bool("CADENCE_SWEEP_EVENT_WIRING", get("CADENCE_SWEEP_EVENT_WIRING"), true)?;
        let support_calendar_url = get("CADENCE_SUPPORT_CALENDAR_URL");
        if let Some(v) = &support_calendar_url {
            let u = url::Url::parse(v).map_err(|e| bad("CADENCE_SUPPORT_CALENDAR_URL", format!("`{v}` is not a URL ({e})"), "use an absolute https URL, or unset it to use the built-in calendar"))?;
            if !token_may_travel_to(&u) {
                return Err(bad(
                    "CADENCE_SUPPORT_CALENDAR_URL",
                    format!("`{v}` is neither https nor plain http to loopback: the calendar could be changed on the way"),
                    "use https (for example https://endoflife.date/api/v1/products/azure-kubernetes-service); plain http is accepted only for 127.0.0.1, [::1] or localhost, or unset it to use the built-in calendar",
                ));
            }
        }
        let function_app_id = match get("CADENCE_FUNCTION_APP_ID") {
            Some(id) => Some(parse_function_app_id(&id)?),
            None => match (get("WEBSITE_OWNER_NAME"), get("WEBSITE_RESOURCE_GROUP"), get("WEBSITE_SITE_NAME")) {
                (Some(owner), Some(rg), Some(site)) => owner
                    .split('+')
                    .next()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|sub| format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Web/sites/{site}")),
                _ => None,
            },
        };
        let quiet = parse_num("CADENCE_DIGEST_QUIET_SECONDS", get("CADENCE_DIGEST_QUIET_SECONDS"), 60)?;
        if quiet > 3600 {
            return Err(bad(
                "CADENCE_DIGEST_QUIET_SECONDS",
                format!("{quiet} is more than an hour"),
                "use the default 60, 0 to send every invocation's notifications at once, or up to 3600 seconds",
            ));
        }
        let max_wait = parse_num("CADENCE_DIGEST_MAX_WAIT_SECONDS", get("CADENCE_DIGEST_MAX_WAIT_SECONDS"), 900.max(quiet))?;
        if max_wait < quiet || max_wait > 86_400 {
            return Err(bad(
                "CADENCE_DIGEST_MAX_WAIT_SECONDS",
                format!("{max_wait} is outside {quiet}–86400 (it cannot be shorter than CADENCE_DIGEST_QUIET_SECONDS = {quiet})"),
                "use the default 900, or a number of seconds between the quiet period and a day",
            ));
        }
        let digest_quiet = jiff::SignedDuration::from_secs(quiet as i64);
        let digest_max_wait = jiff::SignedDuration::from_secs(max_wait as i64);
        let arm_endpoint = get("ARM_ENDPOINT").unwrap_or_else(|| "https://management.azure.com".into());
        check_url("ARM_ENDPOINT", &arm_endpoint)?;
        check_token_url("ARM_ENDPOINT", &arm_endpoint)?;
        let azure_credential = match get("AZURE_CREDENTIAL").as_deref() {
            None if under_host => AzureCredentialKind::ManagedIdentity,
            None => AzureCredentialKind::AzureCli,
            Some("managed_identity") => AzureCredentialKind::ManagedIdentity,
            Some("workload_identity") => AzureCredentialKind::WorkloadIdentity,
            Some("client_secret") => AzureCredentialKind::ClientSecret,
            Some("azure_cli") => AzureCredentialKind::AzureCli,
            Some(other) => {
                return Err(bad("AZURE_CREDENTIAL", format!("`{other}` is not a credential kind"), "use managed_identity, workload_identity, client_secret or azure_cli"));
            }
        };
        let azure_client_id = get("AZURE_CLIENT_ID");
        let azure_tenant_id = get("AZURE_TENANT_ID");
        let azure_client_secret = get("AZURE_CLIENT_SECRET").map(Secret::new);
        if azure_credential == AzureCredentialKind::ClientSecret
            && (azure_client_id.is_none() || azure_tenant_id.is_none() || azure_client_secret.is_none())
        {
            return Err(bad("AZURE_CREDENTIAL", "client_secret needs AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET", "set all three (the secret as a Key Vault reference)"));
        }

        let github_api_url = get("GITHUB_API_URL").unwrap_or_else(|| "https://api.github.com".into());
        check_url("GITHUB_API_URL", &github_api_url)?;
        let github_auth = match (get("GITHUB_TOKEN"), get("GITHUB_APP_ID")) {
            (Some(t), None) => Some(GithubAuth::Token(Secret::new(t))),
            (Some(_), Some(_)) => {
                return Err(bad("GITHUB_TOKEN", "both GITHUB_TOKEN and GITHUB_APP_ID are set", "set either a token or the three GITHUB_APP_* settings, not both"));
            }
            (None, Some(app)) => {
                let app_id = app.parse().map_err(|_| bad("GITHUB_APP_ID", format!("`{app}` is not a number"), "use the numeric App ID from the App's settings page"))?;
                let private_key = get("GITHUB_APP_PRIVATE_KEY").map(Secret::new).ok_or_else(|| {
                    bad("GITHUB_APP_PRIVATE_KEY", "missing while GITHUB_APP_ID is set", "set the App's PEM private key (a Key Vault reference in Azure)")
                })?;
                let inst = get("GITHUB_APP_INSTALLATION_ID").ok_or_else(|| {
                    bad("GITHUB_APP_INSTALLATION_ID", "missing while GITHUB_APP_ID is set", "set the installation id (from the installation's URL)")
                })?;
                let installation_id = inst.parse().map_err(|_| bad("GITHUB_APP_INSTALLATION_ID", format!("`{inst}` is not a number"), "use the numeric installation id"))?;
                Some(GithubAuth::App { app_id, private_key, installation_id })
            }
            (None, None) => None,
        };

        let github_content_per_minute = parse_limit("GITHUB_CONTENT_PER_MINUTE", get("GITHUB_CONTENT_PER_MINUTE"), 80)?;
        let github_content_per_hour = parse_limit("GITHUB_CONTENT_PER_HOUR", get("GITHUB_CONTENT_PER_HOUR"), 500)?;

        let smtp_url = get("SMTP_URL");
        if let Some(u) = &smtp_url {
            let parsed = url::Url::parse(u).map_err(|e| bad("SMTP_URL", format!("not a URL ({e})"), "use smtp://host:587 (STARTTLS) or smtps://host:465"))?;
            if !matches!(parsed.scheme(), "smtp" | "smtps") {
                return Err(bad("SMTP_URL", format!("scheme `{}` is not smtp or smtps", parsed.scheme()), "use smtp://host:587 (STARTTLS) or smtps://host:465"));
            }
        }
        let smtp_from = get("SMTP_FROM");
        if smtp_url.is_some() && smtp_from.is_none() {
            return Err(bad("SMTP_FROM", "missing while SMTP_URL is set", "set the sender, e.g. `aks-cadence <cadence@example.com>`"));
        }

        let named = env.iter().map(|(k, v)| (k.clone(), Secret::new(v.clone()))).collect();
        Ok(Self {
            port,
            config_path,
            state,
            dry_run,
            max_body_bytes,
            log_json,
            subscriptions,
            eventgrid_allowed_topics,
            eventgrid_webhook,
            sweep_concurrency,
            claim_lease,
            sweep_inline_max,
            sweep_batch,
            sweep_kubeconfig_certs,
            sweep_event_wiring,
            support_calendar_url,
            function_app_id,
            digest_quiet,
            digest_max_wait,
            arm_endpoint: arm_endpoint.trim_end_matches('/').to_string(),
            azure_credential,
            azure_client_id,
            azure_tenant_id,
            azure_client_secret,
            github_api_url: github_api_url.trim_end_matches('/').to_string(),
            github_auth,
            github_content_per_minute,
            github_content_per_hour,
            smtp_url,
            smtp_username: get("SMTP_USERNAME"),
            smtp_password: get("SMTP_PASSWORD").map(Secret::new),
            smtp_from,
            named,
        })
    }

    /// A setting that policy refers to by name (a chat webhook URL). Errors name the policy's
    /// reference so the fix is obvious.
    pub fn named_secret(&self, name: &str) -> Result<&Secret, SettingsError> {
        self.named.get(name).filter(|s| !s.expose().trim().is_empty()).ok_or_else(|| SettingsError {
            name: "(named by policy)",
            problem: format!("the policy refers to setting `{name}`, which is not set"),
            fix: format!("add app setting `{name}` (a Key Vault reference in Azure), or change the policy"),
        })
    }

    /// Every secret value held, for tests and log scrubbing.
    pub fn secret_values(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        if let Some(s) = &self.azure_client_secret {
            v.push(s.expose());
        }
        if let Some(s) = &self.smtp_password {
            v.push(s.expose());
        }
        match &self.github_auth {
            Some(GithubAuth::Token(t)) => v.push(t.expose()),
            Some(GithubAuth::App { private_key, .. }) => v.push(private_key.expose()),
            None => {}
        }
        v
    }
}

fn parse_state(v: &str) -> Result<StateLocation, SettingsError> {
    if let Some(path) = v.strip_prefix("sqlite:") {
        if path.is_empty() {
            return Err(bad("CADENCE_STATE", "sqlite: needs a file path", "use sqlite:cadence.db or sqlite:/home/data/cadence.db"));
        }
        return Ok(StateLocation::Sqlite(PathBuf::from(path)));
    }
    if let Some(url) = v.strip_prefix("blob:") {
        check_url("CADENCE_STATE", url)?;
        return Ok(StateLocation::Blob(url.to_string()));
    }
    Err(bad("CADENCE_STATE", format!("`{v}` is neither sqlite:PATH nor blob:URL"), "use sqlite:cadence.db (one instance) or blob:https://<account>.blob.core.windows.net/<container> (scale-out)"))
}

/// `/subscriptions/<s>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<name>`, kept as given
/// (without a trailing `/`).
fn parse_function_app_id(v: &str) -> Result<String, SettingsError> {
    let id = v.trim().trim_end_matches('/');
    let parts: Vec<&str> = id.split('/').collect();
    let ok = parts.len() == 9
        && parts[0].is_empty()
        && parts[1].eq_ignore_ascii_case("subscriptions")
        && parts[3].eq_ignore_ascii_case("resourceGroups")
        && parts[5].eq_ignore_ascii_case("providers")
        && parts[6].eq_ignore_ascii_case("Microsoft.Web")
        && parts[7].eq_ignore_ascii_case("sites")
        && [2, 4, 8].iter().all(|&i| !parts[i].is_empty());
    if !ok {
        return Err(bad(
            "CADENCE_FUNCTION_APP_ID",
            format!("`{v}` is not a function app resource id"),
            "use /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<app> (az functionapp show --query id), or leave it unset under App Service",
        ));
    }
    Ok(id.to_string())
}

fn parse_bool(name: &'static str, v: Option<String>, default: bool) -> Result<bool, SettingsError> {
    match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(bad(name, format!("`{other}` is not a boolean"), "use true or false")),
    }
}

/// `CADENCE_SWEEP_BATCH`'s default: large enough that a batch's ledger reads and writes keep
/// [`crate::pipeline::LEDGER_CONCURRENCY`] calls in flight, small enough that a batch's snapshots
/// and plan stay a few MiB.
pub const DEFAULT_SWEEP_BATCH: usize = 250;

fn parse_num(name: &'static str, v: Option<String>, default: usize) -> Result<usize, SettingsError> {
    match v {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| bad(name, format!("`{s}` is not a whole number"), "use a positive whole number")),
    }
}

/// A GitHub request budget: a whole number from 1 to 100,000.
fn parse_limit(name: &'static str, v: Option<String>, default: u32) -> Result<u32, SettingsError> {
    let n = parse_num(name, v, default as usize)?;
    if !(1..=100_000).contains(&n) {
        return Err(bad(name, format!("{n} is outside 1–100000"), "use GitHub's limit for your instance (GitHub.com: 80 a minute, 500 an hour), divided by the number of instances sharing the token"));
    }
    Ok(n as u32)
}

fn check_url(name: &'static str, v: &str) -> Result<(), SettingsError> {
    let u = url::Url::parse(v).map_err(|e| bad(name, format!("`{v}` is not a URL ({e})"), "use an absolute http(s) URL"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad(name, format!("scheme `{}` is not http or https", u.scheme()), "use an absolute http(s) URL"));
    }
    Ok(())
}

/// Whether `u` may carry a bearer token: https, or plain http to a loopback address only (a
/// local fake or emulator). Anything else would send the token over the network in clear text.
pub fn token_may_travel_to(u: &url::Url) -> bool {
    match (u.scheme(), u.host()) {
        ("https", _) => true,
        ("http", Some(url::Host::Domain(d))) => d.eq_ignore_ascii_case("localhost"),
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

/// A URL that receives a bearer token: [`token_may_travel_to`] it, or a clear error naming
/// the setting.
fn check_token_url(name: &'static str, v: &str) -> Result<(), SettingsError> {
    let u = url::Url::parse(v).map_err(|e| bad(name, format!("`{v}` is not a URL ({e})"), "use an absolute https URL"))?;
    if !token_may_travel_to(&u) {
        return Err(bad(
            name,
            format!("`{v}` is plain http to a host that is not loopback: the Azure bearer token would cross the network unencrypted"),
            "use https (for example https://management.azure.com); plain http is accepted only for 127.0.0.1, [::1] or localhost",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_support_calendar_url_is_off_by_default_and_https_only_except_to_loopback() {
        assert_eq!(Settings::from_map(env(&[])).unwrap().support_calendar_url, None);
        for ok in ["https://endoflife.date/api/v1/products/azure-kubernetes-service", "http://127.0.0.1:9/cal", "http://localhost:1/x"] {
            assert_eq!(Settings::from_map(env(&[("CADENCE_SUPPORT_CALENDAR_URL", ok)])).unwrap().support_calendar_url.as_deref(), Some(ok));
        }
        for refused in ["http://endoflife.date/api/v1/products/azure-kubernetes-service", "ftp://127.0.0.1/x", "not a url"] {
            let e = Settings::from_map(env(&[("CADENCE_SUPPORT_CALENDAR_URL", refused)])).unwrap_err();
            assert_eq!(e.name, "CADENCE_SUPPORT_CALENDAR_URL", "{refused}");
            assert!(e.fix.contains("https"), "{e}");
        }
    }

    #[test]
    fn arm_endpoint_over_plain_http_is_refused_except_to_loopback() {
        for ok in ["https://management.azure.com", "https://10.0.0.1", "http://127.0.0.1:8080", "http://[::1]:9", "http://localhost:1234", "http://127.3.4.5"] {
            assert_eq!(Settings::from_map(env(&[("ARM_ENDPOINT", ok)])).unwrap().arm_endpoint, ok, "{ok}");
        }
        for refused in ["http://management.azure.com", "http://10.0.0.1", "http://localhost.example.com", "http://[2001:db8::1]"] {
            let e = Settings::from_map(env(&[("ARM_ENDPOINT", refused)])).unwrap_err();
            assert_eq!(e.name, "ARM_ENDPOINT", "{refused}");
            assert!(e.problem.contains("plain http") && e.fix.contains("https"), "{e}");
        }
    }

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_are_embedded_and_dry_run() {
        let s = Settings::from_map(env(&[])).unwrap();
        assert_eq!(s.state, StateLocation::Sqlite("cadence.db".into()));
        assert!(s.dry_run);
        assert_eq!(s.config_path, PathBuf::from("cadence.toml"));
        assert_eq!(s.azure_credential, AzureCredentialKind::AzureCli);
    }

    #[test]
    fn bad_values_name_the_setting_and_the_fix() {
        let e = Settings::from_map(env(&[("CADENCE_STATE", "postgres://x")])).unwrap_err();
        assert_eq!(e.name, "CADENCE_STATE");
        assert!(e.to_string().contains("Fix:"));
        let e = Settings::from_map(env(&[("GITHUB_APP_ID", "12")])).unwrap_err();
        assert_eq!(e.name, "GITHUB_APP_PRIVATE_KEY");
    }

    #[test]
    fn the_claim_lease_defaults_to_five_minutes_and_is_bounded() {
        assert_eq!(Settings::from_map(env(&[])).unwrap().claim_lease, crate::execute::DEFAULT_LEASE);
        let s = Settings::from_map(env(&[("CADENCE_CLAIM_LEASE_SECONDS", "30")])).unwrap();
        assert_eq!(s.claim_lease, jiff::SignedDuration::from_secs(30));
        for bad in ["0", "4", "3601", "-5", "5m"] {
            let e = Settings::from_map(env(&[("CADENCE_CLAIM_LEASE_SECONDS", bad)])).unwrap_err();
            assert_eq!(e.name, "CADENCE_CLAIM_LEASE_SECONDS", "{bad}");
        }
    }

    #[test]
    fn digests_wait_a_quiet_minute_and_at_most_fifteen_by_default() {
        let s = Settings::from_map(env(&[])).unwrap();
        assert_eq!((s.digest_quiet, s.digest_max_wait), (jiff::SignedDuration::from_secs(60), jiff::SignedDuration::from_secs(900)));
        let off = Settings::from_map(env(&[("CADENCE_DIGEST_QUIET_SECONDS", "0")])).unwrap();
        assert_eq!(off.digest_quiet, jiff::SignedDuration::ZERO);
        // A long quiet period raises the default cap with it.
        let long = Settings::from_map(env(&[("CADENCE_DIGEST_QUIET_SECONDS", "1800")])).unwrap();
        assert_eq!(long.digest_max_wait, jiff::SignedDuration::from_secs(1800));
        for (name, value) in [
            ("CADENCE_DIGEST_QUIET_SECONDS", "3601"),
            ("CADENCE_DIGEST_QUIET_SECONDS", "-1"),
            ("CADENCE_DIGEST_QUIET_SECONDS", "1m"),
            ("CADENCE_DIGEST_MAX_WAIT_SECONDS", "30"),
            ("CADENCE_DIGEST_MAX_WAIT_SECONDS", "86401"),
        ] {
            let e = Settings::from_map(env(&[(name, value)])).unwrap_err();
            assert_eq!(e.name, name, "{value}");
            assert!(e.to_string().contains("Fix:") || !e.fix.is_empty(), "{e}");
        }
    }

    #[test]
    fn the_github_budget_defaults_to_github_com_limits_and_is_bounded() {
        let s = Settings::from_map(env(&[])).unwrap();
        assert_eq!((s.github_content_per_minute, s.github_content_per_hour), (80, 500));
        let s = Settings::from_map(env(&[("GITHUB_CONTENT_PER_MINUTE", "20"), ("GITHUB_CONTENT_PER_HOUR", "125")])).unwrap();
        assert_eq!((s.github_content_per_minute, s.github_content_per_hour), (20, 125));
        for (name, bad) in [("GITHUB_CONTENT_PER_MINUTE", "0"), ("GITHUB_CONTENT_PER_HOUR", "100001"), ("GITHUB_CONTENT_PER_HOUR", "lots")] {
            assert_eq!(Settings::from_map(env(&[(name, bad)])).unwrap_err().name, name);
        }
    }

    #[test]
    fn kubeconfig_certificate_reads_default_on_and_take_a_boolean() {
        assert!(Settings::from_map(env(&[])).unwrap().sweep_kubeconfig_certs);
        assert!(!Settings::from_map(env(&[("CADENCE_SWEEP_KUBECONFIG_CERTS", "false")])).unwrap().sweep_kubeconfig_certs);
        let e = Settings::from_map(env(&[("CADENCE_SWEEP_KUBECONFIG_CERTS", "sometimes")])).unwrap_err();
        assert_eq!(e.name, "CADENCE_SWEEP_KUBECONFIG_CERTS");
    }

    #[test]
    fn the_topic_allow_list_follows_the_swept_subscriptions_unless_set_and_names_itself_when_wrong() {
        let all = Settings::from_map(env(&[])).unwrap();
        assert!(all.eventgrid_allowed_topics.allows_everything() && all.eventgrid_webhook);
        let swept = Settings::from_map(env(&[("CADENCE_SUBSCRIPTIONS", "s1")])).unwrap();
        assert!(swept.eventgrid_allowed_topics.allows(Some("/subscriptions/S1/resourceGroups/rg")));
        assert!(!swept.eventgrid_allowed_topics.allows(Some("/subscriptions/s2")));
        let set = Settings::from_map(env(&[("CADENCE_SUBSCRIPTIONS", "s1"), ("CADENCE_EVENTGRID_ALLOWED_TOPICS", "*")])).unwrap();
        assert!(set.eventgrid_allowed_topics.allows_everything());
        let e = Settings::from_map(env(&[("CADENCE_EVENTGRID_ALLOWED_TOPICS", "prod-clusters")])).unwrap_err();
        assert_eq!(e.name, "CADENCE_EVENTGRID_ALLOWED_TOPICS");
        assert!(!Settings::from_map(env(&[("CADENCE_EVENTGRID_WEBHOOK", "OFF")])).unwrap().eventgrid_webhook);
        assert_eq!(Settings::from_map(env(&[("CADENCE_EVENTGRID_WEBHOOK", "maybe")])).unwrap_err().name, "CADENCE_EVENTGRID_WEBHOOK");
    }

    #[test]
    fn the_function_app_id_is_set_or_built_from_what_app_service_sets() {
        assert_eq!(Settings::from_map(env(&[])).unwrap().function_app_id, None);
        let id = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/app";
        assert_eq!(Settings::from_map(env(&[("CADENCE_FUNCTION_APP_ID", &format!("{id}/"))])).unwrap().function_app_id.as_deref(), Some(id));
        let platform = env(&[("WEBSITE_OWNER_NAME", "s1+rg-WestEuropewebspace-Linux"), ("WEBSITE_RESOURCE_GROUP", "rg"), ("WEBSITE_SITE_NAME", "app")]);
        assert_eq!(Settings::from_map(platform).unwrap().function_app_id.as_deref(), Some(id));
        for bad in ["app", "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites", "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x"] {
            assert_eq!(Settings::from_map(env(&[("CADENCE_FUNCTION_APP_ID", bad)])).unwrap_err().name, "CADENCE_FUNCTION_APP_ID", "{bad}");
        }
        assert!(Settings::from_map(env(&[])).unwrap().sweep_event_wiring);
        assert_eq!(Settings::from_map(env(&[("CADENCE_SWEEP_EVENT_WIRING", "later")])).unwrap_err().name, "CADENCE_SWEEP_EVENT_WIRING");
    }

    #[test]
    fn secrets_never_print() {
        let s = Settings::from_map(env(&[("GITHUB_TOKEN", "ghp_canary123")])).unwrap();
        assert!(!format!("{s:?}").contains("ghp_canary123"));
    }
}
