//! Every mailbox index of the Dovecot-written fixtures reads back exactly as
//! `doveadm dump` showed it (`truth/dump/**/index-view.txt`: the index with
//! the log replayed), and as `doveadm fetch` reported it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use columba_interop::{fixture_dir, install_fixture_maildir};
use columba_mail_index::{IndexDir, View};

const SCENARIOS: &[&str] = &[
    "01-alice-shapes-flags",
    "02-bob-rotated-log",
    "03-carol-10k",
    "04-dave-folders",
];

fn read_text(path: &Path) -> String {
    if path.extension().is_some_and(|e| e == "gz") {
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(path)
            .output()
            .expect("gzip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned()
    }
}

/// (relative mailbox dir, index-view path) for every dump dir of a scenario.
fn index_views(scenario: &str) -> Vec<(String, PathBuf)> {
    let root = fixture_dir(scenario).join("truth/dump/Maildir");
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("index-view.txt")
            {
                let rel = d
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, p));
            }
        }
    }
    out.sort();
    out
}

/// (uid, flags, keyword hex, modseq, cache offset)
type TruthRecord = (u32, u8, Option<String>, Option<u64>, Option<u32>);

struct Truth {
    header: BTreeMap<String, String>,
    exts: Vec<Vec<String>>,
    keywords: Vec<String>,
    /// (uid, flags, keyword hex, modseq, cache offset)
    records: Vec<TruthRecord>,
    modseq_hdr: Option<u64>,
}

