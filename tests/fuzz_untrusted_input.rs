//! Fuzz-style property tests (issue 9): untrusted payloads and policy files never panic and
//! always come out classified.
//!
//! - ingest: Microsoft's real payloads (`tests/fixtures/eventgrid/`, copied from
//!   `../shared/fixtures/real/`) and the samples, mutated — numbers at the extremes, huge
//!   versions, times at and beyond the ledger's i64-nanosecond limits, wrong types, deep nesting —
//!   alone and inside batches. Every result is `Ok` (each event `Signals`/`Unknown`/`Ignored`/
//!   validation, every signal's time storable) or an `IngestError`; every signal then plans under
//!   several policies, at several clocks, and a delivery of them runs through the real pipeline
//!   (dry-run, SQLite ledger) without failing.
//! - policy: TOML with extreme numbers in every numeric field and window, parsed (`Ok` or a
//!   list of errors), and whatever parses plans and computes its window.
//! - maintenance windows in the ARM shape (sweep input) with extreme numbers.
//!
//! The suite runs in the `test` profile, which inherits `[profile.dev]`: overflow checks are on
//! (the first test proves it), so an unchecked `+ 1` on a payload number panics here instead of
//! wrapping silently as in release. Case counts keep the file under ~20 s on a 2-core machine.

mod pipeline_support;

use std::path::Path;
use std::sync::Arc;

use aks_cadence::domain::{ClusterFacts, in_time_range};
use aks_cadence::ingest::{Ingested, ingest_value};
use aks_cadence::pipeline::{EventSink, fixed_clock};
use aks_cadence::plan::{self, PlanFacts, WindowStatus};
use aks_cadence::policy::Policy;
use aks_cadence::policy::windows::{MaintenanceSchedules, MaintenanceWindow};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

#[test]
fn overflow_checks_are_on_in_the_build_the_fuzz_tests_run_in() {
    let wrapped = std::panic::catch_unwind(|| std::hint::black_box(u64::MAX) + std::hint::black_box(1u64));
    assert!(wrapped.is_err(), "this test build wraps on overflow: the fuzz tests below would miss overflows; keep overflow-checks on in [profile.dev]/[profile.test]");
}

// ------------------------------------------------------------------ inputs

fn payloads() -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["tests/fixtures/eventgrid", "samples/events"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            match v {
                Value::Array(items) => out.extend(items),
                one => out.push(one),
            }
        }
    }
    assert!(out.len() >= 20, "the real payloads are there: {}", out.len());
    out
}

/// Values a hostile or broken sender might put anywhere.
fn extremes() -> Vec<Value> {
    let mut deep = json!("bottom");
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let mut deep_object = json!(1);
    for _ in 0..200 {
        deep_object = json!({"a": deep_object});
    }
    vec![
        json!(u64::MAX),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(-1),
        json!(0),
        json!(1e308),
        json!(-1e308),
        json!(f64::MIN_POSITIVE),
        Value::Null,
        json!(true),
        json!([]),
        json!({}),
        json!(""),
        json!(" "),
        json!("1.18446744073709551615"),
        json!("1.18446744073709551616"),
        json!("18446744073709551615.18446744073709551615.18446744073709551615"),
        json!("1.4294967295"),
        json!("4294967295.4294967295.4294967295"),
        json!("1.4294967296"),
        json!("v1.30.99999999999999999999"),
        json!("1.-1"),
        json!("0001-01-01T00:00:00Z"),
        json!("0001-01-01T00:00:00"),
        json!("9999-12-31T23:59:59.9999999Z"),
        json!("1677-09-21T00:12:43.145224191Z"),
        json!("1677-09-21T00:12:43.145224192Z"),
        json!("2262-04-11T23:47:16.854775807Z"),
        json!("2262-04-11T23:47:16.854775808Z"),
        json!("-009999-01-01T00:00:00Z"),
        json!("+10000-01-01T00:00:00Z"),
        json!("2026-02-30T25:61:61Z"),
        json!("2026-03-01T00:00:00+14:00"),
        json!("2026-03-01T00:00:00-25:00"),
        json!("not a time"),
        json!("{\"nested\": \"json in a string\"}"),
        json!("\"\\\"\\\"\""),
        json!("/subscriptions/x/resourceGroups/y/providers/Microsoft.ContainerService/managedClusters/"),
        json!("Microsoft.ContainerService.NodePoolRollingFailed"),
        json!("Microsoft.ResourceNotifications.ContainerServiceEventResources.ScheduledEventEmitted"),
        json!("Microsoft.EventGrid.SubscriptionValidationEvent"),
        json!("x".repeat(10_000)),
        json!("\u{0}\u{202e}é"),
        deep,
        deep_object,
    ]
}

