//! Digests: what one batch of notifications looks like to a person. Pure (no IO), so every
//! rendering is a snapshot test.
//!
//! The executor hands the mail and chat adapters every action of one run at once. They split
//! the batch by destination with [`group_by_channel`] (one email per recipient list, one chat
//! message per webhook setting) and render each group as one [`Digest`]: 300 clusters that need
//! a node image become one message listing them, grouped by concern kind (the largest group
//! first), sorted by cluster name inside a group.
//!
//! Chat messages have size limits (Teams: 28 KB per card; Slack: 50 blocks, 3000 characters
//! per text), so chat renderings list at most [`CHAT_MAX_ROWS`] entries and say how many more
//! there are; the email and the generic webhook always list everything — a digest larger than
//! [`EMAIL_MAX_ENTRIES`] / [`WEBHOOK_MAX_ENTRIES`] goes out in parts ([`parts`]), each marked
//! "part i of n", so no single message outgrows what relays and receivers accept.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::action::{Action, ActionKind, Stage};
use crate::error::ActionError;
use crate::domain::{ConcernKind, SignalKind};
use crate::plan::WindowStatus;

/// Subject prefix: inbox rules and sorting key on it.
pub const SUBJECT_PREFIX: &str = "[aks-cadence]";
/// Entries listed in one Teams card or Slack message before "… and N more".
pub const CHAT_MAX_ROWS: usize = 40;
/// Entries in one email at most. A larger digest (a fan-out sweep of a big fleet) goes out in
/// parts of this many entries, so that a message stays under about 3 MB (measured through
/// MailDev in `tests/email_maildev.rs`), well under the size limits of mail relays and
/// mailboxes — one oversized message would be refused (552) and every notification in it lost.
pub const EMAIL_MAX_ENTRIES: usize = 1000;
/// Entries in one generic-webhook POST at most (≈0.5 KB of JSON each), for the same reason.
pub const WEBHOOK_MAX_ENTRIES: usize = 1000;
/// Longest free text (a summary) put into one chat row.
const CHAT_MAX_FIELD: usize = 300;
/// Slack's limit for a section's text.
const SLACK_MAX_TEXT: usize = 3000;
/// Slack's limit for a header's text.
const SLACK_MAX_HEADER: usize = 150;

/// A digest adapter (email, chat): how one part of one channel's digest goes out.
#[async_trait::async_trait]
pub trait DigestSender: Sync {
    /// For log lines and for an action routed here by mistake (`email`, `chat`).
    const NAME: &'static str;
    /// Whether this adapter sends `kind`.
    fn sends(&self, kind: &ActionKind) -> bool;
    /// The most entries one message of this channel holds (larger digests go out in parts).
    fn max_entries(&self, kind: &ActionKind) -> usize;
    /// Sends one part: `kind` is the channel's action kind (recipients, webhook setting).
    async fn send(&self, kind: &ActionKind, members: &[&Action], digest: &Digest) -> Result<String, ActionError>;
}

/// The `perform` of every digest adapter: the batch's actions it sends, grouped by channel
/// (recipient list / webhook setting); each group's digest split into parts of at most
/// `max_entries`; one `send` per part, whose result every action of the part gets, in batch
/// order.
pub async fn perform_digests<S: DigestSender>(sender: &S, batch: &[Action]) -> Vec<super::Performed> {
    let mut results: Vec<Option<Result<String, ActionError>>> = vec![None; batch.len()];
    for (channel, idx) in group_by_channel(batch, |a| sender.sends(&a.kind)) {
        let kind = &batch[idx[0]].kind;
        let actions: Vec<&Action> = idx.iter().map(|&i| &batch[i]).collect();
        for (digest, part) in parts(&actions, sender.max_entries(kind)) {
            let members: Vec<&Action> = part.iter().map(|&j| actions[j]).collect();
            let outcome = sender.send(kind, &members, &digest).await;
            if let Err(e) = &outcome {
                tracing::warn!(adapter = S::NAME, channel = %channel, actions = members.len(), error = %e, "{} digest failed", S::NAME);
            }
            for j in part {
                results[idx[j]] = Some(outcome.clone());
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(ActionError::Permanent(format!("not {} action: the executor routed it to the wrong adapter", S::NAME)))))
        .map(|r| r.map(super::Done::from))
        .collect()
}

/// Splits a batch by destination. The key is the action's channel (`email:a@x,b@y` with the
/// recipients sorted and case-folded, or `teams:SETTING`), so two policies naming the same
/// people in another order still share one message. Groups and the indices inside them keep
/// batch order; actions for which `wanted` is false are left out.
pub fn group_by_channel(batch: &[Action], wanted: impl Fn(&Action) -> bool) -> BTreeMap<String, Vec<usize>> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, a) in batch.iter().enumerate().filter(|(_, a)| wanted(a)) {
        groups.entry(a.kind.channel()).or_default().push(i);
    }
    groups
}

