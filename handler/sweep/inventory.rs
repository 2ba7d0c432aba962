//! Fleet inventory: which clusters exist, with what the per-cluster sweep needs to know about
//! them (so the sweep never GETs a cluster again).
//!
//! First choice is Azure Resource Graph — one query for the whole fleet, pages of 1000 followed
//! by `$skipToken`, sorted by `id` so that pages are stable. When Resource Graph fails (after
//! the client's retries) or reports a truncated result without a way to page on, the sweep falls
//! back to `GET /subscriptions/{s}/providers/Microsoft.ContainerService/managedClusters` per
//! subscription (following `nextLink`), listing the subscriptions first when
//! `CADENCE_SUBSCRIPTIONS` is empty.
//!
//! The query projects the agent pool profiles as a whole: KQL in Resource Graph cannot map over an
//! array without `mv-expand` + `summarize`, which caps rows and does not page stably. The five
//! fields we keep per pool are picked here.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::azure::{AKS_API_VERSION, ArmCall, ArmClient, ArmError, RESOURCE_GRAPH_API_VERSION, SUBSCRIPTIONS_API_VERSION};
use crate::domain::{ClusterFacts, ClusterId, NodePoolFacts};

/// The Resource Graph query of the inventory.
pub const RESOURCE_GRAPH_QUERY: &str = "resources
| where type =~ 'microsoft.containerservice/managedclusters'
| project id, name, resourceGroup, subscriptionId, location, tags,
    currentKubernetesVersion = tostring(properties.currentKubernetesVersion),
    kubernetesVersion = tostring(properties.kubernetesVersion),
    provisioningState = tostring(properties.provisioningState),
    powerState = tostring(properties.powerState.code),
    supportPlan = tostring(properties.supportPlan),
    autoUpgradeProfile = properties.autoUpgradeProfile,
    fqdn = tostring(properties.fqdn),
    privateFqdn = tostring(properties.privateFQDN),
    agentPoolProfiles = properties.agentPoolProfiles,
    enableRBAC = properties.enableRBAC,
    disableLocalAccounts = properties.disableLocalAccounts,
    apiServerAccessProfile = properties.apiServerAccessProfile,
    aadProfile = properties.aadProfile,
    securityProfile = properties.securityProfile,
    addonProfiles = properties.addonProfiles,
    oidcIssuerProfile = properties.oidcIssuerProfile,
    podIdentityProfile = properties.podIdentityProfile,
    networkProfile = properties.networkProfile,
    sku
| order by id asc";

/// The `properties` the security baseline reads (`crate::baseline`), projected by
/// [`RESOURCE_GRAPH_QUERY`] under the same names. With `autoUpgradeProfile`,
/// `agentPoolProfiles` and `sku` they make the resource the baseline evaluates, so the baseline
/// costs no per-cluster read.
pub const BASELINE_PROPERTIES: [&str; 11] = [
    "autoUpgradeProfile",
    "agentPoolProfiles",
    "enableRBAC",
    "disableLocalAccounts",
    "apiServerAccessProfile",
    "aadProfile",
    "securityProfile",
    "addonProfiles",
    "oidcIssuerProfile",
    "podIdentityProfile",
    "networkProfile",
];

/// Rows per Resource Graph page (the service's maximum).
pub const PAGE_SIZE: u64 = 1000;
/// Subscriptions per Resource Graph request.
const SUBSCRIPTIONS_PER_QUERY: usize = 1000;

/// One agent pool as inventory saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolRecord {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_orchestrator_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_image_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
}

/// One cluster as inventory saw it. Also the payload of a fan-out queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterRecord {
    pub id: ClusterId,
    pub location: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_kubernetes_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_plan: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_os_upgrade_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_fqdn: Option<String>,
    #[serde(default)]
    pub pools: Vec<PoolRecord>,
    /// The resource as the security baseline reads it: `{"properties": {…}, "sku": …}` with
    /// only [`BASELINE_PROPERTIES`] (a property the source did not carry is left out, so the
    /// baseline says "unknown" rather than guess). `None` when the source carried none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineView>,
}

/// A cluster's baseline view (see [`ClusterRecord::baseline`]), held as its compact JSON text:
/// an inventory holds one per cluster of the fleet until the cluster's sweep starts, and the
/// text is a fraction of the parsed value's memory (maps and strings). On the wire (a fan-out
/// message) it is the JSON object itself, as before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineView(Box<str>);

impl BaselineView {
    pub fn new(view: &Value) -> Self {
        Self(view.to_string().into_boxed_str())
    }

    /// The view as a JSON value (parsed again: once per cluster's sweep).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).expect("a baseline view is JSON text it wrote itself")
    }
}

impl Serialize for BaselineView {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for BaselineView {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::new(&Value::deserialize(deserializer)?))
    }
}

