//! Prints how many corpus messages imap-codec decodes completely.
use imap_codec::decode::Decoder;
use imap_codec::{CommandCodec, ResponseCodec};

fn main() {
    let commands = columba_bench::command_corpus();
    let mut bad = 0;
    for c in &commands {
        match CommandCodec::default().decode(c) {
            Ok(([], _)) => {}
            other => {
                bad += 1;
                println!(
                    "cmd rejected: {:?} -> {:?}",
                    String::from_utf8_lossy(&c[..c.len().min(100)]),
                    other.err()
                );
            }
        }
    }
    println!(
        "commands: {} total, {} rejected, {} bytes",
        commands.len(),
        bad,
        commands.iter().map(Vec::len).sum::<usize>()
    );
    let responses = columba_bench::fetch_response_corpus();
    let mut bad = 0;
    for r in &responses {
        match ResponseCodec::default().decode(r) {
            Ok(([], _)) => {}
            other => {
                bad += 1;
                println!(
                    "resp rejected: {:?} -> {:?}",
                    String::from_utf8_lossy(&r[..r.len().min(120)]),
                    other.err()
                );
            }
        }
    }
    println!(
        "fetch responses: {} total, {} rejected, {} bytes",
        responses.len(),
        bad,
        responses.iter().map(Vec::len).sum::<usize>()
    );
}
