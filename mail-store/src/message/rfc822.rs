//! RFC 822/2822/2045 tokens as Dovecot's `rfc822-parser` reads them: LWSP and
//! nested comments, atoms, dot-atoms, quoted strings, domain literals, MIME
//! tokens and `Content-Type` parameters (with RFC 2231 continuations merged).
//!
//! Reads past the end of input see a NUL byte, as Dovecot's parser sees the
//! string terminator; nothing here can panic on any input.

/// `atext` characters (1), alpha/digits (2), atext that are MIME tspecials (4).
const ATEXT: [u8; 128] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 4, //
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 4, 0, 4, //
    0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, //
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 1, 1, //
    1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, //
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 0, //
];

fn atext_class(c: u8) -> u8 {
    if c >= 0x80 {
        2
    } else {
        ATEXT[c as usize]
    }
}

/// RFC 5322 `atext` (8-bit bytes count as atext, as in Dovecot).
pub fn is_atext(c: u8) -> bool {
    atext_class(c) != 0
}

/// A MIME token character (atext that is not a tspecial).
pub fn is_atext_non_tspecial(c: u8) -> bool {
    atext_class(c) & 3 != 0
}

/// UTF-8 of U+FFFD, which replaces NUL bytes in parsed values.
pub const NUL_REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// A cursor over one header value.
#[derive(Debug, Clone)]
pub struct Rfc822Parser<'a> {
    data: &'a [u8],
    /// Current position.
    pub pos: usize,
    /// The text of the last comment skipped, when asked for.
    pub last_comment: Option<Vec<u8>>,
    /// Replace NUL bytes inside quoted strings and comments.
    pub replace_nul: bool,
}

