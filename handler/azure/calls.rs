//! Every kind of ARM request aks-cadence makes, and the RBAC action each one needs.
//!
//! Every request the [`ArmClient`](super::ArmClient) sends names its [`ArmCall`], so this table
//! is complete by construction; `tests/arm_role.rs` checks that the roles in `infra/roles/`
//! grant exactly these actions together and that `docs/azure.md` explains each one.

use super::throttle::Budget;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArmCall {
    /// `POST /providers/Microsoft.ResourceGraph/resources` — fleet inventory.
    ResourceGraphQuery,
    /// `GET /subscriptions` — the subscriptions to list clusters in when Resource Graph fails
    /// and `CADENCE_SUBSCRIPTIONS` is empty.
    ListSubscriptions,
    /// `GET /subscriptions/{s}/providers/Microsoft.ContainerService/managedClusters` — inventory
    /// fallback.
    ListClusters,
    /// `GET …/managedClusters/{c}` — live gates and ETag before an upgrade or rotation.
    GetCluster,
    /// `PUT …/managedClusters/{c}` with `If-Match` — patch/minor upgrade, pools following.
    PutCluster,
    /// `GET …/managedClusters/{c}/upgradeProfiles/default` — control-plane upgrades offered.
    GetUpgradeProfile,
    /// `GET …/agentPools/{p}/upgradeProfiles/default` — `latestNodeImageVersion`.
    GetAgentPoolUpgradeProfile,
    /// `POST …/agentPools/{p}/upgradeNodeImageVersion` — node image upgrade.
    UpgradeNodeImageVersion,
    /// `POST …/managedClusters/{c}/rotateClusterCertificates` — certificate rotation.
    RotateClusterCertificates,
    /// `GET …/managedClusters/{c}/maintenanceConfigurations` — planned-maintenance windows.
    ListMaintenanceConfigurations,
    /// `GET /subscriptions/{s}/providers/Microsoft.ContainerService/locations/{l}/kubernetesVersions`
    /// — versions and support plans offered in a region.
    ListKubernetesVersions,
    /// `POST …/managedClusters/{c}/listClusterUserCredential` — the kubeconfig whose client
    /// certificate the certificate check reads.
    ListClusterUserCredential,
    /// `GET …/providers/Microsoft.ContainerService/locations/{l}/operations/{id}` — polling an
    /// `Azure-AsyncOperation` URL.
    PollOperationStatus,
    /// `GET …/providers/Microsoft.ContainerService/locations/{l}/operationresults/{id}` — polling a
    /// `Location` URL.
    PollOperationResult,
    /// `POST /providers/Microsoft.ResourceGraph/resources` — the event-wiring check: the AKS
    /// Event Grid system topics of the fleet. Resource Graph returns only rows the identity may
    /// read, so the action this call needs beyond the query itself is reading system topics.
    EventWiringQuery,
    /// `GET …/Microsoft.EventGrid/systemTopics/{t}/eventSubscriptions` — whether a cluster's
    /// system topic delivers to this app's `aks-events` function.
    ListSystemTopicEventSubscriptions,
    /// `GET /subscriptions/{s}/providers/Microsoft.Compute/locations/{l}/usages` — regional
    /// vCPU quota headroom for an upgrade's surge nodes (readiness).
    ListComputeUsages,
    /// `GET …/Microsoft.Network/virtualNetworks/{v}/usages` — free addresses of the subnets
    /// an upgrade's surge nodes (and their pods) take addresses from (readiness).
    ListVirtualNetworkUsages,
}

impl ArmCall {
    pub const ALL: [ArmCall; 18] = [
        Self::ResourceGraphQuery,
        Self::ListSubscriptions,
        Self::ListClusters,
        Self::GetCluster,
        Self::PutCluster,
        Self::GetUpgradeProfile,
        Self::GetAgentPoolUpgradeProfile,
        Self::UpgradeNodeImageVersion,
        Self::RotateClusterCertificates,
        Self::ListMaintenanceConfigurations,
        Self::ListKubernetesVersions,
        Self::ListClusterUserCredential,
        Self::PollOperationStatus,
        Self::PollOperationResult,
        Self::EventWiringQuery,
        Self::ListSystemTopicEventSubscriptions,
        Self::ListComputeUsages,
        Self::ListVirtualNetworkUsages,
    ];

