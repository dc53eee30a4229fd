//! What `sockeye rpc` sends, read from its arguments: one method with
//! its `PARAMS_JSON`, or the calls of a `--batch` file; anything the
//! specification would not take is refused here, before connecting.

use std::io::Read as _;
use std::path::Path;

use serde_json::value::RawValue;
use sockeye_rpc::Batch;

/// One call (or notification), or a batch.
#[derive(Debug)]
pub(super) enum What {
    /// A method and its params (`None`: left out).
    One {
        method: String,
        params: Option<Box<RawValue>>,
    },
    /// The calls and notifications of a `--batch` file.
    Batch(Batch),
}

impl What {
    /// Reads the arguments; `limit` bounds the size of a batch file.
    ///
    /// # Errors
    ///
    /// Why the arguments cannot be sent, for the usage error.
    pub(super) fn from_args(
        method: Option<&str>,
        params: Option<&str>,
        batch: Option<&Path>,
        limit: usize,
    ) -> Result<What, String> {
        if let Some(path) = batch {
            return read_batch(path, limit).map(What::Batch);
        }
        let method = method.ok_or("a METHOD is needed")?.to_owned();
        let params = params
            .map(|text| structured(text).map_err(|why| format!("PARAMS_JSON {why}")))
            .transpose()?;
        Ok(What::One { method, params })
    }
}

/// `text` as params: a JSON array or object (section 4.2).
///
/// # Errors
///
/// What `text` is instead, to follow the name of the argument.
pub(crate) fn structured(text: &str) -> Result<Box<RawValue>, String> {
    let raw: Box<RawValue> = serde_json::from_str(text).map_err(|e| format!("is not JSON: {e}"))?;
    match raw.get().as_bytes().first() {
        Some(b'[' | b'{') => Ok(raw),
        _ => Err(format!(
            "must be a JSON array or object, not {}",
            kind(raw.get())
        )),
    }
}

/// What kind of JSON value `text` is, for an error message.
fn kind(text: &str) -> &'static str {
    match text.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// One member of a batch file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Member {
    method: String,
    #[serde(default)]
    params: Option<Box<RawValue>>,
    #[serde(default)]
    notify: bool,
}

/// The batch in the file at `path` (`-`: stdin), read up to `limit`
/// bytes.
fn read_batch(path: &Path, limit: usize) -> Result<Batch, String> {
    let name = path.display();
    let mut text = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let read = if path.as_os_str() == "-" {
        std::io::stdin().take(cap).read_to_end(&mut text)
    } else {
        std::fs::File::open(path).and_then(|file| file.take(cap).read_to_end(&mut text))
    };
    read.map_err(|e| format!("--batch {name}: {e}"))?;
    if text.len() > limit {
        return Err(format!(
            "--batch {name}: larger than --max-message-size ({limit} bytes)"
        ));
    }
    parse_batch(&text).map_err(|why| format!("--batch {name}: {why}"))
}

/// A batch file's text as a batch.
fn parse_batch(text: &[u8]) -> Result<Batch, String> {
    let members: Vec<Member> = serde_json::from_slice(text)
        .map_err(|e| format!("expected a JSON array of {{\"method\": M, \"params\": P}}: {e}"))?;
    if members.is_empty() {
        return Err("an empty batch (the specification refuses `[]`)".to_owned());
    }
    let mut batch = Batch::new();
    for (at, member) in members.into_iter().enumerate() {
        let params = match member.params {
            None => None,
            Some(raw) if raw.get() == "null" => None,
            Some(raw) => Some(
                structured(raw.get()).map_err(|why| format!("call {}: params {why}", at + 1))?,
            ),
        };
        let added = if member.notify {
            batch.notify(&member.method, &params)
        } else {
            batch.call(&member.method, &params)
        };
        added.map_err(|e| format!("call {}: {e}", at + 1))?;
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_must_be_an_array_or_an_object() {
        assert!(structured("[42, 23]").is_ok());
        assert!(structured(r#"{"a": 1}"#).is_ok());
        for (text, needle) in [
            ("42", "a number"),
            ("\"x\"", "a string"),
            ("true", "a boolean"),
            ("null", "null"),
            ("[1,", "not JSON"),
        ] {
            let why = structured(text).expect_err(text);
            assert!(why.contains(needle), "{why:?} lacks {needle:?}");
        }
    }

    #[test]
    fn batch_files_list_calls() {
        let batch = parse_batch(
            br#"[{"method":"a","params":[1]},{"method":"b","notify":true},{"method":"c","params":null}]"#,
        )
        .expect("a batch");
        assert_eq!(batch.len(), 3);
        for (text, needle) in [
            (&b"[]"[..], "empty"),
            (b"{}", "array"),
            (br#"[{"params":[]}]"#, "method"),
            (br#"[{"method":"a","params":3}]"#, "call 1"),
            (br#"[{"method":"a","id":3}]"#, "unknown field"),
        ] {
            let why = parse_batch(text).expect_err("an error");
            assert!(why.contains(needle), "{why:?} lacks {needle:?}");
        }
    }
}
