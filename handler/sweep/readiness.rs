//! The reads behind upgrade readiness (`crate::readiness` decides; this module only reads).
//!
//! Run for a cluster only when the sweep found an upgrade pending for it (a control-plane
//! version offered, or a newer node image for a pool), and shared across the sweep:
//!
//! | read | RBAC action | per |
//! |---|---|---|
//! | `GET /subscriptions/{s}/providers/Microsoft.Compute/locations/{l}/usages` (api-version 2024-07-01) | `Microsoft.Compute/locations/usages/read` | subscription + region, once per sweep |
//! | `GET …/Microsoft.Network/virtualNetworks/{v}/usages` (api-version 2024-05-01) | `Microsoft.Network/virtualNetworks/usages/read` | virtual network, once per sweep |
//!
//! The pools' own settings (`count`, `vmSize`, `maxPods`, `upgradeSettings`, `vnetSubnetID`,
//! `podSubnetID`) and the network plugin come from the inventory's `agentPoolProfiles` and
//! `networkProfile` (the Resource Graph projection the baseline also reads): no read per cluster.
//!
//! Subnet headroom is read through the virtual network's usages list rather than a GET of each
//! subnet: one small read gives every subnet of the network its used and total addresses
//! (`currentValue` / `limit`, the counter "Subnet size and usage"), where a subnet GET lists one
//! id per IP configuration (thousands for a busy subnet) and leaves Azure's five reserved
//! addresses to the reader. Clusters of one network share the read.
//!
//! A failed read never fails the sweep: it becomes [`Reading::Unknown`] naming the cause. A
//! refusal (403, 404) is remembered for the sweep, so a missing role action costs one read per
//! region or network, not one per cluster; a throttled or failing read is not (the next cluster
//! tries again).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::OnceCell;

use super::inventory::ClusterRecord;
use crate::azure::{ArmCall, ArmClient, ArmError, ArmErrorKind};
use crate::readiness::{PoolSurge, ReadinessFacts, Reading, Usage};

/// api-version of the Compute usages list.
pub const COMPUTE_API_VERSION: &str = "2024-07-01";
/// api-version of the virtual network usages list.
pub const NETWORK_API_VERSION: &str = "2024-05-01";

type Usages = Reading<BTreeMap<String, Usage>>;

/// Readiness answers shared by every cluster of one sweep run (single flight per key).
#[derive(Debug, Default)]
pub struct ReadinessCache {
    quota: Mutex<HashMap<String, Arc<OnceCell<Usages>>>>,
    networks: Mutex<HashMap<String, Arc<OnceCell<Usages>>>>,
}

impl ReadinessCache {
    fn cell(
        map: &Mutex<HashMap<String, Arc<OnceCell<Usages>>>>,
        key: &str,
    ) -> Arc<OnceCell<Usages>> {
        map.lock()
            .expect("cache lock")
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// (subscription+region keys, virtual networks) held.
    pub fn sizes(&self) -> (usize, usize) {
        (
            self.quota.lock().expect("cache lock").len(),
            self.networks.lock().expect("cache lock").len(),
        )
    }

    /// The Compute usages of `subscription` in `region`, by counter name.
    pub async fn quota(&self, arm: &ArmClient, subscription: &str, region: &str) -> Usages {
        let region = region.to_ascii_lowercase().replace(' ', "");
        let key = format!("{}/{region}", subscription.to_ascii_lowercase());
        let path = format!(
            "/subscriptions/{subscription}/providers/Microsoft.Compute/locations/{region}/usages"
        );
        let what = format!("Compute usages of subscription {subscription} in {region}");
        let cell = Self::cell(&self.quota, &key);
        shared(
            &cell,
            || async {
                let items = arm
                    .list_all(ArmCall::ListComputeUsages, &path, COMPUTE_API_VERSION)
                    .await?;
                Ok(items
                    .iter()
                    .filter_map(|u| {
                        Some((u.pointer("/name/value")?.as_str()?.to_string(), usage(u)?))
                    })
                    .collect())
            },
            &what,
        )
        .await
    }

    /// Every subnet of the virtual network `vnet` (its id) → its usage, keys in lower case.
    pub async fn network(&self, arm: &ArmClient, vnet: &str) -> Usages {
        let cell = Self::cell(&self.networks, &vnet.to_ascii_lowercase());
        let path = format!("{vnet}/usages");
        let what = format!(
            "usages of virtual network {}",
            vnet.rsplit('/').next().unwrap_or(vnet)
        );
        shared(
            &cell,
            || async {
                let items = arm
                    .list_all(
                        ArmCall::ListVirtualNetworkUsages,
                        &path,
                        NETWORK_API_VERSION,
                    )
                    .await?;
                Ok(items
                    .iter()
                    .filter_map(|u| Some((u.get("id")?.as_str()?.to_ascii_lowercase(), usage(u)?)))
                    .collect())
            },
            &what,
        )
        .await
    }
}

/// `currentValue` / `limit` of one usage entry (ARM sends them as numbers, sometimes `2.0`).
fn usage(u: &Value) -> Option<Usage> {
    let n = |k: &str| {
        u.get(k)
            .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
    };
    Some(Usage {
        current: n("currentValue")?,
        limit: n("limit")?,
    })
}

/// The cause of a failed readiness read, with the fix when it is ours to name.
fn cause(what: &str, e: &ArmError) -> String {
    match e.kind {
        ArmErrorKind::Forbidden => format!(
            "{what}: {e} — grant {} to aks-cadence's identity (infra/roles/reader.json)",
            e.call.required_action()
        ),
        _ => format!("{what}: {e}"),
    }
}

/// Reads once per key: an answer or a refusal is kept for the run, a failure a retry may fix
/// is not (this caller gets it as unknown; the next one reads again).
async fn shared<F, Fut>(cell: &OnceCell<Usages>, read: F, what: &str) -> Usages
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<BTreeMap<String, Usage>, ArmError>>,
{
    let r = cell
        .get_or_try_init(|| async {
            match read().await {
                Ok(v) => Ok(Reading::Known(v)),
                Err(e) if e.is_retryable() => Err(e),
                Err(e) => Ok(Reading::Unknown(cause(what, &e))),
            }
        })
        .await;
    match r {
        Ok(v) => v.clone(),
        Err(e) => Reading::Unknown(cause(what, &e)),
    }
}

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
}

