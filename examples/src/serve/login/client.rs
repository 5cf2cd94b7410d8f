//! The client's connection in a login process: plain TCP, or TLS over it
//! (rustls, started at once on an implicit-TLS listener or by
//! STARTTLS/STLS). Reads block with the pre-auth idle timeout.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection};

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may stay silent before authenticating (Dovecot's
/// login processes disconnect idle clients after 3 minutes).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(180);

/// The client connection.
pub struct Client {
    /// The TCP socket.
    pub tcp: TcpStream,
    /// The TLS state once TLS started.
    pub tls: Option<ServerConnection>,
}

impl Client {
    /// A plain connection.
    pub fn new(tcp: TcpStream) -> io::Result<Client> {
        tcp.set_read_timeout(Some(IDLE_TIMEOUT))?;
        // A client that stops reading cannot hold the process forever.
        tcp.set_write_timeout(Some(IDLE_TIMEOUT))?;
        Ok(Client { tcp, tls: None })
    }

    /// Whether TLS is on.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Runs the TLS handshake.
    pub fn start_tls(&mut self, config: &Arc<ServerConfig>) -> io::Result<()> {
        let mut tls = ServerConnection::new(config.clone())
            .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
        self.tcp.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        while tls.is_handshaking() {
            let (read, _) = tls.complete_io(&mut self.tcp)?;
            if read == 0 && tls.is_handshaking() && !tls.wants_write() {
                return Err(ErrorKind::UnexpectedEof.into());
            }
        }
        self.tcp.set_read_timeout(Some(IDLE_TIMEOUT))?;
        self.tls = Some(tls);
        Ok(())
    }

    /// Reads some bytes; `Ok(0)` at end of input.
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(tls) = &mut self.tls else {
            return self.tcp.read(buf);
        };
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            if tls.wants_write() {
                tls.write_tls(&mut self.tcp)?;
                continue;
            }
            if tls.read_tls(&mut self.tcp)? == 0 {
                return Ok(0);
            }
            if let Err(e) = tls.process_new_packets() {
                // Send the alert, then give up.
                let _ = tls.write_tls(&mut self.tcp);
                return Err(io::Error::new(ErrorKind::InvalidData, e));
            }
        }
    }

    /// Writes all of `data`.
    pub fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let Some(tls) = &mut self.tls else {
            return self.tcp.write_all(data);
        };
        tls.writer().write_all(data)?;
        while tls.wants_write() {
            tls.write_tls(&mut self.tcp)?;
        }
        Ok(())
    }
}
