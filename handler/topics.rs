//! Which Event Grid topics may deliver events to this handler: the allow-list
//! `CADENCE_EVENTGRID_ALLOWED_TOPICS`, applied by both event routes (`/aks-events` and
//! `/api/eventgrid`) to every event's topic — Event Grid `topic`, CloudEvents `source`.
//!
//! An entry is an ARM id or an ARM id prefix, compared case-insensitively (ARM ids are) and on
//! whole segments: `/subscriptions/1111…` allows the subscription's own topic (Resource
//! Notifications, the validation event of a subscription-scoped system topic) and every cluster
//! in it (`/subscriptions/1111…/resourceGroups/…/managedClusters/…`), but not
//! `/subscriptions/1111…9`. A bare subscription id stands for `/subscriptions/<id>`, so "the
//! clusters of these subscriptions" is one value: `sub-a,sub-b`. `*` allows every topic.
//!
//! Unset, the list is the subscriptions of `CADENCE_SUBSCRIPTIONS` when that is set (what this
//! installation sweeps is what it listens to), else every topic — with a warning at start-up,
//! so the quick start (no settings at all) still works and says what it trusts.
//!
//! Layer: edge: used by the event routes.

use std::fmt;

/// Where the allow-list in force came from (for the start-up log line and messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowListOrigin {
    /// `CADENCE_EVENTGRID_ALLOWED_TOPICS`.
    Setting,
    /// Unset: derived from `CADENCE_SUBSCRIPTIONS`.
    Subscriptions,
    /// Unset and no `CADENCE_SUBSCRIPTIONS`: every topic (warned at start-up).
    Unset,
}

/// The setting's name, for log lines and messages that tell a person what to change.
pub const ALLOWED_TOPICS_SETTING: &str = "CADENCE_EVENTGRID_ALLOWED_TOPICS";

/// The topics allowed to deliver events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicAllowList {
    /// Lower-cased ARM id prefixes without a trailing `/`; `None` = every topic.
    prefixes: Option<Vec<String>>,
    origin: AllowListOrigin,
}

impl TopicAllowList {
    /// Every topic.
    pub fn everything(origin: AllowListOrigin) -> Self {
        Self { prefixes: None, origin }
    }

    /// The value of `CADENCE_EVENTGRID_ALLOWED_TOPICS`; `Err` says what is wrong with which entry.
    pub fn parse(value: &str) -> Result<Self, String> {
        let entries: Vec<&str> = value.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
        if entries.is_empty() {
            return Err("it lists no topic".into());
        }
        if entries.contains(&"*") {
            if entries.len() > 1 {
                return Err("`*` (every topic) is listed together with other entries".into());
            }
            return Ok(Self::everything(AllowListOrigin::Setting));
        }
        let mut prefixes = Vec::with_capacity(entries.len());
        for entry in entries {
            prefixes.push(normalise(entry)?);
        }
        Ok(Self { prefixes: Some(prefixes), origin: AllowListOrigin::Setting })
    }

    /// The subscriptions of `CADENCE_SUBSCRIPTIONS` (every topic when there are none).
    pub fn from_subscriptions(subscriptions: &[String]) -> Self {
        if subscriptions.is_empty() {
            return Self::everything(AllowListOrigin::Unset);
        }
        let prefixes = subscriptions.iter().map(|s| format!("/subscriptions/{}", s.trim().trim_matches('/').to_ascii_lowercase())).collect();
        Self { prefixes: Some(prefixes), origin: AllowListOrigin::Subscriptions }
    }

    pub fn origin(&self) -> AllowListOrigin {
        self.origin
    }

    /// Whether every topic is allowed.
    pub fn allows_everything(&self) -> bool {
        self.prefixes.is_none()
    }

    /// Whether an event from `topic` may be processed. An event that names no topic is allowed
    /// only when every topic is.
    pub fn allows(&self, topic: Option<&str>) -> bool {
        let Some(prefixes) = &self.prefixes else { return true };
        let Some(topic) = topic else { return false };
        let topic = topic.trim().trim_end_matches('/').to_ascii_lowercase();
        prefixes.iter().any(|p| topic == *p || topic.strip_prefix(p.as_str()).is_some_and(|rest| rest.starts_with('/')))
    }
}