/// How a concern kind reads in a subject or heading (lower case; headings capitalise it).
pub fn concern_label(kind: ConcernKind) -> &'static str {
    match kind {
        ConcernKind::KubernetesUpgrade => "Kubernetes upgrade available",
        ConcernKind::Support => "Kubernetes support ending",
        ConcernKind::NodeImage => "node image available",
        ConcernKind::Certificate => "certificate expiring",
        ConcernKind::NodePoolRoll => "node pool roll",
        ConcernKind::Maintenance => "planned maintenance",
        ConcernKind::EventWiring => "AKS events not wired",
        ConcernKind::AksChannel => "AKS channel not as required",
        ConcernKind::RingInversion => "ring inversion",
        ConcernKind::Baseline => "security baseline",
    }
}

/// One line of a digest: the facts of one action that a person needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The cluster's name (the last segment of its id).
    pub cluster: String,
    pub cluster_id: String,
    pub subscription: String,
    pub resource_group: String,
    pub region: Option<String>,
    pub concern: ConcernKind,
    /// The concern's target (`1.31`, `nodepool1`, `api-server`).
    pub target: String,
    pub stage: Stage,
    /// The version (or image) running now, when the signal says.
    pub current: Option<String>,
    /// The version (or image) to move to, when known more precisely than `target`.
    pub target_version: Option<String>,
    pub deadline: Option<Timestamp>,
    pub window: Option<WindowStatus>,
    pub summary: String,
    /// The action's idempotency key.
    pub key: String,
}

impl Entry {
    pub fn from_action(a: &Action) -> Self {
        let c = &a.concern.cluster;
        let facts = &a.signal.facts;
        let (current, target_version) = versions(a);
        Self {
            cluster: c.name().to_string(),
            cluster_id: c.as_str().to_string(),
            subscription: c.subscription().to_string(),
            resource_group: c.resource_group().to_string(),
            region: facts.location.clone(),
            concern: a.concern.kind,
            target: a.concern.target.clone(),
            stage: a.stage,
            current,
            target_version,
            deadline: a.deadline,
            window: a.window.clone(),
            summary: match &a.note {
                Some(note) => format!("{} — {note}", a.summary),
                None => a.summary.clone(),
            },
            key: a.key.as_str().to_string(),
        }
    }

    /// `current → target` as far as known. Only a Kubernetes upgrade's concern target is a
    /// version to move to; other targets (a pool, a certificate, a minor leaving support) are not.
    pub fn change(&self) -> String {
        let to = self
            .target_version
            .as_deref()
            .or((self.concern == ConcernKind::KubernetesUpgrade).then_some(self.target.as_str()));
        match (&self.current, to) {
            (Some(cur), Some(to)) => format!("{cur} → {to}"),
            (Some(cur), None) => cur.clone(),
            (None, Some(to)) => format!("→ {to}"),
            (None, None) => String::new(),
        }
    }

    /// The summary without a leading `<cluster>: ` (the cluster is already named beside it).
    pub fn summary_line(&self) -> String {
        let s = one_line(&self.summary);
        let prefix_len = self.cluster.len() + 2;
        match s.get(..prefix_len) {
            Some(p) if p.eq_ignore_ascii_case(&format!("{}: ", self.cluster)) => s[prefix_len..].to_string(),
            _ => s,
        }
    }
}

