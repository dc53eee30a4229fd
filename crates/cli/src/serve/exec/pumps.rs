//! The three pipes between a connection and its program: messages to its
//! stdin, its stdout to messages, its stderr to the log.
//!
//! Each pump holds at most one message (or one read) at a time and waits
//! for the other side before taking more: a program that does not read
//! its stdin stops the reading of the peer's messages (TCP then holds the
//! peer back), and a peer that does not read stops the reading of the
//! program's stdout once the connection's write buffer is full (the pipe
//! then holds the program back). Memory per connection stays within one
//! message, one read and the write buffer.
//!
//! The price: while a program does not read, nothing is read from its
//! peer, so a peer that leaves meanwhile is noticed only once the program
//! reads again, exits, or the server stops (which signals it after the
//! grace period).

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use sockeye::{CloseCode, Message, Utf8Bytes, WebSocketReader, WebSocketWriter};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, ChildStdout};

use super::super::access::Count;
use super::super::transport::Transport;
use crate::describe;

/// The most bytes taken from a program's stdout or stderr per read.
const READ_CHUNK: usize = 16 << 10;

/// The longest stderr line logged as one; longer ones are logged in parts.
const MAX_LOG_LINE: usize = 4 << 10;

/// How the peer's side of the connection ended.
#[derive(Debug)]
pub(super) enum PeerEnd {
    /// A closing handshake, with the peer's code if it gave one.
    Closed(Option<CloseCode>),
    /// The connection failed (cut, a protocol error, a timeout).
    Failed(sockeye::Error),
}

/// Messages and their payload bytes, one way, counted for the access
/// line by a pump while its connection's task reads them.
#[derive(Debug, Default)]
pub(super) struct Tally {
    messages: AtomicU64,
    bytes: AtomicU64,
}

