//! `handler sweep --dry-run` through the real binary with the two credentials that talk to Entra
//! directly (`client_secret`, `workload_identity`), against a loopback HTTPS authority.
//!
//! `azure_identity` insists on an `https://` authority. Nothing test-only is added to production:
//! the authority is the documented `AZURE_AUTHORITY_HOST`, and the test CA is trusted through
//! `SSL_CERT_FILE`, which our reqwest client honours on Linux (reqwest 0.13 `rustls-no-provider`
//! → rustls-platform-verifier → `rustls_native_certs::load_native_certs`, which reads the PEM file
//! `SSL_CERT_FILE` names instead of the system store).

mod arm_common;
mod certs_support;
mod fleet_support;

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use certs_support::{Ca, leaf};
use fleet_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wiremock::MockServer;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "00000000-1111-2222-3333-444444444444";
const SECRET: &str = "s3cret-client-secret-value";
const ENTRA_TOKEN: &str = "entra-token-for-arm";
/// Looks like the projected service account token AKS writes (header.payload.signature).
const ASSERTION: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.eyJhdWQiOiJhcGk6Ly9BenVyZUFEVG9rZW5FeGNoYW5nZSIsInN1YiI6InN5c3RlbTpzZXJ2aWNlYWNjb3VudDpjYWRlbmNlOmNhZGVuY2UifQ.c2lnbmF0dXJl";

/// One request the fake authority received: request line and form body.
#[derive(Debug, Clone)]
struct Received {
    line: String,
    body: String,
}

/// A loopback HTTPS token endpoint (HTTP/1.1) serving a certificate for localhost/127.0.0.1
/// issued by `ca`. Answers every request with an Entra token response. It runs on the test's
/// runtime, so the tests are multi-threaded (the binary is awaited with a blocking call).
async fn fake_authority(ca: &Ca) -> (u16, Arc<Mutex<Vec<Received>>>) {
    let server = leaf("login.localhost", (2024, 1, 1, 0), (2040, 1, 1, 0), ca);
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![server.der.clone(), ca.der()], server.key_der())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head_end, length) = loop {
                    let Ok(n) = tls.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                            .unwrap_or(0);
                        break (i + 4, length);
                    }
                };
                while buf.len() < head_end + length {
                    let Ok(n) = tls.read(&mut chunk).await else { return };
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                log.lock().unwrap().push(Received { line: head.lines().next().unwrap_or("").to_string(), body });
                let answer = serde_json::json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": ENTRA_TOKEN}).to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, received)
}

fn sweep(dir: &Path, arm: &MockServer, authority_port: u16, ca_file: &Path, credential_env: &[(&str, &str)]) -> Output {
    std::fs::write(dir.join("cadence.toml"), "[defaults.upgrade]\npatch = \"auto\"\n").unwrap();
    let authority = format!("https://localhost:{authority_port}");
    std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .envs([
            ("ARM_ENDPOINT", arm.uri().as_str()),
            ("AZURE_AUTHORITY_HOST", authority.as_str()),
            ("SSL_CERT_FILE", ca_file.to_str().unwrap()),
            ("AZURE_TENANT_ID", TENANT),
            ("AZURE_CLIENT_ID", CLIENT_ID),
            ("CADENCE_SUBSCRIPTIONS", arm_common::SUB),
            ("CADENCE_CONFIG", "cadence.toml"),
            ("CADENCE_STATE", "sqlite:cadence.db"),
        ])
        .envs(credential_env.iter().copied())
        .args(["sweep", "--dry-run"])
        .output()
        .expect("run handler sweep")
}

