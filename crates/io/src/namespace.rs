//! [`Namespace`]: a group of sockets with its own connection handler,
//! middleware and rooms; and the connection of a new socket to it.

use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rmpv::Value;

use crate::adapter::{Adapter, ClusterFuture, LocalSide, Restored};
use crate::args::{Args, IntoArgs};
use crate::broadcast::{BroadcastOperator, Rooms};
use crate::engine::Payload;
use crate::error::{ConnectRefusal, EmitError};
use crate::handler::{ConnectHandler, Middleware};
use crate::legacy;
use crate::ns_core::{NsCore, Settings};
use crate::remote::RemoteSocket;
use crate::sid::Sid;
use crate::socket::{Conn, Socket, encode};
use crate::task::run;

/// A namespace: `/` (the main one), `/chat`, or one made on demand by a
/// dynamic namespace.
///
/// Cheap to clone: every clone is the same namespace.
#[derive(Clone, Debug)]
pub struct Namespace {
    core: Arc<NsCore<Socket>>,
    handlers: Arc<Handlers>,
}

/// A namespace's handlers; the children of a dynamic namespace share
/// their parent's.
#[derive(Default)]
pub(crate) struct Handlers {
    on_connection: RwLock<Option<Arc<dyn ConnectHandler>>>,
    middleware: RwLock<Vec<Arc<dyn Middleware>>>,
}

impl Handlers {
    fn set_on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        *self
            .on_connection
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(handler));
    }

    fn add_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectRefusal>> + Send + 'static,
    {
        self.middleware
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::new(middleware));
    }
}

/// A dynamic namespace: the handlers of every namespace it makes on
/// demand (see [`SocketIo::dynamic_ns`](crate::SocketIo::dynamic_ns)).
/// Its children share them, including those added later.
#[derive(Clone, Debug)]
pub struct DynamicNamespace {
    handlers: Arc<Handlers>,
}

impl DynamicNamespace {
    pub(crate) fn new(handlers: Arc<Handlers>) -> DynamicNamespace {
        DynamicNamespace { handlers }
    }

    /// As [`Namespace::on_connection`], for every child.
    pub fn on_connection<F, Fut>(&self, handler: F) -> &DynamicNamespace
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.set_on_connection(handler);
        self
    }

    /// As [`Namespace::with`], for every child.
    pub fn with<F, Fut>(&self, middleware: F) -> &DynamicNamespace
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectRefusal>> + Send + 'static,
    {
        self.handlers.add_middleware(middleware);
        self
    }
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handlers").finish_non_exhaustive()
    }
}

impl Namespace {
    /// A namespace called `name` with its own handlers, or with `handlers`
    /// shared with a parent.
    pub(crate) fn new(
        name: Arc<str>,
        settings: Arc<Settings>,
        adapter: Arc<dyn Adapter>,
        handlers: Option<Arc<Handlers>>,
    ) -> Namespace {
        Namespace {
            core: Arc::new(NsCore::new(name, settings, adapter)),
            handlers: handlers.unwrap_or_default(),
        }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.core.name
    }

    /// The namespace's shared core.
    pub(crate) fn core(&self) -> &Arc<NsCore<Socket>> {
        &self.core
    }

    /// Gives the adapter this server's side of the namespace.
    pub(crate) fn bind_adapter(&self) {
        let local: Arc<dyn LocalSide> = Arc::clone(&self.core) as Arc<dyn LocalSide>;
        self.core.adapter.bind(Arc::downgrade(&local));
    }

    /// Runs `handler` with the arguments of each `event` that another
    /// server of the cluster sends with
    /// [`server_side_emit`](Self::server_side_emit) (Node's `io.on(event)`
    /// on a server). Replaces an earlier handler of the same event. It runs
    /// on the adapter's task and must not block.
    pub fn on_server_side<F>(&self, event: &str, handler: F) -> &Namespace
    where
        F: Fn(Args) + Send + Sync + 'static,
    {
        self.core
            .on_server_side(event, Arc::new(move |args, _| handler(args)));
        self
    }

    /// Sends `event` to the other servers of the cluster, whose
    /// [`on_server_side`](Self::on_server_side) handlers get it (this
    /// server's do not). Without an adapter shared by several servers
    /// there are none, and nothing is sent.
    ///
    /// # Errors
    ///
    /// [`EmitError`] when the arguments do not serialize.
    pub fn server_side_emit(&self, event: &str, data: impl IntoArgs) -> Result<(), EmitError> {
        let packet = crate::socket::event_packet(&self.core.name, event, data)?;
        self.core.adapter.server_side_emit(&packet);
        Ok(())
    }

    /// How many servers share the namespace, this one included (1 without
    /// an adapter shared by several servers).
    pub async fn server_count(&self) -> usize {
        self.core.adapter.server_count().await
    }

