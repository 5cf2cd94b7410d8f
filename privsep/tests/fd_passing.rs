//! Descriptor passing: frames, bounds, peers, and no descriptor leaked on
//! any error path.

mod common;

use std::io::{ErrorKind, Read, Seek, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use columba_privsep::fdpass::{self, frame};
use columba_privsep::{FdChannel, FrameLimits, PeerPolicy, PrivsepError};
use common::*;

/// A descriptor whose every copy can be proven closed: one end of a socket
/// pair. Once all copies of `sent` are closed, `witness` reads end of file;
/// while one survives anywhere in the process, it would block.
struct LeakWitness {
    witness: UnixStream,
    sent: Option<UnixStream>,
}

impl LeakWitness {
    fn new() -> Self {
        let (witness, sent) = UnixStream::pair().unwrap();
        witness.set_nonblocking(true).unwrap();
        LeakWitness {
            witness,
            sent: Some(sent),
        }
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.sent.as_ref().unwrap().as_fd()
    }

    /// Drops our copy and checks no other copy is left open. Another test
    /// thread that forks holds a copy of every descriptor until its child
    /// execs, so a copy still open is looked at again for up to a second:
    /// a leaked one stays open for good.
    fn assert_all_closed(mut self) {
        self.sent = None;
        let mut buf = [0u8; 1];
        for _ in 0..100 {
            match self.witness.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => panic!("unexpected data"),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("a received descriptor was leaked (still open)")
    }
}

fn file_with(text: &str) -> std::fs::File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f.rewind().unwrap();
    f
}

#[test]
fn frames_carry_descriptors_in_order() {
    let (mut a, mut b) = FdChannel::pair().unwrap();
    let files = [file_with("one"), file_with("two"), file_with("three")];
    let fds: Vec<BorrowedFd<'_>> = files.iter().map(|f| f.as_fd()).collect();
    a.send(b"first", &fds).unwrap();
    a.send(b"", &[]).unwrap();
    let big = vec![7u8; 60_000];
    a.send(&big, &[files[0].as_fd()]).unwrap();
    drop(a);

    let frame = b.recv().unwrap().unwrap();
    assert_eq!(frame.payload, b"first");
    let texts: Vec<String> = frame
        .fds
        .into_iter()
        .map(|fd| {
            let mut s = String::new();
            std::fs::File::from(fd).read_to_string(&mut s).unwrap();
            s
        })
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    let empty = b.recv().unwrap().unwrap();
    assert!(empty.payload.is_empty() && empty.fds.is_empty());
    let large = b.recv().unwrap().unwrap();
    assert_eq!(large.payload, big);
    assert_eq!(large.fds.len(), 1);
    assert!(
        b.recv().unwrap().is_none(),
        "clean end of file between frames"
    );
    // Debug never shows the payload.
    assert!(!format!("{large:?}").contains("7, 7"));
}

#[test]
fn received_descriptors_are_close_on_exec() {
    let (mut a, mut b) = FdChannel::pair().unwrap();
    let f = file_with("x");
    a.send(b"", &[f.as_fd()]).unwrap();
    let frame = b.recv().unwrap().unwrap();
    let fd = &frame.fds[0];
    let flags = std::fs::read_to_string(format!(
        "/proc/self/fdinfo/{}",
        std::os::fd::AsRawFd::as_raw_fd(fd)
    ))
    .unwrap();
    let flags = flags
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .unwrap()
        .trim()
        .to_owned();
    let flags = u32::from_str_radix(&flags, 8).unwrap();
    assert_ne!(flags & 0o2000000, 0, "O_CLOEXEC not set: {flags:o}");
}

#[test]
fn fewer_descriptors_than_announced_closes_what_came() {
    let (a, b) = UnixStream::pair().unwrap();
    let witness = LeakWitness::new();
    let bytes = frame::encode_frame(b"hi", 2, &FrameLimits::default()).unwrap();
    fdpass::send_raw(&a, &bytes, &[witness.fd()]).unwrap();
    let mut channel = FdChannel::new(b, PeerPolicy::any());
    match channel.recv() {
        Err(PrivsepError::FdCountMismatch {
            announced: 2,
            received: 1,
        }) => {}
        other => panic!("{other:?}"),
    }
    witness.assert_all_closed();
}

#[test]
fn more_descriptors_than_the_limit_is_truncated_and_closed() {
    let (a, b) = UnixStream::pair().unwrap();
    let witnesses = [LeakWitness::new(), LeakWitness::new(), LeakWitness::new()];
    let fds: Vec<BorrowedFd<'_>> = witnesses.iter().map(LeakWitness::fd).collect();
    let bytes = frame::encode_frame(b"", 3, &FrameLimits::default()).unwrap();
    fdpass::send_raw(&a, &bytes, &fds).unwrap();
    let mut channel = FdChannel::new(b, PeerPolicy::any()).with_limits(FrameLimits::new(1024, 1));
    match channel.recv() {
        Err(PrivsepError::ControlTruncated { max: 1 }) => {}
        other => panic!("{other:?}"),
    }
    for w in witnesses {
        w.assert_all_closed();
    }
}

#[test]
fn descriptors_without_a_frame_header_are_closed() {
    let (a, b) = UnixStream::pair().unwrap();
    let witness = LeakWitness::new();
    fdpass::send_raw(&a, b"\x02garbage", &[witness.fd()]).unwrap();
    let mut channel = FdChannel::new(b, PeerPolicy::any());
    match channel.recv() {
        Err(PrivsepError::BadFrame { offset: 0, .. }) => {}
        other => panic!("{other:?}"),
    }
    witness.assert_all_closed();
}

#[test]
fn end_of_file_inside_a_frame_closes_what_came() {
    let (a, b) = UnixStream::pair().unwrap();
    let witness = LeakWitness::new();
    let bytes = frame::encode_frame(b"0123456789", 1, &FrameLimits::default()).unwrap();
    fdpass::send_raw(&a, &bytes[..9], &[witness.fd()]).unwrap();
    drop(a);
    let mut channel = FdChannel::new(b, PeerPolicy::any());
    match channel.recv() {
        Err(PrivsepError::TruncatedFrame {
            offset: 9,
            expected: 16,
        }) => {}
        other => panic!("{other:?}"),
    }
    witness.assert_all_closed();
}

#[test]
fn an_oversized_payload_is_refused_before_allocation() {
    let (a, b) = UnixStream::pair().unwrap();
    // Announce 4 GiB - 1 of payload; the receiver must refuse at the header.
    fdpass::send_raw(&a, &[1, 0, 0xff, 0xff, 0xff, 0xff], &[]).unwrap();
    let mut channel = FdChannel::new(b, PeerPolicy::any());
    match channel.recv() {
        Err(PrivsepError::BadFrame { offset: 2, reason }) => {
            assert!(reason.contains("4294967295"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_rejected_peer_gets_nothing_read() {
    let (a, b) = UnixStream::pair().unwrap();
    let witness = LeakWitness::new();
    let mut sender = FdChannel::new(a, PeerPolicy::any());
    sender.send(b"hello", &[witness.fd()]).unwrap();
    // Both ends of a pair carry the creator's credentials: this process.
    let me = std::process::id() as i32;
    let mut wrong_uid = FdChannel::new(b.try_clone().unwrap(), PeerPolicy::uid(4242));
    match wrong_uid.recv() {
        Err(PrivsepError::PeerRejected { field: "uid", .. }) => {}
        other => panic!("{other:?}"),
    }
    let mut wrong_pid = FdChannel::new(b.try_clone().unwrap(), PeerPolicy::any().with_pid(me + 1));
    assert!(matches!(
        wrong_pid.recv(),
        Err(PrivsepError::PeerRejected { field: "pid", .. })
    ));
    // A rejected sender is refused too: nothing is handed to a wrong peer.
    let mut to_wrong = FdChannel::new(b.try_clone().unwrap(), PeerPolicy::uid(4242));
    assert!(matches!(
        to_wrong.send(b"x", &[]),
        Err(PrivsepError::PeerRejected { .. })
    ));
    // The frame is still there for a receiver the policy accepts.
    let uid = columba_privsep::ids::effective_uid();
    let mut right = FdChannel::new(b, PeerPolicy::uid(uid).with_pid(me));
    let frame = right.recv().unwrap().unwrap();
    assert_eq!(frame.payload, b"hello");
    drop(frame);
    witness.assert_all_closed();
}

/// Across fork and exec: a child that dropped to uid 5001 connects to a
/// named socket and sends a descriptor; the receiver accepts it only when
/// the policy names that uid (and pid).
#[test]
fn across_exec_the_receiver_checks_the_sender() {
    require_root!();
    let dir = empty_dir();
    let socket = dir.path().join("handoff");
    let listener = UnixListener::bind(&socket).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    let payload_file = dir.path().join("payload");
    std::fs::write(&payload_file, "mailbox state").unwrap();
    let action = format!(
        "connect-send:{}:{}",
        socket.display(),
        payload_file.display()
    );

    let run = |policy: &dyn Fn(u32) -> PeerPolicy| {
        let mut child = probe(&["--post-login", "5001:5001", "--", &action])
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait for the child's connection, but not forever if it failed.
        listener.set_nonblocking(true).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if let Some(status) = child.try_wait().unwrap() {
                        panic!("the child ended without connecting: {status}");
                    }
                    assert!(std::time::Instant::now() < deadline, "no connection");
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut channel = FdChannel::new(stream, policy(child.id()));
        let result = channel.recv();
        drop(channel);
        let status = child.wait().unwrap();
        assert!(status.success());
        result
    };

    let accepted = run(&|pid| {
        PeerPolicy::uid(TEST_UID)
            .with_gid(TEST_GID)
            .with_pid(pid as i32)
    })
    .unwrap()
    .unwrap();
    assert_eq!(accepted.peer.uid, TEST_UID);
    assert_eq!(accepted.payload, payload_file.to_str().unwrap().as_bytes());
    let mut text = String::new();
    std::fs::File::from(accepted.fds.into_iter().next().unwrap())
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "mailbox state");

    match run(&|_| PeerPolicy::uid(OTHER_UID)) {
        Err(PrivsepError::PeerRejected {
            field: "uid",
            actual,
            ..
        }) => assert_eq!(actual, "5001"),
        other => panic!("{other:?}"),
    }
    match run(&|pid| PeerPolicy::uid(TEST_UID).with_pid(pid as i32 + 1)) {
        Err(PrivsepError::PeerRejected { field: "pid", .. }) => {}
        other => panic!("{other:?}"),
    }
}
