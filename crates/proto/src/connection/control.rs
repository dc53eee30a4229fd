//! The peer's control frames: Ping answered, Pong reported, Close replied
//! to (RFC 6455 §5.5).

use bytes::Bytes;

use super::state::{Recv, State};
use super::{Connection, Event};
use crate::close::CloseFrame;
use crate::error::Error;
use crate::frame::OpCode;

impl Connection {
    /// Handles a whole control frame, unmasked (RFC 6455 §5.5).
    pub(super) fn on_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<Event, Error> {
        match opcode {
            OpCode::Ping => {
                // R-CF-03: answer unless we already sent our Close.
                if self.state == State::Open {
                    self.queue_pong(payload.clone());
                }
                Ok(Event::Ping(payload))
            }
            // R-CF-05: solicited or not, a Pong is only reported.
            OpCode::Pong => Ok(Event::Pong(payload)),
            OpCode::Close => self.on_close(&payload),
            // Only control opcodes reach here: `read_event` checks
            // `is_control()` before calling.
            OpCode::Continuation | OpCode::Text | OpCode::Binary => {
                unreachable!("data opcode passed to on_control")
            }
        }
    }

    /// The peer's Close: reply to it if we had not closed, and read nothing
    /// more (RFC 6455 §5.5.1, §7.1.3).
    fn on_close(&mut self, payload: &Bytes) -> Result<Event, Error> {
        let frame = CloseFrame::parse(payload)?;
        if self.state == State::Open {
            if let Some(payload) = self.take_pending_pong() {
                self.queue_frame(OpCode::Pong, payload);
            }
            // R-CL-04: echo the code, and the reason with it, as browsers'
            // peers do: a client that closes with a reason sees it again in
            // its close event.
            self.queue_close(&frame);
        }
        self.state = State::Closed;
        self.recv = Recv::default();
        self.drop_pending_pong();
        self.cold.get_or_insert_default().received = Some(frame.clone());
        Ok(Event::Close(frame))
    }
}
