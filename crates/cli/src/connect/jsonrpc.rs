//! `sockeye connect --jsonrpc`: every text message, sent or received,
//! read as JSON-RPC 2.0 and shown for what it is. A request's id is
//! remembered, by direction, until its response comes, so the response
//! is shown with the method it answers and the round-trip time; a batch
//! is shown member by member; what is not JSON-RPC is flagged.
//!
//! Typed or piped lines are sent as they are when they are JSON; a line
//! `METHOD [PARAMS]` becomes a request with the next free id.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use sockeye::Message;
use sockeye_rpc::{ErrorObject, Id, Incoming, Parsed};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::json_text;
use crate::rpc::structured;

/// Requests remembered per direction while they wait for their
/// responses. A peer that never answers cannot grow memory past it;
/// responses to requests beyond it are shown without their method.
/// 4,096: far more calls than a person or a script keeps in flight.
const MAX_WAITING: usize = 4096;

/// Which way a message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Direction {
    /// From this client to the server.
    Sent,
    /// From the server.
    Received,
}

impl Direction {
    fn index(self) -> usize {
        match self {
            Direction::Sent => 0,
            Direction::Received => 1,
        }
    }

    fn other(self) -> Direction {
        match self {
            Direction::Sent => Direction::Received,
            Direction::Received => Direction::Sent,
        }
    }

    /// `>` for sent, `<` for received, as the interactive prompt marks
    /// them.
    pub(super) fn marker(self) -> &'static str {
        match self {
            Direction::Sent => ">",
            Direction::Received => "<",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Direction::Sent => "out",
            Direction::Received => "in",
        }
    }
}

/// One message, or one member of a batch, as it was read.
#[derive(Debug)]
pub(super) struct Seen {
    pub(super) direction: Direction,
    /// Its place in a batch and the batch's size, when in one.
    pub(super) batch: Option<(usize, usize)>,
    pub(super) kind: Kind,
}

/// What a message is.
#[derive(Debug)]
pub(super) enum Kind {
    /// A request: it wants a response with its id.
    Call {
        id: Id,
        method: String,
        params: Option<Box<RawValue>>,
    },
    /// A notification: no response.
    Notification {
        method: String,
        params: Option<Box<RawValue>>,
    },
    /// A response with a result, with the method of the request it
    /// answers (when that request was seen) and the time since it.
    Result {
        id: Id,
        answers: Option<(String, Duration)>,
        result: Box<RawValue>,
    },
    /// A response with an error, as [`Kind::Result`].
    Error {
        id: Id,
        answers: Option<(String, Duration)>,
        error: ErrorObject,
    },
    /// Not JSON-RPC: why, and the text when it is the whole message.
    Invalid {
        why: &'static str,
        text: Option<String>,
    },
}

/// The requests of both directions still waiting for responses, and the
/// ids of the `METHOD [PARAMS]` shorthand.
#[derive(Debug, Default)]
pub(super) struct Tracker {
    /// By the direction the request went, then by id: its method and
    /// when it went.
    waiting: [HashMap<Id, (String, Instant)>; 2],
    /// The last id the shorthand gave.
    last_id: u64,
}

impl Tracker {
    /// Reads a text message that went `direction` at `now`.
    pub(super) fn read(&mut self, direction: Direction, text: &str, now: Instant) -> Vec<Seen> {
        let seen = |batch, kind| Seen {
            direction,
            batch,
            kind,
        };
        let invalid = |why| {
            vec![seen(
                None,
                Kind::Invalid {
                    why,
                    text: Some(text.to_owned()),
                },
            )]
        };
        match sockeye_rpc::parse(text) {
            Err(error) if error.code == sockeye_rpc::PARSE_ERROR => invalid("not JSON"),
            Err(_) => invalid("an empty batch"),
            Ok(Incoming::One(Parsed::Invalid { .. })) => {
                invalid("not a JSON-RPC 2.0 request or response")
            }
            Ok(Incoming::One(Parsed::Message(message))) => {
                vec![seen(None, self.kind(direction, message, now))]
            }
            Ok(Incoming::Batch(members)) => {
                let size = members.len();
                members
                    .into_iter()
                    .enumerate()
                    .map(|(at, member)| {
                        let kind = match member {
                            Parsed::Message(message) => self.kind(direction, message, now),
                            Parsed::Invalid { .. } => Kind::Invalid {
                                why: "not a JSON-RPC 2.0 request or response",
                                text: None,
                            },
                        };
                        seen(Some((at, size)), kind)
                    })
                    .collect()
            }
        }
    }

