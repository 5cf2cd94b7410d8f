//! The workloads, run by plain threads with blocking sockets so the client
//! side costs the same whatever the server: logins per second, a mixed
//! mailbox workload in operations per second, and idle connections held
//! open for the memory measurement.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::imap_client::{ImapClient, Response};
use super::messages::Rng;
use super::process_tree;

/// Where and as whom the clients log in.
#[derive(Clone)]
pub struct Target {
    /// The server's plain IMAP address.
    pub addr: SocketAddr,
    /// Login names; client `i` logs in as `users[i % users.len()]`.
    pub users: Vec<String>,
    /// The password of every user (sent with LOGIN; never printed).
    pub password: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("addr", &self.addr)
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl Target {
    /// The user client `index` logs in as.
    pub fn user(&self, index: usize) -> &str {
        &self.users[index % self.users.len().max(1)]
    }

    /// Connects and logs in as the user of client `index`.
    pub fn login(&self, index: usize) -> std::io::Result<ImapClient> {
        let mut c = ImapClient::connect(self.addr)?;
        c.login(self.user(index), &self.password)?;
        Ok(c)
    }
}

/// What one measured run did.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// Operations completed successfully before the deadline.
    pub ops: u64,
    /// Operations that failed (NO, BAD, a broken connection, a wrong answer).
    pub errors: u64,
    /// How long the run was measured.
    pub elapsed: Duration,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// CPU time the server's process tree used between the start and the
    /// deadline, when its root pid was given.
    pub server_cpu_seconds: Option<f64>,
    /// Mean latency of each command of [`MIXED_COMMANDS`] (mixed workload
    /// only; zero when the command never completed).
    pub mean_latency: Vec<Duration>,
}

impl RunResult {
    /// Successful operations per second.
    pub fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The server's CPU time per successful operation, in microseconds.
    pub fn server_cpu_us_per_op(&self) -> Option<f64> {
        let cpu = self.server_cpu_seconds?;
        (self.ops > 0).then(|| cpu.max(0.0) * 1e6 / self.ops as f64)
    }
}

/// Counters shared by the client threads of one run.
#[derive(Default)]
struct Tally {
    ops: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    /// Total time and count per command of the mixed workload.
    per_command: Mutex<[(Duration, u64); MIXED_COMMANDS.len()]>,
}

impl Tally {
    fn took(&self, command: usize, time: Duration) {
        if let Ok(mut per) = self.per_command.lock() {
            if let Some(slot) = per.get_mut(command) {
                slot.0 += time;
                slot.1 += 1;
            }
        }
    }

    fn fail(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut first) = self.first_error.lock() {
            first.get_or_insert(what);
        }
    }
}

/// One client thread's view of the run: it counts an operation only if it
/// finished before the deadline.
struct Clock {
    deadline: Instant,
}

impl Clock {
    fn running(&self) -> bool {
        Instant::now() < self.deadline
    }
}

