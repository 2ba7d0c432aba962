//! Sweeps through the pipeline: each cluster planned with its own windows and state, one plan
//! for the whole sweep, concerns closed with the planner's own targets, upgrades followed to
//! their end and told through the concern's channels.

mod pipeline_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aks_cadence::action::{Action, ActionKind, Hold, Stage};
use aks_cadence::actions::azure::{operation_failed, still_running, succeeded};
use aks_cadence::actions::{Actuator, Performed};
use aks_cadence::domain::{ClusterFacts, ConcernKind, OfferedVersion, OperationStatus, Origin, Signal, SignalKind};
use aks_cadence::error::ActionError;
use aks_cadence::facts::sweep_plan_facts;
use aks_cadence::pipeline::{Pipeline, PipelineError, fixed_clock};
use aks_cadence::plan::{WindowScope, WindowStatus};
use aks_cadence::policy::Policy;
use aks_cadence::store::Ledger;
use aks_cadence::sweep::memory::Observed;
use aks_cadence::sweep::{ClusterSnapshot, TrackedOperation};
use async_trait::async_trait;
use jiff::Timestamp;
use pipeline_support::*;
use serde_json::{Value, json};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// Microsoft's list example: node OS every 5 days at 13:30 -07:00 for 10 h from 2023-01-01;
/// auto-upgrade on the 15th every 3 months at 08:30 UTC for 5 h.
fn configurations() -> Vec<Value> {
    let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/arm/maintenance_configurations_list_maintenance_window.2026-06-01.json")).unwrap();
    let v: Value = serde_json::from_str(&raw).unwrap();
    v["responses"]["200"]["body"]["value"].as_array().unwrap().clone()
}

/// 2026-01-15 is a 15th of the auto-upgrade schedule (open 08:30–13:30 UTC); the node OS window
/// that day opens at 20:30 UTC.
const IN_AUTO_WINDOW: &str = "2026-01-15T09:00:00Z";
const AFTER_AUTO_WINDOW: &str = "2026-01-15T14:00:00Z";

fn facts(version: &str) -> ClusterFacts {
    ClusterFacts {
        location: Some("westeurope".into()),
        kubernetes_version: Some(version.into()),
        support_plan: Some("KubernetesOfficial".into()),
        provisioning_state: Some("Succeeded".into()),
        power_state: Some("Running".into()),
        ..ClusterFacts::default()
    }
}

/// A sweep's finding about `name` on `version` with `offered` upgrades, at `at`.
fn snapshot(name: &str, version: &str, offered: &[&str], at: Timestamp) -> ClusterSnapshot {
    let cluster = cluster(name);
    let make = |kind| Signal { cluster: cluster.clone(), facts: facts(version), kind, observed_at: at, origin: Origin::Sweep { run_id: "run".into() } };
    let mut signals = Vec::new();
    if !offered.is_empty() {
        signals.push(make(SignalKind::UpgradesOffered {
            current: version.into(),
            offered: offered.iter().map(|v| OfferedVersion { version: (*v).into(), is_preview: false }).collect(),
        }));
    } else {
        signals.push(make(SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: format!("patch:{version}") }));
    }
    ClusterSnapshot {
        cluster: cluster.clone(),
        facts: facts(version),
        fqdn: None,
        run_id: "run".into(),
        swept_at: at,
        signals,
        maintenance_configurations: configurations(),
        maintenance_read: true,
        observed: Observed { kubernetes_version: Some(version.into()), ..Observed::default() },
        offered_in_region: None,
        busy: false,
        readiness: None,
        notes: Vec::new(),
        baseline: None,
        defender_plan: None,
    }
}

const AUTO_PATCH_WITH_ISSUES: &str = r#"
[defaults.upgrade]
patch = "auto"

[[rule]]
name = "all"
[rule.github_issue]
repo = "contoso/platform-infra"
"#;

/// Handles every action; an upgrade answers `upgrade`, everything else succeeds. Records each
/// batch.
struct Recorder {
    upgrade: Mutex<Performed>,
    batches: Mutex<Vec<Vec<Action>>>,
}

impl Recorder {
    fn answering(upgrade: Performed) -> Arc<Self> {
        Arc::new(Self { upgrade: Mutex::new(upgrade), batches: Mutex::default() })
    }
    fn performed(&self) -> Vec<Action> {
        self.batches.lock().unwrap().iter().flatten().cloned().collect()
    }
}

