//! Columba's auth client against Columba's auth server over Unix sockets:
//! every mechanism, failures, and hostile input that must leave the server serving.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use columba_auth_sasl::protocol::client::UnixAuthClient;
use columba_auth_sasl::protocol::master_client::UnixMasterClient;
use columba_auth_sasl::sasl::ClientCredentials;
use common::{params, TestService};

const PASSWD: &str = "\
# test users
alice:{PLAIN}alicepw:5000:5000::/home/alice::userdb_quota_rule=*:storage=1G
bob:{SSHA256}dkXviH74iKNpeVJMy0aKB94YQNnlhtZR+0Z/BjzruoBElvRu:5000:5000::/home/bob
carol:{SCRAM-SHA-256}4096,nsdp72xhtr3eIEh3NcA/6A==,ZgKRGDJ9YgDZWY6qHi+xZcaVTzoTLvIeUy4buDZ5qgw=,ENSEhgeBnrhZ1esoRjRDgCrtCJRHW7lov4acvTsdALs=:5000:5000::/home/carol
dave:{CRAM-MD5}cd3ba7deaad6e5ca23448ba42e379747a9e0f7f1fbc00c8a81bbaac395731b56:5000:5000::/home/dave::nologin reason=Moved
erin:{PLAIN}erinpw:5000:5000::/home/erin::allow_nets=10.0.0.0/8
master:{PLAIN}masterpw
";

fn client(s: &TestService) -> UnixAuthClient {
    UnixAuthClient::connect(&s.socket("auth-client")).unwrap()
}

#[test]
fn every_mechanism_authenticates() {
    let s = TestService::start(PASSWD, |_| {});
    let mut c = client(&s);
    let mechs: Vec<&str> = c
        .handshake()
        .mechanisms
        .iter()
        .map(|(m, _)| m.as_str())
        .collect();
    assert!(mechs.contains(&"SCRAM-SHA-256"), "{mechs:?}");
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"] {
        let out = c
            .authenticate(
                mech,
                ClientCredentials::new("alice", "alicepw"),
                &params("imap"),
            )
            .unwrap();
        assert!(out.success, "{mech}: {out:?}");
        assert_eq!(out.user.as_deref(), Some("alice"));
    }
    // Hashed passwords: plaintext mechanisms, and SCRAM from SCRAM credentials.
    let out = c
        .authenticate(
            "PLAIN",
            ClientCredentials::new("bob", "secret"),
            &params("imap"),
        )
        .unwrap();
    assert!(out.success);
    let out = c
        .authenticate(
            "SCRAM-SHA-256",
            ClientCredentials::new("carol", "secret"),
            &params("imap"),
        )
        .unwrap();
    assert!(out.success, "{out:?}");
    let out = c
        .authenticate(
            "CRAM-MD5",
            ClientCredentials::new("dave", "secret"),
            &params("imap"),
        )
        .unwrap();
    assert!(out.success);
    // Extra fields reach the client; hidden ones don't.
    assert!(out.fields.contains("nologin"), "{out:?}");
    assert_eq!(out.fields.get("reason"), Some("Moved"));
    // Upper-case login names are lower-cased like auth_username_format=%Lu.
    let out = c
        .authenticate(
            "PLAIN",
            ClientCredentials::new("ALICE", "alicepw"),
            &params("imap"),
        )
        .unwrap();
    assert_eq!(out.user.as_deref(), Some("alice"));
}

#[test]
fn failures_are_clean() {
    let s = TestService::start(PASSWD, |_| {});
    let mut c = client(&s);
    for (mech, user, pw) in [
        ("PLAIN", "alice", "wrong"),
        ("LOGIN", "alice", "wrong"),
        ("CRAM-MD5", "alice", "wrong"),
        ("SCRAM-SHA-256", "alice", "wrong"),
        ("PLAIN", "nobody", "x"),
        ("SCRAM-SHA-1", "nobody", "x"),
        ("CRAM-MD5", "bob", "secret"), // SSHA256 cannot serve CRAM-MD5
    ] {
        let out = c
            .authenticate(mech, ClientCredentials::new(user, pw), &params("imap"))
            .unwrap();
        assert!(!out.success, "{mech} {user}");
        // Like Dovecot, every mechanism's FAIL names the user (Postfix
        // logs it as sasl_username).
        assert_eq!(out.user.as_deref(), Some(user), "{mech}: {out:?}");
    }
    // allow_nets: erin only from 10/8.
    let out = c
        .authenticate(
            "PLAIN",
            ClientCredentials::new("erin", "erinpw"),
            &params("imap"),
        )
        .unwrap();
    assert!(!out.success);
    let p = vec!["service=imap".to_string(), "rip=10.1.2.3".to_string()];
    assert!(
        c.authenticate("PLAIN", ClientCredentials::new("erin", "erinpw"), &p)
            .unwrap()
            .success
    );
    // No master passdb: authorization as another user fails with authz_fail.
    let out = c
        .authenticate(
            "PLAIN",
            ClientCredentials::new("alice", "alicepw").authzid("bob"),
            &params("imap"),
        )
        .unwrap();
    assert!(!out.success);
    assert_eq!(out.fields.get("code"), Some("authz_fail"));
}

