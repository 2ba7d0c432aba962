//! The real `handler sweep` binary against a fake ARM that behaves like the real one where it
//! matters for speed: 5–20 ms of latency per request, ARM's read token bucket per subscription
//! (250 burst, refilling 25/s) and its write bucket (200 burst, refilling 10/s: ARM meters the
//! `listClusterUserCredential` POST as a write); an empty bucket answers 429 with `Retry-After`,
//! and every answer carries `x-ms-ratelimit-remaining-subscription-reads` (or `-writes`).
//!
//! The binary runs as in production: `wiring::sweeper` from settings (the per-cluster upgrade
//! profile, readiness reads, the event-wiring query, `[baseline]` policy, dry-run, SQLite ledger)
//! and certificate reads on as they are by default — each cluster's user kubeconfig
//! (`CADENCE_SWEEP_KUBECONFIG_CERTS`, a write) and a TLS handshake with its public API server (a
//! TLS listener on 127.0.0.1:443 presenting an rcgen certificate; the clusters' `fqdn` is
//! `localhost`). `SWEEP_FLEET_CERTS=0` turns both off (`CADENCE_SWEEP_KUBECONFIG_CERTS=false`
//! and no `fqdn`), to compare ARM reads alone.
//!
//! Prints, per fleet size: wall time against the floor the buckets allow for the calls made
//! (`max(0, (reads − 250) / 25)` s and `max(0, (writes − 200) / 10)` s per subscription, the
//! largest of them), ARM reads and writes per cluster, 429s, and the binary's peak resident memory
//! (`ru_maxrss` from `wait4`: the `handler` process alone, not the fake); then the ratio of the
//! largest fleet's peak to the smallest's, measured in the same run.
//!
//! Every cluster has an upgrade pending, so every cluster needs its region's Compute usages
//! (shared per subscription + region) and the usages of the virtual network its pools' subnet is
//! in (shared per network: every 50 clusters of a subscription share a network, each with a subnet
//! of its own). The security baseline's one Defender-plan query is answered
//! (`SWEEP_FLEET_BASELINE=0`: the built-in policy, no `[baseline]`).
//!
//! ```text
//! cargo bench --bench sweep_fleet -- 1000 10000    # fleet sizes (default 1000 10000)
//! SWEEP_FLEET_SUBS=8 SWEEP_FLEET_CONCURRENCY=16 SWEEP_FLEET_CERTS=0 cargo bench --bench sweep_fleet -- 2000
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[path = "../tests/certs_support/mod.rs"]
mod certs_support;

const BURST: f64 = 250.0;
const REFILL: f64 = 25.0;
const WRITE_BURST: f64 = 200.0;
const WRITE_REFILL: f64 = 10.0;
const IDENTITY_HEADER: &str = "bench-identity-header";
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
    /// Per subscription: the read bucket and the write bucket, (tokens, last refill).
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    write_buckets: Mutex<HashMap<String, (f64, Instant)>>,
    reads_served: Mutex<HashMap<String, u64>>,
    writes_served: Mutex<HashMap<String, u64>>,
    /// Resource Graph wiring queries answered (pages).
    wiring_pages: AtomicU64,
    /// Whether clusters have a public API server (`fqdn` = `localhost`) to dial.
    api_server: bool,
    /// The `listClusterUserCredential` answer: a kubeconfig with an rcgen CA and client certificate.
    credentials: Value,
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
    fn new(clusters: usize, subs: usize, api_server: bool, credentials: Value) -> Self {
        let body = |f: &str| fixture(&format!("arm/{f}"))["responses"]["200"]["body"].clone();
        Self {
            clusters,
            subs: (0..subs).map(|i| format!("{i:08x}-0000-0000-0000-000000000000")).collect(),
            buckets: Mutex::new(HashMap::new()),
            write_buckets: Mutex::new(HashMap::new()),
            writes_served: Mutex::new(HashMap::new()),
            wiring_pages: AtomicU64::new(0),
            api_server,
            credentials,
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
            // A public API server on this machine (the bench's TLS listener on 127.0.0.1:443).
            "fqdn": if self.api_server { "localhost" } else { "" }, "privateFqdn": "",
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
        take_token(&self.buckets, &self.reads_served, sub, BURST, REFILL)
    }

    /// Takes a write token from `sub`'s write bucket.
    fn take_write(&self, sub: &str) -> Result<u64, u64> {
        take_token(&self.write_buckets, &self.writes_served, sub, WRITE_BURST, WRITE_REFILL)
    }
}

