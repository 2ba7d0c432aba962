//! The per-cluster sweep: one inventory record in, a [`ClusterSnapshot`] (signals + raw facts
//! for the planner) out.
//!
//! ARM reads per cluster, with what is shared:
//!
//! | read | per | signal |
//! |---|---|---|
//! | `…/upgradeProfiles/default` | cluster (or none with [`UpgradeSource::Region`]) | `UpgradesOffered`, `Resolved{KubernetesUpgrade}` |
//! | `…/locations/{l}/kubernetesVersions` | region, once per sweep | `SupportEnding` / `SupportEnded` / `Resolved{Support}` |
//! | `…/agentPools/{p}/upgradeProfiles/default` | [`NodeImageKey`], once per sweep | `NodeImageAvailable` / `Resolved{NodeImage}` |
//! | `…/maintenanceConfigurations` | cluster | (raw JSON for the window parser) |
//! | operation status URL | tracked operation | `Operation` |
//! | `…/locations/{l}/usages` (Compute), `…/virtualNetworks/{v}/usages` | subscription + region / virtual network, once per sweep, only with an upgrade pending | readiness facts (`sweep::readiness`) |
//! | `POST …/listClusterUserCredential` | cluster | `CertificateExpiring` (cluster CA, client certificate) |
//! | TLS handshake with the public API server (no ARM) | cluster | `CertificateExpiring` (API server) |
//!
//! The cluster itself is never read again: [`ClusterFacts`] come from the inventory record.
//! Certificates that cannot be read are notes, never a failed sweep.
//!
//! ## The node-image cache and its risk
//!
//! `latestNodeImageVersion` is asked once per (region, image family, OS SKU, orchestrator
//! minor) per sweep, through whichever pool of that key comes first, and reused for every other
//! pool with the same key. The image family is the node image version without its date part
//! (`AKSUbuntu-2204gen2containerd-202405.03.0` → `AKSUbuntu-2204gen2containerd`): it already
//! encodes OS, release, VM generation, architecture, runtime and FIPS. The risk: AKS rolls a new
//! image out region by region and, within a region, may offer it to some clusters before
//! others, so a pool can be told of an image it is not offered yet. That is a premature notice
//! at worst, never a wrong upgrade — the upgrade adapter re-reads the pool's own upgrade
//! profile before acting, and `upgradeNodeImageVersion` takes no target version.
//!
//! ## `Resolved` targets
//!
//! `Resolved { concern, target }` names a concern exactly as the planner named it (built with
//! the same `plan::*_target` functions), so it closes the issue that concern opened. From the
//! current state alone a sweep knows these are met:
//!
//! | state | resolved |
//! |---|---|
//! | on `1.30.7`, no newer patch of 1.30 offered | `kubernetes-upgrade patch:1.30.7` |
//! | on minor 1.30 | `kubernetes-upgrade 1.30` (the minor concern raised from 1.29) |
//! | 1.30 supported | `support 1.30`; while 1.30's support is ending: `support 1.29` |
//! | pool on image X, X is the latest | `node-image <pool>@X` |
//!
//! Concerns about a state the cluster has left (`patch:1.30.4` once it runs 1.30.7, the old
//! image of a pool, a rotated certificate) need the previous run's facts: the snapshot carries
//! [`ClusterSnapshot::observed`] and the pipeline compares it with the memory it keeps per
//! cluster (`sweep::memory`). The pipeline plans a `Resolved` only for concerns the ledger has
//! seen, so restating these every run costs nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::OnceCell;

use super::inventory::{ClusterRecord, PoolRecord};
use crate::facts::memory::Observed;
use super::support::{RegionVersions, compare_versions, minor_of, minor_str};
use crate::policy::versions::SupportFinding;
use super::SweepError;
use crate::azure::{AKS_API_VERSION, ArmCall, ArmClient, ArmError, ArmErrorKind};
use crate::domain::{CertificateKind, ClusterId, ConcernKind, OfferedVersion, OperationStatus, Origin, Signal, SignalKind};
use crate::plan;
use crate::policy::versions::AksVersion;