#[async_trait]
impl Actuator for Recorder {
    fn name(&self) -> &'static str {
        "recorder"
    }
    fn handles(&self, _: &ActionKind) -> bool {
        true
    }
    async fn perform(&self, batch: &[Action]) -> Vec<Performed> {
        self.batches.lock().unwrap().push(batch.to_vec());
        batch
            .iter()
            .map(|a| match a.kind {
                ActionKind::Upgrade { .. } => self.upgrade.lock().unwrap().clone(),
                _ => Ok(format!("did {}", a.key).into()),
            })
            .collect()
    }
}

fn pipeline(ledger: &Arc<dyn Ledger>, policy: &str, adapter: &Arc<Recorder>, now: &str, dry_run: bool) -> Pipeline {
    parts(Arc::new(Policy::parse(policy, "test.toml").unwrap()), ledger, vec![Arc::clone(adapter) as Arc<dyn Actuator>], dry_run, fixed_clock(ts(now))).pipeline()
}

fn execute_of(actions: &[Action]) -> Vec<&Action> {
    actions.iter().filter(|a| a.stage == Stage::Execute).collect()
}

// ---------------------------------------------------------------------------------------------
// Windows per kind of change
// ---------------------------------------------------------------------------------------------

#[test]
fn sweep_windows_follow_each_kind_of_change_and_fall_back_to_policy_only_for_clusters_without_any() {
    let now = ts(IN_AUTO_WINDOW);
    let with_window = Policy::parse(
        "[defaults.upgrade.window]\nschedule = { daily = { intervalDays = 1 } }\ndurationHours = 4\nstartTime = \"08:00\"\nutcOffset = \"+00:00\"\n",
        "test.toml",
    )
    .unwrap();
    let none = Policy::builtin();
    let policy_open = WindowStatus::Open { until: ts("2026-01-15T12:00:00Z") };

    let own = snapshot("a", "1.30.4", &["1.30.7"], now);
    let mut no_configs = own.clone();
    no_configs.maintenance_configurations.clear();
    let mut unread = no_configs.clone();
    unread.maintenance_read = false;
    let mut broken_node_os = own.clone();
    broken_node_os.maintenance_configurations[0]["properties"]["maintenanceWindow"]["durationHours"] = json!(2);
    let mut foreign_only = no_configs.clone();
    foreign_only.maintenance_configurations = vec![json!({"name": "myOwnSchedule", "properties": {"timeInWeek": [{"day": "Monday", "hourSlots": [1]}]}})];

    let by_scope = |pairs: &[(WindowScope, WindowStatus)]| pairs.iter().cloned().collect::<BTreeMap<_, _>>();
    let own_windows = by_scope(&[
        (WindowScope::NodeImage, WindowStatus::Closed { next: Some(ts("2026-01-15T20:30:00Z")) }),
        (WindowScope::KubernetesVersion, WindowStatus::Open { until: ts("2026-01-15T13:30:00Z") }),
        (WindowScope::CertificateRotation, WindowStatus::Open { until: ts("2026-01-15T13:30:00Z") }),
    ]);
    // (row, snapshot, policy, default window, windows per scope, log lines)
    type Row<'a> = (&'a str, &'a ClusterSnapshot, &'a Policy, WindowStatus, BTreeMap<WindowScope, WindowStatus>, usize);
    let rows: Vec<Row> = vec![
        ("the cluster's own schedules, per kind; policy's window unused", &own, &with_window, WindowStatus::Unknown, own_windows.clone(), 0),
        ("no configuration: the policy's window for every change", &no_configs, &with_window, policy_open.clone(), BTreeMap::new(), 0),
        ("no configuration and no policy window: unknown", &no_configs, &none, WindowStatus::Unknown, BTreeMap::new(), 0),
        ("configurations unread: unknown, never the policy's window", &unread, &with_window, WindowStatus::Unknown, BTreeMap::new(), 1),
        (
            "a broken node OS schedule holds node images only",
            &broken_node_os,
            &with_window,
            WindowStatus::Unknown,
            by_scope(&[
                (WindowScope::NodeImage, WindowStatus::Unknown),
                (WindowScope::KubernetesVersion, WindowStatus::Open { until: ts("2026-01-15T13:30:00Z") }),
                (WindowScope::CertificateRotation, WindowStatus::Open { until: ts("2026-01-15T13:30:00Z") }),
            ]),
            1,
        ),
        ("only configurations AKS ignores: as if none", &foreign_only, &with_window, policy_open.clone(), BTreeMap::new(), 0),
    ];
    for (row, snap, policy, window, windows, notes) in rows {
        let mut log = Vec::new();
        let f = sweep_plan_facts(snap, policy, now, &mut log);
        assert_eq!(f.window, window, "{row}");
        assert_eq!(f.windows, windows, "{row}");
        assert_eq!(log.len(), notes, "{row}: {log:?}");
    }
    let mut log = Vec::new();
    let mut busy = own.clone();
    busy.busy = true;
    busy.offered_in_region = Some(vec!["1.30.7".into()]);
    let f = sweep_plan_facts(&busy, &none, now, &mut log);
    assert!(f.cluster_busy);
    assert_eq!(f.offered_in_region, Some(vec!["1.30.7".to_string()]));
}

