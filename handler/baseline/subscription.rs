//! Subscription-level facts, read once per sweep through Azure Resource Graph (not per
//! cluster): the Defender for Containers plan.
//!
//! The plan is the `Microsoft.Security/pricings/Containers` resource of each subscription;
//! Resource Graph holds it in the `securityresources` table with type
//! `microsoft.security/pricings`, name `Containers` and `properties.pricingTier` `Free` or
//! `Standard` (`properties.subPlan` optional). This module only builds the query and reads
//! the rows; the sweep sends it with the same client as the inventory query.

use std::collections::BTreeMap;

use serde_json::Value;

/// `properties.pricingTier` of a Defender plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PricingTier {
    /// The plan is on.
    Standard,
    /// The plan is off.
    Free,
    /// Resource Graph returned no `Containers` pricing for the subscription (the plan was
    /// never configured there, which means off).
    NotFound,
    /// A value this version does not know; reported verbatim, never counted as on.
    Other(String),
}

/// The Defender for Containers plan of one subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefenderPlan {
    pub tier: PricingTier,
    pub sub_plan: Option<String>,
}

/// Facts about the subscriptions in a sweep, keyed by lowercased subscription id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFacts {
    pub defender: BTreeMap<String, DefenderPlan>,
}

impl SubscriptionFacts {
    /// The plan for `subscription`, if the query covered it.
    pub fn defender_plan(&self, subscription: &str) -> Option<&DefenderPlan> {
        self.defender.get(&subscription.to_ascii_lowercase())
    }
}

/// The Resource Graph query for the Defender for Containers plan of every subscription in
/// scope (the subscriptions themselves go in the request's `subscriptions` field).
pub fn defender_query() -> String {
    [
        "securityresources",
        "| where type =~ 'microsoft.security/pricings' and name =~ 'Containers'",
        "| project subscriptionId, name, pricingTier = tostring(properties.pricingTier), subPlan = tostring(properties.subPlan)",
    ]
    .join("\n")
}

/// A row that does not have the shape [`defender_query`] projects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Resource Graph row {index} for the Defender plan has no {field}: {row}")]
pub struct RowError {
    pub index: usize,
    pub field: &'static str,
    pub row: String,
}

/// Reads the rows of [`defender_query`] (objects, Resource Graph's default
/// `objectArray` result format). Every subscription in `scope` without a row gets
/// [`PricingTier::NotFound`]; rows for other subscriptions are kept too.
pub fn defender_plans(rows: &[Value], scope: &[String]) -> Result<SubscriptionFacts, RowError> {
    let mut facts = SubscriptionFacts::default();
    for (index, row) in rows.iter().enumerate() {
        let field = |name: &'static str| row.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
        let err = |field: &'static str| RowError { index, field, row: row.to_string() };
        let sub = field("subscriptionId").ok_or_else(|| err("subscriptionId"))?;
        let tier = match field("pricingTier") {
            None => return Err(err("pricingTier")),
            Some(t) if t.eq_ignore_ascii_case("standard") => PricingTier::Standard,
            Some(t) if t.eq_ignore_ascii_case("free") => PricingTier::Free,
            Some(t) => PricingTier::Other(t.to_string()),
        };
        let sub_plan = field("subPlan").map(str::to_string);
        facts.defender.insert(sub.to_ascii_lowercase(), DefenderPlan { tier, sub_plan });
    }
    for sub in scope {
        facts
            .defender
            .entry(sub.to_ascii_lowercase())
            .or_insert(DefenderPlan { tier: PricingTier::NotFound, sub_plan: None });
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_query_reads_the_containers_pricing_from_securityresources() {
        let q = defender_query();
        assert!(q.starts_with("securityresources\n"), "{q}");
        assert!(q.contains("type =~ 'microsoft.security/pricings'") && q.contains("name =~ 'Containers'"), "{q}");
        assert!(q.contains("properties.pricingTier"), "{q}");
    }

    #[test]
    fn rows_become_plans_and_unlisted_subscriptions_are_not_found() {
        let rows = [
            json!({"subscriptionId": "AAA", "name": "Containers", "pricingTier": "Standard", "subPlan": ""}),
            json!({"subscriptionId": "bbb", "name": "Containers", "pricingTier": "Free"}),
            json!({"subscriptionId": "ccc", "name": "Containers", "pricingTier": "Premium"}),
        ];
        let scope = ["aaa".to_string(), "BBB".to_string(), "ddd".to_string()];
        let f = defender_plans(&rows, &scope).unwrap();
        assert_eq!(f.defender_plan("aaa").unwrap().tier, PricingTier::Standard);
        assert_eq!(f.defender_plan("aaa").unwrap().sub_plan, None);
        assert_eq!(f.defender_plan("bbb").unwrap().tier, PricingTier::Free);
        assert_eq!(f.defender_plan("ccc").unwrap().tier, PricingTier::Other("Premium".into()));
        assert_eq!(f.defender_plan("DDD").unwrap().tier, PricingTier::NotFound);
        assert!(f.defender_plan("eee").is_none());
    }

    #[test]
    fn a_row_without_a_tier_is_an_error_that_names_the_field() {
        let e = defender_plans(&[json!({"subscriptionId": "a"})], &[]).unwrap_err();
        assert_eq!(e.field, "pricingTier");
        assert!(e.to_string().contains("row 0"), "{e}");
    }
}
