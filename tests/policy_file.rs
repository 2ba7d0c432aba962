//! The policy file: the shipped example checks clean, and every kind of mistake is reported with
//! its line, its dotted field and a fix.

use std::path::Path;

use aks_cadence::action::{ChatKind, VersionLocator};
use aks_cadence::domain::{ClusterFacts, ClusterId, SignalKind};
use aks_cadence::policy::{self, Policy, PolicyError, UpgradeMode};

fn errors(text: &str) -> Vec<PolicyError> {
    Policy::parse(text, "cadence.toml").expect_err("the policy should be rejected")
}

/// The single error a snippet produces.
fn one_error(text: &str) -> PolicyError {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    errs.into_iter().next().unwrap()
}

fn upgrades_offered() -> SignalKind {
    SignalKind::UpgradesOffered { current: "1.30.4".into(), offered: vec![] }
}

#[test]
fn the_example_policy_checks_clean() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cadence.example.toml");
    let p = policy::check(&path)
        .unwrap_or_else(|errs| panic!("{}", errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")));
    let names: Vec<&str> = p.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["prod", "prod-chat", "nonprod", "sandbox"]);

    let prod = &p.rules[0];
    let pr = prod.github_pr.as_ref().expect("prod opens pull requests");
    assert_eq!(pr.repo, "contoso/platform-infra");
    assert_eq!(pr.locator, VersionLocator::Key { key: "kubernetesVersion".into() });
    assert_eq!(prod.email.as_deref(), Some(&["Platform Team <platform@contoso.example>".to_string()][..]));
    assert_eq!(p.rules[1].chat[0].kind, ChatKind::Teams);
    assert_eq!(
        p.referenced_settings().into_iter().collect::<Vec<_>>(),
        ["TEAMS_NONPROD_WEBHOOK_URL", "TEAMS_PROD_WEBHOOK_URL"]
    );

    // Non-prod clusters get auto node images and patches in the policy window.
    let dev = ClusterId::from_parts("s", "rg-platform-dev-weu", "aks-dev-weu");
    let c = p.cadence_for(&dev, &ClusterFacts::default(), &upgrades_offered());
    assert_eq!((c.node_image, c.patch, c.minor), (UpgradeMode::Auto, UpgradeMode::Auto, UpgradeMode::Notify));
    assert_eq!((c.patch_within_days, c.minor_within_days, c.auto_after_days), (7, 30, 2));
    let window = p.window_for(&dev, &ClusterFacts::default()).expect("nonprod has a policy window");
    let (start, end) = window.next_open_after("2026-12-20T00:00:00Z".parse().unwrap()).expect("the window recurs");
    assert_eq!(jiff::tz::offset(1).to_datetime(start).weekday(), jiff::civil::Weekday::Tuesday, "{start}");
    assert_eq!(end.duration_since(start), jiff::SignedDuration::from_hours(6), "durationHours = 6");
    assert!(start >= "2027-01-05T00:00:00Z".parse().unwrap(), "the holiday freeze (notAllowedDates up to 2027-01-04) is skipped: {start}");

    // Production keeps the defaults except its own reminder.
    let prod_id = ClusterId::from_parts("6F1C2D3E-4A5B-4C6D-8E9F-0A1B2C3D4E5F", "rg-platform-prod", "aks-prod-weu");
    let c = p.cadence_for(&prod_id, &ClusterFacts::default(), &upgrades_offered());
    assert_eq!((c.patch_within_days, c.reminder_days_before, c.patch), (14, 5, UpgradeMode::Notify));
    assert!(p.window_for(&prod_id, &ClusterFacts::default()).is_none());
}

#[test]
fn a_missing_file_means_the_builtin_policy_but_check_says_so() {
    let missing = Path::new("/nonexistent/cadence.toml");
    assert_eq!(Policy::load(missing), Ok(None));
    assert!(Policy::load_or_builtin(missing).unwrap().is_builtin());
    let errs = policy::check(missing).unwrap_err();
    assert!(errs[0].problem.contains("does not exist"), "{errs:?}");
}

#[test]
fn an_empty_file_is_refused_and_a_defaults_only_file_is_not() {
    for empty in ["", "\n\n", "# my policy\n# TODO\n"] {
        let e = one_error(empty);
        assert_eq!((e.line, e.field.as_str()), (1, "(file)"), "{empty:?}");
        assert!(e.problem.contains("no [defaults] and no [[rule]]"), "{e}");
        assert!(e.fix.contains("cadence.example.toml") && e.fix.contains("delete the file"), "{e}");
    }
    let p = Policy::parse("[defaults]\npatch_within_days = 7\n", "cadence.toml").unwrap();
    assert!(p.rules.is_empty());
    assert_eq!(p.defaults.patch_within_days, 7);
    assert!(!p.is_builtin());
}

