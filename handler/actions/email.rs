//! Email over SMTP (lettre, rustls on aws-lc): one digest per recipient list per batch.
//!
//! Settings: `SMTP_URL`, `SMTP_USERNAME`, `SMTP_PASSWORD` (a [`Secret`]), `SMTP_FROM`.
//!
//! | `SMTP_URL`                      | transport                                                  |
//! | ------------------------------- | ---------------------------------------------------------- |
//! | `smtp://host[:587]`             | STARTTLS, required: no STARTTLS offered → nothing is sent   |
//! | `smtps://host[:465]`            | implicit TLS from the first byte                           |
//! | `smtp://host:port?tls=none`     | plain text, for a relay on the same host/network or tests  |
//!
//! Certificates are checked against the web PKI roots and the host name in the URL. A password
//! is only ever sent inside TLS, or in plain text to a loopback address (a local relay).
//!
//! **Replay.** SMTP has no idempotency: a crash after the server accepted a message and before
//! the ledger recorded it sends the digest again on the retry. Two things keep that rare and
//! harmless: the executor claims every key before calling [`EmailActuator::perform`] (so
//! concurrent deliveries of one event cannot both send), and the `Message-ID` is derived from
//! the digest's action keys and recipients, so a resent digest carries the same id and mail
//! systems that de-duplicate by `Message-ID` show it once.

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParametersBuilder};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest as _, Sha256};

use super::digest::{Digest, DigestSender, EMAIL_MAX_ENTRIES, perform_digests};
use super::{Actuator, Performed};
use crate::action::{Action, ActionKind};
use crate::error::ActionError;
use crate::settings::{Secret, Settings, SettingsError};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// `smtp://`: plain connect, then STARTTLS, which the server must offer.
    StartTls,
    /// `smtps://`: TLS from the first byte.
    Implicit,
    /// `smtp://…?tls=none`: no encryption (a local relay, tests).
    None,
}

/// Where mail goes, parsed from `SMTP_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpEndpoint {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
}

impl SmtpEndpoint {
    /// Parses `SMTP_URL`. Credentials in the URL are refused (the URL is not a secret and may
    /// be logged): they belong in `SMTP_USERNAME` / `SMTP_PASSWORD`.
    pub fn parse(url: &str) -> Result<Self, SettingsError> {
        let fix = "use smtp://host:587 (STARTTLS), smtps://host:465 (implicit TLS), or smtp://127.0.0.1:25?tls=none for a local relay";
        let u = url::Url::parse(url).map_err(|e| bad("SMTP_URL", format!("not a URL ({e})"), fix))?;
        if !u.username().is_empty() || u.password().is_some() {
            return Err(bad("SMTP_URL", "the URL carries credentials", "remove them from SMTP_URL and set SMTP_USERNAME and SMTP_PASSWORD"));
        }
        let host = match u.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(h) => h.to_string(),
            None => return Err(bad("SMTP_URL", "no host", fix)),
        };
        let mut tls_param = None;
        for (k, v) in u.query_pairs() {
            match k.as_ref() {
                "tls" => tls_param = Some(v.to_ascii_lowercase()),
                other => return Err(bad("SMTP_URL", format!("unknown parameter `{other}`"), "the only parameter is ?tls=none (plain SMTP, for a local relay)")),
            }
        }
        let tls = match (u.scheme(), tls_param.as_deref()) {
            ("smtp", None | Some("required" | "starttls")) => SmtpTls::StartTls,
            ("smtp", Some("none")) => SmtpTls::None,
            ("smtps", None | Some("implicit" | "wrapper")) => SmtpTls::Implicit,
            ("smtps", Some(t)) => return Err(bad("SMTP_URL", format!("smtps:// always uses TLS; tls={t} contradicts it"), fix)),
            ("smtp", Some(t)) => {
                return Err(bad("SMTP_URL", format!("tls={t} is not a TLS mode"), "leave it out (STARTTLS required) or use tls=none for a local relay"));
            }
            (s, _) => return Err(bad("SMTP_URL", format!("scheme `{s}` is not smtp or smtps"), fix)),
        };
        let port = u.port().unwrap_or(match tls {
            SmtpTls::Implicit => 465,
            SmtpTls::StartTls | SmtpTls::None => 587,
        });
        Ok(Self { host, port, tls })
    }

    /// Whether the host is this machine (the only place a password may go in plain text).
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost") || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    fn describe(&self) -> String {
        let how = match self.tls {
            SmtpTls::StartTls => "STARTTLS",
            SmtpTls::Implicit => "TLS",
            SmtpTls::None => "no TLS",
        };
        format!("{}:{} ({how})", self.host, self.port)
    }
}

