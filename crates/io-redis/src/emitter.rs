//! [`RedisEmitter`]: publishes into a cluster on Redis from a process that
//! holds no client connections (a worker, a cron job, a web backend), with
//! the messages of Node's `@socket.io/redis-emitter` (notes §3f), so that
//! sockeye-io and Node servers on the classic adapter both act on them.

use std::sync::Arc;

use sockeye_io::adapter::Room;
use sockeye_io::parser::Packet;
use sockeye_io::{ArgsError, IntoArgs};

use crate::broadcast::Broadcast;
use crate::channels::Channels;
use crate::config::RedisAdapterConfig;
use crate::factory::SetupError;
use crate::link::Link;
use crate::opts::{Flags, Opts};
use crate::request::Request;
use crate::stats::Counters;
use crate::uid::EMITTER_UID;

/// Why an emitter's message was not published.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitterError {
    /// The arguments could not be serialized.
    #[error("cannot encode the arguments")]
    Args(#[source] ArgsError),
    /// The broker could not be reached (a new connection is tried after
    /// a backoff wait, 100 ms doubling to 5 s).
    #[error("the broker cannot be reached")]
    Unreachable,
    /// The broker refused the `PUBLISH` or the connection failed during
    /// it.
    #[error("the broker refused the message")]
    Broker(#[source] redis::RedisError),
}

/// Publishes events and room operations into every server of a cluster on
/// Redis (classic pub/sub mode), without being one of its servers: it owns
/// no sockets and answers no requests. Cheap to clone; `of`, `to`,
/// `except` and `volatile` each give a new emitter with that target.
///
/// ```no_run
/// use sockeye_io_redis::RedisEmitter;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let emitter = RedisEmitter::new("redis://127.0.0.1:6379")?;
/// emitter.to("news").emit("update", "a new edition").await?;
/// emitter.of("/admin").except("quiet").emit("alert", (1, "disk")).await?;
/// emitter.to("news").sockets_join(&["weekly"]).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RedisEmitter {
    link: Arc<Link>,
    key: Arc<str>,
    nsp: Arc<str>,
    rooms: Vec<Room>,
    except: Vec<Room>,
    volatile: bool,
}

impl RedisEmitter {
    /// An emitter to namespace `/` of the cluster on the broker at `url`
    /// (`redis://host:port/db`), with the default key `socket.io`. It
    /// connects when it first publishes.
    ///
    /// # Errors
    ///
    /// [`SetupError::Url`] when `url` is not a Redis URL.
    pub fn new(url: &str) -> Result<Self, SetupError> {
        Self::with_config(url, &RedisAdapterConfig::default())
    }

    /// As [`new`](Self::new), with the cluster's `key` and the
    /// connection's timeout and backoff from `config` (the servers' own
    /// config fits).
    ///
    /// # Errors
    ///
    /// [`SetupError::Url`] when `url` is not a Redis URL.
    pub fn with_config(url: &str, config: &RedisAdapterConfig) -> Result<Self, SetupError> {
        let client = redis::Client::open(url).map_err(SetupError::Url)?;
        let link = Link::new(
            client,
            Arc::new(config.clone()),
            Arc::new(Counters::default()),
        );
        Ok(Self {
            link: Arc::new(link),
            key: config.key.as_str().into(),
            nsp: "/".into(),
            rooms: Vec::new(),
            except: Vec::new(),
            volatile: false,
        })
    }

    /// The same emitter, to namespace `nsp`, with no rooms chosen.
    #[must_use]
    pub fn of(&self, nsp: &str) -> Self {
        Self {
            nsp: nsp.into(),
            rooms: Vec::new(),
            except: Vec::new(),
            ..self.clone()
        }
    }

    /// The same emitter, to the sockets in `room` too (in any of the rooms
    /// chosen; all sockets when none is).
    #[must_use]
    pub fn to(&self, room: impl Into<Room>) -> Self {
        let mut next = self.clone();
        next.rooms.push(room.into());
        next
    }

    /// The same emitter, leaving out the sockets in `room`.
    #[must_use]
    pub fn except(&self, room: impl Into<Room>) -> Self {
        let mut next = self.clone();
        next.except.push(room.into());
        next
    }

