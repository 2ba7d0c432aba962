//! The scale-out proof's instruments: a stateful fake GitHub, the events, and an Event Grid-like
//! delivery loop over several `handler` processes.
//!
//! ## The fake GitHub
//! It answers exactly the calls the issue adapter makes, the way GitHub does, so that the
//! adapter's own look-ups work as in production and a second creation is really attempted
//! whenever two executions race:
//! - `GET /repos/{o}/{r}/issues?state=open&labels=…&sort=created&direction=desc&per_page=100`
//!   lists the open issues carrying every label, newest first, 100 a page with a `Link` header —
//!   strongly consistent, as on GitHub (an issue is listed as soon as it is created);
//! - `GET /search/issues?q=repo:o/r is:issue in:body "<term>"` is eventually consistent: an issue
//!   is indexed only `search_lag` after its creation (GitHub: seconds to minutes);
//! - `POST /repos/{o}/{r}/issues` creates (the issue exists half-way through `create_latency`,
//!   then the answer goes out), `GET`/`PATCH /repos/{o}/{r}/issues/{n}` read and edit.
//!
//! Each `handler` process gets its own API base URL, `<fake>/p<i>` (like GitHub Enterprise
//! Server's `/api/v3` prefix), so the fake knows which process made each call. It can *hold* the
//! n-th creation from one process: the issue is created, the answer never comes, and the test is
//! told — the moment to kill that process, between "issue created" and "ledger written".
//! Anything else is answered 404 and recorded as unexpected.

#![allow(dead_code)] // each test crate uses a different part

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use serde_json::{Value, json};

/// The repository the scale-out policy (`tests/fixtures/scaleout/cadence.toml`) files issues in.
pub const REPO: &str = "scaleout/ops";
/// The policy's own label (`aks-cadence` is always added by the adapter).
pub const POLICY_LABEL: &str = "scale-out-proof";
/// The token every handler process is given; the fake refuses any other.
pub const TOKEN: &str = "ghp_scaleoutFAKEtoken0000000000000000";

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// Time between receiving a create request and answering it; the issue exists from half-way.
    pub create_latency: Duration,
    /// How long after its creation an issue becomes findable through search.
    pub search_lag: Duration,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self { create_latency: Duration::from_millis(40), search_lag: Duration::from_secs(600) }
    }
}

#[derive(Debug, Clone)]
pub struct FakeIssue {
    pub number: u64,
    pub repo: String,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub state: String,
    /// The concern key from the body's hidden marker.
    pub concern: Option<String>,
    /// Which process (`p0`, `p1`, …) created it.
    pub created_by: String,
    created_at: Instant,
}

impl FakeIssue {
    pub fn html_url(&self) -> String {
        format!("https://github.example/{}/issues/{}", self.repo, self.number)
    }

    fn to_json(&self) -> Value {
        json!({
            "number": self.number,
            "html_url": self.html_url(),
            "url": format!("https://github.example/api/v3/repos/{}/issues/{}", self.repo, self.number),
            "state": self.state,
            "title": self.title,
            "body": self.body,
            "labels": self.labels.iter().map(|l| json!({ "name": l })).collect::<Vec<_>>(),
            "assignees": [],
            "comments": 0,
        })
    }
}

/// Counts of what the fake was asked.
#[derive(Debug, Clone, Default)]
pub struct GithubCounts {
    /// `POST …/issues` that created an issue.
    pub creations: usize,
    pub creations_by_process: BTreeMap<String, usize>,
    /// Label listings (each page counts).
    pub listings: usize,
    pub searches: usize,
    /// `GET …/issues/{n}` (the adapter following the ledger's ref to an issue).
    pub reads_by_number: usize,
    pub edits: usize,
    /// Requests without the right token.
    pub unauthorized: usize,
    /// Requests the adapter should never make here (`METHOD path`).
    pub unexpected: Vec<String>,
}

/// A creation held without an answer.
struct Hold {
    process: String,
    nth: usize,
    notify: Option<tokio::sync::oneshot::Sender<FakeIssue>>,
}

struct Inner {
    options: FakeOptions,
    base: String,
    issues: Mutex<Vec<FakeIssue>>,
    counts: Mutex<GithubCounts>,
    hold: Mutex<Option<Hold>>,
}

