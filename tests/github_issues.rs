//! The GitHub issue flow against a fake GitHub (wiremock on 127.0.0.1): one issue per concern,
//! updated in place, closed when resolved, never duplicated by replays or crashes.

mod github_common;

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use aks_cadence::action::{ActionKind, Stage};
use aks_cadence::actions::github::{ContentBudget, TokenBucket, action_marker, concern_marker, issue_body};
use aks_cadence::actions::render;
use aks_cadence::error::ActionError;
use github_common::*;

const ISSUES: &str = "/repos/platform/ops/issues";
const ISSUE_42: &str = "/repos/platform/ops/issues/42";
const COMMENTS_42: &str = "/repos/platform/ops/issues/42/comments";

async fn mount_labelled(server: &MockServer, items: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path(ISSUES))
        .and(query_param("labels", "aks-cadence"))
        .and(query_param("state", "open"))
        .respond_with(ResponseTemplate::new(200).set_body_json(items))
        .mount(server)
        .await;
}

async fn mount_search(server: &MockServer, items: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "total_count": items.as_array().map_or(0, |a| a.len()), "incomplete_results": false, "items": items })))
        .mount(server)
        .await;
}

fn created(server: &MockServer, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(issue_json(&server.uri(), ISSUE_REPO, 42, "open", "prod-weu: upgrade 1.29.2 → 1.30.7 (minor) available", body))
}

/// An existing issue #42 whose body is exactly what `action` renders (nothing to refresh).
fn existing(server: &MockServer, action: &aks_cadence::action::Action, state: &str) -> serde_json::Value {
    issue_json(&server.uri(), ISSUE_REPO, 42, state, &render::title(action), &issue_body(action))
}

#[tokio::test]
async fn notice_creates_one_issue_with_marker_facts_labels_and_assignees() {
    let server = MockServer::start().await;
    mount_labelled(&server, json!([])).await;
    mount_search(&server, json!([])).await;
    Mock::given(method("POST"))
        .and(path(ISSUES))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(created(&server, "x"))
        .expect(1)
        .mount(&server)
        .await;
    let ledger = MemLedger::new();
    let gh = actuator(&server.uri(), ledger.clone());
    let a = notice();

    let url = run(&gh, &a).await.expect("created");
    assert_eq!(url, "https://github.example/platform/ops/issues/42");

    let sent = body_of(&server, "POST", ISSUES).await;
    assert_eq!(sent["title"], "prod-weu: upgrade 1.29.2 → 1.30.7 (minor) available");
    assert_eq!(sent["labels"], json!(["aks-cadence", "platform"]), "our label first, no duplicates");
    assert_eq!(sent["assignees"], json!(["octo-ops"]));
    let body = sent["body"].as_str().unwrap();
    for needle in [
        concern_marker(&a.concern).as_str(),
        "| Subscription | `0b1f6471-1bf0-4dda-aec3-111122223333` |",
        "| Resource group | `rg-aks-prod-weu` |",
        "| Region | `westeurope` |",
        "| Current | `1.29.2` |",
        "| Target | `1.30.7` |",
        "Cadence deadline (policy): 2026-03-03.",
        "First seen: 2026-02-01.",
        "The next maintenance window opens 2026-02-03 01:00 UTC.",
        "az aks upgrade --subscription 0b1f6471-1bf0-4dda-aec3-111122223333 --resource-group rg-aks-prod-weu --name prod-weu --kubernetes-version 1.30.7",
        "https://github.com/Azure/AKS/releases",
        "https://github.com/kubernetes/kubernetes/blob/master/CHANGELOG/CHANGELOG-1.30.md",
    ] {
        assert!(body.contains(needle), "body lacks {needle:?}:\n{body}");
    }
    assert!(!body.contains("1.31.1"), "a preview is not a target");
    let ck = a.concern.key();
    assert_eq!(ledger.get(&ck, "github-issue:platform/ops").as_deref(), Some("42"));
    assert_eq!(ledger.get(&ck, "github-issue").as_deref(), Some("platform/ops#42"));
}

