//! Shared helpers of the ARM, sweep and upgrade tests: the real examples in `tests/fixtures/`
//! and an ARM client pointed at a wiremock server on 127.0.0.1.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aks_cadence::azure::throttle::RetryPolicy;
use aks_cadence::azure::{ArmClient, ArmConfig, StaticToken};
use serde_json::Value;

pub const TOKEN: &str = "test-token";
pub const SUB: &str = "00000000-0000-0000-0000-000000000000";
pub const CLUSTER: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/clustername1";

/// A fixture file, parsed.
pub fn fixture(rel: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel);
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The response body of status `status` in an ARM spec example (`arm/<file>`).
pub fn example_body(file: &str, status: &str) -> Value {
    fixture(&format!("arm/{file}"))["responses"][status]["body"].clone()
}

/// A response header of an ARM spec example.
pub fn example_header(file: &str, status: &str, name: &str) -> String {
    let v = fixture(&format!("arm/{file}"));
    let headers = v["responses"][status]["headers"].as_object().expect("headers");
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{file} {status} has no {name} header"))
        .to_string()
}

/// Moves an absolute ARM URL from a fixture onto the mock server (same path and query).
pub fn on_server(url: &str, server_uri: &str) -> String {
    let u = url::Url::parse(url).expect("fixture URL");
    match u.query() {
        Some(q) => format!("{server_uri}{}?{q}", u.path()),
        None => format!("{server_uri}{}", u.path()),
    }
}

/// The cluster of `managedclusters_get`, running (the example omits `powerState`; a real GET
/// always carries it and the gates require it).
pub fn running_cluster() -> Value {
    let mut c = example_body("managedclusters_get.2026-04-01.json", "200");
    c["properties"]["powerState"] = serde_json::json!({"code": "Running"});
    c
}

/// A client for the mock server with test-speed backoff and polling.
pub fn client(server_uri: &str) -> ArmClient {
    let mut cfg = ArmConfig::new(server_uri);
    cfg.max_concurrency = 8;
    cfg.retry = RetryPolicy { base_backoff: Duration::from_millis(20), max_backoff: Duration::from_millis(100), ..RetryPolicy::default() };
    cfg.lro_poll_default = Duration::from_millis(20);
    cfg.lro_timeout = Duration::from_secs(20);
    ArmClient::new(cfg, Arc::new(StaticToken::new(TOKEN))).expect("client")
}
