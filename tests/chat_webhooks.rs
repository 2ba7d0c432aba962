//! Chat webhooks against local fake servers (wiremock on 127.0.0.1): what each receives, one
//! message per (chat kind, URL setting) per batch, status classification, and the webhook URL
//! (a secret: it carries a token) never showing up in logs, errors or bodies.

mod email_support;

use std::time::Duration;

use aks_cadence::action::{Action, ActionKind, ChatKind, Stage};
use aks_cadence::actions::Actuator;
use aks_cadence::actions::chat::{ChatActuator, ChatTimeouts};
use aks_cadence::error::ActionError;
use email_support::*;
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "CANARYt0ken9d8e7f";

fn actuator(pairs: &[(&str, &str)]) -> ChatActuator {
    ChatActuator::with_timeouts(settings(pairs), ChatTimeouts { connect: Duration::from_secs(2), total: Duration::from_millis(800) })
        .expect("client")
}

async fn bodies(server: &MockServer) -> Vec<Value> {
    server.received_requests().await.unwrap().iter().map(|r| serde_json::from_slice(&r.body).expect("JSON body")).collect()
}

#[tokio::test]
async fn teams_receives_one_adaptive_card_for_the_whole_batch() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/workflows/teams-ops/triggers/manual/paths/invoke"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let url = format!("{}/workflows/teams-ops/triggers/manual/paths/invoke?sig={TOKEN}", server.uri());
    let teams = chat(ChatKind::Teams, "TEAMS_OPS_URL");
    let batch: Vec<Action> = (0..12).map(|i| node_image(&format!("aks-{i:02}"), teams.clone())).collect();

    let results = actuator(&[("TEAMS_OPS_URL", &url)]).perform(&batch).await;

    assert!(results.iter().all(|r| r.as_deref() == Ok("posted to teams via TEAMS_OPS_URL (HTTP 202)")), "{results:?}");
    let got = bodies(&server).await;
    let card = &got[0]["attachments"][0];
    assert_eq!(got[0]["type"], "message");
    assert_eq!(card["contentType"], "application/vnd.microsoft.card.adaptive");
    assert_eq!(card["content"]["type"], "AdaptiveCard");
    assert_eq!(card["content"]["version"], "1.4");
    let facts: Vec<&str> = card["content"]["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "FactSet")
        .flat_map(|b| b["facts"].as_array().unwrap().iter().map(|f| f["title"].as_str().unwrap()))
        .collect();
    assert_eq!(facts, (0..12).map(|i| format!("aks-{i:02}")).collect::<Vec<_>>(), "every cluster, sorted");
}

#[tokio::test]
async fn slack_receives_block_kit_with_a_fallback_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(format!("/services/T000/B000/{TOKEN}"))).respond_with(ResponseTemplate::new(200).set_body_string("ok")).expect(1).mount(&server).await;
    let url = format!("{}/services/T000/B000/{TOKEN}", server.uri());
    let slack = chat(ChatKind::Slack, "SLACK_PLATFORM_URL");
    let batch = vec![upgrade("aks-prod-weu", "rg-prod", Stage::Notice, slack.clone()), support_ending("aks-legacy", slack)];

    let results = actuator(&[("SLACK_PLATFORM_URL", &url)]).perform(&batch).await;

    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let got = bodies(&server).await;
    let msg = &got[0];
    assert!(msg["text"].as_str().unwrap().starts_with("2 clusters: "), "{msg}");
    let blocks = msg["blocks"].as_array().unwrap();
    assert_eq!(blocks.first().unwrap()["type"], "header");
    assert_eq!(blocks.last().unwrap()["type"], "context");
    assert!(blocks.iter().any(|b| b["type"] == "section" && b["text"]["type"] == "mrkdwn"));
    assert!(!msg.to_string().contains("<script>"), "mrkdwn is escaped");
}

#[tokio::test]
async fn the_generic_webhook_receives_the_documented_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(204)).expect(1).mount(&server).await;
    let hook = chat(ChatKind::Webhook, "OPS_HOOK_URL");
    let batch = vec![node_image("aks-b", hook.clone()), node_image("aks-a", hook)];

    let results = actuator(&[("OPS_HOOK_URL", &format!("{}/hook", server.uri()))]).perform(&batch).await;

    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    let got = bodies(&server).await;
    assert_eq!(got[0]["source"], "aks-cadence");
    assert_eq!(got[0]["count"], 2);
    let d = &got[0]["digest"];
    assert_eq!(d[0]["cluster"], "aks-a");
    assert_eq!(d[1]["cluster"], "aks-b");
    assert_eq!(d[0]["concern"], "node-image");
    assert_eq!(d[0]["target"], "nodepool1");
    assert_eq!(d[0]["stage"], "notice");
    assert_eq!(d[0]["deadline"], "2026-02-01T00:00:00Z");
    assert_eq!(d[0]["key"], batch[1].key.as_str());
    assert!(d[0]["summary"].as_str().unwrap().contains("node image"));
}

