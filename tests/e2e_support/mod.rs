//! Shared by the end-to-end tests (`tests/e2e_*.rs`): the real `handler` binary started as the
//! Functions host starts it, a stateful fake GitHub and a fake chat webhook on wiremock, the
//! policy of `tests/fixtures/e2e/`, and the real event fixtures.
//!
//! Everything listens on 127.0.0.1. Mail goes to MailDev (started by `scripts/test.sh`); the
//! tests that read mail fail, with the fix in the message, when it is not running
//! (`email_support::maildev`).
//!
//! Waits are bounded polls on a condition (the port logged, a message arrived), never fixed
//! sleeps; the one exception is the short grace period after which "no further mail arrived"
//! is believed (MailDev stores a message a moment after accepting it).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The repository the e2e policy opens issues in.
pub const REPO: &str = "o/r";
/// The fleet dashboard's title (`aks_cadence::dashboard::TITLE`).
pub const DASHBOARD_TITLE: &str = "AKS fleet dashboard";
/// The setting the e2e policy names for its Teams webhook URL.
pub const TEAMS_SETTING: &str = "TEAMS_PLATFORM_WEBHOOK_URL";
/// The recipient written in `tests/fixtures/e2e/notify-all.toml`; each test replaces it.
const POLICY_RECIPIENT: &str = "platform-team@e2e.example";

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A real event fixture from `tests/fixtures/eventgrid/`, unchanged.
pub fn fixture(name: &str) -> Value {
    let p = manifest_dir().join("tests/fixtures/eventgrid").join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The Event Grid schema event every exactly-once test delivers: AKS says the cluster's
/// Kubernetes 1.24.10 is leaving support.
pub fn support_ending_event() -> Value {
    fixture("aks_cluster_support_ending.eventgrid.json")
}

/// The same notice as a CloudEvent.
pub fn support_ending_cloudevent() -> Value {
    fixture("aks_cluster_support_ending.cloudevent.json")
}

/// What the Functions host posts to `/aks-events` for one Event Grid trigger invocation.
pub fn invocation(event: &Value) -> Value {
    json!({"Data": {"event": event}, "Metadata": {"sys": {"MethodName": "aks-events", "UtcNow": "2026-03-02T12:00:00Z", "RandGuid": "0f0e0d0c-0b0a-0908-0706-050403020100"}}})
}

/// A unique, lower-case mailbox for one test (tests share one MailDev).
pub fn unique_recipient(tag: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("e2e-{tag}-{n}@e2e.example")
}

/// Writes `tests/fixtures/e2e/notify-all.toml` into `dir` with its recipient replaced by
/// `recipient`, and returns the copy's path.
pub fn policy_for(dir: &Path, recipient: &str) -> PathBuf {
    let src = manifest_dir().join("tests/fixtures/e2e/notify-all.toml");
    let text = std::fs::read_to_string(&src).unwrap();
    assert_eq!(text.matches(POLICY_RECIPIENT).count(), 1, "{} names the recipient {POLICY_RECIPIENT} once", src.display());
    let out = dir.join("cadence.toml");
    std::fs::write(&out, text.replace(POLICY_RECIPIENT, recipient)).unwrap();
    out
}

// ---------------------------------------------------------------- HTTP

/// A plain HTTP client (reqwest is built without a default crypto provider).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap()
}

/// A handler answer: status, headers and the body as text (kept so tests can search it).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    pub async fn from(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.expect("read the handler's answer");
        Self { status, headers, body }
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {}", self.body))
    }
    /// The invocation response's `Logs`, joined by newlines.
    pub fn logs(&self) -> String {
        let v = self.json();
        let logs = v["Logs"].as_array().unwrap_or_else(|| panic!("no Logs array in {}", self.body));
        logs.iter().map(|l| l.as_str().expect("each log line is a string")).collect::<Vec<_>>().join("\n")
    }
}

// ---------------------------------------------------------------- the handler process

/// Settings for one handler process (its whole environment: nothing is inherited).
#[derive(Debug, Clone, Default)]
pub struct Env(pub BTreeMap<String, String>);

impl Env {
    pub fn set(mut self, k: &str, v: impl Into<String>) -> Self {
        self.0.insert(k.to_string(), v.into());
        self
    }
}

