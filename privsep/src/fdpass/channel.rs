//! The socket adapter: frames with descriptors over a Unix stream socket.

use std::fmt;
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;

use super::frame::{self, FrameHeader, FrameLimits, HEADER_LEN};
use super::peer::{peer_credentials, PeerCred, PeerPolicy};
use crate::sys::socket;
use crate::PrivsepError;

/// A frame received with its descriptors.
///
/// The descriptors are owned: dropping the frame closes them. `Debug` shows
/// the payload's length only, never its bytes.
pub struct ReceivedFrame {
    /// The payload.
    pub payload: Vec<u8>,
    /// The descriptors that came with it, close-on-exec, in the order sent.
    pub fds: Vec<OwnedFd>,
    /// The sender, as `SO_PEERCRED` reported it.
    pub peer: PeerCred,
}

impl fmt::Debug for ReceivedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivedFrame")
            .field("payload_len", &self.payload.len())
            .field("fds", &self.fds)
            .field("peer", &self.peer)
            .finish()
    }
}

/// One end of a Unix stream socket that carries frames with descriptors.
///
/// Both directions check the peer against the channel's [`PeerPolicy`]
/// before anything is sent or read, so a descriptor is never handed to, or
/// taken from, a process the policy does not name. (The kernel fixes a
/// stream socket's peer credentials at connect time, so the check runs on
/// first use and its answer is kept.) Receiving owns every
/// descriptor as soon as the kernel installs it, so none leaks on any error
/// (bad frame, wrong count, truncated control data, end of file). The socket
/// is used in blocking mode; `send` and `recv` take `&mut self`, so frames
/// from two concurrent calls cannot interleave (for a sender and a receiver
/// in two threads, make two channels over `UnixStream::try_clone`).
#[derive(Debug)]
pub struct FdChannel {
    stream: UnixStream,
    policy: PeerPolicy,
    limits: FrameLimits,
    checked_peer: OnceLock<PeerCred>,
}

impl FdChannel {
    /// A channel over `stream`, accepting peers that match `policy`.
    pub fn new(stream: UnixStream, policy: PeerPolicy) -> Self {
        FdChannel {
            stream,
            policy,
            limits: FrameLimits::default(),
            checked_peer: OnceLock::new(),
        }
    }

    /// A connected pair of channels in this process, accepting any peer
    /// (typically one end goes to a child process).
    pub fn pair() -> Result<(FdChannel, FdChannel), PrivsepError> {
        let (a, b) = UnixStream::pair().map_err(|e| PrivsepError::os("socketpair", e))?;
        Ok((
            FdChannel::new(a, PeerPolicy::any()),
            FdChannel::new(b, PeerPolicy::any()),
        ))
    }

    /// Replaces the size limits (for both directions).
    pub fn with_limits(mut self, limits: FrameLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The peer's credentials.
    pub fn peer(&self) -> Result<PeerCred, PrivsepError> {
        peer_credentials(&self.stream)
    }

    /// The underlying socket.
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// Gives the socket back.
    pub fn into_stream(self) -> UnixStream {
        self.stream
    }

    fn checked_peer(&self) -> Result<PeerCred, PrivsepError> {
        if let Some(peer) = self.checked_peer.get() {
            return Ok(*peer);
        }
        let peer = self.peer()?;
        self.policy.check(&peer)?;
        Ok(*self.checked_peer.get_or_init(|| peer))
    }

    /// Sends `payload` with `fds` attached, as one frame.
    pub fn send(&mut self, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), PrivsepError> {
        self.checked_peer()?;
        let bytes = frame::encode_frame(payload, fds.len(), &self.limits)?;
        let sock = self.stream.as_fd();
        let mut sent = socket::send_with_fds(sock, &[IoSlice::new(&bytes)], fds)
            .map_err(|e| PrivsepError::os("sendmsg", e))?;
        while sent < bytes.len() {
            let n = match socket::send_with_fds(sock, &[IoSlice::new(&bytes[sent..])], &[]) {
                Ok(0) => return Err(PrivsepError::os("sendmsg", io::ErrorKind::WriteZero.into())),
                Ok(n) => n,
                Err(e) => return Err(PrivsepError::os("sendmsg", e)),
            };
            sent += n;
        }
        Ok(())
    }

    /// Receives one frame; `Ok(None)` when the peer closed the socket
    /// between frames.
    pub fn recv(&mut self) -> Result<Option<ReceivedFrame>, PrivsepError> {
        let peer = self.checked_peer()?;
        let mut fds = Vec::new();
        let mut header_bytes = [0u8; HEADER_LEN];
        if !self.fill(&mut header_bytes, 0, &mut fds, true)? {
            return Ok(None);
        }
        let header = FrameHeader::decode(&header_bytes, &self.limits)?.ok_or(
            PrivsepError::TruncatedFrame {
                offset: 0,
                expected: HEADER_LEN,
            },
        )?;
        // Bounded by the limits checked in decode.
        let mut payload = vec![0u8; header.payload_len as usize];
        self.fill(&mut payload, HEADER_LEN, &mut fds, false)?;
        if fds.len() != usize::from(header.fd_count) {
            return Err(PrivsepError::FdCountMismatch {
                announced: usize::from(header.fd_count),
                received: fds.len(),
            });
        }
        Ok(Some(ReceivedFrame { payload, fds, peer }))
    }

    /// Reads exactly `buf.len()` bytes (at frame offset `base`), collecting
    /// descriptors. Returns false on end of file before the first byte when
    /// `eof_ok`.
    fn fill(
        &self,
        buf: &mut [u8],
        base: usize,
        fds: &mut Vec<OwnedFd>,
        eof_ok: bool,
    ) -> Result<bool, PrivsepError> {
        let max_fds = usize::from(self.limits.max_fds());
        let mut filled = 0;
        while filled < buf.len() {
            let got = socket::recv_with_fds(self.stream.as_fd(), &mut buf[filled..], max_fds, fds)
                .map_err(|e| PrivsepError::os("recvmsg", e))?;
            if got.control_truncated {
                return Err(PrivsepError::ControlTruncated { max: max_fds });
            }
            if fds.len() > max_fds {
                return Err(PrivsepError::ControlTruncated { max: max_fds });
            }
            if got.bytes == 0 {
                if eof_ok && filled == 0 && fds.is_empty() {
                    return Ok(false);
                }
                return Err(PrivsepError::TruncatedFrame {
                    offset: base + filled,
                    expected: base + buf.len(),
                });
            }
            filled += got.bytes;
            if base == 0 {
                // Reject a bad header as soon as its first bytes are in.
                FrameHeader::decode(&buf[..filled], &self.limits)?;
            }
        }
        Ok(true)
    }
}
