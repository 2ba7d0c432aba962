//! Shared helpers for the GitHub adapter tests: an in-memory ledger, actions built from real-looking
//! facts, settings pointing at a wiremock server on 127.0.0.1, and canned GitHub answers.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use aks_cadence::action::{Action, ActionKey, ActionKind, Stage, VersionLocator};
use aks_cadence::actions::Actuator;
use aks_cadence::actions::github::{ContentBudget, GithubActuator};
use aks_cadence::domain::{ClusterFacts, ClusterId, Concern, ConcernKind, OfferedVersion, Origin, Signal, SignalKind};
use aks_cadence::plan::WindowStatus;
use aks_cadence::settings::Settings;
use aks_cadence::store::{ActionState, Claim, ClaimToken, Completion, Ledger, LedgerError, PendingNotification};

pub const TOKEN: &str = "ghp_CANARY0000secret0000token0000xyz";
pub const ISSUE_REPO: &str = "platform/ops";
pub const INFRA_REPO: &str = "platform/infra";

/// Just enough of a ledger for refs (the adapter uses only `get_ref`/`put_ref`).
#[derive(Default)]
pub struct MemLedger {
    refs: Mutex<HashMap<(String, String), String>>,
    events: Mutex<HashMap<String, Timestamp>>,
    first: Mutex<HashMap<String, Timestamp>>,
    actions: Mutex<BTreeMap<ActionKey, ActionState>>,
    pending: Mutex<BTreeMap<ActionKey, PendingNotification>>,
}

impl MemLedger {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    pub fn get(&self, concern: &str, channel: &str) -> Option<String> {
        self.refs.lock().unwrap().get(&(concern.to_string(), channel.to_string())).cloned()
    }
    pub fn set(&self, concern: &str, channel: &str, value: &str) {
        self.refs.lock().unwrap().insert((concern.to_string(), channel.to_string()), value.to_string());
    }
}