/// A free loopback port, as the Functions host picks one for `FUNCTIONS_CUSTOMHANDLER_PORT`.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `handler serve` running as the Functions host runs it: the port in
/// `FUNCTIONS_CUSTOMHANDLER_PORT`, JSON logs on stdout, started in `dir`.
pub struct Handler {
    child: Child,
    pub port: u16,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Handler {
    /// Starts the binary and waits (bounded) until it logs that it listens on the port.
    pub async fn start(dir: &Path, env: &Env) -> Self {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_handler"))
            .arg("serve")
            .current_dir(dir)
            .env_clear()
            .envs(&env.0)
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the handler binary");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (out, err) = (Arc::clone(&stdout), Arc::clone(&stderr));
        let pipe = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                out.lock().unwrap().push(line);
            }
        });
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                err.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut h = Self { child, port, stdout, stderr };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let logged = h.stdout.lock().unwrap().iter().any(|l| {
                serde_json::from_str::<Value>(l).is_ok_and(|v| v.pointer("/fields/port").and_then(Value::as_u64) == Some(u64::from(port)))
            });
            if logged {
                return h;
            }
            if let Some(status) = h.child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                tokio::time::sleep(Duration::from_millis(100)).await;
                panic!("the handler exited during start-up ({status}):\n{}", h.output_so_far());
            }
            assert!(Instant::now() < deadline, "the handler did not log its port within 30 s:\n{}", h.output_so_far());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Everything the process has logged until now: stdout (JSON log lines), then stderr. Waits
    /// for the log barrier first (see [`Handler::json_logs`]), so a line logged for an answer
    /// already received is in it, and a check that a secret is absent cannot pass only because
    /// its line had not reached the pipe yet.
    pub fn output(&self) -> String {
        self.log_barrier();
        self.output_so_far()
    }

    /// What the reader threads have collected so far, without waiting for the log barrier.
    fn output_so_far(&self) -> String {
        let out = self.stdout.lock().unwrap().join("\n");
        format!("{out}\n{}", self.stderr.lock().unwrap())
    }

    /// The JSON log lines on stdout; panics on a line that is not JSON (the host expects JSON).
    ///
    /// The handler writes its log lines from a writer thread, in order, so a line can reach the
    /// pipe just after the answer it belongs to. To see every line logged so far, this first
    /// requests a unique path that does not exist and waits (bounded) until its `client error`
    /// line has arrived: every line queued before it has arrived too.
    pub fn json_logs(&self) -> Vec<Value> {
        self.log_barrier();
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a stdout line is not JSON ({e}): {l}")))
            .collect()
    }

    /// Requests a unique missing path and waits (bounded) for its `client error` log line. Does
    /// nothing when the process no longer listens.
    fn log_barrier(&self) {
        static BARRIER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let marker = format!("/log-barrier-{}-{}", std::process::id(), BARRIER.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
            use std::io::Write as _;
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(s, "GET {marker} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            let _ = s.read_to_end(&mut Vec::new());
            let deadline = Instant::now() + Duration::from_secs(30);
            while !self.stdout.lock().unwrap().iter().any(|l| l.contains(&marker)) {
                assert!(Instant::now() < deadline, "the handler's log line for {marker} did not arrive within 30 s:\n{}", self.output_so_far());
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// Posts one invocation of `aks-events` carrying `event`.
    pub async fn invoke(&self, event: &Value) -> Answer {
        let r = http().post(self.url("/aks-events")).json(&invocation(event)).send().await.expect("POST /aks-events");
        Answer::from(r).await
    }

    /// Posts `body` to `/api/eventgrid` with a content type.
    pub async fn webhook(&self, content_type: &str, body: &Value) -> Answer {
        let r = http()
            .post(self.url("/api/eventgrid"))
            .header("content-type", content_type)
            .header("aeg-event-type", "Notification")
            .body(body.to_string())
            .send()
            .await
            .expect("POST /api/eventgrid");
        Answer::from(r).await
    }

    /// Posts one invocation of the `digest` timer (Microsoft's documented timer payload).
    pub async fn digest(&self) -> Answer {
        let p = manifest_dir().join("tests/fixtures/functions-host/timer_info_object.docs.json");
        let timer: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let body = json!({"Data": {"timer": timer}, "Metadata": {"sys": {"MethodName": "digest"}}});
        let r = http().post(self.url("/digest")).json(&body).send().await.expect("POST /digest");
        Answer::from(r).await
    }

    /// Kills the process at once (SIGKILL: no shutdown work, like a crashed or recycled host).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sends the same request `n` times at once and returns every answer.
pub async fn concurrently<F, Fut>(n: usize, f: F) -> Vec<Answer>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    futures::future::join_all((0..n).map(|_| f())).await
}

// ---------------------------------------------------------------- fake GitHub

/// An issue the fake GitHub holds.
#[derive(Debug, Clone)]
pub struct FakeIssue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub state: String,
    pub assignees: Vec<String>,
}

impl FakeIssue {
    fn to_json(&self) -> Value {
        json!({
            "number": self.number,
            "html_url": format!("https://github.example/{REPO}/issues/{}", self.number),
            "state": self.state,
            "title": self.title,
            "body": self.body,
            "labels": self.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
            "assignees": self.assignees.iter().map(|a| json!({"login": a})).collect::<Vec<_>>(),
        })
    }
}

type Issues = Arc<Mutex<Vec<FakeIssue>>>;

/// `GET /repos/o/r/issues?state=open&labels=…`: the open issues carrying every asked label,
/// newest first.
struct ListIssues(Issues);
impl Respond for ListIssues {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: BTreeMap<String, String> = req.url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let want: Vec<&str> = q.get("labels").map(|l| l.split(',').collect()).unwrap_or_default();
        let mut hits: Vec<FakeIssue> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|i| q.get("state").is_none_or(|s| s == "all" || *s == i.state))
            .filter(|i| want.iter().all(|w| i.labels.iter().any(|l| l.eq_ignore_ascii_case(w))))
            .cloned()
            .collect();
        hits.sort_by_key(|i| std::cmp::Reverse(i.number));
        ResponseTemplate::new(200).set_body_json(hits.iter().map(FakeIssue::to_json).collect::<Vec<_>>())
    }
}

