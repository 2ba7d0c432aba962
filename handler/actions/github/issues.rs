//! One issue per concern: find or create it, comment and refresh it, close it.

use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::encode_component;
use super::{ANY_ISSUE_CHANNEL, GithubActuator, LABEL, Repo, action_marker, body_markers, concern_digest, concern_marker, issue_channel, ledger_err};
use crate::action::{Action, ActionKey, Stage};
use crate::actions::{Done, Performed, render};
use crate::domain::Concern;
use crate::error::ActionError;

/// Pages of labelled open issues read when looking for a marker (100 each, newest first: an
/// issue from a crashed attempt is among the newest).
const MAX_LIST_PAGES: usize = 10;

#[derive(Debug, Clone, Deserialize)]
pub(super) struct Issue {
    pub number: u64,
    pub html_url: String,
    pub state: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub body: Option<String>,
    /// Present when the "issue" is a pull request (the issues API lists both).
    #[serde(default)]
    pub pull_request: Option<serde_json::Value>,
    /// `null` is read as none (as for `assignees`): only escalation routing reads these.
    #[serde(default)]
    labels: Option<Vec<Named>>,
    #[serde(default)]
    assignees: Option<Vec<Login>>,
}

/// A label as the issues API returns it (`{"name": "bug", …}`; a bare name is taken too).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum Named {
    Object { name: String },
    Name(String),
}

impl Named {
    fn name(&self) -> &str {
        match self {
            Self::Object { name } | Self::Name(name) => name,
        }
    }
}

/// A user as the issues API returns it (`{"login": "octocat", …}`).
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Login {
    pub login: String,
}

/// GitHub adds at most this many assignees per request.
const ASSIGNEES_PER_REQUEST: usize = 10;

impl Issue {
    fn is_open(&self) -> bool {
        self.state.eq_ignore_ascii_case("open")
    }
    fn has_label(&self, label: &str) -> bool {
        self.labels.iter().flatten().any(|l| l.name().eq_ignore_ascii_case(label))
    }
    fn has_assignee(&self, login: &str) -> bool {
        self.assignees.iter().flatten().any(|a| a.login.eq_ignore_ascii_case(login))
    }
    fn carries(&self, marker: &str) -> bool {
        self.pull_request.is_none() && self.body.as_deref().is_some_and(|b| b.contains(marker))
    }
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    items: Vec<Issue>,
}

#[derive(Debug, Deserialize)]
struct Comment {
    #[serde(default)]
    body: Option<String>,
}

/// Whether to ask the search API after the ledger and the label listing came up empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Search {
    Yes,
    No,
}

/// The issue body: the rendered facts, then the markers.
pub fn issue_body(action: &Action) -> String {
    format!("{}\n{}", render::markdown(action), body_markers(&action.concern))
}

impl GithubActuator {
    /// Notice: find or create. Reminder, Overdue, Update, Execute: comment + refresh the body on
    /// the concern's issue (created first if there is none).
    pub(super) async fn issue(&self, action: &Action, repo: &Repo, labels: &[String], assignees: &[String]) -> Performed {
        let Some(issue) = self.find_issue(repo, &action.concern, Search::Yes).await? else {
            let created = self.create_issue(action, repo, labels, assignees).await?;
            return Ok(Done::issue(created.html_url));
        };
        if action.stage != Stage::Notice {
            self.comment_once(repo, issue.number, &action.key, &render::comment_markdown(action)).await?;
        }
        self.refresh_issue(repo, &issue, action).await?;
        Ok(Done::issue(issue.html_url))
    }

