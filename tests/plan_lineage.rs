//! Lineages as tables: one concern per cluster and kind of concern follows the newest target.
//! A newer target of the same concern is told once as an update (issue retitled with a
//! comment, mail and chat once), a newer concern closes the one it replaces (as resolved when
//! the cluster left it, else as superseded), and an older target arriving late plans nothing.
//!
//! The orchestrator's part is played by [`Run`]: it reads the heads of the signal's lineages,
//! plans, stores the heads planning moved, and treats every planned key as done.

use std::collections::{BTreeMap, BTreeSet};

use aks_cadence::action::{Action, ActionKey, ActionKind, Stage};
use aks_cadence::domain::{
    CertificateKind, ClusterFacts, ClusterId, Concern, ConcernKind, OfferedVersion, Origin, Signal, SignalKind,
};
use aks_cadence::plan::{self, Head, PlanFacts};
use aks_cadence::policy::Policy;
use jiff::{SignedDuration, Timestamp};

const T0: &str = "2026-11-29T09:00:00Z";

fn t(days: i64) -> Timestamp {
    T0.parse::<Timestamp>().unwrap() + SignedDuration::from_hours(24 * days)
}

fn prod() -> ClusterId {
    ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod-weu", "aks-prod-weu")
}

fn policy() -> Policy {
    let text = r#"
[[rule]]
name = "platform"
[rule.github_issue]
repo = "contoso/ops"
[rule.github_pr]
repo = "contoso/infra"
path = "aks/prod.bicepparam"
key = "kubernetesVersion"
[rule.email]
to = ["ops@contoso.example"]
[[rule.chat]]
kind = "teams"
url_setting = "TEAMS_URL"
"#;
    Policy::parse(text, "lineage.toml").unwrap_or_else(|e| panic!("{e:#?}"))
}

fn event(kind: SignalKind, day: i64, id: &str) -> Signal {
    Signal {
        cluster: prod(),
        facts: ClusterFacts::default(),
        kind,
        observed_at: t(day),
        origin: Origin::EventGrid { event_id: id.into(), event_type: "Microsoft.ContainerService.X".into() },
    }
}

fn sweep(kind: SignalKind, version: &str, day: i64) -> Signal {
    let facts = ClusterFacts {
        kubernetes_version: Some(version.into()),
        provisioning_state: Some("Succeeded".into()),
        power_state: Some("Running".into()),
        ..ClusterFacts::default()
    };
    Signal { cluster: prod(), facts, kind, observed_at: t(day), origin: Origin::Sweep { run_id: format!("run-{day}") } }
}

fn upgrades(current: &str, offered: &[&str]) -> SignalKind {
    SignalKind::UpgradesOffered {
        current: current.into(),
        offered: offered.iter().map(|v| OfferedVersion { version: (*v).into(), is_preview: false }).collect(),
    }
}

fn swept_upgrades(current: &str, offered: &[&str], day: i64) -> Signal {
    sweep(upgrades(current, offered), current, day)
}

fn newest(version: &str, day: i64) -> Signal {
    event(
        SignalKind::NewKubernetesVersion {
            latest_supported: Some(version.into()),
            latest_stable: None,
            lowest_minor: None,
            latest_preview: None,
        },
        day,
        &format!("new-{version}-{day}"),
    )
}

fn support_ending(version: &str, day: i64) -> Signal {
    event(
        SignalKind::SupportEnding { kubernetes_version: version.into(), eol_date: Some(t(day + 60)), support_type: None, eol_source: None },
        day,
        &format!("eol-{version}"),
    )
}

fn node_image(current: &str, latest: &str, day: i64) -> Signal {
    sweep(
        SignalKind::NodeImageAvailable { pool: "nodepool1".into(), current: current.into(), latest: latest.into() },
        "1.30.4",
        day,
    )
}

/// A ledger as the orchestrator keeps it: first sightings, lineage heads, finished keys.
#[derive(Default)]
struct Run {
    first_seen: BTreeMap<String, Timestamp>,
    heads: BTreeMap<String, Head>,
    done: BTreeSet<ActionKey>,
    notes: Vec<String>,
}

