//! The login recipe next to a real Dovecot 2.3 `imap-login` process: the
//! same user, groups and kind of chroot, and stricter where Dovecot is not
//! (seccomp, no_new_privs, bounding set).

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
