//! Reads what the decisions of `plan::approval` and `plan::release` need from a concern's GitHub
//! issue: the issue (web address, labels now), its label events (who applied a label, when), its
//! comments (`/approve`, `/hold`, `/release`) and the repository permission of each person whose
//! decision counts.
//! Only reads: no content budget, nothing written.
//!
//! Calls, per change that every other gate lets run (so a fleet's sweep asks only about the
//! few changes that could start now), and per change a failed upgrade in an earlier ring stops
//! while nobody released its target (a release, once read, is kept in the ledger):
//! - `GET /repos/{o}/{r}/issues/{n}` — `html_url`, `labels[].name`;
//! - `GET /repos/{o}/{r}/issues/{n}/events?per_page=100` — `event` (`labeled`/`unlabeled`),
//!   `actor.login`, `label.name`, `created_at` (first page, and the last when there are more);
//! - `GET /repos/{o}/{r}/issues/{n}/comments?per_page=100` — `user.login`, `body`,
//!   `created_at` (first page, and the last when there are more);
//! - `GET /repos/{o}/{r}/collaborators/{user}/permission` — `permission` (`admin`, `write`,
//!   `read`, `none`; GitHub reports `maintain` as `write`), once per author of a decision. A 404
//!   (no such user) is "not a writer"; any other failure leaves that author's access unknown,
//!   which holds the change.
//!
//! Failures are classified where they are born (`client::classify`), as for every GitHub call.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Deserialize;

use super::client::{GithubClient, encode_component};
use super::{ContentBudget, Repo, issue_channel, ledger_err};
use crate::domain::Concern;
use crate::error::ActionError;
use crate::plan::approval::{Access, IssueActivity, IssueComment, LabelEvent, authors_to_check};
use crate::settings::{Settings, SettingsError};
use crate::store::Ledger;

#[derive(Debug, Deserialize)]
struct Login {
    login: String,
}

#[derive(Debug, Deserialize)]
struct LabelName {
    name: String,
}

#[derive(Debug, Deserialize)]
struct IssueLabels {
    html_url: String,
    #[serde(default)]
    labels: Vec<LabelName>,
}

#[derive(Debug, Deserialize)]
struct Event {
    event: String,
    #[serde(default)]
    actor: Option<Login>,
    #[serde(default)]
    label: Option<LabelName>,
    created_at: Timestamp,
}

#[derive(Debug, Deserialize)]
struct Comment {
    #[serde(default)]
    user: Option<Login>,
    #[serde(default)]
    body: Option<String>,
    created_at: Timestamp,
}

#[derive(Debug, Deserialize)]
struct Permission {
    permission: String,
}

#[derive(Debug, Deserialize)]
struct Pull {
    #[serde(default)]
    merged_at: Option<Timestamp>,
    html_url: String,
}

/// Reads approval state from GitHub issues.
pub struct GithubApprovals {
    client: GithubClient,
    ledger: Arc<dyn Ledger>,
}

impl std::fmt::Debug for GithubApprovals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubApprovals").field("client", &self.client).finish_non_exhaustive()
    }
}

impl GithubApprovals {
    /// From validated settings (`GITHUB_API_URL` and the credentials); `None` without GitHub
    /// credentials. Call it inside the tokio runtime.
    pub fn new(settings: &Settings, ledger: Arc<dyn Ledger>) -> Result<Option<Self>, SettingsError> {
        let Some(auth) = settings.github_auth.as_ref() else { return Ok(None) };
        // Reads take no content budget; the budget only guards writes.
        let budget = ContentBudget::with_limits(settings.github_content_per_minute, settings.github_content_per_hour);
        let client = GithubClient::new(&settings.github_api_url, auth, Arc::new(budget))?;
        Ok(Some(Self { client, ledger }))
    }

    /// The activity on `concern`'s issue in `repo` (`owner/name`), with the access of every
    /// author whose decision counts; `Ok(None)` when the concern has no issue there yet.
    pub async fn activity(&self, concern: &Concern, repo: &str, label: &str) -> Result<Option<IssueActivity>, ActionError> {
        self.activity_checking(concern, repo, |activity| authors_to_check(activity, label)).await
    }

