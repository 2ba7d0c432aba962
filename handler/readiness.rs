//! Readiness before an upgrade is due: what makes AKS upgrades fail in practice, checked from
//! facts a sweep read, and said before the window rather than after (pure: no IO).
//!
//! Three checks, each giving the numbers (needed vs available):
//!
//! - **surge settings** per pool (`upgradeSettings.maxSurge`, `maxUnavailable`,
//!   `drainTimeoutInMinutes`, `nodeSoakDurationInMinutes`, `undrainableNodeBehavior`) against
//!   the thresholds of policy `[readiness]`;
//! - **regional vCPU quota** for the surge nodes (Compute usages of the subscription in the
//!   region: `cores`, and the VM family's own counter when its name can be derived from the
//!   size);
//! - **subnet IP headroom** for the surge nodes, in every subnet whose addresses the nodes (and,
//!   with Azure CNI without overlay, their pods) take.
//!
//! AKS surges every pool of an upgrade: "a cluster with five node pools of four nodes each and a
//! max surge of 50% needs compute and IP quota for 10 more nodes (2 nodes × 5 pools)"
//! (<https://learn.microsoft.com/azure/aks/upgrade-aks-node-pools-rolling>). So a Kubernetes
//! version upgrade needs the sum over its pools; a node image upgrade only its own pool.
//!
//! A reading that failed (403 for a role without the action, an API error) is
//! [`Reading::Unknown`] with its cause; policy decides whether unknown holds a change
//! ([`ReadinessPolicy::hold_when_unknown`], default: report, do not hold).
//!
//! [`likely_causes`] classifies AKS's own answers when an operation fails (deprecated API
//! usage, drain blocked by a PodDisruptionBudget, quota, subnet) into a cause, the fix and the
//! doc link; failed-operation reports and the auto-upgrade watchdog both use it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[readiness]` in the policy file (see docs/policy.md). The defaults check quota and subnet
/// headroom, apply no surge thresholds beyond what AKS itself needs, and never hold on unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadinessPolicy {
    /// `enabled` (default true): false turns every check off (nothing held, nothing reported).
    pub enabled: bool,
    /// `hold_when_unknown` (default false): whether a check that could not be read holds
    /// aks-cadence's own upgrade (it is reported either way).
    pub hold_when_unknown: bool,
    /// `min_surge_nodes` (default 0 = no check): the least number of surge nodes a pool's
    /// `maxSurge` must give (`maxSurge = "0"` with `maxUnavailable` upgrades in place: no
    /// spare capacity while nodes drain).
    pub min_surge_nodes: u32,
    /// `min_drain_timeout_minutes` (default 0 = no check): the least `drainTimeoutInMinutes`
    /// (AKS's default when unset: 30).
    pub min_drain_timeout_minutes: u32,
    /// `max_node_soak_minutes` (default 0 = no check): the most `nodeSoakDurationInMinutes`.
    pub max_node_soak_minutes: u32,
    /// `undrainable_node_behavior` (default none): the value every pool must have
    /// (`"Cordon"` quarantines a node a PodDisruptionBudget keeps from draining instead of
    /// failing the upgrade).
    pub undrainable_node_behavior: Option<String>,
    /// `check_quota` (default true): regional vCPU quota headroom for the surge nodes.
    pub check_quota: bool,
    /// `check_subnet` (default true): subnet IP headroom for the surge nodes.
    pub check_subnet: bool,
}

impl Default for ReadinessPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            hold_when_unknown: false,
            min_surge_nodes: 0,
            min_drain_timeout_minutes: 0,
            max_node_soak_minutes: 0,
            undrainable_node_behavior: None,
            check_quota: true,
            check_subnet: true,
        }
    }
}

/// AKS's values when a pool's `upgradeSettings` leaves a field out (the AgentPoolUpgradeSettings
/// reference: maxSurge 10%, maxUnavailable 0, drain timeout 30 minutes, no soak).
pub const DEFAULT_MAX_SURGE: &str = "10%";
pub const DEFAULT_DRAIN_TIMEOUT_MINUTES: u32 = 30;

/// A value read from Azure, or why it could not be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reading<T> {
    Known(T),
    /// The cause, ready to show ("Compute usages in westeurope: 403 AuthorizationFailed …").
    Unknown(String),
}

/// One usage counter: `currentValue` of `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub current: i64,
    pub limit: i64,
}

impl Usage {
    /// What is left; `None` when Azure reports no limit (`-1`).
    pub fn available(&self) -> Option<i64> {
        (self.limit >= 0 && self.current >= 0).then(|| (self.limit - self.current).max(0))
    }
}

/// One agent pool's upgrade-relevant settings, as the inventory carried them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSurge {
    pub name: String,
    /// Nodes now (`count`).
    pub count: u32,
    pub vm_size: Option<String>,
    pub max_surge: Option<String>,
    pub max_unavailable: Option<String>,
    pub drain_timeout_minutes: Option<u32>,
    pub node_soak_minutes: Option<u32>,
    pub undrainable_node_behavior: Option<String>,
    /// `vnetSubnetID`, when the cluster brings its own subnet.
    pub node_subnet: Option<String>,
    /// Addresses one node takes in `node_subnet`: 1, or 1 + `maxPods` with Azure CNI without
    /// overlay and without a pod subnet (pods take node-subnet addresses).
    pub node_subnet_ips_per_node: u32,
    /// `podSubnetID`, when pods take addresses from a subnet of their own.
    pub pod_subnet: Option<String>,
    /// Addresses one node's pods take in `pod_subnet` (`maxPods`).
    pub pod_subnet_ips_per_node: u32,
}

