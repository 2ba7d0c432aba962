//! Certificate expiry readers, shared by the sweep (which finds expiring certificates) and the
//! Azure adapter (whose rotation guard reads them again before rotating). AKS sends no event
//! before a certificate expires, so the dates are read from two sources:
//!
//! * the API server's TLS certificate ([`api_server_certificate`]): a TLS handshake with the
//!   cluster's FQDN, needing no credentials (public clusters);
//! * the kubeconfigs that `listClusterUserCredential` / `listClusterAdminCredential` return
//!   ([`credential_results`] → [`kubeconfig_certificates`]): the cluster CA and, for
//!   certificate-based users, the client certificate.
//!
//! Wire shapes (TLS records, YAML, base64, DER) stop here: callers get [`CertFacts`].

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use jiff::Timestamp;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::domain::CertificateKind;


/// Which certificate sources a sweep reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateChecks {
    /// A TLS handshake with the public API server (`fqdn`) to read its certificate: no
    /// credentials, no ARM call. Private clusters are skipped (not reachable from outside
    /// their network).
    pub api_server: bool,
    /// `POST …/listClusterUserCredential` (one ARM *write* per cluster: ARM meters POSTs in the
    /// write bucket, 200 refilling 10/s) for the cluster CA and the client certificate.
    pub kubeconfig: bool,
    /// The API server's port (443; tests point it at a local TLS server).
    pub api_server_port: u16,
    /// Connect + handshake time limit per API server.
    pub timeout: std::time::Duration,
}

impl Default for CertificateChecks {
    fn default() -> Self {
        Self { api_server: true, kubeconfig: true, api_server_port: 443, timeout: std::time::Duration::from_secs(5) }
    }
}

impl CertificateChecks {
    /// No certificate reads (benchmarks, tests about other findings).
    pub fn off() -> Self {
        Self { api_server: false, kubeconfig: false, ..Self::default() }
    }
}

/// What we learn from one certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertFacts {
    /// Subject distinguished name, e.g. `CN=apiserver, O=…`.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// Whether the certificate says it is a CA (basicConstraints `cA`).
    pub is_ca: bool,
    /// TLS only: whether the server also sent a CA certificate after its own.
    pub chain_includes_ca: bool,
    /// TLS only: the certificates the server sent after its own, in the order sent.
    pub chain: Vec<CertFacts>,
}

impl CertFacts {
    /// The CA certificate the server sent along, if any: the one that issued this certificate
    /// when present, else the first CA in the chain.
    pub fn ca(&self) -> Option<&CertFacts> {
        self.chain
            .iter()
            .find(|c| c.is_ca && c.subject == self.issuer)
            .or_else(|| self.chain.iter().find(|c| c.is_ca))
    }
}

/// Why a certificate could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("`{host}` is not a valid host name or IP address")]
    InvalidHost { host: String },
    #[error("{endpoint}: no TLS handshake within {after:?}")]
    Timeout { endpoint: String, after: Duration },
    #[error("{endpoint}: cannot connect: {message}")]
    Connect { endpoint: String, message: String },
    #[error("{endpoint}: TLS handshake failed (is it a TLS port?): {message}")]
    Handshake { endpoint: String, message: String },
    #[error("{endpoint}: the server presented no certificate")]
    NoCertificate { endpoint: String },
    #[error("{what}: not an X.509 certificate: {message}")]
    Certificate { what: String, message: String },
    #[error("{what}: not valid base64: {message}")]
    Base64 { what: String, message: String },
    #[error("kubeconfig is not a YAML kubeconfig: {message}")]
    Kubeconfig { message: String },
    #[error("credential results: {problem}")]
    CredentialResults { problem: String },
}

impl CertError {
    /// Timeouts and refused connections may pass (an API server restarting, a network blip);
    /// everything else is about the data and will not change by retrying.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::Connect { .. })
    }
}

