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

/// The rules of maintenance windows that only `handler config check`'s and the sweep's tests
/// reached (mutation testing of `policy/windows.rs`, docs/testing.md).
mod window_rules {
    use aks_cadence::policy::windows::{LegacyWeek, MaintenanceWindow, WindowSpec};
    use serde_json::json;

    /// A legacy week is described day by day, each day's allowed hours as ranges in UTC.
    #[test]
    fn a_legacy_week_is_described_by_its_days_and_hour_ranges() {
        let w = MaintenanceWindow::from_arm_resource(&json!({"properties": {"timeInWeek": [
            {"day": "Monday", "hourSlots": [1, 2, 5]},
            {"day": "Wednesday", "hourSlots": [0, 23]},
        ]}}))
        .unwrap();
        assert_eq!(w.describe(), "weekly (legacy default, UTC): Monday 01:00–03:00, 05:00–06:00; Wednesday 00:00–01:00, 23:00–24:00");
    }

    /// A legacy week holds hours 0–23 only, and a blocked span may be empty but not reversed.
    #[test]
    fn a_legacy_week_refuses_hours_past_23_and_reversed_blocked_time() {
        let mut hour_slots = [0; 7];
        hour_slots[2] = 1 << 24;
        let e = MaintenanceWindow::new(WindowSpec::Legacy(LegacyWeek { hour_slots, not_allowed_time: vec![] })).unwrap_err();
        assert_eq!(e.field, "timeInWeek", "{e}");
        assert!(e.to_string().contains("weekday 2 has slots beyond hour 23"), "{e}");
        let week = |start: &str, end: &str| {
            json!({"properties": {
                "timeInWeek": [{"day": "Monday", "hourSlots": [1]}],
                "notAllowedTime": [{"start": start, "end": end}]
            }})
        };
        let e = MaintenanceWindow::from_arm_resource(&week("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z")).unwrap_err();
        assert!(e.to_string().contains("swap start and end"), "{e}");
        assert!(MaintenanceWindow::from_arm_resource(&week("2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z")).is_ok(), "an empty blocked span is allowed");
        assert!(MaintenanceWindow::from_arm_resource(&week("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")).is_ok());
    }

    /// A whole number may come as a JSON string ("8"), as ARM accepts it.
    #[test]
    fn a_whole_number_given_as_a_string_is_read() {
        let w = MaintenanceWindow::from_arm_json(&json!({
            "schedule": {"weekly": {"intervalWeeks": "2", "dayOfWeek": "Monday"}},
            "durationHours": "8", "startTime": "08:30", "startDate": "2026-01-05"
        }))
        .unwrap();
        assert_eq!(w.describe(), "every 2 weeks on Monday at 08:30 (+00:00) for 8 h, from 2026-01-05");
    }

    fn daily(start_time: &str, utc_offset: &str, start_date: &str) -> Result<MaintenanceWindow, aks_cadence::policy::windows::WindowError> {
        MaintenanceWindow::from_arm_json(&json!({
            "schedule": {"daily": {"intervalDays": 1}}, "durationHours": 4,
            "startTime": start_time, "utcOffset": utc_offset, "startDate": start_date
        }))
    }

    /// `utcOffset` is exactly `+HH:mm` or `-HH:mm` (digits, a colon, minutes under 60, within
    /// ±14:00), and is shown back with its sign.
    #[test]
    fn a_utc_offset_is_a_signed_hh_mm_and_is_shown_with_its_sign() {
        for bad in ["+1", "+05-30", "005:30", "x05:30", "+0530", "++5:30", "+05:+3", "+05:3a", "+05:60", "+14:30", "-15:00", "+05:30 x"] {
            let e = daily("08:00", bad, "2026-01-05").expect_err(bad);
            assert_eq!(e.field, "maintenanceWindow.utcOffset", "{bad}: {e}");
        }
        for (good, shown) in [("+05:30", "+05:30"), ("-07:00", "-07:00"), ("+00:00", "+00:00"), ("+14:00", "+14:00"), ("-12:00", "-12:00")] {
            let w = daily("08:00", good, "2026-01-05").expect(good);
            assert_eq!(w.describe(), format!("every day at 08:00 ({shown}) for 4 h, from 2026-01-05"), "{good}");
        }
    }

    /// `startTime` is exactly `HH:mm`, and `startDate` a date, or a date-time whose date part
    /// is read (ARM returns plain dates; some tools write date-times).
    #[test]
    fn a_start_time_is_hh_mm_and_a_start_date_may_be_a_date_time() {
        for bad in ["8:30", "08:300", "08-30", "0a:30", "+8:30", "24:00", "08:60"] {
            let e = daily(bad, "+00:00", "2026-01-05").expect_err(bad);
            assert_eq!(e.field, "maintenanceWindow.startTime", "{bad}: {e}");
        }
        let w = daily("23:59", "+00:00", "2026-01-05T00:00:00Z").unwrap();
        assert_eq!(w.describe(), "every day at 23:59 (+00:00) for 4 h, from 2026-01-05");
        for bad in ["2026-01-05X00:00:00Z", "2026-01-5", "2026-13-01"] {
            let e = daily("08:00", "+00:00", bad).expect_err(bad);
            assert_eq!(e.field, "maintenanceWindow.startDate", "{bad}: {e}");
        }
    }

    /// Without a start date, only a schedule that skips periods (an interval above 1) counts
    /// from the configuration's creation (AKS's default for `startDate`); an every-week or
    /// every-day schedule has no start to anchor.
    #[test]
    fn only_a_schedule_with_an_interval_above_one_counts_from_its_creation() {
        let resource = |interval: u8| {
            json!({
                "systemData": {"createdAt": "2026-11-20T10:00:00Z"},
                "properties": {"maintenanceWindow": {
                    "schedule": {"weekly": {"intervalWeeks": interval, "dayOfWeek": "Monday"}},
                    "durationHours": 4, "startTime": "00:00"
                }}
            })
        };
        let every_week = MaintenanceWindow::from_arm_resource(&resource(1)).unwrap();
        assert_eq!(every_week.describe(), "every Monday at 00:00 (+00:00) for 4 h");
        let before_creation: jiff::Timestamp = "2026-11-16T01:00:00Z".parse().unwrap();
        assert!(every_week.open_at(before_creation).is_some(), "an every-week window is open on a Monday before its creation");
        let every_other = MaintenanceWindow::from_arm_resource(&resource(2)).unwrap();
        assert_eq!(every_other.describe(), "every 2 weeks on Monday at 00:00 (+00:00) for 4 h, from 2026-11-20");
    }
}

