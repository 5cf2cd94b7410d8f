//! Starting the two servers side by side: `columba serve --demo` (its
//! release binary) and a private Dovecot 2.3 with its default process
//! settings, each with the same user and password (`{PLAIN}` in a
//! passwd-file on both sides) and the same mail.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use columba_interop::{DovecotConfig, PrivateDovecot};

use super::workload::Target;

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// `columba serve --demo`.
    Columba,
    /// Dovecot 2.3 (private instance).
    Dovecot,
}

impl ServerKind {
    /// The server's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Columba => "Columba",
            ServerKind::Dovecot => "Dovecot",
        }
    }
}

enum Running {
    Columba {
        child: Child,
        _dir: tempfile::TempDir,
    },
    Dovecot(Box<PrivateDovecot>),
}

/// A running server: where to connect, as whom, where its user's Maildir
/// is, and the root of its process tree.
pub struct RunningServer {
    /// Which server this is.
    pub kind: ServerKind,
    /// Address, user and password for clients.
    pub target: Target,
    /// The user's Maildir++ root.
    pub maildir: PathBuf,
    /// Where the server's log goes.
    pub log: PathBuf,
    running: Running,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("kind", &self.kind)
            .field("addr", &self.target.addr)
            .field("maildir", &self.maildir)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The pid at the root of the server's process tree (Columba's first
    /// process; Dovecot's master, from `master.pid`).
    pub fn root_pid(&self) -> io::Result<u32> {
        match &self.running {
            Running::Columba { child, .. } => Ok(child.id()),
            Running::Dovecot(d) => std::fs::read_to_string(d.root().join("run/master.pid"))?
                .trim()
                .parse()
                .map_err(|e| io::Error::other(format!("master.pid: {e}"))),
        }
    }

    /// Hands the user's Maildir to the owner the server's mail processes
    /// run as (after the bench wrote messages there as another user).
    pub fn fix_ownership(&self) -> io::Result<()> {
        match &self.running {
            Running::Columba { .. } => super::messages::match_owner(&self.maildir),
            Running::Dovecot(d) => d.fix_ownership(&self.target.user),
        }
    }

    /// Problems in the server's log (Dovecot: errors, warnings, fatals).
    pub fn log_problems(&self) -> Vec<String> {
        match &self.running {
            Running::Dovecot(d) => d.log_problems(),
            Running::Columba { .. } => std::fs::read_to_string(&self.log)
                .unwrap_or_default()
                .lines()
                .filter(|l| ["Error", "panicked", "Fatal"].iter().any(|p| l.contains(p)))
                .map(str::to_string)
                .collect(),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Running::Columba { child, .. } = &mut self.running {
            // The server runs in its own process group: end all of it,
            // however many processes it has become.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `columba` release binary: `COLUMBA_BIN` if set, else
/// `<target>/release/columba` where `<target>` is `CARGO_TARGET_DIR` or the
/// workspace's `target/`. With `build`, or when the binary is missing, it
/// is built first with `cargo build --release -p columba`.
pub fn columba_binary(build: bool) -> io::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("COLUMBA_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let bin = target.join("release/columba");
    if build || !bin.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "-p", "columba"])
            .current_dir(&workspace)
            .env("CARGO_TARGET_DIR", &target)
            .status()?;
        if !status.success() {
            return Err(io::Error::other(format!(
                "cargo build --release -p columba: {status}"
            )));
        }
    }
    Ok(bin)
}

/// The word after `label` in the banner (e.g. the password after
/// `password:`), or for the `IMAP` label the address after it.
fn banner_field<'a>(banner: &'a str, label: &str) -> Option<&'a str> {
    banner.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        while let Some(w) = words.next() {
            if w == label {
                return words.next();
            }
        }
        None
    })
}

/// Starts `columba serve --demo` in a new data directory, on free loopback
/// ports, in its own process group; reads the banner up to `ready`.
pub fn start_columba(binary: &Path) -> io::Result<RunningServer> {
    let dir = tempfile::Builder::new()
        .prefix("columba-bench-")
        .tempdir()?;
    let data = dir.path().join("data");
    let log = dir.path().join("columba.log");
    let mut child = Command::new(binary)
        .args(["serve", "--demo", "--data"])
        .arg(&data)
        .args(["--listen", "127.0.0.1"])
        .args(["--imap-port", "0", "--imaps-port", "0", "--pop3-port", "0"])
        .args(["--pop3s-port", "0", "--lmtp-port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?)
        .process_group(0)
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut banner = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.trim() == "ready" {
                let _ = tx.send(banner);
                return;
            }
            banner.push_str(&line);
            banner.push('\n');
        }
    });
    let banner = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(b) => b,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other(format!(
                "columba serve printed no banner: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )));
        }
    };
    let missing = |what: &str| io::Error::other(format!("banner has no {what}:\n{banner}"));
    let password = banner_field(&banner, "password:")
        .ok_or_else(|| missing("password"))?
        .to_string();
    let addr: SocketAddr = banner_field(&banner, "IMAP")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| missing("IMAP address"))?;
    let data_dir = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("data directory:"))
        .map(|d| PathBuf::from(d.trim()))
        .unwrap_or(data);
    let maildir = data_dir.join("home/demo/Maildir");
    if !maildir.is_dir() {
        return Err(io::Error::other(format!(
            "the demo user's Maildir is not at {}",
            maildir.display()
        )));
    }
    Ok(RunningServer {
        kind: ServerKind::Columba,
        target: Target {
            addr,
            user: "demo".into(),
            password,
        },
        maildir,
        log,
        running: Running::Columba { child, _dir: dir },
    })
}

/// Starts a private Dovecot with the same user and password, Dovecot's
/// default process settings (high-security login: one imap-login process
/// per connection, one imap process per session), and one change:
/// `mail_max_userip_connections` raised from 10 so that 50 clients and the
/// idle connections of one user from one address are let in, as Columba
/// lets them in.
pub fn start_dovecot(user: &str, password: &str) -> io::Result<RunningServer> {
    let config = DovecotConfig::default()
        .user(user, password)
        .extra("protocol imap {\n  mail_max_userip_connections = 100000\n}");
    let dovecot = PrivateDovecot::start(config)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], dovecot.imap_port));
    Ok(RunningServer {
        kind: ServerKind::Dovecot,
        target: Target {
            addr,
            user: user.into(),
            password: password.into(),
        },
        maildir: dovecot.maildir(user),
        log: dovecot.root().join("log/dovecot.log"),
        running: Running::Dovecot(Box::new(dovecot)),
    })
}

/// `dovecot --version`, e.g. `2.3.19.1 (9b53102964)`.
pub fn dovecot_version() -> String {
    columba_interop::find_tool("dovecot")
        .and_then(|d| Command::new(d).arg("--version").output().ok())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_fields_are_found_by_label() {
        let banner = "Columba demo server\n  user: demo   password: s3cret\n  \
                      IMAP  127.0.0.1:4143 (STARTTLS)   IMAPS 127.0.0.1:4993\n";
        assert_eq!(banner_field(banner, "password:"), Some("s3cret"));
        assert_eq!(banner_field(banner, "IMAP"), Some("127.0.0.1:4143"));
        assert_eq!(banner_field(banner, "IMAPS"), Some("127.0.0.1:4993"));
    }
}
