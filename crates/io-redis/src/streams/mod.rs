//! The Redis Streams adapter, wire-compatible with Node's
//! `@socket.io/redis-streams-adapter` 0.3 (notes §3d), with connection
//! state recovery across servers.
//!
//! Files, bottom up (each uses only those before it):
//!
//! - The wire format: `offset.rs` ([`StreamId`]: an entry id, `ms-seq`,
//!   which is also the offset a client is given); `entry.rs`
//!   ([`StreamEntry`]: the fields `{uid, nsp, type, data}`); `session.rs`
//!   ([`StoredSession`]: `base64(msgpack({sid, pid, rooms, data}))` under
//!   `sio:session:{pid}`); `reply.rs`: entries read out of `XREAD` and
//!   `XRANGE` replies.
//! - `config.rs` ([`RedisStreamsConfig`]): settings and limits.
//! - `state.rs`: the server's and each namespace's state, and what a
//!   namespace does with an entry read.
//! - `restore.rs`: a session taken out of Redis, what it missed read from
//!   the stream, and the hand-over to the live reader.
//! - `tasks.rs`: the writer, the reader and the renewal of sessions.
//! - `adapter.rs` ([`RedisStreamsAdapters`], [`RedisStreamsAdapter`]): the
//!   factory and the [`Adapter`](sockeye_io::adapter::Adapter) of each
//!   namespace.

mod adapter;
mod config;
mod entry;
mod offset;
mod reply;
mod restore;
mod session;
mod state;
mod tasks;

pub use self::adapter::{RedisStreamsAdapter, RedisStreamsAdapters};
pub use self::config::RedisStreamsConfig;
pub use self::entry::{BROADCAST, DEFAULT_MAX_LEN, DEFAULT_STREAM_NAME, StreamEntry};
pub use self::offset::{NotStreamId, StreamId};
pub use self::session::{DEFAULT_SESSION_KEY_PREFIX, StoredSession};
