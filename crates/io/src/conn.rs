//! [`ConnState`]: what the Socket.IO layer keeps per Engine.IO session:
//! the packet decoder and the namespaces the client joined on it, each with
//! its socket, so that a packet reaches its socket without a lookup.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::engine::Payload;
use crate::parser::{Decoder, Packet, ParseError};

/// The Socket.IO state of one Engine.IO session, whose sockets are `S`.
///
/// The sockets held here hold the session in turn: each leaves the list
/// when it leaves its namespace, and the list is emptied when the session
/// closes, which ends the cycle.
#[derive(Debug)]
pub struct ConnState<S> {
    inner: Mutex<Inner<S>>,
}

#[derive(Debug)]
struct Inner<S> {
    /// Set when the session opens, with the configured parser.
    decoder: Option<Decoder>,
    /// The namespaces joined, each with its socket. Few: a list.
    joined: Vec<(Arc<str>, S)>,
    /// The session closed: nothing joins any more.
    closed: bool,
    /// The wait that closes the session if no namespace is joined in
    /// time; stopped at the first join, so that it holds nothing after.
    connect_timer: Option<tokio::task::AbortHandle>,
}

impl<S> Default for ConnState<S> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                decoder: None,
                joined: Vec::new(),
                closed: false,
                connect_timer: None,
            }),
        }
    }
}

impl<S: Clone> Inner<S> {
    /// The socket connected to `nsp` on this session, if any.
    fn socket_in(&self, nsp: &str) -> Option<S> {
        self.joined
            .iter()
            .find(|(name, _)| &**name == nsp)
            .map(|(_, socket)| socket.clone())
    }
}

impl<S: Clone> ConnState<S> {
    fn lock(&self) -> MutexGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The socket connected to `nsp` on this session, if any.
    pub(crate) fn socket_in(&self, nsp: &str) -> Option<S> {
        self.lock().socket_in(nsp)
    }

    /// Starts decoding with `decoder`.
    pub(crate) fn set_decoder(&self, decoder: Decoder) {
        self.lock().decoder = Some(decoder);
    }

    /// Feeds an Engine.IO message to the decoder: a whole packet, once
    /// its attachments (if any) have all come, with the socket connected
    /// to its namespace on this session, if any.
    pub(crate) fn decode(
        &self,
        payload: Payload,
    ) -> Result<Option<(Packet, Option<S>)>, ParseError> {
        let mut inner = self.lock();
        let Some(decoder) = inner.decoder.as_mut() else {
            return Ok(None);
        };
        let packet = match payload {
            Payload::Text(text) => decoder.text(&text),
            Payload::Binary(data) => decoder.binary(data),
        }?;
        Ok(packet.map(|packet| {
            let socket = inner.socket_in(&packet.nsp);
            (packet, socket)
        }))
    }

    /// Records that `socket` joined `nsp`; `false` if the session closed
    /// meanwhile (the socket must not stay).
    pub(crate) fn add(&self, nsp: Arc<str>, socket: S) -> bool {
        let mut inner = self.lock();
        if inner.closed {
            return false;
        }
        inner.joined.push((nsp, socket));
        if let Some(timer) = inner.connect_timer.take() {
            timer.abort();
        }
        true
    }

    /// Keeps the wait of the connect timeout, to stop it at the first join.
    pub(crate) fn set_connect_timer(&self, timer: tokio::task::AbortHandle) {
        self.lock().connect_timer = Some(timer);
    }

    /// Forgets the socket of `nsp`.
    pub(crate) fn remove(&self, nsp: &str) {
        self.lock().joined.retain(|(name, _)| &**name != nsp);
    }

    /// Whether no namespace is joined.
    pub(crate) fn is_empty(&self) -> bool {
        self.lock().joined.is_empty()
    }

    /// Closes: every joined namespace with its socket, and nothing more
    /// may join.
    pub(crate) fn close(&self) -> Vec<(Arc<str>, S)> {
        let mut inner = self.lock();
        inner.closed = true;
        inner.decoder = None;
        if let Some(timer) = inner.connect_timer.take() {
            timer.abort();
        }
        std::mem::take(&mut inner.joined)
    }
}
