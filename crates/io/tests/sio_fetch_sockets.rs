//! `fetch_sockets()` and what can be done to the sockets it finds (join,
//! leave, emit, disconnect), over the wire; and the adapter boundary's
//! cluster methods: what a namespace hands an adapter shared by several
//! servers, and what such an adapter can do here through its `LocalSide`.

mod wire;

use std::sync::{Arc, Mutex, PoisonError, Weak};

use sockeye_io::adapter::{
    Adapter, BroadcastOptions, ClusterFuture, LocalAdapter, LocalSide, Restored, Room, SentPacket,
    Session, SocketInfo,
};
use sockeye_io::parser::Packet;
use sockeye_io::{Args, Sid, SocketIo, SocketIoConfig, Value};
use wire::{ends, json_after, open, send, serve, text};

/// Connects a client to `/` and returns it with its socket id.
async fn connect(url: &str) -> (sockeye::WebSocket<sockeye::ClientStream>, String) {
    let mut ws = open(url).await;
    send(&mut ws, "40").await;
    let sid = json_after(&text(&mut ws).await, "40")["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    (ws, sid)
}

/// The sockets found carry their id, rooms and handshake; joining,
/// leaving, emitting and disconnecting through them reach the client.
#[tokio::test]
async fn fetched_sockets_can_join_leave_hear_and_be_disconnected() {
    let io = SocketIo::new();
    io.ns("/", |_socket| async move {});
    let url = serve(&io).await;
    let (mut a, a_id) = connect(&url).await;
    let (mut b, b_id) = connect(&url).await;

    let found = io.fetch_sockets().await;
    let mut ids: Vec<&str> = found.iter().map(|s| s.id().as_str()).collect();
    ids.sort_unstable();
    let mut expected = [a_id.as_str(), b_id.as_str()];
    expected.sort_unstable();
    assert_eq!(ids, expected);
    let a_found = found.iter().find(|s| s.id().as_str() == a_id).unwrap();
    assert_eq!(a_found.rooms(), [Room::from(a_id.as_str())]);
    assert_eq!(a_found.handshake().path(), "/socket.io/");

    a_found.join("news");
    io.to("news").emit("headline", "one").unwrap();
    assert_eq!(text(&mut a).await, r#"42["headline","one"]"#);
    a_found.emit("direct", 1).unwrap();
    assert_eq!(text(&mut a).await, r#"42["direct",1]"#);
    assert_eq!(io.to("news").fetch_sockets().await.len(), 1);
    a_found.leave("news");
    assert!(io.to("news").fetch_sockets().await.is_empty());

    a_found.disconnect(false);
    assert_eq!(text(&mut a).await, "41");
    // Only the namespace was left: the connection goes on, and the same
    // client can connect again.
    send(&mut a, "40").await;
    json_after(&text(&mut a).await, "40");
    let b_found = found.iter().find(|s| s.id().as_str() == b_id).unwrap();
    b_found.disconnect(true);
    assert!(ends(&mut b).await);
}

/// What an adapter saw of the cluster methods.
#[derive(Debug, PartialEq)]
enum Seen {
    Broadcast(Value, BroadcastOptions),
    Join(BroadcastOptions, Vec<Room>),
    Disconnect(BroadcastOptions, bool),
    ServerSide(Value),
}

/// An adapter that keeps its rooms in a [`LocalAdapter`] and records what
/// the namespace hands it for the other servers; the test plays the other
/// servers through the `LocalSide` it was bound to.
#[derive(Default)]
struct Recording {
    rooms: LocalAdapter,
    seen: Mutex<Vec<Seen>>,
    local: Mutex<Option<Weak<dyn LocalSide>>>,
}

impl Recording {
    fn record(&self, seen: Seen) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(seen);
    }

    fn local(&self) -> Arc<dyn LocalSide> {
        let local = self.local.lock().unwrap_or_else(PoisonError::into_inner);
        local
            .as_ref()
            .and_then(Weak::upgrade)
            .expect("bound to a live namespace")
    }
}

impl Adapter for Recording {
    fn local_rooms(&self) -> &LocalAdapter {
        &self.rooms
    }
    fn record_packet(&self, _: SentPacket) {}
    fn persist_session(&self, _: Session) {}
    fn restore_session(&self, _: &str, _: &str) -> ClusterFuture<Restored> {
        Box::pin(std::future::ready(None))
    }
    fn bind(&self, local: Weak<dyn LocalSide>) {
        *self.local.lock().unwrap_or_else(PoisonError::into_inner) = Some(local);
    }
    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        self.record(Seen::Broadcast(packet.data.clone().unwrap(), opts.clone()));
    }
    fn remote_join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.record(Seen::Join(opts.clone(), rooms.to_vec()));
    }
    fn remote_disconnect(&self, opts: &BroadcastOptions, close: bool) {
        self.record(Seen::Disconnect(opts.clone(), close));
    }
    fn server_side_emit(&self, packet: &Packet) {
        self.record(Seen::ServerSide(packet.data.clone().unwrap()));
    }
}

