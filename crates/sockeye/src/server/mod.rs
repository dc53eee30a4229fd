//! The server: [`accept()`] and [`ServerBuilder`].
//!
//! `builder.rs` holds the settings; `accept.rs` reads an HTTP/1.1 request
//! from a byte stream and answers it; `negotiate.rs` decides what every
//! entry point (this one, `http2`, `hyper`, `axum`) answers and opens the
//! socket; `fallback.rs` decides and writes plain HTTP answers;
//! `request.rs` is what an accept callback sees and returns.

mod accept;
pub(crate) mod builder;
mod fallback;
pub(crate) mod negotiate;
pub(crate) mod request;

use tokio::io::{AsyncRead, AsyncWrite};

pub use self::builder::ServerBuilder;
pub use self::request::{Accept, UpgradeRequest};
use crate::error::Result;
use crate::stream::WebSocket;

/// Accepts a WebSocket connection on `stream` with default settings: any
/// path, no subprotocol.
///
/// # Errors
///
/// As [`ServerBuilder::accept`].
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future abandons the handshake.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> sockeye::Result<()> {
/// use futures_util::StreamExt;
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// let (tcp, _) = listener.accept().await?;
/// let mut ws = sockeye::accept(tcp).await?;
/// while let Some(message) = ws.next().await {
///     ws.send(message?).await?;
/// }
/// # Ok(())
/// # }
/// ```
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ServerBuilder::new().accept(stream).await
}
