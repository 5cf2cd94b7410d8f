//! Postfix in front of `columba serve`, the way Postfix sites run Dovecot:
//! a private Postfix instance (its own configuration, queue and data
//! directories under a temporary directory, smtpd on free loopback ports)
//! delivers through `virtual_transport = lmtp:unix:<base_dir>/lmtp` or
//! `lmtp:inet:127.0.0.1:<port>`, and authenticates SMTP clients with
//! `smtpd_sasl_type = dovecot` on `<base_dir>/auth-client`. Python's
//! smtplib and imaplib (`tests/postfix/smtp_client.py`) play the mail
//! client; what they see is compared with the same Postfix in front of a
//! private Dovecot 2.3.
//!
//! `delivery`: what arrives and what Postfix is told; `lmtp_vs_dovecot`:
//! the same deliveries to Dovecot's LMTP; `sasl`: SMTP AUTH through the
//! auth socket against Dovecot's; `documented_setup`: the sockets inside
//! Postfix's own directory; `support`: the servers and the client.
//!
//! Postfix's master runs only as root: without root, or without postfix
//! or python3, every test prints a SKIPPED line (under
//! `COLUMBA_REQUIRE_INTEROP=1` a missing tool fails instead).

#[path = "postfix/delivery.rs"]
mod delivery;
#[path = "postfix/documented_setup.rs"]
mod documented_setup;
#[path = "postfix/lmtp_vs_dovecot.rs"]
mod lmtp_vs_dovecot;
#[path = "postfix/sasl.rs"]
mod sasl;
#[path = "postfix/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use support::{
    added_trace_headers, client, client_all, fetch_inbox, is_root, Columba, Postfix, SmtpdPort,
};

/// The SASL mechanisms both servers offer in the comparisons.
const MECHANISMS: &str = "plain login cram-md5 scram-sha-1 scram-sha-256 anonymous";

/// Skips (visibly) what cannot run here; `false` means return.
fn runnable() -> bool {
    if !is_root() {
        assert!(
            !columba_interop::interop_required(),
            "COLUMBA_REQUIRE_INTEROP is set, but Postfix's master runs only as root"
        );
        println!("SKIPPED: Postfix's master runs only as root");
        return false;
    }
    true
}

/// The first message: what a client submits, byte for byte (dot lines,
/// 8-bit text, trailing blanks, a long line, a `From ` line). Its Date and
/// Message-ID are given, so Postfix's cleanup adds no header of its own.
fn first_message() -> Vec<u8> {
    let mut m = b"From: Alice <alice@remote.test>\r\n\
        To: Demo <demo@example.test>\r\n\
        Subject: through Postfix and LMTP\r\n\
        Date: Sun, 29 Nov 2026 04:00:00 +0000\r\n\
        Message-ID: <first@remote.test>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: text/plain; charset=utf-8\r\n\
        Content-Transfer-Encoding: 8bit\r\n\
        \r\n\
        .a line that starts with a dot\r\n\
        ..two dots\r\n\
        .\r\n\
        .\tdot and tab\r\n\
        From the start of a line\r\n\
        trailing blanks   \r\n\
        \r\n\
        \r\n"
        .to_vec();
    m.extend_from_slice("8-bit: grüße, ñ, 日本語\r\n".as_bytes());
    m.extend(std::iter::repeat_n(b'x', 900));
    m.extend_from_slice(b"\r\nlast line\r\n");
    m
}

fn second_message() -> Vec<u8> {
    b"From: Demo <demo@example.test>\r\n\
      To: several <demo@example.test>\r\n\
      Subject: four recipients\r\n\
      Date: Sun, 29 Nov 2026 04:00:01 +0000\r\n\
      Message-ID: <second@example.test>\r\n\
      \r\n\
      one delivered, one more delivered, one failing after DATA, one unknown\r\n"
        .to_vec()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
