//! [`ReactorHandle`]: how connections get into a reactor.

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::mpsc;

use sockeye_proto::Connection;

use super::add_error::AddClientError;
use super::core::Intake;
use crate::client::transport::ClientStream;
use crate::error::{Error, Result};
use crate::stream::WebSocket;

/// Adds connections to a [`Reactor`](super::run::Reactor) or a
/// [`ReactorThread`](super::thread::ReactorThread) from any task or
/// thread; cheap to clone.
#[derive(Debug)]
pub struct ReactorHandle<D> {
    pub(super) intake: mpsc::UnboundedSender<Intake<D>>,
    /// Wakes a reactor on a thread of its own; `None` for one served by a
    /// task, which the channel wakes.
    pub(super) waker: Option<Arc<mio::Waker>>,
}

impl<D> Clone for ReactorHandle<D> {
    fn clone(&self) -> Self {
        ReactorHandle {
            intake: self.intake.clone(),
            waker: self.waker.clone(),
        }
    }
}

impl<D> ReactorHandle<D> {
    /// Hands an open WebSocket over TCP to the reactor, with the
    /// application's data for it. Its socket leaves the runtime's I/O
    /// driver for the reactor's; the reactor serves it from its next turn.
    ///
    /// Call it from a task of a tokio runtime (the socket is taken off
    /// that runtime's driver).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if the reactor stopped; the connection is then
    /// dropped (a `WebSocket` dropped while open sends a Close 1001 if it
    /// can). [`Error::Io`] if the socket cannot leave the runtime.
    pub fn add(&self, ws: WebSocket<TcpStream>, data: D) -> Result<()> {
        if self.intake.is_closed() {
            return Err(Error::Closed);
        }
        let (tcp, engine, protocol) = ws.into_engine();
        self.hand_over(tcp, engine, protocol, data)
    }

    /// Hands a client's open WebSocket to the reactor, with the
    /// application's data for it, if it runs over plain TCP (`ws://`,
    /// directly or through a proxy's tunnel). The reactor serves it as it
    /// serves a server's: the engine masks what it sends (RFC 6455 §5.3),
    /// and once the closing handshake is over the reactor waits for the
    /// server to close TCP, or for the close timeout (§7.1.1).
    ///
    /// Call it from a task of a tokio runtime (the socket is taken off
    /// that runtime's driver).
    ///
    /// # Errors
    ///
    /// A connection over TLS or HTTP/2 ([`AddClientError::NotPlainTcp`])
    /// or one handed to a stopped reactor ([`AddClientError::Closed`]) is
    /// handed back, open, with its data: serve it another way.
    /// [`AddClientError::Failed`] if the socket cannot leave the runtime,
    /// or with [`Error::Closed`] if the reactor stopped between the check
    /// and the hand-over: the connection is then dropped.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use sockeye::reactor::{AddClientError, ReactorHandle};
    /// # async fn example(handle: ReactorHandle<u64>) -> sockeye::Result<()> {
    /// let ws = sockeye::connect("ws://127.0.0.1:9001/").await?;
    /// match handle.add_client(ws, 0) {
    ///     Ok(()) => {}
    ///     Err(AddClientError::NotPlainTcp(ws, _)) => {
    ///         // TLS or HTTP/2: serve it from a task instead.
    ///         tokio::spawn(async move { drop(ws) });
    ///     }
    ///     Err(e) => eprintln!("{e}"),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    #[expect(
        clippy::result_large_err,
        reason = "the connection comes back by value, as it went in; called once per connection"
    )]
    pub fn add_client(
        &self,
        ws: WebSocket<ClientStream>,
        data: D,
    ) -> Result<(), AddClientError<D>> {
        if !matches!(ws.get_ref(), ClientStream::Plain(_)) {
            return Err(AddClientError::NotPlainTcp(ws, data));
        }
        if self.intake.is_closed() {
            return Err(AddClientError::Closed(ws, data));
        }
        match ws.into_engine() {
            (ClientStream::Plain(tcp), engine, protocol) => self
                .hand_over(tcp, engine, protocol, data)
                .map_err(AddClientError::Failed),
            // Checked above: a plain stream stays plain.
            #[cfg(any(feature = "tls", feature = "http2"))]
            _ => unreachable!("the stream was checked to be plain TCP"),
        }
    }

    /// Takes the socket off the runtime's driver and sends the connection
    /// to the reactor, waking its thread if it has one.
    fn hand_over(
        &self,
        tcp: TcpStream,
        engine: Connection,
        protocol: Option<Box<str>>,
        data: D,
    ) -> Result<()> {
        let tcp = tcp.into_std().map_err(Error::Io)?;
        self.intake
            .send(Intake {
                tcp,
                engine,
                protocol,
                data,
            })
            .map_err(|_| Error::Closed)?;
        // The connection is the reactor's now, whatever the wake-up does:
        // a failed one (an eventfd that cannot be written, which does not
        // happen in practice) leaves it for the reactor's next wake-up.
        if let Some(waker) = &self.waker
            && let Err(e) = waker.wake()
        {
            tracing::error!(error = %e, "cannot wake the reactor's thread");
        }
        Ok(())
    }

    /// Whether the reactor stopped taking connections.
    pub fn is_closed(&self) -> bool {
        self.intake.is_closed()
    }
}