/// ARM's token bucket: `Ok(remaining)` or `Err(retry_after_secs)`.
fn take_token(buckets: &Mutex<HashMap<String, (f64, Instant)>>, served: &Mutex<HashMap<String, u64>>, sub: &str, burst: f64, refill: f64) -> Result<u64, u64> {
    let mut buckets = buckets.lock().unwrap();
    let now = Instant::now();
    let (tokens, last) = buckets.entry(sub.to_string()).or_insert((burst, now));
    *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * refill).min(burst);
    *last = now;
    if *tokens >= 1.0 {
        *tokens -= 1.0;
        *served.lock().unwrap().entry(sub.to_string()).or_default() += 1;
        Ok(tokens.floor() as u64)
    } else {
        Err((((1.0 - *tokens) / refill).ceil() as u64).max(1))
    }
}

impl Fake {
    /// The App Service managed identity answer (`IDENTITY_ENDPOINT`), for `resource`.
    fn token(resource: &str) -> Value {
        let mut token = fixture("functions-host/managed_identity_token_response.app_service.docs.json");
        token["access_token"] = json!("bench-token");
        token["expires_on"] = json!((jiff::Timestamp::now().as_second() + 3600).to_string());
        token["resource"] = json!(resource);
        token
    }

    /// A Resource Graph page of `total` rows from `offset`, built by `row`.
    fn graph_page(&self, offset: usize, top: usize, total: usize, row: impl Fn(usize) -> Value) -> Value {
        let end = (offset + top).min(total);
        let mut page = self.graph_envelope.clone();
        page["totalRecords"] = json!(total);
        page["count"] = json!(end - offset);
        page["data"] = Value::Array((offset..end).map(row).collect());
        if end < total {
            page["$skipToken"] = json!(end.to_string());
        } else {
            page.as_object_mut().unwrap().remove("$skipToken");
        }
        page
    }
}