impl Run {
    fn facts(&mut self, signal: &Signal, policy: &Policy) -> PlanFacts {
        let mut facts = PlanFacts::default();
        for c in plan::concerns(signal, policy) {
            let at = *self.first_seen.entry(c.key()).or_insert(signal.observed_at);
            facts.first_seen.insert(c.key(), at);
        }
        for key in plan::lineages(signal, policy) {
            if let Some(h) = self.heads.get(&key) {
                facts.heads.insert(key, h.clone());
            }
        }
        facts
    }

    /// Plans `signal` and returns the actions whose keys were not done yet (marking them done).
    fn step(&mut self, signal: &Signal) -> Vec<Action> {
        self.step_with(signal, true)
    }

    fn step_with(&mut self, signal: &Signal, finish: bool) -> Vec<Action> {
        let policy = policy();
        let facts = self.facts(signal, &policy);
        let planned = plan::plan_with_heads(signal, &policy, &facts, signal.observed_at);
        for (key, head) in planned.heads {
            // What the ledger stores is what the next run reads.
            self.heads.insert(key, Head::from_stored(&head.to_stored()).expect("a head round-trips"));
        }
        self.notes.extend(planned.notes);
        planned.actions.into_iter().filter(|a| if finish { self.done.insert(a.key.clone()) } else { !self.done.contains(&a.key) }).collect()
    }
}

/// `(stage, action, concern target)` per action.
fn shape(actions: &[Action]) -> Vec<(Stage, &'static str, String)> {
    actions.iter().map(|a| (a.stage, a.kind.name(), a.concern.target.clone())).collect()
}

fn of<'a>(actions: &'a [Action], stage: Stage, name: &str) -> Vec<&'a Action> {
    actions.iter().filter(|a| a.stage == stage && a.kind.name() == name).collect()
}

fn row(stage: Stage, name: &'static str, target: &str) -> (Stage, &'static str, String) {
    (stage, name, target.to_string())
}

#[test]
fn a_newer_patch_of_the_same_concern_is_told_once_and_an_older_one_late_plans_nothing() {
    let mut run = Run::default();
    let first = run.step(&swept_upgrades("1.30.2", &["1.30.4"], 0));
    assert_eq!(of(&first, Stage::Notice, "github_issue").len(), 1);

    let newer = run.step(&swept_upgrades("1.30.2", &["1.30.4", "1.30.7"], 1));
    assert_eq!(
        shape(&newer),
        vec![
            row(Stage::Notice, "github_pull_request", "patch:1.30.2"),
            row(Stage::Execute, "upgrade", "patch:1.30.2"),
            row(Stage::Update, "github_issue", "patch:1.30.2"),
            row(Stage::Update, "email", "patch:1.30.2"),
            row(Stage::Update, "teams", "patch:1.30.2"),
        ],
        "the issue, the mail and the chat follow the pull request to 1.30.7"
    );
    for update in of(&newer, Stage::Update, "github_issue").into_iter().chain(of(&newer, Stage::Update, "email")) {
        assert!(update.summary.contains("1.30.2 → 1.30.7"), "{}", update.summary);
        assert_eq!(update.note.as_deref(), Some("superseded 1.30.4 → 1.30.7"));
        assert!(update.key.as_str().contains("~"), "a key of its own: {}", update.key);
    }
    assert!(matches!(&of(&newer, Stage::Notice, "github_pull_request")[0].kind, ActionKind::GithubPullRequest { version, .. } if version == "1.30.7"));

    assert!(run.step(&swept_upgrades("1.30.2", &["1.30.4", "1.30.7"], 2)).is_empty(), "the same target again: nothing");
    let late = run.step(&swept_upgrades("1.30.2", &["1.30.4"], 3));
    assert!(late.is_empty(), "an older target must not move anything back: {:?}", shape(&late));
    assert!(run.notes.iter().any(|n| n.contains("(1.30.4) is older than 1.30.7")), "{:?}", run.notes);
}

#[test]
fn a_supersession_that_did_not_finish_is_planned_again_with_the_same_keys() {
    let mut run = Run::default();
    run.step(&swept_upgrades("1.30.2", &["1.30.4"], 0));
    let tried = run.step_with(&swept_upgrades("1.30.2", &["1.30.7"], 1), false);
    let again = run.step_with(&swept_upgrades("1.30.2", &["1.30.7"], 1), false);
    let keys = |a: &[Action]| a.iter().filter(|a| a.stage == Stage::Update).map(|a| a.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&tried).len(), 3);
    assert_eq!(keys(&tried), keys(&again), "a retry plans the same update keys although the head already moved");
    run.step(&swept_upgrades("1.30.2", &["1.30.7"], 1));
    assert!(run.step(&swept_upgrades("1.30.2", &["1.30.7"], 2)).is_empty());
}

