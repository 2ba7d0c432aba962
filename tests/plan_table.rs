//! The planner as tables: every signal kind under the built-in policy, rule selection, version
//! choice, the escalation ladder with an injected clock, updates, resolution, every gate, and
//! the dry-run lines.

use std::collections::BTreeMap;

use aks_cadence::action::{Action, ActionKind, Hold, Stage, UpgradeScope};
use aks_cadence::domain::{
    CertificateKind, ClusterFacts, ClusterId, Concern, ConcernKind, MaintenanceKind, MaintenanceStatus, OfferedVersion,
    OperationStatus, Origin, RollingPhase, Signal, SignalKind,
};
use aks_cadence::plan::{self, PlanFacts, WindowScope, WindowStatus};
use aks_cadence::policy::Policy;
use aks_cadence::policy::versions::{self, AksVersion, MinorLine, RegionMinor, SupportFinding, SupportStatus};
use jiff::{SignedDuration, Timestamp};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const T0: &str = "2026-11-29T09:00:00Z";

fn t0() -> Timestamp {
    ts(T0)
}

fn plus_days(t: Timestamp, d: i64) -> Timestamp {
    t + SignedDuration::from_hours(24 * d)
}

fn prod() -> ClusterId {
    ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod-weu", "aks-prod-weu")
}

fn dev() -> ClusterId {
    ClusterId::from_parts("00000000-0000-0000-0000-00000000b002", "rg-dev-weu", "aks-dev-weu")
}

/// What a sweep knows about a healthy cluster on 1.30.4.
fn swept_facts() -> ClusterFacts {
    ClusterFacts {
        location: Some("westeurope".into()),
        kubernetes_version: Some("1.30.4".into()),
        support_plan: Some("KubernetesOfficial".into()),
        provisioning_state: Some("Succeeded".into()),
        power_state: Some("Running".into()),
        ..ClusterFacts::default()
    }
}

fn event_on(cluster: ClusterId, kind: SignalKind) -> Signal {
    Signal {
        cluster,
        facts: ClusterFacts::default(),
        kind,
        observed_at: t0(),
        origin: Origin::EventGrid { event_id: "e-1".into(), event_type: "Microsoft.ContainerService.X".into() },
    }
}

fn event(kind: SignalKind) -> Signal {
    event_on(prod(), kind)
}

fn sweep_on(cluster: ClusterId, kind: SignalKind) -> Signal {
    Signal { cluster, facts: swept_facts(), kind, observed_at: t0(), origin: Origin::Sweep { run_id: "run-1".into() } }
}

fn sweep(kind: SignalKind) -> Signal {
    sweep_on(prod(), kind)
}

fn offered(list: &[&str]) -> Vec<OfferedVersion> {
    list.iter()
        .map(|v| match v.strip_suffix("-preview") {
            Some(v) => OfferedVersion { version: v.into(), is_preview: true },
            None => OfferedVersion { version: (*v).into(), is_preview: false },
        })
        .collect()
}

fn upgrades(current: &str, list: &[&str]) -> SignalKind {
    SignalKind::UpgradesOffered { current: current.into(), offered: offered(list) }
}

fn new_version(stable: &str, supported: &str, preview: Option<&str>) -> SignalKind {
    SignalKind::NewKubernetesVersion {
        latest_supported: Some(supported.into()),
        latest_stable: Some(stable.into()),
        lowest_minor: Some("1.29.2".into()),
        latest_preview: preview.map(Into::into),
    }
}

fn node_image() -> SignalKind {
    SignalKind::NodeImageAvailable {
        pool: "nodepool1".into(),
        current: "AKSUbuntu-2204gen2containerd-202410.15.0".into(),
        latest: "AKSUbuntu-2204gen2containerd-202411.12.0".into(),
    }
}

fn certificate(not_after: Timestamp) -> SignalKind {
    SignalKind::CertificateExpiring { certificate: CertificateKind::ApiServer, not_after }
}

fn roll(phase: RollingPhase, error: Option<&str>) -> SignalKind {
    SignalKind::NodePoolRolling { pool: "nodepool1".into(), phase, error: error.map(Into::into) }
}

fn maintenance(status: MaintenanceStatus) -> SignalKind {
    SignalKind::Maintenance {
        event_id: "5a0d6e8b-0000-4000-8000-000000000001".into(),
        upgrade: MaintenanceKind::KubernetesVersion,
        status,
        scheduled_time: Some(ts("2026-12-05T01:00:00Z")),
        details: None,
    }
}

fn builtin() -> Policy {
    Policy::builtin()
}

fn policy(text: &str) -> Policy {
    Policy::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e:#?}"))
}

/// Ledger facts: every concern of `signal` first seen at `first_seen`.
fn seen(signal: &Signal, policy: &Policy, first_seen: Timestamp) -> PlanFacts {
    let first_seen: BTreeMap<String, Timestamp> =
        plan::concerns(signal, policy).into_iter().map(|c| (c.key(), first_seen)).collect();
    PlanFacts { first_seen, ..PlanFacts::default() }
}

/// `(stage, action, concern target)` per action, the shape most tables compare.
fn brief(actions: &[Action]) -> Vec<(Stage, &'static str, String)> {
    actions.iter().map(|a| (a.stage, a.kind.name(), a.concern.target.clone())).collect()
}

fn run(signal: &Signal, policy: &Policy, now: Timestamp) -> Vec<Action> {
    plan::plan(signal, policy, &seen(signal, policy, signal.observed_at), now)
}

fn only(actions: &[Action], stage: Stage) -> Vec<&Action> {
    actions.iter().filter(|a| a.stage == stage).collect()
}

// ---------------------------------------------------------------------------------------------
// Every signal kind under the built-in policy
// ---------------------------------------------------------------------------------------------

