//! The fleet dashboard: what every cluster runs and what waits on it, as one markdown document —
//! the GitHub issue "AKS fleet dashboard" and `handler status` print the same.
//!
//! Pure (layer: core). The input is a [`FleetStatus`]: per cluster what the last sweep saw (its
//! version, channels, node images, the window that governs its next change) and the open
//! concerns of the last plan (stage, deadline, what holds each change). The run layer
//! (`fleet_status`) assembles it from the fleet records (`sweep::fleet`); this module only
//! renders, so an unchanged fleet renders byte-identical (everything is sorted, and it shows
//! dates rather than ages, so the day of the sweep shows only through a support end coming
//! within 30 days and a cluster whose sweep failed being marked "as of" its last sweep).
//!
//! Size: GitHub refuses an issue body or a comment longer than 65,536 characters ("body is too
//! long (maximum is 65536 characters)"). [`dashboard`] keeps the whole table in the body while
//! it fits and otherwise puts a summary in the body and the per-ring tables in detail comments,
//! each under the limit.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Hold, Stage, minute};
use crate::domain::{ClusterFacts, ClusterId, ConcernKind};
use crate::policy::Policy;
use crate::policy::versions::{AksVersion, MinorLine};
use crate::policy::windows::WindowStatus;

/// The dashboard issue's title (one per repository; found again by it and the label).
pub const TITLE: &str = "AKS fleet dashboard";

/// GitHub's limit on an issue body and on a comment, in characters.
pub const GITHUB_BODY_LIMIT: usize = 65_536;

/// What the renderer keeps each document under: the limit less room for the hidden markers
/// the GitHub adapter appends.
pub const DOCUMENT_BUDGET: usize = GITHUB_BODY_LIMIT - 1_024;

/// The section clusters outside every ring are shown under.
pub const NO_RING: &str = "Fleet";

/// The whole fleet as of one sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetStatus {
    /// When the sweep that wrote this ran (the pipeline's clock).
    pub swept_at: Timestamp,
    /// Ring names in policy order; clusters in no ring come last, under [`NO_RING`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rings: Vec<String>,
    /// Every cluster of the sweep's inventory, sorted by id (case-folded).
    pub clusters: Vec<ClusterStatus>,
}

/// One cluster as its last sweep saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub cluster: ClusterId,
    /// When these facts were read (earlier than the fleet's sweep when this cluster's own sweep
    /// failed that time: its previous status is kept).
    pub swept_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_os_upgrade_channel: Option<String>,
    /// Every pool with its node image (`None`: not known).
    #[serde(default)]
    pub node_images: BTreeMap<String, Option<String>>,
    /// The window that governs the cluster's version changes at the sweep.
    #[serde(default)]
    pub window: WindowStatus,
    /// Open concerns, sorted by (kind, target).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub concerns: Vec<ConcernStatus>,
}

/// One open concern of a cluster, from the last plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConcernStatus {
    pub kind: ConcernKind,
    pub target: String,
    /// Where it stands on the escalation ladder (notice, reminder, overdue; update for news).
    pub stage: Stage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    /// The change aks-cadence would make for it, when policy plans one: `None` inside = it may
    /// run now (or ran); `Some(hold)` = what holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeStatus>,
}

/// The cluster change planned for a concern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeStatus {
    /// `upgrade-patch:1.30.7`, `upgrade-node-image:pool1:…` (the action's channel).
    pub change: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
}

/// The ring a cluster belongs to: the first `[[ring]]` that selects it (`Policy::ring_of`, the
/// rule the ring gate uses); a cluster in no ring shows under [`NO_RING`].
pub fn ring_of(policy: &crate::policy::Policy, cluster: &ClusterId, facts: &ClusterFacts) -> Option<String> {
    policy.ring_of(cluster, facts).map(|i| policy.rings[i].name.clone())
}

/// When support for `line` ends, if known: the date AKS announced for it (a `support` concern's
/// deadline, from a support-ending event or notice) on any cluster of the fleet. The one place
/// the dashboard asks; `policy::versions` has no calendar of its own yet.
pub fn support_end(line: MinorLine, fleet: &FleetStatus) -> Option<Timestamp> {
    let target = line.to_string();
    fleet
        .clusters
        .iter()
        .flat_map(|c| &c.concerns)
        .filter(|c| c.kind == ConcernKind::Support && c.target == target)
        .filter_map(|c| c.deadline)
        .min()
}

