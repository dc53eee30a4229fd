//! Connection state recovery across servers through `JetStream`.
//!
//! Every broadcast of a namespace is written to one stream (`p.*.log` for
//! prefix `p`, the namespace's own subject `p.t.log`); every server reads
//! the stream back, its own broadcasts included, and delivers each with
//! the stream sequence as its offset, so that every client sees one
//! order. Sessions live in a key-value bucket whose entries expire after
//! `max_disconnection_duration`; a restore takes the session out and reads
//! the namespace's messages after the client's offset.
//!
//! Files, bottom up (each uses only those before it): `session.rs` (keys
//! and values in the bucket), `log.rs` ([`Log`]: the stream, the bucket
//! and the write queues), `state.rs` ([`Sequenced`]: one namespace's
//! side), `restore.rs`, `hub.rs` ([`Hub`]: the namespaces by name),
//! `writer.rs` (broadcasts to the stream, waiting for a broker that is
//! away), `tasks.rs` (the session writer, the reader, the renewal).

mod hub;
mod log;
mod restore;
mod session;
mod state;
mod tasks;
mod writer;

pub(crate) use self::hub::Hub;
pub(crate) use self::log::Log;
pub(crate) use self::restore::restore;
pub(crate) use self::state::Sequenced;
pub(crate) use self::tasks::start;
