//! `handler sweep`'s progress on stderr (indicatif): the inventory's pages while it is read,
//! then clusters swept out of the total with an ETA, and ARM's throttling pauses as they
//! happen. `main` starts it only when stderr is a terminal; the Functions host's sweeps never
//! draw one (they run through `Sweeper::timer`, which reports nothing as it goes).
//!
//! Pages and throttling are read from the ARM client's own counters ([`ArmClient::stats`]) a
//! few times a second, so the client needs no hook; clusters come from the sweep's
//! [`SweepProgress`] calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::azure::{ArmCall, ArmClient};
use crate::domain::ClusterId;
use crate::sweeper::SweepProgress;

const INVENTORY: u8 = 0;
const SWEEPING: u8 = 1;
const PLANNING: u8 = 2;

/// How often the ARM counters are read into the bar's message.
const WATCH_EVERY: Duration = Duration::from_millis(200);

/// The bar, drawn on stderr until [`SweepBar::finish`].
pub struct SweepBar {
    bar: ProgressBar,
    phase: Arc<AtomicU8>,
    watch: tokio::task::JoinHandle<()>,
    arm: ArmClient,
}

impl SweepBar {
    /// Starts drawing on stderr (inside a Tokio runtime: a task watches `arm`'s counters).
    pub fn start(arm: ArmClient) -> SweepBar {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} {msg}").expect("a valid template"),
        );
        bar.set_message("reading the inventory");
        bar.enable_steady_tick(Duration::from_millis(120));
        let phase = Arc::new(AtomicU8::new(INVENTORY));
        let watch = tokio::spawn(watch(bar.clone(), Arc::clone(&phase), arm.clone()));
        SweepBar {
            bar,
            phase,
            watch,
            arm,
        }
    }

    /// Stops the bar and leaves one line: how many clusters were swept in how long, and how
    /// often ARM throttled.
    pub fn finish(self) {
        self.watch.abort();
        let throttled = self.arm.stats().throttled;
        let elapsed = indicatif::HumanDuration(self.bar.elapsed());
        let swept = match self.bar.length() {
            Some(total) => format!("swept {}/{total} clusters", self.bar.position()),
            None => "no cluster swept".to_string(),
        };
        self.bar
            .set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
        self.bar
            .finish_with_message(format!("{swept} in {elapsed}; {}", throttling(throttled)));
    }
}

impl SweepProgress for SweepBar {
    fn inventory_taken(&self, clusters: usize) {
        self.phase.store(SWEEPING, Ordering::Relaxed);
        self.bar.set_style(
            ProgressStyle::with_template("{spinner:.cyan} [{bar:30.cyan/blue}] {pos}/{len} clusters swept · {elapsed} · ETA {eta}{msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        self.bar.set_message("");
        self.bar.set_length(clusters as u64);
        self.bar.set_position(0);
    }

    fn cluster_swept(&self, _cluster: &ClusterId, _ok: bool) {
        self.bar.inc(1);
    }

    fn planning(&self) {
        self.phase.store(PLANNING, Ordering::Relaxed);
        self.bar.set_style(
            ProgressStyle::with_template(
                "{spinner:.cyan} {pos}/{len} clusters swept · planning{msg}",
            )
            .expect("a valid template"),
        );
    }
}

/// Reads the ARM counters into the bar's message until aborted.
async fn watch(bar: ProgressBar, phase: Arc<AtomicU8>, arm: ArmClient) {
    let mut seen_throttled = 0;
    let mut paused_for = 0u32;
    loop {
        let stats = arm.stats();
        let pages = [ArmCall::ResourceGraphQuery, ArmCall::ListClusters]
            .iter()
            .map(|c| stats.by_call.get(c.name()).copied().unwrap_or(0))
            .sum::<u64>();
        // A new 429 shows as a pause for a couple of seconds (the client waits as ARM asks).
        if stats.throttled > seen_throttled {
            seen_throttled = stats.throttled;
            paused_for = 10;
        }
        let pause = if paused_for > 0 {
            paused_for -= 1;
            format!(
                " · paused: ARM is throttling ({})",
                throttling(stats.throttled)
            )
        } else {
            String::new()
        };
        match phase.load(Ordering::Relaxed) {
            INVENTORY => bar.set_message(format!("reading the inventory: {pages} page(s){pause}")),
            _ => bar.set_message(pause),
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

fn throttling(throttled: u64) -> String {
    match throttled {
        0 => "ARM did not throttle".into(),
        1 => "ARM throttled once".into(),
        n => format!("ARM throttled {n} times"),
    }
}
