//! The `handler` binary: the Azure Functions custom handler (`handler` / `handler serve`), and
//! the local tools `handler sweep`, `handler replay`, `handler digest`, `handler status` and
//! `handler config check`.
//!
//! Exit codes: 0 success, 1 failure (bad input, invalid policy, a run that failed), 2 a
//! setting is wrong (the message names it and the fix) or the command line is.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use jiff::Timestamp;

use aks_cadence::action::Action;
use aks_cadence::azure::ArmClient;
use aks_cadence::baseline;
use aks_cadence::execute::DigestWindow;
use aks_cadence::host::{self, AppState, SweepRoutes};
use aks_cadence::ingest;
use aks_cadence::output::plan::{self as text_plan, PlanView};
use aks_cadence::output::progress::SweepBar;
use aks_cadence::output::{Format, Style};
use aks_cadence::pipeline::{self, Clock, EventSink, Pipeline};
use aks_cadence::sweeper::{NoProgress, SweepOutput};
use aks_cadence::sweep::ClusterSnapshot;
use aks_cadence::policy::Policy;
use aks_cadence::settings::{Settings, SettingsError, StateLocation};
use aks_cadence::sweep::inventory::InventorySource;
use aks_cadence::wiring::{self, Notifications, Parts, WiringError};

/// mimalloc: on the event path malloc and free were ~14% of the CPU with glibc's allocator
/// (docs/host.md, *The allocator*). Its arenas use no transparent huge pages (Cargo feature
/// `no_thp`); `handler sweep` also returns freed memory at once ([`release_freed_memory`]).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keeps AKS clusters on a healthy upgrade cadence (Azure Functions custom handler).
#[derive(Debug, Parser)]
#[command(name = "handler", version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no subcommand, `handler` serves (as the Functions host starts it).
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the custom-handler protocol (what the Functions host runs).
    Serve(ServeArgs),
    /// Sweep the fleet in-process (inventory, every cluster, one plan) and print one JSON line
    /// per planned action, held ones included with the gate that holds them.
    Sweep(SweepArgs),
    /// Feed Event Grid / CloudEvents JSON through the full pipeline and print one JSON line per
    /// planned action. An input with a problem (unreadable, an event that cannot be used) is
    /// reported and the others still replay; the exit code is then 1.
    Replay(ReplayArgs),
    /// Show the email and chat notifications queued for the next digest (one JSON line each);
    /// `--send` sends them now as one digest instead of waiting for the `digest` timer.
    Digest(DigestArgs),
    /// Show the fleet as the last sweep left it (the fleet dashboard), from the ledger alone:
    /// no call to Azure or GitHub.
    Status(StatusArgs),
    /// Policy file tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Port on 127.0.0.1 (local use). Under the host, FUNCTIONS_CUSTOMHANDLER_PORT wins.
    /// Default 8080.
    #[arg(long)]
    port: Option<u16>,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// Only plan, whatever CADENCE_DRY_RUN says.
    #[arg(long)]
    dry_run: bool,
    /// Plan as if it were this instant (RFC 3339), for reproducible output. Default: now.
    #[arg(long, value_name = "TIMESTAMP")]
    now: Option<Timestamp>,
    /// Output: `text` (the plan by cluster, for a person) or `json` (one line per action).
    /// Default: text when stdout is a terminal, JSON lines when it is a pipe or a file.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// JSON files (one event, an Event Grid array, or a CloudEvents batch); `-` reads stdin.
    #[arg(required = true, value_name = "FILE|-")]
    files: Vec<String>,
}

#[derive(Debug, Args)]
struct SweepArgs {
    /// Only plan, whatever CADENCE_DRY_RUN says.
    #[arg(long)]
    dry_run: bool,
    /// Sweep and plan as if it were this instant (RFC 3339): windows, deadlines and the
    /// signals' observation time. Default: now.
    #[arg(long, value_name = "TIMESTAMP")]
    now: Option<Timestamp>,
    /// Output: `text` (the plan by cluster, for a person) or `json` (one line per action).
    /// Default: text when stdout is a terminal, JSON lines when it is a pipe or a file.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
}

