//! Anvil's state: session counts per ident (Dovecot's `connect-limit.c`)
//! and penalties per ident (`penalty.c`), with the sessions each client
//! connection registered, so they vanish when it closes.

use std::collections::{BTreeMap, HashMap};

use columba_auth_sasl::escape::tab_escape;

use super::protocol::{ProtocolError, Request};

/// Most penalty entries kept; the least recently updated go first.
pub const MAX_PENALTIES: usize = 100_000;
/// Checksums remembered per penalty entry (Dovecot keeps 2, then 10).
const CHECKSUMS: usize = 10;
/// Dovecot's `PENALTY_DEFAULT_EXPIRE_SECS`.
pub const PENALTY_DEFAULT_EXPIRE_SECS: u32 = 60 * 60;

/// Identifies one client connection to the anvil socket.
pub type ConnectionId = u64;

#[derive(Debug, Clone)]
struct PenaltyRecord {
    penalty: u32,
    last_penalty: i64,
    last_update: i64,
    checksums: Vec<u32>,
}

/// The whole anvil state.
#[derive(Debug)]
pub struct AnvilState {
    /// ident -> sessions.
    counts: HashMap<String, u32>,
    /// (ident, pid) -> sessions.
    by_pid: BTreeMap<(String, u32), u32>,
    /// connection -> (ident, pid) -> sessions it registered.
    by_connection: HashMap<ConnectionId, HashMap<(String, u32), u32>>,
    penalties: HashMap<String, PenaltyRecord>,
    expire_secs: u32,
}

impl Default for AnvilState {
    fn default() -> Self {
        AnvilState {
            counts: HashMap::new(),
            by_pid: BTreeMap::new(),
            by_connection: HashMap::new(),
            penalties: HashMap::new(),
            expire_secs: PENALTY_DEFAULT_EXPIRE_SECS,
        }
    }
}

impl AnvilState {
    /// Sessions registered under `ident`.
    pub fn lookup(&self, ident: &str) -> u32 {
        self.counts.get(ident).copied().unwrap_or(0)
    }

    /// Applies `request` from connection `conn` at UNIX time `now`;
    /// `master` says whether the connection may send KILL. Returns the
    /// reply to send, if the request has one.
    pub fn apply(
        &mut self,
        conn: ConnectionId,
        master: bool,
        request: Request,
        now: i64,
    ) -> Result<Option<String>, ProtocolError> {
        match request {
            Request::Connect { pid, ident } => {
                self.connect(pid, &ident);
                *self
                    .by_connection
                    .entry(conn)
                    .or_default()
                    .entry((ident, pid))
                    .or_insert(0) += 1;
                Ok(None)
            }
            Request::Disconnect { pid, ident } => {
                let key = (ident, pid);
                if let Some(mine) = self.by_connection.get_mut(&conn) {
                    if let Some(n) = mine.get_mut(&key) {
                        *n -= 1;
                        if *n == 0 {
                            mine.remove(&key);
                        }
                    }
                }
                if !self.disconnect(key.1, &key.0) {
                    return Err(ProtocolError(format!(
                        "connect limit: disconnection for unknown pid {} + ident {}",
                        key.1, key.0
                    )));
                }
                Ok(None)
            }
            Request::ConnectDump => {
                let mut out = String::new();
                for ((ident, pid), n) in &self.by_pid {
                    out.push_str(&tab_escape(ident));
                    out.push_str(&format!("\t{pid}\t{n}\n"));
                }
                out.push('\n');
                Ok(Some(out))
            }
            Request::Kill { pid } => {
                if !master {
                    return Err(ProtocolError("KILL sent by a non-master connection".into()));
                }
                self.kill(pid);
                Ok(None)
            }
            Request::Lookup { ident } => Ok(Some(format!("{}\n", self.lookup(&ident)))),
            Request::PenaltyGet { ident } => {
                self.expire(now);
                let (value, stamp) = self
                    .penalties
                    .get(&ident)
                    .map_or((0, 0), |r| (r.penalty, r.last_penalty));
                Ok(Some(format!("{value} {stamp}\n")))
            }
            Request::PenaltyInc {
                ident,
                checksum,
                value,
            } => {
                self.penalty_inc(&ident, checksum, value, now);
                Ok(None)
            }
            Request::PenaltySetExpireSecs { secs } => {
                self.expire_secs = secs;
                Ok(None)
            }
            Request::PenaltyDump => {
                self.expire(now);
                let mut records: Vec<(&String, &PenaltyRecord)> = self.penalties.iter().collect();
                records.sort_by_key(|(_, r)| r.last_update);
                let mut out = String::new();
                for (ident, r) in records {
                    out.push_str(&tab_escape(ident));
                    out.push_str(&format!(
                        "\t{}\t{}\t{}\n",
                        r.penalty, r.last_penalty, r.last_update
                    ));
                }
                out.push('\n');
                Ok(Some(out))
            }
        }
    }

