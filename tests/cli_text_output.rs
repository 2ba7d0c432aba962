//! What a person sees: `replay` and `sweep` print the plan as text by cluster on a terminal (or
//! with `--format text`), JSON lines everywhere else, and `sweep` draws its progress on a
//! terminal's stderr only. Through the real binary; terminals are pseudo-terminals from
//! `script` (util-linux). The text is compared with the expected files in
//! `tests/fixtures/text/` (run with `UPDATE_SNAPSHOTS=1` to rewrite them after a deliberate
//! change, then read the diff); the width is fixed with `COLUMNS` and the clock with `--now`.

mod arm_common;
mod fleet_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use fleet_support::*;
use wiremock::MockServer;

const NOW: &str = "2026-03-02T12:00:00Z";

fn samples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn replay(dir: &Path, env: &[(&str, &str)], extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .arg("replay")
        .args(["--now", NOW])
        .args(extra)
        .args(samples())
        .output()
        .expect("run handler replay")
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// `actual` equals `tests/fixtures/text/<name>`; `UPDATE_SNAPSHOTS=1` writes it instead.
fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/text")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_SNAPSHOTS=1 to create it)",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "{} differs (UPDATE_SNAPSHOTS=1 rewrites it):\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

/// Runs `command` (a shell line) on a pseudo-terminal; what the terminal showed (stdout and
/// stderr together, with the terminal's CR LF line ends).
fn on_a_terminal(dir: &Path, command: &str) -> String {
    let out = Command::new("script")
        .current_dir(dir)
        .env("SHELL", "/bin/sh")
        .args(["-q", "-e", "-c", command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run script (util-linux)");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
}

#[test]
fn the_samples_as_text_are_grouped_by_cluster_with_deadlines_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let text = stdout(&replay(
        dir.path(),
        &[("COLUMNS", "100")],
        &["--format", "text"],
    ));
    assert!(
        !text.contains('\x1b'),
        "no colour into a pipe, even as text: {text:?}"
    );
    assert_snapshot("replay-samples.txt", &text);
}

#[test]
fn the_text_follows_the_width_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    for columns in [72usize, 160] {
        let text = stdout(&replay(
            dir.path(),
            &[("COLUMNS", &columns.to_string())],
            &["--format", "text"],
        ));
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(
            widest <= columns,
            "COLUMNS={columns}: a line of {widest} characters:\n{text}"
        );
        assert!(
            text.contains("aks-prod-eus  rg-platform-prod · subscription 6f1c2d3e…"),
            "{text}"
        );
    }
    let narrow = stdout(&replay(
        dir.path(),
        &[("COLUMNS", "72")],
        &["--format", "text"],
    ));
    let wide = stdout(&replay(
        dir.path(),
        &[("COLUMNS", "160")],
        &["--format", "text"],
    ));
    assert!(
        narrow.lines().count() > wide.lines().count(),
        "long summaries wrap in 72 columns and not in 160:\n{narrow}\n{wide}"
    );
}

/// Piped, the output is the JSON lines programs read — byte for byte what `--format json`
/// prints, and what it printed before text existed (the expected file).
#[test]
fn piped_output_stays_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let piped = stdout(&replay(dir.path(), &[], &[]));
    let json = stdout(&replay(dir.path(), &[], &["--format", "json"]));
    assert_eq!(piped, json);
    for line in piped.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
    }
    assert_snapshot("replay-samples.jsonl", &piped);
}

#[test]
fn on_a_terminal_the_default_is_coloured_text_and_no_color_removes_the_colour() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<String> = samples().iter().map(|p| p.display().to_string()).collect();
    let command = |extra_env: &str, format: &str| {
        format!(
            "env -i TERM=xterm COLUMNS=100 {extra_env} {} replay --now {NOW} {format} {}",
            env!("CARGO_BIN_EXE_handler"),
            files.join(" ")
        )
    };
    let coloured = on_a_terminal(dir.path(), &command("", ""));
    assert!(
        coloured.contains("aks-prod-eus") && coloured.contains("7 actions (log 7)"),
        "text on a terminal: {coloured}"
    );
    assert!(
        !coloured.contains("{\"action\""),
        "no JSON lines on a terminal: {coloured}"
    );
    assert!(
        coloured.contains("\x1b["),
        "a terminal gets colours: {coloured:?}"
    );

    let plain = on_a_terminal(dir.path(), &command("NO_COLOR=1", ""));
    assert!(!plain.contains('\x1b'), "NO_COLOR wins: {plain:?}");
    // Without colour the terminal shows exactly the text a pipe gets with --format text (and
    // the summary line on stderr).
    let expected = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/text/replay-samples.txt"),
    )
    .unwrap();
    assert!(plain.starts_with(&expected), "{plain}");

    let json = on_a_terminal(dir.path(), &command("", "--format json"));
    assert!(
        json.lines()
            .next()
            .is_some_and(|l| l.starts_with("{\"action\"")),
        "--format json wins on a terminal: {json}"
    );
}

