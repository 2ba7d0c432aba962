//! `handler sweep` through the real binary against a fake ARM on loopback, with the managed
//! identity path of production (`AZURE_CREDENTIAL=managed_identity`, `IDENTITY_ENDPOINT` and
//! `IDENTITY_HEADER` pointing at the fake): no test-only credential exists.

mod arm_common;
mod fleet_support;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use aks_cadence::store::sqlite::SqliteLedger;
use aks_cadence::store::{ActionState, Ledger};
use fleet_support::*;
use serde_json::Value;
use wiremock::MockServer;

/// 2026-01-15 (a Thursday) is a 15th of the example's auto-upgrade schedule: open 08:30–13:30
/// UTC; its node OS window that day opens at 20:30 UTC.
const IN_AUTO_WINDOW: &str = "2026-01-15T09:00:00Z";

const POLICY_AUTO: &str = r#"
[defaults.upgrade]
patch = "auto"
node_image = "auto"
"#;

/// Patch upgrades automatic; clusters without windows of their own may change on Thursdays
/// 08:00–14:00 UTC.
const POLICY_AUTO_WITH_WINDOW: &str = r#"
[defaults.upgrade]
patch = "auto"

[defaults.upgrade.window]
schedule = { weekly = { intervalWeeks = 1, dayOfWeek = "Thursday" } }
durationHours = 6
startTime = "08:00"
utcOffset = "+00:00"
"#;

fn sweep(dir: &Path, server: &MockServer, policy: &str, extra_env: &[(&str, &str)], args: &[&str]) -> Output {
    std::fs::write(dir.join("cadence.toml"), policy).unwrap();
    let mut env = vec![("CADENCE_CONFIG", "cadence.toml")];
    env.extend_from_slice(extra_env);
    handler_sweep(dir, server, &env, args)
}

fn lines(o: &Output) -> Vec<Value> {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

fn find(lines: &[Value], f: impl Fn(&Value) -> bool) -> Vec<&Value> {
    lines.iter().filter(|l| f(l)).collect()
}

async fn ledger(dir: &Path) -> Arc<dyn Ledger> {
    Arc::new(SqliteLedger::open(dir.join("cadence.db")).unwrap())
}

#[tokio::test]
async fn a_dry_run_sweep_prints_node_image_upgrade_and_support_lines_and_changes_nothing() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    let prod = FleetCluster::new("prod", "1.24.6", OLD_IMAGE, vec!["1.24.9", "1.25.5"]);
    let legacy = FleetCluster::new("legacy", "1.23.12", LATEST_IMAGE, vec!["1.23.15", "1.24.6", "1.24.9"]);
    mount_fleet(&server, &[prod, legacy]).await;
    expect_no_cluster_writes(&server).await;
    let dir = tempfile::tempdir().unwrap();

    let out = sweep(dir.path(), &server, POLICY_AUTO, &[("CADENCE_DRY_RUN", "false")], &["--dry-run", "--now", IN_AUTO_WINDOW]);
    let planned = lines(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("swept 2 cluster(s) from Resource Graph") && stderr.contains("(dry-run: nothing was carried out)"), "{stderr}");

    // Node image: told, and its upgrade held by the node OS window with its next opening.
    let image = find(&planned, |l| l["signal"] == "node-image-available" && l["cluster"].as_str().unwrap().ends_with("/prod"));
    assert!(image.iter().any(|l| l["stage"] == "notice" && l["action"] == "log"), "{image:#?}");
    let held = image.iter().find(|l| l["action"] == "upgrade").expect("a node image upgrade line");
    assert_eq!(held["target"], format!("nodepool1@{OLD_IMAGE}"));
    assert_eq!(held["held_by"], serde_json::json!({"gate": "outside_window", "next": "2026-01-15T20:30:00Z"}));

    // Patch: the auto-upgrade window is open now, so it would start; the minor is notify-only.
    let patch = find(&planned, |l| l["action"] == "upgrade" && l["detail"]["upgrade"]["scope"] == "patch");
    assert_eq!(patch.len(), 2, "one patch upgrade per cluster: {planned:#?}");
    let patch = find(&planned, |l| l["action"] == "upgrade" && l["detail"]["upgrade"]["scope"] == "patch" && l["cluster"].as_str().unwrap().ends_with("/prod"));
    assert_eq!(patch[0]["detail"]["target"], "1.24.9");
    assert_eq!(patch[0]["target"], "patch:1.24.6");
    assert!(patch[0].get("held_by").is_none(), "{}", patch[0]);
    assert!(patch[0]["summary"].as_str().unwrap().contains("would start now (window open until 2026-01-15 13:30 UTC)"), "{}", patch[0]);
    let minor = find(&planned, |l| l["action"] == "upgrade" && l["detail"]["upgrade"]["scope"] == "minor" && l["cluster"].as_str().unwrap().ends_with("/prod"));
    assert_eq!(minor[0]["held_by"], serde_json::json!({"gate": "policy_notify_only"}));

    // Support: 1.23 is the oldest supported minor of the region.
    let support = find(&planned, |l| l["signal"] == "support-ending");
    assert!(support.iter().any(|l| l["cluster"].as_str().unwrap().ends_with("/legacy") && l["target"] == "1.23"), "{planned:#?}");

    // Nothing was claimed or remembered; the same dry run plans the same again.
    assert!(ledger(dir.path()).await.list_actions().await.unwrap().is_empty());
    let again = sweep(dir.path(), &server, POLICY_AUTO, &[], &["--dry-run", "--now", IN_AUTO_WINDOW]);
    assert_eq!(lines(&again).len(), planned.len());
}

