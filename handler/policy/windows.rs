//! Maintenance windows: AKS `maintenanceConfigurations` → "is a window open at `t`, and until
//! when?" and "when does the next one open?". Pure: every answer is a function of the parsed
//! configuration and a [`Timestamp`]; nothing here reads a clock or does IO (house rule 1).
//!
//! Parsing (`from_arm_*`) is the only place that sees the ARM wire shape. The semantics we chose
//! where AKS documents nothing are listed in `docs/windows.md`; in short:
//!
//! * An occurrence starts on a local date (in `utcOffset`) at `startTime` and lasts
//!   `durationHours`, so it may cross midnight.
//! * Intervals count from the first occurrence on or after `startDate` (the "anchor"); nothing
//!   opens before `startDate`.
//! * `absoluteMonthly` skips months that have no `dayOfMonth` (no clamping to the month's end):
//!   we never open a window on a day the configuration does not name.
//! * `notAllowedDates` (inclusive local dates) and legacy `notAllowedTime` are cut out of the
//!   occurrences they overlap: the rest of the occurrence stays open, and `Open { until }` ends
//!   where the blocked period begins, so the planner's "window too short" gate sees it.
//! * Occurrences that touch or overlap merge into one open period.
//! * Searches look at most [`HORIZON_DAYS`] ahead (and behind, to find where a merged period
//!   began); nothing scheduled in that range means `None`.

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::action::{ActionKind, UpgradeScope};

/// How far (in days) the searches look ahead: about two years.
pub const HORIZON_DAYS: i64 = 732;

/// The maintenance-window status of the cluster at `now`, computed by the orchestrator from
/// these windows and handed to the planner as a fact (so the planner stays pure).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(tag = "window", rename_all = "snake_case")]
pub enum WindowStatus {
    /// No window is known (neither AKS nor policy defines one): cluster changes stay held.
    #[default]
    Unknown,
    /// A window is open now and closes at `until`.
    Open { until: Timestamp },
    /// Closed now; the next window opens at `next` (if one is scheduled).
    Closed { next: Option<Timestamp> },
}

/// What is wrong with a maintenance configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowErrorKind {
    /// A required field is absent (or null).
    Missing,
    /// A field has the wrong type or format.
    Invalid,
    /// A number or date is outside what AKS allows.
    OutOfRange,
    /// Fields contradict each other (e.g. two schedule types).
    Conflict,
}

/// A maintenance configuration that cannot be used, naming the field and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}. Fix: {fix}")]
pub struct WindowError {
    pub kind: WindowErrorKind,
    /// JSON path of the field, e.g. `maintenanceWindow.schedule.weekly.dayOfWeek`.
    pub field: String,
    pub problem: String,
    pub fix: String,
}

impl WindowError {
    fn new(kind: WindowErrorKind, field: &str, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self { kind, field: field.to_string(), problem: problem.into(), fix: fix.into() }
    }
    fn in_context(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() { prefix.to_string() } else { format!("{prefix}.{}", self.field) };
        self
    }
}

/// `relativeMonthly.weekIndex`: which occurrence of the weekday in the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeekIndex {
    First,
    Second,
    Third,
    Fourth,
    /// The last occurrence of the weekday in the month (the 4th or the 5th).
    Last,
}

/// `maintenanceWindow.schedule`: exactly one recurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recurrence {
    /// Every `interval_days` days (AKS: 1–7).
    Daily { interval_days: u8 },
    /// Every `interval_weeks` weeks on `day_of_week` (AKS: 1–4).
    Weekly { interval_weeks: u8, day_of_week: Weekday },
    /// Every `interval_months` months on `day_of_month` (AKS: 1–6 months, day 1–31).
    AbsoluteMonthly { interval_months: u8, day_of_month: u8 },
    /// Every `interval_months` months on the `week_index` `day_of_week` (AKS: 1–6 months).
    RelativeMonthly { interval_months: u8, week_index: WeekIndex, day_of_week: Weekday },
}

impl Recurrence {
    fn interval(&self) -> u8 {
        match *self {
            Self::Daily { interval_days } => interval_days,
            Self::Weekly { interval_weeks, .. } => interval_weeks,
            Self::AbsoluteMonthly { interval_months, .. } | Self::RelativeMonthly { interval_months, .. } => {
                interval_months
            }
        }
    }
}

/// The `maintenanceWindow` form (`aksManagedAutoUpgradeSchedule`,
/// `aksManagedNodeOSUpgradeSchedule`, and `default` since API 2023-05-01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurringWindow {
    pub recurrence: Recurrence,
    /// 4–24.
    pub duration_hours: u8,
    /// `utcOffset`; `+00:00` when absent.
    pub utc_offset: Offset,
    /// `startDate` (a local date); `None` = effective from creation, which is only meaningful
    /// for interval 1 (there is no phase to count from otherwise).
    pub start_date: Option<Date>,
    /// `startTime` (local).
    pub start_time: Time,
    /// `notAllowedDates`: inclusive local date ranges.
    pub not_allowed_dates: Vec<(Date, Date)>,
}

