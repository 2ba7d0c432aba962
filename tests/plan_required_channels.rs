//! Required AKS channels (`require_upgrade_channel`, `require_node_os_channel`): which swept
//! clusters get an `aks-channel` finding, what it says (the exact `az aks update` command and
//! the best-practice guide's recommendation), when a sweep resolves it, and what `config check`
//! refuses.

use aks_cadence::action::{ActionKind, Stage};
use aks_cadence::domain::{ClusterFacts, ClusterId, ConcernKind, Origin, Signal, SignalKind};
use aks_cadence::plan::{self, PlanFacts};
use aks_cadence::policy::Policy;
use jiff::Timestamp;

fn t0() -> Timestamp {
    "2026-11-29T09:00:00Z".parse().unwrap()
}

fn cluster(name: &str) -> ClusterId {
    ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg", name)
}

fn facts() -> ClusterFacts {
    ClusterFacts { location: Some("westeurope".into()), kubernetes_version: Some("1.30.4".into()), ..ClusterFacts::default() }
}

fn policy(text: &str) -> Policy {
    Policy::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e:#?}"))
}

const BOTH: &str = r#"
[defaults]
require_upgrade_channel = "patch"
require_node_os_channel = "NodeImage"
"#;

fn upgrade(target: &str) -> String {
    target.to_string()
}

/// (upgradeChannel, nodeOSUpgradeChannel) as ARM gives them.
type Pair<'a> = (Option<&'a str>, Option<&'a str>);
/// (setting, current, required) of a finding.
type Missing = (String, Option<String>, String);

/// The findings, and the settings resolved.
fn judged(p: &Policy, name: &str, now: Pair<'_>, before: Option<Pair<'_>>) -> (Vec<Missing>, Vec<String>) {
    let mut missing = Vec::new();
    let mut resolved = Vec::new();
    for kind in plan::channel_findings(p, &cluster(name), &facts(), now, before) {
        match kind {
            SignalKind::ChannelRequired { setting, current, required } => missing.push((setting, current, required)),
            SignalKind::Resolved { concern: ConcernKind::AksChannel, target } => resolved.push(target),
            other => panic!("unexpected {other:?}"),
        }
    }
    (missing, resolved)
}

#[test]
fn a_cluster_without_the_required_channels_gets_one_finding_per_setting() {
    let p = policy(BOTH);
    type Row<'a> = ((Option<&'a str>, Option<&'a str>), Vec<(&'a str, Option<&'a str>, &'a str)>);
    let table: Vec<Row> = vec![
        ((None, None), vec![("upgradeChannel", None, "patch"), ("nodeOSUpgradeChannel", None, "NodeImage")]),
        ((Some("none"), Some("Unmanaged")), vec![("upgradeChannel", Some("none"), "patch"), ("nodeOSUpgradeChannel", Some("Unmanaged"), "NodeImage")]),
        ((Some("stable"), Some("NodeImage")), vec![("upgradeChannel", Some("stable"), "patch")]),
        // ARM compares channel values without regard to case.
        ((Some("Patch"), Some("nodeimage")), vec![]),
        ((Some("patch"), Some("NodeImage")), vec![]),
    ];
    for (now, want) in table {
        let (missing, _) = judged(&p, "aks1", now, Some(now));
        let want: Vec<Missing> =
            want.into_iter().map(|(s, c, r)| (upgrade(s), c.map(str::to_string), r.to_string())).collect();
        assert_eq!(missing, want, "{now:?}");
    }
}

#[test]
fn nothing_is_required_without_the_keys_and_an_absent_upgrade_channel_is_none() {
    let (missing, resolved) = judged(&policy("[defaults]\npatch_within_days = 7\n"), "aks1", (None, None), None);
    assert!(missing.is_empty() && resolved.is_empty());
    // AKS documents `none` as upgradeChannel's default: a cluster without the property has it.
    let (missing, _) = judged(&policy("[defaults]\nrequire_upgrade_channel = \"none\"\n"), "aks1", (None, None), Some((None, None)));
    assert!(missing.is_empty(), "{missing:?}");
}

#[test]
fn the_first_rule_that_sets_a_requirement_wins_over_defaults() {
    let p = policy(
        r#"
[defaults]
require_upgrade_channel = "stable"

[[rule]]
name = "prod"
clusters = ["aks-prod-*"]
require_upgrade_channel = "patch"

[[rule]]
name = "everything"
require_upgrade_channel = "rapid"
"#,
    );
    let (prod, _) = judged(&p, "aks-prod-1", (Some("stable"), None), Some((Some("stable"), None)));
    assert_eq!(prod, vec![("upgradeChannel".to_string(), Some("stable".to_string()), "patch".to_string())]);
    let (dev, _) = judged(&p, "aks-dev-1", (Some("stable"), None), Some((Some("stable"), None)));
    assert_eq!(dev, vec![("upgradeChannel".to_string(), Some("stable".to_string()), "rapid".to_string())]);
}