#[test]
fn unknown_keys_suggest_the_closest_one_with_the_line() {
    let e = one_error("[defaults]\npatch_within_day = 7\n");
    assert_eq!((e.line, e.field.as_str()), (2, "defaults.patch_within_day"));
    assert!(e.fix.contains("did you mean `patch_within_days`?"), "{e}");

    let e = one_error("[[rules]]\nname = \"x\"\n");
    assert_eq!((e.line, e.field.as_str(), e.problem.as_str()), (1, "rules", "unknown table `rules`"));
    assert!(e.fix.starts_with("did you mean `rule`?"), "{e}");

    // With a correct [[rule]] further on, the misspelt one makes the TOML itself invalid (the
    // later `[rule.email]` extends a table the misspelling never created as an array): the typo
    // is still named, on its own line, before the syntax error it causes.
    let errs = errors("[[rules]]\nname = \"a\"\n[rule.email]\nto = [\"a@example.com\"]\n\n[[rule]]\nname = \"b\"\n");
    assert_eq!((errs[0].line, errs[0].problem.as_str()), (1, "unknown table `rules`"), "{errs:#?}");
    assert!(errs[0].fix.starts_with("did you mean `rule`?"), "{errs:#?}");
    assert_eq!(errs[1].field, "(syntax)", "{errs:#?}");
    assert_eq!(errs.len(), 2, "{errs:#?}");

    let e = one_error("[defalts]\npatch_within_days = 7\n");
    assert_eq!((e.line, e.problem.as_str(), e.fix.as_str()), (1, "unknown table `defalts`", "did you mean `defaults`?"));

    let e = one_error("patch_within_days = 7\n");
    assert!(e.fix.contains("under [defaults]"), "{e}");

    let e = one_error("[[rule]]\nname = \"x\"\n[rule.github_issue]\nrepo = \"a/b\"\nasignees = [\"me\"]\n");
    assert_eq!((e.line, e.field.as_str()), (5, "rule[0].github_issue.asignees"));
    assert!(e.fix.contains("`assignees`"), "{e}");

    let e = one_error("colour = \"blue\"\n");
    assert!(e.fix.contains("the top level has only [defaults], [[rule]], [[ring]], [baseline] and [readiness] sections"), "{e}");
}

#[test]
fn the_error_message_names_path_line_field_problem_and_fix() {
    let e = one_error("[defaults]\n\nminor_within_days = 0\n");
    assert_eq!(
        e.to_string(),
        "cadence.toml:3: defaults.minor_within_days: 0 days must be more than 0. Fix: use a number from 1 to 3650"
    );
}

#[test]
fn inline_webhook_urls_are_refused_as_secrets() {
    let e = one_error(
        "[[rule]]\nname = \"x\"\n[[rule.chat]]\nkind = \"teams\"\nurl_setting = \"https://contoso.webhook.office.com/x\"\n",
    );
    assert_eq!((e.line, e.field.as_str()), (5, "rule[0].chat[0].url_setting"));
    assert!(e.problem.contains("secret"), "{e}");
    assert!(e.fix.contains("app setting"), "{e}");

    let e = one_error(
        "[[rule]]\nname = \"x\"\n[[rule.chat]]\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/X\"\n",
    );
    assert_eq!((e.line, e.field.as_str()), (5, "rule[0].chat[0].url"));
    assert!(e.problem.contains("secret") && e.fix.contains("url_setting"), "{e}");

    let e = one_error("[[rule]]\nname = \"x\"\n[[rule.chat]]\nkind = \"teams\"\nurl_setting = \"teams-url\"\n");
    assert!(e.problem.contains("not an app setting name"), "{e}");
}

#[test]
fn pull_request_patterns_need_exactly_one_capture_group() {
    let base = "[[rule]]\nname = \"x\"\n[rule.github_pr]\nrepo = \"a/b\"\npath = \"main.bicep\"\n";
    let ok = Policy::parse(&format!("{base}pattern = 'kubernetesVersion: (\\d+\\.\\d+\\.\\d+)'\n"), "p").unwrap();
    assert!(matches!(ok.rules[0].github_pr.as_ref().unwrap().locator, VersionLocator::Pattern { .. }));

    let e = one_error(&format!("{base}pattern = '(k8s)Version: (\\d+)'\n"));
    assert_eq!((e.line, e.field.as_str()), (6, "rule[0].github_pr.pattern"));
    assert!(e.problem.contains("2 capture groups"), "{e}");

    let e = one_error(&format!("{base}pattern = 'version: \\d+'\n"));
    assert!(e.problem.contains("0 capture groups"), "{e}");

    let e = one_error(&format!("{base}pattern = 'version: ((\\d+)'\n"));
    assert!(e.problem.contains("not a valid regular expression"), "{e}");

    let e = one_error(&format!("{base}key = \"v\"\npattern = '(x)'\n"));
    assert!(e.problem.contains("both"), "{e}");

    let e = one_error(base);
    assert!(e.problem.contains("no way to find the version"), "{e}");
}

