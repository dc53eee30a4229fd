//! `sockeye serve --exec COMMAND` and `--dir DIR`: a program per
//! connection, as websocketd runs them.
//!
//! Each connection starts its program once the handshake is done: the
//! peer's messages become lines on its stdin, the lines of its stdout
//! become messages, its stderr goes to the log, and its environment tells
//! it about the request. The request is read in the handshake's callback,
//! which also turns away a path with no program under `--dir` (404) and a
//! connection beyond `--max-forks` (503), before any process starts.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`ExecSpec`] (the flags) and the [`handshake`] that captures the request |
//! | `program.rs` | the program of `--exec`, found at start, or of a path under `--dir` |
//! | `environment.rs` | the CGI-style environment |
//! | `forks.rs` | `--max-forks` |
//! | `session.rs` | a program's life: start, the end of either side, signals, the Close |
//! | `pumps.rs` | stdin, stdout and stderr, each with bounded memory |
//!
//! Programs run on Unix only: they are signalled by process group.

mod environment;
mod forks;
mod program;
mod pumps;
mod session;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use sockeye::{Accept, ServerBuilder, UpgradeRequest, WebSocket};
use tokio_util::sync::CancellationToken;

pub(super) use self::forks::DEFAULT_MAX_FORKS;
use self::forks::{ForkSlot, set_max_forks};
use self::program::{Program, ScriptDir};
pub(super) use self::session::run;
use super::Args;
use super::transport::Transport;
use crate::describe;

/// What runs for each connection, and how.
#[derive(Debug)]
pub(super) struct ExecSpec {
    programs: Programs,
    options: Arc<ExecOptions>,
}

/// Where a connection's program comes from.
#[derive(Debug)]
enum Programs {
    /// `--exec`: the same for every path.
    Command(Program),
    /// `--dir`: the one the path names.
    Dir(ScriptDir),
}

/// The settings every program of a server shares.
#[derive(Debug)]
pub(super) struct ExecOptions {
    /// `--exec-binary`: raw chunks both ways instead of lines.
    pub(super) binary: bool,
    /// `PATH` and the variables of `--passenv`, read at start.
    pub(super) passed_env: Vec<(OsString, OsString)>,
    /// `--exec-grace`: from EOF to SIGTERM, and from SIGTERM to SIGKILL.
    pub(super) grace: Duration,
    /// `--close-timeout`: how long the peer may take to answer a Close.
    pub(super) close_timeout: Duration,
    /// `--max-message-size`, which also bounds a message made of a line.
    pub(super) max_message_size: usize,
    /// `--protocol`: the subprotocols agreed to.
    pub(super) protocols: Vec<String>,
    /// Served over TLS (`HTTPS=on`).
    pub(super) tls: bool,
}

impl ExecOptions {
    /// The options of the flags.
    pub(super) fn from_args(args: &Args) -> Self {
        ExecOptions {
            binary: args.exec_binary,
            passed_env: environment::passed_on(&args.passenv),
            grace: args.exec_grace,
            close_timeout: args.close_timeout,
            max_message_size: args.max_message_size,
            protocols: args.protocols.clone(),
            tls: args.tls_cert.is_some() || args.tls_self_signed,
        }
    }
}

impl ExecSpec {
    /// The `--exec` or `--dir` of the flags, with `--max-forks` put in
    /// force; `None` without either. The error is the sentence to print.
    pub(super) fn from_args(args: &Args) -> Result<Option<Self>, String> {
        let options = ExecOptions::from_args(args);
        let spec = match (&args.exec, &args.dir) {
            (Some(command), _) => Self::parse(command, options)?,
            (None, Some(dir)) => ExecSpec {
                programs: Programs::Dir(ScriptDir::open(dir)?),
                options: Arc::new(options),
            },
            (None, None) => return Ok(None),
        };
        set_max_forks(args.max_forks);
        Ok(Some(spec))
    }

    /// The program of a command line (`cat`, `./chat.sh --room 1`), split
    /// into words as a shell does and looked up on `PATH` now.
    pub(super) fn parse(command: &str, options: ExecOptions) -> Result<Self, String> {
        Ok(ExecSpec {
            programs: Programs::Command(Program::parse(command)?),
            options: Arc::new(options),
        })
    }