/// Reads the current and target versions out of the signal that led to the action.
fn versions(a: &Action) -> (Option<String>, Option<String>) {
    let running = a.signal.facts.kubernetes_version.clone();
    let line = a.concern.target.as_str();
    match &a.signal.kind {
        SignalKind::UpgradesOffered { current, offered } => {
            let stable: Vec<&str> = offered.iter().filter(|o| !o.is_preview).map(|o| o.version.as_str()).collect();
            (Some(current.clone()), newest_in_line(&stable, line))
        }
        SignalKind::NewKubernetesVersion { latest_supported, latest_stable, lowest_minor, .. } => {
            let candidates: Vec<&str> =
                [latest_stable, latest_supported, lowest_minor].into_iter().flatten().map(String::as_str).collect();
            (running, newest_in_line(&candidates, line))
        }
        SignalKind::SupportEnding { kubernetes_version, .. } | SignalKind::SupportEnded { kubernetes_version } => {
            (Some(kubernetes_version.clone()), None)
        }
        SignalKind::NodeImageAvailable { current, latest, .. } => (Some(current.clone()), Some(latest.clone())),
        SignalKind::CertificateExpiring { not_after, .. } => (Some(format!("expires {}", fmt_time(*not_after))), None),
        SignalKind::Operation { target, .. } | SignalKind::Resolved { target, .. } => (running, Some(target.clone())),
        SignalKind::ChannelRequired { current, required, .. } => (current.clone().or_else(|| Some("not set".into())), Some(required.clone())),
        SignalKind::RingInversion { version, .. } => (Some(version.clone()), None),
        SignalKind::NodePoolRolling { .. }
        | SignalKind::Maintenance { .. }
        | SignalKind::EventsNotWired { .. }
        | SignalKind::Baseline { .. } => (running, None),
    }
}

/// The newest candidate that is `line` itself or a patch of it (`1.31` → `1.31.4`).
fn newest_in_line(candidates: &[&str], line: &str) -> Option<String> {
    let prefix = format!("{line}.");
    candidates
        .iter()
        .filter(|v| **v == line || v.starts_with(&prefix))
        .max_by(|a, b| match (semver::Version::parse(a), semver::Version::parse(b)) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        })
        .map(|v| v.to_string())
}

/// `2026-02-01 00:00 UTC`.
pub fn fmt_time(t: Timestamp) -> String {
    crate::action::minute(t)
}

/// How a maintenance window reads in a message.
pub fn fmt_window(w: &WindowStatus) -> String {
    match w {
        WindowStatus::Unknown => "none known".into(),
        WindowStatus::Open { until } => format!("open until {}", fmt_time(*until)),
        WindowStatus::Closed { next: Some(next) } => format!("closed; next opens {}", fmt_time(*next)),
        WindowStatus::Closed { next: None } => "closed; none scheduled".into(),
    }
}

/// One message's worth of entries, grouped and sorted.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    /// Sorted: by group (largest concern kind first), then cluster, resource group,
    /// subscription, target, stage.
    entries: Vec<Entry>,
    /// (kind, start, end) ranges into `entries`, in display order.
    groups: Vec<(ConcernKind, usize, usize)>,
    /// `(i, n)` when this message is part `i` of `n` of one destination's digest.
    part: Option<(usize, usize)>,
}

/// One destination's digest cut into messages of at most `max` entries, in digest order
/// (largest concern group first, then by cluster), each with the indices into `actions` of
/// the actions it carries. One part when it fits; every action is in exactly one part.
pub fn parts(actions: &[&Action], max: usize) -> Vec<(Digest, Vec<usize>)> {
    let whole = Digest::new(actions.iter().copied());
    let max = max.max(1);
    if whole.entries.len() <= max {
        return vec![(whole, (0..actions.len()).collect())];
    }
    // Entries carry their action's key; keys are distinct within a batch, but map robustly.
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, a) in actions.iter().enumerate().rev() {
        by_key.entry(a.key.as_str()).or_default().push(i);
    }
    let total = whole.entries.len().div_ceil(max);
    whole
        .entries
        .chunks(max)
        .enumerate()
        .map(|(n, chunk)| {
            let indices: Vec<usize> = chunk.iter().filter_map(|e| by_key.get_mut(e.key.as_str()).and_then(Vec::pop)).collect();
            let mut digest = Digest::from_entries(chunk.to_vec());
            digest.part = Some((n + 1, total));
            (digest, indices)
        })
        .collect()
}

