//! The auth-master `REQUEST` call of a post-login process: after a login
//! process authenticated on an auth-client socket, the post-login process
//! presents the login's pid, request id and the connection's cookie and
//! gets the user's userdb fields, once. Against Columba's auth service and
//! a live Dovecot 2.3.

mod common;

use columba_auth_sasl::protocol::client::UnixAuthClient;
use columba_auth_sasl::protocol::master_client::{LoginRequestReply, UnixMasterClient};
use columba_auth_sasl::sasl::ClientCredentials;
use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use common::{params, TestService};

/// Authenticates `user` as request 1 of a fresh auth-client connection;
/// returns the connection (the login must outlive the REQUEST) and its cookie.
/// A `temp_fail` answer (seen once from a Dovecot just started on a loaded
/// machine) is tried again on a new connection, as a login process does,
/// for up to 20 s; `server_log` is printed with the last answer if it
/// persists.
fn login(
    socket: &std::path::Path,
    user: &str,
    password: &str,
    server_log: &dyn Fn() -> String,
) -> (UnixAuthClient, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let mut client = UnixAuthClient::connect(socket).unwrap();
        let cookie = client.handshake().cookie.clone().expect("a COOKIE line");
        let outcome = client
            .authenticate(
                "PLAIN",
                ClientCredentials::new(user, password),
                &params("imap"),
            )
            .unwrap();
        let temporary = outcome.fields.get("code") == Some("temp_fail");
        if !outcome.success && temporary && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(250));
            continue;
        }
        assert!(
            outcome.success,
            "after {attempts} attempt(s): {outcome:?}\nserver log:\n{}",
            server_log()
        );
        return (client, cookie);
    }
}

fn check_request_flow(
    client_socket: &std::path::Path,
    master_socket: &std::path::Path,
    home: &str,
    server_log: &dyn Fn() -> String,
) {
    let pid = std::process::id();
    let (_client, cookie) = login(client_socket, "alice", "alicepw", server_log);
    let mut master = UnixMasterClient::connect(master_socket).unwrap();

    // a wrong cookie is refused, and does not use the login up
    let wrong = if cookie.starts_with('0') {
        cookie.replacen('0', "1", 1)
    } else {
        format!("0{}", &cookie[1..])
    };
    let reply = master.request(pid, 1, &wrong, None).unwrap();
    assert!(
        matches!(reply, LoginRequestReply::Failed { .. }),
        "{reply:?}"
    );
    // an unknown request id likewise
    let reply = master.request(pid, 99, &cookie, None).unwrap();
    assert!(
        matches!(reply, LoginRequestReply::Failed { .. }),
        "{reply:?}"
    );

    // the right one gets the userdb fields
    let reply = master.request(pid, 1, &cookie, None).unwrap();
    let LoginRequestReply::User { user, fields } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(user, "alice");
    assert_eq!(fields.get("home"), Some(home));
    assert!(fields.get("uid").is_some(), "{fields:?}");

    // and only once
    let reply = master.request(pid, 1, &cookie, None).unwrap();
    assert!(
        matches!(reply, LoginRequestReply::Failed { .. }),
        "{reply:?}"
    );
}

#[test]
fn request_against_columba() {
    let s = TestService::start("alice:{PLAIN}alicepw:5000:5000::/home/alice::\n", |_| {});
    check_request_flow(
        &s.socket("auth-login"),
        &s.socket("auth-master"),
        "/home/alice",
        &String::new,
    );
}

#[test]
fn request_against_dovecot() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .extra("auth_failure_delay = 0\nauth_verbose = yes\n"),
    )
    .unwrap();
    let home = dovecot.home("alice").display().to_string();
    // Dovecot keeps finished logins for REQUEST only on its login socket
    // (the auth service's `login/login` listener, type login), as Columba
    // does on `auth-login`.
    check_request_flow(
        &dovecot.socket("login/login"),
        &dovecot.socket("auth-master"),
        &home,
        &|| dovecot.log(),
    );
}
