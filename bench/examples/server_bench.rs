//! Columba's server against Dovecot 2.3 on the same machine and the same
//! mail: logins per second and a mixed workload at 1, 10 and 50 concurrent
//! clients, and memory per idle logged-in connection, printed as one table
//! with the ratio Columba/Dovecot per row.
//!
//! ```sh
//! cargo run --release -p columba-bench --example server_bench -- [--duration SECS]
//!     [--clients 1,10,50] [--idle 200] [--messages 100] [--users N]
//!     [--size-only-names] [--build]
//! ```
//!
//! Run it as root (Dovecot's mail processes then run as uid 5000) or as
//! any user Dovecot can run as. See the crate README for what is measured.

use std::time::{Duration, Instant};

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
    build: bool,
}

const USAGE: &str = "usage: server_bench [--duration SECS] [--clients 1,10,50] [--idle N] \
                     [--messages N] [--users N] [--size-only-names] [--build]";

fn options() -> Result<Options, String> {
    let mut o = Options {
        duration: Duration::from_secs(8),
        clients: vec![1, 10, 50],
        idle: 200,
        messages: 100,
        users: 0,
        names: SizeInNames::SizeAndVirtualSize,
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

    let columba = start_columba(&binary, &users).map_err(|e| format!("columba serve: {e}"))?;
    let dovecot =
        start_dovecot(&users, &columba.target.password).map_err(|e| format!("dovecot: {e}"))?;
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
