//! What a region offers (`…/locations/{l}/kubernetesVersions`) and what that means for a
//! cluster's support status. Pure: parsed once per region per sweep, then asked per cluster.
//!
//! AKS supports three GA minors (N, N-1, N-2) under `KubernetesOfficial`; the oldest leaves
//! support 30 days after a new minor goes GA, so a cluster on N-2 is told "support ending".
//! Clusters on `AKSLongTermSupport` keep an LTS-capable minor (the region lists `AKSLongTermSupport`
//! in that minor's `capabilities.supportPlan`) after it leaves the official window.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::domain::OfferedVersion;

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

/// One minor line a region offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinorVersion {
    pub minor: (u64, u64),
    pub is_preview: bool,
    pub is_default: bool,
    /// `capabilities.supportPlan`: `KubernetesOfficial`, `AKSLongTermSupport`.
    pub support_plans: Vec<String>,
    /// Patch version → the versions it may upgrade to.
    pub patches: BTreeMap<String, Vec<String>>,
}

impl MinorVersion {
    fn has_plan(&self, plan: &str) -> bool {
        self.support_plans.iter().any(|p| p.eq_ignore_ascii_case(plan))
    }
}

/// The versions a region offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionVersions {
    /// Newest minor first.
    pub minors: Vec<MinorVersion>,
}

/// A cluster's support status against its region's offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupportStatus {
    Supported,
    /// The cluster's minor is the next to leave support (`support_type` is the plan it is on).
    Ending { support_type: String },
    Ended,
    /// The version or the region's list could not be read.
    Unknown,
}

impl RegionVersions {
    /// Parses a `kubernetesVersions` response body (`{"values": [...]}`).
    pub fn from_arm(body: &Value) -> Self {
        let mut minors: Vec<MinorVersion> = body
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| {
                let minor = minor_of(v.get("version")?.as_str()?)?;
                let support_plans = v
                    .pointer("/capabilities/supportPlan")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let patches = v
                    .get("patchVersions")
                    .and_then(Value::as_object)
                    .map(|o| {
                        o.iter()
                            .map(|(k, p)| {
                                let ups = p
                                    .get("upgrades")
                                    .and_then(Value::as_array)
                                    .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_string)).collect())
                                    .unwrap_or_default();
                                (k.clone(), ups)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Some(MinorVersion {
                    minor,
                    is_preview: v.get("isPreview").and_then(Value::as_bool).unwrap_or(false),
                    is_default: v.get("isDefault").and_then(Value::as_bool).unwrap_or(false),
                    support_plans,
                    patches,
                })
            })
            .collect();
        minors.sort_by_key(|m| std::cmp::Reverse(m.minor));
        Self { minors }
    }

    /// Every patch version offered in the region (for the "target offered" gate).
    pub fn all_patch_versions(&self) -> Vec<String> {
        let mut v: Vec<String> = self.minors.iter().flat_map(|m| m.patches.keys().cloned()).collect();
        v.sort_by(|a, b| compare_versions(a, b));
        v
    }

    fn minor(&self, m: (u64, u64)) -> Option<&MinorVersion> {
        self.minors.iter().find(|x| x.minor == m)
    }

    /// The upgrades the region lists for `current` (the same table AKS builds a cluster's
    /// upgrade profile from), with preview flags from the target's minor.
    pub fn upgrades_from(&self, current: &str) -> Option<Vec<OfferedVersion>> {
        let m = self.minor(minor_of(current)?)?;
        let ups = m.patches.get(current.trim())?;
        Some(
            ups.iter()
                .map(|u| OfferedVersion {
                    version: u.clone(),
                    is_preview: minor_of(u).and_then(|x| self.minor(x)).is_some_and(|x| x.is_preview),
                })
                .collect(),
        )
    }