impl Tally {
    fn add(&self, len: usize) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// The count so far.
    pub(super) fn count(&self) -> Count {
        Count::new(
            self.messages.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Writes each message from the peer to the program's stdin, a line each
/// (a newline appended), or as it is with `binary`, until the peer's side
/// ends; then drops stdin, which the program reads as its end of input.
///
/// Once the program no longer takes input (it closed its stdin or
/// exited), the peer's messages are read and dropped, so that its Close
/// is still answered.
pub(super) async fn peer_to_program<S: Transport>(
    mut reader: WebSocketReader<S>,
    mut stdin: Option<ChildStdin>,
    binary: bool,
    id: u64,
    received: &Tally,
) -> PeerEnd {
    loop {
        match reader.next().await {
            Some(Ok(message)) => {
                received.add(message.len());
                if let Some(pipe) = stdin.as_mut() {
                    let mut payload = message.into_payload();
                    let written = if binary {
                        pipe.write_all_buf(&mut payload).await
                    } else {
                        pipe.write_all_buf(&mut payload.chain(&b"\n"[..])).await
                    };
                    if let Err(e) = written {
                        tracing::debug!(
                            id,
                            error = %describe(&e),
                            "the program takes no more input: messages are dropped"
                        );
                        stdin = None;
                    }
                }
            }
            Some(Err(e)) => return PeerEnd::Failed(e),
            None => return PeerEnd::Closed(reader.close_frame().map(|frame| frame.code)),
        }
    }
}

/// Sends the program's stdout to the peer until it ends: a text message
/// per line, or a binary message per read with `binary`.
///
/// A line's end (`\n`, or `\r\n`) is not sent. A line that is not UTF-8
/// goes as a binary message. A line longer than `max_message` bytes goes
/// in parts of at most that size, cut between characters, each its own
/// message. Once the peer's side is closed, the rest is read and dropped,
/// so that the program is not stopped by a full pipe before it exits.
pub(super) async fn program_to_peer<S: Transport>(
    stdout: Option<ChildStdout>,
    mut writer: WebSocketWriter<S>,
    binary: bool,
    max_message: usize,
    sent: &Tally,
) {
    let Some(mut stdout) = stdout else { return };
    let max_message = max_message.max(1);
    let mut buf = BytesMut::new();
    let mut scanned = 0;
    let mut sending = true;
    loop {
        let eof = if binary {
            read_some(&mut stdout, &mut buf, READ_CHUNK.min(max_message)).await
        } else {
            read_some(&mut stdout, &mut buf, READ_CHUNK).await
        };
        if sending {
            while let Some(message) = next_message(&mut buf, &mut scanned, binary, max_message, eof)
            {
                let len = message.len();
                if writer.feed(message).await.is_err() {
                    sending = false;
                    break;
                }
                sent.add(len);
            }
            // Waits until the peer has taken it all: the pipe, meanwhile,
            // holds the program back.
            if sending && writer.flush().await.is_err() {
                sending = false;
            }
        }
        if !sending {
            buf.clear();
            scanned = 0;
        }
        if eof {
            return;
        }
    }
}

/// Logs each line the program writes to stderr, with the connection's id.
pub(super) async fn log_stderr(stderr: Option<tokio::process::ChildStderr>, id: u64) {
    let Some(mut stderr) = stderr else { return };
    let mut buf = BytesMut::new();
    let mut scanned = 0;
    loop {
        let eof = read_some(&mut stderr, &mut buf, READ_CHUNK).await;
        while let Some(line) = next_line(&mut buf, &mut scanned, MAX_LOG_LINE, eof) {
            tracing::info!(id, "program stderr: {}", String::from_utf8_lossy(&line));
        }
        if eof {
            return;
        }
    }
}

/// Reads at most `limit` more bytes into `buf`; whether the pipe ended
/// (a read error counts as its end).
async fn read_some(pipe: &mut (impl AsyncRead + Unpin), buf: &mut BytesMut, limit: usize) -> bool {
    buf.reserve(limit);
    match pipe.take(limit as u64).read_buf(buf).await {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => {
            tracing::debug!(error = %describe(&e), "reading the program's output failed");
            true
        }
    }
}

/// The next message in `buf`: with `binary`, all of it; else the next
/// line, as [`next_line`] cuts it.
fn next_message(
    buf: &mut BytesMut,
    scanned: &mut usize,
    binary: bool,
    max: usize,
    eof: bool,
) -> Option<Message> {
    if binary {
        (!buf.is_empty()).then(|| Message::binary(buf.split().freeze()))
    } else {
        next_line(buf, scanned, max, eof).map(into_message)
    }
}

/// Takes the next message's bytes out of `buf`: a complete line without
/// its end; else, once `buf` holds more than `max` bytes and no line end
/// among them, its first `max` bytes (fewer, to cut between UTF-8
/// characters); else, at the end of input, what remains. `scanned` counts
/// the bytes already searched for a line end, so a long line arriving in
/// many reads is searched once.
fn next_line(buf: &mut BytesMut, scanned: &mut usize, max: usize, eof: bool) -> Option<Bytes> {
    let newline = memchr::memchr(b'\n', &buf[*scanned..]).map(|at| at + *scanned);
    match newline {
        Some(at) if at <= max => {
            *scanned = 0;
            let mut line = buf.split_to(at + 1);
            line.truncate(at);
            if line.last() == Some(&b'\r') {
                line.truncate(at - 1);
            }
            Some(line.freeze())
        }
        _ if buf.len() > max => {
            *scanned = 0;
            Some(buf.split_to(char_boundary(buf, max)).freeze())
        }
        _ if eof && !buf.is_empty() => {
            *scanned = 0;
            Some(buf.split().freeze())
        }
        _ => {
            *scanned = buf.len();
            None
        }
    }
}

/// The largest cut of `bytes` at most `max` long (and `bytes` is longer)
/// that does not split a UTF-8 character; `max` itself if there is none
/// within the 3 bytes a character may reach back.
fn char_boundary(bytes: &[u8], max: usize) -> usize {
    let is_continuation = |at: usize| bytes[at] & 0xc0 == 0x80;
    (max.saturating_sub(3)..=max)
        .rev()
        .take_while(|&at| at > 0)
        .find(|&at| !is_continuation(at))
        .unwrap_or(max)
}

/// A text message if the bytes are UTF-8, a binary one otherwise.
fn into_message(bytes: Bytes) -> Message {
    match Utf8Bytes::try_from(bytes.clone()) {
        Ok(text) => Message::text(text),
        Err(_) => Message::binary(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[&[u8]], max: usize) -> Vec<Vec<u8>> {
        let mut buf = BytesMut::new();
        let mut scanned = 0;
        let mut out = Vec::new();
        for (index, chunk) in input.iter().enumerate() {
            buf.extend_from_slice(chunk);
            let eof = index + 1 == input.len();
            while let Some(line) = next_line(&mut buf, &mut scanned, max, eof) {
                out.push(line.to_vec());
            }
        }
        out
    }

    #[test]
    fn lines_lose_their_ends_and_may_arrive_in_pieces() {
        let got = lines(&[b"one\ntw", b"o\r\n\nthr", b"ee"], 100);
        assert_eq!(got, [&b"one"[..], b"two", b"", b"three"]);
    }

    #[test]
    fn a_line_longer_than_the_limit_goes_in_parts() {
        let got = lines(&[b"abcdefghij\nxy\n"], 4);
        assert_eq!(got, [&b"abcd"[..], b"efgh", b"ij", b"xy"]);
        // A line of exactly the limit is one message.
        assert_eq!(lines(&[b"abcd\n"], 4), [b"abcd"]);
    }

    #[test]
    fn parts_are_cut_between_characters() {
        // "é" is two bytes: a cut after 3 bytes would split the second.
        let got = lines(&["aééz\n".as_bytes()], 4);
        assert_eq!(got, ["aé".as_bytes(), "éz".as_bytes()]);
        for part in got {
            assert!(std::str::from_utf8(&part).is_ok());
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_go_as_binary() {
        assert!(into_message(Bytes::from_static(b"ok")).as_text().is_some());
        assert!(
            into_message(Bytes::from_static(b"\xff"))
                .as_text()
                .is_none()
        );
    }
}
