//! [`SocketIo`]: a Socket.IO server: its namespaces, server-wide
//! emitting, and the HTTP service clients connect to.

use std::future::Future;
use std::sync::Arc;

use rmpv::Value;

use crate::adapter::Adapter;
use crate::args::{Args, IntoArgs};
use crate::broadcast::{BroadcastOperator, Rooms};
use crate::client::Client;
use crate::config::SocketIoConfig;
use crate::engine::{Engine, EngineLayer};
use crate::error::{DisconnectReason, EmitError};
use crate::namespace::{DynamicNamespace, Namespace};
use crate::ns_core::Settings;
use crate::registry::{AdapterFactory, Registry};
use crate::remote::RemoteSocket;
use crate::socket::Socket;

/// A Socket.IO server.
///
/// Cheap to clone: every clone is the same server. Keep one to emit from
/// anywhere (a timer, another service).
#[derive(Clone, Debug)]
pub struct SocketIo {
    registry: Arc<Registry>,
    engine: Engine<Client>,
}

impl Default for SocketIo {
    fn default() -> SocketIo {
        SocketIo::new()
    }
}

impl SocketIo {
    /// A server with the default settings.
    pub fn new() -> SocketIo {
        SocketIo::with_config(SocketIoConfig::default())
    }

    /// A server with `config` whose namespaces use the adapters `adapters`
    /// makes (given each namespace's name), instead of the in-memory
    /// [`LocalAdapter`](crate::adapter::LocalAdapter): an adapter shared
    /// by several servers makes them one cluster.
    pub fn with_adapter<F>(config: SocketIoConfig, adapters: F) -> SocketIo
    where
        F: Fn(&str) -> Arc<dyn Adapter> + Send + Sync + 'static,
    {
        SocketIo::build(config, Some(Arc::new(adapters)))
    }

    /// A server with `config`.
    pub fn with_config(config: SocketIoConfig) -> SocketIo {
        SocketIo::build(config, None)
    }

    /// A server with `config` and `adapters`, or in-memory adapters.
    fn build(config: SocketIoConfig, adapters: Option<AdapterFactory>) -> SocketIo {
        let settings = Arc::new(Settings {
            parser: config.parser,
            ack_timeout: config.ack_timeout,
            recovery: config.recovery,
        });
        let registry = Arc::new(Registry::new(settings, adapters));
        let client = Client {
            registry: Arc::clone(&registry),
            parser: config.parser,
            connect_timeout: config.connect_timeout,
        };
        SocketIo {
            registry,
            engine: Engine::new(config.engine, client),
        }
    }

    /// The namespace `name` (`/` is the main one), made if it does not
    /// exist yet. Clients can connect only to namespaces that exist.
    pub fn of(&self, name: &str) -> Namespace {
        self.registry.of(name)
    }

    /// The namespace `name` with `on_connection` as its connection
    /// handler.
    pub fn ns<F, Fut>(&self, name: &str, on_connection: F) -> Namespace
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let ns = self.of(name);
        ns.on_connection(on_connection);
        ns
    }

    /// A dynamic namespace: a client asking for a namespace that does not
    /// exist gets one when `matches` accepts its name (and the CONNECT's
    /// auth), with the handlers given to the returned
    /// [`DynamicNamespace`]. Checked in the order added.
    pub fn dynamic_ns(
        &self,
        matches: impl Fn(&str, &Value) -> bool + Send + Sync + 'static,
    ) -> DynamicNamespace {
        self.registry.add_dynamic(matches)
    }

    /// Every socket of the main namespace `/`.
    pub fn broadcast(&self) -> BroadcastOperator {
        self.of("/").broadcast()
    }

    /// The sockets of `/` in `rooms`.
    pub fn to(&self, rooms: impl Rooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// The sockets of `/` not in `rooms`.
    pub fn except(&self, rooms: impl Rooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// Emits to every socket of `/`.
    ///
    /// # Errors
    ///
    /// As [`BroadcastOperator::emit`].
    pub fn emit(&self, event: &str, data: impl IntoArgs) -> Result<(), EmitError> {
        self.broadcast().emit(event, data)
    }

    /// The sockets of `/` on every server (this one alone, without a
    /// shared adapter).
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        self.broadcast().fetch_sockets().await
    }

    /// Sends `event` to the other servers of the cluster, on `/` (see
    /// [`Namespace::server_side_emit`]).
    ///
    /// # Errors
    ///
    /// [`EmitError`] when the arguments do not serialize.
    pub fn server_side_emit(&self, event: &str, data: impl IntoArgs) -> Result<(), EmitError> {
        self.of("/").server_side_emit(event, data)
    }

    /// Runs `handler` for each server-side `event` another server sends on
    /// `/` (see [`Namespace::on_server_side`]).
    pub fn on_server_side<F>(&self, event: &str, handler: F)
    where
        F: Fn(Args) + Send + Sync + 'static,
    {
        self.of("/").on_server_side(event, handler);
    }

    /// Disconnects every socket of every namespace ("server shutting
    /// down") and closes their connections.
    pub fn close(&self) {
        for ns in self.registry.all() {
            for socket in ns.sockets() {
                socket.disconnected(DisconnectReason::ServerShuttingDown);
                socket.conn().close();
            }
        }
    }

    /// The HTTP service clients connect to: a tower `Service` for hyper
    /// 1.x or axum (`Router::route_service(DEFAULT_PATH, ..)`), serving
    /// the configured path (default `/socket.io/`) over HTTP/1.1 and
    /// HTTP/2, long-polling and WebSocket.
    pub fn service(&self) -> Engine<Client> {
        self.engine.clone()
    }

    /// A tower `Layer` putting the server in front of another service:
    /// requests for the Socket.IO path are served here, the others pass
    /// on (an axum `Router`'s routes, say).
    pub fn layer(&self) -> EngineLayer<Client> {
        EngineLayer::new(self.engine.clone())
    }

    /// Serves clients on every connection `listener` accepts (HTTP/1.1
    /// and cleartext HTTP/2), until the task is dropped.
    ///
    /// # Errors
    ///
    /// As [`engine::serve`](crate::engine::serve).
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        crate::engine::serve(listener, self.service()).await
    }
}
