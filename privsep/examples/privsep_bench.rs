//! Timing of the two things privilege separation adds to a connection's
//! life: handing a descriptor to another process, and applying a recipe
//! when a process starts.
//!
//! ```text
//! cargo run --release -p columba-privsep --example privsep_bench
//! ```
//!
//! 1. Descriptor hand-off: `FdChannel` (frame, `SO_PEERCRED` policy check on
//!    both sides, one descriptor) against a bare sendmsg/recvmsg of one byte
//!    and one descriptor, which is what Dovecot's `fd_send()`/`fd_read()` do.
//! 2. Process start: spawn this binary and apply the login recipe (as root:
//!    chroot, ids, capabilities, no_new_privs, seccomp) against spawning it
//!    to do nothing.

use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

use columba_privsep::fdpass::{recv_raw, send_raw};
use columba_privsep::{FdChannel, LoginProcessRecipe, PeerPolicy};

const HANDOFFS: u32 = 100_000;
const SPAWNS: u32 = 200;

fn per_op(total: Duration, n: u32) -> f64 {
    total.as_secs_f64() * 1e6 / f64::from(n)
}

fn bare_handoff() -> Duration {
    let (a, b) = UnixStream::pair().unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let receiver = std::thread::spawn(move || {
        let mut buf = [0u8; 1];
        for _ in 0..HANDOFFS {
            let (n, fds) = recv_raw(&b, &mut buf, 1).unwrap();
            assert_eq!((n, fds.len()), (1, 1));
        }
    });
    let start = Instant::now();
    for _ in 0..HANDOFFS {
        send_raw(&a, b"x", &[file.as_fd()]).unwrap();
    }
    receiver.join().unwrap();
    start.elapsed()
}

fn channel_handoff() -> Duration {
    let (a, b) = UnixStream::pair().unwrap();
    let me = columba_privsep::ids::effective_uid();
    let mut sender = FdChannel::new(a, PeerPolicy::uid(me));
    let mut receiver = FdChannel::new(b, PeerPolicy::uid(me));
    let file = std::fs::File::open("/dev/null").unwrap();
    let thread = std::thread::spawn(move || {
        for _ in 0..HANDOFFS {
            let frame = receiver.recv().unwrap().unwrap();
            assert_eq!(frame.fds.len(), 1);
        }
    });
    let start = Instant::now();
    for _ in 0..HANDOFFS {
        sender.send(b"x", &[file.as_fd()]).unwrap();
    }
    thread.join().unwrap();
    start.elapsed()
}

/// Spawns both kinds alternately, so load from elsewhere hits both alike.
fn spawn_both() -> (Duration, Duration) {
    let exe = std::env::current_exe().unwrap();
    let (mut nothing, mut login) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..SPAWNS {
        for (mode, total) in [("child-nothing", &mut nothing), ("child-login", &mut login)] {
            let start = Instant::now();
            let status = Command::new(&exe).arg(mode).status().unwrap();
            *total += start.elapsed();
            assert!(status.success(), "{mode}: {status}");
        }
    }
    (nothing, login)
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("child-nothing") => return,
        Some("child-login") => {
            let root = std::env::var("PRIVSEP_BENCH_ROOT").unwrap();
            LoginProcessRecipe::for_ids(5001, 5001)
                .chroot(root)
                .apply()
                .expect("login recipe");
            return;
        }
        _ => {}
    }
    let bare = bare_handoff();
    let channel = channel_handoff();
    println!(
        "descriptor hand-off, {HANDOFFS} x 1 fd: bare sendmsg/recvmsg {:.2} us, FdChannel {:.2} us, ratio {:.2}",
        per_op(bare, HANDOFFS),
        per_op(channel, HANDOFFS),
        channel.as_secs_f64() / bare.as_secs_f64()
    );
    if !columba_privsep::ids::is_root() {
        println!("process start: SKIPPED (needs root)");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::env::set_var("PRIVSEP_BENCH_ROOT", root.path());
    let (nothing, login) = spawn_both();
    println!(
        "process start, {SPAWNS} spawns: nothing {:.0} us, login recipe {:.0} us, recipe costs {:.0} us ({:.2}x)",
        per_op(nothing, SPAWNS),
        per_op(login, SPAWNS),
        per_op(login.saturating_sub(nothing), SPAWNS),
        login.as_secs_f64() / nothing.as_secs_f64()
    );
}
