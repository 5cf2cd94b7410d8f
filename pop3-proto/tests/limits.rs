//! Line limits, resynchronisation after a bad line, bare LF, and the
//! errors saying what was wrong and where.

use columba_pop3_proto::{
    ClientMessage, Command, CommandDecoder, Error, Limits, ResponseDecoder, ResponseEvent,
    SaslResponse, Secret,
};

fn all(decoder: &mut CommandDecoder) -> Vec<Result<ClientMessage, Error>> {
    std::iter::from_fn(|| decoder.next()).collect()
}

fn command(c: Command) -> Result<ClientMessage, Error> {
    Ok(ClientMessage::Command(c))
}

#[test]
fn command_line_limit_is_255_octets_with_crlf() {
    let mut decoder = CommandDecoder::new();
    let name = vec![b'a'; 255 - "USER \r\n".len()];
    let mut line = b"USER ".to_vec();
    line.extend_from_slice(&name);
    line.extend_from_slice(b"\r\n");
    assert_eq!(line.len(), 255);
    decoder.feed(&line);
    assert_eq!(all(&mut decoder), [command(Command::User(name.clone()))]);

    let mut long = b"USER a".to_vec();
    long.extend_from_slice(&line[5..]);
    decoder.feed(&long);
    decoder.feed(b"STAT\r\n");
    assert_eq!(
        all(&mut decoder),
        [
            Err(Error::LineTooLong {
                offset: 255,
                limit: 255
            }),
            command(Command::Stat)
        ]
    );
    assert_eq!(
        Error::LineTooLong {
            offset: 255,
            limit: 255
        }
        .to_string(),
        "at byte 255: line longer than 255 octets"
    );
}

#[test]
fn an_oversize_line_is_reported_before_its_end_and_not_buffered() {
    let mut decoder = CommandDecoder::new();
    decoder.feed(b"NOOP\r\n");
    decoder.feed(&[b'x'; 300]);
    assert_eq!(
        all(&mut decoder),
        [
            command(Command::Noop),
            Err(Error::LineTooLong {
                offset: 6,
                limit: 255
            })
        ]
    );
    // Megabytes more of the same line: skipped, nothing reported twice.
    for _ in 0..100 {
        decoder.feed(&[b'y'; 100_000]);
        assert_eq!(all(&mut decoder), []);
    }
    decoder.feed(b"\r\nQUIT\r\n");
    assert_eq!(all(&mut decoder), [command(Command::Quit)]);
    assert_eq!(decoder.offset(), 6 + 300 + 10_000_000 + 8);
}

#[test]
fn limits_are_configurable() {
    let mut decoder = CommandDecoder::with_limits(Limits {
        command_line: 1000,
        ..Limits::RFC
    });
    let password = vec![b'p'; 900];
    let mut line = b"PASS ".to_vec();
    line.extend_from_slice(&password);
    line.extend_from_slice(b"\r\n");
    decoder.feed(&line);
    assert_eq!(
        all(&mut decoder),
        [command(Command::Pass(Secret::new(password)))]
    );
}

#[test]
fn sasl_lines_have_their_own_limit() {
    let token = vec![b'A'; 2000];
    let mut line = token.clone();
    line.extend_from_slice(b"\r\n");
    let mut decoder = CommandDecoder::new();
    decoder.expect_sasl_response();
    decoder.feed(&line);
    assert_eq!(
        all(&mut decoder),
        [Ok(ClientMessage::SaslResponse(SaslResponse::Data(
            Secret::new(token)
        )))]
    );
    // The same line as a command is too long.
    decoder.feed(&line);
    assert_eq!(
        all(&mut decoder),
        [Err(Error::LineTooLong {
            offset: 2002,
            limit: 255
        })]
    );
    decoder.expect_sasl_response();
    decoder.feed(b"*\r\nnot base64!\r\n");
    assert_eq!(
        all(&mut decoder)[0],
        Ok(ClientMessage::SaslResponse(SaslResponse::Cancel))
    );
}

#[test]
fn bare_lf_is_accepted_and_bad_bytes_are_located() {
    let mut decoder = CommandDecoder::new();
    decoder.feed(b"stat\nList 2\nUSER a\rb\r\nPASS x\0y\r\n\r\nTOP 1\nDELE 4294967296\nQUIT now\n");
    let got = all(&mut decoder);
    assert_eq!(got[0], command(Command::Stat));
    assert_eq!(got[1], command(Command::List(Some(2))));
    assert_eq!(
        got[2],
        Err(Error::InvalidByte {
            offset: 18,
            byte: b'\r'
        })
    );
    assert_eq!(
        got[3],
        Err(Error::InvalidByte {
            offset: 28,
            byte: 0
        })
    );
    assert_eq!(got[4], Err(Error::EmptyCommand { offset: 32 }));
    assert_eq!(
        got[5].as_ref().unwrap_err().to_string(),
        "at byte 34: TOP: expected a message number and a line count"
    );
    assert_eq!(
        got[6].as_ref().unwrap_err().to_string(),
        "at byte 40: DELE: \"4294967296\" is not a number from 0 to 4294967295"
    );
    // Dovecot ignores arguments to commands that take none.
    assert_eq!(got[7], command(Command::Quit));
    assert!(decoder.finish().is_ok());
    decoder.feed(b"STA");
    assert_eq!(
        decoder.finish(),
        Err(Error::Truncated {
            offset: 65,
            what: "a command line"
        })
    );
}

#[test]
fn passwords_never_show_in_debug_output() {
    let mut decoder = CommandDecoder::new();
    decoder.feed(b"PASS hunter2 with spaces\r\nAPOP bob c4c9334bac560ecc979e58001b3e22fb\r\nAUTH PLAIN AGFsaWNlAGh1bnRlcjI=\r\n");
    let shown = format!("{:?}", all(&mut decoder));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("c4c9334b"), "{shown}");
    assert!(!shown.contains("AGFsaWNl"), "{shown}");
    assert!(shown.contains("name: [98, 111, 98]"), "{shown}");
}

#[test]
fn response_line_limit_and_resync() {
    let mut decoder = ResponseDecoder::new();
    decoder.command_sent(&Command::Stat);
    decoder.command_sent(&Command::Noop);
    let mut long = b"+OK ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 600));
    long.extend_from_slice(b"\r\n+OK 1 2\r\n+OK\n");
    decoder.feed(&long);
    let got: Vec<_> = std::iter::from_fn(|| decoder.next()).collect();
    assert_eq!(
        got[0],
        Err(Error::LineTooLong {
            offset: 0,
            limit: 512
        })
    );
    let Ok(ResponseEvent::Single(stat)) = &got[1] else {
        panic!("{got:?}")
    };
    assert_eq!(stat.maildrop_stat(), Some((1, 2)));
    assert!(matches!(got[2], Ok(ResponseEvent::Single(_))));
}

#[test]
fn utf8_mode_requires_utf8_user_names_and_passwords() {
    let mut decoder = CommandDecoder::new();
    decoder.feed(b"USER j\xf6ran\r\n");
    assert_eq!(
        all(&mut decoder),
        [command(Command::User(b"j\xf6ran".to_vec()))]
    );
    decoder.set_utf8(true);
    decoder.feed(b"USER j\xf6ran\r\nUSER j\xc3\xb6ran\r\nPASS gr\xfc\xdfe\r\n");
    assert_eq!(
        all(&mut decoder),
        [
            Err(Error::InvalidUtf8 { offset: 12 }),
            command(Command::User("jöran".into())),
            Err(Error::InvalidUtf8 { offset: 37 }),
        ]
    );
}
