//! Node ids and request ids, as Node's `uid2(6)` makes them (notes §3b:
//! "Node id").

/// The 64 characters `uid2` draws from, indexed by a random byte modulo
/// 64: URL-safe, so an id may stand in a channel name.
const UID_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// How many characters the adapter's node ids and request ids have.
pub const UID_LEN: usize = 6;

/// The node id an emitter process (`@socket.io/redis-emitter`) publishes
/// with: it owns no sockets, so no server ever drops its messages as its
/// own.
pub const EMITTER_UID: &str = "emitter";

/// A random id of `len` characters from `uid2`'s alphabet, each a random
/// byte modulo 64, as `uid2(len)` makes it.
///
/// The adapter uses `uid(UID_LEN)` for each server's node id (one per
/// namespace per process) and for each request id.
///
/// # Examples
///
/// ```
/// let id = sockeye_io_redis::uid(6);
/// assert_eq!(id.len(), 6);
/// assert!(id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
/// ```
pub fn uid(len: usize) -> String {
    (0..len)
        .map(|_| char::from(UID_CHARS[usize::from(rand::random::<u8>() % 64)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_url_safe() {
        let a = uid(UID_LEN);
        let b = uid(UID_LEN);
        assert_eq!(a.len(), UID_LEN);
        // 64^6 possibilities: a collision here is a broken generator.
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| UID_CHARS.contains(&c)));
    }
}
