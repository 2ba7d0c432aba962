//! Property tests: random maintenance windows against a brute-force reference that walks the
//! calendar minute by minute. The reference shares no code with `policy::windows`: it has its
//! own civil-date arithmetic (days since 1970), enumerates occurrences by counting forward from
//! `startDate`, and decides open/closed per minute; open periods are maximal runs of open
//! minutes. Every boundary in a window (start times, offsets, blocked dates) falls on a whole
//! minute, so minute resolution is exact.

use aks_cadence::policy::windows::MaintenanceWindow;
use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{Value, json};

const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const WEEK_INDEXES: [&str; 5] = ["First", "Second", "Third", "Fourth", "Last"];
/// 2024-01-01 as days since 1970-01-01.
const T0_DAY: i64 = 19_723;
const RANGE_BEFORE_DAYS: i64 = 3;
const RANGE_AFTER_DAYS: i64 = 130;

// ---- independent civil calendar (H. Hinnant's algorithms) ----------------------------------

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)
}

/// Monday = 0 (1970-01-01 was a Thursday).
fn weekday(day: i64) -> i64 {
    (day + 3).rem_euclid(7)
}

fn date_string(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

// ---- the generated window and its reference -------------------------------------------------

#[derive(Debug, Clone)]
enum Kind {
    Daily,
    Weekly { dow: i64 },
    Absolute { dom: i64 },
    Relative { index: usize, dow: i64 },
}

#[derive(Debug, Clone)]
struct Spec {
    kind: Kind,
    interval: i64,
    duration_hours: i64,
    offset_minutes: i64,
    start_minute_of_day: i64,
    start_day: Option<i64>,
    blocked_days: Vec<(i64, i64)>,
}

impl Spec {
    fn to_json(&self) -> Value {
        let schedule = match &self.kind {
            Kind::Daily => json!({"daily": {"intervalDays": self.interval}}),
            Kind::Weekly { dow } => json!({"weekly": {"intervalWeeks": self.interval, "dayOfWeek": WEEKDAYS[*dow as usize]}}),
            Kind::Absolute { dom } => json!({"absoluteMonthly": {"intervalMonths": self.interval, "dayOfMonth": dom}}),
            Kind::Relative { index, dow } => json!({"relativeMonthly": {
                "intervalMonths": self.interval, "weekIndex": WEEK_INDEXES[*index], "dayOfWeek": WEEKDAYS[*dow as usize]
            }}),
        };
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let off = self.offset_minutes.abs();
        let mut v = json!({
            "schedule": schedule,
            "durationHours": self.duration_hours,
            "utcOffset": format!("{sign}{:02}:{:02}", off / 60, off % 60),
            "startTime": format!("{:02}:{:02}", self.start_minute_of_day / 60, self.start_minute_of_day % 60),
            "notAllowedDates": self.blocked_days.iter().map(|(s, e)| json!({"start": date_string(*s), "end": date_string(*e)})).collect::<Vec<_>>(),
        });
        if let Some(d) = self.start_day {
            v["startDate"] = json!(date_string(d));
        }
        v
    }

    /// Occurrence start days (local), counted forward from `startDate`.
    fn occurrence_days(&self, until_day: i64) -> Vec<i64> {
        let first = self.start_day.unwrap_or(T0_DAY - RANGE_BEFORE_DAYS - 3);
        let mut out = Vec::new();
        let mut matches_seen = 0i64;
        let mut anchor_month: Option<i64> = None;
        for day in first..=until_day {
            let (y, m, d) = civil_from_days(day);
            let month_no = y * 12 + m - 1;
            let hit = match self.kind {
                Kind::Daily => (day - first) % self.interval == 0,
                Kind::Weekly { dow } => {
                    if weekday(day) != dow {
                        false
                    } else {
                        matches_seen += 1;
                        (matches_seen - 1) % self.interval == 0
                    }
                }
                Kind::Absolute { dom } => {
                    d == dom && {
                        let a = *anchor_month.get_or_insert(month_no);
                        (month_no - a) % self.interval == 0
                    }
                }
                Kind::Relative { index, dow } => {
                    let same: Vec<i64> = (1..=days_in_month(y, m))
                        .filter(|dd| weekday(days_from_civil(y, m, *dd)) == dow)
                        .collect();
                    let target = if index == 4 { *same.last().unwrap() } else { same[index] };
                    d == target && {
                        let a = *anchor_month.get_or_insert(month_no);
                        (month_no - a) % self.interval == 0
                    }
                }
            };
            if hit {
                out.push(day);
            }
        }
        out
    }

    /// Open minutes between `lo` and `hi` (UTC minutes since 1970) as maximal runs `[start, end)`
    /// in seconds.
    fn reference_runs(&self, lo: i64, hi: i64) -> Vec<(i64, i64)> {
        let off = self.offset_minutes;
        let occurrences: Vec<(i64, i64)> = self
            .occurrence_days(hi / 1440 + 2)
            .into_iter()
            .map(|day| {
                let s = day * 1440 + self.start_minute_of_day - off;
                (s, s + self.duration_hours * 60)
            })
            .collect();
        let blocked: Vec<(i64, i64)> =
            self.blocked_days.iter().map(|&(s, e)| (s * 1440 - off, (e + 1) * 1440 - off)).collect();
        // Coverage counts per minute from +1/-1 marks (a difference array), for speed.
        let len = (hi - lo) as usize;
        let mark = |spans: &[(i64, i64)]| {
            let mut diff = vec![0i32; len + 1];
            for &(s, e) in spans {
                let (s, e) = (s.clamp(lo, hi), e.clamp(lo, hi));
                if s < e {
                    diff[(s - lo) as usize] += 1;
                    diff[(e - lo) as usize] -= 1;
                }
            }
            let mut depth = 0;
            diff.iter().take(len).map(|d| {
                depth += d;
                depth > 0
            }).collect::<Vec<bool>>()
        };
        let in_occurrence = mark(&occurrences);
        let in_blocked = mark(&blocked);
        let mut runs = Vec::new();
        let mut current: Option<i64> = None;
        for minute in lo..hi {
            let i = (minute - lo) as usize;
            let open = in_occurrence[i] && !in_blocked[i];
            match (open, current) {
                (true, None) => current = Some(minute),
                (false, Some(start)) => {
                    runs.push((start * 60, minute * 60));
                    current = None;
                }
                _ => {}
            }
        }
        if let Some(start) = current {
            runs.push((start * 60, hi * 60));
        }
        runs
    }
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    let kind = prop_oneof![
        Just(Kind::Daily),
        (0i64..7).prop_map(|dow| Kind::Weekly { dow }),
        (1i64..=31).prop_map(|dom| Kind::Absolute { dom }),
        (0usize..5, 0i64..7).prop_map(|(index, dow)| Kind::Relative { index, dow }),
    ];
    let offsets = prop_oneof![
        Just(-720i64),
        Just(-420),
        Just(-210),
        Just(0),
        Just(330),
        Just(345),
        Just(570),
        Just(840),
        (-48i64..=56).prop_map(|q| q * 15),
    ];
    (
        kind,
        1i64..=7,
        4i64..=24,
        offsets,
        0i64..1440,
        proptest::option::weighted(0.85, -400i64..=40),
        proptest::collection::vec((-10i64..=120, 0i64..=10), 0..=3),
    )
        .prop_map(|(kind, interval, duration_hours, offset_minutes, start_minute_of_day, start, blocked)| {
            let max = match kind {
                Kind::Daily => 7,
                Kind::Weekly { .. } => 4,
                _ => 6,
            };
            let start_day = start.map(|s| T0_DAY + s);
            // Without a start date there is nothing to count an interval from: AKS rejects it.
            let interval = if start_day.is_none() { 1 } else { (interval - 1) % max + 1 };
            let blocked_days = blocked.into_iter().map(|(s, len)| (T0_DAY + s, T0_DAY + s + len)).collect();
            Spec { kind, interval, duration_hours, offset_minutes, start_minute_of_day, start_day, blocked_days }
        })
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

/// Compares `open_at` and `next_open_after` with the reference runs at `t`. Runs cut by the
/// edges of the walked range are only known partly: there the implementation must agree with
/// what is known and may extend beyond it.
fn compare(window: &MaintenanceWindow, runs: &[(i64, i64)], lo: i64, hi: i64, t: i64) -> Result<(), TestCaseError> {
    let margin = 2 * 86_400;
    let got_open = window.open_at(at(t));
    match runs.iter().find(|&&(s, e)| s <= t && t < e) {
        None => prop_assert_eq!(got_open, None, "open_at({}) should be closed", at(t)),
        Some(&(s, e)) => {
            let (gs, ge) = got_open.ok_or_else(|| TestCaseError::fail(format!("open_at({}) should be open {s}..{e}", at(t))))?;
            if s > lo + margin {
                prop_assert_eq!(gs, at(s), "start of the period at {}", at(t));
            } else {
                prop_assert!(gs <= at(s));
            }
            if e < hi - margin {
                prop_assert_eq!(ge, at(e), "end of the period at {}", at(t));
            } else {
                prop_assert!(ge >= at(e));
            }
        }
    }
    let got_next = window.next_open_after(at(t));
    match runs.iter().find(|&&(s, _)| s > t) {
        Some(&(s, e)) if e < hi - margin => prop_assert_eq!(got_next, Some((at(s), at(e))), "next after {}", at(t)),
        Some(&(s, _)) => prop_assert_eq!(got_next.map(|p| p.0), Some(at(s)), "next after {}", at(t)),
        None => prop_assert!(got_next.is_none_or(|(s, _)| s >= at(hi - margin)), "next after {}: {:?}", at(t), got_next),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn recurring_windows_agree_with_a_minute_by_minute_reference(spec in spec_strategy(), probes in proptest::collection::vec(0i64..(RANGE_AFTER_DAYS * 86_400), 24)) {
        let window = MaintenanceWindow::from_arm_json(&spec.to_json()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let lo_min = (T0_DAY - RANGE_BEFORE_DAYS) * 1440;
        let hi_min = (T0_DAY + RANGE_AFTER_DAYS) * 1440;
        let runs = spec.reference_runs(lo_min, hi_min);
        let (lo, hi) = (lo_min * 60, hi_min * 60);
        let mut points: Vec<i64> = probes.iter().map(|p| T0_DAY * 86_400 + p).collect();
        for &(s, e) in &runs {
            points.extend([s - 60, s - 1, s, s + 1, e - 1, e, e + 59]);
        }
        for t in points.into_iter().filter(|&t| t > lo + 86_400 && t < hi - 86_400) {
            compare(&window, &runs, lo, hi, t)?;
        }
    }

    #[test]
    fn legacy_hour_slots_agree_with_a_minute_by_minute_reference(
        masks in proptest::collection::vec(prop_oneof![Just(0u32), 0u32..(1 << 24)], 7),
        blocked in proptest::collection::vec((0i64..(40 * 1440), 0i64..(3 * 1440)), 0..=3),
        probes in proptest::collection::vec(0i64..(40 * 86_400), 24),
    ) {
        let time_in_week: Vec<Value> = masks.iter().enumerate().map(|(d, m)| {
            json!({"day": WEEKDAYS[d], "hourSlots": (0..24).filter(|h| m & (1 << h) != 0).collect::<Vec<u32>>()})
        }).collect();
        let t0 = T0_DAY * 1440;
        let blocked_minutes: Vec<(i64, i64)> = blocked.iter().map(|&(s, len)| (t0 + s, t0 + s + len)).collect();
        let not_allowed: Vec<Value> = blocked_minutes.iter().map(|&(s, e)| json!({"start": at(s * 60).to_string(), "end": at(e * 60).to_string()})).collect();
        let window = MaintenanceWindow::from_arm_resource(&json!({"properties": {"timeInWeek": time_in_week, "notAllowedTime": not_allowed}}))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;

        let (lo_min, hi_min) = (t0 - 3 * 1440, t0 + 50 * 1440);
        let mut runs = Vec::new();
        let mut current = None;
        for minute in lo_min..hi_min {
            let day = minute.div_euclid(1440);
            let hour = minute.rem_euclid(1440) / 60;
            let open = masks[weekday(day) as usize] & (1 << hour) != 0
                && !blocked_minutes.iter().any(|&(s, e)| s <= minute && minute < e);
            match (open, current) {
                (true, None) => current = Some(minute),
                (false, Some(start)) => { runs.push((start * 60, minute * 60)); current = None; }
                _ => {}
            }
        }
        if let Some(start) = current { runs.push((start * 60, hi_min * 60)); }
        let (lo, hi) = (lo_min * 60, hi_min * 60);
        let mut points: Vec<i64> = probes.iter().map(|p| t0 * 60 + p).collect();
        for &(s, e) in &runs { points.extend([s - 1, s, e - 1, e]); }
        for t in points.into_iter().filter(|&t| t > lo + 86_400 && t < hi - 86_400) {
            compare(&window, &runs, lo, hi, t)?;
        }
    }
}

#[test]
fn the_reference_calendar_agrees_with_known_dates() {
    // Guards the reference itself: 2024-01-01 (a Monday) and a leap day.
    assert_eq!(days_from_civil(2024, 1, 1), T0_DAY);
    assert_eq!(weekday(T0_DAY), 0);
    assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    assert_eq!(days_in_month(2024, 2), 29);
    assert_eq!(days_in_month(2023, 2), 28);
    assert_eq!(date_string(days_from_civil(1999, 12, 31) + 1), "2000-01-01");
}
