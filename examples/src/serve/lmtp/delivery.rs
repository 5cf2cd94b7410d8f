//! Delivering one message to one recipient, as that recipient: the lmtp
//! process starts a short-lived process of the same role per recipient
//! (`columba serve --role lmtp`), sends it a [`DeliveryJob`] with a
//! descriptor of the spooled message, and the child drops to the user before
//! it opens the mailbox. So every file it writes belongs to the user, and
//! the lmtp process itself never touches a user's mail. The store writes
//! as Dovecot does (tmp, fsync, link into place, fsync the directory,
//! then the index through its log), so a failure loses nothing that was
//! acknowledged: the MTA gets a temporary failure and retries.

use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use columba_auth_sasl::db::Fields;
use columba_auth_sasl::escape::{tab_escape, tab_unescape};
use columba_privsep::ReceivedFrame;
use columba_session::MailStorage;

use crate::serve::config::Config;
use crate::serve::error::ServeError;
use crate::serve::post_login::open_storage;
use crate::serve::role::{self, Role};
use crate::serve::user::{CurrentIds, UserEnv};

/// The first word of a delivery job's frame.
pub const JOB_TAG: &[u8] = b"DELIVER\t";
/// Most userdb fields a job carries.
const MAX_FIELDS: usize = 64;
/// Longest user or mailbox name in a job.
const MAX_NAME: usize = 512;

/// What the child is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryJob {
    /// The recipient's user name (as the userdb answered it).
    pub user: String,
    /// The mailbox to save into (`INBOX`).
    pub mailbox: String,
    /// MAIL FROM's address, for the `Return-Path:` header (may be empty).
    pub return_path: String,
    /// The recipient as RCPT TO named it, for the `Delivered-To:` header.
    pub delivered_to: String,
    /// The `Received:` header's value (folded with CRLF TAB), or empty
    /// for none.
    pub received: String,
    /// The userdb fields (`uid`, `gid`, `home`, `mail`, ...).
    pub fields: Vec<(String, Option<String>)>,
}

impl DeliveryJob {
    /// The frame payload.
    pub fn encode(&self) -> Vec<u8> {
        let mut line = String::from("DELIVER\t");
        line.push_str(&tab_escape(&self.user));
        line.push('\t');
        line.push_str(&tab_escape(&self.mailbox));
        line.push('\t');
        line.push_str(&tab_escape(&self.return_path));
        line.push('\t');
        line.push_str(&tab_escape(&self.delivered_to));
        line.push('\t');
        line.push_str(&tab_escape(&self.received));
        for (k, v) in &self.fields {
            line.push('\t');
            match v {
                Some(v) => line.push_str(&tab_escape(&format!("{k}={v}"))),
                None => line.push_str(&tab_escape(k)),
            }
        }
        line.into_bytes()
    }

    /// Parses a frame payload, bounded and checked.
    pub fn decode(payload: &[u8]) -> Result<DeliveryJob, ServeError> {
        let rest = payload
            .strip_prefix(JOB_TAG)
            .ok_or_else(|| ServeError::Control("not a delivery job".into()))?;
        let mut parts = rest.split(|&b| b == b'\t');
        let mut text = |what: &str, may_be_empty: bool| -> Result<String, ServeError> {
            let raw = parts
                .next()
                .ok_or_else(|| ServeError::Control(format!("delivery job: {what} missing")))?;
            let s = String::from_utf8(tab_unescape(raw))
                .map_err(|_| ServeError::Control(format!("delivery job: {what} is not UTF-8")))?;
            if (s.is_empty() && !may_be_empty)
                || s.len() > MAX_NAME
                || s.chars().any(|c| c == '\r' || c == '\n')
            {
                return Err(ServeError::Control(format!(
                    "delivery job: {what} of {} bytes",
                    s.len()
                )));
            }
            Ok(s)
        };
        let user = text("user", false)?;
        let mailbox = text("mailbox", false)?;
        let return_path = text("return path", true)?;
        let delivered_to = text("recipient", false)?;
        let received = {
            let raw = parts
                .next()
                .ok_or_else(|| ServeError::Control("delivery job: received missing".into()))?;
            let s = String::from_utf8(tab_unescape(raw))
                .map_err(|_| ServeError::Control("delivery job: received is not UTF-8".into()))?;
            // folded lines only: every CR starts a CRLF TAB
            let folded_only = s
                .match_indices('\r')
                .all(|(i, _)| s[i..].starts_with("\r\n\t"))
                && s.match_indices('\n')
                    .all(|(i, _)| i > 0 && s.as_bytes()[i - 1] == b'\r');
            if s.len() > 4 * MAX_NAME || !folded_only {
                return Err(ServeError::Control(
                    "delivery job: received is not one folded header value".into(),
                ));
            }
            s
        };
        let mut fields = Vec::new();
        for raw in parts {
            if fields.len() == MAX_FIELDS {
                return Err(ServeError::Control(format!(
                    "delivery job: more than {MAX_FIELDS} fields"
                )));
            }
            let s = String::from_utf8(tab_unescape(raw))
                .map_err(|_| ServeError::Control("delivery job: a field is not UTF-8".into()))?;
            match s.split_once('=') {
                Some((k, v)) => fields.push((k.to_string(), Some(v.to_string()))),
                None => fields.push((s, None)),
            }
        }
        Ok(DeliveryJob {
            user,
            mailbox,
            return_path,
            delivered_to,
            received,
            fields,
        })
    }

