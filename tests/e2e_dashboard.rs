//! The fleet dashboard end to end through the real binary: `handler sweep` live against the fake
//! ARM fleet (`fleet_support`) and the fake GitHub (`e2e_support`). The first sweep opens the
//! dashboard issue once; a second sweep of the unchanged fleet makes no GitHub call about it; a
//! changed fleet edits it once; a lost ledger finds the issue again instead of opening a second.
//! `handler status` prints the same fleet in its three formats without one request to Azure or
//! GitHub.

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::path::Path;
use std::process::Output;

use e2e_support::{FakeGithub, REPO};
use fleet_support::{FleetCluster, OLD_IMAGE};
use serde_json::{Value, json};
use wiremock::MockServer;

const TITLE: &str = e2e_support::DASHBOARD_TITLE;
const FIRST: &str = "2026-01-15T09:00:00Z";
/// The same day, hours later: nothing on the dashboard moves by the clock alone.
const SAME_DAY: &str = "2026-01-15T12:00:00Z";

/// The fake ARM fleet: `prod` on 1.24.6 (offered `upgrades`) and `dev` on 1.24.9; no cluster write.
async fn fleet(arm: &MockServer, upgrades: Vec<&'static str>) {
    arm.reset().await;
    fleet_support::mount_identity(arm).await;
    let mut prod = FleetCluster::new("prod", "1.24.6", OLD_IMAGE, upgrades);
    prod.resource["properties"]["autoUpgradeProfile"] = json!({"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"});
    let dev = FleetCluster::new("dev", "1.24.9", OLD_IMAGE, vec![]);
    fleet_support::mount_fleet(arm, &[prod, dev]).await;
    fleet_support::expect_no_cluster_writes(arm).await;
}

