//! Pull requests that bump a cluster's version, against a fake GitHub (wiremock on 127.0.0.1)
//! and real-looking Bicep, Terraform, YAML and JSON files from `tests/fixtures/infra/`.

mod github_common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use aks_cadence::action::{ActionKind, VersionLocator};
use aks_cadence::actions::github::{action_marker, branch_name, concern_marker};
use aks_cadence::actions::version_edit::{self, VersionEditError};
use aks_cadence::error::ActionError;
use github_common::*;

const REPO_API: &str = "/repos/platform/infra";
const BASE_SHA: &str = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
const BLOB_SHA: &str = "3d21ec53a331a6f037a91c368710b99387d012c1";

/// What GitHub's contents API returns for a file: base64 wrapped at 60 columns.
fn contents_json(file_path: &str, text: &str, sha: &str) -> Value {
    let b64 = STANDARD.encode(text.as_bytes());
    let wrapped: Vec<String> = b64.as_bytes().chunks(60).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    json!({
        "type": "file",
        "encoding": "base64",
        "size": text.len(),
        "name": file_path.rsplit('/').next().unwrap(),
        "path": file_path,
        "content": wrapped.join("\n") + "\n",
        "sha": sha,
    })
}

fn pr_json(number: u64) -> Value {
    json!({ "id": 90_000 + number, "number": number, "state": "open", "html_url": format!("https://github.example/platform/infra/pull/{number}"), "title": "x" })
}

/// Mounts the happy path for `file_path` holding `text` on `main`; earlier-mounted mocks win.
async fn happy_path(server: &MockServer, file_path: &str, text: &str) {
    Mock::given(method("GET")).and(path(REPO_API)).respond_with(ResponseTemplate::new(200).set_body_json(json!({ "full_name": "platform/infra", "default_branch": "main" }))).mount(server).await;
    Mock::given(method("GET")).and(path(format!("{REPO_API}/pulls"))).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).mount(server).await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO_API}/git/ref/heads/main")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "ref": "refs/heads/main", "object": { "sha": BASE_SHA, "type": "commit" } })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO_API}/contents/{file_path}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(contents_json(file_path, text, BLOB_SHA)))
        .mount(server)
        .await;
    Mock::given(method("POST")).and(path(format!("{REPO_API}/git/refs"))).respond_with(ResponseTemplate::new(201).set_body_json(json!({ "ref": "refs/heads/x", "object": { "sha": BASE_SHA } }))).mount(server).await;
    Mock::given(method("PUT")).and(path(format!("{REPO_API}/contents/{file_path}"))).respond_with(ResponseTemplate::new(200).set_body_json(json!({ "commit": { "sha": "c0ffee" } }))).mount(server).await;
    Mock::given(method("POST")).and(path(format!("{REPO_API}/pulls"))).respond_with(ResponseTemplate::new(201).set_body_json(pr_json(7))).mount(server).await;
}

/// The file content committed through the contents API, decoded.
async fn committed(server: &MockServer, file_path: &str) -> (String, Value) {
    let put = body_of(server, "PUT", &format!("{REPO_API}/contents/{file_path}")).await;
    let text = String::from_utf8(STANDARD.decode(put["content"].as_str().unwrap()).unwrap()).unwrap();
    (text, put)
}

/// Lines that differ between two texts of the same line count.
fn changed_lines(a: &str, b: &str) -> Vec<(String, String)> {
    assert_eq!(a.split('\n').count(), b.split('\n').count(), "line count changed");
    a.split('\n').zip(b.split('\n')).filter(|(x, y)| x != y).map(|(x, y)| (x.to_string(), y.to_string())).collect()
}

fn upgrade_pr(file_path: &str, key_name: &str) -> aks_cadence::action::Action {
    pr_action(file_path, key(key_name), "1.30.7")
}

