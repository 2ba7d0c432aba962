//! The fleet dashboard issue: one per repository, titled [`TITLE`], edited in place.
//!
//! ## Why a replay is safe, and why there is never a second dashboard
//! The ledger keeps, per repository, the issue number and a digest of the body and of each
//! detail comment as last posted ([`DashboardRecord`]). A sweep whose rendering has the same
//! digests makes no GitHub call at all. Otherwise:
//! - the issue: the recorded number (a deleted or transferred one falls through), else the
//!   repository's issues carrying our label with the title [`TITLE`] and the hidden marker —
//!   so a lost record (a new ledger, a crash between creating and recording) finds the issue it
//!   made instead of opening another; else it is created, and its number recorded at once;
//! - the body and each comment are written only when their digest differs from the record's
//!   (after a lost record: when the text on GitHub differs);
//! - detail comments carry `<!-- aks-cadence:dashboard-detail=N -->`, found again the same way;
//!   comments no longer needed (the fleet shrank) are emptied to one line and kept for reuse.
//!
//! The record is written after the posts, so a crash in between repeats the same edits.

use http::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::issues::Issue;
use super::{GithubActuator, LABEL, Repo, ledger_err};
use crate::dashboard::{Dashboard, TITLE};
use crate::error::ActionError;

/// The ledger key the dashboard records live under (channel: `dashboard:github:<repo>`).
pub const DASHBOARD_KEY: &str = "aks-cadence#fleet";

/// The hidden line that marks the dashboard issue.
pub const DASHBOARD_MARKER: &str = "<!-- aks-cadence:dashboard -->";

/// What a comment that is no longer needed is emptied to.
const UNUSED_COMMENT: &str = "_(This detail comment of the AKS fleet dashboard is not used at the moment.)_";

/// Pages of labelled issues read when looking for a lost dashboard.
const MAX_LIST_PAGES: usize = 10;

fn detail_marker(n: usize) -> String {
    format!("<!-- aks-cadence:dashboard-detail={n} -->")
}

