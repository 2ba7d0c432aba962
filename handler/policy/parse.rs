//! Reading and validating the policy file.
//!
//! The TOML is parsed into `toml`'s spanned document tree and walked by hand rather than
//! deserialised with serde: that way every problem is found in one pass (not just the first),
//! each carries the line it is on, the dotted field path (`rule[2].email.to`) and a fix, and an
//! unknown key can be answered with "did you mean".

use std::collections::BTreeMap;
use std::ops::Range;

use jiff::civil::Date;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{
    ApprovalVia, BASELINE_WITHIN_DAYS, BaselineException, BaselinePolicy, ChatTarget, GithubIssueTarget, GithubPrTarget, Glob, Overrides, Policy,
    PolicyError, ROUTED_STAGES, Rule, SIGNAL_NAMES, Selector, StageRoute, UpgradeMode, WhenTagsUnknown, signal_bit,
};
use super::channels::{NodeOsChannel, UpgradeChannel};
use super::windows::MaintenanceWindow;
use crate::action::{ChatKind, VersionLocator};
use crate::baseline::Severity;

type Val<'i> = Spanned<DeValue<'i>>;

const SETTINGS_KEYS: [&str; 12] = [
    "patch_within_days",
    "minor_within_days",
    "node_image_within_days",
    "reminder_days_before",
    "certificate_warn_days",
    "include_preview",
    "upgrade",
    "respect_aks_channels",
    "aks_channel_grace_days",
    "aks_channel_grace_windows",
    "require_upgrade_channel",
    "require_node_os_channel",
];
const UPGRADE_KEYS: [&str; 11] = [
    "node_image",
    "patch",
    "minor",
    "certificate_rotation",
    "auto_after_days",
    "min_window_minutes",
    "window",
    "approval",
    "approval_label",
    "hold_label",
    "release_label",
];
const MIN_WINDOW_KEYS: [&str; 4] = ["node_image", "patch", "minor", "certificate_rotation"];
const RULE_KEYS: [&str; 14] = [
    "name",
    "subscriptions",
    "resource_groups",
    "clusters",
    "tags",
    "when_tags_unknown",
    "signals",
    "github_issue",
    "github_pr",
    "email",
    "chat",
    "notice",
    "reminder",
    "overdue",
];
/// What a stage route (`[rule.overdue]`) may say.
const ROUTE_KEYS: [&str; 4] = ["assignees", "labels", "email", "chat"];
/// GitHub adds at most this many assignees per request, and an issue holds at most 10.
const MAX_ASSIGNEES: usize = 10;
const MAX_DAYS: i64 = 3650;
const TOP_LEVEL: [&str; 5] = ["defaults", "rule", "ring", "baseline", "readiness"];
const RING_KEYS: [&str; 7] = ["name", "subscriptions", "resource_groups", "clusters", "tags", "when_tags_unknown", "soak_days"];

pub(super) fn parse(text: &str, path: &str) -> Result<Policy, Vec<PolicyError>> {
    let mut c = Checker::new(text, path);
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            // A misspelt table name (`[[rules]]`) often makes a later, correct section clash
            // with it ("duplicate key" far from the typo): name the typo too, at its line.
            let misspelt = c.unknown_table_headers(text);
            let span = e.span().unwrap_or(0..0);
            let problem = e.message().trim().replace('\n', " ");
            c.err(
                span,
                "(syntax)",
                format!("the file is not valid TOML: {problem}"),
                if misspelt {
                    "rename the unknown table reported here (this error may follow from it), else correct the TOML syntax on that line"
                } else {
                    "correct the TOML syntax on that line"
                },
            );
            c.errors.sort_by_key(|e| e.line);
            return Err(c.errors);
        }
    };
    let root = doc.get_ref();
    if root.is_empty() {
        // Nothing but whitespace and comments: almost certainly a file not written yet (or
        // truncated). Running on it would silently be the built-in policy under another name.
        c.err(
            0..0,
            "(file)",
            "the file has no [defaults] and no [[rule]]: it sets nothing",
            "add [[rule]] sections (start from cadence.example.toml), or delete the file to use the built-in notify-only policy",
        );
        return Err(c.errors);
    }
    c.top_level_keys(root);

    let mut policy = Policy::builtin();
    policy.source = Some(path.to_string());

    if let Some(v) = get(root, "defaults")
        && let Some(t) = c.table(v, "defaults")
    {
        c.keys(t, "defaults", &SETTINGS_KEYS, &[]);
        let (o, window) = c.settings(t, "defaults");
        policy.defaults = o.resolve(&policy.defaults);
        policy.default_window = window;
    }

    if let Some(v) = get(root, "rule") {
        match v.get_ref() {
            DeValue::Array(items) => {
                let mut names: Vec<(String, usize)> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let field = format!("rule[{i}]");
                    if let Some(rule) = c.rule(item, &field) {
                        if let Some((_, line)) = names.iter().find(|(n, _)| n.eq_ignore_ascii_case(&rule.name)) {
                            c.err(
                                item.span(),
                                format!("{field}.name"),
                                format!("the name `{}` is already used by the rule on line {line}", rule.name),
                                "give every rule its own name",
                            );
                        }
                        names.push((rule.name.clone(), rule.line));
                        policy.rules.push(rule);
                    }
                }
            }
            other => c.err(
                v.span(),
                "rule",
                format!("expected rules written as [[rule]] tables, found {}", kind(other)),
                "write each rule as a [[rule]] section (double brackets)",
            ),
        }
    }

    c.approvals_have_issues(&policy.rules);
    if let Some(v) = get(root, "ring") {
        match v.get_ref() {
            DeValue::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let field = format!("ring[{i}]");
                    if let Some(ring) = c.ring(item, &field) {
                        if let Some(other) = policy.rings.iter().find(|r| r.name.eq_ignore_ascii_case(&ring.name)) {
                            c.err(
                                item.span(),
                                format!("{field}.name"),
                                format!("the name `{}` is already used by the ring on line {}", ring.name, other.line),
                                "give every ring its own name (rings are ordered by their place in the file)",
                            );
                        }
                        policy.rings.push(ring);
                    }
                }
            }
            other => c.err(
                v.span(),
                "ring",
                format!("expected rings written as [[ring]] tables, found {}", kind(other)),
                "write each ring as a [[ring]] section (double brackets), in the order the fleet takes a target",
            ),
        }
    }

    if let Some(v) = get(root, "baseline") {
        policy.baseline = c.baseline(v, "baseline");
    }

    if let Some(v) = get(root, "readiness")
        && let Some(r) = c.readiness(v, "readiness")
    {
        policy.readiness = r;
    }

    if c.errors.is_empty() {
        Ok(policy)
    } else {
        c.errors.sort_by_key(|e| e.line);
        Err(c.errors)
    }
}

/// The first key of a section header line (`[[rules]]`, `[ rule.email ]`, `["defaults"]`) and
/// its byte offset in the line; `None` for any other line.
fn header_name(line: &str) -> Option<(usize, String)> {
    let trimmed = line.trim_start();
    let rest = trimmed.strip_prefix('[')?;
    let rest = rest.strip_prefix('[').unwrap_or(rest);
    let key = rest.trim_start();
    let start = line.len() - key.len();
    let (name, after) = match key.chars().next()? {
        q @ ('"' | '\'') => {
            let end = key[1..].find(q)? + 1;
            (key[1..end].to_string(), &key[end + 1..])
        }
        _ => {
            let end = key.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(key.len());
            (key[..end].to_string(), &key[end..])
        }
    };
    // A header continues with `.` or closes with `]`; an array value (`[1, 2]`) does not.
    (!name.is_empty() && matches!(after.trim_start().chars().next(), Some('.' | ']'))).then_some((start, name))
}

fn get<'t, 'i>(t: &'t DeTable<'i>, key: &str) -> Option<&'t Val<'i>> {
    t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
}

