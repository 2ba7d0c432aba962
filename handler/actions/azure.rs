//! The Azure adapter: upgrades (node image, patch, minor) and certificate rotation.
//!
//! The planner decides *whether* (policy, cadence, window) and says so in `action.hold`; this
//! adapter refuses any held action, then re-checks the live gates right before acting, because
//! minutes or hours may separate planning from execution:
//!
//! 1. `GET` the cluster: `provisioningState` is `Succeeded`, `powerState.code` is `Running`,
//!    and no agent pool has an operation running. Otherwise `Deferred` with the reason.
//! 2. Idempotency: a cluster already at the target version, or a pool already on the latest
//!    node image, is `AlreadyDone` — before any gate, so a finished action is never "held".
//! 3. The target is offered: the cluster's upgrade profile lists the version; the pool's upgrade
//!    profile names a newer `latestNodeImageVersion`.
//! 4. Act, and follow the long-running operation to its end: done (`succeeded: <operation id>`,
//!    reported [`OperationReport::Ended`]), or [`ActionError::OperationEnded`] with ARM's code
//!    and message. A 409 is `Deferred("another operation is in
//!    progress")`; a 412 (the cluster changed between GET and PUT) is `Transient` — re-read next
//!    time. An operation still running after the client's `lro_timeout` is done
//!    (`started: <id>; …`, reported [`OperationReport::Started`]) and the sweep reports its
//!    end (`SignalKind::Operation`). The report is typed: the pipeline reads it from the
//!    executor's outcome, never from the detail text.
//!
//! Patch and minor upgrades are a GET-modify-PUT of the managed cluster with `If-Match: <ETag>`,
//! setting `kubernetesVersion` and every pool's `orchestratorVersion` (pools follow the control
//! plane in the same operation, as `az aks upgrade` does). Minor upgrades go to the next minor
//! only. Read-only properties are dropped from the PUT body.
//!
//! ## Why a replay is safe
//!
//! A replayed action (a crash after acting, before the ledger recorded it) meets one of: the
//! cluster or pool still upgrading → the busy gate defers it; the upgrade done → `AlreadyDone`;
//! the PUT racing another writer → 412. Node image upgrades take no version, so a second start
//! can only move a pool to the latest image.
//!
//! Certificate rotation (`POST …/rotateClusterCertificates`, up to 30 minutes of downtime) is
//! guarded by the certificate itself, since ARM keeps no record of past rotations. The concern's
//! target is `<certificate>@<expiry date>` (`plan::certificate_target`): the certificate that
//! was about to expire. Before rotating, after the live gates (a rotation still running holds
//! the cluster `Busy`), the adapter reads the current certificate of that kind from the same
//! source the sweep read it from — the public API server's TLS certificate
//! (`azure::certs::api_server_certificate`, port and timeout from [`CertificateChecks`]) for
//! `api-server`, the user kubeconfig (`POST …/listClusterUserCredential`, an ARM read that also
//! works for private clusters) for `cluster-ca` and `kubeconfig-client`. A rotation reissues
//! all three, so when every current certificate of that kind expires after the target's date
//! the rotation already happened: `AlreadyDone`, no second POST. When the certificate cannot be
//! read (or none of that kind is there any more) the adapter cannot tell and answers
//! `Transient` rather than risk a second outage; the next attempt reads again. A target without
//! a date is refused (`Permanent`) for the same reason.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;

use super::{Actuator, Done, Performed};
use crate::action::{Action, ActionKind, Hold, UpgradeScope};
use crate::azure::{AKS_API_VERSION, ArmCall, ArmClient, LroOutcome};
use crate::domain::{ClusterId, OperationReport, OperationStatus};
use crate::error::ActionError;
use crate::domain::CertificateKind;
use crate::azure::certs::{self, CertificateChecks};
use crate::policy::versions::{compare_versions, minor_of, minor_str};

