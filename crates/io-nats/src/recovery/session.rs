//! Sessions in the key-value bucket: under the key of the socket's private
//! id, the value sockeye-io-redis's [`StoredSession`] encodes
//! (`base64(msgpack({sid, pid, rooms, data}))`).

use sockeye_io_redis::streams::StoredSession;

/// The longest private id taken as a key. A socket's private id is 22
/// characters; a client naming a longer one is not looked up.
const MAX_PID_LEN: usize = 64;

/// The key of the session with private id `pid`, if `pid` can be one: the
/// URL-safe characters a private id is made of, which every bucket key
/// may hold. A client presents any text; anything else is not looked up.
pub(crate) fn key(pid: &str) -> Option<&str> {
    let fits = !pid.is_empty()
        && pid.len() <= MAX_PID_LEN
        && pid
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
    fits.then_some(pid)
}

/// The stored value of a session.
pub(crate) fn value(session: &StoredSession) -> bytes::Bytes {
    session.encode().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_private_ids_are_keys() {
        assert_eq!(key("aB3-_x"), Some("aB3-_x"));
        for bad in ["", "a.b", "a*", "a b", "é", &"a".repeat(65)] {
            assert_eq!(key(bad), None, "{bad:?}");
        }
    }
}
