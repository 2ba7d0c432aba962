//! AKS's own upgrade machinery in the plan: a change an auto-upgrade channel applies is held by
//! the channel (never started by aks-cadence), told as AKS's with its window, watched at the
//! deadline, and closed as applied by AKS; `respect_aks_channels = false` plans as before.

use aks_cadence::action::{Action, ActionKind, Hold, Stage};
use aks_cadence::domain::{ClusterFacts, ClusterId, ConcernKind, OfferedVersion, Origin, Signal, SignalKind};
use aks_cadence::plan::{self, PlanFacts, WindowScope, WindowStatus};
use aks_cadence::policy::Policy;
use jiff::{SignedDuration, Timestamp};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}
fn t0() -> Timestamp {
    ts("2026-11-29T09:00:00Z")
}
fn days(d: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * d)
}

fn cluster() -> ClusterId {
    ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod-weu", "aks-prod-weu")
}

fn facts(upgrade_channel: Option<&str>, node_os: Option<&str>) -> ClusterFacts {
    ClusterFacts {
        location: Some("westeurope".into()),
        kubernetes_version: Some("1.30.4".into()),
        provisioning_state: Some("Succeeded".into()),
        power_state: Some("Running".into()),
        upgrade_channel: upgrade_channel.map(Into::into),
        node_os_upgrade_channel: node_os.map(Into::into),
        ..ClusterFacts::default()
    }
}

fn sweep(f: ClusterFacts, kind: SignalKind) -> Signal {
    Signal { cluster: cluster(), facts: f, kind, observed_at: t0(), origin: Origin::Sweep { run_id: "run-1".into() } }
}

fn patch_offered() -> SignalKind {
    SignalKind::UpgradesOffered {
        current: "1.30.4".into(),
        offered: vec![OfferedVersion { version: "1.30.7".into(), is_preview: false }, OfferedVersion { version: "1.31.2".into(), is_preview: false }],
    }
}

const AUTO: &str = r#"
[defaults.upgrade]
patch = "auto"
minor = "auto"
node_image = "auto"
"#;

fn policy(text: &str) -> Policy {
    Policy::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e:#?}"))
}

/// An open window for every kind of change (the gate would let aks-cadence act).
fn open(now: Timestamp) -> PlanFacts {
    PlanFacts { window: WindowStatus::Open { until: now + SignedDuration::from_hours(4) }, ..PlanFacts::default() }
}

fn executes(actions: &[Action]) -> Vec<(String, Option<Hold>)> {
    actions.iter().filter(|a| a.stage == Stage::Execute).map(|a| (a.concern.target.clone(), a.hold.clone())).collect()
}

fn messages(actions: &[Action], stage: Stage) -> Vec<String> {
    actions.iter().filter(|a| a.stage == stage && a.kind == ActionKind::Log).map(|a| a.summary.clone()).collect()
}

#[test]
fn a_patch_on_channel_patch_is_held_by_the_channel_in_an_open_window_and_told_as_akss() {
    let signal = sweep(facts(Some("patch"), None), patch_offered());
    let actions = plan::plan(&signal, &policy(AUTO), &open(t0()), t0());
    let ex = executes(&actions);
    // The patch: held by the channel. The minor (1.31): channel patch never applies it, so the
    // open window lets aks-cadence start it as before.
    assert_eq!(
        ex,
        vec![
            (
                "patch:1.30.4".to_string(),
                Some(Hold::AksChannel { channel: "upgradeChannel patch".into(), schedule: "aksManagedAutoUpgradeSchedule".into(), next: None })
            ),
            ("1.31".to_string(), None),
        ]
    );
    let notices = messages(&actions, Stage::Notice);
    assert_eq!(
        notices[0],
        "aks-prod-weu: Kubernetes 1.30.4 → 1.30.7 (patch) available; AKS applies this through upgradeChannel patch; \
         window open now until 2026-11-29 13:00 UTC; nothing to do unless it is still missing on 2026-12-13"
    );
    let held = actions.iter().find(|a| a.stage == Stage::Execute && a.concern.target == "patch:1.30.4").unwrap();
    assert!(held.summary.ends_with("held: AKS applies this through upgradeChannel patch (aksManagedAutoUpgradeSchedule)"), "{}", held.summary);
    assert_eq!(held.dry_run_line()["held_by"]["gate"], "aks_channel");
}

