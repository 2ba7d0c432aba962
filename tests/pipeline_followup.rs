//! Permanent failures are reported through the concern's other channels (issue 3: "recorded in
//! the ledger with the reason, logged, and reported on the concern's issue or by mail"), once,
//! and a report that cannot be sent now is retried with the next delivery.

mod pipeline_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aks_cadence::action::{Action, ActionKind, Stage};
use aks_cadence::actions::{Actuator, Performed};
use aks_cadence::error::ActionError;
use aks_cadence::ingest::Ingested;
use aks_cadence::pipeline::{EventSink, Pipeline, PipelineError, fixed_clock};
use aks_cadence::policy::Policy;
use aks_cadence::store::{ActionState, Ledger};
use async_trait::async_trait;
use pipeline_support::*;

/// Records every action it performs; `fail(action, attempt)` decides failures (attempt counts
/// from 1 per key).
struct Recorder {
    name: &'static str,
    kinds: fn(&ActionKind) -> bool,
    fail: fn(&Action, usize) -> Option<ActionError>,
    seen: Mutex<Vec<Action>>,
    attempts: Mutex<BTreeMap<String, usize>>,
}

impl Recorder {
    fn new(name: &'static str, kinds: fn(&ActionKind) -> bool, fail: fn(&Action, usize) -> Option<ActionError>) -> Arc<Self> {
        Arc::new(Self { name, kinds, fail, seen: Mutex::default(), attempts: Mutex::default() })
    }
    fn seen(&self) -> Vec<Action> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl Actuator for Recorder {
    fn name(&self) -> &'static str {
        self.name
    }
    fn handles(&self, kind: &ActionKind) -> bool {
        (self.kinds)(kind)
    }
    async fn perform(&self, batch: &[Action]) -> Vec<Performed> {
        batch
            .iter()
            .map(|a| {
                self.seen.lock().unwrap().push(a.clone());
                let attempt = {
                    let mut m = self.attempts.lock().unwrap();
                    let n = m.entry(a.key.to_string()).or_default();
                    *n += 1;
                    *n
                };
                match (self.fail)(a, attempt) {
                    Some(e) => Err(e),
                    None => Ok(format!("{} did it", self.name).into()),
                }
            })
            .collect()
    }
}

const POLICY: &str = "[[rule]]\nname = \"platform\"\n[rule.github_issue]\nrepo = \"o/r\"\n[rule.email]\nto = [\"ops@example.com\"]\n";

fn pipeline(ledger: &Arc<dyn Ledger>, github: &Arc<Recorder>, email: &Arc<Recorder>) -> Pipeline {
    let adapters: Vec<Arc<dyn Actuator>> = vec![Arc::clone(github) as Arc<dyn Actuator>, Arc::clone(email) as Arc<dyn Actuator>];
    let policy = Policy::parse(POLICY, "cadence.toml").expect("policy");
    parts(Arc::new(policy), ledger, adapters, false, fixed_clock(t0())).pipeline()
}

fn event(id: &str) -> Vec<Ingested> {
    vec![Ingested::Signals {
        event_id: id.into(),
        event_type: "Microsoft.ContainerService.NewKubernetesVersionAvailable".into(),
        signals: vec![new_version_signal("prod-weu")],
    }]
}

fn is_issue(k: &ActionKind) -> bool {
    matches!(k, ActionKind::GithubIssue { .. })
}
fn is_email(k: &ActionKind) -> bool {
    matches!(k, ActionKind::Email { .. })
}
fn bounce(_: &Action, _: usize) -> Option<ActionError> {
    Some(ActionError::Permanent("550 5.1.1 mailbox unknown".into()))
}
fn never(_: &Action, _: usize) -> Option<ActionError> {
    None
}

#[tokio::test]
async fn a_permanently_failed_email_is_reported_once_on_the_concerns_issue() {
    let store = TempLedger::new();
    let ledger = store.open();
    let github = Recorder::new("github", is_issue, never);
    let email = Recorder::new("email", is_email, bounce);
    let p = pipeline(&ledger, &github, &email);

    p.handle(event("e-1")).await.expect("a permanent failure does not fail the delivery");
    let reports: Vec<Action> = github.seen().into_iter().filter(|a| a.note.is_some()).collect();
    assert_eq!(reports.len(), 1, "{:#?}", github.seen());
    let note = reports[0].note.as_deref().unwrap();
    assert!(note.contains("Email to ops@example.com") && note.contains("550 5.1.1"), "{note}");
    assert_eq!(reports[0].stage, Stage::Update);
    let notice = github.seen().into_iter().find(|a| a.stage == Stage::Notice).expect("the issue was opened");
    assert_eq!(reports[0].summary, notice.summary, "the report keeps the issue's title");
    // The failure is in the ledger with its reason.
    let failed = ledger.list_actions().await.unwrap().into_iter().filter(|(_, s)| matches!(s, ActionState::Failed { .. })).count();
    assert_eq!(failed, 1);

    // Another event about the same concern: nothing is reported twice, the email is not retried.
    p.handle(event("e-2")).await.unwrap();
    assert_eq!(github.seen().iter().filter(|a| a.note.is_some()).count(), 1);
    assert_eq!(email.seen().len(), 1);
}

#[tokio::test]
async fn a_report_that_cannot_be_sent_now_is_sent_with_the_next_delivery() {
    let store = TempLedger::new();
    let ledger = store.open();
    // GitHub is down for the report during the first delivery (every in-invocation retry).
    let github = Recorder::new("github", is_issue, |a, attempt| {
        (a.note.is_some() && attempt <= 3).then(|| ActionError::Transient("HTTP 502".into()))
    });
    let email = Recorder::new("email", is_email, bounce);
    let p = pipeline(&ledger, &github, &email);

    let first = p.handle(event("e-1")).await;
    assert!(matches!(first, Err(PipelineError::Retryable(_))), "the platform must deliver again: {first:?}");
    let again = p.handle(event("e-1")).await.expect("the redelivery succeeds");
    assert!(again.log.iter().any(|l| l.contains("failed earlier")), "{:?}", again.log);
    let report_attempts = github.seen().iter().filter(|a| a.note.is_some()).count();
    assert_eq!(report_attempts, 4, "three failed attempts, then one success");
    assert_eq!(email.seen().len(), 1, "the failed email itself is never retried");
    let done_reports = ledger
        .list_actions()
        .await
        .unwrap()
        .into_iter()
        .filter(|(k, s)| k.as_str().contains("~failure-") && matches!(s, ActionState::Done { .. }))
        .count();
    assert_eq!(done_reports, 1);
}
