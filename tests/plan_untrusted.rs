//! The planner on numbers it cannot trust (issue 9): event times outside the trust window fall
//! back to the receive time for first-seen dates; versions and times at the extremes plan
//! without overflow; Started and Failed of one roll with the same time keep two keys.

use std::collections::BTreeMap;

use aks_cadence::action::{Action, Stage};
use aks_cadence::domain::{CertificateKind, ClusterFacts, ClusterId, OfferedVersion, Origin, RollingPhase, Signal, SignalKind};
use aks_cadence::plan::{self, EVENT_TIME_TRUSTED_AFTER, EVENT_TIME_TRUSTED_BEFORE, PlanFacts};
use aks_cadence::policy::Policy;
use jiff::{SignedDuration, Timestamp};

fn now() -> Timestamp {
    "2026-11-29T09:00:00Z".parse().unwrap()
}

fn cluster() -> ClusterId {
    ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod-weu", "aks-prod-weu")
}

fn event_at(kind: SignalKind, at: Timestamp, id: &str) -> Signal {
    Signal {
        cluster: cluster(),
        facts: ClusterFacts::default(),
        kind,
        observed_at: at,
        origin: Origin::EventGrid { event_id: id.into(), event_type: "Microsoft.ContainerService.NodePoolRollingStarted".into() },
    }
}

fn roll(phase: RollingPhase) -> SignalKind {
    SignalKind::NodePoolRolling { pool: "nodepool1".into(), phase, error: None }
}

/// Plans `signal` the way the orchestrator does: each concern first seen at the signal's
/// trusted observation time.
fn run(signal: &Signal, policy: &Policy, now: Timestamp) -> Vec<Action> {
    let (at, _) = plan::observed_at(signal, now);
    let first_seen: BTreeMap<String, Timestamp> = plan::concerns(signal, policy).iter().map(|c| (c.key(), at)).collect();
    plan::plan(signal, policy, &PlanFacts { first_seen, ..PlanFacts::default() }, now)
}

#[test]
fn an_event_time_outside_the_trust_window_falls_back_to_the_receive_time_with_a_note() {
    let s = |d: i64| SignedDuration::from_secs(d);
    let hours = |h: i64| SignedDuration::from_hours(h);
    let (min, max) = aks_cadence::domain::time_range();
    // (observed, origin is an event, expected first-seen time, a note is logged)
    let table: Vec<(&str, Timestamp, bool, Timestamp, bool)> = vec![
        ("an hour old", now() - hours(1), true, now() - hours(1), false),
        ("a day old (Event Grid's retry horizon)", now() - hours(24), true, now() - hours(24), false),
        ("exactly at the horizon", now() - EVENT_TIME_TRUSTED_BEFORE, true, now() - EVENT_TIME_TRUSTED_BEFORE, false),
        ("a second older than the horizon", now() - EVENT_TIME_TRUSTED_BEFORE - s(1), true, now(), true),
        ("three years old", now() - hours(24 * 365 * 3), true, now(), true),
        ("the oldest storable time", min, true, now(), true),
        ("now", now(), true, now(), false),
        ("clock skew: a minute ahead", now() + s(60), true, now(), false),
        ("exactly the skew allowed", now() + EVENT_TIME_TRUSTED_AFTER, true, now(), false),
        ("a second beyond the skew", now() + EVENT_TIME_TRUSTED_AFTER + s(1), true, now(), true),
        ("the latest storable time", max, true, now(), true),
        ("a sweep's old observation is our own clock", now() - hours(24 * 30), false, now() - hours(24 * 30), false),
        ("a sweep ahead of now is capped at now", now() + hours(1), false, now(), false),
    ];
    for (name, observed, from_event, want, noted) in table {
        let mut signal = event_at(roll(RollingPhase::Started), observed, "e-1");
        if !from_event {
            signal.origin = Origin::Sweep { run_id: "sweep-1".into() };
        }
        let (at, note) = plan::observed_at(&signal, now());
        assert_eq!(at, want, "{name}");
        assert_eq!(note.is_some(), noted, "{name}: {note:?}");
        if let Some(note) = note {
            assert!(note.contains("e-1") && note.contains("not trusted") && note.contains(&now().to_string()), "{name}: {note}");
        }
    }
}

#[test]
fn a_far_future_event_is_not_news_about_a_known_concern() {
    // Without the trust window a first-seen of `now` is "before" a time in 2200, and the very
    // first fact would be planned as an update.
    let policy = Policy::builtin();
    let signal = event_at(roll(RollingPhase::Started), "2200-01-01T00:00:00Z".parse().unwrap(), "e-future");
    let actions = run(&signal, &policy, now());
    assert!(!actions.is_empty());
    assert!(actions.iter().all(|a| a.stage == Stage::Notice), "{:?}", actions.iter().map(|a| a.key.to_string()).collect::<Vec<_>>());
    assert!(actions.iter().all(|a| a.first_seen == Some(now())));
}

