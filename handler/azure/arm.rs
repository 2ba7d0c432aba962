//! The one ARM client.
//!
//! - Base URL from `ARM_ENDPOINT` ([`ArmConfig::endpoint`]); absolute URLs ARM hands back
//!   (`nextLink`, `Azure-AsyncOperation`, `Location`) are followed only when they are on that
//!   same origin, so the bearer token never leaves ARM.
//! - Bounded concurrency: a semaphore of [`ArmConfig::max_concurrency`] permits, held only while a
//!   request is on the wire (not while waiting out a `Retry-After`).
//! - Throttling and retries: see [`super::throttle`] — a 429 pauses the whole subscription scope
//!   for `Retry-After`, low `x-ms-ratelimit-remaining-*` spaces requests at the refill rate, and
//!   one pure function decides retries.
//! - Errors are classified where they are born ([`ArmErrorKind`]): 409 is `Conflict` ("another
//!   operation is in progress" — not now, never a crash), 404 `NotFound`, 412 `PreconditionFailed`
//!   (the ETag moved: re-read next time), 429 `Throttled`, 5xx/timeouts `Transient`, 401/403
//!   `Forbidden` (a role or credential to fix: a configuration failure).
//! - Long-running operations: [`ArmClient::follow`] polls `Azure-AsyncOperation` for `status`
//!   (Succeeded / Failed / Canceled) or, without it, `Location` until it stops answering 202,
//!   honouring each response's `Retry-After`; a failure carries ARM's error code and message.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderMap, Method};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::calls::ArmCall;
use super::identity::TokenSource;
use super::throttle::{self, ArmRetryPolicy, Pacer, RetryDecision};
use crate::error::ActionError;

/// How an ARM call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArmErrorKind {
    /// 5xx, 408, timeouts, connection errors, token endpoint failures: may work later.
    Transient,
    /// 429 (or an exhausted Resource Graph quota), with the server's `Retry-After`.
    Throttled { retry_after: Option<Duration> },
    /// 401/403: the identity has no token ARM accepts, or lacks a role action (an assignment
    /// still propagating, removed, or never made). A person fixes the role or the credential;
    /// the same request then works, so it is a configuration failure, not permanent.
    Forbidden,
    /// Other 4xx, bad responses: the request itself is invalid.
    Permanent,
    /// 409: another operation is in progress on the resource. "Not now".
    Conflict,
    /// 404: the resource is gone (deleted since inventory) or never existed.
    NotFound,
    /// 412: `If-Match` failed — the resource changed since it was read.
    PreconditionFailed,
}

/// A failed ARM call: the call, the HTTP status, and ARM's error code and message when it sent
/// them (`{"error": {"code", "message"}}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ARM {} failed ({}): {}", call.name(), status.map_or_else(|| "no response".to_string(), |s| format!("HTTP {s}")), self.arm_message())]
pub struct ArmError {
    pub kind: ArmErrorKind,
    pub call: ArmCall,
    pub status: Option<u16>,
    pub code: Option<String>,
    pub message: String,
}

impl ArmError {
    fn new(kind: ArmErrorKind, call: ArmCall, status: Option<u16>, code: Option<String>, message: impl Into<String>) -> Self {
        Self { kind, call, status, code, message: message.into() }
    }

