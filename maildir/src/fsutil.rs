//! Small file-system helpers: permissions that follow the mailbox directory
//! (as Dovecot 2.3 derives them), durable writes and directory fsync.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::error::{Error, IoContext, Result};

/// Largest control file (`dovecot-uidlist`, `dovecot-keywords`,
/// `subscriptions`) this crate reads into memory.
pub const MAX_CONTROL_FILE: u64 = 1 << 30;

/// Owner and mode that new files in a directory get.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Perms {
    pub file_mode: u32,
    pub dir_mode: u32,
    /// uid/gid to hand new files to (only when we run as root and the
    /// directory belongs to someone else).
    pub chown: Option<(u32, u32)>,
}

impl Perms {
    /// Dovecot 2.3: files get the directory's permission bits without the
    /// execute bits; as root we also give them the directory's owner so the
    /// mail user can keep using them.
    pub fn of_dir(dir: &Path) -> Result<Perms> {
        let meta = std::fs::metadata(dir).ctx("stat", dir)?;
        let mode = meta.mode() & 0o7777;
        let euid = rustix::process::geteuid().as_raw();
        let chown =
            (euid == 0 && (meta.uid() != 0 || meta.gid() != 0)).then(|| (meta.uid(), meta.gid()));
        Ok(Perms {
            file_mode: mode & 0o666,
            dir_mode: mode & 0o777,
            chown,
        })
    }

    pub fn apply(&self, file: &File, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.chown {
            std::os::unix::fs::fchown(file, Some(uid), Some(gid)).ctx("fchown", path)?;
        }
        Ok(())
    }

    pub fn apply_path(&self, path: &Path) -> Result<()> {
        if let Some((uid, gid)) = self.chown {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).ctx("chown", path)?;
        }
        Ok(())
    }
}

/// Creates a new file (`O_EXCL`) with the directory's permissions.
pub(crate) fn create_new(path: &Path, perms: &Perms) -> Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(perms.file_mode)
        .open(path)
        .ctx("create", path)?;
    perms.apply(&file, path)?;
    Ok(file)
}

/// Creates a directory with the given permissions (ignoring "already exists"
/// when `exist_ok`).
pub(crate) fn mkdir(path: &Path, perms: &Perms, exist_ok: bool) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(perms.dir_mode).create(path) {
        Ok(()) => perms.apply_path(path),
        Err(e) if exist_ok && e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Io {
            op: "mkdir",
            path: path.to_path_buf(),
            source: e,
        }),
    }
}

/// `fsync()` on a directory, so a rename or create inside it is durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).ctx("fsync", dir)
}

/// Reads a whole control file, refusing files over [`MAX_CONTROL_FILE`].
/// `Ok(None)` when it does not exist.
pub(crate) fn read_limited(path: &Path) -> Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Io {
                op: "open",
                path: path.to_path_buf(),
                source: e,
            })
        }
    };
    let size = file.metadata().ctx("fstat", path)?.len();
    if size > MAX_CONTROL_FILE {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size,
            limit: MAX_CONTROL_FILE,
        });
    }
    let mut buf = Vec::with_capacity(size as usize);
    file.take(MAX_CONTROL_FILE + 1)
        .read_to_end(&mut buf)
        .ctx("read", path)?;
    if buf.len() as u64 > MAX_CONTROL_FILE {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size: buf.len() as u64,
            limit: MAX_CONTROL_FILE,
        });
    }
    Ok(Some(buf))
}

/// Writes `data` to `tmp` (created or truncated, with the directory's
/// permissions), `fdatasync`s it and renames it over `dest`. Returns the
/// file, still open (now at `dest`).
pub(crate) fn replace_file(tmp: &Path, dest: &Path, data: &[u8], perms: &Perms) -> Result<File> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(perms.file_mode)
        .open(tmp)
        .ctx("create", tmp)?;
    perms.apply(&file, tmp)?;
    let res = file
        .write_all(data)
        .and_then(|()| file.sync_data())
        .ctx("write", tmp)
        .and_then(|()| std::fs::rename(tmp, dest).ctx("rename", dest));
    if res.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    res.map(|()| file)
}

/// Whether `fd` is on a local file system, whose `stat()` reports times and
/// sizes as the kernel sets them (no client-side attribute cache) and where
/// an open file does not keep its directory from being removed.
pub(crate) fn is_local_fs(fd: impl rustix::fd::AsFd) -> bool {
    const LOCAL: &[i64] = &[
        0xEF53,      // ext2/3/4
        0x5846_5342, // xfs
        0x9123_683E, // btrfs
        0x0102_1994, // tmpfs
        0x794C_7630, // overlayfs
        0x2FC1_2FC1, // zfs
        0xF2F5_2010, // f2fs
        0xCA45_1A4E, // bcachefs
        0x8584_58F6, // ramfs
    ];
    match rustix::fs::fstatfs(fd) {
        #[allow(clippy::unnecessary_cast)] // f_type's type differs between targets
        Ok(s) => LOCAL.contains(&(s.f_type as i64)),
        Err(_) => false,
    }
}
