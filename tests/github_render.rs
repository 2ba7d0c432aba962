//! What people read: snapshots of the rendered issue body and comments, and a table of the
//! facts each kind of concern yields (command to run by hand, links, why it matters).

mod github_common;

use aks_cadence::action::{Action, Stage};
use aks_cadence::actions::github::issue_body;
use aks_cadence::actions::render;
use aks_cadence::domain::{CertificateKind, Concern, ConcernKind, MaintenanceKind, MaintenanceStatus, RollingPhase, SignalKind};
use aks_cadence::plan::WindowStatus;
use github_common::*;

const NOTICE_BODY: &str = r#"### prod-weu: Kubernetes upgrade to 1.30.7

upgrade 1.29.2 → 1.30.7 (minor) available

| | |
|---|---|
| Cluster | `prod-weu` ([portal](https://portal.azure.com/#@/resource/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourceGroups/rg-aks-prod-weu/providers/Microsoft.ContainerService/managedClusters/prod-weu/overview)) |
| Subscription | `0b1f6471-1bf0-4dda-aec3-111122223333` |
| Resource group | `rg-aks-prod-weu` |
| Region | `westeurope` |
| Current | `1.29.2` |
| Target | `1.30.7` |

**Why it matters**

- AKS offers upgrades from 1.29.2 to 1.29.9, 1.30.5, 1.30.7.
- Cadence deadline (policy): 2026-03-03.
- First seen: 2026-02-01.
- Support plan: KubernetesOfficial.

**Maintenance window**: The next maintenance window opens 2026-02-03 01:00 UTC.

**To do it by hand**

```sh
az aks get-upgrades --subscription 0b1f6471-1bf0-4dda-aec3-111122223333 --resource-group rg-aks-prod-weu --name prod-weu --output table
az aks upgrade --subscription 0b1f6471-1bf0-4dda-aec3-111122223333 --resource-group rg-aks-prod-weu --name prod-weu --kubernetes-version 1.30.7
```

**Links**

- [AKS release notes](https://github.com/Azure/AKS/releases)
- [Kubernetes 1.30 changelog](https://github.com/kubernetes/kubernetes/blob/master/CHANGELOG/CHANGELOG-1.30.md)
- [AKS Kubernetes support calendar](https://learn.microsoft.com/azure/aks/supported-kubernetes-versions)

<sub>aks-cadence · stage notice · upgrades-offered observed 2026-02-02 06:00 UTC (fleet sweep)</sub>

<!-- aks-cadence:concern=/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333/resourcegroups/rg-aks-prod-weu/providers/microsoft.containerservice/managedclusters/prod-weu#kubernetes-upgrade#1.30 -->
<!-- aks-cadence:digest=akscadencea8e7a056fed465d5071e -->
"#;

const OVERDUE_COMMENT: &str = r#"**Overdue**: upgrade 1.29.2 → 1.30.7 (minor) is overdue

The cadence deadline (2026-03-03) has passed.

- `1.29.2` → `1.30.7`
- AKS offers upgrades from 1.29.2 to 1.29.9, 1.30.5, 1.30.7.
- Support plan: KubernetesOfficial.
- The next maintenance window opens 2026-02-03 01:00 UTC.

The description above has been refreshed with the latest facts.
"#;

#[test]
fn the_notice_issue_body_gives_an_operator_everything_in_one_place() {
    let a = notice();
    assert_eq!(render::title(&a), "prod-weu: upgrade 1.29.2 → 1.30.7 (minor) available");
    assert_eq!(issue_body(&a), NOTICE_BODY);
}

#[test]
fn an_overdue_comment_says_the_deadline_passed() {
    let a = action(Stage::Overdue, issue_kind(), "prod-weu: upgrade 1.29.2 → 1.30.7 (minor) is overdue");
    assert_eq!(render::comment_markdown(&a), OVERDUE_COMMENT);
}

#[test]
fn a_title_without_the_cluster_in_the_summary_still_starts_with_it() {
    let a = action(Stage::Notice, issue_kind(), "node image 202601.15.0 available");
    assert_eq!(render::title(&a), "prod-weu: node image 202601.15.0 available");
    let empty = action(Stage::Notice, issue_kind(), "  ");
    assert_eq!(render::title(&empty), "prod-weu: Kubernetes upgrade to 1.30.7");
}

fn with(kind: ConcernKind, target: &str, signal: SignalKind) -> Action {
    let mut a = notice();
    a.concern = Concern::new(cluster(), kind, target);
    a.signal.kind = signal;
    a
}

#[test]
fn each_kind_of_concern_gets_its_own_command_links_and_reason() {
    let cases: Vec<(&str, Action, &str, &str, &str)> = vec![
        (
            "node image",
            with(ConcernKind::NodeImage, "system", SignalKind::NodeImageAvailable { pool: "system".into(), current: "AKSAzureLinux-V2gen2-202512.01.0".into(), latest: "AKSAzureLinux-V2gen2-202601.15.0".into() }),
            "az aks nodepool upgrade --subscription 0b1f6471-1bf0-4dda-aec3-111122223333 --resource-group rg-aks-prod-weu --cluster-name prod-weu --name system --node-image-only",
            "https://learn.microsoft.com/azure/aks/node-image-upgrade",
            "Node pool `system` runs image AKSAzureLinux-V2gen2-202512.01.0; AKSAzureLinux-V2gen2-202601.15.0 is available",
        ),
        (
            "certificate",
            with(ConcernKind::Certificate, "api-server", SignalKind::CertificateExpiring { certificate: CertificateKind::ApiServer, not_after: ts("2026-04-01T12:00:00Z") }),
            "az aks rotate-certs --subscription 0b1f6471-1bf0-4dda-aec3-111122223333 --resource-group rg-aks-prod-weu --name prod-weu",
            "https://learn.microsoft.com/azure/aks/certificate-rotation",
            "The api-server certificate expires on 2026-04-01 12:00 UTC",
        ),
        (
            "support ending",
            with(ConcernKind::Support, "1.29", SignalKind::SupportEnding { kubernetes_version: "1.29.2".into(), eol_date: Some(ts("2026-03-31T00:00:00Z")), support_type: Some("KubernetesOfficial".into()), eol_source: None }),
            "--kubernetes-version <version from get-upgrades>",
            "https://github.com/kubernetes/kubernetes/blob/master/CHANGELOG/CHANGELOG-1.29.md",
            "Kubernetes 1.29.2 leaves AKS support (KubernetesOfficial) on 2026-03-31.",
        ),
        (
            "failed roll",
            with(ConcernKind::NodePoolRoll, "apps", SignalKind::NodePoolRolling { pool: "apps".into(), phase: RollingPhase::Failed, error: Some("OperationNotAllowed: <!-- x --> drain of node aks-apps-1 failed: PDB".into()) }),
            "az aks nodepool show --subscription 0b1f6471-1bf0-4dda-aec3-111122223333 --resource-group rg-aks-prod-weu --cluster-name prod-weu --name apps",
            "https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/create-upgrade-delete/upgrading-or-scaling-does-not-succeed",
            "AKS reports that the roll of node pool `apps` failed.",
        ),
        (
            "maintenance",
            with(ConcernKind::Maintenance, "e1", SignalKind::Maintenance { event_id: "e1".into(), upgrade: MaintenanceKind::NodeOs, status: MaintenanceStatus::Scheduled, scheduled_time: Some(ts("2026-02-10T02:00:00Z")), details: None }),
            "az aks maintenanceconfiguration list --subscription 0b1f6471-1bf0-4dda-aec3-111122223333 --resource-group rg-aks-prod-weu --cluster-name prod-weu --output table",
            "https://learn.microsoft.com/azure/aks/planned-maintenance",
            "AKS planned node OS upgrade is scheduled for 2026-02-10 02:00 UTC.",
        ),
    ];
    for (name, a, command, link, why) in cases {
        let f = render::facts(&a);
        assert!(f.commands.iter().any(|c| c.contains(command)), "{name}: {:?}", f.commands);
        assert!(f.links.iter().any(|l| l.url == link), "{name}: {:?}", f.links);
        assert!(f.why.iter().any(|w| w.contains(why)), "{name}: {:?}", f.why);
        let body = render::markdown(&a);
        assert!(!body.contains("<!-- x"), "{name}: Azure's text cannot forge a marker");
    }
}

#[test]
fn the_window_is_told_in_each_state() {
    let mut a = notice();
    for (w, want) in [
        (WindowStatus::Unknown, "No maintenance window is known for this cluster"),
        (WindowStatus::Open { until: ts("2026-02-03T05:00:00Z") }, "A maintenance window is open now, until 2026-02-03 05:00 UTC."),
        (WindowStatus::Closed { next: None }, "No upcoming maintenance window is scheduled."),
    ] {
        a.window = Some(w);
        assert!(render::markdown(&a).contains(want), "{want}");
    }
    a.window = None;
    assert!(!render::markdown(&a).contains("Maintenance window"));
}

#[test]
fn names_that_need_quoting_are_quoted_in_commands() {
    let mut a = notice();
    a.concern.cluster = aks_cadence::domain::ClusterId::from_parts("s", "rg (legacy)", "prod-weu");
    let f = render::facts(&a);
    assert!(f.commands[1].contains("--resource-group 'rg (legacy)'"), "{:?}", f.commands);
}

/// The planner writes news about a known concern as `"<cluster>: update: …"` (and reminders,
/// overdue notices and resolutions with their own word): the comment's bold lead says the stage,
/// once.
#[test]
fn a_comment_says_its_stage_once() {
    for (stage, summary, lead) in [
        (Stage::Update, "prod-weu: update: kubernetes-upgrade 1.30.7: the operation aks-cadence started succeeded", "**Update**: kubernetes-upgrade 1.30.7: the operation aks-cadence started succeeded\n"),
        (Stage::Reminder, "prod-weu: reminder: upgrade 1.29.2 → 1.30.7 (minor) due 2026-03-03", "**Reminder**: upgrade 1.29.2 → 1.30.7 (minor) due 2026-03-03\n"),
        (Stage::Overdue, "prod-weu: overdue: upgrade 1.29.2 → 1.30.7 (minor) was due 2026-03-03", "**Overdue**: upgrade 1.29.2 → 1.30.7 (minor) was due 2026-03-03\n"),
        (Stage::Resolve, "prod-weu: resolved: kubernetes-upgrade 1.30.7", "**Resolved**: kubernetes-upgrade 1.30.7\n"),
        (Stage::Update, "prod-weu: updated facts", "**Update**: updated facts\n"),
    ] {
        let comment = render::comment_markdown(&action(stage, issue_kind(), summary));
        assert!(comment.starts_with(lead), "{stage:?}: {comment}");
    }
}