/// Every repository a rule opens issues in (`[rule.github_issue] repo`), case-folded, sorted,
/// once each: each gets one dashboard.
pub fn dashboard_repos(policy: &Policy) -> Vec<String> {
    let mut repos: Vec<String> = policy.rules.iter().filter_map(|r| r.github_issue.as_ref()).map(|g| g.repo.trim().to_ascii_lowercase()).collect();
    repos.sort();
    repos.dedup();
    repos
}

/// The open concerns of each cluster in a plan (`actions`: planned and already finished
/// alike — a concern notified earlier is planned again by every sweep and dropped as finished).
/// A concern with a `Resolve` action is closing, so not open. Its stage is the highest rung of
/// the ladder planned (notice < reminder < overdue; `update` when only news was planned); its
/// change is the first cluster-changing action (by channel) with what holds it.
pub fn open_concerns<'a>(actions: impl IntoIterator<Item = &'a Action>) -> BTreeMap<ClusterId, Vec<ConcernStatus>> {
    let mut grouped: BTreeMap<(ClusterId, ConcernKind, String), Vec<&Action>> = BTreeMap::new();
    for a in actions {
        grouped.entry((a.concern.cluster.clone(), a.concern.kind, a.concern.target.clone())).or_default().push(a);
    }
    let mut out: BTreeMap<ClusterId, Vec<ConcernStatus>> = BTreeMap::new();
    for ((cluster, kind, target), list) in grouped {
        if list.iter().any(|a| a.stage == Stage::Resolve) {
            continue;
        }
        let ladder = list.iter().map(|a| a.stage).filter(|s| matches!(s, Stage::Notice | Stage::Reminder | Stage::Overdue)).max();
        let stage = ladder.or_else(|| list.iter().map(|a| a.stage).min()).unwrap_or(Stage::Notice);
        let deadline = list.iter().filter_map(|a| a.deadline).max();
        let change = list
            .iter()
            .filter(|a| a.stage == Stage::Execute && a.kind.changes_cluster())
            .map(|a| ChangeStatus { change: a.kind.channel(), hold: a.hold.clone() })
            .min_by(|a, b| a.change.cmp(&b.change));
        out.entry(cluster).or_default().push(ConcernStatus { kind, target, stage, deadline, change });
    }
    out
}

/// The date a node image was built, read from its version: `AKSUbuntu-2204gen2containerd-202405.03.0`
/// (`YYYYMM.DD`) or `AKSUbuntu:1604:2020.01.01` (`YYYY.MM.DD`). `None` for other shapes.
pub fn image_date(image: &str) -> Option<Date> {
    let last = image.rsplit([':', '-']).next()?;
    let parts: Vec<&str> = last.split('.').collect();
    let num = |s: &str| s.parse::<i16>().ok();
    let (y, m, d) = match parts.as_slice() {
        [ym, d, ..] if ym.len() == 6 && ym.chars().all(|c| c.is_ascii_digit()) => (num(&ym[..4])?, num(&ym[4..])?, num(d)?),
        [y, m, d, ..] if y.len() == 4 => (num(y)?, num(m)?, num(d)?),
        _ => return None,
    };
    Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

fn day(t: Timestamp) -> Date {
    jiff::tz::Offset::UTC.to_datetime(t).date()
}

fn day_str(t: Timestamp) -> String {
    day(t).to_string()
}

impl ClusterStatus {
    /// The age in days of the cluster's oldest node image at `today` (`None`: no image date known).
    pub fn oldest_image_age(&self, today: Date) -> Option<i32> {
        self.node_images.values().flatten().filter_map(|i| image_date(i)).min().map(|d| (today - d).get_days())
    }

    /// The build date of the cluster's oldest node image (`None`: no image date known).
    pub fn oldest_image_date(&self) -> Option<Date> {
        self.node_images.values().flatten().filter_map(|i| image_date(i)).min()
    }

    fn minor(&self) -> Option<MinorLine> {
        self.kubernetes_version.as_deref().and_then(|v| AksVersion::parse(v).ok()).map(|v| v.minor_line())
    }

    fn ring_name(&self) -> &str {
        self.ring.as_deref().unwrap_or(NO_RING)
    }

    fn overdue(&self) -> usize {
        self.concerns.iter().filter(|c| c.stage == Stage::Overdue).count()
    }

    fn held(&self) -> usize {
        self.concerns.iter().filter(|c| c.change.as_ref().is_some_and(|ch| ch.hold.is_some())).count()
    }
}

/// What is posted: the issue body, and the detail comments (empty when everything fits in the
/// body). Each is at most [`DOCUMENT_BUDGET`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    pub body: String,
    pub comments: Vec<String>,
}