/// How long the adapter follows an operation it started before answering
/// [`still_running`] (the client's `ArmConfig::lro_timeout` in production). Upgrades
/// take far longer than an invocation should: this stays under the executor's claim lease
/// (5 minutes) and the Functions timeout (10 minutes), and the next sweeps follow the
/// operation to its end and tell its outcome (`sweep::memory`).
pub const FOLLOW_FOR: std::time::Duration = std::time::Duration::from_secs(3 * 60);

/// Carries out `Upgrade` and `RotateCertificates` actions through ARM.
#[derive(Debug, Clone)]
pub struct AzureActuator {
    arm: ArmClient,
    /// Where the rotation guard reads the API server certificate (port, timeout); the
    /// `api_server`/`kubeconfig` switches of the sweep do not apply: the guard always reads.
    certificates: CertificateChecks,
}

impl AzureActuator {
    pub fn new(arm: ArmClient) -> Self {
        Self { arm, certificates: CertificateChecks::default() }
    }

    /// The API server port and handshake timeout of the rotation guard (tests: a local server).
    pub fn with_certificate_checks(mut self, checks: CertificateChecks) -> Self {
        self.certificates = checks;
        self
    }
}

/// Reads a certificate concern's target `<certificate>@<YYYY-MM-DD>` (`plan::certificate_target`).
pub fn parse_certificate_target(target: &str) -> Option<(CertificateKind, jiff::civil::Date)> {
    let (kind, date) = target.split_once('@')?;
    let kind = [CertificateKind::ApiServer, CertificateKind::KubeconfigClient, CertificateKind::ClusterCa]
        .into_iter()
        .find(|k| k.as_str() == kind)?;
    Some((kind, date.parse().ok()?))
}

/// Whether the certificates read now show the rotation done: at least one certificate of the
/// target's kind, and every one of them expiring after the target's date.
pub fn rotated_already(expiring: jiff::civil::Date, current: &[jiff::Timestamp]) -> bool {
    !current.is_empty() && current.iter().all(|t| jiff::tz::Offset::UTC.to_datetime(*t).date() > expiring)
}

fn deferred(hold: Hold) -> ActionError {
    ActionError::Deferred(hold.describe())
}

fn str_at<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr).and_then(Value::as_str)
}

/// The live gates on a cluster body (`GET …/managedClusters/{c}`), in order.
pub fn live_gates(cluster: &Value) -> Result<(), Hold> {
    let state = str_at(cluster, "/properties/provisioningState").unwrap_or("unknown");
    if !state.eq_ignore_ascii_case("Succeeded") {
        return Err(if ["failed", "canceled", "cancelled", "unknown"].contains(&state.to_ascii_lowercase().as_str()) {
            Hold::ClusterNotReady { state: format!("provisioningState {state}") }
        } else {
            Hold::Busy
        });
    }
    let power = str_at(cluster, "/properties/powerState/code").unwrap_or("unknown");
    if !power.eq_ignore_ascii_case("Running") {
        return Err(Hold::ClusterNotReady { state: format!("powerState {power}") });
    }
    for pool in cluster.pointer("/properties/agentPoolProfiles").and_then(Value::as_array).into_iter().flatten() {
        let s = pool.get("provisioningState").and_then(Value::as_str).unwrap_or("Succeeded");
        if !s.eq_ignore_ascii_case("Succeeded") {
            return Err(Hold::Busy);
        }
    }
    Ok(())
}

fn current_version(cluster: &Value) -> Option<String> {
    str_at(cluster, "/properties/currentKubernetesVersion")
        .or_else(|| str_at(cluster, "/properties/kubernetesVersion"))
        .map(str::to_string)
}

