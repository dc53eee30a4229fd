//! An open connection of `sockeye connect`: one task reads the input and
//! one sends it, while this one prints what arrives (messages, Pings and
//! Pongs), sends the pings, times their Pongs and decides when to close.

use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt as _;
use sockeye::{ClientStream, CloseCode, Incoming, WebSocket, WebSocketWriter};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::Args;
use super::exit::Outcome;
use super::input::{Inbox, Outgoing, Queue};
use super::jsonrpc::Tap;
use super::output::Printer;
use crate::describe;

/// How the sending task ended.
#[derive(Debug)]
enum Sent {
    /// Everything the input gave was sent.
    All,
    /// A Close from the input was sent: nothing more goes out.
    Closed,
    /// The connection stopped taking messages (it is closing or broke;
    /// the reader tells how).
    Stopped,
    /// The input was unusable: why.
    BadInput(String),
}

/// Where the session's own end stands.
#[derive(Debug)]
struct Ending {
    writer: WebSocketWriter<ClientStream>,
    /// A Close was sent (or is being sent).
    closing: bool,
    /// Ctrl-C was pressed once.
    interrupted: bool,
    /// Why the input was unusable, if it was.
    bad_input: Option<String>,
    /// When to close after the input ended (`--wait`).
    close_at: Option<Instant>,
}

impl Ending {
    /// Starts the closing handshake, once.
    fn close(&mut self, code: CloseCode) {
        if !self.closing {
            self.closing = true;
            start_close(&self.writer, code);
        }
    }

    /// What to do once the sender finished.
    fn after_sending(&mut self, sent: Sent, args: &Args) {
        match sent {
            Sent::All => match args.wait {
                Some(wait) => self.close_at = Some(Instant::now() + wait),
                None if args.max_messages.is_some() => {}
                None => self.close(CloseCode::NORMAL),
            },
            Sent::Closed => self.closing = true,
            Sent::Stopped => {}
            Sent::BadInput(why) => {
                self.bad_input = Some(why);
                self.close(CloseCode::NORMAL);
            }
        }
    }

    /// The outcome once the closing handshake completed.
    fn closed(self, frame: Option<sockeye::CloseFrame>) -> Outcome {
        if self.interrupted {
            Outcome::Interrupted
        } else if let Some(why) = self.bad_input {
            Outcome::Usage(why)
        } else {
            Outcome::Closed(frame)
        }
    }
}

/// The Pings of `--ping-interval` and the Pongs of every Ping.
#[derive(Debug)]
struct Pings {
    /// Ticks every `--ping-interval`.
    every: Option<tokio::time::Interval>,
    /// The last round-trip time seen.
    last_rtt: Option<Duration>,
    /// When the oldest Ping still without a Pong left.
    due: Option<Instant>,
    sent: u64,
}

