//! Server-side events that want replies: [`Namespace::on_server_side_with_ack`]
//! answers the other servers' [`Namespace::server_side_emit_with_ack`]
//! (Node's `serverSideEmitWithAck` and the handler's callback).

use std::future::Future;
use std::sync::Arc;

use rmpv::Value;

use crate::adapter::ServerSideReplies;
use crate::args::{Args, IntoArgs};
use crate::error::EmitError;
use crate::namespace::Namespace;
use crate::task::run;

impl Namespace {
    /// Runs `handler` with the arguments of each `event` another server of
    /// the cluster sends, and when the sender wants replies
    /// ([`server_side_emit_with_ack`](Self::server_side_emit_with_ack), or
    /// Node's `serverSideEmitWithAck`), sends it what the handler's future
    /// gives. Replaces an earlier handler of the same event, as
    /// [`on_server_side`](Self::on_server_side) does.
    pub fn on_server_side_with_ack<F, Fut>(&self, event: &str, handler: F) -> &Namespace
    where
        F: Fn(Args) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Value> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.core().on_server_side(
            event,
            Arc::new(move |args, reply| {
                let answer = handler(args);
                run(async move {
                    let value = answer.await;
                    if let Some(reply) = reply {
                        reply.send(value);
                    }
                });
            }),
        );
        self
    }

    /// Sends `event` to the other servers of the cluster and waits for the
    /// reply of each one's
    /// [`on_server_side_with_ack`](Self::on_server_side_with_ack) handler
    /// (or Node handler's callback), up to the adapter's request timeout.
    /// Without an adapter shared by several servers there is nobody to
    /// ask: no replies, complete.
    ///
    /// # Errors
    ///
    /// [`EmitError`] when the arguments do not serialize.
    pub async fn server_side_emit_with_ack(
        &self,
        event: &str,
        data: impl IntoArgs,
    ) -> Result<ServerSideReplies, EmitError> {
        let packet = crate::socket::event_packet(self.name(), event, data)?;
        Ok(self.core().adapter.server_side_emit_with_ack(&packet).await)
    }
}