/// The legacy `default` form: `timeInWeek[{day, hourSlots}]` (1-hour slots in UTC) and
/// `notAllowedTime[{start, end}]` (instants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyWeek {
    /// Per weekday (Monday = 0), bit `h` set = the slot `h:00–h+1:00` UTC is allowed.
    pub hour_slots: [u32; 7],
    /// `notAllowedTime`: half-open `[start, end)` instants.
    pub not_allowed_time: Vec<(Timestamp, Timestamp)>,
}

/// What a maintenance window was configured as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowSpec {
    Recurring(RecurringWindow),
    Legacy(LegacyWeek),
}

/// A validated maintenance window, ready for questions about time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    spec: WindowSpec,
    /// Blocked `[start, end)` periods in UTC, sorted and merged.
    blocked: Vec<(Timestamp, Timestamp)>,
    /// First occurrence on or after `startDate` (recurring windows with a start date).
    anchor: Option<Date>,
}

impl MaintenanceWindow {
    /// Validates a window built in code (e.g. a policy's fallback window).
    pub fn new(spec: WindowSpec) -> Result<Self, WindowError> {
        match &spec {
            WindowSpec::Recurring(r) => validate_recurring(r)?,
            WindowSpec::Legacy(l) => validate_legacy(l)?,
        }
        let mut blocked: Vec<(Timestamp, Timestamp)> = match &spec {
            WindowSpec::Recurring(r) => r
                .not_allowed_dates
                .iter()
                .filter_map(|&(s, e)| {
                    let start = local_day_start(r.utc_offset, s)?;
                    let end = local_day_start(r.utc_offset, e.tomorrow().ok()?)?;
                    Some((start, end))
                })
                .collect(),
            WindowSpec::Legacy(l) => l.not_allowed_time.clone(),
        };
        blocked.sort();
        let mut merged: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(blocked.len());
        for (s, e) in blocked {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let anchor = match &spec {
            WindowSpec::Recurring(r) => r.start_date.and_then(|sd| anchor_on_or_after(&r.recurrence, sd)),
            WindowSpec::Legacy(_) => None,
        };
        Ok(Self { spec, blocked: merged, anchor })
    }

    /// Parses an ARM `maintenanceWindow` object.
    pub fn from_arm_json(window: &Value) -> Result<Self, WindowError> {
        parse_recurring(window, None)
            .and_then(|spec| Self::new(WindowSpec::Recurring(spec)))
            .map_err(|e| e.in_context("maintenanceWindow"))
    }

    /// Parses a whole `maintenanceConfigurations/{name}` resource (or its `properties`):
    /// `properties.maintenanceWindow` when present, else the legacy `properties.timeInWeek` +
    /// `notAllowedTime`. A recurring window without `startDate` but with an interval above 1
    /// counts from the resource's `systemData.createdAt` (AKS's default for `startDate`).
    pub fn from_arm_resource(resource: &Value) -> Result<Self, WindowError> {
        let props = field(resource, "properties").unwrap_or(resource);
        let created = field(resource, "systemData")
            .and_then(|s| field(s, "createdAt"))
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Timestamp>().ok());
        if let Some(window) = field(props, "maintenanceWindow") {
            let spec = parse_recurring(window, created)
                .map_err(|e| e.in_context("properties.maintenanceWindow"))?;
            return Self::new(WindowSpec::Recurring(spec))
                .map_err(|e| e.in_context("properties.maintenanceWindow"));
        }
        if field(props, "timeInWeek").is_some() {
            let spec = parse_legacy(props).map_err(|e| e.in_context("properties"))?;
            return Self::new(WindowSpec::Legacy(spec)).map_err(|e| e.in_context("properties"));
        }
        Err(WindowError::new(
            WindowErrorKind::Missing,
            "properties.maintenanceWindow",
            "the configuration has neither maintenanceWindow nor the legacy timeInWeek",
            "define properties.maintenanceWindow (schedule, durationHours, startTime, utcOffset)",
        ))
    }

    /// What was configured.
    pub fn spec(&self) -> &WindowSpec {
        &self.spec
    }

    /// The open/closed status at `t`, for the planner.
    pub fn status_at(&self, t: Timestamp) -> WindowStatus {
        match self.open_at(t) {
            Some((_, until)) => WindowStatus::Open { until },
            None => WindowStatus::Closed { next: self.next_open_after(t).map(|(start, _)| start) },
        }
    }

    /// The open period containing `t` (`start <= t < end`), if a window is open at `t`.
    /// Touching occurrences are one period; its ends are capped at [`HORIZON_DAYS`] from `t`.
    pub fn open_at(&self, t: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let today = self.local_date(t);
        let last = add_days(today, HORIZON_DAYS)?;
        let mut back = 1;
        loop {
            let first = add_days(today, -back)?;
            let mut found = None;
            for (s, e) in self.periods(first, last) {
                if s > t {
                    return None;
                }
                if e > t {
                    found = Some((s, e));
                    break;
                }
            }
            let (s, e) = found?;
            // Occurrences starting before `first` end before the start of `first + 1`, so a
            // period starting at or after it cannot have been joined by them.
            let exact = add_days(first, 1).and_then(|d| self.day_start(d)).is_some_and(|b| s >= b);
            if exact || back >= HORIZON_DAYS {
                return Some((s, e));
            }
            back = (back * 8).min(HORIZON_DAYS);
        }
    }

