//! The frame: what travels with the descriptors.
//!
//! ```text
//! offset  size  field
//!      0     1  version, always 1
//!      1     1  number of descriptors attached to this frame (SCM_RIGHTS)
//!      2     4  payload length, big-endian
//!      6     n  payload (opaque bytes, e.g. the login state of a client)
//! ```
//!
//! The descriptors travel as ancillary data of the `sendmsg` that carries
//! the frame's first byte. Both counts are bounded by [`FrameLimits`], and
//! checked before anything is allocated. The decoder never panics, whatever
//! the bytes.

use crate::PrivsepError;

/// Frame format version.
pub const FRAME_VERSION: u8 = 1;

/// Bytes in a frame header.
pub const HEADER_LEN: usize = 6;

/// The largest payload any [`FrameLimits`] accepts (1 MiB).
pub const MAX_PAYLOAD_CEILING: u32 = 1 << 20;

/// The most descriptors any [`FrameLimits`] accepts (the kernel's own
/// ceiling per message, `SCM_MAX_FD`, is 253).
pub const MAX_FDS_CEILING: u8 = 64;

/// Bounds a receiver enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    max_payload: u32,
    max_fds: u8,
}

impl Default for FrameLimits {
    /// 64 KiB of payload and 8 descriptors per frame.
    fn default() -> Self {
        FrameLimits {
            max_payload: 64 * 1024,
            max_fds: 8,
        }
    }
}

impl FrameLimits {
    /// Limits of `max_payload` bytes and `max_fds` descriptors, each clamped
    /// to the crate's ceilings.
    pub fn new(max_payload: u32, max_fds: u8) -> Self {
        FrameLimits {
            max_payload: max_payload.min(MAX_PAYLOAD_CEILING),
            max_fds: max_fds.min(MAX_FDS_CEILING),
        }
    }

    /// Largest payload accepted.
    pub fn max_payload(&self) -> u32 {
        self.max_payload
    }

    /// Most descriptors accepted.
    pub fn max_fds(&self) -> u8 {
        self.max_fds
    }
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Descriptors attached to the frame.
    pub fd_count: u8,
    /// Bytes of payload after the header.
    pub payload_len: u32,
}

impl FrameHeader {
    /// Decodes and checks a header from the first [`HEADER_LEN`] bytes of
    /// `bytes`; `Ok(None)` when fewer bytes are there.
    pub fn decode(bytes: &[u8], limits: &FrameLimits) -> Result<Option<Self>, PrivsepError> {
        let Some(header) = bytes.get(..HEADER_LEN) else {
            // Check what is there already, so garbage fails early.
            if let Some(&version) = bytes.first() {
                check_version(version)?;
            }
            if let Some(&fd_count) = bytes.get(1) {
                check_fd_count(fd_count, limits)?;
            }
            return Ok(None);
        };
        check_version(header[0])?;
        check_fd_count(header[1], limits)?;
        let payload_len = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
        if payload_len > limits.max_payload {
            return Err(PrivsepError::BadFrame {
                offset: 2,
                reason: format!(
                    "payload length {payload_len} exceeds the limit {}",
                    limits.max_payload
                ),
            });
        }
        Ok(Some(FrameHeader {
            fd_count: header[1],
            payload_len,
        }))
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let len = self.payload_len.to_be_bytes();
        [FRAME_VERSION, self.fd_count, len[0], len[1], len[2], len[3]]
    }

    /// Header plus payload, in bytes.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.payload_len as usize
    }
}

fn check_version(version: u8) -> Result<(), PrivsepError> {
    if version != FRAME_VERSION {
        return Err(PrivsepError::BadFrame {
            offset: 0,
            reason: format!("version {version}, expected {FRAME_VERSION}"),
        });
    }
    Ok(())
}

fn check_fd_count(count: u8, limits: &FrameLimits) -> Result<(), PrivsepError> {
    if count > limits.max_fds {
        return Err(PrivsepError::BadFrame {
            offset: 1,
            reason: format!(
                "{count} descriptors announced, the limit is {}",
                limits.max_fds
            ),
        });
    }
    Ok(())
}

/// What [`decode_frame`] found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// The frame is not complete; at least `needed` more bytes are needed.
    Incomplete {
        /// Bytes missing (for the header, or for header and payload).
        needed: usize,
    },
    /// A whole frame.
    Frame {
        /// Its header.
        header: FrameHeader,
        /// Its payload, borrowed from the buffer.
        payload: &'a [u8],
        /// Bytes of the buffer the frame used.
        consumed: usize,
    },
}

