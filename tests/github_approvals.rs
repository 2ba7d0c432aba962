//! The approval reads against a fake GitHub (wiremock on 127.0.0.1), in the documented payload
//! shapes: the issue's labels, its label events, its comments, each decision author's
//! permission, and a concern's pull request. Every endpoint: success and failure, with the number
//! of calls checked.

mod github_common;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use aks_cadence::actions::github::GithubApprovals;
use aks_cadence::error::ActionError;
use aks_cadence::plan::approval::{Access, Decision, Via, decide};
use github_common::*;

const ISSUE_42: &str = "/repos/platform/ops/issues/42";
const LABEL: &str = "aks-cadence/approved";

fn reader(server: &MockServer, ledger: std::sync::Arc<MemLedger>) -> GithubApprovals {
    GithubApprovals::new(&settings_for(&server.uri()), ledger).expect("settings").expect("credentials are set")
}

/// The concern's issue is #42 in platform/ops, as the issue adapter records it.
fn ledger_with_issue() -> std::sync::Arc<MemLedger> {
    let ledger = MemLedger::new();
    ledger.set(&upgrade_concern().key(), "github-issue:platform/ops", "42");
    ledger
}

async fn mount(server: &MockServer, p: &str, status: u16, body: serde_json::Value, times: u64) {
    Mock::given(method("GET")).and(path(p)).respond_with(ResponseTemplate::new(status).set_body_json(body)).expect(times).mount(server).await;
}

#[tokio::test]
async fn the_activity_names_who_labelled_and_commented_with_each_authors_access() {
    let server = MockServer::start().await;
    mount(&server, ISSUE_42, 200, json!({"number": 42, "html_url": "https://github.com/platform/ops/issues/42", "state": "open", "labels": [{"name": LABEL}, {"name": "aks-cadence"}]}), 1).await;
    mount(
        &server,
        &format!("{ISSUE_42}/events"),
        200,
        json!([
            {"id": 1, "event": "labeled", "actor": {"login": "alice"}, "label": {"name": LABEL, "color": "0e8a16"}, "created_at": "2026-01-15T10:00:00Z"},
            {"id": 2, "event": "assigned", "actor": {"login": "bob"}, "created_at": "2026-01-15T10:01:00Z"}
        ]),
        1,
    )
    .await;
    mount(
        &server,
        &format!("{ISSUE_42}/comments"),
        200,
        json!([{"id": 7, "user": {"login": "mallory"}, "body": "/approve", "created_at": "2026-01-15T10:02:00Z"}]),
        1,
    )
    .await;
    mount(&server, "/repos/platform/ops/collaborators/alice/permission", 200, json!({"permission": "write", "role_name": "maintain", "user": {"login": "alice"}}), 1).await;
    mount(&server, "/repos/platform/ops/collaborators/mallory/permission", 404, json!({"message": "Not Found"}), 1).await;

    let activity = reader(&server, ledger_with_issue()).activity(&upgrade_concern(), "platform/ops", LABEL).await.unwrap().expect("the issue exists");
    assert_eq!(activity.url, "https://github.com/platform/ops/issues/42");
    assert_eq!(activity.events.len(), 1, "only label events count");
    assert_eq!(activity.access.get("alice"), Some(&Access::Writer));
    assert_eq!(activity.access.get("mallory"), Some(&Access::NotWriter), "404: a login GitHub does not know");
    let at = ts("2026-01-15T10:00:00Z");
    assert_eq!(decide(&activity, LABEL, "aks-cadence/hold", ts("2026-01-15T09:00:00Z")), Decision::Approved { by: "alice".into(), at, via: Via::Label });
    server.verify().await;
}

#[tokio::test]
async fn a_concern_without_an_issue_reads_nothing_and_a_refused_read_is_a_configuration_failure() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    assert_eq!(reader(&server, MemLedger::new()).activity(&upgrade_concern(), "platform/ops", LABEL).await.unwrap(), None);
    server.verify().await;

    let server = MockServer::start().await;
    mount(&server, ISSUE_42, 200, json!({"number": 42, "html_url": "https://github.com/platform/ops/issues/42", "labels": []}), 1).await;
    mount(&server, &format!("{ISSUE_42}/events"), 403, json!({"message": "Resource not accessible by integration"}), 1).await;
    mount(&server, &format!("{ISSUE_42}/comments"), 200, json!([]), 0).await;
    let err = reader(&server, ledger_with_issue()).activity(&upgrade_concern(), "platform/ops", LABEL).await.unwrap_err();
    assert!(matches!(err, ActionError::Configuration { .. }), "{err:?}");
    server.verify().await;
}

#[tokio::test]
async fn an_unreadable_permission_leaves_that_authors_access_unknown() {
    let server = MockServer::start().await;
    mount(&server, ISSUE_42, 200, json!({"number": 42, "html_url": "https://github.com/platform/ops/issues/42", "labels": []}), 1).await;
    mount(&server, &format!("{ISSUE_42}/events"), 200, json!([]), 1).await;
    mount(&server, &format!("{ISSUE_42}/comments"), 200, json!([{"id": 1, "user": {"login": "alice"}, "body": "/approve", "created_at": "2026-01-15T10:00:00Z"}]), 1).await;
    mount(&server, "/repos/platform/ops/collaborators/alice/permission", 502, json!({"message": "Server Error"}), 1).await;
    let activity = reader(&server, ledger_with_issue()).activity(&upgrade_concern(), "platform/ops", LABEL).await.unwrap().unwrap();
    match activity.access.get("alice") {
        Some(Access::Unknown(cause)) => assert!(cause.contains("transient") && cause.contains("502"), "{cause}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(decide(&activity, LABEL, "aks-cadence/hold", ts("2026-01-15T09:00:00Z")), Decision::Unknown { .. }));
    server.verify().await;
}

#[tokio::test]
async fn a_pull_request_counts_as_handled_through_iac_only_once_merged() {
    let ledger = MemLedger::new();
    ledger.set(&upgrade_concern().key(), "github-pull:platform/infra", "7");
    let server = MockServer::start().await;
    let pull = |merged_at: Option<&str>| json!({"number": 7, "state": if merged_at.is_some() { "closed" } else { "open" }, "html_url": "https://github.com/platform/infra/pull/7", "merged_at": merged_at});
    Mock::given(method("GET"))
        .and(path("/repos/platform/infra/pulls/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(pull(None)))
        .up_to_n_times(1)
        .expect(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mount(&server, "/repos/platform/infra/pulls/7", 200, pull(Some("2026-01-14T16:00:00Z")), 1).await;
    let r = reader(&server, ledger);
    assert_eq!(r.merged_pull(&upgrade_concern(), "platform/infra").await.unwrap(), None, "open, not merged");
    assert_eq!(r.merged_pull(&upgrade_concern(), "platform/infra").await.unwrap().as_deref(), Some("https://github.com/platform/infra/pull/7"));
    server.verify().await;

    // No pull request recorded: nothing asked.
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    assert_eq!(reader(&server, MemLedger::new()).merged_pull(&upgrade_concern(), "platform/infra").await.unwrap(), None);
    server.verify().await;
}
