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
    /// any of its payload is buffered.
    pub(super) fn start_frame(&mut self, header: &FrameHeader) -> Result<FrameInProgress, Error> {
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
}