/// `GET /search/issues?q=…"term"`: issues whose body holds the quoted term.
struct SearchIssues(Issues);
impl Respond for SearchIssues {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q = req.url.query_pairs().find(|(k, _)| k == "q").map(|(_, v)| v.into_owned()).unwrap_or_default();
        let term = q.split('"').nth(1).unwrap_or("").to_string();
        let items: Vec<Value> = self.0.lock().unwrap().iter().filter(|i| !term.is_empty() && i.body.contains(&term)).map(FakeIssue::to_json).collect();
        ResponseTemplate::new(200).set_body_json(json!({"total_count": items.len(), "incomplete_results": false, "items": items}))
    }
}

/// `POST /repos/o/r/issues`: stores the issue and answers 201 with it.
struct CreateIssue(Issues);
impl Respond for CreateIssue {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let v: Value = serde_json::from_slice(&req.body).expect("the issue is JSON");
        let mut issues = self.0.lock().unwrap();
        let issue = FakeIssue {
            number: issues.len() as u64 + 1,
            title: v["title"].as_str().unwrap_or_default().to_string(),
            body: v["body"].as_str().unwrap_or_default().to_string(),
            labels: v["labels"].as_array().map(|a| a.iter().filter_map(|l| l.as_str().map(String::from)).collect()).unwrap_or_default(),
            state: "open".into(),
            assignees: v["assignees"].as_array().map(|a| a.iter().filter_map(|l| l.as_str().map(String::from)).collect()).unwrap_or_default(),
        };
        issues.push(issue.clone());
        ResponseTemplate::new(201).set_body_json(issue.to_json())
    }
}

fn issue_number(req: &Request) -> Option<u64> {
    req.url.path().rsplit('/').next()?.parse().ok()
}

/// `GET /repos/o/r/issues/N`.
struct GetIssue(Issues);
impl Respond for GetIssue {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match issue_number(req).and_then(|n| self.0.lock().unwrap().iter().find(|i| i.number == n).cloned()) {
            Some(i) => ResponseTemplate::new(200).set_body_json(i.to_json()),
            None => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}

/// `PATCH /repos/o/r/issues/N`: title, body, state.
struct EditIssue(Issues);
impl Respond for EditIssue {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let v: Value = serde_json::from_slice(&req.body).expect("the edit is JSON");
        let mut issues = self.0.lock().unwrap();
        let Some(i) = issue_number(req).and_then(|n| issues.iter_mut().find(|i| i.number == n)) else {
            return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
        };
        if let Some(t) = v["title"].as_str() {
            i.title = t.into();
        }
        if let Some(b) = v["body"].as_str() {
            i.body = b.into();
        }
        if let Some(s) = v["state"].as_str() {
            i.state = s.into();
        }
        ResponseTemplate::new(200).set_body_json(i.to_json())
    }
}

/// One comment on the fake's issues: issue number, body, author, `created_at`.
#[derive(Debug, Clone)]
struct FakeComment {
    issue: u64,
    body: String,
    user: String,
    created_at: String,
}

/// The login the fake gives comments the handler posts.
pub const BOT_LOGIN: &str = "aks-cadence[bot]";

