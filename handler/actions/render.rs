//! What an action means for a person, rendered once and reused by every channel.
//!
//! [`facts`] gathers what an operator needs from an [`Action`] (cluster, subscription, resource
//! group, region, current and target versions, why it matters, the maintenance window, the `az aks`
//! command to do it by hand, links) into plain data. [`markdown`], [`comment_markdown`] and
//! [`title`] turn those facts into GitHub-flavoured markdown; mail and chat can render the same
//! [`Facts`] their own way. Everything here is pure: no clock, no IO, no settings — so nothing
//! secret can reach a message through this module.

use jiff::Timestamp;

use crate::action::{Action, ActionKind, Stage};
use crate::domain::{BaselineItem, BaselineState, ConcernKind, MaintenanceKind, MaintenanceStatus, OperationStatus, RollingPhase, SignalKind};
use crate::plan::WindowStatus;

/// AKS release notes (node images, Kubernetes versions, feature changes).
pub const AKS_RELEASE_NOTES: &str = "https://github.com/Azure/AKS/releases";
/// The AKS Kubernetes support calendar.
pub const AKS_SUPPORT_CALENDAR: &str = "https://learn.microsoft.com/azure/aks/supported-kubernetes-versions";

/// A link for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub label: String,
    pub url: String,
}

/// The facts of one action, channel-neutral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub cluster_name: String,
    pub cluster_id: String,
    pub subscription: String,
    pub resource_group: String,
    pub region: Option<String>,
    /// What the concern is, in a few words: "Kubernetes upgrade to 1.31".
    pub headline: String,
    /// The planner's one-line summary.
    pub summary: String,
    /// What runs now (control-plane version, or node image for a pool).
    pub current: Option<String>,
    /// Where it should go (the most precise version known, else the concern's target).
    pub target: Option<String>,
    /// Why it matters: support dates, deadline, first seen, what AKS reported.
    pub why: Vec<String>,
    /// The maintenance window, in one sentence, when known.
    pub window: Option<String>,
    /// Shell commands to do it by hand.
    pub commands: Vec<String>,
    pub links: Vec<Link>,
    /// Free text reported by Azure (an error message), shown verbatim in a code block.
    pub detail: Option<String>,
    /// The security baseline's checklist (checklist concerns only): (passes, line).
    pub checklist: Vec<(bool, String)>,
    /// "upgrades-offered observed 2026-01-05 10:00 UTC (sweep)".
    pub provenance: String,
}

/// A timestamp as people read it: `2026-03-01 09:30 UTC`.
pub fn when(t: Timestamp) -> String {
    crate::action::minute(t)
}

