//! Descriptor passing over Unix sockets: a small framed message with
//! descriptors attached (`SCM_RIGHTS`), the peer checked with `SO_PEERCRED`.
//!
//! [`frame`] is the sans-IO wire format; [`FdChannel`] the socket adapter.

mod channel;
pub mod frame;
mod peer;

pub use channel::{FdChannel, ReceivedFrame};
pub use frame::{decode_frame, encode_frame, Decoded, FrameHeader, FrameLimits};
pub use peer::{peer_credentials, PeerCred, PeerPolicy};

use std::io::IoSlice;
use std::os::fd::{AsFd, BorrowedFd};

use crate::PrivsepError;

/// Sends `bytes` with `fds` attached in one sendmsg(2), without framing or
/// peer check; returns the bytes sent (possibly fewer). For peers that
/// speak another format, and for testing a receiver against malformed input.
pub fn send_raw(
    sock: impl AsFd,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> Result<usize, PrivsepError> {
    crate::sys::socket::send_with_fds(sock.as_fd(), &[IoSlice::new(bytes)], fds)
        .map_err(|e| PrivsepError::os("sendmsg", e))
}
