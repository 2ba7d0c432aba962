//! AKS's support calendar: when each Kubernetes minor leaves support, and where that date came
//! from. Pure: parsing (the embedded file, a calendar API's JSON) and lookup; the sweep's edge
//! reads the ledger and the network and hands the answers in.
//!
//! Where a support concern's end date comes from, first answer wins ([`support_end`]):
//!
//! 1. an EOL notice AKS sent for that minor (Resource Notifications `EOLNotification`, or a
//!    `ClusterSupportEnding` event with a date), remembered in the ledger per minor
//!    ([`EolNotice`]);
//! 2. the run-time refresh from a public calendar API (`CADENCE_SUPPORT_CALENDAR_URL`), when
//!    it is set and answered this run;
//! 3. the calendar embedded in the binary (`policy/aks_calendar.toml`, [`SupportCalendar::embedded`]).
//!
//! Which end: an LTS finding (`support_type = AKSLongTermSupport`, a cluster with
//! `supportPlan: AKSLongTermSupport` on a minor the region lists with LTS) takes the LTS end of
//! life; any other finding the community end of life. A notice's date is AKS's own word for the
//! cluster's plan, so it wins over either.
//!
//! Staleness: the embedded file records the day it was taken. When that is more than
//! [`STALE_AFTER_DAYS`] days ago and a running minor is missing from it, the sweep says so
//! ([`SupportCalendar::staleness`]), naming the refresh steps.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::versions::{LTS_SUPPORT_PLAN, MinorLine};
use crate::domain::SignalKind;

/// The embedded calendar file.
pub const EMBEDDED_CALENDAR: &str = include_str!("aks_calendar.toml");

/// Days after its `taken` date that the embedded calendar counts as stale when a running minor
/// is missing from it. AKS ships a minor roughly every four months (the source page: "roughly
/// every four months"), so a file older than that may lack the newest minor.
pub const STALE_AFTER_DAYS: i64 = 120;

/// What to do about a stale calendar, for notes and `config check`.
pub const REFRESH_STEPS: &str = "refresh handler/policy/aks_calendar.toml from https://learn.microsoft.com/azure/aks/supported-kubernetes-versions (docs/azure.md, \"Support calendar\") and upgrade aks-cadence, or set CADENCE_SUPPORT_CALENDAR_URL to a calendar API (docs/policy.md, \"Support calendar\")";

/// A calendar date as the source writes it: a day, or a month (an end written as a month is
/// that month's last day — the source's own rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarDate {
    pub date: Date,
    pub month_only: bool,
}

impl CalendarDate {
    /// Parses `YYYY-MM-DD` or `YYYY-MM` (the last day of that month).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(date) = s.parse::<Date>() {
            return Ok(Self { date, month_only: false });
        }
        let bad = || format!("`{s}` is not a date: write YYYY-MM-DD, or YYYY-MM for a month (its last day)");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        let (y, m): (i16, i8) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        let first = Date::new(y, m, 1).map_err(|_| bad())?;
        Ok(Self { date: first.last_of_month(), month_only: true })
    }

    /// Midnight UTC at the start of the day: support is over from then on.
    pub fn timestamp(self) -> Timestamp {
        jiff::tz::Offset::UTC.to_timestamp(self.date.to_datetime(jiff::civil::Time::midnight())).unwrap_or(Timestamp::MAX)
    }
}

impl fmt::Display for CalendarDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.month_only {
            write!(f, "{}", self.date.strftime("%Y-%m"))
        } else {
            write!(f, "{}", self.date)
        }
    }
}

/// One minor's dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinorDates {
    pub ga: Option<CalendarDate>,
    /// Community support ends (AKS end of support).
    pub end_of_life: Option<CalendarDate>,
    /// Long-term support ends; `None` where AKS offers no LTS for the minor.
    pub lts_end_of_life: Option<CalendarDate>,
    /// Platform support lasts until this minor's GA.
    pub platform_support_until: Option<MinorLine>,
}

