//! The post-login recipe, checked from outside the restricted process.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use columba_privsep::{PostLoginRecipe, PrivsepError};
use common::*;

#[test]
fn post_login_status_from_outside() {
    require_root!();
    let mut cmd = probe(&[
        "--post-login",
        "5001:5002",
        "--groups",
        "5003,5004",
        "--first-valid-uid",
        "1000",
        "--",
        "ready",
        "setuid0",
    ]);
    cmd.stdin(Stdio::piped());
    let waiting = Waiting::start(cmd);
    let status = waiting.status();
    assert_eq!(status["Uid"], "5001 5001 5001 5001");
    assert_eq!(status["Gid"], "5002 5002 5002 5002");
    assert_eq!(status["Groups"], "5002 5003 5004");
    assert_eq!(status["NoNewPrivs"], "1");
    assert_eq!(status["Seccomp"], "0");
    assert_eq!(status["CapEff"], "0000000000000000");
    assert_eq!(status["CapPrm"], "0000000000000000");
    assert_eq!(status["CapBnd"], "0000000000000000");
    assert_eq!(
        proc_limits(waiting.pid())["Max core file size"],
        ("0".into(), "0".into())
    );
    let (after, exit) = waiting.resume();
    assert!(exit.success(), "{exit:?}");
    // setresuid(0, 0, 0) is refused with EPERM.
    assert_eq!(after[1], "setuid0 err 1");
}

