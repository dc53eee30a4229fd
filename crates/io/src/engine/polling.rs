//! The HTTP long-polling transport: a GET waits for what the server
//! queued, a POST carries what the client sends
//! (`docs/engine.io-protocol/v4-current.md`, "HTTP long-polling").

use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body;

use super::close::CloseReason;
use super::handler::EngineHandler;
use super::handshake::TransportKind;
use super::inbound::{Delivered, deliver};
use super::packet::Packet;
use super::payload;
use super::response::{EngineBody, ErrorCode, with_body};
use super::socket::{EngineSocket, State, UpgradeState};
use super::state::EngineState;
use super::v3;

/// Why a request cannot use a session's polling transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refused {
    /// The session is gone.
    Gone,
    /// The session moved to WebSocket.
    WrongTransport,
    /// Another request of the same kind is under way.
    Overlap,
}

impl Refused {
    /// The answer to the refused request; an overlap also ends the
    /// session, as Node does ("overlap from client").
    fn answer<D>(self, socket: &EngineSocket<D>) -> Response<EngineBody> {
        match self {
            Refused::Gone => ErrorCode::UnknownSid.response(),
            Refused::WrongTransport => ErrorCode::BadRequest.response(),
            Refused::Overlap => {
                socket.terminate(CloseReason::TransportError, Some(Packet::Close), false);
                ErrorCode::BadRequest.response()
            }
        }
    }
}

/// Answers a GET: the packets queued, at once if there are any, or as
/// soon as some are. Everything queued at that moment goes in one body,
/// as Node does; the queue's bound
/// ([`EngineConfig::max_buffered_packets`](super::EngineConfig::max_buffered_packets))
/// bounds it.
///
/// A second GET while one waits is refused (400) and ends the session:
/// the first then gets `1`. A GET dropped before its answer (the client
/// went away) ends the session too.
pub(crate) async fn get<D>(socket: Arc<EngineSocket<D>>) -> Response<EngineBody> {
    if socket.pong_overdue() {
        return ErrorCode::UnknownSid.response();
    }
    if let Err(refused) = socket.update(claim_poll) {
        return refused.answer(&socket);
    }
    let mut guard = PollGuard {
        socket: &socket,
        answered: false,
    };
    let packets = loop {
        let changed = socket.changed.notified();
        let queued = socket.queued.notified();
        tokio::pin!(changed, queued);
        changed.as_mut().enable();
        queued.as_mut().enable();
        let ready = {
            let mut state = socket.lock();
            let ready = ready_packets(&mut state);
            if ready.is_some() {
                state.polling = false;
            }
            ready
        };
        if let Some(packets) = ready {
            guard.answered = true;
            break packets;
        }
        tokio::select! {
            () = changed => {}
            () = queued => {}
        }
    };
    drop(guard);
    // Taking a farewell may be what the session's driver waits for.
    socket.changed.notify_waiters();
    match packets {
        Some(packets) if socket.is_eio3() => {
            let (body, content_type) = v3::encode_payload(&packets, socket.supports_binary());
            with_body(StatusCode::OK, content_type, body)
        }
        Some(packets) => with_body(
            StatusCode::OK,
            "text/plain; charset=UTF-8",
            payload::join(&packets),
        ),
        None => ErrorCode::UnknownSid.response(),
    }
}

/// Marks a GET as waiting on the session, unless it may not.
fn claim_poll(state: &mut State) -> Result<(), Refused> {
    match &state.closing {
        Some(closing) if closing.farewell.is_none() => return Err(Refused::Gone),
        _ => {}
    }
    if state.transport != TransportKind::Polling {
        return Err(Refused::WrongTransport);
    }
    if state.polling {
        return Err(Refused::Overlap);
    }
    state.polling = true;
    Ok(())
}

