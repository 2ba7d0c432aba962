//! Ring release by a person: a failed upgrade in an earlier ring stops its target for the later
//! rings (`policy::rings::gate`) until a newer target appears or a person with write access
//! releases it. Pure: the held cluster's issue activity comes in (read by
//! `actions::github::approvals`, as approvals are), a decision comes out. Table-tested below.
//!
//! The rules:
//! 1. a release is given on the GitHub issue of a cluster the stop holds, by applying the release
//!    label (`release_label`, default `aks-cadence/release`; its latest `labeled` event while the
//!    label is on the issue) or by a comment with a line `/release`;
//! 2. only a user with write access releases (checked through the API, as for approvals); a
//!    non-writer's label or comment does nothing; an author whose access could not be read
//!    counts as no release (the cause is logged, the target stays stopped);
//! 3. only a release given at or after the stop began (the first failure of the target in the
//!    stopping ring) counts: a label left from an earlier target does not release a new one;
//! 4. the earliest such release by a writer is the release: it is per target and fleet-wide
//!    (kept once in the ledger under [`RECORD_KEY`], channel [`record_channel`]), so every
//!    later ring moves on, and removing the label later does not stop the target again.
//!
//! A release lifts the failure's stop only: the soak rule still applies (the stopping ring's
//! clusters must run the target, or newer, for `soak_days`).
//!
//! Layer: core: pure, no IO (`tests/core_imports.rs`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::approval::{Access, IssueActivity, Via};
use crate::action::{Action, ActionKey, Stage};
use crate::domain::Concern;

/// A target a failed upgrade in an earlier ring stops on one cluster of this run: the concern
/// whose GitHub issue can release it, since when it is stopped, and where and how to release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub concern: Concern,
    /// The version or node image stopped (as the ring gate names it).
    pub target: String,
    /// The ring whose failed upgrade stops it.
    pub ring: String,
    /// The first failure of the target in that ring: releases count from then on.
    pub since: Timestamp,
    /// `owner/name` of the concern's issue (the first issue channel of the rules that apply);
    /// `None` when no rule opens issues for the cluster (nowhere to release it).
    pub repo: Option<String>,
    /// The label that releases (`release_label` of the cluster's policy).
    pub label: String,
}

/// Whether a target is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Released { by: String, at: Timestamp, via: Via },
    NotReleased,
    /// Every release found was given by someone whose access could not be read: why.
    Unknown { cause: String },
}

/// A comment's command: a line that is exactly `/release` (case and surrounding space ignored).
fn releases(body: &str) -> bool {
    body.lines().any(|l| l.trim().eq_ignore_ascii_case("/release"))
}

