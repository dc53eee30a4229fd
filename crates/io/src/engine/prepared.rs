//! Messages encoded once for many sessions (a broadcast), and what a
//! session's queue holds: packets, or such shared messages.

use std::sync::Arc;

use sockeye::PreparedMessage;

use super::packet::{Packet, Payload};

/// A message to send to many sessions, its WebSocket frame encoded once:
/// each WebSocket session queues the same bytes instead of encoding its
/// own copy. Cloning is O(1).
///
/// # Examples
///
/// ```
/// use sockeye_io::engine::{Payload, PreparedPayload};
///
/// let news = PreparedPayload::new(Payload::from("hello"));
/// assert_eq!(news.payload(), &Payload::from("hello"));
/// ```
#[derive(Clone, Debug)]
pub struct PreparedPayload(Arc<Prepared>);

/// The message and its frame.
#[derive(Debug)]
struct Prepared {
    /// The message, for the transports that do not take the frame: polling,
    /// and the WebSocket of an Engine.IO v3 session.
    payload: Payload,
    /// The message packet (`4` and the text, or the binary data) as an
    /// unmasked WebSocket frame.
    frame: PreparedMessage,
}

impl PreparedPayload {
    /// Encodes `payload`'s message packet as a WebSocket frame.
    pub fn new(payload: Payload) -> Self {
        let frame = PreparedMessage::new(&Packet::Message(payload.clone()).to_frame());
        PreparedPayload(Arc::new(Prepared { payload, frame }))
    }

    /// The message.
    pub fn payload(&self) -> &Payload {
        &self.0.payload
    }

    /// The frame of an Engine.IO v4 WebSocket.
    pub(crate) fn frame(&self) -> &PreparedMessage {
        &self.0.frame
    }
}

/// One entry of a session's queue.
#[derive(Clone, Debug)]
pub(crate) enum Outgoing {
    /// A packet of this session's own.
    Packet(Packet),
    /// A message shared with other sessions.
    Prepared(PreparedPayload),
}

impl Outgoing {
    /// The payload's length when the entry is a message (which the queue's
    /// bounds count), `None` for a control packet.
    pub(crate) fn message_len(&self) -> Option<usize> {
        match self {
            Outgoing::Packet(Packet::Message(payload)) => Some(payload.len()),
            Outgoing::Prepared(prepared) => Some(prepared.payload().len()),
            Outgoing::Packet(_) => None,
        }
    }

    /// The entry as a packet.
    pub(crate) fn into_packet(self) -> Packet {
        match self {
            Outgoing::Packet(packet) => packet,
            Outgoing::Prepared(prepared) => Packet::Message(prepared.payload().clone()),
        }
    }
}
