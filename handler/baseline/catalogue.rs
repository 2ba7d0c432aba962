//! The catalogue: one entry per check, with the guide's section it comes from, the ARM
//! property paths it reads, a severity, the fix and a Microsoft doc link.
//!
//! Fixes name the resource group and cluster as `<resource-group>` and `<cluster>`;
//! [`Check::fix_for`] fills them in. Every property path is checked against Microsoft's ARM
//! spec (examples and definitions, cited in `docs/baseline.md`).

use serde_json::Value;

use super::{ClusterContext, Lookup, Outcome, Severity, lookup};
use crate::baseline::PricingTier;
use crate::domain::ClusterId;

/// One baseline check.
#[derive(Debug)]
pub struct Check {
    /// Stable id; the concern is `baseline:<id>` and policy names it.
    pub id: &'static str,
    /// What a passing cluster has, in a few words.
    pub title: &'static str,
    /// The section heading of the guide (`aks-security-best-practices.ja.md`) it implements.
    pub guide: &'static str,
    /// Where the fact is read: ARM property paths of the managed-cluster resource, or a
    /// subscription fact.
    pub paths: &'static [&'static str],
    pub severity: Severity,
    /// The exact command (or portal steps) that fixes a failing cluster.
    pub fix: &'static str,
    /// Microsoft's documentation for the setting.
    pub doc: &'static str,
    eval: fn(&Value, &ClusterContext) -> Outcome,
}

impl PartialEq for Check {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl Eq for Check {}

impl Check {
    /// Evaluates the check against a managed-cluster resource.
    pub fn evaluate(&self, resource: &Value, context: &ClusterContext) -> Outcome {
        (self.eval)(resource, context)
    }

    /// The fix with the cluster's resource group and name filled in.
    pub fn fix_for(&self, cluster: &ClusterId) -> String {
        self.fix.replace("<resource-group>", cluster.resource_group()).replace("<cluster>", cluster.name())
    }
}

/// The check with this id.
pub fn check(id: &str) -> Option<&'static Check> {
    CATALOGUE.iter().find(|c| c.id == id)
}

/// Every check id, in catalogue order.
pub fn check_ids() -> Vec<&'static str> {
    CATALOGUE.iter().map(|c| c.id).collect()
}

fn unknown(paths: &[&str]) -> Outcome {
    Outcome::Unknown { missing: paths.iter().map(|p| p.to_string()).collect() }
}

fn shown(l: Lookup<'_>) -> String {
    match l {
        Lookup::Value(v) => v.to_string(),
        Lookup::NotSet => "not set".into(),
        Lookup::Missing => "absent".into(),
    }
}

/// A check that passes when one boolean property is `true`.
fn flag_on(resource: &Value, path: &str, what_off: &str) -> Outcome {
    match lookup(resource, path).flag() {
        None => unknown(&[path]),
        Some(true) => Outcome::Pass,
        Some(false) => Outcome::fail(format!("{what_off} (`{path}` is {})", shown(lookup(resource, path)))),
    }
}

const P_PRIVATE: &str = "properties.apiServerAccessProfile.enablePrivateCluster";
const P_RANGES: &str = "properties.apiServerAccessProfile.authorizedIPRanges";
const P_RBAC: &str = "properties.enableRBAC";
const P_AAD_MANAGED: &str = "properties.aadProfile.managed";
const P_AZURE_RBAC: &str = "properties.aadProfile.enableAzureRBAC";
const P_LOCAL: &str = "properties.disableLocalAccounts";
const P_DEFENDER: &str = "properties.securityProfile.defender.securityMonitoring.enabled";
const P_POLICY: &str = "properties.addonProfiles.azurepolicy.enabled";
const P_KV: &str = "properties.addonProfiles.azureKeyvaultSecretsProvider.enabled";
const P_KV_ROTATION: &str = "properties.addonProfiles.azureKeyvaultSecretsProvider.config.enableSecretRotation";
const P_WI: &str = "properties.securityProfile.workloadIdentity.enabled";
const P_OIDC: &str = "properties.oidcIssuerProfile.enabled";
const P_POD_IDENTITY: &str = "properties.podIdentityProfile.enabled";
const P_NETPOL: &str = "properties.networkProfile.networkPolicy";
const P_OUTBOUND: &str = "properties.networkProfile.outboundType";
const P_POOLS: &str = "properties.agentPoolProfiles";
const P_NODE_PUBLIC_IP: &str = "properties.agentPoolProfiles[].enableNodePublicIP";
const P_HOST_ENCRYPTION: &str = "properties.agentPoolProfiles[].enableEncryptionAtHost";
const P_IMAGE_CLEANER: &str = "properties.securityProfile.imageCleaner.enabled";
const P_UPGRADE_CHANNEL: &str = "properties.autoUpgradeProfile.upgradeChannel";
const P_NODE_OS_CHANNEL: &str = "properties.autoUpgradeProfile.nodeOSUpgradeChannel";
const P_MAINTENANCE: &str = "maintenanceConfigurations (…/managedClusters/{name}/maintenanceConfigurations)";
const P_SKU_TIER: &str = "sku.tier";
const P_DEFENDER_PLAN: &str = "securityresources: microsoft.security/pricings `Containers` properties.pricingTier";