    /// Support status of a cluster on `current` with support plan `plan`.
    pub fn support_status(&self, current: &str, plan: Option<&str>) -> SupportStatus {
        let Some(cm) = minor_of(current) else { return SupportStatus::Unknown };
        let official: Vec<(u64, u64)> = self
            .minors
            .iter()
            .filter(|m| !m.is_preview && m.has_plan("KubernetesOfficial"))
            .map(|m| m.minor)
            .collect();
        let Some(newest) = official.first().copied() else { return SupportStatus::Unknown };
        let lts = plan.is_some_and(|p| p.eq_ignore_ascii_case("AKSLongTermSupport"));
        let lts_capable = |m: (u64, u64)| self.minor(m).is_some_and(|x| x.has_plan("AKSLongTermSupport"));
        if cm > newest {
            return SupportStatus::Supported;
        }
        let window: Vec<(u64, u64)> = official.iter().take(3).copied().collect();
        if window.contains(&cm) {
            let oldest = window.len() == 3 && window[2] == cm;
            return if oldest && !(lts && lts_capable(cm)) {
                SupportStatus::Ending { support_type: "KubernetesOfficial".into() }
            } else {
                SupportStatus::Supported
            };
        }
        if lts && lts_capable(cm) {
            let oldest_lts = self.minors.iter().filter(|m| m.has_plan("AKSLongTermSupport")).map(|m| m.minor).min();
            return if oldest_lts == Some(cm) {
                SupportStatus::Ending { support_type: "AKSLongTermSupport".into() }
            } else {
                SupportStatus::Supported
            };
        }
        SupportStatus::Ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> RegionVersions {
        let raw = include_str!("../../tests/fixtures/arm/kubernetes_versions_list.2025-10-01.json");
        let v: Value = serde_json::from_str(raw).unwrap();
        RegionVersions::from_arm(&v["responses"]["200"]["body"])
    }

    #[test]
    fn region_list_parses_newest_first_with_preview_flags() {
        let r = fixture();
        let minors: Vec<_> = r.minors.iter().map(|m| (minor_str(m.minor), m.is_preview)).collect();
        assert_eq!(minors, vec![("1.26".into(), true), ("1.25".into(), false), ("1.24".into(), false), ("1.23".into(), false)]);
        assert!(r.all_patch_versions().contains(&"1.24.9".to_string()));
    }

    #[test]
    fn support_status_follows_the_n_minus_2_window() {
        let r = fixture();
        let table = [
            ("1.26.0", None, SupportStatus::Supported),
            ("1.25.5", None, SupportStatus::Supported),
            ("1.24.6", None, SupportStatus::Supported),
            ("1.23.12", None, SupportStatus::Ending { support_type: "KubernetesOfficial".into() }),
            ("1.22.11", None, SupportStatus::Ended),
            ("1.9.6", Some("KubernetesOfficial"), SupportStatus::Ended),
            // LTS without an LTS-capable minor in the region does not help.
            ("1.22.11", Some("AKSLongTermSupport"), SupportStatus::Ended),
            ("garbage", None, SupportStatus::Unknown),
        ];
        for (v, plan, want) in table {
            assert_eq!(r.support_status(v, plan), want, "{v} {plan:?}");
        }
    }

    #[test]
    fn long_term_support_extends_an_lts_capable_minor() {
        let mut r = fixture();
        for m in r.minors.iter_mut() {
            if m.minor == (1, 23) {
                m.support_plans.push("AKSLongTermSupport".into());
            }
        }
        r.minors.push(MinorVersion {
            minor: (1, 21),
            is_preview: false,
            is_default: false,
            support_plans: vec!["AKSLongTermSupport".into()],
            patches: BTreeMap::new(),
        });
        assert_eq!(r.support_status("1.23.12", Some("AKSLongTermSupport")), SupportStatus::Supported);
        assert_eq!(r.support_status("1.21.3", Some("AKSLongTermSupport")), SupportStatus::Ending { support_type: "AKSLongTermSupport".into() });
        assert_eq!(r.support_status("1.21.3", Some("KubernetesOfficial")), SupportStatus::Ended);
    }

    #[test]
    fn upgrades_come_from_the_patch_table_with_preview_marks() {
        let r = fixture();
        let ups = r.upgrades_from("1.25.4").unwrap();
        assert_eq!(
            ups,
            vec![
                OfferedVersion { version: "1.25.5".into(), is_preview: false },
                OfferedVersion { version: "1.26.0".into(), is_preview: true }
            ]
        );
        assert!(r.upgrades_from("1.20.0").is_none());
    }

    #[test]
    fn versions_compare_numerically() {
        use std::cmp::Ordering::*;
        assert_eq!(compare_versions("1.30.10", "1.30.9"), Greater);
        assert_eq!(compare_versions("1.30", "1.30.0"), Less);
        assert_eq!(minor_of("v1.31.2"), Some((1, 31)));
    }
}