/// The logins whose access [`decide`] needs: authors of `/release` comments and whoever applied
/// the release label, each once.
pub fn authors_to_check(activity: &IssueActivity, label: &str) -> Vec<String> {
    let mut out: Vec<String> = activity
        .comments
        .iter()
        .filter(|c| releases(&c.body))
        .map(|c| c.author.to_ascii_lowercase())
        .chain(activity.events.iter().filter(|e| e.added && e.label.eq_ignore_ascii_case(label)).map(|e| e.actor.to_ascii_lowercase()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether the issue's activity releases the target stopped since `since`. See the module docs.
pub fn decide(activity: &IssueActivity, label: &str, since: Timestamp) -> Decision {
    let on_issue = activity.labels.iter().any(|l| l.eq_ignore_ascii_case(label));
    let labeled = activity.events.iter().filter(|e| e.added && e.label.eq_ignore_ascii_case(label)).max_by_key(|e| e.at).filter(|_| on_issue);
    let mut given: Vec<(Timestamp, &str, Via)> =
        activity.comments.iter().filter(|c| releases(&c.body)).map(|c| (c.at, c.author.as_str(), Via::Comment)).collect();
    given.extend(labeled.map(|e| (e.at, e.actor.as_str(), Via::Label)));
    given.retain(|(at, ..)| *at >= since);
    given.sort_by_key(|(at, ..)| *at);
    let mut unknown = None;
    for (at, who, via) in given {
        match activity.access.get(&who.to_ascii_lowercase()) {
            Some(Access::Writer) => return Decision::Released { by: who.to_string(), at, via },
            Some(Access::NotWriter) => {}
            Some(Access::Unknown(cause)) => unknown = unknown.or(Some(cause.clone())),
            None => unknown = unknown.or(Some(format!("the access of @{who} was not read"))),
        }
    }
    unknown.map_or(Decision::NotReleased, |cause| Decision::Unknown { cause })
}

/// The ledger key of every release (fleet-wide: a release is per target, not per cluster).
pub const RECORD_KEY: &str = "aks-cadence#rings";

/// The ledger channel (under [`RECORD_KEY`]) of the release of `target`.
pub fn record_channel(target: &str) -> String {
    format!("release:{}", target.to_ascii_lowercase())
}

/// Who released a target, when, how and where: kept in the ledger, told on the issue once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub target: String,
    /// The ring whose failed upgrade stopped it.
    pub ring: String,
    pub by: String,
    pub at: Timestamp,
    pub via: Via,
    /// The issue it was given on.
    pub url: String,
    /// The concern of that issue (where the release is told).
    #[serde(skip)]
    pub concern: Option<Concern>,
}

impl Release {
    pub fn from_stored(value: &str) -> Option<Self> {
        serde_json::from_str(value).ok()
    }
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).expect("a release serializes")
    }

    /// "released by @alice at 2026-01-19 10:30 UTC (label)".
    pub fn said(&self) -> String {
        let via = match self.via {
            Via::Label => "label",
            Via::Comment => "/release comment",
        };
        format!("released by @{} at {} ({via})", self.by, crate::action::minute(self.at))
    }
}

/// What the issue of a cluster a failure stop holds says about releasing it.
pub fn how_to_release(label: &str) -> String {
    format!(
        "To release it for every later ring, a user with write access applies the label `{label}` or comments `/release` on this issue; a newer target needs no release."
    )
}

