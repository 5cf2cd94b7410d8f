//! The IMAP session driven by byte scripts: exact responses for a login,
//! mailbox commands over a real Maildir, and bad input that gets BAD or BYE
//! while the session stays usable.

use columba_session::{ImapConfig, ImapEvent, ImapSession, MaildirStorage};

fn out(s: &mut ImapSession) -> String {
    String::from_utf8(s.take_output()).unwrap()
}

/// A session logged in as `demo` over a fresh Maildir.
fn logged_in(home: &std::path::Path) -> ImapSession {
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    out(&mut s);
    s.feed(b"a LOGIN demo pw\r\n");
    match s.poll_event() {
        Some(ImapEvent::Authenticate {
            credentials,
            method,
        }) => {
            assert_eq!(
                (credentials.user.as_str(), method.as_str()),
                ("demo", "LOGIN")
            );
            assert_eq!(credentials.password, b"pw");
        }
        other => panic!("{other:?}"),
    }
    let storage = MaildirStorage::open(&home.join("Maildir")).unwrap();
    s.login_succeeded("demo", Box::new(storage));
    assert!(out(&mut s).starts_with("a OK [CAPABILITY IMAP4rev1 "));
    s
}

#[test]
fn greeting_and_capability_before_login() {
    let mut s = ImapSession::new(ImapConfig::default());
    assert_eq!(
        out(&mut s),
        "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS \
         LOGINDISABLED] Columba ready.\r\n"
    );
    s.feed(b"1 CAPABILITY\r\n2 NOOP\r\n3 LOGIN demo pw\r\n4 AUTHENTICATE PLAIN AGRlbW8AcHc=\r\n");
    assert_eq!(
        out(&mut s),
        "* CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS \
         LOGINDISABLED\r\n1 OK Pre-login capabilities listed, post-login capabilities have more.\r\n2 OK NOOP completed.\r\n\
         * BAD [ALERT] Plaintext authentication not allowed without SSL/TLS, but your client did \
         it anyway. If anyone was listening, the password was exposed.\r\n\
         3 NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n\
         4 NO [PRIVACYREQUIRED] Plaintext authentication disabled.\r\n"
    );
    assert_eq!(s.poll_event(), None);
}

#[test]
fn starttls_drops_what_came_before_the_handshake() {
    let mut s = ImapSession::new(ImapConfig::default());
    out(&mut s);
    s.feed(b"t STARTTLS\r\nx LOGIN injected before tls\r\n");
    assert_eq!(out(&mut s), "t OK Begin TLS negotiation now.\r\n");
    assert_eq!(s.poll_event(), Some(ImapEvent::StartTls));
    s.tls_started();
    assert_eq!(s.poll_event(), None);
    s.feed(b"c CAPABILITY\r\n");
    let caps = out(&mut s);
    assert!(caps.contains(" AUTH=PLAIN\r\n"), "{caps}");
    assert!(!caps.contains("STARTTLS") && !caps.contains("LOGINDISABLED"));
}