/// The baseline view of a resource: `properties` picked from `props`, `sku` as given.
fn baseline_of(props: Option<&Value>, sku: Option<&Value>) -> Option<BaselineView> {
    let picked: serde_json::Map<String, Value> = BASELINE_PROPERTIES
        .iter()
        .filter_map(|k| props.and_then(|p| p.get(*k)).map(|v| (k.to_string(), v.clone())))
        .collect();
    // The inventory's own columns alone (pools, channels) are not a baseline projection.
    let baseline_only = picked.keys().any(|k| k != "autoUpgradeProfile" && k != "agentPoolProfiles");
    if !baseline_only && sku.is_none() {
        return None;
    }
    let mut out = json!({ "properties": picked });
    if let Some(sku) = sku {
        out["sku"] = sku.clone();
    }
    Some(BaselineView::new(&out))
}

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::trim).filter(|x| !x.is_empty()).map(str::to_string)
}

fn tags_of(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn pools_of(v: Option<&Value>) -> Vec<PoolRecord> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(PoolRecord {
                name: s(p.get("name"))?,
                orchestrator_version: s(p.get("orchestratorVersion")),
                current_orchestrator_version: s(p.get("currentOrchestratorVersion")),
                node_image_version: s(p.get("nodeImageVersion")),
                os_sku: s(p.get("osSKU")),
                os_type: s(p.get("osType")),
                mode: s(p.get("mode")),
                provisioning_state: s(p.get("provisioningState")),
            })
        })
        .collect()
}

impl ClusterRecord {
    /// From an ARM managed cluster resource (`GET` / list): properties are nested.
    pub fn from_arm_resource(v: &Value) -> Result<Self, String> {
        let id = s(v.get("id")).ok_or("no id")?;
        let id = ClusterId::parse(&id).map_err(|e| e.to_string())?;
        let p = v.get("properties").cloned().unwrap_or(Value::Null);
        Ok(Self {
            id,
            location: s(v.get("location")).unwrap_or_default(),
            tags: tags_of(v.get("tags")),
            current_kubernetes_version: s(p.get("currentKubernetesVersion")),
            kubernetes_version: s(p.get("kubernetesVersion")),
            provisioning_state: s(p.get("provisioningState")),
            power_state: s(p.pointer("/powerState/code")),
            support_plan: s(p.get("supportPlan")),
            upgrade_channel: s(p.pointer("/autoUpgradeProfile/upgradeChannel")),
            node_os_upgrade_channel: s(p.pointer("/autoUpgradeProfile/nodeOSUpgradeChannel")),
            fqdn: s(p.get("fqdn")),
            private_fqdn: s(p.get("privateFQDN")),
            pools: pools_of(p.get("agentPoolProfiles")),
            // ARM returned the whole resource: the baseline view is always there.
            baseline: baseline_of(Some(&p), v.get("sku")).or_else(|| Some(BaselineView::new(&json!({ "properties": {} })))),
        })
    }

    /// From a row of [`RESOURCE_GRAPH_QUERY`]: projected columns are flat.
    pub fn from_graph_row(v: &Value) -> Result<Self, String> {
        let id = s(v.get("id")).ok_or("no id")?;
        let id = ClusterId::parse(&id).map_err(|e| e.to_string())?;
        Ok(Self {
            id,
            location: s(v.get("location")).unwrap_or_default(),
            tags: tags_of(v.get("tags")),
            current_kubernetes_version: s(v.get("currentKubernetesVersion")),
            kubernetes_version: s(v.get("kubernetesVersion")),
            provisioning_state: s(v.get("provisioningState")),
            power_state: s(v.get("powerState")),
            support_plan: s(v.get("supportPlan")),
            upgrade_channel: s(v.pointer("/autoUpgradeProfile/upgradeChannel")),
            node_os_upgrade_channel: s(v.pointer("/autoUpgradeProfile/nodeOSUpgradeChannel")),
            fqdn: s(v.get("fqdn")),
            private_fqdn: s(v.get("privateFqdn")),
            pools: pools_of(v.get("agentPoolProfiles")),
            baseline: baseline_of(Some(v), v.get("sku")),
        })
    }

    /// The control plane's running version (`currentKubernetesVersion`, else `kubernetesVersion`).
    pub fn current_version(&self) -> Option<&str> {
        self.current_kubernetes_version.as_deref().or(self.kubernetes_version.as_deref())
    }

