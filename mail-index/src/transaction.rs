//! Building transactions to append to the log, in the record order Dovecot
//! exports them (`mail_index_transaction_export()`).

use crate::bytes::{align4, encode_offset};
use crate::error::{Error, Result};
use crate::index_file::{IndexMap, EXT_KEYWORDS};
use crate::log_file::rtype;

/// An extension change inside a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ExtOp {
    Reset { new_reset_id: u32, preserve: bool },
    HdrUpdate { offset: u16, data: Vec<u8> },
    RecUpdate { uid: u32, data: Vec<u8> },
}

/// (add, keyword, uid ranges).
type KeywordChange = (bool, String, Vec<(u32, u32)>);

/// Declares an extension for [`Transaction::ext_intro`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtDef {
    /// Name.
    pub name: String,
    /// Header size.
    pub hdr_size: u32,
    /// Record size.
    pub record_size: u16,
    /// Record alignment.
    pub record_align: u16,
}

/// A group of index changes committed atomically with one `write()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transaction {
    external: bool,
    appends: Vec<(u32, u8)>,
    flag_updates: Vec<(u32, u32, u8, u8)>,
    keyword_updates: Vec<KeywordChange>,
    keyword_resets: Vec<(u32, u32)>,
    modseq_updates: Vec<(u32, u64)>,
    expunges: Vec<(u32, [u8; 16])>,
    header_updates: Vec<(u16, Vec<u8>)>,
    ext_defs: Vec<ExtDef>,
    ext_ops: Vec<(String, ExtOp)>,
}

impl Transaction {
    /// A client transaction (flag/keyword changes, expunge requests).
    pub fn new() -> Transaction {
        Transaction::default()
    }

    /// An external transaction: the changes already happened in the storage
    /// (new Maildir files found, files unlinked). Expunges in it remove messages.
    pub fn external() -> Transaction {
        Transaction {
            external: true,
            ..Transaction::default()
        }
    }

