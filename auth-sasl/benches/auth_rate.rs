//! PLAIN authentications per second over the auth-client socket, Columba's
//! auth server against Dovecot 2.3's auth service (a private instance), on
//! the same passwd-file, in one run: SSHA256 users and SHA512-CRYPT users.
//!
//! `cargo bench -p columba-auth-sasl --bench auth_rate [-- SECONDS CLIENTS]`
//! (defaults: 3 seconds per measurement, 4 client connections).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use columba_auth_sasl::db::{PassDb, PasswdFile, UserDb};
use columba_auth_sasl::password::generate;
use columba_auth_sasl::protocol::client::UnixAuthClient;
use columba_auth_sasl::sasl::ClientCredentials;
use columba_auth_sasl::server::unix::{dovecot_sockets, AuthService};
use columba_auth_sasl::server::{AuthConfig, AuthServer};
use columba_interop::{find_tool, DovecotConfig, PrivateDovecot};

const USERS_PER_SCHEME: usize = 50;

/// Runs `clients` connections doing PLAIN logins for `seconds`; returns logins/s.
fn measure(socket: &Path, prefix: &str, seconds: f64, clients: usize) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            let (socket, prefix, stop, done) = (
                socket.to_path_buf(),
                prefix.to_string(),
                stop.clone(),
                done.clone(),
            );
            std::thread::spawn(move || {
                let mut c = UnixAuthClient::connect(&socket).expect("connect");
                let params = vec![
                    "service=imap".to_string(),
                    "no-penalty".into(),
                    "rip=127.0.0.2".into(),
                    "lip=127.0.0.1".into(),
                ];
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let user = format!("{prefix}{}", i % USERS_PER_SCHEME);
                    let out = c
                        .authenticate("PLAIN", ClientCredentials::new(&user, "benchpass"), &params)
                        .expect("authenticate");
                    assert!(out.success, "{user}: {out:?}");
                    done.fetch_add(1, Ordering::Relaxed);
                    i += clients;
                }
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seconds: f64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let clients: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4);
    if find_tool("dovecot").is_none() {
        println!("SKIPPED: dovecot is not installed; no peer to compare with");
        return;
    }
    let dovecot = PrivateDovecot::start(DovecotConfig::default()).expect("start dovecot");
    let owner = dovecot.owner();
    // One passwd-file for both servers: the instance's own, re-read by Dovecot on change.
    let users_path = dovecot.root().join("users");
    let mut text = String::new();
    for (prefix, scheme) in [("ssha", "SSHA256"), ("crypt", "SHA512-CRYPT")] {
        for i in 0..USERS_PER_SCHEME {
            let hash = generate(scheme, b"benchpass", "", None).unwrap();
            text.push_str(&format!(
                "{prefix}{i}:{hash}:{}:{}::{}\n",
                owner.uid,
                owner.gid,
                dovecot.root().join("home").display()
            ));
        }
    }
    std::fs::write(&users_path, text).unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // a new mtime second for Dovecot's reload check

    let dir = tempfile::tempdir().unwrap();
    let file = Arc::new(PasswdFile::new(users_path.to_str().unwrap()));
    let server = Arc::new(AuthServer::new(AuthConfig {
        passdbs: vec![file.clone() as Arc<dyn PassDb>],
        userdbs: vec![file as Arc<dyn UserDb>],
        ..AuthConfig::default()
    }));
    let _service = AuthService::start(server.clone(), &dovecot_sockets(dir.path())).unwrap();
    let columba_socket = dir.path().join("auth-client");
    let dovecot_socket = dovecot.socket("auth-client");

    println!(
        "PLAIN logins/s over the auth-client socket, {clients} client connections, {seconds} s each, \
         {USERS_PER_SCHEME} users per scheme, Columba workers: {}",
        server.config().worker_threads
    );
    println!(
        "{:<14} {:>12} {:>12} {:>8}",
        "scheme", "columba", "dovecot", "ratio"
    );
    for (prefix, scheme) in [("ssha", "SSHA256"), ("crypt", "SHA512-CRYPT")] {
        // Warm up both (file load, connection setup).
        measure(&columba_socket, prefix, 0.3, clients);
        measure(&dovecot_socket, prefix, 0.3, clients);
        let c = measure(&columba_socket, prefix, seconds, clients);
        let d = measure(&dovecot_socket, prefix, seconds, clients);
        println!("{scheme:<14} {c:>12.0} {d:>12.0} {:>7.2}x", c / d);
    }
    let problems = dovecot.log_problems();
    if !problems.is_empty() {
        println!("dovecot log problems: {problems:?}");
    }
}
