//! Socket.IO packets and their parsers.
