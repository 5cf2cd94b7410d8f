//! Entries of `new/` and `cur/` that a listing cannot take as they are:
//! names that are no message ([`SkippedFile`]) and messages whose file
//! cannot be read ([`UnreadableFile`]).
//!
//! Neither fails a listing, as neither fails Dovecot's sync: one bad entry
//! must not hide the rest of the mailbox. What Dovecot 2.3 does with each,
//! and what this crate does instead where it differs:
//!
//! * a name with CR or LF: Dovecot ignores it with a warning; skipped here;
//! * a name that is not UTF-8: Dovecot numbers it as any other; here it is
//!   skipped (names are UTF-8 strings) and gets no UID, but the UID Dovecot
//!   gave it is kept in the uidlist while the file is there and reported in
//!   [`Listing::undecodable_uids`](crate::Listing::undecodable_uids), so
//!   that the message is not taken for expunged;
//! * a directory: Dovecot gives it a UID, then on first access `rmdir()`s it
//!   (or renames it to `extra-<name>` beside `cur/` when not empty) and
//!   expunges it; here it is skipped and left alone;
//! * a file it may not read (mode 000), a dangling symlink: Dovecot lists
//!   it with a UID and its flags and fails (or answers `NIL`) only when the
//!   message body is needed; so does this crate, and reports the file in
//!   [`Listing::unreadable`](crate::Listing::unreadable) when the listing
//!   itself had to read it (its name carries no `S=`/`W=` sizes).

use std::fmt;

/// Why a directory entry is not listed as a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipKind {
    /// The name cannot be a Maildir message name (CR, LF, empty base, ...).
    InvalidName,
    /// The name is not UTF-8.
    NotUtf8,
    /// The entry is a directory, FIFO, socket or device, not a file.
    NotAFile,
}

/// A directory entry that is not listed as a message, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedFile {
    /// The entry's name (lossy UTF-8), with `new/` or `cur/`.
    pub name: String,
    /// What kind of problem it is.
    pub kind: SkipKind,
    /// Why it was skipped, in words.
    pub reason: String,
}

/// Why a message's file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileProblem {
    /// The file's permissions keep this process out (`EACCES`, `EPERM`).
    PermissionDenied,
    /// The file is a symbolic link whose target does not exist.
    DanglingSymlink,
    /// The name leads to a directory, FIFO, socket or device.
    NotARegularFile,
    /// Another I/O error.
    Io {
        /// The error's kind.
        kind: std::io::ErrorKind,
        /// The system's message.
        message: String,
    },
}

impl FileProblem {
    /// The problem an I/O error on a message file shows (`NotFound` is
    /// not one: the caller decides whether the file vanished).
    pub(crate) fn of(e: &std::io::Error) -> FileProblem {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::PermissionDenied => FileProblem::PermissionDenied,
            K::IsADirectory => FileProblem::NotARegularFile,
            kind => FileProblem::Io {
                kind,
                message: e.to_string(),
            },
        }
    }
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileProblem::PermissionDenied => f.write_str("permission denied"),
            FileProblem::DanglingSymlink => f.write_str("symlink destination doesn't exist"),
            FileProblem::NotARegularFile => f.write_str("not a regular file"),
            FileProblem::Io { message, .. } => f.write_str(message),
        }
    }
}

/// A message listed with its UID and flags although its file could not be
/// read: its unknown sizes are 0 in the listing, and reading its body
/// fails until the file is repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableFile {
    /// The file's name, with `new/` or `cur/`.
    pub name: String,
    /// The message's UID, when it has one yet.
    pub uid: Option<u32>,
    /// What is wrong with the file.
    pub problem: FileProblem,
}

impl fmt::Display for UnreadableFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.uid {
            Some(uid) => write!(f, "{} (UID {uid}): {}", self.name, self.problem),
            None => write!(f, "{}: {}", self.name, self.problem),
        }
    }
}

impl fmt::Display for SkippedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.reason)
    }
}
