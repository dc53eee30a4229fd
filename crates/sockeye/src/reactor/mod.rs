//! [`Reactor`]: many WebSocket connections served from one task through
//! callbacks, for servers that hold very many connections, most of them
//! idle, or answer small messages at the highest rate.
//!
//! A [`WebSocket`](crate::WebSocket) served by a task of its own costs
//! that task and its socket's registration with the runtime (about 800
//! bytes while idle) and a task wake-up per read. A reactor keeps each
//! connection as an entry in one table (about 300 bytes), watches all of
//! their sockets through one epoll instance of its own, which the runtime
//! sees as a single file descriptor, and calls the [`Handler`] for each
//! message. Unix only, plain TCP only.
//!
//! - `handler.rs`: [`Handler`] (the application's callbacks and per
//!   connection data), [`Conn`] (what a callback can do) and [`Ended`].
//! - `run.rs`: [`Reactor`] and [`ReactorHandle`], the loop and the intake.
//! - `entry.rs`: one connection and the steps of a turn on it.
//! - `io.rs`: the system calls; `clock.rs`: time and limits; `slab.rs`:
//!   the table.

mod clock;
mod entry;
mod handler;
mod io;
mod run;
mod slab;

pub use self::handler::{Conn, Ended, Handler};
pub use self::run::{Reactor, ReactorHandle};
