//! The examples of the JSON-RPC 2.0 specification, section 7, each sent
//! to [`answer`] with the methods they assume, and hostile inputs. Each
//! test names the section it checks.

use serde_json::Value;
use serde_json::value::{RawValue, to_raw_value};
use sockeye_rpc::{Batches, ErrorObject, Handler, Notification, Request, Response, answer};

/// The methods section 7 calls: `subtract` (by position or by name),
/// `sum`, `get_data`; the notifications it sends are kept.
#[derive(Default)]
struct Examples {
    notified: Vec<String>,
    responses: Vec<Response>,
}

fn params<T: serde::de::DeserializeOwned>(request: &Request) -> Result<T, ErrorObject> {
    let params = request
        .params
        .as_ref()
        .ok_or_else(ErrorObject::invalid_params)?;
    serde_json::from_str(params.get()).map_err(|_| ErrorObject::invalid_params())
}

fn raw<T: serde::Serialize>(value: &T) -> Box<RawValue> {
    to_raw_value(value).unwrap()
}

impl Handler for Examples {
    fn call(&mut self, request: &Request) -> Result<Box<RawValue>, ErrorObject> {
        match request.method.as_str() {
            "subtract" => {
                let text = request.params.as_ref().map_or("", |p| p.get());
                let (a, b) = if text.starts_with('{') {
                    let named: serde_json::Map<String, Value> = params(request)?;
                    let get = |k: &str| named.get(k).and_then(Value::as_i64);
                    (
                        get("minuend").ok_or_else(ErrorObject::invalid_params)?,
                        get("subtrahend").ok_or_else(ErrorObject::invalid_params)?,
                    )
                } else {
                    params::<(i64, i64)>(request)?
                };
                Ok(raw(&(a - b)))
            }
            "sum" => Ok(raw(&params::<Vec<i64>>(request)?.iter().sum::<i64>())),
            "get_data" => Ok(raw(&("hello", 5))),
            _ => Err(ErrorObject::method_not_found()),
        }
    }

    fn notify(&mut self, notification: &Notification) {
        self.notified.push(notification.method.clone());
    }

    fn response(&mut self, response: Response) {
        self.responses.push(response);
    }
}

