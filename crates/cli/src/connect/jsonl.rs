//! The JSON lines of `--jsonl`: the events printed on stdout, and the
//! commands read from stdin, each one object on one line with a `type`.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use sockeye::{CloseCode, Message};

use super::outgoing::Outgoing;

/// The `open` event: the agreed subprotocol and extensions, and the
/// headers of the server's 101 answer (repeated names joined with `, `).
pub(super) fn open(protocol: Option<&str>, response: &http::Response<()>) -> Value {
    let mut headers = Map::new();
    for name in response.headers().keys() {
        let values: Vec<String> = response
            .headers()
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        headers.insert(name.as_str().to_owned(), Value::String(values.join(", ")));
    }
    let extensions = response
        .headers()
        .get(http::header::SEC_WEBSOCKET_EXTENSIONS)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    json!({
        "type": "open",
        "protocol": protocol,
        "extensions": extensions,
        "headers": headers,
    })
}

/// A `text` or `binary` event (binary data in standard base64).
pub(super) fn message(message: &Message) -> Value {
    match message {
        Message::Text(text) => json!({"type": "text", "data": text.as_str()}),
        Message::Binary(data) => json!({
            "type": "binary",
            "data": base64::engine::general_purpose::STANDARD.encode(data),
        }),
    }
}

/// A `ping` event: the peer's Ping (already answered).
pub(super) fn ping(payload: &[u8]) -> Value {
    control("ping", payload)
}

/// A `pong` event, with `rtt_ms` when it answers our last Ping.
pub(super) fn pong(payload: &[u8], rtt: Option<Duration>) -> Value {
    let mut event = control("pong", payload);
    if let (Some(rtt), Value::Object(fields)) = (rtt, &mut event) {
        fields.insert("rtt_ms".to_owned(), json!(rtt.as_secs_f64() * 1000.0));
    }
    event
}

/// A control frame's event: its payload as `data` when it is UTF-8 text,
/// otherwise as `base64`.
fn control(kind: &str, payload: &[u8]) -> Value {
    match std::str::from_utf8(payload) {
        Ok(text) => json!({"type": kind, "data": text}),
        Err(_) => json!({
            "type": kind,
            "base64": base64::engine::general_purpose::STANDARD.encode(payload),
        }),
    }
}

/// A `close` event: the code and reason, and whether the closing
/// handshake completed.
pub(super) fn close(code: CloseCode, reason: &str, clean: bool) -> Value {
    json!({"type": "close", "code": code.as_u16(), "reason": reason, "clean": clean})
}

/// An `error` event.
pub(super) fn error(message: &str) -> Value {
    json!({"type": "error", "message": message})
}

/// A command read from stdin: `text`, `binary` (base64), `ping` (payload
/// optional: text in `data` or bytes in `base64`) or `close` (code,
/// default 1000, and reason, optional).
pub(super) fn parse_command(line: &[u8]) -> Result<Outgoing, String> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let Value::Object(object) = value else {
        return Err("not a JSON object".to_owned());
    };
    let kind = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or("no \"type\" string")?;
    let data = |required: bool| -> Result<Option<&str>, String> {
        match object.get("data") {
            Some(Value::String(text)) => Ok(Some(text)),
            None if !required => Ok(None),
            None => Err(format!("a {kind:?} command needs a \"data\" string")),
            Some(_) => Err("\"data\" must be a string".to_owned()),
        }
    };
    match kind {
        "text" => Ok(Outgoing::Message(Message::text(
            data(true)?.unwrap_or_default().to_owned(),
        ))),
        "binary" => {
            let encoded = data(true)?.unwrap_or_default();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| format!("\"data\" is not base64: {e}"))?;
            Ok(Outgoing::Message(Message::binary(bytes)))
        }
        "ping" => match object.get("base64") {
            None => Ok(Outgoing::Ping(Bytes::from(
                data(false)?.unwrap_or_default().to_owned(),
            ))),
            Some(Value::String(encoded)) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map(|bytes| Outgoing::Ping(Bytes::from(bytes)))
                .map_err(|e| format!("\"base64\" is not base64: {e}")),
            Some(_) => Err("\"base64\" must be a string".to_owned()),
        },
        "close" => {
            let code = match object.get("code") {
                None => CloseCode::NORMAL,
                Some(value) => value
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .map(CloseCode::from)
                    .ok_or("\"code\" must be a number from 0 to 65535")?,
            };
            let reason = match object.get("reason") {
                None => String::new(),
                Some(Value::String(reason)) => reason.clone(),
                Some(_) => return Err("\"reason\" must be a string".to_owned()),
            };
            Ok(Outgoing::Close(code, reason))
        }
        other => Err(format!(
            "unknown \"type\" {other:?} (text, binary, ping or close)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_into_what_is_sent() {
        assert!(matches!(
            parse_command(br#"{"type":"text","data":"hi"}"#),
            Ok(Outgoing::Message(m)) if m == Message::text("hi")
        ));
        assert!(matches!(
            parse_command(br#"{"type":"binary","data":"AAH/"}"#),
            Ok(Outgoing::Message(m)) if m == Message::binary(vec![0, 1, 255])
        ));
        assert!(matches!(
            parse_command(br#"{"type":"ping"}"#),
            Ok(Outgoing::Ping(p)) if p.is_empty()
        ));
        assert!(matches!(
            parse_command(br#"{"type":"ping","base64":"AP8="}"#),
            Ok(Outgoing::Ping(p)) if p[..] == [0, 255]
        ));
        assert!(matches!(
            parse_command(br#"{"type":"close","code":4000,"reason":"done"}"#),
            Ok(Outgoing::Close(c, r)) if c.as_u16() == 4000 && r == "done"
        ));
    }

    #[test]
    fn control_frames_print_text_as_data_and_bytes_as_base64() {
        assert_eq!(ping(b"hi"), json!({"type": "ping", "data": "hi"}));
        assert_eq!(ping(&[0, 255]), json!({"type": "ping", "base64": "AP8="}));
        assert_eq!(pong(b"", None), json!({"type": "pong", "data": ""}));
        let timed = pong(b"1", Some(Duration::from_millis(2)));
        assert_eq!(timed["rtt_ms"], json!(2.0));
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        for (line, needle) in [
            (&b"nope"[..], "JSON"),
            (b"[1]", "object"),
            (b"{}", "type"),
            (br#"{"type":"text"}"#, "data"),
            (br#"{"type":"binary","data":"***"}"#, "base64"),
            (br#"{"type":"close","code":70000}"#, "code"),
            (br#"{"type":"ping","base64":"@"}"#, "base64"),
            (br#"{"type":"shout"}"#, "shout"),
        ] {
            let error = parse_command(line).expect_err("an error");
            assert!(error.contains(needle), "{error:?} lacks {needle:?}");
        }
    }
}
