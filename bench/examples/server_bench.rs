//! Columba's server against Dovecot 2.3 on the same machine and the same
//! mail: logins per second and a mixed workload at 1, 10 and 50 concurrent
//! clients, and memory per idle logged-in connection, printed as one table
//! with the ratio Columba/Dovecot per row.
//!
//! ```sh
//! cargo run --release -p columba-bench --example server_bench -- [--duration SECS]
//!     [--clients 1,10,50] [--idle 200] [--messages 100] [--users N]
//!     [--size-only-names] [--big-mailbox N] [--build]
//! ```
//!
//! `--big-mailbox N` (default 100000, 0 skips it) also times opening an
//! N-message INBOX (first SELECT ever, new session, same session),
//! `FETCH 1:* (FLAGS)` on it and `SEARCH SUBJECT` over 10,000 messages.
//!
//! Run it as root (Dovecot's mail processes then run as uid 5000) or as
//! any user Dovecot can run as. See the crate README for what is measured.

use std::time::{Duration, Instant};

use columba_bench::server::big_mailbox::{self, BIG_USER, SEARCH_FOLDER, SEARCH_WORD};
use columba_bench::server::messages::{
    bench_messages, fill_mailbox, generated_message, Rng, SizeInNames,
};
use columba_bench::server::process_tree::{self, TreeSample};
use columba_bench::server::servers::{
    columba_binary, dovecot_version, start_columba, start_dovecot, RunningServer,
};
use columba_bench::server::workload::{
    self, MixedWorkload, RunResult, MIXED_COMMANDS, MIXED_COMMANDS_PER_ROUND,
};

struct Options {
    duration: Duration,
    clients: Vec<usize>,
    idle: usize,
    messages: usize,
    users: usize,
    names: SizeInNames,
    big_mailbox: usize,
    build: bool,
}

const USAGE: &str = "usage: server_bench [--duration SECS] [--clients 1,10,50] [--idle N] \
                     [--messages N] [--users N] [--size-only-names] [--big-mailbox N] [--build]";

