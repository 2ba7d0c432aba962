//! Exactly once, end to end, through the real `handler` binary: the Functions host's
//! invocations and direct Event Grid webhook deliveries reach the real pipeline, SQLite ledger
//! and adapters; GitHub and the Teams webhook are fakes on wiremock, mail goes to MailDev.
//!
//! The policy (`tests/fixtures/e2e/notify-all.toml`) opens an issue, sends an email and posts a
//! Teams card for every signal; the event is the real `ClusterSupportEnding` fixture. Every
//! test gets its own process, ledger, fakes and mail recipient.
//!
//! These tests FAIL when MailDev is not running: `source scripts/services.sh && start_services`
//! (or `bash scripts/test.sh`).

mod e2e_support;
mod email_support;

use std::sync::Arc;

use aks_cadence::actions::github::concern_marker;
use aks_cadence::domain::ConcernKind;
use aks_cadence::ingest::{self, Ingested};
use aks_cadence::policy::Policy;
use aks_cadence::store::sqlite::SqliteLedger;
use aks_cadence::store::{ActionState, Ledger};
use e2e_support::*;
use serde_json::json;

/// The cluster name in the fixture's topic.
const CLUSTER: &str = "{cluster}";

/// What one run of the e2e policy must leave behind: one issue, one email, one Teams card.
async fn assert_one_issue_one_email_one_card(w: &World) {
    let issues = w.github.issues();
    assert_eq!(issues.len(), 1, "exactly one issue on GitHub: {issues:#?}");
    let issue = &issues[0];
    assert!(issue.title.starts_with(CLUSTER), "the title starts with the cluster: {}", issue.title);
    assert!(issue.body.contains("<!-- aks-cadence:concern=") && issue.body.contains("#support#1.24 -->"), "the body carries the concern marker:\n{}", issue.body);
    assert!(issue.body.contains("1.24.10"), "the body gives the version:\n{}", issue.body);
    for label in ["aks-cadence", "platform"] {
        assert!(issue.labels.iter().any(|l| l == label), "label {label} in {:?}", issue.labels);
    }

    let mail = w.mail(1).await;
    assert_eq!(mail.len(), 1, "exactly one email to {}: {mail:#?}", w.recipient);
    let subject = mail[0]["subject"].as_str().unwrap_or_default();
    assert!(subject.contains(CLUSTER) && subject.contains("1.24"), "subject names cluster and target: {subject}");
    let to: Vec<&str> = mail[0]["envelope"]["to"].as_array().unwrap().iter().filter_map(|t| t["address"].as_str()).collect();
    assert_eq!(to, vec![w.recipient.as_str()], "sent to the policy's recipients only");

    let cards = w.chat.payloads().await;
    assert_eq!(cards.len(), 1, "exactly one Teams post: {cards:#?}");
    assert_eq!(cards[0]["type"], "message");
    assert_eq!(cards[0]["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
    assert!(cards[0].to_string().contains(CLUSTER), "the card names the cluster");
}

/// How many `Logs` lines, across `answers`, say an action of type `kind` was carried out.
fn done_lines(answers: &[Answer], kind: &str) -> usize {
    let prefix = format!("{kind} ");
    answers.iter().flat_map(|a| a.logs().lines().map(String::from).collect::<Vec<_>>()).filter(|l| l.starts_with(&prefix) && l.contains(" done: ")).count()
}

/// After `what`, still one of each, and GitHub saw no more than `creates` creation attempts.
async fn assert_nothing_new_after(w: &World, what: &str, creates: usize) {
    assert_eq!(w.github.issues().len(), 1, "{what}: no second issue");
    assert_eq!(w.github.create_calls().await, creates, "{what}: no further issue creation");
    assert_eq!(w.mail_count_settled(1).await, 1, "{what}: no second email");
    assert_eq!(w.chat.payloads().await.len(), 1, "{what}: no second Teams post");
}

async fn verify(w: &World) {
    w.github.assert_only_known_endpoints().await;
    w.github.server.verify().await;
    w.chat.server.verify().await;
}

#[tokio::test]
async fn one_event_invoked_three_times_at_once_opens_one_issue_sends_one_email_and_posts_one_card() {
    let w = World::new("invoke3").await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let h = w.start().await;
    let event = support_ending_event();

    let answers = concurrently(3, || h.invoke(&event)).await;
    for a in &answers {
        assert_eq!(a.status, 200, "every delivery is acknowledged: {}", a.body);
        assert!(a.json()["Outputs"].is_object(), "the invocation response shape: {}", a.body);
    }
    assert_one_issue_one_email_one_card(&w).await;
    // The marker is looked up (label listing, then search) before the issue is created.
    let calls: Vec<String> = w.github.requests().await.iter().map(|r| format!("{} {}", r.method, r.url.path())).collect();
    let create = calls.iter().position(|c| c == "POST /repos/o/r/issues").expect("an issue was created");
    assert!(calls[..create].iter().any(|c| c == "GET /repos/o/r/issues"), "listed the labelled issues first: {calls:?}");
    assert!(calls[..create].iter().any(|c| c == "GET /search/issues"), "searched for the marker first: {calls:?}");
    for kind in ["github_issue", "email", "teams"] {
        assert_eq!(done_lines(&answers, kind), 1, "one delivery carried out the {kind} action; the others found it finished:\n{answers:#?}");
    }

    // Event Grid delivers again after success (at least once): nothing new happens.
    let again = h.invoke(&event).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.logs().contains("already processed"), "the redelivery is recognised: {}", again.body);
    assert_nothing_new_after(&w, "a redelivery after completion", 1).await;
    verify(&w).await;
}

#[tokio::test]
async fn an_event_grid_array_posted_three_times_at_once_to_the_webhook_acts_once() {
    let w = World::new("webhook-eg").await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let h = w.start().await;
    let batch = json!([support_ending_event()]);

    let answers = concurrently(3, || h.webhook("application/json", &batch)).await;
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.json(), json!({"events": 1, "signals": 1, "unknown": 0, "ignored": 0}));
    }
    assert_one_issue_one_email_one_card(&w).await;

    let again = h.webhook("application/json", &batch).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_nothing_new_after(&w, "a redelivery after completion", 1).await;
    verify(&w).await;
}

