//! What can go wrong decoding a peer's packet, or encoding one of ours.

use super::packet::PacketKind;

/// A peer sent something that is not a valid Socket.IO v5 packet.
///
/// Every variant is the peer's fault; the reference server closes the connection on any of
/// them, and so should the layer above. Messages never quote the peer's bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// An empty text frame.
    #[error("empty packet")]
    EmptyPacket,
    /// The packet type is not one of 0 to 6 (JSON) or 0 to 4 (msgpack).
    #[error("unknown packet type")]
    UnknownPacketType,
    /// A `BINARY_EVENT` or `BINARY_ACK` whose attachment count is not digits followed by `-`.
    #[error("invalid attachment count")]
    InvalidAttachmentCount,
    /// A binary packet announces more attachments than the decoder accepts.
    #[error("too many attachments: {count} (limit {limit})")]
    TooManyAttachments {
        /// What the packet announced.
        count: u64,
        /// [`DecoderLimits::max_attachments`](super::DecoderLimits::max_attachments).
        limit: usize,
    },
    /// The attachments of one packet add up to more bytes than the decoder accepts.
    #[error("attachments too large: {size} bytes (limit {limit})")]
    AttachmentsTooLarge {
        /// Bytes received for the packet so far, this frame included.
        size: usize,
        /// [`DecoderLimits::max_attachment_bytes`](super::DecoderLimits::max_attachment_bytes).
        limit: usize,
    },
    /// The namespace is missing, not a string, or not valid UTF-8.
    #[error("invalid namespace")]
    InvalidNamespace,
    /// The acknowledgement id is not an unsigned integer that fits 64 bits.
    #[error("invalid acknowledgement id")]
    InvalidAckId,
    /// The payload is not JSON (or has something after the JSON value).
    #[error("invalid JSON payload")]
    InvalidJson(#[source] serde_json::Error),
    /// The msgpack frame does not hold a well-formed msgpack value.
    #[error("invalid msgpack packet")]
    InvalidMsgpack(#[source] rmpv::decode::Error),
    /// Bytes follow the msgpack value of a packet.
    #[error("trailing bytes after the packet")]
    TrailingBytes,
    /// The msgpack value is not a map with the packet's fields.
    #[error("msgpack packet is not a map with a type")]
    NotAPacketMap,
    /// The payload is one the packet's kind does not allow (see [`Packet`](super::Packet)).
    #[error("invalid payload for a {kind} packet")]
    InvalidPayload {
        /// The packet's kind.
        kind: PacketKind,
    },
    /// An event named with a name the protocol keeps for itself (`connect`, `disconnect`, ...).
    #[error("reserved event name")]
    ReservedEventName,
    /// A placeholder whose `num` is not the index of one of the packet's attachments.
    #[error("attachment placeholder out of range (the packet has {count} attachments)")]
    PlaceholderOutOfRange {
        /// How many attachments the packet announced.
        count: usize,
    },
    /// A binary frame arrived while no binary packet was waiting for attachments.
    #[error("binary frame while no attachment is expected")]
    UnexpectedBinary,
    /// A text frame arrived while a binary packet was waiting for attachments (JSON), or at
    /// all (msgpack, whose packets are binary frames).
    #[error("text frame while a binary frame is expected")]
    UnexpectedText,
}

/// A packet we were asked to encode cannot be written in the parser's wire form.
///
/// These are the caller's mistakes, never the peer's.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The JSON wire form needs a namespace that starts with `/` and holds no `,`.
    #[error("namespace must start with '/' and contain no ','")]
    InvalidNamespace,
    /// JSON object keys are strings: a map key that is binary, an array, a map or an
    /// extension has no JSON form.
    #[error("map key has no JSON form")]
    UnsupportedKey,
    /// msgpack extension values have no JSON form.
    #[error("msgpack extension value has no JSON form")]
    ExtensionValue,
    /// An array, a map, a string or binary data longer than msgpack can express (2^32 - 1).
    #[error("value too long for msgpack")]
    TooLong,
    /// Only events and acks carry binary attachments (`BINARY_EVENT`, `BINARY_ACK`).
    #[error("binary data in a {kind} packet")]
    BinaryNotAllowed {
        /// The packet's kind.
        kind: PacketKind,
    },
}
