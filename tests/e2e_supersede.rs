//! A newer target, end to end through the real binary: `handler replay` runs live (not dry-run)
//! against a stateful fake GitHub and a fake Teams webhook on wiremock, with its own SQLite
//! ledger, one event file at a time as Event Grid would deliver them.
//!
//! `NewKubernetesVersionAvailable` carries no cluster version, so these events are about the
//! newest version the region offers (the concern of its minor line): 1.30.4 then 1.30.7 is a
//! newer patch of the same concern, 1.31.2 a newer minor. Whatever order and however often
//! they arrive, one issue stays open, on the newest target; the chat hears each target once.
//! The patch concern proper (`patch:<current>`) comes from sweeps: `handler sweep` live
//! against a fake ARM fleet shows a newer patch moving its issue as well.

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use e2e_support::*;
use serde_json::{Value, json};

const NOW: &str = "2026-03-10T12:00:00Z";
const CLUSTER_ID: &str = "/subscriptions/5f0e1d2c-3b4a-4958-8776-a5b4c3d2e1f0/resourceGroups/rg-prod-weu/providers/Microsoft.ContainerService/managedClusters/aks-prod-weu";

/// One e2e world (`e2e_support::World`: the e2e policy — an issue in o/r, mail to a unique
/// MailDev recipient, a Teams card — its fakes and ledger) with comments on the fake GitHub, and
/// event files to replay.
struct Replays {
    w: World,
    comments: Comments,
    files: usize,
}

impl Replays {
    async fn start(tag: &str) -> Self {
        let w = World::new(tag).await;
        let comments = w.github.comments().await;
        Self { w, comments, files: 0 }
    }

    /// One Event Grid delivery of `NewKubernetesVersionAvailable` naming `newest`.
    fn event(&mut self, id: &str, newest: &str, event_time: &str) -> PathBuf {
        self.files += 1;
        let event = json!([{
            "topic": CLUSTER_ID,
            "subject": "aks-prod-weu",
            "eventType": "Microsoft.ContainerService.NewKubernetesVersionAvailable",
            "id": id,
            "data": { "latestSupportedKubernetesVersion": newest, "latestStableKubernetesVersion": newest, "lowestMinorKubernetesVersion": "1.29.2" },
            "dataVersion": "1",
            "metadataVersion": "1",
            "eventTime": event_time
        }]);
        let p = self.w.dir.path().join(format!("{:02}-{id}.json", self.files));
        std::fs::write(&p, event.to_string()).unwrap();
        p
    }

    /// `handler replay FILE` live, as a user runs it, with the world's settings.
    fn replay(&self, file: &Path) -> Output {
        let out = Command::new(env!("CARGO_BIN_EXE_handler"))
            .current_dir(self.w.dir.path())
            .env_clear()
            .envs(&self.w.env().set("RUST_LOG", "info").0)
            .args(["replay", "--now", NOW])
            .arg(file)
            .output()
            .expect("run handler replay");
        assert!(out.status.success(), "replay {} failed: {}", file.display(), String::from_utf8_lossy(&out.stderr));
        out
    }

    fn open_issues(&self) -> Vec<FakeIssue> {
        self.w.github.issues().into_iter().filter(|i| i.state == "open").collect()
    }

    /// The Teams cards posted, as text.
    async fn cards(&self) -> Vec<String> {
        self.w.chat.server.received_requests().await.unwrap().iter().map(|r| String::from_utf8_lossy(&r.body).into_owned()).collect()
    }