/// A date: `2026-03-01`.
pub fn day(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

/// Gathers the facts of an action.
pub fn facts(action: &Action) -> Facts {
    let c = &action.concern;
    let sig = &action.signal;
    let name = c.cluster.name().to_string();
    // A baseline concern's target (`<check>@<since>`) is an identity, not a version to reach.
    let baseline = c.kind == ConcernKind::Baseline;
    let target = precise_target(action).or_else(|| (!c.target.is_empty() && !baseline).then(|| c.target.clone()));
    let current = if baseline { None } else { current_of(action) };
    let headline = headline(action, target.as_deref());

    let mut why = Vec::new();
    let mut detail = None;
    match &sig.kind {
        SignalKind::NewKubernetesVersion { latest_supported, latest_stable, .. } => {
            let offered: Vec<&str> = [latest_stable, latest_supported].into_iter().flatten().map(String::as_str).collect();
            if !offered.is_empty() {
                why.push(format!("AKS now offers Kubernetes {} in this region.", offered.join(" and ")));
            }
        }
        SignalKind::UpgradesOffered { current, offered } => {
            let ga: Vec<&str> = offered.iter().filter(|o| !o.is_preview).map(|o| o.version.as_str()).collect();
            if !ga.is_empty() {
                why.push(format!("AKS offers upgrades from {current} to {}.", ga.join(", ")));
            }
        }
        SignalKind::SupportEnding { kubernetes_version, eol_date, support_type, eol_source } => {
            let plan = support_type.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
            let from = eol_source.as_deref().map(|s| format!(" (date from {s})")).unwrap_or_default();
            match eol_date {
                Some(d) => why.push(format!("Kubernetes {kubernetes_version} leaves AKS support{plan} on {}{from}.", day(*d))),
                None => why.push(format!("Kubernetes {kubernetes_version} is leaving AKS support{plan}.")),
            }
            why.push("Out of support means no security patches, and upgrades cannot skip a minor version.".into());
        }
        SignalKind::SupportEnded { kubernetes_version } => {
            why.push(format!("Kubernetes {kubernetes_version} is out of AKS support: no security patches, and upgrades cannot skip a minor version."));
        }
        SignalKind::NodeImageAvailable { pool, current, latest } => {
            why.push(format!("Node pool `{pool}` runs image {current}; {latest} is available (OS security patches)."));
        }
        SignalKind::CertificateExpiring { certificate, not_after } => {
            why.push(format!("The {} certificate expires on {}; after that clients cannot reach the cluster.", certificate.as_str(), when(*not_after)));
        }
        SignalKind::NodePoolRolling { pool, phase, error } => {
            let phase = match phase {
                RollingPhase::Started => "started",
                RollingPhase::Succeeded => "succeeded",
                RollingPhase::Failed => "failed",
            };
            why.push(format!("AKS reports that the roll of node pool `{pool}` {phase}."));
            detail = error.clone();
        }
        SignalKind::Maintenance { upgrade, status, scheduled_time, details, .. } => {
            let what = match upgrade {
                MaintenanceKind::KubernetesVersion => "Kubernetes version upgrade",
                MaintenanceKind::NodeOs => "node OS upgrade",
                MaintenanceKind::Unknown => "maintenance",
            };
            let status = match status {
                MaintenanceStatus::Scheduled => "is scheduled".to_string(),
                MaintenanceStatus::Started => "has started".to_string(),
                MaintenanceStatus::Completed => "has completed".to_string(),
                MaintenanceStatus::Canceled => "was canceled".to_string(),
                MaintenanceStatus::Failed => "failed".to_string(),
                MaintenanceStatus::Other(s) => format!("reports status `{s}`"),
            };
            let at = scheduled_time.map(|t| format!(" for {}", when(t))).unwrap_or_default();
            why.push(format!("AKS planned {what} {status}{at}."));
            detail = details.clone();
        }
        SignalKind::Operation { target, status, .. } => {
            let s = match status {
                OperationStatus::InProgress => "is in progress".to_string(),
                OperationStatus::Succeeded => "succeeded".to_string(),
                OperationStatus::Canceled => "was canceled".to_string(),
                OperationStatus::Failed { code, .. } => format!("failed ({code})"),
                OperationStatus::Refused { .. } => String::new(),
            };
            match status {
                OperationStatus::Refused { reason } => {
                    why.push(format!("aks-cadence did not start the change towards {target}: it was refused, nothing was started."));
                    detail = Some(reason.clone());
                }
                _ => why.push(format!("The operation aks-cadence started towards {target} {s}.")),
            }
            if let OperationStatus::Failed { message, .. } = status {
                detail = Some(message.clone());
            }
        }
        SignalKind::Resolved { target, .. } => {
            why.push(format!("The cluster now meets {target}."));
        }
        SignalKind::Baseline { items, .. } => match baseline_item(action) {
            Some(item) => {
                why.push(format!("Security baseline check `{}` ({} severity): {}.", item.check, item.severity, item.title));
                if !item.detail.is_empty() {
                    why.push(format!("Seen: {}.", item.detail.trim_end_matches('.')));
                }
                if let Some(since) = item.since {
                    why.push(format!("Failing since {}.", day(since)));
                }
                if let Some(fix) = item.fix.as_deref().filter(|f| !f.starts_with("az ")) {
                    why.push(format!("Fix: {fix}"));
                }
            }
            None => {
                let (judged, passed) = baseline_score(items);
                let failing = items.iter().filter(|i| i.status.is_failing()).count();
                why.push(format!(
                    "The cluster passes {passed} of {judged} security baseline checks that could be judged; {failing} failing."
                ));
                why.push("Each box below is ticked when its check passes (or is excepted); this issue is updated in place after each sweep and closed when every check passes or is excepted. aks-cadence only reports: it changes nothing in the cluster.".into());
            }
        },
        SignalKind::ChannelRequired { setting, current, required } => {
            let now = current.as_deref().map_or_else(|| "is not set".to_string(), |c| format!("is `{c}`"));
            why.push(format!("The cluster's AKS auto-upgrade setting `{setting}` {now}; policy requires `{required}`."));
            why.push(format!("Why: {}.", crate::policy::channels::BEST_PRACTICE));
            why.push("Run the command below; this issue closes at the first sweep that sees the setting.".into());
        }
        SignalKind::RingInversion { detail, .. } => {
            why.push(format!("{detail}."));
            why.push("aks-cadence cannot hold back an upgrade AKS applies through a channel; only the clusters' maintenance windows order them. Close this issue once the windows are staggered.".into());
        }
        SignalKind::EventsNotWired { system_topic, function } => {
            match system_topic {
                None => why.push("The cluster has no Event Grid system topic, so AKS publishes none of its events.".into()),
                Some(t) => why.push(format!(
                    "The cluster's Event Grid system topic `{t}` has no event subscription delivering to {}.",
                    function.as_deref().map_or_else(|| "this app".to_string(), |f| format!("`{f}`"))
                )),
            }
            why.push("New Kubernetes versions, support notices and node pool rolls of this cluster are heard only at the next sweep. Run the commands below, or add the cluster id to the `clusterIds` parameter of infra/main.bicep and deploy again.".into());
        }
    }
    if let Some(d) = action.deadline {
        why.push(format!("Cadence deadline (policy): {}.", day(d)));
    }
    if let Some(f) = action.first_seen {
        why.push(format!("First seen: {}.", day(f)));
    }
    if let Some(plan) = &sig.facts.support_plan {
        why.push(format!("Support plan: {plan}."));
    }

    let window = action.window.as_ref().filter(|_| !baseline).map(|w| match w {
        WindowStatus::Unknown => "No maintenance window is known for this cluster (none in AKS, none in policy).".to_string(),
        WindowStatus::Open { until } => format!("A maintenance window is open now, until {}.", when(*until)),
        WindowStatus::Closed { next: Some(n) } => format!("The next maintenance window opens {}.", when(*n)),
        WindowStatus::Closed { next: None } => "No upcoming maintenance window is scheduled.".to_string(),
    });

    let origin = match &sig.origin {
        crate::domain::Origin::EventGrid { event_type, .. } => format!("event {event_type}"),
        crate::domain::Origin::Sweep { .. } => "fleet sweep".to_string(),
        crate::domain::Origin::Manual => "manual".to_string(),
    };
    let checklist = match &sig.kind {
        SignalKind::Baseline { items, .. } if c.kind == ConcernKind::Baseline && baseline_item(action).is_none() => {
            items.iter().filter_map(checklist_line).collect()
        }
        _ => Vec::new(),
    };
    Facts {
        checklist,
        cluster_id: c.cluster.as_str().to_string(),
        subscription: c.cluster.subscription().to_string(),
        resource_group: c.cluster.resource_group().to_string(),
        region: sig.facts.location.clone(),
        commands: commands(action, target.as_deref()),
        links: links(action, target.as_deref(), current.as_deref()),
        headline,
        summary: action.summary.clone(),
        current,
        target,
        why,
        window,
        detail,
        provenance: format!("{} observed {} ({origin})", sig.kind.name(), when(sig.observed_at)),
        cluster_name: name,
    }
}

/// `"<cluster>: <summary>"` — starts with the cluster so a list of issues sorts by cluster.
pub fn title(action: &Action) -> String {
    let name = action.concern.cluster.name();
    let rest = summary_without_cluster(action);
    let rest = if rest.is_empty() { facts(action).headline } else { rest.to_string() };
    one_line(&format!("{name}: {rest}"))
}

/// The summary without a leading `"<cluster>:"` (messages already say which cluster).
fn summary_without_cluster(action: &Action) -> &str {
    let name = action.concern.cluster.name();
    let summary = action.summary.trim();
    summary
        .get(..name.len() + 1)
        .filter(|p| p.eq_ignore_ascii_case(&format!("{name}:")))
        .map(|_| summary[name.len() + 1..].trim())
        .unwrap_or(summary)
}

/// The summary without the cluster and without the stage word the planner puts in front of it
/// (`"update: …"`, `"reminder: …"`): a comment's bold lead already says the stage, and
/// "**Update**: update: …" says it twice.
fn summary_without_stage(action: &Action) -> &str {
    let summary = summary_without_cluster(action);
    let word = match action.stage {
        Stage::Reminder => "reminder:",
        Stage::Overdue => "overdue:",
        Stage::Update => "update:",
        Stage::Resolve => "resolved:",
        Stage::Notice | Stage::Execute => return summary,
    };
    summary.get(..word.len()).filter(|p| p.eq_ignore_ascii_case(word)).map(|_| summary[word.len()..].trim_start()).unwrap_or(summary)
}

/// The full description (issue or PR body) in markdown, without any channel marker.
pub fn markdown(action: &Action) -> String {
    let f = facts(action);
    let mut s = String::new();
    s.push_str(&format!("### {}: {}\n\n", text(&f.cluster_name), text(&f.headline)));
    let summary = summary_without_cluster(action);
    if !summary.is_empty() {
        s.push_str(&format!("{}\n\n", text(summary)));
    }
    // What the summary leaves out: why the target waits (a ring's soak), what is not ready.
    if let Some(note) = &action.note {
        s.push_str(&format!("{}\n\n", text(note)));
    }
    s.push_str("| | |\n|---|---|\n");
    s.push_str(&format!("| Cluster | {} ([portal](https://portal.azure.com/#@/resource{}/overview)) |\n", code(&f.cluster_name), f.cluster_id));
    s.push_str(&format!("| Subscription | {} |\n", code(&f.subscription)));
    s.push_str(&format!("| Resource group | {} |\n", code(&f.resource_group)));
    if let Some(r) = &f.region {
        s.push_str(&format!("| Region | {} |\n", code(r)));
    }
    if let Some(v) = &f.current {
        s.push_str(&format!("| Current | {} |\n", code(v)));
    }
    if let Some(v) = &f.target {
        s.push_str(&format!("| Target | {} |\n", code(v)));
    }
    if !f.why.is_empty() {
        s.push_str("\n**Why it matters**\n\n");
        for w in &f.why {
            s.push_str(&format!("- {}\n", text(w)));
        }
    }
    if let Some(d) = &f.detail {
        s.push_str(&format!("\nAzure reported:\n\n```text\n{}\n```\n", fenced(d)));
    }
    if !f.checklist.is_empty() {
        s.push_str("\n**Security baseline**\n\n");
        for (passes, line) in &f.checklist {
            s.push_str(&format!("- [{}] {}\n", if *passes { "x" } else { " " }, text(line)));
        }
    }
    if let Some(w) = &f.window {
        s.push_str(&format!("\n**Maintenance window**: {}\n", text(w)));
    }
    // How to approve, when policy requires approval (`plan::approval::how_to_approve`).
    if let Some(how) = action.note.as_deref().and_then(|n| n.split("\n\n").find(|p| p.starts_with("Approval required"))) {
        s.push_str(&format!("\n**Approval**: {}\n", text(how)));
    }
    if !f.commands.is_empty() {
        s.push_str("\n**To do it by hand**\n\n```sh\n");
        for c in &f.commands {
            s.push_str(&fenced(c));
            s.push('\n');
        }
        s.push_str("```\n");
    }
    if !f.links.is_empty() {
        s.push_str("\n**Links**\n\n");
        for l in &f.links {
            s.push_str(&format!("- [{}]({})\n", text(&l.label), l.url));
        }
    }
    s.push_str(&format!("\n<sub>aks-cadence · stage {} · {}</sub>\n", action.stage.as_str(), text(&f.provenance)));
    s
}

/// A comment announcing this stage on an existing thread (reminder, overdue, update, resolved).
pub fn comment_markdown(action: &Action) -> String {
    let f = facts(action);
    let lead = match action.stage {
        Stage::Notice => "**Notice**",
        Stage::Reminder => "**Reminder**",
        Stage::Overdue => "**Overdue**",
        Stage::Update => "**Update**",
        Stage::Execute => "**Started**",
        Stage::Resolve if action.superseded_by.is_some() => "**Superseded**",
        Stage::Resolve => "**Resolved**",
    };
    let mut s = format!("{lead}: {}\n\n", text(summary_without_stage(action)));
    if let Some(note) = &action.note {
        s.push_str(&format!("{}\n\n", text(note)));
    }
    match action.stage {
        Stage::Overdue => {
            let d = action.deadline.map(|d| format!(" ({})", day(d))).unwrap_or_default();
            s.push_str(&format!("The cadence deadline{d} has passed.\n\n"));
        }
        Stage::Reminder => {
            if let Some(d) = action.deadline {
                s.push_str(&format!("The cadence deadline is {}.\n\n", day(d)));
            }
        }
        _ => {}
    }
    if let (Some(c), Some(t)) = (&f.current, &f.target) {
        s.push_str(&format!("- {} → {}\n", code(c), code(t)));
    }
    for w in f.why.iter().filter(|w| !w.starts_with("Cadence deadline") && !w.starts_with("First seen")) {
        s.push_str(&format!("- {}\n", text(w)));
    }
    if let Some(w) = &f.window {
        s.push_str(&format!("- {}\n", text(w)));
    }
    if let Some(d) = &f.detail {
        s.push_str(&format!("\n```text\n{}\n```\n", fenced(d)));
    }
    if action.stage != Stage::Resolve {
        s.push_str("\nThe description above has been refreshed with the latest facts.\n");
    }
    s
}

fn headline(action: &Action, target: Option<&str>) -> String {
    let t = action.concern.target.as_str();
    match action.concern.kind {
        ConcernKind::KubernetesUpgrade => format!("Kubernetes upgrade to {}", target.unwrap_or(t)),
        ConcernKind::Support => match &action.signal.kind {
            SignalKind::SupportEnded { kubernetes_version } => format!("Kubernetes {kubernetes_version} is out of support"),
            SignalKind::SupportEnding { kubernetes_version, .. } => format!("Kubernetes {kubernetes_version} support is ending"),
            _ => format!("Kubernetes {t} support"),
        },
        ConcernKind::NodeImage => format!("node image update for pool {t}"),
        ConcernKind::Certificate => format!("{t} certificate expiring"),
        ConcernKind::NodePoolRoll => format!("node pool {t} roll"),
        ConcernKind::Maintenance => format!("planned maintenance {t}"),
        ConcernKind::EventWiring => "AKS events not wired to aks-cadence".to_string(),
        ConcernKind::AksChannel => format!("AKS {t} not as policy requires"),
        ConcernKind::RingInversion => format!("ring inversion: {t} reached this cluster before the earlier ring soaked it"),
        ConcernKind::Baseline => match baseline_item(action) {
            Some(item) => format!("security baseline: {}", item.title),
            None => "security baseline checklist".to_string(),
        },
    }
}

/// The baseline item a per-check concern (`<check>@<since>`) is about; `None` for the
/// checklist concern or another signal.
fn baseline_item(action: &Action) -> Option<&BaselineItem> {
    let SignalKind::Baseline { items, .. } = &action.signal.kind else { return None };
    let check = crate::baseline::report::check_of_target(&action.concern.target)?;
    items.iter().find(|i| i.check == check)
}

/// (checks that could be judged, checks passed or excepted).
fn baseline_score(items: &[BaselineItem]) -> (usize, usize) {
    let judged = items.iter().filter(|i| !matches!(i.status, BaselineState::Unknown | BaselineState::NotApplicable)).count();
    let passed = items.iter().filter(|i| matches!(i.status, BaselineState::Pass | BaselineState::Excepted)).count();
    (judged, passed)
}

/// One checklist line; not-applicable checks are left out.
fn checklist_line(item: &BaselineItem) -> Option<(bool, String)> {
    let fix = |i: &BaselineItem| match (&i.fix, &i.doc) {
        (Some(f), Some(d)) => format!(" Fix: `{}` ([docs]({d}))", one_line(f).replace('`', "'")),
        (Some(f), None) => format!(" Fix: `{}`", one_line(f).replace('`', "'")),
        (None, Some(d)) => format!(" ([docs]({d}))"),
        (None, None) => String::new(),
    };
    let head = format!("**{}** `{}` ({})", item.title, item.check, item.severity);
    match item.status {
        BaselineState::Pass => Some((true, head)),
        BaselineState::Excepted => Some((true, format!("{head} — excepted: {}", item.detail))),
        BaselineState::Fail => Some((false, format!("{head} — {}.{}", item.detail.trim_end_matches('.'), fix(item)))),
        BaselineState::ExceptionExpired => Some((false, format!("{head} — {}.{}", item.detail.trim_end_matches('.'), fix(item)))),
        BaselineState::Unknown => Some((false, format!("{head} — unknown: {}", item.detail))),
        BaselineState::NotApplicable => None,
    }
}

/// The version the action moves to, as precisely as the action knows it.
fn precise_target(action: &Action) -> Option<String> {
    if let ActionKind::GithubPullRequest { version, .. } = &action.kind {
        return Some(version.clone());
    }
    let t = action.concern.target.as_str();
    let in_line = |v: &str| v == t || v.starts_with(&format!("{t}."));
    match &action.signal.kind {
        SignalKind::UpgradesOffered { offered, .. } if action.concern.kind == ConcernKind::KubernetesUpgrade => {
            offered.iter().filter(|o| !o.is_preview && in_line(&o.version)).map(|o| o.version.clone()).max_by_key(|v| version_key(v))
        }
        SignalKind::NewKubernetesVersion { latest_supported, latest_stable, .. } if action.concern.kind == ConcernKind::KubernetesUpgrade => {
            [latest_stable, latest_supported].into_iter().flatten().filter(|v| in_line(v)).max_by_key(|v| version_key(v)).cloned()
        }
        SignalKind::NodeImageAvailable { latest, .. } => Some(latest.clone()),
        SignalKind::Operation { target, .. } => Some(target.clone()),
        _ => None,
    }
}

fn current_of(action: &Action) -> Option<String> {
    match &action.signal.kind {
        SignalKind::UpgradesOffered { current, .. } => Some(current.clone()),
        SignalKind::SupportEnding { kubernetes_version, .. } | SignalKind::SupportEnded { kubernetes_version } => Some(kubernetes_version.clone()),
        SignalKind::NodeImageAvailable { current, .. } => Some(current.clone()),
        _ => action.signal.facts.kubernetes_version.clone(),
    }
}

/// Numeric sort key of `1.31.2` (non-numeric parts sort as 0).
fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// `1.31` from `1.31.2` or `1.31`.
fn minor_of(v: &str) -> Option<String> {
    let mut parts = v.split('.');
    let (a, b) = (parts.next()?, parts.next()?);
    (a.chars().all(|c| c.is_ascii_digit()) && b.chars().all(|c| c.is_ascii_digit()) && !a.is_empty() && !b.is_empty())
        .then(|| format!("{a}.{b}"))
}

fn is_full_version(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn commands(action: &Action, target: Option<&str>) -> Vec<String> {
    let c = &action.concern.cluster;
    let base = format!("--subscription {} --resource-group {}", sh(c.subscription()), sh(c.resource_group()));
    let name = sh(c.name());
    let pool = match &action.signal.kind {
        SignalKind::NodeImageAvailable { pool, .. } | SignalKind::NodePoolRolling { pool, .. } => pool.clone(),
        _ => action.concern.target.clone(),
    };
    match action.concern.kind {
        ConcernKind::KubernetesUpgrade | ConcernKind::Support => {
            let upgrade_to = target.filter(|t| is_full_version(t) && action.concern.kind == ConcernKind::KubernetesUpgrade);
            let mut v = vec![format!("az aks get-upgrades {base} --name {name} --output table")];
            match upgrade_to {
                Some(t) => v.push(format!("az aks upgrade {base} --name {name} --kubernetes-version {}", sh(t))),
                None => v.push(format!("az aks upgrade {base} --name {name} --kubernetes-version <version from get-upgrades>")),
            }
            v
        }
        ConcernKind::NodeImage => vec![format!("az aks nodepool upgrade {base} --cluster-name {name} --name {} --node-image-only", sh(&pool))],
        ConcernKind::Certificate => vec![
            "# Recreates all nodes: up to 30 minutes of downtime. Run it inside a maintenance window.".to_string(),
            format!("az aks rotate-certs {base} --name {name}"),
        ],
        ConcernKind::NodePoolRoll => vec![
            format!("az aks nodepool show {base} --cluster-name {name} --name {} --query '{{state:provisioningState, version:orchestratorVersion, image:nodeImageVersion}}'", sh(&pool)),
            format!("az aks show {base} --name {name} --query provisioningState"),
        ],
        ConcernKind::Maintenance | ConcernKind::RingInversion => {
            vec![format!("az aks maintenanceconfiguration list {base} --cluster-name {name} --output table")]
        }
        ConcernKind::Baseline => {
            baseline_item(action).and_then(|i| i.fix.clone()).filter(|f| f.starts_with("az ")).into_iter().collect()
        }
        ConcernKind::AksChannel => match &action.signal.kind {
            SignalKind::ChannelRequired { setting, required, .. } => {
                let required = crate::policy::channels::ChannelSetting::of_target(setting)
                    .and_then(|s| crate::policy::channels::RequiredChannel::parse(s, required));
                required.map(|r| r.command(&action.concern.cluster)).into_iter().collect()
            }
            _ => Vec::new(),
        },
        ConcernKind::EventWiring => match &action.signal.kind {
            SignalKind::EventsNotWired { system_topic, function } => crate::plan::wiring_commands(
                &action.concern.cluster,
                action.signal.facts.location.as_deref(),
                system_topic.as_deref(),
                function.as_deref(),
            ),
            _ => Vec::new(),
        },
    }
}

fn links(action: &Action, target: Option<&str>, current: Option<&str>) -> Vec<Link> {
    let link = |label: &str, url: &str| Link { label: label.to_string(), url: url.to_string() };
    let mut v = if action.concern.kind == ConcernKind::Baseline { Vec::new() } else { vec![link("AKS release notes", AKS_RELEASE_NOTES)] };
    match action.concern.kind {
        ConcernKind::KubernetesUpgrade | ConcernKind::Support => {
            let minor = match action.concern.kind {
                ConcernKind::Support => target.and_then(minor_of).filter(|_| target != current).or_else(|| current.and_then(minor_of)),
                _ => target.and_then(minor_of).or_else(|| minor_of(&action.concern.target)),
            };
            if let Some(m) = minor {
                v.push(Link {
                    label: format!("Kubernetes {m} changelog"),
                    url: format!("https://github.com/kubernetes/kubernetes/blob/master/CHANGELOG/CHANGELOG-{m}.md"),
                });
            }
            v.push(link("AKS Kubernetes support calendar", AKS_SUPPORT_CALENDAR));
        }
        ConcernKind::NodeImage => v.push(link("Upgrading AKS node images", "https://learn.microsoft.com/azure/aks/node-image-upgrade")),
        ConcernKind::Certificate => v.push(link("AKS certificate rotation", "https://learn.microsoft.com/azure/aks/certificate-rotation")),
        ConcernKind::NodePoolRoll => v.push(link("Troubleshooting AKS upgrades", "https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/upgrading-or-scaling-does-not-succeed")),
        ConcernKind::Maintenance => v.push(link("AKS planned maintenance", "https://learn.microsoft.com/azure/aks/planned-maintenance")),
        ConcernKind::EventWiring => v.push(link("AKS events in Event Grid", "https://learn.microsoft.com/azure/aks/quickstart-event-grid")),
        ConcernKind::AksChannel => {
            if let Some(setting) = crate::policy::channels::ChannelSetting::of_target(&action.concern.target) {
                v.push(link("Microsoft: the setting and its channels", setting.doc()));
            }
            v.push(link("Set an auto-upgrade channel (best practice)", "https://learn.microsoft.com/azure/aks/upgrade-cluster#set-auto-upgrade-channel"));
        }
        ConcernKind::RingInversion => v.push(link("AKS planned maintenance", "https://learn.microsoft.com/azure/aks/planned-maintenance")),
        ConcernKind::Baseline => {
            if let Some(doc) = baseline_item(action).and_then(|i| i.doc.as_deref()) {
                v.push(link("How to fix it", doc));
            }
            v.push(link("AKS security best practices", "https://learn.microsoft.com/azure/aks/operator-best-practices-cluster-security"));
        }
    }
    v
}

/// Single-quotes a shell word when it holds anything beyond `[A-Za-z0-9._-]`.
fn sh(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/')) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Inline code without backticks or pipes that would break it or a table.
fn code(s: &str) -> String {
    format!("`{}`", one_line(s).replace('`', "'").replace('|', "\\|"))
}

/// Free text: no HTML comments (so nothing can forge a marker), no table-breaking pipes.
fn text(s: &str) -> String {
    s.replace("<!--", "&lt;!--").replace('|', "\\|")
}

/// Text inside a fenced block: no fence can be closed early, no marker can be forged.
fn fenced(s: &str) -> String {
    s.replace("```", "'''").replace("<!--", "&lt;!--")
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(sh("rg-prod_1.x"), "rg-prod_1.x");
        assert_eq!(sh("rg (old)"), "'rg (old)'");
        assert_eq!(sh("it's"), r"'it'\''s'");
    }

    #[test]
    fn minors_and_full_versions_are_recognised() {
        assert_eq!(minor_of("1.31.2").as_deref(), Some("1.31"));
        assert_eq!(minor_of("1.31").as_deref(), Some("1.31"));
        assert_eq!(minor_of("nodepool1"), None);
        assert!(is_full_version("1.31.2") && !is_full_version("1.31"));
        assert!(version_key("1.31.10") > version_key("1.31.9"));
    }

    #[test]
    fn free_text_cannot_forge_a_marker() {
        assert!(!text("<!-- aks-cadence:concern=x -->").contains("<!--"));
        assert!(!fenced("```\n<!-- x -->").contains("```"));
    }
}
