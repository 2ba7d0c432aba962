//! `handler replay` through the real binary on the bundled samples — the README's quick start.
//!
//! NOTE: these tests need real ingestion (`ingest::ingest_value`, ingest-host branch) and the
//! built-in policy's planner (`plan::concerns`/`plan::plan`, policy-plan branch). On the
//! pipeline branch alone, where both are stubs, they fail: ingestion rejects every event.
//! The assertions that need the built-in policy to plan something are marked `[policy]`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use aks_cadence::store::sqlite::SqliteLedger;
use aks_cadence::store::{ActionState, Ledger};

const NOW: &str = "2026-03-02T12:00:00Z";

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect();
    files.sort();
    assert_eq!(files.len(), 5, "the quick start replays five sample files");
    files
}

fn replay(dir: &Path, env: &[(&str, &str)], extra: &[&str], files: &[PathBuf]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .arg("replay")
        .args(["--now", NOW])
        .args(extra)
        .args(files)
        .output()
        .expect("run handler replay")
}

fn lines(o: &Output) -> Vec<serde_json::Value> {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

async fn ledger_actions(dir: &Path) -> Vec<(String, ActionState)> {
    let ledger: Arc<dyn Ledger> = Arc::new(SqliteLedger::open(dir.join("cadence.db")).unwrap());
    ledger.list_actions().await.unwrap().into_iter().map(|(k, s)| (k.to_string(), s)).collect()
}

#[test]
fn replaying_the_samples_prints_one_json_line_per_planned_action() {
    let dir = tempfile::tempdir().unwrap();
    let out = replay(dir.path(), &[], &[], &samples());
    let planned = lines(&out);
    assert!(!planned.is_empty(), "[policy] the built-in policy plans a notice for the sample signals");
    for line in &planned {
        for field in ["action", "cluster", "key", "signal", "summary"] {
            assert!(line[field].as_str().is_some_and(|s| !s.is_empty()), "`{field}` missing in {line}");
        }
        let cluster = line["cluster"].as_str().unwrap();
        assert!(cluster.contains("/managedClusters/aks-"), "the samples' clusters: {cluster}");
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("replayed 6 event(s) from 5 input(s)"), "{err}");
    assert!(err.contains("dry-run"), "the default is dry-run: {err}");
    assert!(dir.path().join("cadence.db").exists(), "the ledger file lands in the working directory");
}

#[tokio::test]
async fn dry_run_replay_is_repeatable_and_acts_on_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let first = lines(&replay(dir.path(), &[], &[], &samples()));
    let second = lines(&replay(dir.path(), &[], &[], &samples()));
    assert_eq!(first, second, "same inputs, same clock, same plan");
    assert!(!first.is_empty(), "[policy]");
    assert!(ledger_actions(dir.path()).await.is_empty(), "dry-run claims nothing");
}

#[test]
fn replay_reads_standard_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = &samples()[0];
    let from_file = lines(&replay(dir.path(), &[], &[], std::slice::from_ref(file)));
    let mut child = Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir.path())
        .env_clear()
        .args(["replay", "--now", NOW, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &std::fs::read(file).unwrap()).unwrap();
    let from_stdin = lines(&child.wait_with_output().unwrap());
    assert_eq!(from_stdin, from_file);
    assert!(!from_stdin.is_empty(), "[policy]");
}

#[tokio::test]
async fn a_live_replay_acts_once_and_a_second_replay_finds_everything_done() {
    let dir = tempfile::tempdir().unwrap();
    let live = [("CADENCE_DRY_RUN", "false")];
    let first = lines(&replay(dir.path(), &live, &[], &samples()));
    assert!(!first.is_empty(), "[policy]");
    let recorded = ledger_actions(dir.path()).await;
    let mut keys: Vec<&str> = first.iter().map(|l| l["key"].as_str().unwrap()).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(recorded.len(), keys.len(), "every planned key is recorded once");
    assert!(recorded.iter().all(|(_, s)| matches!(s, ActionState::Done { .. })), "the built-in notices are done: {recorded:?}");

    let second = lines(&replay(dir.path(), &live, &[], &samples()));
    assert!(second.is_empty(), "a duplicate delivery plans nothing new: {second:?}");
}

#[tokio::test]
async fn the_dry_run_flag_wins_over_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let planned = lines(&replay(dir.path(), &[("CADENCE_DRY_RUN", "false")], &["--dry-run"], &samples()));
    assert!(!planned.is_empty(), "[policy]");
    assert!(ledger_actions(dir.path()).await.is_empty());
}