    /// The domain facts signals carry.
    pub fn facts(&self) -> ClusterFacts {
        ClusterFacts {
            location: Some(self.location.clone()).filter(|l| !l.is_empty()),
            tags: self.tags.clone(),
            kubernetes_version: self.current_version().map(str::to_string),
            support_plan: self.support_plan.clone(),
            provisioning_state: self.provisioning_state.clone(),
            power_state: self.power_state.clone(),
            upgrade_channel: self.upgrade_channel.clone(),
            node_os_upgrade_channel: self.node_os_upgrade_channel.clone(),
            node_pools: self
                .pools
                .iter()
                .map(|p| NodePoolFacts {
                    name: p.name.clone(),
                    orchestrator_version: p.current_orchestrator_version.clone().or_else(|| p.orchestrator_version.clone()),
                    node_image_version: p.node_image_version.clone(),
                    os_sku: p.os_sku.clone(),
                    mode: p.mode.clone(),
                })
                .collect(),
        }
    }
}

/// Where an inventory came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InventorySource {
    ResourceGraph,
    ArmList,
}

/// The fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub source: InventorySource,
    pub clusters: Vec<ClusterRecord>,
    /// Rows skipped, fallbacks taken — for the invocation's logs.
    pub notes: Vec<String>,
}

/// Why Resource Graph could not give the inventory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error(transparent)]
    Arm(#[from] ArmError),
    #[error("Resource Graph truncated the result and gave no $skipToken to page on")]
    Truncated,
}

/// Inventory through Resource Graph, falling back to ARM listing.
pub async fn inventory(arm: &ArmClient, subscriptions: &[String]) -> Result<Inventory, super::SweepError> {
    match query_resource_graph(arm, subscriptions).await {
        Ok((clusters, notes)) => Ok(Inventory { source: InventorySource::ResourceGraph, clusters, notes }),
        Err(graph) => {
            tracing::warn!(error = %graph, "Resource Graph inventory failed; listing clusters per subscription");
            match list_via_arm(arm, subscriptions).await {
                Ok((clusters, mut notes)) => {
                    notes.insert(0, format!("Resource Graph failed ({graph}); listed clusters per subscription instead"));
                    Ok(Inventory { source: InventorySource::ArmList, clusters, notes })
                }
                Err(fallback) => Err(super::SweepError::Inventory { graph: graph.to_string(), fallback }),
            }
        }
    }
}

/// Runs [`RESOURCE_GRAPH_QUERY`] over `subscriptions` (all the identity can read when empty),
/// following `$skipToken` to the last page.
pub async fn query_resource_graph(arm: &ArmClient, subscriptions: &[String]) -> Result<(Vec<ClusterRecord>, Vec<String>), GraphError> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let mut seen = HashSet::new();
    for row in graph_rows(arm, ArmCall::ResourceGraphQuery, RESOURCE_GRAPH_QUERY, subscriptions).await? {
        match ClusterRecord::from_graph_row(&row) {
            Ok(r) => {
                if seen.insert(r.id.key()) {
                    out.push(r);
                }
            }
            Err(e) => notes.push(format!("skipped a Resource Graph row: {e}")),
        }
    }
    Ok((out, notes))
}

/// Every row of a Resource Graph `query` over `subscriptions` (all the identity can read when
/// empty), 1000 subscriptions per request, following `$skipToken` to the last page.
pub(crate) async fn graph_rows(arm: &ArmClient, call: ArmCall, query: &str, subscriptions: &[String]) -> Result<Vec<Value>, GraphError> {
    let mut out = Vec::new();
    let chunks: Vec<Option<&[String]>> =
        if subscriptions.is_empty() { vec![None] } else { subscriptions.chunks(SUBSCRIPTIONS_PER_QUERY).map(Some).collect() };
    for chunk in chunks {
        let mut skip_token: Option<String> = None;
        loop {
            let mut options = json!({ "$top": PAGE_SIZE });
            if let Some(t) = &skip_token {
                options["$skipToken"] = json!(t);
            }
            let mut body = json!({ "query": query, "options": options });
            if let Some(subs) = chunk {
                body["subscriptions"] = json!(subs);
            }
            let mut resp = arm.post(call, "/providers/Microsoft.ResourceGraph/resources", RESOURCE_GRAPH_API_VERSION, Some(&body)).await?.body;
            if let Some(Value::Array(rows)) = resp.get_mut("data").map(Value::take) {
                out.extend(rows);
            }
            skip_token = resp.get("$skipToken").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_string);
            // `resultTruncated` is a string ("true"/"false") in this API; accept a bool too.
            let truncated = match resp.get("resultTruncated") {
                Some(Value::String(t)) => t.eq_ignore_ascii_case("true"),
                Some(Value::Bool(b)) => *b,
                _ => false,
            };
            if skip_token.is_none() {
                if truncated {
                    return Err(GraphError::Truncated);
                }
                break;
            }
        }
    }
    Ok(out)
}

