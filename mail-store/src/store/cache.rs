//! Sharing parse results with Dovecot through `dovecot.index.cache`:
//! Columba stores `mime.parts` and `imap.bodystructure` under Dovecot's
//! field names and in Dovecot's formats (so Dovecot answers FETCH
//! BODYSTRUCTURE from them without reading the message), and looks up what
//! Dovecot cached before parsing a message itself.

use columba_mail_index::cache_file::{FieldType, DECISION_TEMP, VARIABLE_SIZE};
use columba_mail_index::index_file::EXT_CACHE;
use columba_mail_index::{CacheField, CacheReader, CacheValues, FileKind, IndexDir};
use columba_maildir::Mailbox;

use crate::error::Result;
use crate::message::Message;

/// Dovecot's cache field for the serialized part tree.
pub const FIELD_MIME_PARTS: &str = "mime.parts";
/// Dovecot's cache field for BODYSTRUCTURE (without outer parentheses).
pub const FIELD_BODYSTRUCTURE: &str = "imap.bodystructure";

/// Dovecot's registration of cache field `name` (`global_cache_fields`
/// in `index-mail.c`; `hdr.*` fields are `HEADER`), decided `TEMP` as a
/// field is when first used.
pub(crate) fn field_def(name: &str, now: u32) -> CacheField {
    let lower = name.to_ascii_lowercase();
    let (field_type, size) = match lower.as_str() {
        "flags" => (FieldType::Bitmask, 4),
        "date.sent" | "size.virtual" | "size.physical" => (FieldType::Fixed, 8),
        "date.received" | "date.save" | "pop3.order" => (FieldType::Fixed, 4),
        "mime.parts" | "binary.parts" | "body.snippet" => (FieldType::Variable, VARIABLE_SIZE),
        n if n.starts_with("hdr.") => (FieldType::Header, VARIABLE_SIZE),
        _ => (FieldType::String, VARIABLE_SIZE),
    };
    CacheField {
        name: name.to_string(),
        field_type,
        size,
        decision: DECISION_TEMP,
        last_used: now,
    }
}

fn field(name: &str) -> CacheField {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    field_def(name, now)
}

/// Caches `mime.parts` and `imap.bodystructure` of messages (by UID).
pub fn cache_parsed(mailbox: &Mailbox, messages: &[(u32, &Message<'_>)]) -> Result<()> {
    let updates: Vec<(u32, CacheValues)> = messages
        .iter()
        .map(|(uid, m)| {
            (
                *uid,
                vec![
                    (field(FIELD_MIME_PARTS), m.root().serialize_mime_parts()),
                    (field(FIELD_BODYSTRUCTURE), m.bodystructure_imap(true)),
                ],
            )
        })
        .collect();
    let _turn = super::index_io::guard(mailbox.path());
    IndexDir::new(mailbox.path()).cache_add(&updates)?;
    Ok(())
}

/// Stores `value` under cache field `name` for `uid` (typed as Dovecot
/// registers that field; unknown names are strings).
pub fn cache_string(mailbox: &Mailbox, uid: u32, name: &str, value: &[u8]) -> Result<()> {
    let _turn = super::index_io::guard(mailbox.path());
    IndexDir::new(mailbox.path()).cache_add(&[(uid, vec![(field(name), value.to_vec())])])?;
    Ok(())
}

/// The cached value of `field` for `uid`, if Dovecot or Columba cached it.
/// Only the cache file's header, its field registry and the records of
/// `uid` are read, not the whole file.
pub fn cached(mailbox: &Mailbox, uid: u32, field: &str) -> Result<Option<Vec<u8>>> {
    let index = IndexDir::new(mailbox.path());
    let view = {
        let _turn = super::index_io::guard(mailbox.path());
        index.open_view_without_cache()?
    };
    let map = view.map();
    let Ok(i) = map.position_of_uid(uid) else {
        return Ok(None);
    };
    let offset = match map.cache_offset_at(i) {
        Some(offset) if offset != 0 => offset,
        _ => return Ok(None),
    };
    let reader = match CacheReader::open(&index.path(FileKind::Cache)) {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(None),
        // a broken cache file is not used
        Err(e) if e.is_corruption() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // a cache file of another index, or one reset since the index pointed
    // into it: its offsets mean nothing here
    let belongs = reader.header.indexid == map.header.indexid
        && map
            .ext(EXT_CACHE)
            .is_some_and(|e| e.reset_id == reader.header.file_seq);
    if !belongs {
        return Ok(None);
    }
    Ok(reader.lookup(offset, field)?)
}
