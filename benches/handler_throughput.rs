//! The event path measured from outside, on the real binary, against a bare axum JSON echo.
//!
//! What runs, each in its own process:
//!
//! - **handler** — the `handler` binary built by this `cargo bench` (same Cargo.lock, bench
//!   profile), started the way the Functions host starts it (`FUNCTIONS_CUSTOMHANDLER_PORT`,
//!   JSON logs on stdout, stdout redirected to a file), on the SQLite ledger, with the built-in
//!   policy (every signal planned as a log action), in two modes: **dry-run** (plan only) and
//!   **live** (`CADENCE_DRY_RUN=false`: claim → log adapter → complete for every action);
//! - **bare** — this bench's own executable re-run as a bare axum server: `POST /aks-events`
//!   parses the body as JSON and answers the invocation shape, `GET /` answers `ok`. Same axum,
//!   tokio and serde as the handler, same release profile, same TCP_NODELAY;
//! - **load** — this executable again as the load generator: raw HTTP/1.1 on kept-alive
//!   connections (no client library in the measured path of either side), every real Event Grid
//!   fixture wrapped in the invocation envelope as the host sends it (a third string-encoded),
//!   each request with a fresh event id, its send time as the event time and one of 5,000
//!   cluster names, so the ledger sees new events and keys as it would from a fleet. Every
//!   connection is open before the clock starts; at a fixed rate a pacing thread lets each
//!   request out when it is due (not tokio's timer, which sleeps to the millisecond).
//!
//! On Linux the servers are pinned to CPU 1 and the load generator to CPU 0 (`taskset`), so
//! they do not fight for a core. The figure that counts is **CPU per event**: the server's
//! utime + stime from `/proc/<pid>/stat` over a round, divided by the events of the round.
//! Being a ratio of the server's own CPU it cancels most of the machine's noise. Rounds are
//! paired (bare, dry-run, live, bare, …) and medians reported.
//!
//! Printed: CPU per event and events/s per server and round; the ratio bare/handler of CPU per
//! event (goal ≥ 0.5); CPU per event with every server driven at one rate (half the slowest
//! server's maximum, open loop: the same load for each, as deliveries arrive at a rate rather
//! than as fast as a server answers), and its ratio; p50/p99 at half of each server's median
//! maximum rate (open loop, latency counted from the scheduled send time, beside how late the
//! pacing thread let requests out; goal p99 < 5 ms), in paired rounds, over every request of
//! every round, with each round's own p99 beside it and the server's CPU per event at that rate
//! and how busy that kept its CPU; start → first `GET /` 200
//! for the handler and the bare server (median of `BENCH_STARTS` pairs; goal ≤ 2×); and, when
//! `CADENCE_TEST_AZURITE_BLOB` is set (`source scripts/services.sh && start_services`), the
//! handler on the blob ledger through a counting proxy in front of Azurite: events/s per
//! instance and storage round trips per event.
//!
//! It also runs **the SQLite ledger alone** (`ledger-alone`, this executable again, pinned to
//! CPU 1, a fresh ledger file per run): the ledger calls a live event makes — `event_processed`
//! and `mark_event_processed_soon` for every event, and `claim` and `complete` between them for one
//! with a new action — from as many tasks as there are connections, with no HTTP, plan or logs:
//! floors of what the live event path's ledger costs. It prints their CPU per event beside the
//! room the live goal leaves over dry-run (2 × bare − dry-run: at ≥ 0.5 of the bare server's
//! efficiency, live costs at most 2 × bare).
//!
//! When `valgrind` (with `callgrind_control`) is on PATH it also prints each server's
//! user-space instructions per event under callgrind, and their ratio: a count that is the same
//! on every run, for seeing changes the CPU figures' noise hides.
//!
//! Run: `cargo bench --bench handler_throughput`. Environment: `BENCH_REQUESTS` (per round,
//! default 20000), `BENCH_CONCURRENCY` (connections, 32), `BENCH_ROUNDS` (3), `BENCH_STARTS`
//! (20), `BENCH_HANDLER` (another handler binary to measure, e.g. an older build),
//! `BENCH_CALLGRIND_EVENTS` (2000), `BENCH_BLOB_REQUESTS` (2000).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "../tests/ledger_blob_support/mod.rs"]
mod blob_support;

const CLUSTERS: u64 = 5_000;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("bare-echo") => bare_echo(args[2].parse().expect("port")),
        Some("load") => load(&args[2..]),
        Some("ledger-alone") => ledger_alone(&args[2..]),
        // `cargo bench` passes `--bench`; anything else runs the comparison.
        _ => compare(),
    }
}

// ------------------------------------------------------------------------------------------
// The bare server
// ------------------------------------------------------------------------------------------