#[test]
fn master_users_log_in_as_others() {
    let masters_dir = tempfile::tempdir().unwrap();
    let masters_path = masters_dir.path().join("masters");
    std::fs::write(&masters_path, "admin:{PLAIN}adminpw\n").unwrap();
    let s = TestService::start(PASSWD, |c| {
        c.master_user_separator = Some('*');
        c.master_passdbs = vec![std::sync::Arc::new(columba_auth_sasl::db::PasswdFile::new(
            masters_path.to_str().unwrap(),
        ))];
    });
    let mut c = client(&s);
    let out = c
        .authenticate(
            "PLAIN",
            ClientCredentials::new("alice*admin", "adminpw"),
            &params("imap"),
        )
        .unwrap();
    assert!(out.success, "{out:?}");
    assert_eq!(out.user.as_deref(), Some("alice"));
    assert_eq!(out.fields.get("auth_user"), Some("admin"));
    let out = c
        .authenticate(
            "PLAIN",
            ClientCredentials::new("admin", "adminpw").authzid("bob"),
            &params("imap"),
        )
        .unwrap();
    assert_eq!(out.user.as_deref(), Some("bob"));
    let out = c
        .authenticate(
            "PLAIN",
            ClientCredentials::new("alice*admin", "alicepw"),
            &params("imap"),
        )
        .unwrap();
    assert!(!out.success);
    let out = c
        .authenticate(
            "PLAIN",
            ClientCredentials::new("nobody*admin", "adminpw"),
            &params("imap"),
        )
        .unwrap();
    assert!(!out.success);
    assert_eq!(out.fields.get("code"), Some("authz_fail"));
}

/// Speaks the raw protocol: returns the lines the server sent for `send`.
fn raw_exchange(s: &TestService, send: &[u8], expect_lines: usize) -> Vec<String> {
    let stream = UnixStream::connect(s.socket("auth-client")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    w.write_all(b"VERSION\t1\t2\nCPID\t42\n").unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "DONE\n" {
            break;
        }
    }
    w.write_all(send).unwrap();
    (0..expect_lines)
        .map(|_| {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            l
        })
        .collect()
}

#[test]
fn hostile_input_gets_fail_and_server_keeps_serving() {
    let s = TestService::start(PASSWD, |_| {});
    let lines = raw_exchange(&s, b"AUTH\t5\tPLAIN\tservice=imap\tresp=!!!\n", 1);
    assert_eq!(
        lines[0],
        "FAIL\t5\tcode=invalid_base64\treason=Invalid base64 data in initial response\n"
    );
    let lines = raw_exchange(&s, b"AUTH\t6\tNOPE\tservice=imap\n", 1);
    assert!(lines[0].starts_with("FAIL\t6\t"), "{lines:?}");
    let lines = raw_exchange(&s, b"AUTH\t7\tPLAIN\n", 1);
    assert!(lines[0].starts_with("FAIL\t7\t"), "{lines:?}");
    let lines = raw_exchange(&s, b"CONT\t99\tAAAA\n", 1);
    assert_eq!(
        lines[0],
        "FAIL\t99\treason=Authentication request timed out\n"
    );
    let mut long = b"AUTH\t8\tPLAIN\tservice=imap\tresp=".to_vec();
    long.extend(std::iter::repeat_n(b'A', 40000));
    long.push(b'\n');
    long.extend_from_slice(b"AUTH\t9\tPLAIN\tservice=imap\tresp=AGFsaWNlAGFsaWNlcHc=\n");
    let lines = raw_exchange(&s, &long, 2);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("FAIL\t8\treason=Line too long")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("OK\t9\tuser=alice")),
        "{lines:?}"
    );
    // Half-finished exchange: AUTH waiting for CONT, then a second request on the same connection.
    let lines = raw_exchange(
        &s,
        b"AUTH\t10\tLOGIN\tservice=imap\nAUTH\t11\tPLAIN\tservice=imap\tresp=AGFsaWNlAGFsaWNlcHc=\nCANCEL\t10\n",
        2,
    );
    assert_eq!(lines[0], "CONT\t10\tVXNlcm5hbWU6\n");
    assert!(lines[1].starts_with("OK\t11\tuser=alice"), "{lines:?}");
    // Unexpected CONT while the passdb is working or after the end.
    let lines = raw_exchange(
        &s,
        b"AUTH\t12\tPLAIN\tservice=imap\tresp=AGFsaWNlAHdyb25n\n",
        1,
    );
    assert!(lines[0].starts_with("FAIL\t12\tuser=alice"), "{lines:?}");
    // After all that, a normal client still works.
    let mut c = client(&s);
    assert!(
        c.authenticate(
            "PLAIN",
            ClientCredentials::new("alice", "alicepw"),
            &params("imap")
        )
        .unwrap()
        .success
    );
}

