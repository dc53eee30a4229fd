//! The background task behind a [`WebSocket`](super::WebSocket): it
//! connects, then owns the connection, split into a reader and a writer
//! that it polls together.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;

use crate::tls::ClientStream;
use futures_core::Stream;
use futures_sink::Sink;
use http::header::SEC_WEBSOCKET_EXTENSIONS;
use sockeye_proto::handshake::HandshakeError;
use sockeye_proto::{CloseCode, Message};

use super::{CloseEvent, Shared, lock};
use crate::client::ClientBuilder;
use crate::error::{Error, HandshakeFailure, Timeout};
use crate::stream::{WebSocketReader, WebSocketWriter};

/// What the handle asks of the task.
#[derive(Debug)]
pub(super) enum Command {
    /// Send a message whose payload is this many application bytes.
    Send(Message, u64),
    /// Start the closing handshake; no code means an empty Close frame.
    Close { code: Option<u16>, reason: String },
    /// `close()` while connecting: fail the connection.
    Fail,
}

/// What the task tells the handle; each becomes an event when taken.
#[derive(Debug)]
pub(super) enum Item {
    /// The opening handshake succeeded.
    Open {
        protocol: String,
        extensions: String,
    },
    /// A message arrived.
    Message(Message),
    /// The server's Close frame arrived: the closing handshake started.
    Closing,
    /// The connection is over; `error` if it failed (an error event first).
    Closed { error: bool, close: CloseEvent },
}

/// How the connection ended.
#[derive(Debug)]
struct Outcome {
    error: bool,
    close: CloseEvent,
    failure: Option<Error>,
}

impl Outcome {
    /// Failed, or lost: error event, then close with 1006 (W-EV-07).
    fn failed(failure: Option<Error>) -> Self {
        Outcome {
            error: true,
            close: CloseEvent {
                was_clean: false,
                code: CloseCode::ABNORMAL.as_u16(),
                reason: String::new(),
            },
            failure,
        }
    }

    /// Closed without a clean closing handshake, but not failed: no error
    /// event.
    fn unclean(failure: Option<Error>) -> Self {
        Outcome {
            error: false,
            ..Self::failed(failure)
        }
    }
}

/// Pushes the last item when the task ends, even if it is torn down early
/// (its runtime shutting down): then as a failure.
struct Finish {
    shared: Arc<Shared>,
    outcome: Option<Outcome>,
}

impl Drop for Finish {
    fn drop(&mut self) {
        let outcome = self.outcome.take().unwrap_or_else(|| Outcome::failed(None));
        let shared = &self.shared;
        if let Some(failure) = outcome.failure {
            *lock(&shared.failure) = Some(failure);
        }
        // Later sends are thrown away at once.
        shared.commands.close(true);
        let _ = shared.events.push(Item::Closed {
            error: outcome.error,
            close: outcome.close,
        });
        shared.driver_done.store(true, Ordering::Release);
        shared.wake_drain_waiters();
    }
}

/// The task: connect, run the connection, report how it ended.
pub(super) async fn run(shared: Arc<Shared>, client: ClientBuilder, offered_protocols: bool) {
    let mut finish = Finish {
        shared: Arc::clone(&shared),
        outcome: None,
    };
    finish.outcome = Some(drive(&shared, client, offered_protocols).await);
}