#[test]
fn every_signal_kind_under_the_builtin_policy_is_a_log_notice_and_changes_nothing() {
    use Stage::*;
    let expiring = certificate(plus_days(t0(), 45));
    let img = "nodepool1@AKSUbuntu-2204gen2containerd-202410.15.0";
    type Row = (Signal, Vec<(Stage, &'static str, &'static str)>);
    let table: Vec<Row> = vec![
        (event(new_version("1.31.2", "1.31.2", None)), vec![(Notice, "log", "1.31")]),
        (
            sweep(upgrades("1.30.4", &["1.30.7", "1.31.2"])),
            vec![
                (Notice, "log", "patch:1.30.4"),
                (Execute, "upgrade", "patch:1.30.4"),
                (Notice, "log", "1.31"),
                (Execute, "upgrade", "1.31"),
            ],
        ),
        (
            event(SignalKind::SupportEnding {
                kubernetes_version: "1.29.9".into(),
                eol_date: None,
                support_type: None,
                eol_source: None,
            }),
            vec![(Notice, "log", "1.29")],
        ),
        (event(SignalKind::SupportEnded { kubernetes_version: "1.29.9".into() }), vec![(Overdue, "log", "1.29")]),
        (sweep(node_image()), vec![(Notice, "log", img), (Execute, "upgrade", img)]),
        (
            sweep(expiring),
            vec![(Notice, "log", "api-server@2027-01-13"), (Execute, "rotate_certificates", "api-server@2027-01-13")],
        ),
        (event(roll(RollingPhase::Started, None)), vec![(Notice, "log", "nodepool1")]),
        (
            event(maintenance(MaintenanceStatus::Scheduled)),
            vec![(Notice, "log", "5a0d6e8b-0000-4000-8000-000000000001")],
        ),
        (
            sweep(SignalKind::Operation {
                concern: ConcernKind::KubernetesUpgrade,
                target: "patch:1.30.4".into(),
                status: OperationStatus::Succeeded,
            }),
            vec![(Update, "log", "patch:1.30.4")],
        ),
        (
            sweep(SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: "patch:1.30.4".into() }),
            vec![(Resolve, "log", "patch:1.30.4")],
        ),
        (sweep(SignalKind::EventsNotWired { system_topic: None, function: None }), vec![(Notice, "log", "aks-events")]),
        (
            sweep(SignalKind::RingInversion { version: "1.30.7".into(), detail: "ring inversion: aks-prod-weu (ring prod) received 1.30.7 …".into() }),
            vec![(Notice, "log", "1.30.7")],
        ),
        (
            sweep(SignalKind::ChannelRequired { setting: "upgradeChannel".into(), current: None, required: "patch".into() }),
            vec![(Notice, "log", "upgradeChannel")],
        ),
        (
            sweep(SignalKind::Baseline {
                opened: Some("2026-11-20T08:00:00Z".parse().unwrap()),
                items: vec![failing_baseline_item("disable-local-accounts", "2026-11-20T08:00:00Z")].into(),
                newly_failing: vec![],
                fixed: vec![],
            }),
            // The checklist issue needs a GitHub rule; the failing check is told on every other channel.
            vec![(Notice, "log", "disable-local-accounts@2026-11-20T08:00Z")],
        ),
    ];
    let mut kinds_seen = std::collections::BTreeSet::new();
    for (signal, want) in table {
        kinds_seen.insert(signal.kind.name());
        let actions = run(&signal, &builtin(), t0());
        let got: Vec<(Stage, &str, &str)> =
            actions.iter().map(|a| (a.stage, a.kind.name(), a.concern.target.as_str())).collect();
        assert_eq!(got, want, "{}", signal.kind.name());
        for a in &actions {
            if a.kind.changes_cluster() {
                assert_eq!(
                    a.hold,
                    Some(Hold::PolicyNotifyOnly),
                    "{}: the built-in policy never changes a cluster",
                    a.summary
                );
            } else {
                assert_eq!(a.hold, None);
            }
            assert!(a.summary.starts_with("aks-prod-weu: "), "{}", a.summary);
        }
    }
    assert_eq!(kinds_seen.len(), aks_cadence::policy::SIGNAL_NAMES.len(), "every signal kind is in the table");
}

fn failing_baseline_item(check: &str, since: &str) -> aks_cadence::domain::BaselineItem {
    aks_cadence::domain::BaselineItem {
        check: check.into(),
        title: "local accounts disabled".into(),
        severity: "high".into(),
        status: aks_cadence::domain::BaselineState::Fail,
        detail: "disableLocalAccounts is false".into(),
        fix: Some("az aks update --resource-group rg --name aks --disable-local-accounts".into()),
        doc: Some("https://learn.microsoft.com/azure/aks/manage-local-accounts-managed-azure-ad".into()),
        since: Some(since.parse().unwrap()),
        due: Some("2026-12-20T08:00:00Z".parse().unwrap()),
    }
}

#[test]
fn concerns_name_exactly_the_concerns_the_plan_is_about() {
    let signal = sweep(upgrades("1.30.4", &["1.30.7", "1.31.2"]));
    let concerns = plan::concerns(&signal, &builtin());
    assert_eq!(
        concerns,
        vec![
            Concern::new(prod(), ConcernKind::KubernetesUpgrade, "patch:1.30.4"),
            Concern::new(prod(), ConcernKind::KubernetesUpgrade, "1.31"),
        ]
    );
    let planned: std::collections::BTreeSet<_> =
        run(&signal, &builtin(), t0()).into_iter().map(|a| a.concern).collect();
    assert_eq!(planned, concerns.into_iter().collect());
}

// ---------------------------------------------------------------------------------------------
// Rule selection
// ---------------------------------------------------------------------------------------------

const TEAM_POLICY: &str = r#"
[[rule]]
name = "prod"
resource_groups = ["rg-prod-*"]
signals = ["upgrades-offered", "new-kubernetes-version", "support-ending", "support-ended", "node-image-available", "certificate-expiring"]
[rule.github_issue]
repo = "contoso/platform-infra"
labels = ["prod"]
[rule.github_pr]
repo = "contoso/platform-infra"
path = "infra/prod.bicepparam"
key = "kubernetesVersion"
[rule.email]
to = ["platform@contoso.example"]

[[rule]]
name = "prod-chat"
clusters = ["aks-prod-*"]
[[rule.chat]]
kind = "teams"
url_setting = "TEAMS_PROD"

[[rule]]
name = "prod-issues-again"
subscriptions = ["00000000-0000-0000-0000-00000000A001"]
[rule.github_issue]
repo = "Contoso/Platform-Infra"
labels = ["prod"]

[[rule]]
name = "nonprod"
resource_groups = ["rg-dev-*"]
[rule.upgrade]
node_image = "auto"
[[rule.chat]]
kind = "slack"
url_setting = "SLACK_DEV"

[[rule]]
name = "tagged"
tags = { team = "payments" }
[rule.email]
to = ["payments@contoso.example"]
"#;

fn channels(actions: &[Action], stage: Stage) -> Vec<String> {
    actions.iter().filter(|a| a.stage == stage).map(|a| a.kind.channel()).collect()
}

#[test]
fn every_applicable_rule_adds_its_channels_and_a_channel_named_twice_is_planned_once() {
    let p = policy(TEAM_POLICY);
    let actions = run(&sweep(upgrades("1.30.4", &["1.30.7"])), &p, t0());
    assert_eq!(
        channels(&actions, Stage::Notice),
        [
            "github-issue:contoso/platform-infra",
            "email:platform@contoso.example",
            "teams:TEAMS_PROD",
            "github-pr:contoso/platform-infra:infra/prod.bicepparam",
        ]
    );
}

#[test]
fn a_rule_hears_only_the_signals_it_lists_plus_outcomes_of_its_concerns() {
    let p = policy(TEAM_POLICY);
    // Rolls are not in the prod rule's list: its email does not hear them, while chat and the
    // unfiltered rule that opens issues in the same repository do.
    let actions = run(&event(roll(RollingPhase::Failed, Some("drain timeout"))), &p, t0());
    assert_eq!(channels(&actions, Stage::Notice), ["teams:TEAMS_PROD", "github-issue:contoso/platform-infra"]);
    // Operation outcomes and resolutions of upgrade concerns reach the prod rule too.
    let op = sweep(SignalKind::Operation {
        concern: ConcernKind::KubernetesUpgrade,
        target: "patch:1.30.4".into(),
        status: OperationStatus::Failed { code: "UpgradeFailed".into(), message: "drain failed".into() },
    });
    let actions = run(&op, &p, t0());
    assert_eq!(actions.len(), 3, "{:#?}", brief(&actions));
    let resolved =
        sweep(SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: "patch:1.30.4".into() });
    let actions = run(&resolved, &p, t0());
    assert_eq!(brief(&actions), [(Stage::Resolve, "github_close", "patch:1.30.4".to_string())]);
}

#[test]
fn signals_no_rule_applies_to_are_logged() {
    let p = policy(TEAM_POLICY);
    let other = ClusterId::from_parts("s", "rg-other", "aks-other");
    let actions = run(&sweep_on(other, upgrades("1.30.4", &["1.30.7"])), &p, t0());
    assert_eq!(channels(&actions, Stage::Notice), ["log"]);
}

#[test]
fn tag_rules_wait_for_a_sweep_because_events_carry_no_tags() {
    let p = policy(TEAM_POLICY);
    let payments = ClusterId::from_parts("s", "rg-pay", "aks-pay");
    let ending = SignalKind::SupportEnding { kubernetes_version: "1.29.9".into(), eol_date: None, support_type: None, eol_source: None };
    let from_event = run(&event_on(payments.clone(), ending.clone()), &p, t0());
    assert_eq!(channels(&from_event, Stage::Notice), ["log"]);
    let mut swept = sweep_on(payments, ending);
    swept.facts.tags.insert("Team".into(), "Payments".into());
    let from_sweep = run(&swept, &p, t0());
    assert_eq!(channels(&from_sweep, Stage::Notice), ["email:payments@contoso.example"]);
    assert_eq!(from_event[0].concern, from_sweep[0].concern, "same concern either way");
}

