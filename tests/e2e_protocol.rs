//! The custom-handler protocol and the Event Grid webhook through the real `handler` binary on a
//! loopback port, with no settings but the port the Functions host passes (so: the built-in
//! policy, dry-run, the ledger in the working directory); and the quick start's dry-run replay,
//! which must contact nothing.

mod e2e_support;
mod email_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e_support::*;
use serde_json::{Value, json};

/// A handler with no settings at all (only the port the host gives it).
async fn bare_handler(dir: &Path) -> Handler {
    Handler::start(dir, &Env::default()).await
}

fn eventgrid_fixtures() -> Vec<PathBuf> {
    let dir = manifest_dir().join("tests/fixtures/eventgrid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    assert!(files.len() >= 20, "the real fixtures are there: {files:?}");
    files
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

/// Event fixtures (as opposed to documentation samples of other payloads).
fn is_event(p: &Path) -> bool {
    let n = name(p);
    (n.ends_with(".eventgrid.json") || n.ends_with(".cloudevent.json") || n.contains(".eventgrid.variant_")) && !n.contains(".docs.")
}

#[tokio::test]
async fn get_root_answers_200_at_once_and_logs_are_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let h = bare_handler(dir.path()).await;
    let r = http().get(h.url("/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    let logs = h.json_logs();
    assert!(logs.iter().any(|l| l["fields"]["message"].as_str().is_some_and(|m| m.contains("listening"))), "{logs:#?}");
    assert!(logs.iter().any(|l| l["fields"]["dry_run"] == json!(true)), "no settings means dry-run: {logs:#?}");
}

#[tokio::test]
async fn every_real_fixture_posted_to_aks_events_is_acknowledged_with_logs_as_object_and_as_encoded_string() {
    let dir = tempfile::tempdir().unwrap();
    let h = bare_handler(dir.path()).await;
    let mut events = 0;
    for file in eventgrid_fixtures() {
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        // The host passes the event as JSON, or as a JSON string holding it (sometimes twice).
        let once = Value::String(value.to_string());
        let twice = Value::String(once.to_string());
        for (form, event) in [("object", &value), ("string", &once), ("string of a string", &twice)] {
            let a = h.invoke(event).await;
            let what = format!("{} as {form}", name(&file));
            assert_eq!(a.status, 200, "{what}: {}", a.body);
            let v = a.json();
            assert_eq!(v["Outputs"], json!({}), "{what}: {}", a.body);
            assert!(v["Logs"].as_array().is_some_and(|l| !l.is_empty()), "{what}: Logs say what happened: {}", a.body);
            if is_event(&file) {
                assert!(!a.logs().contains("not processed"), "{what} is an event and is processed: {}", a.logs());
            }
        }
        if is_event(&file) {
            events += 1;
        }
    }
    assert!(events >= 18, "{events} event fixtures");
    // Every one of them reached the pipeline: the handler is still healthy.
    assert_eq!(http().get(h.url("/")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_subscription_validation_handshake_answers_the_validation_code() {
    let dir = tempfile::tempdir().unwrap();
    let h = bare_handler(dir.path()).await;
    let body = fixture("subscription_validation_event.eventgrid.docs.json");
    let code = body[0]["data"]["validationCode"].as_str().unwrap().to_string();
    let r = http()
        .post(h.url("/api/eventgrid?code=functionkey"))
        .header("aeg-event-type", "SubscriptionValidation")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let a = Answer::from(r).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json(), json!({"validationResponse": code}));
    assert!(!h.output().contains("functionkey"), "the function key in the query string is never logged");

    let missing = http().post(h.url("/api/eventgrid")).header("aeg-event-type", "SubscriptionValidation").body("[]").send().await.unwrap();
    let a = Answer::from(missing).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "validation_event_missing");
}

#[tokio::test]
async fn the_cloudevents_options_handshake_allows_the_asking_origin() {
    let dir = tempfile::tempdir().unwrap();
    let h = bare_handler(dir.path()).await;
    let r = http()
        .request(reqwest::Method::OPTIONS, h.url("/api/eventgrid"))
        .header("WebHook-Request-Origin", "eventgrid.azure.net")
        .header("WebHook-Request-Rate", "120")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["webhook-allowed-origin"], "eventgrid.azure.net");
    assert_eq!(r.headers()["webhook-allowed-rate"], "*");
}

#[tokio::test]
async fn webhook_deliveries_of_both_schemas_are_counted_and_unsubscribe_is_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let h = bare_handler(dir.path()).await;
    let a = h.webhook("application/json", &json!([fixture("aks_node_pool_rolling_failed.eventgrid.json"), fixture("aks_node_pool_rolling_progress.eventgrid.json")])).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json(), json!({"events": 2, "signals": 1, "unknown": 1, "ignored": 0}), "the unconfirmed progress type is acknowledged as unknown");
    let a = h.webhook("application/cloudevents+json", &fixture("aks_new_kubernetes_version_available.cloudevent.json")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["signals"], 1);
    let r = http().post(h.url("/api/eventgrid")).header("aeg-event-type", "Unsubscribe").body("{}").send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn malformed_json_gets_400_with_a_json_error_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let h = bare_handler(dir.path()).await;
    let r = http().post(h.url("/api/eventgrid")).header("content-type", "application/json").body("[{\"id\": \"1\",}").send().await.unwrap();
    let a = Answer::from(r).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.headers["content-type"], "application/json");
    let v = a.json();
    assert_eq!(v["error"]["code"], "malformed_json");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("not valid JSON") && message.contains("line 1 column"), "the message says what and where: {message}");

    let r = http().post(h.url("/api/eventgrid")).header("content-type", "application/json").body("{\"hello\": \"world\"}").send().await.unwrap();
    let a = Answer::from(r).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "not_an_event");

    // The Functions host's invocations are not Event Grid: a body no retry can fix is
    // acknowledged (200) with a log line saying why (docs/host.md).
    let r = http().post(h.url("/aks-events")).body("{oops").send().await.unwrap();
    let a = Answer::from(r).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.logs().contains("not JSON"), "{}", a.body);
}

