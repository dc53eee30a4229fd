//! The per-connection state machine.

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::close_code::CloseCode;
use crate::config::Config;
use crate::deflate::{Deflate, PerMessageDeflate};
use crate::error::{Error, UsageError};
use crate::frame::{FrameHeader, OpCode, apply_mask};
use crate::message::{Message, Utf8Bytes};
use crate::output::Output;
use crate::role::Role;
use crate::utf8::Validator;

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
    /// reply echoing its code (R-CL-04). No event follows.
    Close(CloseFrame),
}

/// Where the closing handshake stands (RFC 6455 §7).
///
/// ```text
///                 close()                      peer's Close
///      Open ─────────────────► CloseSent ───────────────────► Closed
///       │                          │
///       │ peer's Close             │ violation, or EOF
///       │ (reply queued)           ▼
///       ├──────────────────► Closed         Failed
///       │ violation (Close queued), or EOF     ▲
///       └──────────────────────────────────────┘
/// ```
///
/// In `Closed` and `Failed` the engine reads nothing more; the transport
/// writes what is queued, and then the server closes TCP at once while the
/// client waits a bounded time for the server to do so (R-CL-05, R-CL-06).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Both sides may send messages.
    Open,
    /// We sent a Close and wait for the peer's; messages still arrive.
    CloseSent,
    /// Both Close frames have been exchanged: closed cleanly once TCP closes.
    Closed,
    /// The connection failed (§7.1.7), or the transport ended before the
    /// closing handshake did. The close code is 1006.
    Failed,
}

/// A WebSocket connection after its opening handshake, as a sans-I/O state machine.
///
/// It reads no socket and keeps no clock: the caller feeds it the bytes it
/// reads, takes out events, gives it commands and writes out the bytes it
/// queues. The same engine drives a client or a server ([`Role`]).
///
/// The methods come in four families:
///
/// - **Input**: [`receive`](Self::receive) copies bytes read from the peer;
///   [`receive_buf`](Self::receive_buf) hands over a `BytesMut` without a copy
///   when nothing is buffered; [`receive_eof`](Self::receive_eof) says the
///   peer's byte stream ended.
/// - **Output of events**: [`next_event`](Self::next_event) returns the next
///   [`Event`] the input completes, `Ok(None)` when it needs more bytes, or
///   the [`Error`] that failed the connection.
/// - **Commands**: [`send`](Self::send), [`send_ping`](Self::send_ping),
///   [`send_pong`](Self::send_pong), [`close`](Self::close) and
///   [`send_raw`](Self::send_raw) queue frames. Misuse returns a
///   [`UsageError`] and never fails the connection.
/// - **Output of bytes**: [`output`](Self::output) is the queue of bytes to
///   write, a [`Buf`]; write it and advance it by what was written.
/// - **Getters**: [`state`](Self::state), [`role`](Self::role),
///   [`close_received`](Self::close_received), [`close_code`](Self::close_code),
///   [`read_hint`](Self::read_hint).
///
/// # Driving a connection
///
/// After each read: feed the bytes, then call `next_event` until it returns
/// `Ok(None)` or an error, handling each event (replies to pings and closes
/// are queued for you). Then write everything in `output()`, in one write
/// where possible. After an error or once [`state`](Self::state) is
/// [`Closed`](State::Closed) or [`Failed`](State::Failed), write what is
/// queued and close the transport: a server at once, a client after waiting
/// a little for the server's EOF (§7.1.1). When the peer's stream ends, call
/// `receive_eof`.
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
    state: State,
    recv: Recv,
    out: Output,
    /// The latest Ping's payload, when the output was too full to queue its
    /// Pong at once (R-CF-04 allows answering only the latest).
    /// What most of a connection's life does without, on the heap.
    rare: Option<Box<Rare>>,
    /// The peer's stream ended; what is buffered is still read.
    eof: bool,
    /// permessage-deflate, once agreed.
    deflate: Option<Box<Deflate>>,
}

/// The parts of a [`Connection`] used only under a ping flood or while
/// closing.
#[derive(Debug, Default)]
struct Rare {
    sent: Option<CloseFrame>,
    received: Option<CloseFrame>,
    /// A Pong held back while the output queue is long; newer Pings
    /// replace it.
    pending_pong: Option<Bytes>,
}

