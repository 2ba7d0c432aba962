//! The plan as text: one block per cluster (name, resource group, shortened subscription),
//! one line per action (stage, what it does and to what, the summary, its deadline or the gate
//! holding it), and a closing summary. Tables and wrapping are comfy-table's; the words for a
//! hold are [`Hold::describe`]'s, the same as in every other place a hold is told.

use std::collections::BTreeMap;

use comfy_table::{Attribute, Cell, Color, ColumnConstraint, ContentArrangement, Table, Width};
use jiff::Timestamp;
use serde_json::Value;

use super::{Style, due, relative};
use crate::action::{Action, ActionKind, Hold, Stage, UpgradeScope};
use crate::domain::ClusterId;

/// Everything one run prints.
#[derive(Debug, Clone, Copy)]
pub struct PlanView<'a> {
    pub actions: &'a [Action],
    /// Security baseline lines (`baseline::report_line`), shown under their cluster.
    pub baseline: &'a [Value],
    /// The planning clock (`--now`), against which deadlines and openings are told.
    pub now: Timestamp,
    /// Clusters a sweep looked at (most have nothing to do); `None` outside a sweep.
    pub swept: Option<usize>,
    /// Problems reported on stderr (inputs that could not be used, clusters whose sweep failed,
    /// unreadable queue entries), counted in the closing summary.
    pub errors: usize,
}

/// Indentation of the action lines under their cluster heading.
const INDENT: &str = "  ";
/// Space after each column.
const GAP: u16 = 2;
/// Caps for the fixed columns; the summary takes the rest and wraps.
const MAX_DOES: usize = 28;
const MAX_WHEN: usize = 40;
const MIN_SUMMARY: usize = 20;

/// The text for `view`, ending in a newline.
pub fn render(view: &PlanView<'_>, style: Style) -> String {
    let mut text = TextPlan::new(view.now);
    text.add(view.actions, view.baseline);
    text.finish(view.swept, view.errors, style)
}

/// The text of a plan gathered in parts (a sweep planned in batches): per action only its
/// drawn row and the counts the summary needs, so the actions themselves can be dropped. The
/// text is the one [`render`] gives for all the parts' actions and baseline lines together,
/// as long as each cluster's actions come in one part.
#[derive(Default)]
pub struct TextPlan {
    now: Option<Timestamp>,
    /// Clusters by name (then group and subscription); rows in plan order within one, then
    /// the cluster's baseline rows.
    clusters: BTreeMap<(String, String, String), Vec<Row>>,
    by_type: BTreeMap<&'static str, usize>,
    actions: usize,
    held: usize,
    baseline: usize,
    failing: usize,
}

impl TextPlan {
    /// An empty plan, whose deadlines and openings are told against `now`.
    pub fn new(now: Timestamp) -> TextPlan {
        TextPlan { now: Some(now), ..TextPlan::default() }
    }

    /// Adds actions and security baseline lines (`baseline::report_line`).
    pub fn add(&mut self, actions: &[Action], baseline: &[Value]) {
        let now = self.now.unwrap_or_default();
        for action in actions {
            *self.by_type.entry(action.kind.name()).or_default() += 1;
            self.held += usize::from(action.hold.is_some());
            self.clusters.entry(sort_key(&action.concern.cluster)).or_default().push(Row::of(action, now));
        }
        self.actions += actions.len();
        let mut rows: BTreeMap<ClusterId, Vec<Row>> = BTreeMap::new();
        for line in baseline {
            if let Some(id) = line["cluster"].as_str().and_then(|c| ClusterId::parse(c).ok()) {
                rows.entry(id).or_default().push(Row::baseline(line));
            }
        }
        for (id, rows) in rows {
            self.clusters.entry(sort_key(&id)).or_default().extend(rows);
        }
        self.baseline += baseline.len();
        self.failing += baseline.iter().map(|b| b["failing"].as_array().map_or(0, Vec::len)).sum::<usize>();
    }

    /// The text, ending in a newline. `swept`: clusters a sweep looked at (`None` outside a
    /// sweep); `errors`: problems reported on stderr.
    pub fn finish(&self, swept: Option<usize>, errors: usize, style: Style) -> String {
        let widths = Widths::of(self.clusters.values().flatten());
        let mut out = String::new();
        if self.clusters.is_empty() {
            out.push_str("Nothing to do: no action is planned.\n");
        }
        for ((name, group, subscription), rows) in &self.clusters {
            out.push_str(&heading(name, group, subscription, style));
            out.push('\n');
            let rows: Vec<&Row> = rows.iter().collect();
            for line in widths.table(&rows, style).lines() {
                out.push_str(INDENT);
                out.push_str(line.trim_end());
                out.push('\n');
            }
            out.push('\n');
        }
        out.push_str(&self.footer(swept, errors, style));
        out.push('\n');
        out
    }

