//! Decode and encode throughput of columba-imap-proto and imap-codec on the
//! same corpus, in one run.
//!
//! Corpus: the command and FETCH-response messages of the transcripts (see
//! `columba_bench`), kept when imap-codec decodes them completely (columba-imap-proto joins when its decoder lands), and
//! concatenated until each stream is at least 256 KiB.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use imap_codec::decode::Decoder;
use imap_codec::encode::Encoder;
use imap_codec::{CommandCodec, ResponseCodec};

const STREAM_LEN: usize = 256 * 1024;

/// Messages imap-codec decodes completely (with nothing left over).
fn codec_accepts_command(message: &[u8]) -> bool {
    matches!(CommandCodec::default().decode(message), Ok((rest, _)) if rest.is_empty())
}

fn codec_accepts_response(message: &[u8]) -> bool {
    matches!(ResponseCodec::default().decode(message), Ok((rest, _)) if rest.is_empty())
}

struct Corpus {
    commands: &'static [u8],
    responses: &'static [u8],
}

fn corpus() -> Corpus {
    let all_commands = columba_bench::command_corpus();
    let commands: Vec<Vec<u8>> = all_commands
        .iter()
        .filter(|m| codec_accepts_command(m))
        .cloned()
        .collect();
    let all_responses = columba_bench::fetch_response_corpus();
    let responses: Vec<Vec<u8>> = all_responses
        .iter()
        .filter(|m| codec_accepts_response(m))
        .cloned()
        .collect();
    eprintln!(
        "corpus: {} of {} commands ({} bytes), {} of {} FETCH responses ({} bytes) decoded by imap-codec",
        commands.len(),
        all_commands.len(),
        commands.iter().map(Vec::len).sum::<usize>(),
        responses.len(),
        all_responses.len(),
        responses.iter().map(Vec::len).sum::<usize>(),
    );
    Corpus {
        commands: Box::leak(columba_bench::repeat_to(&commands, STREAM_LEN).into_boxed_slice()),
        responses: Box::leak(columba_bench::repeat_to(&responses, STREAM_LEN).into_boxed_slice()),
    }
}

mod codec {
    use super::*;

    pub fn decode_commands(mut input: &[u8]) -> usize {
        let codec = CommandCodec::default();
        let mut n = 0;
        while !input.is_empty() {
            let (rest, command) = codec.decode(input).expect("corpus command");
            black_box(&command);
            input = rest;
            n += 1;
        }
        n
    }

    pub fn decode_responses(mut input: &[u8]) -> usize {
        let codec = ResponseCodec::default();
        let mut n = 0;
        while !input.is_empty() {
            let (rest, response) = codec.decode(input).expect("corpus response");
            black_box(&response);
            input = rest;
            n += 1;
        }
        n
    }

    pub fn commands(
        mut input: &'static [u8],
    ) -> Vec<imap_codec::imap_types::command::Command<'static>> {
        let codec = CommandCodec::default();
        let mut out = Vec::new();
        while !input.is_empty() {
            let (rest, command) = codec.decode(input).expect("corpus command");
            out.push(command);
            input = rest;
        }
        out
    }

    pub fn responses(
        mut input: &'static [u8],
    ) -> Vec<imap_codec::imap_types::response::Response<'static>> {
        let codec = ResponseCodec::default();
        let mut out = Vec::new();
        while !input.is_empty() {
            let (rest, response) = codec.decode(input).expect("corpus response");
            out.push(response);
            input = rest;
        }
        out
    }

    pub fn encode_commands(
        commands: &[imap_codec::imap_types::command::Command<'static>],
        out: &mut Vec<u8>,
    ) {
        let codec = CommandCodec::default();
        for command in commands {
            out.extend_from_slice(&codec.encode(command).dump());
        }
    }

    pub fn encode_responses(
        responses: &[imap_codec::imap_types::response::Response<'static>],
        out: &mut Vec<u8>,
    ) {
        let codec = ResponseCodec::default();
        for response in responses {
            out.extend_from_slice(&codec.encode(response).dump());
        }
    }
}

fn benches(c: &mut Criterion) {
    let corpus = corpus();

    let mut group = c.benchmark_group("command_decode");
    group.throughput(Throughput::Bytes(corpus.commands.len() as u64));
    group.bench_function("imap-codec", |b| {
        b.iter(|| codec::decode_commands(black_box(corpus.commands)))
    });
    group.finish();

    let mut group = c.benchmark_group("fetch_response_decode");
    group.throughput(Throughput::Bytes(corpus.responses.len() as u64));
    group.bench_function("imap-codec", |b| {
        b.iter(|| codec::decode_responses(black_box(corpus.responses)))
    });
    group.finish();

    let codec_commands = codec::commands(corpus.commands);
    let codec_responses = codec::responses(corpus.responses);
    let mut out = Vec::with_capacity(2 * STREAM_LEN);

    let mut group = c.benchmark_group("command_encode");
    group.throughput(Throughput::Bytes(corpus.commands.len() as u64));
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
