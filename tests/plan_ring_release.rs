//! Ring release in the plan (pure): a failed upgrade in ring dev stops its target for prod — the
//! upgrade is held `ring` with `failed`, the stop is reported (with the issue and the label that
//! release it) so the orchestrator reads releases only then, a concern told before the failure
//! hears once that it is stopped and how to release it — and a released target goes back to the
//! soak rule.

use std::collections::BTreeSet;
use std::sync::Arc;

use aks_cadence::action::{Action, ActionKind, Hold, Stage};
use aks_cadence::domain::{ClusterFacts, ClusterId, Concern, ConcernKind, OfferedVersion, Origin, Signal, SignalKind};
use aks_cadence::plan::{self, FleetRings, PlanFacts, RingPlace, WindowStatus};
use aks_cadence::policy::Policy;
use aks_cadence::policy::rings::{Failure, Member, RingView, Running};
use jiff::{SignedDuration, Timestamp};

const POLICY: &str = r#"
[defaults.upgrade]
patch = "auto"

[[rule]]
name = "platform"
[rule.upgrade]
release_label = "ring/go"
[rule.github_issue]
repo = "o/r"

[[ring]]
name = "dev"
clusters = ["dev"]
soak_days = 3

[[ring]]
name = "prod"
clusters = ["prod"]
soak_days = 0
"#;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn prod_signal(now: Timestamp) -> Signal {
    let facts = ClusterFacts {
        kubernetes_version: Some("1.30.4".into()),
        provisioning_state: Some("Succeeded".into()),
        power_state: Some("Running".into()),
        ..ClusterFacts::default()
    };
    let kind = SignalKind::UpgradesOffered { current: "1.30.4".into(), offered: vec![OfferedVersion { version: "1.30.7".into(), is_preview: false }] };
    Signal { cluster: ClusterId::from_parts("sub", "rg", "prod"), facts, kind, observed_at: now, origin: Origin::Sweep { run_id: "run".into() } }
}

/// dev-a failed to reach 1.30.7 on 03-01, was fixed by hand on 03-02 and has run it since.
fn fleet(released: &[&str]) -> Arc<FleetRings> {
    let dev = Member {
        cluster: "dev-a".into(),
        kubernetes: Some(Running { version: "1.30.7".into(), since: t("2026-03-02T00:00:00Z"), seen_to_change: true }),
        failed: vec![Failure { target: "1.30.7".into(), at: t("2026-03-01T00:00:00Z") }],
        ..Member::default()
    };
    let rings = vec![RingView { name: "dev".into(), soak_days: 3, members: vec![dev] }, RingView { name: "prod".into(), soak_days: 0, members: vec![] }];
    Arc::new(FleetRings { rings, released: released.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>() })
}

fn facts(fleet: Arc<FleetRings>, first_seen: Option<Timestamp>, now: Timestamp) -> PlanFacts {
    let mut facts = PlanFacts { window: WindowStatus::Open { until: now + SignedDuration::from_hours(6) }, ring: Some(RingPlace { index: 1, fleet }), ..PlanFacts::default() };
    if let Some(at) = first_seen {
        facts.first_seen.insert(concern().key(), at);
    }
    facts
}

fn concern() -> Concern {
    Concern::new(ClusterId::from_parts("sub", "rg", "prod"), ConcernKind::KubernetesUpgrade, "patch:1.30.4")
}

fn execute(actions: &[Action]) -> &Action {
    actions.iter().find(|a| a.stage == Stage::Execute && matches!(a.kind, ActionKind::Upgrade { .. })).expect("an upgrade execute")
}

