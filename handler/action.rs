//! Planned actions: what the planner decides and the executor carries out. Plain data, so a plan
//! can be printed (dry-run), diffed and tested before anything runs.
//!
//! Layer: core: actions and holds as data; pure, no IO.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::{Concern, Signal};
use crate::json_text::escape;

/// The idempotency key of one action:
/// `"<concern key>/<channel>/<stage>"` (see [`Concern::key`]). It never contains an event id, so
/// the same fact arriving by event, by retry and by sweep maps to the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ActionKey(String);

impl ActionKey {
    pub fn new(concern: &Concern, channel: &str, stage: Stage) -> Self {
        let (mut key, stage) = (concern.key(), stage.as_str());
        key.reserve(channel.len() + stage.len() + 2);
        key.push('/');
        key.push_str(channel);
        key.push('/');
        key.push_str(stage);
        Self(key)
    }
    /// Wraps an already-built key (read back from a ledger).
    pub fn from_raw(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ActionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a concern stands on the escalation ladder when this action is planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// First notice: the target became available / the fact became known.
    Notice,
    /// Reminder before the cadence deadline.
    Reminder,
    /// The deadline has passed.
    Overdue,
    /// New facts about an already-notified concern (comment + refreshed body). The key of an
    /// update includes a fact digest in its channel part so each distinct fact is told once.
    Update,
    /// Carry out the change itself (upgrade / rotation) — only when policy enables it.
    Execute,
    /// The concern is resolved: close what is open.
    Resolve,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notice => "notice",
            Self::Reminder => "reminder",
            Self::Overdue => "overdue",
            Self::Update => "update",
            Self::Execute => "execute",
            Self::Resolve => "resolve",
        }
    }
}

/// Chat destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatKind {
    Teams,
    Slack,
    Webhook,
}

/// How a pull request finds the version to bump inside a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum VersionLocator {
    /// A key name (`kubernetesVersion`, `kubernetes_version`, `param k8sVersion`, …) whose value
    /// on the same line is the version string.
    Key { key: String },
    /// A regular expression with exactly one capture group around the version.
    Pattern { pattern: String },
}

/// What kind of change an upgrade action makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum UpgradeScope {
    /// `upgradeNodeImageVersion` on one pool.
    NodeImage { pool: String },
    /// Control plane (and pools following) to a newer patch of the same minor.
    Patch,
    /// Control plane (and pools following) to the next minor.
    Minor,
}

/// What to do. Secrets are never here: chat URLs and credentials are referenced by the *name*
/// of the setting that holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ActionKind {
    /// Only log/print (the built-in notify-only default).
    Log,
    GithubIssue {
        repo: String,
        #[serde(default)]
        labels: Vec<String>,
        #[serde(default)]
        assignees: Vec<String>,
    },
    /// Close the concern's GitHub issue (stage `Resolve`).
    GithubClose { repo: String },
    /// Escalation routing: add a stage's extra labels and assignees (`[rule.overdue]`, …) to
    /// the concern's GitHub issue — one action per repository and stage, with its own key.
    GithubEscalation {
        repo: String,
        #[serde(default)]
        labels: Vec<String>,
        #[serde(default)]
        assignees: Vec<String>,
    },
    GithubPullRequest {
        repo: String,
        path: String,
        locator: VersionLocator,
        /// Target branch; the repository's default branch when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<String>,
        /// The version to write into the file.
        version: String,
    },
    Email { to: Vec<String> },
    Chat { chat: ChatKind, url_setting: String },
    Upgrade { upgrade: UpgradeScope, target: String },
    RotateCertificates,
}

