//! Rings and soak time end to end through the real binary: `handler sweep` live against a fake
//! ARM built from Microsoft's examples (`fleet_support`) and a fake GitHub, the clock moved with
//! `--now`. dev and prod are both offered a patch, `patch = "auto"`, a window open every day:
//! dev is upgraded on day 1 (one PUT); prod is held by ring `dev` until every dev cluster has
//! run the patch for `soak_days`, and upgraded in its window once the soak is over.

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::path::Path;
use std::process::Output;

use arm_common::fixture;
use e2e_support::{FakeGithub, REPO};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// `fleet_support::dev_prod_policy`: patch upgrades automatic in a daily 08:00–14:00 UTC
/// window; dev soaks a target 3 days before prod may take it; issues in o/r.
fn policy() -> String {
    fleet_support::dev_prod_policy(REPO, "")
}

/// `fleet_support::dev_prod_fleet` with a PUT to 1.24.9 expected `dev_puts` / `prod_puts` times.
async fn fleet(arm: &MockServer, dev: (&str, Vec<&'static str>), prod: (&str, Vec<&'static str>), dev_puts: u64, prod_puts: u64) {
    fleet_with(arm, dev, prod, dev_puts, prod_puts, None).await
}

/// [`fleet`], prod on AKS's auto-upgrade channel `prod_channel` when given.
async fn fleet_with(arm: &MockServer, dev: (&str, Vec<&'static str>), prod: (&str, Vec<&'static str>), dev_puts: u64, prod_puts: u64, prod_channel: Option<&str>) {
    fleet_support::dev_prod_fleet(arm, dev, prod, "1.24.9", (dev_puts, prod_puts), prod_channel).await
}

fn sweep(dir: &Path, arm: &MockServer, gh: &FakeGithub, now: &str, dry_run: bool) -> Vec<Value> {
    let out = sweep_output(dir, arm, gh, now, dry_run);
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
}

fn sweep_output(dir: &Path, arm: &MockServer, gh: &FakeGithub, now: &str, dry_run: bool) -> Output {
    fleet_support::live_sweep(dir, arm, &policy(), &gh.uri(), now, if dry_run { &["--dry-run"] } else { &[] })
}

fn patch_upgrade<'a>(planned: &'a [Value], cluster: &str) -> &'a Value {
    planned
        .iter()
        .find(|l| l["action"] == "upgrade" && l["detail"]["upgrade"]["scope"] == "patch" && l["cluster"].as_str().unwrap().ends_with(&format!("/{cluster}")))
        .unwrap_or_else(|| panic!("no patch upgrade line for {cluster}: {planned:#?}"))
}