    /// The first open period that starts strictly after `t` (within [`HORIZON_DAYS`]).
    pub fn next_open_after(&self, t: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let today = self.local_date(t);
        // Occurrences starting before `today - 1` end before `today` begins (≤ 24 h long), so
        // they cannot join a period that starts after `t`.
        let first = add_days(today, -1)?;
        let last = add_days(today, HORIZON_DAYS)?;
        self.periods(first, last).find(|&(s, _)| s > t)
    }

    /// When the `n`-th open period that starts at or after `from` ends: the moment `n` windows
    /// have opened and closed since `from` (a period already open at `from` does not count: it
    /// did not open since). `None` for `n` = 0, or when the schedule has no more periods.
    pub fn nth_closed_since(&self, from: Timestamp, n: u32) -> Option<Timestamp> {
        if n == 0 {
            return None;
        }
        let mut t = from.checked_sub(SignedDuration::from_nanos(1)).ok()?;
        let mut end = None;
        for _ in 0..n {
            let (_, e) = self.next_open_after(t)?;
            end = Some(e);
            t = e;
        }
        end
    }

    /// A one-line description for messages ("every 3 weeks on Monday at 08:30 (+05:30) for 10 h").
    pub fn describe(&self) -> String {
        match &self.spec {
            WindowSpec::Recurring(r) => {
                let every = match &r.recurrence {
                    Recurrence::Daily { interval_days: 1 } => "every day".to_string(),
                    Recurrence::Daily { interval_days } => format!("every {interval_days} days"),
                    Recurrence::Weekly { interval_weeks: 1, day_of_week } => format!("every {day_of_week:?}"),
                    Recurrence::Weekly { interval_weeks, day_of_week } => {
                        format!("every {interval_weeks} weeks on {day_of_week:?}")
                    }
                    Recurrence::AbsoluteMonthly { interval_months, day_of_month } => {
                        format!("every {} on day {day_of_month}", months(*interval_months))
                    }
                    Recurrence::RelativeMonthly { interval_months, week_index, day_of_week } => {
                        format!("every {} on the {week_index:?} {day_of_week:?}", months(*interval_months))
                    }
                };
                let from = r.start_date.map(|d| format!(", from {d}")).unwrap_or_default();
                format!(
                    "{every} at {:02}:{:02} ({}) for {} h{from}",
                    r.start_time.hour(),
                    r.start_time.minute(),
                    format_offset(r.utc_offset),
                    r.duration_hours
                )
            }
            WindowSpec::Legacy(l) => {
                let days: Vec<String> = (0..7)
                    .filter(|&d| l.hour_slots[d] != 0)
                    .map(|d| {
                        let wd = Weekday::from_monday_zero_offset(d as i8).unwrap_or(Weekday::Monday);
                        format!("{wd:?} {}", slot_ranges(l.hour_slots[d]))
                    })
                    .collect();
                format!("weekly (legacy default, UTC): {}", days.join("; "))
            }
        }
    }

    fn offset(&self) -> Offset {
        match &self.spec {
            WindowSpec::Recurring(r) => r.utc_offset,
            WindowSpec::Legacy(_) => Offset::UTC,
        }
    }

    fn local_date(&self, t: Timestamp) -> Date {
        self.offset().to_datetime(t).date()
    }

    fn day_start(&self, d: Date) -> Option<Timestamp> {
        local_day_start(self.offset(), d)
    }

