//! Email through a real SMTP server (MailDev, started by scripts/services/smtp.sh): messages
//! are read back over its REST API. These tests FAIL when the server is not running.

mod email_support;

use aks_cadence::action::{Action, Stage};
use aks_cadence::actions::Actuator;
use aks_cadence::actions::email::EmailActuator;
use aks_cadence::error::ActionError;
use email_support::*;

fn actuator(smtp_url: &str) -> EmailActuator {
    let s = settings(&[("SMTP_URL", smtp_url), ("SMTP_FROM", "aks-cadence <cadence@example.com>")]);
    EmailActuator::from_settings(&s).expect("valid email settings").expect("email is configured")
}

fn addresses(v: &serde_json::Value) -> Vec<String> {
    let mut a: Vec<String> =
        v.as_array().unwrap().iter().map(|t| t["address"].as_str().unwrap().to_ascii_lowercase()).collect();
    a.sort();
    a
}

#[tokio::test]
async fn a_single_notice_arrives_with_subject_recipients_and_both_bodies() {
    let (url, api) = maildev();
    let (a, b) = (unique_address("single-a"), unique_address("single-b"));
    let action = upgrade("aks-prod-weu", "rg-prod", Stage::Notice, email_to(&[&a, &b]));

    let results = actuator(&url).perform(std::slice::from_ref(&action)).await;

    let detail = results[0].as_ref().expect("sent");
    assert!(detail.starts_with("sent to 2 recipients as <"), "{detail}");
    let got = wait_for_messages(&api, &a, 1).await;
    assert_eq!(got.len(), 1, "exactly one message");
    let m = &got[0];
    assert_eq!(m["subject"], "[aks-cadence] aks-prod-weu · Kubernetes upgrade available · 1.30");
    let mut want = vec![a.to_ascii_lowercase(), b.to_ascii_lowercase()];
    want.sort();
    assert_eq!(addresses(&m["to"]), want);
    assert_eq!(addresses(&m["envelope"]["to"]), want);
    assert_eq!(m["from"][0]["address"], "cadence@example.com");

    let text = m["text"].as_str().expect("a text/plain part");
    let html = m["html"].as_str().expect("a text/html part");
    for body in [text, html] {
        for fact in ["aks-prod-weu", SUB, "rg-prod", "westeurope", "1.30.4 → 1.30.7", "2026-01-31 00:00 UTC", "open until 2026-01-05 08:00 UTC"] {
            assert!(body.contains(fact), "body lacks {fact}:\n{body}");
        }
    }
    assert!(html.contains("<table"), "the HTML part is HTML");
    let source = message_source(&api, m["id"].as_str().unwrap()).await;
    assert!(source.to_ascii_lowercase().contains("multipart/alternative"), "plain + HTML as alternatives");
    let message_id = detail.rsplit(" as ").next().unwrap();
    assert!(source.contains(message_id), "the recorded Message-ID is the one sent");
}

#[tokio::test]
async fn three_hundred_clusters_make_one_email_per_recipient_list() {
    let (url, api) = maildev();
    let (ops, lead, sec) = (unique_address("ops"), unique_address("lead"), unique_address("sec"));
    // The same two people in another order and case are the same recipient list.
    let ops_lead = email_to(&[&ops, &lead]);
    let lead_ops = email_to(&[&lead.to_uppercase(), &ops]);
    let mut batch: Vec<Action> = (0..300)
        .map(|i| node_image(&format!("aks-{i:03}"), if i % 2 == 0 { ops_lead.clone() } else { lead_ops.clone() }))
        .collect();
    batch.push(upgrade("aks-prod-weu", "rg-prod", Stage::Reminder, ops_lead.clone()));
    batch.push(support_ending("aks-legacy", email_to(&[&sec])));

    let results = actuator(&url).perform(&batch).await;

    assert_eq!(results.len(), batch.len());
    let first = results[0].clone().expect("sent");
    assert!(results[..301].iter().all(|r| r.as_ref() == Ok(&first)), "one message, one result for all its actions");
    assert!(results[301].is_ok());
    assert_ne!(results[301], results[0], "another recipient list is another message");

    let to_ops = wait_for_messages(&api, &ops, 1).await;
    assert_eq!(to_ops.len(), 1, "301 actions for ops+lead → one email");
    assert_eq!(wait_for_messages(&api, &lead, 1).await.len(), 1);
    let m = &to_ops[0];
    assert_eq!(m["subject"], "[aks-cadence] 301 clusters: node image available (+1 more kind)");
    let text = m["text"].as_str().unwrap();
    let html = m["html"].as_str().unwrap();
    for i in 0..300 {
        let name = format!("aks-{i:03}");
        assert!(text.contains(&format!("* {name} (nodepool1)")), "{name} missing from the text part");
        assert!(html.contains(&format!("<td>{name}</td>")), "{name} missing from the HTML part");
    }
    // Grouped by concern kind, sorted by cluster.
    let p0 = text.find("* aks-000 ").unwrap();
    let p299 = text.find("* aks-299 ").unwrap();
    let up = text.find("* aks-prod-weu ").unwrap();
    assert!(p0 < p299 && p299 < up, "node images sorted by cluster, then the upgrade group");

    let to_sec = wait_for_messages(&api, &sec, 1).await;
    assert_eq!(to_sec.len(), 1);
    assert_eq!(to_sec[0]["subject"], "[aks-cadence] aks-legacy · Kubernetes support ending · 1.29 · reminder");
    assert!(!to_sec[0]["html"].as_str().unwrap().contains("<script>"), "HTML part is escaped");
}

