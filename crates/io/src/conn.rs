//! [`ConnState`]: what the Socket.IO layer keeps per Engine.IO session:
//! the packet decoder and the namespaces the client joined on it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::engine::Payload;
use crate::parser::{Decoder, Packet, ParseError};
use crate::sid::Sid;

/// The Socket.IO state of one Engine.IO session.
#[derive(Debug, Default)]
pub struct ConnState {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Set when the session opens, with the configured parser.
    decoder: Option<Decoder>,
    /// The namespaces joined, each with its socket's id. Few: a list.
    joined: Vec<(Arc<str>, Sid)>,
    /// The session closed: nothing joins any more.
    closed: bool,
    /// The wait that closes the session if no namespace is joined in
    /// time; stopped at the first join, so that it holds nothing after.
    connect_timer: Option<tokio::task::AbortHandle>,
}

impl ConnState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts decoding with `decoder`.
    pub(crate) fn set_decoder(&self, decoder: Decoder) {
        self.lock().decoder = Some(decoder);
    }

    /// Feeds an Engine.IO message to the decoder: a whole packet, once
    /// its attachments (if any) have all come.
    pub(crate) fn decode(&self, payload: Payload) -> Result<Option<Packet>, ParseError> {
        let mut inner = self.lock();
        let Some(decoder) = inner.decoder.as_mut() else {
            return Ok(None);
        };
        match payload {
            Payload::Text(text) => decoder.text(&text),
            Payload::Binary(data) => decoder.binary(data),
        }
    }

    /// The socket connected to `nsp` on this session, if any.
    pub(crate) fn socket_in(&self, nsp: &str) -> Option<Sid> {
        self.lock()
            .joined
            .iter()
            .find(|(name, _)| &**name == nsp)
            .map(|(_, sid)| sid.clone())
    }

    /// Records that `sid` joined `nsp`; `false` if the session closed
    /// meanwhile (the socket must not stay).
    pub(crate) fn add(&self, nsp: Arc<str>, sid: Sid) -> bool {
        let mut inner = self.lock();
        if inner.closed {
            return false;
        }
        inner.joined.push((nsp, sid));
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
    pub(crate) fn close(&self) -> Vec<(Arc<str>, Sid)> {
        let mut inner = self.lock();
        inner.closed = true;
        inner.decoder = None;
        if let Some(timer) = inner.connect_timer.take() {
            timer.abort();
        }
        std::mem::take(&mut inner.joined)
    }
}
