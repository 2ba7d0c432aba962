//! Configuration failures end to end, through the real `handler` binary: a credential or a
//! permission that a person must fix is never recorded as a permanent failure. The delivery
//! is answered non-2xx (Event Grid retries, and finally dead-letters), the failure is logged at
//! error level once per setting with the setting to fix, and once the setting is fixed the
//! next delivery does the work — once, with nothing done twice.
//!
//! Before this was classified, each of these deliveries was answered 200 and the work was lost:
//! a GitHub 401 was recorded as `failed` and never claimed again.
//!
//! These tests FAIL when MailDev or Azurite is not running: `bash scripts/test.sh`.

mod e2e_support;
mod email_support;
mod ledger_blob_support;

use aks_cadence::store::blob::BlobLedger;
use aks_cadence::store::sqlite::SqliteLedger;
use aks_cadence::store::{ActionState, Ledger};
use e2e_support::*;
use email_support::{ScriptedSmtp, SmtpScript};
use serde_json::Value;

/// The error-level log lines the handler wrote for configuration failures of `setting`.
fn configuration_errors(h: &Handler, setting: &str) -> Vec<Value> {
    h.json_logs()
        .into_iter()
        .filter(|l| {
            l["level"] == "ERROR"
                && l.pointer("/fields/failure_class").and_then(Value::as_str) == Some("configuration")
                && l.pointer("/fields/setting").and_then(Value::as_str).is_some_and(|s| s.contains(setting))
        })
        .collect()
}

/// Every action the ledger knows is done: nothing was recorded as failed on the way.
async fn assert_all_done(w: &World, n: usize) {
    let ledger = SqliteLedger::open(&w.db).unwrap();
    let actions = ledger.list_actions().await.unwrap();
    assert_eq!(actions.len(), n, "{actions:#?}");
    for (key, state) in actions {
        assert!(matches!(state, ActionState::Done { .. }), "{key}: {state:?}");
    }
}

#[tokio::test]
async fn an_expired_github_token_fails_the_delivery_and_after_the_fix_the_issue_is_opened_once() {
    let w = World::new("cfg-github").await;
    w.github.refuse_token("expired-token").await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let event = support_ending_event();

    let broken = Handler::start(w.dir.path(), &w.env().set("GITHUB_TOKEN", "expired-token")).await;
    for attempt in 1..=2 {
        let a = broken.invoke(&event).await;
        assert_eq!(a.status, 500, "attempt {attempt}: a refused token must fail the invocation so Event Grid delivers again: {}", a.body);
        let logs = a.logs();
        assert!(logs.contains("configuration failure") && logs.contains("GITHUB_TOKEN"), "the answer names the setting to fix:\n{logs}");
        assert!(!logs.contains("expired-token"), "the token is never echoed:\n{logs}");
    }
    assert!(w.github.issues().is_empty(), "nothing can be opened with a refused token");
    assert_eq!(configuration_errors(&broken, "GITHUB_TOKEN").len(), 1, "logged at error level once per interval, not per delivery:\n{}", broken.output());
    // What did not depend on GitHub went out with the first delivery and is not repeated.
    assert_eq!(w.mail(1).await.len(), 1);
    assert_eq!(w.chat.payloads().await.len(), 1);
    drop(broken);

    // The token is fixed (a new Key Vault secret version; the Functions host restarts the
    // handler with the new setting) and Event Grid delivers the same event again.
    let fixed = w.start().await;
    let a = fixed.invoke(&event).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let issues = w.github.issues();
    assert_eq!(issues.len(), 1, "the issue is opened once the token works: {issues:#?}");
    assert!(issues[0].body.contains("1.24.10"), "{}", issues[0].body);
    let again = fixed.invoke(&event).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(w.github.issues().len(), 1, "a redelivery opens nothing more");
    assert_eq!(w.mail_count_settled(1).await, 1, "the email was not sent twice");
    assert_eq!(w.chat.payloads().await.len(), 1, "the card was not posted twice");
    assert_all_done(&w, 3).await;
    w.github.server.verify().await;
    w.chat.server.verify().await;
}

#[tokio::test]
async fn a_teams_webhook_answering_404_fails_the_delivery_and_posts_once_when_it_works_again() {
    let w = World::new("cfg-teams").await;
    w.github.expect_creates(1).await;
    w.chat.fail_posts(404, 1).await;
    w.chat.expect_posts(1).await;
    let event = support_ending_event();
    let h = w.start().await;

    let a = h.invoke(&event).await;
    assert_eq!(a.status, 500, "a webhook URL that is gone must not be acknowledged: {}", a.body);
    assert!(a.logs().contains(TEAMS_SETTING), "the answer names the setting holding the URL:\n{}", a.logs());
    assert_eq!(configuration_errors(&h, TEAMS_SETTING).len(), 1, "{}", h.output());

    // The workflow is re-created behind the same setting; Event Grid's retry arrives.
    let a = h.invoke(&event).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let posted = w.chat.payloads().await;
    assert_eq!(posted.len(), 2, "the refused post and one accepted card (the success mock expects exactly one): {posted:#?}");
    let a = h.invoke(&event).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(w.chat.payloads().await.len(), 2, "nothing posted again");
    assert_eq!(w.github.issues().len(), 1, "the issue was opened once, by the first delivery");
    assert_eq!(w.mail_count_settled(1).await, 1);
    assert_all_done(&w, 3).await;
    w.github.server.verify().await;
    w.chat.server.verify().await;
}

