//! JSON text laid out again, compact (as `jq -c` prints it) or indented
//! (as `jq` does), token by token: strings and numbers stay exactly as
//! they came, where a `serde_json::Value` would round numbers past 64
//! bits and rewrite escapes. What `sockeye rpc` prints its results with,
//! and `sockeye connect --jsonrpc` its params and results.

/// `text` with no whitespace between tokens.
pub(crate) fn compact(text: &str) -> String {
    layout(text, None)
}

/// `text` indented by two spaces a level, one member or element a line;
/// empty arrays and objects stay `[]` and `{}`.
pub(crate) fn pretty(text: &str) -> String {
    layout(text, Some("  "))
}

/// Rewrites the whitespace of `text`: none, or newlines with `indent`.
/// Text that is not JSON comes out with its whitespace outside strings
/// rearranged the same way, never a panic.
fn layout(text: &str, indent: Option<&str>) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut chars = text.chars().peekable();
    let mut depth = 0usize;
    let newline = |out: &mut String, depth: usize| {
        if let Some(indent) = indent {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(indent);
            }
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push(c);
                let mut escaped = false;
                for c in chars.by_ref() {
                    out.push(c);
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => break,
                        _ => {}
                    }
                }
            }
            // The whitespace JSON allows between tokens (RFC 8259 §2).
            ' ' | '\t' | '\n' | '\r' => {}
            '{' | '[' => {
                out.push(c);
                while chars
                    .next_if(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
                    .is_some()
                {}
                if let Some(close) = chars.next_if(|c| matches!(c, '}' | ']')) {
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(if indent.is_some() { ": " } else { ":" }),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_drops_whitespace_outside_strings_only() {
        assert_eq!(
            compact(" { \"a b\" : [ 1 , 2 ] ,\n\"c\":{ } } "),
            r#"{"a b":[1,2],"c":{}}"#
        );
        assert_eq!(compact(r#""x \" y""#), r#""x \" y""#);
    }

    #[test]
    fn numbers_and_escapes_stay_as_they_came() {
        let text = r#"[123456789012345678901234567890, 1.50, "\u00e9\\"]"#;
        assert_eq!(
            compact(text),
            r#"[123456789012345678901234567890,1.50,"\u00e9\\"]"#
        );
    }

    #[test]
    fn pretty_indents_as_jq_does() {
        assert_eq!(
            pretty(r#"{"a":[1,{"b":null}],"e":[],"o":{}}"#),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"e\": [],\n  \"o\": {}\n}"
        );
        assert_eq!(pretty("19"), "19");
    }

    #[test]
    fn text_that_is_not_json_does_not_panic() {
        for text in ["]]]", "{\"a", "\"\\", "[", "}{"] {
            let _ = pretty(text);
            let _ = compact(text);
        }
    }
}