#[tokio::test]
async fn prod_takes_the_patch_only_after_every_dev_cluster_ran_it_for_soak_days() {
    let gh = FakeGithub::start().await;
    let _comments = gh.comments().await;
    gh.expect_creates(2).await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    // Day 1, 09:00: both offered 1.24.9. dev is ring 0: upgraded (one PUT). prod waits for dev.
    fleet(&arm, ("1.24.6", vec!["1.24.9"]), ("1.24.6", vec!["1.24.9"]), 1, 0).await;
    let day1 = sweep(dir.path(), &arm, &gh, "2026-01-15T09:00:00Z", false);
    assert!(patch_upgrade(&day1, "dev").get("held_by").is_none(), "{}", patch_upgrade(&day1, "dev"));
    let prod = patch_upgrade(&day1, "prod");
    assert_eq!(prod["held_by"], json!({"gate": "ring", "ring": "dev", "waiting": ["dev"]}), "dev does not run 1.24.9 yet: {prod}");
    arm.verify().await;
    // prod's issue says why its target waits; no pull request bumps it.
    let issue = gh.issues().into_iter().find(|i| i.body.contains("/prod#kubernetes-upgrade#patch:1.24.6")).expect("prod's patch issue");
    assert!(issue.body.contains("ring dev has not taken this target yet (waiting: dev)"), "{}", issue.body);

    // Later on day 1 ARM reports dev on 1.24.9: its soak starts now (09:30) and ends 3 days later.
    fleet(&arm, ("1.24.9", vec![]), ("1.24.6", vec!["1.24.9"]), 0, 0).await;
    let later = sweep(dir.path(), &arm, &gh, "2026-01-15T09:30:00Z", false);
    assert_eq!(
        patch_upgrade(&later, "prod")["held_by"],
        json!({"gate": "ring", "ring": "dev", "waiting": ["dev"], "until": "2026-01-18T09:30:00Z"})
    );

    // Day 1 + soak − 1, inside prod's window: still held, in a dry run as in a live one.
    let dry = sweep(dir.path(), &arm, &gh, "2026-01-17T10:00:00Z", true);
    let held = patch_upgrade(&dry, "prod");
    assert_eq!(held["held_by"]["gate"], "ring", "{held}");
    assert_eq!(held["held_by"]["waiting"], json!(["dev"]));
    let live = sweep(dir.path(), &arm, &gh, "2026-01-17T10:00:00Z", false);
    assert_eq!(patch_upgrade(&live, "prod")["held_by"]["until"], "2026-01-18T09:30:00Z");
    arm.verify().await;

    // Day 1 + soak, 10:00, prod's window open until 14:00: upgraded (one PUT).
    fleet(&arm, ("1.24.9", vec![]), ("1.24.6", vec!["1.24.9"]), 0, 1).await;
    let done = sweep(dir.path(), &arm, &gh, "2026-01-18T10:00:00Z", false);
    let prod = patch_upgrade(&done, "prod");
    assert!(prod.get("held_by").is_none(), "{prod}");
    arm.verify().await;
}

