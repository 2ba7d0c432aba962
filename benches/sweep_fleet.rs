//! A fleet sweep against a fake ARM that behaves like the real one where it matters for speed:
//! 5–20 ms of latency per request and ARM's read token bucket per subscription (250 burst,
//! refilling 25/s; an empty bucket answers 429 with `Retry-After`, and every answer carries
//! `x-ms-ratelimit-remaining-subscription-reads`).
//!
//! Prints, per upgrade source (per-cluster upgrade profile vs the region's version table): wall
//! time against the floor the bucket allows for the reads made (`max(0, (reads − 250) / 25)` s per
//! subscription, the largest of them), ARM reads per cluster, 429s, and the process's peak memory
//! (VmHWM; the fake ARM runs in the same process).
//!
//! Readiness reads are on (`SWEEP_FLEET_READINESS=0` turns them off): every cluster has an upgrade
//! pending, so every cluster needs its region's Compute usages (shared per subscription + region)
//! and the usages of the virtual network its pools' subnet is in (shared per network: every 50
//! clusters of a subscription share a network, each with a subnet of its own). The readiness
//! reads are printed apart.
//!
//! The security baseline is on (`SWEEP_FLEET_BASELINE=0` turns it off): a `[baseline]` policy,
//! inventory rows that carry the properties it reads, and the one Defender-plan query per sweep.
//! Its line shows how many clusters were evaluated from the inventory alone and the Resource
//! Graph queries; the ARM reads are the same with it on or off.
//!
//! ```text
//! cargo bench --bench sweep_fleet -- 1000          # clusters (default 1000)
//! SWEEP_FLEET_SUBS=4 SWEEP_FLEET_CONCURRENCY=32 SWEEP_FLEET_MODES=region cargo bench --bench sweep_fleet -- 10000
//! ```
//! The work is IO-bound (throttling and latency), so `--profile dev` gives the same figures
//! without a release build of the dependency tree.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aks_cadence::azure::{ArmClient, ArmConfig, StaticToken};
use aks_cadence::sweeper::Sweeper;
use aks_cadence::sweep::{SweepContext, SweepOptions, UpgradeSource};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

const BURST: f64 = 250.0;
const REFILL: f64 = 25.0;
const REGIONS: [&str; 4] = ["westeurope", "northeurope", "eastus", "westus2"];
const VERSIONS: [&str; 5] = ["1.23.12", "1.24.6", "1.24.9", "1.25.4", "1.25.5"];
const FAMILIES: [(&str, &str); 3] =
    [("AKSUbuntu-2204gen2containerd", "Ubuntu"), ("AKSAzureLinux-V2gen2", "AzureLinux"), ("AKSUbuntu-2204gen2arm64containerd", "Ubuntu")];
const POOLS: [&str; 3] = ["system", "user1", "user2"];
const LATEST: &str = "202405.03.0";
const OLDER: &str = "202401.09.0";

fn fixture(rel: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("fixture")).expect("fixture JSON")
}

struct Fake {
    clusters: usize,
    subs: Vec<String>,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    reads_served: Mutex<HashMap<String, u64>>,
    /// Readiness reads served: (Compute usages, virtual network usages).
    readiness_reads: (AtomicU64, AtomicU64),
    throttled: AtomicU64,
    requests: AtomicU64,
    /// Resource Graph queries answered: (inventory pages, Defender-plan queries).
    graph_queries: (AtomicU64, AtomicU64),
    versions: Value,
    cluster_profile: Value,
    pool_profile: Value,
    maintenance: Value,
    graph_envelope: Value,
    compute_usages: Value,
    network_usages: Value,
}

impl Fake {
    fn new(clusters: usize, subs: usize) -> Self {
        let body = |f: &str| fixture(&format!("arm/{f}"))["responses"]["200"]["body"].clone();
        Self {
            clusters,
            subs: (0..subs).map(|i| format!("{i:08x}-0000-0000-0000-000000000000")).collect(),
            buckets: Mutex::new(HashMap::new()),
            graph_queries: (AtomicU64::new(0), AtomicU64::new(0)),
            reads_served: Mutex::new(HashMap::new()),
            readiness_reads: (AtomicU64::new(0), AtomicU64::new(0)),
            throttled: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            versions: body("kubernetes_versions_list.2025-10-01.json"),
            cluster_profile: body("managedclusters_get_upgrade_profile.2026-06-01.json"),
            pool_profile: body("agentpools_get_upgrade_profile.2026-06-01.json"),
            maintenance: body("maintenance_configurations_list_maintenance_window.2026-06-01.json"),
            graph_envelope: fixture("resourcegraph/resources_first_page_query.2024-04-01.json")["responses"]["200"]["body"].clone(),
            compute_usages: body("compute_usage_list.2024-07-01.json"),
            network_usages: body("virtual_network_list_usage.2023-09-01.json"),
        }
    }