// ---------------------------------------------------------------------------------------------
// policy/baseline.rs
// ---------------------------------------------------------------------------------------------

mod baseline_exceptions {
    use aks_cadence::baseline::Severity;
    use aks_cadence::domain::{ClusterFacts, ClusterId};
    use aks_cadence::policy::{BaselinePolicy, Policy};
    use jiff::civil::{Date, date};

    // Two exceptions for the same check on dev, in file order: one that ran out in June, one
    // that holds through December; a third for another check on every cluster.
    const POLICY: &str = r#"
[baseline]
[baseline.severity]
uptime-sla = "low"

[[baseline.exception]]
checks = ["uptime-sla"]
resource_groups = ["rg-dev-*"]
reason = "old"
expires = 2026-06-30

[[baseline.exception]]
checks = ["uptime-sla"]
resource_groups = ["rg-dev-*"]
reason = "new"
expires = 2026-12-31

[[baseline.exception]]
checks = ["local-accounts-disabled"]
clusters = ["*"]
reason = "break-glass"
expires = 2026-03-31
"#;

    fn baseline() -> BaselinePolicy {
        Policy::parse(POLICY, "cadence.toml").unwrap().baseline.unwrap()
    }
    fn dev() -> ClusterId {
        ClusterId::from_parts("00000000-0000-0000-0000-000000000001", "rg-dev-1", "aks-dev")
    }
    fn prod() -> ClusterId {
        ClusterId::from_parts("00000000-0000-0000-0000-000000000001", "rg-prod-1", "aks-prod")
    }
    fn reason(b: &BaselinePolicy, check: &str, cluster: &ClusterId, today: Date) -> Option<String> {
        b.exception_for(check, cluster, &ClusterFacts::default(), today).map(|e| e.reason.clone())
    }

    #[test]
    fn an_exception_holds_through_its_expires_day_and_runs_out_the_day_after() {
        let b = baseline();
        let e = &b.exceptions[2];
        assert!(!e.expired_on(date(2026, 3, 30)));
        assert!(!e.expired_on(date(2026, 3, 31)), "the expires day is the last day it holds");
        assert!(e.expired_on(date(2026, 4, 1)));
        let expired = |today| b.expired(today).map(|e| e.reason.as_str()).collect::<Vec<_>>();
        assert_eq!(expired(date(2026, 3, 31)), Vec::<&str>::new());
        assert_eq!(expired(date(2026, 4, 1)), ["break-glass"]);
        assert_eq!(expired(date(2026, 7, 1)), ["old", "break-glass"]);
    }

    #[test]
    fn the_first_running_exception_wins_and_an_expired_one_is_reported_only_when_none_runs() {
        let b = baseline();
        assert_eq!(reason(&b, "uptime-sla", &dev(), date(2026, 6, 1)).as_deref(), Some("old"), "both run: the first in file order");
        assert_eq!(reason(&b, "uptime-sla", &dev(), date(2026, 7, 1)).as_deref(), Some("new"), "the first ran out: the running one");
        assert_eq!(reason(&b, "uptime-sla", &dev(), date(2027, 1, 1)).as_deref(), Some("old"), "both ran out: the first, as expired");
    }

    #[test]
    fn an_exception_covers_only_its_checks_on_its_clusters() {
        let b = baseline();
        let facts = ClusterFacts::default();
        assert!(b.exceptions[0].covers("uptime-sla", &dev(), &facts));
        assert!(!b.exceptions[0].covers("uptime-sla", &prod(), &facts), "another cluster");
        assert!(!b.exceptions[0].covers("local-accounts-disabled", &dev(), &facts), "another check");
        assert_eq!(reason(&b, "uptime-sla", &prod(), date(2026, 6, 1)), None);
        assert_eq!(reason(&b, "local-accounts-disabled", &prod(), date(2026, 3, 1)).as_deref(), Some("break-glass"));
    }

    #[test]
    fn a_severity_override_replaces_the_catalogue_severity_of_its_check_only() {
        let b = baseline();
        assert_eq!(b.severity_of("uptime-sla", Severity::High), Severity::Low);
        assert_eq!(b.severity_of("local-accounts-disabled", Severity::Medium), Severity::Medium);
        assert_eq!(b.severity_of("local-accounts-disabled", Severity::High), Severity::High);
    }
}

// ---------------------------------------------------------------------------------------------
// policy/glob.rs
// ---------------------------------------------------------------------------------------------

#[test]
fn a_glob_shows_and_compares_as_the_pattern_it_was_written_as() {
    use aks_cadence::policy::Glob;
    let g = Glob::new("rg-Prod-*").unwrap();
    assert_eq!(g.as_str(), "rg-Prod-*");
    assert_eq!(g.to_string(), "rg-Prod-*");
    assert_eq!(format!("{g:?}"), "Glob(\"rg-Prod-*\")");
    assert_eq!(g, Glob::new("rg-Prod-*").unwrap());
    // Two patterns that match the same names are still two patterns (errors and summaries name
    // the one written).
    assert_ne!(g, Glob::new("rg-prod-*").unwrap());
}

// ---------------------------------------------------------------------------------------------
// policy/summary.rs (what `handler config check` prints for a valid policy)
// ---------------------------------------------------------------------------------------------

fn summary_of(toml: &str) -> Vec<String> {
    aks_cadence::policy::Policy::parse(toml, "cadence.toml").unwrap().summary()
}

#[test]
fn the_summary_of_a_policy_that_uses_every_key_names_each_setting_channel_route_window_and_ring() {
    assert_eq!(summary_of(SUMMARY_RICH), SUMMARY_RICH_LINES);
}

#[test]
fn defaults_that_upgrade_by_themselves_need_azure_credentials_and_a_pull_request_rule_alone_needs_github() {
    assert_eq!(summary_of(SUMMARY_DEFAULTS_AUTO), SUMMARY_DEFAULTS_AUTO_LINES);
}

