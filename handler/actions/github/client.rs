//! The GitHub REST client: octocrab for transport and authentication, our own classification.
//!
//! Why octocrab's raw `_get/_post/_patch/_put` rather than its typed handlers: classification
//! needs the status *and* the headers (`retry-after`, `x-ratelimit-remaining`,
//! `x-ratelimit-reset`) of every failure, and pagination needs `Link`. The raw calls hand back the
//! `http::Response` untouched, while octocrab still does what it is good at: the base URL (GitHub
//! Enterprise Server's `/api/v3` prefix included), the `Authorization` header, and the GitHub App
//! installation-token flow (JWT signed with the App key → `POST /app/installations/{id}/
//! access_tokens` → the token cached and re-minted 30 s before its `expires_at`). We also read
//! only the handful of fields we use into small structs of our own, so a GHES version that omits
//! some field of octocrab's full models cannot break us.
//!
//! Retries: octocrab's `retry` feature is off, so it makes one attempt per call. The only extra
//! attempt it makes is after a 401 on an installation token (the cached token was revoked): it
//! re-mints the token once and resends. Everything else is retried in one place, by the
//! executor's policy, from the [`ActionError`] classification made here where the error is born.
//!
//! Secrets: the token or App key only ever travel in the `Authorization` header (octocrab marks
//! it sensitive). Error messages carry the method, the path and GitHub's `message`, never headers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, StatusCode};
use jiff::Timestamp;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::budget::ContentBudget;
use crate::error::{ActionError, parse_retry_after};
use crate::settings::{GithubAuth, SettingsError};

/// How long one HTTP exchange may take in total before it counts as a (transient) timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// When GitHub signals a secondary limit without saying how long to wait: "at least one minute".
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// One page of a listing, with the paths (relative to the API base) of the next and last pages.
#[derive(Debug)]
pub struct Page<T> {
    pub items: T,
    pub next: Option<String>,
    pub last: Option<String>,
}

/// A raw answer: status, headers and body text.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

/// One GitHub API endpoint family, authenticated, budgeted and classified.
pub struct GithubClient {
    crab: Octocrab,
    api_url: String,
    budget: Arc<ContentBudget>,
    /// After GitHub throttled us: make no request before this instant (GitHub warns that
    /// requests made while limited can get an integration banned).
    hold_off: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubClient").field("api_url", &self.api_url).finish_non_exhaustive()
    }
}

