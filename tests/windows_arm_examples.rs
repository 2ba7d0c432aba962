//! Maintenance windows parsed from Microsoft's own ARM examples (tests/fixtures/arm/, copied
//! verbatim from the REST API specs), with the expected openings worked out by hand.

use aks_cadence::action::{ActionKind, UpgradeScope};
use aks_cadence::plan::WindowStatus;
use aks_cadence::policy::windows::{MaintenanceSchedules, MaintenanceWindow, Recurrence, WeekIndex, WindowSpec};
use jiff::Timestamp;
use jiff::civil::Weekday;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/arm/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn open(until: &str) -> WindowStatus {
    WindowStatus::Open { until: ts(until) }
}

fn closed(next: &str) -> WindowStatus {
    WindowStatus::Closed { next: Some(ts(next)) }
}

/// (instant, expected status) rows checked against one window.
fn check(window: &MaintenanceWindow, rows: &[(&str, WindowStatus)]) {
    for (t, want) in rows {
        assert_eq!(&window.status_at(ts(t)), want, "status at {t} for {}", window.describe());
    }
}

#[test]
fn create_update_example_is_every_third_monday_at_0830_ist() {
    let body = fixture("maintenance_configurations_create_update_maintenance_window.2026-06-01.json");
    let w = MaintenanceWindow::from_arm_resource(&body["responses"]["200"]["body"]).unwrap();
    let WindowSpec::Recurring(r) = w.spec() else { panic!("expected a recurring window") };
    assert_eq!(r.recurrence, Recurrence::Weekly { interval_weeks: 3, day_of_week: Weekday::Monday });
    assert_eq!(r.duration_hours, 10);
    assert_eq!(r.utc_offset.seconds(), 5 * 3600 + 30 * 60);
    // startDate 2023-01-01 is a Sunday: the first Monday on or after it (Jan 2) anchors the
    // three-week cadence. 08:30 +05:30 is 03:00Z; ten hours later is 13:00Z.
    check(
        &w,
        &[
            ("2022-12-31T00:00:00Z", closed("2023-01-02T03:00:00Z")),
            ("2023-01-02T02:59:59Z", closed("2023-01-02T03:00:00Z")),
            ("2023-01-02T03:00:00Z", open("2023-01-02T13:00:00Z")),
            ("2023-01-02T12:59:59Z", open("2023-01-02T13:00:00Z")),
            ("2023-01-02T13:00:00Z", closed("2023-01-23T03:00:00Z")),
            ("2023-01-09T05:00:00Z", closed("2023-01-23T03:00:00Z")),
            ("2023-01-23T04:00:00Z", open("2023-01-23T13:00:00Z")),
            // Dec 25 2023 falls inside notAllowedDates 2023-12-23..2024-01-05: skipped.
            ("2023-12-04T13:00:00Z", closed("2024-01-15T03:00:00Z")),
        ],
    );
}

#[test]
fn create_update_request_is_first_monday_every_three_months() {
    let body = fixture("maintenance_configurations_create_update_maintenance_window.2026-06-01.json");
    let w = MaintenanceWindow::from_arm_resource(&body["parameters"]["parameters"]).unwrap();
    let WindowSpec::Recurring(r) = w.spec() else { panic!("expected a recurring window") };
    assert_eq!(
        r.recurrence,
        Recurrence::RelativeMonthly { interval_months: 3, week_index: WeekIndex::First, day_of_week: Weekday::Monday }
    );
    // First Mondays: Jan 2 2023, Apr 3, Jul 3, Oct 2; Jan 1 2024 is blocked (2023-12-23..
    // 2024-01-05), so the next after October is Apr 1 2024.
    let mut t = ts("2022-12-01T00:00:00Z");
    let mut starts = Vec::new();
    while let Some((s, e)) = w.next_open_after(t) {
        assert_eq!(e.duration_since(s).as_hours(), 10);
        starts.push(s.to_string());
        if starts.len() == 6 {
            break;
        }
        t = s;
    }
    assert_eq!(
        starts,
        [
            "2023-01-02T03:00:00Z",
            "2023-04-03T03:00:00Z",
            "2023-07-03T03:00:00Z",
            "2023-10-02T03:00:00Z",
            "2024-04-01T03:00:00Z",
            "2024-07-01T03:00:00Z",
        ]
    );
}

#[test]
fn get_example_is_every_third_day_with_a_blocked_week() {
    let body = fixture("maintenance_configurations_get_maintenance_window.2025-10-01.json");
    let w = MaintenanceWindow::from_arm_resource(&body["responses"]["200"]["body"]).unwrap();
    // Every 3 days from 2023-01-01 at 09:30 -07:00 (16:30Z) for 4 h. Feb 18, 21 and 24 fall in
    // notAllowedDates 2023-02-18..2023-02-25 (local), so after Feb 15 the next is Feb 27.
    check(
        &w,
        &[
            ("2023-01-01T16:30:00Z", open("2023-01-01T20:30:00Z")),
            ("2023-01-02T16:30:00Z", closed("2023-01-04T16:30:00Z")),
            ("2023-02-15T18:00:00Z", open("2023-02-15T20:30:00Z")),
            ("2023-02-15T20:30:00Z", closed("2023-02-27T16:30:00Z")),
            ("2023-02-21T17:00:00Z", closed("2023-02-27T16:30:00Z")),
        ],
    );
}

