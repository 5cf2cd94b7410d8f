//! After a TLS client logged in, the login process stays as the proxy
//! between the client's TLS connection and the plain socket pair whose
//! other end the post-login process serves, as Dovecot's login processes
//! proxy TLS. One thread, `poll`, bounded buffers with backpressure both
//! ways (nothing is read from a side while the other side cannot take
//! it), and half-close: the client's end of input reaches the post-login
//! process as end of input, and the post-login process closing ends the
//! client's connection with a TLS close_notify.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;

use rustix::event::{poll, PollFd, PollFlags};
use rustls::ServerConnection;

/// Most plaintext held for either direction.
const BUFFER: usize = 64 * 1024;

/// A descriptor to watch while relaying, and what to do when it is
/// readable (returns whether to keep watching it).
pub struct Watch<'a> {
    /// The descriptor (the control channel to the master).
    pub fd: BorrowedFd<'a>,
    /// Called when `fd` is readable.
    pub on_readable: &'a mut dyn FnMut() -> bool,
}

/// Relays until both directions ended (or one failed), also watching
/// `watch` (the master's word that the post-login process took over).
pub fn run(
    tcp: TcpStream,
    mut tls: ServerConnection,
    mut pair: UnixStream,
    mut watch: Option<Watch<'_>>,
) -> io::Result<()> {
    tcp.set_nonblocking(true)?;
    pair.set_nonblocking(true)?;
    let mut tcp = tcp;
    tls.set_buffer_limit(Some(BUFFER));
    // Client to post-login: decrypted bytes not yet written to the pair.
    let mut up: Vec<u8> = Vec::with_capacity(BUFFER);
    // Post-login to client: bytes read from the pair not yet taken by TLS.
    let mut down: Vec<u8> = Vec::with_capacity(BUFFER);
    let mut client_eof = false;
    let mut up_shut = false;
    let mut server_eof = false;
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        // Move what can move without waiting.
        // TLS plaintext to `up`.
        while up.len() < BUFFER {
            let room = (BUFFER - up.len()).min(chunk.len());
            match tls.reader().read(&mut chunk[..room]) {
                Ok(0) => {
                    client_eof = true;
                    break;
                }
                Ok(n) => up.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    client_eof = true;
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        // `down` into TLS (the buffer limit gives backpressure).
        while !down.is_empty() {
            let n = tls.writer().write(&down)?;
            if n == 0 {
                break;
            }
            down.drain(..n);
        }
        if server_eof && down.is_empty() {
            tls.send_close_notify();
        }
        // Done when the post-login side ended and everything reached the
        // client, or the client ended and the post-login side too.
        let flushed = !tls.wants_write();
        if server_eof && down.is_empty() && flushed {
            return Ok(());
        }
        if client_eof && up.is_empty() && !up_shut {
            let _ = pair.shutdown(std::net::Shutdown::Write);
            up_shut = true;
        }

        let mut tcp_flags = PollFlags::empty();
        if !client_eof && up.len() < BUFFER && tls.wants_read() {
            tcp_flags |= PollFlags::IN;
        }
        if tls.wants_write() {
            tcp_flags |= PollFlags::OUT;
        }
        let mut pair_flags = PollFlags::empty();
        if !server_eof && down.len() < BUFFER {
            pair_flags |= PollFlags::IN;
        }
        if !up.is_empty() {
            pair_flags |= PollFlags::OUT;
        }
        // Only what is waited for is polled: a closed socket reports HUP
        // whatever it is asked, and must not make the loop spin.
        let (tcp_ready, pair_ready, control_ready) = {
            let mut fds = Vec::with_capacity(3);
            let tcp_at = (!tcp_flags.is_empty()).then(|| {
                fds.push(PollFd::new(&tcp, tcp_flags));
                fds.len() - 1
            });
            let pair_at = (!pair_flags.is_empty()).then(|| {
                fds.push(PollFd::new(&pair, pair_flags));
                fds.len() - 1
            });
            let watch_at = watch.as_ref().map(|w| {
                fds.push(PollFd::from_borrowed_fd(w.fd, PollFlags::IN));
                fds.len() - 1
            });
            if fds.is_empty() {
                // Nothing can move any more.
                return Ok(());
            }
            match poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            let ready = |at: Option<usize>| at.map_or(PollFlags::empty(), |i| fds[i].revents());
            (ready(tcp_at), ready(pair_at), ready(watch_at))
        };
        if !control_ready.is_empty() {
            if let Some(w) = &mut watch {
                if !(w.on_readable)() {
                    watch = None;
                }
            }
        }

        if tcp_ready.intersects(PollFlags::OUT | PollFlags::ERR | PollFlags::HUP)
            && tls.wants_write()
        {
            match tls.write_tls(&mut tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // The client is gone: nothing more can reach it.
                Err(_) => return Ok(()),
            }
        }
        if tcp_ready.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) && !client_eof {
            match tls.read_tls(&mut tcp) {
                Ok(0) => client_eof = true,
                Ok(_) => {
                    if let Err(e) = tls.process_new_packets() {
                        let _ = tls.write_tls(&mut tcp);
                        return Err(io::Error::new(ErrorKind::InvalidData, e));
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => client_eof = true,
            }
        }
        if pair_ready.intersects(PollFlags::OUT | PollFlags::ERR | PollFlags::HUP) && !up.is_empty()
        {
            match pair.write(&up) {
                Ok(n) => {
                    up.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // The post-login process is gone.
                Err(_) => {
                    up.clear();
                    server_eof = true;
                }
            }
        }
        if pair_ready.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) && !server_eof {
            let room = (BUFFER - down.len()).min(chunk.len());
            match pair.read(&mut chunk[..room]) {
                Ok(0) => server_eof = true,
                Ok(n) => down.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => server_eof = true,
            }
        }
        if client_eof && up_shut && server_eof && down.is_empty() && !tls.wants_write() {
            return Ok(());
        }
    }
}
