//! The upgrade/rotation adapter against a fake ARM serving the real examples: holds, live gates,
//! idempotency, If-Match, long-running operations, 409 and 412.

mod arm_common;
mod certs_support;

use aks_cadence::action::{Action, ActionKind, Hold, Stage, UpgradeScope};
use aks_cadence::actions::Actuator;
use aks_cadence::actions::azure::AzureActuator;
use aks_cadence::domain::{ClusterFacts, ClusterId, Concern, ConcernKind, Origin, Signal, SignalKind};
use aks_cadence::error::ActionError;
use arm_common::*;
use base64::Engine as _;
use certs_support::{Ca, leaf, tls_server};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OLD_IMAGE: &str = "AKSUbuntu:1604:2020.01.01";
const LATEST_IMAGE: &str = "AKSUbuntu:1604:2020.03.11";
const OP_PATH: &str = "/providers/Microsoft.ContainerService/locations/westus/operations/00000000-0000-0000-0000-000000000000";
const OP_NAME: &str = "9a062a88-e463-4697-bef2-fe039df73a02";

fn action(kind: ActionKind, concern: ConcernKind, target: &str) -> Action {
    let cluster = ClusterId::parse(CLUSTER).unwrap();
    let signal = Signal {
        cluster: cluster.clone(),
        facts: ClusterFacts::default(),
        kind: SignalKind::Resolved { concern, target: target.into() },
        observed_at: "2026-03-01T00:00:00Z".parse().unwrap(),
        origin: Origin::Manual,
    };
    Action::new(Concern::new(cluster, concern, target), Stage::Execute, kind, format!("test {target}"), signal)
}

fn node_image() -> Action {
    action(ActionKind::Upgrade { upgrade: UpgradeScope::NodeImage { pool: "nodepool1".into() }, target: LATEST_IMAGE.into() }, ConcernKind::NodeImage, "nodepool1")
}
fn patch(target: &str) -> Action {
    action(ActionKind::Upgrade { upgrade: UpgradeScope::Patch, target: target.into() }, ConcernKind::KubernetesUpgrade, target)
}
fn minor(target: &str) -> Action {
    action(ActionKind::Upgrade { upgrade: UpgradeScope::Minor, target: target.into() }, ConcernKind::KubernetesUpgrade, target)
}
/// The cluster CA of the sweep's finding expires 2026-05-01.
fn rotate() -> Action {
    rotate_for("cluster-ca@2026-05-01")
}
fn rotate_for(target: &str) -> Action {
    action(ActionKind::RotateCertificates, ConcernKind::Certificate, target)
}

/// `listClusterUserCredential` answers a kubeconfig whose cluster CA expires `ca_not_after`.
async fn mount_user_kubeconfig(server: &MockServer, ca_not_after: certs_support::Utc) {
    let ca = Ca::new("ca", (2024, 5, 1, 0), ca_not_after);
    let client = leaf("masterclient", (2024, 5, 1, 0), ca_not_after, &ca);
    let b64 = |b: &str| base64::engine::general_purpose::STANDARD.encode(b);
    let yaml = format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: https://x:443\n  name: c\nusers:\n- name: u\n  user:\n    client-certificate-data: {}\n",
        b64(&ca.pem()),
        b64(&client.pem)
    );
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/listClusterUserCredential")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"kubeconfigs": [{"name": "clusterUser", "value": b64(&yaml)}]})))
        .mount(server)
        .await;
}

/// The rotate endpoint, expected `times` times; answers 202 with a location ending in 204.
async fn mount_rotation(server: &MockServer, times: u64) {
    let file = "managedclusters_rotate_cluster_certificates.2025-10-01.json";
    let location = on_server(&example_header(file, "202", "location"), &server.uri());
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/rotateClusterCertificates")))
        .respond_with(ResponseTemplate::new(202).insert_header("Location", location.as_str()))
        .expect(times)
        .named("rotateClusterCertificates")
        .mount(server)
        .await;
    let result_path = url::Url::parse(&location).unwrap().path().to_string();
    Mock::given(method("GET")).and(path(result_path.as_str())).respond_with(ResponseTemplate::new(204)).mount(server).await;
}