// ---------------------------------------------------------------------------------------------
// Gates with live facts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_auto_patch_runs_inside_the_open_auto_upgrade_window() {
    let temp = TempLedger::new();
    let ledger = temp.open();
    let adapter = Recorder::answering(Ok(succeeded("op-1")));
    let p = pipeline(&ledger, AUTO_PATCH_WITH_ISSUES, &adapter, IN_AUTO_WINDOW, false);
    let report = p.handle_snapshots(&[snapshot("a", "1.30.4", &["1.30.7"], ts(IN_AUTO_WINDOW))]).await.unwrap();

    let exec = execute_of(&report.planned);
    assert_eq!(exec.len(), 1);
    assert_eq!(exec[0].hold, None, "{}", exec[0].summary);
    assert_eq!(exec[0].window, Some(WindowStatus::Open { until: ts("2026-01-15T13:30:00Z") }));
    assert!(adapter.performed().iter().any(|a| matches!(a.kind, ActionKind::Upgrade { .. })), "the upgrade was carried out");
}

#[tokio::test]
async fn an_auto_patch_outside_its_window_is_held_with_the_next_opening() {
    let temp = TempLedger::new();
    let ledger = temp.open();
    let adapter = Recorder::answering(Ok(succeeded("op-1")));
    let p = pipeline(&ledger, AUTO_PATCH_WITH_ISSUES, &adapter, AFTER_AUTO_WINDOW, false);
    let report = p.handle_snapshots(&[snapshot("a", "1.30.4", &["1.30.7"], ts(AFTER_AUTO_WINDOW))]).await.unwrap();

    let exec = execute_of(&report.planned);
    assert_eq!(exec[0].hold, Some(Hold::OutsideWindow { next: Some(ts("2026-04-15T08:30:00Z")) }));
    assert!(exec[0].summary.ends_with("held: outside the maintenance window; next opens 2026-04-15 08:30 UTC"), "{}", exec[0].summary);
    assert!(!adapter.performed().iter().any(|a| matches!(a.kind, ActionKind::Upgrade { .. })), "nothing was upgraded");
}

