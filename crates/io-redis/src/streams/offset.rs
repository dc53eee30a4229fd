//! [`StreamId`]: a Redis stream entry id, `ms-seq`, which the Streams
//! adapter also gives clients as their recovery offset.

use std::fmt;
use std::str::FromStr;

/// A stream entry id: milliseconds and a sequence number, ordered as Redis
/// orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// The milliseconds part.
    pub ms: u64,
    /// The sequence part.
    pub seq: u64,
}

/// Why a string is not a [`StreamId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a stream id (ms-seq)")]
pub struct NotStreamId;

impl StreamId {
    /// The smallest id after this one, for an exclusive range on Redis
    /// before 6.2 (as Node's `nextOffset`); saturates at the largest id.
    #[must_use]
    pub fn next(self) -> StreamId {
        match self.seq.checked_add(1) {
            Some(seq) => StreamId { ms: self.ms, seq },
            None => StreamId {
                ms: self.ms.saturating_add(1),
                seq: 0,
            },
        }
    }
}

impl FromStr for StreamId {
    type Err = NotStreamId;

    /// Parses `ms-seq`, both decimal digits only, as Node checks
    /// (`^[0-9]+-[0-9]+$`), and each within 64 bits as Redis keeps them.
    fn from_str(s: &str) -> Result<StreamId, NotStreamId> {
        let (ms, seq) = s.split_once('-').ok_or(NotStreamId)?;
        let number = |part: &str| {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(NotStreamId);
            }
            part.parse::<u64>().map_err(|_| NotStreamId)
        };
        Ok(StreamId {
            ms: number(ms)?,
            seq: number(seq)?,
        })
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prints_and_orders_as_redis() {
        let id: StreamId = "1700000000000-7".parse().unwrap();
        assert_eq!(id.to_string(), "1700000000000-7");
        assert_eq!(id.next().to_string(), "1700000000000-8");
        assert!(id < id.next());
        let top = StreamId {
            ms: 5,
            seq: u64::MAX,
        };
        assert_eq!(top.next(), StreamId { ms: 6, seq: 0 });
        assert!("2-10".parse::<StreamId>().unwrap() > "2-9".parse().unwrap());
    }

    #[test]
    fn refuses_what_node_refuses() {
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "1",
            "a-1",
            "1-b",
            "+1-2",
            "1-2-3",
            " 1-2",
            "0f1e2d3c-1",
            "99999999999999999999-0",
        ] {
            assert_eq!(bad.parse::<StreamId>(), Err(NotStreamId), "{bad:?}");
        }
    }
}