#[test]
fn a_failure_stop_holds_prod_reports_the_stop_and_tells_an_older_concern_once_how_to_release() {
    let policy = Policy::parse(POLICY, "test.toml").unwrap();
    let now = t("2026-03-10T10:00:00Z");
    // Told on 02-28, before dev's failure.
    let f = facts(fleet(&[]), Some(t("2026-02-28T00:00:00Z")), now);
    let actions = plan::plan(&prod_signal(now), &policy, &f, now);
    assert_eq!(execute(&actions).hold, Some(Hold::Ring { ring: "dev".into(), waiting: vec!["dev-a".into()], until: None, failed: true }));
    let stops = plan::failure_stops(&prod_signal(now), &policy, &f, now);
    assert_eq!(stops.len(), 1, "{stops:#?}");
    let stop = &stops[0];
    assert_eq!(
        (stop.concern.clone(), stop.target.as_str(), stop.ring.as_str(), stop.since, stop.repo.as_deref(), stop.label.as_str()),
        (concern(), "1.30.7", "dev", t("2026-03-01T00:00:00Z"), Some("o/r"), "ring/go")
    );
    let update = actions.iter().find(|a| a.stage == Stage::Update && matches!(a.kind, ActionKind::GithubIssue { .. })).expect("the stop told on the issue");
    assert!(update.summary.contains("the upgrade to 1.30.7 failed in ring dev (dev-a); 1.30.7 is stopped for this cluster"), "{}", update.summary);
    assert!(update.note.as_deref().unwrap_or_default().contains("applies the label `ring/go` or comments `/release` on this issue"), "{update:?}");

    // First seen after the failure: the notice itself says how to release, no separate update.
    let f = facts(fleet(&[]), Some(t("2026-03-05T00:00:00Z")), now);
    let actions = plan::plan(&prod_signal(now), &policy, &f, now);
    assert!(!actions.iter().any(|a| a.stage == Stage::Update), "{actions:#?}");
    let notice = actions.iter().find(|a| a.stage == Stage::Notice && matches!(a.kind, ActionKind::GithubIssue { .. })).expect("the notice");
    assert!(notice.note.as_deref().unwrap_or_default().contains("`ring/go` or comments `/release`"), "{notice:?}");
}

#[test]
fn a_released_target_goes_back_to_the_soak_rule_and_reports_no_stop() {
    let policy = Policy::parse(POLICY, "test.toml").unwrap();
    let released = fleet(&["1.30.7"]);
    // dev-a has run 1.30.7 since 03-02: soaked from 03-05.
    let during = t("2026-03-04T10:00:00Z");
    let f = facts(Arc::clone(&released), None, during);
    let actions = plan::plan(&prod_signal(during), &policy, &f, during);
    assert_eq!(execute(&actions).hold, Some(Hold::Ring { ring: "dev".into(), waiting: vec!["dev-a".into()], until: Some(t("2026-03-05T00:00:00Z")), failed: false }));
    // The issue says the target waits for the soak, and nothing about releasing: nothing is stopped.
    let notice = actions.iter().find(|a| a.stage == Stage::Notice && matches!(a.kind, ActionKind::GithubIssue { .. })).expect("the notice");
    let note = notice.note.as_deref().unwrap_or_default();
    assert!(note.contains("The target waits:") && !note.contains("/release"), "{note}");
    assert!(plan::failure_stops(&prod_signal(during), &policy, &f, during).is_empty(), "released: nothing to read");
    let after = t("2026-03-10T10:00:00Z");
    assert_eq!(execute(&plan::plan(&prod_signal(after), &policy, &facts(released, None, after), after)).hold, None);
}

#[test]
fn config_check_takes_the_release_label_and_refuses_one_that_approves_holds_or_is_unusable() {
    let err = Policy::parse("[defaults.upgrade]\nrelease_label = \"aks-cadence/approved\"\n", "p.toml").unwrap_err();
    assert!(err[0].to_string().contains("p.toml:2: defaults.upgrade.release_label: \"aks-cadence/approved\" is also the approval_label"), "{err:?}");
    let err = Policy::parse("[[rule]]\nname = \"r\"\n[rule.upgrade]\nhold_label = \"stop\"\nrelease_label = \"STOP\"\n", "p.toml").unwrap_err();
    assert!(err[0].to_string().contains("rule[0].upgrade.release_label: \"STOP\" is also the hold_label"), "{err:?}");
    let err = Policy::parse("[defaults.upgrade]\nrelease_label = \"a,b\"\n", "p.toml").unwrap_err();
    assert!(err[0].to_string().contains("is not a usable GitHub label"), "{err:?}");
    let err = Policy::parse("[defaults.upgrade]\nrelease_lable = \"go\"\n", "p.toml").unwrap_err();
    assert!(err[0].to_string().contains("release_label"), "a misspelling names the key: {err:?}");
    let policy = Policy::parse(POLICY, "p.toml").unwrap();
    let summary = policy.summary().join("\n");
    assert!(summary.contains("upgrade.release_label = ring/go"), "{summary}");
    assert!(summary.contains("releases it (label `aks-cadence/release` or a /release comment on the issue of a cluster it holds)"), "{summary}");
}
