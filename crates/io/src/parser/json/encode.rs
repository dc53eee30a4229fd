//! Packet → text frame and binary attachments.

use std::cell::RefCell;

use bytes::Bytes;

use super::write::{JsonWriter, count_binary, take_binaries};
use crate::parser::error::EncodeError;
use crate::parser::frame::{Encoded, Frame};
use crate::parser::packet::{MAIN_NAMESPACE, Packet, PacketKind, PacketRef};

/// Encodes a packet in the default parser's wire form.
///
/// The head is `<type>[<attachments>-][<nsp>,][<id>][<JSON payload>]`: the namespace only
/// when it is not `/`, the type 5 (`BINARY_EVENT`) or 6 (`BINARY_ACK`) when an event's or an
/// ack's data holds [`Value::Binary`](rmpv::Value::Binary), whose bytes then follow as
/// attachments in document order. The JSON is written straight from the value tree.
///
/// # Errors
///
/// [`EncodeError`] when the namespace does not start with `/` or holds a `,` (the decoder
/// could not tell where it ends), when the data has a map key or a msgpack extension JSON
/// cannot express, or binary in a packet other than an event or an ack.
///
/// # Examples
///
/// ```
/// use sockeye_io::parser::{Frame, Packet, json};
/// use rmpv::Value;
///
/// let packet = Packet::event("/admin", "baz", vec![Value::Binary(vec![1, 2]), Value::Binary(vec![3, 4])]);
/// let encoded = json::encode(&packet).unwrap();
/// assert_eq!(
///     encoded.head,
///     Frame::Text(r#"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#.into())
/// );
/// assert_eq!(encoded.attachments.len(), 2);
/// ```
pub fn encode(packet: &Packet) -> Result<Encoded, EncodeError> {
    encode_ref(packet.into())
}

/// Encodes a packet given by reference to its parts, as [`encode`] does.
///
/// # Errors
///
/// As [`encode`].
pub fn encode_ref(packet: PacketRef<'_>) -> Result<Encoded, EncodeError> {
    let binaries = packet.data.map_or(0, count_binary);
    let mut attachments = Vec::with_capacity(binaries);
    let head = write_packet(packet, binaries, Some(&mut attachments))?;
    Ok(Encoded {
        head: Frame::Text(head),
        attachments,
    })
}

/// Encodes a packet it owns, as [`encode`] does, moving the binary data into the attachments
/// instead of copying it.
///
/// # Errors
///
/// As [`encode`].
pub fn encode_owned(mut packet: Packet) -> Result<Encoded, EncodeError> {
    let mut attachments = Vec::new();
    if let Some(data) = &mut packet.data {
        take_binaries(data, &mut attachments);
    }
    let head = write_packet((&packet).into(), attachments.len(), None)?;
    Ok(Encoded {
        head: Frame::Text(head),
        attachments,
    })
}

/// The largest text a thread keeps its encoding buffer at, in bytes:
/// larger packets are rare, and their buffer is not held after.
const MAX_KEPT_SCRATCH: usize = 64 << 10;

