//! Decoder throughput and linearity. Ignored by default; run with
//! `cargo test --release -p columba-pop3-proto --test throughput -- --ignored --nocapture`.

use std::time::Instant;

use columba_pop3_proto::{BodyEncoder, Command, CommandDecoder, ResponseDecoder, ResponseEvent};

fn message(lines: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..lines {
        if i % 5 == 0 {
            out.push(b'.');
        }
        out.extend_from_slice(b"The quick brown fox jumps over the lazy dog, 0123456789\r\n");
    }
    out
}

fn retr_seconds(wire: &[u8], chunk: usize) -> f64 {
    let start = Instant::now();
    let mut decoder = ResponseDecoder::new();
    decoder.command_sent(&Command::Retr(1));
    let mut body = 0;
    for piece in wire.chunks(chunk) {
        decoder.feed(piece);
        while let Some(event) = decoder.next() {
            if let ResponseEvent::BodyChunk(c) = event.unwrap() {
                body += c.len();
            }
        }
    }
    assert!(body > 0);
    start.elapsed().as_secs_f64()
}

#[test]
#[ignore]
fn throughput() {
    for lines in [500_000, 1_000_000] {
        let body = message(lines);
        let mut wire = b"+OK hi\r\n+OK\r\n".to_vec();
        let start = Instant::now();
        let mut encoder = BodyEncoder::new();
        for chunk in body.chunks(16 * 1024) {
            encoder.push(chunk, &mut wire);
        }
        encoder.finish(&mut wire);
        let encode = start.elapsed().as_secs_f64();
        let mb = body.len() as f64 / 1e6;
        println!("body {mb:.1} MB: encode {:.0} MB/s", mb / encode);
        for chunk in [16 * 1024, 1500, 1] {
            let secs = retr_seconds(&wire, chunk);
            println!(
                "  decode in {chunk}-byte chunks: {:.0} MB/s ({secs:.3} s)",
                mb / secs
            );
        }
    }
    let mut commands = Vec::new();
    for i in 0..1_000_000 {
        commands.extend_from_slice(
            format!("RETR {i}\r\nUIDL\r\nUSER someone@example.org\r\n").as_bytes(),
        );
    }
    for chunk in [16 * 1024, 1] {
        let start = Instant::now();
        let mut decoder = CommandDecoder::new();
        let mut n = 0;
        for piece in commands.chunks(chunk) {
            decoder.feed(piece);
            while let Some(c) = decoder.next() {
                c.unwrap();
                n += 1;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "commands in {chunk}-byte chunks: {:.1} M commands/s ({:.0} MB/s)",
            n as f64 / secs / 1e6,
            commands.len() as f64 / 1e6 / secs
        );
    }
}
