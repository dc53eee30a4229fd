//! Why a message from another server was refused.

/// A message on one of the adapter's channels that this crate cannot read.
///
/// Decoding never panics and never trusts a declared length beyond the
/// bytes that are there: every malformed input ends here.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The bytes are not one msgpack value (or nest deeper than
    /// [`MAX_DEPTH`](crate::MAX_DEPTH)).
    #[error("invalid msgpack")]
    Msgpack(#[source] rmpv::decode::Error),
    /// The bytes are not one JSON value (or nest deeper than `serde_json`'s
    /// limit of 128).
    #[error("invalid json")]
    Json(#[source] serde_json::Error),
    /// Bytes follow the message.
    #[error("trailing bytes after the message")]
    TrailingBytes,
    /// The message does not have the shape its kind requires; the name
    /// says which part.
    #[error("malformed message: {0}")]
    Shape(&'static str),
    /// The request or response type is not one this crate knows.
    #[error("unknown message type {0}")]
    UnknownType(u64),
}

/// The crate's result type.
pub type Result<T, E = WireError> = std::result::Result<T, E>;
