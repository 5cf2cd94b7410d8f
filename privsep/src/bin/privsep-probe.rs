//! `privsep-probe`: a test helper. It applies a recipe to itself, then tries
//! the actions named on its command line and reports each outcome on stdout,
//! one line each, so a test can check every restriction from outside.
//!
//! ```text
//! privsep-probe RECIPE-OPTIONS -- ACTIONS
//!
//! recipe:  --login-user NAME | --login-ids UID:GID | --post-login UID:GID | --none
//! options: --chroot DIR  --home DIR  --first-valid-uid N  --groups G,G  --init-groups USER
//!          --seccomp kill|errno|errno-with-openat|none  --keep-fds N,N  --keep-env NAME,NAME
//!          --nproc N  --no-nnp  --dumpable
//! actions: ready            print "READY", wait for a line on stdin
//!          open:PATH        open a file for reading
//!          read:PATH        read a whole file
//!          setuid0          setresuid(0, 0, 0)
//!          exec:PATH        run PATH, print its stdout
//!          alloc:MIB        allocate and touch MIB mebibytes
//!          env              print the environment's variable names
//!          send-fd:N:TEXT   send descriptor N with payload TEXT over stdin (a socket)
//!          recv-fd          receive a frame over stdin, print it and the first fd's content
//!          connect-send:SOCKET:PATH  connect to SOCKET, send PATH opened for reading
//!          drop-threads:UID:GID  start a thread, then set groups, gid, uid
//!          login-serve      receive a listener over stdin, accept a client, read
//!                           "LOGIN user", send user and client back
//!          post-login-serve receive a client over stdin, greet it with our uid
//! ```
//!
//! Output lines: `RECORD <record>` or `ERROR <error>` (then exit 2), then
//! `<action> ok [detail]` or `<action> err <errno>`.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use columba_privsep::{
    FdChannel, LoginProcessRecipe, PeerPolicy, PostLoginRecipe, PrivsepError, Rlimits,
    SeccompAction,
};

enum Recipe {
    None,
    Login(LoginProcessRecipe),
    PostLogin(PostLoginRecipe),
}

fn ids(value: &str) -> (u32, u32) {
    let (uid, gid) = value.split_once(':').expect("UID:GID");
    (uid.parse().expect("uid"), gid.parse().expect("gid"))
}

fn list<T: std::str::FromStr>(value: &str) -> Vec<T> {
    value
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok().expect("list item"))
        .collect()
}

fn env_refs(keep: &[String]) -> Vec<&str> {
    keep.iter().map(String::as_str).collect()
}

