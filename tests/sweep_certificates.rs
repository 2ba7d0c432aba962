//! Certificates in the per-cluster sweep: the API server's TLS certificate (a local TLS server
//! with an rcgen certificate of known expiry) and the user kubeconfig's CA and client
//! certificate (served by a fake ARM). Failures are notes, never a failed sweep.

mod arm_common;
mod certs_support;

use std::time::Duration;

use aks_cadence::domain::{CertificateKind, SignalKind};
use aks_cadence::sweep::{CertificateChecks, ClusterSnapshot, SweepOptions, SweepRun, sweep_cluster};
use arm_common::*;
use base64::Engine as _;
use certs_support::{Ca, closed_port, leaf, tls_server, ts};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ALL_VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn run() -> SweepRun {
    SweepRun::new("sweep-certs", "2026-03-01T02:00:00Z".parse().unwrap())
}

/// A cluster whose public API server is this machine.
fn loopback_cluster() -> Value {
    let mut c = cluster_variant("clustername1", "1.7.7", "AKSUbuntu:1604:2020.03.11");
    c["properties"]["fqdn"] = json!("127.0.0.1");
    c
}

fn checks(port: u16) -> SweepOptions {
    SweepOptions {
        certificates: CertificateChecks { api_server_port: port, timeout: Duration::from_secs(5), ..CertificateChecks::default() },
        ..SweepOptions::default()
    }
}

