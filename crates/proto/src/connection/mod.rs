//! The per-connection state machine: the [`Connection`] type, its
//! construction and getters.
//!
//! The rest of its methods live beside it, one concern per file: `read`
//! takes input and turns it into events, `header` checks each frame
//! header, `reassembly` joins fragments and inflates compressed messages,
//! `control` answers the peer's control frames, and `write` turns
//! commands into queued frames. `state` holds the types they share.

mod control;
mod header;
mod in_place;
mod read;
mod reassembly;
mod state;
mod write;

use std::sync::Arc;

use bytes::Bytes;

use self::state::{ColdState, Recv};
use crate::close::CloseFrame;
use crate::close_code::CloseCode;
use crate::config::Config;
use crate::deflate::{Deflate, PerMessageDeflate};
use crate::message::Message;
use crate::output::Output;
use crate::role::Role;

pub use self::in_place::{EventRef, InPlace};
pub use self::state::State;
pub use self::write::encode_server_frame;

/// Something the peer did, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A whole text or binary message.
    Message(Message),
    /// A Ping. The engine has already queued the Pong (R-CF-03).
    Ping(Bytes),
    /// A Pong, solicited or not (R-CF-05).
    Pong(Bytes),
    /// The peer's Close. If we had not sent one, the engine has queued the
    /// reply echoing its code and reason (R-CL-04). No event follows.
    Close(CloseFrame),
}

/// A WebSocket connection after its opening handshake, as a sans-I/O state machine.
///
/// It reads no socket and keeps no clock: the caller feeds it the bytes it
/// reads, takes out events, gives it commands and writes out the bytes it
/// queues. The same engine drives a client or a server ([`Role`]).
///
/// The methods come in five families:
///
/// - **Setup**: [`new`](Self::new) makes an open connection;
///   [`with_deflate`](Self::with_deflate) and
///   [`set_deflate`](Self::set_deflate) turn on the permessage-deflate
///   parameters the handshake agreed, before any frame goes either way.
/// - **Inputs**: [`receive`](Self::receive) copies bytes read from the
///   peer; [`receive_buf`](Self::receive_buf) hands over a `BytesMut`,
///   without a copy when nothing is buffered;
///   [`read_buffer`](Self::read_buffer) lends the read buffer itself to
///   read a large frame straight into;
///   [`receive_in_place`](Self::receive_in_place) reads the caller's buffer
///   where it lies and lends the messages that arrived whole;
///   [`receive_eof`](Self::receive_eof) says the peer's byte stream ended.
/// - **Commands**: [`send`](Self::send),
///   [`send_uncompressed`](Self::send_uncompressed),
///   [`send_ref`](Self::send_ref) (a payload borrowed, copied as it is
///   queued), [`send_raw`](Self::send_raw) (frames encoded once, for broadcast),
///   [`send_ping`](Self::send_ping), [`send_pong`](Self::send_pong) and
///   [`close`](Self::close) queue frames. Misuse returns a
///   [`UsageError`](crate::UsageError) and never fails the connection.
/// - **Outputs**: [`next_event`](Self::next_event) returns the next
///   [`Event`] the input completes, `Ok(None)` when it needs more bytes, or
///   the [`Error`](crate::Error) that failed the connection.
///   [`output`](Self::output) is the queue of bytes to write, a
///   [`Buf`](bytes::Buf): write it and advance it by what was written.
///   [`wants_write`](Self::wants_write) says whether anything waits, and
///   [`output_len`](Self::output_len) how many bytes do.
/// - **Getters**: [`role`](Self::role), [`config`](Self::config),
///   [`state`](Self::state), [`deflate`](Self::deflate),
///   [`close_sent`](Self::close_sent),
///   [`close_received`](Self::close_received),
///   [`close_code`](Self::close_code) and [`read_hint`](Self::read_hint)
///   (how much more the frame being read needs).
///
/// # Driving a connection
///
/// A driver runs one loop, and each turn is the same:
///
/// 1. **Read** from the transport and feed what arrived with `receive`,
///    `receive_buf`, or by appending to `read_buffer`.
/// 2. **Take events**: call `next_event` until it returns `Ok(None)` or an
///    error, handling each event. Pongs and the reply to the peer's Close
///    are queued by the engine itself. An error has already queued the
///    Close frame that fails the connection (§7.1.7).
/// 3. **Command** as the application asks, at any point of the turn:
///    whatever is sent is queued behind what is already there.
/// 4. **Write** everything in `output()`, in one write where possible, and
///    advance it by what was written; `wants_write` says when to write
///    again. Writing once per turn sends every reply a read caused in one
///    syscall.
/// 5. **End** once [`state`](Self::state) is [`Closed`](State::Closed) or
///    [`Failed`](State::Failed) and the output is written: a server closes
///    the transport at once, a client after waiting a little for the
///    server's EOF (§7.1.1). When the peer's stream ends, call
///    `receive_eof` and take the events of what was still buffered.
///
/// Timers (a close timeout, keepalive pings) are the driver's: the engine
/// only reports where the closing handshake stands.
///
/// ```
/// use sockeye_proto::{Config, Connection, Event, Message, Role};
/// use bytes::Buf;
///
/// let mut client = Connection::new(Role::Client, Config::default());
/// let mut server = Connection::new(Role::Server, Config::default());
///
/// client.send(Message::text("hello")).unwrap();
/// // "Write" the client's output into the server.
/// let out = client.output();
/// let wire = out.copy_to_bytes(out.remaining());
/// server.receive(&wire);
/// match server.next_event().unwrap() {
///     Some(Event::Message(m)) => assert_eq!(m.as_text(), Some("hello")),
///     other => panic!("unexpected {other:?}"),
/// }
/// assert_eq!(server.next_event().unwrap(), None);
/// ```
#[derive(Debug)]
pub struct Connection {
    role: Role,
    /// Shared by every connection made from the same `Arc`.
    config: Arc<Config>,
    /// Where the closing handshake stands.
    state: State,
    /// Read-side progress: the read buffer, the frame and the message
    /// being received.
    recv: Recv,
    /// Frames queued for the transport.
    out: Output,
    /// The Close frames exchanged and a held-back Pong: `None` until one of
    /// them first exists, which most of a connection's life does without.
    cold: Option<Box<ColdState>>,
    /// The peer's stream ended; what is buffered is still read.
    eof: bool,
    /// permessage-deflate, once agreed.
    deflate: Option<Box<Deflate>>,
}

