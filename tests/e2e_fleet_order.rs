//! Fleet order end to end, the whole story of issue 13 through the real binary: `handler sweep`
//! live against a fake ARM built from Microsoft's examples (`fleet_support`) and a fake GitHub
//! (issues, comments with authors, label events, collaborator permissions, the dashboard), the
//! clock moved with `--now`. dev and prod are both offered a patch, `patch = "auto"`, a window
//! open every day; prod's rule asks for `approval = "github"`:
//!
//! - dev is upgraded in its window on day 1; prod is held by ring `dev` until dev has run the
//!   patch for `soak_days`;
//! - past the soak prod is held by `awaiting_approval`; a non-writer's `/approve` does nothing;
//! - a writer's label lets it through: upgraded in its window, the issue told who approved;
//! - the fleet dashboard is opened once, edited when the fleet's state changes and left alone
//!   when nothing changed.

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::path::Path;

use e2e_support::{Comments, FakeGithub, REPO};
use serde_json::{Value, json};
use wiremock::MockServer;

/// `fleet_support::dev_prod_policy` (patch upgrades automatic in a daily 08:00–14:00 UTC
/// window; dev soaks a target 3 days before prod may take it) with prod's changes needing an
/// approval on its issue.
fn policy() -> String {
    fleet_support::dev_prod_policy(
        REPO,
        &format!("\n[[rule]]\nname = \"prod\"\nclusters = [\"prod\"]\n[rule.github_issue]\nrepo = \"{REPO}\"\n[rule.upgrade]\napproval = \"github\"\n"),
    )
}

/// `fleet_support::dev_prod_fleet` with a PUT to 1.24.9 expected `dev_puts` / `prod_puts` times.
async fn fleet(arm: &MockServer, dev: (&str, Vec<&'static str>), prod: (&str, Vec<&'static str>), dev_puts: u64, prod_puts: u64) {
    fleet_support::dev_prod_fleet(arm, dev, prod, "1.24.9", (dev_puts, prod_puts), None).await
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

/// The writes made so far to the fleet dashboard: opening it, editing it, commenting on it.
async fn dashboard_writes(gh: &FakeGithub) -> usize {
    let boards: Vec<u64> = gh.dashboards().iter().map(|d| d.number).collect();
    gh.requests()
        .await
        .iter()
        .filter(|r| r.method.as_str() != "GET")
        .filter(|r| {
            let p = r.url.path();
            let opens = r.method.as_str() == "POST" && String::from_utf8_lossy(&r.body).contains(e2e_support::DASHBOARD_TITLE);
            opens || boards.iter().any(|n| p.ends_with(&format!("/issues/{n}")) || p.contains(&format!("/issues/{n}/")))
        })
        .count()
}

async fn github() -> (FakeGithub, Comments) {
    let gh = FakeGithub::start().await;
    let comments = gh.comments().await;
    gh.permissions(&[("alice", "maintain"), ("mallory", "triage")]).await;
    (gh, comments)
}

#[tokio::test]
async fn dev_first_then_prod_after_the_soak_and_a_writers_approval_with_the_dashboard_following() {
    let (gh, comments) = github().await;
    gh.expect_creates(2).await; // dev's and prod's patch issues (the dashboard is counted apart)
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();

    // Day 1, 09:00: both offered 1.24.9. dev (ring 0) is upgraded; prod waits for dev.
    fleet(&arm, ("1.24.6", vec!["1.24.9"]), ("1.24.6", vec!["1.24.9"]), 1, 0).await;
    let day1 = sweep(dir.path(), &arm, &gh, "2026-01-15T09:00:00Z");
    assert!(patch_upgrade(&day1, "dev").get("held_by").is_none(), "{}", patch_upgrade(&day1, "dev"));
    assert_eq!(patch_upgrade(&day1, "prod")["held_by"], json!({"gate": "ring", "ring": "dev", "waiting": ["dev"]}));
    arm.verify().await;
    assert_eq!(gh.dashboards().len(), 1, "one fleet dashboard");
    assert_eq!(dashboard_writes(&gh).await, 1, "opened once");
    let board = &gh.dashboards()[0];
    assert!(board.body.contains("## dev") && board.body.contains("## prod"), "grouped by ring:\n{}", board.body);
    let prod_issue = gh.issues().into_iter().find(|i| i.body.contains("/prod#kubernetes-upgrade#patch:1.24.6")).expect("prod's patch issue");

    // ARM now reports dev on 1.24.9: its soak runs until 2026-01-18 09:30.
    fleet(&arm, ("1.24.9", vec![]), ("1.24.6", vec!["1.24.9"]), 0, 0).await;
    let later = sweep(dir.path(), &arm, &gh, "2026-01-15T09:30:00Z");
    assert_eq!(patch_upgrade(&later, "prod")["held_by"]["until"], "2026-01-18T09:30:00Z");
    let writes = dashboard_writes(&gh).await;
    assert_eq!(writes, 2, "dev's new version is one edit of the dashboard");

    // The same fleet later the same day: nothing changed, the dashboard is not rewritten.
    sweep(dir.path(), &arm, &gh, "2026-01-15T10:00:00Z");
    assert_eq!(dashboard_writes(&gh).await, writes, "an unchanged fleet leaves the dashboard alone");

    // Day 1 + soak − 1, in prod's window: still held by the ring.
    let day3 = sweep(dir.path(), &arm, &gh, "2026-01-17T10:00:00Z");
    assert_eq!(patch_upgrade(&day3, "prod")["held_by"]["gate"], "ring");
    arm.verify().await;

    // Past the soak, in prod's window: the ring lets it through, the approval does not (yet).
    let soaked = sweep(dir.path(), &arm, &gh, "2026-01-18T10:00:00Z");
    let held = patch_upgrade(&soaked, "prod");
    assert_eq!(held["held_by"]["gate"], "awaiting_approval", "{held}");
    arm.verify().await;

    // A user without write access comments /approve: nothing starts.
    comments.post_as(prod_issue.number, "mallory", "/approve", "2026-01-18T10:10:00Z");
    let still = sweep(dir.path(), &arm, &gh, "2026-01-18T10:20:00Z");
    assert_eq!(patch_upgrade(&still, "prod")["held_by"]["gate"], "awaiting_approval");
    arm.verify().await;

    // A writer applies the approval label: prod is upgraded in its window (one PUT), and the
    // issue hears who approved.
    fleet(&arm, ("1.24.9", vec![]), ("1.24.6", vec!["1.24.9"]), 0, 1).await;
    gh.label(prod_issue.number, "aks-cadence/approved", "alice", "2026-01-18T10:30:00Z");
    let approved = sweep(dir.path(), &arm, &gh, "2026-01-18T10:40:00Z");
    assert!(patch_upgrade(&approved, "prod").get("held_by").is_none(), "{}", patch_upgrade(&approved, "prod"));
    arm.verify().await;
    let said = comments.on(prod_issue.number).join("\n");
    assert!(said.contains("approved by @alice at 2026-01-18 10:30 UTC (label)"), "{said}");
    assert!(!said.contains("approved by @mallory"), "{said}");
    gh.server.verify().await;
}
