//! AKS Kubernetes versions: parsing, comparison, upgrade choice and support reasoning.
//!
//! AKS writes versions as `1.29` (a minor line, also accepted by ARM as "latest patch of 1.29")
//! or `1.29.2`; people and tools sometimes add a `v`. Comparison is semver's (a bare minor
//! sorts as `.0`).
//!
//! The rules encoded here (AKS "supported Kubernetes versions" and "long-term support"):
//! - a patch upgrade stays in the current minor; a minor upgrade goes to the **next** minor only
//!   (AKS refuses skipping minors on supported clusters). LTS clusters take the smallest minor
//!   step the cluster's upgrade profile offers (AKS decides which LTS-to-LTS jumps exist).
//! - preview versions are never chosen unless policy sets `include_preview`.
//! - AKS supports three GA minors, N, N-1 and N-2 (N = newest GA minor in the region). When a new
//!   minor arrives, the oldest keeps 30 days of grace (it is still listed by the region).
//! - LTS (`supportPlan: AKSLongTermSupport`) adds a year after community support for the minors
//!   the region lists as LTS-capable; without that data nothing is assumed.
//! - [`support_status`] is the one support model: sweeps report its [`SupportStatus::finding`].

use std::cmp::Ordering;
use std::fmt;

use crate::domain::OfferedVersion;

/// The `supportPlan` value that turns on long-term support.
pub const LTS_SUPPORT_PLAN: &str = "AKSLongTermSupport";

/// `supportPlan` of community (non-LTS) support.
pub const COMMUNITY_SUPPORT_PLAN: &str = "KubernetesOfficial";

/// A parsed AKS version. `patch` is `None` for a bare minor line (`1.29`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AksVersion {
    pub major: u64,
    pub minor: u64,
    pub patch: Option<u64>,
}

/// A minor line such as `1.29`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MinorLine {
    pub major: u64,
    pub minor: u64,
}

/// The largest number a version part may have. Kubernetes is at 1.3x; the bound keeps every
/// computation on versions (the next minor, minors behind) far from overflow, and a payload
/// carrying `1.18446744073709551615` is refused where it enters instead of wrapping later.
pub const MAX_VERSION_NUMBER: u64 = u32::MAX as u64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a Kubernetes version: {why}; expected MAJOR.MINOR or MAJOR.MINOR.PATCH, like 1.30 or 1.30.4")]
pub struct VersionError {
    pub input: String,
    pub why: String,
    /// The text has the shape of a version but a number is above [`MAX_VERSION_NUMBER`]: an
    /// untrusted payload, not a spelling aks-cadence does not know.
    pub out_of_range: bool,
}

impl AksVersion {
    /// Parses `1.29`, `1.29.2` or `v1.29.2` (surrounding spaces ignored). Pre-release or build
    /// suffixes are rejected: AKS does not use them.
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        let err = |why: &str| VersionError { input: input.to_string(), why: why.to_string(), out_of_range: false };
        let too_large = |p: &str| VersionError {
            input: input.to_string(),
            why: format!("`{p}` is out of range (a version number is at most {MAX_VERSION_NUMBER})"),
            out_of_range: true,
        };
        let s = input.trim();
        let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        let parts: Vec<&str> = s.split('.').collect();
        if parts.len() < 2 || parts.len() > 3 {
            return Err(err("it needs two or three dot-separated numbers"));
        }
        let num = |p: &str| -> Result<u64, VersionError> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(&format!("`{p}` is not a number")));
            }
            if p.len() > 1 && p.starts_with('0') {
                return Err(err(&format!("`{p}` has a leading zero")));
            }
            p.parse::<u64>().ok().filter(|n| *n <= MAX_VERSION_NUMBER).ok_or_else(|| too_large(p))
        };
        let major = num(parts[0])?;
        let minor = num(parts[1])?;
        let patch = parts.get(2).map(|p| num(p)).transpose()?;
        Ok(Self { major, minor, patch })
    }

    /// The semver form (`1.29` → `1.29.0`), used for ordering.
    pub fn to_semver(&self) -> semver::Version {
        semver::Version::new(self.major, self.minor, self.patch.unwrap_or(0))
    }

    pub fn minor_line(&self) -> MinorLine {
        MinorLine { major: self.major, minor: self.minor }
    }
}

