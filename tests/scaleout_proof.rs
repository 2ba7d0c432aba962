//! The scale-out proof (issue 5): several real `handler` processes share ONE Azure Blob Storage
//! container (Azurite) as their ledger, with a policy that opens a GitHub issue for every
//! cluster, and a fake GitHub that behaves like GitHub for the look-ups the adapter makes before
//! creating (see `scaleout_support`). Every event is delivered three times, concurrently, over
//! the processes, and redelivered on any non-2xx as Event Grid does. Then the fake GitHub must
//! have seen exactly one creation per cluster, and the ledger one completed GitHub action each.
//!
//! - `four_processes_on_one_blob_ledger_open_each_of_200_issues_exactly_once`: the proof, with
//!   the production GitHub budget (80 a minute per process), so throttling and redelivery happen;
//! - `a_process_killed_after_creating_an_issue_but_before_recording_it_loses_nothing`: one
//!   process is SIGKILLed between "issue created" and "ledger written"; its claims expire
//!   (`CADENCE_CLAIM_LEASE_SECONDS=5`) and the survivors finish its work without a duplicate;
//! - `without_a_shared_ledger_the_same_deliveries_do_open_duplicate_issues`: the control — the
//!   same harness with one container per process does create duplicates, so the proof above
//!   would notice a ledger that failed to arbitrate.
//!
//! Needs Azurite (`CADENCE_TEST_AZURITE_BLOB`, started by `scripts/test.sh`); fails without it.

mod ledger_blob_support;
mod scaleout_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aks_cadence::action::ActionKey;
use aks_cadence::store::blob::BlobLedger;
use aks_cadence::store::{ActionState, Ledger};

use ledger_blob_support::{HandlerFleet, delete_container, fresh_ledger};
use scaleout_support::{
    DeliveryReport, FakeGithub, FakeOptions, POLICY_LABEL, REPO, Redelivery, TOKEN, Targets, deliver_all, expected_concern,
    new_version_events, schedule,
};

const PROCESSES: usize = 4;
const COPIES: usize = 3;
const IN_FLIGHT: usize = 32;
/// No run may take longer than this (it fails instead of hanging CI).
const DEADLINE: Duration = Duration::from_secs(150);

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_handler"))
}

fn policy() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/scaleout/cadence.toml").to_string()
}

/// The action key of cluster `i`'s issue (the policy's only action).
fn issue_action(i: usize) -> ActionKey {
    ActionKey::from_raw(format!("{}/github-issue:{REPO}/notice", expected_concern(i)))
}