/// `POST /repos/o/r/issues/N/labels` (`{"labels": [...]}`) and `POST …/assignees`
/// (`{"assignees": [...]}`): adds to the issue without replacing, as GitHub documents, and
/// answers as GitHub does (200 with the issue's labels; 201 with the issue).
struct AddToIssue {
    issues: Issues,
    assignees: bool,
}
impl Respond for AddToIssue {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let v: Value = serde_json::from_slice(&req.body).expect("the request is JSON");
        let n: Option<u64> = req.url.path().split('/').nth(5).and_then(|n| n.parse().ok());
        let mut issues = self.issues.lock().unwrap();
        let Some(i) = n.and_then(|n| issues.iter_mut().find(|i| i.number == n)) else {
            return ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"}));
        };
        let (field, list) = if self.assignees { ("assignees", &mut i.assignees) } else { ("labels", &mut i.labels) };
        for add in v[field].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !list.iter().any(|l| l.eq_ignore_ascii_case(add)) {
                list.push(add.to_string());
            }
        }
        if self.assignees {
            ResponseTemplate::new(201).set_body_json(i.to_json())
        } else {
            ResponseTemplate::new(200).set_body_json(i.to_json()["labels"].clone())
        }
    }
}

/// The comments on the fake's issues (`GET`/`POST /repos/o/r/issues/N/comments`), mounted by
/// [`FakeGithub::comments`]. Listed in GitHub's shape: `id`, `user.login`, `body`, `created_at`.
#[derive(Clone, Default)]
pub struct Comments(Arc<Mutex<Vec<FakeComment>>>);

impl Comments {
    /// The bodies posted on issue `issue`, oldest first.
    pub fn on(&self, issue: u64) -> Vec<String> {
        self.0.lock().unwrap().iter().filter(|c| c.issue == issue).map(|c| c.body.clone()).collect()
    }
    /// Every comment as (issue, body).
    pub fn all(&self) -> Vec<(u64, String)> {
        self.0.lock().unwrap().iter().map(|c| (c.issue, c.body.clone())).collect()
    }
    /// A person comments `body` on issue `issue` at `created_at` (RFC 3339).
    pub fn post_as(&self, issue: u64, user: &str, body: &str, created_at: &str) {
        self.0.lock().unwrap().push(FakeComment { issue, body: body.into(), user: user.into(), created_at: created_at.into() });
    }
}

impl Respond for Comments {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n: u64 = req.url.path().split('/').nth(5).and_then(|n| n.parse().ok()).expect("/repos/o/r/issues/N/comments");
        if req.method.as_str() == "POST" {
            let body: Value = serde_json::from_slice(&req.body).expect("a comment is JSON");
            let created_at = jiff::Timestamp::now().to_string();
            let mut all = self.0.lock().unwrap();
            all.push(FakeComment { issue: n, body: body["body"].as_str().unwrap_or_default().to_string(), user: BOT_LOGIN.into(), created_at });
            return ResponseTemplate::new(201).set_body_json(json!({"id": all.len()}));
        }
        let listed: Vec<Value> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, c)| c.issue == n)
            .map(|(i, c)| json!({"id": i + 1, "user": {"login": c.user, "type": "User"}, "body": c.body, "created_at": c.created_at, "updated_at": c.created_at}))
            .collect();
        ResponseTemplate::new(200).set_body_json(listed)
    }
}

