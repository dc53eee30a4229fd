//! The default parser (`socket.io-parser`): packets as JSON text frames, binary data as
//! attachments in the binary frames that follow.
//!
//! Wire form (Socket.IO v5 "Packet encoding"):
//!
//! ```text
//! <packet type>[<# of binary attachments>-][<namespace>,][<acknowledgment id>][JSON payload]
//! + binary attachments
//! ```
//!
//! where each attachment stands in the JSON as `{"_placeholder":true,"num":N}`.

mod attachments;
mod decode;
mod encode;
mod header;
mod surrogates;
mod write;

pub use decode::Decoder;
pub use encode::{encode, encode_owned, encode_ref};
