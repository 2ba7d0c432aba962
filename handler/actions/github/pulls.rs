//! Pull requests that bump a cluster's version in infrastructure code.
//!
//! One open pull request per (repository, file, cluster), on the branch
//! `aks-cadence/<cluster-name>/<file-slug>`:
//! - no open PR: the branch is created at the base's head (or, if it is left over from an earlier
//!   PR or a crashed attempt, moved there), the edited file is committed through the contents
//!   API, and the PR is opened;
//! - an open PR: the edit is committed on its branch (nothing if the branch already has the
//!   version) and its title and body are updated — a newer target never opens a second PR.
//!
//! The edit itself is [`version_edit`]: exactly one match, exactly the version bytes changed. A
//! locator that matches zero or several times is a permanent error, also reported as a comment
//! on the concern's issue.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::Method;
use serde::Deserialize;
use serde_json::json;

use super::client::{encode_component, encode_path};
use super::{GithubActuator, Repo, body_markers, ledger_err};
use crate::action::{Action, VersionLocator};
use crate::actions::version_edit::{self, Edit};
use crate::actions::{Performed, render};
use crate::error::ActionError;

#[derive(Debug, Deserialize)]
struct RepoInfo {
    default_branch: String,
}

#[derive(Debug, Deserialize)]
struct GitRef {
    object: GitObject,
}

#[derive(Debug, Deserialize)]
struct GitObject {
    sha: String,
}

#[derive(Debug, Deserialize)]
struct Content {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
    sha: String,
}

#[derive(Debug, Deserialize)]
struct Pull {
    number: u64,
    html_url: String,
}

/// A file read through the contents API.
struct File {
    text: String,
    sha: String,
}

/// `aks-cadence/<cluster-name>/<file-slug>`.
pub fn branch_name(cluster_name: &str, path: &str) -> String {
    format!("aks-cadence/{}/{}", slug(cluster_name), slug(path))
}

/// Lower case, `[a-z0-9]` kept, every other run of characters one `-`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

impl GithubActuator {
    pub(super) async fn pull_request(&self, action: &Action, repo: &Repo, path: &str, locator: &VersionLocator, base: Option<&str>, version: &str) -> Performed {
        let path = path.trim_matches('/');
        let branch = branch_name(action.concern.cluster.name(), path);
        let base = match base {
            Some(b) => b.to_string(),
            None => self.client.get::<RepoInfo>(&repo.api()).await?.default_branch,
        };
        let open = self.open_pull(repo, &branch).await?;

        let mut number = open.as_ref().map(|pr| pr.number);
        let result = match &open {
            Some(pr) => {
                let file = self.read_file(repo, path, &branch).await?;
                let edit = self.edit(action, repo, path, &file, locator, version).await?;
                if edit.changed {
                    self.commit(action, repo, path, &branch, &file.sha, &edit, version).await?;
                }
                self.client
                    .send::<serde_json::Value>(Method::PATCH, &format!("{}/pulls/{}", repo.api(), pr.number), &json!({
                        "title": pr_title(action, path, version),
                        "body": self.pr_body(action, path, locator, &edit, version).await?,
                    }))
                    .await?;
                tracing::info!(repo = %repo.full(), pr = pr.number, %branch, "updated pull request");
                pr.html_url.clone()
            }
            None => {
                let base_sha = self.client.get::<GitRef>(&format!("{}/git/ref/heads/{}", repo.api(), encode_path(&base))).await?.object.sha;
                let file = self.read_file(repo, path, &base_sha).await?;
                let edit = self.edit(action, repo, path, &file, locator, version).await?;
                if !edit.changed {
                    return Ok(format!("{}: {path} on {base} is already at {version}", repo.full()).into());
                }
                self.ensure_branch(repo, &branch, &base_sha).await?;
                // The branch now points at the base commit, so the file's blob sha is the same.
                self.commit(action, repo, path, &branch, &file.sha, &edit, version).await?;
                let pr = self.create_pull(action, repo, path, &branch, &base, locator, &edit, version).await?;
                number = Some(pr.number);
                pr.html_url
            }
        };
        self.ledger
            .put_ref(&action.concern.key(), &format!("github-pr:{}:{path}", repo.full().to_ascii_lowercase()), &branch)
            .await
            .map_err(ledger_err)?;
        // The concern's latest pull request: a merged one means the change is handled through
        // infrastructure code (`GithubApprovals::merged_pull`).
        if let Some(n) = number {
            self.ledger.put_ref(&action.concern.key(), &super::pull_channel(repo), &n.to_string()).await.map_err(ledger_err)?;
        }
        Ok(result.into())
    }

