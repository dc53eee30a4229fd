//! [`Engine`]: the HTTP side of an Engine.IO server, as a tower
//! [`Service`] for hyper and axum. It routes each request by its query
//! (`transport`, `sid`, `EIO`) to a handshake, a poll, a POST or a
//! WebSocket, and answers the bad ones as Node's engine.io does.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, ORIGIN};
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Body;
use sockeye::ServerBuilder;
use sockeye::hyper::is_upgrade_request;
use tower_service::Service;

use super::config::{EngineConfig, Transports};
use super::cors;
use super::driver;
use super::handler::EngineHandler;
use super::handshake::{Handshake, TransportKind};
use super::opening;
use super::polling;
use super::rate::HandshakeRate;
use super::request::EngineQuery;
use super::response::{EngineBody, ErrorCode, empty, error_response};
use super::sessions::Sessions;
use super::socket::{EngineSocket, UpgradeState};
use super::state::EngineState;
use super::websocket;

/// The Engine.IO protocol version served.
const PROTOCOL: &str = "4";

/// The legacy version served when [`EngineConfig::allow_eio3`] is on.
const PROTOCOL_V3: &str = "3";

/// An Engine.IO v4 server: a tower [`Service`] answering the requests on
/// its path (`/engine.io/` by default) and 404 to others. Cheap to clone:
/// the clones share their sessions.
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use sockeye_io::engine::{CloseReason, Engine, EngineConfig, EngineHandler, EngineSocket, Payload};
///
/// struct Echo;
///
/// impl EngineHandler for Echo {
///     type Data = ();
///     fn on_open(&self, _: &Arc<EngineSocket<()>>) {}
///     fn on_message(&self, socket: &Arc<EngineSocket<()>>, payload: Payload) {
///         let _ = socket.send(payload);
///     }
///     fn on_close(&self, _: &Arc<EngineSocket<()>>, _: CloseReason) {}
/// }
///
/// # async fn run() -> std::io::Result<()> {
/// let engine = Engine::new(EngineConfig::default(), Echo);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// sockeye_io::engine::serve(listener, engine).await
/// # }
/// ```
pub struct Engine<H: EngineHandler> {
    /// What the clones share.
    state: Arc<EngineState<H>>,
}

impl<H: EngineHandler> Clone for Engine<H> {
    fn clone(&self) -> Self {
        Engine {
            state: Arc::clone(&self.state),
        }
    }
}

impl<H: EngineHandler> std::fmt::Debug for Engine<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("state", &self.state)
            .finish()
    }
}