#[tokio::test]
async fn a_dry_run_prints_the_ring_hold_for_a_person() {
    let gh = FakeGithub::start().await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    fleet(&arm, ("1.24.6", vec!["1.24.9"]), ("1.24.6", vec!["1.24.9"]), 0, 0).await;
    std::fs::write(dir.path().join("cadence.toml"), policy()).unwrap();
    let out = fleet_support::handler_sweep(
        dir.path(),
        &arm,
        &[("CADENCE_CONFIG", "cadence.toml")],
        &["--dry-run", "--format", "text", "--now", "2026-01-15T09:00:00Z"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let prod = &text[text.find("prod  ").expect("prod's section")..];
    assert!(prod.contains("held: ring dev has not taken this target") && prod.contains("(waiting: dev)"), "{text}");
    assert!(!text[..text.find("prod  ").unwrap()].contains("held: ring"), "dev is ring 0: never held by a ring\n{text}");
    drop(gh);
}

#[tokio::test]
async fn a_prod_cluster_aks_upgraded_through_its_channel_before_dev_soaked_the_version_is_a_ring_inversion_with_the_stagger() {
    let gh = FakeGithub::start().await;
    let comments = gh.comments().await;
    // prod's and dev's patch issues, then the inversion's own issue.
    gh.expect_creates(3).await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    // Day 1, 15:00 (outside the policy window: nothing is written): both on 1.24.6.
    fleet_with(&arm, ("1.24.6", vec!["1.24.9"]), ("1.24.6", vec!["1.24.9"]), 0, 0, Some("patch")).await;
    let first = sweep_output(dir.path(), &arm, &gh, "2026-01-15T15:00:00Z", false);
    assert!(!String::from_utf8_lossy(&first.stderr).contains("ring inversion"), "{}", String::from_utf8_lossy(&first.stderr));
    // Day 2: AKS's channel moved prod to 1.24.9; dev is still on 1.24.6.
    fleet_with(&arm, ("1.24.6", vec!["1.24.9"]), ("1.24.9", vec![]), 0, 0, Some("patch")).await;
    let out = sweep_output(dir.path(), &arm, &gh, "2026-01-16T15:00:00Z", false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ring inversion: prod (ring prod) received 1.24.9 on 2026-01-16 15:00 UTC through upgradeChannel patch before ring dev had run it for 3 day(s) (waiting: dev)"),
        "{stderr}"
    );
    assert!(stderr.contains("start ring prod's aksManagedAutoUpgradeSchedule at least 3 day(s) after ring dev's"), "{stderr}");
    arm.verify().await;
    // It is a finding on the rule's channels too: one issue for prod and the version, with the stagger.
    let inversion: Vec<_> = gh.issues().into_iter().filter(|i| i.body.contains("/prod#ring-inversion#1.24.9")).collect();
    assert_eq!(inversion.len(), 1, "{:#?}", gh.issues());
    assert!(inversion[0].body.contains("aksManagedAutoUpgradeSchedule at least 3 day(s) after ring dev's"), "{}", inversion[0].body);
    // The next sweep sees the same inversion: told once, no new issue (expect_creates(3) holds).
    sweep_output(dir.path(), &arm, &gh, "2026-01-17T15:00:00Z", false);

    // Day 4: dev runs 1.24.9 too, from now on: its soak ends on day 7. The inversion stays open.
    fleet_with(&arm, ("1.24.9", vec![]), ("1.24.9", vec![]), 0, 0, Some("patch")).await;
    sweep_output(dir.path(), &arm, &gh, "2026-01-18T15:00:00Z", false);
    let number = inversion[0].number;
    let open = gh.issues().into_iter().find(|i| i.number == number).unwrap();
    assert_eq!(open.state, "open", "dev has not soaked 1.24.9 yet");
    // Day 7: dev has run 1.24.9 for its 3 days: the inversion is over, its issue closed with a sentence.
    let out = sweep_output(dir.path(), &arm, &gh, "2026-01-21T15:00:00Z", false);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("ring inversion: prod"), "{}", String::from_utf8_lossy(&out.stderr));
    let closed = gh.issues().into_iter().find(|i| i.number == number).unwrap();
    assert_eq!(closed.state, "closed", "{closed:#?}");
    let said = comments.on(number);
    assert!(
        said.iter().any(|c| c.contains("the inversion is over: every cluster of the earlier rings has now run 1.24.9 (or newer) for its soak time")),
        "{said:#?}"
    );
    gh.server.verify().await;
}

#[tokio::test]
async fn a_failed_dev_upgrade_stops_the_target_for_prod_even_after_the_soak_time() {
    let gh = FakeGithub::start().await;
    let _comments = gh.comments().await;
    gh.expect_creates(2).await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    // Day 1: dev's upgrade to 1.24.9 is started, and ARM reports it failed.
    fleet(&arm, ("1.24.6", vec!["1.24.9"]), ("1.24.6", vec!["1.24.9"]), 1, 0).await;
    let mut failed = fixture("arm/async_operation_status_inprogress.docs.json");
    failed["status"] = json!("Failed");
    failed["error"] = json!({"code": "UpgradeFailed", "message": "drain timed out"});
    Mock::given(method("GET")).and(path(fleet_support::OP_PATH)).respond_with(ResponseTemplate::new(200).set_body_json(failed)).with_priority(1).mount(&arm).await;
    sweep(dir.path(), &arm, &gh, "2026-01-15T09:00:00Z", false);
    arm.verify().await;

    // Day 5, prod's window open, long past dev's soak_days: the failure still stops 1.24.9 for prod.
    fleet(&arm, ("1.24.6", vec!["1.24.9"]), ("1.24.6", vec!["1.24.9"]), 0, 0).await;
    let later = sweep(dir.path(), &arm, &gh, "2026-01-19T10:00:00Z", false);
    assert_eq!(patch_upgrade(&later, "prod")["held_by"], json!({"gate": "ring", "ring": "dev", "waiting": ["dev"], "failed": true}));
    let issue = gh.issues().into_iter().find(|i| i.body.contains("/prod#kubernetes-upgrade#patch:1.24.6")).expect("prod's patch issue");
    assert!(issue.body.contains("1.24.9 is stopped for this cluster") && issue.body.contains("`/release`"), "the stop is told on prod's issue, with how to release: {}", issue.body);
    arm.verify().await;
}