impl GithubClient {
    /// Builds the client. Must run inside the tokio runtime that will use it (octocrab spawns its
    /// request buffer there).
    pub fn new(api_url: &str, auth: &GithubAuth, budget: Arc<ContentBudget>) -> Result<Self, SettingsError> {
        let setting_err = |name: &'static str, problem: String, fix: &str| SettingsError { name, problem, fix: fix.to_string() };
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(setting_err("GITHUB_API_URL", "the GitHub client was built outside the tokio runtime".into(), "build GithubActuator inside the runtime (in main, after the runtime starts)"));
        }
        let builder = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| setting_err("GITHUB_API_URL", format!("`{api_url}` is not usable as a base URL ({e})"), "use https://api.github.com or https://<ghes-host>/api/v3"))?
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .set_write_timeout(Some(Duration::from_secs(30)))
            .add_header(http::header::ACCEPT, "application/vnd.github+json".to_string());
        let built = match auth {
            GithubAuth::Token(token) => builder.personal_token(token.expose().to_string()).build(),
            GithubAuth::App { app_id, private_key, installation_id } => {
                // The key's own error text could quote it: say only what is wrong.
                let key = octocrab::auth::EncodingKey::from_rsa_pem(private_key.expose().as_bytes()).map_err(|_| {
                    setting_err("GITHUB_APP_PRIVATE_KEY", "is not an RSA private key in PEM form".into(), "paste the .pem file GitHub generated for the App (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`)")
                })?;
                builder
                    .app(octocrab::models::AppId(*app_id), key)
                    .build()
                    .and_then(|app| app.installation(octocrab::models::InstallationId(*installation_id)))
            }
        };
        let crab = built.map_err(|e| setting_err("GITHUB_API_URL", format!("could not build the GitHub client ({})", first_line(&e.to_string())), "check GITHUB_API_URL and the system's CA certificates"))?;
        Ok(Self { crab, api_url: api_url.trim_end_matches('/').to_string(), budget, hold_off: Mutex::new(None) })
    }

    /// `GET path` → JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ActionError> {
        let reply = self.exchange(Method::GET, path, None).await.map_err(|f| f.error)?;
        parse(&Method::GET, path, &reply)
    }

    /// `GET path` → JSON and the paths of the next and last pages (from `Link`).
    pub async fn get_page<T: DeserializeOwned>(&self, path: &str) -> Result<Page<T>, ActionError> {
        let reply = self.exchange(Method::GET, path, None).await.map_err(|f| f.error)?;
        let next = link_rel(&reply.headers, "next").and_then(|u| self.relative(&u));
        let last = link_rel(&reply.headers, "last").and_then(|u| self.relative(&u));
        Ok(Page { items: parse(&Method::GET, path, &reply)?, next, last })
    }

    /// `GET path` → JSON, or `None` on 404/410 (deleted, transferred, or never there).
    pub async fn get_optional<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, ActionError> {
        match self.exchange(Method::GET, path, None).await {
            Ok(reply) => parse(&Method::GET, path, &reply).map(Some),
            Err(Failure { status: Some(404 | 410), .. }) => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    /// A mutating request (`POST`/`PATCH`/`PUT`): takes a content-budget token first.
    pub async fn send<T: DeserializeOwned>(&self, method: Method, path: &str, body: &Value) -> Result<T, ActionError> {
        self.budget.acquire().await?;
        let reply = self.exchange(method.clone(), path, Some(body)).await.map_err(|f| f.error)?;
        parse(&method, path, &reply)
    }

    /// One HTTP exchange: a 2xx comes back as a [`Reply`], anything else as a classified error.
    async fn exchange(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Reply, Failure> {
        self.check_hold_off().map_err(Failure::other)?;
        let what = format!("{method} {path}");
        let call = async {
            let response = match method {
                Method::GET => self.crab._get(path).await,
                Method::POST => self.crab._post(path, body).await,
                Method::PATCH => self.crab._patch(path, body).await,
                Method::PUT => self.crab._put(path, body).await,
                _ => return Err(ActionError::Permanent(format!("{what}: method not used by this adapter"))),
            }
            .map_err(|e| from_octocrab(&what, e, Timestamp::now()))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = self.crab.body_to_string(response).await.map_err(|e| ActionError::Transient(format!("{what}: reading the response failed: {}", first_line(&e.to_string()))))?;
            Ok(Reply { status, headers, body })
        };
        let reply = tokio::time::timeout(REQUEST_TIMEOUT, call)
            .await
            .map_err(|_| Failure::other(ActionError::Transient(format!("{what}: no answer within {}s", REQUEST_TIMEOUT.as_secs()))))?;
        let reply = match reply {
            Ok(r) => r,
            Err(e) => return Err(Failure::other(self.note(e))),
        };
        if reply.status.is_success() {
            return Ok(reply);
        }
        let err = classify(reply.status.as_u16(), &reply.headers, &reply.body, Timestamp::now()).context(&what);
        Err(Failure { status: Some(reply.status.as_u16()), error: self.note(err) })
    }

    /// Remembers a throttle so the next calls wait it out without asking GitHub.
    fn note(&self, err: ActionError) -> ActionError {
        if let ActionError::Throttled { retry_after, .. } = &err {
            let wait = retry_after.unwrap_or(SECONDARY_LIMIT_WAIT);
            let until = Instant::now() + wait;
            let mut h = self.hold_off.lock().unwrap_or_else(|p| p.into_inner());
            *h = Some(h.map_or(until, |prev| prev.max(until)));
            tracing::warn!(retry_after_s = wait.as_secs(), "GitHub throttled this client; holding off");
        }
        err
    }

    fn check_hold_off(&self) -> Result<(), ActionError> {
        let h = self.hold_off.lock().unwrap_or_else(|p| p.into_inner());
        match *h {
            Some(until) if until > Instant::now() => Err(ActionError::Throttled {
                retry_after: Some(until - Instant::now()),
                message: "GitHub throttled an earlier request; not calling again until its retry-after has passed".into(),
            }),
            _ => Ok(()),
        }
    }

    /// A `Link` URL back to a path relative to the API base (so auth stays on it, GHES included).
    fn relative(&self, url: &str) -> Option<String> {
        url.strip_prefix(&self.api_url).filter(|rest| rest.starts_with('/')).map(str::to_string)
    }
}

/// A failed exchange: the classified error, and the HTTP status when there was an answer (so
/// `get_optional` can tell "not there" from other permanent failures without reading messages).
struct Failure {
    status: Option<u16>,
    error: ActionError,
}

impl Failure {
    fn other(error: ActionError) -> Self {
        Self { status: None, error }
    }
}

fn parse<T: DeserializeOwned>(method: &Method, path: &str, reply: &Reply) -> Result<T, ActionError> {
    let text = if reply.body.trim().is_empty() { "null" } else { reply.body.as_str() };
    serde_json::from_str(text).map_err(|e| ActionError::Permanent(format!("{method} {path}: unexpected response from GitHub ({e})")))
}

/// Classifies a GitHub error answer. Pure: headers, body and the clock come in.
///
/// - 429, or 403 with `x-ratelimit-remaining: 0`, a `retry-after`, or a "secondary rate limit"
///   message → `Throttled` (wait: `retry-after`, else until `x-ratelimit-reset`, else 60 s).
/// - 422 whose message says "already exists" → `AlreadyDone`.
/// - 408, 409 (a concurrent change: read again and retry), 5xx → `Transient`.
/// - 401 (a token expired, rotated or never resolved: an unresolved Key Vault reference
///   arrives as its literal text) → `Configuration` naming [`AUTH_SETTINGS`].
/// - 403 that is not a limit (the token or App lacks a permission), 404 and 410 on a request
///   we make (a repository that does not exist, that the token cannot see — GitHub answers 404
///   for private repositories it hides — or whose issues are turned off) → `Configuration`:
///   the work runs once a person fixes the policy's repository or the token's access.
/// - any other 4xx (422 validation, 400) → `Permanent`: the request itself is invalid.
pub fn classify(status: u16, headers: &HeaderMap, body: &str, now: Timestamp) -> ActionError {
    let message = error_message(body, status);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let retry_after = header("retry-after").and_then(|v| parse_retry_after(v, now));
    let exhausted = header("x-ratelimit-remaining") == Some("0");
    let reset_wait = header("x-ratelimit-reset").and_then(|v| v.parse::<i64>().ok()).map(|reset| {
        let secs = (reset - now.as_second()).max(0) as u64;
        Duration::from_secs(secs + 1)
    });
    let lower = message.to_ascii_lowercase();
    let secondary = lower.contains("secondary rate limit") || lower.contains("abuse detection");
    match status {
        429 | 403 if status == 429 || exhausted || retry_after.is_some() || secondary => {
            let wait = retry_after.or(if exhausted { reset_wait } else { None }).unwrap_or(SECONDARY_LIMIT_WAIT);
            ActionError::Throttled { retry_after: Some(wait), message: format!("HTTP {status}: {message}") }
        }
        422 if lower.contains("already exists") => ActionError::AlreadyDone(format!("HTTP 422: {message}")),
        408 | 409 | 500..=599 => ActionError::Transient(format!("HTTP {status}: {message}")),
        401 => ActionError::configuration(AUTH_SETTINGS, format!("GitHub refused the credentials (HTTP 401: {message})")),
        403 => ActionError::configuration(
            PERMISSION_SETTINGS,
            format!(
                "GitHub refused the request (HTTP 403: {message}); the token or App needs Issues, Pull requests and Contents: read and write on the repository"
            ),
        ),
        404 | 410 => ActionError::configuration(
            REPOSITORY_SETTINGS,
            format!("GitHub answered HTTP {status} ({message}): the repository does not exist, the token cannot see it, or its issues are turned off"),
        ),
        _ => ActionError::Permanent(format!("HTTP {status}: {message}")),
    }
}

/// What to fix when GitHub refuses the credentials.
pub const AUTH_SETTINGS: &str = "GITHUB_TOKEN (or GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID)";
/// What to fix when GitHub refuses a request the credentials are not allowed to make.
pub const PERMISSION_SETTINGS: &str = "the permissions of GITHUB_TOKEN or of the GitHub App installation";
/// What to fix when GitHub does not know the repository.
pub const REPOSITORY_SETTINGS: &str = "the policy's `repo` (owner/name), or the repository access of GITHUB_TOKEN or the GitHub App installation";

/// GitHub's `message` plus the `errors[]` details, short and on one line.
fn error_message(body: &str, status: u16) -> String {
    let mut parts = Vec::new();
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        if let Some(m) = v.get("message").and_then(Value::as_str) {
            parts.push(m.to_string());
        }
        for e in v.get("errors").and_then(Value::as_array).into_iter().flatten() {
            let detail = match e {
                Value::String(s) => s.clone(),
                _ => [e.get("message"), e.get("code"), e.get("field")]
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            if !detail.is_empty() {
                parts.push(detail);
            }
        }
    }
    let m = if parts.is_empty() {
        let t = body.trim();
        if t.is_empty() || t.starts_with('<') {
            StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("error").to_string()
        } else {
            t.to_string()
        }
    } else {
        parts.join("; ")
    };
    let m = first_line(&m);
    if m.chars().count() > 300 { format!("{}…", m.chars().take(300).collect::<String>()) } else { m }
}

/// Maps octocrab's own failures (network, the installation-token request, JWT signing).
fn from_octocrab(what: &str, e: octocrab::Error, now: Timestamp) -> ActionError {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            // Raised by octocrab itself: the installation-token request failed.
            let headers = source.headers.clone().unwrap_or_default();
            let body = serde_json::json!({ "message": source.message, "errors": source.errors }).to_string();
            match classify(source.status_code.as_u16(), &headers, &body, now) {
                ActionError::Permanent(m) | ActionError::Configuration { message: m, .. } => ActionError::configuration(
                    "GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PRIVATE_KEY",
                    format!("{what}: GitHub App installation token: {m}"),
                ),
                other => other,
            }
        }
        octocrab::Error::Service { source, .. } => ActionError::Transient(format!("{what}: {}", first_line(&source.to_string()))),
        octocrab::Error::Hyper { source, .. } => ActionError::Transient(format!("{what}: {}", first_line(&source.to_string()))),
        octocrab::Error::JWT { .. } => ActionError::configuration("GITHUB_APP_PRIVATE_KEY", format!("{what}: could not sign the GitHub App JWT")),
        other => ActionError::Permanent(format!("{what}: {}", first_line(&other.to_string()))),
    }
}

