//! Azure Resource Notifications:
//! `Microsoft.ResourceNotifications.ContainerServiceEventResources.ScheduledEventEmitted`,
//! emitted by the subscription-scoped system topic for every cluster in the subscription.
//!
//! `data.resourceInfo.properties` carries the notice: `eventSource` says what kind
//! (`AutoUpgrader` — sometimes spelled `AutoUprader` — for planned maintenance,
//! `EOLNotification` for end of support), `eventStatus` where it is, `eventDetails` the
//! details (free text, or an object for EOL notices; sometimes that object arrives as a JSON
//! string), `resources` the clusters concerned.
//!
//! One stored version of Microsoft's own spec example names the type
//! `...MaintenanceResources.ScheduledEventEmitted`; we accept that spelling too, but only when
//! the payload has the container-service shape, so a real maintenance-resources event for
//! something else stays `Unknown`.

use serde::Deserialize;
use serde_json::Value;

use super::{Envelope, Ingested, check_version, parse_event_time, parse_meaningful_time};
use crate::domain::{ClusterFacts, ClusterId, MaintenanceKind, MaintenanceStatus, SignalKind};

const SCHEDULED_EVENT_TYPE: &str = "Microsoft.ResourceNotifications.ContainerServiceEventResources.ScheduledEventEmitted";
/// The misspelled type seen in one version of the spec example.
const MISSPELLED_SCHEDULED_EVENT_TYPE: &str = "Microsoft.ResourceNotifications.MaintenanceResources.ScheduledEventEmitted";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScheduledEventData {
    #[serde(default)]
    resource_info: Option<ResourceInfo>,
    #[serde(default)]
    operational_info: Option<OperationalInfo>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceInfo {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    properties: Option<ScheduledEventProperties>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OperationalInfo {
    #[serde(default)]
    resource_event_time: Option<String>,
}

/// The notice itself; also the whole of the EOL notification sample in the AKS docs.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScheduledEventProperties {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    event_source: Option<String>,
    #[serde(default)]
    event_status: Option<String>,
    /// A string, or an object (EOL notices), or a string holding that object.
    #[serde(default)]
    event_details: Option<Value>,
    #[serde(default)]
    scheduled_time: Option<String>,
    #[serde(default)]
    resources: Option<Vec<String>>,
}

/// `eventDetails` of an `EOLNotification`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EolDetails {
    #[serde(default)]
    kubernetes_version: Option<String>,
    #[serde(default)]
    eol_date: Option<String>,
    #[serde(default)]
    support_type: Option<String>,
    #[serde(default)]
    region: Option<String>,
}

/// Whether this envelope is a container-service scheduled event (either spelling).
pub(crate) fn is_scheduled_event(envelope: &Envelope) -> bool {
    let t = envelope.event_type.as_str();
    if t.eq_ignore_ascii_case(SCHEDULED_EVENT_TYPE) {
        return true;
    }
    t.eq_ignore_ascii_case(MISSPELLED_SCHEDULED_EVENT_TYPE) && has_container_service_shape(&envelope.data)
}

fn has_container_service_shape(data: &Value) -> bool {
    let info = &data["resourceInfo"];
    let type_is_aks =
        info["type"].as_str().is_some_and(|t| t.to_ascii_lowercase().starts_with("microsoft.containerservice/managedclusters"));
    let props_is_aks = info["properties"]["resourceType"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("ManagedCluster"));
    type_is_aks || props_is_aks
}

pub(crate) fn ingest(envelope: &Envelope) -> Ingested {
    match build(envelope) {
        Ok(ingested) => ingested,
        Err(reason) => envelope.ignored(reason),
    }
}

enum Source {
    AutoUpgrader,
    EolNotification,
}

