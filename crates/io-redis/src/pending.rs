//! [`Pending`]: this server's requests that wait for the other servers'
//! answers, at most a fixed number at once.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::kind::RequestKind;
use crate::response::Response;

/// The requests waiting for answers, by request id.
#[derive(Debug)]
pub(crate) struct Pending {
    table: Mutex<HashMap<String, Entry>>,
    limit: usize,
}

#[derive(Debug)]
struct Entry {
    kind: RequestKind,
    /// How many answers complete it.
    expected: usize,
    answers: Vec<Response>,
    /// Told when the last expected answer is in.
    done: Option<oneshot::Sender<()>>,
}

impl Pending {
    /// No request waiting; at most `limit` at once.
    pub(crate) fn new(limit: usize) -> Self {
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
    pub(crate) fn open(
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
                done: Some(tx),
            },
        );
        Some(rx)
    }

    /// The type of request `id`, if it waits.
    pub(crate) fn kind_of(&self, id: &str) -> Option<RequestKind> {
        self.table().get(id).map(|entry| entry.kind)
    }

    /// Keeps an answer to a waiting request; answers to no waiting
    /// request, and those beyond the expected count, are dropped.
    pub(crate) fn answer(&self, response: Response) {
        let mut table = self.table();
        let Some(entry) = table.get_mut(response.request_id()) else {
            return;
        };
        if entry.answers.len() >= entry.expected {
            return;
        }
        entry.answers.push(response);
        if entry.answers.len() >= entry.expected {
            if let Some(done) = entry.done.take() {
                let _ = done.send(());
            }
        }
    }

    /// Stops waiting for request `id`: the answers received, and whether
    /// they were all in.
    pub(crate) fn close(&self, id: &str) -> (Vec<Response>, bool) {
        match self.table().remove(id) {
            Some(entry) => {
                let complete = entry.answers.len() >= entry.expected;
                (entry.answers, complete)
            }
            None => (Vec::new(), false),
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
    fn no_more_than_the_limit_wait_at_once() {
        let pending = Pending::new(1);
        let _a = pending.open("a", RequestKind::AllRooms, 1).unwrap();
        assert!(pending.open("b", RequestKind::AllRooms, 1).is_none());
        let (answers, complete) = pending.close("a");
        assert!(answers.is_empty() && !complete);
        assert!(pending.open("b", RequestKind::AllRooms, 1).is_some());
    }
}
