//! The baseline as concerns: what a sweep remembers between runs and the signal the planner
//! turns into actions. Pure (core): findings and the previous run's memory in, data out.
//!
//! **Two kinds of concern** (kind `baseline`):
//! - each failing check is a concern of its own, targeted `<check>@<since>`: `since` is when
//!   this run of failures began, so a check fixed and failing again later is a new concern
//!   (told again) while one that keeps failing stays one (told once, then escalated);
//! - the cluster's checklist is one concern per *episode*, targeted `checklist@<opened>`: it
//!   opens with the first failing check and resolves when none is left (the GitHub issue is
//!   closed); a later failure opens a new episode (a new issue).
//!
//! The memory ([`BaselineMemory`]) is part of the sweep's per-cluster memory: it is written
//! only after a clean run, like every other observed fact, so a failed run resolves nothing.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Finding, Status};
use crate::domain::{BaselineItem, BaselineState, ClusterId, ConcernKind};

/// The checklist concern's target prefix.
const CHECKLIST: &str = "checklist";

/// What a sweep remembers of a cluster's baseline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineMemory {
    /// When the current episode of failing checks began (`None`: nothing is failing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened: Option<Timestamp>,
    /// Each failing check, with when it began failing.
    #[serde(default)]
    pub failing: BTreeMap<String, Timestamp>,
}

/// The target of a failing check's concern.
pub fn check_target(check: &str, since: Timestamp) -> String {
    format!("{check}@{}", stamp(since))
}

/// The target of the checklist concern of the episode opened at `opened`.
pub fn checklist_target(opened: Timestamp) -> String {
    format!("{CHECKLIST}@{}", stamp(opened))
}

/// The check a per-check target names; `None` for a checklist target (or nonsense).
pub fn check_of_target(target: &str) -> Option<&str> {
    let (check, _) = target.split_once('@')?;
    (check != CHECKLIST && !check.is_empty()).then_some(check)
}

/// Whether the target is a checklist's.
pub fn is_checklist_target(target: &str) -> bool {
    target.split_once('@').is_some_and(|(c, _)| c == CHECKLIST)
}

fn stamp(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%MZ").to_string()
}

/// This run's memory, given the previous run's (`None`: no memory, the first sweep) and the
/// findings. A check that was failing keeps its `since`; a newly failing one starts now. The
/// episode stays open while anything fails.
pub fn observe(previous: Option<&BaselineMemory>, findings: &[Finding], now: Timestamp) -> BaselineMemory {
    let failing: BTreeMap<String, Timestamp> = findings
        .iter()
        .filter(|f| f.status.is_failing())
        .map(|f| {
            let since = previous.and_then(|p| p.failing.get(f.check.id)).copied().unwrap_or(now);
            (f.check.id.to_string(), since)
        })
        .collect();
    let opened = if failing.is_empty() { None } else { Some(previous.and_then(|p| p.opened).unwrap_or(now)) };
    BaselineMemory { opened, failing }
}

/// The concerns the move from `previous` to `now` resolved: every check no longer failing,
/// and the checklist when nothing fails any more.
pub fn resolutions(previous: &BaselineMemory, now: &BaselineMemory) -> Vec<(ConcernKind, String)> {
    let mut out: Vec<(ConcernKind, String)> = previous
        .failing
        .iter()
        .filter(|(check, since)| now.failing.get(*check) != Some(since))
        .map(|(check, since)| (ConcernKind::Baseline, check_target(check, *since)))
        .collect();
    if let Some(opened) = previous.opened
        && now.opened != Some(opened)
    {
        out.push((ConcernKind::Baseline, checklist_target(opened)));
    }
    out
}

/// A sweep's baseline for one cluster: the policy's findings, this run's memory (to store and
/// compare with the previous one) and the signal to plan from. `today` for exceptions is the
/// UTC date of `now`.
pub fn assessed(
    policy: &crate::policy::BaselinePolicy,
    cluster: &ClusterId,
    facts: &crate::domain::ClusterFacts,
    resource: &serde_json::Value,
    context: &super::ClusterContext,
    previous: Option<&BaselineMemory>,
    now: Timestamp,
) -> (BaselineMemory, crate::domain::SignalKind) {
    let today = jiff::tz::Offset::UTC.to_datetime(now).date();
    let findings = super::assess(policy, cluster, facts, resource, context, today);
    let memory = observe(previous, &findings, now);
    let mut items = items(cluster, &findings, &memory);
    for item in &mut items {
        item.due = item.since.map(|s| s.checked_add(jiff::SignedDuration::from_hours(i64::from(policy.within_days) * 24)).unwrap_or(Timestamp::MAX));
    }
    let (newly_failing, fixed) = match previous {
        Some(previous) => {
            let targets = |m: &BaselineMemory| m.failing.iter().map(|(c, s)| check_target(c, *s)).collect::<Vec<_>>();
            let (before, after) = (targets(previous), targets(&memory));
            (
                after.iter().filter(|t| !before.contains(t)).cloned().collect(),
                before.iter().filter(|t| !after.contains(t)).cloned().collect(),
            )
        }
        // The first assessment: the notice tells everything; there is nothing to compare with.
        None => (Vec::new(), Vec::new()),
    };
    let kind = crate::domain::SignalKind::Baseline { opened: memory.opened, items: items.into(), newly_failing, fixed };
    (memory, kind)
}

