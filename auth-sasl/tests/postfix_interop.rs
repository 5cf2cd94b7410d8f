//! Postfix's smtpd with `smtpd_sasl_type = dovecot` authenticates SMTP
//! clients against Columba's auth-client socket. A private Postfix (own
//! config and queue directory, 127.0.0.1 on a free port) is started with
//! `master -d` and stopped at the end.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use columba_auth_sasl::db::{PassDb, PasswdFile, UserDb};
use columba_auth_sasl::server::unix::{AuthService, SocketKind};
use columba_auth_sasl::server::{AuthConfig, AuthServer};
use columba_interop::{find_tool, free_port, require_tool};

const USERS: &str = "\
alice:{SHA512-CRYPT}$6$mPTr9xWJjFuavuHF$1jIH1azVBN.BPnTgFJzVGRDBq5M53FN5hE8bLAib9n.KR/IMwIRdeIj6wwvojQKmiZzzSy/Zv9EL.Ut4C08bI/:5000:5000::/home/alice
bob:{PLAIN}bobpw:5000:5000::/home/bob
";

struct PrivatePostfix {
    master: Child,
    root: tempfile::TempDir,
    port: u16,
}

impl Drop for PrivatePostfix {
    fn drop(&mut self) {
        // SIGTERM lets master stop its smtpd children.
        let _ = Command::new("kill")
            .arg(self.master.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.master.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.master.kill();
        let _ = self.master.wait();
    }
}

fn chown(path: &Path, owner: &str) {
    let status = Command::new("chown").arg(owner).arg(path).status().unwrap();
    assert!(status.success());
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl PrivatePostfix {
    /// Lays out config and queue; `bind_auth` binds the SASL socket at
    /// `<queue>/private/auth` before the master starts.
    fn start(master_bin: &Path, bind_auth: impl FnOnce(PathBuf)) -> PrivatePostfix {
        let root = tempfile::Builder::new()
            .prefix("columba-postfix-")
            .tempdir()
            .unwrap();
        set_mode(root.path(), 0o755);
        let conf = root.path().join("conf");
        let queue = root.path().join("queue");
        let data = root.path().join("data");
        for d in [&conf, &queue, &data] {
            std::fs::create_dir_all(d).unwrap();
        }
        chown(&data, "postfix");
        for d in [
            "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming",
            "private", "saved", "trace", "maildrop", "public", "pid",
        ] {
            let p = queue.join(d);
            std::fs::create_dir_all(&p).unwrap();
            match d {
                "pid" => set_mode(&p, 0o755),
                "maildrop" => {
                    chown(&p, "postfix:postdrop");
                    set_mode(&p, 0o730);
                }
                "public" => {
                    chown(&p, "postfix:postdrop");
                    set_mode(&p, 0o710);
                }
                _ => {
                    chown(&p, "postfix");
                    set_mode(&p, 0o700);
                }
            }
        }
        let port = free_port();
        let r = root.path().display();
        std::fs::write(
            conf.join("main.cf"),
            format!(
                "compatibility_level = 3.6\n\
                 queue_directory = {r}/queue\n\
                 data_directory = {r}/data\n\
                 myhostname = columba-test.localdomain\n\
                 inet_interfaces = 127.0.0.1\n\
                 inet_protocols = ipv4\n\
                 smtpd_sasl_auth_enable = yes\n\
                 smtpd_sasl_type = dovecot\n\
                 smtpd_sasl_path = private/auth\n\
                 smtpd_tls_security_level = none\n\
                 local_recipient_maps =\n\
                 mydestination =\n\
                 alias_maps =\n\
                 alias_database =\n\
                 relay_domains =\n\
                 smtpd_relay_restrictions = permit_sasl_authenticated, reject\n\
                 mynetworks = 127.0.0.0/8\n\
                 maillog_file_prefixes = {r}\n\
                 maillog_file = {r}/maillog\n"
            ),
        )
        .unwrap();
        std::fs::write(
            conf.join("master.cf"),
            format!(
                "127.0.0.1:{port} inet n - n - - smtpd\n\
                 anvil unix - - n - 1 anvil\n\
                 proxymap unix - - n - - proxymap\n\
                 rewrite unix - - n - - trivial-rewrite\n\
                 cleanup unix n - n - 0 cleanup\n\
                 postlog unix-dgram n - n - 1 postlogd\n"
            ),
        )
        .unwrap();
        bind_auth(queue.join("private/auth"));
        let master = Command::new(master_bin)
            .arg("-c")
            .arg(&conf)
            .arg("-d")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pf = PrivatePostfix { master, root, port };
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "postfix did not listen:\n{}",
                pf.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        pf
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("maillog")).unwrap_or_default()
    }
}

struct Smtp {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Smtp {
    fn connect(port: u16) -> Smtp {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut smtp = Smtp {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        };
        let greeting = smtp.reply();
        assert!(greeting.starts_with("220"), "{greeting}");
        smtp
    }

