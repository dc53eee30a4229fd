//! What a broadcast or a request targets, as the adapter writes it (notes
//! §3b: `opts` is `{rooms, except, flags}`).

use rmp::encode::ByteBuf;
use rmpv::Value;
use sockeye_io::adapter::{BroadcastFlags, BroadcastOptions, Room};

use crate::error::Result;
use crate::fields;
use crate::msgpack::write_value;

/// Node's `BroadcastFlags` as they travel: each is present only when the
/// sender set it.
///
/// sockeye-io's [`BroadcastFlags`] carries `volatile` and `local`; the
/// others are kept so that what a Node server sends survives decoding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// Sockets that cannot take the event at once skip it.
    pub volatile: Option<bool>,
    /// Whether the event may be compressed.
    pub compress: Option<bool>,
    /// This server's sockets only (never published by Node's adapter).
    pub local: Option<bool>,
    /// A legacy flag some senders still set.
    pub broadcast: Option<bool>,
    /// A legacy flag some senders still set.
    pub binary: Option<bool>,
    /// The acknowledgement timeout of a broadcast with acks, in ms.
    pub timeout: Option<u64>,
}

impl Flags {
    /// The flags as `(name, value)` pairs in the order written.
    fn entries(&self) -> Vec<(&'static str, Value)> {
        let bools = [
            ("volatile", self.volatile),
            ("compress", self.compress),
            ("local", self.local),
            ("broadcast", self.broadcast),
            ("binary", self.binary),
        ];
        let mut out: Vec<(&'static str, Value)> = bools
            .into_iter()
            .filter_map(|(k, v)| v.map(|b| (k, Value::Boolean(b))))
            .collect();
        if let Some(t) = self.timeout {
            out.push(("timeout", Value::from(t)));
        }
        out
    }

    fn read(value: Option<&Value>) -> Result<Self> {
        let Some(value) = value else {
            return Ok(Self::default());
        };
        let entries = fields::map(value, "flags")?;
        let flag = |key| fields::get(entries, key).and_then(Value::as_bool);
        Ok(Self {
            volatile: flag("volatile"),
            compress: flag("compress"),
            local: flag("local"),
            broadcast: flag("broadcast"),
            binary: flag("binary"),
            timeout: fields::get(entries, "timeout").and_then(fields::as_uint),
        })
    }
}

impl From<BroadcastFlags> for Flags {
    /// Only the flags that are set: Node's operators start from `{}`.
    fn from(flags: BroadcastFlags) -> Self {
        Self {
            volatile: flags.volatile.then_some(true),
            local: flags.local.then_some(true),
            ..Self::default()
        }
    }
}

/// The sockets an operation targets, with its flags: `{rooms, except,
/// flags}` in a broadcast, `{rooms, except}` in a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opts {
    /// Sockets in any of these rooms; none means all.
    pub rooms: Vec<Room>,
    /// Sockets in none of these rooms.
    pub except: Vec<Room>,
    /// How the broadcast goes; requests carry none.
    pub flags: Flags,
}

impl Opts {
    /// sockeye-io's options for these: the flags it knows, the rest
    /// dropped.
    pub fn to_broadcast_options(&self) -> BroadcastOptions {
        BroadcastOptions {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
            flags: BroadcastFlags {
                volatile: self.flags.volatile.unwrap_or(false),
                local: self.flags.local.unwrap_or(false),
            },
        }
    }

    /// `{rooms, except, flags}` as a value.
    pub fn to_value(&self) -> Value {
        fields::object(vec![
            ("rooms", fields::room_array(&self.rooms)),
            ("except", fields::room_array(&self.except)),
            ("flags", fields::object(self.flags.entries())),
        ])
    }

    /// `{rooms, except}` as a value, as requests carry it.
    pub(crate) fn target_value(&self) -> Value {
        fields::object(vec![
            ("rooms", fields::room_array(&self.rooms)),
            ("except", fields::room_array(&self.except)),
        ])
    }

    /// Writes `{rooms, except, flags}` as msgpack.
    pub(crate) fn write(&self, buf: &mut ByteBuf) {
        write_value(buf, &self.to_value());
    }

    /// Reads `{rooms, except, flags?}`; missing lists are empty.
    ///
    /// # Errors
    ///
    /// [`WireError`](crate::WireError) when the value does not have the shape read.
    pub fn read(value: &Value) -> Result<Self> {
        let entries = fields::map(value, "opts")?;
        Ok(Self {
            rooms: fields::rooms(entries, "rooms")?,
            except: fields::rooms(entries, "except")?,
            flags: Flags::read(fields::get(entries, "flags"))?,
        })
    }
}

impl From<&BroadcastOptions> for Opts {
    /// Node writes `except` through a `Set`: a room named twice goes out
    /// once; so does it here.
    fn from(opts: &BroadcastOptions) -> Self {
        Self {
            rooms: dedup(&opts.rooms),
            except: dedup(&opts.except),
            flags: opts.flags.into(),
        }
    }
}

/// The rooms in first-seen order, each once (a JavaScript `Set`).
fn dedup(rooms: &[Room]) -> Vec<Room> {
    let mut seen = std::collections::HashSet::with_capacity(rooms.len());
    rooms
        .iter()
        .filter(|room| seen.insert(&***room))
        .cloned()
        .collect()
}