/// Where the control-plane upgrades offered come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpgradeSource {
    /// Each cluster's `upgradeProfiles/default` (authoritative; one read per cluster).
    #[default]
    ClusterProfile,
    /// The region's `kubernetesVersions` patch table (no read per cluster; the same table AKS
    /// derives upgrade profiles from, but blind to per-cluster restrictions).
    Region,
}

/// Knobs of a sweep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepOptions {
    pub upgrades_from: UpgradeSource,
    pub certificates: CertificateChecks,
    /// Whether a cluster with an upgrade pending gets its readiness read (`sweep::readiness`:
    /// the region's vCPU quota and its subnets' usage, shared per sweep). On in production
    /// (`SweepContext::from_settings`) unless the policy turns readiness off (`[readiness]
    /// enabled = false`: `wiring::sweeper`); off in `Default` so tests of other findings see only
    /// their own reads.
    pub readiness: bool,
}

pub use crate::azure::certs::CertificateChecks;

/// The node-image cache key (see the module docs for its risk).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeImageKey {
    pub region: String,
    pub family: String,
    pub os_sku: String,
    pub orchestrator_minor: String,
}

impl NodeImageKey {
    pub fn of(location: &str, pool: &PoolRecord) -> Option<Self> {
        let image = pool.node_image_version.as_deref()?;
        let version = pool.current_orchestrator_version.as_deref().or(pool.orchestrator_version.as_deref()).unwrap_or("");
        Some(Self {
            region: location.to_ascii_lowercase().replace(' ', ""),
            family: image_family(image).to_ascii_lowercase(),
            os_sku: pool.os_sku.as_deref().or(pool.os_type.as_deref()).unwrap_or("").to_ascii_lowercase(),
            orchestrator_minor: minor_of(version).map(minor_str).unwrap_or_default(),
        })
    }
}

/// The node image version without its trailing version part: everything before the last `-`
/// or `:` (`AKSUbuntu-2204gen2containerd-202405.03.0` → `AKSUbuntu-2204gen2containerd`,
/// `AKSUbuntu:1604:2020.03.11` → `AKSUbuntu:1604`).
pub fn image_family(image: &str) -> &str {
    match image.rfind(['-', ':']) {
        Some(i) => &image[..i],
        None => image,
    }
}

/// What one sweep run shares between clusters: region version lists and node-image answers.
/// Concurrent clusters asking for the same key wait for one read (single flight); errors are
/// not cached, so the next cluster tries again.
#[derive(Debug, Default)]
pub struct SweepCache {
    regions: Mutex<HashMap<String, Arc<OnceCell<Arc<RegionVersions>>>>>,
    node_images: Mutex<HashMap<NodeImageKey, Arc<OnceCell<Option<String>>>>>,
    /// The subscriptions' Defender plans (the security baseline), read once per run.
    subscription_facts: OnceCell<Arc<crate::baseline::SubscriptionFacts>>,
    /// Quota and virtual-network usages for readiness.
    pub readiness: super::readiness::ReadinessCache,
    /// The run's support-calendar refresh (`sweep::calendar`), read at most once.
    pub support_calendar: super::calendar::RefreshCache,
}

impl SweepCache {
    fn region_cell(&self, region: &str) -> Arc<OnceCell<Arc<RegionVersions>>> {
        self.regions.lock().expect("cache lock").entry(region.to_string()).or_default().clone()
    }
    fn image_cell(&self, key: &NodeImageKey) -> Arc<OnceCell<Option<String>>> {
        self.node_images.lock().expect("cache lock").entry(key.clone()).or_default().clone()
    }

    /// The region's `kubernetesVersions`, read through `subscription` the first time.
    pub async fn region_versions(&self, arm: &ArmClient, subscription: &str, location: &str) -> Result<Arc<RegionVersions>, ArmError> {
        let region = location.to_ascii_lowercase().replace(' ', "");
        let cell = self.region_cell(&region);
        cell.get_or_try_init(|| async {
            let path = format!("/subscriptions/{subscription}/providers/Microsoft.ContainerService/locations/{region}/kubernetesVersions");
            let body = arm.get(ArmCall::ListKubernetesVersions, &path, AKS_API_VERSION).await?;
            Ok(Arc::new(RegionVersions::from_arm(&body)))
        })
        .await
        .cloned()
    }

