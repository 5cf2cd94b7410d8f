//! Precaching for the indexer role: parse newly delivered messages once and
//! write what clients fetch first into `dovecot.index.cache`, so that the
//! first FETCH after a delivery (by Columba or by Dovecot) is answered from
//! the cache without opening the message file. Dovecot's LMTP and indexer
//! do the same with the fields its caching decisions want.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use columba_maildir::Mailbox;

use super::message_cache::{fields, MessageCache, ENVELOPE_HEADERS};
use crate::error::{Error, Result};
use crate::message::{Message, PartFlags};

/// Header fields mail clients ask for in their message lists (Thunderbird,
/// Apple Mail and mutt list these in `BODY.PEEK[HEADER.FIELDS (...)]`),
/// besides the ENVELOPE ones.
pub const CLIENT_HEADERS: [&str; 12] = [
    "References",
    "Content-Type",
    "Priority",
    "X-Priority",
    "Importance",
    "Newsgroups",
    "List-Id",
    "List-Post",
    "List-Unsubscribe",
    "Content-Description",
    "Lines",
    "X-Label",
];

/// What [`precache`] writes for each message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrecacheFields {
    /// The `hdr.*` fields ENVELOPE is built from ([`ENVELOPE_HEADERS`]).
    pub envelope: bool,
    /// `imap.bodystructure`, `imap.body`, `mime.parts` and `flags`.
    pub bodystructure: bool,
    /// `size.virtual` and `size.physical`.
    pub sizes: bool,
    /// `date.received` (mtime), `date.save` (ctime) and `date.sent` (the
    /// `Date:` field, where it is in the plain form read exactly).
    pub dates: bool,
    /// More `hdr.*` fields, by header name.
    pub headers: Vec<String>,
    /// Also every field the cache file decides `YES` or `TEMP` (what
    /// Dovecot's delivery caches for new mail), where Columba computes it.
    pub cache_decided: bool,
}

impl Default for PrecacheFields {
    /// Everything above, with [`CLIENT_HEADERS`] as the extra headers.
    fn default() -> Self {
        PrecacheFields {
            envelope: true,
            bodystructure: true,
            sizes: true,
            dates: true,
            headers: CLIENT_HEADERS.iter().map(|s| s.to_string()).collect(),
            cache_decided: true,
        }
    }
}

/// What a [`precache`] run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrecacheReport {
    /// Messages whose file was read and parsed.
    pub parsed: usize,
    /// Messages that already had every wanted field.
    pub already_cached: usize,
    /// Asked-for UIDs that are not in the mailbox (expunged, or not yet
    /// synced into the index) or whose file is gone.
    pub missing: Vec<u32>,
}

/// `mail_cache_record_flag` bits Dovecot derives from a parsed message
/// (`index_mail_body_parsed_cache_flags()`): binary header/body when every
/// line ends in CRLF already, NULs or none, and a plain 7-bit text body.
pub fn record_flags(msg: &Message<'_>) -> u32 {
    record_flags_with(msg, &msg.bodystructure_imap(true))
}

/// [`record_flags`] with the message's BODYSTRUCTURE already computed.
fn record_flags_with(msg: &Message<'_>, bs: &[u8]) -> u32 {
    const BINARY_HEADER: u32 = 0x01;
    const BINARY_BODY: u32 = 0x02;
    const HAS_NULS: u32 = 0x04;
    const TEXT_PLAIN_7BIT_ASCII: u32 = 0x10;
    const HAS_NO_NULS: u32 = 0x20;
    let root = msg.root();
    let mut flags = 0;
    if root.header_size.virtual_size == root.header_size.physical {
        flags |= BINARY_HEADER;
    }
    if root.body_size.virtual_size == root.body_size.physical {
        flags |= BINARY_BODY;
    }
    if has_nuls(root) {
        flags |= HAS_NULS;
    } else {
        flags |= HAS_NO_NULS;
    }
    // imap_bodystructure_is_plain_7bit(): exactly
    // ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" n n NIL NIL NIL NIL)
    let plain = root.children.is_empty()
        && bs.starts_with(b"\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" ")
        && bs.ends_with(b" NIL NIL NIL NIL");
    if plain {
        flags |= TEXT_PLAIN_7BIT_ASCII;
    }
    flags
}

fn has_nuls(part: &crate::message::MessagePart) -> bool {
    part.flags.has(PartFlags::HAS_NULS) || part.children.iter().any(has_nuls)
}

/// The computed values for one message that the cache may take.
pub(crate) struct Computed<'a> {
    pub msg: Message<'a>,
    pub file_size: u64,
    pub mtime: i64,
    pub ctime: i64,
    /// BODYSTRUCTURE, when the caller computed it already.
    pub bodystructure: Option<Vec<u8>>,
}