#[tokio::test]
async fn replaying_a_notice_makes_no_second_issue() {
    let server = MockServer::start().await;
    mount_labelled(&server, json!([])).await;
    mount_search(&server, json!([])).await;
    let a = notice();
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(created(&server, &issue_body(&a))).expect(1).mount(&server).await;
    Mock::given(method("GET")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200).set_body_json(existing(&server, &a, "open"))).mount(&server).await;
    Mock::given(method("PATCH")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let gh = actuator(&server.uri(), MemLedger::new());

    let first = run(&gh, &a).await.unwrap();
    let second = run(&gh, &a).await.unwrap();
    let third = run(&gh, &a).await.unwrap();
    assert_eq!((first.as_str(), second.as_str()), (third.as_str(), third.as_str()));
}

#[tokio::test]
async fn crash_between_create_and_record_finds_the_marked_issue_instead_of_duplicating() {
    // The issue exists on GitHub (the first attempt created it), the ledger never heard of it.
    let server = MockServer::start().await;
    let a = notice();
    let other = issue_json(&server.uri(), ISSUE_REPO, 41, "open", "prod-weu: node image", "<!-- aks-cadence:concern=something-else -->");
    mount_labelled(&server, json!([other, existing(&server, &a, "open")])).await;
    mount_search(&server, json!([])).await;
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(created(&server, "x")).expect(0).mount(&server).await;
    Mock::given(method("PATCH")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let fresh = MemLedger::new();
    let gh = actuator(&server.uri(), fresh.clone());

    let url = run(&gh, &a).await.unwrap();
    assert_eq!(url, "https://github.example/platform/ops/issues/42");
    assert_eq!(fresh.get(&a.concern.key(), "github-issue:platform/ops").as_deref(), Some("42"), "the ledger is healed");
}

#[tokio::test]
async fn an_unlabelled_marked_issue_is_found_by_search() {
    let server = MockServer::start().await;
    let a = notice();
    mount_labelled(&server, json!([])).await;
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .and(query_param("q", format!("repo:platform/ops is:issue in:body \"{}\"", aks_cadence::actions::github::concern_digest(&a.concern))))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "total_count": 1, "items": [existing(&server, &a, "open")] })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(created(&server, "x")).expect(0).mount(&server).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    assert!(run(&gh, &a).await.unwrap().ends_with("/issues/42"));
}

#[tokio::test]
async fn pull_requests_carrying_the_marker_are_not_mistaken_for_the_issue() {
    let server = MockServer::start().await;
    let a = notice();
    let mut pr = existing(&server, &a, "open");
    pr["number"] = json!(7);
    pr["pull_request"] = json!({ "url": "x" });
    mount_labelled(&server, json!([pr])).await;
    mount_search(&server, json!([])).await;
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(created(&server, "x")).expect(1).mount(&server).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    assert!(run(&gh, &a).await.unwrap().ends_with("/issues/42"));
}

#[tokio::test]
async fn an_update_comments_and_refreshes_the_body_without_a_new_issue() {
    let server = MockServer::start().await;
    let old = notice();
    let ledger = MemLedger::new();
    ledger.set(&old.concern.key(), "github-issue:platform/ops", "42");
    Mock::given(method("GET")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200).set_body_json(existing(&server, &old, "open"))).expect(1).mount(&server).await;
    Mock::given(method("GET")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(200).set_body_json(json!([{ "id": 1, "body": "looking at it" }]))).mount(&server).await;
    Mock::given(method("POST")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": 2 }))).expect(1).mount(&server).await;
    Mock::given(method("PATCH")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200).set_body_json(json!({ "number": 42 }))).expect(1).mount(&server).await;
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(created(&server, "x")).expect(0).mount(&server).await;
    let gh = actuator(&server.uri(), ledger);
    let update = action(Stage::Update, issue_kind(), "prod-weu: upgrade 1.29.2 → 1.30.9 (minor) available");

    assert!(run(&gh, &update).await.unwrap().ends_with("/issues/42"));

    let comment = body_of(&server, "POST", COMMENTS_42).await;
    let text = comment["body"].as_str().unwrap();
    assert!(text.starts_with("**Update**: upgrade 1.29.2 → 1.30.9"), "{text}");
    assert!(text.contains(&action_marker(&update.key)));
    let patch = body_of(&server, "PATCH", ISSUE_42).await;
    assert_eq!(patch["title"], "prod-weu: upgrade 1.29.2 → 1.30.9 (minor) available");
    assert!(patch["body"].as_str().unwrap().contains(&concern_marker(&update.concern)), "the marker survives a refresh");
}

