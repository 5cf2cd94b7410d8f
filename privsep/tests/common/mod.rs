//! Shared helpers: spawn `privsep-probe`, read `/proc/<pid>/status` from
//! outside, skip visibly without root.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

/// Returns from the test with a visible notice unless running as root.
/// The notice goes straight to the process's stderr, past the test
/// harness's output capture, so it shows in a plain `cargo test` run.
#[macro_export]
macro_rules! require_root {
    () => {
        if !columba_privsep::ids::is_root() {
            fn here() {}
            let test = std::any::type_name_of_val(&here).trim_end_matches("::here");
            $crate::common::skip(test, "needs root (privilege drop, chroot, setuid binaries)");
            return;
        }
    };
}

/// Prints a visible `SKIPPED` line, past the harness's capture.
pub fn skip(test: &str, why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// The test uid/gid numbers (no passwd entry needed).
pub const TEST_UID: u32 = 5001;
pub const TEST_GID: u32 = 5001;
pub const OTHER_UID: u32 = 5002;

pub fn probe_path() -> &'static str {
    env!("CARGO_BIN_EXE_privsep-probe")
}

pub fn probe(args: &[&str]) -> Command {
    let mut cmd = Command::new(probe_path());
    cmd.args(args);
    cmd.stdout(Stdio::piped());
    cmd.stderr(Stdio::inherit());
    cmd
}

/// Runs a probe to the end; returns its stdout lines and exit status.
pub fn run_probe(args: &[&str]) -> (Vec<String>, ExitStatus) {
    let out = probe(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn privsep-probe");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (text.lines().map(str::to_owned).collect(), out.status)
}

/// A probe stopped at its `ready` action, for inspection from outside.
pub struct Waiting {
    pub child: Child,
    pub stdout: BufReader<ChildStdout>,
    /// Lines printed before `READY` (the record).
    pub before: Vec<String>,
}

impl Waiting {
    /// Spawns `cmd` (with stdin and stdout piped unless set) and reads up to `READY`.
    pub fn start(mut cmd: Command) -> Waiting {
        let mut child = cmd.spawn().expect("spawn privsep-probe");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout piped"));
        let mut before = Vec::new();
        loop {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).expect("read probe output");
            if n == 0 {
                let status = child.wait().expect("wait");
                panic!("probe ended before READY ({status}): {before:?}");
            }
            let line = line.trim_end().to_owned();
            if line == "READY" {
                break;
            }
            before.push(line);
        }
        Waiting {
            child,
            stdout,
            before,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn status(&self) -> HashMap<String, String> {
        proc_status(self.pid())
    }

    /// Lets the probe go on (a line on its stdin pipe) and collects the rest.
    pub fn resume(mut self) -> (Vec<String>, ExitStatus) {
        if let Some(mut stdin) = self.child.stdin.take() {
            stdin.write_all(b"\n").expect("resume probe");
        }
        self.finish()
    }

    /// Collects the rest of the output and the exit status.
    pub fn finish(mut self) -> (Vec<String>, ExitStatus) {
        let mut after = Vec::new();
        for line in (&mut self.stdout).lines() {
            after.push(line.expect("probe output"));
        }
        let status = self.child.wait().expect("wait");
        (after, status)
    }
}

/// `/proc/<pid>/status` as field → value (tabs collapsed to spaces).
pub fn proc_status(pid: u32) -> HashMap<String, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| {
            (
                k.to_owned(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .collect()
}

/// `/proc/<pid>/limits`: resource name → (soft, hard).
pub fn proc_limits(pid: u32) -> HashMap<String, (String, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("read limits");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let name = l.get(..26)?.trim().to_owned();
            let mut rest = l.get(26..)?.split_whitespace();
            Some((name, (rest.next()?.to_owned(), rest.next()?.to_owned())))
        })
        .collect()
}

/// Open descriptors of `pid`, from outside.
pub fn proc_fds(pid: u32) -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read fd dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    fds
}

/// A directory anyone can enter but only root can write, like a login chroot.
pub fn empty_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

pub fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
}

pub fn line_with<'a>(lines: &'a [String], prefix: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in {lines:?}"))
}
