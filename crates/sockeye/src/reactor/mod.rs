//! Reactors: many WebSocket connections served through callbacks, for
//! servers that hold very many connections, most of them idle, or answer
//! small messages at the highest rate. A [`Reactor`] is served by a task of
//! a tokio runtime; a [`ReactorThread`] by a thread of its own, blocking
//! in its epoll instance as an event loop in C does.
//!
//! A [`WebSocket`](crate::WebSocket) served by a task of its own costs
//! that task and its socket's registration with the runtime (about 800
//! bytes while idle) and a task wake-up per read. A reactor keeps each
//! connection as an entry in one table (about 260 bytes), watches all of
//! their sockets through one epoll instance of its own and calls the
//! [`Handler`] for each message. Unix only, plain TCP only. Servers hand
//! over the connections they accepted; a client may hand over those it
//! opened (a load generator, say), which the reactor serves the same way
//! but for the end: a client waits for the server to close TCP (§7.1.1).
//!
//! - `handler.rs`: [`Handler`] (the application's callbacks and per
//!   connection data), [`Conn`] (what a callback can do) and [`Ended`].
//! - `handle.rs`: [`ReactorHandle`], which hands connections over, a
//!   server's or a client's; `add_error.rs`: [`AddClientError`], a
//!   client's connection the reactor did not take.
//! - `run.rs`: [`Reactor`], the task; `thread.rs`: [`ReactorThread`].
//! - `core.rs`: what both do: the table, taking a connection in, serving
//!   a ready socket, the timers, closing every connection.
//! - `entry.rs`: one connection and the steps of a turn on it.
//! - `io.rs`: reads and writes on a socket, over `sys.rs`, the system
//!   calls themselves; `clock.rs`: time and limits; `slab.rs`:
//!   the table.

mod add_error;
mod clock;
mod core;
mod entry;
mod handle;
mod handler;
mod io;
mod run;
mod slab;
mod sys;
mod thread;

pub use self::add_error::AddClientError;
pub use self::handle::ReactorHandle;
pub use self::handler::{Conn, Ended, Handler};
pub use self::run::Reactor;
pub use self::thread::ReactorThread;
