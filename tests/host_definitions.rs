//! `host.json`, `function-definitions/` and `local.settings.sample.json` describe exactly what
//! the handler serves and reads.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aks_cadence::host::invocation::EVENT_BINDING;
use aks_cadence::host::{AppState, app};
use aks_cadence::ingest::Ingested;
use aks_cadence::pipeline::{EventSink, PipelineError, RunReport};
use aks_cadence::settings::Settings;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not strict JSON (no comments allowed): {e}", path.display()))
}

fn functions() -> BTreeMap<String, Value> {
    std::fs::read_dir(root().join("function-definitions"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| (e.file_name().into_string().unwrap(), read_json(&e.path().join("function.json"))))
        .collect()
}

fn trigger(function: &Value) -> &Value {
    let triggers: Vec<&Value> =
        function["bindings"].as_array().unwrap().iter().filter(|b| b["type"].as_str().unwrap().ends_with("Trigger")).collect();
    assert_eq!(triggers.len(), 1, "a function has exactly one trigger: {function}");
    triggers[0]
}

struct NullSink;

#[async_trait::async_trait]
impl EventSink for NullSink {
    async fn handle(&self, _events: Vec<Ingested>) -> Result<RunReport, PipelineError> {
        Ok(RunReport::default())
    }
}

async fn status_of(method: Method, path: &str) -> StatusCode {
    answer_of(method, path).await.0
}

async fn answer_of(method: Method, path: &str) -> (StatusCode, Value) {
    let state = AppState::events_only(Arc::new(NullSink), 1024 * 1024);
    let request = Request::builder().method(method).uri(path).header("content-type", "application/json").body(Body::from("{}")).unwrap();
    let response = app(state).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[test]
fn host_json_starts_the_handler_with_forwarding_and_the_extension_bundle() {
    let host = read_json(&root().join("host.json"));
    assert_eq!(host["version"], "2.0");
    assert_eq!(host["customHandler"]["description"]["defaultExecutablePath"], "handler");
    assert_eq!(host["customHandler"]["enableForwardingHttpRequest"], true);
    // Same bundle as Microsoft's custom-handler sample.
    let docs = read_json(&root().join("tests/fixtures/functions-host/host.customhandler_extensionbundle.docs.json"));
    assert_eq!(host["extensionBundle"], docs["extensionBundle"]);
    assert!(host["logging"]["logLevel"]["default"].is_string());
    // The route prefix stays the default `api`, which is what `/api/eventgrid` assumes.
    assert!(host.pointer("/extensions/http/routePrefix").is_none());
}

#[test]
fn exactly_the_five_functions_are_defined() {
    let names: BTreeSet<String> = functions().into_keys().collect();
    assert_eq!(names, ["aks-events", "digest", "eventgrid", "sweep", "sweep-cluster"].into_iter().map(String::from).collect());
}

#[test]
fn digest_is_a_timer_every_minute_with_no_outputs() {
    let f = &functions()["digest"];
    let t = trigger(f);
    assert_eq!(t["type"], "timerTrigger");
    assert_eq!(t["name"], "timer");
    // NCRONTAB, seconds first: second 0 of every minute.
    assert_eq!(t["schedule"], "0 * * * * *");
    assert_eq!(t["runOnStartup"], false, "a restart must not send a digest before it is due");
    assert_eq!(f["bindings"].as_array().unwrap().len(), 1, "the queue lives in the ledger, not in a binding");
}

#[test]
fn aks_events_is_an_event_grid_trigger_bound_as_the_name_the_handler_reads() {
    let f = &functions()["aks-events"];
    let t = trigger(f);
    assert_eq!(t["type"], "eventGridTrigger");
    assert_eq!(t["name"], EVENT_BINDING);
    assert_eq!(t["direction"], "in");
    // Same shape as Microsoft's sample apart from the binding name.
    let docs = read_json(&root().join("tests/fixtures/functions-host/function.event_grid_trigger.docs.json"));
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(t), keys(&docs["bindings"][0]));
    assert_eq!(f["bindings"].as_array().unwrap().len(), 1, "no outputs: the handler answers Outputs {{}}");
}

#[test]
fn eventgrid_is_an_http_trigger_on_route_eventgrid_for_post_and_options_with_an_http_output() {
    let f = &functions()["eventgrid"];
    let t = trigger(f);
    assert_eq!(t["type"], "httpTrigger");
    assert_eq!(t["route"], "eventgrid");
    assert_eq!(t["authLevel"], "function");
    let methods: BTreeSet<&str> = t["methods"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    assert_eq!(methods, BTreeSet::from(["post", "options"]));
    let bindings = f["bindings"].as_array().unwrap();
    assert_eq!(bindings.len(), 2, "forwarding needs HTTP in and HTTP out only");
    assert!(bindings.iter().any(|b| b["type"] == "http" && b["direction"] == "out"));
}

#[test]
fn sweep_is_a_timer_that_queues_clusters_for_sweep_cluster() {
    let all = functions();
    let sweep = &all["sweep"];
    let t = trigger(sweep);
    assert_eq!(t["type"], "timerTrigger");
    assert_eq!(t["name"], "timer");
    let schedule = t["schedule"].as_str().unwrap();
    assert!(
        schedule.starts_with('%') && schedule.ends_with('%') || schedule.split_whitespace().count() == 6,
        "NCRONTAB has six fields (seconds first): {schedule}"
    );
    let out = sweep["bindings"].as_array().unwrap().iter().find(|b| b["direction"] == "out").expect("a queue output");
    assert_eq!((out["type"].as_str(), out["name"].as_str()), (Some("queue"), Some("clusters")));
    assert_eq!(out["connection"], "AzureWebJobsStorage");

    let per_cluster = trigger(&all["sweep-cluster"]);
    assert_eq!(per_cluster["type"], "queueTrigger");
    assert_eq!(per_cluster["name"], "cluster");
    assert_eq!(per_cluster["connection"], "AzureWebJobsStorage");
    assert_eq!(per_cluster["queueName"], out["queueName"], "the timer feeds the queue the per-cluster sweep reads");
    assert_eq!(out["queueName"], "sweep-clusters");
}

/// Where the host sends each function's invocations: non-HTTP triggers to `POST /{name}`,
/// forwarded HTTP triggers to `/api/{route}` with their own methods.
#[tokio::test]
async fn the_routes_this_branch_serves_match_their_function_definitions() {
    let all = functions();
    assert_eq!(all.len(), 5);
    for name in ["aks-events", "digest", "eventgrid", "sweep", "sweep-cluster"] {
        let t = trigger(&all[name]);
        if t["type"] == "httpTrigger" {
            let path = format!("/api/{}", t["route"].as_str().unwrap());
            for m in t["methods"].as_array().unwrap() {
                let method = Method::from_bytes(m.as_str().unwrap().to_ascii_uppercase().as_bytes()).unwrap();
                let status = status_of(method.clone(), &path).await;
                assert!(status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {status}");
            }
        } else {
            // Served with the custom-handler response shape. Here no ARM client exists: the
            // sweep timer fails visibly (500, not retried), a queue message is acknowledged.
            let path = format!("/{name}");
            let (status, body) = answer_of(Method::POST, &path).await;
            let want = if name == "sweep" { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
            assert_eq!(status, want, "POST {path}: {body}");
            assert!(body["Logs"].is_array() && body["Outputs"].is_object(), "POST {path}: {body}");
            if name.starts_with("sweep") {
                assert!(body["Logs"][0].as_str().unwrap().contains("ARM is not configured"), "POST {path}: {body}");
            }
        }
    }
}

/// Every environment name `settings.rs` reads (its string literals in SCREAMING_CASE, outside
/// its tests) — left out are the port, which the Functions host assigns itself, and the
/// read-only `WEBSITE_*` variables App Service sets (nobody writes them in a settings file).
fn setting_names() -> BTreeSet<String> {
    let source = std::fs::read_to_string(root().join("handler/settings.rs")).unwrap();
    let code = source.split("#[cfg(test)]").next().unwrap();
    let re = regex::Regex::new(r#""([A-Z][A-Z0-9_]{2,})""#).unwrap();
    re.captures_iter(code).map(|c| c[1].to_string()).filter(|n| n != "FUNCTIONS_CUSTOMHANDLER_PORT" && !n.starts_with("WEBSITE_")).collect()
}

#[test]
fn local_settings_sample_lists_every_setting_with_a_string_value() {
    let sample = read_json(&root().join("local.settings.sample.json"));
    assert_eq!(sample["IsEncrypted"], false);
    let values = sample["Values"].as_object().unwrap();
    assert!(values["FUNCTIONS_WORKER_RUNTIME"].as_str().unwrap().eq_ignore_ascii_case("custom"));
    assert_eq!(values["AzureWebJobsStorage"], "UseDevelopmentStorage=true");
    for (k, v) in values {
        assert!(v.is_string(), "{k}: the Functions host reads settings as strings");
    }
    let names = setting_names();
    assert!(names.len() > 10, "the scan found the settings: {names:?}");
    let missing: Vec<&String> = names.iter().filter(|n| !values.contains_key(n.as_str())).collect();
    assert!(missing.is_empty(), "add these settings to local.settings.sample.json: {missing:?}");
}

#[test]
fn local_settings_sample_is_a_valid_configuration() {
    let sample = read_json(&root().join("local.settings.sample.json"));
    let env: BTreeMap<String, String> =
        sample["Values"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
    let settings = Settings::from_map(env).unwrap_or_else(|e| panic!("the sample must load: {e}"));
    assert!(settings.dry_run, "the sample stays a dry run");
}

fn docs(name: &str) -> Value {
    read_json(&root().join("tests/fixtures/functions-host").join(name))
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn every_binding_has_at_least_the_keys_of_microsofts_sample_for_its_type() {
    let all = functions();
    let timer = docs("function.timer_trigger_binding_fragment.docs.json");
    let queue = docs("function.queue_trigger_queue_output.docs.json");
    let http = docs("function.http_trigger_hello.docs.json");
    let samples = [
        ("sweep", "timerTrigger", timer.clone()),
        ("digest", "timerTrigger", timer),
        ("sweep-cluster", "queueTrigger", queue["bindings"][0].clone()),
        ("eventgrid", "httpTrigger", http["bindings"][0].clone()),
        ("eventgrid", "http", http["bindings"][1].clone()),
    ];
    for (function, kind, sample) in samples {
        let binding = all[function]["bindings"].as_array().unwrap().iter().find(|b| b["type"] == kind).unwrap();
        let missing: Vec<String> = keys(&sample).difference(&keys(binding)).cloned().collect();
        assert!(missing.is_empty(), "{function}/{kind} lacks {missing:?}");
    }
    let queue_out = &queue["bindings"][1];
    let ours = all["sweep"]["bindings"].as_array().unwrap().iter().find(|b| b["type"] == "queue").unwrap();
    assert!(keys(queue_out).is_subset(&keys(ours)));
}

#[test]
fn the_invocation_types_read_microsofts_request_and_response_samples() {
    use aks_cadence::host::invocation::{InvocationRequest, InvocationResponse};
    let request: InvocationRequest = serde_json::from_value(docs("customhandler_request_queue_trigger.docs.json")).unwrap();
    assert_eq!(request.data["myQueueItem"], "{ message: \"Message sent\" }");
    assert_eq!(request.metadata["DequeueCount"], 1);

    let sample = docs("customhandler_response_payload.docs.json");
    let response: InvocationResponse = serde_json::from_value(sample.clone()).unwrap();
    assert_eq!(response.logs, ["Log message 1", "Log message 2"]);
    assert_eq!(serde_json::to_value(&response).unwrap(), sample, "serializes to exactly the documented shape");
}

#[test]
fn the_worker_runtime_setting_is_the_one_microsoft_documents() {
    let sample = read_json(&root().join("local.settings.sample.json"));
    let doc = docs("local.settings.customhandler.docs.json");
    assert!(keys(&doc["Values"]).is_subset(&keys(&sample["Values"])));
}