impl MinorDates {
    /// The end that applies to a finding on `support_type` (LTS or community).
    pub fn end_for(&self, lts: bool) -> Option<CalendarDate> {
        if lts { self.lts_end_of_life } else { self.end_of_life }
    }
}

/// A support calendar: the embedded file, or a run-time refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportCalendar {
    /// The day the dates were copied (embedded file) or fetched (refresh).
    pub taken: Date,
    /// Where they came from (URLs).
    pub sources: Vec<String>,
    pub minors: BTreeMap<MinorLine, MinorDates>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCalendar {
    taken: toml::value::Datetime,
    sources: Vec<String>,
    #[serde(default)]
    minor: Vec<FileMinor>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMinor {
    version: String,
    #[serde(default)]
    ga: Option<String>,
    end_of_life: String,
    #[serde(default)]
    lts_end_of_life: Option<String>,
    #[serde(default)]
    platform_support_until: Option<String>,
}

/// Why a calendar does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("support calendar: {0}")]
pub struct CalendarError(pub String);

impl SupportCalendar {
    /// The calendar embedded in this binary, parsed once (validated by this module's tests, so
    /// it parses).
    pub fn embedded() -> &'static Self {
        static EMBEDDED: std::sync::LazyLock<SupportCalendar> = std::sync::LazyLock::new(|| {
            SupportCalendar::parse_toml(EMBEDDED_CALENDAR).expect("the embedded aks_calendar.toml is validated by policy::calendar's tests")
        });
        &EMBEDDED
    }

    /// Parses and validates the calendar file format (`aks_calendar.toml`).
    pub fn parse_toml(text: &str) -> Result<Self, CalendarError> {
        let file: FileCalendar = toml::from_str(text).map_err(|e| CalendarError(e.to_string()))?;
        let taken = match (file.taken.date, file.taken.time) {
            (Some(d), None) => Date::new(d.year as i16, d.month as i8, d.day as i8).map_err(|e| CalendarError(format!("taken: {e}")))?,
            _ => return Err(CalendarError(format!("taken = {} must be a plain date like 2026-12-03", file.taken))),
        };
        if file.sources.is_empty() || file.sources.iter().any(|s| !s.starts_with("https://")) {
            return Err(CalendarError("sources must list the https URLs the dates were taken from".into()));
        }
        let mut minors = BTreeMap::new();
        for m in file.minor {
            let at = |what: &str, e: String| CalendarError(format!("minor {}: {what}: {e}", m.version));
            let line = MinorLine::parse(&m.version).map_err(|e| at("version", e.to_string()))?;
            if m.version.trim().split('.').count() != 2 {
                return Err(at("version", "write the minor line only, like 1.33".into()));
            }
            let date = |what: &str, s: &Option<String>| s.as_deref().map(CalendarDate::parse).transpose().map_err(|e| at(what, e));
            let dates = MinorDates {
                ga: date("ga", &m.ga)?,
                end_of_life: Some(CalendarDate::parse(&m.end_of_life).map_err(|e| at("end_of_life", e))?),
                lts_end_of_life: date("lts_end_of_life", &m.lts_end_of_life)?,
                platform_support_until: m
                    .platform_support_until
                    .as_deref()
                    .map(MinorLine::parse)
                    .transpose()
                    .map_err(|e| at("platform_support_until", e.to_string()))?,
            };
            if let (Some(ga), Some(eol)) = (dates.ga, dates.end_of_life)
                && eol.date <= ga.date
            {
                return Err(at("end_of_life", format!("{eol} is not after GA {ga}")));
            }
            if let (Some(eol), Some(lts)) = (dates.end_of_life, dates.lts_end_of_life)
                && lts.date <= eol.date
            {
                return Err(at("lts_end_of_life", format!("{lts} is not after the community end of life {eol}")));
            }
            if minors.insert(line, dates).is_some() {
                return Err(at("version", "listed twice".into()));
            }
        }
        if minors.is_empty() {
            return Err(CalendarError("no [[minor]] entries".into()));
        }
        Ok(Self { taken, sources: file.sources, minors })
    }

    /// Parses an endoflife.date API v1 product answer (`GET /api/v1/products/azure-kubernetes-service`):
    /// `{"result": {"releases": [{"name": "1.33", "releaseDate": "2025-06-…", "eolFrom": "…",
    /// "eoesFrom": "…"}, …]}}`. `eolFrom` is the community end of life, `eoesFrom` (end of
    /// extended support) the LTS end where given. Releases whose name is not a minor line or
    /// that carry no `eolFrom` are left out; an answer with none usable is an error.
    pub fn from_endoflife(body: &Value, url: &str, fetched: Date) -> Result<Self, CalendarError> {
        let releases = body
            .pointer("/result/releases")
            .and_then(Value::as_array)
            .ok_or_else(|| CalendarError("the answer has no result.releases list (not an endoflife.date API v1 product)".into()))?;
        let date = |r: &Value, field: &str| r.get(field).and_then(Value::as_str).and_then(|s| CalendarDate::parse(s).ok());
        let mut minors = BTreeMap::new();
        for r in releases {
            let Some(line) = r.get("name").and_then(Value::as_str).and_then(|n| MinorLine::parse(n).ok()) else { continue };
            let Some(end_of_life) = date(r, "eolFrom") else { continue };
            minors.insert(
                line,
                MinorDates {
                    ga: date(r, "releaseDate"),
                    end_of_life: Some(end_of_life),
                    lts_end_of_life: date(r, "eoesFrom").filter(|l| l.date > end_of_life.date),
                    platform_support_until: None,
                },
            );
        }
        if minors.is_empty() {
            return Err(CalendarError("the answer lists no release with a minor version and an eolFrom date".into()));
        }
        Ok(Self { taken: fetched, sources: vec![url.to_string()], minors })
    }

    pub fn get(&self, minor: MinorLine) -> Option<&MinorDates> {
        self.minors.get(&minor)
    }

    /// How many whole days old the calendar is at `now`.
    pub fn age_days(&self, now: Timestamp) -> i64 {
        let today = utc_day(now);
        (today - self.taken).get_days() as i64
    }

    /// What `handler config check` says about the calendars a sweep will use at `now`: the
    /// built-in one's age and span, the refresh (`refresh_url`), and a note when the built-in
    /// one is stale.
    pub fn config_lines(&self, now: Timestamp, refresh_url: Option<&str>) -> Vec<String> {
        let age = self.age_days(now);
        let span = match (self.minors.keys().next(), self.minors.keys().next_back()) {
            (Some(a), Some(b)) => format!("{a}–{b}"),
            _ => "none".into(),
        };
        let mut out = vec![format!("support calendar: built-in, taken {}, minors {span}", self.taken)];
        out.push(match refresh_url {
            Some(u) => format!("support calendar refresh: {u} (read once per sweep, ahead of the built-in calendar; if it fails the built-in calendar answers)"),
            None => "support calendar refresh: off (CADENCE_SUPPORT_CALENDAR_URL unset)".into(),
        });
        if age > STALE_AFTER_DAYS {
            out.push(format!(
                "note: the built-in support calendar is more than {STALE_AFTER_DAYS} days old: clusters on a minor it does not list get support notices without an end date; {REFRESH_STEPS}"
            ));
        }
        out
    }

    /// `Some(note)` when the calendar is older than [`STALE_AFTER_DAYS`] and some of `running`
    /// is missing from it; the note names the missing minors and the refresh steps.
    pub fn staleness(&self, now: Timestamp, running: &[MinorLine]) -> Option<String> {
        let age = self.age_days(now);
        if age <= STALE_AFTER_DAYS {
            return None;
        }
        let mut missing: Vec<MinorLine> = running.iter().copied().filter(|m| !self.minors.contains_key(m)).collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return None;
        }
        let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
        Some(format!(
            "support calendar: the built-in AKS calendar was taken on {} ({age} days ago, stale after {STALE_AFTER_DAYS}) and does not list {} that clusters run: their support concerns carry no end date; {REFRESH_STEPS}",
            self.taken,
            list.join(", ")
        ))
    }
}

