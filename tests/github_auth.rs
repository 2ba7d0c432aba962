//! Authentication: the GitHub App installation-token flow, settings errors, and the canary
//! secret that must never appear anywhere but the `Authorization` header.

mod github_common;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use aks_cadence::action::{ActionKind, Stage};
use aks_cadence::actions::Actuator;
use aks_cadence::actions::github::GithubActuator;
use aks_cadence::error::ActionError;
use aks_cadence::settings::Settings;
use github_common::*;

const APP_ID: u64 = 123456;
const INSTALLATION: u64 = 678;
const TOKENS: &str = "/app/installations/678/access_tokens";

struct AppKey {
    private_pem: String,
    public_pem: String,
}

/// One RSA key for the whole test binary (generating 2048-bit keys in a debug build is slow).
fn app_key() -> &'static AppKey {
    static KEY: std::sync::OnceLock<AppKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
        AppKey { private_pem: kp.serialize_pem(), public_pem: kp.public_key_pem() }
    })
}

fn app_settings(api: &str, key: &AppKey) -> Settings {
    let env: BTreeMap<String, String> = [
        ("GITHUB_API_URL", api.to_string()),
        ("GITHUB_APP_ID", APP_ID.to_string()),
        ("GITHUB_APP_PRIVATE_KEY", key.private_pem.clone()),
        ("GITHUB_APP_INSTALLATION_ID", INSTALLATION.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Settings::from_map(env).expect("settings")
}

/// Matches a request whose bearer token is a JWT signed with the App's key, issued by the App,
/// valid for at most ten minutes (GitHub's limit).
struct SignedByApp {
    public_pem: String,
}

impl Match for SignedByApp {
    fn matches(&self, request: &Request) -> bool {
        let Some(token) = request.headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")) else {
            return false;
        };
        let key = DecodingKey::from_rsa_pem(self.public_pem.as_bytes()).expect("public key");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp"]); // `iss` is numeric: checked below
        let data = match jsonwebtoken::decode::<Value>(token, &key, &validation) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("JWT rejected: {e}");
                return false;
            }
        };
        let c = data.claims;
        let (iat, exp) = (c["iat"].as_i64().unwrap_or(0), c["exp"].as_i64().unwrap_or(0));
        c["iss"].as_u64() == Some(APP_ID) && exp > iat && exp - iat <= 600
    }
}

fn token_response(token: &str, valid_for_s: i64) -> ResponseTemplate {
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(valid_for_s);
    ResponseTemplate::new(201).set_body_json(json!({ "token": token, "expires_at": expires.to_string(), "permissions": { "issues": "write", "contents": "write", "pull_requests": "write", "metadata": "read" }, "repository_selection": "selected" }))
}

fn bearer(token: &str) -> wiremock::matchers::HeaderExactMatcher {
    header("authorization", format!("Bearer {token}").as_str())
}

#[tokio::test]
async fn a_github_app_mints_an_installation_token_with_a_signed_jwt_and_then_uses_it() {
    let server = MockServer::start().await;
    let key = app_key();
    Mock::given(method("POST")).and(path(TOKENS)).and(SignedByApp { public_pem: key.public_pem.clone() }).respond_with(token_response("ghs_installation1", 3600)).expect(1).mount(&server).await;
    Mock::given(method("GET")).and(path("/repos/platform/ops/issues")).and(bearer("ghs_installation1")).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).expect(2).mount(&server).await;
    Mock::given(method("GET")).and(path("/search/issues")).and(bearer("ghs_installation1")).respond_with(ResponseTemplate::new(200).set_body_json(json!({ "items": [] }))).expect(2).mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/repos/platform/ops/issues"))
        .and(bearer("ghs_installation1"))
        .respond_with(ResponseTemplate::new(201).set_body_json(issue_json(&server.uri(), ISSUE_REPO, 42, "open", "t", "b")))
        .expect(2)
        .mount(&server)
        .await;
    let gh = GithubActuator::new(&app_settings(&server.uri(), key), MemLedger::new()).expect("actuator");
    let mut second = notice();
    second.concern.target = "1.31".into();

    let results = gh.perform(&[notice(), second]).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

