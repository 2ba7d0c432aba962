//! Digests across invocations, end to end through the real `handler` binary as the Functions
//! host drives it: every Event Grid event and every fanned-out cluster is its own invocation,
//! email and chat wait in the ledger, and the `digest` timer (`POST /digest`) sends one email
//! per recipient list and one Teams card per webhook for the whole burst. Mail goes to MailDev,
//! Teams and GitHub are fakes on loopback, ARM is the fake fleet of `fleet_support`.
//!
//! These tests FAIL when MailDev is not running: `bash scripts/test.sh` starts it.

mod arm_common;
mod e2e_support;
mod email_support;
mod fleet_support;

use std::time::Duration;

use e2e_support::{Answer, Env, Handler, TEAMS_SETTING, World, concurrently, http, support_ending_event};
use fleet_support::{FleetCluster, IDENTITY_HEADER, OLD_IMAGE, expect_no_cluster_writes, mount_fleet, mount_identity};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::MockServer;

/// The quiet period the tests run with (the default is 60 s).
const QUIET: Duration = Duration::from_secs(1);

/// The real `ClusterSupportEnding` event, about `cluster` instead of the fixture's placeholder.
fn support_ending_for(cluster: &str, id: &str) -> Value {
    let mut e = support_ending_event();
    let topic = e["topic"].as_str().unwrap().replace("{cluster}", cluster).replace("{subscription-id}", arm_common::SUB).replace("{resource-group}", "rg-burst");
    e["topic"] = json!(topic);
    e["subject"] = json!(cluster);
    e["id"] = json!(id);
    e
}

/// Every message's text and HTML, joined, for searching.
fn bodies(mail: &[Value]) -> String {
    mail.iter().map(|m| format!("{}\n{}", m["text"].as_str().unwrap_or_default(), m["html"].as_str().unwrap_or_default())).collect()
}

async fn post_invocation(h: &Handler, route: &str, body: &Value) -> Answer {
    let r = http().post(h.url(route)).json(body).send().await.unwrap_or_else(|e| panic!("POST {route}: {e}"));
    Answer::from(r).await
}

#[tokio::test]
async fn a_burst_of_events_each_in_its_own_invocation_opens_every_issue_and_sends_one_email_and_one_card() {
    const N: usize = 30;
    let w = World::new("digest-burst").await;
    w.github.expect_creates(N as u64).await;
    w.chat.expect_posts(1).await;
    let env = w.env_with_digest().set("CADENCE_DIGEST_QUIET_SECONDS", QUIET.as_secs().to_string());
    let h = Handler::start(w.dir.path(), &env).await;

    let clusters: Vec<String> = (0..N).map(|i| format!("aks-burst-{i:02}")).collect();
    // Each event is one invocation, delivered three times at once (at least once, duplicates).
    for (i, c) in clusters.iter().enumerate() {
        let event = support_ending_for(c, &format!("burst-{i:02}"));
        for a in concurrently(3, || h.invoke(&event)).await {
            assert_eq!(a.status, 200, "{}", a.body);
        }
    }
    assert_eq!(w.github.issues().len(), N, "each invocation opens its cluster's issue at once");
    assert_eq!(w.mail_count_settled(0).await, 0, "mail waits for the digest");
    assert!(w.chat.payloads().await.is_empty(), "so does Teams");

    tokio::time::sleep(QUIET + Duration::from_millis(100)).await;
    // Two overlapping ticks (a slow tick and the next one): one email, one card.
    let ticks = concurrently(2, || h.digest()).await;
    for t in &ticks {
        assert_eq!(t.status, 200, "{}", t.body);
    }
    let mail = w.mail(1).await;
    assert_eq!(mail.len(), 1, "one email for the burst: {:#?}", mail.iter().map(|m| &m["subject"]).collect::<Vec<_>>());
    let text = bodies(&mail);
    for c in &clusters {
        assert!(text.contains(c.as_str()), "the digest lists {c}");
    }
    let cards = w.chat.payloads().await;
    assert_eq!(cards.len(), 1, "one Teams card for the burst");
    assert!(cards[0].to_string().contains("aks-burst-00"), "the card lists the clusters");

    // Later ticks and late redeliveries send nothing more.
    let again = h.digest().await;
    assert_eq!(again.status, 200, "{}", again.body);
    let late = h.invoke(&support_ending_for(&clusters[0], "burst-00")).await;
    assert!(late.logs().contains("already processed"), "{}", late.body);
    tokio::time::sleep(QUIET + Duration::from_millis(100)).await;
    h.digest().await;
    assert_eq!(w.mail_count_settled(1).await, 1, "no second email");
    assert_eq!(w.chat.payloads().await.len(), 1, "no second card");
    w.github.server.verify().await;
    w.chat.server.verify().await;
}

