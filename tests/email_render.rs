//! What an email says: subject rules, both bodies, escaping. Rendering is pure, so the bodies
//! are golden files under tests/fixtures/notifications/ (rewrite with UPDATE_SNAPSHOTS=1).

mod email_support;

use aks_cadence::action::Stage;
use aks_cadence::actions::digest::Digest;
use email_support::*;

fn ops() -> aks_cadence::action::ActionKind {
    email_to(&["ops@example.com"])
}

#[test]
fn single_notice_subject_names_cluster_concern_and_target() {
    let a = upgrade("aks-prod-weu", "rg-prod", Stage::Notice, ops());
    assert_eq!(Digest::new([&a]).subject(), "[aks-cadence] aks-prod-weu · Kubernetes upgrade available · 1.30");
}

#[test]
fn later_stages_say_so_in_the_subject() {
    let a = upgrade("aks-prod-weu", "rg-prod", Stage::Overdue, ops());
    assert_eq!(Digest::new([&a]).subject(), "[aks-cadence] aks-prod-weu · Kubernetes upgrade available · 1.30 · overdue");
}

#[test]
fn digest_subject_counts_clusters_and_names_the_largest_group() {
    let mut actions: Vec<_> = (0..300).map(|i| node_image(&format!("aks-{i:03}"), ops())).collect();
    actions.push(upgrade("aks-007", "rg-fleet", Stage::Notice, ops()));
    actions.push(support_ending("aks-legacy", ops()));
    let d = Digest::new(&actions);
    assert_eq!(d.subject(), "[aks-cadence] 301 clusters: node image available (+2 more kinds)");
}

#[test]
fn one_cluster_with_several_concerns_keeps_the_cluster_first_in_the_subject() {
    let a = upgrade("aks-prod-weu", "rg-prod", Stage::Notice, ops());
    let b = node_image("aks-prod-weu", ops());
    let mut b = b;
    b.concern.cluster = a.concern.cluster.clone();
    assert_eq!(
        Digest::new([&a, &b]).subject(),
        "[aks-cadence] aks-prod-weu · 2 concerns: Kubernetes upgrade available (+1 more kind)"
    );
}

#[test]
fn digest_groups_by_concern_kind_largest_first_and_sorts_by_cluster() {
    let actions = vec![
        node_image("zeta", ops()),
        upgrade("mid", "rg", Stage::Notice, ops()),
        node_image("Alpha", ops()),
        node_image("beta", ops()),
    ];
    let d = Digest::new(&actions);
    let order: Vec<(&str, &str)> = d.entries().iter().map(|e| (e.concern.as_str(), e.cluster.as_str())).collect();
    assert_eq!(order, [("node-image", "Alpha"), ("node-image", "beta"), ("node-image", "zeta"), ("kubernetes-upgrade", "mid")]);
}

#[test]
fn single_notice_text_and_html_match_their_snapshots() {
    let a = upgrade("aks-prod-weu", "rg-prod", Stage::Notice, ops());
    let d = Digest::new([&a]);
    assert_snapshot("email_single.txt", &d.text());
    assert_snapshot("email_single.html", &d.html());
}

#[test]
fn digest_text_and_html_match_their_snapshots() {
    let actions = vec![
        node_image("aks-weu-2", ops()),
        node_image("aks-weu-1", ops()),
        upgrade("aks-prod-weu", "rg-prod", Stage::Reminder, ops()),
        support_ending("aks-legacy", ops()),
    ];
    let d = Digest::new(&actions);
    assert_snapshot("email_digest.txt", &d.text());
    assert_snapshot("email_digest.html", &d.html());
}

#[test]
fn html_escapes_everything_that_comes_from_outside() {
    let a = support_ending("aks-legacy", ops());
    let html = Digest::new([&a]).html();
    assert!(!html.contains("<script>"), "raw markup leaked into the HTML body");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;!channel&gt;"));
    // The text body carries it verbatim: plain text is not interpreted.
    assert!(Digest::new([&a]).text().contains("<script>alert('x')</script>"));
}

#[test]
fn every_fact_of_every_cluster_is_in_both_bodies() {
    let actions: Vec<_> = (0..25).map(|i| node_image(&format!("aks-{i:02}"), ops())).collect();
    let d = Digest::new(&actions);
    let (text, html) = (d.text(), d.html());
    for i in 0..25 {
        let name = format!("aks-{i:02}");
        assert!(text.contains(&format!("* {name} (nodepool1)")), "{name} missing from text");
        assert!(html.contains(&format!("<td>{name}</td>")), "{name} missing from html");
    }
    for fact in [SUB, "rg-fleet", "westeurope", "202501.01.0 → AKSUbuntu-2204gen2containerd-202502.03.0", "2026-02-01 00:00 UTC", "closed; next opens 2026-01-10 02:00 UTC"] {
        assert!(text.contains(fact), "text lacks {fact}");
        assert!(html.contains(fact), "html lacks {fact}");
    }
}