    /// The same emitter, whose events a socket that cannot take them at
    /// once may miss.
    #[must_use]
    pub fn volatile(&self) -> Self {
        Self {
            volatile: true,
            ..self.clone()
        }
    }

    /// Emits `event` with `data` (as `emit` on a server takes it) to the
    /// sockets chosen, on every server.
    ///
    /// # Errors
    ///
    /// [`EmitterError`]: arguments that cannot be serialized, or a broker
    /// that cannot be reached or refused it.
    pub async fn emit(&self, event: &str, data: impl IntoArgs) -> Result<(), EmitterError> {
        let args = data.into_args().map_err(EmitterError::Args)?;
        let packet = Packet::event(&*self.nsp, event, args.into_values());
        let opts = Opts {
            flags: Flags {
                volatile: self.volatile.then_some(true),
                ..Flags::default()
            },
            ..self.target()
        };
        let channels = self.channels();
        let bytes = Broadcast::encode(EMITTER_UID, &packet, &opts);
        self.publish(channels.broadcast_to(&self.rooms), bytes)
            .await
    }

    /// Makes the sockets chosen join `rooms`, on every server.
    ///
    /// # Errors
    ///
    /// [`EmitterError`] when the broker cannot be reached or refused it.
    pub async fn sockets_join(&self, rooms: &[&str]) -> Result<(), EmitterError> {
        self.request(Request::RemoteJoin {
            uid: EMITTER_UID.to_owned(),
            opts: self.target(),
            rooms: rooms.iter().map(|&r| Room::from(r)).collect(),
        })
        .await
    }

    /// Makes the sockets chosen leave `rooms`, on every server.
    ///
    /// # Errors
    ///
    /// [`EmitterError`] when the broker cannot be reached or refused it.
    pub async fn sockets_leave(&self, rooms: &[&str]) -> Result<(), EmitterError> {
        self.request(Request::RemoteLeave {
            uid: EMITTER_UID.to_owned(),
            opts: self.target(),
            rooms: rooms.iter().map(|&r| Room::from(r)).collect(),
        })
        .await
    }

    /// Disconnects the sockets chosen, on every server; with `close`,
    /// their connections are closed too.
    ///
    /// # Errors
    ///
    /// [`EmitterError`] when the broker cannot be reached or refused it.
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), EmitterError> {
        self.request(Request::RemoteDisconnect {
            uid: EMITTER_UID.to_owned(),
            opts: self.target(),
            close,
        })
        .await
    }

    /// Sends `event` with `data` to the server-side handlers of every
    /// server (`on_server_side`); no replies come back to an emitter.
    ///
    /// # Errors
    ///
    /// [`EmitterError`]: arguments that cannot be serialized, or a broker
    /// that cannot be reached or refused it.
    pub async fn server_side_emit(
        &self,
        event: &str,
        data: impl IntoArgs,
    ) -> Result<(), EmitterError> {
        let args = data.into_args().map_err(EmitterError::Args)?;
        let mut items = vec![sockeye_io::Value::from(event)];
        items.extend(args.into_values());
        self.request(Request::ServerSideEmit {
            uid: EMITTER_UID.to_owned(),
            request_id: None,
            data: items,
        })
        .await
    }

    /// The rooms chosen and left out, without flags (as requests carry
    /// them).
    fn target(&self) -> Opts {
        Opts {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
            flags: Flags::default(),
        }
    }

    fn channels(&self) -> Channels {
        Channels::new(&self.key, &self.nsp, EMITTER_UID)
    }

    /// Publishes `request` on the namespace's request channel.
    async fn request(&self, request: Request) -> Result<(), EmitterError> {
        let channel = self.channels().request().to_owned();
        self.publish(channel, request.encode()).await
    }

    /// `PUBLISH channel bytes`.
    async fn publish(&self, channel: String, bytes: Vec<u8>) -> Result<(), EmitterError> {
        let mut conn = self
            .link
            .connection()
            .await
            .ok_or(EmitterError::Unreachable)?;
        let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(bytes)
            .query_async(&mut conn)
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) => {
                self.link.lost(&e).await;
                Err(EmitterError::Broker(e))
            }
        }
    }
}
