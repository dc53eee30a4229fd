//! Lone UTF-16 surrogates in JSON string escapes.
//!
//! A JavaScript string may hold half of a surrogate pair (a truncated emoji, say), and
//! `JSON.stringify` writes it as an escape such as `\ud83d`. Rust strings cannot hold it, so
//! `serde_json` refuses the whole payload. Node's server would take such a packet, so rather
//! than dropping the connection we read each lone surrogate as U+FFFD, the character any
//! UTF-8 encoder of that string (`TextEncoder`, Node's `Buffer`) puts in its place.

/// `text` with every lone surrogate escape replaced by `\ufffd`, or `None` when it has none
/// (so the caller knows a retry would fail the same way).
pub(crate) fn replace_lone_surrogates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        let Some(unit) = escaped_unit(bytes, i) else {
            // Some other escape (`\"`, `\\`, ...): skip both characters.
            i += 2;
            continue;
        };
        let paired = match unit {
            0xD800..=0xDBFF => {
                escaped_unit(bytes, i + 6).is_some_and(|u| (0xDC00..=0xDFFF).contains(&u))
            }
            0xDC00..=0xDFFF => false,
            _ => {
                i += 6;
                continue;
            }
        };
        if paired {
            i += 12;
            continue;
        }
        out.push_str(&text[copied..i]);
        out.push_str("\\ufffd");
        i += 6;
        copied = i;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// The code unit of a `\uXXXX` escape starting at `at`, if there is one.
fn escaped_unit(bytes: &[u8], at: usize) -> Option<u16> {
    let escape = bytes.get(at..at + 6)?;
    if escape[0] != b'\\' || escape[1] != b'u' {
        return None;
    }
    let hex = std::str::from_utf8(&escape[2..]).ok()?;
    u16::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lone high or low surrogate becomes U+FFFD; a pair and other escapes stay.
    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(
            replace_lone_surrogates(r#"["a\ud83db","\uDC00"]"#).as_deref(),
            Some(r#"["a\ufffdb","\ufffd"]"#)
        );
        assert_eq!(
            replace_lone_surrogates(r#"["\ud83d\ude00","\\ud83d","\u00e9\n"]"#),
            None
        );
        assert_eq!(
            replace_lone_surrogates(r#"["\ud83d\ud83d\ude00"]"#).as_deref(),
            Some(r#"["\ufffd\ud83d\ude00"]"#)
        );
        assert_eq!(replace_lone_surrogates(r#"["\ud83"]"#), None);
    }
}
