//! The planner's sentences: every summary a finding, an Execute or a supersession is told
//! with, in one place. The decisions (what to plan, at which stage, held by what) stay in
//! `plan`; these functions only word them. Pure.

use jiff::Timestamp;

use super::{day, truncate};
use crate::action::{Hold, Stage, minute};
use crate::domain::{BaselineItem, ClusterId};
use crate::policy::channels::{AksApplies, ManagedSchedule};
use crate::domain::{
    CertificateKind, ConcernKind, MaintenanceKind, MaintenanceStatus, OperationStatus, RollingPhase,
};
use crate::policy::versions::{AksVersion, MinorLine};
use crate::policy::windows::WindowStatus;

/// The stage's word in front of a summary (`reminder: `, `overdue: `, …).
pub(super) fn prefix(stage: Stage) -> &'static str {
    match stage {
        Stage::Reminder => "reminder: ",
        Stage::Overdue => "overdue: ",
        Stage::Update => "update: ",
        Stage::Resolve => "resolved: ",
        Stage::Notice | Stage::Execute => "",
    }
}

/// `due 2026-03-01`, or `was due 2026-03-01` once overdue.
pub(super) fn due(stage: Stage, deadline: Timestamp) -> String {
    if stage == Stage::Overdue {
        format!("was due {}", day(deadline))
    } else {
        format!("due {}", day(deadline))
    }
}

/// `upgrade to 1.31`: the next minor line of `version`.
pub(super) fn next_minor_hint(version: &str) -> String {
    match MinorLine::parse(version).ok().and_then(MinorLine::next) {
        Some(next) => format!("upgrade to {next}"),
        None => "upgrade to a supported minor".into(),
    }
}

pub(super) fn upgrade_available(
    name: &str,
    stage: Stage,
    current: &AksVersion,
    target: &AksVersion,
    label: &str,
    deadline: Timestamp,
) -> String {
    format!(
        "{name}: {}Kubernetes {current} → {target} ({label}) available; {}",
        prefix(stage),
        due(stage, deadline)
    )
}

pub(super) fn upgrade_pull_request(
    name: &str,
    stage: Stage,
    current: &AksVersion,
    target: &AksVersion,
    label: &str,
    deadline: Timestamp,
) -> String {
    format!(
        "{name}: pull request: Kubernetes {current} → {target} ({label}); {}",
        due(stage, deadline)
    )
}

pub(super) fn upgrade_change(current: &AksVersion, target: &AksVersion, label: &str) -> String {
    format!("upgrade Kubernetes {current} → {target} ({label})")
}

pub(super) fn newest_version(name: &str, newest: &AksVersion) -> String {
    format!(
        "{name}: Kubernetes {newest} is now the newest version offered in the region; \
         the cluster's current version is unknown until the next sweep"
    )
}

fn support_kind(support_type: Option<&str>) -> String {
    support_type
        .map(|t| format!(" ({t} support)"))
        .unwrap_or_default()
}

/// A support notice: dated (`stage` from the ladder) or not (a notice).
pub(super) fn support_ending(
    name: &str,
    stage: Stage,
    version: &str,
    eol: Option<Timestamp>,
    support_type: Option<&str>,
    source: Option<&str>,
) -> String {
    let kind = support_kind(support_type);
    let next = next_minor_hint(version);
    let from = source.map(|s| format!(" (date from {s})")).unwrap_or_default();
    match eol {
        Some(eol) => {
            let verb = if stage == Stage::Overdue {
                "left"
            } else {
                "leaves"
            };
            format!(
                "{name}: {}Kubernetes {version} {verb} AKS support on {}{kind}{from}; {next}",
                prefix(stage),
                day(eol)
            )
        }
        None => format!("{name}: Kubernetes {version} is leaving AKS support{kind}; {next}"),
    }
}

pub(super) fn support_update(
    name: &str,
    version: &str,
    eol: Option<Timestamp>,
    support_type: Option<&str>,
) -> String {
    format!(
        "{name}: update: AKS says Kubernetes {version} is leaving support{}{}; {}",
        eol.map(|e| format!(" on {}", day(e))).unwrap_or_default(),
        support_kind(support_type),
        next_minor_hint(version)
    )
}

pub(super) fn support_ended(name: &str, version: &str) -> String {
    format!(
        "{name}: overdue: Kubernetes {version} is out of AKS support; {}",
        next_minor_hint(version)
    )
}

pub(super) fn node_image_available(
    name: &str,
    stage: Stage,
    pool: &str,
    current: &str,
    latest: &str,
    deadline: Timestamp,
) -> String {
    format!(
        "{name}: {}node pool {pool} image {current} → {latest} available; {}",
        prefix(stage),
        due(stage, deadline)
    )
}