    /// `3 clusters · 7 actions (log 7) · 0 held · 0 errors`
    fn footer(&self, swept: Option<usize>, errors: usize, style: Style) -> String {
        let clusters = self.clusters.len();
        let types = self.by_type.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ");
        let mut parts = Vec::new();
        parts.push(match swept {
            Some(swept) => format!("{} swept, {} with something to tell", count(swept, "cluster"), clusters),
            None => count(clusters, "cluster"),
        });
        parts.push(if types.is_empty() { count(self.actions, "action") } else { format!("{} ({types})", count(self.actions, "action")) });
        parts.push(format!("{} held", self.held));
        if self.baseline > 0 {
            parts.push(format!("baseline: {} assessed, {} failing check(s)", count(self.baseline, "cluster"), self.failing));
        }
        let said = count(errors, "error");
        let said = match (errors, style.color) {
            (0, _) | (_, false) => said,
            (_, true) => {
                let red = anstyle::Style::new().fg_color(Some(anstyle::AnsiColor::Red.into())).bold();
                format!("{red}{said}{red:#}")
            }
        };
        parts.push(said);
        parts.join(" · ")
    }
}

fn sort_key(id: &ClusterId) -> (String, String, String) {
    (
        id.name().to_string(),
        id.resource_group().to_string(),
        id.subscription().to_string(),
    )
}

/// `aks-prod-weu  rg-platform-prod · subscription 6f1c2d3e…`
fn heading(name: &str, group: &str, subscription: &str, style: Style) -> String {
    let short: String = subscription.chars().take(8).collect();
    let ellipsis = if subscription.chars().count() > 8 {
        "…"
    } else {
        ""
    };
    let rest = format!("{group} · subscription {short}{ellipsis}");
    if style.color {
        let bold = anstyle::Style::new().bold();
        let dim = anstyle::Style::new().dimmed();
        format!("{bold}{name}{bold:#}  {dim}{rest}{dim:#}")
    } else {
        format!("{name}  {rest}")
    }
}

fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// One line of a cluster's block, before it is drawn.
struct Row {
    stage: &'static str,
    stage_color: Option<Color>,
    does: String,
    summary: String,
    when: String,
    when_color: Option<Color>,
}

impl Row {
    fn of(action: &Action, now: Timestamp) -> Row {
        let cluster = action.concern.cluster.name();
        // The planner's summary names the cluster (the heading does here) and, for a hold or a
        // deadline, ends with it (the last column tells it here, with how far off it is); a
        // summary worded otherwise is shown whole.
        let mut summary = action
            .summary
            .strip_prefix(&format!("{cluster}: "))
            .unwrap_or(&action.summary);
        if let Some(hold) = &action.hold {
            summary = summary
                .strip_suffix(&format!(" — held: {}", hold.describe()))
                .unwrap_or(summary);
        }
        if let Some(deadline) = action.deadline {
            summary = summary
                .strip_suffix(&format!("; due {}", date(deadline)))
                .unwrap_or(summary);
        }
        let summary = summary.to_string();
        let mut when = Vec::new();
        let mut when_color = None;
        if let Some(hold) = &action.hold {
            let opening = hold_time(hold)
                .map(|t| format!(" ({})", relative(t, now)))
                .unwrap_or_default();
            when.push(format!("held: {}{opening}", hold.describe()));
            when_color = Some(Color::Yellow);
        }
        if let Some(deadline) = action.deadline {
            when.push(format!("due {} ({})", date(deadline), due(deadline, now)));
            if deadline <= now {
                when_color = Some(Color::Red);
            }
        }
        Row {
            stage: action.stage.as_str(),
            stage_color: stage_color(action.stage),
            does: does(&action.kind),
            summary,
            when: when.join("; "),
            when_color,
        }
    }

