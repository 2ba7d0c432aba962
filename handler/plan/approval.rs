//! Approvals through GitHub: whether a person with write access has approved the current
//! target of a concern on its GitHub issue. Pure: the issue's labels, label events, comments
//! and the commenters' permissions come in (read by `actions::github::approvals`), a decision
//! comes out. Table-tested below.
//!
//! The rules, in order:
//! 1. the hold label on the issue now always holds;
//! 2. otherwise the latest *decision* by a writer wins, by time:
//!    - approve: the approval label applied (its latest `labeled` event, while the label is still
//!      on the issue), or a comment with a line `/approve`;
//!    - hold: a comment with a line `/hold`;
//! 3. an approval counts only when given at or after the current target was proposed on the
//!    issue: a newer target needs a new one (re-apply the label, or comment `/approve` again);
//! 4. a decision by someone without write access is ignored; one whose author's access could
//!    not be read makes the whole state unknown (the change holds, naming the cause).
//!
//! Layer: core: pure, no IO (`tests/core_imports.rs`).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::action::{Action, ActionKind, Hold, Stage};
use crate::policy::windows::WindowStatus;
use crate::policy::{ApprovalVia, Policy};

/// What approves and what holds, and where (from the policy that applies to the change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalTerms {
    /// `owner/name` of the concern's issue.
    pub repo: String,
    pub label: String,
    pub hold_label: String,
}

/// The approval terms for a cluster-changing action, when policy requires approval for it:
/// `approval = "github"` applies to the change's cluster and signal. `repo` is the first issue
/// channel of the rules that apply; `None` there (policy load prevents it for rules, but
/// `[defaults]` may reach a cluster no issue rule selects) still requires approval: the caller
/// holds the change, naming the missing channel.
pub fn terms_for(policy: &Policy, action: &Action) -> Option<Option<ApprovalTerms>> {
    if action.stage != Stage::Execute || !matches!(action.kind, ActionKind::Upgrade { .. }) {
        return None;
    }
    let signal = &action.signal;
    let cadence = policy.cadence_for(&signal.cluster, &signal.facts, &signal.kind);
    if cadence.approval != ApprovalVia::Github {
        return None;
    }
    let repo = policy.applicable(&signal.cluster, &signal.facts, &signal.kind).find_map(|r| r.github_issue.as_ref()).map(|i| i.repo.clone());
    Some(repo.map(|repo| ApprovalTerms { repo, label: cadence.approval_label, hold_label: cadence.hold_label }))
}

/// How an approval was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    Label,
    Comment,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Label => "label",
            Self::Comment => "/approve comment",
        }
    }
}

/// A person's access to the repository, as the collaborator permission API answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// `admin` or `write` (`maintain` is reported as `write`).
    Writer,
    /// `read`, `none`, or not a user GitHub knows.
    NotWriter,
    /// The permission could not be read: why.
    Unknown(String),
}

impl Access {
    /// The legacy `permission` field of `GET /repos/{o}/{r}/collaborators/{user}/permission`:
    /// `admin`, `write`, `read` or `none` (GitHub maps `maintain` to `write`, `triage` to
    /// `read`).
    pub fn from_permission(permission: &str) -> Self {
        match permission.trim().to_ascii_lowercase().as_str() {
            "admin" | "maintain" | "write" => Self::Writer,
            _ => Self::NotWriter,
        }
    }
}

/// One label event of the issue (`labeled` / `unlabeled`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelEvent {
    pub at: Timestamp,
    pub actor: String,
    pub label: String,
    /// `true` for `labeled`, `false` for `unlabeled`.
    pub added: bool,
}

/// One comment of the issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueComment {
    pub at: Timestamp,
    pub author: String,
    pub body: String,
}

/// What the concern's issue shows, read at the edge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueActivity {
    /// The issue's web address (for the hold and the plan).
    pub url: String,
    /// The labels on the issue now.
    pub labels: Vec<String>,
    pub events: Vec<LabelEvent>,
    pub comments: Vec<IssueComment>,
    /// Login (lower case) → access, for every author a decision needs.
    pub access: BTreeMap<String, Access>,
}

/// The state of a change's approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approved { by: String, at: Timestamp, via: Via },
    /// Held by a person (`by`), through the hold label or `/hold`.
    Held { by: String },
    /// No approval for the current target yet.
    Awaiting,
    /// A decision's author's access could not be read: the change holds.
    Unknown { cause: String },
}

