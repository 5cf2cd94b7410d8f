//! The pieces of `tests/postfix.rs`: a `columba serve` run from its own
//! configuration, a private Postfix instance, and the Python client.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use columba_interop::{chown_tree, find_tool, free_port, MailOwner};

/// The Python side: smtplib and imaplib steps, one JSON value each.
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/postfix/smtp_client.py");

/// How long anything may take to happen (a delivery, a start).
const PATIENCE: Duration = Duration::from_secs(20);

/// Whether this process runs as root (Postfix's master needs it).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Calls `f` every 50 ms until it gives something or [`PATIENCE`] runs out.
pub fn poll<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A directory the Postfix and mail users may traverse.
fn open_tempdir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// `columba serve --config` on a configuration of its own: users demo,
/// bob (passwords `demopw`, `bobpw`) and broken (whose home its mail
/// process cannot enter), LMTP on a Unix socket and a TCP port, IMAP.
pub struct Columba {
    child: Child,
    dir: tempfile::TempDir,
    /// `base_dir`: the `lmtp` and `auth-client` sockets.
    pub base_dir: PathBuf,
    /// The IMAP port.
    pub imap_port: u16,
    /// The LMTP TCP port.
    pub lmtp_port: u16,
}

impl Columba {
    /// Writes the configuration and starts the master; returns once it
    /// says `ready`. Plaintext authentication is allowed without TLS.
    pub fn start(mechanisms: &str) -> Columba {
        Columba::start_with(mechanisms, false)
    }

    /// [`Columba::start`] with `disable_plaintext_auth` as given.
    pub fn start_with(mechanisms: &str, disable_plaintext_auth: bool) -> Columba {
        Columba::start_configured(mechanisms, disable_plaintext_auth, "")
    }