/// A bare axum JSON echo: what any custom handler must at least do for an event.
fn bare_echo(port: u16) {
    use axum::Json;
    use axum::routing::{get, post};
    use axum::serve::ListenerExt;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async move {
        let app = axum::Router::new().route("/", get(|| async { "ok" })).route(
            "/aks-events",
            post(|Json(body): Json<Value>| async move {
                let logs = vec![format!("{} bytes", body.to_string().len())];
                Json(json!({"Outputs": {}, "Logs": logs, "ReturnValue": null}))
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await.unwrap();
    });
}

// ------------------------------------------------------------------------------------------
// The load generator (its own process)
// ------------------------------------------------------------------------------------------

/// One request body with `__ID__` (the event id), `__C__` (a cluster-name suffix) and `__T__`
/// (the event time: the send time) to fill.
fn templates() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventgrid");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let cluster = regex::Regex::new(r"(managedClusters/[A-Za-z0-9_-]+)").unwrap();
    let mut out = Vec::new();
    for (i, path) in names.iter().enumerate() {
        let mut value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        // Only single AKS events: the trigger fans batches out to one invocation per event.
        let is_event = value.get("eventType").is_some() || value.get("specversion").is_some() || value.get("specVersion").is_some();
        let is_validation = value.get("eventType").and_then(Value::as_str).is_some_and(|t| t.contains("SubscriptionValidation"));
        if !is_event || is_validation {
            continue;
        }
        value["id"] = Value::String("__ID__".into());
        // A live delivery's event time is seconds old; the fixtures' are years old, which the
        // pipeline notes on every event ("more than 48 hours before it was received").
        for field in ["eventTime", "time"] {
            if value.get(field).is_some() {
                value[field] = Value::String("__T__".into());
            }
        }
        let text = cluster.replace_all(&value.to_string(), "${1}-__C__").into_owned();
        let value: Value = serde_json::from_str(&text).unwrap();
        let event = if i % 3 == 0 { Value::String(value.to_string()) } else { value };
        let envelope = json!({
            "Data": {"event": event},
            "Metadata": {"sys": {"MethodName": "aks-events", "UtcNow": "2026-01-01T00:00:00Z", "RandGuid": "24ad4c06-24ad-4e5b-8294-3da9714877e9"}}
        });
        out.push(envelope.to_string());
    }
    assert!(out.len() >= 15, "expected the real fixtures, found {}", out.len());
    out
}

/// What one load run measured (printed by the load process as one JSON line).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct LoadResult {
    events: usize,
    secs: f64,
    /// Every request's latency (µs from when it was due, sorted), so that rounds can be pooled.
    latencies_us: Vec<u32>,
    /// How late the pacing thread let each request out (µs from when it was due, sorted; empty
    /// in the closed loop): the generator's own lateness. A server that holds every connection
    /// delays the next request too, which this leaves out.
    late_us: Vec<u32>,
}

impl LoadResult {
    fn p99_ms(&self) -> f64 {
        pct(&self.latencies_us, 0.99) / 1000.0
    }
}

/// `load <port> <requests> <concurrency> <rate/s, 0 = as fast as possible> <run tag>`
fn load(args: &[String]) {
    let port: u16 = args[0].parse().unwrap();
    let requests: usize = args[1].parse().unwrap();
    let concurrency: usize = args[2].parse().unwrap();
    let rate: f64 = args[3].parse().unwrap();
    let tag = args[4].clone();
    let templates = std::sync::Arc::new(templates());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Every connection is open before the clock starts.
    let conns: Vec<Conn> = runtime.block_on(async { futures::future::join_all((0..concurrency).map(|_| Conn::open(port))).await });
    let released = std::sync::Arc::new(tokio::sync::Semaphore::new(if rate > 0.0 { 0 } else { requests + concurrency }));
    let start = std::time::Instant::now();
    let due = move |n: usize| if rate > 0.0 { start + Duration::from_secs_f64(n as f64 / rate) } else { std::time::Instant::now() };
    // At a fixed rate, a pacing thread lets each request out when it is due (a permit each;
    // `concurrency` more at the end let every worker see that none is left). Not tokio's timer:
    // it sleeps to the millisecond, rounded up, and woke requests a median 1.0 ms and a p99 1.9
    // ms after they were due (docs/host.md), in bunches, one per tick.
    let pacer = (rate > 0.0).then(|| {
        let released = released.clone();
        std::thread::spawn(move || {
            // How late each request was let out: the generator's own lateness.
            let mut late = Vec::with_capacity(requests);
            while late.len() < requests {
                let now = std::time::Instant::now();
                let now_due = (((now - start).as_secs_f64() * rate) as usize + 1).min(requests);
                if now_due > late.len() {
                    released.add_permits(now_due - late.len());
                    late.extend((late.len()..now_due).map(|n| now - due(n)));
                } else {
                    std::thread::sleep(due(late.len()) - now);
                }
            }
            released.add_permits(concurrency);
            late
        })
    });
    let result = runtime.block_on(async move {
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut workers = Vec::new();
        for mut conn in conns {
            let (next, templates, tag, released) = (next.clone(), templates.clone(), tag.clone(), released.clone());
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    // One permit per request due: whoever takes the n-th permit takes a number
                    // below the count released, so its request is due (open loop at a fixed rate).
                    released.acquire().await.expect("the pacer does not close the semaphore").forget();
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n >= requests {
                        break;
                    }
                    // Latency counts from when the request was due, so a stalled server is not
                    // hidden by a stalled generator; the generator's own lateness is reported.
                    let due_at = due(n);
                    let body = templates[n % templates.len()]
                        .replace("__ID__", &format!("{tag}-{n}"))
                        .replace("__C__", &format!("{:04}", n as u64 % CLUSTERS))
                        .replace("__T__", &jiff::Timestamp::now().to_string());
                    let status = conn.post("/aks-events", body.as_bytes()).await;
                    assert_eq!(status, 200, "request {n}: the server answered {status}");
                    latencies.push(due_at.elapsed());
                }
                latencies
            }));
        }
        let mut all = Vec::with_capacity(requests);
        for w in workers {
            all.extend(w.await.unwrap());
        }
        let secs = start.elapsed().as_secs_f64();
        let micros = |v: Vec<Duration>| {
            let mut v: Vec<u32> = v.into_iter().map(|d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX)).collect();
            v.sort_unstable();
            v
        };
        let (all, late) = (micros(all), micros(pacer.map_or_else(Vec::new, |p| p.join().unwrap())));
        LoadResult { events: all.len(), secs, latencies_us: all, late_us: late }
    });
    println!("{}", serde_json::to_string(&result).unwrap());
}

