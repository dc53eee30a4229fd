//! Byte-for-byte comparisons with what Node's `@socket.io/redis-adapter`
//! 8.3 publishes (the Socket.IO notes, section 3b). The fixtures are
//! written by `interop/redis-adapter/fixtures.js` (`npm run fixtures`):
//! notepack.io's encoding of the broadcast array and of the msgpack
//! requests and responses, `JSON.stringify` of the others, built with the
//! adapter's shapes and key orders.
//!
//! Each test builds the message here, encodes it and compares the bytes,
//! then decodes the fixture and checks that it reads back as built (or,
//! where JSON loses the difference between `2` and `2.0`, that it encodes
//! back to the same bytes).

use std::net::SocketAddr;
use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use rmpv::Value;
use sockeye_io::Sid;
use sockeye_io::adapter::{BroadcastFlags, BroadcastOptions, Room, SocketInfo};
use sockeye_io::engine::Handshake;
use sockeye_io::parser::Packet;
use sockeye_io_redis::{
    Broadcast, Channels, Codec, Flags, NodeHandshake, Opts, RemoteSocket, Request, RequestKind,
    Response,
};

const UID: &str = "Ab3_-z";
const REQ: &str = "r9_Xq-";

macro_rules! fixture {
    ($name:literal) => {
        &include_bytes!(concat!("fixtures/", $name))[..]
    };
}

