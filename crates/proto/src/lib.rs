//! sockeye-proto: a sans-I/O WebSocket protocol engine (RFC 6455).
//!
//! Bytes in, events and bytes out: no sockets, no async runtime, no clock.
//! Here a server accepts a handshake and answers a client's message, with
//! the "network" being plain byte buffers:
//!
//! ```
//! use bytes::{Buf, BytesMut};
//! use sockeye_proto::handshake::{write_response, ClientHandshake, ServerHandshake};
//! use sockeye_proto::{Config, Connection, Event, Message, Role};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::default();
//!
//! // Opening handshake (RFC 6455 §4).
//! let request = http::Request::get("/chat").header("host", "example.com").body(())?;
//! let client_hs = ClientHandshake::new(request)?;
//! let mut wire = BytesMut::new();
//! client_hs.write_request(&mut wire);
//!
//! let (server_hs, used) = ServerHandshake::parse(&wire, &config)?.expect("a whole request");
//! assert_eq!(used, wire.len());
//! let response = server_hs.response(None)?;
//! let mut answer = BytesMut::new();
//! write_response(&response, &mut answer);
//!
//! let (head, _) = ClientHandshake::parse_response(&answer, &config)?.expect("a whole response");
//! client_hs.check_response(&head)?;
//!
//! // Data transfer (RFC 6455 §5, §6).
//! let mut client = Connection::new(Role::Client, config.clone());
//! let mut server = Connection::new(Role::Server, config);
//! client.send(Message::text("hello"))?;
//! let out = client.output();
//! server.receive(&out.copy_to_bytes(out.remaining()));
//!
//! while let Some(event) = server.next_event()? {
//!     if let Event::Message(message) = event {
//!         server.send(message)?; // echo
//!     }
//! }
//! let out = server.output();
//! client.receive(&out.copy_to_bytes(out.remaining()));
//! assert_eq!(
//!     client.next_event()?,
//!     Some(Event::Message(Message::text("hello")))
//! );
//! # Ok(())
//! # }
//! ```
//!
//! # Module map
//!
//! Each file owns one concern, and no file imports one that imports it
//! back. Bytes from the peer and commands from the application travel
//! these paths:
//!
//! ```text
//!  bytes in ─► connection/read ─► frame (header decode) ─► connection/header (checks)
//!              │  unmask (mask), check text (utf8) in place
//!              ├─► connection/control ─► Ping, Pong, Close events (+ queued replies)
//!              └─► connection/reassembly ─► deflate/inflate ─► Event::Message
//!
//!  bytes in, in place ─► connection/in_place: whole frames read where they lie
//!              ─► EventRef::Message (a MessageRef lent from the read);
//!                 the rest ─► connection/read as above
//!
//!  commands ─► connection/write ─► deflate/compress ─► output (header, mask) ─► bytes out
//! ```
//!
//! | file | owns |
//! |---|---|
//! | `connection/mod.rs` | [`Connection`]: construction, getters, [`Event`] |
//! | `connection/read.rs` | input, [`Connection::next_event`] and the frame-by-frame read loop |
//! | `connection/in_place.rs` | [`Connection::receive_in_place`]: [`InPlace`] and [`EventRef`], messages lent from the caller's read buffer |
//! | `connection/header.rs` | the checks a frame header passes before its payload is buffered |
//! | `connection/reassembly.rs` | whole messages from frames: fragments joined, compressed ones inflated |
//! | `connection/control.rs` | the peer's Ping, Pong and Close |
//! | `connection/write.rs` | commands, the frames they queue, [`encode_server_frame`] |
//! | `connection/state.rs` | [`State`], the read-side progress, and the close frames and held-back Pong kept boxed apart |
//! | [`frame`] (`frame.rs`) | opcodes and frame headers, decoded and encoded |
//! | `mask.rs` | masking, a block at a time ([`frame::apply_mask`]) |
//! | `mask_key.rs` | a client's fresh masking key per frame, from a per-thread block of CSPRNG output |
//! | `utf8.rs` | incremental UTF-8 validation, failing at the first bad byte |
//! | `output.rs` | [`Output`], the queue of encoded frames, as a vectored [`bytes::Buf`]: one pointer while empty |
//! | `queue.rs` | the frames behind a non-empty `Output`: small ones coalesced, large ones by reference |
//! | `spare.rs` | each thread's few spare write queues, so a connection holds none while idle yet a write allocates none |
//! | [`deflate`] (`deflate/`) | permessage-deflate: `negotiation`, `shared` zlib state, `compress`, `inflate` |
//! | [`handshake`] (`handshake/`) | the opening handshake: `client`, `server`, `headers`, `error` |
//! | `message.rs` | [`Message`] and [`Utf8Bytes`] |
//! | `message_ref.rs` | [`MessageRef`], a message that may borrow its payload |
//! | `close.rs`, `close_code.rs` | [`CloseFrame`] and [`CloseCode`] |
//! | `error.rs` | [`Error`] (the peer's violations) and [`UsageError`] (the caller's) |
//! | `config.rs`, `role.rs` | [`Config`] and [`Role`] |
//!
//! # Driving a connection
//!
//! An integration (a tokio transport, an `io_uring` loop, a test) owns the
//! socket and does four things:
//!
//! 1. **Handshake.** A server feeds the bytes it reads to
//!    [`ServerHandshake::parse`](handshake::ServerHandshake::parse) until it
//!    returns a request, then writes
//!    [`response`](handshake::ServerHandshake::response) (or, on an error,
//!    [`HandshakeError::to_response`](handshake::HandshakeError::to_response),
//!    which carries the right status: 400, 426, 431 or 505). A client sends
//!    [`ClientHandshake::write_request`](handshake::ClientHandshake::write_request)
//!    and waits for the answer, which
//!    [`parse_response`](handshake::ClientHandshake::parse_response) and
//!    [`check_response`](handshake::ClientHandshake::check_response) judge.
//!    Bytes that follow the head are WebSocket frames: feed them to the
//!    connection.
//! 2. **After each read**, [`Connection::receive`] (or `receive_buf`, which
//!    avoids a copy) the bytes, then call [`Connection::next_event`] until it
//!    returns `Ok(None)`. Or read in place: [`Connection::receive_in_place`]
//!    lends each message that arrived whole from the read buffer itself
//!    (no copy, no allocation), for a handler that is done with it before
//!    the next read, such as an echo answered with
//!    [`Connection::send_ref`]. Pings are answered and the peer's Close is replied
//!    to by the engine. An `Err` means the peer broke the protocol: the
//!    engine has queued a Close frame with the matching code (1002, 1007 or
//!    1009) and ignores all further input.
//! 3. **Write** everything in [`Connection::output`], a [`bytes::Buf`] with
//!    vectored chunks, in as few writes as possible, and advance it by what
//!    was written. Write before reading again: then every reply one read
//!    causes leaves in one syscall.
//! 4. **Close** the transport once [`Connection::state`] is
//!    [`State::Closed`] or [`State::Failed`] and the output is written: a
//!    server shuts down its side at once; a client waits, with a timeout of
//!    its choosing, for the server to do so (§7.1.1). When the peer's stream
//!    ends, call [`Connection::receive_eof`].
//!
//! Timers (handshake, close and keepalive timeouts) belong to the
//! integration: the engine only reports where the closing handshake stands.
//!
//! # Limits
//!
//! Every length a peer declares is checked against [`Config`] before any
//! memory is reserved for it: a frame header announcing 2^63 bytes fails the
//! connection with 1009 from the header alone.

#![doc(test(attr(deny(warnings), allow(dead_code))))]

mod close;
mod close_code;
mod config;
mod connection;
pub mod deflate;
mod error;
pub mod frame;
pub mod handshake;
mod mask;
mod mask_key;
mod message;
mod message_ref;
mod output;
mod queue;
mod role;
mod spare;
mod utf8;

pub use close::{CloseFrame, MAX_REASON_LEN};
pub use close_code::CloseCode;
pub use config::Config;
pub use connection::{Connection, Event, EventRef, InPlace, State, encode_server_frame};
pub use deflate::{DeflateConfig, PerMessageDeflate};
pub use error::{Error, UsageError};
pub use handshake::{Accepted, ClientHandshake, ExtensionOffer, HandshakeError, ServerHandshake};
pub use message::{Message, Utf8Bytes};
pub use message_ref::MessageRef;
pub use output::Output;
pub use role::Role;
