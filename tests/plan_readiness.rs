//! Readiness in the plan (pure): which holds it gives, where, and what the concern's messages say.

use std::collections::BTreeMap;

use aks_cadence::action::{ActionKind, Hold, Stage};
use aks_cadence::domain::{ClusterFacts, ClusterId, OfferedVersion, Origin, Signal, SignalKind};
use aks_cadence::plan::{self, PlanFacts, WindowStatus};
use aks_cadence::policy::Policy;
use aks_cadence::readiness::{PoolSurge, Problem, ReadinessFacts, Reading, Usage};
use jiff::{SignedDuration, Timestamp};

const AUTO: &str = r#"
[defaults.upgrade]
patch = "auto"
node_image = "auto"
auto_after_days = 0

[[rule]]
name = "all"
[rule.github_issue]
repo = "platform/clusters"
"#;

fn now() -> Timestamp {
    "2026-11-29T09:00:00Z".parse().unwrap()
}

fn policy(extra: &str) -> Policy {
    Policy::parse(&format!("{AUTO}\n{extra}"), "test.toml").unwrap_or_else(|e| panic!("{e:#?}"))
}

fn sweep(kind: SignalKind) -> Signal {
    Signal {
        cluster: ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod", "aks-prod"),
        facts: ClusterFacts {
            location: Some("westeurope".into()),
            kubernetes_version: Some("1.30.4".into()),
            provisioning_state: Some("Succeeded".into()),
            power_state: Some("Running".into()),
            ..ClusterFacts::default()
        },
        kind,
        observed_at: now(),
        origin: Origin::Sweep { run_id: "run-1".into() },
    }
}

fn patch() -> Signal {
    sweep(SignalKind::UpgradesOffered { current: "1.30.4".into(), offered: vec![OfferedVersion { version: "1.30.7".into(), is_preview: false }] })
}

fn image(pool: &str) -> Signal {
    sweep(SignalKind::NodeImageAvailable { pool: pool.into(), current: "AKSUbuntu-2204gen2containerd-202401.09.0".into(), latest: "AKSUbuntu-2204gen2containerd-202405.03.0".into() })
}

fn pool(name: &str, count: u32) -> PoolSurge {
    PoolSurge { name: name.into(), count, vm_size: Some("Standard_D8s_v3".into()), max_surge: Some("1".into()), node_subnet_ips_per_node: 1, ..Default::default() }
}

/// Two pools of 8-vCPU nodes, one surge node each; `free` vCPUs left in the region.
fn facts(free: i64) -> ReadinessFacts {
    ReadinessFacts {
        pools: vec![pool("system", 3), pool("user", 3)],
        quota: Some(Reading::Known(BTreeMap::from([("cores".to_string(), Usage { current: 100 - free, limit: 100 })]))),
        ..Default::default()
    }
}

fn plan_facts(readiness: Option<ReadinessFacts>, window: WindowStatus) -> PlanFacts {
    PlanFacts { window, readiness, ..PlanFacts::default() }
}

fn open() -> WindowStatus {
    WindowStatus::Open { until: now() + SignedDuration::from_hours(4) }
}

fn upgrade_hold(actions: &[aks_cadence::action::Action]) -> Option<Hold> {
    actions.iter().find(|a| matches!(a.kind, ActionKind::Upgrade { .. })).expect("an upgrade action").hold.clone()
}

/// (name, signal, policy lines, readiness facts, window, the upgrade's hold).
type Case = (&'static str, Signal, &'static str, Option<ReadinessFacts>, WindowStatus, Option<Hold>);

#[test]
fn readiness_holds_table() {
    let quota_short = Hold::Readiness { problems: vec![Problem::Quota { counter: "cores".into(), needed: 16, available: 10 }], unknown: vec![] };
    let cases: Vec<Case> = vec![
        ("no facts read: nothing to hold", patch(), "", None, open(), None),
        ("room for both pools' surge", patch(), "", Some(facts(16)), open(), None),
        ("a version upgrade surges every pool: 16 vCPUs", patch(), "", Some(facts(10)), open(), Some(quota_short.clone())),
        ("a node image upgrade surges its pool: 8 fit in 10", image("user"), "", Some(facts(10)), open(), None),
        (
            "a node image upgrade surges its pool: 8 do not fit in 4",
            image("user"),
            "",
            Some(facts(4)),
            open(),
            Some(Hold::Readiness { problems: vec![Problem::Quota { counter: "cores".into(), needed: 8, available: 4 }], unknown: vec![] }),
        ),
        ("readiness speaks before the window", patch(), "", Some(facts(10)), WindowStatus::Closed { next: None }, Some(quota_short.clone())),
        ("readiness off", patch(), "[readiness]\nenabled = false", Some(facts(10)), open(), None),
        ("quota check off", patch(), "[readiness]\ncheck_quota = false", Some(facts(10)), open(), None),
        (
            "notify-only keeps its own reason",
            patch(),
            "[rule.upgrade]\npatch = \"notify\"",
            Some(facts(10)),
            open(),
            Some(Hold::PolicyNotifyOnly),
        ),
    ];
    for (name, signal, extra, readiness, window, want) in cases {
        let p = policy(extra);
        let actions = plan::plan(&signal, &p, &plan_facts(readiness, window), now());
        assert_eq!(upgrade_hold(&actions), want, "{name}");
    }
}