impl Digest {
    pub fn new<'a>(actions: impl IntoIterator<Item = &'a Action>) -> Self {
        Self::from_entries(actions.into_iter().map(Entry::from_action).collect())
    }

    pub fn from_entries(mut entries: Vec<Entry>) -> Self {
        let mut counts: BTreeMap<ConcernKind, usize> = BTreeMap::new();
        for e in &entries {
            *counts.entry(e.concern).or_default() += 1;
        }
        // Largest group first; equal sizes in the order ConcernKind declares.
        let mut order: Vec<(ConcernKind, usize)> = counts.into_iter().collect();
        order.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let rank: BTreeMap<ConcernKind, usize> = order.iter().enumerate().map(|(i, (k, _))| (*k, i)).collect();
        entries.sort_by(|a, b| {
            rank[&a.concern]
                .cmp(&rank[&b.concern])
                .then_with(|| a.cluster.to_ascii_lowercase().cmp(&b.cluster.to_ascii_lowercase()))
                .then_with(|| a.resource_group.to_ascii_lowercase().cmp(&b.resource_group.to_ascii_lowercase()))
                .then_with(|| a.subscription.to_ascii_lowercase().cmp(&b.subscription.to_ascii_lowercase()))
                .then_with(|| a.target.cmp(&b.target))
                .then_with(|| a.stage.cmp(&b.stage))
                .then_with(|| a.key.cmp(&b.key))
        });
        let mut groups = Vec::with_capacity(order.len());
        let mut start = 0;
        for (kind, n) in order {
            groups.push((kind, start, start + n));
            start += n;
        }
        Self { entries, groups, part: None }
    }

    /// `(i, n)` when this message is part `i` of `n`.
    pub fn part(&self) -> Option<(usize, usize)> {
        self.part
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The groups in display order: concern kind and its entries.
    pub fn groups(&self) -> impl Iterator<Item = (ConcernKind, &[Entry])> {
        self.groups.iter().map(|(k, s, e)| (*k, &self.entries[*s..*e]))
    }

    /// Distinct clusters (by id, ignoring case).
    pub fn cluster_count(&self) -> usize {
        let mut ids: Vec<String> = self.entries.iter().map(|e| e.cluster_id.to_ascii_lowercase()).collect();
        ids.sort();
        ids.dedup();
        ids.len()
    }

    /// The subject line without the prefix:
    /// - one entry: `prod-weu · Kubernetes upgrade available · 1.31` (`· overdue` etc. when the
    ///   stage is not the first notice), so an inbox sorted by subject sorts by cluster;
    /// - one cluster, several entries: `prod-weu · 3 concerns: node image available (+1 more kind)`;
    /// - several clusters: `300 clusters: node image available (+2 more kinds)`, naming the
    ///   largest group.
    pub fn headline(&self) -> String {
        let Some(first) = self.entries.first() else {
            return "nothing to report".into();
        };
        let (top, _) = self.groups().next().expect("non-empty digest has a group");
        let more = match self.groups.len() - 1 {
            0 => String::new(),
            1 => " (+1 more kind)".into(),
            n => format!(" (+{n} more kinds)"),
        };
        let line = if self.entries.len() == 1 {
            let mut s = format!("{} · {} · {}", first.cluster, concern_label(first.concern), first.target);
            if first.stage != Stage::Notice {
                let _ = write!(s, " · {}", first.stage.as_str());
            }
            s
        } else if self.cluster_count() == 1 {
            format!("{} · {} concerns: {}{more}", first.cluster, self.entries.len(), concern_label(top))
        } else {
            format!("{} clusters: {}{more}", self.cluster_count(), concern_label(top))
        };
        match self.part {
            Some((i, n)) => one_line(&format!("{line} (part {i} of {n})")),
            None => one_line(&line),
        }
    }

    /// The email subject: `[aks-cadence] ` + [`Digest::headline`].
    pub fn subject(&self) -> String {
        format!("{SUBJECT_PREFIX} {}", self.headline())
    }

    /// The opening sentence of every message.
    pub fn intro(&self) -> String {
        let n = self.entries.len();
        let c = self.cluster_count();
        let intro = format!(
            "aks-cadence has {n} {} for {c} {}.",
            if n == 1 { "notice" } else { "notices" },
            if c == 1 { "cluster" } else { "clusters" }
        );
        match self.part {
            Some((i, total)) => format!("{intro} This is part {i} of {total} of one digest."),
            None => intro,
        }
    }

    /// The plain-text body.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.intro());
        for (kind, entries) in self.groups() {
            let heading = format!("{} ({})", capitalise(concern_label(kind)), entries.len());
            let _ = writeln!(out, "{heading}\n{}\n", "=".repeat(heading.chars().count()));
            for e in entries {
                let _ = writeln!(out, "* {} ({}): {}", e.cluster, e.target, e.summary_line());
                for (label, value) in details(e) {
                    let _ = writeln!(out, "    {:<20}{}", format!("{label}:"), one_line(&value));
                }
                out.push('\n');
            }
        }
        out.push_str(FOOTER);
        out.push('\n');
        out
    }

    /// The HTML body. Everything that comes from outside (names, versions, summaries) is escaped.
    pub fn html(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
             <body style=\"font-family:Segoe UI,Helvetica,Arial,sans-serif;font-size:14px\">\n<p>{}</p>\n",
            esc(&self.subject()),
            esc(&self.intro())
        );
        for (kind, entries) in self.groups() {
            let _ = writeln!(out, "<h2>{} ({})</h2>", esc(&capitalise(concern_label(kind))), entries.len());
            out.push_str(
                "<table cellpadding=\"4\" cellspacing=\"0\" border=\"1\" style=\"border-collapse:collapse\">\n<thead><tr>\
                 <th>Cluster</th><th>Target</th><th>Subscription</th><th>Resource group</th><th>Region</th>\
                 <th>Current → target</th><th>Deadline</th><th>Maintenance window</th><th>Stage</th><th>Summary</th>\
                 </tr></thead>\n<tbody>\n",
            );
            for e in entries {
                let cells = [
                    e.cluster.clone(),
                    e.target.clone(),
                    e.subscription.clone(),
                    e.resource_group.clone(),
                    e.region.clone().unwrap_or_default(),
                    e.change(),
                    e.deadline.map(fmt_time).unwrap_or_default(),
                    e.window.as_ref().map(fmt_window).unwrap_or_default(),
                    e.stage.as_str().to_string(),
                    e.summary.clone(),
                ];
                out.push_str("<tr>");
                for c in cells {
                    let _ = write!(out, "<td>{}</td>", esc(&c));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody></table>\n");
        }
        let _ = write!(out, "<p style=\"color:#666;font-size:12px\">{}</p>\n</body></html>\n", esc(FOOTER));
        out
    }

    /// The Teams Workflows payload ("Send webhook alerts to a channel"): a message with one
    /// Adaptive Card 1.4 attachment.
    pub fn teams(&self) -> Value {
        let mut body = vec![
            json!({"type": "TextBlock", "text": self.headline(), "size": "Large", "weight": "Bolder", "wrap": true, "style": "heading"}),
            json!({"type": "TextBlock", "text": self.intro(), "wrap": true, "isSubtle": true, "spacing": "None"}),
        ];
        if let [e] = self.entries.as_slice() {
            let mut facts = vec![json!({"title": "Cluster", "value": e.cluster})];
            facts.extend(details(e).into_iter().map(|(t, v)| json!({"title": t, "value": clip(&v, CHAT_MAX_FIELD)})));
            body.push(json!({"type": "TextBlock", "text": clip(&e.summary, CHAT_MAX_FIELD), "wrap": true}));
            body.push(json!({"type": "FactSet", "facts": facts}));
        } else {
            let mut room = CHAT_MAX_ROWS;
            for (kind, entries) in self.groups() {
                let take = entries.len().min(room);
                room -= take;
                body.push(json!({
                    "type": "TextBlock", "text": format!("{} ({})", capitalise(concern_label(kind)), entries.len()),
                    "weight": "Bolder", "wrap": true, "spacing": "Medium",
                }));
                if take > 0 {
                    let facts: Vec<Value> = entries[..take]
                        .iter()
                        .map(|e| json!({"title": e.cluster, "value": clip(&row(e), CHAT_MAX_FIELD)}))
                        .collect();
                    body.push(json!({"type": "FactSet", "facts": facts}));
                }
                if take < entries.len() {
                    body.push(json!({
                        "type": "TextBlock", "wrap": true, "isSubtle": true, "spacing": "None",
                        "text": format!("… and {} more (the email digest lists them all).", entries.len() - take),
                    }));
                }
            }
        }
        body.push(json!({"type": "TextBlock", "text": FOOTER, "wrap": true, "isSubtle": true, "size": "Small", "spacing": "Medium"}));
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "msteams": {"width": "Full"},
                    "body": body,
                },
            }],
        })
    }

    /// The Slack incoming-webhook payload: `text` (notification fallback) and Block Kit blocks
    /// (header, one section per concern kind, context). `&`, `<`, `>` are escaped everywhere
    /// Slack reads mrkdwn.
    pub fn slack(&self) -> Value {
        let mut blocks = vec![json!({
            "type": "header",
            "text": {"type": "plain_text", "text": clip(&self.headline(), SLACK_MAX_HEADER), "emoji": false},
        })];
        if let [e] = self.entries.as_slice() {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": slack_clip(&e.summary, SLACK_MAX_TEXT)}}));
            // Slack allows at most 10 fields per section.
            let mut fields = vec![json!({"type": "mrkdwn", "text": format!("*Cluster*\n{}", slack_esc(&e.cluster))})];
            fields.extend(details(e).into_iter().take(9).map(|(t, v)| {
                json!({"type": "mrkdwn", "text": format!("*{t}*\n{}", slack_clip(&v, CHAT_MAX_FIELD))})
            }));
            blocks.push(json!({"type": "section", "fields": fields}));
        } else {
            let mut room = CHAT_MAX_ROWS;
            for (kind, entries) in self.groups() {
                let mut text = format!("*{} ({})*", slack_esc(&capitalise(concern_label(kind))), entries.len());
                let mut listed = 0;
                for e in entries.iter().take(room) {
                    let line = format!("\n• *{}* {}", slack_esc(&e.cluster), slack_clip(&row(e), CHAT_MAX_FIELD));
                    // Keep room for the "… and N more" line.
                    if text.chars().count() + line.chars().count() > SLACK_MAX_TEXT - 40 {
                        break;
                    }
                    text.push_str(&line);
                    listed += 1;
                }
                room -= listed;
                if listed < entries.len() {
                    let _ = write!(text, "\n… and {} more", entries.len() - listed);
                }
                blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
            }
        }
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": slack_esc(FOOTER)}]}));
        let fallback = match self.entries.as_slice() {
            [e] => format!("{}: {}", self.headline(), e.summary_line()),
            _ => format!("{}. {}", self.headline(), self.intro()),
        };
        json!({"text": slack_clip(&fallback, SLACK_MAX_TEXT), "blocks": blocks})
    }

    /// The generic webhook payload:
    /// `{"source":"aks-cadence","subject":…,"count":N,"digest":[{cluster, …, key}, …]}`.
    pub fn webhook(&self) -> Value {
        let digest: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                json!({
                    "cluster": e.cluster,
                    "cluster_id": e.cluster_id,
                    "subscription": e.subscription,
                    "resource_group": e.resource_group,
                    "region": e.region,
                    "concern": e.concern.as_str(),
                    "target": e.target,
                    "stage": e.stage.as_str(),
                    "current_version": e.current,
                    "target_version": e.target_version,
                    "summary": e.summary,
                    "deadline": e.deadline.map(|t| t.to_string()),
                    "window": e.window.as_ref().map(window_json),
                    "key": e.key,
                })
            })
            .collect();
        let mut body = json!({"source": "aks-cadence", "subject": self.subject(), "count": self.entries.len(), "digest": digest});
        if let Some((i, n)) = self.part {
            body["part"] = json!({"index": i, "of": n});
        }
        body
    }
}