#[test]
fn authenticate_plain_with_and_without_initial_response() {
    let mut s = ImapSession::new(ImapConfig {
        tls: true,
        ..ImapConfig::default()
    });
    out(&mut s);
    s.feed(b"a AUTHENTICATE PLAIN\r\n");
    assert_eq!(out(&mut s), "+ \r\n");
    s.feed(b"AGRlbW8AcHc=\r\n");
    let Some(ImapEvent::Authenticate { credentials, .. }) = s.poll_event() else {
        panic!()
    };
    assert_eq!(credentials.user, "demo");
    assert_eq!(
        format!("{credentials:?}"),
        "Credentials { user: \"demo\", password: \"<hidden>\" }"
    );
    s.login_failed(false);
    assert_eq!(
        out(&mut s),
        "a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    );
    s.feed(b"b AUTHENTICATE PLAIN\r\n*\r\nc NOOP\r\n");
    assert_eq!(
        out(&mut s),
        "+ \r\nb BAD Authentication aborted by client.\r\nc OK NOOP completed.\r\n"
    );
}

#[test]
fn pipelined_commands_wait_for_the_login_result() {
    let home = tempfile::tempdir().unwrap();
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    out(&mut s);
    s.feed(b"a LOGIN demo pw\r\nb SELECT INBOX\r\n");
    assert_eq!(out(&mut s), "");
    assert!(matches!(
        s.poll_event(),
        Some(ImapEvent::Authenticate { .. })
    ));
    let storage = MaildirStorage::open(&home.path().join("Maildir")).unwrap();
    s.login_succeeded("demo", Box::new(storage));
    let o = out(&mut s);
    assert!(o.contains("b OK [READ-WRITE] Select completed.\r\n"), "{o}");
}

#[test]
fn mailbox_session_from_append_to_expunge() {
    let home = tempfile::tempdir().unwrap();
    let mut s = logged_in(home.path());
    s.feed(b"1 CREATE Archive\r\n2 LIST \"\" *\r\n3 STATUS INBOX (MESSAGES UIDNEXT UNSEEN)\r\n");
    assert_eq!(
        out(&mut s),
        "1 OK Create completed.\r\n\
         * LIST (\\HasNoChildren) \"/\" Archive\r\n\
         * LIST (\\HasNoChildren) \"/\" INBOX\r\n\
         2 OK List completed.\r\n\
         * STATUS INBOX (MESSAGES 0 UIDNEXT 1 UNSEEN 0)\r\n\
         3 OK Status completed.\r\n"
    );
    s.feed(b"4 APPEND INBOX (\\Seen) {37+}\r\nSubject: one\r\n\r\nfirst message body\r\n\r\n");
    let o = out(&mut s);
    assert!(
        o.starts_with("4 OK [APPENDUID ") && o.ends_with(" 1] Append completed.\r\n"),
        "{o}"
    );
    s.feed(b"5 APPEND INBOX {20}\r\n");
    assert_eq!(out(&mut s), "+ OK\r\n");
    s.feed(b"Subject: two\r\n\r\nbody\r\n");
    assert!(out(&mut s).ends_with(" 2] Append completed.\r\n"));
    s.feed(b"6 SELECT INBOX\r\n");
    let o = out(&mut s);
    assert!(o.starts_with(
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
         * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n\
         * 2 EXISTS\r\n* 2 RECENT\r\n* OK [UNSEEN 2] First unseen.\r\n* OK [UIDVALIDITY "
    ), "{o}");
    assert!(o.ends_with(
        "* OK [UIDNEXT 3] Predicted next UID\r\n6 OK [READ-WRITE] Select completed.\r\n"
    ));
    s.feed(b"7 FETCH 1:* (UID FLAGS RFC822.SIZE)\r\n");
    assert_eq!(
        out(&mut s),
        "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) RFC822.SIZE 37)\r\n\
         * 2 FETCH (UID 2 FLAGS (\\Recent) RFC822.SIZE 20)\r\n\
         7 OK Fetch completed.\r\n"
    );
    s.feed(b"8 FETCH 2 BODY[HEADER.FIELDS (SUBJECT)]\r\n");
    assert_eq!(
        out(&mut s),
        "* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {16}\r\nSubject: two\r\n\r\n FLAGS (\\Seen \\Recent))\r\n\
         8 OK Fetch completed.\r\n"
    );
    s.feed(b"9 UID SEARCH UNSEEN\r\n10 SEARCH RETURN (MIN COUNT) ALL\r\n");
    assert_eq!(
        out(&mut s),
        "* SEARCH\r\n9 OK Search completed.\r\n\
         * ESEARCH (TAG \"10\") MIN 1 COUNT 2\r\n10 OK Search completed.\r\n"
    );
    s.feed(b"11 STORE 1 +FLAGS (\\Deleted $Label1)\r\n");
    let o = out(&mut s);
    assert_eq!(
        o,
        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)\r\n\
         * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 \\*)] Flags permitted.\r\n\
         * 1 FETCH (FLAGS (\\Deleted \\Seen \\Recent $Label1))\r\n11 OK Store completed.\r\n"
    );
    s.feed(b"12 UID COPY 1:2 Archive\r\n13 EXPUNGE\r\n14 STATUS Archive (MESSAGES)\r\n");
    let o = out(&mut s);
    assert!(o.starts_with("12 OK [COPYUID "), "{o}");
    assert!(o.contains(" 1,2 1,2] Copy completed.\r\n* 1 EXPUNGE\r\n* 1 RECENT\r\n13 OK Expunge completed.\r\n"), "{o}");
    assert!(o.ends_with("* STATUS Archive (MESSAGES 2)\r\n14 OK Status completed.\r\n"));
    s.feed(b"15 UID MOVE 2 Archive\r\n");
    let o = out(&mut s);
    assert!(o.starts_with("* OK [COPYUID "), "{o}");
    assert!(
        o.ends_with(" 2 3] Moved UIDs.\r\n* 1 EXPUNGE\r\n* 0 RECENT\r\n15 OK Move completed.\r\n"),
        "{o}"
    );
    s.feed(b"16 CLOSE\r\n17 FETCH 1 FLAGS\r\n18 LOGOUT\r\n");
    assert_eq!(
        out(&mut s),
        "16 OK Close completed.\r\n\
         17 BAD Error in IMAP command FETCH: No mailbox selected.\r\n\
         * BYE Logging out\r\n18 OK Logout completed.\r\n"
    );
    assert!(s.poll_event().is_some());
}

