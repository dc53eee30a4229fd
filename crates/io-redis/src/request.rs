//! Requests: what one server asks the others on the request channel
//! (notes §3b: "Request types", "Request encoding", "serverSideEmit").

use rmpv::Value;
use sockeye_io::adapter::Room;
use sockeye_io::parser::Packet;

use crate::codec::Codec;
use crate::error::{Result, WireError};
use crate::fields;
use crate::kind::RequestKind;
use crate::opts::Opts;
use crate::packet::{packet_value, read_packet};
use crate::uid::EMITTER_UID;

/// A request on `{key}-request#{nsp}#`, of any type.
///
/// Every one but [`Broadcast`](Request::Broadcast) is JSON; that one is
/// msgpack, since its packet may carry binary. Targets (`opts`) carry
/// rooms and excepts only, except in a broadcast, which has flags too.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// `{uid, requestId, type: 0, rooms}`: the ids of the sockets in
    /// `rooms` (all when empty). Node 8.x still answers it but no longer
    /// sends it.
    Sockets {
        /// The asking server's node id.
        uid: String,
        /// The id the responses repeat.
        request_id: String,
        /// The rooms.
        rooms: Vec<Room>,
    },
    /// `{uid, requestId, type: 1}`: every room.
    AllRooms {
        /// The asking server's node id.
        uid: String,
        /// The id the responses repeat.
        request_id: String,
    },
    /// `{uid, type: 2, opts: {rooms, except}, rooms}`: the sockets
    /// `opts` selects join `rooms`. No response.
    RemoteJoin {
        /// The asking server's node id.
        uid: String,
        /// The sockets.
        opts: Opts,
        /// The rooms they join.
        rooms: Vec<Room>,
    },
    /// `{uid, type: 3, opts: {rooms, except}, rooms}`: the sockets
    /// `opts` selects leave `rooms`. No response.
    RemoteLeave {
        /// The asking server's node id.
        uid: String,
        /// The sockets.
        opts: Opts,
        /// The rooms they leave.
        rooms: Vec<Room>,
    },
    /// `{uid, type: 4, opts: {rooms, except}, close}`: the sockets `opts`
    /// selects are disconnected. No response.
    RemoteDisconnect {
        /// The asking server's node id.
        uid: String,
        /// The sockets.
        opts: Opts,
        /// Whether their connections are closed too.
        close: bool,
    },
    /// `{uid, requestId, type: 5, opts: {rooms, except}}`: the sockets
    /// `opts` selects, described.
    RemoteFetch {
        /// The asking server's node id.
        uid: String,
        /// The id the responses repeat.
        request_id: String,
        /// The sockets.
        opts: Opts,
    },
    /// `{uid, type: 6, data}`, or with an ack `{uid, requestId, type: 6,
    /// data}`: an event for the other servers' handlers; `data` is the
    /// event's name and then its arguments.
    ServerSideEmit {
        /// The sending server's node id.
        uid: String,
        /// Set when the sender wants each server's reply.
        request_id: Option<String>,
        /// `[name, args...]`.
        data: Vec<Value>,
    },
    /// msgpack `{uid, requestId, type: 7, packet, opts: {rooms, except,
    /// flags}}`: a broadcast that wants the clients' acks.
    Broadcast {
        /// The sending server's node id.
        uid: String,
        /// The id the client counts and acks repeat.
        request_id: String,
        /// The packet, an EVENT of the namespace.
        packet: Packet,
        /// Which sockets get it, and how (`flags.timeout` is the ack
        /// timeout).
        opts: Opts,
    },
}

impl Request {
    /// The request's type.
    pub fn kind(&self) -> RequestKind {
        match self {
            Self::Sockets { .. } => RequestKind::Sockets,
            Self::AllRooms { .. } => RequestKind::AllRooms,
            Self::RemoteJoin { .. } => RequestKind::RemoteJoin,
            Self::RemoteLeave { .. } => RequestKind::RemoteLeave,
            Self::RemoteDisconnect { .. } => RequestKind::RemoteDisconnect,
            Self::RemoteFetch { .. } => RequestKind::RemoteFetch,
            Self::ServerSideEmit { .. } => RequestKind::ServerSideEmit,
            Self::Broadcast { .. } => RequestKind::Broadcast,
        }
    }

    /// The node id of the server that sent it.
    pub fn uid(&self) -> &str {
        match self {
            Self::Sockets { uid, .. }
            | Self::AllRooms { uid, .. }
            | Self::RemoteJoin { uid, .. }
            | Self::RemoteLeave { uid, .. }
            | Self::RemoteDisconnect { uid, .. }
            | Self::RemoteFetch { uid, .. }
            | Self::ServerSideEmit { uid, .. }
            | Self::Broadcast { uid, .. } => uid,
        }
    }

    /// The codec the request travels in.
    pub fn codec(&self) -> Codec {
        match self {
            Self::Broadcast { .. } => Codec::Msgpack,
            _ => Codec::Json,
        }
    }

    /// A server-side emit of `packet` (an EVENT, whose data is `[name,
    /// args...]`), asking for replies when `request_id` is set.
    ///
    /// # Errors
    ///
    /// [`WireError::Shape`] when the packet's data is not an array.
    pub fn server_side_emit(
        uid: &str,
        request_id: Option<String>,
        packet: &Packet,
    ) -> Result<Self> {
        let Some(Value::Array(data)) = &packet.data else {
            return Err(WireError::Shape("data"));
        };
        Ok(Self::ServerSideEmit {
            uid: uid.to_owned(),
            request_id,
            data: data.clone(),
        })
    }

