//! Every real Event Grid fixture, in every form the platform delivers it, becomes the domain
//! value we expect. Fixtures are verbatim copies of `shared/fixtures/real/eventgrid/`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use aks_cadence::domain::{ClusterId, MaintenanceKind, MaintenanceStatus, Origin, RollingPhase, Signal, SignalKind};
use aks_cadence::ingest::{IngestError, Ingested, ingest_bytes, ingest_value};
use jiff::Timestamp;
use serde_json::{Value, json};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eventgrid")
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn one(value: &Value) -> Ingested {
    let mut all = ingest_value(value).unwrap_or_else(|e| panic!("{e}: {value}"));
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

fn signals(ingested: &Ingested) -> &[Signal] {
    match ingested {
        Ingested::Signals { signals, .. } => signals,
        other => panic!("expected signals, got {other:?}"),
    }
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const CLUSTER: &str =
    "/subscriptions/{subscription-id}/resourceGroups/{resource-group}/providers/Microsoft.ContainerService/managedClusters/{cluster}";

/// What each fixture must become. Every file in the folder is listed (checked below), so a new
/// fixture cannot be added without saying what it means.
#[derive(Debug)]
enum Expect {
    /// One event yielding signals of this kind for this cluster.
    Signal {
        cluster: &'static str,
        kind: SignalKind,
        at: &'static str,
    },
    Unknown,
    Validation(&'static str),
    /// Not an event payload; checked by its own test below.
    NotAnEvent,
}

fn expectations() -> Vec<(&'static str, Expect)> {
    use Expect::*;
    let new_version = SignalKind::NewKubernetesVersion {
        latest_supported: Some("1.20.7".into()),
        latest_stable: Some("1.19.11".into()),
        lowest_minor: Some("1.18.19".into()),
        latest_preview: Some("1.21.1".into()),
    };
    let ending = SignalKind::SupportEnding { kubernetes_version: "1.24.10".into(), eol_date: None, support_type: None, eol_source: None };
    let ended = SignalKind::SupportEnded { kubernetes_version: "1.23.15".into() };
    let rolling = |phase| SignalKind::NodePoolRolling { pool: "nodepool1".into(), phase, error: None };
    let maintenance = SignalKind::Maintenance {
        event_id: "bbe82027-0444-4f73-897a-0bbfe3af66f1".into(),
        upgrade: MaintenanceKind::NodeOs,
        status: MaintenanceStatus::Started,
        scheduled_time: Some(ts("2024-04-16T22:17:12.103268606Z")),
        details: Some("Start to upgrade security vhd".into()),
    };
    let arn_id = "/subscriptions/{subscription-id}/resourcegroups/{rg-name}/providers/Microsoft.ContainerService/managedClusters/{managedcluster-id}";
    let arn_name = "/subscriptions/{subscription-id}/resourcegroups/{rg-name}/providers/Microsoft.ContainerService/managedClusters/{managedcluster-name}";
    let t2021 = "2021-07-01T04:52:57Z";
    let t2023 = "2023-03-29T18:00:00Z";
    let t2024 = "2024-04-16T22:17:12.1032748Z";
    vec![
        ("aks_cluster_out_of_support.cloudevent.json", Unknown),
        ("aks_cluster_out_of_support.eventgrid.json", Unknown),
        ("aks_cluster_support_ended.cloudevent.json", Signal { cluster: CLUSTER, kind: ended.clone(), at: t2023 }),
        ("aks_cluster_support_ended.eventgrid.json", Signal { cluster: CLUSTER, kind: ended, at: t2023 }),
        ("aks_cluster_support_ending.cloudevent.json", Signal { cluster: CLUSTER, kind: ending.clone(), at: t2023 }),
        ("aks_cluster_support_ending.eventgrid.json", Signal { cluster: CLUSTER, kind: ending, at: t2023 }),
        ("aks_event_subscription_list.az_cli_output.docs.json", NotAnEvent),
        ("aks_new_kubernetes_version_available.cloudevent.json", Signal { cluster: CLUSTER, kind: new_version.clone(), at: t2021 }),
        ("aks_new_kubernetes_version_available.eventgrid.json", Signal { cluster: CLUSTER, kind: new_version, at: t2021 }),
        ("aks_node_pool_rolling_failed.cloudevent.json", Signal { cluster: CLUSTER, kind: rolling(RollingPhase::Failed), at: t2023 }),
        ("aks_node_pool_rolling_failed.eventgrid.json", Signal { cluster: CLUSTER, kind: rolling(RollingPhase::Failed), at: t2023 }),
        ("aks_node_pool_rolling_progress.cloudevent.json", Unknown),
        ("aks_node_pool_rolling_progress.eventgrid.json", Unknown),
        ("aks_node_pool_rolling_started.cloudevent.json", Signal { cluster: CLUSTER, kind: rolling(RollingPhase::Started), at: t2023 }),
        ("aks_node_pool_rolling_started.eventgrid.json", Signal { cluster: CLUSTER, kind: rolling(RollingPhase::Started), at: t2023 }),
        ("aks_node_pool_rolling_succeeded.cloudevent.json", Signal { cluster: CLUSTER, kind: rolling(RollingPhase::Succeeded), at: t2023 }),
        ("aks_node_pool_rolling_succeeded.eventgrid.json", Signal { cluster: CLUSTER, kind: rolling(RollingPhase::Succeeded), at: t2023 }),
        // Only the `properties` object of a notice: wrapped into a full envelope below.
        ("aks_scheduled_event_properties_eol_notification.docs.json", NotAnEvent),
        (
            "resourcenotifications_aks_scheduled_event_emitted.cloudevent.json",
            Signal { cluster: arn_name, kind: maintenance.clone(), at: t2024 },
        ),
        (
            "resourcenotifications_aks_scheduled_event_emitted.eventgrid.json",
            Signal { cluster: arn_id, kind: maintenance.clone(), at: t2024 },
        ),
        (
            "resourcenotifications_aks_scheduled_event_emitted.eventgrid.variant_wrong_eventtype.json",
            Signal { cluster: arn_id, kind: maintenance, at: t2024 },
        ),
        ("subscription_validation_event.eventgrid.docs.json", Validation("512d38b6-c7b8-40c8-89fe-f46f9e9622b6")),
        // The expected answer to the handshake (used by the host tests), not an event.
        ("subscription_validation_response.docs.json", NotAnEvent),
    ]
}

/// The forms a delivery can take: as is, as a JSON string, as a JSON string of a JSON string,
/// inside a batch, and a batch inside a string.
fn forms(v: &Value) -> Vec<(&'static str, Value)> {
    let string = Value::String(v.to_string());
    let double = Value::String(string.to_string());
    let batch = if v.is_array() { v.clone() } else { Value::Array(vec![v.clone()]) };
    let batch_of_strings = match &batch {
        Value::Array(items) => Value::Array(items.iter().map(|i| Value::String(i.to_string())).collect()),
        _ => unreachable!(),
    };
    vec![
        ("object", v.clone()),
        ("string", string),
        ("double-encoded string", double),
        ("array", batch.clone()),
        ("array in a string", Value::String(batch.to_string())),
        ("array of strings", batch_of_strings),
    ]
}

#[test]
fn every_fixture_file_has_an_expectation() {
    let on_disk: BTreeSet<String> =
        std::fs::read_dir(fixture_dir()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    let listed: BTreeSet<String> = expectations().iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, listed);
}

#[test]
fn every_event_fixture_ingests_the_same_in_every_delivered_form() {
    for (name, expect) in expectations() {
        if matches!(expect, Expect::NotAnEvent) {
            continue;
        }
        let value = fixture(name);
        for (form, v) in forms(&value) {
            let got = one(&v);
            match &expect {
                Expect::Signal { cluster, kind, at } => {
                    let s = signals(&got);
                    assert_eq!(s.len(), 1, "{name} as {form}");
                    assert_eq!(s[0].cluster, ClusterId::parse(cluster).unwrap(), "{name} as {form}");
                    assert_eq!(&s[0].kind, kind, "{name} as {form}");
                    assert_eq!(s[0].observed_at, ts(at), "{name} as {form}");
                    let event_type = value["eventType"].as_str().or(value["type"].as_str()).unwrap();
                    assert_eq!(
                        s[0].origin,
                        Origin::EventGrid { event_id: value["id"].as_str().unwrap().into(), event_type: event_type.into() },
                        "{name} as {form}"
                    );
                }
                Expect::Unknown => assert!(matches!(got, Ingested::Unknown { .. }), "{name} as {form}: {got:?}"),
                Expect::Validation(code) => match &got {
                    Ingested::SubscriptionValidation { validation_code, validation_url, .. } => {
                        assert_eq!(validation_code, code);
                        assert!(validation_url.as_deref().unwrap().starts_with("https://rp-eastus2.eventgrid.azure.net"));
                    }
                    other => panic!("{name} as {form}: {other:?}"),
                },
                Expect::NotAnEvent => unreachable!(),
            }
        }
    }
}

#[test]
fn event_grid_and_cloudevents_schemas_give_equal_signals() {
    let pairs = [
        "aks_cluster_support_ended",
        "aks_cluster_support_ending",
        "aks_new_kubernetes_version_available",
        "aks_node_pool_rolling_failed",
        "aks_node_pool_rolling_started",
        "aks_node_pool_rolling_succeeded",
    ];
    for base in pairs {
        let eg = one(&fixture(&format!("{base}.eventgrid.json")));
        let ce = one(&fixture(&format!("{base}.cloudevent.json")));
        assert_eq!(eg, ce, "{base}");
    }
    // Microsoft's two ARN examples name the cluster differently ({managedcluster-id} vs
    // {managedcluster-name}) and only one has a location; everything else agrees.
    let eg = one(&fixture("resourcenotifications_aks_scheduled_event_emitted.eventgrid.json"));
    let ce = one(&fixture("resourcenotifications_aks_scheduled_event_emitted.cloudevent.json"));
    let (eg, ce) = (&signals(&eg)[0], &signals(&ce)[0]);
    assert_eq!((&eg.kind, eg.observed_at, &eg.origin), (&ce.kind, ce.observed_at, &ce.origin));
    assert_eq!(eg.facts.location.as_deref(), Some("westus2"));
}

#[test]
fn the_misspelled_maintenance_resources_type_reads_like_the_real_one() {
    let right = one(&fixture("resourcenotifications_aks_scheduled_event_emitted.eventgrid.json"));
    let wrong = one(&fixture("resourcenotifications_aks_scheduled_event_emitted.eventgrid.variant_wrong_eventtype.json"));
    let (right, wrong) = (&signals(&right)[0], &signals(&wrong)[0]);
    assert_eq!((&right.cluster, &right.kind, right.observed_at), (&wrong.cluster, &wrong.kind, wrong.observed_at));
    assert!(matches!(&wrong.origin, Origin::EventGrid { event_type, .. } if event_type.contains("MaintenanceResources")));
}

#[test]
fn the_misspelled_type_without_the_container_service_shape_stays_unknown() {
    let mut v = fixture("resourcenotifications_aks_scheduled_event_emitted.eventgrid.variant_wrong_eventtype.json");
    v["data"]["resourceInfo"]["type"] = json!("Microsoft.Maintenance/scheduledEvents");
    v["data"]["resourceInfo"]["properties"]["resourceType"] = json!("VirtualMachine");
    assert!(matches!(one(&v), Ingested::Unknown { .. }));
}

#[test]
fn the_unconfirmed_types_are_unknown() {
    for name in [
        "aks_node_pool_rolling_progress.eventgrid.json",
        "aks_node_pool_rolling_progress.cloudevent.json",
        "aks_cluster_out_of_support.eventgrid.json",
        "aks_cluster_out_of_support.cloudevent.json",
    ] {
        let got = one(&fixture(name));
        assert!(
            matches!(&got, Ingested::Unknown { event_type, .. } if event_type.starts_with("Microsoft.ContainerService.")),
            "{name}: {got:?}"
        );
    }
}

#[test]
fn the_six_subscribed_aks_types_in_the_az_cli_sample_all_become_signals() {
    let list = fixture("aks_event_subscription_list.az_cli_output.docs.json");
    // A list of subscriptions is not an event: it is refused with a reason.
    let err = ingest_value(&list).unwrap_err();
    assert!(matches!(err, IngestError::NotAnEvent(_)), "{err}");
    let types = list[0]["filter"]["includedEventTypes"].as_array().unwrap();
    assert_eq!(types.len(), 6);
    let template = fixture("aks_node_pool_rolling_started.eventgrid.json");
    for t in types {
        let mut event = template.clone();
        event["eventType"] = t.clone();
        event["data"] = json!({"nodePoolName": "nodepool1", "kubernetesVersion": "1.30.1"});
        let got = one(&event);
        assert!(matches!(got, Ingested::Signals { .. }), "{t}: {got:?}");
    }
}

/// Builds a full Event Grid envelope around the AKS docs' EOL notification `properties`.
fn eol_envelope(properties: Value) -> Value {
    json!({
        "id": "eol-1",
        "topic": "/subscriptions/00000000-0000-0000-0000-000000000000",
        "subject": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/prod/scheduledEvents/e1",
        "eventType": "Microsoft.ResourceNotifications.ContainerServiceEventResources.ScheduledEventEmitted",
        "eventTime": "2026-02-24T00:00:00Z",
        "data": {
            "resourceInfo": {
                "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.ContainerService/managedClusters/prod/scheduledEvents/e1",
                "name": "e1",
                "type": "Microsoft.ContainerService/managedClusters/scheduledEvents",
                "properties": properties
            },
            "operationalInfo": {"resourceEventTime": "2026-02-24T00:00:00"},
            "apiVersion": "2023-11-02-preview"
        },
        "dataVersion": "1",
        "metadataVersion": "1"
    })
}

#[test]
fn an_eol_notification_with_object_details_is_support_ending_for_the_notice_cluster() {
    let got = one(&eol_envelope(fixture("aks_scheduled_event_properties_eol_notification.docs.json")));
    let s = signals(&got);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].cluster, ClusterId::from_parts("00000000-0000-0000-0000-000000000000", "rg1", "prod"));
    assert_eq!(
        s[0].kind,
        SignalKind::SupportEnding {
            kubernetes_version: "1.32.3".into(),
            eol_date: Some(ts("2026-03-01T00:00:00Z")),
            support_type: Some("Community".into()),
            eol_source: None,
        }
    );
    assert_eq!(s[0].facts.location.as_deref(), Some("eastus"));
}

#[test]
fn an_eol_notification_with_details_as_a_json_string_reads_the_same() {
    let mut props = fixture("aks_scheduled_event_properties_eol_notification.docs.json");
    let as_object = one(&eol_envelope(props.clone()));
    props["eventDetails"] = Value::String(props["eventDetails"].to_string());
    assert_eq!(one(&eol_envelope(props)), as_object);
}

#[test]
fn an_eol_notification_whose_details_are_only_text_is_ignored_with_a_reason() {
    let mut props = fixture("aks_scheduled_event_properties_eol_notification.docs.json");
    props["eventDetails"] = json!("Kubernetes 1.32 reaches end of life soon");
    let got = one(&eol_envelope(props));
    assert!(matches!(&got, Ingested::Ignored { reason, .. } if reason.contains("eventDetails")), "{got:?}");
}

#[test]
fn a_notice_yields_one_signal_per_listed_cluster() {
    let mut v = fixture("resourcenotifications_aks_scheduled_event_emitted.eventgrid.json");
    v["data"]["resourceInfo"]["properties"]["resources"] = json!([
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/b",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/A",
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
    ]);
    let got = one(&v);
    let names: Vec<&str> = signals(&got).iter().map(|s| s.cluster.name()).collect();
    assert_eq!(names, ["a", "b"], "duplicates (ids are case-insensitive) and non-clusters are dropped");
}

#[test]
fn a_notice_without_resources_falls_back_to_its_own_id_cut_back_to_the_cluster() {
    let mut v = fixture("resourcenotifications_aks_scheduled_event_emitted.eventgrid.json");
    v["data"]["resourceInfo"]["properties"].as_object_mut().unwrap().remove("resources");
    let got = one(&v);
    let s = signals(&got);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].cluster.name(), "{managedcluster-id}");
}

