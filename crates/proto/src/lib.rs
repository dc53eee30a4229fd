//! sockeye-proto: a sans-I/O WebSocket protocol engine.

mod close;
mod config;
mod connection;
mod error;
pub mod frame;
pub mod handshake;
mod mask;
mod message;
mod output;
mod utf8;

pub use close::{CloseCode, CloseFrame, MAX_REASON_LEN};
pub use config::Config;
pub use connection::{Connection, Event, Role, State, encode_server_frame};
pub use error::{Error, UsageError};
pub use message::{Message, Utf8Bytes};
pub use output::Output;