/// What a waiting GET answers now, if anything: `Some(None)` when the
/// session ended with nothing more to say (answered 400).
#[expect(clippy::option_option, reason = "wait, answer packets, or answer gone")]
fn ready_packets(state: &mut State) -> Option<Option<Vec<Packet>>> {
    if let Some(closing) = state.closing.as_mut() {
        let drain = closing.drain;
        let farewell = closing.farewell.take();
        let mut packets = if drain {
            state.take_outbox()
        } else {
            Vec::new()
        };
        packets.extend(farewell);
        return Some((!packets.is_empty()).then_some(packets));
    }
    if state.transport != TransportKind::Polling {
        // The upgrade completed: end this poll cleanly.
        return Some(Some(vec![Packet::Noop]));
    }
    if !state.outbox.is_empty() {
        return Some(Some(state.take_outbox()));
    }
    if state.upgrade == UpgradeState::Probed {
        // Let the client pause polling and finish the upgrade.
        return Some(Some(vec![Packet::Noop]));
    }
    None
}

/// Ends the session when a GET is dropped before it was answered.
struct PollGuard<'a, D> {
    /// The session polled.
    socket: &'a EngineSocket<D>,
    /// Whether the GET got its packets.
    answered: bool,
}

impl<D> Drop for PollGuard<'_, D> {
    fn drop(&mut self) {
        if !self.answered {
            self.socket.update(|state| state.polling = false);
            // Node: "poll connection closed prematurely".
            self.socket
                .terminate(CloseReason::TransportError, None, false);
        }
    }
}

/// Answers a POST: reads at most `max_payload` bytes (413 beyond, and the
/// session stays), decodes every packet (400 and the session ends with
/// "parse error" if one is bad), hands them on in order (the handler is
/// called from here), and answers `ok`. `binary` says the body came as
/// `application/octet-stream`: an Engine.IO v3 client's binary payload.
pub(crate) async fn post<H, B>(
    engine: &EngineState<H>,
    socket: Arc<EngineSocket<H::Data>>,
    body: B,
    max_payload: usize,
    binary: bool,
) -> Response<EngineBody>
where
    H: EngineHandler,
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if socket.pong_overdue() {
        return ErrorCode::UnknownSid.response();
    }
    if let Err(refused) = socket.update(claim_post) {
        return refused.answer(&socket);
    }
    let _guard = PostGuard { socket: &socket };
    let body = match read_body(body, max_payload).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let decoded = if socket.is_eio3() {
        v3::decode_payload(&body, binary)
    } else {
        payload::split(&body)
    };
    let Ok(packets) = decoded else {
        socket.terminate(CloseReason::ParseError, Some(Packet::Close), false);
        return ErrorCode::BadRequest.response();
    };
    for packet in packets {
        match deliver(engine, &socket, packet, TransportKind::Polling) {
            Delivered::Taken => {}
            Delivered::Ended => break,
            Delivered::Refused => return ErrorCode::BadRequest.response(),
        }
    }
    with_body(StatusCode::OK, "text/html", Bytes::from_static(b"ok"))
}

/// Marks a POST as under way on the session, unless it may not.
fn claim_post(state: &mut State) -> Result<(), Refused> {
    if state.closing.is_some() {
        return Err(Refused::Gone);
    }
    if state.transport != TransportKind::Polling {
        return Err(Refused::WrongTransport);
    }
    if state.posting {
        return Err(Refused::Overlap);
    }
    state.posting = true;
    Ok(())
}

/// Reads a POST body of at most `max_payload` bytes.
async fn read_body<B>(body: B, max_payload: usize) -> Result<Bytes, Response<EngineBody>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, max_payload).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(with_body(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/plain; charset=UTF-8",
            Bytes::from_static(b"payload too large"),
        )),
        Err(_) => Err(ErrorCode::BadRequest.response()),
    }
}

/// Frees the session's POST slot when the POST ends, however it ends.
struct PostGuard<'a, D> {
    /// The session posted to.
    socket: &'a EngineSocket<D>,
}

impl<D> Drop for PostGuard<'_, D> {
    fn drop(&mut self) {
        self.socket.update(|state| state.posting = false);
    }
}
