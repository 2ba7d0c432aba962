//! Reading the cluster CA and client certificate from kubeconfigs as ARM's credential
//! endpoints return them, and the errors garbage gets.

mod certs_support;

use aks_cadence::domain::CertificateKind;
use aks_cadence::sweep::certs::{CertError, credential_results, kubeconfig_certificates};
use base64::Engine as _;
use certs_support::{Ca, leaf, ts};
use serde_json::json;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A kubeconfig shaped like the one `listClusterAdminCredential` returns.
fn admin_kubeconfig(ca_data: &str, client_data: &str) -> String {
    format!(
        "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {ca_data}
    server: https://prod-weu-dns-12345678.hcp.westeurope.azmk8s.io:443
  name: prod-weu
contexts:
- context:
    cluster: prod-weu
    user: clusterAdmin_rg1_prod-weu
  name: prod-weu-admin
current-context: prod-weu-admin
kind: Config
preferences: {{}}
users:
- name: clusterAdmin_rg1_prod-weu
  user:
    client-certificate-data: {client_data}
    client-key-data: {}
    token: 0123456789abcdef
",
        b64("-----BEGIN EC PRIVATE KEY-----\nnot used\n-----END EC PRIVATE KEY-----\n")
    )
}

struct Pki {
    ca: Ca,
    client: certs_support::Leaf,
}

fn pki() -> Pki {
    let ca = Ca::new("ca", (2024, 2, 1, 0), (2054, 2, 1, 9 * 3600 + 15 * 60 + 30));
    let client = leaf("masterclient", (2024, 2, 1, 0), (2026, 2, 1, 9 * 3600 + 15 * 60 + 31), &ca);
    Pki { ca, client }
}

#[test]
fn a_kubeconfig_gives_the_exact_ca_and_client_certificate_expiries() {
    let pki = pki();
    let yaml = admin_kubeconfig(&b64(pki.ca.pem()), &b64(&pki.client.pem));

    let certs = kubeconfig_certificates(yaml.as_bytes()).unwrap();

    assert_eq!(certs.len(), 2);
    let (kind, ca) = &certs[0];
    assert_eq!(*kind, CertificateKind::ClusterCa);
    assert_eq!(ca.not_after, ts((2054, 2, 1, 9 * 3600 + 15 * 60 + 30)));
    assert!(ca.is_ca);
    assert_eq!(ca.subject, "CN=ca");
    let (kind, client) = &certs[1];
    assert_eq!(*kind, CertificateKind::KubeconfigClient);
    assert_eq!(client.not_after.to_string(), "2026-02-01T09:15:31Z");
    assert_eq!(client.issuer, "CN=ca");
    assert!(!client.is_ca);
}

#[test]
fn credential_results_decode_to_kubeconfigs_that_can_be_read() {
    let pki = pki();
    let yaml = admin_kubeconfig(&b64(pki.ca.pem()), &b64(&pki.client.pem));
    let body = json!({"kubeconfigs": [
        {"name": "clusterAdmin", "value": b64(&yaml)},
        {"name": "clusterUser", "value": b64("apiVersion: v1\nkind: Config\n")}
    ]});

    let kubeconfigs = credential_results(&body).unwrap();

    assert_eq!(kubeconfigs.len(), 2);
    assert_eq!(kubeconfigs[0], yaml.as_bytes());
    let certs = kubeconfig_certificates(&kubeconfigs[0]).unwrap();
    assert_eq!(certs.iter().map(|(k, c)| (*k, c.not_after.to_string())).collect::<Vec<_>>(), [
        (CertificateKind::ClusterCa, "2054-02-01T09:15:30Z".to_string()),
        (CertificateKind::KubeconfigClient, "2026-02-01T09:15:31Z".to_string()),
    ]);
    // A kubeconfig without embedded certificates yields none (and is not an error).
    assert_eq!(kubeconfig_certificates(&kubeconfigs[1]).unwrap(), []);
}

#[test]
fn an_entra_id_kubeconfig_has_only_the_cluster_ca() {
    let pki = pki();
    let yaml = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.hcp.westeurope.azmk8s.io:443
    certificate-authority-data: {}
users:
- name: clusterUser_rg1_prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630]
",
        b64(pki.ca.pem())
    );
    let certs = kubeconfig_certificates(yaml.as_bytes()).unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].0, CertificateKind::ClusterCa);
}

