//! The per-cluster sweep: each finding kind, the shared caches, partial failures.

mod arm_common;


use aks_cadence::domain::{ConcernKind, OfferedVersion, OperationStatus, Origin, SignalKind};
use aks_cadence::sweep::{CertificateChecks, ClusterSnapshot, SweepContext, SweepOptions, SweepRun, TrackedOperation, UpgradeSource, sweep_cluster};
use arm_common::*;
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VERSIONS: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.ContainerService/locations/location1/kubernetesVersions";
const OLD_IMAGE: &str = "AKSUbuntu:1604:2020.01.01";
const LATEST_IMAGE: &str = "AKSUbuntu:1604:2020.03.11"; // the pool upgrade profile example's latestNodeImageVersion

fn kinds(s: &ClusterSnapshot) -> Vec<SignalKind> {
    s.signals.iter().map(|x| x.kind.clone()).collect()
}

async fn mount_region(server: &MockServer, times: u64) {
    Mock::given(method("GET"))
        .and(path(VERSIONS))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("kubernetes_versions_list.2025-10-01.json", "200")))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_upgrade_profiles(server: &MockServer, times: u64) {
    Mock::given(method("GET"))
        .and(path_regex(r"/managedClusters/[^/]+/upgradeProfiles/default$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("managedclusters_get_upgrade_profile.2026-06-01.json", "200")))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_pool_profiles(server: &MockServer, times: u64) {
    Mock::given(method("GET"))
        .and(path_regex(r"/agentPools/[^/]+/upgradeProfiles/default$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("agentpools_get_upgrade_profile.2026-06-01.json", "200")))
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_maintenance(server: &MockServer, times: u64) {
    Mock::given(method("GET"))
        .and(path_regex(r"/managedClusters/[^/]+/maintenanceConfigurations$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("maintenance_configurations_list_maintenance_window.2026-06-01.json", "200")))
        .expect(times)
        .mount(server)
        .await;
}

/// The fixtures' API servers are real-looking public names: these tests read no certificates
/// (nothing may resolve a name on the internet); `tests/sweep_certificates.rs` does, on loopback.
fn opts() -> SweepOptions {
    SweepOptions { certificates: CertificateChecks::off(), ..SweepOptions::default() }
}

fn region_opts() -> SweepOptions {
    SweepOptions { upgrades_from: UpgradeSource::Region, ..opts() }
}

fn run() -> SweepRun {
    SweepRun::new("sweep-test", "2026-03-01T02:00:00Z".parse().unwrap())
}

#[tokio::test]
async fn a_cluster_sweep_reports_upgrades_support_and_node_images_from_the_real_examples() {
    let server = MockServer::start().await;
    mount_region(&server, 1).await;
    mount_upgrade_profiles(&server, 1).await;
    mount_pool_profiles(&server, 1).await;
    mount_maintenance(&server, 1).await;
    // The upgrade profile example is for a cluster on 1.7.7; the node image is one behind.
    let record = record_of(&cluster_variant("clustername1", "1.7.7", OLD_IMAGE));
    let snap = sweep_cluster(&client(&server.uri()), &opts(), &run(), &record, &[]).await.unwrap();

    assert_eq!(
        kinds(&snap),
        vec![
            SignalKind::UpgradesOffered {
                current: "1.7.7".into(),
                offered: vec![
                    OfferedVersion { version: "1.7.9".into(), is_preview: true },
                    OfferedVersion { version: "1.7.11".into(), is_preview: false }
                ]
            },
            // A minor concern raised from 1.6 named the line 1.7: met. `patch:1.7.7` is not (1.7.11 is offered).
            SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: "1.7".into() },
            SignalKind::SupportEnded { kubernetes_version: "1.7.7".into() },
            SignalKind::NodeImageAvailable { pool: "nodepool1".into(), current: OLD_IMAGE.into(), latest: LATEST_IMAGE.into() },
        ]
    );
    let s = &snap.signals[0];
    assert_eq!(s.origin, Origin::Sweep { run_id: "sweep-test".into() });
    assert_eq!(s.observed_at, run().now);
    assert_eq!(s.facts.kubernetes_version.as_deref(), Some("1.7.7"));
    assert_eq!(s.facts.tags.get("tier").map(String::as_str), Some("production"));
    assert_eq!(snap.maintenance_configurations.len(), 2);
    assert_eq!(snap.maintenance_configurations[1]["name"], "aksManagedAutoUpgradeSchedule");
    assert!(snap.offered_in_region.as_ref().unwrap().contains(&"1.25.5".to_string()));
    assert_eq!(snap.certificate_probe().unwrap().host, "dnsprefix1-abcd1234.hcp.eastus.azmk8s.io");
    assert!(!snap.busy);
    assert!(snap.maintenance_read);
    assert_eq!(snap.observed.kubernetes_version.as_deref(), Some("1.7.7"));
    assert_eq!(snap.observed.node_images.get("nodepool1"), Some(&Some(OLD_IMAGE.to_string())));
    assert!(snap.observed.certificates.is_empty(), "no certificate source was read");
    assert!(snap.notes.is_empty(), "{:?}", snap.notes);
}

#[tokio::test]
async fn the_oldest_supported_minor_is_told_its_support_is_ending() {
    let server = MockServer::start().await;
    mount_region(&server, 1).await;
    mount_upgrade_profiles(&server, 0).await; // upgrades from the region's table: no per-cluster read
    mount_pool_profiles(&server, 1).await;
    mount_maintenance(&server, 1).await;
    let options = region_opts();
    let record = record_of(&cluster_variant("clustername1", "1.23.12", LATEST_IMAGE));
    let snap = sweep_cluster(&client(&server.uri()), &options, &run(), &record, &[]).await.unwrap();
    assert_eq!(
        kinds(&snap),
        vec![
            SignalKind::UpgradesOffered {
                current: "1.23.12".into(),
                offered: ["1.23.15", "1.24.6", "1.24.9"].iter().map(|v| OfferedVersion { version: (*v).into(), is_preview: false }).collect()
            },
            SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: "1.23".into() },
            SignalKind::SupportEnding { kubernetes_version: "1.23.12".into(), eol_date: None, support_type: Some("KubernetesOfficial".into()), eol_source: None },
            SignalKind::Resolved { concern: ConcernKind::Support, target: "1.22".into() },
            SignalKind::Resolved { concern: ConcernKind::NodeImage, target: format!("nodepool1@{LATEST_IMAGE}") },
        ]
    );
}

#[tokio::test]
async fn a_cluster_on_the_latest_patch_of_a_supported_minor_resolves_its_concerns() {
    let server = MockServer::start().await;
    mount_region(&server, 1).await;
    mount_pool_profiles(&server, 1).await;
    mount_maintenance(&server, 1).await;
    let options = region_opts();
    let record = record_of(&cluster_variant("clustername1", "1.25.5", LATEST_IMAGE));
    let snap = sweep_cluster(&client(&server.uri()), &options, &run(), &record, &[]).await.unwrap();
    assert_eq!(
        kinds(&snap),
        vec![
            SignalKind::UpgradesOffered { current: "1.25.5".into(), offered: vec![OfferedVersion { version: "1.26.0".into(), is_preview: true }] },
            SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: "patch:1.25.5".into() },
            SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: "1.25".into() },
            SignalKind::Resolved { concern: ConcernKind::Support, target: "1.25".into() },
            SignalKind::Resolved { concern: ConcernKind::NodeImage, target: format!("nodepool1@{LATEST_IMAGE}") },
        ]
    );
}

#[tokio::test]
async fn clusters_of_one_region_share_the_region_and_node_image_reads() {
    let server = MockServer::start().await;
    let same_a = cluster_variant("same-a", "1.7.7", OLD_IMAGE);
    let same_b = cluster_variant("same-b", "1.7.7", LATEST_IMAGE);
    let other_family = cluster_variant("other", "1.7.7", "AKSUbuntu:1804:2020.03.11");
    Mock::given(method("POST"))
        .and(path("/providers/Microsoft.ResourceGraph/resources"))
        .respond_with(ResponseTemplate::new(200).set_body_json(graph_page(
            "resources_basic_query.2024-04-01.json",
            vec![graph_row(&same_a), graph_row(&same_b), graph_row(&other_family)],
        )))
        .expect(1)
        .mount(&server)
        .await;
    mount_region(&server, 1).await; // one region: one read
    mount_upgrade_profiles(&server, 3).await; // per cluster
    mount_pool_profiles(&server, 2).await; // two image families: two reads for three pools
    mount_maintenance(&server, 3).await; // per cluster

    let mut ctx = SweepContext::new(client(&server.uri()), vec![SUB.into()], 3);
    ctx.options = opts();
    // The sweep as `handler sweep` runs it (`Sweeper::local`), planning in dry-run.
    let dir = tempfile::tempdir().unwrap();
    let ledger: std::sync::Arc<dyn aks_cadence::store::Ledger> = std::sync::Arc::new(aks_cadence::store::sqlite::SqliteLedger::open(dir.path().join("cadence.db")).unwrap());
    let pipeline = aks_cadence::wiring::Parts::new(
        std::sync::Arc::new(aks_cadence::policy::Policy::builtin()),
        ledger,
        Vec::new(),
        true,
        aks_cadence::pipeline::fixed_clock("2026-01-15T02:00:00Z".parse().unwrap()),
    )
    .pipeline();
    let sweeper = aks_cadence::sweeper::Sweeper::new(ctx, std::sync::Arc::new(pipeline));
    let mut local = aks_cadence::sweeper::Collected::default();
    let summary = sweeper.local(3, &aks_cadence::sweeper::NoProgress, &mut local).await.unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    let by_name = |n: &str| local.snapshots.iter().find(|s| s.cluster.name() == n).unwrap();
    assert!(kinds(by_name("same-a")).contains(&SignalKind::NodeImageAvailable {
        pool: "nodepool1".into(),
        current: OLD_IMAGE.into(),
        latest: LATEST_IMAGE.into()
    }));
    assert!(kinds(by_name("same-b")).contains(&SignalKind::Resolved { concern: ConcernKind::NodeImage, target: format!("nodepool1@{LATEST_IMAGE}") }));
    for s in &local.snapshots {
        assert_eq!(s.signals[0].origin, Origin::Sweep { run_id: summary.run_id.clone() });
    }
    // 1 query + 1 region + 3 profiles + 2 pool profiles + 3 maintenance lists
    assert_eq!(server.received_requests().await.unwrap().len(), 10);
}

#[tokio::test]
async fn a_cluster_deleted_since_inventory_yields_no_signals() {
    let server = MockServer::start().await;
    mount_region(&server, 1).await;
    Mock::given(method("GET"))
        .and(path_regex(r"/upgradeProfiles/default$"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {"code": "ResourceNotFound", "message": "gone"}})))
        .mount(&server)
        .await;
    let record = record_of(&running_cluster());
    let snap = sweep_cluster(&client(&server.uri()), &opts(), &run(), &record, &[]).await.unwrap();
    assert!(snap.signals.is_empty());
    assert_eq!(snap.notes, ["the cluster no longer exists"]);
}

#[tokio::test]
async fn a_missing_permission_is_noted_and_the_rest_of_the_sweep_goes_on() {
    let server = MockServer::start().await;
    mount_region(&server, 1).await;
    mount_upgrade_profiles(&server, 1).await;
    mount_pool_profiles(&server, 1).await;
    Mock::given(method("GET"))
        .and(path_regex(r"/maintenanceConfigurations$"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "AuthorizationFailed", "message": "no maintenanceConfigurations/read"}})))
        .mount(&server)
        .await;
    let record = record_of(&cluster_variant("clustername1", "1.7.7", OLD_IMAGE));
    let snap = sweep_cluster(&client(&server.uri()), &opts(), &run(), &record, &[]).await.unwrap();
    assert_eq!(snap.signals.len(), 4);
    assert!(snap.maintenance_configurations.is_empty());
    assert!(!snap.maintenance_read, "a failed read is not \"no window\"");
    assert!(snap.notes[0].starts_with("maintenance configurations") && snap.notes[0].contains("AuthorizationFailed"), "{:?}", snap.notes);
}

