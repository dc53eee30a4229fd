//! The wire format of Node's `@socket.io/redis-streams-adapter` 0.3
//! (notes §3d): what one stream entry holds, what an offset is, and a
//! persisted session as Node writes it.
//!
//! Files, bottom up: `offset.rs` ([`StreamId`]: an entry id, `ms-seq`,
//! which is also the offset a client is given); `entry.rs`
//! ([`StreamEntry`]: the fields `{uid, nsp, type, data}`); `session.rs`
//! ([`StoredSession`]: `base64(msgpack({sid, pid, rooms, data}))` under
//! `sio:session:{pid}`).

mod adapter;
mod config;
mod entry;
mod offset;
mod reply;
mod session;

pub use self::adapter::{RedisStreamsAdapter, RedisStreamsAdapters};
pub use self::config::RedisStreamsConfig;
pub use self::entry::{BROADCAST, DEFAULT_MAX_LEN, DEFAULT_STREAM_NAME, StreamEntry};
pub use self::offset::{NotStreamId, StreamId};
pub use self::session::{DEFAULT_SESSION_KEY_PREFIX, StoredSession};
