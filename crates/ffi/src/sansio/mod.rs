//! The sans-I/O layer: `sockeye_conn_*`, one WebSocket connection that does
//! no I/O, like wslay but with the opening handshake, permessage-deflate
//! and limits.
//!
//! The caller owns the socket and the clock. Each turn of its loop: feed
//! what it read ([`sockeye_conn_feed`]), take events until
//! `SOCKEYE_ERR_AGAIN` ([`sockeye_conn_next_event`]), queue messages
//! ([`sockeye_conn_send`]), write the output ([`sockeye_conn_take_output`]
//! or the zero-copy [`sockeye_conn_peek_output`] and
//! [`sockeye_conn_consume_output`]), ask for the next deadline
//! ([`sockeye_conn_next_deadline`]) and close the socket once
//! [`sockeye_conn_should_close_transport`] says so.
//!
//! | file | owns |
//! |---|---|
//! | `conn.rs` | [`sockeye_conn`], its phases and state (`SOCKEYE_CONN_*`) |
//! | `new.rs` | making (server, client, client from a URL) and freeing, the error message |
//! | `handshake.rs` | the opening handshake: a server's answer, a client's request and its check |
//! | `accept.rs` | a server that holds the request, then accepts or refuses it itself |
//! | `events.rs` | input and [`sockeye_conn_event`] |
//! | `send.rs` | messages, Ping, Pong and Close |
//! | `output.rs` | the bytes to write |
//! | `state.rs` | getters: state, closing the socket, path, headers, subprotocol |
//! | `clock.rs` | when things happened, dated by the caller's time |
//! | `timers.rs` | deadlines and timeouts |

mod accept;
mod clock;
mod conn;
mod events;
mod handshake;
mod new;
mod output;
mod send;
mod state;
mod timers;

pub use accept::{sockeye_conn_accept, sockeye_conn_hold_request, sockeye_conn_refuse};
pub use conn::{
    SOCKEYE_CONN_CLOSED, SOCKEYE_CONN_CLOSING, SOCKEYE_CONN_FAILED, SOCKEYE_CONN_HANDSHAKE,
    SOCKEYE_CONN_OPEN, sockeye_conn,
};
pub use events::{
    SOCKEYE_CONN_EVENT_BINARY, SOCKEYE_CONN_EVENT_CLOSE, SOCKEYE_CONN_EVENT_OPEN,
    SOCKEYE_CONN_EVENT_PING, SOCKEYE_CONN_EVENT_PONG, SOCKEYE_CONN_EVENT_REQUEST,
    SOCKEYE_CONN_EVENT_TEXT, sockeye_conn_event, sockeye_conn_feed, sockeye_conn_feed_eof,
    sockeye_conn_next_event,
};
pub use new::{
    sockeye_conn_free, sockeye_conn_last_error, sockeye_conn_new_client,
    sockeye_conn_new_client_url, sockeye_conn_new_server,
};
pub use output::{
    sockeye_conn_consume_output, sockeye_conn_output_len, sockeye_conn_peek_output,
    sockeye_conn_take_output,
};
pub use send::{sockeye_conn_close, sockeye_conn_ping, sockeye_conn_pong, sockeye_conn_send};
pub use state::{
    sockeye_conn_request_header, sockeye_conn_request_path, sockeye_conn_should_close_transport,
    sockeye_conn_state, sockeye_conn_subprotocol,
};
pub use timers::{sockeye_conn_next_deadline, sockeye_conn_on_timeout};
