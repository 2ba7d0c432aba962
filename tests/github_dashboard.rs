//! The fleet dashboard publisher (`handler/actions/github/dashboard.rs`) against the fake GitHub
//! with a 5,000-cluster fleet: the body and every detail comment under GitHub's 65,536-character
//! limit; a second publish of the same rendering makes no call; one changed cluster edits exactly
//! the one comment it is in; a lost ledger record finds the issue and its comments again by their
//! markers (no second dashboard, no write when nothing changed); a fleet that shrinks empties the
//! comments it no longer needs.

mod e2e_support;
mod email_support;
mod github_common;

use aks_cadence::action::{Hold, Stage};
use aks_cadence::actions::github::ContentBudget;
use aks_cadence::actions::github::dashboard::Published;
use aks_cadence::dashboard::{self, ChangeStatus, ClusterStatus, ConcernStatus, FleetStatus, GITHUB_BODY_LIMIT};
use aks_cadence::domain::{ClusterId, ConcernKind};
use aks_cadence::policy::windows::WindowStatus;
use e2e_support::{FakeGithub, REPO};
use github_common::{MemLedger, actuator_with_budget, ts};

fn fleet_of(n: usize) -> FleetStatus {
    let versions = ["1.29.9", "1.30.4", "1.31.2"];
    let mut clusters: Vec<ClusterStatus> = (0..n)
        .map(|i| ClusterStatus {
            cluster: ClusterId::from_parts("00000000-0000-0000-0000-000000000001", &format!("rg-{:03}", i % 100), &format!("aks-{i:05}")),
            swept_at: ts("2026-01-15T09:00:00Z"),
            ring: None,
            kubernetes_version: Some(versions[i % versions.len()].into()),
            upgrade_channel: Some("patch".into()),
            node_os_upgrade_channel: Some("NodeImage".into()),
            node_images: [("system".to_string(), Some("AKSUbuntu-2204gen2containerd-202511.10.0".to_string()))].into_iter().collect(),
            window: WindowStatus::Closed { next: Some(ts("2026-01-17T01:00:00Z")) },
            concerns: if i % 4 == 0 {
                vec![ConcernStatus {
                    kind: ConcernKind::KubernetesUpgrade,
                    target: format!("patch:{}", versions[i % versions.len()]),
                    stage: Stage::Notice,
                    deadline: Some(ts("2026-02-14T00:00:00Z")),
                    change: Some(ChangeStatus { change: "upgrade-patch:1.30.9".into(), hold: Some(Hold::PolicyNotifyOnly) }),
                }]
            } else {
                Vec::new()
            },
        })
        .collect();
    clusters.sort_by_key(|c| c.cluster.key());
    FleetStatus { swept_at: ts("2026-01-15T09:00:00Z"), rings: Vec::new(), clusters }
}

fn writes(requests: &[wiremock::Request]) -> Vec<String> {
    requests.iter().filter(|r| r.method.as_str() != "GET").map(|r| format!("{} {}", r.method, r.url.path())).collect()
}

#[tokio::test]
async fn a_five_thousand_cluster_dashboard_is_posted_within_limits_and_edited_only_where_it_changed() {
    let gh = FakeGithub::start().await;
    let comments = gh.comments().await;
    let ledger = MemLedger::new();
    let github = actuator_with_budget(&gh.uri(), ledger.clone(), ContentBudget::with_limits(10_000, 100_000));

    let fleet = fleet_of(5_000);
    let rendered = dashboard::dashboard(&fleet);
    assert!(rendered.comments.len() > 1);
    let first = github.publish_dashboard(REPO, &rendered).await.unwrap();
    let Published::Created { issue, writes: w } = first else { panic!("{first:?}") };
    assert_eq!(w, 1 + rendered.comments.len(), "the issue and one comment per part");
    let boards = gh.dashboards();
    assert_eq!(boards.len(), 1);
    assert!(boards[0].body.chars().count() <= GITHUB_BODY_LIMIT, "{}", boards[0].body.chars().count());
    let posted = comments.on(issue);
    assert_eq!(posted.len(), rendered.comments.len());
    for (i, c) in posted.iter().enumerate() {
        assert!(c.chars().count() <= GITHUB_BODY_LIMIT, "comment {i}: {}", c.chars().count());
        assert!(c.contains(&format!("<!-- aks-cadence:dashboard-detail={} -->", i + 1)));
    }

    // The same rendering again: not one request.
    let before = gh.requests().await.len();
    assert_eq!(github.publish_dashboard(REPO, &rendered).await.unwrap(), Published::Unchanged { issue });
    assert_eq!(gh.requests().await.len(), before, "an unchanged dashboard makes no call");

    // One cluster moves to a newer patch of the same minor: only its comment is edited.
    let mut moved = fleet.clone();
    let at = (2_500..).find(|&i| moved.clusters[i].kubernetes_version.as_deref() == Some("1.30.4")).unwrap();
    moved.clusters[at].kubernetes_version = Some("1.30.7".into());
    let changed = dashboard::dashboard(&moved);
    assert_eq!(changed.body, rendered.body, "the summary did not change");
    let seen = gh.requests().await.len();
    let second = github.publish_dashboard(REPO, &changed).await.unwrap();
    assert_eq!(second, Published::Updated { issue, writes: 1 });
    let new = writes(&gh.requests().await[seen..]);
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(new[0].starts_with(&format!("PATCH /repos/{REPO}/issues/comments/")), "{new:?}");
    let name = moved.clusters[at].cluster.name().to_string();
    assert!(comments.on(issue).iter().any(|c| c.contains(&format!("| {name} <sub>")) && c.contains("| 1.30.7 |")), "the edited comment holds the new version");

    // The ledger record is lost: the issue and its comments are found by their markers; the
    // text on GitHub is what would be posted, so nothing is written.
    let fresh = MemLedger::new();
    let again = actuator_with_budget(&gh.uri(), fresh.clone(), ContentBudget::with_limits(10_000, 100_000));
    let seen = gh.requests().await.len();
    assert_eq!(again.publish_dashboard(REPO, &changed).await.unwrap(), Published::Updated { issue, writes: 0 });
    assert_eq!(writes(&gh.requests().await[seen..]), Vec::<String>::new());
    assert_eq!(gh.dashboards().len(), 1, "never two dashboards");
    assert!(fresh.get("aks-cadence#fleet", &format!("dashboard:github:{REPO}")).is_some(), "the record is written back");

    // The fleet shrinks to a few clusters: everything is in the body, the comments are emptied.
    let small = dashboard::dashboard(&fleet_of(3));
    assert!(small.comments.is_empty());
    let third = again.publish_dashboard(REPO, &small).await.unwrap();
    assert_eq!(third, Published::Updated { issue, writes: 1 + rendered.comments.len() });
    assert!(comments.on(issue).iter().all(|c| c.contains("not used at the moment")), "every detail comment is emptied");
    assert!(gh.dashboards()[0].body.contains("| aks-00000 <sub>"));
    assert_eq!(again.publish_dashboard(REPO, &small).await.unwrap(), Published::Unchanged { issue });
}
