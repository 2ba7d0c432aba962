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
use std::process::Output;

use e2e_support::{Comments, FakeGithub, REPO};
use fleet_support::{FleetCluster, LATEST_IMAGE};
use serde_json::{Value, json};
use wiremock::MockServer;

/// 2026-01-15 is a 15th of the example's auto-upgrade schedule: open 08:30–13:30 UTC.
const IN_AUTO_WINDOW: &str = "2026-01-15T09:00:00Z";

async fn github() -> (FakeGithub, Comments) {
    let gh = FakeGithub::start().await;
    let comments = gh.comments().await;
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
    fleet_support::live_sweep(dir, arm, &policy, &gh.uri(), now, &[])
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
    let said: Vec<String> = comments.on(issue.number);
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
    let told: String = comments.on(issue.number).into_iter().collect::<Vec<_>>().join("\n") + &issue.body + &issue.title;
    for cause in ["auto-upgrade is configured but did not happen", "UpgradeBlockedOnDeprecatedAPIUsage", "kubectl get pdb -A", "az vm list-usage", "powerState"] {
        assert!(told.contains(cause), "{cause} missing from what the issue says:\n{told}");
    }
    gh.server.verify().await;
}

/// The fake ARM fleet: `prod` on 1.24.9 (nothing to upgrade) with `auto_upgrade` as its
/// `autoUpgradeProfile`; no cluster write is allowed.
async fn fleet_with_channels(arm: &MockServer, auto_upgrade: Value) {
    arm.reset().await;
    fleet_support::mount_identity(arm).await;
    let mut prod = FleetCluster::new("prod", "1.24.9", LATEST_IMAGE, vec![]);
    prod.resource["properties"]["autoUpgradeProfile"] = auto_upgrade;
    fleet_support::mount_fleet(arm, &[prod]).await;
    fleet_support::expect_no_cluster_writes(arm).await;
}

/// `handler sweep` live at `now` requiring upgradeChannel `patch`, issues in o/r.
fn sweep_requiring_patch(dir: &Path, arm: &MockServer, gh: &FakeGithub, now: &str) -> Output {
    let policy = format!("[defaults]\nrequire_upgrade_channel = \"patch\"\n\n[[rule]]\nname = \"platform\"\n[rule.github_issue]\nrepo = \"{REPO}\"\n");
    fleet_support::live_sweep(dir, arm, &policy, &gh.uri(), now, &[])
}

const CHANNEL_MARK: &str = "#aks-channel#upgradechannel -->";

/// The GitHub requests so far that are not about the fleet dashboard (its issue, its comments,
/// or opening it).
async fn concern_calls(gh: &FakeGithub) -> usize {
    let boards: Vec<String> = gh.dashboards().iter().map(|d| format!("/issues/{}", d.number)).collect();
    gh.requests()
        .await
        .iter()
        .filter(|r| {
            let p = r.url.path();
            let opens_board = r.method.as_str() == "POST" && String::from_utf8_lossy(&r.body).contains(e2e_support::DASHBOARD_TITLE);
            !opens_board && !boards.iter().any(|b| p.ends_with(b.as_str()) || p.contains(&format!("{b}/")))
        })
        .count()
}

#[tokio::test]
async fn a_cluster_without_the_required_channel_gets_one_issue_with_the_command_closed_once_a_sweep_sees_it_set() {
    let (gh, comments) = github().await;
    gh.expect_creates(1).await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    fleet_with_channels(&arm, json!({"upgradeChannel": "none", "nodeOSUpgradeChannel": "NodeImage"})).await;
    let planned = lines(&sweep_requiring_patch(dir.path(), &arm, &gh, IN_AUTO_WINDOW));
    assert!(planned.iter().any(|l| l["target"] == "upgradeChannel" && l["stage"] == "notice"), "{planned:#?}");
    let issues: Vec<_> = gh.issues().into_iter().filter(|i| i.body.contains(CHANNEL_MARK)).collect();
    assert_eq!(issues.len(), 1, "one issue for the setting");
    let told = format!("{}\n{}", issues[0].title, issues[0].body);
    for want in [
        "az aks update --subscription ",
        "--name prod --auto-upgrade-channel patch",
        "upgradeChannel",
        "patch",
        "best-practice guide recommends",
    ] {
        assert!(told.contains(want), "{want:?} missing from the issue:\n{told}");
    }
    arm.verify().await;

    // Unchanged: no new call to GitHub about the concern (the fleet dashboard may move with the
    // window, which is tested in e2e_dashboard).
    let before = concern_calls(&gh).await;
    sweep_requiring_patch(dir.path(), &arm, &gh, "2026-01-16T09:00:00Z");
    assert_eq!(concern_calls(&gh).await, before, "an unchanged sweep says nothing new");

    // Set: the issue closes saying so.
    fleet_with_channels(&arm, json!({"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"})).await;
    sweep_requiring_patch(dir.path(), &arm, &gh, "2026-01-17T09:00:00Z");
    arm.verify().await;
    let issue = gh.issues().into_iter().find(|i| i.body.contains(CHANNEL_MARK)).unwrap();
    assert_eq!(issue.state, "closed");
    let said = comments.on(issue.number).join("\n");
    assert!(said.contains("upgradeChannel is now set to patch"), "{said}");

    // And the sweep after that is quiet again.
    let before = concern_calls(&gh).await;
    sweep_requiring_patch(dir.path(), &arm, &gh, "2026-01-18T09:00:00Z");
    assert_eq!(concern_calls(&gh).await, before);
    gh.server.verify().await;
}