/// Runs `clients` threads for `duration`. Each thread first runs `setup`
/// (not measured), then all start together and call `step` until the
/// deadline; `step` counts what it completed in the tally. The server's
/// process tree (rooted at `server`) is sampled at the start and at the
/// deadline, while the clients are still connected, so processes that end
/// when they disconnect are not missed.
fn run<S, F>(clients: usize, duration: Duration, server: Option<u32>, setup: S) -> RunResult
where
    S: Fn(usize) -> F + Send + Sync + 'static,
    F: FnMut(&Clock, &Tally),
{
    let tally = Arc::new(Tally::default());
    let ready = Arc::new(Barrier::new(clients + 1));
    let go = Arc::new(Barrier::new(clients + 1));
    let deadline = Arc::new(OnceLock::new());
    let setup = Arc::new(setup);
    let mut threads = Vec::with_capacity(clients);
    for index in 0..clients {
        let (tally, ready, go, deadline, setup) = (
            tally.clone(),
            ready.clone(),
            go.clone(),
            deadline.clone(),
            setup.clone(),
        );
        let spawned = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut step = setup(index);
                ready.wait();
                go.wait();
                let clock = Clock {
                    deadline: *deadline.get().expect("deadline set before start"),
                };
                while clock.running() {
                    step(&clock, &tally);
                }
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => panic!("cannot start client thread: {e}"),
        }
    }
    ready.wait();
    let cpu = || {
        server
            .and_then(|pid| process_tree::sample(pid).ok())
            .map(|s| s.cpu_seconds())
    };
    let cpu_before = cpu();
    let start = Instant::now();
    let end = start + duration;
    let _ = deadline.set(end);
    go.wait();
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let cpu_after = cpu();
    for t in threads {
        let _ = t.join();
    }
    RunResult {
        ops: tally.ops.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
        elapsed: duration,
        first_error: tally.first_error.lock().ok().and_then(|f| f.clone()),
        server_cpu_seconds: cpu_before.zip(cpu_after).map(|(b, a)| a - b),
        mean_latency: tally
            .per_command
            .lock()
            .map(|per| {
                per.iter()
                    .map(|(total, n)| {
                        if *n > 0 {
                            *total / *n as u32
                        } else {
                            Duration::ZERO
                        }
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Logins per second: each operation is connect, greeting, LOGIN, LOGOUT
/// (read until the server closes). `server` is the root pid of the
/// server's process tree, for its CPU time.
pub fn logins(
    target: &Target,
    clients: usize,
    duration: Duration,
    server: Option<u32>,
) -> RunResult {
    let target = target.clone();
    run(clients, duration, server, move |index| {
        let target = target.clone();
        move |clock: &Clock, tally: &Tally| {
            let cycle = target.login(index).and_then(ImapClient::logout);
            match cycle {
                Ok(()) if clock.running() => {
                    tally.ops.fetch_add(1, Ordering::Relaxed);
                }
                Ok(()) => {}
                Err(e) if clock.running() => {
                    tally.fail(format!("login cycle: {e}"));
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(_) => {}
            }
        }
    })
}

/// The mixed workload's settings.
#[derive(Debug, Clone)]
pub struct MixedWorkload {
    /// The mailbox every client works in (its own user's).
    pub mailbox: String,
    /// The message each APPEND stores.
    pub append_message: Vec<u8>,
    /// How many message bodies one FETCH asks for.
    pub bodies_per_fetch: usize,
}

/// The commands of one round of the mixed workload, in order, as named in
/// reports.
pub const MIXED_COMMANDS: [&str; 7] = [
    "SELECT",
    "FETCH 1:* (FLAGS)",
    "FETCH 3 x BODY.PEEK[]",
    "STORE +/-FLAGS",
    "APPEND 2 KB",
    "UID STORE \\Deleted",
    "EXPUNGE",
];

/// The commands of one round of the mixed workload, each one operation:
/// `SELECT`, `FETCH 1:* (FLAGS)`, `FETCH a,b,c (BODY.PEEK[])`,
/// `STORE n +FLAGS (\Flagged)` (or `-FLAGS`), `APPEND` (synchronizing literal),
/// `UID STORE <appended> +FLAGS.SILENT (\Deleted)`, `EXPUNGE`. The
/// mailbox is back to its size after every round.
pub const MIXED_COMMANDS_PER_ROUND: u64 = MIXED_COMMANDS.len() as u64;

/// A logged-in client of the mixed workload.
struct MixedClient {
    target: Target,
    index: usize,
    mailbox: String,
    workload: Arc<MixedWorkload>,
    client: Option<ImapClient>,
    rng: Rng,
    round: u64,
}

impl MixedClient {
    fn connected(&mut self) -> std::io::Result<&mut ImapClient> {
        if self.client.is_none() {
            self.client = Some(self.target.login(self.index)?);
        }
        Ok(self.client.as_mut().expect("just connected"))
    }

    /// One round; each completed command is counted if the clock still
    /// runs. A wrong answer ends the round as a failure.
    fn round(&mut self, clock: &Clock, tally: &Tally) -> Result<(), String> {
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        let count = |tally: &Tally, command: usize, started: Instant| {
            if clock.running() {
                tally.ops.fetch_add(1, Ordering::Relaxed);
                tally.took(command, started.elapsed());
            }
        };
        let checked = |what: &str, r: std::io::Result<Response>| -> Result<Response, String> {
            let r = r.map_err(|e| io(what, e))?;
            if r.is_ok() {
                Ok(r)
            } else {
                Err(format!("{what}: {}", r.tagged))
            }
        };
        self.round += 1;
        let round = self.round;
        let mailbox = self.mailbox.clone();
        let workload = self.workload.clone();
        let pick: Vec<u64> = (0..workload.bodies_per_fetch)
            .map(|_| self.rng.next_u64())
            .collect();
        let client = self.connected().map_err(|e| io("login", e))?;

        let t = Instant::now();
        let r = checked("SELECT", client.command(&format!("SELECT \"{mailbox}\"")))?;
        let exists = r
            .untagged_number("EXISTS")
            .ok_or("SELECT: no EXISTS".to_string())?;
        if exists == 0 {
            return Err(format!("SELECT: {mailbox} is empty"));
        }
        count(tally, 0, t);

        let t = Instant::now();
        let r = checked("FETCH FLAGS", client.command("FETCH 1:* (FLAGS)"))?;
        if r.count("FETCH") != exists as usize {
            return Err(format!(
                "FETCH 1:* (FLAGS): {} FETCH lines for {exists} messages",
                r.count("FETCH")
            ));
        }
        count(tally, 1, t);

        let set: Vec<String> = pick
            .iter()
            .map(|p| (p % u64::from(exists) + 1).to_string())
            .collect();
        let t = Instant::now();
        let r = checked(
            "FETCH BODY",
            client.command(&format!("FETCH {} (BODY.PEEK[])", set.join(","))),
        )?;
        if r.literal_bytes == 0 {
            return Err("FETCH BODY.PEEK[]: no body bytes".into());
        }
        count(tally, 2, t);

        let seq = pick.first().map_or(1, |p| p % u64::from(exists) + 1);
        let sign = if round.is_multiple_of(2) { '-' } else { '+' };
        let t = Instant::now();
        checked(
            "STORE",
            client.command(&format!("STORE {seq} {sign}FLAGS (\\Flagged)")),
        )?;
        count(tally, 3, t);

        let t = Instant::now();
        let r = checked(
            "APPEND",
            client.append(&mailbox, "\\Seen", &workload.append_message),
        )?;
        let appended = append_uid(&r.tagged);
        count(tally, 4, t);

        let store = match appended {
            Some(uid) => format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"),
            None => "STORE * +FLAGS.SILENT (\\Deleted)".to_string(),
        };
        let t = Instant::now();
        checked("STORE \\Deleted", client.command(&store))?;
        count(tally, 5, t);

        let t = Instant::now();
        let r = checked("EXPUNGE", client.command("EXPUNGE"))?;
        if r.count("EXPUNGE") != 1 {
            return Err(format!(
                "EXPUNGE: {} messages expunged, expected the appended one",
                r.count("EXPUNGE")
            ));
        }
        count(tally, 6, t);
        Ok(())
    }
}

/// The UID in `OK [APPENDUID <validity> <uid>] ...`.
fn append_uid(tagged: &str) -> Option<u32> {
    let start = tagged.find("[APPENDUID ")? + "[APPENDUID ".len();
    let rest = &tagged[start..];
    let end = rest.find(']')?;
    rest[..end].split(' ').nth(1)?.parse().ok()
}

/// The mixed workload in operations per second (see
/// [`MIXED_COMMANDS_PER_ROUND`]). Clients log in before the clock starts.
/// `server` is the root pid of the server's process tree, for its CPU time.
pub fn mixed(
    target: &Target,
    workload: &MixedWorkload,
    clients: usize,
    duration: Duration,
    server: Option<u32>,
) -> RunResult {
    let target = target.clone();
    let workload = Arc::new(workload.clone());
    run(clients, duration, server, move |index| {
        let mut client = MixedClient {
            target: target.clone(),
            index,
            mailbox: workload.mailbox.clone(),
            workload: workload.clone(),
            client: None,
            rng: Rng::new(index as u64 + 1),
            round: 0,
        };
        let _ = client.connected();
        move |clock: &Clock, tally: &Tally| {
            if let Err(e) = client.round(clock, tally) {
                if clock.running() {
                    tally.fail(e);
                }
                // start over on a fresh connection
                client.client = None;
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    })
}

/// Opens `count` connections, connection `i` logged in as client `i`'s
/// user, each with `mailbox` selected.
pub fn open_idle(target: &Target, count: usize, mailbox: &str) -> Result<Vec<ImapClient>, String> {
    let mut idle = Vec::with_capacity(count);
    for i in 0..count {
        let mut c = target
            .login(i)
            .map_err(|e| format!("connection {i}: {e}"))?;
        let r = c
            .command(&format!("SELECT \"{mailbox}\""))
            .map_err(|e| format!("connection {i}: SELECT: {e}"))?;
        if !r.is_ok() {
            return Err(format!("connection {i}: SELECT: {}", r.tagged));
        }
        idle.push(c);
    }
    Ok(idle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appenduid_is_read_from_the_completion() {
        assert_eq!(
            append_uid("OK [APPENDUID 1700000000 42] Append completed."),
            Some(42)
        );
        assert_eq!(append_uid("OK Append completed."), None);
    }

    #[test]
    fn a_run_counts_only_what_finished_before_the_deadline() {
        let r = run(
            3,
            Duration::from_millis(200),
            Some(std::process::id()),
            |_| {
                |clock: &Clock, tally: &Tally| {
                    std::thread::sleep(Duration::from_millis(20));
                    if clock.running() {
                        tally.ops.fetch_add(1, Ordering::Relaxed);
                    }
                }
            },
        );
        assert!(r.ops >= 3 && r.ops <= 30, "{r:?}");
        assert_eq!(r.errors, 0);
        assert!(r.server_cpu_seconds.is_some());
    }
}
