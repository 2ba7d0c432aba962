//! The event routes locked down, through the real `handler` binary as the Functions host runs
//! it: the topic allow-list (`CADENCE_EVENTGRID_ALLOWED_TOPICS`, defaulting to the subscriptions
//! of `CADENCE_SUBSCRIPTIONS`) on `/api/eventgrid` and `/aks-events`, the validation handshake
//! only for allowed topics, the CloudEvents handshake only for Event Grid's origin, and the
//! webhook turned off by `CADENCE_EVENTGRID_WEBHOOK=off`.
//!
//! The events are the real fixtures with their placeholder topic replaced by a cluster id in
//! an allowed or a foreign subscription. The handler runs dry (no settings say otherwise), so
//! "planned" is the pipeline's `dry-run: …` line for the event.

mod e2e_support;
mod email_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_support::*;
use serde_json::{Value, json};

const OURS: &str = "11111111-1111-1111-1111-111111111111";
const FOREIGN: &str = "99999999-9999-9999-9999-999999999999";

fn cluster_in(sub: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/prod-1")
}

/// The real ClusterSupportEnding event (Event Grid schema), from a cluster in `sub`.
fn support_ending_from(sub: &str) -> Value {
    let mut e = support_ending_event();
    e["topic"] = json!(cluster_in(sub));
    e
}

/// The same event as a CloudEvent (`source` is the cluster).
fn support_ending_cloudevent_from(sub: &str) -> Value {
    let mut e = support_ending_cloudevent();
    e["source"] = json!(cluster_in(sub));
    e
}

async fn handler_allowing(dir: &std::path::Path, allowed: &str) -> Handler {
    Handler::start(dir, &Env::default().set("CADENCE_EVENTGRID_ALLOWED_TOPICS", allowed)).await
}

/// Messages of the handler's JSON log lines.
fn messages(h: &Handler) -> Vec<String> {
    h.json_logs().iter().filter_map(|l| l["fields"]["message"].as_str().map(String::from)).collect()
}

fn planned_count(h: &Handler) -> usize {
    messages(h).iter().filter(|m| m.starts_with("dry-run: planned")).count()
}

/// The plan lines, once at least one is there (the log reader thread may lag the answer a little).
async fn planned_lines(h: &Handler) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let plans: Vec<Value> = h.json_logs().into_iter().filter(|l| l["fields"]["message"] == "dry-run: planned").collect();
        if !plans.is_empty() || Instant::now() > deadline {
            return plans;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_webhook_delivery_from_a_foreign_topic_is_refused_with_403_and_nothing_is_planned() {
    let dir = tempfile::tempdir().unwrap();
    let h = handler_allowing(dir.path(), OURS).await;
    for (content_type, body) in [
        ("application/json", json!([support_ending_from(FOREIGN)])),
        ("application/cloudevents+json", support_ending_cloudevent_from(FOREIGN)),
    ] {
        let a = h.webhook(content_type, &body).await;
        assert_eq!(a.status, 403, "Event Grid does not retry 403: {}", a.body);
        let v = a.json();
        assert_eq!(v["error"]["code"], "topic_not_allowed", "{}", a.body);
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains(&cluster_in(FOREIGN)) && message.contains("CADENCE_EVENTGRID_ALLOWED_TOPICS"), "{message}");
    }
    assert_eq!(planned_count(&h), 0, "nothing from a foreign topic is planned: {:#?}", messages(&h));
    assert!(
        h.json_logs().iter().any(|l| l["fields"]["topic"] == json!(cluster_in(FOREIGN)) && l["fields"]["setting"] == "CADENCE_EVENTGRID_ALLOWED_TOPICS"),
        "the refusal is logged with the topic and the setting: {}",
        h.output()
    );

    // The same event from an allowed subscription (any case: ARM ids are case-insensitive).
    let a = h.webhook("application/json", &json!([support_ending_from(&OURS.to_uppercase())])).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json(), json!({"events": 1, "signals": 1, "unknown": 0, "ignored": 0}));
    assert!(!planned_lines(&h).await.is_empty(), "the allowed event is planned: {:#?}", messages(&h));
}

#[tokio::test]
async fn a_mixed_webhook_batch_plans_the_allowed_events_and_counts_the_refused_ones() {
    let dir = tempfile::tempdir().unwrap();
    let h = handler_allowing(dir.path(), &format!("/subscriptions/{OURS}")).await;
    let a = h.webhook("application/json", &json!([support_ending_from(FOREIGN), support_ending_from(OURS)])).await;
    assert_eq!(a.status, 200, "the allowed event must not be dead-lettered with the foreign one: {}", a.body);
    assert_eq!(a.json(), json!({"events": 2, "signals": 1, "unknown": 0, "ignored": 0, "refused": 1}));
    let plans = planned_lines(&h).await;
    assert!(!plans.is_empty(), "{}", h.output());
    assert!(plans.iter().all(|l| !l["fields"]["plan"].as_str().unwrap_or("").contains(FOREIGN)), "{plans:#?}");
}