#[test]
fn maintenance_status_and_upgrade_kind_are_read_from_the_notice() {
    let cases = [
        ("Scheduled", "K8sVersionUpgrade 1.30.4 -> 1.31.2", MaintenanceStatus::Scheduled, MaintenanceKind::KubernetesVersion),
        ("Canceled", "NodeOSUpgrade", MaintenanceStatus::Canceled, MaintenanceKind::NodeOs),
        ("Cancelled", "NodeOSUpgrade", MaintenanceStatus::Canceled, MaintenanceKind::NodeOs),
        ("Completed", "Start to upgrade security vhd", MaintenanceStatus::Completed, MaintenanceKind::NodeOs),
        ("Failed", "something new", MaintenanceStatus::Failed, MaintenanceKind::Unknown),
    ];
    for (status_text, details, status, upgrade) in cases {
        let mut v = fixture("resourcenotifications_aks_scheduled_event_emitted.eventgrid.json");
        v["data"]["resourceInfo"]["properties"]["eventStatus"] = json!(status_text);
        v["data"]["resourceInfo"]["properties"]["eventDetails"] = json!(details);
        v["data"]["resourceInfo"]["properties"]["eventSource"] = json!("AutoUpgrader");
        let got = one(&v);
        match &signals(&got)[0].kind {
            SignalKind::Maintenance { status: s, upgrade: u, .. } => {
                assert_eq!((s, u), (&status, &upgrade), "{status_text} / {details}");
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn an_unhandled_event_source_is_ignored_with_a_reason() {
    let mut v = fixture("resourcenotifications_aks_scheduled_event_emitted.eventgrid.json");
    v["data"]["resourceInfo"]["properties"]["eventSource"] = json!("SomethingElse");
    let got = one(&v);
    assert!(matches!(&got, Ingested::Ignored { reason, .. } if reason.contains("SomethingElse")), "{got:?}");
}

#[test]
fn unknown_fields_are_tolerated_everywhere() {
    for name in [
        "aks_new_kubernetes_version_available.eventgrid.json",
        "aks_node_pool_rolling_failed.cloudevent.json",
        "resourcenotifications_aks_scheduled_event_emitted.eventgrid.json",
        "resourcenotifications_aks_scheduled_event_emitted.cloudevent.json",
    ] {
        let plain = fixture(name);
        let mut noisy = plain.clone();
        noisy["futureEnvelopeField"] = json!({"nested": [1, 2, 3]});
        noisy["traceparent"] = json!("00-abc-def-01");
        noisy["data"]["someNewField"] = json!(true);
        if noisy["data"].get("resourceInfo").is_some() {
            noisy["data"]["resourceInfo"]["properties"]["newProperty"] = json!({"x": 1});
            noisy["data"]["resourceInfo"]["extra"] = json!(null);
        }
        assert_eq!(one(&noisy), one(&plain), "{name}");
    }
}

#[test]
fn a_topic_that_is_not_a_cluster_is_ignored_with_a_reason_not_a_crash() {
    let mut v = fixture("aks_cluster_support_ending.eventgrid.json");
    v["topic"] = json!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm");
    let got = one(&v);
    assert!(
        matches!(&got, Ingested::Ignored { reason, event_id, .. } if reason.contains("Microsoft.ContainerService") && event_id == "1234567890abcdef1234567890abcdef12345678"),
        "{got:?}"
    );
}

#[test]
fn a_handled_type_missing_its_required_field_is_ignored_with_a_reason() {
    let mut v = fixture("aks_cluster_support_ended.cloudevent.json");
    v["data"] = json!({});
    let got = one(&v);
    assert!(matches!(&got, Ingested::Ignored { reason, .. } if reason.contains("kubernetesVersion")), "{got:?}");
    let mut v = fixture("aks_node_pool_rolling_started.eventgrid.json");
    v.as_object_mut().unwrap().remove("eventTime");
    let got = one(&v);
    assert!(matches!(&got, Ingested::Ignored { reason, .. } if reason.contains("time")), "{got:?}");
}

#[test]
fn a_failed_roll_keeps_its_error_details_when_present() {
    let mut v = fixture("aks_node_pool_rolling_failed.eventgrid.json");
    v["data"]["error"] = json!({"code": "UpgradeFailed", "message": "drain of node aks-nodepool1-0 timed out"});
    let got = one(&v);
    assert_eq!(
        signals(&got)[0].kind,
        SignalKind::NodePoolRolling {
            pool: "nodepool1".into(),
            phase: RollingPhase::Failed,
            error: Some("UpgradeFailed: drain of node aks-nodepool1-0 timed out".into())
        }
    );
}

#[test]
fn cloudevents_data_base64_reads_like_data() {
    use base64::Engine;
    let plain = fixture("aks_cluster_support_ending.cloudevent.json");
    let mut binary = plain.clone();
    let data = binary.as_object_mut().unwrap().remove("data").unwrap();
    binary["data_base64"] = json!(base64::engine::general_purpose::STANDARD.encode(data.to_string()));
    assert_eq!(one(&binary), one(&plain));
}

#[test]
fn cloudevents_accepts_specversion_in_either_case_and_refuses_other_major_versions() {
    let mut v = fixture("aks_cluster_support_ending.cloudevent.json");
    let lower = one(&v);
    let spec = v.as_object_mut().unwrap().remove("specversion").unwrap();
    v["specVersion"] = spec;
    assert_eq!(one(&v), lower);
    v["specVersion"] = json!("0.3");
    assert!(matches!(ingest_value(&v), Err(IngestError::NotAnEvent(m)) if m.contains("0.3")));
}

#[test]
fn a_mixed_batch_keeps_order_and_one_bad_element_rejects_the_batch_with_its_index() {
    let batch = json!([
        fixture("aks_cluster_support_ending.eventgrid.json"),
        fixture("aks_node_pool_rolling_progress.cloudevent.json"),
        fixture("resourcenotifications_aks_scheduled_event_emitted.cloudevent.json"),
    ]);
    let got = ingest_value(&batch).unwrap();
    assert_eq!(got.len(), 3);
    assert!(matches!(got[0], Ingested::Signals { .. }));
    assert!(matches!(got[1], Ingested::Unknown { .. }));
    assert!(matches!(got[2], Ingested::Signals { .. }));
    let bad = json!([fixture("aks_cluster_support_ending.eventgrid.json"), {"id": 7}]);
    let err = ingest_value(&bad).unwrap_err();
    assert!(err.to_string().contains("batch element 1"), "{err}");
}

#[test]
fn malformed_json_is_reported_with_its_position() {
    let err = ingest_bytes(br#"{"id": "x", "eventType": }"#).unwrap_err();
    match err {
        IngestError::MalformedJson(m) => assert!(m.contains("line 1"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_event_grid_event_missing_its_id_is_not_an_event() {
    let mut v = fixture("aks_cluster_support_ending.eventgrid.json");
    v.as_object_mut().unwrap().remove("id");
    let err = ingest_value(&v).unwrap_err();
    assert!(matches!(&err, IngestError::NotAnEvent(m) if m.contains("id")), "{err}");
}
