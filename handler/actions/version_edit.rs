//! Finds the cluster's version in an infrastructure file and replaces it — and nothing else.
//!
//! Pure text surgery for the pull-request adapter: no IO, no parsing of Bicep, HCL, YAML or JSON
//! (a round trip through a parser would reformat the file). The locator finds exactly one span;
//! the edit replaces exactly that span, so every other byte of the file — comments, line endings,
//! a byte-order mark, trailing whitespace — is left as it was.
//!
//! Two locators (see [`VersionLocator`]):
//! - `Key { key }`: the key on a line followed by `=` or `:` and a version literal, quoted (`'…'`,
//!   `"…"`) or not. Covers Bicep (`param kubernetesVersion string = '1.29.2'`,
//!   `kubernetesVersion: '1.29.2'`), `.bicepparam` (`param kubernetesVersion = '1.29.2'`),
//!   Terraform (`kubernetes_version = "1.29.2"`), YAML (`kubernetesVersion: 1.29.2`) and JSON
//!   (`"kubernetesVersion": "1.29.2"`). A value that is not a version literal
//!   (`kubernetesVersion: kubernetesVersion`, `orchestrator_version = var.k8s`) is not a match,
//!   and neither is a line that is a comment (`#`, `//`).
//! - `Pattern { pattern }`: a regular expression over the whole file with exactly one capture
//!   group around the version (use `\s` to span lines, e.g. ARM parameter files).
//!
//! Exactly one match is required. Zero or several is an error that names the file, the locator
//! and the count; guessing which of two `orchestrator_version` lines to change is not our call.

use std::fmt;
use std::ops::Range;

use regex::Regex;

use crate::action::VersionLocator;

/// A version literal as AKS spells them: `1.29`, `1.29.2`.
const VERSION: &str = r"\d+\.\d+(?:\.\d+)?";

/// Where the version is in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Byte range of the version inside the text (without quotes).
    pub range: Range<usize>,
    /// The version found there.
    pub current: String,
    /// 1-based line number of the version.
    pub line: usize,
}

/// The result of [`set_version`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The whole new text (equal to the input when nothing changed).
    pub text: String,
    /// The version that was there before.
    pub previous: String,
    /// 1-based line number of the edit.
    pub line: usize,
    /// Whether the text changed (false when the file already had the version).
    pub changed: bool,
}

/// Why a file could not be edited. Every variant is permanent: the file or the policy must change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionEditError {
    /// The locator matched zero or several times.
    #[error("{path}: {locator} matched {count} times{lines}, expected exactly once; fix the locator in the policy (a more specific key, or a pattern with one capture group)", lines = fmt_lines(.lines))]
    MatchCount { path: String, locator: String, count: usize, lines: Vec<usize> },
    /// The pattern is not a valid regular expression, or has the wrong number of groups.
    #[error("{path}: {locator} is not usable: {problem}")]
    BadLocator { path: String, locator: String, problem: String },
    /// The version to write is not a plain version string.
    #[error("{path}: refusing to write `{version}`: not a version (expected digits and dots such as 1.30.7)")]
    BadVersion { path: String, version: String },
}

fn fmt_lines(lines: &[usize]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        let l: Vec<String> = lines.iter().map(|n| n.to_string()).collect();
        format!(" (lines {})", l.join(", "))
    }
}

/// How a locator is named in messages: ``key `kubernetesVersion` `` or ``pattern `…` ``.
pub fn describe(locator: &VersionLocator) -> String {
    match locator {
        VersionLocator::Key { key } => format!("key `{key}`"),
        VersionLocator::Pattern { pattern } => format!("pattern `{pattern}`"),
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on line {}", self.current, self.line)
    }
}

/// Finds the one place the locator points at in `text` (`path` is only used in errors).
pub fn locate(path: &str, text: &str, locator: &VersionLocator) -> Result<Located, VersionEditError> {
    let spans = match locator {
        VersionLocator::Key { key } => key_spans(path, text, key, locator)?,
        VersionLocator::Pattern { pattern } => pattern_spans(path, text, pattern, locator)?,
    };
    match spans.as_slice() {
        [one] => Ok(Located { range: one.clone(), current: text[one.clone()].to_string(), line: line_of(text, one.start) }),
        _ => Err(VersionEditError::MatchCount {
            path: path.to_string(),
            locator: describe(locator),
            count: spans.len(),
            lines: spans.iter().map(|r| line_of(text, r.start)).collect(),
        }),
    }
}

