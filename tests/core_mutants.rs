//! Tests written to kill the mutants `scripts/mutants.sh` found surviving in the core (see
//! docs/testing.md): each states a rule of the core that no other test pinned down, through the
//! public API. Grouped by the file they cover.

use aks_cadence::domain::OfferedVersion;
use aks_cadence::policy::versions::{
    AksVersion, MinorLine, RegionMinor, SupportStatus, UpgradeKind, classify, compare_versions, support_status,
    upgrade_choice,
};

fn v(s: &str) -> AksVersion {
    AksVersion::parse(s).unwrap()
}

fn offered(list: &[&str]) -> Vec<OfferedVersion> {
    list.iter().map(|v| OfferedVersion { version: v.to_string(), is_preview: false }).collect()
}

// ---------------------------------------------------------------------------------------------
// policy/versions.rs
// ---------------------------------------------------------------------------------------------

#[test]
fn upgrade_choice_takes_the_newest_patch_and_minor_whatever_order_the_region_lists_them() {
    // ARM lists versions in no promised order: newest first here.
    let o = offered(&["1.30.7", "1.30.3", "1.29.11", "1.29.9"]);
    let c = upgrade_choice(&v("1.29.4"), &o, false, false);
    assert_eq!(c.patch, Some(v("1.29.11")));
    assert_eq!(c.minor, Some(v("1.30.7")));
}

#[test]
fn minors_behind_counts_the_minors_between_two_lines_of_one_major() {
    let l = MinorLine::new;
    assert_eq!(l(1, 28).minors_behind(l(1, 31)), 3);
    assert_eq!(l(1, 30).minors_behind(l(1, 31)), 1);
    assert_eq!(l(1, 31).minors_behind(l(1, 31)), 0, "the same line is not behind");
    assert_eq!(l(1, 33).minors_behind(l(1, 31)), 0, "a newer line is not behind");
}

#[test]
fn minors_behind_counts_an_older_major_as_far_behind_and_a_newer_one_as_not() {
    let l = MinorLine::new;
    assert_eq!(l(1, 40).minors_behind(l(2, 0)), u64::MAX);
    assert_eq!(l(2, 0).minors_behind(l(1, 40)), 0);
}

#[test]
fn a_patch_of_the_same_semver_as_a_bare_minor_line_is_not_an_upgrade_from_it() {
    // `1.30.0` sorts after `1.30` (to keep the order total) but is the same version to AKS.
    assert!(v("1.30.0") > v("1.30"));
    assert_eq!(classify(&v("1.30"), &v("1.30.0")), UpgradeKind::None);
    assert_eq!(classify(&v("1.30"), &v("1.30.1")), UpgradeKind::Patch);
}

#[test]
fn an_lts_cluster_takes_no_step_into_another_major() {
    let o = offered(&["2.0.1"]);
    assert_eq!(upgrade_choice(&v("1.30.4"), &o, false, true).minor, None);
    let o = offered(&["2.0.1", "1.32.2"]);
    assert_eq!(upgrade_choice(&v("1.30.4"), &o, false, true).minor, Some(v("1.32.2")));
}

#[test]
fn an_lts_cluster_takes_the_newest_patch_of_the_smallest_step_whatever_the_order() {
    let o = offered(&["1.31.1", "1.30.2", "1.30.5", "1.30.3"]);
    assert_eq!(upgrade_choice(&v("1.27.100"), &o, false, true).minor, Some(v("1.30.5")));
}

#[test]
fn an_lts_cluster_takes_the_next_minor_when_it_is_offered() {
    let o = offered(&["1.30.7", "1.32.1"]);
    assert_eq!(upgrade_choice(&v("1.29.4"), &o, false, true).minor, Some(v("1.30.7")));
}

#[test]
fn supported_leaving_and_long_term_support_count_as_supported_and_nothing_else_does() {
    let l = MinorLine::new;
    let mut region: Vec<RegionMinor> = (30..=33).map(|m| RegionMinor::community(l(1, m))).collect();
    region.push(RegionMinor { line: l(1, 27), community: false, lts: true });
    let status = |ver: &str, lts: bool| support_status(&v(ver), &region, lts);
    let newest = l(1, 33);
    let table = [
        (status("1.33.1", false), true),
        (status("1.31.1", false), true),
        (status("1.30.1", false), true),
        (status("1.27.1", true), true),
        (status("1.27.1", false), false),
        (status("1.29.1", false), false),
        (support_status(&v("1.29.1"), &[], false), false),
    ];
    assert_eq!(table[0].0, SupportStatus::Supported { newest, oldest: false });
    assert_eq!(table[2].0, SupportStatus::LeavingSupport { newest });
    assert_eq!(table[3].0, SupportStatus::LongTermSupport { newest, oldest_lts: true });
    assert_eq!(table[5].0, SupportStatus::OutOfSupport { newest, oldest_supported: l(1, 31) });
    assert_eq!(table[6].0, SupportStatus::Unknown);
    for (i, (s, want)) in table.iter().enumerate() {
        assert_eq!(s.is_supported(), *want, "row {i}: {s:?}");
    }
}

#[test]
fn version_strings_compare_as_semver_when_both_parse_and_by_numbers_otherwise() {
    use std::cmp::Ordering::{Greater, Less};
    // semver: a pre-release sorts before its release (by numeric parts it would sort after).
    assert_eq!(compare_versions("1.30.0-rc.1", "1.30.0"), Less);
    assert_eq!(compare_versions("1.30.10", "1.30.9"), Greater);
    // Not semver (a bare minor): numeric parts, not text.
    assert_eq!(compare_versions("1.100", "1.99"), Greater);
}

// ---------------------------------------------------------------------------------------------
// policy/windows.rs
// ---------------------------------------------------------------------------------------------

#[test]
fn a_blocked_date_that_is_not_a_string_is_named_by_its_full_path() {
    use aks_cadence::policy::windows::MaintenanceWindow;
    let recurring = serde_json::json!({
        "schedule": {"daily": {"intervalDays": 1}}, "durationHours": 4, "startTime": "00:00",
        "notAllowedDates": [{"start": 5, "end": "2026-01-02"}]
    });
    let e = MaintenanceWindow::from_arm_json(&recurring).unwrap_err();
    assert_eq!(e.field, "maintenanceWindow.notAllowedDates[0].start", "{e}");
    let legacy = serde_json::json!({"properties": {
        "timeInWeek": [{"day": "Monday", "hourSlots": [1]}],
        "notAllowedTime": [{"start": 5, "end": "2026-01-02T00:00:00Z"}]
    }});
    let e = MaintenanceWindow::from_arm_resource(&legacy).unwrap_err();
    assert_eq!(e.field, "properties.notAllowedTime[0].start", "{e}");
}
