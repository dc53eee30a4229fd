//! Time: `sockeye_conn_next_deadline` and `sockeye_conn_on_timeout`. The
//! caller brings the time, in milliseconds of any monotonic clock it
//! likes; the layer never reads one.

use sockeye_proto::CloseCode;

use super::clock::after;
use super::conn::{Pending, Phase, SOCKEYE_CONN_HANDSHAKE, SOCKEYE_CONN_OPEN, sockeye_conn};
use crate::boundary::{self, guard};
use crate::result::sockeye_result;

impl sockeye_conn {
    /// Dates what happened since the last time given.
    fn tick(&mut self, now: u64) {
        let ending = self.ending() && !self.gave_up;
        self.clock.tick(now, ending);
    }

    /// The earliest time a timer runs out, if one runs.
    fn deadline(&self) -> Option<u64> {
        if self.gave_up {
            return None;
        }
        let clock = &self.clock;
        let t = &self.timeouts;
        let started = clock.started?;
        let mut deadlines = [None; 4];
        match self.state() {
            SOCKEYE_CONN_HANDSHAKE => deadlines[0] = Some(after(started, t.handshake)),
            SOCKEYE_CONN_OPEN => {
                deadlines[1] = t.keepalive_interval.map(|interval| match clock.ping_sent {
                    Some(sent) => after(sent, t.keepalive_timeout),
                    None => after(clock.last_received, interval),
                });
                deadlines[2] = t.idle.map(|idle| after(clock.last_message, idle));
            }
            _ => {}
        }
        deadlines[3] = clock.ending_since.map(|since| after(since, t.close));
        deadlines.into_iter().flatten().min()
    }

    /// Runs the timers that ran out by `now`.
    fn expire(&mut self, now: u64) {
        let t = self.timeouts;
        let Some(started) = self.clock.started else {
            return;
        };
        match self.state() {
            SOCKEYE_CONN_HANDSHAKE if now >= after(started, t.handshake) => {
                self.phase = Phase::Refused;
                self.timed_out = true;
                self.gave_up = true;
                self.pending = Some(Pending::Error(
                    sockeye_result::SOCKEYE_ERR_TIMEOUT,
                    "the opening handshake timed out".to_owned(),
                ));
                return;
            }
            SOCKEYE_CONN_OPEN => self.expire_open(now),
            _ => {}
        }
        if let Some(since) = self.clock.ending_since
            && now >= after(since, t.close)
        {
            self.gave_up = true;
            if !self.end_reported && self.pending.is_none() {
                self.pending = Some(Pending::Error(
                    sockeye_result::SOCKEYE_ERR_TIMEOUT,
                    "the closing handshake timed out".to_owned(),
                ));
            }
        }
    }

    /// Keepalive and idle timers of an open connection.
    fn expire_open(&mut self, now: u64) {
        let t = self.timeouts;
        let clock = &mut self.clock;
        let Phase::Open(engine) = &mut self.phase else {
            return;
        };
        if let Some(interval) = t.keepalive_interval {
            match clock.ping_sent {
                Some(sent) if now >= after(sent, t.keepalive_timeout) => {
                    // Nothing came back: the peer or the path is gone.
                    let _ = engine.close(CloseCode::INTERNAL_ERROR, "keepalive timeout");
                    self.timed_out = true;
                    self.pending = Some(Pending::Error(
                        sockeye_result::SOCKEYE_ERR_TIMEOUT,
                        "no answer to the keepalive Ping: closing with 1011".to_owned(),
                    ));
                    return;
                }
                None if now >= after(clock.last_received, interval)
                    && engine.send_ping(&b""[..]).is_ok() =>
                {
                    clock.ping_sent = Some(now);
                }
                _ => {}
            }
        }
        if let Some(idle) = t.idle
            && now >= after(clock.last_message, idle)
        {
            let _ = engine.close(CloseCode::GOING_AWAY, "idle timeout");
        }
    }
}

/// Writes to `*deadline_ms` when `sockeye_conn_on_timeout` should next be
/// called, in the same clock as `now_ms`; `SOCKEYE_ERR_AGAIN` when no timer
/// runs (then wait for the socket alone).
///
/// Call it after each turn of the loop (feed, events, output) with the
/// current time: what happened since the last call is dated `now_ms`,
/// which starts the timers: the opening handshake (the config's handshake
/// timeout), keepalive (a Ping after the keepalive interval without input,
/// then failing with 1011 if nothing arrives within the keepalive timeout),
/// the idle timeout (a Close with 1001 after that long without a message),
/// and the close timeout (while the closing handshake and the last bytes
/// are under way). The deadline may be earlier than `now_ms`: call
/// `sockeye_conn_on_timeout` at once.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call; `deadline_ms` is NULL or points to a writable `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_next_deadline(
    conn: *mut sockeye_conn,
    now_ms: u64,
    deadline_ms: *mut u64,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        if deadline_ms.is_null() {
            return Err(conn.fail_call(sockeye_result::SOCKEYE_ERR_NULL, "deadline_ms is NULL"));
        }
        conn.tick(now_ms);
        let deadline = conn.deadline().ok_or(sockeye_result::SOCKEYE_ERR_AGAIN)?;
        // SAFETY: not NULL and writable, by the contract.
        unsafe { boundary::write_out(deadline_ms, deadline) }
    })
}

/// Runs the timers that ran out by `now_ms`; calling it early does
/// nothing. A handshake timeout fails the connection; a keepalive interval
/// queues a Ping; a keepalive timeout queues a Close with 1011 and fails
/// the connection; an idle timeout queues a Close with 1001; a close
/// timeout makes `sockeye_conn_should_close_transport` true even with
/// output unwritten. A timeout that ends the connection makes the next
/// `sockeye_conn_next_event` return `SOCKEYE_ERR_TIMEOUT` once. Then write
/// out the output and ask for the next deadline.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_on_timeout(
    conn: *mut sockeye_conn,
    now_ms: u64,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        conn.tick(now_ms);
        conn.expire(now_ms);
        conn.tick(now_ms);
        Ok(())
    })
}
