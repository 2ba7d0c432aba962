//! What a valid policy does, in a few lines for a person: `handler config check` prints it so the
//! author sees the policy as the planner reads it (which clusters each rule selects, which
//! signals, which channels, what it may change and when), not just "no errors".

use super::windows::MaintenanceWindow;
use super::{Cadence, Glob, Overrides, Policy, Rule, WhenTagsUnknown};
use crate::action::ChatKind;

impl Policy {
    /// One line per fact, in file order: rule count, defaults, each rule (selectors and signals,
    /// then its channels, settings and window, indented), and the settings a live run needs
    /// (one per line).
    pub fn summary(&self) -> Vec<String> {
        let mut out = vec![format!(
            "{} rule(s); a signal no rule applies to is only logged",
            self.rules.len()
        )];
        out.push(format!("defaults: {}", cadence(&self.defaults)));
        out.push(format!("defaults window: {}", self.default_window.as_ref().map_or_else(|| "none (clusters' own planned maintenance only)".into(), window)));
        for rule in &self.rules {
            out.extend(rule_lines(rule));
        }
        if !self.rings.is_empty() {
            let names: Vec<&str> = self.rings.iter().map(|r| r.name.as_str()).collect();
            out.push(format!("{} ring(s), in order: {} (a cluster in no ring is not ring-gated)", self.rings.len(), names.join(" → ")));
            for (i, ring) in self.rings.iter().enumerate() {
                out.push(ring_line(i, ring, self.rings.get(i + 1).map(|r| r.name.as_str())));
            }
            out.push(format!(
                "a failed upgrade stops its target for later rings until a newer target appears or a user with write access releases it \
                 (label `{}` or a /release comment on the issue of a cluster it holds)",
                self.defaults.release_label
            ));
        }
        out.push("a live run (CADENCE_DRY_RUN=false) needs:".into());
        out.extend(self.needed_settings().into_iter().map(|s| format!("  {s}")));
        out
    }

    /// The settings (by name) a run with `CADENCE_DRY_RUN=false` needs for this policy's
    /// channels, with the rules that need them. "none" when only logs are planned.
    fn needed_settings(&self) -> Vec<String> {
        let rules_with = |f: fn(&Rule) -> bool| self.rules.iter().filter(|r| f(r)).map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ");
        let mut needed = Vec::new();
        let github = rules_with(|r| r.github_issue.is_some() || r.github_pr.is_some());
        if !github.is_empty() {
            needed.push(format!("GITHUB_TOKEN or GITHUB_APP_* (rules {github})"));
        }
        let email = rules_with(Rule::sends_email);
        if !email.is_empty() {
            needed.push(format!("SMTP_URL and SMTP_FROM (rules {email})"));
        }
        needed.extend(self.referenced_settings().into_iter().map(String::from));
        if self.rules.iter().any(|r| r.settings.changes_clusters()) || self.defaults_change_clusters() {
            needed.push("AZURE_CREDENTIAL with the aks-cadence role (auto upgrades)".into());
        }
        if needed.is_empty() {
            needed.push("none (only log lines are planned)".into());
        }
        needed
    }

    fn defaults_change_clusters(&self) -> bool {
        let d = &self.defaults;
        [d.node_image, d.patch, d.minor, d.certificate_rotation].contains(&super::UpgradeMode::Auto)
    }
}

impl Overrides {
    fn changes_clusters(&self) -> bool {
        [self.node_image, self.patch, self.minor, self.certificate_rotation].contains(&Some(super::UpgradeMode::Auto))
    }
}

fn cadence(c: &Cadence) -> String {
    let warn: Vec<String> = c.certificate_warn_days.iter().map(u32::to_string).collect();
    format!(
        "patch within {} days, minor within {} days, node image within {} days, reminder {} days before; \
         certificates warned {} days before expiry; preview versions {}; upgrades: node_image {}, patch {}, minor {}, certificate_rotation {}",
        c.patch_within_days,
        c.minor_within_days,
        c.node_image_within_days,
        c.reminder_days_before,
        warn.join("/"),
        if c.include_preview { "included" } else { "never" },
        c.node_image.as_str(),
        c.patch.as_str(),
        c.minor.as_str(),
        c.certificate_rotation.as_str(),
    ) + &aks_channels(c)
}

