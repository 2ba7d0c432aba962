//! Every policy example in the documentation passes `handler config check` (a house rule), run
//! through the real binary on every ```toml block of README.md, samples/README.md and docs/*.md.
//!
//! The convention (docs/policy.md, "For developers"):
//! - ```` ```toml ```` — a whole policy file: checked as written;
//! - ```` ```toml fragment ```` — part of one `[[rule]]` (it starts at a `[rule.…]` table):
//!   checked inside `[[rule]]` + `name = "fragment"`;
//! - ```` ```toml outline ```` — the section skeleton, not a policy: it must still be TOML.
//!
//! Any other word after `toml` fails the test, so a new block cannot slip past unchecked.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn documents() -> Vec<PathBuf> {
    let mut docs = vec![repo().join("README.md"), repo().join("samples/README.md")];
    let mut pages: Vec<PathBuf> =
        std::fs::read_dir(repo().join("docs")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "md")).collect();
    pages.sort();
    docs.extend(pages);
    docs
}

/// A fenced block: where it starts (1-based line of the opening fence), its info string's words
/// after the language, and its text.
struct Block {
    line: usize,
    tag: Option<String>,
    text: String,
}

fn toml_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    let mut other_fence = false;
    for (i, line) in markdown.lines().enumerate() {
        // CommonMark: a backtick fence's info string holds no backtick (```` ```toml ```` in a
        // sentence is inline code, not a fence).
        let fence = line.trim_start().starts_with("```") && !line.trim_start().trim_start_matches('`').contains('`');
        match (&mut open, fence) {
            (Some(_), true) => blocks.push(open.take().unwrap()),
            (Some(b), false) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, true) if other_fence => other_fence = false,
            (None, true) => {
                let info = line.trim_start().trim_start_matches('`').trim();
                let mut words = info.split_whitespace();
                if words.next() == Some("toml") {
                    open = Some(Block { line: i + 1, tag: words.next().map(String::from), text: String::new() });
                } else {
                    other_fence = true;
                }
            }
            (None, false) => {}
        }
    }
    assert!(open.is_none() && !other_fence, "a fenced block is never closed");
    blocks
}

fn config_check(dir: &Path, text: &str) -> (bool, String) {
    let file = dir.join("example.toml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_handler")).current_dir(dir).env_clear().args(["config", "check", "example.toml"]).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn every_documented_policy_example_passes_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let (mut checked, mut failures) = (0, Vec::new());
    for doc in documents() {
        let name = doc.strip_prefix(repo()).unwrap().display().to_string();
        for block in toml_blocks(&std::fs::read_to_string(&doc).unwrap()) {
            let at = format!("{name}:{}", block.line);
            let policy = match block.tag.as_deref() {
                None => block.text.clone(),
                Some("fragment") => {
                    let first = block.text.lines().find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).unwrap_or_default();
                    assert!(first.starts_with("[rule.") || first.starts_with("[[rule."), "{at}: a fragment starts at a [rule.…] table, not `{first}`");
                    format!("[[rule]]\nname = \"fragment\"\n{}", block.text)
                }
                Some("outline") => {
                    if let Err(e) = block.text.parse::<toml::Table>() {
                        failures.push(format!("{at}: the outline is not TOML: {e}"));
                    }
                    continue;
                }
                Some(other) => panic!("{at}: ```toml {other}: use ```toml, ```toml fragment or ```toml outline"),
            };
            checked += 1;
            let (ok, output) = config_check(dir.path(), &policy);
            if !ok {
                failures.push(format!("{at}:\n{output}"));
            }
        }
    }
    assert!(failures.is_empty(), "documented policy examples that fail `handler config check`:\n\n{}", failures.join("\n"));
    // The README's worked example, docs/github.md's and docs/policy.md's two fragments at least.
    assert!(checked >= 4, "only {checked} example(s) found: is the block parser reading the docs?");
}

#[test]
fn the_block_reader_sees_tags_and_skips_other_languages() {
    let md = "text\n```sh\n[[rule]]\n```\n```toml\n[[rule]]\nname = \"a\"\n```\n```` ```toml ```` in a sentence\n```toml fragment\n[rule.email]\n```\n";
    let blocks = toml_blocks(md);
    assert_eq!(blocks.len(), 2);
    assert_eq!((blocks[0].line, blocks[0].tag.as_deref(), blocks[0].text.as_str()), (5, None, "[[rule]]\nname = \"a\"\n"));
    assert_eq!(blocks[1].tag.as_deref(), Some("fragment"));
}
