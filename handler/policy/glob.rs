//! Case-insensitive glob patterns for policy selectors (`rg-prod-*`, `aks-??-weu`, `aks-[ab]*`).
//!
//! Compiled once when the policy loads; matching walks the pattern with the classic
//! "remember the last star" algorithm, so it is linear in practice and never allocates.
//! ASCII letters are folded (ARM names are ASCII); other characters compare exactly.

use std::fmt;

/// One compiled glob. `*` matches any run of characters (also empty), `?` exactly one,
/// `[abc]` / `[a-z]` one of a set, `[!abc]` one not in it. There is no escape character: ARM
/// names cannot contain `*`, `?` or `[`.
#[derive(Clone)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(char),
    Any,
    Star,
    Class { negated: bool, ranges: Vec<(char, char)> },
}

/// Why a pattern does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    #[error("the pattern is empty")]
    Empty,
    #[error("`[` at position {0} is never closed by `]`")]
    UnclosedClass(usize),
    #[error("the character class at position {0} is empty")]
    EmptyClass(usize),
    #[error("the range `{0}-{1}` is reversed")]
    ReversedRange(char, char),
}

fn fold(c: char) -> char {
    c.to_ascii_lowercase()
}

impl Glob {
    /// Compiles a pattern.
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' => {
                    // `**` is the same as `*`.
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                    i += 1;
                }
                '?' => {
                    tokens.push(Token::Any);
                    i += 1;
                }
                '[' => {
                    let start = i;
                    i += 1;
                    let negated = matches!(chars.get(i), Some('!') | Some('^'));
                    if negated {
                        i += 1;
                    }
                    let mut ranges = Vec::new();
                    // A `]` right after `[` or `[!` is a literal member.
                    let mut first = true;
                    loop {
                        let Some(&c) = chars.get(i) else {
                            return Err(GlobError::UnclosedClass(start));
                        };
                        if c == ']' && !first {
                            i += 1;
                            break;
                        }
                        first = false;
                        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|&e| e != ']') {
                            let end = chars[i + 2];
                            let (lo, hi) = (fold(c), fold(end));
                            if lo > hi {
                                return Err(GlobError::ReversedRange(c, end));
                            }
                            ranges.push((lo, hi));
                            i += 3;
                        } else {
                            ranges.push((fold(c), fold(c)));
                            i += 1;
                        }
                    }
                    if ranges.is_empty() {
                        return Err(GlobError::EmptyClass(start));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                c => {
                    tokens.push(Token::Literal(fold(c)));
                    i += 1;
                }
            }
        }
        Ok(Self { source: pattern.to_string(), tokens })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `text` matches the whole pattern, ignoring ASCII case.
    pub fn is_match(&self, text: &str) -> bool {
        let toks = &self.tokens;
        let mut t = 0usize; // token index
        let mut pos = 0usize; // byte offset in text
        // Backtrack point: (token index after the star, text offset the star has consumed to).
        let mut star: Option<(usize, usize)> = None;
        loop {
            let c = text[pos..].chars().next();
            match (toks.get(t), c) {
                (Some(Token::Star), _) => {
                    t += 1;
                    star = Some((t, pos));
                    continue;
                }
                (Some(tok), Some(ch)) if single_matches(tok, ch) => {
                    t += 1;
                    pos += ch.len_utf8();
                    continue;
                }
                (None, None) => return true,
                _ => {}
            }
            // Mismatch: let the last star eat one more character.
            match star {
                Some((after, consumed)) => {
                    let Some(ch) = text[consumed..].chars().next() else { return false };
                    let next = consumed + ch.len_utf8();
                    star = Some((after, next));
                    t = after;
                    pos = next;
                }
                None => return false,
            }
        }
    }
}

fn single_matches(tok: &Token, ch: char) -> bool {
    let ch = fold(ch);
    match tok {
        Token::Literal(l) => *l == ch,
        Token::Any => true,
        Token::Class { negated, ranges } => ranges.iter().any(|&(lo, hi)| lo <= ch && ch <= hi) != *negated,
        Token::Star => false,
    }
}

impl PartialEq for Glob {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
impl Eq for Glob {}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.source)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).unwrap().is_match(t)
    }

    #[test]
    fn glob_matches_like_a_shell_ignoring_case() {
        let table = [
            ("rg-prod-*", "rg-prod-weu", true),
            ("rg-prod-*", "RG-PROD-weu", true),
            ("rg-prod-*", "rg-prod-", true),
            ("rg-prod-*", "rg-nonprod-weu", false),
            ("aks-*-weu", "aks-prod-weu", true),
            ("aks-*-weu", "aks-prod-weu2", false),
            ("aks-*-weu", "aks--weu", true),
            ("*", "", true),
            ("*", "anything", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyycd", false),
            ("a*b*c", "abcbc", true),
            ("aks-??", "aks-01", true),
            ("aks-??", "aks-1", false),
            ("aks-[ab]*", "aks-Bravo", true),
            ("aks-[ab]*", "aks-charlie", false),
            ("aks-[!ab]*", "aks-charlie", true),
            ("aks-[a-c]x", "aks-Cx", true),
            ("aks-[a-c]x", "aks-dx", false),
            ("exact", "EXACT", true),
            ("exact", "exact1", false),
            ("**x", "yyx", true),
            ("[]]", "]", true),
        ];
        for (p, t, want) in table {
            assert_eq!(m(p, t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn glob_reports_bad_syntax() {
        assert_eq!(Glob::new(""), Err(GlobError::Empty));
        assert_eq!(Glob::new("rg-[abc"), Err(GlobError::UnclosedClass(3)));
        assert_eq!(Glob::new("[z-a]"), Err(GlobError::ReversedRange('z', 'a')));
        assert!(matches!(Glob::new("x[!"), Err(GlobError::UnclosedClass(1))));
    }
}
