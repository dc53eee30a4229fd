//! The Streams adapter's tasks: the writer (entries and sessions, in
//! order), the reader (`XREAD`, resuming after the last entry read) and
//! the renewal of connected sockets' sessions.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::entry::StreamEntry;
use super::reply::{range_entries, read_entries};
use super::session::StoredSession;
use super::state::{Shared, Write, deliver_fallback, lock};
use crate::link::Link;
use crate::stats::Counters;

/// A write that the broker could not take yet.
struct Waiting {
    write: Write,
    /// When it was first tried.
    since: Instant,
}

/// Writes queued entries and sessions in order, one at a time. While the
/// broker cannot be reached, writes wait in order (a broadcast's is
/// delivered here at once, so that this server's sockets still get it),
/// tried again every
/// [`reconnect_min`](crate::RedisAdapterConfig::reconnect_min): once the
/// broker is back they go out and the other servers deliver them. At most
/// [`write_queue`](super::RedisStreamsConfig::write_queue) wait besides
/// the queue's own; one that waited
/// [`max_disconnection_duration`](super::RedisStreamsConfig::max_disconnection_duration)
/// (no client could recover with it any more), or finds no room, is
/// dropped and counted. A write sent that failed (the broker died or did
/// not answer in time) is not sent again, as it may have been added: it
/// is counted as lost (a broadcast's delivered here at once).
pub(super) async fn write_loop(shared: Weak<Shared>, mut queued: mpsc::Receiver<Write>) {
    let mut waiting: VecDeque<Waiting> = VecDeque::new();
    loop {
        let (next, waited) = match waiting.pop_front() {
            Some(next) => (next, true),
            None => match queued.recv().await {
                Some(write) => (
                    Waiting {
                        write,
                        since: Instant::now(),
                    },
                    false,
                ),
                None => return,
            },
        };
        let Some(strong) = shared.upgrade() else {
            return;
        };
        match try_write(&strong, &next.write).await {
            Attempt::Written => {
                if waited {
                    Counters::bump(&strong.counters.delayed);
                }
                continue;
            }
            Attempt::Failed => {
                Counters::bump(&strong.counters.unpublished);
                drop(deliver_fallback(next.write));
                continue;
            }
            Attempt::NotSent => {}
        }
        if !waited {
            tracing::warn!(
                "redis streams adapter: the broker cannot take writes; they wait for it"
            );
        }
        waiting.push_front(Waiting {
            write: deliver_fallback(next.write),
            since: next.since,
        });
        take_queued(&strong, &mut queued, &mut waiting);
        drop_expired(&strong, &mut waiting);
        let wait = strong.config.link.reconnect_min;
        drop(strong);
        tokio::time::sleep(wait).await;
    }
}

/// Moves what was queued to the writes waiting for the broker, delivering
/// broadcasts here at once; past the limit, a write is dropped and
/// counted.
fn take_queued(
    shared: &Shared,
    queued: &mut mpsc::Receiver<Write>,
    waiting: &mut VecDeque<Waiting>,
) {
    while let Ok(write) = queued.try_recv() {
        let write = deliver_fallback(write);
        if waiting.len() >= shared.config.write_queue.max(1) {
            Counters::bump(&shared.counters.unpublished);
            continue;
        }
        waiting.push_back(Waiting {
            write,
            since: Instant::now(),
        });
    }
}

/// Drops, counting them, the writes that waited longer than a client can
/// be away and still recover.
fn drop_expired(shared: &Shared, waiting: &mut VecDeque<Waiting>) {
    let window = shared.config.max_disconnection_duration;
    while waiting.front().is_some_and(|w| w.since.elapsed() >= window) {
        waiting.pop_front();
        Counters::bump(&shared.counters.unpublished);
        tracing::warn!("redis streams adapter: the broker was away too long; a write is dropped");
    }
}

/// How one attempt at a write went.
enum Attempt {
    /// The broker took it.
    Written,
    /// No connection to the broker: it was not sent.
    NotSent,
    /// Sent, and it failed or was not answered in time: it may or may not
    /// have been added (the connection is made again with backoff).
    Failed,
}

