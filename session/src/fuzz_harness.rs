//! Drivers for the fuzz targets and their corpus replay: arbitrary client
//! bytes fed to each session in chunks, every event answered, nothing may
//! panic. Not part of the API a server uses.

use crate::{
    ImapConfig, ImapEvent, ImapSession, LmtpConfig, LmtpEvent, LmtpSession, MaildirStorage,
    Pop3Config, Pop3Event, Pop3Session,
};

/// Chunk size from the first byte, so splits land anywhere.
fn chunks(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let (size, rest) = match data.split_first() {
        Some((b, rest)) => ((*b as usize % 64) + 1, rest),
        None => (1, data),
    };
    rest.chunks(size)
}

/// A fresh, empty Maildir root for one run; removed when dropped.
struct ScratchHome(std::path::PathBuf);

impl ScratchHome {
    fn new() -> ScratchHome {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "columba-session-fuzz-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        ScratchHome(dir)
    }
}

impl Drop for ScratchHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The failure the harness answers a SASL exchange with, from its data.
fn failure(n: usize) -> (crate::LoginFailure, Option<&'static str>) {
    use crate::LoginFailure::*;
    let all = [
        Credentials,
        Temporary,
        LoginDisabled,
        Authorization,
        PasswordExpired,
        PrivacyRequired,
        MechanismInvalid,
        Aborted,
    ];
    let reason = if n.is_multiple_of(2) {
        None
    } else {
        Some("go\r\naway")
    };
    (all[n % all.len()], reason)
}

/// Feeds `data` to an IMAP session, twice: with the session's own
/// AUTHENTICATE PLAIN, and with SASL passthrough. Credentials for the user
/// `ok` succeed (over an empty scratch Maildir), others fail; STARTTLS
/// "succeeds". With passthrough, every exchange gets a challenge; an
/// answer starting with `ok` logs in through a login handoff (encoded,
/// decoded, resumed), an empty one fails with a failure chosen by its
/// length, and `*` or bad base64 ends it.
pub fn imap(data: &[u8]) {
    imap_with(data, false);
    imap_with(data, true);
}

fn imap_with(data: &[u8], passthrough: bool) {
    let home = ScratchHome::new();
    let config = ImapConfig {
        plaintext_without_tls: true,
        sasl_passthrough: passthrough,
        sasl_mechanisms: vec!["PLAIN".into(), "LOGIN".into(), "SCRAM-SHA-1".into()],
        ..ImapConfig::default()
    };
    let mut s = ImapSession::new(config.clone());
    let mut rounds = 0usize;
    for chunk in chunks(data) {
        s.feed(chunk);
        while let Some(e) = s.poll_event() {
            match e {
                ImapEvent::SaslStart { .. } => s.sasl_challenge(b"challenge"),
                ImapEvent::SaslResponse(r) if r.starts_with(b"ok") => {
                    match MaildirStorage::open(&home.0.join("Maildir")) {
                        Ok(storage) => {
                            let before = s.take_output();
                            let handoff = s.login_handoff("ok");
                            let decoded = crate::ImapHandoff::decode(&handoff.encode());
                            assert!(before.is_empty() || before.ends_with(b"\r\n"));
                            if let Ok(h) = decoded {
                                s = ImapSession::resume(config.clone(), h, Box::new(storage));
                            }
                        }
                        Err(_) => s.login_failed(true),
                    }
                }
                ImapEvent::SaslResponse(r) if r.is_empty() || rounds > 3 => {
                    let (f, reason) = failure(rounds + r.len());
                    rounds = 0;
                    s.login_failed_with(f, reason);
                }
                ImapEvent::SaslResponse(_) => {
                    rounds += 1;
                    s.sasl_challenge(&[0, 1, 2, 255]);
                }
                ImapEvent::SaslCancel => rounds = 0,
                ImapEvent::StartTls => s.tls_started(),
                ImapEvent::Authenticate { credentials, .. } if credentials.user == "ok" => {
                    match MaildirStorage::open(&home.0.join("Maildir")) {
                        Ok(storage) => s.login_succeeded("ok", Box::new(storage)),
                        Err(_) => s.login_failed(true),
                    }
                }
                ImapEvent::Authenticate { .. } => s.login_failed(false),
                ImapEvent::MailboxChanged(m) => s.mailbox_changed(&m),
                ImapEvent::Close => return,
            }
        }
        let out = s.take_output();
        assert!(
            out.is_empty() || out.ends_with(b"\r\n"),
            "output ends mid-line"
        );
    }
}

/// Feeds `data` to a POP3 session (user `ok` logs in to an empty INBOX),
/// without and with SASL passthrough, answered as [`imap`] does.
pub fn pop3(data: &[u8]) {
    pop3_with(data, false);
    pop3_with(data, true);
}

