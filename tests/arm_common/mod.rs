//! Shared helpers of the ARM, sweep and upgrade tests: the real examples in `tests/fixtures/`
//! and an ARM client pointed at a wiremock server on 127.0.0.1.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aks_cadence::azure::throttle::ArmRetryPolicy;
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
    cfg.retry = ArmRetryPolicy { base_backoff: Duration::from_millis(20), max_backoff: Duration::from_millis(100), ..ArmRetryPolicy::default() };
    cfg.lro_poll_default = Duration::from_millis(20);
    cfg.lro_timeout = Duration::from_secs(20);
    ArmClient::new(cfg, Arc::new(StaticToken::new(TOKEN))).expect("client")
}

/// The `managedclusters_get` cluster, varied: name (and id), control-plane version, the first
/// pool's node image.
pub fn cluster_variant(name: &str, version: &str, node_image: &str) -> Value {
    let mut c = running_cluster();
    let id = CLUSTER.replace("clustername1", name);
    c["id"] = serde_json::json!(id);
    c["name"] = serde_json::json!(name);
    c["properties"]["currentKubernetesVersion"] = serde_json::json!(version);
    c["properties"]["kubernetesVersion"] = serde_json::json!(version);
    c["properties"]["agentPoolProfiles"][0]["nodeImageVersion"] = serde_json::json!(node_image);
    c["properties"]["agentPoolProfiles"][0]["orchestratorVersion"] = serde_json::json!(version);
    c["properties"]["agentPoolProfiles"][0]["currentOrchestratorVersion"] = serde_json::json!(version);
    c
}

/// What `sweep::inventory::RESOURCE_GRAPH_QUERY` projects for an ARM cluster resource.
pub fn graph_row(cluster: &Value) -> Value {
    let p = &cluster["properties"];
    let s = |v: &Value| serde_json::json!(v.as_str().unwrap_or(""));
    let id = cluster["id"].as_str().unwrap();
    let rg = id.split('/').nth(4).unwrap();
    let sub = id.split('/').nth(2).unwrap();
    serde_json::json!({
        "id": id, "name": cluster["name"], "type": "microsoft.containerservice/managedclusters",
        "resourceGroup": rg, "subscriptionId": sub,
        "location": cluster["location"], "tags": cluster["tags"],
        "currentKubernetesVersion": s(&p["currentKubernetesVersion"]),
        "kubernetesVersion": s(&p["kubernetesVersion"]),
        "provisioningState": s(&p["provisioningState"]),
        "powerState": s(&p["powerState"]["code"]),
        "supportPlan": s(&p["supportPlan"]),
        "autoUpgradeProfile": p["autoUpgradeProfile"],
        "fqdn": s(&p["fqdn"]),
        "privateFqdn": s(&p["privateFQDN"]),
        "agentPoolProfiles": p["agentPoolProfiles"],
        // The security baseline's columns: Resource Graph gives null for what is not set.
        "enableRBAC": p["enableRBAC"], "disableLocalAccounts": p["disableLocalAccounts"],
        "apiServerAccessProfile": p["apiServerAccessProfile"], "aadProfile": p["aadProfile"],
        "securityProfile": p["securityProfile"], "addonProfiles": p["addonProfiles"],
        "oidcIssuerProfile": p["oidcIssuerProfile"], "podIdentityProfile": p["podIdentityProfile"],
        "networkProfile": p["networkProfile"], "sku": cluster["sku"],
    })
}

/// A Resource Graph response body from a spec example with its `data` replaced by `rows`
/// (`count` follows); everything else — `$skipToken`, `resultTruncated`, `totalRecords` — as it is.
pub fn graph_page(example: &str, rows: Vec<Value>) -> Value {
    let mut body = fixture(&format!("resourcegraph/{example}"))["responses"]["200"]["body"].clone();
    body["count"] = serde_json::json!(rows.len());
    body["data"] = Value::Array(rows);
    body
}

/// The record the sweep gets for a cluster resource.
pub fn record_of(cluster: &Value) -> aks_cadence::sweep::ClusterRecord {
    aks_cadence::sweep::ClusterRecord::from_arm_resource(cluster).unwrap()
}
