//! The open sessions of an engine, by id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use super::socket::EngineSocket;

/// The open sessions, by sid.
#[derive(Debug)]
pub(crate) struct Sessions<D> {
    /// The map; held only to look up, insert or remove.
    map: Mutex<HashMap<Box<str>, Arc<EngineSocket<D>>>>,
}

impl<D> Sessions<D> {
    /// No sessions.
    pub(crate) fn new() -> Self {
        Sessions {
            map: Mutex::new(HashMap::new()),
        }
    }

    /// The session with id `sid`, if open.
    pub(crate) fn get(&self, sid: &str) -> Option<Arc<EngineSocket<D>>> {
        self.lock().get(sid).cloned()
    }

    /// How many sessions are open.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Adds a session.
    pub(crate) fn insert(&self, socket: Arc<EngineSocket<D>>) {
        self.lock().insert(socket.id().into(), socket);
    }

    /// Removes a session.
    pub(crate) fn remove(&self, sid: &str) {
        self.lock().remove(sid);
    }

    /// Locks the map; its data stays consistent even if a holder panicked.
    fn lock(&self) -> MutexGuard<'_, HashMap<Box<str>, Arc<EngineSocket<D>>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A new session id: 15 random bytes (120 bits, unguessable) as 20
/// URL-safe base64 characters, the shape of Node's ids.
pub(crate) fn new_sid() -> Box<str> {
    let mut bytes = [0_u8; 15];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes).into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Session ids: 20 URL-safe characters, different each time.
    #[test]
    fn sids_are_url_safe_and_distinct() {
        let (a, b) = (new_sid(), new_sid());
        assert_eq!(a.len(), 20);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a, b);
    }
}
