//! Escalation routing end to end through the real binary: `handler sweep --now …` live (not
//! dry-run) against the fake ARM fleet (`fleet_support`), a stateful fake GitHub, two fake Teams
//! webhooks and MailDev, with its own SQLite ledger.
//!
//! A patch is offered to `prod`. The notice goes to the rule's own channels only (issue, mail,
//! Teams). Fifteen days later (patch_within_days 14) the concern is overdue: the base channels
//! hear it again, and `[rule.overdue]` adds its assignee and label to the issue (one call each),
//! mails its extra recipient and posts once to its extra webhook. A second sweep at the same
//! stage sends nothing more anywhere.

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::path::Path;

use e2e_support::{FakeChat, FakeGithub, REPO, unique_recipient};
use email_support::{messages_to, wait_for_messages};
use fleet_support::{FleetCluster, LATEST_IMAGE};
use serde_json::Value;
use wiremock::MockServer;

const PATCH_MARK: &str = "#kubernetes-upgrade#patch:1.24.6 -->";
const NOTICE_AT: &str = "2026-01-15T09:00:00Z";
const OVERDUE_AT: &str = "2026-01-30T09:00:00Z";
const STILL_OVERDUE_AT: &str = "2026-01-31T09:00:00Z";

/// Everything one sweep talks to.
struct World {
    dir: tempfile::TempDir,
    arm: MockServer,
    github: FakeGithub,
    teams: FakeChat,
    incidents: FakeChat,
    smtp_url: String,
    smtp_api: String,
    team: String,
    escalated_to: String,
    /// The stage the routes are for (`overdue`, `reminder`), and policy text put first.
    routed_stage: &'static str,
    preamble: &'static str,
}

impl World {
    fn policy(&self) -> String {
        format!(
            r#"{preamble}
[[rule]]
name = "platform"
signals = ["upgrades-offered"]
[rule.github_issue]
repo = "{REPO}"
labels = ["platform"]
[rule.email]
to = ["{team}"]
[[rule.chat]]
kind = "teams"
url_setting = "TEAMS_PLATFORM_WEBHOOK_URL"

[rule.{stage}]
assignees = ["platform-lead"]
labels = ["{stage}"]
email = ["{escalated}"]
[[rule.{stage}.chat]]
kind = "teams"
url_setting = "TEAMS_INCIDENTS_WEBHOOK_URL"
"#,
            preamble = self.preamble,
            stage = self.routed_stage,
            team = self.team,
            escalated = self.escalated_to
        )
    }