impl ActionKind {
    /// The channel name used in keys, logs and dry-run output.
    pub fn channel(&self) -> String {
        match self {
            Self::Log => "log".into(),
            Self::GithubIssue { repo, .. } => format!("github-issue:{}", repo.to_ascii_lowercase()),
            Self::GithubClose { repo } => format!("github-close:{}", repo.to_ascii_lowercase()),
            Self::GithubEscalation { repo, .. } => format!("github-escalation:{}", repo.to_ascii_lowercase()),
            Self::GithubPullRequest { repo, path, .. } => {
                format!("github-pr:{}:{}", repo.to_ascii_lowercase(), path)
            }
            Self::Email { to } => {
                let mut to: Vec<String> = to.iter().map(|t| t.to_ascii_lowercase()).collect();
                to.sort();
                format!("email:{}", to.join(","))
            }
            Self::Chat { chat, url_setting } => format!("{}:{}", chat_name(*chat), url_setting),
            Self::Upgrade { upgrade, target } => match upgrade {
                UpgradeScope::NodeImage { pool } => format!("upgrade-node-image:{pool}:{target}"),
                UpgradeScope::Patch => format!("upgrade-patch:{target}"),
                UpgradeScope::Minor => format!("upgrade-minor:{target}"),
            },
            Self::RotateCertificates => "rotate-certificates".into(),
        }
    }
    /// Short name of the action type (`github_issue`, `email`, …) as in dry-run output.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::GithubIssue { .. } => "github_issue",
            Self::GithubClose { .. } => "github_close",
            Self::GithubEscalation { .. } => "github_escalation",
            Self::GithubPullRequest { .. } => "github_pull_request",
            Self::Email { .. } => "email",
            Self::Chat { chat, .. } => match chat {
                ChatKind::Teams => "teams",
                ChatKind::Slack => "slack",
                ChatKind::Webhook => "webhook",
            },
            Self::Upgrade { .. } => "upgrade",
            Self::RotateCertificates => "rotate_certificates",
        }
    }
    /// Whether this is a message to people that digests group (email, Teams, Slack, webhook).
    pub fn is_notification(&self) -> bool {
        matches!(self, Self::Email { .. } | Self::Chat { .. })
    }
    /// Whether carrying this out changes a cluster.
    pub fn changes_cluster(&self) -> bool {
        matches!(self, Self::Upgrade { .. } | Self::RotateCertificates)
    }
}

fn chat_name(c: ChatKind) -> &'static str {
    match c {
        ChatKind::Teams => "teams",
        ChatKind::Slack => "slack",
        ChatKind::Webhook => "webhook",
    }
}

/// Why a cluster-changing action is not carried out now. Dry-run prints these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "gate", rename_all = "snake_case")]
pub enum Hold {
    /// Policy does not allow this change (notify-only).
    PolicyNotifyOnly,
    /// Policy allows it only from this time (cadence: `auto_after`).
    NotBefore { at: Timestamp },
    /// No maintenance window is open now; the next one opens at `next` (if known).
    OutsideWindow {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<Timestamp>,
    },
    /// No window is known for this change, for a reason a sweep could name (`cause`): the
    /// cluster's maintenance configurations could not be read, one did not parse, or the
    /// cluster's own configurations govern no window for this change (the policy's window is
    /// then not used). `OutsideWindow { next: None }` is "none is defined anywhere".
    WindowUnknown { cause: String },
    /// The open window closes before the operation could finish.
    WindowTooShort { closes: Timestamp },
    /// The cluster is not `Succeeded` and running.
    ClusterNotReady { state: String },
    /// Another operation is in progress.
    Busy,
    /// The target is not offered in the region.
    TargetNotOffered { target: String },
    /// An AKS auto-upgrade channel applies this change (`policy::channels`): aks-cadence
    /// never starts it (`respect_aks_channels`).
    AksChannel {
        /// `upgradeChannel patch`, `nodeOSUpgradeChannel NodeImage`.
        channel: String,
        /// The maintenance configuration AKS waits for (`aksManagedAutoUpgradeSchedule`, …).
        schedule: String,
        /// When that window next opens, if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<Timestamp>,
    },
    /// An earlier ring (`policy::rings`) has not finished soaking the target: its clusters still
    /// `waiting`, and when the soak ends (`until`) when every one of them already runs it.
    /// `failed`: the upgrade to this target failed there; it waits for a newer target or a
    /// person's release.
    Ring {
        ring: String,
        waiting: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        failed: bool,
    },
    /// The upgrade is not ready (`crate::readiness`): each problem with its numbers (needed vs
    /// available), and the checks that could not be read (holding only when policy
    /// `[readiness] hold_when_unknown` says so).
    Readiness {
        problems: Vec<crate::readiness::Problem>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unknown: Vec<String>,
    },
    /// Policy requires approval on the concern's GitHub issue (`approval = "github"`) and none
    /// was given for this target yet (`crate::plan::approval`). `url`: the issue, once known;
    /// `cause`: why the approval state could not be read (the change holds).
    AwaitingApproval {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cause: Option<String>,
    },
    /// A person with write access put the change on hold (hold label or `/hold`).
    ApprovalHeld { by: String, url: String },
    /// The concern's infrastructure-code pull request (`pr`, its web address) is merged: the IaC
    /// pipeline applies the change, aks-cadence never starts it and watches for it to land.
    HandledByIac { pr: String },
}

