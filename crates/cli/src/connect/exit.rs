//! How a `sockeye connect` session ended, the line it leaves on stderr and
//! its exit status (the table in `--help`).

use std::process::ExitCode;

use sockeye::{CloseCode, CloseFrame};

use crate::{EXIT_USAGE, describe};

/// Exit status when the peer closed cleanly with a code other than 1000,
/// 1001 or none.
const EXIT_CLOSED_WITH_ERROR: u8 = 3;

/// Exit status when the server answered the handshake with something
/// other than 101.
const EXIT_REFUSED: u8 = 4;

/// Exit status after Ctrl-C: 128 + SIGINT, as shells report it.
const EXIT_INTERRUPTED: u8 = 130;

/// How a session ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The closing handshake completed; the peer's Close frame, if any.
    Closed(Option<CloseFrame>),
    /// The connection could not be opened, or broke: why.
    Failed(String),
    /// TLS failed (an unverifiable certificate, no common protocol):
    /// trying again would fail the same way. Why.
    Untrusted(String),
    /// The server refused the handshake: why, with its status.
    Refused {
        /// The line to print.
        why: String,
        /// The HTTP status.
        status: u16,
    },
    /// The options or stdin were unusable: why.
    Usage(String),
    /// Ctrl-C ended the session.
    Interrupted,
}

impl Outcome {
    /// The outcome of a failed connection attempt to `url`.
    pub(crate) fn connect_failed(url: &str, error: &sockeye::Error) -> Outcome {
        let why = format!("cannot connect to {url}: {}", describe(error));
        if let Some(response) = error.rejection() {
            let status = response.status();
            let mut line = format!(
                "{why} (HTTP {} {})",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            );
            line.truncate(line.trim_end().len());
            return Outcome::Refused {
                why: line,
                status: status.as_u16(),
            };
        }
        match error {
            sockeye::Error::InvalidUrl(_)
            | sockeye::Error::InvalidHeader(_)
            | sockeye::Error::Usage(_) => Outcome::Usage(why),
            sockeye::Error::Proxy(proxy)
                if matches!(
                    **proxy,
                    sockeye::ProxyError::InvalidUrl(_) | sockeye::ProxyError::InvalidEnv { .. }
                ) =>
            {
                Outcome::Usage(why)
            }
            sockeye::Error::Tls(_) => Outcome::Untrusted(why),
            _ => Outcome::Failed(why),
        }
    }

    /// Whether connecting again may help (`--reconnect`): after a
    /// failure, a refusal with a 5xx status, or a close by the server;
    /// not after a usage error, a TLS failure, a 4xx refusal or Ctrl-C.
    pub(super) fn retryable(&self) -> bool {
        match self {
            Outcome::Closed(_) | Outcome::Failed(_) => true,
            Outcome::Refused { status, .. } => *status >= 500,
            Outcome::Untrusted(_) | Outcome::Usage(_) | Outcome::Interrupted => false,
        }
    }

    /// What happened, in a few words, for the reconnection line.
    pub(super) fn why(&self) -> String {
        match self {
            Outcome::Closed(Some(frame)) => format!("closed by the server with {}", frame.code),
            Outcome::Closed(None) => "closed by the server".to_owned(),
            Outcome::Failed(why)
            | Outcome::Untrusted(why)
            | Outcome::Refused { why, .. }
            | Outcome::Usage(why) => why.clone(),
            Outcome::Interrupted => "interrupted".to_owned(),
        }
    }

    /// Says on stderr what went wrong, if anything, and gives the status.
    pub(crate) fn report(self) -> ExitCode {
        match self {
            Outcome::Closed(frame) => {
                let (code, reason) = frame
                    .map_or((CloseCode::NO_STATUS_RECEIVED, String::new()), |f| {
                        (f.code, f.reason.to_string())
                    });
                if is_clean(code) {
                    ExitCode::SUCCESS
                } else {
                    if reason.is_empty() {
                        eprintln!("sockeye: closed by the server with {code}");
                    } else {
                        eprintln!("sockeye: closed by the server with {code} {reason:?}");
                    }
                    ExitCode::from(EXIT_CLOSED_WITH_ERROR)
                }
            }
            Outcome::Failed(why) | Outcome::Untrusted(why) => {
                eprintln!("sockeye: {why}");
                ExitCode::FAILURE
            }
            Outcome::Refused { why, .. } => {
                eprintln!("sockeye: {why}");
                ExitCode::from(EXIT_REFUSED)
            }
            Outcome::Usage(why) => {
                eprintln!("sockeye: {why}");
                ExitCode::from(EXIT_USAGE)
            }
            Outcome::Interrupted => ExitCode::from(EXIT_INTERRUPTED),
        }
    }
}

/// Whether a Close with `code` means all went well: 1000, 1001 or none.
pub(super) fn is_clean(code: CloseCode) -> bool {
    matches!(code.as_u16(), 1000 | 1001 | 1005)
}