#[tokio::test]
async fn an_auto_patch_inside_an_open_policy_window_is_put_with_if_match_and_its_success_told() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    let prod = FleetCluster::new("prod", "1.24.6", LATEST_IMAGE, vec!["1.24.9", "1.25.5"]).without_maintenance_configurations();
    expect_version_upgrade(&server, &prod, "1.24.9", 1).await;
    mount_fleet(&server, std::slice::from_ref(&prod)).await;
    expect_no_cluster_writes(&server).await;
    let dir = tempfile::tempdir().unwrap();

    let out = sweep(dir.path(), &server, POLICY_AUTO_WITH_WINDOW, &[("CADENCE_DRY_RUN", "false")], &["--now", IN_AUTO_WINDOW]);
    let planned = lines(&out);
    let upgrade = find(&planned, |l| l["action"] == "upgrade" && l["detail"]["upgrade"]["scope"] == "patch");
    assert!(upgrade[0].get("held_by").is_none(), "{}", upgrade[0]);
    assert!(upgrade[0]["summary"].as_str().unwrap().contains("window open until 2026-01-15 14:00 UTC"), "{}", upgrade[0]);
    let told = find(&planned, |l| l["stage"] == "update" && l["concern"] == "kubernetes-upgrade");
    assert!(told.iter().any(|l| l["summary"].as_str().unwrap().contains("the operation aks-cadence started succeeded")), "{planned:#?}");

    let key = upgrade[0]["key"].as_str().unwrap();
    let state = ledger(dir.path()).await.action_state(&aks_cadence::action::ActionKey::from_raw(key)).await.unwrap();
    assert!(matches!(state, Some(ActionState::Done { ref detail, .. }) if detail == "succeeded: op-e2e"), "{state:?}");

    // A second sweep finds the upgrade done and does not PUT again (expect(1) above).
    let again = sweep(dir.path(), &server, POLICY_AUTO_WITH_WINDOW, &[("CADENCE_DRY_RUN", "false")], &["--now", "2026-01-15T09:30:00Z"]);
    assert!(find(&lines(&again), |l| l["key"] == key).is_empty(), "a finished upgrade is not planned again");
}

