//! FETCH answered from the cache first: ENVELOPE, BODYSTRUCTURE, BODY,
//! `BODY[HEADER.FIELDS (...)]` and RFC822.SIZE come from
//! `dovecot.index.cache` when the fields they need are there (cached by
//! Dovecot or by Columba), and from the message file otherwise, which then
//! caches what it computed, as Dovecot's `index-mail.c` does.

use std::os::unix::fs::MetadataExt;

use super::message_cache::{fields, header_field_name, MessageCache, ENVELOPE_HEADERS};
use super::precache::{add_computed, Computed};
use super::snapshot::{MailboxSnapshot, SnapshotMessage};
use crate::error::{Error, Result};
use crate::fetch::body_from_bodystructure::body_from_bodystructure;
use crate::fetch::{Section, SectionText};
use crate::message::Message;

/// A FETCH item the cache can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachedItem {
    /// ENVELOPE: the bytes inside its parentheses.
    Envelope,
    /// BODYSTRUCTURE: the bytes inside its parentheses.
    BodyStructure,
    /// BODY: the bytes inside its parentheses.
    Body,
    /// `BODY[HEADER.FIELDS (names)]`: the section's bytes (CRLF line ends,
    /// closing blank line), as sent in the literal.
    HeaderFields(Vec<String>),
    /// RFC822.SIZE, as decimal digits.
    Rfc822Size,
}

impl CachedItem {
    /// The item for a FETCH item name (`ENVELOPE`, `BODYSTRUCTURE`, `BODY`,
    /// `RFC822.SIZE`, `BODY[HEADER.FIELDS (...)]`, `BODY.PEEK[...]`), or
    /// `None` if the cache does not hold it.
    pub fn parse(item: &str) -> Option<CachedItem> {
        let upper = item.to_ascii_uppercase();
        match upper.as_str() {
            "ENVELOPE" => return Some(CachedItem::Envelope),
            "BODYSTRUCTURE" => return Some(CachedItem::BodyStructure),
            "BODY" => return Some(CachedItem::Body),
            "RFC822.SIZE" => return Some(CachedItem::Rfc822Size),
            _ => {}
        }
        let spec = upper
            .strip_prefix("BODY.PEEK[")
            .or_else(|| upper.strip_prefix("BODY["))?
            .strip_suffix(']')?;
        let original = &item[item.len() - 1 - spec.len()..item.len() - 1];
        match Section::parse(original).ok()? {
            Section {
                part,
                text: SectionText::HeaderFields(names),
            } if part.is_empty() => Some(CachedItem::HeaderFields(
                names
                    .iter()
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect(),
            )),
            _ => None,
        }
    }

    /// The cache fields Dovecot keeps for this item when it computes it.
    fn cache_fields(&self) -> Vec<String> {
        match self {
            CachedItem::Envelope => ENVELOPE_HEADERS
                .iter()
                .map(|h| header_field_name(h))
                .collect(),
            CachedItem::BodyStructure => vec![
                fields::IMAP_BODYSTRUCTURE.into(),
                fields::MIME_PARTS.into(),
                fields::FLAGS.into(),
            ],
            CachedItem::Body => vec![
                fields::IMAP_BODY.into(),
                fields::MIME_PARTS.into(),
                fields::FLAGS.into(),
            ],
            CachedItem::HeaderFields(names) => names.iter().map(|n| header_field_name(n)).collect(),
            CachedItem::Rfc822Size => vec![fields::SIZE_VIRTUAL.into()],
        }
    }
}

/// A cached IMAP string: Dovecot may store it with a closing NUL.
fn without_nul(mut v: Vec<u8>) -> Vec<u8> {
    if v.last() == Some(&0) {
        v.pop();
    }
    v
}

impl MessageCache {
    /// The item for `uid` from the cache alone, or `None` on a miss.
    pub fn fetch_cached(&mut self, uid: u32, item: &CachedItem) -> Option<Vec<u8>> {
        match item {
            CachedItem::Envelope => {
                if let Some(v) = self.lookup(uid, fields::IMAP_ENVELOPE) {
                    return Some(without_nul(v));
                }
                let header = self.header(uid, &ENVELOPE_HEADERS)?;
                Some(Message::parse_header(&header).envelope_imap())
            }
            CachedItem::BodyStructure => match self.lookup(uid, fields::IMAP_BODYSTRUCTURE) {
                Some(v) => Some(without_nul(v)),
                None => self.plain_7bit_bodystructure(uid, true),
            },
            CachedItem::Body => match self.lookup(uid, fields::IMAP_BODY) {
                Some(v) => Some(without_nul(v)),
                None => match self.lookup(uid, fields::IMAP_BODYSTRUCTURE) {
                    // Dovecot derives BODY from a cached BODYSTRUCTURE too
                    Some(bs) => body_from_bodystructure(&without_nul(bs)),
                    None => self.plain_7bit_bodystructure(uid, false),
                },
            },
            CachedItem::HeaderFields(names) => {
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let header = self.header(uid, &refs)?;
                let msg = Message::parse_header(&header);
                Some(msg.section(&Section {
                    part: Vec::new(),
                    text: SectionText::HeaderFields(
                        names.iter().map(|n| n.as_bytes().to_vec()).collect(),
                    ),
                }))
            }
            CachedItem::Rfc822Size => {
                let v = self.lookup(uid, fields::SIZE_VIRTUAL)?;
                let b: [u8; 8] = v.as_slice().try_into().ok()?;
                Some(u64::from_le_bytes(b).to_string().into_bytes())
            }
        }
    }

