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

use serde::Deserializer as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::spool::{FleetRecords, Spool, SpoolError};
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
    let (source, sink, notes) = read_inventory(arm, subscriptions, || Ok(InMemory::default())).await?;
    Ok(Inventory { source, clusters: sink.out, notes })
}

/// The fleet read by [`inventory_spooled`]: its records in a [`Spool`]'s file, in sweep order.
pub struct SpooledInventory {
    pub source: InventorySource,
    pub clusters: FleetRecords,
    pub notes: Vec<String>,
}

/// [`inventory`] into a [`Spool`] (`handler sweep`): each page's records go to the spool's
/// file as the page arrives, so the fleet's records are never all in memory.
pub async fn inventory_spooled(arm: &ArmClient, subscriptions: &[String]) -> Result<SpooledInventory, super::SweepError> {
    let (source, sink, notes) = read_inventory(arm, subscriptions, || Ok(Spooled { spool: Spool::new()?, error: None })).await?;
    if let Some(e) = sink.error {
        return Err(e.into());
    }
    Ok(SpooledInventory { source, clusters: sink.spool.finish()?, notes })
}

/// Where the inventory's records go as they are read; duplicates (the same cluster id in any
/// case, as a page boundary can repeat a row) are dropped there.
trait Sink: Send {
    fn add(&mut self, record: ClusterRecord);
}

#[derive(Default)]
struct InMemory {
    seen: HashSet<String>,
    out: Vec<ClusterRecord>,
}

impl Sink for InMemory {
    fn add(&mut self, record: ClusterRecord) {
        if self.seen.insert(record.id.key()) {
            self.out.push(record);
        }
    }
}

/// Keeps the first failure and takes nothing after it ([`inventory_spooled`] reports it).
struct Spooled {
    spool: Spool,
    error: Option<SpoolError>,
}

impl Sink for Spooled {
    fn add(&mut self, record: ClusterRecord) {
        if self.error.is_none()
            && let Err(e) = self.spool.push(&record)
        {
            self.error = Some(e);
        }
    }
}

/// Resource Graph into a new sink, else the ARM listing into another.
async fn read_inventory<S: Sink>(
    arm: &ArmClient,
    subscriptions: &[String],
    new_sink: impl Fn() -> Result<S, SpoolError>,
) -> Result<(InventorySource, S, Vec<String>), super::SweepError> {
    let mut sink = new_sink()?;
    let mut notes = Vec::new();
    match graph_records(arm, subscriptions, &mut sink, &mut notes).await {
        Ok(()) => Ok((InventorySource::ResourceGraph, sink, notes)),
        Err(graph) => {
            tracing::warn!(error = %graph, "Resource Graph inventory failed; listing clusters per subscription");
            // What the failed query gave is dropped: the listing is the inventory.
            drop(sink);
            let mut sink = new_sink()?;
            let mut notes = vec![format!("Resource Graph failed ({graph}); listed clusters per subscription instead")];
            match arm_records(arm, subscriptions, &mut sink, &mut notes).await {
                Ok(()) => Ok((InventorySource::ArmList, sink, notes)),
                Err(fallback) => Err(super::SweepError::Inventory { graph: graph.to_string(), fallback }),
            }
        }
    }
}

/// Runs [`RESOURCE_GRAPH_QUERY`] over `subscriptions` (all the identity can read when empty),
/// following `$skipToken` to the last page.
pub async fn query_resource_graph(arm: &ArmClient, subscriptions: &[String]) -> Result<(Vec<ClusterRecord>, Vec<String>), GraphError> {
    let mut sink = InMemory::default();
    let mut notes = Vec::new();
    graph_records(arm, subscriptions, &mut sink, &mut notes).await?;
    Ok((sink.out, notes))
}

/// [`query_resource_graph`] into `sink`. Each row becomes a record as it is read: a parsed
/// row (pools, profiles, add-ons) is ten times its record, so no page is held parsed.
async fn graph_records(arm: &ArmClient, subscriptions: &[String], sink: &mut impl Sink, notes: &mut Vec<String>) -> Result<(), GraphError> {
    graph_pages(arm, ArmCall::ResourceGraphQuery, RESOURCE_GRAPH_QUERY, subscriptions, &mut |row| match ClusterRecord::from_graph_row(&row) {
        Ok(r) => sink.add(r),
        Err(e) => notes.push(format!("skipped a Resource Graph row: {e}")),
    })
    .await
}

/// Every row of a Resource Graph `query` over `subscriptions` (all the identity can read when
/// empty), 1000 subscriptions per request, following `$skipToken` to the last page.
pub(crate) async fn graph_rows(arm: &ArmClient, call: ArmCall, query: &str, subscriptions: &[String]) -> Result<Vec<Value>, GraphError> {
    let mut out = Vec::new();
    graph_pages(arm, call, query, subscriptions, &mut |row| out.push(row)).await?;
    Ok(out)
}

/// [`graph_rows`] a row at a time: `row` gets each row as the page is read.
async fn graph_pages(arm: &ArmClient, call: ArmCall, query: &str, subscriptions: &[String], row: &mut (dyn FnMut(Value) + Send)) -> Result<(), GraphError> {
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
            let raw = arm.post_raw(call, "/providers/Microsoft.ResourceGraph/resources", RESOURCE_GRAPH_API_VERSION, Some(&body)).await?;
            let end = graph_page(&raw.bytes, row).map_err(|e| GraphError::Arm(raw.not_json(call, e)))?;
            skip_token = end.skip_token;
            if skip_token.is_none() {
                if end.truncated {
                    return Err(GraphError::Truncated);
                }
                break;
            }
        }
    }
    Ok(())
}

