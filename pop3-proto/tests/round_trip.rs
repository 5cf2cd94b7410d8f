//! Round trips over generated values: encode, decode (in random chunks),
//! compare. A small deterministic generator keeps the dependency tree lean
//! and failures reproducible.

use columba_pop3_proto::{
    encode_listing, AuthStart, BodyEncoder, Capability, ClientMessage, Command, CommandDecoder,
    Expect, Language, ListItem, ListKind, ResponseCode, ResponseDecoder, ResponseEvent,
    ScanListing, Secret, StatusLine, UniqueId,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn bytes_from(&mut self, alphabet: &[u8], min: usize, max: usize) -> Vec<u8> {
        let len = min + self.below(max - min + 1);
        (0..len).map(|_| *self.pick(alphabet)).collect()
    }
    fn number(&mut self) -> u32 {
        match self.below(3) {
            0 => self.below(10) as u32,
            1 => self.below(100_000) as u32,
            _ => self.next() as u32,
        }
    }
}

fn text_alphabet() -> Vec<u8> {
    // Everything a line may hold: all bytes but CR, LF and NUL.
    (1..=255u8).filter(|&b| b != b'\r' && b != b'\n').collect()
}

const WORD: &[u8] = b"abcXYZ019.-_@+/=!~";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &[u8] = b"0123456789abcdefABCDEF";
const MECH: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

fn command(rng: &mut Rng) -> Command {
    let text = text_alphabet();
    let opt = |rng: &mut Rng| {
        if rng.below(2) == 0 {
            None
        } else {
            Some(rng.number())
        }
    };
    match rng.below(17) {
        0 => Command::User(rng.bytes_from(&text, 1, 60)),
        1 => Command::Pass(Secret::new(rng.bytes_from(&text, 0, 60))),
        2 => Command::Apop {
            name: rng.bytes_from(WORD, 1, 30),
            digest: Secret::new(rng.bytes_from(HEX, 32, 32)),
        },
        3 => Command::Auth(None),
        4 => Command::Auth(Some(AuthStart {
            mechanism: String::from_utf8(rng.bytes_from(MECH, 1, 20)).unwrap(),
            initial_response: match rng.below(3) {
                0 => None,
                1 => Some(Secret::default()),
                _ => {
                    let mut data = rng.bytes_from(BASE64, 1, 100);
                    data.extend(std::iter::repeat_n(b'=', rng.below(3)));
                    Some(Secret::new(data))
                }
            },
        })),
        5 => Command::Stat,
        6 => Command::List(opt(rng)),
        7 => Command::Retr(rng.number()),
        8 => Command::Dele(rng.number()),
        9 => Command::Noop,
        10 => Command::Rset,
        11 => Command::Quit,
        12 => Command::Top {
            msg: rng.number(),
            lines: rng.number(),
        },
        13 => Command::Uidl(opt(rng)),
        14 => Command::Capa,
        15 => rng.pick(&[Command::Stls, Command::Utf8]).clone(),
        _ => Command::Lang(if rng.below(2) == 0 {
            None
        } else {
            Some(String::from_utf8(rng.bytes_from(b"abcdeXY-*", 1, 10)).unwrap())
        }),
    }
}

fn chunked_feed(rng: &mut Rng, bytes: &[u8], mut feed: impl FnMut(&[u8])) {
    let mut at = 0;
    while at < bytes.len() {
        let n = (1 + rng.below(40)).min(bytes.len() - at);
        feed(&bytes[at..at + n]);
        at += n;
    }
}

#[test]
fn generated_commands_round_trip() {
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..200 {
        let commands: Vec<Command> = (0..20).map(|_| command(&mut rng)).collect();
        let mut wire = Vec::new();
        for c in &commands {
            c.encode_into(&mut wire)
                .unwrap_or_else(|e| panic!("{c:?}: {e}"));
        }
        let mut decoder = CommandDecoder::with_limits(columba_pop3_proto::Limits {
            command_line: 1024,
            ..Default::default()
        });
        let mut decoded = Vec::new();
        chunked_feed(&mut rng, &wire, |chunk| {
            decoder.feed(chunk);
            while let Some(message) = decoder.next() {
                decoded.push(message.unwrap());
            }
        });
        let expected: Vec<ClientMessage> =
            commands.into_iter().map(ClientMessage::Command).collect();
        assert_eq!(decoded, expected);
    }
}

fn status_line(rng: &mut Rng) -> StatusLine {
    let text = text_alphabet();
    let code = match rng.below(4) {
        0 | 1 => None,
        2 => Some(
            rng.pick(&[
                ResponseCode::InUse,
                ResponseCode::LoginDelay,
                ResponseCode::SysTemp,
                ResponseCode::SysPerm,
                ResponseCode::Auth,
                ResponseCode::Utf8,
            ])
            .clone(),
        ),
        _ => Some(ResponseCode::Other(
            String::from_utf8(rng.bytes_from(b"QRSTUVW/-x ", 1, 12)).unwrap(),
        )),
    };
    let mut line = StatusLine {
        status: if rng.below(2) == 0 {
            columba_pop3_proto::Status::Ok
        } else {
            columba_pop3_proto::Status::Err
        },
        code,
        text: rng.bytes_from(&text, 0, 80),
    };
    if line.code.is_none() && line.text.first() == Some(&b'[') {
        line.text[0] = b'(';
    }
    line
}