#[tokio::test]
async fn an_auto_patch_outside_the_policy_window_is_held_until_the_next_opening() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    let prod = FleetCluster::new("prod", "1.24.6", LATEST_IMAGE, vec!["1.24.9", "1.25.5"]).without_maintenance_configurations();
    expect_version_upgrade(&server, &prod, "1.24.9", 0).await;
    mount_fleet(&server, std::slice::from_ref(&prod)).await;
    expect_no_cluster_writes(&server).await;
    let dir = tempfile::tempdir().unwrap();

    let out = sweep(dir.path(), &server, POLICY_AUTO_WITH_WINDOW, &[("CADENCE_DRY_RUN", "false")], &["--now", "2026-01-15T15:00:00Z"]);
    let planned = lines(&out);
    let upgrade = find(&planned, |l| l["action"] == "upgrade" && l["detail"]["upgrade"]["scope"] == "patch");
    assert_eq!(upgrade[0]["held_by"], serde_json::json!({"gate": "outside_window", "next": "2026-01-22T08:00:00Z"}));
    let key = upgrade[0]["key"].as_str().unwrap();
    assert_eq!(ledger(dir.path()).await.action_state(&aks_cadence::action::ActionKey::from_raw(key)).await.unwrap(), None, "a held action is never claimed");
}