    fn connect(&mut self, pid: u32, ident: &str) {
        *self.counts.entry(ident.to_string()).or_insert(0) += 1;
        *self.by_pid.entry((ident.to_string(), pid)).or_insert(0) += 1;
    }

    /// Drops one session; false if there was none for (pid, ident).
    fn disconnect(&mut self, pid: u32, ident: &str) -> bool {
        let key = (ident.to_string(), pid);
        let Some(n) = self.by_pid.get_mut(&key) else {
            return false;
        };
        *n -= 1;
        if *n == 0 {
            self.by_pid.remove(&key);
        }
        if let Some(c) = self.counts.get_mut(ident) {
            *c -= 1;
            if *c == 0 {
                self.counts.remove(ident);
            }
        }
        true
    }

    /// Drops every session of process `pid` (the master's KILL).
    pub fn kill(&mut self, pid: u32) {
        let keys: Vec<(String, u32)> = self
            .by_pid
            .keys()
            .filter(|(_, p)| *p == pid)
            .cloned()
            .collect();
        for key in keys {
            let n = self.by_pid.get(&key).copied().unwrap_or(0);
            for _ in 0..n {
                self.disconnect(pid, &key.0);
            }
        }
        for mine in self.by_connection.values_mut() {
            mine.retain(|(_, p), _| *p != pid);
        }
    }

    /// Connection `conn` closed: the sessions it registered end with it.
    pub fn connection_closed(&mut self, conn: ConnectionId) {
        let Some(mine) = self.by_connection.remove(&conn) else {
            return;
        };
        for ((ident, pid), n) in mine {
            for _ in 0..n {
                self.disconnect(pid, &ident);
            }
        }
    }

    fn penalty_inc(&mut self, ident: &str, checksum: u32, value: u32, now: i64) {
        self.expire(now);
        if !self.penalties.contains_key(ident) && self.penalties.len() >= MAX_PENALTIES {
            if let Some(oldest) = self
                .penalties
                .iter()
                .min_by_key(|(_, r)| r.last_update)
                .map(|(k, _)| k.clone())
            {
                self.penalties.remove(&oldest);
            }
        }
        let r = self
            .penalties
            .entry(ident.to_string())
            .or_insert(PenaltyRecord {
                penalty: 0,
                last_penalty: now,
                last_update: now,
                checksums: Vec::new(),
            });
        if checksum == 0 {
            r.penalty = value;
            r.last_penalty = now;
        } else if let Some(i) = r.checksums.iter().position(|&c| c == checksum) {
            // The same credentials again: most likely a misconfigured
            // client, not a guesser; the penalty does not grow.
            r.checksums.remove(i);
            r.checksums.insert(0, checksum);
            r.penalty = value.saturating_sub(1);
        } else {
            r.checksums.insert(0, checksum);
            r.checksums.truncate(CHECKSUMS);
            r.penalty = value;
            r.last_penalty = now;
        }
        r.last_update = now;
    }

    /// Forgets penalties not updated for `expire_secs`.
    fn expire(&mut self, now: i64) {
        let limit = now - i64::from(self.expire_secs);
        self.penalties.retain(|_, r| r.last_update > limit);
    }

    /// Number of penalty entries.
    #[cfg(test)]
    pub fn penalty_count(&self) -> usize {
        self.penalties.len()
    }
}