#[test]
fn a_rule_that_upgrades_by_itself_needs_azure_credentials_when_the_defaults_do_not() {
    assert_eq!(summary_of(SUMMARY_RULE_AUTO), SUMMARY_RULE_AUTO_LINES);
}

#[test]
fn a_policy_that_only_changes_deadlines_needs_no_setting_for_a_live_run() {
    assert_eq!(summary_of(SUMMARY_SETTINGS_ONLY), SUMMARY_SETTINGS_ONLY_LINES);
}


// The policies of the summary tests and what `summary()` says of each (line by line, as
// `handler config check` prints them).

const SUMMARY_RICH: &str = r#"[defaults]
patch_within_days = 10
minor_within_days = 40
node_image_within_days = 5
reminder_days_before = 2
certificate_warn_days = [45, 10]
include_preview = true
respect_aks_channels = false
aks_channel_grace_days = 2
aks_channel_grace_windows = 3
require_upgrade_channel = "patch"
require_node_os_channel = "NodeImage"

[defaults.upgrade]
node_image = "auto"
approval = "github"

[defaults.upgrade.window]
schedule = { weekly = { intervalWeeks = 1, dayOfWeek = "Tuesday" } }
durationHours = 6
utcOffset = "+01:00"
startDate = "2026-01-06"
startTime = "22:00"

[[rule]]
name = "prod"
subscriptions = ["0000*"]
resource_groups = ["rg-prod-*", "rg-live-*"]
clusters = ["aks-*"]
tags = { env = "prod", tier = "gold" }
when_tags_unknown = "match"
signals = ["upgrades-offered", "support-ending"]
patch_within_days = 5
minor_within_days = 30
node_image_within_days = 3
reminder_days_before = 1
certificate_warn_days = [20, 5]
include_preview = false
require_upgrade_channel = "stable"
require_node_os_channel = "SecurityPatch"
[rule.upgrade]
patch = "auto"
minor = "notify"
node_image = "auto"
certificate_rotation = "notify"
auto_after_days = 2
min_window_minutes = { node_image = 61, patch = 121, minor = 122, certificate_rotation = 62 }
approval = "github"
approval_label = "ok-to-go"
hold_label = "wait"
[rule.upgrade.window]
schedule = { daily = { intervalDays = 1 } }
durationHours = 4
utcOffset = "+00:00"
startTime = "02:00"
[rule.github_issue]
repo = "contoso/platform-infra"
[rule.github_pr]
repo = "contoso/infra"
path = "aks/prod.bicepparam"
key = "kubernetesVersion"
[rule.email]
to = ["a@contoso.example", "b@contoso.example"]
[[rule.chat]]
kind = "teams"
url_setting = "TEAMS_URL"
[[rule.chat]]
kind = "slack"
url_setting = "SLACK_URL"
[rule.reminder]
assignees = ["lead", "oncall"]
labels = ["soon", "prod"]
email = ["lead@contoso.example", "boss@contoso.example"]
[[rule.reminder.chat]]
kind = "webhook"
url_setting = "HOOK_URL"

[[rule]]
name = "routes-only"
tags = { env = "dev" }
[rule.overdue]
email = ["dev@contoso.example"]

[[rule]]
name = "everyone"
[rule.github_issue]
repo = "contoso/fleet"

[[ring]]
name = "dev"
resource_groups = ["rg-dev-*"]
soak_days = 3

[[ring]]
name = "prod"
soak_days = 0
"#;

const SUMMARY_RICH_LINES: &[&str] = &[
    "3 rule(s); a signal no rule applies to is only logged",
    "defaults: patch within 10 days, minor within 40 days, node image within 5 days, reminder 2 days before; certificates warned 45/10 days before expiry; preview versions included; upgrades: node_image auto, patch notify, minor notify, certificate_rotation notify; AKS channels ignored (aks-cadence plans as if none were set); auto-upgrade watched 2 days past the deadline; auto-upgrade watched for 3 of the channel's own windows at most; requires upgradeChannel patch (clusters without it get an aks-channel finding); requires nodeOSUpgradeChannel NodeImage (clusters without it get an aks-channel finding); auto changes wait for approval on the concern's GitHub issue (label `aks-cadence/approved` or an /approve comment by a user with write access; `aks-cadence/hold` or /hold stops them)",
    "defaults window: every Tuesday at 22:00 (+01:00) for 6 h, from 2026-01-06",
    "rule prod (line 25): subscriptions 0000*; resource groups rg-prod-*, rg-live-*; clusters aks-*; tags env=prod, tier=gold (applies while tags are unknown); signals upgrades-offered, support-ending",
    "  tells: GitHub issue in contoso/platform-infra, GitHub pull request on contoso/infra:aks/prod.bicepparam, email to a@contoso.example, b@contoso.example, Teams via TEAMS_URL, Slack via SLACK_URL",
    "  at reminder also: assign @lead, @oncall on the issue in contoso/platform-infra; label soon, prod on the issue in contoso/platform-infra; email to lead@contoso.example, boss@contoso.example; webhook via HOOK_URL",
    "  sets: patch_within_days = 5, minor_within_days = 30, node_image_within_days = 3, reminder_days_before = 1, auto_after_days = 2, min_window_minutes.node_image = 61, min_window_minutes.patch = 121, min_window_minutes.minor = 122, min_window_minutes.certificate_rotation = 62, certificate_warn_days = [20, 5], include_preview = false, require_upgrade_channel = stable, require_node_os_channel = SecurityPatch, upgrade.node_image = auto, upgrade.patch = auto, upgrade.minor = notify, upgrade.certificate_rotation = notify, upgrade.approval = github, auto changes wait for approval on the concern's GitHub issue (label `ok-to-go` or an /approve comment by a user with write access; `wait` or /hold stops them), upgrade.approval_label = ok-to-go, upgrade.hold_label = wait",
    "  window: every day at 02:00 (+00:00) for 4 h",
    "rule routes-only (line 78): tags env=dev (skipped until a sweep knows the tags); every signal",
    "  tells: no channel at every stage (only the stage routes below)",
    "  at overdue also: email to dev@contoso.example",
    "rule everyone (line 84): every cluster; every signal",
    "  tells: GitHub issue in contoso/fleet",
    "2 ring(s), in order: dev → prod (a cluster in no ring is not ring-gated)",
    "ring 1 dev (line 89): resource groups rg-dev-*; soak 3 day(s) before prod may take a target",
    "ring 2 prod (line 94): every cluster; soak 0 day(s) (last ring: nothing waits for it)",
    "a failed upgrade stops its target for later rings until a newer target appears or a user with write access releases it (label `aks-cadence/release` or a /release comment on the issue of a cluster it holds)",
    "a live run (CADENCE_DRY_RUN=false) needs:",
    "  GITHUB_TOKEN or GITHUB_APP_* (rules prod, everyone)",
    "  SMTP_URL and SMTP_FROM (rules prod, routes-only)",
    "  HOOK_URL",
    "  SLACK_URL",
    "  TEAMS_URL",
    "  AZURE_CREDENTIAL with the aks-cadence role (auto upgrades)",
];

