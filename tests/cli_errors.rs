//! The real `handler` binary: settings errors, `config check` exit codes, and replay input
//! errors. Every run gets an empty environment and its own working directory.

use std::path::Path;
use std::process::{Command, Output};

fn handler(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run handler")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn a_bad_setting_exits_2_naming_the_setting_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value, args) in [
        ("CADENCE_STATE", "postgres://db", vec!["replay", "x.json"]),
        ("CADENCE_DRY_RUN", "maybe", vec!["config", "check"]),
        ("FUNCTIONS_CUSTOMHANDLER_PORT", "eighty", vec!["serve"]),
        ("CADENCE_LOG_FORMAT", "xml", vec![]),
        // The bearer token never leaves over plain http, except to loopback.
        ("ARM_ENDPOINT", "http://management.azure.com", vec!["sweep", "--dry-run"]),
        ("ARM_ENDPOINT", "http://10.1.2.3:8080", vec!["serve"]),
    ] {
        let out = handler(dir.path(), &[(name, value)], &args);
        assert_eq!(out.status.code(), Some(2), "{name}={value}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.starts_with(&format!("error: setting {name}: ")), "{err}");
        assert!(err.contains("Fix: "), "{err}");
    }
}

#[test]
fn config_check_without_a_policy_file_reports_the_builtin_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = handler(dir.path(), &[], &["config", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("built-in"), "{}", stdout(&out));
}

#[test]
fn config_check_of_a_named_file_that_does_not_exist_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = handler(dir.path(), &[], &["config", "check", "missing.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing.toml: no such file"), "{}", stderr(&out));
}

#[test]
fn config_check_rejects_a_maintenance_window_with_a_misspelt_day_naming_line_field_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let policy = "[defaults.upgrade]\npatch = \"auto\"\n\n[defaults.upgrade.window]\nschedule = { weekly = { intervalWeeks = 1, dayOfWeek = \"Tuesdy\" } }\ndurationHours = 4\nstartTime = \"22:00\"\n";
    std::fs::write(dir.path().join("cadence.toml"), policy).unwrap();
    let out = handler(dir.path(), &[], &["config", "check", "cadence.toml"]);
    assert_eq!(out.status.code(), Some(1), "a window that can never open must not pass the check: {}", stdout(&out));
    let problems = stdout(&out);
    assert!(
        problems.contains("cadence.toml:5: defaults.upgrade.window.schedule.weekly.dayOfWeek: `Tuesdy` is not a weekday. Fix:"),
        "{problems}"
    );
    assert!(stderr(&out).contains("1 problem(s)"), "{}", stderr(&out));
}

#[test]
fn replay_of_malformed_json_fails_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"id\": ").unwrap();
    let out = handler(dir.path(), &[], &["replay", "broken.json"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("broken.json: malformed JSON"), "{err}");
    assert!(stdout(&out).is_empty(), "nothing planned is printed: {}", stdout(&out));
}

#[test]
fn replay_of_a_missing_file_fails_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = handler(dir.path(), &[], &["replay", "nope.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nope.json: cannot read"), "{}", stderr(&out));
}

#[test]
fn replay_needs_at_least_one_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = handler(dir.path(), &[], &["replay"]);
    assert_eq!(out.status.code(), Some(2), "a usage error: {}", stderr(&out));
}

#[test]
fn a_live_run_refuses_to_start_when_the_policy_needs_a_setting_that_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let event = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventgrid/aks_cluster_support_ending.eventgrid.json");
    let event = event.to_str().unwrap();
    for (policy, missing) in [
        ("[[rule]]\nname = \"all\"\n[rule.github_issue]\nrepo = \"o/r\"\n", "GITHUB_TOKEN"),
        ("[[rule]]\nname = \"all\"\n[rule.email]\nto = [\"ops@example.com\"]\n", "SMTP_URL"),
        ("[[rule]]\nname = \"all\"\n[[rule.chat]]\nkind = \"slack\"\nurl_setting = \"SLACK_OPS_URL\"\n", "SLACK_OPS_URL"),
    ] {
        std::fs::write(dir.path().join("cadence.toml"), policy).unwrap();
        let out = handler(dir.path(), &[("CADENCE_DRY_RUN", "false")], &["replay", event]);
        assert_eq!(out.status.code(), Some(2), "{missing}: {}", stderr(&out));
        assert!(stderr(&out).contains(missing), "{}", stderr(&out));
        assert!(stderr(&out).contains("Fix: "), "{}", stderr(&out));
        // Dry-run needs none of them.
        let out = handler(dir.path(), &[], &["replay", "--dry-run", event]);
        assert_eq!(out.status.code(), Some(0), "dry-run with {missing} unset: {}", stderr(&out));
    }
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn config_check_of_a_valid_file_prints_the_summary_the_readme_shows() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let prompt = "$ handler config check cadence.example.toml\n";
    let start = readme.find(prompt).expect("the README shows `config check` on the example") + prompt.len();
    let shown = &readme[start..start + readme[start..].find("```").unwrap()];

    let out = handler(repo(), &[], &["config", "check", "cadence.example.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The README shows a fresh built-in support calendar; once the file is older than the
    // staleness limit `config check` adds a note (tested in `policy::calendar`), which is not
    // part of what the README documents as the summary.
    let printed: String = stdout(&out).lines().filter(|l| !l.starts_with("note: the built-in support calendar is more than")).map(|l| format!("{l}\n")).collect();
    assert_eq!(printed, shown, "the README shows exactly what `config check` prints");
    for fact in ["4 rule(s)", "rule prod (line ", "tells: Teams via TEAMS_PROD_WEBHOOK_URL", "window: every Tuesday at 22:00", "  TEAMS_PROD_WEBHOOK_URL\n"] {
        assert!(shown.contains(fact), "the summary names rules, channels, windows and settings: {fact}");
    }
}

#[test]
fn config_check_of_an_empty_file_fails_saying_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cadence.toml"), "# our policy\n").unwrap();
    let out = handler(dir.path(), &[], &["config", "check", "cadence.toml"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_eq!(
        stdout(&out),
        "cadence.toml:1: (file): the file has no [defaults] and no [[rule]]: it sets nothing. \
         Fix: add [[rule]] sections (start from cadence.example.toml), or delete the file to use the built-in notify-only policy\n"
    );
    // A run refuses it too, rather than running on a policy nobody wrote.
    let out = handler(dir.path(), &[], &["replay", "-"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no [defaults] and no [[rule]]"), "{}", stderr(&out));
}

/// The full example with its first `[[rule]]` misspelt: the later `[rule.…]` sections then
/// clash with it and TOML itself fails further down, but the misspelling is named at its line.
#[test]
fn a_misspelt_rule_table_is_named_at_its_line_with_the_right_name() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(repo().join("cadence.example.toml")).unwrap();
    let line = example.lines().position(|l| l == "[[rule]]").unwrap() + 1;
    std::fs::write(dir.path().join("cadence.toml"), example.replacen("\n[[rule]]\n", "\n[[rules]]\n", 1)).unwrap();

    let out = handler(dir.path(), &[], &["config", "check", "cadence.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let first = stdout(&out).lines().next().unwrap_or_default().to_string();
    assert_eq!(first, format!("cadence.toml:{line}: rules: unknown table `rules`. Fix: did you mean `rule`? Write each rule as [[rule]]"), "{}", stdout(&out));
}