fn pop3_with(data: &[u8], passthrough: bool) {
    let home = ScratchHome::new();
    let config = Pop3Config {
        plaintext_without_tls: true,
        sasl_passthrough: passthrough,
        sasl_mechanisms: vec!["PLAIN".into(), "LOGIN".into(), "SCRAM-SHA-1".into()],
        ..Pop3Config::default()
    };
    let mut s = Pop3Session::new(config.clone());
    let mut rounds = 0usize;
    for chunk in chunks(data) {
        s.feed(chunk);
        while let Some(e) = s.poll_event() {
            match e {
                Pop3Event::SaslStart { .. } => s.sasl_challenge(b"challenge"),
                Pop3Event::SaslResponse(r) if r.starts_with(b"ok") => {
                    match MaildirStorage::open(&home.0.join("Maildir")) {
                        Ok(storage) => {
                            let handoff = s.login_handoff("ok");
                            if let Ok(h) = crate::Pop3Handoff::decode(&handoff.encode()) {
                                s = Pop3Session::resume(config.clone(), h, Box::new(storage));
                            }
                        }
                        Err(_) => s.login_failed(true),
                    }
                }
                Pop3Event::SaslResponse(r) if r.is_empty() || rounds > 3 => {
                    let (f, reason) = failure(rounds + r.len());
                    rounds = 0;
                    s.login_failed_with(f, reason);
                }
                Pop3Event::SaslResponse(_) => {
                    rounds += 1;
                    s.sasl_challenge(&[0, 1, 2, 255]);
                }
                Pop3Event::SaslCancel => rounds = 0,
                Pop3Event::StartTls => s.tls_started(),
                Pop3Event::Authenticate { credentials, .. } if credentials.user == "ok" => {
                    match MaildirStorage::open(&home.0.join("Maildir")) {
                        Ok(storage) => s.login_succeeded("ok", Box::new(storage)),
                        Err(_) => s.login_failed(true),
                    }
                }
                Pop3Event::Authenticate { .. } => s.login_failed(false),
                Pop3Event::MailboxChanged(_) => {}
                Pop3Event::Close => return,
            }
        }
        let out = s.take_output();
        assert!(
            out.is_empty() || out.ends_with(b"\r\n"),
            "output ends mid-line"
        );
    }
}

/// A spool that counts what it is given and fails every fifth write.
struct CountingSpool {
    bytes: usize,
    writes: usize,
}

impl crate::lmtp::DataSpool for CountingSpool {
    fn begin(&mut self) -> std::io::Result<()> {
        self.bytes = 0;
        Ok(())
    }

    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.writes += 1;
        if self.writes.is_multiple_of(5) {
            return Err(std::io::Error::other("spool full"));
        }
        self.bytes += chunk.len();
        assert!(
            self.bytes <= 4096,
            "more than max_message reached the spool"
        );
        Ok(())
    }
}

/// Feeds `data` to an LMTP session, without and with a spool (DATA and
/// BDAT); recipients starting with `ok` exist, deliveries succeed for
/// every other recipient.
pub fn lmtp(data: &[u8]) {
    lmtp_with(data, false);
    lmtp_with(data, true);
}

fn lmtp_with(data: &[u8], spool: bool) {
    let config = LmtpConfig {
        max_message: 4096,
        session_id: "fuzz".into(),
        ..LmtpConfig::default()
    };
    let mut s = if spool {
        LmtpSession::with_spool(
            config,
            Box::new(CountingSpool {
                bytes: 0,
                writes: 0,
            }),
        )
    } else {
        LmtpSession::new(config)
    };
    for chunk in chunks(data) {
        s.feed(chunk);
        while let Some(e) = s.poll_event() {
            match e {
                LmtpEvent::CheckRecipient(r) => s.recipient_checked(r.starts_with("ok")),
                LmtpEvent::Deliver {
                    recipients, data, ..
                } => {
                    assert!(data.len() <= 4096 && !recipients.is_empty());
                    let results = (0..recipients.len())
                        .map(|i| match i % 3 {
                            0 => Ok(()),
                            1 => Err(crate::DeliveryError::Temporary("try later".into())),
                            _ => Err(crate::DeliveryError::QuotaExceeded),
                        })
                        .collect();
                    s.delivered(results);
                }
                LmtpEvent::Close => return,
            }
        }
        let out = s.take_output();
        assert!(
            out.is_empty() || out.ends_with(b"\r\n"),
            "output ends mid-line"
        );
    }
}

/// Decodes `data` as an IMAP and as a POP3 login handoff; whatever decodes
/// must encode back to exactly `data`.
pub fn handoff(data: &[u8]) {
    if let Ok(h) = crate::ImapHandoff::decode(data) {
        assert_eq!(h.encode(), data, "IMAP handoff does not round-trip");
    }
    if let Ok(h) = crate::Pop3Handoff::decode(data) {
        assert_eq!(h.encode(), data, "POP3 handoff does not round-trip");
    }
}
