//! BINARY: a part's content with its Content-Transfer-Encoding removed
//! (RFC 3516), as Dovecot 2.3 answers it: 7bit, 8bit and binary parts are
//! sent as BODY would send them; base64 and quoted-printable are decoded;
//! any other encoding is `UNKNOWN-CTE`, invalid encoded data `PARSE`.

use super::section::to_crlf;
use crate::error::{Error, Result};
use crate::message::MessagePart;

/// How a part's body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    /// 7bit, 8bit, binary or none: the body is the content.
    Identity,
    /// base64.
    Base64,
    /// quoted-printable.
    QuotedPrintable,
}

/// The encoding of `part`, or `UnknownCte`.
pub fn transfer_encoding(part: &MessagePart) -> Result<TransferEncoding> {
    let Some(cte) = &part.content.transfer_encoding else {
        return Ok(TransferEncoding::Identity);
    };
    let is = |s: &str| cte.eq_ignore_ascii_case(s.as_bytes());
    if is("7bit") || is("8bit") || is("binary") {
        Ok(TransferEncoding::Identity)
    } else if is("base64") {
        Ok(TransferEncoding::Base64)
    } else if is("quoted-printable") {
        Ok(TransferEncoding::QuotedPrintable)
    } else {
        Err(Error::UnknownCte {
            encoding: String::from_utf8_lossy(cte).into_owned(),
        })
    }
}

/// The decoded body of a leaf part; `true` with it when decoding happened
/// (Dovecot then sends a `literal8`).
pub fn decode_body(data: &[u8], part: &MessagePart) -> Result<(Vec<u8>, bool)> {
    let body = part.body(data);
    match transfer_encoding(part)? {
        TransferEncoding::Identity => Ok((to_crlf(body), false)),
        TransferEncoding::Base64 => {
            decode_base64(body)
                .map(|d| (d, true))
                .ok_or(Error::InvalidEncodedData {
                    offset: part.body_start,
                })
        }
        TransferEncoding::QuotedPrintable => decode_quoted_printable(body)
            .map(|d| (d, true))
            .ok_or(Error::InvalidEncodedData {
                offset: part.body_start,
            }),
    }
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes base64, skipping white space; `None` on any other invalid byte.
pub fn decode_base64(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut padding = false;
    for &c in input {
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            continue;
        }
        if c == b'=' {
            padding = true;
            continue;
        }
        if padding {
            return None;
        }
        let v = b64_value(c)?;
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Decodes quoted-printable: soft line breaks removed, trailing white space
/// of each line dropped, hard line breaks as CRLF; `None` on a bad escape.
pub fn decode_quoted_printable(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut lines = input.split(|&b| b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut end = line.len();
        while end > 0 && matches!(line[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        let line = &line[..end];
        let mut i = 0;
        let mut soft = false;
        while i < line.len() {
            if line[i] != b'=' {
                out.push(line[i]);
                i += 1;
                continue;
            }
            if i + 1 == line.len() {
                soft = true;
                break;
            }
            let (h, l) = (hex(*line.get(i + 1)?)?, hex(*line.get(i + 2)?)?);
            out.push(h << 4 | l);
            i += 3;
        }
        if !soft && !last {
            out.extend_from_slice(b"\r\n");
        }
    }
    Some(out)
}