    /// Open periods (occurrences minus blocked time, touching ones merged) from the
    /// occurrences that start on local days `first..=last`, in order.
    fn periods(&self, first: Date, last: Date) -> Periods<'_> {
        Periods { window: self, day: Some(first), last, buffer: Vec::new(), next: 0, pending: None }
    }

    /// Appends the occurrences starting on local date `d` (before blocked time is removed).
    fn occurrences_on(&self, d: Date, out: &mut Vec<(Timestamp, Timestamp)>) {
        match &self.spec {
            WindowSpec::Recurring(r) => {
                if self.is_occurrence(r, d) {
                    let start = r.utc_offset.to_timestamp(d.to_datetime(r.start_time)).ok();
                    let end = start.and_then(|s| s.checked_add(SignedDuration::from_hours(r.duration_hours.into())).ok());
                    if let (Some(s), Some(e)) = (start, end) {
                        out.push((s, e));
                    }
                }
            }
            WindowSpec::Legacy(l) => {
                let mask = l.hour_slots[d.weekday().to_monday_zero_offset() as usize];
                let mut h = 0;
                while h < 24 {
                    if mask & (1 << h) == 0 {
                        h += 1;
                        continue;
                    }
                    let from = h;
                    while h < 24 && mask & (1 << h) != 0 {
                        h += 1;
                    }
                    let start = Offset::UTC.to_timestamp(d.at(from as i8, 0, 0, 0)).ok();
                    let end = start.and_then(|s| s.checked_add(SignedDuration::from_hours(h - from)).ok());
                    if let (Some(s), Some(e)) = (start, end) {
                        out.push((s, e));
                    }
                }
            }
        }
    }

    fn is_occurrence(&self, r: &RecurringWindow, d: Date) -> bool {
        if r.start_date.is_some_and(|sd| d < sd) {
            return false;
        }
        let interval = i64::from(r.recurrence.interval());
        let on_day = match r.recurrence {
            Recurrence::Daily { .. } => true,
            Recurrence::Weekly { day_of_week, .. } => d.weekday() == day_of_week,
            Recurrence::AbsoluteMonthly { day_of_month, .. } => d.day() == day_of_month as i8,
            Recurrence::RelativeMonthly { week_index, day_of_week, .. } => {
                d.weekday() == day_of_week && nth_weekday(d, week_index, day_of_week) == Some(d)
            }
        };
        if !on_day || interval == 1 {
            return on_day;
        }
        // Validation guarantees a start date (hence an anchor) when the interval is above 1.
        let Some(anchor) = self.anchor else { return false };
        match r.recurrence {
            Recurrence::Daily { .. } => days_between(anchor, d).rem_euclid(interval) == 0,
            Recurrence::Weekly { .. } => days_between(anchor, d).div_euclid(7).rem_euclid(interval) == 0,
            Recurrence::AbsoluteMonthly { .. } | Recurrence::RelativeMonthly { .. } => {
                (month_number(d) - month_number(anchor)).rem_euclid(interval) == 0
            }
        }
    }

    /// Removes blocked time from `[s, e)`, appending what is left.
    fn allowed_parts(&self, (mut s, e): (Timestamp, Timestamp), out: &mut Vec<(Timestamp, Timestamp)>) {
        for &(bs, be) in &self.blocked {
            if be <= s {
                continue;
            }
            if bs >= e {
                break;
            }
            if bs > s {
                out.push((s, bs));
            }
            s = s.max(be);
            if s >= e {
                return;
            }
        }
        if s < e {
            out.push((s, e));
        }
    }
}

/// Streams open periods day by day (so a search can stop at the first match).
struct Periods<'a> {
    window: &'a MaintenanceWindow,
    day: Option<Date>,
    last: Date,
    buffer: Vec<(Timestamp, Timestamp)>,
    next: usize,
    pending: Option<(Timestamp, Timestamp)>,
}

impl Periods<'_> {
    fn next_part(&mut self) -> Option<(Timestamp, Timestamp)> {
        let mut raw = Vec::new();
        while self.next >= self.buffer.len() {
            let day = self.day.filter(|d| *d <= self.last)?;
            self.day = day.tomorrow().ok();
            self.buffer.clear();
            self.next = 0;
            raw.clear();
            self.window.occurrences_on(day, &mut raw);
            for &occurrence in &raw {
                self.window.allowed_parts(occurrence, &mut self.buffer);
            }
        }
        let part = self.buffer[self.next];
        self.next += 1;
        Some(part)
    }
}

impl Iterator for Periods<'_> {
    type Item = (Timestamp, Timestamp);
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match (self.next_part(), self.pending) {
                (None, pending) => {
                    self.pending = None;
                    return pending;
                }
                (Some(part), None) => self.pending = Some(part),
                (Some((s, e)), Some((ps, pe))) => {
                    if s <= pe {
                        self.pending = Some((ps, pe.max(e)));
                    } else {
                        self.pending = Some((s, e));
                        return Some((ps, pe));
                    }
                }
            }
        }
    }
}

/// The windows AKS knows for a cluster, by configuration name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceSchedules {
    /// `aksManagedAutoUpgradeSchedule`: Kubernetes version upgrades.
    pub auto_upgrade: Option<MaintenanceWindow>,
    /// `aksManagedNodeOSUpgradeSchedule`: node OS / node image upgrades.
    pub node_os: Option<MaintenanceWindow>,
    /// `default` (either form).
    pub legacy_default: Option<MaintenanceWindow>,
}

