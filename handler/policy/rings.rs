//! Rings and soak time: the order in which a fleet takes a target (`[[ring]]`, in file order).
//!
//! A cluster belongs to the FIRST ring whose selectors match it; a cluster in no ring is not
//! ring-gated. A target (a patch or minor version, a node image) becomes eligible on ring N
//! only when every cluster of the nearest earlier ring that has clusters has run it (or newer)
//! for at least that ring's `soak_days`, and no upgrade to it failed there. Ring 0 (and a ring
//! with no populated ring before it) is always eligible.
//!
//! [`gate`] is the whole decision, pure: the fleet's facts (per ring, each cluster's running
//! version / node images and since when, and its failed upgrades), the cluster's ring, the
//! target, whether a person released the target, and `now` in; eligible or a hold out.
//!
//! Layer: core: pure, no IO (`tests/core_imports.rs`).

use jiff::{SignedDuration, Timestamp};

use super::Selector;
use super::versions::AksVersion;

/// One `[[ring]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Ring {
    pub name: String,
    /// Line of the ring in the policy file (for messages).
    pub line: usize,
    pub selector: Selector,
    /// Days every cluster of this ring must have run a target before the next ring may take it.
    pub soak_days: u32,
}

/// What a cluster runs, and since when (the first sweep that saw it running it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub version: String,
    pub since: Timestamp,
    /// Whether a sweep saw the change to it (`since` is then when the cluster received it, to
    /// a sweep's interval); `false` when the first sweep found it there.
    pub seen_to_change: bool,
}

/// An upgrade of a cluster that failed: the version or node image it was to reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub target: String,
    pub at: Timestamp,
}

/// One cluster of a ring, as the fleet's stored memory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Member {
    /// The cluster's name (shown in holds).
    pub cluster: String,
    /// The control-plane version.
    pub kubernetes: Option<Running>,
    /// Each pool's node image.
    pub node_images: Vec<Running>,
    /// Upgrades that failed.
    pub failed: Vec<Failure>,
    /// The AKS auto-upgrade channel that moves its control plane (`upgradeChannel`), if any
    /// but `none`: such a cluster is upgraded by AKS, in its own window, not by this gate.
    pub aks_channel: Option<String>,
}

/// The clusters of one ring.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RingView {
    pub name: String,
    pub soak_days: u32,
    pub members: Vec<Member>,
}

/// What a ring gate decides about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A patch or minor upgrade to this exact version.
    Kubernetes(&'a AksVersion),
    /// A node image (`AKSUbuntu-2204gen2containerd-202405.03.0`): only pools of the same image
    /// family (the name before the last `-`) can have run it.
    NodeImage(&'a str),
}

impl Target<'_> {
    fn name(&self) -> String {
        match self {
            Self::Kubernetes(v) => v.to_string(),
            Self::NodeImage(i) => i.to_string(),
        }
    }
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Eligible,
    Held {
        /// The earlier ring that has not finished soaking the target.
        ring: String,
        /// Its clusters that have not run the target for `soak_days` yet (or whose upgrade to
        /// it failed), sorted.
        waiting: Vec<String>,
        /// When the soak ends, when every waiting cluster already runs the target.
        until: Option<Timestamp>,
        /// The target failed on a waiting cluster: it stays held until a newer target appears
        /// or a person releases it.
        failed: bool,
    },
}

/// A node image's family and its version parts (`AKSUbuntu-2204gen2containerd`, [202405, 3, 0]).
fn image_parts(image: &str) -> Option<(&str, Vec<u64>)> {
    let (family, version) = image.rsplit_once('-')?;
    let parts: Option<Vec<u64>> = version.split('.').map(|p| p.parse().ok()).collect();
    Some((family, parts?))
}