/// The `p` quantile (0–1) of `sorted` (µs), nearest rank; 0 when there is none.
fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    f64::from(sorted[((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1).min(sorted.len() - 1)])
}

/// A kept-alive HTTP/1.1 connection, spoken by hand (request out, status and body back).
struct Conn {
    stream: tokio::net::TcpStream,
    port: u16,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(port: u16) -> Self {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        stream.set_nodelay(true).unwrap();
        Self { stream, port, buf: Vec::with_capacity(16 * 1024) }
    }

    async fn post(&mut self, path: &str, body: &[u8]) -> u16 {
        use tokio::io::AsyncWriteExt;
        let mut request =
            format!("POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", self.port, body.len())
                .into_bytes();
        request.extend_from_slice(body);
        self.stream.write_all(&request).await.expect("send");
        self.buf.clear();
        loop {
            if let Some((status, head, len)) = parse_head(&self.buf) {
                while self.buf.len() < head + len {
                    self.read_more().await;
                }
                return status;
            }
            self.read_more().await;
        }
    }

    async fn read_more(&mut self) {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "the server closed the connection");
        self.buf.extend_from_slice(&chunk[..n]);
    }
}

/// Status, header length and Content-Length once the head has arrived.
fn parse_head(buf: &[u8]) -> Option<(u16, usize, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).expect("ASCII head");
    let status = head.get(9..12).and_then(|s| s.parse().ok()).expect("status line");
    let len = head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim().parse().unwrap()));
    assert!(len.is_some() || status == 204, "responses must carry Content-Length:\n{head}");
    Some((status, end, len.unwrap_or(0)))
}

// ------------------------------------------------------------------------------------------
// The SQLite ledger alone (its own process)
// ------------------------------------------------------------------------------------------

/// What one `ledger-alone` run measured (printed as one JSON line).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
struct LedgerAloneResult {
    cpu_us_per_event: f64,
    events_per_sec: f64,
    commits_per_event: f64,
}

