//! [`Registry`]: the namespaces of a server, those named in advance and
//! those made on demand by dynamic namespaces.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use rmpv::Value;

use crate::adapter::{Adapter, LocalAdapter, RecoveryLimits};
use crate::config::RecoveryConfig;
use crate::namespace::{DynamicNamespace, Handlers, Namespace};
use crate::ns_core::Settings;

/// Decides whether a name belongs to a dynamic namespace, given the
/// CONNECT's auth.
type Matcher = Box<dyn Fn(&str, &Value) -> bool + Send + Sync>;

/// A dynamic namespace: the names it accepts and the handlers its
/// children share.
struct Dynamic {
    matches: Matcher,
    handlers: Arc<Handlers>,
}

/// Makes the adapter of each new namespace, given its name.
pub(crate) type AdapterFactory = Arc<dyn Fn(&str) -> Arc<dyn Adapter> + Send + Sync>;

/// The namespaces of one server.
pub(crate) struct Registry {
    pub(crate) settings: Arc<Settings>,
    adapters: AdapterFactory,
    named: RwLock<HashMap<Arc<str>, Namespace>>,
    dynamic: RwLock<Vec<Dynamic>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    pub(crate) fn new(settings: Arc<Settings>, adapters: Option<AdapterFactory>) -> Registry {
        Registry {
            adapters: adapters.unwrap_or_else(|| local_adapters(settings.recovery)),
            settings,
            named: RwLock::new(HashMap::new()),
            dynamic: RwLock::new(Vec::new()),
        }
    }

    /// The namespace `name`, made if it does not exist.
    pub(crate) fn of(&self, name: &str) -> Namespace {
        let name = normalize(name);
        if let Some(ns) = self.get(&name) {
            return ns;
        }
        self.insert(name, None)
    }

    /// The namespace `name` if it exists.
    pub(crate) fn get(&self, name: &str) -> Option<Namespace> {
        self.named
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The namespace a client asks for: an existing one, or a child of
    /// the first dynamic namespace that accepts the name and auth.
    pub(crate) fn resolve(&self, name: &str, auth: &Value) -> Option<Namespace> {
        if let Some(ns) = self.get(name) {
            return Some(ns);
        }
        let handlers = self
            .dynamic
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|dynamic| (dynamic.matches)(name, auth))
            .map(|dynamic| Arc::clone(&dynamic.handlers))?;
        Some(self.insert(name.into(), Some(handlers)))
    }

    /// Adds a dynamic namespace: names (with the CONNECT's auth) that
    /// `matches` accepts become namespaces on first use, sharing the
    /// handlers of the returned [`DynamicNamespace`].
    pub(crate) fn add_dynamic(
        &self,
        matches: impl Fn(&str, &Value) -> bool + Send + Sync + 'static,
    ) -> DynamicNamespace {
        let handlers = Arc::new(Handlers::default());
        self.dynamic
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Dynamic {
                matches: Box::new(matches),
                handlers: Arc::clone(&handlers),
            });
        DynamicNamespace::new(handlers)
    }

    /// Makes `name` unless a racing call made it first.
    fn insert(&self, name: Arc<str>, handlers: Option<Arc<Handlers>>) -> Namespace {
        let mut named = self.named.write().unwrap_or_else(PoisonError::into_inner);
        named
            .entry(Arc::clone(&name))
            .or_insert_with(|| {
                let adapter = (self.adapters)(&name);
                let ns = Namespace::new(name, Arc::clone(&self.settings), adapter, handlers);
                ns.bind_adapter();
                ns
            })
            .clone()
    }

    /// Every namespace made so far.
    pub(crate) fn all(&self) -> Vec<Namespace> {
        self.named
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

/// Makes a [`LocalAdapter`] per namespace, keeping what `recovery` asks.
fn local_adapters(recovery: Option<RecoveryConfig>) -> AdapterFactory {
    Arc::new(move |_: &str| -> Arc<dyn Adapter> {
        match recovery {
            Some(recovery) => Arc::new(LocalAdapter::with_recovery(RecoveryLimits {
                max_age: recovery.max_disconnection_duration,
                max_packets: recovery.max_packets,
                max_packet_bytes: recovery.max_packet_bytes,
                max_sessions: recovery.max_sessions,
            })),
            None => Arc::new(LocalAdapter::new()),
        }
    })
}

/// A namespace name as clients send it: with its leading `/`.
fn normalize(name: &str) -> Arc<str> {
    if name.starts_with('/') {
        name.into()
    } else {
        format!("/{name}").into()
    }
}
