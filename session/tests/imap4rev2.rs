//! ENABLE IMAP4rev2 (RFC 9051): advertised next to IMAP4rev1 (Dovecot 2.3
//! does not offer it, so these answers follow the RFC): once enabled there
//! is no `\Recent` (no RECENT responses, no flag), SEARCH is answered with
//! ESEARCH, and SELECT drops `[UNSEEN]` and sends the mailbox's LIST
//! response.

use columba_session::storage::MessageFlags;
use columba_session::{ImapConfig, ImapEvent, ImapSession, MailStorage, MaildirStorage};

fn out(s: &mut ImapSession) -> String {
    String::from_utf8(s.take_output()).unwrap()
}

fn session(root: &std::path::Path) -> ImapSession {
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    assert!(out(&mut s).starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR "));
    s.feed(b"a LOGIN demo pw\r\n");
    assert!(matches!(
        s.poll_event(),
        Some(ImapEvent::Authenticate { .. })
    ));
    s.login_succeeded("demo", Box::new(MaildirStorage::open(root).unwrap()));
    assert!(out(&mut s).starts_with("a OK [CAPABILITY IMAP4rev1 IMAP4rev2 "));
    s
}

fn deliver(root: &std::path::Path, n: usize) {
    let mut st = MaildirStorage::open(root).unwrap();
    for i in 0..n {
        let msg = format!("Subject: m{i}\r\n\r\nbody\r\n");
        let flags = MessageFlags {
            seen: i == 0,
            ..MessageFlags::default()
        };
        st.append("INBOX", msg.as_bytes(), flags, &[], None)
            .unwrap();
    }
}

#[test]
fn rev2_answers_without_recent_and_with_esearch() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    deliver(&root, 3);
    let mut s = session(&root);
    s.feed(b"b ENABLE IMAP4rev2\r\n");
    assert_eq!(out(&mut s), "* ENABLED IMAP4rev2\r\nb OK Enabled.\r\n");
    s.feed(b"c SELECT INBOX\r\n");
    let text = out(&mut s);
    assert!(text.contains("* 3 EXISTS\r\n"), "{text}");
    assert!(!text.contains("RECENT"), "{text}");
    assert!(!text.contains("[UNSEEN"), "{text}");
    assert!(
        text.contains("* LIST (\\HasNoChildren) \"/\" INBOX\r\n"),
        "{text}"
    );
    s.feed(b"d FETCH 1:* FLAGS\r\n");
    let text = out(&mut s);
    assert!(text.contains("* 1 FETCH (FLAGS (\\Seen))\r\n"), "{text}");
    assert!(text.contains("* 2 FETCH (FLAGS ())\r\n"), "{text}");
    s.feed(b"e SEARCH UNSEEN\r\nf UID SEARCH SEEN\r\ng SEARCH SUBJECT nothing\r\n");
    let text = out(&mut s);
    assert!(text.contains("* ESEARCH (TAG \"e\") ALL 2:3\r\n"), "{text}");
    assert!(
        text.contains("* ESEARCH (TAG \"f\") UID ALL 1\r\n"),
        "{text}"
    );
    assert!(text.contains("* ESEARCH (TAG \"g\")\r\n"), "{text}");
    assert!(!text.contains("* SEARCH"), "{text}");
    // a new message: EXISTS, no RECENT
    deliver(&root, 1);
    s.feed(b"h NOOP\r\n");
    assert_eq!(out(&mut s), "* 4 EXISTS\r\nh OK NOOP completed.\r\n");
}

#[test]
fn without_enable_the_session_stays_imap4rev1() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    deliver(&root, 2);
    let mut s = session(&root);
    s.feed(b"c SELECT INBOX\r\nd SEARCH ALL\r\n");
    let text = out(&mut s);
    assert!(text.contains("* 2 RECENT\r\n"), "{text}");
    assert!(text.contains("* OK [UNSEEN 2]"), "{text}");
    assert!(text.contains("* SEARCH 1 2\r\n"), "{text}");
    // a server set up without IMAP4rev2 ignores the ENABLE
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        imap4rev2: false,
        ..ImapConfig::default()
    });
    assert!(!out(&mut s).contains("IMAP4rev2"));
    s.feed(b"a LOGIN demo pw\r\n");
    s.poll_event();
    s.login_succeeded("demo", Box::new(MaildirStorage::open(&root).unwrap()));
    out(&mut s);
    s.feed(b"b ENABLE IMAP4rev2\r\n");
    assert_eq!(out(&mut s), "b OK Enabled.\r\n");
}
