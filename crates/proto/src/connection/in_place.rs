//! Reading in place: the frames that arrive whole in one read are parsed,
//! unmasked and checked inside the caller's buffer, and their messages
//! handed out borrowed from it, with no copy into the read buffer and no
//! allocation. Everything else (a frame cut by the read, fragments, input
//! while a frame is in progress) goes through the read buffer as
//! [`receive`](Connection::receive) takes it.

use bytes::Bytes;

use super::{Connection, Event};
use crate::close::CloseFrame;
use crate::error::Error;
use crate::frame::{FrameHeader, apply_mask};
use crate::message_ref::MessageRef;
use crate::utf8;

/// An event whose message may borrow the bytes read: what
/// [`InPlace::next_event`] returns. The other events are as in [`Event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventRef<'a> {
    /// A whole text or binary message.
    Message(MessageRef<'a>),
    /// A Ping. The engine has already queued the Pong (R-CF-03).
    Ping(Bytes),
    /// A Pong, solicited or not (R-CF-05).
    Pong(Bytes),
    /// The peer's Close. If we had not sent one, the engine has queued the
    /// reply (R-CL-04). No event follows.
    Close(CloseFrame),
}

impl From<Event> for EventRef<'_> {
    fn from(event: Event) -> Self {
        match event {
            Event::Message(message) => EventRef::Message(message.into()),
            Event::Ping(payload) => EventRef::Ping(payload),
            Event::Pong(payload) => EventRef::Pong(payload),
            Event::Close(frame) => EventRef::Close(frame),
        }
    }
}

/// The events of bytes read into a buffer of the caller's, taken in
/// place: made by [`Connection::receive_in_place`].
///
/// Call [`next_event`](Self::next_event) until it returns `Ok(None)` or an
/// error, as with [`Connection::next_event`]; commands go through
/// [`connection`](Self::connection) at any point, while a borrowed message
/// is still held. Whatever is left unread when it is dropped (the caller
/// stopped early) is copied into the read buffer: no byte is lost, and the
/// engine's own `next_event` goes on from there.
#[derive(Debug)]
pub struct InPlace<'c, 'd> {
    conn: &'c mut Connection,
    /// The bytes not yet read, from a frame boundary while the engine
    /// holds nothing else.
    rest: &'d mut [u8],
}

impl Connection {
    /// Feeds bytes read from the peer without copying them: messages that
    /// arrive whole, in one frame, are unmasked and checked where they lie
    /// and handed out borrowed from `data` (see [`InPlace`]).
    ///
    /// `data` is changed (unmasked in place). Input after the connection
    /// closed or failed is dropped (§7.1.7), as by [`receive`](Self::receive).
    ///
    /// ```
    /// use sockeye_proto::{Config, Connection, EventRef, Role};
    /// use bytes::Buf;
    ///
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// client.send(sockeye_proto::Message::text("hello")).unwrap();
    /// let out = client.output();
    /// let mut wire = out.copy_to_bytes(out.remaining()).to_vec();
    ///
    /// let mut input = server.receive_in_place(&mut wire);
    /// while let Some(event) = input.next_event().unwrap() {
    ///     if let EventRef::Message(message) = event {
    ///         assert!(message.is_borrowed());
    ///         // Echo it: the payload is copied next to the reply's header.
    ///         input.connection().send_ref(message).unwrap();
    ///     }
    /// }
    /// ```
    pub fn receive_in_place<'d>(&mut self, data: &'d mut [u8]) -> InPlace<'_, 'd> {
        InPlace {
            conn: self,
            rest: data,
        }
    }

    /// Whether the next bytes start a frame with nothing else pending:
    /// nothing buffered, no frame or fragmented message in progress.
    fn at_frame_boundary(&self) -> bool {
        self.reading()
            && self.recv.buf.is_empty()
            && self.recv.frame.is_none()
            && self.recv.message.is_none()
    }
}

impl<'d> InPlace<'_, 'd> {
    /// The connection, for commands (sends, close, pings) between events.
    ///
    /// Not for input: bytes fed through it (`receive`, `receive_eof`)
    /// while this reader still holds unread ones would be taken before
    /// them, or end the stream before them. Finish or drop the reader
    /// first.
    pub fn connection(&mut self) -> &mut Connection {
        self.conn
    }

    /// The next event the input completes, as
    /// [`Connection::next_event`] returns it, with a message that arrived
    /// whole in one frame borrowed from the bytes read.
    ///
    /// # Errors
    ///
    /// As [`Connection::next_event`]: the connection failed, with its
    /// Close queued and the rest of the input dropped.
    pub fn next_event(&mut self) -> Result<Option<EventRef<'d>>, Error> {
        if !self.rest.is_empty() {
            match self.next_whole_frame() {
                Ok(Some(event)) => return Ok(Some(event)),
                Ok(None) => {}
                Err(e) => {
                    self.rest = &mut [];
                    self.conn.fail(&e);
                    return Err(e);
                }
            }
            // Not whole, not the start of a frame, or not a kind read in
            // place: from here the read buffer takes the input.
            self.spill();
        }
        Ok(self.conn.next_event()?.map(EventRef::from))
    }

    /// Hands the bytes not read in place to the engine's read buffer.
    fn spill(&mut self) {
        if !self.rest.is_empty() {
            let rest = std::mem::take(&mut self.rest);
            self.conn.receive(rest);
        }
    }

    /// The event of the frame at the front of the input, when the frame is
    /// there whole, is not a fragment and the engine is at a frame
    /// boundary; `None` (input untouched) otherwise.
    fn next_whole_frame(&mut self) -> Result<Option<EventRef<'d>>, Error> {
        let conn = &mut *self.conn;
        if !conn.at_frame_boundary() {
            return Ok(None);
        }
        let Some((header, header_len)) =
            FrameHeader::decode(self.rest, conn.config.strict_length_encoding)?
        else {
            return Ok(None);
        };
        let whole = usize::try_from(header.payload_len)
            .ok()
            .and_then(|len| len.checked_add(header_len))
            .filter(|&end| end <= self.rest.len() && header.fin);
        let Some(end) = whole else {
            return Ok(None);
        };
        let frame = conn.start_frame(&header)?;
        let (front, rest) = std::mem::take(&mut self.rest).split_at_mut(end);
        self.rest = rest;
        let payload = &mut front[header_len..];
        if let Some(key) = frame.masking_key {
            apply_mask(payload, key, 0);
        }
        let payload: &'d [u8] = payload;
        if frame.opcode.is_control() {
            let event = conn.on_control(frame.opcode, Bytes::copy_from_slice(payload))?;
            return Ok(Some(event.into()));
        }
        if conn.recv.compressed {
            let message = conn.inflate_frame(payload, true)?;
            return Ok(message.map(|message| EventRef::Message(message.into())));
        }
        Ok(Some(EventRef::Message(borrowed_message(
            conn.recv.text,
            payload,
        )?)))
    }
}

/// The message of one whole uncompressed frame, its text checked.
#[expect(
    clippy::inline_always,
    reason = "returned through memory, its result was read back with one wide load \
              from two narrower stores, a stall (no store forwarding) on every message"
)]
#[inline(always)]
fn borrowed_message(text: bool, payload: &[u8]) -> Result<MessageRef<'_>, Error> {
    if !text {
        return Ok(MessageRef::binary(payload));
    }
    let text = utf8::whole(payload).map_err(|_| Error::InvalidUtf8)?;
    Ok(MessageRef::text(text))
}

impl Drop for InPlace<'_, '_> {
    /// Keeps what was not read: it goes to the read buffer.
    fn drop(&mut self) {
        self.spill();
    }
}