impl MaintenanceSchedules {
    /// Reads a `maintenanceConfigurations` list body (`{"value": [...]}`) or a bare array of
    /// resources. Each configuration is parsed on its own: a broken one is reported in the
    /// returned errors (its field path starts with the configuration's name) and left `None`,
    /// so the changes it governs stay held while the others proceed. Configurations with other
    /// names are ignored, as AKS ignores them.
    pub fn from_arm_list(body: &Value) -> (Self, Vec<WindowError>) {
        let items: &[Value] = match body {
            Value::Array(items) => items,
            other => field(other, "value").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]),
        };
        let mut schedules = Self::default();
        let mut errors = Vec::new();
        for item in items {
            if let Err(e) = schedules.insert_arm_resource(item) {
                errors.push(e);
            }
        }
        (schedules, errors)
    }

    /// Parses one configuration resource and stores it under its `name`.
    pub fn insert_arm_resource(&mut self, resource: &Value) -> Result<(), WindowError> {
        let name = field(resource, "name").and_then(Value::as_str).unwrap_or("");
        let slot = if name.eq_ignore_ascii_case("aksManagedAutoUpgradeSchedule") {
            &mut self.auto_upgrade
        } else if name.eq_ignore_ascii_case("aksManagedNodeOSUpgradeSchedule") {
            &mut self.node_os
        } else if name.eq_ignore_ascii_case("default") {
            &mut self.legacy_default
        } else {
            return Ok(());
        };
        *slot = Some(MaintenanceWindow::from_arm_resource(resource).map_err(|e| e.in_context(name))?);
        Ok(())
    }

    /// The window that governs an upgrade of this scope: node image upgrades follow
    /// `aksManagedNodeOSUpgradeSchedule`, version upgrades (patch, minor) follow
    /// `aksManagedAutoUpgradeSchedule`; either falls back to `default` when its own is absent.
    /// A node image upgrade never borrows the auto-upgrade window (and vice versa): they are
    /// separate promises the cluster's owners made to AKS.
    pub fn for_upgrade(&self, scope: &UpgradeScope) -> Option<&MaintenanceWindow> {
        let own = match scope {
            UpgradeScope::NodeImage { .. } => self.node_os.as_ref(),
            UpgradeScope::Patch | UpgradeScope::Minor => self.auto_upgrade.as_ref(),
        };
        own.or(self.legacy_default.as_ref())
    }

    /// The window for a cluster-changing action: upgrades as [`Self::for_upgrade`]; certificate
    /// rotation (it restarts every node and the control plane) follows the auto-upgrade window,
    /// falling back to `default`. Actions that do not change the cluster need no window: `None`.
    pub fn for_action(&self, kind: &ActionKind) -> Option<&MaintenanceWindow> {
        match kind {
            ActionKind::Upgrade { upgrade, .. } => self.for_upgrade(upgrade),
            ActionKind::RotateCertificates => self.auto_upgrade.as_ref().or(self.legacy_default.as_ref()),
            _ => None,
        }
    }

    /// The status for an action at `t`; [`WindowStatus::Unknown`] when no window governs it.
    pub fn status_for(&self, kind: &ActionKind, t: Timestamp) -> WindowStatus {
        self.for_action(kind).map_or(WindowStatus::Unknown, |w| w.status_at(t))
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

fn parse_recurring(w: &Value, created: Option<Timestamp>) -> Result<RecurringWindow, WindowError> {
    if !w.is_object() {
        return Err(WindowError::new(
            WindowErrorKind::Invalid,
            "",
            "is not a JSON object",
            "give maintenanceWindow as an object with schedule, durationHours and startTime",
        ));
    }
    let schedule = required(w, "schedule", "add a schedule with one of daily, weekly, absoluteMonthly, relativeMonthly")?;
    let recurrence = parse_schedule(schedule)?;
    let duration_hours = u8_in(required(w, "durationHours", "set durationHours (4–24)")?, "durationHours", 4, 24)?;
    let utc_offset = match opt_str(w, "utcOffset")? {
        None | Some("") => Offset::UTC,
        Some(s) => parse_offset(s)?,
    };
    let start_time = parse_hhmm(
        opt_str(w, "startTime")?
            .ok_or_else(|| WindowError::new(WindowErrorKind::Missing, "startTime", "is absent", "set startTime as \"HH:mm\" (local to utcOffset)"))?,
    )?;
    let mut start_date = match opt_str(w, "startDate")? {
        None => None,
        Some(s) => Some(parse_date(s, "startDate")?),
    };
    if start_date.is_none() && recurrence.interval() > 1 {
        start_date = created.map(|c| utc_offset.to_datetime(c).date());
    }
    let mut not_allowed_dates = Vec::new();
    if let Some(list) = field(w, "notAllowedDates") {
        let items = list.as_array().ok_or_else(|| {
            WindowError::new(WindowErrorKind::Invalid, "notAllowedDates", "is not an array", "give notAllowedDates as [{\"start\": \"YYYY-MM-DD\", \"end\": \"YYYY-MM-DD\"}]")
        })?;
        for (i, span) in items.iter().enumerate() {
            let name = format!("notAllowedDates[{i}]");
            let get = |k: &str| -> Result<Date, WindowError> {
                let path = format!("{name}.{k}");
                let s = opt_str(span, k)
                    .map_err(|e| WindowError { field: path.clone(), ..e })?
                    .ok_or_else(|| WindowError::new(WindowErrorKind::Missing, &path, "is absent", "give both start and end as \"YYYY-MM-DD\""))?;
                parse_date(s, &path)
            };
            not_allowed_dates.push((get("start")?, get("end")?));
        }
    }
    Ok(RecurringWindow { recurrence, duration_hours, utc_offset, start_date, start_time, not_allowed_dates })
}

fn parse_schedule(schedule: &Value) -> Result<Recurrence, WindowError> {
    let kinds = ["daily", "weekly", "absoluteMonthly", "relativeMonthly"];
    let present: Vec<(&str, &Value)> = kinds.iter().filter_map(|k| field(schedule, k).map(|v| (*k, v))).collect();
    let (kind, body) = match present.as_slice() {
        [one] => *one,
        [] => {
            return Err(WindowError::new(
                WindowErrorKind::Missing,
                "schedule",
                "names no schedule type",
                "set exactly one of schedule.daily, schedule.weekly, schedule.absoluteMonthly, schedule.relativeMonthly",
            ));
        }
        many => {
            let names: Vec<&str> = many.iter().map(|(k, _)| *k).collect();
            return Err(WindowError::new(
                WindowErrorKind::Conflict,
                "schedule",
                format!("names {} schedule types ({})", names.len(), names.join(", ")),
                "keep exactly one schedule type",
            ));
        }
    };
    let ctx = format!("schedule.{kind}");
    let inner = || -> Result<Recurrence, WindowError> {
        Ok(match kind {
            "daily" => Recurrence::Daily {
                interval_days: u8_in(required(body, "intervalDays", "set intervalDays (1–7)")?, "intervalDays", 1, 7)?,
            },
            "weekly" => Recurrence::Weekly {
                interval_weeks: u8_in(required(body, "intervalWeeks", "set intervalWeeks (1–4)")?, "intervalWeeks", 1, 4)?,
                day_of_week: parse_weekday(body, "dayOfWeek")?,
            },
            "absoluteMonthly" => Recurrence::AbsoluteMonthly {
                interval_months: u8_in(required(body, "intervalMonths", "set intervalMonths (1–6)")?, "intervalMonths", 1, 6)?,
                day_of_month: u8_in(required(body, "dayOfMonth", "set dayOfMonth (1–31)")?, "dayOfMonth", 1, 31)?,
            },
            _ => Recurrence::RelativeMonthly {
                interval_months: u8_in(required(body, "intervalMonths", "set intervalMonths (1–6)")?, "intervalMonths", 1, 6)?,
                week_index: parse_week_index(body)?,
                day_of_week: parse_weekday(body, "dayOfWeek")?,
            },
        })
    };
    inner().map_err(|e| e.in_context(&ctx))
}

fn parse_legacy(props: &Value) -> Result<LegacyWeek, WindowError> {
    let mut hour_slots = [0u32; 7];
    let entries = field(props, "timeInWeek").and_then(Value::as_array).ok_or_else(|| {
        WindowError::new(WindowErrorKind::Invalid, "timeInWeek", "is not an array", "give timeInWeek as [{\"day\": \"Monday\", \"hourSlots\": [1, 2]}]")
    })?;
    for (i, entry) in entries.iter().enumerate() {
        let ctx = format!("timeInWeek[{i}]");
        let day = parse_weekday(entry, "day").map_err(|e| e.in_context(&ctx))?;
        // Several entries for one day are a union (ARM spec). An absent or empty hourSlots
        // adds no hours: we do not guess "the whole day".
        if let Some(slots) = field(entry, "hourSlots") {
            let slots = slots.as_array().ok_or_else(|| {
                WindowError::new(WindowErrorKind::Invalid, &format!("{ctx}.hourSlots"), "is not an array", "give hourSlots as a list of UTC hours 0–23")
            })?;
            for (j, h) in slots.iter().enumerate() {
                let h = u8_in(h, &format!("{ctx}.hourSlots[{j}]"), 0, 23)?;
                hour_slots[day.to_monday_zero_offset() as usize] |= 1 << h;
            }
        }
    }
    let mut not_allowed_time = Vec::new();
    if let Some(list) = field(props, "notAllowedTime") {
        let items = list.as_array().ok_or_else(|| {
            WindowError::new(WindowErrorKind::Invalid, "notAllowedTime", "is not an array", "give notAllowedTime as [{\"start\": RFC 3339, \"end\": RFC 3339}]")
        })?;
        for (i, span) in items.iter().enumerate() {
            let get = |k: &str| -> Result<Timestamp, WindowError> {
                let path = format!("notAllowedTime[{i}].{k}");
                let s = opt_str(span, k)
                    .map_err(|e| WindowError { field: path.clone(), ..e })?
                    .ok_or_else(|| WindowError::new(WindowErrorKind::Missing, &path, "is absent", "give both start and end as RFC 3339 instants"))?;
                s.parse::<Timestamp>().map_err(|_| {
                    WindowError::new(WindowErrorKind::Invalid, &path, format!("`{s}` is not an RFC 3339 instant"), "write it like 2021-05-26T03:00:00Z")
                })
            };
            not_allowed_time.push((get("start")?, get("end")?));
        }
    }
    Ok(LegacyWeek { hour_slots, not_allowed_time })
}

fn validate_recurring(r: &RecurringWindow) -> Result<(), WindowError> {
    if !(4..=24).contains(&r.duration_hours) {
        return Err(WindowError::new(
            WindowErrorKind::OutOfRange,
            "durationHours",
            format!("{} is outside 4–24", r.duration_hours),
            "set durationHours between 4 and 24 (AKS's bounds)",
        ));
    }
    let (name, interval, max) = match r.recurrence {
        Recurrence::Daily { interval_days } => ("schedule.daily.intervalDays", interval_days, 7),
        Recurrence::Weekly { interval_weeks, .. } => ("schedule.weekly.intervalWeeks", interval_weeks, 4),
        Recurrence::AbsoluteMonthly { interval_months, .. } => ("schedule.absoluteMonthly.intervalMonths", interval_months, 6),
        Recurrence::RelativeMonthly { interval_months, .. } => ("schedule.relativeMonthly.intervalMonths", interval_months, 6),
    };
    if !(1..=max).contains(&interval) {
        return Err(WindowError::new(
            WindowErrorKind::OutOfRange,
            name,
            format!("{interval} is outside 1–{max}"),
            format!("set it between 1 and {max} (AKS's bounds)"),
        ));
    }
    if let Recurrence::AbsoluteMonthly { day_of_month, .. } = r.recurrence
        && !(1..=31).contains(&day_of_month)
    {
        return Err(WindowError::new(
            WindowErrorKind::OutOfRange,
            "schedule.absoluteMonthly.dayOfMonth",
            format!("{day_of_month} is outside 1–31"),
            "set dayOfMonth between 1 and 31",
        ));
    }
    if interval > 1 && r.start_date.is_none() {
        return Err(WindowError::new(
            WindowErrorKind::Missing,
            "startDate",
            format!("is absent, so an interval of {interval} has nothing to count from"),
            "set startDate (\"YYYY-MM-DD\"); AKS fills it in at creation and returns it on GET",
        ));
    }
    if r.utc_offset.seconds().abs() > 14 * 3600 {
        return Err(WindowError::new(
            WindowErrorKind::OutOfRange,
            "utcOffset",
            format!("{} is beyond ±14:00", format_offset(r.utc_offset)),
            "use a real UTC offset between -12:00 and +14:00",
        ));
    }
    for (i, (s, e)) in r.not_allowed_dates.iter().enumerate() {
        if e < s {
            return Err(WindowError::new(
                WindowErrorKind::Conflict,
                &format!("notAllowedDates[{i}]"),
                format!("end {e} is before start {s}"),
                "swap start and end (both dates are inclusive)",
            ));
        }
    }
    Ok(())
}

fn validate_legacy(l: &LegacyWeek) -> Result<(), WindowError> {
    if let Some(day) = l.hour_slots.iter().position(|m| m >> 24 != 0) {
        return Err(WindowError::new(
            WindowErrorKind::OutOfRange,
            "timeInWeek",
            format!("weekday {day} has slots beyond hour 23"),
            "use hourSlots 0–23",
        ));
    }
    for (i, (s, e)) in l.not_allowed_time.iter().enumerate() {
        if e < s {
            return Err(WindowError::new(
                WindowErrorKind::Conflict,
                &format!("notAllowedTime[{i}]"),
                format!("end {e} is before start {s}"),
                "swap start and end",
            ));
        }
    }
    Ok(())
}

/// Case-insensitive object lookup; `null` counts as absent.
fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    let found = obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))?;
    (!found.is_null()).then_some(found)
}