    fn family(i: usize, j: usize) -> (&'static str, &'static str) {
        FAMILIES[(i + j) % FAMILIES.len()]
    }

    /// The virtual network of cluster `i`: every 50 clusters of a subscription share one, each
    /// with a subnet of its own.
    fn network(&self, i: usize) -> usize {
        i / self.subs.len() / 50
    }

    fn row(&self, i: usize) -> Value {
        let sub = &self.subs[i % self.subs.len()];
        let network = self.network(i);
        let version = VERSIONS[i % VERSIONS.len()];
        let pools: Vec<Value> = POOLS
            .iter()
            .enumerate()
            .map(|(j, name)| {
                let (family, sku) = Self::family(i, j);
                let date = if (i + j).is_multiple_of(2) { LATEST } else { OLDER };
                json!({"name": name, "mode": if j == 0 {"System"} else {"User"}, "osSKU": sku, "osType": "Linux",
                       "orchestratorVersion": version, "currentOrchestratorVersion": version,
                       "nodeImageVersion": format!("{family}-{date}"), "provisioningState": "Succeeded",
                       "count": 3, "vmSize": "Standard_D4s_v3", "maxPods": 110, "upgradeSettings": {"maxSurge": "33%"},
                       "vnetSubnetID": format!("/subscriptions/{sub}/resourceGroups/rg-net-{network}/providers/Microsoft.Network/virtualNetworks/vnet-{network}/subnets/c{i}")})
            })
            .collect();
        json!({
            "id": format!("/subscriptions/{sub}/resourceGroups/rg-{}/providers/Microsoft.ContainerService/managedClusters/c{i}", i / 50),
            "name": format!("c{i}"), "resourceGroup": format!("rg-{}", i / 50), "subscriptionId": sub,
            "location": REGIONS[i % REGIONS.len()], "tags": {"team": format!("t{}", i % 7)},
            "currentKubernetesVersion": version, "kubernetesVersion": version, "provisioningState": "Succeeded",
            "powerState": "Running", "supportPlan": "KubernetesOfficial",
            "autoUpgradeProfile": {"upgradeChannel": "none", "nodeOSUpgradeChannel": "NodeImage"},
            "fqdn": format!("c{i}-dns.hcp.{}.azmk8s.io", REGIONS[i % REGIONS.len()]), "privateFqdn": "",
            "agentPoolProfiles": pools,
            "networkProfile": {"networkPlugin": "azure", "networkPluginMode": "overlay", "networkPolicy": "azure", "outboundType": "loadBalancer"},
            // What the security baseline reads besides the above (docs/baseline.md).
            "enableRBAC": true, "disableLocalAccounts": i.is_multiple_of(3),
            "aadProfile": {"managed": true, "enableAzureRBAC": true},
            "apiServerAccessProfile": {"enablePrivateCluster": i.is_multiple_of(2)},
            "securityProfile": {"defender": {"securityMonitoring": {"enabled": true}}, "workloadIdentity": {"enabled": !i.is_multiple_of(4)}},
            "oidcIssuerProfile": {"enabled": true},
            "addonProfiles": {"azurepolicy": {"enabled": true}},
            "sku": {"name": "Base", "tier": "Standard"},
        })
    }

    /// Takes a read token from `sub`'s bucket: `Ok(remaining)` or `Err(retry_after_secs)`.
    fn take(&self, sub: &str) -> Result<u64, u64> {
        let mut buckets = self.buckets.lock().unwrap();
        let now = Instant::now();
        let (tokens, last) = buckets.entry(sub.to_string()).or_insert((BURST, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * REFILL).min(BURST);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            *self.reads_served.lock().unwrap().entry(sub.to_string()).or_default() += 1;
            Ok(tokens.floor() as u64)
        } else {
            Err((((1.0 - *tokens) / REFILL).ceil() as u64).max(1))
        }
    }
}