/// What a sweep read for one cluster's readiness.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessFacts {
    pub pools: Vec<PoolSurge>,
    /// The region's Compute usages by counter name (`name.value`, e.g. `cores`,
    /// `standardDSv3Family`); `None` when not read (quota check off, or no pool needs it).
    pub quota: Option<Reading<BTreeMap<String, Usage>>>,
    /// Each subnet the pools use (its id as the pool names it) → its usage.
    pub subnets: BTreeMap<String, Reading<Usage>>,
    /// Why some part could not be assessed (no VM size, a managed VNet), for the report.
    pub notes: Vec<String>,
}

/// Which upgrade is being assessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// A Kubernetes version upgrade: every pool surges.
    AllPools,
    /// A node image upgrade of one pool.
    Pool(&'a str),
}

/// One readiness failure, with the numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Problem {
    /// A pool's upgrade setting is outside the policy threshold.
    Surge {
        pool: String,
        setting: String,
        needed: String,
        actual: String,
    },
    /// Not enough regional vCPU quota for the surge nodes.
    Quota {
        counter: String,
        needed: i64,
        available: i64,
    },
    /// Not enough free addresses in a subnet for the surge nodes.
    Subnet {
        subnet: String,
        needed: i64,
        available: i64,
    },
}

impl Problem {
    /// One line, numbers first.
    pub fn describe(&self) -> String {
        match self {
            Self::Surge {
                pool,
                setting,
                needed,
                actual,
            } => format!("pool {pool}: {setting} is {actual}, policy needs {needed}"),
            Self::Quota {
                counter,
                needed,
                available,
            } => {
                format!(
                    "vCPU quota {counter}: the surge nodes need {needed}, {available} available"
                )
            }
            Self::Subnet {
                subnet,
                needed,
                available,
            } => {
                format!(
                    "subnet {}: the surge nodes need {needed} IP addresses, {available} available",
                    short_id(subnet)
                )
            }
        }
    }
}

/// The readiness of one upgrade.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assessment {
    pub problems: Vec<Problem>,
    /// Checks that could not be read, each naming its cause.
    pub unknown: Vec<String>,
}

impl Assessment {
    pub fn is_ready(&self) -> bool {
        self.problems.is_empty() && self.unknown.is_empty()
    }

    /// Whether this assessment holds aks-cadence's own upgrade under `policy`.
    pub fn holds(&self, policy: &ReadinessPolicy) -> bool {
        !self.problems.is_empty() || (policy.hold_when_unknown && !self.unknown.is_empty())
    }

    /// The line for the concern's issue (`None` when ready).
    pub fn summary(&self) -> Option<String> {
        if self.is_ready() {
            return None;
        }
        let mut parts: Vec<String> = self.problems.iter().map(Problem::describe).collect();
        parts.extend(self.unknown.iter().map(|u| format!("unknown: {u}")));
        Some(format!("readiness: {}", parts.join("; ")))
    }
}

/// Surge nodes `max_surge` gives for a pool of `count` nodes: an integer is nodes, a
/// percentage of the pool rounded up ("fractional nodes are rounded up"). `None` when it is
/// neither.
pub fn surge_nodes(max_surge: &str, count: u32) -> Option<u32> {
    let v = max_surge.trim();
    if let Some(p) = v.strip_suffix('%') {
        let p: u64 = p.trim().parse().ok()?;
        return Some(((u64::from(count) * p).div_ceil(100)).min(u64::from(u32::MAX)) as u32);
    }
    v.parse().ok()
}

/// vCPUs of a VM size, from its name (`Standard_D4s_v3` → 4, `Standard_E8-4ds_v5` → 8: quota
/// counts a constrained-vCPU size at its parent's vCPUs). `None` when the name has no number.
pub fn vcpus_of(vm_size: &str) -> Option<u32> {
    let rest = vm_size.split_once('_').map_or(vm_size, |(_, r)| r);
    let start = rest.find(|c: char| c.is_ascii_digit())?;
    let digits: String = rest[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|n| *n > 0)
}

/// The Compute usage counter of a VM size's family, as ARM names it: `Standard_D4s_v3` →
/// `standardDSv3Family`, `Standard_D4ads_v5` → `standardDADSv5Family`, `Standard_NC6s_v3` →
/// `standardNCSv3Family`, `Standard_B2ms` → `standardBSFamily`. A best effort from the naming
/// convention: when the usages have no counter of that name, only `cores` is checked.
pub fn family_counter(vm_size: &str) -> Option<String> {
    let (tier, rest) = vm_size.split_once('_')?;
    if !tier.eq_ignore_ascii_case("standard") {
        return None;
    }
    let (name, version) = match rest.split_once('_') {
        Some((n, v)) => (n, v),
        None => (rest, ""),
    };
    let start = name.find(|c: char| c.is_ascii_digit())?;
    let family = &name[..start];
    // Feature letters after the vCPU count (and a constrained count, `8-4`) that name a family
    // counter (a, b, d, l, p, s, i); `m` (memory), `r` (RDMA), `t` (tiny), digits and the rest
    // do not.
    let features: String = name[start..]
        .chars()
        .filter(|c| "abdlpsi".contains(c.to_ascii_lowercase()))
        .collect();
    if family.is_empty() || !family.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let version = version.to_ascii_lowercase();
    Some(format!(
        "standard{}{}{}Family",
        family.to_ascii_uppercase(),
        features.to_ascii_uppercase(),
        version
    ))
}

/// The last segment of an ARM id (a subnet's `vnet/subnets/name` reads better than its id).
fn short_id(id: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    match parts
        .iter()
        .rposition(|p| p.eq_ignore_ascii_case("virtualNetworks"))
    {
        Some(i) if i + 3 < parts.len() => format!("{}/{}", parts[i + 1], parts[i + 3]),
        _ => id.to_string(),
    }
}

