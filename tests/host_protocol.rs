//! The custom-handler protocol (`/aks-events`) and the Event Grid webhook (`/api/eventgrid`),
//! driven through `app().oneshot` with a recording sink, plus one run of the real server on a
//! loopback port. Payloads are the real fixtures (`tests/fixtures/`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use aks_cadence::host::{AppState, app, serve};
use aks_cadence::ingest::Ingested;
use aks_cadence::pipeline::{EventSink, PipelineError, RunReport};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const LIMIT: usize = 64 * 1024;

#[derive(Clone, Copy)]
enum Reply {
    Ok,
    Retryable,
    Permanent,
}

/// Records every delivery and answers as told.
struct RecordingSink {
    calls: Mutex<Vec<Vec<Ingested>>>,
    reply: Reply,
}

impl RecordingSink {
    fn new(reply: Reply) -> Arc<Self> {
        Arc::new(Self { calls: Mutex::new(Vec::new()), reply })
    }
    fn calls(&self) -> Vec<Vec<Ingested>> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl EventSink for RecordingSink {
    async fn handle(&self, events: Vec<Ingested>) -> Result<RunReport, PipelineError> {
        let n = events.len();
        self.calls.lock().unwrap().push(events);
        match self.reply {
            Reply::Ok => Ok(RunReport { log: vec![format!("sink saw {n} event(s)")], ..RunReport::default() }),
            Reply::Retryable => Err(PipelineError::Retryable("ledger locked".into())),
            Reply::Permanent => Err(PipelineError::Permanent("policy refers to a missing setting".into())),
        }
    }
}

fn state(sink: Arc<RecordingSink>) -> AppState {
    AppState::events_only(sink, LIMIT)
}

fn fixture(path: &str) -> Value {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(path);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

fn invocation(event: Value) -> Value {
    json!({
        "Data": {"event": event},
        "Metadata": {"sys": {"MethodName": "aks-events", "UtcNow": "2026-01-01T00:00:00Z", "RandGuid": "24ad4c06-24ad-4e5b-8294-3da9714877e9"}}
    })
}

async fn send(
    state: AppState,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = app(state).oneshot(req.body(body.into()).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, headers, value)
}

async fn post_json(state: AppState, uri: &str, headers: &[(&str, &str)], body: &Value) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    send(state, Method::POST, uri, &all, body.to_string()).await
}

fn logs(body: &Value) -> Vec<String> {
    body["Logs"].as_array().unwrap_or_else(|| panic!("no Logs in {body}")).iter().map(|l| l.as_str().unwrap().to_string()).collect()
}

fn assert_invocation_shape(body: &Value) {
    assert_eq!(body["Outputs"], json!({}), "{body}");
    assert!(body["Logs"].is_array(), "{body}");
    assert!(body.get("ReturnValue").is_some(), "{body}");
}

// ---------------------------------------------------------------- readiness

#[tokio::test]
async fn the_readiness_probe_answers_200() {
    let (status, _, _) = send(state(RecordingSink::new(Reply::Ok)), Method::GET, "/", &[], Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------- /aks-events

#[tokio::test]
async fn aks_events_hands_the_signal_to_the_sink_and_answers_the_invocation_shape() {
    let sink = RecordingSink::new(Reply::Ok);
    let event = fixture("eventgrid/aks_cluster_support_ending.eventgrid.json");
    let (status, _, body) = post_json(state(sink.clone()), "/aks-events", &[], &invocation(event)).await;
    assert_eq!(status, StatusCode::OK);
    assert_invocation_shape(&body);
    let logs = logs(&body);
    assert!(logs.iter().any(|l| l.contains("support-ending")), "{logs:?}");
    assert!(logs.contains(&"sink saw 1 event(s)".to_string()), "the sink's report lines go to Logs: {logs:?}");
    let calls = sink.calls();
    assert_eq!(calls.len(), 1);
    assert!(matches!(&calls[0][..], [Ingested::Signals { signals, .. }] if signals.len() == 1));
}

#[tokio::test]
async fn aks_events_reads_the_event_as_an_object_a_string_or_a_double_encoded_string() {
    let event = fixture("eventgrid/aks_new_kubernetes_version_available.cloudevent.json");
    let once = Value::String(event.to_string());
    let twice = Value::String(once.to_string());
    let mut seen = Vec::new();
    for form in [event, once, twice] {
        let sink = RecordingSink::new(Reply::Ok);
        let (status, _, _) = post_json(state(sink.clone()), "/aks-events", &[], &invocation(form)).await;
        assert_eq!(status, StatusCode::OK);
        seen.push(sink.calls());
    }
    assert_eq!(seen[0].len(), 1);
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1], seen[2]);
}

#[tokio::test]
async fn aks_events_reads_a_data_object_that_arrives_as_a_string() {
    let sink = RecordingSink::new(Reply::Ok);
    let event = fixture("eventgrid/aks_node_pool_rolling_started.eventgrid.json");
    let body = json!({"Data": json!({"event": event}).to_string(), "Metadata": {}});
    let (status, _, _) = post_json(state(sink.clone()), "/aks-events", &[], &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sink.calls().len(), 1);
}

#[tokio::test]
async fn aks_events_acknowledges_an_unknown_type_with_a_log_line() {
    let sink = RecordingSink::new(Reply::Ok);
    let event = fixture("eventgrid/aks_node_pool_rolling_progress.eventgrid.json");
    let (status, _, body) = post_json(state(sink.clone()), "/aks-events", &[], &invocation(event)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(logs(&body).iter().any(|l| l.contains("NodePoolRollingProgress is not handled")), "{body}");
    assert!(matches!(&sink.calls()[0][..], [Ingested::Unknown { .. }]));
}

#[tokio::test]
async fn aks_events_acknowledges_a_body_that_is_not_an_event_and_says_why() {
    let cases: Vec<(&str, Body)> = vec![
        ("not JSON", Body::from("{\"Data\": ")),
        ("no event binding", Body::from(json!({"Data": {"a": 1, "b": 2}, "Metadata": {}}).to_string())),
        ("not an event", Body::from(invocation(json!({"hello": "world"})).to_string())),
        ("a number", Body::from("42")),
    ];
    for (what, body) in cases {
        let sink = RecordingSink::new(Reply::Ok);
        let (status, _, reply) =
            send(state(sink.clone()), Method::POST, "/aks-events", &[("content-type", "application/json")], body).await;
        assert_eq!(status, StatusCode::OK, "{what}: a retry would bring the same bytes back");
        assert_invocation_shape(&reply);
        let logs = logs(&reply);
        assert!(logs.iter().any(|l| l.starts_with("not processed")), "{what}: {logs:?}");
        assert!(sink.calls().is_empty(), "{what}");
    }
}

#[tokio::test]
async fn aks_events_names_the_missing_binding() {
    let (_, _, reply) = post_json(state(RecordingSink::new(Reply::Ok)), "/aks-events", &[], &json!({"Data": {"a": 1, "b": 2}})).await;
    let logs = logs(&reply);
    assert!(logs[0].contains("`event`") && logs[0].contains("[a, b]"), "{logs:?}");
}

#[tokio::test]
async fn aks_events_fails_the_invocation_only_when_the_sink_asks_for_a_retry() {
    let event = fixture("eventgrid/aks_cluster_support_ended.eventgrid.json");
    let (status, _, body) = post_json(state(RecordingSink::new(Reply::Retryable)), "/aks-events", &[], &invocation(event.clone())).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_invocation_shape(&body);
    assert!(logs(&body).iter().any(|l| l.contains("ledger locked")), "{body}");

    let (status, _, body) = post_json(state(RecordingSink::new(Reply::Permanent)), "/aks-events", &[], &invocation(event)).await;
    assert_eq!(status, StatusCode::OK, "a permanent failure is not retried");
    assert!(logs(&body).iter().any(|l| l.contains("missing setting")), "{body}");
}

#[tokio::test]
async fn aks_events_acknowledges_an_oversize_body_instead_of_failing_it_for_a_day() {
    let sink = RecordingSink::new(Reply::Ok);
    let big = "x".repeat(LIMIT * 6);
    let body = invocation(json!({"id": "1", "eventType": "Big", "data": {"blob": big}}));
    let (status, _, reply) = post_json(state(sink.clone()), "/aks-events", &[], &body).await;
    assert_eq!(status, StatusCode::OK);
    assert!(logs(&reply)[0].contains("larger than"), "{reply}");
    assert!(sink.calls().is_empty());
}

#[tokio::test]
async fn aks_events_never_sends_a_validation_event_to_the_sink() {
    let sink = RecordingSink::new(Reply::Ok);
    let event = fixture("eventgrid/subscription_validation_event.eventgrid.docs.json")[0].clone();
    let (status, _, _) = post_json(state(sink.clone()), "/aks-events", &[], &invocation(event)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(sink.calls().is_empty());
}

// ---------------------------------------------------------------- /api/eventgrid handshakes

#[tokio::test]
async fn the_subscription_validation_handshake_echoes_the_code() {
    let sink = RecordingSink::new(Reply::Ok);
    let body = fixture("eventgrid/subscription_validation_event.eventgrid.docs.json");
    let (status, _, reply) = post_json(state(sink.clone()), "/api/eventgrid", &[("aeg-event-type", "SubscriptionValidation")], &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply, fixture("eventgrid/subscription_validation_response.docs.json"));
    assert!(sink.calls().is_empty(), "a handshake is not an event for the pipeline");
}

#[tokio::test]
async fn a_validation_header_without_a_validation_event_is_a_400_naming_the_problem() {
    let body = json!([fixture("eventgrid/aks_cluster_support_ending.eventgrid.json")]);
    let (status, _, reply) =
        post_json(state(RecordingSink::new(Reply::Ok)), "/api/eventgrid", &[("aeg-event-type", "SubscriptionValidation")], &body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["error"]["code"], "validation_event_missing");
    assert!(reply["error"]["message"].as_str().unwrap().contains("validationCode"));
}

#[tokio::test]
async fn the_cloudevents_options_handshake_allows_the_asking_origin() {
    let (status, headers, _) = send(
        state(RecordingSink::new(Reply::Ok)),
        Method::OPTIONS,
        "/api/eventgrid",
        &[("WebHook-Request-Origin", "eventgrid.azure.net")],
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["webhook-allowed-origin"], "eventgrid.azure.net");
    assert_eq!(headers["webhook-allowed-rate"], "*");
}

#[tokio::test]
async fn unsubscribe_is_acknowledged() {
    let sink = RecordingSink::new(Reply::Ok);
    let (status, _, _) =
        send(state(sink.clone()), Method::POST, "/api/eventgrid", &[("aeg-event-type", "Unsubscribe")], Body::from("{}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(sink.calls().is_empty());
}

// ---------------------------------------------------------------- /api/eventgrid deliveries

#[tokio::test]
async fn an_event_grid_array_is_delivered_to_the_sink_in_order() {
    let sink = RecordingSink::new(Reply::Ok);
    let body = json!([
        fixture("eventgrid/aks_cluster_support_ending.eventgrid.json"),
        fixture("eventgrid/resourcenotifications_aks_scheduled_event_emitted.eventgrid.json"),
        fixture("eventgrid/aks_cluster_out_of_support.eventgrid.json"),
    ]);
    let (status, _, reply) = post_json(state(sink.clone()), "/api/eventgrid", &[("aeg-event-type", "Notification")], &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply, json!({"events": 3, "signals": 2, "unknown": 1, "ignored": 0}));
    let calls = sink.calls();
    assert_eq!(calls.len(), 1, "one delivery is one sink call");
    let types: Vec<&str> = calls[0].iter().map(Ingested::event_type).collect();
    assert_eq!(
        types,
        [
            "Microsoft.ContainerService.ClusterSupportEnding",
            "Microsoft.ResourceNotifications.ContainerServiceEventResources.ScheduledEventEmitted",
            "Microsoft.ContainerService.ClusterOutOfSupport"
        ]
    );
}

#[tokio::test]
async fn a_single_cloudevent_and_a_cloudevents_batch_are_delivered() {
    let ce = fixture("eventgrid/aks_node_pool_rolling_failed.cloudevent.json");
    let sink = RecordingSink::new(Reply::Ok);
    let (status, _, reply) = send(
        state(sink.clone()),
        Method::POST,
        "/api/eventgrid",
        &[("content-type", "application/cloudevents+json; charset=utf-8")],
        ce.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["signals"], 1);

    let batch = json!([ce, fixture("eventgrid/aks_cluster_support_ended.cloudevent.json")]);
    let sink = RecordingSink::new(Reply::Ok);
    let (status, _, reply) = send(
        state(sink.clone()),
        Method::POST,
        "/api/eventgrid",
        &[("content-type", "application/cloudevents-batch+json")],
        batch.to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["events"], 2);
    assert_eq!(sink.calls()[0].len(), 2);
}

#[tokio::test]
async fn an_unknown_event_type_is_acknowledged_not_rejected() {
    let sink = RecordingSink::new(Reply::Ok);
    let body = json!([{"id": "1", "topic": "/subscriptions/s", "subject": "x", "eventType": "Contoso.Something.New", "eventTime": "2026-01-01T00:00:00Z", "data": {}, "dataVersion": "1"}]);
    let (status, _, reply) = post_json(state(sink.clone()), "/api/eventgrid", &[], &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reply["unknown"], 1);
}

#[tokio::test]
async fn malformed_json_is_a_400_with_a_json_body_naming_the_problem_and_the_fix() {
    let sink = RecordingSink::new(Reply::Ok);
    let (status, headers, reply) =
        send(state(sink.clone()), Method::POST, "/api/eventgrid", &[("content-type", "application/json")], "[{\"id\": \"1\",").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    assert_eq!(reply["error"]["code"], "malformed_json");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 1") && message.contains("application/cloudevents+json"), "{message}");
    assert!(sink.calls().is_empty());
}

#[tokio::test]
async fn json_that_is_not_an_event_is_a_400() {
    let (status, _, reply) = post_json(state(RecordingSink::new(Reply::Ok)), "/api/eventgrid", &[], &json!({"hello": "world"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reply["error"]["code"], "not_an_event");
}

#[tokio::test]
async fn an_oversize_body_is_a_413_with_a_json_body() {
    let sink = RecordingSink::new(Reply::Ok);
    let body = format!("[{{\"pad\": \"{}\"}}]", "x".repeat(LIMIT + 1));
    let (status, _, reply) = send(state(sink.clone()), Method::POST, "/api/eventgrid", &[("content-type", "application/json")], body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply["error"]["code"], "payload_too_large");
    assert!(sink.calls().is_empty());
}

#[tokio::test]
async fn a_retryable_sink_failure_is_a_503_and_a_permanent_one_is_acknowledged() {
    let body = json!([fixture("eventgrid/aks_cluster_support_ended.eventgrid.json")]);
    let (status, _, reply) = post_json(state(RecordingSink::new(Reply::Retryable)), "/api/eventgrid", &[], &body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply["error"]["code"], "retry_later");
    assert!(!reply.to_string().contains("ledger locked"), "internal details stay in the logs: {reply}");

    let (status, _, _) = post_json(state(RecordingSink::new(Reply::Permanent)), "/api/eventgrid", &[], &body).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let (status, _, reply) =
        send(state(RecordingSink::new(Reply::Ok)), Method::POST, "/api/other?code=secret-function-key", &[], Body::empty()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(reply["error"]["code"], "not_found");
    assert!(!reply.to_string().contains("secret-function-key"), "the query string (function key) is never echoed");
    let (status, _, _) = send(state(RecordingSink::new(Reply::Ok)), Method::GET, "/api/eventgrid", &[], Body::empty()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

// ---------------------------------------------------------------- a real server on loopback

#[tokio::test]
async fn the_server_answers_over_real_http_on_a_loopback_port_and_shuts_down() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let sink = RecordingSink::new(Reply::Ok);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state(sink.clone()), async move {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let ready = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let event = fixture("eventgrid/resourcenotifications_aks_scheduled_event_emitted.cloudevent.json");
    let reply = client.post(format!("{base}/aks-events")).json(&invocation(Value::String(event.to_string()))).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.unwrap();
    assert_invocation_shape(&body);

    let validation = fixture("eventgrid/subscription_validation_event.eventgrid.docs.json");
    let reply = client
        .post(format!("{base}/api/eventgrid?code=function-key"))
        .header("aeg-event-type", "SubscriptionValidation")
        .json(&validation)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.json::<Value>().await.unwrap(), fixture("eventgrid/subscription_validation_response.docs.json"));

    assert_eq!(sink.calls().len(), 1);
    stop.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(5), server).await.expect("server stops on shutdown").unwrap().unwrap();
}
