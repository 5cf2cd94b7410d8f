//! Human-readable dumps in the layout of `doveadm dump`, and the same
//! content as JSON. Functions write what was valid and then return the
//! error that stopped them, so a broken file is still shown up to the damage.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use crate::bytes::{u16_at, u32_at, u64_at};
use crate::cache_file::{CacheFile, FieldType, VARIABLE_SIZE};
use crate::error::Result;
use crate::index_file::{IndexMap, EXT_CACHE, EXT_KEYWORDS, EXT_MODSEQ};
use crate::log_file::{rtype, LogFile, LogRecord, Payload};
use crate::mailbox::View;

/// `YYYY-MM-DD HH:MM:SS` in UTC (doveadm prints local time; fixtures and
/// servers usually run in UTC).
pub fn unixdate(t: u32) -> String {
    let secs = i64::from(t);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// `print_data()`: hex, plus the decimal value for 4 bytes.
fn data_str(b: &[u8]) -> String {
    let mut s = hex(b);
    if b.len() == 4 {
        let _ = write!(s, " (dec={})", u32_at(b, 0).unwrap_or(0));
    }
    s
}

const HEADER_FIELDS: &[(&str, usize, usize)] = &[
    ("minor_version", 1, 1),
    ("base_header_size", 2, 2),
    ("header_size", 4, 4),
    ("record_size", 8, 4),
    ("compat_flags", 12, 1),
    ("indexid", 16, 4),
    ("flags", 20, 4),
    ("uid_validity", 24, 4),
    ("next_uid", 28, 4),
    ("messages_count", 32, 4),
    ("unused_old_recent_messages_count", 36, 4),
    ("seen_messages_count", 40, 4),
    ("deleted_messages_count", 44, 4),
    ("first_recent_uid", 48, 4),
    ("first_unseen_uid_lowwater", 52, 4),
    ("first_deleted_uid_lowwater", 56, 4),
    ("log_file_seq", 60, 4),
    ("log_file_tail_offset", 64, 4),
    ("log_file_head_offset", 68, 4),
    ("day_stamp", 84, 4),
];

fn uint_str(b: &[u8]) -> String {
    match b.len() {
        1 => b[0].to_string(),
        2 => u16_at(b, 0).unwrap_or(0).to_string(),
        4 => u32_at(b, 0).unwrap_or(0).to_string(),
        8 => u64_at(b, 0).unwrap_or(0).to_string(),
        _ => hex(b),
    }
}

fn type_name(type_word: u32) -> String {
    let t = type_word & rtype::MASK;
    let mut name = match t {
        x if x == rtype::EXPUNGE | rtype::EXPUNGE_PROT => "expunge".to_string(),
        x if x == rtype::EXPUNGE_GUID | rtype::EXPUNGE_PROT => "expunge-guid".to_string(),
        rtype::APPEND => "append".into(),
        rtype::FLAG_UPDATE => "flag-update".into(),
        rtype::HEADER_UPDATE => "header-update".into(),
        rtype::EXT_INTRO => "ext-intro".into(),
        rtype::EXT_RESET => "ext-reset".into(),
        rtype::EXT_HDR_UPDATE => "ext-hdr".into(),
        rtype::EXT_HDR_UPDATE32 => "ext-hdr32".into(),
        rtype::EXT_REC_UPDATE => "ext-rec".into(),
        rtype::KEYWORD_UPDATE => "keyword-update".into(),
        rtype::KEYWORD_RESET => "keyword-reset".into(),
        rtype::EXT_ATOMIC_INC => "ext-atomic-inc".into(),
        rtype::MODSEQ_UPDATE => "modseq-update".into(),
        rtype::INDEX_DELETED => "index-deleted".into(),
        rtype::INDEX_UNDELETED => "index-undeleted".into(),
        rtype::BOUNDARY => "boundary".into(),
        rtype::ATTRIBUTE_UPDATE => "attribute-update".into(),
        _ => format!("unknown: {type_word:x}"),
    };
    if type_word & rtype::EXTERNAL != 0 {
        name.push_str(" (ext)");
    }
    if type_word & rtype::SYNC != 0 {
        name.push_str(" (sync)");
    }
    name
}

/// Text dump of a transaction log, line for line what `doveadm dump` prints.
/// On corruption the valid part is in `out` and the error is returned.
pub fn log_text(log: &LogFile, out: &mut String) -> Result<()> {
    let h = &log.header;
    let _ = writeln!(out, "version = {}.{}", h.major_version, h.minor_version);
    let _ = writeln!(out, "hdr size = {}", h.hdr_size);
    let _ = writeln!(out, "index id = {}", h.indexid);
    let _ = writeln!(out, "file seq = {}", h.file_seq);
    let _ = writeln!(
        out,
        "prev file = {}/{}",
        h.prev_file_seq, h.prev_file_offset
    );
    let _ = writeln!(out, "create stamp = {}", h.create_stamp);
    let _ = writeln!(out, "initial modseq = {}", h.initial_modseq);
    let _ = writeln!(out, "compat flags = {:x}", h.compat_flags);
    let mut intro_record_size = 0usize;
    for rec in log.records() {
        let rec = rec?;
        let _ = write!(
            out,
            "record: offset={}, type={}, size={}",
            rec.offset,
            type_name(rec.type_word),
            rec.size
        );
        if rec.modseq_changed {
            let _ = write!(out, ", modseq={}", rec.modseq);
        }
        out.push('\n');
        log_record_body(&rec, &mut intro_record_size, out);
    }
    Ok(())
}

fn log_record_body(rec: &LogRecord<'_>, intro_record_size: &mut usize, out: &mut String) {
    let p = rec.raw;
    match &rec.payload {
        Payload::Expunge(r) => {
            out.push_str(" - uids=");
            for (a, b) in r {
                let _ = write!(out, "{a}-{b},");
            }
            out.push('\n');
        }
        Payload::ExpungeGuid(v) => {
            for (uid, g) in v {
                let _ = writeln!(out, " - uid={uid} (guid {})", hex(g));
            }
        }
        Payload::Append(v) => {
            out.push_str(" - uids=");
            for (uid, flags) in v {
                let _ = write!(out, "{uid}");
                if *flags != 0 {
                    let _ = write!(out, " (flags={flags:x})");
                }
                out.push(',');
            }
            out.push('\n');
        }
        Payload::FlagUpdate(v) => {
            for u in v {
                let _ = writeln!(
                    out,
                    " - uids={}-{} (flags +{:x}-{:x}, modseq_inc_flag={})",
                    u.uid1, u.uid2, u.add_flags, u.remove_flags, u.modseq_inc_flag
                );
            }
        }
        Payload::HeaderUpdate(_) => {
            // doveadm shows the first block only.
            let mut offset = usize::from(u16_at(p, 0).unwrap_or(0));
            let mut size = usize::from(u16_at(p, 2).unwrap_or(0));
            if 4 + size > p.len() {
                let _ = writeln!(out, " - offset = {offset}, size = {size} (too large)");
                return;
            }
            let mut data = &p[4..4 + size];
            while size > 0 {
                match HEADER_FIELDS
                    .iter()
                    .find(|(_, o, s)| *o == offset && *s <= size)
                {
                    None => {
                        let _ = writeln!(
                            out,
                            " - offset = {offset}, size = {size}: {}",
                            data_str(data)
                        );
                        break;
                    }
                    Some((name, _, fsize)) => {
                        let _ = writeln!(out, " - {name} = {}", uint_str(&data[..*fsize]));
                        data = &data[*fsize..];
                        offset += fsize;
                        size -= fsize;
                    }
                }
            }
        }
        Payload::ExtIntro(v) => {
            if let Some(i) = v.first() {
                *intro_record_size = usize::from(i.record_size);
                let _ = writeln!(out, " - ext_id = {}", i.ext_id);
                let _ = writeln!(out, " - reset_id = {}", i.reset_id);
                let _ = writeln!(out, " - hdr_size = {}", i.hdr_size);
                let _ = writeln!(out, " - record_size = {}", i.record_size);
                let _ = writeln!(out, " - record_align = {}", i.record_align);
                let _ = writeln!(out, " - flags = {}", i.flags);
                let _ = writeln!(out, " - name_size = {}", i.name.len());
                if !i.name.is_empty() {
                    let _ = writeln!(out, " - name = '{}'", String::from_utf8_lossy(&i.name));
                }
            }
        }
        Payload::ExtReset { new_reset_id, .. } => {
            let _ = writeln!(out, " - new_reset_id = {new_reset_id}");
            let _ = writeln!(out, " - preserve_data = {}", p.get(4).copied().unwrap_or(0));
        }
        Payload::ExtHdrUpdate { wide, .. } => {
            let (off, size, fixed) = if *wide {
                (
                    u32_at(p, 0).unwrap_or(0) as usize,
                    u32_at(p, 4).unwrap_or(0) as usize,
                    8,
                )
            } else {
                (
                    usize::from(u16_at(p, 0).unwrap_or(0)),
                    usize::from(u16_at(p, 2).unwrap_or(0)),
                    4,
                )
            };
            let _ = write!(out, " - offset = {off}, size = {size}");
            if fixed + size <= p.len() {
                let _ = write!(out, ": {}", data_str(&p[fixed..fixed + size]));
            } else {
                out.push_str(" (too large)");
            }
            out.push('\n');
        }
        Payload::ExtRecUpdate(raw) => {
            let entry = (4 + *intro_record_size + 3) & !3;
            let mut i = 0;
            while i + 4 <= raw.len() {
                let _ = write!(out, " - uid={}: ", u32_at(raw, i).unwrap_or(0));
                let left = raw.len() - i - 4;
                if *intro_record_size <= left {
                    out.push_str(&data_str(&raw[i + 4..i + 4 + *intro_record_size]));
                } else {
                    out.push_str("(record_size too large)");
                }
                out.push('\n');
                i += entry;
            }
        }
        Payload::ExtAtomicInc(v) => {
            for (uid, diff) in v {
                if *diff > 0 {
                    let _ = writeln!(out, " - uid={uid}: +{diff}");
                } else {
                    let _ = writeln!(out, " - uid={uid}: {diff}");
                }
            }
        }
        Payload::KeywordUpdate { add, name, ranges } => {
            let _ = write!(
                out,
                " - modify={}, name={}, uids=",
                u8::from(!*add),
                String::from_utf8_lossy(name)
            );
            for (a, b) in ranges {
                let _ = write!(out, "{a}-{b},");
            }
            out.push('\n');
        }
        Payload::KeywordReset(r) => {
            out.push_str(" - uids=");
            for (a, b) in r {
                let _ = write!(out, "{a}-{b}, ");
            }
            out.push('\n');
        }
        Payload::ModseqUpdate(v) => {
            for (uid, m) in v {
                let _ = writeln!(out, " - uid={uid} modseq={m}");
            }
        }
        Payload::Boundary(s) => {
            let _ = writeln!(out, " - size={s}");
        }
        Payload::AttributeUpdate(raw) => attribute_text(raw, out),
        Payload::IndexDeleted | Payload::IndexUndeleted => {}
    }
}

fn attribute_text(raw: &[u8], out: &mut String) {
    let mut keys = Vec::new();
    let mut i = 0;
    let mut extra_count = 0;
    while i < raw.len() && raw[i] != 0 {
        let end = raw[i..]
            .iter()
            .position(|c| *c == 0)
            .map_or(raw.len(), |e| i + e);
        if raw[i] == b'+' {
            extra_count += 1;
        }
        extra_count += 1;
        keys.push(&raw[i..end]);
        i = end + 1;
    }
    let i = (i + 3) & !3;
    if i > raw.len() || (raw.len() - i) != extra_count * 4 {
        out.push_str(" - broken entry\n");
        return;
    }
    let mut pos = i;
    for k in keys {
        let op = match k.first() {
            Some(b'+') => "add",
            Some(b'-') => "remove",
            _ => "?",
        };
        let scope = match k.get(1) {
            Some(b'p') => "private",
            Some(b's') => "shared",
            _ => "?error?",
        };
        let ts = u32_at(raw, pos).unwrap_or(0);
        pos += 4;
        let _ = write!(
            out,
            " - {op}: {scope}/{} : timestamp={}",
            String::from_utf8_lossy(k.get(2..).unwrap_or(&[])),
            unixdate(ts)
        );
        if k.first() == Some(&b'+') {
            let _ = write!(out, " value_len={}", u32_at(raw, pos).unwrap_or(0));
            pos += 4;
        }
        out.push('\n');
    }
}

/// JSON form of a transaction log. On corruption, the records read so far
/// and an `"error"` member.
pub fn log_json(log: &LogFile) -> Value {
    let h = &log.header;
    let mut records = Vec::new();
    let mut error = Value::Null;
    let mut intro_record_size = 0usize;
    for rec in log.records() {
        match rec {
            Ok(rec) => {
                let mut body = String::new();
                log_record_body(&rec, &mut intro_record_size, &mut body);
                let lines: Vec<&str> = body.lines().map(|l| l.trim_start_matches(" - ")).collect();
                records.push(json!({
                    "offset": rec.offset,
                    "type": type_name(rec.type_word & rtype::MASK),
                    "type_word": rec.type_word,
                    "external": rec.is_external(),
                    "size": rec.size,
                    "modseq": rec.modseq,
                    "fields": lines,
                }));
            }
            Err(e) => {
                error = json!(e.to_string());
                break;
            }
        }
    }
    json!({
        "file": "log",
        "header": {
            "version": format!("{}.{}", h.major_version, h.minor_version),
            "hdr_size": h.hdr_size, "indexid": h.indexid, "file_seq": h.file_seq,
            "prev_file_seq": h.prev_file_seq, "prev_file_offset": h.prev_file_offset,
            "create_stamp": h.create_stamp, "initial_modseq": h.initial_modseq,
            "compat_flags": h.compat_flags,
        },
        "records": records,
        "error": error,
    })
}

fn index_header_text(map: &IndexMap, out: &mut String) {
    let h = &map.header;
    let _ = writeln!(
        out,
        "version .................. = {}.{}",
        h.major_version, h.minor_version
    );
    let _ = writeln!(out, "base header size ......... = {}", h.base_header_size);
    let _ = writeln!(out, "header size .............. = {}", h.header_size);
    let _ = writeln!(out, "record size .............. = {}", h.record_size);
    let _ = writeln!(out, "compat flags ............. = {}", h.compat_flags);
    let _ = writeln!(
        out,
        "index id ................. = {} ({})",
        h.indexid,
        unixdate(h.indexid)
    );
    let _ = writeln!(out, "flags .................... = {}", h.flags);
    let _ = writeln!(
        out,
        "uid validity ............. = {} ({})",
        h.uid_validity,
        unixdate(h.uid_validity)
    );
    let _ = writeln!(out, "next uid ................. = {}", h.next_uid);
    let _ = writeln!(out, "messages count ........... = {}", h.messages_count);
    let _ = writeln!(
        out,
        "seen messages count ...... = {}",
        h.seen_messages_count
    );
    let _ = writeln!(
        out,
        "deleted messages count ... = {}",
        h.deleted_messages_count
    );
    let _ = writeln!(out, "first recent uid ......... = {}", h.first_recent_uid);
    let _ = writeln!(
        out,
        "first unseen uid lowwater  = {}",
        h.first_unseen_uid_lowwater
    );
    let _ = writeln!(
        out,
        "first deleted uid lowwater = {}",
        h.first_deleted_uid_lowwater
    );
    let _ = writeln!(out, "log file seq ............. = {}", h.log_file_seq);
    let _ = writeln!(
        out,
        "log file tail offset ..... = {}",
        h.log_file_tail_offset
    );
    let _ = writeln!(
        out,
        "log file head offset ..... = {}",
        h.log_file_head_offset
    );
    let _ = writeln!(
        out,
        "log2 rotate time ......... = {} ({})",
        h.log2_rotate_time,
        unixdate(h.log2_rotate_time)
    );
    let _ = writeln!(
        out,
        "last temp file scan ...... = {} ({})",
        h.last_temp_file_scan,
        unixdate(h.last_temp_file_scan)
    );
    let _ = writeln!(
        out,
        "day stamp ................ = {} ({})",
        h.day_stamp,
        unixdate(h.day_stamp)
    );
    for (i, d) in h.day_first_uid.iter().enumerate() {
        let _ = writeln!(out, "day first uid[{i}] ......... = {d}");
    }
    if map.extensions.is_empty() {
        out.push_str("no extensions\n");
    }
    for (i, e) in map.extensions.iter().enumerate() {
        let _ = writeln!(out, "-- Extension {i} --");
        let _ = writeln!(out, "name ........ = {}", e.name);
        let _ = writeln!(out, "hdr_size .... = {}", e.hdr.len());
        let _ = writeln!(out, "reset_id .... = {}", e.reset_id);
        let _ = writeln!(out, "record_offset = {}", e.record_offset);
        let _ = writeln!(out, "record_size . = {}", e.record_size);
        let _ = writeln!(out, "record_align  = {}", e.record_align);
        if !e.hdr.is_empty() && e.name != EXT_KEYWORDS {
            ext_header_text(&e.name, &e.hdr, out);
        }
    }
    out.push_str("-- Keywords --\n");
    for (i, k) in map.keywords.iter().enumerate() {
        let _ = writeln!(out, "{i:3} = {k}");
    }
}

fn ext_header_text(name: &str, hdr: &[u8], out: &mut String) {
    let mut d = hdr.to_vec();
    d.resize(hdr.len() + 128, 0);
    let g = |o: usize| u32_at(&d, o).unwrap_or(0);
    match name {
        "hdr-vsize" => {
            out.push_str("header\n");
            let _ = writeln!(out, " - highest uid . = {}", g(8));
            let _ = writeln!(out, " - message count = {}", g(12));
            let _ = writeln!(out, " - vsize ....... = {}", u64_at(&d, 0).unwrap_or(0));
        }
        "maildir" => {
            out.push_str("header\n");
            let _ = writeln!(out, " - new_check_time .... = {}", unixdate(g(0)));
            let _ = writeln!(out, " - new_mtime ......... = {}", unixdate(g(4)));
            let _ = writeln!(out, " - new_mtime_nsecs ... = {}", g(8));
            let _ = writeln!(out, " - cur_check_time .... = {}", unixdate(g(12)));
            let _ = writeln!(out, " - cur_mtime ......... = {}", unixdate(g(16)));
            let _ = writeln!(out, " - cur_mtime_nsecs.... = {}", g(20));
            let _ = writeln!(out, " - uidlist_mtime ..... = {}", unixdate(g(24)));
            let _ = writeln!(out, " - uidlist_mtime_nsecs = {}", g(28));
            let _ = writeln!(out, " - uidlist_size ...... = {}", g(32));
        }
        "modseq" => {
            out.push_str("header\n");
            let _ = writeln!(out, " - highest_modseq = {}", u64_at(&d, 0).unwrap_or(0));
            let _ = writeln!(out, " - log_seq ...... = {}", g(8));
            let _ = writeln!(out, " - log_offset ... = {}", g(12));
        }
        "hdr-pop3-uidl" => {
            out.push_str("header\n");
            let _ = writeln!(out, " - max_uid_with_pop3_uidl = {}", g(0));
        }
        _ => {
            let _ = writeln!(out, "header ........ = {}", hex(hdr));
        }
    }
}

fn decision_str(d: u8) -> String {
    let base = match d & 0x7f {
        0 => "no",
        1 => "tmp",
        2 => "yes",
        _ => return format!("0x{d:x}"),
    };
    if d & 0x80 != 0 {
        format!("{base}!")
    } else {
        base.to_string()
    }
}

/// Cache header and field table in `doveadm dump` layout.
pub fn cache_header_text(cache: &CacheFile, out: &mut String) {
    let h = &cache.header;
    let _ = writeln!(out, "major version ........ = {}", h.major_version);
    let _ = writeln!(out, "minor version ........ = {}", h.minor_version);
    let _ = writeln!(
        out,
        "indexid .............. = {} ({})",
        h.indexid,
        unixdate(h.indexid)
    );
    let _ = writeln!(
        out,
        "file_seq ............. = {} ({}) ({} purges)",
        h.file_seq,
        unixdate(h.file_seq),
        h.file_seq.wrapping_sub(h.indexid) as i32
    );
    let _ = writeln!(out, "continued_record_count = {}", h.continued_record_count);
    let _ = writeln!(out, "record_count ......... = {}", h.record_count);
    let _ = writeln!(
        out,
        "used_file_size (old) . = {}",
        h.backwards_compat_used_file_size
    );
    let _ = writeln!(out, "deleted_record_count . = {}", h.deleted_record_count);
    let _ = writeln!(
        out,
        "field_header_offset .. = {} (0x{:08x} nontranslated)",
        h.field_header_offset(),
        h.field_header_offset_raw
    );
    out.push_str("-- Cache fields --\n");
    out.push_str(" #  Name                                         Type Size Dec  Last used\n");
    for (i, f) in cache.fields.iter().enumerate() {
        let _ = write!(
            out,
            "{i:2}: {:<44} {:<4} ",
            f.name,
            f.field_type.short_name()
        );
        if f.size != VARIABLE_SIZE || f.field_type.is_fixed_size() {
            let _ = write!(out, "{:4} ", f.size);
        } else {
            out.push_str("   - ");
        }
        // Dovecot ignores the FORCED bit stored in the file (it comes from configuration).
        let _ = writeln!(
            out,
            "{:<4} {}",
            decision_str(f.decision & 0x7f),
            &unixdate(f.last_used)[..16]
        );
    }
}

fn cache_value_text(cache: &CacheFile, field: u32, data: &[u8]) -> String {
    let f = &cache.fields[field as usize];
    let mut s = format!("    - {}: ", f.name);
    match f.field_type {
        FieldType::Fixed | FieldType::Variable | FieldType::Bitmask => {
            if f.field_type == FieldType::Fixed {
                if data.len() == 4 {
                    let _ = write!(s, "{} ", u32_at(data, 0).unwrap_or(0));
                } else if data.len() == 8 {
                    let _ = write!(s, "{}", u64_at(data, 0).unwrap_or(0));
                }
            }
            let _ = write!(s, "({})", hex(data));
            if f.name == "mime.parts" {
                s.push(' ');
                match mime_parts(data) {
                    Ok(t) => s.push_str(&t),
                    Err(e) => {
                        let _ = write!(s, "error: {e}");
                    }
                }
            } else if f.name == "body.snippet" && !data.is_empty() {
                let rest = &data[1..];
                let rest = rest.strip_suffix(&[0]).unwrap_or(rest);
                let _ = write!(
                    s,
                    " (version={}: {})",
                    data[0],
                    String::from_utf8_lossy(rest)
                );
            }
        }
        FieldType::String => {
            let d = data.strip_suffix(&[0]).unwrap_or(data);
            s.push_str(&String::from_utf8_lossy(d));
        }
        FieldType::Header => {
            let mut i = 0;
            let mut n = 0;
            loop {
                let Some(line) = u32_at(data, i) else {
                    if !(n == 0 && data.is_empty()) {
                        s.push_str("\n - BROKEN: header field doesn't end with 0 line");
                    }
                    i = data.len();
                    break;
                };
                i += 4;
                if line == 0 {
                    break;
                }
                if n > 0 {
                    s.push_str(", ");
                }
                let _ = write!(s, "{line}");
                n += 1;
            }
            let mut text = &data[i.min(data.len())..];
            if n == 1 && text.last() == Some(&b'\n') {
                text = &text[..text.len() - 1];
            }
            if !text.is_empty() {
                let _ = write!(s, ": {}", String::from_utf8_lossy(text));
            }
        }
    }
    s
}

/// Renders a serialized `mime.parts` tree like doveadm does.
pub fn mime_parts(data: &[u8]) -> std::result::Result<String, String> {
    let mut pos = 0usize;
    let mut out = String::new();
    parse_parts(data, &mut pos, 1, true, 0, &mut out)?;
    if pos != data.len() {
        return Err(format!("{} trailing bytes", data.len() - pos));
    }
    Ok(out)
}

fn parse_parts(
    d: &[u8],
    pos: &mut usize,
    count: u32,
    root: bool,
    depth: u32,
    out: &mut String,
) -> std::result::Result<(), String> {
    if depth > 100 {
        return Err("MIME structure nested too deep".into());
    }
    let take32 = |pos: &mut usize| -> std::result::Result<u32, String> {
        let v = u32_at(d, *pos).ok_or("truncated")?;
        *pos += 4;
        Ok(v)
    };
    for _ in 0..count {
        let flags = take32(pos)?;
        let t64 = |pos: &mut usize| -> std::result::Result<u64, String> {
            let v = u64_at(d, *pos).ok_or("truncated")?;
            *pos += 8;
            Ok(v)
        };
        let ppos = if root { 0 } else { t64(pos)? };
        let (hp, hv, bp, bv) = (t64(pos)?, t64(pos)?, t64(pos)?, t64(pos)?);
        if flags & (0x08 | 0x04) != 0 {
            take32(pos)?;
        }
        let children = if flags & (0x01 | 0x04) != 0 {
            take32(pos)?
        } else {
            0
        };
        let _ = write!(
            out,
            "(pos={ppos} hdr.p={hp} hdr.v={hv} body.p={bp} body.v={bv} flags={flags:x}"
        );
        if children > 0 {
            if children as usize > d.len() {
                return Err("children count too large".into());
            }
            out.push(' ');
            parse_parts(d, pos, children, false, depth + 1, out)?;
        }
        out.push(')');
    }
    Ok(())
}

/// Writes one message's cache chain (newest record first) in doveadm's layout.
pub fn cache_chain_text(cache: &CacheFile, newest: u32, out: &mut String) -> Result<()> {
    if newest == 0 {
        return Ok(());
    }
    match cache.chain(newest) {
        Ok(chain) => {
            for r in chain {
                let _ = writeln!(
                    out,
                    " - cache offset={} size={}, prev_offset = {}",
                    r.offset, r.size, r.prev_offset
                );
                for v in &r.values {
                    let _ = writeln!(out, "{}", cache_value_text(cache, v.field, v.data));
                }
            }
            Ok(())
        }
        Err(e) => {
            out.push_str(" - broken cache\n");
            Err(e)
        }
    }
}

/// Cache file dump: header, fields, then every message's chain as the
/// mailbox's view points to it (`view` may be absent for a lone file).
pub fn cache_text(cache: &CacheFile, view: Option<&View>, out: &mut String) -> Result<()> {
    cache_header_text(cache, out);
    let Some(view) = view else { return Ok(()) };
    let _ = writeln!(out, "\n-- RECORDS: {}", view.header().messages_count);
    let mut first_err = None;
    let usable = view
        .map()
        .ext(EXT_CACHE)
        .is_some_and(|e| e.reset_id == cache.header.file_seq);
    for (i, m) in view.messages().enumerate() {
        let off = if usable {
            view.map().cache_offset_at(i).unwrap_or(0)
        } else {
            0
        };
        let _ = writeln!(out, "RECORD: seq={}, uid={}", m.seq, m.uid);
        if let Err(e) = cache_chain_text(cache, off, out) {
            first_err.get_or_insert(e);
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The "registered extension" order doveadm prints record fields in:
/// `keywords` and `modseq` first (registered at open), then the others in
/// map order. Returns (ext index in map or None, number, name, size, align).
fn registered_exts(map: &IndexMap) -> Vec<(Option<usize>, usize, String, u16, u16)> {
    let mut out = vec![
        (
            map.ext_index(EXT_KEYWORDS),
            0,
            EXT_KEYWORDS.to_string(),
            2u16,
            1u16,
        ),
        (map.ext_index(EXT_MODSEQ), 1, EXT_MODSEQ.to_string(), 8, 8),
    ];
    for (i, e) in map.extensions.iter().enumerate() {
        if e.name != EXT_KEYWORDS && e.name != EXT_MODSEQ {
            let n = out.len();
            out.push((Some(i), n, e.name.clone(), e.record_size, e.record_align));
        }
    }
    out
}

/// Text dump of a mailbox view (index + replayed log + cache), like
/// `doveadm dump <dir>`. `name` is shown after `-- INDEX:`.
pub fn view_text(view: &View, name: &str, out: &mut String) -> Result<()> {
    let map = view.map();
    let _ = writeln!(out, "-- INDEX: {name}");
    index_header_text(map, out);
    let _ = writeln!(
        out,
        "\n-- CACHE: {}",
        name.replace("dovecot.index", "dovecot.index.cache")
    );
    match &view.cache {
        Some(c) => cache_header_text(c, out),
        None => out.push_str("cache is unusable\n"),
    }
    let _ = writeln!(out, "\n-- RECORDS: {}", map.header.messages_count);
    let regs = registered_exts(map);
    let mut first_err = None;
    for m in view.messages() {
        let _ = writeln!(
            out,
            "RECORD: seq={}, uid={}, flags=0x{:02x} {}",
            m.seq,
            m.uid,
            m.flags,
            flags_str(m.flags)
        );
        for (ei, n, ename, size, align) in &regs {
            let Some(ei) = ei else { continue };
            let e = &map.extensions[*ei];
            if *size == 0 || e.record_size == 0 {
                continue;
            }
            let rec = map.record(m.seq as usize).unwrap_or(&[]);
            let start = usize::from(e.record_offset);
            let bytes = rec.get(start..start + usize::from(*size)).unwrap_or(&[]);
            let val = match (size, align) {
                (2, 2) => format!("{:10}", u16_at(bytes, 0).unwrap_or(0)),
                (4, 4) => format!("{:10}", u32_at(bytes, 0).unwrap_or(0)),
                (8, 8) => format!("{:10}", u64_at(bytes, 0).unwrap_or(0)),
                _ => " ".repeat(10),
            };
            let _ = writeln!(out, " - ext {n} {ename:<10}: {val} ({})", hex(bytes));
        }
        if let Some(cache) = &view.cache {
            if let Err(e) = cache_chain_text(cache, m.cache_offset, out) {
                first_err.get_or_insert(e);
            }
        }
        out.push('\n');
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn flags_str(f: u8) -> String {
    let names: Vec<&str> = [
        (0x08, "Seen"),
        (0x01, "Answered"),
        (0x02, "Flagged"),
        (0x04, "Deleted"),
        (0x10, "Draft"),
    ]
    .iter()
    .filter(|(b, _)| f & b != 0)
    .map(|(_, n)| *n)
    .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("({})", names.join(" "))
    }
}

/// JSON form of a mailbox view.
pub fn view_json(view: &View) -> Value {
    let map = view.map();
    let h = &map.header;
    let mut hdr = Map::new();
    for (k, v) in [
        ("indexid", h.indexid),
        ("flags", h.flags),
        ("uid_validity", h.uid_validity),
        ("next_uid", h.next_uid),
        ("messages_count", h.messages_count),
        ("seen_messages_count", h.seen_messages_count),
        ("deleted_messages_count", h.deleted_messages_count),
        ("first_recent_uid", h.first_recent_uid),
        ("first_unseen_uid_lowwater", h.first_unseen_uid_lowwater),
        ("first_deleted_uid_lowwater", h.first_deleted_uid_lowwater),
        ("log_file_seq", h.log_file_seq),
        ("log_file_tail_offset", h.log_file_tail_offset),
        ("log_file_head_offset", h.log_file_head_offset),
        ("log2_rotate_time", h.log2_rotate_time),
        ("last_temp_file_scan", h.last_temp_file_scan),
        ("day_stamp", h.day_stamp),
        ("header_size", h.header_size),
        ("record_size", h.record_size),
    ] {
        hdr.insert(k.into(), json!(v));
    }
    hdr.insert(
        "version".into(),
        json!(format!("{}.{}", h.major_version, h.minor_version)),
    );
    hdr.insert("day_first_uid".into(), json!(h.day_first_uid));
    hdr.insert("highest_modseq".into(), json!(view.highest_modseq));
    let exts: Vec<Value> = map
        .extensions
        .iter()
        .map(|e| {
            json!({"name": e.name, "hdr_size": e.hdr.len(), "reset_id": e.reset_id,
                   "record_offset": e.record_offset, "record_size": e.record_size,
                   "record_align": e.record_align, "header": hex(&e.hdr)})
        })
        .collect();
    let messages: Vec<Value> = view
        .messages()
        .map(|m| {
            let mut cache = Vec::new();
            if let (Some(c), true) = (&view.cache, m.cache_offset != 0) {
                if let Ok(chain) = c.chain(m.cache_offset) {
                    for r in chain {
                        for v in &r.values {
                            cache.push(json!({"record": r.offset, "field": c.fields[v.field as usize].name, "data": hex(v.data)}));
                        }
                    }
                }
            }
            json!({"seq": m.seq, "uid": m.uid, "flags": m.flags, "keywords": m.keywords,
                   "modseq": m.modseq, "cache_offset": m.cache_offset, "cache": cache})
        })
        .collect();
    let cache = view.cache.as_ref().map(cache_json);
    json!({"file": "index", "header": hdr, "extensions": exts, "keywords": view.keyword_names(),
           "cache": cache, "messages": messages,
           "skipped": view.skipped.iter().map(|e| e.to_string()).collect::<Vec<_>>()})
}

/// JSON form of a cache file's header and field registry.
pub fn cache_json(c: &CacheFile) -> Value {
    let h = &c.header;
    json!({
        "header": {"major_version": h.major_version, "minor_version": h.minor_version,
                   "indexid": h.indexid, "file_seq": h.file_seq,
                   "continued_record_count": h.continued_record_count, "record_count": h.record_count,
                   "used_file_size": h.backwards_compat_used_file_size,
                   "deleted_record_count": h.deleted_record_count,
                   "field_header_offset": h.field_header_offset()},
        "fields": c.fields.iter().map(|f| json!({"name": f.name, "type": f.field_type.short_name(),
                   "size": if f.size == VARIABLE_SIZE { Value::Null } else { json!(f.size) },
                   "decision": decision_str(f.decision), "last_used": f.last_used})).collect::<Vec<_>>(),
        "field_header_offsets": c.field_header_offsets,
    })
}
