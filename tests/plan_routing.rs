//! Escalation routing in the plan, as tables: which channels each stage of the ladder gets when
//! rules route `[rule.notice]`, `[rule.reminder]` and `[rule.overdue]` differently, how the routes
//! of several rules add up and are deduplicated, and that the escalation on the issue is one
//! action with its own key per stage and repository.

use aks_cadence::action::{Action, ActionKind, Stage};
use aks_cadence::domain::{ClusterFacts, ClusterId, ConcernKind, OfferedVersion, Origin, Signal, SignalKind};
use aks_cadence::plan::{self, PlanFacts};
use aks_cadence::policy::Policy;
use jiff::{SignedDuration, Timestamp};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}
fn t0() -> Timestamp {
    ts("2026-11-29T09:00:00Z")
}
fn plus_days(d: i64) -> Timestamp {
    t0() + SignedDuration::from_hours(24 * d)
}

fn prod() -> ClusterId {
    ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod-weu", "aks-prod-weu")
}

/// A sweep's finding: a patch 1.30.4 → 1.30.7 offered (patch_within_days 14, reminder 3 days
/// before: notice until day 11, reminder from day 11, overdue from day 14).
fn patch_offered() -> Signal {
    let facts = ClusterFacts {
        location: Some("westeurope".into()),
        kubernetes_version: Some("1.30.4".into()),
        provisioning_state: Some("Succeeded".into()),
        power_state: Some("Running".into()),
        tags: [("env".to_string(), "prod".to_string())].into(),
        ..ClusterFacts::default()
    };
    let kind = SignalKind::UpgradesOffered { current: "1.30.4".into(), offered: vec![OfferedVersion { version: "1.30.7".into(), is_preview: false }] };
    Signal { cluster: prod(), facts, kind, observed_at: t0(), origin: Origin::Sweep { run_id: "run-1".into() } }
}

fn policy(text: &str) -> Policy {
    Policy::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e:#?}"))
}

/// The plan at `now` for a concern first seen at t0.
fn at(policy: &Policy, now: Timestamp) -> Vec<Action> {
    let signal = patch_offered();
    let first_seen = plan::concerns(&signal, policy).into_iter().map(|c| (c.key(), t0())).collect();
    plan::plan(&signal, policy, &PlanFacts { first_seen, ..PlanFacts::default() }, now)
}

/// The message actions of the patch concern: (stage, channel), in plan order.
fn told(actions: &[Action]) -> Vec<(Stage, String)> {
    actions
        .iter()
        .filter(|a| a.concern.target == "patch:1.30.4" && a.stage != Stage::Execute)
        .map(|a| (a.stage, a.kind.channel()))
        .collect()
}

fn escalation(actions: &[Action]) -> Vec<&ActionKind> {
    actions.iter().filter(|a| matches!(a.kind, ActionKind::GithubEscalation { .. })).map(|a| &a.kind).collect()
}

const ROUTED: &str = r#"
[[rule]]
name = "platform"
[rule.github_issue]
repo = "contoso/platform-infra"
labels = ["aks"]
assignees = ["platform-oncall"]
[rule.email]
to = ["platform@contoso.example"]
[[rule.chat]]
kind = "teams"
url_setting = "TEAMS_PLATFORM"

[rule.reminder]
email = ["platform-lead@contoso.example"]

[rule.overdue]
assignees = ["platform-lead"]
labels = ["overdue"]
email = ["cto-office@contoso.example"]
[[rule.overdue.chat]]
kind = "slack"
url_setting = "SLACK_INCIDENTS"
"#;

#[test]
fn each_stage_gets_the_base_channels_and_only_its_own_routes() {
    use Stage::*;
    let p = policy(ROUTED);
    let base = |stage: Stage| {
        vec![
            (stage, "github-issue:contoso/platform-infra".to_string()),
            (stage, "email:platform@contoso.example".to_string()),
            (stage, "teams:TEAMS_PLATFORM".to_string()),
        ]
    };
    let table: [(Timestamp, Vec<(Stage, String)>); 3] = [
        (t0(), base(Notice)),
        (plus_days(11), [base(Reminder), vec![(Reminder, "email:platform-lead@contoso.example".into())]].concat()),
        (
            plus_days(14),
            [
                base(Overdue),
                vec![
                    (Overdue, "email:cto-office@contoso.example".into()),
                    (Overdue, "slack:SLACK_INCIDENTS".into()),
                    (Overdue, "github-escalation:contoso/platform-infra".into()),
                ],
            ]
            .concat(),
        ),
    ];
    for (now, want) in table {
        assert_eq!(told(&at(&p, now)), want, "at {now}");
    }
}