#[tokio::test]
async fn a_large_digest_reaches_the_generic_webhook_in_parts_and_teams_in_one_card() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(204)).expect(3).mount(&server).await;
    Mock::given(method("POST")).and(path("/teams")).respond_with(ResponseTemplate::new(202)).expect(1).mount(&server).await;
    let (hook, team) = (chat(ChatKind::Webhook, "OPS_HOOK_URL"), chat(ChatKind::Teams, "TEAMS_URL"));
    let mut batch: Vec<Action> = (0..2100).map(|i| node_image(&format!("aks-{i:04}"), hook.clone())).collect();
    batch.extend((0..2100).map(|i| node_image(&format!("aks-{i:04}"), team.clone())));
    let uri = server.uri();

    let results = actuator(&[("OPS_HOOK_URL", &format!("{uri}/hook")), ("TEAMS_URL", &format!("{uri}/teams"))]).perform(&batch).await;

    assert!(results.iter().all(|r| r.is_ok()), "{:?}", results.iter().find(|r| r.is_err()));
    let requests = server.received_requests().await.unwrap();
    let hooks: Vec<Value> = requests.iter().filter(|r| r.url.path() == "/hook").map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    let mut counts: Vec<(u64, u64)> = hooks.iter().map(|h| (h["part"]["index"].as_u64().unwrap(), h["count"].as_u64().unwrap())).collect();
    counts.sort();
    assert_eq!(counts, vec![(1, 1000), (2, 1000), (3, 100)], "parts of 1,000 entries");
    assert!(hooks.iter().all(|h| h["part"]["of"] == 3));
    server.verify().await;
}

#[tokio::test]
async fn one_message_per_chat_kind_and_setting_per_batch() {
    let server = MockServer::start().await;
    for p in ["/teams-a", "/teams-b", "/slack-a"] {
        Mock::given(method("POST")).and(path(p)).respond_with(ResponseTemplate::new(200)).expect(1).mount(&server).await;
    }
    let (ta, tb, sa) = (chat(ChatKind::Teams, "TEAMS_A"), chat(ChatKind::Teams, "TEAMS_B"), chat(ChatKind::Slack, "SLACK_A"));
    let mut batch = Vec::new();
    for i in 0..20 {
        batch.push(node_image(&format!("aks-{i:02}"), ta.clone()));
        batch.push(node_image(&format!("aks-{i:02}"), tb.clone()));
        batch.push(node_image(&format!("aks-{i:02}"), sa.clone()));
    }
    let uri = server.uri();
    let act = actuator(&[("TEAMS_A", &format!("{uri}/teams-a")), ("TEAMS_B", &format!("{uri}/teams-b")), ("SLACK_A", &format!("{uri}/slack-a"))]);

    let results = act.perform(&batch).await;

    assert_eq!(results.len(), 60);
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 3, "60 actions, 3 destinations, 3 posts");
}

#[tokio::test]
async fn throttling_is_reported_with_the_servers_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7")).expect(1).mount(&server).await;
    let a = node_image("aks-01", chat(ChatKind::Teams, "TEAMS_OPS_URL"));

    let r = actuator(&[("TEAMS_OPS_URL", &server.uri())]).perform(std::slice::from_ref(&a)).await.remove(0);

    assert!(matches!(&r, Err(ActionError::Throttled { retry_after: Some(d), .. }) if *d == Duration::from_secs(7)), "{r:?}");
}

#[tokio::test]
async fn server_errors_are_transient_a_dead_url_is_configuration_and_a_refused_payload_permanent() {
    for (status, body, class) in [
        (500, "", "transient"),
        (503, "busy", "transient"),
        (408, "", "transient"),
        (400, "invalid_payload", "permanent"),
        (401, "unauthorized", "configuration"),
        (403, "invalid_token", "configuration"),
        (404, "no_service", "configuration"),
        (410, "channel_is_archived", "configuration"),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(status).set_body_string(body)).expect(1).mount(&server).await;
        let a = node_image("aks-01", chat(ChatKind::Slack, "SLACK_URL"));

        let r = actuator(&[("SLACK_URL", &server.uri())]).perform(std::slice::from_ref(&a)).await.remove(0);

        match (&r, class) {
            (Err(ActionError::Transient(m)), "transient") | (Err(ActionError::Permanent(m)), "permanent") => {
                assert!(m.contains(&format!("HTTP {status}")) && m.contains("SLACK_URL") && m.contains(body), "{m}");
            }
            (Err(ActionError::Configuration { setting, message: m }), "configuration") => {
                assert_eq!(setting, "SLACK_URL");
                assert!(m.contains(&format!("HTTP {status}")) && m.contains(body), "{m}");
            }
            _ => panic!("HTTP {status}: wrong class {r:?}, wanted {class}"),
        }
    }
}

#[tokio::test]
async fn a_slow_webhook_times_out_as_transient() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3))).mount(&server).await;
    let a = node_image("aks-01", chat(ChatKind::Teams, "TEAMS_OPS_URL"));

    let r = actuator(&[("TEAMS_OPS_URL", &server.uri())]).perform(std::slice::from_ref(&a)).await.remove(0);

    assert!(matches!(&r, Err(ActionError::Transient(m)) if m.contains("timed out")), "{r:?}");
}