    fn userdb_fields(&self) -> Fields {
        let mut f = Fields::new();
        for (k, v) in &self.fields {
            f.set(k, v.as_deref());
        }
        f
    }
}

/// Why a delivery failed, as the LMTP reply needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// The user's quota is full (permanent).
    Quota,
    /// Anything else (temporary); the text is for the log.
    Temporary(String),
}

/// In the lmtp process: delivers the message (a descriptor positioned at
/// its start) to `job.user` through a child process running as that
/// user. Returns the new message's UID.
pub fn deliver_as(
    config_path: &Path,
    job: &DeliveryJob,
    message: OwnedFd,
) -> Result<u32, DeliveryFailure> {
    let temp =
        |what: &str, e: &dyn std::fmt::Display| DeliveryFailure::Temporary(format!("{what}: {e}"));
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| temp("duplicate stderr", &e))?;
    let mut child = role::spawn(Role::Lmtp, config_path, Some(stderr))
        .map_err(|e| temp("start the delivery process", &e))?;
    let sent = child
        .control
        .send(&job.encode(), &[message.as_fd()])
        .map_err(|e| temp("send the delivery job", &e));
    drop(message);
    let reply = sent.and_then(|()| {
        child
            .control
            .recv()
            .map_err(|e| temp("read the delivery result", &e))
    });
    if reply.is_err() {
        let _ = child.child.kill();
    }
    let _ = child.child.wait();
    let frame = reply?.ok_or_else(|| {
        DeliveryFailure::Temporary("the delivery process exited without an answer".into())
    })?;
    parse_reply(&frame.payload)
}

fn parse_reply(payload: &[u8]) -> Result<u32, DeliveryFailure> {
    let text = String::from_utf8_lossy(payload);
    let mut parts = text.splitn(3, '\t');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("OK"), Some(uid), None) => uid.parse().map_err(|_| {
            DeliveryFailure::Temporary(format!("bad answer from the delivery process: {text}"))
        }),
        (Some("FAIL"), Some("quota"), _) => Err(DeliveryFailure::Quota),
        (Some("FAIL"), _, reason) => Err(DeliveryFailure::Temporary(
            reason.unwrap_or("delivery failed").to_string(),
        )),
        _ => Err(DeliveryFailure::Temporary(format!(
            "bad answer from the delivery process: {text}"
        ))),
    }
}

/// In the child: runs the job of `frame` and answers on `channel`.
pub fn run_child(
    config: &Config,
    frame: ReceivedFrame,
    channel: &mut columba_privsep::FdChannel,
) -> Result<(), ServeError> {
    let outcome = child_deliver(config, frame);
    let answer = match &outcome {
        Ok(uid) => format!("OK\t{uid}"),
        Err(e) => format!("FAIL\ttemp\t{}", e.to_string().replace(['\t', '\n'], " ")),
    };
    channel.send(answer.as_bytes(), &[])?;
    outcome.map(|_| ())
}

