//! Follow-ups: what a permanent failure is reported through. Pure (house rule 1): the pipeline
//! passes the plan it executed and the keys that failed permanently, and gets back actions.
//!
//! A permanent failure is recorded in the ledger (and never retried), but nobody reads ledgers:
//! the people who own the concern must hear of it. It is reported on the concern's GitHub issue
//! when the plan has one for that concern (a comment: the issue keeps its title), else by the
//! concern's email. A failed report is not reported again (no loops), and each failure is
//! reported once: the report's key carries a digest of the failed key.
//!
//! Layer: core: pure, no IO.

use sha2::{Digest, Sha256};

use crate::action::{Action, ActionKey, ActionKind, ChatKind, Stage};

/// The report actions for `failed` (failed key, reason) among the actions of `plan`.
pub fn failure_reports(plan: &[Action], failed: &[(ActionKey, String)]) -> Vec<Action> {
    let mut reports = Vec::new();
    for (key, reason) in failed {
        let Some(failed_action) = plan.iter().find(|a| &a.key == key) else { continue };
        // Reports are not reported again; upgrades and rotations have their own follow-up (the
        // operation's outcome is told as an `Operation` signal with ARM's code and message).
        if is_report(failed_action) || failed_action.kind.changes_cluster() {
            continue;
        }
        let Some(via) = report_channel(plan, failed_action) else { continue };

        let mut report = via.clone();
        report.stage = Stage::Update;
        report.hold = None;
        report.note = Some(format!("{} failed and will not be retried: {reason}", describe(failed_action)));
        report.key = ActionKey::new(
            &report.concern,
            &format!("{}~failure-{}", report.kind.channel(), digest(failed_action.key.as_str())),
            Stage::Update,
        );
        reports.push(report);
    }
    reports
}

/// The action of `plan` a failure of `failed` would be reported through: the concern's GitHub
/// issue, else its email (never `failed` itself). The executor keeps it with a notification it
/// queues for a digest, so the digest's failures are reported without planning again.
pub fn report_channel<'a>(plan: &'a [Action], failed: &Action) -> Option<&'a Action> {
    let same_concern = |a: &&Action| a.concern == failed.concern && a.key != failed.key;
    plan.iter()
        .filter(same_concern)
        .find(|a| matches!(a.kind, ActionKind::GithubIssue { .. }))
        .or_else(|| plan.iter().filter(same_concern).find(|a| matches!(a.kind, ActionKind::Email { .. })))
}

fn is_report(action: &Action) -> bool {
    action.key.as_str().contains("~failure-")
}

fn describe(action: &Action) -> String {
    match &action.kind {
        ActionKind::GithubPullRequest { repo, path, .. } => format!("The pull request on {repo}:{path}"),
        ActionKind::Email { to } => format!("Email to {}", to.join(", ")),
        ActionKind::GithubEscalation { labels, assignees, .. } => {
            let mut what: Vec<String> = labels.iter().map(|l| format!("label {l}")).collect();
            what.extend(assignees.iter().map(|a| format!("assignee @{a}")));
            format!("Adding {} to the issue", what.join(", "))
        }
        // The chat adapter's reasons name the webhook and its setting themselves.
        ActionKind::Chat { chat: ChatKind::Teams, .. } => "The Teams message".into(),
        ActionKind::Chat { chat: ChatKind::Slack, .. } => "The Slack message".into(),
        ActionKind::Chat { chat: ChatKind::Webhook, .. } => "The webhook message".into(),
        other => format!("The {} action", other.name()),
    }
}

fn digest(s: &str) -> String {
    Sha256::digest(s.as_bytes())[..4].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::VersionLocator;
    use crate::domain::{ClusterId, Concern, ConcernKind, Origin, Signal, SignalKind};

    fn signal() -> Signal {
        Signal {
            cluster: ClusterId::from_parts("s", "rg", "aks-prod"),
            facts: Default::default(),
            kind: SignalKind::SupportEnded { kubernetes_version: "1.29.4".into() },
            observed_at: "2026-03-01T00:00:00Z".parse().unwrap(),
            origin: Origin::Manual,
        }
    }

    fn action(kind: ActionKind) -> Action {
        let concern = Concern::new(ClusterId::from_parts("s", "rg", "aks-prod"), ConcernKind::Support, "1.29");
        Action::new(concern, Stage::Notice, kind, "aks-prod: Kubernetes 1.29 is out of support".into(), signal())
    }

    fn issue() -> Action {
        action(ActionKind::GithubIssue { repo: "o/r".into(), labels: vec![], assignees: vec![] })
    }
    fn email() -> Action {
        action(ActionKind::Email { to: vec!["ops@example.com".into()] })
    }
    fn pr() -> Action {
        action(ActionKind::GithubPullRequest {
            repo: "o/infra".into(),
            path: "aks.bicep".into(),
            locator: VersionLocator::Key { key: "kubernetesVersion".into() },
            base: None,
            version: "1.30.2".into(),
        })
    }

    #[test]
    fn a_failed_pull_request_is_reported_on_the_concerns_issue_without_retitling_it() {
        let plan = vec![issue(), pr(), email()];
        let reports = failure_reports(&plan, &[(plan[1].key.clone(), "HTTP 404: Not Found".into())]);
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        assert!(matches!(r.kind, ActionKind::GithubIssue { .. }));
        assert_eq!(r.stage, Stage::Update);
        assert_eq!(r.summary, plan[0].summary, "the issue keeps its title");
        let note = r.note.as_deref().unwrap();
        assert!(note.contains("o/infra:aks.bicep") && note.contains("HTTP 404"), "{note}");
        assert_ne!(r.key, plan[0].key);
    }

    #[test]
    fn without_an_issue_the_failure_goes_by_email_and_a_lone_action_has_nowhere_to_go() {
        let chat = action(ActionKind::Chat { chat: ChatKind::Slack, url_setting: "SLACK".into() });
        let plan = vec![chat.clone(), email()];
        let reports = failure_reports(&plan, &[(chat.key.clone(), "HTTP 410".into())]);
        assert_eq!(reports.len(), 1);
        assert!(matches!(reports[0].kind, ActionKind::Email { .. }));
        assert!(failure_reports(std::slice::from_ref(&chat), &[(chat.key.clone(), "x".into())]).is_empty());
    }

    #[test]
    fn failed_upgrades_are_left_to_the_operation_follow_up() {
        let upgrade = action(ActionKind::Upgrade { upgrade: crate::action::UpgradeScope::Patch, target: "1.30.7".into() });
        let plan = vec![issue(), upgrade.clone()];
        assert!(failure_reports(&plan, &[(upgrade.key.clone(), "ARM UpgradeFailed".into())]).is_empty());
    }

    #[test]
    fn each_failure_gets_its_own_report_key_and_reports_are_never_reported() {
        let plan = vec![issue(), pr(), email()];
        let a = failure_reports(&plan, &[(plan[1].key.clone(), "x".into())]);
        let b = failure_reports(&plan, &[(plan[2].key.clone(), "y".into())]);
        assert_ne!(a[0].key, b[0].key);
        // The same failure reported twice has the same key (the ledger makes it once).
        assert_eq!(a[0].key, failure_reports(&plan, &[(plan[1].key.clone(), "x".into())])[0].key);
        // A failed report is not reported again.
        let mut with_report = plan.clone();
        with_report.push(a[0].clone());
        assert!(failure_reports(&with_report, &[(a[0].key.clone(), "z".into())]).is_empty());
    }
}