/// Fields worth aiming at (most mutations land on one of these; the rest anywhere).
const POINTERS: [&str; 22] = [
    "/eventTime",
    "/time",
    "/id",
    "/eventType",
    "/type",
    "/topic",
    "/source",
    "/subject",
    "/data",
    "/specversion",
    "/data/kubernetesVersion",
    "/data/latestSupportedKubernetesVersion",
    "/data/latestStableKubernetesVersion",
    "/data/lowestMinorKubernetesVersion",
    "/data/latestPreviewKubernetesVersion",
    "/data/nodePoolName",
    "/data/error",
    "/data/resourceInfo/properties/eventDetails",
    "/data/resourceInfo/properties/eventDetails/eolDate",
    "/data/resourceInfo/properties/eventDetails/kubernetesVersion",
    "/data/resourceInfo/properties/scheduledTime",
    "/data/operationalInfo/resourceEventTime",
];

/// Every JSON pointer in `v` (capped: the deep values would list hundreds).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    if out.len() > 400 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

/// Sets `pointer` in `v` to `new`, creating the last key when its parent is an object.
fn set(v: &mut Value, pointer: &str, new: Value) {
    if let Some(slot) = v.pointer_mut(pointer) {
        *slot = new;
        return;
    }
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    if let Some(Value::Object(m)) = v.pointer_mut(parent) {
        m.insert(key.to_string(), new);
    }
}

#[derive(Debug, Clone)]
struct Mutation {
    aimed: bool,
    target: usize,
    value: usize,
    /// Wrap the value as a string holding its JSON (the Functions host does this to data).
    stringify: bool,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (prop::bool::weighted(0.7), any::<usize>(), any::<usize>(), prop::bool::weighted(0.1))
        .prop_map(|(aimed, target, value, stringify)| Mutation { aimed, target, value, stringify })
}

fn mutate(mut v: Value, mutations: &[Mutation], extremes: &[Value]) -> Value {
    for m in mutations {
        let mut new = extremes[m.value % extremes.len()].clone();
        if m.stringify {
            new = Value::String(new.to_string());
        }
        if m.aimed {
            set(&mut v, POINTERS[m.target % POINTERS.len()], new);
        } else {
            let mut all = Vec::new();
            pointers(&v, String::new(), &mut all);
            match all.get(m.target % all.len().max(1)) {
                Some(p) => set(&mut v, p, new),
                None => v = new,
            }
        }
    }
    v
}

/// The policies every signal is planned under: the built-in one, and one that sets every
/// number at its largest allowed value and turns everything to auto.
fn policies() -> Vec<Policy> {
    let widest = r#"
[defaults]
patch_within_days = 3650
minor_within_days = 3650
node_image_within_days = 3650
reminder_days_before = 3650
certificate_warn_days = [3650, 1]
include_preview = true

[defaults.upgrade]
node_image = "auto"
patch = "auto"
minor = "auto"
certificate_rotation = "auto"
auto_after_days = 3650
min_window_minutes = { node_image = 1440, patch = 1440, minor = 1440, certificate_rotation = 1440 }

[[rule]]
name = "all"

[[rule.chat]]
kind = "teams"
url_setting = "TEAMS_URL"
"#;
    let narrowest = widest.replace("= 3650", "= 1").replace("[3650, 1]", "[1]").replace("1440", "1");
    let parse = |text: &str| Policy::parse(text, "fuzz.toml").unwrap_or_else(|e| panic!("{e:?}"));
    vec![Policy::builtin(), parse(widest), parse(&narrowest)]
}

/// Our own clock: today, and the ends of the range the ledger stores.
fn clocks() -> [Timestamp; 3] {
    let (min, max) = aks_cadence::domain::time_range();
    ["2026-03-02T12:00:00Z".parse().unwrap(), min, max]
}

/// Plans every signal of `ingested` under every policy and clock: must not panic.
fn plan_all(ingested: &[Ingested], policies: &[Policy]) {
    for item in ingested {
        let _ = item.describe();
        let Ingested::Signals { signals, .. } = item else { continue };
        for signal in signals {
            assert!(in_time_range(signal.observed_at), "a signal's time is storable: {}", signal.observed_at);
            for policy in policies {
                for now in clocks() {
                    let (at, _) = plan::observed_at(signal, now);
                    let mut facts = PlanFacts { window: WindowStatus::Open { until: now }, ..PlanFacts::default() };
                    for c in plan::concerns(signal, policy) {
                        facts.first_seen.insert(c.key(), at);
                    }
                    facts.offered_in_region = Some(vec!["1.4294967295.4294967295".into(), "1.30.4".into()]);
                    for action in plan::plan(signal, policy, &facts, now) {
                        let text: serde_json::Value = serde_json::from_str(&action.dry_run_json()).expect("the dry-run text is JSON");
                        assert_eq!(text, action.dry_run_line());
                    }
                }
            }
        }
    }
}