/// Cluster boundary: broadcasts, remote room operations and server-side
/// emits go to the adapter with their targets (not the local-flagged
/// ones); and what the adapter brings from other servers acts here:
/// a broadcast reaches the room's clients, a join and a disconnect reach
/// theirs, `sockets` describes them, a server-side event runs its handler.
#[tokio::test]
async fn adapter_carries_operations_and_acts_through_its_local_side() {
    let adapter = Arc::new(Recording::default());
    let shared = Arc::clone(&adapter);
    let io = SocketIo::with_adapter(SocketIoConfig::default(), move |_| {
        Arc::clone(&shared) as Arc<dyn Adapter>
    });
    let heard = Arc::new(Mutex::new(Vec::new()));
    let handler_heard = Arc::clone(&heard);
    io.on_server_side("ping", move |args: Args| {
        handler_heard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(args.into_values());
    });
    io.ns("/", |_socket| async move {});
    let url = serve(&io).await;
    let (mut ws, sid) = connect(&url).await;

    io.to("r").except("x").emit("hi", 1).unwrap();
    io.to("r").local().emit("quiet", 2).unwrap();
    io.to(&Sid::from(sid.as_str())).join("r");
    io.to("r").disconnect_and_close();
    io.server_side_emit("hello", "there").unwrap();
    let seen = std::mem::take(&mut *adapter.seen.lock().unwrap());
    let to_r = BroadcastOptions {
        rooms: vec!["r".into()],
        except: vec!["x".into()],
        ..BroadcastOptions::default()
    };
    let to_sid = BroadcastOptions {
        rooms: vec![sid.as_str().into()],
        ..BroadcastOptions::default()
    };
    let only_r = BroadcastOptions {
        rooms: vec!["r".into()],
        ..BroadcastOptions::default()
    };
    assert_eq!(
        seen,
        [
            Seen::Broadcast(Value::Array(vec!["hi".into(), 1.into()]), to_r),
            Seen::Join(to_sid, vec!["r".into()]),
            Seen::Disconnect(only_r.clone(), true),
            Seen::ServerSide(Value::Array(vec!["hello".into(), "there".into()])),
        ]
    );
    // The local disconnect closed the client: connect again.
    assert!(ends(&mut ws).await);
    let (mut ws, sid) = connect(&url).await;

    let local = adapter.local();
    local.join(&BroadcastOptions::default(), &["r".into()]);
    let described = local.sockets(&only_r);
    assert_eq!(described.len(), 1);
    let SocketInfo { id, rooms, .. } = &described[0];
    assert_eq!(id.as_str(), sid);
    assert!(rooms.contains(&Room::from("r")));
    let event = Packet::event("/", "from-afar", vec![3.into()]);
    local.broadcast(&event, &only_r);
    assert_eq!(text(&mut ws).await, r#"42["from-afar",3]"#);
    local.server_side_event(&Packet::event("/", "ping", vec!["pong".into()]));
    assert_eq!(*heard.lock().unwrap(), [vec![Value::from("pong")]]);
    local.disconnect(&only_r, false);
    assert_eq!(text(&mut ws).await, "41");
    assert!(
        adapter.seen.lock().unwrap().is_empty(),
        "nothing went back out"
    );
}

/// A server-side event that wants a reply: the handler registered with
/// `on_server_side_with_ack` answers through the `LocalSide`'s reply; a
/// plain one is still called without. Alone, `server_side_emit_with_ack`
/// has nobody to ask.
#[tokio::test]
async fn server_side_events_with_acks_reply_through_the_local_side() {
    let adapter = Arc::new(Recording::default());
    let shared = Arc::clone(&adapter);
    let io = SocketIo::with_adapter(SocketIoConfig::default(), move |_| {
        Arc::clone(&shared) as Arc<dyn Adapter>
    });
    let ns = io.of("/");
    ns.on_server_side_with_ack("sum", |args: Args| async move {
        let total: i64 = args.into_values().iter().filter_map(Value::as_i64).sum();
        Value::from(total)
    });
    let local = adapter.local();
    let (tx, rx) = tokio::sync::oneshot::channel();
    local.server_side_event_with_ack(
        &Packet::event("/", "sum", vec![2.into(), 3.into()]),
        sockeye_io::adapter::ServerSideReply::new(move |value| {
            let _ = tx.send(value);
        }),
    );
    assert_eq!(rx.await.unwrap(), Value::from(5));
    // Without a wish for replies, the same handler runs and answers nobody.
    local.server_side_event(&Packet::event("/", "sum", vec![1.into()]));

    let alone = SocketIo::new();
    let replies = alone
        .of("/")
        .server_side_emit_with_ack("sum", 1)
        .await
        .unwrap();
    assert!(replies.complete && replies.replies.is_empty());
    // Nor has a broadcast with acks anyone else to reach.
    let acks = alone
        .broadcast()
        .emit_with_ack_everywhere("hi", 1)
        .unwrap()
        .await;
    assert!(acks.local.is_empty() && acks.remote.complete && acks.remote.acks.is_empty());
}