/// A fleet swept as text: upgrades held by their gates with the next opening, support, and
/// the summary with the clusters swept.
#[tokio::test]
async fn a_swept_fleet_as_text() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    let prod = FleetCluster::new("prod", "1.24.6", OLD_IMAGE, vec!["1.24.9", "1.25.5"]);
    let legacy = FleetCluster::new(
        "legacy",
        "1.23.12",
        LATEST_IMAGE,
        vec!["1.23.15", "1.24.6", "1.24.9"],
    );
    mount_fleet(&server, &[prod, legacy]).await;
    expect_no_cluster_writes(&server).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cadence.toml"),
        "[defaults.upgrade]\npatch = \"auto\"\nnode_image = \"auto\"\n",
    )
    .unwrap();
    let env = [("CADENCE_CONFIG", "cadence.toml"), ("COLUMNS", "120")];
    let out = handler_sweep(
        dir.path(),
        &server,
        &env,
        &[
            "--dry-run",
            "--now",
            "2026-01-15T09:00:00Z",
            "--format",
            "text",
        ],
    );
    let text = stdout(&out);
    // The hold wraps in its column (the snapshot below has it whole).
    for words in ["held: outside the maintenance window;", "next opens 2026-01-15 20:30 UTC (in 11", "held: policy is notify-only"] {
        assert!(text.contains(words), "{words}: {text}");
    }
    assert!(text.contains("2 clusters swept"), "{text}");
    assert_snapshot("sweep-fleet.txt", &text);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("clusters swept"),
        "no progress bar when stderr is not a terminal: {stderr}"
    );

    // The same sweep piped prints JSON lines, one per action the text shows.
    let json = stdout(&handler_sweep(
        dir.path(),
        &server,
        &env,
        &["--dry-run", "--now", "2026-01-15T09:00:00Z"],
    ));
    let actions = json
        .lines()
        .filter(|l| l.starts_with("{\"action\""))
        .count();
    assert!(
        actions > 0 && text.contains(&format!("{actions} actions (")),
        "{actions} JSON lines; text:\n{text}"
    );
}

/// On a terminal, `handler sweep` shows its progress on stderr and leaves a line saying how
/// many clusters it swept and how often ARM throttled. (indicatif draws nothing on a terminal without `TERM`, or a dumb one.)
#[tokio::test]
async fn a_sweep_on_a_terminal_shows_its_progress() {
    let server = MockServer::start().await;
    mount_identity(&server).await;
    let prod = FleetCluster::new("prod", "1.24.6", OLD_IMAGE, vec!["1.24.9", "1.25.5"]);
    let legacy = FleetCluster::new(
        "legacy",
        "1.23.12",
        LATEST_IMAGE,
        vec!["1.23.15", "1.24.6", "1.24.9"],
    );
    mount_fleet(&server, &[prod, legacy]).await;
    // ARM throttles the inventory's first page once (Retry-After 1 s); the client waits and
    // the sweep goes on.
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/providers/Microsoft.ResourceGraph/resources"))
        .respond_with(wiremock::ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let command = format!(
        "env -i TERM=xterm COLUMNS=120 NO_COLOR=1 ARM_ENDPOINT={uri} AZURE_CREDENTIAL=managed_identity IDENTITY_ENDPOINT={uri}/msi/token IDENTITY_HEADER={IDENTITY_HEADER} CADENCE_SUBSCRIPTIONS={sub} CADENCE_STATE=sqlite:cadence.db {bin} sweep --now 2026-01-15T09:00:00Z",
        uri = server.uri(),
        sub = arm_common::SUB,
        bin = env!("CARGO_BIN_EXE_handler"),
    );
    // The sweep runs on its own thread: `script` blocks, and the fake ARM answers on this runtime.
    let shown = tokio::task::spawn_blocking(move || on_a_terminal(dir.path(), &command))
        .await
        .unwrap();
    assert!(
        shown.contains("swept 2/2 clusters in "),
        "the progress bar's last line: {shown:?}"
    );
    assert!(shown.contains("ARM throttled once"), "the pause ARM asked for is told: {shown:?}");
    assert!(
        shown.contains("2 clusters swept"),
        "and the plan as text: {shown}"
    );
}

/// The README's quick start shows what the first command prints on a terminal.
#[test]
fn the_readme_shows_the_text_of_the_quick_start() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let expected = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/text/replay-samples.txt")).unwrap();
    assert!(readme.contains(&format!("```text\n{expected}```")), "README.md's quick start should show tests/fixtures/text/replay-samples.txt in a ```text block");
}