    /// What `message` is; a request is remembered, a response matched.
    fn kind(&mut self, direction: Direction, message: sockeye_rpc::Message, now: Instant) -> Kind {
        match message {
            sockeye_rpc::Message::Request(request) => {
                let waiting = &mut self.waiting[direction.index()];
                if waiting.len() < MAX_WAITING {
                    waiting.insert(request.id.clone(), (request.method.clone(), now));
                }
                Kind::Call {
                    id: request.id,
                    method: request.method,
                    params: request.params,
                }
            }
            sockeye_rpc::Message::Notification(notification) => Kind::Notification {
                method: notification.method,
                params: notification.params,
            },
            sockeye_rpc::Message::Response(response) => {
                // A response answers a request that went the other way.
                let answers = self.waiting[direction.other().index()]
                    .remove(&response.id)
                    .map(|(method, at)| (method, now.saturating_duration_since(at)));
                match response.outcome {
                    Ok(result) => Kind::Result {
                        id: response.id,
                        answers,
                        result,
                    },
                    Err(error) => Kind::Error {
                        id: response.id,
                        answers,
                        error,
                    },
                }
            }
        }
    }

    /// The request a typed `METHOD [PARAMS]` line stands for, with the
    /// next id none of this side's waiting requests holds; `None` when
    /// the line is to be sent as it is (it is JSON, or starts like it).
    ///
    /// # Errors
    ///
    /// When PARAMS is not a JSON array or object.
    pub(super) fn expand(&mut self, line: &str) -> Result<Option<String>, String> {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with(['{', '['])
            || serde_json::from_str::<&RawValue>(line).is_ok()
        {
            return Ok(None);
        }
        let (method, params) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(m, p)| (m, p.trim()));
        let params = if params.is_empty() {
            None
        } else {
            let raw = structured(params).map_err(|why| format!("{method}: PARAMS {why}"))?;
            // On one line, as the rest of the request.
            Some(RawValue::from_string(json_text::compact(raw.get())).unwrap_or(raw))
        };
        let id = loop {
            self.last_id += 1;
            let id = Id::from(self.last_id);
            if !self.waiting[Direction::Sent.index()].contains_key(&id) {
                break id;
            }
        };
        let request = sockeye_rpc::Request {
            id,
            method: method.to_owned(),
            params,
        };
        Ok(Some(sockeye_rpc::Message::Request(request).to_json()))
    }
}

impl Seen {
    /// The line shown on a terminal or in plain output, such as
    /// `> call #3 subtract [42,23]` or `< result #3 subtract 19 (0.4 ms)`.
    pub(super) fn line(&self) -> String {
        let mut line = String::from(self.direction.marker());
        if let Some((at, size)) = self.batch {
            let _ = write!(line, " [{}/{size}]", at + 1);
        }
        let raw = |raw: &Option<Box<RawValue>>| {
            raw.as_ref()
                .map(|p| format!(" {}", json_text::compact(p.get())))
                .unwrap_or_default()
        };
        let answered = |answers: &Option<(String, Duration)>| match answers {
            Some((method, rtt)) => (
                format!(" {method}"),
                format!(" ({:.1} ms)", rtt.as_secs_f64() * 1000.0),
            ),
            None => (" (no such request seen)".to_owned(), String::new()),
        };
        match &self.kind {
            Kind::Call { id, method, params } => {
                let _ = write!(line, " call #{} {method}{}", show_id(id), raw(params));
            }
            Kind::Notification { method, params } => {
                let _ = write!(line, " notify {method}{}", raw(params));
            }
            Kind::Result {
                id,
                answers,
                result,
            } => {
                let (method, rtt) = answered(answers);
                let _ = write!(
                    line,
                    " result #{}{method} {}{rtt}",
                    show_id(id),
                    json_text::compact(result.get())
                );
            }
            Kind::Error { id, answers, error } => {
                let (method, rtt) = answered(answers);
                let data = error
                    .data
                    .as_ref()
                    .map(|d| format!(" {}", json_text::compact(d.get())))
                    .unwrap_or_default();
                let _ = write!(
                    line,
                    " error #{}{method} {} {}{data}{rtt}",
                    show_id(id),
                    error.code,
                    serde_json::Value::String(error.message.clone()),
                );
            }
            Kind::Invalid { why, text } => {
                let _ = write!(line, " invalid ({why})");
                if let Some(text) = text {
                    line.push(' ');
                    line.push_str(text);
                }
            }
        }
        line
    }

