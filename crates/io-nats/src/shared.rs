//! [`Shared`]: what the adapters of one server's namespaces share: the
//! NATS client, the server's node id, the publishing queue, the counters
//! and, with recovery, the stream.

use std::sync::Arc;

use crate::config::NatsAdapterConfig;
use crate::publisher::Publisher;
use crate::recovery::Hub;
use crate::stats::Counters;

/// One server's side of the broker.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) client: async_nats::Client,
    /// This server's node id, the same in every namespace.
    pub(crate) uid: String,
    pub(crate) config: Arc<NatsAdapterConfig>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) publisher: Publisher,
    /// With recovery: the stream and the sessions.
    pub(crate) log: Option<Arc<Hub>>,
    pub(crate) runtime: tokio::runtime::Handle,
}
