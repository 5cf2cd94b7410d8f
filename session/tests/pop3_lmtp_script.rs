//! POP3 and LMTP sessions driven by byte scripts, with exact responses.

use columba_session::{
    DeliveryError, LmtpConfig, LmtpEvent, LmtpSession, MailStorage, MaildirStorage, Pop3Config,
    Pop3Event, Pop3Session,
};

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

#[test]
fn pop3_login_list_uidl_retr_top_dele_quit() {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().join("Maildir");
    let mut store = MaildirStorage::open(&root).unwrap();
    store
        .append(
            "INBOX",
            b"Subject: a\n\n.hidden dot\nline 2\n",
            Default::default(),
            &[],
            None,
        )
        .unwrap();
    let (validity, _) = store
        .append(
            "INBOX",
            b"Subject: b\n\nsecond\n",
            Default::default(),
            &[],
            None,
        )
        .unwrap();

    let mut s = Pop3Session::new(Pop3Config {
        plaintext_without_tls: true,
        ..Pop3Config::default()
    });
    assert_eq!(text(s.take_output()), "+OK Columba ready.\r\n");
    s.feed(b"CAPA\r\nUSER demo\r\nPASS secret word\r\nSTAT\r\n");
    assert_eq!(
        text(s.take_output()),
        "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\n\
         USER\r\nSASL PLAIN\r\n.\r\n+OK\r\n"
    );
    let Some(Pop3Event::Authenticate { credentials, .. }) = s.poll_event() else {
        panic!()
    };
    assert_eq!(credentials.password, b"secret word");
    s.login_succeeded("demo", Box::new(MaildirStorage::open(&root).unwrap()));
    assert_eq!(text(s.take_output()), "+OK Logged in.\r\n+OK 2 57\r\n");
    s.feed(b"LIST\r\nUIDL\r\nRETR 1\r\nTOP 2 0\r\nRETR 3\r\nDELE 1\r\nRETR 1\r\nSTAT\r\n");
    let expected = format!(
        "+OK 2 messages:\r\n1 35\r\n2 22\r\n.\r\n\
         +OK\r\n1 00000001{validity:08X}\r\n2 00000002{validity:08X}\r\n.\r\n\
         +OK 35 octets\r\nSubject: a\r\n\r\n..hidden dot\r\nline 2\r\n.\r\n\
         +OK\r\nSubject: b\r\n\r\n.\r\n\
         -ERR There's no message 3.\r\n\
         +OK Marked to be deleted.\r\n\
         -ERR There's no message 1.\r\n\
         +OK 1 22\r\n"
    );
    assert_eq!(text(s.take_output()), expected);
    s.feed(b"QUIT\r\n");
    assert_eq!(text(s.take_output()), "+OK Logging out.\r\n");
    assert_eq!(
        s.poll_event(),
        Some(Pop3Event::MailboxChanged("INBOX".into()))
    );
    assert_eq!(s.poll_event(), Some(Pop3Event::Close));
    assert_eq!(store.view("INBOX", false).unwrap().messages.len(), 1);
}

#[test]
fn pop3_refuses_plaintext_before_stls() {
    let mut s = Pop3Session::new(Pop3Config::default());
    s.take_output();
    s.feed(b"USER demo\r\nAUTH PLAIN AGRlbW8AcHc=\r\nSTLS\r\nUSER ignored\r\n");
    assert_eq!(
        text(s.take_output()),
        "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n\
         -ERR [AUTH] Plaintext authentication disabled.\r\n\
         +OK Begin TLS negotiation now.\r\n"
    );
    assert_eq!(s.poll_event(), Some(Pop3Event::StartTls));
    s.tls_started();
    s.feed(b"AUTH PLAIN AGRlbW8AcHc=\r\n");
    let Some(Pop3Event::Authenticate {
        credentials,
        method,
    }) = s.poll_event()
    else {
        panic!()
    };
    assert_eq!(
        (credentials.user.as_str(), method.as_str()),
        ("demo", "PLAIN")
    );
    s.login_failed(false);
    assert_eq!(
        text(s.take_output()),
        "-ERR [AUTH] Authentication failed.\r\n"
    );
}