fn parse_view(text: &str) -> Truth {
    let mut t = Truth {
        header: BTreeMap::new(),
        exts: Vec::new(),
        keywords: Vec::new(),
        records: Vec::new(),
        modseq_hdr: None,
    };
    let mut section = "";
    let mut cur_ext: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with("-- INDEX") {
            section = "hdr";
            continue;
        }
        if line.starts_with("-- Extension") {
            if !cur_ext.is_empty() {
                t.exts.push(std::mem::take(&mut cur_ext));
            }
            section = "ext";
            continue;
        }
        if line.starts_with("-- Keywords") {
            if !cur_ext.is_empty() {
                t.exts.push(std::mem::take(&mut cur_ext));
            }
            section = "kw";
            continue;
        }
        if line.starts_with("-- CACHE") {
            section = "cache";
            continue;
        }
        if line.starts_with("-- RECORDS") {
            section = "rec";
            continue;
        }
        match section {
            "hdr" => {
                if let Some((k, v)) = line.split_once(" = ") {
                    let k = k.trim_end_matches(['.', ' ']).to_string();
                    let v = v.split(' ').next().unwrap().to_string();
                    t.header.insert(k, v);
                }
            }
            "ext" => {
                if let Some((k, v)) = line.split_once(" = ") {
                    let k = k.trim_end_matches(['.', ' ']);
                    if [
                        "name",
                        "hdr_size",
                        "reset_id",
                        "record_offset",
                        "record_size",
                        "record_align",
                    ]
                    .contains(&k)
                    {
                        cur_ext.push(v.trim().to_string());
                    }
                    if k == " - highest_modseq" {
                        t.modseq_hdr = v.trim().parse().ok();
                    }
                }
            }
            "kw" => {
                if let Some((_, v)) = line.split_once(" = ") {
                    t.keywords.push(v.to_string());
                }
            }
            "rec" => {
                if let Some(rest) = line.strip_prefix("RECORD: seq=") {
                    let uid = rest
                        .split("uid=")
                        .nth(1)
                        .unwrap()
                        .split(',')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    let flags = u8::from_str_radix(
                        rest.split("flags=0x")
                            .nth(1)
                            .unwrap()
                            .split(' ')
                            .next()
                            .unwrap(),
                        16,
                    )
                    .unwrap();
                    t.records.push((uid, flags, None, None, None));
                } else if let Some(rest) = line.strip_prefix(" - ext ") {
                    let r = t.records.last_mut().unwrap();
                    let hex = rest
                        .rsplit('(')
                        .next()
                        .unwrap()
                        .trim_end_matches(')')
                        .to_string();
                    let val = rest
                        .split(':')
                        .nth(1)
                        .unwrap()
                        .trim()
                        .split(' ')
                        .next()
                        .unwrap()
                        .to_string();
                    if rest.contains(" keywords ") {
                        r.2 = Some(hex);
                    } else if rest.contains(" modseq ") {
                        r.3 = val.parse().ok();
                    } else if rest.contains(" cache ") {
                        r.4 = val.parse().ok();
                    }
                }
            }
            _ => {}
        }
    }
    t
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn check(view: &View, truth: &Truth, what: &str) {
    let h = view.header();
    let num = |k: &str| {
        truth
            .header
            .get(k)
            .unwrap_or_else(|| panic!("{what}: no {k}"))
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!(
        u64::from(h.messages_count),
        num("messages count"),
        "{what}: messages count"
    );
    assert_eq!(u64::from(h.next_uid), num("next uid"), "{what}: next uid");
    assert_eq!(
        u64::from(h.uid_validity),
        num("uid validity"),
        "{what}: uid validity"
    );
    assert_eq!(
        u64::from(h.seen_messages_count),
        num("seen messages count"),
        "{what}: seen count"
    );
    assert_eq!(
        u64::from(h.deleted_messages_count),
        num("deleted messages count"),
        "{what}: deleted count"
    );
    assert_eq!(
        u64::from(h.first_recent_uid),
        num("first recent uid"),
        "{what}: first recent uid"
    );
    assert_eq!(
        u64::from(h.first_unseen_uid_lowwater),
        num("first unseen uid lowwater"),
        "{what}: unseen lowwater"
    );
    assert_eq!(
        u64::from(h.first_deleted_uid_lowwater),
        num("first deleted uid lowwater"),
        "{what}: deleted lowwater"
    );
    assert_eq!(
        u64::from(h.log_file_seq),
        num("log file seq"),
        "{what}: log file seq"
    );
    assert_eq!(
        u64::from(h.log_file_head_offset),
        num("log file head offset"),
        "{what}: head offset"
    );
    assert_eq!(
        u64::from(h.log_file_tail_offset),
        num("log file tail offset"),
        "{what}: tail offset"
    );
    assert_eq!(u64::from(h.indexid), num("index id"), "{what}: index id");
    assert_eq!(
        u64::from(h.day_stamp),
        num("day stamp"),
        "{what}: day stamp"
    );
    assert_eq!(
        u64::from(h.record_size),
        num("record size"),
        "{what}: record size"
    );
    assert_eq!(
        u64::from(h.header_size),
        num("header size"),
        "{what}: header size"
    );
    let exts: Vec<Vec<String>> = view
        .map()
        .extensions
        .iter()
        .map(|e| {
            vec![
                e.name.clone(),
                e.hdr.len().to_string(),
                e.reset_id.to_string(),
                e.record_offset.to_string(),
                e.record_size.to_string(),
                e.record_align.to_string(),
            ]
        })
        .collect();
    assert_eq!(exts, truth.exts, "{what}: extensions");
    assert_eq!(
        view.keyword_names(),
        truth.keywords.as_slice(),
        "{what}: keywords"
    );
    if let Some(m) = truth.modseq_hdr {
        assert_eq!(
            view.map().modseq_header().map(|h| h.0),
            Some(m),
            "{what}: modseq header"
        );
        assert_eq!(view.highest_modseq, m, "{what}: highest modseq");
    }
    let msgs: Vec<_> = view.messages().collect();
    assert_eq!(msgs.len(), truth.records.len(), "{what}: records");
    let kw_ext = view.map().ext_index("keywords");
    for (i, (m, r)) in msgs.iter().zip(&truth.records).enumerate() {
        assert_eq!((m.uid, m.flags), (r.0, r.1), "{what}: record {}", i + 1);
        if let (Some(kh), Some(ki)) = (&r.2, kw_ext) {
            let bytes = view.map().ext_record(ki, i).unwrap();
            assert!(
                hex(bytes).starts_with(kh.as_str()),
                "{what}: uid {} keywords {} vs {kh}",
                m.uid,
                hex(bytes)
            );
        }
        if let Some(ms) = r.3 {
            assert_eq!(
                view.map().modseq_at(i),
                Some(ms),
                "{what}: uid {} modseq",
                m.uid
            );
        }
        if let Some(co) = r.4 {
            assert_eq!(
                view.map().cache_offset_at(i),
                Some(co),
                "{what}: uid {} cache offset",
                m.uid
            );
        }
    }
}

#[test]
fn every_fixture_view_matches_doveadm_dump() {
    let mut checked = 0;
    for scenario in SCENARIOS {
        let tmp = tempfile::tempdir().unwrap();
        install_fixture_maildir(scenario, tmp.path()).unwrap();
        for (rel, view_path) in index_views(scenario) {
            let dir = tmp.path().join(&rel);
            let what = format!("{scenario}/{rel}");
            let view = IndexDir::new(&dir)
                .open_view()
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                view.skipped.is_empty(),
                "{what}: skipped {:?}",
                view.skipped
            );
            let truth = parse_view(&read_text(&view_path));
            check(&view, &truth, &what);
            checked += 1;
        }
    }
    assert!(checked >= 25, "only {checked} mailboxes checked");
}