/// A copy of `id` made setuid root: exec'd by a process without
/// no_new_privs it runs with euid 0; with no_new_privs it does not.
#[test]
fn setuid_binary_gives_nothing_under_no_new_privs() {
    require_root!();
    let dir = empty_dir();
    let id = dir.path().join("id-setuid");
    std::fs::copy("/usr/bin/id", &id).unwrap();
    chown(&id, 0, 0);
    std::fs::set_permissions(&id, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let exec = format!("exec:{}", id.display());

    // Exec may fail with ETXTBSY (26) for a moment: a child forked
    // elsewhere in this multi-threaded test process can still hold the
    // copy open for writing until it execs. Retry then.
    let exec_line = |args: &[&str]| -> String {
        for _ in 0..50 {
            let (lines, exit) = run_probe(args);
            assert!(exit.success(), "{lines:?}");
            let line = line_with(&lines, "exec ").to_owned();
            if !line.ends_with("err 26") {
                return line;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("exec kept failing with ETXTBSY");
    };
    let control = exec_line(&[
        "--post-login",
        "5001:5001",
        "--no-nnp",
        "--first-valid-uid",
        "1000",
        "--",
        &exec,
    ]);
    assert!(control.contains("uid=5001"), "{control}");
    if !control.contains("euid=0(root)") {
        // Without no_new_privs the setuid bit must work; when it does not,
        // the temporary directory's file system ignores it (nosuid) and
        // there is nothing to compare with.
        skip(
            "setuid_binary_gives_nothing_under_no_new_privs",
            &format!("setuid bits are ignored under {}", dir.path().display()),
        );
        return;
    }

    let line = exec_line(&["--post-login", "5001:5001", "--", &exec]);
    assert!(line.contains("uid=5001"), "{line}");
    assert!(!line.contains("euid="), "setuid bit honoured: {line}");
}

#[test]
fn files_of_another_uid_stay_closed() {
    require_root!();
    let dir = empty_dir();
    let theirs = dir.path().join("theirs");
    let mine = dir.path().join("mine");
    for (path, uid) in [(&theirs, OTHER_UID), (&mine, TEST_UID)] {
        std::fs::write(path, "private mail").unwrap();
        chown(path, uid, uid);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let read_theirs = format!("read:{}", theirs.display());
    let read_mine = format!("read:{}", mine.display());
    let (lines, exit) = run_probe(&["--post-login", "5001:5001", "--", &read_theirs, &read_mine]);
    assert!(exit.success());
    assert_eq!(lines[1], format!("read {} err 13", theirs.display()));
    assert_eq!(lines[2], format!("read {} ok 12", mine.display()));
}

#[test]
fn chroot_to_the_mail_home() {
    require_root!();
    let root = empty_dir();
    let home = root.path().join("home/alice");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("Maildir-marker"), "x").unwrap();
    let (lines, exit) = run_probe(&[
        "--post-login",
        "5001:5001",
        "--chroot",
        root.path().to_str().unwrap(),
        "--home",
        "/home/alice",
        "--",
        "open:Maildir-marker",
        "open:/home/alice/Maildir-marker",
        "open:/etc/passwd",
    ]);
    assert!(exit.success(), "{lines:?}");
    assert!(line_with(&lines, "RECORD").contains("chdir=[/home/alice]"));
    assert_eq!(lines[1], "open Maildir-marker ok");
    assert_eq!(lines[2], "open /home/alice/Maildir-marker ok");
    assert_eq!(lines[3], "open /etc/passwd err 2");
}

#[test]
fn refuses_root_and_low_uids() {
    // Refused before anything changes: no root needed.
    let root = PostLoginRecipe::new(0, 100).validate();
    assert!(matches!(root, Err(PrivsepError::RefusedUid { uid: 0, .. })));
    let low = PostLoginRecipe::new(499, 100).validate();
    assert!(
        matches!(&low, Err(PrivsepError::RefusedUid { uid: 499, reason }) if reason.contains("first_valid_uid 500")),
        "{low:?}"
    );
    assert!(PostLoginRecipe::new(500, 100).validate().is_ok());
    assert!(PostLoginRecipe::new(1500, 100)
        .first_valid_uid(2000)
        .validate()
        .is_err());
    assert!(PostLoginRecipe::new(3000, 100)
        .last_valid_uid(2999)
        .validate()
        .is_err());
    assert!(matches!(
        PostLoginRecipe::new(1000, 0).validate(),
        Err(PrivsepError::RefusedGid { gid: 0, .. })
    ));
    assert!(PostLoginRecipe::new(1000, 100)
        .home("relative/home")
        .validate()
        .is_err());

    let (lines, exit) = run_probe(&["--post-login", "0:0"]);
    assert_eq!(exit.code(), Some(2));
    assert!(lines[0].starts_with("ERROR refusing to run as uid 0"));
    let (lines, exit) = run_probe(&["--post-login", "600:600", "--first-valid-uid", "1000"]);
    assert_eq!(exit.code(), Some(2));
    assert_eq!(
        lines[0],
        "ERROR refusing to run as uid 600: below first_valid_uid 1000"
    );
}

#[test]
fn without_root_steps_needing_root_are_reported_skipped() {
    // As root, the probe is started as uid 5001 (std's Command drops it
    // first); without root, it runs as whoever runs the tests.
    let root_user = columba_privsep::ids::is_root();
    let me = columba_privsep::ProcessPrivileges::of_pid(std::process::id()).unwrap();
    let (uid, gid) = if root_user {
        (TEST_UID, TEST_GID)
    } else {
        (me.uid[1], me.gid[1])
    };
    if uid == 0 {
        skip(
            "without_root_steps_needing_root_are_reported_skipped",
            "running as uid 0 without being root",
        );
        return;
    }
    let dir = empty_dir();
    let ids = format!("{uid}:{gid}");
    let command = |ids: &str, extra: &[&str]| {
        let mut args = vec!["--post-login", ids, "--first-valid-uid", "1"];
        args.extend_from_slice(extra);
        let mut cmd = probe(&args);
        if root_user {
            cmd.uid(uid).gid(gid);
        }
        cmd.stdin(Stdio::null());
        let out = cmd.output().unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            out.status,
        )
    };
    let (text, status) = command(&ids, &["--chroot", dir.path().to_str().unwrap()]);
    assert!(status.success(), "{text}");
    let record = text.lines().next().unwrap();
    let not_root = format!("not root (euid {uid})");
    for skipped in [
        format!("chroot=skipped({not_root})"),
        "cap-bounding-set=skipped(no CAP_SETPCAP".to_owned(),
        format!("setgroups=skipped({not_root})"),
        format!("setgid=skipped({not_root}; already {gid})"),
        format!("setuid=skipped({not_root}; already {uid})"),
    ] {
        assert!(record.contains(&skipped), "{skipped} missing from {record}");
    }
    // What needs no root is still applied.
    assert!(record.contains("no-new-privs=[1]"), "{record}");
    assert!(record.contains("verify=["), "{record}");

    // Becoming another uid without root is an error, not a skip.
    let other = format!("{}:{}", uid + 1, gid + 1);
    let (text, status) = command(&other, &[]);
    assert_eq!(status.code(), Some(2), "{text}");
    assert!(
        text.starts_with(&format!("ERROR setgid needs root: running as euid {uid}")),
        "{text}"
    );
}

/// uid and gid changes reach every thread, not only the calling one.
#[test]
fn id_changes_reach_every_thread() {
    require_root!();
    let mut cmd = probe(&["--none", "--", "drop-threads:5001:5002", "ready"]);
    cmd.stdin(Stdio::piped());
    let waiting = Waiting::start(cmd);
    assert_eq!(waiting.before, ["drop-threads ok"]);
    let tasks: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", waiting.pid()))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(tasks.len() >= 2, "{tasks:?}");
    for tid in &tasks {
        let text =
            std::fs::read_to_string(format!("/proc/{}/task/{tid}/status", waiting.pid())).unwrap();
        let status = columba_privsep::ProcessPrivileges::parse_status(0, &text).unwrap();
        assert_eq!(status.uid, [5001; 4], "thread {tid}");
        assert_eq!(status.gid, [5002; 4], "thread {tid}");
        assert_eq!(status.groups, [5002], "thread {tid}");
    }
    let (_, exit) = waiting.resume();
    assert!(exit.success());
}

/// The home is entered as the user: a home the user may not enter fails
/// the recipe (root could have entered it).
#[test]
fn home_is_entered_as_the_user() {
    require_root!();
    let dir = empty_dir();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (lines, exit) = run_probe(&[
        "--post-login",
        "5001:5001",
        "--home",
        home.to_str().unwrap(),
    ]);
    assert_eq!(exit.code(), Some(2), "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "ERROR chdir {}: Permission denied",
            home.display()
        )),
        "{lines:?}"
    );
    chown(&home, 5001, 5001);
    let (lines, exit) = run_probe(&[
        "--post-login",
        "5001:5001",
        "--home",
        home.to_str().unwrap(),
    ]);
    assert!(exit.success(), "{lines:?}");
    assert!(lines[0].contains(&format!("chdir=[{}]", home.display())));
}