/// The PUT body of a version upgrade: the GET body with read-only properties dropped,
/// `kubernetesVersion` set, and every pool's `orchestratorVersion` set (pools follow).
pub fn upgrade_body(cluster: &Value, target: &str) -> Value {
    let mut body = cluster.clone();
    if let Some(o) = body.as_object_mut() {
        for k in ["eTag", "etag", "systemData"] {
            o.remove(k);
        }
    }
    if let Some(p) = body.get_mut("properties").and_then(Value::as_object_mut) {
        for k in ["provisioningState", "powerState", "currentKubernetesVersion", "fqdn", "azurePortalFQDN", "privateFQDN", "maxAgentPools", "resourceUID"] {
            p.remove(k);
        }
        p.insert("kubernetesVersion".into(), Value::String(target.into()));
        if let Some(pools) = p.get_mut("agentPoolProfiles").and_then(Value::as_array_mut) {
            for pool in pools.iter_mut().filter_map(Value::as_object_mut) {
                for k in ["provisioningState", "currentOrchestratorVersion", "nodeImageVersion", "eTag"] {
                    pool.remove(k);
                }
                pool.insert("orchestratorVersion".into(), Value::String(target.into()));
            }
        }
    }
    body
}

fn outcome(o: LroOutcome) -> Performed {
    match o {
        LroOutcome::Succeeded { operation_id, .. } => Ok(succeeded(&operation_id)),
        LroOutcome::Failed { operation_id, code, message } => Err(operation_failed(&operation_id, &code, &message)),
        LroOutcome::Canceled { operation_id } => {
            Err(ActionError::OperationEnded { status: OperationStatus::Canceled, reason: format!("ARM operation {operation_id} was canceled") })
        }
        LroOutcome::StillRunning { operation_id, status_url } => Ok(still_running(&operation_id, &status_url)),
    }
}

/// An operation ARM ran to success: the detail recorded, and the operation reported ended.
pub fn succeeded(operation_id: &str) -> Done {
    Done { detail: format!("succeeded: {operation_id}"), operation: Some(OperationReport::Ended(OperationStatus::Succeeded)), issue: None }
}

/// An operation ARM ran that ended `Failed`: recorded as failed with ARM's code and message,
/// and reported ended with them.
pub fn operation_failed(operation_id: &str, code: &str, message: &str) -> ActionError {
    ActionError::OperationEnded {
        status: OperationStatus::Failed { code: code.to_string(), message: message.to_string() },
        reason: format!("ARM operation {operation_id} failed: {code}: {message}"),
    }
}

/// An operation still running when the adapter stopped following it: the detail recorded
/// (`started: <id>; still running, status at <url>`), and the operation reported started, for
/// the sweep to poll.
pub fn still_running(operation_id: &str, status_url: &str) -> Done {
    Done {
        detail: format!("started: {operation_id}; still running, status at {status_url}"),
        operation: Some(OperationReport::Started { operation_id: operation_id.to_string(), status_url: status_url.to_string() }),
        issue: None,
    }
}

impl AzureActuator {
    async fn get_cluster(&self, cluster: &ClusterId) -> Result<crate::azure::ArmResponse, ActionError> {
        Ok(self.arm.get_response(ArmCall::GetCluster, cluster.as_str(), AKS_API_VERSION).await?)
    }

    /// Carries out one action (see the module docs for the order of checks).
    pub async fn perform_one(&self, action: &Action) -> Performed {
        if let Some(hold) = &action.hold {
            return Err(ActionError::Deferred(format!("held by the plan: {}", hold.describe())));
        }
        let cluster = &action.concern.cluster;
        match &action.kind {
            ActionKind::Upgrade { upgrade: UpgradeScope::NodeImage { pool }, target } => self.node_image(cluster, pool, target).await,
            ActionKind::Upgrade { upgrade, target } => self.version(cluster, upgrade, target).await,
            ActionKind::RotateCertificates => self.rotate(cluster, &action.concern.target).await,
            other => Err(ActionError::Permanent(format!("the Azure adapter does not carry out `{}` actions", other.name()))),
        }
    }