fn api_server_access(r: &Value, _: &ClusterContext) -> Outcome {
    let private = lookup(r, P_PRIVATE);
    let ranges = lookup(r, P_RANGES);
    if private.flag() == Some(true) {
        return Outcome::Pass;
    }
    if let Some(list) = ranges.value().and_then(Value::as_array)
        && !list.is_empty()
    {
        return Outcome::Pass;
    }
    if private == Lookup::Missing {
        return unknown(&[P_PRIVATE, P_RANGES]);
    }
    Outcome::fail("the API server has a public endpoint open to every address: not private and no authorized IP ranges")
}

fn rbac(r: &Value, _: &ClusterContext) -> Outcome {
    flag_on(r, P_RBAC, "Kubernetes RBAC is off")
}

fn entra(r: &Value, _: &ClusterContext) -> Outcome {
    flag_on(r, P_AAD_MANAGED, "AKS-managed Entra ID integration is off")
}

fn azure_rbac(r: &Value, _: &ClusterContext) -> Outcome {
    match lookup(r, P_AAD_MANAGED).flag() {
        None => unknown(&[P_AAD_MANAGED]),
        Some(false) => Outcome::NotApplicable {
            reason: "Azure RBAC for Kubernetes needs Entra ID integration first (check `entra-id`)".into(),
        },
        Some(true) => flag_on(r, P_AZURE_RBAC, "Kubernetes authorization does not use Azure RBAC"),
    }
}

fn local_accounts(r: &Value, _: &ClusterContext) -> Outcome {
    flag_on(r, P_LOCAL, "local accounts (the non-auditable --admin kubeconfig) are enabled")
}

fn defender_sensor(r: &Value, _: &ClusterContext) -> Outcome {
    flag_on(r, P_DEFENDER, "the Defender for Containers sensor is not enabled on the cluster")
}

fn defender_plan(_: &Value, ctx: &ClusterContext) -> Outcome {
    match &ctx.defender_plan {
        None => unknown(&[P_DEFENDER_PLAN]),
        Some(plan) if plan.tier == PricingTier::Standard => Outcome::Pass,
        Some(plan) => Outcome::fail(format!(
            "the subscription's Defender for Containers plan is {}",
            match &plan.tier {
                PricingTier::Free => "Free (off)".to_string(),
                PricingTier::NotFound => "not listed in Resource Graph (off)".to_string(),
                PricingTier::Other(s) => format!("\"{s}\""),
                PricingTier::Standard => unreachable!(),
            }
        )),
    }
}

fn azure_policy(r: &Value, _: &ClusterContext) -> Outcome {
    flag_on(r, P_POLICY, "the Azure Policy add-on is not enabled")
}

fn key_vault(r: &Value, _: &ClusterContext) -> Outcome {
    match lookup(r, P_KV).flag() {
        None => unknown(&[P_KV]),
        Some(false) => Outcome::fail(format!(
            "the Key Vault secrets provider add-on is not enabled (`{P_KV}` is {})",
            shown(lookup(r, P_KV))
        )),
        Some(true) => match lookup(r, P_KV_ROTATION).flag() {
            Some(true) => Outcome::Pass,
            _ => Outcome::fail(format!(
                "the Key Vault secrets provider is enabled without secret rotation (`{P_KV_ROTATION}` is {})",
                shown(lookup(r, P_KV_ROTATION))
            )),
        },
    }
}