#[tokio::test]
async fn a_replayed_update_does_not_comment_twice() {
    let server = MockServer::start().await;
    let update = action(Stage::Update, issue_kind(), "prod-weu: upgrade 1.29.2 → 1.30.9 (minor) available");
    let ledger = MemLedger::new();
    ledger.set(&update.concern.key(), "github-issue:platform/ops", "42");
    Mock::given(method("GET")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200).set_body_json(existing(&server, &update, "open"))).mount(&server).await;
    // 150 comments: ours is the newest, on the last page.
    let page1: Vec<_> = (0..100).map(|i| json!({ "id": i, "body": "chatter" })).collect();
    let page2 = json!([{ "id": 100, "body": "more" }, { "id": 101, "body": format!("**Update**: …\n{}\n", action_marker(&update.key)) }]);
    let next = format!("<{}{COMMENTS_42}?per_page=100&page=2>; rel=\"next\", <{}{COMMENTS_42}?per_page=100&page=2>; rel=\"last\"", server.uri(), server.uri());
    Mock::given(method("GET")).and(path(COMMENTS_42)).and(query_param("page", "2")).respond_with(ResponseTemplate::new(200).set_body_json(page2)).expect(1).mount(&server).await;
    Mock::given(method("GET")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(200).set_body_json(page1).insert_header("link", next.as_str())).mount(&server).await;
    Mock::given(method("POST")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    Mock::given(method("PATCH")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let gh = actuator(&server.uri(), ledger);
    assert!(run(&gh, &update).await.is_ok());
}

#[tokio::test]
async fn a_reminder_for_a_missing_issue_creates_it() {
    let server = MockServer::start().await;
    mount_labelled(&server, json!([])).await;
    mount_search(&server, json!([])).await;
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(created(&server, "x")).expect(1).mount(&server).await;
    Mock::given(method("POST")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    let reminder = action(Stage::Reminder, issue_kind(), "prod-weu: upgrade 1.29.2 → 1.30.7 (minor) available");
    assert!(run(&gh, &reminder).await.unwrap().ends_with("/issues/42"));
}

#[tokio::test]
async fn an_issue_deleted_on_github_is_looked_up_again_by_marker() {
    let server = MockServer::start().await;
    let a = notice();
    let ledger = MemLedger::new();
    ledger.set(&a.concern.key(), "github-issue:platform/ops", "40");
    Mock::given(method("GET")).and(path("/repos/platform/ops/issues/40")).respond_with(ResponseTemplate::new(410).set_body_json(json!({ "message": "This issue was deleted" }))).expect(1).mount(&server).await;
    mount_labelled(&server, json!([])).await;
    mount_search(&server, json!([])).await;
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(created(&server, "x")).expect(1).mount(&server).await;
    let gh = actuator(&server.uri(), ledger.clone());
    assert!(run(&gh, &a).await.unwrap().ends_with("/issues/42"));
    assert_eq!(ledger.get(&a.concern.key(), "github-issue:platform/ops").as_deref(), Some("42"));
}

#[tokio::test]
async fn close_comments_then_closes_the_open_issue() {
    let server = MockServer::start().await;
    let resolve = action(Stage::Resolve, ActionKind::GithubClose { repo: ISSUE_REPO.into() }, "prod-weu: now on 1.30.7");
    let ledger = MemLedger::new();
    ledger.set(&resolve.concern.key(), "github-issue:platform/ops", "42");
    Mock::given(method("GET")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200).set_body_json(existing(&server, &notice(), "open"))).mount(&server).await;
    Mock::given(method("GET")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).mount(&server).await;
    Mock::given(method("POST")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(201)).expect(1).mount(&server).await;
    Mock::given(method("PATCH"))
        .and(path(ISSUE_42))
        .and(body_partial_json(json!({ "state": "closed", "state_reason": "completed" })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "number": 42, "state": "closed" })))
        .expect(1)
        .mount(&server)
        .await;
    let gh = actuator(&server.uri(), ledger);
    assert!(run(&gh, &resolve).await.unwrap().ends_with("/issues/42"));
    let text = body_of(&server, "POST", COMMENTS_42).await["body"].as_str().unwrap().to_string();
    assert!(text.starts_with("**Resolved**: now on 1.30.7"), "{text}");
}

