//! A Maildir++ root: INBOX plus `.Folder.Sub` directories, subscriptions
//! and the UIDVALIDITY allocator.

use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::{self, Perms};
use crate::mailbox::Mailbox;
use crate::mutf7;
use crate::subscriptions::{Subscriptions, SubscriptionsFile};

/// Hierarchy separator shown to users (Dovecot's usual namespace separator).
pub const SEPARATOR: char = '/';
/// Separator on disk in the Maildir++ layout.
pub const STORAGE_SEPARATOR: char = '.';
/// Name Dovecot renames a folder to before deleting it.
pub const TRASHED_NAME: &str = "..DOVECOT-TRASHED";

/// A folder found in the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderEntry {
    /// Name in UTF-8 with `/` between levels (`Archive/2024`); `INBOX` for the root.
    pub name: String,
    /// Directory name on disk (`.Archive.2024`); empty for INBOX and for
    /// parents that exist only through their children.
    pub dir_name: String,
    /// False for a parent that has no directory of its own (`.A.B` exists
    /// but `.A` does not): IMAP shows it `\NoSelect`.
    pub selectable: bool,
}

/// A Maildir++ root (the INBOX directory, with folders as `.Name` subdirectories).
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
}

fn validate_component(full: &str, c: &str) -> Result<()> {
    let bad = |reason| Error::FolderName {
        name: full.to_string(),
        reason,
    };
    if c.is_empty() {
        return Err(bad("empty hierarchy level"));
    }
    if c.contains(STORAGE_SEPARATOR) {
        return Err(bad(
            "'.' is the Maildir++ separator and cannot be part of a name",
        ));
    }
    if c.chars().any(|ch| ch.is_control()) {
        return Err(bad("control characters"));
    }
    if c == "~" {
        return Err(bad("reserved name"));
    }
    Ok(())
}