fn workload_identity(r: &Value, _: &ClusterContext) -> Outcome {
    let (wi, oidc) = (lookup(r, P_WI).flag(), lookup(r, P_OIDC).flag());
    match (wi, oidc) {
        (Some(true), Some(true)) => Outcome::Pass,
        (Some(false), _) => Outcome::fail(format!("workload identity is off (`{P_WI}` is {})", shown(lookup(r, P_WI)))),
        (_, Some(false)) => {
            Outcome::fail(format!("the OIDC issuer is off (`{P_OIDC}` is {})", shown(lookup(r, P_OIDC))))
        }
        (None, _) | (_, None) => {
            let missing: Vec<&str> =
                [(wi, P_WI), (oidc, P_OIDC)].iter().filter(|(v, _)| v.is_none()).map(|(_, p)| *p).collect();
            unknown(&missing)
        }
    }
}

fn pod_identity_off(r: &Value, _: &ClusterContext) -> Outcome {
    match lookup(r, P_POD_IDENTITY).flag() {
        None => unknown(&[P_POD_IDENTITY]),
        Some(false) => Outcome::Pass,
        Some(true) => {
            Outcome::fail("the deprecated pod identity add-on is enabled (`podIdentityProfile.enabled` is true)")
        }
    }
}

fn network_policy(r: &Value, _: &ClusterContext) -> Outcome {
    match lookup(r, P_NETPOL).text() {
        None => unknown(&[P_NETPOL]),
        Some(p) if ["azure", "calico", "cilium"].iter().any(|k| k.eq_ignore_ascii_case(p)) => Outcome::Pass,
        Some("") => {
            Outcome::fail("no network policy engine: every pod can reach every other pod (`networkPolicy` not set)")
        }
        Some(p) => Outcome::fail(format!("no network policy engine (`networkPolicy` is \"{p}\")")),
    }
}

fn controlled_egress(r: &Value, _: &ClusterContext) -> Outcome {
    match lookup(r, P_OUTBOUND).text() {
        None => unknown(&[P_OUTBOUND]),
        Some(t) if t.eq_ignore_ascii_case("userDefinedRouting") || t.eq_ignore_ascii_case("none") => Outcome::Pass,
        Some("") => Outcome::fail("egress leaves through the default public load balancer (`outboundType` not set)"),
        Some(t) => Outcome::fail(format!(
            "egress leaves directly to the internet, not through a firewall route (`outboundType` is \"{t}\")"
        )),
    }
}

/// Pools (by name) for which `key` is `want`, or the reason the pools cannot be read.
fn pools_where(r: &Value, key: &str, want: bool) -> Result<Vec<String>, Outcome> {
    let pools = match lookup(r, P_POOLS) {
        Lookup::Missing => return Err(unknown(&[P_POOLS])),
        Lookup::NotSet => return Ok(Vec::new()),
        Lookup::Value(v) => v.as_array().map(Vec::as_slice).unwrap_or_default(),
    };
    Ok(pools
        .iter()
        .filter(|p| (p.get(key).and_then(Value::as_bool) == Some(true)) == want)
        .map(|p| p.get("name").and_then(Value::as_str).unwrap_or("(unnamed)").to_string())
        .collect())
}

fn no_node_public_ip(r: &Value, _: &ClusterContext) -> Outcome {
    match pools_where(r, "enableNodePublicIP", true) {
        Err(o) => o,
        Ok(pools) if pools.is_empty() => Outcome::Pass,
        Ok(pools) => Outcome::fail(format!("nodes have public IP addresses in pool(s): {}", pools.join(", "))),
    }
}

fn encryption_at_host(r: &Value, _: &ClusterContext) -> Outcome {
    match pools_where(r, "enableEncryptionAtHost", false) {
        Err(o) => o,
        Ok(pools) if pools.is_empty() => Outcome::Pass,
        Ok(pools) => Outcome::fail(format!("encryption at host is off in pool(s): {}", pools.join(", "))),
    }
}

fn image_cleaner(r: &Value, _: &ClusterContext) -> Outcome {
    flag_on(r, P_IMAGE_CLEANER, "Image Cleaner is off: unused (possibly vulnerable) images stay on the nodes")
}