impl fmt::Display for AksVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            Some(p) => write!(f, "{}.{}.{}", self.major, self.minor, p),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

impl PartialOrd for AksVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for AksVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        // semver order; a bare minor sorts before its `.0` only to keep the order total.
        self.to_semver().cmp(&other.to_semver()).then(self.patch.is_some().cmp(&other.patch.is_some()))
    }
}

impl MinorLine {
    pub fn new(major: u64, minor: u64) -> Self {
        Self { major, minor }
    }
    /// Parses `1.29` (a patch, if given, is dropped).
    pub fn parse(input: &str) -> Result<Self, VersionError> {
        AksVersion::parse(input).map(|v| v.minor_line())
    }
    /// The minor after this one; `None` when there is none to compute (a minor at `u64::MAX`,
    /// which only a line built by hand can have: parsed versions stop at [`MAX_VERSION_NUMBER`]).
    pub fn next(self) -> Option<Self> {
        Some(Self { major: self.major, minor: self.minor.checked_add(1)? })
    }
    /// How many minors `self` is behind `newer` (0 if not behind; majors never change in
    /// practice, a different major counts as far behind).
    pub fn minors_behind(self, newer: MinorLine) -> u64 {
        if self.major == newer.major {
            newer.minor.saturating_sub(self.minor)
        } else if self.major < newer.major {
            u64::MAX
        } else {
            0
        }
    }
}

impl fmt::Display for MinorLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What moving from one version to another is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeKind {
    /// Same minor, newer patch.
    Patch,
    /// Exactly the next minor.
    Minor,
    /// More than one minor ahead (AKS allows this only for LTS jumps or out-of-support clusters).
    SkipsMinors,
    /// Same or older: not an upgrade.
    None,
}

/// Classifies `current → target`.
pub fn classify(current: &AksVersion, target: &AksVersion) -> UpgradeKind {
    if target <= current || target.to_semver() <= current.to_semver() {
        return UpgradeKind::None;
    }
    let (c, t) = (current.minor_line(), target.minor_line());
    if c == t {
        UpgradeKind::Patch
    } else if c.next() == Some(t) {
        UpgradeKind::Minor
    } else {
        UpgradeKind::SkipsMinors
    }
}

/// The upgrades to recommend from `current`, given what AKS offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpgradeChoice {
    /// The newest offered patch of the current minor, if newer than `current`.
    pub patch: Option<AksVersion>,
    /// The newest offered patch of the next minor (non-LTS), or of the smallest offered minor
    /// step (LTS).
    pub minor: Option<AksVersion>,
}

/// Chooses the patch and minor upgrade from the offered versions (invalid strings are
/// ignored; previews only with `include_preview`).
pub fn upgrade_choice(
    current: &AksVersion,
    offered: &[OfferedVersion],
    include_preview: bool,
    lts: bool,
) -> UpgradeChoice {
    let candidates = offered
        .iter()
        .filter(|o| include_preview || !o.is_preview)
        .filter_map(|o| AksVersion::parse(&o.version).ok())
        .filter(|v| v.to_semver() > current.to_semver());
    let line = current.minor_line();
    let mut patch: Option<AksVersion> = None;
    let mut minor: Option<AksVersion> = None;
    let mut lts_step: Option<AksVersion> = None;
    for v in candidates {
        match classify(current, &v) {
            UpgradeKind::Patch if patch.as_ref().is_none_or(|p| v > *p) => patch = Some(v),
            UpgradeKind::Minor if minor.as_ref().is_none_or(|m| v > *m) => minor = Some(v),
            UpgradeKind::SkipsMinors if lts && v.major == line.major => {
                // Smallest minor step; within it, the newest patch.
                let better = match &lts_step {
                    None => true,
                    Some(s) => v.minor < s.minor || (v.minor == s.minor && v > *s),
                };
                if better {
                    lts_step = Some(v);
                }
            }
            _ => {}
        }
    }
    if minor.is_none() && lts {
        minor = lts_step;
    }
    UpgradeChoice { patch, minor }
}

