//! The managed identity path of `azure_identity` against a local App Service identity endpoint.
//!
//! `ManagedIdentityCredential` reads `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` from the process
//! environment (the crate offers no other way to point it elsewhere), so this file holds a single
//! test that sets them: nothing else in this test binary reads the environment concurrently.

mod arm_common;

use std::collections::BTreeMap;
use std::sync::Arc;

use aks_cadence::azure::identity::{AzureCredentialSource, TokenSource};
use aks_cadence::azure::{AKS_API_VERSION, ArmCall, ArmClient, ArmConfig};
use aks_cadence::settings::Settings;
use arm_common::*;
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const IDENTITY_SECRET: &str = "identity-header-secret";
const CLIENT_ID: &str = "5E29463D-71DA-4FE0-8E69-999B57DB23B0";

fn settings(arm: &str) -> Settings {
    let env: BTreeMap<String, String> = [
        ("AZURE_CREDENTIAL", "managed_identity"),
        ("AZURE_CLIENT_ID", CLIENT_ID),
        ("ARM_ENDPOINT", arm),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Settings::from_map(env).unwrap()
}

#[tokio::test]
async fn managed_identity_tokens_come_from_the_app_service_endpoint_and_are_cached() {
    let server = MockServer::start().await;
    let resource = server.uri(); // the ARM scope without "/.default"

    // 1. The documented App Service response, as it is.
    let documented = fixture("functions-host/managed_identity_token_response.app_service.docs.json");
    Mock::given(method("GET"))
        .and(path("/msi/token"))
        .and(query_param("api-version", "2019-08-01"))
        .and(query_param("resource", resource.as_str()))
        .and(query_param("client_id", CLIENT_ID))
        .and(header("x-identity-header", IDENTITY_SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_json(documented.clone()))
        .expect(1)
        .mount(&server)
        .await;
    // SAFETY: this is the only test in this binary, and no other thread reads the environment.
    unsafe {
        std::env::set_var("IDENTITY_ENDPOINT", format!("{}/msi/token", server.uri()));
        std::env::set_var("IDENTITY_HEADER", IDENTITY_SECRET);
    }
    let source = AzureCredentialSource::from_settings(&settings(&server.uri())).unwrap();
    assert_eq!(source.scope(), format!("{}/.default", server.uri()));
    let token = source.token().await.unwrap();
    assert_eq!(token.expose(), documented["access_token"].as_str().unwrap());
    assert!(!format!("{token:?} {source:?}").contains("eyJ0eXAi"), "the token never prints");

    // 2. The same response with a token that fits in a header and an expiry in the future: one
    //    identity call serves many ARM requests, each with that bearer token.
    let mut fresh = documented;
    fresh["access_token"] = json!("mi-token-for-arm");
    fresh["expires_on"] = json!((jiff::Timestamp::now().as_second() + 3600).to_string());
    Mock::given(method("GET"))
        .and(path("/msi/token2"))
        .and(query_param("client_id", CLIENT_ID))
        .respond_with(ResponseTemplate::new(200).set_body_json(fresh))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CLUSTER))
        .and(header("authorization", "Bearer mi-token-for-arm"))
        .respond_with(ResponseTemplate::new(200).set_body_json(example_body("managedclusters_get.2026-04-01.json", "200")))
        .expect(3)
        .mount(&server)
        .await;
    // SAFETY: as above.
    unsafe {
        std::env::set_var("IDENTITY_ENDPOINT", format!("{}/msi/token2", server.uri()));
    }
    let source = aks_cadence::azure::identity::from_settings(&settings(&server.uri())).unwrap();
    let arm = ArmClient::new(ArmConfig::new(server.uri()), Arc::clone(&source)).unwrap();
    for _ in 0..3 {
        arm.get(ArmCall::GetCluster, CLUSTER, AKS_API_VERSION).await.unwrap();
    }
}