/// Logs on stderr are read by people in terminals and by programs everywhere else: colour
/// escapes only on a terminal, and never with `NO_COLOR` set.
#[test]
fn logs_to_a_pipe_have_no_colour_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let out = replay(dir.path(), &[("RUST_LOG", "info")], &["--dry-run"], &samples()[..1]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(" INFO "), "info logs are there: {stderr}");
    assert!(!out.stderr.contains(&0x1b), "no ESC byte in piped logs: {stderr:?}");
}

/// The same run on a pseudo-terminal (`script`, util-linux, in every Debian install): colours,
/// unless `NO_COLOR` is set.
#[test]
fn logs_on_a_terminal_are_coloured_unless_no_color_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let on_a_terminal = |extra_env: &str| {
        let command = format!(
            "env -i RUST_LOG=info {extra_env} {} replay --dry-run --now {NOW} {}",
            env!("CARGO_BIN_EXE_handler"),
            samples()[0].display()
        );
        let out = Command::new("script")
            .current_dir(dir.path())
            .env("SHELL", "/bin/sh")
            .args(["-q", "-e", "-c", &command, "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .expect("run script (util-linux)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let coloured = on_a_terminal("");
    assert!(String::from_utf8_lossy(&coloured).contains(" INFO"), "{}", String::from_utf8_lossy(&coloured));
    assert!(coloured.contains(&0x1b), "a terminal gets colours: {:?}", String::from_utf8_lossy(&coloured));
    let plain = on_a_terminal("NO_COLOR=1");
    assert!(String::from_utf8_lossy(&plain).contains(" INFO"), "{}", String::from_utf8_lossy(&plain));
    assert!(!plain.contains(&0x1b), "NO_COLOR wins: {:?}", String::from_utf8_lossy(&plain));
}

/// The `cargo run --locked -- replay …` lines of the README's quick start, as written: the
/// settings in front of `cargo`, and the arguments after `--`.
fn quick_start_replays() -> Vec<(Vec<(String, String)>, Vec<String>)> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("## Quick start").unwrap();
    let end = start + readme[start..].find("\n## ").unwrap_or(readme.len() - start);
    readme[start..end]
        .lines()
        .filter(|l| l.contains("cargo run --locked -- replay"))
        .map(|l| {
            let (before, after) = l.split_once("cargo run --locked -- ").unwrap();
            let env = before.split_whitespace().map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).unwrap()).collect();
            (env, after.split_whitespace().map(String::from).collect())
        })
        .collect()
}

/// Runs one quick-start line in a fresh folder holding a copy of the example policy, with the
/// sample glob expanded as the shell would.
fn run_quick_start(env: &[(String, String)], args: &[String]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("cadence.example.toml"), dir.path().join("cadence.example.toml")).unwrap();
    let mut expanded: Vec<std::ffi::OsString> = Vec::new();
    for a in args {
        if a == "samples/events/*.json" {
            expanded.extend(samples().into_iter().map(PathBuf::into_os_string));
        } else {
            expanded.push(a.into());
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir.path())
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(expanded)
        .output()
        .unwrap();
    lines(&out)
}

#[test]
fn the_quick_start_replays_run_as_written_and_the_example_policy_plans_real_actions() {
    let commands = quick_start_replays();
    assert_eq!(commands.len(), 2, "the built-in policy, then the example policy: {commands:?}");

    let (env, args) = &commands[0];
    assert!(env.is_empty(), "the first command needs no configuration");
    let builtin = run_quick_start(env, args);
    assert!(!builtin.is_empty() && builtin.iter().all(|l| l["action"] == "log"), "the built-in policy only logs: {builtin:?}");

    let (env, args) = &commands[1];
    assert_eq!(env, &[("CADENCE_CONFIG".to_string(), "cadence.example.toml".to_string())]);
    assert_eq!(args, &commands[0].1, "the same replay, another policy");
    let example = run_quick_start(env, args);
    let mut kinds: Vec<&str> = example.iter().map(|l| l["action"].as_str().unwrap()).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, ["email", "github_close", "github_issue", "teams"], "what the README promises: {example:#?}");
    for cluster in ["aks-prod-weu", "aks-prod-eus", "aks-stage-neu"] {
        assert!(
            example.iter().any(|l| l["cluster"].as_str().unwrap().ends_with(&format!("/{cluster}")) && l["action"] != "log"),
            "the example policy selects the sample cluster {cluster}: {example:#?}"
        );
    }
}

#[test]
fn the_samples_readme_gives_the_quick_start_command() {
    let (env, args) = &quick_start_replays()[0];
    assert!(env.is_empty());
    let command = format!("cargo run --locked -- {}", args.join(" "));
    let samples_readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/README.md")).unwrap();
    assert!(samples_readme.contains(&command), "samples/README.md should say `{command}`");
}