fn required<'a>(v: &'a Value, key: &str, fix: &str) -> Result<&'a Value, WindowError> {
    field(v, key).ok_or_else(|| WindowError::new(WindowErrorKind::Missing, key, "is absent", fix))
}

fn opt_str<'a>(v: &'a Value, key: &str) -> Result<Option<&'a str>, WindowError> {
    match field(v, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim())),
        Some(other) => Err(WindowError::new(WindowErrorKind::Invalid, key, format!("is {other}, not a string"), "give it as a JSON string")),
    }
}

fn u8_in(v: &Value, name: &str, min: u8, max: u8) -> Result<u8, WindowError> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| WindowError::new(WindowErrorKind::Invalid, name, format!("{v} is not a whole number"), format!("give a whole number {min}–{max}")))?;
    if n < i64::from(min) || n > i64::from(max) {
        return Err(WindowError::new(
            WindowErrorKind::OutOfRange,
            name,
            format!("{n} is outside {min}–{max}"),
            format!("set {name} between {min} and {max} (AKS's bounds)"),
        ));
    }
    Ok(n as u8)
}

fn parse_weekday(v: &Value, key: &str) -> Result<Weekday, WindowError> {
    let s = opt_str(v, key)?.ok_or_else(|| WindowError::new(WindowErrorKind::Missing, key, "is absent", "name a day: Monday … Sunday"))?;
    let days = [
        ("monday", Weekday::Monday),
        ("tuesday", Weekday::Tuesday),
        ("wednesday", Weekday::Wednesday),
        ("thursday", Weekday::Thursday),
        ("friday", Weekday::Friday),
        ("saturday", Weekday::Saturday),
        ("sunday", Weekday::Sunday),
    ];
    days.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, d)| *d)
        .ok_or_else(|| WindowError::new(WindowErrorKind::Invalid, key, format!("`{s}` is not a weekday"), "name a day in English: Monday … Sunday"))
}