/// The surge nodes of one pool (maxSurge resolved; AKS's 10% when unset). An unreadable
/// `maxSurge` is treated as AKS's default and noted.
fn pool_surge(pool: &PoolSurge, notes: &mut Vec<String>) -> u32 {
    let raw = pool
        .max_surge
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(DEFAULT_MAX_SURGE);
    surge_nodes(raw, pool.count).unwrap_or_else(|| {
        notes.push(format!("pool {}: maxSurge {raw:?} is not a number or a percentage; AKS's default {DEFAULT_MAX_SURGE} assumed", pool.name));
        surge_nodes(DEFAULT_MAX_SURGE, pool.count).unwrap_or(1)
    })
}

/// Assesses the upgrade of `scope` against `policy` with the facts a sweep read.
pub fn assess(policy: &ReadinessPolicy, facts: &ReadinessFacts, scope: Scope<'_>) -> Assessment {
    let mut out = Assessment::default();
    if !policy.enabled {
        return out;
    }
    let pools: Vec<&PoolSurge> = facts
        .pools
        .iter()
        .filter(|p| match scope {
            Scope::AllPools => true,
            Scope::Pool(name) => p.name.eq_ignore_ascii_case(name),
        })
        .collect();
    let mut notes = Vec::new();
    let surges: Vec<(&PoolSurge, u32)> = pools
        .iter()
        .map(|p| (*p, pool_surge(p, &mut notes)))
        .collect();

    // Surge settings against the thresholds.
    for (p, surge) in &surges {
        // A threshold of 0 (the default) is no check: no count is under 0.
        if *surge < policy.min_surge_nodes {
            out.problems.push(Problem::Surge {
                pool: p.name.clone(),
                setting: "maxSurge".into(),
                needed: format!("at least {} surge node(s)", policy.min_surge_nodes),
                actual: format!(
                    "{} ({surge} node(s) of {})",
                    p.max_surge.as_deref().unwrap_or("unset: 10%"),
                    p.count
                ),
            });
        }
        let drain = p
            .drain_timeout_minutes
            .unwrap_or(DEFAULT_DRAIN_TIMEOUT_MINUTES);
        if drain < policy.min_drain_timeout_minutes {
            out.problems.push(Problem::Surge {
                pool: p.name.clone(),
                setting: "drainTimeoutInMinutes".into(),
                needed: format!("at least {} minutes", policy.min_drain_timeout_minutes),
                actual: format!("{drain} minutes"),
            });
        }
        let soak = p.node_soak_minutes.unwrap_or(0);
        if policy.max_node_soak_minutes > 0 && soak > policy.max_node_soak_minutes {
            out.problems.push(Problem::Surge {
                pool: p.name.clone(),
                setting: "nodeSoakDurationInMinutes".into(),
                needed: format!("at most {} minutes", policy.max_node_soak_minutes),
                actual: format!("{soak} minutes"),
            });
        }
        if let Some(want) = &policy.undrainable_node_behavior {
            let have = p.undrainable_node_behavior.as_deref().unwrap_or("Schedule");
            if !have.eq_ignore_ascii_case(want) {
                out.problems.push(Problem::Surge {
                    pool: p.name.clone(),
                    setting: "undrainableNodeBehavior".into(),
                    needed: format!("\"{want}\""),
                    actual: format!(
                        "\"{have}\"{}",
                        if p.undrainable_node_behavior.is_none() {
                            " (unset)"
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
    }

    // Regional vCPU quota: `cores`, and each family's own counter when ARM has one by the name.
    if policy.check_quota && surges.iter().any(|(_, s)| *s > 0) {
        match &facts.quota {
            None => {}
            Some(Reading::Unknown(cause)) => out.unknown.push(format!("vCPU quota: {cause}")),
            Some(Reading::Known(usages)) => {
                let mut total: i64 = 0;
                let mut by_family: BTreeMap<String, i64> = BTreeMap::new();
                for (p, surge) in surges.iter().filter(|(_, s)| *s > 0) {
                    let Some(size) = p.vm_size.as_deref() else {
                        out.unknown.push(format!(
                            "vCPU quota: pool {} has no VM size in inventory",
                            p.name
                        ));
                        continue;
                    };
                    let Some(vcpus) = vcpus_of(size) else {
                        out.unknown.push(format!(
                            "vCPU quota: the vCPUs of {size} (pool {}) are not known",
                            p.name
                        ));
                        continue;
                    };
                    let need = i64::from(*surge) * i64::from(vcpus);
                    total += need;
                    if let Some(counter) = family_counter(size).filter(|c| usages.contains_key(c)) {
                        *by_family.entry(counter).or_default() += need;
                    }
                }
                let mut check = |counter: &str, needed: i64| match usages
                    .get(counter)
                    .and_then(Usage::available)
                {
                    Some(available) if needed > available => {
                        out.problems.push(Problem::Quota {
                            counter: counter.to_string(),
                            needed,
                            available,
                        });
                    }
                    Some(_) => {}
                    None if counter == "cores" => out
                        .unknown
                        .push("vCPU quota: the usages have no `cores` counter".into()),
                    None => {}
                };
                if total > 0 {
                    check("cores", total);
                }
                for (counter, needed) in &by_family {
                    check(counter, *needed);
                }
            }
        }
    }

    // Subnet IP headroom: every subnet the surge nodes (and their pods) take addresses from.
    if policy.check_subnet {
        let mut needed: BTreeMap<&str, i64> = BTreeMap::new();
        for (p, surge) in &surges {
            if let Some(s) = &p.node_subnet {
                *needed.entry(s.as_str()).or_default() +=
                    i64::from(*surge) * i64::from(p.node_subnet_ips_per_node.max(1));
            }
            if let Some(s) = &p.pod_subnet {
                *needed.entry(s.as_str()).or_default() +=
                    i64::from(*surge) * i64::from(p.pod_subnet_ips_per_node);
            }
        }
        for (subnet, need) in needed.into_iter().filter(|(_, n)| *n > 0) {
            match facts.subnets.get(subnet) {
                None => {}
                Some(Reading::Unknown(cause)) => out
                    .unknown
                    .push(format!("subnet {}: {cause}", short_id(subnet))),
                Some(Reading::Known(u)) => match u.available() {
                    Some(available) if need > available => {
                        out.problems.push(Problem::Subnet {
                            subnet: subnet.to_string(),
                            needed: need,
                            available,
                        });
                    }
                    Some(_) => {}
                    None => out.unknown.push(format!(
                        "subnet {}: Azure reports no size for it",
                        short_id(subnet)
                    )),
                },
            }
        }
    }
    out.unknown.extend(notes);
    out
}

/// What kind of obstacle an AKS error names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CauseKind {
    /// The target minor removes APIs the cluster used in the last 12 hours.
    DeprecatedApiUsage,
    /// A node could not be drained (a PodDisruptionBudget allows no eviction, a pod does not stop).
    DrainBlocked,
    /// Not enough vCPU (or other) quota for the surge nodes.
    Quota,
    /// No free addresses in the subnet for the surge nodes (or their pods).
    SubnetFull,
    /// Azure had no capacity for the VM size (in a zone).
    Capacity,
    /// The cluster is stopped.
    ClusterStopped,
}

/// A likely cause of a failed (or missing) upgrade: what, how to fix it, where it is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cause {
    pub kind: CauseKind,
    pub title: &'static str,
    pub fix: &'static str,
    pub doc: &'static str,
}

impl Cause {
    /// "cause — fix (doc)".
    pub fn describe(&self) -> String {
        format!("{} — {} ({})", self.title, self.fix, self.doc)
    }
}

const DEPRECATED_API: Cause = Cause {
    kind: CauseKind::DeprecatedApiUsage,
    title: "AKS stopped the upgrade: the cluster used APIs the target version removes (UpgradeBlockedOnDeprecatedAPIUsage)",
    fix: "move the clients named in the error off the deprecated APIs (Diagnose and solve problems → Kubernetes API deprecations), wait 12 hours for the usage record to expire, then upgrade again",
    doc: "https://learn.microsoft.com/azure/aks/stop-cluster-upgrade-api-breaking-changes#mitigate-stopped-upgrade-operations",
};
const DRAIN: Cause = Cause {
    kind: CauseKind::DrainBlocked,
    title: "a node could not be drained (PodDrainFailure / UnsatisfiablePDB: a PodDisruptionBudget allows no eviction, or a pod does not terminate)",
    fix: "find the PodDisruptionBudgets with ALLOWED DISRUPTIONS 0 (`kubectl get pdb -A`) and relax them or add replicas; consider undrainableNodeBehavior = Cordon and a longer drainTimeoutInMinutes",
    doc: "https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/error-code-poddrainfailure",
};
const QUOTA: Cause = Cause {
    kind: CauseKind::Quota,
    title: "not enough quota for the surge nodes (QuotaExceeded / insufficient vCPU quota)",
    fix: "request more regional and VM-family vCPU quota for the region (Quotas in the portal, `az vm list-usage --location <region>`), or lower maxSurge",
    doc: "https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/error-code-quotaexceeded",
};
const SUBNET: Cause = Cause {
    kind: CauseKind::SubnetFull,
    title: "the subnet has no free addresses for the surge nodes (SubnetIsFull / InsufficientSubnetSize)",
    fix: "lower maxSurge (or use maxUnavailable instead), free addresses in the subnet, or move the pool to a larger subnet; Azure CNI Overlay stops pods taking subnet addresses",
    doc: "https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/error-code-subnetisfull",
};
const CAPACITY: Cause = Cause {
    kind: CauseKind::Capacity,
    title: "Azure had no capacity for the VM size (AllocationFailed / ZonalAllocationFailed)",
    fix: "retry later, lower maxSurge, or use another VM size or zone for the pool",
    doc: "https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/error-codes/zonalallocation-allocationfailed-error",
};
const STOPPED: Cause = Cause {
    kind: CauseKind::ClusterStopped,
    title: "the cluster is stopped: AKS upgrades only running clusters",
    fix: "start the cluster (`az aks start`) before its window, or accept that the upgrade waits",
    doc: "https://learn.microsoft.com/azure/aks/start-stop-cluster",
};

/// Every cause [`likely_causes`] can name, for a watchdog that has no error to classify ("the
/// auto-upgrade did not happen": any of these may be why).
pub const ALL_CAUSES: [Cause; 6] = [DEPRECATED_API, DRAIN, QUOTA, SUBNET, CAPACITY, STOPPED];

/// AKS's answer to a failed operation (the error `code`, with any `subcode` or inner codes
/// folded into `message` by the caller, and the message) → the likely causes, most specific
/// first. Empty when nothing known matches. Matching is case-insensitive on codes and on the
/// phrases AKS puts in messages.
pub fn likely_causes(code: &str, message: &str) -> Vec<Cause> {
    let text = format!("{code} {message}").to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    let mut out = Vec::new();
    if has(&[
        "upgradeblockedondeprecatedapiusage",
        "deprecated api",
        "usage has been detected on api",
    ]) {
        out.push(DEPRECATED_API);
    }
    if has(&[
        "poddrainfailure",
        "unsatisfiablepdb",
        "drain",
        "evict",
        "disruption budget",
        "toomanyevictionfailures",
    ]) {
        out.push(DRAIN);
    }
    if has(&[
        "quotaexceeded",
        "insufficientvcpuquota",
        "operation could not be completed as it results in exceeding approved",
        "quota",
        "publicipcountlimitreached",
    ]) {
        out.push(QUOTA);
    }
    if has(&[
        "subnetisfull",
        "insufficientsubnetsize",
        "enough capacity for ip addresses",
        "subnet is full",
        "no available ip",
    ]) {
        out.push(SUBNET);
    }
    if has(&[
        "allocationfailed",
        "zonalallocationfailed",
        "skunotavailable",
        "overconstrainedallocationrequest",
    ]) {
        out.push(CAPACITY);
    }
    if has(&[
        "cluster is stopped",
        "stopped state",
        "powerstate is stopped",
        "managed cluster is in stopped",
    ]) {
        out.push(STOPPED);
    }
    out
}

/// A likely cause of an auto-upgrade that did not happen, with what the cluster showed of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspect {
    pub cause: Cause,
    /// What the last sweep saw that points at it (`None`: only possible, nothing seen).
    pub seen: Option<String>,
}

/// The likely causes of a change an AKS channel should have applied and did not (the
/// watchdog), most likely first: those the cluster shows evidence of — the readiness problems of
/// the upgrade (`assessment`: quota, subnet, surge settings) and its power state — then every
/// other cause AKS's errors can name ([`ALL_CAUSES`]), each once. Pure.
pub fn watchdog_suspects(assessment: Option<&Assessment>, power_state: Option<&str>) -> Vec<Suspect> {
    let mut seen: Vec<(CauseKind, String)> = Vec::new();
    if power_state.is_some_and(|p| p.eq_ignore_ascii_case("Stopped")) {
        seen.push((CauseKind::ClusterStopped, "powerState Stopped".to_string()));
    }
    for problem in assessment.map(|a| a.problems.as_slice()).unwrap_or_default() {
        let kind = match problem {
            Problem::Quota { .. } => CauseKind::Quota,
            Problem::Subnet { .. } => CauseKind::SubnetFull,
            Problem::Surge { .. } => CauseKind::DrainBlocked,
        };
        seen.push((kind, problem.describe()));
    }
    let mut out: Vec<Suspect> = Vec::new();
    for (kind, evidence) in seen {
        match out.iter_mut().find(|s| s.cause.kind == kind) {
            Some(s) => {
                let joined = format!("{}; {evidence}", s.seen.take().unwrap_or_default());
                s.seen = Some(joined);
            }
            None => {
                let cause = ALL_CAUSES.into_iter().find(|c| c.kind == kind).expect("every kind has a cause");
                out.push(Suspect { cause, seen: Some(evidence) });
            }
        }
    }
    for cause in ALL_CAUSES {
        if !out.iter().any(|s| s.cause.kind == cause.kind) {
            out.push(Suspect { cause, seen: None });
        }
    }
    out
}

/// The line a failed-operation report adds: the first likely cause with its fix and link, or
/// `None` when AKS's answer names nothing known.
pub fn explain_failure(code: &str, message: &str) -> Option<String> {
    likely_causes(code, message)
        .first()
        .map(|c| format!("likely cause: {}", c.describe()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(name: &str, count: u32, surge: Option<&str>) -> PoolSurge {
        PoolSurge {
            name: name.into(),
            count,
            vm_size: Some("Standard_D4s_v3".into()),
            max_surge: surge.map(str::to_string),
            node_subnet_ips_per_node: 1,
            ..Default::default()
        }
    }

    fn usages(entries: &[(&str, i64, i64)]) -> Option<Reading<BTreeMap<String, Usage>>> {
        Some(Reading::Known(
            entries
                .iter()
                .map(|(n, c, l)| {
                    (
                        n.to_string(),
                        Usage {
                            current: *c,
                            limit: *l,
                        },
                    )
                })
                .collect(),
        ))
    }

    #[test]
    fn surge_resolves_integers_and_rounds_percentages_up() {
        let table = [
            ("1", 3, Some(1)),
            ("0", 3, Some(0)),
            ("33%", 3, Some(1)),
            ("33%", 10, Some(4)),
            ("10%", 3, Some(1)),
            ("100%", 5, Some(5)),
            ("50%", 0, Some(0)),
            ("x", 3, None),
            ("", 3, None),
        ];
        for (v, count, want) in table {
            assert_eq!(surge_nodes(v, count), want, "{v} of {count}");
        }
    }

    #[test]
    fn vm_sizes_give_vcpus_and_family_counters() {
        let table = [
            ("Standard_D4s_v3", Some(4), Some("standardDSv3Family")),
            ("Standard_DS2_v2", Some(2), Some("standardDSv2Family")),
            ("Standard_D4ads_v5", Some(4), Some("standardDADSv5Family")),
            ("Standard_NC6s_v3", Some(6), Some("standardNCSv3Family")),
            ("Standard_B2ms", Some(2), Some("standardBSFamily")),
            ("Standard_E8-4ds_v5", Some(8), Some("standardEDSv5Family")),
            ("Standard_F16s_v2", Some(16), Some("standardFSv2Family")),
            ("Basic_A1", Some(1), None),
            ("custom", None, None),
        ];
        for (size, vcpus, family) in table {
            assert_eq!(vcpus_of(size), vcpus, "{size}");
            assert_eq!(family_counter(size).as_deref(), family, "{size}");
        }
    }

    #[test]
    fn thresholds_table() {
        struct Case {
            name: &'static str,
            policy: ReadinessPolicy,
            pool: PoolSurge,
            want: Vec<&'static str>,
        }
        let base = ReadinessPolicy::default();
        let cases = [
            Case {
                name: "defaults check no setting",
                policy: base.clone(),
                pool: pool("p", 3, Some("0")),
                want: vec![],
            },
            Case {
                name: "in-place upgrade below min surge",
                policy: ReadinessPolicy {
                    min_surge_nodes: 1,
                    ..base.clone()
                },
                pool: PoolSurge {
                    max_unavailable: Some("1".into()),
                    ..pool("p", 3, Some("0"))
                },
                want: vec!["maxSurge"],
            },
            Case {
                name: "unset surge is 10% rounded up",
                policy: ReadinessPolicy {
                    min_surge_nodes: 1,
                    ..base.clone()
                },
                pool: pool("p", 3, None),
                want: vec![],
            },
            Case {
                name: "unset surge below two",
                policy: ReadinessPolicy {
                    min_surge_nodes: 2,
                    ..base.clone()
                },
                pool: pool("p", 3, None),
                want: vec!["maxSurge"],
            },
            Case {
                name: "short drain timeout",
                policy: ReadinessPolicy {
                    min_drain_timeout_minutes: 30,
                    ..base.clone()
                },
                pool: PoolSurge {
                    drain_timeout_minutes: Some(5),
                    ..pool("p", 3, Some("1"))
                },
                want: vec!["drainTimeoutInMinutes"],
            },
            Case {
                name: "unset drain timeout is AKS's 30",
                policy: ReadinessPolicy {
                    min_drain_timeout_minutes: 30,
                    ..base.clone()
                },
                pool: pool("p", 3, Some("1")),
                want: vec![],
            },
            Case {
                name: "long soak",
                policy: ReadinessPolicy {
                    max_node_soak_minutes: 10,
                    ..base.clone()
                },
                pool: PoolSurge {
                    node_soak_minutes: Some(30),
                    ..pool("p", 3, Some("1"))
                },
                want: vec!["nodeSoakDurationInMinutes"],
            },
            Case {
                name: "undrainable behaviour unset is Schedule",
                policy: ReadinessPolicy {
                    undrainable_node_behavior: Some("Cordon".into()),
                    ..base.clone()
                },
                pool: pool("p", 3, Some("1")),
                want: vec!["undrainableNodeBehavior"],
            },
            Case {
                name: "undrainable behaviour matches case-insensitively",
                policy: ReadinessPolicy {
                    undrainable_node_behavior: Some("Cordon".into()),
                    ..base.clone()
                },
                pool: PoolSurge {
                    undrainable_node_behavior: Some("cordon".into()),
                    ..pool("p", 3, Some("1"))
                },
                want: vec![],
            },
            Case {
                name: "disabled checks nothing",
                policy: ReadinessPolicy {
                    enabled: false,
                    min_surge_nodes: 5,
                    ..base.clone()
                },
                pool: pool("p", 3, Some("0")),
                want: vec![],
            },
        ];
        for c in cases {
            let facts = ReadinessFacts {
                pools: vec![c.pool],
                ..Default::default()
            };
            let got: Vec<String> = assess(&c.policy, &facts, Scope::AllPools)
                .problems
                .into_iter()
                .map(|p| match p {
                    Problem::Surge { setting, .. } => setting,
                    other => panic!("{}: {other:?}", c.name),
                })
                .collect();
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[test]
    fn quota_needs_the_sum_of_every_pools_surge_and_checks_the_family_counter() {
        let facts = ReadinessFacts {
            pools: vec![pool("a", 10, Some("50%")), pool("b", 4, Some("2"))],
            quota: usages(&[("cores", 90, 100), ("standardDSv3Family", 20, 40)]),
            ..Default::default()
        };
        // (5 + 2) nodes × 4 vCPUs = 28 needed; cores has 10, the family 20.
        let a = assess(&ReadinessPolicy::default(), &facts, Scope::AllPools);
        assert_eq!(
            a.problems,
            vec![
                Problem::Quota {
                    counter: "cores".into(),
                    needed: 28,
                    available: 10
                },
                Problem::Quota {
                    counter: "standardDSv3Family".into(),
                    needed: 28,
                    available: 20
                },
            ]
        );
        // A node image upgrade of pool b alone: 8 vCPUs fit.
        assert!(assess(&ReadinessPolicy::default(), &facts, Scope::Pool("b")).is_ready());
        assert!(a.holds(&ReadinessPolicy::default()));
        let off = ReadinessPolicy {
            check_quota: false,
            ..Default::default()
        };
        assert!(assess(&off, &facts, Scope::AllPools).is_ready());
    }

    #[test]
    fn subnet_headroom_counts_pod_addresses_where_pods_take_them() {
        let subnet = "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworks/vnet/subnets/nodes".to_string();
        let pods = "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworks/vnet/subnets/pods".to_string();
        let cni = PoolSurge {
            node_subnet: Some(subnet.clone()),
            node_subnet_ips_per_node: 31,
            ..pool("a", 3, Some("1"))
        };
        let dynamic = PoolSurge {
            node_subnet: Some(subnet.clone()),
            pod_subnet: Some(pods.clone()),
            pod_subnet_ips_per_node: 110,
            ..pool("b", 3, Some("2"))
        };
        let facts = ReadinessFacts {
            pools: vec![cni, dynamic],
            subnets: [
                (
                    subnet.clone(),
                    Reading::Known(Usage {
                        current: 220,
                        limit: 251,
                    }),
                ),
                (
                    pods.clone(),
                    Reading::Known(Usage {
                        current: 4000,
                        limit: 4091,
                    }),
                ),
            ]
            .into(),
            ..Default::default()
        };
        let a = assess(&ReadinessPolicy::default(), &facts, Scope::AllPools);
        // nodes: 1 × 31 + 2 × 1 = 33 > 31 free; pods: 2 × 110 = 220 > 91 free.
        assert_eq!(
            a.problems,
            vec![
                Problem::Subnet {
                    subnet: subnet.clone(),
                    needed: 33,
                    available: 31
                },
                Problem::Subnet {
                    subnet: pods.clone(),
                    needed: 220,
                    available: 91
                },
            ]
        );
        assert_eq!(
            a.problems[0].describe(),
            "subnet vnet/nodes: the surge nodes need 33 IP addresses, 31 available"
        );
    }

    #[test]
    fn unknown_readings_are_reported_and_hold_only_when_policy_says() {
        let facts = ReadinessFacts {
            pools: vec![PoolSurge {
                node_subnet: Some("/x/virtualnetworks/v/subnets/s".into()),
                ..pool("a", 3, Some("1"))
            }],
            quota: Some(Reading::Unknown(
                "Compute usages in westeurope: 403 AuthorizationFailed".into(),
            )),
            subnets: [(
                "/x/virtualnetworks/v/subnets/s".to_string(),
                Reading::Known(Usage {
                    current: -1,
                    limit: -1,
                }),
            )]
            .into(),
            ..Default::default()
        };
        let a = assess(&ReadinessPolicy::default(), &facts, Scope::AllPools);
        assert!(a.problems.is_empty());
        assert_eq!(
            a.unknown,
            vec![
                "vCPU quota: Compute usages in westeurope: 403 AuthorizationFailed".to_string(),
                "subnet v/s: Azure reports no size for it".to_string()
            ]
        );
        assert!(!a.holds(&ReadinessPolicy::default()));
        assert!(a.holds(&ReadinessPolicy {
            hold_when_unknown: true,
            ..Default::default()
        }));
        assert!(
            a.summary()
                .unwrap()
                .starts_with("readiness: unknown: vCPU quota: Compute usages in westeurope: 403")
        );
    }

    #[test]
    fn aks_errors_are_classified_with_fix_and_doc() {
        let table: [(&str, &str, Option<CauseKind>); 9] = [
            (
                "UpgradeBlocked",
                "Upgrade blocked ... usage has been detected on API flowcontrol.apiserver.k8s.io ... \"subcode\": \"UpgradeBlockedOnDeprecatedAPIUsage\"",
                Some(CauseKind::DeprecatedApiUsage),
            ),
            (
                "UpgradeFailed",
                "Drain node aks-nodepool1-123 failed when evicting pod ... Cannot evict pod as it would violate the pod's disruption budget. PodDrainFailure",
                Some(CauseKind::DrainBlocked),
            ),
            ("UnsatisfiablePDB", "", Some(CauseKind::DrainBlocked)),
            (
                "QuotaExceeded",
                "Operation could not be completed as it results in exceeding approved standardDSv3Family Cores quota",
                Some(CauseKind::Quota),
            ),
            (
                "OperationNotAllowed",
                "Insufficient vcpu quota requested 48, remaining 32 for family standardDSv5Family",
                Some(CauseKind::Quota),
            ),
            (
                "SubnetIsFull",
                "Subnet aks-subnet with address prefix 10.0.0.0/24 doesn't have enough capacity for IP addresses.",
                Some(CauseKind::SubnetFull),
            ),
            ("InsufficientSubnetSize", "", Some(CauseKind::SubnetFull)),
            (
                "ZonalAllocationFailed",
                "Allocation failed. We do not have sufficient capacity",
                Some(CauseKind::Capacity),
            ),
            ("InternalOperationError", "something else went wrong", None),
        ];
        for (code, message, want) in table {
            let got = likely_causes(code, message).first().map(|c| c.kind);
            assert_eq!(got, want, "{code}: {message}");
        }
        let line = explain_failure("SubnetIsFull", "").unwrap();
        assert!(
            line.contains("lower maxSurge") && line.contains("https://learn.microsoft.com/"),
            "{line}"
        );
        for c in ALL_CAUSES {
            assert!(
                c.doc.starts_with("https://learn.microsoft.com/"),
                "{:?}",
                c.kind
            );
        }
    }

    // The rules below were found by mutation testing (scripts/mutants.sh; docs/testing.md).

    #[test]
    fn a_usage_without_a_limit_or_a_count_says_nothing_about_what_is_left() {
        assert_eq!(Usage { current: 5, limit: -1 }.available(), None, "no limit");
        assert_eq!(Usage { current: -1, limit: 10 }.available(), None, "no count");
        assert_eq!(Usage { current: 12, limit: 10 }.available(), Some(0), "over the limit: none left");
        assert_eq!(Usage { current: 3, limit: 10 }.available(), Some(7));
    }

    #[test]
    fn vm_size_names_without_a_vcpu_count_or_a_family_of_letters_give_nothing() {
        assert_eq!(vcpus_of("Standard_A0"), None, "A0's number is not its vCPUs");
        assert_eq!(family_counter("Standard_8s_v3"), None, "no family letters");
        assert_eq!(family_counter("Standard_D-4s_v3"), None, "a family that is not letters");
    }

    #[test]
    fn a_subnet_id_cut_short_is_shown_whole() {
        assert_eq!(short_id("/s/virtualNetworks/vnet/subnets/nodes"), "vnet/nodes");
        assert_eq!(short_id("/s/virtualNetworks/vnet/subnets"), "/s/virtualNetworks/vnet/subnets");
        assert_eq!(short_id("/s/virtualNetworks/vnet"), "/s/virtualNetworks/vnet");
    }

    #[test]
    fn a_soak_at_its_limit_passes_and_no_limit_is_no_check() {
        let soaking = |minutes| ReadinessFacts { pools: vec![PoolSurge { node_soak_minutes: Some(minutes), ..pool("a", 3, Some("1")) }], ..Default::default() };
        let at_most = |max| ReadinessPolicy { max_node_soak_minutes: max, ..Default::default() };
        assert!(assess(&at_most(30), &soaking(30), Scope::AllPools).is_ready(), "at the limit");
        assert!(assess(&at_most(30), &soaking(10), Scope::AllPools).is_ready(), "under the limit");
        assert!(assess(&at_most(0), &soaking(30), Scope::AllPools).is_ready(), "0: not checked");
        assert!(!assess(&at_most(30), &soaking(31), Scope::AllPools).is_ready(), "over the limit");
    }

    #[test]
    fn pools_that_add_no_surge_node_need_no_quota_and_no_addresses() {
        let subnet = "/s/virtualNetworks/v/subnets/s".to_string();
        let in_place = PoolSurge { node_subnet: Some(subnet.clone()), ..pool("a", 3, Some("0")) };
        let facts = ReadinessFacts {
            pools: vec![in_place.clone()],
            quota: Some(Reading::Unknown("Compute usages: 403".into())),
            subnets: [(subnet.clone(), Reading::Unknown("403".into()))].into(),
            ..Default::default()
        };
        // Nothing to check, so nothing unknown either.
        assert_eq!(assess(&ReadinessPolicy::default(), &facts, Scope::AllPools), Assessment::default());
        // Beside a pool that surges, the in-place pool's missing VM size does not matter.
        let facts = ReadinessFacts {
            pools: vec![PoolSurge { vm_size: None, ..in_place }, pool("b", 3, Some("1"))],
            quota: usages(&[("cores", 0, 100)]),
            subnets: [(subnet, Reading::Known(Usage { current: 0, limit: 251 }))].into(),
            ..Default::default()
        };
        assert_eq!(assess(&ReadinessPolicy::default(), &facts, Scope::AllPools), Assessment::default());
    }

    #[test]
    fn exactly_enough_quota_or_addresses_is_enough() {
        let subnet = "/s/virtualNetworks/v/subnets/s".to_string();
        let facts = |cores_used, subnet_used| ReadinessFacts {
            // One surge node of 4 vCPUs taking one address.
            pools: vec![PoolSurge { node_subnet: Some(subnet.clone()), ..pool("a", 3, Some("1")) }],
            quota: usages(&[("cores", cores_used, 100)]),
            subnets: [(subnet.clone(), Reading::Known(Usage { current: subnet_used, limit: 251 }))].into(),
            ..Default::default()
        };
        assert!(assess(&ReadinessPolicy::default(), &facts(96, 250), Scope::AllPools).is_ready());
        let short = assess(&ReadinessPolicy::default(), &facts(97, 251), Scope::AllPools);
        assert_eq!(
            short.problems,
            vec![
                Problem::Quota { counter: "cores".into(), needed: 4, available: 3 },
                Problem::Subnet { subnet: subnet.clone(), needed: 1, available: 0 },
            ]
        );
    }

    #[test]
    fn only_a_missing_cores_counter_is_unknown_and_only_when_vcpus_are_needed() {
        let with = |entries: &[(&str, i64, i64)], pools| assess(&ReadinessPolicy::default(), &ReadinessFacts { pools, quota: usages(entries), ..Default::default() }, Scope::AllPools);
        let a = with(&[("standardDSv3Family", 0, 100)], vec![pool("a", 3, Some("1"))]);
        assert_eq!(a.unknown, vec!["vCPU quota: the usages have no `cores` counter".to_string()]);
        // A family counter without a limit is not checked, and not unknown.
        let a = with(&[("cores", 0, 100), ("standardDSv3Family", 0, -1)], vec![pool("a", 3, Some("1"))]);
        assert_eq!(a, Assessment::default());
        // No pool with a known size: no vCPUs needed, so no `cores` to look for.
        let a = with(&[("standardDSv3Family", 0, 100)], vec![PoolSurge { vm_size: None, ..pool("a", 3, Some("1")) }]);
        assert_eq!(a.unknown, vec!["vCPU quota: pool a has no VM size in inventory".to_string()]);
    }

    #[test]
    fn the_watchdog_names_what_it_saw_first_joined_by_cause_then_every_other_cause_once() {
        let quota = Problem::Quota { counter: "cores".into(), needed: 8, available: 4 };
        let subnet = Problem::Subnet { subnet: "/s/virtualNetworks/v/subnets/s".into(), needed: 2, available: 0 };
        let family = Problem::Quota { counter: "standardDSv3Family".into(), needed: 8, available: 2 };
        let assessment = Assessment { problems: vec![quota.clone(), subnet.clone(), family.clone()], unknown: vec![] };
        let suspects = watchdog_suspects(Some(&assessment), Some("stopped"));
        let kinds: Vec<CauseKind> = suspects.iter().map(|s| s.cause.kind).collect();
        let seen = [CauseKind::ClusterStopped, CauseKind::Quota, CauseKind::SubnetFull];
        let expected: Vec<CauseKind> = seen.into_iter().chain(ALL_CAUSES.iter().map(|c| c.kind).filter(|k| !seen.contains(k))).collect();
        assert_eq!(kinds, expected, "what was seen first, then the rest in their order, each once");
        for s in &suspects {
            assert_eq!(Some(&s.cause), ALL_CAUSES.iter().find(|c| c.kind == s.cause.kind), "each kind with its own cause");
        }
        assert_eq!(suspects[0].seen.as_deref(), Some("powerState Stopped"));
        assert_eq!(suspects[1].seen, Some(format!("{}; {}", quota.describe(), family.describe())), "two quota problems, one suspect");
        assert_eq!(suspects[2].seen, Some(subnet.describe()));
        assert!(suspects[3..].iter().all(|s| s.seen.is_none()));
        // Nothing seen: every cause, in order, none seen.
        let none = watchdog_suspects(None, Some("Running"));
        assert_eq!(none.iter().map(|s| s.cause).collect::<Vec<_>>(), ALL_CAUSES.to_vec());
        assert!(none.iter().all(|s| s.seen.is_none()));
    }
}