/// When `member` has run `target` or newer since (`None`: it does not run it; `Some(None)`:
/// the target does not apply to it — no pool of the image's family).
fn running_since(member: &Member, target: Target<'_>) -> Option<Option<Timestamp>> {
    match target {
        Target::Kubernetes(t) => Some(
            member
                .kubernetes
                .as_ref()
                .filter(|r| AksVersion::parse(&r.version).is_ok_and(|v| v >= *t))
                .map(|r| r.since),
        ),
        Target::NodeImage(image) => {
            let (family, want) = image_parts(image)?;
            let pools: Vec<(&Running, Vec<u64>)> = member
                .node_images
                .iter()
                .filter_map(|r| image_parts(&r.version).filter(|(f, _)| f.eq_ignore_ascii_case(family)).map(|(_, v)| (r, v)))
                .collect();
            if pools.is_empty() {
                return None;
            }
            // Every pool of the family must run it; the soak counts from the last one to get it.
            if pools.iter().any(|(_, v)| *v < want) {
                return Some(None);
            }
            Some(pools.iter().map(|(r, _)| r.since).max())
        }
    }
}

fn failed_on(member: &Member, target: Target<'_>) -> bool {
    let name = target.name();
    member.failed.iter().any(|f| f.target.eq_ignore_ascii_case(&name))
}

/// Whether `target` may be taken by a cluster of ring `ring` (index into `rings`, file order).
///
/// - Ring 0 is always eligible; so is a ring whose earlier rings have no cluster the target
///   applies to (an empty ring is skipped: the gate looks further back).
/// - Otherwise the nearest earlier ring with such clusters decides: each must run the target
///   or newer since at least `soak_days` before `now` (a soak ends exactly `soak_days` after
///   `since`, and is over at that instant).
/// - An upgrade to exactly this target that failed on a cluster of that ring holds it until a
///   newer target is offered (which has no failure recorded) or `released` is true (a person
///   released it: the approvals' input).
pub fn gate(rings: &[RingView], ring: usize, target: Target<'_>, released: bool, now: Timestamp) -> Gate {
    let Some(earlier) = rings.get(..ring.min(rings.len())) else { return Gate::Eligible };
    for prev in earlier.iter().rev() {
        let relevant: Vec<(&Member, Option<Timestamp>)> =
            prev.members.iter().filter_map(|m| running_since(m, target).map(|since| (m, since))).collect();
        if relevant.is_empty() {
            continue;
        }
        let soak = SignedDuration::from_hours(24 * i64::from(prev.soak_days));
        if !released {
            let mut failed: Vec<String> = relevant.iter().filter(|(m, _)| failed_on(m, target)).map(|(m, _)| m.cluster.clone()).collect();
            if !failed.is_empty() {
                failed.sort();
                return Gate::Held { ring: prev.name.clone(), waiting: failed, until: None, failed: true };
            }
        }
        let mut waiting = Vec::new();
        let mut until: Option<Timestamp> = None;
        let mut all_running = true;
        for (m, since) in &relevant {
            match since {
                None => {
                    all_running = false;
                    waiting.push(m.cluster.clone());
                }
                Some(since) => {
                    let ends = since.checked_add(soak).unwrap_or(Timestamp::MAX);
                    if now < ends {
                        waiting.push(m.cluster.clone());
                        until = Some(until.map_or(ends, |u| u.max(ends)));
                    }
                }
            }
        }
        if waiting.is_empty() {
            return Gate::Eligible;
        }
        waiting.sort();
        return Gate::Held { ring: prev.name.clone(), waiting, until: if all_running { until } else { None }, failed: false };
    }
    Gate::Eligible
}

/// When the upgrade to `target` (a version or node image, as the gate names it) first failed on
/// a cluster of ring `ring`: the stop that failure puts on the target begins then.
pub fn first_failure(rings: &[RingView], ring: &str, target: &str) -> Option<Timestamp> {
    rings
        .iter()
        .filter(|r| r.name == ring)
        .flat_map(|r| &r.members)
        .flat_map(|m| &m.failed)
        .filter(|f| f.target.eq_ignore_ascii_case(target))
        .map(|f| f.at)
        .min()
}

