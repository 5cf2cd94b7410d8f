//! Columba / imap-codec throughput ratios measured in on-CPU time.
//!
//! On a shared machine the wall-clock figures of criterion move with the load
//! of other processes. This runs the same work as the criterion bench, but
//! alternates the two libraries in short rounds and charges each only for the
//! time this thread actually spent on a CPU (`/proc/thread-self/schedstat`),
//! so both see the same machine state and preemption is not counted.
//!
//! ```sh
//! cargo run --release -p columba-bench --example cpu_time_ratio [ROUNDS]
//! ```

use std::hint::black_box;

#[path = "../shared/peers.rs"]
mod peers;

use peers::{codec, columba, corpus};

/// Nanoseconds this thread has run on a CPU.
fn on_cpu_ns() -> u64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")
        .expect("reading /proc/thread-self/schedstat (Linux only)");
    text.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("schedstat starts with the on-CPU time in ns")
}

/// Runs `f` `reps` times and returns the on-CPU nanoseconds it took.
fn cpu_time(reps: usize, mut f: impl FnMut() -> usize) -> u64 {
    let start = on_cpu_ns();
    for _ in 0..reps {
        black_box(f());
    }
    on_cpu_ns() - start
}

struct Pair {
    name: &'static str,
    bytes: usize,
    columba: Box<dyn FnMut() -> usize>,
    codec: Box<dyn FnMut() -> usize>,
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20);
    let corpus = corpus();
    let commands = corpus.commands;
    let responses = corpus.responses;
    let columba_commands = columba::commands(commands);
    let columba_responses = columba::responses(responses);
    let codec_commands = codec::commands(commands);
    let codec_responses = codec::responses(responses);
    let mut out_a = Vec::with_capacity(2 * commands.len());
    let mut out_b = Vec::with_capacity(2 * commands.len());
    let mut out_c = Vec::with_capacity(2 * responses.len());
    let mut out_d = Vec::with_capacity(2 * responses.len());

    let mut pairs = vec![
        Pair {
            name: "command_decode",
            bytes: commands.len(),
            columba: Box::new(move || columba::decode_commands(commands)),
            codec: Box::new(move || codec::decode_commands(commands)),
        },
        Pair {
            name: "fetch_response_decode",
            bytes: responses.len(),
            columba: Box::new(move || columba::decode_responses(responses)),
            codec: Box::new(move || codec::decode_responses(responses)),
        },
        Pair {
            name: "command_encode",
            bytes: commands.len(),
            columba: Box::new(move || {
                out_a.clear();
                columba::encode_commands(&columba_commands, &mut out_a);
                out_a.len()
            }),
            codec: Box::new(move || {
                out_b.clear();
                codec::encode_commands(&codec_commands, &mut out_b);
                out_b.len()
            }),
        },
        Pair {
            name: "fetch_response_encode",
            bytes: responses.len(),
            columba: Box::new(move || {
                out_c.clear();
                columba::encode_responses(&columba_responses, &mut out_c);
                out_c.len()
            }),
            codec: Box::new(move || {
                out_d.clear();
                codec::encode_responses(&codec_responses, &mut out_d);
                out_d.len()
            }),
        },
    ];

    println!("{rounds} alternating rounds per group; MiB/s of on-CPU time");
    println!(
        "{:<24}{:>12}{:>12}{:>10}",
        "group", "columba", "imap-codec", "ratio"
    );
    for pair in &mut pairs {
        // Warm up both, then alternate so both see the same machine state.
        cpu_time(3, &mut pair.columba);
        cpu_time(3, &mut pair.codec);
        let reps = 10;
        let (mut a, mut b) = (0u64, 0u64);
        for _ in 0..rounds {
            a += cpu_time(reps, &mut pair.columba);
            b += cpu_time(reps, &mut pair.codec);
        }
        let total = (pair.bytes * reps * rounds) as f64 / (1024.0 * 1024.0);
        let (ta, tb) = (total / (a as f64 / 1e9), total / (b as f64 / 1e9));
        println!("{:<24}{:>12.1}{:>12.1}{:>9.2}x", pair.name, ta, tb, ta / tb);
    }
}
