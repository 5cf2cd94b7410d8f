//! The peer's credentials (`SO_PEERCRED`) and the policy checked against them.

use std::fmt;
use std::os::fd::AsFd;

use crate::sys::socket;
use crate::PrivsepError;

/// Who is at the other end of a Unix socket, as the kernel recorded it when
/// the socket was connected (or the pair created).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// Process id.
    pub pid: i32,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
}

impl fmt::Display for PeerCred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} uid {} gid {}", self.pid, self.uid, self.gid)
    }
}

/// The credentials of `sock`'s peer.
pub fn peer_credentials(sock: impl AsFd) -> Result<PeerCred, PrivsepError> {
    let raw = socket::peer_cred(sock.as_fd()).map_err(|e| PrivsepError::os("SO_PEERCRED", e))?;
    Ok(PeerCred {
        pid: raw.pid,
        uid: raw.uid,
        gid: raw.gid,
    })
}

/// Which peers a channel accepts. Each set field must match; an unset field
/// accepts anything. [`PeerPolicy::any`] accepts every peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerPolicy {
    uids: Option<Vec<u32>>,
    gid: Option<u32>,
    pid: Option<i32>,
}

impl PeerPolicy {
    /// Accepts any peer (the caller checks [`PeerCred`] itself).
    pub fn any() -> Self {
        PeerPolicy::default()
    }

    /// Accepts only peers running as `uid`.
    pub fn uid(uid: u32) -> Self {
        PeerPolicy::default().or_uid(uid)
    }

    /// Also accepts peers running as `uid`.
    pub fn or_uid(mut self, uid: u32) -> Self {
        self.uids.get_or_insert_with(Vec::new).push(uid);
        self
    }

    /// Requires the peer's gid to be `gid`.
    pub fn with_gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }

    /// Requires the peer to be process `pid`.
    pub fn with_pid(mut self, pid: i32) -> Self {
        self.pid = Some(pid);
        self
    }

    /// Checks `cred` against the policy.
    pub fn check(&self, cred: &PeerCred) -> Result<(), PrivsepError> {
        if let Some(uids) = &self.uids {
            if !uids.contains(&cred.uid) {
                return Err(PrivsepError::PeerRejected {
                    field: "uid",
                    expected: format!("{uids:?}"),
                    actual: cred.uid.to_string(),
                });
            }
        }
        if let Some(gid) = self.gid {
            if cred.gid != gid {
                return Err(PrivsepError::PeerRejected {
                    field: "gid",
                    expected: gid.to_string(),
                    actual: cred.gid.to_string(),
                });
            }
        }
        if let Some(pid) = self.pid {
            if cred.pid != pid {
                return Err(PrivsepError::PeerRejected {
                    field: "pid",
                    expected: pid.to_string(),
                    actual: cred.pid.to_string(),
                });
            }
        }
        Ok(())
    }
}
