//! BODY from a cached BODYSTRUCTURE, as Dovecot derives it
//! (`imap_body_parse_from_bodystructure()`): the same parts with their
//! extension data left out. The input comes from a cache file, so any
//! bytes give either the answer or `None`, never a panic.
//!
//! ```
//! use columba_mail_store::fetch::body_from_bodystructure::body_from_bodystructure;
//!
//! let bs = b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1 NIL NIL NIL NIL)\
//!            (\"text\" \"html\" NIL NIL NIL \"7bit\" 9 1 NIL NIL NIL NIL) \"alternative\" \
//!            (\"boundary\" \"b\") NIL NIL NIL";
//! assert_eq!(
//!     body_from_bodystructure(bs).unwrap(),
//!     b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 5 1)\
//!       (\"text\" \"html\" NIL NIL NIL \"7bit\" 9 1) \"alternative\"".to_vec()
//! );
//! ```

/// Deepest list nesting read (bounds recursion on hostile input).
const MAX_DEPTH: usize = 256;

#[derive(Debug)]
enum Item<'a> {
    /// A list: its items and the bytes it spans (parentheses included).
    List(Vec<Item<'a>>, &'a [u8]),
    /// NIL, a number, an atom, a quoted string or a literal, as written.
    Scalar(&'a [u8]),
}

impl Item<'_> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Item::Scalar(s) | Item::List(_, s) => out.extend_from_slice(s),
        }
    }

    /// The scalar's text without quotes, for type comparisons.
    fn text(&self) -> Option<&[u8]> {
        match self {
            Item::Scalar(s) => Some(s.strip_prefix(b"\"")?.strip_suffix(b"\"").unwrap_or(s)),
            Item::List(..) => None,
        }
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn skip_spaces(&mut self) {
        while self.data.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    /// Items up to `)` (when `nested`) or the end.
    fn items(&mut self, depth: usize, nested: bool) -> Option<Vec<Item<'a>>> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut out = Vec::new();
        loop {
            self.skip_spaces();
            match self.data.get(self.pos) {
                None if nested => return None,
                None => return Some(out),
                Some(b')') if nested => {
                    self.pos += 1;
                    return Some(out);
                }
                Some(b')') => return None,
                Some(b'(') => {
                    let start = self.pos;
                    self.pos += 1;
                    let items = self.items(depth + 1, true)?;
                    out.push(Item::List(items, &self.data[start..self.pos]));
                }
                Some(b'"') => out.push(Item::Scalar(self.quoted()?)),
                Some(b'{') => out.push(Item::Scalar(self.literal()?)),
                Some(_) => out.push(Item::Scalar(self.atom()?)),
            }
        }
    }

    fn quoted(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.data.get(self.pos)? {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    return self.data.get(start..self.pos);
                }
                _ => self.pos += 1,
            }
        }
    }

    fn literal(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        let close = start + self.data[start..].iter().position(|&b| b == b'}')?;
        let len: usize = std::str::from_utf8(&self.data[start + 1..close])
            .ok()?
            .parse()
            .ok()?;
        let body = close.checked_add(3)?;
        if self.data.get(close + 1..body)? != b"\r\n" {
            return None;
        }
        let end = body.checked_add(len)?;
        self.pos = end;
        self.data.get(start..end)
    }

    fn atom(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        while let Some(&b) = self.data.get(self.pos) {
            if matches!(b, b' ' | b'(' | b')' | b'"' | b'{') {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.data[start..self.pos])
    }
}

/// BODY of one part (its items without the surrounding parentheses).
fn body_of(items: &[Item<'_>], out: &mut Vec<u8>, depth: usize) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    if matches!(items.first(), Some(Item::List(..))) {
        // multipart: the children, then the subtype
        let children = items.iter().take_while(|i| matches!(i, Item::List(..)));
        let mut n = 0;
        for child in children {
            let Item::List(c, _) = child else { return None };
            out.push(b'(');
            body_of(c, out, depth + 1)?;
            out.push(b')');
            n += 1;
        }
        let subtype = items.get(n)?;
        out.push(b' ');
        subtype.write(out);
        return Some(());
    }
    // type subtype params id description encoding size
    let basic = items.get(..7)?;
    for (i, it) in basic.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        it.write(out);
    }
    let media = basic[0].text()?;
    let subtype = basic[1].text()?;
    if media.eq_ignore_ascii_case(b"text") {
        out.push(b' ');
        items.get(7)?.write(out);
    } else if media.eq_ignore_ascii_case(b"message") && subtype.eq_ignore_ascii_case(b"rfc822") {
        // envelope, body, lines
        out.push(b' ');
        items.get(7)?.write(out);
        let Item::List(child, _) = items.get(8)? else {
            return None;
        };
        out.extend_from_slice(b" (");
        body_of(child, out, depth + 1)?;
        out.extend_from_slice(b") ");
        items.get(9)?.write(out);
    }
    Some(())
}

/// BODY (without outer parentheses) from BODYSTRUCTURE (without outer
/// parentheses, as `imap.bodystructure` holds it), or `None` if `bs` is not
/// a BODYSTRUCTURE.
pub fn body_from_bodystructure(bs: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader { data: bs, pos: 0 };
    let items = r.items(0, false)?;
    let mut out = Vec::with_capacity(bs.len());
    body_of(&items, &mut out, 0)?;
    Some(out)
}
