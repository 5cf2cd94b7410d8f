//! The `subscriptions` file (versions 1 and 2) and Dovecot's tab-escaping.

use std::path::{Path, PathBuf};

use crate::dotlock::{Dotlock, DotlockSettings};
use crate::error::{Error, Result};
use crate::fsutil;

/// File name of the subscription list in the namespace root.
pub const SUBSCRIPTIONS_NAME: &str = "subscriptions";

/// Dovecot's `str_append_tabescaped()`.
pub fn tab_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\x01' => out.push_str("\x011"),
            '\t' => out.push_str("\x01t"),
            '\r' => out.push_str("\x01r"),
            '\n' => out.push_str("\x01n"),
            c => out.push(c),
        }
    }
    out
}

/// Dovecot's `str_tabunescape()`: `0x01` + `0 1 t r n` map back, `0x01` +
/// anything else is that byte, a trailing lone `0x01` is dropped.
pub fn tab_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\x01' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('\0'),
            Some('1') => out.push('\x01'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// The subscribed mailboxes, as storage names (mUTF-7 components joined by
/// the Maildir++ separator `.`), plus the file version to write back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriptions {
    /// 1 (plain lines) or 2 (header, tab-separated components).
    pub version: u8,
    /// Storage names split into hierarchy components, in file order.
    pub names: Vec<Vec<String>>,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Subscriptions {
            version: 2,
            names: Vec::new(),
        }
    }
}

impl Subscriptions {
    /// Parses the file. Version 1 names are split at `sep`. A trailing
    /// separator is dropped; empty lines are skipped.
    pub fn parse(data: &[u8], sep: char) -> Result<Subscriptions> {
        let text = std::str::from_utf8(data).map_err(|e| Error::Subscriptions {
            line: data[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1,
            reason: format!("not UTF-8 at byte {}", e.valid_up_to()),
        })?;
        let mut lines = text.split('\n').enumerate().peekable();
        let mut subs = Subscriptions {
            version: 1,
            names: Vec::new(),
        };
        if let Some((_, first)) = lines.peek() {
            if let Some(v) = first.strip_prefix("V\t") {
                subs.version = match v {
                    "2" => 2,
                    _ => {
                        return Err(Error::Subscriptions {
                            line: 1,
                            reason: format!("unsupported version {v:?}"),
                        })
                    }
                };
                lines.next();
            }
        }
        for (_, line) in lines {
            if line.is_empty() {
                continue;
            }
            let mut parts: Vec<String> = if subs.version == 2 {
                line.split('\t').map(tab_unescape).collect()
            } else {
                line.split(sep).map(str::to_string).collect()
            };
            while parts.last().is_some_and(String::is_empty) && parts.len() > 1 {
                parts.pop();
            }
            if parts.iter().all(String::is_empty) {
                continue;
            }
            if !subs.names.contains(&parts) {
                subs.names.push(parts);
            }
        }
        Ok(subs)
    }

    /// The file content in this list's version, or in version 2 when a
    /// name cannot be written as a version 1 line (a TAB, CR, LF or the
    /// separator inside a component).
    pub fn to_bytes(&self, sep: char) -> Vec<u8> {
        let mut s = String::new();
        let v2 = self.version >= 2
            || self
                .names
                .iter()
                .flatten()
                .any(|c| c.contains(['\t', '\r', '\n', sep]));
        if v2 {
            s.push_str("V\t2\n\n");
        }
        for name in &self.names {
            if v2 {
                let parts: Vec<String> = name.iter().map(|p| tab_escape(p)).collect();
                s.push_str(&parts.join("\t"));
            } else {
                s.push_str(&name.join(&sep.to_string()));
            }
            s.push('\n');
        }
        s.into_bytes()
    }

    /// True when `name` (components) is subscribed.
    pub fn contains(&self, name: &[String]) -> bool {
        self.names.iter().any(|n| n == name)
    }
}

/// `subscriptions` on disk.
#[derive(Debug, Clone)]
pub struct SubscriptionsFile {
    path: PathBuf,
}

impl SubscriptionsFile {
    /// The file in the namespace root's control directory.
    pub fn new(root: &Path) -> SubscriptionsFile {
        SubscriptionsFile {
            path: root.join(SUBSCRIPTIONS_NAME),
        }
    }

    /// Reads the list (empty, version 2, when the file does not exist).
    pub fn read(&self) -> Result<Subscriptions> {
        match fsutil::read_limited(&self.path)? {
            Some(d) => Subscriptions::parse(&d, '.'),
            None => Ok(Subscriptions::default()),
        }
    }

    /// Changes the list under `subscriptions.lock`: read, apply `change`,
    /// write the new content into the lock file and rename it over.
    pub fn update(&self, change: impl FnOnce(&mut Subscriptions)) -> Result<Subscriptions> {
        let lock = Dotlock::acquire(&self.path, &DotlockSettings::subscriptions())?;
        let mut subs = self.read()?;
        change(&mut subs);
        lock.replace_with(&subs.to_bytes('.'))?;
        Ok(subs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v2_as_dovecot_writes_it() {
        let s = Subscriptions::parse(b"V\t2\n\nWork\tSub\nEntw&APw-rfe\t&ANw-nter\n", '.').unwrap();
        assert_eq!(s.names[0], vec!["Work", "Sub"]);
        assert_eq!(
            s.to_bytes('.'),
            b"V\t2\n\nWork\tSub\nEntw&APw-rfe\t&ANw-nter\n"
        );
    }

    #[test]
    fn reads_v1() {
        let s = Subscriptions::parse(b"Work.Sub\nSent.\n", '.').unwrap();
        assert_eq!(s.version, 1);
        assert_eq!(
            s.names,
            vec![vec!["Work".to_string(), "Sub".into()], vec!["Sent".into()]]
        );
    }

    #[test]
    fn v1_names_that_need_escaping_are_written_as_v2() {
        let s = Subscriptions::parse(b"\nV\t2\nWork\n", '.').unwrap();
        assert_eq!(s.version, 1);
        let again = Subscriptions::parse(&s.to_bytes('.'), '.').unwrap();
        assert_eq!(again.names, s.names);
    }

    #[test]
    fn tab_escaping_round_trips() {
        let raw = "a\tb\x01c\nd\re";
        assert_eq!(tab_unescape(&tab_escape(raw)), raw);
        assert_eq!(tab_unescape("x\x01"), "x");
    }
}
