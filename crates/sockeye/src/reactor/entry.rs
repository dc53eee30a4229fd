//! One connection of a reactor: its socket, its engine, the application's
//! data and its timers, and the steps of a turn on it: read, hand the
//! events to the handler, write, and decide whether it ended.

use std::io;
use std::time::Instant;

use mio::net::TcpStream;
use sockeye_proto::{CloseCode, Connection, EventRef, Role, State};

use super::clock::{Millis, Now, Timeouts, elapsed};
use super::handler::{Conn, Ended, Handler};
use super::io::{read, read_spare, write_out};
use crate::error::{Error, Timeout};

/// The fewest bytes a frame must still need for it to be read straight
/// into the engine's buffer rather than through the reactor's.
const DIRECT_READ_MIN: usize = 64 << 10;

/// The most bytes read straight into the engine's buffer at once.
const DIRECT_READ_MAX: usize = 1 << 20;

/// Reads per connection per turn before the others get theirs.
const READS_PER_TURN: usize = 4;

/// What a turn needs besides the connection: the time, the reactor's read
/// buffer and the limits.
#[derive(Debug)]
pub(super) struct Turn<'a> {
    /// The turn's reading of the clock.
    pub(super) now: Now,
    pub(super) scratch: &'a mut [u8],
    pub(super) timeouts: Timeouts,
    /// Queued output above which the connection is not read.
    pub(super) write_limit: usize,
}

/// Where a read put its bytes, and how many it asked for and got.
#[derive(Clone, Copy, Debug)]
struct Read {
    len: usize,
    asked: usize,
    into: ReadInto,
}

/// The buffer a read went into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadInto {
    /// The reactor's: the engine reads it in place.
    Scratch,
    /// The engine's own (a large frame).
    Engine,
}

/// After a step: whether the connection goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Nothing more to do until the socket is ready again.
    Wait,
    /// The read budget ran out with input perhaps waiting: read again
    /// after the other connections had their turn.
    ReadAgain,
    /// The connection ended: remove it.
    End,
}

/// Facts about a connection, one bit each.
#[derive(Clone, Copy, Debug, Default)]
struct Flags(u8);

impl Flags {
    /// A keepalive Ping went out and nothing came back yet.
    const PING_SENT: u8 = 1;
    /// The closing handshake's timer runs (from `since`).
    const CLOSING: u8 = 1 << 1;
    /// Output above the limit: not read until it drains.
    const PAUSED: u8 = 1 << 2;
    /// The socket took only part of the output: wait until writable.
    const WRITE_BLOCKED: u8 = 1 << 3;
    /// The peer's stream ended, or reading failed.
    const READ_DONE: u8 = 1 << 4;
    /// The socket reported the end of the peer's stream or an error:
    /// read until the end shows, since no further event will announce it.
    const PEER_ENDED: u8 = 1 << 5;

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.0 |= bit;
        } else {
            self.0 &= !bit;
        }
    }
}

/// What few connections need: kept behind one pointer.
#[derive(Debug, Default)]
struct Cold {
    protocol: Option<Box<str>>,
    /// Why the connection failed, once it did.
    error: Option<Error>,
}

/// A connection in the reactor's table.
#[derive(Debug)]
pub(super) struct Entry<D> {
    pub(super) io: TcpStream,
    engine: Connection,
    data: D,
    /// When the peer was last heard from (any byte).
    heard: Millis,
    /// When a message last went either way.
    message: Millis,
    /// When the keepalive Ping left, or the closing handshake started.
    since: Millis,
    flags: Flags,
    cold: Option<Box<Cold>>,
}

impl<D> Entry<D> {
    pub(super) fn new(
        io: TcpStream,
        engine: Connection,
        data: D,
        protocol: Option<Box<str>>,
        now: Millis,
    ) -> Self {
        Entry {
            io,
            engine,
            data,
            heard: now,
            message: now,
            since: now,
            flags: Flags::default(),
            cold: protocol.map(|protocol| {
                Box::new(Cold {
                    protocol: Some(protocol),
                    error: None,
                })
            }),
        }
    }

    /// Records why the connection failed; the first reason stays.
    pub(super) fn fail(&mut self, error: Error) {
        let cold = self.cold.get_or_insert_default();
        if cold.error.is_none() {
            cold.error = Some(error);
        }
    }

