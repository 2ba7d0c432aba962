//! What the command-line tools print for a person: the plan as text grouped by cluster
//! ([`plan::render`]) and a progress bar for `handler sweep` ([`progress::SweepBar`]).
//!
//! Presentation only: the renderer is a pure function of the plan, the clock and a [`Style`]
//! (colour, width), so its output is snapshot-tested; the JSON lines stay what programs read.
//! Whether a person is reading is decided once, in `main`, from the terminal and `NO_COLOR`.

pub mod plan;
pub mod progress;
pub mod status;

use jiff::Timestamp;

/// What `replay`, `sweep` and `digest` print on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The plan grouped by cluster, for a person (the default on a terminal).
    Text,
    /// One JSON line per action (the default when stdout is a pipe or a file).
    Json,
}

impl Format {
    /// `--format` when given; otherwise text on a terminal and JSON lines anywhere else, so
    /// every pipe and script reads what it read before text existed.
    pub fn choose(flag: Option<Format>, stdout_is_terminal: bool) -> Format {
        flag.unwrap_or(if stdout_is_terminal {
            Format::Text
        } else {
            Format::Json
        })
    }
}

/// How text is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours (only on a terminal, never with `NO_COLOR`).
    pub color: bool,
    /// Columns available; long summaries wrap to fit.
    pub width: u16,
}

impl Style {
    /// Narrower than this and the table is drawn at this width anyway (it wraps in the terminal).
    pub const MIN_WIDTH: u16 = 60;

    /// The style for stdout: colour when it is a terminal and `no_color` (`NO_COLOR` set and
    /// not empty, <https://no-color.org>) is false; the width from `COLUMNS` when set (tests,
    /// scripts), else the terminal's, else 100.
    pub fn for_stdout(
        is_terminal: bool,
        no_color: bool,
        columns: Option<&str>,
        terminal_width: Option<u16>,
    ) -> Style {
        let width = columns
            .and_then(|c| c.trim().parse::<u16>().ok())
            .filter(|w| *w > 0)
            .or(terminal_width)
            .unwrap_or(100);
        Style {
            color: is_terminal && !no_color,
            width: width.max(Self::MIN_WIDTH),
        }
    }
}

impl Format {
    /// [`Format::choose`] for this process's stdout.
    pub fn detect(flag: Option<Format>) -> Format {
        use std::io::IsTerminal;
        Format::choose(flag, std::io::stdout().is_terminal())
    }
}

impl Style {
    /// [`Style::for_stdout`] for this process: its stdout, `NO_COLOR`, `COLUMNS`, the terminal.
    pub fn detect() -> Style {
        use std::io::IsTerminal;
        let terminal = std::io::stdout().is_terminal();
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let columns = std::env::var("COLUMNS").ok();
        let width = console::Term::stdout()
            .size_checked()
            .map(|(_rows, cols)| cols);
        Style::for_stdout(terminal, no_color, columns.as_deref(), width)
    }
}

/// How far `t` is from `now`, in the largest whole unit that reads well: "in 5 days",
/// "3 hours ago", "now". Days from one day on, hours from one hour, minutes below.
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let secs = t.as_second() - now.as_second();
    let (n, unit) = magnitude(secs.unsigned_abs());
    match (n, secs >= 0) {
        (0, _) => "now".into(),
        (n, true) => format!("in {n} {}", plural(n, unit)),
        (n, false) => format!("{n} {} ago", plural(n, unit)),
    }
}

/// A deadline relative to `now`: "in 5 days", "due now", "3 days overdue".
pub fn due(deadline: Timestamp, now: Timestamp) -> String {
    let secs = deadline.as_second() - now.as_second();
    let (n, unit) = magnitude(secs.unsigned_abs());
    match (n, secs >= 0) {
        (0, _) => "due now".into(),
        (n, true) => format!("in {n} {}", plural(n, unit)),
        (n, false) => format!("{n} {} overdue", plural(n, unit)),
    }
}

fn magnitude(secs: u64) -> (u64, &'static str) {
    const HOUR: u64 = 3600;
    const DAY: u64 = 24 * HOUR;
    if secs >= DAY {
        (secs / DAY, "day")
    } else if secs >= HOUR {
        (secs / HOUR, "hour")
    } else {
        (secs / 60, "minute")
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        unit.to_string()
    } else {
        format!("{unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn relative_times_read_in_the_largest_whole_unit() {
        let now = t("2026-03-02T12:00:00Z");
        let cases = [
            ("2026-03-07T12:00:00Z", "in 5 days", "in 5 days"),
            ("2026-02-27T12:00:00Z", "3 days ago", "3 days overdue"),
            ("2026-03-01T00:00:00Z", "1 day ago", "1 day overdue"),
            ("2026-03-01T13:00:00Z", "23 hours ago", "23 hours overdue"),
            ("2026-03-02T20:30:00Z", "in 8 hours", "in 8 hours"),
            ("2026-03-02T13:00:00Z", "in 1 hour", "in 1 hour"),
            ("2026-03-02T12:01:00Z", "in 1 minute", "in 1 minute"),
            ("2026-03-02T12:00:30Z", "now", "due now"),
            ("2026-03-04T12:00:00Z", "in 2 days", "in 2 days"),
        ];
        for (at, rel, deadline) in cases {
            assert_eq!(relative(t(at), now), rel, "{at}");
            assert_eq!(due(t(at), now), deadline, "{at}");
        }
    }

    #[test]
    fn the_format_defaults_to_text_only_on_a_terminal_and_the_flag_wins() {
        assert_eq!(Format::choose(None, true), Format::Text);
        assert_eq!(Format::choose(None, false), Format::Json);
        assert_eq!(Format::choose(Some(Format::Json), true), Format::Json);
        assert_eq!(Format::choose(Some(Format::Text), false), Format::Text);
    }

    #[test]
    fn colour_needs_a_terminal_and_no_no_color_and_columns_sets_the_width() {
        assert_eq!(
            Style::for_stdout(true, false, None, Some(120)),
            Style {
                color: true,
                width: 120
            }
        );
        assert!(!Style::for_stdout(true, true, None, Some(120)).color);
        assert!(!Style::for_stdout(false, false, None, None).color);
        assert_eq!(
            Style::for_stdout(true, false, Some("90"), Some(120)).width,
            90
        );
        assert_eq!(
            Style::for_stdout(false, false, Some("junk"), None).width,
            100
        );
        assert_eq!(
            Style::for_stdout(false, false, Some("20"), None).width,
            Style::MIN_WIDTH
        );
    }
}
