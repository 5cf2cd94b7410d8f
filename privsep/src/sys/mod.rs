//! The thin layer that calls the OS. Everything `unsafe` in the crate lives
//! here, one small function per system call, each block with its reason.
//!
//! Functions return `io::Result` and know nothing of recipes or records.
#![allow(unsafe_code)]

pub(crate) mod creds;
pub(crate) mod fds;
pub(crate) mod prctl;
pub(crate) mod rlimit;
pub(crate) mod socket;

use std::io;

/// Turns a C-style `-1 on error` return into an `io::Result`.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Same as [`check`] for `syscall(2)`, which returns a `c_long`.
fn check_long(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}