fn parse_week_index(v: &Value) -> Result<WeekIndex, WindowError> {
    let s = opt_str(v, "weekIndex")?
        .ok_or_else(|| WindowError::new(WindowErrorKind::Missing, "weekIndex", "is absent", "set weekIndex: First, Second, Third, Fourth or Last"))?;
    let all = [
        ("first", WeekIndex::First),
        ("second", WeekIndex::Second),
        ("third", WeekIndex::Third),
        ("fourth", WeekIndex::Fourth),
        ("last", WeekIndex::Last),
    ];
    all.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, w)| *w)
        .ok_or_else(|| WindowError::new(WindowErrorKind::Invalid, "weekIndex", format!("`{s}` is not a week index"), "use First, Second, Third, Fourth or Last"))
}

fn parse_offset(s: &str) -> Result<Offset, WindowError> {
    let bad = || WindowError::new(WindowErrorKind::Invalid, "utcOffset", format!("`{s}` is not +HH:mm or -HH:mm"), "write it like +05:30 or -07:00");
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' || !(b[0] == b'+' || b[0] == b'-') {
        return Err(bad());
    }
    let hh: i32 = s[1..3].parse().map_err(|_| bad())?;
    let mm: i32 = s[4..6].parse().map_err(|_| bad())?;
    if !s[1..3].bytes().all(|c| c.is_ascii_digit()) || !s[4..6].bytes().all(|c| c.is_ascii_digit()) || mm >= 60 {
        return Err(bad());
    }
    let secs = (hh * 3600 + mm * 60) * if b[0] == b'-' { -1 } else { 1 };
    if secs.abs() > 14 * 3600 {
        return Err(WindowError::new(WindowErrorKind::OutOfRange, "utcOffset", format!("{s} is beyond ±14:00"), "use a real UTC offset between -12:00 and +14:00"));
    }
    Offset::from_seconds(secs).map_err(|_| bad())
}