#[test]
fn list_example_gives_node_os_and_auto_upgrade_schedules() {
    let body = fixture("maintenance_configurations_list_maintenance_window.2026-06-01.json");
    let (schedules, errors) = MaintenanceSchedules::from_arm_list(&body["responses"]["200"]["body"]);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(schedules.legacy_default.is_none());
    let node_os = schedules.node_os.as_ref().unwrap();
    let auto = schedules.auto_upgrade.as_ref().unwrap();

    // Node OS: every 5 days from 2023-01-01 at 13:30 -07:00 for 10 h = 20:30Z to 06:30Z the
    // next UTC day, so it spans UTC midnight.
    check(
        node_os,
        &[
            ("2023-01-01T20:29:00Z", closed("2023-01-01T20:30:00Z")),
            ("2023-01-02T03:00:00Z", open("2023-01-02T06:30:00Z")),
            ("2023-01-02T06:30:00Z", closed("2023-01-06T20:30:00Z")),
        ],
    );
    // Auto-upgrade: the 15th every 3 months from January 2023, 08:30Z for 5 h.
    check(
        auto,
        &[
            ("2023-01-15T08:30:00Z", open("2023-01-15T13:30:00Z")),
            ("2023-01-15T13:30:00Z", closed("2023-04-15T08:30:00Z")),
            ("2023-05-01T00:00:00Z", closed("2023-07-15T08:30:00Z")),
        ],
    );

    let node_image = UpgradeScope::NodeImage { pool: "nodepool1".into() };
    assert_eq!(schedules.for_upgrade(&node_image), Some(node_os));
    assert_eq!(schedules.for_upgrade(&UpgradeScope::Patch), Some(auto));
    assert_eq!(schedules.for_upgrade(&UpgradeScope::Minor), Some(auto));
    assert_eq!(schedules.for_action(&ActionKind::RotateCertificates), Some(auto));
    assert_eq!(schedules.for_action(&ActionKind::Log), None);
    assert_eq!(schedules.status_for(&ActionKind::Log, ts("2023-01-15T09:00:00Z")), WindowStatus::Unknown);
    assert_eq!(
        schedules.status_for(&ActionKind::Upgrade { upgrade: UpgradeScope::Patch, target: "1.30.7".into() }, ts("2023-01-15T09:00:00Z")),
        open("2023-01-15T13:30:00Z")
    );
}

#[test]
fn legacy_default_example_merges_hour_slots_and_honours_not_allowed_time() {
    let body = fixture("maintenance_configurations_create_update_default_legacy_timeinweek.2025-08-01.json");
    let resource = &body["responses"]["200"]["body"];
    let w = MaintenanceWindow::from_arm_resource(resource).unwrap();
    assert!(matches!(w.spec(), WindowSpec::Legacy(_)));
    // Monday slots 1 and 2 are one window 01:00–03:00 UTC. Monday Nov 30 2020 lies inside
    // notAllowedTime (Nov 26 03:00Z – Nov 30 12:00Z), so after Nov 23 the next is Dec 7.
    check(
        &w,
        &[
            ("2020-11-23T00:59:59Z", closed("2020-11-23T01:00:00Z")),
            ("2020-11-23T01:00:00Z", open("2020-11-23T03:00:00Z")),
            ("2020-11-23T02:30:00Z", open("2020-11-23T03:00:00Z")),
            ("2020-11-23T03:00:00Z", closed("2020-12-07T01:00:00Z")),
            ("2020-11-30T01:30:00Z", closed("2020-12-07T01:00:00Z")),
        ],
    );
    assert_eq!(w.open_at(ts("2020-11-23T02:00:00Z")), Some((ts("2020-11-23T01:00:00Z"), ts("2020-11-23T03:00:00Z"))));

    // The default configuration only governs upgrades when their own schedule is absent.
    let mut schedules = MaintenanceSchedules::default();
    schedules.insert_arm_resource(resource).unwrap();
    assert_eq!(schedules.legacy_default.as_ref(), Some(&w));
    assert_eq!(schedules.for_upgrade(&UpgradeScope::NodeImage { pool: "p".into() }), Some(&w));
    assert_eq!(schedules.for_upgrade(&UpgradeScope::Minor), Some(&w));
}

#[test]
fn a_broken_configuration_is_reported_and_the_others_still_parse() {
    let body = fixture("maintenance_configurations_list_maintenance_window.2026-06-01.json");
    let mut list = body["responses"]["200"]["body"].clone();
    list["value"][0]["properties"]["maintenanceWindow"]["durationHours"] = 2.into();
    let (schedules, errors) = MaintenanceSchedules::from_arm_list(&list);
    assert!(schedules.node_os.is_none());
    assert!(schedules.auto_upgrade.is_some());
    assert_eq!(errors.len(), 1);
    let msg = errors[0].to_string();
    assert!(
        msg.starts_with("aksManagedNodeOSUpgradeSchedule.properties.maintenanceWindow.durationHours: 2 is outside 4–24"),
        "{msg}"
    );
    assert!(msg.contains("Fix:"), "{msg}");
}

#[test]
fn the_delete_example_has_no_body_and_yields_no_schedules() {
    let body = fixture("maintenance_configurations_delete_maintenance_window.2025-10-01.json");
    let (schedules, errors) = MaintenanceSchedules::from_arm_list(&body["responses"]["200"]);
    assert_eq!(schedules, MaintenanceSchedules::default());
    assert!(errors.is_empty());
}
