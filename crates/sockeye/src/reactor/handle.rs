//! [`ReactorHandle`]: how connections get into a reactor.

use std::sync::Arc;

use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::core::Intake;
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
        let tcp = tcp.into_std().map_err(Error::Io)?;
        self.intake
            .send(Intake {
                tcp,
                engine,
                protocol,
                data,
            })
            .map_err(|_| Error::Closed)?;
        match &self.waker {
            Some(waker) => waker.wake().map_err(Error::Io),
            None => Ok(()),
        }
    }

    /// Whether the reactor stopped taking connections.
    pub fn is_closed(&self) -> bool {
        self.intake.is_closed()
    }
}
