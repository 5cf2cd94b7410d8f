//! Driving the post-login, lmtp and indexer roles as processes, the way
//! the master drives them: the control channel on standard input, a
//! `HANDOFF` or `CONNECTION` message with the client's socket attached,
//! and a cookie obtained from the auth role like a login process gets it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use columba_auth_sasl::protocol::client::UnixAuthClient;
use columba_auth_sasl::sasl::ClientCredentials;
use columba_interop::{chown_tree, MailOwner};
use columba_privsep::{FdChannel, PeerPolicy};
use columba_session::{ImapHandoff, Pop3Handoff};

/// A role process; killed when dropped.
pub struct RoleProcess {
    pub child: Child,
    pub control: FdChannel,
    pub log: PathBuf,
}

impl RoleProcess {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// What the process logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RoleProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user of the test server.
#[derive(Clone)]
pub struct TestUser {
    pub name: &'static str,
    pub password: &'static str,
    pub uid: u32,
    pub gid: u32,
}

/// A server directory: configuration, passwd-file, homes, and the
/// singleton roles (auth, anvil, indexer) running.
pub struct Server {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub run: PathBuf,
    pub users: Vec<TestUser>,
    singletons: Vec<RoleProcess>,
    /// The login processes' auth connections: a login stays known to the
    /// auth server only while its connection is open (as in Dovecot, the
    /// login process waits until the post-login process took over).
    logins: std::cell::RefCell<Vec<UnixAuthClient>>,
}

/// Starts `columba serve --role <role> --config <config>`, logging to
/// `log`.
pub fn spawn_role(role: &str, config: &Path, log: &Path) -> RoleProcess {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_columba"))
        .args(["serve", "--role", role, "--config"])
        .arg(config)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("start the role");
    RoleProcess {
        child,
        control: FdChannel::new(ours, PeerPolicy::any()),
        log: log.to_path_buf(),
    }
}

fn wait_for_socket(path: &Path, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(path).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} never listened on {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The owner of the second user's files when running as root.
pub fn second_owner() -> MailOwner {
    let first = MailOwner::for_tests();
    if first.needs_chown() {
        MailOwner {
            uid: first.uid + 1,
            gid: first.gid + 1,
        }
    } else {
        first
    }
}

impl Server {
    /// A server for `users` (name, password, owner); `extra` is added to
    /// the configuration.
    pub fn start(users: &[(&'static str, &'static str, MailOwner)], extra: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        // the post-login processes run as the users: let them through
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut passwd = String::new();
        let mut list = Vec::new();
        let mut min_uid = u32::MAX;
        let mut min_gid = u32::MAX;
        for (name, password, owner) in users {
            let home = dir.path().join("home").join(name);
            std::fs::create_dir_all(&home).unwrap();
            std::fs::set_permissions(
                dir.path().join("home"),
                std::fs::Permissions::from_mode(0o755),
            )
            .unwrap();
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
            chown_tree(&home, *owner).unwrap();
            passwd.push_str(&format!(
                "{name}:{{PLAIN}}{password}:{}:{}::{}::\n",
                owner.uid,
                owner.gid,
                home.display()
            ));
            min_uid = min_uid.min(owner.uid);
            min_gid = min_gid.min(owner.gid);
            list.push(TestUser {
                name,
                password,
                uid: owner.uid,
                gid: owner.gid,
            });
        }
        std::fs::write(dir.path().join("users"), passwd).unwrap();
        let config = dir.path().join("columba.toml");
        std::fs::write(
            &config,
            format!(
                "base_dir = \"run\"\n\
                 ssl = \"no\"\n\
                 disable_plaintext_auth = false\n\
                 auth_mechanisms = [\"plain\", \"login\"]\n\
                 auth_failure_delay = 0\n\
                 mail_location = \"maildir:~/Maildir\"\n\
                 first_valid_uid = {}\n\
                 first_valid_gid = {}\n\
                 {extra}\n\
                 [[passdb]]\ndriver = \"passwd-file\"\nargs = \"users\"\n\
                 [[userdb]]\ndriver = \"passwd-file\"\nargs = \"users\"\n",
                min_uid.min(500),
                min_gid.clamp(1, 500)
            ),
        )
        .unwrap();
        let run = dir.path().join("run");
        let mut singletons = Vec::new();
        for (role, socket) in [
            ("auth", "auth-userdb"),
            ("anvil", "anvil"),
            ("stats", "stats-writer"),
            ("indexer", "indexer"),
        ] {
            let log = dir.path().join(format!("{role}.log"));
            singletons.push(spawn_role(role, &config, &log));
            wait_for_socket(&run.join(socket), role);
        }
        Server {
            dir,
            config,
            run,
            users: list,
            singletons,
            logins: Default::default(),
        }
    }

    /// The user's home.
    pub fn home(&self, user: &str) -> PathBuf {
        self.dir.path().join("home").join(user)
    }

    /// The user's Maildir.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.home(user).join("Maildir")
    }

    /// The logs of the singleton roles.
    pub fn singleton_logs(&self) -> String {
        self.singletons
            .iter()
            .map(RoleProcess::log_text)
            .collect::<Vec<_>>()
            .join("")
    }

    /// Authenticates like a login process on auth-login; returns the
    /// connection (it must live until the REQUEST) and its cookie. The
    /// login's request id is 1.
    pub fn login(&self, user: &str, password: &str) -> (UnixAuthClient, String) {
        let mut client = UnixAuthClient::connect(&self.run.join("auth-login")).unwrap();
        let cookie = client.handshake().cookie.clone().expect("a COOKIE line");
        let out = client
            .authenticate(
                "PLAIN",
                ClientCredentials::new(user, password),
                &[
                    "service=imap".to_string(),
                    "rip=127.0.0.1".to_string(),
                    "lip=127.0.0.1".to_string(),
                ],
            )
            .unwrap();
        assert!(out.success, "{out:?}");
        (client, cookie)
    }

    /// Starts a post-login process (`imap` or `pop3`) for `user` with a
    /// handoff naming `cookie`; returns it and the client's end.
    pub fn post_login(
        &self,
        service: &str,
        user: &str,
        cookie: &str,
        session_state: &[u8],
        session_id: &str,
    ) -> (RoleProcess, UnixStream) {
        let log = self.dir.path().join(format!("{service}-{session_id}.log"));
        let mut process = spawn_role(service, &self.config, &log);
        let (client, server_end) = UnixStream::pair().unwrap();
        let port = if service == "imap" { 143 } else { 110 };
        let payload = format!(
            "HANDOFF\t{service}\t{service}\tplain\t127.0.0.1:{port}\t127.0.0.1:50000\t{session_id}\t\
             {user}\t{}\t1\t{cookie}\tplain\t{}",
            std::process::id(),
            hex(session_state)
        );
        process
            .control
            .send(payload.as_bytes(), &[server_end.as_fd()])
            .unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        (process, client)
    }

    /// Logs `user` in and starts an `imap` process for it; the pending
    /// login's tag is `a1`.
    pub fn imap(&self, user: &str, session_id: &str) -> (RoleProcess, Client) {
        let password = self.password(user);
        let (auth, cookie) = self.login(user, password);
        self.logins.borrow_mut().push(auth);
        let state = ImapHandoff {
            tag: "a1".into(),
            user: user.into(),
            method: "PLAIN".into(),
            tls: false,
            client_input: Vec::new(),
            client_id: Vec::new(),
            untagged_capability: false,
        };
        let (process, stream) = self.post_login("imap", user, &cookie, &state.encode(), session_id);
        (process, Client::new(stream))
    }

    /// Logs `user` in and starts a `pop3` process for it.
    pub fn pop3(&self, user: &str, session_id: &str) -> (RoleProcess, Client) {
        let password = self.password(user);
        let (auth, cookie) = self.login(user, password);
        self.logins.borrow_mut().push(auth);
        let state = Pop3Handoff {
            user: user.into(),
            method: "PLAIN".into(),
            tls: false,
            client_input: Vec::new(),
        };
        let (process, stream) = self.post_login("pop3", user, &cookie, &state.encode(), session_id);
        (process, Client::new(stream))
    }

    fn password(&self, user: &str) -> &'static str {
        self.users
            .iter()
            .find(|u| u.name == user)
            .map(|u| u.password)
            .expect("a configured user")
    }