fn parse(args: &[String]) -> (Recipe, Vec<String>) {
    let mut recipe = Recipe::None;
    let mut chroot = None;
    let mut home = None;
    let mut first_valid_uid = None;
    let mut groups: Vec<u32> = Vec::new();
    let mut init_groups: Option<String> = None;
    let mut custom_openat = false;
    let mut seccomp = Some(SeccompAction::KillProcess);
    let mut keep_fds: Option<Vec<i32>> = None;
    let mut keep_env: Option<Vec<String>> = None;
    let mut nproc = None;
    let mut nnp = true;
    let mut dumpable = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().expect("option value").clone();
        match arg.as_str() {
            "--none" => recipe = Recipe::None,
            "--login-user" => recipe = Recipe::Login(LoginProcessRecipe::for_user(value())),
            "--login-ids" => {
                let (uid, gid) = ids(&value());
                recipe = Recipe::Login(LoginProcessRecipe::for_ids(uid, gid));
            }
            "--post-login" => {
                let (uid, gid) = ids(&value());
                recipe = Recipe::PostLogin(PostLoginRecipe::new(uid, gid));
            }
            "--chroot" => chroot = Some(value()),
            "--home" => home = Some(value()),
            "--first-valid-uid" => first_valid_uid = Some(value().parse().expect("uid")),
            "--groups" => groups = list(&value()),
            "--init-groups" => init_groups = Some(value()),
            "--seccomp" => {
                seccomp = match value().as_str() {
                    "kill" => Some(SeccompAction::KillProcess),
                    "errno" => Some(SeccompAction::Errno(libc::EPERM)),
                    "errno-with-openat" => {
                        custom_openat = true;
                        Some(SeccompAction::Errno(libc::EPERM))
                    }
                    _ => None,
                }
            }
            "--keep-fds" => keep_fds = Some(list(&value())),
            "--keep-env" => keep_env = Some(list(&value())),
            "--nproc" => nproc = Some(value().parse().expect("nproc")),
            "--no-nnp" => nnp = false,
            "--dumpable" => dumpable = true,
            "--" => break,
            other => panic!("unknown option {other}"),
        }
    }
    let actions = it.cloned().collect();
    let recipe = match recipe {
        Recipe::None => Recipe::None,
        Recipe::Login(mut r) => {
            if let Some(dir) = chroot {
                r = r.chroot(dir);
            }
            if let Some(n) = nproc {
                r = r.rlimits(Rlimits {
                    processes: Some(n),
                    ..Rlimits::login()
                });
            }
            if let Some(keep) = &keep_fds {
                r = r.close_fds_except(keep);
            }
            if let Some(keep) = &keep_env {
                r = r.clear_env_except(&env_refs(keep));
            }
            r = r.seccomp(seccomp).dumpable(dumpable);
            if custom_openat {
                // The login list plus openat: a custom filter.
                let mut list = columba_privsep::seccomp::login_allow_list();
                list.push(columba_privsep::seccomp::AllowedSyscall {
                    name: "openat",
                    number: libc::SYS_openat,
                    only_arg1: None,
                    why: "test: a login process that may open files",
                });
                let filter = columba_privsep::SeccompFilter::from_allow_list(
                    list,
                    SeccompAction::Errno(libc::EPERM),
                )
                .expect("filter");
                r = r.seccomp_filter(filter);
            }
            Recipe::Login(r)
        }
        Recipe::PostLogin(mut r) => {
            if let Some(dir) = chroot {
                r = r.chroot(dir);
            }
            if let Some(dir) = home {
                r = r.home(dir);
            }
            if let Some(uid) = first_valid_uid {
                r = r.first_valid_uid(uid);
            }
            if let Some(user) = init_groups.take() {
                r = r.init_groups(user);
            }
            if let Some(n) = nproc {
                r = r.rlimits(Rlimits {
                    processes: Some(n),
                    core: Some(0),
                    ..Rlimits::default()
                });
            }
            if let Some(keep) = &keep_fds {
                r = r.close_fds_except(keep);
            }
            if let Some(keep) = &keep_env {
                r = r.clear_env_except(&env_refs(keep));
            }
            Recipe::PostLogin(r.extra_groups(&groups).no_new_privs(nnp).dumpable(dumpable))
        }
    };
    (recipe, actions)
}

fn errno(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => format!("err {n}"),
        None => format!("err {e}"),
    }
}

fn privsep_errno(e: &PrivsepError) -> String {
    match e.raw_os_error() {
        Some(n) => format!("err {n}"),
        None => format!("err {e}"),
    }
}

fn stdin_socket() -> UnixStream {
    let fd: OwnedFd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .expect("dup stdin");
    UnixStream::from(fd)
}