#[tokio::test]
async fn a_cloudevents_batch_posted_three_times_at_once_to_the_webhook_acts_once() {
    let w = World::new("webhook-ce").await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let h = w.start().await;
    let batch = json!([support_ending_cloudevent()]);

    let answers = concurrently(3, || h.webhook("application/cloudevents-batch+json; charset=utf-8", &batch)).await;
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.json(), json!({"events": 1, "signals": 1, "unknown": 0, "ignored": 0}));
    }
    assert_one_issue_one_email_one_card(&w).await;

    let again = h.webhook("application/cloudevents-batch+json; charset=utf-8", &batch).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_nothing_new_after(&w, "a redelivery after completion", 1).await;
    verify(&w).await;
}

#[tokio::test]
async fn a_github_outage_fails_the_invocation_and_the_redelivery_opens_the_issue_without_repeating_mail_or_chat() {
    let w = World::new("outage").await;
    // 502 for the first attempt and both in-invocation retries (the executor's policy: 3
    // attempts), so the invocation has to give up; then GitHub is back.
    w.github.fail_creates(502, 3).await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let h = w.start().await;
    let event = support_ending_event();

    let first = h.invoke(&event).await;
    assert_eq!(first.status, 500, "a transient failure fails the invocation so the host reports it and Event Grid delivers again: {}", first.body);
    let logs = first.logs();
    assert!(logs.contains("retryable failure"), "{logs}");
    assert!(logs.contains("HTTP 502"), "the reason is in the invocation's Logs: {logs}");
    assert!(w.github.issues().is_empty());
    assert_eq!(w.mail(1).await.len(), 1, "the email went out in the failed invocation");
    assert_eq!(w.chat.payloads().await.len(), 1, "the Teams card went out in the failed invocation");

    let second = h.invoke(&event).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let logs = second.logs();
    assert!(logs.contains("already finished"), "the finished email and card are skipped: {logs}");
    assert_eq!(w.github.issues().len(), 1, "the redelivery opened the issue");
    assert_eq!(w.github.create_calls().await, 4, "three failed attempts, one success");
    assert_eq!(w.mail_count_settled(1).await, 1, "the email is not repeated");
    assert_eq!(w.chat.payloads().await.len(), 1, "the card is not repeated");

    let third = h.invoke(&event).await;
    assert_eq!(third.status, 200);
    assert!(third.logs().contains("already processed"), "{}", third.body);
    assert_eq!(w.github.create_calls().await, 4);
    verify(&w).await;
}

#[tokio::test]
async fn a_single_github_502_is_retried_within_the_invocation() {
    let w = World::new("blip").await;
    w.github.fail_creates(502, 1).await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let h = w.start().await;

    let a = h.invoke(&support_ending_event()).await;
    assert_eq!(a.status, 200, "one 502 is absorbed by the in-invocation retry: {}", a.body);
    assert_eq!(w.github.create_calls().await, 2);
    assert_one_issue_one_email_one_card(&w).await;
    verify(&w).await;
}