async fn handle(State(fake): State<Arc<Fake>>, method: Method, uri: Uri, body: Bytes) -> Response {
    let n = fake.requests.fetch_add(1, Ordering::Relaxed);
    // 5–20 ms, spread deterministically.
    let jitter = (n.wrapping_mul(2654435761) >> 7) % 16;
    tokio::time::sleep(Duration::from_millis(5 + jitter)).await;
    let path = uri.path();
    if method == Method::GET && path == "/msi/token" {
        let resource = uri.query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("resource="))).unwrap_or("");
        let resource = url::form_urlencoded::parse(format!("r={resource}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default();
        return axum::Json(Fake::token(&resource)).into_response();
    }
    if method == Method::POST && path.ends_with("/Microsoft.ResourceGraph/resources") {
        let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let offset: usize = req["options"]["$skipToken"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
        let top = req["options"]["$top"].as_u64().unwrap_or(1000) as usize;
        if req["query"].as_str().is_some_and(|q| q.contains("microsoft.eventgrid/systemtopics")) {
            // The event-wiring query: every cluster has its system topic, as the infra deploys.
            fake.wiring_pages.fetch_add(1, Ordering::Relaxed);
            let page = fake.graph_page(offset, top, fake.clusters, |i| {
                let id = fake.row(i)["id"].as_str().unwrap().to_string();
                let rg_end = id.find("/providers/").unwrap();
                json!({"id": format!("{}/providers/Microsoft.EventGrid/systemTopics/aks-cadence-c{i}", &id[..rg_end]), "source": id})
            });
            return axum::Json(page).into_response();
        }
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
        let page = fake.graph_page(offset, top, fake.clusters, |i| fake.row(i));
        return axum::Json(page).into_response();
    }
    if method == Method::POST && path.ends_with("/listClusterUserCredential") {
        let sub = path.split('/').nth(2).unwrap_or("tenant").to_string();
        return match fake.take_write(&sub) {
            Ok(remaining) => ([("x-ms-ratelimit-remaining-subscription-writes", remaining.to_string())], axum::Json(fake.credentials.clone())).into_response(),
            Err(retry) => {
                fake.throttled.fetch_add(1, Ordering::Relaxed);
                let body = json!({"error": {"code": "TooManyRequests", "message": "subscription write bucket empty"}});
                (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", retry.to_string())], axum::Json(body)).into_response()
            }
        };
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

async fn start_fake(fake: Arc<Fake>) -> String {
    let app = axum::Router::new().fallback(handle).with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// The certificates every cluster presents: an rcgen CA, the API server's certificate (served on
/// 127.0.0.1:443) and the user's client certificate (in the kubeconfig).
struct Certificates {
    ca: certs_support::Ca,
    server: certs_support::Leaf,
    client: certs_support::Leaf,
}

impl Certificates {
    fn new() -> Self {
        let ca = certs_support::Ca::new("bench-ca", (2024, 1, 1, 0), (2034, 1, 1, 0));
        let server = certs_support::leaf("apiserver", (2024, 1, 1, 0), (2030, 1, 1, 0), &ca);
        let client = certs_support::leaf("masterclient", (2024, 1, 1, 0), (2030, 1, 1, 0), &ca);
        Self { ca, server, client }
    }

    /// The `listClusterUserCredential` example with a real kubeconfig in place of its placeholder.
    fn credentials(&self) -> Value {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let kubeconfig = format!(
            "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: https://localhost:443\n  name: c\ncontexts:\n- context:\n    cluster: c\n    user: u\n  name: c\ncurrent-context: c\nkind: Config\nusers:\n- name: u\n  user:\n    client-certificate-data: {}\n    token: 0123456789abcdef\n",
            b64(&self.ca.pem()),
            b64(&self.client.pem)
        );
        let mut body = fixture("arm/managedclusters_list_cluster_user_credentials.2026-04-01.json")["responses"]["200"]["body"].clone();
        body["kubeconfigs"][0]["value"] = json!(b64(&kubeconfig));
        body
    }

    /// Every cluster's API server: a TLS listener on 127.0.0.1:443 (the port the sweep dials).
    async fn serve_api_server(&self) -> std::io::Result<()> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.server.der.clone(), self.ca.der()], self.server.key_der())
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:443").await?;
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(mut tls) = acceptor.accept(tcp).await {
                        let mut rest = Vec::new();
                        let _ = tokio::io::AsyncReadExt::read_to_end(&mut tls, &mut rest).await;
                    }
                });
            }
        });
        Ok(())
    }
}

struct Figures {
    wall: Duration,
    floor: Duration,
    reads: u64,
    writes: u64,
    /// (Compute usages, virtual network usages) reads.
    readiness_reads: (u64, u64),
    throttled: u64,
    /// Resource Graph queries: (inventory pages, Defender-plan queries, wiring pages).
    graph_queries: (u64, u64, u64),
    /// The `handler` process's peak resident memory (`ru_maxrss`, KiB).
    peak_kib: u64,
    /// Lines the binary printed on stdout (one per planned action and per baseline finding).
    stdout_lines: usize,
    /// The binary's last stderr line (its summary).
    summary: String,
    /// The `handler` process's CPU time (user + system, `wait4`).
    cpu: Duration,
}

/// Runs `handler sweep` to its end, counting its stdout lines, and returns (exit code, peak RSS
/// KiB, stdout lines, last stderr line). `wait4` reports the child's own `ru_maxrss`.
// The child is reaped by `wait4` (for its `ru_maxrss`), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_binary(cmd: &mut std::process::Command) -> (i32, u64, usize, String, Duration) {
    use std::io::BufRead as _;
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().expect("spawn handler sweep");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::BufReader::new(stdout).lines().count());
    let err = std::thread::spawn(move || {
        let mut last = String::new();
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if !line.trim().is_empty() {
                last = line;
            }
        }
        last
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `rusage` is plain data the kernel fills; `pid` is our own child, not yet waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    let tv = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
    (code, usage.ru_maxrss as u64, out.join().unwrap(), err.join().unwrap(), tv(usage.ru_utime) + tv(usage.ru_stime))
}

