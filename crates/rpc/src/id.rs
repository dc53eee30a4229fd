//! [`Id`]: a request's id, kept exactly as it came so that it goes back
//! exactly (section 4: a string, a number, or null).

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A request's id: a string, a number or null. A number keeps the text it
/// came as (`0`, `-7`, `1.5`, `1e400`, `123456789012345678901234567890`),
/// so that the response echoes it to the letter, whatever its size.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Id {
    /// `null`: discouraged in requests, and the id of a response to a
    /// message whose id could not be read.
    Null,
    /// A number, as its JSON text.
    Number(String),
    /// A string.
    String(String),
}

impl Id {
    /// The id `raw` holds, or `None` when it is not a string, a number or
    /// null (an object, an array, a boolean).
    pub fn from_raw(raw: &RawValue) -> Option<Id> {
        let text = raw.get().trim();
        match text.as_bytes().first()? {
            b'"' => serde_json::from_str(text).ok().map(Id::String),
            b'-' | b'0'..=b'9' => Some(Id::Number(text.to_owned())),
            b'n' if text == "null" => Some(Id::Null),
            _ => None,
        }
    }

    /// The number this id is, when it is a whole number that fits a `u64`
    /// (as the ids this crate gives its own requests are).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Id::Number(text) => text.parse().ok(),
            _ => None,
        }
    }
}

impl From<u64> for Id {
    fn from(n: u64) -> Id {
        Id::Number(n.to_string())
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Id {
        Id::String(s.to_owned())
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Id::Null => serializer.serialize_unit(),
            Id::String(s) => serializer.serialize_str(s),
            Id::Number(text) => {
                // The text was read as a JSON number: it is one.
                let raw: &RawValue =
                    serde_json::from_str(text).map_err(serde::ser::Error::custom)?;
                raw.serialize(serializer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).unwrap()
    }

    #[test]
    fn numbers_strings_and_null_go_back_as_they_came() {
        for text in [
            "0",
            "-7",
            "1.5",
            "1e400",
            "123456789012345678901234567890",
            r#""a\u00e9""#,
            "null",
        ] {
            let id = Id::from_raw(&raw(text)).unwrap();
            let back = serde_json::to_string(&id).unwrap();
            if text.starts_with('"') {
                assert_eq!(back, r#""aé""#);
            } else {
                assert_eq!(back, text);
            }
        }
        for text in ["{}", "[1]", "true", "false"] {
            assert_eq!(Id::from_raw(&raw(text)), None, "{text}");
        }
        assert_eq!(Id::from(7).as_u64(), Some(7));
        assert_eq!(Id::from_raw(&raw("-1")).unwrap().as_u64(), None);
    }
}
