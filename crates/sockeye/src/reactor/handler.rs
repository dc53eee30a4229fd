//! What an application gives a [`Reactor`](super::run::Reactor): a
//! [`Handler`] with its callbacks, the [`Conn`] a callback acts on, and
//! [`Ended`], how a connection ended.

use std::time::Instant;

use sockeye_proto::{CloseCode, CloseFrame, Connection, Message, MessageRef, State};

use crate::error::{Error, Result};

/// The callbacks of a reactor's connections, all called on the reactor's
/// task, one at a time.
///
/// Each connection carries a value of [`Data`](Self::Data), given when it
/// is added and handed back by [`on_end`](Self::on_end). Keep it small: it
/// is part of every connection's footprint.
///
/// Callbacks run inside the reactor's loop: one that blocks or works long
/// holds up every connection of the reactor. Hand long work to a task and
/// keep the callbacks short.
pub trait Handler: 'static {
    /// What the application keeps per connection.
    type Data: 'static;

    /// The connection joined the reactor. Sends queued here leave with
    /// the first write. Does nothing by default.
    fn on_open(&mut self, conn: &mut Conn<'_, Self::Data>) {
        let _ = conn;
    }

    /// A whole message arrived. Replies sent here leave together with the
    /// other replies to the same read, in one write.
    ///
    /// A message that arrived whole in one read is lent from the reactor's
    /// read buffer, with no copy and no allocation; keep it beyond the
    /// callback with [`MessageRef::into_message`]. Echo it with
    /// [`Conn::send_ref`].
    fn on_message(&mut self, conn: &mut Conn<'_, Self::Data>, message: MessageRef<'_>);

    /// The connection ended and its socket is closed. Called once per
    /// connection, with its data.
    fn on_end(&mut self, data: Self::Data, ended: Ended);
}

/// One connection, lent to a [`Handler`] callback.
#[derive(Debug)]
pub struct Conn<'a, D> {
    pub(super) engine: &'a mut Connection,
    pub(super) data: &'a mut D,
    pub(super) protocol: Option<&'a str>,
    pub(super) at: Instant,
}

impl<D> Conn<'_, D> {
    /// Queues a message; it leaves with the next write, at the end of the
    /// callback's turn at the latest.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] once a Close was sent or received, or for a text
    /// message that is not valid UTF-8.
    pub fn send(&mut self, message: Message) -> Result<()> {
        self.engine.send(message).map_err(Error::Usage)
    }

    /// Queues a message that may borrow its payload (a received one, or
    /// the caller's bytes): a short one is copied next to its frame
    /// header, a borrowed long one copied once, an owned one queued as
    /// [`send`](Self::send) does.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub fn send_ref(&mut self, message: MessageRef<'_>) -> Result<()> {
        self.engine.send_ref(message).map_err(Error::Usage)
    }

    /// Starts the closing handshake with `code` and `reason`; the
    /// connection ends when the peer answers (a client's, once the server
    /// then closes TCP), or after the close timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] if a Close was already sent, or for a code that
    /// may not be sent or a reason over 123 bytes.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        self.engine.close(code, reason).map_err(Error::Usage)
    }

    /// The application's data for this connection.
    pub fn data(&mut self) -> &mut D {
        self.data
    }

    /// When this turn of the reactor began: its clock is read once per
    /// turn, after the wait for events, so every message of one read
    /// shares the reading. Cheaper than [`Instant::now`] per message, and
    /// as precise as the turn is short (the time to serve the sockets that
    /// were ready together).
    pub fn now(&self) -> Instant {
        self.at
    }

    /// The subprotocol agreed in the opening handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol
    }

    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        self.engine.state()
    }

    /// Bytes queued and not yet written to the socket.
    pub fn buffered_amount(&self) -> usize {
        self.engine.output_len()
    }
}

/// How a reactor's connection ended, given to [`Handler::on_end`].
#[derive(Debug)]
pub struct Ended {
    pub(super) close: Option<CloseFrame>,
    pub(super) error: Option<Error>,
    pub(super) protocol: Option<Box<str>>,
}

impl Ended {
    /// The peer's Close frame, after a closing handshake.
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.close.as_ref()
    }

    /// Why the connection failed, if it did: a protocol violation
    /// ([`Error::Protocol`]), a time limit ([`Error::Timeout`]), an I/O
    /// error, or [`Error::AbnormalClosure`] when the stream ended without
    /// a closing handshake.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// The subprotocol the connection used, if one was agreed.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The code of the peer's Close after a clean end, or the error.
    ///
    /// # Errors
    ///
    /// The connection failed (see [`error`](Self::error)).
    pub fn into_result(self) -> Result<Option<CloseCode>> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.close.map(|frame| frame.code)),
        }
    }
}
