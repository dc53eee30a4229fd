//! `--static DIR`: each connection is served by hyper, which reads every
//! request on it. Plain HTTP requests get the files of DIR (tower-http's
//! `ServeDir`: content types, `index.html`, ranges, conditional
//! requests, nothing outside DIR), or the dev console at `/` when DIR has
//! no index; WebSocket requests go to their route, as without `--static`.
//!
//! Nothing outside DIR, symbolic links included: `ServeDir` refuses `..`
//! and its encoded forms but follows links, so a link in DIR to
//! `/etc/passwd` or to a directory elsewhere would serve what lies
//! outside. A GET or HEAD is therefore answered from DIR only if the file
//! it names, resolved as `ServeDir` resolves it (percent-decoded, the
//! `index.html` of a directory) and with every link followed, lies under
//! DIR canonicalised once at start ([`confined`]). Otherwise the answer is
//! the 404 of a missing file, so the layout outside is not revealed.
//! Links that stay inside DIR still work. The check and the open are two
//! steps: a link swapped in between by someone who can write to DIR is
//! not caught, and such a person can put any file in DIR anyway.
//!
//! HTTP/2 connections (RFC 8441) are served by hyper too with
//! `--static`, so that files come over them as well.
//!
//! The library's `http_fallback`, which answers the other connections'
//! plain requests, takes a whole body at once and closes the connection
//! after it: fine for the console page, not for files of any size, ranges
//! or a browser's keep-alive. Hence hyper, through `sockeye::hyper`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use sockeye::ServerBuilder;
use sockeye_io::Client;
use sockeye_io::engine::Engine;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;

use super::access::Access;
use super::console::{add_headers, answer_plain_http};
use super::handshake::Admitted;
use super::routes::Site;
use super::transport::Transport;
use crate::describe;
use crate::limits::{ConnectionSlot, HandshakeSlot};

/// The smallest read buffer hyper takes (it panics below it).
const HYPER_MIN_BUF: usize = 8 << 10;

/// What connections served by hyper answer plain requests with, shared
/// by every connection.
#[derive(Clone, Debug)]
pub(super) struct Files {
    /// `--static`; without it, the console or 404.
    dir: Option<ServeDir>,
    /// DIR with every link followed, what each file served must lie under.
    root: Option<Arc<std::path::Path>>,
    /// The dev console at `/` when DIR has no index (not with
    /// `--no-console`).
    console: bool,
    /// The largest request head and the most header fields, as for the
    /// WebSocket handshake (`--max-handshake-size`, `--max-headers`).
    max_head: usize,
    max_headers: usize,
    /// `--socketio`: the Socket.IO service, for the requests of its path.
    socketio: Option<Engine<Client>>,
}

impl Files {
    /// The files of `dir`, which must be a directory that can be read. The
    /// error is the line to print.
    pub(super) fn new(
        dir: &std::path::Path,
        console: bool,
        max_head: usize,
        max_headers: usize,
    ) -> Result<Self, String> {
        match std::fs::read_dir(dir).and_then(|_| std::fs::canonicalize(dir)) {
            Ok(root) => Ok(Files {
                // The canonical path, so that what the check resolves and
                // what `ServeDir` opens start from the same directory.
                dir: Some(ServeDir::new(&root).append_index_html_on_directories(true)),
                root: Some(root.into()),
                console,
                max_head,
                max_headers,
                socketio: None,
            }),
            Err(e) => Err(format!(
                "cannot serve --static {}: {}",
                dir.display(),
                describe(&e)
            )),
        }
    }
}

impl Files {
    /// No files: hyper serves the connections for another reason
    /// (`--socketio`), plain requests get the console or 404.
    pub(super) fn without_dir(console: bool, max_head: usize, max_headers: usize) -> Self {
        Files {
            dir: None,
            root: None,
            console,
            max_head,
            max_headers,
            socketio: None,
        }
    }

    /// Socket.IO's requests go to `service`.
    pub(super) fn with_socketio(mut self, service: Engine<Client>) -> Self {
        self.socketio = Some(service);
        self
    }
}