#[derive(Debug, Args)]
struct DigestArgs {
    /// Send the queued notifications now (needs CADENCE_DRY_RUN=false and their channels' settings).
    #[arg(long)]
    send: bool,
    /// Output: `text` (by cluster, for a person) or `json` (one line per notification).
    /// Default: text when stdout is a terminal, JSON lines when it is a pipe or a file.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Output: `text` (by ring and cluster), `json` (one document) or `markdown` (the dashboard
    /// issue's text). Default: text when stdout is a terminal, JSON when it is a pipe or a file.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<aks_cadence::output::status::StatusFormat>,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a policy file and print every problem with its line and fix.
    Check {
        /// The policy file (default: CADENCE_CONFIG, else ./cadence.toml).
        path: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => return settings_error(&e),
    };
    let result = match cli.command {
        None => run_async(serve(settings, cli.serve)),
        Some(Command::Serve(args)) => run_async(serve(settings, args)),
        Some(Command::Sweep(args)) => run_async(sweep(settings, args)),
        Some(Command::Replay(args)) => run_async(replay(settings, args)),
        Some(Command::Digest(args)) => run_async(digest(settings, args)),
        Some(Command::Status(args)) => run_async(status(settings, args)),
        Some(Command::Config { command: ConfigCommand::Check { path } }) => {
            init_logging(&settings, Output::Stderr);
            config_check(&settings, path)
        }
    };
    match result {
        Ok(code) => code,
        Err(Failure::Settings(e)) => settings_error(&e),
        Err(Failure::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Why a command stopped: a setting (exit 2) or anything else (exit 1).
enum Failure {
    Settings(SettingsError),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Self::Other(e)
    }
}
impl From<SettingsError> for Failure {
    fn from(e: SettingsError) -> Self {
        Self::Settings(e)
    }
}
impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::Other(e.into())
    }
}