    /// `"<code>: <message>"` as ARM said it (or just the message).
    pub fn arm_message(&self) -> String {
        match &self.code {
            Some(c) => format!("{c}: {}", self.message),
            None => self.message.clone(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ArmErrorKind::Transient | ArmErrorKind::Throttled { .. } | ArmErrorKind::PreconditionFailed)
    }
}

impl From<ArmError> for ActionError {
    fn from(e: ArmError) -> Self {
        match e.kind {
            ArmErrorKind::Transient => ActionError::Transient(e.to_string()),
            ArmErrorKind::Throttled { retry_after } => ActionError::Throttled { retry_after, message: e.to_string() },
            ArmErrorKind::Conflict => ActionError::Deferred(format!("another operation is in progress ({})", e.arm_message())),
            ArmErrorKind::PreconditionFailed => {
                ActionError::Transient(format!("the cluster changed since it was read (HTTP 412); it is re-read next time: {}", e.arm_message()))
            }
            ArmErrorKind::Forbidden => ActionError::configuration(
                ROLE_SETTINGS,
                format!("ARM refused {} (HTTP {}): {}", e.call.name(), e.status.unwrap_or(403), e.arm_message()),
            ),
            ArmErrorKind::NotFound | ArmErrorKind::Permanent => ActionError::Permanent(format!("ARM {}", e.arm_message())),
        }
    }
}

/// What to fix when ARM refuses the identity.
pub const ROLE_SETTINGS: &str = "the aks-cadence role assignment of the identity in AZURE_CREDENTIAL / AZURE_CLIENT_ID \
     (infra/ assigns it per subscription; a new assignment takes up to 10 minutes)";

/// Classifies an HTTP status from ARM.
pub fn classify(status: u16, retry_after: Option<Duration>) -> ArmErrorKind {
    match status {
        401 | 403 => ArmErrorKind::Forbidden,
        429 => ArmErrorKind::Throttled { retry_after },
        409 => ArmErrorKind::Conflict,
        404 => ArmErrorKind::NotFound,
        412 => ArmErrorKind::PreconditionFailed,
        408 | 500..=599 => ArmErrorKind::Transient,
        _ => ArmErrorKind::Permanent,
    }
}

/// A successful ARM response whose body is not decoded yet ([`ArmClient::post_raw`]).
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub bytes: bytes::Bytes,
}

impl RawResponse {
    /// The error for a 2xx body that is not the JSON it should be (permanent: the same
    /// request gets the same answer).
    pub fn not_json(&self, call: ArmCall, e: serde_json::Error) -> ArmError {
        ArmError::new(ArmErrorKind::Permanent, call, Some(self.status), None, format!("response is not JSON: {e}"))
    }
}

/// A successful ARM response.
#[derive(Debug, Clone)]
pub struct ArmResponse {
    pub status: u16,
    pub headers: HeaderMap,
    /// The JSON body (`Null` when empty).
    pub body: Value,
}

impl ArmResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok().map(str::trim).filter(|v| !v.is_empty())
    }
    /// The resource's ETag: the `ETag` header, else the body's `eTag`/`etag`.
    pub fn etag(&self) -> Option<String> {
        self.header("etag")
            .map(str::to_string)
            .or_else(|| self.body.get("eTag").or_else(|| self.body.get("etag")).and_then(Value::as_str).map(str::to_string))
    }
    pub fn async_operation(&self) -> Option<&str> {
        self.header("azure-asyncoperation")
    }
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
    pub fn retry_after(&self) -> Option<Duration> {
        crate::error::parse_retry_after(self.header("retry-after")?, jiff::Timestamp::now())
    }
}

/// How a long-running operation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum LroOutcome {
    Succeeded { operation_id: String, body: Value },
    Failed { operation_id: String, code: String, message: String },
    Canceled { operation_id: String },
    /// Still running when [`ArmConfig::lro_timeout`] ran out. The operation goes on in Azure;
    /// `status_url` is where to look next.
    StillRunning { operation_id: String, status_url: String },
}

/// Settings of one [`ArmClient`].
#[derive(Debug, Clone)]
pub struct ArmConfig {
    /// `ARM_ENDPOINT`, without a trailing slash.
    pub endpoint: String,
    /// Requests on the wire at once.
    pub max_concurrency: usize,
    pub retry: ArmRetryPolicy,
    /// Poll interval of a long-running operation when ARM gives no `Retry-After`.
    pub lro_poll_default: Duration,
    /// How long [`ArmClient::follow`] polls before answering `StillRunning`.
    pub lro_timeout: Duration,
}

