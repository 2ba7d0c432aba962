//! The AKS security baseline: a catalogue of checks taken from the best-practice guide this
//! project grew from (`aks-security-best-practices.ja.md`), each evaluated against the
//! managed-cluster resource as ARM (or Resource Graph) returns it.
//!
//! Everything here is pure: a check reads JSON and facts handed to it and returns an
//! [`Outcome`]. Nothing here reads the network or changes a cluster — the baseline only
//! reports. `docs/baseline.md` lists every check with its source, property path and fix.
//!
//! **Absent versus not set.** ARM leaves out properties a cluster does not set, and a
//! Resource Graph projection turns those into `null`. The rule, applied by [`lookup`]:
//! - a key missing directly under the resource or under `properties` is **unknown** (the
//!   payload did not carry that section, so nothing is concluded — [`Outcome::Unknown`]);
//! - a key that is `null`, or missing inside an object that *is* present (for example
//!   `securityProfile` without `defender`), is **not set**: the documented ARM default applies.
//!
//! Layer: core: pure evaluation, no IO.

mod catalogue;
pub mod report;
pub mod subscription;

pub use catalogue::{CATALOGUE, Check, check, check_ids};
pub use subscription::{DefenderPlan, PricingTier, SubscriptionFacts};

use serde_json::Value;

/// How much a failing check matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub const NAMES: [&'static str; 3] = ["low", "medium", "high"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            _ => None,
        }
    }
}

/// The result of one check against one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// The cluster does not meet the check; `observed` says what was seen, in words.
    Fail {
        observed: String,
    },
    /// The check does not apply to this cluster (for example Azure RBAC without Entra ID).
    NotApplicable {
        reason: String,
    },
    /// A property the check needs is absent from the payload; nothing is concluded.
    Unknown {
        missing: Vec<String>,
    },
}

impl Outcome {
    fn fail(observed: impl Into<String>) -> Self {
        Self::Fail { observed: observed.into() }
    }

    pub fn is_fail(&self) -> bool {
        matches!(self, Self::Fail { .. })
    }

    /// One line for logs and plans.
    pub fn describe(&self) -> String {
        match self {
            Self::Pass => "pass".into(),
            Self::Fail { observed } => format!("fail: {observed}"),
            Self::NotApplicable { reason } => format!("not applicable: {reason}"),
            Self::Unknown { missing } => {
                format!("unknown: {} absent from the cluster payload", missing.join(", "))
            }
        }
    }
}

/// What the cluster payload says at one property path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lookup<'a> {
    /// The property has this (non-null) value.
    Value(&'a Value),
    /// The property is `null`, or absent inside an object that is present: the ARM default.
    NotSet,
    /// The payload does not carry the section at all (see the module docs).
    Missing,
}

impl<'a> Lookup<'a> {
    pub fn value(self) -> Option<&'a Value> {
        match self {
            Self::Value(v) => Some(v),
            _ => None,
        }
    }

    /// `Some(true)` only for a JSON `true`; `Some(false)` for `false` or not set.
    pub fn flag(self) -> Option<bool> {
        match self {
            Self::Value(v) => {
                Some(v.as_bool() == Some(true) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("true")))
            }
            Self::NotSet => Some(false),
            Self::Missing => None,
        }
    }

    /// The string value; `Some("")` when not set.
    pub fn text(self) -> Option<&'a str> {
        match self {
            Self::Value(v) => Some(v.as_str().unwrap_or("")),
            Self::NotSet => Some(""),
            Self::Missing => None,
        }
    }
}

/// Reads a dotted path (`properties.securityProfile.defender`) from a managed-cluster resource.
/// Object keys match ignoring ASCII case (Resource Graph lowercases some addon names).
pub fn lookup<'a>(resource: &'a Value, path: &str) -> Lookup<'a> {
    let mut cur = resource;
    for (depth, seg) in path.split('.').enumerate() {
        match cur {
            Value::Null => return Lookup::NotSet,
            Value::Object(map) => {
                let found =
                    map.get(seg).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(seg)).map(|(_, v)| v));
                match found {
                    Some(v) => cur = v,
                    // Directly under the resource, or directly under `properties`: unknown.
                    None if depth == 0 || (depth == 1 && path.starts_with("properties.")) => return Lookup::Missing,
                    None => return Lookup::NotSet,
                }
            }
            _ => return Lookup::NotSet,
        }
    }
    if cur.is_null() { Lookup::NotSet } else { Lookup::Value(cur) }
}

/// Facts a check may need beyond the cluster resource itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterContext {
    /// Names of the cluster's maintenance configurations (`None`: not read).
    pub maintenance_configurations: Option<Vec<String>>,
    /// The cluster's subscription's Defender for Containers plan (`None`: not read).
    pub defender_plan: Option<DefenderPlan>,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub check: &'static Check,
    pub outcome: Outcome,
}