/// Replaces the located version with `version`. Every other byte is kept.
pub fn set_version(path: &str, text: &str, locator: &VersionLocator, version: &str) -> Result<Edit, VersionEditError> {
    let plain = Regex::new(r"^[0-9A-Za-z][0-9A-Za-z.+-]*$").expect("static regex");
    if !plain.is_match(version) {
        return Err(VersionEditError::BadVersion { path: path.to_string(), version: version.to_string() });
    }
    let at = locate(path, text, locator)?;
    let mut out = String::with_capacity(text.len() + version.len());
    out.push_str(&text[..at.range.start]);
    out.push_str(version);
    out.push_str(&text[at.range.end..]);
    Ok(Edit { changed: at.current != version, text: out, previous: at.current, line: at.line })
}

fn key_spans(path: &str, text: &str, key: &str, locator: &VersionLocator) -> Result<Vec<Range<usize>>, VersionEditError> {
    if key.trim().is_empty() || key.contains('\n') {
        return Err(VersionEditError::BadLocator {
            path: path.to_string(),
            locator: describe(locator),
            problem: "the key is empty or spans lines".into(),
        });
    }
    // Anchored per line: anything (not a word char right before the key), the key with optional
    // quotes, an optional type word (Bicep `param k string = …`), `=` or `:`, then the value.
    let k = regex::escape(key);
    let re = format!(
        r#"(?m)(?:^|[^\w.\-$])["']?{k}["']?(?:[ \t]+[A-Za-z_]\w*)?[ \t]*[:=][ \t]*(?:"({VERSION})"|'({VERSION})'|({VERSION})[ \t]*(?:$|\r|,|\}}|\]|#|//))"#
    );
    let re = Regex::new(&re).map_err(|e| VersionEditError::BadLocator {
        path: path.to_string(),
        locator: describe(locator),
        problem: e.to_string(),
    })?;
    let mut spans = Vec::new();
    for caps in re.captures_iter(text) {
        let m = caps.get(1).or_else(|| caps.get(2)).or_else(|| caps.get(3)).expect("one alternative matched");
        if !is_comment_line(text, m.start()) {
            spans.push(m.range());
        }
    }
    Ok(spans)
}

fn pattern_spans(path: &str, text: &str, pattern: &str, locator: &VersionLocator) -> Result<Vec<Range<usize>>, VersionEditError> {
    let bad = |problem: String| VersionEditError::BadLocator { path: path.to_string(), locator: describe(locator), problem };
    let re = Regex::new(pattern).map_err(|e| bad(format!("invalid regular expression: {e}")))?;
    let groups = re.captures_len() - 1;
    if groups != 1 {
        return Err(bad(format!("it has {groups} capture groups; it needs exactly one, around the version")));
    }
    Ok(re.captures_iter(text).filter_map(|c| c.get(1)).filter(|m| !m.is_empty()).map(|m| m.range()).collect())
}

/// Whether the line holding byte `at` is a whole-line comment (`#` or `//`).
fn is_comment_line(text: &str, at: usize) -> bool {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..at].trim_start();
    line.starts_with('#') || line.starts_with("//")
}

