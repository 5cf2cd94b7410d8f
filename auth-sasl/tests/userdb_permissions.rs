//! Dovecot's auth-userdb rule: on a 0666 socket, a peer whose uid/gid
//! differ from the socket owner's only gets `USER` answers for users with its
//! own uid; `PASS` and `LIST` fail. The peer runs as a child process with the
//! mail owner's ids (this test binary, re-executed).

mod common;

use std::process::Command;

use columba_auth_sasl::protocol::master_client::UnixMasterClient;
use columba_interop::MailOwner;
use common::TestService;

const SOCKET_ENV: &str = "COLUMBA_AUTH_USERDB_PEER_SOCKET";

/// The child's side: prints what it could see.
#[test]
fn peer_child() {
    let Ok(socket) = std::env::var(SOCKET_ENV) else {
        return;
    };
    let mut m = UnixMasterClient::connect(socket.as_ref()).unwrap();
    let p = vec!["service=lda".to_string()];
    let own = m.user("own", &p).map(|r| r.is_some()).unwrap_or(false);
    let other = m.user("other", &p).map(|r| r.is_some()).unwrap_or(false);
    let pass = m.pass("own", &p).is_ok();
    let list = m.list(&[]).is_ok();
    println!("RESULT own={own} other={other} pass={pass} list={list}");
}

#[test]
fn unprivileged_peers_see_only_their_own_uid() {
    let owner = MailOwner::for_tests();
    // SAFETY-free check: only meaningful when we can run the child as someone else.
    if owner.uid == 0 || std::env::var(SOCKET_ENV).is_ok() {
        println!("SKIPPED: not running as root, cannot run a peer with other ids");
        return;
    }
    let s = TestService::start(
        &format!(
            "own:{{PLAIN}}x:{uid}:{gid}::/home/own\nother:{{PLAIN}}x:{}:{gid}::/home/other\n",
            owner.uid + 1,
            uid = owner.uid,
            gid = owner.gid
        ),
        |_| {},
    );
    // The socket directory must be reachable by the peer.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(s.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "peer_child", "--nocapture", "--test-threads=1"])
        .env(SOCKET_ENV, s.socket("auth-userdb"));
    owner.apply(&mut cmd);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("RESULT own=true other=false pass=false list=false"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The socket owner (root here) is not restricted.
    let mut m = UnixMasterClient::connect(&s.socket("auth-userdb")).unwrap();
    assert!(m.user("other", &["service=lda".into()]).unwrap().is_some());
    assert_eq!(m.list(&[]).unwrap().len(), 2);
    // The owner is read when a peer connects: once the socket is given to
    // the peer's ids (as a unix_listener's user/group do after the bind),
    // the peer is its owner and sees every user.
    std::os::unix::fs::lchown(s.socket("auth-userdb"), Some(owner.uid), Some(owner.gid)).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "peer_child", "--nocapture", "--test-threads=1"])
        .env(SOCKET_ENV, s.socket("auth-userdb"));
    owner.apply(&mut cmd);
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("own=true other=true") && text.contains("list=true"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sockets_are_bound_with_their_own_mode() {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    use columba_auth_sasl::server::unix::{AuthService, SocketKind};
    use columba_auth_sasl::server::{AuthConfig, AuthServer};

    let dir = tempfile::tempdir().unwrap();
    let master = dir.path().join("auth-master");
    let client = dir.path().join("auth-client");
    let server = Arc::new(AuthServer::new(AuthConfig::default()));
    let service = AuthService::start_with_modes(
        server,
        &[
            (master.clone(), SocketKind::Master, 0o600),
            (client.clone(), SocketKind::Client, 0o660),
        ],
    )
    .unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&master), 0o600);
    assert_eq!(mode(&client), 0o660);
    service.shutdown();
}