    /// [`Columba::start_with`], `tables` appended to the configuration.
    pub fn start_configured(
        mechanisms: &str,
        disable_plaintext_auth: bool,
        tables: &str,
    ) -> Columba {
        let dir = open_tempdir("columba-postfix-");
        let root = dir.path();
        let owner = MailOwner::for_tests();
        let mut users = String::new();
        for (name, pass) in [("demo", "demopw"), ("bob", "bobpw"), ("broken", "x")] {
            let home = root.join("home").join(name);
            std::fs::create_dir_all(&home).unwrap();
            chown_tree(&home, owner).unwrap();
            users.push_str(&format!(
                "{name}:{{PLAIN}}{pass}:{}:{}::{}::\n",
                owner.uid,
                owner.gid,
                home.display()
            ));
        }
        // broken's home is there but closed to its owner
        let broken = root.join("home/broken");
        std::os::unix::fs::chown(&broken, Some(0), Some(0)).unwrap();
        std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(root.join("home"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(root.join("users"), users).unwrap();
        std::fs::set_permissions(root.join("users"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        let mechs: Vec<String> = mechanisms
            .split_whitespace()
            .map(|m| format!("{m:?}"))
            .collect();
        let config = format!(
            "protocols = [\"imap\", \"lmtp\"]\n\
             listen = [\"127.0.0.1\"]\n\
             base_dir = \"run\"\n\
             log_path = \"columba.log\"\n\
             hostname = \"columba.test\"\n\
             ssl = \"no\"\n\
             disable_plaintext_auth = {disable_plaintext_auth}\n\
             auth_mechanisms = [{mechs}]\n\
             auth_username_format = \"%Ln\"\n\
             mail_location = \"maildir:~/Maildir\"\n\
             first_valid_uid = {first_uid}\n\
             postmaster_address = \"postmaster@example.test\"\n\
             \n\
             [[passdb]]\n\
             driver = \"passwd-file\"\n\
             args = \"scheme=PLAIN username_format=%u {users}\"\n\
             \n\
             [[userdb]]\n\
             driver = \"passwd-file\"\n\
             args = \"username_format=%u {users}\"\n\
             \n\
             [service.imap-login.inet_listener.imap]\n\
             port = 0\n\
             [service.lmtp.inet_listener.lmtp]\n\
             port = 0\n\
             [service.lmtp.unix_listener.lmtp]\n\
             mode = \"0666\"\n\
             [service.auth.unix_listener.auth-client]\n\
             mode = \"0666\"\n\
             {tables}",
            mechs = mechs.join(", "),
            first_uid = owner.uid.min(500),
            users = root.join("users").display(),
        );
        let config_path = root.join("columba.toml");
        std::fs::write(&config_path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_columba"))
            .args(["serve", "--config"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(root.join("serve.stderr")).unwrap())
            .spawn()
            .expect("start columba serve");
        let stdout = child.stdout.take().unwrap();
        let mut columba = Columba {
            child,
            base_dir: root.join("run"),
            dir,
            imap_port: 0,
            lmtp_port: 0,
        };
        // "  imap 127.0.0.1:PORT (imap-login)" ... "ready"
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("columba serve's listeners");
            if line == "ready" {
                break;
            }
            let mut words = line.split_whitespace();
            let (name, addr) = (words.next(), words.next());
            let port = addr
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| p.parse().ok());
            match (name, port) {
                (Some("imap"), Some(p)) => columba.imap_port = p,
                (Some("lmtp"), Some(p)) => columba.lmtp_port = p,
                _ => {}
            }
        }
        assert!(
            columba.imap_port != 0 && columba.lmtp_port != 0,
            "columba serve did not start:\n{}",
            columba.log()
        );
        columba
    }

    /// The server's log so far (its standard error, then `log_path`).
    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.path().join(name));
        read("serve.stderr").unwrap_or_default() + &read("columba.log").unwrap_or_default()
    }

    /// Panics if the log has an Error, Warning, Panic or Fatal line not
    /// mentioning one of `expected`.
    pub fn assert_log_clean(&self, expected: &[&str]) {
        let log = self.log();
        let problems: Vec<&str> = log
            .lines()
            .filter(|l| {
                ["Error:", "Warning:", "Panic:", "Fatal:"]
                    .iter()
                    .any(|p| l.contains(p))
                    && !expected.iter().any(|e| l.contains(e))
            })
            .collect();
        assert!(problems.is_empty(), "{problems:#?}");
    }
}

impl Drop for Columba {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its children; SIGKILL if it hangs.
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One smtpd listener of the private Postfix, with `-o` overrides.
#[derive(Debug, Clone, Default)]
pub struct SmtpdPort {
    overrides: Vec<String>,
}

impl SmtpdPort {
    /// A listener with one `-o name=value` override.
    pub fn with(setting: &str) -> SmtpdPort {
        SmtpdPort {
            overrides: vec![setting.to_string()],
        }
    }
}

/// A private Postfix instance: `config_directory`, `queue_directory`,
/// `data_directory` and its log file under a temporary directory, smtpd on
/// free loopback ports. Stopped (and waited for) on drop.
pub struct Postfix {
    dir: tempfile::TempDir,
    /// The smtpd ports, in the order of the [`SmtpdPort`]s given.
    pub ports: Vec<u16>,
    master_pid: Option<i32>,
}

impl Postfix {
    /// Starts Postfix delivering every `example.test` address through
    /// `transport`, authenticating through the Dovecot-protocol socket
    /// `sasl` if given.
    pub fn start(transport: &str, sasl: Option<&Path>, listeners: &[SmtpdPort]) -> Postfix {
        let postfix = Postfix::launch(transport, sasl, listeners);
        postfix.wait_ready();
        postfix
    }

    /// [`Postfix::start`] without waiting for smtpd's greeting: smtpd
    /// needs its auth socket at its start, so one inside Postfix's own
    /// directories must be created in between; then call
    /// [`Postfix::wait_ready`].
    pub fn launch(transport: &str, sasl: Option<&Path>, listeners: &[SmtpdPort]) -> Postfix {
        let dir = open_tempdir("columba-postfix-instance-");
        let root = dir.path().to_path_buf();
        let (etc, queue, data, log) = (
            root.join("etc"),
            root.join("queue"),
            root.join("data"),
            root.join("log"),
        );
        for d in [&etc, &queue, &data, &log] {
            std::fs::create_dir_all(d).unwrap();
        }
        // Postfix's master locks data_directory/master.lock as mail_owner.
        let postfix_ids = user_ids("postfix").expect("a postfix user");
        std::os::unix::fs::chown(&data, Some(postfix_ids.0), Some(postfix_ids.1)).unwrap();
        let sasl_settings = match sasl {
            Some(path) => format!(
                "smtpd_sasl_type = dovecot\n\
                 smtpd_sasl_path = {}\n\
                 smtpd_sasl_auth_enable = yes\n",
                path.display()
            ),
            None => String::new(),
        };
        let main_cf = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {queue}\n\
             data_directory = {data}\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             myhostname = postfix.test\n\
             mydomain = postfix.test\n\
             mydestination =\n\
             mynetworks = 192.0.2.1/32\n\
             relayhost =\n\
             alias_maps =\n\
             alias_database =\n\
             local_recipient_maps =\n\
             smtputf8_enable = no\n\
             biff = no\n\
             maillog_file_prefixes = {log}\n\
             maillog_file = {log}/postfix.log\n\
             syslog_name = postfix-columba-test\n\
             virtual_mailbox_domains = example.test\n\
             virtual_transport = {transport}\n\
             default_transport = discard:no mail leaves this test\n\
             smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination\n\
             smtpd_tls_security_level = none\n\
             {sasl_settings}",
            queue = queue.display(),
            data = data.display(),
            log = log.display(),
        );
        std::fs::write(etc.join("main.cf"), main_cf).unwrap();
        let mut postfix = Postfix {
            dir,
            ports: Vec::new(),
            master_pid: None,
        };
        // A free port can be taken by another test before smtpd binds it:
        // Postfix then fails to start, and is started again on new ports.
        for attempt in 1.. {
            let mut master_cf = String::new();
            postfix.ports.clear();
            for l in listeners {
                let port = free_port();
                postfix.ports.push(port);
                master_cf.push_str(&format!("127.0.0.1:{port} inet n - n - - smtpd"));
                for o in &l.overrides {
                    master_cf.push_str(&format!(" -o {o}"));
                }
                master_cf.push('\n');
            }
            master_cf.push_str(MASTER_CF_SERVICES);
            std::fs::write(etc.join("master.cf"), master_cf).unwrap();
            let out = postfix.command("start");
            if out.status.success() {
                break;
            }
            let log = postfix.log();
            if attempt < 4 && log.contains("Address already in use") {
                continue;
            }
            panic!(
                "postfix start: {}{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
            );
        }
        postfix.master_pid = std::fs::read_to_string(queue.join("pid/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok());
        postfix
    }

    /// Waits until every smtpd listener greets.
    pub fn wait_ready(&self) {
        for &port in &self.ports {
            let greeted = poll(|| {
                let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
                c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
                let mut buf = [0u8; 4];
                c.read_exact(&mut buf).ok()?;
                (&buf[..3] == b"220").then_some(())
            });
            assert!(
                greeted.is_some(),
                "Postfix's smtpd on {port} did not greet\n{}",
                self.log()
            );
        }
    }

    fn command(&self, what: &str) -> std::process::Output {
        // /usr/sbin may be missing from a user's PATH
        Command::new(find_tool("postfix").expect("postfix is installed"))
            .arg("-c")
            .arg(self.dir.path().join("etc"))
            .arg(what)
            .stdin(Stdio::null())
            .output()
            .expect("run postfix")
    }

    /// The instance's `queue_directory` (`private/` holds the sockets
    /// Postfix's own processes use).
    pub fn queue_dir(&self) -> PathBuf {
        self.dir.path().join("queue")
    }

    /// Postfix's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/postfix.log")).unwrap_or_default()
    }

    /// Writes `data` to a file of this instance; returns its path.
    pub fn write_file(&self, name: &str, data: &[u8]) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        path.display().to_string()
    }

    /// Waits until Postfix logged `count` delivery attempts of the message
    /// with `message_id`; returns them.
    pub fn wait_for_deliveries(&self, message_id: &str, count: usize) -> Vec<Delivery> {
        poll(|| {
            let log = self.log();
            let marker = format!(": message-id={message_id}");
            let line = log.lines().find(|l| l.ends_with(&marker))?;
            let queue_id = line.strip_suffix(&marker)?.rsplit(' ').next()?;
            let found: Vec<Delivery> = deliveries(&log)
                .into_iter()
                .filter(|d| d.queue_id == queue_id)
                .collect();
            (found.len() >= count).then_some(found)
        })
        .unwrap_or_else(|| panic!("Postfix did not deliver {message_id}:\n{}", self.log()))
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        // SIGTERM to this instance's master (its pid file is ours) stops
        // its children, then itself; faster than `postfix stop`'s script.
        // Wait for it, so no Postfix process outlives the test.
        let Some(pid) = self.master_pid.and_then(rustix::process::Pid::from_raw) else {
            let _ = self.command("stop");
            return;
        };
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        if poll(|| (!alive(pid.as_raw_nonzero().get())).then_some(())).is_none() {
            let _ = self.command("abort");
        }
    }
}

/// Whether process `pid` runs (a zombie waiting for init does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(") ")?.1.chars().next()?;
            Some(state != 'Z' && state != 'X')
        })
        .unwrap_or(false)
}