/// The AKS channel settings, when they differ from the defaults (respect channels, no grace):
/// `; AKS channels ignored; …`.
fn aks_channels(c: &Cadence) -> String {
    let mut parts = Vec::new();
    if !c.respect_aks_channels {
        parts.push("AKS channels ignored (aks-cadence plans as if none were set)".to_string());
    }
    if c.aks_channel_grace_days > 0 {
        parts.push(format!("auto-upgrade watched {} days past the deadline", c.aks_channel_grace_days));
    }
    if c.aks_channel_grace_windows > 0 {
        parts.push(format!("auto-upgrade watched for {} of the channel's own windows at most", c.aks_channel_grace_windows));
    }
    if let Some(ch) = c.require_upgrade_channel {
        parts.push(format!("requires upgradeChannel {} (clusters without it get an aks-channel finding)", ch.as_str()));
    }
    if let Some(ch) = c.require_node_os_channel {
        parts.push(format!("requires nodeOSUpgradeChannel {} (clusters without it get an aks-channel finding)", ch.as_str()));
    }
    if c.approval == super::ApprovalVia::Github {
        parts.push(approval_line(&c.approval_label, &c.hold_label));
    }
    parts.iter().map(|p| format!("; {p}")).collect()
}

/// What `approval = "github"` means, in one phrase.
fn approval_line(label: &str, hold: &str) -> String {
    format!(
        "auto changes wait for approval on the concern's GitHub issue (label `{label}` or an /approve comment by a user with write access; `{hold}` or /hold stops them)"
    )
}

/// A window is validated when the policy loads: only a usable one reaches here.
fn window(w: &MaintenanceWindow) -> String {
    w.describe()
}

fn globs(label: &str, globs: &[Glob]) -> Option<String> {
    (!globs.is_empty()).then(|| format!("{label} {}", globs.iter().map(Glob::as_str).collect::<Vec<_>>().join(", ")))
}

/// `ring 1 dev (line 12): resource groups rg-dev-*; soak 3 days before prod`.
fn ring_line(index: usize, ring: &super::rings::Ring, next: Option<&str>) -> String {
    let soak = match next {
        Some(next) => format!("soak {} day(s) before {next} may take a target", ring.soak_days),
        None => format!("soak {} day(s) (last ring: nothing waits for it)", ring.soak_days),
    };
    format!("ring {} {} (line {}): {}; {soak}", index + 1, ring.name, ring.line, selects(&ring.selector).join("; "))
}

/// What a selector selects, one part per given selector (`every cluster` when none is).
fn selects(s: &super::Selector) -> Vec<String> {
    let mut selects: Vec<String> = [globs("subscriptions", &s.subscriptions), globs("resource groups", &s.resource_groups), globs("clusters", &s.clusters)]
        .into_iter()
        .flatten()
        .collect();
    if !s.tags.is_empty() {
        let tags: Vec<String> = s.tags.iter().map(|(k, v)| format!("{k}={}", v.as_str())).collect();
        let unknown = match s.when_tags_unknown {
            WhenTagsUnknown::Skip => "skipped until a sweep knows the tags",
            WhenTagsUnknown::Match => "applies while tags are unknown",
        };
        selects.push(format!("tags {} ({unknown})", tags.join(", ")));
    }
    if selects.is_empty() {
        selects.push("every cluster".into());
    }
    selects
}

