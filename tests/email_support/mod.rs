//! Shared by the email and chat tests: hand-built actions, settings, log capture, golden
//! files, the MailDev client and a scripted SMTP server on loopback.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aks_cadence::action::{Action, ActionKind, ChatKind, Stage};
use aks_cadence::domain::{ClusterFacts, ClusterId, Concern, ConcernKind, OfferedVersion, Origin, Signal, SignalKind};
use aks_cadence::plan::WindowStatus;
use aks_cadence::settings::Settings;
use jiff::Timestamp;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub const SUB: &str = "6f1c2a70-0000-4000-8000-00000000c0de";

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

pub fn cluster(name: &str, rg: &str) -> ClusterId {
    ClusterId::from_parts(SUB, rg, name)
}

fn signal(cluster: &ClusterId, kind: SignalKind, version: &str) -> Signal {
    Signal {
        cluster: cluster.clone(),
        facts: ClusterFacts { location: Some("westeurope".into()), kubernetes_version: Some(version.into()), ..Default::default() },
        kind,
        observed_at: ts("2026-01-05T06:00:00Z"),
        origin: Origin::Sweep { run_id: "run-1".into() },
    }
}

/// A node-image notice for `name` (pool `nodepool1`).
pub fn node_image(name: &str, how: ActionKind) -> Action {
    let c = cluster(name, "rg-fleet");
    let sig = signal(
        &c,
        SignalKind::NodeImageAvailable {
            pool: "nodepool1".into(),
            current: "AKSUbuntu-2204gen2containerd-202501.01.0".into(),
            latest: "AKSUbuntu-2204gen2containerd-202502.03.0".into(),
        },
        "1.30.7",
    );
    let mut a = Action::new(
        Concern::new(c, ConcernKind::NodeImage, "nodepool1"),
        Stage::Notice,
        how,
        format!("{name}: nodepool1 node image 202501.01.0 → 202502.03.0 available"),
        sig,
    );
    a.deadline = Some(ts("2026-02-01T00:00:00Z"));
    a.window = Some(WindowStatus::Closed { next: Some(ts("2026-01-10T02:00:00Z")) });
    a
}

/// A Kubernetes patch-upgrade notice: 1.30.4 → 1.30.7 offered.
pub fn upgrade(name: &str, rg: &str, stage: Stage, how: ActionKind) -> Action {
    let c = cluster(name, rg);
    let sig = signal(
        &c,
        SignalKind::UpgradesOffered {
            current: "1.30.4".into(),
            offered: vec![
                OfferedVersion { version: "1.30.7".into(), is_preview: false },
                OfferedVersion { version: "1.31.2".into(), is_preview: false },
            ],
        },
        "1.30.4",
    );
    let mut a = Action::new(
        Concern::new(c, ConcernKind::KubernetesUpgrade, "1.30"),
        stage,
        how,
        format!("{name}: upgrade 1.30.4 → 1.30.7 (patch) available"),
        sig,
    );
    a.deadline = Some(ts("2026-01-31T00:00:00Z"));
    a.window = Some(WindowStatus::Open { until: ts("2026-01-05T08:00:00Z") });
    a
}

/// A support-ending notice with a summary that carries markup (HTML/Slack escaping).
pub fn support_ending(name: &str, how: ActionKind) -> Action {
    let c = cluster(name, "rg-legacy");
    let sig = signal(
        &c,
        SignalKind::SupportEnding {
            kubernetes_version: "1.29.9".into(),
            eol_date: Some(ts("2026-03-01T00:00:00Z")),
            support_type: Some("KubernetesOfficial".into()),
            eol_source: None,
        },
        "1.29.9",
    );
    let mut a = Action::new(
        Concern::new(c, ConcernKind::Support, "1.29"),
        Stage::Reminder,
        how,
        format!("{name}: 1.29 leaves support on 2026-03-01 <script>alert('x')</script> & <!channel>"),
        sig,
    );
    a.deadline = Some(ts("2026-03-01T00:00:00Z"));
    a
}

pub fn email_to(to: &[&str]) -> ActionKind {
    ActionKind::Email { to: to.iter().map(|s| s.to_string()).collect() }
}

pub fn chat(kind: ChatKind, setting: &str) -> ActionKind {
    ActionKind::Chat { chat: kind, url_setting: setting.into() }
}

pub fn settings(pairs: &[(&str, &str)]) -> Settings {
    let env: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::from_map(env).expect("valid test settings")
}

/// A unique mailbox per test so tests sharing one MailDev never see each other's mail.
pub fn unique_address(tag: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{tag}-{n}@ops.example.com")
}

// ---------------------------------------------------------------- services

const HOW_TO_START: &str = "start it with: source scripts/services.sh && start_services (or run bash scripts/test.sh)";

/// The MailDev SMTP URL and REST base, or a failure naming the fix (never a skip).
pub fn maildev() -> (String, String) {
    let url = std::env::var("CADENCE_TEST_SMTP_URL")
        .unwrap_or_else(|_| panic!("CADENCE_TEST_SMTP_URL is not set: the test SMTP server is not running; {HOW_TO_START}"));
    let api = std::env::var("CADENCE_TEST_SMTP_API")
        .unwrap_or_else(|_| panic!("CADENCE_TEST_SMTP_API is not set: the test SMTP server is not running; {HOW_TO_START}"));
    (url, api.trim_end_matches('/').to_string())
}

