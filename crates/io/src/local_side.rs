//! This server's side of a namespace, as its adapter sees it: what other
//! servers of the cluster ask of it, done on its own sockets
//! ([`LocalSide`] for the namespace's core).

use std::sync::Arc;
use std::time::Duration;

use rmpv::Value;

use crate::adapter::{BroadcastOptions, LocalSide, Room, ServerSideReply, SocketInfo};
use crate::broadcast::{deliver, disconnect_selected, join_selected, leave_selected, selected};
use crate::engine::Payload;
use crate::ns_core::NsCore;
use crate::parser::Packet;
use crate::socket::{Socket, encode, split_event};

impl LocalSide for NsCore<Socket> {
    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        // Nothing here keeps it for recovery: the server that sent it did.
        match encode(self.settings.parser, packet) {
            Ok(payloads) => deliver(
                self,
                &opts.rooms,
                &opts.except,
                opts.flags.volatile,
                payloads,
            ),
            Err(e) => {
                tracing::debug!(nsp = %self.name, error = %e, "a broadcast from another server could not be encoded");
            }
        }
    }

    fn encode(&self, packet: &Packet) -> Option<Vec<Payload>> {
        encode(self.settings.parser, packet)
            .inspect_err(|e| tracing::debug!(nsp = %self.name, error = %e, "a restored packet could not be encoded"))
            .ok()
    }

    fn join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        join_selected(self, &opts.rooms, &opts.except, rooms);
    }

    fn leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        leave_selected(self, &opts.rooms, &opts.except, rooms);
    }

    fn disconnect(&self, opts: &BroadcastOptions, close: bool) {
        disconnect_selected(self, &opts.rooms, &opts.except, close);
    }

    fn sockets(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        selected(self, &opts.rooms, &opts.except)
            .iter()
            .map(Socket::info)
            .collect()
    }

    fn broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
        on_count: Box<dyn FnOnce(usize) + Send>,
        on_ack: Arc<dyn Fn(Value) + Send + Sync>,
    ) {
        let mut packet = packet.clone();
        let id = self.next_ack_id();
        packet.id = Some(id);
        let payloads = match encode(self.settings.parser, &packet) {
            Ok(payloads) => payloads,
            Err(e) => {
                tracing::debug!(nsp = %self.name, error = %e, "a broadcast with acks from another server could not be encoded");
                on_count(0);
                return;
            }
        };
        // Every socket selected counts, as with Node, sent or not: one that
        // could not take it answers nobody, and the sender's wait ends at
        // its timeout.
        let waits: Vec<_> = selected(self, &opts.rooms, &opts.except)
            .into_iter()
            .map(|socket| {
                let answer = socket.expect_ack(id);
                if let Err(e) = socket.send_payloads(payloads.iter().cloned()) {
                    tracing::debug!(socket = %socket.id(), error = %e, "broadcast with acks not delivered");
                }
                (socket, answer)
            })
            .collect();
        // The count goes out before any acknowledgement can: those are
        // handed on only by the task spawned below.
        on_count(waits.len());
        if waits.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        // One task per broadcast, ending by `timeout` at the latest (or
        // when the last socket answered or left).
        runtime.spawn(futures_util::future::join_all(waits.into_iter().map(
            move |(socket, answer)| {
                let on_ack = Arc::clone(&on_ack);
                async move {
                    if let Ok(args) = socket.await_ack(id, answer, timeout).await {
                        on_ack(args.into_values().into_iter().next().unwrap_or(Value::Nil));
                    }
                }
            },
        )));
    }

    fn server_side_event(&self, packet: &Packet) {
        let Some((event, args)) = split_event(packet.data.clone()) else {
            return;
        };
        if let Some(handler) = self.server_side_handler(&event) {
            handler(args, None);
        }
    }

    fn server_side_event_with_ack(&self, packet: &Packet, reply: ServerSideReply) {
        let Some((event, args)) = split_event(packet.data.clone()) else {
            return;
        };
        if let Some(handler) = self.server_side_handler(&event) {
            handler(args, Some(reply));
        }
    }
}