/// One label event: issue, `labeled`/`unlabeled`, label, actor, `created_at`.
type IssueEvents = Arc<Mutex<Vec<(u64, &'static str, String, String, String)>>>;

/// `GET /repos/o/r/issues/N/events`: the documented issue-event shape (`id`, `event`,
/// `actor.login`, `label.name`/`color`, `created_at`), oldest first.
struct ListEvents(IssueEvents);
impl Respond for ListEvents {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n: u64 = req.url.path().split('/').nth(5).and_then(|n| n.parse().ok()).expect("/repos/o/r/issues/N/events");
        let listed: Vec<Value> = self
            .0
            .lock()
            .unwrap()
            .iter()
            .enumerate()
            .filter(|(_, e)| e.0 == n)
            .map(|(i, (_, event, label, actor, at))| {
                json!({"id": i + 1, "event": event, "actor": {"login": actor, "type": "User"}, "label": {"name": label, "color": "ededed"}, "commit_id": null, "created_at": at})
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(listed)
    }
}

/// `GET /repos/o/r/collaborators/{user}/permission`: `permission` and `role_name` for a known
/// user, 404 for anyone else (as GitHub answers for a login it does not know).
struct Permissions(BTreeMap<String, String>);
impl Respond for Permissions {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let user = req.url.path().split('/').nth(5).unwrap_or_default().to_ascii_lowercase();
        match self.0.get(&user) {
            Some(role) => {
                // GitHub reports `maintain` as `write` and `triage` as `read` in `permission`.
                let permission = match role.as_str() {
                    "maintain" => "write",
                    "triage" => "read",
                    other => other,
                };
                ResponseTemplate::new(200).set_body_json(json!({"permission": permission, "role_name": role, "user": {"login": user, "type": "User"}}))
            }
            None => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user"})),
        }
    }
}

/// `PATCH /repos/o/r/issues/comments/ID`: edits a comment in place (mounted with [`Comments`]).
struct EditComment(Comments);
impl Respond for EditComment {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let id: usize = req.url.path().rsplit('/').next().and_then(|n| n.parse().ok()).expect("/repos/o/r/issues/comments/ID");
        let body: Value = serde_json::from_slice(&req.body).expect("a comment edit is JSON");
        let mut all = (self.0).0.lock().unwrap();
        match id.checked_sub(1).and_then(|i| all.get_mut(i)) {
            Some(c) => {
                c.body = body["body"].as_str().unwrap_or_default().to_string();
                ResponseTemplate::new(200).set_body_json(json!({"id": id, "body": c.body.clone()}))
            }
            None => ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})),
        }
    }
}

/// A fake GitHub REST API holding issues of `o/r`, serving exactly the endpoints the issue
/// adapter calls for a notice: the labelled open-issue listing, the search API, create, get
/// and edit (`handler/actions/github/issues.rs`). Creating is mounted by each test, with the
/// number of calls it expects.
pub struct FakeGithub {
    pub server: MockServer,
    issues: Issues,
    events: IssueEvents,
}