/// A later-ring cluster that AKS upgraded (through its channel) to a version before the earlier
/// ring finished soaking it: aks-cadence cannot order such clusters, their windows must.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inversion {
    pub cluster: String,
    pub ring: String,
    pub channel: String,
    pub version: String,
    pub received: Timestamp,
    /// The earlier ring, its clusters that had not soaked the version then, and its soak.
    pub earlier: String,
    pub waiting: Vec<String>,
    pub soak_days: u32,
}

impl Inversion {
    /// One line for a person, with the window stagger that prevents it.
    pub fn describe(&self) -> String {
        format!(
            "ring inversion: {} (ring {}) received {} on {} through {} before ring {} had run it for {} day(s) (waiting: {}). \
             AKS orders channel upgrades only by maintenance window: start ring {}'s aksManagedAutoUpgradeSchedule at least {} day(s) \
             after ring {}'s (e.g. ring {} on day N of the schedule, ring {} on day N+{}), or leave ring {} off the channel so aks-cadence orders it",
            self.cluster,
            self.ring,
            self.version,
            self.received.strftime("%Y-%m-%d %H:%M UTC"),
            self.channel,
            self.earlier,
            self.soak_days,
            self.waiting.join(", "),
            self.ring,
            self.soak_days,
            self.earlier,
            self.earlier,
            self.ring,
            self.soak_days,
            self.ring,
        )
    }
}

/// Every ring inversion the fleet's facts show: a cluster of ring N on an AKS channel that was
/// seen to change to its current version at a time when the ring gate would have held that
/// version (the earlier ring had not run it for its soak). Pure.
pub fn inversions(rings: &[RingView]) -> Vec<Inversion> {
    let mut out = Vec::new();
    for (index, ring) in rings.iter().enumerate().skip(1) {
        for m in &ring.members {
            let (Some(channel), Some(running)) = (&m.aks_channel, &m.kubernetes) else { continue };
            let Ok(version) = AksVersion::parse(&running.version) else { continue };
            if !running.seen_to_change {
                continue;
            }
            if let Gate::Held { ring: earlier, waiting, failed: false, .. } =
                gate(rings, index, Target::Kubernetes(&version), false, running.since)
            {
                let soak_days = rings.iter().find(|r| r.name == earlier).map_or(0, |r| r.soak_days);
                out.push(Inversion {
                    cluster: m.cluster.clone(),
                    ring: ring.name.clone(),
                    channel: channel.clone(),
                    version: running.version.clone(),
                    received: running.since,
                    earlier,
                    waiting,
                    soak_days,
                });
            }
        }
    }
    out
}

