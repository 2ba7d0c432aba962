//! Fleet inventory: Resource Graph with paging, and the ARM listing fallback — read into memory
//! (`inventory`, the timer) and into the spool (`inventory_spooled`, `handler sweep`) alike.

mod arm_common;

use aks_cadence::sweep::inventory::{inventory, inventory_spooled};
use aks_cadence::sweep::{Inventory, InventorySource};
use arm_common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const GRAPH: &str = "/providers/Microsoft.ResourceGraph/resources";

fn skip_token_is(expected: Option<String>) -> impl Fn(&Request) -> bool + Send + Sync + 'static {
    move |req: &Request| {
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        body["options"]["$skipToken"].as_str() == expected.as_deref()
    }
}

/// The inventory read into memory, or into the spool and read back (in cluster order).
async fn read(spooled: bool, uri: &str, subscriptions: &[String]) -> Inventory {
    let arm = client(uri);
    if !spooled {
        return inventory(&arm, subscriptions).await.unwrap();
    }
    let inv = inventory_spooled(&arm, subscriptions).await.unwrap();
    let clusters: Vec<_> = inv.clusters.records().collect();
    assert_eq!(inv.clusters.error(), None);
    assert_eq!(clusters.iter().map(|c| &c.id).collect::<Vec<_>>(), inv.clusters.ids().iter().collect::<Vec<_>>());
    Inventory { source: inv.source, clusters, notes: inv.notes }
}

#[tokio::test]
async fn resource_graph_inventory_follows_skip_tokens_to_the_last_page() {
    resource_graph_paging(false).await;
}

#[tokio::test]
async fn a_spooled_resource_graph_inventory_reads_the_same_pages_into_the_same_records() {
    resource_graph_paging(true).await;
}

async fn resource_graph_paging(spooled: bool) {
    let server = MockServer::start().await;
    let first = fixture("resourcegraph/resources_first_page_query.2024-04-01.json");
    let next = fixture("resourcegraph/resources_next_page_query.2024-04-01.json");
    let token_a = first["responses"]["200"]["body"]["$skipToken"].as_str().unwrap().to_string();
    let token_b = next["responses"]["200"]["body"]["$skipToken"].as_str().unwrap().to_string();
    assert_eq!(next["parameters"]["query"]["options"]["$skipToken"].as_str(), Some(token_a.as_str()), "the examples chain");

    let rows = |names: &[&str]| names.iter().map(|n| graph_row(&cluster_variant(n, "1.24.9", "AKSUbuntu:1604:2020.03.11"))).collect::<Vec<_>>();
    Mock::given(method("POST"))
        .and(path(GRAPH))
        .and(query_param("api-version", "2024-04-01"))
        .and(skip_token_is(None))
        .respond_with(ResponseTemplate::new(200).set_body_json(graph_page("resources_first_page_query.2024-04-01.json", rows(&["a1", "a2"]))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(GRAPH))
        .and(skip_token_is(Some(token_a.clone())))
        .respond_with(ResponseTemplate::new(200).set_body_json(graph_page("resources_next_page_query.2024-04-01.json", rows(&["b1", "b2"]))))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(GRAPH))
        .and(skip_token_is(Some(token_b)))
        .respond_with(ResponseTemplate::new(200).set_body_json(graph_page("resources_basic_query.2024-04-01.json", rows(&["c1"]))))
        .expect(1)
        .mount(&server)
        .await;

    let inv = read(spooled, &server.uri(), &[SUB.to_string()]).await;
    assert_eq!(inv.source, InventorySource::ResourceGraph);
    let names: Vec<_> = inv.clusters.iter().map(|c| c.id.name().to_string()).collect();
    assert_eq!(names, ["a1", "a2", "b1", "b2", "c1"]);
    assert_eq!(inv.clusters[0].pools[0].node_image_version.as_deref(), Some("AKSUbuntu:1604:2020.03.11"));
    assert_eq!(inv.clusters[0].power_state.as_deref(), Some("Running"));

    let requests = server.received_requests().await.unwrap();
    let first_body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(first_body["subscriptions"], json!([SUB]));
    assert_eq!(first_body["options"]["$top"], 1000);
    assert!(first_body["query"].as_str().unwrap().contains("microsoft.containerservice/managedclusters"));
}

fn list_path() -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.ContainerService/managedClusters")
}