    /// What the handshake's callback decides for `request`: the answer
    /// (with the subprotocol of `--protocol` the client prefers) and the
    /// program to start once open; or the refusal to send, 404 when no
    /// program answers to the path under `--dir`, 503 beyond
    /// `--max-forks`.
    ///
    /// # Errors
    ///
    /// The refusal, as an HTTP response.
    pub(super) async fn prepare(
        &self,
        request: &UpgradeRequest,
        addresses: Option<(SocketAddr, SocketAddr)>,
        id: u64,
    ) -> Result<(Accept, Launch), Response<Bytes>> {
        let path = request.path();
        let (program, script_name, path_info) = match &self.programs {
            Programs::Command(program) => (program.clone(), "/".to_owned(), path.to_owned()),
            Programs::Dir(dir) => {
                let found = dir
                    .find(path)
                    .await
                    .ok_or_else(|| refusal(StatusCode::NOT_FOUND, "no program at this path"))?;
                (found.program, found.script_name, found.path_info)
            }
        };
        let fork = ForkSlot::take().ok_or_else(|| {
            tracing::debug!(id, "--max-forks programs run already: refused");
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many programs running, try again later",
            )
        })?;
        let protocol = request.select_protocol(&self.options.protocols);
        let env = environment::cgi(
            request,
            &self.options.passed_env,
            &environment::Connection {
                addresses,
                tls: self.options.tls,
                id,
                script_name: &script_name,
                path_info: &path_info,
                protocol,
            },
        );
        let accept = match protocol {
            Some(protocol) => Accept::new().protocol(protocol),
            None => Accept::new(),
        };
        Ok((
            accept,
            Launch {
                program,
                env,
                fork,
                options: Arc::clone(&self.options),
            },
        ))
    }
}

/// A program ready to start for a connection being accepted.
#[derive(Debug)]
pub(super) struct Launch {
    program: Program,
    env: Vec<(OsString, OsString)>,
    /// Its place under `--max-forks`, held until it is reaped.
    fork: ForkSlot,
    options: Arc<ExecOptions>,
}

/// A refusal with a short plain-text body.
fn refusal(status: StatusCode, text: &str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(format!("{text}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("5"),
        );
    }
    response
}

/// The `--exec` or `--dir` of this process's server, once set.
static INSTALLED: OnceLock<ExecSpec> = OnceLock::new();

/// Makes `spec` the mode of every connection, before the first.
pub(super) fn install(spec: ExecSpec) {
    let _ = INSTALLED.set(spec);
}

/// The program mode in force, if `--exec` or `--dir` was given.
pub(super) fn installed() -> Option<&'static ExecSpec> {
    INSTALLED.get()
}

/// The opening handshake of a connection in program mode, over HTTP/1.1:
/// the callback captures the request and decides (see
/// [`ExecSpec::prepare`]). Gives the open connection and its program, to
/// be run by [`run`] in a task of their own (which then keeps nothing of
/// the handshake); `None`, after logging why, for a plain HTTP request
/// (answered by the server), a refusal, a failure or a shutdown.
pub(super) async fn handshake<S: Transport>(
    server: &ServerBuilder,
    stream: S,
    id: u64,
    closing: &CancellationToken,
    spec: &ExecSpec,
) -> Option<(WebSocket<S>, Launch)> {
    let addresses = stream.addresses();
    let mut launch = None;
    let accepting = server.accept_with(stream, |request| {
        let launch = &mut launch;
        async move {
            let (accept, prepared) = spec.prepare(&request, addresses, id).await?;
            *launch = Some(prepared);
            Ok(accept)
        }
    });
    // A shutdown does not wait for handshakes.
    let accepted = tokio::select! {
        accepted = accepting => accepted,
        () = closing.cancelled() => {
            tracing::debug!(id, "handshake cut short by the shutdown");
            return None;
        }
    };
    match accepted {
        // The callback accepted, so it set the launch.
        Ok(ws) => launch.map(|launch| (ws, launch)),
        Err(sockeye::Error::Handshake(failure))
            if matches!(*failure, sockeye::HandshakeFailure::PlainHttp(_)) =>
        {
            tracing::debug!(id, answer = %failure, "plain http request");
            None
        }
        Err(e) => {
            tracing::debug!(id, error = %describe(&e), "handshake failed");
            None
        }
    }
}
