//! TCP endpoints: `tcp:HOST:PORT` and `tcp-listen:ADDR`.

use tokio::net::TcpStream;

use super::Settings;
use super::conn::Conn;

/// Connects to `addr` (`HOST:PORT`, the name resolved here).
pub(crate) async fn connect(addr: &str, settings: Settings) -> Result<Conn, String> {
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to tcp:{addr}: {e}"))?;
    Ok(conn(tcp, settings))
}

/// An open TCP connection as an endpoint; its FIN ends the direction out
/// of it, and finishing it sends ours.
pub(crate) fn conn(tcp: TcpStream, settings: Settings) -> Conn {
    // Messages are whole: each should leave at once, not wait for more.
    let _ = tcp.set_nodelay(true);
    let (reader, writer) = tcp.into_split();
    Conn::bytes(Box::new(reader), Box::new(writer), settings)
}
