//! Per-remote-IP failure penalty (Dovecot's auth-penalty through anvil):
//! after failures, new requests from that IP wait 2 s, doubling per
//! failure up to 15 s. Time is passed in, so this is a pure state machine.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Initial penalty.
pub const PENALTY_INIT: Duration = Duration::from_secs(2);
/// Maximum penalty.
pub const PENALTY_MAX: Duration = Duration::from_secs(15);
/// Failures are forgotten after this long.
pub const PENALTY_EXPIRE: Duration = Duration::from_secs(3 * 3600);
const MAX_TRACKED: usize = 100_000;

/// Failure counts per remote IP.
#[derive(Debug)]
pub struct Penalty {
    init: Duration,
    max: Duration,
    ips: HashMap<IpAddr, (u32, Instant)>,
}

impl Default for Penalty {
    fn default() -> Self {
        Penalty::new(PENALTY_INIT, PENALTY_MAX)
    }
}

impl Penalty {
    /// A penalty starting at `init` and capped at `max`.
    pub fn new(init: Duration, max: Duration) -> Penalty {
        Penalty {
            init,
            max,
            ips: HashMap::new(),
        }
    }

    /// How long a new request from `ip` should wait at `now`.
    pub fn delay(&self, ip: IpAddr, now: Instant) -> Duration {
        let Some(&(failures, last)) = self.ips.get(&ip) else {
            return Duration::ZERO;
        };
        if failures == 0 || now.saturating_duration_since(last) > PENALTY_EXPIRE {
            return Duration::ZERO;
        }
        let full = self
            .init
            .saturating_mul(1u32 << (failures - 1).min(16))
            .min(self.max);
        full.saturating_sub(now.saturating_duration_since(last))
    }

    /// Records a failed authentication from `ip`.
    pub fn failure(&mut self, ip: IpAddr, now: Instant) {
        if self.ips.len() >= MAX_TRACKED {
            self.ips
                .retain(|_, (_, last)| now.saturating_duration_since(*last) < PENALTY_EXPIRE);
            if self.ips.len() >= MAX_TRACKED {
                self.ips.clear();
            }
        }
        let e = self.ips.entry(ip).or_insert((0, now));
        e.0 = e.0.saturating_add(1);
        e.1 = now;
    }

    /// Records a successful authentication: the IP's penalty is cleared.
    pub fn success(&mut self, ip: IpAddr) {
        self.ips.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Instant::now();
        let mut p = Penalty::default();
        assert_eq!(p.delay(ip, t), Duration::ZERO);
        p.failure(ip, t);
        assert_eq!(p.delay(ip, t), Duration::from_secs(2));
        p.failure(ip, t);
        assert_eq!(p.delay(ip, t), Duration::from_secs(4));
        for _ in 0..10 {
            p.failure(ip, t);
        }
        assert_eq!(p.delay(ip, t), Duration::from_secs(15));
        assert_eq!(
            p.delay(ip, t + Duration::from_secs(5)),
            Duration::from_secs(10)
        );
        p.success(ip);
        assert_eq!(p.delay(ip, t), Duration::ZERO);
    }
}
