//! Starting the two servers side by side: `columba serve --demo` (its
//! release binary) and a private Dovecot 2.3 with its default settings,
//! each with the same users and password (`{PLAIN}` in a passwd-file on
//! both sides) and the same mail.

use std::io::Write as _;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
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
        data: PathBuf,
        _dir: tempfile::TempDir,
    },
    Dovecot(Box<PrivateDovecot>),
}

/// A running server: where to connect, as whom, where its users' Maildirs
/// are, and the root of its process tree.
pub struct RunningServer {
    /// Which server this is.
    pub kind: ServerKind,
    /// Address, users and password for clients.
    pub target: Target,
    /// Where the server's log goes.
    pub log: PathBuf,
    running: Running,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("kind", &self.kind)
            .field("addr", &self.target.addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The pid at the root of the server's process tree (Columba's first
    /// process; Dovecot's master, from `master.pid`).
    pub fn root_pid(&self) -> io::Result<u32> {
        match &self.running {
            Running::Columba { child, .. } => Ok(child.id()),
            Running::Dovecot(d) => {
                // the master writes it a moment after it starts listening
                let file = d.root().join("run/master.pid");
                let mut tries = 0;
                loop {
                    match std::fs::read_to_string(&file) {
                        Ok(text) => {
                            return text
                                .trim()
                                .parse()
                                .map_err(|e| io::Error::other(format!("master.pid: {e}")))
                        }
                        Err(_) if tries < 50 => {
                            tries += 1;
                            std::thread::sleep(Duration::from_millis(100));
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// A user's Maildir++ root.
    pub fn maildir(&self, user: &str) -> PathBuf {
        match &self.running {
            Running::Columba { data, .. } => data.join("home").join(user).join("Maildir"),
            Running::Dovecot(d) => d.maildir(user),
        }
    }

    /// Hands a user's home to the owner the server's mail processes run as
    /// (after the bench wrote messages there as another user): Dovecot's
    /// mail owner, or for Columba the owner of the demo user's home.
    pub fn fix_ownership(&self, user: &str) -> io::Result<()> {
        match &self.running {
            Running::Columba { data, .. } => {
                let demo = std::fs::metadata(data.join("home/demo"))?;
                let home = data.join("home").join(user);
                std::os::unix::fs::lchown(&home, Some(demo.uid()), Some(demo.gid()))?;
                super::messages::match_owner(&home)
            }
            Running::Dovecot(d) => d.fix_ownership(user),
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
            // let every process of the group end before the data
            // directory is removed
            for _ in 0..40 {
                let alive = Command::new("kill")
                    .args(["-0", "--", &format!("-{}", child.id())])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if !alive {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
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
/// ports, in its own process group; reads the banner up to `ready`. Then
/// adds `users` to the demo's passwd-file (`<data>/users`, which the
/// server re-reads when it changes), with the demo user's password, uid
/// and gid, and homes `<data>/home/<user>`, as the demo user has.
pub fn start_columba(binary: &Path, users: &[String]) -> io::Result<RunningServer> {
    let dir = tempfile::Builder::new()
        .prefix("columba-bench-")
        .tempdir()?;
    // the server's post-login processes may run as the demo user
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
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
    let server = RunningServer {
        kind: ServerKind::Columba,
        target: Target {
            addr,
            users: users.to_vec(),
            password,
        },
        log,
        running: Running::Columba {
            child,
            data: data_dir.clone(),
            _dir: dir,
        },
    };
    add_columba_users(&data_dir, users, &server.target.password)?;
    Ok(server)
}

/// Appends `users` to the demo's passwd-file, each like the demo user.
fn add_columba_users(data: &Path, users: &[String], password: &str) -> io::Result<()> {
    let passwd = data.join("users");
    let text = std::fs::read_to_string(&passwd)?;
    let demo = text
        .lines()
        .find(|l| l.starts_with("demo:"))
        .ok_or_else(|| io::Error::other(format!("no demo user in {}", passwd.display())))?;
    let fields: Vec<&str> = demo.split(':').collect();
    let (uid, gid) = (
        fields.get(2).copied().unwrap_or(""),
        fields.get(3).copied().unwrap_or(""),
    );
    let mut file = std::fs::OpenOptions::new().append(true).open(&passwd)?;
    for user in users {
        let home = data.join("home").join(user);
        std::fs::create_dir_all(&home)?;
        writeln!(
            file,
            "{user}:{{PLAIN}}{password}:{uid}:{gid}::{}::",
            home.display()
        )?;
    }
    file.sync_all()
}

/// Starts a private Dovecot with the same users and password and
/// Dovecot's default settings: high-security login (one imap-login
/// process per connection), one imap process per session,
/// `mail_max_userip_connections = 10`.
pub fn start_dovecot(users: &[String], password: &str) -> io::Result<RunningServer> {
    let mut config = DovecotConfig::default();
    for user in users {
        config = config.user(user, password);
    }
    let dovecot = PrivateDovecot::start(config)?;
    let addr = SocketAddr::from(([127, 0, 0, 1], dovecot.imap_port));
    Ok(RunningServer {
        kind: ServerKind::Dovecot,
        target: Target {
            addr,
            users: users.to_vec(),
            password: password.into(),
        },
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