impl FakeGithub {
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let issues: Issues = Arc::default();
        let issues_path = format!("/repos/{REPO}/issues");
        Mock::given(method("GET")).and(path(issues_path.as_str())).respond_with(ListIssues(Arc::clone(&issues))).named("list issues").mount(&server).await;
        Mock::given(method("GET")).and(path("/search/issues")).respond_with(SearchIssues(Arc::clone(&issues))).named("search issues").mount(&server).await;
        let one = format!("^/repos/{REPO}/issues/[0-9]+$");
        Mock::given(method("GET")).and(path_regex(one.as_str())).respond_with(GetIssue(Arc::clone(&issues))).named("get issue").mount(&server).await;
        Mock::given(method("PATCH")).and(path_regex(one.as_str())).respond_with(EditIssue(Arc::clone(&issues))).named("edit issue").mount(&server).await;
        // The fleet dashboard a live sweep opens is served on its own, ahead of the creations a
        // test counts with `expect_creates`: those count concern issues only.
        Mock::given(method("POST"))
            .and(path(issues_path.as_str()))
            .and(wiremock::matchers::body_partial_json(json!({"title": DASHBOARD_TITLE})))
            .respond_with(CreateIssue(Arc::clone(&issues)))
            .with_priority(2)
            .named("create the fleet dashboard")
            .mount(&server)
            .await;
        let events: IssueEvents = Arc::default();
        let on_issue = format!("^/repos/{REPO}/issues/[0-9]+/events$");
        Mock::given(method("GET")).and(path_regex(on_issue.as_str())).respond_with(ListEvents(Arc::clone(&events))).named("issue events").mount(&server).await;
        Self { server, issues, events }
    }

    /// `actor` applies `label` to issue `number` at `at` (RFC 3339): the label is on the issue
    /// and a `labeled` event records who and when.
    pub fn label(&self, number: u64, label: &str, actor: &str, at: &str) {
        let mut issues = self.issues.lock().unwrap();
        let issue = issues.iter_mut().find(|i| i.number == number).expect("the issue exists");
        if !issue.labels.iter().any(|l| l == label) {
            issue.labels.push(label.into());
        }
        self.events.lock().unwrap().push((number, "labeled", label.into(), actor.into(), at.into()));
    }

    /// Serves the collaborator permission endpoint: `(login, role)` with role `admin`,
    /// `maintain`, `write`, `triage` or `read`; other logins are answered 404.
    pub async fn permissions(&self, roles: &[(&str, &str)]) {
        let roles = roles.iter().map(|(u, r)| (u.to_ascii_lowercase(), r.to_string())).collect();
        let p = format!("^/repos/{REPO}/collaborators/[^/]+/permission$");
        Mock::given(method("GET")).and(path_regex(p.as_str())).respond_with(Permissions(roles)).named("collaborator permission").mount(&self.server).await;
    }

    /// Serves `GET /repos/o/r/pulls/{number}` in the documented pull-request shape: `number`,
    /// `state`, `html_url`, `merged`, `merged_at` (`None`: open, not merged).
    pub async fn pull(&self, number: u64, merged_at: Option<&str>) {
        let body = json!({
            "number": number,
            "state": if merged_at.is_some() { "closed" } else { "open" },
            "html_url": format!("https://github.example/{REPO}/pull/{number}"),
            "merged": merged_at.is_some(),
            "merged_at": merged_at,
            "closed_at": merged_at,
        });
        Mock::given(method("GET"))
            .and(path(format!("/repos/{REPO}/pulls/{number}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .named(format!("GET pull {number}"))
            .mount(&self.server)
            .await;
    }

    /// How many requests reached `GET` paths matching `pattern` (a regular expression).
    pub async fn gets_matching(&self, pattern: &str) -> usize {
        let re = regex::Regex::new(pattern).unwrap();
        self.requests().await.iter().filter(|r| r.method.as_str() == "GET" && re.is_match(r.url.path())).count()
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Serves issue comments (list and post) and returns what was posted.
    pub async fn comments(&self) -> Comments {
        let comments = Comments::default();
        let on_issue = format!("^/repos/{REPO}/issues/[0-9]+/comments$");
        for m in ["GET", "POST"] {
            Mock::given(method(m)).and(path_regex(on_issue.as_str())).respond_with(comments.clone()).mount(&self.server).await;
        }
        let edit = format!("^/repos/{REPO}/issues/comments/[0-9]+$");
        Mock::given(method("PATCH")).and(path_regex(edit.as_str())).respond_with(EditComment(comments.clone())).mount(&self.server).await;
        comments
    }

    /// Mounts issue creation with no expectation on how often (tests that count one kind of
    /// issue themselves, from [`FakeGithub::requests`]).
    pub async fn serve_creates(&self) {
        Mock::given(method("POST"))
            .and(path(format!("/repos/{REPO}/issues")))
            .respond_with(CreateIssue(Arc::clone(&self.issues)))
            .named(format!("POST /repos/{REPO}/issues (create concern issues, any number)"))
            .mount(&self.server)
            .await;
    }

    /// Mounts issue creation, verified to be called exactly `n` times.
    pub async fn expect_creates(&self, n: u64) {
        Mock::given(method("POST"))
            .and(path(format!("/repos/{REPO}/issues")))
            .respond_with(CreateIssue(Arc::clone(&self.issues)))
            .expect(n)
            .named(format!("POST /repos/{REPO}/issues (create)"))
            .mount(&self.server)
            .await;
    }

    /// Mounts adding labels (`POST …/issues/N/labels`) and assignees (`POST …/issues/N/assignees`)
    /// to an issue, verified to be called exactly `labels` and `assignees` times.
    pub async fn expect_label_and_assignee_adds(&self, labels: u64, assignees: u64) {
        for (what, n, is_assignees) in [("labels", labels, false), ("assignees", assignees, true)] {
            let p = format!("^/repos/{REPO}/issues/[0-9]+/{what}$");
            Mock::given(method("POST"))
                .and(path_regex(p.as_str()))
                .respond_with(AddToIssue { issues: Arc::clone(&self.issues), assignees: is_assignees })
                .expect(n)
                .named(format!("POST /repos/{REPO}/issues/N/{what}"))
                .mount(&self.server)
                .await;
        }
    }

    /// How many requests added labels (`what` = "labels") or assignees ("assignees") so far.
    pub async fn adds(&self, what: &str) -> usize {
        let p = regex::Regex::new(&format!("^/repos/{REPO}/issues/[0-9]+/{what}$")).unwrap();
        self.requests().await.iter().filter(|r| r.method.as_str() == "POST" && p.is_match(r.url.path())).count()
    }

    /// The next `times` creations answer `status` (ahead of the creating mock), verified.
    pub async fn fail_creates(&self, status: u16, times: u64) {
        Mock::given(method("POST"))
            .and(path(format!("/repos/{REPO}/issues")))
            .respond_with(ResponseTemplate::new(status).set_body_string("<html><body>bad gateway</body></html>"))
            .up_to_n_times(times)
            .expect(times)
            .with_priority(1)
            .named(format!("POST /repos/{REPO}/issues answering {status}"))
            .mount(&self.server)
            .await;
    }

    /// Every request that carries `token` is answered 401 "Bad credentials" (ahead of every other
    /// mock), as GitHub answers an expired, rotated or never-resolved token.
    pub async fn refuse_token(&self, token: &str) {
        struct Carries(String);
        impl wiremock::Match for Carries {
            fn matches(&self, request: &Request) -> bool {
                request.headers.get("authorization").and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains(&self.0))
            }
        }
        Mock::given(Carries(token.to_string()))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/rest",
                "status": "401"
            })))
            .with_priority(1)
            .named(format!("401 for token {token}"))
            .mount(&self.server)
            .await;
    }

    /// Puts an issue on the fake as if someone (a crashed earlier attempt) had opened it.
    pub fn seed(&self, title: &str, body: &str, labels: &[&str]) -> u64 {
        let mut issues = self.issues.lock().unwrap();
        let number = issues.len() as u64 + 1;
        issues.push(FakeIssue {
            number,
            title: title.into(),
            body: body.into(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            state: "open".into(),
            assignees: Vec::new(),
        });
        number
    }

    /// The concern issues (the fleet dashboard left out: see [`FakeGithub::dashboards`]).
    pub fn issues(&self) -> Vec<FakeIssue> {
        self.issues.lock().unwrap().iter().filter(|i| i.title != DASHBOARD_TITLE).cloned().collect()
    }

    /// The fleet dashboard issues (one is right).
    pub fn dashboards(&self) -> Vec<FakeIssue> {
        self.issues.lock().unwrap().iter().filter(|i| i.title == DASHBOARD_TITLE).cloned().collect()
    }

    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.expect("request recording is on")
    }

    /// How many issue creations were attempted (failed ones included).
    pub async fn create_calls(&self) -> usize {
        let p = format!("/repos/{REPO}/issues");
        self.requests().await.iter().filter(|r| r.method.as_str() == "POST" && r.url.path() == p && !String::from_utf8_lossy(&r.body).contains(DASHBOARD_TITLE)).count()
    }

    /// Every request went to an endpoint the fake serves (a request to anything else would be
    /// a new call the adapter makes that these tests do not know about).
    pub async fn assert_only_known_endpoints(&self) {
        let one = regex::Regex::new(&format!("^/repos/{REPO}/issues/[0-9]+$")).unwrap();
        for r in self.requests().await {
            let p = r.url.path();
            let known = matches!((r.method.as_str(), p), ("GET", _) if p == format!("/repos/{REPO}/issues") || p == "/search/issues" || one.is_match(p))
                || (r.method.as_str() == "POST" && p == format!("/repos/{REPO}/issues"))
                || (r.method.as_str() == "PATCH" && one.is_match(p));
            assert!(known, "unexpected GitHub call {} {}", r.method, r.url);
        }
    }
}