#[tokio::test]
async fn a_read_that_may_work_later_fails_the_cluster_so_the_queue_retries() {
    let server = MockServer::start().await;
    mount_region(&server, 1).await;
    Mock::given(method("GET")).and(path_regex(r"/managedClusters/[^/]+/upgradeProfiles/default$")).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    let record = record_of(&running_cluster());
    let err = sweep_cluster(&client(&server.uri()), &opts(), &run(), &record, &[]).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn an_operation_aks_cadence_started_is_reported_with_arms_outcome() {
    let server = MockServer::start().await;
    mount_region(&server, 1).await;
    mount_upgrade_profiles(&server, 1).await;
    mount_pool_profiles(&server, 1).await;
    mount_maintenance(&server, 1).await;
    let op_path = "/providers/Microsoft.ContainerService/locations/location1/operations/op-1";
    let mut failed = fixture("arm/async_operation_status_inprogress.docs.json");
    failed["status"] = json!("Failed");
    failed["error"] = json!({"code": "UpgradeFailed", "message": "drain timed out"});
    Mock::given(method("GET")).and(path(op_path)).respond_with(ResponseTemplate::new(200).set_body_json(failed)).expect(1).mount(&server).await;
    let tracked = [TrackedOperation {
        concern: ConcernKind::KubernetesUpgrade,
        target: "1.7".into(),
        status_url: Some(format!("{}{op_path}?api-version=2016-03-30", server.uri())),
    }];
    let record = record_of(&cluster_variant("clustername1", "1.7.7", LATEST_IMAGE));
    let snap = sweep_cluster(&client(&server.uri()), &opts(), &run(), &record, &tracked).await.unwrap();
    assert_eq!(
        snap.signals[0].kind,
        SignalKind::Operation {
            concern: ConcernKind::KubernetesUpgrade,
            target: "1.7".into(),
            status: OperationStatus::Failed { code: "UpgradeFailed".into(), message: "drain timed out".into() }
        }
    );
}

#[tokio::test]
async fn the_user_kubeconfig_is_decoded_for_the_certificate_check() {
    let server = MockServer::start().await;
    let body = example_body("managedclusters_list_cluster_user_credentials.2026-04-01.json", "200");
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/listClusterUserCredential")))
        .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
        .expect(1)
        .mount(&server)
        .await;
    let id = aks_cadence::domain::ClusterId::parse(CLUSTER).unwrap();
    let configs = aks_cadence::sweep::cluster::user_kubeconfigs(&client(&server.uri()), &id).await.unwrap();
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.decode(body["kubeconfigs"][0]["value"].as_str().unwrap()).unwrap();
    assert_eq!(configs, vec![expected]);
}