impl<H: EngineHandler> Engine<H> {
    /// An engine with `config`, calling `handler`.
    pub fn new(config: EngineConfig, handler: H) -> Self {
        // Engine.IO's own heartbeat watches the client; WebSocket pings on
        // top would only cost a timer per session.
        let websocket = ServerBuilder::new()
            .max_message_size(config.max_payload)
            .keepalive(None, Duration::ZERO);
        let handshakes = HandshakeRate::new(config.max_handshake_rate);
        Engine {
            state: Arc::new(EngineState {
                config,
                handler,
                sessions: Sessions::new(),
                handshakes,
                websocket,
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.state.config
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.state.handler
    }

    /// The open session with id `sid`.
    pub fn socket(&self, sid: &str) -> Option<Arc<EngineSocket<H::Data>>> {
        self.state.sessions.get(sid)
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.state.sessions.len()
    }

    /// Whether `path` is this engine's: its configured path, with or
    /// without the trailing slash.
    pub fn serves_path(&self, path: &str) -> bool {
        is_engine_path(&self.state.config.path, path)
    }

    /// Answers one request. A WebSocket request is answered with its
    /// `101` (or `200` over HTTP/2) and served on a task of its own.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future of a waiting poll (the client went away) ends
    /// the session, as the protocol asks; dropping a POST's future may
    /// lose the packets of its body not yet handed to the session.
    pub async fn handle<B>(&self, request: Request<B>) -> Response<EngineBody>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let origin = request.headers().get(ORIGIN).cloned();
        let mut response = route(&self.state, request).await;
        cors::apply(
            &self.state.config.cors,
            origin.as_ref(),
            response.headers_mut(),
        );
        response
    }
}

/// Picks the answer for a request.
async fn route<H, B>(state: &Arc<EngineState<H>>, request: Request<B>) -> Response<EngineBody>
where
    H: EngineHandler,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let config = &state.config;
    if !is_engine_path(&config.path, request.uri().path()) {
        return empty(StatusCode::NOT_FOUND);
    }
    if request.method() == Method::OPTIONS {
        if let Some(answer) = cors::preflight(&config.cors, request.headers()) {
            return answer;
        }
    }
    let query = EngineQuery::parse(request.uri().query());
    let Some(transport) = transport_of(query.get("transport"), config.transports) else {
        return ErrorCode::UnknownTransport.response();
    };
    match query.get("sid") {
        Some(sid) => {
            let Some(socket) = state.sessions.get(sid) else {
                return ErrorCode::UnknownSid.response();
            };
            // Every request of a session asks for the session's version.
            let version = if socket.is_eio3() {
                PROTOCOL_V3
            } else {
                PROTOCOL
            };
            if query.get("EIO") != Some(version) {
                return ErrorCode::UnsupportedProtocolVersion.response();
            }
            with_session(state, socket, transport, request).await
        }
        None => handshake(state, query, transport, request).await,
    }
}

/// The protocol version a handshake asks for, if served: 4, or 3 when
/// `allow_eio3`. Node takes a missing or unknown `EIO` for 3; here only
/// `EIO=3` is, so a client that names no version is refused either way.
fn protocol_of(eio: Option<&str>, allow_eio3: bool) -> Option<u8> {
    match eio {
        Some(PROTOCOL) => Some(4),
        Some(PROTOCOL_V3) if allow_eio3 => Some(3),
        _ => None,
    }
}

/// Whether `path` is `own`, with or without its trailing slash.
fn is_engine_path(own: &str, path: &str) -> bool {
    path == own || Some(path) == own.strip_suffix('/')
}

/// The transport named in the query, if known and allowed.
fn transport_of(name: Option<&str>, allowed: Transports) -> Option<TransportKind> {
    match name? {
        "polling" if allowed.polling => Some(TransportKind::Polling),
        "websocket" if allowed.websocket => Some(TransportKind::WebSocket),
        _ => None,
    }
}

/// A request for an open session: a poll, a POST, or a WebSocket that
/// would take the session over.
async fn with_session<H, B>(
    state: &Arc<EngineState<H>>,
    socket: Arc<EngineSocket<H::Data>>,
    transport: TransportKind,
    request: Request<B>,
) -> Response<EngineBody>
where
    H: EngineHandler,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match transport {
        TransportKind::Polling => match *request.method() {
            Method::GET => polling::get(socket).await,
            Method::POST => {
                let binary = request
                    .headers()
                    .get(CONTENT_TYPE)
                    .is_some_and(|kind| kind == "application/octet-stream");
                polling::post(
                    state,
                    socket,
                    request.into_body(),
                    state.config.max_payload,
                    binary,
                )
                .await
            }
            _ => ErrorCode::BadRequest.response(),
        },
        TransportKind::WebSocket => upgrade_session(state, socket, request),
    }
}

/// A WebSocket for a polling session: accepted, then probed; one that
/// comes while another is probing, or after the upgrade, is accepted and
/// closed, as Node does.
fn upgrade_session<H, B>(
    state: &Arc<EngineState<H>>,
    socket: Arc<EngineSocket<H::Data>>,
    mut request: Request<B>,
) -> Response<EngineBody>
where
    H: EngineHandler,
{
    if !is_upgrade_request(&request) {
        return ErrorCode::BadRequest.response();
    }
    let (response, upgrade) = match state.websocket.upgrade(&mut request) {
        Ok(accepted) => accepted,
        Err(refused) => return refused.into_response(),
    };
    let claimed = socket.update(|s| {
        let free = s.closing.is_none()
            && s.transport == TransportKind::Polling
            && s.upgrade == UpgradeState::None;
        if free {
            s.upgrade = UpgradeState::Probing;
        }
        free
    });
    let timeout = state.config.upgrade_timeout;
    tokio::spawn(async move {
        match (upgrade.await, claimed) {
            (Ok(ws), true) => websocket::upgrade(&socket, ws, timeout).await,
            (Ok(ws), false) => websocket::refuse(ws).await,
            (Err(_), true) => socket.update(|s| s.upgrade = UpgradeState::None),
            (Err(_), false) => {}
        }
    });
    response
}

