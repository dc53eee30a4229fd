//! The access log: one line per WebSocket connection when it ends, at
//! info level: its peer, path, subprotocol, duration, messages and bytes
//! each way, and close code. With `--log-format json`, the whole log is
//! JSON (set up in `main.rs`), this line included.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use sockeye::CloseCode;

/// How the log is written (`--log-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Lines for people; the access line's duration as `1.234s`.
    #[default]
    Text,
    /// A JSON object per line; the access line's duration as
    /// `duration_secs`, a number.
    Json,
}

/// The format of this process's access lines, set once from the flags.
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Sets the format of the access lines, before the first connection.
pub(super) fn set_log_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// Messages and their payload bytes, one way.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Count {
    messages: u64,
    bytes: u64,
}

impl Count {
    /// `messages` messages of `bytes` payload bytes in all.
    pub(super) fn new(messages: u64, bytes: u64) -> Self {
        Count { messages, bytes }
    }

    /// Counts a message of `len` payload bytes.
    pub(super) fn add(&mut self, len: usize) {
        self.messages += 1;
        self.bytes += len as u64;
    }
}

/// One connection's record, from its opening to its end: 96 bytes, and
/// its path's. Boxed in the connection's task, which it would otherwise
/// grow past 512 bytes; made only when its line would be written, so a
/// log filter that leaves it out (`RUST_LOG=info,sockeye::serve::access=warn`)
/// saves that memory on each idle connection.
#[derive(Debug)]
pub(super) struct Access {
    peer: SocketAddr,
    /// `None` over HTTP/2, whose streams do not tell.
    path: Option<Box<str>>,
    opened: Instant,
    /// From the peer.
    pub(super) received: Count,
    /// To the peer.
    pub(super) sent: Count,
}

impl Access {
    /// A record for a connection just opened, unless access lines would
    /// not be written (info level off for them).
    pub(super) fn start(peer: SocketAddr, path: Option<&str>) -> Option<Box<Access>> {
        if !tracing::enabled!(tracing::Level::INFO) {
            return None;
        }
        Some(Box::new(Access {
            peer,
            path: path.map(Box::from),
            opened: Instant::now(),
            received: Count::default(),
            sent: Count::default(),
        }))
    }

    /// Writes the access line of a connection with the subprotocol
    /// `protocol` that ended with `code` (the peer's close code; none if it
    /// failed or vanished) or `error`.
    pub(super) fn write(
        &self,
        id: u64,
        protocol: Option<&str>,
        code: Option<CloseCode>,
        error: Option<&str>,
    ) {
        let duration = self.opened.elapsed().as_secs_f64();
        let path = self.path.as_deref().unwrap_or("");
        let code = code.map(u16::from);
        match format() {
            LogFormat::Text => tracing::info!(
                id,
                peer = %self.peer,
                path = %path,
                protocol = %protocol.unwrap_or(""),
                duration = format_args!("{duration:.3}s"),
                messages_in = self.received.messages,
                bytes_in = self.received.bytes,
                messages_out = self.sent.messages,
                bytes_out = self.sent.bytes,
                close_code = code,
                error,
                "access"
            ),
            LogFormat::Json => tracing::info!(
                event = "access",
                id,
                peer = %self.peer,
                path = self.path.as_deref(),
                protocol,
                duration_secs = duration,
                messages_in = self.received.messages,
                bytes_in = self.received.bytes,
                messages_out = self.sent.messages,
                bytes_out = self.sent.bytes,
                close_code = code,
                error,
                "access"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_takes_96_bytes() {
        assert!(std::mem::size_of::<Access>() <= 96);
    }
}
