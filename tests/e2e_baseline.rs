//! The security baseline tracked like every other concern, end to end through the real binary:
//! `handler sweep` runs live (not dry-run) against a fake ARM fleet built from Microsoft's
//! ManagedClustersGet example and a stateful fake GitHub, with its own SQLite ledger, one sweep
//! a day as the timer would run them.
//!
//! A fleet with mixed postures gets one checklist issue per non-compliant cluster; fixing a
//! property updates that issue in place (one comment naming the fix, the box ticked); fixing
//! the rest closes it; the compliant cluster never gets one. Nothing is written to a cluster.

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::path::Path;
use std::process::Output;

use e2e_support::{FakeGithub, FakeIssue};
use fleet_support::*;
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const POLICY: &str = r#"
[baseline]
skip = ["uptime-sla"]

[[baseline.exception]]
checks = ["controlled-egress"]
clusters = ["hardened", "weak"]
reason = "egress through the hub firewall from Q2"
expires = 2026-03-31

[[rule]]
name = "platform"
[rule.github_issue]
repo = "o/r"
"#;

fn hardened() -> FleetCluster {
    let mut c = FleetCluster::new("hardened", "1.24.9", LATEST_IMAGE, vec![]);
    harden(&mut c);
    c
}

/// `weak` at three points in time: the example as it is (`0`), with a network policy (`1`),
/// with everything fixed (`2`).
fn weak(fixed: u8) -> FleetCluster {
    let mut c = FleetCluster::new("weak", "1.24.9", LATEST_IMAGE, vec![]);
    match fixed {
        0 => {}
        1 => c.resource["properties"]["networkProfile"]["networkPolicy"] = json!("azure"),
        _ => harden(&mut c),
    }
    c
}

async fn fleet(arm: &MockServer, clusters: &[FleetCluster]) {
    arm.reset().await;
    mount_identity(arm).await;
    let row = json!({"subscriptionId": arm_common::SUB, "name": "Containers", "pricingTier": "Standard", "subPlan": ""});
    Mock::given(method("POST"))
        .and(path("/providers/Microsoft.ResourceGraph/resources"))
        .and(body_string_contains("securityresources"))
        .respond_with(ResponseTemplate::new(200).set_body_json(arm_common::graph_page("resources_basic_query.2024-04-01.json", vec![row])))
        .with_priority(1)
        .expect(1)
        .mount(arm)
        .await;
    mount_fleet(arm, clusters).await;
    expect_no_cluster_writes(arm).await;
}

fn sweep(dir: &Path, arm: &MockServer, github: &FakeGithub, now: &str) -> Output {
    std::fs::write(dir.join("cadence.toml"), POLICY).unwrap();
    let out = handler_sweep(
        dir,
        arm,
        &[
            ("CADENCE_CONFIG", "cadence.toml"),
            ("CADENCE_DRY_RUN", "false"),
            ("CADENCE_SWEEP_EVENT_WIRING", "false"),
            ("GITHUB_TOKEN", "ghp_e2eBaseline00000000000000000000000"),
            ("GITHUB_API_URL", github.uri().as_str()),
        ],
        &["--now", now],
    );
    assert!(out.status.success(), "sweep failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn checklists(github: &FakeGithub) -> Vec<FakeIssue> {
    github.issues().into_iter().filter(|i| i.body.contains("#baseline#checklist@")).collect()
}

fn box_of<'a>(body: &'a str, check: &str) -> &'a str {
    body.lines().find(|l| l.starts_with("- [") && l.contains(&format!("`{check}`"))).unwrap_or_else(|| panic!("no line for {check} in {body}"))
}