const FOOTER: &str = "Sent by aks-cadence: one message per recipient list and run; each notice is sent once.";

/// `{"state":"open","until":…}`, `{"state":"closed","next":…|null}` or `{"state":"unknown"}`.
fn window_json(w: &WindowStatus) -> Value {
    match w {
        WindowStatus::Unknown => json!({"state": "unknown"}),
        WindowStatus::Open { until } => json!({"state": "open", "until": until.to_string()}),
        WindowStatus::Closed { next } => json!({"state": "closed", "next": next.map(|t| t.to_string())}),
    }
}

/// The labelled facts of one entry, in display order; unknown facts are left out.
fn details(e: &Entry) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("Concern", format!("{} ({})", concern_label(e.concern), e.target)),
        ("Subscription", e.subscription.clone()),
        ("Resource group", e.resource_group.clone()),
    ];
    if let Some(r) = &e.region {
        v.push(("Region", r.clone()));
    }
    let change = e.change();
    if !change.is_empty() {
        v.push(("Version", change));
    }
    if let Some(d) = e.deadline {
        v.push(("Deadline", fmt_time(d)));
    }
    if let Some(w) = &e.window {
        v.push(("Maintenance window", fmt_window(w)));
    }
    v.push(("Stage", e.stage.as_str().to_string()));
    v
}

