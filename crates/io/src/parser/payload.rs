//! Which payloads each packet kind allows, checked on every decoded packet.

use rmpv::Value;

use super::error::ParseError;
use super::packet::{PacketKind, RESERVED_EVENTS};

/// Checks that a decoded payload is one the packet's kind allows.
///
/// The rules are the protocol document's ("Exchange protocol") together with what
/// `socket.io-parser` enforces: CONNECT carries nothing or an object, DISCONNECT nothing,
/// `CONNECT_ERROR` a string or an object, EVENT a non-empty array whose first element is a
/// number or a string that is not a reserved event name, ACK an array (possibly empty).
///
/// Both parsers apply the same rules, which makes them a little stricter than the reference
/// decoders in two places: `socket.io-parser` lets an EVENT, ACK or `CONNECT_ERROR` arrive
/// with no payload at all (the protocol document says the payload is mandatory), and
/// `socket.io-msgpack-parser` accepts any array as an EVENT's data, empty or with a reserved
/// name.
pub(crate) fn check_payload(kind: PacketKind, data: Option<&Value>) -> Result<(), ParseError> {
    let allowed = match (kind, data) {
        (PacketKind::Connect | PacketKind::Disconnect, None) => true,
        (PacketKind::Connect, Some(v)) => v.is_map(),
        (PacketKind::ConnectError, Some(v)) => v.is_map() || v.is_str(),
        (PacketKind::Ack, Some(v)) => v.is_array(),
        (PacketKind::Event, Some(Value::Array(items))) => return check_event_name(items.first()),
        _ => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(ParseError::InvalidPayload { kind })
    }
}

/// The first element of an event's data names it: a number or a non-reserved string.
fn check_event_name(first: Option<&Value>) -> Result<(), ParseError> {
    match first {
        Some(Value::String(name)) => match name.as_str() {
            Some(name) if RESERVED_EVENTS.contains(&name) => Err(ParseError::ReservedEventName),
            Some(_) => Ok(()),
            None => Err(ParseError::InvalidPayload {
                kind: PacketKind::Event,
            }),
        },
        Some(Value::Integer(_) | Value::F32(_) | Value::F64(_)) => Ok(()),
        _ => Err(ParseError::InvalidPayload {
            kind: PacketKind::Event,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Payload rules: CONNECT takes nothing or an object, never an array.
    #[test]
    fn connect_payload_must_be_an_object() {
        assert!(check_payload(PacketKind::Connect, None).is_ok());
        assert!(check_payload(PacketKind::Connect, Some(&Value::Map(vec![]))).is_ok());
        assert!(check_payload(PacketKind::Connect, Some(&Value::Array(vec![]))).is_err());
        assert!(check_payload(PacketKind::Connect, Some(&Value::from("x"))).is_err());
    }

    /// Payload rules: DISCONNECT carries nothing.
    #[test]
    fn disconnect_payload_must_be_absent() {
        assert!(check_payload(PacketKind::Disconnect, None).is_ok());
        assert!(check_payload(PacketKind::Disconnect, Some(&Value::Map(vec![]))).is_err());
    }

    /// Payload rules: an EVENT is a non-empty array named by a string or a number.
    #[test]
    fn event_payload_must_be_a_named_array() {
        let ok = Value::Array(vec![Value::from("foo")]);
        assert!(check_payload(PacketKind::Event, Some(&ok)).is_ok());
        let numbered = Value::Array(vec![Value::from(1)]);
        assert!(check_payload(PacketKind::Event, Some(&numbered)).is_ok());
        for bad in [
            Value::Array(vec![]),
            Value::Array(vec![Value::Nil]),
            Value::Map(vec![]),
        ] {
            assert!(matches!(
                check_payload(PacketKind::Event, Some(&bad)),
                Err(ParseError::InvalidPayload { .. })
            ));
        }
        assert!(check_payload(PacketKind::Event, None).is_err());
    }

    /// Reserved event names (`disconnect`, ...) are refused as the reference parser does.
    #[test]
    fn event_with_reserved_name_is_refused() {
        let data = Value::Array(vec![Value::from("disconnect")]);
        assert!(matches!(
            check_payload(PacketKind::Event, Some(&data)),
            Err(ParseError::ReservedEventName)
        ));
    }

    /// Payload rules: an ACK is an array, possibly empty; `CONNECT_ERROR` a string or object.
    #[test]
    fn ack_and_connect_error_payloads() {
        assert!(check_payload(PacketKind::Ack, Some(&Value::Array(vec![]))).is_ok());
        assert!(check_payload(PacketKind::Ack, None).is_err());
        assert!(check_payload(PacketKind::ConnectError, Some(&Value::from("no"))).is_ok());
        assert!(check_payload(PacketKind::ConnectError, Some(&Value::Map(vec![]))).is_ok());
        assert!(check_payload(PacketKind::ConnectError, Some(&Value::from(1))).is_err());
    }
}
