//! Throughput of `POST /aks-events` against a bare axum server in the same run.
//!
//! Both servers run in this process on 127.0.0.1:0 with the same `serve` settings; one
//! in-process load generator (reqwest, `CONCURRENCY` connections, a fixed `REQUESTS` count)
//! drives each with the real Event Grid fixtures wrapped in the custom-handler envelope, a
//! third of them string-encoded as the Functions host sometimes sends them. The handler does
//! the real work up to the sink: envelope decoding, ingestion into signals, structured JSON
//! logging (to a sink writer, so formatting is paid for), the invocation response. The bare
//! server reads the body and answers a constant 200.
//!
//! Run: `cargo bench --bench handler_throughput` (env: BENCH_REQUESTS, BENCH_CONCURRENCY,
//! BENCH_ROUNDS). Target: the handler keeps at least half the bare server's events/s.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aks_cadence::host::{AppState, serve};
use aks_cadence::ingest::Ingested;
use aks_cadence::pipeline::{EventSink, PipelineError, RunReport};
use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use axum::serve::ListenerExt;
use serde_json::{Value, json};

/// Receives what the host ingested and does nothing further: the benchmark measures the
/// host and ingestion, not the planner or the ledger.
struct CountingSink(AtomicUsize);

#[async_trait::async_trait]
impl EventSink for CountingSink {
    async fn handle(&self, events: Vec<Ingested>) -> Result<RunReport, PipelineError> {
        self.0.fetch_add(events.len(), Ordering::Relaxed);
        Ok(RunReport::default())
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Every real event fixture, wrapped as the Functions host posts it.
fn bodies() -> Vec<Bytes> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventgrid");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let mut out = Vec::new();
    for (i, path) in names.iter().enumerate() {
        let value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        // Only single events: the trigger fans batches out to one invocation per event.
        let is_event = value.get("eventType").is_some() || value.get("specversion").is_some() || value.get("specVersion").is_some();
        if !is_event {
            continue;
        }
        let event = if i % 3 == 0 { Value::String(value.to_string()) } else { value };
        let envelope = json!({
            "Data": {"event": event},
            "Metadata": {"sys": {"MethodName": "aks-events", "UtcNow": "2026-01-01T00:00:00Z", "RandGuid": "24ad4c06-24ad-4e5b-8294-3da9714877e9"}}
        });
        out.push(Bytes::from(envelope.to_string()));
    }
    assert!(out.len() >= 15, "expected the real fixtures, found {}", out.len());
    out
}

struct Figures {
    events_per_sec: f64,
    p50: Duration,
    p99: Duration,
}

async fn drive(url: &str, bodies: &[Bytes], requests: usize, concurrency: usize) -> Figures {
    let client = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(concurrency).tcp_nodelay(true).build().unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, next, url, bodies) = (client.clone(), next.clone(), url.to_string(), bodies.to_vec());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let body = bodies[i % bodies.len()].clone();
                let t = Instant::now();
                let response = client.post(&url).header("content-type", "application/json").body(body).send().await.expect("request");
                let status = response.status();
                let _ = response.bytes().await.expect("body");
                assert_eq!(status, 200, "{url}");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::with_capacity(requests);
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct = |p: f64| all[((all.len() as f64 * p).ceil() as usize).saturating_sub(1).min(all.len() - 1)];
    Figures { events_per_sec: all.len() as f64 / elapsed.as_secs_f64(), p50: pct(0.50), p99: pct(0.99) }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // JSON logs as under the Functions host, written to nowhere: formatting cost is measured.
    tracing_subscriber::fmt().json().with_writer(std::io::sink).with_max_level(tracing::Level::INFO).init();

    let requests = env_usize("BENCH_REQUESTS", 20_000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 32);
    let rounds = env_usize("BENCH_ROUNDS", 3).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    runtime.block_on(async move {
        let sink = Arc::new(CountingSink(AtomicUsize::new(0)));
        let state = AppState::events_only(sink.clone(), 1024 * 1024);
        let handler_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let handler_url = format!("http://{}/aks-events", handler_listener.local_addr().unwrap());
        tokio::spawn(serve(handler_listener, state, std::future::pending()));

        let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let bare_url = format!("http://{}/aks-events", bare_listener.local_addr().unwrap());
        let bare = Router::new().route(
            "/aks-events",
            post(|_body: Bytes| async { ([("content-type", "application/json")], r#"{"Outputs":{},"Logs":[],"ReturnValue":null}"#) }),
        );
        let bare_listener = bare_listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(bare_listener, bare).await });

        let bodies = bodies();
        println!(
            "handler_throughput: {requests} requests per run, {concurrency} connections, {} real fixture bodies, {rounds} interleaved rounds",
            bodies.len()
        );
        // Warm both up (connections, allocator, caches).
        drive(&bare_url, &bodies, 3_000, concurrency).await;
        drive(&handler_url, &bodies, 3_000, concurrency).await;

        let (mut bare_runs, mut handler_runs) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            let b = drive(&bare_url, &bodies, requests, concurrency).await;
            let h = drive(&handler_url, &bodies, requests, concurrency).await;
            println!(
                "round {round}: bare {:>9.0} ev/s p50 {:.3} ms p99 {:.3} ms | handler {:>9.0} ev/s p50 {:.3} ms p99 {:.3} ms | ratio {:.2}",
                b.events_per_sec,
                ms(b.p50),
                ms(b.p99),
                h.events_per_sec,
                ms(h.p50),
                ms(h.p99),
                h.events_per_sec / b.events_per_sec
            );
            bare_runs.push(b);
            handler_runs.push(h);
        }
        let median = |runs: &mut Vec<Figures>| {
            runs.sort_by(|a, b| a.events_per_sec.total_cmp(&b.events_per_sec));
            runs.swap_remove(runs.len() / 2)
        };
        let (b, h) = (median(&mut bare_runs), median(&mut handler_runs));
        let ratio = h.events_per_sec / b.events_per_sec;
        println!("bare     (median round): {:>9.0} events/s  p50 {:.3} ms  p99 {:.3} ms", b.events_per_sec, ms(b.p50), ms(b.p99));
        println!("handler  (median round): {:>9.0} events/s  p50 {:.3} ms  p99 {:.3} ms", h.events_per_sec, ms(h.p50), ms(h.p99));
        println!(
            "ratio handler/bare: {ratio:.2} (target >= 0.50: {})  — events seen by the sink: {}",
            if ratio >= 0.5 { "met" } else { "NOT met" },
            sink.0.load(Ordering::Relaxed)
        );
    });
}