/// A time as plans, messages and digests show it: `2026-03-01 09:30 UTC`.
pub fn minute(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

impl Hold {
    /// The one human line for a hold: plans (`held: …`), dry-run output and the adapter's
    /// `Deferred` reason all say the same.
    pub fn describe(&self) -> String {
        let minute = |t: &Timestamp| minute(*t);
        match self {
            Self::PolicyNotifyOnly => "policy is notify-only for this change".into(),
            Self::NotBefore { at } => format!("policy allows it from {}", minute(at)),
            Self::OutsideWindow { next: Some(next) } => format!("outside the maintenance window; next opens {}", minute(next)),
            Self::OutsideWindow { next: None } => {
                "no maintenance window is known (define one in AKS or in policy [rule.upgrade.window])".into()
            }
            Self::WindowUnknown { cause } => format!("no maintenance window is known: {cause}"),
            Self::WindowTooShort { closes } => format!("the open window closes at {}, too soon to start", minute(closes)),
            Self::ClusterNotReady { state } => format!("the cluster is not ready ({state})"),
            Self::Busy => "another operation is in progress on the cluster".into(),
            Self::TargetNotOffered { target } => format!("{target} is not offered in the region"),
            Self::AksChannel { channel, schedule, next: Some(next) } => {
                format!("AKS applies this through {channel} ({schedule}); next window opens {}", minute(next))
            }
            Self::AksChannel { channel, schedule, next: None } => format!("AKS applies this through {channel} ({schedule})"),
            Self::Ring { ring, waiting, until, failed } => {
                let clusters = waiting.join(", ");
                match (failed, until) {
                    (true, _) => format!(
                        "the upgrade to this target failed in ring {ring} ({clusters}); it waits for a newer target, or a release by a user with write access (the release label or /release on this cluster's issue)"
                    ),
                    (false, Some(until)) => format!("ring {ring} soaks this target until {} (waiting: {clusters})", minute(until)),
                    (false, None) => format!("ring {ring} has not taken this target yet (waiting: {clusters})"),
                }
            }
            Self::Readiness { problems, unknown } => {
                let mut parts: Vec<String> = problems.iter().map(crate::readiness::Problem::describe).collect();
                parts.extend(unknown.iter().map(|u| format!("unknown: {u}")));
                format!("not ready: {}", parts.join("; "))
            }
            Self::AwaitingApproval { url, cause } => {
                let on = url.as_deref().map_or_else(|| "on the concern's GitHub issue".to_string(), |u| format!("on {u}"));
                match cause {
                    Some(cause) => format!("awaiting approval {on}; the approval state could not be read: {cause}"),
                    None => format!("awaiting approval {on} (a user with write access applies the approval label or comments /approve)"),
                }
            }
            Self::ApprovalHeld { by, url } => format!("held by @{by} on {url}"),
            Self::HandledByIac { pr } => format!("handled through infrastructure code: {pr} is merged"),
        }
    }
}

/// One planned action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub key: ActionKey,
    pub concern: Concern,
    pub stage: Stage,
    pub kind: ActionKind,
    /// One line for a human: "prod-weu: upgrade 1.30.4 → 1.30.7 (patch) available".
    pub summary: String,
    /// The signal that led to this action (its facts feed the rendered messages).
    pub signal: Signal,
    /// When the concern was first seen for this cluster (from the ledger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<Timestamp>,
    /// The cadence deadline, when policy sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    /// For cluster-changing actions: what holds it back now. `None` = may run now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
    /// The cluster's maintenance window as known when planning (for messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<crate::policy::windows::WindowStatus>,
    /// An extra line for the message that does not change what the concern is called (the
    /// title stays the summary): e.g. why another action for this concern failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// For a `Resolve` that closes a concern because a newer one of its lineage replaced it
    /// (see `plan`, "Lineages"): the concern that replaces it, so the close can link to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<Concern>,
}