async fn drive(shared: &Shared, client: ClientBuilder, offered_protocols: bool) -> Outcome {
    // Connect, unless the handle gives up first: `close()` while connecting
    // (W-CLOSE-04) or every handle dropped (W-GC-03) fails the connection.
    // Nothing else can be queued before the open event.
    let connected = {
        let mut connect = pin!(client.connect());
        poll_fn(|cx| {
            if shared.commands.poll_pop(cx).is_ready() {
                return Poll::Ready(None);
            }
            connect.as_mut().poll(cx).map(Some)
        })
        .await
    };
    let (mut ws, response) = match connected {
        None => return Outcome::failed(None),
        Some(Err(e)) => return Outcome::failed(Some(e)),
        Some(Ok(connected)) => connected,
    };
    // W-EST-04 (R-CV-10): subprotocols were offered, so the server must
    // pick one. Fail with a Close frame, then drop TCP.
    if offered_protocols && ws.protocol().is_none() {
        let _ = ws.start_close(CloseCode::PROTOCOL_ERROR, "");
        drop(ws);
        return Outcome::failed(Some(Error::Handshake(Box::new(HandshakeFailure::Invalid(
            HandshakeError::InvalidProtocolHeader,
        )))));
    }
    let extensions = response
        .headers()
        .get_all(SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ");
    let protocol = ws.protocol().unwrap_or_default().to_owned();
    let _ = shared.events.push(Item::Open {
        protocol,
        extensions,
    });

    let (mut reader, mut writer) = ws.split();
    let ended = {
        let mut read = pin!(read_loop(&mut reader, shared));
        let mut write = pin!(write_loop(&mut writer, shared));
        let mut writing = true;
        poll_fn(|cx| {
            if writing && let Poll::Ready(end) = write.as_mut().poll(cx) {
                writing = false;
                if end == WriteEnd::Fail {
                    return Poll::Ready(None);
                }
            }
            read.as_mut().poll(cx).map(Some)
        })
        .await
    };
    // Dropping the halves drops the connection: on a failure, TCP closes
    // without waiting for anything.
    ended.unwrap_or_else(|| Outcome::failed(None))
}

/// Reads until the connection ends, queueing each message as an event.
async fn read_loop(reader: &mut WebSocketReader<ClientStream>, shared: &Shared) -> Outcome {
    let mut peer_closing = false;
    loop {
        let next = poll_fn(|cx| {
            let next = Pin::new(&mut *reader).poll_next(cx);
            // The server's Close frame starts the closing handshake: the
            // handle becomes CLOSING, after the messages before it, while
            // we wait for TCP to close (R-CL-08).
            if next.is_pending() && !peer_closing && reader.close_frame().is_some() {
                peer_closing = true;
                let _ = shared.events.push(Item::Closing);
            }
            next
        })
        .await;
        match next {
            Some(Ok(message)) => {
                let _ = shared.events.push(Item::Message(message));
            }
            None => {
                // A clean close: both Close frames exchanged. The code is
                // the server's (1005 if its frame had none).
                let frame = reader.close_frame();
                return Outcome {
                    error: false,
                    close: CloseEvent {
                        was_clean: true,
                        code: frame
                            .as_ref()
                            .map_or(CloseCode::NO_STATUS_RECEIVED.as_u16(), |f| f.code.as_u16()),
                        reason: frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                    },
                    failure: None,
                };
            }
            Some(Err(e)) => {
                let closing =
                    shared.close_started.load(Ordering::Acquire) || reader.close_frame().is_some();
                return match &e {
                    // We failed the connection (a violation by the server,
                    // no answer to keepalive): error, then close.
                    Error::Protocol(_) | Error::Timeout(Timeout::Keepalive) => {
                        Outcome::failed(Some(e))
                    }
                    // The server never answered our Close.
                    Error::Timeout(_) => Outcome::unclean(Some(e)),
                    // Lost during a closing handshake already under way:
                    // not clean, but not a failure either.
                    Error::AbnormalClosure | Error::Io(_) if closing => Outcome::unclean(Some(e)),
                    _ => Outcome::failed(Some(e)),
                };
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WriteEnd {
    /// Nothing more to write; the reader finishes the connection.
    Done,
    /// Fail the connection now.
    Fail,
}

/// Takes commands and writes: messages fed in batches and flushed once
/// per batch, `bufferedAmount` lowered by what was written.
async fn write_loop(writer: &mut WebSocketWriter<ClientStream>, shared: &Shared) -> WriteEnd {
    // Application bytes fed to the writer and not yet known to be written.
    let mut unflushed: u64 = 0;
    loop {
        let Some(first) = poll_fn(|cx| shared.commands.poll_pop(cx)).await else {
            // Every handle dropped, as a browser's socket collected while
            // open (W-GC-02): a Close frame without a status code, unless a
            // close is under way. What was sent before still goes first
            // (W-GC-01).
            shared.close_started.store(true, Ordering::Release);
            let _ = writer.close(CloseCode::NO_STATUS_RECEIVED, "").await;
            return WriteEnd::Done;
        };
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Send(message, len) => {
                    // Waits while too much is queued for the socket; the
                    // handle's queue grows meanwhile, and shows in
                    // `bufferedAmount`.
                    let ready = poll_fn(|cx| Pin::new(&mut *writer).poll_ready(cx)).await;
                    if writer.buffered_amount() == 0 {
                        shared.transmitted(std::mem::take(&mut unflushed));
                    }
                    // Once closing, or broken, the message is dropped and
                    // stays counted (W-SEND-03).
                    if ready.is_ok() && Pin::new(&mut *writer).start_send(message).is_ok() {
                        unflushed += len;
                    }
                }
                Command::Close { code, reason } => {
                    let code = code.map_or(CloseCode::NO_STATUS_RECEIVED, CloseCode::from);
                    // Queued after the messages sent before it, and flushed
                    // with them.
                    let _ = writer.close(code, &reason).await;
                }
                Command::Fail => return WriteEnd::Fail,
            }
            next = shared.commands.try_pop();
        }
        let _ = poll_fn(|cx| Pin::new(&mut *writer).poll_flush(cx)).await;
        if writer.buffered_amount() == 0 {
            shared.transmitted(std::mem::take(&mut unflushed));
        }
    }
}