#[tokio::test]
async fn one_checklist_issue_per_non_compliant_cluster_updated_when_a_property_is_fixed_and_closed_when_all_pass() {
    let github = FakeGithub::start().await;
    github.expect_creates(1).await;
    let comments = github.comments().await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    // Day 1: hardened passes everything (egress excepted); weak fails many checks.
    fleet(&arm, &[hardened(), weak(0)]).await;
    sweep(dir.path(), &arm, &github, "2026-01-15T09:00:00Z");
    let open = checklists(&github);
    assert_eq!(open.len(), 1, "one checklist, for weak only: {:#?}", github.issues());
    let issue = &open[0];
    assert!(issue.title.starts_with("weak: security baseline: "), "{}", issue.title);
    assert!(issue.body.contains("managedclusters/weak#baseline#checklist@2026-01-15t09:00z"), "{}", issue.body);
    assert!(!issue.body.contains("| Target |") && !issue.body.contains("Maintenance window"), "no version or window rows: {}", issue.body);
    assert!(box_of(&issue.body, "network-policy").starts_with("- [ ] "), "{}", issue.body);
    assert!(box_of(&issue.body, "pod-identity-off").starts_with("- [x] "), "passing checks are ticked: {}", issue.body);
    assert!(box_of(&issue.body, "controlled-egress").contains("excepted"), "{}", issue.body);
    assert!(box_of(&issue.body, "local-accounts-disabled").contains("az aks update"), "the fix is on the line: {}", issue.body);
    assert!(comments.on(issue.number).is_empty());
    arm.verify().await;

    // Day 2, unchanged: nothing new is said.
    fleet(&arm, &[hardened(), weak(0)]).await;
    sweep(dir.path(), &arm, &github, "2026-01-16T09:00:00Z");
    assert!(comments.on(issue.number).is_empty(), "an unchanged checklist is not commented on");

    // Day 3: weak gets a network policy. The same issue: one comment naming the fix, box ticked.
    fleet(&arm, &[hardened(), weak(1)]).await;
    sweep(dir.path(), &arm, &github, "2026-01-17T09:00:00Z");
    let now = checklists(&github);
    assert_eq!(now.len(), 1, "updated in place, not a second issue");
    assert_eq!(now[0].state, "open");
    let said = comments.on(issue.number);
    assert_eq!(said.len(), 1, "{said:#?}");
    assert!(said[0].contains("fixed: network-policy"), "{}", said[0]);
    assert!(box_of(&now[0].body, "network-policy").starts_with("- [x] "), "{}", now[0].body);
    sweep(dir.path(), &arm, &github, "2026-01-17T10:00:00Z");
    assert_eq!(comments.on(issue.number).len(), 1, "a sweep seeing the same again says nothing");

    // Day 4: everything fixed. The issue is closed with a closing comment.
    fleet(&arm, &[hardened(), weak(2)]).await;
    sweep(dir.path(), &arm, &github, "2026-01-18T09:00:00Z");
    let closed = checklists(&github);
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0].state, "closed", "closed when every check passes or is excepted");
    let said = comments.on(issue.number);
    assert_eq!(said.len(), 2, "{said:#?}");
    assert!(said[1].contains("**Resolved**"), "{}", said[1]);

    // Day 5: still compliant: nothing reopens, nothing is created (expect_creates(1) verifies).
    fleet(&arm, &[hardened(), weak(2)]).await;
    sweep(dir.path(), &arm, &github, "2026-01-19T09:00:00Z");
    assert_eq!(comments.on(issue.number).len(), 2);
    github.server.verify().await;
}

#[tokio::test]
async fn a_dry_run_prints_the_checklist_and_each_failing_check_and_writes_nothing() {
    let github = FakeGithub::start().await;
    github.expect_creates(0).await;
    let arm = MockServer::start().await;
    fleet(&arm, &[weak(0)]).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cadence.toml"), POLICY).unwrap();
    let out = handler_sweep(
        dir.path(),
        &arm,
        &[
            ("CADENCE_CONFIG", "cadence.toml"),
            ("CADENCE_SWEEP_EVENT_WIRING", "false"),
            ("GITHUB_TOKEN", "ghp_e2eBaseline00000000000000000000000"),
            ("GITHUB_API_URL", github.uri().as_str()),
        ],
        &["--dry-run", "--now", "2026-01-15T09:00:00Z"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let planned: Vec<&Value> = lines.iter().filter(|l| l["concern"] == "baseline").collect();
    let targets: Vec<&str> = planned.iter().map(|l| l["target"].as_str().unwrap()).collect();
    assert!(targets.contains(&"checklist@2026-01-15T09:00Z"), "{targets:?}");
    assert!(targets.contains(&"network-policy@2026-01-15T09:00Z"), "each failing check is its own concern: {targets:?}");
    assert!(planned.iter().all(|l| l.get("held_by").is_none()), "the baseline only reports");
    assert!(github.requests().await.iter().all(|r| r.method.as_str() == "GET"), "dry-run writes nothing to GitHub");
    github.server.verify().await;
}