fn upgrade_channel(r: &Value, _: &ClusterContext) -> Outcome {
    match lookup(r, P_UPGRADE_CHANNEL).text() {
        None => unknown(&[P_UPGRADE_CHANNEL]),
        Some(c) if c.is_empty() || c.eq_ignore_ascii_case("none") => Outcome::fail(format!(
            "no auto-upgrade channel (`upgradeChannel` is {})",
            if c.is_empty() { "not set" } else { "\"none\"" }
        )),
        // `node-image` upgrades node images only; the spec points to nodeOSUpgradeChannel for that.
        Some(c) if c.eq_ignore_ascii_case("node-image") => Outcome::fail(
            "`upgradeChannel` is \"node-image\": it upgrades node images, never Kubernetes (set patch, stable or rapid)",
        ),
        Some(_) => Outcome::Pass,
    }
}

fn node_os_channel(r: &Value, _: &ClusterContext) -> Outcome {
    match lookup(r, P_NODE_OS_CHANNEL).text() {
        None => unknown(&[P_NODE_OS_CHANNEL]),
        // Not set is the ARM default, which the spec (2025-10-01 `NodeOSUpgradeChannel`) gives
        // as NodeImage.
        Some(c) if c.is_empty() || c.eq_ignore_ascii_case("NodeImage") || c.eq_ignore_ascii_case("SecurityPatch") => {
            Outcome::Pass
        }
        Some(c) => {
            Outcome::fail(format!("nodes get no AKS-managed security updates (`nodeOSUpgradeChannel` is \"{c}\")"))
        }
    }
}

fn maintenance_window(_: &Value, ctx: &ClusterContext) -> Outcome {
    match &ctx.maintenance_configurations {
        None => unknown(&[P_MAINTENANCE]),
        Some(names) if names.is_empty() => {
            Outcome::fail("no planned-maintenance configuration: upgrades may start at any time")
        }
        Some(_) => Outcome::Pass,
    }
}

fn sku_tier(r: &Value, _: &ClusterContext) -> Outcome {
    match lookup(r, P_SKU_TIER).text() {
        None => unknown(&[P_SKU_TIER]),
        Some(t) if t.eq_ignore_ascii_case("Standard") || t.eq_ignore_ascii_case("Premium") => Outcome::Pass,
        Some("") => Outcome::fail("no uptime SLA (`sku.tier` not set: Free)"),
        Some(t) => Outcome::fail(format!("no uptime SLA (`sku.tier` is \"{t}\")")),
    }
}

macro_rules! doc {
    ($path:literal) => {
        concat!("https://learn.microsoft.com/azure/", $path)
    };
}