/// The environment of handler process `i`: live (not dry-run), the scale-out policy, the fake
/// GitHub at its own prefix, the given ledger, and `extra`.
fn env_for(fake: &FakeGithub, state: &str, i: usize, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("CADENCE_STATE".to_string(), format!("blob:{state}")),
        ("CADENCE_DRY_RUN".to_string(), "false".to_string()),
        ("CADENCE_CONFIG".to_string(), policy()),
        ("CADENCE_LOG_FORMAT".to_string(), "text".to_string()),
        ("RUST_LOG".to_string(), "warn".to_string()),
        ("GITHUB_TOKEN".to_string(), TOKEN.to_string()),
        ("GITHUB_API_URL".to_string(), fake.api_url(i)),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

async fn start_fleet(env_of: impl Fn(usize) -> Vec<(String, String)> + Send + 'static) -> HandlerFleet {
    tokio::task::spawn_blocking(move || HandlerFleet::start_each(binary(), PROCESSES, env_of)).await.expect("fleet starts")
}

async fn deliver(targets: Arc<Targets>, events: usize) -> (DeliveryReport, Duration) {
    let started = Instant::now();
    let deliveries = schedule(&new_version_events(events), COPIES);
    let report = tokio::time::timeout(DEADLINE, deliver_all(targets, deliveries, IN_FLIGHT, Redelivery::default()))
        .await
        .unwrap_or_else(|_| panic!("the deliveries did not finish within {DEADLINE:?}"));
    (report, started.elapsed())
}

/// Checks the proof's two sides and returns the number of completed GitHub actions:
/// - GitHub: exactly one creation per cluster, none twice, nothing unexpected asked;
/// - the ledger: each cluster's issue action is `Done` with that very issue's URL, and no
///   action is left claimed or failed.
async fn assert_exactly_once(fake: &FakeGithub, ledger: &BlobLedger, events: usize, deliveries: &DeliveryReport) -> usize {
    assert!(deliveries.gave_up.is_empty(), "deliveries never answered 2xx: {:?}", deliveries.gave_up);
    assert_eq!(deliveries.delivered, events * COPIES, "every delivery was finally answered 2xx");
    let counts = fake.counts();
    assert_eq!(counts.unauthorized, 0, "every GitHub call carried the token");
    assert!(counts.unexpected.is_empty(), "calls the fake GitHub does not serve: {:?}", counts.unexpected);

    let per_concern = fake.creations_per_concern();
    let twice: Vec<(&String, &usize)> = per_concern.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "issues created more than once: {twice:?}");
    let expected: BTreeSet<String> = (0..events).map(expected_concern).collect();
    let created: BTreeSet<String> = per_concern.keys().cloned().collect();
    assert_eq!(created, expected, "one issue per cluster, for exactly the clusters of the events");
    assert_eq!(counts.creations, events, "GitHub saw exactly one issue creation per cluster");

    let issues = fake.issues();
    let url_of: BTreeMap<String, String> = issues.iter().filter_map(|i| Some((i.concern.clone()?, i.html_url()))).collect();
    for issue in &issues {
        assert!(issue.labels.iter().any(|l| l == "aks-cadence") && issue.labels.iter().any(|l| l == POLICY_LABEL), "labels: {:?}", issue.labels);
    }

    let actions = ledger.list_actions().await.expect("the ledger lists its actions");
    let not_done: Vec<&(ActionKey, ActionState)> = actions.iter().filter(|(_, s)| !matches!(s, ActionState::Done { .. })).collect();
    assert!(not_done.is_empty(), "actions left claimed or failed: {not_done:?}");
    let github_done: BTreeMap<&str, &str> = actions
        .iter()
        .filter(|(k, _)| k.as_str().contains("/github-issue:"))
        .filter_map(|(k, s)| match s {
            ActionState::Done { detail, .. } => Some((k.as_str(), detail.as_str())),
            _ => None,
        })
        .collect();
    for i in 0..events {
        let key = issue_action(i);
        let detail = github_done.get(key.as_str()).unwrap_or_else(|| panic!("no completed GitHub action for cluster {i} ({key})"));
        assert_eq!(Some(*detail), url_of.get(&expected_concern(i)).map(String::as_str), "the ledger records the issue GitHub holds for cluster {i}");
    }
    assert_eq!(github_done.len(), events, "the ledger shows one completed GitHub concern per cluster");
    github_done.len()
}

/// How many GitHub actions the ledger shows as done.
async fn completed_github_actions(ledger: &BlobLedger) -> usize {
    let actions = ledger.list_actions().await.expect("the ledger lists its actions");
    actions.iter().filter(|(k, s)| k.as_str().contains("/github-issue:") && matches!(s, ActionState::Done { .. })).count()
}

/// Prints the run's figures (before the assertions, so a failing run shows them too).
async fn print_figures(what: &str, fake: &FakeGithub, ledger: &BlobLedger, d: &DeliveryReport, wall: Duration) {
    let done = completed_github_actions(ledger).await;
    let c = fake.counts();
    println!(
        "{what}: {} issue creations (per process {:?}), {done} completed GitHub concerns in the ledger; \
         {} deliveries ({} first deliveries + {} redeliveries), {} non-2xx answers {:?}, {} without an answer, \
         at most {} attempts for one delivery; GitHub calls: {} label listings, {} searches, {} reads by number, {} edits; wall {:.1} s",
        c.creations,
        c.creations_by_process,
        d.attempts,
        d.delivered + d.gave_up.len(),
        d.attempts - d.delivered - d.gave_up.len(),
        d.non_2xx,
        d.non_2xx_reasons,
        d.no_answer,
        d.most_attempts,
        c.listings,
        c.searches,
        c.reads_by_number,
        c.edits,
        wall.as_secs_f64(),
    );
}