/// The body of any answer: a file, a page, or nothing.
type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// A whole body.
fn whole(bytes: Bytes) -> Body {
    http_body_util::Full::new(bytes)
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

/// One connection's side of the service: what its requests are answered
/// with, and its places under the limits.
struct Connection {
    server: Arc<ServerBuilder>,
    files: Files,
    site: Arc<Site>,
    id: u64,
    peer: std::net::SocketAddr,
    /// The peer's address and ours, for a program's environment.
    addresses: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
    closing: CancellationToken,
    connections: TaskTracker,
    /// Taken by the WebSocket an HTTP/1.1 connection becomes, if it does;
    /// an HTTP/2 connection keeps it, as it carries its sockets.
    slot: Mutex<Option<ConnectionSlot>>,
    http2: bool,
    /// Given back once the first request is read.
    handshake: Mutex<Option<HandshakeSlot>>,
}

/// Serves a connection with hyper: HTTP/1.1 requests, the last of which
/// may become a WebSocket, or with `http2` the streams of an HTTP/2
/// connection, any of which may be a WebSocket; until the client closes
/// it, the server shuts down, or (HTTP/1.1) it goes quiet for the
/// handshake timeout.
pub(super) async fn serve_with_files<S: Transport>(
    server: Arc<ServerBuilder>,
    files: Files,
    http2: bool,
    handshake_timeout: Duration,
    stream: S,
    id: u64,
    admitted: Admitted,
) {
    stream.no_delay();
    let addresses = stream.addresses();
    let Admitted {
        slot,
        handshake,
        closing,
        peer,
        site,
        connections,
        ..
    } = admitted;
    let (max_head, max_headers) = (files.max_head, files.max_headers);
    let connection = Arc::new(Connection {
        server,
        files,
        site,
        id,
        peer,
        addresses,
        closing: closing.clone(),
        connections,
        slot: Mutex::new(Some(slot)),
        http2,
        handshake: Mutex::new(Some(handshake)),
    });
    let waiting = Arc::clone(&connection);
    let service = hyper::service::service_fn(move |request| {
        let connection = Arc::clone(&connection);
        async move { Ok::<_, Infallible>(connection.answer(request).await) }
    });
    let io = TokioIo::new(stream);
    let outcome = if http2 {
        let mut http = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        http.timer(TokioTimer::new())
            .enable_connect_protocol() // RFC 8441
            .max_concurrent_streams(sockeye::http2::MAX_STREAMS)
            .max_header_list_size(u32::try_from(max_head).unwrap_or(u32::MAX));
        let serving = http.serve_connection(io, service);
        tokio::pin!(serving);
        tokio::select! {
            outcome = serving.as_mut() => outcome,
            () = silent_for(&waiting, handshake_timeout) => {
                tracing::debug!(id, "http/2 connection without a request, dropped");
                return;
            }
            () = closing.cancelled() => {
                // GOAWAY: no new streams; those open close with 1001.
                serving.as_mut().graceful_shutdown();
                match tokio::time::timeout(handshake_timeout, serving).await {
                    Ok(outcome) => outcome,
                    Err(_) => return,
                }
            }
        }
    } else {
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(handshake_timeout)
            .max_buf_size(max_head.max(HYPER_MIN_BUF))
            .max_headers(max_headers);
        let serving = http.serve_connection(io, service).with_upgrades();
        tokio::pin!(serving);
        tokio::select! {
            outcome = serving.as_mut() => outcome,
            () = closing.cancelled() => {
                // No new requests; the one in progress may finish, within
                // the handshake timeout.
                serving.as_mut().graceful_shutdown();
                match tokio::time::timeout(handshake_timeout, serving).await {
                    Ok(outcome) => outcome,
                    Err(_) => return,
                }
            }
        }
    };
    if let Err(e) = outcome {
        tracing::debug!(id, error = %describe(&e), "http connection failed");
    }
}

/// Resolves if the connection has sent no request after `limit`: a
/// silent HTTP/2 client is dropped as hyper drops a silent HTTP/1.1 one.
async fn silent_for(connection: &Connection, limit: Duration) {
    tokio::time::sleep(limit).await;
    if connection
        .handshake
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .is_none()
    {
        std::future::pending::<()>().await;
    }
}

impl Connection {
    /// The answer to one request, with the `--header` headers (those of
    /// a WebSocket's opening are in it already).
    async fn answer(&self, mut request: http::Request<Incoming>) -> http::Response<Body> {
        drop(
            self.handshake
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        if let Some(socketio) = &self.files.socketio
            && socketio.serves_path(request.uri().path())
        {
            // The peer's address, for the sockets' handshake.
            request.extensions_mut().insert(self.peer);
            let mut answer = socketio
                .handle(request)
                .await
                .map(|body| body.map_err(|never| match never {}).boxed_unsync());
            add_headers(&mut answer, &self.site.headers);
            return answer;
        }
        let mut answer = if sockeye::hyper::is_upgrade_request(&request) {
            self.upgrade(&mut request).await
        } else {
            self.plain(request).await
        };
        add_headers(&mut answer, &self.site.headers);
        answer
    }

    /// A WebSocket request: checked, routed, and once answered 101 handed
    /// to its mode's task.
    async fn upgrade(&self, request: &mut http::Request<Incoming>) -> http::Response<Body> {
        let pending = match self.server.check_upgrade(request) {
            Ok(pending) => pending,
            Err(refused) => {
                tracing::debug!(id = self.id, error = %describe(&refused), "handshake failed");
                return refused.into_response::<Bytes>().map(whole);
            }
        };
        let chosen = self
            .site
            .accept(pending.request(), self.addresses, self.id)
            .await;
        let (accept, opened) = match chosen {
            Ok(chosen) => chosen,
            Err(refusal) => return refusal.map(whole),
        };
        let path = pending.request().path().to_owned();
        let (response, upgrade) = match pending.accept(accept) {
            Ok(accepted) => accepted,
            Err(refused) => return refused.into_response::<Bytes>().map(whole),
        };
        let slot = if self.http2 {
            None
        } else {
            self.slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        };
        let (id, peer, closing) = (self.id, self.peer, self.closing.clone());
        self.connections.spawn(async move {
            let ws = match upgrade.await {
                Ok(ws) => ws,
                Err(e) => {
                    tracing::debug!(id, error = %describe(&e), "upgrade failed");
                    return;
                }
            };
            tracing::debug!(id, "connection open");
            let access = Access::start(peer, Some(&path));
            opened.run(ws, id, slot, closing, access).await;
        });
        response.map(|body| body.map_err(|never| match never {}).boxed_unsync())
    }

    /// A plain request: a file of DIR, else the console's answer.
    async fn plain(&self, request: http::Request<Incoming>) -> http::Response<Body> {
        let mut head = http::Request::new(());
        *head.method_mut() = request.method().clone();
        *head.uri_mut() = request.uri().clone();
        *head.version_mut() = request.version();
        let Some(mut dir) = self.files.dir.clone() else {
            return if self.files.console {
                answer_plain_http(&head).map(whole)
            } else {
                let mut answer = http::Response::new(whole(Bytes::from_static(b"not found\n")));
                *answer.status_mut() = http::StatusCode::NOT_FOUND;
                answer
            };
        };
        let outside = match &self.files.root {
            // Other methods are answered 405 by `ServeDir` without opening
            // anything.
            Some(root) if matches!(*request.method(), http::Method::GET | http::Method::HEAD) => {
                !confined(root, request.uri().path()).await
            }
            _ => false,
        };
        let answer = if outside {
            tracing::debug!(
                id = self.id,
                path = request.uri().path(),
                "outside --static"
            );
            // `ServeDir`'s own 404 for a missing file: no body.
            let mut answer = http::Response::new(whole(Bytes::new()));
            *answer.status_mut() = http::StatusCode::NOT_FOUND;
            answer
        } else {
            match dir.try_call(request).await {
                Ok(answer) => answer.map(BodyExt::boxed_unsync),
                Err(e) => {
                    tracing::debug!(id = self.id, error = %describe(&e), "file not served");
                    let mut answer =
                        http::Response::new(whole(Bytes::from_static(b"internal server error\n")));
                    *answer.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                    return answer;
                }
            }
        };
        if answer.status() == http::StatusCode::NOT_FOUND && self.files.console {
            return answer_plain_http(&head).map(whole);
        }
        answer
    }
}

/// Whether the file a GET of `path` would get from `ServeDir` over `root`
/// (canonical) lies under `root` once every symbolic link is followed.
///
/// `path` is resolved as tower-http 0.6 `ServeDir` resolves it
/// (`build_and_validate_path`, then `open_file`'s index): percent-decoded,
/// `.` skipped, and a directory asked with a final `/` stands for its
/// `index.html`. A path `ServeDir` refuses (`..`, not UTF-8 once decoded)
/// or a file that does not exist passes: `ServeDir` answers 404 for it
/// without opening anything. A path that cannot be resolved for another
/// reason (a loop of links, no permission) does not pass.
async fn confined(root: &std::path::Path, path: &str) -> bool {
    use std::path::Component;

    let Ok(decoded) = String::from_utf8(percent_decode(path.trim_start_matches('/'))) else {
        return true;
    };
    let mut file = root.to_path_buf();
    for component in std::path::Path::new(&decoded).components() {
        match component {
            Component::Normal(name) => file.push(name),
            Component::CurDir => {}
            Component::Prefix(_) | Component::RootDir | Component::ParentDir => return true,
        }
    }
    let Some(mut resolved) = resolve(&file).await else {
        return true;
    };
    if !resolved.as_ref().is_ok_and(|found| found.starts_with(root)) {
        return false;
    }
    if path.ends_with('/') && tokio::fs::metadata(&file).await.is_ok_and(|m| m.is_dir()) {
        let Some(index) = resolve(&file.join("index.html")).await else {
            return true;
        };
        resolved = index;
    }
    resolved.is_ok_and(|found| found.starts_with(root))
}

/// `file` with every link followed; `None` if there is nothing there
/// (a dangling link included, which `ServeDir` cannot open either).
async fn resolve(file: &std::path::Path) -> Option<std::io::Result<std::path::PathBuf>> {
    match tokio::fs::canonicalize(file).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        resolved => Some(resolved),
    }
}

/// `%XX` sequences decoded to their byte, anything else kept, as the
/// `percent-encoding` crate's `percent_decode` does for `ServeDir`.
fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'%'
            && let Some(&[high, low]) = bytes.get(at + 1..at + 3)
            && let (Some(high), Some(low)) = (hex(high), hex(low))
        {
            decoded.push(high << 4 | low);
            at += 3;
        } else {
            decoded.push(byte);
            at += 1;
        }
    }
    decoded
}

/// The value of one hexadecimal digit.
fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn percent_decode_keeps_what_is_not_an_escape() {
        assert_eq!(percent_decode("a%2e%2E%2fb"), b"a../b");
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é".as_bytes());
    }
}