    /// The RBAC action ARM checks for this call (spelled as in the resource provider's
    /// operations list; RBAC compares case-insensitively).
    pub fn required_action(self) -> &'static str {
        match self {
            Self::ResourceGraphQuery => "Microsoft.ResourceGraph/resources/read",
            Self::ListSubscriptions => "Microsoft.Resources/subscriptions/read",
            Self::ListClusters | Self::GetCluster => "Microsoft.ContainerService/managedClusters/read",
            Self::PutCluster => "Microsoft.ContainerService/managedClusters/write",
            Self::GetUpgradeProfile => "Microsoft.ContainerService/managedClusters/upgradeProfiles/read",
            Self::GetAgentPoolUpgradeProfile => "Microsoft.ContainerService/managedClusters/agentPools/upgradeProfiles/read",
            Self::UpgradeNodeImageVersion => "Microsoft.ContainerService/managedClusters/agentPools/upgradeNodeImageVersion/action",
            Self::RotateClusterCertificates => "Microsoft.ContainerService/managedClusters/rotateClusterCertificates/action",
            Self::ListMaintenanceConfigurations => "Microsoft.ContainerService/managedClusters/maintenanceConfigurations/read",
            Self::ListKubernetesVersions => "Microsoft.ContainerService/locations/kubernetesversions/read",
            Self::ListClusterUserCredential => "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
            Self::PollOperationStatus => "Microsoft.ContainerService/locations/operations/read",
            Self::PollOperationResult => "Microsoft.ContainerService/locations/operationresults/read",
            Self::EventWiringQuery => "Microsoft.EventGrid/systemTopics/read",
            Self::ListSystemTopicEventSubscriptions => "Microsoft.EventGrid/systemTopics/eventSubscriptions/read",
            Self::ListComputeUsages => "Microsoft.Compute/locations/usages/read",
            Self::ListVirtualNetworkUsages => "Microsoft.Network/virtualNetworks/usages/read",
        }
    }

    /// A short stable name for logs and counters.
    pub fn name(self) -> &'static str {
        match self {
            Self::ResourceGraphQuery => "resource-graph-query",
            Self::ListSubscriptions => "list-subscriptions",
            Self::ListClusters => "list-clusters",
            Self::GetCluster => "get-cluster",
            Self::PutCluster => "put-cluster",
            Self::GetUpgradeProfile => "get-upgrade-profile",
            Self::GetAgentPoolUpgradeProfile => "get-agent-pool-upgrade-profile",
            Self::UpgradeNodeImageVersion => "upgrade-node-image-version",
            Self::RotateClusterCertificates => "rotate-cluster-certificates",
            Self::ListMaintenanceConfigurations => "list-maintenance-configurations",
            Self::ListKubernetesVersions => "list-kubernetes-versions",
            Self::ListClusterUserCredential => "list-cluster-user-credential",
            Self::PollOperationStatus => "poll-operation-status",
            Self::PollOperationResult => "poll-operation-result",
            Self::EventWiringQuery => "event-wiring-query",
            Self::ListSystemTopicEventSubscriptions => "list-system-topic-event-subscriptions",
            Self::ListComputeUsages => "list-compute-usages",
            Self::ListVirtualNetworkUsages => "list-virtual-network-usages",
        }
    }

    /// Which of ARM's buckets the call draws from. ARM meters by HTTP method: GET is a read;
    /// PUT/POST/DELETE are writes — including POST "list" actions and the Resource Graph query.
    pub fn budget(self) -> Budget {
        match self {
            Self::ListSubscriptions
            | Self::ListClusters
            | Self::GetCluster
            | Self::GetUpgradeProfile
            | Self::GetAgentPoolUpgradeProfile
            | Self::ListMaintenanceConfigurations
            | Self::ListKubernetesVersions
            | Self::PollOperationStatus
            | Self::PollOperationResult
            | Self::ListSystemTopicEventSubscriptions
            | Self::ListComputeUsages
            | Self::ListVirtualNetworkUsages => Budget::Reads,
            Self::ResourceGraphQuery
            | Self::EventWiringQuery
            | Self::PutCluster
            | Self::UpgradeNodeImageVersion
            | Self::RotateClusterCertificates
            | Self::ListClusterUserCredential => Budget::Writes,
        }
    }

    /// Whether repeating the request after an unclear failure (timeout, 5xx) is safe. Reads,
    /// the Resource Graph query and the `If-Match` PUT are; actions that start operations are
    /// not (a timed-out POST may have started the upgrade).
    pub fn idempotent(self) -> bool {
        !matches!(self, Self::UpgradeNodeImageVersion | Self::RotateClusterCertificates)
    }

    /// Whether this call starts a long-running operation on a cluster. The client never
    /// repeats one (not after a 429, not after a 5xx): the executor's retry budget is the only
    /// one for a change, and each of its attempts reads the cluster first (busy → deferred,
    /// done → already done), so a write that may have started an operation is never re-sent
    /// without reading what happened.
    pub fn starts_operation(self) -> bool {
        matches!(self, Self::PutCluster | Self::UpgradeNodeImageVersion | Self::RotateClusterCertificates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exhaustive match: adding a variant fails to compile until it is placed here, and the
    /// test then fails until it is in [`ArmCall::ALL`] too (the role check walks `ALL`).
    fn position(c: ArmCall) -> usize {
        match c {
            ArmCall::ResourceGraphQuery => 0,
            ArmCall::ListSubscriptions => 1,
            ArmCall::ListClusters => 2,
            ArmCall::GetCluster => 3,
            ArmCall::PutCluster => 4,
            ArmCall::GetUpgradeProfile => 5,
            ArmCall::GetAgentPoolUpgradeProfile => 6,
            ArmCall::UpgradeNodeImageVersion => 7,
            ArmCall::RotateClusterCertificates => 8,
            ArmCall::ListMaintenanceConfigurations => 9,
            ArmCall::ListKubernetesVersions => 10,
            ArmCall::ListClusterUserCredential => 11,
            ArmCall::PollOperationStatus => 12,
            ArmCall::PollOperationResult => 13,
            ArmCall::EventWiringQuery => 14,
            ArmCall::ListSystemTopicEventSubscriptions => 15,
            ArmCall::ListComputeUsages => 16,
            ArmCall::ListVirtualNetworkUsages => 17,
        }
    }

    #[test]
    fn all_lists_every_call_once() {
        for (i, c) in ArmCall::ALL.iter().enumerate() {
            assert_eq!(position(*c), i, "{c:?}");
        }
    }
}