impl Connection {
    /// A connection in the [`Open`](State::Open) state, as after a successful
    /// opening handshake.
    ///
    /// `config` is a [`Config`] or an `Arc<Config>`; connections made from
    /// clones of one `Arc` share it instead of holding a copy each.
    pub fn new(role: Role, config: impl Into<Arc<Config>>) -> Self {
        Connection {
            role,
            config: config.into(),
            state: State::Open,
            recv: Recv::default(),
            out: Output::default(),
            cold: None,
            eof: false,
            deflate: None,
        }
    }

    /// Turns on permessage-deflate with the parameters agreed in the
    /// handshake (RFC 7692). Compression level and the smallest message
    /// compressed come from [`Config::deflate`], or its defaults.
    ///
    /// Compressor and decompressor are created when first needed.
    #[must_use]
    pub fn with_deflate(mut self, agreed: PerMessageDeflate) -> Self {
        self.set_deflate(agreed);
        self
    }

    /// As [`with_deflate`](Self::with_deflate), in place. Call it before
    /// any frame is sent or received.
    pub fn set_deflate(&mut self, agreed: PerMessageDeflate) {
        let settings = self.config.deflate.clone().unwrap_or_default();
        self.deflate = Some(Box::new(Deflate::new(self.role, agreed, &settings)));
    }

