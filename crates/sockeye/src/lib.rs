//! sockeye: WebSocket client and server for tokio.

mod client;
mod config;
mod error;
mod server;
mod split;
mod stream;

pub use client::{ClientBuilder, connect};
pub use config::WebSocketConfig;
pub use error::{Error, HandshakeFailure, Rejected, Result, Timeout};
pub use server::{Accept, ServerBuilder, UpgradeRequest, accept};
pub use sockeye_proto::{CloseCode, CloseFrame, Message, Role, State, Utf8Bytes};
pub use split::{WebSocketReader, WebSocketWriter};
pub use stream::WebSocket;

/// The protocol engine this crate drives, for direct use.
pub use sockeye_proto as proto;
