//! sockeye-io-redis: the wire format of Node's `@socket.io/redis-adapter`
//! 8.3 (classic pub/sub mode, `createAdapter`), so that sockeye-io servers
//! and Node `socket.io` 4.8 servers on one Redis can form one cluster.
//!
//! This crate holds the messages only; it opens no connection. Each
//! message is encoded byte for byte as Node's adapter publishes it and
//! decoded from what Node publishes, with malformed input refused by a
//! [`WireError`] (never a panic, and no allocation beyond a small multiple
//! of the input).
//!
//! A broadcast from this server, as a Node server receives it:
//!
//! ```
//! use sockeye_io::adapter::BroadcastOptions;
//! use sockeye_io::parser::Packet;
//! use sockeye_io_redis::{Broadcast, Channels, DEFAULT_KEY, Opts, UID_LEN, uid};
//! use rmpv::Value;
//!
//! let me = uid(UID_LEN);
//! let channels = Channels::new(DEFAULT_KEY, "/", &me);
//! let packet = Packet::event("/", "chat", vec![Value::from("hi")]);
//! let opts = BroadcastOptions { rooms: vec!["room1".into()], ..Default::default() };
//!
//! let channel = channels.broadcast_to(&opts.rooms);
//! let bytes = Broadcast::encode(&me, &packet, &Opts::from(&opts));
//! assert_eq!(channel, "socket.io#/#room1#");
//!
//! // On the receiving side: which room the channel names, then the message.
//! assert_eq!(channels.room_of(&channel), Some("room1"));
//! let received = Broadcast::decode(&bytes).unwrap();
//! assert_eq!(received.packet, packet);
//! assert_eq!(received.opts.to_broadcast_options(), opts);
//! ```
//!
//! # Module map
//!
//! Bottom up; each file uses only those above it in this list.
//!
//! - `error.rs` ([`WireError`]): why a message was refused.
//! - `uid.rs` ([`uid`]): node and request ids, as `uid2(6)`.
//!   `channels.rs` ([`Channels`]): the channel names.
//!   `kind.rs` ([`RequestKind`]): the request type numbers. `date.rs`:
//!   Node's text form of a date.
//! - `msgpack.rs`: msgpack as notepack.io writes it. `json.rs`: JSON as
//!   `JSON.stringify` writes it. `codec.rs` ([`Codec`]): which of the two
//!   a message is in. `fields.rs`: reading a decoded message's fields.
//! - `opts.rs` ([`Opts`], [`Flags`]): `{rooms, except, flags}`.
//!   `packet.rs`: the unencoded Socket.IO packet `{type, data, nsp}`.
//! - `broadcast.rs` ([`Broadcast`]): `[uid, packet, opts]`.
//!   `handshake.rs` ([`NodeHandshake`], [`RemoteSocket`]): a socket as
//!   `fetchSockets()` describes it.
//! - `request.rs` ([`Request`]) and `response.rs` ([`Response`]): every
//!   request type and its answer.
//!
//! The facts behind each message are in the project's Socket.IO notes,
//! section 3b; the tests compare against bytes Node produced
//! (`interop/redis-adapter/`).

mod broadcast;
mod channels;
mod codec;
mod date;
mod error;
mod fields;
mod handshake;
mod json;
mod kind;
mod msgpack;
mod opts;
mod packet;
mod request;
mod response;
mod uid;

pub use broadcast::Broadcast;
pub use channels::{Channels, DEFAULT_KEY};
pub use codec::Codec;
pub use error::{Result, WireError};
pub use handshake::{NodeHandshake, RemoteSocket};
pub use kind::RequestKind;
pub use msgpack::MAX_DEPTH;
pub use opts::{Flags, Opts};
pub use request::Request;
pub use response::Response;
pub use uid::{EMITTER_UID, UID_LEN, uid};