/// Drives an [`AnvilState`] with arbitrary bytes as the fuzz target and
/// the corpus replay do: the first byte picks which connections may KILL,
/// each later line is a request from connection `line number % 4`, an
/// empty line closes that connection. Panics if a session outlives every
/// connection that registered it.
#[doc(hidden)]
#[allow(dead_code)] // the fuzz target compiles this file on its own and calls it
pub fn fuzz_requests(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut state = AnvilState::default();
    let mut idents = Vec::new();
    for (i, line) in rest.split(|&b| b == b'\n').enumerate() {
        let conn = (i % 4) as ConnectionId;
        if line.is_empty() {
            state.connection_closed(conn);
            continue;
        }
        if let Ok(Some(request)) = super::protocol::parse_request(line) {
            if let Request::Connect { ident, .. } = &request {
                idents.push(ident.clone());
            }
            let master = flags & (1 << conn) != 0;
            let _ = state.apply(conn, master, request, i64::from(flags) * 1000 + i as i64);
        }
    }
    for conn in 0..4 {
        state.connection_closed(conn);
    }
    for ident in idents {
        assert_eq!(
            state.lookup(&ident),
            0,
            "{ident:?} outlived its connections"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(line: &str) -> Request {
        super::super::protocol::parse_request(line.as_bytes())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn sessions_are_counted_per_ident_and_vanish_with_their_connection() {
        let mut s = AnvilState::default();
        let id = "imap/192.0.2.1/alice";
        s.apply(1, false, req(&format!("CONNECT\t100\t{id}")), 0)
            .unwrap();
        s.apply(1, false, req(&format!("CONNECT\t100\t{id}")), 0)
            .unwrap();
        s.apply(2, false, req(&format!("CONNECT\t200\t{id}")), 0)
            .unwrap();
        assert_eq!(
            s.apply(3, false, req(&format!("LOOKUP\t{id}")), 0).unwrap(),
            Some("3\n".into())
        );
        s.apply(2, false, req(&format!("DISCONNECT\t200\t{id}")), 0)
            .unwrap();
        assert_eq!(s.lookup(id), 2);
        s.connection_closed(1);
        assert_eq!(s.lookup(id), 0);
        assert_eq!(
            s.apply(3, false, req("CONNECT-DUMP"), 0).unwrap(),
            Some("\n".into())
        );
        let e = s
            .apply(2, false, req(&format!("DISCONNECT\t200\t{id}")), 0)
            .unwrap_err();
        assert!(e.0.contains("unknown pid 200"), "{e}");
    }

    /// Replays every file of the fuzz target's corpus.
    #[test]
    fn fuzz_corpus_replays() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/serve_anvil");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            fuzz_requests(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0);
    }

    #[test]
    fn kill_is_for_the_master_only() {
        let mut s = AnvilState::default();
        s.apply(1, false, req("CONNECT\t7\tpop3/::1/bob"), 0)
            .unwrap();
        s.apply(1, false, req("CONNECT\t8\tpop3/::1/bob"), 0)
            .unwrap();
        let e = s.apply(2, false, req("KILL\t7"), 0).unwrap_err();
        assert_eq!(e.0, "KILL sent by a non-master connection");
        s.apply(2, true, req("KILL\t7"), 0).unwrap();
        assert_eq!(s.lookup("pop3/::1/bob"), 1);
        assert_eq!(
            s.apply(2, false, req("CONNECT-DUMP"), 0).unwrap().unwrap(),
            "pop3/::1/bob\t8\t1\n\n"
        );
        s.connection_closed(1);
        assert_eq!(s.lookup("pop3/::1/bob"), 0);
    }

    #[test]
    fn penalties_follow_dovecots_rules() {
        let mut s = AnvilState::default();
        let get = |s: &mut AnvilState, now| {
            s.apply(1, false, req("PENALTY-GET\t192.0.2.9"), now)
                .unwrap()
                .unwrap()
        };
        assert_eq!(get(&mut s, 1000), "0 0\n");
        s.apply(1, false, req("PENALTY-INC\t192.0.2.9\t1111\t1"), 1000)
            .unwrap();
        assert_eq!(get(&mut s, 1000), "1 1000\n");
        s.apply(1, false, req("PENALTY-INC\t192.0.2.9\t2222\t2"), 1010)
            .unwrap();
        assert_eq!(get(&mut s, 1010), "2 1010\n");
        // the same credentials again: value - 1, time of the last real penalty kept
        s.apply(1, false, req("PENALTY-INC\t192.0.2.9\t2222\t3"), 1020)
            .unwrap();
        assert_eq!(get(&mut s, 1020), "2 1010\n");
        // checksum 0: set as given
        s.apply(1, false, req("PENALTY-INC\t192.0.2.9\t0\t0"), 1030)
            .unwrap();
        assert_eq!(get(&mut s, 1030), "0 1030\n");
        assert_eq!(
            s.apply(1, false, req("PENALTY-DUMP"), 1030)
                .unwrap()
                .unwrap(),
            "192.0.2.9\t0\t1030\t1030\n\n"
        );
        // expiry after an hour without updates
        s.apply(1, false, req("PENALTY-SET-EXPIRE-SECS\t60"), 1030)
            .unwrap();
        assert_eq!(get(&mut s, 1091), "0 0\n");
        assert_eq!(s.penalty_count(), 0);
    }
}