fn settings_error(e: &SettingsError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

fn run_async(f: impl Future<Output = Result<ExitCode, Failure>>) -> Result<ExitCode, Failure> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?.block_on(f)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Output {
    Stdout,
    Stderr,
}

/// Logs go to stdout when serving (the Functions host collects them) and to stderr for the
/// tools (whose stdout is data). JSON under the host, text otherwise (`CADENCE_LOG_FORMAT`).
/// `RUST_LOG` overrides the level. Text has colours only on a terminal, and never with
/// `NO_COLOR` set (<https://no-color.org>): a file, a pipe or the host's log collector gets plain text.
///
/// Serving, lines are formatted on the request's thread and written by a writer thread in
/// batches (`host::log_writer`): one `write` per few milliseconds under load instead of one per
/// line, and no line is dropped. Keep the returned guard until the process ends: dropping it
/// writes out what is still queued.
fn init_logging(settings: &Settings, out: Output) -> Option<host::log_writer::LogGuard> {
    use std::io::IsTerminal;
    // JSON lines as tracing-subscriber's JSON format writes them, written more cheaply.
    use host::log_json::JsonLines;
    use tracing_subscriber::fmt::format::JsonFields;
    let default = if out == Output::Stdout { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let terminal = match out {
        Output::Stdout => std::io::stdout().is_terminal(),
        Output::Stderr => std::io::stderr().is_terminal(),
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(terminal && !no_color);
    if out == Output::Stderr {
        let _ = match settings.log_json {
            true => builder.fmt_fields(JsonFields::new()).event_format(JsonLines).with_writer(std::io::stderr).try_init(),
            false => builder.with_writer(std::io::stderr).try_init(),
        };
        return None;
    }
    let Ok((writer, guard)) = host::log_writer::batched(std::io::stdout()) else {
        // No thread for the writer: every line is written as it is logged.
        let _ = match settings.log_json {
            true => builder.fmt_fields(JsonFields::new()).event_format(JsonLines).with_writer(std::io::stdout).try_init(),
            false => builder.with_writer(std::io::stdout).try_init(),
        };
        return None;
    };
    let _ = match settings.log_json {
        true => builder.fmt_fields(JsonFields::new()).event_format(JsonLines).with_writer(writer).try_init(),
        false => builder.with_writer(writer).try_init(),
    };
    Some(guard)
}

/// A policy's problems are printed (each with its line and fix) before the run stops on them.
impl From<WiringError> for Failure {
    fn from(e: WiringError) -> Self {
        match e {
            WiringError::Settings(e) => Self::Settings(e),
            WiringError::Policy { ref problems, .. } => {
                for p in problems {
                    eprintln!("{p}");
                }
                Self::Other(e.into())
            }
            other => Self::Other(other.into()),
        }
    }
}

fn build_pipeline(settings: &Settings, dry_run: bool, clock: Clock, arm: Option<&ArmClient>, notifications: Notifications) -> Result<Arc<Pipeline>, Failure> {
    Ok(Arc::new(Parts::from_settings(settings, dry_run, clock, arm, notifications)?.pipeline()))
}

async fn serve(settings: Settings, args: ServeArgs) -> Result<ExitCode, Failure> {
    // Held to the end: dropping it writes out the log lines still queued.
    let _log_writer = init_logging(&settings, Output::Stdout);
    let port = match (settings.port, args.port) {
        (Some(host), Some(flag)) if host != flag => {
            tracing::warn!(host_port = host, flag_port = flag, "--port ignored: FUNCTIONS_CUSTOMHANDLER_PORT is set by the Functions host");
            host
        }
        (Some(host), _) => host,
        (None, Some(flag)) => flag,
        (None, None) => 8080,
    };
    // The host's readiness never waits for Azure: building the ARM client does no IO, and
    // when it cannot be built the event routes still serve and the sweep routes say why.
    let arm = wiring::arm_client(&settings);
    if let Err(e) = &arm {
        tracing::warn!(setting = e.name, error = %e, "ARM is not usable: sweeps and upgrades are off");
    }
    // The SQLite file is opened on a thread of its own while the host is answered (creating it
    // costs fsyncs); the first deliveries wait for it, and a file that cannot be opened still
    // stops the host with the same error (below).
    let (parts, opening) = Parts::from_settings_for_host(&settings, settings.dry_run, pipeline::system_clock(), arm.as_ref().ok(), Notifications::Digest)?;
    let pipeline = Arc::new(parts.pipeline());
    let sweep = match arm {
        Ok(arm) => SweepRoutes::Ready(Arc::new(wiring::sweeper(&settings, arm, Arc::clone(&pipeline)))),
        Err(e) => SweepRoutes::NotConfigured { reason: e.to_string() },
    };
    let signal = shutdown_signal().context("installing the SIGTERM handler")?;
    let (open_failed, failed_open) = tokio::sync::oneshot::channel::<WiringError>();
    tokio::spawn(async move {
        if let Err(e) = opening.finished().await {
            tracing::error!(error = %e, "the ledger cannot be opened; stopping");
            let _ = open_failed.send(e);
        }
    });
    let stopped_by_ledger = Arc::new(std::sync::Mutex::new(None));
    let shutdown = {
        let stopped_by_ledger = Arc::clone(&stopped_by_ledger);
        async move {
            tokio::select! {
                () = signal => {}
                Ok(e) = failed_open => *stopped_by_ledger.lock().expect("lock") = Some(e),
            }
        }
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.with_context(|| format!("binding 127.0.0.1:{port}"))?;
    let port = listener.local_addr().context("reading the bound address")?.port();
    // Load the trust roots off the request path once the host's readiness probe has been
    // answered (or after a second without one), so they do not compete with it for the CPU;
    // without any, every HTTPS call would fail, so say why now rather than at the first call.
    tokio::spawn(async {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), host::first_probe()).await;
        tokio::task::spawn_blocking(|| {
            if let Err(e) = aks_cadence::azure::tls::trust_roots() {
                tracing::error!(setting = e.name, error = %e, "no HTTPS call can succeed until this is fixed");
            }
        });
    });
    tracing::info!(port, dry_run = settings.dry_run, "aks-cadence handler listening on 127.0.0.1");
    let gate = host::EventGate::from_settings(&settings);
    if gate.topics.allows_everything() {
        tracing::warn!(
            setting = "CADENCE_EVENTGRID_ALLOWED_TOPICS",
            "events from every Event Grid topic are processed ({}); set CADENCE_EVENTGRID_ALLOWED_TOPICS (or CADENCE_SUBSCRIPTIONS) to the subscriptions whose clusters this installation looks after",
            gate.topics
        );
    } else {
        tracing::info!(allowed = %gate.topics, "Event Grid topic allow-list");
    }
    if !gate.webhook {
        tracing::info!(setting = "CADENCE_EVENTGRID_WEBHOOK", "the /api/eventgrid webhook is off: it answers 404");
    }
    let state = AppState { sink: pipeline, max_body_bytes: settings.max_body_bytes, sweep, gate };
    host::serve(listener, state, shutdown).await.context("serving")?;
    if let Some(e) = stopped_by_ledger.lock().expect("lock").take() {
        return Err(e.into());
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGTERM (the host stopping us) or Ctrl-C. The handlers are installed here, before
/// the port is announced, so a signal that arrives right after start-up is never fatal.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutdown requested; finishing in-flight requests");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
    })
}

async fn replay(settings: Settings, args: ReplayArgs) -> Result<ExitCode, Failure> {
    init_logging(&settings, Output::Stderr);
    let dry_run = args.dry_run || settings.dry_run;
    let clock = match args.now {
        Some(at) => pipeline::fixed_clock(at),
        None => pipeline::system_clock(),
    };
    let now = args.now.unwrap_or_else(Timestamp::now);
    let format = Format::detect(args.format);
    let pipeline = build_pipeline(&settings, dry_run, clock, None, Notifications::WithTheRun)?;
    let mut stdout = std::io::stdout().lock();
    let (mut events, mut planned) = (0usize, 0usize);
    // Text groups by cluster, so it is drawn once every input is planned.
    let mut plan: Vec<Action> = Vec::new();
    // Inputs with a problem: unreadable, not events, an event that cannot be used, a failed
    // run. Each is reported and the next input still replays (one input is one delivery, as
    // under the host); the exit code is 1 at the end if there was any.
    let mut troubled = 0usize;
    for file in &args.files {
        let ingested = match read_events(file) {
            Ok(ingested) => ingested,
            Err(e) => {
                eprintln!("error: {e:#}");
                troubled += 1;
                continue;
            }
        };
        events += ingested.len();
        // One file is one delivery: its events are planned (and executed) together.
        let report = match pipeline.handle(ingested).await {
            Ok(report) => report,
            Err(e) => {
                eprintln!("error: {file}: the run failed: {e}");
                troubled += 1;
                continue;
            }
        };
        for line in &report.log {
            tracing::info!(file = %file, "{line}");
        }
        for line in &report.ignored {
            eprintln!("error: {file}: {line}");
        }
        troubled += usize::from(!report.ignored.is_empty());
        planned += report.planned.len();
        if format == Format::Text {
            plan.extend(report.planned);
        } else if !print_lines(&mut stdout, report.planned.iter().map(Action::dry_run_line))? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if format == Format::Text {
        let view = PlanView { actions: &plan, baseline: &[], now, swept: None, errors: troubled };
        if !print_text(&mut stdout, &text_plan::render(&view, Style::detect()))? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let _ = stdout.flush();
    eprintln!(
        "replayed {events} event(s) from {} input(s): {planned} action(s) planned{}{}",
        args.files.len(),
        if dry_run { " (dry-run: nothing was carried out)" } else { "" },
        if troubled > 0 { format!("; {troubled} input(s) had a problem (see above)") } else { String::new() }
    );
    Ok(if troubled == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One replay input's events; `Err` names the file and what is wrong with it.
fn read_events(file: &str) -> anyhow::Result<Vec<ingest::Ingested>> {
    let text = read_input(file)?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{file}: malformed JSON"))?;
    ingest::ingest_value(&value).with_context(|| format!("{file}: cannot read the events"))
}

/// `handler sweep`: inventory, every cluster in-process (`CADENCE_SWEEP_CONCURRENCY` at once),
/// planned in batches of `CADENCE_SWEEP_BATCH` clusters in sweep order (the subscriptions in turn). Prints one dry-run
/// line per planned action on stdout as each batch is planned — held upgrades too, with
/// `held_by` naming the gate — then the batch's baseline lines (text is drawn at the end, from
/// a compact row per action), and a summary on stderr. Exit 1 when a cluster's sweep or the
/// run failed (the rest is still planned and printed).
async fn sweep(settings: Settings, args: SweepArgs) -> Result<ExitCode, Failure> {
    release_freed_memory();
    init_logging(&settings, Output::Stderr);
    let dry_run = args.dry_run || settings.dry_run;
    let clock = match args.now {
        Some(at) => pipeline::fixed_clock(at),
        None => pipeline::system_clock(),
    };
    let format = Format::detect(args.format);
    // No CA certificates is a settings error now, not a failed call per cluster later.
    aks_cadence::azure::tls::trust_roots()?;
    let arm = wiring::arm_client(&settings)?;
    let pipeline = build_pipeline(&settings, dry_run, clock, Some(&arm), Notifications::WithTheRun)?;
    // Progress only for a person watching stderr.
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| SweepBar::start(arm.clone()));
    // The pipeline holds its own copy; the file was validated when the pipeline was built.
    let policy = wiring::load_policy(&settings.config_path)?;
    let sweeper = wiring::sweeper(&settings, arm, pipeline);
    let now = sweeper.pipeline.now();
    let mut printer = SweepPrinter {
        run_id: aks_cadence::sweep::fanout::run_id_at(now),
        format,
        policy,
        now,
        text: text_plan::TextPlan::new(now),
        open: true,
        error: None,
    };
    let swept = match &bar {
        Some(bar) => sweeper.local(settings.sweep_concurrency, bar, &mut printer).await,
        None => sweeper.local(settings.sweep_concurrency, &NoProgress, &mut printer).await,
    };
    if let Some(bar) = bar {
        bar.finish();
    }
    if let Some(e) = printer.error.take() {
        return Err(e);
    }
    let summary = match swept {
        Ok(done) => done,
        Err(e) => return Err(anyhow::Error::from(e).context("the sweep failed").into()),
    };
    let mut stdout = std::io::stdout().lock();
    if !printer.open {
        return Ok(ExitCode::SUCCESS);
    }
    let swept = summary.swept + summary.failures.len();
    if format == Format::Text && !print_text(&mut stdout, &printer.text.finish(Some(swept), summary.failures.len(), Style::detect()))? {
        return Ok(ExitCode::SUCCESS);
    }
    let _ = stdout.flush();
    for (record, e) in &summary.failures {
        eprintln!("error: {}: {e}", record.id);
    }
    eprintln!(
        "{}: swept {swept} cluster(s) from {}{}: {} action(s) planned, {} held{}",
        summary.run_id,
        match summary.source {
            InventorySource::ResourceGraph => "Resource Graph",
            InventorySource::ArmList => "the ARM cluster listing",
        },
        if summary.failures.is_empty() { String::new() } else { format!(" ({} failed)", summary.failures.len()) },
        summary.planned,
        summary.held,
        if dry_run { " (dry-run: nothing was carried out)" } else { "" }
    );
    Ok(if summary.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `handler sweep` returns freed memory at once, so its resident peak stays flat in fleet size
/// (docs/azure.md, *Batches*): a sweep frees each batch's plan and snapshots, and what the next
/// batch does not reuse must not stay resident.
///
/// - mimalloc (the Rust heap): give freed pages back at once (`purge_delay` 0; the default
///   is 1 s).
/// - glibc malloc (SQLite's and aws-lc's heap): it raises its mmap threshold (up to 32 MiB) each
///   time a large block is freed, and keeps freed memory below its trim threshold. At 128 KiB
///   each, large blocks get mappings of their own (returned when freed) and the heap's free top
///   is given back.
///
/// The server keeps mimalloc's delay: purging at once cost the event path the allocator's gain.
fn release_freed_memory() {
    // `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (libmimalloc-sys declares no
    // constant for it; tests/allocator.rs checks the number); mimalloc reads the option each time
    // it schedules a purge.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: `mi_option_set` stores an option value; mimalloc allows it at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets two of malloc's tunables, which it allows at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// Prints `handler sweep`'s batches as they are planned: JSON lines at once (the actions, then
/// the batch's baseline lines); text as compact rows, drawn at the end (it groups by cluster
/// name across the fleet). Log lines go to the log as they come.
struct SweepPrinter {
    run_id: String,
    format: Format,
    policy: Policy,
    now: Timestamp,
    text: text_plan::TextPlan,
    /// Whether stdout's reader is still there (`| head` goes away early).
    open: bool,
    error: Option<Failure>,
}

impl SweepOutput for SweepPrinter {
    fn batch(&mut self, snapshots: &[ClusterSnapshot], report: &aks_cadence::pipeline::RunReport) {
        for line in &report.log {
            tracing::info!(run = %self.run_id, "{line}");
        }
        let baseline = baseline_lines(&self.policy, snapshots, self.now);
        if self.format == Format::Text {
            self.text.add(&report.planned, &baseline);
            return;
        }
        if !self.open || self.error.is_some() {
            return;
        }
        let mut stdout = std::io::stdout().lock();
        let printed = print_lines(&mut stdout, report.planned.iter().map(Action::dry_run_line))
            .and_then(|open| if open { print_lines(&mut stdout, baseline) } else { Ok(false) });
        match printed {
            Ok(open) => self.open = open,
            Err(e) => self.error = Some(e),
        }
        let _ = stdout.flush();
    }

    fn log(&mut self, lines: Vec<String>) {
        for line in lines {
            tracing::info!(run = %self.run_id, "{line}");
        }
    }
}

/// The security baseline of each swept cluster, one line each, when the policy has a
/// `[baseline]` (it only reports: nothing here changes a cluster). The resources come from the
/// inventory (no per-cluster read); the Defender plan is the sweep's one Resource Graph query.
fn baseline_lines(policy: &Policy, snapshots: &[ClusterSnapshot], now: Timestamp) -> Vec<serde_json::Value> {
    let Some(checks) = &policy.baseline else { return Vec::new() };
    let today = jiff::tz::Offset::UTC.to_datetime(now).date();
    snapshots
        .iter()
        .filter_map(|snap| {
            let resource = snap.baseline.as_ref()?;
            let context = baseline::ClusterContext {
                maintenance_configurations: snap.maintenance_read.then(|| {
                    snap.maintenance_configurations.iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect()
                }),
                defender_plan: snap.defender_plan.clone(),
            };
            let findings = baseline::assess(checks, &snap.cluster, &snap.facts, resource, &context, today);
            Some(baseline::report_line(&snap.cluster, &findings))
        })
        .collect()
}

/// `handler digest [--send]`: what waits in the ledger for the next digest, or send it now.
async fn digest(settings: Settings, args: DigestArgs) -> Result<ExitCode, Failure> {
    init_logging(&settings, Output::Stderr);
    // Looking at a queue must not create a ledger: with no SQLite file yet, nothing was queued.
    if let StateLocation::Sqlite(path) = &settings.state
        && !path.exists()
    {
        eprintln!("no ledger at {} yet: nothing queued", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut stdout = std::io::stdout().lock();
    let format = Format::detect(args.format);
    if !args.send {
        let ledger = wiring::open_ledger(&settings)?;
        let pending = ledger.pending_notifications().await.context("reading the digest queue")?;
        if format == Format::Text {
            let mut queued = Vec::new();
            let mut unreadable = 0;
            for entry in &pending {
                match serde_json::from_str::<Action>(&entry.action) {
                    Ok(action) => queued.push(action),
                    Err(e) => {
                        eprintln!("error: {}: unreadable queued notification: {e}", entry.key.as_str());
                        unreadable += 1;
                    }
                }
            }
            let view = PlanView { actions: &queued, baseline: &[], now: Timestamp::now(), swept: None, errors: unreadable };
            if !print_text(&mut stdout, &text_plan::render(&view, Style::detect()))? {
                return Ok(ExitCode::SUCCESS);
            }
        } else {
            let lines = pending.iter().map(|entry| match serde_json::from_str::<Action>(&entry.action) {
                Ok(action) => action.dry_run_line(),
                Err(e) => serde_json::json!({"key": entry.key.as_str(), "error": format!("unreadable queued notification: {e}")}),
            });
            if !print_lines(&mut stdout, lines)? {
                return Ok(ExitCode::SUCCESS);
            }
        }
        let window = DigestWindow { quiet: settings.digest_quiet, max_wait: settings.digest_max_wait };
        match window.due_at(&pending) {
            Some(at) => eprintln!("{} notification(s) queued; the digest timer sends them at {at} or later (`handler digest --send` sends them now)", pending.len()),
            None => eprintln!("no notification is queued"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    if settings.dry_run {
        return Err(Failure::Settings(SettingsError {
            name: "CADENCE_DRY_RUN",
            problem: "it is true (the default), so nothing is sent".into(),
            fix: "set CADENCE_DRY_RUN=false to send the queued notifications".into(),
        }));
    }
    let pipeline = build_pipeline(&settings, false, pipeline::system_clock(), None, Notifications::WithTheRun)?;
    let report = pipeline.flush_digests(true).await.context("sending the digest")?;
    for line in &report.log {
        tracing::info!("{line}");
    }
    if format == Format::Text {
        let view = PlanView { actions: &report.planned, baseline: &[], now: Timestamp::now(), swept: None, errors: 0 };
        if !print_text(&mut stdout, &text_plan::render(&view, Style::detect()))? {
            return Ok(ExitCode::SUCCESS);
        }
    } else if !print_lines(&mut stdout, report.planned.iter().map(Action::dry_run_line))? {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("sent {} queued notification(s)", report.planned.len());
    Ok(ExitCode::SUCCESS)
}

/// `handler status`: the fleet status the last sweep kept in the ledger, printed; nothing else
/// is read (no Azure, no GitHub). With none yet, says so and how to make one.
async fn status(settings: Settings, args: StatusArgs) -> Result<ExitCode, Failure> {
    use aks_cadence::output::status::{self as status_output, StatusFormat};
    init_logging(&settings, Output::Stderr);
    const NONE_YET: &str = "no sweep has kept a fleet status yet: run `handler sweep` (or wait for the sweep timer), then `handler status` again";
    const EARLIER: &str = "this is the fleet status an earlier release of aks-cadence kept; the next sweep replaces it with per-cluster fleet records";
    // Looking must not create a ledger: with no SQLite file yet, nothing was swept.
    if let StateLocation::Sqlite(path) = &settings.state
        && !path.exists()
    {
        eprintln!("{NONE_YET} (no ledger at {})", path.display());
        return Ok(ExitCode::FAILURE);
    }
    let ledger = wiring::open_ledger(&settings)?;
    // The ring order comes from the policy; without a readable one, rings show by name.
    let rings = wiring::load_policy(&settings.config_path).map(|p| p.rings.iter().map(|r| r.name.clone()).collect()).unwrap_or_default();
    let fleet = match aks_cadence::fleet_status::load(ledger.as_ref(), rings).await.context("reading the fleet records from the ledger")? {
        Some(aks_cadence::fleet_status::Loaded::Records(fleet)) => fleet,
        Some(aks_cadence::fleet_status::Loaded::Earlier(fleet)) => {
            eprintln!("{EARLIER}");
            fleet
        }
        None => {
            eprintln!("{NONE_YET}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let format = StatusFormat::choose(args.format, std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let mut stdout = std::io::stdout().lock();
    if !print_text(&mut stdout, &status_output::render(&fleet, format, Style::detect()))? {
        return Ok(ExitCode::SUCCESS);
    }
    let _ = stdout.flush();
    Ok(ExitCode::SUCCESS)
}

/// Writes one JSON line per value. `Ok(false)` when the reader went away (`| head`): a closed
/// pipe is not an error worth a message, the command just stops printing.
fn print_lines(out: &mut impl Write, lines: impl IntoIterator<Item = serde_json::Value>) -> Result<bool, Failure> {
    for line in lines {
        if let Err(e) = writeln!(out, "{line}") {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(false);
            }
            return Err(anyhow::Error::from(e).context("writing to stdout").into());
        }
    }
    Ok(true)
}

/// Writes text (`--format text`); `Ok(false)` when the reader went away, as [`print_lines`].
fn print_text(out: &mut impl Write, text: &str) -> Result<bool, Failure> {
    match out.write_all(text.as_bytes()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow::Error::from(e).context("writing to stdout").into()),
    }
}

fn read_input(file: &str) -> anyhow::Result<String> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("reading stdin")?;
        Ok(text)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("{file}: cannot read"))
    }
}

/// The support calendars a sweep will use (docs/policy.md, *Support calendar*).
fn print_support_calendar(settings: &Settings) {
    let calendar = aks_cadence::policy::calendar::SupportCalendar::embedded();
    for line in calendar.config_lines(Timestamp::now(), settings.support_calendar_url.as_deref()) {
        println!("{line}");
    }
}

fn config_check(settings: &Settings, path: Option<PathBuf>) -> Result<ExitCode, Failure> {
    let explicit = path.is_some();
    let path = path.unwrap_or_else(|| settings.config_path.clone());
    if !path.exists() {
        if explicit {
            eprintln!("error: {}: no such file", path.display());
            return Ok(ExitCode::FAILURE);
        }
        println!("{}: no policy file; the built-in notify-only policy applies", path.display());
        print_support_calendar(settings);
        return Ok(ExitCode::SUCCESS);
    }
    match Policy::load(&path) {
        Ok(policy) => {
            let today = jiff::tz::Offset::UTC.to_datetime(Timestamp::now()).date();
            let baseline = policy.as_ref().and_then(|p| p.baseline.clone());
            let policy = policy.unwrap_or_else(Policy::builtin);
            println!("{}: valid policy", path.display());
            for line in policy.summary() {
                println!("{line}");
            }
            if let Some(baseline) = baseline {
                println!("baseline: {} check(s), {} exception(s)", baseline.checks.len(), baseline.exceptions.len());
                for e in baseline.expired(today) {
                    println!(
                        "note: {}:{}: the baseline exception for {} expired on {}; those checks count as failing again",
                        path.display(),
                        e.line,
                        e.checks.join(", "),
                        e.expires
                    );
                }
            }
            print_support_calendar(settings);
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            for e in &errors {
                println!("{e}");
            }
            eprintln!("{}: {} problem(s)", path.display(), errors.len());
            Ok(ExitCode::FAILURE)
        }
    }
}
