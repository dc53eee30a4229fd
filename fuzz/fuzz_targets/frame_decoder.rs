//! `FrameHeader::decode` on arbitrary bytes: never panics, never reads past
//! the header it reports, and agrees with `FrameHeader::encode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockeye_proto::frame::{FrameHeader, MAX_HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, wire)) = data.split_first() else {
        return;
    };
    let strict = flags & 1 != 0;
    let Ok(Some((header, len))) = FrameHeader::decode(wire, strict) else {
        return;
    };
    assert!(len <= MAX_HEADER_LEN && len <= wire.len());
    assert_eq!(header.masking_key.is_some(), wire[1] & 0x80 != 0);
    assert!(header.payload_len >> 63 == 0, "R-FR-03");
    // Every shorter prefix asks for more bytes.
    for cut in 0..len {
        assert_eq!(
            FrameHeader::decode(&wire[..cut], strict),
            Ok(None),
            "prefix {cut}"
        );
    }
    // Re-encoding gives the shortest form: the same bytes when the input
    // was minimal (always so in strict mode), and the same header back.
    let mut buf = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut buf);
    if strict {
        assert_eq!(&buf[..n], &wire[..len]);
    }
    assert_eq!(FrameHeader::decode(&buf[..n], true), Ok(Some((header, n))));
});