    /// The permessage-deflate parameters in force, if negotiated.
    pub fn deflate(&self) -> Option<&PerMessageDeflate> {
        self.deflate.as_deref().map(Deflate::agreed)
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// The Close frame we sent, if any: our own, our reply to the peer's,
    /// or the one that failed the connection.
    pub fn close_sent(&self) -> Option<&CloseFrame> {
        self.cold.as_deref()?.sent.as_ref()
    }

    /// The Close frame received from the peer, if any (R-CL-10, R-CL-11).
    pub fn close_received(&self) -> Option<&CloseFrame> {
        self.cold.as_deref()?.received.as_ref()
    }

    /// The *WebSocket Connection Close Code* of §7.1.5, once known: the code
    /// of the peer's Close (1005 if it had none), or 1006 if the connection
    /// ended without one. `None` while no Close was received and the
    /// connection has not ended.
    pub fn close_code(&self) -> Option<CloseCode> {
        match (self.close_received(), self.state) {
            (Some(frame), _) => Some(frame.code),
            (None, State::Failed | State::Closed) => Some(CloseCode::ABNORMAL),
            (None, _) => None,
        }
    }

    /// Bytes received and not yet read out as events: whole frames waiting
    /// for [`next_event`](Self::next_event) and the start of one still
    /// arriving. A driver that hands events to someone else one at a time
    /// can hold its writes while this is non-zero, so the replies to one
    /// read still leave in one write.
    pub fn buffered_input(&self) -> usize {
        self.recv.buf.len()
    }

    /// How many more bytes the frame being read needs, or 0 when no frame
    /// is in progress. A transport can size its next read with it.
    pub fn read_hint(&self) -> usize {
        self.recv
            .frame
            .map_or(0, |f| f.len.saturating_sub(self.recv.buf.len()))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Buf;

    use super::*;
    use crate::deflate::DeflateConfig;
    use crate::frame::FrameHeader;

    fn pair(frame: Option<usize>, deflate: bool) -> (Connection, Connection) {
        let config = Config {
            max_send_frame_size: frame,
            deflate: deflate.then(DeflateConfig::default),
            ..Config::default()
        };
        let mut client = Connection::new(Role::Client, config.clone());
        let mut server = Connection::new(Role::Server, config.clone());
        if deflate {
            let settings = DeflateConfig::default();
            let offer = crate::handshake::parse_extensions([&http::HeaderValue::from_str(
                &settings.offer(),
            )
            .unwrap()])
            .unwrap();
            let agreed = settings.negotiate(&offer).unwrap();
            server.set_deflate(agreed);
            client.set_deflate(agreed);
        }
        (client, server)
    }

    fn transfer(from: &mut Connection, to: &mut Connection) -> Vec<Event> {
        let out = from.output();
        let wire = out.copy_to_bytes(out.remaining());
        to.receive(&wire);
        let mut events = Vec::new();
        while let Some(event) = to.next_event().unwrap() {
            events.push(event);
        }
        events
    }

    #[test]
    fn r_fg_01_large_messages_go_out_in_fragments_when_asked() {
        for deflate in [false, true] {
            let (mut client, mut server) = pair(Some(100), deflate);
            // Four letters from a simple generator: compressible, but too
            // irregular to fit a single 100-byte frame.
            let mut state = 7u32;
            let text: String = (0..2000)
                .map(|_| {
                    state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    char::from(b'a' + ((state >> 16) % 4) as u8)
                })
                .collect();
            client.send(Message::text(text.clone())).unwrap();
            let wire = client.output().chunk().to_vec();
            let (first, _) = FrameHeader::decode(&wire, true).unwrap().unwrap();
            assert!(!first.fin);
            assert_eq!(first.rsv, if deflate { 0b100 } else { 0 });
            assert_eq!(
                transfer(&mut client, &mut server),
                [Event::Message(Message::text(text.clone()))]
            );
            server.send(Message::text(text.clone())).unwrap();
            assert_eq!(
                transfer(&mut server, &mut client),
                [Event::Message(Message::text(text))]
            );
        }
    }

    #[test]
    fn close_sent_reports_our_close() {
        let (mut client, _) = pair(None, false);
        assert!(client.close_sent().is_none());
        client.close(CloseCode::GOING_AWAY, "bye").unwrap();
        assert_eq!(client.close_sent().unwrap().code, CloseCode::GOING_AWAY);
    }

    #[test]
    fn connection_stays_small() {
        let size = std::mem::size_of::<Connection>();
        // The engine part of an idle connection: 176 bytes today, with the
        // close frames, a held-back Pong and deflate state boxed away.
        eprintln!("Connection: {size} B");
        assert!(size <= 176, "Connection is {size} bytes");
    }
}
