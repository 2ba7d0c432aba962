//! Approvals through GitHub, end to end through the real binary: `handler sweep` live against a
//! fake ARM fleet (`fleet_support`) and a fake GitHub speaking the documented payloads (issue
//! events, comments with authors, collaborator permissions). `prod` has `patch = "auto"` with
//! `approval = "github"` and its auto-upgrade window open: nothing is PUT until a user with write
//! access approves on the concern's issue; a non-writer's `/approve` does nothing; a writer's
//! label starts it (one PUT), the issue is told who approved, the ledger keeps it; a newer
//! target waits for a new approval.

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::path::Path;
use std::process::Output;

use aks_cadence::domain::{ClusterId, Concern, ConcernKind};
use aks_cadence::action::ActionKey;
use aks_cadence::store::{Claim, Completion, Ledger};
use aks_cadence::store::sqlite::SqliteLedger;
use e2e_support::{Comments, FakeGithub};
use fleet_support::{FleetCluster, LATEST_IMAGE};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// 2026-01-15 is a 15th of the example's auto-upgrade schedule: open 08:30–13:30 UTC.
const IN_AUTO_WINDOW: &str = "2026-01-15T09:00:00Z";
const ISSUE_URL: &str = "https://github.example/o/r/issues/1";

const POLICY: &str = r#"
[defaults.upgrade]
patch = "auto"

[[rule]]
name = "prod"
clusters = ["prod"]
[rule.upgrade]
approval = "github"
[rule.github_issue]
repo = "o/r"
"#;

fn prod(upgrades: Vec<&'static str>) -> FleetCluster {
    FleetCluster::new("prod", "1.24.6", LATEST_IMAGE, upgrades)
}