    /// The sockets of the namespace on every server of the cluster.
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        self.broadcast().fetch_sockets().await
    }

    /// Runs `handler` for each socket once it connected: register its
    /// event handlers there. Replaces an earlier handler.
    ///
    /// The handler runs in the task that read the CONNECT until it first
    /// waits: handlers registered before any `.await` are in place before
    /// the client's first event is read.
    pub fn on_connection<F, Fut>(&self, handler: F) -> &Namespace
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.set_on_connection(handler);
        self
    }

    /// Adds a middleware: before a socket connects, every middleware runs
    /// in the order added; the first to refuse ends the connection to the
    /// namespace with a `connect_error` on the client carrying its message
    /// and data. [`Socket::auth`] and [`Socket::handshake`] tell who is
    /// asking.
    pub fn with<F, Fut>(&self, middleware: F) -> &Namespace
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectRefusal>> + Send + 'static,
    {
        self.handlers.add_middleware(middleware);
        self
    }

    /// Every socket of the namespace, to narrow down and emit to.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(Arc::clone(&self.core))
    }

    /// The sockets in `rooms`.
    pub fn to(&self, rooms: impl Rooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Every socket but those in `rooms`.
    pub fn except(&self, rooms: impl Rooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Emits to every socket of the namespace.
    ///
    /// # Errors
    ///
    /// As [`BroadcastOperator::emit`].
    pub fn emit(&self, event: &str, data: impl IntoArgs) -> Result<(), EmitError> {
        self.broadcast().emit(event, data)
    }

    /// The sockets connected to the namespace on this server.
    pub fn sockets(&self) -> Vec<Socket> {
        self.broadcast().sockets()
    }

    /// The socket with this id, if it is connected here.
    pub fn get_socket(&self, id: &Sid) -> Option<Socket> {
        self.core.get(id)
    }

    /// How many sockets are connected.
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether no socket is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every room with a socket in it (each socket's own room included).
    pub fn rooms(&self) -> Vec<crate::adapter::Room> {
        self.core.adapter.rooms()
    }

    /// A client asked over `conn` to connect with `auth`: with recovery on
    /// and a session named, the adapter looks for it (waiting at most the
    /// recovery's `restore_timeout`); then the middleware runs, then the
    /// socket connects (the client gets its id, a recovered one gets what
    /// it missed) and the connection handler runs; or the client gets a
    /// `CONNECT_ERROR`. A store in memory answers at once, so nothing waits
    /// then.
    pub(crate) fn connect(&self, conn: Conn, auth: Value) {
        let restoring = self.restore(&auth);
        let core = Arc::clone(&self.core);
        let handlers = Arc::clone(&self.handlers);
        run(async move {
            let restored = match restoring {
                Some((restoring, limit)) => tokio::time::timeout(limit, restoring)
                    .await
                    .unwrap_or_else(|_| {
                        tracing::warn!(nsp = %core.name, "session lookup timed out; connecting afresh");
                        None
                    }),
                None => None,
            };
            let (session, missed) = restored.unzip();
            let socket = Socket::new(core, conn, auth, session);
            let skip_middleware = socket.recovered()
                && socket
                    .ns()
                    .settings
                    .recovery
                    .is_some_and(|recovery| recovery.skip_middlewares);
            let middleware = if skip_middleware {
                Vec::new()
            } else {
                handlers
                    .middleware
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
            };
            let on_connection = handlers
                .on_connection
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            for step in middleware {
                if let Err(refusal) = step.call(socket.clone()).await {
                    refuse(&socket, &refusal);
                    return;
                }
            }
            if !admit(&socket, missed.unwrap_or_default()) {
                return;
            }
            if let Some(handler) = on_connection {
                handler.call(socket).await;
            }
        });
    }
}

impl Namespace {
    /// With recovery on, the lookup of the lost session a CONNECT's auth
    /// names (`pid` and `offset`, as socket.io-client sends them) and what
    /// it missed, with how long to wait for it.
    fn restore(&self, auth: &Value) -> Option<(ClusterFuture<Restored>, Duration)> {
        let recovery = self.core.settings.recovery?;
        let field = |name: &str| {
            auth.as_map()?
                .iter()
                .find(|(key, _)| key.as_str() == Some(name))
                .and_then(|(_, value)| value.as_str())
        };
        let lookup = self
            .core
            .adapter
            .restore_session(field("pid")?, field("offset")?);
        Some((lookup, recovery.restore_timeout))
    }
}

/// Records the socket on its connection and in its namespace and tells
/// the client its id (a recovered one then gets the packets it `missed`);
/// `false` if the connection is gone.
fn admit(socket: &Socket, missed: Vec<Vec<Payload>>) -> bool {
    let nsp: Arc<str> = Arc::clone(&socket.ns().name);
    if !socket.conn().data().add(nsp, socket.clone()) {
        return false;
    }
    if let Err(e) = socket.mark_connected(missed) {
        tracing::debug!(socket = %socket.id(), error = %e, "connect answer not sent");
    }
    true
}

/// Sends the client a `CONNECT_ERROR` with the refusal.
fn refuse(socket: &Socket, refusal: &ConnectRefusal) {
    let packet = legacy::connect_error(
        socket.conn(),
        &socket.ns().name,
        &refusal.message,
        refusal.data.clone(),
    );
    let sent = encode(socket.ns().settings.parser, &packet)
        .and_then(|payloads| socket.send_payloads(payloads));
    if let Err(e) = sent {
        tracing::debug!(error = %e, "connect error not sent");
    }
}