#[tokio::test]
async fn a_bicep_pull_request_changes_only_the_version_and_opens_one_pr() {
    let server = MockServer::start().await;
    let original = fixture("aks.bicep");
    Mock::given(method("POST"))
        .and(path(format!("{REPO_API}/git/refs")))
        .and(body_partial_json(json!({ "ref": "refs/heads/aks-cadence/prod-weu/infra-aks-bicep", "sha": BASE_SHA })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "ref": "refs/heads/aks-cadence/prod-weu/infra-aks-bicep" })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO_API}/pulls")))
        .and(query_param("head", "platform:aks-cadence/prod-weu/infra-aks-bicep"))
        .and(query_param("state", "open"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO_API}/contents/infra/aks.bicep")))
        .and(query_param("ref", BASE_SHA))
        .respond_with(ResponseTemplate::new(200).set_body_json(contents_json("infra/aks.bicep", &original, BLOB_SHA)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path(format!("{REPO_API}/pulls"))).respond_with(ResponseTemplate::new(201).set_body_json(pr_json(7))).expect(1).mount(&server).await;
    happy_path(&server, "infra/aks.bicep", &original).await;
    let ledger = MemLedger::new();
    let issue_ref_key = upgrade_concern().key();
    ledger.set(&issue_ref_key, "github-issue", "platform/ops#42");
    let gh = actuator(&server.uri(), ledger.clone());
    let a = upgrade_pr("infra/aks.bicep", "kubernetesVersion");

    assert_eq!(run(&gh, &a).await.unwrap(), "https://github.example/platform/infra/pull/7");

    let (text, put) = committed(&server, "infra/aks.bicep").await;
    assert_eq!(text, original.replacen("param kubernetesVersion string = '1.29.2'", "param kubernetesVersion string = '1.30.7'", 1));
    assert_eq!(changed_lines(&original, &text), vec![("param kubernetesVersion string = '1.29.2'".to_string(), "param kubernetesVersion string = '1.30.7'".to_string())]);
    assert_eq!(put["sha"], BLOB_SHA);
    assert_eq!(put["branch"], "aks-cadence/prod-weu/infra-aks-bicep");
    assert!(put["message"].as_str().unwrap().starts_with("prod-weu: Kubernetes 1.29.2 → 1.30.7 in infra/aks.bicep"));

    let pr = body_of(&server, "POST", &format!("{REPO_API}/pulls")).await;
    assert_eq!(pr["head"], "aks-cadence/prod-weu/infra-aks-bicep");
    assert_eq!(pr["base"], "main");
    assert_eq!(pr["title"], "prod-weu: Kubernetes 1.30.7 in infra/aks.bicep");
    let body = pr["body"].as_str().unwrap();
    for needle in [
        "sets the version in `infra/aks.bicep` (key `kubernetesVersion`, line 12) from `1.29.2` to `1.30.7`",
        "Tracking issue: platform/ops#42",
        "| Resource group | `rg-aks-prod-weu` |",
        "az aks upgrade",
        concern_marker(&a.concern).as_str(),
    ] {
        assert!(body.contains(needle), "PR body lacks {needle:?}:\n{body}");
    }
    assert_eq!(ledger.get(&a.concern.key(), "github-pr:platform/infra:infra/aks.bicep").as_deref(), Some("aks-cadence/prod-weu/infra-aks-bicep"));
}

#[tokio::test]
async fn a_terraform_pull_request_changes_only_kubernetes_version() {
    let server = MockServer::start().await;
    let original = fixture("aks.tf");
    happy_path(&server, "envs/prod/aks.tf", &original).await;
    let gh = actuator(&server.uri(), MemLedger::new());

    run(&gh, &upgrade_pr("envs/prod/aks.tf", "kubernetes_version")).await.unwrap();

    let (text, _) = committed(&server, "envs/prod/aks.tf").await;
    assert_eq!(
        changed_lines(&original, &text),
        vec![(r#"  kubernetes_version  = "1.29.2""#.to_string(), r#"  kubernetes_version  = "1.30.7""#.to_string())],
        "node pools' orchestrator_version lines are not ours to change"
    );
    assert_eq!(text.len(), original.len());
}

#[tokio::test]
async fn a_tfvars_pull_request_leaves_the_commented_pin_alone() {
    let server = MockServer::start().await;
    let original = fixture("prod.tfvars");
    happy_path(&server, "envs/prod.tfvars", &original).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    run(&gh, &upgrade_pr("envs/prod.tfvars", "kubernetes_version")).await.unwrap();
    let (text, _) = committed(&server, "envs/prod.tfvars").await;
    assert_eq!(text, original.replacen(r#"kubernetes_version = "1.29.2""#, r#"kubernetes_version = "1.30.7""#, 1));
    assert!(text.contains(r#"# kubernetes_version = "1.28.9""#));
}

#[tokio::test]
async fn an_explicit_base_branch_is_used_without_asking_for_the_default() {
    let server = MockServer::start().await;
    let original = fixture("prod.bicepparam");
    Mock::given(method("GET")).and(path(REPO_API)).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO_API}/git/ref/heads/release/2026-02")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "object": { "sha": BASE_SHA } })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path(format!("{REPO_API}/pulls"))).and(body_partial_json(json!({ "base": "release/2026-02" }))).respond_with(ResponseTemplate::new(201).set_body_json(pr_json(8))).expect(1).mount(&server).await;
    happy_path(&server, "params/prod.bicepparam", &original).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    let mut a = upgrade_pr("params/prod.bicepparam", "kubernetesVersion");
    if let ActionKind::GithubPullRequest { base, .. } = &mut a.kind {
        *base = Some("release/2026-02".into());
    }
    assert!(run(&gh, &a).await.unwrap().ends_with("/pull/8"));
    let (text, _) = committed(&server, "params/prod.bicepparam").await;
    assert_eq!(text, original.replace("'1.29.2'", "'1.30.7'"));
}

#[tokio::test]
async fn an_open_pr_for_the_branch_gets_a_new_commit_and_title_not_a_second_pr() {
    let server = MockServer::start().await;
    let branch = branch_name("prod-weu", "infra/aks.bicep");
    let on_branch = fixture("aks.bicep").replacen("'1.29.2'", "'1.30.5'", 1);
    Mock::given(method("GET")).and(path(format!("{REPO_API}/pulls"))).respond_with(ResponseTemplate::new(200).set_body_json(json!([pr_json(7)]))).mount(&server).await;
    Mock::given(method("GET"))
        .and(path(format!("{REPO_API}/contents/infra/aks.bicep")))
        .and(query_param("ref", branch.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(contents_json("infra/aks.bicep", &on_branch, "branchblob")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH")).and(path(format!("{REPO_API}/pulls/7"))).and(body_partial_json(json!({ "title": "prod-weu: Kubernetes 1.30.7 in infra/aks.bicep" }))).respond_with(ResponseTemplate::new(200).set_body_json(pr_json(7))).expect(1).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    happy_path(&server, "infra/aks.bicep", "unused").await;
    let gh = actuator(&server.uri(), MemLedger::new());

    assert!(run(&gh, &upgrade_pr("infra/aks.bicep", "kubernetesVersion")).await.unwrap().ends_with("/pull/7"));

    let (text, put) = committed(&server, "infra/aks.bicep").await;
    assert_eq!(text, on_branch.replacen("'1.30.5'", "'1.30.7'", 1));
    assert_eq!((put["sha"].as_str(), put["branch"].as_str()), (Some("branchblob"), Some(branch.as_str())));
}

#[tokio::test]
async fn a_replay_after_the_commit_commits_nothing_and_only_refreshes_the_pr() {
    let server = MockServer::start().await;
    let on_branch = fixture("aks.bicep").replacen("'1.29.2'", "'1.30.7'", 1);
    Mock::given(method("GET")).and(path(format!("{REPO_API}/pulls"))).respond_with(ResponseTemplate::new(200).set_body_json(json!([pr_json(7)]))).mount(&server).await;
    Mock::given(method("GET")).and(path(format!("{REPO_API}/contents/infra/aks.bicep"))).respond_with(ResponseTemplate::new(200).set_body_json(contents_json("infra/aks.bicep", &on_branch, "b"))).mount(&server).await;
    Mock::given(method("PUT")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    Mock::given(method("PATCH")).and(path(format!("{REPO_API}/pulls/7"))).respond_with(ResponseTemplate::new(200).set_body_json(pr_json(7))).expect(1).mount(&server).await;
    happy_path(&server, "infra/aks.bicep", "unused").await;
    let gh = actuator(&server.uri(), MemLedger::new());
    assert!(run(&gh, &upgrade_pr("infra/aks.bicep", "kubernetesVersion")).await.is_ok());
}

#[tokio::test]
async fn a_left_over_branch_is_moved_to_the_base_before_committing() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(format!("{REPO_API}/git/refs"))).respond_with(ResponseTemplate::new(422).set_body_json(json!({ "message": "Reference already exists", "documentation_url": "https://docs.github.com/rest/git/refs#create-a-reference" }))).expect(1).mount(&server).await;
    Mock::given(method("PATCH"))
        .and(path(format!("{REPO_API}/git/refs/heads/aks-cadence/prod-weu/infra-aks-bicep")))
        .and(body_partial_json(json!({ "sha": BASE_SHA, "force": true })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "object": { "sha": BASE_SHA } })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path(format!("{REPO_API}/pulls"))).respond_with(ResponseTemplate::new(201).set_body_json(pr_json(9))).expect(1).mount(&server).await;
    happy_path(&server, "infra/aks.bicep", &fixture("aks.bicep")).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    assert!(run(&gh, &upgrade_pr("infra/aks.bicep", "kubernetesVersion")).await.unwrap().ends_with("/pull/9"));
}

#[tokio::test]
async fn a_pr_opened_by_a_crashed_attempt_is_updated_instead_of_duplicated() {
    let server = MockServer::start().await;
    // Not listed when first asked (the crash happened after), listed after GitHub's 422.
    Mock::given(method("GET")).and(path(format!("{REPO_API}/pulls"))).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).up_to_n_times(1).with_priority(1).mount(&server).await;
    Mock::given(method("GET")).and(path(format!("{REPO_API}/pulls"))).respond_with(ResponseTemplate::new(200).set_body_json(json!([pr_json(7)]))).with_priority(2).mount(&server).await;
    Mock::given(method("POST"))
        .and(path(format!("{REPO_API}/pulls")))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({ "message": "Validation Failed", "errors": [{ "resource": "PullRequest", "code": "custom", "message": "A pull request already exists for platform:aks-cadence/prod-weu/infra-aks-bicep." }] })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH")).and(path(format!("{REPO_API}/pulls/7"))).respond_with(ResponseTemplate::new(200).set_body_json(pr_json(7))).expect(1).mount(&server).await;
    happy_path(&server, "infra/aks.bicep", &fixture("aks.bicep")).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    assert!(run(&gh, &upgrade_pr("infra/aks.bicep", "kubernetesVersion")).await.unwrap().ends_with("/pull/7"));
}

#[tokio::test]
async fn a_base_already_at_the_version_opens_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    Mock::given(method("PUT")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    happy_path(&server, "infra/aks.bicep", &fixture("aks.bicep").replacen("'1.29.2'", "'1.30.7'", 1)).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    let done = run(&gh, &upgrade_pr("infra/aks.bicep", "kubernetesVersion")).await.unwrap();
    assert_eq!(done, "platform/infra: infra/aks.bicep on main is already at 1.30.7");
}

#[tokio::test]
async fn an_ambiguous_locator_is_permanent_and_reported_on_the_concerns_issue() {
    let server = MockServer::start().await;
    let a = upgrade_pr("envs/prod/aks.tf", "orchestrator_version");
    let ledger = MemLedger::new();
    ledger.set(&a.concern.key(), "github-issue", "platform/ops#42");
    Mock::given(method("GET")).and(path("/repos/platform/ops/issues/42/comments")).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).mount(&server).await;
    Mock::given(method("POST")).and(path("/repos/platform/ops/issues/42/comments")).respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": 5 }))).expect(1).mount(&server).await;
    Mock::given(method("POST")).and(path(format!("{REPO_API}/git/refs"))).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    Mock::given(method("PUT")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    Mock::given(method("POST")).and(path(format!("{REPO_API}/pulls"))).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    happy_path(&server, "envs/prod/aks.tf", &fixture("aks.tf")).await;
    let gh = actuator(&server.uri(), ledger);

    let err = run(&gh, &a).await.unwrap_err();
    let ActionError::Permanent(msg) = &err else { panic!("{err:?}") };
    assert!(msg.contains("envs/prod/aks.tf") && msg.contains("key `orchestrator_version`") && msg.contains("matched 2 times (lines 33, 60)"), "{msg}");

    let comment = body_of(&server, "POST", "/repos/platform/ops/issues/42/comments").await;
    let text = comment["body"].as_str().unwrap();
    assert!(text.starts_with("**Pull request not opened**") && text.contains("matched 2 times"), "{text}");
    assert!(text.contains(&action_marker(&a.key)));
}

#[tokio::test]
async fn an_unmatched_locator_is_reported_on_the_labelled_issue_in_the_same_repository() {
    let server = MockServer::start().await;
    let a = upgrade_pr("clusters/prod.yaml", "k8sVersion");
    let issue = issue_json(&server.uri(), INFRA_REPO, 5, "open", "prod-weu: upgrade", &aks_cadence::actions::github::issue_body(&a));
    Mock::given(method("GET")).and(path(format!("{REPO_API}/issues"))).and(query_param("labels", "aks-cadence")).respond_with(ResponseTemplate::new(200).set_body_json(json!([issue]))).mount(&server).await;
    Mock::given(method("GET")).and(path(format!("{REPO_API}/issues/5/comments"))).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).mount(&server).await;
    Mock::given(method("POST")).and(path(format!("{REPO_API}/issues/5/comments"))).respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": 6 }))).expect(1).mount(&server).await;
    Mock::given(method("PUT")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    happy_path(&server, "clusters/prod.yaml", &fixture("cluster.yaml")).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    let err = run(&gh, &a).await.unwrap_err();
    assert!(matches!(&err, ActionError::Permanent(m) if m.contains("clusters/prod.yaml") && m.contains("key `k8sVersion`") && m.contains("matched 0 times")), "{err:?}");
}

#[tokio::test]
async fn an_unmatched_locator_without_any_issue_is_still_a_clear_permanent_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path(format!("{REPO_API}/issues"))).respond_with(ResponseTemplate::new(200).set_body_json(json!([]))).mount(&server).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    happy_path(&server, "clusters/prod.yaml", &fixture("cluster.yaml")).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    assert!(matches!(run(&gh, &upgrade_pr("clusters/prod.yaml", "k8sVersion")).await, Err(ActionError::Permanent(_))));
}

// ---- each endpoint's failure ----

async fn fails_with(status: u16, body: Value, on_method: &str, on_path: &str) -> ActionError {
    let server = MockServer::start().await;
    Mock::given(method(on_method)).and(path(on_path)).respond_with(ResponseTemplate::new(status).set_body_json(body)).with_priority(1).mount(&server).await;
    happy_path(&server, "infra/aks.bicep", &fixture("aks.bicep")).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    run(&gh, &upgrade_pr("infra/aks.bicep", "kubernetesVersion")).await.unwrap_err()
}

#[tokio::test]
async fn a_missing_repository_is_a_configuration_failure_naming_the_policy_repo() {
    let e = fails_with(404, json!({ "message": "Not Found" }), "GET", REPO_API).await;
    assert!(matches!(&e, ActionError::Configuration { setting, message: m } if m.contains("GET /repos/platform/infra") && setting.contains("`repo`")), "{e:?}");
}

#[tokio::test]
async fn a_failing_pull_listing_is_transient() {
    assert!(matches!(fails_with(500, json!({}), "GET", "/repos/platform/infra/pulls").await, ActionError::Transient(_)));
}

#[tokio::test]
async fn a_missing_base_branch_is_a_configuration_failure() {
    // The policy names a branch the repository does not have (or the token cannot see).
    assert!(matches!(
        fails_with(404, json!({ "message": "Not Found" }), "GET", "/repos/platform/infra/git/ref/heads/main").await,
        ActionError::Configuration { .. }
    ));
}

#[tokio::test]
async fn a_missing_file_is_permanent_and_names_the_path() {
    let e = fails_with(404, json!({ "message": "Not Found" }), "GET", "/repos/platform/infra/contents/infra/aks.bicep").await;
    assert!(matches!(&e, ActionError::Permanent(m) if m.contains("infra/aks.bicep does not exist")), "{e:?}");
}

#[tokio::test]
async fn a_forbidden_branch_creation_is_a_configuration_failure_naming_the_permissions() {
    let e = fails_with(403, json!({ "message": "Resource not accessible by integration" }), "POST", "/repos/platform/infra/git/refs").await;
    assert!(matches!(&e, ActionError::Configuration { message, setting } if message.contains("not accessible") && setting.contains("permissions")), "{e:?}");
}

#[tokio::test]
async fn a_failing_branch_reset_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(format!("{REPO_API}/git/refs"))).respond_with(ResponseTemplate::new(422).set_body_json(json!({ "message": "Reference already exists" }))).mount(&server).await;
    Mock::given(method("PATCH")).respond_with(ResponseTemplate::new(422).set_body_json(json!({ "message": "Reference cannot be updated" }))).expect(1).mount(&server).await;
    Mock::given(method("PUT")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    happy_path(&server, "infra/aks.bicep", &fixture("aks.bicep")).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    assert!(matches!(run(&gh, &upgrade_pr("infra/aks.bicep", "kubernetesVersion")).await, Err(ActionError::Permanent(_))));
}

#[tokio::test]
async fn a_concurrent_change_to_the_file_is_transient() {
    let e = fails_with(409, json!({ "message": "infra/aks.bicep does not match 3d21ec53" }), "PUT", "/repos/platform/infra/contents/infra/aks.bicep").await;
    assert!(matches!(e, ActionError::Transient(_)), "{e:?}");
}

#[tokio::test]
async fn a_rejected_pull_request_is_permanent() {
    let e = fails_with(422, json!({ "message": "Validation Failed", "errors": [{ "resource": "PullRequest", "field": "base", "code": "invalid" }] }), "POST", "/repos/platform/infra/pulls").await;
    assert!(matches!(&e, ActionError::Permanent(m) if m.contains("invalid base")), "{e:?}");
}

#[tokio::test]
async fn a_failing_pull_request_update_is_transient() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path(format!("{REPO_API}/pulls"))).respond_with(ResponseTemplate::new(200).set_body_json(json!([pr_json(7)]))).mount(&server).await;
    Mock::given(method("PATCH")).and(path(format!("{REPO_API}/pulls/7"))).respond_with(ResponseTemplate::new(502)).expect(1).mount(&server).await;
    happy_path(&server, "infra/aks.bicep", &fixture("aks.bicep")).await;
    let gh = actuator(&server.uri(), MemLedger::new());
    assert!(matches!(run(&gh, &upgrade_pr("infra/aks.bicep", "kubernetesVersion")).await, Err(ActionError::Transient(_))));
}

// ---- the edit on every fixture (pure) ----

#[test]
fn every_fixture_is_edited_in_exactly_one_place() {
    let json_param = VersionLocator::Pattern { pattern: r#""kubernetesVersion":\s*\{\s*"value":\s*"([^"]+)""#.into() };
    let cases: Vec<(&str, VersionLocator, usize)> = vec![
        ("aks.bicep", key("kubernetesVersion"), 12),
        ("prod.bicepparam", key("kubernetesVersion"), 5),
        ("aks.tf", key("kubernetes_version"), 21),
        ("prod.tfvars", key("kubernetes_version"), 4),
        ("cluster.yaml", key("kubernetesVersion"), 11),
        ("aks.parameters.json", json_param, 9),
    ];
    for (name, locator, line) in cases {
        let original = fixture(name);
        let edit = version_edit::set_version(name, &original, &locator, "1.30.7").unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((edit.previous.as_str(), edit.line), ("1.29.2", line), "{name}");
        let diff = changed_lines(&original, &edit.text);
        assert_eq!(diff.len(), 1, "{name}: {diff:?}");
        assert_eq!(diff[0].0.replace("1.29.2", "1.30.7"), diff[0].1, "{name}: only the version changes");
        assert_eq!(edit.text.len(), original.len(), "{name}");
    }
}

#[test]
fn a_key_used_twice_in_a_fixture_is_refused_with_its_lines() {
    let e = version_edit::locate("aks.tf", &fixture("aks.tf"), &key("orchestrator_version")).unwrap_err();
    assert_eq!(e, VersionEditError::MatchCount { path: "aks.tf".into(), locator: "key `orchestrator_version`".into(), count: 2, lines: vec![33, 60] });
}