#[tokio::test]
async fn an_unset_url_setting_is_a_configuration_failure_that_names_the_setting_and_posts_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let a = node_image("aks-01", chat(ChatKind::Teams, "TEAMS_MISSING_URL"));

    let r = actuator(&[]).perform(std::slice::from_ref(&a)).await.remove(0);

    assert!(matches!(&r, Err(ActionError::Configuration { setting, message }) if setting == "TEAMS_MISSING_URL" && message.contains("TEAMS_MISSING_URL")), "{r:?}");
}

#[tokio::test]
async fn a_setting_that_holds_no_url_is_a_configuration_failure_without_echoing_its_value() {
    let a = node_image("aks-01", chat(ChatKind::Slack, "SLACK_URL"));
    let r = actuator(&[("SLACK_URL", TOKEN)]).perform(std::slice::from_ref(&a)).await.remove(0);
    assert!(matches!(&r, Err(ActionError::Configuration { setting, message: m }) if setting == "SLACK_URL" && m.contains("SLACK_URL") && !m.contains(TOKEN)), "{r:?}");
}

#[tokio::test]
async fn the_webhook_token_never_appears_in_logs_errors_or_bodies() {
    let (logs, _guard) = Logs::capture();
    let server = MockServer::start().await;
    let token_path = format!("/services/T000/B000/{TOKEN}");
    // A server that echoes the URL it was called on into its error body.
    Mock::given(method("POST"))
        .and(path(token_path.clone()))
        .respond_with(ResponseTemplate::new(403).set_body_string(format!("invalid_token for {}{token_path}?sig={TOKEN}", server.uri())))
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/ok")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let env = [
        ("SLACK_DENIED_URL", format!("{}{token_path}?sig={TOKEN}", server.uri())),
        ("SLACK_DOWN_URL", format!("http://127.0.0.1:{refused}{token_path}?sig={TOKEN}")),
        ("SLACK_OK_URL", format!("{}/ok?sig={TOKEN}", server.uri())),
    ];
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let batch = vec![
        node_image("aks-01", chat(ChatKind::Slack, "SLACK_DENIED_URL")),
        node_image("aks-02", chat(ChatKind::Slack, "SLACK_DOWN_URL")),
        node_image("aks-03", chat(ChatKind::Slack, "SLACK_OK_URL")),
    ];

    let results = actuator(&pairs).perform(&batch).await;

    assert!(matches!(&results[0], Err(ActionError::Configuration { message: m, .. }) if m.contains("HTTP 403") && m.contains("invalid_token")), "{results:?}");
    assert!(matches!(&results[1], Err(ActionError::Transient(m)) if m.contains("SLACK_DOWN_URL")), "{results:?}");
    assert!(results[2].is_ok(), "{results:?}");
    let everything = format!("{results:?}\n{}", logs.text());
    assert!(!everything.contains(TOKEN), "the webhook token leaked:\n{everything}");
    assert!(logs.text().contains("setting=SLACK_OK_URL"), "logs name the setting:\n{}", logs.text());
    for body in bodies(&server).await {
        assert!(!body.to_string().contains(TOKEN), "the token is in a message body");
    }
}

/// A generic webhook that refuses the payload fails permanently, and the failure is reported as
/// a comment on the concern's issue. What the team reads names the webhook once, its setting
/// once, and the stage once.
#[tokio::test]
async fn a_refused_webhook_is_reported_on_the_issue_in_plain_words() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(400).set_body_string("invalid_payload")).expect(1).mount(&server).await;
    let hook = node_image("aks-01", chat(ChatKind::Webhook, "OPS_HOOK_URL"));
    let issue = node_image("aks-01", ActionKind::GithubIssue { repo: "platform/ops".into(), labels: vec![], assignees: vec![] });

    let reason = match actuator(&[("OPS_HOOK_URL", &server.uri())]).perform(std::slice::from_ref(&hook)).await.remove(0) {
        Err(ActionError::Permanent(reason)) => reason,
        other => panic!("a refused payload is permanent: {other:?}"),
    };
    let reports = aks_cadence::followup::failure_reports(&[issue, hook.clone()], &[(hook.key.clone(), reason)]);
    assert_eq!(reports.len(), 1);

    assert_eq!(
        aks_cadence::actions::render::comment_markdown(&reports[0]),
        "**Update**: nodepool1 node image 202501.01.0 → 202502.03.0 available\n\n\
         The webhook message failed and will not be retried: webhook (setting OPS_HOOK_URL) answered HTTP 400: invalid_payload\n\n\
         - `AKSUbuntu-2204gen2containerd-202501.01.0` → `AKSUbuntu-2204gen2containerd-202502.03.0`\n\
         - Node pool `nodepool1` runs image AKSUbuntu-2204gen2containerd-202501.01.0; AKSUbuntu-2204gen2containerd-202502.03.0 is available (OS security patches).\n\
         - The next maintenance window opens 2026-01-10 02:00 UTC.\n\n\
         The description above has been refreshed with the latest facts.\n"
    );
}