#[tokio::test]
async fn three_hundred_clusters_swept_one_queue_message_each_get_one_email_listing_them_all() {
    const N: usize = 300;
    let w = World::new("digest-fanout").await;
    w.chat.expect_posts(1).await;
    let arm = MockServer::start().await;
    mount_identity(&arm).await;
    let fleet: Vec<FleetCluster> = (0..N).map(|i| FleetCluster::new(&format!("aks-fleet-{i:03}"), "1.24.6", OLD_IMAGE, vec!["1.24.9"])).collect();
    mount_fleet(&arm, &fleet).await;
    expect_no_cluster_writes(&arm).await;
    // Mail and chat only: the team wants one message a sweep, not an issue per cluster.
    let policy = w.dir.path().join("digest.toml");
    std::fs::write(
        &policy,
        format!("[[rule]]\nname = \"fleet\"\n[rule.email]\nto = [\"{}\"]\n[[rule.chat]]\nkind = \"teams\"\nurl_setting = \"{TEAMS_SETTING}\"\n", w.recipient),
    )
    .unwrap();
    let identity = format!("{}/msi/token", arm.uri());
    let env: Env = w
        .env_with_digest()
        .set("CADENCE_CONFIG", policy.display().to_string())
        .set("CADENCE_DIGEST_QUIET_SECONDS", QUIET.as_secs().to_string())
        .set("CADENCE_SWEEP_INLINE_MAX", "0")
        .set("CADENCE_SWEEP_KUBECONFIG_CERTS", "false")
        .set("CADENCE_SUBSCRIPTIONS", arm_common::SUB)
        .set("ARM_ENDPOINT", arm.uri())
        .set("AZURE_CREDENTIAL", "managed_identity")
        .set("IDENTITY_ENDPOINT", identity)
        .set("IDENTITY_HEADER", IDENTITY_HEADER);
    let h = Handler::start(w.dir.path(), &env).await;

    let timer = json!({"Data": {"timer": arm_common::fixture("functions-host/timer_info_object.docs.json")}, "Metadata": {}});
    let fanned = post_invocation(&h, "/sweep", &timer).await;
    assert_eq!(fanned.status, 200, "{}", fanned.body);
    let messages = fanned.json()["Outputs"]["clusters"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.len(), N, "one queue message per cluster");

    // The queue trigger: one invocation per message, eight at a time; every 50th message is
    // delivered twice (queues deliver at least once).
    let mut deliveries: Vec<Value> = messages.clone();
    deliveries.extend(messages.iter().step_by(50).cloned());
    let answers: Vec<Answer> = futures::stream::iter(deliveries)
        .map(|m| {
            let mut body = arm_common::fixture("functions-host/customhandler_request_queue_trigger.docs.json");
            body["Data"] = json!({"cluster": m});
            let h = &h;
            async move { post_invocation(h, "/sweep-cluster", &body).await }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.body);
    }
    assert_eq!(w.mail_count_settled(0).await, 0, "nothing is mailed per cluster");

    tokio::time::sleep(QUIET + Duration::from_millis(100)).await;
    let tick = h.digest().await;
    assert_eq!(tick.status, 200, "{}", tick.body);
    let mail = w.mail(1).await;
    assert_eq!(mail.len(), 1, "one email for 300 clusters");
    let text = bodies(&mail);
    let listed = fleet.iter().filter(|c| text.contains(c.resource["name"].as_str().unwrap())).count();
    assert_eq!(listed, N, "the email lists every cluster");
    let subject = mail[0]["subject"].as_str().unwrap_or_default();
    assert!(subject.contains("300"), "the subject says how many clusters: {subject}");
    let cards = w.chat.payloads().await;
    assert_eq!(cards.len(), 1, "one Teams card");
    assert!(cards[0].to_string().contains("more"), "the card lists the first entries and says how many more");
    assert!(tick.logs().lines().filter(|l| l.starts_with("email ") && l.contains(" done")).count() >= N, "{}", tick.body);
    w.chat.server.verify().await;
    arm.verify().await;
}

