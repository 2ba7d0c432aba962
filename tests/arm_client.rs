//! The ARM client against a fake ARM on 127.0.0.1 serving the real spec examples.

mod arm_common;

use std::time::{Duration, Instant};

use aks_cadence::azure::{AKS_API_VERSION, ArmCall, ArmErrorKind, LroOutcome};
use arm_common::*;
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_get_carries_the_bearer_token_and_the_aks_api_version() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CLUSTER))
        .and(query_param("api-version", "2026-06-01"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("managedclusters_get.2026-04-01.json", "200")))
        .expect(1)
        .mount(&server)
        .await;
    let arm = client(&server.uri());
    let resp = arm.get_response(ArmCall::GetCluster, CLUSTER, AKS_API_VERSION).await.unwrap();
    assert_eq!(resp.body["name"], "clustername1");
    assert_eq!(resp.etag().as_deref(), Some("beywbwei"), "the body's eTag when no ETag header");
    assert_eq!(arm.stats().reads, 1);
}

#[tokio::test]
async fn a_throttled_read_waits_for_retry_after_and_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CLUSTER))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"error": {"code": "TooManyRequests", "message": "slow down"}})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CLUSTER))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("managedclusters_get.2026-04-01.json", "200")))
        .expect(1)
        .mount(&server)
        .await;
    let arm = client(&server.uri());
    let t0 = Instant::now();
    let body = arm.get(ArmCall::GetCluster, CLUSTER, AKS_API_VERSION).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_secs(1), "waited {:?}", t0.elapsed());
    assert_eq!(body["name"], "clustername1");
    let s = arm.stats();
    assert_eq!((s.throttled, s.retries), (1, 1));
}

#[tokio::test]
async fn a_429_pauses_other_requests_to_the_same_subscription_only() {
    let server = MockServer::start().await;
    let same_sub = format!("{CLUSTER}/upgradeProfiles/default");
    let other_sub = "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.ContainerService/managedClusters";
    Mock::given(method("GET"))
        .and(path(CLUSTER))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path(CLUSTER)).respond_with(ResponseTemplate::new(200).set_body_json(json!({}))).mount(&server).await;
    Mock::given(method("GET"))
        .and(path(same_sub.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("managedclusters_get_upgrade_profile.2026-06-01.json", "200")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(other_sub))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("managedclusters_list_subscription.2026-06-01.json", "200")))
        .mount(&server)
        .await;
    let arm = client(&server.uri());
    let first = {
        let arm = arm.clone();
        tokio::spawn(async move { arm.get(ArmCall::GetCluster, CLUSTER, AKS_API_VERSION).await })
    };
    // Wait (without a fixed sleep) until the client has seen the 429 and paused.
    while arm.stats().throttled == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Another subscription goes through while the first request still waits out its 2 s pause
    // (no upper time bound: a loaded machine may be slow, but it cannot reorder these).
    arm.get(ArmCall::ListClusters, other_sub, AKS_API_VERSION).await.unwrap();
    assert!(!first.is_finished(), "another subscription was held until the throttled one went through");
    // The same subscription waits out most of the pause (a lower bound cannot flake under load).
    let t0 = Instant::now();
    arm.get(ArmCall::GetUpgradeProfile, &same_sub, AKS_API_VERSION).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(1000), "the same subscription was not held: {:?}", t0.elapsed());
    first.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_transient_read_is_retried_but_an_action_that_may_have_started_is_not() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path(CLUSTER)).respond_with(ResponseTemplate::new(503)).up_to_n_times(1).mount(&server).await;
    Mock::given(method("GET"))
        .and(path(CLUSTER))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("managedclusters_get.2026-04-01.json", "200")))
        .mount(&server)
        .await;
    let rotate = format!("{CLUSTER}/rotateClusterCertificates");
    Mock::given(method("POST"))
        .and(path(rotate.as_str()))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"code": "InternalServerError", "message": "oops"}})))
        .expect(1)
        .mount(&server)
        .await;
    let arm = client(&server.uri());
    arm.get(ArmCall::GetCluster, CLUSTER, AKS_API_VERSION).await.unwrap();
    let err = arm.post(ArmCall::RotateClusterCertificates, &rotate, AKS_API_VERSION, None).await.unwrap_err();
    assert_eq!(err.kind, ArmErrorKind::Transient);
    assert_eq!(err.code.as_deref(), Some("InternalServerError"));
}