const SUMMARY_DEFAULTS_AUTO: &str = r#"[defaults.upgrade]
certificate_rotation = "auto"

[[rule]]
name = "pr-only"
[rule.github_pr]
repo = "contoso/infra"
path = "aks/prod.bicepparam"
key = "kubernetesVersion"

[[rule]]
name = "settings"
upgrade = { approval = "none" }
"#;

const SUMMARY_DEFAULTS_AUTO_LINES: &[&str] = &[
    "2 rule(s); a signal no rule applies to is only logged",
    "defaults: patch within 14 days, minor within 60 days, node image within 7 days, reminder 3 days before; certificates warned 60/30/7 days before expiry; preview versions never; upgrades: node_image notify, patch notify, minor notify, certificate_rotation auto",
    "defaults window: none (clusters' own planned maintenance only)",
    "rule pr-only (line 4): every cluster; every signal",
    "  tells: GitHub pull request on contoso/infra:aks/prod.bicepparam",
    "rule settings (line 11): every cluster; every signal",
    "  tells: no channel (settings only)",
    "  sets: upgrade.approval = none",
    "a live run (CADENCE_DRY_RUN=false) needs:",
    "  GITHUB_TOKEN or GITHUB_APP_* (rules pr-only)",
    "  AZURE_CREDENTIAL with the aks-cadence role (auto upgrades)",
];

const SUMMARY_RULE_AUTO: &str = r#"[[rule]]
name = "minors"
clusters = ["aks-*"]
[rule.upgrade]
minor = "auto"
"#;

const SUMMARY_RULE_AUTO_LINES: &[&str] = &[
    "1 rule(s); a signal no rule applies to is only logged",
    "defaults: patch within 14 days, minor within 60 days, node image within 7 days, reminder 3 days before; certificates warned 60/30/7 days before expiry; preview versions never; upgrades: node_image notify, patch notify, minor notify, certificate_rotation notify",
    "defaults window: none (clusters' own planned maintenance only)",
    "rule minors (line 1): clusters aks-*; every signal",
    "  tells: no channel (settings only)",
    "  sets: upgrade.minor = auto",
    "a live run (CADENCE_DRY_RUN=false) needs:",
    "  AZURE_CREDENTIAL with the aks-cadence role (auto upgrades)",
];

const SUMMARY_SETTINGS_ONLY: &str = r#"[[rule]]
name = "slow"
patch_within_days = 30
"#;

const SUMMARY_SETTINGS_ONLY_LINES: &[&str] = &[
    "1 rule(s); a signal no rule applies to is only logged",
    "defaults: patch within 14 days, minor within 60 days, node image within 7 days, reminder 3 days before; certificates warned 60/30/7 days before expiry; preview versions never; upgrades: node_image notify, patch notify, minor notify, certificate_rotation notify",
    "defaults window: none (clusters' own planned maintenance only)",
    "rule slow (line 1): every cluster; every signal",
    "  tells: no channel (settings only)",
    "  sets: patch_within_days = 30",
    "a live run (CADENCE_DRY_RUN=false) needs:",
    "  none (only log lines are planned)",
];

mod ring_failures {
    use aks_cadence::policy::rings::{Failure, Member, RingView, first_failure};
    use jiff::Timestamp;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn member(cluster: &str, failed: &[(&str, &str)]) -> Member {
        Member { cluster: cluster.into(), failed: failed.iter().map(|(t, when)| Failure { target: (*t).into(), at: at(when) }).collect(), ..Member::default() }
    }

    fn fleet() -> Vec<RingView> {
        vec![
            RingView {
                name: "dev".into(),
                soak_days: 3,
                members: vec![
                    member("aks-dev-1", &[("1.29.4", "2026-05-03T10:00:00Z"), ("1.30.1", "2026-05-01T08:00:00Z")]),
                    member("aks-dev-2", &[("1.29.4", "2026-05-02T09:00:00Z")]),
                ],
            },
            RingView { name: "prod".into(), soak_days: 0, members: vec![member("aks-prod-1", &[("1.29.4", "2026-04-20T00:00:00Z")])] },
        ]
    }

    #[test]
    fn the_stop_on_a_target_begins_at_its_earliest_failure_in_that_ring_and_no_other() {
        // The earliest of the ring's two failures of 1.29.4 (not prod's earlier one, not the other target's).
        assert_eq!(first_failure(&fleet(), "dev", "1.29.4"), Some(at("2026-05-02T09:00:00Z")));
        assert_eq!(first_failure(&fleet(), "dev", "1.30.1"), Some(at("2026-05-01T08:00:00Z")));
        assert_eq!(first_failure(&fleet(), "prod", "1.29.4"), Some(at("2026-04-20T00:00:00Z")));
    }

    #[test]
    fn a_target_that_never_failed_in_the_ring_has_no_stop_and_targets_compare_without_case() {
        assert_eq!(first_failure(&fleet(), "prod", "1.30.1"), None);
        assert_eq!(first_failure(&fleet(), "canary", "1.29.4"), None);
        let image = vec![RingView {
            name: "dev".into(),
            soak_days: 1,
            members: vec![member("aks-dev-1", &[("AKSUbuntu-2204gen2containerd-202405.03.0", "2026-05-04T00:00:00Z")])],
        }];
        assert_eq!(first_failure(&image, "dev", "aksubuntu-2204GEN2containerd-202405.03.0"), Some(at("2026-05-04T00:00:00Z")));
    }
}