/// The form fields of a urlencoded body.
fn form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}
fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Runs a dry-run sweep with `credential_env` and returns the token requests the authority got
/// (after checking ARM saw only `Bearer ENTRA_TOKEN` and the run succeeded), plus the output.
async fn run(credential_env: &[(&str, &str)]) -> (Vec<Received>, Output, Vec<wiremock::Request>) {
    let ca = Ca::new("test entra ca", (2024, 1, 1, 0), (2040, 1, 1, 0));
    let (port, received) = fake_authority(&ca).await;
    let arm = MockServer::start().await;
    mount_fleet_for(&arm, &[FleetCluster::new("prod", "1.24.6", OLD_IMAGE, vec!["1.24.9", "1.25.5"])], ENTRA_TOKEN).await;
    expect_no_cluster_writes(&arm).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).unwrap();
    let mut env: Vec<(&str, &str)> = credential_env.to_vec();
    let token_file = dir.path().join("azure-identity-token");
    let token_file_str = token_file.to_str().unwrap().to_string();
    if credential_env.iter().any(|(k, v)| *k == "AZURE_CREDENTIAL" && *v == "workload_identity") {
        std::fs::write(&token_file, ASSERTION).unwrap();
        env.push(("AZURE_FEDERATED_TOKEN_FILE", token_file_str.as_str()));
    }
    let out = sweep(dir.path(), &arm, port, &ca_file, &env);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status.code());
    assert!(stderr.contains("swept 1 cluster(s) from Resource Graph"), "{stderr}");
    let arm_requests = arm.received_requests().await.unwrap();
    assert!(!arm_requests.is_empty());
    for r in &arm_requests {
        let auth = r.headers.get("authorization").map(|v| v.to_str().unwrap().to_string());
        assert_eq!(auth.as_deref(), Some(format!("Bearer {ENTRA_TOKEN}").as_str()), "{} {}", r.method, r.url);
    }
    let got = received.lock().unwrap().clone();
    (got, out, arm_requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secret_gets_its_arm_token_from_the_authority_with_the_client_credentials_grant() {
    let (token_requests, out, arm_requests) = run(&[("AZURE_CREDENTIAL", "client_secret"), ("AZURE_CLIENT_SECRET", SECRET)]).await;
    assert_eq!(token_requests.len(), 1, "one token for the whole run (cached): {token_requests:#?}");
    let req = &token_requests[0];
    assert_eq!(req.line, format!("POST /{TENANT}/oauth2/v2.0/token HTTP/1.1"));
    let f = form(&req.body);
    assert_eq!(field(&f, "grant_type"), Some("client_credentials"));
    assert_eq!(field(&f, "client_id"), Some(CLIENT_ID));
    assert_eq!(field(&f, "client_secret"), Some(SECRET));
    let scope = field(&f, "scope").unwrap();
    assert!(scope.ends_with("/.default") && scope.starts_with("http://127.0.0.1:"), "{scope}");

    // The secret went to the authority and nowhere else: not to ARM, not to any output.
    for r in &arm_requests {
        let all = format!("{} {:?} {}", r.url, r.headers, String::from_utf8_lossy(&r.body));
        assert!(!all.contains(SECRET), "the secret reached ARM: {all}");
    }
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(SECRET), "the secret was printed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_exchanges_the_federated_token_for_an_arm_token() {
    let (token_requests, out, arm_requests) = run(&[("AZURE_CREDENTIAL", "workload_identity")]).await;
    assert_eq!(token_requests.len(), 1, "{token_requests:#?}");
    let req = &token_requests[0];
    assert_eq!(req.line, format!("POST /{TENANT}/oauth2/v2.0/token HTTP/1.1"));
    let f = form(&req.body);
    assert_eq!(field(&f, "grant_type"), Some("client_credentials"));
    assert_eq!(field(&f, "client_id"), Some(CLIENT_ID));
    assert_eq!(field(&f, "client_assertion_type"), Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
    assert_eq!(field(&f, "client_assertion"), Some(ASSERTION));
    assert_eq!(field(&f, "client_secret"), None);
    assert!(field(&f, "scope").unwrap().ends_with("/.default"));
    for r in &arm_requests {
        assert!(!String::from_utf8_lossy(&r.body).contains(ASSERTION) && !format!("{:?}", r.headers).contains(ASSERTION));
    }
    for stream in [&out.stdout, &out.stderr] {
        assert!(!String::from_utf8_lossy(stream).contains(ASSERTION), "the assertion was printed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authority_whose_certificate_is_not_trusted_gets_no_secret() {
    // Same run, but SSL_CERT_FILE names a different CA: the handshake fails, no request body
    // (and so no secret) reaches the authority, ARM gets nothing, and the run says why.
    let ca = Ca::new("test entra ca", (2024, 1, 1, 0), (2040, 1, 1, 0));
    let other = Ca::new("someone else", (2024, 1, 1, 0), (2040, 1, 1, 0));
    let (port, received) = fake_authority(&ca).await;
    let arm = MockServer::start().await;
    mount_fleet_for(&arm, &[FleetCluster::new("prod", "1.24.6", OLD_IMAGE, vec!["1.24.9"])], ENTRA_TOKEN).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, other.pem()).unwrap();
    let out = sweep(dir.path(), &arm, port, &ca_file, &[("AZURE_CREDENTIAL", "client_secret"), ("AZURE_CLIENT_SECRET", SECRET)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(received.lock().unwrap().is_empty());
    assert!(arm.received_requests().await.unwrap().is_empty(), "ARM was called without a token");
    assert!(!stderr.contains(SECRET) && !String::from_utf8_lossy(&out.stdout).contains(SECRET));
    assert!(stderr.contains("client_secret"), "the failing credential is named: {stderr}");
}