#[test]
fn generated_status_lines_round_trip() {
    let mut rng = Rng(0x5eed_0002);
    for _ in 0..2000 {
        let line = status_line(&mut rng);
        let mut wire = Vec::new();
        line.encode_into(&mut wire)
            .unwrap_or_else(|e| panic!("{line:?}: {e}"));
        let parsed = StatusLine::parse(&wire[..wire.len() - 2], 0).unwrap();
        assert_eq!(parsed, line, "{:?}", String::from_utf8_lossy(&wire));
    }
}

/// What a body looks like on the client side after the server encoded it:
/// LF line ends become CRLF and the last line is terminated.
fn as_received(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &b) in message.iter().enumerate() {
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    if out.ends_with(b"\r") {
        out.push(b'\n');
    } else if !out.is_empty() && !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn generated_bodies_round_trip_through_the_streaming_encoder_and_decoder() {
    let mut rng = Rng(0x5eed_0003);
    for round in 0..500 {
        let message = rng.bytes_from(b".\r\n\n\n..ab ", 0, 300);
        let mut wire = Vec::new();
        StatusLine::ok("").encode_into(&mut wire).unwrap();
        StatusLine::ok("message follows")
            .encode_into(&mut wire)
            .unwrap();
        let mut encoder = BodyEncoder::new();
        chunked_feed(&mut rng, &message, |chunk| encoder.push(chunk, &mut wire));
        encoder.finish(&mut wire);
        StatusLine::ok("after").encode_into(&mut wire).unwrap();

        let mut decoder = ResponseDecoder::new();
        decoder.command_sent(&Command::Retr(1));
        decoder.command_sent(&Command::Noop);
        let mut body = Vec::new();
        let mut events = 0;
        chunked_feed(&mut rng, &wire, |chunk| {
            decoder.feed(chunk);
            while let Some(event) = decoder.next() {
                events += 1;
                if let ResponseEvent::BodyChunk(more) = event.unwrap() {
                    body.extend(more);
                }
            }
        });
        assert!(decoder.finish().is_ok());
        assert_eq!(decoder.awaited(), 0, "round {round}");
        assert_eq!(
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&as_received(&message)),
            "round {round}: {:?}",
            String::from_utf8_lossy(&wire)
        );
        assert!(events >= 4);
    }
}

#[test]
fn reader_adapter_matches_pushed_chunks() {
    let message = b"a\n.b\r\n..\nend".repeat(10_000);
    let mut pushed = Vec::new();
    let mut encoder = BodyEncoder::new();
    for chunk in message.chunks(977) {
        encoder.push(chunk, &mut pushed);
    }
    encoder.finish(&mut pushed);
    let mut copied = Vec::new();
    let written = BodyEncoder::copy(&message[..], &mut copied).unwrap();
    assert_eq!(copied, pushed);
    assert_eq!(written, copied.len() as u64);
}

#[test]
fn generated_listings_round_trip() {
    let mut rng = Rng(0x5eed_0004);
    for _ in 0..300 {
        let kind = *rng.pick(&[
            ListKind::Scan,
            ListKind::UniqueId,
            ListKind::Capability,
            ListKind::Mechanism,
            ListKind::Language,
        ]);
        let items: Vec<ListItem> = (0..rng.below(8))
            .map(|_| match kind {
                ListKind::Scan => ListItem::Scan(ScanListing {
                    msg: rng.number(),
                    size: rng.next() >> rng.below(64),
                }),
                ListKind::UniqueId => ListItem::UniqueId(UniqueId {
                    msg: rng.number(),
                    uid: String::from_utf8(rng.bytes_from(b"!~.aZ09:", 1, 70)).unwrap(),
                }),
                ListKind::Capability => ListItem::Capability(Capability {
                    name: String::from_utf8(rng.bytes_from(b".ABC-XYZ", 1, 12)).unwrap(),
                    params: (0..rng.below(4))
                        .map(|_| String::from_utf8(rng.bytes_from(b"abc.-09", 1, 8)).unwrap())
                        .collect(),
                }),
                ListKind::Mechanism => {
                    ListItem::Mechanism(String::from_utf8(rng.bytes_from(MECH, 1, 20)).unwrap())
                }
                ListKind::Language => ListItem::Language(Language {
                    tag: String::from_utf8(rng.bytes_from(b"abz-", 1, 8)).unwrap(),
                    description: ["", "English", "Espa\u{f1}ol", ".dot"][rng.below(4)].to_string(),
                }),
            })
            .collect();
        let mut wire = b"+OK\r\n".to_vec();
        encode_listing(&StatusLine::ok("list"), &items, &mut wire).unwrap();
        let mut decoder = ResponseDecoder::new();
        decoder.expect(Expect::Listing(kind));
        let mut decoded = Vec::new();
        chunked_feed(&mut rng, &wire, |chunk| {
            decoder.feed(chunk);
            while let Some(event) = decoder.next() {
                if let ResponseEvent::Item(item) = event.unwrap() {
                    decoded.push(item);
                }
            }
        });
        assert_eq!(decoded, items);
        assert_eq!(decoder.awaited(), 0);
    }
}