/// The fleet: `prod` offered `upgrades`; the region also offers 1.24.10 (added to Microsoft's
/// example list). Upgrade PUTs are accepted and counted by the test ([`puts`]).
async fn fleet(arm: &MockServer, cluster: &FleetCluster) {
    arm.reset().await;
    fleet_support::mount_identity(arm).await;
    let mut versions = arm_common::example_body("kubernetes_versions_list.2025-10-01.json", "200");
    versions["values"][1]["patchVersions"]["1.24.6"]["upgrades"] = json!(["1.24.9", "1.24.10", "1.25.4", "1.25.5"]);
    versions["values"][1]["patchVersions"]["1.24.10"] = json!({"upgrades": ["1.25.4", "1.25.5"]});
    Mock::given(method("GET"))
        .and(path_regex(r"/locations/[^/]+/kubernetesVersions$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(versions))
        .with_priority(1)
        .mount(arm)
        .await;
    mount_upgrades(arm, cluster).await;
    fleet_support::mount_fleet(arm, std::slice::from_ref(cluster)).await;
}

/// ARM accepts a version upgrade PUT (with the GET's ETag in `If-Match`) as
/// `fleet_support::expect_version_upgrade` does, without an expected count: the test counts
/// the PUTs itself after each sweep.
async fn mount_upgrades(arm: &MockServer, cluster: &FleetCluster) {
    let op_url = format!("{}{}?api-version=2017-08-31", arm.uri(), fleet_support::OP_PATH);
    Mock::given(method("PUT"))
        .and(wiremock::matchers::path(cluster.id()))
        .and(wiremock::matchers::header("if-match", fleet_support::ETAG))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("Azure-AsyncOperation", op_url.as_str())
                .insert_header("Retry-After", "0")
                .set_body_json(cluster.resource.clone()),
        )
        .mount(arm)
        .await;
    let mut done = arm_common::fixture("arm/async_operation_status_inprogress.docs.json");
    done["status"] = json!("Succeeded");
    done["name"] = json!("op-e2e");
    Mock::given(method("GET"))
        .and(wiremock::matchers::path(fleet_support::OP_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(done))
        .mount(arm)
        .await;
}

/// The upgrade PUTs ARM received so far, by target version.
async fn puts(arm: &MockServer) -> Vec<String> {
    arm.received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "PUT")
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap()["properties"]["kubernetesVersion"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn sweep(dir: &Path, arm: &MockServer, gh: &FakeGithub, now: &str) -> Vec<Value> {
    sweep_with(dir, arm, gh, POLICY, &["--now", now])
}

/// `handler sweep ARGS` live with `policy` (`fleet_support::live_sweep`; `args` start with
/// `--now NOW`), its JSON lines.
fn sweep_with(dir: &Path, arm: &MockServer, gh: &FakeGithub, policy: &str, args: &[&str]) -> Vec<Value> {
    let (now, extra) = match args {
        ["--now", now, extra @ ..] => (*now, extra),
        _ => panic!("sweep_with takes --now NOW first: {args:?}"),
    };
    let out: Output = fleet_support::live_sweep(dir, arm, policy, &gh.uri(), now, extra);
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn upgrade_line<'a>(planned: &'a [Value], target: &str) -> &'a Value {
    planned
        .iter()
        .find(|l| l["action"] == "upgrade" && l["detail"]["upgrade"]["scope"] == "patch" && l["detail"]["target"] == target)
        .unwrap_or_else(|| panic!("no patch upgrade line to {target}: {planned:#?}"))
}

async fn github() -> (FakeGithub, Comments) {
    let gh = FakeGithub::start().await;
    let comments = gh.comments().await;
    gh.permissions(&[("alice", "maintain"), ("mallory", "triage")]).await;
    (gh, comments)
}

#[tokio::test]
async fn an_auto_patch_needing_approval_waits_for_a_writer_on_the_issue_and_a_newer_target_needs_a_new_approval() {
    let (gh, comments) = github().await;
    gh.expect_creates(1).await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cluster = prod(vec!["1.24.9"]);
    fleet(&arm, &cluster).await;

    // The window is open and every other gate lets it run: it waits for approval. The issue is
    // opened by this run and says how to approve.
    let planned = sweep(dir.path(), &arm, &gh, IN_AUTO_WINDOW);
    let held = upgrade_line(&planned, "1.24.9");
    assert_eq!(held["held_by"]["gate"], "awaiting_approval", "{held}");
    assert!(puts(&arm).await.is_empty());
    let issue = gh.issues().into_iter().next().expect("the concern's issue");
    assert!(issue.body.contains("**Approval**: Approval required before aks-cadence starts this change: a user with write access applies the label `aks-cadence/approved` or comments `/approve`"), "{}", issue.body);

    // A user without write access comments /approve: still held, now naming the issue.
    comments.post_as(issue.number, "mallory", "/approve", "2026-01-15T09:10:00Z");
    let planned = sweep(dir.path(), &arm, &gh, "2026-01-15T09:20:00Z");
    let held = upgrade_line(&planned, "1.24.9");
    assert_eq!(held["held_by"], json!({"gate": "awaiting_approval", "url": ISSUE_URL}), "{held}");
    assert!(held["summary"].as_str().unwrap().contains(&format!("held: awaiting approval on {ISSUE_URL}")), "{held}");
    assert!(puts(&arm).await.is_empty(), "a non-writer's /approve starts nothing");
    assert!(gh.gets_matching(r"/collaborators/mallory/permission$").await >= 1, "mallory's access was checked through the API");

    // A writer (maintain) applies the approval label: one PUT, the issue hears who approved.
    gh.label(issue.number, "aks-cadence/approved", "alice", "2026-01-15T09:30:00Z");
    let planned = sweep(dir.path(), &arm, &gh, "2026-01-15T09:40:00Z");
    let started = upgrade_line(&planned, "1.24.9");
    assert!(started.get("held_by").is_none(), "{started}");
    assert_eq!(puts(&arm).await, vec!["1.24.9".to_string()]);
    let said = comments.on(issue.number).join("\n");
    assert!(
        said.contains("Starting the upgrade to 1.24.9 in the window (open until 2026-01-15 13:30 UTC), approved by @alice at 2026-01-15 09:30 UTC (label)."),
        "{said}"
    );
    let concern = Concern::new(ClusterId::parse(&cluster.id()).unwrap(), ConcernKind::KubernetesUpgrade, "patch:1.24.6");
    let ledger = SqliteLedger::open(dir.path().join("cadence.db")).unwrap();
    let record: Value = serde_json::from_str(&ledger.get_ref(&concern.key(), "approval:1.24.9").await.unwrap().expect("the approval is in the ledger")).unwrap();
    assert_eq!(record, json!({"target": "1.24.9", "by": "alice", "at": "2026-01-15T09:30:00Z", "via": "label", "url": ISSUE_URL}));
    drop(ledger);

    // Later ARM still reports 1.24.6 and now also offers 1.24.10: the concern's target moves to
    // 1.24.10 on the same issue, where alice's label approved 1.24.9 only. Held again.
    let cluster = prod(vec!["1.24.9", "1.24.10"]);
    fleet(&arm, &cluster).await;
    let planned = sweep(dir.path(), &arm, &gh, "2026-01-15T10:00:00Z");
    let held = upgrade_line(&planned, "1.24.10");
    assert_eq!(held["held_by"], json!({"gate": "awaiting_approval", "url": ISSUE_URL}), "{held}");
    assert!(puts(&arm).await.is_empty(), "no PUT for the newer target (the fleet was reset)");

    // alice approves the new target by comment; a /hold by her afterwards stops it again.
    comments.post_as(issue.number, "alice", "Looks good.\n/approve", "2026-01-15T10:05:00Z");
    comments.post_as(issue.number, "alice", "/hold", "2026-01-15T10:06:00Z");
    let planned = sweep(dir.path(), &arm, &gh, "2026-01-15T10:10:00Z");
    let held = upgrade_line(&planned, "1.24.10");
    assert_eq!(held["held_by"], json!({"gate": "approval_held", "by": "alice", "url": ISSUE_URL}), "{held}");
    assert!(puts(&arm).await.is_empty());
    gh.server.verify().await;
}

#[tokio::test]
async fn an_unreadable_permission_holds_the_change_and_names_the_cause() {
    let gh = FakeGithub::start().await;
    let comments = gh.comments().await;
    // The permission endpoint fails: GitHub answers 502.
    Mock::given(method("GET"))
        .and(path_regex(r"/collaborators/[^/]+/permission$"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .mount(&gh.server)
        .await;
    gh.expect_creates(1).await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cluster = prod(vec!["1.24.9"]);
    fleet(&arm, &cluster).await;

    sweep(dir.path(), &arm, &gh, IN_AUTO_WINDOW);
    comments.post_as(1, "alice", "/approve", "2026-01-15T09:10:00Z");
    let planned = sweep(dir.path(), &arm, &gh, "2026-01-15T09:20:00Z");
    let held = upgrade_line(&planned, "1.24.9");
    assert_eq!(held["held_by"]["gate"], "awaiting_approval", "{held}");
    let cause = held["held_by"]["cause"].as_str().unwrap_or_else(|| panic!("a cause: {held}"));
    assert!(cause.contains("the access of @alice could not be read") && cause.contains("transient") && cause.contains("502"), "{cause}");
    assert!(puts(&arm).await.is_empty(), "never acts without a readable approval");
}

/// `prod` on `patch = "auto"` (no approval) with a pull request channel: once the concern's
/// pull request is merged, the IaC pipeline applies the version and aks-cadence starts nothing.
const POLICY_IAC: &str = r#"
[defaults.upgrade]
patch = "auto"

[[rule]]
name = "prod"
clusters = ["prod"]
[rule.github_issue]
repo = "o/r"
[rule.github_pr]
repo = "o/r"
path = "infra/aks.bicepparam"
key = "kubernetesVersion"
"#;

#[tokio::test]
async fn a_merged_iac_pull_request_means_aks_cadence_does_not_start_the_change() {
    let gh = FakeGithub::start().await;
    let _comments = gh.comments().await;
    gh.pull(7, Some("2026-01-14T16:00:00Z")).await;
    gh.expect_creates(1).await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cluster = prod(vec!["1.24.9"]);
    fleet(&arm, &cluster).await;
    let concern = Concern::new(ClusterId::parse(&cluster.id()).unwrap(), ConcernKind::KubernetesUpgrade, "patch:1.24.6");

    // The pull request was opened and merged earlier (as an earlier run of the adapter leaves
    // the ledger: its action done, its number kept).
    let dry = sweep_with(dir.path(), &arm, &gh, POLICY_IAC, &["--now", IN_AUTO_WINDOW, "--dry-run"]);
    let pr_key = dry.iter().find(|l| l["action"] == "github_pull_request").expect("the pull request line")["key"].as_str().unwrap().to_string();
    {
        let ledger = SqliteLedger::open(dir.path().join("cadence.db")).unwrap();
        let key = ActionKey::from_raw(pr_key);
        let now: jiff::Timestamp = "2026-01-14T15:00:00Z".parse().unwrap();
        let Claim::Acquired(token) = ledger.claim(&key, "earlier-run", now, jiff::SignedDuration::from_mins(5)).await.unwrap() else { panic!("claimable") };
        ledger.complete(&key, &token, Completion::Done { detail: "https://github.example/o/r/pull/7".into() }, now).await.unwrap();
        ledger.put_ref(&concern.key(), "github-pull:o/r", "7").await.unwrap();
    }

    let planned = sweep_with(dir.path(), &arm, &gh, POLICY_IAC, &["--now", IN_AUTO_WINDOW]);
    let held = upgrade_line(&planned, "1.24.9");
    assert_eq!(held["held_by"], json!({"gate": "handled_by_iac", "pr": "https://github.example/o/r/pull/7"}), "{held}");
    assert!(puts(&arm).await.is_empty(), "the IaC pipeline applies it: no PUT");
    let ledger = SqliteLedger::open(dir.path().join("cadence.db")).unwrap();
    assert_eq!(ledger.get_ref(&concern.key(), "iac-merged").await.unwrap().as_deref(), Some("https://github.example/o/r/pull/7"));

    // From then on the plan itself knows (a ledger fact): held without asking GitHub again, and
    // told as handled through IaC.
    let before = gh.gets_matching(r"/pulls/7$").await;
    let planned = sweep_with(dir.path(), &arm, &gh, POLICY_IAC, &["--now", "2026-01-15T09:30:00Z"]);
    assert_eq!(upgrade_line(&planned, "1.24.9")["held_by"]["gate"], "handled_by_iac");
    assert_eq!(gh.gets_matching(r"/pulls/7$").await, before);
    assert!(puts(&arm).await.is_empty());
}
