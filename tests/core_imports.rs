//! The layering rule, as a test: the pure core — the vocabulary (`domain`, `action`, `error`),
//! the one retry policy (`retry`), policy and versions and windows (`policy/`), the planner
//! (`plan`), the planner's facts as data (`facts/`: snapshots, sweep memory, first sightings),
//! follow-ups (`followup`) and the security baseline's catalogue (`baseline/`) —
//! imports no IO crate and nothing from the edges (`ingest`, `sweep`, `actions`, `azure`,
//! `store`, `host`, `settings`) or the run layer (`pipeline`, `execute`, `sweeper`, `wiring`).
//! Decisions stay table tests; a new client in the core fails here with the file and line.
//! The edges (`ingest`, `sweep`, `actions`, `azure`, `store`, `settings`, `topics`) in turn
//! never name the run layer (`pipeline`, `execute`, `sweeper`, `wiring`, `host`).

use std::path::{Path, PathBuf};

/// The core, relative to the crate root.
const CORE: &[&str] = &[
    "handler/domain.rs",
    "handler/action.rs",
    "handler/json_text.rs",
    "handler/error.rs",
    "handler/retry.rs",
    "handler/plan.rs",
    "handler/plan",
    "handler/followup.rs",
    "handler/policy",
    "handler/baseline",
    "handler/readiness.rs",
    "handler/dashboard.rs",
    "handler/facts",
];

/// What the core may not name: IO crates, and the modules of the layers around it.
const FORBIDDEN: &[&str] = &[
    "tokio", "reqwest", "rusqlite", "octocrab", "lettre", "azure_core", "azure_identity", "azure_storage_blob", "axum", "tower",
    "hyper", "wiremock", "std::net", "std::process", "std::fs", "tracing_subscriber", "crate::ingest", "crate::sweep",
    "crate::actions", "crate::azure", "crate::store", "crate::host", "crate::settings", "crate::pipeline", "crate::execute",
    "crate::wiring", "crate::sweeper",
];

/// The edges: adapters around the core. They may use IO crates, the core and each other.
const EDGES: &[&str] = &["handler/ingest", "handler/sweep", "handler/actions", "handler/azure", "handler/store", "handler/settings.rs", "handler/topics.rs"];

/// What an edge may not name: the run layer, which sequences the edges (an edge that reached up
/// into it would make the orchestrator a dependency of what it orchestrates).
const RUN_LAYER: &[&str] = &["crate::pipeline", "crate::execute", "crate::wiring", "crate::sweeper", "crate::host"];

/// The action adapters: they carry out what the plan decided, with the clients of `azure/` and
/// the core's vocabulary. They never reach into the sweep (a finder of facts): what both need —
/// certificate readers, the upgrade profile — lives below both, in `azure/` or the core.
const ACTIONS: &[&str] = &["handler/actions"];

/// What an action adapter may not name (besides the run layer, as every edge).
const NOT_FOR_ACTIONS: &[&str] = &["crate::sweep"];

/// The one place the core touches the file system: `Policy::load` reads the policy file it
/// parses (a missing file means the built-in policy). Everything else takes its input as values.
const ALLOWED: &[(&str, &str)] = &[("handler/policy/mod.rs", "std::fs::read_to_string(path)")];

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            rust_files(&entry.unwrap().path(), out);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        out.push(path.to_path_buf());
    }
}

/// `(line, token, text)` for every forbidden name in `source` outside comments and the
/// `#[cfg(test)]` module at the end of a file (tests may use anything).
fn violations(file: &str, source: &str) -> Vec<(usize, &'static str, String)> {
    violations_of(FORBIDDEN, file, source)
}

