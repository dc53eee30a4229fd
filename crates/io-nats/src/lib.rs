//! sockeye-io-nats: a NATS adapter for sockeye-io. The servers of a
//! cluster share broadcasts, rooms and cluster requests over core NATS
//! subjects and, with recovery on, order their broadcasts through a
//! `JetStream` stream, so that a client whose server died recovers on any
//! other with every packet it missed.
//!
//! ```no_run
//! use sockeye_io::{RecoveryConfig as IoRecovery, SocketIo, SocketIoConfig};
//! use sockeye_io_nats::{NatsAdapterConfig, NatsAdapters, RecoveryConfig};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = NatsAdapterConfig {
//!     recovery: Some(RecoveryConfig::default()),
//!     ..NatsAdapterConfig::default()
//! };
//! let adapters = NatsAdapters::new("nats://127.0.0.1:4222", config).await?;
//! let mut io_config = SocketIoConfig::default();
//! io_config.recovery = Some(IoRecovery::default());
//! let factory = adapters.clone();
//! let io = SocketIo::with_adapter(io_config, move |nsp| factory.make(nsp));
//! io.ns("/", |socket| async move { socket.join("lobby"); });
//! // Reaches the sockets in "lobby" on every server.
//! io.to("lobby").emit("news", "hello")?;
//! let everywhere = io.fetch_sockets().await;
//! # let _ = everywhere; Ok(()) }
//! ```
//!
//! There is no Node adapter for NATS to match; the messages are those of
//! `socket.io-adapter`'s `ClusterAdapter` (`{type, data, uid, nsp}`,
//! types 1 to 13, heartbeats every 5 s, a server forgotten after 10 s
//! without one), always encoded as msgpack, with the wire types of
//! sockeye-io-redis's sharded adapter.
//!
//! # Subjects
//!
//! Under a prefix `p` (default `socket.io`), a namespace is one subject
//! token `t` ([`encode_token`]: ASCII letters, digits, `-` and `_` as they
//! are, every other byte as `~` and two hex digits, so `/` is `~2F`):
//!
//! - `p.t.all`: broadcasts, requests and heartbeats, heard by every
//!   server;
//! - `p.t.resp.<uid>`: answers to server `uid`'s requests;
//! - `p.t.log`: with recovery, broadcasts written to the stream (which
//!   holds `p.*.log`).
//!
//! # Limits and faults
//!
//! Every limit is a field of [`NatsAdapterConfig`] or [`RecoveryConfig`],
//! whose docs give its default and why:
//!
//! - A request to the other servers (`fetch_sockets()`, server-side
//!   events with replies, all rooms) waits up to 5 s for one answer per
//!   server counted by heartbeats; then it gives what arrived, counted as
//!   timed out. At most 256 requests per namespace wait at once; one more
//!   is not sent and answers with this server's sockets alone.
//! - Up to 4096 messages wait to be published; as many received wait per
//!   subscription (beyond, the client drops them: counted as overflowed).
//! - Another server's broadcast with acks is waited on for its timeout,
//!   at most 2 min, and at most 1024 of them at once (one more is
//!   delivered without acks, and counted); one of this server's keeps at
//!   most 2^20 acks.
//! - Heartbeats from at most 4096 servers are remembered.
//! - A lost broker is connected to again after 100 ms, doubling up to
//!   5 s, without end; the client keeps its subscriptions. Meanwhile each
//!   server works alone: its sockets get its broadcasts, requests answer
//!   with its sockets, and every message it could not publish is counted
//!   ([`NatsAdapters::stats`]) and logged. Core NATS keeps nothing: what
//!   was published while a server was away is lost to it. With recovery,
//!   broadcasts wait for the broker instead and reach the other servers
//!   once it is back (see [Recovery](#recovery)).
//! - The broker must be reachable when [`NatsAdapters::new`] is called
//!   (it fails otherwise, rather than start a server that is alone
//!   without saying so); after that, it may come and go.
//! - Malformed messages are refused by a [`WireError`](sockeye_io_redis::WireError),
//!   counted and dropped, never a panic.
//!
//! # Recovery
//!
//! With [`NatsAdapterConfig::recovery`] (and the server's recovery on),
//! every broadcast goes through the `JetStream` stream `socket-io`, which
//! keeps 10,000 messages for at most 10 min; every server delivers even
//! its own broadcasts when it reads them back, with the stream sequence as
//! the offset. Sessions (private id to socket id and rooms) live in the
//! bucket `socket-io-sessions`, written when a socket connects and when
//! its rooms change, written again every third of
//! `max_disconnection_duration` (2 min), after which they expire: a
//! client recovers through any server, whether its own died or not. A
//! restore reads at most 10,000 messages past the offset, and otherwise
//! connects the client afresh. The reader resumes after the last message
//! it read.
//!
//! While the broker is away, broadcasts wait for it in order (at most
//! 4096, `write_queue`, each at most `max_disconnection_duration`), each
//! delivered to this server's sockets at once, without an offset; once
//! the client is connected again they are written first, then what came
//! after, and the other servers deliver them then, with offsets, late but
//! in order (counted as [`NatsStats::delayed`]). They are marked (header
//! `Sockeye-Delivered`) so that this server does not deliver them again
//! when it reads them back. A write that was sent and not acknowledged
//! waits as well and is sent again under the same `Nats-Msg-Id`, which
//! the stream keeps once within its duplicate window. What finds no room,
//! waits too long or is refused by the stream is counted as
//! [`NatsStats::unpublished`]; the outage is logged once when it begins
//! and once when what waited is written. Remote
//! join, leave and disconnect, requests and broadcasts with acks travel
//! over core NATS as without recovery. Every server of a cluster has
//! recovery on, or none: one without it does not read the stream, and
//! misses the broadcasts of those with it. The broker must be
//! nats-server 2.9 or later with `JetStream` (`-js`).
//!
//! # Module map
//!
//! Bottom up; each file uses only those above it in this list.
//!
//! - `subject.rs` ([`Subjects`], [`encode_token`]): subjects.
//!   `envelope.rs` ([`Envelope`], [`Kind`]): the messages.
//! - `config.rs` ([`NatsAdapterConfig`], [`RecoveryConfig`]), `stats.rs`
//!   ([`NatsStats`]), `error.rs` ([`SetupError`]).
//! - `publisher.rs`: the bounded publishing queue. `nodes.rs`: servers
//!   known by their heartbeats. `core.rs`: a namespace's rooms and this
//!   server's side of it.
//! - `recovery/`: the stream, the bucket, restores and their tasks.
//! - `shared.rs`: what a server's adapters share.
//! - `adapter.rs` ([`NatsAdapter`]): one namespace's adapter.
//!   `factory.rs` ([`NatsAdapters`]): the adapters of a server.

mod adapter;
mod config;
mod core;
mod envelope;
mod error;
mod factory;
mod nodes;
mod publisher;
mod recovery;
mod shared;
mod stats;
mod subject;

pub use adapter::NatsAdapter;
pub use config::{NatsAdapterConfig, RecoveryConfig};
pub use envelope::{Envelope, Kind};
pub use error::SetupError;
pub use factory::NatsAdapters;
pub use stats::NatsStats;
pub use subject::{DEFAULT_PREFIX, Subjects, decode_token, encode_token};

// The public types cross tasks and threads.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<NatsAdapters>();
    send_sync::<NatsAdapter>();
    send_sync::<NatsAdapterConfig>();
    send_sync::<RecoveryConfig>();
    send_sync::<NatsStats>();
    send_sync::<Envelope>();
    send_sync::<SetupError>();
    send_sync::<Subjects>();
};
