//! What chat messages look like: the Teams Adaptive Card, Slack Block Kit and the generic JSON
//! (golden files under tests/fixtures/notifications/, rewrite with UPDATE_SNAPSHOTS=1), and the
//! platforms' size limits on a 300-cluster digest.

mod email_support;

use aks_cadence::action::{ChatKind, Stage};
use aks_cadence::actions::chat::ChatActuator;
use aks_cadence::actions::digest::Digest;
use email_support::*;
use serde_json::Value;

fn teams() -> aks_cadence::action::ActionKind {
    chat(ChatKind::Teams, "TEAMS_OPS_URL")
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

fn small_digest() -> Digest {
    let actions = vec![
        node_image("aks-weu-2", teams()),
        node_image("aks-weu-1", teams()),
        upgrade("aks-prod-weu", "rg-prod", Stage::Reminder, teams()),
        support_ending("aks-legacy", teams()),
    ];
    Digest::new(&actions)
}

fn big_digest() -> Digest {
    let mut actions: Vec<_> = (0..300).map(|i| node_image(&format!("aks-{i:03}"), teams())).collect();
    actions.extend((0..30).map(|i| upgrade(&format!("aks-up-{i:02}"), "rg-prod", Stage::Notice, teams())));
    actions.push(support_ending("aks-legacy", teams()));
    Digest::new(&actions)
}

#[test]
fn teams_payload_is_a_workflows_message_with_one_adaptive_card() {
    let v = ChatActuator::payload(ChatKind::Teams, &small_digest());
    assert_eq!(v["type"], "message");
    let att = v["attachments"].as_array().unwrap();
    assert_eq!(att.len(), 1);
    assert_eq!(att[0]["contentType"], "application/vnd.microsoft.card.adaptive");
    assert!(att[0]["contentUrl"].is_null());
    let card = &att[0]["content"];
    assert_eq!(card["$schema"], "http://adaptivecards.io/schemas/adaptive-card.json");
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    let body = card["body"].as_array().unwrap();
    assert_eq!(body[0]["text"], "4 clusters: node image available (+2 more kinds)");
    assert!(body.iter().all(|b| matches!(b["type"].as_str(), Some("TextBlock" | "FactSet"))));
}

#[test]
fn teams_single_and_digest_cards_match_their_snapshots() {
    let one = upgrade("aks-prod-weu", "rg-prod", Stage::Notice, teams());
    assert_snapshot("teams_single.json", &pretty(&ChatActuator::payload(ChatKind::Teams, &Digest::new([&one]))));
    assert_snapshot("teams_digest.json", &pretty(&ChatActuator::payload(ChatKind::Teams, &small_digest())));
}

#[test]
fn slack_single_and_digest_messages_match_their_snapshots() {
    let one = upgrade("aks-prod-weu", "rg-prod", Stage::Notice, teams());
    assert_snapshot("slack_single.json", &pretty(&ChatActuator::payload(ChatKind::Slack, &Digest::new([&one]))));
    assert_snapshot("slack_digest.json", &pretty(&ChatActuator::payload(ChatKind::Slack, &small_digest())));
}

#[test]
fn generic_webhook_json_matches_its_snapshot_and_lists_every_entry() {
    let v = ChatActuator::payload(ChatKind::Webhook, &small_digest());
    assert_snapshot("webhook_digest.json", &pretty(&v));
    let big = ChatActuator::payload(ChatKind::Webhook, &big_digest());
    assert_eq!(big["source"], "aks-cadence");
    assert_eq!(big["count"], 331);
    let digest = big["digest"].as_array().unwrap();
    assert_eq!(digest.len(), 331, "the generic webhook is never truncated");
    for field in ["cluster", "concern", "target", "stage", "summary", "deadline", "key"] {
        assert!(digest.iter().all(|d| d.get(field).is_some()), "every entry has {field}");
    }
}

#[test]
fn slack_escapes_ampersand_and_angle_brackets_in_everything_it_reads_as_mrkdwn() {
    let a = support_ending("aks-legacy", teams());
    let v = ChatActuator::payload(ChatKind::Slack, &Digest::new([&a]));
    let s = v.to_string();
    assert!(!s.contains("<script>") && !s.contains("<!channel>"), "unescaped markup reached Slack: {s}");
    assert!(s.contains("&lt;!channel&gt;") && s.contains("&amp;"));
    assert!(v["text"].as_str().unwrap().contains("&lt;script&gt;"));
    assert_eq!(v["blocks"][0]["type"], "header");
    assert_eq!(v["blocks"].as_array().unwrap().last().unwrap()["type"], "context");
}

#[test]
fn a_three_hundred_cluster_digest_fits_teams_and_slack_limits() {
    let d = big_digest();
    let teams = ChatActuator::payload(ChatKind::Teams, &d);
    let bytes = serde_json::to_vec(&teams).unwrap().len();
    assert!(bytes < 28 * 1024, "Teams card is {bytes} bytes; the limit is 28 KB");
    let text = teams.to_string();
    assert!(text.contains("… and 260 more"), "the card says how many it left out");

    let slack = ChatActuator::payload(ChatKind::Slack, &d);
    let blocks = slack["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50, "Slack allows 50 blocks");
    assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150, "header ≤ 150 characters");
    for b in blocks {
        if let Some(t) = b["text"]["text"].as_str() {
            assert!(t.chars().count() <= 3000, "section text ≤ 3000 characters");
        }
        if let Some(f) = b["fields"].as_array() {
            assert!(f.len() <= 10, "≤ 10 fields per section");
        }
    }
    // Every group is named, with its full count, even when its rows are cut.
    let all = slack.to_string();
    for heading in ["Node image available (300)", "Kubernetes upgrade available (30)", "Kubernetes support ending (1)"] {
        assert!(all.contains(heading), "{heading} missing");
    }
    assert!(all.contains("… and"), "Slack says how many it left out");
}
