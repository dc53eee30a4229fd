//! Properties of the wire format (the Socket.IO notes, section 3b): no
//! input makes a decoder panic, and what is encoded decodes back to
//! itself.

use proptest::prelude::*;
use rmpv::Value;
use sockeye_io::adapter::Room;
use sockeye_io::parser::Packet;
use sockeye_io_redis::{Broadcast, Flags, Opts, Request, RequestKind, Response};

const KINDS: [RequestKind; 10] = [
    RequestKind::Sockets,
    RequestKind::AllRooms,
    RequestKind::RemoteJoin,
    RequestKind::RemoteLeave,
    RequestKind::RemoteDisconnect,
    RequestKind::RemoteFetch,
    RequestKind::ServerSideEmit,
    RequestKind::Broadcast,
    RequestKind::BroadcastClientCount,
    RequestKind::BroadcastAck,
];

/// A float that stays a float through both codecs: finite, not integral
/// (an integral one is a JavaScript integer and reads back as one).
fn fraction() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite, with a fraction", |f| {
        f.is_finite() && f.fract() != 0.0
    })
}

/// Values both codecs carry unchanged: no binary or extension (JSON
/// writes a binary as a Buffer object), string keys.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        fraction().prop_map(Value::F64),
        ".{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((".{0,8}".prop_map(Value::from), inner), 0..6)
                .prop_map(Value::Map),
        ]
    })
}

/// Values msgpack carries unchanged: the above, binary too.
fn msgpack_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        fraction().prop_map(Value::F64),
        ".{0,40}".prop_map(Value::from),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Value::Binary),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            prop::collection::vec((".{0,8}".prop_map(Value::from), inner), 0..20)
                .prop_map(Value::Map),
        ]
    })
}

fn rooms() -> impl Strategy<Value = Vec<Room>> {
    prop::collection::vec(".{0,12}".prop_map(|s: String| Room::from(s)), 0..4)
}

fn flags() -> impl Strategy<Value = Flags> {
    (any::<[Option<bool>; 5]>(), any::<Option<u64>>()).prop_map(
        |([volatile, compress, local, broadcast, binary], timeout)| Flags {
            volatile,
            compress,
            local,
            broadcast,
            binary,
            timeout,
        },
    )
}

fn opts() -> impl Strategy<Value = Opts> {
    (rooms(), rooms(), flags()).prop_map(|(rooms, except, flags)| Opts {
        rooms,
        except,
        flags,
    })
}

/// Request targets carry no flags.
fn target() -> impl Strategy<Value = Opts> {
    (rooms(), rooms()).prop_map(|(rooms, except)| Opts {
        rooms,
        except,
        flags: Flags::default(),
    })
}

fn event(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Packet> {
    (
        "/.{0,10}",
        ".{0,10}",
        prop::collection::vec(values, 0..4),
        any::<Option<u64>>(),
    )
        .prop_map(|(nsp, name, args, id)| {
            let mut packet = Packet::event(nsp, &name, args);
            packet.id = id;
            packet
        })
}

fn id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{6}"
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (id(), id(), rooms()).prop_map(|(uid, request_id, rooms)| Request::Sockets {
            uid,
            request_id,
            rooms
        }),
        (id(), id()).prop_map(|(uid, request_id)| Request::AllRooms { uid, request_id }),
        (id(), target(), rooms()).prop_map(|(uid, opts, rooms)| Request::RemoteJoin {
            uid,
            opts,
            rooms
        }),
        (id(), target(), rooms()).prop_map(|(uid, opts, rooms)| Request::RemoteLeave {
            uid,
            opts,
            rooms
        }),
        (id(), target(), any::<bool>())
            .prop_map(|(uid, opts, close)| { Request::RemoteDisconnect { uid, opts, close } }),
        (id(), id(), target()).prop_map(|(uid, request_id, opts)| Request::RemoteFetch {
            uid,
            request_id,
            opts
        }),
        (
            id(),
            proptest::option::of(id()),
            prop::collection::vec(json_value(), 0..5)
        )
            .prop_map(|(uid, request_id, data)| Request::ServerSideEmit {
                uid,
                request_id,
                data
            }),
        (id(), id(), event(msgpack_value()), opts()).prop_map(|(uid, request_id, packet, opts)| {
            Request::Broadcast {
                uid,
                request_id,
                packet,
                opts,
            }
        }),
    ]
}

