//! The checks a frame header passes before any of its payload is buffered:
//! reserved bits, control frames, masking, size limits and fragmentation
//! (RFC 6455 §5.2–§5.5).

use super::Connection;
use super::state::FrameInProgress;
use crate::error::Error;
use crate::frame::{FrameHeader, OpCode};
use crate::role::Role;

impl Connection {
    /// Checks a frame header against the protocol and the limits, before
    /// any of its payload is buffered, and starts the message's read state
    /// on the first frame of a message.
    pub(super) fn start_frame(&mut self, header: &FrameHeader) -> Result<FrameInProgress, Error> {
        let compressed = self.check_reserved_bits(header)?;
        if header.opcode.is_control() {
            check_control_header(header)?;
        }
        self.check_masking(header)?;
        let len = self.check_frame_len(header, compressed)?;
        if !header.opcode.is_control() {
            let so_far = self.start_or_continue_message(header.opcode, compressed)?;
            self.check_message_len(so_far, len)?;
        }
        Ok(FrameInProgress {
            fin: header.fin,
            opcode: header.opcode,
            masking_key: header.masking_key,
            len,
            processed: 0,
        })
    }

    /// R-FR-01: only permessage-deflate defines an RSV bit, RSV1, and only
    /// on the first frame of a data message (PMD-05, PMD-07). Returns
    /// whether RSV1 marks the frame's message compressed.
    #[inline]
    fn check_reserved_bits(&self, header: &FrameHeader) -> Result<bool, Error> {
        let compressed = header.rsv == 0b100;
        if header.rsv != 0
            && !(compressed
                && self.deflate.is_some()
                && matches!(header.opcode, OpCode::Text | OpCode::Binary))
        {
            return Err(Error::ReservedBitsSet);
        }
        Ok(compressed)
    }

    /// A client masks every frame and a server none (RFC 6455 §5.1).
    #[inline]
    fn check_masking(&self, header: &FrameHeader) -> Result<(), Error> {
        match (self.role, header.masking_key) {
            // R-MK-02
            (Role::Server, None) if !self.config.accept_unmasked_frames => {
                Err(Error::UnmaskedFrameFromClient)
            }
            // R-MK-04
            (Role::Client, Some(_)) => Err(Error::MaskedFrameFromServer),
            _ => Ok(()),
        }
    }

    /// R-LM-01: judges the declared length before anything is reserved for
    /// it, and returns it. A frame of a compressed message may carry
    /// deflate's expansion of the largest payload; what it inflates to is
    /// held to `max_message_size` as it inflates.
    #[inline]
    fn check_frame_len(&self, header: &FrameHeader, compressed: bool) -> Result<usize, Error> {
        // A text or binary frame with RSV1 starts a compressed message only
        // when none is in progress; otherwise start_or_continue_message
        // refuses it (R-FG-03), and the plain limit keeps judging it first.
        let in_compressed_message = match (header.opcode, &self.recv.message) {
            (OpCode::Continuation, message) => message.is_some() && self.recv.compressed,
            (_, message) => compressed && message.is_none(),
        };
        let limit = if in_compressed_message {
            self.config.max_compressed_frame_size()
        } else {
            self.config.max_frame_size
        };
        usize::try_from(header.payload_len)
            .ok()
            .filter(|&len| len <= limit)
            .ok_or(Error::FrameTooBig {
                size: header.payload_len,
                limit,
            })
    }

    /// Places a data frame in its message (RFC 6455 §5.4): a continuation
    /// continues the message in progress, within
    /// [`Config::max_fragments`](crate::Config::max_fragments); a text or
    /// binary frame starts a new one and resets the read state for it.
    /// Returns how many bytes the message holds so far.
    #[inline]
    fn start_or_continue_message(
        &mut self,
        opcode: OpCode,
        compressed: bool,
    ) -> Result<usize, Error> {
        match (&self.recv.message, opcode) {
            // R-FG-02
            (None, OpCode::Continuation) => Err(Error::UnexpectedContinuation),
            // R-FG-03
            (Some(_), OpCode::Text | OpCode::Binary) => Err(Error::ExpectedContinuation),
            (Some(message), _) => {
                if let Some(limit) = self.config.max_fragments
                    && message.fragments >= limit
                {
                    return Err(Error::TooManyFragments { limit });
                }
                Ok(message.data.len())
            }
            (None, _) => {
                self.recv.text = opcode == OpCode::Text;
                self.recv.compressed = compressed;
                self.recv.utf8.reset();
                Ok(0)
            }
        }
    }

    /// R-LM-01: an uncompressed message fails at the header of the frame
    /// that would take it over `max_message_size`. A compressed message is
    /// held to the limit as it inflates, its frames only to
    /// `max_compressed_frame_size` (see `check_frame_len`).
    #[inline]
    fn check_message_len(&self, so_far: usize, len: usize) -> Result<(), Error> {
        let limit = self.config.max_message_size;
        if !self.recv.compressed && len > limit - so_far.min(limit) {
            return Err(Error::MessageTooBig {
                size: (so_far + len) as u64,
                limit,
            });
        }
        Ok(())
    }
}

/// A control frame is never fragmented and carries at most 125 bytes
/// (RFC 6455 §5.5).
#[inline]
fn check_control_header(header: &FrameHeader) -> Result<(), Error> {
    // R-CF-02
    if !header.fin {
        return Err(Error::FragmentedControlFrame);
    }
    // R-CF-01
    if header.payload_len > 125 {
        return Err(Error::ControlFrameTooLong(header.payload_len));
    }
    Ok(())
}
