//! Session ids as Dovecot makes them: 12 bytes of randomness, base64
//! (16 characters), shown as `session=<...>` in log lines.

use std::io::Read;

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A new random session id.
pub fn new_session_id() -> String {
    let mut raw = [0u8; 12];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut raw))
        .is_err()
    {
        // Never fails on Linux; fall back to time and pid so ids stay distinct.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        raw[..8].copy_from_slice(&(t as u64).to_le_bytes());
        raw[8..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    encode(&raw)
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
        let a = new_session_id();
        let b = new_session_id();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| B64.contains(&c)));
        assert_ne!(a, b);
        assert_eq!(encode(&[0; 12]), "AAAAAAAAAAAAAAAA");
    }
}