    /// UIDs this transaction expunges (or asks to expunge), in order.
    pub fn expunged_uids(&self) -> impl Iterator<Item = u32> + '_ {
        self.expunges.iter().map(|(uid, _)| *uid)
    }

    /// Whether the transaction is external.
    pub fn is_external(&self) -> bool {
        self.external
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.appends.is_empty()
            && self.flag_updates.is_empty()
            && self.keyword_updates.is_empty()
            && self.keyword_resets.is_empty()
            && self.modseq_updates.is_empty()
            && self.expunges.is_empty()
            && self.header_updates.is_empty()
            && self.ext_defs.is_empty()
            && self.ext_ops.is_empty()
    }

    /// Appends a message with `uid` and system `flags`.
    pub fn append(&mut self, uid: u32, flags: u8) -> &mut Self {
        self.appends.push((uid, flags));
        self
    }

    /// Sets `flags` on `uid1..=uid2`.
    pub fn add_flags(&mut self, uid1: u32, uid2: u32, flags: u8) -> &mut Self {
        self.flag_updates.push((uid1, uid2, flags, 0));
        self
    }

    /// Clears `flags` on `uid1..=uid2`.
    pub fn remove_flags(&mut self, uid1: u32, uid2: u32, flags: u8) -> &mut Self {
        self.flag_updates.push((uid1, uid2, 0, flags));
        self
    }

    /// Replaces the system flags of `uid1..=uid2` (keeps backend bits like Dovecot's "replace").
    pub fn replace_flags(&mut self, uid1: u32, uid2: u32, flags: u8) -> &mut Self {
        self.flag_updates.push((uid1, uid2, flags, 0x1f & !flags));
        self
    }

    /// Adds keyword `name` to the UID ranges.
    pub fn add_keyword(&mut self, name: &str, ranges: &[(u32, u32)]) -> &mut Self {
        self.keyword_updates
            .push((true, name.to_string(), ranges.to_vec()));
        self
    }

    /// Removes keyword `name` from the UID ranges.
    pub fn remove_keyword(&mut self, name: &str, ranges: &[(u32, u32)]) -> &mut Self {
        self.keyword_updates
            .push((false, name.to_string(), ranges.to_vec()));
        self
    }

    /// Clears all keywords of `uid1..=uid2`.
    pub fn reset_keywords(&mut self, uid1: u32, uid2: u32) -> &mut Self {
        self.keyword_resets.push((uid1, uid2));
        self
    }

    /// Raises the modseq of `uid` to at least `modseq`.
    pub fn update_modseq(&mut self, uid: u32, modseq: u64) -> &mut Self {
        self.modseq_updates.push((uid, modseq));
        self
    }

    /// Expunges `uid`: a request in a client transaction, an actual removal in
    /// an [`external`](Transaction::external) one. `guid` may be all zero.
    pub fn expunge(&mut self, uid: u32, guid: [u8; 16]) -> &mut Self {
        self.expunges.push((uid, guid));
        self
    }

    /// Writes `data` at `offset` of the base header (whole 32-bit fields).
    pub fn update_header(&mut self, offset: u16, data: &[u8]) -> &mut Self {
        self.header_updates.push((offset, data.to_vec()));
        self
    }

    /// Introduces (creates or resizes) an extension.
    pub fn ext_intro(&mut self, def: ExtDef) -> &mut Self {
        self.ext_defs.push(def);
        self
    }

    /// Resets an extension to `new_reset_id` (zeroing its data unless `preserve`).
    pub fn ext_reset(&mut self, name: &str, new_reset_id: u32, preserve: bool) -> &mut Self {
        self.ext_ops.push((
            name.to_string(),
            ExtOp::Reset {
                new_reset_id,
                preserve,
            },
        ));
        self
    }

    /// Writes `data` into an extension's header at `offset`.
    pub fn ext_hdr_update(&mut self, name: &str, offset: u16, data: &[u8]) -> &mut Self {
        self.ext_ops.push((
            name.to_string(),
            ExtOp::HdrUpdate {
                offset,
                data: data.to_vec(),
            },
        ));
        self
    }

    /// Sets an extension's record field of `uid` to `data`.
    pub fn ext_rec_update(&mut self, name: &str, uid: u32, data: &[u8]) -> &mut Self {
        self.ext_ops.push((
            name.to_string(),
            ExtOp::RecUpdate {
                uid,
                data: data.to_vec(),
            },
        ));
        self
    }

    /// Serializes the transaction against the current state `map`.
    pub(crate) fn encode(&self, map: &IndexMap, now: u32) -> Result<Vec<u8>> {
        let ext_bit = if self.external { rtype::EXTERNAL } else { 0 };
        let mut recs: Vec<(u32, Vec<u8>)> = Vec::new();

        // Extension intros, resets and header updates.
        let mut ext_names: Vec<&str> = self.ext_defs.iter().map(|d| d.name.as_str()).collect();
        for (n, _) in &self.ext_ops {
            if !ext_names.contains(&n.as_str()) {
                ext_names.push(n);
            }
        }
        let intro_for = |name: &str| -> Result<Vec<u8>> {
            if name == EXT_KEYWORDS {
                return Err(Error::Invalid(
                    "the keywords extension is changed through keyword updates".into(),
                ));
            }
            let def = self.ext_defs.iter().rev().find(|d| d.name == name);
            let existing = map.ext(name);
            let (hdr_size, rs, ra, reset_id) = match (def, existing) {
                (Some(d), e) => (
                    d.hdr_size,
                    d.record_size,
                    d.record_align,
                    e.map_or(0, |e| e.reset_id),
                ),
                (None, Some(e)) => (
                    e.hdr.len() as u32,
                    e.record_size,
                    e.record_align,
                    e.reset_id,
                ),
                (None, None) => {
                    return Err(Error::Invalid(format!(
                        "extension {name} does not exist; introduce it first"
                    )))
                }
            };
            let mut p = Vec::new();
            p.extend_from_slice(&u32::MAX.to_le_bytes());
            p.extend_from_slice(&reset_id.to_le_bytes());
            p.extend_from_slice(&hdr_size.to_le_bytes());
            p.extend_from_slice(&rs.to_le_bytes());
            p.extend_from_slice(&ra.to_le_bytes());
            p.extend_from_slice(&1u16.to_le_bytes());
            p.extend_from_slice(&(name.len() as u16).to_le_bytes());
            p.extend_from_slice(name.as_bytes());
            Ok(p)
        };
        let rec_size_of = |name: &str| -> u16 {
            self.ext_defs
                .iter()
                .rev()
                .find(|d| d.name == name)
                .map(|d| d.record_size)
                .or_else(|| map.ext(name).map(|e| e.record_size))
                .unwrap_or(0)
        };
        for name in &ext_names {
            let ops: Vec<&ExtOp> = self
                .ext_ops
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, o)| o)
                .collect();
            let has_pre = self.ext_defs.iter().any(|d| d.name == *name)
                || ops.iter().any(|o| !matches!(o, ExtOp::RecUpdate { .. }));
            if !has_pre {
                continue;
            }
            recs.push((rtype::EXT_INTRO, intro_for(name)?));
            for o in &ops {
                match o {
                    ExtOp::Reset {
                        new_reset_id,
                        preserve,
                    } => {
                        let mut p = new_reset_id.to_le_bytes().to_vec();
                        p.extend_from_slice(&[u8::from(*preserve), 0, 0, 0]);
                        recs.push((rtype::EXT_RESET, p));
                    }
                    ExtOp::HdrUpdate { offset, data } => {
                        let mut p = offset.to_le_bytes().to_vec();
                        p.extend_from_slice(&(data.len() as u16).to_le_bytes());
                        p.extend_from_slice(data);
                        recs.push((rtype::EXT_HDR_UPDATE, p));
                    }
                    ExtOp::RecUpdate { .. } => {}
                }
            }
        }
        // Reset ids change through resets in this transaction: later intros use the new one.
        let mut reset_after: Vec<(&str, u32)> = Vec::new();
        for (n, o) in &self.ext_ops {
            if let ExtOp::Reset { new_reset_id, .. } = o {
                reset_after.push((n.as_str(), *new_reset_id));
            }
        }

        let pre: Vec<&(u16, Vec<u8>)> = self.header_updates.iter().collect();
        if !pre.is_empty() {
            let mut p = Vec::new();
            for (off, data) in &pre {
                if data.is_empty()
                    || usize::from(*off) + data.len() > usize::from(map.header.base_header_size)
                {
                    return Err(Error::Invalid(format!(
                        "header update {off}+{} outside the base header",
                        data.len()
                    )));
                }
                p.extend_from_slice(&off.to_le_bytes());
                p.extend_from_slice(&(data.len() as u16).to_le_bytes());
                p.extend_from_slice(data);
                p.resize(align4(p.len()), 0);
            }
            recs.push((rtype::HEADER_UPDATE, p));
        }

        if !self.appends.is_empty() {
            let mut next = map.header.next_uid;
            let mut p = Vec::new();
            for &(uid, flags) in &self.appends {
                if uid < next || uid == u32::MAX {
                    return Err(Error::Invalid(format!(
                        "append of uid {uid}, but next uid is {next}"
                    )));
                }
                next = uid + 1;
                p.extend_from_slice(&uid.to_le_bytes());
                p.extend_from_slice(&[flags & 0x7f & !0x20, 0, 0, 0]);
            }
            recs.push((rtype::APPEND, p));
        }

        // Flag updates: split into records of strictly ascending ranges.
        let mut cur: Vec<u8> = Vec::new();
        let mut prev_end = 0u32;
        for &(a, b, add, rm) in &self.flag_updates {
            if a == 0 || a > b {
                return Err(Error::Invalid(format!(
                    "flag update with invalid uid range {a}-{b}"
                )));
            }
            if !cur.is_empty() && a <= prev_end {
                recs.push((rtype::FLAG_UPDATE, std::mem::take(&mut cur)));
            }
            cur.extend_from_slice(&a.to_le_bytes());
            cur.extend_from_slice(&b.to_le_bytes());
            cur.extend_from_slice(&[add, rm, 0, 0]);
            prev_end = b;
        }
        if !cur.is_empty() {
            recs.push((rtype::FLAG_UPDATE, cur));
        }

        for name in &ext_names {
            let updates: Vec<(u32, &Vec<u8>)> = self
                .ext_ops
                .iter()
                .filter(|(n, _)| n == name)
                .filter_map(|(_, o)| match o {
                    ExtOp::RecUpdate { uid, data } => Some((*uid, data)),
                    _ => None,
                })
                .collect();
            if updates.is_empty() {
                continue;
            }
            let rs = usize::from(rec_size_of(name));
            let mut intro = intro_for(name)?;
            if let Some((_, id)) = reset_after.iter().rev().find(|(n, _)| n == name) {
                intro[4..8].copy_from_slice(&id.to_le_bytes());
            }
            recs.push((rtype::EXT_INTRO, intro));
            let mut p = Vec::new();
            for (uid, data) in updates {
                if data.len() != rs || uid == 0 {
                    return Err(Error::Invalid(format!(
                        "record update of {name} for uid {uid}: {} bytes, field is {rs}",
                        data.len()
                    )));
                }
                p.extend_from_slice(&uid.to_le_bytes());
                p.extend_from_slice(data);
                p.resize(align4(p.len()), 0);
            }
            recs.push((rtype::EXT_REC_UPDATE, p));
        }

        for (add, name, ranges) in &self.keyword_updates {
            if name.is_empty() || name.len() > u16::MAX as usize || ranges.is_empty() {
                return Err(Error::Invalid(format!(
                    "keyword update {name:?} without name or uids"
                )));
            }
            let mut p = vec![u8::from(!*add), 0];
            p.extend_from_slice(&(name.len() as u16).to_le_bytes());
            p.extend_from_slice(name.as_bytes());
            p.resize(align4(p.len()), 0);
            push_ranges(&mut p, ranges)?;
            recs.push((rtype::KEYWORD_UPDATE, p));
        }
        if !self.keyword_resets.is_empty() {
            let mut p = Vec::new();
            push_ranges(&mut p, &self.keyword_resets)?;
            recs.push((rtype::KEYWORD_RESET, p));
        }
        if !self.modseq_updates.is_empty() {
            if map.modseq_header().is_none() {
                return Err(Error::Invalid(
                    "modseq update before modseqs were enabled".into(),
                ));
            }
            let mut p = Vec::new();
            for &(uid, m) in &self.modseq_updates {
                p.extend_from_slice(&uid.to_le_bytes());
                p.extend_from_slice(&(m as u32).to_le_bytes());
                p.extend_from_slice(&((m >> 32) as u32).to_le_bytes());
            }
            recs.push((rtype::MODSEQ_UPDATE, p));
        }
        if !self.expunges.is_empty() {
            let mut p = Vec::new();
            for (uid, guid) in &self.expunges {
                if *uid == 0 {
                    return Err(Error::Invalid("expunge of uid 0".into()));
                }
                p.extend_from_slice(&uid.to_le_bytes());
                p.extend_from_slice(guid);
            }
            recs.push((rtype::EXPUNGE_GUID | rtype::EXPUNGE_PROT, p));
        }
        // Post header updates: day_stamp/day_first_uid when appending on a new day.
        if let Some(&(first_uid, _)) = self.appends.first() {
            if let Some(p) = day_headers_update(map, first_uid, now) {
                recs.push((rtype::HEADER_UPDATE, p));
            }
        }

        let mut out = Vec::new();
        let body_len: usize = recs.iter().map(|(_, p)| 8 + align4(p.len())).sum();
        if recs.len() >= 2 {
            let total = (12 + body_len) as u32;
            push_record(
                &mut out,
                rtype::BOUNDARY | rtype::EXTERNAL,
                &total.to_le_bytes(),
            )?;
        }
        for (t, p) in &recs {
            push_record(&mut out, t | ext_bit, p)?;
        }
        Ok(out)
    }
}

