//! Modified UTF-7 mailbox names (RFC 3501 section 5.1.3).

use bytes::Bytes;

use crate::Error;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b',' => Some(63),
        _ => None,
    }
}

/// Encodes a Unicode mailbox name as modified UTF-7.
///
/// ```
/// assert_eq!(&columba_imap_proto::utf7::encode("~peter/mail/台北/日本語")[..],
///            b"~peter/mail/&U,BTFw-/&ZeVnLIqe-");
/// ```
pub fn encode(name: &str) -> Bytes {
    let mut out = Vec::with_capacity(name.len() + 8);
    let mut units: Vec<u16> = Vec::new();
    let flush = |units: &mut Vec<u16>, out: &mut Vec<u8>| {
        if units.is_empty() {
            return;
        }
        out.push(b'&');
        let mut bits: u32 = 0;
        let mut nbits = 0;
        for &u in units.iter() {
            bits = (bits << 16) | u32::from(u);
            nbits += 16;
            while nbits >= 6 {
                nbits -= 6;
                out.push(ALPHABET[((bits >> nbits) & 63) as usize]);
            }
            bits &= (1 << nbits) - 1;
        }
        if nbits > 0 {
            out.push(ALPHABET[((bits << (6 - nbits)) & 63) as usize]);
        }
        out.push(b'-');
        units.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut units, &mut out);
            if c == '&' {
                out.extend_from_slice(b"&-");
            } else {
                out.push(c as u8);
            }
        } else {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut units, &mut out);
    Bytes::from(out)
}

/// Decodes a modified UTF-7 mailbox name.
///
/// Rejects 8-bit bytes, unterminated or badly padded shifts, encoded
/// printable ASCII, and unpaired surrogates, with the offset of the problem.
pub fn decode(wire: &[u8]) -> Result<String, Error> {
    let mut out = String::with_capacity(wire.len());
    let mut i = 0;
    while i < wire.len() {
        let b = wire[i];
        if !(0x20..0x7f).contains(&b) {
            return Err(Error::ModifiedUtf7 { offset: i });
        }
        if b != b'&' {
            out.push(b as char);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if wire.get(i) == Some(&b'-') {
            out.push('&');
            i += 1;
            continue;
        }
        let mut bits: u32 = 0;
        let mut nbits = 0;
        let mut units: Vec<u16> = Vec::new();
        loop {
            let Some(&c) = wire.get(i) else {
                return Err(Error::ModifiedUtf7 { offset: start });
            };
            if c == b'-' {
                i += 1;
                break;
            }
            let Some(v) = value(c) else {
                return Err(Error::ModifiedUtf7 { offset: i });
            };
            bits = (bits << 6) | v;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                units.push(((bits >> nbits) & 0xffff) as u16);
                bits &= (1 << nbits) - 1;
            }
            i += 1;
        }
        // Leftover bits must be zero padding shorter than one base64 digit.
        if units.is_empty() || nbits >= 6 || bits != 0 {
            return Err(Error::ModifiedUtf7 { offset: start });
        }
        for r in char::decode_utf16(units.iter().copied()) {
            match r {
                Ok(c) if (' '..='~').contains(&c) => {
                    return Err(Error::ModifiedUtf7 { offset: start })
                }
                Ok(c) => out.push(c),
                Err(_) => return Err(Error::ModifiedUtf7 { offset: start }),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        let s = "~peter/mail/台北/日本語";
        assert_eq!(&encode(s)[..], b"~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap(), s);
    }

    #[test]
    fn ampersand_and_emoji() {
        for s in ["A&B", "&", "Entwürfe", "📬 Inbox", "a\u{7f}b", ""] {
            assert_eq!(decode(&encode(s)).unwrap(), s, "{s}");
        }
        assert_eq!(&encode("A&B")[..], b"A&-B");
    }

    #[test]
    fn rejects_bad() {
        for bad in [
            &b"&"[..],
            b"&U,BTFw",
            b"&AGE-",
            b"\xff",
            b"&U,BTF-",
            b"&2D0-",
        ] {
            assert!(decode(bad).is_err(), "{:?}", bad);
        }
    }
}
