//! Chat: Microsoft Teams (a Workflows webhook posting an Adaptive Card), Slack (an incoming
//! webhook with Block Kit) and a generic JSON webhook. One message per (chat kind, URL setting)
//! per batch: a digest rendered by [`super::digest`].
//!
//! The webhook URL is read at send time from the setting the policy names
//! ([`Settings::named_secret`]); it is a secret (it carries its own token), so logs and errors
//! name the *setting*, never the URL, and response bodies quoted in errors are scrubbed of it.
//!
//! Classification (house rule 6): 2xx → done; 429 → throttled (with `Retry-After`); 408, 5xx,
//! timeouts, connection errors → transient; any other status (including redirects, which are
//! not followed) → permanent.
//!
//! **Replay.** Webhooks have no idempotency key. The executor claims every key before calling
//! [`ChatActuator::perform`], so concurrent deliveries of one event post once; a crash after a
//! post and before the ledger recorded it posts the digest again on the retry (at-least-once in
//! that window, which is only as long as one ledger write).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::digest::{Digest, DigestSender, WEBHOOK_MAX_ENTRIES, perform_digests};
use super::{Actuator, Performed};
use crate::action::{Action, ActionKind, ChatKind};
use crate::error::{ActionError, parse_retry_after};
use crate::settings::Settings;

/// Longest response-body excerpt quoted in an error.
const BODY_EXCERPT: usize = 300;

/// Posts [`ActionKind::Chat`] actions as digests.
pub struct ChatActuator {
    settings: Settings,
    client: reqwest::Client,
}

impl std::fmt::Debug for ChatActuator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatActuator").finish_non_exhaustive()
    }
}

/// Timeouts for webhook calls.
#[derive(Debug, Clone, Copy)]
pub struct ChatTimeouts {
    pub connect: Duration,
    /// The whole request, connect to last byte.
    pub total: Duration,
}

impl Default for ChatTimeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(5), total: Duration::from_secs(15) }
    }
}

impl ChatActuator {
    pub fn new(settings: Settings) -> Result<Self, reqwest::Error> {
        Self::with_timeouts(settings, ChatTimeouts::default())
    }

    pub fn with_timeouts(settings: Settings, timeouts: ChatTimeouts) -> Result<Self, reqwest::Error> {
        // The shared TLS configuration (aws-lc, trust roots loaded once), redirects off (a
        // redirect would carry the body elsewhere; webhooks do not redirect), own timeouts.
        let client = crate::azure::client_builder().connect_timeout(timeouts.connect).timeout(timeouts.total).build()?;
        Ok(Self { settings, client })
    }

    /// Renders the digest for a chat kind.
    pub fn payload(chat: ChatKind, digest: &Digest) -> Value {
        match chat {
            ChatKind::Teams => digest.teams(),
            ChatKind::Slack => digest.slack(),
            ChatKind::Webhook => digest.webhook(),
        }
    }

    async fn post_digest(&self, chat: ChatKind, url_setting: &str, actions: &[&Action], digest: &Digest) -> Result<String, ActionError> {
        let name = chat_name(chat);
        let webhook = webhook_label(chat);
        let secret = self.settings.named_secret(url_setting).map_err(|e| ActionError::configuration(url_setting, e.to_string()))?;
        let raw = secret.expose().trim();
        let url = match url::Url::parse(raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => u,
            _ => {
                return Err(ActionError::configuration(
                    url_setting,
                    format!("setting `{url_setting}` (the {webhook}) does not hold an http(s) URL; paste the webhook URL into it"),
                ));
            }
        };
        let body = Self::payload(chat, digest);
        let scrub = |text: &str| scrub_url(text, raw, &url);

        let response = self.client.post(url.clone()).json(&body).send().await.map_err(|e| {
            // reqwest puts the URL into its error text: drop it, then scrub what is left.
            let timeout = e.is_timeout();
            let text = scrub(&error_chain(&e.without_url()));
            if timeout {
                ActionError::Transient(format!("{webhook} (setting {url_setting}) timed out: {text}"))
            } else {
                ActionError::Transient(format!("{webhook} (setting {url_setting}) unreachable: {text}"))
            }
        })?;
        let status = response.status();
        if status.is_success() {
            tracing::info!(chat = name, setting = %url_setting, actions = actions.len(), status = status.as_u16(), "chat digest posted");
            return Ok(format!("posted to {name} via {url_setting} (HTTP {})", status.as_u16()).into());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()));
        let text = response.text().await.unwrap_or_default();
        let excerpt = excerpt(&scrub(&text));
        let message = if excerpt.is_empty() {
            format!("{webhook} (setting {url_setting}) answered HTTP {}", status.as_u16())
        } else {
            format!("{webhook} (setting {url_setting}) answered HTTP {}: {excerpt}", status.as_u16())
        };
        Err(classify_status(status.as_u16(), retry_after, url_setting, message))
    }
}

