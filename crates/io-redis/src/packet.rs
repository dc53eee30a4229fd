//! The Socket.IO packet as the adapter carries it: socket.io-parser's
//! unencoded object `{type, data, nsp}` (and `id` when set), binary as
//! msgpack `bin` (notes §3b: "Broadcast payload").

use rmp::encode::ByteBuf;
use rmpv::Value;
use sockeye_io::parser::{MAIN_NAMESPACE, Packet, PacketKind};

use crate::error::{Result, WireError};
use crate::fields;
use crate::msgpack::{write_str, write_value};

/// Writes `packet` as the object Node's broadcast operator builds: keys in
/// the order `type`, `data`, `nsp`, then `id` when the packet has one.
/// The type is the plain one (2 for an event, binary or not): the binary
/// types belong to socket.io-parser's encoding, which happens later.
pub(crate) fn write_packet(buf: &mut ByteBuf, packet: &Packet) {
    let len = 2 + u32::from(packet.data.is_some()) + u32::from(packet.id.is_some());
    // A map of at most four entries: the fixmap form, which cannot fail.
    let _ = rmp::encode::write_map_len(buf, len);
    write_str(buf, "type");
    write_value(buf, &Value::from(packet.kind.code()));
    if let Some(data) = &packet.data {
        write_str(buf, "data");
        write_value(buf, data);
    }
    write_str(buf, "nsp");
    write_str(buf, &packet.nsp);
    if let Some(id) = packet.id {
        write_str(buf, "id");
        write_value(buf, &Value::from(id));
    }
}

/// The packet as a value, for messages built as trees.
pub fn packet_value(packet: &Packet) -> Value {
    let mut entries = vec![("type", Value::from(packet.kind.code()))];
    if let Some(data) = &packet.data {
        entries.push(("data", data.clone()));
    }
    entries.push(("nsp", Value::from(packet.nsp.as_str())));
    if let Some(id) = packet.id {
        entries.push(("id", Value::from(id)));
    }
    fields::object(entries)
}

/// Reads a packet object. A missing `nsp` is the main namespace, as Node's
/// adapter takes it; the binary types 5 and 6 read as an event and an ack.
///
/// # Errors
///
/// [`WireError`] when the value does not have the shape read.
pub fn read_packet(value: &Value) -> Result<Packet> {
    let entries = fields::map(value, "packet")?;
    let code = fields::uint(entries, "type")?;
    let kind = match code {
        5 => PacketKind::Event,
        6 => PacketKind::Ack,
        code => PacketKind::from_code(code).ok_or(WireError::Shape("type"))?,
    };
    let nsp = match fields::get(entries, "nsp") {
        None => MAIN_NAMESPACE.to_owned(),
        Some(v) => v.as_str().ok_or(WireError::Shape("nsp"))?.to_owned(),
    };
    let id = match fields::get(entries, "id") {
        None => None,
        Some(v) => Some(fields::as_uint(v).ok_or(WireError::Shape("id"))?),
    };
    let data = fields::get(entries, "data").cloned();
    if kind == PacketKind::Event && !matches!(&data, Some(Value::Array(items)) if !items.is_empty())
    {
        return Err(WireError::Shape("data"));
    }
    Ok(Packet {
        kind,
        nsp,
        id,
        data,
    })
}
