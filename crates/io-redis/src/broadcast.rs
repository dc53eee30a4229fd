//! The broadcast message: msgpack `[uid, packet, opts]`, published on the
//! namespace's or the room's broadcast channel (notes §3b: "Broadcast
//! payload").

use rmp::encode::ByteBuf;
use rmpv::Value;
use sockeye_io::parser::Packet;

use crate::error::{Result, WireError};
use crate::msgpack::{read_value, write_str};
use crate::opts::Opts;
use crate::packet::{read_packet, write_packet};

/// One broadcast as another server published it.
#[derive(Clone, Debug, PartialEq)]
pub struct Broadcast {
    /// The node id of the server that sent it; a server drops its own.
    pub uid: String,
    /// The packet, an EVENT.
    pub packet: Packet,
    /// Which sockets get it, and how.
    pub opts: Opts,
}

impl Broadcast {
    /// Encodes a broadcast as notepack encodes Node's `[uid, packet,
    /// opts]`; the packet is written in place, not copied.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockeye_io::adapter::BroadcastOptions;
    /// use sockeye_io::parser::Packet;
    /// use sockeye_io_redis::{Broadcast, Opts};
    ///
    /// let packet = Packet::event("/", "hi", vec![]);
    /// let opts = Opts::from(&BroadcastOptions::default());
    /// let bytes = Broadcast::encode("Ab3_-z", &packet, &opts);
    /// let back = Broadcast::decode(&bytes).unwrap();
    /// assert_eq!((back.uid.as_str(), back.packet), ("Ab3_-z", packet));
    /// ```
    pub fn encode(uid: &str, packet: &Packet, opts: &Opts) -> Vec<u8> {
        let mut buf = ByteBuf::with_capacity(64);
        // A fixarray of three: cannot fail.
        let _ = rmp::encode::write_array_len(&mut buf, 3);
        write_str(&mut buf, uid);
        write_packet(&mut buf, packet);
        opts.write(&mut buf);
        buf.into_vec()
    }

    /// Decodes a broadcast.
    ///
    /// # Errors
    ///
    /// [`WireError`] when the bytes are not one msgpack array of a string,
    /// a packet object and an opts object.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let value = read_value(bytes)?;
        let Value::Array(items) = value else {
            return Err(WireError::Shape("broadcast"));
        };
        let [uid, packet, opts] = items.as_slice() else {
            return Err(WireError::Shape("broadcast"));
        };
        Ok(Self {
            uid: uid.as_str().ok_or(WireError::Shape("uid"))?.to_owned(),
            packet: read_packet(packet)?,
            opts: Opts::read(opts)?,
        })
    }
}