#[test]
fn idle_reports_changes_given_as_notifications() {
    let home = tempfile::tempdir().unwrap();
    let mut s = logged_in(home.path());
    s.feed(b"1 SELECT INBOX\r\n2 IDLE\r\n");
    assert!(out(&mut s).ends_with("1 OK [READ-WRITE] Select completed.\r\n+ idling\r\n"));
    // another session delivers
    let mut other = MaildirStorage::open(&home.path().join("Maildir")).unwrap();
    use columba_session::MailStorage;
    other
        .append(
            "INBOX",
            b"Subject: new\n\nhi\n",
            Default::default(),
            &[],
            None,
        )
        .unwrap();
    s.mailbox_changed("Archive");
    assert_eq!(out(&mut s), "");
    s.mailbox_changed("INBOX");
    assert_eq!(out(&mut s), "* 1 EXISTS\r\n* 1 RECENT\r\n");
    s.feed(b"DONE\r\n3 NOOP\r\n");
    assert_eq!(
        out(&mut s),
        "2 OK Idle completed.\r\n3 OK NOOP completed.\r\n"
    );
}

#[test]
fn bad_input_gets_bad_and_the_session_survives() {
    let home = tempfile::tempdir().unwrap();
    let mut s = logged_in(home.path());
    // garbage, an unknown command, a missing argument
    s.feed(b"\x01\x02garbage\r\nx FROB\r\ny SELECT\r\n");
    let o = out(&mut s);
    assert_eq!(o.matches(" BAD ").count(), 3, "{o}");
    // an over-long line (1 MB) without a line end yet, then its end
    let long = vec![b'a'; 1 << 20];
    s.feed(b"z NOOP ");
    s.feed(&long);
    s.feed(b"\r\n");
    let o = out(&mut s);
    assert!(o.starts_with("z BAD ") || o.starts_with("* BAD "), "{o}");
    // a literal announced as 10 GB
    s.feed(b"w APPEND INBOX {10737418240}\r\n");
    let o = out(&mut s);
    assert!(o.contains(" BAD "), "{o}");
    // 10,000 nested parentheses
    let mut deep = b"v SEARCH ".to_vec();
    deep.extend(std::iter::repeat_n(b'(', 10_000));
    deep.extend(b"ALL");
    deep.extend(std::iter::repeat_n(b')', 10_000));
    deep.extend(b"\r\n");
    s.feed(&deep);
    let o = out(&mut s);
    assert!(o.contains(" BAD "), "{o}");
    s.feed(b"u NOOP\r\n");
    assert_eq!(out(&mut s), "u OK NOOP completed.\r\n");
}