    /// Escalation routing: adds a stage's extra labels and assignees to the concern's issue
    /// (`POST …/issues/{n}/labels`, `POST …/issues/{n}/assignees`, both documented as adding
    /// without replacing: <https://docs.github.com/en/rest/issues/labels#add-labels-to-an-issue>,
    /// <https://docs.github.com/en/rest/issues/assignees#add-assignees-to-an-issue>).
    ///
    /// Why a replay is safe: only what the issue does not carry yet is posted (a crash after
    /// posting finds it there and posts nothing), and posting an existing label or assignee
    /// again would leave the issue as it is. The issue is opened by the stage's issue action,
    /// planned before this one; without it (that action failed, or a person deleted the issue)
    /// this is deferred to the next run, which plans it again.
    pub(super) async fn escalate(&self, action: &Action, repo: &Repo, labels: &[String], assignees: &[String]) -> Performed {
        let Some(issue) = self.find_issue(repo, &action.concern, Search::No).await? else {
            return Err(ActionError::Deferred(format!(
                "the concern has no issue in {} yet; its {} labels and assignees are added once the issue is open",
                repo.full(),
                action.stage.as_str()
            )));
        };
        let labels: Vec<&String> = labels.iter().filter(|l| !issue.has_label(l)).collect();
        let assignees: Vec<&String> = assignees.iter().filter(|a| !issue.has_assignee(a)).collect();
        let mut done = Vec::new();
        if !labels.is_empty() {
            let path = format!("{}/issues/{}/labels", repo.api(), issue.number);
            self.client.send::<serde_json::Value>(Method::POST, &path, &json!({ "labels": labels })).await.map_err(|e| e.context("adding labels"))?;
            done.push(format!("labelled {}", labels.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")));
        }
        for chunk in assignees.chunks(ASSIGNEES_PER_REQUEST) {
            let path = format!("{}/issues/{}/assignees", repo.api(), issue.number);
            self.client.send::<serde_json::Value>(Method::POST, &path, &json!({ "assignees": chunk })).await.map_err(|e| e.context("adding assignees"))?;
            done.push(format!("assigned {}", chunk.iter().map(|a| format!("@{a}")).collect::<Vec<_>>().join(", ")));
        }
        if done.is_empty() {
            return Ok(format!("{}: already labelled and assigned", issue.html_url).into());
        }
        Ok(format!("{}: {}", issue.html_url, done.join("; ")).into())
    }

    /// Resolve: a closing comment, then close. Nothing to do when there is no open issue.
    pub(super) async fn close_issue(&self, action: &Action, repo: &Repo) -> Performed {
        // No search here: the issues we open carry our label, and a sweep may resolve hundreds
        // of concerns at once, far beyond the search API's 30 requests a minute.
        let Some(issue) = self.find_issue(repo, &action.concern, Search::No).await? else {
            return Ok(format!("no issue for this concern in {}", repo.full()).into());
        };
        if !issue.is_open() {
            return Ok(format!("{} was already closed", issue.html_url).into());
        }
        // A concern a newer one replaced is closed as not planned, linking the newer one's issue.
        let (comment, reason) = match &action.superseded_by {
            Some(next) => (render::comment_markdown(&self.with_successor_link(action, next, repo).await?), "not_planned"),
            None => (render::comment_markdown(action), "completed"),
        };
        self.comment_once(repo, issue.number, &action.key, &comment).await?;
        self.client
            .send::<serde_json::Value>(Method::PATCH, &format!("{}/issues/{}", repo.api(), issue.number), &json!({ "state": "closed", "state_reason": reason }))
            .await?;
        Ok(issue.html_url.into())
    }

    /// `action` with a note that links the issue of the concern replacing it, when it has one.
    async fn with_successor_link(&self, action: &Action, next: &Concern, repo: &Repo) -> Result<Action, ActionError> {
        let link = match self.concern_issue(next, repo).await? {
            Some((r, n)) if r == *repo => format!("Continued in #{n}."),
            Some((r, n)) => format!("Continued in {}#{n}.", r.full()),
            None => format!("Continued on the concern {} {}.", next.kind.as_str(), next.target),
        };
        let mut linked = action.clone();
        linked.note = Some(match &action.note {
            Some(note) => format!("{note}. {link}"),
            None => link,
        });
        Ok(linked)
    }

    /// The concern's issue: ledger ref, else the open issues carrying our label, else (optionally)
    /// the search API. Whatever is found is written back to the ledger.
    pub(super) async fn find_issue(&self, repo: &Repo, concern: &Concern, search: Search) -> Result<Option<Issue>, ActionError> {
        let key = concern.key();
        let marker = concern_marker(concern);
        if let Some(n) = self.ledger.get_ref(&key, &issue_channel(repo)).await.map_err(ledger_err)?.and_then(|v| v.trim().parse::<u64>().ok()) {
            // Trust the ledger even if someone edited the marker away; a deleted or transferred
            // issue (404/410) falls through to the marker search.
            if let Some(issue) = self.client.get_optional::<Issue>(&format!("{}/issues/{n}", repo.api())).await?
                && issue.pull_request.is_none()
            {
                return Ok(Some(issue));
            }
        }

        let mut next = Some(format!("{}/issues?state=open&labels={LABEL}&sort=created&direction=desc&per_page=100", repo.api()));
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            let page = self.client.get_page::<Vec<Issue>>(&path).await?;
            if let Some(hit) = page.items.into_iter().filter(|i| i.carries(&marker)).min_by_key(|i| i.number) {
                self.remember(repo, concern, &hit).await?;
                return Ok(Some(hit));
            }
            if pages < MAX_LIST_PAGES {
                next = page.next;
            }
        }

        if search == Search::No {
            return Ok(None);
        }
        let q = format!("repo:{} is:issue in:body \"{}\"", repo.full(), concern_digest(concern));
        let path = format!("/search/issues?q={}&per_page=20", encode_component(&q));
        match self.client.get::<SearchPage>(&path).await {
            Ok(found) => {
                let mut hits: Vec<Issue> = found.items.into_iter().filter(|i| i.carries(&marker)).collect();
                hits.sort_by_key(|i| (!i.is_open(), i.number));
                match hits.into_iter().next() {
                    Some(hit) => {
                        self.remember(repo, concern, &hit).await?;
                        Ok(Some(hit))
                    }
                    None => Ok(None),
                }
            }
            // Search disabled or refusing this query (GHES without a search index: 404; 422):
            // the consistent listing above already ran with the same credentials, so go on
            // without it.
            Err(ActionError::Permanent(m) | ActionError::Configuration { message: m, .. }) => {
                tracing::warn!(repo = %repo.full(), error = %m, "issue search unavailable; relying on the label listing");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn create_issue(&self, action: &Action, repo: &Repo, labels: &[String], assignees: &[String]) -> Result<Issue, ActionError> {
        let mut all = vec![LABEL.to_string()];
        for l in labels {
            if !all.iter().any(|a| a.eq_ignore_ascii_case(l)) {
                all.push(l.clone());
            }
        }
        let body = json!({
            "title": render::title(action),
            "body": issue_body(action),
            "labels": all,
            "assignees": assignees,
        });
        let issue: Issue = self.client.send(Method::POST, &format!("{}/issues", repo.api()), &body).await?;
        tracing::info!(repo = %repo.full(), issue = issue.number, concern = %action.concern.key(), "opened issue");
        // If this write fails the action fails (transient) and its retry finds the issue by label.
        self.remember(repo, &action.concern, &issue).await?;
        Ok(issue)
    }

    /// Updates title and body when they differ from what this action renders.
    async fn refresh_issue(&self, repo: &Repo, issue: &Issue, action: &Action) -> Result<(), ActionError> {
        let title = render::title(action);
        let body = issue_body(action);
        let same = |a: &str, b: &str| a.replace('\r', "").trim_end() == b.replace('\r', "").trim_end();
        if issue.title == title && same(issue.body.as_deref().unwrap_or(""), &body) {
            return Ok(());
        }
        self.client
            .send::<serde_json::Value>(Method::PATCH, &format!("{}/issues/{}", repo.api(), issue.number), &json!({ "title": title, "body": body }))
            .await?;
        Ok(())
    }

    /// Posts a comment unless one carrying this action's marker is already among the newest
    /// comments (a crash after posting). Returns whether it posted.
    pub(super) async fn comment_once(&self, repo: &Repo, number: u64, key: &ActionKey, text: &str) -> Result<bool, ActionError> {
        let marker = action_marker(key);
        let first = self.client.get_page::<Vec<Comment>>(&format!("{}/issues/{number}/comments?per_page=100", repo.api())).await?;
        let mut seen = first.items.iter().any(|c| c.body.as_deref().is_some_and(|b| b.contains(&marker)));
        if !seen && let Some(last) = first.last.filter(|_| first.next.is_some()) {
            let tail = self.client.get_page::<Vec<Comment>>(&last).await?;
            seen = tail.items.iter().any(|c| c.body.as_deref().is_some_and(|b| b.contains(&marker)));
        }
        if seen {
            return Ok(false);
        }
        self.client
            .send::<serde_json::Value>(Method::POST, &format!("{}/issues/{number}/comments", repo.api()), &json!({ "body": format!("{text}\n{marker}\n") }))
            .await?;
        Ok(true)
    }

    async fn remember(&self, repo: &Repo, concern: &Concern, issue: &Issue) -> Result<(), ActionError> {
        let key = concern.key();
        self.ledger.put_ref(&key, &issue_channel(repo), &issue.number.to_string()).await.map_err(ledger_err)?;
        self.ledger.put_ref(&key, ANY_ISSUE_CHANNEL, &format!("{}#{}", repo.full(), issue.number)).await.map_err(ledger_err)
    }

    /// The concern's issue in any repository: the ledger's record, else a look in `fallback`.
    pub(super) async fn concern_issue(&self, concern: &Concern, fallback: &Repo) -> Result<Option<(Repo, u64)>, ActionError> {
        if let Some(v) = self.ledger.get_ref(&concern.key(), ANY_ISSUE_CHANNEL).await.map_err(ledger_err)?
            && let Some((r, n)) = v.rsplit_once('#')
            && let (Ok(repo), Ok(n)) = (Repo::parse(r), n.parse::<u64>())
        {
            return Ok(Some((repo, n)));
        }
        Ok(self.find_issue(fallback, concern, Search::No).await?.map(|i| (fallback.clone(), i.number)))
    }
}
