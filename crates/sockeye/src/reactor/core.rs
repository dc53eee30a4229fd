//! What a reactor does whichever way it waits: the table of connections,
//! taking one in, serving a ready socket, the timers, closing them all.

use std::io;

use mio::{Interest, Token};
use sockeye_proto::Connection;

use super::clock::{Clock, Now, Timeouts};
use super::entry::{Entry, Next, Turn};
use super::handler::Handler;
use super::slab::Slab;
use crate::config::WebSocketConfig;
use crate::error::Error;

/// The size of the reactor's read buffer, shared by its connections.
const READ_BUFFER: usize = 64 << 10;

/// The token of a reactor thread's waker: no connection has it (the
/// table's keys are far smaller).
pub(super) const WAKER: Token = Token(usize::MAX);

/// Events taken from the epoll instance at once.
pub(super) const EVENTS: usize = 1024;

/// A connection on its way into a reactor.
#[derive(Debug)]
pub(super) struct Intake<D> {
    pub(super) tcp: std::net::TcpStream,
    pub(super) engine: Connection,
    pub(super) protocol: Option<Box<str>>,
    pub(super) data: D,
}

/// The connections and what serving them takes: all of a reactor but its
/// epoll instance, its intake and the way it waits.
#[derive(Debug)]
pub(super) struct Core<H: Handler> {
    registry: mio::Registry,
    pub(super) conns: Slab<Entry<H::Data>>,
    pub(super) handler: H,
    clock: Clock,
    timeouts: Timeouts,
    write_limit: usize,
    scratch: Box<[u8]>,
    /// Connections whose read budget ran out, to read again.
    again: Vec<usize>,
    /// Connections a sweep found ended or wanting a read.
    settled: Vec<(usize, Next)>,
}

impl<H: Handler> Core<H> {
    /// The connections of a reactor whose epoll instance `registry`
    /// registers with, served by `handler` under `config`'s limits.
    pub(super) fn new(registry: mio::Registry, handler: H, config: &WebSocketConfig) -> Self {
        Core {
            registry,
            conns: Slab::new(),
            handler,
            clock: Clock::new(),
            timeouts: Timeouts::new(config),
            write_limit: config.write_buffer_size,
            scratch: vec![0; READ_BUFFER].into_boxed_slice(),
            again: Vec::new(),
            settled: Vec::new(),
        }
    }

    /// How often the timers are looked at.
    pub(super) fn tick(&self) -> std::time::Duration {
        self.timeouts.tick()
    }

    /// Puts one connection in the table and gives the handler its first
    /// look; closes it at once if the reactor is stopping.
    pub(super) fn admit(&mut self, intake: Intake<H::Data>, stopping: bool) {
        let now = self.clock.now();
        let io = mio::net::TcpStream::from_std(intake.tcp);
        let mut entry = Entry::new(io, intake.engine, intake.data, intake.protocol, now.millis);
        let key = self.conns.vacant_key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self.registry.register(&mut entry.io, Token(key), interest) {
            tracing::debug!(error = %e, "cannot register a connection with the reactor");
            entry.fail(Error::Io(e));
            let (data, ended) = entry.finish();
            self.handler.on_end(data, ended);
            return;
        }
        let key = self.conns.insert(entry);
        let Core {
            conns,
            handler,
            scratch,
            ..
        } = self;
        let mut turn = Turn {
            now,
            scratch,
            timeouts: self.timeouts,
            write_limit: self.write_limit,
        };
        let Some(entry) = conns.get_mut(key) else {
            return;
        };
        let mut next = entry.open(handler, &mut turn);
        if stopping && next != Next::End {
            next = entry.close_going_away(&turn);
        }
        self.settle(key, next);
    }

    /// Now, by the reactor's clock.
    pub(super) fn now(&self) -> Now {
        self.clock.now()
    }

    /// Serves the sockets of a batch of events that came at `now`;
    /// returns whether [`WAKER`]'s token was among them (it names no
    /// connection).
    pub(super) fn serve_events(&mut self, events: &mio::Events, now: Now) -> bool {
        let mut woken = false;
        for event in events {
            if event.token() == WAKER {
                woken = true;
                continue;
            }
            let ended = event.is_read_closed() || event.is_error();
            let readable = event.is_readable() || ended;
            let key = event.token().0;
            self.ready(key, readable, event.is_writable(), ended, now);
        }
        woken
    }

    /// One connection's socket is ready; `ended` when the peer's stream
    /// ended or failed.
    pub(super) fn ready(
        &mut self,
        key: usize,
        readable: bool,
        writable: bool,
        ended: bool,
        now: Now,
    ) {
        let Core {
            conns,
            handler,
            scratch,
            ..
        } = self;
        let Some(entry) = conns.get_mut(key) else {
            // Ended earlier in this batch.
            return;
        };
        let mut turn = Turn {
            now,
            scratch,
            timeouts: self.timeouts,
            write_limit: self.write_limit,
        };
        if ended {
            entry.peer_ended();
        }
        let next = entry.ready(handler, &mut turn, readable, writable);
        self.settle(key, next);
    }

    /// Whether some connection's read budget ran out with input waiting.
    pub(super) fn has_more_to_read(&self) -> bool {
        !self.again.is_empty()
    }

    /// Reads again from the connections whose budget ran out; whether
    /// some still have more.
    pub(super) fn read_again(&mut self) -> bool {
        if self.again.is_empty() {
            return false;
        }
        let now = self.clock.now();
        for key in std::mem::take(&mut self.again) {
            self.ready(key, true, false, false, now);
        }
        !self.again.is_empty()
    }

    /// Acts on what a step decided.
    fn settle(&mut self, key: usize, next: Next) {
        match next {
            Next::Wait => {}
            Next::ReadAgain => self.again.push(key),
            Next::End => {
                if let Some(mut entry) = self.conns.remove(key) {
                    let _ = self.registry.deregister(&mut entry.io);
                    let (data, ended) = entry.finish();
                    self.handler.on_end(data, ended);
                }
            }
        }
    }

    /// Runs every connection's timers.
    pub(super) fn sweep(&mut self) {
        self.visit_all(Entry::tick);
    }

    /// Starts the closing handshake of every connection (1001).
    pub(super) fn close_all(&mut self) {
        self.visit_all(Entry::close_going_away);
    }

    /// Runs `step` on every connection, in a turn dated now, then acts on
    /// what each decided.
    fn visit_all(&mut self, mut step: impl FnMut(&mut Entry<H::Data>, &Turn<'_>) -> Next) {
        let now = self.clock.now();
        let turn = Turn {
            now,
            scratch: &mut [],
            timeouts: self.timeouts,
            write_limit: self.write_limit,
        };
        let settled = &mut self.settled;
        self.conns.for_each_mut(|key, entry| {
            let next = step(entry, &turn);
            if next != Next::Wait {
                settled.push((key, next));
            }
        });
        self.settle_all();
    }

    fn settle_all(&mut self) {
        let mut settled = std::mem::take(&mut self.settled);
        for (key, next) in settled.drain(..) {
            self.settle(key, next);
        }
        self.settled = settled;
    }

    /// Drops every connection after the reactor itself failed.
    pub(super) fn end_all(&mut self, cause: &io::Error) {
        for key in self.conns.keys() {
            if let Some(entry) = self.conns.get_mut(key) {
                entry.fail(Error::Io(io::Error::new(cause.kind(), cause.to_string())));
            }
            self.settle(key, Next::End);
        }
    }
}
