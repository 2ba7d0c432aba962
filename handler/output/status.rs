//! `handler status`: the fleet as the last sweep left it, read from the ledger — as text for a
//! person, JSON for a program, or the dashboard's markdown (what the GitHub issue shows, in one
//! document whatever its size). Pure renderers of a [`FleetStatus`].

use std::fmt::Write as _;

use crate::action::minute;
use crate::dashboard::{self, FleetStatus, NO_RING};
use crate::policy::windows::WindowStatus;

use super::Style;

/// What `handler status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    /// By ring and cluster, for a person (the default on a terminal).
    Text,
    /// The fleet status as one JSON document (the default when stdout is a pipe or a file).
    Json,
    /// The dashboard's markdown, as the GitHub issue shows it.
    Markdown,
}

impl StatusFormat {
    /// `--format` when given; otherwise text on a terminal and JSON anywhere else, as the other
    /// commands choose.
    pub fn choose(flag: Option<StatusFormat>, stdout_is_terminal: bool) -> StatusFormat {
        flag.unwrap_or(if stdout_is_terminal { StatusFormat::Text } else { StatusFormat::Json })
    }
}

/// The fleet status as printed in `format`.
pub fn render(fleet: &FleetStatus, format: StatusFormat, style: Style) -> String {
    match format {
        StatusFormat::Json => format!("{}\n", serde_json::to_string(fleet).expect("the fleet status serializes")),
        StatusFormat::Markdown => dashboard::render_markdown(fleet),
        StatusFormat::Text => text(fleet, style),
    }
}

fn bold(s: &str, style: Style) -> String {
    if style.color { format!("\u{1b}[1m{s}\u{1b}[0m") } else { s.to_string() }
}

fn text(fleet: &FleetStatus, style: Style) -> String {
    let today = jiff::tz::Offset::UTC.to_datetime(fleet.swept_at).date();
    let with_concerns = fleet.clusters.iter().filter(|c| !c.concerns.is_empty()).count();
    let overdue = fleet.clusters.iter().flat_map(|c| &c.concerns).filter(|k| k.stage == crate::action::Stage::Overdue).count();
    let held = fleet.clusters.iter().flat_map(|c| &c.concerns).filter(|k| k.change.as_ref().is_some_and(|ch| ch.hold.is_some())).count();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Fleet as of the sweep at {}: {} cluster(s), {with_concerns} with open concerns, {overdue} overdue, {held} held change(s)",
        minute(fleet.swept_at),
        fleet.clusters.len()
    );
    let mut rings: Vec<&str> = fleet.rings.iter().map(String::as_str).collect();
    for c in &fleet.clusters {
        let r = c.ring.as_deref().unwrap_or(NO_RING);
        if !rings.contains(&r) && r != NO_RING {
            rings.push(r);
        }
    }
    rings.push(NO_RING);
    for ring in rings {
        let mut members: Vec<_> = fleet.clusters.iter().filter(|c| c.ring.as_deref().unwrap_or(NO_RING) == ring).collect();
        if members.is_empty() {
            continue;
        }
        members.sort_by_key(|c| c.cluster.key());
        let _ = writeln!(out, "\n{}", bold(ring, style));
        for c in members {
            let image = c.oldest_image_age(today).map_or_else(|| "unknown".to_string(), |d| format!("{d} day(s)"));
            let window = match &c.window {
                WindowStatus::Open { until } => format!("open until {}", minute(*until)),
                WindowStatus::Closed { next: Some(next) } => format!("next {}", minute(*next)),
                _ => "none known".into(),
            };
            let _ = writeln!(
                out,
                "  {} ({})  {}  channels {} / {}  oldest node image {image}  window {window}",
                bold(c.cluster.name(), style),
                c.cluster.resource_group(),
                c.kubernetes_version.as_deref().unwrap_or("unknown"),
                c.upgrade_channel.as_deref().unwrap_or("none"),
                c.node_os_upgrade_channel.as_deref().unwrap_or("none"),
            );
            for k in &c.concerns {
                let due = k.deadline.map(|d| format!(", due {}", minute(d))).unwrap_or_default();
                let _ = writeln!(out, "    {} {} ({}{due})", k.kind.as_str(), k.target, k.stage.as_str());
                if let Some(ch) = &k.change {
                    match &ch.hold {
                        Some(h) => {
                            let _ = writeln!(out, "      {}: held: {}", ch.change, h.describe());
                        }
                        None => {
                            let _ = writeln!(out, "      {}: may run now", ch.change);
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_defaults_to_text_only_on_a_terminal() {
        assert_eq!(StatusFormat::choose(None, true), StatusFormat::Text);
        assert_eq!(StatusFormat::choose(None, false), StatusFormat::Json);
        assert_eq!(StatusFormat::choose(Some(StatusFormat::Markdown), true), StatusFormat::Markdown);
    }
}
