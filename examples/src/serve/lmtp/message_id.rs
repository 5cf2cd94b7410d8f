//! The `msgid=` of Dovecot's delivery log line: the message's Message-ID
//! header, unfolded, or `unspecified` when it has none (as Dovecot 2.3
//! writes it).

/// Longest Message-ID kept for the log line.
const MAX_LEN: usize = 200;

/// The Message-ID of `message` for the log, sanitised and bounded.
pub fn for_log(message: &[u8]) -> String {
    match find(message) {
        Some(id) if !id.is_empty() => id,
        _ => "unspecified".to_string(),
    }
}

fn find(message: &[u8]) -> Option<String> {
    let mut value: Option<Vec<u8>> = None;
    for raw in message.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            break; // end of the header
        }
        if let Some(v) = &mut value {
            if line[0] == b' ' || line[0] == b'\t' {
                v.extend_from_slice(line);
                continue;
            }
            break;
        }
        if line.len() >= 11 && line[..11].eq_ignore_ascii_case(b"message-id:") {
            value = Some(line[11..].to_vec());
        }
    }
    let value = value?;
    let text: String = String::from_utf8_lossy(&value)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(text.chars().take(MAX_LEN).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_as_dovecot_logs_them() {
        assert_eq!(
            for_log(b"Subject: x\r\nMessage-ID: <m1@example.com>\r\n\r\nbody"),
            "<m1@example.com>"
        );
        assert_eq!(for_log(b"message-id:\r\n <a@b>\r\n\r\n"), "<a@b>");
        assert_eq!(
            for_log(b"Subject: no id\r\n\r\nMessage-ID: <body@x>\r\n"),
            "unspecified"
        );
        assert_eq!(for_log(b""), "unspecified");
        assert_eq!(for_log(&[0xff, b'\n']), "unspecified");
        let long = format!("Message-ID: <{}>\n\n", "x".repeat(1000));
        assert_eq!(for_log(long.as_bytes()).len(), 200);
    }
}