impl ArmConfig {
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into().trim_end_matches('/').to_string(),
            max_concurrency: 16,
            retry: ArmRetryPolicy::default(),
            lro_poll_default: Duration::from_secs(15),
            lro_timeout: Duration::from_secs(90 * 60),
        }
    }
    pub fn from_settings(settings: &crate::settings::Settings) -> Self {
        let mut c = Self::new(settings.arm_endpoint.clone());
        c.max_concurrency = settings.sweep_concurrency.max(1);
        c
    }
}

/// Counters of what a client sent (benchmarks, tests, sweep logs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArmStats {
    /// Responses received, by call name (retries count separately).
    pub by_call: HashMap<&'static str, u64>,
    /// GETs sent (ARM's read bucket).
    pub reads: u64,
    /// Other methods sent.
    pub writes: u64,
    /// 429 answers received.
    pub throttled: u64,
    /// Attempts repeated by the retry policy.
    pub retries: u64,
}

#[derive(Debug, Default)]
struct Counters {
    by_call: [AtomicU64; ArmCall::ALL.len()],
    reads: AtomicU64,
    writes: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: ArmConfig,
    origin: url::Origin,
    tokens: Arc<dyn TokenSource>,
    permits: Semaphore,
    pacer: Pacer,
    counters: Counters,
}

/// The ARM client. Cheap to clone (shared state behind an `Arc`).
#[derive(Debug, Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

/// Where a request goes: a path under the endpoint, or an absolute URL ARM handed back.
fn is_absolute(target: &str) -> bool {
    target.starts_with("http://") || target.starts_with("https://")
}

/// The throttling scope of a URL: its subscription (lower case), or `tenant`.
fn scope_of(url: &url::Url, call: ArmCall) -> String {
    if call == ArmCall::ResourceGraphQuery {
        return "resourcegraph".into();
    }
    let mut segs = url.path_segments().into_iter().flatten();
    while let Some(s) = segs.next() {
        if s.eq_ignore_ascii_case("subscriptions")
            && let Some(id) = segs.next()
        {
            return id.to_ascii_lowercase();
        }
    }
    "tenant".into()
}

fn error_from_body(body: &[u8]) -> (Option<String>, String) {
    let text = String::from_utf8_lossy(body);
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let e = v.get("error").unwrap_or(&v);
        let code = e.get("code").and_then(Value::as_str).map(str::to_string);
        let message = e.get("message").and_then(Value::as_str).map(str::to_string);
        if code.is_some() || message.is_some() {
            return (code, message.unwrap_or_default());
        }
    }
    let mut t: String = text.chars().take(500).collect();
    if t.is_empty() {
        t = "(empty body)".into();
    }
    (None, t)
}

/// The last path segment of an operation URL (its id), without the query.
pub fn operation_id_of(url: &str) -> String {
    let path = url.split('?').next().unwrap_or(url).trim_end_matches('/');
    path.rsplit('/').next().unwrap_or(path).to_string()
}

impl ArmClient {
    pub fn new(config: ArmConfig, tokens: Arc<dyn TokenSource>) -> Result<Self, ArmError> {
        Self::with_http(config, tokens, super::http_client())
    }

