//! Which mode serves a connection, chosen by its request path:
//! `--route PATH=MODE` (repeatable), `--echo`, `--broadcast`, `--exec`
//! and `--dir`.
//!
//! A route's path matches itself and everything below it, segment by
//! segment: `/chat` matches `/chat`, `/chat/` and `/chat/room`, not
//! `/chatroom`; `/` matches every path. Of the routes that match, the one
//! with the longest path wins. A request no route matches is answered
//! 404 Not Found before the handshake. The query string plays no part,
//! and paths are compared as sent, percent-encoding and all.
//!
//! Without `--route`, every path gets `--echo` (the default),
//! `--broadcast`, `--exec` or `--dir`. With routes, that flag also serves
//! the paths no route matches, as `--route /=echo` would.
//!
//! Here too: [`Site`], how a WebSocket request is answered (origin under
//! `--same-origin`, route, subprotocol, `--header`), and
//! [`Opened::run`], where the chosen mode becomes the connection's task.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use sockeye::WebSocket;
use tokio_util::sync::CancellationToken;

use super::access::Access;
use super::broadcast::{Hub, Said, fan_out};
use super::console::{ExtraHeader, add_headers};
use super::echo::{Echo, echo};
use super::exec::{self, ExecOptions, ExecSpec, Launch};
use super::transport::Transport;
use crate::limits::ConnectionSlot;
use crate::origin::{origin_refused, same_origin};

/// A connection's mode as the command line names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ModeSpec {
    /// `echo`: each message goes back to its sender.
    Echo,
    /// `broadcast`: each message goes to every other connection of the
    /// same route.
    Broadcast,
    /// `exec:COMMAND` (or `--exec COMMAND`): a program per connection.
    Exec(String),
    /// `--dir DIR`: a program per connection, the one the path names.
    Dir(PathBuf),
}

impl ModeSpec {
    /// The flag that makes this the mode of the paths no route matches.
    fn flag(&self) -> &'static str {
        match self {
            ModeSpec::Echo => "--echo",
            ModeSpec::Broadcast => "--broadcast",
            ModeSpec::Exec(_) => "--exec",
            ModeSpec::Dir(_) => "--dir",
        }
    }
}

impl fmt::Display for ModeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModeSpec::Echo => f.write_str("echo"),
            ModeSpec::Broadcast => f.write_str("broadcast"),
            ModeSpec::Exec(command) => write!(f, "exec:{command}"),
            ModeSpec::Dir(dir) => write!(f, "dir:{}", dir.display()),
        }
    }
}

/// One `--route PATH=MODE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RouteSpec {
    /// Starts with `/`; no trailing `/` but for the root.
    path: String,
    mode: ModeSpec,
}

/// Parses `PATH=MODE`, MODE being `echo`, `broadcast` or `exec:COMMAND`.
pub(super) fn parse_route(text: &str) -> Result<RouteSpec, String> {
    let Some((path, mode)) = text.split_once('=') else {
        return Err(format!(
            "expected PATH=MODE (such as /chat=broadcast), got {text:?}"
        ));
    };
    if !path.starts_with('/') {
        return Err(format!("the path must start with '/': {path:?}"));
    }
    if path.contains(['?', '#']) || path.chars().any(char::is_whitespace) {
        return Err(format!(
            "the path must be a plain path, without query, fragment or spaces: {path:?}"
        ));
    }
    let mode = match mode {
        "echo" => ModeSpec::Echo,
        "broadcast" => ModeSpec::Broadcast,
        _ => match mode.strip_prefix("exec:") {
            Some(command) if !command.trim().is_empty() => ModeSpec::Exec(command.to_owned()),
            Some(_) => return Err("exec: needs a command, as exec:./script.sh".to_owned()),
            None => {
                return Err(format!(
                    "unknown mode {mode:?}: expected echo, broadcast or exec:COMMAND"
                ));
            }
        },
    };
    Ok(RouteSpec {
        path: normalise(path).to_owned(),
        mode,
    })
}

