//! `columba dump` output compared with `doveadm dump` of the same files.

use std::path::{Path, PathBuf};
use std::process::Command;

use columba_interop::{fixture_dir, install_fixture_maildir};
use columba_mail_index::{dump, FileKind, IndexDir, LogFile};

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

fn truth_files(scenario: &str, prefix: &str) -> Vec<(String, PathBuf)> {
    let root = fixture_dir(scenario).join("truth/dump/Maildir");
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                dirs.push(p);
            } else if name.starts_with(prefix) {
                out.push((
                    d.strip_prefix(&root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                    p,
                ));
            }
        }
    }
    out.sort();
    out
}

/// The doveadm output without its two leading lines (command, detected type).
fn body(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| l.starts_with('#') || l.starts_with("Detected file type"))
        .collect()
}

#[test]
fn log_dumps_match_doveadm_line_for_line() {
    let mut files = 0;
    for scenario in SCENARIOS {
        let tmp = tempfile::tempdir().unwrap();
        install_fixture_maildir(scenario, tmp.path()).unwrap();
        for (rel, truth) in truth_files(scenario, "dovecot.index.log") {
            let fname = truth
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".txt.gz", "")
                .replace(".txt", "");
            let kind = if fname.ends_with(".2") {
                FileKind::Log2
            } else {
                FileKind::Log
            };
            let bytes = std::fs::read(tmp.path().join(&rel).join(&fname)).unwrap();
            let log = LogFile::parse(kind, bytes).unwrap();
            let mut out = String::new();
            dump::log_text(&log, &mut out).unwrap();
            let expected = read_text(&truth);
            let exp = body(&expected);
            let got: Vec<&str> = out.lines().collect();
            for (i, (g, e)) in got.iter().zip(&exp).enumerate() {
                assert_eq!(g, e, "{scenario}/{rel}/{fname} line {}", i + 1);
            }
            assert_eq!(got.len(), exp.len(), "{scenario}/{rel}/{fname}: line count");
            files += 1;
        }
    }
    assert!(files >= 25);
}

#[test]
fn view_dumps_match_doveadm() {
    let mut dirs = 0;
    for scenario in SCENARIOS {
        let tmp = tempfile::tempdir().unwrap();
        install_fixture_maildir(scenario, tmp.path()).unwrap();
        for (rel, truth) in truth_files(scenario, "index-view.txt") {
            let view = IndexDir::new(tmp.path().join(&rel)).open_view().unwrap();
            let expected = read_text(&truth);
            let exp = body(&expected);
            let name = exp[0].trim_start_matches("-- INDEX: ").to_string();
            let mut out = String::new();
            dump::view_text(&view, &name, &mut out).unwrap();
            let got: Vec<&str> = out.lines().collect();
            for (i, (g, e)) in got.iter().zip(&exp).enumerate() {
                assert_eq!(g, e, "{scenario}/{rel} line {}", i + 1);
            }
            assert_eq!(got.len(), exp.len(), "{scenario}/{rel}: line count");
            dirs += 1;
        }
    }
    assert!(dirs >= 25);
}

#[test]
fn json_dump_has_every_message() {
    let tmp = tempfile::tempdir().unwrap();
    install_fixture_maildir("01-alice-shapes-flags", tmp.path()).unwrap();
    let view = IndexDir::new(tmp.path()).open_view().unwrap();
    let v = dump::view_json(&view);
    assert_eq!(v["messages"].as_array().unwrap().len(), 15);
    assert_eq!(v["header"]["next_uid"], 19);
    assert_eq!(v["messages"][5]["uid"], 7);
    assert_eq!(
        v["messages"][5]["keywords"],
        serde_json::json!(["$Label2", "$Label3", "$Forwarded", "$MDNSent"])
    );
}

/// `dovecot.index` on its own (no log to replay, no cache) reads back as
/// the fixtures' raw `doveadm dump` shows it.
#[test]
fn raw_index_files_match_doveadm() {
    for scenario in ["02-bob-rotated-log", "03-carol-10k"] {
        let tmp = tempfile::tempdir().unwrap();
        install_fixture_maildir(scenario, tmp.path()).unwrap();
        let bytes = std::fs::read(tmp.path().join("dovecot.index")).unwrap();
        let map = columba_mail_index::IndexMap::parse(&bytes).unwrap();
        let raw_dir = tempfile::tempdir().unwrap();
        std::fs::write(raw_dir.path().join("dovecot.index"), &bytes).unwrap();
        // The log file the index points into, cut at the index's head offset.
        let mut log_bytes = None;
        for name in ["dovecot.index.log", "dovecot.index.log.2"] {
            let b = std::fs::read(tmp.path().join(name)).unwrap();
            let log = LogFile::parse(FileKind::Log, b.clone()).unwrap();
            if log.header.file_seq == map.header.log_file_seq {
                log_bytes = Some(b[..map.header.log_file_head_offset as usize].to_vec());
            }
        }
        std::fs::write(raw_dir.path().join("dovecot.index.log"), log_bytes.unwrap()).unwrap();
        let view = IndexDir::new(raw_dir.path()).open_view().unwrap();
        let mut out = String::new();
        dump::view_text(&view, "./dovecot.index", &mut out).unwrap();
        let truth = fixture_dir(scenario).join("truth/dump/Maildir");
        let truth = if truth.join("dovecot.index.raw.txt").exists() {
            truth.join("dovecot.index.raw.txt")
        } else {
            truth.join("dovecot.index.raw.txt.gz")
        };
        let expected = read_text(&truth);
        let exp = body(&expected);
        let got: Vec<&str> = out.lines().collect();
        for (i, (g, e)) in got.iter().zip(&exp).enumerate() {
            assert_eq!(g, e, "{scenario} raw line {}", i + 1);
        }
        assert_eq!(got.len(), exp.len(), "{scenario}: line count");
    }
}
