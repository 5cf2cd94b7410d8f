//! User and group ids: the glibc wrappers, which apply a change to every
//! thread of the process (glibc broadcasts set*id calls to all threads; the
//! raw system calls would change only the calling thread).

use std::ffi::{CStr, CString};
use std::io;

use super::check;

/// One entry of the user database, as much as privilege separation needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PasswdEntry {
    pub(crate) name: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) home: String,
    pub(crate) shell: String,
}

/// Largest buffer `getpwnam_r` is given before the lookup is abandoned.
const MAX_PW_BUFFER: usize = 1 << 20;

/// Looks `name` up in the user database (NSS: /etc/passwd and friends).
pub(crate) fn lookup_user(name: &str) -> io::Result<Option<PasswdEntry>> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut size = 16 * 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; size];
        // SAFETY: `passwd` is plain old data; an all-zero value is a valid
        // (if meaningless) instance, and getpwnam_r overwrites it.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call: `cname` is a
        // NUL-terminated string, `pwd` and `result` are live locals, and `buf`
        // is `buf.len()` writable bytes that outlive the use of `pwd` below.
        let ret = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if ret == libc::ERANGE && size < MAX_PW_BUFFER {
            size *= 4;
            continue;
        }
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        if result.is_null() {
            return Ok(None);
        }
        // SAFETY: on success the string fields point into `buf` (still alive)
        // and are NUL-terminated, or are null, which `c_string` handles.
        let (name, home, shell) = unsafe {
            (
                c_string(pwd.pw_name),
                c_string(pwd.pw_dir),
                c_string(pwd.pw_shell),
            )
        };
        return Ok(Some(PasswdEntry {
            name,
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            home,
            shell,
        }));
    }
}

/// Copies a C string into a Rust string (lossily; empty for null).
///
/// # Safety
/// `ptr` is null or points to a NUL-terminated string.
unsafe fn c_string(ptr: *const libc::c_char) -> String {
    if ptr.is_null() {
        String::new()
    } else {
        // SAFETY: the caller guarantees a NUL-terminated string.
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    }
}

/// The groups `name` belongs to in the group database, `gid` included
/// (what `initgroups(3)` would set).
pub(crate) fn group_list(name: &str, gid: u32) -> io::Result<Vec<u32>> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    for _ in 0..8 {
        let mut count = libc::c_int::try_from(groups.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `groups` has room for `count` gids, and getgrouplist writes
        // at most `count` of them, storing the real number in `count`.
        let ret =
            unsafe { libc::getgrouplist(cname.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        let count = usize::try_from(count).unwrap_or(0);
        if ret >= 0 {
            groups.truncate(count);
            return Ok(groups);
        }
        // Too small: `count` holds the size needed.
        let wanted = count.max(groups.len() * 2).min(65_536);
        groups.resize(wanted, 0);
    }
    Err(io::Error::other("getgrouplist: group list keeps growing"))
}

/// Sets the supplementary groups of every thread.
pub(crate) fn set_groups(groups: &[u32]) -> io::Result<()> {
    // SAFETY: the pointer and length describe the live slice `groups`.
    check(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) }).map(drop)
}

/// Sets real, effective and saved gid of every thread.
pub(crate) fn set_res_gid(gid: u32) -> io::Result<()> {
    // SAFETY: plain integer arguments.
    check(unsafe { libc::setresgid(gid, gid, gid) }).map(drop)
}

/// Sets real, effective and saved uid of every thread.
pub(crate) fn set_res_uid(uid: u32) -> io::Result<()> {
    // SAFETY: plain integer arguments.
    check(unsafe { libc::setresuid(uid, uid, uid) }).map(drop)
}

/// `setuid(uid)`, used to prove that root cannot be regained.
pub(crate) fn set_uid(uid: u32) -> io::Result<()> {
    // SAFETY: plain integer argument.
    check(unsafe { libc::setuid(uid) }).map(drop)
}

/// `setgid(gid)`, used to prove that gid 0 cannot be regained.
pub(crate) fn set_gid(gid: u32) -> io::Result<()> {
    // SAFETY: plain integer argument.
    check(unsafe { libc::setgid(gid) }).map(drop)
}

/// Real, effective and saved uid.
pub(crate) fn res_uid() -> io::Result<[u32; 3]> {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: the three pointers are live, writable locals.
    check(unsafe { libc::getresuid(&mut r, &mut e, &mut s) })?;
    Ok([r, e, s])
}

/// Real, effective and saved gid.
pub(crate) fn res_gid() -> io::Result<[u32; 3]> {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: the three pointers are live, writable locals.
    check(unsafe { libc::getresgid(&mut r, &mut e, &mut s) })?;
    Ok([r, e, s])
}

/// The supplementary groups of the calling thread.
pub(crate) fn groups() -> io::Result<Vec<u32>> {
    // SAFETY: a size of 0 with a null pointer only asks for the count.
    let n = check(unsafe { libc::getgroups(0, std::ptr::null_mut()) })?;
    let mut list: Vec<libc::gid_t> = vec![0; usize::try_from(n).unwrap_or(0)];
    // SAFETY: `list` has room for `n` gids.
    let n = check(unsafe { libc::getgroups(n, list.as_mut_ptr()) })?;
    list.truncate(usize::try_from(n).unwrap_or(0));
    Ok(list)
}

/// The effective uid.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and takes no arguments.
    unsafe { libc::geteuid() }
}