/// Everything the email adapter needs, validated.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub endpoint: SmtpEndpoint,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: Mailbox,
    /// Per SMTP command (connect, each reply). The whole send is bounded by twice this.
    pub timeout: Duration,
    /// Extra trusted root certificates (DER), beside the web PKI roots: a relay with a
    /// certificate from a private CA. Empty from settings; tests use it for a local TLS server.
    pub extra_roots: Vec<Vec<u8>>,
}

impl EmailConfig {
    /// Reads `SMTP_URL`, `SMTP_USERNAME`, `SMTP_PASSWORD`, `SMTP_FROM`. `Ok(None)` when
    /// `SMTP_URL` is not set (email is off).
    pub fn from_settings(s: &Settings) -> Result<Option<Self>, SettingsError> {
        let Some(url) = &s.smtp_url else { return Ok(None) };
        let endpoint = SmtpEndpoint::parse(url)?;
        let from_raw = s.smtp_from.as_deref().ok_or_else(|| bad("SMTP_FROM", "missing while SMTP_URL is set", "set the sender, e.g. `aks-cadence <cadence@example.com>`"))?;
        let from: Mailbox = from_raw
            .parse()
            .map_err(|e| bad("SMTP_FROM", format!("`{from_raw}` is not a mailbox ({e})"), "use `Name <address@example.com>` or a bare address"))?;
        match (&s.smtp_username, &s.smtp_password) {
            (Some(_), None) => return Err(bad("SMTP_PASSWORD", "missing while SMTP_USERNAME is set", "set SMTP_PASSWORD (a Key Vault reference in Azure), or remove SMTP_USERNAME")),
            (None, Some(_)) => return Err(bad("SMTP_USERNAME", "missing while SMTP_PASSWORD is set", "set SMTP_USERNAME, or remove SMTP_PASSWORD")),
            _ => {}
        }
        if s.smtp_password.is_some() && endpoint.tls == SmtpTls::None && !endpoint.is_loopback() {
            return Err(bad(
                "SMTP_URL",
                format!("tls=none would send SMTP_PASSWORD in clear text to {}", endpoint.host),
                "use STARTTLS (smtp://host:587) or smtps://host:465; tls=none is for a relay on this machine",
            ));
        }
        Ok(Some(Self {
            endpoint,
            username: s.smtp_username.clone(),
            password: s.smtp_password.clone(),
            from,
            timeout: Duration::from_secs(30),
            extra_roots: Vec::new(),
        }))
    }
}

/// Sends [`ActionKind::Email`] actions as digests.
pub struct EmailActuator {
    config: EmailConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for EmailActuator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailActuator").field("endpoint", &self.config.endpoint).field("from", &self.config.from).finish()
    }
}

impl EmailActuator {
    /// `Ok(None)` when email is not configured (`SMTP_URL` unset).
    pub fn from_settings(s: &Settings) -> Result<Option<Self>, SettingsError> {
        EmailConfig::from_settings(s)?.map(Self::new).transpose()
    }