    /// Starts an `lmtp` process for one connection; returns it and the
    /// client's end (after the greeting).
    pub fn lmtp(&self, session_id: &str) -> (RoleProcess, Client) {
        let log = self.dir.path().join(format!("lmtp-{session_id}.log"));
        let mut process = spawn_role("lmtp", &self.config, &log);
        let (client, server_end) = UnixStream::pair().unwrap();
        let payload =
            format!("CONNECTION\tlmtp\tlmtp\tplain\t127.0.0.1:24\t127.0.0.1:40000\t{session_id}");
        process
            .control
            .send(payload.as_bytes(), &[server_end.as_fd()])
            .unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut c = Client::new(client);
        let greeting = c.line();
        assert!(greeting.starts_with("220 "), "{greeting}");
        (process, c)
    }

    /// Delivers `message` to `rcpts` over a fresh LMTP connection; the
    /// replies to the recipients after DATA.
    pub fn deliver(&self, rcpts: &[&str], message: &str) -> Vec<String> {
        let (mut process, mut c) = self.lmtp("LmtpSess0123456789abcd");
        c.send("LHLO test\r\n");
        while !c.line().starts_with("250 ") {}
        c.send("MAIL FROM:<sender@example.com>\r\n");
        assert!(c.line().starts_with("250"));
        for r in rcpts {
            c.send(&format!("RCPT TO:<{r}>\r\n"));
            let reply = c.line();
            assert!(reply.starts_with("250"), "RCPT {r}: {reply}");
        }
        c.send("DATA\r\n");
        assert!(c.line().starts_with("354"));
        c.send(message);
        c.send(".\r\n");
        let replies: Vec<String> = rcpts.iter().map(|_| c.line()).collect();
        c.send("QUIT\r\n");
        let _ = c.line();
        assert!(process.wait_exit(Duration::from_secs(10)));
        replies
    }
}

/// A line-oriented client over a socket.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    pub fn new(stream: UnixStream) -> Client {
        Client {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).unwrap();
    }

    /// One line (with its CRLF stripped); empty at end of file.
    pub fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line).unwrap();
        String::from_utf8_lossy(&line).trim_end().to_string()
    }

    /// Lines up to and including the one starting with `tag `.
    pub fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let l = self.line();
            let done = l.starts_with(&format!("{tag} ")) || l.is_empty();
            lines.push(l);
            if done {
                return lines;
            }
        }
    }

    /// A command and its response lines.
    pub fn command(&mut self, tag: &str, command: &str) -> Vec<String> {
        self.send(&format!("{tag} {command}\r\n"));
        self.until_tagged(tag)
    }

    /// Everything up to end of file.
    pub fn rest(&mut self) -> String {
        let mut s = String::new();
        let _ = self.reader.read_to_string(&mut s);
        s
    }

    /// The reading and the writing half.
    pub fn parts(&mut self) -> (&mut BufReader<UnixStream>, &mut UnixStream) {
        (&mut self.reader, &mut self.writer)
    }

    /// Sets how long a read may wait.
    pub fn timeout(&self, d: Duration) {
        self.writer.set_read_timeout(Some(d)).unwrap();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