#[test]
fn the_next_window_of_the_channels_own_schedule_is_named() {
    let signal = sweep(facts(None, Some("NodeImage")), SignalKind::NodeImageAvailable {
        pool: "nodepool1".into(),
        current: "AKSUbuntu-2204gen2containerd-202410.15.0".into(),
        latest: "AKSUbuntu-2204gen2containerd-202411.12.0".into(),
    });
    let next_os = ts("2026-12-05T22:00:00Z");
    let mut f = open(t0());
    f.windows.insert(WindowScope::NodeImage, WindowStatus::Closed { next: Some(next_os) });
    let actions = plan::plan(&signal, &policy(AUTO), &f, t0());
    assert_eq!(
        executes(&actions),
        vec![(
            "nodepool1@AKSUbuntu-2204gen2containerd-202410.15.0".to_string(),
            Some(Hold::AksChannel { channel: "nodeOSUpgradeChannel NodeImage".into(), schedule: "aksManagedNodeOSUpgradeSchedule".into(), next: Some(next_os) })
        )]
    );
    let notice = &messages(&actions, Stage::Notice)[0];
    assert!(
        notice.contains(": node pool nodepool1 image AKSUbuntu-2204gen2containerd-202410.15.0 → AKSUbuntu-2204gen2containerd-202411.12.0 available;"),
        "the notice names the pool and both images: {notice}"
    );
    assert!(notice.contains("AKS applies this through nodeOSUpgradeChannel NodeImage; next window opens 2026-12-05 22:00 UTC"), "{notice}");
}

#[test]
fn past_the_deadline_the_watchdog_escalates_with_likely_causes_and_still_never_starts_it() {
    let signal = sweep(facts(Some("patch"), None), patch_offered());
    let mut f = open(t0());
    let first_seen = t0() - days(20); // patch_within_days 14: due 6 days ago
    for c in plan::concerns(&signal, &policy(AUTO)) {
        f.first_seen.insert(c.key(), first_seen);
    }
    let actions = plan::plan(&signal, &policy(AUTO), &f, t0());
    let overdue: Vec<&Action> = actions.iter().filter(|a| a.stage == Stage::Overdue && a.concern.target == "patch:1.30.4").collect();
    assert_eq!(overdue.len(), 1);
    assert_eq!(
        overdue[0].summary,
        "aks-prod-weu: overdue: auto-upgrade is configured but did not happen: Kubernetes 1.30.4 → 1.30.7 (patch) should have been applied by AKS through upgradeChannel patch by 2026-11-23"
    );
    let note = overdue[0].note.as_deref().unwrap();
    for cause in ["UpgradeBlockedOnDeprecatedAPIUsage", "kubectl get pdb -A", "az vm list-usage --location westeurope", "aksManagedAutoUpgradeSchedule", "powerState"] {
        assert!(note.contains(cause), "{cause} missing from {note}");
    }
    assert!(matches!(executes(&actions)[0].1, Some(Hold::AksChannel { .. })));

    // A grace of 7 days moves the watchdog past now: a notice again, due 2026-11-30.
    let grace = policy(&format!("[defaults]\naks_channel_grace_days = 7\n{AUTO}"));
    let actions = plan::plan(&signal, &grace, &f, t0());
    assert!(actions.iter().all(|a| a.stage != Stage::Overdue));
    assert!(messages(&actions, Stage::Notice)[0].ends_with("still missing on 2026-11-30"));
}

#[test]
fn respect_aks_channels_false_plans_as_if_no_channel_were_set() {
    let off = policy(&format!("[defaults]\nrespect_aks_channels = false\n{AUTO}"));
    let with = plan::plan(&sweep(facts(Some("patch"), Some("NodeImage")), patch_offered()), &off, &open(t0()), t0());
    let without = plan::plan(&sweep(facts(None, None), patch_offered()), &off, &open(t0()), t0());
    assert_eq!(executes(&with), executes(&without));
    assert_eq!(executes(&with), vec![("patch:1.30.4".to_string(), None), ("1.31".to_string(), None)]);
}

