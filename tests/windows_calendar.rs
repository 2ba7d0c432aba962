//! Maintenance-window calendar cases: month ends, `Last` weeks, leap years, offsets across
//! midnight and the date line, interval counting from `startDate`, blocked dates, merging,
//! the search horizon, and the errors a bad configuration gets.

use aks_cadence::plan::WindowStatus;
use aks_cadence::policy::windows::{MaintenanceWindow, WindowErrorKind};
use jiff::Timestamp;
use serde_json::{Value, json};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn window(v: Value) -> MaintenanceWindow {
    MaintenanceWindow::from_arm_json(&v).unwrap_or_else(|e| panic!("{e}"))
}

/// The starts of the next `n` open periods after `from`, as UTC strings.
fn next_starts(w: &MaintenanceWindow, from: &str, n: usize) -> Vec<String> {
    let mut t = ts(from);
    let mut out = Vec::new();
    while out.len() < n {
        let Some((start, _)) = w.next_open_after(t) else { break };
        out.push(start.to_string());
        t = start;
    }
    out
}

fn monthly(day: u8, every: u8, start: &str) -> MaintenanceWindow {
    window(json!({
        "schedule": {"absoluteMonthly": {"intervalMonths": every, "dayOfMonth": day}},
        "durationHours": 4, "startTime": "00:00", "utcOffset": "+00:00", "startDate": start
    }))
}

fn relative(index: &str, day: &str, every: u8, start: &str) -> MaintenanceWindow {
    window(json!({
        "schedule": {"relativeMonthly": {"intervalMonths": every, "weekIndex": index, "dayOfWeek": day}},
        "durationHours": 4, "startTime": "00:00", "startDate": start
    }))
}

#[test]
fn the_31st_skips_months_without_one() {
    assert_eq!(
        next_starts(&monthly(31, 1, "2024-01-01"), "2024-01-01T00:00:00Z", 7),
        [
            "2024-01-31T00:00:00Z",
            "2024-03-31T00:00:00Z",
            "2024-05-31T00:00:00Z",
            "2024-07-31T00:00:00Z",
            "2024-08-31T00:00:00Z",
            "2024-10-31T00:00:00Z",
            "2024-12-31T00:00:00Z",
        ]
    );
}

#[test]
fn the_30th_skips_only_february() {
    assert_eq!(
        next_starts(&monthly(30, 1, "2024-01-01"), "2024-01-01T00:00:00Z", 3),
        ["2024-01-30T00:00:00Z", "2024-03-30T00:00:00Z", "2024-04-30T00:00:00Z"]
    );
}

#[test]
fn the_29th_of_february_opens_only_in_leap_years() {
    let w = monthly(29, 1, "2023-01-01");
    assert_eq!(next_starts(&w, "2023-01-01T00:00:00Z", 2), ["2023-01-29T00:00:00Z", "2023-03-29T00:00:00Z"]);
    assert_eq!(next_starts(&w, "2024-02-01T00:00:00Z", 1), ["2024-02-29T00:00:00Z"]);
    assert_eq!(next_starts(&w, "2028-02-01T00:00:00Z", 1), ["2028-02-29T00:00:00Z"]);
}

#[test]
fn every_three_months_counts_from_the_first_occurrence_and_skips_short_months_in_phase() {
    // Anchor Jan 31 2023; April has no 31st (skipped, not moved), then July, October, January.
    assert_eq!(
        next_starts(&monthly(31, 3, "2023-01-01"), "2023-01-01T00:00:00Z", 5),
        [
            "2023-01-31T00:00:00Z",
            "2023-07-31T00:00:00Z",
            "2023-10-31T00:00:00Z",
            "2024-01-31T00:00:00Z",
            "2024-07-31T00:00:00Z",
        ]
    );
}

#[test]
fn a_start_date_after_the_day_anchors_on_the_next_month() {
    assert_eq!(
        next_starts(&monthly(15, 3, "2023-01-20"), "2023-01-01T00:00:00Z", 3),
        ["2023-02-15T00:00:00Z", "2023-05-15T00:00:00Z", "2023-08-15T00:00:00Z"]
    );
}

