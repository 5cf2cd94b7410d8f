//! A private Dovecot 2.3 instance: its own config, base_dir, users and
//! loopback ports, in a temporary directory that is removed on drop.

use std::fmt::Write as _;
use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::owner::{chown_tree, MailOwner};
use crate::tools::{find_tool, free_port};

/// A user of the private instance's passwd-file (passdb and userdb).
#[derive(Debug, Clone)]
pub struct TestUser {
    /// Login name.
    pub name: String,
    /// Password, stored in the passwd-file as `{PLAIN}`.
    pub password: String,
    /// Extra fields appended to the passwd-file line (e.g. `userdb_mail_index_log_rotate_min_size=128k`).
    pub extra_fields: String,
}

/// What the private instance is configured with. Every field has a working default.
#[derive(Debug, Clone)]
pub struct DovecotConfig {
    /// Users of the passwd-file; each gets the home `<root>/home/<name>`.
    pub users: Vec<TestUser>,
    /// `mail_location`, default `maildir:~/Maildir`.
    pub mail_location: String,
    /// `auth_mechanisms`, default `plain login cram-md5 scram-sha-1 scram-sha-256`.
    pub auth_mechanisms: String,
    /// Configuration text appended verbatim at the end of `dovecot.conf`.
    pub extra: String,
}

impl Default for DovecotConfig {
    fn default() -> Self {
        DovecotConfig {
            users: Vec::new(),
            mail_location: "maildir:~/Maildir".into(),
            auth_mechanisms: "plain login cram-md5 scram-sha-1 scram-sha-256".into(),
            extra: String::new(),
        }
    }
}

impl DovecotConfig {
    /// Adds a user with a `{PLAIN}` password.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push(TestUser {
            name: name.into(),
            password: password.into(),
            extra_fields: String::new(),
        });
        self
    }

    /// Appends configuration text (settings or blocks) to `dovecot.conf`.
    pub fn extra(mut self, text: &str) -> Self {
        self.extra.push_str(text);
        self.extra.push('\n');
        self
    }
}

/// A private Dovecot: config and data under a temporary directory, listeners on
/// free loopback ports. [`PrivateDovecot::start`] runs the master;
/// [`PrivateDovecot::offline`] only writes the config, for `doveadm` on files.
pub struct PrivateDovecot {
    root: tempfile::TempDir,
    config_path: PathBuf,
    owner: MailOwner,
    running: bool,
    /// Plain IMAP port (STARTTLS is not configured; `ssl = no`).
    pub imap_port: u16,
    /// POP3 port.
    pub pop3_port: u16,
    /// LMTP port.
    pub lmtp_port: u16,
}

impl PrivateDovecot {
    /// Writes the configuration and user homes without starting anything;
    /// `doveadm` mail commands work on the files directly.
    pub fn offline(config: DovecotConfig) -> io::Result<PrivateDovecot> {
        let root = tempfile::Builder::new()
            .prefix("columba-dovecot-")
            .tempdir()?;
        set_mode(root.path(), 0o755)?;
        let owner = MailOwner::for_tests();
        let mut dovecot = PrivateDovecot {
            config_path: root.path().join("dovecot.conf"),
            root,
            owner,
            running: false,
            imap_port: free_port(),
            pop3_port: free_port(),
            lmtp_port: free_port(),
        };
        dovecot.write_files(&config)?;
        Ok(dovecot)
    }

