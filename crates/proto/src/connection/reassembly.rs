//! Messages from complete data frames: the common one-frame message handed
//! out without a copy, fragments joined, and compressed messages inflated
//! (RFC 6455 §5.4, RFC 7692 §7.2.2).

use bytes::{Bytes, BytesMut};

use super::Connection;
use super::state::{MessageData, MessageInProgress};
use crate::deflate::Inflater;
use crate::error::Error;
use crate::message::{Message, Utf8Bytes};
use crate::utf8::Validator;

impl Connection {
    /// Takes a complete frame of an uncompressed message, returning the
    /// message after its last frame.
    #[inline]
    pub(super) fn reassemble(&mut self, payload: BytesMut, fin: bool) -> Option<Message> {
        match (self.recv.message.take(), fin) {
            // The common case: a whole message in one frame, handed out
            // without a copy.
            (None, true) => Some(self.finish(payload.freeze())),
            (None, false) => {
                self.recv.message = Some(Box::new(MessageInProgress {
                    data: MessageData::Plain(payload),
                    fragments: 1,
                }));
                None
            }
            (Some(mut message), fin) => {
                if let MessageData::Plain(data) = &mut message.data {
                    data.extend_from_slice(&payload);
                }
                message.fragments += 1;
                if fin {
                    return Some(self.finish(message.data.into_bytes()));
                }
                self.recv.message = Some(message);
                None
            }
        }
    }

    /// Inflates one complete frame of a compressed message (RFC 7692 §7.2.2),
    /// returning the message after its last frame.
    pub(super) fn inflate_frame(
        &mut self,
        payload: &[u8],
        fin: bool,
    ) -> Result<Option<Message>, Error> {
        let limit = self.config.max_message_size;
        match self.recv.message.take() {
            // The common case: a whole message in one frame.
            None if fin => {
                let (inflater, text) = self.inflater()?;
                let data = inflater.inflate_whole(payload, limit, text)?;
                Ok(Some(self.finish(data)))
            }
            None => {
                self.start_inflated_message(payload, limit)?;
                Ok(None)
            }
            Some(message) => self.continue_inflated_message(message, payload, fin, limit),
        }
    }

    /// Inflates the first frame of a fragmented compressed message.
    fn start_inflated_message(&mut self, payload: &[u8], limit: usize) -> Result<(), Error> {
        let (inflater, text) = self.inflater()?;
        let mut data = Vec::new();
        inflater.inflate_part(payload, false, &mut data, limit, text)?;
        self.recv.message = Some(Box::new(MessageInProgress {
            data: MessageData::Inflated(data, !payload.is_empty()),
            fragments: 1,
        }));
        Ok(())
    }

    /// Inflates a continuation of a compressed message, returning the
    /// message after its last frame.
    fn continue_inflated_message(
        &mut self,
        mut message: Box<MessageInProgress>,
        payload: &[u8],
        fin: bool,
        limit: usize,
    ) -> Result<Option<Message>, Error> {
        if let MessageData::Inflated(data, fed) = &mut message.data {
            let (inflater, text) = self.inflater()?;
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
            return Ok(Some(self.finish(message.data.into_bytes())));
        }
        self.recv.message = Some(message);
        Ok(None)
    }

    /// The inflater, and the validator that checks what it produces when
    /// the message is text.
    #[inline]
    fn inflater(&mut self) -> Result<(&mut Inflater, Option<&mut Validator>), Error> {
        // RSV1 passes the header checks only once permessage-deflate was
        // agreed (R-FR-01), so the error is a guard that never fires.
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
        Ok((inflater, text))
    }

    /// The finished message: text once its UTF-8 was checked, else binary.
    #[inline]
    pub(super) fn finish(&self, payload: Bytes) -> Message {
        if self.recv.text {
            Message::Text(Utf8Bytes::from_validated(payload))
        } else {
            Message::Binary(payload)
        }
    }
}