/// init_groups sets the groups the group database gives the user, as
/// `id -G USER` (initgroups) lists them.
#[test]
fn init_groups_matches_id() {
    require_root!();
    // A user with a supplementary group when the system has one.
    let group_file = std::fs::read_to_string("/etc/group").unwrap();
    let member = group_file
        .lines()
        .filter_map(|l| l.split(':').nth(3))
        .flat_map(|members| members.split(','))
        .find(|m| !m.is_empty() && columba_privsep::ids::lookup_user(m).is_ok())
        .unwrap_or("nobody")
        .to_owned();
    let user = columba_privsep::ids::lookup_user(&member).unwrap();
    if user.uid == 0 || user.gid == 0 {
        skip("init_groups_matches_id", "the only candidate user is root");
        return;
    }
    let id = std::process::Command::new("id")
        .args(["-G", &member])
        .output()
        .unwrap();
    let mut expected: Vec<u32> = String::from_utf8_lossy(&id.stdout)
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect();
    expected.sort_unstable();
    expected.dedup();

    let ids = format!("{}:{}", user.uid, user.gid);
    let mut cmd = probe(&[
        "--post-login",
        &ids,
        "--first-valid-uid",
        "1",
        "--init-groups",
        &member,
        "--",
        "ready",
    ]);
    cmd.stdin(Stdio::piped());
    let waiting = Waiting::start(cmd);
    let status = waiting.status();
    let expected: Vec<String> = expected.iter().map(u32::to_string).collect();
    assert_eq!(status["Groups"], expected.join(" "), "{member}");
    let (_, exit) = waiting.resume();
    assert!(exit.success());
}