fn rooms(names: &[&str]) -> Vec<Room> {
    names.iter().map(|&n| Room::from(n)).collect()
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

fn opts(r: &[&str], e: &[&str], flags: Flags) -> Opts {
    Opts {
        rooms: rooms(r),
        except: rooms(e),
        flags,
    }
}

/// Encodes as expected and decodes back to the same broadcast.
fn check_broadcast(bytes: &[u8], packet: &Packet, opts: &Opts) {
    let encoded = Broadcast::encode(UID, packet, opts);
    assert_eq!(encoded, bytes, "encoding differs from Node's");
    let decoded = Broadcast::decode(bytes).unwrap();
    assert_eq!(decoded.uid, UID);
    assert_eq!(&decoded.packet, packet);
    assert_eq!(&decoded.opts, opts);
}

/// §3b "Broadcast payload": the whole namespace, no flags.
#[test]
fn broadcast_to_the_namespace_matches_node() {
    let packet = Packet::event("/", "chat", vec![Value::from("hi")]);
    let opts = Opts::from(&BroadcastOptions::default());
    check_broadcast(fixture!("broadcast_all.msgpack"), &packet, &opts);
}

/// §3b: binary as msgpack bin, a room, an except, the volatile flag; built
/// from sockeye-io's own options.
#[test]
fn broadcast_with_binary_to_a_room_matches_node() {
    let packet = Packet::event(
        "/chat",
        "file",
        vec![
            Value::Binary(vec![1, 2, 3]),
            map(vec![
                ("n", Value::F64(1.5)),
                ("big", Value::from(300)),
                ("neg", Value::from(-40)),
                ("ok", Value::Boolean(true)),
                ("none", Value::Nil),
            ]),
        ],
    );
    let options = BroadcastOptions {
        rooms: rooms(&["room1"]),
        except: rooms(&["sid1", "sid1"]),
        flags: BroadcastFlags {
            volatile: true,
            local: false,
        },
    };
    let opts = Opts::from(&options);
    check_broadcast(fixture!("broadcast_room_binary.msgpack"), &packet, &opts);
    assert_eq!(
        Broadcast::decode(fixture!("broadcast_room_binary.msgpack"))
            .unwrap()
            .opts
            .to_broadcast_options(),
        BroadcastOptions {
            except: rooms(&["sid1"]),
            ..options
        }
    );
}

/// §3b: every integer width notepack picks, floats, and the flags Node
/// sets that sockeye-io does not know (compress, timeout).
#[test]
fn broadcast_numbers_and_flags_match_node() {
    let ints: [i64; 20] = [
        0,
        127,
        128,
        255,
        256,
        65535,
        65536,
        4_294_967_295,
        4_294_967_296,
        1 << 40,
        -1,
        -32,
        -33,
        -128,
        -129,
        -32768,
        -32769,
        -2_147_483_648,
        -2_147_483_649,
        -(1 << 40),
    ];
    let mut args: Vec<Value> = ints.iter().map(|&i| Value::from(i)).collect();
    args.extend([Value::F64(0.1), Value::F64(-2.5), Value::F64(1e300)]);
    let packet = Packet::event("/", "nums", args);
    let flags = Flags {
        volatile: Some(true),
        compress: Some(true),
        timeout: Some(5000),
        ..Flags::default()
    };
    let opts = opts(&["a", "b"], &["c"], flags);
    let bytes = fixture!("broadcast_numbers.msgpack");
    assert_eq!(Broadcast::encode(UID, &packet, &opts), bytes);
    // notepack writes an integral double above 2^64 as `uint 64` modulo
    // 2^64: 1e300 goes out as 0, here as in Node, and reads back so.
    let decoded = Broadcast::decode(bytes).unwrap();
    let mut wrapped = packet.clone();
    if let Some(Value::Array(items)) = &mut wrapped.data {
        *items.last_mut().unwrap() = Value::from(0);
    }
    assert_eq!(decoded.packet, wrapped);
    assert_eq!(decoded.opts, opts);
    // An integral float is a JavaScript integer: the same bytes.
    let mut floats = packet.clone();
    if let Some(Value::Array(items)) = &mut floats.data {
        items[1] = Value::F64(0.0);
        items[2] = Value::F64(127.0);
        items[10] = Value::F64(1_099_511_627_776.0);
        items[20] = Value::F64(-1_099_511_627_776.0);
    }
    assert_eq!(Broadcast::encode(UID, &floats, &opts), bytes);
}

/// §3b: each length form of strings, binaries, arrays and maps, multi-byte
/// UTF-8, empty containers, and an ack id on the packet.
#[test]
fn broadcast_sizes_match_node() {
    let keys = "abcdefghijklmnop";
    let mut packet = Packet::event(
        "/",
        "sizes",
        vec![
            Value::from("x".repeat(31)),
            Value::from("y".repeat(32)),
            Value::from("z".repeat(256)),
            Value::from("é😀\u{1}"),
            Value::Binary(vec![7; 300]),
            Value::Array((0..16).map(Value::from).collect()),
            Value::Map(
                keys.chars()
                    .zip(0..16)
                    .map(|(c, i)| (Value::from(format!("k{c}")), Value::from(i)))
                    .collect(),
            ),
            Value::Array(vec![]),
            Value::Map(vec![]),
        ],
    );
    packet.id = Some(7);
    check_broadcast(
        fixture!("broadcast_sizes.msgpack"),
        &packet,
        &opts(&[], &["x"], Flags::default()),
    );
}

/// Encodes as expected and decodes back to the same request.
fn check_request(bytes: &[u8], request: &Request) {
    assert_eq!(
        String::from_utf8_lossy(&request.encode()),
        String::from_utf8_lossy(bytes),
        "encoding differs from Node's"
    );
    assert_eq!(&Request::decode(bytes).unwrap(), request);
}

/// §3b "Request types" and "Request encoding": the JSON requests.
#[test]
fn json_requests_match_node() {
    let uid = UID.to_owned();
    let request_id = REQ.to_owned();
    check_request(
        fixture!("request_sockets.json"),
        &Request::Sockets {
            uid: uid.clone(),
            request_id: request_id.clone(),
            rooms: rooms(&["a"]),
        },
    );
    check_request(
        fixture!("request_all_rooms.json"),
        &Request::AllRooms {
            uid: uid.clone(),
            request_id: request_id.clone(),
        },
    );
    check_request(
        fixture!("request_remote_join.json"),
        &Request::RemoteJoin {
            uid: uid.clone(),
            opts: opts(&["a"], &["b"], Flags::default()),
            rooms: rooms(&["c", "d"]),
        },
    );
    check_request(
        fixture!("request_remote_leave.json"),
        &Request::RemoteLeave {
            uid: uid.clone(),
            opts: Opts::default(),
            rooms: rooms(&["c"]),
        },
    );
    check_request(
        fixture!("request_remote_disconnect.json"),
        &Request::RemoteDisconnect {
            uid: uid.clone(),
            opts: opts(&["a"], &[], Flags::default()),
            close: true,
        },
    );
    check_request(
        fixture!("request_remote_fetch.json"),
        &Request::RemoteFetch {
            uid: uid.clone(),
            request_id: request_id.clone(),
            opts: opts(&["a", "b"], &["c"], Flags::default()),
        },
    );
    let packet = Packet::event("/", "ping", vec![Value::from(1)]);
    check_request(
        fixture!("request_server_side_emit_ack.json"),
        &Request::server_side_emit(UID, Some(request_id), &packet).unwrap(),
    );
}

/// §3b "serverSideEmit": JSON.stringify's numbers (integral floats,
/// `-0`, exponents), escapes, and a Buffer argument.
#[test]
fn server_side_emit_matches_node() {
    let bytes = fixture!("request_server_side_emit.json");
    let packet = Packet::event(
        "/",
        "ping",
        vec![
            Value::from(1),
            Value::F64(2.0),
            Value::F64(-0.0),
            Value::F64(1.5),
            Value::F64(1e21),
            Value::F64(1.5e-7),
            Value::F64(0.000_001),
            Value::from("é😀\u{1}\u{2028}\"\\/"),
            map(vec![
                ("a", Value::Array(vec![Value::Boolean(true), Value::Nil])),
                ("b", Value::Binary(vec![0, 255])),
            ]),
        ],
    );
    let request = Request::server_side_emit(UID, None, &packet).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&request.encode()),
        String::from_utf8_lossy(bytes)
    );
    // JSON keeps no difference between 2 and 2.0, nor a Buffer's type:
    // what decodes is what encodes to the same bytes.
    let decoded = Request::decode(bytes).unwrap();
    assert_eq!(decoded.kind(), RequestKind::ServerSideEmit);
    assert_eq!(decoded.encode(), bytes);
}