/// `doveadm fetch` ground truth: flags, keywords and modseq per UID.
#[test]
fn every_fixture_matches_doveadm_fetch() {
    for scenario in SCENARIOS {
        let tmp = tempfile::tempdir().unwrap();
        install_fixture_maildir(scenario, tmp.path()).unwrap();
        let dir = fixture_dir(scenario).join("truth");
        let tsv = if dir.join("doveadm-fetch.tsv").exists() {
            dir.join("doveadm-fetch.tsv")
        } else {
            dir.join("doveadm-fetch.tsv.gz")
        };
        let text = read_text(&tsv);
        let mut by_box: BTreeMap<String, Vec<(u32, Vec<String>, u64)>> = BTreeMap::new();
        for line in text.lines().skip(2) {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 8 {
                continue;
            }
            let flags = f[2]
                .split(' ')
                .filter(|s| !s.is_empty() && *s != "\\Recent")
                .map(str::to_string)
                .collect();
            by_box.entry(f[0].to_string()).or_default().push((
                f[1].parse().unwrap(),
                flags,
                f[7].parse().unwrap(),
            ));
        }
        assert!(!by_box.is_empty());
        for (mailbox, expected) in by_box {
            let rel = if mailbox == "INBOX" {
                String::new()
            } else {
                format!(".{}", mutf7(&mailbox).replace('/', "."))
            };
            let view = IndexDir::new(tmp.path().join(&rel))
                .open_view()
                .unwrap_or_else(|e| panic!("{scenario}/{mailbox}: {e}"));
            let got: Vec<(u32, Vec<String>, u64)> = view
                .messages()
                .map(|m| {
                    let mut fl: Vec<String> = [
                        (0x01, "\\Answered"),
                        (0x02, "\\Flagged"),
                        (0x04, "\\Deleted"),
                        (0x08, "\\Seen"),
                        (0x10, "\\Draft"),
                    ]
                    .iter()
                    .filter(|(b, _)| m.flags & b != 0)
                    .map(|(_, n)| n.to_string())
                    .collect();
                    fl.extend(m.keywords.iter().map(|k| k.to_string()));
                    (m.uid, fl, m.modseq)
                })
                .collect();
            let norm = |v: Vec<(u32, Vec<String>, u64)>| -> Vec<(u32, Vec<String>, u64)> {
                v.into_iter()
                    .map(|(u, mut f, m)| {
                        f.sort();
                        (u, f, m)
                    })
                    .collect()
            };
            let (got, expected) = (norm(got), norm(expected));
            assert_eq!(
                got.len(),
                expected.len(),
                "{scenario}/{mailbox}: message count"
            );
            for (g, e) in got.iter().zip(&expected) {
                assert_eq!(g, e, "{scenario}/{mailbox}");
            }
        }
    }
}

/// Modified UTF-7 (RFC 3501) for folder names.
fn mutf7(s: &str) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    let mut out = String::new();
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |a, (i, b)| a | (u32::from(*b) << (16 - 8 * i)));
            let chars = chunk.len() + 1;
            for i in 0..chars {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out.push('-');
        pending.clear();
    };
    for c in s.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}