    async fn node_image(&self, cluster: &ClusterId, pool: &str, target: &str) -> Performed {
        let resp = self.get_cluster(cluster).await?;
        let body = &resp.body;
        let profile = body
            .pointer("/properties/agentPoolProfiles")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(pool)))
            .ok_or_else(|| ActionError::Permanent(format!("the cluster has no agent pool `{pool}`")))?;
        let current = profile.get("nodeImageVersion").and_then(Value::as_str).unwrap_or("").to_string();
        if !target.is_empty() && current == target {
            return Err(ActionError::AlreadyDone(format!("pool {pool} already runs node image {current}")));
        }
        let path = format!("{}/agentPools/{pool}/upgradeProfiles/default", cluster.as_str());
        let up = self.arm.get(ArmCall::GetAgentPoolUpgradeProfile, &path, AKS_API_VERSION).await?;
        let latest = str_at(&up, "/properties/latestNodeImageVersion").unwrap_or("").to_string();
        if !latest.is_empty() && latest == current {
            return Err(ActionError::AlreadyDone(format!("pool {pool} already runs the latest node image {current}")));
        }
        live_gates(body).map_err(deferred)?;
        if latest.is_empty() {
            return Err(deferred(Hold::TargetNotOffered { target: format!("a newer node image for pool {pool}") }));
        }
        let path = format!("{}/agentPools/{pool}/upgradeNodeImageVersion", cluster.as_str());
        let started = self.arm.post(ArmCall::UpgradeNodeImageVersion, &path, AKS_API_VERSION, None).await?;
        outcome(self.arm.follow(started).await?)
    }

    async fn version(&self, cluster: &ClusterId, scope: &UpgradeScope, target: &str) -> Performed {
        let resp = self.get_cluster(cluster).await?;
        let body = &resp.body;
        let current = current_version(body).ok_or_else(|| ActionError::Permanent("the cluster reports no Kubernetes version".into()))?;
        if compare_versions(&current, target).is_ge() {
            return Err(ActionError::AlreadyDone(format!("the cluster already runs {current} (target {target})")));
        }
        let (cm, tm) = match (minor_of(&current), minor_of(target)) {
            (Some(c), Some(t)) => (c, t),
            _ => return Err(ActionError::Permanent(format!("cannot compare versions {current} and {target}"))),
        };
        match scope {
            UpgradeScope::Patch if tm != cm => {
                return Err(ActionError::Permanent(format!("{target} is not a patch of {}: a patch upgrade stays in its minor", minor_str(cm))));
            }
            UpgradeScope::Minor if tm != (cm.0, cm.1 + 1) => {
                return Err(ActionError::Permanent(format!(
                    "minor upgrades go one minor at a time: from {} the next is {}, not {}",
                    minor_str(cm),
                    minor_str((cm.0, cm.1 + 1)),
                    minor_str(tm)
                )));
            }
            _ => {}
        }
        live_gates(body).map_err(deferred)?;
        let path = format!("{}/upgradeProfiles/default", cluster.as_str());
        let up = self.arm.get(ArmCall::GetUpgradeProfile, &path, AKS_API_VERSION).await?;
        let (_, offered) = crate::azure::aks::parse_upgrade_profile(&up, &current);
        if !offered.iter().any(|o| o.version == target) {
            return Err(deferred(Hold::TargetNotOffered { target: target.to_string() }));
        }
        let etag = resp.etag().ok_or_else(|| ActionError::Permanent("ARM returned the cluster without an ETag; refusing an unguarded PUT".into()))?;
        let put = upgrade_body(body, target);
        let started = self.arm.put_if_match(ArmCall::PutCluster, cluster.as_str(), AKS_API_VERSION, &put, &etag).await?;
        outcome(self.arm.follow(started).await?)
    }

    async fn rotate(&self, cluster: &ClusterId, target: &str) -> Performed {
        let (kind, expiring) = parse_certificate_target(target).ok_or_else(|| {
            ActionError::Permanent(format!(
                "certificate target `{target}` names no `<certificate>@<date>`: cannot tell whether the certificates were already rotated"
            ))
        })?;
        let resp = self.get_cluster(cluster).await?;
        live_gates(&resp.body).map_err(deferred)?;
        let current = self.current_certificates(cluster, &resp.body, kind).await?;
        if rotated_already(expiring, &current) {
            let latest = current.iter().max().map(|t| t.strftime("%Y-%m-%d").to_string()).unwrap_or_default();
            return Err(ActionError::AlreadyDone(format!(
                "the {} certificate now expires {latest} (was {expiring}): the cluster certificates were already rotated",
                kind.as_str()
            )));
        }
        let path = format!("{}/rotateClusterCertificates", cluster.as_str());
        let started = self.arm.post(ArmCall::RotateClusterCertificates, &path, AKS_API_VERSION, None).await?;
        outcome(self.arm.follow(started).await?)
    }

    /// The expiries of the cluster's current certificates of `kind` (see the module docs).
    async fn current_certificates(&self, cluster: &ClusterId, body: &Value, kind: CertificateKind) -> Result<Vec<jiff::Timestamp>, ActionError> {
        let unknown = |why: String| ActionError::Transient(format!("cannot tell whether the certificates were already rotated: {why}"));
        match kind {
            CertificateKind::ApiServer => {
                let host = str_at(body, "/properties/fqdn").ok_or_else(|| unknown("the cluster has no public API server fqdn".into()))?;
                let cert = certs::api_server_certificate(host, self.certificates.api_server_port, self.certificates.timeout)
                    .await
                    .map_err(|e| unknown(format!("API server certificate: {e}")))?;
                Ok(vec![cert.not_after])
            }
            CertificateKind::ClusterCa | CertificateKind::KubeconfigClient => {
                let configs = crate::azure::aks::user_kubeconfigs(&self.arm, cluster)
                    .await
                    .map_err(|e| unknown(format!("user kubeconfig (listClusterUserCredential): {e}")))?;
                let mut out = Vec::new();
                for config in &configs {
                    let certs = certs::kubeconfig_certificates(config).map_err(|e| unknown(format!("user kubeconfig: {e}")))?;
                    out.extend(certs.into_iter().filter(|(k, _)| *k == kind).map(|(_, c)| c.not_after));
                }
                if out.is_empty() {
                    return Err(unknown(format!("the user kubeconfig has no {} certificate", kind.as_str())));
                }
                Ok(out)
            }
        }
    }
}