#[test]
fn lmtp_one_reply_per_recipient() {
    let mut s = LmtpSession::new(LmtpConfig::default());
    assert_eq!(text(s.take_output()), "220 localhost Columba ready.\r\n");
    s.feed(b"LHLO client\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<demo@localhost>\r\nRCPT TO:<nobody@localhost>\r\nRCPT TO:<other@localhost>\r\nDATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nQUIT\r\n");
    assert_eq!(
        text(s.take_output()),
        "250-localhost\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n250 2.1.0 OK\r\n"
    );
    assert_eq!(
        s.poll_event(),
        Some(LmtpEvent::CheckRecipient("demo@localhost".into()))
    );
    s.recipient_checked(true);
    assert_eq!(
        s.poll_event(),
        Some(LmtpEvent::CheckRecipient("nobody@localhost".into()))
    );
    s.recipient_checked(false);
    assert_eq!(
        s.poll_event(),
        Some(LmtpEvent::CheckRecipient("other@localhost".into()))
    );
    s.recipient_checked(true);
    assert_eq!(
        s.poll_event(),
        Some(LmtpEvent::Deliver {
            from: "a@example.com".into(),
            recipients: vec!["demo@localhost".into(), "other@localhost".into()],
            data: b"Subject: x\r\n\r\n.dot\r\n".to_vec(),
        })
    );
    s.delivered(vec![
        Ok(()),
        Err(DeliveryError::Temporary("Temporary internal error".into())),
    ]);
    assert_eq!(
        text(s.take_output()),
        "250 2.1.5 OK\r\n550 5.1.1 <nobody@localhost> User doesn't exist: nobody@localhost\r\n\
         250 2.1.5 OK\r\n354 OK\r\n250 2.0.0 <demo@localhost> Saved\r\n\
         451 4.2.0 <other@localhost> Temporary internal error\r\n221 2.0.0 Bye\r\n"
    );
    assert_eq!(s.poll_event(), Some(LmtpEvent::Close));
}

#[test]
fn lmtp_sequence_errors() {
    let mut s = LmtpSession::new(LmtpConfig::default());
    s.take_output();
    // as Dovecot 2.3 answers (tests/lmtp_dovecot_compare.rs): MAIL before
    // LHLO is taken, LHLO starts over
    s.feed(b"MAIL FROM:<a@b>\r\nLHLO x\r\nRCPT TO:<a@b>\r\nDATA\r\nMAIL FROM:<a@b>\r\nDATA\r\nRSET\r\nFROB\r\n");
    assert_eq!(
        text(s.take_output()),
        "250 2.1.0 OK\r\n250-localhost\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n\
         250 PIPELINING\r\n503 5.5.0 MAIL needed first\r\n503 5.5.0 MAIL needed first\r\n\
         250 2.1.0 OK\r\n503 5.5.0 No valid recipients\r\n250 2.0.0 OK\r\n500 5.5.1 Unknown command\r\n"
    );
}

#[test]
fn lmtp_delivery_ids_and_failures_as_dovecot_words_them() {
    let mut s = LmtpSession::new(LmtpConfig {
        session_id: "Efx5ChmNC2tqPgAAg+zDdQ".into(),
        max_message: 10,
        ..LmtpConfig::default()
    });
    s.take_output();
    let run = |s: &mut LmtpSession, input: &[u8], exists: &[bool], results: Vec<_>| {
        s.feed(input);
        let mut exists = exists.iter();
        let mut results = Some(results);
        while let Some(e) = s.poll_event() {
            match e {
                LmtpEvent::CheckRecipient(_) => s.recipient_checked(*exists.next().unwrap()),
                LmtpEvent::Deliver { .. } => s.delivered(results.take().unwrap()),
                LmtpEvent::Close => {}
            }
        }
        text(s.take_output())
    };
    assert_eq!(
        run(
            &mut s,
            b"LHLO x\r\nMAIL FROM:<>\r\nRCPT TO:<a>\r\nRCPT TO:<b>\r\nDATA\r\nhi\r\n.\r\n",
            &[true, true],
            vec![Ok(()), Err(DeliveryError::QuotaExceeded)],
        ),
        "250-localhost\r\n250-8BITMIME\r\n250-CHUNKING\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n\
         250 2.1.0 OK\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n354 OK\r\n\
         250 2.0.0 <a> Efx5ChmNC2tqPgAAg+zDdQ Saved\r\n\
         552 5.2.2 <b> Quota exceeded (mailbox for user is full)\r\n"
    );
    // the second transaction; a refused RCPT still counts for the :R number
    assert_eq!(
        run(
            &mut s,
            b"MAIL FROM:<>\r\nRCPT TO:<x>\r\nRCPT TO:<b>\r\nRCPT TO:<a>\r\nDATA\r\nhi\r\n.\r\n",
            &[false, true, true],
            vec![Ok(()), Ok(())],
        ),
        "250 2.1.0 OK\r\n550 5.1.1 <x> User doesn't exist: x\r\n250 2.1.5 OK\r\n250 2.1.5 OK\r\n\
         354 OK\r\n250 2.0.0 <b> Efx5ChmNC2tqPgAAg+zDdQ:T2:R2 Saved\r\n\
         250 2.0.0 <a> Efx5ChmNC2tqPgAAg+zDdQ:T2:R3 Saved\r\n"
    );
    // over max_message: refused for each recipient, as Dovecot refuses a
    // message over quota_max_mail_size
    assert_eq!(
        run(
            &mut s,
            b"MAIL FROM:<>\r\nRCPT TO:<a>\r\nDATA\r\n0123456789ABCDEF\r\n.\r\nQUIT\r\n",
            &[true],
            vec![],
        ),
        "250 2.1.0 OK\r\n250 2.1.5 OK\r\n354 OK\r\n451 4.2.0 <a> Mail size is larger than the \
         maximum size allowed by server configuration\r\n221 2.0.0 Bye\r\n"
    );
}