impl Dashboard {
    /// A digest of everything posted, to tell whether the dashboard changed since the last post.
    pub fn fingerprint_input(&self) -> String {
        let mut all = self.body.clone();
        for c in &self.comments {
            all.push_str("\n\u{0}\n");
            all.push_str(c);
        }
        all
    }
}

/// The rings in display order, each with its clusters (sorted by id): policy order, then any
/// ring a cluster names that policy does not list (by name), then [`NO_RING`].
fn by_ring(fleet: &FleetStatus) -> Vec<(String, Vec<&ClusterStatus>)> {
    let mut groups: BTreeMap<String, Vec<&ClusterStatus>> = BTreeMap::new();
    for c in &fleet.clusters {
        groups.entry(c.ring_name().to_string()).or_default().push(c);
    }
    for list in groups.values_mut() {
        list.sort_by_key(|c| c.cluster.key());
    }
    let mut out = Vec::new();
    for ring in &fleet.rings {
        if let Some(list) = groups.remove(ring) {
            out.push((ring.clone(), list));
        }
    }
    let none = groups.remove(NO_RING);
    out.extend(groups);
    if let Some(list) = none {
        out.push((NO_RING.to_string(), list));
    }
    out
}

/// The whole dashboard as one document, whatever its size (`handler status --format markdown`).
pub fn render_markdown(fleet: &FleetStatus) -> String {
    let mut out = summary(fleet);
    for (ring, clusters) in by_ring(fleet) {
        out.push_str(&ring_section(&ring, &clusters, day(fleet.swept_at), None));
    }
    out
}

/// The dashboard as posted on GitHub: everything in the body while it fits in
/// [`DOCUMENT_BUDGET`]; otherwise the summary in the body and each ring's table in detail
/// comments (a ring too large for one comment is split into parts, clusters in id order).
pub fn dashboard(fleet: &FleetStatus) -> Dashboard {
    let whole = render_markdown(fleet);
    if whole.chars().count() <= DOCUMENT_BUDGET {
        return Dashboard { body: whole, comments: Vec::new() };
    }
    let today = day(fleet.swept_at);
    let mut comments = Vec::new();
    let mut index = String::from("\n## Per-ring detail\n\nThe fleet is too large for one issue body: each ring's table is in the comments below, edited in place after each sweep.\n\n");
    for (ring, clusters) in by_ring(fleet) {
        let parts = split_rows(&ring, &clusters, today);
        let total = parts.len();
        let first = comments.len() + 1;
        for (i, rows) in parts.into_iter().enumerate() {
            let part = (total > 1).then_some((i + 1, total));
            comments.push(ring_section(&ring, &rows, today, part));
        }
        let _ = writeln!(
            index,
            "- **{}**: {} cluster(s), detail comment{} {}",
            escape(&ring),
            clusters.len(),
            if total > 1 { "s" } else { "" },
            if total > 1 { format!("{first}–{}", first + total - 1) } else { first.to_string() }
        );
    }
    let mut body = summary(fleet);
    body.push_str(&index);
    Dashboard { body, comments }
}

/// Splits a ring's clusters into runs whose section each fits the budget.
fn split_rows<'a>(ring: &str, clusters: &[&'a ClusterStatus], today: Date) -> Vec<Vec<&'a ClusterStatus>> {
    // Room for the heading and the table header of a part, measured, plus slack for the part label.
    let overhead = ring_section(ring, &[], today, Some((999, 999))).chars().count() + 16;
    let mut parts: Vec<Vec<&ClusterStatus>> = Vec::new();
    let mut current: Vec<&ClusterStatus> = Vec::new();
    let mut size = overhead;
    for c in clusters {
        let row = cluster_row(c, today).chars().count();
        if !current.is_empty() && size + row > DOCUMENT_BUDGET {
            parts.push(std::mem::take(&mut current));
            size = overhead;
        }
        size += row;
        current.push(c);
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(current);
    }
    parts
}