/// Evaluates every check in the catalogue against a managed-cluster resource (the ARM GET
/// body or a Resource Graph row of the same shape: `properties`, `sku`, …).
pub fn evaluate_all(resource: &Value, context: &ClusterContext) -> Vec<Evaluation> {
    CATALOGUE.iter().map(|check| Evaluation { check, outcome: check.evaluate(resource, context) }).collect()
}

/// Where a check stands for one cluster once policy is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail {
        observed: String,
    },
    /// Failing, but accepted by a running exception.
    Excepted {
        observed: String,
        reason: String,
        expires: jiff::civil::Date,
    },
    /// Failing, and the exception that accepted it ran out: it counts as failing again.
    ExceptionExpired {
        observed: String,
        reason: String,
        expired: jiff::civil::Date,
    },
    NotApplicable {
        reason: String,
    },
    Unknown {
        missing: Vec<String>,
    },
}

impl Status {
    /// Whether the check counts as failing (a finding to report).
    pub fn is_failing(&self) -> bool {
        matches!(self, Self::Fail { .. } | Self::ExceptionExpired { .. })
    }

    /// One line for plans, issues and logs.
    pub fn describe(&self) -> String {
        match self {
            Self::Pass => "pass".into(),
            Self::Fail { observed } => format!("fail: {observed}"),
            Self::Excepted { observed, reason, expires } => {
                format!("excepted until {expires} ({reason}): {observed}")
            }
            Self::ExceptionExpired { observed, reason, expired } => {
                format!("fail: {observed} — the exception ({reason}) expired on {expired}")
            }
            Self::NotApplicable { reason } => format!("not applicable: {reason}"),
            Self::Unknown { missing } => format!("unknown: {} absent from the cluster payload", missing.join(", ")),
        }
    }
}

/// One check's result for one cluster under the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static Check,
    /// The check's severity after `[baseline.severity]`.
    pub severity: Severity,
    pub status: Status,
}

/// Evaluates the checks `policy` applies to one cluster and applies its severities and
/// exceptions. `today` is the UTC date (exceptions hold through their `expires` day).
pub fn assess(
    policy: &crate::policy::BaselinePolicy,
    cluster: &crate::domain::ClusterId,
    facts: &crate::domain::ClusterFacts,
    resource: &Value,
    context: &ClusterContext,
    today: jiff::civil::Date,
) -> Vec<Finding> {
    CATALOGUE
        .iter()
        .filter(|c| policy.checks.contains(&c.id))
        .map(|check| {
            let status = match check.evaluate(resource, context) {
                Outcome::Pass => Status::Pass,
                Outcome::NotApplicable { reason } => Status::NotApplicable { reason },
                Outcome::Unknown { missing } => Status::Unknown { missing },
                Outcome::Fail { observed } => match policy.exception_for(check.id, cluster, facts, today) {
                    None => Status::Fail { observed },
                    Some(e) if e.expired_on(today) => {
                        Status::ExceptionExpired { observed, reason: e.reason.clone(), expired: e.expires }
                    }
                    Some(e) => Status::Excepted { observed, reason: e.reason.clone(), expires: e.expires },
                },
            };
            Finding { check, severity: policy.severity_of(check.id, check.severity), status }
        })
        .collect()
}

/// The dry-run line for one cluster: its score and every check that is not a plain pass.
/// The score counts checks that could be judged (pass, fail, excepted); unknown and
/// not-applicable checks are listed but not scored. Failing checks carry the concern name
/// (`baseline:<check>`) the planner will track them under, the fix and the doc link.
pub fn report_line(cluster: &crate::domain::ClusterId, findings: &[Finding]) -> Value {
    let judged =
        findings.iter().filter(|f| !matches!(f.status, Status::Unknown { .. } | Status::NotApplicable { .. })).count();
    let passed = findings.iter().filter(|f| f.status == Status::Pass).count();
    let item = |f: &Finding| {
        let mut v = serde_json::json!({
            "check": f.check.id,
            "severity": f.severity.as_str(),
            "status": f.status.describe(),
        });
        if f.status.is_failing() {
            v["concern"] = format!("baseline:{}", f.check.id).into();
            v["fix"] = f.check.fix_for(cluster).into();
            v["doc"] = f.check.doc.into();
        }
        v
    };
    let of = |pick: fn(&Status) -> bool| findings.iter().filter(|f| pick(&f.status)).map(item).collect::<Vec<_>>();
    serde_json::json!({
        "baseline": cluster.name(),
        "cluster": cluster.as_str(),
        "score": format!("{passed}/{judged}"),
        "failing": of(Status::is_failing),
        "excepted": of(|s| matches!(s, Status::Excepted { .. })),
        "unknown": of(|s| matches!(s, Status::Unknown { .. })),
        "not_applicable": of(|s| matches!(s, Status::NotApplicable { .. })),
    })
}