fn line_of(text: &str, at: usize) -> usize {
    text[..at].bytes().filter(|b| *b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> VersionLocator {
        VersionLocator::Key { key: k.into() }
    }
    fn pattern(p: &str) -> VersionLocator {
        VersionLocator::Pattern { pattern: p.into() }
    }

    #[test]
    fn key_locator_reads_each_syntax() {
        let cases: &[(&str, &str, &str)] = &[
            ("bicep param", "param kubernetesVersion string = '1.29.2'\n", "kubernetesVersion"),
            ("bicep property", "  properties: {\n    kubernetesVersion: '1.29.2'\n  }\n", "kubernetesVersion"),
            ("bicepparam", "using './main.bicep'\nparam kubernetesVersion = '1.29.2'\n", "kubernetesVersion"),
            ("terraform", "  kubernetes_version  = \"1.29.2\"\n", "kubernetes_version"),
            ("tfvars", "kubernetes_version = \"1.29.2\" # pinned\n", "kubernetes_version"),
            ("yaml unquoted", "cluster:\n  kubernetesVersion: 1.29.2\n", "kubernetesVersion"),
            ("yaml quoted", "- kubernetesVersion: \"1.29.2\"\n", "kubernetesVersion"),
            ("json", "{\n  \"kubernetesVersion\": \"1.29.2\",\n  \"x\": 1\n}\n", "kubernetesVersion"),
            ("json one line", "{\"kubernetesVersion\":\"1.29.2\",\"x\":1}", "kubernetesVersion"),
            ("crlf yaml", "a: 1\r\nkubernetesVersion: 1.29.2\r\n", "kubernetesVersion"),
        ];
        for (name, text, k) in cases {
            let at = locate("f", text, &key(k)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(at.current, "1.29.2", "{name}");
        }
    }

    #[test]
    fn key_locator_skips_references_comments_and_longer_keys() {
        let text = "param kubernetesVersion string = '1.29.2'\n\
                    // kubernetesVersion: '1.28.0'\n\
                    # kubernetesVersion: 1.27.0\n\
                    resource aks 'x' = {\n  properties: {\n    kubernetesVersion: kubernetesVersion\n    \
                    defaultKubernetesVersion: '1.20.0'\n    kubernetesVersionOld: '1.21.0'\n  }\n}\n";
        let at = locate("main.bicep", text, &key("kubernetesVersion")).unwrap();
        assert_eq!((at.current.as_str(), at.line), ("1.29.2", 1));
    }

    #[test]
    fn zero_or_several_matches_name_the_file_the_locator_and_the_count() {
        let e = locate("infra/aks.tf", "orchestrator_version = \"1.29.2\"\norchestrator_version = \"1.29.2\"\n", &key("orchestrator_version")).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("infra/aks.tf") && msg.contains("key `orchestrator_version`") && msg.contains("matched 2 times (lines 1, 2)"), "{msg}");
        let e = locate("infra/aks.tf", "x = 1\n", &key("kubernetes_version")).unwrap_err();
        assert!(matches!(e, VersionEditError::MatchCount { count: 0, .. }), "{e}");
    }

    #[test]
    fn pattern_locator_needs_exactly_one_group() {
        let text = "{\n  \"kubernetesVersion\": {\n    \"value\": \"1.29.2\"\n  }\n}\n";
        let at = locate("p.json", text, &pattern(r#""kubernetesVersion":\s*\{\s*"value":\s*"([^"]+)""#)).unwrap();
        assert_eq!((at.current.as_str(), at.line), ("1.29.2", 3));
        let e = locate("p.json", text, &pattern(r#""(kubernetesVersion)":\s*\{\s*"value":\s*"([^"]+)""#)).unwrap_err();
        assert!(e.to_string().contains("2 capture groups"), "{e}");
        let e = locate("p.json", text, &pattern("(unclosed")).unwrap_err();
        assert!(matches!(e, VersionEditError::BadLocator { .. }));
    }

    #[test]
    fn set_version_changes_only_the_version_bytes() {
        let text = "\u{feff}# keep me\r\nparam kubernetesVersion string = '1.29.2'  \r\nparam x int = 3\r\n";
        let edit = set_version("main.bicep", text, &key("kubernetesVersion"), "1.30.7").unwrap();
        assert_eq!(edit.text, text.replace("1.29.2", "1.30.7"));
        assert!(edit.changed);
        assert_eq!((edit.previous.as_str(), edit.line), ("1.29.2", 2));
        let again = set_version("main.bicep", &edit.text, &key("kubernetesVersion"), "1.30.7").unwrap();
        assert!(!again.changed);
        assert_eq!(again.text, edit.text);
    }

    #[test]
    fn set_version_refuses_text_that_is_not_a_version() {
        let e = set_version("a.tf", "kubernetes_version = \"1.29.2\"", &key("kubernetes_version"), "1.30\"\nevil = \"x").unwrap_err();
        assert!(matches!(e, VersionEditError::BadVersion { .. }));
    }
}
