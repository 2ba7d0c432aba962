//! JSON string text, escaped as `serde_json` escapes it, written straight into a `String`:
//! the host's log lines (`host::log_json`) and the dry-run plan's text
//! (`Action::dry_run_json`) are built with it. Strings are scanned 8 bytes at a time where
//! there is nothing to escape.
//!
//! Layer: core: pure, no IO.

/// `s` as a JSON string, escaped as `serde_json` escapes it: `"` and `\`, the short forms
/// `\b \t \n \f \r`, any other control character as `\u00XX`; everything else as it is.
pub fn escape(out: &mut String, s: &str) {
    out.push('"');
    push_escaped(out, s);
    out.push('"');
}

/// The bytes of `w` (read little-endian: the first byte is the lowest) that must be escaped — a
/// control byte (below 0x20), `"` or a backslash — each flagged by its high bit (the bit tricks
/// of "Bit Twiddling Hacks"). A borrow can flag a byte above a flagged one by mistake, never
/// one below: zero means none, and the lowest flag is always the first such byte.
fn escape_mask(w: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGHS;
    let zero = |x: u64| below(x, 1);
    below(w, 0x20) | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')))
}

/// `s` escaped as [`escape`] escapes it, without the quotes.
pub fn push_escaped(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len());
    let mut start = 0;
    let mut i = 0;
    // 8 bytes at a time: a word with nothing to escape is skipped whole, otherwise the first
    // byte to escape is found from the mask and the next word starts just after it.
    while let Some(word) = bytes.get(i..i + 8) {
        let mask = escape_mask(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        if mask == 0 {
            i += 8;
            continue;
        }
        let at = i + (mask.trailing_zeros() / 8) as usize;
        // Every byte that stops the run is ASCII, so the slices fall on char boundaries.
        out.push_str(&s[start..at]);
        match bytes[at] {
            // The usual ones (a JSON document in a string is dense with quotes), written at once.
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b => escape_byte(b).expect("the mask's first flag is a byte to escape").push_to(out),
        }
        start = at + 1;
        i = at + 1;
    }
    for (j, &b) in bytes[i..].iter().enumerate() {
        if let Some(escaped) = escape_byte(b) {
            out.push_str(&s[start..i + j]);
            escaped.push_to(out);
            start = i + j + 1;
        }
    }
    out.push_str(&s[start..]);
}

/// How one byte is written inside a JSON string, when it is not written as itself.
enum Escaped {
    /// A backslash and this character (`\"`, `\\`, `\n`, …).
    Short(u8),
    Unicode(u8),
}

impl Escaped {
    fn push_to(self, out: &mut String) {
        match self {
            Escaped::Short(c) => {
                out.push('\\');
                out.push(char::from(c));
            }
            Escaped::Unicode(b) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
        }
    }
}

/// How `b` is written inside a JSON string; `None` when it is written as itself.
fn escape_byte(b: u8) -> Option<Escaped> {
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x08 => b'b',
        0x0c => b'f',
        0x00..=0x1f => return Some(Escaped::Unicode(b)),
        _ => return None,
    };
    Some(Escaped::Short(short))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut every: String = (0u8..0x80).map(char::from).collect();
        every.push_str("é → 日本 \u{2028} \u{7f} {\"a\":\"b\\\\c\"}");
        for s in ["", "plain", "\"", "\\", "a\nb", "\u{1}\u{1f}", every.as_str()] {
            let mut ours = String::new();
            escape(&mut ours, s);
            assert_eq!(ours, serde_json::to_string(s).unwrap(), "{s:?}");
        }
        // Strings are scanned 8 bytes at a time: each byte that needs escaping, and its
        // neighbours that do not (0x1f, 0x20, `!`, `#`, `[`, `]`, 0x7f, a multi-byte char),
        // at every place in and around a word, alone and in pairs.
        let bytes = ["\"", "\\", "\n", "\u{0}", "\u{1f}", " ", "!", "#", "[", "]", "\u{7f}", "é", "日"];
        for a in bytes {
            for b in bytes {
                for at in 0..20 {
                    for gap in [0, 1, 7, 8, 9] {
                        let s = format!("{}{a}{}{b}{}", "x".repeat(at), "y".repeat(gap), "z".repeat(at % 9));
                        let mut ours = String::new();
                        escape(&mut ours, &s);
                        assert_eq!(ours, serde_json::to_string(&s).unwrap(), "{s:?}");
                    }
                }
            }
        }
    }
}
