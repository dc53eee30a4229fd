//! The hub's Socket.IO client protocol, on every configured namespace:
//!
//! - CONNECT with `{"token": JWT}` as auth when auth is on; a missing,
//!   invalid or expired token is refused with a `CONNECT_ERROR` saying why;
//! - `join` (room) and `leave` (room), acknowledged with `{"ok": true}` or
//!   `{"ok": false, "error": why}`: a client may join the rooms its
//!   token's `rooms` claim names (any room when the hub runs open);
//! - `publish` (`{"room": R, "event": E, "args": [..]}`), acknowledged the
//!   same way: E must be one of the namespace's publishable events and R
//!   a room the client may join (and one of the namespace's
//!   `publish_rooms` patterns, when it has any); the hub emits E with the args to R's
//!   other members on every hub, and to R's SSE subscribers;
//! - `refresh` (a new token with the same `sub`), acknowledged the same
//!   way: the new token's rooms and expiry replace the old ones;
//! - at the token's `exp`, the hub emits `token-expired` and disconnects
//!   the socket.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value as Json, json};
use sockeye_io::{ConnectRefusal, Namespace, Socket};
use tokio_util::sync::CancellationToken;

use super::auth::{Claims, room_matches};
use super::metrics;
use super::state::{Delivery, Hub};

/// How many rooms one socket may be in (besides its own). 100: more than
/// any client page needs, bounding what one client makes the hub hold.
pub(crate) const MAX_ROOMS_PER_SOCKET: usize = 100;

/// What a socket is allowed: its token's claims, `None` when open.
#[derive(Debug, Default)]
struct Grant {
    claims: Option<Claims>,
}

/// A socket's grant, shared by its handlers and its expiry task.
#[derive(Clone, Debug, Default)]
struct Shared(Arc<Mutex<Grant>>);

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut Grant) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn allows(&self, room: &str) -> bool {
        self.with(|g| g.claims.as_ref().is_none_or(|c| c.allows(room)))
    }
}