#[test]
fn newest_version_events_follow_the_newest_and_a_newer_minor_closes_the_older_as_superseded() {
    let mut run = Run::default();
    let first = run.step(&newest("1.30.4", 0));
    assert_eq!(shape(&first), vec![row(Stage::Notice, "github_issue", "1.30"), row(Stage::Notice, "email", "1.30"), row(Stage::Notice, "teams", "1.30")]);

    let patch = run.step(&newest("1.30.7", 1));
    assert_eq!(shape(&patch), vec![row(Stage::Update, "github_issue", "1.30"), row(Stage::Update, "email", "1.30"), row(Stage::Update, "teams", "1.30")]);
    assert!(patch[0].summary.contains("Kubernetes 1.30.7 is now the newest"), "{}", patch[0].summary);
    assert_eq!(patch[0].note.as_deref(), Some("superseded 1.30.4 → 1.30.7"));

    let minor = run.step(&newest("1.31.2", 2));
    assert_eq!(
        shape(&minor),
        vec![
            row(Stage::Notice, "github_issue", "1.31"),
            row(Stage::Notice, "email", "1.31"),
            row(Stage::Notice, "teams", "1.31"),
            row(Stage::Resolve, "github_close", "1.30"),
        ]
    );
    let close = &minor[3];
    assert_eq!(close.superseded_by.as_ref().map(|c| c.target.as_str()), Some("1.31"), "the close links the newer concern");
    assert_eq!(close.note.as_deref(), Some("superseded 1.30.7 → 1.31.2"));
    assert_eq!(close.summary, "aks-prod-weu: kubernetes-upgrade 1.30 (1.30.7) is superseded by 1.31 (1.31.2)");
    assert!(close.key.as_str().contains("/github-close:contoso/ops~superseded-"), "not the resolve key: {}", close.key);
    assert!(minor[0].note.as_deref().is_some_and(|n| n.starts_with("superseded 1.30.7 → 1.31.2")), "{:?}", minor[0].note);

    for late in [newest("1.30.4", 3), newest("1.30.9", 3), newest("1.31.1", 3)] {
        assert!(run.step(&late).is_empty(), "{:?}", late.kind);
    }
    assert!(run.step(&newest("1.31.2", 4)).is_empty(), "a duplicate repeats nothing");
}

#[test]
fn a_sweep_that_knows_the_cluster_version_replaces_an_events_guess_and_is_not_overridden_by_later_events() {
    let mut run = Run::default();
    run.step(&newest("1.31.2", 0));
    // The cluster runs 1.29.9: its next minor is 1.30, whatever the region's newest is.
    let swept = run.step(&swept_upgrades("1.29.9", &["1.30.7"], 1));
    let closes = of(&swept, Stage::Resolve, "github_close");
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].concern.target, "1.31");
    assert_eq!(closes[0].superseded_by.as_ref().map(|c| c.target.as_str()), Some("1.30"), "superseded, not done: {:?}", closes[0]);
    assert_eq!(of(&swept, Stage::Notice, "github_issue")[0].concern.target, "1.30");

    let later = run.step(&newest("1.32.1", 2));
    assert!(later.is_empty(), "an event without the cluster's version does not override the sweep: {:?}", shape(&later));
    assert!(run.notes.iter().any(|n| n.contains("does not know the cluster's version, and a sweep's finding (1.30.7) leads")), "{:?}", run.notes);
}

