//! SMTP failures are classified where they are born, TLS is really used, and the SMTP password
//! never leaves the login: scripted SMTP servers on 127.0.0.1 give the exact replies.

mod email_support;

use std::time::Duration;

use aks_cadence::action::Action;
use aks_cadence::actions::Actuator;
use aks_cadence::actions::email::{EmailActuator, EmailConfig};
use aks_cadence::error::ActionError;
use email_support::*;

const CANARY: &str = "pw-CANARY-7f3a9c";

fn config(url: &str, login: bool) -> EmailConfig {
    let mut env = vec![("SMTP_URL", url), ("SMTP_FROM", "aks-cadence <cadence@example.com>")];
    if login {
        env.push(("SMTP_USERNAME", "cadence-bot"));
        env.push(("SMTP_PASSWORD", CANARY));
    }
    let mut c = EmailConfig::from_settings(&settings(&env)).expect("valid").expect("configured");
    c.timeout = Duration::from_secs(2);
    c
}

async fn send(config: EmailConfig) -> Result<String, ActionError> {
    let actuator = EmailActuator::new(config).expect("actuator");
    let a: Action = node_image("aks-001", email_to(&["ops@example.com"]));
    actuator.perform(std::slice::from_ref(&a)).await.remove(0).map(|done| done.detail)
}

#[tokio::test]
async fn wrong_credentials_are_a_configuration_failure_naming_the_settings_but_never_the_password() {
    let (logs, _guard) = Logs::capture();
    let server = ScriptedSmtp::start(SmtpScript { auth: "535 5.7.8 Authentication credentials invalid", ..Default::default() }).await;

    let result = send(config(&server.url(), true)).await;

    let Err(ActionError::Configuration { setting, message: msg }) = &result else { panic!("expected a configuration failure, got {result:?}") };
    assert!(setting.contains("SMTP_USERNAME") && setting.contains("SMTP_PASSWORD"), "{setting}");
    assert!(msg.contains("535"), "the server's code is kept: {msg}");
    assert!(!msg.contains(CANARY), "the password leaked into the error");
    assert!(!format!("{result:?}").contains(CANARY));
    let logged = logs.text();
    assert!(logged.contains("email digest failed"), "the failure is logged:\n{logged}");
    assert!(!logged.contains(CANARY), "the password leaked into the logs:\n{logged}");
}

#[tokio::test]
async fn a_login_over_a_local_relay_keeps_the_password_out_of_the_message_and_logs() {
    let (logs, _guard) = Logs::capture();
    let server = ScriptedSmtp::start(SmtpScript::default()).await;
    let cfg = config(&server.url(), true);
    assert!(!format!("{cfg:?}").contains(CANARY), "config Debug shows the password");

    let result = send(cfg).await;

    assert!(result.is_ok(), "{result:?}");
    assert!(server.commands().iter().any(|c| c.starts_with("AUTH PLAIN")), "it logged in");
    let data = server.data();
    assert!(data.contains("Subject: "), "a message was received");
    assert!(!data.contains(CANARY), "the password is in the message");
    assert!(!logs.text().contains(CANARY), "the password is in the logs");
    assert!(logs.text().contains("email digest sent"));
}

#[tokio::test]
async fn a_busy_server_greeting_is_transient() {
    let server = ScriptedSmtp::start(SmtpScript { greeting: Some("421 4.3.2 Service not available, try later"), ..Default::default() }).await;
    let result = send(config(&server.url(), false)).await;
    assert!(matches!(&result, Err(ActionError::Transient(m)) if m.contains("421")), "{result:?}");
}

#[tokio::test]
async fn a_temporary_refusal_of_the_sender_is_transient() {
    let server = ScriptedSmtp::start(SmtpScript { mail: "451 4.3.0 Mail server temporarily rejected message", ..Default::default() }).await;
    let result = send(config(&server.url(), false)).await;
    assert!(matches!(&result, Err(ActionError::Transient(m)) if m.contains("451")), "{result:?}");
}