    /// `latestNodeImageVersion` for `key`, read through this cluster's pool the first time.
    pub async fn latest_node_image(&self, arm: &ArmClient, key: &NodeImageKey, cluster: &ClusterId, pool: &str) -> Result<Option<String>, ArmError> {
        let cell = self.image_cell(key);
        cell.get_or_try_init(|| async {
            let path = format!("{}/agentPools/{pool}/upgradeProfiles/default", cluster.as_str());
            let body = arm.get(ArmCall::GetAgentPoolUpgradeProfile, &path, AKS_API_VERSION).await?;
            Ok(body.pointer("/properties/latestNodeImageVersion").and_then(Value::as_str).map(str::to_string))
        })
        .await
        .cloned()
    }

    /// The Defender for Containers plans of `subscriptions` (empty: every subscription the
    /// identity reads), one Resource Graph query the first time in a run.
    pub async fn subscription_facts(
        &self,
        arm: &ArmClient,
        subscriptions: &[String],
    ) -> Result<Arc<crate::baseline::SubscriptionFacts>, super::inventory::SubscriptionFactsError> {
        self.subscription_facts
            .get_or_try_init(|| async { super::inventory::subscription_facts(arm, subscriptions).await.map(Arc::new) })
            .await
            .cloned()
    }

    /// (regions, node-image keys) held.
    pub fn sizes(&self) -> (usize, usize) {
        (self.regions.lock().expect("cache lock").len(), self.node_images.lock().expect("cache lock").len())
    }
}

/// One sweep run: its id (for `Origin::Sweep`), its clock, its cache.
#[derive(Debug, Clone)]
pub struct SweepRun {
    pub run_id: String,
    pub now: Timestamp,
    pub cache: Arc<SweepCache>,
}

impl SweepRun {
    pub fn new(run_id: impl Into<String>, now: Timestamp) -> Self {
        Self { run_id: run_id.into(), now, cache: Arc::new(SweepCache::default()) }
    }
}

/// Where the certificate checks of `sweep::certs` look for this cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateProbe {
    /// The public API server host (`fqdn`); private-only clusters have none (not reachable from
    /// the Functions app unless it is in their network — the kubeconfig check still works).
    pub host: String,
    pub port: u16,
}

pub use crate::facts::{ClusterSnapshot, TrackedOperation};

impl ClusterSnapshot {
    /// Where the API server certificate is read: `Some` for clusters with a public API server
    /// (port 443; [`CertificateChecks::api_server_port`] overrides it in a sweep).
    pub fn certificate_probe(&self) -> Option<CertificateProbe> {
        self.fqdn.as_ref().map(|h| CertificateProbe { host: h.clone(), port: 443 })
    }
}

fn terminal(state: &str) -> bool {
    ["succeeded", "failed", "canceled", "cancelled"].contains(&state.to_ascii_lowercase().as_str())
}

/// Whether ARM reports an operation in progress on the cluster or any pool.
pub fn is_busy(record: &ClusterRecord) -> bool {
    record.provisioning_state.as_deref().is_some_and(|s| !terminal(s))
        || record.pools.iter().any(|p| p.provisioning_state.as_deref().is_some_and(|s| !terminal(s)))
}

/// Keeps going after a read that cannot succeed by retrying (noted), fails the sweep of this
/// cluster on one that can (the queue delivers the message again).
fn soft<T>(r: Result<T, ArmError>, notes: &mut Vec<String>, what: &str) -> Result<Option<T>, SweepError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_retryable() => Err(e.into()),
        Err(e) => {
            notes.push(format!("{what}: {e}"));
            Ok(None)
        }
    }
}

