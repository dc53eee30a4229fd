//! [`Hub`]: what every part of the hub shares, and [`Hub::deliver`], the
//! one path by which an event reaches a room's Socket.IO clients (on
//! every hub of the cluster) and SSE subscribers (on every hub too, by a
//! server-side event to the others).

use std::sync::Arc;

use sockeye_io::{Args, SocketIo};

use super::adapter::Cluster;
use super::auth::Verifier;
use super::metrics::{self, Extra, Metrics, Reach};
use super::settings::Settings;
use super::sse::SseHub;

/// The server-side event by which a hub tells the others of the cluster
/// to feed an event to their SSE subscribers.
pub(crate) const SSE_RELAY: &str = "sockeye-hub:sse";

/// The hub's shared state.
#[derive(Clone, Debug)]
pub(crate) struct Hub {
    /// The Socket.IO server.
    pub(crate) io: SocketIo,
    /// The settings.
    pub(crate) settings: Arc<Settings>,
    /// The token verifier; `None` runs open.
    pub(crate) auth: Option<Arc<Verifier>>,
    /// The SSE subscribers and room histories.
    pub(crate) sse: Arc<SseHub>,
    /// The counters.
    pub(crate) metrics: Arc<Metrics>,
    /// The adapters, when the hub is one of a cluster.
    pub(crate) adapters: Option<Cluster>,
}

/// One event to deliver.
#[derive(Debug)]
pub(crate) struct Delivery<'a> {
    /// The namespace.
    pub(crate) ns: &'a str,
    /// The rooms; empty for the whole namespace.
    pub(crate) rooms: &'a [String],
    /// Rooms whose members are left out.
    pub(crate) except: &'a [String],
    /// The event's name.
    pub(crate) event: &'a str,
    /// Its arguments, as JSON values.
    pub(crate) args: &'a [serde_json::Value],
}

impl Hub {
    /// Whether `ns` is one the hub serves.
    pub(crate) fn serves(&self, ns: &str) -> bool {
        self.settings.namespaces.iter().any(|n| n.name == ns)
    }

    /// Sends `delivery` to the Socket.IO clients of its rooms on every
    /// hub (through the adapter), leaving out `sender` when given, and to
    /// the SSE subscribers of this hub and, through a server-side event,
    /// of the others.
    pub(crate) fn deliver(
        &self,
        delivery: &Delivery<'_>,
        sender: Option<&sockeye_io::Socket>,
    ) -> Result<(), String> {
        let mut values = Vec::with_capacity(delivery.args.len());
        for arg in delivery.args {
            values.push(sockeye_io::to_value(arg).map_err(|e| e.to_string())?);
        }
        let args = Args::from_values(values);
        let mut op = match sender {
            Some(socket) => socket.broadcast(),
            None => self.io.of(delivery.ns).broadcast(),
        };
        if !delivery.rooms.is_empty() {
            op = op.to(delivery.rooms.to_vec());
        }
        if !delivery.except.is_empty() {
            op = op.except(delivery.except.to_vec());
        }
        op.emit(delivery.event, args).map_err(|e| e.to_string())?;
        let json = serde_json::to_string(delivery.args).map_err(|e| e.to_string())?;
        metrics::bump(&self.metrics.packets_out);
        metrics::add(&self.metrics.bytes_out, json.len());
        self.sse.publish(
            delivery.ns,
            delivery.rooms,
            delivery.except,
            delivery.event,
            &json,
        );
        let relay = (
            delivery.ns.to_owned(),
            delivery.rooms.to_vec(),
            delivery.except.to_vec(),
            delivery.event.to_owned(),
            json,
        );
        // Alone (in memory), there is no other hub to tell.
        if self.adapters.is_some() {
            self.io
                .server_side_emit(SSE_RELAY, relay)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Feeds this hub's SSE subscribers what another hub relayed.
    pub(crate) fn on_relay(&self, args: &Args) {
        type Relay = (String, Vec<String>, Vec<String>, String, String);
        match args.get::<Relay>(0) {
            Ok((ns, rooms, except, event, json)) if json.len() <= self.settings.max_payload => {
                self.sse.publish(&ns, &rooms, &except, &event, &json);
            }
            Ok(_) => {
                tracing::warn!("dropped an SSE relay from another hub: over the payload limit");
            }
            Err(e) => tracing::warn!(error = %e, "dropped a malformed SSE relay from another hub"),
        }
    }

    /// The rooms held here, the adapter's fault counters and a round trip
    /// to the broker, timed now, for `/metrics`.
    pub(crate) async fn extra_metrics(&self) -> Extra {
        let rooms = self
            .settings
            .namespaces
            .iter()
            .map(|ns| {
                let ns = self.io.of(&ns.name);
                // Each socket's own room is not counted.
                ns.rooms().len().saturating_sub(ns.len())
            })
            .sum();
        let reach = match &self.adapters {
            None => Reach::Alone,
            Some(adapters) => adapters
                .round_trip()
                .await
                .map_or(Reach::Unreachable, Reach::RoundTrip),
        };
        let broker = self
            .adapters
            .as_ref()
            .map(Cluster::counters)
            .unwrap_or_default();
        Extra {
            rooms,
            broker,
            reach,
        }
    }
}