#[test]
fn last_friday_is_the_fifth_one_when_a_month_has_five() {
    assert_eq!(
        next_starts(&relative("Last", "Friday", 1, "2024-01-01"), "2024-01-01T00:00:00Z", 3),
        ["2024-01-26T00:00:00Z", "2024-02-23T00:00:00Z", "2024-03-29T00:00:00Z"]
    );
    assert_eq!(
        next_starts(&relative("Fourth", "Friday", 1, "2024-03-01"), "2024-03-01T00:00:00Z", 1),
        ["2024-03-22T00:00:00Z"]
    );
}

#[test]
fn last_thursday_of_a_leap_february_is_the_29th() {
    assert_eq!(
        next_starts(&relative("Last", "Thursday", 1, "2024-02-01"), "2024-02-01T00:00:00Z", 1),
        ["2024-02-29T00:00:00Z"]
    );
}

#[test]
fn last_monday_every_two_months() {
    assert_eq!(
        next_starts(&relative("Last", "Monday", 2, "2024-04-01"), "2024-04-01T00:00:00Z", 5),
        [
            "2024-04-29T00:00:00Z",
            "2024-06-24T00:00:00Z",
            "2024-08-26T00:00:00Z",
            "2024-10-28T00:00:00Z",
            "2024-12-30T00:00:00Z",
        ]
    );
}

#[test]
fn every_two_weeks_counts_from_the_first_matching_day_on_or_after_start_date() {
    // 2026-04-14 is a Tuesday; the first Sunday on or after it is Apr 19 (Azure/AKS#5720).
    let w = window(json!({
        "schedule": {"weekly": {"intervalWeeks": 2, "dayOfWeek": "Sunday"}},
        "durationHours": 4, "startTime": "01:00", "startDate": "2026-04-14"
    }));
    assert_eq!(
        next_starts(&w, "2026-04-01T00:00:00Z", 3),
        ["2026-04-19T01:00:00Z", "2026-05-03T01:00:00Z", "2026-05-17T01:00:00Z"]
    );
    assert_eq!(w.status_at(ts("2026-04-26T02:00:00Z")), WindowStatus::Closed { next: Some(ts("2026-05-03T01:00:00Z")) });
}

#[test]
fn a_start_date_on_the_weekday_itself_is_the_first_occurrence() {
    let w = window(json!({
        "schedule": {"weekly": {"intervalWeeks": 4, "dayOfWeek": "Monday"}},
        "durationHours": 6, "startTime": "10:00", "startDate": "2024-01-01"
    }));
    assert_eq!(next_starts(&w, "2023-12-01T00:00:00Z", 2), ["2024-01-01T10:00:00Z", "2024-01-29T10:00:00Z"]);
}

#[test]
fn every_third_day_keeps_its_phase_across_months() {
    let w = window(json!({
        "schedule": {"daily": {"intervalDays": 3}},
        "durationHours": 4, "startTime": "00:00", "startDate": "2024-02-27"
    }));
    assert_eq!(
        next_starts(&w, "2024-02-27T00:00:00Z", 3),
        ["2024-03-01T00:00:00Z", "2024-03-04T00:00:00Z", "2024-03-07T00:00:00Z"]
    );
    assert_eq!(w.status_at(ts("2024-02-27T03:00:00Z")), WindowStatus::Open { until: ts("2024-02-27T04:00:00Z") });
}

#[test]
fn nothing_opens_before_start_date() {
    let w = window(json!({
        "schedule": {"daily": {"intervalDays": 1}},
        "durationHours": 24, "startTime": "00:00", "startDate": "2024-06-08"
    }));
    assert_eq!(w.status_at(ts("2024-06-07T12:00:00Z")), WindowStatus::Closed { next: Some(ts("2024-06-08T00:00:00Z")) });
}

#[test]
fn a_positive_offset_near_the_date_line_opens_on_the_previous_utc_day() {
    // Monday 02:00 at +14:00 is Sunday 12:00Z.
    let w = window(json!({
        "schedule": {"weekly": {"intervalWeeks": 1, "dayOfWeek": "Monday"}},
        "durationHours": 4, "startTime": "02:00", "utcOffset": "+14:00", "startDate": "2024-01-01"
    }));
    assert_eq!(next_starts(&w, "2023-12-25T00:00:00Z", 2), ["2023-12-31T12:00:00Z", "2024-01-07T12:00:00Z"]);
    assert_eq!(w.status_at(ts("2023-12-31T15:59:00Z")), WindowStatus::Open { until: ts("2023-12-31T16:00:00Z") });
}