/// Queues the values of `wanted` cache fields computed from a parsed
/// message (fields already cached are skipped by [`MessageCache::add`]).
pub(crate) fn add_computed(
    cache: &mut MessageCache,
    uid: u32,
    c: &Computed<'_>,
    wanted: &[String],
) {
    let mut headers: Vec<&str> = Vec::new();
    let mut bodystructure: Option<Vec<u8>> = c.bodystructure.clone();
    for w in wanted {
        let lower = w.to_ascii_lowercase();
        let value = match lower.as_str() {
            fields::IMAP_BODYSTRUCTURE => bodystructure
                .get_or_insert_with(|| c.msg.bodystructure_imap(true))
                .clone(),
            fields::IMAP_BODY => c.msg.bodystructure_imap(false),
            fields::IMAP_ENVELOPE => c.msg.envelope_imap(),
            fields::MIME_PARTS => c.msg.root().serialize_mime_parts(),
            fields::SIZE_VIRTUAL => c.msg.rfc822_size().to_le_bytes().to_vec(),
            fields::SIZE_PHYSICAL => c.file_size.to_le_bytes().to_vec(),
            fields::DATE_RECEIVED => (c.mtime.clamp(0, i64::from(u32::MAX)) as u32)
                .to_le_bytes()
                .to_vec(),
            fields::DATE_SAVE => (c.ctime.clamp(0, i64::from(u32::MAX)) as u32)
                .to_le_bytes()
                .to_vec(),
            fields::DATE_SENT => match crate::search::date::sent_date(&c.msg) {
                Some((time, zone)) => {
                    let mut v = time.to_le_bytes().to_vec();
                    v.extend_from_slice(&zone.to_le_bytes());
                    v
                }
                None => continue,
            },
            fields::FLAGS => {
                let bs = bodystructure.get_or_insert_with(|| c.msg.bodystructure_imap(true));
                record_flags_with(&c.msg, bs).to_le_bytes().to_vec()
            }
            n if n.starts_with("hdr.") => {
                headers.push(&w[4..]);
                continue;
            }
            _ => continue,
        };
        cache.add(uid, w, value);
    }
    cache.add_headers(uid, &c.msg, &headers);
}

/// True for the cache fields Columba computes from a message.
fn is_computed(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("hdr.")
        || [
            fields::IMAP_BODYSTRUCTURE,
            fields::IMAP_BODY,
            fields::IMAP_ENVELOPE,
            fields::MIME_PARTS,
            fields::SIZE_VIRTUAL,
            fields::SIZE_PHYSICAL,
            fields::DATE_RECEIVED,
            fields::DATE_SAVE,
            fields::DATE_SENT,
            fields::FLAGS,
        ]
        .contains(&lower.as_str())
}

impl PrecacheFields {
    /// The cache field names this selection writes, given the fields the
    /// cache file currently registers with their decisions.
    fn field_names(&self, decided: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut push = |n: String| {
            if !out.iter().any(|x| x.eq_ignore_ascii_case(&n)) {
                out.push(n);
            }
        };
        if self.envelope {
            for h in ENVELOPE_HEADERS {
                push(format!("hdr.{h}"));
            }
        }
        if self.bodystructure {
            for f in [
                fields::IMAP_BODYSTRUCTURE,
                fields::IMAP_BODY,
                fields::MIME_PARTS,
                fields::FLAGS,
            ] {
                push(f.to_string());
            }
        }
        if self.sizes {
            push(fields::SIZE_VIRTUAL.to_string());
            push(fields::SIZE_PHYSICAL.to_string());
        }
        if self.dates {
            push(fields::DATE_RECEIVED.to_string());
            push(fields::DATE_SAVE.to_string());
            push(fields::DATE_SENT.to_string());
        }
        for h in &self.headers {
            push(format!("hdr.{h}"));
        }
        if self.cache_decided {
            for d in decided.iter().filter(|d| is_computed(d)) {
                push(d.clone());
            }
        }
        out
    }
}