/// 200 clusters, each event delivered 3 times at once to 3 of the 4 processes, 32 in flight,
/// with the production GitHub budget (≤ 80 creations a minute per process: 200 over 4 processes
/// exceeds the burst of 20 each, so actions wait for the budget in place, or — when the wait
/// would exceed 5 s — are throttled, fail their invocation and are delivered again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_on_one_blob_ledger_open_each_of_200_issues_exactly_once() {
    const EVENTS: usize = 200;
    let (ledger, url) = fresh_ledger("scaleout").await;
    let fake = Arc::new(FakeGithub::start(FakeOptions::default()).await);
    let env_fake = Arc::clone(&fake);
    let state = url.clone();
    let mut fleet = start_fleet(move |i| env_for(&env_fake, &state, i, &[])).await;
    let targets = Targets::new((0..PROCESSES).map(|i| fleet.base_url(i)).collect());

    let (report, wall) = deliver(targets, EVENTS).await;
    fleet.assert_running(&[]);
    // With 200 creations over 4 processes the budget alone takes (200 − 4 × 20) / (4 × 1/s) = 30 s.
    print_figures("scale-out proof, 4 processes on one container, GitHub budget 80/min per process", &fake, &ledger, &report, wall).await;
    let done = assert_exactly_once(&fake, &ledger, EVENTS, &report).await;
    assert_eq!(done, EVENTS);
    let c = fake.counts();
    assert_eq!((c.reads_by_number, c.edits), (0, 0), "no action ran again after its issue existed (the ledger let one execution through per key)");
    drop(fleet);
    delete_container(&url).await;
}

/// Process 0 is killed (SIGKILL) the moment GitHub has created its 10th issue and before the
/// answer reaches it: the issue exists, the ledger still shows process 0's claim. Deliveries
/// it was handling fail and are redelivered to the others; once the claim's lease ends
/// (10 s here, `CADENCE_CLAIM_LEASE_SECONDS`), a survivor takes the key over, finds the issue by
/// its marker among the open labelled issues, records it, and creates nothing. Nothing is lost,
/// nothing is doubled.
///
/// A lease must outlast the slowest action: 10 s leaves a wide margin over an action here (well
/// under a second, even on a loaded machine), and the budget is raised
/// (`GITHUB_CONTENT_PER_MINUTE`) so no action waits for it in place (up to 5 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_after_creating_an_issue_but_before_recording_it_loses_nothing() {
    const EVENTS: usize = 200;
    const LEASE_SECONDS: &str = "10";
    let (ledger, url) = fresh_ledger("scaleout-crash").await;
    let fake = Arc::new(FakeGithub::start(FakeOptions::default()).await);
    let held = fake.hold_creation(0, 10);
    let env_fake = Arc::clone(&fake);
    let extra = [("CADENCE_CLAIM_LEASE_SECONDS", LEASE_SECONDS), ("GITHUB_CONTENT_PER_MINUTE", "4000"), ("GITHUB_CONTENT_PER_HOUR", "20000")];
    let state = url.clone();
    let mut fleet = start_fleet(move |i| env_for(&env_fake, &state, i, &extra)).await;
    let victim_owner_suffix = format!(":{}", fleet.pid(0));
    let targets = Targets::new((0..PROCESSES).map(|i| fleet.base_url(i)).collect());

    let run = tokio::spawn(deliver(Arc::clone(&targets), EVENTS));
    let issue = tokio::time::timeout(Duration::from_secs(60), held).await.expect("process 0 creates 10 issues").expect("hold fires");
    fleet.kill(0);
    targets.mark_dead(0);
    let killed_at = jiff::Timestamp::now();
    let concern = issue.concern.clone().expect("the held issue carries its marker");
    let key = ActionKey::from_raw(format!("{concern}/github-issue:{REPO}/notice"));
    match ledger.action_state(&key).await.expect("ledger readable") {
        Some(ActionState::Claimed { owner, .. }) => {
            assert!(owner.ends_with(&victim_owner_suffix), "the killed process holds the claim: {owner}");
        }
        other => panic!("the held issue's action should be claimed by the killed process, found {other:?}"),
    }
    let orphaned = ledger
        .list_actions()
        .await
        .expect("ledger lists")
        .iter()
        .filter(|(_, s)| matches!(s, ActionState::Claimed { owner, .. } if owner.ends_with(&victim_owner_suffix)))
        .count();

    let (report, wall) = run.await.expect("delivery task");
    fleet.assert_running(&[0]);
    print_figures("scale-out proof, process 0 killed mid-run", &fake, &ledger, &report, wall).await;
    let done = assert_exactly_once(&fake, &ledger, EVENTS, &report).await;
    assert_eq!(done, EVENTS);

    // The issue the killed process created is the one recorded: adopted, not created again.
    assert_eq!(issue.created_by, "p0");
    let Some(ActionState::Done { detail, at }) = ledger.action_state(&key).await.unwrap() else {
        panic!("the held action is done");
    };
    assert_eq!(detail, issue.html_url(), "the survivors recorded the killed process's issue");
    let after = at.duration_since(killed_at);
    println!(
        "crash: process 0 killed holding {orphaned} claim(s) (lease {LEASE_SECONDS} s); its created-but-unrecorded issue #{} was adopted {:.1} s after the kill",
        issue.number,
        after.as_secs_f64()
    );
    assert!(orphaned >= 1);
    assert!(report.no_answer >= 1, "the deliveries in flight to the killed process got no answer and were redelivered");
    drop(fleet);
    delete_container(&url).await;
}