#[test]
fn a_concern_resolved_on_a_channel_that_applies_it_says_aks_applied_it() {
    let mut f = facts(Some("patch"), None);
    f.kubernetes_version = Some("1.30.7".into());
    let resolved = SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: "patch:1.30.4".into() };
    let actions = plan::plan(&sweep(f.clone(), resolved.clone()), &policy(AUTO), &PlanFacts::default(), t0());
    assert_eq!(
        messages(&actions, Stage::Resolve),
        vec!["aks-prod-weu: resolved: kubernetes-upgrade patch:1.30.4 — AKS applied it through upgradeChannel patch (now 1.30.7)".to_string()]
    );
    // Without a channel that applies it, the plain wording (aks-cadence or a person did it).
    f.upgrade_channel = Some("none".into());
    let actions = plan::plan(&sweep(f, resolved), &policy(AUTO), &PlanFacts::default(), t0());
    assert_eq!(messages(&actions, Stage::Resolve), vec!["aks-prod-weu: resolved: kubernetes-upgrade patch:1.30.4".to_string()]);
}

#[test]
fn a_node_image_resolved_on_channel_node_image_says_aks_applied_it_and_the_pools_image_now() {
    let image = "AKSUbuntu-2204gen2containerd-202405.03.0";
    let mut f = facts(None, Some("NodeImage"));
    f.node_pools = vec![
        aks_cadence::domain::NodePoolFacts { name: "system".into(), node_image_version: Some("AKSUbuntu-2204gen2containerd-202401.09.0".into()), ..Default::default() },
        aks_cadence::domain::NodePoolFacts { name: "NodePool1".into(), node_image_version: Some(image.into()), ..Default::default() },
    ];
    let resolved = SignalKind::Resolved { concern: ConcernKind::NodeImage, target: format!("nodepool1@{image}") };
    let actions = plan::plan(&sweep(f, resolved), &policy(AUTO), &PlanFacts::default(), t0());
    assert_eq!(
        messages(&actions, Stage::Resolve),
        vec![format!("aks-prod-weu: resolved: node-image nodepool1@{image} — AKS applied it through nodeOSUpgradeChannel NodeImage (now {image})")]
    );
}

#[test]
fn channel_stable_keeps_the_cluster_on_n_minus_1_counted_from_the_newest_generally_available_minor() {
    let offered = |v: &str, is_preview: bool| OfferedVersion { version: v.into(), is_preview };
    let kind = SignalKind::UpgradesOffered { current: "1.30.4".into(), offered: vec![offered("1.30.7", false), offered("1.31.2", false), offered("1.32.1", true)] };
    let actions = plan::plan(&sweep(facts(Some("stable"), None), kind), &policy(AUTO), &open(t0()), t0());
    let ex = executes(&actions);
    // N is 1.31 (a preview does not count): stable keeps 1.30, the cluster's line, patched, and
    // does not take it to 1.31, which aks-cadence then starts itself.
    assert!(ex.iter().any(|(t, h)| t == "patch:1.30.4" && matches!(h, Some(Hold::AksChannel { .. }))), "{ex:?}");
    assert!(ex.iter().any(|(t, h)| t == "1.31" && h.is_none()), "{ex:?}");
}

#[test]
fn events_know_no_channel_and_plan_as_before() {
    let event = Signal {
        cluster: cluster(),
        facts: ClusterFacts { kubernetes_version: Some("1.30.4".into()), ..ClusterFacts::default() },
        kind: patch_offered(),
        observed_at: t0(),
        origin: Origin::EventGrid { event_id: "e-1".into(), event_type: "x".into() },
    };
    let actions = plan::plan(&event, &policy(AUTO), &open(t0()), t0());
    assert!(executes(&actions).iter().all(|(_, h)| !matches!(h, Some(Hold::AksChannel { .. }))));
}