fn run(action: &str) -> String {
    let (verb, arg) = action.split_once(':').unwrap_or((action, ""));
    match verb {
        "ready" => {
            println!("READY");
            // Unbuffered, one byte at a time, so nothing after the line is
            // taken from the socket or pipe.
            let mut input = std::fs::File::from(
                std::io::stdin()
                    .as_fd()
                    .try_clone_to_owned()
                    .expect("dup stdin"),
            );
            let mut byte = [0u8];
            while let Ok(1) = input.read(&mut byte) {
                if byte[0] == b'\n' {
                    break;
                }
            }
            "ready ok".into()
        }
        "open" => match std::fs::File::open(arg) {
            Ok(_) => format!("open {arg} ok"),
            Err(e) => format!("open {arg} {}", errno(&e)),
        },
        "read" => match std::fs::read(arg) {
            Ok(bytes) => format!("read {arg} ok {}", bytes.len()),
            Err(e) => format!("read {arg} {}", errno(&e)),
        },
        "setuid0" => match columba_privsep::ids::set_uid(0) {
            Ok(()) => "setuid0 ok".into(),
            Err(e) => format!("setuid0 {}", privsep_errno(&e)),
        },
        "exec" => match std::process::Command::new(arg).output() {
            Ok(out) => format!(
                "exec {arg} ok {}",
                String::from_utf8_lossy(&out.stdout).trim()
            ),
            Err(e) => format!("exec {arg} {}", errno(&e)),
        },
        "alloc" => {
            let mib: usize = arg.parse().expect("MiB");
            let mut v = vec![0u8; mib << 20];
            for i in (0..v.len()).step_by(4096) {
                v[i] = 1;
            }
            let sum: usize = v.iter().step_by(4096).map(|&b| usize::from(b)).sum();
            format!("alloc ok {sum}")
        }
        "env" => {
            let names: Vec<String> = std::env::vars_os()
                .map(|(k, _)| k.to_string_lossy().into_owned())
                .collect();
            format!("env ok {}", names.join(","))
        }
        "send-fd" => {
            let (fd, text) = arg.split_once(':').unwrap_or((arg, ""));
            let fd: i32 = fd.parse().expect("fd");
            let owned = match fd {
                0 => std::io::stdin().as_fd().try_clone_to_owned(),
                1 => std::io::stdout().as_fd().try_clone_to_owned(),
                _ => std::io::stderr().as_fd().try_clone_to_owned(),
            }
            .expect("dup");
            let mut channel = FdChannel::new(stdin_socket(), PeerPolicy::any());
            match channel.send(text.as_bytes(), &[owned.as_fd()]) {
                Ok(()) => "send-fd ok".into(),
                Err(e) => format!("send-fd {}", privsep_errno(&e)),
            }
        }
        "recv-fd" => {
            let mut channel = FdChannel::new(stdin_socket(), PeerPolicy::any());
            match channel.recv() {
                Ok(Some(frame)) => {
                    // Plain read(2) calls: `read_to_end` on a `File` would
                    // ask statx for a size hint, which the login filter forbids.
                    let mut content = String::new();
                    if let Some(fd) = frame.fds.into_iter().next() {
                        let mut file = std::fs::File::from(fd);
                        let mut buf = [0u8; 4096];
                        while let Ok(n @ 1..) = file.read(&mut buf) {
                            content.push_str(&String::from_utf8_lossy(&buf[..n]));
                        }
                    }
                    format!(
                        "recv-fd ok peer-pid={} payload={} content={}",
                        frame.peer.pid,
                        String::from_utf8_lossy(&frame.payload),
                        content.trim()
                    )
                }
                Ok(None) => "recv-fd err eof".into(),
                Err(e) => format!("recv-fd {}", privsep_errno(&e)),
            }
        }
        "connect-send" => {
            let (socket, path) = arg.split_once(':').expect("SOCKET:PATH");
            let file = match std::fs::File::open(path) {
                Ok(f) => f,
                Err(e) => return format!("connect-send {}", errno(&e)),
            };
            let stream = match UnixStream::connect(socket) {
                Ok(s) => s,
                Err(e) => return format!("connect-send {}", errno(&e)),
            };
            let mut channel = FdChannel::new(stream, PeerPolicy::any());
            match channel.send(path.as_bytes(), &[file.as_fd()]) {
                Ok(()) => {
                    // Wait until the receiver has judged us (it closes).
                    let mut rest = Vec::new();
                    let _ = channel
                        .stream()
                        .try_clone()
                        .map(|mut s| s.read_to_end(&mut rest));
                    "connect-send ok".into()
                }
                Err(e) => format!("connect-send {}", privsep_errno(&e)),
            }
        }
        "drop-threads" => {
            // Start a second thread, then change ids from the first: the
            // change must reach both (glibc's set*id broadcast).
            let (uid, gid) = ids(arg);
            let (keep, parked) = std::sync::mpsc::channel::<()>();
            std::thread::spawn(move || parked.recv());
            std::mem::forget(keep);
            let result = columba_privsep::ids::set_groups(&[gid])
                .and_then(|()| columba_privsep::ids::set_gid(gid))
                .and_then(|()| columba_privsep::ids::set_uid(uid));
            match result {
                Ok(()) => "drop-threads ok".into(),
                Err(e) => format!("drop-threads {}", privsep_errno(&e)),
            }
        }
        "login-serve" => {
            // The pre-auth part of a connection: take the listener from the
            // master, accept one client, read its LOGIN line, hand the
            // client and the user name back to the master.
            let mut channel = FdChannel::new(stdin_socket(), PeerPolicy::uid(0));
            let listener = match channel.recv() {
                Ok(Some(frame)) if frame.fds.len() == 1 => {
                    std::net::TcpListener::from(frame.fds.into_iter().next().unwrap())
                }
                other => return format!("login-serve err listener: {other:?}"),
            };
            let (mut client, _) = match listener.accept() {
                Ok(c) => c,
                Err(e) => return format!("login-serve {}", errno(&e)),
            };
            let _ = client.write_all(b"* OK pre-auth\r\n");
            let mut line = Vec::new();
            let mut byte = [0u8];
            while line.len() < 200 {
                match client.read(&mut byte) {
                    Ok(1) if byte[0] == b'\n' => break,
                    Ok(1) => line.push(byte[0]),
                    _ => return "login-serve err client closed".into(),
                }
            }
            let line = String::from_utf8_lossy(&line);
            let user = line.trim().strip_prefix("LOGIN ").unwrap_or("").to_owned();
            match channel.send(user.as_bytes(), &[client.as_fd()]) {
                Ok(()) => format!("login-serve ok {user}"),
                Err(e) => format!("login-serve {}", privsep_errno(&e)),
            }
        }
        "post-login-serve" => {
            // The post-login part: take the client from the master and greet
            // it as the user this process now runs as.
            let mut channel = FdChannel::new(stdin_socket(), PeerPolicy::uid(0));
            match channel.recv() {
                Ok(Some(frame)) if frame.fds.len() == 1 => {
                    let mut client =
                        std::net::TcpStream::from(frame.fds.into_iter().next().unwrap());
                    let greeting = format!(
                        "* OK {} served by uid {}\r\n",
                        String::from_utf8_lossy(&frame.payload),
                        columba_privsep::ids::effective_uid()
                    );
                    match client.write_all(greeting.as_bytes()) {
                        Ok(()) => "post-login-serve ok".into(),
                        Err(e) => format!("post-login-serve {}", errno(&e)),
                    }
                }
                other => format!("post-login-serve err {other:?}"),
            }
        }
        other => format!("{other} err unknown action"),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (recipe, actions) = parse(&args);
    let applied = match &recipe {
        Recipe::None => Ok(None),
        Recipe::Login(r) => r.apply().map(Some),
        Recipe::PostLogin(r) => r.apply().map(Some),
    };
    let mut out = std::io::stdout();
    match applied {
        Ok(Some(record)) => {
            let _ = writeln!(out, "RECORD {record}");
        }
        Ok(None) => {}
        Err(e) => {
            let _ = writeln!(out, "ERROR {e}");
            return ExitCode::from(2);
        }
    }
    for action in &actions {
        let line = run(action);
        let _ = writeln!(out, "{line}");
    }
    ExitCode::SUCCESS
}