    /// Encodes the request as the adapter does: its fields in Node's
    /// order, in its [`codec`](Self::codec).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockeye_io_redis::Request;
    ///
    /// let request = Request::AllRooms { uid: "Ab3_-z".into(), request_id: "r1".into() };
    /// assert_eq!(request.encode(), br#"{"uid":"Ab3_-z","requestId":"r1","type":1}"#);
    /// assert_eq!(Request::decode(&request.encode()).unwrap(), request);
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let ty = ("type", Value::from(self.kind().code()));
        let uid = ("uid", Value::from(self.uid()));
        let id = |id: &str| ("requestId", Value::from(id));
        let entries = match self {
            Self::Sockets {
                request_id, rooms, ..
            } => vec![
                uid,
                id(request_id),
                ty,
                ("rooms", fields::room_array(rooms)),
            ],
            Self::AllRooms { request_id, .. } => vec![uid, id(request_id), ty],
            Self::RemoteJoin { opts, rooms, .. } | Self::RemoteLeave { opts, rooms, .. } => vec![
                uid,
                ty,
                ("opts", opts.target_value()),
                ("rooms", fields::room_array(rooms)),
            ],
            Self::RemoteDisconnect { opts, close, .. } => vec![
                uid,
                ty,
                ("opts", opts.target_value()),
                ("close", Value::Boolean(*close)),
            ],
            Self::RemoteFetch {
                request_id, opts, ..
            } => vec![uid, id(request_id), ty, ("opts", opts.target_value())],
            Self::ServerSideEmit {
                request_id, data, ..
            } => {
                let mut entries = vec![uid];
                entries.extend(request_id.as_deref().map(id));
                entries.extend([ty, ("data", Value::Array(data.clone()))]);
                entries
            }
            Self::Broadcast {
                request_id,
                packet,
                opts,
                ..
            } => vec![
                uid,
                id(request_id),
                ty,
                ("packet", packet_value(packet)),
                ("opts", opts.to_value()),
            ],
        };
        self.codec().encode(&fields::object(entries))
    }

    /// Decodes a request, JSON or msgpack by its first byte.
    ///
    /// The per-socket forms of join, leave and disconnect (`sid`, `room`)
    /// that adapters before 7.0 sent are refused: Node 8.x never sends
    /// them. A request without a `uid` is an emitter's
    /// ([`EMITTER_UID`](crate::EMITTER_UID)), as `@socket.io/redis-emitter`
    /// sends its join, leave and disconnect.
    ///
    /// # Errors
    ///
    /// [`WireError`] when the bytes are not a message, its `type` is not a
    /// request's, or a field the type needs is missing or malformed.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let value = Codec::decode(bytes)?;
        let entries = fields::map(&value, "request")?;
        let code = fields::uint(entries, "type")?;
        let kind = RequestKind::from_code(code).ok_or(WireError::UnknownType(code))?;
        // `@socket.io/redis-emitter` sends its join, leave and disconnect
        // requests without a uid: they come from an emitter.
        let uid = match fields::get(entries, "uid") {
            None => EMITTER_UID.to_owned(),
            Some(_) => fields::string(entries, "uid")?,
        };
        let request_id = || fields::string(entries, "requestId");
        let opts = || Opts::read(fields::get(entries, "opts").ok_or(WireError::Shape("opts"))?);
        Ok(match kind {
            RequestKind::Sockets => Self::Sockets {
                uid,
                request_id: request_id()?,
                rooms: fields::rooms(entries, "rooms")?,
            },
            RequestKind::AllRooms => Self::AllRooms {
                uid,
                request_id: request_id()?,
            },
            RequestKind::RemoteJoin => Self::RemoteJoin {
                uid,
                opts: opts()?,
                rooms: fields::rooms(entries, "rooms")?,
            },
            RequestKind::RemoteLeave => Self::RemoteLeave {
                uid,
                opts: opts()?,
                rooms: fields::rooms(entries, "rooms")?,
            },
            RequestKind::RemoteDisconnect => Self::RemoteDisconnect {
                uid,
                opts: opts()?,
                close: fields::get(entries, "close")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            },
            RequestKind::RemoteFetch => Self::RemoteFetch {
                uid,
                request_id: request_id()?,
                opts: opts()?,
            },
            RequestKind::ServerSideEmit => Self::ServerSideEmit {
                uid,
                request_id: fields::get(entries, "requestId")
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .ok_or(WireError::Shape("requestId"))
                    })
                    .transpose()?,
                data: match fields::get(entries, "data") {
                    Some(Value::Array(items)) => items.clone(),
                    _ => return Err(WireError::Shape("data")),
                },
            },
            RequestKind::Broadcast => Self::Broadcast {
                uid,
                request_id: request_id()?,
                packet: read_packet(
                    fields::get(entries, "packet").ok_or(WireError::Shape("packet"))?,
                )?,
                opts: opts()?,
            },
            RequestKind::BroadcastClientCount | RequestKind::BroadcastAck => {
                return Err(WireError::UnknownType(code));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_without_a_uid_is_an_emitters() {
        // As @socket.io/redis-emitter 5.1 publishes `socketsJoin("b")` to
        // room "a".
        let bytes = br#"{"type":2,"opts":{"rooms":["a"],"except":[]},"rooms":["b"]}"#;
        let request = Request::decode(bytes).unwrap();
        assert_eq!(request.uid(), EMITTER_UID);
        assert!(matches!(request, Request::RemoteJoin { rooms, .. } if rooms == [Room::from("b")]));
        assert!(Request::decode(br#"{"uid":7,"type":1,"requestId":"r"}"#).is_err());
    }
}