    pub fn new(config: EmailConfig) -> Result<Self, SettingsError> {
        let ep = &config.endpoint;
        let tls_params = || {
            let mut b = TlsParametersBuilder::new(ep.host.clone());
            for der in &config.extra_roots {
                let cert = Certificate::from_der(der.clone())
                    .map_err(|e| bad("SMTP_URL", format!("an extra root certificate is not valid DER ({e})"), "pass X.509 certificates in DER form"))?;
                b = b.add_root_certificate(cert);
            }
            b.build().map_err(|e| bad("SMTP_URL", format!("cannot set up TLS for `{}` ({e})", ep.host), "use the server's DNS name as host"))
        };
        let tls = match ep.tls {
            SmtpTls::StartTls => Tls::Required(tls_params()?),
            SmtpTls::Implicit => Tls::Wrapper(tls_params()?),
            SmtpTls::None => {
                tracing::warn!(smtp = %ep.describe(), "SMTP_URL has tls=none: mail travels unencrypted (meant for a local relay)");
                Tls::None
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ep.host.clone())
            .port(ep.port)
            .tls(tls)
            .timeout(Some(config.timeout));
        if let (Some(user), Some(pass)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
        }
        Ok(Self { transport: builder.build(), config })
    }

    /// Sends one digest to one recipient list. `Ok` carries what the ledger records.
    async fn send_digest(&self, to: &[String], actions: &[&Action], digest: &Digest) -> Result<String, ActionError> {
        if to.is_empty() {
            return Err(ActionError::Permanent("the policy's email action has no recipients".into()));
        }
        let mut recipients: Vec<Mailbox> = Vec::with_capacity(to.len());
        for addr in to {
            let m: Mailbox = addr
                .parse()
                .map_err(|e| ActionError::Permanent(format!("email recipient `{addr}` in the policy is not an address ({e})")))?;
            if !recipients.iter().any(|r| r.email == m.email) {
                recipients.push(m);
            }
        }
        let subject = digest.subject();
        let message_id = message_id(actions, &recipients, self.config.from.email.domain());
        let mut builder = Message::builder()
            .from(self.config.from.clone())
            .subject(subject.clone())
            .message_id(Some(message_id.clone()));
        for r in &recipients {
            builder = builder.to(r.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(digest.text(), digest.html()))
            .map_err(|e| ActionError::Permanent(format!("cannot build the email: {e}")))?;

        let bound = self.config.timeout * 2;
        let sent = tokio::time::timeout(bound, self.transport.send(message)).await;
        match sent {
            Ok(Ok(_)) => {
                tracing::info!(smtp = %self.config.endpoint.describe(), recipients = recipients.len(), actions = actions.len(), %subject, "email digest sent");
                Ok(format!("sent to {} recipient{} as {message_id}", recipients.len(), if recipients.len() == 1 { "" } else { "s" }).into())
            }
            Ok(Err(e)) => Err(self.classify(&e)),
            Err(_) => Err(ActionError::Transient(format!("SMTP server {} did not finish within {bound:?}", self.config.endpoint.describe()))),
        }
    }

    /// Classifies an SMTP failure where it is born (house rule 6).
    fn classify(&self, e: &lettre::transport::smtp::Error) -> ActionError {
        let at = self.config.endpoint.describe();
        let text = scrub(&e.to_string(), self.config.password.as_ref());
        let has_login = self.config.username.is_some();
        if let Some(code) = e.status() {
            let code: u16 = code.to_string().parse().unwrap_or(0);
            return match code {
                // 530 auth required, 534 mechanism too weak, 535 credentials invalid,
                // 538 encryption required for the mechanism.
                530 | 534 | 535 | 538 => ActionError::configuration(
                    "SMTP_USERNAME and SMTP_PASSWORD",
                    if has_login {
                        format!("SMTP server {at} refused the login ({text})")
                    } else {
                        format!("SMTP server {at} requires a login ({text})")
                    },
                ),
                400..=499 => ActionError::Transient(format!("SMTP server {at}: {text}")),
                _ => ActionError::Permanent(format!("SMTP server {at}: {text}")),
            };
        }
        if e.is_timeout() {
            return ActionError::Transient(format!("SMTP server {at} timed out: {text}"));
        }
        if e.is_client() {
            // lettre's own refusals: no STARTTLS offered, no usable AUTH mechanism.
            let lower = text.to_ascii_lowercase();
            if lower.contains("starttls") {
                return ActionError::configuration(
                    "SMTP_URL",
                    format!(
                        "SMTP server {at} does not offer STARTTLS, and SMTP_URL requires it, so nothing was sent; \
                         use smtps:// if the server speaks implicit TLS, or ?tls=none only for a relay on this machine"
                    ),
                );
            }
            if lower.contains("authentication mechanism") {
                return ActionError::configuration(
                    "SMTP_URL, SMTP_USERNAME and SMTP_PASSWORD",
                    format!("SMTP server {at} offers no login this client can use (PLAIN or LOGIN) for SMTP_USERNAME"),
                );
            }
            return ActionError::Permanent(format!("SMTP client error with {at}: {text}"));
        }
        if certificate_problem(e) {
            return ActionError::configuration(
                "SMTP_URL",
                format!("TLS with SMTP server {at} failed: {text}; the certificate must be valid for the host in SMTP_URL"),
            );
        }
        // Connection refused/reset, DNS, network, a garbled reply: trying later may work.
        ActionError::Transient(format!("SMTP server {at}: {text}"))
    }
}

/// Whether a connection error is rustls refusing the server's certificate (a configuration
/// problem, not a network blip). lettre reports handshake failures as connection errors, so
/// the rustls error is found in the source chain of this foreign error.
fn certificate_problem(e: &lettre::transport::smtp::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return matches!(tls, rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return matches!(tls, rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented);
        }
        source = err.source();
    }
    false
}

/// A `Message-ID` that is the same for the same digest (keys + recipients), so a resent
/// digest after a crash is recognisable as the same message.
fn message_id(actions: &[&Action], recipients: &[Mailbox], domain: &str) -> String {
    let mut keys: Vec<&str> = actions.iter().map(|a| a.key.as_str()).collect();
    keys.sort_unstable();
    let mut to: Vec<String> = recipients.iter().map(|r| r.email.to_string().to_ascii_lowercase()).collect();
    to.sort();
    let mut h = Sha256::new();
    for k in keys {
        h.update(k.as_bytes());
        h.update(b"\n");
    }
    h.update(to.join(",").as_bytes());
    let hex: String = h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("<{hex}.aks-cadence@{domain}>")
}

/// Removes a secret from text that is about to be logged or recorded.
fn scrub(text: &str, secret: Option<&Secret>) -> String {
    match secret.map(Secret::expose).filter(|s| !s.is_empty()) {
        Some(s) => text.replace(s, "***"),
        None => text.to_string(),
    }
}

fn bad(name: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> SettingsError {
    SettingsError { name, problem: problem.into(), fix: fix.into() }
}

#[async_trait]
impl Actuator for EmailActuator {
    fn name(&self) -> &'static str {
        "email"
    }
    fn handles(&self, kind: &ActionKind) -> bool {
        matches!(kind, ActionKind::Email { .. })
    }
    /// One message per recipient list (recipients compared sorted and case-folded); every
    /// action in that message gets the message's result.
    async fn perform(&self, batch: &[Action]) -> Vec<Performed> {
        perform_digests(self, batch).await
    }
}

#[async_trait]
impl DigestSender for EmailActuator {
    const NAME: &'static str = "email";
    fn sends(&self, kind: &ActionKind) -> bool {
        self.handles(kind)
    }
    /// A digest too large for one message goes out in parts.
    fn max_entries(&self, _: &ActionKind) -> usize {
        EMAIL_MAX_ENTRIES
    }
    async fn send(&self, kind: &ActionKind, members: &[&Action], digest: &Digest) -> Result<String, ActionError> {
        let ActionKind::Email { to } = kind else {
            return Err(ActionError::Permanent("not an email action".into()));
        };
        self.send_digest(to, members, digest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_url_modes_are_parsed_with_their_default_ports() {
        let e = SmtpEndpoint::parse("smtp://mail.example.com").unwrap();
        assert_eq!((e.port, e.tls), (587, SmtpTls::StartTls));
        let e = SmtpEndpoint::parse("smtps://mail.example.com").unwrap();
        assert_eq!((e.port, e.tls), (465, SmtpTls::Implicit));
        let e = SmtpEndpoint::parse("smtp://127.0.0.1:1025?tls=none").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.tls), ("127.0.0.1", 1025, SmtpTls::None));
        assert!(e.is_loopback());
        let e = SmtpEndpoint::parse("smtp://[::1]:25?tls=none").unwrap();
        assert!(e.is_loopback());
    }