/// The findings as plan data, with each failing check's `since` from `memory`.
pub fn items(cluster: &ClusterId, findings: &[Finding], memory: &BaselineMemory) -> Vec<BaselineItem> {
    findings
        .iter()
        .map(|f| {
            let (status, detail) = match &f.status {
                Status::Pass => (BaselineState::Pass, String::new()),
                Status::Fail { observed } => (BaselineState::Fail, observed.clone()),
                Status::Excepted { observed, reason, expires } => {
                    (BaselineState::Excepted, format!("{reason} (until {expires}); seen: {observed}"))
                }
                Status::ExceptionExpired { observed, reason, expired } => {
                    (BaselineState::ExceptionExpired, format!("{observed} — the exception ({reason}) expired on {expired}"))
                }
                Status::NotApplicable { reason } => (BaselineState::NotApplicable, reason.clone()),
                Status::Unknown { missing } => {
                    (BaselineState::Unknown, format!("{} absent from the cluster payload", missing.join(", ")))
                }
            };
            let failing = status.is_failing();
            BaselineItem {
                check: f.check.id.to_string(),
                title: f.check.title.to_string(),
                severity: f.severity.as_str().to_string(),
                status,
                detail,
                fix: failing.then(|| f.check.fix_for(cluster)),
                doc: Some(f.check.doc.to_string()),
                since: if failing { memory.failing.get(f.check.id).copied() } else { None },
                due: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{CATALOGUE, Severity};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn finding(i: usize, failing: bool) -> Finding {
        let check = &CATALOGUE[i];
        let status = if failing { Status::Fail { observed: "off".into() } } else { Status::Pass };
        Finding { check, severity: Severity::High, status }
    }

    #[test]
    fn a_check_that_keeps_failing_keeps_its_since_and_the_episode_stays_open() {
        let first = observe(None, &[finding(0, true), finding(1, false)], t("2026-01-01T00:00:00Z"));
        assert_eq!(first.opened, Some(t("2026-01-01T00:00:00Z")));
        let second = observe(Some(&first), &[finding(0, true), finding(1, true)], t("2026-01-02T00:00:00Z"));
        assert_eq!(second.failing[CATALOGUE[0].id], t("2026-01-01T00:00:00Z"));
        assert_eq!(second.failing[CATALOGUE[1].id], t("2026-01-02T00:00:00Z"));
        assert_eq!(second.opened, first.opened);
        assert!(resolutions(&first, &second).is_empty());
    }

    #[test]
    fn a_fixed_check_resolves_its_concern_and_the_last_fix_closes_the_checklist() {
        let first = observe(None, &[finding(0, true), finding(1, true)], t("2026-01-01T00:00:00Z"));
        let second = observe(Some(&first), &[finding(0, false), finding(1, true)], t("2026-01-02T00:00:00Z"));
        assert_eq!(resolutions(&first, &second), vec![(ConcernKind::Baseline, format!("{}@2026-01-01T00:00Z", CATALOGUE[0].id))]);
        let third = observe(Some(&second), &[finding(0, false), finding(1, false)], t("2026-01-03T00:00:00Z"));
        assert_eq!(third, BaselineMemory::default());
        assert_eq!(
            resolutions(&second, &third),
            vec![
                (ConcernKind::Baseline, format!("{}@2026-01-01T00:00Z", CATALOGUE[1].id)),
                (ConcernKind::Baseline, "checklist@2026-01-01T00:00Z".to_string()),
            ]
        );
    }

    #[test]
    fn failing_again_after_a_fix_is_a_new_concern_in_a_new_episode() {
        let first = observe(None, &[finding(0, true)], t("2026-01-01T00:00:00Z"));
        let fixed = observe(Some(&first), &[finding(0, false)], t("2026-01-02T00:00:00Z"));
        let again = observe(Some(&fixed), &[finding(0, true)], t("2026-01-03T00:00:00Z"));
        assert_ne!(check_target(CATALOGUE[0].id, first.failing[CATALOGUE[0].id]), check_target(CATALOGUE[0].id, again.failing[CATALOGUE[0].id]));
        assert_eq!(again.opened, Some(t("2026-01-03T00:00:00Z")));
    }

    #[test]
    fn targets_name_their_check_or_the_checklist() {
        let at = t("2026-01-01T09:30:00Z");
        assert_eq!(check_of_target(&check_target("private-api-server", at)), Some("private-api-server"));
        assert_eq!(check_of_target(&checklist_target(at)), None);
        assert!(is_checklist_target(&checklist_target(at)));
        assert!(!is_checklist_target(&check_target("x", at)));
        assert_eq!(check_of_target("no-at-sign"), None);
    }

    #[test]
    fn items_carry_since_and_fix_for_failing_checks_only() {
        let cluster = ClusterId::from_parts("s", "rg-a", "aks-a");
        let findings = [finding(0, true), finding(1, false)];
        let memory = observe(None, &findings, t("2026-01-01T00:00:00Z"));
        let items = items(&cluster, &findings, &memory);
        assert_eq!(items[0].status, BaselineState::Fail);
        assert_eq!(items[0].since, Some(t("2026-01-01T00:00:00Z")));
        assert!(items[0].fix.as_deref().is_some_and(|f| !f.contains("<cluster>")), "{:?}", items[0].fix);
        assert_eq!(items[1].status, BaselineState::Pass);
        assert_eq!((items[1].since, items[1].fix.as_deref()), (None, None));
    }
}
