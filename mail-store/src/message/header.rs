//! Header lines as Dovecot's `message-header-parser` splits them (with
//! `SKIP_INITIAL_LWSP` and `DROP_CR`): a field is its first line plus every
//! following line that starts with a space or tab; the value skips the white
//! space after the colon; a line without a colon is a field with an empty
//! name whose value is the whole line.

/// Header names longer than this are treated as part of the value, as Dovecot does.
pub const MAX_NAME_LEN: usize = 1000;

/// One physical line: `[start, content_end)` is the text, `next` the start
/// of the following line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// First byte.
    pub start: usize,
    /// End of the text, before `[CR]LF`.
    pub content_end: usize,
    /// After the line feed (or the end of data).
    pub next: usize,
    /// Length of the line ending: 0 (none, end of data), 1 (LF) or 2 (CRLF).
    pub newline_len: usize,
}

/// The line starting at `start`.
pub fn line_at(data: &[u8], start: usize) -> Line {
    match data
        .get(start..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
    {
        Some(i) => {
            let lf = start + i;
            let crlf = lf > start && data[lf - 1] == b'\r';
            Line {
                start,
                content_end: if crlf { lf - 1 } else { lf },
                next: lf + 1,
                newline_len: if crlf { 2 } else { 1 },
            }
        }
        None => Line {
            start,
            content_end: data.len().max(start),
            next: data.len().max(start),
            newline_len: 0,
        },
    }
}

/// One header field, by offsets into the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField {
    /// First byte of the field (its name).
    pub start: usize,
    /// After the last line ending of the field (continuations included).
    pub end: usize,
    /// End of the name (before any white space preceding the colon).
    pub name_end: usize,
    /// Start of the first line's value.
    pub value_start: usize,
    /// End of the first line's text.
    pub first_line_end: usize,
    /// Line-ending length of the field's last line (0, 1 or 2).
    pub last_newline_len: usize,
}

impl HeaderField {
    /// The field name ("" for a line without a colon).
    pub fn name<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.start..self.name_end]
    }

    /// True if the name equals `name`, ignoring ASCII case.
    pub fn is(&self, data: &[u8], name: &str) -> bool {
        self.name(data).eq_ignore_ascii_case(name.as_bytes())
    }

    /// The unfolded value as Dovecot's `full_value`: continuation lines are
    /// appended after a bare LF, with their leading white space.
    pub fn full_value(&self, data: &[u8]) -> Vec<u8> {
        let mut out = data[self.value_start..self.first_line_end].to_vec();
        let mut line = line_at(data, self.start);
        while line.next < self.end {
            line = line_at(data, line.next);
            out.push(b'\n');
            out.extend_from_slice(&data[line.start..line.content_end]);
        }
        out
    }
}

/// Parses the field starting at `start` (which must not be an empty line).
pub fn parse_field(data: &[u8], start: usize) -> HeaderField {
    let first = line_at(data, start);
    let text = &data[first.start..first.content_end];
    let mut end = first.next;
    let mut last_newline_len = first.newline_len;
    // continuation lines: the next line starts with a space or tab
    if first.newline_len > 0 {
        while matches!(data.get(end), Some(b' ' | b'\t')) {
            let l = line_at(data, end);
            end = l.next;
            last_newline_len = l.newline_len;
            if l.newline_len == 0 {
                break;
            }
        }
    }
    let whole_line = HeaderField {
        start,
        end,
        name_end: start,
        value_start: start,
        first_line_end: first.content_end,
        last_newline_len,
    };
    let Some(colon) = text.iter().position(|&b| b == b':') else {
        return whole_line;
    };
    let mut name_len = colon;
    while name_len > 0 && matches!(text[name_len - 1], b' ' | b'\t') {
        name_len -= 1;
    }
    if name_len > MAX_NAME_LEN {
        return whole_line;
    }
    let value = &text[colon + 1..];
    let mut skip = value
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if skip == value.len() && !value.is_empty() {
        skip = 1;
    }
    HeaderField {
        start,
        end,
        name_end: start + name_len,
        value_start: start + colon + 1 + skip,
        first_line_end: first.content_end,
        last_newline_len,
    }
}

/// Replaces NUL bytes by U+FFFD, as Dovecot's `message_header_strdup`.
pub fn strdup_value(value: &[u8]) -> Vec<u8> {
    if !value.contains(&0) {
        return value.to_vec();
    }
    let mut out = Vec::with_capacity(value.len() + 2);
    for &b in value {
        if b == 0 {
            out.extend_from_slice(super::rfc822::NUL_REPLACEMENT);
        } else {
            out.push(b);
        }
    }
    out
}
