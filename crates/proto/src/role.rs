//! Which end of a connection the engine plays.

/// Which end of the connection this engine plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sent the opening handshake: masks its frames (§5.1).
    Client,
    /// The end that accepted it: never masks, and closes TCP first (§7.1.1).
    Server,
}

impl Role {
    /// The other end.
    pub(crate) fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}