impl<'a> Rfc822Parser<'a> {
    /// A parser over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Rfc822Parser {
            data,
            pos: 0,
            last_comment: None,
            replace_nul: false,
        }
    }

    /// The byte at the cursor, or NUL at the end.
    pub fn peek(&self) -> u8 {
        self.data.get(self.pos).copied().unwrap_or(0)
    }

    /// True at the end of input.
    pub fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// Skips one byte.
    pub fn advance(&mut self) {
        self.pos += 1;
    }

    fn end(&self) -> usize {
        self.data.len()
    }

    /// Skips white space, line breaks and comments. 1 = more data, 0 = end, -1 = broken comment.
    pub fn skip_lwsp(&mut self) -> i32 {
        while self.pos < self.end() {
            let c = self.data[self.pos];
            if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
                self.pos += 1;
                continue;
            }
            if c != b'(' {
                break;
            }
            if self.skip_comment() < 0 {
                return -1;
            }
        }
        i32::from(self.pos < self.end())
    }

    /// Skips a (nested) comment starting at `(`.
    pub fn skip_comment(&mut self) -> i32 {
        let mut level = 1;
        if let Some(c) = self.last_comment.as_mut() {
            c.clear();
        }
        self.pos += 1;
        let mut start = self.pos;
        while self.pos < self.end() {
            match self.data[self.pos] {
                0 if self.replace_nul => {
                    if let Some(c) = self.last_comment.as_mut() {
                        c.extend_from_slice(&self.data[start..self.pos]);
                        c.extend_from_slice(NUL_REPLACEMENT);
                    }
                    start = self.pos + 1;
                }
                b'(' => level += 1,
                b')' => {
                    level -= 1;
                    if level == 0 {
                        if let Some(c) = self.last_comment.as_mut() {
                            c.extend_from_slice(&self.data[start..self.pos]);
                        }
                        self.pos += 1;
                        return i32::from(self.pos < self.end());
                    }
                }
                b'\n' => {
                    if let Some(c) = self.last_comment.as_mut() {
                        let mut end = self.pos;
                        if end > start && self.data[end - 1] == b'\r' {
                            end -= 1;
                        }
                        c.extend_from_slice(&self.data[start..end]);
                        start = self.pos + 1;
                    }
                }
                b'\\' => {
                    self.pos += 1;
                    if self.pos >= self.end() {
                        return -1;
                    }
                    if matches!(self.data[self.pos], b'\r' | b'\n' | 0) {
                        self.pos -= 1;
                    } else {
                        if let Some(c) = self.last_comment.as_mut() {
                            c.extend_from_slice(&self.data[start..self.pos - 1]);
                        }
                        start = self.pos;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        -1
    }

    /// An atom; -1 if none starts here.
    pub fn parse_atom(&mut self, out: &mut Vec<u8>) -> i32 {
        if self.at_end() || !is_atext(self.peek()) {
            return -1;
        }
        let start = self.pos;
        self.pos += 1;
        while self.pos < self.end() {
            if is_atext(self.data[self.pos]) {
                self.pos += 1;
                continue;
            }
            out.extend_from_slice(&self.data[start..self.pos]);
            return self.skip_lwsp();
        }
        out.extend_from_slice(&self.data[start..self.pos]);
        0
    }

    /// A dot-atom, with LWSP allowed around the dots (RFC 822).
    pub fn parse_dot_atom(&mut self, out: &mut Vec<u8>) -> i32 {
        if self.at_end() || !is_atext(self.peek()) {
            return -1;
        }
        let mut start = self.pos;
        self.pos += 1;
        while self.pos < self.end() {
            if is_atext(self.data[self.pos]) {
                self.pos += 1;
                continue;
            }
            if start == self.pos {
                return -1;
            }
            out.extend_from_slice(&self.data[start..self.pos]);
            let ret = self.skip_lwsp();
            if ret <= 0 {
                return ret;
            }
            if self.peek() != b'.' {
                return 1;
            }
            self.pos += 1;
            out.push(b'.');
            if self.skip_lwsp() <= 0 {
                return -1;
            }
            start = self.pos;
        }
        out.extend_from_slice(&self.data[start..self.pos]);
        0
    }

    /// Atext and dots, not skipping white space inside.
    fn parse_atom_or_dot(&mut self, out: &mut Vec<u8>) -> i32 {
        let start = self.pos;
        while self.pos < self.end() {
            let c = self.data[self.pos];
            if is_atext(c) || c == b'.' {
                self.pos += 1;
                continue;
            }
            out.extend_from_slice(&self.data[start..self.pos]);
            return self.skip_lwsp();
        }
        out.extend_from_slice(&self.data[start..self.pos]);
        0
    }

    /// A phrase: words joined with single spaces.
    pub fn parse_phrase(&mut self, out: &mut Vec<u8>) -> i32 {
        if self.at_end() {
            return 0;
        }
        if self.peek() == b'.' {
            return -1;
        }
        loop {
            let ret = if self.peek() == b'"' {
                self.parse_quoted_string(out)
            } else {
                self.parse_atom_or_dot(out)
            };
            if ret <= 0 {
                return ret;
            }
            let c = self.peek();
            if !is_atext(c) && c != b'"' && c != b'.' {
                break;
            }
            out.push(b' ');
        }
        self.skip_lwsp()
    }

    /// A quoted string starting at `"`; line breaks inside are removed.
    pub fn parse_quoted_string(&mut self, out: &mut Vec<u8>) -> i32 {
        self.pos += 1;
        let mut start = self.pos;
        while self.pos < self.end() {
            match self.data[self.pos] {
                0 if self.replace_nul => {
                    out.extend_from_slice(&self.data[start..self.pos]);
                    out.extend_from_slice(NUL_REPLACEMENT);
                    start = self.pos + 1;
                }
                b'"' => {
                    out.extend_from_slice(&self.data[start..self.pos]);
                    self.pos += 1;
                    return self.skip_lwsp();
                }
                b'\n' => {
                    let mut end = self.pos;
                    if end > start && self.data[end - 1] == b'\r' {
                        end -= 1;
                    }
                    out.extend_from_slice(&self.data[start..end]);
                    start = self.pos + 1;
                }
                b'\\' => {
                    self.pos += 1;
                    if self.pos >= self.end() {
                        return -1;
                    }
                    if matches!(self.data[self.pos], b'\r' | b'\n' | 0) {
                        self.pos -= 1;
                    } else {
                        out.extend_from_slice(&self.data[start..self.pos - 1]);
                        start = self.pos;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        -1
    }

    /// A domain after `@`: dot-atom or domain literal.
    pub fn parse_domain(&mut self, out: &mut Vec<u8>) -> i32 {
        self.pos += 1;
        if self.skip_lwsp() <= 0 {
            return -1;
        }
        if self.peek() == b'[' {
            self.parse_domain_literal(out)
        } else {
            self.parse_dot_atom(out)
        }
    }

    fn parse_domain_literal(&mut self, out: &mut Vec<u8>) -> i32 {
        let mut start = self.pos;
        self.pos += 1;
        while self.pos < self.end() {
            match self.data[self.pos] {
                0 if self.replace_nul => {
                    out.extend_from_slice(&self.data[start..self.pos]);
                    out.extend_from_slice(NUL_REPLACEMENT);
                    start = self.pos + 1;
                }
                b'[' => return -1,
                b']' => {
                    out.extend_from_slice(&self.data[start..=self.pos]);
                    self.pos += 1;
                    return self.skip_lwsp();
                }
                b'\n' => {
                    let mut end = self.pos;
                    if end > start && self.data[end - 1] == b'\r' {
                        end -= 1;
                    }
                    out.extend_from_slice(&self.data[start..end]);
                    start = self.pos + 1;
                }
                b'\\' => {
                    self.pos += 1;
                    if self.pos >= self.end() {
                        return -1;
                    }
                    if matches!(self.data[self.pos], b'\r' | b'\n' | 0) {
                        out.extend_from_slice(&self.data[start..self.pos]);
                        start = self.pos;
                        self.pos -= 1;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        -1
    }

    /// A MIME token (dots allowed).
    pub fn parse_mime_token(&mut self, out: &mut Vec<u8>) -> i32 {
        let start = self.pos;
        while self.pos < self.end() {
            let c = self.data[self.pos];
            if is_atext_non_tspecial(c) || c == b'.' {
                self.pos += 1;
                continue;
            }
            out.extend_from_slice(&self.data[start..self.pos]);
            return self.skip_lwsp();
        }
        out.extend_from_slice(&self.data[start..self.pos]);
        0
    }

    /// `type/subtype` into `out`; -1 when broken (out may hold a partial type).
    pub fn parse_content_type(&mut self, out: &mut Vec<u8>) -> i32 {
        let pos0 = out.len();
        if self.skip_lwsp() <= 0 {
            return -1;
        }
        if self.parse_mime_token(out) <= 0 || out.len() == pos0 {
            return -1;
        }
        if self.peek() != b'/' {
            out.truncate(pos0);
            return -1;
        }
        self.pos += 1;
        if self.skip_lwsp() <= 0 {
            out.truncate(pos0);
            return -1;
        }
        out.push(b'/');
        let pos1 = out.len();
        let ret = self.parse_mime_token(out);
        if ret < 0 || out.len() == pos1 || (!self.at_end() && self.peek() != b';') {
            out.truncate(pos0);
            return -1;
        }
        ret
    }

    /// One `; key=value` parameter. 0 = no more, -1 = broken, 1 = got one.
    fn parse_content_param(&mut self, key: &mut Vec<u8>, value: &mut Vec<u8>) -> i32 {
        key.clear();
        value.clear();
        if self.at_end() {
            return 0;
        }
        if self.peek() != b';' {
            return -1;
        }
        self.pos += 1;
        if self.skip_lwsp() <= 0 {
            return -1;
        }
        if self.parse_mime_token(key) <= 0 {
            return -1;
        }
        if self.peek() != b'=' {
            return -1;
        }
        self.pos += 1;
        let mut ret = self.skip_lwsp();
        if ret <= 0 {
            // broken / no value
        } else if self.peek() == b'"' {
            ret = self.parse_quoted_string(value);
        } else if self.peek() == b'=' {
            while !self.at_end() && !matches!(self.peek(), b';' | b' ' | b'\t' | b'\r' | b'\n') {
                value.push(self.peek());
                self.pos += 1;
            }
        } else {
            ret = self.parse_mime_token(value);
        }
        if ret < 0 {
            -1
        } else {
            1
        }
    }

    /// All parameters, RFC 2231 continuations merged (`name*0`, `name*1*`),
    /// as Dovecot's `rfc2231_parse` returns them.
    pub fn parse_parameters(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        struct Cont {
            key: Vec<u8>,
            value: Vec<u8>,
            idx: u32,
            extended: bool,
        }
        let saved = self.replace_nul;
        self.replace_nul = true;
        let mut result = Vec::new();
        let mut conts: Vec<Cont> = Vec::new();
        let mut key = Vec::new();
        let mut value = Vec::new();
        let mut idx: u32 = 0;
        loop {
            let ret = self.parse_content_param(&mut key, &mut value);
            if ret == 0 {
                break;
            }
            if ret < 0 {
                if self.at_end() {
                    break;
                }
                self.pos += 1;
                continue;
            }
            if result.len() + conts.len() > crate::message::MAX_PARAMETERS {
                continue;
            }
            let mut plain = true;
            if let Some(star) = key.iter().position(|&b| b == b'*') {
                let mut p = star;
                if p + 1 < key.len() {
                    p += 1;
                    idx = 0;
                    while p < key.len() && key[p].is_ascii_digit() {
                        idx = idx.wrapping_mul(10).wrapping_add(u32::from(key[p] - b'0'));
                        p += 1;
                    }
                }
                let extended = p < key.len() && key[p] == b'*';
                if extended {
                    p += 1;
                }
                if p >= key.len() {
                    conts.push(Cont {
                        key: key[..star].to_vec(),
                        value: value.clone(),
                        idx,
                        extended,
                    });
                    plain = false;
                }
            }
            if plain {
                result.push((key.clone(), value.clone()));
            }
        }
        self.replace_nul = saved;
        if conts.is_empty() {
            return result;
        }
        conts.sort_by(|a, b| a.key.cmp(&b.key).then(a.idx.cmp(&b.idx)));
        let mut i = 0;
        while i < conts.len() {
            let mut ok = true;
            let mut have_extended = false;
            let mut next_idx = 0;
            let mut j = i;
            while j < conts.len() {
                if !conts[i].key.eq_ignore_ascii_case(&conts[j].key) {
                    break;
                }
                if conts[j].idx != next_idx {
                    ok = false;
                }
                if conts[j].extended {
                    have_extended = true;
                }
                next_idx += 1;
                j += 1;
            }
            let next = j;
            if !ok {
                for c in &conts[i..next] {
                    let mut k = c.key.clone();
                    k.extend_from_slice(format!("*{}", c.idx).as_bytes());
                    if c.extended {
                        k.push(b'*');
                    }
                    result.push((k, c.value.clone()));
                }
            } else {
                let mut v = Vec::new();
                if !conts[i].extended && have_extended {
                    v.extend_from_slice(b"''");
                }
                for c in &conts[i..next] {
                    if !c.extended && have_extended {
                        for &b in &c.value {
                            if b == b'%' {
                                v.extend_from_slice(b"%25");
                            } else {
                                v.push(b);
                            }
                        }
                    } else {
                        v.extend_from_slice(&c.value);
                    }
                }
                let mut k = conts[i].key.clone();
                if have_extended {
                    k.push(b'*');
                }
                result.push((k, v));
            }
            i = next;
        }
        result
    }
}