/// An HTTP client for test helpers (reqwest is built without a default crypto provider).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::new()
}

/// Every message MailDev holds whose envelope includes `address`.
pub async fn messages_to(api: &str, address: &str) -> Vec<serde_json::Value> {
    let all: Vec<serde_json::Value> = http()
        .get(format!("{api}/email"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("MailDev REST at {api} does not answer ({e}); {HOW_TO_START}"))
        .json()
        .await
        .expect("MailDev answers a JSON list");
    all.into_iter()
        .filter(|m| {
            m["envelope"]["to"]
                .as_array()
                .is_some_and(|to| to.iter().any(|t| t["address"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(address))))
        })
        .collect()
}

/// Waits (bounded) until at least `n` messages to `address` arrived, then waits a little more
/// so that an unexpected extra message would be seen too.
pub async fn wait_for_messages(api: &str, address: &str, n: usize) -> Vec<serde_json::Value> {
    for _ in 0..100 {
        let got = messages_to(api, address).await;
        if got.len() >= n {
            tokio::time::sleep(Duration::from_millis(300)).await;
            return messages_to(api, address).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    messages_to(api, address).await
}

/// The raw RFC 5322 source of a message.
pub async fn message_source(api: &str, id: &str) -> String {
    http().get(format!("{api}/email/{id}/source")).send().await.expect("source").text().await.expect("text")
}

// ---------------------------------------------------------------- log capture

thread_local! {
    static CAPTURE: std::cell::RefCell<Option<Arc<Mutex<Vec<u8>>>>> = const { std::cell::RefCell::new(None) };
}

/// Writes to the capture buffer of the current thread, if a test installed one.
struct ThreadWriter;

impl Write for ThreadWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURE.with(|c| {
            if let Some(b) = c.borrow().as_ref() {
                b.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures every tracing event (all levels, all crates) logged on the current thread.
///
/// One global subscriber (installed once per test binary) writes into the buffer of the
/// thread that logs. A global default rather than `set_default` per test: tracing caches
/// per-callsite interest globally, and thread-scoped subscribers in parallel tests race on that
/// cache (an event can be filtered out before the test's subscriber is registered).
/// `#[tokio::test]` runs on one thread, so tasks it spawns log into the same buffer.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

/// Stops capturing on drop.
pub struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CAPTURE.with(|c| c.borrow_mut().take());
    }
}

impl Logs {
    pub fn capture() -> (Self, CaptureGuard) {
        static INIT: std::sync::Once = std::sync::Once::new();
        INIT.call_once(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(|| ThreadWriter)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in tests");
        });
        let logs = Self::default();
        CAPTURE.with(|c| *c.borrow_mut() = Some(logs.0.clone()));
        (logs, CaptureGuard)
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

// ---------------------------------------------------------------- golden files

/// Compares `actual` with `tests/fixtures/notifications/<name>`. `UPDATE_SNAPSHOTS=1` rewrites
/// the file instead (then review the diff).
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notifications").join(name);
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("snapshot {} is missing; create it with UPDATE_SNAPSHOTS=1 and review it", path.display()));
    assert!(expected == actual, "snapshot {name} differs (UPDATE_SNAPSHOTS=1 rewrites it; review the diff)\n--- expected\n{expected}\n--- actual\n{actual}");
}

// ---------------------------------------------------------------- scripted SMTP server

/// Replies a scripted SMTP server gives. Multi-line EHLO is built from `extensions`.
#[derive(Clone)]
pub struct SmtpScript {
    /// `None`: accept the connection and never say anything (a hung server).
    pub greeting: Option<&'static str>,
    pub extensions: Vec<&'static str>,
    pub auth: &'static str,
    pub mail: &'static str,
    pub rcpt: &'static str,
    pub data_end: &'static str,
}

impl Default for SmtpScript {
    fn default() -> Self {
        Self {
            greeting: Some("220 fake.example.com ESMTP ready"),
            extensions: vec!["AUTH PLAIN", "8BITMIME"],
            auth: "235 2.7.0 Authentication successful",
            mail: "250 2.1.0 OK",
            rcpt: "250 2.1.5 OK",
            data_end: "250 2.0.0 OK queued",
        }
    }
}

/// How a scripted server uses TLS.
#[derive(Clone)]
pub enum ServerTls {
    Plain,
    /// TLS from the first byte (smtps).
    Implicit(tokio_rustls::TlsAcceptor),
    /// Offers STARTTLS and upgrades on it.
    StartTls(tokio_rustls::TlsAcceptor),
}

/// A TLS acceptor with a fresh self-signed certificate for 127.0.0.1, and that certificate
/// (DER) for a client that should trust it.
pub fn self_signed_acceptor() -> (tokio_rustls::TlsAcceptor, Vec<u8>) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("certificate");
    let der = ck.cert.der().to_vec();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .expect("server config");
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), der)
}

