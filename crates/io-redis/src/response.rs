//! Responses: what a server answers a request with, on the shared or the
//! requester's own response channel (notes §3b: "Responses",
//! "serverSideEmit").

use rmpv::Value;
use sockeye_io::adapter::Room;

use crate::codec::Codec;
use crate::error::{Result, WireError};
use crate::fields;
use crate::handshake::RemoteSocket;
use crate::kind::RequestKind;

/// A response to a request, of any type.
///
/// Most responses carry no type of their own: what they answer is the
/// type of the request whose `requestId` they repeat, which only the
/// requester knows (see [`decode`](Self::decode)).
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    /// `{requestId, sockets}`: socket ids, answering
    /// [`Sockets`](crate::Request::Sockets).
    Sockets {
        /// The request's id.
        request_id: String,
        /// The ids.
        sockets: Vec<String>,
    },
    /// `{requestId, rooms}`: this server's rooms.
    AllRooms {
        /// The request's id.
        request_id: String,
        /// Every room with a socket here.
        rooms: Vec<Room>,
    },
    /// `{requestId}`: the bare acknowledgement Node gives the per-socket
    /// forms of join, leave and disconnect.
    Done {
        /// The request's id.
        request_id: String,
    },
    /// `{requestId, sockets: [{id, handshake, rooms, data}]}`: the
    /// sockets a [`RemoteFetch`](crate::Request::RemoteFetch) selects here.
    RemoteFetch {
        /// The request's id.
        request_id: String,
        /// The sockets.
        sockets: Vec<RemoteSocket>,
    },
    /// `{type: 6, requestId, data}`: one server's reply to a server-side
    /// emit (its handler's single argument; absent when it gave none).
    ServerSideEmit {
        /// The request's id.
        request_id: String,
        /// The reply.
        data: Option<Value>,
    },
    /// `{type: 8, requestId, clientCount}`: how many clients a server sent
    /// a broadcast with acks to.
    BroadcastClientCount {
        /// The request's id.
        request_id: String,
        /// How many acks to expect from that server.
        client_count: u64,
    },
    /// msgpack `{type: 9, requestId, packet}`: one client's ack of a
    /// broadcast (its first argument).
    BroadcastAck {
        /// The request's id.
        request_id: String,
        /// The ack's argument.
        packet: Value,
    },
}

impl Response {
    /// The id of the request it answers.
    pub fn request_id(&self) -> &str {
        match self {
            Self::Sockets { request_id, .. }
            | Self::AllRooms { request_id, .. }
            | Self::Done { request_id }
            | Self::RemoteFetch { request_id, .. }
            | Self::ServerSideEmit { request_id, .. }
            | Self::BroadcastClientCount { request_id, .. }
            | Self::BroadcastAck { request_id, .. } => request_id,
        }
    }

    /// The codec the response travels in: msgpack for a broadcast's ack,
    /// whose argument may be binary; JSON otherwise.
    pub fn codec(&self) -> Codec {
        match self {
            Self::BroadcastAck { .. } => Codec::Msgpack,
            _ => Codec::Json,
        }
    }

