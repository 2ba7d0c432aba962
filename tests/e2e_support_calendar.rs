//! The support calendar, end to end through the real binary: `handler sweep --now …` against
//! the fake ARM fleet (`fleet_support`) and a fake GitHub. A cluster on the oldest supported
//! minor gets a support issue naming the day support ends and where that date came from, then
//! a reminder and an overdue comment on later days, each once; an LTS cluster is dated by the
//! LTS end; an EOL notice AKS sent (fed with `handler replay`) beats the calendar; and the
//! optional calendar refresh (`CADENCE_SUPPORT_CALENDAR_URL`) against a local fake: its answer
//! wins, a 500 or garbage falls back to the built-in calendar, said once, never failing the sweep.

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::path::Path;
use std::process::Output;

use e2e_support::{Comments, FakeGithub, REPO};
use fleet_support::{FleetCluster, LATEST_IMAGE};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The built-in calendar's source, as messages name it.
const BUILT_IN: &str = "aks-cadence's built-in AKS calendar (taken 2026-12-03";
/// 1.34's community end of life in the built-in calendar ("Nov 2026": the month's last day).
const END_1_34: &str = "2026-11-30";
/// 1.32's LTS end of life ("Mar 2027"); its community end was 2026-03-31.
const LTS_END_1_32: &str = "2027-03-31";

/// The region's `kubernetesVersions`: Microsoft's example moved to today's minors (1.34, 1.35,
/// 1.36 GA with community support, 1.37 preview), plus 1.32 listed for long-term support only.
fn region() -> Value {
    let body = arm_common::example_body("kubernetes_versions_list.2025-10-01.json", "200").to_string();
    let moved = body.replace("\"1.26", "\"1.37").replace("\"1.25", "\"1.36").replace("\"1.24", "\"1.35").replace("\"1.23", "\"1.34");
    let mut region: Value = serde_json::from_str(&moved).unwrap();
    region["values"].as_array_mut().unwrap().push(json!({
        "version": "1.32",
        "capabilities": {"supportPlan": ["AKSLongTermSupport"]},
        "patchVersions": {"1.32.7": {"upgrades": []}}
    }));
    region
}