#[test]
fn the_escalation_is_one_action_with_its_own_key_after_the_issue_action() {
    let actions = at(&policy(ROUTED), plus_days(14));
    let kinds = escalation(&actions);
    assert_eq!(
        kinds,
        [&ActionKind::GithubEscalation { repo: "contoso/platform-infra".into(), labels: vec!["overdue".into()], assignees: vec!["platform-lead".into()] }]
    );
    let keys: Vec<&str> = actions.iter().map(|a| a.key.as_str()).collect();
    let escalate = keys.iter().position(|k| k.ends_with("#patch:1.30.4/github-escalation:contoso/platform-infra/overdue")).expect("the escalation's key");
    let issue = keys.iter().position(|k| k.ends_with("#patch:1.30.4/github-issue:contoso/platform-infra/overdue")).expect("the issue's key");
    assert!(issue < escalate, "the issue action runs first: {keys:#?}");
    // The base issue action keeps the rule's own labels and assignees (applied when it opens).
    let base = actions.iter().find(|a| a.key.as_str() == keys[issue]).unwrap();
    assert_eq!(
        base.kind,
        ActionKind::GithubIssue { repo: "contoso/platform-infra".into(), labels: vec!["aks".into()], assignees: vec!["platform-oncall".into()] }
    );
    // Planning the same stage again gives the same keys (the ledger makes it happen once).
    let again: Vec<String> = at(&policy(ROUTED), plus_days(15)).iter().map(|a| a.key.to_string()).collect();
    assert_eq!(again, keys);
}

/// Two rules select prod: the platform rule and a prod rule routing its own overdue stage.
const TWO_RULES: &str = r#"
[[rule]]
name = "platform"
[rule.github_issue]
repo = "contoso/platform-infra"
[rule.email]
to = ["Platform <platform@contoso.example>"]
[[rule.chat]]
kind = "teams"
url_setting = "TEAMS_PLATFORM"

[rule.overdue]
labels = ["overdue", "sla"]
assignees = ["platform-lead"]
email = ["CTO Office <cto-office@contoso.example>"]

[[rule]]
name = "prod"
tags = { env = "prod" }
[rule.github_issue]
repo = "Contoso/Platform-Infra"

[rule.overdue]
labels = ["SLA", "prod-incident"]
assignees = ["@Platform-Lead", "prod-owner"]
email = ["cto-office@contoso.example", "platform@contoso.example", "prod-owner@contoso.example"]
[[rule.overdue.chat]]
kind = "teams"
url_setting = "TEAMS_PLATFORM"
[[rule.overdue.chat]]
kind = "teams"
url_setting = "TEAMS_PROD_INCIDENTS"
"#;

#[test]
fn routes_of_every_applicable_rule_add_up_and_each_recipient_label_and_login_is_planned_once() {
    let actions = at(&policy(TWO_RULES), plus_days(14));
    assert_eq!(
        told(&actions),
        [
            (Stage::Overdue, "github-issue:contoso/platform-infra".to_string()),
            (Stage::Overdue, "email:platform <platform@contoso.example>".to_string()),
            (Stage::Overdue, "teams:TEAMS_PLATFORM".to_string()),
            // Only those no base mail reaches, once each (the display name does not matter).
            (Stage::Overdue, "email:cto office <cto-office@contoso.example>,prod-owner@contoso.example".to_string()),
            // TEAMS_PLATFORM is a base channel already: one post.
            (Stage::Overdue, "teams:TEAMS_PROD_INCIDENTS".to_string()),
            (Stage::Overdue, "github-escalation:contoso/platform-infra".to_string()),
        ]
    );
    assert_eq!(
        escalation(&actions),
        [&ActionKind::GithubEscalation {
            repo: "contoso/platform-infra".into(),
            labels: vec!["overdue".into(), "sla".into(), "prod-incident".into()],
            assignees: vec!["platform-lead".into(), "prod-owner".into()],
        }]
    );
}

