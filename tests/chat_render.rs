//! What chat messages look like: the Teams Adaptive Card, Slack Block Kit and the generic JSON
//! (golden files under tests/fixtures/notifications/, rewrite with UPDATE_SNAPSHOTS=1), and the
//! platforms' size limits on a 300-cluster digest.

mod email_support;

use aks_cadence::action::{Action, ChatKind, Stage};
use aks_cadence::actions::chat::ChatActuator;
use aks_cadence::actions::digest::{Digest, parts};
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

#[test]
fn a_digest_larger_than_one_message_is_cut_into_parts_in_digest_order() {
    let mut actions: Vec<Action> = (0..1100).map(|i| node_image(&format!("aks-{i:04}"), teams())).collect();
    actions.push(upgrade("aks-prod-weu", "rg-prod", Stage::Notice, teams()));
    let refs: Vec<&Action> = actions.iter().collect();

    let split = parts(&refs, 500);
    assert_eq!(split.iter().map(|(d, i)| (d.entries().len(), i.len())).collect::<Vec<_>>(), vec![(500, 500), (500, 500), (101, 101)]);
    // Every action is in exactly one part, and each part's digest is made of its actions.
    let mut seen: Vec<usize> = split.iter().flat_map(|(_, i)| i.iter().copied()).collect();
    seen.sort();
    assert_eq!(seen, (0..actions.len()).collect::<Vec<_>>());
    for (digest, indices) in &split {
        let mut keys: Vec<&str> = digest.entries().iter().map(|e| e.key.as_str()).collect();
        let mut want: Vec<&str> = indices.iter().map(|&i| actions[i].key.as_str()).collect();
        keys.sort();
        want.sort();
        assert_eq!(keys, want);
    }
    // Digest order: the node-image group (largest) by cluster, then the upgrade.
    assert_eq!(split[0].0.entries()[0].cluster, "aks-0000");
    assert_eq!(split[1].0.entries()[0].cluster, "aks-0500");
    assert_eq!(split[2].0.entries().last().unwrap().cluster, "aks-prod-weu");
    assert_eq!(split[1].0.part(), Some((2, 3)));
    assert_eq!(split[1].0.subject(), "[aks-cadence] 500 clusters: node image available (part 2 of 3)");
    assert_eq!(parts(&refs, aks_cadence::actions::digest::EMAIL_MAX_ENTRIES).len(), 2, "1,101 entries mail as two parts");
    assert!(split[2].0.intro().ends_with("This is part 3 of 3 of one digest."), "{}", split[2].0.intro());
    let hook = ChatActuator::payload(ChatKind::Webhook, &split[0].0);
    assert_eq!(hook["part"], serde_json::json!({"index": 1, "of": 3}));
    assert_eq!(hook["count"], 500);

    // A digest that fits is one part, unmarked.
    let one = parts(&refs[..10], 500);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].0.part(), None);
    assert!(!one[0].0.subject().contains("part"));
    assert!(ChatActuator::payload(ChatKind::Webhook, &one[0].0).get("part").is_none());
}
