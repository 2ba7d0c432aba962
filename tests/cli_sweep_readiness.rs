//! Upgrade readiness through the real binary: `handler sweep --dry-run` against the fake ARM of
//! `fleet_support` (Microsoft's examples), with the region's Compute usages and the virtual
//! network's usages answered from Microsoft's examples too.
//!
//! The cluster: Microsoft's managed cluster example (one pool `nodepool1`, 3 × Standard_DS1_v2,
//! `maxSurge` 33% → 1 surge node of 1 vCPU), put in a subnet of its own network with Azure CNI
//! (no overlay, `maxPods` 110: a node takes 111 addresses). Policy upgrades patches automatically
//! inside a window that is open at `NOW`, so without readiness the patch would start now.

mod arm_common;
mod fleet_support;

use std::path::Path;
use std::process::Output;

use fleet_support::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const NOW: &str = "2026-01-15T09:00:00Z";

const POLICY: &str = r#"
[defaults.upgrade]
patch = "auto"

[defaults.upgrade.window]
schedule = { weekly = { intervalWeeks = 1, dayOfWeek = "Thursday" } }
durationHours = 6
startTime = "08:00"
utcOffset = "+00:00"
"#;

const SUBNET: &str = "/subscriptions/subid1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet-prod/subnets/aks-nodes";

fn cluster() -> FleetCluster {
    let mut c = FleetCluster::new("prod", "1.24.6", LATEST_IMAGE, vec!["1.24.9"])
        .without_maintenance_configurations();
    let sub = arm_common::SUB;
    let subnet = SUBNET.replace("subid1", sub);
    c.resource["properties"]["agentPoolProfiles"][0]["vnetSubnetID"] = json!(subnet);
    c.resource["properties"]["networkProfile"]["networkPlugin"] = json!("azure");
    c
}

/// The virtual network usages example with its second entry moved onto our subnet.
fn network_usages(current: f64, limit: f64) -> Value {
    let mut body = arm_common::example_body("virtual_network_list_usage.2023-09-01.json", "200");
    body["value"][1]["id"] = json!(SUBNET.replace("subid1", arm_common::SUB));
    body["value"][1]["currentValue"] = json!(current);
    body["value"][1]["limit"] = json!(limit);
    body
}

async fn mount_compute_usages(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path_regex(
            r"/providers/Microsoft.Compute/locations/[^/]+/usages$",
        ))
        .respond_with(response)
        .with_priority(1)
        .expect(1) // shared for the sweep (one subscription and region)
        .named("Compute usages")
        .mount(server)
        .await;
}

async fn mount_network_usages(server: &MockServer, body: Value) {
    let vnet = SUBNET.replace("subid1", arm_common::SUB);
    let vnet = &vnet[..vnet.find("/subnets/").unwrap()];
    Mock::given(method("GET"))
        .and(path(format!("{vnet}/usages")))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .named("virtual network usages")
        .mount(server)
        .await;
}

fn sweep(dir: &Path, server: &MockServer, policy: &str) -> Vec<Value> {
    std::fs::write(dir.join("cadence.toml"), policy).unwrap();
    let out: Output = handler_sweep(
        dir,
        server,
        &[("CADENCE_CONFIG", "cadence.toml")],
        &["--dry-run", "--now", NOW],
    );
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn patch_upgrade(lines: &[Value]) -> &Value {
    lines
        .iter()
        .find(|l| l["action"] == "upgrade" && l["detail"]["upgrade"]["scope"] == "patch")
        .unwrap_or_else(|| panic!("no patch upgrade line: {lines:#?}"))
}

fn patch_notice(lines: &[Value]) -> &Value {
    lines
        .iter()
        .find(|l| {
            l["action"] == "log"
                && l["concern"] == "kubernetes-upgrade"
                && l["target"] == "patch:1.24.6"
                && l["stage"] == "notice"
        })
        .unwrap_or_else(|| panic!("no patch notice line: {lines:#?}"))
}

#[tokio::test]
async fn an_upgrade_without_quota_or_subnet_room_for_its_surge_node_is_held_with_the_numbers() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    mount_compute_usages(
        &server,
        ResponseTemplate::new(200).set_body_json(compute_usages(&[
            ("cores", 100, 100),
            ("standardDSv2Family", 10, 100),
        ])),
    )
    .await;
    // 240 of 251 addresses used: 11 free, the surge node needs 1 + 110.
    mount_network_usages(&server, network_usages(240.0, 251.0)).await;
    mount_fleet(&server, &[cluster()]).await;
    expect_no_cluster_writes(&server).await;
    let dir = tempfile::tempdir().unwrap();

    let lines = sweep(dir.path(), &server, POLICY);
    let upgrade = patch_upgrade(&lines);
    let subnet = SUBNET
        .replace("subid1", arm_common::SUB);
    assert_eq!(
        upgrade["held_by"],
        json!({"gate": "readiness", "problems": [
            {"check": "quota", "counter": "cores", "needed": 1, "available": 0},
            {"check": "subnet", "subnet": subnet, "needed": 111, "available": 11},
        ]}),
        "{upgrade:#}"
    );
    let summary = upgrade["summary"].as_str().unwrap();
    assert!(
        summary.contains("held: not ready: vCPU quota cores: the surge nodes need 1, 0 available; subnet vnet-prod/aks-nodes: the surge nodes need 111 IP addresses, 11 available"),
        "{summary}"
    );
    // The concern's message says it too.
    let note = patch_notice(&lines)["note"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        note.starts_with("readiness: vCPU quota cores: the surge nodes need 1, 0 available"),
        "{note}"
    );
}