impl Pings {
    fn new(args: &Args) -> Pings {
        let ticks = |start: Instant, every: Duration| {
            let mut ticks = tokio::time::interval_at(start, every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        };
        Pings {
            every: args
                .ping_interval
                .map(|every| ticks(Instant::now() + every, every)),
            last_rtt: None,
            due: None,
            sent: 0,
        }
    }

    /// Sends the next Ping.
    fn send(&mut self, writer: &WebSocketWriter<ClientStream>) {
        self.sent += 1;
        if writer.ping(self.sent.to_string()).is_ok() {
            self.due.get_or_insert_with(Instant::now);
            flush(writer);
        }
    }

    /// A Pong came, and the library's round-trip time is now `rtt`: the
    /// new time if this Pong answered our last Ping.
    fn pong(&mut self, rtt: Option<Duration>) -> Option<Duration> {
        if rtt == self.last_rtt {
            return None;
        }
        self.last_rtt = rtt;
        self.due = None;
        rtt
    }

    /// When the oldest Ping still without a Pong is late by `limit`.
    fn overdue_at(&self, limit: Option<Duration>) -> Option<Instant> {
        Some(self.due? + limit?)
    }
}

/// How a session ended, and whether this end made it end (a close it
/// started, Ctrl-C, bad input, stdout gone), in which case reconnecting
/// is not wanted.
#[derive(Debug)]
pub(super) struct Ended {
    pub(super) outcome: Outcome,
    pub(super) ours: bool,
}

impl Ended {
    fn ours(outcome: Outcome) -> Ended {
        Ended {
            outcome,
            ours: true,
        }
    }
}

/// Runs the session on an open connection, sending what `queue` holds
/// and counting messages in `received`; returns how it ended.
pub(super) async fn run(
    args: &Args,
    ws: WebSocket<ClientStream>,
    response: &http::Response<()>,
    interrupts: &mut Interrupts,
    queue: &Queue,
    received: &mut u64,
) -> Ended {
    let stdout_gone = || Ended::ours(Outcome::Failed("cannot write to stdout".to_owned()));
    let mut printer = Printer::from_args(args);
    if printer.open(ws.protocol(), response).await.is_err() {
        return stdout_gone();
    }
    let (mut reader, writer) = ws.split();
    let mut sender = Sender(tokio::spawn(send_all(
        writer.clone(),
        Arc::clone(queue).lock_owned().await,
        printer.tap(),
    )));
    let mut sender_done = false;
    let mut pings = Pings::new(args);
    let mut ending = Ending {
        writer: writer.clone(),
        closing: false,
        interrupted: false,
        bad_input: None,
        close_at: None,
    };

    loop {
        let pong_overdue = pings.overdue_at(args.ping_timeout);
        tokio::select! {
            item = reader.recv_incoming() => match item {
                Some(Ok(Incoming::Message(message))) => {
                    if printer.message(&message).await.is_err() {
                        return stdout_gone();
                    }
                    *received += 1;
                    if args.max_messages == Some(*received) {
                        ending.close(CloseCode::NORMAL);
                    }
                }
                Some(Ok(Incoming::Ping(payload))) => {
                    if printer.ping(&payload).await.is_err() {
                        return stdout_gone();
                    }
                }
                Some(Ok(Incoming::Pong(payload))) => {
                    let rtt = pings.pong(reader.round_trip_time());
                    if printer.pong(&payload, rtt).await.is_err() {
                        return stdout_gone();
                    }
                }
                // Nothing else is given today; anything new is not printed.
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    let why = describe(&e);
                    let code = e.close_code().unwrap_or(CloseCode::ABNORMAL);
                    let _ = printer.error(&why).await;
                    let _ = printer.close(code, "", false).await;
                    // Failing while closing (the peer never answered our
                    // Close) is still an end of ours: nothing to resume.
                    return Ended {
                        ours: ending.closing,
                        outcome: Outcome::Failed(format!("connection failed: {why}")),
                    };
                }
                None => {
                    let frame = reader.close_frame();
                    let (code, reason) = frame.as_ref().map_or(
                        (CloseCode::NO_STATUS_RECEIVED, ""),
                        |f| (f.code, f.reason.as_str()),
                    );
                    let _ = printer.close(code, reason, true).await;
                    let ours = ending.closing;
                    return Ended { outcome: ending.closed(frame), ours };
                }
            },
            Some(seen) = printer.next_sent() => {
                if printer.traffic(&seen).await.is_err() {
                    return stdout_gone();
                }
            },
            sent = &mut sender.0, if !sender_done => {
                sender_done = true;
                let sent = sent.unwrap_or_else(|_| Sent::BadInput("the input task failed".to_owned()));
                if let Sent::BadInput(why) = &sent {
                    let _ = printer.error(why).await;
                }
                ending.after_sending(sent, args);
            },
            () = sleep_until(ending.close_at), if !ending.closing => {
                ending.close(CloseCode::NORMAL);
            },
            _ = tick(pings.every.as_mut()), if !ending.closing => pings.send(&writer),
            () = sleep_until(pong_overdue) => {
                let why = "no pong within --ping-timeout of a ping".to_owned();
                let _ = printer.error(&why).await;
                start_close(&writer, CloseCode::INTERNAL_ERROR);
                return Ended { outcome: Outcome::Failed(why), ours: false };
            },
            () = interrupts.next() => {
                if ending.interrupted {
                    return Ended::ours(Outcome::Interrupted);
                }
                ending.interrupted = true;
                ending.close(CloseCode::GOING_AWAY);
            },
        }
    }
}

