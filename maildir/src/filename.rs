//! Maildir message file names: `base[,S=size][,W=vsize][:2,flags]`.
//!
//! The base name (everything before the first `:`) identifies a message for
//! its whole life; only the `:2,` info part changes when flags change.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// The IMAP system flags that live in a Maildir file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    /// No flags.
    pub const NONE: Flags = Flags(0);
    /// `\Answered`, letter `R`.
    pub const ANSWERED: Flags = Flags(0x01);
    /// `\Flagged`, letter `F`.
    pub const FLAGGED: Flags = Flags(0x02);
    /// `\Deleted`, letter `T`.
    pub const DELETED: Flags = Flags(0x04);
    /// `\Seen`, letter `S`.
    pub const SEEN: Flags = Flags(0x08);
    /// `\Draft`, letter `D`.
    pub const DRAFT: Flags = Flags(0x10);

    /// The flags as Dovecot's index bits (same values as `MAIL_ANSWERED` etc.).
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Flags from Dovecot's index bits; unknown bits are dropped.
    pub fn from_bits(bits: u8) -> Flags {
        Flags(bits & 0x1f)
    }

    /// True when every flag of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when no flag is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The flag for a Maildir letter (`D F R S T`).
    pub fn from_letter(letter: u8) -> Option<Flags> {
        match letter {
            b'D' => Some(Flags::DRAFT),
            b'F' => Some(Flags::FLAGGED),
            b'R' => Some(Flags::ANSWERED),
            b'S' => Some(Flags::SEEN),
            b'T' => Some(Flags::DELETED),
            _ => None,
        }
    }

    /// The flag for an IMAP name (`\Seen`, case-insensitive).
    pub fn from_imap(name: &str) -> Option<Flags> {
        let n = name.to_ascii_lowercase();
        match n.as_str() {
            "\\answered" => Some(Flags::ANSWERED),
            "\\flagged" => Some(Flags::FLAGGED),
            "\\deleted" => Some(Flags::DELETED),
            "\\seen" => Some(Flags::SEEN),
            "\\draft" => Some(Flags::DRAFT),
            _ => None,
        }
    }

    /// IMAP names of the set flags, in the order `doveadm fetch` prints them
    /// (`\Answered \Flagged \Deleted \Seen \Draft`).
    pub fn imap_names(self) -> Vec<&'static str> {
        let all = [
            (Flags::ANSWERED, "\\Answered"),
            (Flags::FLAGGED, "\\Flagged"),
            (Flags::DELETED, "\\Deleted"),
            (Flags::SEEN, "\\Seen"),
            (Flags::DRAFT, "\\Draft"),
        ];
        all.iter()
            .filter(|(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
            .collect()
    }

    /// The Maildir letters of the set flags in ASCII order (`DFRST`).
    pub fn letters(self) -> String {
        [
            (Flags::DRAFT, 'D'),
            (Flags::FLAGGED, 'F'),
            (Flags::ANSWERED, 'R'),
            (Flags::SEEN, 'S'),
            (Flags::DELETED, 'T'),
        ]
        .iter()
        .filter(|(f, _)| self.contains(*f))
        .map(|(_, c)| *c)
        .collect()
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl std::ops::Sub for Flags {
    type Output = Flags;
    fn sub(self, rhs: Flags) -> Flags {
        Flags(self.0 & !rhs.0)
    }
}

/// The `:2,` info part of a file name: system flags, keyword letters and any
/// letters this crate does not interpret (kept on rewrite, as Dovecot does).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Info {
    /// System flags (`D F R S T`).
    pub flags: Flags,
    /// Keyword letters `a`..`z` as bits 0..25.
    pub keyword_bits: u32,
    /// Other letters (e.g. `P` "passed"), kept verbatim, sorted.
    pub other: Vec<char>,
    /// A second comma-separated flag set after the first, kept verbatim.
    pub extra: Option<String>,
}

impl Info {
    /// Parses the part after `:2,` (`"FSa"` or `"FSa,xyz"`).
    pub fn parse(letters: &str) -> Info {
        let (first, extra) = match letters.find(',') {
            Some(i) => (&letters[..i], Some(letters[i + 1..].to_string())),
            None => (letters, None),
        };
        let mut info = Info {
            extra,
            ..Info::default()
        };
        for c in first.chars() {
            if let Some(f) = u8::try_from(c).ok().and_then(Flags::from_letter) {
                info.flags |= f;
            } else if c.is_ascii_lowercase() {
                info.keyword_bits |= 1 << (c as u8 - b'a');
            } else if !info.other.contains(&c) {
                info.other.push(c);
            }
        }
        info.other.sort_unstable();
        info
    }

    /// The letters in Dovecot's order: all letters sorted by ASCII value,
    /// then `,extra` if there was a second flag set.
    pub fn letters(&self) -> String {
        let mut all: Vec<char> = self.flags.letters().chars().collect();
        all.extend(self.other.iter().copied());
        for i in 0..26u8 {
            if self.keyword_bits & (1 << i) != 0 {
                all.push(char::from(b'a' + i));
            }
        }
        all.sort_unstable();
        all.dedup();
        let mut s: String = all.into_iter().collect();
        if let Some(extra) = &self.extra {
            s.push(',');
            s.push_str(extra);
        }
        s
    }
}

/// A parsed Maildir message file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MaildirFilename {
    name: String,
    base_len: usize,
}