/// A request without `sid`: opens a session, after the checks Node makes
/// (method, `allow_request`, `EIO`) and the bound on sessions.
async fn handshake<H, B>(
    state: &Arc<EngineState<H>>,
    query: EngineQuery,
    transport: TransportKind,
    request: Request<B>,
) -> Response<EngineBody>
where
    H: EngineHandler,
    B: Body<Data = Bytes> + Send + 'static,
{
    let config = &state.config;
    let upgrading = is_upgrade_request(&request);
    if request.method() != Method::GET && !(transport == TransportKind::WebSocket && upgrading) {
        return ErrorCode::BadHandshakeMethod.response();
    }
    if transport == TransportKind::WebSocket && !upgrading {
        return ErrorCode::BadRequest.response();
    }
    let (parts, body) = request.into_parts();
    if let Some(refusal) = config
        .allow_request
        .as_ref()
        .and_then(|allow| allow(&parts).err())
    {
        return error_response(
            refusal.status,
            ErrorCode::Forbidden.code(),
            &refusal.message,
        );
    }
    let Some(protocol) = protocol_of(query.get("EIO"), config.allow_eio3) else {
        return ErrorCode::UnsupportedProtocolVersion.response();
    };
    if protocol == 3 && query.get("j").is_some() {
        // JSONP polling, which Node still serves to v3 clients, is not
        // served: refused plainly rather than answered in a format the
        // client cannot read.
        return ErrorCode::BadRequest.response();
    }
    if state.sessions.len() >= config.max_sessions {
        return empty(StatusCode::SERVICE_UNAVAILABLE);
    }
    if !state.handshakes.admit() {
        let mut refused = empty(StatusCode::SERVICE_UNAVAILABLE);
        refused.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
        return refused;
    }
    let handshake = handshake_of(&parts, protocol);
    match transport {
        TransportKind::Polling => {
            let socket = opening::create(state, handshake, TransportKind::Polling);
            opening::start(state, &socket, TransportKind::Polling);
            tokio::spawn(driver::drive(Arc::clone(state), Arc::clone(&socket), None));
            polling::get(socket).await
        }
        TransportKind::WebSocket => {
            open_websocket(state, handshake, Request::from_parts(parts, body))
        }
    }
}

/// Accepts a WebSocket handshake; the session opens once the connection
/// is up.
fn open_websocket<H, B>(
    state: &Arc<EngineState<H>>,
    handshake: Handshake,
    mut request: Request<B>,
) -> Response<EngineBody>
where
    H: EngineHandler,
{
    let (response, upgrade) = match state.websocket.upgrade(&mut request) {
        Ok(accepted) => accepted,
        Err(refused) => return refused.into_response(),
    };
    let state = Arc::clone(state);
    // Made now, so that the task waiting for the upgrade holds a pointer
    // rather than the handshake; opened (and `on_open` called) once the
    // connection is up.
    let socket = opening::create(&state, handshake, TransportKind::WebSocket);
    tokio::spawn(async move {
        if let Ok(ws) = upgrade.await {
            opening::start(&state, &socket, TransportKind::WebSocket);
            driver::drive(state, socket, Some(Box::new(ws))).await;
        }
    });
    response
}

/// What a session keeps of its handshake request (a copy: see
/// [`Handshake`]). The peer's address is the request's `SocketAddr`
/// extension, which [`serve`](super::serve) adds. Over HTTP/2 the host is
/// the URI's authority, kept as a `host` header.
fn handshake_of(parts: &Parts, protocol: u8) -> Handshake {
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |target| target.as_str());
    let remote_addr = parts.extensions.get::<SocketAddr>().copied();
    let authority = parts
        .uri
        .authority()
        .filter(|_| !parts.headers.contains_key(HOST));
    match authority.and_then(|authority| HeaderValue::from_str(authority.as_str()).ok()) {
        Some(host) => {
            let mut headers = parts.headers.clone();
            headers.insert(HOST, host);
            Handshake::new(target, &headers, remote_addr, protocol)
        }
        None => Handshake::new(target, &parts.headers, remote_addr, protocol),
    }
}

impl<H, B> Service<Request<B>> for Engine<H>
where
    H: EngineHandler,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<EngineBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let engine = self.clone();
        Box::pin(async move { Ok(engine.handle(request).await) })
    }
}
