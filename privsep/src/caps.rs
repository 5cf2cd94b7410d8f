//! Capabilities: the bounding set, then the thread's own sets.

use crate::sys::prctl;
use crate::PrivsepError;

/// Highest capability number the kernel may know (`CAP_LAST_CAP` is 40 in
/// Linux 6.x); the loop stops earlier at the first number the kernel rejects.
const CAP_SEARCH_LIMIT: u32 = 63;

/// Outcome of dropping the bounding set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundingSetDrop {
    /// Every capability up to `last_cap` is out of the bounding set.
    Dropped {
        /// Highest capability number the kernel knows.
        last_cap: u32,
    },
    /// The process lacks `CAP_SETPCAP` and the bounding set was not full of
    /// nothing already; `remaining` is the bitmask still in it.
    NotPermitted {
        /// Capabilities still in the bounding set.
        remaining: u64,
    },
}

/// Removes every capability from the bounding set, so that no execve can
/// ever grant one again. Needs `CAP_SETPCAP`, so it runs before setuid.
pub fn drop_bounding_set() -> Result<BoundingSetDrop, PrivsepError> {
    let mut last_cap = 0;
    let mut remaining = 0u64;
    let mut not_permitted = false;
    for cap in 0..=CAP_SEARCH_LIMIT {
        let present = match prctl::bounding_set_has(cap) {
            Ok(Some(present)) => present,
            Ok(None) => break,
            Err(e) => {
                return Err(PrivsepError::os(
                    format!("prctl(PR_CAPBSET_READ, {cap})"),
                    e,
                ))
            }
        };
        last_cap = cap;
        if !present {
            continue;
        }
        match prctl::bounding_set_drop(cap) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                not_permitted = true;
                remaining |= 1 << cap;
            }
            Err(e) => {
                return Err(PrivsepError::os(
                    format!("prctl(PR_CAPBSET_DROP, {cap})"),
                    e,
                ))
            }
        }
    }
    if not_permitted {
        Ok(BoundingSetDrop::NotPermitted { remaining })
    } else {
        Ok(BoundingSetDrop::Dropped { last_cap })
    }
}

/// Empties the ambient, effective, permitted and inheritable sets of this
/// thread, then checks they are empty. Lowering is always allowed.
pub fn clear_capabilities() -> Result<(), PrivsepError> {
    // Ambient capabilities need kernel 4.3; EINVAL means there are none.
    match prctl::ambient_clear_all() {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
        Err(e) => return Err(PrivsepError::os("prctl(PR_CAP_AMBIENT_CLEAR_ALL)", e)),
    }
    prctl::clear_capabilities().map_err(|e| PrivsepError::os("capset", e))?;
    let (effective, permitted, inheritable) =
        prctl::capabilities().map_err(|e| PrivsepError::os("capget", e))?;
    if effective | permitted | inheritable != 0 {
        return Err(PrivsepError::VerifyFailed {
            what: "capabilities (effective, permitted, inheritable)",
            expected: "0 0 0".into(),
            actual: format!("{effective:#x} {permitted:#x} {inheritable:#x}"),
        });
    }
    Ok(())
}

/// The effective capability set of this thread, as a bitmask.
pub fn effective_capabilities() -> Result<u64, PrivsepError> {
    prctl::capabilities()
        .map(|(effective, _, _)| effective)
        .map_err(|e| PrivsepError::os("capget", e))
}
