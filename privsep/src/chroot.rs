//! chroot(2) followed by chdir, so no directory outside stays reachable.

use std::path::Path;

use crate::PrivsepError;

/// Changes the root directory to `root` (needs `CAP_SYS_CHROOT`), then
/// changes the working directory to `dir_inside` (an absolute path inside the
/// new root, `/` when none), so the old working directory cannot be used to
/// escape.
pub fn chroot_and_chdir(root: &Path, dir_inside: Option<&Path>) -> Result<(), PrivsepError> {
    std::os::unix::fs::chroot(root)
        .map_err(|e| PrivsepError::os(format!("chroot {}", root.display()), e))?;
    let dir = dir_inside.unwrap_or(Path::new("/"));
    std::env::set_current_dir(dir)
        .map_err(|e| PrivsepError::os(format!("chdir {} inside the chroot", dir.display()), e))
}
