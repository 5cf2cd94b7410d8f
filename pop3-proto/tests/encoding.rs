//! Encoders refuse values that would break the line structure (no
//! command or response injection), and produce the RFC forms.

use columba_pop3_proto::{
    encode_listing, AuthStart, Capability, Command, Continuation, Error, ListItem, ResponseCode,
    SaslResponse, ScanListing, Secret, StatusLine,
};

#[test]
fn injection_is_refused() {
    let refused = [
        Command::User(b"alice\r\nDELE 1".to_vec()).encode(),
        Command::User(Vec::new()).encode(),
        Command::Pass(Secret::new(*b"pw\nQUIT")).encode(),
        Command::Apop {
            name: b"a b".to_vec(),
            digest: Secret::new([b'0'; 32]),
        }
        .encode(),
        Command::Apop {
            name: b"a".to_vec(),
            digest: Secret::new([b'x'; 32]),
        }
        .encode(),
        Command::Auth(Some(AuthStart {
            mechanism: "PLAIN X".into(),
            initial_response: None,
        }))
        .encode(),
        Command::Auth(Some(AuthStart {
            mechanism: "PLAIN".into(),
            initial_response: Some(Secret::new(*b"not base64!")),
        }))
        .encode(),
        Command::Lang(Some("en us".into())).encode(),
    ];
    for result in refused {
        assert!(
            matches!(result, Err(Error::Unencodable { .. })),
            "{result:?}"
        );
    }
    let mut out = b"kept".to_vec();
    assert!(StatusLine::ok("a\r\n+OK b").encode_into(&mut out).is_err());
    assert!(StatusLine::ok("[looks like a code] text")
        .encode_into(&mut out)
        .is_err());
    assert!(StatusLine::err("x")
        .with_code(ResponseCode::Other("A]B".into()))
        .encode_into(&mut out)
        .is_err());
    assert!(Continuation {
        data: b"no spaces allowed".to_vec()
    }
    .encode_into(&mut out)
    .is_err());
    assert!(SaslResponse::Data(Secret::new(*b"a\r\n"))
        .encode_into(&mut out)
        .is_err());
    assert!(encode_listing(
        &StatusLine::ok(""),
        &[ListItem::Mechanism("BAD MECH".into())],
        &mut out
    )
    .is_err());
    assert_eq!(out, b"kept", "a refused value leaves the buffer as it was");
}

#[test]
fn encoders_produce_the_rfc_forms() {
    let encode = |c: Command| String::from_utf8(c.encode().unwrap()).unwrap();
    assert_eq!(encode(Command::Top { msg: 1, lines: 10 }), "TOP 1 10\r\n");
    assert_eq!(encode(Command::List(None)), "LIST\r\n");
    assert_eq!(encode(Command::Uidl(Some(2))), "UIDL 2\r\n");
    assert_eq!(
        encode(Command::Auth(Some(AuthStart {
            mechanism: "PLAIN".into(),
            initial_response: Some(Secret::default())
        }))),
        "AUTH PLAIN =\r\n"
    );
    assert_eq!(
        encode(Command::Pass(Secret::new(*b"with spaces "))),
        "PASS with spaces \r\n"
    );

    let mut out = Vec::new();
    StatusLine::err("Mailbox is locked")
        .with_code(ResponseCode::InUse)
        .encode_into(&mut out)
        .unwrap();
    Continuation { data: Vec::new() }
        .encode_into(&mut out)
        .unwrap();
    SaslResponse::Cancel.encode_into(&mut out).unwrap();
    encode_listing(
        &StatusLine::ok("2 messages"),
        &[
            ListItem::Scan(ScanListing { msg: 1, size: 120 }),
            ListItem::Capability(Capability::new(".DOTTED")),
        ],
        &mut out,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "-ERR [IN-USE] Mailbox is locked\r\n+ \r\n*\r\n+OK 2 messages\r\n1 120\r\n..DOTTED\r\n.\r\n"
    );
}