/// One GA minor the region lists (`kubernetesVersions`), with its support plans
/// (`capabilities.supportPlan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionMinor {
    pub line: MinorLine,
    /// Listed with `KubernetesOfficial` (community support).
    pub community: bool,
    /// Listed with `AKSLongTermSupport`.
    pub lts: bool,
}

impl RegionMinor {
    /// A minor with community support only (the common case).
    pub fn community(line: MinorLine) -> Self {
        Self { line, community: true, lts: false }
    }
}

/// Where a version stands against the AKS support window. The one support model: sweeps
/// report it ([`SupportStatus::finding`]) and the table tests run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupportStatus {
    /// One of the three newest GA minors the region lists (N..N-2), or newer than all of them.
    /// `oldest` = it is N-2: the next to leave support, 30 days after the next minor arrives.
    Supported { newest: MinorLine, oldest: bool },
    /// Older than N-2 and still listed by the region: the 30-day grace after a new minor;
    /// support ends when the region stops listing it.
    LeavingSupport { newest: MinorLine },
    /// Past community support (or the oldest community minor) but covered by LTS: an LTS
    /// cluster on a minor the region lists with `AKSLongTermSupport`. `oldest_lts` = the oldest
    /// LTS minor the region lists: the next to leave long-term support.
    LongTermSupport { newest: MinorLine, oldest_lts: bool },
    /// Not supported: AKS allows a skip from an unsupported version only to the oldest
    /// supported minor, `oldest_supported`.
    OutOfSupport { newest: MinorLine, oldest_supported: MinorLine },
    /// The region listed no GA minor: nothing can be said.
    Unknown,
}

/// What a support status means for the people who own the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportFinding {
    /// Nothing to say.
    Fine,
    /// Support ends soon on this plan (`KubernetesOfficial` or `AKSLongTermSupport`).
    Ending { support_type: &'static str },
    /// Out of support.
    Ended,
    /// The region's list says nothing.
    Unknown,
}

impl SupportStatus {
    pub fn is_supported(&self) -> bool {
        matches!(self, Self::Supported { .. } | Self::LeavingSupport { .. } | Self::LongTermSupport { .. })
    }

    /// The finding a sweep reports: the oldest supported minor (N-2) and a minor in its grace
    /// period are "ending" on community support, the oldest LTS minor on LTS; past both,
    /// "ended".
    pub fn finding(&self) -> SupportFinding {
        match self {
            Self::Supported { oldest: true, .. } | Self::LeavingSupport { .. } => {
                SupportFinding::Ending { support_type: COMMUNITY_SUPPORT_PLAN }
            }
            Self::LongTermSupport { oldest_lts: true, .. } => SupportFinding::Ending { support_type: LTS_SUPPORT_PLAN },
            Self::Supported { oldest: false, .. } | Self::LongTermSupport { oldest_lts: false, .. } => SupportFinding::Fine,
            Self::OutOfSupport { .. } => SupportFinding::Ended,
            Self::Unknown => SupportFinding::Unknown,
        }
    }
}

/// The support status of `version` given the GA minors the region lists (previews excluded by
/// the caller). `cluster_lts` is `supportPlan == AKSLongTermSupport`. The window is the three
/// newest minors the region lists with community support (a gap in the list does not widen
/// it); LTS covers only a minor the region lists with `AKSLongTermSupport` — nothing is
/// assumed when the region says nothing.
pub fn support_status(version: &AksVersion, region: &[RegionMinor], cluster_lts: bool) -> SupportStatus {
    let mut community: Vec<MinorLine> = region.iter().filter(|m| m.community).map(|m| m.line).collect();
    community.sort_unstable_by(|a, b| b.cmp(a));
    community.dedup();
    let Some(&newest) = community.first() else {
        return SupportStatus::Unknown;
    };
    let line = version.minor_line();
    let lts_lines = || region.iter().filter(|m| m.lts).map(|m| m.line);
    let lts_covered = cluster_lts && lts_lines().any(|l| l == line);
    let lts_status = || SupportStatus::LongTermSupport { newest, oldest_lts: lts_lines().min() == Some(line) };
    if line > newest {
        return SupportStatus::Supported { newest, oldest: false };
    }
    let window = &community[..community.len().min(3)];
    if window.contains(&line) {
        let oldest = window.len() == 3 && window[2] == line;
        return if oldest && lts_covered { lts_status() } else { SupportStatus::Supported { newest, oldest } };
    }
    if lts_covered {
        return lts_status();
    }
    if community.contains(&line) {
        return SupportStatus::LeavingSupport { newest };
    }
    SupportStatus::OutOfSupport { newest, oldest_supported: *window.last().expect("the window holds newest") }
}