    /// `handler sweep --now NOW`, live.
    fn sweep(&self, now: &str) -> Vec<Value> {
        let dir: &Path = self.dir.path();
        std::fs::write(dir.join("cadence.toml"), self.policy()).unwrap();
        let (teams, incidents) = (self.teams.url(), self.incidents.url());
        let out = fleet_support::handler_sweep(
            dir,
            &self.arm,
            &[
                ("CADENCE_CONFIG", "cadence.toml"),
                ("CADENCE_DRY_RUN", "false"),
                ("GITHUB_TOKEN", "ghp_e2eRouting000000000000000000000000"),
                ("GITHUB_API_URL", self.github.uri().as_str()),
                ("SMTP_URL", self.smtp_url.as_str()),
                ("SMTP_FROM", "aks-cadence <cadence@e2e.example>"),
                ("TEAMS_PLATFORM_WEBHOOK_URL", teams.as_str()),
                ("TEAMS_INCIDENTS_WEBHOOK_URL", incidents.as_str()),
            ],
            &["--now", now],
        );
        assert!(out.status.success(), "sweep at {now} failed:\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    async fn posts(chat: &FakeChat) -> usize {
        chat.requests().await.len()
    }
}

#[tokio::test]
async fn the_overdue_stage_adds_its_assignee_label_recipient_and_webhook_once_and_the_notice_only_the_base_channels() {
    let (smtp_url, smtp_api) = email_support::maildev();
    let github = FakeGithub::start().await;
    let comments = github.comments().await;
    github.expect_creates(1).await;
    github.expect_label_and_assignee_adds(1, 1).await;
    let teams = FakeChat::start("9d1c0a7e5b3f4e2d8c6a4b2f0e1d3c5a", "sigRoutingTeams0").await;
    teams.expect_posts(2).await;
    let incidents = FakeChat::start("4b6e8d0f2a1c3e5f7a9b1d3f5e7c9a0b", "sigRoutingIncid0").await;
    incidents.expect_posts(1).await;

    let arm = MockServer::start().await;
    fleet_support::mount_identity(&arm).await;
    fleet_support::mount_fleet(&arm, &[FleetCluster::new("prod", "1.24.6", LATEST_IMAGE, vec!["1.24.9"])]).await;
    fleet_support::expect_no_cluster_writes(&arm).await;

    let w = World {
        dir: tempfile::tempdir().unwrap(),
        arm,
        github,
        teams,
        incidents,
        smtp_url,
        smtp_api,
        team: unique_recipient("routing-team"),
        escalated_to: unique_recipient("routing-escalated"),
        routed_stage: "overdue",
        preamble: "",
    };

    // Notice: the base channels only.
    let planned = w.sweep(NOTICE_AT);
    let notice: Vec<&Value> = planned.iter().filter(|l| l["target"] == "patch:1.24.6" && l["stage"] == "notice").collect();
    let notice_actions: Vec<&str> = notice.iter().map(|l| l["action"].as_str().unwrap()).collect();
    assert_eq!(notice_actions, ["github_issue", "email", "teams"], "{notice:#?}");
    assert_eq!(wait_for_messages(&w.smtp_api, &w.team, 1).await.len(), 1);
    assert_eq!(World::posts(&w.teams).await, 1);
    assert_eq!(World::posts(&w.incidents).await, 0);
    assert_eq!((w.github.adds("labels").await, w.github.adds("assignees").await), (0, 0));
    assert!(messages_to(&w.smtp_api, &w.escalated_to).await.is_empty(), "the escalation recipient hears nothing at notice");
    let issue = w.github.issues().into_iter().find(|i| i.body.contains(PATCH_MARK)).expect("the patch concern's issue");
    assert_eq!(issue.labels, ["aks-cadence", "platform"]);
    assert!(issue.assignees.is_empty());

    // Overdue: the base channels again, plus the stage's routes.
    let planned = w.sweep(OVERDUE_AT);
    let overdue: Vec<&Value> = planned.iter().filter(|l| l["target"] == "patch:1.24.6" && l["stage"] == "overdue").collect();
    let overdue_actions: Vec<&str> = overdue.iter().map(|l| l["action"].as_str().unwrap()).collect();
    assert_eq!(overdue_actions, ["github_issue", "email", "teams", "email", "teams", "github_escalation"], "{overdue:#?}");
    let escalation = overdue.iter().find(|l| l["action"] == "github_escalation").unwrap();
    assert!(escalation["key"].as_str().unwrap().ends_with("#patch:1.24.6/github-escalation:o/r/overdue"), "{escalation}");

    let issue = w.github.issues().into_iter().find(|i| i.number == issue.number).unwrap();
    assert_eq!(issue.labels, ["aks-cadence", "platform", "overdue"]);
    assert_eq!(issue.assignees, ["platform-lead"]);
    assert_eq!((w.github.adds("labels").await, w.github.adds("assignees").await), (1, 1), "one call each");
    assert_eq!(comments.on(issue.number).len(), 1, "the overdue comment");
    let escalated = wait_for_messages(&w.smtp_api, &w.escalated_to, 1).await;
    assert_eq!(escalated.len(), 1, "{escalated:#?}");
    assert!(escalated[0]["subject"].as_str().unwrap().contains("prod"), "{}", escalated[0]["subject"]);
    assert_eq!(wait_for_messages(&w.smtp_api, &w.team, 2).await.len(), 2);
    assert_eq!(World::posts(&w.teams).await, 2);
    assert_eq!(World::posts(&w.incidents).await, 1);

    // The same stage again: its keys are done, so the plan holds nothing new and nothing more
    // is sent anywhere.
    let planned = w.sweep(STILL_OVERDUE_AT);
    assert!(planned.iter().all(|l| l["action"] != "github_escalation"), "{planned:#?}");
    assert_eq!((w.github.adds("labels").await, w.github.adds("assignees").await), (1, 1));
    assert_eq!(comments.on(issue.number).len(), 1);
    assert_eq!(wait_for_messages(&w.smtp_api, &w.escalated_to, 2).await.len(), 1);
    assert_eq!(messages_to(&w.smtp_api, &w.team).await.len(), 2);
    assert_eq!(World::posts(&w.teams).await, 2);
    assert_eq!(World::posts(&w.incidents).await, 1);

    w.github.server.verify().await;
    w.teams.server.verify().await;
    w.incidents.server.verify().await;
    w.arm.verify().await;
}

/// A late first sighting: with `patch_within_days = 2` and the reminder 3 days before the
/// deadline, the patch is already in its reminder stage when the first sweep sees it. That
/// first message is the reminder, and it carries `[rule.reminder]`'s extras: the assignee and
/// label on the issue it opens, the extra mail and the extra webhook — once.
#[tokio::test]
async fn a_concern_first_seen_in_its_reminder_stage_gets_the_reminder_s_extras_at_once() {
    let (smtp_url, smtp_api) = email_support::maildev();
    let github = FakeGithub::start().await;
    let _comments = github.comments().await;
    github.expect_creates(1).await;
    github.expect_label_and_assignee_adds(1, 1).await;
    let teams = FakeChat::start("7c2e4a6b8d0f1e3a5c7e9b1d3f5a7c9e", "sigRoutingLate00").await;
    teams.expect_posts(1).await;
    let incidents = FakeChat::start("2a4c6e8f0b1d3f5a7c9e1b3d5f7a9c0e", "sigRoutingLateI0").await;
    incidents.expect_posts(1).await;

    let arm = MockServer::start().await;
    fleet_support::mount_identity(&arm).await;
    fleet_support::mount_fleet(&arm, &[FleetCluster::new("prod", "1.24.6", LATEST_IMAGE, vec!["1.24.9"])]).await;
    fleet_support::expect_no_cluster_writes(&arm).await;

    let w = World {
        dir: tempfile::tempdir().unwrap(),
        arm,
        github,
        teams,
        incidents,
        smtp_url,
        smtp_api,
        team: unique_recipient("routing-late-team"),
        escalated_to: unique_recipient("routing-late-escalated"),
        routed_stage: "reminder",
        preamble: "[defaults]\npatch_within_days = 2\nreminder_days_before = 3\n",
    };

    let planned = w.sweep(NOTICE_AT);
    let patch: Vec<&Value> = planned.iter().filter(|l| l["target"] == "patch:1.24.6" && l["action"] != "upgrade").collect();
    let told: Vec<(&str, &str)> = patch.iter().map(|l| (l["stage"].as_str().unwrap(), l["action"].as_str().unwrap())).collect();
    assert_eq!(
        told,
        [("reminder", "github_issue"), ("reminder", "email"), ("reminder", "teams"), ("reminder", "email"), ("reminder", "teams"), ("reminder", "github_escalation")],
        "{patch:#?}"
    );
    let issue = w.github.issues().into_iter().find(|i| i.body.contains(PATCH_MARK)).expect("the patch concern's issue");
    assert_eq!(issue.labels, ["aks-cadence", "platform", "reminder"]);
    assert_eq!(issue.assignees, ["platform-lead"]);
    assert_eq!(wait_for_messages(&w.smtp_api, &w.escalated_to, 1).await.len(), 1, "the reminder's extra recipient");
    assert_eq!(wait_for_messages(&w.smtp_api, &w.team, 1).await.len(), 1);
    assert_eq!((World::posts(&w.teams).await, World::posts(&w.incidents).await), (1, 1));

    // The same stage the next day: nothing more anywhere.
    w.sweep("2026-01-16T09:00:00Z");
    assert_eq!((w.github.adds("labels").await, w.github.adds("assignees").await), (1, 1));
    assert_eq!(wait_for_messages(&w.smtp_api, &w.escalated_to, 2).await.len(), 1);
    assert_eq!((World::posts(&w.teams).await, World::posts(&w.incidents).await), (1, 1));
    w.github.server.verify().await;
    w.teams.server.verify().await;
    w.incidents.server.verify().await;
}
