//! Before login a command may not exceed 8192 bytes, literals included (as
//! in Dovecot's imap-login), so an unauthenticated client cannot make the
//! login process hold much; after login the configured limits apply, also
//! to commands pipelined right behind LOGIN.

use columba_session::{ImapConfig, ImapEvent, ImapSession, MaildirStorage};

fn out(s: &mut ImapSession) -> String {
    String::from_utf8(s.take_output()).unwrap()
}

#[test]
fn big_literals_wait_for_login() {
    let home = tempfile::tempdir().unwrap();
    let mut s = ImapSession::new(ImapConfig {
        plaintext_without_tls: true,
        ..ImapConfig::default()
    });
    out(&mut s);
    let big = "p".repeat(50_000);
    s.feed(format!("a LOGIN demo {{50000+}}\r\n{big}\r\nb NOOP\r\n").as_bytes());
    let text = out(&mut s);
    assert!(
        text.starts_with("a BAD Error in IMAP command: literal of 50000 bytes exceeds"),
        "{text}"
    );
    assert!(text.ends_with("b OK NOOP completed.\r\n"), "{text}");
    assert!(s.poll_event().is_none());
    // a synchronizing one is refused before the client sends it
    s.feed(b"c LOGIN demo {9000}\r\n");
    assert!(out(&mut s).starts_with("c BAD"));
    // after login, a 50 000-byte literal pipelined behind LOGIN is fine
    let msg = format!("Subject: x\r\n\r\n{big}\r\n");
    s.feed(
        format!(
            "d LOGIN demo pw\r\ne APPEND INBOX {{{}+}}\r\n{msg}\r\n",
            msg.len()
        )
        .as_bytes(),
    );
    assert!(matches!(
        s.poll_event(),
        Some(ImapEvent::Authenticate { .. })
    ));
    s.login_succeeded(
        "demo",
        Box::new(MaildirStorage::open(&home.path().join("Maildir")).unwrap()),
    );
    let text = out(&mut s);
    assert!(text.contains("e OK [APPENDUID "), "{text}");
}