fn build(envelope: &Envelope) -> Result<Ingested, String> {
    if !envelope.data.is_object() {
        return Err(format!("data is not a JSON object (found {})", super::kind_of(&envelope.data)));
    }
    let data =
        ScheduledEventData::deserialize(&envelope.data).map_err(|e| format!("data does not fit the ScheduledEventEmitted schema: {e}"))?;
    let mut info = data.resource_info.unwrap_or_default();
    let props = info.properties.take().unwrap_or_default();

    let source = match props.event_source.as_deref().map(str::trim) {
        // "AutoUprader" is how Microsoft's own example spells it.
        Some(s) if s.eq_ignore_ascii_case("AutoUpgrader") || s.eq_ignore_ascii_case("AutoUprader") => Source::AutoUpgrader,
        Some(s) if s.eq_ignore_ascii_case("EOLNotification") => Source::EolNotification,
        Some(other) => return Err(format!("eventSource `{other}` is not one we handle (AutoUpgrader, EOLNotification)")),
        None => return Err("data.resourceInfo.properties.eventSource is missing".into()),
    };

    let observed_at = match envelope.observed_at() {
        Ok(t) => t,
        Err(reason) => match data.operational_info.and_then(|o| o.resource_event_time) {
            Some(t) => parse_event_time(&t)?,
            None => return Err(reason),
        },
    };

    let details =
        props.event_details.as_ref().map(|d| super::decode_nested(d).map(|c| c.into_owned())).transpose().map_err(|e| e.to_string())?;
    let mut facts = ClusterFacts { location: info.location.clone(), ..ClusterFacts::default() };

    let kind = match source {
        Source::AutoUpgrader => {
            let text = details_text(details.as_ref());
            let upgrade = upgrade_kind(&[text.as_deref(), props.description.as_deref()]);
            SignalKind::Maintenance {
                event_id: props
                    .event_id
                    .clone()
                    .or_else(|| info.name.clone())
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| envelope.id.clone()),
                upgrade,
                status: status(props.event_status.as_deref()),
                scheduled_time: props.scheduled_time.as_deref().and_then(parse_meaningful_time),
                details: text,
            }
        }
        Source::EolNotification => {
            let eol = match &details {
                Some(v @ Value::Object(_)) => {
                    EolDetails::deserialize(v).map_err(|e| format!("eventDetails does not fit the EOL notification schema: {e}"))?
                }
                Some(Value::String(s)) => {
                    return Err(format!("an EOL notification whose eventDetails is text, not the version details: `{s}`"));
                }
                _ => return Err("an EOL notification without eventDetails".into()),
            };
            if facts.location.is_none() {
                facts.location = eol.region.clone();
            }
            let kubernetes_version = eol
                .kubernetes_version
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .ok_or("the EOL notification's eventDetails.kubernetesVersion is missing")?;
            check_version("eventDetails.kubernetesVersion", Some(&kubernetes_version))?;
            SignalKind::SupportEnding {
                kubernetes_version,
                eol_date: eol.eol_date.as_deref().and_then(parse_meaningful_time),
                support_type: eol.support_type.filter(|s| !s.trim().is_empty()),
                eol_source: None,
            }
        }
    };

    let (clusters, rejected) = clusters(&props, &info, envelope);
    if clusters.is_empty() {
        return Err(match rejected.first() {
            Some(why) => format!("no cluster id among the notice's resources: {why}"),
            None => "the notice names no cluster (no resources, no resourceInfo.id, no subject)".into(),
        });
    }
    let signals = clusters.into_iter().map(|c| envelope.signal(c, facts.clone(), kind.clone(), observed_at)).collect();
    Ok(Ingested::Signals { event_id: envelope.id.clone(), event_type: envelope.event_type.clone(), signals })
}