    /// The connection as the handler sees it, in a turn begun `at`.
    fn conn(&mut self, at: Instant) -> Conn<'_, D> {
        Conn {
            engine: &mut self.engine,
            data: &mut self.data,
            protocol: self.cold.as_deref().and_then(|c| c.protocol.as_deref()),
            at,
        }
    }

    /// The socket reported the end of the peer's stream or an error: from
    /// now on, reads go on until they see it.
    pub(super) fn peer_ended(&mut self) {
        self.flags.set(Flags::PEER_ENDED, true);
    }

    /// The handler's first look at the connection, and what the engine
    /// already holds (bytes read past the handshake).
    pub(super) fn open<H: Handler<Data = D>>(&mut self, handler: &mut H, turn: &mut Turn) -> Next {
        handler.on_open(&mut self.conn(turn.now.at));
        self.dispatch(handler, turn.now, &mut []);
        self.write_step(turn)
    }

    /// The socket is ready: read what it has (unless the output is over
    /// its limit), hand the events to the handler, write the replies.
    pub(super) fn ready<H: Handler<Data = D>>(
        &mut self,
        handler: &mut H,
        turn: &mut Turn,
        readable: bool,
        writable: bool,
    ) -> Next {
        if writable {
            self.flags.set(Flags::WRITE_BLOCKED, false);
        }
        let paused = self.flags.has(Flags::PAUSED);
        if paused && self.write_step(turn) == Next::End {
            return Next::End;
        }
        // Once a full output drained, read: input may be waiting that no
        // new event will announce.
        let mut next = Next::Wait;
        if (readable || paused) && !self.flags.has(Flags::PAUSED) {
            next = self.read_step(handler, turn);
        }
        match self.write_step(turn) {
            Next::End => Next::End,
            // Still full: the writable event that drains it reads on.
            _ if self.flags.has(Flags::PAUSED) => Next::Wait,
            _ => next,
        }
    }

    /// Reads and dispatches, up to the turn's budget. `ReadAgain` when
    /// input may be waiting: the budget ran out, or the output filled up
    /// (if the write that follows drains it, nothing else would say so).
    fn read_step<H: Handler<Data = D>>(&mut self, handler: &mut H, turn: &mut Turn) -> Next {
        for _ in 0..READS_PER_TURN {
            if self.flags.has(Flags::READ_DONE) {
                return Next::Wait;
            }
            if self.flags.has(Flags::PAUSED) {
                return Next::ReadAgain;
            }
            let read = match self.read_once(turn) {
                Ok(read) => read,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
                Err(e) => {
                    self.flags.set(Flags::READ_DONE, true);
                    self.fail(Error::Io(e));
                    return Next::Wait;
                }
            };
            if read.len == 0 {
                self.flags.set(Flags::READ_DONE, true);
                self.engine.receive_eof();
            } else {
                self.heard = turn.now.millis;
                self.flags.set(Flags::PING_SENT, false);
            }
            let in_scratch = match read.into {
                ReadInto::Scratch => &mut turn.scratch[..read.len],
                ReadInto::Engine => &mut [],
            };
            self.dispatch(handler, turn.now, in_scratch);
            if read.len < read.asked && !self.flags.has(Flags::PEER_ENDED) {
                // The socket had no more: its next data is a new event.
                return Next::Wait;
            }
            self.pause_if_full(turn);
        }
        Next::ReadAgain
    }

    /// One read: straight into the engine's buffer for a large frame,
    /// else into the reactor's, where the engine reads it in place.
    fn read_once(&mut self, turn: &mut Turn) -> io::Result<Read> {
        let hint = self.engine.read_hint();
        if hint >= DIRECT_READ_MIN
            && let Some(buf) = self.engine.read_buffer()
        {
            let asked = (buf.capacity() - buf.len()).min(DIRECT_READ_MAX);
            let len = read_spare(&self.io, buf, asked)?;
            return Ok(Read {
                len,
                asked,
                into: ReadInto::Engine,
            });
        }
        Ok(Read {
            len: read(&self.io, turn.scratch)?,
            asked: turn.scratch.len(),
            into: ReadInto::Scratch,
        })
    }

    /// Hands each event the input completes to the handler: first those of
    /// `read` (bytes in the reactor's buffer, read in place: a message that
    /// arrived whole is lent straight from there), then any the engine
    /// holds, in the turn of `now`.
    fn dispatch<H: Handler<Data = D>>(&mut self, handler: &mut H, now: Now, read: &mut [u8]) {
        let protocol = self.cold.as_deref().and_then(|c| c.protocol.as_deref());
        let mut input = self.engine.receive_in_place(read);
        let failed = loop {
            match input.next_event() {
                Ok(Some(EventRef::Message(message))) => {
                    self.message = now.millis;
                    let mut conn = Conn {
                        engine: input.connection(),
                        data: &mut self.data,
                        protocol,
                        at: now.at,
                    };
                    handler.on_message(&mut conn, message);
                }
                // Pongs and the reply to a Close are queued by the engine.
                Ok(Some(EventRef::Ping(_) | EventRef::Pong(_) | EventRef::Close(_))) => {}
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        drop(input);
        if let Some(e) = failed {
            self.fail(Error::Protocol(e));
        }
    }

    /// Writes what is queued, and says whether the connection ended.
    fn write_step(&mut self, turn: &Turn) -> Next {
        if self.engine.wants_write() && !self.flags.has(Flags::WRITE_BLOCKED) {
            match write_out(&self.io, self.engine.output()) {
                Ok(true) => {}
                Ok(false) => self.flags.set(Flags::WRITE_BLOCKED, true),
                Err(e) => {
                    self.fail(Error::Io(e));
                    return Next::End;
                }
            }
        }
        self.pause_if_full(turn);
        self.after_write(turn)
    }

    /// Stops reading while the output is over the limit; starts again
    /// once it drained below it (the caller then reads: input may be
    /// waiting that no new event will announce).
    fn pause_if_full(&mut self, turn: &Turn) {
        let full = self.engine.output_len() > turn.write_limit;
        self.flags.set(Flags::PAUSED, full);
    }

    /// Where the closing handshake stands after a write: starts its timer
    /// when a Close went out, ends the connection once it is over.
    fn after_write(&mut self, turn: &Turn) -> Next {
        let state = self.engine.state();
        if state != State::Open && !self.flags.has(Flags::CLOSING) {
            self.flags.set(Flags::CLOSING, true);
            self.since = turn.now.millis;
        }
        let flushed = !self.engine.wants_write();
        match state {
            // Nothing more comes in: what could be written was.
            _ if self.flags.has(Flags::READ_DONE) => Next::End,
            // R-CL-06: once the handshake is over, a client waits for the
            // server to close TCP (the end of its stream ends the
            // connection above), or for the close timeout (`tick`), so
            // that the server holds TIME_WAIT (§7.1.1). A client that
            // failed closes at once (R-CL-12).
            State::Closed if self.engine.role() == Role::Client => Next::Wait,
            // R-CL-05: a server closes TCP first once the handshake is over.
            State::Closed | State::Failed if flushed => Next::End,
            _ => Next::Wait,
        }
    }

    /// The timers: a keepalive Ping, the keepalive and idle limits, the
    /// closing handshake's limit.
    pub(super) fn tick(&mut self, turn: &Turn) -> Next {
        let t = turn.timeouts;
        if self.flags.has(Flags::CLOSING) {
            if elapsed(turn.now.millis, self.since) >= t.close {
                if self.engine.close_received().is_none() {
                    self.fail(Error::Timeout(Timeout::Close));
                }
                return Next::End;
            }
            return Next::Wait;
        }
        if self.engine.state() != State::Open {
            return Next::Wait;
        }
        if let Some(interval) = t.keepalive_interval {
            if self.flags.has(Flags::PING_SENT) {
                if elapsed(turn.now.millis, self.since) >= t.keepalive_timeout {
                    // Nothing came back: the peer or the path is gone.
                    let _ = self
                        .engine
                        .close(CloseCode::INTERNAL_ERROR, "keepalive timeout");
                    self.fail(Error::Timeout(Timeout::Keepalive));
                    let _ = self.write_step(turn);
                    return Next::End;
                }
            } else if elapsed(turn.now.millis, self.heard) >= interval
                && self.engine.send_ping(&b""[..]).is_ok()
            {
                self.flags.set(Flags::PING_SENT, true);
                self.since = turn.now.millis;
            }
        }
        if let Some(idle) = t.idle
            && elapsed(turn.now.millis, self.message) >= idle
        {
            let _ = self.engine.close(CloseCode::GOING_AWAY, "idle timeout");
            self.fail(Error::Timeout(Timeout::Idle));
        }
        self.write_step(turn)
    }

    /// Starts the closing handshake with 1001 because the reactor is
    /// stopping: "server shutting down" from a server, "going away" from
    /// a client.
    pub(super) fn close_going_away(&mut self, turn: &Turn) -> Next {
        if self.engine.state() == State::Open {
            let reason = match self.engine.role() {
                Role::Server => "server shutting down",
                Role::Client => "going away",
            };
            let _ = self.engine.close(CloseCode::GOING_AWAY, reason);
        }
        self.write_step(turn)
    }

    /// Takes the connection apart once it ended: its data, and how it
    /// ended.
    pub(super) fn finish(mut self) -> (D, Ended) {
        let cold = self.cold.take().map(|cold| *cold).unwrap_or_default();
        let close = self.engine.close_received().cloned();
        let error = cold.error.or(match close {
            None => Some(Error::AbnormalClosure),
            Some(_) => None,
        });
        let ended = Ended {
            close,
            error,
            protocol: cold.protocol,
        };
        (self.data, ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection's entry: the engine, the application's data
    /// and 16 bytes of the reactor's. BENCHMARKS.md accounts for each.
    #[test]
    fn an_entry_is_the_engine_and_the_data_and_little_more() {
        let engine = std::mem::size_of::<Connection>();
        let entry = std::mem::size_of::<Entry<[u64; 5]>>();
        println!("engine {engine} B, entry with 40 B of data {entry} B");
        assert!(entry <= engine + 40 + 40, "the entry is {entry} bytes");
    }
}