/// Every check, in the order of the guide.
pub static CATALOGUE: &[Check] = &[
    Check {
        id: "api-server-access",
        title: "API server is private or limited to authorized IP ranges",
        guide: "Kubernetes API コントロールプレーン",
        paths: &[P_PRIVATE, P_RANGES],
        severity: Severity::High,
        fix: "az aks update -g <resource-group> -n <cluster> --api-server-authorized-ip-ranges <CIDR>[,<CIDR>...]  (or make it private: az aks update --enable-private-cluster works on clusters with API Server VNet Integration; others need a new cluster created with --enable-private-cluster)",
        doc: doc!("aks/api-server-authorized-ip-ranges"),
        eval: api_server_access,
    },
    Check {
        id: "kubernetes-rbac",
        title: "Kubernetes RBAC is enabled",
        guide: "Azure AD 統合",
        paths: &[P_RBAC],
        severity: Severity::High,
        fix: "Kubernetes RBAC cannot be turned on in place: recreate the cluster (az aks create enables RBAC by default)",
        doc: doc!("aks/azure-ad-rbac"),
        eval: rbac,
    },
    Check {
        id: "entra-id",
        title: "AKS-managed Entra ID (Azure AD) integration",
        guide: "Azure AD 統合",
        paths: &[P_AAD_MANAGED],
        severity: Severity::High,
        fix: "az aks update -g <resource-group> -n <cluster> --enable-aad --aad-admin-group-object-ids <group-object-id>",
        doc: doc!("aks/enable-authentication-microsoft-entra-id"),
        eval: entra,
    },
    Check {
        id: "local-accounts-disabled",
        title: "Local accounts are disabled",
        guide: "Azure AD 統合",
        paths: &[P_LOCAL],
        severity: Severity::High,
        fix: "az aks update -g <resource-group> -n <cluster> --disable-local-accounts  (needs Entra ID integration first; then rotate certificates to revoke issued admin kubeconfigs)",
        doc: doc!("aks/manage-local-accounts-managed-azure-ad"),
        eval: local_accounts,
    },
    Check {
        id: "azure-rbac",
        title: "Azure RBAC for Kubernetes authorization",
        guide: "Azure AD 統合",
        paths: &[P_AAD_MANAGED, P_AZURE_RBAC],
        severity: Severity::Medium,
        fix: "az aks update -g <resource-group> -n <cluster> --enable-azure-rbac",
        doc: doc!("aks/manage-azure-rbac"),
        eval: azure_rbac,
    },
    Check {
        id: "node-os-upgrade-channel",
        title: "Nodes receive security updates automatically",
        guide: "ノードセキュリティ",
        paths: &[P_NODE_OS_CHANNEL],
        severity: Severity::Medium,
        fix: "az aks update -g <resource-group> -n <cluster> --node-os-upgrade-channel NodeImage",
        doc: doc!("aks/auto-upgrade-node-os-image"),
        eval: node_os_channel,
    },
    Check {
        id: "maintenance-window",
        title: "A planned-maintenance window is configured",
        guide: "ノードセキュリティ",
        paths: &[P_MAINTENANCE],
        severity: Severity::Low,
        fix: "az aks maintenanceconfiguration add -g <resource-group> --cluster-name <cluster> -n aksManagedAutoUpgradeSchedule --schedule-type Weekly --day-of-week Sunday --interval-weeks 1 --start-time 00:00 --duration 4 --utc-offset +00:00",
        doc: doc!("aks/planned-maintenance"),
        eval: maintenance_window,
    },
    Check {
        id: "auto-upgrade-channel",
        title: "An auto-upgrade channel is set",
        guide: "Kubernetes のバージョンアップグレード",
        paths: &[P_UPGRADE_CHANNEL],
        severity: Severity::Medium,
        fix: "az aks update -g <resource-group> -n <cluster> --auto-upgrade-channel patch",
        doc: doc!("aks/auto-upgrade-cluster"),
        eval: upgrade_channel,
    },
    Check {
        id: "defender-sensor",
        title: "Defender for Containers sensor is enabled on the cluster",
        guide: "Azure Defender for Container の有効化",
        paths: &[P_DEFENDER],
        severity: Severity::Medium,
        fix: "az aks update -g <resource-group> -n <cluster> --enable-defender",
        doc: doc!("defender-for-cloud/defender-for-containers-enable"),
        eval: defender_sensor,
    },
    Check {
        id: "defender-plan",
        title: "Defender for Containers plan is on for the subscription",
        guide: "Azure Defender for Container の有効化",
        paths: &[P_DEFENDER_PLAN],
        severity: Severity::Medium,
        fix: "az security pricing create -n Containers --tier standard  (in the cluster's subscription; the plan is billed)",
        doc: doc!("defender-for-cloud/defender-for-containers-introduction"),
        eval: defender_plan,
    },
    Check {
        id: "encryption-at-host",
        title: "Every node pool encrypts at host",
        guide: "暗号化",
        paths: &[P_HOST_ENCRYPTION],
        severity: Severity::Medium,
        fix: "az aks nodepool add -g <resource-group> --cluster-name <cluster> -n <new-pool> --enable-encryption-at-host, move the workloads, then az aks nodepool delete the old pool",
        doc: doc!("aks/enable-host-encryption"),
        eval: encryption_at_host,
    },
    Check {
        id: "network-policy",
        title: "A network policy engine is enabled",
        guide: "ネットワークポリシー",
        paths: &[P_NETPOL],
        severity: Severity::High,
        fix: "az aks update -g <resource-group> -n <cluster> --network-policy azure  (or calico / cilium)",
        doc: doc!("aks/use-network-policies"),
        eval: network_policy,
    },
    Check {
        id: "no-node-public-ip",
        title: "No node has a public IP address",
        guide: "エグレストラフィックのセキュリティ",
        paths: &[P_NODE_PUBLIC_IP],
        severity: Severity::High,
        fix: "az aks nodepool add -g <resource-group> --cluster-name <cluster> -n <new-pool> (without --enable-node-public-ip), move the workloads, then az aks nodepool delete the old pool",
        doc: doc!("aks/use-node-public-ips"),
        eval: no_node_public_ip,
    },
    Check {
        id: "controlled-egress",
        title: "Egress goes through a firewall (user-defined routing)",
        guide: "エグレストラフィックのセキュリティ",
        paths: &[P_OUTBOUND],
        severity: Severity::Low,
        fix: "route the cluster subnet's 0.0.0.0/0 to a firewall, then az aks update -g <resource-group> -n <cluster> --outbound-type userDefinedRouting",
        doc: doc!("aks/egress-outboundtype"),
        eval: controlled_egress,
    },
    Check {
        id: "key-vault-secrets-provider",
        title: "Key Vault secrets provider with secret rotation",
        guide: "シークレットの外部化",
        paths: &[P_KV, P_KV_ROTATION],
        severity: Severity::Low,
        fix: "az aks enable-addons -g <resource-group> -n <cluster> --addons azure-keyvault-secrets-provider --enable-secret-rotation  (already enabled: az aks addon update -g <resource-group> -n <cluster> --addon azure-keyvault-secrets-provider --enable-secret-rotation)",
        doc: doc!("aks/csi-secrets-store-driver"),
        eval: key_vault,
    },
    Check {
        id: "workload-identity",
        title: "Workload identity and the OIDC issuer are enabled",
        guide: "ワークロードアイデンティティ",
        paths: &[P_WI, P_OIDC],
        severity: Severity::Medium,
        fix: "az aks update -g <resource-group> -n <cluster> --enable-oidc-issuer --enable-workload-identity",
        doc: doc!("aks/workload-identity-deploy-cluster"),
        eval: workload_identity,
    },
    Check {
        id: "pod-identity-off",
        title: "The deprecated pod identity add-on is off",
        guide: "ワークロードアイデンティティ",
        paths: &[P_POD_IDENTITY],
        severity: Severity::Medium,
        fix: "move workloads to workload identity, then az aks update -g <resource-group> -n <cluster> --disable-pod-identity",
        doc: doc!("aks/workload-identity-migrate-from-pod-identity"),
        eval: pod_identity_off,
    },
    Check {
        id: "azure-policy",
        title: "The Azure Policy add-on is enabled",
        guide: "ガバナンスの懸念点と Azure ポリシー",
        paths: &[P_POLICY],
        severity: Severity::Medium,
        fix: "az aks enable-addons -g <resource-group> -n <cluster> --addons azure-policy",
        doc: doc!("governance/policy/concepts/policy-for-kubernetes"),
        eval: azure_policy,
    },
    Check {
        id: "image-cleaner",
        title: "Image Cleaner removes unused images from nodes",
        guide: "イメージ管理の懸念点",
        paths: &[P_IMAGE_CLEANER],
        severity: Severity::Low,
        fix: "az aks update -g <resource-group> -n <cluster> --enable-image-cleaner",
        doc: doc!("aks/image-cleaner"),
        eval: image_cleaner,
    },
    Check {
        id: "uptime-sla",
        title: "Standard (or Premium) tier with the uptime SLA",
        guide: "(not in the guide: added by issue 14 for production clusters)",
        paths: &[P_SKU_TIER],
        severity: Severity::Low,
        fix: "az aks update -g <resource-group> -n <cluster> --tier standard",
        doc: doc!("aks/free-standard-pricing-tiers"),
        eval: sku_tier,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    const LEARN: &str = "https://learn.microsoft.com/azure/";

    #[test]
    fn ids_are_unique_kebab_case_and_docs_point_to_microsoft() {
        let ids = check_ids();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "duplicate id in {ids:?}");
        for c in CATALOGUE {
            assert!(c.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", c.id);
            assert!(c.doc.starts_with(LEARN), "{}", c.doc);
            assert!(!c.paths.is_empty() && !c.fix.is_empty() && !c.guide.is_empty(), "{}", c.id);
        }
    }

    #[test]
    fn fixes_name_the_cluster() {
        let id = ClusterId::from_parts("s", "rg-prod", "aks-prod");
        let fix = check("local-accounts-disabled").unwrap().fix_for(&id);
        assert!(fix.starts_with("az aks update -g rg-prod -n aks-prod --disable-local-accounts"), "{fix}");
    }
}