fn digest(text: &str) -> String {
    let d = Sha256::digest(text.as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// What the ledger remembers of one repository's dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardRecord {
    pub issue: Option<u64>,
    /// Digest of the body as last posted.
    #[serde(default)]
    pub body: String,
    /// Detail comments in order: id and digest of the text as last posted.
    #[serde(default)]
    pub comments: Vec<PostedComment>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostedComment {
    pub id: u64,
    pub digest: String,
}

/// What publishing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The rendering was the one last posted: no call to GitHub.
    Unchanged { issue: u64 },
    /// The issue was opened (`writes` = the issue and its comments).
    Created { issue: u64, writes: usize },
    /// The issue or comments were edited (`writes` of them).
    Updated { issue: u64, writes: usize },
}

impl Published {
    pub fn describe(&self, repo: &str) -> String {
        match self {
            Self::Unchanged { issue } => format!("fleet dashboard {repo}#{issue}: unchanged, not edited"),
            Self::Created { issue, writes } => format!("fleet dashboard {repo}#{issue}: opened ({writes} write(s))"),
            Self::Updated { issue, writes } => format!("fleet dashboard {repo}#{issue}: updated ({writes} write(s))"),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Comment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
}

fn channel(repo: &Repo) -> String {
    format!("dashboard:github:{}", repo.full().to_ascii_lowercase())
}

fn same(a: &str, b: &str) -> bool {
    a.replace('\r', "").trim_end() == b.replace('\r', "").trim_end()
}

impl GithubActuator {
    /// Posts `dashboard` to `repo`'s dashboard issue when it changed (see the module docs).
    pub async fn publish_dashboard(&self, repo: &str, dashboard: &Dashboard) -> Result<Published, ActionError> {
        let repo = Repo::parse(repo)?;
        let ch = channel(&repo);
        let record: DashboardRecord =
            self.ledger.get_ref(DASHBOARD_KEY, &ch).await.map_err(ledger_err)?.and_then(|v| serde_json::from_str(&v).ok()).unwrap_or_default();
        let body = format!("{}\n{DASHBOARD_MARKER}\n", dashboard.body);
        let texts: Vec<String> = dashboard.comments.iter().enumerate().map(|(i, c)| format!("{c}\n{}\n", detail_marker(i + 1))).collect();
        let body_digest = digest(&body);
        let digests: Vec<String> = texts.iter().map(|t| digest(t)).collect();
        let unchanged_comments = record.comments.len() >= digests.len()
            && record.comments.iter().zip(&digests).all(|(p, d)| p.digest == *d)
            && record.comments[digests.len()..].iter().all(|p| p.digest == digest(UNUSED_COMMENT));
        if let Some(issue) = record.issue
            && record.body == body_digest
            && unchanged_comments
        {
            return Ok(Published::Unchanged { issue });
        }

        let client = &self.client;
        let mut writes = 0usize;
        let (issue, created, trusted) = match self.find_dashboard(&repo, record.issue).await? {
            Some((issue, trusted)) => (issue, false, trusted),
            None => {
                let created: Issue = client
                    .send(Method::POST, &format!("{}/issues", repo.api()), &json!({ "title": TITLE, "body": body, "labels": [LABEL] }))
                    .await?;
                writes += 1;
                tracing::info!(repo = %repo.full(), issue = created.number, "opened the fleet dashboard");
                // Recorded at once: a crash before the comments finds this issue, not a new one.
                let fresh = DashboardRecord { issue: Some(created.number), body: body_digest.clone(), comments: Vec::new() };
                self.save(&ch, &fresh).await?;
                (created, true, true)
            }
        };
        let mut next = DashboardRecord { issue: Some(issue.number), body: body_digest.clone(), comments: Vec::new() };
        if !created {
            // With a trusted record, its digest says whether the body changed; after a lost
            // record, the text on GitHub does.
            let differs = if trusted && record.issue == Some(issue.number) { record.body != body_digest } else { !same(issue.body.as_deref().unwrap_or(""), &body) };
            let reopen = !issue.state.eq_ignore_ascii_case("open");
            if differs || reopen || issue.title != TITLE {
                let mut edit = json!({ "title": TITLE, "body": body });
                if reopen {
                    edit["state"] = json!("open");
                }
                client.send::<serde_json::Value>(Method::PATCH, &format!("{}/issues/{}", repo.api(), issue.number), &edit).await?;
                writes += 1;
            }
        }

        // Detail comments: the record's ids when it is this issue's, else found by marker.
        let known: Vec<PostedComment> = if record.issue == Some(issue.number) { record.comments.clone() } else { Vec::new() };
        let mut found: Option<Vec<Comment>> = None;
        let wanted = texts.len().max(known.len());
        for i in 0..wanted {
            let text = texts.get(i).map_or(UNUSED_COMMENT, String::as_str);
            let text_digest = digest(text);
            if let Some(posted) = known.get(i) {
                if posted.digest != text_digest {
                    client.send::<serde_json::Value>(Method::PATCH, &format!("{}/issues/comments/{}", repo.api(), posted.id), &json!({ "body": text })).await?;
                    writes += 1;
                }
                next.comments.push(PostedComment { id: posted.id, digest: text_digest });
                continue;
            }
            if found.is_none() && !created {
                found = Some(self.dashboard_comments(&repo, issue.number).await?);
            }
            let marker = detail_marker(i + 1);
            let existing = found.as_ref().and_then(|all| all.iter().find(|c| c.body.as_deref().is_some_and(|b| b.contains(&marker))));
            let id = match existing {
                Some(c) => {
                    if !same(c.body.as_deref().unwrap_or(""), text) {
                        client.send::<serde_json::Value>(Method::PATCH, &format!("{}/issues/comments/{}", repo.api(), c.id), &json!({ "body": text })).await?;
                        writes += 1;
                    }
                    c.id
                }
                None if i < texts.len() => {
                    let posted: Comment =
                        client.send(Method::POST, &format!("{}/issues/{}/comments", repo.api(), issue.number), &json!({ "body": text })).await?;
                    writes += 1;
                    posted.id
                }
                // Not needed and never posted: nothing to keep.
                None => continue,
            };
            next.comments.push(PostedComment { id, digest: text_digest });
        }
        self.save(&ch, &next).await?;
        Ok(if created { Published::Created { issue: issue.number, writes } } else { Published::Updated { issue: issue.number, writes } })
    }

    async fn save(&self, channel: &str, record: &DashboardRecord) -> Result<(), ActionError> {
        let stored = serde_json::to_string(record).expect("record serializes");
        self.ledger.put_ref(DASHBOARD_KEY, channel, &stored).await.map_err(ledger_err)
    }

    /// The dashboard issue: the recorded number (`true`: the record is trusted), else the
    /// labelled issue titled [`TITLE`] with the marker (open first, then the oldest).
    async fn find_dashboard(&self, repo: &Repo, recorded: Option<u64>) -> Result<Option<(Issue, bool)>, ActionError> {
        if let Some(n) = recorded
            && let Some(issue) = self.client.get_optional::<Issue>(&format!("{}/issues/{n}", repo.api())).await?
            && issue.pull_request.is_none()
        {
            return Ok(Some((issue, true)));
        }
        let mut next = Some(format!("{}/issues?state=all&labels={LABEL}&sort=created&direction=asc&per_page=100", repo.api()));
        let mut pages = 0;
        let mut hits: Vec<Issue> = Vec::new();
        while let Some(path) = next.take() {
            pages += 1;
            let page = self.client.get_page::<Vec<Issue>>(&path).await?;
            hits.extend(page.items.into_iter().filter(|i| i.pull_request.is_none() && i.title == TITLE && i.body.as_deref().is_some_and(|b| b.contains(DASHBOARD_MARKER))));
            if pages < MAX_LIST_PAGES {
                next = page.next;
            }
        }
        hits.sort_by_key(|i| (!i.state.eq_ignore_ascii_case("open"), i.number));
        Ok(hits.into_iter().next().map(|i| (i, false)))
    }

    /// The dashboard issue's comments that carry a detail marker.
    async fn dashboard_comments(&self, repo: &Repo, number: u64) -> Result<Vec<Comment>, ActionError> {
        let mut out = Vec::new();
        let mut next = Some(format!("{}/issues/{number}/comments?per_page=100", repo.api()));
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            let page = self.client.get_page::<Vec<Comment>>(&path).await?;
            out.extend(page.items.into_iter().filter(|c| c.body.as_deref().is_some_and(|b| b.contains("<!-- aks-cadence:dashboard-detail="))));
            if pages < MAX_LIST_PAGES {
                next = page.next;
            }
        }
        Ok(out)
    }
}