#[test]
fn a_setting_seen_to_move_to_the_required_channel_resolves_and_an_unchanged_one_says_nothing() {
    let p = policy(BOTH);
    let good = (Some("patch"), Some("NodeImage"));
    // Moved since the last sweep: both resolve (the pipeline closes only concerns it has seen).
    let (_, resolved) = judged(&p, "aks1", good, Some((None, Some("NodeImage"))));
    assert_eq!(resolved, vec!["upgradeChannel".to_string()]);
    // No earlier sweep remembered the channels: resolved once, to close whatever was open.
    let (_, resolved) = judged(&p, "aks1", good, None);
    assert_eq!(resolved, vec!["upgradeChannel".to_string(), "nodeOSUpgradeChannel".to_string()]);
    // Unchanged: nothing.
    let (missing, resolved) = judged(&p, "aks1", good, Some(good));
    assert!(missing.is_empty() && resolved.is_empty());
}

#[test]
fn the_finding_names_what_is_set_what_is_required_and_the_command_that_sets_it() {
    let p = policy(&format!("{BOTH}\n[[rule]]\nname = \"ops\"\ngithub_issue = {{ repo = \"org/ops\" }}\n"));
    let signal = |kind| Signal { cluster: cluster("aks1"), facts: facts(), kind, observed_at: t0(), origin: Origin::Sweep { run_id: "r".into() } };
    let missing = signal(SignalKind::ChannelRequired { setting: "upgradeChannel".into(), current: Some("none".into()), required: "patch".into() });
    let actions = plan::plan(&missing, &p, &PlanFacts::default(), t0());
    assert_eq!(actions.len(), 1, "{actions:#?}");
    let a = &actions[0];
    assert_eq!((a.stage, a.concern.kind, a.concern.target.as_str()), (Stage::Notice, ConcernKind::AksChannel, "upgradeChannel"));
    assert!(matches!(a.kind, ActionKind::GithubIssue { .. }));
    assert!(a.hold.is_none() && !a.kind.changes_cluster(), "a finding, never a change");
    for want in [
        "upgradeChannel is none",
        "policy requires patch",
        "az aks update --subscription 00000000-0000-0000-0000-00000000a001 --resource-group rg --name aks1 --auto-upgrade-channel patch",
        "best-practice guide recommends",
    ] {
        assert!(a.summary.contains(want), "{want:?} in {}", a.summary);
    }
    let node_os = signal(SignalKind::ChannelRequired { setting: "nodeOSUpgradeChannel".into(), current: None, required: "NodeImage".into() });
    let actions = plan::plan(&node_os, &p, &PlanFacts::default(), t0());
    assert!(actions[0].summary.contains("nodeOSUpgradeChannel is not set") && actions[0].summary.contains("--node-os-upgrade-channel NodeImage"), "{}", actions[0].summary);

    // The resolution closes the issue saying the setting is now set.
    let set = ClusterFacts { upgrade_channel: Some("patch".into()), ..facts() };
    let resolved = Signal { facts: set, ..signal(SignalKind::Resolved { concern: ConcernKind::AksChannel, target: "upgradeChannel".into() }) };
    let actions = plan::plan(&resolved, &p, &PlanFacts::default(), t0());
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].stage, Stage::Resolve);
    assert!(matches!(actions[0].kind, ActionKind::GithubClose { .. }));
    assert!(actions[0].summary.contains("upgradeChannel is now set to patch"), "{}", actions[0].summary);
}

#[test]
fn config_check_refuses_unknown_channels_and_wrong_case_with_the_line_and_the_fix() {
    let text = "[defaults]\nrequire_upgrade_channel = \"Patch\"\n\n[[rule]]\nname = \"r\"\nrequire_node_os_channel = \"SecurityPatches\"\nrequire_upgrade_channel = \"weekly\"\n";
    let errors = Policy::parse(text, "cadence.toml").expect_err("bad channels");
    let all: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    let joined = all.join("\n");
    assert_eq!(all.len(), 3, "{joined}");
    assert!(joined.contains("cadence.toml:2") && joined.contains("did you mean \"patch\""), "{joined}");
    assert!(joined.contains("cadence.toml:6") && joined.contains("did you mean \"SecurityPatch\""), "{joined}");
    assert!(joined.contains("cadence.toml:7") && joined.contains("\"none\", \"patch\", \"stable\", \"rapid\", \"node-image\""), "{joined}");
    // Another setting's value is refused too: NodeImage is a node OS channel, node-image an upgrade channel.
    let swapped = Policy::parse("[defaults]\nrequire_node_os_channel = \"node-image\"\n", "c.toml").expect_err("swapped");
    assert!(swapped[0].to_string().contains("did you mean \"NodeImage\""), "{}", swapped[0]);
}

#[test]
fn the_policy_summary_mentions_the_requirement() {
    let p = policy(BOTH);
    let summary = p.summary().join("\n");
    assert!(summary.contains("requires upgradeChannel patch") && summary.contains("requires nodeOSUpgradeChannel NodeImage"), "{summary}");
}