/// The one mapping from a webhook's HTTP status to a classified error. 401, 403, 404, 410 and
/// redirects mean the URL in `url_setting` no longer works (a Teams workflow deleted or its
/// owner gone, a Slack app removed, a channel archived): a person pastes a working URL, and
/// the notification goes out on the first delivery after that — a configuration failure.
/// Other 4xx (400 a payload the service refuses, 413) are permanent.
pub fn classify_status(status: u16, retry_after: Option<Duration>, url_setting: &str, message: String) -> ActionError {
    match status {
        429 => ActionError::Throttled { retry_after, message },
        408 | 500..=599 => ActionError::Transient(message),
        300..=399 | 401 | 403 | 404 | 410 => ActionError::configuration(url_setting, message),
        _ => ActionError::Permanent(message),
    }
}

/// What errors call the endpoint: "Teams webhook", "Slack webhook", or just "webhook" for the
/// generic kind (never "webhook webhook").
fn webhook_label(chat: ChatKind) -> &'static str {
    match chat {
        ChatKind::Teams => "Teams webhook",
        ChatKind::Slack => "Slack webhook",
        ChatKind::Webhook => "webhook",
    }
}

fn chat_name(chat: ChatKind) -> &'static str {
    match chat {
        ChatKind::Teams => "teams",
        ChatKind::Slack => "slack",
        ChatKind::Webhook => "webhook",
    }
}

/// An error and its sources on one line (reqwest's top-level text alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// Removes the webhook URL, and its path and query (where tokens live), from text.
fn scrub_url(text: &str, raw: &str, url: &url::Url) -> String {
    let mut out = text.replace(raw, "<webhook url>").replace(url.as_str(), "<webhook url>");
    if let Some(q) = url.query().filter(|q| !q.is_empty()) {
        out = out.replace(q, "***");
    }
    let path = url.path();
    if path.len() > 1 {
        out = out.replace(path, "/***");
    }
    out
}

fn excerpt(text: &str) -> String {
    let one: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= BODY_EXCERPT {
        one
    } else {
        let mut s: String = one.chars().take(BODY_EXCERPT).collect();
        s.push('…');
        s
    }
}

#[async_trait]
impl Actuator for ChatActuator {
    fn name(&self) -> &'static str {
        "chat"
    }
    fn handles(&self, kind: &ActionKind) -> bool {
        matches!(kind, ActionKind::Chat { .. })
    }
    /// One message per (chat kind, URL setting); every action in it gets the message's result.
    async fn perform(&self, batch: &[Action]) -> Vec<Performed> {
        perform_digests(self, batch).await
    }
}

#[async_trait]
impl DigestSender for ChatActuator {
    const NAME: &'static str = "chat";
    fn sends(&self, kind: &ActionKind) -> bool {
        self.handles(kind)
    }
    /// Teams and Slack list the first rows and say how many more (their size limits); the
    /// generic webhook lists everything, in parts when the digest is large.
    fn max_entries(&self, kind: &ActionKind) -> usize {
        match kind {
            ActionKind::Chat { chat: ChatKind::Webhook, .. } => WEBHOOK_MAX_ENTRIES,
            _ => usize::MAX,
        }
    }
    async fn send(&self, kind: &ActionKind, members: &[&Action], digest: &Digest) -> Result<String, ActionError> {
        let ActionKind::Chat { chat, url_setting } = kind else {
            return Err(ActionError::Permanent("not a chat action".into()));
        };
        self.post_digest(*chat, url_setting, members, digest).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_one_classification() {
        let c = |status, after| classify_status(status, after, "TEAMS_URL", "x".into());
        assert!(matches!(c(429, Some(Duration::from_secs(3))), ActionError::Throttled { retry_after: Some(d), .. } if d == Duration::from_secs(3)));
        assert!(matches!(c(503, None), ActionError::Transient(_)));
        assert!(matches!(c(408, None), ActionError::Transient(_)));
        for status in [401, 403, 404, 410, 302] {
            assert!(matches!(c(status, None), ActionError::Configuration { setting, .. } if setting == "TEAMS_URL"), "{status}");
        }
        assert!(matches!(c(400, None), ActionError::Permanent(_)));
        assert!(matches!(c(409, None), ActionError::Permanent(_)));
        assert!(matches!(c(413, None), ActionError::Permanent(_)));
    }

    #[test]
    fn scrub_url_hides_the_token_in_path_and_query() {
        let raw = "https://hooks.example.com/services/T0/B0/tok3n?sig=s1gn";
        let url = url::Url::parse(raw).unwrap();
        let text = format!("posting to {raw} failed; path /services/T0/B0/tok3n sig=s1gn");
        let out = scrub_url(&text, raw, &url);
        assert!(!out.contains("tok3n") && !out.contains("s1gn"), "{out}");
    }
}
