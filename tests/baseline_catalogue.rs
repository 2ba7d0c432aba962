//! The baseline catalogue against Microsoft's managed-cluster payloads: every check passes on a
//! hardened copy, fails on a weak copy and on targeted edits, and says "unknown" (naming the
//! property) when the payload does not carry what it reads.
//!
//! Fixtures (`tests/fixtures/baseline/`): `managedclusters_create_update.2025-10-01.json` and
//! `managedclusters_get.2026-04-01.json` are verbatim spec examples (see
//! `../shared/fixtures/real/SOURCES.md`); `managedcluster.hardened.json` and
//! `managedcluster.weak.json` are copies of the first one's response body with the baseline's
//! properties edited in, each in the shape of the spec example cited in `docs/baseline.md`.

use std::path::Path;

use aks_cadence::baseline::{
    self, CATALOGUE, ClusterContext, DefenderPlan, Outcome, PricingTier, Severity, check, check_ids,
};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/baseline").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The 200 response body of a spec example.
fn example_body(name: &str) -> Value {
    fixture(name)["responses"]["200"]["body"].clone()
}

fn hardened() -> Value {
    fixture("managedcluster.hardened.json")
}
fn weak() -> Value {
    fixture("managedcluster.weak.json")
}

fn full_context() -> ClusterContext {
    ClusterContext {
        maintenance_configurations: Some(vec!["aksManagedAutoUpgradeSchedule".into()]),
        defender_plan: Some(DefenderPlan { tier: PricingTier::Standard, sub_plan: None }),
    }
}

/// Sets (or with `None` removes) the value at a JSON pointer, creating objects on the way.
fn edit(mut v: Value, pointer: &str, value: Option<Value>) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let mut cur = &mut v;
    for seg in parent.split('/').skip(1) {
        cur = match cur {
            Value::Array(items) => &mut items[seg.parse::<usize>().unwrap()],
            other => {
                if !other.is_object() {
                    *other = json!({});
                }
                other.as_object_mut().unwrap().entry(seg).or_insert(json!({}))
            }
        };
    }
    let obj = cur.as_object_mut().unwrap_or_else(|| panic!("{pointer}: parent is not an object"));
    match value {
        Some(val) => {
            obj.insert(key.to_string(), val);
        }
        None => {
            obj.remove(key);
        }
    }
    v
}

