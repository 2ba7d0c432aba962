//! The security baseline through the real binary: `handler sweep --dry-run` against a fake ARM
//! on loopback prints one baseline line per cluster from the inventory's Resource Graph rows
//! and one Defender-plan query — no per-cluster ARM read for the baseline — and changes nothing.

mod arm_common;
mod fleet_support;

use std::path::Path;
use std::process::Output;

use fleet_support::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const IN_AUTO_WINDOW: &str = "2026-01-15T09:00:00Z";

const POLICY: &str = r#"
[baseline]
skip = ["uptime-sla"]

[baseline.severity]
controlled-egress = "medium"

[[baseline.exception]]
checks = ["controlled-egress"]
clusters = ["hardened"]
reason = "egress through the hub firewall from Q1"
expires = 2026-03-31

[[baseline.exception]]
checks = ["no-node-public-ip"]
clusters = ["weak"]
reason = "legacy FTP pool"
expires = 2026-01-14
"#;

fn sweep(dir: &Path, server: &MockServer, policy: &str) -> Output {
    std::fs::write(dir.join("cadence.toml"), policy).unwrap();
    // The event-wiring check is another Resource Graph query per sweep; these tests count the
    // baseline's own.
    handler_sweep(dir, server, &[("CADENCE_CONFIG", "cadence.toml"), ("CADENCE_SWEEP_EVENT_WIRING", "false")], &["--dry-run", "--now", IN_AUTO_WINDOW])
}

fn lines(o: &Output) -> Vec<Value> {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Microsoft's ManagedClustersGet example with every baseline setting on
/// ([`fleet_support::harden`]).
fn hardened() -> FleetCluster {
    let mut c = FleetCluster::new("hardened", "1.24.9", LATEST_IMAGE, vec![]);
    harden(&mut c);
    c
}

/// The unedited ManagedClustersGet example (RBAC off, kubenet without a network policy) plus
/// public node IPs: Resource Graph gives null for what it lacks.
fn weak() -> FleetCluster {
    let mut c = FleetCluster::new("weak", "1.24.9", LATEST_IMAGE, vec![]).without_maintenance_configurations();
    c.resource["properties"]["agentPoolProfiles"][0]["enableNodePublicIP"] = json!(true);
    c
}

async fn mount_defender_plan(server: &MockServer, tier: &str) {
    let row = json!({"subscriptionId": arm_common::SUB, "name": "Containers", "pricingTier": tier, "subPlan": ""});
    Mock::given(method("POST"))
        .and(path("/providers/Microsoft.ResourceGraph/resources"))
        .and(body_string_contains("securityresources"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(arm_common::graph_page("resources_basic_query.2024-04-01.json", vec![row])),
        )
        .with_priority(1)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_dry_run_sweep_prints_each_clusters_baseline_from_the_inventory_alone() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    mount_defender_plan(&server, "Free").await;
    mount_fleet(&server, &[hardened(), weak()]).await;
    expect_no_cluster_writes(&server).await;
    let dir = tempfile::tempdir().unwrap();

    let out = sweep(dir.path(), &server, POLICY);
    let all = lines(&out);
    let baseline: Vec<&Value> = all.iter().filter(|l| l.get("baseline").is_some()).collect();
    assert_eq!(baseline.len(), 2, "one line per cluster: {all:#?}");
    let of = |name: &str| *baseline.iter().find(|l| l["baseline"] == name).unwrap();
    let ids =
        |v: &Value| v.as_array().unwrap().iter().map(|f| f["check"].as_str().unwrap().to_string()).collect::<Vec<_>>();

    // Hardened: only the subscription's plan (Free) fails; egress is excepted until March.
    let h = of("hardened");
    assert_eq!(ids(&h["failing"]), ["defender-plan"], "{h:#}");
    assert_eq!(h["failing"][0]["concern"], "baseline:defender-plan");
    assert_eq!(ids(&h["excepted"]), ["controlled-egress"]);
    assert!(h["excepted"][0]["status"].as_str().unwrap().starts_with("excepted until 2026-03-31"), "{h:#}");
    assert_eq!(h["excepted"][0]["severity"], "medium", "the override applies");
    assert_eq!(h["score"], "17/19");
    assert_eq!(ids(&h["unknown"]), Vec::<String>::new());

    // Weak: the ManagedClustersGet example as it is.
    let w = of("weak");
    let failing = ids(&w["failing"]);
    for id in [
        "api-server-access",
        "entra-id",
        "local-accounts-disabled",
        "network-policy",
        "no-node-public-ip",
        "maintenance-window",
    ] {
        assert!(failing.contains(&id.to_string()), "{id} should fail: {w:#}");
    }
    assert!(
        w.to_string().contains("Kubernetes RBAC is off (`properties.enableRBAC` is false)"),
        "the example has RBAC off"
    );
    // pod-identity-off passes (not set), and node-os-upgrade-channel (not set = NodeImage, the
    // spec's default); azure-rbac is not applicable.
    assert_eq!(w["score"], "2/18");
    let public = w["failing"].as_array().unwrap().iter().find(|f| f["check"] == "no-node-public-ip").unwrap();
    let status = public["status"].as_str().unwrap();
    assert!(status.contains("expired on 2026-01-14") && status.contains("legacy FTP pool"), "{status}");
    assert_eq!(
        public["fix"],
        "az aks nodepool add -g rg1 --cluster-name weak -n <new-pool> (without --enable-node-public-ip), move the workloads, then az aks nodepool delete the old pool"
    );
    assert!(public["doc"].as_str().unwrap().starts_with("https://learn.microsoft.com/azure/aks/"));
    assert_eq!(ids(&w["not_applicable"]), ["azure-rbac"]);

    // No per-cluster read for the baseline: Resource Graph twice (inventory + plan), and no
    // GET of a cluster resource (the only per-cluster reads are the sweep's own).
    let requests = server.received_requests().await.unwrap();
    let graph = requests.iter().filter(|r| r.url.path() == "/providers/Microsoft.ResourceGraph/resources").count();
    assert_eq!(graph, 2, "inventory + Defender plan");
    for c in [hardened(), weak()] {
        let gets = requests.iter().filter(|r| r.method.as_str() == "GET" && r.url.path() == c.id()).count();
        assert_eq!(gets, 0, "no GET of {}", c.id());
    }
}

#[tokio::test]
async fn without_a_baseline_section_nothing_is_printed_and_no_plan_query_is_sent() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    mount_fleet(&server, &[weak()]).await;
    Mock::given(method("POST"))
        .and(body_string_contains("securityresources"))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .expect(0)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let out = sweep(dir.path(), &server, "[defaults]\npatch_within_days = 14\n");
    assert!(lines(&out).iter().all(|l| l.get("baseline").is_none()));
}