#[test]
fn userdb_lookups_and_reload_on_change() {
    let s = TestService::start(PASSWD, |_| {});
    let mut m = UnixMasterClient::connect(&s.socket("auth-userdb")).unwrap();
    let p = vec!["service=imap".to_string()];
    let (user, fields) = m.user("alice", &p).unwrap().unwrap();
    assert_eq!(user, "alice");
    assert_eq!(fields.get("uid"), Some("5000"));
    assert_eq!(fields.get("home"), Some("/home/alice"));
    assert_eq!(fields.get("quota_rule"), Some("*:storage=1G"));
    assert!(m.user("nobody", &p).unwrap().is_none());
    // "master" has no userdb fields: unknown to the userdb.
    assert!(m.user("master", &p).unwrap().is_none());
    let pass = m.pass("dave", &p).unwrap().unwrap();
    assert_eq!(pass.get("user"), Some("dave"));
    assert!(pass.contains("nologin"));
    assert!(!pass.iter().any(|(k, _)| k == "password"));
    let users = m.list(&[]).unwrap();
    assert_eq!(users, ["alice", "bob", "carol", "dave", "erin", "master"]);
    assert_eq!(
        m.list(&["user=*a*".to_string()]).unwrap(),
        ["alice", "carol", "dave", "master"]
    );
    // Change the file: the next lookup sees it.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(s.users_file(), "zoe:{PLAIN}z:6000:6000::/home/zoe\n").unwrap();
    let (user, fields) = m.user("zoe", &p).unwrap().unwrap();
    assert_eq!((user.as_str(), fields.get("uid")), ("zoe", Some("6000")));
    assert!(m.user("alice", &p).unwrap().is_none());
}

#[test]
fn login_socket_result_is_picked_up_by_request() {
    let s = TestService::start(PASSWD, |_| {});
    let mut c = UnixAuthClient::connect(&s.socket("auth-login")).unwrap();
    let cookie = c.handshake().cookie.clone().unwrap();
    let out = c
        .authenticate(
            "PLAIN",
            ClientCredentials::new("alice", "alicepw"),
            &params("imap"),
        )
        .unwrap();
    assert!(out.success);
    let mut m = UnixMasterClient::connect(&s.socket("auth-master")).unwrap();
    let pid = std::process::id().to_string();
    // Wrong cookie fails; the right one gives the userdb reply once.
    let r = m
        .raw("REQUEST", Some(&pid), &["1".into(), "00".repeat(16)])
        .unwrap();
    assert!(
        matches!(
            r,
            columba_auth_sasl::protocol::master_client::MasterReply::Fail { .. }
        ),
        "{r:?}"
    );
    // session_pid must be the peer's pid (SO_PEERCRED).
    let r = m
        .raw(
            "REQUEST",
            Some(&pid),
            &["1".into(), cookie.clone(), "session_pid=1".into()],
        )
        .unwrap();
    assert!(
        matches!(
            r,
            columba_auth_sasl::protocol::master_client::MasterReply::Fail { .. }
        ),
        "{r:?}"
    );
    let r = m
        .raw(
            "REQUEST",
            Some(&pid),
            &["1".into(), cookie.clone(), format!("session_pid={pid}")],
        )
        .unwrap();
    match r {
        columba_auth_sasl::protocol::master_client::MasterReply::User { user, fields, .. } => {
            assert_eq!(user, "alice");
            assert_eq!(fields.get("auth_mech"), Some("PLAIN"));
        }
        other => panic!("{other:?}"),
    }
    let r = m.raw("REQUEST", Some(&pid), &["1".into(), cookie]).unwrap();
    assert!(matches!(
        r,
        columba_auth_sasl::protocol::master_client::MasterReply::Fail { .. }
    ));
}

#[test]
fn auth_log_events_never_carry_passwords() {
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = events.clone();
    let s = TestService::start(PASSWD, move |c| {
        c.event_log = Some(std::sync::Arc::new(
            move |e: &columba_auth_sasl::server::AuthEvent| {
                sink.lock().unwrap().push(format!("{e} {e:?}"));
            },
        ));
    });
    let mut c = client(&s);
    for (mech, pw) in [
        ("PLAIN", "hunter2-wrong"),
        ("LOGIN", "hunter2-wrong"),
        ("PLAIN", "alicepw"),
        ("SCRAM-SHA-256", "hunter2-wrong"),
    ] {
        c.authenticate(mech, ClientCredentials::new("alice", pw), &params("imap"))
            .unwrap();
    }
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(
        events[2].starts_with("auth succeeded: user=<alice>, rip=127.0.0.2"),
        "{events:?}"
    );
    assert!(
        events[0].starts_with("auth failed: user=<alice>"),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .all(|e| !e.contains("hunter2") && !e.contains("alicepw")),
        "{events:?}"
    );
}