#[derive(Debug, Deserialize)]
struct AuthPayload {
    #[serde(default)]
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Publish {
    room: String,
    event: String,
    #[serde(default)]
    args: Vec<Json>,
}

fn ok() -> Json {
    json!({ "ok": true })
}

fn refused(error: &str) -> Json {
    json!({ "ok": false, "error": error })
}

/// The token of a CONNECT's auth payload.
fn token_of(socket: &Socket) -> Option<String> {
    sockeye_io::from_value::<AuthPayload>(socket.auth().clone())
        .ok()
        .and_then(|a| a.token)
}

/// Sets up namespace `ns` of `hub` with the protocol.
pub(crate) fn serve_namespace(hub: &Hub, ns: &Namespace) {
    let auth_hub = hub.clone();
    ns.with(move |socket: Socket| {
        let hub = auth_hub.clone();
        async move {
            let Some(verifier) = &hub.auth else {
                socket.set_data(Shared::default());
                return Ok(());
            };
            let claims = match token_of(&socket) {
                None => Err("no token: send {token} as the auth payload".to_owned()),
                Some(token) => verifier.verify(&token),
            };
            match claims {
                Ok(claims) => {
                    socket.set_data(Shared(Arc::new(Mutex::new(Grant {
                        claims: Some(claims),
                    }))));
                    Ok(())
                }
                Err(why) => {
                    metrics::bump(&hub.metrics.refused);
                    tracing::info!(ns = socket.nsp(), reason = %why, "connection refused");
                    Err(ConnectRefusal::new(why))
                }
            }
        }
    });
    let conn_hub = hub.clone();
    ns.on_connection(move |socket: Socket| {
        let hub = conn_hub.clone();
        async move { connected(&hub, &socket) }
    });
}

/// A socket's handlers, and its expiry task.
/// Whether the socket's CONNECT named a session to recover (`pid` and
/// `offset` in its auth payload, as socket.io-client sends them).
fn asked_to_recover(socket: &Socket) -> bool {
    let auth = socket.auth();
    let has = |name: &str| {
        auth.as_map()
            .is_some_and(|entries| entries.iter().any(|(k, _)| k.as_str() == Some(name)))
    };
    has("pid") && has("offset")
}

fn connected(hub: &Hub, socket: &Socket) {
    let grant = match socket.data::<Shared>() {
        Some(grant) => grant,
        None if hub.auth.is_none() => Shared::default(),
        // With auth on, a socket that did not pass it gets nothing: an
        // empty grant would allow every room.
        None => {
            tracing::warn!(
                id = socket.id().as_str(),
                "a socket without a grant: disconnected"
            );
            socket.disconnect();
            return;
        }
    };
    metrics::bump(&hub.metrics.connections);
    if socket.recovered() {
        metrics::bump(&hub.metrics.recovered);
    } else if asked_to_recover(socket) {
        metrics::bump(&hub.metrics.not_recovered);
    }
    let cancel = CancellationToken::new();
    let on_gone = cancel.clone();
    let gauge = Arc::clone(&hub.metrics);
    socket.on_disconnect(move |_, reason| async move {
        on_gone.cancel();
        metrics::drop_one(&gauge.connections);
        tracing::debug!(reason = reason.as_str(), "socket disconnected");
    });
    if grant.with(|g| g.claims.is_some()) {
        tokio::spawn(expire(socket.clone(), grant.clone(), cancel, hub.clone()));
    }

    let (h, g) = (hub.clone(), grant.clone());
    socket.on("join", move |socket: Socket, room: String| {
        let (hub, grant) = (h.clone(), g.clone());
        async move {
            count_in(&hub, room.len());
            if !grant.allows(&room) {
                return refused("room not allowed by the token");
            }
            if socket.rooms().len() > MAX_ROOMS_PER_SOCKET {
                return refused("too many rooms");
            }
            socket.join(room);
            ok()
        }
    });
    let h = hub.clone();
    socket.on("leave", move |socket: Socket, room: String| {
        let hub = h.clone();
        async move {
            count_in(&hub, room.len());
            if room == socket.id().as_str() {
                return refused("a socket cannot leave its own room");
            }
            socket.leave(room);
            ok()
        }
    });
    let (h, g) = (hub.clone(), grant.clone());
    socket.on("publish", move |socket: Socket, publish: Publish| {
        let (hub, grant) = (h.clone(), g.clone());
        async move { publish_event(&hub, &grant, &socket, &publish) }
    });
    let (h, g) = (hub.clone(), grant);
    socket.on("refresh", move |_socket: Socket, token: String| {
        let (hub, grant) = (h.clone(), g.clone());
        async move {
            count_in(&hub, token.len());
            refresh(&hub, &grant, &token)
        }
    });
    let h = hub.clone();
    socket.on_fallback(move |_, _, _| {
        let hub = h.clone();
        async move {
            count_in(&hub, 0);
            refused("unknown event: the hub takes join, leave, publish and refresh")
        }
    });
}

fn count_in(hub: &Hub, bytes: usize) {
    metrics::bump(&hub.metrics.packets_in);
    metrics::add(&hub.metrics.bytes_in, bytes);
}

/// A client's `publish`, checked and delivered.
fn publish_event(hub: &Hub, grant: &Shared, socket: &Socket, publish: &Publish) -> Json {
    count_in(
        hub,
        serde_json::to_string(&publish.args).map_or(0, |s| s.len()),
    );
    let Some(ns) = hub
        .settings
        .namespaces
        .iter()
        .find(|n| n.name == socket.nsp())
    else {
        return refused("event not publishable in this namespace");
    };
    if !ns.publish.contains(&publish.event) {
        return refused("event not publishable in this namespace");
    }
    let room_open = ns.publish_rooms.is_empty()
        || ns
            .publish_rooms
            .iter()
            .any(|p| room_matches(p, &publish.room));
    if !room_open {
        return refused("room not open to publishing in this namespace");
    }
    if !grant.allows(&publish.room) {
        return refused("room not allowed by the token");
    }
    let rooms = [publish.room.clone()];
    let delivery = Delivery {
        ns: socket.nsp(),
        rooms: &rooms,
        except: &[],
        event: &publish.event,
        args: &publish.args,
    };
    match hub.deliver(&delivery, Some(socket)) {
        Ok(()) => ok(),
        Err(e) => refused(&e),
    }
}

/// A `refresh`: a valid token for the same subject replaces the grant.
fn refresh(hub: &Hub, grant: &Shared, token: &str) -> Json {
    let Some(verifier) = &hub.auth else {
        return refused("auth is off: nothing to refresh");
    };
    let claims = match verifier.verify(token) {
        Ok(claims) => claims,
        Err(why) => return refused(&why),
    };
    grant.with(|g| {
        let same = g.claims.as_ref().is_some_and(|old| old.sub == claims.sub);
        if same {
            g.claims = Some(claims);
            ok()
        } else {
            refused("the new token is for another subject")
        }
    })
}

/// Seconds since the Unix epoch, now.
fn now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Disconnects `socket` when its grant expires, unless it is refreshed
/// first; ends when the socket disconnects.
async fn expire(socket: Socket, grant: Shared, cancel: CancellationToken, hub: Hub) {
    loop {
        let Some(exp) = grant.with(|g| g.claims.as_ref().map(|c| c.exp)) else {
            return;
        };
        let wait = Duration::from_secs(exp).saturating_sub(now());
        if wait.is_zero() {
            metrics::bump(&hub.metrics.expired);
            tracing::info!(
                ns = socket.nsp(),
                id = socket.id().as_str(),
                "token expired: disconnecting"
            );
            let _ = socket.emit("token-expired", ());
            socket.disconnect();
            return;
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