fn options() -> Result<Options, String> {
    let mut o = Options {
        duration: Duration::from_secs(8),
        clients: vec![1, 10, 50],
        idle: 200,
        messages: 100,
        users: 0,
        names: SizeInNames::SizeAndVirtualSize,
        big_mailbox: 100_000,
        build: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{v}: {e}"));
        match arg.as_str() {
            "--duration" => {
                let secs: f64 = value()?.parse().map_err(|e| format!("--duration: {e}"))?;
                o.duration = Duration::from_secs_f64(secs.max(0.5));
            }
            "--clients" => {
                o.clients = value()?
                    .split(',')
                    .map(|c| number(c.to_string()))
                    .collect::<Result<_, _>>()?;
                if o.clients.contains(&0) {
                    return Err("--clients: 0 clients".into());
                }
            }
            "--idle" => o.idle = number(value()?)?.max(1),
            "--messages" => o.messages = number(value()?)?.max(4),
            "--users" => o.users = number(value()?)?.max(1),
            "--size-only-names" => o.names = SizeInNames::SizeOnly,
            "--big-mailbox" => o.big_mailbox = number(value()?)?,
            "--build" => o.build = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(o)
}

/// One server's figures for one row.
#[derive(Clone, Copy, Default)]
struct Figure {
    value: f64,
    /// Server CPU time per operation, in microseconds (0 when not measured).
    cpu_us_per_op: f64,
    errors: u64,
}

struct Row {
    label: String,
    unit: &'static str,
    columba: Figure,
    dovecot: Figure,
}

fn tree(server: &RunningServer) -> TreeSample {
    server
        .root_pid()
        .and_then(process_tree::sample)
        .unwrap_or_default()
}

/// Runs `work` against `server` (given the root pid of its process tree)
/// and reports throughput, CPU time per operation and failures.
fn measured(
    what: &str,
    server: &RunningServer,
    work: impl FnOnce(Option<u32>) -> RunResult,
) -> (Figure, RunResult) {
    eprintln!("  {what}: {}", server.kind.name());
    let result = work(server.root_pid().ok());
    if let Some(e) = &result.first_error {
        eprintln!(
            "  {}: {} errors, first: {e}",
            server.kind.name(),
            result.errors
        );
    }
    (
        Figure {
            value: result.per_second(),
            cpu_us_per_op: result.server_cpu_us_per_op().unwrap_or(0.0),
            errors: result.errors,
        },
        result,
    )
}

/// Runs `measure` on both servers, Columba first on even rows and Dovecot
/// first on odd ones, so a drift in the machine's load does not always
/// favour the same server; returns (Columba's, Dovecot's).
fn both<T>(
    row: usize,
    columba: &RunningServer,
    dovecot: &RunningServer,
    mut measure: impl FnMut(&RunningServer) -> T,
) -> (T, T) {
    if row.is_multiple_of(2) {
        let c = measure(columba);
        (c, measure(dovecot))
    } else {
        let d = measure(dovecot);
        (measure(columba), d)
    }
}

/// Memory per idle connection: PSS and RSS of the whole tree with `count`
/// logged-in connections (INBOX selected) minus the same without them.
/// Returns PSS and RSS per connection, the tree's processes with the
/// connections open, and its PSS in MiB without and with them.
fn idle_memory(
    server: &RunningServer,
    count: usize,
) -> Result<(f64, f64, usize, f64, f64), String> {
    std::thread::sleep(Duration::from_millis(1500));
    let before = tree(server);
    let idle = workload::open_idle(&server.target, count, "INBOX")?;
    std::thread::sleep(Duration::from_millis(1500));
    let after = tree(server);
    for c in idle {
        let _ = c.logout();
    }
    let per = |a: u64, b: u64| (a as f64 - b as f64) / count as f64;
    Ok((
        per(after.pss_kib, before.pss_kib),
        per(after.rss_kib, before.rss_kib),
        after.processes,
        before.pss_kib as f64 / 1024.0,
        after.pss_kib as f64 / 1024.0,
    ))
}

/// Logs in as every user and selects INBOX once, so both servers have
/// built their indexes before anything is timed; checks the message count.
fn warm_up(server: &RunningServer, expected: usize) -> Result<(), String> {
    let name = server.kind.name();
    for (i, user) in server.target.users.iter().enumerate() {
        let mut c = server
            .target
            .login(i)
            .map_err(|e| format!("{name}: {user}: {e}"))?;
        let r = c.command("SELECT INBOX").map_err(|e| e.to_string())?;
        let exists = r.untagged_number("EXISTS").unwrap_or(0) as usize;
        if !r.is_ok() || exists != expected {
            return Err(format!(
                "{name}: {user}: SELECT INBOX: {} with {exists} messages, expected {expected}",
                r.tagged
            ));
        }
        c.command("FETCH 1:* (FLAGS)").map_err(|e| e.to_string())?;
        c.logout().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// One row of the big-mailbox table: median times on each server.
struct TimeRow {
    label: String,
    columba: Duration,
    dovecot: Duration,
    runs: usize,
}

/// Fills [`BIG_USER`]'s INBOX with `count` generated messages and
/// [`SEARCH_FOLDER`] with the first 10,000 of them, the same files on both
/// servers; no session has opened them yet.
fn fill_big_mailbox(servers: [&RunningServer; 2], count: usize) -> Result<usize, String> {
    let started = Instant::now();
    let messages = big_mailbox::big_messages(count);
    let searched = count.min(big_mailbox::SEARCH_MESSAGES);
    for server in servers {
        let name = server.kind.name();
        let root = server.maildir(BIG_USER);
        big_mailbox::write_mailbox(&root, "INBOX", &messages)
            .and_then(|()| big_mailbox::write_mailbox(&root, SEARCH_FOLDER, &messages[..searched]))
            .and_then(|()| server.fix_ownership(BIG_USER))
            .map_err(|e| format!("{name}: filling {BIG_USER}'s mailboxes: {e}"))?;
    }
    eprintln!(
        "  big mailbox: {count} + {searched} messages written for each server in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(searched)
}

/// Runs `measure` `runs` times on each server, alternating which goes
/// first, and returns the medians (Columba's, Dovecot's).
fn medians(
    runs: usize,
    columba: &RunningServer,
    dovecot: &RunningServer,
    mut measure: impl FnMut(&RunningServer) -> Result<Vec<Duration>, String>,
) -> Result<(Duration, Duration), String> {
    let (mut c, mut d) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let (cs, ds) = both(run, columba, dovecot, |s| {
            measure(s).map_err(|e| format!("{}: {e}", s.kind.name()))
        });
        c.extend(cs?);
        d.extend(ds?);
    }
    Ok((big_mailbox::median(&mut c), big_mailbox::median(&mut d)))
}

/// The big-mailbox section: every answer checked, each row the median of
/// several runs on each server.
fn big_section(
    columba: &RunningServer,
    dovecot: &RunningServer,
    count: usize,
    searched: usize,
) -> Result<Vec<TimeRow>, String> {
    let e = |e: std::io::Error| e.to_string();
    let mut rows = Vec::new();
    let mut row = |label: String, runs: usize, (c, d): (Duration, Duration)| {
        eprintln!(
            "  {label}: Columba {:.1} ms, Dovecot {:.1} ms",
            c.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e3
        );
        rows.push(TimeRow {
            label,
            columba: c,
            dovecot: d,
            runs,
        });
    };
    // 1. first SELECT ever: index files removed before each run
    let cold = medians(3, columba, dovecot, |s| {
        let removed = big_mailbox::remove_index(&s.maildir(BIG_USER), "INBOX").map_err(e)?;
        eprintln!(
            "  cold SELECT: {}: {removed} index files removed",
            s.kind.name()
        );
        let mut c = big_mailbox::login(&s.target).map_err(e)?;
        let t = big_mailbox::timed_open(&mut c, "SELECT", "INBOX", count).map_err(e)?;
        c.logout().map_err(e)?;
        Ok(vec![t])
    })?;
    row(format!("SELECT {count}, cold"), 3, cold);
    // 2. a new session opens it with the index that server wrote
    let warm_new = medians(5, columba, dovecot, |s| {
        let mut c = big_mailbox::login(&s.target).map_err(e)?;
        let t = big_mailbox::timed_open(&mut c, "SELECT", "INBOX", count).map_err(e)?;
        c.logout().map_err(e)?;
        Ok(vec![t])
    })?;
    row(format!("SELECT {count}, new session"), 5, warm_new);
    // 3. and 4. in one session: SELECT again, EXAMINE, FETCH 1:* (FLAGS)
    let mut same = Vec::new();
    let mut examine = Vec::new();
    let mut fetch = Vec::new();
    let (c_same, d_same) = both(0, columba, dovecot, |s| {
        let run = || -> Result<[Vec<Duration>; 3], String> {
            let mut c = big_mailbox::login(&s.target).map_err(e)?;
            big_mailbox::timed_open(&mut c, "SELECT", "INBOX", count).map_err(e)?;
            let reselect = (0..5)
                .map(|_| big_mailbox::timed_open(&mut c, "SELECT", "INBOX", count))
                .collect::<Result<Vec<_>, _>>()
                .map_err(e)?;
            let examine = (0..5)
                .map(|_| big_mailbox::timed_open(&mut c, "EXAMINE", "INBOX", count))
                .collect::<Result<Vec<_>, _>>()
                .map_err(e)?;
            big_mailbox::timed_open(&mut c, "SELECT", "INBOX", count).map_err(e)?;
            let flags = (0..3)
                .map(|_| big_mailbox::timed_fetch_flags(&mut c, count))
                .collect::<Result<Vec<_>, _>>()
                .map_err(e)?;
            c.logout().map_err(e)?;
            Ok([reselect, examine, flags])
        };
        run().map_err(|m| format!("{}: {m}", s.kind.name()))
    });
    for [r, x, f] in [c_same?, d_same?] {
        same.push(r);
        examine.push(x);
        fetch.push(f);
    }
    let pair = |v: &mut Vec<Vec<Duration>>| {
        let d = big_mailbox::median(&mut v[1]);
        (big_mailbox::median(&mut v[0]), d)
    };
    row(format!("SELECT {count}, same session"), 5, pair(&mut same));
    row(
        format!("EXAMINE {count}, same session"),
        5,
        pair(&mut examine),
    );
    row(format!("FETCH 1:{count} (FLAGS)"), 3, pair(&mut fetch));
    // 5. one message changed, then another one's body read: what a
    // client marking mail as read does, each command after a change
    let mut store = (Vec::new(), Vec::new());
    let mut body = (Vec::new(), Vec::new());
    for run in 0..3 {
        let (c, d) = both(run, columba, dovecot, |s| {
            let go = || -> Result<(Vec<Duration>, Vec<Duration>), String> {
                let mut c = big_mailbox::login(&s.target).map_err(e)?;
                big_mailbox::timed_open(&mut c, "SELECT", "INBOX", count).map_err(e)?;
                let (mut stores, mut bodies) = (Vec::new(), Vec::new());
                for i in 0..10 {
                    // spread over the mailbox; each run its own messages
                    let seq = 1 + (run * 10 + i) * (count / 40).max(1);
                    let seq = seq.min(count.saturating_sub(1).max(1));
                    // (a message already \\Seen gets no FETCH from Dovecot)
                    let (t, _) =
                        big_mailbox::timed(&mut c, &format!("STORE {seq} +FLAGS (\\Seen)"))
                            .map_err(e)?;
                    stores.push(t);
                    let (t, r) =
                        big_mailbox::timed(&mut c, &format!("FETCH {} BODY.PEEK[]", seq + 1))
                            .map_err(e)?;
                    if r.count("FETCH") != 1 {
                        return Err(format!(
                            "FETCH {}: {} FETCH lines",
                            seq + 1,
                            r.count("FETCH")
                        ));
                    }
                    bodies.push(t);
                }
                c.logout().map_err(e)?;
                Ok((stores, bodies))
            };
            go().map_err(|m| format!("{}: {m}", s.kind.name()))
        });
        let (c, d) = (c?, d?);
        store.0.extend(c.0);
        store.1.extend(d.0);
        body.0.extend(c.1);
        body.1.extend(d.1);
    }
    let both_medians = |(c, d): &mut (Vec<Duration>, Vec<Duration>)| {
        (big_mailbox::median(c), big_mailbox::median(d))
    };
    row(format!("STORE 1 of {count}"), 30, both_medians(&mut store));
    row(
        "FETCH BODY[] after a STORE".into(),
        30,
        both_medians(&mut body),
    );
    // 6. a message appended by the session that has the mailbox
    // selected, then a NOOP that reports it (EXISTS)
    let mut appended = (Vec::new(), Vec::new());
    let mut noop = (Vec::new(), Vec::new());
    for run in 0..3 {
        let (c, d) = both(run, columba, dovecot, |s| {
            let go = || -> Result<(Vec<Duration>, Vec<Duration>), String> {
                let mut c = big_mailbox::login(&s.target).map_err(e)?;
                big_mailbox::timed_open(&mut c, "SELECT", "INBOX", count + run * 5).map_err(e)?;
                let (mut appends, mut noops) = (Vec::new(), Vec::new());
                for i in 0..5 {
                    let message = format!("Subject: appended {run} {i}\r\n\r\nhello\r\n");
                    let started = Instant::now();
                    let r = c.append("INBOX", "", message.as_bytes()).map_err(e)?;
                    if !r.is_ok() {
                        return Err(format!("APPEND: {}", r.tagged));
                    }
                    appends.push(started.elapsed());
                    // (Dovecot already reports it in the APPEND's answer)
                    let told = r.untagged_number("EXISTS");
                    let (t, r) = big_mailbox::timed(&mut c, "NOOP").map_err(e)?;
                    let exists = r.untagged_number("EXISTS").or(told).unwrap_or(0) as usize;
                    if exists != count + run * 5 + i + 1 {
                        return Err(format!("NOOP after APPEND: EXISTS {exists}"));
                    }
                    noops.push(t);
                }
                c.logout().map_err(e)?;
                Ok((appends, noops))
            };
            go().map_err(|m| format!("{}: {m}", s.kind.name()))
        });
        let (c, d) = (c?, d?);
        appended.0.extend(c.0);
        appended.1.extend(d.0);
        noop.0.extend(c.1);
        noop.1.extend(d.1);
    }
    row(
        format!("APPEND to {count}, selected"),
        15,
        both_medians(&mut appended),
    );
    row("NOOP after that APPEND".into(), 15, both_medians(&mut noop));
    // 7. a message another process delivers into new/ (as an LDA or
    // LMTP does), then the NOOP of the session that has the mailbox
    // selected, which reports it
    let mut delivered = (Vec::new(), Vec::new());
    for run in 0..3 {
        let (c, d) = both(run, columba, dovecot, |s| {
            let go = || -> Result<Vec<Duration>, String> {
                let root = s.maildir(BIG_USER);
                let mut c = big_mailbox::login(&s.target).map_err(e)?;
                let mut exists = count + 15 + run * 5;
                big_mailbox::timed_open(&mut c, "SELECT", "INBOX", exists).map_err(e)?;
                let mut noops = Vec::new();
                for i in 0..5 {
                    let name = format!("1800000000.M{run}{i}P1.elsewhere");
                    let message = format!("Subject: delivered {run}{i}\r\n\r\nhi\r\n");
                    big_mailbox::deliver_to_new(&root, &name, message.as_bytes()).map_err(e)?;
                    exists += 1;
                    let (t, r) = big_mailbox::timed(&mut c, "NOOP").map_err(e)?;
                    let told = r.untagged_number("EXISTS").unwrap_or(0) as usize;
                    if told != exists {
                        return Err(format!(
                            "NOOP after a delivery: EXISTS {told}, expected {exists}"
                        ));
                    }
                    noops.push(t);
                }
                c.logout().map_err(e)?;
                Ok(noops)
            };
            go().map_err(|m| format!("{}: {m}", s.kind.name()))
        });
        delivered.0.extend(c?);
        delivered.1.extend(d?);
    }
    row(
        "NOOP after a delivery to new/".into(),
        15,
        both_medians(&mut delivered),
    );
    // 8. SEARCH SUBJECT over the other folder: first ever (its index
    // removed, then SELECT untimed), then warm; hits checked
    let expected = big_mailbox::expected_hits(searched);
    let mut first = (Vec::new(), Vec::new());
    let mut again = (Vec::new(), Vec::new());
    for run in 0..3 {
        let (c, d) = both(run, columba, dovecot, |s| {
            let go = || -> Result<(Duration, Vec<Duration>), String> {
                let root = s.maildir(BIG_USER);
                big_mailbox::remove_index(&root, SEARCH_FOLDER).map_err(e)?;
                let mut c = big_mailbox::login(&s.target).map_err(e)?;
                big_mailbox::timed_open(&mut c, "SELECT", SEARCH_FOLDER, searched).map_err(e)?;
                let mut times = Vec::new();
                for _ in 0..3 {
                    let (t, hits) = big_mailbox::timed_search(&mut c, SEARCH_WORD).map_err(e)?;
                    if hits.len() != expected {
                        return Err(format!(
                            "SEARCH SUBJECT {SEARCH_WORD}: {} hits, expected {expected}",
                            hits.len()
                        ));
                    }
                    times.push(t);
                }
                c.logout().map_err(e)?;
                let cold = times.remove(0);
                Ok((cold, times))
            };
            go().map_err(|m| format!("{}: {m}", s.kind.name()))
        });
        let (c, d) = (c?, d?);
        first.0.push(c.0);
        first.1.push(d.0);
        again.0.extend(c.1);
        again.1.extend(d.1);
    }
    row(
        format!("SEARCH SUBJECT {searched}, first"),
        3,
        both_medians(&mut first),
    );
    row(
        format!("SEARCH SUBJECT {searched}, again"),
        6,
        both_medians(&mut again),
    );
    eprintln!("  SEARCH SUBJECT \"{SEARCH_WORD}\": {expected} hits on both servers");
    Ok(rows)
}

fn print_big_section(rows: &[TimeRow], count: usize, searched: usize) {
    println!();
    println!(
        "{:<30} {:>12} {:>12} {:>16}   {:>5}",
        "big mailbox, median ms", "Columba", "Dovecot", "Dovecot/Columba", "runs"
    );
    for r in rows {
        let ms = |d: Duration| format!("{:.2}", d.as_secs_f64() * 1e3);
        let ratio = if r.columba > Duration::ZERO {
            let x = r.dovecot.as_secs_f64() / r.columba.as_secs_f64();
            // four decimals, so a small ratio does not print as 0.00x
            if x < 0.1 {
                format!("{x:.4}x")
            } else {
                format!("{x:.2}x")
            }
        } else {
            "-".into()
        };
        println!(
            "{:<30} {:>12} {:>12} {:>16}   {:>5}",
            r.label,
            ms(r.columba),
            ms(r.dovecot),
            ratio,
            r.runs
        );
    }
    println!(
        "big mailbox: user {BIG_USER}, INBOX of {count} generated messages (200 B - 2 KB bodies, \
         names with S= and W=), {SEARCH_FOLDER} of {searched}; times from sending the command \
         to its tagged OK; cold = index files removed first; SEARCH SUBJECT \"{SEARCH_WORD}\" \
         finds {} on both; time ratio Dovecot/Columba > 1: Columba faster",
        big_mailbox::expected_hits(searched)
    );
}

fn ratio(row: &Row) -> String {
    if row.dovecot.value > 0.0 {
        format!("{:.2}x", row.columba.value / row.dovecot.value)
    } else {
        "-".into()
    }
}

fn cpu(f: &Figure) -> String {
    if f.cpu_us_per_op > 0.0 {
        format!("{:.0}", f.cpu_us_per_op)
    } else {
        "-".into()
    }
}

fn errors(f: &Figure) -> String {
    if f.errors > 0 {
        format!(" ({} err)", f.errors)
    } else {
        String::new()
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&o) {
        eprintln!("server_bench: {e}");
        std::process::exit(1);
    }
}

fn run(o: &Options) -> Result<(), String> {
    let wall = Instant::now();
    let load_start = loadavg();
    let binary = columba_binary(o.build).map_err(|e| format!("columba binary: {e}"))?;
    let messages = bench_messages(o.messages).map_err(|e| format!("messages: {e}"))?;
    let append_message = generated_message(100_000, 2_000, &mut Rng::new(7));
    let max_clients = o.clients.iter().copied().max().unwrap_or(1);
    // one user per client, and at most 4 idle connections per user, so no
    // one reaches the default of 10 connections per user and address
    let user_count = if o.users > 0 {
        o.users
    } else {
        max_clients.max(o.idle.div_ceil(4))
    };
    let users: Vec<String> = (1..=user_count).map(|i| format!("bench{i}")).collect();
    let mut all_users = users.clone();
    if o.big_mailbox > 0 {
        all_users.push(BIG_USER.into());
    }

    let mut columba =
        start_columba(&binary, &all_users).map_err(|e| format!("columba serve: {e}"))?;
    let mut dovecot =
        start_dovecot(&all_users, &columba.target.password).map_err(|e| format!("dovecot: {e}"))?;
    // the workloads log in only as the bench users
    columba.target.users = users.clone();
    dovecot.target.users = users.clone();
    eprintln!(
        "  server process trees: Columba pid {}, Dovecot master pid {}",
        columba.root_pid().unwrap_or(0),
        dovecot.root_pid().unwrap_or(0)
    );
    for server in [&columba, &dovecot] {
        for user in &users {
            fill_mailbox(&server.maildir(user), "INBOX", &messages, o.names)
                .map_err(|e| format!("{}: filling {user}'s INBOX: {e}", server.kind.name()))?;
            server
                .fix_ownership(user)
                .map_err(|e| format!("{}: ownership: {e}", server.kind.name()))?;
        }
        warm_up(server, messages.len())?;
    }
    let big_rows = if o.big_mailbox > 0 {
        let searched = fill_big_mailbox([&columba, &dovecot], o.big_mailbox)?;
        let rows = big_section(&columba, &dovecot, o.big_mailbox, searched)?;
        Some((rows, searched))
    } else {
        None
    };

    println!(
        "Columba ({}) vs Dovecot {} on 127.0.0.1, plain IMAP, LOGIN, {} users in a {{PLAIN}} \
         passwd-file on both",
        binary.display(),
        dovecot_version(),
        users.len()
    );
    println!(
        "{} messages in each user's INBOX (file names with {}), {} s per measurement, {} idle \
         connections; load average {}",
        messages.len(),
        match o.names {
            SizeInNames::SizeAndVirtualSize => "S= and W=",
            SizeInNames::SizeOnly => "S= only",
        },
        o.duration.as_secs_f64(),
        o.idle,
        load_start
    );

    let mut rows = Vec::new();
    for &c in &o.clients {
        let what = format!("logins, {c} clients");
        let ((col, _), (dov, _)) = both(rows.len(), &columba, &dovecot, |server| {
            measured(&what, server, |pid| {
                workload::logins(&server.target, c, o.duration, pid)
            })
        });
        rows.push(Row {
            label: format!("logins/s, {c} client{}", if c == 1 { "" } else { "s" }),
            unit: "/s",
            columba: col,
            dovecot: dov,
        });
    }
    let mixed = MixedWorkload {
        mailbox: "INBOX".into(),
        append_message,
        bodies_per_fetch: 3,
    };
    let mut latencies = Vec::new();
    for &c in &o.clients {
        let what = format!("mixed, {c} clients");
        let ((col, col_run), (dov, dov_run)) = both(rows.len(), &columba, &dovecot, |server| {
            measured(&what, server, |pid| {
                workload::mixed(&server.target, &mixed, c, o.duration, pid)
            })
        });
        latencies.push((c, col_run.mean_latency, dov_run.mean_latency));
        rows.push(Row {
            label: format!("mixed ops/s, {c} client{}", if c == 1 { "" } else { "s" }),
            unit: "/s",
            columba: col,
            dovecot: dov,
        });
    }
    let (cpss, crss, cprocs, cbase, cfull) = idle_memory(&columba, o.idle)?;
    let (dpss, drss, dprocs, dbase, dfull) = idle_memory(&dovecot, o.idle)?;
    let mem = |v: f64| Figure {
        value: v,
        ..Figure::default()
    };
    rows.push(Row {
        label: "PSS per idle connection".into(),
        unit: "KiB",
        columba: mem(cpss),
        dovecot: mem(dpss),
    });
    rows.push(Row {
        label: "RSS per idle connection".into(),
        unit: "KiB",
        columba: mem(crss),
        dovecot: mem(drss),
    });

    println!();
    println!(
        "{:<28} {:>16} {:>16} {:>16}   {:>22}",
        "", "Columba", "Dovecot", "Columba/Dovecot", "server CPU us/op C / D"
    );
    for r in &rows {
        let value = |f: &Figure| format!("{:.1} {}{}", f.value, r.unit, errors(f));
        println!(
            "{:<28} {:>16} {:>16} {:>16}   {:>22}",
            r.label,
            value(&r.columba),
            value(&r.dovecot),
            ratio(r),
            format!("{} / {}", cpu(&r.columba), cpu(&r.dovecot))
        );
    }
    println!();
    print!("{:<28}", "mixed: mean latency, ms");
    for (c, _, _) in &latencies {
        print!(" {:>20}", format!("{c} cl. C / D"));
    }
    println!();
    for (i, name) in MIXED_COMMANDS.iter().enumerate() {
        print!("{name:<28}");
        for (_, col, dov) in &latencies {
            let ms = |l: &Vec<Duration>| l.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3);
            print!(" {:>20}", format!("{:.2} / {:.2}", ms(col), ms(dov)));
        }
        println!();
    }
    println!();
    if let Some((rows, searched)) = &big_rows {
        print_big_section(rows, o.big_mailbox, *searched);
        println!();
    }
    println!(
        "mixed: {MIXED_COMMANDS_PER_ROUND} commands per round (SELECT, FETCH 1:* FLAGS, FETCH 3 bodies, \
         STORE, APPEND, UID STORE \\Deleted, EXPUNGE), each one op"
    );
    println!(
        "memory: whole process tree, PSS without / with {} idle connections (INBOX selected): \
         Columba {:.1} / {:.1} MiB in {} processes, Dovecot {:.1} / {:.1} MiB in {} processes",
        o.idle, cbase, cfull, cprocs, dbase, dfull, dprocs
    );
    println!(
        "throughput ratio > 1: Columba faster; memory ratio < 1: Columba smaller. \
         Load average at the end {}; total wall time {:.1} s",
        loadavg(),
        wall.elapsed().as_secs_f64()
    );
    for server in [&columba, &dovecot] {
        let problems = server.log_problems();
        if !problems.is_empty() {
            eprintln!(
                "{} log problems ({}), first: {}",
                server.kind.name(),
                problems.len(),
                problems[0]
            );
        }
    }
    Ok(())
}
