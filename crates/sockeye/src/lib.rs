//! sockeye: WebSocket client and server for tokio.
//!
//! An echo server and a client talking to it over loopback:
//!
//! ```
//! use futures_util::{SinkExt, StreamExt};
//! use sockeye::{CloseCode, Message};
//! use tokio::net::TcpListener;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> sockeye::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/echo", listener.local_addr()?);
//!
//! // Server: echo every message until the client closes.
//! let server = tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await.map_err(sockeye::Error::Io)?;
//!     let mut ws = sockeye::accept(tcp).await?;
//!     while let Some(message) = ws.next().await {
//!         ws.feed(message?).await?; // queued; written before the next read
//!     }
//!     Ok::<_, sockeye::Error>(ws.close_frame().map(|f| f.code))
//! });
//!
//! // Client: send, read the echo, close.
//! let mut ws = sockeye::connect(&url).await?;
//! ws.send(Message::text("hello")).await?;
//! let echo = ws.next().await.expect("an echo")?;
//! assert_eq!(echo.as_text(), Some("hello"));
//! ws.close(CloseCode::NORMAL, "bye").await?;
//!
//! assert_eq!(server.await.unwrap()?, Some(CloseCode::NORMAL));
//! # Ok(())
//! # }
//! ```
//!
//! # Module map
//!
//! Which file or folder of `src/` owns what, and which way data flows.
//!
//! A server reads a request and negotiates:
//!
//! ```text
//! request ──> server/accept.rs (HTTP/1.1 bytes)  ─┐
//!             http2/server.rs (extended CONNECT) ─┼─> server/negotiate.rs ──> stream/
//!             hyper.rs, axum.rs (hyper's head)   ─┘
//! ```
//!
//! - `server/`: [`ServerBuilder`] and its settings (`builder.rs`),
//!   [`accept`] and [`ServerBuilder::accept_with`] on a byte stream
//!   (`accept.rs`), the one negotiation every entry point uses: request
//!   checks, origin (403), subprotocol, permessage-deflate, the answer
//!   and the open socket (`negotiate.rs`), plain HTTP answers
//!   (`fallback.rs`), [`UpgradeRequest`] and [`Accept`] (`request.rs`).
//!
//! A client opens a transport and runs the handshake on it:
//!
//! ```text
//! client/ (ClientBuilder) ──> url.rs ──> client/connect.rs: TCP or client/proxy.rs, then tls.rs
//!     ──> client/transport.rs (ClientStream: plain, TLS, HTTP/2)
//!     ──> client/handshake.rs + http1.rs (or http2/client.rs) ──> stream/
//! ```
//!
//! - `client/`: [`ClientBuilder`] and [`connect`] (`mod.rs`), opening the
//!   transport (`connect.rs`), [`ClientStream`] (`transport.rs`), the
//!   HTTP/1.1 handshake and the deflate it agrees (`handshake.rs`),
//!   [`Proxy`] and [`ProxyEnv`] (`proxy.rs`), redirects (`redirect.rs`).
//! - `url.rs`: `ws://` and `wss://` URLs into a host, port, TLS flag and
//!   resource. `http1.rs`: a response head and a bounded body, for the
//!   handshake and a proxy's answer to `CONNECT`.
//! - `tls.rs` ([`tls`]): rustls configurations. `http2/` (`http2`,
//!   feature `http2`): `Http2Stream`, the client, and the server side:
//!   `serve_connection` and `serve_connection_with` (an accept callback per
//!   stream).
//!
//! Once open, both sides are the same:
//!
//! ```text
//! stream/ (WebSocket) <──> sockeye_proto::Connection (frames, masking, close)
//! ```
//!
//! - `stream/`: [`WebSocket`], the poll loop and its timers (`mod.rs`),
//!   [`WebSocket::split`]'s halves (`split.rs`), [`PreparedMessage`]
//!   (`prepared.rs`).
//! - `reactor/` ([`reactor`], Unix): the other way to serve an open
//!   connection: handed over after the handshake (`WebSocket` taken apart
//!   by `stream/`), it becomes an entry in a reactor's table, served
//!   through callbacks by one task or one thread for all.
//! - `error.rs` ([`Error`], [`ProxyError`]) and `config.rs`
//!   ([`WebSocketConfig`]) sit below everything; [`web`] is a browser-style
//!   interface on top of the client.
//!
//! # Concepts
//!
//! - [`WebSocket`] is an open connection: a [`Stream`](futures_core::Stream)
//!   of [`Message`]s and a [`Sink`](futures_sink::Sink) of them. Pings are
//!   answered, the peer's Close is replied to, and the TCP connection is shut
//!   down as RFC 6455 §7 says, all without user code.
//! - The stream ends with `None` after a clean close;
//!   [`WebSocket::close_frame`] then has the peer's code and reason. A
//!   connection cut without a closing handshake ends with one
//!   [`Error::AbnormalClosure`], a protocol violation with one
//!   [`Error::Protocol`] (after the right Close frame was sent).
//! - Messages given to the sink with `feed` leave together at the next flush,
//!   and the stream writes what is queued before each read: the replies to
//!   one read go out in one write.
//! - [`WebSocket::split`] gives a [`WebSocketReader`] and a
//!   [`WebSocketWriter`] for two tasks; the reader answers pings and closes
//!   on its own.
//! - Clients: [`connect`] or [`ClientBuilder`] (headers, auth, cookies,
//!   subprotocols, limits, connect and handshake timeouts). Servers:
//!   [`accept`] or [`ServerBuilder::accept_with`], whose async callback sees
//!   the request and accepts (picking a subprotocol) or refuses with any
//!   HTTP response.
//! - Limits and timeouts live in [`WebSocketConfig`] and
//!   [`sockeye_proto::Config`], each with a documented default.
//! - `wss://` works out of the box (the [`tls`] module: rustls with its
//!   `ring` provider chosen here); a client reaches a server through an
//!   HTTP CONNECT or SOCKS5 [`Proxy`], and follows redirects only when
//!   told to.
//! - Feature `http2`: WebSocket connections over HTTP/2 (RFC 8441), for
//!   clients (`ClientBuilder::http2`) and servers (`http2::serve_connection`,
//!   or `http2::serve_connection_with`, whose callback accepts or refuses
//!   each stream as `accept_with`'s does).
//!   Features `hyper` and `axum`: upgrades inside hyper 1.x and axum
//!   servers, over HTTP/1.1 and HTTP/2.
//! - The [`web`] module mirrors the browser's `WebSocket` interface.
//! - [`reactor`] (Unix, plain TCP): servers with very many connections, or
//!   small messages at the highest rate, serve them through callbacks from
//!   one [`reactor::Reactor`] task or [`reactor::ReactorThread`]: about 200
//!   bytes per idle connection instead of a task's 700, and no task
//!   wake-up per read.
//!
//! # Cancel safety
//!
//! Reading (`next()`, [`WebSocket::recv`]) is cancel safe: dropping the
//! future loses no message, so it can sit in `tokio::select!`. Sending is
//! cancel safe in the sense that a message, once accepted by the sink, stays
//! queued and is written by a later flush. Connecting, accepting and
//! [`WebSocket::close`] are not: dropping them abandons the handshake. Each
//! async method states its own.
//!
//! # The engine
//!
//! The protocol itself (framing, masking, UTF-8, the closing handshake,
//! limits) is [`sockeye_proto`], a sans-I/O state machine, re-exported as
//! [`proto`] for those who drive it from their own loop.

#![doc(test(attr(deny(warnings), allow(dead_code))))]

#[cfg(feature = "axum")]
pub mod axum;
mod client;
mod config;
mod error;
mod http1;
#[cfg(feature = "http2")]
pub mod http2;
#[cfg(feature = "hyper")]
pub mod hyper;
#[cfg(unix)]
pub mod reactor;
mod server;
mod stream;
pub mod tls;
mod url;
pub mod web;

pub use client::proxy::{Proxy, ProxyEnv};
pub use client::transport::ClientStream;
pub use client::{ClientBuilder, connect};
pub use config::WebSocketConfig;
pub use error::{Error, HandshakeFailure, ProxyError, Rejected, Result, Timeout};
pub use server::{Accept, ServerBuilder, UpgradeRequest, accept};
pub use sockeye_proto::{CloseCode, CloseFrame, Message, MessageRef, Role, State, Utf8Bytes};
pub use stream::{Incoming, PreparedMessage, WebSocket, WebSocketReader, WebSocketWriter};
#[cfg(feature = "tls")]
pub use {rustls, rustls_pki_types as pki_types, tokio_rustls};

/// The protocol engine this crate drives, for direct use.
pub use sockeye_proto as proto;