#[test]
fn repositories_emails_globs_and_signals_are_validated() {
    let e = one_error("[[rule]]\nname = \"x\"\n[rule.github_issue]\nrepo = \"https://github.com/contoso/infra\"\n");
    assert_eq!(e.field, "rule[0].github_issue.repo");
    assert!(e.fix.contains("owner/name"), "{e}");

    let e = one_error("[[rule]]\nname = \"x\"\n[rule.email]\nto = [\"ops@contoso.example\", \"not-an-address\"]\n");
    assert_eq!((e.line, e.field.as_str()), (4, "rule[0].email.to[1]"));

    let e =
        one_error("[[rule]]\nname = \"x\"\nclusters = [\"aks-[prod\"]\n[rule.email]\nto = \"ops@contoso.example\"\n");
    assert_eq!((e.line, e.field.as_str()), (3, "rule[0].clusters[0]"));
    assert!(e.problem.contains("never closed"), "{e}");

    let e = one_error(
        "[[rule]]\nname = \"x\"\nsignals = [\"node-image-availabel\"]\n[rule.email]\nto = \"ops@contoso.example\"\n",
    );
    assert_eq!(e.field, "rule[0].signals[0]");
    assert!(e.fix.contains("\"node-image-available\""), "{e}");
}

#[test]
fn upgrade_modes_and_windows_are_validated() {
    let e = one_error("[[rule]]\nname = \"x\"\n[rule.upgrade]\nnode_image = \"automatic\"\n");
    assert_eq!((e.line, e.field.as_str()), (4, "rule[0].upgrade.node_image"));
    assert!(e.fix.contains("\"auto\""), "{e}");

    let e = one_error("[defaults.upgrade.window]\ndurationHours = 4\n");
    assert!(e.problem.contains("no `schedule`"), "{e}");

    let e = one_error(
        "[defaults.upgrade.window]\nschedule = { weekly = { dayOfWeek = \"Sunday\" }, daily = { intervalDays = 1 } }\n",
    );
    assert_eq!(e.field, "defaults.upgrade.window.schedule");

    let e = one_error("[defaults.upgrade.window]\nschedule = { wekly = { dayOfWeek = \"Sunday\" } }\n");
    assert!(e.fix.contains("`weekly`"), "{e}");

    let e = one_error("[defaults.upgrade.window]\nschedule = { daily = { intervalDays = 1 } }\ndurationHours = 2\n");
    assert_eq!(e.field, "defaults.upgrade.window.durationHours");

    let p = Policy::parse("[defaults.upgrade.window]\nschedule = { daily = { intervalDays = 1 } }\ndurationHours = 8\nstartTime = \"00:00\"\nstartDate = 2026-01-01\n", "p").unwrap();
    let w = p.window_for(&ClusterId::from_parts("s", "rg", "c"), &ClusterFacts::default()).unwrap();
    let (first, _) = w.next_open_after("2025-06-01T00:00:00Z".parse().unwrap()).unwrap();
    assert_eq!(first, "2026-01-01T00:00:00Z".parse::<jiff::Timestamp>().unwrap(), "TOML dates are read as the ARM startDate");
}

