//! `transcript::trace`, the core of `columba imap-trace`.

use columba_imap_proto::transcript::{trace, Direction};

fn lines(transcript: &str) -> Vec<String> {
    trace(transcript.as_bytes())
        .iter()
        .map(|e| e.to_string())
        .collect()
}

#[test]
fn the_shipped_rfc3501_session_traces_cleanly() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/transcripts/rfc3501-section8.txt"
    );
    let entries = trace(&std::fs::read(path).unwrap());
    assert_eq!(entries.len(), 22);
    assert!(entries.iter().all(|e| e.result.is_ok()), "{entries:#?}");
    let fetch = entries[14].to_string();
    assert!(
        fetch.starts_with(r"ok S * 12 FETCH (BODY[HEADER] {342}\r\nDate: Wed, 17 Jul 1996"),
        "{fetch}"
    );
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.direction == Direction::Client)
            .count(),
        6
    );
}

#[test]
fn authenticate_and_idle_follow_the_session() {
    let got = lines(
        "S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\n\
         C: a1 AUTHENTICATE PLAIN\n\
         S: + \n\
         C: AGFsaWNlAHNlY3JldA==\n\
         S: a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\n\
         C: a2 IDLE\n\
         S: a2 NO IDLE not now\n\
         C: a3 IDLE\n\
         S: + idling\n\
         S: * 4 EXISTS\n\
         C: done\n\
         S: a3 OK IDLE terminated\n\
         C: a4 AUTHENTICATE SCRAM-SHA-1\n\
         S: + \n\
         C: *\n\
         S: a4 BAD Authentication aborted\n\
         C: a5 LOGOUT\n",
    );
    assert!(got.iter().all(|l| l.starts_with("ok ")), "{got:#?}");
    assert_eq!(got[2], r"ok S + \r\n");
    assert_eq!(got[3], r"ok C AGFsaWNlAHNlY3JldA==\r\n");
    assert_eq!(got[10], r"ok C DONE\r\n");
    assert_eq!(got[14], r"ok C *\r\n");
}

#[test]
fn errors_name_direction_offset_and_reason() {
    let got = lines(
        "S: * OK ready\n\
         C: a1 FETCH 1 (FLAGS BOGUS)\n\
         S: a1 BAD what?\n\
         S: * 1 FROB\n\
         this line has no prefix\n\
         C: a2 NOOP\n\
         C: a3 LOGIN {5}\n",
    );
    assert_eq!(
        got[1],
        r#"error C 18 expected fetch item, found "BOGUS)\r\n""#
    );
    assert_eq!(
        got[3],
        r#"error S 30 expected EXISTS, RECENT, EXPUNGE or FETCH, found "FROB\r\n""#
    );
    assert!(
        got[4].starts_with("error S 36 transcript line 5"),
        "{}",
        got[4]
    );
    assert_eq!(got[5], r"ok C a2 NOOP\r\n");
    assert_eq!(got[6], "error C 35 incomplete message at end of input");
}

#[test]
fn a_refused_literal_abandons_only_its_command() {
    let got = lines(
        "S: * OK ready\n\
         C: r1 APPEND nosuchbox (\\Seen) {1023}\n\
         S: r1 NO [TRYCREATE] no such mailbox\n\
         C: r2 NOOP\n\
         S: r2 OK done\n",
    );
    assert_eq!(
        got[1],
        "error C 0 command abandoned: the server refused its synchronizing literal"
    );
    assert_eq!(got[3], r"ok C r2 NOOP\r\n");
}

#[test]
fn escaping_keeps_one_message_per_line() {
    let got = lines("S: * OK caf\u{e9} \x01 \\ done\n");
    assert_eq!(got, [r"ok S * OK caf\xc3\xa9 \x01 \ done\r\n"]);
}
