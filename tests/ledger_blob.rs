//! The blob ledger against a real Azurite (`CADENCE_TEST_AZURITE_BLOB`; `scripts/test.sh` starts
//! it). Every test uses its own container, so tests run in parallel on one emulator.

mod ledger_blob_support;

use std::sync::Arc;

use aks_cadence::action::ActionKey;
use aks_cadence::store::blob::BlobLedger;
use aks_cadence::store::{ActionState, Claim, ClaimToken, Completion, Ledger, LedgerError};
use jiff::{SignedDuration, Timestamp};
use ledger_blob_support::{account_sas, container_url, endpoint, fresh_ledger, unique_container};

fn t(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn key(s: &str) -> ActionKey {
    ActionKey::from_raw(s)
}

const NOW: &str = "2026-03-01T10:00:00Z";
const LEASE: SignedDuration = SignedDuration::from_mins(10);

fn acquired(c: Claim) -> ClaimToken {
    match c {
        Claim::Acquired(tok) => tok,
        other => panic!("expected Acquired, got {other:?}"),
    }
}

#[tokio::test]
async fn an_event_is_marked_processed_exactly_once() {
    let (l, _) = fresh_ledger("events").await;
    assert!(!l.event_processed("evt-1").await.unwrap());
    assert!(l.mark_event_processed("evt-1", t(NOW)).await.unwrap(), "first mark records it");
    assert!(!l.mark_event_processed("evt-1", t(NOW)).await.unwrap(), "second mark finds it done");
    assert!(l.event_processed("evt-1").await.unwrap());
    assert!(!l.event_processed("evt-2").await.unwrap(), "other ids are untouched");
}

#[tokio::test]
async fn first_seen_keeps_the_first_time_forever() {
    let (l, _) = fresh_ledger("firstseen").await;
    let k = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/prod|k8s-version|1.31";
    assert_eq!(l.first_seen(k, t("2026-01-01T00:00:00Z")).await.unwrap(), t("2026-01-01T00:00:00Z"));
    assert_eq!(l.first_seen(k, t("2026-02-01T00:00:00Z")).await.unwrap(), t("2026-01-01T00:00:00Z"));
    assert_eq!(l.first_seen("other", t("2026-02-01T00:00:00Z")).await.unwrap(), t("2026-02-01T00:00:00Z"));
}

#[tokio::test]
async fn claim_then_complete_finishes_the_key_and_a_replay_does_nothing() {
    let (l, _) = fresh_ledger("complete").await;
    let k = key("cluster|k8s-version|1.31/github-issue:org/repo/notice");
    assert_eq!(l.action_state(&k).await.unwrap(), None);

    let tok = acquired(l.claim(&k, "worker-a", t(NOW), LEASE).await.unwrap());
    assert_eq!(
        l.action_state(&k).await.unwrap(),
        Some(ActionState::Claimed { owner: "worker-a".into(), until: t("2026-03-01T10:10:00Z") })
    );

    let done_at = t("2026-03-01T10:00:05Z");
    l.complete(&k, &tok, Completion::Done { detail: "https://github.com/org/repo/issues/7".into() }, done_at).await.unwrap();
    let done = ActionState::Done { detail: "https://github.com/org/repo/issues/7".into(), at: done_at };
    assert_eq!(l.action_state(&k).await.unwrap(), Some(done.clone()));

    // A redelivery a day later, by any worker, finds it finished.
    assert_eq!(l.claim(&k, "worker-b", t("2026-03-02T10:00:00Z"), LEASE).await.unwrap(), Claim::Finished(done));
}

#[tokio::test]
async fn a_permanent_failure_is_finished_and_not_retried() {
    let (l, _) = fresh_ledger("failed").await;
    let k = key("c|cert|2027/email:ops@example.com/notice");
    let tok = acquired(l.claim(&k, "w", t(NOW), LEASE).await.unwrap());
    l.complete(&k, &tok, Completion::Failed { reason: "recipient rejected".into() }, t(NOW)).await.unwrap();
    let failed = ActionState::Failed { reason: "recipient rejected".into(), at: t(NOW) };
    assert_eq!(l.claim(&k, "w2", t(NOW), LEASE).await.unwrap(), Claim::Finished(failed));
}

#[tokio::test]
async fn a_completion_replayed_after_a_lost_answer_is_accepted() {
    // The first complete landed but (say) its answer was lost; the same worker sends it again.
    let (l, _) = fresh_ledger("replaycomplete").await;
    let k = key("c/log/notice");
    let tok = acquired(l.claim(&k, "w", t(NOW), LEASE).await.unwrap());
    l.complete(&k, &tok, Completion::Done { detail: "logged".into() }, t(NOW)).await.unwrap();
    l.complete(&k, &tok, Completion::Done { detail: "logged".into() }, t(NOW)).await.unwrap();
    assert!(matches!(l.action_state(&k).await.unwrap(), Some(ActionState::Done { .. })));
}

#[tokio::test]
async fn a_token_completes_once_and_a_different_second_outcome_is_a_lost_claim() {
    let (l, _) = fresh_ledger("completeonce").await;
    let k = key("c/log/notice");
    let tok = acquired(l.claim(&k, "w", t(NOW), LEASE).await.unwrap());
    l.complete(&k, &tok, Completion::Done { detail: "first".into() }, t(NOW)).await.unwrap();
    let twice = l.complete(&k, &tok, Completion::Failed { reason: "second".into() }, t("2026-03-01T10:00:01Z")).await;
    assert!(matches!(twice, Err(LedgerError::LostClaim { .. })), "{twice:?}");
    assert!(matches!(l.release(&k, &tok).await, Err(LedgerError::LostClaim { .. })), "a done key cannot be released");
    assert_eq!(l.action_state(&k).await.unwrap(), Some(ActionState::Done { detail: "first".into(), at: t(NOW) }));
}

#[tokio::test]
async fn a_live_claim_is_held_elsewhere() {
    let (l, _) = fresh_ledger("held").await;
    let k = key("c/log/notice");
    acquired(l.claim(&k, "worker-a", t(NOW), LEASE).await.unwrap());
    let later = t("2026-03-01T10:09:59Z");
    assert_eq!(
        l.claim(&k, "worker-b", later, LEASE).await.unwrap(),
        Claim::HeldElsewhere { owner: "worker-a".into(), until: t("2026-03-01T10:10:00Z") }
    );
}

#[tokio::test]
async fn many_workers_claiming_one_key_at_once_acquire_it_exactly_once() {
    let (_, url) = fresh_ledger("race").await;
    let k = key("cluster|node-image|2026.02/github-issue:org/repo/notice");
    let mut tasks = Vec::new();
    for i in 0..24 {
        // Each worker has its own client, as separate instances would.
        let l = BlobLedger::new(&url, None).unwrap();
        let k = k.clone();
        tasks.push(tokio::spawn(async move { l.claim(&k, &format!("worker-{i}"), t(NOW), LEASE).await.unwrap() }));
    }
    let mut acquired = 0;
    let mut held = 0;
    for task in tasks {
        match task.await.unwrap() {
            Claim::Acquired(_) => acquired += 1,
            Claim::HeldElsewhere { .. } => held += 1,
            Claim::Finished(s) => panic!("nothing was finished yet: {s:?}"),
        }
    }
    println!("24 concurrent claims: {acquired} acquired, {held} held elsewhere");
    assert_eq!((acquired, held), (1, 23));
}

#[tokio::test]
async fn an_expired_claim_is_taken_over_by_exactly_one_of_many_takers() {
    let (_, url) = fresh_ledger("takeover").await;
    let l = BlobLedger::new(&url, None).unwrap();
    let k = key("c|k8s-version|1.32/upgrade-minor:1.32.1/execute");
    // A worker claims and dies: its lease runs out at 10:10.
    acquired(l.claim(&k, "dead-worker", t(NOW), LEASE).await.unwrap());

    let after = t("2026-03-01T10:11:00Z");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let l = BlobLedger::new(&url, None).unwrap();
        let k = k.clone();
        tasks.push(tokio::spawn(async move { (i, l.claim(&k, &format!("taker-{i}"), after, LEASE).await.unwrap()) }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (i, claim) = task.await.unwrap();
        match claim {
            Claim::Acquired(_) => winners.push(format!("taker-{i}")),
            Claim::HeldElsewhere { owner, until } => {
                assert_ne!(owner, "dead-worker", "the dead claim must not be reported as live");
                assert_eq!(until, t("2026-03-01T10:21:00Z"));
            }
            Claim::Finished(s) => panic!("nothing was finished: {s:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one taker wins: {winners:?}");
    assert_eq!(
        l.action_state(&k).await.unwrap(),
        Some(ActionState::Claimed { owner: winners[0].clone(), until: t("2026-03-01T10:21:00Z") })
    );
}

#[tokio::test]
async fn completing_after_the_claim_was_taken_over_is_a_lost_claim_and_changes_nothing() {
    let (l, _) = fresh_ledger("lost").await;
    let k = key("c/log/notice");
    let slow = acquired(l.claim(&k, "slow", t(NOW), LEASE).await.unwrap());
    let fresh = acquired(l.claim(&k, "fresh", t("2026-03-01T10:30:00Z"), LEASE).await.unwrap());

    let err = l.complete(&k, &slow, Completion::Done { detail: "late".into() }, t("2026-03-01T10:31:00Z")).await.unwrap_err();
    assert!(matches!(err, LedgerError::LostClaim { ref key } if key == k.as_str()), "{err:?}");
    let err = l.release(&k, &slow).await.unwrap_err();
    assert!(matches!(err, LedgerError::LostClaim { .. }), "{err:?}");
    assert_eq!(
        l.action_state(&k).await.unwrap(),
        Some(ActionState::Claimed { owner: "fresh".into(), until: t("2026-03-01T10:40:00Z") })
    );

    l.complete(&k, &fresh, Completion::Done { detail: "on time".into() }, t("2026-03-01T10:32:00Z")).await.unwrap();
    assert!(matches!(l.action_state(&k).await.unwrap(), Some(ActionState::Done { detail, .. }) if detail == "on time"));
}

#[tokio::test]
async fn a_released_claim_can_be_claimed_again_at_once() {
    let (l, _) = fresh_ledger("release").await;
    let k = key("c/teams:TEAMS_URL/notice");
    let tok = acquired(l.claim(&k, "a", t(NOW), LEASE).await.unwrap());
    l.release(&k, &tok).await.unwrap();
    assert_eq!(l.action_state(&k).await.unwrap(), None);
    // A second release of the same claim (a retried request) is harmless.
    l.release(&k, &tok).await.unwrap();
    acquired(l.claim(&k, "b", t(NOW), LEASE).await.unwrap());
}

#[tokio::test]
async fn a_token_from_elsewhere_holds_nothing() {
    let (l, _) = fresh_ledger("foreign").await;
    let k = key("c/log/notice");
    acquired(l.claim(&k, "a", t(NOW), LEASE).await.unwrap());
    let forged = ClaimToken("not-a-blob-token".into());
    let err = l.complete(&k, &forged, Completion::Done { detail: "x".into() }, t(NOW)).await.unwrap_err();
    assert!(matches!(err, LedgerError::LostClaim { .. }), "{err:?}");
}

#[tokio::test]
async fn references_are_stored_per_concern_and_channel_and_replaced() {
    let (l, _) = fresh_ledger("refs").await;
    assert_eq!(l.get_ref("c|k8s|1.31", "github-issue:org/repo").await.unwrap(), None);
    l.put_ref("c|k8s|1.31", "github-issue:org/repo", "17").await.unwrap();
    l.put_ref("c|k8s|1.31", "github-pr:org/repo:infra/aks.bicep", "cadence/c-1.31").await.unwrap();
    assert_eq!(l.get_ref("c|k8s|1.31", "github-issue:org/repo").await.unwrap().as_deref(), Some("17"));
    l.put_ref("c|k8s|1.31", "github-issue:org/repo", "18").await.unwrap();
    assert_eq!(l.get_ref("c|k8s|1.31", "github-issue:org/repo").await.unwrap().as_deref(), Some("18"));
    assert_eq!(
        l.get_ref("c|k8s|1.31", "github-pr:org/repo:infra/aks.bicep").await.unwrap().as_deref(),
        Some("cadence/c-1.31")
    );
}

#[tokio::test]
async fn list_actions_shows_every_key_readably_sorted_with_its_state() {
    let (l, _) = fresh_ledger("list").await;
    let keys = ["z|cert|2027/log/notice", "a|k8s|1.31/email:ops@example.com/reminder", "m|node-image|x/github-issue:o/r/notice"];
    for k in keys {
        acquired(l.claim(&key(k), "w", t(NOW), LEASE).await.unwrap());
    }
    let done = acquired(l.claim(&key("b/log/notice"), "w", t(NOW), LEASE).await.unwrap());
    l.complete(&key("b/log/notice"), &done, Completion::Done { detail: "ok".into() }, t(NOW)).await.unwrap();
    // Other record kinds in the container are not actions.
    l.mark_event_processed("evt", t(NOW)).await.unwrap();
    l.put_ref("a", "b", "c").await.unwrap();

    let listed = l.list_actions().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["a|k8s|1.31/email:ops@example.com/reminder", "b/log/notice", "m|node-image|x/github-issue:o/r/notice", "z|cert|2027/log/notice"]);
    assert!(matches!(listed[1].1, ActionState::Done { .. }));
    assert!(matches!(listed[0].1, ActionState::Claimed { .. }));
}

#[tokio::test]
async fn list_actions_pages_through_more_than_one_listing_page() {
    // Azure lists up to 5,000 names per page; 60 records at 7 per page take 9 pages.
    let (l, url) = fresh_ledger("many").await;
    for i in 0..60 {
        acquired(l.claim(&key(&format!("k{i:03}/log/notice")), "w", t(NOW), LEASE).await.unwrap());
    }
    let paged = BlobLedger::new(&url, None).unwrap().with_list_page_size(7);
    let listed = paged.list_actions().await.unwrap();
    assert_eq!(listed.len(), 60);
    assert!(listed.windows(2).all(|w| w[0].0 < w[1].0), "sorted, no duplicates");
    assert_eq!(listed[0].0.as_str(), "k000/log/notice");
    assert_eq!(listed[59].0.as_str(), "k059/log/notice");
}

#[tokio::test]
async fn everything_survives_a_new_client_instance() {
    let (l, url) = fresh_ledger("survive").await;
    let k = key("c/log/notice");
    l.mark_event_processed("evt", t(NOW)).await.unwrap();
    l.first_seen("concern", t("2026-01-01T00:00:00Z")).await.unwrap();
    l.put_ref("concern", "github-issue:o/r", "42").await.unwrap();
    let tok = acquired(l.claim(&k, "w", t(NOW), LEASE).await.unwrap());
    drop(l);

    let again = BlobLedger::new(&url, None).unwrap();
    assert!(again.event_processed("evt").await.unwrap());
    assert_eq!(again.first_seen("concern", t(NOW)).await.unwrap(), t("2026-01-01T00:00:00Z"));
    assert_eq!(again.get_ref("concern", "github-issue:o/r").await.unwrap().as_deref(), Some("42"));
    // A token survives too: a process restart inside the lease can still complete.
    again.complete(&k, &tok, Completion::Done { detail: "d".into() }, t(NOW)).await.unwrap();
    assert_eq!(again.list_actions().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_missing_container_is_a_configuration_error_that_names_cadence_state() {
    let url = container_url(&unique_container("absent"));
    let l = BlobLedger::new(&url, None).unwrap();
    for err in [
        l.action_state(&key("k")).await.unwrap_err(),
        l.mark_event_processed("e", t(NOW)).await.unwrap_err(),
        l.claim(&key("k"), "w", t(NOW), LEASE).await.unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(matches!(&err, LedgerError::Configuration { setting, .. } if setting.starts_with("CADENCE_STATE")), "{err:?}");
        assert!(msg.contains("CADENCE_STATE") && msg.contains("container does not exist") && msg.contains("Fix:"), "{msg}");
    }
}

#[tokio::test]
async fn a_refused_signature_is_a_configuration_error_with_the_fix_and_no_secret() {
    let sas = account_sas();
    let bad = sas.replace("sig=", "sig=AAAA");
    let url = format!("{}/{}?{bad}", endpoint(), unique_container("denied"));
    let l = BlobLedger::new(&url, None).unwrap();
    let err = l.action_state(&key("k")).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(&err, LedgerError::Configuration { setting, .. } if setting.starts_with("CADENCE_STATE")), "{err:?}");
    assert!(msg.contains("CADENCE_STATE") && msg.contains("Storage Blob Data Contributor"), "{msg}");
    assert!(!msg.contains("sig="), "the SAS must not be echoed: {msg}");
}

#[tokio::test]
async fn an_unreachable_store_is_unavailable_so_the_delivery_is_retried() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/devstoreaccount1/ledger?{}", account_sas());
    let l = BlobLedger::new(&url, None).unwrap();
    let err = l.claim(&key("k"), "w", t(NOW), LEASE).await.unwrap_err();
    assert!(matches!(err, LedgerError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn server_errors_and_throttling_are_unavailable() {
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    // The three cases run at once: each waits out the bounded library backoff.
    let cases = [503u16, 500, 429].map(|status| async move {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(ResponseTemplate::new(status).insert_header("x-ms-error-code", "ServerBusy").insert_header("retry-after", "0"))
            .mount(&server)
            .await;
        let l = BlobLedger::new(&format!("{}/devstoreaccount1/ledger?sv=x&sig=y", server.uri()), None).unwrap();
        let err = l.action_state(&key("k")).await.unwrap_err();
        assert!(matches!(err, LedgerError::Unavailable(_)), "{status}: {err:?}");
        // Bounded library retries: 1 try + 2 retries, no more.
        assert_eq!(server.received_requests().await.unwrap().len(), 3, "{status}");
    });
    futures::future::join_all(cases).await;
}

#[tokio::test]
async fn keys_with_any_characters_round_trip() {
    let (l, _) = fresh_ledger("chars").await;
    let k = key("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/prod-ünï|k8s|1.31/email:a@b.c,d@e.f/notice");
    let tok = acquired(l.claim(&k, "w", t(NOW), LEASE).await.unwrap());
    l.complete(&k, &tok, Completion::Done { detail: "sent".into() }, t(NOW)).await.unwrap();
    assert_eq!(l.list_actions().await.unwrap()[0].0, k);
}

#[tokio::test]
async fn one_shared_ledger_object_serves_concurrent_tasks() {
    let (l, _) = fresh_ledger("shared").await;
    let l: Arc<dyn Ledger> = Arc::new(l);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let l = l.clone();
        tasks.push(tokio::spawn(async move {
            let k = key(&format!("c{i}/log/notice"));
            let tok = acquired(l.claim(&k, "w", t(NOW), LEASE).await.unwrap());
            l.complete(&k, &tok, Completion::Done { detail: format!("{i}") }, t(NOW)).await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let listed = l.list_actions().await.unwrap();
    assert_eq!(listed.len(), 20);
    assert!(listed.iter().all(|(_, s)| matches!(s, ActionState::Done { .. })));
}
