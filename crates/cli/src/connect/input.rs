//! What `sockeye connect` sends: stdin cut into messages (lines, NUL
//! records, chunks, all of it, or JSON commands), or the `--execute`
//! messages.

use sockeye::Message;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};
use tokio::sync::mpsc;

pub(super) use super::outgoing::Outgoing;
use super::{Args, jsonl};

/// What is to be sent, read ahead of the connection: each connection's
/// sender takes the inbox for its lifetime, so that it outlives one
/// connection when reconnecting.
pub(super) type Queue = std::sync::Arc<tokio::sync::Mutex<Inbox>>;

/// The queue's receiving end, with the item being sent kept until it is
/// sent: a connection lost (or a sender stopped) in the middle of a send
/// leaves the item for the next connection, so nothing read is lost
/// between connections. An item whose send completed just as its sender
/// was stopped may go out twice.
#[derive(Debug)]
pub(super) struct Inbox {
    items: mpsc::Receiver<Outgoing>,
    sending: Option<Outgoing>,
}

impl Inbox {
    /// The item to send next (the one whose send did not finish, if any),
    /// kept until [`sent`](Self::sent); `None` once the input is done.
    pub(super) async fn next(&mut self) -> Option<Outgoing> {
        if self.sending.is_none() {
            self.sending = Some(self.items.recv().await?);
        }
        self.sending.clone()
    }

    /// The item [`next`](Self::next) gave was sent.
    pub(super) fn sent(&mut self) {
        self.sending = None;
    }
}

/// Starts reading the input the options name into a queue of `capacity`
/// messages (then reading waits).
pub(super) fn start(args: &Args, capacity: usize) -> Queue {
    let (tx, rx) = mpsc::channel(capacity);
    let source = Source::from_args(args);
    tokio::spawn(async move {
        let result = source.feed(tx.clone()).await;
        let _ = tx.send(Outgoing::End(result)).await;
    });
    std::sync::Arc::new(tokio::sync::Mutex::new(Inbox {
        items: rx,
        sending: None,
    }))
}

/// How stdin is cut into messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Framing {
    /// One message per line, without its `\n` (and, for text, `\r\n`).
    Lines,
    /// One message per NUL-terminated record.
    Nul,
    /// One message per read, of at most this many bytes.
    Chunks(usize),
    /// All of stdin as one message.
    Whole,
    /// One JSON command per line.
    Jsonl,
}

/// Where the messages come from.
#[derive(Debug)]
enum Source {
    /// These messages, then nothing.
    Execute(Vec<Message>),
    /// Stdin.
    Stdin {
        framing: Framing,
        /// Records are binary messages; otherwise text (UTF-8 checked).
        binary: bool,
        /// The largest message stdin may make.
        limit: usize,
    },
}

impl Source {
    /// The source the options ask for.
    fn from_args(args: &Args) -> Source {
        if !args.execute.is_empty() {
            return Source::Execute(
                args.execute
                    .iter()
                    .map(|m| {
                        if args.binary {
                            Message::binary(m.clone().into_bytes())
                        } else {
                            Message::text(m.clone())
                        }
                    })
                    .collect(),
            );
        }
        let limit = args.client.max_message_size;
        // With --jsonrpc, stdin lines are the messages even with --jsonl.
        let framing = if args.jsonl && !args.jsonrpc {
            Framing::Jsonl
        } else if args.one_message {
            Framing::Whole
        } else if args.nul {
            Framing::Nul
        } else if args.binary && !args.lines {
            Framing::Chunks((args.chunk_size as usize).min(limit.max(1)))
        } else {
            Framing::Lines
        };
        Source::Stdin {
            framing,
            binary: args.binary,
            limit,
        }
    }

    /// Sends each message on `to`, in order, until the input ends (`Ok`)
    /// or is unusable (`Err` with why). Stops early, with `Ok`, when the
    /// receiver is gone.
    async fn feed(self, to: mpsc::Sender<Outgoing>) -> Result<(), String> {
        match self {
            Source::Execute(messages) => {
                for message in messages {
                    if to.send(Outgoing::Message(message)).await.is_err() {
                        break;
                    }
                }
                Ok(())
            }
            Source::Stdin {
                framing,
                binary,
                limit,
            } => {
                let stdin = tokio::io::BufReader::new(tokio::io::stdin());
                read_messages(stdin, framing, binary, limit, to).await
            }
        }
    }
}