fn sweep(dir: &Path, arm: &MockServer, gh: &FakeGithub, now: &str) -> Output {
    let policy = format!("[[rule]]\nname = \"platform\"\n[rule.github_issue]\nrepo = \"{REPO}\"\n");
    std::fs::write(dir.join("cadence.toml"), policy).unwrap();
    let out = fleet_support::handler_sweep(
        dir,
        arm,
        &[
            ("CADENCE_CONFIG", "cadence.toml"),
            ("CADENCE_DRY_RUN", "false"),
            ("GITHUB_TOKEN", "ghp_e2eDashboard0000000000000000000000"),
            ("GITHUB_API_URL", gh.uri().as_str()),
        ],
        &["--now", now, "--format", "json"],
    );
    assert!(out.status.success(), "sweep failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The dashboard issues on the fake.
fn dashboards(gh: &FakeGithub) -> Vec<e2e_support::FakeIssue> {
    gh.dashboards()
}

/// GitHub requests about the dashboard (issue `n`, its comments, or creating it), as "METHOD path".
async fn dashboard_calls(gh: &FakeGithub, n: u64) -> Vec<String> {
    let one = format!("/repos/{REPO}/issues/{n}");
    gh.requests()
        .await
        .iter()
        .filter(|r| {
            let p = r.url.path();
            p == one
                || p.starts_with(&format!("{one}/"))
                || (r.method.as_str() == "POST" && p == format!("/repos/{REPO}/issues") && String::from_utf8_lossy(&r.body).contains(TITLE))
        })
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

fn writes(calls: &[String]) -> usize {
    calls.iter().filter(|c| !c.starts_with("GET ")).count()
}

#[tokio::test]
async fn the_dashboard_is_opened_once_left_alone_when_nothing_changed_and_edited_once_when_the_fleet_changed() {
    let gh = FakeGithub::start().await;
    gh.serve_creates().await;
    let _comments = gh.comments().await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    // First sweep: one dashboard, listing both clusters.
    fleet(&arm, vec!["1.24.9"]).await;
    let out = sweep(dir.path(), &arm, &gh, FIRST);
    let boards = dashboards(&gh);
    assert_eq!(boards.len(), 1, "one dashboard: {boards:?}\n{}", String::from_utf8_lossy(&out.stderr));
    let board = &boards[0];
    assert!(board.labels.iter().any(|l| l == "aks-cadence"), "{:?}", board.labels);
    for want in ["## Fleet", "| prod <sub>", "| dev <sub>", "1.24.6", "patch / NodeImage", "kubernetes-upgrade patch:1.24.6 (notice"] {
        assert!(board.body.contains(want), "the dashboard shows {want:?}:\n{}", board.body);
    }
    let n = board.number;
    let after_first = dashboard_calls(&gh, n).await;
    assert_eq!(writes(&after_first), 1, "opened with one write: {after_first:?}");

    // Second sweep, same fleet, later the same day: no call about the dashboard at all.
    sweep(dir.path(), &arm, &gh, SAME_DAY);
    let after_second = dashboard_calls(&gh, n).await;
    assert_eq!(after_second, after_first, "an unchanged fleet makes no GitHub call about the dashboard");
    assert_eq!(dashboards(&gh).len(), 1);

    // The fleet changed (a new minor is offered to prod): the dashboard is edited once, in place.
    fleet(&arm, vec!["1.24.9", "1.25.5"]).await;
    sweep(dir.path(), &arm, &gh, SAME_DAY);
    let after_third = dashboard_calls(&gh, n).await;
    let new: Vec<&String> = after_third[after_second.len()..].iter().collect();
    assert_eq!(new.iter().filter(|c| c.starts_with("PATCH ")).count(), 1, "one edit: {new:?}");
    assert_eq!(writes(&after_third), 2, "{after_third:?}");
    let boards = dashboards(&gh);
    assert_eq!(boards.len(), 1);
    assert!(boards[0].body.contains("kubernetes-upgrade 1.25"), "the new concern is on the dashboard:\n{}", boards[0].body);

    // The ledger is lost (a new one): the dashboard is found by its title and label, not opened again.
    std::fs::remove_file(dir.path().join("cadence.db")).unwrap();
    let _ = std::fs::remove_file(dir.path().join("cadence.db-wal"));
    let _ = std::fs::remove_file(dir.path().join("cadence.db-shm"));
    sweep(dir.path(), &arm, &gh, SAME_DAY);
    assert_eq!(dashboards(&gh).len(), 1, "never two dashboards");
    let creates = gh.requests().await.iter().filter(|r| r.method.as_str() == "POST" && String::from_utf8_lossy(&r.body).contains(TITLE)).count();
    assert_eq!(creates, 1);
}

/// `handler status ARGS` in `dir` with ARM and GitHub pointed at `spy`.
fn status(dir: &Path, spy: &MockServer, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .envs([
            ("ARM_ENDPOINT", spy.uri().as_str()),
            ("GITHUB_API_URL", spy.uri().as_str()),
            ("GITHUB_TOKEN", "ghp_e2eDashboard0000000000000000000000"),
            ("CADENCE_SUBSCRIPTIONS", arm_common::SUB),
            ("CADENCE_STATE", "sqlite:cadence.db"),
            ("CADENCE_CONFIG", "cadence.toml"),
        ])
        .arg("status")
        .args(args)
        .output()
        .expect("run handler status")
}

#[tokio::test]
async fn handler_status_prints_the_last_sweep_in_three_formats_without_calling_azure_or_github() {
    let dir = tempfile::tempdir().unwrap();
    let spy = MockServer::start().await;

    // Before any sweep: a clear message, exit 1, nothing on stdout.
    let none = status(dir.path(), &spy, &[]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no sweep has kept a fleet status yet: run `handler sweep`"), "{}", String::from_utf8_lossy(&none.stderr));
    assert!(none.stdout.is_empty());

    // A dry-run sweep (the default) keeps the status too.
    let gh = FakeGithub::start().await;
    let arm = MockServer::start().await;
    fleet(&arm, vec!["1.24.9"]).await;
    std::fs::write(dir.path().join("cadence.toml"), format!("[[rule]]\nname = \"platform\"\n[rule.github_issue]\nrepo = \"{REPO}\"\n")).unwrap();
    let out = fleet_support::handler_sweep(dir.path(), &arm, &[("CADENCE_CONFIG", "cadence.toml"), ("GITHUB_API_URL", gh.uri().as_str())], &["--now", FIRST, "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(gh.requests().await.is_empty(), "a dry run writes no dashboard");

    let text = status(dir.path(), &spy, &["--format", "text"]);
    assert!(text.status.success(), "{}", String::from_utf8_lossy(&text.stderr));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.starts_with("Fleet as of the sweep at 2026-01-15 09:00 UTC: 2 cluster(s)"), "{text}");
    assert!(text.contains("  prod (") && text.contains("1.24.6  channels patch / NodeImage"), "{text}");
    assert!(text.contains("    kubernetes-upgrade patch:1.24.6 (notice"), "{text}");

    let json = status(dir.path(), &spy, &["--format", "json"]);
    assert!(json.status.success());
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["swept_at"], "2026-01-15T09:00:00Z");
    let names: Vec<&str> = v["clusters"].as_array().unwrap().iter().map(|c| c["cluster"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
    assert_eq!(names, ["dev", "prod"], "sorted by id");
    assert_eq!(v["clusters"][1]["kubernetes_version"], "1.24.6");

    let md = status(dir.path(), &spy, &["--format", "markdown"]);
    assert!(md.status.success());
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(md.starts_with("# AKS fleet dashboard\n"), "{md}");
    assert!(md.contains("| prod <sub>"), "{md}");

    // Not a pipe-dependent default: without --format on a pipe it is JSON.
    let piped = status(dir.path(), &spy, &[]);
    assert!(serde_json::from_slice::<Value>(&piped.stdout).is_ok());

    assert!(spy.received_requests().await.unwrap().is_empty(), "handler status called Azure or GitHub");
}

/// A ledger an earlier release last swept holds only the fleet-wide status record
/// (`aks-cadence#fleet`, `status`): `handler status` prints it and says the next sweep replaces
/// it; after that sweep it prints the per-cluster records, without the note.
#[tokio::test]
async fn handler_status_reads_the_status_an_earlier_release_kept_until_the_next_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let spy = MockServer::start().await;
    let old = json!({
        "swept_at": "2026-01-14T09:00:00Z",
        "clusters": [{
            "cluster": format!("/subscriptions/{}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/legacy", arm_common::SUB),
            "swept_at": "2026-01-14T09:00:00Z",
            "kubernetes_version": "1.24.3",
            "node_images": {},
            "window": {"window": "unknown"}
        }]
    });
    {
        let ledger = aks_cadence::store::sqlite::SqliteLedger::open(dir.path().join("cadence.db")).unwrap();
        aks_cadence::store::Ledger::put_ref(&ledger, "aks-cadence#fleet", "status", &old.to_string()).await.unwrap();
    }
    let earlier = status(dir.path(), &spy, &["--format", "json"]);
    assert!(earlier.status.success(), "{}", String::from_utf8_lossy(&earlier.stderr));
    assert!(String::from_utf8_lossy(&earlier.stderr).contains("an earlier release of aks-cadence kept; the next sweep replaces it"));
    let v: Value = serde_json::from_slice(&earlier.stdout).unwrap();
    assert_eq!(v["clusters"][0]["kubernetes_version"], "1.24.3", "{v}");

    let arm = MockServer::start().await;
    fleet(&arm, vec!["1.24.9"]).await;
    std::fs::write(dir.path().join("cadence.toml"), format!("[[rule]]\nname = \"platform\"\n[rule.github_issue]\nrepo = \"{REPO}\"\n")).unwrap();
    let out = fleet_support::handler_sweep(dir.path(), &arm, &[("CADENCE_CONFIG", "cadence.toml")], &["--now", FIRST, "--format", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let now = status(dir.path(), &spy, &["--format", "json"]);
    assert!(now.status.success());
    assert!(!String::from_utf8_lossy(&now.stderr).contains("earlier release"), "{}", String::from_utf8_lossy(&now.stderr));
    let v: Value = serde_json::from_slice(&now.stdout).unwrap();
    let names: Vec<&str> = v["clusters"].as_array().unwrap().iter().map(|c| c["cluster"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
    assert_eq!(names, ["dev", "prod"], "the sweep's records, not the old status");
    assert!(spy.received_requests().await.unwrap().is_empty());
}