#[tokio::test]
async fn the_event_grid_trigger_acknowledges_a_foreign_event_with_a_log_line_and_plans_an_allowed_one() {
    let dir = tempfile::tempdir().unwrap();
    let h = handler_allowing(dir.path(), OURS).await;
    let a = h.invoke(&support_ending_from(FOREIGN)).await;
    assert_eq!(a.status, 200, "a foreign event is acknowledged, not retried for a day: {}", a.body);
    let logs = a.logs();
    assert!(logs.contains("refused") && logs.contains(&cluster_in(FOREIGN)) && logs.contains("CADENCE_EVENTGRID_ALLOWED_TOPICS"), "{logs}");
    assert!(!logs.contains("dry-run:"), "nothing is planned for it: {logs}");

    let a = h.invoke(&support_ending_from(OURS)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.logs().contains("dry-run:"), "the allowed event is planned: {}", a.logs());
}

#[tokio::test]
async fn unset_the_allow_list_is_the_swept_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let h = Handler::start(dir.path(), &Env::default().set("CADENCE_SUBSCRIPTIONS", OURS)).await;
    assert_eq!(h.invoke(&support_ending_from(OURS)).await.status, 200);
    let a = h.invoke(&support_ending_from(FOREIGN)).await;
    assert!(a.logs().contains("refused") && a.logs().contains("from CADENCE_SUBSCRIPTIONS"), "{}", a.logs());
    assert_eq!(h.webhook("application/json", &json!([support_ending_from(FOREIGN)])).await.status, 403);
}

#[tokio::test]
async fn with_no_settings_every_topic_is_processed_and_the_start_up_log_warns() {
    let dir = tempfile::tempdir().unwrap();
    let h = Handler::start(dir.path(), &Env::default()).await;
    let a = h.webhook("application/json", &json!([support_ending_from(FOREIGN)])).await;
    assert_eq!(a.status, 200, "the quick start keeps working: {}", a.body);
    let warned = h.json_logs().into_iter().any(|l| l["level"] == "WARN" && l["fields"]["setting"] == "CADENCE_EVENTGRID_ALLOWED_TOPICS");
    assert!(warned, "the start-up log says every topic is trusted: {}", h.output());
}

#[tokio::test]
async fn the_validation_handshake_is_answered_only_for_an_allowed_topic() {
    let body = fixture("subscription_validation_event.eventgrid.docs.json");
    let topic = body[0]["topic"].as_str().unwrap().to_string();
    let code = body[0]["data"]["validationCode"].as_str().unwrap().to_string();
    let validate = |h: &Handler| {
        http().post(h.url("/api/eventgrid")).header("aeg-event-type", "SubscriptionValidation").header("content-type", "application/json").body(body.to_string()).send()
    };

    let dir = tempfile::tempdir().unwrap();
    let foreign = handler_allowing(dir.path(), OURS).await;
    let a = Answer::from(validate(&foreign).await.unwrap()).await;
    assert_eq!(a.status, 403, "no validation for a topic we do not take: {}", a.body);
    assert_eq!(a.json()["error"]["code"], "topic_not_allowed");
    assert!(!a.body.contains(&code), "the validation code is not echoed: {}", a.body);

    let dir = tempfile::tempdir().unwrap();
    let allowed = handler_allowing(dir.path(), &topic).await;
    let a = Answer::from(validate(&allowed).await.unwrap()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json(), json!({"validationResponse": code}));
}

#[tokio::test]
async fn the_cloudevents_handshake_allows_event_grid_only() {
    let dir = tempfile::tempdir().unwrap();
    let h = Handler::start(dir.path(), &Env::default()).await;
    let options = |origin: &'static str| http().request(reqwest::Method::OPTIONS, h.url("/api/eventgrid")).header("WebHook-Request-Origin", origin).send();
    let r = options("EventGrid.Azure.Net").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["webhook-allowed-origin"], "eventgrid.azure.net");
    let r = options("evil.example").await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("webhook-allowed-origin").is_none(), "no permission statement for another origin");
    let a = Answer::from(r).await;
    assert_eq!(a.json()["error"]["code"], "origin_not_allowed");
}

#[tokio::test]
async fn the_webhook_turned_off_answers_404_naming_the_setting_while_the_trigger_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let h = Handler::start(dir.path(), &Env::default().set("CADENCE_EVENTGRID_WEBHOOK", "off")).await;
    let a = h.webhook("application/json", &json!([support_ending_event()])).await;
    assert_eq!(a.status, 404, "{}", a.body);
    assert!(a.json()["error"]["message"].as_str().unwrap().contains("CADENCE_EVENTGRID_WEBHOOK=off"), "{}", a.body);
    let r = http().request(reqwest::Method::OPTIONS, h.url("/api/eventgrid")).header("WebHook-Request-Origin", "eventgrid.azure.net").send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("webhook-allowed-origin").is_none());
    assert_eq!(planned_count(&h), 0);

    let a = h.invoke(&support_ending_event()).await;
    assert_eq!(a.status, 200);
    assert!(a.logs().contains("dry-run:"), "aks-events still plans: {}", a.logs());
}

#[test]
fn a_bad_event_grid_setting_stops_serve_with_exit_2_naming_it() {
    for (name, value) in [("CADENCE_EVENTGRID_ALLOWED_TOPICS", "prod-clusters"), ("CADENCE_EVENTGRID_ALLOWED_TOPICS", "*,/subscriptions/x"), ("CADENCE_EVENTGRID_WEBHOOK", "sometimes")] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_handler"))
            .args(["serve", "--port", "0"])
            .current_dir(dir.path())
            .env_clear()
            .env(name, value)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{name}={value}: the handler started serving instead of refusing the setting");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert_eq!(status.code(), Some(2), "{name}={value}: {err}");
        assert!(err.starts_with(&format!("error: setting {name}: ")) && err.contains("Fix: "), "{err}");
    }
}