#[tokio::test]
async fn a_conflict_is_classified_and_not_retried() {
    let server = MockServer::start().await;
    let rotate = format!("{CLUSTER}/rotateClusterCertificates");
    Mock::given(method("POST"))
        .and(path(rotate.as_str()))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({"error": {"code": "OperationNotAllowed", "message": "Operation is not allowed because there's an in progress upgrade operation"}})))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server.uri()).post(ArmCall::RotateClusterCertificates, &rotate, AKS_API_VERSION, None).await.unwrap_err();
    assert_eq!(err.kind, ArmErrorKind::Conflict);
    assert_eq!(err.status, Some(409));
    assert!(err.arm_message().starts_with("OperationNotAllowed: "), "{}", err.arm_message());
}

/// The node-image example's 202, with its Azure-AsyncOperation moved onto the mock server.
async fn start_node_image_upgrade(server: &MockServer) -> aks_cadence::azure::ArmResponse {
    let file = "agentpools_upgrade_node_image_version.2025-10-01.json";
    let op = on_server(&example_header(file, "202", "Azure-AsyncOperation"), &server.uri());
    let action = format!("{CLUSTER}/agentPools/agentpool1/upgradeNodeImageVersion");
    Mock::given(method("POST"))
        .and(path(action.as_str()))
        .respond_with(ResponseTemplate::new(202).insert_header("Azure-AsyncOperation", op.as_str()).set_body_json(example_body(file, "202")))
        .expect(1)
        .mount(server)
        .await;
    client(&server.uri()).post(ArmCall::UpgradeNodeImageVersion, &action, AKS_API_VERSION, None).await.unwrap()
}

const OP_PATH: &str = "/providers/Microsoft.ContainerService/locations/westus/operations/00000000-0000-0000-0000-000000000000";

