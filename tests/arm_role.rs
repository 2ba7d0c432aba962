//! The custom roles grant exactly the actions of the ARM calls the code makes, split by what they
//! allow, and the docs say which call needs each.
//!
//! `infra/roles/reader.json` (always assigned) reads the fleet and changes nothing;
//! `infra/roles/kubeconfig-certificates.json` (added to the reader role only with the Bicep
//! parameter `readKubeconfigCertificates`) is the one credential read; `infra/roles/upgrader.json`
//! (assigned only with `allowClusterChanges`) holds everything that changes a cluster and the
//! polling of the operations it starts.

use std::collections::BTreeSet;
use std::path::PathBuf;

use aks_cadence::azure::ArmCall;
use serde_json::Value;

const ROLE_FILES: [&str; 3] = ["infra/roles/reader.json", "infra/roles/kubeconfig-certificates.json", "infra/roles/upgrader.json"];

fn repo_file(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn role(rel: &str) -> Value {
    serde_json::from_str(&repo_file(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn lower(set: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    set.into_iter().map(|a| a.to_ascii_lowercase()).collect()
}

fn actions(rel: &str) -> BTreeSet<String> {
    lower(role(rel)["Actions"].as_array().expect("Actions").iter().map(|a| a.as_str().expect("string").to_string()))
}

fn call_actions(calls: &[ArmCall]) -> BTreeSet<String> {
    lower(calls.iter().map(|c| c.required_action().to_string()))
}

#[test]
fn every_arm_call_has_its_action_in_one_role_and_nothing_else_is_granted() {
    let mut granted = BTreeSet::new();
    for file in ROLE_FILES {
        for a in actions(file) {
            assert!(granted.insert(a.clone()), "{a} is granted by two role files");
        }
    }
    let needed = call_actions(&ArmCall::ALL);
    let missing: Vec<_> = needed.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&needed).collect();
    assert!(missing.is_empty(), "calls whose action no role grants: {missing:?}");
    assert!(extra.is_empty(), "actions granted that no call needs: {extra:?}");
}

#[test]
fn the_reader_role_changes_nothing_and_holds_no_credential() {
    use ArmCall::*;
    let expected = call_actions(&[
        ResourceGraphQuery,
        ListSubscriptions,
        ListClusters,
        GetCluster,
        GetUpgradeProfile,
        GetAgentPoolUpgradeProfile,
        ListMaintenanceConfigurations,
        ListKubernetesVersions,
        EventWiringQuery,
        ListSystemTopicEventSubscriptions,
        ListComputeUsages,
        ListVirtualNetworkUsages,
    ]);
    let reader = actions("infra/roles/reader.json");
    assert_eq!(reader, expected);
    for a in &reader {
        assert!(a.ends_with("/read"), "the reader role grants {a}, which is not a read");
    }
}

#[test]
fn the_kubeconfig_role_is_only_the_user_credential() {
    assert_eq!(actions("infra/roles/kubeconfig-certificates.json"), call_actions(&[ArmCall::ListClusterUserCredential]));
}

#[test]
fn the_upgrader_role_is_what_changes_a_cluster_and_the_polling_of_its_operations() {
    use ArmCall::*;
    let expected = call_actions(&[PutCluster, UpgradeNodeImageVersion, RotateClusterCertificates, PollOperationStatus, PollOperationResult]);
    assert_eq!(actions("infra/roles/upgrader.json"), expected);
}

#[test]
fn each_role_is_a_custom_role_without_wildcards_or_data_actions() {
    let mut names = BTreeSet::new();
    for file in ROLE_FILES {
        let role = role(file);
        assert_eq!(role["IsCustom"], true, "{file}");
        let name = role["Name"].as_str().unwrap_or_default();
        assert!(!name.is_empty(), "{file}: Name");
        assert!(names.insert(name.to_string()), "{file}: role name {name} used twice");
        assert!(role["AssignableScopes"].as_array().is_some_and(|s| !s.is_empty()), "{file}");
        for k in ["NotActions", "DataActions", "NotDataActions"] {
            assert_eq!(role[k], serde_json::json!([]), "{file}: {k}");
        }
        for a in role["Actions"].as_array().unwrap() {
            assert!(!a.as_str().unwrap().contains('*'), "{file}: wildcard action {a}");
        }
    }
}

#[test]
fn the_docs_explain_every_action_on_its_own_line() {
    let docs = repo_file("docs/azure.md");
    for call in ArmCall::ALL {
        let action = call.required_action();
        let line = docs.lines().find(|l| l.starts_with("| `") && l.contains(&format!("`{action}`")));
        assert!(line.is_some(), "docs/azure.md has no table line for {action} ({})", call.name());
    }
}