// Version strings as ARM writes them, for code that has a string and not an `AksVersion`
// (inventory rows, cluster bodies): the sweep and the upgrade adapter.

/// `major.minor` of a version string (`1.30.4` → (1, 30); `1.30` → (1, 30)).
pub fn minor_of(version: &str) -> Option<(u64, u64)> {
    let mut it = version.trim().trim_start_matches('v').split('.');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    Some((major, minor))
}

/// Formats a minor as AKS writes it (`1.30`).
pub fn minor_str(m: (u64, u64)) -> String {
    format!("{}.{}", m.0, m.1)
}

/// Orders two version strings (semver when both parse, else by their numeric dot parts).
pub fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    match (semver::Version::parse(a.trim()), semver::Version::parse(b.trim())) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => {
            let parts = |s: &str| -> Vec<u64> { s.trim().split('.').map(|p| p.parse().unwrap_or(0)).collect() };
            parts(a).cmp(&parts(b))
        }
    }
}

/// Whether `support_plan` (the cluster's `supportPlan`) is LTS.
pub fn is_lts(support_plan: Option<&str>) -> bool {
    support_plan.is_some_and(|p| p.eq_ignore_ascii_case(LTS_SUPPORT_PLAN))
}

/// Whether `target` is offered: an exact version must be listed; a bare minor line is offered
/// when any version of that minor is.
pub fn is_offered(target: &AksVersion, offered: &[String]) -> bool {
    offered.iter().filter_map(|o| AksVersion::parse(o).ok()).any(|o| match target.patch {
        Some(_) => o.to_semver() == target.to_semver(),
        None => o.minor_line() == target.minor_line(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> AksVersion {
        AksVersion::parse(s).unwrap()
    }
    fn offered(list: &[(&str, bool)]) -> Vec<OfferedVersion> {
        list.iter().map(|(v, p)| OfferedVersion { version: v.to_string(), is_preview: *p }).collect()
    }

    #[test]
    fn parses_minor_lines_patches_and_a_leading_v() {
        assert_eq!(v("1.29"), AksVersion { major: 1, minor: 29, patch: None });
        assert_eq!(v("1.29.2"), AksVersion { major: 1, minor: 29, patch: Some(2) });
        assert_eq!(v("v1.29.2"), v("1.29.2"));
        assert_eq!(v(" 1.30.10 ").to_string(), "1.30.10");
        for bad in ["", "1", "1.2.3.4", "1.x", "1.29.2-rc.1", "01.2", "v"] {
            assert!(AksVersion::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn numbers_beyond_the_version_range_are_out_of_range_not_wrapped() {
        let max = MAX_VERSION_NUMBER.to_string();
        assert_eq!(v(&format!("{max}.{max}.{max}")).minor_line().next(), Some(MinorLine::new(MAX_VERSION_NUMBER, MAX_VERSION_NUMBER + 1)));
        for (input, out_of_range) in [
            ("1.18446744073709551615", true),
            ("1.18446744073709551616", true),
            ("1.4294967296", true),
            ("4294967296.1", true),
            ("1.30.99999999999999999999999", true),
            ("1.x", false),
            ("1.-1", false),
        ] {
            let e = AksVersion::parse(input).expect_err(input);
            assert_eq!(e.out_of_range, out_of_range, "{input}: {e}");
            if out_of_range {
                assert!(e.to_string().contains("out of range"), "{e}");
            }
        }
        assert_eq!(MinorLine::new(1, u64::MAX).next(), None);
        assert_eq!(MinorLine::new(1, 30).next(), Some(MinorLine::new(1, 31)));
        // Comparing against a line with no successor classifies instead of overflowing.
        let top = AksVersion { major: 1, minor: u64::MAX, patch: Some(0) };
        assert_eq!(classify(&top, &AksVersion { major: 2, minor: 0, patch: Some(0) }), UpgradeKind::SkipsMinors);
    }

    #[test]
    fn compares_with_semver_not_as_strings() {
        assert!(v("1.30.10") > v("1.30.9"));
        assert!(v("1.100.0") > v("1.99.9"));
        assert!(v("1.30") < v("1.30.1"));
        assert_eq!(classify(&v("1.30.4"), &v("1.30.7")), UpgradeKind::Patch);
        assert_eq!(classify(&v("1.30.4"), &v("1.31.1")), UpgradeKind::Minor);
        assert_eq!(classify(&v("1.30.4"), &v("1.32.0")), UpgradeKind::SkipsMinors);
        assert_eq!(classify(&v("1.30.4"), &v("1.30.4")), UpgradeKind::None);
        assert_eq!(classify(&v("1.30.4"), &v("1.29.9")), UpgradeKind::None);
    }

    #[test]
    fn upgrade_choice_takes_newest_patch_and_only_the_next_minor() {
        let o =
            offered(&[("1.29.9", false), ("1.29.11", false), ("1.30.3", false), ("1.30.7", false), ("1.31.2", false)]);
        let c = upgrade_choice(&v("1.29.4"), &o, false, false);
        assert_eq!(c.patch, Some(v("1.29.11")));
        assert_eq!(c.minor, Some(v("1.30.7")), "never skips to 1.31");
    }

    #[test]
    fn upgrade_choice_never_skips_a_minor_even_when_only_a_later_one_is_offered() {
        let o = offered(&[("1.31.2", false)]);
        assert_eq!(upgrade_choice(&v("1.29.4"), &o, false, false), UpgradeChoice::default());
    }

    #[test]
    fn upgrade_choice_excludes_previews_unless_asked() {
        let o = offered(&[("1.29.5", true), ("1.30.0", true)]);
        assert_eq!(upgrade_choice(&v("1.29.4"), &o, false, false), UpgradeChoice::default());
        let c = upgrade_choice(&v("1.29.4"), &o, true, false);
        assert_eq!(c.patch, Some(v("1.29.5")));
        assert_eq!(c.minor, Some(v("1.30.0")));
    }

    #[test]
    fn lts_clusters_take_the_smallest_minor_step_offered() {
        let o = offered(&[("1.30.5", false), ("1.31.1", false)]);
        let c = upgrade_choice(&v("1.27.100"), &o, false, true);
        assert_eq!(c.minor, Some(v("1.30.5")));
        let c = upgrade_choice(&v("1.27.100"), &o, false, false);
        assert_eq!(c.minor, None);
    }

    fn community(lines: &[&str]) -> Vec<RegionMinor> {
        lines.iter().map(|m| RegionMinor::community(MinorLine::parse(m).unwrap())).collect()
    }

    #[test]
    fn support_window_is_the_three_newest_listed_minors() {
        let region = community(&["1.31", "1.32", "1.33"]);
        let newest = MinorLine::new(1, 33);
        assert_eq!(support_status(&v("1.34.0"), &region, false), SupportStatus::Supported { newest, oldest: false }, "newer than the region's newest GA (a preview)");
        assert_eq!(support_status(&v("1.33.1"), &region, false), SupportStatus::Supported { newest, oldest: false });
        assert_eq!(support_status(&v("1.32.1"), &region, false), SupportStatus::Supported { newest, oldest: false });
        assert_eq!(support_status(&v("1.31.1"), &region, false), SupportStatus::Supported { newest, oldest: true });
        assert_eq!(
            support_status(&v("1.30.9"), &region, false),
            SupportStatus::OutOfSupport { newest, oldest_supported: MinorLine::new(1, 31) }
        );
        assert_eq!(support_status(&v("1.30.9"), &[], false), SupportStatus::Unknown);
        // A gap in the list does not widen the window.
        let gap = community(&["1.29", "1.31", "1.33"]);
        assert_eq!(support_status(&v("1.29.2"), &gap, false), SupportStatus::Supported { newest, oldest: true });
    }

    #[test]
    fn the_oldest_minor_keeps_a_grace_period_while_the_region_lists_it() {
        let region = community(&["1.30", "1.31", "1.32", "1.33"]);
        assert_eq!(support_status(&v("1.30.9"), &region, false), SupportStatus::LeavingSupport { newest: MinorLine::new(1, 33) });
        assert!(!support_status(&v("1.29.9"), &region, false).is_supported());
    }

    #[test]
    fn lts_adds_support_only_for_minors_the_region_lists_with_lts() {
        let mut region = community(&["1.31", "1.32", "1.33"]);
        region.push(RegionMinor { line: MinorLine::new(1, 30), community: false, lts: true });
        region.push(RegionMinor { line: MinorLine::new(1, 27), community: false, lts: true });
        let newest = MinorLine::new(1, 33);
        assert_eq!(support_status(&v("1.30.9"), &region, true), SupportStatus::LongTermSupport { newest, oldest_lts: false });
        assert_eq!(support_status(&v("1.27.3"), &region, true), SupportStatus::LongTermSupport { newest, oldest_lts: true });
        // The same version without the LTS plan is out of support.
        assert!(!support_status(&v("1.30.9"), &region, false).is_supported());
        // 1.29 is not LTS-capable here; and a region without LTS data covers nothing.
        assert!(!support_status(&v("1.29.9"), &region, true).is_supported());
        assert!(!support_status(&v("1.28.1"), &community(&["1.31", "1.32", "1.33"]), true).is_supported());
    }

    #[test]
    fn findings_tell_early_of_the_next_minor_to_leave_and_of_the_end() {
        let mut region = community(&["1.30", "1.31", "1.32", "1.33"]);
        region.push(RegionMinor { line: MinorLine::new(1, 27), community: false, lts: true });
        region.push(RegionMinor { line: MinorLine::new(1, 31), community: true, lts: true });
        let finding = |ver: &str, lts: bool| support_status(&v(ver), &region, lts).finding();
        let ending = SupportFinding::Ending { support_type: "KubernetesOfficial" };
        let table = [
            ("1.33.0", false, SupportFinding::Fine),
            ("1.32.0", false, SupportFinding::Fine),
            ("1.31.0", false, ending),
            ("1.31.0", true, SupportFinding::Fine),
            ("1.30.0", false, ending),
            ("1.29.0", false, SupportFinding::Ended),
            ("1.27.5", true, SupportFinding::Ending { support_type: "AKSLongTermSupport" }),
            ("1.27.5", false, SupportFinding::Ended),
        ];
        for (ver, lts, want) in table {
            assert_eq!(finding(ver, lts), want, "{ver} lts={lts}");
        }
        assert_eq!(support_status(&v("1.30.0"), &[], false).finding(), SupportFinding::Unknown);
    }

    #[test]
    fn lts_is_read_from_the_support_plan() {
        assert!(is_lts(Some("AKSLongTermSupport")));
        assert!(!is_lts(Some("KubernetesOfficial")));
        assert!(!is_lts(None));
    }

    #[test]
    fn offered_accepts_minor_lines_and_exact_versions() {
        let list = vec!["1.30.7".to_string(), "1.31.1".to_string()];
        assert!(is_offered(&v("1.30.7"), &list));
        assert!(!is_offered(&v("1.30.8"), &list));
        assert!(!is_offered(&v("1.30.6"), &list), "an older patch is not offered because a newer one is");
        assert!(is_offered(&v("1.31"), &list));
        assert!(!is_offered(&v("1.32"), &list));
    }
}