#[tokio::test]
async fn an_async_operation_is_polled_until_it_succeeds() {
    let server = MockServer::start().await;
    let started = start_node_image_upgrade(&server).await;
    let in_progress = fixture("arm/async_operation_status_inprogress.docs.json");
    Mock::given(method("GET"))
        .and(path(OP_PATH))
        .respond_with(ResponseTemplate::new(200).insert_header("Retry-After", "0").set_body_json(in_progress.clone()))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    let mut done = in_progress;
    done["status"] = json!("Succeeded");
    Mock::given(method("GET")).and(path(OP_PATH)).respond_with(ResponseTemplate::new(200).set_body_json(done)).expect(1).mount(&server).await;
    let arm = client(&server.uri());
    match arm.follow(started).await.unwrap() {
        LroOutcome::Succeeded { operation_id, .. } => assert_eq!(operation_id, "9a062a88-e463-4697-bef2-fe039df73a02"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_failed_async_operation_carries_arms_code_and_message() {
    let server = MockServer::start().await;
    let started = start_node_image_upgrade(&server).await;
    let mut failed = fixture("arm/async_operation_status_inprogress.docs.json");
    failed["status"] = json!("Failed");
    failed["error"] = json!({"code": "ReconcileVMSSAgentPoolFailed", "message": "VMSS agent pool reconcile failed"});
    Mock::given(method("GET")).and(path(OP_PATH)).respond_with(ResponseTemplate::new(200).set_body_json(failed)).mount(&server).await;
    let outcome = client(&server.uri()).follow(started).await.unwrap();
    assert_eq!(
        outcome,
        LroOutcome::Failed {
            operation_id: "9a062a88-e463-4697-bef2-fe039df73a02".into(),
            code: "ReconcileVMSSAgentPoolFailed".into(),
            message: "VMSS agent pool reconcile failed".into()
        }
    );
}

#[tokio::test]
async fn a_location_is_polled_while_it_answers_202() {
    let server = MockServer::start().await;
    let file = "managedclusters_rotate_cluster_certificates.2025-10-01.json";
    let location = on_server(&example_header(file, "202", "location"), &server.uri());
    let rotate = format!("{CLUSTER}/rotateClusterCertificates");
    Mock::given(method("POST"))
        .and(path(rotate.as_str()))
        .respond_with(ResponseTemplate::new(202).insert_header("Location", location.as_str()))
        .mount(&server)
        .await;
    let result_path = url::Url::parse(&location).unwrap().path().to_string();
    Mock::given(method("GET"))
        .and(path(result_path.as_str()))
        .respond_with(ResponseTemplate::new(202).insert_header("Retry-After", "0"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET")).and(path(result_path.as_str())).respond_with(ResponseTemplate::new(204)).expect(1).mount(&server).await;
    let arm = client(&server.uri());
    let started = arm.post(ArmCall::RotateClusterCertificates, &rotate, AKS_API_VERSION, None).await.unwrap();
    assert_eq!(started.status, 202);
    match arm.follow(started).await.unwrap() {
        LroOutcome::Succeeded { operation_id, .. } => assert_eq!(operation_id, "00000000-0000-0000-0000-000000000000"),
        other => panic!("{other:?}"),
    }
    assert_eq!(arm.stats().by_call.get("poll-operation-result"), Some(&3));
}

#[tokio::test]
async fn a_location_that_ends_in_an_error_is_a_failed_operation() {
    let server = MockServer::start().await;
    let file = "managedclusters_rotate_cluster_certificates.2025-10-01.json";
    let location = on_server(&example_header(file, "202", "location"), &server.uri());
    let result_path = url::Url::parse(&location).unwrap().path().to_string();
    Mock::given(method("GET"))
        .and(path(result_path.as_str()))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"code": "RotateCertificatesFailed", "message": "could not rotate"}})))
        .mount(&server)
        .await;
    let mut headers = http::HeaderMap::new();
    headers.insert("location", location.parse().unwrap());
    let started = aks_cadence::azure::ArmResponse { status: 202, headers, body: serde_json::Value::Null };
    let outcome = client(&server.uri()).follow(started).await.unwrap();
    assert!(matches!(outcome, LroOutcome::Failed { ref code, .. } if code == "RotateCertificatesFailed"), "{outcome:?}");
}

#[tokio::test]
async fn links_to_another_origin_are_refused_so_the_token_stays_with_arm() {
    let server = MockServer::start().await;
    let list = format!("/subscriptions/{SUB}/providers/Microsoft.ContainerService/managedClusters");
    let mut body = example_body("managedclusters_list_subscription.2026-06-01.json", "200");
    body["nextLink"] = json!("https://attacker.example/steal?api-version=2026-06-01");
    Mock::given(method("GET")).and(path(list.as_str())).respond_with(ResponseTemplate::new(200).set_body_json(body)).mount(&server).await;
    let err = client(&server.uri()).list_all(ArmCall::ListClusters, &list, AKS_API_VERSION).await.unwrap_err();
    assert_eq!(err.kind, ArmErrorKind::Permanent);
    assert!(err.message.contains("not under ARM_ENDPOINT"), "{err}");
}

#[tokio::test]
async fn low_remaining_reads_space_requests_at_the_refill_rate() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CLUSTER))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ms-ratelimit-remaining-subscription-reads", "3")
                .set_body_json(example_body("managedclusters_get.2026-04-01.json", "200")),
        )
        .mount(&server)
        .await;
    let arm = client(&server.uri());
    arm.get(ArmCall::GetCluster, CLUSTER, AKS_API_VERSION).await.unwrap();
    let t0 = Instant::now();
    let reads = (0..6).map(|_| arm.get(ArmCall::GetCluster, CLUSTER, AKS_API_VERSION));
    for r in futures::future::join_all(reads).await {
        r.unwrap();
    }
    // Six reads at 25/s: the last leaves five intervals of 40 ms after the first.
    assert!(t0.elapsed() >= Duration::from_millis(195), "{:?}", t0.elapsed());
}