// ---------------------------------------------------------------------------------------------
// plan/approval.rs (the approval decisions the pipeline applies to a planned upgrade)
// ---------------------------------------------------------------------------------------------

mod approvals {
    use aks_cadence::action::{Action, ActionKind, Hold, Stage};
    use aks_cadence::domain::{ClusterFacts, ClusterId, Concern, ConcernKind, OfferedVersion, Origin, Signal, SignalKind};
    use aks_cadence::plan::approval::{
        self, Approval, ApprovalTerms, Decision, Via, apply, awaits_reading, echo, handled_by_iac, name_issues,
        ready_but_for_approval, terms_for,
    };
    use aks_cadence::plan::{self, PlanFacts, WindowStatus};
    use aks_cadence::policy::Policy;
    use jiff::{SignedDuration, Timestamp};

    fn t0() -> Timestamp {
        "2026-11-29T09:00:00Z".parse().unwrap()
    }

    fn until() -> Timestamp {
        t0() + SignedDuration::from_hours(4)
    }

    fn signal() -> Signal {
        let facts = ClusterFacts {
            location: Some("westeurope".into()),
            kubernetes_version: Some("1.30.4".into()),
            provisioning_state: Some("Succeeded".into()),
            power_state: Some("Running".into()),
            ..ClusterFacts::default()
        };
        let kind = SignalKind::UpgradesOffered { current: "1.30.4".into(), offered: vec![OfferedVersion { version: "1.30.7".into(), is_preview: false }] };
        let cluster = ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod-weu", "aks-prod-weu");
        Signal { cluster, facts, kind, observed_at: t0(), origin: Origin::Sweep { run_id: "run-1".into() } }
    }

    /// `auto` patches that wait for approval on the issue in `o/r`, with their own labels.
    const GITHUB: &str = r#"
[[rule]]
name = "prod"
[rule.upgrade]
patch = "auto"
approval = "github"
approval_label = "go"
hold_label = "stop"
[rule.github_issue]
repo = "o/r"
"#;

    fn policy(text: &str) -> Policy {
        Policy::parse(text, "test.toml").unwrap_or_else(|e| panic!("{e:#?}"))
    }

    /// What the planner makes of the patch under `text` with the window open.
    fn planned(text: &str) -> Vec<Action> {
        let facts = PlanFacts { window: WindowStatus::Open { until: until() }, ..PlanFacts::default() };
        plan::plan(&signal(), &policy(text), &facts, t0())
    }

    /// The planned upgrade's execute action under `text`.
    fn execute(text: &str) -> Action {
        planned(text).into_iter().find(|a| a.stage == Stage::Execute && matches!(a.kind, ActionKind::Upgrade { .. })).expect("an upgrade execute")
    }

    fn with(mut a: Action, f: impl FnOnce(&mut Action)) -> Action {
        f(&mut a);
        a
    }

    const AWAITING: Hold = Hold::AwaitingApproval { url: None, cause: None };
    const URL: &str = "https://github.example/o/r/issues/7";

    #[test]
    fn approval_terms_apply_to_an_execute_upgrade_only_and_name_the_first_issue_repository() {
        let p = policy(GITHUB);
        let up = execute(GITHUB);
        assert_eq!(terms_for(&p, &up), Some(Some(ApprovalTerms { repo: "o/r".into(), label: "go".into(), hold_label: "stop".into() })));
        // Telling about the upgrade (any other stage) or changing something else needs no approval.
        assert_eq!(terms_for(&p, &with(up.clone(), |a| a.stage = Stage::Notice)), None);
        assert_eq!(terms_for(&p, &with(up.clone(), |a| a.kind = ActionKind::RotateCertificates)), None);
        // Without `approval = "github"` nothing waits.
        let none = GITHUB.replace("approval = \"github\"\n", "");
        assert_eq!(terms_for(&policy(&none), &execute(&none)), None);
        // Approval required, but no issue rule reaches the cluster (policy load refuses that for a
        // file; here the rule loses its issue after load): still required, with no repository
        // (the caller holds the change, naming the missing channel).
        let mut no_issue = policy(GITHUB);
        no_issue.rules[0].github_issue = None;
        assert_eq!(terms_for(&no_issue, &up), Some(None));
    }

    #[test]
    fn the_ledger_names_of_an_approval_and_a_proposal_keep_their_stored_format() {
        // Stored in the ledger: another spelling would orphan the approvals already given.
        assert_eq!(approval::record_channel("1.30.7"), "approval:1.30.7");
        let concern = Concern::new(signal().cluster, ConcernKind::KubernetesUpgrade, "patch:1.30.4");
        assert_eq!(
            approval::proposal_key(&concern, "1.30.7"),
            format!("{}#~approval-proposed:1.30.7", concern.key()),
        );
        assert_eq!(
            approval::proposal_key(&concern, "1.30.7"),
            "/subscriptions/00000000-0000-0000-0000-00000000a001/resourcegroups/rg-prod-weu/providers/microsoft.containerservice/managedclusters/aks-prod-weu#kubernetes-upgrade#patch:1.30.4#~approval-proposed:1.30.7",
        );
    }

    #[test]
    fn how_an_approval_was_given_is_told_as_label_or_approve_comment() {
        assert_eq!(Via::Label.as_str(), "label");
        assert_eq!(Via::Comment.as_str(), "/approve comment");
    }