    /// Writes the configuration, starts the master and waits until IMAP answers.
    pub fn start(config: DovecotConfig) -> io::Result<PrivateDovecot> {
        let mut dovecot = PrivateDovecot::offline(config)?;
        let binary =
            find_tool("dovecot").ok_or_else(|| io::Error::other("dovecot is not installed"))?;
        // The master daemonizes and its children inherit stdout/stderr, so
        // they go to a file: waiting on pipes would never end.
        let startup_log = dovecot.root().join("log/startup.log");
        let status = Command::new(binary)
            .arg("-c")
            .arg(&dovecot.config_path)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&startup_log)?)
            .stderr(std::fs::File::create(
                dovecot.root().join("log/startup.err"),
            )?)
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "dovecot did not start ({status}): {}\n{}",
                std::fs::read_to_string(dovecot.root().join("log/startup.err")).unwrap_or_default(),
                dovecot.log()
            )));
        }
        dovecot.running = true;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", dovecot.imap_port)).is_err() {
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "dovecot did not listen in 10 s\n{}",
                    dovecot.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(dovecot)
    }

    fn write_files(&mut self, config: &DovecotConfig) -> io::Result<()> {
        let root = self.root.path().to_path_buf();
        for dir in ["run", "state", "log", "home", "tmp"] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        set_mode(&root.join("tmp"), 0o1777)?;
        let mut users = String::new();
        for user in &config.users {
            let home = self.home(&user.name);
            std::fs::create_dir_all(&home)?;
            chown_tree(&home, self.owner)?;
            writeln!(
                users,
                "{}:{{PLAIN}}{}:{}:{}::{}::{}",
                user.name,
                user.password,
                self.owner.uid,
                self.owner.gid,
                home.display(),
                user.extra_fields
            )
            .expect("writing to a String");
        }
        std::fs::write(root.join("users"), users)?;
        // read by Dovecot's auth process as its own user, whatever the
        // umask of the test process was
        set_mode(&root.join("users"), 0o644)?;
        let r = root.display();
        let conf = format!(
            "base_dir = {r}/run\n\
             state_dir = {r}/state\n\
             instance_name = columba-test-{port}\n\
             log_path = {r}/log/dovecot.log\n\
             listen = 127.0.0.1\n\
             protocols = imap pop3 lmtp\n\
             ssl = no\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = {mechs}\n\
             mail_location = {mail}\n\
             mail_temp_dir = {r}/tmp\n\
             first_valid_uid = {uid}\n\
             lmtp_add_received_header = no\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {r}/users\n}}\n\
             userdb {{\n  driver = passwd-file\n  args = username_format=%u {r}/users\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    address = 127.0.0.1\n    port = {pop3}\n  }}\n  inet_listener pop3s {{\n    port = 0\n  }}\n}}\n\
             service lmtp {{\n  inet_listener lmtp {{\n    address = 127.0.0.1\n    port = {lmtp}\n  }}\n}}\n\
             service auth {{\n  unix_listener auth-client {{\n    mode = 0666\n  }}\n  unix_listener auth-userdb {{\n    mode = 0666\n  }}\n  unix_listener auth-master {{\n    mode = 0666\n  }}\n}}\n\
             protocol lmtp {{\n  postmaster_address = postmaster@localhost\n}}\n\
             {extra}",
            port = self.imap_port,
            mechs = config.auth_mechanisms,
            mail = config.mail_location,
            uid = self.owner.uid.min(500),
            imap = self.imap_port,
            pop3 = self.pop3_port,
            lmtp = self.lmtp_port,
            extra = config.extra,
        );
        std::fs::write(&self.config_path, conf)
    }

    /// The instance's directory (config, `users`, `run/`, `log/`, `home/`).
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Path of `dovecot.conf`, for `-c`.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The owner of mail files (what Dovecot's mail processes run as).
    pub fn owner(&self) -> MailOwner {
        self.owner
    }

    /// A user's home directory.
    pub fn home(&self, user: &str) -> PathBuf {
        self.root.path().join("home").join(user)
    }

    /// A user's Maildir (`<home>/Maildir`, as the default `mail_location` says).
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.home(user).join("Maildir")
    }

    /// A Unix socket in `base_dir`, e.g. `auth-client`, `auth-userdb`, `auth-master`, `lmtp`.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.root.path().join("run").join(name)
    }

    /// Runs `doveadm -c <config> ARGS…` and returns its output.
    pub fn doveadm(&self, args: &[&str]) -> Output {
        let binary = find_tool("doveadm").expect("doveadm is not installed");
        Command::new(binary)
            .arg("-c")
            .arg(&self.config_path)
            .args(args)
            .output()
            .expect("running doveadm")
    }

    /// Hands everything under the user's home to the mail owner, after a test
    /// running as root wrote files there.
    pub fn fix_ownership(&self, user: &str) -> io::Result<()> {
        chown_tree(&self.home(user), self.owner)
    }

    /// Dovecot's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("log/dovecot.log")).unwrap_or_default()
    }

    /// Log lines that report a problem: errors, warnings, panics, fatals and
    /// anything mentioning corruption.
    pub fn log_problems(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| {
                ["Error:", "Warning:", "Panic:", "Fatal:", "orrupt"]
                    .iter()
                    .any(|p| l.contains(p))
                    && !l.contains("Corrected permissions for login directory")
            })
            .map(str::to_string)
            .collect()
    }
}

impl Drop for PrivateDovecot {
    fn drop(&mut self) {
        if self.running {
            if let Some(doveadm) = find_tool("doveadm") {
                let _ = Command::new(doveadm)
                    .arg("-c")
                    .arg(&self.config_path)
                    .arg("stop")
                    .output();
            }
        }
    }
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
