//! Per-remote-IP failure penalty, as Dovecot 2.3's auth-penalty keeps it
//! through anvil. Time is passed in, so this is a pure state machine.
//!
//! - A request's penalty is looked up when it arrives: the IP's penalty
//!   value, or 0 once [`PENALTY_MAX`] has passed since it was last raised.
//!   A value of `n > 0` holds the request `2 s << n` (4, 8, then 15 s at
//!   most), counted from the request's arrival.
//! - A failure sets the IP's value to the looked-up value + 1 (at most
//!   [`MAX_PENALTY`]) and restarts its clock, except that repeating one of
//!   the IP's last [`ATTEMPTS_KEPT`] failed user + password attempts (a
//!   client with a stale password) leaves the value as it was looked up.
//! - A success clears it; an IP untouched for [`PENALTY_EXPIRE`] is
//!   forgotten. IPv6 addresses count per /48.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Base of the delay: a penalty of `n` waits `PENALTY_INIT << n`.
pub const PENALTY_INIT: Duration = Duration::from_secs(2);
/// Maximum delay.
pub const PENALTY_MAX: Duration = Duration::from_secs(15);
/// The highest penalty value.
pub const MAX_PENALTY: u32 = 4;
/// An IP's record is forgotten after this long without a change
/// (Dovecot: 2 + 4 + 8 + 15 s).
pub const PENALTY_EXPIRE: Duration = Duration::from_secs(2 + 4 + 8 + 15);
const MAX_TRACKED: usize = 100_000;
/// How many recent failed attempts per IP are remembered.
pub const ATTEMPTS_KEPT: usize = 10;
/// IPv6 addresses are grouped by this many leading bits.
const IPV6_PREFIX_BITS: u32 = 48;

#[derive(Debug, Clone)]
struct Record {
    value: u32,
    /// When the value was last raised.
    raised: Instant,
    /// When the record was last changed (for expiry).
    touched: Instant,
    /// Checksums of recent failed attempts, newest first.
    attempts: Vec<u64>,
}

/// Failure penalties per remote IP.
#[derive(Debug)]
pub struct Penalty {
    init: Duration,
    max: Duration,
    ips: HashMap<IpAddr, Record>,
}

impl Default for Penalty {
    fn default() -> Self {
        Penalty::new(PENALTY_INIT, PENALTY_MAX)
    }
}

/// The address an IP's penalty is counted under.
fn ident(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !(u128::MAX >> IPV6_PREFIX_BITS);
            IpAddr::V6(bits.into())
        }
    }
}

impl Penalty {
    /// A penalty whose delay is `init << value`, capped at `max`.
    pub fn new(init: Duration, max: Duration) -> Penalty {
        Penalty {
            init,
            max,
            ips: HashMap::new(),
        }
    }

    /// How long a penalty value holds a request.
    pub fn delay_for(&self, value: u32) -> Duration {
        if value == 0 {
            return Duration::ZERO;
        }
        self.init
            .saturating_mul(1u32 << value.min(16))
            .min(self.max)
    }

    /// The penalty value of a request from `ip` arriving at `now`
    /// (Dovecot's `PENALTY-GET` with its decay applied).
    pub fn lookup(&self, ip: IpAddr, now: Instant) -> u32 {
        let Some(rec) = self.ips.get(&ident(ip)) else {
            return 0;
        };
        if now.saturating_duration_since(rec.touched) >= PENALTY_EXPIRE {
            return 0;
        }
        let since = now.saturating_duration_since(rec.raised);
        // Each step down needs the delay of the step above it to have
        // passed since the value was last raised.
        let mut value = rec.value;
        let mut step = MAX_PENALTY;
        while value > 0 && since >= self.delay_for(step) {
            value -= 1;
            step = step.saturating_sub(1);
        }
        value
    }

    /// How long a new request from `ip` arriving at `now` waits before it
    /// is handled.
    pub fn delay(&self, ip: IpAddr, now: Instant) -> Duration {
        self.delay_for(self.lookup(ip, now))
    }

