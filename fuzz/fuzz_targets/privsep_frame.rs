//! The descriptor-passing frame decoder: any bytes, any limits, no panic;
//! a decoded frame re-encodes to the same bytes.
#![no_main]

use columba_privsep::fdpass::{decode_frame, encode_frame, Decoded, FrameLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first two bytes choose the limits, the rest is the stream.
    let (limits, bytes) = match data {
        [p, f, rest @ ..] => (FrameLimits::new(u32::from(*p) * 257, *f), rest),
        _ => (FrameLimits::default(), data),
    };
    let mut offset = 0;
    while offset <= bytes.len() {
        match decode_frame(&bytes[offset..], &limits) {
            Ok(Decoded::Frame {
                header,
                payload,
                consumed,
            }) => {
                let again = encode_frame(payload, usize::from(header.fd_count), &limits)
                    .expect("a decoded frame re-encodes");
                assert_eq!(again, &bytes[offset..offset + consumed]);
                offset += consumed;
            }
            Ok(Decoded::Incomplete { needed }) => {
                assert!(needed > 0);
                break;
            }
            Err(_) => break,
        }
    }
});