#[tokio::test]
async fn a_refused_smtp_login_fails_the_delivery_and_mails_once_after_the_fix() {
    let w = World::new("cfg-smtp").await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let refusing = ScriptedSmtp::start(SmtpScript { auth: "535 5.7.8 Authentication credentials invalid", ..Default::default() }).await;
    let event = support_ending_event();

    let broken_env = w
        .env()
        .set("SMTP_URL", format!("smtp://127.0.0.1:{}?tls=none", refusing.addr.port()))
        .set("SMTP_USERNAME", "cadence")
        .set("SMTP_PASSWORD", "rotated-password");
    let broken = Handler::start(w.dir.path(), &broken_env).await;
    let a = broken.invoke(&event).await;
    assert_eq!(a.status, 500, "a refused login must not be acknowledged: {}", a.body);
    assert!(a.logs().contains("SMTP_USERNAME and SMTP_PASSWORD"), "{}", a.logs());
    assert!(!broken.output().contains("rotated-password"), "the password is never logged");
    assert_eq!(configuration_errors(&broken, "SMTP_PASSWORD").len(), 1, "{}", broken.output());
    drop(broken);

    // The relay settings are corrected; the retry mails once and repeats nothing else.
    let fixed = w.start().await;
    let a = fixed.invoke(&event).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(w.mail(1).await.len(), 1);
    assert_eq!(w.mail_count_settled(1).await, 1, "exactly one email");
    assert_eq!(w.github.issues().len(), 1);
    assert_eq!(w.chat.payloads().await.len(), 1);
    assert_all_done(&w, 3).await;
    w.github.server.verify().await;
    w.chat.server.verify().await;
}

#[tokio::test]
async fn a_missing_ledger_container_fails_the_delivery_until_it_is_created_then_acts_once() {
    let w = World::new("cfg-blob-404").await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let url = ledger_blob_support::container_url(&ledger_blob_support::unique_container("cfg-missing"));
    let h = Handler::start(w.dir.path(), &w.env().set("CADENCE_STATE", format!("blob:{url}"))).await;
    let event = support_ending_event();

    let a = h.invoke(&event).await;
    assert_eq!(a.status, 500, "a missing container is a setting to fix, not a lost event: {}", a.body);
    assert!(a.logs().contains("CADENCE_STATE") && a.logs().contains("container does not exist"), "{}", a.logs());
    assert!(w.github.issues().is_empty(), "nothing acts without the ledger");
    assert_eq!(configuration_errors(&h, "CADENCE_STATE").len(), 1, "{}", h.output());

    BlobLedger::new(&url, None).unwrap().ensure_container().await.unwrap();
    let a = h.invoke(&event).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(w.github.issues().len(), 1);
    assert_eq!(w.mail(1).await.len(), 1);
    assert_eq!(w.chat.payloads().await.len(), 1);
    let again = h.invoke(&event).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(w.github.issues().len(), 1, "nothing twice");
    assert_eq!(w.mail_count_settled(1).await, 1);
    w.github.server.verify().await;
    w.chat.server.verify().await;
    ledger_blob_support::delete_container(&url).await;
}

#[tokio::test]
async fn a_ledger_that_refuses_the_credential_fails_the_delivery_and_acts_once_after_the_fix() {
    let w = World::new("cfg-blob-403").await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let container = ledger_blob_support::unique_container("cfg-denied");
    let good = ledger_blob_support::container_url(&container);
    BlobLedger::new(&good, None).unwrap().ensure_container().await.unwrap();
    // A signature the account does not accept: as a role assignment still propagating, 403.
    let denied = good.replace("sig=", "sig=AAAA");
    let event = support_ending_event();

    let broken = Handler::start(w.dir.path(), &w.env().set("CADENCE_STATE", format!("blob:{denied}"))).await;
    let a = broken.invoke(&event).await;
    assert_eq!(a.status, 500, "403 from the ledger was answered `200 failed, not retried` before: {}", a.body);
    assert!(a.logs().contains("Storage Blob Data Contributor"), "{}", a.logs());
    assert!(!broken.output().contains("sig=AAAA"), "the SAS is never logged");
    assert!(w.github.issues().is_empty());
    drop(broken);

    let fixed = Handler::start(w.dir.path(), &w.env().set("CADENCE_STATE", format!("blob:{good}"))).await;
    let a = fixed.invoke(&event).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(w.github.issues().len(), 1);
    assert_eq!(w.mail(1).await.len(), 1);
    assert_eq!(w.chat.payloads().await.len(), 1);
    w.github.server.verify().await;
    w.chat.server.verify().await;
    ledger_blob_support::delete_container(&good).await;
}
