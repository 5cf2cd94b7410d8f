//! The login recipe, checked from outside the restricted process.

mod common;

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use columba_privsep::{FdChannel, PeerPolicy};
use common::*;

const SIGSYS: i32 = 31;

fn login_args<'a>(chroot: &'a str, seccomp: &'a str) -> Vec<&'a str> {
    vec![
        "--login-ids",
        "5001:5001",
        "--chroot",
        chroot,
        "--seccomp",
        seccomp,
        "--keep-fds",
        "0,1",
        "--keep-env",
        "TZ",
    ]
}

#[test]
fn login_process_status_from_outside() {
    require_root!();
    let root = empty_dir();
    let mut args = login_args(root.path().to_str().unwrap(), "errno");
    args.extend(["--", "ready", "env", "setuid0", "open:/etc/passwd"]);
    let mut cmd = probe(&args);
    cmd.stdin(Stdio::piped())
        .env("TZ", "UTC")
        .env("COLUMBA_TEST_SECRET", "hunter2");
    let waiting = Waiting::start(cmd);
    let record = line_with(&waiting.before, "RECORD ");
    for step in [
        "chroot=[",
        "cap-bounding-set=[dropped",
        "setuid=[5001]",
        "no-new-privs=[1]",
        "seccomp=[",
    ] {
        assert!(record.contains(step), "{step} missing from {record}");
    }

    let pid = waiting.pid();
    let status = waiting.status();
    assert_eq!(status["Uid"], "5001 5001 5001 5001");
    assert_eq!(status["Gid"], "5001 5001 5001 5001");
    assert_eq!(status["Groups"], "5001");
    assert_eq!(status["NoNewPrivs"], "1");
    assert_eq!(status["Seccomp"], "2");
    assert_eq!(status["CapEff"], "0000000000000000");
    assert_eq!(status["CapPrm"], "0000000000000000");
    assert_eq!(status["CapInh"], "0000000000000000");
    assert_eq!(status["CapAmb"], "0000000000000000");
    assert_eq!(status["CapBnd"], "0000000000000000");

    let limits = proc_limits(pid);
    assert_eq!(limits["Max processes"], ("0".into(), "0".into()));
    assert_eq!(limits["Max core file size"], ("0".into(), "0".into()));
    assert_eq!(limits["Max open files"], ("1024".into(), "1024".into()));
    assert_eq!(
        limits["Max address space"],
        ("268435456".into(), "268435456".into())
    );
    // Only the descriptors named survive: stderr was inherited and is
    // closed; anything else open is the probe's own copy of stdin, made
    // after the recipe to wait on it.
    let fds = proc_fds(pid);
    assert!(fds.starts_with(&[0, 1]) && !fds.contains(&2), "{fds:?}");
    let stdin = std::fs::read_link(format!("/proc/{pid}/fd/0")).unwrap();
    for fd in &fds[2..] {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
        assert_eq!(target, stdin, "fd {fd} is not the probe's copy of stdin");
    }
    // Not dumpable: /proc/<pid> belongs to root, not to the process's uid.
    let meta = std::fs::metadata(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(meta.uid(), 0);
    // The root directory is the chroot.
    let proc_root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap();
    assert_eq!(proc_root, root.path().canonicalize().unwrap());

    let (after, exit) = waiting.resume();
    assert!(exit.success(), "{exit:?} {after:?}");
    let env = line_with(&after, "env ok");
    assert_eq!(env, "env ok TZ", "only the named variable is left");
    // Under the errno filter, setresuid and open fail with EPERM.
    assert_eq!(line_with(&after, "setuid0"), "setuid0 err 1");
    assert_eq!(line_with(&after, "open "), "open /etc/passwd err 1");
}

#[test]
fn seccomp_kill_lets_the_child_work_then_kills_it_on_open() {
    require_root!();
    let root = empty_dir();
    let mut args = login_args(root.path().to_str().unwrap(), "kill");
    args.extend(["--", "ready", "alloc:32", "open:/etc/passwd"]);
    let mut cmd = probe(&args);
    cmd.stdin(Stdio::piped());
    let waiting = Waiting::start(cmd);
    assert_eq!(waiting.status()["Seccomp"], "2");
    let (after, exit) = waiting.resume();
    // Reading stdin, allocating and writing output work under the filter...
    assert_eq!(after[0], "ready ok");
    assert!(after[1].starts_with("alloc ok"), "{after:?}");
    // ...and the first open kills the process with SIGSYS before it can report.
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(exit.signal(), Some(SIGSYS), "{exit:?}");
}

#[test]
fn chroot_hides_everything_outside() {
    require_root!();
    let root = empty_dir();
    std::fs::write(root.path().join("inside.txt"), "in").unwrap();
    let mut args = login_args(root.path().to_str().unwrap(), "none");
    args.extend([
        "--",
        "open:/etc/passwd",
        "open:../../../../etc/passwd",
        "open:/inside.txt",
    ]);
    let (lines, exit) = run_probe(&args);
    assert!(exit.success(), "{exit:?} {lines:?}");
    assert!(line_with(&lines, "RECORD").contains("seccomp=skipped(not configured)"));
    assert_eq!(lines[1], "open /etc/passwd err 2");
    assert_eq!(lines[2], "open ../../../../etc/passwd err 2");
    assert_eq!(lines[3], "open /inside.txt ok");
}

#[test]
fn login_user_is_looked_up_by_name() {
    require_root!();
    let Ok(user) = columba_privsep::ids::lookup_user("dovenull") else {
        skip(
            "login_user_is_looked_up_by_name",
            "no dovenull user (install dovecot-core)",
        );
        return;
    };
    let (lines, exit) = run_probe(&["--login-user", "dovenull", "--seccomp", "kill"]);
    assert!(exit.success(), "{exit:?} {lines:?}");
    let record = line_with(&lines, "RECORD");
    assert!(
        record.contains(&format!(
            "resolve=[dovenull (home {:?}, shell {:?}) uid {} gid {}]",
            user.home, user.shell, user.uid, user.gid
        )),
        "{record}"
    );
    assert!(record.contains(&format!("setuid=[{}]", user.uid)));
}

#[test]
fn login_recipe_refuses_root() {
    // Refused before anything changes, so this runs without root too.
    let (lines, exit) = run_probe(&["--login-ids", "0:5001"]);
    assert_eq!(exit.code(), Some(2));
    assert!(
        lines[0].starts_with("ERROR refusing to run as uid 0"),
        "{lines:?}"
    );
    let (lines, exit) = run_probe(&["--login-ids", "5001:0"]);
    assert_eq!(exit.code(), Some(2));
    assert!(
        lines[0].starts_with("ERROR refusing to run as gid 0"),
        "{lines:?}"
    );
}

#[test]
fn login_recipe_refuses_a_writable_chroot() {
    require_root!();
    let root = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let (lines, exit) = run_probe(&login_args(root.path().to_str().unwrap(), "kill"));
    assert_eq!(exit.code(), Some(2));
    assert!(
        lines[0].contains("writable by group or others"),
        "{lines:?}"
    );
}

/// The filtered login process still passes descriptors both ways over a
/// socket it inherited: recvmsg and sendmsg with SCM_RIGHTS are allowed.
#[test]
fn descriptor_passing_under_the_login_filter() {
    require_root!();
    let root = empty_dir();
    let (ours, theirs) = UnixStream::pair().unwrap();
    let mut args = login_args(root.path().to_str().unwrap(), "kill");
    args.extend(["--", "ready", "recv-fd", "send-fd:1:from-login"]);
    let mut cmd = probe(&args);
    cmd.stdin(Stdio::from(OwnedFd::from(theirs)));
    let waiting = Waiting::start(cmd);
    assert_eq!(waiting.status()["Seccomp"], "2");
    let mut ours_writer = ours.try_clone().unwrap();
    ours_writer.write_all(b"\n").unwrap();

    let mut secret = tempfile::tempfile().unwrap();
    secret.write_all(b"client-connection").unwrap();
    use std::io::Seek;
    secret.rewind().unwrap();
    let mut channel = FdChannel::new(ours, PeerPolicy::uid(0));
    channel.send(b"user=alice", &[secret.as_fd()]).unwrap();

    // The child sends its stdout back: a descriptor the test can write to
    // (our own pipe reader sees the bytes).
    let frame = channel
        .recv()
        .unwrap()
        .expect("a frame from the login process");
    assert_eq!(frame.payload, b"from-login");
    assert_eq!(frame.fds.len(), 1);
    let mut child_stdout = std::fs::File::from(frame.fds.into_iter().next().unwrap());
    child_stdout
        .write_all(b"written through the passed fd\n")
        .unwrap();
    drop(child_stdout);

    let (after, exit) = waiting.finish();
    assert!(exit.success(), "{exit:?} {after:?}");
    assert_eq!(after[0], "ready ok");
    assert_eq!(
        after[1],
        format!(
            "recv-fd ok peer-pid={} payload=user=alice content=client-connection",
            std::process::id()
        )
    );
    assert!(
        after.contains(&"written through the passed fd".to_owned()),
        "{after:?}"
    );
    assert!(after.contains(&"send-fd ok".to_owned()), "{after:?}");
}

#[test]
fn dumpable_when_asked() {
    require_root!();
    let mut cmd = probe(&[
        "--login-ids",
        "5001:5001",
        "--seccomp",
        "kill",
        "--dumpable",
        "--",
        "ready",
    ]);
    cmd.stdin(Stdio::piped());
    let waiting = Waiting::start(cmd);
    assert!(line_with(&waiting.before, "RECORD").contains("dumpable=[1]"));
    // A dumpable process's /proc files belong to its own uid.
    let meta = std::fs::metadata(format!("/proc/{}/status", waiting.pid())).unwrap();
    assert_eq!(meta.uid(), 5001);
    let (_, exit) = waiting.resume();
    assert!(exit.success());
}

/// Capabilities and no_new_privs are per thread: a recipe refuses to run
/// in a process with several threads, before changing anything.
#[test]
fn recipes_refuse_a_multithreaded_process() {
    let (stop, parked) = std::sync::mpsc::channel::<()>();
    let helper = std::thread::spawn(move || parked.recv());
    let login = columba_privsep::LoginProcessRecipe::for_ids(5001, 5001).apply();
    let post = columba_privsep::PostLoginRecipe::new(5001, 5001).apply();
    drop(stop);
    let _ = helper.join();
    for result in [login, post] {
        match result {
            Err(columba_privsep::PrivsepError::MultiThreaded { threads }) => assert!(threads >= 2),
            other => panic!("{other:?}"),
        }
    }
    // Nothing changed.
    assert_eq!(
        columba_privsep::ProcessPrivileges::of_pid(std::process::id())
            .unwrap()
            .seccomp,
        0
    );
}

/// A custom filter: the login list plus openat.
#[test]
fn a_custom_filter_replaces_the_login_filter() {
    require_root!();
    let root = empty_dir();
    std::fs::write(root.path().join("inside.txt"), "in").unwrap();
    let mut args = login_args(root.path().to_str().unwrap(), "errno-with-openat");
    args.extend(["--", "open:/inside.txt", "setuid0"]);
    let (lines, exit) = run_probe(&args);
    assert!(exit.success(), "{lines:?}");
    let expected = format!(
        "seccomp=[{} syscalls allowed, otherwise errno 1]",
        columba_privsep::seccomp::login_allow_list().len() + 1
    );
    assert!(line_with(&lines, "RECORD").contains(&expected));
    assert_eq!(lines[1], "open /inside.txt ok");
    assert_eq!(lines[2], "setuid0 err 1");
}