/// One attempt at a write.
async fn try_write(shared: &Shared, write: &Write) -> Attempt {
    let config = &shared.config;
    let Some(mut conn) = shared.link.connection().await else {
        return Attempt::NotSent;
    };
    let ttl = u64::try_from(config.max_disconnection_duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let cmd = match write {
        Write::Add { fields, .. } => {
            let mut cmd = redis::cmd("XADD");
            cmd.arg(&config.stream_name)
                .arg("MAXLEN")
                .arg("~")
                .arg(config.max_len)
                .arg("*");
            for (name, value) in fields {
                cmd.arg(*name).arg(value);
            }
            cmd
        }
        Write::Set { key, value, kept } => {
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(value).arg("PX").arg(ttl);
            if *kept {
                cmd.arg("XX");
            }
            cmd
        }
        Write::Del { key } => {
            let mut cmd = redis::cmd("DEL");
            cmd.arg(key);
            cmd
        }
    };
    let done: redis::RedisResult<redis::Value> = cmd.query_async(&mut conn).await;
    match done {
        Ok(_) => Attempt::Written,
        Err(e) => {
            shared.link.lost(&e).await;
            Attempt::Failed
        }
    }
}

/// Follows the stream from its end when first connected, then from the
/// last entry read, also across a lost broker: what was added meanwhile
/// is read once the broker is back (as long as the stream still holds it).
pub(super) async fn read_loop(shared: Weak<Shared>, link: Link) {
    let mut last: Option<String> = None;
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let config = Arc::clone(&strong.config);
        let Some(mut conn) = link.connection().await else {
            drop(strong);
            tokio::time::sleep(config.link.reconnect_min).await;
            continue;
        };
        let Some(from) = last.clone() else {
            let top: redis::RedisResult<redis::Value> = redis::cmd("XREVRANGE")
                .arg(&config.stream_name)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn)
                .await;
            match top {
                Ok(top) => {
                    let top = range_entries(top)
                        .0
                        .into_iter()
                        .next()
                        .map_or_else(|| "0-0".to_owned(), |(id, _)| id);
                    *lock(&strong.reader) = top.parse().ok();
                    last = Some(top);
                }
                Err(e) => link.lost(&e).await,
            }
            continue;
        };
        drop(strong);
        let block = u64::try_from(config.block.as_millis()).unwrap_or(1000);
        let reply: redis::RedisResult<redis::Value> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(config.read_count.max(1))
            .arg("BLOCK")
            .arg(block)
            .arg("STREAMS")
            .arg(&config.stream_name)
            .arg(&from)
            .query_async(&mut conn)
            .await;
        let Some(strong) = shared.upgrade() else {
            return;
        };
        match reply {
            Ok(reply) => {
                let (entries, bad) = read_entries(reply);
                for _ in 0..bad {
                    Counters::bump(&strong.counters.malformed);
                }
                for (id, fields) in entries {
                    let mut reader = lock(&strong.reader);
                    dispatch(&strong, &id, &fields);
                    if let Ok(at) = id.parse() {
                        *reader = Some(at);
                    }
                    drop(reader);
                    last = Some(id);
                }
            }
            Err(e) => {
                link.lost(&e).await;
                tokio::time::sleep(config.link.reconnect_min).await;
            }
        }
    }
}

/// Hands an entry to its namespace's adapter.
pub(super) fn dispatch(shared: &Shared, id: &str, fields: &[(String, Vec<u8>)]) {
    let entry =
        match StreamEntry::from_fields(fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))) {
            Ok(entry) => entry,
            Err(e) => {
                Counters::bump(&shared.counters.malformed);
                tracing::debug!(error = %e, "redis streams adapter: malformed entry");
                return;
            }
        };
    let inner = lock(&shared.namespaces)
        .get(&entry.nsp)
        .and_then(Weak::upgrade);
    if let Some(inner) = inner {
        inner.on_entry(id, &entry, entry.uid == shared.uid);
    }
}

/// Renews the sessions of connected sockets every third of their
/// lifetime (`PEXPIRE`, pipelined a thousand at a time), so that they
/// outlive their server by that lifetime at most. A session another
/// server took meanwhile (its client came back there) is not brought back.
pub(super) async fn renew_loop(shared: Weak<Shared>) {
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let every = (strong.config.max_disconnection_duration / 3).max(Duration::from_secs(1));
        drop(strong);
        tokio::time::sleep(every).await;
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let config = Arc::clone(&strong.config);
        let keys: Vec<String> = lock(&strong.namespaces)
            .values()
            .filter_map(Weak::upgrade)
            .flat_map(|inner| {
                lock(&inner.tracked)
                    .values()
                    .map(|pid| StoredSession::key(&config.session_key_prefix, pid.as_str()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let ttl = u64::try_from(config.max_disconnection_duration.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        for chunk in keys.chunks(1000) {
            let Some(mut conn) = strong.link.connection().await else {
                break;
            };
            let mut pipe = redis::pipe();
            for key in chunk {
                pipe.cmd("PEXPIRE").arg(key).arg(ttl).ignore();
            }
            let done: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
            if let Err(e) = done {
                strong.link.lost(&e).await;
                break;
            }
        }
    }
}