/// `ledger-alone <ledger file> <events> <concurrency> <action: 0|1>`: the SQLite ledger's calls
/// for a live event, and nothing else — no HTTP, no ingest, no plan, no log lines. Per event, as
/// the handler makes them: `event_processed` (not yet), then with `action` 1 `claim` (a new key:
/// acquired) and `complete` (done), then `mark_event_processed_soon` (written with the next
/// batch, as the handler's mark is). With 0 that is what every live
/// event makes, with 1 what one that plans a new action makes at least: the handler's event path
/// also reads the action states and references it plans from, so these are floors of what its
/// ledger costs. `concurrency` tasks on a runtime built as the handler builds its own, the
/// ledger opened as the handler opens it (its checkpointer thread included); `events / 10` events
/// of warm-up, then `events` measured: this process's CPU (every thread) from
/// `/proc/self/stat`, and the ledger's commits.
fn ledger_alone(args: &[String]) {
    use aks_cadence::action::ActionKey;
    use aks_cadence::store::sqlite::SqliteLedger;
    use aks_cadence::store::{Claim, Completion, Ledger};
    let path = PathBuf::from(&args[0]);
    let events: usize = args[1].parse().unwrap();
    let concurrency: usize = args[2].parse().unwrap();
    let action = args[3] == "1";
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let result = runtime.block_on(async move {
        let ledger = std::sync::Arc::new(SqliteLedger::open(&path).expect("the ledger opens"));
        let mut measured = None;
        for (tag, count) in [("warm", events / 10 + 1), ("run", events)] {
            let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let (cpu, commits, start) = (own_cpu_secs(), ledger.commits(), Instant::now());
            let tasks: Vec<_> = (0..concurrency)
                .map(|_| {
                    let (ledger, next) = (ledger.clone(), next.clone());
                    tokio::spawn(async move {
                        loop {
                            let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if n >= count {
                                break;
                            }
                            let (id, now) = (format!("{tag}-{n}"), jiff::Timestamp::now());
                            assert!(!ledger.event_processed(&id).await.unwrap(), "a fresh event id");
                            if action {
                                // A new concern per event, on one of the bench's cluster names,
                                // keyed as the log action's keys are.
                                let key = ActionKey::from_raw(format!(
                                    "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg-bench/providers/microsoft.containerservice/managedclusters/aks-{:04}#kubernetes-version#{tag}-{n}/log/notice",
                                    n as u64 % CLUSTERS
                                ));
                                let Claim::Acquired(token) = ledger.claim(&key, "bench", now, jiff::SignedDuration::from_secs(300)).await.unwrap() else {
                                    panic!("a new key is acquired")
                                };
                                let detail = format!("logged: aks-{:04}: Kubernetes 1.33 is available", n as u64 % CLUSTERS);
                                ledger.complete(&key, &token, Completion::Done { detail }, now).await.unwrap();
                            }
                            ledger.mark_event_processed_soon(&id, now).await.unwrap();
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
            measured = Some(LedgerAloneResult {
                cpu_us_per_event: (own_cpu_secs() - cpu) * 1e6 / count as f64,
                events_per_sec: count as f64 / start.elapsed().as_secs_f64(),
                commits_per_event: (ledger.commits() - commits) as f64 / count as f64,
            });
        }
        measured.unwrap()
    });
    println!("{}", serde_json::to_string(&result).unwrap());
}

/// This process's utime + stime (every thread), in seconds.
fn own_cpu_secs() -> f64 {
    cpu_secs_of("self")
}

/// utime + stime of process `pid` (every thread), in seconds.
fn cpu_secs_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat (Linux)");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the full line: 12 and 13 after the name.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks()
}

/// Runs `ledger-alone` `rounds` times for each of its two call sequences (no action, one
/// action), each run in its own process pinned to CPU 1 on a fresh ledger file, the two
/// alternating, and prints the medians against the room the live goal leaves: live at ≥ 0.5 of
/// the bare server's efficiency may cost at most 2 × bare per event, so its work beyond dry-run
/// (claims, the log action, completions, the event's mark) has 2 × bare − dry-run.
fn ledger_alone_figures(bare: f64, dry_run: f64, requests: usize, concurrency: usize, rounds: usize) {
    let run = |action: bool| -> LedgerAloneResult {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ledger.db");
        let args = ["ledger-alone", file.to_str().expect("a UTF-8 temporary path"), &requests.to_string(), &concurrency.to_string(), if action { "1" } else { "0" }];
        run_self("1", &args)
    };
    let mut runs: [Vec<LedgerAloneResult>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..rounds {
        for action in [false, true] {
            runs[usize::from(action)].push(run(action));
        }
    }
    let room = 2.0 * bare - dry_run;
    println!(
        "room the live goal leaves over dry-run (2 x bare - dry-run): {room:.1} us/event (live's claims, log action, completions and processed mark must fit in it)"
    );
    for (action, runs) in runs.iter().enumerate() {
        let cpu = median(runs.iter().map(|r| r.cpu_us_per_event).collect());
        let commits = median(runs.iter().map(|r| r.commits_per_event).collect());
        let rate = median(runs.iter().map(|r| r.events_per_sec).collect());
        let each: Vec<String> = runs.iter().map(|r| format!("{:.1}", r.cpu_us_per_event)).collect();
        let calls = if action == 1 { "event_processed, claim, complete, mark_event_processed_soon" } else { "event_processed, mark_event_processed_soon" };
        let against = if room > 0.0 { format!("{:.1}x the room", cpu / room) } else { "the room is none".to_string() };
        println!(
            "SQLite ledger alone, {} (own process on CPU 1; per event {calls}, {concurrency} tasks; no HTTP, plan or logs): {cpu:.1} us CPU/event (median of {}: {} us), {commits:.3} commits/event, {rate:.0} events/s: {against}",
            if action == 1 { "an event with one action" } else { "an event with no action" },
            runs.len(),
            each.join(" / ")
        );
    }
}

// ------------------------------------------------------------------------------------------
// The comparison
// ------------------------------------------------------------------------------------------

/// `taskset -c <cpu>` in front of `program` where taskset exists (Linux), else the program alone.
fn pinned(cpu: &str, program: &Path) -> Command {
    if Path::new("/usr/bin/taskset").exists() {
        let mut c = Command::new("/usr/bin/taskset");
        c.arg("-c").arg(cpu).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One server process under test.
struct Server {
    name: &'static str,
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    log: PathBuf,
}

#[derive(Clone, Copy)]
enum Kind {
    Bare,
    Handler { dry_run: bool },
    HandlerBlob,
}

impl Server {
    /// Starts the server; returns it with the time from spawn to the first `GET /` 200.
    fn start(kind: Kind, handler: &Path, blob_url: Option<&str>) -> (Self, Duration) {
        Self::start_under(kind, handler, blob_url, None)
    }

    /// [`Server::start`], run under callgrind writing to `callgrind_out` when it is given.
    fn start_under(kind: Kind, handler: &Path, blob_url: Option<&str>, callgrind_out: Option<&Path>) -> (Self, Duration) {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("stdout.jsonl");
        let me = std::env::current_exe().unwrap();
        let launch = |program: &Path| match callgrind_out {
            None => pinned("1", program),
            Some(out) => {
                let mut c = pinned("1", Path::new("valgrind"));
                c.arg("-q").arg("--tool=callgrind").arg(format!("--callgrind-out-file={}", out.display())).arg(program);
                c
            }
        };
        let (name, mut cmd) = match kind {
            Kind::Bare => {
                let mut c = launch(&me);
                c.arg("bare-echo").arg(port.to_string());
                ("bare axum echo", c)
            }
            Kind::Handler { dry_run } => (if dry_run { "handler dry-run (SQLite)" } else { "handler live, log action (SQLite)" }, launch(handler)),
            Kind::HandlerBlob => ("handler live, log action (blob ledger on Azurite)", launch(handler)),
        };
        // As the Functions host runs it: only its own settings, stdout collected (here: a file).
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("FUNCTIONS_WORKER_RUNTIME", "custom")
            .env("CADENCE_CONFIG", dir.path().join("no-policy.toml"))
            .env("CADENCE_EVENTGRID_ALLOWED_TOPICS", "*")
            .env("CADENCE_DIGEST_QUIET_SECONDS", "0")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit());
        match kind {
            Kind::Bare => {}
            Kind::Handler { dry_run } => {
                cmd.env("CADENCE_DRY_RUN", dry_run.to_string());
                cmd.env("CADENCE_STATE", format!("sqlite:{}", dir.path().join("ledger.db").display()));
            }
            Kind::HandlerBlob => {
                cmd.env("CADENCE_DRY_RUN", "false");
                cmd.env("CADENCE_STATE", format!("blob:{}", blob_url.expect("blob URL")));
            }
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("the server starts");
        let ready = wait_ready(&mut child, port, started);
        (Self { name, child, port, dir, log }, ready)
    }

    /// utime + stime so far, in seconds.
    fn cpu_secs(&self) -> f64 {
        cpu_secs_of(&self.child.id().to_string())
    }

    /// The SQLite ledger's file and write-ahead log as this server leaves them (after every
    /// round), when it has one: the log's size shows whether it is started over under load.
    fn ledger_files(&self) -> String {
        let size = |name: &str| std::fs::metadata(self.dir.path().join(name)).map(|m| m.len() as f64 / (1024.0 * 1024.0));
        match (size("ledger.db"), size("ledger.db-wal")) {
            (Ok(db), Ok(wal)) => format!(", ledger file {db:.1} MiB, write-ahead log {wal:.1} MiB"),
            (Ok(db), Err(_)) => format!(", ledger file {db:.1} MiB"),
            _ => String::new(),
        }
    }

    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// SIGTERM (as the host stops it), then waits; returns the number of log lines written.
    fn stop(mut self) -> usize {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::read_to_string(&self.log).map(|t| t.lines().count()).unwrap_or(0)
    }
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        let out = Command::new("getconf").arg("CLK_TCK").output().ok();
        out.and_then(|o| String::from_utf8(o.stdout).ok()).and_then(|s| s.trim().parse().ok()).unwrap_or(100.0)
    })
}

/// Polls `GET /` as fast as a connection can be made, the way the host waits for readiness.
fn wait_ready(child: &mut Child, port: u16, started: Instant) -> Duration {
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_nodelay(true);
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            let mut buf = Vec::new();
            let _ = s.read_to_end(&mut buf);
            if buf.starts_with(b"HTTP/1.1 200") {
                return started.elapsed();
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the server exited during start-up: {status}");
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no GET / 200 within 60 s");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Runs the load generator in its own process (pinned to CPU 0) against `port`.
fn drive(port: u16, requests: usize, concurrency: usize, rate: f64, tag: &str) -> LoadResult {
    run_self("0", &["load", &port.to_string(), &requests.to_string(), &concurrency.to_string(), &format!("{rate}"), tag])
}

/// Runs this executable again with `args` (a subcommand), pinned to `cpu`, and reads the one
/// JSON line it prints.
fn run_self<T: serde::de::DeserializeOwned>(cpu: &str, args: &[&str]) -> T {
    let me = std::env::current_exe().unwrap();
    let out = pinned(cpu, &me).args(args).stderr(Stdio::inherit()).output().unwrap_or_else(|e| panic!("`{}` starts: {e}", args[0]));
    assert!(out.status.success(), "`{}` failed: {}", args[0], out.status);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("`{}` prints its result line: {e}", args[0]))
}

/// One closed-loop round: CPU per event from the server's own counters.
struct Round {
    cpu_us_per_event: f64,
    events_per_sec: f64,
    p99_ms: f64,
}

/// [`drive`], and the CPU seconds `server` spent meanwhile.
fn drive_counted(server: &Server, requests: usize, concurrency: usize, rate: f64, tag: &str) -> (LoadResult, f64) {
    let before = server.cpu_secs();
    let result = drive(server.port, requests, concurrency, rate, tag);
    (result, server.cpu_secs() - before)
}

fn round(server: &Server, requests: usize, concurrency: usize, tag: &str) -> Round {
    let (result, cpu) = drive_counted(server, requests, concurrency, 0.0, tag);
    Round { cpu_us_per_event: cpu * 1e6 / result.events as f64, events_per_sec: result.events as f64 / result.secs, p99_ms: result.p99_ms() }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    if v.len() % 2 == 1 { v[v.len() / 2] } else { (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0 }
}

fn compare() {
    let handler = std::env::var_os("BENCH_HANDLER").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_handler")));
    let requests = env_usize("BENCH_REQUESTS", 20_000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 32);
    let rounds = env_usize("BENCH_ROUNDS", 3).max(1);
    let starts = env_usize("BENCH_STARTS", 20).max(1);
    println!("handler binary: {}", handler.display());
    println!(
        "{requests} events per round, {concurrency} connections, {rounds} paired rounds; servers on CPU 1, load generator on CPU 0; CPU from /proc/<pid>/stat"
    );

    // Start-up first, on a quiet machine: spawn → first GET / 200, pairs alternating.
    let (mut bare_start, mut handler_start) = (Vec::new(), Vec::new());
    for _ in 0..starts {
        let (s, t) = Server::start(Kind::Bare, &handler, None);
        bare_start.push(t.as_secs_f64() * 1000.0);
        s.stop();
        let (s, t) = Server::start(Kind::Handler { dry_run: true }, &handler, None);
        handler_start.push(t.as_secs_f64() * 1000.0);
        s.stop();
    }
    let (bs, hs) = (median(bare_start), median(handler_start));
    println!(
        "start -> first GET / 200 (median of {starts} pairs): bare {bs:.1} ms, handler {hs:.1} ms, ratio {:.1}x (goal <= 2x: {})",
        hs / bs,
        verdict(hs / bs <= 2.0)
    );

    let kinds = [Kind::Bare, Kind::Handler { dry_run: true }, Kind::Handler { dry_run: false }];
    let servers: Vec<Server> = kinds.iter().map(|k| Server::start(*k, &handler, None).0).collect();
    // Warm-up: connections, allocator, the ledger's first pages.
    for s in &servers {
        drive(s.port, requests / 10 + 1, concurrency, 0.0, "warm");
    }
    let mut figures: Vec<Vec<Round>> = servers.iter().map(|_| Vec::new()).collect();
    for r in 1..=rounds {
        let mut line = format!("round {r}:");
        for (i, s) in servers.iter().enumerate() {
            let f = round(s, requests, concurrency, &format!("r{r}"));
            line += &format!(" | {} {:.1} us/event {:.0} ev/s p99 {:.2} ms", short(s.name), f.cpu_us_per_event, f.events_per_sec, f.p99_ms);
            figures[i].push(f);
        }
        println!("{line}");
    }
    let cpu: Vec<f64> = figures.iter().map(|f| median(f.iter().map(|r| r.cpu_us_per_event).collect())).collect();
    let max_rate: Vec<f64> = figures.iter().map(|f| median(f.iter().map(|r| r.events_per_sec).collect())).collect();
    for (i, s) in servers.iter().enumerate() {
        println!("median {}: {:.1} us CPU/event, {:.0} events/s (max, closed loop)", s.name, cpu[i], max_rate[i]);
    }
    for i in 1..servers.len() {
        let ratio = cpu[0] / cpu[i];
        println!("ratio bare/handler CPU per event, {}: {ratio:.2} (goal >= 0.5: {})", servers[i].name, verdict(ratio >= 0.5));
    }
    ledger_alone_figures(cpu[0], cpu[1], requests, concurrency, rounds);

    // CPU per event with every server under the same load: open loop at one rate (half the
    // slowest server's maximum), rounds paired as above. In the closed loop each server runs at
    // its own maximum, so what a turn of its runtime costs is shared by as many requests as it
    // has ready; at one rate every server meets the same arrivals, as from Event Grid.
    let common = max_rate.iter().copied().fold(f64::INFINITY, f64::min) / 2.0;
    let n = ((common * 2.0) as usize).clamp(1_000, requests);
    let mut at_rate: Vec<Vec<f64>> = servers.iter().map(|_| Vec::new()).collect();
    for r in 1..=rounds {
        for (i, s) in servers.iter().enumerate() {
            let (result, cpu) = drive_counted(s, n, concurrency, common, &format!("c{r}"));
            at_rate[i].push(cpu * 1e6 / result.events as f64);
        }
    }
    let at_rate: Vec<f64> = at_rate.into_iter().map(median).collect();
    let mut line = format!("CPU per event at one rate for all ({common:.0} ev/s open loop, {n} events, median of {rounds}):");
    for (i, s) in servers.iter().enumerate() {
        line += &format!(" | {} {:.1} us", short(s.name), at_rate[i]);
    }
    println!("{line}");
    for i in 1..servers.len() {
        println!("ratio bare/handler CPU per event at one rate, {}: {:.2} (the goal's figure is the closed-loop ratio above)", servers[i].name, at_rate[0] / at_rate[i]);
    }

    // Latency at half of each server's own maximum rate (open loop), in paired rounds (bare,
    // dry-run, live, bare, …) so that the machine's moments of noise fall on every server alike;
    // p99 over every request of every round, and each round's own.
    let mut pooled: Vec<(Vec<u32>, Vec<u32>, Vec<f64>)> = servers.iter().map(|_| Default::default()).collect();
    // The server's CPU over those rounds: seconds of CPU, and of the rounds' wall time.
    let mut busy: Vec<(f64, f64)> = servers.iter().map(|_| (0.0, 0.0)).collect();
    for r in 1..=rounds {
        for (i, s) in servers.iter().enumerate() {
            let rate = max_rate[i] / 2.0;
            let n = ((rate * 5.0) as usize).clamp(1_000, requests);
            let (result, cpu) = drive_counted(s, n, concurrency, rate, &format!("h{r}"));
            busy[i].0 += cpu;
            busy[i].1 += result.secs;
            pooled[i].2.push(result.p99_ms());
            pooled[i].0.extend(result.latencies_us);
            pooled[i].1.extend(result.late_us);
        }
    }
    for (i, s) in servers.iter().enumerate() {
        let (all, late, each) = &mut pooled[i];
        all.sort_unstable();
        late.sort_unstable();
        let p99 = pct(all, 0.99) / 1000.0;
        let (cpu_secs, wall_secs) = busy[i];
        println!(
            "{} at {:.0} ev/s (half its max), {rounds} rounds of {} events: p50 {:.2} ms, p99 {p99:.2} ms{} (each round's p99: {}; the load generator's own lateness, p99: {:.2} ms; the server's CPU {:.1} us/event, {:.0}% busy)",
            s.name,
            max_rate[i] / 2.0,
            all.len() / rounds,
            pct(all, 0.50) / 1000.0,
            if i == 0 { String::new() } else { format!(" (goal < 5 ms: {})", verdict(p99 < 5.0)) },
            each.iter().map(|p| format!("{p:.2}")).collect::<Vec<_>>().join(" / "),
            pct(late, 0.99) / 1000.0,
            cpu_secs * 1e6 / all.len() as f64,
            cpu_secs / wall_secs * 100.0
        );
    }
    for s in servers {
        let (name, rss, files) = (s.name, s.peak_rss_mib(), s.ledger_files());
        let lines = s.stop();
        println!("{name}: peak RSS {rss:.1} MiB, {lines} log lines on stdout (file){files}");
    }

    instructions(&handler);
    blob(&handler, concurrency);
}

/// User-space instructions per event, counted by callgrind (valgrind) in each server: the same
/// count on every run, so it shows a change in the servers' own work that the CPU figures'
/// noise hides. It leaves out the kernel (the TCP send and receive, the log file's writes) and
/// the cost of cache misses, which CPU per event includes.
fn instructions(handler: &Path) {
    let found = |tool: &str| Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !found("valgrind") || !found("callgrind_control") {
        println!("user-space instructions per event: not measured (valgrind with callgrind_control is not on PATH; apt-get install valgrind)");
        return;
    }
    let events = env_usize("BENCH_CALLGRIND_EVENTS", 2_000);
    let mut counts = Vec::new();
    for kind in [Kind::Bare, Kind::Handler { dry_run: true }, Kind::Handler { dry_run: false }] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("callgrind.out");
        let (server, _) = Server::start_under(kind, handler, None, Some(&out));
        let pid = server.child.id().to_string();
        let control = |what: &str| {
            let status = Command::new("callgrind_control").arg(what).arg(&pid).stdout(Stdio::null()).stderr(Stdio::null()).status().expect("callgrind_control runs");
            assert!(status.success(), "callgrind_control {what} {pid}: {status}");
        };
        // Warm-up, then count only the events: zero the counters, run, dump (to `<out>.1`).
        drive(server.port, 500, 8, 0.0, "cg-warm");
        control("-z");
        drive(server.port, events, 8, 0.0, "cg");
        control("-d");
        let dump = std::fs::read_to_string(format!("{}.1", out.display())).expect("callgrind's dump");
        let total: f64 = dump.lines().find_map(|l| l.strip_prefix("summary:")).and_then(|v| v.trim().parse().ok()).expect("the dump's summary line");
        counts.push((server.name, total / events as f64));
        server.stop();
    }
    let bare = counts[0].1;
    let line: Vec<String> = counts.iter().map(|(name, n)| format!("{name} {n:.0}")).collect();
    println!("user-space instructions per event (callgrind, {events} events after 500 of warm-up, 8 connections): {}", line.join(", "));
    for (name, n) in &counts[1..] {
        println!("ratio bare/handler instructions per event, {name}: {:.2}", bare / n);
    }
}

/// The handler on the blob ledger (Azurite), through a proxy that counts storage requests.
fn blob(handler: &Path, concurrency: usize) {
    if std::env::var_os("CADENCE_TEST_AZURITE_BLOB").is_none() {
        println!("blob ledger: not measured (start Azurite: `source scripts/services.sh && start_services`)");
        return;
    }
    let requests = env_usize("BENCH_BLOB_REQUESTS", 2_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let upstream = blob_support::endpoint();
    let container = blob_support::unique_container("bench");
    let counted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let proxy_port = runtime.block_on(proxy(upstream.clone(), counted.clone()));
    let direct_url = format!("{upstream}/{container}?{}", blob_support::account_sas());
    let url = format!("http://127.0.0.1:{proxy_port}/{}/{container}?{}", blob_support::ACCOUNT, blob_support::account_sas());
    runtime.block_on(async {
        aks_cadence::store::blob::BlobLedger::new(&direct_url, None).unwrap().ensure_container().await.expect("container");
    });
    let (server, _) = Server::start(Kind::HandlerBlob, handler, Some(&url));
    drive(server.port, 100, concurrency, 0.0, "blob-warm");
    let before = counted.load(std::sync::atomic::Ordering::SeqCst);
    let (result, cpu) = drive_counted(&server, requests, concurrency, 0.0, "blob");
    let trips = counted.load(std::sync::atomic::Ordering::SeqCst) - before;
    println!(
        "{}: {:.0} events/s per instance ({} connections), {:.1} storage round trips per event, p99 {:.1} ms, {:.0} us CPU/event",
        server.name,
        result.events as f64 / result.secs,
        concurrency,
        trips as f64 / result.events as f64,
        result.p99_ms(),
        cpu * 1e6 / result.events as f64
    );
    server.stop();
    runtime.block_on(blob_support::delete_container(&direct_url));
}

/// A forwarding HTTP proxy in front of Azurite that counts the requests it forwards.
async fn proxy(upstream: String, counted: std::sync::Arc<std::sync::atomic::AtomicUsize>) -> u16 {
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use axum::response::IntoResponse;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // Azurite's endpoint is http://host:port/<account>; requests keep their path.
    let origin = {
        let u = url::Url::parse(&upstream).unwrap();
        format!("{}://{}:{}", u.scheme(), u.host_str().unwrap(), u.port().unwrap())
    };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    type Shared = (reqwest::Client, String, std::sync::Arc<std::sync::atomic::AtomicUsize>);
    async fn forward(State((client, origin, counted)): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let url = format!("{origin}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
        let mut request = client.request(method, url).body(body);
        for (k, v) in &headers {
            if k != "host" && k != "content-length" {
                request = request.header(k, v);
            }
        }
        let response = request.send().await.expect("Azurite answers");
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let mut out_headers = HeaderMap::new();
        for (k, v) in response.headers() {
            if k != "content-length" && k != "transfer-encoding" && k != "connection" {
                out_headers.insert(k.clone(), v.clone());
            }
        }
        let bytes = response.bytes().await.unwrap_or_default();
        (status, out_headers, bytes)
    }
    let app = axum::Router::new().fallback(forward).with_state((client, origin, counted));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn short(name: &str) -> &str {
    name.split(" (").next().unwrap_or(name)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}