/// The fake GitHub, serving on 127.0.0.1 until dropped.
pub struct FakeGithub {
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGithub {
    pub async fn start(options: FakeOptions) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("fake GitHub binds");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Inner {
            options,
            base,
            issues: Mutex::new(Vec::new()),
            counts: Mutex::new(GithubCounts::default()),
            hold: Mutex::new(None),
        });
        let app = Router::new()
            .route("/{process}/repos/{owner}/{repo}/issues", get(list_issues).post(create_issue))
            .route("/{process}/repos/{owner}/{repo}/issues/{number}", get(read_issue).patch(edit_issue))
            .route("/{process}/search/issues", get(search_issues))
            .fallback(unexpected)
            .with_state(Arc::clone(&inner));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake GitHub serves");
        });
        Self { inner, task }
    }

    /// `GITHUB_API_URL` for handler process `i`.
    pub fn api_url(&self, i: usize) -> String {
        format!("{}/p{i}", self.inner.base)
    }

    /// Holds the `nth` (1-based) creation requested by process `i`: the issue is created, no
    /// answer is sent, and the returned receiver gets the issue.
    pub fn hold_creation(&self, i: usize, nth: usize) -> tokio::sync::oneshot::Receiver<FakeIssue> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        *self.inner.hold.lock().unwrap() = Some(Hold { process: format!("p{i}"), nth, notify: Some(tx) });
        rx
    }

    pub fn counts(&self) -> GithubCounts {
        self.inner.counts.lock().unwrap().clone()
    }

    pub fn issues(&self) -> Vec<FakeIssue> {
        self.inner.issues.lock().unwrap().clone()
    }

    /// Concern key → how many issues were created for it.
    pub fn creations_per_concern(&self) -> BTreeMap<String, usize> {
        let mut per: BTreeMap<String, usize> = BTreeMap::new();
        for i in self.inner.issues.lock().unwrap().iter() {
            *per.entry(i.concern.clone().unwrap_or_else(|| format!("(no marker: #{})", i.number))).or_default() += 1;
        }
        per
    }
}

fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}") || v == format!("token {TOKEN}"));
    if !ok {
        inner.counts.lock().unwrap().unauthorized += 1;
    }
    ok
}

fn github_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message, "documentation_url": "https://docs.github.com/rest" }))).into_response()
}

fn concern_of(body: &str) -> Option<String> {
    let start = body.find("<!-- aks-cadence:concern=")? + "<!-- aks-cadence:concern=".len();
    let end = body[start..].find(" -->")?;
    Some(body[start..start + end].to_string())
}