/// `held_by` names the real cause of an unknown window: none defined anywhere (define one), the
/// configurations unreadable (the read's error and the role action), the cluster's own
/// configurations governing no window for the change (the policy's window is not used), or
/// one that does not parse.
#[tokio::test]
async fn an_unknown_window_holds_naming_its_cause() {
    let forbidden = "maintenance configurations: ARM answered 403 AuthorizationFailed: the client does not have authorization";
    let base = snapshot("a", "1.30.4", &["1.30.7"], ts(IN_AUTO_WINDOW));
    let mut none = base.clone();
    none.maintenance_configurations.clear();
    let mut unread = none.clone();
    unread.maintenance_read = false;
    unread.notes.push(forbidden.into());
    let mut node_os_only = base.clone();
    node_os_only.maintenance_configurations.retain(|c| c["name"] == "aksManagedNodeOSUpgradeSchedule");
    let mut broken = base.clone();
    for c in &mut broken.maintenance_configurations {
        if c["name"] == "aksManagedAutoUpgradeSchedule" {
            c["properties"]["maintenanceWindow"]["durationHours"] = json!(2);
        }
    }
    // (row, snapshot, the hold, words its line must carry)
    type Row<'a> = (&'a str, ClusterSnapshot, fn(&Hold) -> bool, &'a [&'a str]);
    let rows: Vec<Row> = vec![
        ("none defined anywhere", none, |h| *h == Hold::OutsideWindow { next: None }, &["no maintenance window is known (define one in AKS or in policy"]),
        (
            "configurations unreadable",
            unread,
            |h| matches!(h, Hold::WindowUnknown { .. }),
            &["could not be read (ARM answered 403 AuthorizationFailed", "grant Microsoft.ContainerService/managedClusters/maintenanceConfigurations/read"],
        ),
        (
            "the cluster's own configurations govern no window for a patch",
            node_os_only,
            |h| matches!(h, Hold::WindowUnknown { .. }),
            &["define none for this change", "policy's window is not used", "add aksManagedAutoUpgradeSchedule"],
        ),
        ("the auto-upgrade configuration does not parse", broken, |h| matches!(h, Hold::WindowUnknown { .. }), &["does not parse", "durationHours"]),
    ];
    for (row, snap, is_hold, words) in rows {
        let temp = TempLedger::new();
        let ledger = temp.open();
        let adapter = Recorder::answering(Ok(succeeded("op-1")));
        let p = pipeline(&ledger, AUTO_PATCH_WITH_ISSUES, &adapter, IN_AUTO_WINDOW, false);
        let report = p.handle_snapshots(&[snap]).await.unwrap();
        let exec = execute_of(&report.planned);
        let hold = exec[0].hold.as_ref().unwrap_or_else(|| panic!("{row}: not held"));
        assert!(is_hold(hold), "{row}: {hold:?}");
        let line = hold.describe();
        for w in words {
            assert!(line.contains(w), "{row}: {line:?} lacks {w:?}");
        }
        assert!(exec[0].summary.ends_with(&format!("held: {line}")), "{row}: {}", exec[0].summary);
        assert!(!adapter.performed().iter().any(|a| matches!(a.kind, ActionKind::Upgrade { .. })), "{row}: nothing was upgraded");
    }
}

#[tokio::test]
async fn a_busy_cluster_holds_its_upgrade() {
    let temp = TempLedger::new();
    let ledger = temp.open();
    let adapter = Recorder::answering(Ok(succeeded("op-1")));
    let p = pipeline(&ledger, AUTO_PATCH_WITH_ISSUES, &adapter, IN_AUTO_WINDOW, true);
    let mut snap = snapshot("a", "1.30.4", &["1.30.7"], ts(IN_AUTO_WINDOW));
    snap.busy = true;
    let report = p.handle_snapshots(&[snap]).await.unwrap();
    assert_eq!(execute_of(&report.planned)[0].hold, Some(Hold::Busy));
}

// ---------------------------------------------------------------------------------------------
// One plan, resolution
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn one_sweep_of_many_clusters_is_one_plan_and_one_batch() {
    let temp = TempLedger::new();
    let ledger = temp.open();
    let adapter = Recorder::answering(Ok(succeeded("op-1")));
    let p = pipeline(&ledger, "[[rule]]\nname = \"all\"\n[rule.email]\nto = [\"ops@example.com\"]\n", &adapter, AFTER_AUTO_WINDOW, false);
    let at = ts(AFTER_AUTO_WINDOW);
    let snaps: Vec<ClusterSnapshot> = (0..12).map(|i| snapshot(&format!("c{i}"), "1.30.4", &["1.30.7"], at)).collect();
    let report = p.handle_snapshots(&snaps).await.unwrap();
    let emails = report.planned.iter().filter(|a| matches!(a.kind, ActionKind::Email { .. })).count();
    assert_eq!(emails, 12);
    let batches = adapter.batches.lock().unwrap();
    assert_eq!(batches.len(), 1, "twelve clusters, one plan, one batch for the adapter");
    assert_eq!(batches[0].iter().filter(|a| matches!(a.kind, ActionKind::Email { .. })).count(), 12);
}

