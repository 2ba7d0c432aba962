//! `[baseline]` in the policy file: which checks run, severity overrides, exceptions with a
//! reason and an expiry; every mistake reported with its line, field and fix; an expired
//! exception counts as failing again. Last, `handler config check` on the real binary.

use std::path::Path;
use std::process::{Command, Output};

use aks_cadence::baseline::{self, ClusterContext, Severity, Status};
use aks_cadence::domain::{ClusterFacts, ClusterId};
use aks_cadence::policy::{Policy, PolicyError};
use jiff::civil::date;

fn errors(text: &str) -> Vec<PolicyError> {
    Policy::parse(text, "cadence.toml").expect_err("the policy should be rejected")
}

fn one_error(text: &str) -> PolicyError {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    errs.into_iter().next().unwrap()
}

fn parse(text: &str) -> Policy {
    Policy::parse(text, "cadence.toml")
        .unwrap_or_else(|errs| panic!("{}", errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")))
}

/// A copy of Microsoft's ManagedClustersCreate_Update response: public node IPs, no network
/// policy, load-balancer egress (see tests/baseline_catalogue.rs).
fn example_cluster() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/baseline/managedclusters_create_update.2025-10-01.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["responses"]["200"]["body"].clone()
}

#[test]
fn no_baseline_section_means_the_baseline_is_off() {
    assert!(parse("[defaults]\npatch_within_days = 14\n").baseline.is_none());
    assert!(Policy::builtin().baseline.is_none());
}

#[test]
fn an_empty_section_runs_every_check_at_its_catalogue_severity() {
    let b = parse("[baseline]\n").baseline.expect("on");
    assert_eq!(b.checks, baseline::check_ids());
    assert!(b.severity.is_empty() && b.exceptions.is_empty());
}

#[test]
fn checks_and_skip_choose_the_checks_and_severity_overrides_apply() {
    let p = parse(
        r#"
[baseline]
checks = ["network-policy", "no-node-public-ip", "controlled-egress", "uptime-sla"]
skip = "uptime-sla"

[baseline.severity]
controlled-egress = "high"
"#,
    );
    let b = p.baseline.unwrap();
    assert_eq!(b.checks, ["network-policy", "no-node-public-ip", "controlled-egress"]);
    let id = ClusterId::from_parts("s", "rg1", "clustername1");
    let findings = baseline::assess(
        &b,
        &id,
        &ClusterFacts::default(),
        &example_cluster(),
        &ClusterContext::default(),
        date(2026, 12, 3),
    );
    let got: Vec<(&str, Severity, bool)> =
        findings.iter().map(|f| (f.check.id, f.severity, f.status.is_failing())).collect();
    assert_eq!(
        got,
        [
            ("network-policy", Severity::High, true),
            ("no-node-public-ip", Severity::High, true),
            ("controlled-egress", Severity::High, true), // raised from low
        ]
    );
}

const EXCEPTION: &str = r#"
[baseline]

[[baseline.exception]]
checks = ["controlled-egress", "network-policy"]
resource_groups = ["rg1"]
tags = { tier = "production" }
reason = "egress goes through the hub firewall from Q1"
expires = 2027-03-31

[[baseline.exception]]
checks = "no-node-public-ip"
clusters = ["clustername*"]
reason = "legacy FTP pool"
expires = "2026-11-30"
"#;

#[test]
fn a_running_exception_accepts_the_failure_and_an_expired_one_fails_again_saying_so() {
    let b = parse(EXCEPTION).baseline.unwrap();
    assert_eq!(b.exceptions.len(), 2);
    assert_eq!((b.exceptions[0].line, b.exceptions[0].expires), (4, date(2027, 3, 31)));
    let id = ClusterId::from_parts("s", "rg1", "clustername1");
    let mut facts = ClusterFacts::default();
    facts.tags.insert("tier".into(), "production".into());
    let status = |today| -> Vec<(&'static str, Status)> {
        baseline::assess(&b, &id, &facts, &example_cluster(), &ClusterContext::default(), today)
            .into_iter()
            .filter(|f| ["controlled-egress", "network-policy", "no-node-public-ip"].contains(&f.check.id))
            .map(|f| (f.check.id, f.status))
            .collect()
    };

    // 2026-11-30 is the FTP exception's last day: everything is excepted.
    for (id, s) in status(date(2026, 11, 30)) {
        assert!(matches!(s, Status::Excepted { .. }), "{id}: {s:?}");
        assert!(!s.is_failing());
    }
    // The day after, the FTP exception has run out: that check fails again and says why.
    let next = status(date(2026, 12, 1));
    let (_, ftp) = next.iter().find(|(id, _)| *id == "no-node-public-ip").unwrap();
    assert!(ftp.is_failing(), "{ftp:?}");
    let line = ftp.describe();
    assert!(line.contains("expired on 2026-11-30") && line.contains("legacy FTP pool"), "{line}");
    assert!(line.contains("nodepool1"), "the observation is kept: {line}");
    let (_, egress) = next.iter().find(|(id, _)| *id == "controlled-egress").unwrap();
    assert!(egress.describe().starts_with("excepted until 2027-03-31"), "{egress:?}");

    // The tag selector: another tier is not covered; unknown tags are not either (skip).
    let mut dev = ClusterFacts::default();
    dev.tags.insert("tier".into(), "dev".into());
    let f = baseline::assess(&b, &id, &dev, &example_cluster(), &ClusterContext::default(), date(2026, 11, 1));
    let egress = f.iter().find(|f| f.check.id == "controlled-egress").unwrap();
    assert!(matches!(egress.status, Status::Fail { .. }), "{:?}", egress.status);
}

#[test]
fn a_passing_check_stays_passing_whatever_the_exceptions() {
    let b = parse(EXCEPTION).baseline.unwrap();
    let id = ClusterId::from_parts("s", "rg1", "clustername1");
    let f = baseline::assess(
        &b,
        &id,
        &ClusterFacts::default(),
        &example_cluster(),
        &ClusterContext::default(),
        date(2030, 1, 1),
    );
    let rbac = f.iter().find(|f| f.check.id == "kubernetes-rbac").unwrap();
    assert_eq!(rbac.status, Status::Pass);
}

#[test]
fn an_unknown_check_id_suggests_the_closest_one() {
    let e = one_error("[baseline]\nskip = [\"network-polcy\"]\n");
    assert_eq!((e.line, e.field.as_str()), (2, "baseline.skip[0]"));
    assert!(e.problem.contains("unknown baseline check \"network-polcy\""), "{e}");
    assert_eq!(e.fix, "did you mean \"network-policy\"?");

    let e = one_error("[baseline.severity]\nlocal-account-disabled = \"high\"\n");
    assert_eq!((e.line, e.field.as_str()), (2, "baseline.severity.local-account-disabled"));
    assert_eq!(e.fix, "did you mean \"local-accounts-disabled\"?");

    let e = one_error("[baseline]\nchecks = [\"kubernetes\"]\n");
    assert!(e.fix.starts_with("use one of: api-server-access, kubernetes-rbac"), "{e}");
}

#[test]
fn a_bad_severity_or_key_is_named_with_a_fix() {
    let e = one_error("[baseline.severity]\nuptime-sla = \"hgih\"\n");
    assert_eq!(e.problem, "unknown severity \"hgih\"");
    assert!(e.fix.starts_with("did you mean \"high\"?"), "{e}");

    let e = one_error("[baseline]\nenabled = true\n");
    assert!(e.fix.contains("remove the [baseline] section"), "{e}");

    let e = one_error("[baseline]\nchekcs = []\n");
    assert_eq!(e.fix, "did you mean `checks`?");

    let e = one_error("[baseline]\nchecks = []\n");
    assert!(e.problem.contains("no check would run"), "{e}");
}

#[test]
fn every_exception_needs_checks_a_selector_a_reason_and_a_date() {
    let errs = errors("[baseline]\n\n[[baseline.exception]]\nclusters = [\"aks-*\"]\n");
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        ["baseline.exception[0].checks", "baseline.exception[0].reason", "baseline.exception[0].expires"]
    );
    assert!(errs.iter().all(|e| e.line == 3), "{errs:#?}");
    assert!(errs[2].fix.contains("expires = 2027-06-30"), "{}", errs[2]);

    let e = one_error(
        "[baseline]\n[[baseline.exception]]\nchecks = [\"uptime-sla\"]\nreason = \"dev\"\nexpires = 2027-01-01\n",
    );
    assert_eq!(e.problem, "the exception selects no cluster");
    assert!(e.fix.contains("clusters = [\"*\"]"), "{e}");

    let e = one_error(
        "[baseline]\n[[baseline.exception]]\ncheck = \"uptime-sla\"\nchecks = \"uptime-sla\"\nclusters = [\"*\"]\nreason = \"dev\"\nexpires = 2027-01-01\n",
    );
    assert_eq!((e.line, e.field.as_str()), (3, "baseline.exception[0].check"));
    assert!(e.fix.starts_with("did you mean `checks`?"), "{e}");
}