/// The detail the adapter records (its typed operation report: [`perform_reported`]).
async fn perform(server: &MockServer, a: Action) -> Result<String, ActionError> {
    perform_reported(server, a).await.map(|done| done.detail)
}

async fn perform_reported(server: &MockServer, a: Action) -> aks_cadence::actions::Performed {
    AzureActuator::new(client(&server.uri())).perform(&[a]).await.remove(0)
}

async fn mount_cluster(server: &MockServer, cluster: Value) {
    Mock::given(method("GET")).and(path(CLUSTER)).respond_with(ResponseTemplate::new(200).set_body_json(cluster)).mount(server).await;
}
async fn mount_profiles(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path(format!("{CLUSTER}/upgradeProfiles/default")))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("managedclusters_get_upgrade_profile.2026-06-01.json", "200")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/agentPools/nodepool1/upgradeProfiles/default$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("agentpools_get_upgrade_profile.2026-06-01.json", "200")))
        .mount(server)
        .await;
}
/// Every write the adapter could make, expected `times` times in total per kind.
async fn expect_no_writes(server: &MockServer) {
    for m in ["POST", "PUT", "PATCH", "DELETE"] {
        Mock::given(method(m)).respond_with(ResponseTemplate::new(500)).expect(0).named(format!("no {m}")).mount(server).await;
    }
}
/// The operation status: InProgress (the docs example) once, then `last`.
async fn mount_operation(server: &MockServer, last: Value) {
    let in_progress = fixture("arm/async_operation_status_inprogress.docs.json");
    Mock::given(method("GET"))
        .and(path(OP_PATH))
        .respond_with(ResponseTemplate::new(200).insert_header("Retry-After", "0").set_body_json(in_progress))
        .up_to_n_times(1)
        .mount(server)
        .await;
    Mock::given(method("GET")).and(path(OP_PATH)).respond_with(ResponseTemplate::new(200).set_body_json(last)).mount(server).await;
}
fn op_status(status: &str) -> Value {
    let mut v = fixture("arm/async_operation_status_inprogress.docs.json");
    v["status"] = json!(status);
    v
}
fn async_op_url(server: &MockServer) -> String {
    on_server(&example_header("agentpools_upgrade_node_image_version.2025-10-01.json", "202", "Azure-AsyncOperation"), &server.uri())
}