    /// Applies the locator; a file it does not fit is reported on the concern's issue.
    async fn edit(&self, action: &Action, repo: &Repo, path: &str, file: &File, locator: &VersionLocator, version: &str) -> Result<Edit, ActionError> {
        match version_edit::set_version(path, &file.text, locator, version) {
            Ok(edit) => Ok(edit),
            Err(e) => {
                let err = ActionError::Permanent(format!("{}: {e}", repo.full()));
                self.report_on_issue(action, repo, &err).await;
                Err(err)
            }
        }
    }

    /// Best effort: a comment on the concern's issue saying why no pull request was opened.
    async fn report_on_issue(&self, action: &Action, pr_repo: &Repo, err: &ActionError) {
        let reported = async {
            let Some((repo, number)) = self.concern_issue(&action.concern, pr_repo).await? else {
                return Ok::<_, ActionError>(false);
            };
            let text = format!(
                "**Pull request not opened**: {}\n\naks-cadence changes a file only where the locator matches exactly once; it does not guess. Fix the locator in the policy (or the file).\n",
                err.to_string().replace("<!--", "&lt;!--")
            );
            self.comment_once(&repo, number, &action.key, &text).await
        }
        .await;
        if let Err(e) = reported {
            tracing::warn!(key = %action.key, error = %e, "could not report the pull-request failure on the concern's issue");
        }
    }

    async fn open_pull(&self, repo: &Repo, branch: &str) -> Result<Option<Pull>, ActionError> {
        let head = encode_component(&format!("{}:{branch}", repo.owner));
        let pulls: Vec<Pull> = self.client.get(&format!("{}/pulls?state=open&head={head}&per_page=10", repo.api())).await?;
        Ok(pulls.into_iter().min_by_key(|p| p.number))
    }

    async fn read_file(&self, repo: &Repo, path: &str, at: &str) -> Result<File, ActionError> {
        let url = format!("{}/contents/{}?ref={}", repo.api(), encode_path(path), encode_component(at));
        let content = self
            .client
            .get_optional::<Content>(&url)
            .await?
            .ok_or_else(|| ActionError::Permanent(format!("{}: {path} does not exist at {at}; fix the path in the policy", repo.full())))?;
        let raw = match (content.encoding.as_deref(), content.content.as_deref()) {
            (Some("base64"), Some(c)) => {
                let compact: String = c.chars().filter(|ch| !ch.is_ascii_whitespace()).collect();
                STANDARD.decode(compact).map_err(|e| ActionError::Permanent(format!("{}: {path}: undecodable content ({e})", repo.full())))?
            }
            _ => return Err(ActionError::Permanent(format!("{}: {path} is too large for the contents API (over 1 MB) or not a file", repo.full()))),
        };
        let text = String::from_utf8(raw).map_err(|_| ActionError::Permanent(format!("{}: {path} is not UTF-8 text", repo.full())))?;
        Ok(File { text, sha: content.sha })
    }

