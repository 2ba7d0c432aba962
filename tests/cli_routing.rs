//! `handler config check` on escalation routing (`[rule.notice]`, `[rule.reminder]`,
//! `[rule.overdue]`), through the real binary: every mistake with its line, field and fix, and
//! the summary showing what each stage adds.

use std::path::Path;
use std::process::{Command, Output};

fn check(dir: &Path, policy: &str) -> Output {
    std::fs::write(dir.join("cadence.toml"), policy).unwrap();
    Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .args(["config", "check", "cadence.toml"])
        .output()
        .expect("run handler")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const MISTAKES: &str = r#"[[rule]]
name = "platform"
[rule.email]
to = ["platform@contoso.example"]

[rule.overdu]
email = ["cto@contoso.example"]

[rule.reminder]
labels = ["reminded"]
assignee = ["platform-lead"]

[rule.overdue]
email = ["not-an-address"]
to = ["cto@contoso.example"]
[[rule.overdue.chat]]
kind = "teams"
url_setting = "https://contoso.webhook.office.com/x"

[rule.update]
email = ["x@contoso.example"]

[[rule]]
name = "empty"
[rule.github_issue]
repo = "contoso/infra"
[rule.notice]
"#;

#[test]
fn config_check_names_every_routing_mistake_with_its_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(dir.path(), MISTAKES);
    let err = text(&out.stdout) + &text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for want in [
        "cadence.toml:6: rule[0].overdu: unknown key `overdu`. Fix: did you mean `overdue`?",
        "cadence.toml:10: rule[0].reminder.labels: labels are added to the rule's GitHub issue, but the rule has no [rule.github_issue]. Fix: add [rule.github_issue] with repo = \"owner/name\" to this rule",
        "cadence.toml:11: rule[0].reminder.assignee: unknown key `assignee`. Fix: did you mean `assignees`?",
        "cadence.toml:14: rule[0].overdue.email[0]: \"not-an-address\" is not an email address.",
        "cadence.toml:15: rule[0].overdue.to: a stage's extra mail recipients are its `email` list. Fix: write email = [\"oncall@example.com\"]",
        "cadence.toml:18: rule[0].overdue.chat[0].url_setting: a webhook URL is a secret and must not be written in the policy",
        "cadence.toml:20: rule[0].update: only the notice, reminder and overdue stages can be routed. Fix: route one of them: [rule.notice], [rule.reminder] or [rule.overdue]",
        "cadence.toml:27: rule[1].notice: the stage routes nothing. Fix: add assignees, labels, email",
    ] {
        assert!(err.contains(want), "missing\n  {want}\nin\n{err}");
    }
    // The webhook URL is never echoed.
    assert!(!err.contains("contoso.webhook.office.com/x"), "{err}");
}

#[test]
fn config_check_shows_what_each_stage_adds() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(
        dir.path(),
        r#"
[[rule]]
name = "platform"
[rule.github_issue]
repo = "contoso/platform-infra"
[rule.email]
to = ["platform@contoso.example"]

[rule.reminder]
email = ["platform-lead@contoso.example"]

[rule.overdue]
assignees = ["@platform-lead"]
labels = ["overdue"]
email = ["cto-office@contoso.example"]
[[rule.overdue.chat]]
kind = "slack"
url_setting = "SLACK_INCIDENTS"
"#,
    );
    let summary = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for want in [
        "  tells: GitHub issue in contoso/platform-infra, email to platform@contoso.example",
        "  at reminder also: email to platform-lead@contoso.example",
        "  at overdue also: assign @platform-lead on the issue in contoso/platform-infra; label overdue on the issue in contoso/platform-infra; email to cto-office@contoso.example; Slack via SLACK_INCIDENTS",
        "  SLACK_INCIDENTS",
        "SMTP_URL and SMTP_FROM (rules platform)",
    ] {
        assert!(summary.contains(want), "missing\n  {want}\nin\n{summary}");
    }
}

#[test]
fn a_rule_that_only_routes_a_stage_needs_mail_settings_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = check(dir.path(), "[[rule]]\nname = \"pager\"\n[rule.overdue]\nemail = [\"pager@contoso.example\"]\n");
    let summary = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(summary.contains("  tells: no channel at every stage (only the stage routes below)"), "{summary}");
    assert!(summary.contains("  at overdue also: email to pager@contoso.example"), "{summary}");
    assert!(summary.contains("SMTP_URL and SMTP_FROM (rules pager)"), "{summary}");
}

#[test]
fn a_live_run_refuses_to_start_when_a_stage_route_needs_a_setting_that_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let event = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventgrid/aks_cluster_support_ending.eventgrid.json");
    let event = event.to_str().unwrap();
    for (policy, missing) in [
        ("[[rule]]\nname = \"pager\"\n[rule.overdue]\nemail = [\"pager@example.com\"]\n", "SMTP_URL"),
        ("[[rule]]\nname = \"pager\"\n[[rule.overdue.chat]]\nkind = \"slack\"\nurl_setting = \"SLACK_INCIDENTS_URL\"\n", "SLACK_INCIDENTS_URL"),
    ] {
        std::fs::write(dir.path().join("cadence.toml"), policy).unwrap();
        let run = |args: &[&str], env: &[(&str, &str)]| {
            Command::new(env!("CARGO_BIN_EXE_handler")).current_dir(dir.path()).env_clear().envs(env.iter().copied()).args(args).output().expect("run handler")
        };
        let out = run(&["replay", event], &[("CADENCE_DRY_RUN", "false")]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{missing}: {err}");
        assert!(err.contains(missing) && err.contains("Fix: "), "{err}");
        // Dry-run needs none of them.
        let out = run(&["replay", "--dry-run", event], &[]);
        assert_eq!(out.status.code(), Some(0), "dry-run with {missing} unset: {}", text(&out.stderr));
    }
}