fn push_ranges(p: &mut Vec<u8>, ranges: &[(u32, u32)]) -> Result<()> {
    let mut prev = 0;
    for (i, &(a, b)) in ranges.iter().enumerate() {
        if a == 0 || a > b || (i > 0 && a <= prev) {
            return Err(Error::Invalid(format!(
                "uid ranges must be ascending and non-empty ({a}-{b})"
            )));
        }
        prev = b;
        p.extend_from_slice(&a.to_le_bytes());
        p.extend_from_slice(&b.to_le_bytes());
    }
    Ok(())
}

pub(crate) fn push_record(out: &mut Vec<u8>, type_word: u32, payload: &[u8]) -> Result<()> {
    let size = 8 + align4(payload.len());
    let enc = encode_offset(size as u32)
        .ok_or_else(|| Error::Invalid(format!("record of {size} bytes is too large")))?;
    out.extend_from_slice(&enc);
    out.extend_from_slice(&type_word.to_le_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + align4(payload.len()) - payload.len(), 0);
    Ok(())
}

/// `mail_index_update_day_headers()`: the header update Dovecot adds when
/// the first append of a local day happens (the day starts at local
/// midnight, as `time_to_local_day_start()` finds it).
fn day_headers_update(map: &IndexMap, first_uid: u32, now: u32) -> Option<Vec<u8>> {
    let h = &map.header;
    let today = crate::local_day::local_day_start(now);
    if h.day_stamp >= today {
        return None;
    }
    let days = if h.day_stamp == 0 {
        8
    } else {
        ((today - h.day_stamp) / 86400).min(8) as usize
    };
    let mut d = h.day_first_uid;
    if days < 8 {
        d.copy_within(0..8 - days, days);
        for x in d.iter_mut().take(days).skip(1) {
            *x = h.day_first_uid[0];
        }
    } else {
        d = [h.day_first_uid[0]; 8];
    }
    d[0] = first_uid;
    let mut p = Vec::with_capacity(40);
    p.extend_from_slice(&84u16.to_le_bytes());
    p.extend_from_slice(&36u16.to_le_bytes());
    p.extend_from_slice(&today.to_le_bytes());
    for x in d {
        p.extend_from_slice(&x.to_le_bytes());
    }
    Some(p)
}
