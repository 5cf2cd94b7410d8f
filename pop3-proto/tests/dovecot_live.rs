//! A real Dovecot 2.3 POP3 session driven by this crate's client side:
//! every message Dovecot sends decodes, message bodies come out as they
//! were stored, and the recorded transcript traces without an error.

mod support;

use columba_interop::require_tool;
use columba_pop3_proto::{AuthStart, BodyEncoder, Command, ListItem, ResponseCode, Secret};
use support::{Client, RecordingProxy, Reply};

fn plain_auth(initial: Option<&str>) -> Command {
    Command::Auth(Some(AuthStart {
        mechanism: "PLAIN".into(),
        initial_response: initial.map(|s| Secret::new(s.as_bytes())),
    }))
}

#[test]
fn dovecot_session_decodes_and_bodies_match_what_was_stored() {
    require_tool!("dovecot");
    let dovecot = support::dovecot_with_mail();
    let proxy = RecordingProxy::start(dovecot.pop3_port);
    let (mut client, greeting) = Client::connect(proxy.port);
    assert!(greeting.is_ok(), "{greeting:?}");

    let Reply::Multi(_, capabilities, _) = client.send(&Command::Capa) else {
        panic!("CAPA is multi-line")
    };
    let names: Vec<String> = capabilities
        .iter()
        .map(|item| match item {
            ListItem::Capability(c) => c.name.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    for expected in ["TOP", "UIDL", "USER", "SASL", "RESP-CODES", "PIPELINING"] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }

    // Bare AUTH (Thunderbird, Outlook): the mechanism list.
    let Reply::Multi(_, mechanisms, _) = client.send(&Command::Auth(None)) else {
        panic!("bare AUTH is multi-line on Dovecot")
    };
    assert!(
        mechanisms.contains(&ListItem::Mechanism("PLAIN".into())),
        "{mechanisms:?}"
    );

    // A wrong password, then a cancelled exchange, then a good one.
    assert!(client
        .send(&Command::User(b"alice".to_vec()))
        .status()
        .is_ok());
    let wrong = client.send(&Command::Pass(Secret::new(*b"wrong")));
    assert!(!wrong.status().is_ok());
    assert_eq!(wrong.status().code, Some(ResponseCode::Auth));
    assert_eq!(
        client.send(&plain_auth(None)),
        Reply::Continuation(Vec::new())
    );
    assert!(!client.send_line(b"*").status().is_ok());
    assert_eq!(
        client.send(&plain_auth(None)),
        Reply::Continuation(Vec::new())
    );
    assert!(client.send_line(b"AGFsaWNlAGFsaWNlcHc=").status().is_ok());

    let stat = client.send(&Command::Stat);
    assert_eq!(stat.status().maildrop_stat().map(|s| s.0), Some(4));
    let messages = support::messages();
    let Reply::Multi(_, scan, _) = client.send(&Command::List(None)) else {
        panic!()
    };
    assert_eq!(scan.len(), 4);
    for (item, message) in scan.iter().zip(&messages) {
        let ListItem::Scan(listing) = item else {
            panic!("{item:?}")
        };
        // Dovecot counts CRLF line ends but not the CRLF it adds to a
        // message that lacks a final newline.
        let mut sent = support::as_sent(message);
        if !message.ends_with(b"\n") {
            sent.truncate(sent.len() - 2);
        }
        assert_eq!(listing.size, sent.len() as u64, "{listing:?}");
    }
    let one = client.send(&Command::List(Some(2)));
    assert_eq!(one.status().scan_listing().map(|s| s.msg), Some(2));
    let Reply::Multi(_, uids, _) = client.send(&Command::Uidl(None)) else {
        panic!()
    };
    assert_eq!(uids.len(), 4);
    let uid2 = client.send(&Command::Uidl(Some(2)));
    assert_eq!(
        uid2.status().unique_id().map(ListItem::UniqueId),
        Some(uids[1].clone())
    );

    for (i, message) in messages.iter().enumerate() {
        client.read_size = [1, 3, 64, 4096][i];
        let Reply::Multi(status, _, body) = client.send(&Command::Retr(i as u32 + 1)) else {
            panic!("RETR {} failed", i + 1)
        };
        assert!(status.is_ok());
        // Dovecot's bytes on the wire are exactly what BodyEncoder makes of
        // the stored message.
        let mut expected = Vec::new();
        status.encode_into(&mut expected).unwrap();
        let mut encoder = BodyEncoder::new();
        for chunk in message.chunks(100) {
            encoder.push(chunk, &mut expected);
        }
        encoder.finish(&mut expected);
        assert_eq!(
            String::from_utf8_lossy(&client.raw),
            String::from_utf8_lossy(&expected),
            "message {}",
            i + 1
        );
        assert_eq!(
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(&support::as_sent(message)),
            "message {}",
            i + 1
        );
    }
    client.read_size = 5;
    let Reply::Multi(_, _, top) = client.send(&Command::Top { msg: 2, lines: 2 }) else {
        panic!()
    };
    assert_eq!(
        top,
        b"From: bob@example.org\r\nSubject: dots\r\n\r\n.\r\n..\r\n"
    );

    assert!(!client.send(&Command::Retr(99)).status().is_ok());
    assert!(client.send(&Command::Dele(1)).status().is_ok());
    assert!(!client.send(&Command::Retr(1)).status().is_ok());
    assert!(client.send(&Command::Rset).status().is_ok());
    assert!(client.send(&Command::Noop).status().is_ok());
    // Dovecot 2.3 has no UTF8 or LANG: a one-line -ERR.
    assert!(!client.send(&Command::Utf8).status().is_ok());
    assert!(client.send(&Command::Quit).status().is_ok());
    assert_eq!(client.decoder.awaited(), 0);

    drop(client);
    let transcript = proxy.transcript();
    support::maybe_write("pop3-dovecot-2.3.txt", &transcript);
    let entries = support::assert_all_ok(&transcript);
    assert!(entries.len() > 50, "{}", entries.len());
    assert!(
        dovecot.log_problems().is_empty(),
        "{:?}",
        dovecot.log_problems()
    );
}

#[test]
fn dovecot_auth_with_initial_response_and_login_continuations() {
    require_tool!("dovecot");
    let dovecot = support::dovecot_with_mail();
    let proxy = RecordingProxy::start(dovecot.pop3_port);
    let (mut client, _) = Client::connect(proxy.port);
    let login = Command::Auth(Some(AuthStart {
        mechanism: "LOGIN".into(),
        initial_response: None,
    }));
    let Reply::Continuation(user_prompt) = client.send(&login) else {
        panic!()
    };
    assert_eq!(user_prompt, b"VXNlcm5hbWU6"); // "Username:"
    let Reply::Continuation(pass_prompt) = client.send_line(b"YWxpY2U=") else {
        panic!()
    };
    assert_eq!(pass_prompt, b"UGFzc3dvcmQ6"); // "Password:"
    let bad = client.send_line(b"d3Jvbmc=");
    assert_eq!(bad.status().code, Some(ResponseCode::Auth));
    let good = client.send(&plain_auth(Some("AGFsaWNlAGFsaWNlcHc=")));
    assert!(good.status().is_ok(), "{good:?}");
    assert!(client.send(&Command::Quit).status().is_ok());
    drop(client);
    let transcript = proxy.transcript();
    support::maybe_write("pop3-dovecot-2.3-auth.txt", &transcript);
    support::assert_all_ok(&transcript);
}

#[test]
fn dovecot_pipelined_commands_are_answered_in_order() {
    require_tool!("dovecot");
    let dovecot = support::dovecot_with_mail();
    let (mut client, _) = Client::connect(dovecot.pop3_port);
    assert!(client
        .send(&Command::User(b"alice".to_vec()))
        .status()
        .is_ok());
    assert!(client
        .send(&Command::Pass(Secret::new(*b"alicepw")))
        .status()
        .is_ok());
    // RFC 2449 PIPELINING, which Dovecot advertises: all at once.
    let commands = [
        Command::Stat,
        Command::List(None),
        Command::Uidl(None),
        Command::Retr(2),
        Command::Top { msg: 1, lines: 0 },
        Command::List(Some(99)),
        Command::Capa,
        Command::Noop,
    ];
    let mut wire = Vec::new();
    for command in &commands {
        command.encode_into(&mut wire).unwrap();
        client.decoder.command_sent(command);
    }
    client.write_all(&wire);
    client.read_size = 4096;
    let replies: Vec<Reply> = commands.iter().map(|_| client.reply()).collect();
    assert!(matches!(&replies[0], Reply::Single(s) if s.maildrop_stat() == Some((4, 16669))));
    assert!(matches!(&replies[1], Reply::Multi(_, items, _) if items.len() == 4));
    assert!(matches!(&replies[2], Reply::Multi(_, items, _) if items.len() == 4));
    let Reply::Multi(_, _, body) = &replies[3] else {
        panic!("{:?}", replies[3])
    };
    assert_eq!(body, &support::as_sent(support::MESSAGES[1]));
    let Reply::Multi(_, _, headers) = &replies[4] else {
        panic!("{:?}", replies[4])
    };
    assert_eq!(headers, b"From: bob@example.org\r\nSubject: plain\r\n\r\n");
    assert!(matches!(&replies[5], Reply::Single(s) if !s.is_ok()));
    assert!(matches!(&replies[6], Reply::Multi(..)));
    assert!(matches!(&replies[7], Reply::Single(s) if s.is_ok()));
    assert_eq!(client.decoder.awaited(), 0);
}

#[test]
fn dovecot_accepts_apop_and_rejects_a_wrong_digest() {
    require_tool!("dovecot");
    let mut config = columba_interop::DovecotConfig::default().user("alice", "alicepw");
    config.auth_mechanisms = "plain apop".into();
    let dovecot = columba_interop::PrivateDovecot::start(config).unwrap();
    let (mut client, greeting) = Client::connect(dovecot.pop3_port);
    let timestamp = greeting
        .apop_timestamp()
        .unwrap_or_else(|| panic!("no APOP timestamp in {greeting:?}"))
        .to_vec();
    let wrong = client.send(&Command::apop(b"alice", &timestamp, b"wrong"));
    assert_eq!(wrong.status().code, Some(ResponseCode::Auth), "{wrong:?}");
    let right = client.send(&Command::apop(b"alice", &timestamp, b"alicepw"));
    assert!(right.status().is_ok(), "{right:?}");
    assert!(client.send(&Command::Quit).status().is_ok());
    let Command::Apop { digest, .. } = Command::apop(b"alice", &timestamp, b"alicepw") else {
        unreachable!()
    };
    assert!(columba_pop3_proto::apop_digest_matches(
        &digest, &timestamp, b"alicepw"
    ));
    assert!(!columba_pop3_proto::apop_digest_matches(
        &digest, &timestamp, b"alicepx"
    ));
}
