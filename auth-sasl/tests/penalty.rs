//! The per-IP auth penalty as a client of the auth socket sees it, with
//! Dovecot 2.3's timing: after one failed authentication the next request
//! from that address is held 4 s from its arrival (not 2 s from the
//! failure), whatever the mechanism, and a success clears it.

mod common;

use std::time::{Duration, Instant};

use columba_auth_sasl::protocol::client::UnixAuthClient;
use columba_auth_sasl::sasl::ClientCredentials;
use common::{params, TestService};

const PASSWD: &str = "alice:{PLAIN}alicepw:5000:5000::/home/alice\n";

fn timed(c: &mut UnixAuthClient, mech: &str, pw: &str) -> (bool, Duration) {
    let start = Instant::now();
    let out = c
        .authenticate(mech, ClientCredentials::new("alice", pw), &params("smtp"))
        .unwrap();
    (out.success, start.elapsed())
}

#[test]
fn one_failure_holds_the_next_request_4s_from_its_arrival() {
    let s = TestService::start(PASSWD, |c| {
        c.penalty = true;
        c.failure_delay = Duration::from_secs(2);
    });
    let mut first = UnixAuthClient::connect(&s.socket("auth-client")).unwrap();
    let (ok, took) = timed(&mut first, "PLAIN", "wrong");
    assert!(!ok);
    assert!(
        took >= Duration::from_millis(1900),
        "failure delay: {took:?}"
    );

    // Another connection, same remote IP, a mechanism with challenges: the
    // whole exchange takes the 4 s penalty (Dovecot holds the request
    // before its first step), not 4 s minus the 2 s failure delay.
    let mut second = UnixAuthClient::connect(&s.socket("auth-client")).unwrap();
    let (ok, took) = timed(&mut second, "CRAM-MD5", "alicepw");
    assert!(ok);
    assert!(
        took >= Duration::from_millis(3900) && took < Duration::from_millis(5500),
        "penalty after one failure: {took:?}"
    );

    // The success cleared it.
    let (ok, took) = timed(&mut second, "PLAIN", "alicepw");
    assert!(ok);
    assert!(took < Duration::from_secs(1), "after a success: {took:?}");
}
