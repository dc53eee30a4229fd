//! [`BroadcastOperator::emit_with_ack_everywhere`]: a broadcast with
//! acknowledgements to the sockets of every server of the cluster (Node's
//! `io.timeout(t).emitWithAck(...)` with a cluster adapter), and
//! [`ClusterAcks`], what it gives.

use std::future::Future;

use crate::adapter::RemoteAcks;
use crate::args::IntoArgs;
use crate::broadcast::{AckResponse, BroadcastOperator};
use crate::error::EmitError;
use crate::socket::event_packet;

/// The acknowledgements of a broadcast sent to every server's sockets.
#[derive(Debug)]
pub struct ClusterAcks {
    /// This server's sockets, each with its answer (or why there is none).
    pub local: Vec<AckResponse>,
    /// The other servers' sockets' answers (their first argument each).
    pub remote: RemoteAcks,
}

impl BroadcastOperator {
    /// Emits `event` to every socket selected on every server of the
    /// cluster (this one's alone with the local flag or without a shared
    /// adapter), asking each for an acknowledgement; the future gives this
    /// server's sockets' answers as
    /// [`emit_with_ack`](Self::emit_with_ack) does, and the other servers'
    /// as they came, once all answered or the timeout passed.
    ///
    /// # Errors
    ///
    /// [`EmitError`] when the event cannot be encoded.
    pub fn emit_with_ack_everywhere(
        &self,
        event: &str,
        data: impl IntoArgs,
    ) -> Result<impl Future<Output = ClusterAcks> + Send + 'static, EmitError> {
        let args = data.into_args()?;
        let packet = event_packet(&self.ns().name, event, args.clone())?;
        let local = self.emit_with_ack(event, args)?;
        let remote = if self.is_local() {
            None
        } else {
            Some(
                self.ns()
                    .adapter
                    .broadcast_with_ack(&packet, &self.options(), self.ack_timeout()),
            )
        };
        Ok(async move {
            let (local, remote) = match remote {
                Some(remote) => futures_util::future::join(local, remote).await,
                None => (
                    local.await,
                    RemoteAcks {
                        acks: Vec::new(),
                        complete: true,
                    },
                ),
            };
            ClusterAcks { local, remote }
        })
    }
}
