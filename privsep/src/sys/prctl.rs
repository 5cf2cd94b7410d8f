//! prctl(2), capset(2) and seccomp(2): process attributes.
//!
//! no_new_privs, the capability sets and the bounding set are per-thread
//! attributes (inherited by threads created later); the recipes refuse to run
//! in a process that already has several threads. The seccomp filter is
//! installed with `SECCOMP_FILTER_FLAG_TSYNC`, so it covers every thread.

use std::io;

use super::{check, check_long};

fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> io::Result<libc::c_int> {
    let zero: libc::c_ulong = 0;
    // SAFETY: every option used by this module takes integer arguments only;
    // the unused trailing arguments are passed as 0 as the kernel requires.
    check(unsafe { libc::prctl(option, arg2, zero, zero, zero) })
}

/// Sets `PR_SET_NO_NEW_PRIVS`: execve can no longer grant privileges
/// (setuid/setgid bits and file capabilities are ignored). Irreversible.
pub(crate) fn set_no_new_privs() -> io::Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1).map(drop)
}

/// Whether no_new_privs is set.
pub(crate) fn no_new_privs() -> io::Result<bool> {
    prctl(libc::PR_GET_NO_NEW_PRIVS, 0).map(|v| v == 1)
}

/// Sets the dumpable flag (core dumps, ptrace by the same uid, /proc ownership).
pub(crate) fn set_dumpable(dumpable: bool) -> io::Result<()> {
    prctl(libc::PR_SET_DUMPABLE, libc::c_ulong::from(dumpable)).map(drop)
}

/// Whether capability `cap` is in the bounding set; `Ok(None)` when the kernel
/// does not know `cap` (one past the last capability).
pub(crate) fn bounding_set_has(cap: u32) -> io::Result<Option<bool>> {
    match prctl(libc::PR_CAPBSET_READ, libc::c_ulong::from(cap)) {
        Ok(v) => Ok(Some(v == 1)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Drops capability `cap` from the bounding set (needs `CAP_SETPCAP`).
pub(crate) fn bounding_set_drop(cap: u32) -> io::Result<()> {
    prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap)).map(drop)
}

/// Clears the ambient capability set.
pub(crate) fn ambient_clear_all() -> io::Result<()> {
    let zero: libc::c_ulong = 0;
    // SAFETY: integer arguments only, unused ones 0.
    check(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            zero,
            zero,
            zero,
        )
    })
    .map(drop)
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit capability sets in two 32-bit words.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Empties the effective, permitted and inheritable sets of the calling
/// thread (always allowed: it only lowers).
pub(crate) fn clear_capabilities() -> io::Result<()> {
    let header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData::default(); 2];
    // SAFETY: `header` and `data` are live and laid out as the kernel's
    // `__user_cap_header_struct` and two `__user_cap_data_struct` (version 3).
    check_long(unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) }).map(drop)
}

/// The capability sets of the calling thread as (effective, permitted, inheritable).
pub(crate) fn capabilities() -> io::Result<(u64, u64, u64)> {
    let header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: as for capset; `data` is writable room for two entries.
    check_long(unsafe { libc::syscall(libc::SYS_capget, &header, data.as_mut_ptr()) })?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
        join(data[0].inheritable, data[1].inheritable),
    ))
}

/// Installs a seccomp BPF filter on every thread of the process.
///
/// no_new_privs must be set first (or the caller must hold `CAP_SYS_ADMIN`).
pub(crate) fn install_seccomp_filter(program: &[libc::sock_filter]) -> io::Result<()> {
    let len = libc::c_ushort::try_from(program.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let fprog = libc::sock_fprog {
        len,
        // The kernel only reads the program; the field is `*mut` in the C header.
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points to `len` valid instructions that outlive the
    // call (the kernel copies them). The return value is 0 or -1 with
    // TSYNC when no thread fails to synchronise; a positive value is the id
    // of a thread that could not be synchronised, reported as an error below.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_TSYNC,
            &fprog,
        )
    };
    match check_long(ret)? {
        0 => Ok(()),
        tid => Err(io::Error::other(format!(
            "thread {tid} could not be synchronised to the filter"
        ))),
    }
}