    /// Creates the branch at `sha`; if it exists (no open PR uses it), moves it there.
    async fn ensure_branch(&self, repo: &Repo, branch: &str, sha: &str) -> Result<(), ActionError> {
        let created = self
            .client
            .send::<serde_json::Value>(Method::POST, &format!("{}/git/refs", repo.api()), &json!({ "ref": format!("refs/heads/{branch}"), "sha": sha }))
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(ActionError::AlreadyDone(_)) => {
                self.client
                    .send::<serde_json::Value>(Method::PATCH, &format!("{}/git/refs/heads/{}", repo.api(), encode_path(branch)), &json!({ "sha": sha, "force": true }))
                    .await?;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn commit(&self, action: &Action, repo: &Repo, path: &str, branch: &str, sha: &str, edit: &Edit, version: &str) -> Result<(), ActionError> {
        let message = format!(
            "{}: Kubernetes {} → {version} in {path}\n\nLine {} of {path}. Opened by aks-cadence for {}.",
            action.concern.cluster.name(),
            edit.previous,
            edit.line,
            action.concern.key()
        );
        let body = json!({
            "message": message,
            "content": STANDARD.encode(edit.text.as_bytes()),
            "sha": sha,
            "branch": branch,
        });
        self.client.send::<serde_json::Value>(Method::PUT, &format!("{}/contents/{}", repo.api(), encode_path(path)), &body).await?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_pull(&self, action: &Action, repo: &Repo, path: &str, branch: &str, base: &str, locator: &VersionLocator, edit: &Edit, version: &str) -> Result<Pull, ActionError> {
        let title = pr_title(action, path, version);
        let body = self.pr_body(action, path, locator, edit, version).await?;
        let created = self
            .client
            .send::<Pull>(Method::POST, &format!("{}/pulls", repo.api()), &json!({
                "title": title,
                "head": branch,
                "base": base,
                "body": body,
                "maintainer_can_modify": true,
            }))
            .await;
        match created {
            Ok(pr) => {
                tracing::info!(repo = %repo.full(), pr = pr.number, %branch, "opened pull request");
                Ok(pr)
            }
            // Opened by an attempt that crashed before recording, or concurrently: update it.
            Err(ActionError::AlreadyDone(_)) => {
                let pr = self.open_pull(repo, branch).await?.ok_or_else(|| ActionError::Transient(format!("{}: GitHub reports a pull request for {branch} but lists none open yet", repo.full())))?;
                self.client
                    .send::<serde_json::Value>(Method::PATCH, &format!("{}/pulls/{}", repo.api(), pr.number), &json!({ "title": title, "body": body }))
                    .await?;
                Ok(pr)
            }
            Err(e) => Err(e),
        }
    }

    async fn pr_body(&self, action: &Action, path: &str, locator: &VersionLocator, edit: &Edit, version: &str) -> Result<String, ActionError> {
        let mut s = String::new();
        let change = if edit.changed { format!("from `{}` to `{version}`", edit.previous) } else { format!("to `{version}`") };
        s.push_str(&format!(
            "This pull request sets the version in `{path}` ({}, line {}) {change} for cluster `{}`. No other line of the file changes.\n\n",
            version_edit::describe(locator).replace('|', "\\|"),
            edit.line,
            action.concern.cluster.name()
        ));
        if let Some(v) = self.ledger.get_ref(&action.concern.key(), super::ANY_ISSUE_CHANNEL).await.map_err(ledger_err)? {
            s.push_str(&format!("Tracking issue: {v}\n\n"));
        }
        s.push_str("---\n\n");
        s.push_str(&render::markdown(action));
        s.push('\n');
        s.push_str(&body_markers(&action.concern));
        Ok(s)
    }
}

fn pr_title(action: &Action, path: &str, version: &str) -> String {
    format!("{}: Kubernetes {version} in {path}", action.concern.cluster.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_are_one_per_cluster_and_file() {
        assert_eq!(branch_name("Prod-WEU", "infra/aks/main.bicep"), "aks-cadence/prod-weu/infra-aks-main-bicep");
        assert_eq!(branch_name("c_1", "/envs/prod.tfvars"), "aks-cadence/c-1/envs-prod-tfvars");
    }
}
