//! A newer target on GitHub (wiremock on 127.0.0.1), with the actions the planner really plans
//! for it: a newer patch edits the concern's one issue (one PATCH, one comment, no second
//! issue), a newer minor closes the older concern's issue as not planned with a comment that
//! links the newer one — and a replay after a crash between acting and recording repeats
//! nothing, found by the markers on GitHub.

mod github_common;

use serde_json::json;
use wiremock::matchers::{body_partial_json, body_string_contains, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use aks_cadence::action::{Action, ActionKind, Stage};
use aks_cadence::actions::github::{action_marker, issue_body};
use aks_cadence::actions::render;
use aks_cadence::domain::{ClusterFacts, Concern, ConcernKind, OfferedVersion, Origin, Signal, SignalKind};
use aks_cadence::plan::{self, Head, PlanFacts};
use aks_cadence::policy::Policy;
use github_common::*;

const ISSUES: &str = "/repos/platform/ops/issues";
const ISSUE_42: &str = "/repos/platform/ops/issues/42";
const COMMENTS_42: &str = "/repos/platform/ops/issues/42/comments";

fn policy() -> Policy {
    Policy::parse("[[rule]]\nname = \"ops\"\n[rule.github_issue]\nrepo = \"platform/ops\"\n", "t.toml").unwrap()
}

fn swept(current: &str, offered: &[&str]) -> Signal {
    Signal {
        cluster: cluster(),
        facts: ClusterFacts { kubernetes_version: Some(current.into()), location: Some("westeurope".into()), ..Default::default() },
        kind: SignalKind::UpgradesOffered {
            current: current.into(),
            offered: offered.iter().map(|v| OfferedVersion { version: (*v).into(), is_preview: false }).collect(),
        },
        observed_at: ts("2026-02-02T06:00:00Z"),
        origin: Origin::Sweep { run_id: "sweep-1".into() },
    }
}

fn newest(version: &str) -> Signal {
    Signal {
        cluster: cluster(),
        facts: ClusterFacts::default(),
        kind: SignalKind::NewKubernetesVersion { latest_supported: Some(version.into()), latest_stable: None, lowest_minor: None, latest_preview: None },
        observed_at: ts("2026-02-02T06:00:00Z"),
        origin: Origin::EventGrid { event_id: format!("e-{version}"), event_type: "Microsoft.ContainerService.NewKubernetesVersionAvailable".into() },
    }
}

/// Plans `signal` with `head` as its lineage's head (`None`: the lineage is new).
fn planned(signal: &Signal, head: Option<Head>) -> Vec<Action> {
    let policy = policy();
    let mut facts = PlanFacts::default();
    for c in plan::concerns(signal, &policy) {
        facts.first_seen.insert(c.key(), ts("2026-02-01T06:00:00Z"));
    }
    if let Some(head) = head {
        let key = plan::lineages(signal, &policy).into_iter().next().expect("the signal has a lineage");
        facts.heads.insert(key, head);
    }
    plan::plan_with_heads(signal, &policy, &facts, ts("2026-02-02T06:00:00Z")).actions
}

fn one(actions: &[Action], stage: Stage, name: &str) -> Action {
    let hits: Vec<&Action> = actions.iter().filter(|a| a.stage == stage && a.kind.name() == name).collect();
    assert_eq!(hits.len(), 1, "one {stage:?} {name} in {actions:#?}");
    hits[0].clone()
}

fn head(target: &str, version: &str, informed: bool) -> Head {
    Head { target: target.into(), version: Some(version.into()), informed, previous: None }
}

async fn mount_get(server: &MockServer, p: &str, body: serde_json::Value) {
    Mock::given(method("GET")).and(path(p)).respond_with(ResponseTemplate::new(200).set_body_json(body)).mount(server).await;
}

async fn no_issue_created(server: &MockServer) {
    Mock::given(method("POST")).and(path(ISSUES)).respond_with(ResponseTemplate::new(500)).expect(0).named("no second issue").mount(server).await;
}

#[tokio::test]
async fn a_newer_patch_edits_the_one_issue_with_a_superseded_comment_and_a_replay_repeats_nothing() {
    let notice = one(&planned(&swept("1.30.2", &["1.30.4"]), None), Stage::Notice, "github_issue");
    let update = one(&planned(&swept("1.30.2", &["1.30.4", "1.30.7"]), Some(head("patch:1.30.2", "1.30.4", true))), Stage::Update, "github_issue");
    assert_eq!(notice.concern, update.concern, "the same concern, so the same issue");

    let server = MockServer::start().await;
    let ledger = MemLedger::new();
    ledger.set(&notice.concern.key(), "github-issue:platform/ops", "42");
    mount_get(&server, ISSUE_42, issue_json(&server.uri(), ISSUE_REPO, 42, "open", &render::title(&notice), &issue_body(&notice))).await;
    mount_get(&server, COMMENTS_42, json!([])).await;
    no_issue_created(&server).await;
    Mock::given(method("POST"))
        .and(path(COMMENTS_42))
        .and(body_string_contains("superseded 1.30.4 → 1.30.7"))
        .and(body_string_contains(action_marker(&update.key).as_str()))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .expect(1)
        .named("one superseded comment")
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(ISSUE_42))
        .and(body_string_contains("1.30.2 → 1.30.7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .named("exactly one edit: the title and description move to 1.30.7")
        .mount(&server)
        .await;
    let gh = actuator(&server.uri(), ledger.clone());
    assert!(run(&gh, &update).await.unwrap().ends_with("/issues/42"));
    let edit = body_of(&server, "PATCH", ISSUE_42).await;
    assert_eq!(edit["title"], render::title(&update));
    assert!(!edit["title"].as_str().unwrap().contains("1.30.4"), "{edit}");
    assert!(edit["body"].as_str().unwrap().contains(&aks_cadence::actions::github::concern_marker(&notice.concern)), "the marker stays");
    server.verify().await;

    // A crash before the outcome was recorded: the action comes again. GitHub already shows
    // the edit and the comment, so nothing is sent twice.
    server.reset().await;
    mount_get(&server, ISSUE_42, issue_json(&server.uri(), ISSUE_REPO, 42, "open", &render::title(&update), &issue_body(&update))).await;
    mount_get(&server, COMMENTS_42, json!([{ "body": format!("done\n{}\n", action_marker(&update.key)) }])).await;
    no_issue_created(&server).await;
    Mock::given(method("POST")).and(path(COMMENTS_42)).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    Mock::given(method("PATCH")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    assert!(run(&gh, &update).await.is_ok());
}

#[tokio::test]
async fn a_newer_minor_closes_the_older_issue_as_not_planned_with_a_comment_linking_the_newer_one() {
    let actions = planned(&newest("1.31.2"), Some(head("1.30", "1.30.7", false)));
    let close = one(&actions, Stage::Resolve, "github_close");
    let new_notice = one(&actions, Stage::Notice, "github_issue");
    assert_eq!(close.concern, Concern::new(cluster(), ConcernKind::KubernetesUpgrade, "1.30"));
    assert_eq!(close.superseded_by.as_ref(), Some(&new_notice.concern));
    let index = |a: &Action| actions.iter().position(|b| b.key == a.key).unwrap();
    assert!(index(&new_notice) < index(&close), "the newer issue is opened first, so the close can link it");

    let server = MockServer::start().await;
    let ledger = MemLedger::new();
    ledger.set(&close.concern.key(), "github-issue:platform/ops", "42");
    ledger.set(&new_notice.concern.key(), "github-issue", "platform/ops#43");
    mount_get(&server, ISSUE_42, issue_json(&server.uri(), ISSUE_REPO, 42, "open", "prod-weu: Kubernetes 1.30.7 is now the newest version offered", "x")).await;
    mount_get(&server, COMMENTS_42, json!([])).await;
    no_issue_created(&server).await;
    Mock::given(method("POST"))
        .and(path(COMMENTS_42))
        .and(body_string_contains("**Superseded**"))
        .and(body_string_contains("superseded 1.30.7 → 1.31.2"))
        .and(body_string_contains("Continued in #43."))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 1})))
        .expect(1)
        .named("one closing comment that links #43")
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(ISSUE_42))
        .and(body_partial_json(json!({"state": "closed", "state_reason": "not_planned"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .named("closed as not planned")
        .mount(&server)
        .await;
    let gh = actuator(&server.uri(), ledger.clone());
    assert!(run(&gh, &close).await.is_ok());
    server.verify().await;

    // Replayed after a crash: the issue is closed already, nothing more happens.
    server.reset().await;
    mount_get(&server, ISSUE_42, issue_json(&server.uri(), ISSUE_REPO, 42, "closed", "x", "x")).await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    Mock::given(method("PATCH")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    assert!(run(&gh, &close).await.unwrap().contains("already closed"));
}

#[tokio::test]
async fn a_superseded_close_finds_the_newer_issue_by_its_marker_when_the_ledger_has_no_ref() {
    let actions = planned(&newest("1.31.2"), Some(head("1.30", "1.30.7", false)));
    let close = one(&actions, Stage::Resolve, "github_close");
    let new_notice = one(&actions, Stage::Notice, "github_issue");

    let server = MockServer::start().await;
    let ledger = MemLedger::new();
    ledger.set(&close.concern.key(), "github-issue:platform/ops", "42");
    mount_get(&server, ISSUE_42, issue_json(&server.uri(), ISSUE_REPO, 42, "open", "t", "x")).await;
    mount_get(&server, COMMENTS_42, json!([])).await;
    // The newer concern's issue, opened by an attempt that crashed before recording it.
    Mock::given(method("GET"))
        .and(path(ISSUES))
        .and(query_param("labels", "aks-cadence"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([issue_json(&server.uri(), ISSUE_REPO, 44, "open", "n", &issue_body(&new_notice))])))
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path(COMMENTS_42)).and(body_string_contains("Continued in #44.")).respond_with(ResponseTemplate::new(201).set_body_json(json!({}))).expect(1).mount(&server).await;
    Mock::given(method("PATCH")).and(path(ISSUE_42)).respond_with(ResponseTemplate::new(200).set_body_json(json!({}))).expect(1).mount(&server).await;
    assert!(run(&actuator(&server.uri(), ledger), &close).await.is_ok());
    assert!(matches!(close.kind, ActionKind::GithubClose { .. }));
}