/// A comment's command: a line that is exactly `/approve` or `/hold` (case and surrounding
/// space ignored), so prose that mentions the commands does not count.
fn command(body: &str) -> Option<bool> {
    body.lines().map(str::trim).find_map(|l| match l.to_ascii_lowercase().as_str() {
        "/approve" => Some(true),
        "/hold" => Some(false),
        _ => None,
    })
}

/// The logins whose access [`decide`] needs: the authors of `/approve` and `/hold` comments and
/// whoever applied the approval label (the hold label holds whoever applied it: no read). The
/// edge reads each once.
pub fn authors_to_check(activity: &IssueActivity, label: &str) -> Vec<String> {
    let mut out: Vec<String> = activity
        .comments
        .iter()
        .filter(|c| command(&c.body).is_some())
        .map(|c| c.author.to_ascii_lowercase())
        .chain(
            activity
                .events
                .iter()
                .filter(|e| e.added && e.label.eq_ignore_ascii_case(label))
                .map(|e| e.actor.to_ascii_lowercase()),
        )
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The approval state of the target proposed on the issue at `proposed_at`. See the module docs.
pub fn decide(activity: &IssueActivity, label: &str, hold_label: &str, proposed_at: Timestamp) -> Decision {
    let access = |who: &str| activity.access.get(&who.to_ascii_lowercase()).cloned().unwrap_or_else(|| Access::Unknown(format!("the access of @{who} was not read")));
    let has = |name: &str| activity.labels.iter().any(|l| l.eq_ignore_ascii_case(name));
    // The latest `labeled` event of a label still on the issue: who put it there.
    let applied = |name: &str| activity.events.iter().filter(|e| e.added && e.label.eq_ignore_ascii_case(name)).max_by_key(|e| e.at).filter(|_| has(name));

    if has(hold_label) {
        let by = applied(hold_label).map_or_else(|| "someone".to_string(), |e| e.actor.clone());
        return Decision::Held { by };
    }
    // (time, approve?, author, via)
    let mut decisions: Vec<(Timestamp, bool, &str, Via)> = activity
        .comments
        .iter()
        .filter_map(|c| command(&c.body).map(|approve| (c.at, approve, c.author.as_str(), Via::Comment)))
        .collect();
    if let Some(e) = applied(label) {
        decisions.push((e.at, true, e.actor.as_str(), Via::Label));
    }
    // An approval for an older target does not count (a hold does, whenever it was given).
    decisions.retain(|(at, approve, _, _)| !approve || *at >= proposed_at);
    decisions.sort_by_key(|(at, ..)| std::cmp::Reverse(*at));
    for (at, approve, who, via) in decisions {
        match access(who) {
            Access::NotWriter => continue,
            Access::Unknown(cause) => return Decision::Unknown { cause },
            Access::Writer if approve => return Decision::Approved { by: who.to_string(), at, via },
            Access::Writer => return Decision::Held { by: who.to_string() },
        }
    }
    Decision::Awaiting
}

/// Who approved a change, when and how: kept in the ledger (`Ledger::put_ref(concern key,
/// [`record_channel`])`) and told on the issue when the change starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub target: String,
    pub by: String,
    pub at: Timestamp,
    pub via: Via,
    pub url: String,
}

/// The ledger channel of the approval of `target` (under the concern's key).
pub fn record_channel(target: &str) -> String {
    format!("approval:{target}")
}

/// The ledger key whose first sighting is when `target` was first proposed for `concern` with
/// approval required: approvals count from then on.
pub fn proposal_key(concern: &crate::domain::Concern, target: &str) -> String {
    format!("{}#~approval-proposed:{target}", concern.key())
}

/// The approval required of an execute action, when it is held only for it (every other gate
/// lets it run): the planner's `AwaitingApproval` without an issue or a cause yet.
pub fn awaits_reading(action: &Action) -> bool {
    action.hold == Some(Hold::AwaitingApproval { url: None, cause: None })
}

/// Applies what was read to an execute action that awaits approval: the decision from the
/// issue's `activity`, or why it could not be read (`Err(cause)`, the change holds). Returns the
/// approval when the change may start now; the summary says the new state.
pub fn apply(action: &mut Action, read: Result<(Decision, String), String>) -> Option<Approval> {
    let target = match &action.kind {
        ActionKind::Upgrade { target, .. } => target.clone(),
        _ => return None,
    };
    let (hold, approval) = match read {
        Err(cause) => (Some(Hold::AwaitingApproval { url: None, cause: Some(cause) }), None),
        Ok((decision, url)) => match decision {
            Decision::Approved { by, at, via } => (None, Some(Approval { target, by, at, via, url })),
            Decision::Held { by } => (Some(Hold::ApprovalHeld { by, url }), None),
            Decision::Awaiting => (Some(Hold::AwaitingApproval { url: Some(url), cause: None }), None),
            Decision::Unknown { cause } => (Some(Hold::AwaitingApproval { url: Some(url), cause: Some(cause) }), None),
        },
    };
    hold_as(action, hold);
    approval
}