    /// Reads a (multi-line) reply.
    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            self.r.read_line(&mut line).unwrap();
            assert!(!line.is_empty(), "connection closed after {all:?}");
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.w.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        self.reply()
    }
}

#[test]
fn postfix_smtpd_authenticates_against_columba() {
    require_tool!("postfix");
    let master = find_tool("master").expect("postfix's master is installed with postfix");
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, USERS).unwrap();
    let file = Arc::new(PasswdFile::new(users.to_str().unwrap()));
    let server = Arc::new(AuthServer::new(AuthConfig {
        mechanisms: vec!["PLAIN".into(), "LOGIN".into(), "CRAM-MD5".into()],
        passdbs: vec![file.clone() as Arc<dyn PassDb>],
        userdbs: vec![file as Arc<dyn UserDb>],
        failure_delay: Duration::from_millis(10),
        penalty: false,
        worker_threads: 2,
        ..AuthConfig::default()
    }));
    let mut service = None;
    let postfix = PrivatePostfix::start(&master, |path| {
        service =
            Some(AuthService::start(Arc::clone(&server), &[(path, SocketKind::Client)]).unwrap());
    });
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);

    let mut smtp = Smtp::connect(postfix.port);
    let ehlo = smtp.cmd("EHLO client.example");
    assert!(
        ehlo.contains("AUTH PLAIN LOGIN CRAM-MD5"),
        "{ehlo}\n{}",
        postfix.log()
    );
    let r = smtp.cmd(&format!("AUTH PLAIN {}", b64("\0alice\0secret")));
    assert!(r.starts_with("235"), "{r}\n{}", postfix.log());
    // Authenticated: relaying is now permitted.
    assert!(smtp.cmd("MAIL FROM:<alice@example.com>").starts_with("250"));
    assert!(
        smtp.cmd("RCPT TO:<someone@example.net>").starts_with("250"),
        "{}",
        postfix.log()
    );
    smtp.cmd("QUIT");

    let mut smtp = Smtp::connect(postfix.port);
    smtp.cmd("EHLO client.example");
    let r = smtp.cmd(&format!("AUTH PLAIN {}", b64("\0alice\0wrong")));
    assert!(r.starts_with("535"), "{r}");
    let r = smtp.cmd(&format!("AUTH PLAIN {}", b64("\0nobody\0x")));
    assert!(r.starts_with("535"), "{r}");
    // LOGIN: Postfix relays the server's prompts.
    assert!(smtp.cmd("AUTH LOGIN").starts_with("334 VXNlcm5hbWU6"));
    assert!(smtp.cmd(&b64("bob")).starts_with("334 UGFzc3dvcmQ6"));
    let r = smtp.cmd(&b64("bobpw"));
    assert!(r.starts_with("235"), "{r}");
    assert!(smtp.cmd("MAIL FROM:<bob@example.com>").starts_with("250"));
    smtp.cmd("QUIT");

    // smtpd writes its disconnect line after answering QUIT: wait for it
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut log = postfix.log();
    while !log.contains("auth=1/3") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        log = postfix.log();
    }
    assert!(
        log.contains("sasl_method=PLAIN, sasl_username=alice"),
        "{log}"
    );
    // Second session: one successful AUTH (LOGIN) out of three.
    assert!(log.contains("auth=1/3"), "{log}");
    // The password never shows up in Postfix's log either.
    assert!(!log.contains("secret") && !log.contains("bobpw"), "{log}");
    drop(postfix);
    drop(service);
}
