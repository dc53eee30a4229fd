//! WebSocket endpoints: `ws://` and `wss://` URLs (a client) and
//! `ws-listen:ADDR` (a server).

use sockeye::{ClientBuilder, ServerBuilder};
use tokio::net::TcpStream;

use super::Settings;
use super::conn::{Conn, Sink, Source};
use crate::describe;

/// Connects to `url`, through the proxy of the environment if one is set
/// (as `sockeye connect` does).
pub(crate) async fn connect(url: &str, settings: Settings) -> Result<Conn, String> {
    let (ws, _) = ClientBuilder::new(url)
        .max_message_size(settings.max_message_size)
        .proxy_from_env()
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {url}: {}", describe(&e)))?;
    let (reader, writer) = ws.split();
    Ok(Conn {
        source: Source::WsClient(reader),
        sink: Sink::WsClient(writer),
        program: None,
    })
}

/// The server settings of `ws-listen:`.
pub(crate) fn server(settings: Settings) -> ServerBuilder {
    ServerBuilder::new().max_message_size(settings.max_message_size)
}

/// Runs the opening handshake of a client of `ws-listen:` (any path, any
/// origin; bounded by the builder's handshake timeout).
pub(crate) async fn accept(server: &ServerBuilder, tcp: TcpStream) -> Result<Conn, String> {
    let ws = server
        .accept(tcp)
        .await
        .map_err(|e| format!("handshake failed: {}", describe(&e)))?;
    let (reader, writer) = ws.split();
    Ok(Conn {
        source: Source::WsServer(reader),
        sink: Sink::WsServer(writer),
        program: None,
    })
}