#[tokio::test]
async fn a_held_action_is_deferred_without_a_single_arm_call() {
    let server = MockServer::start().await;
    let mut a = node_image();
    a.hold = Some(Hold::OutsideWindow { next: Some("2026-03-07T01:00:00Z".parse().unwrap()) });
    let err = perform(&server, a).await.unwrap_err();
    assert!(matches!(&err, ActionError::Deferred(m) if m.ends_with("outside the maintenance window; next opens 2026-03-07 01:00 UTC")), "the plan's own words: {err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_node_image_upgrade_follows_its_async_operation_to_success() {
    let server = MockServer::start().await;
    mount_cluster(&server, cluster_variant("clustername1", "1.7.7", OLD_IMAGE)).await;
    mount_profiles(&server).await;
    let file = "agentpools_upgrade_node_image_version.2025-10-01.json";
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/agentPools/nodepool1/upgradeNodeImageVersion")))
        .respond_with(ResponseTemplate::new(202).insert_header("Azure-AsyncOperation", async_op_url(&server).as_str()).set_body_json(example_body(file, "202")))
        .expect(1)
        .mount(&server)
        .await;
    mount_operation(&server, op_status("Succeeded")).await;
    assert_eq!(perform(&server, node_image()).await, Ok(format!("succeeded: {OP_NAME}")));
}

#[tokio::test]
async fn a_pool_already_on_the_latest_image_is_already_done() {
    let server = MockServer::start().await;
    mount_cluster(&server, cluster_variant("clustername1", "1.7.7", LATEST_IMAGE)).await;
    mount_profiles(&server).await;
    expect_no_writes(&server).await;
    let mut a = node_image();
    // The planner's target may be older than what the pool runs now: the live profile decides.
    a.kind = ActionKind::Upgrade { upgrade: UpgradeScope::NodeImage { pool: "nodepool1".into() }, target: OLD_IMAGE.into() };
    assert!(matches!(perform(&server, a).await, Err(ActionError::AlreadyDone(_))));
}

#[tokio::test]
async fn every_live_gate_defers_the_change_with_its_reason() {
    type Vary = fn(&mut Value);
    let rows: Vec<(&str, Action, Vary, &str)> = vec![
        ("cluster busy", patch("1.7.11"), |c| c["properties"]["provisioningState"] = json!("Upgrading"), "another operation is in progress"),
        ("cluster failed", rotate(), |c| c["properties"]["provisioningState"] = json!("Failed"), "not ready (provisioningState Failed)"),
        ("cluster stopped", node_image(), |c| c["properties"]["powerState"]["code"] = json!("Stopped"), "not ready (powerState Stopped)"),
        (
            "pool busy",
            node_image(),
            |c| c["properties"]["agentPoolProfiles"][0]["provisioningState"] = json!("UpgradingNodeImageVersion"),
            "another operation is in progress",
        ),
        ("target not offered", patch("1.7.10"), |_| {}, "1.7.10 is not offered"),
    ];
    for (name, a, vary, reason) in rows {
        let server = MockServer::start().await;
        let mut cluster = cluster_variant("clustername1", "1.7.7", OLD_IMAGE);
        vary(&mut cluster);
        mount_cluster(&server, cluster).await;
        mount_profiles(&server).await;
        expect_no_writes(&server).await;
        let got = perform(&server, a).await;
        assert!(matches!(&got, Err(ActionError::Deferred(m)) if m.contains(reason)), "{name}: {got:?}");
        server.verify().await;
    }
}

#[tokio::test]
async fn a_patch_upgrade_puts_the_cluster_with_if_match_and_the_pools_follow() {
    let server = MockServer::start().await;
    mount_cluster(&server, cluster_variant("clustername1", "1.7.7", LATEST_IMAGE)).await;
    mount_profiles(&server).await;
    Mock::given(method("PUT"))
        .and(path(CLUSTER))
        .and(header("if-match", "beywbwei")) // the example's eTag
        .and(body_partial_json(json!({"properties": {"kubernetesVersion": "1.7.11"}})))
        .respond_with(ResponseTemplate::new(200).insert_header("Azure-AsyncOperation", async_op_url(&server).as_str()))
        .expect(1)
        .mount(&server)
        .await;
    mount_operation(&server, op_status("Succeeded")).await;
    let done = perform_reported(&server, patch("1.7.11")).await.expect("done");
    assert_eq!(done.detail, format!("succeeded: {OP_NAME}"));
    assert_eq!(done.operation, Some(aks_cadence::domain::OperationReport::Ended(aks_cadence::domain::OperationStatus::Succeeded)));

    let put = server.received_requests().await.unwrap().into_iter().find(|r| r.method.as_str() == "PUT").unwrap();
    let body: Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(body["properties"]["agentPoolProfiles"][0]["orchestratorVersion"], "1.7.11");
    assert!(body["properties"].get("currentKubernetesVersion").is_none(), "read-only properties are not sent");
    assert!(body["properties"].get("provisioningState").is_none());
    assert_eq!(body["properties"]["dnsPrefix"], "dnsprefix1");
}

#[tokio::test]
async fn a_failed_upgrade_reports_arms_code_and_message() {
    let server = MockServer::start().await;
    mount_cluster(&server, cluster_variant("clustername1", "1.7.7", LATEST_IMAGE)).await;
    mount_profiles(&server).await;
    Mock::given(method("PUT"))
        .and(path(CLUSTER))
        .respond_with(ResponseTemplate::new(201).insert_header("Azure-AsyncOperation", async_op_url(&server).as_str()))
        .mount(&server)
        .await;
    let mut failed = op_status("Failed");
    failed["error"] = json!({"code": "UpgradeFailed", "message": "Drain of node aks-nodepool1-0 did not complete: PodDisruptionBudget"});
    mount_operation(&server, failed).await;
    let Err(ActionError::OperationEnded { status, reason }) = perform(&server, patch("1.7.11")).await else {
        panic!("a failed operation is a permanent failure of an operation that ended")
    };
    // Reported as an operation ARM ran and that failed, with ARM's code and message (typed).
    assert_eq!(
        status,
        aks_cadence::domain::OperationStatus::Failed {
            code: "UpgradeFailed".into(),
            message: "Drain of node aks-nodepool1-0 did not complete: PodDisruptionBudget".into()
        },
        "{reason}"
    );
    assert!(reason.starts_with("ARM operation ") && reason.ends_with("failed: UpgradeFailed: Drain of node aks-nodepool1-0 did not complete: PodDisruptionBudget"), "{reason}");
}

/// One `auto` upgrade run by the executor (3 attempts, millisecond waits) against an ARM that
/// answers every PUT with `status`: the PUTs sent, and the cluster reads sent.
async fn puts_and_reads_under(status: u16) -> (usize, usize) {
    use aks_cadence::execute::{DEFAULT_LEASE, Executor, RetryPolicy};
    let server = MockServer::start().await;
    mount_cluster(&server, cluster_variant("clustername1", "1.7.7", LATEST_IMAGE)).await;
    mount_profiles(&server).await;
    Mock::given(method("PUT"))
        .and(path(CLUSTER))
        .respond_with(ResponseTemplate::new(status).insert_header("Retry-After", "0").set_body_json(json!({"error": {"code": "Busy", "message": "try later"}})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let ledger: std::sync::Arc<dyn aks_cadence::store::Ledger> = std::sync::Arc::new(aks_cadence::store::sqlite::SqliteLedger::open(dir.path().join("cadence.db")).unwrap());
    let retry = RetryPolicy { max_attempts: 3, base: std::time::Duration::from_millis(1), cap: std::time::Duration::from_millis(20) };
    let adapter: std::sync::Arc<dyn Actuator> = std::sync::Arc::new(AzureActuator::new(client(&server.uri())));
    let executor = Executor::new(ledger, vec![adapter], "w1", DEFAULT_LEASE).with_retry_policy(retry);
    let report = executor.execute(vec![patch("1.7.11")], "2026-03-01T10:00:00Z".parse().unwrap()).await;
    assert!(report.needs_retry(), "not done: the delivery comes again");
    let requests = server.received_requests().await.unwrap();
    let puts = requests.iter().filter(|r| r.method.as_str() == "PUT").count();
    let reads = requests.iter().filter(|r| r.method.as_str() == "GET" && r.url.path() == CLUSTER).count();
    (puts, reads)
}

#[tokio::test]
async fn one_change_has_one_retry_budget_and_reads_the_cluster_before_every_write() {
    for status in [429, 500] {
        let (puts, reads) = puts_and_reads_under(status).await;
        // The executor's 3 attempts, not the ARM client's retries times the executor's.
        assert_eq!(puts, 3, "HTTP {status}: one PUT per executor attempt");
        assert!(reads >= puts, "HTTP {status}: every PUT follows a fresh read of the cluster ({reads} reads, {puts} PUTs)");
    }
}

#[tokio::test]
async fn a_cluster_changed_between_read_and_write_is_retried_later() {
    let server = MockServer::start().await;
    mount_cluster(&server, cluster_variant("clustername1", "1.7.7", LATEST_IMAGE)).await;
    mount_profiles(&server).await;
    Mock::given(method("PUT"))
        .and(path(CLUSTER))
        .respond_with(ResponseTemplate::new(412).set_body_json(json!({"error": {"code": "PreconditionFailed", "message": "etag mismatch"}})))
        .expect(1)
        .mount(&server)
        .await;
    let got = perform(&server, patch("1.7.11")).await;
    assert!(matches!(&got, Err(ActionError::Transient(m)) if m.contains("412")), "{got:?}");
}

#[tokio::test]
async fn a_refused_role_is_a_configuration_failure_and_writes_nothing() {
    let server = MockServer::start().await;
    mount_cluster(&server, cluster_variant("clustername1", "1.7.7", LATEST_IMAGE)).await;
    mount_profiles(&server).await;
    Mock::given(method("PUT"))
        .and(path(CLUSTER))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "code": "AuthorizationFailed",
            "message": "The client 'x' with object id 'y' does not have authorization to perform action 'Microsoft.ContainerService/managedClusters/write'"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let got = perform(&server, patch("1.7.11")).await;
    assert!(
        matches!(&got, Err(ActionError::Configuration { setting, message }) if message.contains("AuthorizationFailed") && setting.contains("role assignment")),
        "a missing role is fixed by a person, and the same upgrade then works: {got:?}"
    );
}

#[tokio::test]
async fn a_conflict_means_not_now() {
    let server = MockServer::start().await;
    mount_cluster(&server, running_cluster()).await;
    mount_user_kubeconfig(&server, (2026, 5, 1, 3600)).await;
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/rotateClusterCertificates")))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({"error": {"code": "OperationNotAllowed", "message": "another operation is in progress"}})))
        .expect(1)
        .mount(&server)
        .await;
    let got = perform(&server, rotate()).await;
    assert!(matches!(&got, Err(ActionError::Deferred(m)) if m.starts_with("another operation is in progress")), "{got:?}");
}

#[tokio::test]
async fn a_rotation_follows_its_location_to_the_end() {
    let server = MockServer::start().await;
    mount_cluster(&server, running_cluster()).await;
    mount_user_kubeconfig(&server, (2026, 5, 1, 3600)).await;
    let file = "managedclusters_rotate_cluster_certificates.2025-10-01.json";
    let location = on_server(&example_header(file, "202", "location"), &server.uri());
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/rotateClusterCertificates")))
        .respond_with(ResponseTemplate::new(202).insert_header("Location", location.as_str()))
        .expect(1)
        .mount(&server)
        .await;
    let result_path = url::Url::parse(&location).unwrap().path().to_string();
    Mock::given(method("GET"))
        .and(path(result_path.as_str()))
        .respond_with(ResponseTemplate::new(202).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path(result_path.as_str())).respond_with(ResponseTemplate::new(204)).expect(1).mount(&server).await;
    assert_eq!(perform(&server, rotate()).await, Ok("succeeded: 00000000-0000-0000-0000-000000000000".into()));
}

#[tokio::test]
async fn a_minor_upgrade_may_not_skip_a_minor() {
    let server = MockServer::start().await;
    mount_cluster(&server, cluster_variant("clustername1", "1.7.7", LATEST_IMAGE)).await;
    mount_profiles(&server).await;
    expect_no_writes(&server).await;
    let got = perform(&server, minor("1.9.0")).await;
    assert!(matches!(&got, Err(ActionError::Permanent(m)) if m.contains("one minor at a time")), "{got:?}");
}

#[tokio::test]
async fn a_cluster_already_at_the_target_is_already_done_before_any_gate() {
    let server = MockServer::start().await;
    let mut c = cluster_variant("clustername1", "1.7.11", LATEST_IMAGE);
    c["properties"]["powerState"]["code"] = json!("Stopped"); // a gate would hold it; idempotency comes first
    mount_cluster(&server, c).await;
    expect_no_writes(&server).await;
    assert!(matches!(perform(&server, patch("1.7.11")).await, Err(ActionError::AlreadyDone(_))));
}

#[tokio::test]
async fn a_batch_answers_in_order_and_only_for_azure_actions() {
    let server = MockServer::start().await;
    mount_cluster(&server, cluster_variant("clustername1", "1.7.11", LATEST_IMAGE)).await;
    mount_profiles(&server).await;
    let adapter = AzureActuator::new(client(&server.uri()));
    assert!(adapter.handles(&ActionKind::RotateCertificates));
    assert!(!adapter.handles(&ActionKind::Log));
    let mut held = rotate();
    held.hold = Some(Hold::PolicyNotifyOnly);
    let results = adapter.perform(&[patch("1.7.11"), held, node_image()]).await;
    assert!(matches!(results[0], Err(ActionError::AlreadyDone(_))));
    assert!(matches!(&results[1], Err(ActionError::Deferred(m)) if m.contains("notify-only")));
    assert!(matches!(results[2], Err(ActionError::AlreadyDone(_))));
}

#[tokio::test]
async fn a_rotation_replayed_after_it_completed_does_not_rotate_again() {
    // The first attempt: the CA still expires on the concern's date → one POST.
    let first = MockServer::start().await;
    mount_cluster(&first, running_cluster()).await;
    mount_user_kubeconfig(&first, (2026, 5, 1, 3600)).await;
    mount_rotation(&first, 1).await;
    assert_eq!(perform(&first, rotate()).await, Ok("succeeded: 00000000-0000-0000-0000-000000000000".into()));

    // The process crashed before the ledger recorded it; the claim expired and the action comes
    // again. The cluster now has the rotated CA (30 years): already done, NO second POST.
    let replay = MockServer::start().await;
    mount_cluster(&replay, running_cluster()).await;
    mount_user_kubeconfig(&replay, (2056, 11, 29, 0)).await;
    mount_rotation(&replay, 0).await;
    let got = perform(&replay, rotate()).await;
    assert!(matches!(&got, Err(ActionError::AlreadyDone(m)) if m.contains("already rotated") && m.contains("2056-11-29")), "{got:?}");
    let client_concern = perform(&replay, rotate_for("kubeconfig-client@2026-05-01")).await;
    assert!(matches!(&client_concern, Err(ActionError::AlreadyDone(_))), "{client_concern:?}");
}

#[tokio::test]
async fn an_api_server_rotation_is_guarded_by_the_served_certificate() {
    let ca = Ca::new("ca", (2024, 5, 1, 0), (2054, 5, 1, 0));
    let old = leaf("apiserver", (2024, 5, 1, 0), (2026, 5, 1, 3600), &ca);
    let new = leaf("apiserver", (2026, 4, 20, 0), (2028, 4, 20, 0), &ca);
    let (old_addr, _) = tls_server(vec![old.der.clone(), ca.der()], old.key_der(), &[&rustls::version::TLS13]).await;
    let (new_addr, _) = tls_server(vec![new.der.clone(), ca.der()], new.key_der(), &[&rustls::version::TLS13]).await;
    let mut cluster = running_cluster();
    cluster["properties"]["fqdn"] = json!("127.0.0.1");
    let adapter = |server: &MockServer, port: u16| {
        let checks = aks_cadence::sweep::CertificateChecks { api_server_port: port, ..Default::default() };
        AzureActuator::new(client(&server.uri())).with_certificate_checks(checks)
    };

    let first = MockServer::start().await;
    mount_cluster(&first, cluster.clone()).await;
    mount_rotation(&first, 1).await;
    let got = adapter(&first, old_addr.port()).perform(&[rotate_for("api-server@2026-05-01")]).await.remove(0);
    // Recorded as `succeeded: <id>`, and reported (typed) as an operation that ended succeeded.
    assert_eq!(got, Ok(aks_cadence::actions::azure::succeeded("00000000-0000-0000-0000-000000000000")));

    let replay = MockServer::start().await;
    mount_cluster(&replay, cluster).await;
    mount_rotation(&replay, 0).await;
    let got = adapter(&replay, new_addr.port()).perform(&[rotate_for("api-server@2026-05-01")]).await.remove(0);
    assert!(matches!(&got, Err(ActionError::AlreadyDone(m)) if m.contains("2028-04-20")), "{got:?}");
}

#[tokio::test]
async fn a_rotation_that_cannot_see_the_certificate_does_not_rotate() {
    let server = MockServer::start().await;
    mount_cluster(&server, running_cluster()).await;
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/listClusterUserCredential")))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "AuthorizationFailed", "message": "no listClusterUserCredential/action"}})))
        .mount(&server)
        .await;
    mount_rotation(&server, 0).await;
    let got = perform(&server, rotate()).await;
    assert!(matches!(&got, Err(ActionError::Transient(m)) if m.contains("cannot tell")), "{got:?}");
    let got = perform(&server, rotate_for("api-server")).await;
    assert!(matches!(&got, Err(ActionError::Permanent(m)) if m.contains("no `<certificate>@<date>`")), "{got:?}");
}