/// The [`inversions`] not over at `now`. An inversion is over once the gate would let its
/// version through to the cluster's ring now — every cluster of the earlier rings has run it (or
/// newer) for the soak, without a failed upgrade — or once the cluster no longer runs that
/// version (it is then no inversion at all). Pure.
pub fn open_inversions(rings: &[RingView], now: Timestamp) -> Vec<Inversion> {
    inversions(rings)
        .into_iter()
        .filter(|inv| {
            let Some(index) = rings.iter().position(|r| r.name == inv.ring) else { return true };
            let Ok(version) = AksVersion::parse(&inv.version) else { return true };
            matches!(gate(rings, index, Target::Kubernetes(&version), false, now), Gate::Held { .. })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }
    fn v(s: &str) -> AksVersion {
        AksVersion::parse(s).unwrap()
    }
    fn on(cluster: &str, version: &str, since: &str) -> Member {
        Member { cluster: cluster.into(), kubernetes: Some(Running { version: version.into(), since: t(since), seen_to_change: true }), ..Member::default() }
    }
    fn ring(name: &str, soak_days: u32, members: Vec<Member>) -> RingView {
        RingView { name: name.into(), soak_days, members }
    }
    fn held(ring: &str, waiting: &[&str], until: Option<&str>) -> Gate {
        Gate::Held { ring: ring.into(), waiting: waiting.iter().map(|s| s.to_string()).collect(), until: until.map(t), failed: false }
    }

    #[test]
    fn soak_ends_exactly_soak_days_after_the_last_cluster_took_the_target() {
        let rings = vec![
            ring("dev", 3, vec![on("dev-a", "1.30.7", "2026-03-01T10:00:00Z"), on("dev-b", "1.30.7", "2026-03-02T10:00:00Z")]),
            ring("prod", 0, vec![on("prod-a", "1.30.4", "2026-01-01T00:00:00Z")]),
        ];
        let target = v("1.30.7");
        let cases = [
            ("2026-03-02T10:00:00Z", held("dev", &["dev-a", "dev-b"], Some("2026-03-05T10:00:00Z"))),
            ("2026-03-04T09:59:59Z", held("dev", &["dev-a", "dev-b"], Some("2026-03-05T10:00:00Z"))),
            ("2026-03-04T10:00:00Z", held("dev", &["dev-b"], Some("2026-03-05T10:00:00Z"))),
            ("2026-03-05T09:59:59Z", held("dev", &["dev-b"], Some("2026-03-05T10:00:00Z"))),
            ("2026-03-05T10:00:00Z", Gate::Eligible),
            ("2026-04-01T00:00:00Z", Gate::Eligible),
        ];
        for (now, want) in cases {
            assert_eq!(gate(&rings, 1, Target::Kubernetes(&target), false, t(now)), want, "at {now}");
        }
        assert_eq!(gate(&rings, 0, Target::Kubernetes(&target), false, t("2026-03-02T10:00:00Z")), Gate::Eligible, "ring 0 is never held");
    }

    #[test]
    fn a_cluster_not_on_the_target_yet_waits_with_no_known_end() {
        let rings = vec![
            ring("dev", 2, vec![on("dev-a", "1.30.7", "2026-03-01T00:00:00Z"), on("dev-b", "1.30.4", "2026-01-01T00:00:00Z")]),
            ring("prod", 0, vec![]),
        ];
        let now = t("2026-03-10T00:00:00Z");
        assert_eq!(gate(&rings, 1, Target::Kubernetes(&v("1.30.7")), false, now), held("dev", &["dev-b"], None));
        // A newer version counts as having run the target (since it took the newer one).
        let newer = vec![ring("dev", 2, vec![on("dev-a", "1.31.2", "2026-03-01T00:00:00Z")]), ring("prod", 0, vec![])];
        assert_eq!(gate(&newer, 1, Target::Kubernetes(&v("1.30.7")), false, now), Gate::Eligible);
        // A member whose version is unknown waits too.
        let unknown = vec![ring("dev", 2, vec![Member { cluster: "dev-c".into(), ..Member::default() }]), ring("prod", 0, vec![])];
        assert_eq!(gate(&unknown, 1, Target::Kubernetes(&v("1.30.7")), false, now), held("dev", &["dev-c"], None));
    }

    #[test]
    fn empty_rings_are_skipped_and_the_gate_looks_further_back() {
        let now = t("2026-03-03T00:00:00Z");
        let rings = vec![
            ring("canary", 5, vec![on("canary-a", "1.30.7", "2026-03-01T00:00:00Z")]),
            ring("dev", 1, vec![]),
            ring("prod", 0, vec![on("prod-a", "1.30.4", "2026-01-01T00:00:00Z")]),
        ];
        assert_eq!(gate(&rings, 2, Target::Kubernetes(&v("1.30.7")), false, now), held("canary", &["canary-a"], Some("2026-03-06T00:00:00Z")));
        assert_eq!(gate(&rings, 1, Target::Kubernetes(&v("1.30.7")), false, now), held("canary", &["canary-a"], Some("2026-03-06T00:00:00Z")));
        let all_empty = vec![ring("dev", 1, vec![]), ring("prod", 0, vec![])];
        assert_eq!(gate(&all_empty, 1, Target::Kubernetes(&v("1.30.7")), false, now), Gate::Eligible);
    }

    #[test]
    fn a_failed_upgrade_stops_the_target_until_a_newer_one_or_a_release() {
        let mut dev = on("dev-a", "1.30.4", "2026-01-01T00:00:00Z");
        dev.failed.push(Failure { target: "1.30.7".into(), at: t("2026-03-01T00:00:00Z") });
        let mut done = on("dev-b", "1.30.7", "2026-02-01T00:00:00Z");
        done.failed.push(Failure { target: "1.30.5".into(), at: t("2026-01-20T00:00:00Z") });
        let rings = vec![ring("dev", 1, vec![dev.clone(), done]), ring("prod", 0, vec![])];
        let now = t("2026-06-01T00:00:00Z");
        let stopped = Gate::Held { ring: "dev".into(), waiting: vec!["dev-a".into()], until: None, failed: true };
        assert_eq!(gate(&rings, 1, Target::Kubernetes(&v("1.30.7")), false, now), stopped);
        // Released by a person: back to the soak rule (dev-a does not run it yet).
        assert_eq!(gate(&rings, 1, Target::Kubernetes(&v("1.30.7")), true, now), held("dev", &["dev-a"], None));
        // A newer target has no failure: it soaks like any other.
        assert_eq!(gate(&rings, 1, Target::Kubernetes(&v("1.30.9")), false, now), held("dev", &["dev-a", "dev-b"], None));
        // A failure of an older target does not stop a target that soaked.
        let soaked = vec![ring("dev", 1, vec![rings[0].members[1].clone()]), ring("prod", 0, vec![])];
        assert_eq!(gate(&soaked, 1, Target::Kubernetes(&v("1.30.7")), false, now), Gate::Eligible);
        // Fixed after the failure (dev-a reached it later) and soaked: still stopped until released.
        let mut fixed = dev;
        fixed.kubernetes = Some(Running { version: "1.30.7".into(), since: t("2026-03-05T00:00:00Z"), seen_to_change: true });
        let rings = vec![ring("dev", 1, vec![fixed]), ring("prod", 0, vec![])];
        assert!(matches!(gate(&rings, 1, Target::Kubernetes(&v("1.30.7")), false, now), Gate::Held { failed: true, .. }));
        assert_eq!(gate(&rings, 1, Target::Kubernetes(&v("1.30.7")), true, now), Gate::Eligible);
    }

    #[test]
    fn node_images_soak_per_image_family() {
        let image = |cluster: &str, images: &[(&str, &str)]| Member {
            cluster: cluster.into(),
            node_images: images.iter().map(|(i, s)| Running { version: i.to_string(), since: t(s), seen_to_change: true }).collect(),
            ..Member::default()
        };
        let ubuntu_new = "AKSUbuntu-2204gen2containerd-202405.03.0";
        let rings = vec![
            ring(
                "dev",
                2,
                vec![
                    image("dev-a", &[(ubuntu_new, "2026-03-01T00:00:00Z"), ("AKSUbuntu-2204gen2containerd-202406.01.0", "2026-03-02T00:00:00Z")]),
                    image("dev-win", &[("AKSWindows-2022-containerd-20348.2461.240501", "2026-01-01T00:00:00Z")]),
                ],
            ),
            ring("prod", 0, vec![]),
        ];
        let target = Target::NodeImage(ubuntu_new);
        assert_eq!(gate(&rings, 1, target, false, t("2026-03-03T00:00:00Z")), held("dev", &["dev-a"], Some("2026-03-04T00:00:00Z")));
        assert_eq!(gate(&rings, 1, target, false, t("2026-03-04T00:00:00Z")), Gate::Eligible, "the Windows-only cluster cannot run an Ubuntu image");
        let behind = vec![ring("dev", 2, vec![image("dev-a", &[("AKSUbuntu-2204gen2containerd-202404.09.0", "2026-01-01T00:00:00Z")])]), ring("prod", 0, vec![])];
        assert_eq!(gate(&behind, 1, target, false, t("2026-03-04T00:00:00Z")), held("dev", &["dev-a"], None));
        let only_windows = vec![ring("dev", 2, vec![image("dev-win", &[("AKSWindows-2022-containerd-20348.2461.240501", "2026-01-01T00:00:00Z")])]), ring("prod", 0, vec![])];
        assert_eq!(gate(&only_windows, 1, target, false, t("2026-03-01T00:00:00Z")), Gate::Eligible, "a ring the image does not apply to is skipped");
    }

    #[test]
    fn config_check_names_each_ring_problem_with_its_line_and_fix() {
        use crate::policy::Policy;
        let text = "[[ring]]\nname = \"dev\"\nclusters = [\"dev-*\"]\nsoak_days = 3\n\n[[ring]]\nname = \"Dev\"\nsoak_days = 4000\nsoak = 2\n\n[[ring]]\nname = \"prod\"\n";
        let errors = Policy::parse(text, "cadence.toml").unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let has = |needle: &str| shown.iter().any(|e| e.contains(needle));
        assert!(has("cadence.toml:8: ring[1].soak_days"), "{shown:#?}");
        assert!(has("did you mean `soak_days`?"), "{shown:#?}");
        assert!(has("cadence.toml:11: ring[2].soak_days: the ring has no soak_days"), "{shown:#?}");
        let ok = Policy::parse("[[ring]]\nname = \"dev\"\nclusters = [\"dev-*\"]\nsoak_days = 3\n\n[[ring]]\nname = \"dev\"\nsoak_days = 0\n", "c.toml").unwrap_err();
        assert!(ok[0].to_string().contains("the name `dev` is already used by the ring on line 1"), "{ok:?}");
        let policy = Policy::parse("[[ring]]\nname = \"dev\"\nresource_groups = [\"rg-dev-*\"]\nsoak_days = 3\n\n[[ring]]\nname = \"prod\"\nsoak_days = 0\n", "c.toml").unwrap();
        let summary = policy.summary().join("\n");
        assert!(summary.contains("2 ring(s), in order: dev → prod"), "{summary}");
        assert!(summary.contains("ring 1 dev (line 1): resource groups rg-dev-*; soak 3 day(s) before prod may take a target"), "{summary}");
        assert!(summary.contains("ring 2 prod (line 6): every cluster; soak 0 day(s) (last ring"), "{summary}");
    }

    #[test]
    fn a_later_ring_on_an_aks_channel_that_got_a_version_before_the_soak_ended_is_an_inversion() {
        let channel = |mut m: Member| {
            m.aks_channel = Some("upgradeChannel patch".into());
            m
        };
        let rings = vec![
            ring("dev", 3, vec![on("dev-a", "1.30.7", "2026-03-01T00:00:00Z")]),
            ring(
                "prod",
                0,
                vec![
                    channel(on("prod-early", "1.30.7", "2026-03-02T00:00:00Z")),
                    channel(on("prod-after", "1.30.7", "2026-03-04T00:00:00Z")),
                    on("prod-manual", "1.30.7", "2026-03-02T00:00:00Z"),
                    channel(Member { kubernetes: Some(Running { version: "1.30.7".into(), since: t("2026-03-02T00:00:00Z"), seen_to_change: false }), ..on("prod-new", "1.30.7", "2026-03-02T00:00:00Z") }),
                ],
            ),
        ];
        let found = inversions(&rings);
        assert_eq!(found.len(), 1, "only the channel cluster seen to change before the soak ended: {found:#?}");
        assert_eq!(found[0].cluster, "prod-early");
        assert_eq!(found[0].waiting, vec!["dev-a".to_string()]);
        let line = found[0].describe();
        assert!(line.contains("prod-early (ring prod) received 1.30.7 on 2026-03-02 00:00 UTC through upgradeChannel patch before ring dev had run it for 3 day(s)"), "{line}");
        assert!(line.contains("start ring prod's aksManagedAutoUpgradeSchedule at least 3 day(s) after ring dev's"), "{line}");
        // Open until dev has run 1.30.7 for its 3 days (03-04 00:00), over from then on.
        assert_eq!(open_inversions(&rings, t("2026-03-03T23:59:00Z")).len(), 1);
        assert!(open_inversions(&rings, t("2026-03-04T00:00:00Z")).is_empty(), "the soak is over: so is the inversion");
    }
}