/// What one connection saw.
#[derive(Default)]
struct Seen {
    commands: Vec<String>,
    data: String,
    /// Whether DATA arrived over TLS.
    data_encrypted: bool,
    /// Whether AUTH arrived in clear text.
    auth_in_clear: bool,
}

/// An SMTP server on 127.0.0.1 that answers from a script and records what it was sent.
pub struct ScriptedSmtp {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl ScriptedSmtp {
    pub async fn start(script: SmtpScript) -> Self {
        Self::start_with(script, ServerTls::Plain).await
    }

    pub async fn start_with(script: SmtpScript, tls: ServerTls) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (script, seen, tls) = (script.clone(), shared.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        ServerTls::Plain => serve(Box::new(sock), script, seen, None, false, true).await,
                        ServerTls::StartTls(acc) => serve(Box::new(sock), script, seen, Some(acc), false, true).await,
                        ServerTls::Implicit(acc) => {
                            if let Ok(tls) = acc.accept(sock).await {
                                serve(Box::new(tls), script, seen, None, true, true).await
                            }
                        }
                    }
                });
            }
        });
        Self { addr, seen }
    }
    /// `smtp://127.0.0.1:PORT?tls=none`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.addr.port())
    }
    /// Every command line received (AUTH included: that is the wire, not our logs).
    pub fn commands(&self) -> Vec<String> {
        self.seen.lock().unwrap().commands.clone()
    }
    /// The message content received after DATA.
    pub fn data(&self) -> String {
        self.seen.lock().unwrap().data.clone()
    }
    pub fn data_encrypted(&self) -> bool {
        self.seen.lock().unwrap().data_encrypted
    }
    pub fn auth_in_clear(&self) -> bool {
        self.seen.lock().unwrap().auth_in_clear
    }
}

/// Any byte stream (plain TCP or TLS), boxed so STARTTLS can wrap it without recursing types.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

fn serve(
    stream: Box<dyn Io>,
    script: SmtpScript,
    seen: Arc<Mutex<Seen>>,
    starttls: Option<tokio_rustls::TlsAcceptor>,
    encrypted: bool,
    greet: bool,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    Box::pin(async move {
        let (r, mut w) = tokio::io::split(stream);
        let mut lines = BufReader::new(r).lines();
        let say = |s: &str| format!("{s}\r\n");
        if greet {
            let Some(greeting) = script.greeting else {
                // Hold the connection open, silent, until the client gives up.
                while let Ok(Some(_)) = lines.next_line().await {}
                return;
            };
            if w.write_all(say(greeting).as_bytes()).await.is_err() || !greeting.starts_with('2') {
                return;
            }
        }
        while let Ok(Some(line)) = lines.next_line().await {
            seen.lock().unwrap().commands.push(line.clone());
            let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            let reply = match verb.as_str() {
                "EHLO" => {
                    let mut ext = script.extensions.clone();
                    if starttls.is_some() && !encrypted {
                        ext.push("STARTTLS");
                    }
                    let mut r = String::from(if ext.is_empty() { "250 fake.example.com\r\n" } else { "250-fake.example.com\r\n" });
                    for (i, e) in ext.iter().enumerate() {
                        let sep = if i + 1 == ext.len() { ' ' } else { '-' };
                        r.push_str(&format!("250{sep}{e}\r\n"));
                    }
                    r
                }
                "STARTTLS" if starttls.is_some() && !encrypted => {
                    if w.write_all(say("220 2.0.0 Ready to start TLS").as_bytes()).await.is_err() {
                        return;
                    }
                    let stream = lines.into_inner().into_inner().unsplit(w);
                    let acceptor = starttls.expect("checked");
                    if let Ok(tls) = acceptor.accept(stream).await {
                        // The client speaks first after STARTTLS (EHLO again).
                        serve(Box::new(tls), script, seen, None, true, false).await;
                    }
                    return;
                }
                "HELO" | "RSET" | "NOOP" => say("250 OK"),
                "AUTH" => {
                    if !encrypted {
                        seen.lock().unwrap().auth_in_clear = true;
                    }
                    say(script.auth)
                }
                "MAIL" => say(script.mail),
                "RCPT" => say(script.rcpt),
                "DATA" => {
                    if w.write_all(say("354 End data with <CR><LF>.<CR><LF>").as_bytes()).await.is_err() {
                        return;
                    }
                    let mut body = String::new();
                    while let Ok(Some(l)) = lines.next_line().await {
                        if l == "." {
                            break;
                        }
                        body.push_str(&l);
                        body.push('\n');
                    }
                    let mut s = seen.lock().unwrap();
                    s.data.push_str(&body);
                    s.data_encrypted = encrypted;
                    drop(s);
                    say(script.data_end)
                }
                "QUIT" => {
                    let _ = w.write_all(say("221 Bye").as_bytes()).await;
                    return;
                }
                _ => say("502 5.5.2 Command not recognized"),
            };
            if w.write_all(reply.as_bytes()).await.is_err() {
                return;
            }
        }
    })
}