impl Action {
    /// Builds an action with its key derived from concern, channel and stage.
    pub fn new(concern: Concern, stage: Stage, kind: ActionKind, summary: String, signal: Signal) -> Self {
        let key = ActionKey::new(&concern, &kind.channel(), stage);
        Self { key, concern, stage, kind, summary, signal, first_seen: None, deadline: None, hold: None, window: None, note: None, superseded_by: None }
    }

    /// [`Action::dry_run_line`] as JSON text, written straight from the action (no
    /// intermediate `Value`): what the host's `dry-run: planned` log line carries, once per
    /// planned action on the event path. The same keys and values, keys in the same (sorted)
    /// order, strings escaped as `serde_json` escapes them (`json_text`); objects nested in
    /// `detail` and `held_by` keep their declaration order.
    pub fn dry_run_json(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(256 + self.summary.len() + 2 * self.key.as_str().len());
        let string = |out: &mut String, name: &str, value: &str| {
            out.push_str(name);
            escape(out, value);
        };
        let time = |out: &mut String, name: &str, value: Option<Timestamp>| {
            if let Some(t) = value {
                // A timestamp's text (RFC 3339) has nothing to escape.
                let _ = write!(out, "{name}\"{t}\"");
            }
        };
        string(&mut out, "{\"action\":", self.kind.name());
        string(&mut out, ",\"cluster\":", self.concern.cluster.as_str());
        string(&mut out, ",\"concern\":", self.concern.kind.as_str());
        time(&mut out, ",\"deadline\":", self.deadline);
        out.push_str(",\"detail\":");
        out.push_str(&serde_json::to_string(&self.kind).expect("an action kind serializes"));
        time(&mut out, ",\"first_seen\":", self.first_seen);
        if let Some(hold) = &self.hold {
            out.push_str(",\"held_by\":");
            out.push_str(&serde_json::to_string(hold).expect("a hold serializes"));
        }
        string(&mut out, ",\"key\":", self.key.as_str());
        if let Some(note) = &self.note {
            string(&mut out, ",\"note\":", note);
        }
        string(&mut out, ",\"signal\":", self.signal.kind.name());
        string(&mut out, ",\"stage\":", self.stage.as_str());
        string(&mut out, ",\"summary\":", &self.summary);
        string(&mut out, ",\"target\":", &self.concern.target);
        out.push('}');
        out
    }

