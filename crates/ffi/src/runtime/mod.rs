//! The batteries-included layer: a context (`sockeye_ctx`) with runtime
//! threads of its own that run clients and servers. Connections and
//! listeners are integer ids; events are polled
//! (`sockeye_event_poll`, or a host's loop on `sockeye_ctx_fd`); sending
//! and closing work from any thread.
//!
//! | file | owns |
//! |---|---|
//! | `context.rs` | [`sockeye_ctx`], its runtime thread(s), freeing, `sockeye_ctx_last_error` |
//! | `shared.rs` | what the exports and the runtime's tasks share: queue, ids, listeners, messages |
//! | `event.rs` | [`sockeye_event`] and the `SOCKEYE_EVENT_*` types |
//! | `queue.rs` | the bounded event queue: batches both ways, wake-ups only when needed |
//! | `wake.rs` | the fd that is readable while events wait |
//! | `poll.rs` | [`sockeye_event_poll`], [`sockeye_ctx_fd`], [`sockeye_ctx_run`] |
//! | `conns.rs` | connections by id, each with its outbox and buffered amount |
//! | `driver.rs` | the task of one open connection: outbox in, events out |
//! | `listen.rs` | listeners: bind, accept, TLS and opening handshakes |
//! | `connect.rs` | clients: [`sockeye_ctx_connect`] |
//! | `send.rs` | [`sockeye_send`], [`sockeye_buffered_amount`], [`sockeye_close`] |
//! | `tls.rs` | the TLS acceptor from PEM files |
//! | `wakeups.rs` | waking tasks from C threads in batches, through one dispatcher task |
//! | `failure.rs` | failures with details, and each thread's last message |

mod connect;
mod conns;
mod context;
mod driver;
mod event;
mod failure;
mod listen;
mod poll;
mod queue;
mod send;
mod shared;
mod tls;
mod wake;
mod wakeups;

pub use connect::sockeye_ctx_connect;
pub use context::{sockeye_ctx, sockeye_ctx_free, sockeye_ctx_last_error, sockeye_ctx_new};
pub use event::{
    SOCKEYE_EVENT_BINARY, SOCKEYE_EVENT_CLOSE, SOCKEYE_EVENT_ERROR, SOCKEYE_EVENT_OPEN,
    SOCKEYE_EVENT_TEXT, sockeye_event,
};
pub use listen::{
    sockeye_ctx_listen, sockeye_ctx_listen_tls, sockeye_ctx_listener_port, sockeye_ctx_unlisten,
};
pub use poll::{sockeye_ctx_fd, sockeye_ctx_run, sockeye_event_poll};
pub use send::{sockeye_buffered_amount, sockeye_close, sockeye_send};
