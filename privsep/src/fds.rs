//! Closing every inherited descriptor except the ones named.

use std::os::fd::RawFd;

use crate::sys;
use crate::PrivsepError;

/// Closes every open descriptor except those in `keep`.
///
/// Uses close_range(2), or on kernels without it, the list in
/// `/proc/self/fd`. Call it early, before the process opens descriptors it
/// means to keep (a `File` or socket opened earlier and not named in `keep`
/// is closed under its owner's feet), and before chroot (the fallback needs
/// `/proc`).
pub fn close_inherited_fds(keep: &[RawFd]) -> Result<(), PrivsepError> {
    let mut keep: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .collect();
    keep.sort_unstable();
    keep.dedup();
    match close_gaps(&keep) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => close_listed(&keep),
        Err(e) => Err(PrivsepError::os("close_range", e)),
    }
}

/// Closes the ranges between the sorted descriptors in `keep`.
fn close_gaps(keep: &[u32]) -> std::io::Result<()> {
    let mut next = 0u32;
    for &fd in keep {
        if fd > next {
            sys::fds::close_range(next, fd - 1)?;
        }
        next = fd.saturating_add(1);
    }
    // Kept descriptors are non-negative `RawFd`s, so `next` is at most 2^31.
    sys::fds::close_range(next, u32::MAX)
}

/// Fallback: closes what `/proc/self/fd` lists.
fn close_listed(keep: &[u32]) -> Result<(), PrivsepError> {
    let dir = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| PrivsepError::os("read /proc/self/fd", e))?;
    // Collect first: the directory's own descriptor is in the listing.
    let open: Vec<u32> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if !keep.contains(&fd) {
            if let Ok(fd) = RawFd::try_from(fd) {
                sys::fds::close(fd);
            }
        }
    }
    Ok(())
}

/// The descriptors open in this process (from `/proc/self/fd`).
pub fn open_fds() -> Result<Vec<RawFd>, PrivsepError> {
    let dir = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| PrivsepError::os("read /proc/self/fd", e))?;
    let mut fds: Vec<RawFd> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    Ok(fds)
}
