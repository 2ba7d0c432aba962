//! Two edges of approvals, end to end through the real binary (`handler sweep` live against a
//! fake ARM fleet and a fake GitHub, as tests/e2e_approvals.rs):
//! - the run that opens the concern's issue already names it in `held_by: awaiting_approval`
//!   (the issue adapter answers its address), not only the next run;
//! - the issue hears "Starting the upgrade …, approved by @alice" only when ARM accepted the
//!   change: a refused PUT gets the failure report instead, and never the approval echo.

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::path::Path;

use e2e_support::{Comments, FakeGithub, REPO};
use fleet_support::{FleetCluster, LATEST_IMAGE};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// 2026-01-15 is a 15th of the example's auto-upgrade schedule: open 08:30–13:30 UTC.
const IN_AUTO_WINDOW: &str = "2026-01-15T09:00:00Z";
const ISSUE_URL: &str = "https://github.example/o/r/issues/1";

fn policy() -> String {
    format!(
        r#"[defaults.upgrade]
patch = "auto"

[[rule]]
name = "prod"
clusters = ["prod"]
[rule.upgrade]
approval = "github"
[rule.github_issue]
repo = "{REPO}"
"#
    )
}

fn prod() -> FleetCluster {
    FleetCluster::new("prod", "1.24.6", LATEST_IMAGE, vec!["1.24.9"])
}

/// The fleet: prod offered 1.24.9. `put` is ARM's answer to an upgrade PUT (expected `puts`
/// times); any other cluster write fails the test.
async fn fleet(arm: &MockServer, put: Option<ResponseTemplate>, puts: u64) {
    arm.reset().await;
    fleet_support::mount_identity(arm).await;
    let cluster = prod();
    if let Some(answer) = put {
        Mock::given(method("PUT")).and(path(cluster.id())).respond_with(answer).expect(puts).named("the upgrade PUT").mount(arm).await;
    }
    fleet_support::mount_fleet(arm, &[cluster]).await;
    fleet_support::expect_no_cluster_writes(arm).await;
}

fn sweep(dir: &Path, arm: &MockServer, gh: &FakeGithub, now: &str) -> Vec<Value> {
    let out = fleet_support::live_sweep(dir, arm, &policy(), &gh.uri(), now, &[]);
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn upgrade_line(planned: &[Value]) -> &Value {
    planned
        .iter()
        .find(|l| l["action"] == "upgrade" && l["detail"]["upgrade"]["scope"] == "patch")
        .unwrap_or_else(|| panic!("no patch upgrade line: {planned:#?}"))
}

async fn github() -> (FakeGithub, Comments) {
    let gh = FakeGithub::start().await;
    let comments = gh.comments().await;
    gh.permissions(&[("alice", "maintain")]).await;
    gh.expect_creates(1).await;
    (gh, comments)
}

#[tokio::test]
async fn the_run_that_opens_the_issue_names_it_in_the_awaiting_approval_hold() {
    let (gh, _comments) = github().await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    fleet(&arm, None, 0).await;
    let planned = sweep(dir.path(), &arm, &gh, IN_AUTO_WINDOW);
    let held = upgrade_line(&planned);
    assert_eq!(held["held_by"], json!({"gate": "awaiting_approval", "url": ISSUE_URL}), "{held}");
    assert!(held["summary"].as_str().unwrap().contains(&format!("held: awaiting approval on {ISSUE_URL}")), "{held}");
    assert_eq!(gh.issues().len(), 1);
    gh.server.verify().await;
}

#[tokio::test]
async fn an_approved_change_arm_refuses_gets_the_failure_not_the_approval_echo() {
    let (gh, comments) = github().await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    fleet(&arm, None, 0).await;
    sweep(dir.path(), &arm, &gh, IN_AUTO_WINDOW);
    let issue = gh.issues().into_iter().next().expect("the concern's issue");

    // alice approves; ARM refuses the PUT (400, ARM's error shape).
    gh.label(issue.number, "aks-cadence/approved", "alice", "2026-01-15T09:10:00Z");
    let refused = ResponseTemplate::new(400).set_body_json(json!({"error": {"code": "NotAllowedUpgrade", "message": "Upgrading to 1.24.9 is not allowed for this cluster"}}));
    fleet(&arm, Some(refused), 1).await;
    let planned = sweep(dir.path(), &arm, &gh, "2026-01-15T09:20:00Z");
    assert!(upgrade_line(&planned).get("held_by").is_none(), "approved, so it was tried: {}", upgrade_line(&planned));
    arm.verify().await;
    let said = comments.on(issue.number).join("\n");
    assert!(said.contains("NotAllowedUpgrade"), "the refusal is reported on the issue: {said}");
    assert!(!said.contains("approved by @alice"), "no approval echo for a change that did not start: {said}");
    assert!(!said.contains("Starting the upgrade"), "{said}");

    // The next run does not tell it late either.
    fleet(&arm, None, 0).await;
    sweep(dir.path(), &arm, &gh, "2026-01-15T09:40:00Z");
    assert!(!comments.on(issue.number).join("\n").contains("approved by @alice"));
    gh.server.verify().await;
}
