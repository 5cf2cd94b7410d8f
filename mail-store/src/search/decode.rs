//! Text for searching: RFC 2047 encoded words and common charsets decoded to
//! UTF-8, transfer encodings removed, then compared case-insensitively.
//!
//! Charsets decoded: UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15 and
//! Windows-1252; text in any other charset is read as UTF-8 with invalid
//! sequences replaced.

/// Windows-1252 bytes 0x80..=0x9F.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}', '\u{017D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{9D}', '\u{017E}', '\u{0178}',
];

/// Decodes `bytes` in `charset` to UTF-8.
pub fn decode_charset(charset: &[u8], bytes: &[u8]) -> String {
    let cs = String::from_utf8_lossy(charset).to_ascii_lowercase();
    match cs.as_str() {
        "iso-8859-1" | "latin1" | "iso8859-1" | "l1" => bytes.iter().map(|&b| b as char).collect(),
        "windows-1252" | "cp1252" => bytes
            .iter()
            .map(|&b| {
                if (0x80..0xA0).contains(&b) {
                    CP1252_HIGH[(b - 0x80) as usize]
                } else {
                    b as char
                }
            })
            .collect(),
        "iso-8859-15" | "latin9" => bytes
            .iter()
            .map(|&b| match b {
                0xA4 => '\u{20AC}',
                0xA6 => '\u{0160}',
                0xA8 => '\u{0161}',
                0xB4 => '\u{017D}',
                0xB8 => '\u{017E}',
                0xBC => '\u{0152}',
                0xBD => '\u{0153}',
                0xBE => '\u{0178}',
                b => b as char,
            })
            .collect(),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

fn decode_q(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < text.len() => match (hexval(text[i + 1]), hexval(text[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'='),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hexval(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// One encoded word at the start of `s`: (decoded text, bytes consumed).
fn encoded_word(s: &[u8]) -> Option<(String, usize)> {
    if !s.starts_with(b"=?") {
        return None;
    }
    let q1 = 2 + s[2..].iter().position(|&b| b == b'?')?;
    let charset = &s[2..q1];
    let charset = match charset.iter().position(|&b| b == b'*') {
        Some(star) => &charset[..star], // RFC 2231 language suffix
        None => charset,
    };
    let enc = *s.get(q1 + 1)?;
    if s.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    let end = text_start + s[text_start..].windows(2).position(|w| w == b"?=")?;
    let text = &s[text_start..end];
    let bytes = match enc {
        b'B' | b'b' => crate::fetch::binary::decode_base64(text)?,
        b'Q' | b'q' => decode_q(text),
        _ => return None,
    };
    Some((decode_charset(charset, &bytes), end + 2))
}

/// Decodes RFC 2047 encoded words in a header value; white space between
/// adjacent encoded words is dropped; line breaks become spaces.
pub fn decode_header_value(value: &[u8]) -> String {
    let mut out = String::new();
    let mut i = 0;
    let mut last_was_word = false;
    let mut raw_start = 0;
    let flush_raw = |out: &mut String, bytes: &[u8]| out.push_str(&String::from_utf8_lossy(bytes));
    while i < value.len() {
        if value[i] == b'=' && value.get(i + 1) == Some(&b'?') {
            if let Some((text, used)) = encoded_word(&value[i..]) {
                // white space between two encoded words is dropped
                if !last_was_word {
                    flush_raw(&mut out, &value[raw_start..i]);
                }
                out.push_str(&text);
                i += used;
                raw_start = i;
                last_was_word = true;
                continue;
            }
        }
        if last_was_word && !matches!(value[i], b' ' | b'\t' | b'\r' | b'\n') {
            last_was_word = false;
        }
        i += 1;
    }
    flush_raw(&mut out, &value[raw_start..]);
    out.replace(['\r', '\n'], " ")
}

/// Folds case for comparison as Dovecot's `i;unicode-casemap` does it per
/// character (simple titlecase, which for all but a few digraphs is the
/// single-character uppercase mapping; `ß` stays `ß`, unlike `ẞ`).
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_uppercase();
    }
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

/// Decodes base64 for searching: bytes outside the alphabet are skipped, as
/// Dovecot's search does, instead of failing.
pub fn decode_base64_lenient(input: &[u8]) -> Vec<u8> {
    let clean: Vec<u8> = input
        .iter()
        .copied()
        .filter(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
        .collect();
    crate::fetch::binary::decode_base64(&clean).unwrap_or_default()
}