#[tokio::test]
async fn without_a_usable_identity_the_sweep_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir.path())
        .env_clear()
        .envs([("AZURE_CREDENTIAL", "workload_identity"), ("ARM_ENDPOINT", "http://127.0.0.1:9")])
        .args(["sweep", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("setting AZURE_CREDENTIAL"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The newcomer's first sweep: no Azure settings, no Azure CLI. Nothing can get a token, so the
/// start fails at once with one cause and the fix, instead of retrying every ARM call.
#[test]
fn without_the_azure_cli_the_default_credential_fails_at_once_naming_the_setting_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let empty_path = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", empty_path.path())
        .args(["sweep", "--dry-run"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Exit 2 (configuration) with the cause once: the credential is not retried as if it were
    // transient (the ~6 s wait the newcomer saw), without a timed assertion.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("AZURE_CREDENTIAL").count(), 1, "named once: {stderr}");
    assert_eq!(stderr.matches("no `az` on PATH").count(), 1, "the cause once: {stderr}");
    assert!(stderr.starts_with("error: setting AZURE_CREDENTIAL: azure_cli: "), "{stderr}");
    assert!(stderr.contains("install the Azure CLI and run `az login`"), "{stderr}");
    assert!(stderr.contains("client_secret with AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(out.stdout.is_empty(), "nothing planned: {}", String::from_utf8_lossy(&out.stdout));
    assert!(!dir.path().join("cadence.db").exists(), "no ledger is created for a run that cannot start");
}

#[test]
fn the_blob_ledger_gets_its_credential_from_the_same_identity_setting() {
    // No IO happens before the credential is built, so a broken identity setting stops the
    // start with the setting's name (exit 2) instead of a placeholder refusal.
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir.path())
        .env_clear()
        .envs([("AZURE_CREDENTIAL", "workload_identity"), ("CADENCE_STATE", "blob:https://cadence.blob.core.windows.net/ledger")])
        .args(["replay", "--dry-run", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("setting AZURE_CREDENTIAL") && stderr.contains("workload_identity"), "{stderr}");
}

#[tokio::test]
async fn with_kubeconfig_certificate_reads_off_the_sweep_asks_arm_for_no_credentials() {
    let count = |requests: Vec<wiremock::Request>| {
        requests.iter().filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/listClusterUserCredential")).count()
    };
    let prod = || FleetCluster::new("prod", "1.24.6", OLD_IMAGE, vec!["1.24.9"]);

    // The default reads the user kubeconfig of every cluster (the fake ARM refuses it: 403)…
    let server = MockServer::start().await;
    mount_identity(&server).await;
    mount_fleet(&server, &[prod()]).await;
    let dir = tempfile::tempdir().unwrap();
    lines(&sweep(dir.path(), &server, POLICY_AUTO, &[], &["--dry-run", "--now", IN_AUTO_WINDOW]));
    assert_eq!(count(server.received_requests().await.unwrap()), 1);

    // …and CADENCE_SWEEP_KUBECONFIG_CERTS=false makes no listClusterUserCredential POST at all.
    let server = MockServer::start().await;
    mount_identity(&server).await;
    mount_fleet(&server, &[prod()]).await;
    let dir = tempfile::tempdir().unwrap();
    let planned = lines(&sweep(dir.path(), &server, POLICY_AUTO, &[("CADENCE_SWEEP_KUBECONFIG_CERTS", "false")], &["--dry-run", "--now", IN_AUTO_WINDOW]));
    assert!(!planned.is_empty(), "the rest of the sweep still ran");
    assert_eq!(count(server.received_requests().await.unwrap()), 0);
}

/// One `auto` upgrade under a throttling (429) or failing (500) ARM PUT, through the binary:
/// the change has ONE retry budget (docs/azure.md: "at most 3 PUTs, each after a fresh read"),
/// not the ARM client's retries times the executor's (18 and 9 PUTs before), and every re-send
/// comes after a GET of the cluster.
#[tokio::test]
async fn one_auto_upgrade_under_a_throttled_or_failing_put_sends_at_most_three_puts_each_after_a_read() {
    /// The executor's attempts (`execute`'s limits), as docs/azure.md states them.
    const DOCUMENTED_MAX_PUTS: usize = 3;
    for (status, retry_after) in [(429u16, Some("1")), (500, None)] {
        let server = MockServer::start().await;
        mount_identity(&server).await;
        let prod = FleetCluster::new("prod", "1.24.6", LATEST_IMAGE, vec!["1.24.9"]).without_maintenance_configurations();
        let mut answer = wiremock::ResponseTemplate::new(status)
            .set_body_json(serde_json::json!({"error": {"code": if status == 429 { "TooManyRequests" } else { "InternalServerError" }, "message": "try again"}}));
        if let Some(after) = retry_after {
            answer = answer.insert_header("Retry-After", after);
        }
        wiremock::Mock::given(wiremock::matchers::method("PUT"))
            .and(wiremock::matchers::path(prod.id()))
            .respond_with(answer)
            .named("the upgrade PUT, refused")
            .mount(&server)
            .await;
        mount_fleet(&server, std::slice::from_ref(&prod)).await;
        expect_no_cluster_writes(&server).await;
        let dir = tempfile::tempdir().unwrap();

        let out = sweep(dir.path(), &server, POLICY_AUTO_WITH_WINDOW, &[("CADENCE_DRY_RUN", "false")], &["--now", IN_AUTO_WINDOW]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let requests = server.received_requests().await.unwrap();
        let on_cluster: Vec<&str> =
            requests.iter().filter(|r| r.url.path() == prod.id()).map(|r| r.method.as_str()).collect();
        let puts = on_cluster.iter().filter(|m| **m == "PUT").count();
        assert!((1..=DOCUMENTED_MAX_PUTS).contains(&puts), "HTTP {status}: {puts} PUTs (at most {DOCUMENTED_MAX_PUTS}): {on_cluster:?}\n{stderr}");
        assert_eq!(puts, DOCUMENTED_MAX_PUTS, "HTTP {status}: the executor's attempts are used, one PUT each: {on_cluster:?}");
        // Each PUT follows a GET of the cluster made after the previous PUT.
        let mut read_since_put = false;
        for m in &on_cluster {
            match *m {
                "GET" => read_since_put = true,
                "PUT" => {
                    assert!(read_since_put, "HTTP {status}: a PUT re-sent without reading the cluster first: {on_cluster:?}");
                    read_since_put = false;
                }
                _ => {}
            }
        }
        assert!(!out.status.success(), "HTTP {status}: a change not done is not a success (the sweep runs again): {stderr}");
    }
}

/// `CADENCE_SWEEP_BATCH` changes how many clusters are held at once, not what is planned: the
/// same fleet swept one cluster per batch, three per batch and all in one batch prints the same
/// lines (JSON and text) and the same summary, and no action twice.
#[tokio::test]
async fn a_sweep_planned_in_batches_prints_what_one_batch_prints_and_plans_nothing_twice() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    // Listed out of name order: the sweep plans in cluster order whatever the inventory's.
    let fleet: Vec<FleetCluster> = [4, 1, 6, 0, 3, 5, 2]
        .iter()
        .map(|i| {
            let (version, image, offered) = if i % 2 == 0 { ("1.24.6", OLD_IMAGE, vec!["1.24.9", "1.25.5"]) } else { ("1.23.12", LATEST_IMAGE, vec!["1.23.15", "1.24.6"]) };
            FleetCluster::new(&format!("aks-batch-{i}"), version, image, offered)
        })
        .collect();
    mount_fleet(&server, &fleet).await;
    expect_no_cluster_writes(&server).await;
    let run = |batch: &str, format: &str| {
        let dir = tempfile::tempdir().unwrap();
        let out = sweep(dir.path(), &server, POLICY_AUTO, &[("CADENCE_SWEEP_BATCH", batch), ("CADENCE_SWEEP_CONCURRENCY", "3")], &["--dry-run", "--now", IN_AUTO_WINDOW, "--format", format]);
        assert!(out.status.success(), "batch {batch}: {}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let summary = stderr.lines().last().unwrap_or_default().to_string();
        (String::from_utf8(out.stdout).unwrap(), summary)
    };
    let (whole, whole_summary) = run("1000", "json");
    let planned: Vec<Value> = whole.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(planned.len() > fleet.len(), "every cluster has something planned: {whole}");
    for i in 0..7 {
        assert!(planned.iter().any(|l| l["cluster"].as_str().unwrap().ends_with(&format!("/aks-batch-{i}"))), "aks-batch-{i}: {whole}");
    }
    assert!(whole_summary.contains("swept 7 cluster(s)") && whole_summary.contains(&format!("{} action(s) planned", planned.len())), "{whole_summary}");
    for batch in ["1", "3"] {
        let (batched, summary) = run(batch, "json");
        assert_eq!(batched, whole, "CADENCE_SWEEP_BATCH={batch}");
        assert_eq!(summary, whole_summary, "CADENCE_SWEEP_BATCH={batch}");
        let keys: Vec<String> = batched.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["key"].as_str().unwrap().to_string()).collect();
        let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "an action planned twice with CADENCE_SWEEP_BATCH={batch}: {batched}");
    }
    let (text, _) = run("1000", "text");
    assert!(text.contains("aks-batch-6") && text.contains("7 clusters swept"), "{text}");
    assert_eq!(run("2", "text").0, text, "the text plan is the same in batches");
}

#[test]
fn a_sweep_batch_of_zero_is_a_settings_error_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir.path())
        .env_clear()
        .envs([("CADENCE_SWEEP_BATCH", "0"), ("AZURE_CREDENTIAL", "managed_identity")])
        .args(["sweep", "--dry-run"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("CADENCE_SWEEP_BATCH") && stderr.contains("0 would never plan"), "{stderr}");
}

/// `handler sweep` holds the inventory in a temporary file (`sweep::spool`): a temporary
/// directory it cannot write fails the run (exit 1, nothing planned) with the setting to fix.
#[tokio::test]
async fn a_temporary_directory_that_cannot_be_written_fails_the_sweep_naming_tmpdir() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    mount_fleet(&server, &[FleetCluster::new("prod", "1.24.6", OLD_IMAGE, vec!["1.24.9"])]).await;
    expect_no_cluster_writes(&server).await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    let out = sweep(dir.path(), &server, POLICY_AUTO, &[("TMPDIR", missing.to_str().unwrap())], &["--dry-run", "--now", IN_AUTO_WINDOW]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("temporary inventory file") && stderr.contains("TMPDIR"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing planned: {}", String::from_utf8_lossy(&out.stdout));

    // The same sweep with a usable TMPDIR plans the cluster.
    let out = sweep(dir.path(), &server, POLICY_AUTO, &[("TMPDIR", dir.path().to_str().unwrap())], &["--dry-run", "--now", IN_AUTO_WINDOW]);
    assert!(!lines(&out).is_empty());
}
