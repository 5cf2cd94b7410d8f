//! Decode and encode throughput of columba-imap-proto and imap-codec on the
//! same corpus, in one run.
//!
//! Corpus: the command and FETCH-response messages of the transcripts (see
//! `columba_bench`), kept when both libraries decode them completely, and
//! concatenated until each stream is at least 256 KiB.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "../shared/peers.rs"]
mod peers;

use peers::{codec, columba, corpus, STREAM_LEN};

fn benches(c: &mut Criterion) {
    let corpus = corpus();

    let mut group = c.benchmark_group("command_decode");
    group.throughput(Throughput::Bytes(corpus.commands.len() as u64));
    group.bench_function("columba", |b| {
        b.iter(|| columba::decode_commands(black_box(corpus.commands)))
    });
    group.bench_function("imap-codec", |b| {
        b.iter(|| codec::decode_commands(black_box(corpus.commands)))
    });
    group.finish();

    let mut group = c.benchmark_group("fetch_response_decode");
    group.throughput(Throughput::Bytes(corpus.responses.len() as u64));
    group.bench_function("columba", |b| {
        b.iter(|| columba::decode_responses(black_box(corpus.responses)))
    });
    group.bench_function("imap-codec", |b| {
        b.iter(|| codec::decode_responses(black_box(corpus.responses)))
    });
    group.finish();

    let columba_commands = columba::commands(corpus.commands);
    let columba_responses = columba::responses(corpus.responses);
    assert_eq!(
        columba::decode_commands(corpus.commands),
        codec::decode_commands(corpus.commands)
    );
    assert_eq!(
        columba::decode_responses(corpus.responses),
        codec::decode_responses(corpus.responses)
    );
    let codec_commands = codec::commands(corpus.commands);
    let codec_responses = codec::responses(corpus.responses);
    let mut out = Vec::with_capacity(2 * STREAM_LEN);

    let mut group = c.benchmark_group("command_encode");
    group.throughput(Throughput::Bytes(corpus.commands.len() as u64));
    group.bench_function("columba", |b| {
        b.iter(|| {
            out.clear();
            columba::encode_commands(black_box(&columba_commands), &mut out);
            out.len()
        })
    });
    group.bench_function("imap-codec", |b| {
        b.iter(|| {
            out.clear();
            codec::encode_commands(black_box(&codec_commands), &mut out);
            out.len()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("fetch_response_encode");
    group.throughput(Throughput::Bytes(corpus.responses.len() as u64));
    group.bench_function("columba", |b| {
        b.iter(|| {
            out.clear();
            columba::encode_responses(black_box(&columba_responses), &mut out);
            out.len()
        })
    });
    group.bench_function("imap-codec", |b| {
        b.iter(|| {
            out.clear();
            codec::encode_responses(black_box(&codec_responses), &mut out);
            out.len()
        })
    });
    group.finish();
}

criterion_group!(imap, benches);
criterion_main!(imap);
