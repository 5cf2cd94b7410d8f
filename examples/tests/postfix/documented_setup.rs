//! The Postfix setup Dovecot's documentation gives: sockets in
//! Postfix's own `private/` directory, owned by postfix.

use super::*;

/// What Postfix does in the setup Dovecot's documentation gives for it:
/// the auth and LMTP sockets inside Postfix's `private/` directory, owned
/// by postfix, mode 0660 and 0600; `smtpd_sasl_path = private/auth` and
/// `virtual_transport = lmtp:unix:private/dovecot-lmtp`. Returns the EHLO
/// AUTH line, the outcome of AUTH PLAIN, and how the delivery went.
fn documented_setup(
    server: &str,
    start_server: impl FnOnce(&Path, &Path) -> Box<dyn std::any::Any>,
) -> (serde_json::Value, serde_json::Value, Vec<support::Delivery>) {
    let postfix = Postfix::launch(
        "lmtp:unix:private/dovecot-lmtp",
        Some(Path::new("private/auth")),
        &[SmtpdPort::default()],
    );
    let private = postfix.queue_dir().join("private");
    let _server = start_server(&private.join("auth"), &private.join("dovecot-lmtp"));
    let mut problems = Vec::new();
    for socket in ["auth", "dovecot-lmtp"] {
        use std::os::unix::fs::MetadataExt;
        let postfix_uid = std::fs::metadata(&private).unwrap().uid();
        match std::fs::metadata(private.join(socket)) {
            Err(e) => problems.push(format!("private/{socket}: {e}")),
            Ok(meta) if meta.uid() != postfix_uid => problems.push(format!(
                "private/{socket} belongs to uid {}, not postfix",
                meta.uid()
            )),
            Ok(_) => {}
        }
    }
    assert!(problems.is_empty(), "{server}: {problems:?}");
    postfix.wait_ready();
    let port = postfix.ports[0].to_string();
    let ehlo = client(&["ehlo", &port]);
    let auth = client(&["auth", &port, "PLAIN", "demo", "demopw"]);
    let first = postfix.write_file("first.eml", &first_message());
    client(&[
        "send",
        &port,
        "alice@remote.test",
        "demo@example.test",
        &first,
    ]);
    let delivered = postfix.wait_for_deliveries("<first@remote.test>", 1);
    (ehlo, auth, delivered)
}

/// Dovecot's documented Postfix setup works with columba as with Dovecot.
#[test]
fn dovecots_documented_postfix_setup_works_with_columba() {
    require_tool!("postfix");
    require_tool!("python3");
    require_tool!("dovecot");
    if !runnable() {
        return;
    }
    let listeners = |auth: &Path, lmtp: &Path| {
        (
            format!(
                "service auth {{\n  unix_listener {} {{\n    mode = 0660\n    \
                 user = postfix\n    group = postfix\n  }}\n}}\n\
                 service lmtp {{\n  unix_listener {} {{\n    mode = 0600\n    \
                 user = postfix\n    group = postfix\n  }}\n}}\n",
                auth.display(),
                lmtp.display()
            ),
            format!(
                "[service.auth.unix_listener.\"{}\"]\nmode = \"0660\"\n\
                 user = \"postfix\"\ngroup = \"postfix\"\n\
                 [service.lmtp.unix_listener.\"{}\"]\nmode = \"0600\"\n\
                 user = \"postfix\"\ngroup = \"postfix\"\n",
                auth.display(),
                lmtp.display()
            ),
        )
    };
    let with_dovecot = documented_setup("Dovecot", |auth, lmtp| {
        let config = DovecotConfig::default()
            .user("demo", "demopw")
            .extra("auth_username_format = %Ln")
            .extra(&listeners(auth, lmtp).0);
        Box::new(PrivateDovecot::start(config).expect("start a private Dovecot"))
    });
    let with_columba = documented_setup("columba", |auth, lmtp| {
        Box::new(Columba::start_configured(
            MECHANISMS,
            false,
            &listeners(auth, lmtp).1,
        ))
    });
    // Dovecot: the setup is right
    assert_eq!(with_dovecot.1[0], 235, "{with_dovecot:?}");
    assert_eq!(with_dovecot.2[0].status, "sent", "{with_dovecot:?}");
    assert_eq!(with_columba.0, with_dovecot.0, "EHLO AUTH");
    assert_eq!(with_columba.1, with_dovecot.1, "AUTH PLAIN");
    assert_eq!(with_columba.2[0].status, "sent", "{:?}", with_columba.2);
}