/// The message that tells the issue a target was released: its latest message (`told`: the
/// notice, reminder or overdue) as an update, keyed by the release so that it is told once.
pub fn echo(told: &Action, release: &Release) -> Action {
    let mut echo = told.clone();
    echo.stage = Stage::Update;
    echo.hold = None;
    let fact = super::digest(&["released", &release.target, &release.by, &release.at.to_string()]);
    echo.key = ActionKey::new(&told.concern, &format!("{}~{fact}", told.kind.channel()), Stage::Update);
    echo.note = Some(format!(
        "{} is {}: the upgrade to it had failed in ring {}. Later rings take it again once ring {} has run it for its soak.",
        release.target,
        release.said(),
        release.ring,
        release.ring
    ));
    echo
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::approval::{IssueComment, LabelEvent};

    const LABEL: &str = "aks-cadence/release";

    fn t(s: &str) -> Timestamp {
        format!("2026-01-19T{s}:00Z").parse().unwrap()
    }
    fn labeled(at: &str, who: &str, label: &str) -> LabelEvent {
        LabelEvent { at: t(at), actor: who.into(), label: label.into(), added: true }
    }
    fn comment(at: &str, who: &str, body: &str) -> IssueComment {
        IssueComment { at: t(at), author: who.into(), body: body.into() }
    }
    /// alice and bob write; mallory reads; eve's access could not be read.
    fn activity(labels: &[&str], events: Vec<LabelEvent>, comments: Vec<IssueComment>) -> IssueActivity {
        let access: BTreeMap<String, Access> = [
            ("alice", Access::Writer),
            ("bob", Access::Writer),
            ("mallory", Access::NotWriter),
            ("eve", Access::Unknown("GET …/collaborators/eve/permission: HTTP 502".into())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        IssueActivity { url: "https://github.example/o/r/issues/2".into(), labels: labels.iter().map(|l| l.to_string()).collect(), events, comments, access }
    }

    #[test]
    fn a_writers_label_or_release_comment_after_the_failure_releases_the_target() {
        let since = t("09:00");
        let released = |by: &str, at: &str, via| Decision::Released { by: by.into(), at: t(at), via };
        let cases: Vec<(&str, IssueActivity, Decision)> = vec![
            ("nothing yet", activity(&[], vec![], vec![]), Decision::NotReleased),
            ("label by a writer", activity(&[LABEL], vec![labeled("10:30", "alice", LABEL)], vec![]), released("alice", "10:30", Via::Label)),
            ("label by a non-writer", activity(&[LABEL], vec![labeled("10:30", "mallory", LABEL)], vec![]), Decision::NotReleased),
            ("/release by a non-writer does nothing", activity(&[], vec![], vec![comment("10:00", "mallory", "/release")]), Decision::NotReleased),
            ("/release by a writer", activity(&[], vec![], vec![comment("10:00", "Bob", "checked the drain\n/release\n")]), released("Bob", "10:00", Via::Comment)),
            ("prose mentioning /release is not a command", activity(&[], vec![], vec![comment("10:00", "alice", "comment /release when ready")]), Decision::NotReleased),
            ("label applied then removed", activity(&[], vec![labeled("10:30", "alice", LABEL)], vec![]), Decision::NotReleased),
            (
                "a writer's later label of another name is not the release label",
                activity(&[LABEL], vec![labeled("10:30", "mallory", LABEL), labeled("11:00", "alice", "needs-review")], vec![]),
                Decision::NotReleased,
            ),
            ("an approval label is not a release", activity(&["aks-cadence/approved"], vec![labeled("10:30", "alice", "aks-cadence/approved")], vec![comment("10:40", "alice", "/approve")]), Decision::NotReleased),
            ("a release before the failure does not count", activity(&[LABEL], vec![labeled("08:00", "alice", LABEL)], vec![comment("08:30", "bob", "/release")]), Decision::NotReleased),
            (
                "the earliest writer's release is the release",
                activity(&[LABEL], vec![labeled("11:00", "alice", LABEL)], vec![comment("10:00", "mallory", "/release"), comment("10:15", "bob", "/release")]),
                released("bob", "10:15", Via::Comment),
            ),
            (
                "an unreadable author does not hide a writer's release",
                activity(&[], vec![], vec![comment("10:00", "eve", "/release"), comment("10:15", "alice", "/release")]),
                released("alice", "10:15", Via::Comment),
            ),
            (
                "only unreadable authors: unknown, with the cause",
                activity(&[], vec![], vec![comment("10:00", "eve", "/release")]),
                Decision::Unknown { cause: "GET …/collaborators/eve/permission: HTTP 502".into() },
            ),
            (
                "an author never read is never a writer",
                activity(&[], vec![], vec![comment("10:00", "zed", "/release")]),
                Decision::Unknown { cause: "the access of @zed was not read".into() },
            ),
        ];
        for (name, activity, want) in cases {
            assert_eq!(decide(&activity, LABEL, since), want, "{name}");
        }
    }

    #[test]
    fn only_authors_of_releases_are_checked() {
        let a = activity(
            &[LABEL],
            vec![labeled("10:00", "Alice", LABEL), labeled("10:00", "carol", "aks-cadence/approved")],
            vec![comment("10:00", "dave", "thanks"), comment("10:05", "bob", "/release"), comment("10:06", "erin", "/approve")],
        );
        assert_eq!(authors_to_check(&a, LABEL), vec!["alice".to_string(), "bob".to_string()]);
    }

    #[test]
    fn a_release_is_recorded_per_target_and_said_with_who_and_when() {
        let r = Release {
            target: "1.24.9".into(),
            ring: "dev".into(),
            by: "alice".into(),
            at: t("10:30"),
            via: Via::Label,
            url: "https://github.example/o/r/issues/2".into(),
            concern: None,
        };
        assert_eq!(Release::from_stored(&r.to_stored()), Some(r.clone()));
        assert_eq!(r.said(), "released by @alice at 2026-01-19 10:30 UTC (label)");
        assert_eq!(record_channel("AKSUbuntu-2204gen2containerd-202405.03.0"), "release:aksubuntu-2204gen2containerd-202405.03.0");
    }
}