/// Read-side progress.
#[derive(Debug, Default)]
struct Recv {
    /// Bytes read and not yet consumed. Starts with the payload of `frame`
    /// when one is in progress (its header already consumed).
    buf: BytesMut,
    /// The frame whose header was read and whose payload is incomplete.
    frame: Option<FrameInProgress>,
    /// The fragmented message being assembled.
    message: Option<Box<MessageInProgress>>,
    /// Whether the current message is text (checked as it arrives).
    text: bool,
    /// Whether the current message is compressed (RSV1 on its first frame).
    compressed: bool,
    utf8: Validator,
}

#[derive(Clone, Copy, Debug)]
struct FrameInProgress {
    fin: bool,
    opcode: OpCode,
    masking_key: Option<[u8; 4]>,
    len: usize,
    /// Leading payload bytes already unmasked and validated in place.
    processed: usize,
}

#[derive(Debug)]
struct MessageInProgress {
    /// The payload so far: as received, or inflated if compressed.
    data: MessageData,
    fragments: usize,
}

#[derive(Debug)]
enum MessageData {
    Plain(BytesMut),
    /// Inflated so far, and whether any compressed byte arrived: a message
    /// whose frames are all empty is empty and must not touch the inflater.
    Inflated(Vec<u8>, bool),
}

impl MessageData {
    fn into_bytes(self) -> Bytes {
        match self {
            MessageData::Plain(data) => data.freeze(),
            MessageData::Inflated(data, _) => Bytes::from(data),
        }
    }

    fn len(&self) -> usize {
        match self {
            MessageData::Plain(data) => data.len(),
            MessageData::Inflated(data, _) => data.len(),
        }
    }
}

/// The least room [`Connection::read_buffer`] makes, and the factor by
/// which it may exceed what was already received of the frame.
const READ_ROOM_MIN: usize = 64 << 10;
const READ_ROOM_FACTOR: usize = 16;