fn classified(result: &Result<Vec<Ingested>, aks_cadence::ingest::IngestError>) {
    if let Ok(items) = result {
        for item in items {
            if let Ingested::Ignored { reason, .. } = item {
                assert!(!reason.trim().is_empty(), "an ignored event says why");
            }
        }
    }
}

// ------------------------------------------------------------------ ingest

#[test]
fn mutated_real_payloads_ingest_and_plan_without_panicking() {
    let (base, extremes, policies) = (payloads(), extremes(), policies());
    let mut runner = TestRunner::new(Config { cases: 2500, failure_persistence: None, ..Config::default() });
    let strategy = (any::<usize>(), prop::collection::vec(mutation(), 1..4), prop::bool::weighted(0.25));
    runner
        .run(&strategy, |(pick, mutations, batch)| {
            let event = mutate(base[pick % base.len()].clone(), &mutations, &extremes);
            let input = if batch { json!([base[(pick + 1) % base.len()], event, base[(pick + 2) % base.len()]]) } else { event };
            let result = ingest_value(&input);
            classified(&result);
            if let Ok(items) = &result {
                plan_all(items, &policies);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn every_extreme_value_in_every_named_field_of_every_real_payload_ingests_and_plans() {
    // The exhaustive corner of the random test above: each fixture × each field events carry
    // numbers, versions and times in × each extreme value, under the built-in policy today.
    let (base, extremes) = (payloads(), extremes());
    let policy = [Policy::builtin()];
    let now: Timestamp = "2026-03-02T12:00:00Z".parse().unwrap();
    let mut cases = 0;
    for event in &base {
        for pointer in POINTERS {
            for value in &extremes {
                let mut v = event.clone();
                set(&mut v, pointer, value.clone());
                let result = ingest_value(&v);
                classified(&result);
                for item in result.iter().flatten() {
                    let Ingested::Signals { signals, .. } = item else { continue };
                    for signal in signals {
                        assert!(in_time_range(signal.observed_at), "{pointer} = {value}: {}", signal.observed_at);
                        let mut facts = PlanFacts::default();
                        for c in plan::concerns(signal, &policy[0]) {
                            facts.first_seen.insert(c.key(), plan::observed_at(signal, now).0);
                        }
                        let _ = plan::plan(signal, &policy[0], &facts, now);
                    }
                }
                cases += 1;
            }
        }
    }
    assert!(cases > 20_000, "{cases}");
}

#[test]
fn a_delivery_with_mutated_events_runs_through_the_pipeline_without_failing() {
    // The real orchestrator on a real SQLite ledger (dry-run records first sightings, which is
    // where a time the ledger cannot store used to fail the whole delivery).
    let (base, extremes) = (payloads(), extremes());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = pipeline_support::TempLedger::new();
    let ledger = store.open();
    let pipeline = pipeline_support::parts(Arc::new(Policy::builtin()), &ledger, vec![], true, fixed_clock("2026-03-02T12:00:00Z".parse().unwrap())).pipeline();
    let mut runner = TestRunner::new(Config { cases: 250, failure_persistence: None, ..Config::default() });
    let strategy = (any::<usize>(), prop::collection::vec(mutation(), 1..3));
    runner
        .run(&strategy, |(pick, mutations)| {
            let event = mutate(base[pick % base.len()].clone(), &mutations, &extremes);
            let batch = json!([base[(pick + 3) % base.len()], event]);
            if let Ok(items) = ingest_value(&batch) {
                let outcome = rt.block_on(pipeline.handle(items));
                prop_assert!(outcome.is_ok(), "{:?}", outcome.err());
            }
            Ok(())
        })
        .unwrap();
}

// ------------------------------------------------------------------ policy and windows

fn number() -> impl Strategy<Value = String> {
    let fixed: Vec<String> = [
        "0", "1", "-1", "3650", "3651", "1440", "4294967295", "4294967296", "9223372036854775807", "-9223372036854775808",
        "18446744073709551615", "1e308", "inf", "nan", "0x7fffffffffffffff", "\"12\"", "[]", "true",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    prop_oneof![prop::sample::select(fixed), any::<i64>().prop_map(|n| n.to_string()), (0i64..100).prop_map(|n| n.to_string())]
}

fn policy_text() -> impl Strategy<Value = String> {
    prop::collection::vec(number(), 20).prop_map(|n| {
        format!(
            r#"
[defaults]
patch_within_days = {}
minor_within_days = {}
node_image_within_days = {}
reminder_days_before = {}
certificate_warn_days = [{}, {}]

[defaults.upgrade]
node_image = "auto"
patch = "auto"
minor = "auto"
certificate_rotation = "auto"
auto_after_days = {}
min_window_minutes = {{ node_image = {}, patch = {}, minor = {}, certificate_rotation = {} }}

[[rule]]
name = "r"
clusters = ["aks-*"]
patch_within_days = {}

[rule.upgrade]
patch = "auto"
auto_after_days = {}

[rule.upgrade.window]
schedule = {{ absoluteMonthly = {{ intervalMonths = {}, dayOfMonth = {} }} }}
durationHours = {}
utcOffset = "+{:02}:00"
startDate = "2026-01-{:02}"
startTime = "{:02}:00"
"#,
            n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8], n[9], n[10], n[11], n[12], n[13], n[14], n[15],
            n[16].trim_start_matches('-').chars().take(2).collect::<String>().parse::<u32>().unwrap_or(1),
            n[17].trim_start_matches('-').chars().take(2).collect::<String>().parse::<u32>().unwrap_or(1),
            n[18].trim_start_matches('-').chars().take(2).collect::<String>().parse::<u32>().unwrap_or(0),
        )
    })
}

#[test]
fn policies_with_extreme_numbers_parse_or_are_refused_and_plan_without_panicking() {
    let base = payloads();
    let signals: Vec<Ingested> = base.iter().filter_map(|v| ingest_value(v).ok()).flatten().collect();
    let mut runner = TestRunner::new(Config { cases: 400, failure_persistence: None, ..Config::default() });
    runner
        .run(&policy_text(), |text| {
            match Policy::parse(&text, "fuzz.toml") {
                Err(errors) => prop_assert!(!errors.is_empty() && errors.iter().all(|e| !e.to_string().is_empty())),
                Ok(policy) => {
                    plan_all(&signals, std::slice::from_ref(&policy));
                    let cluster = aks_cadence::domain::ClusterId::from_parts("s", "rg", "aks-x");
                    // A window that loaded was validated at load: it answers at any clock.
                    if let Some(w) = policy.window_for(&cluster, &ClusterFacts::default()) {
                        for now in clocks() {
                            let _ = w.status_at(now);
                            let _ = w.next_open_after(now);
                        }
                    }
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn arm_maintenance_windows_with_extreme_numbers_are_read_or_refused_without_panicking() {
    let field = prop_oneof![
        (-5i64..40).prop_map(Value::from),
        prop::sample::select(vec![
            json!(u64::MAX),
            json!(i64::MIN),
            json!(255),
            json!(256),
            json!(1e300),
            json!("First"),
            json!("Last"),
            json!("Sunday"),
            json!("x"),
            Value::Null,
        ]),
    ];
    let time = prop::sample::select(vec![
        json!("00:00"),
        json!("23:59"),
        json!("24:00"),
        json!("99:99"),
        json!("+14:00"),
        json!("-14:00"),
        json!("+99:59"),
        json!("0001-01-01"),
        json!("9999-12-31"),
        json!("2026-01-06"),
        json!("-009999-01-01"),
    ]);
    let strategy = (prop::collection::vec(field, 6), prop::collection::vec(time, 5), 0usize..4);
    let mut runner = TestRunner::new(Config { cases: 1000, failure_persistence: None, ..Config::default() });
    runner
        .run(&strategy, |(f, t, kind)| {
            let schedule = match kind {
                0 => json!({"daily": {"intervalDays": f[0]}}),
                1 => json!({"weekly": {"intervalWeeks": f[0], "dayOfWeek": f[1]}}),
                2 => json!({"absoluteMonthly": {"intervalMonths": f[0], "dayOfMonth": f[1]}}),
                _ => json!({"relativeMonthly": {"intervalMonths": f[0], "weekIndex": f[1], "dayOfWeek": f[2]}}),
            };
            let window = json!({
                "schedule": schedule,
                "durationHours": f[3],
                "startTime": t[0],
                "utcOffset": t[1],
                "startDate": t[2],
                "notAllowedDates": [{"start": t[3], "end": t[4]}],
            });
            if let Ok(w) = MaintenanceWindow::from_arm_json(&window) {
                for now in clocks() {
                    let _ = w.status_at(now);
                    let _ = w.describe();
                }
            }
            let list = json!({"value": [{"name": "aksManagedAutoUpgradeSchedule", "properties": {"maintenanceWindow": window}}]});
            let (schedules, _) = MaintenanceSchedules::from_arm_list(&list);
            for now in clocks() {
                let _ = schedules.status_for(&aks_cadence::action::ActionKind::RotateCertificates, now);
            }
            Ok(())
        })
        .unwrap();
}