impl MaildirFilename {
    /// Parses a file name as found in `cur/` or `new/`.
    ///
    /// Rejects what Dovecot would not treat as a message: empty names,
    /// dot files, names containing `/`, NUL, CR or LF, and names whose base
    /// (before the first `:`) is empty.
    pub fn parse(name: &str) -> Result<MaildirFilename> {
        let bad = |reason| Error::Filename {
            name: name.to_string(),
            reason,
        };
        if name.is_empty() {
            return Err(bad("empty"));
        }
        if name.starts_with('.') {
            return Err(bad("dot files are not messages"));
        }
        if name.bytes().any(|b| matches!(b, b'/' | 0 | b'\r' | b'\n')) {
            return Err(bad("contains '/', NUL, CR or LF"));
        }
        let base_len = name.find(':').unwrap_or(name.len());
        if base_len == 0 {
            return Err(bad("empty base name"));
        }
        Ok(MaildirFilename {
            name: name.to_string(),
            base_len,
        })
    }

    /// Builds a name from a base and an optional info part.
    pub fn from_parts(base: &str, info: Option<&Info>) -> Result<MaildirFilename> {
        let mut name = base.to_string();
        if base.contains(':') {
            return Err(Error::Filename {
                name,
                reason: "base name contains ':'",
            });
        }
        if let Some(info) = info {
            name.push_str(":2,");
            name.push_str(&info.letters());
        }
        MaildirFilename::parse(&name)
    }

    /// The whole file name.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The base name: everything before the first `:` (includes `,S=`/`,W=`).
    /// This is what `dovecot-uidlist` stores and Dovecot's message GUID.
    pub fn base(&self) -> &str {
        &self.name[..self.base_len]
    }

    /// The info part after `:2,` (Dovecot reads the last `:`), if any.
    pub fn info(&self) -> Option<Info> {
        let colon = self.name.rfind(':')?;
        let rest = &self.name[colon + 1..];
        rest.strip_prefix("2,").map(Info::parse)
    }

    /// Physical size from `,S=<n>`, when present and well-formed.
    pub fn size(&self) -> Option<u64> {
        size_field(self.base(), b'S')
    }

    /// Virtual (CRLF) size from `,W=<n>`, when present and well-formed.
    pub fn vsize(&self) -> Option<u64> {
        size_field(self.base(), b'W')
    }

    /// The same message with another info part (flags).
    pub fn with_info(&self, info: &Info) -> MaildirFilename {
        let mut name = self.base().to_string();
        name.push_str(":2,");
        name.push_str(&info.letters());
        MaildirFilename {
            base_len: self.base_len,
            name,
        }
    }
}

impl fmt::Display for MaildirFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Dovecot's `maildir_filename_get_size()`: `,<key>=` anywhere in the name,
/// decimal digits, then `,`, `:` or the end.
fn size_field(base: &str, key: u8) -> Option<u64> {
    let b = base.as_bytes();
    let mut i = 0;
    while i + 3 <= b.len() {
        if b[i] == b',' && b[i + 1] == key && b[i + 2] == b'=' {
            let rest = &b[i + 3..];
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0
                && digits <= 19
                && matches!(rest.get(digits), None | Some(b',') | Some(b':'))
            {
                let mut v: u64 = 0;
                let mut ok = true;
                for &d in &rest[..digits] {
                    match v
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(u64::from(d - b'0')))
                    {
                        Some(n) => v = n,
                        None => ok = false,
                    }
                }
                if ok {
                    return Some(v);
                }
            }
        }
        i += 1;
    }
    None
}

/// Dovecot's `maildir_filename_sort_cmp()`: the order in which new files get
/// UIDs. Seconds prefix numerically, then the microseconds after the first
/// `M` when both have one, then plain byte order of the base names.
pub fn sort_cmp(a: &str, b: &str) -> Ordering {
    SortKey::new(a).cmp(&SortKey::new(b))
}

/// A base name's position in Dovecot's UID order ([`sort_cmp`]), with the
/// numbers parsed once: sorting many names by their keys parses each name
/// once instead of twice per comparison.
#[derive(Debug, Clone, Copy)]
pub struct SortKey<'a> {
    secs: Option<u64>,
    usecs: Option<u64>,
    name: &'a str,
}

impl<'a> SortKey<'a> {
    /// Parses the leading seconds and the `M<usecs>` of `name`.
    pub fn new(name: &'a str) -> SortKey<'a> {
        let (secs, rest) = leading_number(name);
        let usecs = secs.and_then(|_| usecs(rest));
        SortKey { secs, usecs, name }
    }

    /// The name the key was made from.
    pub fn name(&self) -> &'a str {
        self.name
    }
}