// ---------------------------------------------------------------- fake chat webhook

/// A Teams Workflows webhook on wiremock. Its URL carries a secret path and a `sig` query, as
/// real Workflows URLs do.
pub struct FakeChat {
    pub server: MockServer,
    pub secret_path: String,
    pub sig: String,
}

impl FakeChat {
    pub async fn start(secret_path: &str, sig: &str) -> Self {
        Self { server: MockServer::start().await, secret_path: secret_path.into(), sig: sig.into() }
    }

    /// The webhook URL (the value of the chat setting).
    pub fn url(&self) -> String {
        format!("{}/workflows/{}/triggers/manual/paths/invoke?api-version=1&sig={}", self.server.uri(), self.secret_path, self.sig)
    }

    fn path(&self) -> String {
        format!("/workflows/{}/triggers/manual/paths/invoke", self.secret_path)
    }

    /// Mounts the webhook answering 202 (as Workflows do), verified to be called `n` times.
    pub async fn expect_posts(&self, n: u64) {
        Mock::given(method("POST"))
            .and(path(self.path()))
            .respond_with(ResponseTemplate::new(202))
            .expect(n)
            .named("POST teams webhook")
            .mount(&self.server)
            .await;
    }

    /// The next `times` posts answer `status` with a body echoing the URL it was called on (as
    /// some proxies do), ahead of the accepting mock.
    pub async fn fail_posts(&self, status: u16, times: u64) {
        struct Echo(u16);
        impl Respond for Echo {
            fn respond(&self, req: &Request) -> ResponseTemplate {
                ResponseTemplate::new(self.0).set_body_string(format!("upstream failed for {}", req.url))
            }
        }
        Mock::given(method("POST"))
            .and(path(self.path()))
            .respond_with(Echo(status))
            .up_to_n_times(times)
            .expect(times)
            .with_priority(1)
            .named(format!("POST teams webhook answering {status}"))
            .mount(&self.server)
            .await;
    }

    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.expect("request recording is on")
    }

    /// The JSON payloads received.
    pub async fn payloads(&self) -> Vec<Value> {
        self.requests().await.iter().map(|r| serde_json::from_slice(&r.body).expect("a chat payload is JSON")).collect()
    }
}

