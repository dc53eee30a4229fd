//! The write side: commands, and the frames they queue on the output.

use bytes::{Bytes, BytesMut};

use super::Connection;
use super::state::State;
use crate::close::CloseFrame;
use crate::close_code::CloseCode;
use crate::error::UsageError;
use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::mask_key;
use crate::message::{Message, Utf8Bytes};
use crate::message_ref::MessageRef;
use crate::output::Output;
use crate::queue::COPY_THRESHOLD;
use crate::role::Role;

/// Above this many queued output bytes, Pongs are held back and coalesced
/// so a peer that pings without reading cannot grow our queue.
const PONG_QUEUE_LIMIT: usize = 64 << 10;

impl Connection {
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
        let (rsv, payload) = self.compress_payload(payload, may_compress);
        match self.config.max_send_frame_size {
            Some(size) if size > 0 && payload.len() > size => {
                self.queue_fragments(opcode, rsv, &payload, size);
            }
            _ => self.queue_frame_with(opcode, rsv, payload),
        }
        Ok(())
    }

    /// The RSV bits and payload a message goes out with: compressed, with
    /// RSV1 set (PMD-04), when permessage-deflate is in force, the caller
    /// allows it and the compressor finds it worth it.
    #[inline]
    fn compress_payload(&mut self, payload: Bytes, may_compress: bool) -> (u8, Bytes) {
        let compressed = match self.deflate.as_deref_mut() {
            Some(deflate) if may_compress => deflate.compressor.compress(&payload),
            _ => None,
        };
        match compressed {
            Some(compressed) => (0b100, compressed),
            None => (0, payload),
        }
    }

    /// Queues a message in frames of at most `size` bytes (R-FG-01): the
    /// first carries the opcode (and RSV1, PMD-05), the rest are
    /// continuations, the last has FIN. Each fragment is a slice of the
    /// payload, not a copy.
    fn queue_fragments(&mut self, opcode: OpCode, rsv: u8, payload: &Bytes, size: usize) {
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

    /// Queues a text message given in parts, as [`send`](Self::send) does
    /// with the parts joined: a protocol that prefixes each message (a type
    /// digit, a channel name) sends it without joining the parts first. A
    /// short message, uncompressed and unfragmented, is copied part by part
    /// next to its header; any other is joined, then sent as `send` does.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_text_parts(&mut self, parts: &[&str]) -> Result<(), UsageError> {
        self.send_parts(OpCode::Text, parts.iter().map(|part| part.as_bytes()))
    }

    /// Queues a message that may borrow its payload: a borrowed one is
    /// copied, next to its header when short (the cheapest echo of a
    /// message read in place); an owned one is sent as [`send`](Self::send)
    /// does.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_ref(&mut self, message: MessageRef<'_>) -> Result<(), UsageError> {
        match message.into_parts() {
            Ok((true, text)) => self.send_parts(OpCode::Text, std::iter::once(text)),
            Ok((false, data)) => self.send_parts(OpCode::Binary, std::iter::once(data)),
            Err(owned) => self.send(owned),
        }
    }

    /// Queues a message whose payload is `parts` one after the other (text
    /// already known to be UTF-8 when `opcode` is Text): copied next to its
    /// header when short, uncompressed and unfragmented, else joined and
    /// sent as `send` does.
    fn send_parts<'p, I>(&mut self, opcode: OpCode, parts: I) -> Result<(), UsageError>
    where
        I: Iterator<Item = &'p [u8]> + Clone,
    {
        self.check_open()?;
        let len: usize = parts.clone().map(<[u8]>::len).sum();
        let fragmented = self
            .config
            .max_send_frame_size
            .is_some_and(|size| size > 0 && len > size);
        if len >= COPY_THRESHOLD || self.deflate.is_some() || fragmented {
            let mut joined = BytesMut::with_capacity(len);
            parts.for_each(|part| joined.extend_from_slice(part));
            let joined = joined.freeze();
            let message = match opcode {
                OpCode::Text => Message::Text(Utf8Bytes::from_validated(joined)),
                _ => Message::Binary(joined),
            };
            return self.send_message(message, true);
        }
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            masking_key: self.masking_key(),
            payload_len: len as u64,
        };
        self.out.push_small_frame(&header, parts);
        Ok(())
    }

    /// Queues bytes already encoded as complete frames, as-is.
    ///
    /// For broadcast: a server encodes a message once with
    /// [`encode_server_frame`] and queues the
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

    /// The bytes to write to the peer. Write them and
    /// [`advance`](bytes::Buf::advance) by what was written.
    ///
    /// A Pong held back while the queue was long joins it here, once the
    /// queue is short again.
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
                .cold
                .as_ref()
                .is_some_and(|cold| cold.pending_pong.is_some())
    }

    /// Queues the answer to a Ping (R-CF-03), or holds it back while the
    /// output is long, replacing any Pong held before (R-CF-04).
    pub(super) fn queue_pong(&mut self, payload: Bytes) {
        if self.out.len() < PONG_QUEUE_LIMIT {
            self.queue_frame(OpCode::Pong, payload);
        } else {
            self.cold.get_or_insert_default().pending_pong = Some(payload);
        }
    }

    /// The held-back Pong's payload, if any, no longer held.
    pub(super) fn take_pending_pong(&mut self) -> Option<Bytes> {
        self.cold.as_mut()?.pending_pong.take()
    }

    /// Forgets the held-back Pong once the connection ends: nothing may
    /// follow our Close (§5.5.1).
    pub(super) fn drop_pending_pong(&mut self) {
        let _ = self.take_pending_pong();
    }

    /// Queues a Close frame and remembers it as the one we sent.
    pub(super) fn queue_close(&mut self, frame: &CloseFrame) {
        let mut payload = BytesMut::with_capacity(2 + frame.reason.len());
        frame.encode(&mut payload);
        self.cold.get_or_insert_default().sent = Some(frame.clone());
        self.queue_frame(OpCode::Close, payload.freeze());
    }

    /// Queues a whole frame with no RSV bit set.
    pub(super) fn queue_frame(&mut self, opcode: OpCode, payload: Bytes) {
        self.queue_frame_with(opcode, 0, payload);
    }

    /// Queues a whole frame.
    fn queue_frame_with(&mut self, opcode: OpCode, rsv: u8, payload: Bytes) {
        self.push_frame(true, opcode, rsv, payload);
    }

    /// Encodes a frame header, masked from a client, and queues it with
    /// its payload.
    fn push_frame(&mut self, fin: bool, opcode: OpCode, rsv: u8, payload: Bytes) {
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            masking_key: self.masking_key(),
            payload_len: payload.len() as u64,
        };
        self.out.push_frame(&header, payload);
    }

    /// The masking key of the next frame: none from a server.
    fn masking_key(&self) -> Option<[u8; 4]> {
        match self.role {
            // R-MK-01, R-MK-05: a fresh key from a CSPRNG for every frame.
            Role::Client => Some(mask_key::fresh()),
            Role::Server => None,
        }
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
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut frame = BytesMut::with_capacity(n + message.len());
    frame.extend_from_slice(&head[..n]);
    frame.extend_from_slice(message.payload());
    frame.freeze()
}