/// Sweeps one cluster.
pub async fn sweep_cluster(
    arm: &ArmClient,
    options: &SweepOptions,
    run: &SweepRun,
    record: &ClusterRecord,
    tracked: &[TrackedOperation],
) -> Result<ClusterSnapshot, SweepError> {
    let facts = record.facts();
    let make = |kind: SignalKind| Signal {
        cluster: record.id.clone(),
        facts: facts.clone(),
        kind,
        observed_at: run.now,
        origin: Origin::Sweep { run_id: run.run_id.clone() },
    };
    let mut snap = ClusterSnapshot {
        cluster: record.id.clone(),
        facts: facts.clone(),
        fqdn: record.fqdn.clone(),
        run_id: run.run_id.clone(),
        swept_at: run.now,
        signals: Vec::new(),
        maintenance_configurations: Vec::new(),
        maintenance_read: false,
        observed: Observed {
            kubernetes_version: record.current_version().map(str::to_string),
            node_images: record.pools.iter().map(|p| (p.name.clone(), p.node_image_version.clone())).collect(),
            certificates: Default::default(),
            baseline: None,
            channels: Some(crate::facts::memory::ObservedChannels {
                upgrade: record.upgrade_channel.clone(),
                node_os: record.node_os_upgrade_channel.clone(),
            }),
            ring_inversions: None,
        },
        offered_in_region: None,
        busy: is_busy(record),
        readiness: None,
        notes: Vec::new(),
        baseline: record.baseline.as_ref().map(super::inventory::BaselineView::value),
        defender_plan: None,
    };
    let cluster_path = record.id.as_str();

    // Operations aks-cadence started.
    for op in tracked {
        let status = operation_status(arm, record, op, &mut snap.notes).await?;
        snap.signals.push(make(SignalKind::Operation { concern: op.concern, target: op.target.clone(), status }));
    }

    // The region's versions (shared).
    let region = if record.location.is_empty() {
        snap.notes.push("no location in inventory: support status not checked".into());
        None
    } else {
        soft(run.cache.region_versions(arm, record.id.subscription(), &record.location).await, &mut snap.notes, "kubernetesVersions")?
    };
    if let Some(r) = &region {
        snap.offered_in_region = Some(r.all_patch_versions());
    }

    // Control-plane upgrades.
    if let Some(current) = record.current_version() {
        let offered: Option<(String, Vec<OfferedVersion>)> = match options.upgrades_from {
            UpgradeSource::ClusterProfile => {
                let path = format!("{cluster_path}/upgradeProfiles/default");
                match arm.get(ArmCall::GetUpgradeProfile, &path, AKS_API_VERSION).await {
                    Err(e) if e.kind == ArmErrorKind::NotFound => {
                        snap.notes.push("the cluster no longer exists".into());
                        snap.signals.clear();
                        return Ok(snap);
                    }
                    r => soft(r, &mut snap.notes, "upgrade profile")?.map(|body| parse_upgrade_profile(&body, current)),
                }
            }
            UpgradeSource::Region => region.as_ref().and_then(|r| r.upgrades_from(current)).map(|o| (current.to_string(), o)),
        };
        if let Some((current, offered)) = offered {
            let cm = minor_of(&current);
            let newer_patch = offered.iter().any(|o| minor_of(&o.version) == cm && compare_versions(&o.version, &current).is_gt());
            snap.observed.kubernetes_version = Some(current.clone());
            if !offered.is_empty() {
                snap.signals.push(make(SignalKind::UpgradesOffered { current: current.clone(), offered }));
            }
            if let Ok(v) = AksVersion::parse(&current) {
                if !newer_patch {
                    snap.signals.push(make(SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: plan::patch_target(&v) }));
                }
                snap.signals.push(make(SignalKind::Resolved { concern: ConcernKind::KubernetesUpgrade, target: plan::minor_target(v.minor_line()) }));
            }
        }

        // Support status against the region's window.
        if let (Some(r), Some(cm)) = (&region, minor_of(current)) {
            match r.support_status(current, record.support_plan.as_deref()).finding() {
                SupportFinding::Fine => {
                    snap.signals.push(make(SignalKind::Resolved { concern: ConcernKind::Support, target: plan::support_target(&minor_str(cm)) }));
                }
                SupportFinding::Ending { support_type } => {
                    snap.signals.push(make(SignalKind::SupportEnding {
                        kubernetes_version: current.to_string(),
                        eol_date: None,
                        support_type: Some(support_type.to_string()),
                        eol_source: None,
                    }));
                    if cm.1 > 0 {
                        let below = plan::support_target(&minor_str((cm.0, cm.1 - 1)));
                        snap.signals.push(make(SignalKind::Resolved { concern: ConcernKind::Support, target: below }));
                    }
                }
                SupportFinding::Ended => snap.signals.push(make(SignalKind::SupportEnded { kubernetes_version: current.to_string() })),
                SupportFinding::Unknown => snap.notes.push(format!("support status of {current} unknown in {}", record.location)),
            }
        }
    } else {
        snap.notes.push("no Kubernetes version in inventory: upgrades and support not checked".into());
    }

    // Node images, per pool (shared per key).
    for pool in &record.pools {
        let Some(key) = NodeImageKey::of(&record.location, pool) else {
            snap.notes.push(format!("pool {}: no nodeImageVersion in inventory; node image not checked", pool.name));
            continue;
        };
        let current = pool.node_image_version.clone().unwrap_or_default();
        let latest = soft(
            run.cache.latest_node_image(arm, &key, &record.id, &pool.name).await,
            &mut snap.notes,
            &format!("pool {} upgrade profile", pool.name),
        )?
        .flatten();
        match latest {
            Some(latest) if latest != current => {
                snap.signals.push(make(SignalKind::NodeImageAvailable { pool: pool.name.clone(), current, latest }));
            }
            Some(_) => {
                let target = plan::node_image_target(&pool.name, &current);
                snap.signals.push(make(SignalKind::Resolved { concern: ConcernKind::NodeImage, target }));
            }
            None => {}
        }
    }

    // Readiness of the pending upgrades (quota and subnet reads shared per sweep).
    let pending = snap.signals.iter().any(|s| matches!(s.kind, SignalKind::UpgradesOffered { .. } | SignalKind::NodeImageAvailable { .. }));
    if options.readiness && pending {
        snap.readiness = Some(super::readiness::read(arm, &run.cache.readiness, record).await);
    }

    // Maintenance configurations (raw; parsed by policy::windows).
    let path = format!("{cluster_path}/maintenanceConfigurations");
    if let Some(list) = soft(arm.list_all(ArmCall::ListMaintenanceConfigurations, &path, AKS_API_VERSION).await, &mut snap.notes, "maintenance configurations")? {
        snap.maintenance_configurations = list;
        snap.maintenance_read = true;
    }

    // Certificates: read failures are notes (the planner just learns nothing new).
    let found = certificates(arm, &options.certificates, record, &mut snap.observed, &mut snap.notes).await;
    for (certificate, not_after) in found {
        snap.signals.push(make(SignalKind::CertificateExpiring { certificate, not_after }));
    }

    Ok(snap)
}

