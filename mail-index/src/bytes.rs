//! Bounds-checked little-endian field access and Dovecot's offset encoding.

/// Reads a little-endian u16 at `off`.
pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

/// Reads a little-endian u32 at `off`.
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads a little-endian u64 at `off`.
pub(crate) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

pub(crate) fn put_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Rounds up to a multiple of 8 (`MAIL_INDEX_HEADER_SIZE_ALIGN`).
pub(crate) fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Rounds up to a multiple of 4.
pub(crate) fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Decodes Dovecot's 7-bits-per-byte size/offset encoding
/// (`mail_index_offset_to_uint32`); 0 means "not (yet) valid".
pub fn decode_offset(raw: [u8; 4]) -> u32 {
    if raw.iter().any(|b| b & 0x80 == 0) {
        return 0;
    }
    ((u32::from(raw[0] & 0x7f) << 21)
        | (u32::from(raw[1] & 0x7f) << 14)
        | (u32::from(raw[2] & 0x7f) << 7)
        | u32::from(raw[3] & 0x7f))
        << 2
}

/// Encodes a multiple of 4 below 0x40000000 the way Dovecot stores record
/// sizes and cache offsets (`mail_index_uint32_to_offset`). Returns `None`
/// for values that cannot be encoded.
pub fn encode_offset(n: u32) -> Option<[u8; 4]> {
    if !n.is_multiple_of(4) || n >= 0x4000_0000 {
        return None;
    }
    let v = n >> 2;
    Some([
        0x80 | ((v >> 21) & 0x7f) as u8,
        0x80 | ((v >> 14) & 0x7f) as u8,
        0x80 | ((v >> 7) & 0x7f) as u8,
        0x80 | (v & 0x7f) as u8,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_encoding_matches_spec_examples() {
        for (n, enc) in [
            (12u32, [0x80, 0x80, 0x80, 0x83]),
            (16, [0x80, 0x80, 0x80, 0x84]),
            (36, [0x80, 0x80, 0x80, 0x89]),
            (516, [0x80, 0x80, 0x81, 0x81]),
        ] {
            assert_eq!(encode_offset(n), Some(enc));
            assert_eq!(decode_offset(enc), n);
        }
        assert_eq!(decode_offset([0, 0, 0, 0]), 0);
        assert_eq!(encode_offset(3), None);
    }
}
