//! `[baseline]`: which security-baseline checks apply, their severities, and exceptions.
//!
//! ```toml
//! [baseline]
//! skip = ["uptime-sla"]                 # or checks = [...] to list the ones that apply
//!
//! within_days = 30                     # a failing check is due this many days after it began
//!
//! [baseline.severity]
//! controlled-egress = "medium"
//!
//! [[baseline.exception]]
//! checks = ["controlled-egress"]
//! resource_groups = ["rg-dev-*"]        # selectors as in [[rule]]: subscriptions,
//! tags = { env = "dev" }                # resource_groups, clusters, tags
//! reason = "dev clusters share the hub's load balancer egress"
//! expires = 2027-06-30
//! ```
//!
//! Parsed and validated with the rest of the file (`parse.rs`); the evaluation that uses it is
//! `crate::baseline::assess`.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::Selector;
use crate::baseline::Severity;
use crate::domain::{ClusterFacts, ClusterId};

/// The validated `[baseline]` section. Its presence turns the baseline on.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselinePolicy {
    /// The checks that apply, in catalogue order.
    pub checks: Vec<&'static str>,
    /// Severity overrides by check id.
    pub severity: BTreeMap<&'static str, Severity>,
    /// Days after a check begins failing before it is due (reminder, then overdue, like the
    /// other concerns' cadence); `within_days`, default [`BASELINE_WITHIN_DAYS`].
    pub within_days: u32,
    pub exceptions: Vec<BaselineException>,
}

/// The default `[baseline] within_days`.
pub const BASELINE_WITHIN_DAYS: u32 = 30;

/// One `[[baseline.exception]]`: the named checks are accepted as failing on the selected
/// clusters until the end of `expires` (UTC); after that they count as failing again.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineException {
    /// Line of the exception in the policy file.
    pub line: usize,
    pub checks: Vec<&'static str>,
    pub selector: Selector,
    pub reason: String,
    /// The last day the exception holds.
    pub expires: Date,
}

impl BaselineException {
    /// Whether this exception covers `check` on `cluster` (whatever the date).
    pub fn covers(&self, check: &str, cluster: &ClusterId, facts: &ClusterFacts) -> bool {
        self.checks.contains(&check) && self.selector.matches(cluster, facts)
    }

    /// Whether the exception has run out on `today` (it holds through its `expires` day).
    pub fn expired_on(&self, today: Date) -> bool {
        today > self.expires
    }
}

impl BaselinePolicy {
    /// The exception for `check` on `cluster`: the first one in file order that is still
    /// running, else the first expired one (so an expired exception is reported as such).
    pub fn exception_for(
        &self,
        check: &str,
        cluster: &ClusterId,
        facts: &ClusterFacts,
        today: Date,
    ) -> Option<&BaselineException> {
        let mut covering = self.exceptions.iter().filter(|e| e.covers(check, cluster, facts));
        let first = covering.next()?;
        if !first.expired_on(today) {
            return Some(first);
        }
        covering.find(|e| !e.expired_on(today)).or(Some(first))
    }

    /// The effective severity of `check` (the override, else `default`).
    pub fn severity_of(&self, check: &str, default: Severity) -> Severity {
        self.severity.get(check).copied().unwrap_or(default)
    }

    /// Exceptions that have run out on `today`, for `config check` to mention.
    pub fn expired(&self, today: Date) -> impl Iterator<Item = &BaselineException> {
        self.exceptions.iter().filter(move |e| e.expired_on(today))
    }
}