/// Decodes the frame at the start of `bytes`.
pub fn decode_frame<'a>(
    bytes: &'a [u8],
    limits: &FrameLimits,
) -> Result<Decoded<'a>, PrivsepError> {
    let Some(header) = FrameHeader::decode(bytes, limits)? else {
        return Ok(Decoded::Incomplete {
            needed: HEADER_LEN - bytes.len(),
        });
    };
    let total = header.frame_len();
    match bytes.get(HEADER_LEN..total) {
        Some(payload) => Ok(Decoded::Frame {
            header,
            payload,
            consumed: total,
        }),
        None => Ok(Decoded::Incomplete {
            needed: total - bytes.len(),
        }),
    }
}

/// Encodes a frame carrying `payload` and announcing `fd_count` descriptors.
pub fn encode_frame(
    payload: &[u8],
    fd_count: usize,
    limits: &FrameLimits,
) -> Result<Vec<u8>, PrivsepError> {
    let header = header_for(payload.len(), fd_count, limits)?;
    let mut out = Vec::with_capacity(header.frame_len());
    out.extend_from_slice(&header.encode());
    out.extend_from_slice(payload);
    Ok(out)
}

/// The header for a payload of `payload_len` bytes with `fd_count`
/// descriptors, checked against `limits`.
pub fn header_for(
    payload_len: usize,
    fd_count: usize,
    limits: &FrameLimits,
) -> Result<FrameHeader, PrivsepError> {
    let fd_count = u8::try_from(fd_count)
        .ok()
        .filter(|&n| n <= limits.max_fds)
        .ok_or_else(|| PrivsepError::InvalidSetting {
            what: "descriptors per frame",
            reason: format!("{fd_count} exceeds the limit {}", limits.max_fds),
        })?;
    let payload_len = u32::try_from(payload_len)
        .ok()
        .filter(|&n| n <= limits.max_payload)
        .ok_or_else(|| PrivsepError::InvalidSetting {
            what: "frame payload",
            reason: format!(
                "{payload_len} bytes exceed the limit {}",
                limits.max_payload
            ),
        })?;
    Ok(FrameHeader {
        fd_count,
        payload_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let limits = FrameLimits::default();
        let bytes = encode_frame(b"hello", 2, &limits).unwrap();
        assert_eq!(bytes[..HEADER_LEN], [1, 2, 0, 0, 0, 5]);
        match decode_frame(&bytes, &limits).unwrap() {
            Decoded::Frame {
                header,
                payload,
                consumed,
            } => {
                assert_eq!(header.fd_count, 2);
                assert_eq!(payload, b"hello");
                assert_eq!(consumed, 11);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn incomplete_says_how_much_is_missing() {
        let limits = FrameLimits::default();
        let bytes = encode_frame(b"hello", 0, &limits).unwrap();
        assert_eq!(
            decode_frame(&bytes[..3], &limits).unwrap(),
            Decoded::Incomplete { needed: 3 }
        );
        assert_eq!(
            decode_frame(&bytes[..8], &limits).unwrap(),
            Decoded::Incomplete { needed: 3 }
        );
        assert_eq!(
            decode_frame(&[], &limits).unwrap(),
            Decoded::Incomplete { needed: 6 }
        );
    }

    #[test]
    fn errors_name_the_byte() {
        let limits = FrameLimits::new(100, 2);
        let offset = |bytes: &[u8]| match decode_frame(bytes, &limits) {
            Err(PrivsepError::BadFrame { offset, .. }) => offset,
            other => panic!("{other:?}"),
        };
        assert_eq!(offset(&[2]), 0);
        assert_eq!(offset(&[1, 3]), 1);
        assert_eq!(offset(&[1, 0, 0, 0, 0, 101]), 2);
        assert_eq!(offset(&[1, 0, 0xff, 0xff, 0xff, 0xff, 0]), 2);
    }

    #[test]
    fn encoding_refuses_what_decoding_would() {
        let limits = FrameLimits::new(4, 1);
        assert!(encode_frame(b"12345", 0, &limits).is_err());
        assert!(encode_frame(b"1234", 2, &limits).is_err());
        assert!(encode_frame(b"1234", 1, &limits).is_ok());
    }

    #[test]
    fn limits_are_clamped() {
        let limits = FrameLimits::new(u32::MAX, u8::MAX);
        assert_eq!(limits.max_payload(), MAX_PAYLOAD_CEILING);
        assert_eq!(limits.max_fds(), MAX_FDS_CEILING);
    }
}