/// The clusters a notice is about: `properties.resources`, else the `resourceInfo.id` (a
/// `…/managedClusters/c/scheduledEvents/e` id, cut back to the cluster), else the subject.
/// Ids that are not clusters are skipped, their reasons kept for the log.
fn clusters(props: &ScheduledEventProperties, info: &ResourceInfo, envelope: &Envelope) -> (Vec<ClusterId>, Vec<String>) {
    let mut out: Vec<ClusterId> = Vec::new();
    let mut rejected = Vec::new();
    let listed: Vec<&str> = props.resources.iter().flatten().map(String::as_str).collect();
    let candidates: Vec<&str> =
        if listed.is_empty() { info.id.as_deref().into_iter().chain(envelope.subject.as_deref()).take(1).collect() } else { listed };
    for id in candidates {
        match ClusterId::parse(id) {
            Ok(c) if !out.contains(&c) => out.push(c),
            Ok(_) => {}
            Err(e) => rejected.push(e.to_string()),
        }
    }
    if out.is_empty() && props.resources.as_ref().is_some_and(|r| !r.is_empty()) {
        // Resources listed but none is a cluster: fall back to the notice's own id.
        if let Some(c) = info.id.as_deref().and_then(|id| ClusterId::parse(id).ok()) {
            out.push(c);
        }
    }
    (out, rejected)
}

fn details_text(details: Option<&Value>) -> Option<String> {
    match details? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn status(s: Option<&str>) -> MaintenanceStatus {
    let Some(s) = s.map(str::trim).filter(|s| !s.is_empty()) else {
        return MaintenanceStatus::Other("unspecified".into());
    };
    match s.to_ascii_lowercase().as_str() {
        "scheduled" => MaintenanceStatus::Scheduled,
        "started" | "inprogress" | "in progress" => MaintenanceStatus::Started,
        "completed" | "succeeded" => MaintenanceStatus::Completed,
        "canceled" | "cancelled" => MaintenanceStatus::Canceled,
        "failed" => MaintenanceStatus::Failed,
        _ => MaintenanceStatus::Other(s.to_string()),
    }
}

/// The upgrade kind is only in free text. `K8sVersionUpgrade` → Kubernetes version;
/// `NodeOSUpgrade`, node image, or "vhd" (AKS node images are VHDs: "Start to upgrade
/// security vhd") → node OS. Anything else is `Unknown` rather than a guess.
fn upgrade_kind(texts: &[Option<&str>]) -> MaintenanceKind {
    let text: String = texts.iter().flatten().map(|t| t.to_ascii_lowercase()).collect::<Vec<_>>().join(" ");
    let compact: String = text.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if compact.contains("k8sversionupgrade") || compact.contains("kubernetesversionupgrade") || compact.contains("k8supgrade") {
        MaintenanceKind::KubernetesVersion
    } else if compact.contains("nodeosupgrade")
        || compact.contains("nodeimage")
        || compact.contains("securitypatch")
        || text.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == "vhd")
    {
        MaintenanceKind::NodeOs
    } else {
        MaintenanceKind::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_kind_is_read_from_text() {
        assert_eq!(upgrade_kind(&[Some("K8sVersionUpgrade to 1.31.2")]), MaintenanceKind::KubernetesVersion);
        assert_eq!(upgrade_kind(&[Some("NodeOSUpgrade")]), MaintenanceKind::NodeOs);
        assert_eq!(upgrade_kind(&[Some("Start to upgrade security vhd")]), MaintenanceKind::NodeOs);
        assert_eq!(upgrade_kind(&[Some("ScheduledEvents"), None]), MaintenanceKind::Unknown);
        assert_eq!(upgrade_kind(&[Some("vhdx tooling")]), MaintenanceKind::Unknown);
    }

    #[test]
    fn status_accepts_both_spellings_of_canceled() {
        assert_eq!(status(Some("Canceled")), MaintenanceStatus::Canceled);
        assert_eq!(status(Some("Cancelled")), MaintenanceStatus::Canceled);
        assert_eq!(status(Some("Started")), MaintenanceStatus::Started);
        assert_eq!(status(Some("Paused")), MaintenanceStatus::Other("Paused".into()));
        assert_eq!(status(None), MaintenanceStatus::Other("unspecified".into()));
    }
}