// ---------------------------------------------------------------- mail

/// Waits (bounded, 5 s) until MailDev holds at least `n` messages to `address`, then a short
/// grace period so an unexpected extra one is seen too.
pub async fn mail_to(api: &str, address: &str, n: usize) -> Vec<Value> {
    crate::email_support::wait_for_messages(api, address, n).await
}

// ---------------------------------------------------------------- the ledger file

/// Every byte of the SQLite ledger (main file and WAL), lossily as text, for secret searches.
pub fn ledger_bytes(db: &Path) -> String {
    let mut all = Vec::new();
    for suffix in ["", "-wal", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        if let Ok(b) = std::fs::read(PathBuf::from(p)) {
            all.extend(b);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

// ---------------------------------------------------------------- one test's world

/// The token the e2e tests give the handler (a canary: the secret tests search for it).
pub const GITHUB_TOKEN: &str = "ghp_E2ECANARY0token0000000000000000000000";

/// Everything one exactly-once test needs: a working directory with the policy copy and the
/// ledger file, a fake GitHub, a fake Teams webhook, MailDev and a recipient of its own.
pub struct World {
    pub dir: tempfile::TempDir,
    pub github: FakeGithub,
    pub chat: FakeChat,
    pub recipient: String,
    pub smtp_url: String,
    pub smtp_api: String,
    pub policy: PathBuf,
    pub db: PathBuf,
}

impl World {
    /// Fails (does not skip) when MailDev is not running.
    pub async fn new(tag: &str) -> Self {
        let (smtp_url, smtp_api) = crate::email_support::maildev();
        let dir = tempfile::tempdir().unwrap();
        let recipient = unique_recipient(tag);
        let policy = policy_for(dir.path(), &recipient);
        let db = dir.path().join("ledger").join("cadence.db");
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
        let github = FakeGithub::start().await;
        let chat = FakeChat::start("2f6b0c1e9a8d4e7fb3c5a1d2e4f60718", "sigE2Ecanary0000").await;
        Self { dir, github, chat, recipient, smtp_url, smtp_api, policy, db }
    }

    /// The handler's whole environment: live (not dry-run), this world's ledger, policy and fakes.
    /// Notifications go out with the invocation that planned them (`CADENCE_DIGEST_QUIET_SECONDS=0`):
    /// these tests check what one delivery does; `tests/e2e_digest.rs` runs the default, where
    /// the `digest` timer sends what many invocations queued (use [`World::env_with_digest`]).
    pub fn env(&self) -> Env {
        self.env_with_digest().set("CADENCE_DIGEST_QUIET_SECONDS", "0")
    }

    /// [`World::env`] with the host's default digest queue (quiet period and cap as set).
    pub fn env_with_digest(&self) -> Env {
        Env::default()
            .set("CADENCE_DRY_RUN", "false")
            .set("CADENCE_STATE", format!("sqlite:{}", self.db.display()))
            .set("CADENCE_CONFIG", self.policy.display().to_string())
            .set("GITHUB_TOKEN", GITHUB_TOKEN)
            .set("GITHUB_API_URL", self.github.uri())
            .set("SMTP_URL", self.smtp_url.clone())
            .set("SMTP_FROM", "aks-cadence <cadence@e2e.example>")
            .set(TEAMS_SETTING, self.chat.url())
    }

    pub async fn start(&self) -> Handler {
        Handler::start(self.dir.path(), &self.env()).await
    }

    /// The messages MailDev holds for this world's recipient, once at least `n` arrived (5 s at
    /// most) plus a short grace period for extras.
    pub async fn mail(&self, n: usize) -> Vec<Value> {
        mail_to(&self.smtp_api, &self.recipient, n).await
    }

    /// How many messages this world's recipient has after a short grace period (400 ms, ended
    /// early when more than `expected` show up): for "nothing new arrived".
    pub async fn mail_count_settled(&self, expected: usize) -> usize {
        let mut got = 0;
        for _ in 0..8 {
            got = crate::email_support::messages_to(&self.smtp_api, &self.recipient).await.len();
            if got > expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        got
    }
}