/// Everything but the certificate sources answers, so the test is about certificates only.
async fn mount_other_reads(server: &MockServer) {
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("GET"))
        .and(path_regex(r"/kubernetesVersions$"))
        .respond_with(ok(example_body("kubernetes_versions_list.2025-10-01.json", "200")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/managedClusters/[^/]+/upgradeProfiles/default$"))
        .respond_with(ok(example_body("managedclusters_get_upgrade_profile.2026-06-01.json", "200")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/agentPools/[^/]+/upgradeProfiles/default$"))
        .respond_with(ok(example_body("agentpools_get_upgrade_profile.2026-06-01.json", "200")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"/maintenanceConfigurations$"))
        .respond_with(ok(json!({"value": []})))
        .mount(server)
        .await;
}

/// The `listClusterUserCredential` example with its placeholder value replaced by a real
/// kubeconfig holding `ca_pem` and `client_pem`.
fn user_credentials(ca_pem: &str, client_pem: &str) -> Value {
    let kubeconfig = format!(
        "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {}
    server: https://127.0.0.1:443
  name: clustername1
contexts:
- context:
    cluster: clustername1
    user: clusterUser_rg1_clustername1
  name: clustername1
current-context: clustername1
kind: Config
users:
- name: clusterUser_rg1_clustername1
  user:
    client-certificate-data: {}
    token: 0123456789abcdef
",
        b64(ca_pem),
        b64(client_pem)
    );
    let mut body = example_body("managedclusters_list_cluster_user_credentials.2026-04-01.json", "200");
    body["kubeconfigs"][0]["value"] = json!(b64(kubeconfig));
    body
}

fn expiries(snap: &ClusterSnapshot) -> Vec<(CertificateKind, jiff::Timestamp)> {
    snap.signals
        .iter()
        .filter_map(|s| match &s.kind {
            SignalKind::CertificateExpiring { certificate, not_after } => Some((*certificate, *not_after)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_sweep_reports_the_exact_expiry_of_the_api_server_ca_and_client_certificates() {
    let ca = Ca::new("ca", (2024, 1, 1, 0), (2054, 1, 1, 0));
    let api = leaf("apiserver", (2024, 5, 1, 0), (2026, 5, 1, 10 * 3600 + 30 * 60), &ca);
    let client_cert = leaf("masterclient", (2024, 5, 1, 0), (2026, 5, 2, 8 * 3600), &ca);
    let (addr, mut received) = tls_server(vec![api.der.clone(), ca.der()], api.key_der(), ALL_VERSIONS).await;

    let server = MockServer::start().await;
    mount_other_reads(&server).await;
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/listClusterUserCredential")))
        .respond_with(ResponseTemplate::new(200).set_body_json(user_credentials(&ca.pem(), &client_cert.pem)))
        .expect(1)
        .mount(&server)
        .await;

    let record = record_of(&loopback_cluster());
    let snap = sweep_cluster(&client(&server.uri()), &checks(addr.port()), &run(), &record, &[]).await.unwrap();

    assert_eq!(
        expiries(&snap),
        vec![
            (CertificateKind::ApiServer, ts((2026, 5, 1, 10 * 3600 + 30 * 60))),
            (CertificateKind::ClusterCa, ts((2054, 1, 1, 0))),
            (CertificateKind::KubeconfigClient, ts((2026, 5, 2, 8 * 3600))),
        ]
    );
    assert!(snap.notes.is_empty(), "{:?}", snap.notes);
    // Every source answered, so the next run can tell a rotated certificate from this one.
    assert_eq!(snap.observed.certificates[&CertificateKind::ApiServer], vec![ts((2026, 5, 1, 10 * 3600 + 30 * 60))]);
    assert_eq!(snap.observed.certificates[&CertificateKind::ClusterCa], vec![ts((2054, 1, 1, 0))]);
    assert_eq!(snap.observed.certificates[&CertificateKind::KubeconfigClient], vec![ts((2026, 5, 2, 8 * 3600))]);
    // The API server saw a handshake and not one application byte.
    assert_eq!(received.recv().await, Some(0));
}

#[tokio::test]
async fn unreadable_certificates_are_notes_and_the_sweep_goes_on() {
    let server = MockServer::start().await;
    mount_other_reads(&server).await;
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/listClusterUserCredential")))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"error": {"code": "AuthorizationFailed", "message": "no listClusterUserCredential/action"}})),
        )
        .mount(&server)
        .await;
    let record = record_of(&loopback_cluster());
    let snap = sweep_cluster(&client(&server.uri()), &checks(closed_port().await), &run(), &record, &[]).await.unwrap();

    assert!(expiries(&snap).is_empty());
    assert!(!snap.signals.is_empty(), "the other findings are still there");
    assert_eq!(snap.notes.len(), 2, "{:?}", snap.notes);
    assert!(snap.notes[0].starts_with("API server certificate: 127.0.0.1:") && snap.notes[0].contains("cannot connect"), "{:?}", snap.notes);
    assert!(snap.notes[1].contains("AuthorizationFailed"), "{:?}", snap.notes);
    assert!(snap.observed.certificates.is_empty(), "no source answered: nothing can count as rotated");
}

#[tokio::test]
async fn a_kubeconfig_that_is_not_one_is_a_note() {
    // The ARM example's value is a placeholder ("credentialValue1"), not a kubeconfig.
    let server = MockServer::start().await;
    mount_other_reads(&server).await;
    Mock::given(method("POST"))
        .and(path(format!("{CLUSTER}/listClusterUserCredential")))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("managedclusters_list_cluster_user_credentials.2026-04-01.json", "200")))
        .mount(&server)
        .await;
    let mut private = loopback_cluster();
    private["properties"]["privateFQDN"] = json!("clustername1-priv.privatelink.eastus.azmk8s.io");
    let options = SweepOptions { certificates: CertificateChecks { api_server_port: closed_port().await, ..CertificateChecks::default() }, ..SweepOptions::default() };
    let snap = sweep_cluster(&client(&server.uri()), &options, &run(), &record_of(&private), &[]).await.unwrap();

    assert!(expiries(&snap).is_empty());
    assert!(snap.notes[0].starts_with("private cluster"), "a private API server is not dialled: {:?}", snap.notes);
    assert!(snap.notes[1].starts_with("user kubeconfig 0: kubeconfig is not a YAML kubeconfig"), "{:?}", snap.notes);
    assert!(snap.observed.certificates.is_empty());
}