/// The list example as page 1 (with a nextLink) and a varied copy as page 2.
async fn mount_cluster_list(server: &MockServer) {
    let mut page1 = example_body("managedclusters_list_subscription.2026-06-01.json", "200");
    page1["nextLink"] = json!(format!("{}{}?api-version=2026-06-01&$skipToken=page2", server.uri(), list_path()));
    let mut page2 = example_body("managedclusters_list_subscription.2026-06-01.json", "200");
    page2["value"][0]["id"] = json!(CLUSTER.replace("clustername1", "clustername2"));
    page2["value"][0]["name"] = json!("clustername2");
    Mock::given(method("GET"))
        .and(path(list_path()))
        .and(query_param_is_missing("$skipToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(list_path()))
        .and(query_param("$skipToken", "page2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page2))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn when_resource_graph_is_refused_the_clusters_are_listed_per_subscription_with_next_links() {
    refused_graph_falls_back(false).await;
}

#[tokio::test]
async fn a_spooled_inventory_falls_back_to_the_listing_the_same_way() {
    refused_graph_falls_back(true).await;
}

async fn refused_graph_falls_back(spooled: bool) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(GRAPH))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "AuthorizationFailed", "message": "no resources/read"}})))
        .expect(1)
        .mount(&server)
        .await;
    mount_cluster_list(&server).await;
    let inv = read(spooled, &server.uri(), &[SUB.to_string()]).await;
    assert_eq!(inv.source, InventorySource::ArmList);
    let names: Vec<_> = inv.clusters.iter().map(|c| c.id.name().to_string()).collect();
    assert_eq!(names, ["clustername1", "clustername2"]);
    assert_eq!(inv.clusters[0].current_version(), Some("1.9.6"));
    assert!(inv.notes[0].contains("AuthorizationFailed"), "{:?}", inv.notes);
}

#[tokio::test]
async fn without_configured_subscriptions_the_fallback_lists_the_readable_ones() {
    let server = MockServer::start().await;
    // Resource Graph keeps failing with 500 (retried, then given up).
    Mock::given(method("POST")).and(path(GRAPH)).respond_with(ResponseTemplate::new(500)).expect(3).mount(&server).await;
    // No captured example of the subscription list exists in the fixtures; this is its minimal shape.
    Mock::given(method("GET"))
        .and(path("/subscriptions"))
        .and(query_param("api-version", "2022-12-01"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB, "state": "Enabled"}]})))
        .expect(1)
        .mount(&server)
        .await;
    mount_cluster_list(&server).await;
    let inv = inventory(&client(&server.uri()), &[]).await.unwrap();
    assert_eq!(inv.source, InventorySource::ArmList);
    assert_eq!(inv.clusters.len(), 2);
    let graph: Value = serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert!(graph.get("subscriptions").is_none(), "no subscriptions = every readable one");
}

#[tokio::test]
async fn a_truncated_result_without_a_skip_token_is_not_trusted() {
    truncated_is_not_trusted(false).await;
}

#[tokio::test]
async fn a_spooled_inventory_drops_the_truncated_rows_and_keeps_only_the_listing() {
    truncated_is_not_trusted(true).await;
}

async fn truncated_is_not_trusted(spooled: bool) {
    let server = MockServer::start().await;
    let mut page = graph_page("resources_basic_query.2024-04-01.json", vec![graph_row(&running_cluster())]);
    page["resultTruncated"] = json!("true");
    Mock::given(method("POST")).and(path(GRAPH)).respond_with(ResponseTemplate::new(200).set_body_json(page)).mount(&server).await;
    mount_cluster_list(&server).await;
    let inv = read(spooled, &server.uri(), &[SUB.to_string()]).await;
    assert_eq!(inv.source, InventorySource::ArmList);
    assert!(inv.notes[0].contains("truncated"), "{:?}", inv.notes);
    // The truncated page's cluster is not in the inventory twice: only the listing's are.
    let names: Vec<_> = inv.clusters.iter().map(|c| c.id.name().to_string()).collect();
    assert_eq!(names, ["clustername1", "clustername2"]);
}

#[tokio::test]
async fn an_inventory_that_fails_both_ways_says_why() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path(GRAPH)).respond_with(ResponseTemplate::new(403)).mount(&server).await;
    Mock::given(method("GET"))
        .and(path(list_path()))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {"code": "AuthorizationFailed", "message": "no managedClusters/read"}})))
        .mount(&server)
        .await;
    let err = inventory(&client(&server.uri()), &[SUB.to_string()]).await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("AuthorizationFailed"), "{err}");
}
