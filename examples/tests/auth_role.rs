//! The auth role as a process (`columba serve --role auth`), driven by
//! `columba auth test`/`lookup` and by Dovecot's own `doveadm auth test`
//! and `doveadm user`: logins succeed and fail as configured, master
//! users log in as others, the sockets have Dovecot's modes.

use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};

/// A role process; killed when dropped.
struct RoleProcess {
    child: Child,
    _control: UnixStream,
}

impl Drop for RoleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `columba serve --role <role> --config <config>` the way the
/// master does (the control channel on standard input) and waits until
/// `socket` accepts connections.
fn start_role(role: &str, config: &Path, socket: &Path) -> RoleProcess {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_columba"))
        .args(["serve", "--role", role, "--config"])
        .arg(config)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()
        .expect("start the role");
    let process = RoleProcess {
        child,
        _control: ours,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(socket).is_err() {
        assert!(
            Instant::now() < deadline,
            "{role} never listened on {}",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    process
}

struct Setup {
    _dir: tempfile::TempDir,
    run: PathBuf,
    _auth: RoleProcess,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("users"),
        "alice:{PLAIN}alicepw::::::\nbob:{PLAIN}bobpw::::::\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("masters"), "admin:{PLAIN}adminpw::::::\n").unwrap();
    let config = dir.path().join("columba.toml");
    std::fs::write(
        &config,
        "base_dir = \"run\"\n\
         ssl = \"no\"\n\
         auth_mechanisms = [\"plain\", \"login\", \"cram-md5\"]\n\
         auth_master_user_separator = \"*\"\n\
         auth_failure_delay = 0\n\
         [[passdb]]\ndriver = \"passwd-file\"\nargs = \"users\"\n\
         [[passdb]]\ndriver = \"passwd-file\"\nargs = \"masters\"\nmaster = true\n\
         [[userdb]]\ndriver = \"static\"\nargs = \"uid=5000 gid=5000 home=/var/vmail/%u\"\n",
    )
    .unwrap();
    let run = dir.path().join("run");
    let auth = start_role("auth", &config, &run.join("auth-userdb"));
    Setup {
        _dir: dir,
        run,
        _auth: auth,
    }
}

fn columba(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_columba"))
        .args(args)
        .output()
        .expect("run columba")
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\n{}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn sockets_have_dovecots_modes() {
    let s = setup();
    for (name, mode) in [
        ("auth-client", 0o600),
        ("auth-login", 0o600),
        ("auth-master", 0o600),
        ("auth-userdb", 0o666),
    ] {
        let got = std::fs::metadata(s.run.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(got, mode, "{name}");
    }
}

#[test]
fn columba_auth_test_against_the_auth_role() {
    let s = setup();
    let socket = s.run.join("auth-client");
    let socket = socket.to_str().unwrap();
    let ok = columba(&["auth", "test", "-a", socket, "alice", "alicepw"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("passdb: alice auth succeeded"),
        "{}",
        text(&ok)
    );
    let bad = columba(&["auth", "test", "-a", socket, "alice", "wrong"]);
    assert!(!bad.status.success(), "{}", text(&bad));
    assert!(text(&bad).contains("auth failed"), "{}", text(&bad));
    let unknown = columba(&["auth", "test", "-a", socket, "mallory", "x"]);
    assert!(!unknown.status.success(), "{}", text(&unknown));
    // user names are lower-cased (auth_username_format = %Lu)
    let upper = columba(&["auth", "test", "-a", socket, "ALICE", "alicepw"]);
    assert!(upper.status.success(), "{}", text(&upper));
    // CRAM-MD5 works from the {PLAIN} passwords
    let cram = columba(&[
        "auth", "test", "-a", socket, "-m", "CRAM-MD5", "bob", "bobpw",
    ]);
    assert!(cram.status.success(), "{}", text(&cram));
}

#[test]
fn a_master_user_logs_in_as_another() {
    let s = setup();
    let socket = s.run.join("auth-client");
    let socket = socket.to_str().unwrap();
    let ok = columba(&["auth", "test", "-a", socket, "alice*admin", "adminpw"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("passdb: alice*admin auth succeeded"),
        "{}",
        text(&ok)
    );
    assert!(text(&ok).contains("user=alice"), "{}", text(&ok));
    // the master's password, not the target's
    let wrong = columba(&["auth", "test", "-a", socket, "alice*admin", "alicepw"]);
    assert!(!wrong.status.success(), "{}", text(&wrong));
    // the target must exist
    let nobody = columba(&["auth", "test", "-a", socket, "nobody*admin", "adminpw"]);
    assert!(!nobody.status.success(), "{}", text(&nobody));
    // a master user is not a normal user
    let direct = columba(&["auth", "test", "-a", socket, "admin", "adminpw"]);
    assert!(!direct.status.success(), "{}", text(&direct));
}

#[test]
fn userdb_lookups_through_the_userdb_socket() {
    let s = setup();
    let socket = s.run.join("auth-userdb");
    let out = columba(&["auth", "lookup", "-a", socket.to_str().unwrap(), "alice"]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("5000") && t.contains("/var/vmail/alice"), "{t}");
    let none = columba(&["auth", "lookup", "-a", socket.to_str().unwrap(), "mallory"]);
    assert!(!none.status.success(), "{}", text(&none));
}

/// Dovecot's own client, `doveadm auth test -a <our socket>`, gets the
/// answers Dovecot's auth process would give.
#[test]
fn doveadm_auth_test_against_the_auth_role() {
    require_tool!("doveadm");
    let dovecot = PrivateDovecot::offline(DovecotConfig::default()).unwrap();
    let s = setup();
    let client = s.run.join("auth-client");
    let client = client.to_str().unwrap();
    let ok = dovecot.doveadm(&["auth", "test", "-a", client, "alice", "alicepw"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(
        text(&ok).contains("passdb: alice auth succeeded"),
        "{}",
        text(&ok)
    );
    let bad = dovecot.doveadm(&["auth", "test", "-a", client, "alice", "nope"]);
    assert!(!bad.status.success(), "{}", text(&bad));
    assert!(
        text(&bad).contains("passdb: alice auth failed"),
        "{}",
        text(&bad)
    );
    let master = dovecot.doveadm(&["auth", "test", "-a", client, "bob*admin", "adminpw"]);
    assert!(master.status.success(), "{}", text(&master));
    assert!(text(&master).contains("user=bob"), "{}", text(&master));

    let userdb = s.run.join("auth-userdb");
    let user = dovecot.doveadm(&["user", "-a", userdb.to_str().unwrap(), "alice"]);
    assert!(user.status.success(), "{}", text(&user));
    let t = text(&user);
    assert!(
        t.contains("uid") && t.contains("5000") && t.contains("/var/vmail/alice"),
        "{t}"
    );
    let missing = dovecot.doveadm(&["user", "-a", userdb.to_str().unwrap(), "mallory"]);
    assert!(!missing.status.success(), "{}", text(&missing));
}

/// Side by side with Dovecot's auth process: PLAIN authentications per
/// second over auth-client, on one connection and with a new connection
/// per login (what a login process per client does). A measurement, not
/// a check: `cargo test --release -p columba --test auth_role -- --ignored
/// --nocapture auth_throughput`.
#[test]
#[ignore]
fn auth_throughput_against_dovecot() {
    use columba_auth_sasl::protocol::client::UnixAuthClient;
    use columba_auth_sasl::sasl::ClientCredentials;
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw")).unwrap();
    let s = setup();
    let params: Vec<String> = vec![
        "service=imap".into(),
        "secured".into(),
        "rip=127.0.0.1".into(),
    ];
    let n = 2000;
    let run = |socket: &Path, reconnect: bool| -> f64 {
        let start = Instant::now();
        let mut client = UnixAuthClient::connect(socket).unwrap();
        for _ in 0..n {
            if reconnect {
                client = UnixAuthClient::connect(socket).unwrap();
            }
            let o = client
                .authenticate("PLAIN", ClientCredentials::new("alice", "alicepw"), &params)
                .unwrap();
            assert!(o.success);
        }
        f64::from(n) / start.elapsed().as_secs_f64()
    };
    for reconnect in [false, true] {
        let theirs = run(&dovecot.socket("auth-client"), reconnect);
        let ours = run(&s.run.join("auth-client"), reconnect);
        println!(
            "PLAIN logins/s, {}: columba {ours:.0}, dovecot {theirs:.0}, ratio {:.2}",
            if reconnect {
                "a connection each"
            } else {
                "one connection"
            },
            ours / theirs
        );
    }
}