pub(super) fn node_image_change(pool: &str, latest: &str) -> String {
    format!("upgrade node pool {pool} image to {latest}")
}

pub(super) fn certificate(
    name: &str,
    stage: Stage,
    certificate: CertificateKind,
    not_after: Timestamp,
    now: Timestamp,
) -> String {
    let when = if stage == Stage::Overdue {
        format!("expired on {}", day(not_after))
    } else {
        let d = not_after
            .duration_since(now)
            .as_secs()
            .saturating_add(86_399)
            / 86_400;
        format!(
            "expires on {} (in {d} day{})",
            day(not_after),
            if d == 1 { "" } else { "s" }
        )
    };
    format!(
        "{name}: {}{} certificate {when}; rotating cluster certificates recreates the nodes: up to 30 minutes of downtime",
        prefix(stage),
        certificate.as_str()
    )
}

pub(super) fn certificate_change(certificate: CertificateKind, not_after: Timestamp) -> String {
    format!(
        "rotate cluster certificates ({} certificate {}) — up to 30 minutes of downtime",
        certificate.as_str(),
        day(not_after)
    )
}

pub(super) fn roll(
    name: &str,
    stage: Stage,
    pool: &str,
    phase: RollingPhase,
    error: Option<&str>,
) -> String {
    let told = match (phase, error) {
        (RollingPhase::Started, _) => "started".to_string(),
        (RollingPhase::Succeeded, _) => "succeeded".to_string(),
        (RollingPhase::Failed, Some(e)) => format!("failed: {e}"),
        (RollingPhase::Failed, None) => "failed".to_string(),
    };
    format!("{name}: {}node pool {pool} roll {told}", prefix(stage))
}

pub(super) fn roll_resolved(name: &str, pool: &str) -> String {
    format!("{name}: resolved: node pool {pool} roll succeeded")
}

pub(super) fn maintenance_what(upgrade: &MaintenanceKind) -> &'static str {
    match upgrade {
        MaintenanceKind::KubernetesVersion => "Kubernetes version upgrade",
        MaintenanceKind::NodeOs => "node OS upgrade",
        MaintenanceKind::Unknown => "maintenance",
    }
}

/// `scheduled for 2026-03-01 09:30 UTC`, `started`, …: also the fact an update is keyed by.
pub(super) fn maintenance_status(
    status: &MaintenanceStatus,
    scheduled: Option<Timestamp>,
) -> String {
    match status {
        MaintenanceStatus::Scheduled => match scheduled {
            Some(t) => format!("scheduled for {}", minute(t)),
            None => "scheduled".into(),
        },
        MaintenanceStatus::Started => "started".into(),
        MaintenanceStatus::Completed => "completed".into(),
        MaintenanceStatus::Canceled => "canceled".into(),
        MaintenanceStatus::Failed => "failed".into(),
        MaintenanceStatus::Other(s) => s.clone(),
    }
}

pub(super) fn maintenance(
    name: &str,
    stage: Stage,
    what: &str,
    status: &str,
    details: Option<&str>,
) -> String {
    let details = details
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| format!(" ({})", truncate(d, 160)))
        .unwrap_or_default();
    format!(
        "{name}: {}planned {what} by AKS {status}{details}",
        prefix(stage)
    )
}

pub(super) fn maintenance_resolved(name: &str, what: &str, status: &str) -> String {
    format!("{name}: resolved: planned {what} by AKS {status}")
}

/// What became of the operation aks-cadence started: `is in progress`, `failed: code: …`.
pub(super) fn operation_status(status: &OperationStatus) -> String {
    match status {
        OperationStatus::InProgress => "is in progress".to_string(),
        OperationStatus::Succeeded => "succeeded".to_string(),
        OperationStatus::Failed { code, message } => {
            format!("failed: {code}: {}", truncate(message, 300))
        }
        OperationStatus::Canceled => "was canceled".to_string(),
        OperationStatus::Refused { reason } => truncate(reason, 300),
    }
}

pub(super) fn operation(
    name: &str,
    kind: ConcernKind,
    target: &str,
    status: &OperationStatus,
) -> String {
    match status {
        // Nothing was started: never told as a failed operation.
        OperationStatus::Refused { .. } => format!(
            "{name}: update: {} {target}: aks-cadence did not start the change, it was refused: {}",
            kind.as_str(),
            operation_status(status)
        ),
        _ => format!(
            "{name}: update: {} {target}: the operation aks-cadence started {}",
            kind.as_str(),
            operation_status(status)
        ),
    }
}

pub(super) fn resolved(name: &str, kind: ConcernKind, target: &str) -> String {
    format!("{name}: resolved: {} {target}", kind.as_str())
}