/// §3b: a broadcast that wants acks is a msgpack request.
#[test]
fn broadcast_request_matches_node() {
    let bytes = fixture!("request_broadcast.msgpack");
    assert_eq!(Codec::sniff(bytes), Codec::Msgpack);
    check_request(
        bytes,
        &Request::Broadcast {
            uid: UID.to_owned(),
            request_id: REQ.to_owned(),
            packet: Packet::event("/", "ask", vec![Value::Binary(vec![9])]),
            opts: opts(
                &["room1"],
                &[],
                Flags {
                    timeout: Some(1000),
                    ..Flags::default()
                },
            ),
        },
    );
}

/// Encodes as expected and decodes back, given what request is pending.
fn check_response(bytes: &[u8], response: &Response, pending: RequestKind) {
    assert_eq!(
        String::from_utf8_lossy(&response.encode()),
        String::from_utf8_lossy(bytes),
        "encoding differs from Node's"
    );
    let decoded = Response::decode(bytes, |id| (id == REQ).then_some(pending)).unwrap();
    assert_eq!(decoded.as_ref(), Some(response));
    // A response nobody waits for is ignored, except the self-describing
    // ones of a broadcast with acks.
    let unknown = Response::decode(bytes, |_| None).unwrap();
    let self_describing = matches!(
        response,
        Response::BroadcastClientCount { .. } | Response::BroadcastAck { .. }
    );
    assert_eq!(unknown.is_some(), self_describing);
}

