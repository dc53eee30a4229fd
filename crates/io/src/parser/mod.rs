//! Socket.IO v5 packets and their two wire forms.
//!
//! A [`Packet`] is what both parsers produce and consume: its payload is an
//! [`rmpv::Value`] tree in which [`Value::Binary`](rmpv::Value::Binary) may stand anywhere in
//! an event's or an ack's data.
//!
//! - [`json`]: the default parser (`socket.io-parser`). A packet is a text frame, and each
//!   binary value becomes a placeholder there plus a binary frame after it.
//! - [`msgpack`]: `socket.io-msgpack-parser`. A packet is one msgpack binary frame.
//!
//! [`Parser`] picks one by configuration; its [`Decoder`] is held per connection.
//!
//! # Examples
//!
//! ```
//! use rmpv::Value;
//! use sockeye_io::parser::{Frame, Packet, Parser};
//!
//! let packet = Packet::event("/", "hey", vec![Value::from("Jude")]);
//! let encoded = Parser::Json.encode(&packet).unwrap();
//! assert_eq!(encoded.head, Frame::Text(r#"2["hey","Jude"]"#.into()));
//!
//! let mut decoder = Parser::Json.decoder();
//! assert_eq!(decoder.text(r#"2["hey","Jude"]"#).unwrap(), Some(packet));
//! ```

mod choice;
mod error;
mod frame;
pub mod json;
mod limits;
pub mod msgpack;
mod packet;
mod payload;

pub use choice::{Decoder, Parser};
pub use error::{EncodeError, ParseError};
pub use frame::{Encoded, Frame};
pub use limits::{DecoderLimits, MAX_DEPTH};
pub use packet::{MAIN_NAMESPACE, Packet, PacketKind, PacketRef, RESERVED_EVENTS};