#[tokio::test]
async fn a_concern_noticed_at_1_30_4_is_closed_when_a_later_sweep_sees_1_30_7() {
    let temp = TempLedger::new();
    let ledger = temp.open();
    let adapter = Recorder::answering(Ok(succeeded("op-1")));
    let notify = AUTO_PATCH_WITH_ISSUES.replace("patch = \"auto\"", "patch = \"notify\"");

    let first = pipeline(&ledger, &notify, &adapter, AFTER_AUTO_WINDOW, false);
    let report = first.handle_snapshots(&[snapshot("a", "1.30.4", &["1.30.7"], ts(AFTER_AUTO_WINDOW))]).await.unwrap();
    let issue = report.planned.iter().find(|a| matches!(a.kind, ActionKind::GithubIssue { .. })).unwrap();
    assert_eq!(issue.concern.target, "patch:1.30.4");

    // A week later the cluster runs 1.30.7 and nothing newer is offered.
    let later = "2026-01-22T14:00:00Z";
    let second = pipeline(&ledger, &notify, &adapter, later, false);
    let report = second.handle_snapshots(&[snapshot("a", "1.30.7", &[], ts(later))]).await.unwrap();
    let closes: Vec<&Action> = report.planned.iter().filter(|a| a.stage == Stage::Resolve).collect();
    assert_eq!(closes.len(), 1, "{:#?}", report.planned);
    assert_eq!(closes[0].concern, issue.concern, "the very concern the issue was opened for");
    assert_eq!(closes[0].kind, ActionKind::GithubClose { repo: "contoso/platform-infra".into() });
    assert!(adapter.performed().iter().any(|a| a.key == closes[0].key), "closed");
    // `patch:1.30.7` was never a concern: restating it met leaves no trace.
    let never = closes[0].concern.key().replace("patch:1.30.4", "patch:1.30.7");
    assert_eq!(ledger.seen(&never).await.unwrap(), None);

    // The next sweep has nothing more to close.
    let third = pipeline(&ledger, &notify, &adapter, "2026-01-29T14:00:00Z", false);
    let report = third.handle_snapshots(&[snapshot("a", "1.30.7", &[], ts("2026-01-29T14:00:00Z"))]).await.unwrap();
    assert!(report.planned.iter().all(|a| a.stage != Stage::Resolve), "{:#?}", report.planned);
}

// ---------------------------------------------------------------------------------------------
// Operations aks-cadence started
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_upgrade_still_running_is_followed_by_the_next_sweep_and_its_end_is_told() {
    let temp = TempLedger::new();
    let ledger = temp.open();
    let url = "https://management.azure.com/subscriptions/s/providers/Microsoft.ContainerService/locations/westeurope/operations/op-9?api-version=2017-08-31";
    let adapter = Recorder::answering(Ok(still_running("op-9", url)));
    let p = pipeline(&ledger, AUTO_PATCH_WITH_ISSUES, &adapter, IN_AUTO_WINDOW, false);
    let snap = snapshot("a", "1.30.4", &["1.30.7"], ts(IN_AUTO_WINDOW));
    p.handle_snapshots(std::slice::from_ref(&snap)).await.unwrap();

    let tracked = p.tracked_operations(&cluster("a")).await.unwrap();
    assert_eq!(tracked, vec![TrackedOperation { concern: ConcernKind::KubernetesUpgrade, target: "patch:1.30.4".into(), status_url: Some(url.into()) }]);

    // The next sweep polls it (sweep::sweep_cluster does; here its finding is given) and sees it succeed.
    let later = "2026-01-15T12:00:00Z";
    let mut next = snapshot("a", "1.30.7", &[], ts(later));
    next.signals.push(Signal {
        kind: SignalKind::Operation { concern: ConcernKind::KubernetesUpgrade, target: "patch:1.30.4".into(), status: OperationStatus::Succeeded },
        ..next.signals[0].clone()
    });
    let p = pipeline(&ledger, AUTO_PATCH_WITH_ISSUES, &adapter, later, false);
    let report = p.handle_snapshots(&[next]).await.unwrap();
    let told: Vec<&Action> = report.planned.iter().filter(|a| a.stage == Stage::Update).collect();
    assert_eq!(told.len(), 1, "{:#?}", report.planned);
    assert_eq!(told[0].kind, ActionKind::GithubIssue { repo: "contoso/platform-infra".into(), labels: vec![], assignees: vec![] });
    assert!(told[0].summary.contains("the operation aks-cadence started succeeded"), "{}", told[0].summary);
    assert!(p.tracked_operations(&cluster("a")).await.unwrap().is_empty(), "an ended operation is no longer followed");
}