impl Maildir {
    /// Opens an existing Maildir (it must have `cur/` and `new/`; a missing
    /// `tmp/` is created).
    pub fn open(root: &Path) -> Result<Maildir> {
        for sub in ["cur", "new"] {
            let path = root.join(sub);
            match std::fs::metadata(&path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(Error::NotMaildir(root.to_path_buf())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::NotMaildir(root.to_path_buf()))
                }
                // Permission problems are not "no such mailbox".
                Err(e) => return Err(e).ctx("stat", &path),
            }
        }
        if !root.join("tmp").is_dir() {
            let perms = Perms::of_dir(root)?;
            fsutil::mkdir(&root.join("tmp"), &perms, true)?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
        })
    }

    /// Creates the Maildir (mode 0700) if needed, with `cur/`, `new/`, `tmp/`.
    pub fn create(root: &Path) -> Result<Maildir> {
        if !root.is_dir() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(root)
                .ctx("mkdir", root)?;
            // As root, hand the new Maildir to the owner of its parent
            // (the user's home), so the mail user can use it.
            if let Some(parent) = root.parent() {
                if let Ok(parent_perms) = Perms::of_dir(parent) {
                    parent_perms.apply_path(root)?;
                }
            }
        }
        let perms = Perms::of_dir(root)?;
        for sub in ["cur", "new", "tmp"] {
            fsutil::mkdir(&root.join(sub), &perms, true)?;
        }
        Ok(Maildir {
            root: root.to_path_buf(),
        })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// INBOX (the root itself).
    pub fn inbox(&self) -> Mailbox {
        Mailbox::at(&self.root, &self.root, "INBOX")
    }

    /// The directory name of a folder: `Archive/2024` -> `.Archive.2024`,
    /// levels in modified UTF-7.
    pub fn dir_name(name: &str) -> Result<String> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Err(Error::FolderName {
                name: name.into(),
                reason: "INBOX is the Maildir root",
            });
        }
        let mut out = String::new();
        for c in name.split(SEPARATOR) {
            validate_component(name, c)?;
            out.push(STORAGE_SEPARATOR);
            out.push_str(&mutf7::encode(c));
        }
        if out.len() > 255 {
            return Err(Error::FolderName {
                name: name.into(),
                reason: "too long for a directory name",
            });
        }
        Ok(out)
    }

    /// The folder name for a directory name (`.Entw&APw-rfe` -> `Entwürfe`).
    pub fn name_of_dir(dir_name: &str) -> Result<String> {
        let storage = dir_name
            .strip_prefix(STORAGE_SEPARATOR)
            .ok_or(Error::FolderName {
                name: dir_name.into(),
                reason: "Maildir++ folders start with '.'",
            })?;
        let mut parts = Vec::new();
        for c in storage.split(STORAGE_SEPARATOR) {
            if c.is_empty() {
                return Err(Error::FolderName {
                    name: dir_name.into(),
                    reason: "empty hierarchy level",
                });
            }
            parts.push(mutf7::decode(c)?);
        }
        Ok(parts.join(&SEPARATOR.to_string()))
    }

    /// A folder (or INBOX); it must exist.
    pub fn folder(&self, name: &str) -> Result<Mailbox> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Ok(self.inbox());
        }
        let dir = self.root.join(Maildir::dir_name(name)?);
        if !dir.is_dir() {
            return Err(Error::NoSuchFolder(name.to_string()));
        }
        Ok(Mailbox::at(&dir, &self.root, name))
    }

    /// All folders: INBOX first, then the `.Name` directories in name order.
    /// Directories whose names do not decode are left out.
    pub fn folders(&self) -> Result<Vec<FolderEntry>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.root).ctx("readdir", &self.root)? {
            let entry = entry.ctx("readdir", &self.root)?;
            let Some(dir_name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !dir_name.starts_with('.') || dir_name.starts_with("..") || dir_name == "." {
                continue;
            }
            if !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            if let Ok(name) = Maildir::name_of_dir(&dir_name) {
                out.push(FolderEntry {
                    name,
                    dir_name,
                    selectable: true,
                });
            }
        }
        let existing: std::collections::HashSet<String> =
            out.iter().map(|f| f.name.clone()).collect();
        let mut implied = std::collections::BTreeSet::new();
        for f in &out {
            let mut prefix = f.name.as_str();
            while let Some(i) = prefix.rfind(SEPARATOR) {
                prefix = &prefix[..i];
                if !existing.contains(prefix) {
                    implied.insert(prefix.to_string());
                }
            }
        }
        out.extend(implied.into_iter().map(|name| FolderEntry {
            name,
            dir_name: String::new(),
            selectable: false,
        }));
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.insert(
            0,
            FolderEntry {
                name: "INBOX".into(),
                dir_name: String::new(),
                selectable: true,
            },
        );
        Ok(out)
    }

    /// Creates a folder: its directory, `cur/`, `new/`, `tmp/` and
    /// `maildirfolder`, with permissions taken from the root.
    pub fn create_folder(&self, name: &str) -> Result<Mailbox> {
        let dir_name = Maildir::dir_name(name)?;
        let dir = self.root.join(&dir_name);
        let perms = Perms::of_dir(&self.root)?;
        match fsutil::mkdir(&dir, &perms, false) {
            Ok(()) => {}
            Err(e) if e.io_kind() == Some(std::io::ErrorKind::AlreadyExists) => {
                return Err(Error::FolderExists(name.to_string()))
            }
            Err(e) => return Err(e),
        }
        for sub in ["cur", "new", "tmp"] {
            fsutil::mkdir(&dir.join(sub), &perms, true)?;
        }
        let marker = dir.join("maildirfolder");
        match fsutil::create_new(&marker, &perms) {
            Ok(_) => {}
            Err(e) if e.io_kind() == Some(std::io::ErrorKind::AlreadyExists) => {}
            Err(e) => return Err(e),
        }
        fsutil::fsync_dir(&self.root)?;
        Ok(Mailbox::at(&dir, &self.root, name))
    }

    /// Renames a folder together with its children (`A` -> `B` also moves
    /// `A/x` to `B/x`). Fails if any target exists.
    pub fn rename_folder(&self, old: &str, new: &str) -> Result<()> {
        let old_dir = Maildir::dir_name(old)?;
        let new_dir = Maildir::dir_name(new)?;
        let child_prefix = format!("{old_dir}{STORAGE_SEPARATOR}");
        let mut moves = Vec::new();
        for entry in std::fs::read_dir(&self.root).ctx("readdir", &self.root)? {
            let entry = entry.ctx("readdir", &self.root)?;
            let Some(n) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if n == old_dir {
                moves.push((n, new_dir.clone()));
            } else if let Some(rest) = n.strip_prefix(&child_prefix) {
                moves.push((n.clone(), format!("{new_dir}{STORAGE_SEPARATOR}{rest}")));
            }
        }
        if moves.is_empty() {
            return Err(Error::NoSuchFolder(old.to_string()));
        }
        if new_dir.starts_with(&child_prefix) {
            return Err(Error::FolderName {
                name: new.into(),
                reason: "cannot move a folder into itself",
            });
        }
        for (_, to) in &moves {
            if self.root.join(to).exists() {
                return Err(Error::FolderExists(
                    Maildir::name_of_dir(to).unwrap_or_else(|_| to.clone()),
                ));
            }
        }
        // Parent first: its name is the shortest.
        moves.sort_by_key(|(from, _)| from.len());
        for (from, to) in &moves {
            std::fs::rename(self.root.join(from), self.root.join(to))
                .ctx("rename", &self.root.join(from))?;
        }
        fsutil::fsync_dir(&self.root)
    }

    /// Deletes a folder (not its children, which stay as folders of their
    /// own): renamed to `..DOVECOT-TRASHED` first, then removed.
    pub fn delete_folder(&self, name: &str) -> Result<()> {
        let dir_name = Maildir::dir_name(name)?;
        let dir = self.root.join(&dir_name);
        if !dir.is_dir() {
            return Err(Error::NoSuchFolder(name.to_string()));
        }
        let trash = self.root.join(TRASHED_NAME);
        if trash.exists() {
            std::fs::remove_dir_all(&trash).ctx("rmdir", &trash)?;
        }
        std::fs::rename(&dir, &trash).ctx("rename", &dir)?;
        std::fs::remove_dir_all(&trash).ctx("rmdir", &trash)
    }

    /// The subscriptions file of this root.
    pub fn subscriptions_file(&self) -> SubscriptionsFile {
        SubscriptionsFile::new(&self.root)
    }

    /// Subscribed folder names (UTF-8, `/`-separated; `INBOX` as is).
    /// Entries that do not decode are left out.
    pub fn subscribed(&self) -> Result<Vec<String>> {
        let subs = self.subscriptions_file().read()?;
        Ok(subs
            .names
            .iter()
            .filter_map(|parts| {
                parts
                    .iter()
                    .map(|p| mutf7::decode(p))
                    .collect::<Result<Vec<_>>>()
                    .ok()
                    .map(|v| v.join(&SEPARATOR.to_string()))
            })
            .collect())
    }

    fn storage_parts(name: &str) -> Result<Vec<String>> {
        if name.eq_ignore_ascii_case("INBOX") {
            return Ok(vec!["INBOX".into()]);
        }
        name.split(SEPARATOR)
            .map(|c| validate_component(name, c).map(|()| mutf7::encode(c)))
            .collect()
    }

    /// Subscribes to a folder (it need not exist).
    pub fn subscribe(&self, name: &str) -> Result<()> {
        let parts = Maildir::storage_parts(name)?;
        self.subscriptions_file().update(|s: &mut Subscriptions| {
            if !s.contains(&parts) {
                s.names.push(parts);
            }
        })?;
        Ok(())
    }

    /// Removes a subscription.
    pub fn unsubscribe(&self, name: &str) -> Result<()> {
        let parts = Maildir::storage_parts(name)?;
        self.subscriptions_file()
            .update(|s: &mut Subscriptions| s.names.retain(|n| *n != parts))?;
        Ok(())
    }

    /// Allocates a fresh UIDVALIDITY from `dovecot-uidvalidity`.
    pub fn allocate_uid_validity(&self) -> Result<u32> {
        crate::uidvalidity::allocate(&self.root)
    }
}