/// Heading, the counts, the rings and minor versions, the support chart and the most urgent concerns.
fn summary(fleet: &FleetStatus) -> String {
    let today = day(fleet.swept_at);
    let total = fleet.clusters.len();
    let with_concerns = fleet.clusters.iter().filter(|c| !c.concerns.is_empty()).count();
    let overdue: usize = fleet.clusters.iter().map(ClusterStatus::overdue).sum();
    let held: usize = fleet.clusters.iter().map(ClusterStatus::held).sum();
    let mut out = String::new();
    let _ = writeln!(out, "# {TITLE}\n");
    let _ = writeln!(
        out,
        "Kept up to date by aks-cadence: rewritten after a sweep only when something here changed (the issue's edit history says when), so an unchanged fleet leaves it alone; edits here are overwritten.\n"
    );
    let _ = writeln!(out, "**{total} cluster(s)** · {with_concerns} with open concerns · {overdue} overdue concern(s) · {held} held change(s)\n");

    out.push_str("| Ring | Clusters | With open concerns | Overdue | Held changes |\n|---|---:|---:|---:|---:|\n");
    for (ring, clusters) in by_ring(fleet) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            escape(&ring),
            clusters.len(),
            clusters.iter().filter(|c| !c.concerns.is_empty()).count(),
            clusters.iter().map(|c| c.overdue()).sum::<usize>(),
            clusters.iter().map(|c| c.held()).sum::<usize>()
        );
    }

    // Minor versions, oldest first, with the clusters still on each.
    let mut minors: BTreeMap<MinorLine, usize> = BTreeMap::new();
    let mut unknown = 0usize;
    for c in &fleet.clusters {
        match c.minor() {
            Some(m) => *minors.entry(m).or_default() += 1,
            None => unknown += 1,
        }
    }
    out.push_str("\n## Kubernetes versions\n\n| Minor | Clusters on it | Support ends |\n|---|---:|---|\n");
    for (line, n) in &minors {
        let end = support_end(*line, fleet).map_or_else(|| "not announced".to_string(), day_str);
        let _ = writeln!(out, "| {line} | {n} | {end} |");
    }
    if unknown > 0 {
        let _ = writeln!(out, "| unknown | {unknown} | |");
    }
    out.push_str(&gantt(fleet, &minors, today));

    // The most urgent concerns: overdue first, then by deadline; at most 20.
    let mut urgent: Vec<(&ClusterStatus, &ConcernStatus)> =
        fleet.clusters.iter().flat_map(|c| c.concerns.iter().map(move |k| (c, k))).filter(|(_, k)| k.deadline.is_some() || k.stage == Stage::Overdue).collect();
    urgent.sort_by(|(ca, a), (cb, b)| {
        (b.stage == Stage::Overdue)
            .cmp(&(a.stage == Stage::Overdue))
            .then(a.deadline.cmp(&b.deadline))
            .then(ca.cluster.key().cmp(&cb.cluster.key()))
            .then(a.kind.cmp(&b.kind))
            .then(a.target.cmp(&b.target))
    });
    if !urgent.is_empty() {
        out.push_str("\n## Next deadlines\n\n");
        for (c, k) in urgent.iter().take(20) {
            let _ = writeln!(out, "- {} — {}", escape(c.cluster.name()), concern_text(k));
        }
        if urgent.len() > 20 {
            let _ = writeln!(out, "- … and {} more (see the tables)", urgent.len() - 20);
        }
    }
    out
}

/// The Mermaid gantt chart: one milestone per minor whose support end is known, on that end,
/// labelled with the clusters still on it; critical within 30 days of the end or past it. Only
/// dates that move with the fleet appear (no "today" bar), so an unchanged fleet renders the
/// same chart on every day of the sweep until a milestone turns critical.
fn gantt(fleet: &FleetStatus, minors: &BTreeMap<MinorLine, usize>, today: Date) -> String {
    let known: Vec<(MinorLine, usize, Date)> = minors.iter().filter_map(|(l, n)| support_end(*l, fleet).map(|end| (*l, *n, day(end)))).collect();
    if known.is_empty() {
        return "\nNo support end has been announced for the minors in the fleet yet, so there is no support chart.\n".to_string();
    }
    let mut out = String::from("\n```mermaid\ngantt\n    title Support end of each minor version, with the clusters still on it\n    dateFormat YYYY-MM-DD\n    axisFormat %Y-%m-%d\n");
    for (line, n, end) in known {
        let _ = writeln!(out, "    section {line}");
        let label = format!("{n} cluster{}", if n == 1 { "" } else { "s" });
        let id = format!("v{}_{}", line.major, line.minor);
        if end > today {
            let crit = if (end - today).get_days() <= 30 { "crit, " } else { "" };
            let _ = writeln!(out, "    {label}, support ends :{crit}milestone, {id}, {end}, 0d");
        } else {
            let _ = writeln!(out, "    {label} out of support :crit, milestone, {id}, {end}, 0d");
        }
    }
    out.push_str("```\n");
    out
}