#[async_trait]
impl Actuator for AzureActuator {
    fn name(&self) -> &'static str {
        "azure"
    }
    fn handles(&self, kind: &ActionKind) -> bool {
        matches!(kind, ActionKind::Upgrade { .. } | ActionKind::RotateCertificates)
    }
    /// Clusters are worked on concurrently; the actions of one cluster one after another (a
    /// second operation on a busy cluster would only meet a 409).
    async fn perform(&self, batch: &[Action]) -> Vec<Performed> {
        let mut by_cluster: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, a) in batch.iter().enumerate() {
            by_cluster.entry(a.concern.cluster.key()).or_default().push(i);
        }
        let per_cluster = by_cluster.into_values().map(|idxs| async move {
            let mut out = Vec::with_capacity(idxs.len());
            for i in idxs {
                out.push((i, self.perform_one(&batch[i]).await));
            }
            out
        });
        let mut results: Vec<Option<Performed>> = (0..batch.len()).map(|_| None).collect();
        for group in futures::future::join_all(per_cluster).await {
            for (i, r) in group {
                results[i] = Some(r);
            }
        }
        results.into_iter().map(|r| r.expect("every action has a result")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gates_read_state_power_and_pools() {
        let ok = json!({"properties": {"provisioningState": "Succeeded", "powerState": {"code": "Running"},
            "agentPoolProfiles": [{"name": "a", "provisioningState": "Succeeded"}]}});
        assert_eq!(live_gates(&ok), Ok(()));
        let mut v = ok.clone();
        v["properties"]["provisioningState"] = json!("Upgrading");
        assert_eq!(live_gates(&v), Err(Hold::Busy));
        let mut v = ok.clone();
        v["properties"]["provisioningState"] = json!("Failed");
        assert_eq!(live_gates(&v), Err(Hold::ClusterNotReady { state: "provisioningState Failed".into() }));
        let mut v = ok.clone();
        v["properties"]["powerState"]["code"] = json!("Stopped");
        assert_eq!(live_gates(&v), Err(Hold::ClusterNotReady { state: "powerState Stopped".into() }));
        let mut v = ok.clone();
        v["properties"].as_object_mut().unwrap().remove("powerState");
        assert_eq!(live_gates(&v), Err(Hold::ClusterNotReady { state: "powerState unknown".into() }));
        let mut v = ok;
        v["properties"]["agentPoolProfiles"][0]["provisioningState"] = json!("UpgradingNodeImageVersion");
        assert_eq!(live_gates(&v), Err(Hold::Busy));
    }

    #[test]
    fn operations_are_reported_typed_next_to_the_detail_recorded() {
        let url = "https://management.azure.com/subscriptions/s/providers/Microsoft.ContainerService/locations/westus/operations/op-1?api-version=2017-08-31";
        let still = outcome(LroOutcome::StillRunning { operation_id: "op-1".into(), status_url: url.into() }).unwrap();
        assert_eq!(still.detail, format!("started: op-1; still running, status at {url}"));
        assert_eq!(still.operation, Some(OperationReport::Started { operation_id: "op-1".into(), status_url: url.into() }));
        let done = outcome(LroOutcome::Succeeded { operation_id: "op-2".into(), body: Value::Null }).unwrap();
        assert_eq!(done.detail, "succeeded: op-2");
        assert_eq!(done.operation, Some(OperationReport::Ended(OperationStatus::Succeeded)));

        let failed = outcome(LroOutcome::Failed { operation_id: "op-3".into(), code: "UpgradeFailed".into(), message: "drain timed out: pod x".into() });
        assert_eq!(
            failed,
            Err(ActionError::OperationEnded {
                status: OperationStatus::Failed { code: "UpgradeFailed".into(), message: "drain timed out: pod x".into() },
                reason: "ARM operation op-3 failed: UpgradeFailed: drain timed out: pod x".into(),
            })
        );
        let canceled = outcome(LroOutcome::Canceled { operation_id: "op-4".into() });
        assert_eq!(canceled, Err(ActionError::OperationEnded { status: OperationStatus::Canceled, reason: "ARM operation op-4 was canceled".into() }));
    }

    #[test]
    fn upgrade_body_sets_versions_and_drops_read_only_fields() {
        let raw = include_str!("../../tests/fixtures/arm/managedclusters_get.2026-04-01.json");
        let v: Value = serde_json::from_str(raw).unwrap();
        let b = upgrade_body(&v["responses"]["200"]["body"], "1.10.3");
        assert_eq!(b["properties"]["kubernetesVersion"], "1.10.3");
        assert_eq!(b["properties"]["agentPoolProfiles"][0]["orchestratorVersion"], "1.10.3");
        for k in ["provisioningState", "currentKubernetesVersion", "fqdn", "azurePortalFQDN", "maxAgentPools"] {
            assert!(b["properties"].get(k).is_none(), "{k} kept");
        }
        assert!(b["properties"]["agentPoolProfiles"][0].get("nodeImageVersion").is_none());
        assert!(b.get("eTag").is_none());
        assert_eq!(b["properties"]["dnsPrefix"], "dnsprefix1", "writable settings are kept as read");
    }
}