/// The UTC calendar day of `t`.
pub fn utc_day(t: Timestamp) -> Date {
    jiff::tz::Offset::UTC.to_datetime(t).date()
}

/// An EOL notice AKS sent about a minor, as the ledger remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EolNotice {
    /// The end of support the notice gives.
    pub eol: Timestamp,
    /// When the notice was observed (event time): a later notice replaces an earlier one.
    pub observed_at: Timestamp,
    /// The support plan the notice is about (`KubernetesOfficial`, `AKSLongTermSupport`), when
    /// it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_type: Option<String>,
    /// The event type it came in (`Microsoft.ResourceNotifications…`, `…ClusterSupportEnding`).
    pub event_type: String,
}

impl EolNotice {
    /// Whether this notice speaks for a finding on LTS (`lts`): a notice naming no plan speaks
    /// for both, a notice naming one only for that one.
    pub fn applies(&self, lts: bool) -> bool {
        match self.support_type.as_deref() {
            None => true,
            Some(t) => t.eq_ignore_ascii_case(LTS_SUPPORT_PLAN) == lts,
        }
    }

    /// Whether `self` should replace `stored` (the newer observation wins).
    pub fn supersedes(&self, stored: &EolNotice) -> bool {
        self.observed_at > stored.observed_at
    }
}