#[test]
fn selectors_and_dates_are_validated() {
    let base = "[baseline]\n[[baseline.exception]]\nchecks = [\"uptime-sla\"]\nreason = \"dev\"\n";
    let e = one_error(&format!("{base}clusters = [\"aks-[dev\"]\nexpires = 2027-01-01\n"));
    assert_eq!((e.line, e.field.as_str()), (5, "baseline.exception[0].clusters[0]"));
    assert!(e.problem.contains("not a valid pattern"), "{e}");

    let e = one_error(&format!("{base}clusters = [\"*\"]\nexpires = \"31/03/2027\"\n"));
    assert_eq!((e.line, e.field.as_str()), (6, "baseline.exception[0].expires"));
    assert_eq!(e.fix, "write the date as YYYY-MM-DD, like 2027-06-30");

    // The TOML reader itself rejects an impossible date; a quoted one is ours to reject.
    let e = one_error(&format!("{base}clusters = [\"*\"]\nexpires = 2027-02-30\n"));
    assert!(e.problem.contains("invalid date"), "{e}");
    let e = one_error(&format!("{base}clusters = [\"*\"]\nexpires = \"2027-02-30\"\n"));
    assert_eq!((e.line, e.field.as_str()), (6, "baseline.exception[0].expires"));

    let e = one_error(&format!("{base}clusters = [\"*\"]\nexpires = 2027-01-01T00:00:00Z\n"));
    assert!(e.problem.contains("has a time of day"), "{e}");

    let e = one_error(&format!("{base}clusters = [\"*\"]\nexpires = 20270101\n"));
    assert!(e.problem.starts_with("expected a date, found an integer"), "{e}");

    let e = one_error(&format!("{base}tags = {{ env = 3 }}\nexpires = 2027-01-01\n"));
    assert_eq!(e.field, "baseline.exception[0].tags.env");
}