/// §3b "Responses": every response type.
#[test]
fn responses_match_node() {
    let request_id = || REQ.to_owned();
    check_response(
        fixture!("response_sockets.json"),
        &Response::Sockets {
            request_id: request_id(),
            sockets: vec!["s1".into(), "s2".into()],
        },
        RequestKind::Sockets,
    );
    check_response(
        fixture!("response_all_rooms.json"),
        &Response::AllRooms {
            request_id: request_id(),
            rooms: rooms(&["a", "s1"]),
        },
        RequestKind::AllRooms,
    );
    check_response(
        fixture!("response_done.json"),
        &Response::Done {
            request_id: request_id(),
        },
        RequestKind::RemoteJoin,
    );
    check_response(
        fixture!("response_server_side_emit.json"),
        &Response::ServerSideEmit {
            request_id: request_id(),
            data: Some(Value::from("pong")),
        },
        RequestKind::ServerSideEmit,
    );
    check_response(
        fixture!("response_server_side_emit_empty.json"),
        &Response::ServerSideEmit {
            request_id: request_id(),
            data: None,
        },
        RequestKind::ServerSideEmit,
    );
    check_response(
        fixture!("response_client_count.json"),
        &Response::BroadcastClientCount {
            request_id: request_id(),
            client_count: 3,
        },
        RequestKind::Broadcast,
    );
    check_response(
        fixture!("response_broadcast_ack.msgpack"),
        &Response::BroadcastAck {
            request_id: request_id(),
            packet: map(vec![
                ("status", Value::from("ok")),
                ("bin", Value::Binary(vec![4, 5])),
            ]),
        },
        RequestKind::Broadcast,
    );
}

/// A reply without its list is an empty answer, which Node counts too;
/// a list of the wrong things is refused.
#[test]
fn replies_without_their_list_are_empty_answers() {
    let bare = fixture!("response_done.json");
    for (kind, empty) in [
        (
            RequestKind::Sockets,
            Response::Sockets {
                request_id: REQ.into(),
                sockets: vec![],
            },
        ),
        (
            RequestKind::AllRooms,
            Response::AllRooms {
                request_id: REQ.into(),
                rooms: vec![],
            },
        ),
        (
            RequestKind::RemoteFetch,
            Response::RemoteFetch {
                request_id: REQ.into(),
                sockets: vec![],
            },
        ),
    ] {
        assert_eq!(Response::decode(bare, |_| Some(kind)).unwrap(), Some(empty));
    }
    let wrong = br#"{"requestId":"r9_Xq-","sockets":[1]}"#;
    assert!(Response::decode(wrong, |_| Some(RequestKind::Sockets)).is_err());
    assert!(Response::decode(wrong, |_| Some(RequestKind::RemoteFetch)).is_err());
}

/// The socket of the `REMOTE_FETCH` fixture, as sockeye-io knows it.
fn socket_info() -> SocketInfo {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("host", "localhost:3000"),
        ("x-many", "one"),
        ("cookie", "a=1"),
        ("origin", "http://example.com"),
        ("x-many", "two"),
        ("set-cookie", "c=3"),
        ("cookie", "b=2"),
        ("user-agent", "node"),
        ("set-cookie", "d=4"),
        ("host", "ignored:1"),
    ] {
        headers.append(name, HeaderValue::from_static(value));
    }
    let mut handshake = Handshake::new(
        "/socket.io/?EIO=4&transport=websocket&t=a%20b&t=c",
        &headers,
        Some(SocketAddr::from(([127, 0, 0, 1], 50_000))),
        4,
    );
    handshake.issued = UNIX_EPOCH + Duration::from_millis(1_765_075_044_123);
    SocketInfo {
        id: Sid::from("sid1"),
        nsp: "/".into(),
        rooms: rooms(&["sid1", "room1"]),
        handshake,
        auth: map(vec![("token", Value::from("x"))]),
        data: map(vec![("user", Value::from("ann"))]),
    }
}