#[test]
fn settings_of_the_matching_rule_drive_the_execute_gate() {
    let p = policy(TEAM_POLICY);
    let mut facts = seen(&sweep_on(dev(), node_image()), &p, t0());
    facts.window = WindowStatus::Open { until: plus_days(t0(), 0) + SignedDuration::from_hours(3) };
    let dev_actions = plan::plan(&sweep_on(dev(), node_image()), &p, &facts, t0());
    let exec = only(&dev_actions, Stage::Execute);
    assert_eq!(exec.len(), 1);
    assert_eq!(exec[0].hold, None, "{}", exec[0].summary);
    assert_eq!(
        exec[0].kind,
        ActionKind::Upgrade {
            upgrade: UpgradeScope::NodeImage { pool: "nodepool1".into() },
            target: "AKSUbuntu-2204gen2containerd-202411.12.0".into()
        }
    );
    let prod_actions = plan::plan(&sweep(node_image()), &p, &facts, t0());
    assert_eq!(only(&prod_actions, Stage::Execute)[0].hold, Some(Hold::PolicyNotifyOnly));
}

// ---------------------------------------------------------------------------------------------
// Versions: patch vs minor, previews, never skipping minors, LTS, N-2
// ---------------------------------------------------------------------------------------------

fn upgrade_targets(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match &a.kind {
            ActionKind::Upgrade { upgrade: UpgradeScope::Patch, target } => Some(format!("patch {target}")),
            ActionKind::Upgrade { upgrade: UpgradeScope::Minor, target } => Some(format!("minor {target}")),
            _ => None,
        })
        .collect()
}

#[test]
fn upgrade_choice_table() {
    type Row = (&'static str, Vec<&'static str>, Option<&'static str>, Vec<&'static str>);
    let table: Vec<Row> = vec![
        // (current, offered, support plan, upgrades planned)
        ("1.30.4", vec!["1.30.5", "1.30.7", "1.31.1", "1.31.2"], None, vec!["patch 1.30.7", "minor 1.31.2"]),
        ("1.30.4", vec!["1.31.2", "1.32.0"], None, vec!["minor 1.31.2"]),
        ("1.30.4", vec!["1.32.0"], None, vec![]),
        ("1.30.4", vec!["1.30.8-preview", "1.31.0-preview"], None, vec![]),
        ("1.30.4", vec!["1.30.4", "1.29.9"], None, vec![]),
        ("v1.30.4", vec!["v1.30.10", "1.30.9"], None, vec!["patch 1.30.10"]),
        ("1.27.100", vec!["1.30.5", "1.31.1"], Some("AKSLongTermSupport"), vec!["minor 1.30.5"]),
        ("1.27.100", vec!["1.30.5", "1.31.1"], Some("KubernetesOfficial"), vec![]),
    ];
    for (current, list, plan_kind, want) in table {
        let mut s = sweep(upgrades(current, &list));
        s.facts.support_plan = plan_kind.map(Into::into);
        assert_eq!(upgrade_targets(&run(&s, &builtin(), t0())), want, "{current} offered {list:?} ({plan_kind:?})");
    }
}

#[test]
fn previews_are_planned_only_when_policy_includes_them() {
    let s = sweep(upgrades("1.30.4", &["1.30.8-preview", "1.31.0-preview"]));
    assert!(run(&s, &builtin(), t0()).is_empty());
    let p = policy("[defaults]\ninclude_preview = true\n");
    assert_eq!(upgrade_targets(&run(&s, &p, t0())), ["patch 1.30.8", "minor 1.31.0"]);

    let e = event(new_version("1.31.2", "1.31.2", Some("1.32.0")));
    assert_eq!(brief(&run(&e, &builtin(), t0()))[0].2, "1.31");
    assert_eq!(brief(&run(&e, &p, t0()))[0].2, "1.32");
}

#[test]
fn a_new_version_event_never_skips_a_minor_when_the_current_version_is_known() {
    // The event names only the newest versions; the cluster is two minors behind.
    let mut e = event(new_version("1.32.1", "1.32.1", None));
    e.facts = swept_facts(); // 1.30.4
    let actions = run(&e, &builtin(), t0());
    assert_eq!(upgrade_targets(&actions), ["minor 1.31"], "the next minor line, never 1.32");
    // With the region's list the exact newest patch of 1.31 is used.
    let mut facts = seen(&e, &builtin(), t0());
    facts.offered_in_region = Some(vec!["1.31.1".into(), "1.31.3".into(), "1.32.1".into()]);
    assert_eq!(upgrade_targets(&plan::plan(&e, &builtin(), &facts, t0())), ["minor 1.31.3"]);
}

#[test]
fn a_new_version_event_without_the_current_version_is_a_notice_about_the_newest_minor() {
    let e = event(new_version("1.31.2", "1.31.1", Some("1.32.0")));
    let actions = run(&e, &builtin(), t0());
    assert_eq!(actions.len(), 1, "no upgrade and no pull request without the current version");
    assert_eq!(actions[0].concern, Concern::new(prod(), ConcernKind::KubernetesUpgrade, "1.31"));
    assert_eq!(
        actions[0].summary,
        "aks-prod-weu: Kubernetes 1.31.2 is now the newest version offered in the region; \
         the cluster's current version is unknown until the next sweep"
    );
    assert_eq!(actions[0].deadline, None);
}

#[test]
fn support_follows_n_minus_two_and_lts_adds_a_year() {
    // The one support model (`versions::support_status`), the same function a sweep asks
    // through `RegionVersions::support_status` — with what the sweep then reports.
    let region: Vec<RegionMinor> = ["1.30", "1.31", "1.32", "1.33"]
        .iter()
        .map(|m| RegionMinor::community(MinorLine::parse(m).unwrap()))
        .chain([RegionMinor { line: MinorLine::new(1, 28), community: false, lts: true }])
        .collect();
    let table = [
        ("1.34.0", false, "supported", "nothing"),
        ("1.33.2", false, "supported", "nothing"),
        ("1.32.2", false, "supported", "nothing"),
        ("1.31.9", false, "supported, next to leave", "support ending (KubernetesOfficial)"),
        ("1.30.9", false, "leaving support", "support ending (KubernetesOfficial)"),
        ("1.29.9", false, "out of support", "support ended"),
        ("1.28.9", false, "out of support", "support ended"),
        ("1.28.9", true, "long-term support, next to leave", "support ending (AKSLongTermSupport)"),
        ("1.27.9", true, "out of support", "support ended"),
    ];
    for (version, lts, status, finding) in table {
        let s = versions::support_status(&AksVersion::parse(version).unwrap(), &region, lts);
        let got = match s {
            SupportStatus::Supported { oldest: false, .. } => "supported",
            SupportStatus::Supported { oldest: true, .. } => "supported, next to leave",
            SupportStatus::LeavingSupport { .. } => "leaving support",
            SupportStatus::LongTermSupport { oldest_lts: false, .. } => "long-term support",
            SupportStatus::LongTermSupport { oldest_lts: true, .. } => "long-term support, next to leave",
            SupportStatus::OutOfSupport { .. } => "out of support",
            SupportStatus::Unknown => "unknown",
        };
        assert_eq!(got, status, "{version} lts={lts}");
        let reported = match s.finding() {
            SupportFinding::Fine => "nothing".to_string(),
            SupportFinding::Ending { support_type } => format!("support ending ({support_type})"),
            SupportFinding::Ended => "support ended".to_string(),
            SupportFinding::Unknown => "unknown".to_string(),
        };
        assert_eq!(reported, finding, "{version} lts={lts}");
    }
}

