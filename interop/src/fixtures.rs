//! The Dovecot-written fixtures in `testdata/dovecot-2.3/`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

/// The repository's `testdata/` folder.
pub fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// A scenario folder of `testdata/dovecot-2.3/`, e.g. `fixture_dir("01-alice-shapes-flags")`.
pub fn fixture_dir(scenario: &str) -> PathBuf {
    testdata_dir().join("dovecot-2.3").join(scenario)
}

/// Lays out a scenario's `Maildir` at `dest` exactly as Dovecot left it:
/// copies (or unpacks `Maildir.tar.gz`), recreates the empty directories git
/// does not keep (`tmp/`, `new/`), and restores every mtime from `MANIFEST.tsv`
/// (a Maildir message's received date is its file's mtime).
pub fn install_fixture_maildir(scenario: &str, dest: &Path) -> io::Result<()> {
    let src = fixture_dir(scenario);
    std::fs::create_dir_all(dest)?;
    let tarball = src.join("Maildir.tar.gz");
    if tarball.exists() {
        // The archive holds a top-level `Maildir/` folder.
        run(Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(dest)
            .arg("--strip-components=1"))?;
    } else {
        copy_tree(&src.join("Maildir"), dest)?;
    }
    for entry in read_manifest(&src)? {
        let Some(rel) = entry
            .path
            .strip_prefix("Maildir")
            .map(|p| p.trim_start_matches('/'))
        else {
            continue;
        };
        let target = dest.join(rel);
        if entry.kind == 'd' {
            std::fs::create_dir_all(&target)?;
        }
        if target.exists() {
            let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(entry.mtime);
            std::fs::File::options()
                .read(true)
                .open(&target)?
                .set_modified(mtime)?;
        }
    }
    Ok(())
}

struct ManifestEntry {
    kind: char,
    path: String,
    mtime: u64,
}

fn read_manifest(scenario: &Path) -> io::Result<Vec<ManifestEntry>> {
    let plain = scenario.join("MANIFEST.tsv");
    let text = if plain.exists() {
        std::fs::read_to_string(plain)?
    } else {
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(scenario.join("MANIFEST.tsv.gz"))
            .output()?;
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let kind = fields.next()?.chars().next()?;
            let path = fields.next()?.to_string();
            let _size = fields.next()?;
            let mtime = fields.next()?.parse().ok()?;
            Some(ManifestEntry { kind, path, mtime })
        })
        .collect())
}

fn copy_tree(src: &Path, dest: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let to = dest.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else {
            std::fs::copy(entry.path(), &to)?;
        }
    }
    Ok(())
}

fn run(command: &mut Command) -> io::Result<()> {
    let status = command.status()?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{command:?} failed: {status}")))
    }
}
