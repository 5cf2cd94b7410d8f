//! Escaping of raw protocol bytes for one-line display.

use std::fmt;

/// Displays bytes on one line: printable ASCII (backslash included) as is,
/// CR, LF and TAB as `\r`, `\n`, `\t`, every other byte as `\xHH`.
///
/// ```
/// use columba_imap_proto::Escaped;
/// assert_eq!(Escaped(b"a1 OK \\Seen\r\n\x00\xff").to_string(), r"a1 OK \Seen\r\n\x00\xff");
/// ```
#[derive(Clone, Copy)]
pub struct Escaped<'a>(pub &'a [u8]);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut start = 0;
        for (i, &b) in self.0.iter().enumerate() {
            let plain = (0x20..0x7f).contains(&b);
            if plain {
                continue;
            }
            if start < i {
                // The run is printable ASCII, hence valid UTF-8.
                f.write_str(std::str::from_utf8(&self.0[start..i]).unwrap_or(""))?;
            }
            match b {
                b'\r' => f.write_str("\\r")?,
                b'\n' => f.write_str("\\n")?,
                b'\t' => f.write_str("\\t")?,
                _ => write!(f, "\\x{b:02x}")?,
            }
            start = i + 1;
        }
        f.write_str(std::str::from_utf8(&self.0[start..]).unwrap_or(""))
    }
}

impl fmt::Debug for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}