fn kind(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date/time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The span of the deepest value along the dotted `path` (array indexes as `[n]` or `.n`) below
/// `v` that exists; `v`'s own span when the first step does not.
fn span_of_path(v: &Val<'_>, path: &str) -> Range<usize> {
    let mut at = v;
    for step in path.split(['.', '[', ']']).filter(|s| !s.is_empty()) {
        let next = match at.get_ref() {
            DeValue::Table(t) => get(t, step),
            DeValue::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(n) => at = n,
            None => break,
        }
    }
    at.span()
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest allowed word, if close enough to be a likely typo.
fn suggest<'a>(word: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase().replace('-', "_");
    allowed
        .iter()
        .filter(|a| !a.is_empty())
        .map(|a| (distance(&lower, &a.replace('-', "_")), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4) || (a.len() >= 3 && lower.starts_with(&a.replace('-', "_"))))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

struct Checker<'s> {
    path: &'s str,
    line_starts: Vec<usize>,
    errors: Vec<PolicyError>,
    /// Where `approval = "github"` was written: (the section's field prefix, span), checked
    /// against the rules' issue channels once every rule is read.
    approvals: Vec<(String, Range<usize>)>,
}

impl<'s> Checker<'s> {
    fn new(text: &'s str, path: &'s str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { path, line_starts, errors: Vec::new(), approvals: Vec::new() }
    }

    fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset)
    }

    fn err(
        &mut self,
        span: Range<usize>,
        field: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.errors.push(PolicyError {
            path: self.path.to_string(),
            line: self.line(span.start),
            field: field.into(),
            problem: problem.into(),
            fix: fix.into(),
        });
    }

    fn type_err(&mut self, v: &Val<'_>, field: &str, expected: &str, fix: &str) {
        self.err(v.span(), field, format!("expected {expected}, found {}", kind(v.get_ref())), fix);
    }

    /// Reports keys of `t` not in `allowed`. `hints` gives a tailored problem and fix for keys
    /// people commonly get wrong.
    fn keys(&mut self, t: &DeTable<'_>, prefix: &str, allowed: &[&str], hints: &[(&str, &str, &str)]) {
        for (k, _) in t.iter() {
            let key = k.get_ref().as_ref();
            if allowed.contains(&key) {
                continue;
            }
            let field = join(prefix, key);
            if let Some((_, problem, fix)) = hints.iter().find(|(h, _, _)| h.eq_ignore_ascii_case(key)) {
                self.err(k.span(), field, *problem, *fix);
                continue;
            }
            let fix = match suggest(key, allowed) {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    let list: Vec<&str> = allowed.iter().copied().filter(|a| !a.is_empty()).collect();
                    format!("remove it; allowed here: {}", list.join(", "))
                }
            };
            self.err(k.span(), field, format!("unknown key `{key}`"), fix);
        }
    }

    /// The top level holds `[defaults]` and `[[rule]]` only. An unknown table gets "unknown
    /// table" (people write tables there, not keys) and, when close, the name it should have.
    fn top_level_keys(&mut self, root: &DeTable<'_>) {
        let (tables, scalars): (Vec<_>, Vec<_>) = root.iter().filter(|(k, _)| !TOP_LEVEL.contains(&k.get_ref().as_ref())).partition(|(_, v)| {
            matches!(v.get_ref(), DeValue::Table(_)) || matches!(v.get_ref(), DeValue::Array(items) if !items.is_empty() && items.iter().all(|i| matches!(i.get_ref(), DeValue::Table(_))))
        });
        for (k, _) in tables {
            self.unknown_table(k.span(), k.get_ref());
        }
        for (k, _) in scalars {
            let key = k.get_ref().as_ref();
            let fix = if SETTINGS_KEYS.contains(&key) {
                format!("put `{key}` under [defaults] (or in a [[rule]])")
            } else {
                match suggest(key, &TOP_LEVEL) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "remove it; the top level has only [defaults], [[rule]], [[ring]], [baseline] and [readiness] sections".into(),
                }
            };
            self.err(k.span(), key, format!("unknown key `{key}`"), fix);
        }
    }

    fn unknown_table(&mut self, span: Range<usize>, name: &str) {
        let fix = match suggest(name, &TOP_LEVEL) {
            Some("rule") => "did you mean `rule`? Write each rule as [[rule]]".to_string(),
            Some(s) => format!("did you mean `{s}`?"),
            None => "remove it; the top level has only [defaults], [[rule]], [[ring]], [baseline] and [readiness] sections".into(),
        };
        self.err(span, name, format!("unknown table `{name}`"), fix);
    }

    /// For a file that is not valid TOML: reports each section header whose top-level name is
    /// not `defaults` or `rule`, from the text itself. `true` when it found one.
    fn unknown_table_headers(&mut self, text: &str) -> bool {
        let mut found = false;
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            if let Some((start, name)) = header_name(line)
                && !TOP_LEVEL.contains(&name.as_str())
            {
                self.unknown_table(offset + start..offset + start + name.len(), &name);
                found = true;
            }
            offset += line.len();
        }
        found
    }

    fn table<'t, 'i>(&mut self, v: &'t Val<'i>, field: &str) -> Option<&'t DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.type_err(
                    v,
                    field,
                    "a table",
                    &format!("write it as a [{field}] section or an inline {{ ... }} table"),
                );
                None
            }
        }
    }

    fn string(&mut self, v: &Val<'_>, field: &str) -> Option<String> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.type_err(v, field, "a string", "put the value in double quotes");
                None
            }
        }
    }

    fn boolean(&mut self, v: &Val<'_>, field: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.type_err(v, field, "true or false", "write true or false, without quotes");
                None
            }
        }
    }

    fn integer(&mut self, v: &Val<'_>, field: &str, min: i64, max: i64, unit: &str) -> Option<u32> {
        let n = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            _ => {
                self.type_err(v, field, &format!("a whole number of {unit}"), "write a number without quotes, like 14");
                return None;
            }
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Some(n as u32),
            _ => {
                let shown = match v.get_ref() {
                    DeValue::Integer(i) => i.as_str().to_string(),
                    _ => String::new(),
                };
                let problem = if min > 0 && n.is_some_and(|n| n <= 0) {
                    format!("{shown} {unit} must be more than 0")
                } else {
                    format!("{shown} {unit} is out of range")
                };
                self.err(v.span(), field, problem, format!("use a number from {min} to {max}"));
                None
            }
        }
    }

    /// A list of strings (a single string is taken as a list of one).
    fn strings(&mut self, v: &Val<'_>, field: &str) -> Option<Vec<(String, Range<usize>)>> {
        match v.get_ref() {
            DeValue::String(s) => Some(vec![(s.to_string(), v.span())]),
            DeValue::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match item.get_ref() {
                        DeValue::String(s) => out.push((s.to_string(), item.span())),
                        _ => {
                            self.type_err(item, &format!("{field}[{i}]"), "a string", "put the value in double quotes");
                            ok = false;
                        }
                    }
                }
                ok.then_some(out)
            }
            _ => {
                self.type_err(v, field, "a list of strings", "write a list like [\"a\", \"b\"]");
                None
            }
        }
    }

    fn globs(&mut self, v: &Val<'_>, field: &str) -> Vec<Glob> {
        let mut out = Vec::new();
        for (i, (pattern, span)) in self.strings(v, field).unwrap_or_default().into_iter().enumerate() {
            match Glob::new(&pattern) {
                Ok(g) => out.push(g),
                Err(e) => self.err(
                    span,
                    format!("{field}[{i}]"),
                    format!("`{pattern}` is not a valid pattern: {e}"),
                    "use * for any run of characters, ? for one, [abc] for one of a set",
                ),
            }
        }
        out
    }

    /// An AKS channel name, spelt exactly as AKS documents it (`names`): `patch`, `NodeImage`.
    /// Another case is refused with the right spelling, so the policy reads as `az` and ARM
    /// write the value.
    fn channel(&mut self, v: &Val<'_>, field: &str, names: &[&str]) -> Option<String> {
        let s = self.string(v, field)?;
        if names.contains(&s.as_str()) {
            return Some(s);
        }
        let allowed = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
        let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        let lower_refs: Vec<&str> = lower.iter().map(String::as_str).collect();
        let close = names.iter().find(|n| n.eq_ignore_ascii_case(s.trim())).copied().or_else(|| {
            suggest(&s.to_ascii_lowercase(), &lower_refs).and_then(|l| names.iter().find(|n| n.eq_ignore_ascii_case(l)).copied())
        });
        let fix = match close {
            Some(n) => format!("did you mean \"{n}\"? (AKS's channel names, case as written: {allowed})"),
            None => format!("use one of AKS's channel names, case as written: {allowed}"),
        };
        self.err(v.span(), field, format!("\"{s}\" is not an AKS channel name for this setting"), fix);
        None
    }

    fn mode(&mut self, v: &Val<'_>, field: &str) -> Option<UpgradeMode> {
        let s = self.string(v, field)?;
        match s.as_str() {
            "notify" => Some(UpgradeMode::Notify),
            "auto" => Some(UpgradeMode::Auto),
            other => {
                let fix = match suggest(other, &["notify", "auto"]) {
                    Some(s) => format!("did you mean \"{s}\"? (allowed: \"notify\", \"auto\")"),
                    None => "use \"notify\" (tell only) or \"auto\" (also carry it out in a window)".into(),
                };
                self.err(v.span(), field, format!("unknown upgrade mode \"{other}\""), fix);
                None
            }
        }
    }

    fn approval(&mut self, v: &Val<'_>, field: &str) -> Option<ApprovalVia> {
        let s = self.string(v, field)?;
        match s.as_str() {
            "none" => Some(ApprovalVia::None),
            "github" => Some(ApprovalVia::Github),
            other => {
                let fix = match suggest(other, &["none", "github"]) {
                    Some(s) => format!("did you mean \"{s}\"? (allowed: \"none\", \"github\")"),
                    None => "use \"none\" (auto changes start without approval) or \"github\" (a writer approves on the concern's issue)".into(),
                };
                self.err(v.span(), field, format!("unknown approval \"{other}\""), fix);
                None
            }
        }
    }

    /// A GitHub label name: 1–50 characters (GitHub's limit), no comma (label filters are
    /// comma-separated).
    fn label(&mut self, v: &Val<'_>, field: &str) -> Option<String> {
        let s = self.string(v, field)?;
        let t = s.trim();
        if t.is_empty() || t.chars().count() > 50 || t.contains(',') {
            self.err(v.span(), field, format!("\"{s}\" is not a usable GitHub label"), "use a label name of 1 to 50 characters without commas, like \"aks-cadence/approved\"");
            return None;
        }
        Some(t.to_string())
    }

    /// The release label must not be one that approves or holds (in the same table, or by
    /// default): one label would then mean two things.
    fn release_label_apart(&mut self, o: &Overrides, v: &Val<'_>, field: &str) {
        let Some(release) = o.release_label.as_deref() else { return };
        let approval = o.approval_label.as_deref().unwrap_or(super::DEFAULT_APPROVAL_LABEL);
        let hold = o.hold_label.as_deref().unwrap_or(super::DEFAULT_HOLD_LABEL);
        for (name, other) in [("approval_label", approval), ("hold_label", hold)] {
            if release.eq_ignore_ascii_case(other) {
                self.err(v.span(), field, format!("\"{release}\" is also the {name}"), "give releases a label of their own, like \"aks-cadence/release\"");
            }
        }
    }

    /// `approval = "github"` needs the concern's GitHub issue: the rule that sets it must open
    /// issues itself, or a rule selecting every cluster must (for `[defaults.upgrade]`, the
    /// latter).
    fn approvals_have_issues(&mut self, rules: &[Rule]) {
        let catch_all = rules.iter().any(|r| r.github_issue.is_some() && r.selector == Selector::default() && r.signals().is_none());
        for (prefix, span) in std::mem::take(&mut self.approvals) {
            let own = prefix
                .strip_prefix("rule[")
                .and_then(|r| r.split(']').next())
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| rules.get(i))
                .is_some_and(|r| r.github_issue.is_some());
            if own || catch_all {
                continue;
            }
            let fix = if prefix.starts_with("rule[") {
                "add [rule.github_issue] with repo = \"owner/name\" to this rule (approvals are given on the concern's issue), or set approval = \"none\""
            } else {
                "add a [[rule]] without selectors that has [rule.github_issue] (approvals are given on the concern's issue), or set approval in the rules that open issues"
            };
            self.err(span, join(&prefix, "approval"), "approval = \"github\" needs a GitHub issue for the clusters it selects, and no [rule.github_issue] covers them", fix);
        }
    }

    /// Reads the settings keys of a `[defaults]` or `[[rule]]` table.
    fn settings(&mut self, t: &DeTable<'_>, prefix: &str) -> (Overrides, Option<MaintenanceWindow>) {
        let mut o = Overrides::default();
        let mut window = None;
        let days = |c: &mut Self, key: &str, min: i64| {
            get(t, key).and_then(|v| c.integer(v, &join(prefix, key), min, MAX_DAYS, "days"))
        };
        o.patch_within_days = days(self, "patch_within_days", 1);
        o.minor_within_days = days(self, "minor_within_days", 1);
        o.node_image_within_days = days(self, "node_image_within_days", 1);
        o.reminder_days_before = days(self, "reminder_days_before", 0);
        if let Some(v) = get(t, "include_preview") {
            o.include_preview = self.boolean(v, &join(prefix, "include_preview"));
        }
        if let Some(v) = get(t, "respect_aks_channels") {
            o.respect_aks_channels = self.boolean(v, &join(prefix, "respect_aks_channels"));
        }
        o.aks_channel_grace_days = days(self, "aks_channel_grace_days", 0);
        if let Some(v) = get(t, "aks_channel_grace_windows") {
            o.aks_channel_grace_windows = self.integer(v, &join(prefix, "aks_channel_grace_windows"), 0, 1000, "windows");
        }
        if let Some(v) = get(t, "require_upgrade_channel") {
            let names: Vec<&str> = UpgradeChannel::ALL.iter().map(|c| c.as_str()).collect();
            o.require_upgrade_channel =
                self.channel(v, &join(prefix, "require_upgrade_channel"), &names).and_then(|s| UpgradeChannel::parse(&s));
        }
        if let Some(v) = get(t, "require_node_os_channel") {
            let names: Vec<&str> = NodeOsChannel::ALL.iter().map(|c| c.as_str()).collect();
            o.require_node_os_channel =
                self.channel(v, &join(prefix, "require_node_os_channel"), &names).and_then(|s| NodeOsChannel::parse(&s));
        }
        if let Some(v) = get(t, "certificate_warn_days") {
            let field = join(prefix, "certificate_warn_days");
            match v.get_ref() {
                DeValue::Array(items) if !items.is_empty() => {
                    let mut list: Vec<u32> = items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, item)| self.integer(item, &format!("{field}[{i}]"), 1, MAX_DAYS, "days"))
                        .collect();
                    if list.len() == items.len() {
                        list.sort_unstable_by(|a, b| b.cmp(a));
                        list.dedup();
                        o.certificate_warn_days = Some(list);
                    }
                }
                DeValue::Array(_) => self.err(
                    v.span(),
                    field,
                    "the list is empty, so no certificate would ever be warned about",
                    "list the days before expiry to warn at, like [60, 30, 7]",
                ),
                _ => self.type_err(v, &field, "a list of days", "write a list like [60, 30, 7]"),
            }
        }
        if let Some(v) = get(t, "upgrade") {
            let prefix = join(prefix, "upgrade");
            if let Some(u) = self.table(v, &prefix) {
                self.keys(u, &prefix, &UPGRADE_KEYS, &[]);
                let mode = |c: &mut Self, key: &str| get(u, key).and_then(|v| c.mode(v, &join(&prefix, key)));
                o.node_image = mode(self, "node_image");
                o.patch = mode(self, "patch");
                o.minor = mode(self, "minor");
                o.certificate_rotation = mode(self, "certificate_rotation");
                if let Some(v) = get(u, "auto_after_days") {
                    o.auto_after_days = self.integer(v, &join(&prefix, "auto_after_days"), 0, MAX_DAYS, "days");
                }
                if let Some(v) = get(u, "min_window_minutes") {
                    let field = join(&prefix, "min_window_minutes");
                    if let Some(m) = self.table(v, &field) {
                        self.keys(m, &field, &MIN_WINDOW_KEYS, &[]);
                        let mins = |c: &mut Self, key: &str| {
                            get(m, key).and_then(|v| c.integer(v, &join(&field, key), 1, 24 * 60, "minutes"))
                        };
                        o.min_window_node_image = mins(self, "node_image");
                        o.min_window_patch = mins(self, "patch");
                        o.min_window_minor = mins(self, "minor");
                        o.min_window_certificate_rotation = mins(self, "certificate_rotation");
                    }
                }
                if let Some(v) = get(u, "window") {
                    window = self.window(v, &join(&prefix, "window"));
                }
                if let Some(v) = get(u, "approval") {
                    o.approval = self.approval(v, &join(&prefix, "approval"));
                    if o.approval == Some(ApprovalVia::Github) {
                        self.approvals.push((prefix.clone(), v.span()));
                    }
                }
                o.approval_label = get(u, "approval_label").and_then(|v| self.label(v, &join(&prefix, "approval_label")));
                o.hold_label = get(u, "hold_label").and_then(|v| self.label(v, &join(&prefix, "hold_label")));
                if let Some(v) = get(u, "release_label") {
                    let field = join(&prefix, "release_label");
                    o.release_label = self.label(v, &field);
                    self.release_label_apart(&o, v, &field);
                }
            }
        }
        (o, window)
    }

    /// A maintenance window in the ARM `maintenanceWindow` shape, parsed and validated here, at
    /// load, by the same code that reads a cluster's own configurations
    /// ([`MaintenanceWindow::from_arm_json`]): `config check` sees a misspelt day, an impossible
    /// time, an offset without minutes or a date that does not exist, with its line.
    fn window(&mut self, v: &Val<'_>, field: &str) -> Option<MaintenanceWindow> {
        let t = self.table(v, field)?;
        const SCHEDULES: [&str; 4] = ["daily", "weekly", "absoluteMonthly", "relativeMonthly"];
        let Some(schedule) = get(t, "schedule") else {
            self.err(
                v.span(),
                field,
                "the window has no `schedule`",
                "add a schedule, e.g. schedule = { weekly = { intervalWeeks = 1, dayOfWeek = \"Sunday\" } }",
            );
            return None;
        };
        let sfield = join(field, "schedule");
        let s = self.table(schedule, &sfield)?;
        let kinds: Vec<&str> = s.iter().map(|(k, _)| k.get_ref().as_ref()).collect();
        let known = kinds.iter().filter(|k| SCHEDULES.contains(k)).count();
        if known != 1 || kinds.len() != 1 {
            let problem = if kinds.is_empty() {
                "the schedule is empty".to_string()
            } else {
                format!("the schedule has {}", kinds.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "))
            };
            let fix = match kinds.iter().find(|k| !SCHEDULES.contains(k)).and_then(|k| suggest(k, &SCHEDULES)) {
                Some(s) => format!(
                    "did you mean `{s}`? A schedule has exactly one of daily, weekly, absoluteMonthly, relativeMonthly"
                ),
                None => "give exactly one of daily, weekly, absoluteMonthly, relativeMonthly".into(),
            };
            self.err(schedule.span(), sfield, problem, fix);
            return None;
        }
        if let Some(d) = get(t, "durationHours") {
            self.integer(d, &join(field, "durationHours"), 4, 24, "hours")?;
        }
        match MaintenanceWindow::from_arm_json(&to_json(v.get_ref())) {
            Ok(window) => Some(window),
            Err(e) => {
                // `e.field` is a JSON path below `maintenanceWindow`: point at the deepest key of
                // it that the file has.
                let path = e.field.strip_prefix("maintenanceWindow").unwrap_or(&e.field).trim_start_matches('.');
                let span = span_of_path(v, path);
                let at = if path.is_empty() { field.to_string() } else { join(field, path) };
                self.err(span, at, e.problem, e.fix);
                None
            }
        }
    }

    /// The cluster selectors of a `[[rule]]` or `[[baseline.exception]]` table.
    fn selector(&mut self, t: &DeTable<'_>, field: &str) -> Selector {
        let mut selector = Selector::default();
        if let Some(v) = get(t, "subscriptions") {
            selector.subscriptions = self.globs(v, &join(field, "subscriptions"));
        }
        if let Some(v) = get(t, "resource_groups") {
            selector.resource_groups = self.globs(v, &join(field, "resource_groups"));
        }
        if let Some(v) = get(t, "clusters") {
            selector.clusters = self.globs(v, &join(field, "clusters"));
        }
        if let Some(v) = get(t, "tags") {
            let tfield = join(field, "tags");
            if let Some(tags) = self.table(v, &tfield) {
                for (k, val) in tags.iter() {
                    let f = join(&tfield, k.get_ref());
                    if let Some(s) = self.string(val, &f) {
                        match Glob::new(&s) {
                            Ok(g) => selector.tags.push((k.get_ref().to_string(), g)),
                            Err(e) => self.err(
                                val.span(),
                                f,
                                format!("`{s}` is not a valid pattern: {e}"),
                                "use * for any run of characters, ? for one, [abc] for one of a set",
                            ),
                        }
                    }
                }
            }
        }
        if let Some(v) = get(t, "when_tags_unknown") {
            let f = join(field, "when_tags_unknown");
            match self.string(v, &f).as_deref() {
                Some("skip") => selector.when_tags_unknown = WhenTagsUnknown::Skip,
                Some("match") => selector.when_tags_unknown = WhenTagsUnknown::Match,
                Some(other) => self.err(
                    v.span(),
                    f,
                    format!("unknown value \"{other}\""),
                    "use \"skip\" (wait for a sweep to read the tags) or \"match\" (apply as if the tags matched)",
                ),
                None => {}
            }
        }
        selector
    }

    /// `[baseline]`: which checks apply, severity overrides and exceptions.
    fn baseline(&mut self, v: &Val<'_>, field: &str) -> Option<BaselinePolicy> {
        let t = self.table(v, field)?;
        self.keys(
            t,
            field,
            &["checks", "skip", "severity", "within_days", "exception"],
            &[
                (
                    "exceptions",
                    "exceptions are written as [[baseline.exception]] tables",
                    "rename it to `exception` and write each one as a [[baseline.exception]] section",
                ),
                (
                    "enabled",
                    "the baseline is on whenever a [baseline] section exists",
                    "remove `enabled`; to turn the baseline off, remove the [baseline] section",
                ),
            ],
        );
        let errors_before = self.errors.len();
        let ids = crate::baseline::check_ids();

        let mut checks: Vec<&'static str> = ids.clone();
        if let Some(cv) = get(t, "checks") {
            let f = join(field, "checks");
            let listed = self.check_ids(cv, &f, &ids);
            if listed.is_empty() && self.errors.len() == errors_before {
                self.err(
                    cv.span(),
                    &f,
                    "the list is empty, so no check would run",
                    "remove `checks` to run every check, or list the ones you want",
                );
            }
            checks.retain(|id| listed.contains(id));
        }
        if let Some(sv) = get(t, "skip") {
            let skipped = self.check_ids(sv, &join(field, "skip"), &ids);
            checks.retain(|id| !skipped.contains(id));
        }

        let within_days = match get(t, "within_days") {
            Some(dv) => self.integer(dv, &join(field, "within_days"), 1, MAX_DAYS, "days").unwrap_or(BASELINE_WITHIN_DAYS),
            None => BASELINE_WITHIN_DAYS,
        };

        let mut severity = BTreeMap::new();
        if let Some(sv) = get(t, "severity") {
            let f = join(field, "severity");
            if let Some(st) = self.table(sv, &f) {
                for (k, val) in st.iter() {
                    let key = k.get_ref().as_ref();
                    let kf = join(&f, key);
                    let Some(id) = self.check_id(key, k.span(), &kf, &ids) else { continue };
                    let Some(level) = self.string(val, &kf) else { continue };
                    match Severity::parse(&level) {
                        Some(s) => {
                            severity.insert(id, s);
                        }
                        None => {
                            let fix = match suggest(&level, &Severity::NAMES) {
                                Some(s) => format!("did you mean \"{s}\"? (allowed: \"low\", \"medium\", \"high\")"),
                                None => "use \"low\", \"medium\" or \"high\"".into(),
                            };
                            self.err(val.span(), kf, format!("unknown severity \"{level}\""), fix);
                        }
                    }
                }
            }
        }

        let mut exceptions = Vec::new();
        if let Some(ev) = get(t, "exception") {
            let f = join(field, "exception");
            match ev.get_ref() {
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        exceptions.extend(self.baseline_exception(item, &format!("{f}[{i}]"), &ids, &checks));
                    }
                }
                _ => self.type_err(
                    ev,
                    &f,
                    "[[baseline.exception]] tables",
                    "write each exception as a [[baseline.exception]] section (double brackets)",
                ),
            }
        }
        (self.errors.len() == errors_before).then_some(BaselinePolicy { checks, severity, within_days, exceptions })
    }

    /// `[readiness]`: the checks before an upgrade is due (see `crate::readiness`).
    fn readiness(&mut self, v: &Val<'_>, field: &str) -> Option<crate::readiness::ReadinessPolicy> {
        let t = self.table(v, field)?;
        const KEYS: [&str; 8] = [
            "enabled",
            "hold_when_unknown",
            "min_surge_nodes",
            "min_drain_timeout_minutes",
            "max_node_soak_minutes",
            "undrainable_node_behavior",
            "check_quota",
            "check_subnet",
        ];
        self.keys(t, field, &KEYS, &[]);
        let errors_before = self.errors.len();
        let mut r = crate::readiness::ReadinessPolicy::default();
        for (key, slot) in [
            ("enabled", &mut r.enabled),
            ("hold_when_unknown", &mut r.hold_when_unknown),
            ("check_quota", &mut r.check_quota),
            ("check_subnet", &mut r.check_subnet),
        ] {
            if let Some(b) = get(t, key).and_then(|bv| self.boolean(bv, &join(field, key))) {
                *slot = b;
            }
        }
        for (key, slot, max, unit) in [
            ("min_surge_nodes", &mut r.min_surge_nodes, 1000, "nodes"),
            ("min_drain_timeout_minutes", &mut r.min_drain_timeout_minutes, 1440, "minutes"),
            ("max_node_soak_minutes", &mut r.max_node_soak_minutes, 30, "minutes"),
        ] {
            if let Some(n) = get(t, key).and_then(|nv| self.integer(nv, &join(field, key), 0, max, unit)) {
                *slot = n;
            }
        }
        if let Some(uv) = get(t, "undrainable_node_behavior") {
            let f = join(field, "undrainable_node_behavior");
            if let Some(s) = self.string(uv, &f) {
                match ["Cordon", "Schedule"].iter().find(|k| k.eq_ignore_ascii_case(&s)) {
                    Some(k) => r.undrainable_node_behavior = Some(k.to_string()),
                    None => self.err(uv.span(), f, format!("unknown behaviour \"{s}\""), "use \"Cordon\" or \"Schedule\" (AKS's two values)"),
                }
            }
        }
        (self.errors.len() == errors_before).then_some(r)
    }

    /// A check id, or an error with "did you mean".
    fn check_id(&mut self, name: &str, span: Range<usize>, field: &str, ids: &[&'static str]) -> Option<&'static str> {
        if let Some(id) = ids.iter().find(|id| **id == name) {
            return Some(id);
        }
        let fix = match suggest(name, ids) {
            Some(s) => format!("did you mean \"{s}\"?"),
            None => format!("use one of: {}", ids.join(", ")),
        };
        self.err(span, field, format!("unknown baseline check \"{name}\""), fix);
        None
    }

    /// A list of check ids (a single string is a list of one).
    fn check_ids(&mut self, v: &Val<'_>, field: &str, ids: &[&'static str]) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (i, (name, span)) in self.strings(v, field).unwrap_or_default().into_iter().enumerate() {
            if let Some(id) = self.check_id(&name, span, &format!("{field}[{i}]"), ids)
                && !out.contains(&id)
            {
                out.push(id);
            }
        }
        out
    }

    fn baseline_exception(
        &mut self,
        item: &Val<'_>,
        field: &str,
        ids: &[&'static str],
        applied: &[&'static str],
    ) -> Option<BaselineException> {
        let line = self.line(item.span().start);
        let t = self.table(item, field)?;
        self.keys(
            t,
            field,
            &[
                "checks",
                "subscriptions",
                "resource_groups",
                "clusters",
                "tags",
                "when_tags_unknown",
                "reason",
                "expires",
            ],
            &[
                ("check", "unknown key `check`", "did you mean `checks`? (a single id may be written as a string)"),
                ("expiry", "unknown key `expiry`", "did you mean `expires`?"),
                ("until", "unknown key `until`", "did you mean `expires`?"),
            ],
        );
        let errors_before = self.errors.len();
        let checks = match get(t, "checks") {
            None => {
                self.err(
                    item.span(),
                    join(field, "checks"),
                    "the exception names no check",
                    "add checks = [\"<check id>\"]",
                );
                Vec::new()
            }
            Some(cv) => {
                let f = join(field, "checks");
                let list = self.check_ids(cv, &f, ids);
                for id in &list {
                    if !applied.contains(id) {
                        self.err(
                            cv.span(),
                            &f,
                            format!("the exception names \"{id}\", which [baseline] does not run"),
                            "remove it from the exception, or stop skipping the check in [baseline]",
                        );
                    }
                }
                list
            }
        };
        let selector = self.selector(t, field);
        if selector.subscriptions.is_empty()
            && selector.resource_groups.is_empty()
            && selector.clusters.is_empty()
            && selector.tags.is_empty()
            && self.errors.len() == errors_before
        {
            self.err(
                item.span(),
                field,
                "the exception selects no cluster",
                "add clusters, resource_groups, subscriptions or tags; to except every cluster write clusters = [\"*\"]",
            );
        }
        let reason = match get(t, "reason") {
            None => {
                self.err(
                    item.span(),
                    join(field, "reason"),
                    "the exception gives no reason",
                    "add reason = \"…\" (it is shown next to the excepted check)",
                );
                None
            }
            Some(rv) => self.string(rv, &join(field, "reason")).filter(|r| {
                let ok = !r.trim().is_empty();
                if !ok {
                    self.err(
                        rv.span(),
                        join(field, "reason"),
                        "the reason is empty",
                        "say why the check is accepted as failing",
                    );
                }
                ok
            }),
        };
        let expires = match get(t, "expires") {
            None => {
                self.err(
                    item.span(),
                    join(field, "expires"),
                    "the exception has no expiry date",
                    "add expires = 2027-06-30 (the last day it holds); every exception runs out",
                );
                None
            }
            Some(dv) => self.date(dv, &join(field, "expires")),
        };
        (self.errors.len() == errors_before).then(|| BaselineException {
            line,
            checks,
            selector,
            reason: reason.unwrap_or_default(),
            expires: expires.expect("no error means a date"),
        })
    }

    /// A calendar date: a TOML local date (2027-06-30) or a string of one.
    fn date(&mut self, v: &Val<'_>, field: &str) -> Option<Date> {
        let text = match v.get_ref() {
            DeValue::Datetime(d) if d.date.is_some() && d.time.is_none() && d.offset.is_none() => d.to_string(),
            DeValue::Datetime(d) => {
                self.err(
                    v.span(),
                    field,
                    format!("{d} has a time of day"),
                    "give only the date, like 2027-06-30 (the exception holds through that day, UTC)",
                );
                return None;
            }
            DeValue::String(s) => s.to_string(),
            _ => {
                self.type_err(v, field, "a date", "write a date like 2027-06-30");
                return None;
            }
        };
        match text.parse::<Date>() {
            Ok(d) => Some(d),
            Err(_) => {
                self.err(
                    v.span(),
                    field,
                    format!("\"{text}\" is not a date"),
                    "write the date as YYYY-MM-DD, like 2027-06-30",
                );
                None
            }
        }
    }

    fn rule(&mut self, item: &Val<'_>, field: &str) -> Option<Rule> {
        let line = self.line(item.span().start);
        let t = self.table(item, field)?;
        let mut allowed: Vec<&str> = RULE_KEYS.to_vec();
        allowed.extend(SETTINGS_KEYS);
        self.keys(
            t,
            field,
            &allowed,
            &[
                (
                    "match",
                    "selectors are written directly in the rule",
                    "use subscriptions, resource_groups, clusters or tags keys",
                ),
                (
                    "repository",
                    "channels are tables inside the rule",
                    "write [rule.github_issue] with repo = \"owner/name\"",
                ),
                (
                    "update",
                    "only the notice, reminder and overdue stages can be routed",
                    "route one of them: [rule.notice], [rule.reminder] or [rule.overdue]",
                ),
                (
                    "execute",
                    "only the notice, reminder and overdue stages can be routed",
                    "route one of them: [rule.notice], [rule.reminder] or [rule.overdue]",
                ),
                (
                    "resolve",
                    "only the notice, reminder and overdue stages can be routed (a resolve closes the issue)",
                    "route one of them: [rule.notice], [rule.reminder] or [rule.overdue]",
                ),
                (
                    "escalation",
                    "stage routes are tables named after their stage",
                    "write [rule.reminder] or [rule.overdue] (and [rule.notice]) with assignees, labels, email or [[rule.overdue.chat]]",
                ),
            ],
        );
        let errors_before = self.errors.len();

        let name = match get(t, "name") {
            Some(v) => self.string(v, &join(field, "name")).filter(|n| {
                let ok = !n.trim().is_empty();
                if !ok {
                    self.err(v.span(), join(field, "name"), "the name is empty", "name the rule, e.g. name = \"prod\"");
                }
                ok
            }),
            None => {
                self.err(
                    item.span(),
                    join(field, "name"),
                    "the rule has no name",
                    "add name = \"…\" (it appears in plans and errors)",
                );
                None
            }
        };

        let selector = self.selector(t, field);

        let mut signals = None;
        if let Some(v) = get(t, "signals") {
            let f = join(field, "signals");
            if let Some(list) = self.strings(v, &f) {
                if list.is_empty() {
                    self.err(
                        v.span(),
                        &f,
                        "the list is empty, so the rule would hear nothing",
                        "remove `signals` to hear every signal, or list the ones you want",
                    );
                }
                let mut mask = 0u16;
                for (i, (name, span)) in list.iter().enumerate() {
                    let bit = signal_bit(name);
                    if bit == 0 {
                        let fix = match suggest(name, &SIGNAL_NAMES) {
                            Some(s) => format!("did you mean \"{s}\"?"),
                            None => format!("use one of: {}", SIGNAL_NAMES.join(", ")),
                        };
                        self.err(span.clone(), format!("{f}[{i}]"), format!("unknown signal \"{name}\""), fix);
                    }
                    mask |= bit;
                }
                signals = Some(mask);
            }
        }

        let (settings, window) = self.settings(t, field);

        let github_issue = get(t, "github_issue").and_then(|v| self.github_issue(v, &join(field, "github_issue")));
        let github_pr = get(t, "github_pr").and_then(|v| self.github_pr(v, &join(field, "github_pr")));
        let email = get(t, "email").and_then(|v| self.email(v, &join(field, "email")));
        let mut chat = Vec::new();
        if let Some(v) = get(t, "chat") {
            let f = join(field, "chat");
            match v.get_ref() {
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        chat.extend(self.chat(item, &format!("{f}[{i}]")));
                    }
                }
                DeValue::Table(_) => chat.extend(self.chat(v, &f)),
                _ => self.type_err(v, &f, "[[rule.chat]] tables", "write each destination as a [[rule.chat]] section"),
            }
        }

        let mut routes = BTreeMap::new();
        for stage in ROUTED_STAGES {
            if let Some(v) = get(t, stage.as_str())
                && let Some(route) = self.stage_route(v, &join(field, stage.as_str()), github_issue.is_some() || get(t, "github_issue").is_some())
            {
                routes.insert(stage, route);
            }
        }

        let rule = Rule {
            name: name.unwrap_or_default(),
            line,
            selector,
            signals,
            settings,
            github_issue,
            github_pr,
            email,
            chat,
            window,
            routes,
        };
        if self.errors.len() == errors_before
            && !rule.has_channels()
            && rule.settings == Overrides::default()
            && rule.window.is_none()
        {
            self.err(
                item.span(),
                field,
                format!("the rule `{}` has no channel and no setting, so it does nothing", rule.name),
                "add a channel ([rule.github_issue], [rule.github_pr], [rule.email], [[rule.chat]], a stage route like [rule.overdue]) or a setting, or remove the rule",
            );
        }
        (self.errors.len() == errors_before).then_some(rule)
    }

    /// `[rule.notice]`, `[rule.reminder]`, `[rule.overdue]`: a stage's extra assignees and labels
    /// (on the rule's GitHub issue, so `has_issue` must hold), mail recipients and chat
    /// destinations. Duplicates within the table are dropped.
    fn stage_route(&mut self, v: &Val<'_>, field: &str, has_issue: bool) -> Option<StageRoute> {
        let t = self.table(v, field)?;
        self.keys(
            t,
            field,
            &ROUTE_KEYS,
            &[
                ("label", "unknown key `label`", "did you mean `labels`?"),
                ("assignee", "unknown key `assignee`", "did you mean `assignees`?"),
                ("to", "a stage's extra mail recipients are its `email` list", "write email = [\"oncall@example.com\"]"),
                ("recipients", "a stage's extra mail recipients are its `email` list", "write email = [\"oncall@example.com\"]"),
                ("github_issue", "a stage adds to the rule's issue; it does not open its own", "put assignees and labels directly in the stage table, and the repository in the rule's [rule.github_issue]"),
            ],
        );
        let errors_before = self.errors.len();
        let mut route = StageRoute::default();
        let issue_fix = "add [rule.github_issue] with repo = \"owner/name\" to this rule (the labels and assignees go on that issue), or move them to the rule that opens the issue";
        if let Some(lv) = get(t, "labels") {
            let f = join(field, "labels");
            if !has_issue {
                self.err(lv.span(), &f, "labels are added to the rule's GitHub issue, but the rule has no [rule.github_issue]", issue_fix);
            }
            for (i, (label, span)) in self.strings(lv, &f).unwrap_or_default().into_iter().enumerate() {
                if label.trim().is_empty() || label.chars().count() > 50 {
                    self.err(span, format!("{f}[{i}]"), format!("\"{label}\" is not a usable label"), "labels are 1 to 50 characters");
                } else if !route.labels.iter().any(|l| l.eq_ignore_ascii_case(&label)) {
                    route.labels.push(label);
                }
            }
        }
        if let Some(av) = get(t, "assignees") {
            let f = join(field, "assignees");
            if !has_issue {
                self.err(av.span(), &f, "assignees are added to the rule's GitHub issue, but the rule has no [rule.github_issue]", issue_fix);
            }
            for (i, (login, span)) in self.strings(av, &f).unwrap_or_default().into_iter().enumerate() {
                let login = login.strip_prefix('@').unwrap_or(&login).to_string();
                if !is_github_login(&login) {
                    self.err(
                        span,
                        format!("{f}[{i}]"),
                        format!("\"{login}\" is not a GitHub user name"),
                        "use GitHub logins (letters, digits and single hyphens), e.g. \"octocat\"",
                    );
                } else if !route.assignees.iter().any(|a| a.eq_ignore_ascii_case(&login)) {
                    route.assignees.push(login);
                }
            }
            if route.assignees.len() > MAX_ASSIGNEES {
                self.err(
                    av.span(),
                    &f,
                    format!("{} assignees; GitHub keeps at most {MAX_ASSIGNEES} on an issue", route.assignees.len()),
                    "assign a team's lead or an on-call login instead of everyone",
                );
            }
        }
        if let Some(ev) = get(t, "email") {
            let f = join(field, "email");
            if matches!(ev.get_ref(), DeValue::Table(_)) {
                self.err(ev.span(), &f, "a stage's extra mail recipients are a list, not a table", "write email = [\"oncall@example.com\"] in the stage table");
            } else {
                let list = self.strings(ev, &f).unwrap_or_default();
                if list.is_empty() && self.errors.len() == errors_before {
                    self.err(ev.span(), &f, "the recipient list is empty", "add at least one address, or remove `email`");
                }
                for (i, (addr, span)) in list.into_iter().enumerate() {
                    if !is_email(&addr) {
                        self.err(
                            span,
                            format!("{f}[{i}]"),
                            format!("\"{addr}\" is not an email address"),
                            "write addresses like ops@example.com or \"Ops <ops@example.com>\"",
                        );
                    } else if !route.email.iter().any(|a| a.eq_ignore_ascii_case(&addr)) {
                        route.email.push(addr);
                    }
                }
            }
        }
        if let Some(cv) = get(t, "chat") {
            let f = join(field, "chat");
            let mut targets = Vec::new();
            match cv.get_ref() {
                DeValue::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        targets.extend(self.chat(item, &format!("{f}[{i}]")));
                    }
                }
                DeValue::Table(_) => targets.extend(self.chat(cv, &f)),
                _ => self.type_err(cv, &f, "[[rule.<stage>.chat]] tables", "write each destination as a [[rule.overdue.chat]] section (kind and url_setting)"),
            }
            for c in targets {
                if !route.chat.contains(&c) {
                    route.chat.push(c);
                }
            }
        }
        if self.errors.len() == errors_before && route == StageRoute::default() {
            self.err(
                v.span(),
                field,
                "the stage routes nothing",
                "add assignees, labels, email or a [[rule.<stage>.chat]] destination, or remove the table",
            );
        }
        (self.errors.len() == errors_before).then_some(route)
    }

    /// One `[[ring]]`: a name, the selectors of a rule and `soak_days`.
    fn ring(&mut self, item: &Val<'_>, field: &str) -> Option<super::rings::Ring> {
        let line = self.line(item.span().start);
        let t = self.table(item, field)?;
        self.keys(
            t,
            field,
            &RING_KEYS,
            &[
                ("soak", "unknown key `soak`", "did you mean `soak_days`? (whole days, 0 to 3650)"),
                ("signals", "a ring orders every change; it has no `signals`", "remove `signals` (rules choose signals)"),
            ],
        );
        let errors_before = self.errors.len();
        let name = match get(t, "name") {
            Some(v) => self.string(v, &join(field, "name")).filter(|n| {
                let ok = !n.trim().is_empty();
                if !ok {
                    self.err(v.span(), join(field, "name"), "the name is empty", "name the ring, e.g. name = \"dev\"");
                }
                ok
            }),
            None => {
                self.err(item.span(), join(field, "name"), "the ring has no name", "add name = \"…\" (holds name the ring, e.g. \"dev\")");
                None
            }
        };
        let selector = self.selector(t, field);
        let soak_days = match get(t, "soak_days") {
            Some(v) => self.integer(v, &join(field, "soak_days"), 0, MAX_DAYS, "days"),
            None => {
                self.err(
                    item.span(),
                    join(field, "soak_days"),
                    "the ring has no soak_days",
                    "add soak_days = 3 (days each of its clusters runs a target before the next ring may take it; 0 = no wait)",
                );
                None
            }
        };
        if self.errors.len() != errors_before {
            return None;
        }
        Some(super::rings::Ring { name: name?, line, selector, soak_days: soak_days? })
    }

    fn repo(&mut self, t: &DeTable<'_>, table: &Val<'_>, field: &str) -> Option<String> {
        let f = join(field, "repo");
        let Some(v) = get(t, "repo") else {
            self.err(table.span(), f, "no repository given", "add repo = \"owner/name\"");
            return None;
        };
        let repo = self.string(v, &f)?;
        if is_repo(&repo) {
            Some(repo)
        } else {
            let fix = if repo.contains("github.com") {
                "give only owner/name, not the URL (the GitHub host comes from the GITHUB_API_URL setting)"
            } else {
                "write the repository as owner/name, e.g. contoso/platform-infra"
            };
            self.err(v.span(), f, format!("\"{repo}\" is not an owner/name repository"), fix);
            None
        }
    }

    fn github_issue(&mut self, v: &Val<'_>, field: &str) -> Option<GithubIssueTarget> {
        let t = self.table(v, field)?;
        self.keys(
            t,
            field,
            &["repo", "labels", "assignees"],
            &[("label", "unknown key `label`", "did you mean `labels`?")],
        );
        let repo = self.repo(t, v, field);
        let mut labels = Vec::new();
        if let Some(lv) = get(t, "labels") {
            let f = join(field, "labels");
            for (i, (label, span)) in self.strings(lv, &f).unwrap_or_default().into_iter().enumerate() {
                if label.trim().is_empty() || label.chars().count() > 50 {
                    self.err(
                        span,
                        format!("{f}[{i}]"),
                        format!("\"{label}\" is not a usable label"),
                        "labels are 1 to 50 characters",
                    );
                } else {
                    labels.push(label);
                }
            }
        }
        let mut assignees = Vec::new();
        if let Some(av) = get(t, "assignees") {
            let f = join(field, "assignees");
            for (i, (login, span)) in self.strings(av, &f).unwrap_or_default().into_iter().enumerate() {
                let login = login.strip_prefix('@').unwrap_or(&login).to_string();
                if is_github_login(&login) {
                    assignees.push(login);
                } else {
                    self.err(
                        span,
                        format!("{f}[{i}]"),
                        format!("\"{login}\" is not a GitHub user name"),
                        "use GitHub logins (letters, digits and single hyphens), e.g. \"octocat\"",
                    );
                }
            }
        }
        Some(GithubIssueTarget { repo: repo?, labels, assignees })
    }

    fn github_pr(&mut self, v: &Val<'_>, field: &str) -> Option<GithubPrTarget> {
        let t = self.table(v, field)?;
        self.keys(
            t,
            field,
            &["repo", "path", "key", "pattern", "base"],
            &[("file", "unknown key `file`", "did you mean `path`?")],
        );
        let repo = self.repo(t, v, field);
        let path = match get(t, "path") {
            None => {
                self.err(
                    v.span(),
                    join(field, "path"),
                    "no file given",
                    "add path = \"infra/aks.bicep\" (relative to the repository root)",
                );
                None
            }
            Some(pv) => {
                let f = join(field, "path");
                self.string(pv, &f).filter(|p| {
                    let ok = !p.is_empty()
                        && !p.starts_with('/')
                        && !p.contains('\\')
                        && !p.split('/').any(|seg| seg == ".." || seg.is_empty());
                    if !ok {
                        self.err(
                            pv.span(),
                            &f,
                            format!("\"{p}\" is not a file path inside the repository"),
                            "use a relative path with / separators, like infra/aks.bicep",
                        );
                    }
                    ok
                })
            }
        };
        let locator = match (get(t, "key"), get(t, "pattern")) {
            (Some(_), Some(pv)) => {
                self.err(
                    pv.span(),
                    join(field, "pattern"),
                    "both `key` and `pattern` are given",
                    "keep one: `key` for a simple key = value line, `pattern` for a regular expression",
                );
                None
            }
            (None, None) => {
                self.err(
                    v.span(),
                    field,
                    "no way to find the version in the file",
                    "add key = \"kubernetesVersion\" (the name before the version) or pattern = \"...(\\\\d+\\\\.\\\\d+(?:\\\\.\\\\d+)?)...\"",
                );
                None
            }
            (Some(kv), None) => {
                let f = join(field, "key");
                self.string(kv, &f).and_then(|key| {
                    if key.trim().is_empty() {
                        self.err(
                            kv.span(),
                            f,
                            "the key is empty",
                            "give the name written before the version, e.g. kubernetesVersion",
                        );
                        None
                    } else {
                        Some(VersionLocator::Key { key })
                    }
                })
            }
            (None, Some(pv)) => {
                let f = join(field, "pattern");
                self.string(pv, &f).and_then(|pattern| match regex::Regex::new(&pattern) {
                    Ok(re) if re.captures_len() == 2 => Some(VersionLocator::Pattern { pattern }),
                    Ok(re) => {
                        self.err(
                            pv.span(),
                            f,
                            format!("the pattern has {} capture groups; it needs exactly one, around the version", re.captures_len() - 1),
                            "wrap only the version in ( ); make other groups non-capturing with (?: )",
                        );
                        None
                    }
                    Err(e) => {
                        let msg = e.to_string().lines().last().unwrap_or("").trim().to_string();
                        self.err(pv.span(), f, format!("the pattern is not a valid regular expression: {msg}"), "fix the expression (Rust regex syntax; in TOML use '...' literal strings to avoid doubling backslashes)");
                        None
                    }
                })
            }
        };
        let base = get(t, "base").and_then(|bv| {
            let f = join(field, "base");
            self.string(bv, &f).filter(|b| {
                let ok = !b.is_empty() && !b.contains(char::is_whitespace) && !b.contains("..") && !b.starts_with('-');
                if !ok {
                    self.err(
                        bv.span(),
                        &f,
                        format!("\"{b}\" is not a branch name"),
                        "give the branch to open the pull request against, e.g. main",
                    );
                }
                ok
            })
        });
        Some(GithubPrTarget { repo: repo?, path: path?, locator: locator?, base })
    }

    fn email(&mut self, v: &Val<'_>, field: &str) -> Option<Vec<String>> {
        let t = self.table(v, field)?;
        self.keys(t, field, &["to"], &[("recipients", "unknown key `recipients`", "did you mean `to`?")]);
        let f = join(field, "to");
        let Some(tv) = get(t, "to") else {
            self.err(v.span(), f, "no recipients", "add to = [\"platform-team@example.com\"]");
            return None;
        };
        let list = self.strings(tv, &f)?;
        if list.is_empty() {
            self.err(tv.span(), f, "the recipient list is empty", "add at least one address");
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, (addr, span)) in list.into_iter().enumerate() {
            if is_email(&addr) {
                out.push(addr);
            } else {
                ok = false;
                self.err(
                    span,
                    format!("{f}[{i}]"),
                    format!("\"{addr}\" is not an email address"),
                    "write addresses like ops@example.com or \"Ops <ops@example.com>\"",
                );
            }
        }
        ok.then_some(out)
    }

    fn chat(&mut self, v: &Val<'_>, field: &str) -> Option<ChatTarget> {
        let t = self.table(v, field)?;
        const SECRET: &str = "a webhook URL is a secret and must not be written in the policy";
        const SECRET_FIX: &str = "store the URL in an app setting (a Key Vault reference in Azure) and name it: url_setting = \"TEAMS_WEBHOOK_URL\"";
        self.keys(
            t,
            field,
            &["kind", "url_setting"],
            &[("url", SECRET, SECRET_FIX), ("webhook_url", SECRET, SECRET_FIX), ("webhook", SECRET, SECRET_FIX)],
        );
        let kind = match get(t, "kind") {
            None => {
                self.err(
                    v.span(),
                    join(field, "kind"),
                    "no chat kind",
                    "add kind = \"teams\", \"slack\" or \"webhook\"",
                );
                None
            }
            Some(kv) => {
                let f = join(field, "kind");
                match self.string(kv, &f).as_deref() {
                    Some("teams") => Some(ChatKind::Teams),
                    Some("slack") => Some(ChatKind::Slack),
                    Some("webhook") => Some(ChatKind::Webhook),
                    Some(other) => {
                        let fix = match suggest(other, &["teams", "slack", "webhook"]) {
                            Some(s) => format!("did you mean \"{s}\"?"),
                            None => "use \"teams\", \"slack\" or \"webhook\"".into(),
                        };
                        self.err(kv.span(), f, format!("unknown chat kind \"{other}\""), fix);
                        None
                    }
                    None => None,
                }
            }
        };
        let f = join(field, "url_setting");
        let url_setting = match get(t, "url_setting") {
            None => {
                if get(t, "url").is_none() && get(t, "webhook_url").is_none() && get(t, "webhook").is_none() {
                    self.err(
                        v.span(),
                        f,
                        "no setting named for the webhook URL",
                        "add url_setting = \"TEAMS_WEBHOOK_URL\" and put the URL in that app setting",
                    );
                }
                None
            }
            Some(sv) => self.string(sv, &f).and_then(|s| {
                let lower = s.to_ascii_lowercase();
                if lower.contains("://")
                    || lower.starts_with("http")
                    || lower.contains(".webhook.office.com")
                    || lower.contains("hooks.slack.com")
                {
                    self.err(
                        sv.span(),
                        f,
                        format!("{SECRET}: url_setting holds the NAME of an app setting, not the URL"),
                        SECRET_FIX,
                    );
                    None
                } else if is_setting_name(&s) {
                    Some(s)
                } else {
                    self.err(
                        sv.span(),
                        f,
                        format!("\"{s}\" is not an app setting name"),
                        "use letters, digits and underscores, starting with a letter, e.g. TEAMS_WEBHOOK_URL",
                    );
                    None
                }
            }),
        };
        Some(ChatTarget { kind: kind?, url_setting: url_setting? })
    }
}