/// The services a Postfix instance needs besides smtpd (chroot off).
const MASTER_CF_SERVICES: &str = "\
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
";

/// The uid and gid of a system user.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
    })
}

/// One delivery attempt as Postfix logs it (`to=<...>, ..., status=...`).
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// The queue id of the message.
    pub queue_id: String,
    /// The recipient.
    pub to: String,
    /// `sent`, `bounced`, `deferred`.
    pub status: String,
    /// The parenthesized text after the status: the server's reply.
    pub reply: String,
}

/// Every delivery attempt in a Postfix log.
pub fn deliveries(log: &str) -> Vec<Delivery> {
    log.lines()
        .filter_map(|l| {
            let (head, rest) = l.split_once(": to=<")?;
            let queue_id = head.rsplit(' ').next()?.to_string();
            let (to, rest) = rest.split_once('>')?;
            let (_, status) = rest.split_once(", status=")?;
            let (status, reply) = status.split_once(' ')?;
            let reply = reply.strip_prefix('(')?.strip_suffix(')')?;
            Some(Delivery {
                queue_id,
                to: to.to_string(),
                status: status.to_string(),
                reply: reply.to_string(),
            })
        })
        .collect()
}

/// Splits a stored message into the trace headers delivery added in front
/// of it (`Return-Path`, `Delivered-To`, `Received`, each unfolded, in
/// order) and the message as it was submitted.
pub fn added_trace_headers(stored: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let mut trace: Vec<(String, String)> = Vec::new();
    let mut at = 0;
    while at < stored.len() {
        let line_end = stored[at..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map_or(stored.len(), |p| at + p + 2);
        let line = String::from_utf8_lossy(&stored[at..line_end]);
        let line = line.trim_end_matches("\r\n");
        if line.starts_with([' ', '\t']) {
            match trace.last_mut() {
                Some(last) => {
                    last.1.push(' ');
                    last.1.push_str(line.trim_start());
                }
                None => break,
            }
        } else {
            match line.split_once(": ") {
                Some((name, value))
                    if ["Return-Path", "Delivered-To", "Received"].contains(&name) =>
                {
                    trace.push((name.to_string(), value.to_string()));
                }
                _ => break,
            }
        }
        at = line_end;
    }
    (trace, &stored[at..])
}

/// Runs one client step; returns its JSON answer.
pub fn client(args: &[&str]) -> serde_json::Value {
    let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    client_all(&[argv]).remove(0)
}

/// Runs client steps all at once (failed authentications each wait out
/// the server's failure delay), each from its own loopback address
/// (127.0.0.2 on), so that no step inherits another's authentication
/// penalty; returns their answers in order.
pub fn client_all(steps: &[Vec<String>]) -> Vec<serde_json::Value> {
    assert!(steps.len() < 250);
    let children: Vec<Child> = steps
        .iter()
        .enumerate()
        .map(|(i, argv)| {
            Command::new("python3")
                .arg(CLIENT)
                .args(argv)
                .env("SMTP_SOURCE", format!("127.0.0.{}", i + 2))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("run python3")
        })
        .collect();
    children
        .into_iter()
        .zip(steps)
        .map(|(child, argv)| {
            let out = child.wait_with_output().expect("python3");
            assert!(
                out.status.success(),
                "{argv:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{argv:?}: {e}: {:?}", out.stdout))
        })
        .collect()
}

/// Every message of a user's INBOX, read over IMAP.
pub fn fetch_inbox(port: u16, user: &str, password: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let v = client(&["fetch", &port.to_string(), user, password]);
    v.as_array()
        .expect("a list")
        .iter()
        .map(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.as_str().unwrap())
                .unwrap()
        })
        .collect()
}