#[test]
fn a_negative_offset_opens_on_the_next_utc_day() {
    // Monday 22:00 at -12:00 is Tuesday 10:00Z.
    let w = window(json!({
        "schedule": {"weekly": {"intervalWeeks": 1, "dayOfWeek": "Monday"}},
        "durationHours": 5, "startTime": "22:00", "utcOffset": "-12:00"
    }));
    assert_eq!(next_starts(&w, "2024-01-01T00:00:00Z", 1), ["2024-01-02T10:00:00Z"]);
    assert_eq!(w.open_at(ts("2024-01-02T14:59:59Z")), Some((ts("2024-01-02T10:00:00Z"), ts("2024-01-02T15:00:00Z"))));
    assert_eq!(w.open_at(ts("2024-01-02T15:00:00Z")), None);
}

#[test]
fn a_window_spans_local_midnight() {
    let w = window(json!({
        "schedule": {"weekly": {"intervalWeeks": 1, "dayOfWeek": "Friday"}},
        "durationHours": 6, "startTime": "22:00", "utcOffset": "+05:45"
    }));
    // Friday 2024-06-07 22:00 +05:45 = 16:15Z; six hours later = 22:15Z (Saturday 04:00 local).
    assert_eq!(w.open_at(ts("2024-06-07T22:00:00Z")), Some((ts("2024-06-07T16:15:00Z"), ts("2024-06-07T22:15:00Z"))));
}

#[test]
fn not_allowed_dates_cut_an_occurrence_at_local_midnight() {
    // Friday 22:00 +02:00 for 6 h, but Saturday is not allowed: the window is open only until
    // Saturday 00:00 local (Friday 22:00Z), and the next one is a week later.
    let w = window(json!({
        "schedule": {"weekly": {"intervalWeeks": 1, "dayOfWeek": "Friday"}},
        "durationHours": 6, "startTime": "22:00", "utcOffset": "+02:00",
        "notAllowedDates": [{"start": "2024-06-08", "end": "2024-06-08"}]
    }));
    assert_eq!(w.status_at(ts("2024-06-07T20:30:00Z")), WindowStatus::Open { until: ts("2024-06-07T22:00:00Z") });
    assert_eq!(w.status_at(ts("2024-06-07T22:30:00Z")), WindowStatus::Closed { next: Some(ts("2024-06-14T20:00:00Z")) });
    assert_eq!(w.status_at(ts("2024-06-14T21:00:00Z")), WindowStatus::Open { until: ts("2024-06-15T02:00:00Z") });
}

#[test]
fn not_allowed_dates_apply_in_the_windows_offset_as_the_arm_spec_describes() {
    // ARM: "with utcOffset +02:00 and dateSpan 2022-12-23 to 2023-01-03, maintenance will be
    // blocked from 2022-12-22 22:00 to 2023-01-03 22:00 in UTC time."
    let w = window(json!({
        "schedule": {"daily": {"intervalDays": 1}},
        "durationHours": 24, "startTime": "00:00", "utcOffset": "+02:00", "startDate": "2022-12-01",
        "notAllowedDates": [{"start": "2022-12-23", "end": "2023-01-03"}]
    }));
    assert_eq!(w.status_at(ts("2022-12-22T21:59:00Z")), WindowStatus::Open { until: ts("2022-12-22T22:00:00Z") });
    assert_eq!(w.status_at(ts("2022-12-22T22:00:00Z")), WindowStatus::Closed { next: Some(ts("2023-01-03T22:00:00Z")) });
    assert_eq!(w.status_at(ts("2023-01-03T21:59:59Z")), WindowStatus::Closed { next: Some(ts("2023-01-03T22:00:00Z")) });
}

#[test]
fn touching_daily_windows_are_one_open_period() {
    let w = window(json!({
        "schedule": {"daily": {"intervalDays": 1}},
        "durationHours": 24, "startTime": "06:00", "startDate": "2024-01-01",
        "notAllowedDates": [{"start": "2024-12-24", "end": "2024-12-26"}]
    }));
    // Open without a break from the first occurrence until the blocked dates begin.
    assert_eq!(w.open_at(ts("2024-07-01T12:00:00Z")), Some((ts("2024-01-01T06:00:00Z"), ts("2024-12-24T00:00:00Z"))));
    assert_eq!(w.next_open_after(ts("2024-07-01T12:00:00Z")).map(|p| p.0), Some(ts("2024-12-27T00:00:00Z")));
}

