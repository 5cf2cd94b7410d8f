//! The counters.

use std::collections::BTreeMap;

use super::protocol::MAX_COUNTERS;

/// Counter name -> value, bounded in size.
#[derive(Debug, Default)]
pub struct Counters {
    values: BTreeMap<String, u64>,
}

impl Counters {
    /// Adds `n` to `counter`; a new counter beyond [`MAX_COUNTERS`] is dropped.
    pub fn inc(&mut self, counter: &str, n: u64) -> bool {
        if let Some(v) = self.values.get_mut(counter) {
            *v = v.saturating_add(n);
            return true;
        }
        if self.values.len() >= MAX_COUNTERS {
            return false;
        }
        self.values.insert(counter.to_string(), n);
        true
    }

    /// The value of `counter`.
    #[cfg(test)]
    pub fn get(&self, counter: &str) -> u64 {
        self.values.get(counter).copied().unwrap_or(0)
    }

    /// The `DUMP` reply: `<counter>\t<value>` lines, then an empty line.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.values {
            out.push_str(&format!("{k}\t{v}\n"));
        }
        out.push('\n');
        out
    }
}

/// Parses a `DUMP` reply back into (counter, value) pairs.
pub fn parse_dump(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.split_once('\t')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// Drives the stats protocol and [`Counters`] with arbitrary bytes as the
/// fuzz target and the corpus replay do: every line is parsed and, if it
/// is an `INC`, counted; panics if the table outgrows its bound.
#[doc(hidden)]
#[allow(dead_code)] // the fuzz target compiles this file on its own and calls it
pub fn fuzz_lines(data: &[u8]) {
    let mut counters = Counters::default();
    for line in data.split(|&b| b == b'\n') {
        if let Ok(super::protocol::StatsRequest::Inc { counter, n }) = super::protocol::parse(line)
        {
            counters.inc(&counter, n);
        }
    }
    assert!(parse_dump(&counters.dump()).len() <= MAX_COUNTERS);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays every file of the fuzz target's corpus.
    #[test]
    fn fuzz_corpus_replays() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/serve_stats");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            fuzz_lines(&std::fs::read(entry.unwrap().path()).unwrap());
            n += 1;
        }
        assert!(n > 0);
    }

    #[test]
    fn counters_add_saturate_and_stay_bounded() {
        let mut c = Counters::default();
        c.inc("imap.logins", 2);
        c.inc("imap.logins", 3);
        assert_eq!(c.get("imap.logins"), 5);
        c.inc("x", u64::MAX);
        c.inc("x", 1);
        assert_eq!(c.get("x"), u64::MAX);
        for i in 0..MAX_COUNTERS + 10 {
            c.inc(&format!("c{i}"), 1);
        }
        assert_eq!(parse_dump(&c.dump()).len(), MAX_COUNTERS);
    }
}