/// `handler sweep` live over a fleet larger than `CADENCE_SWEEP_BATCH`: each batch is planned
/// and carried out on its own, but its email and chat wait in the ledger and the sweep's end
/// sends them as one email per recipient and one Teams card, listing every cluster.
#[tokio::test]
async fn a_live_sweep_in_batches_sends_one_email_and_one_card_for_the_whole_fleet() {
    const N: usize = 7;
    let w = World::new("digest-batches").await;
    w.chat.expect_posts(1).await;
    let arm = MockServer::start().await;
    mount_identity(&arm).await;
    let fleet: Vec<FleetCluster> = (0..N).map(|i| FleetCluster::new(&format!("aks-batch-{i}"), "1.24.6", OLD_IMAGE, vec!["1.24.9"])).collect();
    mount_fleet(&arm, &fleet).await;
    expect_no_cluster_writes(&arm).await;
    let policy = w.dir.path().join("digest.toml");
    std::fs::write(
        &policy,
        format!("[[rule]]\nname = \"fleet\"\n[rule.email]\nto = [\"{}\"]\n[[rule.chat]]\nkind = \"teams\"\nurl_setting = \"{TEAMS_SETTING}\"\n", w.recipient),
    )
    .unwrap();
    let identity = format!("{}/msi/token", arm.uri());
    let env: Env = w
        .env()
        .set("CADENCE_CONFIG", policy.display().to_string())
        .set("CADENCE_SWEEP_BATCH", "3")
        .set("CADENCE_SWEEP_KUBECONFIG_CERTS", "false")
        .set("CADENCE_SUBSCRIPTIONS", arm_common::SUB)
        .set("ARM_ENDPOINT", arm.uri())
        .set("AZURE_CREDENTIAL", "managed_identity")
        .set("IDENTITY_ENDPOINT", identity)
        .set("IDENTITY_HEADER", IDENTITY_HEADER)
        .set("RUST_LOG", "info");
    let dir = w.dir.path().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_handler"))
            .current_dir(dir)
            .env_clear()
            .envs(&env.0)
            .args(["sweep", "--format", "json"])
            .output()
            .expect("run handler sweep")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("swept {N} cluster(s)")), "{stderr}");
    let planned: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let emails = planned.iter().filter(|l| l["action"] == "email").count();
    assert!(emails >= N, "an email action per cluster, in three batches: {planned:#?}");
    let keys: std::collections::BTreeSet<&str> = planned.iter().map(|l| l["key"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), planned.len(), "nothing planned twice across batches");

    // The process has ended: what it sent is in MailDev.
    let mail = w.mail(1).await;
    assert_eq!(mail.len(), 1, "one email for the sweep, not one per batch: {stderr}");
    let text = bodies(&mail);
    let listed = fleet.iter().filter(|c| text.contains(c.resource["name"].as_str().unwrap())).count();
    assert_eq!(listed, N, "the email lists every cluster of every batch");
    assert_eq!(w.chat.payloads().await.len(), 1, "one Teams card");
    w.chat.server.verify().await;
    // Nothing stays queued.
    let ledger = aks_cadence::store::sqlite::SqliteLedger::open(w.db.clone()).unwrap();
    assert!(aks_cadence::store::Ledger::pending_notifications(&ledger).await.unwrap().is_empty());
    arm.verify().await;
}