#[tokio::test]
async fn an_installation_token_close_to_its_expiry_is_refreshed_before_use() {
    let server = MockServer::start().await;
    let key = app_key();
    let signed = || SignedByApp { public_pem: key.public_pem.clone() };
    Mock::given(method("POST")).and(path(TOKENS)).and(signed()).respond_with(token_response("ghs_short", 10)).up_to_n_times(1).expect(1).with_priority(1).mount(&server).await;
    Mock::given(method("POST")).and(path(TOKENS)).and(signed()).respond_with(token_response("ghs_long", 3600)).expect(1).with_priority(2).mount(&server).await;
    Mock::given(method("GET")).and(path("/repos/platform/ops/issues")).and(bearer("ghs_short")).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).expect(1).mount(&server).await;
    Mock::given(method("GET")).and(path("/search/issues")).and(bearer("ghs_long")).respond_with(ResponseTemplate::new(200).set_body_json(json!({ "items": [] }))).expect(1).mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/repos/platform/ops/issues"))
        .and(bearer("ghs_long"))
        .respond_with(ResponseTemplate::new(201).set_body_json(issue_json(&server.uri(), ISSUE_REPO, 42, "open", "t", "b")))
        .expect(1)
        .mount(&server)
        .await;
    let gh = GithubActuator::new(&app_settings(&server.uri(), key), MemLedger::new()).expect("actuator");
    assert!(run(&gh, &notice()).await.is_ok());
}

