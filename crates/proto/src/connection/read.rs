//! The read side: input, and the loop that turns buffered bytes into
//! events, frame by frame.

use bytes::{Buf, BytesMut};

use super::state::{FrameInProgress, Recv, State};
use super::{Connection, Event};
use crate::close::CloseFrame;
use crate::error::Error;
use crate::frame::{FrameHeader, apply_mask};
use crate::message::Utf8Bytes;

/// The room [`Connection::read_buffer`] makes at least, when the frame
/// needs that much, however little is buffered.
const READ_ROOM_MIN: usize = 64 << 10;
/// The most room [`Connection::read_buffer`] makes, as a multiple of what
/// is buffered: memory follows what the peer sends, not what it announces.
const READ_ROOM_FACTOR: usize = 16;

impl Connection {
    /// Feeds bytes read from the peer, copying them into the read buffer.
    ///
    /// Input after the connection closed or failed is dropped (§7.1.7).
    pub fn receive(&mut self, data: &[u8]) {
        if self.reading() {
            if self.recv.buf.is_empty() {
                self.recv
                    .buf
                    .reserve(first_room(data, self.config.strict_length_encoding));
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

    /// Whether input is still taken: until the closing handshake completes
    /// or the connection fails.
    pub(super) fn reading(&self) -> bool {
        matches!(self.state, State::Open | State::CloseSent)
    }

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

    /// Reads frames from the buffer until one completes an event or the
    /// buffered bytes run out.
    fn read_event(&mut self) -> Result<Option<Event>, Error> {
        loop {
            let Some(mut frame) = self.frame_in_progress()? else {
                return Ok(None);
            };
            if frame.opcode.is_control() {
                return self.read_control_frame(frame);
            }
            if !self.unmask_arrived(&mut frame)? {
                self.recv.frame = Some(frame);
                return Ok(None);
            }
            self.recv.frame = None;
            let payload = take_front(&mut self.recv.buf, frame.len);
            let message = if self.recv.compressed {
                self.inflate_frame(&payload, frame.fin)?
            } else {
                self.reassemble(payload, frame.fin)
            };
            if let Some(message) = message {
                return Ok(Some(Event::Message(message)));
            }
        }
    }

    /// The frame being read: the one whose payload is incomplete, or else
    /// the next one, once its whole header is buffered and has passed the
    /// checks of [`start_frame`](Self::start_frame).
    #[inline]
    fn frame_in_progress(&mut self) -> Result<Option<FrameInProgress>, Error> {
        if let Some(frame) = self.recv.frame {
            return Ok(Some(frame));
        }
        let Some((header, header_len)) =
            FrameHeader::decode(&self.recv.buf, self.config.strict_length_encoding)?
        else {
            return Ok(None);
        };
        let frame = self.start_frame(&header)?;
        self.recv.buf.advance(header_len);
        Ok(Some(frame))
    }

    /// Handles a control frame once its whole payload (at most 125 bytes,
    /// R-CF-01) is buffered.
    #[inline]
    fn read_control_frame(&mut self, frame: FrameInProgress) -> Result<Option<Event>, Error> {
        if self.recv.buf.len() < frame.len {
            self.recv.frame = Some(frame);
            return Ok(None);
        }
        self.recv.frame = None;
        let mut payload = self.recv.buf.split_to(frame.len);
        if let Some(key) = frame.masking_key {
            apply_mask(&mut payload, key, 0);
        }
        self.on_control(frame.opcode, payload.freeze()).map(Some)
    }

    /// Unmasks the bytes of a data frame that arrived since the last call,
    /// in place, and checks them when they are uncompressed text, so bad
    /// text fails before the frame is complete (R-U8-03). Returns whether
    /// the whole payload is buffered.
    #[inline]
    fn unmask_arrived(&mut self, frame: &mut FrameInProgress) -> Result<bool, Error> {
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
        Ok(complete)
    }

    /// Fails the connection (§7.1.7): queue our Close unless one was sent,
    /// and read nothing more.
    pub(super) fn fail(&mut self, error: &Error) {
        if self.state == State::Open {
            let frame = CloseFrame {
                code: error.close_code(),
                reason: Utf8Bytes::from_static(error.close_reason()),
            };
            self.queue_close(&frame);
        }
        self.abort_reading();
    }
}

/// The room to make in an empty read buffer for `data`: exactly its length
/// when it is one whole frame (the usual request or reply), so the message
/// can keep the buffer itself without a second allocation; else as much
/// again, as the rest of a frame cut by the read usually fits without
/// moving what arrived.
fn first_room(data: &[u8], strict_length: bool) -> usize {
    match FrameHeader::decode(data, strict_length) {
        Ok(Some((header, header_len)))
            if usize::try_from(header.payload_len).ok() == Some(data.len() - header_len) =>
        {
            data.len()
        }
        _ => 2 * data.len(),
    }
}

/// The first `len` bytes of `buf`: the buffer itself when that is all of
/// it (no shared header allocated for a split), a split otherwise.
fn take_front(buf: &mut BytesMut, len: usize) -> BytesMut {
    if buf.len() == len {
        std::mem::take(buf)
    } else {
        buf.split_to(len)
    }
}
