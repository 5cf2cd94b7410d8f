//! Session ids as Dovecot makes them: for IMAP and POP3 12 bytes,
//! base64 (16 characters, `session=<...>` in log lines); for LMTP 16
//! bytes, base64 without padding (22 characters, in its replies).

use std::io::Read;

use crate::serve::control::Service;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A new random session id for a connection of `service`.
pub fn new_session_id(service: Service) -> String {
    if service == Service::Lmtp {
        let mut raw = [0u8; 16];
        random(&mut raw);
        return columba_session::lmtp::session_id(raw);
    }
    let mut raw = [0u8; 12];
    random(&mut raw);
    encode(&raw)
}

fn random(raw: &mut [u8]) {
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(raw))
        .is_err()
    {
        // Never fails on Linux; fall back to time and pid so ids stay distinct.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        raw[..8].copy_from_slice(&(t as u64).to_le_bytes());
        raw[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
}

fn encode(raw: &[u8; 12]) -> String {
    let mut out = String::with_capacity(16);
    for chunk in raw.chunks(3) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            out.push(B64[((n >> shift) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_base64_characters_and_distinct() {
        let a = new_session_id(Service::Imap);
        let b = new_session_id(Service::Pop3);
        assert_eq!(new_session_id(Service::Lmtp).len(), 22);
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| B64.contains(&c)));
        assert_ne!(a, b);
        assert_eq!(encode(&[0; 12]), "AAAAAAAAAAAAAAAA");
    }
}
