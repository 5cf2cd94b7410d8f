//! MULTIAPPEND (RFC 3502) is all or nothing: the messages of one APPEND
//! are staged in the mailbox's `tmp/` and committed together; when one of
//! them is refused, none is kept and no `tmp/` file is left behind.

use columba_session::{ImapConfig, ImapEvent, ImapSession, MaildirStorage};

fn out(s: &mut ImapSession) -> String {
    String::from_utf8(s.take_output()).unwrap()
}

fn logged_in(root: &std::path::Path, config: ImapConfig) -> ImapSession {
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..config
    });
    s.feed(b"a LOGIN demo pw\r\n");
    assert!(matches!(
        s.poll_event(),
        Some(ImapEvent::Authenticate { .. })
    ));
    s.login_succeeded("demo", Box::new(MaildirStorage::open(root).unwrap()));
    out(&mut s);
    s
}

fn tmp_files(root: &std::path::Path) -> usize {
    std::fs::read_dir(root.join("tmp")).unwrap().count()
}

#[test]
fn all_messages_of_a_multiappend_arrive_together() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut s = logged_in(&root, ImapConfig::default());
    s.feed(b"b APPEND INBOX (\\Seen) {11+}\r\nSubject: 1\n {13+}\r\nSubject: two\n (\\Flagged) {13+}\r\nSubject: 333\n\r\n");
    let text = out(&mut s);
    assert!(text.starts_with("b OK [APPENDUID "), "{text}");
    assert!(text.contains(" 1:3] Append completed.\r\n"), "{text}");
    s.feed(b"c STATUS INBOX (MESSAGES)\r\nd SELECT INBOX\r\ne FETCH 1:* (FLAGS RFC822.SIZE)\r\n");
    let text = out(&mut s);
    assert!(text.contains("* STATUS INBOX (MESSAGES 3)\r\n"), "{text}");
    assert!(
        text.contains("* 1 FETCH (FLAGS (\\Seen \\Recent) RFC822.SIZE 12)\r\n"),
        "{text}"
    );
    assert!(
        text.contains("* 3 FETCH (FLAGS (\\Flagged \\Recent) RFC822.SIZE 14)\r\n"),
        "{text}"
    );
    assert_eq!(tmp_files(&root), 0);
}

#[test]
fn a_refused_message_keeps_none_of_the_multiappend() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut s = logged_in(
        &root,
        ImapConfig {
            append_limit: Some(20),
            ..ImapConfig::default()
        },
    );
    // the second message is over the limit: refused before its literal
    // (which the client sends anyway, being non-synchronizing)
    let big = "x".repeat(40);
    let cmd = format!(
        "b APPEND INBOX {{11+}}\r\nSubject: 1\n {{40+}}\r\n{big} {{11+}}\r\nSubject: 3\n\r\nc STATUS INBOX (MESSAGES)\r\n"
    );
    s.feed(cmd.as_bytes());
    let text = out(&mut s);
    assert!(
        text.contains("b NO [TOOBIG] Mail size 40 exceeds the APPENDLIMIT of 20 bytes.\r\n"),
        "{text}"
    );
    assert!(text.contains("* STATUS INBOX (MESSAGES 0)\r\n"), "{text}");
    assert_eq!(tmp_files(&root), 0);
    // a synchronizing literal announced too big is refused at once; the
    // first message, already received, is dropped as well
    s.feed(b"d APPEND INBOX {11+}\r\nSubject: 1\n {40}\r\n");
    let text = out(&mut s);
    assert!(text.contains("d NO [TOOBIG]"), "{text}");
    s.feed(b"e STATUS INBOX (MESSAGES)\r\n");
    assert!(out(&mut s).contains("(MESSAGES 0)"));
    assert_eq!(tmp_files(&root), 0);
}