/// Where a support end date came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSource {
    /// An EOL notice AKS sent (remembered in the ledger).
    Notice { observed_at: Timestamp, event_type: String },
    /// The run-time calendar refresh.
    Refresh { url: String },
    /// The calendar embedded in this binary.
    Embedded { taken: Date },
}

impl fmt::Display for EndSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Notice { observed_at, event_type } => {
                let kind = event_type.rsplit('.').next().unwrap_or(event_type);
                write!(f, "AKS's EOL notice ({kind}) of {}", observed_at.strftime("%Y-%m-%d"))
            }
            Self::Refresh { url } => write!(f, "the support calendar at {url}, read this run"),
            Self::Embedded { taken } => {
                write!(f, "aks-cadence's built-in AKS calendar (taken {taken} from learn.microsoft.com/azure/aks/supported-kubernetes-versions)")
            }
        }
    }
}

/// A support concern's end date and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportEnd {
    pub at: Timestamp,
    pub source: EndSource,
}

/// The end of support of `minor` for a finding on LTS (`lts`) or community support, by the
/// precedence in the module docs: the ledger's notice > the refresh (when answered) > the
/// embedded file. `None` when no source knows the minor.
pub fn support_end(
    minor: MinorLine,
    lts: bool,
    notice: Option<&EolNotice>,
    refreshed: Option<&SupportCalendar>,
    embedded: &SupportCalendar,
) -> Option<SupportEnd> {
    if let Some(n) = notice.filter(|n| n.applies(lts)) {
        return Some(SupportEnd { at: n.eol, source: EndSource::Notice { observed_at: n.observed_at, event_type: n.event_type.clone() } });
    }
    if let Some(r) = refreshed
        && let Some(end) = r.get(minor).and_then(|d| d.end_for(lts))
    {
        return Some(SupportEnd { at: end.timestamp(), source: EndSource::Refresh { url: r.sources.first().cloned().unwrap_or_default() } });
    }
    embedded
        .get(minor)
        .and_then(|d| d.end_for(lts))
        .map(|end| SupportEnd { at: end.timestamp(), source: EndSource::Embedded { taken: embedded.taken } })
}