#[tokio::test]
async fn close_without_an_issue_does_nothing_and_does_not_search() {
    let server = MockServer::start().await;
    mount_labelled(&server, json!([])).await;
    Mock::given(method("GET")).and(path("/search/issues")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    Mock::given(method("PATCH")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    let resolve = action(Stage::Resolve, ActionKind::GithubClose { repo: ISSUE_REPO.into() }, "prod-weu: now on 1.30.7");
    assert_eq!(run(&gh, &resolve).await.unwrap(), "no issue for this concern in platform/ops");
}

#[tokio::test]
async fn close_of_an_already_closed_issue_does_nothing() {
    let server = MockServer::start().await;
    let resolve = action(Stage::Resolve, ActionKind::GithubClose { repo: ISSUE_REPO.into() }, "prod-weu: now on 1.30.7");
    let ledger = MemLedger::new();
    ledger.set(&resolve.concern.key(), "github-issue:platform/ops", "42");
    Mock::given(method("GET")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200).set_body_json(existing(&server, &notice(), "closed"))).mount(&server).await;
    Mock::given(method("PATCH")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    let gh = actuator(&server.uri(), ledger);
    assert!(run(&gh, &resolve).await.unwrap().ends_with("was already closed"));
}

// ---- each endpoint's failure, classified where it is born ----

#[tokio::test]
async fn a_failing_label_listing_is_transient_and_creates_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path(ISSUES)).respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad gateway</html>")).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    let err = run(&gh, &notice()).await.unwrap_err();
    assert!(matches!(&err, ActionError::Transient(m) if m.contains("GET /repos/platform/ops/issues") && m.contains("502")), "{err:?}");
}

#[tokio::test]
async fn a_throttled_search_creates_nothing() {
    let server = MockServer::start().await;
    mount_labelled(&server, json!([])).await;
    Mock::given(method("GET"))
        .and(path("/search/issues"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({ "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." })))
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    let err = run(&gh, &notice()).await.unwrap_err();
    assert!(matches!(err, ActionError::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(60)), "{err:?}");
}

#[tokio::test]
async fn a_search_that_refuses_the_query_falls_back_to_the_label_listing() {
    let server = MockServer::start().await;
    mount_labelled(&server, json!([])).await;
    Mock::given(method("GET")).and(path("/search/issues")).respond_with(ResponseTemplate::new(422).set_body_json(json!({ "message": "Validation Failed" }))).expect(1).mount(&server).await;
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(created(&server, "x")).expect(1).mount(&server).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    assert!(run(&gh, &notice()).await.is_ok());
}