fn violations_of(forbidden: &[&'static str], file: &str, source: &str) -> Vec<(usize, &'static str, String)> {
    let mut found = Vec::new();
    for (i, line) in source.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        for token in forbidden {
            let hit = code.match_indices(token).any(|(at, _)| {
                let before = code[..at].chars().next_back();
                let after = code[at + token.len()..].chars().next();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if hit && !ALLOWED.iter().any(|(f, text)| *f == file && code.contains(text)) {
                found.push((i + 1, *token, line.trim().to_string()));
            }
        }
    }
    found
}

#[test]
fn the_core_imports_no_io_and_no_outer_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for entry in CORE {
        let path = root.join(entry);
        assert!(path.exists(), "{entry} is listed as core but does not exist");
        rust_files(&path, &mut files);
    }
    assert!(files.len() >= 10, "the core was not found: {files:?}");
    let mut problems = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        let source = std::fs::read_to_string(path).unwrap();
        for (line, token, text) in violations(&rel, &source) {
            problems.push(format!("{rel}:{line}: `{token}` in the core: {text}"));
        }
    }
    assert!(problems.is_empty(), "the core must stay pure (move the IO to an edge and pass values in):\n{}", problems.join("\n"));
}

#[test]
fn the_rule_catches_an_io_import_and_an_outer_layer_but_not_comments_names_or_tests() {
    let source = "use tokio::fs;\nuse crate::store::Ledger;\n// tokio in a comment is fine\nlet retokio = 1;\n#[cfg(test)]\nmod tests { use tokio::time; }\n";
    let found: Vec<&str> = violations("handler/plan.rs", source).into_iter().map(|(_, t, _)| t).collect();
    assert_eq!(found, ["tokio", "crate::store"]);
    assert!(violations("handler/policy/mod.rs", "match std::fs::read_to_string(path) {").is_empty(), "the one allowed read");
    assert_eq!(violations("handler/plan.rs", "match std::fs::read_to_string(path) {").len(), 1, "allowed in its file only");
}

#[test]
fn the_edges_never_import_the_run_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for entry in EDGES {
        let path = root.join(entry);
        assert!(path.exists(), "{entry} is listed as an edge but does not exist");
        rust_files(&path, &mut files);
    }
    assert!(files.len() >= 20, "the edges were not found: {files:?}");
    let mut problems = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        let source = std::fs::read_to_string(path).unwrap();
        for (line, token, text) in violations_of(RUN_LAYER, &rel, &source) {
            problems.push(format!("{rel}:{line}: `{token}` in an edge: {text}"));
        }
    }
    assert!(problems.is_empty(), "edges must not reach up into the run layer (move the code to the run layer, or pass values down):\n{}", problems.join("\n"));
}

#[test]
fn the_edge_rule_catches_a_run_module_but_not_an_edge_of_the_same_name() {
    let source = "use crate::pipeline::Pipeline;\nuse crate::sweep::wiring::check;\nuse super::wiring;\n";
    let found: Vec<&str> = violations_of(RUN_LAYER, "handler/sweep/mod.rs", source).into_iter().map(|(_, t, _)| t).collect();
    assert_eq!(found, ["crate::pipeline"]);
}

#[test]
fn the_action_adapters_never_import_the_sweep() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for entry in ACTIONS {
        let path = root.join(entry);
        assert!(path.exists(), "{entry} is listed as the action adapters but does not exist");
        rust_files(&path, &mut files);
    }
    assert!(files.len() >= 8, "the action adapters were not found: {files:?}");
    let mut problems = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        let source = std::fs::read_to_string(path).unwrap();
        for (line, token, text) in violations_of(NOT_FOR_ACTIONS, &rel, &source) {
            problems.push(format!("{rel}:{line}: `{token}` in an action adapter: {text}"));
        }
    }
    assert!(problems.is_empty(), "action adapters must not reach into the sweep (move what both need into azure/ or the core):\n{}", problems.join("\n"));
}

#[test]
fn the_action_rule_catches_the_sweep_but_not_a_sweep_origin() {
    let source = "use crate::sweep::CertificateChecks;\nlet s = crate::sweep::cluster::parse_upgrade_profile(&up, &v);\nmatch o { crate::domain::Origin::Sweep { .. } => 1 }\n";
    let found: Vec<(usize, &str)> = violations_of(NOT_FOR_ACTIONS, "handler/actions/azure.rs", source).into_iter().map(|(l, t, _)| (l, t)).collect();
    assert_eq!(found, [(1, "crate::sweep"), (2, "crate::sweep")]);
}