#[test]
fn searchres_saves_a_result_that_dollar_names() {
    let home = tempfile::tempdir().unwrap();
    let mut s = logged_in(home.path());
    for flags in ["\\Seen", "", "\\Seen"] {
        s.feed(format!("p APPEND INBOX ({flags}) {{3+}}\r\nx\r\n\r\n").as_bytes());
    }
    s.feed(b"a SELECT INBOX\r\n");
    out(&mut s);
    s.feed(b"b SEARCH RETURN (SAVE) SEEN\r\nc FETCH $ (UID)\r\nd SEARCH RETURN (SAVE MAX COUNT) SEEN\r\ne UID SEARCH UID $\r\n");
    assert_eq!(
        out(&mut s),
        "b OK Search completed.\r\n* 1 FETCH (UID 1)\r\n* 3 FETCH (UID 3)\r\nc OK Fetch completed.\r\n\
         * ESEARCH (TAG \"d\") MAX 3 COUNT 2\r\nd OK Search completed.\r\n\
         * SEARCH 1 3\r\ne OK Search completed.\r\n"
    );
    // a new SELECT forgets the saved result
    s.feed(b"f SELECT INBOX\r\n");
    out(&mut s);
    s.feed(b"g SEARCH $\r\n");
    assert_eq!(out(&mut s), "* SEARCH\r\ng OK Search completed.\r\n");
}

#[test]
fn qresync_select_reports_vanished_earlier_and_changed_flags() {
    let home = tempfile::tempdir().unwrap();
    let mut s = logged_in(home.path());
    for _ in 0..4 {
        s.feed(b"p APPEND INBOX {3+}\r\nx\r\n\r\n");
    }
    out(&mut s);
    s.feed(b"a SELECT INBOX (QRESYNC (1 1))\r\n");
    assert_eq!(
        out(&mut s),
        "a BAD QRESYNC isn't enabled.\r\n",
        "SELECT (QRESYNC) needs ENABLE QRESYNC first"
    );
    s.feed(b"e ENABLE QRESYNC\r\nb SELECT INBOX\r\n");
    let answer = out(&mut s);
    let validity: u32 = answer
        .split("[UIDVALIDITY ")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    let modseq: u64 = answer
        .split("[HIGHESTMODSEQ ")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    s.feed(b"c STORE 2 +FLAGS.SILENT (\\Deleted)\r\nd EXPUNGE\r\nf STORE 2 +FLAGS.SILENT (\\Seen)\r\ng UNSELECT\r\n");
    let answer = out(&mut s);
    assert!(answer.contains("* VANISHED 2\r\n"), "{answer}");
    // back with what the client knew before: UID 2 is gone, UID 3 changed
    s.feed(format!("h SELECT INBOX (QRESYNC ({validity} {modseq} 1:4))\r\n").as_bytes());
    let answer = out(&mut s);
    assert!(answer.contains("* VANISHED (EARLIER) 2\r\n"), "{answer}");
    assert!(
        answer.contains("* 2 FETCH (UID 3 FLAGS (\\Seen) MODSEQ ("),
        "{answer}"
    );
    // (messages whose MODSEQ the store raised meanwhile are reported too,
    // which RFC 7162 allows)
    // a wrong UIDVALIDITY: a plain SELECT
    s.feed(
        format!(
            "i SELECT INBOX (QRESYNC ({} 1))\r\n",
            validity.wrapping_add(1)
        )
        .as_bytes(),
    );
    let answer = out(&mut s);
    assert!(
        !answer.contains("VANISHED") && !answer.contains("FETCH"),
        "{answer}"
    );
}
