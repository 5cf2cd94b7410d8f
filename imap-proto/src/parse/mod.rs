//! Grammar parsers over one complete message (lines and literals).
//!
//! The streaming decoders frame the input first, so these parsers never see
//! a partial message; values borrow from the message's `Bytes` (zero-copy),
//! except quoted strings with escapes, which are unescaped into a new buffer.

pub(crate) mod body;
pub(crate) mod command;
pub(crate) mod fetch;
pub(crate) mod response;
pub(crate) mod search;

use bytes::Bytes;

use crate::types::{
    is_astring_char, is_atom_char, is_list_char, is_tag_char, Atom, Date, DateTime, Flag, Mailbox,
    SeqNumber, SeqRange, SequenceSet, Tag, MONTHS,
};
use crate::Error;

/// Why a parse failed, before it is turned into an [`Error`].
#[derive(Debug)]
pub(crate) enum Fail {
    Expected(usize, &'static str),
    TooDeep(usize),
}

pub(crate) type PResult<T> = Result<T, Fail>;

/// A cursor over one complete message.
pub(crate) struct Parser<'a> {
    pub(crate) buf: &'a Bytes,
    pub(crate) pos: usize,
    depth: usize,
    max_depth: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(buf: &'a Bytes, max_depth: usize) -> Self {
        Parser {
            buf,
            pos: 0,
            depth: 0,
            max_depth,
        }
    }