#[test]
fn a_cluster_that_moved_on_closes_its_old_concerns_with_the_keys_a_sweeps_resolution_uses() {
    let mut run = Run::default();
    run.step(&swept_upgrades("1.29.9", &["1.29.12", "1.30.7"], 0));
    let moved = run.step(&swept_upgrades("1.30.7", &["1.30.9", "1.31.2"], 10));
    let closes: Vec<(String, Option<&Concern>)> =
        of(&moved, Stage::Resolve, "github_close").iter().map(|a| (a.concern.target.clone(), a.superseded_by.as_ref())).collect();
    assert_eq!(closes, vec![("patch:1.29.9".to_string(), None), ("1.30".to_string(), None)], "met, so resolved");

    // The same keys a sweep's `Resolved` signal plans: one close whichever comes first.
    let policy = policy();
    for (target, close) in [("patch:1.29.9", of(&moved, Stage::Resolve, "github_close")[0]), ("1.30", of(&moved, Stage::Resolve, "github_close")[1])] {
        let resolved = sweep(SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: target.into() }, "1.30.7", 10);
        let mut facts = PlanFacts::default();
        facts.first_seen.insert(Concern::new(prod(), ConcernKind::KubernetesUpgrade, target).key(), t(0));
        let keys: Vec<ActionKey> = plan::plan(&resolved, &policy, &facts, t(10)).into_iter().map(|a| a.key).collect();
        assert!(keys.contains(&close.key), "{target}: {keys:?} vs {}", close.key);
    }
}

#[test]
fn a_support_notice_for_the_next_minor_resolves_the_old_one_and_a_late_old_notice_plans_nothing() {
    let mut run = Run::default();
    run.step(&support_ending("1.29.9", 0));
    let next = run.step(&support_ending("1.30.4", 120));
    let closes = of(&next, Stage::Resolve, "github_close");
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].concern.target, "1.29");
    assert!(closes[0].superseded_by.is_none());
    assert!(of(&next, Stage::Notice, "github_issue").iter().any(|a| a.concern.target == "1.30"));
    assert!(run.step(&support_ending("1.29.9", 121)).is_empty());
}

#[test]
fn a_newer_node_image_updates_the_pools_concern_and_an_older_one_plans_nothing() {
    let a = "AKSUbuntu-2204gen2containerd-202410.15.0";
    let b = "AKSUbuntu-2204gen2containerd-202411.12.0";
    let c = "AKSUbuntu-2204gen2containerd-202412.03.0";
    let mut run = Run::default();
    run.step(&node_image(a, b, 0));
    let newer = run.step(&node_image(a, c, 1));
    let updates = of(&newer, Stage::Update, "github_issue");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].note.as_deref(), Some(format!("superseded {b} → {c}").as_str()));
    assert!(run.step(&node_image(a, b, 2)).is_empty());
}

#[test]
fn the_first_target_of_a_lineage_keeps_the_keys_it_always_had() {
    let policy = policy();
    for signal in [swept_upgrades("1.29.9", &["1.29.12", "1.30.7"], 0), newest("1.31.2", 0), support_ending("1.29.9", 0), node_image("a-1.0", "a-2.0", 0)] {
        let mut run = Run::default();
        let facts = run.facts(&signal, &policy);
        let before: Vec<ActionKey> = plan::plan(&signal, &policy, &facts, signal.observed_at).into_iter().map(|a| a.key).collect();
        let with_heads: Vec<ActionKey> = run.step(&signal).into_iter().map(|a| a.key).collect();
        assert_eq!(before, with_heads, "{:?}", signal.kind);
        assert!(!run.heads.is_empty(), "{:?} heads a lineage", signal.kind);
    }
}

#[test]
fn certificates_have_no_lineage_two_expiries_of_one_kind_are_both_told() {
    let mut run = Run::default();
    let cert = |day: i64| sweep(SignalKind::CertificateExpiring { certificate: CertificateKind::KubeconfigClient, not_after: t(day) }, "1.30.4", 0);
    assert!(plan::lineages(&cert(20), &policy()).is_empty());
    let issues = |a: Vec<Action>| a.iter().filter(|a| a.kind.name() == "github_issue").count();
    assert_eq!(issues(run.step(&cert(20))), 1);
    assert_eq!(issues(run.step(&cert(10))), 1, "an earlier expiry of the same kind is not stale");
}

#[test]
fn an_unreadable_stored_head_counts_as_none() {
    assert_eq!(Head::from_stored("not json"), None);
    let h = Head { target: "patch:1.30.2".into(), version: Some("1.30.7".into()), informed: true, previous: None };
    assert_eq!(Head::from_stored(&h.to_stored()), Some(h));
}
