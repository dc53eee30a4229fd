//! What `sockeye connect` hands its connection to send, whatever read it:
//! stdin in any framing, `--execute`, or a JSON command.

use bytes::Bytes;
use sockeye::{CloseCode, Message};

/// One thing to send.
#[derive(Clone, Debug)]
pub(super) enum Outgoing {
    /// A data message.
    Message(Message),
    /// A Ping with this payload.
    Ping(Bytes),
    /// A Close with this code and reason; nothing is sent after it.
    Close(CloseCode, String),
    /// The input ended: all of it was read (`Ok`), or it was unusable
    /// (`Err` with why). Always the last item.
    End(Result<(), String>),
}