#[async_trait]
impl Ledger for MemLedger {
    async fn mark_event_processed(&self, event_id: &str, at: Timestamp) -> Result<bool, LedgerError> {
        Ok(self.events.lock().unwrap().insert(event_id.to_string(), at).is_none())
    }
    async fn event_processed(&self, event_id: &str) -> Result<bool, LedgerError> {
        Ok(self.events.lock().unwrap().contains_key(event_id))
    }
    async fn first_seen(&self, concern_key: &str, at: Timestamp) -> Result<Timestamp, LedgerError> {
        Ok(*self.first.lock().unwrap().entry(concern_key.to_string()).or_insert(at))
    }
    async fn seen(&self, concern_key: &str) -> Result<Option<Timestamp>, LedgerError> {
        Ok(self.first.lock().unwrap().get(concern_key).copied())
    }
    async fn action_state(&self, key: &ActionKey) -> Result<Option<ActionState>, LedgerError> {
        Ok(self.actions.lock().unwrap().get(key).cloned())
    }
    async fn claim(&self, key: &ActionKey, owner: &str, now: Timestamp, lease: SignedDuration) -> Result<Claim, LedgerError> {
        let mut a = self.actions.lock().unwrap();
        match a.get(key) {
            Some(s @ (ActionState::Done { .. } | ActionState::Failed { .. })) => Ok(Claim::Finished(s.clone())),
            Some(ActionState::Claimed { owner: o, until }) if *until > now => Ok(Claim::HeldElsewhere { owner: o.clone(), until: *until }),
            _ => {
                a.insert(key.clone(), ActionState::Claimed { owner: owner.to_string(), until: now + lease });
                Ok(Claim::Acquired(ClaimToken(owner.to_string())))
            }
        }
    }
    async fn complete(&self, key: &ActionKey, _token: &ClaimToken, completion: Completion, now: Timestamp) -> Result<(), LedgerError> {
        let state = match completion {
            Completion::Done { detail } => ActionState::Done { detail, at: now },
            Completion::Failed { reason } => ActionState::Failed { reason, at: now },
        };
        self.actions.lock().unwrap().insert(key.clone(), state);
        Ok(())
    }
    async fn release(&self, key: &ActionKey, _token: &ClaimToken) -> Result<(), LedgerError> {
        self.actions.lock().unwrap().remove(key);
        Ok(())
    }
    async fn get_ref(&self, concern_key: &str, channel: &str) -> Result<Option<String>, LedgerError> {
        Ok(self.get(concern_key, channel))
    }
    async fn put_ref(&self, concern_key: &str, channel: &str, value: &str) -> Result<(), LedgerError> {
        self.set(concern_key, channel, value);
        Ok(())
    }
    async fn list_actions(&self) -> Result<Vec<(ActionKey, ActionState)>, LedgerError> {
        Ok(self.actions.lock().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }
    async fn queue_notification(&self, key: &ActionKey, action: &str, at: Timestamp) -> Result<(), LedgerError> {
        let mut pending = self.pending.lock().unwrap();
        let entry = pending.entry(key.clone()).or_insert_with(|| PendingNotification { key: key.clone(), action: String::new(), queued_at: at, updated_at: at });
        entry.action = action.to_string();
        entry.updated_at = entry.updated_at.max(at);
        Ok(())
    }
    async fn pending_notifications(&self) -> Result<Vec<PendingNotification>, LedgerError> {
        let mut out: Vec<PendingNotification> = self.pending.lock().unwrap().values().cloned().collect();
        out.sort_by(|a, b| (a.queued_at, &a.key).cmp(&(b.queued_at, &b.key)));
        Ok(out)
    }
    async fn remove_notification(&self, key: &ActionKey) -> Result<(), LedgerError> {
        self.pending.lock().unwrap().remove(key);
        Ok(())
    }
}

pub fn settings_for(api_url: &str) -> Settings {
    let env: BTreeMap<String, String> = [("GITHUB_API_URL", api_url), ("GITHUB_TOKEN", TOKEN)].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Settings::from_map(env).expect("valid settings")
}

pub fn actuator(api_url: &str, ledger: Arc<MemLedger>) -> GithubActuator {
    GithubActuator::new(&settings_for(api_url), ledger).expect("actuator")
}

pub fn actuator_with_budget(api_url: &str, ledger: Arc<MemLedger>, budget: ContentBudget) -> GithubActuator {
    GithubActuator::with_budget(&settings_for(api_url), ledger, budget).expect("actuator")
}

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

pub fn cluster() -> ClusterId {
    ClusterId::from_parts("0b1f6471-1bf0-4dda-aec3-111122223333", "rg-aks-prod-weu", "prod-weu")
}

pub fn upgrade_concern() -> Concern {
    Concern::new(cluster(), ConcernKind::KubernetesUpgrade, "1.30")
}

/// A sweep finding: prod-weu on 1.29.2 may move to 1.30.7.
pub fn upgrade_signal() -> Signal {
    Signal {
        cluster: cluster(),
        facts: ClusterFacts {
            location: Some("westeurope".into()),
            kubernetes_version: Some("1.29.2".into()),
            support_plan: Some("KubernetesOfficial".into()),
            provisioning_state: Some("Succeeded".into()),
            ..Default::default()
        },
        kind: SignalKind::UpgradesOffered {
            current: "1.29.2".into(),
            offered: vec![
                OfferedVersion { version: "1.29.9".into(), is_preview: false },
                OfferedVersion { version: "1.30.5".into(), is_preview: false },
                OfferedVersion { version: "1.30.7".into(), is_preview: false },
                OfferedVersion { version: "1.31.1".into(), is_preview: true },
            ],
        },
        observed_at: ts("2026-02-02T06:00:00Z"),
        origin: Origin::Sweep { run_id: "sweep-2026-02-02T06".into() },
    }
}

pub fn issue_kind() -> ActionKind {
    ActionKind::GithubIssue { repo: ISSUE_REPO.into(), labels: vec!["platform".into(), "aks-cadence".into()], assignees: vec!["octo-ops".into()] }
}

pub fn action(stage: Stage, kind: ActionKind, summary: &str) -> Action {
    let mut a = Action::new(upgrade_concern(), stage, kind, summary.into(), upgrade_signal());
    a.first_seen = Some(ts("2026-02-01T06:00:00Z"));
    a.deadline = Some(ts("2026-03-03T00:00:00Z"));
    a.window = Some(WindowStatus::Closed { next: Some(ts("2026-02-03T01:00:00Z")) });
    a
}

pub fn notice() -> Action {
    action(Stage::Notice, issue_kind(), "prod-weu: upgrade 1.29.2 → 1.30.7 (minor) available")
}

pub fn pr_action(path: &str, locator: VersionLocator, version: &str) -> Action {
    action(
        Stage::Notice,
        ActionKind::GithubPullRequest { repo: INFRA_REPO.into(), path: path.into(), locator, base: None, version: version.into() },
        &format!("prod-weu: upgrade 1.29.2 → {version} (minor) available"),
    )
}

pub fn key(k: &str) -> VersionLocator {
    VersionLocator::Key { key: k.into() }
}

/// GitHub's issue JSON (only what matters plus a few realistic fields).
pub fn issue_json(server: &str, repo: &str, number: u64, state: &str, title: &str, body: &str) -> Value {
    json!({
        "id": 1_000_000 + number,
        "node_id": "I_kwDOAbc",
        "url": format!("{server}/repos/{repo}/issues/{number}"),
        "html_url": format!("https://github.example/{repo}/issues/{number}"),
        "number": number,
        "state": state,
        "title": title,
        "body": body,
        "labels": [{ "name": "aks-cadence" }],
        "user": { "login": "aks-cadence[bot]" },
        "comments": 0,
        "created_at": "2026-02-02T06:00:05Z",
    })
}

/// Runs one action through the actuator.
pub async fn run(actuator: &GithubActuator, action: &Action) -> Result<String, aks_cadence::error::ActionError> {
    let mut out = actuator.perform(std::slice::from_ref(action)).await;
    assert_eq!(out.len(), 1);
    out.remove(0).map(|done| done.detail)
}

/// The JSON body of the one request the server received matching method and path.
pub async fn body_of(server: &wiremock::MockServer, method: &str, path: &str) -> Value {
    let reqs = server.received_requests().await.expect("recording on");
    let hits: Vec<_> = reqs.iter().filter(|r| r.method.as_str() == method && r.url.path() == path).collect();
    assert_eq!(hits.len(), 1, "expected one {method} {path}, got {}", hits.len());
    serde_json::from_slice(&hits[0].body).expect("json body")
}

pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/infra/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}