/// Reads the certificate the API server at `host:port` presents, with its chain.
///
/// Connect and handshake share one `timeout`. We accept any certificate (expired, self-signed,
/// for another name): the point is to read its dates, not to trust the server. After the
/// handshake nothing is sent: no request, no credentials.
pub async fn api_server_certificate(host: &str, port: u16, timeout: Duration) -> Result<CertFacts, CertError> {
    let endpoint = format!("{host}:{port}");
    let server_name = ServerName::try_from(host.to_string()).map_err(|_| CertError::InvalidHost { host: host.to_string() })?;
    let config = reader_client_config().map_err(|e| CertError::Handshake { endpoint: endpoint.clone(), message: e.to_string() })?;
    let connector = TlsConnector::from(Arc::new(config));
    let handshake = async {
        let tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| CertError::Connect { endpoint: endpoint.clone(), message: e.to_string() })?;
        connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| CertError::Handshake { endpoint: endpoint.clone(), message: e.to_string() })
    };
    let tls = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| CertError::Timeout { endpoint: endpoint.clone(), after: timeout })??;
    let presented: Vec<CertificateDer<'static>> = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    // Dropping the stream closes the TCP connection; no application data was ever written.
    drop(tls);
    let (leaf, rest) = presented.split_first().ok_or(CertError::NoCertificate { endpoint: endpoint.clone() })?;
    let mut facts = cert_facts_from_der(leaf, &format!("{endpoint} certificate"))?;
    for (i, der) in rest.iter().enumerate() {
        facts.chain.push(cert_facts_from_der(der, &format!("{endpoint} chain[{}]", i + 1))?);
    }
    facts.chain_includes_ca = facts.chain.iter().any(|c| c.is_ca);
    Ok(facts)
}

/// Certificates embedded in a kubeconfig: every `clusters[].cluster.certificate-authority-data`
/// certificate as [`CertificateKind::ClusterCa`], and the first certificate of every
/// `users[].user.client-certificate-data` as [`CertificateKind::KubeconfigClient`]. Entries
/// without embedded data (file paths, exec plugins such as Entra ID logins) contribute
/// nothing, so a kubeconfig without certificates gives an empty list.
pub fn kubeconfig_certificates(kubeconfig: &[u8]) -> Result<Vec<(CertificateKind, CertFacts)>, CertError> {
    let config: Kubeconfig =
        serde_yaml_ng::from_slice(kubeconfig).map_err(|e| CertError::Kubeconfig { message: e.to_string() })?;
    let mut out = Vec::new();
    for (i, c) in config.clusters.unwrap_or_default().iter().enumerate() {
        let Some(data) = c.cluster.as_ref().and_then(|c| c.certificate_authority_data.as_deref()) else { continue };
        let what = format!("clusters[{i}] ({}).cluster.certificate-authority-data", c.name);
        for facts in certificates_in(data, &what)? {
            out.push((CertificateKind::ClusterCa, facts));
        }
    }
    for (i, u) in config.users.unwrap_or_default().iter().enumerate() {
        let Some(data) = u.user.as_ref().and_then(|u| u.client_certificate_data.as_deref()) else { continue };
        let what = format!("users[{i}] ({}).user.client-certificate-data", u.name);
        // A client certificate may be followed by its issuers; the first one is the user's.
        if let Some(facts) = certificates_in(data, &what)?.into_iter().next() {
            out.push((CertificateKind::KubeconfigClient, facts));
        }
    }
    Ok(out)
}

/// Decodes the kubeconfigs in a `listClusterUserCredential` / `listClusterAdminCredential`
/// response body (`{"kubeconfigs": [{"name", "value": base64}]}`), in order.
pub fn credential_results(json: &serde_json::Value) -> Result<Vec<Vec<u8>>, CertError> {
    let items = json.get("kubeconfigs").and_then(|k| k.as_array()).ok_or_else(|| CertError::CredentialResults {
        problem: "the body has no `kubeconfigs` array (is it a listCluster*Credential response?)".into(),
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let name = item.get("name").and_then(|n| n.as_str()).unwrap_or("?");
            let value = item.get("value").and_then(|v| v.as_str()).ok_or_else(|| CertError::CredentialResults {
                problem: format!("kubeconfigs[{i}] ({name}) has no string `value`"),
            })?;
            decode_base64(value, &format!("kubeconfigs[{i}] ({name}).value"))
        })
        .collect()
}

