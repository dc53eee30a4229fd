//! [`Nodes`]: the other servers of a namespace, known by their
//! heartbeats.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The most servers remembered at once: a broker (or a peer) sending
/// heartbeats under ever new ids cannot grow the table without end. 4096
/// is far beyond any real cluster.
const MAX_NODES: usize = 4096;

/// The other servers heard from, with when each was last heard.
#[derive(Debug)]
pub(crate) struct Nodes {
    seen: Mutex<HashMap<String, Instant>>,
    timeout: Duration,
}

impl Nodes {
    /// None known; one not heard from for `timeout` is forgotten.
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            seen: Mutex::new(HashMap::new()),
            timeout,
        }
    }

    /// Server `uid` was heard from now.
    pub(crate) fn saw(&self, uid: &str) {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = seen.get_mut(uid) {
            *at = now;
            return;
        }
        if seen.len() >= MAX_NODES {
            seen.retain(|_, at| now.duration_since(*at) <= self.timeout);
            if seen.len() >= MAX_NODES {
                return;
            }
        }
        seen.insert(uid.to_owned(), now);
    }

    /// Server `uid` said goodbye.
    pub(crate) fn gone(&self, uid: &str) {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(uid);
    }

    /// How many other servers were heard from within the timeout.
    pub(crate) fn alive(&self) -> usize {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, at| now.duration_since(*at) <= self.timeout);
        seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_counted_until_they_leave_or_go_quiet() {
        let nodes = Nodes::new(Duration::from_secs(60));
        nodes.saw("a");
        nodes.saw("b");
        nodes.saw("a");
        assert_eq!(nodes.alive(), 2);
        nodes.gone("a");
        assert_eq!(nodes.alive(), 1);
        let quiet = Nodes::new(Duration::ZERO);
        quiet.saw("a");
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(quiet.alive(), 0);
    }
}
