//! The custom role grants exactly the actions of the ARM calls the code makes, and the docs say
//! which call needs each.

use std::collections::BTreeSet;
use std::path::PathBuf;

use aks_cadence::azure::ArmCall;
use serde_json::Value;

fn repo_file(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn role() -> Value {
    serde_json::from_str(&repo_file("infra/role-definition.json")).expect("role JSON")
}

fn lower(set: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    set.into_iter().map(|a| a.to_ascii_lowercase()).collect()
}

#[test]
fn every_arm_call_has_its_action_in_the_role_and_nothing_else_is_granted() {
    let role = role();
    let granted = lower(role["Actions"].as_array().expect("Actions").iter().map(|a| a.as_str().expect("string").to_string()));
    let needed = lower(ArmCall::ALL.iter().map(|c| c.required_action().to_string()));
    let missing: Vec<_> = needed.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&needed).collect();
    assert!(missing.is_empty(), "calls whose action the role lacks: {missing:?}");
    assert!(extra.is_empty(), "actions granted that no call needs: {extra:?}");
}

#[test]
fn the_role_is_a_custom_role_without_wildcards_or_data_actions() {
    let role = role();
    assert_eq!(role["IsCustom"], true);
    assert!(role["Name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(role["AssignableScopes"].as_array().is_some_and(|s| !s.is_empty()));
    for k in ["NotActions", "DataActions", "NotDataActions"] {
        assert_eq!(role[k], serde_json::json!([]), "{k}");
    }
    for a in role["Actions"].as_array().unwrap() {
        assert!(!a.as_str().unwrap().contains('*'), "wildcard action {a}");
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
