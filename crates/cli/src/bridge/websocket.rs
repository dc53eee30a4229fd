//! WebSocket endpoints: `ws://` and `wss://` URLs (a client) and
//! `ws-listen:ADDR` (a server).

use std::path::PathBuf;
use std::sync::OnceLock;

use sockeye::pki_types::CertificateDer;
use sockeye::{ClientBuilder, ServerBuilder};
use tokio::net::TcpStream;

use super::Settings;
use super::conn::{Conn, Sink, Source};
use crate::describe;

/// The roots of `--ca`, trusted for `wss://` besides the usual ones; read
/// once at the start.
static EXTRA_ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();

/// Reads the certificates of `--ca` (PEM files) for every `wss://`
/// connection to come.
pub(crate) fn trust(files: &[PathBuf]) -> Result<(), String> {
    let mut roots = Vec::new();
    for path in files {
        let certificates = sockeye::tls::certificates_from_pem_file(path)
            .map_err(|e| format!("cannot use --ca {}: {}", path.display(), describe(&e)))?;
        roots.extend(certificates);
    }
    let _ = EXTRA_ROOTS.set(roots);
    Ok(())
}

/// Connects to `url`, through the proxy of the environment if one is set
/// (as `sockeye connect` does), trusting the roots of `--ca` too.
pub(crate) async fn connect(url: &str, settings: Settings) -> Result<Conn, String> {
    let mut builder = ClientBuilder::new(url)
        .max_message_size(settings.max_message_size)
        .proxy_from_env();
    for root in EXTRA_ROOTS.get().into_iter().flatten() {
        builder = builder.add_root_certificate(root.clone());
    }
    let (ws, _) = builder
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
