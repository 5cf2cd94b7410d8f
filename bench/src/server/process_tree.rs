//! A server's whole process tree, sampled from `/proc` (Linux): which
//! processes descend from a root pid, how much memory they hold (PSS and RSS
//! from `smaps_rollup`) and how much CPU time they used.
//!
//! A server may be one process with threads or a master with login, auth and
//! per-user children; both are measured the same way, from the root down.

use std::collections::HashMap;
use std::io;

/// Kernel clock ticks per second for `/proc/<pid>/stat` times (`USER_HZ`,
/// fixed at 100 in the Linux user-space ABI).
const TICKS_PER_SECOND: u64 = 100;

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, Copy)]
struct Stat {
    ppid: u32,
    /// utime + stime + cutime + cstime, in clock ticks: the process's own
    /// CPU time plus that of the children it has reaped.
    cpu_ticks: u64,
}

/// Memory and CPU of a process tree at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeSample {
    /// How many live processes the tree had (the root included).
    pub processes: usize,
    /// Sum of proportional set sizes, in KiB: shared pages are divided
    /// among the processes sharing them, so the sum is what the tree costs.
    pub pss_kib: u64,
    /// Sum of resident set sizes, in KiB (shared pages counted once per
    /// process).
    pub rss_kib: u64,
    /// CPU time of the tree in clock ticks, including reaped children.
    pub cpu_ticks: u64,
}

impl TreeSample {
    /// CPU time in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        self.cpu_ticks as f64 / TICKS_PER_SECOND as f64
    }
}

/// Parses the fields of `/proc/<pid>/stat` that matter here. The command
/// name sits in parentheses and may itself hold spaces and parentheses, so
/// fields are counted from the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); ppid is field 4, utime..cstime 14..17.
    let number = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        cpu_ticks: number(11)? + number(12)? + number(13)? + number(14)?,
    })
}

fn all_processes() -> io::Result<HashMap<u32, Stat>> {
    let mut all = HashMap::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may end between the listing and the read.
        if let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) {
            if let Some(stat) = parse_stat(&text) {
                all.insert(pid, stat);
            }
        }
    }
    Ok(all)
}

/// The pids of `root` and all its descendants that are alive now.
pub fn descendants(root: u32) -> io::Result<Vec<u32>> {
    let all = all_processes()?;
    Ok(tree_of(root, &all))
}

fn tree_of(root: u32, all: &HashMap<u32, Stat>) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&pid, stat) in all {
        children.entry(stat.ppid).or_default().push(pid);
    }
    let mut tree = Vec::new();
    if all.contains_key(&root) {
        let mut queue = vec![root];
        while let Some(pid) = queue.pop() {
            tree.push(pid);
            if let Some(kids) = children.get(&pid) {
                queue.extend(kids.iter().copied().filter(|k| *k != pid));
            }
        }
    }
    tree
}

/// Parses `Rss:` and `Pss:` (KiB) out of `/proc/<pid>/smaps_rollup`.
fn parse_rollup(text: &str) -> (u64, u64) {
    let mut rss = 0;
    let mut pss = 0;
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        let value = value.parse::<u64>().unwrap_or(0);
        match key {
            "Rss:" => rss = value,
            "Pss:" => pss = value,
            _ => {}
        }
    }
    (pss, rss)
}

/// Samples the tree rooted at `root`: every live descendant's PSS, RSS and
/// CPU time. Processes that end while being sampled are left out of the
/// memory figures.
pub fn sample(root: u32) -> io::Result<TreeSample> {
    let all = all_processes()?;
    let mut out = TreeSample::default();
    for pid in tree_of(root, &all) {
        // An exiting process (a zombie) has no memory left but its CPU
        // time still counts.
        out.cpu_ticks += all.get(&pid).map_or(0, |s| s.cpu_ticks);
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        let (pss, rss) = parse_rollup(&text);
        out.processes += 1;
        out.pss_kib += pss;
        out.rss_kib += rss;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (imap (x) y) S 17 4242 4242 0 -1 4194560 100 0 0 0 7 3 2 1 20 0 1 0 \
                    555 1000 200 18446744073709551615";
        let stat = parse_stat(line).unwrap();
        assert_eq!(stat.ppid, 17);
        assert_eq!(stat.cpu_ticks, 7 + 3 + 2 + 1);
    }

    #[test]
    fn this_process_is_its_own_tree_and_has_memory() {
        let me = std::process::id();
        assert!(descendants(me).unwrap().contains(&me));
        let s = sample(me).unwrap();
        assert!(s.processes >= 1 && s.pss_kib > 0 && s.rss_kib >= s.pss_kib);
    }

    #[test]
    fn a_child_process_is_in_the_tree() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let tree = descendants(std::process::id()).unwrap();
        let found = tree.contains(&child.id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(found);
    }
}
