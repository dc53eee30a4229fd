//! The Redis channels of one namespace (notes §3b: "Broadcast channel",
//! "Request channel", "Response channels").

/// The key prefix the adapter uses when none is configured.
pub const DEFAULT_KEY: &str = "socket.io";

/// The names of the channels one server's adapter uses for one namespace.
///
/// With key `k`, namespace `n` and node id `u`:
///
/// | channel | name | how |
/// |---|---|---|
/// | broadcast, whole namespace | `k#n#` | `PUBLISH` |
/// | broadcast, one room `r` | `k#n#r#` | `PUBLISH` |
/// | broadcasts received | `k#n#*` | `PSUBSCRIBE` |
/// | requests | `k-request#n#` | `SUBSCRIBE`, `PUBLISH`; `PUBSUB NUMSUB` counts servers |
/// | responses, shared | `k-response#n#` | `SUBSCRIBE` |
/// | responses, this server's | `k-response#n#u#` | `SUBSCRIBE` |
///
/// # Examples
///
/// ```
/// use sockeye_io_redis::Channels;
///
/// let ch = Channels::new("socket.io", "/", "Ab3_-z");
/// assert_eq!(ch.broadcast(), "socket.io#/#");
/// assert_eq!(ch.room("room1"), "socket.io#/#room1#");
/// assert_eq!(ch.pattern(), "socket.io#/#*");
/// assert_eq!(ch.request(), "socket.io-request#/#");
/// assert_eq!(ch.response(), "socket.io-response#/#");
/// assert_eq!(ch.own_response(), "socket.io-response#/#Ab3_-z#");
/// assert_eq!(ch.response_to("xyz"), "socket.io-response#/#xyz#");
/// assert_eq!(ch.room_of("socket.io#/#room1#"), Some("room1"));
/// assert_eq!(ch.room_of("socket.io#/#"), Some(""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channels {
    broadcast: String,
    request: String,
    response: String,
    own_response: String,
}

impl Channels {
    /// The channels for namespace `nsp` under key prefix `key` (Node's
    /// `key` option, [`DEFAULT_KEY`] by default) for the server whose node
    /// id is `uid`.
    pub fn new(key: &str, nsp: &str, uid: &str) -> Self {
        let response = format!("{key}-response#{nsp}#");
        Self {
            broadcast: format!("{key}#{nsp}#"),
            request: format!("{key}-request#{nsp}#"),
            own_response: format!("{response}{uid}#"),
            response,
        }
    }

    /// Where a broadcast to the whole namespace, or to several rooms, is
    /// published.
    pub fn broadcast(&self) -> &str {
        &self.broadcast
    }

    /// Where a broadcast to exactly one room is published, so that a
    /// server without that room can drop it before decoding.
    pub fn room(&self, room: &str) -> String {
        format!("{}{room}#", self.broadcast)
    }

    /// Where a broadcast to `rooms` is published: the room's channel for
    /// exactly one room, else the namespace's.
    pub fn broadcast_to<R: AsRef<str>>(&self, rooms: &[R]) -> String {
        match rooms {
            [room] => self.room(room.as_ref()),
            _ => self.broadcast.clone(),
        }
    }

    /// The pattern every server subscribes to for broadcasts.
    pub fn pattern(&self) -> String {
        format!("{}*", self.broadcast)
    }

    /// The channel of requests (and of broadcasts that want acks).
    pub fn request(&self) -> &str {
        &self.request
    }

    /// The shared response channel: where responses go unless the
    /// responder publishes on the requester's own.
    pub fn response(&self) -> &str {
        &self.response
    }

    /// This server's own response channel.
    pub fn own_response(&self) -> &str {
        &self.own_response
    }

    /// The own response channel of the server whose node id is `uid`
    /// (Node's `publishOnSpecificResponseChannel`).
    pub fn response_to(&self, uid: &str) -> String {
        format!("{}{uid}#", self.response)
    }

    /// The room a broadcast received on `channel` names: `""` for the
    /// namespace's own channel, `None` when the channel is not one of
    /// this namespace's broadcast channels.
    pub fn room_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        let rest = channel.strip_prefix(self.broadcast.as_str())?;
        // Node takes everything up to the last character, which it does
        // not check; a name that does not end in `#` is no channel of ours.
        rest.strip_suffix('#').or((rest.is_empty()).then_some(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_of_a_named_namespace_and_key() {
        let ch = Channels::new("app", "/chat", "u1");
        assert_eq!(ch.broadcast_to::<&str>(&[]), "app#/chat#");
        assert_eq!(ch.broadcast_to(&["a"]), "app#/chat#a#");
        assert_eq!(ch.broadcast_to(&["a", "b"]), "app#/chat#");
        assert_eq!(ch.own_response(), "app-response#/chat#u1#");
        assert_eq!(ch.room_of("app#/chat#a#b#"), Some("a#b"));
        assert_eq!(ch.room_of("app#/chatx#"), None);
        assert_eq!(ch.room_of("app#/chat#a"), None);
    }
}