/// Above this many queued output bytes, Pongs are held back and coalesced
/// so a peer that pings without reading cannot grow our queue.
const PONG_QUEUE_LIMIT: usize = 64 << 10;

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
            rare: None,
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

    // ---- getters ----

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
        self.rare.as_deref()?.sent.as_ref()
    }

    /// The Close frame received from the peer, if any (R-CL-10, R-CL-11).
    pub fn close_received(&self) -> Option<&CloseFrame> {
        self.rare.as_deref()?.received.as_ref()
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

    /// How many more bytes the frame being read needs, or 0 when no frame
    /// is in progress. A transport can size its next read with it.
    pub fn read_hint(&self) -> usize {
        self.recv
            .frame
            .map_or(0, |f| f.len.saturating_sub(self.recv.buf.len()))
    }

    // ---- input ----

    /// Feeds bytes read from the peer, copying them into the read buffer.
    ///
    /// Input after the connection closed or failed is dropped (§7.1.7).
    pub fn receive(&mut self, data: &[u8]) {
        if self.reading() {
            if self.recv.buf.is_empty() {
                // Room for as much again: the rest of a frame cut by the
                // read usually fits without moving what arrived.
                self.recv.buf.reserve(2 * data.len());
            }
            self.recv.buf.extend_from_slice(data);
        }
    }

    /// Feeds bytes read from the peer, taking ownership of the buffer.
    ///
    /// O(1) when nothing is buffered, or when `data` directly follows the
    /// buffered bytes in memory (it was split off the same buffer); a copy
    /// otherwise.
    pub fn receive_buf(&mut self, data: BytesMut) {
        if !self.reading() {
            return;
        }
        if self.recv.buf.is_empty() {
            self.recv.buf = data;
        } else {
            self.recv.buf.unsplit(data);
        }
    }

    /// The read buffer itself, with room for more of the frame being read,
    /// for a transport that reads a large frame straight into it rather
    /// than through a buffer of its own and [`receive`](Self::receive),
    /// which copies. Append to it only: what is appended counts as
    /// received. `None` once input is dropped (see [`receive`](Self::receive)).
    ///
    /// The room made is what the frame still needs
    /// ([`read_hint`](Self::read_hint)), but at most 16 times what is
    /// buffered (and at least 64 KiB): memory follows what the peer sends,
    /// not what it announces, while a large frame grows in few steps.
    pub fn read_buffer(&mut self) -> Option<&mut BytesMut> {
        if !self.reading() {
            return None;
        }
        let buf = &mut self.recv.buf;
        let spare = buf.capacity() - buf.len();
        let room = self
            .recv
            .frame
            .map_or(0, |f| f.len.saturating_sub(buf.len()))
            .min(buf.len().max(READ_ROOM_MIN / READ_ROOM_FACTOR) * READ_ROOM_FACTOR);
        if spare < room.min(READ_ROOM_MIN) {
            buf.reserve(room);
        }
        Some(buf)
    }

    /// Records that the peer's byte stream ended.
    ///
    /// Bytes fed before it are still read by [`next_event`](Self::next_event).
    /// If the closing handshake has not completed once they are (at once,
    /// when nothing is buffered), this is an abnormal closure: the state
    /// becomes [`Failed`](State::Failed), the close code 1006, and no Close
    /// frame is queued (R-CL-13).
    pub fn receive_eof(&mut self) {
        if !self.reading() {
            return;
        }
        if self.recv.buf.is_empty() {
            self.abort_reading();
        } else {
            self.eof = true;
        }
    }

    /// Reads nothing more: the stream ended before the closing handshake
    /// did (1006), or the connection failed.
    fn abort_reading(&mut self) {
        self.state = State::Failed;
        self.recv = Recv::default();
        self.drop_pending_pong();
    }

    fn reading(&self) -> bool {
        matches!(self.state, State::Open | State::CloseSent)
    }

    // ---- events ----

    /// The next event the input completes.
    ///
    /// Returns `Ok(None)` when more bytes are needed, and always after the
    /// connection closed or failed.
    ///
    /// # Errors
    ///
    /// The peer broke the protocol or a limit. The engine has already queued
    /// a Close frame with [`Error::close_code`] (if it had not sent one),
    /// moved to [`Failed`](State::Failed) and dropped all buffered input
    /// (§7.1.7). Messages completed before the violation were returned by
    /// earlier calls.
    pub fn next_event(&mut self) -> Result<Option<Event>, Error> {
        if !self.reading() {
            return Ok(None);
        }
        match self.read_event() {
            Ok(None) if self.eof => {
                // The stream ended inside a frame or before the peer's Close.
                self.abort_reading();
                Ok(None)
            }
            Ok(None) => {
                // Everything read was consumed: hold no buffer while idle
                // (messages already handed out keep their bytes alive).
                if self.recv.buf.is_empty() && self.recv.buf.capacity() > 0 {
                    self.recv.buf = BytesMut::new();
                }
                Ok(None)
            }
            Ok(event) => Ok(event),
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }

    fn read_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            let mut frame = if let Some(frame) = self.recv.frame {
                frame
            } else {
                let Some((header, header_len)) =
                    FrameHeader::decode(&self.recv.buf, self.config.strict_length_encoding)?
                else {
                    return Ok(None);
                };
                let frame = self.start_frame(&header)?;
                self.recv.buf.advance(header_len);
                frame
            };

            if frame.opcode.is_control() {
                if self.recv.buf.len() < frame.len {
                    self.recv.frame = Some(frame);
                    return Ok(None);
                }
                self.recv.frame = None;
                let mut payload = self.recv.buf.split_to(frame.len);
                if let Some(key) = frame.masking_key {
                    apply_mask(&mut payload, key, 0);
                }
                return self.on_control(frame.opcode, payload.freeze()).map(Some);
            }

            // A data frame: unmask and check what has arrived, in place, so
            // bad text fails before the frame is complete (R-U8-03).
            let available = self.recv.buf.len().min(frame.len);
            let complete = available == frame.len;
            if available > frame.processed || complete {
                let fresh = &mut self.recv.buf[frame.processed..available];
                if let Some(key) = frame.masking_key {
                    apply_mask(fresh, key, frame.processed);
                }
                // Compressed text is checked as it inflates.
                if self.recv.text && !self.recv.compressed {
                    self.recv
                        .utf8
                        .feed(fresh, frame.fin && complete)
                        .map_err(|_| Error::InvalidUtf8)?;
                }
                frame.processed = available;
            }
            if !complete {
                self.recv.frame = Some(frame);
                return Ok(None);
            }
            self.recv.frame = None;
            let payload = self.recv.buf.split_to(frame.len);
            if self.recv.compressed {
                if let Some(message) = self.inflate_frame(&payload, frame.fin)? {
                    return Ok(Some(Event::Message(message)));
                }
                continue;
            }
            match (self.recv.message.take(), frame.fin) {
                // The common case: a whole message in one frame, handed out
                // without a copy.
                (None, true) => return Ok(Some(Event::Message(self.finish(payload.freeze())))),
                (None, false) => {
                    self.recv.message = Some(Box::new(MessageInProgress {
                        data: MessageData::Plain(payload),
                        fragments: 1,
                    }));
                }
                (Some(mut message), fin) => {
                    if let MessageData::Plain(data) = &mut message.data {
                        data.extend_from_slice(&payload);
                    }
                    message.fragments += 1;
                    if fin {
                        let data = message.data.into_bytes();
                        return Ok(Some(Event::Message(self.finish(data))));
                    }
                    self.recv.message = Some(message);
                }
            }
        }
    }

    /// Inflates one complete frame of a compressed message (RFC 7692 §7.2.2),
    /// returning the message after its last frame.
    fn inflate_frame(&mut self, payload: &[u8], fin: bool) -> Result<Option<Message>, Error> {
        let limit = self.config.max_message_size;
        let inflater = &mut self
            .deflate
            .as_deref_mut()
            .ok_or(Error::ReservedBitsSet)?
            .inflater;
        let text = if self.recv.text {
            Some(&mut self.recv.utf8)
        } else {
            None
        };
        match self.recv.message.take() {
            None if fin => {
                let data = inflater.inflate_whole(payload, limit, text)?;
                Ok(Some(self.finish(data)))
            }
            None => {
                let mut data = Vec::new();
                inflater.inflate_part(payload, false, &mut data, limit, text)?;
                self.recv.message = Some(Box::new(MessageInProgress {
                    data: MessageData::Inflated(data, !payload.is_empty()),
                    fragments: 1,
                }));
                Ok(None)
            }
            Some(mut message) => {
                if let MessageData::Inflated(data, fed) = &mut message.data {
                    *fed |= !payload.is_empty();
                    if *fed {
                        inflater.inflate_part(payload, fin, data, limit, text)?;
                    } else if fin {
                        // PMD-26: all frames empty, an empty message.
                        inflater.inflate_whole(&[], limit, text)?;
                    }
                }
                message.fragments += 1;
                if fin {
                    let data = message.data.into_bytes();
                    return Ok(Some(self.finish(data)));
                }
                self.recv.message = Some(message);
                Ok(None)
            }
        }
    }

    /// Checks a frame header against the protocol and the limits, before
    /// any of its payload is buffered.
    fn start_frame(&mut self, header: &FrameHeader) -> Result<FrameInProgress, Error> {
        let opcode = header.opcode;
        // R-FR-01: only permessage-deflate defines an RSV bit, RSV1, and
        // only on the first frame of a data message (PMD-05, PMD-07).
        let compressed = header.rsv == 0b100;
        if header.rsv != 0
            && !(compressed
                && self.deflate.is_some()
                && matches!(opcode, OpCode::Text | OpCode::Binary))
        {
            return Err(Error::ReservedBitsSet);
        }
        if opcode.is_control() {
            // R-CF-02
            if !header.fin {
                return Err(Error::FragmentedControlFrame);
            }
            // R-CF-01
            if header.payload_len > 125 {
                return Err(Error::ControlFrameTooLong(header.payload_len));
            }
        }
        match (self.role, header.masking_key) {
            // R-MK-02
            (Role::Server, None) if !self.config.accept_unmasked_frames => {
                return Err(Error::UnmaskedFrameFromClient);
            }
            // R-MK-04
            (Role::Client, Some(_)) => return Err(Error::MaskedFrameFromServer),
            _ => {}
        }
        // R-LM-01: judge the declared length before reserving anything. A
        // frame of a compressed message may carry deflate's expansion of
        // the largest payload; what it inflates to is held to
        // max_message_size as it inflates.
        let in_compressed_message = if opcode == OpCode::Continuation {
            self.recv.message.is_some() && self.recv.compressed
        } else {
            compressed
        };
        let limit = if in_compressed_message {
            self.config.max_compressed_frame_size()
        } else {
            self.config.max_frame_size
        };
        let len = usize::try_from(header.payload_len)
            .ok()
            .filter(|&len| len <= limit)
            .ok_or(Error::FrameTooBig {
                size: header.payload_len,
                limit,
            })?;
        if !opcode.is_control() {
            let so_far = match (&self.recv.message, opcode) {
                // R-FG-02
                (None, OpCode::Continuation) => return Err(Error::UnexpectedContinuation),
                // R-FG-03
                (Some(_), OpCode::Text | OpCode::Binary) => {
                    return Err(Error::ExpectedContinuation);
                }
                (Some(message), _) => {
                    if let Some(limit) = self.config.max_fragments
                        && message.fragments >= limit
                    {
                        return Err(Error::TooManyFragments { limit });
                    }
                    message.data.len()
                }
                (None, _) => {
                    self.recv.text = opcode == OpCode::Text;
                    self.recv.compressed = compressed;
                    self.recv.utf8.reset();
                    0
                }
            };
            // A compressed message is held to the limit as it inflates; its
            // frames only to the frame limit above.
            let limit = self.config.max_message_size;
            if !self.recv.compressed && len > limit - so_far.min(limit) {
                return Err(Error::MessageTooBig {
                    size: (so_far + len) as u64,
                    limit,
                });
            }
        }
        let frame = FrameInProgress {
            fin: header.fin,
            opcode,
            masking_key: header.masking_key,
            len,
            processed: 0,
        };
        self.recv.frame = Some(frame);
        Ok(frame)
    }

    fn finish(&self, payload: Bytes) -> Message {
        if self.recv.text {
            Message::Text(Utf8Bytes::from_validated(payload))
        } else {
            Message::Binary(payload)
        }
    }

    fn on_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<Event, Error> {
        match opcode {
            OpCode::Ping => {
                // R-CF-03: answer unless we already sent our Close.
                if self.state == State::Open {
                    self.queue_pong(payload.clone());
                }
                Ok(Event::Ping(payload))
            }
            OpCode::Pong => Ok(Event::Pong(payload)),
            OpCode::Close => {
                let frame = CloseFrame::parse(&payload)?;
                if self.state == State::Open {
                    if let Some(payload) = self.take_pending_pong() {
                        self.queue_frame(OpCode::Pong, payload);
                    }
                    // R-CL-04: echo the code, and the reason with it, as
                    // browsers' peers do: a client that closes with a
                    // reason sees it again in its close event.
                    self.queue_close(&frame);
                }
                self.state = State::Closed;
                self.recv = Recv::default();
                self.drop_pending_pong();
                self.rare.get_or_insert_default().received = Some(frame.clone());
                Ok(Event::Close(frame))
            }
            // Only control opcodes reach here: `read_event` checks
            // `is_control()` before calling.
            OpCode::Continuation | OpCode::Text | OpCode::Binary => {
                unreachable!("data opcode passed to on_control")
            }
        }
    }

    /// Fails the connection (§7.1.7): queue our Close unless one was sent,
    /// and read nothing more.
    fn fail(&mut self, error: &Error) {
        if self.state == State::Open {
            let frame = CloseFrame {
                code: error.close_code(),
                reason: Utf8Bytes::from_static(error.close_reason()),
            };
            self.queue_close(&frame);
        }
        self.abort_reading();
    }

    // ---- commands ----

    /// Queues a message as one frame.
    ///
    /// # Errors
    ///
    /// [`UsageError::Closed`] once our Close was queued or the connection
    /// ended (R-CL-03).
    pub fn send(&mut self, message: Message) -> Result<(), UsageError> {
        self.send_message(message, true)
    }

    /// Queues a message as one frame, never compressed, even with
    /// permessage-deflate in force: for payloads that mix secrets with
    /// data an attacker controls (RFC 7692 §8, PMD-28).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_uncompressed(&mut self, message: Message) -> Result<(), UsageError> {
        self.send_message(message, false)
    }

    fn send_message(&mut self, message: Message, may_compress: bool) -> Result<(), UsageError> {
        self.check_open()?;
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, text.into_bytes()),
            Message::Binary(data) => (OpCode::Binary, data),
        };
        let compressed = match self.deflate.as_deref_mut() {
            Some(deflate) if may_compress => deflate.compressor.compress(&payload),
            _ => None,
        };
        // PMD-04: RSV1 marks the message compressed.
        let (rsv, payload) = match compressed {
            Some(compressed) => (0b100, compressed),
            None => (0, payload),
        };
        match self.config.max_send_frame_size {
            Some(size) if size > 0 && payload.len() > size => {
                // R-FG-01: the first frame carries the opcode (and RSV1,
                // PMD-05), the rest are continuations, the last has FIN.
                // Each fragment is a slice of the payload, not a copy.
                let mut start = 0;
                while start < payload.len() {
                    let end = (start + size).min(payload.len());
                    let (opcode, rsv) = if start == 0 {
                        (opcode, rsv)
                    } else {
                        (OpCode::Continuation, 0)
                    };
                    self.push_frame(end == payload.len(), opcode, rsv, payload.slice(start..end));
                    start = end;
                }
            }
            _ => self.queue_frame_with(opcode, rsv, payload),
        }
        Ok(())
    }

    /// Queues bytes already encoded as complete frames, as-is.
    ///
    /// For broadcast: a server encodes a message once with
    /// [`encode_server_frame`](crate::encode_server_frame) and queues the
    /// same `Bytes` on many connections, without a copy for large ones.
    /// The bytes are not checked: they must be whole frames, unmasked from a
    /// server and masked from a client.
    ///
    /// # Errors
    ///
    /// [`UsageError::Closed`] once our Close was queued or the connection ended.
    pub fn send_raw(&mut self, frames: Bytes) -> Result<(), UsageError> {
        self.check_open()?;
        self.out.push_encoded(frames);
        Ok(())
    }

    /// Queues a Ping (R-CF-06).
    ///
    /// # Errors
    ///
    /// [`UsageError::ControlPayloadTooLong`] above 125 bytes;
    /// [`UsageError::Closed`] once our Close was queued or the connection ended.
    pub fn send_ping(&mut self, payload: impl Into<Bytes>) -> Result<(), UsageError> {
        self.send_control(OpCode::Ping, payload.into())
    }

    /// Queues an unsolicited Pong, a one-way heartbeat (§5.5.3).
    ///
    /// # Errors
    ///
    /// As [`send_ping`](Self::send_ping).
    pub fn send_pong(&mut self, payload: impl Into<Bytes>) -> Result<(), UsageError> {
        self.send_control(OpCode::Pong, payload.into())
    }

    fn send_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), UsageError> {
        if payload.len() > 125 {
            return Err(UsageError::ControlPayloadTooLong(payload.len()));
        }
        self.check_open()?;
        self.queue_frame(opcode, payload);
        Ok(())
    }

    /// Starts the closing handshake (R-CL-08): queues a Close frame and moves
    /// to [`CloseSent`](State::CloseSent).
    ///
    /// `CloseCode::NO_STATUS_RECEIVED` (1005) with an empty reason sends a
    /// Close with no body. Messages from the peer keep arriving until its
    /// Close does.
    ///
    /// # Errors
    ///
    /// [`UsageError::InvalidCloseCode`] for a code that may not be sent,
    /// [`UsageError::CloseReasonTooLong`] above 123 bytes, and
    /// [`UsageError::Closed`] if a Close was already sent or received.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        let frame = if code == CloseCode::NO_STATUS_RECEIVED && reason.is_empty() {
            CloseFrame {
                code,
                reason: Utf8Bytes::new(),
            }
        } else {
            CloseFrame::new(code, Utf8Bytes::from(reason.to_owned()))?
        };
        self.check_open()?;
        // A Pong held back for a Ping received while open goes before the
        // Close, which must be the last frame we send.
        if let Some(payload) = self.take_pending_pong() {
            self.queue_frame(OpCode::Pong, payload);
        }
        self.queue_close(&frame);
        self.state = State::CloseSent;
        Ok(())
    }

    fn check_open(&self) -> Result<(), UsageError> {
        if self.state == State::Open {
            Ok(())
        } else {
            Err(UsageError::Closed)
        }
    }

    // ---- output ----

    /// The bytes to write to the peer. Write them and
    /// [`advance`](Buf::advance) by what was written.
    pub fn output(&mut self) -> &mut Output {
        if self.out.len() < PONG_QUEUE_LIMIT
            && let Some(payload) = self.take_pending_pong()
        {
            self.queue_frame(OpCode::Pong, payload);
        }
        &mut self.out
    }

    /// How many bytes are queued for the transport (a held-back Pong not
    /// counted): wire bytes, headers included and after compression. (The
    /// browser API's `bufferedAmount` counts application bytes instead.)
    pub fn output_len(&self) -> usize {
        self.out.len()
    }

    /// Whether bytes are waiting to be written (a held-back Pong included).
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty()
            || self
                .rare
                .as_ref()
                .is_some_and(|rare| rare.pending_pong.is_some())
    }

    fn queue_pong(&mut self, payload: Bytes) {
        if self.out.len() < PONG_QUEUE_LIMIT {
            self.queue_frame(OpCode::Pong, payload);
        } else {
            self.rare.get_or_insert_default().pending_pong = Some(payload);
        }
    }

    fn take_pending_pong(&mut self) -> Option<Bytes> {
        self.rare.as_mut()?.pending_pong.take()
    }

    fn drop_pending_pong(&mut self) {
        let _ = self.take_pending_pong();
    }

    fn queue_close(&mut self, frame: &CloseFrame) {
        let mut payload = BytesMut::with_capacity(2 + frame.reason.len());
        frame.encode(&mut payload);
        self.rare.get_or_insert_default().sent = Some(frame.clone());
        self.queue_frame(OpCode::Close, payload.freeze());
    }

    fn queue_frame(&mut self, opcode: OpCode, payload: Bytes) {
        self.queue_frame_with(opcode, 0, payload);
    }

    fn queue_frame_with(&mut self, opcode: OpCode, rsv: u8, payload: Bytes) {
        self.push_frame(true, opcode, rsv, payload);
    }

    fn push_frame(&mut self, fin: bool, opcode: OpCode, rsv: u8, payload: Bytes) {
        let masking_key = match self.role {
            // R-MK-01, R-MK-05: a fresh key from a CSPRNG for every frame.
            Role::Client => Some(rand::random::<[u8; 4]>()),
            Role::Server => None,
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            masking_key,
            payload_len: payload.len() as u64,
        };
        self.out.push_frame(&header, payload);
    }
}

/// Encodes a message as one unmasked frame, as a server sends it.
///
/// The result is the same bytes for every receiver, so it can be encoded once
/// and queued on many server connections with
/// [`Connection::send_raw`] (a broadcast without per-receiver copies).
///
/// # Examples
///
/// ```
/// use sockeye_proto::{encode_server_frame, Message};
///
/// let frame = encode_server_frame(&Message::text("Hello"));
/// assert_eq!(&frame[..], b"\x81\x05Hello"); // R-FR-07
/// ```
pub fn encode_server_frame(message: &Message) -> Bytes {
    let opcode = if message.is_text() {
        OpCode::Text
    } else {
        OpCode::Binary
    };
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        masking_key: None,
        payload_len: message.len() as u64,
    };
    let mut head = [0; crate::frame::MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut frame = BytesMut::with_capacity(n + message.len());
    frame.extend_from_slice(&head[..n]);
    frame.extend_from_slice(message.payload());
    frame.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::DeflateConfig;

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