/// What a Resource Graph page says besides its rows.
#[derive(Debug, Default, PartialEq, Eq)]
struct PageEnd {
    /// `$skipToken` (absent, null or empty: the last page).
    skip_token: Option<String>,
    /// `resultTruncated`: a string ("true"/"false") in this API; a bool is accepted too.
    truncated: bool,
}

/// Reads one Resource Graph answer, handing each row of its `data` array to `row` as it is
/// parsed (a `data` that is not an array has no rows). Anything but a JSON object is an error.
fn graph_page(bytes: &[u8], row: &mut dyn FnMut(Value)) -> Result<PageEnd, serde_json::Error> {
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

    struct Page<'f>(&'f mut dyn FnMut(Value));
    struct Rows<'f>(&'f mut dyn FnMut(Value));

    impl<'de> Visitor<'de> for Page<'_> {
        type Value = PageEnd;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a Resource Graph answer (an object with `data`)")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PageEnd, A::Error> {
            let mut end = PageEnd::default();
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "data" => map.next_value_seed(Rows(&mut *self.0))?,
                    "$skipToken" => {
                        end.skip_token = map.next_value::<Value>()?.as_str().filter(|t| !t.is_empty()).map(str::to_string);
                    }
                    "resultTruncated" => {
                        end.truncated = match map.next_value::<Value>()? {
                            Value::String(t) => t.eq_ignore_ascii_case("true"),
                            Value::Bool(b) => b,
                            _ => false,
                        };
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(end)
        }
    }

    impl<'de> DeserializeSeed<'de> for Rows<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Rows<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("the rows of a Resource Graph answer")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(v) = seq.next_element::<Value>()? {
                (self.0)(v);
            }
            Ok(())
        }
        // Not an array (the older table format, null, …): no rows, as before.
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
    }

    let mut de = serde_json::Deserializer::from_slice(bytes);
    let end = de.deserialize_map(Page(row))?;
    de.end()?;
    Ok(end)
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
    let mut sink = InMemory::default();
    let mut notes = Vec::new();
    arm_records(arm, subscriptions, &mut sink, &mut notes).await?;
    Ok((sink.out, notes))
}

/// [`list_via_arm`] into `sink`, a subscription at a time.
async fn arm_records(arm: &ArmClient, subscriptions: &[String], sink: &mut impl Sink, notes: &mut Vec<String>) -> Result<(), ArmError> {
    let subs: Vec<String> = if subscriptions.is_empty() {
        arm.list_all(ArmCall::ListSubscriptions, "/subscriptions", SUBSCRIPTIONS_API_VERSION)
            .await?
            .iter()
            .filter_map(|s| s.get("subscriptionId").and_then(Value::as_str).map(str::to_string))
            .collect()
    } else {
        subscriptions.to_vec()
    };
    for sub in subs {
        let path = format!("/subscriptions/{sub}/providers/Microsoft.ContainerService/managedClusters");
        for item in arm.list_all(ArmCall::ListClusters, &path, AKS_API_VERSION).await? {
            match ClusterRecord::from_arm_resource(&item) {
                Ok(r) => sink.add(r),
                Err(e) => notes.push(format!("skipped a cluster in subscription {sub}: {e}")),
            }
        }
    }
    Ok(())
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

    fn page(text: &str) -> Result<(Vec<Value>, PageEnd), serde_json::Error> {
        let mut rows = Vec::new();
        let end = graph_page(text.as_bytes(), &mut |r| rows.push(r))?;
        Ok((rows, end))
    }

    #[test]
    fn a_graph_page_is_read_a_row_at_a_time_with_its_token_and_truncation() {
        let (rows, end) = page(r#"{"totalRecords": 3, "count": 2, "data": [{"id": "a"}, {"id": "b", "tags": {"x": [1, 2]}}], "facets": [], "resultTruncated": "false", "$skipToken": "next-page"}"#).unwrap();
        assert_eq!(rows, vec![json!({"id": "a"}), json!({"id": "b", "tags": {"x": [1, 2]}})]);
        assert_eq!(end, PageEnd { skip_token: Some("next-page".into()), truncated: false });
        // The last page: no token (absent, null or empty); truncation as a string or a bool.
        for last in [r#"{"data": [], "resultTruncated": "true"}"#, r#"{"data": [], "$skipToken": null, "resultTruncated": true}"#, r#"{"$skipToken": "", "resultTruncated": "True", "data": []}"#] {
            assert_eq!(page(last).unwrap().1, PageEnd { skip_token: None, truncated: true }, "{last}");
        }
        // `data` in the older table format (an object) or null: no rows.
        assert_eq!(page(r#"{"data": {"columns": [], "rows": [["a"]]}, "count": 1}"#).unwrap().0, Vec::<Value>::new());
        assert_eq!(page(r#"{"data": null}"#).unwrap().0, Vec::<Value>::new());
        // Not an answer at all.
        for bad in ["[]", r#"{"data": [{"id": "a"}"#, r#"{"data": []} trailing"#, "<html>"] {
            assert!(page(bad).is_err(), "{bad}");
        }
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
