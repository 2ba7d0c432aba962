//! Reading the API server certificate over TLS from loopback servers with generated
//! certificates of known validity.

mod certs_support;

use std::time::Duration;

use aks_cadence::sweep::certs::{CertError, api_server_certificate};
use certs_support::{Ca, closed_port, leaf, leaf_for, plain_http_server, silent_server, tls_server, ts};

const TIMEOUT: Duration = Duration::from_secs(10);
const ALL_VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

#[tokio::test]
async fn reads_the_exact_expiry_of_the_api_server_certificate_and_sends_nothing() {
    let ca = Ca::new("ca", (2024, 1, 1, 0), (2054, 1, 1, 0));
    let server = leaf("apiserver", (2025, 3, 4, 0), (2031, 3, 4, 13 * 3600 + 37 * 60 + 5), &ca);
    let (addr, mut received) = tls_server(vec![server.der.clone()], server.key_der(), ALL_VERSIONS).await;

    let facts = api_server_certificate("127.0.0.1", addr.port(), TIMEOUT).await.unwrap();

    assert_eq!(facts.not_after, ts((2031, 3, 4, 13 * 3600 + 37 * 60 + 5)));
    assert_eq!(facts.not_after.to_string(), "2031-03-04T13:37:05Z");
    assert_eq!(facts.not_before, ts((2025, 3, 4, 0)));
    assert!(facts.subject.contains("CN=apiserver"), "{}", facts.subject);
    assert_eq!(facts.issuer, "CN=ca");
    assert!(!facts.is_ca);
    assert!(facts.chain.is_empty());
    assert!(!facts.chain_includes_ca);
    assert_eq!(facts.ca(), None);
    // The server saw the client close without a single application byte.
    assert_eq!(received.recv().await, Some(0));
}

#[tokio::test]
async fn reads_the_chain_and_sees_the_ca_that_issued_the_certificate() {
    let ca = Ca::new("cluster-ca", (2024, 1, 1, 0), (2054, 5, 6, 7 * 3600 + 8 * 60 + 9));
    let server = leaf("apiserver", (2024, 1, 1, 0), (2026, 7, 1, 0), &ca);
    let (addr, _) = tls_server(vec![server.der.clone(), ca.der()], server.key_der(), ALL_VERSIONS).await;

    let facts = api_server_certificate("localhost", addr.port(), TIMEOUT).await.unwrap();

    assert_eq!(facts.not_after, ts((2026, 7, 1, 0)));
    assert!(facts.chain_includes_ca);
    let issuer = facts.ca().unwrap();
    assert!(issuer.is_ca);
    assert_eq!(issuer.subject, "CN=cluster-ca");
    // 2054 is written as GeneralizedTime (UTCTime stops at 2049): read exactly too.
    assert_eq!(issuer.not_after.to_string(), "2054-05-06T07:08:09Z");
}

#[tokio::test]
async fn an_expired_certificate_is_still_read() {
    let ca = Ca::new("ca", (2019, 1, 1, 0), (2049, 1, 1, 0));
    let server = leaf("apiserver", (2019, 6, 30, 0), (2021, 6, 30, 12 * 3600), &ca);
    let (addr, _) = tls_server(vec![server.der.clone()], server.key_der(), ALL_VERSIONS).await;

    let facts = api_server_certificate("127.0.0.1", addr.port(), TIMEOUT).await.unwrap();

    assert_eq!(facts.not_after.to_string(), "2021-06-30T12:00:00Z");
    assert!(facts.not_after < jiff::Timestamp::now());
}

#[tokio::test]
async fn a_tls_1_2_only_server_is_read() {
    let ca = Ca::new("ca", (2024, 1, 1, 0), (2034, 1, 1, 0));
    let server = leaf("apiserver", (2024, 1, 1, 0), (2027, 2, 3, 4), &ca);
    let (addr, _) = tls_server(vec![server.der.clone()], server.key_der(), &[&rustls::version::TLS12]).await;

    let facts = api_server_certificate("127.0.0.1", addr.port(), TIMEOUT).await.unwrap();
    assert_eq!(facts.not_after.to_string(), "2027-02-03T00:00:04Z");
}

#[tokio::test]
async fn an_ed25519_certificate_is_read() {
    let ca = Ca::new("ca", (2024, 1, 1, 0), (2034, 1, 1, 0));
    let server = leaf_for(&rcgen::PKCS_ED25519, "apiserver", (2028, 12, 31, 86_399), &ca);
    let (addr, _) = tls_server(vec![server.der.clone()], server.key_der(), ALL_VERSIONS).await;

    let facts = api_server_certificate("127.0.0.1", addr.port(), TIMEOUT).await.unwrap();
    assert_eq!(facts.not_after.to_string(), "2028-12-31T23:59:59Z");
}

#[tokio::test]
async fn a_port_without_tls_is_a_handshake_error() {
    let addr = plain_http_server().await;
    let err = api_server_certificate("127.0.0.1", addr.port(), TIMEOUT).await.unwrap_err();
    assert!(matches!(err, CertError::Handshake { .. }), "{err:?}");
    assert!(!err.is_transient());
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("127.0.0.1:{}: TLS handshake failed", addr.port())), "{msg}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let addr = silent_server().await;
    let after = Duration::from_millis(300);
    let err = api_server_certificate("127.0.0.1", addr.port(), after).await.unwrap_err();
    assert_eq!(err, CertError::Timeout { endpoint: format!("127.0.0.1:{}", addr.port()), after });
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let port = closed_port().await;
    let err = api_server_certificate("127.0.0.1", port, TIMEOUT).await.unwrap_err();
    assert!(matches!(err, CertError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn an_invalid_host_name_is_rejected_before_connecting() {
    let err = api_server_certificate("not a host!", 443, TIMEOUT).await.unwrap_err();
    assert_eq!(err, CertError::InvalidHost { host: "not a host!".into() });
    assert_eq!(err.to_string(), "`not a host!` is not a valid host name or IP address");
}
