//! The MIME structure parser: Dovecot's `message-parser.c` state machine
//! run over a complete message held in memory.
//!
//! The part boundaries it finds are Dovecot's, including for malformed mail:
//! a boundary line may end a part's header, the `[CR]LF` before a boundary
//! line belongs to the boundary, a boundary matches by prefix (longest
//! prefix of the open boundaries wins), a missing closing boundary ends the
//! parts at the end of the message, a multipart without a `boundary`
//! parameter has no children, and parts nested deeper than
//! [`MAX_NESTED_PARTS`] or beyond
//! [`MAX_TOTAL_PARTS`] are not split further.

use super::content::ContentData;
use super::header::{line_at, parse_field, HeaderField};
use super::part::{MessagePart, PartFlags, Size};
use super::rfc822::Rfc822Parser;
use super::{MAX_NESTED_PARTS, MAX_TOTAL_PARTS};

/// Boundaries longer than this are truncated (Dovecot: 70 + 10).
const BOUNDARY_STRING_MAX_LEN: usize = 80;
const BOUNDARY_END_MAX_LEN: usize = BOUNDARY_STRING_MAX_LEN + 4;

#[derive(Debug, Default)]
struct Node {
    parent: Option<usize>,
    offset: usize,
    header_end: usize,
    body_start: usize,
    body_end: usize,
    flags: u16,
    fields: Vec<HeaderField>,
    children: Vec<usize>,
    header_lines: usize,
}

#[derive(Debug)]
struct Boundary {
    part: usize,
    text: Vec<u8>,
    epilogue_found: bool,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Header,
    BodyToBoundary { first_line: bool },
    BodyToEof,
    Rfc822Init,
    MimeHeaderInit,
    Done,
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    nodes: Vec<Node>,
    cur: usize,
    boundaries: Vec<Boundary>,
    nested: usize,
    total: usize,
    last_boundary: Option<Vec<u8>>,
    multipart: bool,
    seen_content_type: bool,
    prev_newline_len: usize,
    state: State,
}

/// Parses `data` into its MIME part tree. Never fails: any byte sequence is
/// a message, as for Dovecot.
pub fn parse_message(data: &[u8]) -> MessagePart {
    let mut p = Parser {
        data,
        pos: 0,
        nodes: vec![Node::default()],
        cur: 0,
        boundaries: Vec::new(),
        nested: 0,
        total: 1,
        last_boundary: None,
        multipart: false,
        seen_content_type: false,
        prev_newline_len: 0,
        state: State::Header,
    };
    p.run();
    let mut root = p.build(0);
    fill_sizes(data, &mut root);
    root
}

/// Only the top-level header fields; the body is one undivided range.
pub fn parse_header_only(data: &[u8]) -> MessagePart {
    let mut fields = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        if data[pos] == b'\n' || data.get(pos..pos + 2) == Some(b"\r\n") {
            pos = line_at(data, pos).next;
            break;
        }
        let f = parse_field(data, pos);
        pos = f.end;
        if fields.len() < super::MAX_HEADER_FIELDS {
            fields.push(f);
        }
    }
    MessagePart {
        offset: 0,
        header_end: pos,
        body_start: pos,
        body_end: data.len(),
        fields,
        ..MessagePart::default()
    }
}

fn fill_sizes(data: &[u8], part: &mut MessagePart) {
    part.header_size = Size::of(&data[part.offset..part.header_end]);
    part.body_size = Size::of(&data[part.body_start..part.body_end]);
    // NULs in the part's own bytes (its header, or body outside its children)
    let mut own_nul = data[part.offset..part.header_end].contains(&0);
    let mut pos = part.body_start;
    for c in &part.children {
        own_nul |= data[pos..c.offset.max(pos)].contains(&0);
        pos = c.body_end.max(pos);
    }
    own_nul |= data[pos..part.body_end.max(pos)].contains(&0);
    if own_nul {
        part.flags.0 |= PartFlags::HAS_NULS;
    }
    part.content = if part.flags.has(PartFlags::IS_MIME) {
        ContentData::parse(data, &part.fields)
    } else {
        ContentData::default()
    };
    for c in &mut part.children {
        fill_sizes(data, c);
    }
}