fn child_deliver(config: &Config, frame: ReceivedFrame) -> Result<u32, ServeError> {
    let job = DeliveryJob::decode(&frame.payload)?;
    let fd: OwnedFd = frame
        .fds
        .into_iter()
        .next()
        .ok_or_else(|| ServeError::Control("delivery job without the message".into()))?;
    let mut message = std::fs::File::from(fd);
    let spooled = message
        .metadata()
        .map_err(|e| ServeError::io("stat the message", e))?
        .len();
    // Dovecot's LMTP adds these (lmtp_hdr_delivery_address = final,
    // lmtp_add_received_header = yes)
    let mut added = format!(
        "Return-Path: <{}>\r\nDelivered-To: {}\r\n",
        job.return_path, job.delivered_to
    );
    if !job.received.is_empty() {
        added.push_str(&format!("Received: {}\r\n", job.received));
    }
    let size = spooled + added.len() as u64;
    let env = UserEnv::resolve(
        &job.user,
        &job.userdb_fields(),
        config,
        CurrentIds::of_this_process()?,
    )?;
    let dropped = env.drop_privileges(config)?;
    let mut storage = open_storage(&dropped.mail_root, config)?;
    let storage_error = |e: columba_session::Error| ServeError::Storage(e.to_string());
    let mut sink = match storage.append_sink(&job.mailbox, size) {
        Ok(sink) => sink,
        // a missing mailbox falls back to INBOX, as Dovecot's delivery does
        Err(columba_session::Error::NoSuchMailbox(_)) if job.mailbox != "INBOX" => {
            storage.append_sink("INBOX", size).map_err(storage_error)?
        }
        Err(e) => return Err(storage_error(e)),
    };
    sink.write(added.as_bytes()).map_err(storage_error)?;
    // the message streams from the spool into the store, chunk by chunk
    let mut buf = vec![0u8; 64 * 1024];
    let mut copied = 0u64;
    loop {
        let n = message
            .read(&mut buf)
            .map_err(|e| ServeError::io("read the message", e))?;
        if n == 0 {
            break;
        }
        copied += n as u64;
        if copied > spooled {
            return Err(ServeError::Storage(
                "the message grew while it was delivered".into(),
            ));
        }
        sink.write(&buf[..n]).map_err(storage_error)?;
    }
    if copied != spooled {
        return Err(ServeError::Storage(format!(
            "read {copied} of the message's {spooled} bytes"
        )));
    }
    let (_, uid) = sink
        .finish(Default::default(), &[], None)
        .map_err(storage_error)?;
    Ok(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_and_bad_ones_are_refused() {
        let job = DeliveryJob {
            user: "alice\twith tab".into(),
            mailbox: "INBOX".into(),
            return_path: String::new(),
            delivered_to: "alice+x@example.com".into(),
            received: "from [127.0.0.1] ([127.0.0.1])\r\n\tby vm with LMTP".into(),
            fields: vec![
                ("uid".into(), Some("5000".into())),
                ("home".into(), Some("/h/a=b".into())),
                ("nopassword".into(), None),
            ],
        };
        assert_eq!(DeliveryJob::decode(&job.encode()).unwrap(), job);
        for bad in [
            &b"NOPE\tx\ty"[..],
            b"DELIVER\t",
            b"DELIVER\tuser",
            b"DELIVER\t\tINBOX",
            b"DELIVER\t\xff\tINBOX\t\tr\t",
            b"DELIVER\tu\tINBOX\t\t\t",
            b"DELIVER\tu\tINBOX\ta\r\nb\tr\t",
            b"DELIVER\tu\tINBOX\t\tr\tx\x01r\x01ny",
            b"DELIVER\tu\tINBOX\t\tr",
        ] {
            assert!(DeliveryJob::decode(bad).is_err(), "{bad:?}");
        }
        let many = format!("DELIVER\tu\tINBOX\t\tr\t{}", "\tk=v".repeat(65));
        assert!(DeliveryJob::decode(many.as_bytes()).is_err());
    }

    /// A small deterministic generator (xorshift) for property tests.
    fn bytes(seed: &mut u64, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 7;
                *seed ^= *seed << 17;
                alphabet[(*seed % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    /// Property test standing in for a fuzz target (the parser lives in
    /// the binary crate): any bytes decode to a job or a typed error,
    /// never a panic, and what decodes encodes back to a job equal to it.
    #[test]
    fn arbitrary_frames_never_panic_and_round_trip() {
        let alphabet = b"DELIVER\t=\\\xffabc\x01\x00tn";
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for n in 0..20_000 {
            let mut frame = if n % 2 == 0 {
                JOB_TAG.to_vec()
            } else {
                Vec::new()
            };
            frame.extend(bytes(&mut seed, n % 80, alphabet));
            if let Ok(job) = DeliveryJob::decode(&frame) {
                assert_eq!(DeliveryJob::decode(&job.encode()).unwrap(), job);
            }
            let _ = parse_reply(&frame);
        }
    }

    #[test]
    fn answers_map_to_lmtp_outcomes() {
        assert_eq!(parse_reply(b"OK\t7"), Ok(7));
        assert_eq!(parse_reply(b"FAIL\tquota"), Err(DeliveryFailure::Quota));
        assert!(matches!(
            parse_reply(b"FAIL\ttemp\tdisk full"),
            Err(DeliveryFailure::Temporary(r)) if r == "disk full"
        ));
        assert!(parse_reply(b"OK\tx").is_err());
        assert!(parse_reply(b"").is_err());
    }
}