#[tokio::test]
async fn an_unknown_recipient_is_permanent() {
    let server = ScriptedSmtp::start(SmtpScript { rcpt: "550 5.1.1 No such user here", ..Default::default() }).await;
    let result = send(config(&server.url(), false)).await;
    assert!(matches!(&result, Err(ActionError::Permanent(m)) if m.contains("550") && m.contains("No such user")), "{result:?}");
}

#[tokio::test]
async fn a_server_that_requires_a_login_when_none_is_set_is_a_configuration_failure_naming_the_settings() {
    let server = ScriptedSmtp::start(SmtpScript { mail: "530 5.7.0 Authentication required", ..Default::default() }).await;
    let result = send(config(&server.url(), false)).await;
    assert!(
        matches!(&result, Err(ActionError::Configuration { setting, message }) if message.contains("requires a login") && setting.contains("SMTP_USERNAME")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let result = send(config(&format!("smtp://127.0.0.1:{port}?tls=none"), false)).await;
    assert!(matches!(&result, Err(ActionError::Transient(_))), "{result:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_as_transient() {
    let server = ScriptedSmtp::start(SmtpScript { greeting: None, ..Default::default() }).await;
    let mut cfg = config(&server.url(), false);
    cfg.timeout = Duration::from_millis(500);
    let started = std::time::Instant::now();
    let result = send(cfg).await;
    assert!(matches!(&result, Err(ActionError::Transient(_))), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "bounded by the configured timeout");
}

#[tokio::test]
async fn implicit_tls_carries_login_and_message_inside_tls() {
    let (acceptor, der) = self_signed_acceptor();
    let server = ScriptedSmtp::start_with(SmtpScript::default(), ServerTls::Implicit(acceptor)).await;
    let mut cfg = config(&format!("smtps://127.0.0.1:{}", server.addr.port()), true);
    cfg.extra_roots = vec![der];

    let result = send(cfg).await;

    assert!(result.is_ok(), "{result:?}");
    assert!(server.data_encrypted(), "the message went inside TLS");
    assert!(!server.auth_in_clear(), "the login went inside TLS");
}

#[tokio::test]
async fn starttls_upgrades_before_the_login_and_the_message() {
    let (acceptor, der) = self_signed_acceptor();
    let server = ScriptedSmtp::start_with(SmtpScript::default(), ServerTls::StartTls(acceptor)).await;
    let mut cfg = config(&format!("smtp://127.0.0.1:{}", server.addr.port()), true);
    cfg.extra_roots = vec![der];

    let result = send(cfg).await;

    assert!(result.is_ok(), "{result:?}");
    assert!(server.commands().iter().any(|c| c == "STARTTLS"));
    assert!(server.data_encrypted(), "the message went inside TLS");
    assert!(!server.auth_in_clear(), "the login went inside TLS");
}

#[tokio::test]
async fn starttls_required_never_logs_in_on_a_server_that_does_not_offer_it() {
    let server = ScriptedSmtp::start(SmtpScript::default()).await;
    let cfg = config(&format!("smtp://127.0.0.1:{}", server.addr.port()), true);

    let result = send(cfg).await;

    assert!(
        matches!(&result, Err(ActionError::Configuration { setting, message }) if message.contains("does not offer STARTTLS") && setting == "SMTP_URL"),
        "{result:?}"
    );
    assert!(!server.commands().iter().any(|c| c.starts_with("AUTH")), "no login may be tried in clear text");
    assert!(server.data().is_empty());
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_configuration_failure_and_says_so() {
    let (acceptor, _der) = self_signed_acceptor();
    let server = ScriptedSmtp::start_with(SmtpScript::default(), ServerTls::Implicit(acceptor)).await;

    let result = send(config(&format!("smtps://127.0.0.1:{}", server.addr.port()), true)).await;

    assert!(matches!(&result, Err(ActionError::Configuration { setting, message }) if message.contains("certificate") && setting == "SMTP_URL"), "{result:?}");
    assert!(!format!("{result:?}").contains(CANARY));
}