#[test]
fn a_window_is_validated_when_the_policy_loads_not_when_a_sweep_uses_it() {
    // Each of these passed `config check` before and held every change of the clusters it
    // governs, with only a log line at sweep time.
    let window = |body: &str| format!("[[rule]]\nname = \"nonprod\"\nresource_groups = [\"rg-dev-*\"]\n[rule.upgrade]\npatch = \"auto\"\n[rule.upgrade.window]\n{body}\n");
    let weekly = "schedule = { weekly = { intervalWeeks = 1, dayOfWeek = \"Tuesday\" } }\ndurationHours = 4";
    let cases = [
        ("schedule = { weekly = { intervalWeeks = 1, dayOfWeek = \"Tuesdy\" } }\ndurationHours = 4\nstartTime = \"22:00\"", "rule[0].upgrade.window.schedule.weekly.dayOfWeek", 7),
        (&format!("{weekly}\nstartTime = \"25:00\""), "rule[0].upgrade.window.startTime", 9),
        (&format!("{weekly}\nstartTime = \"22:00\"\nutcOffset = \"+1\""), "rule[0].upgrade.window.utcOffset", 10),
        (&format!("{weekly}\nstartTime = \"22:00\"\nstartDate = \"2026-13-40\""), "rule[0].upgrade.window.startDate", 10),
    ];
    for (body, field, line) in cases {
        let e = one_error(&window(body));
        assert_eq!((e.field.as_str(), e.line), (field, line), "{body}: {e}");
        assert!(!e.fix.is_empty(), "{e}");
    }
    let ok = Policy::parse(&window(&format!("{weekly}\nstartTime = \"22:00\"")), "p").expect("a valid window loads");
    assert!(ok.window_for(&ClusterId::from_parts("s", "rg-dev-weu", "c"), &ClusterFacts::default()).is_some());
}

#[test]
fn every_problem_is_reported_at_once_in_line_order() {
    let text = "\
[defaults]
node_image_within_days = -1
certificate_warn_days = []

[[rule]]
clusters = [\"aks-*\"]

[[rule]]
name = \"b\"
[rule.email]
to = []
";
    let errs = errors(text);
    let got: Vec<(usize, &str)> = errs.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        got,
        [
            (2, "defaults.node_image_within_days"),
            (3, "defaults.certificate_warn_days"),
            (5, "rule[0].name"),
            (11, "rule[1].email.to"),
        ]
    );
}

#[test]
fn a_rule_that_does_nothing_or_repeats_a_name_is_an_error() {
    let e = one_error("[[rule]]\nname = \"idle\"\nclusters = [\"aks-*\"]\n");
    assert!(e.problem.contains("does nothing"), "{e}");

    let e = one_error("[[rule]]\nname = \"a\"\npatch_within_days = 3\n[[rule]]\nname = \"A\"\npatch_within_days = 4\n");
    assert_eq!((e.line, e.field.as_str()), (4, "rule[1].name"));
}

#[test]
fn syntax_errors_carry_their_line() {
    let e = one_error("[defaults]\npatch_within_days = 14\nminor_within_days = \n");
    assert_eq!((e.line, e.field.as_str()), (3, "(syntax)"));
    assert!(e.problem.starts_with("the file is not valid TOML"), "{e}");
}

#[test]
fn settings_come_from_the_first_applicable_rule_that_sets_each_one() {
    let p = Policy::parse(
        r#"
[defaults]
patch_within_days = 20
minor_within_days = 90

[[rule]]
name = "all-prod"
resource_groups = ["rg-prod-*"]
patch_within_days = 10

[[rule]]
name = "weu"
clusters = ["*-weu"]
patch_within_days = 5
minor_within_days = 45
[rule.upgrade]
node_image = "auto"

[[rule]]
name = "only-rolls"
signals = ["node-pool-rolling"]
minor_within_days = 1
"#,
        "p",
    )
    .unwrap();
    let id = ClusterId::from_parts("s", "rg-prod-1", "aks-prod-weu");
    let c = p.cadence_for(&id, &ClusterFacts::default(), &upgrades_offered());
    assert_eq!(c.patch_within_days, 10, "first rule wins");
    assert_eq!(c.minor_within_days, 45, "second rule fills what the first left unset; only-rolls does not apply");
    assert_eq!(c.node_image, UpgradeMode::Auto);
    assert_eq!(c.reminder_days_before, 3, "built-in default");

    let other = ClusterId::from_parts("s", "rg-dev", "aks-dev-eus");
    let c = p.cadence_for(&other, &ClusterFacts::default(), &upgrades_offered());
    assert_eq!((c.patch_within_days, c.minor_within_days, c.node_image), (20, 90, UpgradeMode::Notify));
}

#[test]
fn the_worked_example_in_the_readme_checks_clean() {
    let readme = include_str!("../README.md");
    let start = readme.find("```toml\n").expect("README has a TOML policy example") + "```toml\n".len();
    let end = start + readme[start..].find("```").expect("the TOML block is closed");
    let p = Policy::parse(&readme[start..end], "README.md")
        .unwrap_or_else(|errs| panic!("{}", errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")));
    let names: Vec<&str> = p.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["prod", "nonprod"]);
    assert!(p.window_for(&ClusterId::from_parts("s", "rg-platform-stage", "aks-stage-neu"), &ClusterFacts::default()).is_some(), "the nonprod rule defines a window");
}
