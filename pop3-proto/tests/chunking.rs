//! Feeding the decoders in chunks of every size and at every split point
//! gives the same messages as feeding everything at once.

use columba_pop3_proto::{
    ClientMessage, Command, CommandDecoder, Error, ResponseDecoder, ResponseEvent,
};

#[derive(Debug, PartialEq)]
enum Seen<T> {
    Event(T),
    Error(Error),
}

fn stream(transcript: &[u8], prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in transcript.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(content) = line.strip_prefix(prefix) {
            out.extend_from_slice(content.strip_prefix(b" ").unwrap_or(content));
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn transcripts() -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    for dir in [root.join("tests/rfc"), root.join("../examples/transcripts")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("rfc") && !name.starts_with("rfc3501") || name.starts_with("pop3-")
            {
                all.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    all.sort();
    all
}

/// The commands a client sent, as a real client knows them.
fn commands(transcript: &[u8]) -> Vec<Command> {
    let client = stream(transcript, b"C:");
    let mut decoder = CommandDecoder::new();
    decoder.feed(&client);
    std::iter::from_fn(|| decoder.next())
        .filter_map(|m| match m {
            Ok(ClientMessage::Command(c)) => Some(c),
            _ => None,
        })
        .collect()
}

fn decode_responses(
    commands: &[Command],
    chunks: &mut dyn Iterator<Item = &[u8]>,
) -> Vec<Seen<ResponseEvent>> {
    let mut decoder = ResponseDecoder::new();
    for command in commands {
        decoder.command_sent(command);
    }
    let mut seen: Vec<Seen<ResponseEvent>> = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        while let Some(event) = decoder.next() {
            match event {
                // Body chunks follow the input's arrival: merge them.
                Ok(ResponseEvent::BodyChunk(more)) => {
                    if let Some(Seen::Event(ResponseEvent::BodyChunk(body))) = seen.last_mut() {
                        body.extend(more);
                    } else {
                        seen.push(Seen::Event(ResponseEvent::BodyChunk(more)));
                    }
                }
                Ok(event) => seen.push(Seen::Event(event)),
                Err(error) => seen.push(Seen::Error(error)),
            }
        }
    }
    if let Err(error) = decoder.finish() {
        seen.push(Seen::Error(error));
    }
    seen
}

fn decode_commands(chunks: &mut dyn Iterator<Item = &[u8]>) -> Vec<Seen<ClientMessage>> {
    let mut decoder = CommandDecoder::new();
    let mut seen = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        while let Some(message) = decoder.next() {
            seen.push(match message {
                Ok(message) => Seen::Event(message),
                Err(error) => Seen::Error(error),
            });
        }
    }
    if let Err(error) = decoder.finish() {
        seen.push(Seen::Error(error));
    }
    seen
}

#[test]
fn responses_decode_the_same_at_every_split_and_byte_by_byte() {
    for (name, transcript) in transcripts() {
        let commands = commands(&transcript);
        let server = stream(&transcript, b"S:");
        let whole = decode_responses(&commands, &mut std::iter::once(&server[..]));
        assert!(!whole.is_empty(), "{name}");
        let bytewise = decode_responses(&commands, &mut server.chunks(1));
        assert_eq!(bytewise, whole, "{name} byte by byte");
        for size in [2, 3, 5, 13, 512] {
            assert_eq!(
                decode_responses(&commands, &mut server.chunks(size)),
                whole,
                "{name} in {size}s"
            );
        }
        if server.len() <= 4096 {
            for split in 0..=server.len() {
                let (a, b) = server.split_at(split);
                let got = decode_responses(&commands, &mut [a, b].into_iter());
                assert_eq!(got, whole, "{name} split at {split}");
            }
        }
    }
}

#[test]
fn commands_decode_the_same_at_every_split_and_byte_by_byte() {
    let mut streams: Vec<(String, Vec<u8>)> = transcripts()
        .into_iter()
        .map(|(name, t)| (name, stream(&t, b"C:")))
        .collect();
    let mut mixed =
        b"USER alice\nPASS pass word \r\nLIST\r\nTOP 1 0\nBOGUS\r\n\r\nRETR 99999999999\r\n"
            .to_vec();
    mixed.extend(std::iter::repeat_n(b'x', 300));
    mixed.extend_from_slice(b"\r\nSTAT\r\nNO\0OP\r\nQUIT\r");
    streams.push(("mixed".into(), mixed));
    for (name, client) in streams {
        let whole = decode_commands(&mut std::iter::once(&client[..]));
        assert_eq!(
            decode_commands(&mut client.chunks(1)),
            whole,
            "{name} byte by byte"
        );
        for split in 0..=client.len() {
            let (a, b) = client.split_at(split);
            assert_eq!(
                decode_commands(&mut [a, b].into_iter()),
                whole,
                "{name} split at {split}"
            );
        }
    }
}

#[test]
fn a_body_decodes_the_same_however_it_is_cut() {
    let server = b"+OK hi\r\n+OK 40 octets\r\n\r\n..\r\n...x\r\n.y\r\nz.\r\n\r\n.\r\n+OK bye\r\n";
    let commands = [Command::Retr(1), Command::Quit];
    let whole = decode_responses(&commands, &mut std::iter::once(&server[..]));
    let ResponseEvent::BodyChunk(body) = (match &whole[2] {
        Seen::Event(e) => e.clone(),
        Seen::Error(e) => panic!("{e}"),
    }) else {
        panic!("{whole:?}")
    };
    assert_eq!(body, b"\r\n.\r\n..x\r\ny\r\nz.\r\n\r\n");
    for a in 0..server.len() {
        for b in a..server.len() {
            let parts = [&server[..a], &server[a..b], &server[b..]];
            assert_eq!(
                decode_responses(&commands, &mut parts.into_iter()),
                whole,
                "{a} {b}"
            );
        }
    }
}