#[tokio::test]
async fn an_oversize_body_gets_413_from_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let h = Handler::start(dir.path(), &Env::default().set("CADENCE_MAX_BODY_BYTES", "2048")).await;
    let event = support_ending_event();
    let small = h.webhook("application/json", &json!([event])).await;
    assert_eq!(small.status, 200, "a body under the limit passes: {}", small.body);

    let padded = json!([{"id": "big", "eventType": "Microsoft.ContainerService.ClusterSupportEnding", "subject": "x".repeat(4096), "data": {}}]);
    let a = h.webhook("application/json", &padded).await;
    assert_eq!(a.status, 413, "{}", a.body);
    let v = a.json();
    assert_eq!(v["error"]["code"], "payload_too_large");
    assert!(v["error"]["message"].as_str().unwrap().contains("2048 bytes"), "{}", a.body);

    // /aks-events allows the envelope 4 × the limit + 64 KiB, and answers a larger one 200 with
    // a log line (the host would only retry the same bytes).
    let huge = json!({"id": "huge", "eventType": "x", "subject": "x".repeat(100 * 1024)});
    let a = h.invoke(&huge).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.logs().contains("larger than"), "{}", a.body);
}

// ---------------------------------------------------------------- dry-run default

/// `strace`'s absolute path (the child runs with an empty environment, so no PATH lookup).
fn strace() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("strace"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("strace is needed to prove the dry-run contacts nothing: install it (apt-get install strace)"))
}

/// Runs `handler ARGS` under strace in `dir` with exactly `env`, and returns the output and
/// every IPv4/IPv6 connect/send the process tree made.
fn traced(dir: &Path, env: &Env, args: &[String]) -> (std::process::Output, Vec<String>) {
    let trace = dir.join("strace.txt");
    let out = Command::new(strace())
        .args(["-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_handler"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(&env.0)
        .output()
        .expect("run handler under strace");
    let text = std::fs::read_to_string(&trace).unwrap_or_else(|e| panic!("strace wrote no trace ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    let inet = text.lines().filter(|l| l.contains("AF_INET")).map(String::from).collect();
    (out, inet)
}

fn samples() -> Vec<String> {
    let dir = manifest_dir().join("samples/events");
    let mut files: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).map(|p| p.display().to_string()).collect();
    files.sort();
    files
}

#[test]
fn with_no_settings_replay_prints_the_plan_as_json_lines_and_contacts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["replay".to_string(), "--now".into(), "2026-03-02T12:00:00Z".into()];
    args.extend(samples());
    let (out, inet) = traced(dir.path(), &Env::default(), &args);
    assert!(out.status.success(), "exit {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    assert!(!lines.is_empty(), "the built-in policy plans something for the samples");
    for l in &lines {
        for field in ["action", "cluster", "key", "signal", "summary"] {
            assert!(l[field].as_str().is_some_and(|s| !s.is_empty()), "`{field}` in {l}");
        }
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("dry-run: nothing was carried out"), "{stderr}");
    assert!(inet.is_empty(), "a dry run with no settings made network calls:\n{}", inet.join("\n"));
    assert!(dir.path().join("cadence.db").exists(), "the default ledger is ./cadence.db");
}

#[tokio::test]
async fn the_network_trace_does_see_a_live_run_call_github() {
    // The control for the test above: the same trace catches a connection when there is one.
    let dir = tempfile::tempdir().unwrap();
    let github = FakeGithub::start().await;
    github.expect_creates(1).await;
    // GitHub only: a live run refuses to start while a channel its policy uses has no settings.
    let policy = dir.path().join("cadence.toml");
    std::fs::write(&policy, "[[rule]]\nname = \"platform\"\n[rule.github_issue]\nrepo = \"o/r\"\nlabels = [\"platform\"]\n").unwrap();
    let env = Env::default()
        .set("CADENCE_DRY_RUN", "false")
        .set("CADENCE_CONFIG", policy.display().to_string())
        .set("GITHUB_TOKEN", GITHUB_TOKEN)
        .set("GITHUB_API_URL", github.uri());
    let file = manifest_dir().join("tests/fixtures/eventgrid/aks_cluster_support_ending.eventgrid.json");
    let (dir_path, args) = (dir.path().to_path_buf(), vec!["replay".to_string(), file.display().to_string()]);
    let (out, inet) = tokio::task::spawn_blocking(move || traced(&dir_path, &env, &args)).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let port = github.server.address().port();
    assert!(inet.iter().any(|l| l.contains(&format!("htons({port})"))), "the trace shows the connection to the fake GitHub on port {port}:\n{}", inet.join("\n"));
    assert_eq!(github.issues().len(), 1);
    github.server.verify().await;
}
