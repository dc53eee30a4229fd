//! sockeye-io-redis: a Redis pub/sub adapter for sockeye-io that speaks
//! the wire format of Node's `@socket.io/redis-adapter` 8.3 (classic
//! pub/sub mode, `createAdapter`), so that sockeye-io servers and Node
//! `socket.io` 4.8 servers on one Redis form one cluster.
//!
//! ```no_run
//! use sockeye_io::{SocketIo, SocketIoConfig};
//! use sockeye_io_redis::{RedisAdapterConfig, RedisAdapters};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let adapters = RedisAdapters::new("redis://127.0.0.1:6379", RedisAdapterConfig::default())?;
//! let factory = adapters.clone();
//! let io = SocketIo::with_adapter(SocketIoConfig::default(), move |nsp| factory.make(nsp));
//! io.ns("/", |socket| async move { socket.join("lobby"); });
//! // Reaches the sockets in "lobby" on every server, Node's included.
//! io.to("lobby").emit("news", "hello")?;
//! let everywhere = io.fetch_sockets().await;
//! # let _ = everywhere; Ok(()) }
//! ```
//!
//! Each message is encoded byte for byte as Node's adapter publishes it and
//! decoded from what Node publishes, with malformed input refused by a
//! [`WireError`] (never a panic, and no allocation beyond a small multiple
//! of the input).
//!
//! # Limits and faults
//!
//! The broker must be Redis 6 or later: subscriptions use RESP3, whose
//! pushes let the adapter bound what it holds (Redis 7 for sharded
//! mode).
//!
//! Every limit is a field of [`RedisAdapterConfig`], whose docs give its
//! default and why:
//!
//! - A request to the other servers (`fetch_sockets()`, all rooms) waits
//!   up to 5 s (Node's `requestsTimeout`) for one answer per other server,
//!   counted by `PUBSUB NUMSUB` as Node counts; then it gives what arrived.
//! - At most 256 requests per namespace wait at once; one more is not sent
//!   and answers with this server's sockets alone.
//! - Up to 4096 messages wait to be published, and as many received wait
//!   to be handled; beyond, they are dropped and counted.
//! - Another server's broadcast with acks is waited on for its timeout, at
//!   most 2 min, and at most 1024 of them at once (one more is delivered
//!   without acks, and counted); one of this server's keeps at most 2^20
//!   acks.
//! - A quiet subscription pings the broker every 15 s, so that a
//!   connection cut without a word is noticed.
//! - A lost broker is connected to again after 100 ms, doubling up to 5 s.
//!   Meanwhile each server works alone: its own sockets get its broadcasts,
//!   requests answer with its own sockets, and what could not be published
//!   is counted ([`RedisAdapters::stats`]) and logged. Pub/sub keeps
//!   nothing: what was published while a server was away is lost to it.
//!
//! What crosses servers: broadcasts (with or without acks), remote join,
//! leave and disconnect, `fetch_sockets()`, server-side events (with or
//! without replies), all rooms and the server count. With
//! [`Mode::Sharded`], the same travels over Redis 7's sharded pub/sub
//! (`SSUBSCRIBE`/`SPUBLISH`) as Node's `createShardedAdapter` sends it
//! ([`ShardedRedisAdapter`]; all rooms are this server's there, as Node's
//! sharded adapter has no such request). A process that is none of the
//! servers publishes into the cluster with [`RedisEmitter`] (events to
//! rooms, joins, leaves, disconnects, server-side events), as Node's
//! `@socket.io/redis-emitter` does, classic mode only. Not yet: Redis
//! Cluster (counts summed over masters, one connection per shard), and a
//! `parser` other than notepack's msgpack.
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
//! The wire format:
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
//! The adapter:
//!
//! - `config.rs` ([`RedisAdapterConfig`]): settings and limits.
//!   `stats.rs` ([`AdapterStats`]): faults counted. `backoff.rs`: waits
//!   between connection attempts.
//! - `link.rs`: the command connection, made again when lost.
//!   `publisher.rs`: the bounded queue of messages to publish.
//!   `subscription.rs`: one namespace's subscription (RESP3, a bounded
//!   queue of messages received), made again when lost.
//!   `pending.rs`: requests waiting for answers, bounded.
//! - `cluster_message.rs`: the sharded adapter's `{type, data, uid, nsp}`.
//! - `adapter.rs` ([`RedisAdapter`]): one namespace's adapter.
//!   `sharded.rs` ([`ShardedRedisAdapter`]): the same in sharded mode.
//!   `factory.rs` ([`RedisAdapters`], [`SetupError`]): the adapters of a
//!   server's namespaces, for `SocketIo::with_adapter`.
//!   `emitter.rs` ([`RedisEmitter`]): publishing into the cluster from a
//!   process that is none of its servers, as Node's
//!   `@socket.io/redis-emitter`.
//! - `streams/` ([`streams`]): the Redis Streams adapter, as Node's
//!   `@socket.io/redis-streams-adapter` 0.3, with connection state recovery
//!   across servers: `offset.rs`, `entry.rs`, `session.rs` (its wire
//!   format), `reply.rs` (stream replies read), `config.rs`
//!   ([`RedisStreamsConfig`](streams::RedisStreamsConfig)), `state.rs`,
//!   `restore.rs`, `tasks.rs` (its state, restores, writer and reader),
//!   `adapter.rs` ([`RedisStreamsAdapters`](streams::RedisStreamsAdapters)).
//!
//! # The Streams adapter's limits
//!
//! With [`streams::RedisStreamsAdapters`] and recovery on, every broadcast
//! of the cluster is ordered by one stream, and a server delivers even its
//! own when it reads it back, with the entry id as the offset, so that
//! every client sees one order. Sessions are written when a socket
//! connects and when its rooms change, renewed every third of
//! `max_disconnection_duration` (2 min) while it is connected: a client
//! recovers through any server, whether its own died, is slow to notice,
//! or is fine (Node's issues #26, #27, #48). The stream keeps about
//! 10,000 entries (`MAXLEN ~`); a restore reads at most 10,000 past the
//! offset and otherwise connects the client afresh; a CONNECT waits for
//! the restore at most `RecoveryConfig::restore_timeout` (5 s). While
//! the broker is away, up to 4096 writes wait for it in order, twice
//! that counting the queue (each at most `max_disconnection_duration`), a
//! broadcast among them delivered to this server's sockets at once,
//! without an offset; once the broker is back they go out and the other
//! servers deliver them (counted as `delayed`); what finds no room or
//! waits too long, and a write in flight when the connection failed
//! (which may or may not have been added), is dropped and counted
//! (`unpublished`) rather than risk adding it twice. A reader cut off
//! from the broker resumes after the last entry it read. Broadcasts with
//! acks, `fetch_sockets()`, server-side events and the server count go
//! over pub/sub, as Node's 0.3 sends them (`k#n#` and `k#n#uid#`,
//! msgpack). Packets sent to one socket carry no offset.
//!
//! The facts behind each message are in the project's Socket.IO notes,
//! section 3b; the tests compare against bytes Node produced
//! (`interop/redis-adapter/`).

mod adapter;
mod backoff;
mod broadcast;
mod channels;
pub mod cluster_message;
mod codec;
mod config;
mod date;
mod emitter;
mod error;
mod factory;
pub mod fields;
mod handshake;
mod json;
mod kind;
mod link;
mod msgpack;
mod opts;
pub mod packet;
pub mod pending;
mod publisher;
mod request;
mod response;
mod sharded;
mod stats;
pub mod streams;
mod subscription;
mod uid;

pub use adapter::RedisAdapter;
pub use broadcast::Broadcast;
pub use channels::{Channels, DEFAULT_KEY};
pub use codec::Codec;
pub use config::{Mode, RedisAdapterConfig, SubscriptionMode};
pub use emitter::{EmitterError, RedisEmitter};
pub use error::{Result, WireError};
pub use factory::{RedisAdapters, SetupError};
pub use handshake::{NodeHandshake, RemoteSocket};
pub use kind::RequestKind;
pub use msgpack::MAX_DEPTH;
pub use opts::{Flags, Opts};
pub use request::Request;
pub use response::Response;
pub use sharded::ShardedRedisAdapter;
pub use stats::AdapterStats;
pub use uid::{EMITTER_UID, UID_LEN, uid};
