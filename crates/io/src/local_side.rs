//! This server's side of a namespace, as its adapter sees it: what other
//! servers of the cluster ask of it, done on its own sockets
//! ([`LocalSide`] for the namespace's core).

use crate::adapter::{BroadcastOptions, LocalSide, Room, SocketInfo};
use crate::broadcast::deliver;
use crate::ns_core::NsCore;
use crate::parser::Packet;
use crate::socket::{Socket, encode, split_event};

/// The namespace's own sockets that `opts` selects.
fn selected(ns: &NsCore<Socket>, opts: &BroadcastOptions) -> Vec<Socket> {
    let sids = ns.adapter.select(&opts.rooms, &opts.except);
    ns.get_all(&sids)
}

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
        for socket in selected(self, opts) {
            self.adapter.join(socket.id(), rooms);
        }
    }

    fn leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for socket in selected(self, opts) {
            for room in rooms {
                self.adapter.leave(socket.id(), room);
            }
        }
    }

    fn disconnect(&self, opts: &BroadcastOptions, close: bool) {
        for socket in selected(self, opts) {
            if close {
                socket.close_connection();
            } else {
                socket.disconnect();
            }
        }
    }

    fn sockets(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        selected(self, opts).iter().map(Socket::info).collect()
    }

    fn server_side_event(&self, packet: &Packet) {
        let Some((event, args)) = split_event(packet.data.clone()) else {
            return;
        };
        if let Some(handler) = self.server_side_handler(&event) {
            handler(args);
        }
    }
}