/// Names the issue in the hold of each change still awaiting approval without one — on the run
/// that opened the concern's issue, the approval could not be read yet. `issue_of` answers the web
/// address of the concern's issue in a repository, when this run has it (the issue adapter's answer).
pub fn name_issues(policy: &Policy, planned: &mut [Action], issue_of: impl Fn(&crate::domain::Concern, &str) -> Option<String>) {
    for action in planned.iter_mut().filter(|a| awaits_reading(a)) {
        let Some(Some(terms)) = terms_for(policy, action) else { continue };
        if let Some(url) = issue_of(&action.concern, &terms.repo) {
            hold_as(action, Some(Hold::AwaitingApproval { url: Some(url), cause: None }));
        }
    }
}

/// Whether an execute action could start now but for approval: every other gate lets it run.
/// Only these are worth a GitHub read.
pub fn ready_but_for_approval(action: &Action) -> bool {
    action.stage == Stage::Execute && matches!(action.kind, ActionKind::Upgrade { .. }) && (action.hold.is_none() || awaits_reading(action))
}

/// Holds a change whose infrastructure-code pull request (`pr`) is merged: the IaC applies it.
pub fn handled_by_iac(action: &mut Action, pr: String) {
    hold_as(action, Some(Hold::HandledByIac { pr }));
}

/// Sets the hold and the status part of the summary to match.
fn hold_as(action: &mut Action, hold: Option<Hold>) {
    action.hold = hold;
    let window = action.window.clone().unwrap_or_default();
    if let Some((head, _)) = action.summary.rsplit_once(" — ") {
        action.summary = format!("{head} — {}", super::say::execute_status(action.hold.as_ref(), &window));
    }
}

/// The message that tells the concern's issue an approved change starts: the issue's own
/// latest message (`told`: its notice, reminder or overdue) as an update, keyed by the approval,
/// with the line "Starting the upgrade to 1.29.9 in the window (…), approved by @alice at …".
/// The orchestrator sends it only once ARM accepted the change (a refused PUT is reported as a
/// failure instead).
pub fn echo(execute: &Action, told: &Action, approval: &Approval) -> Action {
    let mut echo = told.clone();
    echo.stage = Stage::Update;
    let fact = super::digest(&["approved", &approval.target, &approval.by, &approval.at.to_string()]);
    echo.key = crate::action::ActionKey::new(&told.concern, &format!("{}~{fact}", told.kind.channel()), Stage::Update);
    let window = match &execute.window {
        Some(WindowStatus::Open { until }) => format!("open until {}", crate::action::minute(*until)),
        _ => "open now".to_string(),
    };
    echo.note = Some(format!(
        "Starting the upgrade to {} in the window ({window}), approved by @{} at {} ({}).",
        approval.target,
        approval.by,
        crate::action::minute(approval.at),
        approval.via.as_str()
    ));
    echo
}

