//! The planner on the security baseline's signal: which channel hears what. Each failing check
//! is its own concern told on mail, chat and log (never as a GitHub issue) on the cadence ladder;
//! the checklist is the GitHub issue alone; a fix is told on the same channels as the failure;
//! the checklist is updated only when checks start failing or get fixed; nothing changes a cluster.

use std::collections::BTreeMap;

use aks_cadence::action::{Action, ActionKind, Stage};
use aks_cadence::domain::{BaselineItem, BaselineState, ClusterFacts, ClusterId, ConcernKind, Origin, Signal, SignalKind};
use aks_cadence::plan::{self, PlanFacts};
use aks_cadence::policy::Policy;
use jiff::Timestamp;

const POLICY: &str = r#"
[baseline]
within_days = 10

[[rule]]
name = "platform"
[rule.email]
to = ["platform@example.com"]
[rule.github_issue]
repo = "o/r"
[[rule.chat]]
kind = "teams"
url_setting = "TEAMS_WEBHOOK_URL"
"#;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn cluster() -> ClusterId {
    ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod", "aks-prod")
}

fn item(check: &str, status: BaselineState, since: Option<&str>) -> BaselineItem {
    let since = since.map(ts);
    BaselineItem {
        check: check.into(),
        title: format!("{check} title"),
        severity: "high".into(),
        status,
        detail: if status.is_failing() { "off".into() } else { String::new() },
        fix: status.is_failing().then(|| format!("az aks update -g rg-prod -n aks-prod --{check}")),
        doc: Some("https://learn.microsoft.com/azure/aks/".into()),
        since,
        due: since.map(|s| s + jiff::SignedDuration::from_hours(24 * 10)),
    }
}

fn signal(kind: SignalKind, at: &str) -> Signal {
    Signal { cluster: cluster(), facts: ClusterFacts::default(), kind, observed_at: ts(at), origin: Origin::Sweep { run_id: "run".into() } }
}

fn baseline(items: Vec<BaselineItem>, newly_failing: &[&str], fixed: &[&str]) -> SignalKind {
    let opened = items.iter().filter_map(|i| i.since).min();
    SignalKind::Baseline {
        opened,
        items: items.into(),
        newly_failing: newly_failing.iter().map(|s| s.to_string()).collect(),
        fixed: fixed.iter().map(|s| s.to_string()).collect(),
    }
}

/// Plans `signal` at its own time with every concern first seen at `first_seen`.
fn run(signal: &Signal, first_seen: &str) -> Vec<Action> {
    let policy = Policy::parse(POLICY, "test.toml").unwrap();
    let seen: BTreeMap<String, Timestamp> = plan::concerns(signal, &policy).into_iter().map(|c| (c.key(), ts(first_seen))).collect();
    plan::plan(signal, &policy, &PlanFacts { first_seen: seen, ..PlanFacts::default() }, signal.observed_at)
}

fn brief(actions: &[Action]) -> Vec<(Stage, &'static str, String)> {
    actions.iter().map(|a| (a.stage, a.kind.name(), a.concern.target.clone())).collect()
}

#[test]
fn a_failing_check_is_told_on_mail_and_chat_and_the_checklist_is_the_github_issue_alone() {
    let s = signal(
        baseline(vec![item("network-policy", BaselineState::Fail, Some("2026-03-01T09:00:00Z")), item("entra-id", BaselineState::Pass, None)], &[], &[]),
        "2026-03-01T09:00:00Z",
    );
    let actions = run(&s, "2026-03-01T09:00:00Z");
    assert_eq!(
        brief(&actions),
        vec![
            (Stage::Notice, "email", "network-policy@2026-03-01T09:00Z".to_string()),
            (Stage::Notice, "teams", "network-policy@2026-03-01T09:00Z".to_string()),
            (Stage::Notice, "github_issue", "checklist@2026-03-01T09:00Z".to_string()),
        ]
    );
    assert!(actions.iter().all(|a| a.concern.kind == ConcernKind::Baseline && !a.kind.changes_cluster() && a.hold.is_none()));
    let email = &actions[0];
    assert_eq!(email.deadline, Some(ts("2026-03-11T09:00:00Z")), "due within_days after it began failing");
    assert!(email.summary.contains("network-policy title (high severity) fails: off; due 2026-03-11"), "{}", email.summary);
    assert!(actions[2].summary.contains("security baseline: 1 of 2 checks failing (network-policy)"), "{}", actions[2].summary);
}

#[test]
fn a_check_still_failing_climbs_the_ladder_to_reminder_and_overdue() {
    let failing = || baseline(vec![item("network-policy", BaselineState::Fail, Some("2026-03-01T09:00:00Z"))], &[], &[]);
    let stage_at = |at: &str| run(&signal(failing(), at), "2026-03-01T09:00:00Z").iter().find(|a| a.kind.name() == "email").map(|a| a.stage);
    assert_eq!(stage_at("2026-03-05T09:00:00Z"), Some(Stage::Notice));
    assert_eq!(stage_at("2026-03-09T09:00:00Z"), Some(Stage::Reminder), "reminder_days_before (3) before the due date");
    assert_eq!(stage_at("2026-03-12T09:00:00Z"), Some(Stage::Overdue));
}

#[test]
fn the_checklist_is_updated_once_per_change_and_not_when_nothing_changed() {
    let items = || vec![item("network-policy", BaselineState::Pass, None), item("entra-id", BaselineState::Fail, Some("2026-03-01T09:00:00Z"))];
    let changed = run(&signal(baseline(items(), &[], &["network-policy@2026-03-01T09:00Z"]), "2026-03-02T09:00:00Z"), "2026-03-01T09:00:00Z");
    let updates: Vec<&Action> = changed.iter().filter(|a| a.stage == Stage::Update).collect();
    assert_eq!(updates.len(), 1, "{:#?}", brief(&changed));
    assert_eq!(updates[0].kind.name(), "github_issue");
    assert_eq!(updates[0].note.as_deref(), Some("fixed: network-policy"));
    let same = run(&signal(baseline(items(), &[], &[]), "2026-03-03T09:00:00Z"), "2026-03-01T09:00:00Z");
    assert!(same.iter().all(|a| a.stage != Stage::Update), "{:#?}", brief(&same));
}

#[test]
fn a_fix_is_told_on_the_failures_channels_and_the_last_fix_closes_the_checklist() {
    let fixed = signal(SignalKind::Resolved { concern: ConcernKind::Baseline, target: "network-policy@2026-03-01T09:00Z".into() }, "2026-03-02T09:00:00Z");
    let told = run(&fixed, "2026-03-01T09:00:00Z");
    assert_eq!(
        brief(&told),
        vec![
            (Stage::Resolve, "email", "network-policy@2026-03-01T09:00Z".to_string()),
            (Stage::Resolve, "teams", "network-policy@2026-03-01T09:00Z".to_string()),
        ],
        "mail and chat hear the fix; no GitHub call for a check's own concern"
    );
    for action in &told {
        assert!(action.summary.ends_with(": resolved: security baseline check network-policy passes now"), "the check is named, not its episode: {}", action.summary);
    }
    let closed = signal(SignalKind::Resolved { concern: ConcernKind::Baseline, target: "checklist@2026-03-01T09:00Z".into() }, "2026-03-02T09:00:00Z");
    let actions = run(&closed, "2026-03-01T09:00:00Z");
    assert_eq!(brief(&actions), vec![(Stage::Resolve, "github_close", "checklist@2026-03-01T09:00Z".to_string())]);
    assert!(matches!(&actions[0].kind, ActionKind::GithubClose { repo } if repo == "o/r"));
}