impl Ord for SortKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        if let (Some(x), Some(y)) = (self.secs, other.secs) {
            if x != y {
                return x.cmp(&y);
            }
            if let (Some(ua), Some(ub)) = (self.usecs, other.usecs) {
                if ua != ub {
                    return ua.cmp(&ub);
                }
            }
        }
        self.name.cmp(other.name)
    }
}

impl PartialOrd for SortKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for SortKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        // the comparison ends on the names, so equal keys have equal names
        self.name == other.name
    }
}

impl Eq for SortKey<'_> {}

fn leading_number(s: &str) -> (Option<u64>, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 || n > 19 {
        return (None, s);
    }
    (s[..n].parse().ok(), &s[n..])
}

fn usecs(rest: &str) -> Option<u64> {
    // ".M<usecs>P..." - the number after the first 'M' of the unique part.
    let rest = rest.strip_prefix('.')?;
    let end = rest.find('.').unwrap_or(rest.len());
    let unique = &rest[..end];
    let m = unique.find('M')?;
    let (n, _) = leading_number(&unique[m + 1..]);
    n
}

/// The host name Dovecot would put into file names: `$DOVECOT_HOSTNAME` or
/// the system host name. `/` and `:` cannot appear in a file name's base, so
/// they are written as `\057` and `\072` (the Maildir convention).
pub fn hostname() -> String {
    let raw = std::env::var("DOVECOT_HOSTNAME").ok().unwrap_or_else(|| {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    });
    let raw = if raw.is_empty() {
        "localhost".into()
    } else {
        raw
    };
    raw.replace('/', "\\057").replace(':', "\\072")
}

static LAST_STAMP: Mutex<(u64, u32)> = Mutex::new((0, 0));

/// Generates a new unique base name `<secs>.M<usecs>P<pid>.<host>` as
/// Dovecot's `maildir_filename_generate()` does: within one process a
/// (seconds, microseconds) pair is never reused.
pub fn generate_base(host: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut stamp = (now.as_secs(), now.subsec_micros());
    {
        let mut last = LAST_STAMP.lock().unwrap_or_else(|e| e.into_inner());
        if stamp <= *last {
            stamp = *last;
            stamp.1 += 1;
            if stamp.1 >= 1_000_000 {
                stamp = (stamp.0 + 1, 0);
            }
        }
        *last = stamp;
    }
    format!("{}.M{}P{}.{}", stamp.0, stamp.1, std::process::id(), host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dovecot_names() {
        let f = MaildirFilename::parse("1795904132.M821283P15273.vm,S=92,W=98:2,FSa").unwrap();
        assert_eq!(f.base(), "1795904132.M821283P15273.vm,S=92,W=98");
        assert_eq!(f.size(), Some(92));
        assert_eq!(f.vsize(), Some(98));
        let info = f.info().unwrap();
        assert_eq!(info.flags, Flags::FLAGGED | Flags::SEEN);
        assert_eq!(info.keyword_bits, 1);
        assert_eq!(info.letters(), "FSa");
    }

    #[test]
    fn size_needs_terminator() {
        let f = MaildirFilename::parse("1.M1P1.h,S=12x,W=5").unwrap();
        assert_eq!(f.size(), None);
        assert_eq!(f.vsize(), Some(5));
    }

    #[test]
    fn letters_keep_unknown_and_sort() {
        let i = Info::parse("cPSaD,xy");
        assert_eq!(i.letters(), "DPSac,xy");
    }

    #[test]
    fn sort_order_uses_usecs_numerically() {
        assert_eq!(sort_cmp("100.M99P1.h", "100.M100P1.h"), Ordering::Less);
        assert_eq!(sort_cmp("99.M5P1.h", "100.M1P1.h"), Ordering::Less);
    }

    #[test]
    fn sorting_by_keys_gives_the_pairwise_order() {
        let names = [
            "100.M100P1.h",
            "abc",
            "100.M99P1.h",
            "1700000000.M9P7.host",
            "99.M5P1.h",
            "100.P1.h",
            "100.M99P1.g",
            "12345678901234567890.M1P1.h",
            "",
            "7",
        ];
        let mut by_key = names.to_vec();
        by_key.sort_by_cached_key(|n| SortKey::new(n));
        let mut pairwise = names.to_vec();
        pairwise.sort_by(|a, b| sort_cmp(a, b));
        assert_eq!(by_key, pairwise);
        let pos = |n| by_key.iter().position(|m| *m == n).unwrap();
        assert!(pos("99.M5P1.h") < pos("100.M99P1.g"));
        assert!(pos("100.M99P1.g") < pos("100.M99P1.h"));
        assert!(pos("100.M99P1.h") < pos("100.M100P1.h"));
        assert_eq!(SortKey::new("100.M99P1.h").name(), "100.M99P1.h");
    }

    #[test]
    fn generated_names_are_unique() {
        let a = generate_base("h");
        let b = generate_base("h");
        assert_ne!(a, b);
    }
}