#[test]
fn an_always_open_window_reports_its_end_at_the_search_horizon() {
    let w = window(json!({
        "schedule": {"daily": {"intervalDays": 1}}, "durationHours": 24, "startTime": "00:00"
    }));
    let t = ts("2025-01-01T00:00:00Z");
    let (start, end) = w.open_at(t).unwrap();
    assert!(start <= t - jiff::SignedDuration::from_hours(24 * 700), "{start}");
    assert!(end >= t + jiff::SignedDuration::from_hours(24 * 700), "{end}");
    assert_eq!(w.next_open_after(t), None);
}

#[test]
fn a_window_starting_beyond_the_horizon_is_not_found() {
    let far = window(json!({
        "schedule": {"weekly": {"intervalWeeks": 1, "dayOfWeek": "Monday"}},
        "durationHours": 4, "startTime": "00:00", "startDate": "2028-01-01"
    }));
    assert_eq!(far.status_at(ts("2025-01-01T00:00:00Z")), WindowStatus::Closed { next: None });
    assert_eq!(far.status_at(ts("2027-01-01T00:00:00Z")), WindowStatus::Closed { next: Some(ts("2028-01-03T00:00:00Z")) });
}

#[test]
fn legacy_slots_merge_across_utc_midnight_and_days_union() {
    let resource = json!({"name": "default", "properties": {"timeInWeek": [
        {"day": "Monday", "hourSlots": [22, 23]},
        {"day": "Tuesday", "hourSlots": [0]},
        {"day": "Tuesday", "hourSlots": [1, 5]},
        {"day": "Wednesday", "hourSlots": []}
    ]}});
    let w = MaintenanceWindow::from_arm_resource(&resource).unwrap();
    // 2024-01-01 is a Monday.
    assert_eq!(w.open_at(ts("2024-01-01T23:30:00Z")), Some((ts("2024-01-01T22:00:00Z"), ts("2024-01-02T02:00:00Z"))));
    assert_eq!(w.next_open_after(ts("2024-01-01T23:30:00Z")), Some((ts("2024-01-02T05:00:00Z"), ts("2024-01-02T06:00:00Z"))));
    // An empty hourSlots list adds no hours on Wednesday.
    assert_eq!(w.next_open_after(ts("2024-01-02T06:00:00Z")).map(|p| p.0), Some(ts("2024-01-08T22:00:00Z")));
}

#[test]
fn a_resource_without_start_date_counts_from_its_creation() {
    let resource = json!({
        "name": "aksManagedAutoUpgradeSchedule",
        "systemData": {"createdAt": "2024-01-03T17:18:19.1234567Z"},
        "properties": {"maintenanceWindow": {
            "schedule": {"weekly": {"intervalWeeks": 2, "dayOfWeek": "Monday"}},
            "durationHours": 4, "startTime": "00:00", "utcOffset": "+00:00"
        }}
    });
    let w = MaintenanceWindow::from_arm_resource(&resource).unwrap();
    // Created Wednesday Jan 3 2024: first Monday after is Jan 8, then every two weeks.
    assert_eq!(next_starts(&w, "2024-01-01T00:00:00Z", 2), ["2024-01-08T00:00:00Z", "2024-01-22T00:00:00Z"]);
}

#[test]
fn describe_says_what_the_window_is() {
    let w = relative("Last", "Friday", 2, "2024-01-01");
    assert_eq!(w.describe(), "every 2 months on the Last Friday at 00:00 (+00:00) for 4 h, from 2024-01-01");
}