    /// The dry-run line: at least `action`, `cluster`, `key`, `signal`, `summary`.
    pub fn dry_run_line(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "action": self.kind.name(),
            "cluster": self.concern.cluster.as_str(),
            "concern": self.concern.kind.as_str(),
            "target": self.concern.target,
            "stage": self.stage.as_str(),
            "key": self.key.as_str(),
            "signal": self.signal.kind.name(),
            "summary": self.summary,
            "detail": self.kind,
        });
        let obj = v.as_object_mut().expect("object");
        if let Some(t) = self.first_seen {
            obj.insert("first_seen".into(), t.to_string().into());
        }
        if let Some(t) = self.deadline {
            obj.insert("deadline".into(), t.to_string().into());
        }
        if let Some(h) = &self.hold {
            obj.insert("held_by".into(), serde_json::to_value(h).expect("hold serializes"));
        }
        if let Some(n) = &self.note {
            obj.insert("note".into(), n.clone().into());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClusterId, ConcernKind, Origin, SignalKind};

    /// The dry-run text as `serde_json` writes it from a struct of the same fields (what
    /// `dry_run_json` did before it wrote the text itself).
    fn through_serde(a: &Action) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            action: &'a str,
            cluster: &'a str,
            concern: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            deadline: Option<Timestamp>,
            detail: &'a ActionKind,
            #[serde(skip_serializing_if = "Option::is_none")]
            first_seen: Option<Timestamp>,
            #[serde(skip_serializing_if = "Option::is_none")]
            held_by: Option<&'a Hold>,
            key: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            note: Option<&'a str>,
            signal: &'a str,
            stage: &'a str,
            summary: &'a str,
            target: &'a str,
        }
        serde_json::to_string(&Line {
            action: a.kind.name(),
            cluster: a.concern.cluster.as_str(),
            concern: a.concern.kind.as_str(),
            deadline: a.deadline,
            detail: &a.kind,
            first_seen: a.first_seen,
            held_by: a.hold.as_ref(),
            key: a.key.as_str(),
            note: a.note.as_deref(),
            signal: a.signal.kind.name(),
            stage: a.stage.as_str(),
            summary: &a.summary,
            target: &a.concern.target,
        })
        .unwrap()
    }

    #[test]
    fn the_dry_run_text_is_byte_for_byte_what_serde_json_writes() {
        let cluster = ClusterId::from_parts("sub-1", "rg \"quoted\"", "aks\\prod");
        let signal = Signal {
            cluster: cluster.clone(),
            facts: Default::default(),
            kind: SignalKind::SupportEnded { kubernetes_version: "1.29.4".into() },
            observed_at: "2026-03-01T08:00:00.123456789Z".parse().unwrap(),
            origin: Origin::Manual,
        };
        let concern = Concern::new(cluster, ConcernKind::Support, "1.29\n\u{1}é");
        let kinds = [
            ActionKind::Log,
            ActionKind::GithubIssue { repo: "org/ops".into(), labels: vec!["a\"b".into()], assignees: vec![] },
            ActionKind::Email { to: vec!["ops@example.com".into()] },
            ActionKind::RotateCertificates,
        ];
        let mut checked = 0;
        for (i, kind) in kinds.into_iter().enumerate() {
            let mut a = Action::new(concern.clone(), Stage::Overdue, kind, format!("summary {i}: \"1.29\" → 1.30\t\\ 日本"), signal.clone());
            assert_eq!(a.dry_run_json(), through_serde(&a));
            a.first_seen = Some("2026-02-01T00:00:00Z".parse().unwrap());
            a.deadline = Some("2026-04-01T12:30:00.5Z".parse().unwrap());
            a.note = Some("the pull request failed: \"422\"\n".into());
            a.hold = Some(if i % 2 == 0 { Hold::Busy } else { Hold::ClusterNotReady { state: "provisioningState \"Updating\"".into() } });
            assert_eq!(a.dry_run_json(), through_serde(&a));
            let value: serde_json::Value = serde_json::from_str(&a.dry_run_json()).unwrap();
            assert_eq!(value, a.dry_run_line());
            checked += 1;
        }
        assert_eq!(checked, 4);
    }
}
