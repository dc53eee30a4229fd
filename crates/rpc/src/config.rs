//! [`Config`]: the limits of one connection, each with its default and
//! the reason for it.

use std::borrow::Cow;
use std::time::Duration;

use crate::answer::Batches;

/// The limits and timeouts of one connection. Start from
/// [`Config::default`] and change the fields that matter.
///
/// Every limit bounds what a peer can make this side hold: together they
/// cap a connection's memory at about `max_message_size` times
/// (`max_in_flight` + `outgoing_queue`), plus the handlers' own.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// The largest text message taken, in bytes; a larger one closes the
    /// connection with 1009 (message too big). Default 10 MiB, as
    /// jsonrpsee's: room for large results, while one message cannot
    /// take much of a server's memory. The WebSocket's own limit
    /// ([`sockeye::WebSocketConfig`]) is checked first: the helpers that
    /// open connections here set it to this.
    pub max_message_size: usize,
    /// Requests of the peer's that may run at once, each member of a
    /// batch counted; a request past it is answered at once with -32000
    /// ("too many requests in flight"), which keeps memory bounded
    /// without pausing reads (a paused read could hold up the very
    /// response a running handler waits for). Reads pause only while
    /// this many answers wait to be written: the peer is not reading. Default 1,024: above the
    /// largest batch taken by default, so that one batch is never refused
    /// in part, and several batches of 100 (what jsonrpsee's benchmarks
    /// send) fit at once.
    pub max_in_flight: usize,
    /// This side's calls that may wait for answers at once; one more
    /// waits for a slot. Default 256, for the same reason.
    pub max_calls: usize,
    /// Whether batches are taken, and how large. Default: up to 1,000
    /// members, far above what clients batch (jsonrpsee's benchmarks go
    /// to 100), low enough that one message cannot start a crowd of
    /// handlers. [`Batches::Refused`] for protocols that forbid them (LSP,
    /// MCP).
    pub batches: Batches,
    /// How long a call waits for its answer before it fails with
    /// [`CallError::Timeout`](crate::CallError::Timeout). Default 60 s, as
    /// jsonrpsee's; `None` waits as long as the connection lasts.
    pub call_timeout: Option<Duration>,
    /// The notification that tells the peer a call was given up (timed
    /// out or dropped), with params `{"id": ID}`; the same name, arriving,
    /// cancels the peer's request of that id here, which is then answered
    /// with -32800 (request cancelled). Default `"$/cancelRequest"`, the
    /// Language Server Protocol's: peers that do not know it ignore it, as
    /// the specification says of notifications. `None` sends nothing.
    pub cancel_notification: Option<Cow<'static, str>>,
    /// Items a subscription holds that the application has not read yet.
    /// When it is full the subscription ends with
    /// [`SubscriptionError::Lagged`](crate::SubscriptionError::Lagged) and
    /// is unsubscribed: a consumer that cannot keep up learns so at once,
    /// instead of the connection's memory growing or the other
    /// subscriptions stalling. Counted in items, each at most
    /// `max_message_size`. Default 1,024, as jsonrpsee's.
    pub subscription_buffer: usize,
    /// Subscriptions the peer may hold on this side at once; one more is
    /// answered with -32000. Default 1,024, as jsonrpsee's.
    pub max_subscriptions: usize,
    /// Notifications received and not yet handled (they are handled one
    /// at a time, in order). While it is full, reading pauses, and TCP
    /// slows the peer down; reading pauses as well while the messages
    /// held for them (the queued notifications, and the requests that
    /// wait for them) reach `max_message_size` bytes, so a slow handler
    /// holds at most about two messages' worth. Default 1,024. A
    /// notification handler that waits for an answer of the peer while
    /// reading pauses waits until its call times out.
    pub notification_backlog: usize,
    /// Messages this side's calls, notifications and subscriptions have
    /// queued and the connection has not yet written; a sender waits
    /// while it is full. Default 1,024: enough to keep writes batched.
    pub outgoing_queue: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_message_size: 10 << 20,
            max_in_flight: 1024,
            max_calls: 256,
            batches: Batches::Upto(1000),
            call_timeout: Some(Duration::from_secs(60)),
            cancel_notification: Some(Cow::Borrowed("$/cancelRequest")),
            subscription_buffer: 1024,
            max_subscriptions: 1024,
            notification_backlog: 1024,
            outgoing_queue: 1024,
        }
    }
}
