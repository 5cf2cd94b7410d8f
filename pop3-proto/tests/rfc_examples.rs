//! Every example of RFC 1939, 2449, 2595, 3206, 5034 and 6856, as
//! transcripts: each message decodes, and re-encoding gives the bytes back.

use columba_pop3_proto::transcript::{trace, Direction};
use columba_pop3_proto::{
    Command, ListItem, ResponseCode, ResponseDecoder, ResponseEvent, ScanListing, StatusLine,
    UniqueId,
};

fn rfc_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rfc")
}

/// The byte stream of one direction, as the transcript convention builds it.
fn stream(transcript: &[u8], prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in transcript.split(|&b| b == b'\n') {
        if line.starts_with(prefix) {
            let content = &line[prefix.len()..];
            out.extend_from_slice(content.strip_prefix(b" ").unwrap_or(content));
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[test]
fn every_rfc_example_decodes_and_reencodes_to_the_same_bytes() {
    let mut files: Vec<_> = std::fs::read_dir(rfc_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 9, "{files:?}");
    for file in files {
        let transcript = std::fs::read(&file).unwrap();
        let entries = trace(&transcript);
        for entry in &entries {
            assert!(entry.result.is_ok(), "{}: {entry}", file.display());
        }
        for (direction, prefix) in [(Direction::Client, &b"C:"[..]), (Direction::Server, b"S:")] {
            let reencoded: Vec<u8> = entries
                .iter()
                .filter(|e| e.direction == direction)
                .flat_map(|e| e.result.clone().unwrap())
                .collect();
            let mut original = stream(&transcript, prefix);
            if direction == Direction::Server {
                // A bare "+" continuation is re-encoded as "+ ", Dovecot's form.
                original = String::from_utf8(original)
                    .unwrap()
                    .replace("\r\n+\r\n", "\r\n+ \r\n")
                    .into_bytes();
            }
            assert_eq!(
                String::from_utf8_lossy(&reencoded),
                String::from_utf8_lossy(&original),
                "{} {direction:?}",
                file.display()
            );
        }
    }
}

#[test]
fn rfc1939_session_has_the_typed_values_the_rfc_describes() {
    let transcript = std::fs::read(rfc_dir().join("rfc1939-session.txt")).unwrap();
    let entries = trace(&transcript);
    let shown: Vec<String> = entries.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown[0],
        "ok S +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\\r\\n"
    );
    assert_eq!(
        shown[1],
        "ok C APOP mrose c4c9334bac560ecc979e58001b3e22fb\\r\\n"
    );
    assert_eq!(
        shown[6],
        "ok S +OK 2 messages (320 octets)\\r\\n1 120\\r\\n2 200\\r\\n.\\r\\n"
    );
    assert_eq!(entries.len(), 17);

    let mut decoder = ResponseDecoder::new();
    decoder.feed(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
    let Some(Ok(ResponseEvent::Single(greeting))) = decoder.next() else {
        panic!("no greeting")
    };
    assert_eq!(
        greeting.apop_timestamp(),
        Some(&b"<1896.697170952@dbc.mtview.ca.us>"[..])
    );
    decoder.command_sent(&Command::Stat);
    decoder.command_sent(&Command::List(None));
    decoder.command_sent(&Command::List(Some(2)));
    decoder.command_sent(&Command::Uidl(None));
    decoder
        .feed(b"+OK 2 320\r\n+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n+OK 2 200\r\n");
    decoder.feed(b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n");
    let events: Vec<_> = std::iter::from_fn(|| decoder.next())
        .map(Result::unwrap)
        .collect();
    let ResponseEvent::Single(stat) = &events[0] else {
        panic!()
    };
    assert_eq!(stat.maildrop_stat(), Some((2, 320)));
    assert_eq!(
        events[2],
        ResponseEvent::Item(ListItem::Scan(ScanListing { msg: 1, size: 120 }))
    );
    let ResponseEvent::Single(list2) = &events[5] else {
        panic!()
    };
    assert_eq!(
        list2.scan_listing(),
        Some(ScanListing { msg: 2, size: 200 })
    );
    assert_eq!(
        events[8],
        ResponseEvent::Item(ListItem::UniqueId(UniqueId {
            msg: 2,
            uid: "QhdPYR:00WBw1Ph7x7".into()
        }))
    );
    assert_eq!(events[9], ResponseEvent::MultiLineEnd);
    assert_eq!(decoder.awaited(), 0);
}

#[test]
fn extended_response_codes_are_typed() {
    let cases: [(&[u8], ResponseCode, &[u8]); 6] = [
        (
            b"-ERR [IN-USE] Do you have another POP session running?",
            ResponseCode::InUse,
            b"Do you have another POP session running?",
        ),
        (
            b"-ERR [LOGIN-DELAY] wait longer",
            ResponseCode::LoginDelay,
            b"wait longer",
        ),
        (
            b"-ERR [SYS/TEMP] try later",
            ResponseCode::SysTemp,
            b"try later",
        ),
        (
            b"-ERR [SYS/PERM] disabled",
            ResponseCode::SysPerm,
            b"disabled",
        ),
        (
            b"-ERR [AUTH] Authentication failed.",
            ResponseCode::Auth,
            b"Authentication failed.",
        ),
        (b"-ERR [UTF8] needs UTF8", ResponseCode::Utf8, b"needs UTF8"),
    ];
    for (line, code, text) in cases {
        let status = StatusLine::parse(line, 0).unwrap();
        assert!(!status.is_ok());
        assert_eq!(status.code, Some(code));
        assert_eq!(status.text, text);
    }
    let other = StatusLine::parse(b"+OK [XYZ/ABC] fine", 0).unwrap();
    assert_eq!(other.code, Some(ResponseCode::Other("XYZ/ABC".into())));
    let unclosed = StatusLine::parse(b"+OK [not a code", 0).unwrap();
    assert_eq!(unclosed.code, None);
    assert_eq!(unclosed.text, b"[not a code");
}

#[test]
fn capa_lines_are_typed() {
    let mut decoder = ResponseDecoder::new();
    decoder.feed(b"+OK hi\r\n");
    decoder.next();
    decoder.command_sent(&Command::Capa);
    decoder.feed(b"+OK Capability list follows\r\nTOP\r\nSASL CRAM-MD5 KERBEROS_V4\r\nLOGIN-DELAY 900\r\n.\r\n");
    let events: Vec<_> = std::iter::from_fn(|| decoder.next())
        .map(Result::unwrap)
        .collect();
    let ResponseEvent::Item(ListItem::Capability(sasl)) = &events[2] else {
        panic!()
    };
    assert!(sasl.is("sasl"));
    assert_eq!(sasl.params, ["CRAM-MD5", "KERBEROS_V4"]);
    let ResponseEvent::Item(ListItem::Capability(delay)) = &events[3] else {
        panic!()
    };
    assert_eq!(delay.params, ["900"]);
}

#[test]
fn rfc1939_apop_example_digest() {
    let timestamp = b"<1896.697170952@dbc.mtview.ca.us>";
    assert_eq!(
        Command::apop(b"mrose", timestamp, b"tanstaaf")
            .encode()
            .unwrap(),
        b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"
    );
    let upper = columba_pop3_proto::Secret::new(*b"C4C9334BAC560ECC979E58001B3E22FB");
    assert!(columba_pop3_proto::apop_digest_matches(
        &upper,
        timestamp,
        b"tanstaaf"
    ));
    assert!(!columba_pop3_proto::apop_digest_matches(
        &upper,
        timestamp,
        b"tanstaag"
    ));
}