/// What a support signal needs dated: its minor and whether the finding is on LTS. A
/// `SupportEnding` without a date is about its `support_type` (LTS or community); a
/// `SupportEnded` (the region no longer lists the minor) about the cluster's plan
/// (`cluster_lts`). Every other signal, and one that already has a date, needs nothing.
pub fn date_wanted(kind: &SignalKind, cluster_lts: bool) -> Option<(MinorLine, bool)> {
    match kind {
        SignalKind::SupportEnding { kubernetes_version, eol_date: None, support_type, .. } => {
            let lts = support_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(LTS_SUPPORT_PLAN));
            Some((MinorLine::parse(kubernetes_version).ok()?, lts))
        }
        SignalKind::SupportEnded { kubernetes_version } => Some((MinorLine::parse(kubernetes_version).ok()?, cluster_lts)),
        _ => None,
    }
}

/// `kind` with `end` as its date and source. A `SupportEnding` takes the date as it is; a
/// `SupportEnded` becomes a `SupportEnding` dated in the past (the planner's ladder makes that
/// overdue, and the message names the day support ended) only when `end` is at or before
/// `now` — a calendar date still ahead of a region that already dropped the minor would read
/// as "support ends later", so the region's word stands and nothing changes.
pub fn dated(kind: &SignalKind, end: &SupportEnd, now: Timestamp) -> Option<SignalKind> {
    match kind {
        SignalKind::SupportEnding { kubernetes_version, eol_date: None, support_type, .. } => Some(SignalKind::SupportEnding {
            kubernetes_version: kubernetes_version.clone(),
            eol_date: Some(end.at),
            support_type: support_type.clone(),
            eol_source: Some(end.source.to_string()),
        }),
        SignalKind::SupportEnded { kubernetes_version } if end.at <= now => Some(SignalKind::SupportEnding {
            kubernetes_version: kubernetes_version.clone(),
            eol_date: Some(end.at),
            support_type: None,
            eol_source: Some(end.source.to_string()),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }
    fn m(s: &str) -> MinorLine {
        MinorLine::parse(s).unwrap()
    }

    #[test]
    fn the_embedded_calendar_parses_and_holds_the_published_dates() {
        let c = SupportCalendar::embedded();
        assert_eq!(c.taken, Date::constant(2026, 12, 3));
        assert!(c.sources[0].starts_with("https://learn.microsoft.com/azure/aks/supported-kubernetes-versions"));
        // A row per minor from 1.27 to 1.37, none missing.
        let lines: Vec<String> = c.minors.keys().map(ToString::to_string).collect();
        assert_eq!(lines, (27..=37).map(|n| format!("1.{n}")).collect::<Vec<_>>());
        // A month means its last day; an explicit day stays.
        let d = c.get(m("1.33")).unwrap();
        assert_eq!(d.end_of_life.unwrap().timestamp(), ts("2026-07-31T00:00:00Z"));
        assert_eq!(d.lts_end_of_life.unwrap().timestamp(), ts("2027-07-31T00:00:00Z"));
        assert_eq!(d.platform_support_until, Some(m("1.37")));
        assert_eq!(c.get(m("1.30")).unwrap().end_of_life.unwrap().to_string(), "2025-08-22");
        assert_eq!(c.get(m("1.28")).unwrap().end_of_life.unwrap().timestamp(), ts("2025-01-31T00:00:00Z"));
        // Every minor ends after its GA, and LTS after community support.
        for (line, d) in &c.minors {
            let (ga, eol, lts) = (d.ga.unwrap(), d.end_of_life.unwrap(), d.lts_end_of_life.unwrap());
            assert!(ga.date < eol.date && eol.date < lts.date, "{line}");
        }
    }

    #[test]
    fn a_calendar_file_with_a_mistake_is_refused_naming_it() {
        let ok_head = "taken = 2026-12-03\nsources = [\"https://learn.microsoft.com/x\"]\n";
        let table = [
            (format!("{ok_head}[[minor]]\nversion = \"1.33\"\nend_of_life = \"2026-13\"\n"), "is not a date"),
            (format!("{ok_head}[[minor]]\nversion = \"1.33.1\"\nend_of_life = \"2026-07\"\n"), "minor line only"),
            (format!("{ok_head}[[minor]]\nversion = \"1.33\"\nend_of_life = \"2026-07\"\nlts_end_of_life = \"2026-01\"\n"), "not after the community"),
            (format!("{ok_head}[[minor]]\nversion = \"1.33\"\nga = \"2026-08\"\nend_of_life = \"2026-07\"\n"), "not after GA"),
            (format!("{ok_head}[[minor]]\nversion = \"1.33\"\nend_of_life = \"2026-07\"\n[[minor]]\nversion = \"1.33\"\nend_of_life = \"2026-07\"\n"), "listed twice"),
            (format!("{ok_head}[[minor]]\nversion = \"1.33\"\nend_of_lfe = \"2026-07\"\n"), "unknown field"),
            ("taken = 2026-12-03\nsources = [\"http://example.com\"]\n[[minor]]\nversion = \"1.33\"\nend_of_life = \"2026-07\"\n".to_string(), "https"),
            ("taken = 2026-12-03T10:00:00Z\nsources = [\"https://x\"]\n[[minor]]\nversion = \"1.33\"\nend_of_life = \"2026-07\"\n".to_string(), "plain date"),
            (ok_head.to_string(), "no [[minor]]"),
        ];
        for (text, want) in table {
            let e = SupportCalendar::parse_toml(&text).unwrap_err();
            assert!(e.to_string().contains(want), "{want}: {e}");
        }
    }

    fn notice(eol: &str, support_type: Option<&str>) -> EolNotice {
        EolNotice {
            eol: ts(eol),
            observed_at: ts("2026-05-02T08:00:00Z"),
            support_type: support_type.map(str::to_string),
            event_type: "Microsoft.ResourceNotifications.HealthResources.ResourceAnnotated".into(),
        }
    }

    fn refreshed() -> SupportCalendar {
        let body = serde_json::json!({"result": {"releases": [
            {"name": "1.33", "releaseDate": "2025-06-10", "isEol": false, "eolFrom": "2026-07-15", "eoesFrom": "2027-07-15"},
            {"name": "1.34", "releaseDate": "2025-11-10", "eolFrom": "2026-11-30", "eoesFrom": null},
        ]}});
        SupportCalendar::from_endoflife(&body, "https://endoflife.example/api/v1/products/azure-kubernetes-service", Date::constant(2026, 12, 3)).unwrap()
    }

    #[test]
    fn the_end_date_comes_from_the_notice_then_the_refresh_then_the_embedded_file() {
        let embedded = SupportCalendar::embedded();
        let refresh = refreshed();
        let plain = notice("2026-08-01T00:00:00Z", None);
        let lts_notice = notice("2027-09-01T00:00:00Z", Some("AKSLongTermSupport"));
        let community_notice = notice("2026-08-02T00:00:00Z", Some("KubernetesOfficial"));
        struct Case<'a> {
            minor: &'a str,
            lts: bool,
            notice: Option<&'a EolNotice>,
            refreshed: Option<&'a SupportCalendar>,
            want: Option<(&'a str, &'a str)>,
        }
        let table = [
            // Community findings.
            Case { minor: "1.33", lts: false, notice: Some(&plain), refreshed: Some(&refresh), want: Some(("2026-08-01", "notice")) },
            Case { minor: "1.33", lts: false, notice: None, refreshed: Some(&refresh), want: Some(("2026-07-15", "refresh")) },
            Case { minor: "1.33", lts: false, notice: None, refreshed: None, want: Some(("2026-07-31", "embedded")) },
            // The refresh does not know 1.35: the file answers.
            Case { minor: "1.35", lts: false, notice: None, refreshed: Some(&refresh), want: Some(("2027-03-31", "embedded")) },
            Case { minor: "1.40", lts: false, notice: None, refreshed: Some(&refresh), want: None },
            // A notice about the other plan does not speak for this finding.
            Case { minor: "1.33", lts: false, notice: Some(&lts_notice), refreshed: None, want: Some(("2026-07-31", "embedded")) },
            Case { minor: "1.33", lts: false, notice: Some(&community_notice), refreshed: None, want: Some(("2026-08-02", "notice")) },
            // LTS findings take the LTS end.
            Case { minor: "1.33", lts: true, notice: None, refreshed: None, want: Some(("2027-07-31", "embedded")) },
            Case { minor: "1.33", lts: true, notice: None, refreshed: Some(&refresh), want: Some(("2027-07-15", "refresh")) },
            Case { minor: "1.33", lts: true, notice: Some(&lts_notice), refreshed: Some(&refresh), want: Some(("2027-09-01", "notice")) },
            Case { minor: "1.33", lts: true, notice: Some(&community_notice), refreshed: None, want: Some(("2027-07-31", "embedded")) },
            // The refresh gives no LTS end for 1.34: the file's LTS end answers.
            Case { minor: "1.34", lts: true, notice: None, refreshed: Some(&refresh), want: Some(("2027-11-30", "embedded")) },
        ];
        for c in table {
            let got = support_end(m(c.minor), c.lts, c.notice, c.refreshed, embedded);
            let got = got.map(|e| {
                let kind = match e.source {
                    EndSource::Notice { .. } => "notice",
                    EndSource::Refresh { .. } => "refresh",
                    EndSource::Embedded { .. } => "embedded",
                };
                (e.at.strftime("%Y-%m-%d").to_string(), kind)
            });
            let want = c.want.map(|(d, k)| (d.to_string(), k));
            assert_eq!(got, want, "{} lts={} notice={:?} refreshed={}", c.minor, c.lts, c.notice.map(|n| &n.support_type), c.refreshed.is_some());
        }
    }

    #[test]
    fn sources_read_as_a_person_would_name_them() {
        let e = SupportCalendar::embedded();
        let end = support_end(m("1.33"), false, None, None, e).unwrap();
        assert_eq!(end.source.to_string(), "aks-cadence's built-in AKS calendar (taken 2026-12-03 from learn.microsoft.com/azure/aks/supported-kubernetes-versions)");
        let n = notice("2026-08-01T00:00:00Z", None);
        let end = support_end(m("1.33"), false, Some(&n), None, e).unwrap();
        assert_eq!(end.source.to_string(), "AKS's EOL notice (ResourceAnnotated) of 2026-05-02");
        let end = support_end(m("1.33"), false, None, Some(&refreshed()), e).unwrap();
        assert_eq!(end.source.to_string(), "the support calendar at https://endoflife.example/api/v1/products/azure-kubernetes-service, read this run");
    }

    #[test]
    fn a_calendar_api_answer_that_is_not_one_is_an_error() {
        let d = Date::constant(2026, 12, 3);
        for body in [serde_json::json!({"oops": 1}), serde_json::json!({"result": {"releases": [{"name": "latest", "eolFrom": "2026-01-01"}, {"name": "1.33"}]}})] {
            assert!(SupportCalendar::from_endoflife(&body, "u", d).is_err(), "{body}");
        }
    }

    #[test]
    fn a_newer_notice_replaces_an_older_one() {
        let old = notice("2026-08-01T00:00:00Z", None);
        let mut newer = old.clone();
        newer.observed_at = ts("2026-06-01T00:00:00Z");
        assert!(newer.supersedes(&old));
        assert!(!old.supersedes(&newer));
        assert!(!old.supersedes(&old), "a redelivery of the same notice is not news");
    }

    #[test]
    fn staleness_is_said_only_when_old_and_a_running_minor_is_missing() {
        let c = SupportCalendar::embedded();
        let fresh = ts("2027-01-01T00:00:00Z");
        let old = ts("2027-06-01T00:00:00Z"); // 180 days after 2026-12-03
        assert_eq!(c.staleness(fresh, &[m("1.38")]), None, "young: a new minor may simply be newer than the file");
        assert_eq!(c.staleness(old, &[m("1.33"), m("1.37")]), None, "old, but every running minor is listed");
        let note = c.staleness(old, &[m("1.39"), m("1.38"), m("1.33"), m("1.38")]).unwrap();
        assert!(note.contains("taken on 2026-12-03 (180 days ago, stale after 120)"), "{note}");
        assert!(note.contains("does not list 1.38, 1.39"), "{note}");
        assert!(note.contains("CADENCE_SUPPORT_CALENDAR_URL") && note.contains("aks_calendar.toml"), "{note}");
    }

    #[test]
    fn support_signals_take_the_date_and_an_ended_minor_only_a_past_one() {
        let now = ts("2026-09-01T00:00:00Z");
        let ending = |t: Option<&str>| SignalKind::SupportEnding {
            kubernetes_version: "1.33.2".into(),
            eol_date: None,
            support_type: t.map(str::to_string),
            eol_source: None,
        };
        let ended = SignalKind::SupportEnded { kubernetes_version: "1.33.2".into() };
        assert_eq!(date_wanted(&ending(None), true), Some((m("1.33"), false)), "the finding's plan decides, not the cluster's");
        assert_eq!(date_wanted(&ending(Some("AKSLongTermSupport")), false), Some((m("1.33"), true)));
        assert_eq!(date_wanted(&ended, true), Some((m("1.33"), true)));
        let mut has_date = ending(None);
        if let SignalKind::SupportEnding { eol_date, .. } = &mut has_date {
            *eol_date = Some(now);
        }
        assert_eq!(date_wanted(&has_date, false), None, "an event's own date is kept");
        assert_eq!(date_wanted(&SignalKind::SupportEnded { kubernetes_version: "x".into() }, false), None);

        let end = |at: &str| SupportEnd { at: ts(at), source: EndSource::Embedded { taken: Date::constant(2026, 12, 3) } };
        let Some(SignalKind::SupportEnding { eol_date, eol_source, support_type, .. }) = dated(&ending(Some("KubernetesOfficial")), &end("2026-07-31T00:00:00Z"), now) else {
            panic!("dated")
        };
        assert_eq!((eol_date, support_type.as_deref()), (Some(ts("2026-07-31T00:00:00Z")), Some("KubernetesOfficial")));
        assert!(eol_source.unwrap().contains("built-in AKS calendar"));
        // Ended: a past date dates it (as an ending whose day has passed); a future one does not.
        assert!(matches!(dated(&ended, &end("2026-07-31T00:00:00Z"), now), Some(SignalKind::SupportEnding { eol_date: Some(_), .. })));
        assert_eq!(dated(&ended, &end("2026-12-31T00:00:00Z"), now), None);
    }

    #[test]
    fn config_check_tells_the_calendars_age_the_refresh_and_staleness() {
        let c = SupportCalendar::embedded();
        let lines = c.config_lines(ts("2027-01-02T12:00:00Z"), None);
        assert_eq!(
            lines,
            [
                "support calendar: built-in, taken 2026-12-03, minors 1.27–1.37",
                "support calendar refresh: off (CADENCE_SUPPORT_CALENDAR_URL unset)",
            ]
        );
        let lines = c.config_lines(ts("2027-06-01T00:00:00Z"), Some("https://endoflife.date/api/v1/products/azure-kubernetes-service"));
        assert!(lines[1].starts_with("support calendar refresh: https://endoflife.date/"), "{lines:?}");
        assert!(lines[2].starts_with("note: the built-in support calendar is more than 120 days old") && lines[2].contains("aks_calendar.toml"), "{lines:?}");
    }
}