impl Parser<'_> {
    fn build(&mut self, idx: usize) -> MessagePart {
        let children: Vec<usize> = std::mem::take(&mut self.nodes[idx].children);
        let built: Vec<MessagePart> = children.into_iter().map(|c| self.build(c)).collect();
        let n = &mut self.nodes[idx];
        MessagePart {
            offset: n.offset,
            header_end: n.header_end,
            body_start: n.body_start,
            body_end: n.body_end.max(n.body_start),
            header_size: Size::default(),
            body_size: Size::default(),
            flags: PartFlags(n.flags),
            fields: std::mem::take(&mut n.fields),
            content: ContentData::default(),
            children: built,
        }
    }

    fn run(&mut self) {
        loop {
            match self.state {
                State::Header => self.step_header(),
                State::BodyToBoundary { first_line } => self.body_to_boundary(first_line),
                State::BodyToEof => {
                    self.pos = self.data.len();
                    self.state = State::Done;
                }
                State::Rfc822Init => {
                    let start = self.nodes[self.cur].body_start;
                    self.append_part(start, 0);
                    self.state = State::Header;
                }
                State::MimeHeaderInit => {
                    self.append_part(self.pos, PartFlags::IS_MIME);
                    self.state = State::Header;
                }
                State::Done => break,
            }
        }
        // end of data: every open part ends here
        let end = self.data.len();
        let mut idx = Some(self.cur);
        while let Some(i) = idx {
            let n = &mut self.nodes[i];
            n.body_end = end.max(n.body_start);
            idx = n.parent;
        }
    }

    fn append_part(&mut self, offset: usize, flags: u16) {
        let idx = self.nodes.len();
        self.nodes.push(Node {
            parent: Some(self.cur),
            offset,
            flags,
            ..Node::default()
        });
        self.nodes[self.cur].children.push(idx);
        self.cur = idx;
        self.nested += 1;
        self.total += 1;
        self.seen_content_type = false;
        self.prev_newline_len = 0;
    }

    fn finish_part(&mut self, body_end: usize) {
        let n = &mut self.nodes[self.cur];
        n.body_end = body_end.max(n.body_start);
        self.nested = self.nested.saturating_sub(1);
        if let Some(parent) = n.parent {
            self.cur = parent;
        }
    }

    fn too_many_nested(&self) -> bool {
        self.nested + 1 >= MAX_NESTED_PARTS
    }

    /// Looks for a boundary line starting at `start`.
    fn find_boundary(&mut self, start: usize) -> Option<usize> {
        let rest = &self.data[start.min(self.data.len())..];
        if rest.len() < 2 || rest[0] != b'-' || rest[1] != b'-' {
            return None;
        }
        if self.total >= MAX_TOTAL_PARTS {
            self.nodes[self.cur].flags |= PartFlags::OVERFLOW;
            return None;
        }
        let line = &rest[2..];
        let mut find_size = line.len();
        let mut trailing_dashes = false;
        if let Some(lf) = line.iter().position(|&b| b == b'\n') {
            find_size = lf;
            if find_size > 0 && line[find_size - 1] == b'\r' {
                find_size -= 1;
            }
            if find_size > 2 && line[find_size - 1] == b'-' && line[find_size - 2] == b'-' {
                trailing_dashes = true;
            }
        } else if find_size > BOUNDARY_END_MAX_LEN {
            find_size = BOUNDARY_END_MAX_LEN;
        }
        let candidate = &line[..find_size];
        let mut best: Option<usize> = None;
        for (i, b) in self.boundaries.iter().enumerate().rev() {
            let len = b.text.len();
            if len <= find_size
                && candidate[..len] == b.text[..]
                && best.is_none_or(|bi| self.boundaries[bi].text.len() < len)
            {
                best = Some(i);
                if len == find_size || (len + 2 == find_size && trailing_dashes) {
                    break;
                }
            }
        }
        let bi = best?;
        let len = self.boundaries[bi].text.len();
        self.boundaries[bi].epilogue_found = line.len() >= len + 2 && &line[len..len + 2] == b"--";
        Some(bi)
    }

    fn step_header(&mut self) {
        let data = self.data;
        let pos = self.pos;
        let at_eoh =
            matches!(data.get(pos), Some(b'\n')) || data.get(pos..pos + 2) == Some(b"\r\n");
        if at_eoh
            && self.last_boundary.is_some()
            && self.nodes[self.cur].flags & PartFlags::IS_MIME != 0
        {
            if !self.too_many_nested() {
                let text = self.last_boundary.take().unwrap_or_default();
                self.boundaries.push(Boundary {
                    part: self.cur,
                    text,
                    epilogue_found: false,
                });
                self.multipart = true;
            } else {
                let n = &mut self.nodes[self.cur];
                n.flags |= PartFlags::OVERFLOW;
                n.flags &= !PartFlags::MULTIPART;
            }
        }
        if pos < data.len() && !self.boundaries.is_empty() {
            if let Some(bi) = self.find_boundary(pos) {
                if self.boundaries[bi].part != self.cur {
                    // a boundary ends this header; the newline before it belongs to the boundary
                    let n = &mut self.nodes[self.cur];
                    n.header_end = if n.header_lines == 0 {
                        n.offset
                    } else {
                        pos - self.prev_newline_len
                    };
                    self.end_of_headers(Some(bi), pos);
                    return;
                }
            }
        }
        if pos >= data.len() {
            self.nodes[self.cur].header_end = pos.min(data.len());
            self.end_of_headers(None, pos);
            return;
        }
        if at_eoh {
            let line = line_at(data, pos);
            self.nodes[self.cur].header_end = line.next;
            self.nodes[self.cur].header_lines += 1;
            self.pos = line.next;
            self.end_of_headers(None, self.pos);
            return;
        }
        let field = parse_field(data, pos);
        self.pos = field.end;
        self.prev_newline_len = field.last_newline_len;
        let n = &mut self.nodes[self.cur];
        n.header_lines += 1;
        n.header_end = field.end;
        if field.is(data, "Mime-Version") {
            n.flags |= PartFlags::IS_MIME;
        } else if field.is(data, "Content-Type") {
            n.flags |= PartFlags::IS_MIME;
            self.content_type_flags(&field);
        }
        if self.nodes[self.cur].fields.len() < super::MAX_HEADER_FIELDS {
            self.nodes[self.cur].fields.push(field);
        }
    }

    fn content_type_flags(&mut self, field: &HeaderField) {
        if self.seen_content_type {
            return;
        }
        self.seen_content_type = true;
        let value = field.full_value(self.data);
        let mut p = Rfc822Parser::new(&value);
        p.skip_lwsp();
        let mut ct = Vec::new();
        let ret = p.parse_content_type(&mut ct);
        let n = &mut self.nodes[self.cur];
        if ct.eq_ignore_ascii_case(b"message/rfc822") {
            n.flags |= PartFlags::MESSAGE_RFC822;
        } else if ct.len() >= 4
            && ct[..4].eq_ignore_ascii_case(b"text")
            && (ct.len() == 4 || ct[4] == b'/')
        {
            n.flags |= PartFlags::TEXT;
        } else if ct.len() >= 10 && ct[..10].eq_ignore_ascii_case(b"multipart/") {
            n.flags |= PartFlags::MULTIPART;
            if ct[10..].eq_ignore_ascii_case(b"digest") {
                n.flags |= PartFlags::MULTIPART_DIGEST;
            }
        }
        if ret < 0 || n.flags & PartFlags::MULTIPART == 0 || self.last_boundary.is_some() {
            return;
        }
        for (k, v) in p.parse_parameters() {
            if k.eq_ignore_ascii_case(b"boundary") {
                let mut v = v;
                v.truncate(BOUNDARY_STRING_MAX_LEN);
                // a C string ends at NUL
                if let Some(nul) = v.iter().position(|&b| b == 0) {
                    v.truncate(nul);
                }
                self.last_boundary = Some(v);
                break;
            }
        }
    }

    /// `boundary_at`: the header was ended by the boundary (index) found at `pos`.
    fn end_of_headers(&mut self, boundary_at: Option<usize>, pos: usize) {
        let cur = self.cur;
        let too_many_nested = self.too_many_nested();
        let parent_digest = self.nodes[cur]
            .parent
            .is_some_and(|p| self.nodes[p].flags & PartFlags::MULTIPART_DIGEST != 0);
        let n = &mut self.nodes[cur];
        if n.flags & PartFlags::IS_MIME == 0 {
            n.flags = 0;
        }
        self.last_boundary = None;
        if !self.seen_content_type || n.flags & PartFlags::IS_MIME == 0 {
            if parent_digest {
                n.flags |= PartFlags::MESSAGE_RFC822;
            } else {
                n.flags |= PartFlags::TEXT;
            }
        }
        n.body_start = n.header_end;
        let multipart = std::mem::take(&mut self.multipart);
        let rfc822 = n.flags & PartFlags::MESSAGE_RFC822 != 0;
        if multipart {
            self.state = State::BodyToBoundary { first_line: true };
        } else if !rfc822 {
            self.state = if self.boundaries.is_empty() {
                State::BodyToEof
            } else {
                State::BodyToBoundary { first_line: true }
            };
        } else if !too_many_nested && self.total < MAX_TOTAL_PARTS {
            self.state = State::Rfc822Init;
        } else {
            n.flags |= PartFlags::OVERFLOW;
            n.flags &= !PartFlags::MESSAGE_RFC822;
            self.state = if self.boundaries.is_empty() {
                State::BodyToEof
            } else {
                State::BodyToBoundary { first_line: true }
            };
        }
        if let Some(bi) = boundary_at {
            if matches!(self.state, State::Rfc822Init) {
                // the encapsulated message starts (and ends) at the boundary
                let start = self.nodes[self.cur].body_start;
                self.append_part(start, 0);
                let n = &mut self.nodes[self.cur];
                n.header_end = start;
                self.end_of_headers(Some(bi), pos);
                return;
            }
            let body_start = self.nodes[self.cur].body_start;
            self.pos = pos;
            self.part_finish(bi, body_start, pos);
        }
    }

    fn body_to_boundary(&mut self, first_line: bool) {
        let data = self.data;
        if first_line && self.pos < data.len() {
            if let Some(bi) = self.find_boundary(self.pos) {
                let pos = self.pos;
                self.part_finish(bi, pos, pos);
                return;
            }
        }
        let mut search = self.pos;
        while let Some(i) = data
            .get(search..)
            .and_then(|r| r.iter().position(|&b| b == b'\n'))
        {
            let lf = search + i;
            let line_start = lf + 1;
            if let Some(bi) = self.find_boundary(line_start) {
                let mut nl_start = lf;
                if lf > self.pos && data[lf - 1] == b'\r' {
                    nl_start -= 1;
                }
                self.part_finish(bi, nl_start, line_start);
                return;
            }
            search = line_start;
        }
        self.pos = data.len();
        self.state = State::Done;
    }

    /// A boundary line at `line_start`; the current part(s) end at `nl_start`.
    fn part_finish(&mut self, bi: usize, nl_start: usize, line_start: usize) {
        let owner = self.boundaries[bi].part;
        let epilogue = self.boundaries[bi].epilogue_found;
        while self.cur != owner {
            self.finish_part(nl_start);
            if self.nodes[self.cur].parent.is_none() && self.cur != owner {
                break;
            }
        }
        if epilogue {
            self.boundaries.truncate(bi);
        } else {
            self.boundaries.truncate(bi + 1);
        }
        // skip the rest of the boundary line
        self.pos = line_at(self.data, line_start).next;
        if self.pos >= self.data.len() && self.data.get(self.pos.saturating_sub(1)) != Some(&b'\n')
        {
            self.state = State::Done;
            return;
        }
        let top_is_ours = self.boundaries.last().is_some_and(|b| b.part == self.cur);
        self.state = if top_is_ours {
            State::MimeHeaderInit
        } else if !self.boundaries.is_empty() {
            State::BodyToBoundary { first_line: true }
        } else {
            State::BodyToEof
        };
    }
}
