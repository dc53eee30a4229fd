//! Opening connections: [`connection`] and [`spawn`] on any open
//! WebSocket, [`connect`] for a client in one call.

use sockeye::{ClientBuilder, ClientStream, WebSocket};

use crate::config::Config;
use crate::driver::Connection;
use crate::methods::Methods;
use crate::peer::Peer;
use crate::shared::Shared;
use crate::transport::Transport;

/// Makes a connection of an open WebSocket, serving `methods` with
/// `context`: the [`Peer`] to call the other side, and the
/// [`Connection`] future that runs it, for the caller to run (or drop,
/// which closes it).
pub fn connection<T, C>(
    ws: T,
    methods: Methods<C>,
    context: C,
    config: Config,
) -> (Peer, Connection<T, C>)
where
    T: Transport,
    C: Send + Sync + 'static,
{
    let (shared, out) = Shared::new(config);
    let connection = Connection::new(ws, methods, context, shared, out);
    (connection.peer().clone(), connection)
}

/// [`connection`], run on a task of its own: the usual way, on both
/// sides.
///
/// The connection lives until either side closes it
/// ([`Peer::close`]) or it is lost, whether or not anyone holds its
/// [`Peer`]: a server keeps serving a client whose handle it dropped.
/// A [`Client`](crate::Client) closes its connection when dropped.
///
/// # Panics
///
/// Outside a tokio runtime.
pub fn spawn<T, C>(ws: T, methods: Methods<C>, context: C, config: Config) -> Peer
where
    T: Transport,
    C: Send + Sync + 'static,
{
    let (peer, connection) = connection(ws, methods, context, config);
    tokio::spawn(connection);
    peer
}

/// Connects to a server at `url` and runs the connection on a task of
/// its own, serving `methods` (the calls the server may make back) with
/// `context`. For headers, subprotocols, TLS and the rest, build the
/// WebSocket with [`ClientBuilder`] and use [`spawn`].
///
/// # Errors
///
/// The WebSocket's, when it cannot be opened.
pub async fn connect<C>(
    url: &str,
    methods: Methods<C>,
    context: C,
    config: Config,
) -> sockeye::Result<Peer>
where
    C: Send + Sync + 'static,
{
    let ws = open(ClientBuilder::new(url), &config).await?;
    Ok(spawn(ws, methods, context, config))
}

/// Opens the WebSocket of `builder` with the message size `config`
/// allows.
pub(crate) async fn open(
    builder: ClientBuilder,
    config: &Config,
) -> sockeye::Result<WebSocket<ClientStream>> {
    let (ws, _) = builder
        .max_message_size(config.max_message_size)
        .connect()
        .await?;
    Ok(ws)
}
