//! The `Content-*` fields of one MIME part, parsed as Dovecot's
//! `message-part-data.c` does (the first of each field counts; a part
//! without MIME-Version or Content-Type keeps none of them).

use super::header::{strdup_value, HeaderField};
use super::rfc822::Rfc822Parser;

/// A MIME parameter: name and value as written (after RFC 2231 merging).
pub type Parameter = (Vec<u8>, Vec<u8>);

/// The Content-* data of a part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentData {
    /// Main type as written (`None` without a Content-Type field).
    pub content_type: Option<Vec<u8>>,
    /// Subtype as written ("" when the field had none).
    pub content_subtype: Vec<u8>,
    /// Content-Type parameters.
    pub content_type_params: Vec<Parameter>,
    /// Content-Transfer-Encoding token.
    pub transfer_encoding: Option<Vec<u8>>,
    /// Content-ID.
    pub id: Option<Vec<u8>>,
    /// Content-Description (raw, encoded words kept).
    pub description: Option<Vec<u8>>,
    /// Content-MD5.
    pub md5: Option<Vec<u8>>,
    /// Content-Disposition value.
    pub disposition: Option<Vec<u8>>,
    /// Content-Disposition parameters.
    pub disposition_params: Vec<Parameter>,
    /// Content-Language tags.
    pub language: Option<Vec<Vec<u8>>>,
    /// Content-Location.
    pub location: Option<Vec<u8>>,
}

impl ContentData {
    /// Parses the Content-* fields among `fields`.
    pub fn parse(data: &[u8], fields: &[HeaderField]) -> ContentData {
        let mut d = ContentData::default();
        for f in fields {
            let name = f.name(data);
            if name.len() < 8 || !name[..8].eq_ignore_ascii_case(b"Content-") {
                continue;
            }
            let rest = &name[8..];
            let is = |s: &str| rest.eq_ignore_ascii_case(s.as_bytes());
            if is("ID") && d.id.is_none() {
                d.id = Some(strdup_value(&f.full_value(data)));
            } else if is("MD5") && d.md5.is_none() {
                d.md5 = Some(strdup_value(&f.full_value(data)));
            } else if is("Type") && d.content_type.is_none() {
                d.parse_content_type(&f.full_value(data));
            } else if is("Transfer-Encoding") && d.transfer_encoding.is_none() {
                let v = f.full_value(data);
                let mut p = Rfc822Parser::new(&v);
                p.skip_lwsp();
                let mut tok = Vec::new();
                if p.parse_mime_token(&mut tok) >= 0 && p.skip_lwsp() == 0 && !tok.is_empty() {
                    d.transfer_encoding = Some(tok);
                }
            } else if is("Language") && d.language.is_none() {
                let v = f.full_value(data);
                let mut p = Rfc822Parser::new(&v);
                let mut langs = Vec::new();
                p.skip_lwsp();
                let mut tok = Vec::new();
                while p.parse_atom(&mut tok) >= 0 {
                    langs.push(std::mem::take(&mut tok));
                    if p.at_end() || p.peek() != b',' || langs.len() >= super::MAX_PARAMETERS {
                        break;
                    }
                    p.advance();
                    p.skip_lwsp();
                }
                if !langs.is_empty() {
                    d.language = Some(langs);
                }
            } else if is("Location") && d.location.is_none() {
                d.location = Some(strdup_value(&f.full_value(data)));
            } else if is("Description") && d.description.is_none() {
                d.description = Some(strdup_value(&f.full_value(data)));
            } else if is("Disposition") && d.disposition_params.is_empty() {
                let v = f.full_value(data);
                let mut p = Rfc822Parser::new(&v);
                p.skip_lwsp();
                let mut tok = Vec::new();
                if p.parse_mime_token(&mut tok) >= 0 {
                    d.disposition = Some(tok);
                    d.disposition_params = p.parse_parameters();
                }
            }
        }
        d
    }

    fn parse_content_type(&mut self, value: &[u8]) {
        let mut p = Rfc822Parser::new(value);
        p.skip_lwsp();
        let mut s = Vec::new();
        let ret = p.parse_content_type(&mut s);
        match s.iter().position(|&b| b == b'/') {
            Some(slash) => {
                self.content_subtype = s[slash + 1..].to_vec();
                s.truncate(slash);
            }
            None => self.content_subtype = Vec::new(),
        }
        self.content_type = Some(s);
        if ret < 0 {
            return;
        }
        self.content_type_params = p.parse_parameters();
    }

    /// The value of parameter `name` of Content-Type (ASCII case-insensitive).
    pub fn type_param(&self, name: &str) -> Option<&[u8]> {
        self.content_type_params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }
}
