//! The crate's one error type.

use std::io;

/// Everything that can go wrong while dropping privileges or passing
/// descriptors.
///
/// Every variant says which step or which byte was at fault, so a log line
/// built from it is enough to find the cause.
#[derive(Debug, thiserror::Error)]
pub enum PrivsepError {
    /// A system call failed.
    #[error("{step}: {source}")]
    Os {
        /// What was being done (`"setresuid"`, `"chroot /var/empty"`, ...).
        step: String,
        /// The error the kernel or the C library returned.
        #[source]
        source: io::Error,
    },
    /// A user name is not in the user database.
    #[error("user {name:?} not found in the user database")]
    UnknownUser {
        /// The name that was looked up.
        name: String,
    },
    /// The requested uid is not allowed for this kind of process.
    #[error("refusing to run as uid {uid}: {reason}")]
    RefusedUid {
        /// The uid that was asked for.
        uid: u32,
        /// Why it is refused.
        reason: String,
    },
    /// The requested gid is not allowed for this kind of process.
    #[error("refusing to run as gid {gid}: {reason}")]
    RefusedGid {
        /// The gid that was asked for.
        gid: u32,
        /// Why it is refused.
        reason: String,
    },
    /// A step needs root (or a capability) this process does not have, and
    /// cannot be skipped because the process would end up with the wrong ids.
    #[error("{step} needs root: running as euid {euid}")]
    NeedsRoot {
        /// The step that could not run.
        step: &'static str,
        /// The effective uid of the process.
        euid: u32,
    },
    /// After a drop, an id is not what was asked for.
    #[error("after the drop {what} is {actual}, expected {expected}")]
    VerifyFailed {
        /// Which id (`"uid (real, effective, saved)"`, `"groups"`, ...).
        what: &'static str,
        /// What was asked for.
        expected: String,
        /// What the process has.
        actual: String,
    },
    /// After a drop, the process could become root again.
    #[error("root could be regained after the drop: {how} succeeded")]
    RootRegained {
        /// The call that should have failed.
        how: &'static str,
    },
    /// Per-thread attributes (capabilities, no_new_privs) cannot be applied to
    /// a process that already runs several threads.
    #[error("the process runs {threads} threads; apply privilege separation before starting any")]
    MultiThreaded {
        /// The number of threads found in `/proc/self/status`.
        threads: usize,
    },
    /// A configuration value is out of range.
    #[error("invalid setting {what}: {reason}")]
    InvalidSetting {
        /// The setting.
        what: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The seccomp filter is not available for this CPU architecture.
    #[error("seccomp filter: unsupported architecture {arch}")]
    UnsupportedArch {
        /// The architecture the crate was built for.
        arch: &'static str,
    },
    /// A descriptor-passing frame is malformed.
    #[error("bad frame at byte {offset}: {reason}")]
    BadFrame {
        /// Offset of the offending byte from the start of the frame.
        offset: usize,
        /// What is wrong there.
        reason: String,
    },
    /// The peer closed the socket in the middle of a frame.
    #[error("peer closed the socket at byte {offset} of a frame (expected {expected} bytes)")]
    TruncatedFrame {
        /// Bytes of the frame received before end of file.
        offset: usize,
        /// Bytes the frame should have had.
        expected: usize,
    },
    /// A frame arrived with a different number of descriptors than it announced.
    #[error("frame announced {announced} descriptors but {received} arrived")]
    FdCountMismatch {
        /// The count in the frame header.
        announced: usize,
        /// The count that arrived as `SCM_RIGHTS`.
        received: usize,
    },
    /// The kernel truncated the control message (`MSG_CTRUNC`): the peer sent
    /// more descriptors than the receiver accepts.
    #[error("control data truncated: peer sent more than {max} descriptors")]
    ControlTruncated {
        /// The most descriptors this receiver accepts.
        max: usize,
    },
    /// The socket's peer is not who the policy expects.
    #[error("peer rejected: {field} is {actual}, policy allows {expected}")]
    PeerRejected {
        /// `"uid"`, `"gid"` or `"pid"`.
        field: &'static str,
        /// What the policy allows.
        expected: String,
        /// What `SO_PEERCRED` reported.
        actual: String,
    },
}

impl PrivsepError {
    /// Wraps an OS error with the step that failed.
    pub(crate) fn os(step: impl Into<String>, source: io::Error) -> Self {
        PrivsepError::Os {
            step: step.into(),
            source,
        }
    }

    /// The OS error number, when this error is a failed system call.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            PrivsepError::Os { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
