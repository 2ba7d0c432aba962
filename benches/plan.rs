//! Planner speed: how long planning one signal takes, against a baseline measured in the same
//! run (cloning the signal, which every planned action does once). Prints figures; asserts
//! nothing (house rule: speed targets live in benchmarks, not timed tests).
//!
//!     cargo bench --bench plan

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use aks_cadence::domain::{ClusterFacts, ClusterId, OfferedVersion, Origin, Signal, SignalKind};
use aks_cadence::plan::{self, PlanFacts, WindowStatus};
use aks_cadence::policy::Policy;
use jiff::Timestamp;

fn time<F: FnMut()>(mut f: F) -> Duration {
    // Warm up, then take the best of five rounds of 20,000 calls.
    for _ in 0..2_000 {
        f();
    }
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..20_000 {
            f();
        }
        best = best.min(start.elapsed() / 20_000);
    }
    best
}

fn main() {
    let example = Policy::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("cadence.example.toml"))
        .expect("example policy is valid")
        .expect("example policy exists");
    let builtin = Policy::builtin();
    let now: Timestamp = "2026-11-29T09:00:00Z".parse().unwrap();
    let signal = Signal {
        cluster: ClusterId::from_parts("6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "rg-platform-prod", "aks-prod-weu"),
        facts: ClusterFacts {
            kubernetes_version: Some("1.30.4".into()),
            provisioning_state: Some("Succeeded".into()),
            power_state: Some("Running".into()),
            ..ClusterFacts::default()
        },
        kind: SignalKind::UpgradesOffered {
            current: "1.30.4".into(),
            offered: ["1.30.5", "1.30.7", "1.31.1", "1.31.2", "1.32.0"]
                .iter()
                .map(|v| OfferedVersion { version: (*v).into(), is_preview: false })
                .collect(),
        },
        observed_at: now,
        origin: Origin::Sweep { run_id: "bench".into() },
    };
    let facts = PlanFacts {
        first_seen: plan::concerns(&signal, &example).into_iter().map(|c| (c.key(), now)).collect(),
        window: WindowStatus::Closed { next: Some(now) },
        ..PlanFacts::default()
    };

    let baseline = time(|| {
        black_box(black_box(&signal).clone());
    });
    let concerns = time(|| {
        black_box(plan::concerns(black_box(&signal), &example));
    });
    let planned_builtin = plan::plan(&signal, &builtin, &facts, now).len();
    let with_builtin = time(|| {
        black_box(plan::plan(black_box(&signal), &builtin, &facts, now));
    });
    let planned_example = plan::plan(&signal, &example, &facts, now).len();
    let with_example = time(|| {
        black_box(plan::plan(black_box(&signal), &example, &facts, now));
    });

    let ratio = |d: Duration| d.as_secs_f64() / baseline.as_secs_f64();
    println!("planner benchmark (one UpgradesOffered signal: a patch and a minor upgrade)");
    println!("  baseline: clone the signal            {:>9.2?}", baseline);
    println!("  concerns(), example policy            {:>9.2?}  ({:.1}x baseline)", concerns, ratio(concerns));
    println!(
        "  plan(), built-in policy, {planned_builtin:>2} actions   {:>9.2?}  ({:.1}x baseline, {:.2?} per action)",
        with_builtin,
        ratio(with_builtin),
        with_builtin / planned_builtin as u32
    );
    println!(
        "  plan(), example policy,  {planned_example:>2} actions   {:>9.2?}  ({:.1}x baseline, {:.2?} per action)",
        with_example,
        ratio(with_example),
        with_example / planned_example as u32
    );
}
