//! The heartbeat of a session (`docs/engine.io-protocol/v4-current.md`,
//! "Heartbeat"): the server pings every `ping_interval` and ends the
//! session when no pong follows within `ping_timeout`; an Engine.IO v3
//! client pings instead, and the server ends the session when its pings
//! stop.

use sockeye::Utf8Bytes;
use tokio::time::{Duration, Instant};

use super::close::CloseReason;
use super::packet::Packet;
use super::socket::EngineSocket;

/// The heartbeat: a ping `ping_interval` after the open and after each
/// pong, and the end of the session when no pong follows a ping within
/// `ping_timeout` (as Node's `schedulePing`: no ping at the open).
#[derive(Debug)]
pub(crate) struct Heartbeat {
    /// When to act next.
    pub(crate) deadline: Instant,
    /// Whether a ping is out and unanswered.
    pub(crate) awaiting_pong: bool,
    /// `ping_interval`.
    interval: Duration,
    /// `ping_timeout`.
    timeout: Duration,
    /// Engine.IO v3: the client pings and the server only watches that
    /// the pings keep coming (`EngineSocket::pong_due` holds when the next
    /// is due).
    client_pings: bool,
}

impl Heartbeat {
    /// The heartbeat of a session opening now.
    pub(crate) fn new(interval: Duration, timeout: Duration, client_pings: bool) -> Self {
        let wait = if client_pings {
            interval + timeout
        } else {
            interval
        };
        Heartbeat {
            deadline: Instant::now() + wait,
            awaiting_pong: false,
            interval,
            timeout,
            client_pings,
        }
    }

    /// The v3 deadline passed: the session ends unless a ping came
    /// meanwhile and moved the deadline on (Node: "ping timeout" after
    /// `ping_interval + ping_timeout` without a ping).
    fn on_client_deadline<D>(&mut self, socket: &EngineSocket<D>) {
        let due = socket.lock().pong_due;
        match due {
            Some(due) if due > Instant::now() => self.deadline = due,
            _ => {
                socket.terminate(CloseReason::PingTimeout, Some(Packet::Close), false);
            }
        }
    }

    /// The deadline passed: ping, or end the session if the last ping got
    /// no answer. The pong's deadline counts from when the ping was due,
    /// not from when this timer fired, so a late timer gives no extra time.
    pub(crate) fn on_deadline<D>(&mut self, socket: &EngineSocket<D>) {
        if self.client_pings {
            self.on_client_deadline(socket);
        } else if self.awaiting_pong {
            if socket.lock().pong_due.is_none() {
                // A transport read the pong; the driver has not seen it yet.
                self.on_pong();
            } else {
                socket.terminate(CloseReason::PingTimeout, Some(Packet::Close), false);
            }
        } else {
            self.awaiting_pong = true;
            self.deadline += self.timeout;
            socket.lock().pong_due = Some(self.deadline);
            socket.push_control(Packet::Ping(Utf8Bytes::new()));
        }
    }

    /// A pong came: the next ping is due `ping_interval` from now.
    pub(crate) fn on_pong(&mut self) {
        if self.awaiting_pong {
            self.awaiting_pong = false;
            self.deadline = Instant::now() + self.interval;
        }
    }
}
