//! TLS for every reqwest client the handler builds: one rustls configuration per process, whose
//! trust roots are loaded from the system store once, on the first TLS handshake.
//!
//! Why: reqwest's default (the platform verifier) reads and parses the whole system certificate
//! store each time a client is built, and start-up built three clients; the Functions host
//! waits for `GET /` meanwhile. Here building a client costs no IO; the first HTTPS call of the
//! process loads the roots (`rustls-native-certs`: `SSL_CERT_FILE` / `SSL_CERT_DIR`, else the
//! system store — the same sources the platform verifier uses on Linux), and every client
//! shares them. `serve` warms them up right after it starts listening, so no request waits for
//! them either.
//!
//! No CA certificates at all is a configuration problem, never a panic: [`trust_roots`] says
//! which setting fixes it; the tools check it before their first call, the host logs it at
//! start-up, and a handshake without roots fails with the same message.

use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::settings::SettingsError;

/// The setting that points at a CA bundle when the system has none.
pub const CA_SETTING: &str = "SSL_CERT_FILE";

/// The process's trust roots as a verifier, loaded on first call. `Err` names the fix.
pub fn trust_roots() -> Result<Arc<WebPkiServerVerifier>, SettingsError> {
    static ROOTS: OnceLock<Result<Arc<WebPkiServerVerifier>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let loaded = rustls_native_certs::load_native_certs();
            let mut store = rustls::RootCertStore::empty();
            let (added, _ignored) = store.add_parsable_certificates(loaded.certs);
            if added == 0 {
                let why = loaded.errors.first().map(|e| format!(" ({e})")).unwrap_or_default();
                return Err(format!("no CA certificates were found on this machine{why}, so no HTTPS server can be trusted"));
            }
            WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider())
                .build()
                .map_err(|e| format!("the system CA certificates cannot be used: {e}"))
        })
        .clone()
        .map_err(|problem| SettingsError {
            name: CA_SETTING,
            problem,
            fix: "install the ca-certificates package, or set SSL_CERT_FILE to a PEM bundle (or SSL_CERT_DIR to a directory of certificates)".into(),
        })
}

/// The rustls configuration every client uses: aws-lc, TLS 1.2 and 1.3, the shared lazy roots,
/// ALPN h2 then http/1.1 (what reqwest sets for its own configurations).
pub fn client_config() -> rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = provider();
            let schemes = provider.signature_verification_algorithms;
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("aws-lc supports the default TLS versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(LazyRoots { schemes }))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            config
        })
        .clone()
}

/// aws-lc, installed as the process default if nobody has installed one yet (never ring).
fn provider() -> Arc<CryptoProvider> {
    // An error only means a provider is already installed (by main, a test or another client).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
}

/// Verifies server certificates against [`trust_roots`], loading them on the first handshake.
/// The handshake signatures need no roots, only the provider's algorithms.
#[derive(Debug)]
struct LazyRoots {
    schemes: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for LazyRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let roots = trust_roots().map_err(|e| rustls::Error::General(e.to_string()))?;
        roots.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.schemes)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.schemes)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.supported_schemes()
    }
}
