//! Approvals and infrastructure code in the plan: with `approval = "github"` an `auto` upgrade
//! that every other gate lets run is held `AwaitingApproval` (the pipeline then reads the issue),
//! other gates come first, and the issue says how to approve; a concern whose IaC pull request
//! was merged is held `HandledByIac` and watched like an AKS channel's change.

use aks_cadence::action::{Action, ActionKind, Hold, Stage};
use aks_cadence::domain::{ClusterFacts, ClusterId, Concern, ConcernKind, OfferedVersion, Origin, Signal, SignalKind};
use aks_cadence::plan::{self, PlanFacts, WindowStatus};
use aks_cadence::policy::Policy;
use jiff::{SignedDuration, Timestamp};

fn t0() -> Timestamp {
    "2026-11-29T09:00:00Z".parse().unwrap()
}

fn cluster() -> ClusterId {
    ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod-weu", "aks-prod-weu")
}

fn signal() -> Signal {
    let facts = ClusterFacts {
        location: Some("westeurope".into()),
        kubernetes_version: Some("1.30.4".into()),
        provisioning_state: Some("Succeeded".into()),
        power_state: Some("Running".into()),
        ..ClusterFacts::default()
    };
    let kind = SignalKind::UpgradesOffered { current: "1.30.4".into(), offered: vec![OfferedVersion { version: "1.30.7".into(), is_preview: false }] };
    Signal { cluster: cluster(), facts, kind, observed_at: t0(), origin: Origin::Sweep { run_id: "run-1".into() } }
}

const POLICY: &str = r#"
[[rule]]
name = "prod"
[rule.upgrade]
patch = "auto"
approval = "github"
hold_label = "stop"
[rule.github_issue]
repo = "o/r"
"#;

fn policy(text: &str) -> Policy {
    Policy::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e:#?}"))
}

fn facts(window: WindowStatus) -> PlanFacts {
    PlanFacts { window, ..PlanFacts::default() }
}

fn execute(actions: &[Action]) -> &Action {
    actions.iter().find(|a| a.stage == Stage::Execute && matches!(a.kind, ActionKind::Upgrade { .. })).expect("an upgrade execute")
}

#[test]
fn approval_is_the_last_gate_and_the_issue_says_how_to_approve() {
    let open = WindowStatus::Open { until: t0() + SignedDuration::from_hours(4) };
    let actions = plan::plan(&signal(), &policy(POLICY), &facts(open.clone()), t0());
    assert_eq!(execute(&actions).hold, Some(Hold::AwaitingApproval { url: None, cause: None }));
    assert!(execute(&actions).summary.ends_with("held: awaiting approval on the concern's GitHub issue (a user with write access applies the approval label or comments /approve)"), "{}", execute(&actions).summary);
    let issue = actions.iter().find(|a| a.stage == Stage::Notice && matches!(a.kind, ActionKind::GithubIssue { .. })).expect("the issue notice");
    let note = issue.note.as_deref().unwrap_or_default();
    assert!(note.contains("applies the label `aks-cadence/approved` or comments `/approve`") && note.contains("`stop` or `/hold` stops it"), "{note}");

    // A closed window holds first: approval is not asked for a change that could not start.
    let next = t0() + SignedDuration::from_hours(10);
    let actions = plan::plan(&signal(), &policy(POLICY), &facts(WindowStatus::Closed { next: Some(next) }), t0());
    assert_eq!(execute(&actions).hold, Some(Hold::OutsideWindow { next: Some(next) }));

    // Without approval in policy the open window lets it run.
    let without = POLICY.replace("approval = \"github\"\n", "");
    let actions = plan::plan(&signal(), &policy(&without), &facts(open), t0());
    assert_eq!(execute(&actions).hold, None);
}

#[test]
fn a_merged_iac_pull_request_holds_the_change_and_the_watchdog_escalates_at_the_deadline() {
    let pr = "https://github.example/o/infra/pull/7";
    let concern = Concern::new(cluster(), ConcernKind::KubernetesUpgrade, "patch:1.30.4");
    let open = WindowStatus::Open { until: t0() + SignedDuration::from_hours(4) };
    let mut f = facts(open);
    f.handled_by_iac.insert(concern.key(), pr.to_string());
    f.first_seen.insert(concern.key(), t0());

    let actions = plan::plan(&signal(), &policy(POLICY), &f, t0());
    assert_eq!(execute(&actions).hold, Some(Hold::HandledByIac { pr: pr.into() }));
    let notice = actions.iter().find(|a| a.stage == Stage::Notice && a.concern == concern).expect("a notice");
    assert!(notice.summary.contains(&format!("handled through infrastructure code ({pr} is merged); nothing to do unless it is still missing on 2026-12-13")), "{}", notice.summary);

    // 15 days later (patch_within_days 14) the version has not landed: overdue, still never started.
    let later = t0() + SignedDuration::from_hours(24 * 15);
    let actions = plan::plan(&signal(), &policy(POLICY), &f, later);
    assert_eq!(execute(&actions).hold, Some(Hold::HandledByIac { pr: pr.into() }));
    let overdue = actions.iter().find(|a| a.stage == Stage::Overdue && a.concern == concern).expect("the watchdog's overdue");
    assert!(overdue.summary.contains("merged through infrastructure code but not applied: Kubernetes 1.30.4 → 1.30.7 (patch) was merged in"), "{}", overdue.summary);
}