#[test]
fn a_json_kubeconfig_with_der_data_and_a_ca_bundle_is_read() {
    let pki = pki();
    let other = Ca::new("old-ca", (2019, 1, 1, 0), (2021, 1, 1, 0));
    let bundle = format!("{}{}", pki.ca.pem(), other.pem());
    // kubectl also accepts JSON (a subset of YAML); -data may hold DER instead of PEM.
    let config = json!({
        "clusters": [{"name": "c", "cluster": {"certificate-authority-data": b64(bundle)}}],
        "users": [{"name": "u", "user": {"client-certificate-data": b64(pki.client.der.as_ref())}}]
    });
    let certs = kubeconfig_certificates(config.to_string().as_bytes()).unwrap();
    let summary: Vec<(CertificateKind, String)> = certs.iter().map(|(k, c)| (*k, c.subject.clone())).collect();
    assert_eq!(summary, [
        (CertificateKind::ClusterCa, "CN=ca".to_string()),
        (CertificateKind::ClusterCa, "CN=old-ca".to_string()),
        (CertificateKind::KubeconfigClient, "CN=masterclient, O=system:masters".to_string()),
    ]);
    assert_eq!(certs[1].1.not_after.to_string(), "2021-01-01T00:00:00Z");
}

#[test]
fn the_arm_example_placeholder_is_decoded_and_rejected_as_a_kubeconfig() {
    for name in [
        "managedclusters_list_cluster_admin_credentials.2026-06-01.json",
        "managedclusters_list_cluster_user_credentials.2026-04-01.json",
    ] {
        let path = format!("{}/tests/fixtures/arm/{name}", env!("CARGO_MANIFEST_DIR"));
        let example: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let kubeconfigs = credential_results(&example["responses"]["200"]["body"]).unwrap();
        // Microsoft's example carries a placeholder, not a kubeconfig.
        assert_eq!(kubeconfigs, [b"credentialValue1".to_vec()]);
        let err = kubeconfig_certificates(&kubeconfigs[0]).unwrap_err();
        assert!(matches!(err, CertError::Kubeconfig { .. }), "{err:?}");
        assert!(err.to_string().starts_with("kubeconfig is not a YAML kubeconfig: "), "{err}");
    }
}

#[test]
fn garbage_gets_typed_errors_that_say_where() {
    let pki = pki();
    let client = b64(&pki.client.pem);
    let rows: Vec<(Vec<u8>, &str)> = vec![
        (b"\xff\xfe{{ not: [yaml".to_vec(), "kubeconfig is not a YAML kubeconfig: "),
        (b"- just\n- a list\n".to_vec(), "kubeconfig is not a YAML kubeconfig: "),
        (
            admin_kubeconfig("this*is*not*base64", &client).into_bytes(),
            "clusters[0] (prod-weu).cluster.certificate-authority-data: not valid base64: ",
        ),
        (
            admin_kubeconfig(&b64("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), &client).into_bytes(),
            "clusters[0] (prod-weu).cluster.certificate-authority-data PEM block 0: not an X.509 certificate: ",
        ),
        (
            admin_kubeconfig(&b64("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), &client).into_bytes(),
            "clusters[0] (prod-weu).cluster.certificate-authority-data: not an X.509 certificate: PEM without a CERTIFICATE block",
        ),
        (
            admin_kubeconfig(&b64(pki.ca.pem()), &b64("hello")).into_bytes(),
            "users[0] (clusterAdmin_rg1_prod-weu).user.client-certificate-data: not an X.509 certificate: ",
        ),
    ];
    for (input, prefix) in rows {
        let err = kubeconfig_certificates(&input).unwrap_err();
        assert!(err.to_string().starts_with(prefix), "got: {err}\nwant prefix: {prefix}");
        assert!(!err.is_transient());
    }
}

#[test]
fn malformed_credential_results_get_typed_errors() {
    let rows = [
        (json!({}), "credential results: the body has no `kubeconfigs` array"),
        (json!({"kubeconfigs": [{"name": "clusterUser"}]}), "credential results: kubeconfigs[0] (clusterUser) has no string `value`"),
        (json!({"kubeconfigs": [{"name": "clusterUser", "value": "***"}]}), "kubeconfigs[0] (clusterUser).value: not valid base64: "),
    ];
    for (body, prefix) in rows {
        let err = credential_results(&body).unwrap_err();
        assert!(err.to_string().starts_with(prefix), "got: {err}\nwant prefix: {prefix}");
    }
    assert_eq!(credential_results(&json!({"kubeconfigs": []})).unwrap(), Vec::<Vec<u8>>::new());
}