/// `prod` on 1.34 (the oldest community minor: support ending), `lts` on 1.32 with the LTS plan
/// (the oldest LTS minor: LTS ending); both on the latest node image, no upgrade offered.
async fn fleet(arm: &MockServer, extra: &[&str]) {
    arm.reset().await;
    fleet_support::mount_identity(arm).await;
    let prod = FleetCluster::new("prod", "1.34.12", LATEST_IMAGE, vec![]);
    let mut lts = FleetCluster::new("lts", "1.32.7", LATEST_IMAGE, vec![]);
    lts.resource["properties"]["supportPlan"] = json!("AKSLongTermSupport");
    let mut clusters = vec![prod, lts];
    for name in extra {
        clusters.push(FleetCluster::new(name, "1.34.12", LATEST_IMAGE, vec![]));
    }
    fleet_support::mount_fleet(arm, &clusters).await;
    Mock::given(method("GET"))
        .and(path_regex(r"/locations/[^/]+/kubernetesVersions$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(region()))
        .with_priority(1)
        .mount(arm)
        .await;
    fleet_support::expect_no_cluster_writes(arm).await;
}

/// `handler sweep` live at `now`, issues in o/r, `extra_env` added.
fn sweep(dir: &Path, arm: &MockServer, gh: &FakeGithub, now: &str, extra_env: &[(&str, &str)]) -> Output {
    let policy = format!("[[rule]]\nname = \"platform\"\n[rule.github_issue]\nrepo = \"{REPO}\"\n");
    std::fs::write(dir.join("cadence.toml"), policy).unwrap();
    let gh_uri = gh.uri();
    let mut env = vec![
        ("CADENCE_CONFIG", "cadence.toml"),
        ("CADENCE_DRY_RUN", "false"),
        ("CADENCE_SWEEP_EVENT_WIRING", "false"),
        ("GITHUB_TOKEN", "ghp_e2eCalendar000000000000000000000000"),
        ("GITHUB_API_URL", gh_uri.as_str()),
    ];
    env.extend_from_slice(extra_env);
    let out = fleet_support::handler_sweep(dir, arm, &env, &["--now", now]);
    assert!(out.status.success(), "sweep failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The one support issue of `cluster` about `minor`.
fn support_issue(gh: &FakeGithub, cluster: &str, minor: &str) -> e2e_support::FakeIssue {
    let mark = format!("/managedclusters/{cluster}#support#{minor} -->");
    let found: Vec<_> = gh.issues().into_iter().filter(|i| i.body.contains(&mark)).collect();
    assert_eq!(found.len(), 1, "one issue for {cluster}'s support of {minor}: {:#?}", gh.issues().iter().map(|i| &i.title).collect::<Vec<_>>());
    found.into_iter().next().unwrap()
}

async fn github() -> (FakeGithub, Comments) {
    let gh = FakeGithub::start().await;
    let comments = gh.comments().await;
    (gh, comments)
}

#[tokio::test]
async fn a_support_concern_climbs_notice_reminder_overdue_on_the_calendar_date_each_once() {
    let (gh, comments) = github().await;
    gh.expect_creates(2).await; // prod's and lts's support issues, once each over every sweep below
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    fleet(&arm, &[]).await;

    // A month ahead: the notice, naming the day and where it came from.
    for _ in 0..2 {
        sweep(dir.path(), &arm, &gh, "2026-11-01T09:00:00Z", &[]);
    }
    let prod = support_issue(&gh, "prod", "1.34");
    let told = format!("{}\n{}", prod.title, prod.body);
    assert!(told.contains(&format!("leaves AKS support on {END_1_34}")), "{told}");
    assert!(told.contains(BUILT_IN), "the source is named: {told}");
    assert!(comments.on(prod.number).is_empty(), "the same day again says nothing: {:#?}", comments.on(prod.number));

    // The LTS cluster is dated by 1.32's LTS end, not its community end (long past).
    let lts = support_issue(&gh, "lts", "1.32");
    let told = format!("{}\n{}", lts.title, lts.body);
    assert!(told.contains(&format!("leaves AKS support on {LTS_END_1_32}")), "{told}");
    assert!(!told.contains("2026-03-31"), "{told}");

    // Within the reminder days (3 by default): one reminder, however often the sweep runs.
    for _ in 0..2 {
        sweep(dir.path(), &arm, &gh, "2026-11-28T09:00:00Z", &[]);
    }
    let said = comments.on(prod.number);
    assert_eq!(said.len(), 1, "{said:#?}");
    assert!(said[0].to_lowercase().contains("reminder") && said[0].contains(END_1_34), "{}", said[0]);

    // Past the date: one overdue comment saying support has ended on that day.
    for _ in 0..2 {
        sweep(dir.path(), &arm, &gh, "2026-12-01T09:00:00Z", &[]);
    }
    let said = comments.on(prod.number);
    assert_eq!(said.len(), 2, "{said:#?}");
    assert!(said[1].to_lowercase().contains("overdue") && said[1].contains(&format!("left AKS support on {END_1_34}")), "{}", said[1]);
    assert!(said[1].contains(BUILT_IN), "{}", said[1]);
    assert!(comments.on(lts.number).is_empty(), "LTS support of 1.32 runs until {LTS_END_1_32}: nothing more to say");

    arm.verify().await;
    gh.server.verify().await;
}

/// An Event Grid delivery of AKS's EOL notice (Microsoft's documented `properties`, in the
/// Resource Notifications envelope) for `cluster` on `version`, ending at `eol`.
fn eol_notice(cluster: &str, version: &str, eol: &str, sent: &str) -> Value {
    let mut properties = e2e_support::fixture("aks_scheduled_event_properties_eol_notification.docs.json");
    properties["eventDetails"]["kubernetesVersion"] = json!(version);
    properties["eventDetails"]["eolDate"] = json!(eol);
    properties["scheduledTime"] = json!(eol);
    let event = format!("{cluster}/scheduledEvents/eol-{version}");
    json!([{
        "id": format!("eol-{version}"),
        "topic": format!("/subscriptions/{}", arm_common::SUB),
        "subject": event,
        "eventType": "Microsoft.ResourceNotifications.ContainerServiceEventResources.ScheduledEventEmitted",
        "eventTime": sent,
        "data": {
            "resourceInfo": {"id": event, "name": format!("eol-{version}"), "type": "Microsoft.ContainerService/managedClusters/scheduledEvents", "properties": properties},
            "operationalInfo": {"resourceEventTime": sent},
            "apiVersion": "2023-11-02-preview"
        },
        "dataVersion": "1",
        "metadataVersion": "1"
    }])
}

/// `handler replay FILE --now NOW` live in `dir` (the sweep's ledger), with the built-in policy.
fn replay(dir: &Path, file: &Path, now: &str) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(dir)
        .env_clear()
        .envs([("CADENCE_STATE", "sqlite:cadence.db"), ("CADENCE_DRY_RUN", "false"), ("RUST_LOG", "info")])
        .args(["replay", "--now", now])
        .arg(file)
        .output()
        .expect("run handler replay");
    assert!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[tokio::test]
async fn an_eol_notice_remembered_in_the_ledger_dates_later_sweeps_ahead_of_the_calendar() {
    let (gh, _comments) = github().await;
    gh.expect_creates(3).await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    fleet(&arm, &["other"]).await;
    // AKS tells the team of `other` that 1.34 ends on 2026-12-15: the ledger remembers it for 1.34.
    let other = FleetCluster::new("other", "1.34.12", LATEST_IMAGE, vec![]).id();
    let file = dir.path().join("eol.json");
    std::fs::write(&file, eol_notice(&other, "1.34.12", "2026-12-15T00:00:00Z", "2026-10-20T06:00:00Z").to_string()).unwrap();
    let out = replay(dir.path(), &file, "2026-10-20T07:00:00Z");
    assert!(String::from_utf8_lossy(&out.stderr).contains("EOL notice for Kubernetes 1.34 remembered: support ends 2026-12-15"), "{}", String::from_utf8_lossy(&out.stderr));

    // A later sweep dates every 1.34 cluster by the notice, not the calendar's 2026-11-30.
    sweep(dir.path(), &arm, &gh, "2026-11-01T09:00:00Z", &[]);
    let issues = gh.issues();
    let on_1_34: Vec<_> = issues.iter().filter(|i| i.body.contains("#support#1.34 -->")).collect();
    assert_eq!(on_1_34.len(), 2, "prod's and other's");
    for issue in on_1_34 {
        let told = format!("{}\n{}", issue.title, issue.body);
        assert!(told.contains("leaves AKS support on 2026-12-15"), "{told}");
        assert!(told.contains("AKS's EOL notice (ScheduledEventEmitted) of 2026-10-20"), "{told}");
        assert!(!told.contains(END_1_34), "{told}");
    }
    // 1.32 had no notice: the built-in calendar's LTS end.
    let lts = support_issue(&gh, "lts", "1.32");
    assert!(lts.body.contains(LTS_END_1_32) || lts.title.contains(LTS_END_1_32), "{}", lts.body);
    arm.verify().await;
    gh.server.verify().await;
}

/// A calendar API on the fake's loopback address answering `response` to every read; the
/// read is expected `reads` times.
async fn mount_calendar(arm: &MockServer, response: ResponseTemplate, reads: u64) -> String {
    Mock::given(method("GET"))
        .and(path("/calendar/azure-kubernetes-service"))
        .respond_with(response)
        .expect(reads)
        .named("the calendar refresh")
        .mount(arm)
        .await;
    format!("{}/calendar/azure-kubernetes-service", arm.uri())
}

/// endoflife.date's API v1 product answer, with 1.34 ending on 2026-11-20.
fn calendar_answer() -> Value {
    json!({"schema_version": "1.2.0", "result": {"name": "azure-kubernetes-service", "releases": [
        {"name": "1.35", "label": "1.35", "releaseDate": "2026-03-10", "isLts": false, "isEol": false, "eolFrom": "2027-03-31", "isMaintained": true},
        {"name": "1.34", "label": "1.34", "releaseDate": "2025-11-12", "isLts": false, "isEol": false, "eolFrom": "2026-11-20", "isMaintained": true}
    ]}})
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One sweep with the refresh answering `response` (two clusters on 1.34 and one on LTS: one
/// read for the whole run). 1.34's issue names `date` and `source`; `failure` is what the
/// sweep's one warning says about a failed refresh (`None`: the refresh answered).
async fn refresh_case(response: ResponseTemplate, date: &str, source: &str, failure: Option<&str>) {
    let (gh, _comments) = github().await;
    gh.expect_creates(3).await;
    let arm = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    fleet(&arm, &["prod2"]).await;
    let url = mount_calendar(&arm, response, 1).await;
    let out = sweep(dir.path(), &arm, &gh, "2026-11-01T09:00:00Z", &[("CADENCE_SUPPORT_CALENDAR_URL", url.as_str())]);
    let prod = support_issue(&gh, "prod", "1.34");
    let told = format!("{}\n{}", prod.title, prod.body);
    assert!(told.contains(&format!("leaves AKS support on {date}")), "{told}");
    assert!(told.contains(source), "{told}");
    // The LTS end of 1.32 is not in the refresh's answer: the built-in calendar gives it.
    let lts = support_issue(&gh, "lts", "1.32");
    assert!(lts.title.contains(LTS_END_1_32) && lts.title.contains(BUILT_IN), "{}", lts.title);
    let said = stderr(&out);
    let warnings: Vec<&str> = said.lines().filter(|l| l.contains("support calendar: the refresh from")).collect();
    match failure {
        None => {
            assert!(told.contains(&url), "the refresh's URL is named: {told}");
            assert!(warnings.is_empty(), "{said}");
        }
        Some(why) => {
            assert_eq!(warnings.len(), 1, "a failure is said once per run:\n{said}");
            assert!(warnings[0].contains(&url) && warnings[0].contains(why) && warnings[0].contains("built-in calendar"), "{}", warnings[0]);
        }
    }
    arm.verify().await; // the calendar was read once for three clusters
    gh.server.verify().await;
}

#[tokio::test]
async fn the_calendar_refresh_answer_dates_support_ahead_of_the_built_in_calendar() {
    let answer = ResponseTemplate::new(200).set_body_json(calendar_answer());
    refresh_case(answer, "2026-11-20", "the support calendar at ", None).await;
}

#[tokio::test]
async fn a_calendar_refresh_answering_500_falls_back_to_the_built_in_calendar_said_once() {
    refresh_case(ResponseTemplate::new(500).set_body_string("oops"), END_1_34, BUILT_IN, Some("HTTP 500")).await;
}

#[tokio::test]
async fn a_calendar_refresh_answering_garbage_falls_back_to_the_built_in_calendar_said_once() {
    let garbage = ResponseTemplate::new(200).set_body_string("<html>not a calendar</html>");
    refresh_case(garbage, END_1_34, BUILT_IN, Some("not JSON")).await;
}

#[test]
fn config_check_names_the_built_in_calendar_and_the_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let run = |env: &[(&str, &str)]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
            .current_dir(dir.path())
            .env_clear()
            .envs(env.iter().copied())
            .args(["config", "check"])
            .output()
            .expect("run handler config check");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let said = run(&[]);
    assert!(said.contains("support calendar: built-in, taken 2026-12-03, minors"), "{said}");
    assert!(said.contains("minors 1.27–1.37"), "{said}");
    assert!(said.contains("support calendar refresh: off (CADENCE_SUPPORT_CALENDAR_URL unset)"), "{said}");
    let said = run(&[("CADENCE_SUPPORT_CALENDAR_URL", "https://endoflife.date/api/v1/products/azure-kubernetes-service")]);
    assert!(said.contains("support calendar refresh: https://endoflife.date/api/v1/products/azure-kubernetes-service (read once per sweep"), "{said}");
}