#[test]
fn a_sweep_asks_the_same_support_model_with_the_regions_real_list() {
    // Microsoft's kubernetesVersions example: 1.26 (preview), 1.25, 1.24, 1.23.
    let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/arm/kubernetes_versions_list.2025-10-01.json")).unwrap();
    let body: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let region = aks_cadence::sweep::support::RegionVersions::from_arm(&body["responses"]["200"]["body"]);
    let minors = region.ga_minors();
    assert!(minors.iter().all(|m| m.line != MinorLine::new(1, 26)), "previews are not GA: {minors:?}");
    for (version, want) in [("1.25.5", SupportFinding::Fine), ("1.23.12", SupportFinding::Ending { support_type: "KubernetesOfficial" }), ("1.22.11", SupportFinding::Ended)] {
        let direct = versions::support_status(&AksVersion::parse(version).unwrap(), &minors, false);
        assert_eq!(region.support_status(version, None), direct, "{version}: one model");
        assert_eq!(direct.finding(), want, "{version}");
    }
}

// ---------------------------------------------------------------------------------------------
// The escalation ladder, with an injected clock
// ---------------------------------------------------------------------------------------------

/// The message stage planned at `now` for a concern first seen at T0.
fn ladder_at(signal: &Signal, policy: &Policy, now: Timestamp) -> Vec<(Stage, String)> {
    plan::plan(signal, policy, &seen(signal, policy, t0()), now)
        .into_iter()
        .filter(|a| a.stage != Stage::Execute && a.kind.name() == "log")
        .map(|a| (a.stage, a.summary))
        .collect()
}

#[test]
fn a_patch_climbs_notice_reminder_overdue_against_its_deadline() {
    let mut s = sweep(upgrades("1.30.4", &["1.30.7"]));
    let p = builtin();
    let table = [
        (0, Stage::Notice, "aks-prod-weu: Kubernetes 1.30.4 → 1.30.7 (patch) available; due 2026-12-13"),
        (10, Stage::Notice, "aks-prod-weu: Kubernetes 1.30.4 → 1.30.7 (patch) available; due 2026-12-13"),
        (11, Stage::Reminder, "aks-prod-weu: reminder: Kubernetes 1.30.4 → 1.30.7 (patch) available; due 2026-12-13"),
        (13, Stage::Reminder, "aks-prod-weu: reminder: Kubernetes 1.30.4 → 1.30.7 (patch) available; due 2026-12-13"),
        (14, Stage::Overdue, "aks-prod-weu: overdue: Kubernetes 1.30.4 → 1.30.7 (patch) available; was due 2026-12-13"),
        (40, Stage::Overdue, "aks-prod-weu: overdue: Kubernetes 1.30.4 → 1.30.7 (patch) available; was due 2026-12-13"),
    ];
    for (day, stage, summary) in table {
        let now = plus_days(t0(), day);
        s.observed_at = now; // the daily sweep restates the finding
        assert_eq!(ladder_at(&s, &p, now), [(stage, summary.to_string())], "day {day}");
    }
}

#[test]
fn the_ladder_uses_the_cadence_of_the_applicable_rule() {
    let p = policy("[defaults]\nminor_within_days = 30\nreminder_days_before = 7\nnode_image_within_days = 2\n");
    let minor = sweep(upgrades("1.30.4", &["1.31.2"]));
    let stages: Vec<Stage> = [0, 22, 23, 30].iter().map(|d| ladder_at(&minor, &p, plus_days(t0(), *d))[0].0).collect();
    assert_eq!(stages, [Stage::Notice, Stage::Notice, Stage::Reminder, Stage::Overdue]);
    let img = sweep(node_image());
    let stages: Vec<Stage> = [0, 1, 2].iter().map(|d| ladder_at(&img, &p, plus_days(t0(), *d))[0].0).collect();
    assert_eq!(
        stages,
        [Stage::Reminder, Stage::Reminder, Stage::Overdue],
        "a 2-day target is inside the 7-day reminder"
    );
}

#[test]
fn each_stage_has_its_own_key_and_restating_a_stage_keeps_it() {
    let s = sweep(upgrades("1.30.4", &["1.30.7"]));
    let key_at = |day| {
        plan::plan(&s, &builtin(), &seen(&s, &builtin(), t0()), plus_days(t0(), day))
            .into_iter()
            .find(|a| a.kind.name() == "log")
            .unwrap()
            .key
            .to_string()
    };
    let base = "/subscriptions/00000000-0000-0000-0000-00000000a001/resourcegroups/rg-prod-weu/providers/microsoft.containerservice/managedclusters/aks-prod-weu#kubernetes-upgrade#patch:1.30.4/log";
    assert_eq!(key_at(0), format!("{base}/notice"));
    assert_eq!(key_at(1), key_at(0));
    assert_eq!(key_at(12), format!("{base}/reminder"));
    assert_eq!(key_at(20), format!("{base}/overdue"));
}

#[test]
fn a_newer_patch_keeps_the_concern_but_a_new_version_after_upgrading_opens_a_new_one() {
    let before = plan::concerns(&sweep(upgrades("1.30.4", &["1.30.7"])), &builtin());
    let newer = plan::concerns(&sweep(upgrades("1.30.4", &["1.30.7", "1.30.9"])), &builtin());
    assert_eq!(before, newer);
    let after_upgrade = plan::concerns(&sweep(upgrades("1.30.9", &["1.30.11"])), &builtin());
    assert_ne!(before, after_upgrade);
    assert_eq!(after_upgrade[0].target, "patch:1.30.9");
}

#[test]
fn support_ending_climbs_towards_the_eol_date_and_support_ended_is_overdue() {
    let eol = ts("2027-03-01T00:00:00Z");
    let s = sweep(SignalKind::SupportEnding {
        kubernetes_version: "1.29.9".into(),
        eol_date: Some(eol),
        support_type: Some("Community".into()),
        eol_source: None,
    });
    let at = |now: Timestamp| ladder_at(&s, &builtin(), now);
    assert_eq!(
        at(plus_days(eol, -30)),
        [(
            Stage::Notice,
            "aks-prod-weu: Kubernetes 1.29.9 leaves AKS support on 2027-03-01 (Community support); upgrade to 1.30"
                .to_string()
        )]
    );
    assert_eq!(at(plus_days(eol, -2))[0].0, Stage::Reminder);
    assert_eq!(
        at(plus_days(eol, 1)),
        [(Stage::Overdue, "aks-prod-weu: overdue: Kubernetes 1.29.9 left AKS support on 2027-03-01 (Community support); upgrade to 1.30".to_string())]
    );
    let ended = run(&event(SignalKind::SupportEnded { kubernetes_version: "1.29.9".into() }), &builtin(), t0());
    assert_eq!(ended[0].summary, "aks-prod-weu: overdue: Kubernetes 1.29.9 is out of AKS support; upgrade to 1.30");
}

#[test]
fn a_pool_already_on_the_latest_image_plans_nothing() {
    let s = sweep(SignalKind::NodeImageAvailable { pool: "p".into(), current: "img-1".into(), latest: "IMG-1".into() });
    assert!(run(&s, &builtin(), t0()).is_empty());
}

