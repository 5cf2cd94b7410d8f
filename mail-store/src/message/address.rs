//! Address lists (`From`, `To`, ...) parsed as Dovecot's `message-address.c`
//! with `FILL_MISSING`: groups become start/end markers, broken addresses
//! are kept with `MISSING_MAILBOX`, `MISSING_DOMAIN`, `SYNTAX_ERROR` or
//! `INVALID_ROUTE` placeholders, and a comment can stand in for the name.

use super::rfc822::Rfc822Parser;

/// One address, or a group marker: a group start has only `mailbox` (the
/// group name); a group end has nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// Display name (raw, encoded words kept).
    pub name: Option<Vec<u8>>,
    /// Source route (`@a,@b`).
    pub route: Option<Vec<u8>>,
    /// Local part, or the group name of a group start.
    pub mailbox: Option<Vec<u8>>,
    /// Domain.
    pub domain: Option<Vec<u8>>,
    /// The address was not valid RFC 5322.
    pub invalid_syntax: bool,
}

/// Most addresses kept from one header (bounds memory for hostile mail).
pub const MAX_ADDRESSES: usize = 10_000;

struct Ctx<'a> {
    p: Rfc822Parser<'a>,
    out: Vec<Address>,
    addr: Address,
    s: Vec<u8>,
}

/// Parses an address-list header value.
pub fn parse_address_list(value: &[u8]) -> Vec<Address> {
    let mut p = Rfc822Parser::new(value);
    p.last_comment = Some(Vec::new());
    p.replace_nul = true;
    let mut ctx = Ctx {
        p,
        out: Vec::new(),
        addr: Address::default(),
        s: Vec::new(),
    };
    if ctx.p.skip_lwsp() > 0 {
        ctx.parse_address_list();
    }
    ctx.out
}

