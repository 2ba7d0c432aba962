//! What a region offers (`…/locations/{l}/kubernetesVersions`). Parsed once per region per
//! sweep; a cluster's support status is the one support model, [`versions::support_status`],
//! asked with the region's GA minors ([`RegionVersions::ga_minors`]).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::domain::OfferedVersion;
use crate::policy::versions::{
    self, AksVersion, COMMUNITY_SUPPORT_PLAN, LTS_SUPPORT_PLAN, MinorLine, RegionMinor, SupportStatus,
};

// The version-string helpers the sweep and the upgrade adapter share live in the core.
pub use crate::policy::versions::{compare_versions, minor_of, minor_str};

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

    /// The GA minors listed (previews left out), with their support plans, for the one
    /// support model ([`versions::support_status`]).
    pub fn ga_minors(&self) -> Vec<RegionMinor> {
        self.minors
            .iter()
            .filter(|m| !m.is_preview)
            .map(|m| RegionMinor {
                line: MinorLine::new(m.minor.0, m.minor.1),
                community: m.has_plan(COMMUNITY_SUPPORT_PLAN),
                lts: m.has_plan(LTS_SUPPORT_PLAN),
            })
            .collect()
    }

    /// Support status of a cluster on `current` with support plan `plan`; `Unknown` when the
    /// version does not parse.
    pub fn support_status(&self, current: &str, plan: Option<&str>) -> SupportStatus {
        match AksVersion::parse(current) {
            Ok(v) => versions::support_status(&v, &self.ga_minors(), versions::is_lts(plan)),
            Err(_) => SupportStatus::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::versions::SupportFinding;

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
            ("1.26.0", None, SupportFinding::Fine),
            ("1.25.5", None, SupportFinding::Fine),
            ("1.24.6", None, SupportFinding::Fine),
            ("1.23.12", None, SupportFinding::Ending { support_type: "KubernetesOfficial" }),
            ("1.22.11", None, SupportFinding::Ended),
            ("1.9.6", Some("KubernetesOfficial"), SupportFinding::Ended),
            // LTS without an LTS-capable minor in the region does not help.
            ("1.22.11", Some("AKSLongTermSupport"), SupportFinding::Ended),
            ("garbage", None, SupportFinding::Unknown),
        ];
        for (v, plan, want) in table {
            assert_eq!(r.support_status(v, plan).finding(), want, "{v} {plan:?}");
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
        assert_eq!(r.support_status("1.23.12", Some("AKSLongTermSupport")).finding(), SupportFinding::Fine);
        assert_eq!(r.support_status("1.21.3", Some("AKSLongTermSupport")).finding(), SupportFinding::Ending { support_type: "AKSLongTermSupport" });
        assert_eq!(r.support_status("1.21.3", Some("KubernetesOfficial")).finding(), SupportFinding::Ended);
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
