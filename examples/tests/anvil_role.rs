//! The anvil role as a process, and the same protocol text sent to
//! Dovecot 2.3's own anvil: the replies agree.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};

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
    wait_until(|| UnixStream::connect(socket).is_ok());
    process
}

fn wait_until(mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The real uid of process `pid`.
fn uid_of(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// As root with a `dovecot` user: that user's uid, which the role must
/// have switched to (Dovecot's default_internal_user).
fn internal_uid() -> Option<u32> {
    if uid_of(std::process::id()) != 0 {
        println!("SKIPPED: the privilege drop is checked only as root");
        return None;
    }
    std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("dovecot:")?.split(':').nth(1)?.parse().ok())
}

/// One anvil connection speaking the protocol text.
struct Anvil {
    w: UnixStream,
    r: BufReader<UnixStream>,
}

impl Anvil {
    fn connect(path: &Path) -> Anvil {
        let s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut a = Anvil {
            w: s.try_clone().unwrap(),
            r: BufReader::new(s),
        };
        a.send("VERSION\tanvil\t1\t0");
        a
    }

    fn send(&mut self, line: &str) {
        self.w.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    fn ask(&mut self, line: &str) -> String {
        self.send(line);
        let mut reply = String::new();
        self.r.read_line(&mut reply).unwrap();
        reply
    }

    /// A dump: lines up to the empty one, sorted.
    fn dump(&mut self, line: &str) -> Vec<String> {
        self.send(line);
        let mut out = Vec::new();
        loop {
            let mut l = String::new();
            self.r.read_line(&mut l).unwrap();
            if l == "\n" || l.is_empty() {
                break;
            }
            out.push(l);
        }
        out.sort();
        out
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The script both servers get; returns what a client sees.
fn script(path: &Path) -> Vec<String> {
    let ident = "imap/127.0.0.1/alice";
    let mut a = Anvil::connect(path);
    let mut seen = Vec::new();
    a.send(&format!("CONNECT\t4242\t{ident}"));
    a.send(&format!("CONNECT\t4242\t{ident}"));
    a.send(&format!("CONNECT\t4243\t{ident}"));
    a.send("CONNECT\t4243\tpop3/127.0.0.1/bob");
    seen.push(a.ask(&format!("LOOKUP\t{ident}")));
    a.send(&format!("DISCONNECT\t4242\t{ident}"));
    seen.push(a.ask(&format!("LOOKUP\t{ident}")));
    seen.push(a.ask("LOOKUP\tpop3/127.0.0.1/nobody"));
    seen.extend(a.dump("CONNECT-DUMP"));
    seen.push(a.ask("PENALTY-GET\t192.0.2.1"));
    a.send("PENALTY-INC\t192.0.2.1\t777\t3");
    let reply = a.ask("PENALTY-GET\t192.0.2.1");
    let (value, stamp) = reply.trim_end().split_once(' ').unwrap();
    assert!(
        (now() - stamp.parse::<i64>().unwrap()).abs() < 10,
        "{reply}"
    );
    seen.push(format!("penalty {value}"));
    // the same checksum again: not raised
    a.send("PENALTY-INC\t192.0.2.1\t777\t4");
    let reply = a.ask("PENALTY-GET\t192.0.2.1");
    seen.push(format!("penalty {}", reply.split(' ').next().unwrap()));
    for (ident, penalty, _, _) in a.dump("PENALTY-DUMP").iter().filter_map(|l| {
        let f: Vec<&str> = l.trim_end().split('\t').collect();
        (f.len() == 4).then(|| {
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                f[3].to_string(),
            )
        })
    }) {
        seen.push(format!("dump {ident} {penalty}"));
    }
    // clean up so the next run of the script starts from nothing
    a.send(&format!("DISCONNECT\t4242\t{ident}"));
    a.send(&format!("DISCONNECT\t4243\t{ident}"));
    a.send("DISCONNECT\t4243\tpop3/127.0.0.1/bob");
    a.send("PENALTY-INC\t192.0.2.1\t0\t0");
    seen.push(a.ask(&format!("LOOKUP\t{ident}")));
    seen
}

#[test]
fn our_anvil_answers_as_dovecots_anvil() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("columba.toml");
    std::fs::write(&config, "base_dir = \"run\"\n").unwrap();
    let socket = dir.path().join("run/anvil");
    let anvil = start_role("anvil", &config, &socket);
    if let Some(uid) = internal_uid() {
        let pid = anvil.child.id();
        wait_until(|| uid_of(pid) == uid);
    }
    let ours = script(&socket);
    assert_eq!(
        ours,
        [
            "3\n",
            "2\n",
            "0\n",
            "imap/127.0.0.1/alice\t4242\t1\n",
            "imap/127.0.0.1/alice\t4243\t1\n",
            "pop3/127.0.0.1/bob\t4243\t1\n",
            "0 0\n",
            "penalty 3",
            "penalty 3",
            "dump 192.0.2.1 3",
            "0\n",
        ]
    );
    // Errors end the connection, as in Dovecot.
    let mut bad = Anvil::connect(&socket);
    bad.send("CONNECT\tnot-a-pid\tx");
    let mut l = String::new();
    assert_eq!(bad.r.read_line(&mut l).unwrap(), 0, "{l}");

    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default()).unwrap();
    let theirs = script(&dovecot.socket("anvil"));
    assert_eq!(ours, theirs);
}

/// Where Columba differs on purpose: the sessions a connection registered
/// end when it closes (Dovecot's master sends KILL when a process dies;
/// here the process's own connection closing does it).
#[test]
fn sessions_end_with_their_connection() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("columba.toml");
    std::fs::write(&config, "base_dir = \"run\"\n").unwrap();
    let socket = dir.path().join("run/anvil");
    let _anvil = start_role("anvil", &config, &socket);
    let mut session = Anvil::connect(&socket);
    session.send("CONNECT\t777\timap/192.0.2.5/carol");
    let mut watcher = Anvil::connect(&socket);
    wait_until(|| watcher.ask("LOOKUP\timap/192.0.2.5/carol") == "1\n");
    drop(session);
    wait_until(|| watcher.ask("LOOKUP\timap/192.0.2.5/carol") == "0\n");
}