#[tokio::test]
async fn a_rejected_assignee_is_permanent_and_records_nothing() {
    let server = MockServer::start().await;
    mount_labelled(&server, json!([])).await;
    mount_search(&server, json!([])).await;
    Mock::given(method("POST"))
        .and(path(ISSUES))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({ "message": "Validation Failed", "errors": [{ "value": "octo-ops", "resource": "Issue", "field": "assignees", "code": "invalid" }] })))
        .expect(1)
        .mount(&server)
        .await;
    let ledger = MemLedger::new();
    let gh = actuator(&server.uri(), ledger.clone());
    let a = notice();
    let err = run(&gh, &a).await.unwrap_err();
    assert!(matches!(&err, ActionError::Permanent(m) if m.contains("POST /repos/platform/ops/issues") && m.contains("invalid assignees")), "{err:?}");
    assert_eq!(ledger.get(&a.concern.key(), "github-issue:platform/ops"), None);
}

#[tokio::test]
async fn a_server_error_on_create_is_transient() {
    let server = MockServer::start().await;
    mount_labelled(&server, json!([])).await;
    mount_search(&server, json!([])).await;
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(ResponseTemplate::new(500).set_body_json(json!({ "message": "Server Error" }))).expect(1).mount(&server).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    assert!(matches!(run(&gh, &notice()).await, Err(ActionError::Transient(_))));
}

#[tokio::test]
async fn a_failing_issue_read_is_transient() {
    let server = MockServer::start().await;
    let a = notice();
    let ledger = MemLedger::new();
    ledger.set(&a.concern.key(), "github-issue:platform/ops", "42");
    Mock::given(method("GET")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(503)).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    let gh = actuator(&server.uri(), ledger);
    assert!(matches!(run(&gh, &a).await, Err(ActionError::Transient(_))));
}

async fn with_issue_42(server: &MockServer) -> (MemLedgerArc, aks_cadence::action::Action) {
    let update = action(Stage::Update, issue_kind(), "prod-weu: upgrade 1.29.2 → 1.30.9 (minor) available");
    let ledger = MemLedger::new();
    ledger.set(&update.concern.key(), "github-issue:platform/ops", "42");
    Mock::given(method("GET")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200).set_body_json(existing(server, &notice(), "open"))).mount(server).await;
    (ledger, update)
}
type MemLedgerArc = std::sync::Arc<MemLedger>;

#[tokio::test]
async fn a_failing_comment_listing_is_transient_and_posts_nothing() {
    let server = MockServer::start().await;
    let (ledger, update) = with_issue_42(&server).await;
    Mock::given(method("GET")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(500)).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    let gh = actuator(&server.uri(), ledger);
    assert!(matches!(run(&gh, &update).await, Err(ActionError::Transient(_))));
}