/// Reads the certificate sources `checks` enables: the public API server's TLS certificate and
/// the certificates in the user kubeconfig. Records each source that answered in `observed`
/// (so the next run can tell a rotated certificate) and returns every distinct
/// (kind, expiry) found.
async fn certificates(
    arm: &ArmClient,
    checks: &CertificateChecks,
    record: &ClusterRecord,
    observed: &mut Observed,
    notes: &mut Vec<String>,
) -> Vec<(CertificateKind, Timestamp)> {
    let mut found: Vec<(CertificateKind, Timestamp)> = Vec::new();
    // `observe`: the source was read completely, so its dates are what the cluster has.
    let mut add = |kind: CertificateKind, at: Timestamp, observed: &mut Observed, observe: bool| {
        if !found.contains(&(kind, at)) {
            found.push((kind, at));
        }
        if observe {
            let dates = observed.certificates.entry(kind).or_default();
            if !dates.contains(&at) {
                dates.push(at);
            }
        }
    };
    if checks.api_server {
        match (&record.fqdn, &record.private_fqdn) {
            (_, Some(_)) => notes.push("private cluster: the API server certificate is not read over TLS (the kubeconfig check still runs)".into()),
            (None, None) => notes.push("no API server fqdn in inventory: its certificate is not read".into()),
            (Some(host), None) => match crate::azure::certs::api_server_certificate(host, checks.api_server_port, checks.timeout).await {
                Ok(cert) => add(CertificateKind::ApiServer, cert.not_after, observed, true),
                Err(e) => notes.push(format!("API server certificate: {e}")),
            },
        }
    }
    if checks.kubeconfig {
        match user_kubeconfigs(arm, &record.id).await {
            Ok(configs) => {
                let mut read_all = true;
                let mut certs = Vec::new();
                for (i, config) in configs.iter().enumerate() {
                    match crate::azure::certs::kubeconfig_certificates(config) {
                        Ok(c) => certs.extend(c),
                        Err(e) => {
                            read_all = false;
                            notes.push(format!("user kubeconfig {i}: {e}"));
                        }
                    }
                }
                // A source counts as read only when every kubeconfig parsed: a certificate we
                // could not see is not a rotated one.
                if read_all && !configs.is_empty() {
                    observed.certificates.entry(CertificateKind::ClusterCa).or_default();
                    observed.certificates.entry(CertificateKind::KubeconfigClient).or_default();
                }
                for (kind, cert) in certs {
                    add(kind, cert.not_after, observed, read_all);
                }
            }
            Err(e) => notes.push(format!("user kubeconfig (listClusterUserCredential): {e}")),
        }
    }
    found
}