#[tokio::test]
async fn an_upgrade_with_room_to_spare_is_not_held_and_says_nothing_about_readiness() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    mount_compute_usages(
        &server,
        ResponseTemplate::new(200).set_body_json(compute_usages(&[("cores", 10, 100)])),
    )
    .await;
    mount_network_usages(&server, network_usages(10.0, 251.0)).await;
    mount_fleet(&server, &[cluster()]).await;
    expect_no_cluster_writes(&server).await;
    let dir = tempfile::tempdir().unwrap();

    let lines = sweep(dir.path(), &server, POLICY);
    let upgrade = patch_upgrade(&lines);
    assert!(upgrade.get("held_by").is_none(), "{upgrade:#}");
    assert!(
        upgrade["summary"]
            .as_str()
            .unwrap()
            .contains("would start now"),
        "{upgrade:#}"
    );
    assert!(patch_notice(&lines).get("note").is_none(), "{lines:#?}");
}

#[tokio::test]
async fn a_refused_quota_read_is_reported_as_unknown_and_holds_only_when_policy_says_so() {
    let forbidden = || {
        ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization to perform action 'Microsoft.Compute/locations/usages/read'"}}))
    };
    let dir = tempfile::tempdir().unwrap();

    // Default policy: reported, not held.
    let server = MockServer::start().await;
    mount_identity(&server).await;
    mount_compute_usages(&server, forbidden()).await;
    mount_network_usages(&server, network_usages(10.0, 251.0)).await;
    mount_fleet(&server, &[cluster()]).await;
    expect_no_cluster_writes(&server).await;
    let lines = sweep(dir.path(), &server, POLICY);
    let upgrade = patch_upgrade(&lines);
    assert!(upgrade.get("held_by").is_none(), "{upgrade:#}");
    let note = patch_notice(&lines)["note"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        note.starts_with("readiness: unknown: vCPU quota: Compute usages of subscription"),
        "{note}"
    );
    assert!(
        note.contains("HTTP 403") && note.contains("grant Microsoft.Compute/locations/usages/read"),
        "{note}"
    );
    drop(server);

    // `hold_when_unknown = true`: the same answer holds the upgrade, naming the cause.
    let server = MockServer::start().await;
    mount_identity(&server).await;
    mount_compute_usages(&server, forbidden()).await;
    mount_network_usages(&server, network_usages(10.0, 251.0)).await;
    mount_fleet(&server, &[cluster()]).await;
    expect_no_cluster_writes(&server).await;
    let lines = sweep(
        dir.path(),
        &server,
        &format!("{POLICY}\n[readiness]\nhold_when_unknown = true\n"),
    );
    let upgrade = patch_upgrade(&lines);
    assert_eq!(upgrade["held_by"]["gate"], "readiness", "{upgrade:#}");
    assert_eq!(upgrade["held_by"]["problems"], json!([]), "{upgrade:#}");
    let unknown = upgrade["held_by"]["unknown"][0].as_str().unwrap();
    assert!(
        unknown.starts_with("vCPU quota: Compute usages of subscription")
            && unknown.contains("HTTP 403"),
        "{unknown}"
    );
}

/// `[readiness] enabled = false` turns the readiness reads off, not just the holds: the same
/// sweep with readiness on reads the Compute and virtual-network usages once each; with it off,
/// the fake ARM receives no usages request at all, and every other read is the same.
#[tokio::test]
async fn readiness_disabled_makes_no_quota_or_subnet_reads() {
    async fn usages_requests(server: &MockServer) -> (usize, Vec<String>) {
        let paths: Vec<String> = server.received_requests().await.unwrap_or_default().iter().map(|r| r.url.path().to_string()).collect();
        let usages = paths.iter().filter(|p| p.ends_with("/usages")).count();
        let others: Vec<String> = paths.into_iter().filter(|p| !p.ends_with("/usages")).collect();
        (usages, others)
    }
    // On (the default): one read of each.
    let on = MockServer::start().await;
    mount_identity(&on).await;
    mount_compute_usages(&on, ResponseTemplate::new(200).set_body_json(compute_usages(&[("cores", 10, 100)]))).await;
    mount_network_usages(&on, network_usages(10.0, 251.0)).await;
    mount_fleet(&on, &[cluster()]).await;
    expect_no_cluster_writes(&on).await;
    let dir = tempfile::tempdir().unwrap();
    sweep(dir.path(), &on, POLICY);
    on.verify().await;
    let (usages_on, mut others_on) = usages_requests(&on).await;
    assert_eq!(usages_on, 2, "readiness on: Compute usages and virtual-network usages, once each");

    // Off: none.
    let off = MockServer::start().await;
    mount_identity(&off).await;
    Mock::given(method("GET"))
        .and(path_regex(r"/usages$"))
        .respond_with(ResponseTemplate::new(500))
        .with_priority(1)
        .expect(0)
        .named("any usages read")
        .mount(&off)
        .await;
    mount_fleet(&off, &[cluster()]).await;
    expect_no_cluster_writes(&off).await;
    let dir = tempfile::tempdir().unwrap();
    let lines = sweep(dir.path(), &off, &format!("{POLICY}\n[readiness]\nenabled = false\n"));
    off.verify().await;
    let (usages_off, mut others_off) = usages_requests(&off).await;
    assert_eq!(usages_off, 0);
    others_on.sort();
    others_off.sort();
    assert_eq!(others_on, others_off, "only the readiness reads differ");
    assert!(patch_upgrade(&lines).get("held_by").is_none(), "{lines:#?}");
}