#[tokio::test]
async fn a_digest_of_more_than_a_thousand_entries_arrives_in_parts_that_list_every_cluster_once() {
    let (url, api) = maildev();
    let ops = unique_address("parts");
    let batch: Vec<Action> = (0..2100).map(|i| node_image(&format!("aks-{i:04}"), email_to(&[&ops]))).collect();

    let results = actuator(&url).perform(&batch).await;

    assert!(results.iter().all(|r| r.is_ok()), "{:?}", results.iter().find(|r| r.is_err()));
    let distinct: std::collections::BTreeSet<String> = results.iter().map(|r| r.clone().unwrap().detail).collect();
    assert_eq!(distinct.len(), 3, "each part is its own message with its own Message-ID: {distinct:?}");
    let mail = wait_for_messages(&api, &ops, 3).await;
    assert_eq!(mail.len(), 3, "2,100 entries in parts of 1,000");
    let mut subjects: Vec<String> = mail.iter().map(|m| m["subject"].as_str().unwrap().to_string()).collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "[aks-cadence] 100 clusters: node image available (part 3 of 3)",
            "[aks-cadence] 1000 clusters: node image available (part 1 of 3)",
            "[aks-cadence] 1000 clusters: node image available (part 2 of 3)",
        ]
    );
    let text: String = mail.iter().map(|m| m["text"].as_str().unwrap()).collect();
    for i in 0..2100 {
        assert_eq!(text.matches(&format!("* aks-{i:04} (nodepool1)")).count(), 1, "aks-{i:04} listed once");
    }
    // What a full part weighs on the wire (the bound EMAIL_MAX_ENTRIES is chosen for).
    for m in &mail {
        let source = message_source(&api, m["id"].as_str().unwrap()).await;
        assert!(source.len() < 3 * 1024 * 1024, "a part is {} bytes", source.len());
    }
}

#[tokio::test]
async fn starttls_required_against_a_server_without_tls_sends_nothing_and_says_why() {
    let (url, api) = maildev();
    // The same MailDev, but with the production default: STARTTLS required.
    let plain = url.split('?').next().unwrap().to_string();
    let to = unique_address("starttls");
    let action = node_image("aks-001", email_to(&[&to]));

    let results = actuator(&plain).perform(std::slice::from_ref(&action)).await;

    match &results[0] {
        Err(ActionError::Configuration { setting, message: msg }) => {
            assert!(msg.contains("does not offer STARTTLS"), "{msg}");
            assert_eq!(setting, "SMTP_URL", "the failure names the setting: {msg}");
        }
        other => panic!("expected a configuration failure naming SMTP_URL, got {other:?}"),
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(messages_to(&api, &to).await.is_empty(), "nothing may be sent in clear text");
}

#[tokio::test]
async fn a_policy_address_that_is_not_an_address_fails_permanently_without_sending() {
    let (url, api) = maildev();
    let good = unique_address("bad-recipient");
    let action = node_image("aks-001", email_to(&[&good, "not an address"]));

    let results = actuator(&url).perform(std::slice::from_ref(&action)).await;

    assert!(matches!(&results[0], Err(ActionError::Permanent(m)) if m.contains("not an address")), "{results:?}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(messages_to(&api, &good).await.is_empty());
}