#[test]
fn bad_configurations_get_errors_naming_the_field_and_the_fix() {
    let base = json!({
        "schedule": {"weekly": {"intervalWeeks": 1, "dayOfWeek": "Monday"}},
        "durationHours": 4, "startTime": "01:00", "utcOffset": "+00:00"
    });
    let with = |path: &[&str], value: Value| {
        let mut v = base.clone();
        let mut cur = &mut v;
        for p in &path[..path.len() - 1] {
            cur = &mut cur[*p];
        }
        cur[path[path.len() - 1]] = value;
        v
    };
    let rows: Vec<(Value, WindowErrorKind, &str)> = vec![
        (with(&["durationHours"], json!(3)), WindowErrorKind::OutOfRange, "maintenanceWindow.durationHours: 3 is outside 4–24"),
        (with(&["durationHours"], json!(25)), WindowErrorKind::OutOfRange, "maintenanceWindow.durationHours: 25 is outside 4–24"),
        (with(&["durationHours"], json!("four")), WindowErrorKind::Invalid, "maintenanceWindow.durationHours:"),
        (with(&["durationHours"], Value::Null), WindowErrorKind::Missing, "maintenanceWindow.durationHours: is absent"),
        (with(&["schedule"], json!({})), WindowErrorKind::Missing, "maintenanceWindow.schedule: names no schedule type"),
        (
            with(&["schedule", "daily"], json!({"intervalDays": 1})),
            WindowErrorKind::Conflict,
            "maintenanceWindow.schedule: names 2 schedule types (daily, weekly)",
        ),
        (
            with(&["schedule", "weekly", "dayOfWeek"], json!("Funday")),
            WindowErrorKind::Invalid,
            "maintenanceWindow.schedule.weekly.dayOfWeek: `Funday` is not a weekday",
        ),
        (
            with(&["schedule", "weekly", "intervalWeeks"], json!(5)),
            WindowErrorKind::OutOfRange,
            "maintenanceWindow.schedule.weekly.intervalWeeks: 5 is outside 1–4",
        ),
        (
            with(&["schedule", "weekly", "intervalWeeks"], json!(2)),
            WindowErrorKind::Missing,
            "maintenanceWindow.startDate: is absent, so an interval of 2 has nothing to count from",
        ),
        (with(&["utcOffset"], json!("+5:30")), WindowErrorKind::Invalid, "maintenanceWindow.utcOffset: `+5:30` is not +HH:mm"),
        (with(&["utcOffset"], json!("+15:00")), WindowErrorKind::OutOfRange, "maintenanceWindow.utcOffset: +15:00 is beyond ±14:00"),
        (with(&["startTime"], json!("24:00")), WindowErrorKind::Invalid, "maintenanceWindow.startTime: `24:00` is not HH:mm"),
        (with(&["startTime"], Value::Null), WindowErrorKind::Missing, "maintenanceWindow.startTime: is absent"),
        (with(&["startDate"], json!("01/02/2024")), WindowErrorKind::Invalid, "maintenanceWindow.startDate: `01/02/2024` is not a date"),
        (
            with(&["notAllowedDates"], json!([{"start": "2024-02-10", "end": "2024-02-01"}])),
            WindowErrorKind::Conflict,
            "maintenanceWindow.notAllowedDates[0]: end 2024-02-01 is before start 2024-02-10",
        ),
        (
            with(&["notAllowedDates"], json!([{"start": "2024-02-10"}])),
            WindowErrorKind::Missing,
            "maintenanceWindow.notAllowedDates[0].end: is absent",
        ),
        (
            json!({"schedule": {"absoluteMonthly": {"intervalMonths": 1, "dayOfMonth": 32}}, "durationHours": 4, "startTime": "00:00"}),
            WindowErrorKind::OutOfRange,
            "maintenanceWindow.schedule.absoluteMonthly.dayOfMonth: 32 is outside 1–31",
        ),
        (
            json!({"schedule": {"relativeMonthly": {"intervalMonths": 1, "weekIndex": "Fifth", "dayOfWeek": "Monday"}}, "durationHours": 4, "startTime": "00:00"}),
            WindowErrorKind::Invalid,
            "maintenanceWindow.schedule.relativeMonthly.weekIndex: `Fifth` is not a week index",
        ),
        (json!("weekly"), WindowErrorKind::Invalid, "maintenanceWindow: is not a JSON object"),
    ];
    for (input, kind, starts) in rows {
        let err = MaintenanceWindow::from_arm_json(&input).expect_err(starts);
        let msg = err.to_string();
        assert_eq!(err.kind, kind, "{msg}");
        assert!(msg.starts_with(starts), "got: {msg}\nwant prefix: {starts}");
        assert!(msg.contains(". Fix: "), "{msg}");
    }
}

#[test]
fn a_resource_with_neither_form_is_an_error() {
    let err = MaintenanceWindow::from_arm_resource(&json!({"properties": {}})).unwrap_err();
    assert_eq!(err.kind, WindowErrorKind::Missing);
    assert!(err.to_string().starts_with("properties.maintenanceWindow:"), "{err}");
    let err = MaintenanceWindow::from_arm_resource(&json!({"properties": {"timeInWeek": [{"day": "Monday", "hourSlots": [24]}]}}))
        .unwrap_err();
    assert_eq!(err.to_string().split(':').next(), Some("properties.timeInWeek[0].hourSlots[0]"));
}