#[test]
fn certificates_warn_at_each_threshold_then_when_expired() {
    let not_after = ts("2027-03-01T00:00:00Z");
    let s = sweep(certificate(not_after));
    let at = |days_left: i64| {
        let now = plus_days(not_after, -days_left);
        plan::plan(&s, &builtin(), &PlanFacts::default(), now)
            .into_iter()
            .filter(|a| a.stage != Stage::Execute)
            .map(|a| (a.stage, a.key.as_str().rsplit('#').next().unwrap().to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(at(61), []);
    assert_eq!(at(60), [(Stage::Notice, "api-server@2027-03-01/log/notice".to_string())]);
    assert_eq!(at(45), [(Stage::Notice, "api-server@2027-03-01/log/notice".to_string())]);
    assert_eq!(at(30), [(Stage::Reminder, "api-server@2027-03-01/log~30d/reminder".to_string())]);
    assert_eq!(at(7), [(Stage::Reminder, "api-server@2027-03-01/log~7d/reminder".to_string())]);
    assert_eq!(at(0), [(Stage::Overdue, "api-server@2027-03-01/log/overdue".to_string())]);
}

#[test]
fn certificate_notices_and_rotation_warn_of_downtime() {
    let s = sweep(certificate(plus_days(t0(), 45)));
    let actions = run(&s, &builtin(), t0());
    assert_eq!(
        actions[0].summary,
        "aks-prod-weu: api-server certificate expires on 2027-01-13 (in 45 days); \
         rotating cluster certificates recreates the nodes: up to 30 minutes of downtime"
    );
    let exec = only(&actions, Stage::Execute)[0];
    assert_eq!(exec.kind, ActionKind::RotateCertificates);
    assert!(exec.summary.contains("up to 30 minutes of downtime"), "{}", exec.summary);
}

// ---------------------------------------------------------------------------------------------
// Idempotency across sources, updates and resolution
// ---------------------------------------------------------------------------------------------

#[test]
fn an_event_and_a_sweep_finding_about_the_same_thing_share_their_keys() {
    let p = builtin();
    // AKS says 1.29 is leaving support; the sweep's calendar check says the same.
    let ending = SignalKind::SupportEnding { kubernetes_version: "1.29.9".into(), eol_date: None, support_type: None, eol_source: None };
    let from_event = run(&event(ending.clone()), &p, t0());
    let from_sweep = run(&sweep(ending), &p, t0());
    assert_eq!(from_event[0].key, from_sweep[0].key);

    // A new-version event (current unknown) and the sweep's upgrade profile agree on the minor.
    let from_event = run(&event(new_version("1.31.2", "1.31.2", None)), &p, t0());
    let from_sweep = run(&sweep(upgrades("1.30.4", &["1.31.2"])), &p, t0());
    let sweep_notice = from_sweep.iter().find(|a| a.stage == Stage::Notice).unwrap();
    assert_eq!(from_event[0].key, sweep_notice.key);

    // An EOL notice (ARN) and ClusterSupportEnding (Event Grid) about the same minor.
    let eol = SignalKind::SupportEnding {
        kubernetes_version: "1.29".into(),
        eol_date: Some(plus_days(t0(), 30)),
        support_type: Some("Community".into()),
        eol_source: None,
    };
    let grid = SignalKind::SupportEnding { kubernetes_version: "1.29.9".into(), eol_date: None, support_type: None, eol_source: None };
    assert_eq!(plan::concerns(&event(eol), &p), plan::concerns(&event(grid), &p));
    assert_eq!(
        plan::concerns(&event(SignalKind::SupportEnded { kubernetes_version: "1.29.2".into() }), &p)[0].target,
        "1.29"
    );
}

#[test]
fn a_redelivered_event_plans_the_same_keys() {
    let e = event(roll(RollingPhase::Failed, Some("drain timeout")));
    let p = builtin();
    let facts = seen(&e, &p, ts("2026-11-01T00:00:00Z"));
    let first = plan::plan(&e, &p, &facts, t0());
    let again = plan::plan(&e, &p, &facts, plus_days(t0(), 1));
    assert_eq!(first.iter().map(|a| &a.key).collect::<Vec<_>>(), again.iter().map(|a| &a.key).collect::<Vec<_>>());
}

#[test]
fn news_about_a_known_concern_is_an_update_told_once_per_fact() {
    let p = builtin();
    let earlier = ts("2026-11-20T00:00:00Z");
    let update_key = |kind: SignalKind, observed: Timestamp| {
        let mut e = event(kind);
        e.observed_at = observed;
        let actions = plan::plan(&e, &p, &seen(&e, &p, earlier), observed);
        actions.into_iter().find(|a| a.stage == Stage::Update).map(|a| (a.key.to_string(), a.summary))
    };
    // Node pool rolls: each roll's phase is a distinct fact.
    let started = update_key(roll(RollingPhase::Started, None), t0()).unwrap();
    let failed = update_key(roll(RollingPhase::Failed, Some("drain timeout")), t0()).unwrap();
    let later = update_key(roll(RollingPhase::Started, None), plus_days(t0(), 7)).unwrap();
    assert!(started.0.ends_with("/update") && started.0.contains("/log~"), "{}", started.0);
    assert_ne!(started.0, failed.0);
    assert_ne!(started.0, later.0, "next week's roll is news again");
    assert_eq!(failed.1, "aks-prod-weu: update: node pool nodepool1 roll failed: drain timeout");

    // Support notices: a new EOL date is news, the same one again is not.
    let ending = |eol: &str| SignalKind::SupportEnding {
        kubernetes_version: "1.29.9".into(),
        eol_date: Some(ts(eol)),
        support_type: Some("Community".into()),
        eol_source: None,
    };
    let a = update_key(ending("2027-03-01T00:00:00Z"), t0()).unwrap();
    let b = update_key(ending("2027-03-01T00:00:00Z"), plus_days(t0(), 1)).unwrap();
    let c = update_key(ending("2027-04-01T00:00:00Z"), plus_days(t0(), 1)).unwrap();
    assert_eq!(a.0, b.0);
    assert_ne!(a.0, c.0);

    // A sweep restating the support finding is not news.
    let mut s = sweep(ending("2027-03-01T00:00:00Z"));
    s.observed_at = plus_days(t0(), 2);
    let actions = plan::plan(&s, &p, &seen(&s, &p, earlier), s.observed_at);
    assert!(actions.iter().all(|a| a.stage != Stage::Update), "{:#?}", brief(&actions));
}

#[test]
fn the_first_fact_about_a_concern_is_a_notice_not_an_update() {
    let e = event(roll(RollingPhase::Started, None));
    // The orchestrator recorded first-seen = this event's time.
    let actions = run(&e, &builtin(), t0());
    assert_eq!(brief(&actions), [(Stage::Notice, "log", "nodepool1".to_string())]);
    assert_eq!(actions[0].summary, "aks-prod-weu: node pool nodepool1 roll started");
}

#[test]
fn planned_maintenance_is_noticed_updated_and_resolved() {
    let p = policy("[[rule]]\nname = \"all\"\n[rule.github_issue]\nrepo = \"contoso/ops\"\n");
    let scheduled = event(maintenance(MaintenanceStatus::Scheduled));
    let notice = run(&scheduled, &p, t0());
    assert_eq!(brief(&notice), [(Stage::Notice, "github_issue", "5a0d6e8b-0000-4000-8000-000000000001".to_string())]);
    assert_eq!(
        notice[0].summary,
        "aks-prod-weu: planned Kubernetes version upgrade by AKS scheduled for 2026-12-05 01:00 UTC"
    );

    let mut completed = event(maintenance(MaintenanceStatus::Completed));
    completed.observed_at = plus_days(t0(), 6);
    let actions = plan::plan(&completed, &p, &seen(&completed, &p, t0()), completed.observed_at);
    let stages: Vec<(Stage, &str)> = actions.iter().map(|a| (a.stage, a.kind.name())).collect();
    assert_eq!(stages, [(Stage::Update, "github_issue"), (Stage::Resolve, "github_close")]);

    // The notice is keyed by the concern alone; each update by the status it tells, so every
    // later status is told once.
    assert!(!notice[0].key.to_string().contains('~'), "{}", notice[0].key);
    let update_key = |status: MaintenanceStatus| {
        let mut e = event(maintenance(status));
        e.observed_at = plus_days(t0(), 1);
        let actions = plan::plan(&e, &p, &seen(&e, &p, t0()), e.observed_at);
        actions.into_iter().find(|a| a.stage == Stage::Update).expect("an update").key.to_string()
    };
    let (started, done) = (update_key(MaintenanceStatus::Started), update_key(MaintenanceStatus::Completed));
    assert!(started.contains('~') && done.contains('~') && started != done, "{started} {done}");
    let resolved = only(&actions, Stage::Resolve);
    assert!(resolved[0].summary.starts_with("aks-prod-weu: resolved: planned Kubernetes version upgrade by AKS "), "{}", resolved[0].summary);

    // The notice's details are told in brackets; blank details are not.
    let with = |details: &str| {
        let mut kind = maintenance(MaintenanceStatus::Scheduled);
        if let SignalKind::Maintenance { details: d, .. } = &mut kind {
            *d = Some(details.into());
        }
        run(&event(kind), &p, t0())[0].summary.clone()
    };
    assert!(with("control plane first").ends_with(" (control plane first)"), "{}", with("control plane first"));
    assert!(!with("   ").contains('('), "{}", with("   "));
}

#[test]
fn a_pool_roll_that_succeeded_resolves_its_concern_saying_so() {
    let actions = run(&event(roll(RollingPhase::Succeeded, None)), &builtin(), t0());
    let resolved = only(&actions, Stage::Resolve);
    assert_eq!(resolved.len(), 1, "{actions:#?}");
    assert_eq!(resolved[0].summary, "aks-prod-weu: resolved: node pool nodepool1 roll succeeded");
}

#[test]
fn aks_saying_again_that_a_known_version_leaves_support_is_an_update_with_the_date() {
    let p = builtin();
    let mut e = event(SignalKind::SupportEnding {
        kubernetes_version: "1.29.9".into(),
        eol_date: Some(ts("2027-03-01T00:00:00Z")),
        support_type: None,
        eol_source: None,
    });
    e.observed_at = plus_days(t0(), 1);
    let actions = plan::plan(&e, &p, &seen(&e, &p, t0()), e.observed_at);
    let update = only(&actions, Stage::Update);
    assert_eq!(update.len(), 1, "{actions:#?}");
    assert!(update[0].summary.starts_with("aks-prod-weu: update: AKS says Kubernetes 1.29.9 is leaving support on 2027-03-01"), "{}", update[0].summary);
}

#[test]
fn a_node_image_execute_says_which_pool_goes_to_which_image() {
    let p = policy(AUTO);
    let s = sweep(node_image());
    let actions = plan::plan(&s, &p, &seen(&s, &p, t0()), t0());
    let exec = only(&actions, Stage::Execute);
    assert!(exec[0].summary.contains("upgrade node pool nodepool1 image to AKSUbuntu-2204gen2containerd-202411.12.0"), "{}", exec[0].summary);
}

#[test]
fn a_change_that_was_refused_is_told_as_not_started_not_as_a_failed_operation() {
    let s = sweep(SignalKind::Operation {
        concern: ConcernKind::KubernetesUpgrade,
        target: "patch:1.30.4".into(),
        status: OperationStatus::Refused { reason: "the window closed before the start".into() },
    });
    let a = &run(&s, &builtin(), t0())[0];
    assert_eq!(
        a.summary,
        "aks-prod-weu: update: kubernetes-upgrade patch:1.30.4: aks-cadence did not start the change, it was refused: the window closed before the start"
    );
}

#[test]
fn a_resolved_ring_inversion_says_the_inversion_is_over() {
    let p = policy("[[rule]]\nname = \"all\"\n[rule.github_issue]\nrepo = \"contoso/ops\"\n");
    let s = sweep(SignalKind::Resolved { concern: ConcernKind::RingInversion, target: "1.30.7".into() });
    let actions = plan::plan(&s, &p, &PlanFacts::default(), t0());
    let close = actions.iter().find(|a| a.stage == Stage::Resolve).expect("a resolution");
    assert!(close.summary.starts_with("aks-prod-weu: resolved: ring inversion 1.30.7 — the inversion is over: "), "{}", close.summary);
}

#[test]
fn an_operation_outcome_is_reported_with_arms_code_and_message() {
    let s = sweep(SignalKind::Operation {
        concern: ConcernKind::NodeImage,
        target: "nodepool1@AKSUbuntu-2204gen2containerd-202410.15.0".into(),
        status: OperationStatus::Failed {
            code: "UpgradeFailed".into(),
            message: "Drain of node aks-1 did not complete".into(),
        },
    });
    let a = &run(&s, &builtin(), t0())[0];
    assert_eq!(a.stage, Stage::Update);
    assert_eq!(
        a.summary,
        "aks-prod-weu: update: node-image nodepool1@AKSUbuntu-2204gen2containerd-202410.15.0: \
         the operation aks-cadence started failed: UpgradeFailed: Drain of node aks-1 did not complete"
    );
}

#[test]
fn resolution_closes_the_issue_in_every_repository_the_rules_use() {
    let p = policy(
        "[[rule]]\nname = \"a\"\n[rule.github_issue]\nrepo = \"contoso/a\"\n[[rule]]\nname = \"b\"\n[rule.github_issue]\nrepo = \"contoso/b\"\n[rule.email]\nto = \"x@contoso.example\"\n",
    );
    let s = sweep(SignalKind::Resolved { concern: ConcernKind::Support, target: "1.29".into() });
    let kinds: Vec<ActionKind> = run(&s, &p, t0()).into_iter().map(|a| a.kind).collect();
    assert_eq!(
        kinds,
        [ActionKind::GithubClose { repo: "contoso/a".into() }, ActionKind::GithubClose { repo: "contoso/b".into() }]
    );
}

// ---------------------------------------------------------------------------------------------
// Pull requests
// ---------------------------------------------------------------------------------------------

#[test]
fn pull_requests_carry_the_target_version_and_follow_a_newer_patch() {
    let p = policy(TEAM_POLICY);
    let pr = |list: &[&str]| {
        run(&sweep(upgrades("1.30.4", list)), &p, t0())
            .into_iter()
            .filter(|a| a.kind.name() == "github_pull_request")
            .map(|a| match a.kind {
                ActionKind::GithubPullRequest { version, .. } => (version, a.key.to_string()),
                _ => unreachable!(),
            })
            .collect::<Vec<_>>()
    };
    let first = pr(&["1.30.7"]);
    let newer = pr(&["1.30.9"]);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, "1.30.7");
    assert_eq!(newer[0].0, "1.30.9");
    assert_ne!(first[0].1, newer[0].1, "a newer target is a new pull request action");
    // Never for other concerns.
    let img = run(&sweep(node_image()), &p, t0());
    assert!(img.iter().all(|a| a.kind.name() != "github_pull_request"));
}

// ---------------------------------------------------------------------------------------------
// Gates
// ---------------------------------------------------------------------------------------------

const AUTO: &str = r#"
[defaults.upgrade]
node_image = "auto"
patch = "auto"
minor = "auto"
certificate_rotation = "auto"
auto_after_days = 2
"#;

#[test]
fn every_gate_holds_an_upgrade_back_and_says_which() {
    let auto = policy(AUTO);
    let open_3h = WindowStatus::Open { until: plus_days(t0(), 3) + SignedDuration::from_hours(3) };
    let now = plus_days(t0(), 3);
    let healthy = || sweep(upgrades("1.30.4", &["1.30.7"]));
    let facts = |window: WindowStatus| PlanFacts { window, ..seen(&healthy(), &auto, t0()) };

    struct Case {
        name: &'static str,
        policy: Policy,
        signal: Signal,
        facts: PlanFacts,
        now: Timestamp,
        want: Option<Hold>,
    }
    let mut cases = vec![
        Case {
            name: "all clear",
            policy: auto.clone(),
            signal: healthy(),
            facts: facts(open_3h.clone()),
            now,
            want: None,
        },
        Case {
            name: "policy notify-only",
            policy: builtin(),
            signal: healthy(),
            facts: facts(open_3h.clone()),
            now,
            want: Some(Hold::PolicyNotifyOnly),
        },
        Case {
            name: "too early",
            policy: auto.clone(),
            signal: healthy(),
            facts: facts(open_3h.clone()),
            now: plus_days(t0(), 1),
            want: Some(Hold::NotBefore { at: plus_days(t0(), 2) }),
        },
        Case {
            name: "unknown window",
            policy: auto.clone(),
            signal: healthy(),
            facts: facts(WindowStatus::Unknown),
            now,
            want: Some(Hold::OutsideWindow { next: None }),
        },
        Case {
            name: "closed window",
            policy: auto.clone(),
            signal: healthy(),
            facts: facts(WindowStatus::Closed { next: Some(plus_days(t0(), 5)) }),
            now,
            want: Some(Hold::OutsideWindow { next: Some(plus_days(t0(), 5)) }),
        },
        Case {
            name: "window closing within the 2h a version upgrade needs",
            policy: auto.clone(),
            signal: healthy(),
            facts: facts(WindowStatus::Open { until: now + SignedDuration::from_mins(90) }),
            now,
            want: Some(Hold::WindowTooShort { closes: now + SignedDuration::from_mins(90) }),
        },
        Case {
            name: "busy",
            policy: auto.clone(),
            signal: healthy(),
            facts: PlanFacts { cluster_busy: true, ..facts(open_3h.clone()) },
            now,
            want: Some(Hold::Busy),
        },
        Case {
            name: "target not offered",
            policy: auto.clone(),
            signal: healthy(),
            facts: PlanFacts {
                offered_in_region: Some(vec!["1.30.5".into(), "1.31.2".into()]),
                ..facts(open_3h.clone())
            },
            now,
            want: Some(Hold::TargetNotOffered { target: "1.30.7".into() }),
        },
    ];
    let mut upgrading = healthy();
    upgrading.facts.provisioning_state = Some("Upgrading".into());
    cases.push(Case {
        name: "not Succeeded",
        policy: auto.clone(),
        signal: upgrading,
        facts: facts(open_3h.clone()),
        now,
        want: Some(Hold::ClusterNotReady { state: "provisioningState Upgrading, powerState Running".into() }),
    });
    let mut stopped = healthy();
    stopped.facts.power_state = Some("Stopped".into());
    cases.push(Case {
        name: "stopped",
        policy: auto.clone(),
        signal: stopped,
        facts: facts(open_3h.clone()),
        now,
        want: Some(Hold::ClusterNotReady { state: "provisioningState Succeeded, powerState Stopped".into() }),
    });
    let mut from_event = healthy();
    from_event.facts = ClusterFacts { kubernetes_version: Some("1.30.4".into()), ..ClusterFacts::default() };
    cases.push(Case {
        name: "state unknown",
        policy: auto.clone(),
        signal: from_event,
        facts: facts(open_3h.clone()),
        now,
        want: Some(Hold::ClusterNotReady { state: "provisioningState unknown, powerState unknown".into() }),
    });

    for c in cases {
        let actions = plan::plan(&c.signal, &c.policy, &c.facts, c.now);
        let exec = only(&actions, Stage::Execute);
        assert_eq!(exec.len(), 1, "{}", c.name);
        assert_eq!(exec[0].hold, c.want, "{}: {}", c.name, exec[0].summary);
        assert_eq!(exec[0].window.as_ref(), Some(&c.facts.window), "{}", c.name);
    }
}

#[test]
fn minimum_window_lengths_depend_on_the_change_and_are_configurable() {
    let now = plus_days(t0(), 3);
    let open_90m = WindowStatus::Open { until: now + SignedDuration::from_mins(90) };
    let hold = |p: &Policy, kind: SignalKind| {
        let s = sweep(kind);
        let facts = PlanFacts { window: open_90m.clone(), ..seen(&s, p, t0()) };
        only(&plan::plan(&s, p, &facts, now), Stage::Execute)[0].hold.clone()
    };
    let auto = policy(AUTO);
    assert_eq!(hold(&auto, node_image()), None, "a node image needs 60 minutes");
    assert_eq!(hold(&auto, certificate(plus_days(t0(), 20))), None, "a rotation needs 60 minutes");
    assert!(matches!(hold(&auto, upgrades("1.30.4", &["1.30.7"])), Some(Hold::WindowTooShort { .. })));
    let strict = policy(&format!("{AUTO}min_window_minutes = {{ node_image = 120 }}\n"));
    assert!(matches!(hold(&strict, node_image()), Some(Hold::WindowTooShort { .. })));
    // Exactly the minimum left is enough.
    let s = sweep(node_image());
    let facts = PlanFacts { window: WindowStatus::Open { until: now + SignedDuration::from_mins(60) }, ..seen(&s, &auto, t0()) };
    assert_eq!(only(&plan::plan(&s, &auto, &facts, now), Stage::Execute)[0].hold, None, "exactly the 60 minutes a node image needs");
}

#[test]
fn each_change_is_gated_by_the_window_of_its_own_kind() {
    let auto = policy(AUTO);
    let now = plus_days(t0(), 3);
    let open = WindowStatus::Open { until: now + SignedDuration::from_hours(4) };
    let closed_node_os = WindowStatus::Closed { next: Some(ts("2026-12-05T22:00:00Z")) };
    let closed_auto = WindowStatus::Closed { next: Some(ts("2026-12-06T01:00:00Z")) };
    let windows = |pairs: &[(WindowScope, WindowStatus)]| pairs.iter().cloned().collect::<BTreeMap<_, _>>();
    // (row, signal, default window, per-scope windows, expected hold, expected window shown)
    type Row = (&'static str, SignalKind, WindowStatus, BTreeMap<WindowScope, WindowStatus>, Option<Hold>, WindowStatus);
    let rows: Vec<Row> = vec![
        (
            "node image: the node OS schedule is closed, the auto-upgrade one open",
            node_image(),
            WindowStatus::Unknown,
            windows(&[(WindowScope::NodeImage, closed_node_os.clone()), (WindowScope::KubernetesVersion, open.clone())]),
            Some(Hold::OutsideWindow { next: Some(ts("2026-12-05T22:00:00Z")) }),
            closed_node_os.clone(),
        ),
        (
            "patch: the auto-upgrade schedule is open, the node OS one closed",
            upgrades("1.30.4", &["1.30.7"]),
            WindowStatus::Unknown,
            windows(&[(WindowScope::NodeImage, closed_node_os.clone()), (WindowScope::KubernetesVersion, open.clone())]),
            None,
            open.clone(),
        ),
        (
            "patch: the auto-upgrade schedule is closed",
            upgrades("1.30.4", &["1.30.7"]),
            open.clone(),
            windows(&[(WindowScope::KubernetesVersion, closed_auto.clone())]),
            Some(Hold::OutsideWindow { next: Some(ts("2026-12-06T01:00:00Z")) }),
            closed_auto.clone(),
        ),
        (
            "rotation: its own scope is closed even though upgrades may run",
            certificate(plus_days(t0(), 20)),
            WindowStatus::Unknown,
            windows(&[(WindowScope::KubernetesVersion, open.clone()), (WindowScope::CertificateRotation, closed_auto.clone())]),
            Some(Hold::OutsideWindow { next: Some(ts("2026-12-06T01:00:00Z")) }),
            closed_auto.clone(),
        ),
        (
            "node image: no entry for its scope falls back to the default window",
            node_image(),
            open.clone(),
            windows(&[(WindowScope::KubernetesVersion, closed_auto.clone())]),
            None,
            open.clone(),
        ),
        (
            "node image: no window of its kind is known",
            node_image(),
            WindowStatus::Unknown,
            windows(&[(WindowScope::KubernetesVersion, open.clone())]),
            Some(Hold::OutsideWindow { next: None }),
            WindowStatus::Unknown,
        ),
    ];
    for (row, kind, window, by_scope, want_hold, want_window) in rows {
        let s = sweep(kind);
        let facts = PlanFacts { window, windows: by_scope, ..seen(&s, &auto, t0()) };
        let actions = plan::plan(&s, &auto, &facts, now);
        let exec = only(&actions, Stage::Execute);
        assert_eq!(exec.len(), 1, "{row}");
        assert_eq!(exec[0].hold, want_hold, "{row}: {}", exec[0].summary);
        assert_eq!(exec[0].window.as_ref(), Some(&want_window), "{row}: the execute action shows its own window");
        // The notices of the concern mention the window that governs the change resolving it.
        for a in actions.iter().filter(|a| a.stage != Stage::Execute) {
            assert_eq!(a.window.as_ref(), Some(&want_window), "{row}: {} shows the concern's window", a.kind.name());
        }
    }
}

#[test]
fn dry_run_says_what_would_be_upgraded_when_and_what_holds_it() {
    let auto = policy(AUTO);
    let s = sweep(upgrades("1.30.4", &["1.30.7"]));
    let now = plus_days(t0(), 3);
    let summary = |window: WindowStatus, now: Timestamp| {
        let facts = PlanFacts { window, ..seen(&s, &auto, t0()) };
        only(&plan::plan(&s, &auto, &facts, now), Stage::Execute)[0].summary.clone()
    };
    assert_eq!(
        summary(WindowStatus::Open { until: now + SignedDuration::from_hours(4) }, now),
        "aks-prod-weu: upgrade Kubernetes 1.30.4 → 1.30.7 (patch) — would start now (window open until 2026-12-02 13:00 UTC)"
    );
    assert_eq!(
        summary(WindowStatus::Closed { next: Some(ts("2026-12-08T21:00:00Z")) }, now),
        "aks-prod-weu: upgrade Kubernetes 1.30.4 → 1.30.7 (patch) — held: outside the maintenance window; next opens 2026-12-08 21:00 UTC"
    );
    assert_eq!(
        summary(WindowStatus::Unknown, t0()),
        "aks-prod-weu: upgrade Kubernetes 1.30.4 → 1.30.7 (patch) — held: policy allows it from 2026-12-01 09:00 UTC"
    );
}

// ---------------------------------------------------------------------------------------------
// Dry-run lines (snapshot)
// ---------------------------------------------------------------------------------------------

#[test]
fn dry_run_lines_snapshot() {
    let p = policy(TEAM_POLICY);
    let s = sweep(upgrades("1.30.4", &["1.30.7"]));
    let facts =
        PlanFacts { window: WindowStatus::Closed { next: Some(ts("2026-12-08T21:00:00Z")) }, ..seen(&s, &p, t0()) };
    let lines: Vec<String> = plan::plan(&s, &p, &facts, plus_days(t0(), 12))
        .iter()
        .filter(|a| matches!(a.kind.name(), "github_issue" | "github_pull_request" | "upgrade"))
        .map(|a| {
            let mut v = a.dry_run_line();
            // The concern key repeats the cluster id; keep the snapshot readable.
            let key = v["key"].as_str().unwrap().replace(&prod().key(), "<cluster>");
            v["key"] = key.into();
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    let want = [
        r#"{"action":"github_issue","cluster":"/subscriptions/00000000-0000-0000-0000-00000000a001/resourceGroups/rg-prod-weu/providers/Microsoft.ContainerService/managedClusters/aks-prod-weu","concern":"kubernetes-upgrade","deadline":"2026-12-13T09:00:00Z","detail":{"assignees":[],"labels":["prod"],"repo":"contoso/platform-infra","type":"github_issue"},"first_seen":"2026-11-29T09:00:00Z","key":"<cluster>#kubernetes-upgrade#patch:1.30.4/github-issue:contoso/platform-infra/reminder","signal":"upgrades-offered","stage":"reminder","summary":"aks-prod-weu: reminder: Kubernetes 1.30.4 → 1.30.7 (patch) available; due 2026-12-13","target":"patch:1.30.4"}"#,
        r#"{"action":"github_pull_request","cluster":"/subscriptions/00000000-0000-0000-0000-00000000a001/resourceGroups/rg-prod-weu/providers/Microsoft.ContainerService/managedClusters/aks-prod-weu","concern":"kubernetes-upgrade","deadline":"2026-12-13T09:00:00Z","detail":{"locator":{"by":"key","key":"kubernetesVersion"},"path":"infra/prod.bicepparam","repo":"contoso/platform-infra","type":"github_pull_request","version":"1.30.7"},"first_seen":"2026-11-29T09:00:00Z","key":"<cluster>#kubernetes-upgrade#patch:1.30.4/github-pr:contoso/platform-infra:infra/prod.bicepparam~1.30.7/notice","signal":"upgrades-offered","stage":"notice","summary":"aks-prod-weu: pull request: Kubernetes 1.30.4 → 1.30.7 (patch); due 2026-12-13","target":"patch:1.30.4"}"#,
        r#"{"action":"upgrade","cluster":"/subscriptions/00000000-0000-0000-0000-00000000a001/resourceGroups/rg-prod-weu/providers/Microsoft.ContainerService/managedClusters/aks-prod-weu","concern":"kubernetes-upgrade","deadline":"2026-12-13T09:00:00Z","detail":{"target":"1.30.7","type":"upgrade","upgrade":{"scope":"patch"}},"first_seen":"2026-11-29T09:00:00Z","held_by":{"gate":"policy_notify_only"},"key":"<cluster>#kubernetes-upgrade#patch:1.30.4/upgrade-patch:1.30.7/execute","signal":"upgrades-offered","stage":"execute","summary":"aks-prod-weu: upgrade Kubernetes 1.30.4 → 1.30.7 (patch) — held: policy is notify-only for this change","target":"patch:1.30.4"}"#,
    ];
    assert_eq!(lines, want);
}

/// The log line's JSON text (written straight from the action) says what the dry-run line says:
/// the same keys and values, holds, notes and deadlines included.
#[test]
fn the_dry_run_json_text_holds_the_dry_run_line() {
    let p = policy(TEAM_POLICY);
    let s = sweep(upgrades("1.30.4", &["1.30.7", "1.31.2"]));
    let facts =
        PlanFacts { window: WindowStatus::Closed { next: Some(ts("2026-12-08T21:00:00Z")) }, ..seen(&s, &p, t0()) };
    let mut actions = plan::plan(&s, &p, &facts, plus_days(t0(), 12));
    actions[0].note = Some("the pull request failed: 422".into());
    assert!(actions.iter().any(|a| a.hold.is_some()) && actions.iter().any(|a| a.deadline.is_some()), "{actions:#?}");
    for a in &actions {
        let text: serde_json::Value = serde_json::from_str(&a.dry_run_json()).unwrap();
        assert_eq!(text, a.dry_run_line(), "{}", a.key);
    }
}

#[test]
fn planning_is_deterministic() {
    let p = policy(TEAM_POLICY);
    let s = sweep(upgrades("1.30.4", &["1.30.7", "1.31.2"]));
    let facts = seen(&s, &p, t0());
    assert_eq!(plan::plan(&s, &p, &facts, t0()), plan::plan(&s, &p, &facts, t0()));
}