/// Parses one DER certificate.
pub fn cert_facts_from_der(der: &[u8], what: &str) -> Result<CertFacts, CertError> {
    let bad = |message: String| CertError::Certificate { what: what.to_string(), message };
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| bad(e.to_string()))?;
    let validity = cert.validity();
    let at = |secs: i64| Timestamp::from_second(secs).map_err(|e| bad(format!("validity date out of range: {e}")));
    Ok(CertFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: at(validity.not_before.timestamp())?,
        not_after: at(validity.not_after.timestamp())?,
        is_ca: cert.is_ca(),
        chain_includes_ca: false,
        chain: Vec::new(),
    })
}

/// Certificates in a kubeconfig `*-data` value: base64 of PEM (one or more `CERTIFICATE`
/// blocks), or of bare DER.
fn certificates_in(data: &str, what: &str) -> Result<Vec<CertFacts>, CertError> {
    let bytes = decode_base64(data, what)?;
    if !bytes.windows(10).any(|w| w == b"-----BEGIN") {
        return Ok(vec![cert_facts_from_der(&bytes, what)?]);
    }
    let mut out = Vec::new();
    for (i, pem) in x509_parser::pem::Pem::iter_from_buffer(&bytes).enumerate() {
        let pem = pem.map_err(|e| CertError::Certificate { what: format!("{what} PEM block {i}"), message: e.to_string() })?;
        if pem.label == "CERTIFICATE" {
            out.push(cert_facts_from_der(&pem.contents, &format!("{what} PEM block {i}"))?);
        }
    }
    if out.is_empty() {
        return Err(CertError::Certificate { what: what.to_string(), message: "PEM without a CERTIFICATE block".into() });
    }
    Ok(out)
}

fn decode_base64(value: &str, what: &str) -> Result<Vec<u8>, CertError> {
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| CertError::Base64 { what: what.to_string(), message: e.to_string() })
}

#[derive(Deserialize)]
struct Kubeconfig {
    clusters: Option<Vec<NamedCluster>>,
    users: Option<Vec<NamedUser>>,
}

#[derive(Deserialize)]
struct NamedCluster {
    #[serde(default)]
    name: String,
    cluster: Option<ClusterEntry>,
}

#[derive(Deserialize)]
struct ClusterEntry {
    #[serde(rename = "certificate-authority-data")]
    certificate_authority_data: Option<String>,
}

#[derive(Deserialize)]
struct NamedUser {
    #[serde(default)]
    name: String,
    user: Option<UserEntry>,
}

#[derive(Deserialize)]
struct UserEntry {
    #[serde(rename = "client-certificate-data")]
    client_certificate_data: Option<String>,
}

/// A rustls client that completes a handshake with any server certificate, on aws-lc.
fn reader_client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ReadOnlyVerifier { provider }))
        .with_no_client_auth())
}

/// Accepts every certificate chain, because we only read its dates.
///
/// Why this is safe here: the connection carries nothing. We send no request, no token and no
/// client certificate, and we read nothing but the certificates from the handshake, so a
/// server we did not authenticate can learn nothing from us and make us do nothing. The worst
/// an impostor on the path can do is show us a wrong expiry date, which at most mistimes a
/// notice; authoritative dates come from the kubeconfig readers, which ARM serves over an
/// authenticated channel. Handshake signatures are still checked, so the server at least holds
/// the key of the certificate it shows. Never reuse this verifier for a connection that sends
/// anything.
#[derive(Debug)]
struct ReadOnlyVerifier {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ReadOnlyVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