/// §3b "Responses": `REMOTE_FETCH` answers with Node's handshake shape,
/// built from sockeye-io's handshake (repeated headers joined as Node's
/// HTTP parser joins them, the query's last value winning).
#[test]
fn remote_fetch_response_matches_node() {
    let bytes = fixture!("response_remote_fetch.json");
    let info = socket_info();
    let socket = RemoteSocket::new(&info, info.data.clone(), false);
    let response = Response::RemoteFetch {
        request_id: REQ.to_owned(),
        sockets: vec![socket],
    };
    check_response(bytes, &response, RequestKind::RemoteFetch);

    // Back to sockeye-io's description: what Node sends survives, save the
    // port it never sends.
    let Some(Response::RemoteFetch { sockets, .. }) =
        Response::decode(bytes, |_| Some(RequestKind::RemoteFetch)).unwrap()
    else {
        panic!("a REMOTE_FETCH response")
    };
    let back = sockets[0].to_info("/");
    assert_eq!(back.id, info.id);
    assert_eq!(back.rooms, info.rooms);
    assert_eq!(back.auth, info.auth);
    assert_eq!(back.data, info.data);
    assert_eq!(back.handshake.target(), info.handshake.target());
    assert_eq!(back.handshake.issued, info.handshake.issued);
    assert_eq!(back.handshake.header("x-many"), Some("one, two"));
    assert_eq!(
        back.handshake.remote_addr.map(|a| a.ip()),
        info.handshake.remote_addr.map(|a| a.ip())
    );
    assert_eq!(
        NodeHandshake::new(&back.handshake, &back.auth, false).query,
        sockets[0].handshake.query
    );
}

/// §3b "Broadcast channel", "Request channel", "Response channels".
#[test]
fn channel_names_match_node() {
    let bytes = fixture!("channels.json");
    let text = std::str::from_utf8(bytes).unwrap();
    let ch = Channels::new("socket.io", "/chat", UID);
    let ours = format!(
        r#"{{"broadcast":"{}","room":"{}","pattern":"{}","request":"{}","response":"{}","own_response":"{}"}}"#,
        ch.broadcast(),
        ch.room("room1"),
        ch.pattern(),
        ch.request(),
        ch.response(),
        ch.own_response()
    );
    assert_eq!(ours, text);
}

/// The doubles of the `numbers` fixture, written as the script writes
/// them (both languages round decimal literals the same way).
fn numbers() -> Vec<Value> {
    let two = 2f64;
    [
        5e-324,
        2.225_073_858_507_201_4e-308,
        1.797_693_134_862_315_7e308,
        0.1 + 0.2,
        1e-6,
        9.99e-7,
        -1e-7,
        123_456_789_012_345_680_000.0,
        999_999_999_999_999_900_000.0,
        1e21,
        two.powi(53),
        two.powi(53) + 2.0,
        two.powi(63),
        two.powi(64),
        two.powi(64) + 8192.0,
        -two.powi(63),
        -two.powi(64),
        4_294_967_295.5,
        -2_147_483_648.5,
        1.0 / 3.0,
        -1.0 / 3.0,
        100.0,
        1e15 + 0.5,
    ]
    .into_iter()
    .map(Value::F64)
    .collect()
}

/// §3b: numbers at the edges of each form, as `JSON.stringify` writes
/// them (in a server-side emit's data) and as notepack writes them (in a
/// broadcast's), past 2^53 and 2^64 included.
#[test]
fn numbers_match_node_in_both_codecs() {
    let numbers = numbers();
    // JSON: the fixture is the bare array, a server-side emit's `data`.
    let request = Request::ServerSideEmit {
        uid: UID.into(),
        request_id: None,
        data: numbers.clone(),
    }
    .encode();
    let text = String::from_utf8(request).unwrap();
    let array = text
        .strip_prefix(r#"{"uid":"Ab3_-z","type":6,"data":"#)
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap();
    assert_eq!(
        array,
        std::str::from_utf8(fixture!("numbers.json")).unwrap()
    );

    // msgpack: the fixture is the bare array (an `array 16` header, then
    // the items); in a broadcast the same items follow the event's name.
    let bytes = fixture!("numbers.msgpack");
    assert_eq!(bytes[..3], [0xdc, 0, u8::try_from(numbers.len()).unwrap()]);
    let packet = Packet::event("/", "n", numbers);
    let broadcast = Broadcast::encode(UID, &packet, &Opts::default());
    let name = broadcast
        .windows(2)
        .position(|w| w == [0xa1, b'n'])
        .unwrap();
    assert!(broadcast[name + 2..].starts_with(&bytes[3..]));
}