    #[test]
    fn smtp_url_refuses_credentials_contradictions_and_unknown_modes() {
        assert!(SmtpEndpoint::parse("smtp://u:p@mail.example.com").unwrap_err().fix.contains("SMTP_PASSWORD"));
        assert!(SmtpEndpoint::parse("smtps://mail.example.com?tls=none").is_err());
        assert!(SmtpEndpoint::parse("smtp://mail.example.com?tls=opportunistic").is_err());
        assert!(SmtpEndpoint::parse("smtp://mail.example.com?port=1").is_err());
        assert!(SmtpEndpoint::parse("http://mail.example.com").is_err());
    }

    #[test]
    fn a_password_is_never_sent_in_clear_text_off_this_machine() {
        let env = |url: &str| {
            Settings::from_map(
                [("SMTP_URL", url), ("SMTP_FROM", "c@example.com"), ("SMTP_USERNAME", "u"), ("SMTP_PASSWORD", "p")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
            .unwrap()
        };
        let err = EmailConfig::from_settings(&env("smtp://relay.internal:25?tls=none")).unwrap_err();
        assert_eq!(err.name, "SMTP_URL");
        assert!(EmailConfig::from_settings(&env("smtp://127.0.0.1:25?tls=none")).unwrap().is_some());
        assert!(EmailConfig::from_settings(&env("smtp://relay.internal:587")).unwrap().is_some());
    }

    #[test]
    fn message_id_is_stable_for_the_same_digest_and_differs_for_another() {
        use crate::action::Stage;
        use crate::domain::{ClusterId, Concern, ConcernKind, Origin, Signal, SignalKind};
        let action = |name: &str| {
            let c = ClusterId::from_parts("s", "rg", name);
            let signal = Signal {
                cluster: c.clone(),
                facts: Default::default(),
                kind: SignalKind::SupportEnded { kubernetes_version: "1.28.5".into() },
                observed_at: "2026-01-01T00:00:00Z".parse().unwrap(),
                origin: Origin::Manual,
            };
            Action::new(Concern::new(c, ConcernKind::Support, "1.28"), Stage::Overdue, ActionKind::Email { to: vec!["a@x.io".into()] }, name.into(), signal)
        };
        let (a, b) = (action("one"), action("two"));
        let to = |s: &str| vec![s.parse::<Mailbox>().unwrap()];
        let id = message_id(&[&a, &b], &to("a@x.io"), "x.io");
        assert_eq!(id, message_id(&[&b, &a], &to("A@x.io"), "x.io"), "order and case do not matter");
        assert_ne!(id, message_id(&[&a], &to("a@x.io"), "x.io"));
        assert_ne!(id, message_id(&[&a, &b], &to("b@x.io"), "x.io"));
        assert!(id.starts_with('<') && id.ends_with(".aks-cadence@x.io>"), "{id}");
    }

    #[test]
    fn scrub_removes_the_secret() {
        assert_eq!(scrub("bad pass hunter2!", Some(&Secret::new("hunter2"))), "bad pass ***!");
    }
}
