//! Encoders: typed values to wire bytes.
//!
//! Strings are written as an atom, a quoted string or a literal, whichever
//! the grammar allows and the bytes need, so the output always decodes.

mod body;
pub(crate) mod command;
mod response;

use crate::types::{
    is_astring_char, is_atom_char, is_list_char, Date, DateTime, Flag, Mailbox, SeqNumber,
    SequenceSet, MONTHS,
};

/// How a command encoder writes literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiteralMode {
    /// `{n}`: the client waits for the server's `+` before sending the data.
    #[default]
    Sync,
    /// `{n+}` (LITERAL+ / LITERAL-): sent without waiting.
    NonSync,
}

/// Longest string written quoted; longer ones become literals.
const MAX_QUOTED: usize = 1024;

pub(crate) struct Writer<'o> {
    pub(crate) out: &'o mut Vec<u8>,
    /// `None` in responses: literals are `{n}` and never wait.
    pub(crate) mode: Option<LiteralMode>,
    /// Where the output must pause for a continuation request (after each
    /// synchronizing literal's header).
    pub(crate) waits: Vec<usize>,
}

fn quotable(s: &[u8]) -> bool {
    s.len() <= MAX_QUOTED
        && s.iter()
            .all(|&b| b != 0 && b != b'\r' && b != b'\n' && b < 0x80)
}

