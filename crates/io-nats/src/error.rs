//! [`SetupError`]: why adapters could not be made.

/// Why [`NatsAdapters::new`](crate::NatsAdapters::new) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The prefix is not dot-separated subject tokens without wildcards or
    /// white space.
    #[error("invalid subject prefix {0:?}")]
    Prefix(String),
    /// Not called within a tokio runtime.
    #[error("no tokio runtime")]
    NoRuntime,
    /// The broker could not be reached (or the URL is not one).
    #[error("cannot connect to the nats broker")]
    Connect(#[source] async_nats::ConnectError),
    /// With recovery: the stream or the bucket could not be made or found
    /// (is `JetStream` on, `nats-server -js`?).
    #[error("cannot set up jetstream: {what}")]
    JetStream {
        /// Which.
        what: &'static str,
        /// The client's error.
        #[source]
        source: async_nats::Error,
    },
}
