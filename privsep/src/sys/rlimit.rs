//! setrlimit(2): resource limits apply to the whole process.

use std::io;

use super::check;

/// Sets soft and hard limit of `resource` (one of `libc::RLIMIT_*`).
pub(crate) fn set_rlimit(resource: libc::c_int, soft: u64, hard: u64) -> io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: soft as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: `limit` is a live, initialised rlimit; the resource constant is
    // cast to the type this libc's prototype uses.
    check(unsafe { libc::setrlimit(resource as _, &limit) }).map(drop)
}

/// Soft and hard limit of `resource`.
// `rlim_t` is not `u64` on every target.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn rlimit(resource: libc::c_int) -> io::Result<(u64, u64)> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a live, writable rlimit.
    check(unsafe { libc::getrlimit(resource as _, &mut limit) })?;
    Ok((limit.rlim_cur as u64, limit.rlim_max as u64))
}