    #[test]
    fn only_an_upgrade_held_for_approval_alone_awaits_a_reading_and_only_it_or_a_free_one_is_worth_one() {
        let up = with(execute(GITHUB), |a| a.hold = None);
        let url = Hold::AwaitingApproval { url: Some(URL.into()), cause: None };
        let window = Hold::OutsideWindow { next: None };
        // (case, action, awaits_reading, ready_but_for_approval)
        let cases = [
            ("free to start", up.clone(), false, true),
            ("held for approval alone", with(up.clone(), |a| a.hold = Some(AWAITING)), true, true),
            ("awaiting approval on a named issue", with(up.clone(), |a| a.hold = Some(url)), false, false),
            ("held by a closed window", with(up.clone(), |a| a.hold = Some(window)), false, false),
            ("the notice of the upgrade", with(up.clone(), |a| a.stage = Stage::Notice), false, false),
            ("an execute that is no upgrade", with(up.clone(), |a| a.kind = ActionKind::RotateCertificates), false, false),
        ];
        for (name, action, awaits, ready) in cases {
            assert_eq!(awaits_reading(&action), awaits, "awaits_reading: {name}");
            assert_eq!(ready_but_for_approval(&action), ready, "ready_but_for_approval: {name}");
        }
    }

    #[test]
    fn each_decision_read_from_the_issue_sets_the_hold_and_the_status_of_the_summary() {
        let up = execute(GITHUB);
        assert_eq!(up.hold, Some(AWAITING));
        let head = up.summary.rsplit_once(" — ").expect("a status part").0.to_string();
        let at = t0() + SignedDuration::from_hours(1);
        let run = |read: Result<(Decision, String), String>| {
            let mut a = up.clone();
            let given = apply(&mut a, read);
            (given, a.hold.clone(), a.summary.strip_prefix(&format!("{head} — ")).map(str::to_string))
        };

        let approved = Decision::Approved { by: "alice".into(), at, via: Via::Label };
        let (given, hold, status) = run(Ok((approved, URL.into())));
        assert_eq!(given, Some(Approval { target: "1.30.7".into(), by: "alice".into(), at, via: Via::Label, url: URL.into() }));
        assert_eq!(hold, None);
        assert_eq!(status.as_deref(), Some("would start now (window open until 2026-11-29 13:00 UTC)"));

        let (given, hold, status) = run(Ok((Decision::Held { by: "bob".into() }, URL.into())));
        assert_eq!(given, None);
        assert_eq!(hold, Some(Hold::ApprovalHeld { by: "bob".into(), url: URL.into() }));
        assert_eq!(status.as_deref(), Some(format!("held: held by @bob on {URL}").as_str()));

        let (given, hold, status) = run(Ok((Decision::Awaiting, URL.into())));
        assert_eq!(given, None);
        assert_eq!(hold, Some(Hold::AwaitingApproval { url: Some(URL.into()), cause: None }));
        assert!(status.as_deref().unwrap_or_default().starts_with(&format!("held: awaiting approval on {URL}")), "{status:?}");

        let (given, hold, _) = run(Ok((Decision::Unknown { cause: "HTTP 502".into() }, URL.into())));
        assert_eq!(given, None);
        assert_eq!(hold, Some(Hold::AwaitingApproval { url: Some(URL.into()), cause: Some("HTTP 502".into()) }));

        let (given, hold, status) = run(Err("GitHub answered 401".into()));
        assert_eq!(given, None);
        assert_eq!(hold, Some(Hold::AwaitingApproval { url: None, cause: Some("GitHub answered 401".into()) }));
        assert!(status.as_deref().unwrap_or_default().ends_with("the approval state could not be read: GitHub answered 401"), "{status:?}");

        // Anything but an upgrade is left as it was.
        let mut rotate = with(up.clone(), |a| a.kind = ActionKind::RotateCertificates);
        let before = rotate.clone();
        assert_eq!(apply(&mut rotate, Ok((Decision::Held { by: "bob".into() }, URL.into()))), None);
        assert_eq!(rotate, before);
    }

    #[test]
    fn the_issue_opened_in_this_run_is_named_in_the_hold_of_each_upgrade_still_awaiting_approval() {
        let p = policy(GITHUB);
        let mut actions = planned(GITHUB);
        let i = actions.iter().position(|a| a.stage == Stage::Execute && matches!(a.kind, ActionKind::Upgrade { .. })).expect("an upgrade execute");
        let concern = actions[i].concern.clone();
        let others: Vec<Action> = actions.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, a)| a.clone()).collect();

        // No issue in this run: nothing changes.
        name_issues(&p, &mut actions, |_, _| None);
        assert_eq!(actions[i].hold, Some(AWAITING));

        name_issues(&p, &mut actions, |c, repo| (c == &concern && repo == "o/r").then(|| URL.to_string()));
        assert_eq!(actions[i].hold, Some(Hold::AwaitingApproval { url: Some(URL.into()), cause: None }));
        assert!(actions[i].summary.ends_with(&format!("held: {}", Hold::AwaitingApproval { url: Some(URL.into()), cause: None }.describe())), "{}", actions[i].summary);
        let after: Vec<Action> = actions.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, a)| a.clone()).collect();
        assert_eq!(after, others, "only the upgrade awaiting a reading is touched");
    }

    #[test]
    fn a_merged_infrastructure_pull_request_holds_the_upgrade_and_says_so_in_its_summary() {
        let mut up = with(execute(GITHUB), |a| a.hold = None);
        let head = up.summary.rsplit_once(" — ").expect("a status part").0.to_string();
        let pr = "https://github.example/o/infra/pull/3";
        handled_by_iac(&mut up, pr.to_string());
        assert_eq!(up.hold, Some(Hold::HandledByIac { pr: pr.into() }));
        assert_eq!(up.summary, format!("{head} — held: handled through infrastructure code: {pr} is merged"));
    }

    #[test]
    fn the_issue_is_told_that_an_approved_upgrade_starts_in_the_open_window_and_by_whose_approval() {
        let actions = planned(GITHUB);
        let up = actions.iter().find(|a| a.stage == Stage::Execute && matches!(a.kind, ActionKind::Upgrade { .. })).expect("an upgrade execute");
        let told = actions.iter().find(|a| a.stage == Stage::Notice && matches!(a.kind, ActionKind::GithubIssue { .. })).expect("the issue notice");
        let at: Timestamp = "2026-11-29T09:30:00Z".parse().unwrap();
        let given = Approval { target: "1.30.7".into(), by: "alice".into(), at, via: Via::Comment, url: URL.into() };

        let e = echo(up, told, &given);
        assert_eq!(e.stage, Stage::Update);
        assert_eq!(e.concern, told.concern);
        assert_eq!(
            e.note.as_deref(),
            Some("Starting the upgrade to 1.30.7 in the window (open until 2026-11-29 13:00 UTC), approved by @alice at 2026-11-29 09:30 UTC (/approve comment).")
        );
        // A window not known as open (the cluster's own maintenance, say) is told as open now.
        let unknown = with(up.clone(), |a| a.window = None);
        let e = echo(&unknown, told, &Approval { via: Via::Label, ..given });
        assert_eq!(e.note.as_deref(), Some("Starting the upgrade to 1.30.7 in the window (open now), approved by @alice at 2026-11-29 09:30 UTC (label)."));
    }
}