/// The sending task of one connection, stopped when the session ends so
/// that the next connection's sender can take the queue.
#[derive(Debug)]
struct Sender(JoinHandle<Sent>);

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends what the queue gives, in order; at the input's end, says how it
/// ended.
async fn send_all(
    mut writer: WebSocketWriter<ClientStream>,
    mut queue: tokio::sync::OwnedMutexGuard<Inbox>,
    // With --jsonrpc: reads what is sent and hands it to the printer.
    tap: Option<Tap>,
) -> Sent {
    while let Some(outgoing) = queue.next().await {
        // Kept in the inbox until sent: an end that is not a send (a
        // refused ping or close, the input's end) counts as sent.
        if !matches!(outgoing, Outgoing::Message(_) | Outgoing::Ping(_)) {
            queue.sent();
        }
        match outgoing {
            Outgoing::Message(message) => {
                let message = match &tap {
                    Some(tap) => match tap.sending(message).await {
                        Ok(message) => message,
                        Err(why) => {
                            queue.sent();
                            return Sent::BadInput(why);
                        }
                    },
                    None => message,
                };
                if writer.send(message).await.is_err() {
                    return Sent::Stopped;
                }
                queue.sent();
            }
            Outgoing::Ping(payload) => match writer.ping(payload) {
                Ok(()) => {
                    if writer.flush().await.is_err() {
                        return Sent::Stopped;
                    }
                    queue.sent();
                }
                Err(sockeye::Error::Usage(e)) => {
                    queue.sent();
                    return Sent::BadInput(format!("ping: {e}"));
                }
                Err(_) => return Sent::Stopped,
            },
            Outgoing::Close(code, reason) => {
                return match writer.close(code, &reason).await {
                    Err(sockeye::Error::Usage(e)) => Sent::BadInput(format!("close: {e}")),
                    _ => Sent::Closed,
                };
            }
            Outgoing::End(Ok(())) => return Sent::All,
            Outgoing::End(Err(why)) => return Sent::BadInput(why),
        }
    }
    // The input's end was taken by an earlier connection's sender.
    Sent::All
}

/// Starts the closing handshake without waiting: the reader sees it end.
fn start_close(writer: &WebSocketWriter<ClientStream>, code: CloseCode) {
    start_close_with(writer, code, String::new());
}

/// As [`start_close`], with a reason.
pub(super) fn start_close_with(
    writer: &WebSocketWriter<ClientStream>,
    code: CloseCode,
    reason: String,
) {
    let mut writer = writer.clone();
    tokio::spawn(async move {
        let _ = writer.close(code, &reason).await;
    });
}

/// Writes what is queued (a Ping) without waiting.
pub(super) fn flush(writer: &WebSocketWriter<ClientStream>) {
    let mut writer = writer.clone();
    tokio::spawn(async move {
        let _ = writer.flush().await;
    });
}

/// Waits until `at`, or forever without it.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The next tick of `ticks`, or never without it.
async fn tick(ticks: Option<&mut tokio::time::Interval>) -> Instant {
    match ticks {
        Some(ticks) => ticks.tick().await,
        None => std::future::pending().await,
    }
}

/// Ctrl-C (SIGINT), caught once the session runs.
#[derive(Debug)]
pub(super) struct Interrupts(Option<tokio::signal::unix::Signal>);

impl Interrupts {
    pub(super) fn new() -> Self {
        Interrupts(tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok())
    }

    /// The next Ctrl-C; never if it cannot be caught.
    pub(super) async fn next(&mut self) {
        match &mut self.0 {
            Some(signal) => {
                if signal.recv().await.is_none() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }
}