#[test]
fn a_rule_that_does_not_apply_routes_nothing() {
    // Without the env=prod tag the prod rule does not select the cluster.
    let p = policy(TWO_RULES);
    let mut signal = patch_offered();
    signal.facts.tags = [("env".to_string(), "dev".to_string())].into();
    let first_seen = plan::concerns(&signal, &p).into_iter().map(|c| (c.key(), t0())).collect();
    let actions = plan::plan(&signal, &p, &PlanFacts { first_seen, ..PlanFacts::default() }, plus_days(14));
    assert_eq!(
        escalation(&actions),
        [&ActionKind::GithubEscalation { repo: "contoso/platform-infra".into(), labels: vec!["overdue".into(), "sla".into()], assignees: vec!["platform-lead".into()] }]
    );
    assert!(actions.iter().all(|a| a.kind.channel() != "teams:TEAMS_PROD_INCIDENTS"));
}

#[test]
fn escalations_go_to_each_repository_that_holds_an_issue() {
    let p = policy(
        r#"
[[rule]]
name = "platform"
[rule.github_issue]
repo = "contoso/platform-infra"
[rule.overdue]
labels = ["overdue"]

[[rule]]
name = "payments"
[rule.github_issue]
repo = "contoso/payments"
[rule.overdue]
assignees = ["payments-lead"]
"#,
    );
    let actions = at(&p, plus_days(14));
    assert_eq!(
        escalation(&actions),
        [
            &ActionKind::GithubEscalation { repo: "contoso/platform-infra".into(), labels: vec!["overdue".into()], assignees: vec![] },
            &ActionKind::GithubEscalation { repo: "contoso/payments".into(), labels: vec![], assignees: vec!["payments-lead".into()] },
        ]
    );
}

#[test]
fn a_route_alone_is_a_channel_and_no_log_line_is_planned_beside_it() {
    // A rule that only pages someone at overdue: notice and reminder go nowhere but the log.
    let p = policy(
        r#"
[[rule]]
name = "pager"
[rule.overdue]
email = ["pager@contoso.example"]
"#,
    );
    assert_eq!(told(&at(&p, t0())), [(Stage::Notice, "log".to_string())]);
    assert_eq!(told(&at(&p, plus_days(14))), [(Stage::Overdue, "email:pager@contoso.example".to_string())]);
}

#[test]
fn a_stage_skipped_on_the_ladder_routes_nothing_of_its_own() {
    // First seen on day 0, next run on day 14: the reminder's route is never planned, only the
    // overdue one (routes ride on the stage's message, which is planned once, at the highest
    // stage reached).
    let actions = at(&policy(ROUTED), plus_days(14));
    assert!(actions.iter().all(|a| a.kind.channel() != "email:platform-lead@contoso.example"), "{:#?}", told(&actions));
}

#[test]
fn a_concern_first_seen_past_its_deadline_gets_the_overdue_routes_at_once() {
    // A cluster first seen on a version whose support has ended: its first message is overdue,
    // with `[rule.overdue]`'s extras (the first sighting is now: no earlier stage was told).
    let p = policy(ROUTED);
    let signal = Signal { kind: SignalKind::SupportEnded { kubernetes_version: "1.30.4".into() }, ..patch_offered() };
    let actions = plan::plan(&signal, &p, &PlanFacts::default(), t0());
    let told: Vec<(Stage, String)> = actions.iter().filter(|a| a.concern.kind == ConcernKind::Support).map(|a| (a.stage, a.kind.channel())).collect();
    assert!(told.iter().all(|(stage, _)| *stage == Stage::Overdue), "{told:#?}");
    for extra in ["email:cto-office@contoso.example", "slack:SLACK_INCIDENTS", "github-escalation:contoso/platform-infra"] {
        assert!(told.iter().any(|(_, channel)| channel == extra), "{extra} missing: {told:#?}");
    }
}
