//! IMAP modified UTF-7 (RFC 3501 §5.1.3), used for Maildir++ folder names
//! on disk.

use crate::error::{Error, Result};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn b64_value(c: u8) -> Option<u32> {
    B64.iter().position(|&x| x == c).map(|p| p as u32)
}

/// Encodes a UTF-8 name in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        out.push('&');
        let mut bits = 0u32;
        let mut nbits = 0u32;
        for unit in pending.drain(..) {
            bits = (bits << 16) | u32::from(unit);
            nbits += 16;
            while nbits >= 6 {
                nbits -= 6;
                out.push(B64[((bits >> nbits) & 0x3f) as usize] as char);
            }
        }
        if nbits > 0 {
            out.push(B64[((bits << (6 - nbits)) & 0x3f) as usize] as char);
        }
        out.push('-');
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes modified UTF-7 into UTF-8, rejecting malformed input.
pub fn decode(name: &str) -> Result<String> {
    let bad = |offset| Error::Utf7 {
        name: name.to_string(),
        offset,
    };
    let bytes = name.as_bytes();
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if !(0x20..=0x7e).contains(&c) {
            return Err(bad(i));
        }
        if c != b'&' {
            out.push(c as char);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if bytes.get(i) == Some(&b'-') {
            out.push('&');
            i += 1;
            continue;
        }
        let mut bits = 0u32;
        let mut nbits = 0u32;
        let mut units: Vec<u16> = Vec::new();
        loop {
            let Some(&d) = bytes.get(i) else {
                return Err(bad(start));
            };
            i += 1;
            if d == b'-' {
                break;
            }
            let v = b64_value(d).ok_or_else(|| bad(i - 1))?;
            bits = (bits << 6) | v;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push(((bits >> nbits) & 0xffff) as u16);
                bits &= (1 << nbits) - 1;
            }
        }
        if units.is_empty() || nbits >= 6 || bits != 0 {
            return Err(bad(start));
        }
        let decoded = String::from_utf16(&units).map_err(|_| bad(start))?;
        if decoded.chars().any(|c| (' '..='~').contains(&c)) {
            // Printable ASCII must not be encoded.
            return Err(bad(start));
        }
        out.push_str(&decoded);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_dovecot_names() {
        for (utf8, utf7) in [
            ("Entwürfe", "Entw&APw-rfe"),
            ("Ünter", "&ANw-nter"),
            ("Données & Co", "Donn&AOk-es &- Co"),
            ("日本語", "&ZeVnLIqe-"),
            ("plain", "plain"),
        ] {
            assert_eq!(encode(utf8), utf7);
            assert_eq!(decode(utf7).unwrap(), utf8);
        }
    }

    #[test]
    fn rejects_bad() {
        for b in ["&", "&AB", "&ANw", "&!-", "&AGE-"] {
            assert!(decode(b).is_err(), "{b}");
        }
    }
}
