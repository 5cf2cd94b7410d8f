//! sendmsg(2)/recvmsg(2) with `SCM_RIGHTS`, and `SO_PEERCRED`.

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::check;

/// Credentials of a Unix socket's peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawPeerCred {
    pub(crate) pid: i32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// `SO_PEERCRED`: who was at the other end when the socket was connected
/// (or when the pair was created).
pub(crate) fn peer_cred(sock: BorrowedFd<'_>) -> io::Result<RawPeerCred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a live, writable ucred and `len` holds its size.
    check(unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    })?;
    if len as usize != std::mem::size_of::<libc::ucred>() {
        return Err(io::Error::other("SO_PEERCRED returned a short structure"));
    }
    Ok(RawPeerCred {
        pid: cred.pid,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// Most descriptors one call sends or receives (the frame layer's ceiling).
const MAX_FDS: usize = crate::fdpass::frame::MAX_FDS_CEILING as usize;

/// Size of the on-stack control buffer, in `u64` words: room for the header
/// and `MAX_FDS` descriptors.
const CONTROL_WORDS: usize = 4 + MAX_FDS / 2;

/// Room for `n` descriptors in a control buffer, in `u64` words (which keeps
/// the buffer aligned for `cmsghdr`).
fn control_words(n: usize) -> io::Result<usize> {
    if n > MAX_FDS {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    let bytes = std::mem::size_of::<RawFd>() * n;
    // SAFETY: CMSG_SPACE is arithmetic on its argument only.
    let space = unsafe { libc::CMSG_SPACE(bytes as libc::c_uint) } as usize;
    Ok(space.div_ceil(8))
}

/// Sends `bufs` in one sendmsg(2), with `fds` attached as `SCM_RIGHTS` when
/// non-empty. Returns the bytes sent (possibly fewer than offered).
pub(crate) fn send_with_fds(
    sock: BorrowedFd<'_>,
    bufs: &[IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
) -> io::Result<usize> {
    let mut storage = [0u64; CONTROL_WORDS];
    let control = &mut storage[..if fds.is_empty() {
        0
    } else {
        control_words(fds.len())?
    }];
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is ABI-compatible with iovec on Unix; the kernel only reads it.
    msg.msg_iov = bufs.as_ptr().cast_mut().cast();
    msg.msg_iovlen = bufs.len() as _;
    if !fds.is_empty() {
        let payload = std::mem::size_of_val(fds);
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = (control.len() * 8) as _;
        // SAFETY: the control buffer is CMSG_SPACE(payload) bytes (rounded up
        // to whole words), so CMSG_FIRSTHDR is non-null and its data area has
        // room for `payload` bytes; writes are unaligned-safe.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(payload as libc::c_uint) as _;
            let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
            for (i, fd) in fds.iter().enumerate() {
                data.add(i).write_unaligned(fd.as_raw_fd());
            }
        }
    }
    loop {
        // SAFETY: `msg` points to live iovecs and control data set up above;
        // the borrowed descriptors stay open for the duration of the call.
        let ret = unsafe { libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// What one recvmsg(2) returned.
pub(crate) struct Received {
    /// Bytes read into the buffer (0: end of file).
    pub(crate) bytes: usize,
    /// The kernel dropped descriptors that did not fit (`MSG_CTRUNC`).
    pub(crate) control_truncated: bool,
}

/// Reads into `buf` with one recvmsg(2), accepting up to `max_fds`
/// descriptors. Every descriptor that arrives is owned (as `OwnedFd`, with
/// close-on-exec set) and pushed to `fds` before anything else is checked, so
/// none can leak whatever the caller does next.
pub(crate) fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    max_fds: usize,
    fds: &mut Vec<OwnedFd>,
) -> io::Result<Received> {
    // Room for at least one descriptor, so a peer that sends any when none
    // are wanted is seen (and its descriptors closed) rather than silently
    // dropped by the kernel.
    let mut storage = [0u64; CONTROL_WORDS];
    let control = &mut storage[..control_words(max_fds.max(1))?];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain old data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = (control.len() * 8) as _;
    let bytes = loop {
        // SAFETY: `msg` points to the live, writable `buf` (via `iov`) and
        // `control`, with their true lengths.
        let ret = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if ret >= 0 {
            break ret as usize;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    };
    // SAFETY: after a successful recvmsg, msg_controllen bytes of `control`
    // are initialised control messages; CMSG_FIRSTHDR/NXTHDR stay inside that
    // range, and each SCM_RIGHTS payload holds whole descriptors the kernel
    // has just installed in this process, which nothing else owns yet.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let header = libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                // Never read past what the kernel filled, whatever cmsg_len says.
                let filled_end = control
                    .as_ptr()
                    .cast::<u8>()
                    .add(msg.msg_controllen as usize);
                let room = (filled_end as usize).saturating_sub(data as usize);
                let len = ((*cmsg).cmsg_len as usize).saturating_sub(header).min(room);
                let count = len / std::mem::size_of::<RawFd>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Received {
        bytes,
        control_truncated: msg.msg_flags & libc::MSG_CTRUNC != 0,
    })
}
