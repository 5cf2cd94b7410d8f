//! Dovecot's architecture end to end: a master (this test) hands the
//! listening socket to a login process under the seccomp filter, which
//! accepts a client and hands it back; the master hands the client to a
//! post-login process running as the user, which answers it.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::Duration;

use columba_privsep::{FdChannel, PeerPolicy};
use common::*;

#[test]
fn a_client_goes_from_the_filtered_login_process_to_the_user_process() {
    require_root!();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let chroot = empty_dir();

    // Login process: unprivileged, chrooted, filtered, no descriptors but
    // its socket to the master and stdout.
    let (master_login, login_end) = UnixStream::pair().unwrap();
    let login = probe(&[
        "--login-ids",
        "5001:5001",
        "--chroot",
        chroot.path().to_str().unwrap(),
        "--seccomp",
        "kill",
        "--keep-fds",
        "0,1",
        "--",
        "login-serve",
    ])
    .stdin(Stdio::from(OwnedFd::from(login_end)))
    .spawn()
    .unwrap();
    let mut to_login = FdChannel::new(master_login, PeerPolicy::uid(0));
    to_login.send(b"imap", &[listener.as_fd()]).unwrap();
    drop(listener);

    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "* OK pre-auth\r\n");
    client.write_all(b"LOGIN alice\r\n").unwrap();

    // The login process hands the client back; the master passes it on.
    let handed = to_login.recv().unwrap().expect("a frame from login");
    assert_eq!(handed.payload, b"alice");
    let login_out = login.wait_with_output().unwrap();
    assert!(login_out.status.success(), "{:?}", login_out.status);
    let login_text = String::from_utf8_lossy(&login_out.stdout);
    assert!(login_text.contains("seccomp=["), "{login_text}");
    assert!(login_text.contains("login-serve ok alice"), "{login_text}");

    let (master_post, post_end) = UnixStream::pair().unwrap();
    let post = probe(&["--post-login", "5001:5001", "--", "post-login-serve"])
        .stdin(Stdio::from(OwnedFd::from(post_end)))
        .spawn()
        .unwrap();
    let mut to_post = FdChannel::new(master_post, PeerPolicy::uid(0));
    to_post
        .send(&handed.payload, &[handed.fds[0].as_fd()])
        .unwrap();
    drop(handed);

    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "* OK alice served by uid 5001\r\n");
    let post_out = post.wait_with_output().unwrap();
    assert!(post_out.status.success());
    // Every copy of the client is closed now: the client sees end of file.
    line.clear();
    assert_eq!(reader.read_line(&mut line).unwrap(), 0, "{line:?}");
}