#[test]
fn started_and_failed_with_the_same_time_keep_two_keys_and_true_duplicates_one() {
    let policy = Policy::builtin();
    let at = now() - SignedDuration::from_hours(1);
    let started = run(&event_at(roll(RollingPhase::Started), at, "s"), &policy, now());
    let failed = run(&event_at(roll(RollingPhase::Failed), at, "f"), &policy, now());
    let failed_again = run(&event_at(roll(RollingPhase::Failed), at, "f-dup"), &policy, now());
    let succeeded = run(&event_at(roll(RollingPhase::Succeeded), at, "ok"), &policy, now());
    let key = |a: &[Action], stage: Stage| a.iter().find(|x| x.stage == stage).map(|x| x.key.to_string()).unwrap();
    let (s, f) = (key(&started, Stage::Notice), key(&failed, Stage::Notice));
    assert_ne!(s, f, "the failure must not share the start's key");
    // The started notice keeps the key existing ledgers hold.
    assert!(s.ends_with("#node-pool-roll#nodepool1/log/notice"), "{s}");
    assert!(f.ends_with("#node-pool-roll#nodepool1/log~failed/notice"), "{f}");
    assert_eq!(f, key(&failed_again, Stage::Notice), "same type, pool and time: one key");
    assert!(key(&succeeded, Stage::Notice).ends_with("/log~succeeded/notice"));
    assert!(succeeded.iter().any(|a| a.stage == Stage::Resolve));
}

#[test]
fn versions_and_times_at_the_extremes_plan_without_overflow() {
    let policy = Policy::builtin();
    let max = aks_cadence::policy::versions::MAX_VERSION_NUMBER;
    let huge = "1.18446744073709551615".to_string();
    let top = format!("{max}.{max}.{max}");
    let kinds = vec![
        SignalKind::SupportEnded { kubernetes_version: huge.clone() },
        SignalKind::SupportEnded { kubernetes_version: top.clone() },
        SignalKind::SupportEnding { kubernetes_version: top.clone(), eol_date: Some(Timestamp::MIN), support_type: None, eol_source: None },
        SignalKind::SupportEnding { kubernetes_version: huge.clone(), eol_date: Some(Timestamp::MAX), support_type: None, eol_source: None },
        SignalKind::NewKubernetesVersion { latest_supported: Some(top.clone()), latest_stable: Some(huge.clone()), lowest_minor: None, latest_preview: None },
        SignalKind::UpgradesOffered { current: top.clone(), offered: vec![OfferedVersion { version: format!("{}.0.0", max), is_preview: false }] },
        SignalKind::UpgradesOffered { current: format!("1.{max}"), offered: vec![OfferedVersion { version: format!("2.{max}"), is_preview: false }] },
        SignalKind::CertificateExpiring { certificate: CertificateKind::ApiServer, not_after: Timestamp::MIN },
        SignalKind::CertificateExpiring { certificate: CertificateKind::ApiServer, not_after: Timestamp::MAX },
    ];
    for kind in kinds {
        for (observed, clock) in [(now(), now()), (Timestamp::MIN, Timestamp::MAX), (Timestamp::MAX, Timestamp::MIN)] {
            let mut signal = event_at(kind.clone(), observed, "x");
            signal.facts.kubernetes_version = Some(top.clone());
            let _ = run(&signal, &policy, clock);
            signal.origin = Origin::Sweep { run_id: "s".into() };
            let _ = run(&signal, &policy, clock);
        }
    }
    let ended = run(&event_at(SignalKind::SupportEnded { kubernetes_version: huge }, now(), "x"), &policy, now());
    assert!(ended.iter().all(|a| !a.summary.contains("upgrade to 1.0")), "{:?}", ended.iter().map(|a| &a.summary).collect::<Vec<_>>());
}

#[test]
fn a_redelivery_of_an_event_with_an_untrusted_time_plans_the_same_keys_later() {
    // The first delivery records `now` as first seen; a redelivery (or a concurrent duplicate)
    // a moment later must not take that sighting for an earlier fact and tell an update.
    let policy = Policy::builtin();
    let kinds = [
        roll(RollingPhase::Failed),
        SignalKind::SupportEnding { kubernetes_version: "1.24.10".into(), eol_date: None, support_type: None, eol_source: None },
    ];
    for kind in kinds {
        for observed in ["2023-03-29T18:00:00Z", "2200-01-01T00:00:00Z"] {
            let signal = event_at(kind.clone(), observed.parse().unwrap(), "e-again");
            let first = now();
            let recorded = plan::observed_at(&signal, first).0;
            let at = |clock: Timestamp| {
                let first_seen = plan::concerns(&signal, &policy).iter().map(|c| (c.key(), recorded)).collect();
                let keys: Vec<String> =
                    plan::plan(&signal, &policy, &PlanFacts { first_seen, ..PlanFacts::default() }, clock).iter().map(|a| a.key.to_string()).collect();
                keys
            };
            let again = at(first + SignedDuration::from_secs(1));
            assert_eq!(at(first), again, "{observed}");
            assert!(again.iter().all(|k| !k.ends_with("/update")), "{observed}: {again:?}");
        }
    }
}