fn response() -> impl Strategy<Value = (Response, RequestKind)> {
    let not_nil = json_value().prop_filter("present", |v| !v.is_nil());
    prop_oneof![
        (id(), prop::collection::vec(".{0,8}", 0..4)).prop_map(|(request_id, sockets)| (
            Response::Sockets {
                request_id,
                sockets
            },
            RequestKind::Sockets
        )),
        (id(), rooms()).prop_map(|(request_id, rooms)| (
            Response::AllRooms { request_id, rooms },
            RequestKind::AllRooms
        )),
        id().prop_map(|request_id| (Response::Done { request_id }, RequestKind::RemoteLeave)),
        (id(), proptest::option::of(not_nil)).prop_map(|(request_id, data)| (
            Response::ServerSideEmit { request_id, data },
            RequestKind::ServerSideEmit
        )),
        (id(), any::<u64>()).prop_map(|(request_id, client_count)| (
            Response::BroadcastClientCount {
                request_id,
                client_count
            },
            RequestKind::Broadcast
        )),
        (id(), msgpack_value()).prop_map(|(request_id, packet)| (
            Response::BroadcastAck { request_id, packet },
            RequestKind::Broadcast
        )),
    ]
}

/// Bytes that are often almost a message: a valid one with a byte
/// changed, cut short or extended.
fn mangled(bytes: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = bytes.len();
    (0..len.max(1), any::<u8>(), 0..3u8).prop_map(move |(at, byte, how)| {
        let mut out = bytes.clone();
        match how {
            0 if at < out.len() => out[at] = byte,
            1 => out.truncate(at),
            _ => out.push(byte),
        }
        out
    })
}

fn decode_all(bytes: &[u8]) {
    let _ = Broadcast::decode(bytes);
    let _ = Request::decode(bytes);
    for kind in KINDS {
        let _ = Response::decode(bytes, |_| Some(kind));
    }
}

proptest! {
    /// No input makes a decoder panic.
    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        decode_all(&bytes);
    }

    /// Nor does a real message with one change.
    #[test]
    fn decoders_never_panic_on_mangled_messages(
        bytes in (event(msgpack_value()), opts(), request())
            .prop_map(|(p, o, r)| {
                let mut all = Broadcast::encode("u", &p, &o);
                all.extend(r.encode());
                all
            })
            .prop_flat_map(mangled)
    ) {
        decode_all(&bytes);
    }

    /// §3b "Broadcast payload": a broadcast decodes to what was encoded.
    #[test]
    fn broadcasts_round_trip(uid in id(), packet in event(msgpack_value()), opts in opts()) {
        let bytes = Broadcast::encode(&uid, &packet, &opts);
        let back = Broadcast::decode(&bytes).unwrap();
        prop_assert_eq!(back, Broadcast { uid, packet, opts });
    }

    /// §3b "Request types": every request decodes to what was encoded.
    #[test]
    fn requests_round_trip(request in request()) {
        let bytes = request.encode();
        prop_assert_eq!(Request::decode(&bytes).unwrap(), request);
    }

    /// §3b "Responses": every response decodes to what was encoded, given
    /// the request waiting for it.
    #[test]
    fn responses_round_trip((response, kind) in response()) {
        let bytes = response.encode();
        let back = Response::decode(&bytes, |_| Some(kind)).unwrap();
        prop_assert_eq!(back, Some(response));
    }
}
