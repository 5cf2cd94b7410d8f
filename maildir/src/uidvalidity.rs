//! `dovecot-uidvalidity`: the namespace-wide UIDVALIDITY allocator, and
//! mailbox GUID generation.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{IoContext, Result};
use crate::fsutil::Perms;

const NAME: &str = "dovecot-uidvalidity";

fn now_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(1)
        .max(1)
}

fn parse_hex8(s: &str) -> Option<u32> {
    (s.len() == 8)
        .then(|| u32::from_str_radix(s, 16).ok())
        .flatten()
}

fn next_nonzero(v: u32) -> u32 {
    match v.wrapping_add(1) {
        0 => 1,
        n => n,
    }
}

/// Allocates the next UIDVALIDITY from `<root>/dovecot-uidvalidity`, as
/// Dovecot's `mailbox_uidvalidity_next()` does: the marker file
/// `dovecot-uidvalidity.<hex>` is renamed to the next value, and whoever
/// wins the rename owns that value.
pub fn allocate(root: &Path) -> Result<u32> {
    let path = root.join(NAME);
    let perms = Perms::of_dir(root)?;
    let current = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| parse_hex8(s.trim()));
    let Some(mut cur) = current else {
        return create(root, &perms);
    };
    for _ in 0..10 {
        let next = next_nonzero(cur);
        let from = root.join(format!("{NAME}.{cur:08x}"));
        let to = root.join(format!("{NAME}.{next:08x}"));
        match std::fs::rename(&from, &to) {
            Ok(()) => {
                write_value(&path, next, &perms)?;
                return Ok(next);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => cur = next,
            Err(e) => return Err(e).ctx("rename", &from),
        }
    }
    // Fall back to the highest marker present.
    let mut highest = None;
    for entry in std::fs::read_dir(root).ctx("readdir", root)? {
        let entry = entry.ctx("readdir", root)?;
        let name = entry.file_name();
        if let Some(v) = name
            .to_str()
            .and_then(|n| n.strip_prefix("dovecot-uidvalidity."))
            .and_then(parse_hex8)
        {
            highest = highest.max(Some(v));
        }
    }
    match highest {
        Some(h) => {
            let next = next_nonzero(h);
            let from = root.join(format!("{NAME}.{h:08x}"));
            let to = root.join(format!("{NAME}.{next:08x}"));
            if std::fs::rename(&from, &to).is_ok() {
                write_value(&path, next, &perms)?;
                return Ok(next);
            }
            Ok(now_secs())
        }
        None => create(root, &perms),
    }
}

fn create(root: &Path, perms: &Perms) -> Result<u32> {
    let value = now_secs();
    let marker = root.join(format!("{NAME}.{value:08x}"));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(&marker)
    {
        Ok(f) => perms.apply(&f, &marker)?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e).ctx("create", &marker),
    }
    write_value(&root.join(NAME), value, perms)?;
    Ok(value)
}

fn write_value(path: &Path, value: u32, perms: &Perms) -> Result<()> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(perms.file_mode)
        .open(path)
        .ctx("open", path)?;
    perms.apply(&f, path)?;
    let text = format!("{value:08x}");
    f.write_all_at(text.as_bytes(), 0).ctx("pwrite", path)?;
    f.set_len(8).ctx("ftruncate", path)?;
    let mut f = f;
    f.flush().ctx("write", path)
}

/// A new 16-byte mailbox GUID in Dovecot's layout: nanoseconds, seconds and
/// pid (little-endian u32 each), then 4 bytes derived from the host name.
pub fn generate_guid() -> [u8; 16] {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut g = [0u8; 16];
    g[0..4].copy_from_slice(&now.subsec_nanos().to_le_bytes());
    g[4..8].copy_from_slice(&(now.as_secs() as u32).to_le_bytes());
    g[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    let mut h = DefaultHasher::new();
    crate::filename::hostname().hash(&mut h);
    g[12..16].copy_from_slice(&(h.finish() as u32).to_le_bytes());
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_increasing_values() {
        let dir = tempfile::tempdir().unwrap();
        let a = allocate(dir.path()).unwrap();
        let b = allocate(dir.path()).unwrap();
        assert_eq!(b, a + 1);
        let text = std::fs::read_to_string(dir.path().join(NAME)).unwrap();
        assert_eq!(text, format!("{b:08x}"));
        assert!(dir.path().join(format!("{NAME}.{b:08x}")).exists());
    }
}