// ---------------------------------------------------------------------------------------------
// policy/channels.rs (what AKS's own channels apply, and the command that sets a required one)
// ---------------------------------------------------------------------------------------------

mod channel_settings {
    use aks_cadence::domain::ClusterId;
    use aks_cadence::policy::channels::{ChannelSetting, ChannelTarget, NodeOsChannel, RequiredChannel, UpgradeChannel};
    use aks_cadence::policy::versions::MinorLine;

    #[test]
    fn what_an_aks_channel_upgrades_to_is_told_in_words() {
        let cases = [
            (ChannelTarget::LatestPatchOf(MinorLine::new(1, 30)), "the newest patch of 1.30"),
            (ChannelTarget::LatestNodeImage, "the newest node image"),
            (ChannelTarget::SecurityPatches, "AKS-tested security patches"),
            (ChannelTarget::OsPackages, "the OS's security packages"),
        ];
        for (target, words) in cases {
            assert_eq!(target.to_string(), words, "{target:?}");
        }
    }

    #[test]
    fn each_channel_setting_links_microsofts_page_about_it() {
        assert_eq!(ChannelSetting::Upgrade.doc(), "https://learn.microsoft.com/azure/aks/auto-upgrade-cluster");
        assert_eq!(ChannelSetting::NodeOs.doc(), "https://learn.microsoft.com/azure/aks/auto-upgrade-node-os-image");
    }