fn n(v: Option<&Value>) -> Option<u32> {
    v.and_then(Value::as_u64)
        .map(|x| x.min(u64::from(u32::MAX)) as u32)
}

/// The pools' upgrade-relevant settings from the inventory record (`agentPoolProfiles` and
/// `networkProfile` of its baseline projection), with notes for what is missing.
pub fn pools_of(record: &ClusterRecord) -> (Vec<PoolSurge>, Vec<String>) {
    let mut notes = Vec::new();
    let baseline = record.baseline.as_ref().map(super::inventory::BaselineView::value);
    let props = baseline.as_ref().and_then(|b| b.get("properties"));
    let Some(profiles) = props
        .and_then(|p| p.get("agentPoolProfiles"))
        .and_then(Value::as_array)
    else {
        notes.push(
            "no agentPoolProfiles in inventory: surge, quota and subnet readiness not checked"
                .into(),
        );
        return (Vec::new(), notes);
    };
    let network = props.and_then(|p| p.get("networkProfile"));
    let plugin = s(network.and_then(|n| n.get("networkPlugin")))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let overlay = s(network.and_then(|n| n.get("networkPluginMode")))
        .is_some_and(|m| m.eq_ignore_ascii_case("overlay"));
    let pools = profiles
        .iter()
        .filter_map(|p| {
            let name = s(p.get("name"))?;
            let settings = p.get("upgradeSettings");
            let max_pods = n(p.get("maxPods")).unwrap_or(30);
            let node_subnet = s(p.get("vnetSubnetID"));
            let pod_subnet = s(p.get("podSubnetID"));
            // Azure CNI without overlay and without a pod subnet gives pods node-subnet addresses.
            let flat_cni = plugin == "azure" && !overlay && pod_subnet.is_none();
            Some(PoolSurge {
                count: n(p.get("count")).unwrap_or(0),
                vm_size: s(p.get("vmSize")),
                max_surge: s(settings.and_then(|u| u.get("maxSurge"))),
                max_unavailable: s(settings.and_then(|u| u.get("maxUnavailable"))),
                drain_timeout_minutes: n(settings.and_then(|u| u.get("drainTimeoutInMinutes"))),
                node_soak_minutes: n(settings.and_then(|u| u.get("nodeSoakDurationInMinutes"))),
                undrainable_node_behavior: s(
                    settings.and_then(|u| u.get("undrainableNodeBehavior"))
                ),
                node_subnet,
                node_subnet_ips_per_node: if flat_cni { 1 + max_pods } else { 1 },
                pod_subnet_ips_per_node: if pod_subnet.is_some() { max_pods } else { 0 },
                pod_subnet,
                name,
            })
        })
        .collect();
    (pools, notes)
}

/// The virtual network id of a subnet id (`…/virtualNetworks/v/subnets/s` → `…/virtualNetworks/v`).
pub fn network_of(subnet: &str) -> Option<&str> {
    let lower = subnet.to_ascii_lowercase();
    lower.rfind("/subnets/").map(|i| &subnet[..i])
}

