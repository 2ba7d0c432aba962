//! `Microsoft.ContainerService.*`: the per-cluster system topic
//! (`Microsoft.ContainerService.ManagedClusters`). The envelope's `topic` (Event Grid) or
//! `source` (CloudEvents) is the cluster's resource id; every data field is an optional string.
//!
//! `NodePoolRollingProgress` and `ClusterOutOfSupport` exist only in unmerged spec branches:
//! they (and any other type under the prefix) are `Unknown` until Microsoft ships them.

use serde::Deserialize;
use serde_json::Value;

use super::{Envelope, Ingested, check_version};
use crate::domain::{ClusterFacts, ClusterId, RollingPhase, SignalKind};

pub(crate) const TYPE_PREFIX: &str = "Microsoft.ContainerService.";

/// `NewKubernetesVersionAvailable` data.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewKubernetesVersionAvailableData {
    latest_supported_kubernetes_version: Option<String>,
    latest_stable_kubernetes_version: Option<String>,
    lowest_minor_kubernetes_version: Option<String>,
    latest_preview_kubernetes_version: Option<String>,
}

/// `ClusterSupportEnding` / `ClusterSupportEnded` data.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClusterSupportData {
    kubernetes_version: Option<String>,
}

/// `NodePoolRolling{Started,Succeeded,Failed}` data. The published schema has only
/// `nodePoolName`; the error fields are read when present because a failure without its
/// reason is what an ops team least wants to receive.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodePoolRollingData {
    node_pool_name: Option<String>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    error_message: Option<String>,
}

impl NodePoolRollingData {
    /// "code: message" from whichever error fields the event carries.
    fn error_text(&self) -> Option<String> {
        let (mut code, mut message) = (self.error_code.clone(), self.error_message.clone());
        match &self.error {
            Some(Value::String(s)) if !s.trim().is_empty() => message = message.or_else(|| Some(s.clone())),
            Some(Value::Object(o)) => {
                code = code.or_else(|| o.get("code").and_then(Value::as_str).map(str::to_string));
                message = message.or_else(|| o.get("message").and_then(Value::as_str).map(str::to_string));
            }
            _ => {}
        }
        match (code.filter(|c| !c.trim().is_empty()), message.filter(|m| !m.trim().is_empty())) {
            (Some(c), Some(m)) => Some(format!("{c}: {m}")),
            (Some(c), None) => Some(c),
            (None, Some(m)) => Some(m),
            (None, None) => None,
        }
    }
}

/// Maps one ContainerService event; `short` is the type after the prefix.
pub(crate) fn ingest(envelope: &Envelope, short: &str) -> Ingested {
    let kind = match short {
        s if s.eq_ignore_ascii_case("NewKubernetesVersionAvailable") => Kind::NewVersion,
        s if s.eq_ignore_ascii_case("ClusterSupportEnding") => Kind::SupportEnding,
        s if s.eq_ignore_ascii_case("ClusterSupportEnded") => Kind::SupportEnded,
        s if s.eq_ignore_ascii_case("NodePoolRollingStarted") => Kind::Rolling(RollingPhase::Started),
        s if s.eq_ignore_ascii_case("NodePoolRollingSucceeded") => Kind::Rolling(RollingPhase::Succeeded),
        s if s.eq_ignore_ascii_case("NodePoolRollingFailed") => Kind::Rolling(RollingPhase::Failed),
        _ => return envelope.unknown(),
    };
    match build(envelope, kind) {
        Ok(signal_kind) => signal_kind,
        Err(reason) => envelope.ignored(reason),
    }
}

enum Kind {
    NewVersion,
    SupportEnding,
    SupportEnded,
    Rolling(RollingPhase),
}

fn build(envelope: &Envelope, kind: Kind) -> Result<Ingested, String> {
    let topic = envelope.source.as_deref().ok_or("the event has no topic/source, so the cluster is unknown")?;
    let cluster = ClusterId::parse(topic).map_err(|e| format!("topic/source is not a cluster: {e}"))?;
    let observed_at = envelope.observed_at()?;
    if !envelope.data.is_object() {
        return Err(format!("data is not a JSON object (found {})", super::kind_of(&envelope.data)));
    }
    let data = |what: &str| format!("data does not fit the {what} schema");
    let signal_kind = match kind {
        Kind::NewVersion => {
            let d = NewKubernetesVersionAvailableData::deserialize(&envelope.data)
                .map_err(|e| format!("{}: {e}", data("NewKubernetesVersionAvailable")))?;
            check_version("data.latestSupportedKubernetesVersion", d.latest_supported_kubernetes_version.as_deref())?;
            check_version("data.latestStableKubernetesVersion", d.latest_stable_kubernetes_version.as_deref())?;
            check_version("data.lowestMinorKubernetesVersion", d.lowest_minor_kubernetes_version.as_deref())?;
            check_version("data.latestPreviewKubernetesVersion", d.latest_preview_kubernetes_version.as_deref())?;
            SignalKind::NewKubernetesVersion {
                latest_supported: non_empty(d.latest_supported_kubernetes_version),
                latest_stable: non_empty(d.latest_stable_kubernetes_version),
                lowest_minor: non_empty(d.lowest_minor_kubernetes_version),
                latest_preview: non_empty(d.latest_preview_kubernetes_version),
            }
        }
        Kind::SupportEnding | Kind::SupportEnded => {
            let d = ClusterSupportData::deserialize(&envelope.data).map_err(|e| format!("{}: {e}", data("ClusterSupport")))?;
            let kubernetes_version = non_empty(d.kubernetes_version).ok_or("data.kubernetesVersion is missing")?;
            check_version("data.kubernetesVersion", Some(&kubernetes_version))?;
            if matches!(kind, Kind::SupportEnding) {
                SignalKind::SupportEnding { kubernetes_version, eol_date: None, support_type: None, eol_source: None }
            } else {
                SignalKind::SupportEnded { kubernetes_version }
            }
        }
        Kind::Rolling(phase) => {
            let d = NodePoolRollingData::deserialize(&envelope.data).map_err(|e| format!("{}: {e}", data("NodePoolRolling")))?;
            let error = if phase == RollingPhase::Failed { d.error_text() } else { None };
            let pool = non_empty(d.node_pool_name).ok_or("data.nodePoolName is missing")?;
            SignalKind::NodePoolRolling { pool, phase, error }
        }
    };
    let signal = envelope.signal(cluster, ClusterFacts::default(), signal_kind, observed_at);
    Ok(Ingested::Signals { event_id: envelope.id.clone(), event_type: envelope.event_type.clone(), signals: vec![signal] })
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rolling_failure_error_reads_code_and_message_from_any_shape() {
        let d: NodePoolRollingData =
            serde_json::from_value(json!({"nodePoolName": "p", "error": {"code": "QuotaExceeded", "message": "no cores"}})).unwrap();
        assert_eq!(d.error_text().as_deref(), Some("QuotaExceeded: no cores"));
        let d: NodePoolRollingData = serde_json::from_value(json!({"nodePoolName": "p", "errorMessage": "drain timed out"})).unwrap();
        assert_eq!(d.error_text().as_deref(), Some("drain timed out"));
        let d: NodePoolRollingData = serde_json::from_value(json!({"nodePoolName": "p"})).unwrap();
        assert_eq!(d.error_text(), None);
    }
}