async fn list_issues(
    State(inner): State<Arc<Inner>>,
    Path((process, owner, repo)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&inner, &headers) {
        return github_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    inner.counts.lock().unwrap().listings += 1;
    let full = format!("{owner}/{repo}");
    let state = q.get("state").map(String::as_str).unwrap_or("open").to_string();
    let labels: Vec<String> = q.get("labels").map(|l| l.split(',').map(|x| x.trim().to_ascii_lowercase()).filter(|x| !x.is_empty()).collect()).unwrap_or_default();
    let per_page = q.get("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(30).clamp(1, 100);
    let page = q.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let ascending = q.get("direction").is_some_and(|d| d == "asc");
    let mut hits: Vec<FakeIssue> = inner
        .issues
        .lock()
        .unwrap()
        .iter()
        .filter(|i| i.repo == full)
        .filter(|i| state == "all" || i.state == state)
        .filter(|i| labels.iter().all(|l| i.labels.iter().any(|have| have.eq_ignore_ascii_case(l))))
        .cloned()
        .collect();
    // Numbers grow with creation time: sort=created is sort by number.
    hits.sort_by_key(|i| if ascending { i.number as i64 } else { -(i.number as i64) });
    let pages = hits.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = hits.iter().skip((page - 1) * per_page).take(per_page).map(FakeIssue::to_json).collect();
    let link_to = |p: usize| {
        let mut qs = url::form_urlencoded::Serializer::new(String::new());
        let mut keys: Vec<&String> = q.keys().filter(|k| k.as_str() != "page").collect();
        keys.sort();
        for k in keys {
            qs.append_pair(k, &q[k]);
        }
        qs.append_pair("page", &p.to_string());
        format!("<{}/{process}/repos/{full}/issues?{}>", inner.base, qs.finish())
    };
    let mut rels = Vec::new();
    if page < pages {
        rels.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        rels.push(format!("{}; rel=\"last\"", link_to(pages)));
    }
    if page > 1 {
        rels.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
        rels.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    let mut response = Json(Value::Array(items)).into_response();
    if !rels.is_empty() {
        response.headers_mut().insert("link", rels.join(", ").parse().unwrap());
    }
    response
}

async fn search_issues(State(inner): State<Arc<Inner>>, Query(q): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    if !authorized(&inner, &headers) {
        return github_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    inner.counts.lock().unwrap().searches += 1;
    let query = q.get("q").cloned().unwrap_or_default();
    let repo = query.split_whitespace().find_map(|t| t.strip_prefix("repo:")).map(str::to_string);
    let term = query.split('"').nth(1).map(str::to_string);
    let (Some(repo), Some(term)) = (repo, term) else {
        return github_error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    };
    let lag = inner.options.search_lag;
    let items: Vec<Value> = inner
        .issues
        .lock()
        .unwrap()
        .iter()
        .filter(|i| i.repo == repo && i.created_at.elapsed() >= lag && i.body.contains(&term))
        .map(FakeIssue::to_json)
        .collect();
    Json(json!({ "total_count": items.len(), "incomplete_results": false, "items": items })).into_response()
}

async fn create_issue(
    State(inner): State<Arc<Inner>>,
    Path((process, owner, repo)): Path<(String, String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(&inner, &headers) {
        return github_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    let Some(title) = body.get("title").and_then(Value::as_str).filter(|t| !t.trim().is_empty()).map(str::to_string) else {
        return github_error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed");
    };
    let text = body.get("body").and_then(Value::as_str).unwrap_or("").to_string();
    let labels: Vec<String> = body.get("labels").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
    // GitHub finishes a creation whether or not the caller is still there: run it detached.
    let work = Arc::clone(&inner);
    let created = tokio::spawn(async move {
        let half = work.options.create_latency / 2;
        tokio::time::sleep(half).await;
        let (issue, held) = {
            let mut issues = work.issues.lock().unwrap();
            let issue = FakeIssue {
                number: issues.len() as u64 + 1,
                repo: format!("{owner}/{repo}"),
                title,
                concern: concern_of(&text),
                body: text,
                labels,
                state: "open".into(),
                created_by: process.clone(),
                created_at: Instant::now(),
            };
            issues.push(issue.clone());
            let mut counts = work.counts.lock().unwrap();
            counts.creations += 1;
            let from_process = counts.creations_by_process.entry(process.clone()).or_default();
            *from_process += 1;
            let nth = *from_process;
            let mut hold = work.hold.lock().unwrap();
            let held = match hold.as_mut() {
                Some(h) if h.process == process && h.nth == nth => h.notify.take(),
                _ => None,
            };
            (issue, held)
        };
        if let Some(notify) = held {
            let _ = notify.send(issue.clone());
            return None;
        }
        tokio::time::sleep(half).await;
        Some(issue)
    });
    match created.await.expect("creation task") {
        Some(issue) => (StatusCode::CREATED, Json(issue.to_json())).into_response(),
        // Held: the issue exists, the answer never comes (the caller is about to be killed).
        None => std::future::pending().await,
    }
}

async fn read_issue(
    State(inner): State<Arc<Inner>>,
    Path((_process, owner, repo, number)): Path<(String, String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&inner, &headers) {
        return github_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    inner.counts.lock().unwrap().reads_by_number += 1;
    let full = format!("{owner}/{repo}");
    match inner.issues.lock().unwrap().iter().find(|i| i.repo == full && i.number == number) {
        Some(i) => Json(i.to_json()).into_response(),
        None => github_error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn edit_issue(
    State(inner): State<Arc<Inner>>,
    Path((_process, owner, repo, number)): Path<(String, String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !authorized(&inner, &headers) {
        return github_error(StatusCode::UNAUTHORIZED, "Bad credentials");
    }
    inner.counts.lock().unwrap().edits += 1;
    let full = format!("{owner}/{repo}");
    let mut issues = inner.issues.lock().unwrap();
    let Some(issue) = issues.iter_mut().find(|i| i.repo == full && i.number == number) else {
        return github_error(StatusCode::NOT_FOUND, "Not Found");
    };
    if let Some(t) = body.get("title").and_then(Value::as_str) {
        issue.title = t.to_string();
    }
    if let Some(b) = body.get("body").and_then(Value::as_str) {
        issue.body = b.to_string();
    }
    if let Some(s) = body.get("state").and_then(Value::as_str) {
        issue.state = s.to_string();
    }
    Json(issue.to_json()).into_response()
}

async fn unexpected(State(inner): State<Arc<Inner>>, method: axum::http::Method, uri: Uri) -> Response {
    inner.counts.lock().unwrap().unexpected.push(format!("{method} {}", uri.path()));
    github_error(StatusCode::NOT_FOUND, "Not Found")
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// The subscription and resource group of the proof's clusters.
pub const SUBSCRIPTION: &str = "5ca1e000-0000-4000-8000-000000000200";
pub const RESOURCE_GROUP: &str = "rg-scaleout";

/// Cluster `i`'s name.
pub fn cluster_name(i: usize) -> String {
    format!("aks-scaleout-{i:03}")
}

/// `n` distinct `NewKubernetesVersionAvailable` events: the real fixture with cluster `i` in
/// `topic`/`subject`, its own id, and the current time as `eventTime`.
pub fn new_version_events(n: usize) -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/eventgrid/aks_new_kubernetes_version_available.eventgrid.json");
    let template = std::fs::read_to_string(path).expect("the real fixture is there");
    let now = jiff::Timestamp::now().to_string();
    (0..n)
        .map(|i| {
            let text = template
                .replace("{subscription-id}", SUBSCRIPTION)
                .replace("{resource-group}", RESOURCE_GROUP)
                .replace("{cluster}", &cluster_name(i));
            let mut event: Value = serde_json::from_str(&text).expect("fixture is JSON");
            event["id"] = json!(format!("5ca1e0{i:034x}"));
            event["eventTime"] = json!(now);
            event
        })
        .collect()
}

/// The concern key the policy's issue for cluster `i` carries in its marker (lower-cased
/// cluster id, `#kubernetes-upgrade#`, the minor of the fixture's newest supported version).
pub fn expected_concern(i: usize) -> String {
    format!(
        "/subscriptions/{SUBSCRIPTION}/resourcegroups/{RESOURCE_GROUP}/providers/microsoft.containerservice/managedclusters/{}#kubernetes-upgrade#1.20",
        cluster_name(i)
    )
}

/// The custom-handler invocation the Functions host posts for an Event Grid trigger.
pub fn invocation(event: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Data": { "event": event }, "Metadata": {} })).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

/// One delivery of one event (Event Grid delivers each event at least once; here, `copies`
/// times on purpose).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: usize,
    pub copy: usize,
    /// `event + copy`: attempt `a` goes to live process `(slot + a) mod live`, so the copies of
    /// one event start on different processes and each redelivery goes to another one.
    pub slot: usize,
    pub body: Arc<Vec<u8>>,
}

/// Every event `copies` times, copy `c` of event `e` first to process `(e + c) mod processes`
/// (distinct processes), in event order: the copies of one event are in flight together.
pub fn schedule(events: &[Value], copies: usize) -> Vec<Delivery> {
    let mut out = Vec::with_capacity(events.len() * copies);
    for (e, event) in events.iter().enumerate() {
        let body = Arc::new(invocation(event));
        for c in 0..copies {
            out.push(Delivery { event: e, copy: c, slot: e + c, body: Arc::clone(&body) });
        }
    }
    out
}

/// Where deliveries go: the processes' base URLs, and which are alive (a killed instance gets
/// no new deliveries, as the platform stops routing to it).
pub struct Targets {
    pub urls: Vec<String>,
    alive: Vec<AtomicBool>,
}

impl Targets {
    pub fn new(urls: Vec<String>) -> Arc<Self> {
        let alive = urls.iter().map(|_| AtomicBool::new(true)).collect();
        Arc::new(Self { urls, alive })
    }

    pub fn mark_dead(&self, i: usize) {
        self.alive[i].store(false, Ordering::SeqCst);
    }

    /// The process for attempt `attempt` of a delivery in `slot`: round-robin over the live
    /// ones, so a redelivery goes elsewhere and a dead process's share is spread evenly.
    fn pick(&self, slot: usize, attempt: usize) -> usize {
        let live: Vec<usize> = (0..self.urls.len()).filter(|&i| self.alive[i].load(Ordering::SeqCst)).collect();
        assert!(!live.is_empty(), "at least one process is alive");
        live[(slot + attempt) % live.len()]
    }
}

/// How redeliveries are made: like Event Grid (retry every non-2xx and every failed exchange,
/// with growing delays, a bounded number of times), with delays scaled down for a test.
#[derive(Debug, Clone, Copy)]
pub struct Redelivery {
    pub max_attempts: usize,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for Redelivery {
    fn default() -> Self {
        Self { max_attempts: 40, first_delay: Duration::from_millis(200), max_delay: Duration::from_secs(2) }
    }
}

/// What the delivery loop saw.
#[derive(Debug, Default)]
pub struct DeliveryReport {
    /// HTTP attempts made (first deliveries and redeliveries).
    pub attempts: usize,
    /// Deliveries finally answered 2xx.
    pub delivered: usize,
    /// Answers with a non-2xx status.
    pub non_2xx: usize,
    /// Why, from the invocation's `Logs` (`github budget`, `held by another instance`, …).
    pub non_2xx_reasons: BTreeMap<String, usize>,
    /// Exchanges that failed without an answer (connection refused or reset: a killed process).
    pub no_answer: usize,
    /// Deliveries still not answered 2xx after `max_attempts` (`event#copy`).
    pub gave_up: Vec<String>,
    /// The most attempts one delivery needed.
    pub most_attempts: usize,
}

/// How one delivery went.
struct Delivered {
    delivery: Delivery,
    /// Attempts it took to get a 2xx, or why it never did.
    result: Result<usize, String>,
    /// The non-2xx answers on the way (`status reason`).
    failures: Vec<String>,
    /// Attempts that got no answer at all.
    no_answer: usize,
}

/// Sends every delivery, at most `concurrency` at once, redelivering until 2xx (bounded).
pub async fn deliver_all(targets: Arc<Targets>, deliveries: Vec<Delivery>, concurrency: usize, policy: Redelivery) -> DeliveryReport {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("HTTP client");
    let attempts = Arc::new(AtomicUsize::new(0));
    let outcomes: Vec<Delivered> = futures::stream::iter(deliveries)
        .map(|delivery| {
            let client = client.clone();
            let targets = Arc::clone(&targets);
            let attempts = Arc::clone(&attempts);
            async move {
                let mut done = Delivered { delivery, result: Err(String::new()), failures: Vec::new(), no_answer: 0 };
                let mut delay = policy.first_delay;
                for attempt in 0..policy.max_attempts {
                    if attempt > 0 {
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(policy.max_delay);
                    }
                    attempts.fetch_add(1, Ordering::SeqCst);
                    let target = targets.pick(done.delivery.slot, attempt);
                    let sent = client
                        .post(format!("{}/aks-events", targets.urls[target]))
                        .header("content-type", "application/json")
                        .body(done.delivery.body.as_ref().clone())
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            done.result = Ok(attempt + 1);
                            return done;
                        }
                        Ok(r) => {
                            let status = r.status().as_u16();
                            let logs = r.text().await.unwrap_or_default();
                            done.failures.push(reason(status, &logs));
                        }
                        Err(_) => done.no_answer += 1,
                    }
                }
                done.result = Err(format!("no 2xx after {} attempts", policy.max_attempts));
                done
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let mut report = DeliveryReport { attempts: attempts.load(Ordering::SeqCst), ..Default::default() };
    for d in outcomes {
        report.non_2xx += d.failures.len();
        report.no_answer += d.no_answer;
        for f in d.failures {
            *report.non_2xx_reasons.entry(f).or_default() += 1;
        }
        match d.result {
            Ok(n) => {
                report.delivered += 1;
                report.most_attempts = report.most_attempts.max(n);
            }
            Err(why) => report.gave_up.push(format!("event {} copy {}: {why}", d.delivery.event, d.delivery.copy)),
        }
    }
    report
}

/// A short name for why an invocation failed, from its status and `Logs`.
fn reason(status: u16, body: &str) -> String {
    let what = if body.contains("content budget") {
        "github budget (throttled)"
    } else if body.contains("held by") {
        "held by another instance"
    } else if body.contains("throttled") || body.contains("Throttled") {
        "throttled"
    } else if body.contains("ledger") {
        "ledger unavailable"
    } else {
        let short: String = body.chars().take(160).collect();
        return format!("{status} other: {short}");
    };
    format!("{status} {what}")
}
