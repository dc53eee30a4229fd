//! This server's side of a namespace, as its adapter sees it: what other
//! servers of the cluster ask of it, done on its own sockets
//! ([`LocalSide`] for the namespace's core).

use crate::adapter::{BroadcastOptions, LocalSide, Room, ServerSideReply, SocketInfo};
use crate::broadcast::{deliver, disconnect_selected, join_selected, leave_selected, selected};
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
