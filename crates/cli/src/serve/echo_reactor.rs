//! The echo mode over plain TCP: connections served by the thread's
//! reactor, each an entry in its table rather than a task, so that an idle
//! one costs a few hundred bytes and an echo no task wake-up.

use sockeye::MessageRef;
use sockeye::reactor::{Conn, Ended, Handler};

use super::access::Access;
use super::ending::log_end;
use crate::limits::ConnectionSlot;

/// Echoes every message to its sender.
#[derive(Debug)]
pub(super) struct EchoHandler;

/// What the server keeps per echo connection in the reactor.
#[derive(Debug)]
pub(super) struct EchoData {
    /// The connection's id in the log.
    pub(super) id: u64,
    /// Its place under the limits, released when it ends.
    pub(super) slot: ConnectionSlot,
    /// The access log's record, boxed: one pointer per connection.
    pub(super) access: Option<Box<Access>>,
}

impl Handler for EchoHandler {
    type Data = EchoData;

    fn on_message(&mut self, conn: &mut Conn<'_, EchoData>, message: MessageRef<'_>) {
        if let Some(access) = conn.data().access.as_deref_mut() {
            access.received.add(message.len());
            access.sent.add(message.len());
        }
        // Refused only once a Close went either way: the echo is dropped,
        // as the task's is.
        let _ = conn.send_ref(message);
    }

    fn on_end(&mut self, data: EchoData, ended: Ended) {
        let protocol = ended.protocol().map(str::to_owned);
        let result = ended.into_result();
        let end = result.as_ref();
        let _ = log_end(data.id, end, data.access.as_deref(), protocol.as_deref());
        drop(data.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle echo connection in the reactor is its entry: the engine,
    /// this data and a few timestamps. At 320 bytes or less, with about
    /// 100 of the runtime's for nothing (no task, no registration), the
    /// idle connection stays under 450 bytes (BENCHMARKS.md).
    #[test]
    fn the_per_connection_data_is_small() {
        let size = std::mem::size_of::<EchoData>();
        assert!(size <= 40, "EchoData is {size} bytes");
    }
}