#[test]
fn the_channel_keys_are_checked_with_the_line_and_a_suggestion() {
    let err = Policy::parse("[defaults]\nrespect_aks_channel = true\n", "test.toml").unwrap_err().iter().map(|e| format!("line {}: {}: {} ({})", e.line, e.field, e.problem, e.fix)).collect::<Vec<_>>().join("\n");
    assert!(err.contains("line 2") && err.contains("did you mean") && err.contains("respect_aks_channels"), "{err}");
    let err = Policy::parse("[defaults]\nrespect_aks_channels = \"yes\"\n", "test.toml").unwrap_err().iter().map(|e| format!("line {}: {}: {} ({})", e.line, e.field, e.problem, e.fix)).collect::<Vec<_>>().join("\n");
    assert!(err.contains("line 2") && err.contains("respect_aks_channels"), "{err}");
    let err = Policy::parse("[[rule]]\nname = \"r\"\naks_channel_grace_days = -1\n", "test.toml").unwrap_err().iter().map(|e| format!("line {}: {}: {} ({})", e.line, e.field, e.problem, e.fix)).collect::<Vec<_>>().join("\n");
    assert!(err.contains("line 3") && err.contains("aks_channel_grace_days"), "{err}");
    assert!(Policy::parse("[defaults]\nrespect_aks_channels = false\naks_channel_grace_days = 7\n", "test.toml").is_ok());
}

#[test]
fn the_watchdog_names_what_the_last_sweep_saw_first_and_how_to_see_every_cause() {
    use aks_cadence::readiness::{PoolSurge, ReadinessFacts, Reading, Usage};
    // Stopped, and the region's vCPU quota is used up: both are seen, so they lead.
    let stopped = ClusterFacts { power_state: Some("Stopped".into()), ..facts(Some("patch"), None) };
    let signal = sweep(stopped, patch_offered());
    let mut f = open(t0());
    for c in plan::concerns(&signal, &policy(AUTO)) {
        f.first_seen.insert(c.key(), t0() - days(20));
    }
    f.readiness = Some(ReadinessFacts {
        pools: vec![PoolSurge { name: "nodepool1".into(), count: 3, vm_size: Some("Standard_D4s_v3".into()), max_surge: Some("1".into()), node_subnet_ips_per_node: 1, ..PoolSurge::default() }],
        quota: Some(Reading::Known([("cores".to_string(), Usage { current: 100, limit: 100 }), ("standardDSv3Family".to_string(), Usage { current: 100, limit: 100 })].into_iter().collect())),
        ..ReadinessFacts::default()
    });
    let actions = plan::plan(&signal, &policy(AUTO), &f, t0());
    let overdue: Vec<&Action> = actions.iter().filter(|a| a.stage == Stage::Overdue && a.concern.target == "patch:1.30.4").collect();
    let note = overdue[0].note.as_deref().unwrap();
    let position = |s: &str| note.find(s).unwrap_or_else(|| panic!("{s:?} missing from {note}"));
    assert!(note.starts_with("Likely causes, those seen on the cluster first: (1) the cluster is stopped"), "{note}");
    assert!(position("SEEN by the last sweep: powerState Stopped") < position("(2) not enough quota"), "{note}");
    assert!(note.contains("SEEN by the last sweep: vCPU quota cores: the surge nodes need 4, 0 available"), "{note}");
    // Every cause is still listed, each with how to see it and Microsoft's page.
    for see in [
        "az aks show -g rg-prod-weu -n aks-prod-weu --query powerState",
        "az vm list-usage --location westeurope",
        "kubectl get pdb -A",
        "UpgradeBlockedOnDeprecatedAPIUsage",
        "az monitor activity-log list",
        "az network vnet list-usage",
        "AllocationFailed",
        "aksManagedAutoUpgradeSchedule",
        "https://learn.microsoft.com/azure/aks/stop-cluster-upgrade-api-breaking-changes",
    ] {
        position(see);
    }
    assert_eq!(note.matches("SEEN by the last sweep").count(), 2, "only what was seen is marked: {note}");

    // Nothing seen: the same causes, none marked, deprecated APIs first.
    let signal = sweep(facts(Some("patch"), None), patch_offered());
    f.readiness = None;
    let actions = plan::plan(&signal, &policy(AUTO), &f, t0());
    let note = actions.iter().find(|a| a.stage == Stage::Overdue).and_then(|a| a.note.clone()).unwrap();
    assert!(!note.contains("SEEN") && note.contains("(1) AKS stopped the upgrade"), "{note}");
}