    pub fn with_http(config: ArmConfig, tokens: Arc<dyn TokenSource>, http: reqwest::Client) -> Result<Self, ArmError> {
        let url = url::Url::parse(&config.endpoint)
            .map_err(|e| ArmError::new(ArmErrorKind::Permanent, ArmCall::GetCluster, None, None, format!("ARM_ENDPOINT `{}` is not a URL: {e}", config.endpoint)))?;
        // The bearer token never leaves over plain http, except to a local fake on loopback.
        if !crate::settings::token_may_travel_to(&url) {
            return Err(ArmError::new(
                ArmErrorKind::Permanent,
                ArmCall::GetCluster,
                None,
                None,
                format!("ARM_ENDPOINT `{}` is plain http to a host that is not loopback: the bearer token would cross the network unencrypted", config.endpoint),
            ));
        }
        let origin = url.origin();
        let permits = Semaphore::new(config.max_concurrency.max(1));
        Ok(Self {
            inner: Arc::new(Inner { http, config, origin, tokens, permits, pacer: Pacer::default(), counters: Counters::default() }),
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.inner.config.endpoint
    }
    pub fn config(&self) -> &ArmConfig {
        &self.inner.config
    }

    /// What this client has sent so far.
    pub fn stats(&self) -> ArmStats {
        let c = &self.inner.counters;
        ArmStats {
            by_call: ArmCall::ALL
                .iter()
                .enumerate()
                .map(|(i, call)| (call.name(), c.by_call[i].load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            reads: c.reads.load(Ordering::Relaxed),
            writes: c.writes.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
        }
    }

    fn resolve(&self, call: ArmCall, target: &str, api_version: Option<&str>) -> Result<url::Url, ArmError> {
        let bad = |m: String| ArmError::new(ArmErrorKind::Permanent, call, None, None, m);
        let mut url = if is_absolute(target) {
            let u = url::Url::parse(target).map_err(|e| bad(format!("ARM returned an unusable URL `{target}`: {e}")))?;
            if u.origin() != self.inner.origin {
                return Err(bad(format!("refusing to follow `{target}`: it is not under ARM_ENDPOINT {}", self.inner.config.endpoint)));
            }
            u
        } else {
            let path = if target.starts_with('/') { target.to_string() } else { format!("/{target}") };
            url::Url::parse(&format!("{}{}", self.inner.config.endpoint, path)).map_err(|e| bad(format!("bad ARM path `{target}`: {e}")))?
        };
        if let Some(v) = api_version
            && !url.query_pairs().any(|(k, _)| k == "api-version")
        {
            url.query_pairs_mut().append_pair("api-version", v);
        }
        Ok(url)
    }

    /// Sends one ARM request with retries, pacing and classification.
    ///
    /// `target` is a path under the endpoint (`/subscriptions/…`) or an absolute URL ARM returned;
    /// `api_version` is appended when the URL has none.
    pub async fn send(
        &self,
        call: ArmCall,
        method: Method,
        target: &str,
        api_version: Option<&str>,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<ArmResponse, ArmError> {
        let raw = self.send_raw(call, method, target, api_version, body, if_match).await?;
        let body = if raw.bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&raw.bytes).map_err(|e| raw.not_json(call, e))?
        };
        Ok(ArmResponse { status: raw.status, headers: raw.headers, body })
    }

    /// `POST` a path; the 2xx body as bytes, for a caller that reads a large answer (a
    /// Resource Graph page) a part at a time instead of as one [`Value`].
    pub async fn post_raw(&self, call: ArmCall, path: &str, api_version: &str, body: Option<&Value>) -> Result<RawResponse, ArmError> {
        self.send_raw(call, Method::POST, path, Some(api_version), body, None).await
    }

    /// [`ArmClient::send`] without decoding the 2xx body.
    async fn send_raw(
        &self,
        call: ArmCall,
        method: Method,
        target: &str,
        api_version: Option<&str>,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<RawResponse, ArmError> {
        let url = self.resolve(call, target, api_version)?;
        let scope = scope_of(&url, call);
        let budget = call.budget();
        let inner = &self.inner;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let wait = inner.pacer.reserve(&scope, budget);
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            // Tokens are fetched before sending: a failure here means nothing was sent, so any
            // method may be retried.
            let (result, sent) = match inner.tokens.token().await {
                Err(e) => (Err(ArmError::new(ArmErrorKind::Transient, call, None, None, e.to_string())), false),
                Ok(token) => {
                    let permit = inner.permits.acquire().await.expect("semaphore never closed");
                    let mut req = inner
                        .http
                        .request(method.clone(), url.clone())
                        .bearer_auth(token.expose())
                        .header(http::header::ACCEPT, "application/json");
                    if let Some(b) = body {
                        req = req.json(b);
                    }
                    if let Some(tag) = if_match {
                        req = req.header(http::header::IF_MATCH, tag);
                    }
                    if method == Method::GET {
                        inner.counters.reads.fetch_add(1, Ordering::Relaxed);
                    } else {
                        inner.counters.writes.fetch_add(1, Ordering::Relaxed);
                    }
                    let r = req.send().await;
                    let r = match r {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            let headers = resp.headers().clone();
                            match resp.bytes().await {
                                Ok(bytes) => Ok((status, headers, bytes)),
                                Err(e) => Err((e, true)),
                            }
                        }
                        Err(e) => {
                            let sent = !e.is_connect();
                            Err((e, sent))
                        }
                    };
                    drop(permit);
                    match r {
                        Ok((status, headers, bytes)) => (self.interpret(call, &scope, status, headers, bytes), true),
                        Err((e, sent)) => {
                            let what = if e.is_timeout() { "timed out" } else { "failed" };
                            (Err(ArmError::new(ArmErrorKind::Transient, call, None, None, format!("request {what}: {e}"))), sent)
                        }
                    }
                }
            };
            let err = match result {
                Ok(resp) => return Ok(resp),
                Err(e) => e,
            };
            // One retry budget per change: the executor's (see `ArmCall::starts_operation`).
            if call.starts_operation() {
                return Err(err);
            }
            let idempotent = call.idempotent() || !sent;
            match throttle::retry_decision(&inner.config.retry, attempts, &err.kind, idempotent) {
                RetryDecision::GiveUp => return Err(err),
                RetryDecision::RetryIn(d) => {
                    inner.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(call = call.name(), attempt = attempts, wait_ms = d.as_millis() as u64, error = %err, "ARM retry");
                    // After a 429 the whole scope is paused too (see `interpret`), so other
                    // requests wait with this one instead of racing into another 429.
                    tokio::time::sleep(d).await;
                }
            }
        }
    }

    fn interpret(&self, call: ArmCall, scope: &str, status: u16, headers: HeaderMap, bytes: bytes::Bytes) -> Result<RawResponse, ArmError> {
        let inner = &self.inner;
        let idx = ArmCall::ALL.iter().position(|c| *c == call).expect("every call is in ALL");
        inner.counters.by_call[idx].fetch_add(1, Ordering::Relaxed);
        let budget = call.budget();
        inner.pacer.observe(scope, budget, throttle::remaining_from_headers(&headers, budget));
        if let Some(p) = throttle::resource_graph_pause(&headers) {
            inner.pacer.pause(scope, p);
        }
        tracing::debug!(call = call.name(), status, "ARM response");
        if (200..300).contains(&status) {
            return Ok(RawResponse { status, headers, bytes });
        }
        let retry_after = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::error::parse_retry_after(v, jiff::Timestamp::now()));
        let kind = classify(status, retry_after);
        if status == 429 {
            inner.counters.throttled.fetch_add(1, Ordering::Relaxed);
            inner.pacer.pause(scope, retry_after.unwrap_or(inner.config.retry.base_backoff));
        }
        let (code, message) = error_from_body(&bytes);
        Err(ArmError::new(kind, call, Some(status), code, message))
    }

    /// `GET` a path; the JSON body.
    pub async fn get(&self, call: ArmCall, path: &str, api_version: &str) -> Result<Value, ArmError> {
        Ok(self.send(call, Method::GET, path, Some(api_version), None, None).await?.body)
    }

    /// `GET` a path; the whole response (for the ETag).
    pub async fn get_response(&self, call: ArmCall, path: &str, api_version: &str) -> Result<ArmResponse, ArmError> {
        self.send(call, Method::GET, path, Some(api_version), None, None).await
    }

    /// `POST` a path (an action or a query).
    pub async fn post(&self, call: ArmCall, path: &str, api_version: &str, body: Option<&Value>) -> Result<ArmResponse, ArmError> {
        self.send(call, Method::POST, path, Some(api_version), body, None).await
    }

    /// `PUT` a resource guarded by its ETag.
    pub async fn put_if_match(&self, call: ArmCall, path: &str, api_version: &str, body: &Value, etag: &str) -> Result<ArmResponse, ArmError> {
        self.send(call, Method::PUT, path, Some(api_version), Some(body), Some(etag)).await
    }

    /// `GET` a list and follow `nextLink` to the end; the concatenated `value` arrays.
    pub async fn list_all(&self, call: ArmCall, path: &str, api_version: &str) -> Result<Vec<Value>, ArmError> {
        let mut out = Vec::new();
        let mut next = Some(path.to_string());
        let mut pages = 0usize;
        while let Some(target) = next.take() {
            pages += 1;
            if pages > 10_000 {
                return Err(ArmError::new(ArmErrorKind::Permanent, call, None, None, "more than 10000 pages: nextLink loops"));
            }
            let body = self.send(call, Method::GET, &target, Some(api_version), None, None).await?.body;
            if let Some(items) = body.get("value").and_then(Value::as_array) {
                out.extend(items.iter().cloned());
            }
            next = body.get("nextLink").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        }
        Ok(out)
    }

    /// Follows a long-running operation started by `initial` to its end.
    ///
    /// - `Azure-AsyncOperation`: poll it; its body's `status` is `InProgress` (or any other
    ///   non-terminal word) until `Succeeded`, `Failed` (with `error.code`/`error.message`) or
    ///   `Canceled`.
    /// - else `Location` on a 202: poll it while it answers 202; 200/204 is success, an error
    ///   status is the failure.
    /// - else (200/201/204 without either header): the operation completed synchronously.
    ///
    /// Each poll waits the previous response's `Retry-After` (or [`ArmConfig::lro_poll_default`]).
    pub async fn follow(&self, initial: ArmResponse) -> Result<LroOutcome, ArmError> {
        let started = Instant::now();
        let timeout = self.inner.config.lro_timeout;
        let default_wait = self.inner.config.lro_poll_default;
        if let Some(url) = initial.async_operation().map(str::to_string) {
            let mut operation_id = operation_id_of(&url);
            let mut wait = initial.retry_after().unwrap_or(default_wait);
            loop {
                if started.elapsed() + wait > timeout {
                    return Ok(LroOutcome::StillRunning { operation_id, status_url: url });
                }
                tokio::time::sleep(wait).await;
                let resp = self.send(ArmCall::PollOperationStatus, Method::GET, &url, None, None, None).await?;
                if let Some(name) = resp.body.get("name").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                    operation_id = name.to_string();
                }
                let status = resp.body.get("status").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
                match status.as_str() {
                    "succeeded" => return Ok(LroOutcome::Succeeded { operation_id, body: resp.body }),
                    "failed" => {
                        let e = resp.body.get("error");
                        let code = e.and_then(|e| e.get("code")).and_then(Value::as_str).unwrap_or("Unknown").to_string();
                        let message = e.and_then(|e| e.get("message")).and_then(Value::as_str).unwrap_or("(no message)").to_string();
                        return Ok(LroOutcome::Failed { operation_id, code, message });
                    }
                    "canceled" | "cancelled" => return Ok(LroOutcome::Canceled { operation_id }),
                    _ => wait = resp.retry_after().unwrap_or(default_wait),
                }
            }
        }
        if initial.status == 202
            && let Some(url) = initial.location().map(str::to_string)
        {
            let operation_id = operation_id_of(&url);
            let mut wait = initial.retry_after().unwrap_or(default_wait);
            loop {
                if started.elapsed() + wait > timeout {
                    return Ok(LroOutcome::StillRunning { operation_id, status_url: url });
                }
                tokio::time::sleep(wait).await;
                match self.send(ArmCall::PollOperationResult, Method::GET, &url, None, None, None).await {
                    Ok(resp) if resp.status == 202 => wait = resp.retry_after().unwrap_or(default_wait),
                    Ok(resp) => return Ok(LroOutcome::Succeeded { operation_id, body: resp.body }),
                    Err(e) if matches!(e.kind, ArmErrorKind::Permanent | ArmErrorKind::Conflict | ArmErrorKind::NotFound) => {
                        return Ok(LroOutcome::Failed {
                            operation_id,
                            code: e.code.clone().unwrap_or_else(|| format!("HTTP{}", e.status.unwrap_or(0))),
                            message: e.message,
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        match initial.status {
            200 | 201 | 204 => Ok(LroOutcome::Succeeded { operation_id: "sync".into(), body: initial.body }),
            s => Err(ArmError::new(
                ArmErrorKind::Permanent,
                ArmCall::PollOperationStatus,
                Some(s),
                None,
                "the response names no Azure-AsyncOperation or Location to follow",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify_as_arm_means_them() {
        assert_eq!(classify(409, None), ArmErrorKind::Conflict);
        assert_eq!(classify(404, None), ArmErrorKind::NotFound);
        assert_eq!(classify(412, None), ArmErrorKind::PreconditionFailed);
        assert_eq!(classify(503, None), ArmErrorKind::Transient);
        assert_eq!(classify(403, None), ArmErrorKind::Forbidden);
        assert_eq!(classify(401, None), ArmErrorKind::Forbidden);
        assert_eq!(classify(400, None), ArmErrorKind::Permanent);
        assert_eq!(classify(429, Some(Duration::from_secs(3))), ArmErrorKind::Throttled { retry_after: Some(Duration::from_secs(3)) });
    }

    #[test]
    fn conflicts_become_deferred_actions_and_failures_carry_arms_words() {
        let e = ArmError::new(ArmErrorKind::Conflict, ArmCall::PutCluster, Some(409), Some("OperationNotAllowed".into()), "busy");
        assert!(matches!(ActionError::from(e), ActionError::Deferred(m) if m.starts_with("another operation is in progress")));
        let e = ArmError::new(ArmErrorKind::Permanent, ArmCall::PutCluster, Some(400), Some("InvalidVersion".into()), "no such version");
        assert_eq!(ActionError::from(e), ActionError::Permanent("ARM InvalidVersion: no such version".into()));
        let e = ArmError::new(ArmErrorKind::Forbidden, ArmCall::PutCluster, Some(403), Some("AuthorizationFailed".into()), "no write");
        assert!(
            matches!(ActionError::from(e), ActionError::Configuration { setting, message } if setting == ROLE_SETTINGS && message.contains("AuthorizationFailed")),
            "a missing role is fixed by a person, then the same request works"
        );
        let e = ArmError::new(ArmErrorKind::PreconditionFailed, ArmCall::PutCluster, Some(412), None, "etag");
        assert!(ActionError::from(e).is_retryable());
    }

    #[test]
    fn error_bodies_yield_code_and_message() {
        let (c, m) = error_from_body(br#"{"error":{"code":"ResourceNotFound","message":"gone"}}"#);
        assert_eq!((c.as_deref(), m.as_str()), (Some("ResourceNotFound"), "gone"));
        let (c, m) = error_from_body(b"<html>bad gateway</html>");
        assert_eq!((c, m.as_str()), (None, "<html>bad gateway</html>"));
    }

    #[test]
    fn scopes_are_subscriptions() {
        let u = url::Url::parse("https://m/subscriptions/ABC/resourceGroups/x").unwrap();
        assert_eq!(scope_of(&u, ArmCall::GetCluster), "abc");
        let u = url::Url::parse("https://m/providers/Microsoft.ContainerService/locations/westus/operations/1").unwrap();
        assert_eq!(scope_of(&u, ArmCall::PollOperationStatus), "tenant");
    }

    #[test]
    fn operation_ids_are_the_last_segment() {
        assert_eq!(
            operation_id_of("https://management.azure.com/providers/Microsoft.ContainerService/locations/westus/operations/0000-1?api-version=2018-07-31"),
            "0000-1"
        );
    }
}
