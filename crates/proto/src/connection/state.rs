//! The state a connection keeps between calls: where the closing
//! handshake stands, the read side's progress through frames and
//! messages, and the parts most connections never need.

use bytes::{Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::frame::OpCode;
use crate::utf8::Validator;

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

/// The parts of a connection's state that most connections never touch:
/// the Close frames exchanged and a Pong held back under a ping flood.
/// They live behind one `Box`, allocated when first needed, so that an
/// open connection stays small (hot/cold splitting).
#[derive(Debug, Default)]
pub(super) struct ColdState {
    /// The Close frame we sent: our own, our reply to the peer's, or the
    /// one that failed the connection.
    pub(super) sent: Option<CloseFrame>,
    /// The peer's Close frame (R-CL-10, R-CL-11).
    pub(super) received: Option<CloseFrame>,
    /// The latest Ping's payload, when the output was too full to queue
    /// its Pong at once; newer Pings replace it (R-CF-04 allows answering
    /// only the latest).
    pub(super) pending_pong: Option<Bytes>,
}

/// Read-side progress.
#[derive(Debug, Default)]
pub(super) struct Recv {
    /// Bytes read and not yet consumed. Starts with the payload of `frame`
    /// when one is in progress (its header already consumed).
    pub(super) buf: BytesMut,
    /// The frame whose header was read and whose payload is incomplete.
    pub(super) frame: Option<FrameInProgress>,
    /// The fragmented message being assembled.
    pub(super) message: Option<Box<MessageInProgress>>,
    /// Whether the current message is text (checked as it arrives).
    pub(super) text: bool,
    /// Whether the current message is compressed (RSV1 on its first frame).
    pub(super) compressed: bool,
    /// Checks the current text message as it arrives, or as it inflates.
    pub(super) utf8: Validator,
}

/// A data or control frame whose header passed the checks.
#[derive(Clone, Copy, Debug)]
pub(super) struct FrameInProgress {
    pub(super) fin: bool,
    pub(super) opcode: OpCode,
    pub(super) masking_key: Option<[u8; 4]>,
    /// The payload length, within the limits.
    pub(super) len: usize,
    /// Leading payload bytes already unmasked and validated in place.
    pub(super) processed: usize,
}

/// A fragmented message whose last frame has not arrived.
#[derive(Debug)]
pub(super) struct MessageInProgress {
    /// The payload so far: as received, or inflated if compressed.
    pub(super) data: MessageData,
    /// How many frames it has had so far.
    pub(super) fragments: usize,
}

/// The payload of a message in progress.
#[derive(Debug)]
pub(super) enum MessageData {
    /// Uncompressed: the frames' payloads, joined.
    Plain(BytesMut),
    /// Inflated so far, and whether any compressed byte arrived: a message
    /// whose frames are all empty is empty and must not touch the inflater.
    Inflated(Vec<u8>, bool),
}

impl MessageData {
    pub(super) fn into_bytes(self) -> Bytes {
        match self {
            MessageData::Plain(data) => data.freeze(),
            MessageData::Inflated(data, _) => Bytes::from(data),
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            MessageData::Plain(data) => data.len(),
            MessageData::Inflated(data, _) => data.len(),
        }
    }
}