/// Why the subscription facts of the baseline could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionFactsError {
    #[error("the Defender plan query failed: {0}")]
    Arm(#[from] ArmError),
    #[error(transparent)]
    Row(#[from] crate::baseline::subscription::RowError),
}

/// The baseline's subscription facts (the Defender for Containers plan), one Resource Graph
/// query per sweep, not per cluster. One row per subscription, so one page covers up to 1000
/// subscriptions; a subscription without a row has no plan (off) when `subscriptions` names it.
pub async fn subscription_facts(
    arm: &ArmClient,
    subscriptions: &[String],
) -> Result<crate::baseline::SubscriptionFacts, SubscriptionFactsError> {
    let mut body = json!({ "query": crate::baseline::subscription::defender_query(), "options": { "$top": PAGE_SIZE } });
    if !subscriptions.is_empty() {
        body["subscriptions"] = json!(subscriptions);
    }
    let resp = arm
        .post(ArmCall::ResourceGraphQuery, "/providers/Microsoft.ResourceGraph/resources", RESOURCE_GRAPH_API_VERSION, Some(&body))
        .await?
        .body;
    let rows = resp.get("data").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    Ok(crate::baseline::subscription::defender_plans(rows, subscriptions)?)
}

/// Lists clusters per subscription through ARM (the fallback).
pub async fn list_via_arm(arm: &ArmClient, subscriptions: &[String]) -> Result<(Vec<ClusterRecord>, Vec<String>), ArmError> {
    let subs: Vec<String> = if subscriptions.is_empty() {
        arm.list_all(ArmCall::ListSubscriptions, "/subscriptions", SUBSCRIPTIONS_API_VERSION)
            .await?
            .iter()
            .filter_map(|s| s.get("subscriptionId").and_then(Value::as_str).map(str::to_string))
            .collect()
    } else {
        subscriptions.to_vec()
    };
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let mut seen = HashSet::new();
    for sub in subs {
        let path = format!("/subscriptions/{sub}/providers/Microsoft.ContainerService/managedClusters");
        for item in arm.list_all(ArmCall::ListClusters, &path, AKS_API_VERSION).await? {
            match ClusterRecord::from_arm_resource(&item) {
                Ok(r) => {
                    if seen.insert(r.id.key()) {
                        out.push(r);
                    }
                }
                Err(e) => notes.push(format!("skipped a cluster in subscription {sub}: {e}")),
            }
        }
    }
    Ok((out, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_resources_and_graph_rows_read_alike() {
        let raw = include_str!("../../tests/fixtures/arm/managedclusters_get.2026-04-01.json");
        let v: Value = serde_json::from_str(raw).unwrap();
        let r = ClusterRecord::from_arm_resource(&v["responses"]["200"]["body"]).unwrap();
        assert_eq!(r.id.name(), "clustername1");
        assert_eq!(r.current_version(), Some("1.9.6"));
        assert_eq!(r.fqdn.as_deref(), Some("dnsprefix1-abcd1234.hcp.eastus.azmk8s.io"));
        assert_eq!(r.pools[0].node_image_version.as_deref(), Some("AKSUbuntu:1604:2020.03.11"));
        assert_eq!(r.tags.get("tier").map(String::as_str), Some("production"));

        let row = json!({
            "id": r.id.as_str(), "name": "clustername1", "location": "location1", "tags": {"tier": "production", "archv2": ""},
            "currentKubernetesVersion": "1.9.6", "kubernetesVersion": "1.9.6", "provisioningState": "Succeeded",
            "powerState": "", "supportPlan": "", "autoUpgradeProfile": null, "fqdn": "dnsprefix1-abcd1234.hcp.eastus.azmk8s.io",
            "privateFqdn": "",
            "agentPoolProfiles": v["responses"]["200"]["body"]["properties"]["agentPoolProfiles"],
        });
        let g = ClusterRecord::from_graph_row(&row).unwrap();
        // The row projects no baseline columns; the ARM resource carries its properties.
        assert_eq!(g.baseline, None);
        assert!(r.baseline.as_ref().unwrap().value()["properties"].get("enableRBAC").is_some(), "{:?}", r.baseline);
        assert_eq!(g, ClusterRecord { baseline: None, ..r });
    }

    #[test]
    fn a_record_round_trips_through_json() {
        let r = ClusterRecord {
            id: ClusterId::from_parts("s", "rg", "c"),
            location: "westeurope".into(),
            tags: BTreeMap::new(),
            current_kubernetes_version: Some("1.30.4".into()),
            kubernetes_version: Some("1.30".into()),
            provisioning_state: Some("Succeeded".into()),
            power_state: Some("Running".into()),
            support_plan: None,
            upgrade_channel: Some("patch".into()),
            node_os_upgrade_channel: None,
            fqdn: None,
            private_fqdn: None,
            pools: vec![PoolRecord { name: "system".into(), ..Default::default() }],
            baseline: Some(BaselineView::new(&json!({"properties": {"disableLocalAccounts": true}, "sku": {"tier": "Standard"}}))),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(serde_json::from_value::<ClusterRecord>(v).unwrap(), r);
    }
}
