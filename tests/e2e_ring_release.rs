//! Ring release by a person, end to end through the real binary: `handler sweep` live against a
//! fake ARM built from Microsoft's examples (`fleet_support`) and a fake GitHub (issues,
//! comments with authors, label events, collaborator permissions), the clock moved with `--now`.
//! dev and prod are both offered a patch, `patch = "auto"`, a window open every day 08:00–14:00
//! UTC; dev soaks a target 3 days before prod may take it.
//!
//! - dev's upgrade to 1.24.9 fails: the target is stopped for prod, even once dev was fixed by
//!   hand and soaked it; prod's issue is told so, with how to release;
//! - a non-writer's `/release` does nothing; a writer's label releases it: prod is upgraded in its
//!   window and its issue says who released it, once;
//! - a newer target (1.24.10) needs no release;
//! - an event's recommendation is ring-gated too: `handler replay` of Microsoft's
//!   NewKubernetesVersionAvailable event for prod, while dev soaks, says the target waits for
//!   ring dev (the fleet records the sweeps left in the ledger give the event its ring place).

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::path::Path;

use arm_common::{example_body, fixture};
use e2e_support::{Comments, FakeGithub, REPO};
use fleet_support::{FleetCluster, LATEST_IMAGE};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn policy() -> String {
    fleet_support::dev_prod_policy(REPO, "")
}