pub(super) fn ring_inversion_over(name: &str, version: &str) -> String {
    format!(
        "{name}: resolved: ring inversion {version} — the inversion is over: every cluster of the earlier rings has now run {version} (or newer) for its soak time, or {name} no longer runs {version}"
    )
}

pub(super) fn superseded(
    name: &str,
    kind: ConcernKind,
    old_target: &str,
    old_told: &str,
    new_target: &str,
    new_told: &str,
) -> String {
    format!(
        "{name}: {} {old_target} ({old_told}) is superseded by {new_target} ({new_told})",
        kind.as_str()
    )
}

pub(super) fn not_wired(
    name: &str,
    system_topic: Option<&str>,
    function: Option<&str>,
    fix: &[String],
) -> String {
    let missing = match (system_topic, function) {
        (None, _) => "has no Event Grid system topic".to_string(),
        (Some(topic), Some(_)) => format!(
            "has a system topic ({topic}) with no event subscription to this app's aks-events function"
        ),
        (Some(topic), None) => format!("has a system topic ({topic}) with no event subscription"),
    };
    format!(
        "{name}: AKS events of this cluster do not reach aks-cadence: it {missing}; new versions, support notices and node pool rolls are heard only at the next sweep. \
         Wire it: {}; or add the cluster id to the clusterIds parameter of infra/main.bicep and deploy again",
        fix.join(" && ")
    )
}

/// An Execute's summary: the change and whether it would start now or what holds it.
pub(super) fn execute(
    name: &str,
    what: &str,
    hold: Option<&Hold>,
    window: &WindowStatus,
) -> String {
    format!("{name}: {what} — {}", execute_status(hold, window))
}

/// The part of an execute summary after the dash: "would start now (…)" or "held: …".
pub(super) fn execute_status(hold: Option<&Hold>, window: &WindowStatus) -> String {
    match (hold, window) {
        (None, WindowStatus::Open { until }) => {
            format!("would start now (window open until {})", minute(*until))
        }
        (None, _) => "would start now".to_string(),
        (Some(h), _) => format!("held: {}", h.describe()),
    }
}

/// `Kubernetes 1.30.4 → 1.30.7 (patch)`.
pub(super) fn version_change(current: &AksVersion, target: &AksVersion, label: &str) -> String {
    format!("Kubernetes {current} → {target} ({label})")
}

/// `node pool np1 image A → B`.
pub(super) fn node_image_told(pool: &str, current: &str, latest: &str) -> String {
    format!("node pool {pool} image {current} → {latest}")
}

/// When AKS's window for a channel opens, as far as known.
fn aks_window(aks: &AksApplies, window: Option<&WindowStatus>) -> String {
    match (aks.schedule, window) {
        (ManagedSchedule::OsDaily, _) => "the OS applies it daily (about 06:00 UTC)".to_string(),
        (_, Some(WindowStatus::Open { until })) => format!("window open now until {}", minute(*until)),
        (_, Some(WindowStatus::Closed { next: Some(next) })) => format!("next window opens {}", minute(*next)),
        (s, _) => format!("no {} window is known, so AKS may apply it at any time", s.as_str()),
    }
}

/// A change AKS applies: nothing to do unless it does not happen by `watch`.
pub(super) fn by_aks(name: &str, stage: Stage, told: &str, aks: &AksApplies, window: Option<&WindowStatus>, watch: Timestamp) -> String {
    if stage == Stage::Overdue {
        format!(
            "{name}: overdue: auto-upgrade is configured but did not happen: {told} should have been applied by AKS through {} by {}",
            aks.channel,
            day(watch)
        )
    } else {
        format!(
            "{name}: {told} available; AKS applies this through {}; {}; nothing to do unless it is still missing on {}",
            aks.channel,
            aks_window(aks, window),
            day(watch)
        )
    }
}

/// A change handled through infrastructure code (its pull request merged).
pub(super) fn by_iac(name: &str, stage: Stage, told: &str, pr: &str, watch: Timestamp) -> String {
    if stage == Stage::Overdue {
        format!("{name}: overdue: merged through infrastructure code but not applied: {told} was merged in {pr} and should have landed by {}; check the pipeline that deploys it", day(watch))
    } else {
        format!("{name}: {told} handled through infrastructure code ({pr} is merged); nothing to do unless it is still missing on {}", day(watch))
    }
}

