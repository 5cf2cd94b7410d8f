//! Closing inherited descriptors.

use std::io;
use std::os::fd::RawFd;

use super::check_long;

/// Closes every descriptor in `first..=last` with close_range(2).
pub(crate) fn close_range(first: u32, last: u32) -> io::Result<()> {
    // SAFETY: integer arguments only. Closing descriptors other objects own
    // is the caller's documented contract (see `fds::close_inherited_fds`).
    check_long(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) })
        .map(drop)
}

/// Closes one descriptor, ignoring whether it was open.
pub(crate) fn close(fd: RawFd) {
    // SAFETY: integer argument; see `close_range` for the ownership contract.
    // EBADF (not open) is the expected outcome for gaps and is ignored.
    unsafe { libc::close(fd) };
}