/// Every Thursday 08:00–14:00 UTC, as a cluster's aksManagedAutoUpgradeSchedule.
fn thursdays() -> aks_cadence::policy::windows::MaintenanceWindow {
    aks_cadence::policy::windows::MaintenanceWindow::from_arm_json(&serde_json::json!({
        "schedule": {"weekly": {"intervalWeeks": 1, "dayOfWeek": "Thursday"}},
        "durationHours": 6, "startTime": "08:00", "utcOffset": "+00:00"
    }))
    .unwrap()
}

#[test]
fn the_watchdog_escalates_after_n_windows_or_at_the_deadline_plus_grace_whichever_comes_first() {
    // First seen Thursday 2026-11-19 09:00, inside a window: that one opened before, so it
    // does not count. The next ones close 2026-11-26 14:00 and 2026-12-03 14:00.
    let first_seen = ts("2026-11-19T09:00:00Z");
    let w = thursdays();
    assert_eq!(w.nth_closed_since(first_seen, 0), None);
    assert_eq!(w.nth_closed_since(first_seen, 1), Some(ts("2026-11-26T14:00:00Z")));
    assert_eq!(w.nth_closed_since(first_seen, 2), Some(ts("2026-12-03T14:00:00Z")));
    assert_eq!(w.nth_closed_since(ts("2026-11-19T08:00:00Z"), 1), Some(ts("2026-11-19T14:00:00Z")), "a window opening at the sighting counts");
    let by_days = ts("2026-12-03T09:00:00Z"); // patch_within_days 14, no grace days
    let table = [
        (0, Some(&w), by_days),                    // not used: days only
        (1, Some(&w), ts("2026-11-26T14:00:00Z")), // one window passed before the deadline
        (2, Some(&w), by_days),                    // the deadline comes first
        (1, None, by_days),                        // no AKS schedule known: days only
    ];
    for (n, schedule, want) in table {
        assert_eq!(plan::watchdog_at(by_days, schedule, first_seen, n), want, "{n} windows, schedule {}", schedule.is_some());
    }

    // Through the planner: one window of aksManagedAutoUpgradeSchedule passed without the patch.
    let signal = sweep(facts(Some("patch"), None), patch_offered());
    let mut f = open(t0());
    f.schedules.insert(WindowScope::KubernetesVersion, thursdays());
    for c in plan::concerns(&signal, &policy(AUTO)) {
        f.first_seen.insert(c.key(), first_seen);
    }
    let stage = |p: &Policy| {
        let actions = plan::plan(&signal, p, &f, t0());
        actions.iter().find(|a| a.concern.target == "patch:1.30.4" && a.kind == ActionKind::Log).map(|a| (a.stage, a.summary.clone())).unwrap()
    };
    let (s, summary) = stage(&policy(AUTO));
    assert_eq!(s, Stage::Notice, "days only: due 2026-12-03: {summary}");
    let (s, summary) = stage(&policy(&format!("[defaults]\naks_channel_grace_windows = 1\n{AUTO}")));
    assert_eq!(s, Stage::Overdue, "{summary}");
    assert!(summary.contains("auto-upgrade is configured but did not happen") && summary.contains("by 2026-11-26"), "{summary}");
    let (s, _) = stage(&policy(&format!("[defaults]\naks_channel_grace_windows = 2\n{AUTO}")));
    assert_eq!(s, Stage::Notice);
    // Out of range is refused with the line.
    let err = Policy::parse("[defaults]\naks_channel_grace_windows = -1\n", "c.toml").unwrap_err();
    assert!(err[0].to_string().starts_with("c.toml:2: defaults.aks_channel_grace_windows"), "{}", err[0]);
}
