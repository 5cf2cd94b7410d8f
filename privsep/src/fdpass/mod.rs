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

/// Reads into `buf` with one recvmsg(2), accepting up to `max_fds`
/// descriptors, without framing or peer check. Returns the bytes read (0:
/// end of file) and the descriptors, owned and close-on-exec. Fails with
/// [`PrivsepError::ControlTruncated`] (closing what arrived) when the peer
/// sent more descriptors than `max_fds` (at most 64).
pub fn recv_raw(
    sock: impl AsFd,
    buf: &mut [u8],
    max_fds: usize,
) -> Result<(usize, Vec<std::os::fd::OwnedFd>), PrivsepError> {
    let mut fds = Vec::new();
    let got = crate::sys::socket::recv_with_fds(sock.as_fd(), buf, max_fds, &mut fds)
        .map_err(|e| PrivsepError::os("recvmsg", e))?;
    if got.control_truncated || fds.len() > max_fds {
        return Err(PrivsepError::ControlTruncated { max: max_fds });
    }
    Ok((got.bytes, fds))
}
