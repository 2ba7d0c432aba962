//! A fake ARM fleet on loopback for the end-to-end sweep tests: Resource Graph inventory, the
//! region's versions, upgrade profiles, maintenance configurations, the managed identity
//! endpoint of App Service, and the writes an upgrade makes — from the real examples in
//! `tests/fixtures/`, varied only where a test needs it.
#![allow(dead_code)]

use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::arm_common::*;

pub const OLD_IMAGE: &str = "AKSUbuntu:1604:2020.01.01";
/// The agent pool upgrade profile example's `latestNodeImageVersion`.
pub const LATEST_IMAGE: &str = "AKSUbuntu:1604:2020.03.11";
pub const IDENTITY_HEADER: &str = "identity-header-secret";
pub const MI_TOKEN: &str = "mi-token-for-arm";
pub const ETAG: &str = "\"0f5b2b2a-0000-0100-0000-65a5e9a10000\"";
pub const OP_PATH: &str = "/providers/Microsoft.ContainerService/locations/location1/operations/op-e2e";

/// One cluster of the fleet: its resource (as ARM GETs it) and what its upgrade profile offers.
pub struct FleetCluster {
    pub resource: Value,
    pub upgrades: Vec<&'static str>,
    /// The `maintenanceConfigurations` list body.
    pub maintenance: Value,
}

impl FleetCluster {
    /// `name` on `version`, running, its only pool on `image`, no public API server name (so no
    /// certificate handshake leaves this machine), with Microsoft's maintenance list example.
    pub fn new(name: &str, version: &str, image: &str, upgrades: Vec<&'static str>) -> Self {
        let mut resource = cluster_variant(name, version, image);
        resource["properties"]["fqdn"] = json!("");
        Self { resource, upgrades, maintenance: example_body("maintenance_configurations_list_maintenance_window.2026-06-01.json", "200") }
    }
    pub fn without_maintenance_configurations(mut self) -> Self {
        self.maintenance = json!({"value": []});
        self
    }
    pub fn id(&self) -> String {
        self.resource["id"].as_str().unwrap().to_string()
    }
    /// The upgrade profile example with this cluster's version and offers.
    fn upgrade_profile(&self) -> Value {
        let mut body = example_body("managedclusters_get_upgrade_profile.2026-06-01.json", "200");
        let version = self.resource["properties"]["currentKubernetesVersion"].clone();
        body["id"] = json!(format!("{}/upgradeprofiles/default", self.id()));
        body["properties"]["controlPlaneProfile"]["kubernetesVersion"] = version.clone();
        body["properties"]["controlPlaneProfile"]["upgrades"] = json!(self.upgrades.iter().map(|v| json!({"kubernetesVersion": v})).collect::<Vec<_>>());
        body["properties"]["agentPoolProfiles"][0]["kubernetesVersion"] = version;
        body
    }
}

/// The part of the wiring query's text that tells it apart from the inventory query.
pub const WIRING_QUERY_MARK: &str = "microsoft.eventgrid/systemtopics";

/// The id of the system topic the infra creates for `cluster` (in the cluster's resource group).
pub fn system_topic_id(cluster: &str) -> String {
    let rg_end = cluster.find("/providers/").unwrap();
    let name = cluster.rsplit('/').next().unwrap();
    format!("{}/providers/Microsoft.EventGrid/systemTopics/aks-cadence-{name}", &cluster[..rg_end])
}

/// A row of the wiring query (`id`, `source`) for the system topic of `cluster`.
pub fn system_topic_row(cluster: &str) -> Value {
    json!({"id": system_topic_id(cluster), "source": cluster})
}

/// Answers the sweep's event-wiring Resource Graph query with `rows`, at wiremock `priority`
/// (1 is the highest; the inventory's mock has the default 5).
pub async fn mount_system_topics(server: &MockServer, rows: Vec<Value>, priority: u8) {
    Mock::given(method("POST"))
        .and(path("/providers/Microsoft.ResourceGraph/resources"))
        .and(body_string_contains(WIRING_QUERY_MARK))
        .respond_with(ResponseTemplate::new(200).set_body_json(graph_page("resources_basic_query.2024-04-01.json", rows)))
        .with_priority(priority)
        .mount(server)
        .await;
}