#[derive(Debug)]
enum Want {
    Pass,
    /// Fails, and the observation contains this text.
    Fail(&'static str),
    NotApplicable,
    /// Unknown, naming this property path.
    Unknown(&'static str),
}

fn assert_outcome(id: &str, got: &Outcome, want: &Want, case: &str) {
    let ok = match (want, got) {
        (Want::Pass, Outcome::Pass) | (Want::NotApplicable, Outcome::NotApplicable { .. }) => true,
        (Want::Fail(text), Outcome::Fail { observed }) => observed.contains(text),
        (Want::Unknown(path), Outcome::Unknown { missing }) => missing.iter().any(|m| m == path),
        _ => false,
    };
    assert!(ok, "{id} on {case}: wanted {want:?}, got {got:?}");
}

#[test]
fn the_hardened_copy_passes_every_check() {
    let r = hardened();
    for e in baseline::evaluate_all(&r, &full_context()) {
        assert_eq!(e.outcome, Outcome::Pass, "{} on the hardened copy", e.check.id);
    }
}

#[test]
fn the_weak_copy_fails_every_check_it_can_see() {
    let ctx = ClusterContext {
        maintenance_configurations: Some(vec![]),
        defender_plan: Some(DefenderPlan { tier: PricingTier::Free, sub_plan: None }),
    };
    let r = weak();
    for e in baseline::evaluate_all(&r, &ctx) {
        match e.check.id {
            // The spec example has RBAC on; Azure RBAC needs Entra ID, which is off here.
            "kubernetes-rbac" => assert_eq!(e.outcome, Outcome::Pass),
            "azure-rbac" => assert!(matches!(e.outcome, Outcome::NotApplicable { .. }), "{:?}", e.outcome),
            id => assert!(e.outcome.is_fail(), "{id} on the weak copy: {:?}", e.outcome),
        }
    }
}

#[test]
fn the_unedited_spec_examples_fail_what_they_show_and_leave_the_rest_unknown() {
    // ManagedClustersCreate_Update (2025-10-01), response 200: public nodes, kubenet without a
    // network policy, load-balancer egress; no aadProfile, securityProfile, addonProfiles,
    // autoUpgradeProfile or sku in the body, so those checks are unknown, never guessed.
    let r = example_body("managedclusters_create_update.2025-10-01.json");
    let ctx = ClusterContext::default();
    let table: &[(&str, Want)] = &[
        ("api-server-access", Want::Unknown("properties.apiServerAccessProfile.enablePrivateCluster")),
        ("kubernetes-rbac", Want::Pass),
        ("entra-id", Want::Unknown("properties.aadProfile.managed")),
        ("local-accounts-disabled", Want::Unknown("properties.disableLocalAccounts")),
        ("azure-rbac", Want::Unknown("properties.aadProfile.managed")),
        ("node-os-upgrade-channel", Want::Unknown("properties.autoUpgradeProfile.nodeOSUpgradeChannel")),
        (
            "maintenance-window",
            Want::Unknown("maintenanceConfigurations (…/managedClusters/{name}/maintenanceConfigurations)"),
        ),
        ("auto-upgrade-channel", Want::Unknown("properties.autoUpgradeProfile.upgradeChannel")),
        ("defender-sensor", Want::Unknown("properties.securityProfile.defender.securityMonitoring.enabled")),
        (
            "defender-plan",
            Want::Unknown("securityresources: microsoft.security/pricings `Containers` properties.pricingTier"),
        ),
        ("encryption-at-host", Want::Fail("nodepool1")),
        ("network-policy", Want::Fail("`networkPolicy` not set")),
        ("no-node-public-ip", Want::Fail("nodepool1")),
        ("controlled-egress", Want::Fail("\"loadBalancer\"")),
        ("key-vault-secrets-provider", Want::Unknown("properties.addonProfiles.azureKeyvaultSecretsProvider.enabled")),
        ("workload-identity", Want::Unknown("properties.securityProfile.workloadIdentity.enabled")),
        ("pod-identity-off", Want::Unknown("properties.podIdentityProfile.enabled")),
        ("azure-policy", Want::Unknown("properties.addonProfiles.azurepolicy.enabled")),
        ("image-cleaner", Want::Unknown("properties.securityProfile.imageCleaner.enabled")),
        ("uptime-sla", Want::Unknown("sku.tier")),
    ];
    assert_eq!(table.iter().map(|(id, _)| *id).collect::<Vec<_>>(), check_ids(), "one row per check, in order");
    for (id, want) in table {
        assert_outcome(id, &check(id).unwrap().evaluate(&r, &ctx), want, "ManagedClustersCreate_Update");
    }

    // The same example's request carries `sku` (Free) and an empty `addonProfiles`.
    let request = fixture("managedclusters_create_update.2025-10-01.json")["parameters"]["parameters"].clone();
    assert_outcome(
        "uptime-sla",
        &check("uptime-sla").unwrap().evaluate(&request, &ctx),
        &Want::Fail("\"Free\""),
        "request",
    );
    assert_outcome(
        "azure-policy",
        &check("azure-policy").unwrap().evaluate(&request, &ctx),
        &Want::Fail("not enabled"),
        "request",
    );

    // ManagedClustersGet (2026-04-01): no public node IP flag on its pool → not public.
    let get = example_body("managedclusters_get.2026-04-01.json");
    assert_outcome(
        "no-node-public-ip",
        &check("no-node-public-ip").unwrap().evaluate(&get, &ctx),
        &Want::Pass,
        "ManagedClustersGet",
    );
}

/// Per check: edits that turn the hardened copy into a failure (or unknown), and the weak copy
/// into a pass.
#[test]
fn each_check_flips_on_the_properties_it_reads() {
    type Edit = (&'static str, Option<Value>);
    let rows: Vec<(&str, bool, Vec<Edit>, Want)> = vec![
        // api-server-access
        (
            "api-server-access",
            true,
            vec![("/properties/apiServerAccessProfile/enablePrivateCluster", Some(json!(false)))],
            Want::Fail("public endpoint"),
        ),
        (
            "api-server-access",
            true,
            vec![(
                "/properties/apiServerAccessProfile",
                Some(json!({"enablePrivateCluster": false, "authorizedIPRanges": ["203.0.113.0/24"]})),
            )],
            Want::Pass,
        ),
        (
            "api-server-access",
            true,
            vec![(
                "/properties/apiServerAccessProfile",
                Some(json!({"enablePrivateCluster": false, "authorizedIPRanges": []})),
            )],
            Want::Fail("no authorized IP ranges"),
        ),
        (
            "api-server-access",
            true,
            vec![("/properties/apiServerAccessProfile", None)],
            Want::Unknown("properties.apiServerAccessProfile.authorizedIPRanges"),
        ),
        (
            "api-server-access",
            false,
            vec![("/properties/apiServerAccessProfile", Some(json!({"authorizedIPRanges": ["198.51.100.7/32"]})))],
            Want::Pass,
        ),
        // kubernetes-rbac
        ("kubernetes-rbac", true, vec![("/properties/enableRBAC", Some(json!(false)))], Want::Fail("RBAC is off")),
        ("kubernetes-rbac", true, vec![("/properties/enableRBAC", None)], Want::Unknown("properties.enableRBAC")),
        // entra-id
        (
            "entra-id",
            true,
            vec![("/properties/aadProfile/managed", Some(json!(false)))],
            Want::Fail("Entra ID integration is off"),
        ),
        ("entra-id", false, vec![("/properties/aadProfile", Some(json!({"managed": true})))], Want::Pass),
        // local-accounts-disabled
        (
            "local-accounts-disabled",
            true,
            vec![("/properties/disableLocalAccounts", Some(json!(false)))],
            Want::Fail("local accounts"),
        ),
        (
            "local-accounts-disabled",
            true,
            vec![("/properties/disableLocalAccounts", Some(Value::Null))],
            Want::Fail("is not set"),
        ),
        (
            "local-accounts-disabled",
            true,
            vec![("/properties/disableLocalAccounts", None)],
            Want::Unknown("properties.disableLocalAccounts"),
        ),
        ("local-accounts-disabled", false, vec![("/properties/disableLocalAccounts", Some(json!(true)))], Want::Pass),
        // azure-rbac
        (
            "azure-rbac",
            true,
            vec![("/properties/aadProfile/enableAzureRBAC", Some(json!(false)))],
            Want::Fail("Azure RBAC"),
        ),
        ("azure-rbac", true, vec![("/properties/aadProfile/enableAzureRBAC", None)], Want::Fail("not set")),
        ("azure-rbac", true, vec![("/properties/aadProfile/managed", Some(json!(false)))], Want::NotApplicable),
        (
            "azure-rbac",
            false,
            vec![("/properties/aadProfile", Some(json!({"managed": true, "enableAzureRBAC": true})))],
            Want::Pass,
        ),
        // node-os-upgrade-channel
        (
            "node-os-upgrade-channel",
            true,
            vec![("/properties/autoUpgradeProfile/nodeOSUpgradeChannel", Some(json!("Unmanaged")))],
            Want::Fail("\"Unmanaged\""),
        ),
        (
            "node-os-upgrade-channel",
            false,
            vec![("/properties/autoUpgradeProfile/nodeOSUpgradeChannel", Some(json!("SecurityPatch")))],
            Want::Pass,
        ),
        (
            "auto-upgrade-channel",
            false,
            vec![("/properties/autoUpgradeProfile/upgradeChannel", Some(json!("node-image")))],
            Want::Fail("never Kubernetes"),
        ),
        // Not set: the spec's default, NodeImage.
        (
            "node-os-upgrade-channel",
            true,
            vec![("/properties/autoUpgradeProfile/nodeOSUpgradeChannel", None)],
            Want::Pass,
        ),
        // auto-upgrade-channel
        (
            "auto-upgrade-channel",
            true,
            vec![("/properties/autoUpgradeProfile/upgradeChannel", Some(json!("none")))],
            Want::Fail("\"none\""),
        ),
        (
            "auto-upgrade-channel",
            true,
            vec![("/properties/autoUpgradeProfile/upgradeChannel", None)],
            Want::Fail("not set"),
        ),
        (
            "auto-upgrade-channel",
            false,
            vec![("/properties/autoUpgradeProfile/upgradeChannel", Some(json!("stable")))],
            Want::Pass,
        ),
        // defender-sensor
        (
            "defender-sensor",
            true,
            vec![("/properties/securityProfile/defender/securityMonitoring/enabled", Some(json!(false)))],
            Want::Fail("sensor"),
        ),
        (
            "defender-sensor",
            true,
            vec![("/properties/securityProfile", None)],
            Want::Unknown("properties.securityProfile.defender.securityMonitoring.enabled"),
        ),
        (
            "defender-sensor",
            false,
            vec![("/properties/securityProfile/defender", Some(json!({"securityMonitoring": {"enabled": true}})))],
            Want::Pass,
        ),
        // encryption-at-host
        (
            "encryption-at-host",
            true,
            vec![("/properties/agentPoolProfiles/0/enableEncryptionAtHost", Some(json!(false)))],
            Want::Fail("nodepool1"),
        ),
        (
            "encryption-at-host",
            true,
            vec![("/properties/agentPoolProfiles", None)],
            Want::Unknown("properties.agentPoolProfiles"),
        ),
        (
            "encryption-at-host",
            false,
            vec![("/properties/agentPoolProfiles/0/enableEncryptionAtHost", Some(json!(true)))],
            Want::Pass,
        ),
        // network-policy
        (
            "network-policy",
            true,
            vec![("/properties/networkProfile/networkPolicy", Some(json!("none")))],
            Want::Fail("\"none\""),
        ),
        (
            "network-policy",
            false,
            vec![("/properties/networkProfile/networkPolicy", Some(json!("cilium")))],
            Want::Pass,
        ),
        (
            "network-policy",
            false,
            vec![("/properties/networkProfile/networkPolicy", Some(json!("calico")))],
            Want::Pass,
        ),
        (
            "network-policy",
            true,
            vec![("/properties/networkProfile", None)],
            Want::Unknown("properties.networkProfile.networkPolicy"),
        ),
        // no-node-public-ip
        (
            "no-node-public-ip",
            true,
            vec![("/properties/agentPoolProfiles/0/enableNodePublicIP", Some(json!(true)))],
            Want::Fail("nodepool1"),
        ),
        ("no-node-public-ip", false, vec![("/properties/agentPoolProfiles/0/enableNodePublicIP", None)], Want::Pass),
        // controlled-egress
        (
            "controlled-egress",
            true,
            vec![("/properties/networkProfile/outboundType", Some(json!("managedNATGateway")))],
            Want::Fail("\"managedNATGateway\""),
        ),
        (
            "controlled-egress",
            false,
            vec![("/properties/networkProfile/outboundType", Some(json!("userDefinedRouting")))],
            Want::Pass,
        ),
        // key-vault-secrets-provider
        (
            "key-vault-secrets-provider",
            true,
            vec![(
                "/properties/addonProfiles/azureKeyvaultSecretsProvider/config/enableSecretRotation",
                Some(json!("false")),
            )],
            Want::Fail("without secret rotation"),
        ),
        (
            "key-vault-secrets-provider",
            true,
            vec![("/properties/addonProfiles/azureKeyvaultSecretsProvider/enabled", Some(json!(false)))],
            Want::Fail("not enabled"),
        ),
        (
            "key-vault-secrets-provider",
            false,
            vec![(
                "/properties/addonProfiles/azureKeyvaultSecretsProvider",
                Some(json!({"enabled": true, "config": {"enableSecretRotation": "true"}})),
            )],
            Want::Pass,
        ),
        // workload-identity
        (
            "workload-identity",
            true,
            vec![("/properties/oidcIssuerProfile/enabled", Some(json!(false)))],
            Want::Fail("OIDC issuer is off"),
        ),
        (
            "workload-identity",
            true,
            vec![("/properties/securityProfile/workloadIdentity/enabled", Some(json!(false)))],
            Want::Fail("workload identity is off"),
        ),
        (
            "workload-identity",
            true,
            vec![("/properties/oidcIssuerProfile", None)],
            Want::Unknown("properties.oidcIssuerProfile.enabled"),
        ),
        (
            "workload-identity",
            false,
            vec![
                ("/properties/securityProfile/workloadIdentity", Some(json!({"enabled": true}))),
                ("/properties/oidcIssuerProfile/enabled", Some(json!(true))),
            ],
            Want::Pass,
        ),
        // pod-identity-off
        (
            "pod-identity-off",
            true,
            vec![("/properties/podIdentityProfile", Some(json!({"allowNetworkPluginKubenet": true, "enabled": true})))],
            Want::Fail("pod identity"),
        ),
        ("pod-identity-off", false, vec![("/properties/podIdentityProfile", Some(Value::Null))], Want::Pass),
        ("pod-identity-off", false, vec![("/properties/podIdentityProfile/enabled", Some(json!(false)))], Want::Pass),
        // azure-policy: Resource Graph spells add-on names in lower case; the check matches either.
        (
            "azure-policy",
            true,
            vec![("/properties/addonProfiles/azurepolicy/enabled", Some(json!(false)))],
            Want::Fail("not enabled"),
        ),
        (
            "azure-policy",
            false,
            vec![("/properties/addonProfiles/AzurePolicy", Some(json!({"enabled": true})))],
            Want::Pass,
        ),
        // image-cleaner
        (
            "image-cleaner",
            true,
            vec![("/properties/securityProfile/imageCleaner/enabled", Some(json!(false)))],
            Want::Fail("Image Cleaner is off"),
        ),
        (
            "image-cleaner",
            false,
            vec![("/properties/securityProfile/imageCleaner/enabled", Some(json!(true)))],
            Want::Pass,
        ),
        // uptime-sla
        ("uptime-sla", true, vec![("/sku/tier", Some(json!("Free")))], Want::Fail("\"Free\"")),
        ("uptime-sla", true, vec![("/sku", None)], Want::Unknown("sku.tier")),
        ("uptime-sla", false, vec![("/sku/tier", Some(json!("Premium")))], Want::Pass),
    ];
    let mut covered: Vec<&str> = Vec::new();
    for (i, (id, from_hardened, edits, want)) in rows.iter().enumerate() {
        let mut r = if *from_hardened { hardened() } else { weak() };
        for (pointer, value) in edits {
            r = edit(r, pointer, value.clone());
        }
        let c = check(id).unwrap_or_else(|| panic!("no check {id}"));
        assert_outcome(id, &c.evaluate(&r, &full_context()), want, &format!("row {i}"));
        covered.push(id);
    }
    for id in check_ids() {
        if !["maintenance-window", "defender-plan"].contains(&id) {
            assert!(covered.contains(&id), "no rows for {id}");
        }
    }
}

#[test]
fn context_checks_read_the_facts_they_are_given_and_say_when_none_were_read() {
    let r = hardened();
    let window = check("maintenance-window").unwrap();
    let plan = check("defender-plan").unwrap();
    let none = ClusterContext::default();
    assert!(matches!(window.evaluate(&r, &none), Outcome::Unknown { .. }));
    assert!(matches!(plan.evaluate(&r, &none), Outcome::Unknown { .. }));
    let ctx = |configs: Vec<&str>, tier| ClusterContext {
        maintenance_configurations: Some(configs.into_iter().map(String::from).collect()),
        defender_plan: Some(DefenderPlan { tier, sub_plan: None }),
    };
    let c = ctx(vec![], PricingTier::Free);
    assert_outcome("maintenance-window", &window.evaluate(&r, &c), &Want::Fail("no planned-maintenance"), "none");
    assert_outcome("defender-plan", &plan.evaluate(&r, &c), &Want::Fail("Free"), "free");
    let c = ctx(vec!["default"], PricingTier::NotFound);
    assert_outcome("maintenance-window", &window.evaluate(&r, &c), &Want::Pass, "default");
    assert_outcome("defender-plan", &plan.evaluate(&r, &c), &Want::Fail("not listed"), "not found");
    let c = ctx(vec![], PricingTier::Other("Premium".into()));
    assert_outcome("defender-plan", &plan.evaluate(&r, &c), &Want::Fail("\"Premium\""), "other");
}

/// The section headings of the guide (`aks-security-best-practices.ja.md`, which lives outside
/// this repository in the project's shared seed folder), in its order.
const GUIDE_HEADINGS: &[&str] = &[
    "AKS セキュリティのベストプラクティス",
    "目的",
    "アジェンダ",
    "クラスターレベルの考慮点",
    "一般的な参照ドキュメント",
    "Kubernetes API コントロールプレーン",
    "Azure AD 統合",
    "ノードセキュリティ",
    "インスタンスメタデータAPIへのアクセス制限",
    "Kubernetes のバージョンアップグレード",
    "定期的に、証明書をローテートする",
    "コンピュートノードの分離（必須ではない）",
    "コンテナーレジストリーとクラスターの統合",
    "SSHの有効化（必須ではない）",
    "モニタリングとアラートの有効化",
    "Azure Defender for Container の有効化",
    "ノードプールをまたいだアプリの分離（必須ではない）",
    "暗号化",
    "ネットワークの考慮点",
    "ネットワークセキュリティ",
    "プライベートリンク",
    "ネットワークポリシー",
    "Kubernetes のサービスを公開する",
    "エグレストラフィックのセキュリティ",
    "開発者/マニフェスト/設定の注意点",
    "シークレットの外部化",
    "ワークロードアイデンティティ",
    "ネームスペースを使う",
    "ガバナンスの懸念点と Azure ポリシー",
    "イメージ管理の懸念点",
    "イメージスキャン",
    "コンテナーレジストリーアクセス",
];

#[test]
fn every_check_cites_a_guide_section_that_exists() {
    for c in CATALOGUE {
        if c.id == "uptime-sla" {
            assert!(c.guide.contains("not in the guide"), "{}", c.guide);
            continue;
        }
        assert!(GUIDE_HEADINGS.contains(&c.guide), "{}: no heading `{}` in the guide", c.id, c.guide);
    }
    assert!(CATALOGUE.iter().any(|c| c.severity == Severity::High));
}

#[test]
fn docs_baseline_md_lists_every_check_with_its_guide_section_severity_and_link() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/baseline.md")).unwrap();
    for c in CATALOGUE {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` | ", c.id)) && l.contains(c.severity.as_str()))
            .unwrap_or_else(|| panic!("docs/baseline.md has no checks-table row for {}", c.id));
        if c.id != "uptime-sla" {
            assert!(row.contains(c.guide), "{}: the row should cite `{}`", c.id, c.guide);
        }
        for path in c.paths.iter().filter(|p| p.starts_with("properties.")) {
            let leaf = path.rsplit('.').next().unwrap();
            assert!(row.contains(leaf), "{}: the row should name {path}", c.id);
        }
        assert!(doc.contains(&format!("| {} |", c.doc)), "{}: the fixes table should link {}", c.id, c.doc);
    }
}