/// The control: the same fleet, deliveries and fake GitHub, but each process with its own
/// container — no shared ledger to arbitrate. Duplicate issues appear, so the assertions of the
/// proofs above would catch a shared ledger that let two executions through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_shared_ledger_the_same_deliveries_do_open_duplicate_issues() {
    const EVENTS: usize = 40;
    let mut urls = Vec::new();
    for _ in 0..PROCESSES {
        urls.push(fresh_ledger("scaleout-control").await.1);
    }
    // GitHub takes a few hundred milliseconds to create an issue; an attempt that lists the
    // issues meanwhile does not see it yet.
    let fake = Arc::new(FakeGithub::start(FakeOptions { create_latency: Duration::from_millis(300), ..FakeOptions::default() }).await);
    let env_fake = Arc::clone(&fake);
    let extra = [("GITHUB_CONTENT_PER_MINUTE", "4000"), ("GITHUB_CONTENT_PER_HOUR", "20000")];
    let states = urls.clone();
    let mut fleet = start_fleet(move |i| env_for(&env_fake, &states[i], i, &extra)).await;
    let targets = Targets::new((0..PROCESSES).map(|i| fleet.base_url(i)).collect());

    let (report, wall) = deliver(targets, EVENTS).await;
    fleet.assert_running(&[]);
    assert!(report.gave_up.is_empty(), "{:?}", report.gave_up);
    let per_concern = fake.creations_per_concern();
    let doubled = per_concern.values().filter(|n| **n > 1).count();
    let c = fake.counts();
    println!(
        "control, one container per process: {EVENTS} clusters × {COPIES} deliveries → {} issue creations, {doubled} clusters with duplicates; wall {:.1} s",
        c.creations,
        wall.as_secs_f64()
    );
    assert_eq!(per_concern.len(), EVENTS, "every cluster got at least one issue");
    assert!(c.creations > EVENTS && doubled > 0, "without a shared ledger, concurrent deliveries must create duplicates ({} creations)", c.creations);
    drop(fleet);
    for url in &urls {
        delete_container(url).await;
    }
}