/// A path without its trailing slashes, `/` staying `/`.
fn normalise(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

/// A mode ready to serve connections.
#[derive(Clone, Debug)]
pub(super) enum Mode {
    /// Each message back to its sender.
    Echo,
    /// Each message to every other connection of this route: the route's
    /// own room.
    Broadcast(Hub),
    /// A program per connection: the route's command, or the one its
    /// path names under `--dir`.
    Exec(Arc<ExecSpec>),
}

impl Mode {
    /// The mode `spec` names; a program is looked up now, a directory
    /// opened now. The error is the line to print.
    fn new(spec: &ModeSpec, exec: &Arc<ExecOptions>) -> Result<Mode, String> {
        match spec {
            ModeSpec::Echo => Ok(Mode::Echo),
            ModeSpec::Broadcast => Ok(Mode::Broadcast(Hub::new())),
            ModeSpec::Exec(command) => Ok(Mode::Exec(Arc::new(ExecSpec::command(command, exec)?))),
            ModeSpec::Dir(dir) => Ok(Mode::Exec(Arc::new(ExecSpec::dir(dir, exec)?))),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Mode::Echo => "echo",
            Mode::Broadcast(_) => "broadcast",
            Mode::Exec(_) => "exec",
        }
    }
}

/// A connection's mode, chosen at its handshake.
#[derive(Debug)]
pub(super) enum Opened {
    /// Echo its messages.
    Echo,
    /// Broadcast in this room, reading the others' messages from the
    /// receiver.
    Broadcast(Hub, tokio::sync::broadcast::Receiver<Said>),
    /// Start this program, holding its place under `--max-forks`.
    Exec(Launch),
}

impl Opened {
    /// The task of the open connection `ws` in this mode: the one place
    /// a mode becomes its task, whichever way the connection came in
    /// (HTTP/1.1, HTTP/2, hyper with --static).
    pub(super) fn run<S: Transport>(
        self,
        ws: WebSocket<S>,
        id: u64,
        slot: Option<ConnectionSlot>,
        closing: CancellationToken,
        access: Option<Box<Access>>,
    ) -> ModeTask<S> {
        match self {
            Opened::Echo => ModeTask::Echo {
                echo: echo(ws, id, slot, closing, access),
            },
            Opened::Broadcast(hub, inbox) => ModeTask::Boxed {
                task: Box::pin(fan_out(ws, id, slot, closing, hub, inbox, access)),
            },
            Opened::Exec(launch) => ModeTask::Boxed {
                task: Box::pin(exec::run(ws, launch, id, slot, closing, access)),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// An open connection's task. Echo, the mode of most connections, is
    /// kept inline, so that an idle echo connection's task stays as small
    /// as its `Echo` future; the others are boxed.
    #[project = ModeTaskProjection]
    pub(super) enum ModeTask<S> {
        /// `echo`.
        Echo {
            #[pin]
            echo: Echo<S>,
        },
        /// `broadcast` and `exec`.
        Boxed {
            task: Pin<Box<dyn Future<Output = ()> + Send>>,
        },
    }
}

impl<S: Transport> Future for ModeTask<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.project() {
            ModeTaskProjection::Echo { echo } => echo.poll(cx),
            ModeTaskProjection::Boxed { task } => task.as_mut().poll(cx),
        }
    }
}

/// The routes of the server, longest path first.
#[derive(Debug)]
pub(super) struct Routes {
    table: Vec<(String, Mode)>,
}

impl Routes {
    /// The routes the flags describe: `routes` in any order, and the mode
    /// for the paths none of them matches (`--echo`, `--broadcast`,
    /// `--exec`, `--dir`; echo when there are no routes), the programs of
    /// exec modes run with `exec`. The error is the line to print.
    pub(super) fn new(
        routes: &[RouteSpec],
        fallback: Option<&ModeSpec>,
        exec: &Arc<ExecOptions>,
    ) -> Result<Self, String> {
        let mut table = Vec::with_capacity(routes.len() + 1);
        for route in routes {
            if table.iter().any(|(path, _)| *path == route.path) {
                return Err(format!("two routes for the path {}", route.path));
            }
            table.push((route.path.clone(), Mode::new(&route.mode, exec)?));
        }
        let fallback = match fallback {
            Some(mode) => Some(mode),
            None if routes.is_empty() => Some(&ModeSpec::Echo),
            None => None,
        };
        if let Some(mode) = fallback {
            if table.iter().any(|(path, _)| path == "/") {
                return Err(format!(
                    "{} serves the paths no route matches, but a route for / already does",
                    mode.flag()
                ));
            }
            table.push(("/".to_owned(), Mode::new(mode, exec)?));
        }
        table.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
        Ok(Routes { table })
    }

    /// The mode for a request to `path`, if a route matches it.
    pub(super) fn choose(&self, path: &str) -> Option<&Mode> {
        self.table
            .iter()
            .find(|(route, _)| matches(route, path))
            .map(|(_, mode)| mode)
    }

    /// The mode every path gets, when one route for `/` is all there is.
    pub(super) fn single(&self) -> Option<&Mode> {
        match self.table.as_slice() {
            [(path, mode)] if path == "/" => Some(mode),
            _ => None,
        }
    }

    /// What the server does, for the line that says it listens: `echo
    /// on every path`, `3 routes` (logged each by [`announce`](Self::announce)).
    pub(super) fn describe(&self) -> String {
        match self.single() {
            Some(Mode::Echo) => "echo on every path".to_owned(),
            Some(Mode::Broadcast(_)) => "broadcast on every path".to_owned(),
            Some(Mode::Exec(spec)) => spec.describe(),
            None if self.table.len() == 1 => "1 route".to_owned(),
            None => format!("{} routes", self.table.len()),
        }
    }

    /// Logs the routes, at info level, when there are several.
    pub(super) fn announce(&self) {
        if self.single().is_some() {
            return;
        }
        for (path, mode) in &self.table {
            if let Mode::Exec(spec) = mode {
                let program = spec.describe();
                tracing::info!(%path, mode = mode.name(), %program, "route");
            } else {
                tracing::info!(%path, mode = mode.name(), "route");
            }
        }
    }
}

/// Whether the route `route` (normalised) matches the request path `path`.
fn matches(route: &str, path: &str) -> bool {
    if route == "/" {
        return true;
    }
    match path.strip_prefix(route) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// How the server answers a WebSocket request beyond the library's
/// checks: its origin (`--same-origin`), its route, the subprotocol
/// agreed, the extra headers.
#[derive(Debug)]
pub(super) struct Site {
    pub(super) routes: Routes,
    /// `--protocol`: agreed to when offered, the client's first choice.
    pub(super) protocols: Vec<String>,
    /// `--header`: on the 101 and on refusals.
    pub(super) headers: Vec<ExtraHeader>,
    /// `--same-origin`: a browser's `Origin` must name the host the
    /// request was sent to.
    pub(super) same_origin: bool,
}

impl Site {
    /// Accepts a request whose path a route matches, with the mode it
    /// opens in; 403 for another site's page under `--same-origin`, 404
    /// for a path no route matches, and in exec mode 404 for a path with
    /// no program under `--dir`, 503 beyond `--max-forks`. `addresses`
    /// (the peer's and ours, when known) and `id` go to a program's
    /// environment.
    ///
    /// Called before the answer to the handshake leaves: a broadcast
    /// connection then hears everything said once it is open.
    pub(super) async fn accept(
        &self,
        request: &sockeye::UpgradeRequest,
        addresses: Option<(SocketAddr, SocketAddr)>,
        id: u64,
    ) -> Result<(sockeye::Accept, Opened), http::Response<bytes::Bytes>> {
        let refusal = (self.same_origin && !same_origin(request)).then(origin_refused);
        let chosen = self.routes.choose(request.path());
        let (Some(mode), None) = (chosen, &refusal) else {
            let mut refusal = refusal.unwrap_or_else(|| not_found(request.path()));
            add_headers(&mut refusal, &self.headers);
            return Err(refusal);
        };
        let protocol = || match request.select_protocol(&self.protocols) {
            Some(protocol) => sockeye::Accept::new().protocol(protocol),
            None => sockeye::Accept::new(),
        };
        let (mut accept, opened) = match mode {
            Mode::Echo => (protocol(), Opened::Echo),
            Mode::Broadcast(hub) => (
                protocol(),
                Opened::Broadcast(hub.clone(), hub.sender.subscribe()),
            ),
            Mode::Exec(spec) => match spec.prepare(request, addresses, id).await {
                Ok((accept, launch)) => (accept, Opened::Exec(launch)),
                Err(mut refusal) => {
                    add_headers(&mut refusal, &self.headers);
                    return Err(refusal);
                }
            },
        };
        for (name, value) in &self.headers {
            accept = accept.header(name.clone(), value.clone());
        }
        Ok((accept, opened))
    }
}

/// A refusal with a line of text.
fn refuse(status: http::StatusCode, text: String) -> http::Response<bytes::Bytes> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(bytes::Bytes::from(text))
        .unwrap_or_default()
}

/// The answer to a WebSocket request no route matches.
fn not_found(path: &str) -> http::Response<bytes::Bytes> {
    refuse(
        http::StatusCode::NOT_FOUND,
        format!("no route for {path}\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As the echo future alone (see echo.rs): an idle echo connection's
    /// task, wrapped to allow other modes, still fits in 512 bytes.
    #[tokio::test]
    async fn an_idle_echo_connection_task_fits_in_512_bytes() {
        let (ws, slot, _listener) = crate::serve::echo::tests::idle_connection().await;
        let task = tokio_util::task::TaskTracker::new().track_future(Opened::Echo.run(
            ws,
            0,
            Some(slot),
            CancellationToken::new(),
            None,
        ));
        let size = std::mem::size_of_val(&task);
        assert!(size <= 400, "the echo connection's task is {size} bytes");
    }

    fn routes(specs: &[&str], fallback: Option<&ModeSpec>) -> Routes {
        let specs: Vec<RouteSpec> = specs.iter().map(|s| parse_route(s).unwrap()).collect();
        Routes::new(&specs, fallback, &exec_options()).unwrap()
    }

    fn exec_options() -> Arc<ExecOptions> {
        Arc::new(ExecOptions {
            binary: false,
            passed_env: Vec::new(),
            grace: std::time::Duration::from_secs(1),
            close_timeout: std::time::Duration::from_secs(1),
            max_message_size: 1 << 20,
            protocols: Vec::new(),
            tls: false,
        })
    }

    fn chosen(routes: &Routes, path: &str) -> Option<&'static str> {
        routes.choose(path).map(Mode::name)
    }

    #[test]
    fn the_longest_matching_route_wins_segment_by_segment() {
        let table = routes(&["/=echo", "/chat=broadcast", "/chat/quiet/=echo"], None);
        assert_eq!(chosen(&table, "/chat"), Some("broadcast"));
        assert_eq!(chosen(&table, "/chat/"), Some("broadcast"));
        assert_eq!(chosen(&table, "/chat/room"), Some("broadcast"));
        assert_eq!(chosen(&table, "/chat/quiet"), Some("echo"));
        assert_eq!(chosen(&table, "/chat/quiet/x"), Some("echo"));
        assert_eq!(chosen(&table, "/chatroom"), Some("echo"));
        assert_eq!(chosen(&table, "/"), Some("echo"));
    }

    #[test]
    fn without_a_route_for_the_root_other_paths_match_nothing() {
        let table = routes(&["/chat=broadcast"], None);
        assert_eq!(chosen(&table, "/chat/a"), Some("broadcast"));
        assert_eq!(chosen(&table, "/"), None);
        assert_eq!(chosen(&table, "/chatroom"), None);
        assert!(table.single().is_none());
    }

    #[test]
    fn the_mode_flag_serves_the_paths_no_route_matches() {
        let table = routes(&["/chat=broadcast"], Some(&ModeSpec::Echo));
        assert_eq!(chosen(&table, "/elsewhere"), Some("echo"));
        let table = routes(&[], Some(&ModeSpec::Broadcast));
        assert_eq!(table.single().map(Mode::name), Some("broadcast"));
        let table = routes(&[], None);
        assert_eq!(table.single().map(Mode::name), Some("echo"));
    }

    #[test]
    fn each_broadcast_route_is_its_own_room() {
        let table = routes(&["/a=broadcast", "/b=broadcast"], None);
        let (Some(Mode::Broadcast(a)), Some(Mode::Broadcast(b))) =
            (table.choose("/a"), table.choose("/b"))
        else {
            panic!("both are broadcast routes");
        };
        let mut heard_by_b = b.sender.subscribe();
        let _ = a.sender.send(Said::new(0, &sockeye::Message::text("x")));
        assert!(heard_by_b.try_recv().is_err());
    }

    #[test]
    fn malformed_routes_are_refused_with_a_reason() {
        for (text, reason) in [
            ("/chat", "PATH=MODE"),
            ("chat=echo", "start with '/'"),
            ("/a?b=echo", "plain path"),
            ("/a=shout", "unknown mode"),
            ("/a=exec:", "needs a command"),
        ] {
            let error = parse_route(text).unwrap_err();
            assert!(error.contains(reason), "{text}: {error}");
        }
        let twice = [
            parse_route("/a=echo").unwrap(),
            parse_route("/a/=broadcast").unwrap(),
        ];
        assert!(
            Routes::new(&twice, None, &exec_options())
                .unwrap_err()
                .contains("two routes")
        );
        let root = [parse_route("/=echo").unwrap()];
        assert!(
            Routes::new(&root, Some(&ModeSpec::Broadcast), &exec_options())
                .unwrap_err()
                .contains("already")
        );
    }

    #[test]
    fn exec_routes_take_their_command_and_refuse_a_missing_program() {
        let route = parse_route("/sh=exec:cat -n").unwrap();
        assert_eq!(route.mode, ModeSpec::Exec("cat -n".to_owned()));
        let table = routes(&["/sh=exec:cat -n", "/=echo"], None);
        assert_eq!(chosen(&table, "/sh/x"), Some("exec"));
        assert_eq!(chosen(&table, "/x"), Some("echo"));
        let missing = [parse_route("/sh=exec:./no-such-program-here").unwrap()];
        assert!(Routes::new(&missing, None, &exec_options()).is_err());
        let root = [parse_route("/=echo").unwrap()];
        let error = Routes::new(
            &root,
            Some(&ModeSpec::Exec("cat".to_owned())),
            &exec_options(),
        )
        .unwrap_err();
        assert!(error.starts_with("--exec serves"), "{error}");
    }
}