/// Everything readiness needs for `record`: its pools from inventory, the region's quota and
/// the usage of every subnet its pools take addresses from (all through `cache`).
pub async fn read(
    arm: &ArmClient,
    cache: &ReadinessCache,
    record: &ClusterRecord,
) -> ReadinessFacts {
    let (pools, notes) = pools_of(record);
    let mut facts = ReadinessFacts {
        pools,
        notes,
        ..Default::default()
    };
    if facts.pools.is_empty() {
        return facts;
    }
    if record.location.is_empty() {
        facts.quota = Some(Reading::Unknown("no location in inventory".into()));
    } else {
        facts.quota = Some(
            cache
                .quota(arm, record.id.subscription(), &record.location)
                .await,
        );
    }
    let subnets: Vec<String> = facts
        .pools
        .iter()
        .flat_map(|p| [p.node_subnet.clone(), p.pod_subnet.clone()])
        .flatten()
        .collect();
    for subnet in subnets {
        if facts.subnets.contains_key(&subnet) {
            continue;
        }
        let reading = match network_of(&subnet) {
            None => Reading::Unknown(format!("{subnet} is not a subnet id")),
            Some(vnet) => match cache.network(arm, vnet).await {
                Reading::Known(all) => match all.get(&subnet.to_ascii_lowercase()) {
                    Some(u) => Reading::Known(*u),
                    None => Reading::Unknown(format!(
                        "the usages of its virtual network do not list {subnet}"
                    )),
                },
                Reading::Unknown(c) => Reading::Unknown(c),
            },
        };
        facts.subnets.insert(subnet, reading);
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pools_take_subnet_addresses_by_network_plugin() {
        let record = |plugin: &str, mode: Option<&str>, pod_subnet: Option<&str>| {
            let mut pool = json!({"name": "np", "count": 3, "vmSize": "Standard_D4s_v3", "maxPods": 30,
                "vnetSubnetID": "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/V/subnets/Nodes",
                "upgradeSettings": {"maxSurge": "33%", "drainTimeoutInMinutes": 45}});
            if let Some(p) = pod_subnet {
                pool["podSubnetID"] = json!(p);
            }
            let mut network = json!({"networkPlugin": plugin});
            if let Some(m) = mode {
                network["networkPluginMode"] = json!(m);
            }
            let v = json!({"id": "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/c", "location": "westeurope",
                "properties": {"agentPoolProfiles": [pool], "networkProfile": network}});
            ClusterRecord::from_arm_resource(&v).unwrap()
        };
        let (flat, _) = pools_of(&record("azure", None, None));
        assert_eq!(flat[0].node_subnet_ips_per_node, 31);
        assert_eq!(
            flat[0].node_subnet.as_deref(),
            Some(
                "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/V/subnets/Nodes"
            )
        );
        assert_eq!(
            (flat[0].max_surge.as_deref(), flat[0].drain_timeout_minutes),
            (Some("33%"), Some(45))
        );
        let (overlay, _) = pools_of(&record("azure", Some("overlay"), None));
        assert_eq!(overlay[0].node_subnet_ips_per_node, 1);
        let (kubenet, _) = pools_of(&record("kubenet", None, None));
        assert_eq!(kubenet[0].node_subnet_ips_per_node, 1);
        let (dynamic, _) = pools_of(&record(
            "azure",
            None,
            Some("/x/virtualNetworks/V/subnets/Pods"),
        ));
        assert_eq!(
            (
                dynamic[0].node_subnet_ips_per_node,
                dynamic[0].pod_subnet_ips_per_node
            ),
            (1, 30)
        );
    }

    #[test]
    fn subnets_belong_to_their_virtual_network() {
        assert_eq!(
            network_of("/s/x/providers/Microsoft.Network/virtualNetworks/v/subnets/a"),
            Some("/s/x/providers/Microsoft.Network/virtualNetworks/v")
        );
        assert_eq!(network_of("/not/a/subnet"), None);
    }

    #[test]
    fn the_virtual_network_usage_example_reads_as_usages() {
        let raw =
            include_str!("../../tests/fixtures/arm/virtual_network_list_usage.2023-09-01.json");
        let v: Value = serde_json::from_str(raw).unwrap();
        let items = v["responses"]["200"]["body"]["value"].as_array().unwrap();
        let got: Vec<Usage> = items.iter().filter_map(usage).collect();
        assert_eq!(
            got,
            vec![
                Usage {
                    current: -1,
                    limit: -1
                },
                Usage {
                    current: 2,
                    limit: 3
                }
            ]
        );
        assert_eq!(got[0].available(), None);
        assert_eq!(got[1].available(), Some(1));
    }
}
