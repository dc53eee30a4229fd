//! The exec mode of `sockeye serve` (`--exec COMMAND`, `--dir DIR`,
//! `--route PATH=exec:COMMAND`): a program per connection, as websocketd
//! runs them. Each is one more mode of `routes.rs`: `--exec` serves every
//! path no route matches, `--dir` the same with the program named by the
//! path; `--max-forks` counts the programs of all of them together.
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
//! | `mod.rs` | [`ExecSpec`] (a route's program or directory) and [`ExecSpec::prepare`], which reads the request |
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
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode};
use sockeye::{Accept, UpgradeRequest};

use self::forks::ForkSlot;
pub(super) use self::forks::{DEFAULT_MAX_FORKS, set_max_forks};
use self::program::{Program, ScriptDir};
pub(super) use self::session::run;
use super::Args;

/// What runs for each connection, and how.
#[derive(Debug)]
pub(in crate::serve) struct ExecSpec {
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
pub(in crate::serve) struct ExecOptions {
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
    pub(in crate::serve) fn from_args(args: &Args) -> Self {
        ExecOptions {
            binary: args.exec_binary,
            passed_env: environment::passed_on(&args.passenv),
            grace: args.exec_grace,
            close_timeout: args.timeouts.close_timeout,
            max_message_size: args.limits.max_message_size,
            protocols: args.protocols.clone(),
            tls: args.tls.is_set(),
        }
    }
}

impl ExecSpec {
    /// The program of a command line (`cat`, `./chat.sh --room 1`), split
    /// into words as a shell does and looked up on `PATH` now: `--exec`,
    /// or a route `exec:COMMAND`. The error is the sentence to print.
    pub(in crate::serve) fn command(
        command: &str,
        options: &Arc<ExecOptions>,
    ) -> Result<Self, String> {
        Ok(ExecSpec {
            programs: Programs::Command(Program::parse(command)?),
            options: Arc::clone(options),
        })
    }

    /// The programs of `--dir DIR`, each named by a request's path. The
    /// error is the sentence to print.
    pub(in crate::serve) fn dir(dir: &Path, options: &Arc<ExecOptions>) -> Result<Self, String> {
        Ok(ExecSpec {
            programs: Programs::Dir(ScriptDir::open(dir)?),
            options: Arc::clone(options),
        })
    }

    /// What runs, for the log: `the program /bin/cat, run for each
    /// connection`, or under `--dir` `the programs under /srv/cgi, each
    /// run for a connection to its path`.
    pub(in crate::serve) fn describe(&self) -> String {
        match &self.programs {
            Programs::Command(program) => format!(
                "the program {}, run for each connection",
                program.path.display()
            ),
            Programs::Dir(dir) => format!(
                "the programs under {}, each run for a connection to its path",
                dir.root().display()
            ),
        }
    }

    /// What the handshake's callback decides for `request`: the answer
    /// (with the subprotocol of `--protocol` the client prefers) and the
    /// program to start once open; or the refusal to send, 404 when no
    /// program answers to the path under `--dir`, 503 beyond
    /// `--max-forks`. `addresses` are the peer's and ours, when known.
    ///
    /// # Errors
    ///
    /// The refusal, as an HTTP response.
    pub(in crate::serve) async fn prepare(
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
pub(in crate::serve) struct Launch {
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