#[tokio::test]
async fn a_forbidden_comment_is_a_configuration_failure_naming_the_permissions() {
    let server = MockServer::start().await;
    let (ledger, update) = with_issue_42(&server).await;
    Mock::given(method("GET")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).mount(&server).await;
    Mock::given(method("POST"))
        .and(path(COMMENTS_42))
        .respond_with(ResponseTemplate::new(403).insert_header("x-ratelimit-remaining", "4990").set_body_json(json!({ "message": "Resource not accessible by integration" })))
        .expect(1)
        .mount(&server)
        .await;
    let gh = actuator(&server.uri(), ledger);
    let err = run(&gh, &update).await.unwrap_err();
    assert!(
        matches!(&err, ActionError::Configuration { setting, message: m } if m.contains("Resource not accessible by integration") && setting.contains("permissions")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_failing_body_refresh_is_transient() {
    let server = MockServer::start().await;
    let (ledger, update) = with_issue_42(&server).await;
    Mock::given(method("GET")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).mount(&server).await;
    Mock::given(method("POST")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(201)).expect(1).mount(&server).await;
    Mock::given(method("PATCH")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(502)).expect(1).mount(&server).await;
    let gh = actuator(&server.uri(), ledger);
    assert!(matches!(run(&gh, &update).await, Err(ActionError::Transient(_))));
}

#[tokio::test]
async fn a_close_on_a_repository_with_issues_turned_off_is_a_configuration_failure() {
    let server = MockServer::start().await;
    let resolve = action(Stage::Resolve, ActionKind::GithubClose { repo: ISSUE_REPO.into() }, "prod-weu: now on 1.30.7");
    let ledger = MemLedger::new();
    ledger.set(&resolve.concern.key(), "github-issue:platform/ops", "42");
    Mock::given(method("GET")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200).set_body_json(existing(&server, &notice(), "open"))).mount(&server).await;
    Mock::given(method("GET")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).mount(&server).await;
    Mock::given(method("POST")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(201)).mount(&server).await;
    Mock::given(method("PATCH")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(410).set_body_json(json!({ "message": "Issues are disabled for this repo" }))).expect(1).mount(&server).await;
    let gh = actuator(&server.uri(), ledger);
    assert!(matches!(run(&gh, &resolve).await, Err(ActionError::Configuration { message, setting }) if message.contains("Issues are disabled") && setting.contains("`repo`")));
}

#[tokio::test]
async fn a_refused_connection_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let gh = actuator(&format!("http://{addr}"), MemLedger::new());
    assert!(matches!(run(&gh, &notice()).await, Err(ActionError::Transient(_))));
}

// ---- rate limits and the content budget ----

#[tokio::test]
async fn a_429_with_retry_after_is_throttled_and_holds_off_further_calls() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path(ISSUES)).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).expect(1).mount(&server).await;
    mount_search(&server, json!([])).await;
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30")).expect(1).mount(&server).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    let mut second = notice();
    second.concern.target = "1.31".into();

    let results = aks_cadence::actions::Actuator::perform(&gh, &[notice(), second]).await;
    assert!(matches!(results[0], Err(ActionError::Throttled { retry_after: Some(d), .. }) if d == Duration::from_secs(30)), "{:?}", results[0]);
    // The second action asks GitHub nothing while the first's retry-after runs.
    assert!(matches!(&results[1], Err(ActionError::Throttled { retry_after: Some(d), .. }) if *d <= Duration::from_secs(30) && *d > Duration::from_secs(25)), "{:?}", results[1]);
}

#[tokio::test]
async fn a_primary_limit_403_waits_until_the_reset() {
    let server = MockServer::start().await;
    let reset = jiff::Timestamp::now().as_second() + 600;
    Mock::given(method("GET"))
        .and(path(ISSUES))
        .respond_with(ResponseTemplate::new(403).insert_header("x-ratelimit-remaining", "0").insert_header("x-ratelimit-reset", reset.to_string().as_str()).set_body_json(json!({ "message": "API rate limit exceeded for installation ID 678." })))
        .mount(&server)
        .await;
    let gh = actuator(&server.uri(), MemLedger::new());
    let err = run(&gh, &notice()).await.unwrap_err();
    assert!(matches!(err, ActionError::Throttled { retry_after: Some(d), .. } if d > Duration::from_secs(590) && d <= Duration::from_secs(602)), "{err:?}");
}

#[tokio::test]
async fn the_content_budget_throttles_before_github_has_to() {
    let server = MockServer::start().await;
    mount_labelled(&server, json!([])).await;
    mount_search(&server, json!([])).await;
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(created(&server, "x")).expect(1).mount(&server).await;
    let now = std::time::Instant::now();
    let budget = ContentBudget::new(vec![TokenBucket::new(1, 1.0 / 60.0, now)], Duration::from_secs(5));
    let gh = actuator_with_budget(&server.uri(), MemLedger::new(), budget);
    let mut second = notice();
    second.concern.target = "1.31".into();

    let results = aks_cadence::actions::Actuator::perform(&gh, &[notice(), second]).await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(matches!(&results[1], Err(ActionError::Throttled { retry_after: Some(d), message }) if *d >= Duration::from_secs(50) && message.contains("budget")), "{:?}", results[1]);
}