    /// Records a failed authentication from `ip` at `now` whose request
    /// looked up `looked_up` when it arrived; `attempt` is the checksum of a
    /// plaintext user + password, if the mechanism had one.
    pub fn failure_after(
        &mut self,
        ip: IpAddr,
        looked_up: u32,
        attempt: Option<u64>,
        now: Instant,
    ) {
        if self.ips.len() >= MAX_TRACKED {
            self.ips
                .retain(|_, r| now.saturating_duration_since(r.touched) < PENALTY_EXPIRE);
            if self.ips.len() >= MAX_TRACKED {
                self.ips.clear();
            }
        }
        let value = looked_up.saturating_add(1).min(MAX_PENALTY);
        let rec = self.ips.entry(ident(ip)).or_insert(Record {
            value: 0,
            raised: now,
            touched: now,
            attempts: Vec::new(),
        });
        rec.touched = now;
        let seen = attempt.and_then(|c| rec.attempts.iter().position(|&a| a == c));
        match (attempt, seen) {
            (Some(_), Some(i)) => {
                // The same attempt again: it counts no further.
                let c = rec.attempts.remove(i);
                rec.attempts.insert(0, c);
                rec.value = value - 1;
            }
            _ => {
                if let Some(c) = attempt {
                    rec.attempts.insert(0, c);
                    rec.attempts.truncate(ATTEMPTS_KEPT);
                }
                rec.value = value;
                rec.raised = now;
            }
        }
    }

    /// Records a failed authentication from `ip` at `now`, the request's
    /// penalty being what a lookup at `now` gives.
    pub fn failure(&mut self, ip: IpAddr, now: Instant) {
        let looked_up = self.lookup(ip, now);
        self.failure_after(ip, looked_up, None, now);
    }

    /// Records a successful authentication: the IP's penalty is cleared.
    pub fn success(&mut self, ip: IpAddr) {
        self.ips.remove(&ident(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn delays_are_dovecots_2s_shifted_by_the_penalty() {
        let p = Penalty::default();
        let got: Vec<u64> = (0..=5).map(|v| p.delay_for(v).as_secs()).collect();
        assert_eq!(got, [0, 4, 8, 15, 15, 15]);
    }

    #[test]
    fn one_failure_holds_the_next_request_4s_from_its_arrival() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Instant::now();
        let mut p = Penalty::default();
        assert_eq!(p.delay(ip, t), Duration::ZERO);
        p.failure(ip, t);
        // The FAIL goes out 2 s later (failure delay); the retry right
        // after still waits the whole 4 s.
        assert_eq!(p.delay(ip, t + S(2)), S(4));
        assert_eq!(p.delay(ip, t + S(14)), S(4));
        // 15 s after the failure the penalty is gone.
        assert_eq!(p.delay(ip, t + S(15)), Duration::ZERO);
    }

    #[test]
    fn grows_4_8_15_and_caps() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Instant::now();
        let mut p = Penalty::default();
        let mut waits = Vec::new();
        for i in 0..6 {
            let now = t + S(i);
            waits.push(p.delay(ip, now).as_secs());
            p.failure(ip, now);
        }
        assert_eq!(waits, [0, 4, 8, 15, 15, 15]);
        assert_eq!(p.lookup(ip, t + S(6)), MAX_PENALTY);
        p.success(ip);
        assert_eq!(p.delay(ip, t + S(6)), Duration::ZERO);
    }

    #[test]
    fn failure_counts_from_the_requests_own_lookup() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Instant::now();
        let mut p = Penalty::default();
        p.failure(ip, t);
        p.failure(ip, t);
        // A request that arrived with penalty 0 fails: the value is 1.
        p.failure_after(ip, 0, None, t + S(1));
        assert_eq!(p.lookup(ip, t + S(1)), 1);
    }

    #[test]
    fn repeating_a_failed_attempt_does_not_raise_the_penalty() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Instant::now();
        let mut p = Penalty::default();
        p.failure_after(ip, 0, Some(7), t);
        assert_eq!(p.lookup(ip, t + S(2)), 1);
        // Same user and password: stays at 1, its clock isn't restarted.
        p.failure_after(ip, 1, Some(7), t + S(6));
        assert_eq!(p.lookup(ip, t + S(6)), 1);
        assert_eq!(p.lookup(ip, t + S(15)), 0);
        // A new guess raises it.
        p.failure_after(ip, 1, Some(8), t + S(7));
        assert_eq!(p.lookup(ip, t + S(7)), 2);
        // Mechanisms without a plaintext password always raise it.
        p.failure_after(ip, 2, None, t + S(8));
        assert_eq!(p.lookup(ip, t + S(8)), 3);
    }

    #[test]
    fn records_expire_and_ipv6_counts_per_48() {
        let t = Instant::now();
        let mut p = Penalty::default();
        let a: IpAddr = "2001:db8:1:2::5".parse().unwrap();
        let b: IpAddr = "2001:db8:1:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:2::1".parse().unwrap();
        p.failure(a, t);
        assert_eq!(p.delay(b, t), S(4));
        assert_eq!(p.delay(c, t), Duration::ZERO);
        assert_eq!(p.lookup(b, t + PENALTY_EXPIRE), 0);
    }
}