    /// The JSON line of `--jsonl`: `{"type":"rpc","direction":"out"|"in",
    /// "kind":...}` with the members of its kind.
    pub(super) fn json(&self) -> String {
        let mut line = JsonLine {
            kind_of_event: "rpc",
            direction: self.direction.name(),
            kind: "",
            id: None,
            method: None,
            params: None,
            result: None,
            error: None,
            rtt_ms: None,
            batch: self.batch.map(|(index, size)| InBatch { index, size }),
            reason: None,
            data: None,
        };
        match &self.kind {
            Kind::Call { id, method, params } => {
                line.kind = "request";
                line.id = Some(id);
                line.method = Some(method);
                line.params = params.as_deref();
            }
            Kind::Notification { method, params } => {
                line.kind = "notification";
                line.method = Some(method);
                line.params = params.as_deref();
            }
            Kind::Result {
                id,
                answers,
                result,
            } => {
                line.answers(answers.as_ref());
                line.kind = "result";
                line.id = Some(id);
                line.result = Some(result);
            }
            Kind::Error { id, answers, error } => {
                line.answers(answers.as_ref());
                line.kind = "error";
                line.id = Some(id);
                line.error = Some(error);
            }
            Kind::Invalid { why, text } => {
                line.kind = "invalid";
                line.reason = Some(why);
                line.data = text.as_deref();
            }
        }
        // Strings, numbers and JSON text read before: it serializes.
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// An id as the lines show it: a number as it came, a string quoted.
fn show_id(id: &Id) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

/// The fields of a `--jsonl` rpc event, in this order.
#[derive(Serialize)]
struct JsonLine<'a> {
    #[serde(rename = "type")]
    kind_of_event: &'static str,
    direction: &'static str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ErrorObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    batch: Option<InBatch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a str>,
}

impl<'a> JsonLine<'a> {
    /// The method a response answers, and the round-trip time, when its
    /// request was seen.
    fn answers(&mut self, answers: Option<&'a (String, Duration)>) {
        if let Some((method, rtt)) = answers {
            self.method = Some(method);
            self.rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
        }
    }
}

/// A member's place in its batch.
#[derive(Serialize)]
struct InBatch {
    index: usize,
    size: usize,
}

/// The tracker shared by the task that sends and the one that prints.
pub(super) type Shared = Arc<Mutex<Tracker>>;

/// Locks the tracker (nothing in it is left half-changed by a panic).
pub(super) fn lock(tracker: &Shared) -> std::sync::MutexGuard<'_, Tracker> {
    tracker.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Messages the sender read as JSON-RPC and the printer has not yet
/// printed: a few, as the sender waits for the printer beyond them.
const SENT_AHEAD: usize = 16;

/// The two ends between a script session's sender and its printer, with
/// `--jsonrpc` (`tracker`); nothing passes without it.
pub(super) fn tap(tracker: Option<&Shared>) -> (Option<Tap>, SentLog) {
    match tracker {
        Some(tracker) => {
            let (sent, log) = mpsc::channel(SENT_AHEAD);
            let tap = Tap {
                tracker: Arc::clone(tracker),
                sent,
            };
            (Some(tap), SentLog(Some(log)))
        }
        None => (None, SentLog(None)),
    }
}

/// The printer's end: what the sender sent, read as JSON-RPC.
#[derive(Debug, Default)]
pub(super) struct SentLog(Option<mpsc::Receiver<Vec<Seen>>>);

impl SentLog {
    /// What was sent next; never without `--jsonrpc`.
    pub(super) async fn next(&mut self) -> Option<Vec<Seen>> {
        match &mut self.0 {
            Some(log) => log.recv().await,
            None => std::future::pending().await,
        }
    }