#[test]
fn an_exception_for_a_skipped_check_is_an_error() {
    let e = one_error(
        "[baseline]\nskip = [\"uptime-sla\"]\n[[baseline.exception]]\nchecks = [\"uptime-sla\"]\nclusters = [\"*\"]\nreason = \"dev\"\nexpires = 2027-01-01\n",
    );
    assert!(e.problem.contains("which [baseline] does not run"), "{e}");
}

fn handler(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_handler")).current_dir(dir).env_clear().args(args).output().expect("run handler")
}

#[test]
fn config_check_validates_the_baseline_and_notes_expired_exceptions() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cadence.toml"), EXCEPTION.replace("2027-03-31", "2099-03-31")).unwrap();
    let out = handler(dir.path(), &["config", "check", "cadence.toml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("baseline: 20 check(s), 2 exception(s)"), "{stdout}");
    assert!(
        stdout.contains(
            "note: cadence.toml:11: the baseline exception for no-node-public-ip expired on 2026-11-30; those checks count as failing again"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("controlled-egress, network-policy expired"), "{stdout}");

    std::fs::write(dir.path().join("bad.toml"), "[baseline]\nskip = [\"uptime-sla\", \"netwrk-policy\"]\n").unwrap();
    let out = handler(dir.path(), &["config", "check", "bad.toml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "bad.toml:2: baseline.skip[1]: unknown baseline check \"netwrk-policy\". Fix: did you mean \"network-policy\"?"
        ),
        "{stdout}"
    );
}

/// The TOML blocks of a Markdown file.
fn toml_blocks(markdown: &str) -> Vec<String> {
    markdown.split("```toml\n").skip(1).map(|rest| rest[..rest.find("```").expect("closed block")].to_string()).collect()
}

#[test]
fn every_policy_example_in_docs_baseline_md_passes_config_check_and_the_documented_errors_are_real() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/baseline.md")).unwrap();
    let blocks = toml_blocks(&doc);
    assert!(blocks.len() >= 2, "docs/baseline.md shows its policy examples");
    let dir = tempfile::tempdir().unwrap();
    for (i, block) in blocks.iter().enumerate() {
        let name = format!("example{i}.toml");
        std::fs::write(dir.path().join(&name), block).unwrap();
        let out = handler(dir.path(), &["config", "check", &name]);
        assert_eq!(out.status.code(), Some(0), "block {i}:\n{block}\n{}", String::from_utf8_lossy(&out.stdout));
    }

    // The error output shown in the doc, from the file it describes.
    std::fs::write(
        dir.path().join("cadence.toml"),
        "[baseline]\nskip = [\"network-polcy\"]\n\n[[baseline.exception]]\nchecks = [\"controlled-egress\"]\nclusters = [\"*\"]\nreason = \"hub firewall from Q1\"\n",
    )
    .unwrap();
    let out = handler(dir.path(), &["config", "check", "cadence.toml"]);
    assert_eq!(out.status.code(), Some(1));
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        assert!(doc.contains(line), "docs/baseline.md should show `{line}`");
    }
}