/// The fake fleet: dev and prod on their versions, offered `upgrades` each, the policy's
/// window; `puts` lists (cluster, target) upgrades expected once each (ARM accepts, and the
/// operation succeeds unless `dev_fails`); any other cluster write fails the test. The region
/// also offers 1.24.10 (a newer patch than Microsoft's example lists).
async fn fleet(arm: &MockServer, dev: (&str, Vec<&'static str>), prod: (&str, Vec<&'static str>), puts: &[(&str, &str)], dev_fails: bool) {
    arm.reset().await;
    fleet_support::mount_identity(arm).await;
    let dev = FleetCluster::new("dev", dev.0, LATEST_IMAGE, dev.1).without_maintenance_configurations();
    let prod = FleetCluster::new("prod", prod.0, LATEST_IMAGE, prod.1).without_maintenance_configurations();
    for (cluster, target) in puts {
        let c = if *cluster == "dev" { &dev } else { &prod };
        fleet_support::expect_version_upgrade(arm, c, target, 1).await;
    }
    if dev_fails {
        let mut failed = fixture("arm/async_operation_status_inprogress.docs.json");
        failed["status"] = json!("Failed");
        failed["error"] = json!({"code": "UpgradeFailed", "message": "drain timed out"});
        Mock::given(method("GET")).and(path(fleet_support::OP_PATH)).respond_with(ResponseTemplate::new(200).set_body_json(failed)).with_priority(1).mount(arm).await;
    }
    let mut versions = example_body("kubernetes_versions_list.2025-10-01.json", "200");
    versions["values"][1]["patchVersions"]["1.24.10"] = json!({"upgrades": ["1.25.4", "1.25.5"]});
    Mock::given(method("GET"))
        .and(path_regex(r"/locations/[^/]+/kubernetesVersions$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(versions))
        .with_priority(1)
        .mount(arm)
        .await;
    fleet_support::mount_fleet(arm, &[dev, prod]).await;
    fleet_support::expect_no_cluster_writes(arm).await;
}

fn sweep(dir: &Path, arm: &MockServer, gh: &FakeGithub, now: &str) -> Vec<Value> {
    let out = fleet_support::live_sweep(dir, arm, &policy(), &gh.uri(), now, &[]);
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn patch_upgrade<'a>(planned: &'a [Value], cluster: &str) -> &'a Value {
    planned
        .iter()
        .find(|l| l["action"] == "upgrade" && l["detail"]["upgrade"]["scope"] == "patch" && l["cluster"].as_str().unwrap().ends_with(&format!("/{cluster}")))
        .unwrap_or_else(|| panic!("no patch upgrade line for {cluster}: {planned:#?}"))
}

async fn github() -> (FakeGithub, Comments) {
    let gh = FakeGithub::start().await;
    let comments = gh.comments().await;
    gh.permissions(&[("alice", "maintain"), ("mallory", "triage")]).await;
    (gh, comments)
}

fn stopped() -> Value {
    json!({"gate": "ring", "ring": "dev", "waiting": ["dev"], "failed": true})
}

#[tokio::test]
async fn a_failed_dev_upgrade_stops_prod_until_a_writer_releases_the_target() {
    let (gh, comments) = github().await;
    gh.expect_creates(2).await; // dev's and prod's patch issues
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    // Day 1: dev's upgrade to 1.24.9 starts, and ARM reports it failed.
    fleet(&arm, ("1.24.6", vec!["1.24.9"]), ("1.24.6", vec!["1.24.9"]), &[("dev", "1.24.9")], true).await;
    sweep(dir.path(), &arm, &gh, "2026-01-15T09:00:00Z");
    arm.verify().await;
    let prod_issue = gh.issues().into_iter().find(|i| i.body.contains("/prod#kubernetes-upgrade#patch:1.24.6")).expect("prod's patch issue");

    // Day 2: a person fixed dev by hand (it runs 1.24.9 now). The failure still stops 1.24.9
    // for prod, and prod's issue hears it once, with how to release.
    fleet(&arm, ("1.24.9", vec![]), ("1.24.6", vec!["1.24.9"]), &[], false).await;
    let day2 = sweep(dir.path(), &arm, &gh, "2026-01-16T09:00:00Z");
    assert_eq!(patch_upgrade(&day2, "prod")["held_by"], stopped());
    let told = comments.on(prod_issue.number).join("\n");
    assert!(told.contains("the upgrade to 1.24.9 failed in ring dev (dev); 1.24.9 is stopped for this cluster"), "{told}");
    assert!(told.contains("applies the label `aks-cadence/release` or comments `/release` on this issue"), "{told}");

    // Day 6, in prod's window, long past dev's soak: still stopped.
    let day6 = sweep(dir.path(), &arm, &gh, "2026-01-20T10:00:00Z");
    assert_eq!(patch_upgrade(&day6, "prod")["held_by"], stopped());
    assert_eq!(comments.on(prod_issue.number).iter().filter(|c| c.contains("is stopped for this cluster")).count(), 1, "told once");

    // A user without write access comments /release: nothing moves.
    comments.post_as(prod_issue.number, "mallory", "/release", "2026-01-20T10:05:00Z");
    let refused = sweep(dir.path(), &arm, &gh, "2026-01-20T10:10:00Z");
    assert_eq!(patch_upgrade(&refused, "prod")["held_by"], stopped());
    arm.verify().await;

    // A writer applies the release label: prod is upgraded in its window (one PUT), and the
    // issue says who released it.
    fleet(&arm, ("1.24.9", vec![]), ("1.24.6", vec!["1.24.9"]), &[("prod", "1.24.9")], false).await;
    gh.label(prod_issue.number, "aks-cadence/release", "alice", "2026-01-20T10:20:00Z");
    let released = sweep(dir.path(), &arm, &gh, "2026-01-20T10:30:00Z");
    assert!(patch_upgrade(&released, "prod").get("held_by").is_none(), "{}", patch_upgrade(&released, "prod"));
    arm.verify().await;
    let said = comments.on(prod_issue.number).join("\n");
    assert!(said.contains("1.24.9 is released by @alice at 2026-01-20 10:20 UTC (label)"), "{said}");
    assert!(!said.contains("released by @mallory"), "{said}");

    // The release is kept: a later run tells nothing again and reads no issue for it.
    fleet(&arm, ("1.24.9", vec![]), ("1.24.9", vec![]), &[], false).await;
    let reads = gh.gets_matching(&format!("/issues/{}/events", prod_issue.number)).await;
    sweep(dir.path(), &arm, &gh, "2026-01-20T11:00:00Z");
    assert_eq!(gh.gets_matching(&format!("/issues/{}/events", prod_issue.number)).await, reads, "no more release reads");
    assert_eq!(comments.on(prod_issue.number).iter().filter(|c| c.contains("released by @alice")).count(), 1, "told once");
    gh.server.verify().await;
}

#[tokio::test]
async fn a_newer_target_than_the_failed_one_needs_no_release() {
    let (gh, comments) = github().await;
    gh.serve_creates().await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    // Day 1: dev's upgrade to 1.24.9 fails.
    fleet(&arm, ("1.24.6", vec!["1.24.9"]), ("1.24.6", vec!["1.24.9"]), &[("dev", "1.24.9")], true).await;
    sweep(dir.path(), &arm, &gh, "2026-01-15T09:00:00Z");
    arm.verify().await;

    // Day 2: 1.24.10 is offered; dev takes it (it has no failure).
    fleet(&arm, ("1.24.6", vec!["1.24.10"]), ("1.24.6", vec!["1.24.10"]), &[("dev", "1.24.10")], false).await;
    let day2 = sweep(dir.path(), &arm, &gh, "2026-01-16T09:00:00Z");
    assert_eq!(patch_upgrade(&day2, "prod")["held_by"], json!({"gate": "ring", "ring": "dev", "waiting": ["dev"]}));
    arm.verify().await;

    // dev runs 1.24.10 from 09:30; three days later prod takes it in its window, no release given.
    fleet(&arm, ("1.24.10", vec![]), ("1.24.6", vec!["1.24.10"]), &[], false).await;
    sweep(dir.path(), &arm, &gh, "2026-01-16T09:30:00Z");
    fleet(&arm, ("1.24.10", vec![]), ("1.24.6", vec!["1.24.10"]), &[("prod", "1.24.10")], false).await;
    let soaked = sweep(dir.path(), &arm, &gh, "2026-01-19T10:00:00Z");
    assert!(patch_upgrade(&soaked, "prod").get("held_by").is_none(), "{}", patch_upgrade(&soaked, "prod"));
    arm.verify().await;
    assert!(!comments.all().iter().any(|(_, c)| c.contains("released by")), "nobody released anything");
    assert_eq!(gh.gets_matching("/events").await, 0, "no issue was read for a release");
}

/// `handler replay --now NOW` (dry run) of Microsoft's NewKubernetesVersionAvailable event for
/// `cluster`, announcing 1.24.9, in `dir` with the sweeps' policy and ledger.
fn replay_new_version(dir: &Path, cluster: &str, now: &str) -> Vec<Value> {
    let mut event = fixture("eventgrid/aks_new_kubernetes_version_available.eventgrid.json");
    event["topic"] = json!(cluster);
    event["subject"] = json!(cluster.rsplit('/').next().unwrap());
    event["id"] = json!(format!("new-version-{}", cluster.rsplit('/').next().unwrap()));
    event["eventTime"] = json!(now);
    event["data"] = json!({
        "latestSupportedKubernetesVersion": "1.24.9",
        "latestStableKubernetesVersion": "1.24.9",
        "lowestMinorKubernetesVersion": "1.23.12"
    });
    let file = dir.join("event.json");
    std::fs::write(&file, serde_json::to_vec(&event).unwrap()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .envs([("CADENCE_CONFIG", "cadence.toml"), ("CADENCE_STATE", "sqlite:cadence.db")])
        .args(["replay", "--now", now])
        .arg(&file)
        .output()
        .expect("run handler replay");
    assert!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

#[tokio::test]
async fn an_event_recommendation_for_prod_waits_for_ring_dev_while_dev_soaks() {
    let (gh, _comments) = github().await;
    gh.serve_creates().await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let id = |name: &str| FleetCluster::new(name, "1.24.6", LATEST_IMAGE, vec![]).id();

    // dev takes 1.24.9 on day 1 and runs it from 09:30: its soak ends 2026-01-18 09:30.
    fleet(&arm, ("1.24.6", vec!["1.24.9"]), ("1.24.6", vec!["1.24.9"]), &[("dev", "1.24.9")], false).await;
    sweep(dir.path(), &arm, &gh, "2026-01-15T09:00:00Z");
    fleet(&arm, ("1.24.9", vec![]), ("1.24.6", vec!["1.24.9"]), &[], false).await;
    sweep(dir.path(), &arm, &gh, "2026-01-15T09:30:00Z");

    // Day 2: AKS announces 1.24.9 to prod. The recommendation says it waits for ring dev.
    let planned = replay_new_version(dir.path(), &id("prod"), "2026-01-16T10:00:00Z");
    let issue = planned.iter().find(|l| l["action"] == "github_issue").unwrap_or_else(|| panic!("an issue notice: {planned:#?}"));
    let note = issue["note"].as_str().unwrap_or_default();
    assert!(note.contains("The target waits: ring dev soaks this target until 2026-01-18 09:30 UTC (waiting: dev)."), "{issue}");

    // The same event to dev (ring 0) waits for nothing.
    let planned = replay_new_version(dir.path(), &id("dev"), "2026-01-16T10:00:00Z");
    assert!(planned.iter().any(|l| l["action"] == "github_issue"), "{planned:#?}");
    assert!(planned.iter().all(|l| !l["note"].as_str().unwrap_or_default().contains("waits")), "{planned:#?}");

    // After the soak, prod's recommendation no longer waits.
    let planned = replay_new_version(dir.path(), &id("prod"), "2026-01-18T09:30:00Z");
    assert!(planned.iter().any(|l| l["action"] == "github_issue"), "{planned:#?}");
    assert!(planned.iter().all(|l| !l["note"].as_str().unwrap_or_default().contains("waits")), "{planned:#?}");
}