    /// Encodes the response as the adapter does.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockeye_io_redis::Response;
    ///
    /// let response = Response::BroadcastClientCount { request_id: "r1".into(), client_count: 2 };
    /// assert_eq!(response.encode(), br#"{"type":8,"requestId":"r1","clientCount":2}"#);
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let id = ("requestId", Value::from(self.request_id()));
        let ty = |kind: RequestKind| ("type", Value::from(kind.code()));
        let entries = match self {
            Self::Sockets { sockets, .. } => vec![
                id,
                (
                    "sockets",
                    Value::Array(sockets.iter().map(|s| Value::from(s.as_str())).collect()),
                ),
            ],
            Self::AllRooms { rooms, .. } => vec![id, ("rooms", fields::room_array(rooms))],
            Self::Done { .. } => vec![id],
            Self::RemoteFetch { sockets, .. } => vec![
                id,
                (
                    "sockets",
                    Value::Array(sockets.iter().map(RemoteSocket::to_value).collect()),
                ),
            ],
            Self::ServerSideEmit { data, .. } => {
                let mut entries = vec![ty(RequestKind::ServerSideEmit), id];
                entries.extend(data.clone().map(|d| ("data", d)));
                entries
            }
            Self::BroadcastClientCount { client_count, .. } => vec![
                ty(RequestKind::BroadcastClientCount),
                id,
                ("clientCount", Value::from(*client_count)),
            ],
            Self::BroadcastAck { packet, .. } => {
                vec![
                    ty(RequestKind::BroadcastAck),
                    id,
                    ("packet", packet.clone()),
                ]
            }
        };
        self.codec().encode(&fields::object(entries))
    }

    /// Decodes a response, JSON or msgpack by its first byte.
    ///
    /// A response with `type` 8 or 9 says what it is. Any other is read as
    /// the answer to the request `pending` says is waiting under its
    /// `requestId`; `Ok(None)` when none is (another server's request,
    /// or one that timed out), as the adapter ignores those. A reply to
    /// `SOCKETS`, `ALL_ROOMS` or `REMOTE_FETCH` without its list reads as
    /// an empty one: Node counts it as a server's answer all the same.
    ///
    /// # Errors
    ///
    /// [`WireError`] when the bytes are not a message or lack what the
    /// request type's answer needs.
    pub fn decode(
        bytes: &[u8],
        pending: impl FnOnce(&str) -> Option<RequestKind>,
    ) -> Result<Option<Self>> {
        let value = Codec::decode(bytes)?;
        let entries = fields::map(&value, "response")?;
        let request_id = fields::string(entries, "requestId")?;
        let ty = fields::get(entries, "type").and_then(fields::as_uint);
        let kind = match ty.and_then(RequestKind::from_code) {
            Some(kind @ (RequestKind::BroadcastClientCount | RequestKind::BroadcastAck)) => kind,
            _ => match pending(&request_id) {
                Some(kind) => kind,
                None => return Ok(None),
            },
        };
        // Node counts a reply without its list as a server that has
        // nothing, so that the request still completes: so does this.
        let list = |key: &'static str| match fields::get(entries, key) {
            Some(Value::Array(items)) => items.as_slice(),
            _ => &[],
        };
        Ok(Some(match kind {
            RequestKind::Sockets => Self::Sockets {
                sockets: list("sockets")
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(str::to_owned)
                            .ok_or(WireError::Shape("sockets"))
                    })
                    .collect::<Result<_>>()?,
                request_id,
            },
            RequestKind::AllRooms => Self::AllRooms {
                rooms: match fields::get(entries, "rooms") {
                    Some(Value::Array(_)) => fields::rooms(entries, "rooms")?,
                    _ => Vec::new(),
                },
                request_id,
            },
            RequestKind::RemoteJoin | RequestKind::RemoteLeave | RequestKind::RemoteDisconnect => {
                Self::Done { request_id }
            }
            RequestKind::RemoteFetch => Self::RemoteFetch {
                sockets: list("sockets")
                    .iter()
                    .map(RemoteSocket::read)
                    .collect::<Result<_>>()?,
                request_id,
            },
            RequestKind::ServerSideEmit => Self::ServerSideEmit {
                data: fields::get(entries, "data").cloned(),
                request_id,
            },
            RequestKind::BroadcastClientCount => Self::BroadcastClientCount {
                client_count: fields::uint(entries, "clientCount")?,
                request_id,
            },
            RequestKind::BroadcastAck => Self::BroadcastAck {
                packet: fields::get(entries, "packet")
                    .cloned()
                    .unwrap_or(Value::Nil),
                request_id,
            },
            RequestKind::Broadcast => return Err(WireError::UnknownType(7)),
        }))
    }
}
