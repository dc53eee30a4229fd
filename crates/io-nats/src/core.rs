//! [`Core`]: what every part of one namespace's adapter shares: its name,
//! the rooms of this server's sockets, and this server's side of the
//! namespace.

use std::sync::{Arc, OnceLock, Weak};

use sockeye_io::adapter::{LocalAdapter, LocalSide};

/// One namespace, as the adapter's parts see it.
pub(crate) struct Core {
    pub(crate) nsp: Arc<str>,
    pub(crate) rooms: LocalAdapter,
    pub(crate) local: OnceLock<Weak<dyn LocalSide>>,
}

impl Core {
    /// Namespace `nsp`, with no socket yet.
    pub(crate) fn new(nsp: &str) -> Self {
        Self {
            nsp: nsp.into(),
            rooms: LocalAdapter::new(),
            local: OnceLock::new(),
        }
    }

    /// This server's side of the namespace, while it lives.
    pub(crate) fn local(&self) -> Option<Arc<dyn LocalSide>> {
        self.local.get().and_then(Weak::upgrade)
    }
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("nsp", &self.nsp)
            .finish_non_exhaustive()
    }
}