#[tokio::test]
async fn a_github_outage_through_the_webhook_answers_503_so_event_grid_retries() {
    let w = World::new("outage-webhook").await;
    w.github.fail_creates(502, 3).await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let h = w.start().await;
    let batch = json!([support_ending_event()]);

    let first = h.webhook("application/json", &batch).await;
    assert_eq!(first.status, 503, "{}", first.body);
    assert_eq!(first.json()["error"]["code"], "retry_later");
    assert!(!first.body.contains("502"), "details stay in the logs, not in the public answer: {}", first.body);

    let second = h.webhook("application/json", &batch).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_one_issue_one_email_one_card(&w).await;
    verify(&w).await;
}

/// The concern the fixture event is about under the e2e policy, computed by the library's own
/// ingest and planner (what the handler does), and its hidden issue marker.
fn support_concern_marker(policy: &std::path::Path) -> (String, String) {
    let policy = Policy::load(policy).expect("valid policy").expect("policy file exists");
    let ingested = ingest::ingest_value(&support_ending_event()).expect("the fixture is an event");
    let Some(Ingested::Signals { signals, .. }) = ingested.into_iter().next() else { panic!("the fixture becomes a signal") };
    let concerns = aks_cadence::plan::concerns(&signals[0], &policy);
    let concern = concerns.iter().find(|c| c.kind == ConcernKind::Support).expect("a support concern");
    (concern.key(), concern_marker(concern))
}

#[tokio::test]
async fn an_issue_opened_just_before_a_crash_is_found_by_its_marker_and_not_opened_again() {
    let w = World::new("crash").await;
    let (concern_key, marker) = support_concern_marker(&w.policy);
    assert!(marker.ends_with("#support#1.24 -->"), "{marker}");
    // The earlier attempt created the issue, then the process died before the ledger recorded
    // it: GitHub has the issue, the ledger (a fresh file) knows nothing.
    let number = w.github.seed(&format!("{CLUSTER}: Kubernetes 1.24 leaves support"), &format!("Opened by an attempt that crashed.\n\n{marker}\n"), &["aks-cadence", "platform"]);
    w.github.expect_creates(0).await;
    w.chat.expect_posts(1).await;
    let mut h = w.start().await;

    let a = h.invoke(&support_ending_event()).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let issues = w.github.issues();
    assert_eq!(issues.len(), 1, "no second issue: {issues:#?}");
    assert!(issues[0].body.contains(&marker) && issues[0].body.contains("1.24.10"), "the found issue is refreshed with the facts, marker kept:\n{}", issues[0].body);
    let url = format!("https://github.example/{REPO}/issues/{number}");
    assert!(a.logs().contains(&format!("done: {url}")), "the action is done with the existing issue: {}", a.body);
    verify(&w).await;

    h.kill();
    let ledger = SqliteLedger::open(&w.db).unwrap();
    assert_eq!(ledger.get_ref(&concern_key, &format!("github-issue:{REPO}")).await.unwrap().as_deref(), Some(number.to_string().as_str()), "the issue found is recorded for next time");
}

#[tokio::test]
async fn after_a_restart_on_the_same_ledger_redeliveries_repeat_nothing() {
    let w = World::new("restart").await;
    w.github.fail_creates(502, 3).await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let event = support_ending_event();

    // Run 1: mail and chat go out, GitHub is down; the process is then killed.
    let mut h = w.start().await;
    assert_eq!(h.invoke(&event).await.status, 500);
    assert_eq!(w.mail(1).await.len(), 1);
    h.kill();

    // Run 2, same ledger file: the finished email and card are remembered, the issue is opened.
    let mut h = w.start().await;
    let a = h.invoke(&event).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_one_issue_one_email_one_card(&w).await;
    // The processed mark is committed within 10 ms of the answer (`MARK_WAITS_AT_MOST`).
    let id = event["id"].as_str().unwrap();
    wait_for_the_mark(&w.db, id).await;
    h.kill();

    // Run 3: the event itself is remembered.
    let h = w.start().await;
    let a = h.invoke(&event).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.logs().contains("already processed"), "{}", a.body);
    assert_nothing_new_after(&w, "a redelivery after two restarts", 4).await;
    verify(&w).await;
    drop(h);

    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(&w.db).unwrap());
    let actions = ledger.list_actions().await.unwrap();
    assert_eq!(actions.len(), 3, "{actions:#?}");
    assert!(actions.iter().all(|(_, s)| matches!(s, ActionState::Done { .. })), "{actions:#?}");
    let id = support_ending_event()["id"].as_str().unwrap().to_string();
    assert!(ledger.event_processed(&id).await.unwrap());
}