/// Reads `input` to its end, sending each message on `to`.
async fn read_messages(
    mut input: impl AsyncBufRead + Unpin,
    framing: Framing,
    binary: bool,
    limit: usize,
    to: mpsc::Sender<Outgoing>,
) -> Result<(), String> {
    let mut number = 0u64;
    loop {
        number += 1;
        let record = match framing {
            Framing::Lines | Framing::Jsonl => read_record(&mut input, b'\n', limit).await,
            Framing::Nul => read_record(&mut input, 0, limit).await,
            Framing::Chunks(size) => read_chunk(&mut input, size).await,
            Framing::Whole => read_whole(&mut input, limit).await,
        };
        let mut record = match record {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(()),
            Err(e) => return Err(format!("stdin, message {number}: {e}")),
        };
        if framing == Framing::Lines && !binary && record.last() == Some(&b'\r') {
            record.pop();
        }
        let outgoing = if framing == Framing::Jsonl {
            if record.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            jsonl::parse_command(&record).map_err(|e| format!("stdin, line {number}: {e}"))?
        } else if binary {
            Outgoing::Message(Message::binary(record))
        } else {
            let text = String::from_utf8(record).map_err(|_| {
                format!("stdin, message {number}: not UTF-8 text (send bytes with --binary)")
            })?;
            Outgoing::Message(Message::text(text))
        };
        let last = framing == Framing::Whole;
        if to.send(outgoing).await.is_err() || last {
            return Ok(());
        }
    }
}

/// The next record ending with `end` (which is dropped), or what is left
/// before EOF; `None` at EOF. A record over `limit` bytes is an error.
async fn read_record(
    input: &mut (impl AsyncBufRead + Unpin),
    end: u8,
    limit: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut record = Vec::new();
    loop {
        let buffer = input.fill_buf().await?;
        if buffer.is_empty() {
            return Ok((!record.is_empty()).then_some(record));
        }
        let (taken, done) = match memchr(end, buffer) {
            Some(at) => (at, true),
            None => (buffer.len(), false),
        };
        if record.len() + taken > limit {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("longer than --max-message-size ({limit} bytes)"),
            ));
        }
        record.extend_from_slice(&buffer[..taken]);
        input.consume(taken + usize::from(done));
        if done {
            return Ok(Some(record));
        }
    }
}

/// What one read gives, up to `size` bytes; `None` at EOF.
async fn read_chunk(
    input: &mut (impl AsyncBufRead + Unpin),
    size: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut chunk = vec![0; size];
    let n = input.read(&mut chunk).await?;
    chunk.truncate(n);
    Ok((n > 0).then_some(chunk))
}

/// All that is left, up to `limit` bytes (more is an error); `None` only
/// if a previous call took it all.
async fn read_whole(
    input: &mut (impl AsyncBufRead + Unpin),
    limit: usize,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut all = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    input.take(cap).read_to_end(&mut all).await?;
    if all.len() > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("longer than --max-message-size ({limit} bytes)"),
        ));
    }
    Ok(Some(all))
}

/// Where `byte` first occurs in `haystack`.
fn memchr(byte: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn cut(
        input: &[u8],
        framing: Framing,
        binary: bool,
        limit: usize,
    ) -> (Vec<Outgoing>, Result<(), String>) {
        let (tx, mut rx) = mpsc::channel(1024);
        let result = read_messages(input, framing, binary, limit, tx).await;
        let mut sent = Vec::new();
        while let Ok(item) = rx.try_recv() {
            sent.push(item);
        }
        (sent, result)
    }

    fn payloads(sent: &[Outgoing]) -> Vec<Vec<u8>> {
        sent.iter()
            .map(|o| match o {
                Outgoing::Message(m) => m.payload().to_vec(),
                other => panic!("not a message: {other:?}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn nul_records_keep_their_newlines() {
        let (sent, result) = cut(b"a\nb\0c\0d", Framing::Nul, false, 100).await;
        result.unwrap();
        assert_eq!(payloads(&sent), [&b"a\nb"[..], b"c", b"d"]);
    }

    #[tokio::test]
    async fn a_record_over_the_limit_is_an_error() {
        let (sent, result) = cut(b"ok\ntoo long\n", Framing::Lines, false, 4).await;
        assert_eq!(payloads(&sent), [b"ok"]);
        assert!(result.unwrap_err().contains("--max-message-size"));
        let (_, result) = cut(b"12345", Framing::Whole, true, 4).await;
        assert!(result.unwrap_err().contains("--max-message-size"));
    }

    #[tokio::test]
    async fn text_that_is_not_utf8_is_an_error_but_binary_lines_pass() {
        let (_, result) = cut(b"\xff\n", Framing::Lines, false, 100).await;
        assert!(result.unwrap_err().contains("UTF-8"));
        let (sent, result) = cut(b"\xff\r\n", Framing::Lines, true, 100).await;
        result.unwrap();
        assert_eq!(payloads(&sent), [b"\xff\r"]);
    }

    #[tokio::test]
    async fn whole_input_is_one_message_even_when_empty() {
        let (sent, result) = cut(b"a\nb\n", Framing::Whole, false, 100).await;
        result.unwrap();
        assert_eq!(payloads(&sent), [b"a\nb\n"]);
        let (sent, result) = cut(b"", Framing::Whole, false, 100).await;
        result.unwrap();
        assert_eq!(payloads(&sent), [b""]);
    }
}