/// What the concern's issue says about approving, when policy requires it.
pub fn how_to_approve(label: &str, hold_label: &str) -> String {
    format!(
        "Approval required before aks-cadence starts this change: a user with write access applies the label `{label}` or comments `/approve` on this issue; `{hold_label}` or `/hold` stops it. An approval is for one target version: a newer one needs a new approval."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL: &str = "aks-cadence/approved";
    const HOLD: &str = "aks-cadence/hold";

    fn t(s: &str) -> Timestamp {
        format!("2026-01-15T{s}:00Z").parse().unwrap()
    }
    fn labeled(at: &str, who: &str, label: &str) -> LabelEvent {
        LabelEvent { at: t(at), actor: who.into(), label: label.into(), added: true }
    }
    fn comment(at: &str, who: &str, body: &str) -> IssueComment {
        IssueComment { at: t(at), author: who.into(), body: body.into() }
    }

    /// alice and bob write; mallory reads; eve's access could not be read.
    fn activity(labels: &[&str], events: Vec<LabelEvent>, comments: Vec<IssueComment>) -> IssueActivity {
        let access = [
            ("alice", Access::Writer),
            ("bob", Access::Writer),
            ("mallory", Access::NotWriter),
            ("eve", Access::Unknown("GET …/collaborators/eve/permission: HTTP 502".into())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        IssueActivity { url: "https://github.example/o/r/issues/1".into(), labels: labels.iter().map(|l| l.to_string()).collect(), events, comments, access }
    }

    #[test]
    fn approval_states_follow_the_latest_decision_of_a_writer_for_the_current_target() {
        let proposed = t("09:00");
        let approved = |by: &str, at: &str, via| Decision::Approved { by: by.into(), at: t(at), via };
        let held = |by: &str| Decision::Held { by: by.into() };
        let cases: Vec<(&str, IssueActivity, Decision)> = vec![
            ("nothing yet", activity(&[], vec![], vec![]), Decision::Awaiting),
            ("label by a writer", activity(&[LABEL], vec![labeled("10:00", "alice", LABEL)], vec![]), approved("alice", "10:00", Via::Label)),
            ("label by a non-writer", activity(&[LABEL], vec![labeled("10:00", "mallory", LABEL)], vec![]), Decision::Awaiting),
            ("label applied then removed", activity(&[], vec![labeled("10:00", "alice", LABEL)], vec![]), Decision::Awaiting),
            ("/approve by a non-writer is ignored", activity(&[], vec![], vec![comment("10:00", "mallory", "/approve")]), Decision::Awaiting),
            ("/approve by a writer", activity(&[], vec![], vec![comment("10:00", "Bob", "LGTM\n/approve\n")]), approved("Bob", "10:00", Via::Comment)),
            ("prose mentioning /approve is not a command", activity(&[], vec![], vec![comment("10:00", "alice", "comment /approve when ready")]), Decision::Awaiting),
            (
                "/hold after approve",
                activity(&[], vec![], vec![comment("10:00", "alice", "/approve"), comment("10:30", "bob", "/hold")]),
                held("bob"),
            ),
            (
                "approve after hold",
                activity(&[], vec![], vec![comment("10:00", "bob", "/hold"), comment("10:30", "alice", "/approve")]),
                approved("alice", "10:30", Via::Comment),
            ),
            (
                "a non-writer's /hold does not stop a writer's approval",
                activity(&[LABEL], vec![labeled("10:00", "alice", LABEL)], vec![comment("10:30", "mallory", "/hold")]),
                approved("alice", "10:00", Via::Label),
            ),
            (
                "the hold label always holds, even after an approval",
                activity(&[LABEL, HOLD], vec![labeled("10:30", "alice", LABEL), labeled("10:00", "bob", HOLD)], vec![comment("11:00", "alice", "/approve")]),
                held("bob"),
            ),
            (
                "approval for an older target",
                activity(&[LABEL], vec![labeled("08:00", "alice", LABEL)], vec![comment("08:30", "bob", "/approve")]),
                Decision::Awaiting,
            ),
            (
                "a hold given before the target still holds until a new approval",
                activity(&[], vec![], vec![comment("08:00", "bob", "/hold")]),
                held("bob"),
            ),
            (
                "unreadable permission of the deciding author",
                activity(&[], vec![], vec![comment("10:00", "alice", "/approve"), comment("10:30", "eve", "/hold")]),
                Decision::Unknown { cause: "GET …/collaborators/eve/permission: HTTP 502".into() },
            ),
            (
                "an author never read counts as unknown, never as a writer",
                activity(&[], vec![], vec![comment("10:00", "zed", "/approve")]),
                Decision::Unknown { cause: "the access of @zed was not read".into() },
            ),
        ];
        for (name, activity, want) in cases {
            assert_eq!(decide(&activity, LABEL, HOLD, proposed), want, "{name}");
        }
    }

    #[test]
    fn only_authors_of_decisions_are_checked() {
        let a = activity(
            &[LABEL],
            vec![labeled("10:00", "Alice", LABEL), labeled("10:00", "carol", "bug"), labeled("10:01", "dan", HOLD)],
            vec![comment("10:00", "dave", "thanks"), comment("10:05", "bob", "/hold"), comment("10:06", "alice", "/approve")],
        );
        assert_eq!(authors_to_check(&a, LABEL), vec!["alice".to_string(), "bob".to_string()]);
    }

    #[test]
    fn permissions_map_to_write_access() {
        for (p, writer) in [("admin", true), ("maintain", true), ("write", true), ("read", false), ("triage", false), ("none", false)] {
            assert_eq!(Access::from_permission(p) == Access::Writer, writer, "{p}");
        }
    }
}
