//! The sample transcripts in `examples/transcripts/`: sessions captured
//! from real clients (Python poplib, curl, fetchmail) against Dovecot 2.3,
//! and sessions written from Thunderbird's and Outlook's documented
//! behaviour (Thunderbird's current client: CAPA, AUTH PLAIN without an
//! initial response, STAT, LIST, UIDL, then RETR/DELE or TOP n 20 for big
//! messages; its older client sent a bare AUTH before CAPA). Every message decodes; the error sample fails exactly where
//! it should.

use columba_pop3_proto::transcript::trace;

fn transcripts_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/transcripts")
}

#[test]
fn every_client_transcript_decodes() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(transcripts_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("pop3-") || name == "pop3-errors.txt" {
            continue;
        }
        let entries = trace(&std::fs::read(&path).unwrap());
        assert!(entries.len() >= 5, "{name}");
        for entry in &entries {
            assert!(entry.result.is_ok(), "{name}: {entry}");
        }
        seen.push(name);
    }
    seen.sort();
    for client in [
        "thunderbird",
        "outlook",
        "python-poplib",
        "curl",
        "fetchmail",
        "dovecot",
    ] {
        assert!(
            seen.iter().any(|n| n.contains(client)),
            "{client}: {seen:?}"
        );
    }
}

#[test]
fn error_transcript_reports_each_bad_message_and_goes_on() {
    let entries = trace(&std::fs::read(transcripts_dir().join("pop3-errors.txt")).unwrap());
    let shown: Vec<String> = entries.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "ok S +OK Dovecot (Debian) ready.\\r\\n",
            "error C 0 RETR: \"one\" is not a number from 0 to 4294967295",
            "ok S -ERR Invalid message number: one\\r\\n",
            "error C 10 unknown command \"XYZZY\"",
            "ok S -ERR Unknown command: XYZZY\\r\\n",
            "ok C STAT\\r\\n",
            "ok S +OK 2 120\\r\\n",
            "ok C LIST\\r\\n",
            "error S 126 bad scan listing line: message number is not a 32-bit decimal number",
            "ok C QUIT\\r\\n",
            "error S 137 response does not start with +OK or -ERR",
        ]
    );
}

#[test]
fn transcript_edge_cases() {
    // A transcript line that is neither C: nor S:.
    let entries = trace(b"S: +OK hi\nX: what\n");
    assert_eq!(
        entries[1].to_string(),
        "error C 10 transcript line 2 does not start with \"C: \" or \"S: \""
    );
    // CRLF line ends in the file, and "S:" without a space for an empty line.
    let entries =
        trace(b"S: +OK hi\r\nC: RETR 1\r\nS: +OK\r\nS: a\r\nS:\r\nS: \xc3\xa9\x01\r\nS: .\r\n");
    assert_eq!(
        entries[2].to_string(),
        "ok S +OK\\r\\na\\r\\n\\r\\n\\xc3\\xa9\\x01\\r\\n.\\r\\n"
    );
    // A multi-line response cut short.
    let entries = trace(b"S: +OK hi\nC: LIST\nS: +OK\nS: 1 2\n");
    assert_eq!(
        entries.last().unwrap().to_string(),
        "error S 8 input ends inside a multi-line response"
    );
    // A response nobody asked for.
    let entries = trace(b"S: +OK hi\nS: +OK again\n");
    assert_eq!(
        entries[1].to_string(),
        "error S 8 response without a pending command"
    );
    // A bad SASL line is answered by the AUTH's own -ERR; what follows
    // stays in step.
    let entries = trace(b"S: +OK hi\nC: AUTH PLAIN\nS: + \nC: !!!!\nS: -ERR [AUTH] Invalid base64 in response\nC: LIST\nS: +OK\nS: 1 2\nS: .\n");
    let shown: Vec<String> = entries.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown[3],
        "error C 12 AUTH: SASL response is neither base64 nor '*'"
    );
    assert_eq!(
        shown[4],
        "ok S -ERR [AUTH] Invalid base64 in response\\r\\n"
    );
    assert_eq!(shown[6], "ok S +OK\\r\\n1 2\\r\\n.\\r\\n");
    assert_eq!(entries.len(), 7);
    // After UTF8 is accepted, user names must be UTF-8 (RFC 6856); before
    // it, or if it is refused, any bytes go.
    let entries = trace(b"S: +OK hi\nC: USER j\xf6ran\nS: -ERR no\nC: UTF8\nS: +OK\nC: USER j\xf6ran\nS: -ERR no\nC: USER j\xc3\xb6ran\nS: +OK\n");
    let shown: Vec<String> = entries.iter().map(ToString::to_string).collect();
    assert_eq!(shown[1], "ok C USER j\\xf6ran\\r\\n");
    assert_eq!(shown[5], "error C 18 invalid UTF-8");
    assert_eq!(shown[7], "ok C USER j\\xc3\\xb6ran\\r\\n");
    let refused = trace(b"S: +OK hi\nC: UTF8\nS: -ERR no\nC: USER j\xf6ran\nS: -ERR no\n");
    assert!(refused.iter().all(|e| e.result.is_ok()));
}
