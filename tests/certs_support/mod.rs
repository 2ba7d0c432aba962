//! Shared helpers for the certificate tests: certificates of known validity (rcgen) and
//! loopback servers (tokio-rustls, plain TCP).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SignatureAlgorithm};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A UTC instant as (year, month, day, seconds into the day).
pub type Utc = (i32, u8, u8, u64);

fn validity(params: &mut CertificateParams, not_before: Utc, not_after: Utc) {
    params.not_before = rcgen::date_time_ymd(not_before.0, not_before.1, not_before.2) + Duration::from_secs(not_before.3);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2) + Duration::from_secs(not_after.3);
}

/// The jiff timestamp of a [`Utc`] (to compare with what the readers return).
pub fn ts(at: Utc) -> jiff::Timestamp {
    let d = jiff::civil::Date::new(at.0 as i16, at.1 as i8, at.2 as i8).unwrap();
    jiff::tz::Offset::UTC.to_timestamp(d.at(0, 0, 0, 0)).unwrap() + jiff::SignedDuration::from_secs(at.3 as i64)
}

pub struct Ca {
    pub issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new(cn: &str, not_before: Utc, not_after: Utc) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        validity(&mut params, not_before, not_after);
        Self { issuer: CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap() }
    }
    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }
}

pub struct Leaf {
    pub der: CertificateDer<'static>,
    pub pem: String,
    pub key: KeyPair,
}

impl Leaf {
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }
}

pub fn leaf(cn: &str, not_before: Utc, not_after: Utc, ca: &Ca) -> Leaf {
    leaf_with(cn, not_before, not_after, ca, KeyPair::generate().unwrap())
}

pub fn leaf_for(alg: &'static SignatureAlgorithm, cn: &str, not_after: Utc, ca: &Ca) -> Leaf {
    leaf_with(cn, (2024, 1, 1, 0), not_after, ca, KeyPair::generate_for(alg).unwrap())
}

fn leaf_with(cn: &str, not_before: Utc, not_after: Utc, ca: &Ca, key: KeyPair) -> Leaf {
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.distinguished_name.push(DnType::OrganizationName, "system:masters");
    validity(&mut params, not_before, not_after);
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    Leaf { der: cert.der().clone(), pem: cert.pem(), key }
}

/// A TLS server on 127.0.0.1:0 presenting `chain`. Each connection reports on the channel how
/// many application bytes the client sent before closing.
pub async fn tls_server(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> (SocketAddr, mpsc::UnboundedReceiver<usize>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let mut received = Vec::new();
                    let _ = tls.read_to_end(&mut received).await;
                    let _ = tx.send(received.len());
                }
            });
        }
    });
    (addr, rx)
}

/// A plain TCP server that answers like an HTTP server and closes.
pub async fn plain_http_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        }
    });
    addr
}

/// A TCP server that accepts and then says nothing, holding the connection open.
pub async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    addr
}

/// A loopback port with nothing listening on it.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}