/// Waits (up to 5 s) until `event_id`'s processed mark is in the ledger file, as another
/// process reads it.
async fn wait_for_the_mark(db: &std::path::Path, event_id: &str) {
    for _ in 0..500 {
        let conn = rusqlite::Connection::open(db).unwrap();
        if conn.query_row("SELECT count(*) FROM events WHERE event_id = ?1", [event_id], |r| r.get::<_, i64>(0)).unwrap() == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the processed mark of {event_id} was not committed within 5 s of the answer");
}

/// The answer does not wait for the processed mark's commit, so a crash just after it can lose
/// the mark (and only the mark: every action was recorded before the answer). Such an event
/// delivered again is planned again, finds every action finished, and repeats nothing.
#[tokio::test]
async fn a_redelivery_whose_processed_mark_a_crash_lost_is_planned_again_and_repeats_nothing() {
    let w = World::new("lostmark").await;
    w.github.expect_creates(1).await;
    w.chat.expect_posts(1).await;
    let event = support_ending_event();
    let id = event["id"].as_str().unwrap().to_string();

    let mut h = w.start().await;
    let a = h.invoke(&event).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_one_issue_one_email_one_card(&w).await;
    wait_for_the_mark(&w.db, &id).await;
    h.kill();
    // The crash came between the answer and the mark's commit: the file has no mark.
    let conn = rusqlite::Connection::open(&w.db).unwrap();
    assert_eq!(conn.execute("DELETE FROM events WHERE event_id = ?1", [&id]).unwrap(), 1);
    drop(conn);

    let h = w.start().await;
    let again = h.invoke(&event).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(!again.logs().contains("already processed"), "without its mark the event is planned again: {}", again.body);
    for kind in ["github_issue", "email", "teams"] {
        assert_eq!(done_lines(std::slice::from_ref(&again), kind), 0, "the {kind} action is not carried out again:\n{}", again.body);
    }
    assert_nothing_new_after(&w, "a redelivery whose mark was lost", 1).await;
    // And it is marked now: the next redelivery is recognised.
    let third = h.invoke(&event).await;
    assert!(third.logs().contains("already processed"), "{}", third.body);
    verify(&w).await;
}

// ---------------------------------------------------------------- canary secrets

#[tokio::test]
async fn canary_secrets_reach_only_the_authorization_header_the_smtp_login_and_the_webhook_url() {
    const SMTP_USER: &str = "cadence-mailer";
    const SMTP_PASSWORD: &str = "smtpCANARY-pw-7c1e0a9f";
    let chat_path = "chatCANARYpath0a1b2c3d4e5f";
    let chat_sig = "chatCANARYsig9f8e7d6c";
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);

    // MailDev runs without AUTH, so the password goes to a scripted SMTP server that takes a
    // login (plain text is allowed to loopback only).
    let smtp = email_support::ScriptedSmtp::start(email_support::SmtpScript::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let recipient = unique_recipient("canary");
    let policy = policy_for(dir.path(), &recipient);
    let db = dir.path().join("cadence.db");
    let github = FakeGithub::start().await;
    let chat = FakeChat::start(chat_path, chat_sig).await;
    // Error paths carry the most text: GitHub fails the first invocation, and the webhook fails
    // it too with a body that echoes the URL it was called on.
    github.fail_creates(502, 3).await;
    github.expect_creates(1).await;
    chat.fail_posts(500, 3).await;
    chat.expect_posts(1).await;
    let env = Env::default()
        .set("CADENCE_DRY_RUN", "false")
        .set("CADENCE_STATE", format!("sqlite:{}", db.display()))
        .set("CADENCE_CONFIG", policy.display().to_string())
        .set("GITHUB_TOKEN", GITHUB_TOKEN)
        .set("GITHUB_API_URL", github.uri())
        .set("SMTP_URL", smtp.url())
        .set("SMTP_USERNAME", SMTP_USER)
        .set("SMTP_PASSWORD", SMTP_PASSWORD)
        .set("SMTP_FROM", "aks-cadence <cadence@e2e.example>")
        .set(TEAMS_SETTING, chat.url())
        // The host's default path: mail and chat wait in the ledger for the digest timer, so the
        // queued actions in the ledger file are searched too.
        .set("CADENCE_DIGEST_QUIET_SECONDS", "1")
        // Every crate, every level.
        .set("RUST_LOG", "trace");
    let h = Handler::start(dir.path(), &env).await;

    let event = support_ending_event();
    let mut answers = vec![h.invoke(&event).await];
    assert_eq!(answers[0].status, 500, "{}", answers[0].body);
    answers.push(h.invoke(&event).await);
    assert_eq!(answers[1].status, 200, "{}", answers[1].body);
    answers.push(h.webhook("application/json", &json!([event])).await);
    answers.push(h.webhook("application/json", &json!("not an event")).await);
    let malformed = http().post(h.url("/api/eventgrid?code=fnkey")).body("{oops").send().await.unwrap();
    answers.push(Answer::from(malformed).await);
    assert_eq!(answers.last().unwrap().status, 400);
    assert_eq!(github.issues().len(), 1);
    assert!(ledger_bytes(&db).contains("teams"), "the Teams card waits in the ledger's digest queue");
    // The digest timer: the webhook fails three times (the invocation fails, the queue keeps
    // the card), then the next tick posts it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    answers.push(h.digest().await);
    assert_eq!(answers.last().unwrap().status, 500, "{}", answers.last().unwrap().body);
    answers.push(h.digest().await);
    assert_eq!(answers.last().unwrap().status, 200, "{}", answers.last().unwrap().body);
    verify_fakes(&github, &chat).await;

    // Where the secrets must be used.
    let gh = github.requests().await;
    assert!(!gh.is_empty());
    for r in &gh {
        let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(auth.contains(GITHUB_TOKEN), "every GitHub call is authenticated with the token: {auth:?}");
    }
    let posts = chat.requests().await;
    assert_eq!(posts.len(), 4, "three failed posts, one accepted");
    for r in &posts {
        assert!(r.url.path().contains(chat_path) && r.url.query().is_some_and(|q| q.contains(chat_sig)), "the webhook URL is the one called");
    }
    let auth_line = smtp.commands().into_iter().find(|c| c.to_ascii_uppercase().starts_with("AUTH")).expect("the handler logged in to SMTP");
    let decoded = base64::engine::general_purpose::STANDARD.decode(auth_line.rsplit(' ').next().unwrap()).unwrap();
    assert_eq!(decoded, format!("\0{SMTP_USER}\0{SMTP_PASSWORD}").into_bytes(), "the SMTP login carries the password");
    // The login as it travels (base64 of user and password) must not show up elsewhere either.
    let login = auth_line.rsplit(' ').next().unwrap().to_string();
    let canaries = [GITHUB_TOKEN, SMTP_PASSWORD, chat_path, chat_sig, login.as_str()];

    // Everywhere else they must not appear (nor in base64).
    let mut places: Vec<(String, String)> = vec![("the handler's stdout/stderr (TRACE logs)".into(), h.output())];
    for (i, a) in answers.iter().enumerate() {
        places.push((format!("answer {i} body"), a.body.clone()));
        places.push((format!("answer {i} headers"), format!("{:?}", a.headers)));
    }
    for r in &gh {
        let headers: Vec<String> = r.headers.iter().filter(|(k, _)| k.as_str() != "authorization").map(|(k, v)| format!("{k}: {v:?}")).collect();
        places.push((format!("GitHub {} {} (URL, body, other headers)", r.method, r.url.path()), format!("{}\n{}\n{}", r.url, String::from_utf8_lossy(&r.body), headers.join("\n"))));
    }
    for issue in github.issues() {
        places.push((format!("issue #{} title and body", issue.number), format!("{}\n{}", issue.title, issue.body)));
    }
    for r in &posts {
        let headers: Vec<String> = r.headers.iter().map(|(k, v)| format!("{k}: {v:?}")).collect();
        places.push(("Teams payload and headers".into(), format!("{}\n{}", String::from_utf8_lossy(&r.body), headers.join("\n"))));
    }
    let smtp_wire: Vec<String> = smtp.commands().into_iter().filter(|c| !c.to_ascii_uppercase().starts_with("AUTH")).collect();
    places.push(("SMTP commands other than AUTH".into(), smtp_wire.join("\n")));
    let email = smtp.data();
    assert!(email.contains(&recipient), "the email was captured");
    places.push(("the email".into(), email));
    places.push(("the ledger file".into(), ledger_bytes(&db)));

    for (place, text) in &places {
        for c in canaries {
            assert!(!text.contains(c), "secret {c} leaked into {place}:\n{text}");
            assert!(!text.contains(&b64(c)), "secret {c} leaked (base64) into {place}");
        }
    }
    assert!(h.output().contains("\"level\":\"TRACE\""), "TRACE logging was on, so the search covered every log line");
    assert!(!h.json_logs().is_empty(), "every stdout line is a JSON log line, TRACE included");
}

async fn verify_fakes(github: &FakeGithub, chat: &FakeChat) {
    github.assert_only_known_endpoints().await;
    github.server.verify().await;
    chat.server.verify().await;
}