/// The URL of one relation (`next`, `last`) of a `Link` header.
fn link_rel(headers: &HeaderMap, rel: &str) -> Option<String> {
    let link = headers.get(http::header::LINK)?.to_str().ok()?;
    let want = format!("rel=\"{rel}\"");
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.split(';').any(|p| p.trim() == want).then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// Percent-encodes a repository path (`infra/aks main.bicep` → `infra/aks%20main.bicep`).
pub fn encode_path(path: &str) -> String {
    path.trim_matches('/').split('/').map(encode_component).collect::<Vec<_>>().join("/")
}

/// Percent-encodes one path segment or query value.
pub fn encode_component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    const NOW: &str = "2026-01-01T00:00:00Z";

    #[test]
    fn github_answers_are_classified_where_they_are_born() {
        let now: Timestamp = NOW.parse().unwrap();
        let reset = (now.as_second() + 120).to_string();
        let cases: Vec<(u16, HeaderMap, &str, &str)> = vec![
            (429, headers(&[("retry-after", "7")]), "{}", "throttled 7"),
            (429, headers(&[]), "{}", "throttled 60"),
            (403, headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", &reset)]), r#"{"message":"API rate limit exceeded"}"#, "throttled 121"),
            (403, headers(&[]), r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}"#, "throttled 60"),
            (403, headers(&[("retry-after", "30")]), r#"{"message":"whatever"}"#, "throttled 30"),
            (403, headers(&[("x-ratelimit-remaining", "4999")]), r#"{"message":"Resource not accessible by integration"}"#, "configuration"),
            (422, headers(&[]), r#"{"message":"Reference already exists"}"#, "already"),
            (422, headers(&[]), r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for o:b."}]}"#, "already"),
            (422, headers(&[]), r#"{"message":"Validation Failed","errors":[{"code":"invalid","field":"assignees"}]}"#, "permanent"),
            (409, headers(&[]), r#"{"message":"is at 3f2 but expected 1a2"}"#, "transient"),
            (502, headers(&[]), "<html>bad gateway</html>", "transient"),
            (404, headers(&[]), r#"{"message":"Not Found"}"#, "configuration"),
            (410, headers(&[]), r#"{"message":"Issues are disabled for this repo"}"#, "configuration"),
            (401, headers(&[]), r#"{"message":"Bad credentials"}"#, "configuration"),
            (400, headers(&[]), r#"{"message":"Problems parsing JSON"}"#, "permanent"),
        ];
        for (status, h, body, want) in cases {
            let got = classify(status, &h, body, now);
            let ok = match (want, &got) {
                ("permanent", ActionError::Permanent(_)) => true,
                ("configuration", ActionError::Configuration { .. }) => true,
                ("transient", ActionError::Transient(_)) => true,
                ("already", ActionError::AlreadyDone(_)) => true,
                (w, ActionError::Throttled { retry_after: Some(d), .. }) if w.starts_with("throttled ") => {
                    d.as_secs() == w["throttled ".len()..].parse::<u64>().unwrap()
                }
                _ => false,
            };
            assert!(ok, "{status} {body}: wanted {want}, got {got:?}");
        }
    }

    #[test]
    fn error_messages_carry_github_details_on_one_short_line() {
        let m = error_message(r#"{"message":"Validation Failed","errors":[{"resource":"Issue","code":"invalid","field":"assignees"}]}"#, 422);
        assert_eq!(m, "Validation Failed; invalid assignees");
        assert_eq!(error_message("", 502), "Bad Gateway");
        assert!(error_message(&"x".repeat(1000), 400).chars().count() <= 301);
    }

    #[test]
    fn next_links_are_read_from_the_link_header() {
        let h = headers(&[("link", r#"<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last""#)]);
        assert_eq!(link_rel(&h, "next").as_deref(), Some("https://api.github.com/repositories/1/issues?page=2"));
        assert_eq!(link_rel(&h, "last").as_deref(), Some("https://api.github.com/repositories/1/issues?page=5"));
        assert_eq!(link_rel(&headers(&[("link", r#"<https://x/?page=1>; rel="prev""#)]), "next"), None);
    }

    #[test]
    fn paths_are_percent_encoded_per_segment() {
        assert_eq!(encode_path("/infra/aks main.bicep"), "infra/aks%20main.bicep");
        assert_eq!(encode_component("aks-cadence/prod/x&y"), "aks-cadence%2Fprod%2Fx%26y");
    }
}