    /// BODY/BODYSTRUCTURE of a message whose cached `flags` say its body is
    /// plain 7-bit US-ASCII text, from the sizes in `mime.parts`: Dovecot
    /// caches no `imap.bodystructure` for such messages and answers this way.
    fn plain_7bit_bodystructure(&mut self, uid: u32, extended: bool) -> Option<Vec<u8>> {
        const TEXT_PLAIN_7BIT_ASCII: u32 = 0x10;
        let flags = self.lookup(uid, fields::FLAGS)?;
        let bits = u32::from_le_bytes(flags.get(..4)?.try_into().ok()?);
        if bits & TEXT_PLAIN_7BIT_ASCII == 0 {
            return None;
        }
        let parts = self.lookup(uid, fields::MIME_PARTS)?;
        // root: flags u32, header sizes 2 x u64, body physical u64,
        // body virtual u64, then body lines u32 (a TEXT part)
        let word = |at: usize, n: usize| -> Option<u64> {
            let b = parts.get(at..at + n)?;
            Some(
                b.iter()
                    .rev()
                    .fold(0u64, |acc, &x| (acc << 8) | u64::from(x)),
            )
        };
        let part_flags = word(0, 4)?;
        if part_flags & 0x08 == 0 || part_flags & 0x05 != 0 {
            return None;
        }
        let body_virtual = word(28, 8)?;
        let lines = word(36, 4)?;
        let mut out = format!(
            "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" {body_virtual} {lines}"
        )
        .into_bytes();
        if extended {
            out.extend_from_slice(b" NIL NIL NIL NIL");
        }
        Some(out)
    }

    /// The item for message `seq` of `snapshot`: from the cache, else from
    /// the message file (found on the first miss), caching what was
    /// computed for [`MessageCache::flush`].
    pub fn fetch(
        &mut self,
        snapshot: &mut MailboxSnapshot,
        seq: u32,
        item: &CachedItem,
    ) -> Result<Vec<u8>> {
        let uid = snapshot
            .messages
            .get((seq as usize).wrapping_sub(1))
            .map(|m| m.uid)
            .ok_or_else(|| Error::MessageFile {
                path: Default::default(),
                reason: format!("no message with sequence number {seq}"),
            })?;
        if *item == CachedItem::Rfc822Size {
            if let Some(v) = snapshot.messages[seq as usize - 1].vsize {
                return Ok(v.to_string().into_bytes());
            }
        }
        if let Some(v) = self.fetch_cached(uid, item) {
            return Ok(v);
        }
        snapshot.resolve_file(seq)?;
        let m = &snapshot.messages[seq as usize - 1];
        self.fetch_from_file(m, item)
    }

    fn fetch_from_file(&mut self, m: &SnapshotMessage, item: &CachedItem) -> Result<Vec<u8>> {
        let path = m.locate().ok_or_else(|| Error::MessageFile {
            path: m.path.clone().unwrap_or_default(),
            reason: format!("uid {} has no file", m.uid),
        })?;
        let header_only = matches!(item, CachedItem::Envelope | CachedItem::HeaderFields(_));
        let data = if header_only {
            // the header is enough: attachments are not read
            super::cached_search::read_header(&path).map_err(|e| Error::MessageFile {
                path: path.clone(),
                reason: e.to_string(),
            })?
        } else {
            m.read()?
        };
        self.count_file_opened();
        let meta = std::fs::metadata(&path).map_err(|e| Error::MessageFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let msg = if header_only {
            Message::parse_header(&data)
        } else {
            Message::parse(&data)
        };
        let answer = match item {
            CachedItem::Envelope => msg.envelope_imap(),
            CachedItem::BodyStructure => msg.bodystructure_imap(true),
            CachedItem::Body => msg.bodystructure_imap(false),
            CachedItem::HeaderFields(names) => msg.section(&Section {
                part: Vec::new(),
                text: SectionText::HeaderFields(
                    names.iter().map(|n| n.as_bytes().to_vec()).collect(),
                ),
            }),
            CachedItem::Rfc822Size => msg.rfc822_size().to_string().into_bytes(),
        };
        let computed = Computed {
            msg,
            file_size: meta.len(),
            mtime: meta.mtime(),
            ctime: meta.ctime(),
            bodystructure: (*item == CachedItem::BodyStructure).then(|| answer.clone()),
        };
        add_computed(self, m.uid, &computed, &item.cache_fields());
        Ok(answer)
    }
}