/// One ring's table; `part` = (n, of) when the ring is split over several comments.
fn ring_section(ring: &str, clusters: &[&ClusterStatus], today: Date, part: Option<(usize, usize)>) -> String {
    let mut out = String::new();
    match part {
        Some((n, of)) => {
            let _ = writeln!(out, "\n## {} (part {n} of {of})\n", escape(ring));
        }
        None => {
            let _ = writeln!(out, "\n## {}\n", escape(ring));
        }
    }
    out.push_str("| Cluster | Version | Channels (upgrade / node OS) | Oldest node image | Next window | Open concerns | Held by |\n|---|---|---|---|---|---|---|\n");
    for c in clusters {
        out.push_str(&cluster_row(c, today));
    }
    if clusters.is_empty() && part.is_none() {
        out.push_str("| (no clusters) | | | | | | |\n");
    }
    out
}

fn cluster_row(c: &ClusterStatus, today: Date) -> String {
    let version = c.kubernetes_version.as_deref().unwrap_or("unknown");
    let channels = format!("{} / {}", c.upgrade_channel.as_deref().unwrap_or("none"), c.node_os_upgrade_channel.as_deref().unwrap_or("none"));
    // The build date, not an age: an age would rewrite the dashboard every day.
    let image = match c.oldest_image_date() {
        Some(date) => format!("built {date}"),
        None => "unknown".into(),
    };
    let window = match &c.window {
        WindowStatus::Open { until } => format!("open until {}", minute(*until)),
        WindowStatus::Closed { next: Some(next) } => minute(*next),
        WindowStatus::Closed { next: None } | WindowStatus::Unknown => "none known".into(),
    };
    let concerns = if c.concerns.is_empty() { "none".to_string() } else { c.concerns.iter().map(concern_text).collect::<Vec<_>>().join("<br>") };
    let holds: Vec<String> = c
        .concerns
        .iter()
        .filter_map(|k| {
            let ch = k.change.as_ref()?;
            Some(match &ch.hold {
                Some(h) => format!("{}: {}", ch.change, h.describe()),
                None => format!("{}: may run now", ch.change),
            })
        })
        .collect();
    let stale = if day(c.swept_at) < today { format!(" (as of {})", day_str(c.swept_at)) } else { String::new() };
    format!(
        "| {}{} <sub>{}</sub> | {} | {} | {} | {} | {} | {} |\n",
        escape(c.cluster.name()),
        stale,
        escape(c.cluster.resource_group()),
        escape(version),
        escape(&channels),
        image,
        window,
        escape(&concerns),
        if holds.is_empty() { "—".to_string() } else { escape(&holds.join("<br>")) }
    )
}

fn concern_text(k: &ConcernStatus) -> String {
    let due = k.deadline.map(|d| format!(", due {}", day_str(d))).unwrap_or_default();
    format!("{} {} ({}{due})", k.kind.as_str(), k.target, k.stage.as_str())
}

/// Table cells: a `|` would end the cell, a newline the row; HTML-ish text stays text.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|").replace(['\n', '\r'], " ").replace('<', "&lt;").replace("&lt;br>", "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_dates_read_both_aks_shapes_and_nothing_else() {
        assert_eq!(image_date("AKSUbuntu-2204gen2containerd-202405.03.0"), Some(jiff::civil::date(2024, 5, 3)));
        assert_eq!(image_date("AKSUbuntu:1604:2020.01.01"), Some(jiff::civil::date(2020, 1, 1)));
        assert_eq!(image_date("AKSWindows-2022-containerd-20348.2340.240401"), None);
        assert_eq!(image_date("weird"), None);
    }

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(escape("a|b\nc<script>"), "a\\|b c&lt;script>");
        assert_eq!(escape("x<br>y"), "x<br>y");
    }
}