thread_local! {
    /// Each thread's buffer to encode in: the text is written here, then
    /// copied once into a string of exactly its size (which a
    /// [`Bytes`] then takes over without another allocation).
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The text frame: header, then the payload with `binaries` placeholders.
fn write_packet(
    packet: PacketRef<'_>,
    binaries: usize,
    attachments: Option<&mut Vec<Bytes>>,
) -> Result<String, EncodeError> {
    check_namespace(packet.nsp)?;
    if binaries > 0 && !matches!(packet.kind, PacketKind::Event | PacketKind::Ack) {
        return Err(EncodeError::BinaryNotAllowed { kind: packet.kind });
    }
    let write = |out: &mut String| {
        write_header(out, packet, binaries);
        if let Some(data) = packet.data {
            JsonWriter::new(out, attachments).value(data)?;
        }
        Ok(())
    };
    SCRATCH.with(|scratch| {
        let Ok(mut out) = scratch.try_borrow_mut() else {
            let mut out = String::with_capacity(64);
            return write(&mut out).map(|()| out);
        };
        out.clear();
        let written = write(&mut out).map(|()| out.as_str().to_owned());
        if out.capacity() > MAX_KEPT_SCRATCH {
            *out = String::new();
        }
        written
    })
}

fn check_namespace(nsp: &str) -> Result<(), EncodeError> {
    if nsp.starts_with('/') && !nsp.contains(',') {
        Ok(())
    } else {
        Err(EncodeError::InvalidNamespace)
    }
}

fn write_header(out: &mut String, packet: PacketRef<'_>, binaries: usize) {
    let mut digits = itoa::Buffer::new();
    let code = match (packet.kind, binaries) {
        (PacketKind::Event, 1..) => 5,
        (PacketKind::Ack, 1..) => 6,
        (kind, _) => kind.code(),
    };
    out.push(char::from(b'0' + code));
    if binaries > 0 {
        out.push_str(digits.format(binaries));
        out.push('-');
    }
    if packet.nsp != MAIN_NAMESPACE {
        out.push_str(packet.nsp);
        out.push(',');
    }
    if let Some(id) = packet.id {
        out.push_str(digits.format(id));
    }
}

#[cfg(test)]
mod tests {
    use rmpv::Value;

    use super::*;

    fn text(packet: &Packet) -> String {
        match encode(packet).unwrap().head {
            Frame::Text(t) => t,
            Frame::Binary(_) => unreachable!("the JSON parser's head is always text"),
        }
    }

    /// Format: the main namespace is left out, others are followed by a comma.
    #[test]
    fn namespace_is_written_only_when_not_main() {
        assert_eq!(text(&Packet::disconnect("/")), "1");
        assert_eq!(text(&Packet::disconnect("/admin")), "1/admin,");
    }

    /// Format: the ack id comes right before the payload.
    #[test]
    fn ack_id_precedes_payload() {
        let mut p = Packet::event("/", "foo", vec![]);
        p.id = Some(12);
        assert_eq!(text(&p), r#"212["foo"]"#);
        assert_eq!(
            text(&Packet::ack("/admin", 13, vec![Value::from("bar")])),
            r#"3/admin,13["bar"]"#
        );
    }

    /// A namespace the decoder could not delimit is refused.
    #[test]
    fn undelimitable_namespace_is_refused() {
        for nsp in ["admin", "/a,b", ""] {
            assert_eq!(
                encode(&Packet::disconnect(nsp)),
                Err(EncodeError::InvalidNamespace)
            );
        }
    }

    /// Binary attachments belong to events and acks only.
    #[test]
    fn binary_in_connect_is_refused() {
        let p = Packet::connect(
            "/",
            Some(Value::Map(vec![(Value::from("k"), Value::Binary(vec![]))])),
        );
        assert_eq!(
            encode(&p),
            Err(EncodeError::BinaryNotAllowed {
                kind: PacketKind::Connect
            })
        );
    }

    /// The owned encoding moves the attachments and writes the same frames.
    #[test]
    fn owned_encoding_is_the_same() {
        let p = Packet::event(
            "/a",
            "x",
            vec![
                Value::Binary(vec![1]),
                Value::Array(vec![Value::Binary(vec![2, 3])]),
            ],
        );
        assert_eq!(encode_owned(p.clone()), encode(&p));
    }

    /// `BINARY_ACK`: type 6, count, then id.
    #[test]
    fn binary_ack_header() {
        let p = Packet::ack(
            "/",
            15,
            vec![Value::from("bar"), Value::Binary(vec![1, 2, 3, 4])],
        );
        let encoded = encode(&p).unwrap();
        assert_eq!(
            encoded.head,
            Frame::Text(r#"61-15["bar",{"_placeholder":true,"num":0}]"#.into())
        );
        assert_eq!(encoded.attachments, vec![Bytes::from_static(&[1, 2, 3, 4])]);
    }
}
