//! The GitHub adapter: one issue per concern, kept up to date, closed when resolved; pull
//! requests that bump a cluster's version in infrastructure code.
//!
//! ```text
//! mod.rs     GithubActuator (the Actuator), markers, ledger refs
//! client.rs  octocrab transport + auth, error classification, pagination
//! approvals.rs  reads an issue's labels, label events, comments and authors' access (approvals)
//! budget.rs  the client-side content-creation budget (≤ 80/min, ≤ 500/h)
//! issues.rs  find-or-create, comment + refresh, close
//! dashboard.rs  the fleet dashboard issue, edited in place when its content changed
//! pulls.rs   branch, commit, open or update the pull request
//! ```
//!
//! ## Why a replay is safe
//! The executor claims an action key before calling us and records the outcome after; a replay
//! of a recorded key never reaches this adapter. What remains is a crash *between* acting and
//! recording, after which the same action arrives again. Every step here is therefore either
//! naturally idempotent or preceded by its own look-up:
//! - creating an issue: the concern's issue is looked up first — ledger ref, then the open issues
//!   carrying our label (strongly consistent), then the search API (eventually consistent, also
//!   finds closed or unlabelled ones) — by the hidden marker `<!-- aks-cadence:concern=KEY -->`;
//! - commenting: each comment carries `<!-- aks-cadence:action=ACTION_KEY -->` and the issue's
//!   latest comments are checked for it first;
//! - refreshing a body, closing: the same request twice leaves the same state;
//! - a stage's labels and assignees (escalation routing): only those the issue does not carry
//!   yet are added, and adding one twice leaves the issue as it is;
//! - pull requests: the branch name is derived from (cluster, file), an existing branch is reused
//!   (422 "Reference already exists"), a file already at the version is not committed again, and an
//!   open PR for the branch is updated instead of opening another.

mod approvals;
mod budget;
mod client;
pub mod dashboard;
mod issues;
mod pulls;

use std::sync::Arc;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

pub use approvals::GithubApprovals;
pub use budget::{ContentBudget, TokenBucket};
pub use client::classify;
pub use issues::issue_body;
pub use pulls::branch_name;
use client::GithubClient;

use super::{Actuator, Performed};
use crate::action::{Action, ActionKey, ActionKind, Stage};
use crate::domain::Concern;
use crate::error::ActionError;
use crate::settings::{Settings, SettingsError};
use crate::store::{Ledger, LedgerError};

/// The label every issue we open carries; listing open issues by it is how a crashed attempt's
/// issue is found again without relying on the (eventually consistent) search index.
pub const LABEL: &str = "aks-cadence";

/// Carries out `GithubIssue`, `GithubClose`, `GithubEscalation` and `GithubPullRequest` actions.
pub struct GithubActuator {
    client: GithubClient,
    ledger: Arc<dyn Ledger>,
}

impl std::fmt::Debug for GithubActuator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubActuator").field("client", &self.client).finish_non_exhaustive()
    }
}

impl GithubActuator {
    /// Builds the adapter from validated settings (`GITHUB_API_URL`, `GITHUB_TOKEN` or the
    /// `GITHUB_APP_*` trio, and the content budget `GITHUB_CONTENT_PER_MINUTE`/`_PER_HOUR`).
    /// Call it inside the tokio runtime.
    pub fn new(settings: &Settings, ledger: Arc<dyn Ledger>) -> Result<Self, SettingsError> {
        let budget = ContentBudget::with_limits(settings.github_content_per_minute, settings.github_content_per_hour);
        Self::with_budget(settings, ledger, budget)
    }

    /// Like [`GithubActuator::new`] with a custom content budget (tests; GHES with other limits).
    pub fn with_budget(settings: &Settings, ledger: Arc<dyn Ledger>, budget: ContentBudget) -> Result<Self, SettingsError> {
        let auth = settings.github_auth.as_ref().ok_or_else(|| SettingsError {
            name: "GITHUB_TOKEN",
            problem: "the policy has GitHub actions but no GitHub credentials are set".into(),
            fix: "set GITHUB_TOKEN, or GITHUB_APP_ID + GITHUB_APP_PRIVATE_KEY + GITHUB_APP_INSTALLATION_ID".into(),
        })?;
        let client = GithubClient::new(&settings.github_api_url, auth, Arc::new(budget))?;
        Ok(Self { client, ledger })
    }

    async fn perform_one(&self, action: &Action) -> Performed {
        match &action.kind {
            ActionKind::GithubIssue { repo, labels, assignees } => {
                let repo = Repo::parse(repo)?;
                match action.stage {
                    Stage::Resolve => self.close_issue(action, &repo).await,
                    _ => self.issue(action, &repo, labels, assignees).await,
                }
            }
            ActionKind::GithubClose { repo } => self.close_issue(action, &Repo::parse(repo)?).await,
            ActionKind::GithubEscalation { repo, labels, assignees } => self.escalate(action, &Repo::parse(repo)?, labels, assignees).await,
            ActionKind::GithubPullRequest { repo, path, locator, base, version } => {
                let repo = Repo::parse(repo)?;
                self.pull_request(action, &repo, path, locator, base.as_deref(), version).await
            }
            other => Err(ActionError::Permanent(format!("the GitHub adapter does not handle {} actions", other.name()))),
        }
    }
}