fn bytes(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

impl Ctx<'_> {
    fn add_address(&mut self) {
        let a = std::mem::take(&mut self.addr);
        if self.out.len() < MAX_ADDRESSES {
            self.out.push(a);
        }
    }

    fn parse_nonstrict_dot_atom(&mut self) -> i32 {
        let mut ret = -1;
        loop {
            while self.p.peek() == b'.' {
                self.s.push(b'.');
                self.p.advance();
                if self.p.at_end() {
                    return 0;
                }
                ret = 1;
            }
            if self.p.peek() == b'@' {
                break;
            }
            ret = self.p.parse_atom(&mut self.s);
            if !(ret > 0 && self.p.peek() == b'.') {
                break;
            }
        }
        ret
    }

    fn parse_local_part(&mut self) -> i32 {
        self.s.clear();
        let ret = if self.p.peek() == b'"' {
            let mut s = std::mem::take(&mut self.s);
            let r = self.p.parse_quoted_string(&mut s);
            self.s = s;
            r
        } else {
            self.parse_nonstrict_dot_atom()
        };
        if ret < 0 {
            return -1;
        }
        self.addr.mailbox = Some(self.s.clone());
        ret
    }

    fn parse_domain(&mut self) -> i32 {
        self.s.clear();
        let mut s = std::mem::take(&mut self.s);
        let ret = self.p.parse_domain(&mut s);
        self.s = s;
        if ret < 0 {
            return -1;
        }
        self.addr.domain = Some(self.s.clone());
        ret
    }

    fn parse_domain_list(&mut self) -> i32 {
        self.s.clear();
        loop {
            if self.p.at_end() {
                return 0;
            }
            if self.p.peek() != b'@' {
                break;
            }
            if !self.s.is_empty() {
                self.s.push(b',');
            }
            self.s.push(b'@');
            let mut s = std::mem::take(&mut self.s);
            let ret = self.p.parse_domain(&mut s);
            self.s = s;
            if ret <= 0 {
                return ret;
            }
            while self.p.skip_lwsp() > 0 && self.p.peek() == b',' {
                self.p.advance();
            }
        }
        self.addr.route = Some(self.s.clone());
        1
    }

    fn parse_angle_addr(&mut self) -> i32 {
        self.p.advance(); // '<'
        if self.p.skip_lwsp() <= 0 {
            return -1;
        }
        if self.p.peek() == b'@' {
            if self.parse_domain_list() > 0 && self.p.peek() == b':' {
                self.p.advance();
            } else {
                self.addr.route = bytes("INVALID_ROUTE");
                if self.p.at_end() {
                    return -1;
                }
            }
            if self.p.skip_lwsp() <= 0 {
                return -1;
            }
        }
        if self.p.peek() != b'>' {
            if self.parse_local_part() <= 0 {
                return -1;
            }
            if self.p.peek() == b'@' && self.parse_domain() <= 0 {
                return -1;
            }
        }
        if self.p.peek() != b'>' {
            return -1;
        }
        self.p.advance();
        self.p.skip_lwsp()
    }

    fn parse_name_addr(&mut self) -> i32 {
        self.s.clear();
        let mut s = std::mem::take(&mut self.s);
        let r = self.p.parse_phrase(&mut s);
        self.s = s;
        if r <= 0 || self.p.peek() != b'<' {
            return -1;
        }
        self.addr.name = if self.s.is_empty() || self.s.first() == Some(&0) {
            None
        } else {
            Some(self.s.clone())
        };
        if self.parse_angle_addr() < 0 {
            self.addr.domain = bytes("SYNTAX_ERROR");
            self.addr.invalid_syntax = true;
        }
        i32::from(!self.p.at_end())
    }

    fn parse_addr_spec(&mut self) -> i32 {
        let mut ret2 = -2;
        if let Some(c) = self.p.last_comment.as_mut() {
            c.clear();
        }
        let quoted = self.p.peek() == b'"';
        let mut ret = self.parse_local_part();
        if ret <= 0 {
            self.addr.invalid_syntax = true;
        }
        if ret != 0 && !self.p.at_end() && self.p.peek() == b'@' {
            ret2 = self.parse_domain();
            if ret2 <= 0 {
                ret = ret2;
            }
        }
        let comment = self.p.last_comment.clone().unwrap_or_default();
        if !comment.is_empty() {
            self.addr.name = Some(comment);
        } else if ret2 == -2 {
            self.s.push(b' ');
            let orig = self.s.len();
            let mut s = std::mem::take(&mut self.s);
            let _ = self.p.parse_phrase(&mut s);
            self.s = s;
            if self.s.len() != orig {
                self.addr.mailbox = None;
                self.addr.name = Some(self.s.clone());
            } else if !quoted {
                self.addr.domain = Some(Vec::new());
            }
            self.addr.invalid_syntax = true;
            ret = -1;
        }
        ret
    }

    fn add_fixed_address(&mut self) {
        if self.addr.mailbox.is_none() {
            self.addr.mailbox = bytes("MISSING_MAILBOX");
            self.addr.invalid_syntax = true;
        }
        if self.addr.domain.as_ref().is_none_or(|d| d.is_empty()) {
            self.addr.domain = bytes("MISSING_DOMAIN");
            self.addr.invalid_syntax = true;
        }
        self.add_address();
    }

    fn parse_mailbox(&mut self) -> i32 {
        let start = self.p.pos;
        let mut ret = self.parse_name_addr();
        if ret < 0 {
            self.p.pos = start;
            ret = self.parse_addr_spec();
            if self.addr.invalid_syntax
                && self.addr.name.is_none()
                && self.addr.mailbox.is_some()
                && self.addr.domain.is_none()
            {
                self.addr.name = self.addr.mailbox.take();
            }
        }
        if ret < 0 {
            self.addr.invalid_syntax = true;
        }
        self.add_fixed_address();
        ret
    }

    fn parse_group(&mut self) -> i32 {
        self.s.clear();
        let mut s = std::mem::take(&mut self.s);
        let r = self.p.parse_phrase(&mut s);
        self.s = s;
        if r <= 0 || self.p.peek() != b':' {
            return -1;
        }
        self.p.advance();
        let mut ret = self.p.skip_lwsp();
        if ret <= 0 {
            self.addr.invalid_syntax = true;
        }
        self.addr.mailbox = Some(self.s.clone());
        self.add_address();
        if ret > 0 && self.p.peek() != b';' {
            loop {
                self.parse_mailbox();
                if self.p.at_end() || self.p.peek() != b',' {
                    break;
                }
                self.p.advance();
                if self.p.skip_lwsp() <= 0 {
                    ret = -1;
                    break;
                }
            }
        }
        if ret >= 0 {
            if self.p.at_end() || self.p.peek() != b';' {
                ret = -1;
            } else {
                self.p.advance();
                ret = self.p.skip_lwsp();
            }
        }
        if ret < 0 {
            self.addr.invalid_syntax = true;
        }
        self.add_address();
        i32::from(ret != 0)
    }

    fn parse_address(&mut self) -> i32 {
        let start = self.p.pos;
        let ret = self.parse_group();
        if ret < 0 {
            self.p.pos = start;
            // a failed group attempt may have left a partial address
            self.addr = Address::default();
            return self.parse_mailbox();
        }
        ret
    }

    fn parse_address_list(&mut self) {
        let mut remaining = MAX_ADDRESSES;
        while remaining > 0 {
            remaining -= 1;
            if self.parse_address() == 0 {
                break;
            }
            if self.p.at_end() || self.p.peek() != b',' {
                break;
            }
            self.p.advance();
            let ret = self.p.skip_lwsp();
            if ret <= 0 {
                if ret < 0 {
                    self.add_fixed_address();
                }
                break;
            }
        }
    }
}