/// The App Service managed identity endpoint (`IDENTITY_ENDPOINT` = `<server>/msi/token`): the
/// documented response with a usable token and a future expiry.
/// `handler sweep ARGS` run in `dir` as a deployment runs it against this fake: an otherwise
/// empty environment with ARM at `server`, the managed identity of [`mount_identity`], the
/// fake's subscription and a SQLite ledger in `dir`; `extra_env` adds or overrides settings.
pub fn handler_sweep(dir: &std::path::Path, server: &MockServer, extra_env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let identity = format!("{}/msi/token", server.uri());
    std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .envs([
            ("ARM_ENDPOINT", server.uri().as_str()),
            ("AZURE_CREDENTIAL", "managed_identity"),
            ("IDENTITY_ENDPOINT", identity.as_str()),
            ("IDENTITY_HEADER", IDENTITY_HEADER),
            ("CADENCE_SUBSCRIPTIONS", crate::arm_common::SUB),
            ("CADENCE_STATE", "sqlite:cadence.db"),
        ])
        .envs(extra_env.iter().copied())
        .arg("sweep")
        .args(args)
        .output()
        .expect("run handler sweep")
}

/// `handler sweep --now NOW [EXTRA…]` live (`CADENCE_DRY_RUN=false`; `extra` may add
/// `--dry-run`, `--format …`) with `policy` written to `dir/cadence.toml` and GitHub at
/// `github_api` (a test token); the run must succeed.
pub fn live_sweep(dir: &std::path::Path, server: &MockServer, policy: &str, github_api: &str, now: &str, extra: &[&str]) -> std::process::Output {
    std::fs::write(dir.join("cadence.toml"), policy).unwrap();
    let out = handler_sweep(
        dir,
        server,
        &[
            ("CADENCE_CONFIG", "cadence.toml"),
            ("CADENCE_DRY_RUN", "false"),
            ("GITHUB_TOKEN", "ghp_e2eLiveSweep000000000000000000000"),
            ("GITHUB_API_URL", github_api),
        ],
        &[&["--now", now], extra].concat(),
    );
    assert!(out.status.success(), "sweep failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The two-ring policy of the fleet-order tests: patch upgrades automatic in a daily
/// 08:00–14:00 UTC window, rule `platform` opening issues in `repo`, then `extra_rules`
/// (TOML), then ring `dev` (cluster `dev`, soaking a target 3 days) before ring `prod`.
pub fn dev_prod_policy(repo: &str, extra_rules: &str) -> String {
    format!(
        r#"[defaults.upgrade]
patch = "auto"

[defaults.upgrade.window]
schedule = {{ daily = {{ intervalDays = 1 }} }}
durationHours = 6
startTime = "08:00"
utcOffset = "+00:00"

[[rule]]
name = "platform"
[rule.github_issue]
repo = "{repo}"
{extra_rules}
[[ring]]
name = "dev"
clusters = ["dev"]
soak_days = 3

[[ring]]
name = "prod"
clusters = ["prod"]
soak_days = 0
"#
    )
}

/// The two-cluster fleet of the fleet-order tests on `arm` (reset first): `dev` and `prod` on
/// their versions, each offered its upgrades, no maintenance configurations of their own (the
/// policy's window applies), `prod` on AKS's auto-upgrade channel `prod_channel` when given; a
/// PUT to `target` is expected `dev_puts` / `prod_puts` times and any other cluster write fails
/// the test.
pub async fn dev_prod_fleet(
    arm: &MockServer,
    dev: (&str, Vec<&'static str>),
    prod: (&str, Vec<&'static str>),
    target: &str,
    puts: (u64, u64),
    prod_channel: Option<&str>,
) {
    arm.reset().await;
    mount_identity(arm).await;
    let dev = FleetCluster::new("dev", dev.0, LATEST_IMAGE, dev.1).without_maintenance_configurations();
    let mut prod = FleetCluster::new("prod", prod.0, LATEST_IMAGE, prod.1).without_maintenance_configurations();
    if let Some(channel) = prod_channel {
        prod.resource["properties"]["autoUpgradeProfile"] = json!({"upgradeChannel": channel});
    }
    if puts.0 > 0 {
        expect_version_upgrade(arm, &dev, target, puts.0).await;
    }
    if puts.1 > 0 {
        expect_version_upgrade(arm, &prod, target, puts.1).await;
    }
    mount_fleet(arm, &[dev, prod]).await;
    expect_no_cluster_writes(arm).await;
}

pub async fn mount_identity(server: &MockServer) {
    let mut token = fixture("functions-host/managed_identity_token_response.app_service.docs.json");
    token["access_token"] = json!(MI_TOKEN);
    token["expires_on"] = json!((jiff::Timestamp::now().as_second() + 3600).to_string());
    token["resource"] = json!(server.uri());
    Mock::given(method("GET"))
        .and(path("/msi/token"))
        .and(query_param("api-version", "2019-08-01"))
        .and(query_param("resource", server.uri().as_str()))
        .and(header("x-identity-header", IDENTITY_HEADER))
        .respond_with(ResponseTemplate::new(200).set_body_json(token))
        .mount(server)
        .await;
}

/// Inventory and every read a sweep makes of `clusters`. Resource Graph requires the managed
/// identity's token.
pub async fn mount_fleet(server: &MockServer, clusters: &[FleetCluster]) {
    mount_fleet_for(server, clusters, MI_TOKEN).await
}

/// [`mount_fleet`] for a client holding `token` (`arm_common::TOKEN` for in-process clients).
pub async fn mount_fleet_for(server: &MockServer, clusters: &[FleetCluster], token: &str) {
    // The sweep's event-wiring query: every cluster has its system topic, as the infra deploys
    // it (tests of the check itself mount their own answer with a higher priority).
    let topics: Vec<Value> = clusters.iter().map(|c| system_topic_row(&c.id())).collect();
    mount_system_topics(server, topics, 3).await;
    let rows: Vec<Value> = clusters.iter().map(|c| graph_row(&c.resource)).collect();
    Mock::given(method("POST"))
        .and(path("/providers/Microsoft.ResourceGraph/resources"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(graph_page("resources_basic_query.2024-04-01.json", rows)))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/locations/[^/]+/kubernetesVersions$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("kubernetes_versions_list.2025-10-01.json", "200")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/agentPools/[^/]+/upgradeProfiles/default$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("agentpools_get_upgrade_profile.2026-06-01.json", "200")))
        .mount(server)
        .await;
    // Readiness: the region's Compute usages (Microsoft's example shape) with room to spare; tests
    // of readiness mount their own answer with a higher priority.
    Mock::given(method("GET"))
        .and(path_regex(r"/providers/Microsoft.Compute/locations/[^/]+/usages$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(compute_usages(&[("cores", 10, 1000)])))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(r"/listClusterUserCredential$"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "AuthorizationFailed", "message": "not granted in this test"}})))
        .mount(server)
        .await;
    for c in clusters {
        let id = c.id();
        Mock::given(method("GET"))
            .and(path(format!("{id}/upgradeProfiles/default")))
            .respond_with(ResponseTemplate::new(200).set_body_json(c.upgrade_profile()))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("{id}/maintenanceConfigurations")))
            .respond_with(ResponseTemplate::new(200).set_body_json(c.maintenance.clone()))
            .mount(server)
            .await;
        // The adapter's GET (gates, ETag) before a version upgrade.
        Mock::given(method("GET"))
            .and(path(id.as_str()))
            .respond_with(ResponseTemplate::new(200).insert_header("ETag", ETAG).set_body_json(c.resource.clone()))
            .mount(server)
            .await;
    }
}

/// A version upgrade of `cluster` to `target`: the PUT must carry `If-Match` with the ETag the
/// GET gave; ARM answers 201 with an `Azure-AsyncOperation` that reports success.
pub async fn expect_version_upgrade(server: &MockServer, cluster: &FleetCluster, target: &str, times: u64) {
    let op_url = format!("{}{OP_PATH}?api-version=2017-08-31", server.uri());
    Mock::given(method("PUT"))
        .and(path(cluster.id()))
        .and(header("if-match", ETAG))
        .and(wiremock::matchers::body_partial_json(json!({"properties": {"kubernetesVersion": target}})))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("Azure-AsyncOperation", op_url.as_str())
                .insert_header("Retry-After", "0")
                .set_body_json(cluster.resource.clone()),
        )
        .expect(times)
        .named("the upgrade PUT")
        .mount(server)
        .await;
    let mut done = fixture("arm/async_operation_status_inprogress.docs.json");
    done["status"] = json!("Succeeded");
    done["name"] = json!("op-e2e");
    Mock::given(method("GET")).and(path(OP_PATH)).respond_with(ResponseTemplate::new(200).set_body_json(done)).mount(server).await;
}

/// Microsoft's Compute usages example with its `value` replaced by `(counter, currentValue,
/// limit)` entries (and no `nextLink`: one page).
pub fn compute_usages(counters: &[(&str, i64, i64)]) -> Value {
    let mut body = example_body("compute_usage_list.2024-07-01.json", "200");
    let template = body["value"][0].clone();
    body["value"] = json!(counters
        .iter()
        .map(|(name, current, limit)| {
            let mut u = template.clone();
            u["name"] = json!({"value": name, "localizedValue": name});
            u["currentValue"] = json!(current);
            u["limit"] = json!(limit);
            u
        })
        .collect::<Vec<_>>());
    body.as_object_mut().unwrap().remove("nextLink");
    body
}

/// Any write other than the ones a test expects fails the test.
pub async fn expect_no_cluster_writes(server: &MockServer) {
    for m in ["PUT", "PATCH", "DELETE"] {
        Mock::given(method(m)).respond_with(ResponseTemplate::new(500)).expect(0).named(format!("no {m}")).mount(server).await;
    }
    for action in ["upgradeNodeImageVersion", "rotateClusterCertificates"] {
        Mock::given(method("POST"))
            .and(path_regex(format!("/{action}$")))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .named(format!("no {action}"))
            .mount(server)
            .await;
    }
}

/// Turns every security-baseline setting on, each in the shape of the spec example cited in
/// docs/baseline.md (the same edits as tests/fixtures/baseline).
pub fn harden(c: &mut FleetCluster) {
    let p = &mut c.resource["properties"];
    p["apiServerAccessProfile"] = json!({"enablePrivateCluster": false, "authorizedIPRanges": ["203.0.113.0/24"]});
    p["enableRBAC"] = json!(true);
    p["aadProfile"] = json!({"managed": true, "enableAzureRBAC": true, "tenantID": "tenantID"});
    p["disableLocalAccounts"] = json!(true);
    p["securityProfile"] = json!({
        "defender": {"securityMonitoring": {"enabled": true}},
        "workloadIdentity": {"enabled": true},
        "imageCleaner": {"enabled": true, "intervalHours": 48}
    });
    p["oidcIssuerProfile"] = json!({"enabled": true});
    p["addonProfiles"] = json!({
        "azurepolicy": {"enabled": true},
        "azureKeyvaultSecretsProvider": {"enabled": true, "config": {"enableSecretRotation": "true"}}
    });
    p["networkProfile"]["networkPolicy"] = json!("azure");
    p["agentPoolProfiles"][0]["enableEncryptionAtHost"] = json!(true);
    p["autoUpgradeProfile"] = json!({"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"});
}