async fn handle(State(fake): State<Arc<Fake>>, method: Method, uri: Uri, body: Bytes) -> Response {
    let n = fake.requests.fetch_add(1, Ordering::Relaxed);
    // 5–20 ms, spread deterministically.
    let jitter = (n.wrapping_mul(2654435761) >> 7) % 16;
    tokio::time::sleep(Duration::from_millis(5 + jitter)).await;
    let path = uri.path();
    if method == Method::POST && path.ends_with("/Microsoft.ResourceGraph/resources") {
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if req["query"].as_str().is_some_and(|q| q.contains("securityresources")) {
            // The security baseline's one subscription-level query: Defender on everywhere.
            fake.graph_queries.1.fetch_add(1, Ordering::Relaxed);
            let mut page = fake.graph_envelope.clone();
            let rows: Vec<Value> =
                fake.subs.iter().map(|s| json!({"subscriptionId": s, "name": "Containers", "pricingTier": "Standard", "subPlan": ""})).collect();
            page["totalRecords"] = json!(rows.len());
            page["count"] = json!(rows.len());
            page["data"] = Value::Array(rows);
            page.as_object_mut().unwrap().remove("$skipToken");
            return axum::Json(page).into_response();
        }
        fake.graph_queries.0.fetch_add(1, Ordering::Relaxed);
        let offset: usize = req["options"]["$skipToken"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
        let top = req["options"]["$top"].as_u64().unwrap_or(1000) as usize;
        let end = (offset + top).min(fake.clusters);
        let mut page = fake.graph_envelope.clone();
        page["totalRecords"] = json!(fake.clusters);
        page["count"] = json!(end - offset);
        page["data"] = Value::Array((offset..end).map(|i| fake.row(i)).collect());
        if end < fake.clusters {
            page["$skipToken"] = json!(end.to_string());
        } else {
            page.as_object_mut().unwrap().remove("$skipToken");
        }
        return axum::Json(page).into_response();
    }
    if method != Method::GET {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let sub = path.split('/').nth(2).unwrap_or("tenant").to_string();
    let remaining = match fake.take(&sub) {
        Ok(r) => r,
        Err(retry) => {
            fake.throttled.fetch_add(1, Ordering::Relaxed);
            let body = json!({"error": {"code": "TooManyRequests", "message": "subscription read bucket empty"}});
            return (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", retry.to_string())], axum::Json(body)).into_response();
        }
    };
    let body = if path.ends_with("/kubernetesVersions") {
        fake.versions.clone()
    } else if path.contains("/agentPools/") && path.ends_with("/upgradeProfiles/default") {
        let segs: Vec<&str> = path.split('/').collect();
        let i: usize = segs.iter().find_map(|s| s.strip_prefix('c').and_then(|n| n.parse().ok())).unwrap_or(0);
        let pool = segs.iter().position(|s| *s == "agentPools").map(|p| segs[p + 1]).unwrap_or("system");
        let j = POOLS.iter().position(|p| *p == pool).unwrap_or(0);
        let mut b = fake.pool_profile.clone();
        b["properties"]["latestNodeImageVersion"] = json!(format!("{}-{LATEST}", Fake::family(i, j).0));
        b
    } else if path.ends_with("/upgradeProfiles/default") {
        fake.cluster_profile.clone()
    } else if path.ends_with("/maintenanceConfigurations") {
        fake.maintenance.clone()
    } else if path.contains("/Microsoft.Compute/locations/") && path.ends_with("/usages") {
        fake.readiness_reads.0.fetch_add(1, Ordering::Relaxed);
        let mut b = fake.compute_usages.clone();
        b["value"] = json!([{"unit": "Count", "currentValue": 400, "limit": 100000, "name": {"value": "cores", "localizedValue": "Total Regional vCPUs"}},
                            {"unit": "Count", "currentValue": 400, "limit": 100000, "name": {"value": "standardDSv3Family", "localizedValue": "Standard DSv3 Family vCPUs"}}]);
        b.as_object_mut().unwrap().remove("nextLink");
        b
    } else if path.contains("/virtualNetworks/") && path.ends_with("/usages") {
        fake.readiness_reads.1.fetch_add(1, Ordering::Relaxed);
        // The subnets of this network, one per cluster (`c{i}`), 6 of 251 addresses used.
        let network = path.trim_end_matches("/usages");
        let group: usize = network.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let k = fake.subs.iter().position(|s| *s == sub).unwrap_or(0);
        let entry = fake.network_usages["value"][1].clone();
        let value: Vec<Value> = (0..fake.clusters)
            .skip(k)
            .step_by(fake.subs.len())
            .filter(|i| fake.network(*i) == group)
            .map(|i| {
                let mut e = entry.clone();
                e["id"] = json!(format!("{network}/subnets/c{i}"));
                e["currentValue"] = json!(6.0);
                e["limit"] = json!(251.0);
                e
            })
            .collect();
        json!({ "value": value })
    } else {
        return StatusCode::NOT_FOUND.into_response();
    };
    ([("x-ms-ratelimit-remaining-subscription-reads", remaining.to_string())], axum::Json(body)).into_response()
}

async fn start_fake(clusters: usize, subs: usize) -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::new(clusters, subs));
    let app = axum::Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

struct Figures {
    wall: Duration,
    floor: Duration,
    reads: u64,
    /// (Compute usages, virtual network usages) reads.
    readiness_reads: (u64, u64),
    /// Clusters whose snapshot carries readiness facts.
    assessed: usize,
    throttled: u64,
    signals: usize,
    failures: usize,
    /// Resource Graph queries: (inventory pages, Defender-plan queries).
    graph_queries: (u64, u64),
    /// Clusters whose baseline was evaluated from the inventory alone, and the failing checks found.
    baseline: (usize, usize),
}

async fn run(clusters: usize, subs: usize, concurrency: usize, source: UpgradeSource, readiness: bool, baseline: bool) -> Figures {
    let (uri, fake) = start_fake(clusters, subs).await;
    let mut cfg = ArmConfig::new(uri);
    cfg.max_concurrency = concurrency;
    let arm = ArmClient::new(cfg, Arc::new(StaticToken::new("bench"))).unwrap();
    let mut ctx = SweepContext::new(arm, Vec::new(), concurrency);
    // Certificates are not read: the fake names do not resolve, and the figures compare ARM reads.
    ctx.options = SweepOptions { upgrades_from: source, certificates: aks_cadence::sweep::CertificateChecks::off(), readiness };
    // The sweep as `handler sweep` reads the fleet (`Sweeper::read_fleet`, the reading half of
    // `Sweeper::local`); planning is not measured here (benches/plan_ledger.rs measures it).
    let dir = tempfile::tempdir().unwrap();
    let ledger: Arc<dyn aks_cadence::store::Ledger> = Arc::new(aks_cadence::store::sqlite::SqliteLedger::open(dir.path().join("cadence.db")).unwrap());
    let policy = if baseline {
        aks_cadence::policy::Policy::parse("[baseline]\n", "bench.toml").expect("policy")
    } else {
        aks_cadence::policy::Policy::builtin()
    };
    let pipeline = aks_cadence::wiring::Parts::new(Arc::new(policy.clone()), ledger, Vec::new(), true, aks_cadence::pipeline::system_clock()).pipeline();
    let sweeper = Sweeper::new(ctx, Arc::new(pipeline));
    let t0 = Instant::now();
    let local = sweeper.read_fleet(concurrency).await.expect("sweep");
    let wall = t0.elapsed();
    let served = fake.reads_served.lock().unwrap().clone();
    let reads: u64 = served.values().sum();
    // The baseline as the planner evaluates it: from each snapshot's inventory view and the one
    // Defender query, no read of its own.
    let today = jiff::tz::Offset::UTC.to_datetime(jiff::Timestamp::now()).date();
    let mut evaluated = (0, 0);
    if let Some(checks) = &policy.baseline {
        for snap in &local.snapshots {
            let Some(resource) = &snap.baseline else { continue };
            let context = aks_cadence::baseline::ClusterContext { maintenance_configurations: None, defender_plan: snap.defender_plan.clone() };
            let findings = aks_cadence::baseline::assess(checks, &snap.cluster, &snap.facts, resource, &context, today);
            evaluated.0 += 1;
            evaluated.1 += findings.iter().filter(|f| f.status.is_failing()).count();
        }
    }
    let floor_secs = served.values().map(|r| ((*r as f64 - BURST) / REFILL).max(0.0)).fold(0.0, f64::max);
    Figures {
        wall,
        floor: Duration::from_secs_f64(floor_secs),
        reads,
        readiness_reads: (fake.readiness_reads.0.load(Ordering::Relaxed), fake.readiness_reads.1.load(Ordering::Relaxed)),
        assessed: local.snapshots.iter().filter(|s| s.readiness.is_some()).count(),
        throttled: fake.throttled.load(Ordering::Relaxed),
        signals: local.snapshots.iter().map(|s| s.signals.len()).sum(),
        failures: local.failures.len(),
        graph_queries: (fake.graph_queries.0.load(Ordering::Relaxed), fake.graph_queries.1.load(Ordering::Relaxed)),
        baseline: evaluated,
    }
}

fn main() {
    let clusters: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .or_else(|| std::env::var("SWEEP_FLEET_CLUSTERS").ok()?.parse().ok())
        .unwrap_or(1000);
    let subs: usize = std::env::var("SWEEP_FLEET_SUBS").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let concurrency: usize = std::env::var("SWEEP_FLEET_CONCURRENCY").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
    let modes = std::env::var("SWEEP_FLEET_MODES").unwrap_or_else(|_| "cluster-profile,region".into());
    let readiness = std::env::var("SWEEP_FLEET_READINESS").map_or(true, |v| v != "0");
    let baseline = std::env::var("SWEEP_FLEET_BASELINE").map_or(true, |v| v != "0");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    println!(
        "sweep_fleet: {clusters} clusters, {subs} subscription(s), {} regions, {} pools each, concurrency {concurrency}, latency 5-20 ms, read bucket {BURST} + {REFILL}/s per subscription, readiness reads {}, baseline {}",
        REGIONS.len(),
        POOLS.len(),
        if readiness { "on" } else { "off" },
        if baseline { "on" } else { "off" }
    );
    println!("{:<16} {:>9} {:>7} {:>13} {:>6} {:>9} {:>10} {:>8}", "upgrades from", "wall", "reads", "reads/cluster", "429s", "floor", "wall/floor", "signals");
    for mode in modes.split(',').map(str::trim) {
        let source = match mode {
            "cluster-profile" => UpgradeSource::ClusterProfile,
            "region" => UpgradeSource::Region,
            other => panic!("unknown mode {other}: use cluster-profile or region"),
        };
        let f = rt.block_on(run(clusters, subs, concurrency, source, readiness, baseline));
        let ratio = if f.floor.is_zero() { "-".to_string() } else { format!("{:.2}", f.wall.as_secs_f64() / f.floor.as_secs_f64()) };
        println!(
            "{:<16} {:>8.1}s {:>7} {:>13.2} {:>6} {:>8.1}s {:>10} {:>8}",
            mode,
            f.wall.as_secs_f64(),
            f.reads,
            f.reads as f64 / clusters as f64,
            f.throttled,
            f.floor.as_secs_f64(),
            ratio,
            f.signals
        );
        println!(
            "{:<16} readiness: {} of {} clusters assessed; {} Compute usages + {} virtual network usages reads ({:.3} per cluster)",
            "",
            f.assessed,
            clusters,
            f.readiness_reads.0,
            f.readiness_reads.1,
            (f.readiness_reads.0 + f.readiness_reads.1) as f64 / clusters as f64
        );
        println!(
            "{:<16} baseline: {} of {} clusters evaluated from the inventory ({} failing checks); Resource Graph: {} inventory page(s) + {} Defender-plan query; ARM reads above include none for the baseline",
            "",
            f.baseline.0,
            clusters,
            f.baseline.1,
            f.graph_queries.0,
            f.graph_queries.1
        );
        assert_eq!(f.failures, 0, "every cluster swept");
        if baseline {
            assert_eq!(f.baseline.0, clusters, "every cluster's baseline comes from its inventory row");
            assert_eq!(f.graph_queries.1, 1, "one Defender-plan query per sweep");
        }
        if readiness {
            assert_eq!(f.assessed, clusters, "every cluster with an upgrade pending has its readiness read");
        }
    }
    // The baseline the shared caches are measured against (computed, not run: it would take
    // minutes more): every cluster reading its region's versions and each pool's upgrade profile.
    let naive = clusters as u64 * (1 + POOLS.len() as u64 + 1 + 1);
    let naive_floor = ((naive as f64 / subs as f64 - BURST) / REFILL).max(0.0);
    println!(
        "{:<16} {:>9} {:>7} {:>13.2} {:>6} {:>8.1}s   (computed: no shared caches)",
        "uncached", "-", naive, naive as f64 / clusters as f64, "-", naive_floor
    );
    match peak_memory_kib() {
        Some(kib) => println!("peak memory (VmHWM, fake ARM included): {:.1} MiB", kib as f64 / 1024.0),
        None => println!("peak memory: /proc/self/status not readable"),
    }
}