    /// Each message's subject and text, once `n` arrived.
    async fn mail(&self, n: usize) -> Vec<String> {
        self.w.mail(n).await.iter().map(|m| format!("{}\n{}", m["subject"].as_str().unwrap_or_default(), m["text"].as_str().unwrap_or_default())).collect()
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn a_newer_patch_moves_the_one_issue_and_a_late_older_event_moves_nothing_back() {
    let mut w = Replays::start("supersede-patch").await;
    w.w.github.expect_creates(1).await;
    w.w.chat.expect_posts(2).await;

    let first = w.event("e-1304", "1.30.4", "2026-03-01T08:00:00Z");
    let newer = w.event("e-1307", "1.30.7", "2026-03-05T08:00:00Z");
    let late = w.event("e-1304-late", "1.30.4", "2026-03-01T09:00:00Z");
    w.replay(&first);
    w.replay(&newer);
    w.replay(&newer); // Event Grid delivers again: the same event id
    let stale = w.replay(&late); // an older fact, delivered late under its own id

    let issues = w.w.github.issues();
    assert_eq!(issues.len(), 1, "one issue for the concern: {issues:#?}");
    let issue = &issues[0];
    assert_eq!(issue.state, "open");
    assert!(issue.title.contains("1.30.7") && !issue.title.contains("1.30.4"), "the issue follows the newest target: {}", issue.title);
    assert!(issue.body.contains("1.30.7"), "{}", issue.body);
    let comments = w.comments.on(issue.number);
    assert_eq!(comments.len(), 1, "one comment, for the one supersession: {comments:#?}");
    assert!(comments[0].contains("superseded 1.30.4 → 1.30.7"), "{}", comments[0]);

    assert!(stderr(&stale).contains("is older than 1.30.7 already told"), "the late event is logged, not silent:\n{}", stderr(&stale));
    let cards = w.cards().await;
    assert!(cards[0].contains("1.30.4") && cards[1].contains("1.30.7"), "the chat hears each target once, in order: {cards:#?}");
    let mail = w.mail(2).await;
    assert_eq!(w.w.mail_count_settled(2).await, 2, "one mail per target: {mail:#?}");
    assert!(mail.iter().any(|m| m.contains("1.30.7") && m.contains("superseded 1.30.4 → 1.30.7")), "the mail tells the new target: {mail:#?}");
    w.w.github.server.verify().await;
    w.w.chat.server.verify().await;
}

#[tokio::test]
async fn a_newer_minor_closes_the_older_issue_linking_the_new_one_and_a_late_older_event_reopens_nothing() {
    let mut w = Replays::start("supersede-minor").await;
    w.w.github.expect_creates(2).await;
    w.w.chat.expect_posts(2).await;

    let first = w.event("e-1307", "1.30.7", "2026-03-01T08:00:00Z");
    let minor = w.event("e-1312", "1.31.2", "2026-03-05T08:00:00Z");
    let late = w.event("e-1309-late", "1.30.9", "2026-03-03T08:00:00Z");
    w.replay(&first);
    w.replay(&minor);
    w.replay(&minor);
    w.replay(&late);

    let open = w.open_issues();
    assert_eq!(open.len(), 1, "one open issue per cluster and concern kind: {:#?}", w.w.github.issues());
    assert!(open[0].title.contains("1.31.2"), "{}", open[0].title);
    let old = w.w.github.issues().into_iter().find(|i| i.state == "closed").expect("the older issue is closed");
    assert!(old.title.contains("1.30.7"), "{}", old.title);
    let closing = w.comments.on(old.number);
    assert_eq!(closing.len(), 1, "{:#?}", w.comments.all());
    assert!(closing[0].contains("**Superseded**") && closing[0].contains(&format!("Continued in #{}.", open[0].number)), "{}", closing[0]);
    let patches: Vec<Value> = w
        .w
        .github
        .requests()
        .await
        .iter()
        .filter(|r| r.method.as_str() == "PATCH" && r.url.path().ends_with(&format!("/issues/{}", old.number)))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(patches, vec![json!({"state": "closed", "state_reason": "not_planned"})], "closed once, as not planned");
    assert!(w.comments.on(open[0].number).is_empty(), "{:#?}", w.comments.all());
    let mail = w.mail(2).await;
    assert_eq!(w.w.mail_count_settled(2).await, 2, "one mail per minor: {mail:#?}");
    w.w.github.server.verify().await;
    w.w.chat.server.verify().await;
}

/// `handler sweep` live at `now` against the fake ARM `arm` and the world's GitHub.
fn sweep(w: &Replays, arm: &wiremock::MockServer, now: &str) -> Output {
    std::fs::write(w.w.dir.path().join("sweep.toml"), format!("[[rule]]\nname = \"platform\"\n[rule.github_issue]\nrepo = \"{REPO}\"\n")).unwrap();
    let identity = format!("{}/msi/token", arm.uri());
    let out = Command::new(env!("CARGO_BIN_EXE_handler"))
        .current_dir(w.w.dir.path())
        .env_clear()
        .envs([
            ("ARM_ENDPOINT", arm.uri().as_str()),
            ("AZURE_CREDENTIAL", "managed_identity"),
            ("IDENTITY_ENDPOINT", identity.as_str()),
            ("IDENTITY_HEADER", fleet_support::IDENTITY_HEADER),
            ("CADENCE_SUBSCRIPTIONS", arm_common::SUB),
            ("CADENCE_CONFIG", "sweep.toml"),
            ("CADENCE_STATE", "sqlite:sweep.db"),
            ("CADENCE_DRY_RUN", "false"),
            ("GITHUB_TOKEN", "ghp_e2eSupersede0000000000000000000000"),
            ("GITHUB_API_URL", w.w.github.uri().as_str()),
        ])
        .args(["sweep", "--now", now])
        .output()
        .expect("run handler sweep");
    assert!(out.status.success(), "sweep failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The fake ARM fleet: `prod` on 1.24.6 (node image current) offered `upgrades`.
async fn fleet(arm: &wiremock::MockServer, upgrades: Vec<&'static str>) {
    arm.reset().await;
    fleet_support::mount_identity(arm).await;
    let prod = fleet_support::FleetCluster::new("prod", "1.24.6", fleet_support::LATEST_IMAGE, upgrades);
    fleet_support::mount_fleet(arm, &[prod]).await;
}

#[tokio::test]
async fn a_sweep_seeing_a_newer_patch_retitles_the_patch_issue_once_instead_of_leaving_it_on_the_old_target() {
    let w = Replays::start("supersede-sweep").await;
    let arm = wiremock::MockServer::start().await;
    w.w.github.expect_creates(1).await;

    fleet(&arm, vec!["1.24.9"]).await;
    sweep(&w, &arm, "2026-01-15T09:00:00Z");
    fleet(&arm, vec!["1.24.9", "1.24.10"]).await;
    sweep(&w, &arm, "2026-01-16T09:00:00Z");
    sweep(&w, &arm, "2026-01-17T09:00:00Z");
    fleet(&arm, vec!["1.24.9"]).await; // a profile read from a lagging replica
    sweep(&w, &arm, "2026-01-18T09:00:00Z");

    let patch: Vec<FakeIssue> = w.w.github.issues().into_iter().filter(|i| i.body.contains("#kubernetes-upgrade#patch:1.24.6 -->")).collect();
    assert_eq!(patch.len(), 1, "one issue for the patch concern: {:#?}", w.w.github.issues());
    let issue = &patch[0];
    assert_eq!(issue.state, "open");
    assert!(issue.title.contains("1.24.6 → 1.24.10"), "the issue follows the pull request's target: {}", issue.title);
    let comments = w.comments.on(issue.number);
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(comments[0].contains("superseded 1.24.9 → 1.24.10"), "{}", comments[0]);
}