/// What `answer` sends back for `sent`, as JSON (or `None`).
fn exchange(sent: &str) -> (Option<Value>, Examples) {
    let mut examples = Examples::default();
    let reply = answer(sent, Batches::Upto(100), &mut examples);
    (reply.map(|r| serde_json::from_str(&r).unwrap()), examples)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn s7_positional_parameters() {
    let (reply, _) =
        exchange(r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#);
    assert_eq!(
        reply,
        Some(json(r#"{"jsonrpc": "2.0", "result": 19, "id": 1}"#))
    );
    let (reply, _) =
        exchange(r#"{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}"#);
    assert_eq!(
        reply,
        Some(json(r#"{"jsonrpc": "2.0", "result": -19, "id": 2}"#))
    );
}

#[test]
fn s7_named_parameters() {
    let (reply, _) = exchange(
        r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}"#,
    );
    assert_eq!(
        reply,
        Some(json(r#"{"jsonrpc": "2.0", "result": 19, "id": 3}"#))
    );
    let (reply, _) = exchange(
        r#"{"jsonrpc": "2.0", "method": "subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}"#,
    );
    assert_eq!(
        reply,
        Some(json(r#"{"jsonrpc": "2.0", "result": 19, "id": 4}"#))
    );
}

#[test]
fn s7_notifications_get_no_answer() {
    let (reply, seen) =
        exchange(r#"{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}"#);
    assert_eq!(reply, None);
    let (reply, more) = exchange(r#"{"jsonrpc": "2.0", "method": "foobar"}"#);
    assert_eq!(reply, None);
    assert_eq!(
        (seen.notified, more.notified),
        (vec!["update".to_owned()], vec!["foobar".to_owned()])
    );
}

#[test]
fn s7_non_existent_method() {
    let (reply, _) = exchange(r#"{"jsonrpc": "2.0", "method": "foobar", "id": "1"}"#);
    assert_eq!(
        reply,
        Some(json(
            r#"{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}"#
        ))
    );
}

#[test]
fn s7_invalid_json() {
    let (reply, _) = exchange(r#"{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]"#);
    assert_eq!(
        reply,
        Some(json(
            r#"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#
        ))
    );
}

#[test]
fn s7_invalid_request_object() {
    let (reply, _) = exchange(r#"{"jsonrpc": "2.0", "method": 1, "params": "bar"}"#);
    assert_eq!(
        reply,
        Some(json(
            r#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#
        ))
    );
}

#[test]
fn s7_batch_invalid_json() {
    let (reply, _) = exchange(
        r#"[
  {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
  {"jsonrpc": "2.0", "method"
]"#,
    );
    assert_eq!(
        reply,
        Some(json(
            r#"{"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse error"}, "id": null}"#
        ))
    );
}

#[test]
fn s7_empty_array() {
    let (reply, _) = exchange("[]");
    assert_eq!(
        reply,
        Some(json(
            r#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#
        ))
    );
}

#[test]
fn s7_invalid_batch_but_not_empty() {
    let (reply, _) = exchange("[1]");
    assert_eq!(
        reply,
        Some(json(
            r#"[{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}]"#
        ))
    );
}

#[test]
fn s7_invalid_batch() {
    let (reply, _) = exchange("[1,2,3]");
    let one = json(
        r#"{"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null}"#,
    );
    assert_eq!(
        reply,
        Some(Value::Array(vec![one.clone(), one.clone(), one]))
    );
}

#[test]
fn s7_batch() {
    let (reply, seen) = exchange(
        r#"[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
    ]"#,
    );
    assert_eq!(
        reply,
        Some(json(
            r#"[
        {"jsonrpc": "2.0", "result": 7, "id": "1"},
        {"jsonrpc": "2.0", "result": 19, "id": "2"},
        {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
        {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "5"},
        {"jsonrpc": "2.0", "result": ["hello", 5], "id": "9"}
    ]"#
        ))
    );
    assert_eq!(seen.notified, ["notify_hello"]);
}

#[test]
fn s7_batch_all_notifications() {
    let (reply, seen) = exchange(
        r#"[
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
    ]"#,
    );
    assert_eq!(reply, None, "nothing at all, not even an empty array");
    assert_eq!(seen.notified, ["notify_sum", "notify_hello"]);
}

/// Section 4: ids are echoed exactly, whatever their size or form; a null
/// id is a request (answered), an absent one a notification.
#[test]
fn s4_ids_are_echoed_to_the_letter() {
    for id in [
        "0",
        "-1",
        "1.5",
        "1e400",
        "123456789012345678901234567890",
        r#""""#,
        r#""x y""#,
        "null",
    ] {
        let sent = format!(r#"{{"jsonrpc":"2.0","method":"get_data","id":{id}}}"#);
        let mut examples = Examples::default();
        let reply = answer(&sent, Batches::Upto(10), &mut examples).unwrap();
        assert!(reply.ends_with(&format!(r#""id":{id}}}"#)), "{id}: {reply}");
    }
}

/// Section 4: `params` must be structured; `jsonrpc` must be exactly
/// "2.0"; an id must be a string, a number or null; a member may not
/// come twice. An invalid request with a readable id gets that id back.
#[test]
fn s4_hostile_requests_are_invalid() {
    for (sent, id) in [
        (r#"{"jsonrpc":"2.0","method":"sum","params":3,"id":1}"#, "1"),
        (
            r#"{"jsonrpc":"2.0","method":"sum","params":"x","id":2}"#,
            "2",
        ),
        (
            r#"{"jsonrpc":"2.0","method":"sum","params":null,"id":3}"#,
            "3",
        ),
        (
            r#"{"jsonrpc":"2.1","method":"sum","params":[1],"id":4}"#,
            "4",
        ),
        (r#"{"jsonrpc":2.0,"method":"sum","params":[1],"id":5}"#, "5"),
        (r#"{"method":"sum","params":[1],"id":6}"#, "6"),
        (
            r#"{"jsonrpc":"2.0","method":"sum","params":[1],"id":{"a":1}}"#,
            "null",
        ),
        (
            r#"{"jsonrpc":"2.0","method":"sum","params":[1],"id":[7]}"#,
            "null",
        ),
        (
            r#"{"jsonrpc":"2.0","method":"sum","method":"sum","id":8}"#,
            "null",
        ),
        (r#""just a string""#, "null"),
        ("42", "null"),
    ] {
        let mut examples = Examples::default();
        let reply: Value =
            serde_json::from_str(&answer(sent, Batches::Upto(10), &mut examples).unwrap()).unwrap();
        assert_eq!(reply["error"]["code"], -32600, "{sent}");
        assert_eq!(reply["id"], json(id), "{sent}");
    }
}

/// Methods whose names begin with `rpc.` are reserved: none is served
/// here, so they are not found.
#[test]
fn s4_rpc_prefixed_names_are_not_found() {
    let (reply, _) = exchange(r#"{"jsonrpc":"2.0","method":"rpc.discover","id":1}"#);
    assert_eq!(reply.unwrap()["error"]["code"], -32601);
}

/// Deep nesting is read without a stack overflow: the message is valid
/// JSON, so it reaches the method, whose parameters it cannot be.
#[test]
fn deep_nesting_reaches_the_method_without_overflowing() {
    let deep = format!(
        r#"{{"jsonrpc":"2.0","method":"sum","params":{}{},"id":1}}"#,
        "[".repeat(1_000_000),
        "]".repeat(1_000_000)
    );
    let (reply, _) = exchange(&deep);
    assert_eq!(reply.unwrap()["error"]["code"], -32602);
    let (reply, _) = exchange(&"[".repeat(1_000_000));
    assert_eq!(reply.unwrap()["error"]["code"], -32700);
}

/// Responses to this peer's own requests go to the handler and get no
/// answer; one without an id, or with both a result and an error, is
/// invalid.
#[test]
fn s5_responses_are_taken_not_answered() {
    let (reply, seen) = exchange(r#"{"jsonrpc":"2.0","result":{"a":[1,2]},"id":7}"#);
    assert_eq!(reply, None);
    assert_eq!(seen.responses.len(), 1);
    assert_eq!(seen.responses[0].id.as_u64(), Some(7));
    let (reply, seen) = exchange(
        r#"{"jsonrpc":"2.0","error":{"code":-32000,"message":"busy","data":[1]},"id":"x"}"#,
    );
    assert_eq!(reply, None);
    let error = seen.responses[0].outcome.as_ref().unwrap_err();
    assert_eq!(
        (error.code, error.data.as_ref().unwrap().get()),
        (-32000, "[1]")
    );
    for sent in [
        r#"{"jsonrpc":"2.0","result":1}"#,
        r#"{"jsonrpc":"2.0","result":1,"error":{"code":1,"message":"m"},"id":1}"#,
        r#"{"jsonrpc":"2.0","error":{"code":1.5,"message":"m"},"id":1}"#,
        r#"{"jsonrpc":"2.0","error":{"message":"m"},"id":1}"#,
    ] {
        let (reply, _) = exchange(sent);
        assert_eq!(reply.unwrap()["error"]["code"], -32600, "{sent}");
    }
}

/// A peer whose protocol forbids batches (LSP, MCP) answers one with a
/// single Invalid Request; a batch over the limit is answered so too.
#[test]
fn batches_can_be_refused_or_bounded() {
    let batch = r#"[{"jsonrpc":"2.0","method":"get_data","id":1},{"jsonrpc":"2.0","method":"get_data","id":2}]"#;
    for batches in [Batches::Refused, Batches::Upto(1)] {
        let mut examples = Examples::default();
        let reply: Value =
            serde_json::from_str(&answer(batch, batches, &mut examples).unwrap()).unwrap();
        assert_eq!(reply["error"]["code"], -32600);
        assert_eq!(reply["id"], Value::Null);
    }
}
