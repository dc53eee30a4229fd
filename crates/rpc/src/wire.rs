//! Writing the messages a connection sends, straight into one buffer
//! each: the params or result are serialized in place, not first into a
//! value of their own.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::call_error::CallError;
use crate::error::ErrorObject;
use crate::id::Id;

const VERSION_AND_METHOD: &[u8] = br#"{"jsonrpc":"2.0","method":"#;
const VERSION_AND_RESULT: &[u8] = br#"{"jsonrpc":"2.0","result":"#;
const VERSION_AND_ERROR: &[u8] = br#"{"jsonrpc":"2.0","error":"#;

/// A request (with `id`) or a notification (without): `params` must
/// serialize to an array or an object, or to `null`, which leaves the
/// member out.
pub(crate) fn call<P: Serialize + ?Sized>(
    method: &str,
    params: &P,
    id: Option<u64>,
) -> Result<String, CallError> {
    let mut buf = Vec::with_capacity(64 + method.len());
    buf.extend_from_slice(VERSION_AND_METHOD);
    write_json(&mut buf, method);
    let before = buf.len();
    buf.extend_from_slice(br#","params":"#);
    let start = buf.len();
    serde_json::to_writer(&mut buf, params).map_err(CallError::Encode)?;
    match buf[start] {
        b'[' | b'{' => {}
        b'n' => buf.truncate(before),
        _ => return Err(CallError::Params),
    }
    if let Some(id) = id {
        buf.extend_from_slice(br#","id":"#);
        buf.extend_from_slice(itoa(id).as_bytes());
    }
    buf.push(b'}');
    Ok(into_string(buf))
}

/// A response carrying `result`; an Internal error response when the
/// result cannot be serialized.
pub(crate) fn result<R: Serialize + ?Sized>(id: &Id, result: &R) -> String {
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(VERSION_AND_RESULT);
    if serde_json::to_writer(&mut buf, result).is_err() {
        return error(id, &ErrorObject::internal_error());
    }
    finish(buf, id)
}

/// A response carrying a result that is JSON text already.
pub(crate) fn raw_result(id: &Id, result: &RawValue) -> String {
    let mut buf = Vec::with_capacity(40 + result.get().len());
    buf.extend_from_slice(VERSION_AND_RESULT);
    buf.extend_from_slice(result.get().as_bytes());
    finish(buf, id)
}

/// A response carrying `error`.
pub(crate) fn error(id: &Id, error: &ErrorObject) -> String {
    let mut buf = Vec::with_capacity(96);
    buf.extend_from_slice(VERSION_AND_ERROR);
    write_json(&mut buf, error);
    finish(buf, id)
}

/// The members of a batch's answer joined into one array.
pub(crate) fn batch(responses: &[String]) -> String {
    let mut text = String::with_capacity(2 + responses.iter().map(|r| r.len() + 1).sum::<usize>());
    text.push('[');
    for (i, response) in responses.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(response);
    }
    text.push(']');
    text
}

/// Appends `,"id":ID}` and makes the text.
fn finish(mut buf: Vec<u8>, id: &Id) -> String {
    buf.extend_from_slice(br#","id":"#);
    match id {
        Id::Null => buf.extend_from_slice(b"null"),
        Id::Number(text) => buf.extend_from_slice(text.as_bytes()),
        Id::String(s) => write_json(&mut buf, s.as_str()),
    }
    buf.push(b'}');
    into_string(buf)
}

/// Serializes a value that cannot fail to serialize (a string, an error
/// object) into `buf`.
fn write_json<T: Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(&mut *buf, value);
}

fn itoa(n: u64) -> String {
    n.to_string()
}

/// The buffer as text: `serde_json` writes only UTF-8, so this never
/// replaces anything; the check is kept rather than trusted blindly.
fn into_string(buf: Vec<u8>) -> String {
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_leave_out_null_params_and_refuse_primitive_ones() {
        assert_eq!(
            call("add", &(1, 2), Some(7)).unwrap(),
            r#"{"jsonrpc":"2.0","method":"add","params":[1,2],"id":7}"#
        );
        assert_eq!(
            call("tick", &(), None).unwrap(),
            r#"{"jsonrpc":"2.0","method":"tick"}"#
        );
        assert!(matches!(call("x", &5, Some(1)), Err(CallError::Params)));
        assert!(matches!(call("x", "s", Some(1)), Err(CallError::Params)));
    }

    #[test]
    fn responses_echo_the_id_as_it_came() {
        let id = Id::Number("-1.50".into());
        assert_eq!(
            result(&id, &true),
            r#"{"jsonrpc":"2.0","result":true,"id":-1.50}"#
        );
        assert_eq!(
            error(&Id::String("a\"b".into()), &ErrorObject::method_not_found()),
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"a\"b"}"#
        );
        assert_eq!(batch(&["1".into(), "2".into()]), "[1,2]");
    }
}
