//! The opening handshake (RFC 6455 §4): building and checking requests and responses.
