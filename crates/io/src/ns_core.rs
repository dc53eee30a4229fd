//! [`NsCore`]: what every socket of a namespace shares with it: its name,
//! its settings, its adapter, its sockets and its acknowledgement ids.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::adapter::{Adapter, ServerSideReply};
use crate::args::Args;
use crate::config::RecoveryConfig;
use crate::named::{self, Named};
use crate::parser::Parser;
use crate::sid::Sid;

/// A handler of an event another server of the cluster sent
/// (`server_side_emit`): called with the event's arguments, and the way to
/// reply when the sender wants one.
pub(crate) type ServerSideHandler = Arc<dyn Fn(Args, Option<ServerSideReply>) + Send + Sync>;

/// The settings a namespace's sockets use.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) parser: Parser,
    pub(crate) ack_timeout: Duration,
    pub(crate) recovery: Option<RecoveryConfig>,
}

/// A namespace's shared core. Generic over the socket type so that the
/// socket, which points to its namespace, and the namespace, which holds
/// its sockets, need not know each other's modules.
pub(crate) struct NsCore<S> {
    pub(crate) name: Arc<str>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) adapter: Arc<dyn Adapter>,
    members: RwLock<HashMap<Sid, S>>,
    /// The handlers of events other servers send (`on_server_side`), by
    /// event name. Few: a list.
    server_side: RwLock<Named<ServerSideHandler>>,
    /// The next acknowledgement id: one counter per namespace, as in
    /// Node, so that a broadcast's one id never meets a socket's own.
    next_ack: AtomicU64,
    /// The next packet offset, for recovery.
    next_offset: AtomicU64,
    /// What every offset of this namespace starts with: random, so that an
    /// offset from an earlier run of the server never matches.
    offset_prefix: u32,
}

impl<S> std::fmt::Debug for NsCore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsCore")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<S: Clone> NsCore<S> {
    pub(crate) fn new(name: Arc<str>, settings: Arc<Settings>, adapter: Arc<dyn Adapter>) -> Self {
        NsCore {
            name,
            settings,
            adapter,
            members: RwLock::new(HashMap::new()),
            server_side: RwLock::new(Vec::new()),
            next_ack: AtomicU64::new(0),
            next_offset: AtomicU64::new(0),
            offset_prefix: rand::random(),
        }
    }

    /// A fresh packet offset, for recovery.
    pub(crate) fn next_offset(&self) -> String {
        let n = self.next_offset.fetch_add(1, Ordering::Relaxed);
        format!("{:08x}-{n:x}", self.offset_prefix)
    }

    /// A fresh acknowledgement id.
    pub(crate) fn next_ack_id(&self) -> u64 {
        self.next_ack.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn insert(&self, sid: Sid, socket: S) {
        self.members
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(sid, socket);
    }

    pub(crate) fn remove(&self, sid: &Sid) -> Option<S> {
        self.members
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(sid)
    }

    pub(crate) fn get(&self, sid: &Sid) -> Option<S> {
        self.members
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sid)
            .cloned()
    }

    /// The sockets with these ids that are still here.
    pub(crate) fn get_all(&self, sids: &[Sid]) -> Vec<S> {
        let members = self.members.read().unwrap_or_else(PoisonError::into_inner);
        sids.iter()
            .filter_map(|sid| members.get(sid).cloned())
            .collect()
    }

    /// Runs `f` on the sockets by id, under the read lock: `f` must not
    /// add or remove sockets.
    pub(crate) fn with_members<R>(&self, f: impl FnOnce(&HashMap<Sid, S>) -> R) -> R {
        f(&self.members.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Registers the handler of server-side event `event`, replacing an
    /// earlier one.
    pub(crate) fn on_server_side(&self, event: &str, handler: ServerSideHandler) {
        let mut handlers = self
            .server_side
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        named::set(&mut handlers, event, handler);
    }

    /// The handler of server-side event `event`, if any.
    pub(crate) fn server_side_handler(&self, event: &str) -> Option<ServerSideHandler> {
        let handlers = self
            .server_side
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        named::get(&handlers, event).map(Arc::clone)
    }

    pub(crate) fn len(&self) -> usize {
        self.members
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
