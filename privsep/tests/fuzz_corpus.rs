//! Replays the committed fuzz corpus of `privsep_frame` under `cargo test`,
//! with the same checks as the fuzz target.

use columba_privsep::fdpass::{decode_frame, encode_frame, Decoded, FrameLimits};

fn check(data: &[u8]) {
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
}

#[test]
fn replay_privsep_frame_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/privsep_frame");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "panic on {}", path.display());
        count += 1;
    }
    assert!(count >= 10, "corpus has only {count} files");
}