fn rule_lines(rule: &Rule) -> Vec<String> {
    let selects = selects(&rule.selector);
    let signals = match rule.signals() {
        None => "every signal".to_string(),
        Some(names) => format!("signals {}", names.join(", ")),
    };
    let mut lines = vec![format!("rule {} (line {}): {}; {signals}", rule.name, rule.line, selects.join("; "))];

    let mut channels = Vec::new();
    if let Some(i) = &rule.github_issue {
        channels.push(format!("GitHub issue in {}", i.repo));
    }
    if let Some(pr) = &rule.github_pr {
        channels.push(format!("GitHub pull request on {}:{}", pr.repo, pr.path));
    }
    if let Some(to) = &rule.email {
        channels.push(format!("email to {}", to.join(", ")));
    }
    channels.extend(rule.chat.iter().map(chat));
    let tells = match (channels.is_empty(), rule.routes.is_empty()) {
        (false, _) => channels.join(", "),
        (true, true) => "no channel (settings only)".into(),
        (true, false) => "no channel at every stage (only the stage routes below)".into(),
    };
    lines.push(format!("  tells: {tells}"));
    for (stage, route) in &rule.routes {
        let mut also = Vec::new();
        if let (false, Some(issue)) = (route.assignees.is_empty(), &rule.github_issue) {
            let who: Vec<String> = route.assignees.iter().map(|a| format!("@{a}")).collect();
            also.push(format!("assign {} on the issue in {}", who.join(", "), issue.repo));
        }
        if let (false, Some(issue)) = (route.labels.is_empty(), &rule.github_issue) {
            also.push(format!("label {} on the issue in {}", route.labels.join(", "), issue.repo));
        }
        if !route.email.is_empty() {
            also.push(format!("email to {}", route.email.join(", ")));
        }
        also.extend(route.chat.iter().map(chat));
        lines.push(format!("  at {} also: {}", stage.as_str(), also.join("; ")));
    }
    let settings = overrides(&rule.settings);
    if !settings.is_empty() {
        lines.push(format!("  sets: {}", settings.join(", ")));
    }
    if let Some(w) = &rule.window {
        lines.push(format!("  window: {}", window(w)));
    }
    lines
}

fn chat(c: &super::ChatTarget) -> String {
    let kind = match c.kind {
        ChatKind::Teams => "Teams",
        ChatKind::Slack => "Slack",
        ChatKind::Webhook => "webhook",
    };
    format!("{kind} via {}", c.url_setting)
}

/// The settings a rule writes, as `name = value`.
fn overrides(o: &Overrides) -> Vec<String> {
    let mut out = Vec::new();
    let mut num = |name: &str, v: Option<u32>| {
        if let Some(v) = v {
            out.push(format!("{name} = {v}"));
        }
    };
    num("patch_within_days", o.patch_within_days);
    num("minor_within_days", o.minor_within_days);
    num("node_image_within_days", o.node_image_within_days);
    num("reminder_days_before", o.reminder_days_before);
    num("auto_after_days", o.auto_after_days);
    num("min_window_minutes.node_image", o.min_window_node_image);
    num("min_window_minutes.patch", o.min_window_patch);
    num("min_window_minutes.minor", o.min_window_minor);
    num("min_window_minutes.certificate_rotation", o.min_window_certificate_rotation);
    if let Some(days) = &o.certificate_warn_days {
        out.push(format!("certificate_warn_days = [{}]", days.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")));
    }
    if let Some(p) = o.include_preview {
        out.push(format!("include_preview = {p}"));
    }
    if let Some(ch) = o.require_upgrade_channel {
        out.push(format!("require_upgrade_channel = {}", ch.as_str()));
    }
    if let Some(ch) = o.require_node_os_channel {
        out.push(format!("require_node_os_channel = {}", ch.as_str()));
    }
    for (name, mode) in [("node_image", o.node_image), ("patch", o.patch), ("minor", o.minor), ("certificate_rotation", o.certificate_rotation)] {
        if let Some(m) = mode {
            out.push(format!("upgrade.{name} = {}", m.as_str()));
        }
    }
    if let Some(a) = o.approval {
        out.push(format!("upgrade.approval = {}", a.as_str()));
        if a == super::ApprovalVia::Github {
            let label = o.approval_label.as_deref().unwrap_or(super::DEFAULT_APPROVAL_LABEL);
            let hold = o.hold_label.as_deref().unwrap_or(super::DEFAULT_HOLD_LABEL);
            out.push(approval_line(label, hold));
        }
    }
    for (name, label) in [("approval_label", &o.approval_label), ("hold_label", &o.hold_label), ("release_label", &o.release_label)] {
        if let Some(l) = label {
            out.push(format!("upgrade.{name} = {l}"));
        }
    }
    out
}