/// One chat row after the cluster name:
/// `1.30: 1.30.4 → 1.30.7 · rg-prod / westeurope · deadline … · window … · reminder`.
fn row(e: &Entry) -> String {
    let change = e.change();
    let mut parts = vec![if change.is_empty() { e.target.clone() } else { format!("{}: {change}", e.target) }];
    parts.push(match &e.region {
        Some(r) => format!("{} / {r}", e.resource_group),
        None => e.resource_group.clone(),
    });
    if let Some(d) = e.deadline {
        parts.push(format!("deadline {}", fmt_time(d)));
    }
    if let Some(w) = &e.window {
        parts.push(format!("window {}", fmt_window(w)));
    }
    if e.stage != Stage::Notice {
        parts.push(e.stage.as_str().to_string());
    }
    one_line(&parts.join(" · "))
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub fn slack_esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Escapes for mrkdwn and cuts to `max` characters of escaped text, never inside an entity.
fn slack_clip(s: &str, max: usize) -> String {
    let escaped = slack_esc(s);
    if escaped.chars().count() <= max {
        return escaped;
    }
    let mut out = String::new();
    let mut n = 0;
    for c in s.chars() {
        let piece = slack_esc(c.encode_utf8(&mut [0; 4]));
        let len = piece.chars().count();
        if n + len > max.saturating_sub(1) {
            break;
        }
        out.push_str(&piece);
        n += len;
    }
    out.push('…');
    out
}

/// Collapses line breaks (a subject or a list row is one line).
fn one_line(s: &str) -> String {
    s.split(['\r', '\n']).map(str::trim).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Cuts text to `max` characters, ending with `…` when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_in_line_picks_the_highest_patch_of_the_line() {
        assert_eq!(newest_in_line(&["1.31.2", "1.31.10", "1.32.0"], "1.31").as_deref(), Some("1.31.10"));
        assert_eq!(newest_in_line(&["1.32.0"], "1.31"), None);
        assert_eq!(newest_in_line(&["1.31"], "1.31").as_deref(), Some("1.31"));
    }

    #[test]
    fn escaping_covers_markup_characters() {
        assert_eq!(esc("<b a=\"x\">&'"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(slack_esc("<!here> & co"), "&lt;!here&gt; &amp; co");
        assert_eq!(slack_clip("a&b", 5), "a…");
        assert_eq!(slack_clip("a&b", 7), "a&amp;b");
    }

    #[test]
    fn clip_and_one_line_bound_free_text() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(one_line("a\r\nb\n\nc"), "a b c");
    }
}