fn parse_hhmm(s: &str) -> Result<Time, WindowError> {
    let bad = || WindowError::new(WindowErrorKind::Invalid, "startTime", format!("`{s}` is not HH:mm between 00:00 and 23:59"), "write it like 08:30");
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' || !b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit()) {
        return Err(bad());
    }
    let hh: i8 = s[0..2].parse().map_err(|_| bad())?;
    let mm: i8 = s[3..5].parse().map_err(|_| bad())?;
    Time::new(hh, mm, 0, 0).map_err(|_| bad())
}

fn parse_date(s: &str, name: &str) -> Result<Date, WindowError> {
    // ARM returns plain dates; tolerate a date-time by reading its date part.
    let date_part = if s.len() > 10 && s.as_bytes()[10] == b'T' { &s[..10] } else { s };
    date_part.parse::<Date>().map_err(|_| {
        WindowError::new(WindowErrorKind::Invalid, name, format!("`{s}` is not a date"), "write it as YYYY-MM-DD")
    })
}

// ---------------------------------------------------------------------------------------------
// Calendar helpers

fn local_day_start(offset: Offset, d: Date) -> Option<Timestamp> {
    offset.to_timestamp(d.at(0, 0, 0, 0)).ok()
}

fn add_days(d: Date, n: i64) -> Option<Date> {
    d.checked_add(SignedDuration::from_hours(n.checked_mul(24)?)).ok()
}

fn days_between(from: Date, to: Date) -> i64 {
    to.duration_since(from).as_secs().div_euclid(86_400)
}

fn month_number(d: Date) -> i64 {
    i64::from(d.year()) * 12 + i64::from(d.month()) - 1
}

fn nth_weekday(d: Date, index: WeekIndex, weekday: Weekday) -> Option<Date> {
    let nth = match index {
        WeekIndex::First => 1,
        WeekIndex::Second => 2,
        WeekIndex::Third => 3,
        WeekIndex::Fourth => 4,
        WeekIndex::Last => -1,
    };
    d.nth_weekday_of_month(nth, weekday).ok()
}

/// The first occurrence date on or after `start` (the anchor intervals count from).
fn anchor_on_or_after(recurrence: &Recurrence, start: Date) -> Option<Date> {
    match *recurrence {
        Recurrence::Daily { .. } => Some(start),
        Recurrence::Weekly { day_of_week, .. } => {
            add_days(start, i64::from(start.weekday().until(day_of_week).rem_euclid(7)))
        }
        Recurrence::AbsoluteMonthly { day_of_month, .. } => {
            let mut month = start.first_of_month();
            for _ in 0..24 {
                if i8::try_from(day_of_month).is_ok_and(|dom| dom <= month.days_in_month()) {
                    let d = Date::new(month.year(), month.month(), day_of_month as i8).ok()?;
                    if d >= start {
                        return Some(d);
                    }
                }
                month = month.last_of_month().tomorrow().ok()?;
            }
            None
        }
        Recurrence::RelativeMonthly { week_index, day_of_week, .. } => {
            let mut month = start.first_of_month();
            for _ in 0..3 {
                let d = nth_weekday(month, week_index, day_of_week)?;
                if d >= start {
                    return Some(d);
                }
                month = month.last_of_month().tomorrow().ok()?;
            }
            None
        }
    }
}

fn months(n: u8) -> String {
    if n == 1 { "month".into() } else { format!("{n} months") }
}

fn format_offset(o: Offset) -> String {
    let s = o.seconds();
    let sign = if s < 0 { '-' } else { '+' };
    let s = s.abs();
    format!("{sign}{:02}:{:02}", s / 3600, (s % 3600) / 60)
}

fn slot_ranges(mask: u32) -> String {
    let mut out = Vec::new();
    let mut h = 0;
    while h < 24 {
        if mask & (1 << h) == 0 {
            h += 1;
            continue;
        }
        let from = h;
        while h < 24 && mask & (1 << h) != 0 {
            h += 1;
        }
        out.push(format!("{from:02}:00–{h:02}:00"));
    }
    out.join(", ")
}
