//! Incremental UTF-8 validation that fails at the first byte that cannot
//! start or continue a valid sequence (R-U8-03), across frame and read
//! boundaries.

use simdutf8::compat::from_utf8;

/// Below this many bytes, input that is all ASCII is accepted from a plain
/// ASCII check (`simdutf8` itself falls back to the standard library's
/// check below 64 bytes).
const SHORT_INPUT: usize = 64;

/// Validates a text message piece by piece.
///
/// Holds at most 3 bytes: the start of a code point cut by a piece boundary.
#[derive(Debug, Default, Clone)]
pub(crate) struct Validator {
    partial: [u8; 4],
    partial_len: u8,
}

/// The input is not UTF-8, or cannot become UTF-8 with more bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Invalid;

impl Validator {
    /// Feeds the next piece of the message; `complete` says whether it is the last.
    pub(crate) fn feed(&mut self, mut input: &[u8], complete: bool) -> Result<(), Invalid> {
        if self.partial_len > 0 {
            let have = usize::from(self.partial_len);
            let need = sequence_len(self.partial[0]);
            let take = (need - have).min(input.len());
            self.partial[have..have + take].copy_from_slice(&input[..take]);
            let len = have + take;
            input = &input[take..];
            match from_utf8(&self.partial[..len]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix, so `input` is exhausted.
                    self.partial_len = u8::try_from(len).map_err(|_| Invalid)?;
                    return if complete { Err(Invalid) } else { Ok(()) };
                }
                Err(_) => return Err(Invalid),
            }
        }
        // Short ASCII (most small text messages) needs no more than a
        // word-at-a-time look; longer input goes to the vectorised check,
        // which is faster from there on.
        // (No code point is pending here: one cut before was completed
        // above, or this returned.)
        if input.len() < SHORT_INPUT && input.is_ascii() {
            return Ok(());
        }
        match from_utf8(input) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                // The input ends inside a code point that may still complete.
                let rest = &input[e.valid_up_to()..];
                self.partial[..rest.len()].copy_from_slice(rest);
                self.partial_len = u8::try_from(rest.len()).map_err(|_| Invalid)?;
            }
            Err(_) => return Err(Invalid),
        }
        if complete && self.partial_len > 0 {
            return Err(Invalid);
        }
        Ok(())
    }

    /// Forgets any partial code point, ready for the next message.
    pub(crate) fn reset(&mut self) {
        self.partial_len = 0;
    }
}

/// A whole message's text, checked in one pass (no piece boundary to
/// carry over). Short ASCII, the usual small message, takes a plain ASCII
/// check, which costs a fraction of the general one at these sizes.
#[inline]
pub(crate) fn whole(input: &[u8]) -> Result<&str, Invalid> {
    if input.len() < SHORT_INPUT && input.is_ascii() {
        // SAFETY: every byte is ASCII, and ASCII is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(input) });
    }
    simdutf8::basic::from_utf8(input).map_err(|_| Invalid)
}

/// The length of the sequence a valid lead byte starts.
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `whole` agrees with the standard library on short and long input,
    /// ASCII or not, valid or not (the ASCII shortcut included).
    #[test]
    fn whole_text_is_checked_as_the_standard_library_does() {
        for input in [
            &b""[..],
            b"hello",
            b"0123456789abcdef",
            "añb€".as_bytes(),
            b"\xff",
            b"abc\x80",
            &[b'a'; 63],
            &[b'a'; 64],
            &[b'a'; 200],
            b"\xed\xa0\x80",
        ] {
            assert_eq!(
                whole(input).ok(),
                std::str::from_utf8(input).ok(),
                "{input:?}"
            );
        }
    }

    fn feed_split(data: &[u8], at: &[usize]) -> Result<(), Invalid> {
        let mut v = Validator::default();
        let mut start = 0;
        for &cut in at {
            let cut = cut.clamp(start, data.len());
            v.feed(&data[start..cut], false)?;
            start = cut;
        }
        v.feed(&data[start..], true)
    }

    #[test]
    fn r_u8_03_fails_fast_on_impossible_bytes() {
        // Each of these cannot begin or continue any valid sequence, so the
        // validator fails without waiting for the end of the message.
        for bad in [
            &b"\xc0"[..],
            b"\xf5",
            b"\xed\xa0",
            b"\xf4\x90",
            b"a\x80",
            b"\xce\xbaX\xff",
        ] {
            assert_eq!(
                Validator::default().feed(bad, false),
                Err(Invalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn r_u8_01_code_point_split_across_pieces() {
        let s = "κόσμε".as_bytes();
        for i in 0..=s.len() {
            assert_eq!(feed_split(s, &[i]), Ok(()));
        }
        let mut v = Validator::default();
        for b in s {
            v.feed(std::slice::from_ref(b), false).unwrap();
        }
        v.feed(&[], true).unwrap();
    }

    #[test]
    fn r_u8_03_truncated_sequence_at_end_of_message_fails() {
        assert_eq!(Validator::default().feed(b"\xce", true), Err(Invalid));
        let mut v = Validator::default();
        v.feed(b"\xf0\x90", false).unwrap();
        assert_eq!(v.feed(b"\x80", true), Err(Invalid));
    }

    proptest! {
        #[test]
        fn agrees_with_std_for_any_split(
            data in proptest::collection::vec(any::<u8>(), 0..40),
            cuts in proptest::collection::vec(0usize..40, 0..5),
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let expected = std::str::from_utf8(&data).is_ok();
            prop_assert_eq!(feed_split(&data, &cuts).is_ok(), expected);
        }

        #[test]
        fn valid_text_passes_any_split(s in "\\PC{0,20}", cuts in proptest::collection::vec(0usize..80, 0..5)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert!(feed_split(s.as_bytes(), &cuts).is_ok());
        }
    }
}