impl fmt::Display for TopicAllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.prefixes, self.origin) {
            (None, AllowListOrigin::Unset) => write!(f, "every topic ({ALLOWED_TOPICS_SETTING} and CADENCE_SUBSCRIPTIONS are unset)"),
            (None, _) => write!(f, "every topic ({ALLOWED_TOPICS_SETTING}=*)"),
            (Some(p), AllowListOrigin::Subscriptions) => {
                write!(f, "topics under {} (from CADENCE_SUBSCRIPTIONS; {ALLOWED_TOPICS_SETTING} is unset)", p.join(", "))
            }
            (Some(p), _) => write!(f, "topics under {} ({ALLOWED_TOPICS_SETTING})", p.join(", ")),
        }
    }
}

/// One entry → a lower-cased ARM id prefix.
fn normalise(entry: &str) -> Result<String, String> {
    if is_subscription_id(entry) {
        return Ok(format!("/subscriptions/{}", entry.to_ascii_lowercase()));
    }
    let trimmed = entry.trim_end_matches('/');
    let segments: Vec<&str> = trimmed.strip_prefix('/').map(|s| s.split('/').collect()).unwrap_or_default();
    let well_formed = segments.len() >= 2
        && segments[0].eq_ignore_ascii_case("subscriptions")
        && segments.iter().all(|s| !s.is_empty() && !s.chars().any(char::is_whitespace));
    if !well_formed {
        return Err(format!("`{entry}` is neither a subscription id nor an ARM id starting with /subscriptions/<id>"));
    }
    Ok(trimmed.to_ascii_lowercase())
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits.
fn is_subscription_id(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn a_subscription_allows_its_own_topic_and_everything_below_it_case_insensitively() {
        let list = TopicAllowList::parse(SUB).unwrap();
        let cluster = format!("/subscriptions/{}/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/c1", SUB.to_uppercase());
        assert!(list.allows(Some(&cluster)));
        assert!(list.allows(Some(&format!("/subscriptions/{SUB}"))));
        assert!(list.allows(Some(&format!("/SUBSCRIPTIONS/{SUB}/"))));
        // Whole segments only: a longer subscription id that starts the same is another one.
        assert!(!list.allows(Some(&format!("/subscriptions/{SUB}9/resourceGroups/rg"))));
        assert!(!list.allows(Some("/subscriptions/99999999-2222-3333-4444-555555555555")));
        assert!(!list.allows(None), "an event that names no topic is refused by a restrictive list");
    }

    #[test]
    fn arm_id_prefixes_narrow_to_a_resource_group_or_one_cluster() {
        let list = TopicAllowList::parse(&format!(" /subscriptions/{SUB}/resourceGroups/prod/ , /subscriptions/{SUB}/resourceGroups/x/providers/Microsoft.ContainerService/managedClusters/one")).unwrap();
        assert!(list.allows(Some(&format!("/subscriptions/{SUB}/resourcegroups/PROD/providers/Microsoft.ContainerService/managedClusters/a"))));
        assert!(list.allows(Some(&format!("/subscriptions/{SUB}/resourceGroups/x/providers/Microsoft.ContainerService/managedClusters/one"))));
        assert!(!list.allows(Some(&format!("/subscriptions/{SUB}/resourceGroups/x/providers/Microsoft.ContainerService/managedClusters/two"))));
        assert!(!list.allows(Some(&format!("/subscriptions/{SUB}"))), "a narrower entry does not allow the subscription topic");
    }

    #[test]
    fn star_allows_everything_and_bad_entries_say_which() {
        assert!(TopicAllowList::parse("*").unwrap().allows(None));
        for bad in ["", " , ", "*,/subscriptions/a", "prod", "subscriptions/a", "/subscriptions", "/subscriptions//resourceGroups/rg", "/resourceGroups/rg"] {
            let e = TopicAllowList::parse(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        assert!(TopicAllowList::parse("prod").unwrap_err().contains("`prod`"));
    }

    #[test]
    fn unset_follows_the_swept_subscriptions_or_allows_everything() {
        let list = TopicAllowList::from_subscriptions(&[SUB.to_string()]);
        assert_eq!(list.origin(), AllowListOrigin::Subscriptions);
        assert!(list.allows(Some(&format!("/subscriptions/{SUB}/resourceGroups/rg"))));
        assert!(!list.allows(Some("/subscriptions/other")));
        let all = TopicAllowList::from_subscriptions(&[]);
        assert!(all.allows_everything() && all.origin() == AllowListOrigin::Unset);
        assert!(all.to_string().contains("unset"), "{all}");
    }
}