async fn run(clusters: usize, subs: usize, concurrency: usize, certificates: Option<&Certificates>, baseline: bool) -> Figures {
    let credentials = certificates.map(Certificates::credentials).unwrap_or(Value::Null);
    let fake = Arc::new(Fake::new(clusters, subs, certificates.is_some(), credentials));
    let uri = start_fake(fake.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    // The built-in policy plus, unless `SWEEP_FLEET_BASELINE=0`, the security baseline.
    std::fs::write(dir.path().join("cadence.toml"), if baseline { "[baseline]\n" } else { "" }).unwrap();
    let identity = format!("{uri}/msi/token");
    let subscriptions = fake.subs.join(",");
    // `SWEEP_FLEET_WRAP="heaptrack -o /tmp/sweep"` runs the binary under a profiler (the peak
    // printed is then the wrapper's).
    let wrap = std::env::var("SWEEP_FLEET_WRAP").unwrap_or_default();
    let mut words = wrap.split_whitespace();
    let mut cmd = match words.next() {
        Some(program) => {
            let mut c = std::process::Command::new(program);
            c.args(words).arg(env!("CARGO_BIN_EXE_handler"));
            c
        }
        None => std::process::Command::new(env!("CARGO_BIN_EXE_handler")),
    };
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.current_dir(dir.path())
        .env_clear()
        .envs([
            ("ARM_ENDPOINT", uri.as_str()),
            ("AZURE_CREDENTIAL", "managed_identity"),
            ("IDENTITY_ENDPOINT", identity.as_str()),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
            ("CADENCE_SUBSCRIPTIONS", subscriptions.as_str()),
            ("CADENCE_STATE", "sqlite:cadence.db"),
            ("CADENCE_CONFIG", "cadence.toml"),
            ("CADENCE_DRY_RUN", "true"),
            ("CADENCE_SWEEP_KUBECONFIG_CERTS", if certificates.is_some() { "true" } else { "false" }),
            ("PATH", path.as_str()),
        ])
        .env("CADENCE_SWEEP_CONCURRENCY", concurrency.to_string())
        .arg("sweep");
    // `SWEEP_FLEET_BATCH`: the sweep's `CADENCE_SWEEP_BATCH` (default: the handler's).
    if let Ok(batch) = std::env::var("SWEEP_FLEET_BATCH") {
        cmd.env("CADENCE_SWEEP_BATCH", batch);
    }
    let t0 = Instant::now();
    let (code, peak_kib, stdout_lines, summary, cpu) = tokio::task::spawn_blocking(move || run_binary(&mut cmd)).await.unwrap();
    let wall = t0.elapsed();
    assert_eq!(code, 0, "handler sweep failed: {summary}");
    let reads_served = fake.reads_served.lock().unwrap().clone();
    let writes_served = fake.writes_served.lock().unwrap().clone();
    let floor_secs = fake
        .subs
        .iter()
        .map(|s| {
            let r = reads_served.get(s).copied().unwrap_or(0) as f64;
            let w = writes_served.get(s).copied().unwrap_or(0) as f64;
            ((r - BURST) / REFILL).max((w - WRITE_BURST) / WRITE_REFILL).max(0.0)
        })
        .fold(0.0, f64::max);
    Figures {
        wall,
        floor: Duration::from_secs_f64(floor_secs),
        reads: reads_served.values().sum(),
        writes: writes_served.values().sum(),
        readiness_reads: (fake.readiness_reads.0.load(Ordering::Relaxed), fake.readiness_reads.1.load(Ordering::Relaxed)),
        throttled: fake.throttled.load(Ordering::Relaxed),
        graph_queries: (fake.graph_queries.0.load(Ordering::Relaxed), fake.graph_queries.1.load(Ordering::Relaxed), fake.wiring_pages.load(Ordering::Relaxed)),
        peak_kib,
        stdout_lines,
        summary,
        cpu,
    }
}

fn main() {
    let mut sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = match std::env::var("SWEEP_FLEET_CLUSTERS").ok().and_then(|v| v.parse().ok()) {
            Some(n) => vec![n],
            None => vec![1000, 10000],
        };
    }
    let subs: usize = std::env::var("SWEEP_FLEET_SUBS").ok().and_then(|v| v.parse().ok()).unwrap_or(8).max(1);
    let concurrency: usize = std::env::var("SWEEP_FLEET_CONCURRENCY").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
    let certs = std::env::var("SWEEP_FLEET_CERTS").map_or(true, |v| v != "0");
    let baseline = std::env::var("SWEEP_FLEET_BASELINE").map_or(true, |v| v != "0");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let certificates = certs.then(Certificates::new);
    if let Some(c) = &certificates {
        rt.block_on(c.serve_api_server()).expect("the API servers' TLS listener needs 127.0.0.1:443 (run as root, or SWEEP_FLEET_CERTS=0)");
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    println!(
        "sweep_fleet: `handler sweep` (dry-run, upgrades from the cluster profile, readiness, event wiring, baseline {}), {subs} subscription(s), {} regions, {} pools each, concurrency {concurrency}, latency 5-20 ms, read bucket {BURST} + {REFILL}/s and write bucket {WRITE_BURST} + {WRITE_REFILL}/s per subscription, certificate reads {}; load average at start: {}",
        if baseline { "on" } else { "off" },
        REGIONS.len(),
        POOLS.len(),
        if certs { "on (kubeconfig + API server TLS)" } else { "off" },
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!(
        "{:>8} {:>9} {:>7} {:>7} {:>13} {:>14} {:>6} {:>9} {:>10} {:>10}",
        "clusters", "wall", "reads", "writes", "reads/cluster", "writes/cluster", "429s", "floor", "wall/floor", "peak RSS"
    );
    let mut peaks = Vec::new();
    for &clusters in &sizes {
        let f = rt.block_on(run(clusters, subs, concurrency, certificates.as_ref(), baseline));
        let ratio = if f.floor.is_zero() { "-".to_string() } else { format!("{:.2}", f.wall.as_secs_f64() / f.floor.as_secs_f64()) };
        println!(
            "{:>8} {:>8.1}s {:>7} {:>7} {:>13.2} {:>14.2} {:>6} {:>8.1}s {:>10} {:>6.1} MiB",
            clusters,
            f.wall.as_secs_f64(),
            f.reads,
            f.writes,
            f.reads as f64 / clusters as f64,
            f.writes as f64 / clusters as f64,
            f.throttled,
            f.floor.as_secs_f64(),
            ratio,
            f.peak_kib as f64 / 1024.0
        );
        println!(
            "{:>8} readiness: {} Compute usages + {} virtual network usages reads ({:.3} per cluster); Resource Graph: {} inventory page(s), {} wiring page(s), {} Defender-plan query; stdout {} line(s); handler CPU {:.1} s ({:.1} ms per cluster); {}",
            "",
            f.readiness_reads.0,
            f.readiness_reads.1,
            (f.readiness_reads.0 + f.readiness_reads.1) as f64 / clusters as f64,
            f.graph_queries.0,
            f.graph_queries.2,
            f.graph_queries.1,
            f.stdout_lines,
            f.cpu.as_secs_f64(),
            f.cpu.as_secs_f64() * 1000.0 / clusters as f64,
            f.summary
        );
        if baseline {
            assert_eq!(f.graph_queries.1, 1, "one Defender-plan query per sweep");
        }
        peaks.push((clusters, f.peak_kib));
    }
    if let (Some(first), Some(last)) = (peaks.first(), peaks.last())
        && peaks.len() > 1
    {
        println!(
            "peak RSS {} clusters / {} clusters: {:.1} MiB / {:.1} MiB = {:.2}",
            last.0,
            first.0,
            last.1 as f64 / 1024.0,
            first.1 as f64 / 1024.0,
            last.1 as f64 / first.1 as f64
        );
    }
}