/// Why an auto-upgrade may not have happened, and how to see each cause: the causes the last
/// sweep saw evidence of first (`crate::readiness::watchdog_suspects`), each with the command
/// that shows it, its fix and Microsoft's page; then a maintenance window too short.
pub(super) fn watchdog_causes(cluster: &ClusterId, aks: &AksApplies, location: Option<&str>, suspects: &[crate::readiness::Suspect]) -> String {
    use crate::readiness::CauseKind;
    let (rg, n) = (cluster.resource_group(), cluster.name());
    let schedule = match aks.schedule {
        ManagedSchedule::OsDaily => "aksManagedNodeOSUpgradeSchedule".to_string(),
        s => s.as_str().to_string(),
    };
    let location = location.unwrap_or("<region>");
    let failed_operations = format!("az monitor activity-log list --resource-id {} --offset 14d --status Failed", cluster.as_str());
    let mut items: Vec<String> = suspects
        .iter()
        .map(|s| {
            let see = match s.cause.kind {
                CauseKind::DeprecatedApiUsage | CauseKind::Capacity => failed_operations.clone(),
                CauseKind::DrainBlocked => "kubectl get pdb -A (ALLOWED DISRUPTIONS 0)".to_string(),
                CauseKind::Quota => format!("az vm list-usage --location {location} -o table"),
                CauseKind::SubnetFull => format!(
                    "az aks nodepool list -g {rg} --cluster-name {n} --query \"[].{{pool:name, subnet:vnetSubnetId, maxSurge:upgradeSettings.maxSurge}}\" -o table, then az network vnet list-usage for that network"
                ),
                CauseKind::ClusterStopped => format!("az aks show -g {rg} -n {n} --query powerState"),
            };
            let seen = s.seen.as_deref().map(|e| format!(" — SEEN by the last sweep: {e}")).unwrap_or_default();
            format!("{}{seen}; see it: `{see}`; fix: {} ({})", s.cause.title, s.cause.fix, s.cause.doc)
        })
        .collect();
    items.push(format!(
        "a maintenance window too short for the upgrade: `az aks maintenanceconfiguration show -g {rg} --cluster-name {n} -n {schedule}` (https://learn.microsoft.com/azure/aks/planned-maintenance)"
    ));
    let numbered: Vec<String> = items.iter().enumerate().map(|(i, t)| format!("({}) {t}", i + 1)).collect();
    format!("Likely causes, those seen on the cluster first: {}", numbered.join("; "))
}

/// A concern AKS resolved through its channel.
pub(super) fn resolved_by_aks(name: &str, kind: ConcernKind, target: &str, aks: &AksApplies, now: Option<&str>) -> String {
    let now = now.map(|v| format!(" (now {v})")).unwrap_or_default();
    format!("{name}: resolved: {} {target} — AKS applied it through {}{now}", kind.as_str(), aks.channel)
}

/// One failing security-baseline check, on its cadence ladder.
pub(super) fn baseline_check(name: &str, stage: Stage, item: &BaselineItem) -> String {
    let due = item.due.map(|d| format!("; {}", self::due(stage, d))).unwrap_or_default();
    format!(
        "{name}: {}security baseline: {} ({} severity) fails: {}{due}",
        prefix(stage),
        item.title,
        item.severity,
        item.detail.trim_end_matches('.')
    )
}

/// A failing check that passes (or is excepted) now.
pub(super) fn baseline_fixed(name: &str, check: &str) -> String {
    format!("{name}: resolved: security baseline check {check} passes now")
}

/// The checklist issue's title line.
pub(super) fn baseline_checklist(name: &str, stage: Stage, failing: &[&str], judged: usize) -> String {
    format!("{name}: {}security baseline: {} of {judged} checks failing ({})", prefix(stage), failing.len(), failing.join(", "))
}

/// What changed since the previous sweep, for the checklist's update comment.
pub(super) fn baseline_changes(newly_failing: &[String], fixed: &[String]) -> String {
    let name = |t: &String| crate::baseline::report::check_of_target(t).unwrap_or(t).to_string();
    let mut parts = Vec::new();
    if !newly_failing.is_empty() {
        parts.push(format!("newly failing: {}", newly_failing.iter().map(name).collect::<Vec<_>>().join(", ")));
    }
    if !fixed.is_empty() {
        parts.push(format!("fixed: {}", fixed.iter().map(name).collect::<Vec<_>>().join(", ")));
    }
    parts.join("; ")
}

/// An AKS channel setting that is not what policy requires, with the command that sets it.
pub(super) fn channel_required(name: &str, setting: &str, current: Option<&str>, required: &str, command: Option<&str>) -> String {
    let now = current.map_or_else(|| "is not set".to_string(), |c| format!("is {c}"));
    let fix = command.map(|c| format!("; set it with: {c}")).unwrap_or_default();
    format!(
        "{name}: AKS channel {setting} {now}, policy requires {required}{fix}; {}",
        crate::policy::channels::BEST_PRACTICE
    )
}

/// A required channel now set.
pub(super) fn channel_set(name: &str, setting: &str, value: Option<&str>) -> String {
    let value = value.map(|v| format!(" to {v}")).unwrap_or_default();
    format!("{name}: resolved: aks-channel {setting} — {setting} is now set{value}, as policy requires")
}
