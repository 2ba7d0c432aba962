//! Escalation routing on GitHub against a fake GitHub (wiremock on 127.0.0.1): a stage's extra
//! labels and assignees are added to the concern's issue with one call each, only what the
//! issue lacks (so a replay after a crash posts nothing), failures classified like every other
//! GitHub call, and deferred while the concern has no issue.

mod github_common;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use aks_cadence::action::{Action, ActionKind, Stage};
use aks_cadence::error::ActionError;
use github_common::*;

const ISSUE_42: &str = "/repos/platform/ops/issues/42";
const LABELS_42: &str = "/repos/platform/ops/issues/42/labels";
const ASSIGNEES_42: &str = "/repos/platform/ops/issues/42/assignees";

fn escalation() -> Action {
    action(
        Stage::Overdue,
        ActionKind::GithubEscalation { repo: ISSUE_REPO.into(), labels: vec!["overdue".into(), "sla".into()], assignees: vec!["platform-lead".into()] },
        "prod-weu: upgrade 1.29.2 → 1.30.7 (minor) overdue",
    )
}

/// Issue #42 of the concern (known to the ledger), carrying `labels` and `assignees`.
async fn issue_42(server: &MockServer, labels: &[&str], assignees: &[&str]) -> std::sync::Arc<MemLedger> {
    let mut issue = issue_json(&server.uri(), ISSUE_REPO, 42, "open", "t", "b");
    issue["labels"] = json!(labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>());
    issue["assignees"] = json!(assignees.iter().map(|a| json!({"login": a})).collect::<Vec<_>>());
    Mock::given(method("GET")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200).set_body_json(issue)).mount(server).await;
    let ledger = MemLedger::new();
    ledger.set(&upgrade_concern().key(), "github-issue:platform/ops", "42");
    ledger
}

async fn expect_adds(server: &MockServer, labels: u64, assignees: u64) {
    Mock::given(method("POST")).and(path(LABELS_42)).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).expect(labels).mount(server).await;
    Mock::given(method("POST")).and(path(ASSIGNEES_42)).respond_with(ResponseTemplate::new(201).set_body_json(json!({}))).expect(assignees).mount(server).await;
}

#[tokio::test]
async fn the_missing_labels_and_assignees_are_added_with_one_call_each() {
    let server = MockServer::start().await;
    let ledger = issue_42(&server, &["aks-cadence", "SLA"], &[]).await;
    expect_adds(&server, 1, 1).await;
    let done = run(&actuator(&server.uri(), ledger), &escalation()).await.expect("added");
    assert_eq!(done, "https://github.example/platform/ops/issues/42: labelled overdue; assigned @platform-lead");
    assert_eq!(body_of(&server, "POST", LABELS_42).await, json!({"labels": ["overdue"]}), "`sla` is already there (GitHub ignores case)");
    assert_eq!(body_of(&server, "POST", ASSIGNEES_42).await, json!({"assignees": ["platform-lead"]}));
    server.verify().await;
}

#[tokio::test]
async fn a_replay_after_a_crash_finds_them_on_the_issue_and_posts_nothing() {
    let server = MockServer::start().await;
    let ledger = issue_42(&server, &["aks-cadence", "overdue", "sla"], &["Platform-Lead"]).await;
    expect_adds(&server, 0, 0).await;
    let done = run(&actuator(&server.uri(), ledger), &escalation()).await.expect("nothing to do");
    assert_eq!(done, "https://github.example/platform/ops/issues/42: already labelled and assigned");
    server.verify().await;
}

#[tokio::test]
async fn failures_are_classified_like_every_other_github_call() {
    for (status, body, want) in [
        (502, json!({"message": "Bad Gateway"}), "transient"),
        (422, json!({"message": "Validation Failed", "errors": [{"resource": "Label", "code": "invalid"}]}), "permanent"),
        (403, json!({"message": "Resource not accessible by integration"}), "configuration"),
    ] {
        let server = MockServer::start().await;
        let ledger = issue_42(&server, &["aks-cadence"], &[]).await;
        Mock::given(method("POST")).and(path(LABELS_42)).respond_with(ResponseTemplate::new(status).set_body_json(body)).expect(1).mount(&server).await;
        Mock::given(method("POST")).and(path(ASSIGNEES_42)).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
        let err = run(&actuator(&server.uri(), ledger), &escalation()).await.expect_err("failed");
        let kind = match &err {
            ActionError::Transient(_) => "transient",
            ActionError::Permanent(_) => "permanent",
            ActionError::Configuration { .. } => "configuration",
            other => panic!("HTTP {status}: unexpected {other}"),
        };
        assert_eq!(kind, want, "HTTP {status}: {err}");
        assert!(err.to_string().contains("adding labels"), "{err}");
        server.verify().await;
    }
}

#[tokio::test]
async fn without_an_issue_the_escalation_waits_for_the_next_run() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/platform/ops/issues"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    let err = run(&actuator(&server.uri(), MemLedger::new()), &escalation()).await.expect_err("deferred");
    assert!(matches!(err, ActionError::Deferred(_)), "{err}");
    assert!(err.to_string().contains("no issue in platform/ops yet"), "{err}");
    server.verify().await;
}

#[tokio::test]
async fn an_issue_without_assignees_or_with_null_ones_gets_them() {
    let server = MockServer::start().await;
    let mut issue = issue_json(&server.uri(), ISSUE_REPO, 42, "open", "t", "b");
    issue["assignees"] = json!(null);
    Mock::given(method("GET")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200).set_body_json(issue)).mount(&server).await;
    let ledger = MemLedger::new();
    ledger.set(&upgrade_concern().key(), "github-issue:platform/ops", "42");
    expect_adds(&server, 1, 1).await;
    run(&actuator(&server.uri(), ledger), &escalation()).await.expect("added");
    assert_eq!(body_of(&server, "POST", LABELS_42).await, json!({"labels": ["overdue", "sla"]}));
    server.verify().await;
}
