//! Who owns mail files in interop tests.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The uid and gid that mail files belong to in a test.
///
/// Dovecot refuses mail access as uid 0, so a test running as root uses
/// uid/gid 5000 (as the fixtures were written); otherwise the current ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailOwner {
    /// Numeric user id.
    pub uid: u32,
    /// Numeric group id.
    pub gid: u32,
}

impl MailOwner {
    /// The owner to use in this process's tests.
    pub fn for_tests() -> MailOwner {
        let me = std::fs::metadata("/proc/self").expect("reading /proc/self");
        if me.uid() == 0 {
            MailOwner {
                uid: 5000,
                gid: 5000,
            }
        } else {
            MailOwner {
                uid: me.uid(),
                gid: me.gid(),
            }
        }
    }

    /// True when the test process runs as root and files must be handed over.
    pub fn needs_chown(&self) -> bool {
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() != self.uid)
    }

    /// Sets uid and gid on a command so the child runs as the mail owner
    /// (only when this process is root; otherwise it already is the owner).
    pub fn apply(&self, command: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        if self.needs_chown() {
            command.uid(self.uid).gid(self.gid);
        }
    }
}

/// Gives `path` and everything below it to `owner` (a no-op when not root).
pub fn chown_tree(path: &Path, owner: MailOwner) -> io::Result<()> {
    if !owner.needs_chown() {
        return Ok(());
    }
    std::os::unix::fs::lchown(path, Some(owner.uid), Some(owner.gid))?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), owner)?;
        }
    }
    Ok(())
}
