//! [`StoredSession`]: a lost socket's session as Node's Streams adapter
//! keeps it in Redis: `SET {prefix}{pid} base64(msgpack({sid, pid, rooms,
//! data})) PX maxDisconnectionDuration`, taken back with `GETDEL`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rmpv::Value;
use sockeye_io::adapter::Room;

use crate::codec::Codec;
use crate::error::{Result, WireError};
use crate::fields;

/// What a session's key starts with unless configured: Node's
/// `sessionKeyPrefix` default.
pub const DEFAULT_SESSION_KEY_PREFIX: &str = "sio:session:";

/// A session as stored: the socket's id, its private id, its rooms, and
/// its data (Node's `socket.data`; a sockeye server stores `nil`, its data
/// being typed Rust values, and keeps what a Node server stored only to
/// hand it back untouched).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredSession {
    /// The socket's id.
    pub sid: String,
    /// The private id the client presents to come back.
    pub pid: String,
    /// Its rooms, its own-id room included.
    pub rooms: Vec<Room>,
    /// Its data as Node stored it (`nil` from a sockeye server).
    pub data: Value,
}

impl StoredSession {
    /// The key it is stored under, with `prefix`.
    pub fn key(prefix: &str, pid: &str) -> String {
        format!("{prefix}{pid}")
    }

    /// The stored value: base64 of msgpack.
    pub fn encode(&self) -> String {
        let value = fields::object(vec![
            ("sid", Value::from(self.sid.as_str())),
            ("pid", Value::from(self.pid.as_str())),
            ("rooms", fields::room_array(&self.rooms)),
            ("data", self.data.clone()),
        ]);
        STANDARD.encode(Codec::Msgpack.encode(&value))
    }

    /// Reads a stored value.
    ///
    /// # Errors
    ///
    /// [`WireError`] when it is not base64 of a msgpack map with a string
    /// `sid` and `pid` and an array of string `rooms`.
    pub fn decode(stored: &[u8]) -> Result<StoredSession> {
        let bytes = STANDARD
            .decode(stored)
            .map_err(|_| WireError::Shape("session"))?;
        if bytes.first() == Some(&b'{') {
            return Err(WireError::Shape("session"));
        }
        let value = Codec::decode(&bytes)?;
        let entries = fields::map(&value, "session")?;
        Ok(StoredSession {
            sid: fields::string(entries, "sid")?,
            pid: fields::string(entries, "pid")?,
            rooms: fields::rooms(entries, "rooms")?,
            data: fields::get(entries, "data").cloned().unwrap_or(Value::Nil),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_key() {
        let session = StoredSession {
            sid: "s1".into(),
            pid: "p1".into(),
            rooms: vec!["s1".into(), "red".into()],
            data: Value::Nil,
        };
        let stored = session.encode();
        assert_eq!(StoredSession::decode(stored.as_bytes()).unwrap(), session);
        assert_eq!(
            StoredSession::key(DEFAULT_SESSION_KEY_PREFIX, "p1"),
            "sio:session:p1"
        );
    }

    #[test]
    fn reads_what_node_writes() {
        // @msgpack/msgpack's encode({sid: "a", pid: "b", rooms: ["a"], data: {x: 1}}).
        let bytes = [
            0x84, 0xa3, b's', b'i', b'd', 0xa1, b'a', 0xa3, b'p', b'i', b'd', 0xa1, b'b', 0xa5,
            b'r', b'o', b'o', b'm', b's', 0x91, 0xa1, b'a', 0xa4, b'd', b'a', b't', b'a', 0x81,
            0xa1, b'x', 0x01,
        ];
        let stored = STANDARD.encode(bytes);
        let session = StoredSession::decode(stored.as_bytes()).unwrap();
        assert_eq!(session.sid, "a");
        assert_eq!(session.pid, "b");
        assert_eq!(session.rooms, vec![Room::from("a")]);
        assert_eq!(session.data, fields::object(vec![("x", Value::from(1))]));
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [&b""[..], b"!!", b"ew==", b"kQ=="] {
            assert!(StoredSession::decode(bad).is_err(), "{bad:?}");
        }
    }
}