    /// A baseline line: `baseline  score 5/7  failing: check (severity), …`.
    fn baseline(line: &Value) -> Row {
        let names = |key: &str| -> Vec<String> {
            line[key]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            format!(
                                "{} ({})",
                                i["check"].as_str().unwrap_or("?"),
                                i["severity"].as_str().unwrap_or("?")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let failing = names("failing");
        let summary = if failing.is_empty() {
            "no failing check".to_string()
        } else {
            format!("failing: {}", failing.join(", "))
        };
        Row {
            stage: "baseline",
            stage_color: None,
            does: format!("score {}", line["score"].as_str().unwrap_or("?")),
            summary,
            when: String::new(),
            when_color: (!failing.is_empty()).then_some(Color::Yellow),
        }
    }
}

fn stage_color(stage: Stage) -> Option<Color> {
    match stage {
        Stage::Notice | Stage::Update => None,
        Stage::Reminder => Some(Color::Yellow),
        Stage::Overdue => Some(Color::Red),
        Stage::Execute => Some(Color::Green),
        Stage::Resolve => Some(Color::DarkGrey),
    }
}

/// The time a hold names (an opening, a close), if any.
fn hold_time(hold: &Hold) -> Option<Timestamp> {
    match hold {
        Hold::NotBefore { at } => Some(*at),
        Hold::OutsideWindow { next } => *next,
        Hold::WindowTooShort { closes } => Some(*closes),
        Hold::AksChannel { next, .. } => *next,
        Hold::Ring { until, .. } => *until,
        Hold::PolicyNotifyOnly
        | Hold::ClusterNotReady { .. }
        | Hold::Busy
        | Hold::WindowUnknown { .. }
        | Hold::TargetNotOffered { .. }
        | Hold::Readiness { .. }
        | Hold::AwaitingApproval { .. }
        | Hold::ApprovalHeld { .. }
        | Hold::HandledByIac { .. } => None,
    }
}

/// A deadline as a date (UTC), as the planner's summaries write it; how far off it is follows.
fn date(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d").to_string()
}

/// What the action does, and to what: `log`, `issue in org/repo`, `patch upgrade → 1.30.7`.
fn does(kind: &ActionKind) -> String {
    match kind {
        ActionKind::Log => "log".into(),
        ActionKind::GithubIssue { repo, .. } => format!("issue in {repo}"),
        ActionKind::GithubClose { repo } => format!("close issue in {repo}"),
        ActionKind::GithubEscalation { repo, labels, assignees } => {
            let mut what: Vec<String> = labels.iter().map(|l| format!("label {l}")).collect();
            what.extend(assignees.iter().map(|a| format!("assign @{a}")));
            format!("issue in {repo}: {}", what.join(", "))
        }
        ActionKind::GithubPullRequest {
            repo,
            path,
            version,
            ..
        } => format!("pull request {repo} {path} → {version}"),
        ActionKind::Email { to } => format!("email {}", to.join(", ")),
        ActionKind::Chat { url_setting, .. } => format!("{} ({url_setting})", kind.name()),
        ActionKind::Upgrade { upgrade, target } => match upgrade {
            UpgradeScope::NodeImage { pool } => format!("node image upgrade {pool} → {target}"),
            UpgradeScope::Patch => format!("patch upgrade → {target}"),
            UpgradeScope::Minor => format!("minor upgrade → {target}"),
        },
        ActionKind::RotateCertificates => "rotate certificates".into(),
    }
}

/// Column widths shared by every cluster's table, so the columns line up down the page.
struct Widths {
    stage: usize,
    does: usize,
    summary: usize,
    when: usize,
}

impl Widths {
    fn of<'r>(rows: impl Iterator<Item = &'r Row>) -> Widths {
        let mut w = Widths {
            stage: 0,
            does: 0,
            summary: 0,
            when: 0,
        };
        for r in rows {
            w.summary = w.summary.max(r.summary.chars().count());
            w.stage = w.stage.max(r.stage.chars().count());
            w.does = w.does.max(r.does.chars().count()).min(MAX_DOES);
            w.when = w.when.max(r.when.chars().count()).min(MAX_WHEN);
        }
        w
    }

    fn table(&self, rows: &[&Row], style: Style) -> Table {
        let mut table = Table::new();
        table
            .load_style(comfy_table::presets::NOTHING)
            .set_content_arrangement(ContentArrangement::Dynamic);
        table.set_width(style.width.saturating_sub(INDENT.len() as u16));
        if style.color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        let colored = |text: &str, color: Option<Color>| match (color, style.color) {
            (Some(c), true) => Cell::new(text).fg(c),
            _ => Cell::new(text),
        };
        for r in rows {
            let stage = if style.color && r.stage == "overdue" {
                colored(r.stage, r.stage_color).add_attribute(Attribute::Bold)
            } else {
                colored(r.stage, r.stage_color)
            };
            table.add_row(vec![
                stage,
                Cell::new(&r.does),
                Cell::new(&r.summary),
                colored(&r.when, r.when_color),
            ]);
        }
        // Every column fixed, the same in every cluster's table: the summary gets what the
        // terminal has left (at least MIN_SUMMARY) and wraps.
        let gap = usize::from(GAP);
        let used = INDENT.len()
            + self.stage
            + gap
            + self.does
            + gap
            + if self.when > 0 { self.when + gap } else { 0 };
        let summary = self
            .summary
            .min(usize::from(style.width).saturating_sub(used))
            .max(MIN_SUMMARY);
        let fixed = |w: usize| ColumnConstraint::Absolute(Width::Fixed((w + gap) as u16));
        let when = if self.when == 0 {
            ColumnConstraint::Hidden
        } else {
            ColumnConstraint::Absolute(Width::Fixed(self.when as u16))
        };
        table.set_constraints(vec![
            fixed(self.stage),
            fixed(self.does),
            fixed(summary),
            when,
        ]);
        for column in table.column_iter_mut() {
            column.set_padding((0, GAP));
        }
        if let Some(last) = table.column_mut(3) {
            last.set_padding((0, 0));
        }
        table
    }
}
