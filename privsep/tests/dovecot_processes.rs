//! The recipes next to real Dovecot 2.3 processes: the login recipe against
//! `imap-login` (same user, groups and kind of chroot, stricter where Dovecot
//! is not: seccomp, no_new_privs, bounding set), the post-login recipe
//! against `imap` after a LOGIN (same ids and groups, same refusal of a uid
//! below `first_valid_uid`).

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use common::*;

/// The `imap-login` process whose root directory is `chroot`.
fn find_login_process(chroot: &Path) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() != "imap-login" {
                continue;
            }
            let root = std::fs::read_link(format!("/proc/{pid}/root")).unwrap_or_default();
            if root == chroot {
                return Some(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn login_recipe_matches_dovecot_imap_login_and_is_stricter() {
    require_root!();
    require_tool!("dovecot");
    let Ok(dovenull) = columba_privsep::ids::lookup_user("dovenull") else {
        skip(
            "login_recipe_matches_dovecot_imap_login",
            "no dovenull user (install dovecot-core)",
        );
        return;
    };
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw"))
        .expect("private dovecot");
    // A client connection keeps an imap-login process alive.
    let client = TcpStream::connect(("127.0.0.1", dovecot.imap_port)).unwrap();
    let mut greeting = String::new();
    BufReader::new(client.try_clone().unwrap())
        .read_line(&mut greeting)
        .unwrap();
    assert!(greeting.starts_with("* OK"), "{greeting}");
    let chroot: PathBuf = dovecot.root().join("run/login").canonicalize().unwrap();
    let pid =
        find_login_process(&chroot).expect("Dovecot's imap-login, chrooted to base_dir/login");
    let theirs = proc_status(pid);

    // Our login process, as the same user, chrooted to the same kind of
    // directory (Dovecot's is root-owned, mode 0755).
    let ours_root = empty_dir();
    let mut cmd = probe(&[
        "--login-user",
        "dovenull",
        "--chroot",
        ours_root.path().to_str().unwrap(),
        "--seccomp",
        "kill",
        "--",
        "ready",
    ]);
    cmd.stdin(Stdio::piped());
    let waiting = Waiting::start(cmd);
    let ours = waiting.status();

    for field in ["Uid", "Gid", "Groups"] {
        assert_eq!(ours[field], theirs[field], "{field}: ours vs Dovecot's");
    }
    assert_eq!(
        theirs["Uid"],
        format!("{0} {0} {0} {0}", dovenull.uid),
        "Dovecot's login process runs as dovenull"
    );
    // Neither keeps a capability.
    assert_eq!(theirs["CapEff"], "0000000000000000");
    assert_eq!(ours["CapEff"], "0000000000000000");
    // Where Columba is stricter than Dovecot 2.3.
    assert_eq!(theirs["Seccomp"], "0", "Dovecot 2.3 has no seccomp filter");
    assert_eq!(ours["Seccomp"], "2");
    assert_eq!(ours["NoNewPrivs"], "1");
    assert_eq!(ours["CapBnd"], "0000000000000000");
    println!(
        "dovecot imap-login: NoNewPrivs {} Seccomp {} CapBnd {}; columba login: NoNewPrivs {} Seccomp {} CapBnd {}",
        theirs["NoNewPrivs"], theirs["Seccomp"], theirs["CapBnd"],
        ours["NoNewPrivs"], ours["Seccomp"], ours["CapBnd"]
    );
    let (_, exit) = waiting.resume();
    assert!(exit.success());
    drop(client);
}

/// The gid of group `name`, from /etc/group.
fn group_gid(name: &str) -> Option<u32> {
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

/// Logs in over IMAP; returns the tagged answer and keeps the connection.
fn imap_login(port: u16, user: &str, password: &str) -> (TcpStream, String) {
    use std::io::Write;
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("* OK"), "{line}");
    write!(client, "a LOGIN {user} {password}\r\n").unwrap();
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap() == 0 {
            return (client, "connection closed".into());
        }
        if line.starts_with("a ") {
            return (client, line.trim_end().to_owned());
        }
    }
}

/// Dovecot's post-login `imap` process whose working directory is `home`.
fn find_imap_process(home: &Path) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if comm.trim() != "imap" {
                continue;
            }
            if std::fs::read_link(format!("/proc/{pid}/cwd"))
                .ok()
                .as_deref()
                == Some(home)
            {
                return Some(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn post_login_recipe_matches_dovecot_imap_and_refuses_the_same_uids() {
    require_root!();
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw"))
        .expect("private dovecot");
    let owner = dovecot.owner();
    let (client, answer) = imap_login(dovecot.imap_port, "alice", "alicepw");
    assert!(answer.starts_with("a OK"), "{answer}");
    let home = dovecot.home("alice").canonicalize().unwrap();
    let pid = find_imap_process(&home).expect("Dovecot's imap process for alice");
    let theirs = proc_status(pid);

    // Dovecot 2.3 gives its post-login services the internal group as an
    // extra group (`service imap { extra_groups = $default_internal_group }`,
    // for the stats socket); the recipe's extra_groups does the same.
    let internal_gid = group_gid("dovecot").expect("the dovecot group");
    let mut expected_groups = [owner.gid, internal_gid];
    expected_groups.sort_unstable();
    let expected_groups: Vec<String> = expected_groups.iter().map(u32::to_string).collect();
    assert_eq!(theirs["Groups"], expected_groups.join(" "));

    let ids = format!("{}:{}", owner.uid, owner.gid);
    let extra = internal_gid.to_string();
    let mut cmd = probe(&[
        "--post-login",
        &ids,
        "--groups",
        &extra,
        "--home",
        home.to_str().unwrap(),
        "--",
        "ready",
    ]);
    cmd.stdin(Stdio::piped());
    let waiting = Waiting::start(cmd);
    let ours = waiting.status();
    for field in ["Uid", "Gid", "Groups"] {
        assert_eq!(ours[field], theirs[field], "{field}: ours vs Dovecot's");
    }
    assert_eq!(theirs["CapEff"], "0000000000000000");
    assert_eq!(ours["CapEff"], "0000000000000000");
    assert_eq!(ours["NoNewPrivs"], "1");
    assert_eq!(
        std::fs::read_link(format!("/proc/{}/cwd", waiting.pid())).unwrap(),
        home,
        "both work in the user's home"
    );
    println!(
        "dovecot imap: NoNewPrivs {} CapBnd {}; columba post-login: NoNewPrivs {} CapBnd {}",
        theirs["NoNewPrivs"], theirs["CapBnd"], ours["NoNewPrivs"], ours["CapBnd"]
    );
    let (_, exit) = waiting.resume();
    assert!(exit.success());
    drop(client);
    drop(dovecot);

    // first_valid_uid above the user's uid: Dovecot refuses the login, and
    // the recipe refuses the drop.
    let strict = format!("first_valid_uid = {}\n", owner.uid + 1);
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .extra(&strict),
    )
    .expect("private dovecot");
    let (_client, answer) = imap_login(dovecot.imap_port, "alice", "alicepw");
    // Authentication succeeds; the post-login process refuses the uid and
    // the session ends at once.
    assert!(
        answer.starts_with("a NO") || answer.contains("initialization failed"),
        "Dovecot accepted: {answer}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut log = dovecot.log();
    while !log.contains("first_valid_uid") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        log = dovecot.log();
    }
    assert!(
        log.contains("not permitted") && log.contains("first_valid_uid"),
        "Dovecot's log: {log}"
    );
    let first = (owner.uid + 1).to_string();
    let (lines, exit) = run_probe(&["--post-login", &ids, "--first-valid-uid", &first]);
    assert_eq!(exit.code(), Some(2));
    assert_eq!(
        lines[0],
        format!(
            "ERROR refusing to run as uid {}: below first_valid_uid {first}",
            owner.uid
        )
    );
}