    /// Turns a failure into the crate's error, with the tag when one was read.
    pub(crate) fn error(&self, fail: Fail, tag: Option<Tag>) -> Error {
        match fail {
            Fail::Expected(offset, expected) => {
                let end = (offset + 32).min(self.buf.len());
                let found = self.buf.slice(offset.min(end)..end);
                Error::Syntax {
                    offset,
                    tag,
                    expected,
                    found,
                }
            }
            Fail::TooDeep(offset) => Error::TooDeep {
                offset,
                tag,
                limit: self.max_depth,
            },
        }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    #[inline]
    pub(crate) fn peek_at(&self, n: usize) -> Option<u8> {
        self.buf.get(self.pos + n).copied()
    }

    #[inline]
    pub(crate) fn fail<T>(&self, expected: &'static str) -> PResult<T> {
        Err(Fail::Expected(self.pos, expected))
    }

    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    #[inline]
    pub(crate) fn expect(&mut self, b: u8, what: &'static str) -> PResult<()> {
        if self.eat(b) {
            Ok(())
        } else {
            self.fail(what)
        }
    }

    #[inline]
    pub(crate) fn sp(&mut self) -> PResult<()> {
        self.expect(b' ', "SP")
    }

    /// Case-insensitively consumes `word` if the input continues with it.
    pub(crate) fn eat_ci(&mut self, word: &[u8]) -> bool {
        let end = self.pos + word.len();
        if end <= self.buf.len() && self.buf[self.pos..end].eq_ignore_ascii_case(word) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect_ci(&mut self, word: &'static [u8], what: &'static str) -> PResult<()> {
        if self.eat_ci(word) {
            Ok(())
        } else {
            self.fail(what)
        }
    }

    /// The end of the message: CRLF (or a bare LF) and nothing after it.
    pub(crate) fn end(&mut self) -> PResult<()> {
        let rest = &self.buf[self.pos..];
        if rest == b"\r\n" || rest == b"\n" {
            self.pos = self.buf.len();
            Ok(())
        } else {
            self.fail("CRLF")
        }
    }

    /// True at CR or LF (the end of a line).
    pub(crate) fn at_eol(&self) -> bool {
        matches!(self.peek(), None | Some(b'\r') | Some(b'\n'))
    }

    /// Opens a parenthesized list, counting nesting depth.
    pub(crate) fn open(&mut self) -> PResult<()> {
        self.expect(b'(', "\"(\"")?;
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(Fail::TooDeep(self.pos - 1));
        }
        Ok(())
    }

    /// Counts one level of nesting that has no parenthesis (NOT, OR).
    pub(crate) fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(Fail::TooDeep(self.pos));
        }
        Ok(())
    }

    pub(crate) fn leave(&mut self) {
        self.depth -= 1;
    }

    pub(crate) fn close(&mut self) -> PResult<()> {
        self.expect(b')', "\")\"")?;
        self.depth -= 1;
        Ok(())
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let buf: &'a Bytes = self.buf;
        let start = self.pos;
        let n = buf[start..]
            .iter()
            .position(|&b| !f(b))
            .unwrap_or(buf.len() - start);
        self.pos += n;
        &buf[start..start + n]
    }

    /// A keyword: letters, digits, `.`, `-`, `_` (command names, item names).
    pub(crate) fn word(&mut self, what: &'static str) -> PResult<&'a [u8]> {
        let w = self.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if w.is_empty() {
            self.fail(what)
        } else {
            Ok(w)
        }
    }

    /// A section text keyword: letters and dots (`HEADER.FIELDS.NOT`).
    pub(crate) fn take_section_word(&mut self) -> &'a [u8] {
        self.take_while(|b| b.is_ascii_alphabetic() || b == b'.')
    }

    pub(crate) fn slice(&self, start: usize, end: usize) -> Bytes {
        self.buf.slice(start..end)
    }

    pub(crate) fn tag(&mut self) -> PResult<Tag> {
        let start = self.pos;
        let t = self.take_while(is_tag_char);
        if t.is_empty() {
            return self.fail("tag");
        }
        let end = self.pos;
        Ok(Tag::from_parsed_slice(t, || self.buf.slice(start..end)))
    }

    pub(crate) fn atom(&mut self, what: &'static str) -> PResult<Atom> {
        let start = self.pos;
        let t = self.take_while(is_atom_char);
        if t.is_empty() {
            return self.fail(what);
        }
        Ok(Atom::from_parsed(self.slice(start, self.pos)))
    }

    pub(crate) fn number(&mut self) -> PResult<u32> {
        let start = self.pos;
        let n = self.number64()?;
        u32::try_from(n).map_err(|_| Fail::Expected(start, "32-bit number"))
    }

    pub(crate) fn nz_number(&mut self) -> PResult<u32> {
        let start = self.pos;
        let n = self.number()?;
        if n == 0 {
            return Err(Fail::Expected(start, "non-zero number"));
        }
        Ok(n)
    }

    pub(crate) fn number64(&mut self) -> PResult<u64> {
        let start = self.pos;
        let mut n: u64 = 0;
        while let Some(d) = self.peek().filter(u8::is_ascii_digit) {
            n = match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
            {
                Some(n) if n < (1 << 63) => n,
                _ => return Err(Fail::Expected(start, "number below 2^63")),
            };
            self.pos += 1;
        }
        if self.pos == start {
            return self.fail("number");
        }
        Ok(n)
    }

    /// `quoted`: zero-copy unless it contains escapes. 8-bit bytes pass.
    pub(crate) fn quoted(&mut self) -> PResult<Bytes> {
        self.expect(b'"', "quoted string")?;
        let start = self.pos;
        let rest = &self.buf[start..];
        match memchr::memchr3(b'"', b'\\', b'\n', rest) {
            Some(i) if rest[i] == b'"' => {
                if let Some(bad) = memchr::memchr2(b'\r', 0, &rest[..i]) {
                    return Err(Fail::Expected(
                        start + bad,
                        "quoted character (no CR, LF or NUL)",
                    ));
                }
                self.pos = start + i + 1;
                Ok(self.slice(start, start + i))
            }
            Some(_) => {
                let mut out = Vec::with_capacity(rest.len().min(256));
                loop {
                    match self.peek() {
                        Some(b'"') => {
                            self.pos += 1;
                            return Ok(Bytes::from(out));
                        }
                        Some(b'\\') => {
                            self.pos += 1;
                            match self.peek() {
                                Some(c @ (b'"' | b'\\')) => {
                                    out.push(c);
                                    self.pos += 1;
                                }
                                _ => return self.fail("\\\" or \\\\ after backslash"),
                            }
                        }
                        Some(b'\r' | b'\n') | None => return self.fail("closing quote"),
                        Some(0) => return self.fail("quoted character (no CR, LF or NUL)"),
                        Some(c) => {
                            out.push(c);
                            self.pos += 1;
                        }
                    }
                }
            }
            None => Err(Fail::Expected(self.buf.len(), "closing quote")),
        }
    }

    /// `literal` or `literal8`: `{n}`, `{n+}`, `~{n}` CRLF and n bytes.
    /// Returns the data and whether it was a literal8.
    pub(crate) fn literal(&mut self) -> PResult<(Bytes, bool)> {
        let binary = self.eat(b'~');
        self.expect(b'{', "literal")?;
        let n = self.number64()?;
        self.eat(b'+');
        self.expect(b'}', "\"}\"")?;
        self.eat(b'\r');
        self.expect(b'\n', "CRLF after literal size")?;
        let start = self.pos;
        let avail = (self.buf.len() - start) as u64;
        if n > avail {
            return self.fail("literal data");
        }
        let data = &self.buf[start..start + n as usize];
        if !binary {
            if let Some(nul) = memchr::memchr(0, data) {
                return Err(Fail::Expected(
                    start + nul,
                    "literal data without NUL (NUL needs literal8)",
                ));
            }
        }
        self.pos += n as usize;
        Ok((self.slice(start, self.pos), binary))
    }

    /// `string`: quoted or literal.
    pub(crate) fn string(&mut self) -> PResult<Bytes> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal()?.0),
            Some(b'~') if self.peek_at(1) == Some(b'{') => Ok(self.literal()?.0),
            _ => self.fail("string"),
        }
    }

    /// `nstring`: NIL or string.
    pub(crate) fn nstring(&mut self) -> PResult<Option<Bytes>> {
        if self.eat_ci(b"NIL") {
            Ok(None)
        } else {
            self.string().map(Some)
        }
    }

    /// `astring`: atom (with `]`) or string.
    pub(crate) fn astring(&mut self) -> PResult<Bytes> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal()?.0),
            Some(b'~') if self.peek_at(1) == Some(b'{') => Ok(self.literal()?.0),
            _ => {
                let start = self.pos;
                if self.take_while(is_astring_char).is_empty() {
                    return self.fail("astring");
                }
                Ok(self.slice(start, self.pos))
            }
        }
    }

    pub(crate) fn mailbox(&mut self) -> PResult<Mailbox> {
        self.astring().map(Mailbox::from_wire)
    }

    /// `list-mailbox`: list characters or a string.
    pub(crate) fn list_mailbox(&mut self) -> PResult<Bytes> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal()?.0),
            Some(b'~') if self.peek_at(1) == Some(b'{') => Ok(self.literal()?.0),
            _ => {
                let start = self.pos;
                if self.take_while(is_list_char).is_empty() {
                    return self.fail("mailbox pattern");
                }
                Ok(self.slice(start, self.pos))
            }
        }
    }

    fn seq_number(&mut self) -> PResult<SeqNumber> {
        if self.eat(b'*') {
            Ok(SeqNumber::Largest)
        } else {
            self.nz_number().map(SeqNumber::Value)
        }
    }

    /// `sequence-set` or `$`.
    pub(crate) fn sequence_set(&mut self) -> PResult<SequenceSet> {
        if self.eat(b'$') {
            return Ok(SequenceSet::Saved);
        }
        let mut ranges = Vec::new();
        loop {
            let start = self.seq_number()?;
            let end = if self.eat(b':') {
                Some(self.seq_number()?)
            } else {
                None
            };
            ranges.push(SeqRange { start, end });
            if !self.eat(b',') {
                return Ok(SequenceSet::Ranges(ranges));
            }
        }
    }

    /// One flag (`flag`, `flag-fetch`, `flag-perm`).
    pub(crate) fn flag(&mut self) -> PResult<Flag> {
        if self.eat(b'\\') {
            if self.eat(b'*') {
                return Ok(Flag::Wildcard);
            }
            let a = self.atom("flag name")?;
            let b = a.as_bytes();
            Ok(if b.eq_ignore_ascii_case(b"Answered") {
                Flag::Answered
            } else if b.eq_ignore_ascii_case(b"Flagged") {
                Flag::Flagged
            } else if b.eq_ignore_ascii_case(b"Deleted") {
                Flag::Deleted
            } else if b.eq_ignore_ascii_case(b"Seen") {
                Flag::Seen
            } else if b.eq_ignore_ascii_case(b"Draft") {
                Flag::Draft
            } else if b.eq_ignore_ascii_case(b"Recent") {
                Flag::Recent
            } else {
                Flag::Extension(a)
            })
        } else {
            self.atom("flag").map(Flag::Keyword)
        }
    }

    /// `"(" [flag *(SP flag)] ")"`.
    pub(crate) fn flag_list(&mut self) -> PResult<Vec<Flag>> {
        self.open()?;
        let mut flags = Vec::new();
        if !self.eat(b')') {
            loop {
                flags.push(self.flag()?);
                if !self.eat(b' ') {
                    break;
                }
            }
            self.close()?;
        } else {
            self.depth -= 1;
        }
        Ok(flags)
    }

    fn digits(&mut self, min: usize, max: usize, what: &'static str) -> PResult<u32> {
        let start = self.pos;
        let mut n = 0u32;
        while self.pos - start < max {
            match self.peek() {
                Some(d) if d.is_ascii_digit() => {
                    n = n * 10 + u32::from(d - b'0');
                    self.pos += 1;
                }
                _ => break,
            }
        }
        if self.pos - start < min {
            self.pos = start;
            return self.fail(what);
        }
        Ok(n)
    }

    fn month(&mut self) -> PResult<u8> {
        let end = self.pos + 3;
        if end <= self.buf.len() {
            let m = &self.buf[self.pos..end];
            if let Some(i) = MONTHS
                .iter()
                .position(|name| m.eq_ignore_ascii_case(&name[..]))
            {
                self.pos = end;
                return Ok(i as u8 + 1);
            }
        }
        self.fail("month name")
    }

    /// `date-text`: `1-Feb-1994`.
    fn date_text(&mut self) -> PResult<Date> {
        let day = self.digits(1, 2, "day")?;
        self.expect(b'-', "\"-\"")?;
        let month = self.month()?;
        self.expect(b'-', "\"-\"")?;
        let year = self.digits(4, 4, "4-digit year")?;
        if !(1..=31).contains(&day) {
            return self.fail("day 1 to 31");
        }
        Ok(Date {
            year: year as u16,
            month,
            day: day as u8,
        })
    }

    /// `date`: date-text, optionally quoted.
    pub(crate) fn date(&mut self) -> PResult<Date> {
        if self.eat(b'"') {
            let d = self.date_text()?;
            self.expect(b'"', "closing quote")?;
            Ok(d)
        } else {
            self.date_text()
        }
    }

    /// `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"` (day may be space-padded).
    pub(crate) fn date_time(&mut self) -> PResult<DateTime> {
        self.expect(b'"', "date-time")?;
        self.eat(b' ');
        let mut date = self.date_text()?;
        self.sp()?;
        let hour = self.digits(2, 2, "hour")?;
        self.expect(b':', "\":\"")?;
        let minute = self.digits(2, 2, "minute")?;
        self.expect(b':', "\":\"")?;
        let second = self.digits(2, 2, "second")?;
        self.sp()?;
        let negative = match self.peek() {
            Some(b'+') => false,
            Some(b'-') => true,
            _ => return self.fail("zone sign"),
        };
        self.pos += 1;
        let zone = self.digits(4, 4, "4-digit zone")?;
        self.expect(b'"', "closing quote")?;
        if hour > 23 || minute > 59 || second > 60 || zone % 100 > 59 {
            return self.fail("valid time");
        }
        let minutes = (zone / 100 * 60 + zone % 100) as i16;
        date.day = date.day.max(1);
        Ok(DateTime {
            date,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
            zone_minutes: if negative { -minutes } else { minutes },
        })
    }

    /// The rest of the line (`text`), possibly empty; 8-bit bytes pass.
    pub(crate) fn text(&mut self) -> Bytes {
        let start = self.pos;
        let rest = &self.buf[start..];
        let n = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
        self.pos += n;
        self.slice(start, self.pos)
    }
}