    /// All that was sent and is not printed yet.
    pub(super) fn ready(&mut self) -> Vec<Seen> {
        let mut ready = Vec::new();
        if let Some(log) = &mut self.0 {
            while let Ok(seen) = log.try_recv() {
                ready.extend(seen);
            }
        }
        ready
    }
}

/// What the sending task of a script session needs for `--jsonrpc`: the
/// tracker, and the way to the printer for what it sends.
#[derive(Clone, Debug)]
pub(super) struct Tap {
    pub(super) tracker: Shared,
    pub(super) sent: mpsc::Sender<Vec<Seen>>,
}

impl Tap {
    /// Makes a message about to be sent what it is to be (a shorthand
    /// line becomes a request), and hands what it is to the printer
    /// before it goes, so that it is shown before its response.
    ///
    /// # Errors
    ///
    /// A shorthand line whose params are not an array or object.
    pub(super) async fn sending(&self, message: Message) -> Result<Message, String> {
        let Message::Text(text) = &message else {
            return Ok(message);
        };
        let (expanded, seen) = {
            let mut tracker = lock(&self.tracker);
            let expanded = tracker.expand(text.as_str())?;
            let sending = expanded.as_deref().unwrap_or(text.as_str());
            let seen = tracker.read(Direction::Sent, sending, Instant::now());
            (expanded, seen)
        };
        let message = expanded.map_or(message, Message::text);
        let _ = self.sent.send(seen).await;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(tracker: &mut Tracker, direction: Direction, text: &str) -> Vec<String> {
        tracker
            .read(direction, text, Instant::now())
            .iter()
            .map(|seen| {
                // Round-trip times vary: cut them off.
                let line = seen.line();
                line.split(" (").next().unwrap_or_default().to_owned()
            })
            .collect()
    }

    #[test]
    fn responses_are_matched_to_requests_of_the_other_direction() {
        let mut t = Tracker::default();
        assert_eq!(
            lines(
                &mut t,
                Direction::Sent,
                r#"{"jsonrpc":"2.0","method":"subtract","params":[42, 23],"id":3}"#
            ),
            ["> call #3 subtract [42,23]"]
        );
        assert_eq!(
            lines(
                &mut t,
                Direction::Received,
                r#"{"jsonrpc":"2.0","result":19,"id":3}"#
            ),
            ["< result #3 subtract 19"]
        );
        // Answered once: a second response with that id matches nothing.
        assert_eq!(
            lines(
                &mut t,
                Direction::Received,
                r#"{"jsonrpc":"2.0","result":19,"id":3}"#
            ),
            ["< result #3"]
        );
        // The server's own request, answered by us.
        lines(
            &mut t,
            Direction::Received,
            r#"{"jsonrpc":"2.0","method":"who","id":"a"}"#,
        );
        let answer =
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"a"}"#;
        assert_eq!(
            lines(&mut t, Direction::Sent, answer),
            [r#"> error #"a" who -32601 "Method not found""#]
        );
    }

    #[test]
    fn batches_show_each_member_and_invalid_input_is_flagged() {
        let mut t = Tracker::default();
        let seen = t.read(
            Direction::Sent,
            r#"[{"jsonrpc":"2.0","method":"a","id":1},{"jsonrpc":"2.0","method":"n"},5]"#,
            Instant::now(),
        );
        let kinds: Vec<String> = seen.iter().map(Seen::json).collect();
        assert!(kinds[0].contains(r#""kind":"request""#), "{kinds:?}");
        assert!(
            kinds[0].contains(r#""batch":{"index":0,"size":3}"#),
            "{kinds:?}"
        );
        assert!(kinds[1].contains(r#""kind":"notification""#), "{kinds:?}");
        assert!(kinds[2].contains(r#""kind":"invalid""#), "{kinds:?}");
        for (text, why) in [
            ("nope", "not JSON"),
            ("[]", "an empty batch"),
            (r#"{"method":"a"}"#, "not a JSON-RPC 2.0"),
        ] {
            let line = t.read(Direction::Received, text, Instant::now())[0].line();
            assert!(line.contains(why), "{line}");
        }
    }

    #[test]
    fn shorthand_lines_become_requests_with_fresh_ids() {
        let mut t = Tracker::default();
        assert_eq!(
            t.expand("subtract [42, 23]").unwrap().as_deref(),
            Some(r#"{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}"#)
        );
        // Id 2 is taken by a request typed in full.
        lines(
            &mut t,
            Direction::Sent,
            r#"{"jsonrpc":"2.0","method":"x","id":2}"#,
        );
        assert_eq!(
            t.expand("ping").unwrap().as_deref(),
            Some(r#"{"jsonrpc":"2.0","method":"ping","id":3}"#)
        );
        assert_eq!(t.expand(r#"{"jsonrpc":"2.0"}"#).unwrap(), None);
        assert_eq!(t.expand("42").unwrap(), None);
        assert!(t.expand("sum 3").is_err());
        assert!(t.expand("sum [1,").is_err());
    }

    #[test]
    fn waiting_requests_are_bounded() {
        let mut t = Tracker::default();
        for id in 0..MAX_WAITING + 10 {
            let text = format!(r#"{{"jsonrpc":"2.0","method":"m","id":{id}}}"#);
            t.read(Direction::Sent, &text, Instant::now());
        }
        assert_eq!(t.waiting[0].len(), MAX_WAITING);
    }
}