pub use crate::azure::aks::parse_upgrade_profile;

async fn operation_status(arm: &ArmClient, record: &ClusterRecord, op: &TrackedOperation, notes: &mut Vec<String>) -> Result<OperationStatus, SweepError> {
    if let Some(url) = &op.status_url {
        let r = arm.send(ArmCall::PollOperationStatus, http::Method::GET, url, None, None, None).await;
        if let Some(resp) = soft(r, notes, "operation status")? {
            let status = resp.body.get("status").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
            return Ok(match status.as_str() {
                "succeeded" => OperationStatus::Succeeded,
                "failed" => OperationStatus::Failed {
                    code: resp.body.pointer("/error/code").and_then(Value::as_str).unwrap_or("Unknown").to_string(),
                    message: resp.body.pointer("/error/message").and_then(Value::as_str).unwrap_or("(no message)").to_string(),
                },
                "canceled" | "cancelled" => OperationStatus::Canceled,
                _ => OperationStatus::InProgress,
            });
        }
    }
    let state = record.provisioning_state.as_deref().unwrap_or("").to_ascii_lowercase();
    Ok(match state.as_str() {
        "succeeded" => OperationStatus::Succeeded,
        "failed" => OperationStatus::Failed { code: "ProvisioningFailed".into(), message: "the cluster's provisioningState is Failed".into() },
        "canceled" | "cancelled" => OperationStatus::Canceled,
        _ => OperationStatus::InProgress,
    })
}

pub use crate::azure::aks::user_kubeconfigs;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_families_drop_the_version() {
        assert_eq!(image_family("AKSUbuntu-2204gen2containerd-202405.03.0"), "AKSUbuntu-2204gen2containerd");
        assert_eq!(image_family("AKSUbuntu:1604:2020.03.11"), "AKSUbuntu:1604");
        assert_eq!(image_family("AKSWindows-2022-containerd-20348.2113.231115"), "AKSWindows-2022-containerd");
    }

    #[test]
    fn pools_with_the_same_image_family_in_a_region_share_a_key() {
        let pool = |img: &str, sku: &str, v: &str| PoolRecord {
            name: "p".into(),
            node_image_version: Some(img.into()),
            os_sku: Some(sku.into()),
            orchestrator_version: Some(v.into()),
            ..Default::default()
        };
        let a = NodeImageKey::of("West Europe", &pool("AKSUbuntu-2204gen2containerd-202405.03.0", "Ubuntu", "1.30.4"));
        let b = NodeImageKey::of("westeurope", &pool("AKSUbuntu-2204gen2containerd-202401.09.0", "Ubuntu", "1.30.1"));
        let c = NodeImageKey::of("westeurope", &pool("AKSAzureLinux-V2gen2-202405.03.0", "AzureLinux", "1.30.1"));
        let d = NodeImageKey::of("northeurope", &pool("AKSUbuntu-2204gen2containerd-202405.03.0", "Ubuntu", "1.30.4"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn upgrade_profiles_list_control_plane_targets_with_preview_flags() {
        let raw = include_str!("../../tests/fixtures/arm/managedclusters_get_upgrade_profile.2026-06-01.json");
        let v: Value = serde_json::from_str(raw).unwrap();
        let (current, offered) = parse_upgrade_profile(&v["responses"]["200"]["body"], "x");
        assert_eq!(current, "1.7.7");
        assert_eq!(
            offered,
            vec![
                OfferedVersion { version: "1.7.9".into(), is_preview: true },
                OfferedVersion { version: "1.7.11".into(), is_preview: false }
            ]
        );
    }
}
