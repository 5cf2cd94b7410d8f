//! [`maildir_entries`]: what is in a Maildir's `cur/` and `new/`, for
//! tests that check nothing was renamed, removed or changed in mode.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Every entry of `cur/` and `new/` of `maildir`, sorted: its name with
/// `cur/` or `new/`, its file type (as `Debug` prints it, symlinks not
/// followed) and its permission bits.
pub fn maildir_entries(maildir: &Path) -> Vec<(String, String, u32)> {
    let mut v = Vec::new();
    for sub in ["cur", "new"] {
        for e in std::fs::read_dir(maildir.join(sub)).unwrap() {
            let e = e.unwrap();
            let m = std::fs::symlink_metadata(e.path()).unwrap();
            v.push((
                format!("{sub}/{}", e.file_name().to_string_lossy()),
                format!("{:?}", m.file_type()),
                m.permissions().mode() & 0o7777,
            ));
        }
    }
    v.sort();
    v
}