#[tokio::test]
async fn a_failed_upgrade_is_told_at_once_with_arms_code_and_message() {
    let temp = TempLedger::new();
    let ledger = temp.open();
    let adapter = Recorder::answering(Err(operation_failed("op-1", "UpgradeFailed", "drain of node aks-1 timed out")));
    let p = pipeline(&ledger, AUTO_PATCH_WITH_ISSUES, &adapter, IN_AUTO_WINDOW, false);
    let report = p.handle_snapshots(&[snapshot("a", "1.30.4", &["1.30.7"], ts(IN_AUTO_WINDOW))]).await.unwrap();

    let told = report.planned.iter().find(|a| a.stage == Stage::Update).expect("an update about the failure");
    assert!(told.summary.contains("failed: UpgradeFailed: drain of node aks-1 timed out"), "{}", told.summary);
    assert_eq!(told.concern.target, "patch:1.30.4");
    assert!(adapter.performed().iter().any(|a| a.key == told.key), "told through the concern's channel");
    assert!(p.tracked_operations(&cluster("a")).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_change_the_adapter_refused_is_told_as_refused_never_as_a_failed_operation() {
    let temp = TempLedger::new();
    let ledger = temp.open();
    // What the Azure adapter answers when it will not start a change (nothing reaches ARM).
    let refusal = "minor upgrades go one minor at a time: from 1.28 the next is 1.29, not 1.30";
    let adapter = Recorder::answering(Err(ActionError::Permanent(refusal.into())));
    let p = pipeline(&ledger, AUTO_PATCH_WITH_ISSUES, &adapter, IN_AUTO_WINDOW, false);
    let report = p.handle_snapshots(&[snapshot("a", "1.30.4", &["1.30.7"], ts(IN_AUTO_WINDOW))]).await.unwrap();

    let told = report.planned.iter().find(|a| a.stage == Stage::Update).expect("an update about the refusal");
    assert!(told.summary.contains(&format!("did not start the change, it was refused: {refusal}")), "{}", told.summary);
    assert!(!told.summary.contains("the operation aks-cadence started"), "{}", told.summary);
    assert!(adapter.performed().iter().any(|a| a.key == told.key), "told through the concern's channel");
    assert!(p.tracked_operations(&cluster("a")).await.unwrap().is_empty(), "nothing to follow");
}

#[tokio::test]
async fn dry_run_plans_a_sweep_and_remembers_nothing() {
    let temp = TempLedger::new();
    let ledger = temp.open();
    let adapter = Recorder::answering(Ok(still_running("op-1", "https://m/op")));
    let p = pipeline(&ledger, AUTO_PATCH_WITH_ISSUES, &adapter, IN_AUTO_WINDOW, true);
    let report = p.handle_snapshots(&[snapshot("a", "1.30.4", &["1.30.7"], ts(IN_AUTO_WINDOW))]).await.unwrap();
    assert_eq!(execute_of(&report.planned)[0].hold, None, "would run now");
    assert!(adapter.performed().is_empty());
    assert_eq!(ledger.get_ref(&cluster("a").key(), "sweep").await.unwrap(), None);
}

#[tokio::test]
async fn a_run_that_needs_a_retry_resolves_the_same_concerns_again() {
    let temp = TempLedger::new();
    let ledger = temp.open();
    let ok = Recorder::answering(Ok(succeeded("op-1")));
    let notify = AUTO_PATCH_WITH_ISSUES.replace("patch = \"auto\"", "patch = \"notify\"");
    pipeline(&ledger, &notify, &ok, AFTER_AUTO_WINDOW, false)
        .handle_snapshots(&[snapshot("a", "1.30.4", &["1.30.7"], ts(AFTER_AUTO_WINDOW))])
        .await
        .unwrap();

    /// Fails every GitHub close transiently.
    struct Down;
    #[async_trait]
    impl Actuator for Down {
        fn name(&self) -> &'static str {
            "down"
        }
        fn handles(&self, _: &ActionKind) -> bool {
            true
        }
        async fn perform(&self, batch: &[Action]) -> Vec<Performed> {
            batch.iter().map(|_| Err(ActionError::Transient("HTTP 502".into()))).collect()
        }
    }
    let later = "2026-01-22T14:00:00Z";
    let down = parts(Arc::new(Policy::parse(&notify, "t").unwrap()), &ledger, vec![Arc::new(Down) as Arc<dyn Actuator>], false, fixed_clock(ts(later))).pipeline();
    let err = down.handle_snapshots(&[snapshot("a", "1.30.7", &[], ts(later))]).await.unwrap_err();
    assert!(matches!(err, PipelineError::Retryable(_)), "{err}");

    // The retry (the queue delivers the message again) still sees 1.30.4 → 1.30.7 and closes.
    let report = pipeline(&ledger, &notify, &ok, later, false).handle_snapshots(&[snapshot("a", "1.30.7", &[], ts(later))]).await.unwrap();
    assert!(report.planned.iter().any(|a| a.stage == Stage::Resolve && a.concern.target == "patch:1.30.4"), "{:#?}", report.planned);
}
