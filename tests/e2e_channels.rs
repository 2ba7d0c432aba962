//! AKS's own auto-upgrade channel, end to end through the real binary: `handler sweep` live
//! against a fake ARM built from Microsoft's examples (`fleet_support`) and a fake GitHub. A
//! cluster on channel `patch` with a patch offered and `patch = "auto"` inside an open window:
//! zero writes, an issue saying AKS applies it; once ARM reports the new version the issue
//! closes saying AKS applied it. Still on the old version after the deadline: the watchdog.

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use e2e_support::{FakeGithub, REPO};
use fleet_support::{FleetCluster, LATEST_IMAGE};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// 2026-01-15 is a 15th of the example's auto-upgrade schedule: open 08:30–13:30 UTC.
const IN_AUTO_WINDOW: &str = "2026-01-15T09:00:00Z";

/// Comments posted on the fake's issues (`POST /repos/o/r/issues/N/comments`).
#[derive(Clone, Default)]
struct Comments(Arc<Mutex<Vec<(u64, String)>>>);

impl Respond for Comments {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let n: u64 = req.url.path().split('/').nth(5).and_then(|n| n.parse().ok()).expect("/repos/o/r/issues/N/comments");
        if req.method.as_str() == "POST" {
            let body: Value = serde_json::from_slice(&req.body).expect("a comment is JSON");
            self.0.lock().unwrap().push((n, body["body"].as_str().unwrap_or_default().to_string()));
            return ResponseTemplate::new(201).set_body_json(json!({"id": self.0.lock().unwrap().len()}));
        }
        let on: Vec<Value> = self.0.lock().unwrap().iter().filter(|(i, _)| *i == n).map(|(_, b)| json!({"body": b})).collect();
        ResponseTemplate::new(200).set_body_json(on)
    }
}

async fn github() -> (FakeGithub, Comments) {
    let gh = FakeGithub::start().await;
    let comments = Comments::default();
    for m in ["GET", "POST"] {
        Mock::given(method(m)).and(path_regex(format!("^/repos/{REPO}/issues/[0-9]+/comments$"))).respond_with(comments.clone()).mount(&gh.server).await;
    }
    (gh, comments)
}

/// The fake ARM fleet: `prod` on `version` with auto-upgrade channel `patch`, offered `upgrades`;
/// no cluster write is allowed.
async fn fleet(arm: &MockServer, version: &str, upgrades: Vec<&'static str>) {
    arm.reset().await;
    fleet_support::mount_identity(arm).await;
    let mut prod = FleetCluster::new("prod", version, LATEST_IMAGE, upgrades);
    prod.resource["properties"]["autoUpgradeProfile"] = json!({"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"});
    fleet_support::mount_fleet(arm, &[prod]).await;
    fleet_support::expect_no_cluster_writes(arm).await;
}

