//! Restoring a session from Redis: the session taken out, the stream read
//! after the client's offset, and the hand-over to the live reader.

use std::time::{Duration, Instant};

use rmpv::Value;
use sockeye_io::Sid;
use sockeye_io::adapter::{LocalSide, Restored, Room, Session};
use sockeye_io::parser::{Packet, PacketKind};

use super::entry::{BROADCAST, StreamEntry};
use super::offset::StreamId;
use super::reply::range_entries;
use super::session::StoredSession;
use super::state::{Inner, MAX_PENDING, PENDING_FOR, Pending, Shared, lock};
use crate::fields;
use crate::opts::Opts;
use crate::packet::read_packet;

/// Takes the session out of Redis and reads the stream after `offset`:
/// `None` when the session, or the offset's entry, is gone, when more than
/// the configured number of entries follow, or when the broker fails.
/// Then hands over to the reader: reads on until where the reader is (or
/// waits, at most 3 s, for the reader to come to where it read), and,
/// under its lock, with the reader exactly there, has it hold for this
/// socket what it reads next, until the socket joins: nothing the
/// restore gave is handed to the socket again.
pub(super) async fn restore(inner: &Inner, pid: &str, offset: &str) -> Restored {
    let shared = inner.shared.upgrade()?;
    let local = inner.local()?;
    let from: StreamId = offset.parse().ok()?;
    let config = &shared.config;
    let mut conn = shared.link.connection().await?;
    let key = StoredSession::key(&config.session_key_prefix, pid);
    let found: redis::RedisResult<(Option<Vec<u8>>, redis::Value)> = redis::pipe()
        .cmd("GETDEL")
        .arg(&key)
        .cmd("XRANGE")
        .arg(&config.stream_name)
        .arg(from.to_string())
        .arg(from.to_string())
        .query_async(&mut conn)
        .await;
    let (stored, at) = match found {
        Ok(found) => found,
        Err(e) => {
            shared.link.lost(&e).await;
            return None;
        }
    };
    let session = StoredSession::decode(&stored?).ok()?;
    if range_entries(at).0.is_empty() {
        return None;
    }
    let mut missed = Missed {
        inner,
        local: &*local,
        rooms: session.rooms.clone(),
        packets: Vec::new(),
        last: from,
        read: 0,
    };
    // Up to the stream's end, then up to where the reader is.
    while missed.more(&shared, &mut conn, "+").await? {}
    let sid = Sid::from(session.sid.as_str());
    let mut waits = 0;
    loop {
        let at = *lock(&shared.reader);
        match at {
            None if waits < 100 => {
                waits += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            None => return None,
            // The restore read ahead of the reader: it waits for the reader
            // to hand out what it read, so that the socket, once it joins,
            // is not handed those packets again.
            Some(at) if at < missed.last && waits < 150 => {
                waits += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Some(at) if at < missed.last => return None,
            Some(at) if at > missed.last => {
                if !missed.more(&shared, &mut conn, &at.to_string()).await? {
                    return None;
                }
            }
            Some(_) => {
                let reader = lock(&shared.reader);
                if *reader != Some(missed.last) {
                    continue;
                }
                let mut pending = lock(&inner.pending);
                pending.retain(|_, held| held.since.elapsed() < PENDING_FOR);
                if pending.len() >= MAX_PENDING {
                    tracing::warn!(nsp = %inner.nsp, "redis streams adapter: too many restores at once; connecting afresh");
                    return None;
                }
                pending.insert(
                    sid.clone(),
                    Pending {
                        rooms: missed.rooms.clone(),
                        after: missed.last,
                        packets: Vec::new(),
                        since: Instant::now(),
                        overflowed: false,
                    },
                );
                break;
            }
        }
    }
    let session = Session {
        sid,
        pid: Sid::from(session.pid.as_str()),
        rooms: session.rooms,
        data: http::Extensions::new(),
    };
    Some((session, missed.packets))
}

/// What a restore has read so far.
struct Missed<'a> {
    inner: &'a Inner,
    local: &'a dyn LocalSide,
    rooms: Vec<Room>,
    packets: Vec<Vec<sockeye_io::engine::Payload>>,
    /// The last entry read.
    last: StreamId,
    /// How many entries were read.
    read: usize,
}

impl Missed<'_> {
    /// Reads the entries after the last one, up to `end`, at most one
    /// reply's worth: `Some(true)` if any came, `Some(false)` if none;
    /// `None` when the broker failed or the entries are over the limit.
    async fn more(
        &mut self,
        shared: &Shared,
        conn: &mut redis::aio::MultiplexedConnection,
        end: &str,
    ) -> Option<bool> {
        let config = &shared.config;
        let reply: redis::RedisResult<redis::Value> = redis::cmd("XRANGE")
            .arg(&config.stream_name)
            .arg(self.last.next().to_string())
            .arg(end)
            .arg("COUNT")
            .arg(config.read_count.max(1))
            .query_async(conn)
            .await;
        let entries = match reply {
            Ok(reply) => range_entries(reply).0,
            Err(e) => {
                shared.link.lost(&e).await;
                return None;
            }
        };
        self.read += entries.len();
        if self.read > config.restore_max_entries {
            tracing::info!(nsp = %self.inner.nsp, "redis streams adapter: too much missed to restore a session");
            return None;
        }
        let any = !entries.is_empty();
        for (id, fields) in entries {
            self.last = id.parse().ok()?;
            if let Some(packet) = missed_packet(self.inner, &id, &fields, &self.rooms) {
                self.packets.push(self.local.encode(&packet)?);
            }
        }
        Some(any)
    }
}

/// The packet of a broadcast entry of this namespace that reached a socket
/// in `rooms`, with its offset; `None` for any other entry.
fn missed_packet(
    inner: &Inner,
    id: &str,
    fields: &[(String, Vec<u8>)],
    rooms: &[Room],
) -> Option<Packet> {
    let entry =
        StreamEntry::from_fields(fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))).ok()?;
    if entry.kind != BROADCAST || entry.nsp != inner.nsp {
        return None;
    }
    let data = entry.data?;
    let entries = fields::map(&data, "data").ok()?;
    if fields::get(entries, "requestId").is_some() {
        return None;
    }
    let opts = fields::get(entries, "opts")
        .map(Opts::read)
        .transpose()
        .ok()?
        .unwrap_or_default()
        .to_broadcast_options();
    let within = opts.rooms.is_empty() || opts.rooms.iter().any(|r| rooms.contains(r));
    if !within || opts.except.iter().any(|r| rooms.contains(r)) || opts.flags.volatile {
        return None;
    }
    let mut packet = read_packet(fields::get(entries, "packet")?).ok()?;
    if packet.kind != PacketKind::Event || packet.id.is_some() {
        return None;
    }
    if let Some(Value::Array(args)) = &mut packet.data {
        args.push(Value::from(id));
    }
    Some(packet)
}
