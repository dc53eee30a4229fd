//! Engine.IO: packets, sessions, transports and the HTTP service.