/// `handler sweep` live at `now` with `patch = "auto"` and issues in o/r.
fn sweep(dir: &Path, arm: &MockServer, gh: &FakeGithub, now: &str) -> Output {
    let policy = format!("[defaults.upgrade]\npatch = \"auto\"\n\n[[rule]]\nname = \"platform\"\n[rule.github_issue]\nrepo = \"{REPO}\"\n");
    std::fs::write(dir.join("cadence.toml"), policy).unwrap();
    let identity = format!("{}/msi/token", arm.uri());
    let out = Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .envs([
            ("ARM_ENDPOINT", arm.uri().as_str()),
            ("AZURE_CREDENTIAL", "managed_identity"),
            ("IDENTITY_ENDPOINT", identity.as_str()),
            ("IDENTITY_HEADER", fleet_support::IDENTITY_HEADER),
            ("CADENCE_SUBSCRIPTIONS", arm_common::SUB),
            ("CADENCE_CONFIG", "cadence.toml"),
            ("CADENCE_STATE", "sqlite:cadence.db"),
            ("CADENCE_DRY_RUN", "false"),
            ("GITHUB_TOKEN", "ghp_e2eChannels00000000000000000000000"),
            ("GITHUB_API_URL", gh.uri().as_str()),
        ])
        .args(["sweep", "--now", now])
        .output()
        .expect("run handler sweep");
    assert!(out.status.success(), "sweep failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8(o.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const PATCH_MARK: &str = "#kubernetes-upgrade#patch:1.24.6 -->";

#[tokio::test]
async fn a_patch_on_channel_patch_in_an_open_window_writes_nothing_and_its_issue_closes_when_aks_applied_it() {
    let (gh, comments) = github().await;
    gh.expect_creates(1).await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    fleet(&arm, "1.24.6", vec!["1.24.9"]).await;
    let planned = lines(&sweep(dir.path(), &arm, &gh, IN_AUTO_WINDOW));
    let upgrade = planned.iter().find(|l| l["action"] == "upgrade" && l["target"] == "patch:1.24.6").expect("the patch's execute line");
    assert_eq!(upgrade["held_by"]["gate"], "aks_channel", "{upgrade}");
    assert_eq!(upgrade["held_by"]["channel"], "upgradeChannel patch");
    arm.verify().await; // no PUT, PATCH, DELETE or POST action reached ARM

    let issue = gh.issues().into_iter().find(|i| i.body.contains(PATCH_MARK)).expect("an issue for the patch concern");
    assert_eq!(issue.state, "open");
    assert!(issue.title.contains("AKS applies this through upgradeChannel patch"), "{}", issue.title);
    assert!(issue.title.contains("window open now until 2026-01-15 13:30 UTC"), "{}", issue.title);

    // AKS applied it: ARM reports 1.24.9. The issue closes saying so; still nothing written.
    fleet(&arm, "1.24.9", vec![]).await;
    sweep(dir.path(), &arm, &gh, "2026-01-16T09:00:00Z");
    arm.verify().await;
    let issue = gh.issues().into_iter().find(|i| i.body.contains(PATCH_MARK)).unwrap();
    assert_eq!(issue.state, "closed");
    let said: Vec<String> = comments.0.lock().unwrap().iter().filter(|(n, _)| *n == issue.number).map(|(_, b)| b.clone()).collect();
    assert!(said.iter().any(|c| c.contains("AKS applied it through upgradeChannel patch (now 1.24.9)")), "{said:#?}");
    gh.server.verify().await;
}

#[tokio::test]
async fn a_patch_aks_did_not_apply_by_the_deadline_escalates_as_auto_upgrade_configured_but_not_happening() {
    let (gh, comments) = github().await;
    gh.expect_creates(1).await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    fleet(&arm, "1.24.6", vec!["1.24.9"]).await;
    sweep(dir.path(), &arm, &gh, IN_AUTO_WINDOW);
    // 15 days later (patch_within_days 14) the cluster still runs 1.24.6.
    let planned = lines(&sweep(dir.path(), &arm, &gh, "2026-01-30T09:00:00Z"));
    arm.verify().await;
    let overdue = planned.iter().find(|l| l["stage"] == "overdue" && l["target"] == "patch:1.24.6").expect("the watchdog's overdue line");
    assert!(
        overdue["summary"].as_str().unwrap().contains("auto-upgrade is configured but did not happen: Kubernetes 1.24.6 → 1.24.9 (patch) should have been applied by AKS through upgradeChannel patch by 2026-01-29"),
        "{overdue}"
    );
    let upgrade = planned.iter().find(|l| l["action"] == "upgrade" && l["target"] == "patch:1.24.6").unwrap();
    assert_eq!(upgrade["held_by"]["gate"], "aks_channel", "aks-cadence still never starts it");

    let issue = gh.issues().into_iter().find(|i| i.body.contains(PATCH_MARK)).unwrap();
    assert_eq!(issue.state, "open");
    let told: String = comments.0.lock().unwrap().iter().filter(|(n, _)| *n == issue.number).map(|(_, b)| b.clone()).collect::<Vec<_>>().join("\n") + &issue.body + &issue.title;
    for cause in ["auto-upgrade is configured but did not happen", "UpgradeBlockedOnDeprecatedAPIUsage", "kubectl get pdb -A", "az vm list-usage", "powerState"] {
        assert!(told.contains(cause), "{cause} missing from what the issue says:\n{told}");
    }
    gh.server.verify().await;
}