    #[test]
    fn the_command_that_sets_a_channel_quotes_only_the_names_a_shell_would_split_or_expand() {
        let plain = ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg-prod.weu_1", "aks-prod");
        assert_eq!(
            RequiredChannel::Upgrade(UpgradeChannel::Patch).command(&plain),
            "az aks update --subscription 00000000-0000-0000-0000-00000000a001 --resource-group rg-prod.weu_1 --name aks-prod --auto-upgrade-channel patch"
        );
        // Resource group names may hold parentheses, which a shell would read as a subshell.
        let odd = ClusterId::from_parts("00000000-0000-0000-0000-00000000a001", "rg(prod)", "aks-prod");
        assert_eq!(
            RequiredChannel::NodeOs(NodeOsChannel::SecurityPatch).command(&odd),
            "az aks update --subscription 00000000-0000-0000-0000-00000000a001 --resource-group 'rg(prod)' --name aks-prod --node-os-upgrade-channel SecurityPatch"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// policy/calendar.rs (the support calendar's two boundaries)
// ---------------------------------------------------------------------------------------------

mod support_calendar {
    use aks_cadence::policy::calendar::{STALE_AFTER_DAYS, SupportCalendar};
    use aks_cadence::policy::versions::MinorLine;
    use jiff::civil::Date;
    use serde_json::json;

    /// An endoflife.date release whose extended support ends the day its community support does
    /// has no long-term support; one that ends later has.
    #[test]
    fn extended_support_counts_as_long_term_support_only_when_it_ends_after_community_support() {
        let body = json!({"result": {"releases": [
            {"name": "1.30", "releaseDate": "2024-07-01", "eolFrom": "2025-07-31", "eoesFrom": "2026-07-31"},
            {"name": "1.31", "releaseDate": "2024-10-01", "eolFrom": "2025-11-30", "eoesFrom": "2025-11-30"},
        ]}});
        let calendar = SupportCalendar::from_endoflife(&body, "https://endoflife.date/api/v1/products/azure-kubernetes-service", Date::constant(2026, 1, 1)).unwrap();
        let lts = |minor: &str| calendar.get(MinorLine::parse(minor).unwrap()).unwrap().lts_end_of_life.map(|d| d.date);
        assert_eq!(lts("1.30"), Some(Date::constant(2026, 7, 31)));
        assert_eq!(lts("1.31"), None, "an extended support ending with community support is none");
    }

    /// `config check` notes a stale built-in calendar only when it is MORE than
    /// `STALE_AFTER_DAYS` days old, as the sweep's own staleness note does.
    #[test]
    fn the_built_in_calendar_is_stale_only_past_its_age_limit() {
        let calendar = SupportCalendar::embedded();
        let at_age = |days: i64| {
            let day = calendar.taken.checked_add(jiff::Span::new().days(days)).unwrap();
            jiff::tz::Offset::UTC.to_timestamp(day.at(12, 0, 0, 0)).unwrap()
        };
        let noted = |days: i64| calendar.config_lines(at_age(days), None).iter().any(|l| l.starts_with("note: the built-in support calendar is more than"));
        assert!(!noted(STALE_AFTER_DAYS), "exactly {STALE_AFTER_DAYS} days old is not stale");
        assert!(noted(STALE_AFTER_DAYS + 1));
        assert_eq!(calendar.age_days(at_age(STALE_AFTER_DAYS)), STALE_AFTER_DAYS);
    }
}

// ---------------------------------------------------------------------------------------------
// policy/mod.rs
// ---------------------------------------------------------------------------------------------

mod policy_rules {
    use aks_cadence::action::Stage;
    use aks_cadence::domain::{ConcernKind, OperationStatus, SignalKind};
    use aks_cadence::policy::channels::{ChannelSetting, NodeOsChannel, RequiredChannel, UpgradeChannel};
    use aks_cadence::policy::{Policy, Rule, StageRoute};

    fn rules(text: &str) -> Vec<Rule> {
        Policy::parse(text, "cadence.toml").unwrap_or_else(|e| panic!("{e:?}")).rules
    }

    fn rule(text: &str) -> Rule {
        rules(text).remove(0)
    }

    fn ending() -> SignalKind {
        SignalKind::SupportEnding { kubernetes_version: "1.29".into(), eol_date: None, support_type: None, eol_source: None }
    }

    fn offered() -> SignalKind {
        SignalKind::NewKubernetesVersion { latest_supported: Some("1.31.2".into()), latest_stable: None, lowest_minor: None, latest_preview: None }
    }

    fn operation(concern: ConcernKind) -> SignalKind {
        SignalKind::Operation { concern, target: "1.31.2".into(), status: OperationStatus::InProgress }
    }

    #[test]
    fn a_rule_listing_signals_hears_only_those_and_the_follow_ups_of_their_concerns() {
        let r = rule("[[rule]]\nname = \"support\"\nsignals = [\"support-ended\"]\nminor_within_days = 30\n");
        assert!(r.wants(&SignalKind::SupportEnded { kubernetes_version: "1.28".into() }));
        assert!(!r.wants(&ending()), "support-ending is not listed");
        assert!(!r.wants(&offered()), "an unlisted signal of another concern is not heard");
        // `operation` and `resolved` follow the concern: support-ended opens a support concern.
        assert!(r.wants(&operation(ConcernKind::Support)), "support-ended alone hears the support concern's operations");
        assert!(r.wants(&SignalKind::Resolved { concern: ConcernKind::Support, target: "1.30".into() }));
        assert!(!r.wants(&operation(ConcernKind::KubernetesUpgrade)), "not another concern's operations");

        let first = rule("[[rule]]\nname = \"ending\"\nsignals = [\"support-ending\"]\nminor_within_days = 30\n");
        assert!(first.wants(&operation(ConcernKind::Support)), "support-ending alone hears them too");
        let upgrades = rule("[[rule]]\nname = \"upgrades\"\nsignals = [\"upgrades-offered\"]\nminor_within_days = 30\n");
        assert!(upgrades.wants(&operation(ConcernKind::KubernetesUpgrade)));
        assert!(!upgrades.wants(&operation(ConcernKind::Support)));
        assert!(!upgrades.wants(&offered()), "new-kubernetes-version is a signal of its own");

        let every = rule("[[rule]]\nname = \"all\"\nminor_within_days = 30\n");
        assert!(every.wants(&offered()) && every.wants(&ending()) && every.wants(&operation(ConcernKind::NodeImage)));
    }

    #[test]
    fn a_stage_route_touches_the_issue_only_with_labels_or_assignees() {
        let labels = StageRoute { labels: vec!["overdue".into()], ..Default::default() };
        let assignees = StageRoute { assignees: vec!["platform-lead".into()], ..Default::default() };
        let mail = StageRoute { email: vec!["cto@contoso.example".into()], ..Default::default() };
        assert!(labels.touches_issue());
        assert!(assignees.touches_issue());
        assert!(!mail.touches_issue(), "mail alone leaves the issue as it is");
        assert!(!StageRoute::default().touches_issue());
    }

    #[test]
    fn a_rule_routes_only_the_stages_it_names_and_a_routed_chat_is_a_channel() {
        let r = rule(
            "[[rule]]\nname = \"escalate\"\n[[rule.overdue.chat]]\nkind = \"slack\"\nurl_setting = \"SLACK_INCIDENTS\"\n",
        );
        assert!(r.github_issue.is_none() && r.email.is_none() && r.chat.is_empty());
        assert!(r.has_channels(), "a chat on one stage is a channel");
        assert!(!r.sends_email());
        let overdue = r.route(Stage::Overdue).expect("the overdue stage is routed");
        assert_eq!(overdue.chat.len(), 1);
        assert_eq!(overdue.chat[0].url_setting, "SLACK_INCIDENTS");
        assert_eq!(r.route(Stage::Notice), None, "an unnamed stage has no route");
        assert_eq!(r.route(Stage::Reminder), None);

        let mail_only = rule("[[rule]]\nname = \"mail\"\n[rule.reminder]\nemail = [\"lead@contoso.example\"]\n");
        assert!(mail_only.has_channels() && mail_only.sends_email());
        assert_eq!(mail_only.route(Stage::Reminder).map(|r| r.email.clone()), Some(vec!["lead@contoso.example".to_string()]));

        let settings_only = rule("[[rule]]\nname = \"settings\"\nminor_within_days = 30\n");
        assert!(!settings_only.has_channels(), "a rule that only changes settings has no channel");
    }

    #[test]
    fn the_required_channels_are_the_ones_policy_sets() {
        let p = Policy::parse("[defaults]\nrequire_upgrade_channel = \"patch\"\nrequire_node_os_channel = \"SecurityPatch\"\n", "cadence.toml").unwrap();
        assert_eq!(p.defaults.required_channel(ChannelSetting::Upgrade), Some(RequiredChannel::Upgrade(UpgradeChannel::Patch)));
        assert_eq!(p.defaults.required_channel(ChannelSetting::NodeOs), Some(RequiredChannel::NodeOs(NodeOsChannel::SecurityPatch)));
        let none = Policy::builtin();
        assert_eq!(none.defaults.required_channel(ChannelSetting::Upgrade), None);
        assert_eq!(none.defaults.required_channel(ChannelSetting::NodeOs), None);
    }

    #[test]
    fn only_a_missing_policy_file_means_the_built_in_policy() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("cadence.toml");
        assert_eq!(Policy::load(&missing), Ok(None));
        assert!(Policy::load_or_builtin(&missing).unwrap().is_builtin());

        // A path that exists but cannot be read as a file is an error naming the setting.
        let errors = Policy::load(dir.path()).expect_err("a folder is not a policy file");
        assert!(errors[0].problem.contains("cannot be read") && errors[0].fix.contains("CADENCE_CONFIG"), "{errors:?}");
        assert!(Policy::load_or_builtin(dir.path()).is_err());

        let file = dir.path().join("policy.toml");
        std::fs::write(&file, "[[rule]]\nname = \"prod\"\nresource_groups = [\"rg-prod-*\"]\nminor_within_days = 30\n").unwrap();
        let loaded = Policy::load_or_builtin(&file).unwrap();
        assert!(!loaded.is_builtin());
        assert_eq!(loaded.source.as_deref(), Some(file.display().to_string().as_str()));
        assert_eq!(loaded.rules.len(), 1);
    }
}