#[async_trait]
impl Actuator for GithubActuator {
    fn name(&self) -> &'static str {
        "github"
    }

    fn handles(&self, kind: &ActionKind) -> bool {
        matches!(
            kind,
            ActionKind::GithubIssue { .. } | ActionKind::GithubClose { .. } | ActionKind::GithubEscalation { .. } | ActionKind::GithubPullRequest { .. }
        )
    }

    /// Serially, as GitHub asks of integrations (concurrent writes trip its secondary limits).
    async fn perform(&self, batch: &[Action]) -> Vec<Performed> {
        let mut out = Vec::with_capacity(batch.len());
        for action in batch {
            let result = self.perform_one(action).await;
            match &result {
                Ok(detail) => tracing::info!(key = %action.key, action = action.kind.name(), %detail, "github action done"),
                Err(e) => tracing::warn!(key = %action.key, action = action.kind.name(), error = %e, "github action failed"),
            }
            out.push(result);
        }
        out
    }
}

/// `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repo {
    pub owner: String,
    pub name: String,
}

impl Repo {
    fn parse(s: &str) -> Result<Self, ActionError> {
        let bad = || ActionError::Permanent(format!("repository `{s}` is not of the form owner/name; fix it in the policy"));
        let (owner, name) = s.trim().split_once('/').ok_or_else(bad)?;
        let ok = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok(owner) || !ok(name) {
            return Err(bad());
        }
        Ok(Self { owner: owner.to_string(), name: name.to_string() })
    }

    /// `/repos/owner/name`.
    fn api(&self) -> String {
        format!("/repos/{}/{}", self.owner, self.name)
    }

    fn full(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }
}

/// The hidden line that identifies a concern's issue: `<!-- aks-cadence:concern=KEY -->`.
pub fn concern_marker(concern: &Concern) -> String {
    format!("<!-- aks-cadence:concern={} -->", comment_safe(&concern.key()))
}

/// A single search term derived from the concern key (the search index splits the key itself
/// on its slashes and `#`s), written beside the marker so the search API can find it.
pub fn concern_digest(concern: &Concern) -> String {
    let d = Sha256::digest(concern.key().as_bytes());
    let hex: String = d.iter().take(10).map(|b| format!("{b:02x}")).collect();
    format!("akscadence{hex}")
}

/// The hidden line that identifies the comment an action posted.
pub fn action_marker(key: &ActionKey) -> String {
    format!("<!-- aks-cadence:action={} -->", comment_safe(key.as_str()))
}

/// Markers appended to every issue and pull-request body.
fn body_markers(concern: &Concern) -> String {
    format!("{}\n<!-- aks-cadence:digest={} -->\n", concern_marker(concern), concern_digest(concern))
}

fn comment_safe(s: &str) -> String {
    s.replace("--", "-\u{2010}")
}

/// Ledger channel holding the concern's issue number in one repository.
fn issue_channel(repo: &Repo) -> String {
    format!("github-issue:{}", repo.full().to_ascii_lowercase())
}

/// Ledger channel holding the number of the concern's latest pull request in one repository.
fn pull_channel(repo: &Repo) -> String {
    format!("github-pull:{}", repo.full().to_ascii_lowercase())
}

/// Ledger channel holding `owner/name#number` of the concern's issue, whichever repository
/// it is in (so a pull request in an infrastructure repository can report on it).
const ANY_ISSUE_CHANNEL: &str = "github-issue";

fn ledger_err(e: LedgerError) -> ActionError {
    match e {
        LedgerError::Unavailable(m) => ActionError::Transient(format!("ledger: {m}")),
        LedgerError::Configuration { setting, message } => ActionError::Configuration { setting, message: format!("ledger: {message}") },
        other => ActionError::Permanent(format!("ledger: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ClusterId, ConcernKind};

    #[test]
    fn markers_are_exact_and_cannot_close_early() {
        let c = Concern::new(ClusterId::from_parts("s", "rg", "prod"), ConcernKind::KubernetesUpgrade, "1.31");
        let m = concern_marker(&c);
        assert_eq!(m, "<!-- aks-cadence:concern=/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/prod#kubernetes-upgrade#1.31 -->");
        let shorter = concern_marker(&Concern::new(c.cluster.clone(), c.kind, "1.3"));
        assert!(!m.contains(&shorter), "a marker must not be a prefix of another");
        let odd = Concern::new(c.cluster.clone(), c.kind, "x-->y");
        assert_eq!(concern_marker(&odd).matches("-->").count(), 1);
        assert!(concern_digest(&c).chars().all(|ch| ch.is_ascii_alphanumeric()));
    }

    #[test]
    fn repositories_must_be_owner_slash_name() {
        assert_eq!(Repo::parse("platform/infra").unwrap().api(), "/repos/platform/infra");
        for bad in ["platform", "a/b/c", "/x", "a b/c", "a/"] {
            assert!(Repo::parse(bad).is_err(), "{bad}");
        }
    }
}
