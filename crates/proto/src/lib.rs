//! sockeye-proto: a sans-I/O WebSocket protocol engine.

mod close;
mod config;
mod error;
pub mod handshake;
mod message;

pub use close::{CloseCode, CloseFrame, MAX_REASON_LEN};
pub use config::Config;
pub use error::{Error, UsageError};
pub use message::{Message, Utf8Bytes};