    /// The activity on `concern`'s issue in `repo` for a ring release (`plan::release`): the
    /// same reads, with the access of whoever applied `label` or commented `/release`.
    pub async fn release_activity(&self, concern: &Concern, repo: &str, label: &str) -> Result<Option<IssueActivity>, ActionError> {
        self.activity_checking(concern, repo, |activity| crate::plan::release::authors_to_check(activity, label)).await
    }

    /// The issue's activity, with the access of each login `authors` names.
    async fn activity_checking(&self, concern: &Concern, repo: &str, authors: impl Fn(&IssueActivity) -> Vec<String>) -> Result<Option<IssueActivity>, ActionError> {
        let repo = Repo::parse(repo)?;
        let stored = self.ledger.get_ref(&concern.key(), &issue_channel(&repo)).await.map_err(ledger_err)?;
        let Some(number) = stored.and_then(|v| v.trim().parse::<u64>().ok()) else { return Ok(None) };
        let base = format!("{}/issues/{number}", repo.api());
        let issue: IssueLabels = self.client.get(&base).await?;
        let events: Vec<Event> = self.first_and_last(&format!("{base}/events?per_page=100")).await?;
        let comments: Vec<Comment> = self.first_and_last(&format!("{base}/comments?per_page=100")).await?;
        let mut activity = IssueActivity {
            url: issue.html_url,
            labels: issue.labels.into_iter().map(|l| l.name).collect(),
            events: events
                .into_iter()
                .filter(|e| e.event == "labeled" || e.event == "unlabeled")
                .filter_map(|e| {
                    Some(LabelEvent { at: e.created_at, actor: e.actor?.login, label: e.label?.name, added: e.event == "labeled" })
                })
                .collect(),
            comments: comments
                .into_iter()
                .filter_map(|c| Some(IssueComment { at: c.created_at, author: c.user?.login, body: c.body.unwrap_or_default() }))
                .collect(),
            access: BTreeMap::new(),
        };
        for login in authors(&activity) {
            let access = self.access(&repo, &login).await;
            activity.access.insert(login, access);
        }
        Ok(Some(activity))
    }

    /// The repository access of `login`.
    async fn access(&self, repo: &Repo, login: &str) -> Access {
        let path = format!("{}/collaborators/{}/permission", repo.api(), encode_component(login));
        match self.client.get_optional::<Permission>(&path).await {
            Ok(Some(p)) => Access::from_permission(&p.permission),
            Ok(None) => Access::NotWriter,
            Err(e) => Access::Unknown(format!("the access of @{login} could not be read ({e})")),
        }
    }

    /// A listing's first page and, when there are more, its last (the newest entries).
    async fn first_and_last<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ActionError> {
        let first = self.client.get_page::<Vec<T>>(path).await?;
        let mut items = first.items;
        if let Some(last) = first.last.filter(|_| first.next.is_some()) {
            items.extend(self.client.get_page::<Vec<T>>(&last).await?.items);
        }
        Ok(items)
    }

    /// The web address of the pull request aks-cadence opened for `concern` in `repo`, when it
    /// is merged (`GET /repos/{o}/{r}/pulls/{n}` → `merged_at`); `None` when there is none or
    /// it is not merged.
    pub async fn merged_pull(&self, concern: &Concern, repo: &str) -> Result<Option<String>, ActionError> {
        let repo = Repo::parse(repo)?;
        let stored = self.ledger.get_ref(&concern.key(), &super::pull_channel(&repo)).await.map_err(ledger_err)?;
        let Some(number) = stored.and_then(|v| v.trim().parse::<u64>().ok()) else { return Ok(None) };
        let pull: Option<Pull> = self.client.get_optional(&format!("{}/pulls/{number}", repo.api())).await?;
        Ok(pull.filter(|p| p.merged_at.is_some()).map(|p| p.html_url))
    }
}
