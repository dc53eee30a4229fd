//! [`Pending`]: this server's requests that wait for the other servers'
//! answers, at most a fixed number at once.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::kind::RequestKind;
use crate::response::Response;

/// The most acknowledgements one broadcast with acks keeps: each is held
/// until the broadcast completes, and however many clients the other
/// servers claim, a broker cannot make this server hold more. A million
/// covers a broadcast to every client of a large cluster.
pub const MAX_ACKS: u64 = 1 << 20;

/// The requests waiting for answers, by request id.
///
/// Most requests complete with one answer per other server. A broadcast
/// with acks ([`RequestKind::Broadcast`]) completes when every other
/// server said how many clients it sent to (its
/// [`BroadcastClientCount`](Response::BroadcastClientCount)) and that many
/// acknowledgements came; only those are kept.
#[derive(Debug)]
pub struct Pending {
    table: Mutex<HashMap<String, Entry>>,
    limit: usize,
}

#[derive(Debug)]
struct Entry {
    kind: RequestKind,
    /// How many answers (servers) complete it.
    expected: usize,
    answers: Vec<Response>,
    /// A broadcast with acks: the servers that gave their client count.
    servers: usize,
    /// A broadcast with acks: the clients they count, all told.
    clients: u64,
    /// Told when the last expected answer is in.
    done: Option<oneshot::Sender<()>>,
}

impl Pending {
    /// No request waiting; at most `limit` at once.
    pub fn new(limit: usize) -> Self {
        Self {
            table: Mutex::new(HashMap::new()),
            limit,
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts waiting for `expected` answers to request `id` of type
    /// `kind`; the receiver is told when they are all in. `None` when
    /// `limit` requests already wait (or the id is taken).
    pub fn open(
        &self,
        id: &str,
        kind: RequestKind,
        expected: usize,
    ) -> Option<oneshot::Receiver<()>> {
        let mut table = self.table();
        if table.len() >= self.limit || table.contains_key(id) {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        table.insert(
            id.to_owned(),
            Entry {
                kind,
                expected,
                answers: Vec::new(),
                servers: 0,
                clients: 0,
                done: Some(tx),
            },
        );
        Some(rx)
    }

    /// The type of request `id`, if it waits.
    pub fn kind_of(&self, id: &str) -> Option<RequestKind> {
        self.table().get(id).map(|entry| entry.kind)
    }

    /// Keeps an answer to a waiting request; answers to no waiting
    /// request, and those beyond the expected count, are dropped.
    pub fn answer(&self, response: Response) {
        let mut table = self.table();
        let Some(entry) = table.get_mut(response.request_id()) else {
            return;
        };
        match (entry.kind, &response) {
            (RequestKind::Broadcast, Response::BroadcastClientCount { client_count, .. }) => {
                if entry.servers < entry.expected {
                    entry.servers += 1;
                    entry.clients = entry.clients.saturating_add(*client_count).min(MAX_ACKS);
                }
            }
            (RequestKind::Broadcast, Response::BroadcastAck { .. }) => {
                if (entry.answers.len() as u64) < entry.clients {
                    entry.answers.push(response);
                }
            }
            (RequestKind::Broadcast, _) => {}
            _ => {
                if entry.answers.len() < entry.expected {
                    entry.answers.push(response);
                }
            }
        }
        if entry.is_complete() {
            if let Some(done) = entry.done.take() {
                let _ = done.send(());
            }
        }
    }

    /// Stops waiting for request `id`: the answers received, and whether
    /// they were all in.
    pub fn close(&self, id: &str) -> (Vec<Response>, bool) {
        match self.table().remove(id) {
            Some(entry) => {
                let complete = entry.is_complete();
                (entry.answers, complete)
            }
            None => (Vec::new(), false),
        }
    }
}

impl Entry {
    /// Whether every answer it waits for is in.
    fn is_complete(&self) -> bool {
        match self.kind {
            RequestKind::Broadcast => {
                self.servers >= self.expected && self.answers.len() as u64 >= self.clients
            }
            _ => self.answers.len() >= self.expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(id: &str) -> Response {
        Response::Done {
            request_id: id.to_owned(),
        }
    }

    #[test]
    fn a_request_completes_with_its_expected_answers() {
        let pending = Pending::new(2);
        let mut rx = pending.open("a", RequestKind::RemoteFetch, 2).unwrap();
        assert_eq!(pending.kind_of("a"), Some(RequestKind::RemoteFetch));
        pending.answer(done("a"));
        pending.answer(done("zz"));
        assert!(rx.try_recv().is_err());
        pending.answer(done("a"));
        assert!(rx.try_recv().is_ok());
        let (answers, complete) = pending.close("a");
        assert_eq!((answers.len(), complete), (2, true));
        assert_eq!(pending.kind_of("a"), None);
    }

    #[test]
    fn a_broadcast_with_acks_completes_with_every_count_and_that_many_acks() {
        let pending = Pending::new(1);
        let mut rx = pending.open("b", RequestKind::Broadcast, 2).unwrap();
        let count = |n| Response::BroadcastClientCount {
            request_id: "b".into(),
            client_count: n,
        };
        let ack = || Response::BroadcastAck {
            request_id: "b".into(),
            packet: rmpv::Value::Nil,
        };
        pending.answer(count(1));
        pending.answer(ack());
        assert!(rx.try_recv().is_err(), "one server has not counted yet");
        pending.answer(ack());
        pending.answer(count(1));
        assert!(
            rx.try_recv().is_err(),
            "a second ack arrived before its count: dropped"
        );
        pending.answer(ack());
        assert!(rx.try_recv().is_ok());
        pending.answer(ack());
        pending.answer(count(5));
        let (answers, complete) = pending.close("b");
        assert_eq!((answers.len(), complete), (2, true));
    }

    #[test]
    fn no_more_than_the_limit_wait_at_once() {
        let pending = Pending::new(1);
        let _a = pending.open("a", RequestKind::AllRooms, 1).unwrap();
        assert!(pending.open("b", RequestKind::AllRooms, 1).is_none());
        let (answers, complete) = pending.close("a");
        assert!(answers.is_empty() && !complete);
        assert!(pending.open("b", RequestKind::AllRooms, 1).is_some());
    }
}
