//! Azurite for the blob ledger tests: reads `CADENCE_TEST_AZURITE_BLOB`, signs an account SAS
//! with the emulator's well-known (public) key, and hands out fresh containers.

#![allow(dead_code)] // each test crate uses a different part

use std::sync::atomic::{AtomicUsize, Ordering};

use aks_cadence::store::blob::BlobLedger;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Azurite's account and key, published in its README (not a secret).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const HOW_TO_START: &str = "start Azurite first: `source scripts/services.sh && start_services` (or `bash scripts/test.sh`), \
which installs npm azurite@3.35.0 into .tools/ and exports CADENCE_TEST_AZURITE_BLOB=http://127.0.0.1:<port>/devstoreaccount1";

/// The Blob endpoint, e.g. `http://127.0.0.1:10000/devstoreaccount1`. Panics (the test fails)
/// when unset or unreachable — these tests never skip.
pub fn endpoint() -> String {
    let ep = std::env::var("CADENCE_TEST_AZURITE_BLOB")
        .unwrap_or_else(|_| panic!("CADENCE_TEST_AZURITE_BLOB is not set; {HOW_TO_START}"));
    let url = url::Url::parse(&ep).unwrap_or_else(|e| panic!("CADENCE_TEST_AZURITE_BLOB=`{ep}` is not a URL ({e}); {HOW_TO_START}"));
    let addr = url.socket_addrs(|| None).ok().and_then(|a| a.into_iter().next());
    let reachable = addr.is_some_and(|a| std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(2)).is_ok());
    assert!(reachable, "Azurite is not reachable at CADENCE_TEST_AZURITE_BLOB={ep}; {HOW_TO_START}");
    ep.trim_end_matches('/').to_string()
}

/// An account SAS (blob service; service, container and object; read/write/delete/list/add/
/// create/update/process) signed with the emulator key. String-to-sign per the "Create an
/// account SAS" spec for versions ≥ 2020-12-06 (empty encryption scope line at the end).
pub fn account_sas() -> String {
    let (sv, sp, ss, srt, se, spr) = ("2021-08-06", "rwdlacup", "b", "sco", "2099-01-01T00:00:00Z", "https,http");
    let to_sign = format!("{ACCOUNT}\n{sp}\n{ss}\n{srt}\n\n{se}\n\n{spr}\n{sv}\n\n");
    let key = base64::engine::general_purpose::STANDARD.decode(ACCOUNT_KEY).expect("well-known key is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("sv", sv).append_pair("ss", ss).append_pair("srt", srt).append_pair("sp", sp);
    q.append_pair("se", se).append_pair("spr", spr).append_pair("sig", &sig);
    q.finish()
}

/// A container name unique to this process and call (tests share one Azurite).
pub fn unique_container(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{prefix}-{}-{n}-{nanos}", std::process::id()).to_ascii_lowercase()
}

/// `blob:` URL (without the `blob:`) of a container with the SAS attached.
pub fn container_url(container: &str) -> String {
    format!("{}/{container}?{}", endpoint(), account_sas())
}

/// A ledger on a fresh, created container; returns it with its URL (to open more clients).
pub async fn fresh_ledger(prefix: &str) -> (BlobLedger, String) {
    let url = container_url(&unique_container(prefix));
    let ledger = BlobLedger::new(&url, None).expect("ledger opens");
    ledger.ensure_container().await.expect("container is created in Azurite");
    (ledger, url)
}

/// Deletes the container at `container_url` (a URL from [`container_url`]/[`fresh_ledger`]) with
/// its blobs. Azurite scans every blob of the account on many operations, so tests that write
/// thousands of records delete them when done to keep the emulator fast for the others.
pub async fn delete_container(container_url: &str) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut url = url::Url::parse(container_url).expect("container URL");
    url.query_pairs_mut().append_pair("restype", "container");
    let response = reqwest::Client::new()
        .delete(url)
        .header("x-ms-version", "2021-08-06")
        .send()
        .await
        .expect("Azurite answers the container deletion");
    assert_eq!(response.status().as_u16(), 202, "deleting the test container: {}", response.text().await.unwrap_or_default());
}

/// Several `handler` processes serving the custom-handler protocol, each on its own loopback
/// port, all with the same environment (e.g. one shared `CADENCE_STATE=blob:…` container): the
/// harness for the scale-out proof (`tests/scaleout_proof.rs`). Processes are killed on drop.
pub struct HandlerFleet {
    pub ports: Vec<u16>,
    children: Vec<std::process::Child>,
}

impl HandlerFleet {
    /// Starts `n` processes of `binary` with `env` (plus `FUNCTIONS_CUSTOMHANDLER_PORT`) and waits
    /// until each answers `GET /` (any HTTP answer, the Functions host's readiness rule).
    pub fn start(binary: &std::path::Path, n: usize, env: &[(&str, String)]) -> Self {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        Self::start_each(binary, n, |_| env.clone())
    }

    /// Like [`HandlerFleet::start`], with each process's environment from `env_of(i)` (e.g. a
    /// different `GITHUB_API_URL` per process, so a fake GitHub can tell who called).
    pub fn start_each(binary: &std::path::Path, n: usize, env_of: impl Fn(usize) -> Vec<(String, String)>) -> Self {
        let mut fleet = Self { ports: Vec::new(), children: Vec::new() };
        for i in 0..n {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut cmd = std::process::Command::new(binary);
            cmd.env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::inherit());
            for (k, v) in env_of(i) {
                cmd.env(k, v);
            }
            fleet.children.push(cmd.spawn().expect("handler starts"));
            fleet.ports.push(port);
        }
        for i in 0..n {
            fleet.wait_ready(i, std::time::Duration::from_secs(30));
        }
        fleet
    }

    /// `http://127.0.0.1:<port>` of process `i`.
    pub fn base_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.ports[i])
    }

    /// The OS process id of process `i` (it names the process in ledger claims: `<host>:<pid>`).
    pub fn pid(&self, i: usize) -> u32 {
        self.children[i].id()
    }

    /// Kills process `i` at once (SIGKILL: no shutdown, no cleanup — a crashed instance) and
    /// reaps it.
    pub fn kill(&mut self, i: usize) {
        self.children[i].kill().expect("the handler process can be killed");
        let status = self.children[i].wait().expect("the killed handler is reaped");
        assert!(!status.success(), "handler {i} was killed, not stopped cleanly: {status}");
    }

    /// Panics if any process has exited (a crash the test did not cause).
    pub fn assert_running(&mut self, except: &[usize]) {
        for (i, c) in self.children.iter_mut().enumerate() {
            if except.contains(&i) {
                continue;
            }
            if let Some(status) = c.try_wait().unwrap() {
                panic!("handler {i} exited on its own: {status}");
            }
        }
    }

    fn wait_ready(&mut self, i: usize, within: std::time::Duration) {
        use std::io::{Read, Write};
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.ports[i])) {
                s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
                let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
                let mut buf = Vec::new();
                let _ = s.read_to_end(&mut buf);
                if buf.starts_with(b"HTTP/1.") {
                    return;
                }
            }
            if let Some(status) = self.children[i].try_wait().unwrap() {
                panic!("handler {i} exited during start-up: {status}");
            }
            assert!(std::time::Instant::now() < deadline, "handler {i} did not answer GET / within {within:?}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for HandlerFleet {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