#[test]
fn unknown_readiness_is_told_and_holds_only_when_policy_says_so() {
    let unknown = ReadinessFacts { pools: vec![pool("system", 3)], quota: Some(Reading::Unknown("Compute usages of subscription s in westeurope: HTTP 403".into())), ..Default::default() };
    let actions = plan::plan(&patch(), &policy(""), &plan_facts(Some(unknown.clone()), open()), now());
    assert_eq!(upgrade_hold(&actions), None);
    let holding = policy("[readiness]\nhold_when_unknown = true");
    let actions = plan::plan(&patch(), &holding, &plan_facts(Some(unknown), open()), now());
    assert_eq!(
        upgrade_hold(&actions),
        Some(Hold::Readiness { problems: vec![], unknown: vec!["vCPU quota: Compute usages of subscription s in westeurope: HTTP 403".into()] })
    );
    assert_eq!(
        upgrade_hold(&actions).unwrap().describe(),
        "not ready: unknown: vCPU quota: Compute usages of subscription s in westeurope: HTTP 403"
    );
}

#[test]
fn the_concerns_issue_says_what_is_not_ready_with_the_numbers() {
    let actions = plan::plan(&patch(), &policy(""), &plan_facts(Some(facts(10)), open()), now());
    let issue = actions.iter().find(|a| matches!(a.kind, ActionKind::GithubIssue { .. }) && a.stage == Stage::Notice).expect("an issue");
    assert_eq!(issue.note.as_deref(), Some("readiness: vCPU quota cores: the surge nodes need 16, 10 available"));
    let upgrade = actions.iter().find(|a| matches!(a.kind, ActionKind::Upgrade { .. })).unwrap();
    assert!(upgrade.summary.ends_with("held: not ready: vCPU quota cores: the surge nodes need 16, 10 available"), "{}", upgrade.summary);
    // Ready: no line.
    let actions = plan::plan(&patch(), &policy(""), &plan_facts(Some(facts(50)), open()), now());
    assert!(actions.iter().all(|a| a.note.is_none()));
}

#[test]
fn a_failed_operation_is_told_with_its_likely_cause() {
    use aks_cadence::domain::{ConcernKind, OperationStatus};
    let failed = sweep(SignalKind::Operation {
        concern: ConcernKind::KubernetesUpgrade,
        target: "patch:1.30.4".into(),
        status: OperationStatus::Failed { code: "SubnetIsFull".into(), message: "Subnet aks-nodes doesn't have enough capacity for IP addresses.".into() },
    });
    let actions = plan::plan(&failed, &policy(""), &PlanFacts::default(), now());
    let told = actions.iter().find(|a| a.stage == Stage::Update).expect("an update");
    assert!(told.summary.contains("failed: SubnetIsFull: "), "{}", told.summary);
    // The cause goes under the summary (the issue comment, mail and chat show it), not into it.
    let note = told.note.as_deref().unwrap_or_default();
    assert!(
        note.starts_with("likely cause: the subnet has no free addresses for the surge nodes")
            && note.contains("https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/error-code-subnetisfull"),
        "{note}"
    );
    // An answer AKS's docs do not explain adds nothing.
    let other = sweep(SignalKind::Operation {
        concern: ConcernKind::KubernetesUpgrade,
        target: "patch:1.30.4".into(),
        status: OperationStatus::Failed { code: "InternalOperationError".into(), message: "try again later".into() },
    });
    let actions = plan::plan(&other, &policy(""), &PlanFacts::default(), now());
    assert!(actions.iter().all(|a| a.note.is_none()), "{actions:#?}");
}
