//! `handler digest [--send]` through the real binary: what waits in the ledger for the next
//! digest, and sending it now (to MailDev). These tests FAIL when MailDev is not running
//! (`bash scripts/test.sh` starts it).

mod email_support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use aks_cadence::store::sqlite::SqliteLedger;
use aks_cadence::store::{ActionState, Ledger};
use email_support::*;

fn digest(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .env("CADENCE_STATE", "sqlite:cadence.db")
        .envs(env.iter().copied())
        .arg("digest")
        .args(args)
        .output()
        .expect("run handler digest")
}

fn ledger(dir: &Path) -> Arc<dyn Ledger> {
    Arc::new(SqliteLedger::open(dir.join("cadence.db")).unwrap())
}

/// Queues node-image notices for `clusters`, mailed to `to`, as the host's invocations do.
async fn queue(dir: &Path, clusters: &[&str], to: &str) {
    let l = ledger(dir);
    for name in clusters {
        let a = node_image(name, email_to(&[to]));
        l.queue_notification(&a.key, &serde_json::to_string(&a).unwrap(), ts("2026-01-05T06:00:00Z")).await.unwrap();
    }
}

#[tokio::test]
async fn digest_lists_what_is_queued_and_when_it_goes_out() {
    let dir = tempfile::tempdir().unwrap();
    queue(dir.path(), &["aks-a", "aks-b"], "ops@example.com").await;
    let out = digest(dir.path(), &[], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["action"] == "email"), "{lines:?}");
    assert_eq!(lines[0]["cluster"].as_str().map(|c| c.ends_with("/aks-a")), Some(true), "{}", lines[0]);
    let err = String::from_utf8_lossy(&out.stderr);
    // Queued at 06:00:00, default quiet period 60 s.
    assert!(err.contains("2 notification(s) queued") && err.contains("2026-01-05T06:01:00Z"), "{err}");
    assert_eq!(ledger(dir.path()).pending_notifications().await.unwrap().len(), 2, "listing sends nothing");

    let drained = tempfile::tempdir().unwrap();
    SqliteLedger::open(drained.path().join("cadence.db")).unwrap();
    let out = digest(drained.path(), &[], &[]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no notification is queued"));
}

/// `handler digest` in a folder where nothing ever ran: it says so, and leaves no `cadence.db`
/// behind (a ledger created by looking would be an empty file someone later wonders about).
#[test]
fn digest_without_a_ledger_creates_none_and_says_nothing_is_queued() {
    let empty = tempfile::tempdir().unwrap();
    for args in [&[][..], &["--send"][..]] {
        let out = digest(empty.path(), &[("CADENCE_DRY_RUN", "false")], args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert_eq!(err.trim(), "no ledger at cadence.db yet: nothing queued", "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0, "{args:?}: the folder stays empty");
    }
}

#[tokio::test]
async fn digest_send_refuses_a_dry_run_and_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    queue(dir.path(), &["aks-a"], "ops@example.com").await;
    let out = digest(dir.path(), &[], &["--send"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CADENCE_DRY_RUN") && err.contains("false"), "{err}");
    assert_eq!(ledger(dir.path()).pending_notifications().await.unwrap().len(), 1, "nothing was sent");
}

#[tokio::test]
async fn digest_send_mails_the_queue_now_as_one_message_and_empties_it() {
    let (smtp_url, api) = maildev();
    let to = unique_address("cli-digest");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cadence.toml"), format!("[[rule]]\nname = \"fleet\"\n[rule.email]\nto = [\"{to}\"]\n")).unwrap();
    queue(dir.path(), &["aks-a", "aks-b", "aks-c"], &to).await;
    let env = [("CADENCE_DRY_RUN", "false"), ("CADENCE_CONFIG", "cadence.toml"), ("SMTP_URL", smtp_url.as_str()), ("SMTP_FROM", "aks-cadence <cadence@example.com>")];
    let out = digest(dir.path(), &env, &["--send"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sent 3 queued notification(s)"));

    let mail = wait_for_messages(&api, &to, 1).await;
    assert_eq!(mail.len(), 1, "one email for the three clusters");
    let text = mail[0]["text"].as_str().unwrap_or_default();
    for c in ["aks-a", "aks-b", "aks-c"] {
        assert!(text.contains(c), "{c} listed:\n{text}");
    }
    let l = ledger(dir.path());
    assert!(l.pending_notifications().await.unwrap().is_empty());
    let done = l.list_actions().await.unwrap().into_iter().filter(|(_, s)| matches!(s, ActionState::Done { .. })).count();
    assert_eq!(done, 3);

    // Sending again finds nothing to send.
    let again = digest(dir.path(), &env, &["--send"]);
    assert!(again.status.success() && String::from_utf8_lossy(&again.stderr).contains("sent 0"));
    assert_eq!(messages_to(&api, &to).await.len(), 1);
}
