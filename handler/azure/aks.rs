//! AKS reads shared by the sweep (`sweep::cluster`) and the Azure adapter (`actions::azure`):
//! the cluster upgrade profile's offered versions, and the user kubeconfigs. Here, below both,
//! so that neither edge reaches into the other.
//!
//! Layer: edge: ARM reads; imports the core only.

use base64::Engine as _;
use serde_json::Value;

use super::{AKS_API_VERSION, ArmCall, ArmClient, ArmError};
use crate::domain::{ClusterId, OfferedVersion};

/// Reads a cluster upgrade profile body: (current version, offered control-plane upgrades).
pub fn parse_upgrade_profile(body: &Value, fallback_current: &str) -> (String, Vec<OfferedVersion>) {
    let cp = body.pointer("/properties/controlPlaneProfile");
    let current = cp
        .and_then(|c| c.get("kubernetesVersion"))
        .and_then(Value::as_str)
        .unwrap_or(fallback_current)
        .to_string();
    let offered = cp
        .and_then(|c| c.get("upgrades"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|u| {
            Some(OfferedVersion {
                version: u.get("kubernetesVersion")?.as_str()?.to_string(),
                is_preview: u.get("isPreview").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect();
    (current, offered)
}

/// The cluster's user kubeconfigs (`listClusterUserCredential`), decoded from base64 — input for
/// [`super::certs::kubeconfig_certificates`].
pub async fn user_kubeconfigs(arm: &ArmClient, cluster: &ClusterId) -> Result<Vec<Vec<u8>>, ArmError> {
    let path = format!("{}/listClusterUserCredential", cluster.as_str());
    let body = arm.post(ArmCall::ListClusterUserCredential, &path, AKS_API_VERSION, None).await?.body;
    Ok(body
        .get("kubeconfigs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|k| k.get("value")?.as_str())
        .filter_map(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
        .collect())
}