fn is_repo(s: &str) -> bool {
    let Some((owner, name)) = s.split_once('/') else { return false };
    is_github_login(owner)
        && !name.is_empty()
        && name.len() <= 100
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn is_github_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 39
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn is_setting_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A plain address (`ops@example.com`) or a mailbox (`Ops Team <ops@example.com>`).
fn is_email(s: &str) -> bool {
    let s = s.trim();
    let addr = match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => &s[i + 1..s.len() - 1],
        (None, false) => s,
        _ => return false,
    };
    let Some((local, domain)) = addr.rsplit_once('@') else { return false };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    local_ok && domain_ok
}

fn to_json(v: &DeValue<'_>) -> serde_json::Value {
    use serde_json::Value;
    match v {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).map_or(Value::Null, Value::from),
        DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok().map_or(Value::Null, Value::from),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => Value::Array(items.iter().map(|i| to_json(i.get_ref())).collect()),
        DeValue::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.get_ref().to_string(), to_json(v.get_ref()))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_typos_but_not_strangers() {
        assert_eq!(suggest("patch_within_day", &SETTINGS_KEYS), Some("patch_within_days"));
        assert_eq!(suggest("asignees", &["repo", "labels", "assignees"]), Some("assignees"));
        assert_eq!(suggest("colour", &["repo", "labels", "assignees"]), None);
        assert_eq!(suggest("rules", &["defaults", "rule"]), Some("rule"));
        assert_eq!(suggest("automatic", &["notify", "auto"]), Some("auto"));
        // Long words take a quarter of their length in edits (here three of five allowed).
        assert_eq!(suggest("notifcation_chanel", &["notifications_channel"]), Some("notifications_channel"));
        assert_eq!(suggest("channel", &["notifications_channel"]), None);
    }

    #[test]
    fn header_names_are_read_from_section_lines_only() {
        assert_eq!(header_name("[[rules]]\n"), Some((2, "rules".to_string())));
        assert_eq!(header_name("  [ rule.email ]"), Some((4, "rule".to_string())));
        assert_eq!(header_name("[[my-rule_2]]"), Some((2, "my-rule_2".to_string())));
        assert_eq!(header_name("[\"defaults\"]"), Some((1, "defaults".to_string())));
        assert_eq!(header_name("['odd name'.x]"), Some((1, "odd name".to_string())));
        // Not headers: array values, keys, empty or unclosed names.
        for line in ["[1, 2]", "x = [1]", "[\"\"]", "[a", "[\"open", "[]", "", "# [rule]"] {
            assert_eq!(header_name(line), None, "{line:?}");
        }
    }

    #[test]
    fn value_kinds_are_named() {
        let doc = DeTable::parse("s = \"x\"\ni = 1\nf = 1.5\nb = true\nd = 1979-05-27T07:32:00Z\na = [1]\nt = { x = 1 }\n").unwrap();
        let kinds: Vec<&str> = ["s", "i", "f", "b", "d", "a", "t"].iter().map(|k| kind(get(doc.get_ref(), k).unwrap().get_ref())).collect();
        assert_eq!(kinds, ["a string", "an integer", "a float", "a boolean", "a date/time", "an array", "a table"]);
    }

    #[test]
    fn a_path_points_at_the_deepest_value_the_file_has() {
        let doc = DeTable::parse("w = { a = [{ b = 1 }, { c = \"x\" }] }\n").unwrap();
        let w = get(doc.get_ref(), "w").unwrap();
        let text = "w = { a = [{ b = 1 }, { c = \"x\" }] }\n";
        let at = |path: &str| &text[span_of_path(w, path)];
        assert_eq!(at("a[1].c"), "\"x\"");
        assert_eq!(at("a.1.c"), "\"x\"");
        assert_eq!(at("a[0].b"), "1");
        assert_eq!(at("a[0].missing"), "{ b = 1 }");
        assert_eq!(at("a[7]"), "[{ b = 1 }, { c = \"x\" }]");
        assert_eq!(at("nothing.here"), "{ a = [{ b = 1 }, { c = \"x\" }] }");
    }

    #[test]
    fn edit_distances_count_each_insertion_deletion_and_substitution_once() {
        for (a, b, d) in [("", "", 0), ("abc", "abc", 0), ("", "abc", 3), ("abc", "", 3), ("kitten", "sitting", 3), ("rule", "rules", 1), ("auto", "uato", 2), ("flaw", "lawn", 2), ("ab", "ba", 2)] {
            assert_eq!(distance(a, b), d, "{a} → {b}");
            assert_eq!(distance(b, a), d, "{b} → {a}");
        }
    }

    /// The one error of `text`, which must have exactly one.
    fn only_error(text: &str) -> PolicyError {
        let errors = parse(text, "p.toml").expect_err(text);
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.into_iter().next().unwrap()
    }

    /// The one error of `text`, which must be `problem` at `field`.
    fn error_at(text: &str, field: &str, problem: &str) -> PolicyError {
        let e = only_error(text);
        assert_eq!((e.field.as_str(), e.problem.as_str()), (field, problem), "{text}");
        e
    }

    #[test]
    fn booleans_are_read_as_written_and_anything_else_is_named() {
        for (written, read) in [("true", true), ("false", false)] {
            let policy = parse(&format!("[defaults]\ninclude_preview = {written}\nrespect_aks_channels = {written}\n"), "p.toml").unwrap();
            assert_eq!((policy.defaults.include_preview, policy.defaults.respect_aks_channels), (read, read), "{written}");
        }
        let e = only_error("[defaults]\npatch_within_days = 14\ninclude_preview = \"yes\"\n");
        assert_eq!((e.line, e.field.as_str()), (3, "defaults.include_preview"));
        assert_eq!((e.problem.as_str(), e.fix.as_str()), ("expected true or false, found a string", "write true or false, without quotes"));
    }

    #[test]
    fn whole_numbers_out_of_range_say_which_bound() {
        let e = only_error("[defaults]\npatch_within_days = 0\n");
        assert_eq!((e.line, e.field.as_str(), e.problem.as_str()), (2, "defaults.patch_within_days", "0 days must be more than 0"));
        assert!(e.fix.starts_with("use a number from 1 to "), "{e}");
        // Below a lower bound of 0, and above any bound: out of range.
        let e = error_at("[defaults]\nreminder_days_before = -1\n", "defaults.reminder_days_before", "-1 days is out of range");
        assert!(e.fix.starts_with("use a number from 0 to "), "{e}");
        let e = only_error("[defaults]\naks_channel_grace_windows = 1001\n");
        assert_eq!((e.problem.as_str(), e.fix.as_str()), ("1001 windows is out of range", "use a number from 0 to 1000"));
        let e = only_error("[defaults]\npatch_within_days = \"14\"\n");
        assert_eq!((e.problem.as_str(), e.fix.as_str()), ("expected a whole number of days, found a string", "write a number without quotes, like 14"));
    }

    #[test]
    fn an_unknown_key_far_from_every_allowed_one_lists_them() {
        let e = only_error("[defaults]\nzzzzzzzzzz = 1\n");
        assert_eq!((e.line, e.field.as_str(), e.problem.as_str()), (2, "defaults.zzzzzzzzzz", "unknown key `zzzzzzzzzz`"));
        assert!(e.fix.starts_with("remove it; allowed here: ") && e.fix.contains("patch_within_days, "), "{e}");
        let e = only_error("[defaults]\npatch_within_dayz = 1\n");
        assert_eq!(e.fix, "did you mean `patch_within_days`?");
    }

    #[test]
    fn in_a_file_that_is_not_toml_an_unknown_table_is_found_on_its_own_line() {
        // A duplicate key makes the file invalid TOML: the headers are read from the text.
        let text = "[defaults]\npatch_within_days = 14\npatch_within_days = 15\n\n[[rules]]\nname = \"a\"\n";
        let errors = parse(text, "p.toml").unwrap_err();
        let e = errors.iter().find(|e| e.field == "rules").unwrap_or_else(|| panic!("{errors:?}"));
        assert_eq!((e.line, e.problem.as_str()), (5, "unknown table `rules`"), "{e}");
        assert!(e.fix.contains("[[rule]]"), "{e}");
    }

    #[test]
    fn channel_names_are_read_as_aks_spells_them() {
        let policy = parse("[defaults]\nrequire_upgrade_channel = \"node-image\"\n", "p.toml").unwrap();
        assert_eq!(policy.defaults.require_upgrade_channel, Some(UpgradeChannel::NodeImage));
        let e = error_at("[defaults]\nrequire_upgrade_channel = \"Stable\"\n", "defaults.require_upgrade_channel", "\"Stable\" is not an AKS channel name for this setting");
        assert!(e.fix.starts_with("did you mean \"stable\"?"), "{e}");
    }

    #[test]
    fn labels_are_one_to_fifty_characters_without_commas() {
        let fifty = "a".repeat(50);
        let policy = parse(&format!("[defaults.upgrade]\napproval_label = \" {fifty} \"\n"), "p.toml").unwrap();
        assert_eq!(policy.defaults.approval_label, fifty, "kept, trimmed");
        for bad in ["", "  ", "a,b", &"a".repeat(51)] {
            error_at(&format!("[defaults.upgrade]\napproval_label = \"{bad}\"\n"), "defaults.upgrade.approval_label", &format!("\"{bad}\" is not a usable GitHub label"));
        }
    }

    #[test]
    fn a_release_label_must_differ_from_the_approval_and_hold_labels() {
        let policy = parse("[defaults.upgrade]\nrelease_label = \"ship\"\n", "p.toml").unwrap();
        assert_eq!(policy.defaults.release_label, "ship");
        // The defaults, in any case, and labels set in the same table.
        for (text, name) in [
            ("release_label = \"AKS-Cadence/Approved\"\n", "approval_label"),
            ("release_label = \"aks-cadence/hold\"\n", "hold_label"),
            ("approval_label = \"go\"\nrelease_label = \"go\"\n", "approval_label"),
            ("hold_label = \"wait\"\nrelease_label = \"Wait\"\n", "hold_label"),
        ] {
            let e = only_error(&format!("[defaults.upgrade]\n{text}"));
            assert_eq!(e.field, "defaults.upgrade.release_label", "{text}");
            assert!(e.problem.ends_with(&format!("is also the {name}")), "{text}: {e}");
        }
    }

    #[test]
    fn certificate_warnings_are_days_sorted_latest_first_once_each() {
        let policy = parse("[defaults]\ncertificate_warn_days = [3, 45, 14, 3]\n", "p.toml").unwrap();
        assert_eq!(policy.defaults.certificate_warn_days, [45, 14, 3], "not the default [60, 30, 7]");
        error_at("[defaults]\ncertificate_warn_days = []\n", "defaults.certificate_warn_days", "the list is empty, so no certificate would ever be warned about");
        error_at("[defaults]\ncertificate_warn_days = [30, 0]\n", "defaults.certificate_warn_days[1]", "0 days must be more than 0");
        let e = only_error("[defaults]\ncertificate_warn_days = 30\n");
        assert_eq!(e.problem, "expected a list of days, found an integer");
    }

    #[test]
    fn baseline_checks_skips_and_severities_are_read() {
        let text = "[baseline]\nchecks = [\"entra-id\", \"kubernetes-rbac\", \"entra-id\", \"azure-rbac\"]\nskip = \"azure-rbac\"\nseverity = { entra-id = \"high\" }\n";
        let b = parse(text, "p.toml").unwrap().baseline.expect("a [baseline] section turns it on");
        assert_eq!(b.checks, ["kubernetes-rbac", "entra-id"], "catalogue order, listed and not skipped");
        assert_eq!(b.severity.get("entra-id").copied(), Some(Severity::High));
        assert_eq!(b.within_days, BASELINE_WITHIN_DAYS);
        let every = parse("[baseline]\n", "p.toml").unwrap().baseline.unwrap();
        assert_eq!(every.checks, crate::baseline::check_ids());

        error_at("[baseline]\nchecks = []\n", "baseline.checks", "the list is empty, so no check would run");
        // A list whose every id is wrong reports the ids, not an empty list.
        let e = error_at("[baseline]\nchecks = [\"entra_id\"]\n", "baseline.checks[0]", "unknown baseline check \"entra_id\"");
        assert_eq!(e.fix, "did you mean \"entra-id\"?");
        let e = only_error("[baseline]\nskip = [\"zzzzzzzz\"]\n");
        assert!(e.fix.starts_with("use one of: api-server-access, kubernetes-rbac, "), "{e}");
        error_at("[baseline.severity]\nentra-id = \"hihg\"\n", "baseline.severity.entra-id", "unknown severity \"hihg\"");
        error_at("[baseline]\nexception = { checks = [\"entra-id\"] }\n", "baseline.exception", "expected [[baseline.exception]] tables, found a table");
    }

    #[test]
    fn baseline_exceptions_need_checks_a_selection_a_reason_and_a_date() {
        let ok = "[baseline]\n\n[[baseline.exception]]\nchecks = \"entra-id\"\nclusters = [\"legacy-*\"]\nreason = \"migrating\"\nexpires = 2027-06-30\n";
        let b = parse(ok, "p.toml").unwrap().baseline.unwrap();
        assert_eq!(b.exceptions.len(), 1);
        let x = &b.exceptions[0];
        assert_eq!((x.line, x.checks.as_slice(), x.reason.as_str(), x.expires), (3, &["entra-id"][..], "migrating", jiff::civil::date(2027, 6, 30)));
        // A date may be a string too.
        assert!(parse(&ok.replace("2027-06-30", "\"2027-06-30\""), "p.toml").is_ok());
        // Any one selector is enough.
        for selector in ["subscriptions = [\"s\"]", "resource_groups = [\"rg\"]", "tags = { team = \"a\" }"] {
            assert!(parse(&ok.replace("clusters = [\"legacy-*\"]", selector), "p.toml").is_ok(), "{selector}");
        }
        for (from, to, field, problem) in [
            ("checks = \"entra-id\"\n", "", "baseline.exception[0].checks", "the exception names no check"),
            ("clusters = [\"legacy-*\"]\n", "", "baseline.exception[0]", "the exception selects no cluster"),
            ("reason = \"migrating\"\n", "", "baseline.exception[0].reason", "the exception gives no reason"),
            ("reason = \"migrating\"", "reason = \" \"", "baseline.exception[0].reason", "the reason is empty"),
            ("expires = 2027-06-30\n", "", "baseline.exception[0].expires", "the exception has no expiry date"),
            ("expires = 2027-06-30", "expires = 2027-06-30T10:00:00Z", "baseline.exception[0].expires", "2027-06-30T10:00:00Z has a time of day"),
            ("expires = 2027-06-30", "expires = 2027-06-30T10:00:00", "baseline.exception[0].expires", "2027-06-30T10:00:00 has a time of day"),
            ("expires = 2027-06-30", "expires = 10:00:00", "baseline.exception[0].expires", "10:00:00 has a time of day"),
            ("expires = 2027-06-30", "expires = 20270630", "baseline.exception[0].expires", "expected a date, found an integer"),
        ] {
            let e = only_error(&ok.replace(from, to));
            assert_eq!((e.field.as_str(), e.problem.as_str()), (field, problem), "{from} → {to}");
        }
        let e = only_error(&ok.replace("[baseline]\n", "[baseline]\nskip = \"entra-id\"\n"));
        assert_eq!(e.problem, "the exception names \"entra-id\", which [baseline] does not run");
    }

    #[test]
    fn readiness_settings_are_read() {
        let text = "[readiness]\nenabled = false\nhold_when_unknown = true\ncheck_quota = false\ncheck_subnet = false\nmin_surge_nodes = 2\nmin_drain_timeout_minutes = 30\nmax_node_soak_minutes = 5\nundrainable_node_behavior = \"cordon\"\n";
        let r = parse(text, "p.toml").unwrap().readiness;
        assert_eq!(
            (r.enabled, r.hold_when_unknown, r.check_quota, r.check_subnet, r.min_surge_nodes, r.min_drain_timeout_minutes, r.max_node_soak_minutes, r.undrainable_node_behavior.as_deref()),
            (false, true, false, false, 2, 30, 5, Some("Cordon"))
        );
        error_at("[readiness]\nundrainable_node_behavior = \"Drain\"\n", "readiness.undrainable_node_behavior", "unknown behaviour \"Drain\"");
        let e = only_error("[readiness]\nmax_node_soak_minutes = 31\n");
        assert_eq!(e.problem, "31 minutes is out of range");
    }

    #[test]
    fn a_stage_route_adds_each_recipient_once_and_needs_the_rules_issue_for_labels_and_assignees() {
        let base = "[[rule]]\nname = \"r\"\n[rule.github_issue]\nrepo = \"o/r\"\n";
        let text = format!(
            "{base}[rule.overdue]\nlabels = [\"late\", \"LATE\", \"x\"]\nassignees = [\"@octocat\", \"OctoCat\", \"lead\"]\nemail = [\"a@example.com\", \"A@example.com\"]\n[[rule.overdue.chat]]\nkind = \"slack\"\nurl_setting = \"SLACK_URL\"\n[[rule.overdue.chat]]\nkind = \"slack\"\nurl_setting = \"SLACK_URL\"\n"
        );
        let policy = parse(&text, "p.toml").unwrap();
        let route = policy.rules[0].routes.values().next().expect("the overdue route");
        assert_eq!(route.labels, ["late", "x"]);
        assert_eq!(route.assignees, ["octocat", "lead"]);
        assert_eq!(route.email, ["a@example.com"]);
        assert_eq!(route.chat.len(), 1);
        // One chat table on its own works as well.
        let one = format!("{base}[rule.notice.chat]\nkind = \"teams\"\nurl_setting = \"TEAMS_URL\"\n");
        assert_eq!(parse(&one, "p.toml").unwrap().rules[0].routes.values().next().unwrap().chat.len(), 1);

        let without_issue = "[[rule]]\nname = \"r\"\n[rule.email]\nto = [\"ops@example.com\"]\n";
        for (stage, problem) in [
            ("labels = [\"late\"]", "labels are added to the rule's GitHub issue, but the rule has no [rule.github_issue]"),
            ("assignees = [\"lead\"]", "assignees are added to the rule's GitHub issue, but the rule has no [rule.github_issue]"),
        ] {
            let e = only_error(&format!("{without_issue}[rule.overdue]\n{stage}\n"));
            assert_eq!(e.problem, problem);
        }
        for (stage, field, problem) in [
            ("labels = [\" \"]", "rule[0].overdue.labels[0]", "\" \" is not a usable label".to_string()),
            (&format!("labels = [\"{}\"]", "a".repeat(51)), "rule[0].overdue.labels[0]", format!("\"{}\" is not a usable label", "a".repeat(51))),
            ("assignees = [\"a b\"]", "rule[0].overdue.assignees[0]", "\"a b\" is not a GitHub user name".to_string()),
            ("email = [\"nobody\"]", "rule[0].overdue.email[0]", "\"nobody\" is not an email address".to_string()),
            ("email = []", "rule[0].overdue.email", "the recipient list is empty".to_string()),
            ("email = { to = \"a@example.com\" }", "rule[0].overdue.email", "a stage's extra mail recipients are a list, not a table".to_string()),
            ("chat = \"SLACK_URL\"", "rule[0].overdue.chat", "expected [[rule.<stage>.chat]] tables, found a string".to_string()),
        ] {
            error_at(&format!("{base}[rule.overdue]\n{stage}\n"), field, &problem);
        }
        let fifty = "a".repeat(50);
        assert!(parse(&format!("{base}[rule.overdue]\nlabels = [\"{fifty}\"]\n"), "p.toml").is_ok(), "50 characters is a usable label");
        let ten: Vec<String> = (0..10).map(|i| format!("\"u{i}\"")).collect();
        assert!(parse(&format!("{base}[rule.overdue]\nassignees = [{}]\n", ten.join(", ")), "p.toml").is_ok(), "ten assignees are allowed");
        let eleven: Vec<String> = (0..11).map(|i| format!("\"u{i}\"")).collect();
        let e = only_error(&format!("{base}[rule.overdue]\nassignees = [{}]\n", eleven.join(", ")));
        assert_eq!(e.problem, "11 assignees; GitHub keeps at most 10 on an issue");
        error_at(&format!("{base}[rule.overdue]\n"), "rule[0].overdue", "the stage routes nothing");
    }

    #[test]
    fn a_rules_chat_may_be_one_table_and_a_broken_issue_table_is_reported_once() {
        let policy = parse("[[rule]]\nname = \"r\"\n[rule.chat]\nkind = \"teams\"\nurl_setting = \"TEAMS_URL\"\n", "p.toml").unwrap();
        assert_eq!(policy.rules[0].chat.len(), 1);
        // The issue table is there but wrong: its own error, not also "the rule has no issue".
        let e = only_error("[[rule]]\nname = \"r\"\n[rule.github_issue]\nrepo = \"not a repo\"\n[rule.overdue]\nlabels = [\"late\"]\n");
        assert_eq!(e.field, "rule[0].github_issue.repo");
    }

    #[test]
    fn an_issue_tables_labels_are_one_to_fifty_characters() {
        let base = "[[rule]]\nname = \"r\"\n[rule.github_issue]\nrepo = \"o/r\"\n";
        let fifty = "a".repeat(50);
        let policy = parse(&format!("{base}labels = [\"{fifty}\"]\nassignees = \"@octocat\"\n"), "p.toml").unwrap();
        let issue = policy.rules[0].github_issue.as_ref().unwrap();
        assert_eq!((issue.labels.as_slice(), issue.assignees.as_slice()), (&[fifty][..], &["octocat".to_string()][..]));
        for bad in [String::new(), "  ".into(), "a".repeat(51)] {
            error_at(&format!("{base}labels = [\"{bad}\"]\n"), "rule[0].github_issue.labels[0]", &format!("\"{bad}\" is not a usable label"));
        }
    }

    #[test]
    fn a_pull_request_file_is_a_relative_path_inside_the_repository() {
        let base = "[[rule]]\nname = \"r\"\n[rule.github_pr]\nrepo = \"o/r\"\nkey = \"kubernetesVersion\"\n";
        let policy = parse(&format!("{base}path = \"infra/aks.bicep\"\n"), "p.toml").unwrap();
        assert_eq!(policy.rules[0].github_pr.as_ref().unwrap().path, "infra/aks.bicep");
        for bad in ["", "/infra/aks.bicep", "infra\\\\aks.bicep", "infra/../aks.bicep", "infra//aks.bicep", "infra/"] {
            let e = only_error(&format!("{base}path = \"{bad}\"\n"));
            assert_eq!(e.field, "rule[0].github_pr.path", "{bad}");
            assert!(e.problem.ends_with("is not a file path inside the repository"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_pull_request_finds_the_version_by_one_key_or_one_pattern_and_names_a_real_branch() {
        let base = "[[rule]]\nname = \"r\"\n[rule.github_pr]\nrepo = \"o/r\"\npath = \"aks.bicep\"\n";
        let pr = |extra: &str| parse(&format!("{base}{extra}"), "p.toml").unwrap().rules[0].github_pr.clone().unwrap();
        assert!(matches!(pr("key = \"kubernetesVersion\"\nbase = \"release/v2\"\n"), GithubPrTarget { base: Some(b), locator: VersionLocator::Key { .. }, .. } if b == "release/v2"));
        for (extra, field, problem) in [
            ("key = \"k\"\npattern = '(\\d+)'", "rule[0].github_pr.pattern", "both `key` and `pattern` are given"),
            ("", "rule[0].github_pr", "no way to find the version in the file"),
            ("key = \" \"", "rule[0].github_pr.key", "the key is empty"),
            ("pattern = '(a)(b)'", "rule[0].github_pr.pattern", "the pattern has 2 capture groups; it needs exactly one, around the version"),
            ("pattern = 'no groups'", "rule[0].github_pr.pattern", "the pattern has 0 capture groups; it needs exactly one, around the version"),
        ] {
            error_at(&format!("{base}{extra}\n"), field, problem);
        }
        let e = only_error(&format!("{base}pattern = '(unclosed'\n"));
        assert!(e.problem.starts_with("the pattern is not a valid regular expression: "), "{e}");
        for bad in ["", "my branch", "a..b", "-main"] {
            error_at(&format!("{base}key = \"k\"\nbase = \"{bad}\"\n"), "rule[0].github_pr.base", &format!("\"{bad}\" is not a branch name"));
        }
    }

    #[test]
    fn mail_needs_recipients_that_are_addresses() {
        let base = "[[rule]]\nname = \"r\"\n[rule.email]\n";
        let policy = parse(&format!("{base}to = \"ops@example.com\"\n"), "p.toml").unwrap();
        assert_eq!(policy.rules[0].email.as_deref(), Some(&["ops@example.com".to_string()][..]));
        for (extra, field, problem) in [
            ("", "rule[0].email.to", "no recipients"),
            ("to = []", "rule[0].email.to", "the recipient list is empty"),
            ("to = [\"ops@example.com\", \"ops\"]", "rule[0].email.to[1]", "\"ops\" is not an email address"),
        ] {
            error_at(&format!("{base}{extra}\n"), field, problem);
        }
    }

    #[test]
    fn a_chat_destination_is_a_kind_and_the_name_of_the_setting_holding_its_url() {
        let base = "[[rule]]\nname = \"r\"\n[[rule.chat]]\n";
        for (kind, expected) in [("teams", ChatKind::Teams), ("slack", ChatKind::Slack), ("webhook", ChatKind::Webhook)] {
            let policy = parse(&format!("{base}kind = \"{kind}\"\nurl_setting = \"_URL_1\"\n"), "p.toml").unwrap();
            assert_eq!(policy.rules[0].chat, [ChatTarget { kind: expected, url_setting: "_URL_1".into() }]);
        }
        for (extra, field, problem) in [
            ("url_setting = \"U\"", "rule[0].chat[0].kind", "no chat kind".to_string()),
            ("kind = \"team\"\nurl_setting = \"U\"", "rule[0].chat[0].kind", "unknown chat kind \"team\"".to_string()),
            ("kind = \"teams\"", "rule[0].chat[0].url_setting", "no setting named for the webhook URL".to_string()),
            ("kind = \"teams\"\nurl_setting = \"1URL\"", "rule[0].chat[0].url_setting", "\"1URL\" is not an app setting name".to_string()),
        ] {
            error_at(&format!("{base}{extra}\n"), field, &problem);
        }
        let e = only_error(&format!("{base}kind = \"team\"\nurl_setting = \"U\"\n"));
        assert_eq!(e.fix, "did you mean \"teams\"?");
        // A URL where the setting's name belongs is named a secret, whatever its form.
        for url in ["https://x.example/hook", "HTTP_URL", "contoso.webhook.office.com/x", "hooks.slack.com/services/x", "ftp://x"] {
            let e = only_error(&format!("{base}kind = \"teams\"\nurl_setting = \"{url}\"\n"));
            assert!(e.problem.ends_with("url_setting holds the NAME of an app setting, not the URL"), "{url}: {e}");
        }
        // The URL written as a key: one error, the secret, not also a missing setting.
        for key in ["url", "webhook_url", "webhook"] {
            let e = only_error(&format!("{base}kind = \"teams\"\n{key} = \"https://x.example\"\n"));
            assert_eq!(e.problem, "a webhook URL is a secret and must not be written in the policy", "{key}");
        }
    }

    #[test]
    fn repositories_and_logins_follow_githubs_limits() {
        assert!(is_github_login(&"a".repeat(39)) && !is_github_login(&"a".repeat(40)));
        for bad in ["", "-a", "a-", "a--b", "a_b"] {
            assert!(!is_github_login(bad), "{bad}");
        }
        assert!(is_repo(&format!("o/{}", "n".repeat(100))) && !is_repo(&format!("o/{}", "n".repeat(101))));
        for bad in ["o/.", "o/..", "o/a b", "-o/r", "o/"] {
            assert!(!is_repo(bad), "{bad}");
        }
        assert!(is_setting_name("_X") && is_setting_name("a1") && !is_setting_name("") && !is_setting_name("A-B"));
    }

    #[test]
    fn toml_values_become_the_json_the_window_parser_reads() {
        let doc = DeTable::parse("v = { s = \"x\", i = 0x10, f = 1_000.5, b = true, d = 2027-06-30, a = [1, \"y\"], t = { k = 2 } }\n").unwrap();
        let json = to_json(get(doc.get_ref(), "v").unwrap().get_ref());
        assert_eq!(json, serde_json::json!({"s": "x", "i": 16, "f": 1000.5, "b": true, "d": "2027-06-30", "a": [1, "y"], "t": {"k": 2}}));
    }

    #[test]
    fn email_addresses_are_checked() {
        let label63 = "a".repeat(63);
        let label64 = "a".repeat(64);
        for bad in ["ops@example..com", &format!("ops@{label64}.com"), "ops@-x.com", "ops@x-.com", "ops@exa_mple.com"] {
            assert!(!is_email(bad), "{bad}: each domain label is 1 to 63 letters, digits and inner hyphens");
        }
        for ok in ["ops@my-host.example.com", &format!("ops@{label63}.com")] {
            assert!(is_email(ok), "{ok}");
        }
        for ok in ["ops@example.com", "a.b+c@mail.example.co.uk", "Ops Team <ops@example.com>"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "ops",
            "ops@",
            "@example.com",
            "ops@example",
            "ops@@example.com",
            "a b@example.com",
            "Ops <ops@example.com",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn repositories_and_setting_names_are_checked() {
        assert!(is_repo("contoso/platform-infra"));
        assert!(is_repo("Contoso/infra.bicep_1"));
        for bad in ["contoso", "/x", "contoso/", "-a/b", "a/b/c", "https://github.com/a/b"] {
            assert!(!is_repo(bad), "{bad}");
        }
        assert!(is_setting_name("TEAMS_WEBHOOK_URL"));
        assert!(!is_setting_name("1URL"));
        assert!(!is_setting_name("TEAMS-URL"));
    }

    #[test]
    fn approval_needs_an_issue_for_the_clusters_it_selects() {
        let ok = "[[rule]]\nname = \"prod\"\nclusters = [\"prod-*\"]\n[rule.upgrade]\npatch = \"auto\"\napproval = \"github\"\napproval_label = \"ship-it\"\n[rule.github_issue]\nrepo = \"o/r\"\n";
        let policy = parse(ok, "p.toml").unwrap();
        let o = &policy.rules[0].settings;
        assert_eq!((o.approval, o.approval_label.as_deref(), o.hold_label.as_deref()), (Some(ApprovalVia::Github), Some("ship-it"), None));

        let without = "[[rule]]\nname = \"prod\"\nclusters = [\"prod-*\"]\n[rule.upgrade]\napproval = \"github\"\n[rule.email]\nto = [\"ops@example.com\"]\n";
        let errors = parse(without, "p.toml").unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = &errors[0];
        assert_eq!((e.line, e.field.as_str()), (5, "rule[0].upgrade.approval"));
        assert!(e.problem.contains("needs a GitHub issue") && e.fix.contains("add [rule.github_issue]"), "{e}");

        // A rule without selectors that opens issues covers every cluster, [defaults] included.
        let covered = "[defaults.upgrade]\napproval = \"github\"\n\n[[rule]]\nname = \"all\"\n[rule.github_issue]\nrepo = \"o/r\"\n";
        assert!(parse(covered, "p.toml").is_ok());
        let uncovered = "[defaults.upgrade]\napproval = \"github\"\n\n[[rule]]\nname = \"prod\"\nclusters = [\"prod\"]\n[rule.github_issue]\nrepo = \"o/r\"\n";
        let errors = parse(uncovered, "p.toml").unwrap_err();
        assert_eq!((errors[0].line, errors[0].field.as_str()), (2, "defaults.upgrade.approval"), "{errors:?}");

        let typo = parse("[defaults.upgrade]\napproval = \"githb\"\n", "p.toml").unwrap_err();
        assert!(typo[0].fix.contains("did you mean \"github\""), "{typo:?}");
        let label = parse("[defaults.upgrade]\nhold_label = \"a,b\"\n", "p.toml").unwrap_err();
        assert_eq!(label[0].field, "defaults.upgrade.hold_label", "{label:?}");
    }
}