/// Parses the messages `uids` of `mailbox` (all messages of the index when
/// `None`) and caches the `fields` each lacks, in one cache append and one
/// log transaction. Messages whose every wanted field is cached already
/// are not opened. Run it after new mail was synced into the index (an
/// LMTP delivery followed by [`super::sync`]).
///
/// ```
/// use columba_mail_store::store::{append, cached, precache, sync, PrecacheFields};
/// use columba_mail_store::search::MessageFlags;
/// use columba_maildir::Mailbox;
///
/// let dir = tempfile::tempdir()?;
/// for sub in ["cur", "new", "tmp"] {
///     std::fs::create_dir(dir.path().join(sub))?;
/// }
/// let inbox = Mailbox::at(dir.path(), dir.path(), "INBOX");
/// sync(&inbox)?; // creates the index
/// let msg = b"From: Ann <ann@example.com>\nSubject: hi\n\nhello\n";
/// let uid = append(&inbox, msg, MessageFlags::default(), &[], None)?.uid;
/// let report = precache(&inbox, Some(&[uid]), &PrecacheFields::default())?;
/// assert_eq!(report.parsed, 1, "{report:?}");
/// let subject = cached(&inbox, uid, "hdr.Subject")?.unwrap();
/// assert!(subject.ends_with(b"Subject: hi\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn precache(
    mailbox: &Mailbox,
    uids: Option<&[u32]>,
    fields: &PrecacheFields,
) -> Result<PrecacheReport> {
    let mut cache = MessageCache::open(mailbox)?;
    let decided = cache.decided_fields();
    let mut wanted = fields.field_names(&decided);
    wanted.retain(|w| !cache.refuses(w));
    let in_index = cache.uids();
    let mut report = PrecacheReport::default();
    let targets: Vec<u32> = match uids {
        Some(list) => {
            let mut t = Vec::with_capacity(list.len());
            for &u in list {
                if in_index.binary_search(&u).is_ok() {
                    t.push(u);
                } else {
                    report.missing.push(u);
                }
            }
            t
        }
        None => in_index,
    };
    let todo: Vec<u32> = targets
        .into_iter()
        .filter(|&u| {
            // date.sent is absent for a Date: field left to Dovecot
            let complete = wanted
                .iter()
                .filter(|w| !w.eq_ignore_ascii_case(fields::DATE_SENT))
                .all(|w| cache.contains(u, w));
            if complete {
                report.already_cached += 1;
            }
            !complete
        })
        .collect();
    if todo.is_empty() {
        return Ok(report);
    }
    let mut paths = probe_paths(mailbox, &todo)?;
    let mut listed = false;
    for uid in todo {
        if !paths.contains_key(&uid) && !listed {
            // not where a new message is: one listing finds the rest
            paths = message_paths(mailbox)?;
            listed = true;
        }
        let Some(path) = paths.get(&uid).cloned() else {
            report.missing.push(uid);
            continue;
        };
        let read = match read_with_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !listed => {
                // moved (new/ to cur/, or a flag change) since the probe
                paths = message_paths(mailbox)?;
                listed = true;
                match paths.get(&uid) {
                    Some(p) => read_with_metadata(p),
                    None => Err(e),
                }
            }
            other => other,
        };
        let (data, meta) = match read {
            Ok(x) => x,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                report.missing.push(uid);
                continue;
            }
            Err(e) => {
                return Err(Error::MessageFile {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let computed = Computed {
            msg: Message::parse(&data),
            file_size: data.len() as u64,
            mtime: meta.mtime(),
            ctime: meta.ctime(),
            bodystructure: None,
        };
        add_computed(&mut cache, uid, &computed, &wanted);
        report.parsed += 1;
    }
    cache.finish()?;
    report.missing.sort_unstable();
    Ok(report)
}

fn read_with_metadata(path: &PathBuf) -> std::io::Result<(Vec<u8>, std::fs::Metadata)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let meta = f.metadata()?;
    let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0).min(1 << 26));
    f.read_to_end(&mut data)?;
    Ok((data, meta))
}

/// UID -> message file for `uids`, where a message just delivered and
/// synced is (`new/<base>`, or `cur/<base>:2,`), from the uidlist's base
/// names; UIDs not found there are left out.
fn probe_paths(mailbox: &Mailbox, uids: &[u32]) -> Result<HashMap<u32, PathBuf>> {
    let mut out = HashMap::new();
    let Some(list) = mailbox.uidlist()? else {
        return Ok(out);
    };
    let dir = mailbox.path();
    for &uid in uids {
        let Ok(i) = list.records.binary_search_by_key(&uid, |r| r.uid) else {
            continue;
        };
        let base = &list.records[i].base;
        for p in [
            dir.join("new").join(base),
            dir.join("cur").join(format!("{base}:2,")),
        ] {
            if p.exists() {
                out.insert(uid, p);
                break;
            }
        }
    }
    Ok(out)
}

/// UID -> message file, from one listing of `cur/` and `new/`.
pub(crate) fn message_paths(mailbox: &Mailbox) -> Result<HashMap<u32, PathBuf>> {
    let listing = mailbox.list()?;
    let dir = mailbox.path();
    Ok(listing
        .messages
        .iter()
        .filter_map(|e| {
            Some((
                e.uid?,
                dir.join(if e.in_new { "new" } else { "cur" })
                    .join(e.file_name.as_str()),
            ))
        })
        .collect())
}