impl Writer<'_> {
    #[inline]
    pub(crate) fn raw(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    #[inline]
    pub(crate) fn byte(&mut self, b: u8) {
        self.out.push(b);
    }

    #[inline]
    pub(crate) fn sp(&mut self) {
        self.out.push(b' ');
    }

    pub(crate) fn crlf(&mut self) {
        self.out.extend_from_slice(b"\r\n");
    }

    pub(crate) fn number(&mut self, n: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let mut n = n;
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.out.extend_from_slice(&buf[i..]);
    }

    /// A number the grammar requires to be non-zero (`nz-number`): zero,
    /// which no peer accepts, is written as 1.
    pub(crate) fn nz(&mut self, n: u64) {
        self.number(n.max(1))
    }

    pub(crate) fn quoted(&mut self, s: &[u8]) {
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                self.out.push(b'\\');
            }
            self.out.push(b);
        }
        self.out.push(b'"');
    }

    pub(crate) fn literal(&mut self, s: &[u8], binary: bool) {
        if binary {
            self.out.push(b'~');
        }
        self.out.push(b'{');
        self.number(s.len() as u64);
        if self.mode == Some(LiteralMode::NonSync) {
            self.out.push(b'+');
        }
        self.out.extend_from_slice(b"}\r\n");
        if self.mode == Some(LiteralMode::Sync) {
            self.waits.push(self.out.len());
        }
        self.out.extend_from_slice(s);
    }

    /// `string`: quoted when possible, else a literal.
    pub(crate) fn string(&mut self, s: &[u8]) {
        if quotable(s) {
            self.quoted(s)
        } else {
            // Only literal8 can carry NUL (RFC 3516); the decoder accepts it
            // wherever a string may stand.
            self.literal(s, s.contains(&0))
        }
    }

    /// `nstring`.
    pub(crate) fn nstring(&mut self, s: Option<&[u8]>) {
        match s {
            Some(s) => self.string(s),
            None => self.raw(b"NIL"),
        }
    }

    /// `astring`: an atom when the bytes allow, else a string.
    pub(crate) fn astring(&mut self, s: &[u8]) {
        if !s.is_empty() && s.len() <= MAX_QUOTED && s.iter().all(|&b| is_astring_char(b)) {
            self.raw(s)
        } else {
            self.string(s)
        }
    }

    /// An astring inside a status line's response code, where a literal
    /// cannot stand (the line is text): atom or quoted string, with CR, LF
    /// and NUL, which no quoted string can carry, written as `?`.
    pub(crate) fn astring_in_text(&mut self, s: &[u8]) {
        if !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) {
            return self.raw(s);
        }
        self.out.push(b'"');
        for &b in s {
            match b {
                b'"' | b'\\' => {
                    self.out.push(b'\\');
                    self.out.push(b);
                }
                b'\r' | b'\n' | 0 => self.out.push(b'?'),
                _ => self.out.push(b),
            }
        }
        self.out.push(b'"');
    }

    /// `list-mailbox`.
    pub(crate) fn list_mailbox(&mut self, s: &[u8]) {
        if !s.is_empty() && s.len() <= MAX_QUOTED && s.iter().all(|&b| is_list_char(b)) {
            self.raw(s)
        } else {
            self.string(s)
        }
    }

    pub(crate) fn mailbox(&mut self, m: &Mailbox) {
        self.astring(m.as_wire())
    }

    pub(crate) fn sequence_set(&mut self, s: &SequenceSet) {
        match s {
            SequenceSet::Saved => self.byte(b'$'),
            SequenceSet::Ranges(ranges) => {
                for (i, r) in ranges.iter().enumerate() {
                    if i > 0 {
                        self.byte(b',');
                    }
                    self.seq_number(r.start);
                    if let Some(end) = r.end {
                        self.byte(b':');
                        self.seq_number(end);
                    }
                }
            }
        }
    }

    fn seq_number(&mut self, n: SeqNumber) {
        match n {
            SeqNumber::Value(v) => self.nz(u64::from(v)),
            SeqNumber::Largest => self.byte(b'*'),
        }
    }

    pub(crate) fn flag(&mut self, f: &Flag) {
        match f {
            Flag::Answered => self.raw(b"\\Answered"),
            Flag::Flagged => self.raw(b"\\Flagged"),
            Flag::Deleted => self.raw(b"\\Deleted"),
            Flag::Seen => self.raw(b"\\Seen"),
            Flag::Draft => self.raw(b"\\Draft"),
            Flag::Recent => self.raw(b"\\Recent"),
            Flag::Wildcard => self.raw(b"\\*"),
            Flag::Keyword(a) => self.raw(a.as_bytes()),
            Flag::Extension(a) => {
                self.byte(b'\\');
                self.raw(a.as_bytes())
            }
        }
    }

    pub(crate) fn flag_list(&mut self, flags: &[Flag]) {
        self.byte(b'(');
        for (i, f) in flags.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            self.flag(f);
        }
        self.byte(b')');
    }

    pub(crate) fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.byte(b'(');
        for (i, it) in items.iter().enumerate() {
            if i > 0 {
                self.sp();
            }
            each(self, it);
        }
        self.byte(b')');
    }

    fn two(&mut self, n: u8) {
        self.byte(b'0' + n / 10 % 10);
        self.byte(b'0' + n % 10);
    }

    fn date_text(&mut self, d: &Date) {
        self.number(u64::from(d.day.clamp(1, 31)));
        self.byte(b'-');
        self.raw(&MONTHS[usize::from(d.month.clamp(1, 12)) - 1][..]);
        self.byte(b'-');
        let y = d.year % 10000;
        self.two((y / 100) as u8);
        self.two((y % 100) as u8);
    }

    pub(crate) fn date(&mut self, d: &Date) {
        self.date_text(d)
    }

    pub(crate) fn date_time(&mut self, dt: &DateTime) {
        self.byte(b'"');
        if dt.date.day.clamp(1, 31) < 10 {
            self.byte(b' ');
        }
        self.date_text(&dt.date);
        self.sp();
        // Out-of-range fields are clamped: the decoder refuses them.
        self.two(dt.hour.min(23));
        self.byte(b':');
        self.two(dt.minute.min(59));
        self.byte(b':');
        self.two(dt.second.min(60));
        self.sp();
        let z = dt.zone_minutes.clamp(-5999, 5999);
        self.byte(if z < 0 { b'-' } else { b'+' });
        let z = z.unsigned_abs();
        self.two((z / 60) as u8);
        self.two((z % 60) as u8);
        self.byte(b'"');
    }

    /// Writes an atom that is known to be valid.
    pub(crate) fn atom(&mut self, a: &[u8]) {
        debug_assert!(a.iter().all(|&b| is_atom_char(b)));
        self.raw(a)
    }

    /// A MODSEQ entry name: quoted as the grammar wants, unless the bytes
    /// need a literal.
    pub(crate) fn quoted_or_literal_entry(&mut self, s: &[u8]) {
        self.string(s)
    }

    /// Human-readable text: CR and LF would end the line, so they become spaces.
    pub(crate) fn text(&mut self, t: &[u8]) {
        for &b in t {
            self.byte(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
    }
}

pub use self::command::IDLE_DONE;
