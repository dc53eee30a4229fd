//! [`Hub`]: a server's recovery side: its [`Log`] and the namespaces the
//! reader hands messages to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use super::log::{Log, lock};
use super::state::Sequenced;
use crate::core::Core;

/// The stream and bucket of one server, and its namespaces by name.
#[derive(Debug)]
pub(crate) struct Hub {
    pub(crate) log: Arc<Log>,
    namespaces: Mutex<HashMap<String, Weak<Sequenced>>>,
}

impl Hub {
    /// The hub of `log`, with no namespace yet.
    pub(crate) fn new(log: Log) -> Self {
        Self {
            log: Arc::new(log),
            namespaces: Mutex::new(HashMap::new()),
        }
    }

    /// The recovery state of `core`'s namespace, which the reader now
    /// hands that namespace's messages to.
    pub(crate) fn register(&self, core: Arc<Core>) -> Arc<Sequenced> {
        let nsp = core.nsp.to_string();
        let ns = Arc::new(Sequenced::new(Arc::clone(&self.log), core));
        let mut namespaces = lock(&self.namespaces);
        namespaces.retain(|_, ns| ns.strong_count() > 0);
        namespaces.insert(nsp, Arc::downgrade(&ns));
        ns
    }

    /// The namespace named `nsp`, while its adapter lives.
    pub(crate) fn namespace(&self, nsp: &str) -> Option<Arc<Sequenced>> {
        lock(&self.namespaces).get(nsp).and_then(Weak::upgrade)
    }

    /// Every namespace whose adapter lives.
    pub(crate) fn namespaces(&self) -> Vec<Arc<Sequenced>> {
        lock(&self.namespaces)
            .values()
            .filter_map(Weak::upgrade)
            .collect()
    }
}