#[tokio::test]
async fn a_refused_installation_token_is_a_configuration_failure_naming_the_app_settings() {
    let server = MockServer::start().await;
    let key = app_key();
    Mock::given(method("POST")).and(path(TOKENS)).respond_with(ResponseTemplate::new(401).set_body_json(json!({ "message": "A JSON web token could not be decoded" }))).mount(&server).await;
    Mock::given(method("GET")).and(path("/repos/platform/ops/issues")).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).expect(0).mount(&server).await;
    let gh = GithubActuator::new(&app_settings(&server.uri(), key), MemLedger::new()).expect("actuator");
    let err = run(&gh, &notice()).await.unwrap_err();
    assert!(
        matches!(&err, ActionError::Configuration { setting, message: m } if m.contains("installation token") && setting.contains("GITHUB_APP_ID") && m.contains("could not be decoded")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unavailable_token_endpoint_is_transient() {
    let server = MockServer::start().await;
    let key = app_key();
    Mock::given(method("POST")).and(path(TOKENS)).respond_with(ResponseTemplate::new(503).set_body_json(json!({ "message": "Service Unavailable" }))).expect(1).mount(&server).await;
    let gh = GithubActuator::new(&app_settings(&server.uri(), key), MemLedger::new()).expect("actuator");
    assert!(matches!(run(&gh, &notice()).await, Err(ActionError::Transient(_))));
}

#[tokio::test]
async fn a_malformed_app_key_is_a_settings_error_that_does_not_echo_the_key() {
    let env: BTreeMap<String, String> = [
        ("GITHUB_APP_ID", "1"),
        ("GITHUB_APP_PRIVATE_KEY", "-----BEGIN RSA PRIVATE KEY-----\nCANARYKEYMATERIAL\n-----END RSA PRIVATE KEY-----\n"),
        ("GITHUB_APP_INSTALLATION_ID", "2"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let err = GithubActuator::new(&Settings::from_map(env).unwrap(), MemLedger::new()).unwrap_err();
    assert_eq!(err.name, "GITHUB_APP_PRIVATE_KEY");
    assert!(!err.to_string().contains("CANARYKEYMATERIAL") && !format!("{err:?}").contains("CANARYKEYMATERIAL"));
}

#[tokio::test]
async fn missing_credentials_name_the_setting_and_the_fix() {
    let err = GithubActuator::new(&Settings::from_map(BTreeMap::new()).unwrap(), MemLedger::new()).unwrap_err();
    assert_eq!(err.name, "GITHUB_TOKEN");
    assert!(err.fix.contains("GITHUB_APP_ID"));
}

// ---- the canary ----

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn the_token_appears_only_in_the_authorization_header_never_in_bodies_errors_or_logs() {
    // A global subscriber: a thread-local one can miss events whose callsites other tests in this
    // binary registered first (tracing caches interest per callsite). Every test's logs land here.
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_ansi(false).with_writer(logs.clone()).finish();
    tracing::subscriber::set_global_default(subscriber).expect("only this test installs a subscriber");

    let server = MockServer::start().await;
    // Create (success), update whose comment is refused (error), an ambiguous PR (error).
    Mock::given(method("GET")).and(path("/repos/platform/ops/issues")).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).mount(&server).await;
    Mock::given(method("GET")).and(path("/search/issues")).respond_with(ResponseTemplate::new(200).set_body_json(json!({ "items": [] }))).mount(&server).await;
    Mock::given(method("POST")).and(path("/repos/platform/ops/issues")).respond_with(ResponseTemplate::new(201).set_body_json(issue_json(&server.uri(), ISSUE_REPO, 42, "open", "t", "b"))).mount(&server).await;
    Mock::given(method("GET")).and(path("/repos/platform/ops/issues/42")).respond_with(ResponseTemplate::new(200).set_body_json(issue_json(&server.uri(), ISSUE_REPO, 42, "open", "t", "b"))).mount(&server).await;
    Mock::given(method("GET")).and(path("/repos/platform/ops/issues/42/comments")).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).mount(&server).await;
    Mock::given(method("POST")).and(path("/repos/platform/ops/issues/42/comments")).respond_with(ResponseTemplate::new(403).set_body_json(json!({ "message": "Bad credentials" }))).mount(&server).await;
    Mock::given(method("GET")).and(path("/repos/platform/infra")).respond_with(ResponseTemplate::new(200).set_body_json(json!({ "default_branch": "main" }))).mount(&server).await;
    Mock::given(method("GET")).and(path("/repos/platform/infra/pulls")).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).mount(&server).await;
    Mock::given(method("GET")).and(path("/repos/platform/infra/git/ref/heads/main")).respond_with(ResponseTemplate::new(200).set_body_json(json!({ "object": { "sha": "abc" } }))).mount(&server).await;
    Mock::given(method("GET"))
        .and(path("/repos/platform/infra/contents/aks.tf"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "encoding": "base64", "sha": "def", "content": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, fixture("aks.tf")) })))
        .mount(&server)
        .await;

    let ledger = MemLedger::new();
    let gh = actuator(&server.uri(), ledger);
    let update = action(Stage::Update, issue_kind(), "prod-weu: upgrade 1.29.2 → 1.30.9 (minor) available");
    let pr = pr_action("aks.tf", key("orchestrator_version"), "1.30.7");
    let close_elsewhere = action(Stage::Resolve, ActionKind::GithubClose { repo: "not a repo".into() }, "x");
    let results = gh.perform(&[notice(), update, pr, close_elsewhere]).await;
    assert!(results[0].is_ok() && results[1].is_err() && results[2].is_err() && results[3].is_err(), "{results:?}");

    let mut everything = format!("{results:?}\n{gh:?}\n");
    for r in &results {
        if let Err(e) = r {
            everything.push_str(&format!("{e}\n"));
        }
    }
    let requests = server.received_requests().await.unwrap();
    let mut authorised = 0;
    for r in &requests {
        everything.push_str(&format!("{} {}\n{}\n", r.method, r.url, String::from_utf8_lossy(&r.body)));
        for (name, value) in r.headers.iter() {
            if name.as_str() == "authorization" {
                authorised += usize::from(value.to_str().unwrap() == format!("Bearer {TOKEN}"));
            } else {
                everything.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or("")));
            }
        }
    }
    everything.push_str(&String::from_utf8_lossy(&logs.0.lock().unwrap()));

    assert_eq!(authorised, requests.len(), "every request was authorised with the canary token");
    assert!(everything.contains("github action failed"), "the logs were captured");
    assert!(!everything.contains(TOKEN) && !everything.contains("CANARY0000secret"), "the token leaked:\n{everything}");
}
