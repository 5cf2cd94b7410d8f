//! The `lmtp` role: one LMTP connection (from the master's TCP listener
//! `service.lmtp.inet_listener.*` or its Unix listener `base_dir/lmtp`),
//! served with `columba-session`'s [`LmtpSession`].
//!
//! Recipients are looked up on the auth-userdb socket (`USER`), with the
//! address extension after `recipient_delimiter` dropped as Dovecot drops
//! it. Each recipient's copy is written by a short-lived process running
//! as that recipient ([`delivery`]); there is one reply per recipient, and
//! Dovecot's log lines. After a delivery the indexer is told, so that the
//! new message's cache is filled before the user's client asks.
//!
//! The same role also runs those per-recipient delivery processes: a
//! process whose first control frame is a [`delivery::DeliveryJob`]
//! instead of a connection.

pub mod delivery;
pub mod message_id;
pub mod recipient;
pub mod spool;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use columba_auth_sasl::protocol::master_client::UnixMasterClient;
use columba_session::{DeliveryError, LmtpConfig, LmtpEvent, LmtpSession};

use self::delivery::{DeliveryFailure, DeliveryJob};
use super::config::Config;
use super::control::{ConnectionInfo, Control, Service};
use super::error::ServeError;
use super::indexer::client as indexer_client;
use super::log;
use super::role::RoleContext;
use super::stats::StatsClient;

/// Dovecot's reply text for a storage fault.
const INTERNAL_ERROR: &str = "Internal error occurred. Refer to server log for more information.";
/// How often the loop looks at the master.
const TICK: Duration = Duration::from_millis(200);
/// An LMTP client silent this long is disconnected (Dovecot: 5 minutes).
const IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Runs the `lmtp` role.
pub fn run(mut ctx: RoleContext) -> Result<(), ServeError> {
    let Some(frame) = ctx.control.recv()? else {
        return Ok(());
    };
    if frame.payload.starts_with(delivery::JOB_TAG) {
        let config = ctx.config.clone();
        return delivery::run_child(&config, frame, &mut ctx.control);
    }
    match Control::decode(&frame.payload)? {
        Control::Connection(info) => {
            let fd: OwnedFd = frame
                .fds
                .into_iter()
                .next()
                .ok_or_else(|| ServeError::Control("a connection without its socket".into()))?;
            if info.service != Service::Lmtp {
                return Err(ServeError::Control(format!(
                    "a {} connection sent to the lmtp role",
                    info.service.name()
                )));
            }
            serve(&mut ctx, info, UnixStream::from(fd))
        }
        Control::Shutdown => Ok(()),
        other => Err(ServeError::Control(format!(
            "the lmtp role expects a connection, not {other:?}"
        ))),
    }
}

/// An accepted recipient.
struct Accepted {
    address: String,
    /// The RCPT command's place in its transaction (refused ones count).
    rcpt_number: usize,
    user: String,
    fields: Vec<(String, Option<String>)>,
}

fn serve(
    ctx: &mut RoleContext,
    info: ConnectionInfo,
    mut client: UnixStream,
) -> Result<(), ServeError> {
    let pid = std::process::id();
    let from = if info.listener == "lmtp-unix" || info.remote.port() == 0 {
        "local".to_string()
    } else {
        info.remote.ip().to_string()
    };
    let prefix = format!("lmtp({pid})");
    log::info(&prefix, &format!("Connect from {from}"));
    let config = ctx.config.clone();
    let hostname = server_hostname(&config);
    let mut trace = Trace {
        hostname: hostname.clone(),
        from: if from == "local" {
            from.clone()
        } else {
            format!("[{from}]")
        },
        session_id: info.session_id.clone(),
        lhlo: None,
        first_line: Vec::new(),
        transactions: 0,
        rcpts: 0,
    };
    let spool = spool::Spool::create(&std::env::temp_dir())
        .map_err(|e| ServeError::io("create the LMTP spool file", e))?;
    let mut session = LmtpSession::with_spool(
        LmtpConfig {
            hostname: hostname.clone(),
            max_message: if config.imap_max_append_size > 0 {
                usize::try_from(config.imap_max_append_size).unwrap_or(usize::MAX)
            } else {
                LmtpConfig::default().max_message
            },
            session_id: info.session_id.clone(),
        },
        Box::new(spool.clone()),
    );
    let mut accepted: Vec<Accepted> = Vec::new();
    let mut userdb: Option<UnixMasterClient> = None;
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_input = Instant::now();
    let reason: String = 'conn: loop {
        if let Err(e) = client.write_all(&session.take_output()) {
            break 'conn format!("Connection closed: {e}");
        }
        while let Some(event) = session.poll_event() {
            match event {
                LmtpEvent::CheckRecipient(address) => {
                    let found = lookup_recipient(&config, &mut userdb, &address, &prefix);
                    let exists = found.is_some();
                    trace.rcpts += 1;
                    accepted.extend(found.map(|mut a| {
                        a.address = address.clone();
                        a.rcpt_number = trace.rcpts;
                        a
                    }));
                    session.recipient_checked(exists);
                }
                LmtpEvent::Deliver {
                    from, recipients, ..
                } => {
                    // this transaction's recipients are the last ones
                    // accepted (a RSET left older ones before them)
                    let mut all = std::mem::take(&mut accepted);
                    let tail = all.split_off(all.len().saturating_sub(recipients.len()));
                    let recipients: Vec<Accepted> = if tail
                        .iter()
                        .map(|a| a.address.as_str())
                        .eq(recipients.iter().map(String::as_str))
                    {
                        tail
                    } else {
                        log::error(&prefix, "recipients out of step with the session");
                        Vec::new()
                    };
                    trace.transactions += 1;
                    trace.rcpts = 0;
                    let results = deliver_all(ctx, &recipients, &from, &trace, &spool);
                    let delivered = results.iter().filter(|(r, _)| r.is_ok()).count() as u64;
                    let mut stats = StatsClient::connect(&config);
                    stats.inc("lmtp.deliveries", delivered);
                    stats.inc("lmtp.delivery_failures", results.len() as u64 - delivered);
                    session.delivered(results.iter().map(|(r, _)| r.clone()).collect());
                    let replies = session.take_output();
                    let head = spool.head(64 * 1024).unwrap_or_default();
                    log_deliveries(&info, &recipients, &results, &replies, &head);
                    if let Err(e) = client.write_all(&replies) {
                        break 'conn format!("Connection closed: {e}");
                    }
                }
                LmtpEvent::Close => {
                    let _ = client.write_all(&session.take_output());
                    break 'conn "Logged out (state=READY)".to_string();
                }
            }
            if let Err(e) = client.write_all(&session.take_output()) {
                break 'conn format!("Connection closed: {e}");
            }
        }
        let (client_ready, control_ready) = match ctx.wait_readable(&client, TICK) {
            Ok(r) => r,
            Err(e) => break 'conn format!("Connection closed: {e}"),
        };
        if control_ready {
            match Control::recv(&mut ctx.control) {
                Ok(Some((Control::Shutdown, _))) | Ok(None) | Err(_) => {
                    let _ = client.write_all(b"421 4.3.2 Server shutting down\r\n");
                    break 'conn "Server shutting down".to_string();
                }
                Ok(Some(_)) => {}
            }
        }
        if client_ready {
            match client.read(&mut buf) {
                Ok(0) => break 'conn "Connection closed".to_string(),
                Ok(n) => {
                    last_input = Instant::now();
                    trace.watch_lhlo(&buf[..n]);
                    session.feed(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break 'conn format!("Connection closed: {e}"),
            }
        }
        if last_input.elapsed() > IDLE_TIMEOUT {
            let _ = client.write_all(b"421 4.4.2 Disconnected client for inactivity\r\n");
            break 'conn "Disconnected for inactivity".to_string();
        }
    };
    log::info(&prefix, &format!("Disconnect from {from}: {reason}"));
    Ok(())
}

/// Looks `address` up on auth-userdb: the address without its detail,
/// then (for userdbs of unqualified names) its local part.
fn lookup_recipient(
    config: &Config,
    userdb: &mut Option<UnixMasterClient>,
    address: &str,
    prefix: &str,
) -> Option<Accepted> {
    let rcpt = recipient::parse(address, &config.recipient_delimiter)?;
    let mut candidates = vec![rcpt.user.clone()];
    candidates.extend(rcpt.local_user.clone());
    for name in candidates {
        for attempt in 0..2 {
            if userdb.is_none() {
                match UnixMasterClient::connect(&config.socket("auth-userdb")) {
                    Ok(c) => *userdb = Some(c),
                    Err(e) => {
                        log::error(prefix, &format!("auth-userdb: {e}"));
                        return None;
                    }
                }
            }
            let client = userdb.as_mut()?;
            match client.user(&name, &["service=lmtp".to_string()]) {
                Ok(Some((user, fields))) => {
                    return Some(Accepted {
                        address: String::new(),
                        rcpt_number: 0,
                        user,
                        fields: fields
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                            .collect(),
                    })
                }
                Ok(None) => break,
                Err(e) => {
                    // the auth role may have restarted: reconnect once
                    *userdb = None;
                    if attempt == 1 {
                        log::error(prefix, &format!("userdb lookup of {name}: {e}"));
                        return None;
                    }
                }
            }
        }
    }
    None
}

/// Delivers the spooled message to each recipient in turn; the UID or
/// the failure.
fn deliver_all(
    ctx: &RoleContext,
    recipients: &[Accepted],
    from: &str,
    trace: &Trace,
    spool: &spool::Spool,
) -> Vec<(Result<(), DeliveryError>, Option<u32>)> {
    recipients
        .iter()
        .map(|r| {
            let job = DeliveryJob {
                user: r.user.clone(),
                mailbox: "INBOX".into(),
                return_path: from.to_string(),
                delivered_to: r.address.clone(),
                received: trace.received(from, &r.address, r.rcpt_number),
                fields: r.fields.clone(),
            };
            let outcome = spool
                .reader()
                .map_err(|e| DeliveryFailure::Temporary(format!("read the spool: {e}")))
                .and_then(|fd| delivery::deliver_as(&ctx.config_path, &job, fd));
            match outcome {
                Ok(uid) => {
                    indexer_client::notify(&ctx.config, &r.user, "INBOX");
                    (Ok(()), Some(uid))
                }
                Err(DeliveryFailure::Quota) => (Err(DeliveryError::QuotaExceeded), None),
                Err(DeliveryFailure::Temporary(reason)) => {
                    log::error(
                        &format!("lmtp({})<{}>", r.user, std::process::id()),
                        &format!("delivery failed: {reason}"),
                    );
                    // Dovecot ends the text with the time, to find the log line
                    let stamp = super::log::timestamp::now("%Y-%m-%d %H:%M:%S");
                    (
                        Err(DeliveryError::Temporary(format!(
                            "{INTERNAL_ERROR} [{stamp}]"
                        ))),
                        None,
                    )
                }
            }
        })
        .collect()
}

/// Dovecot's `msgid=<...>: saved mail to INBOX` per delivered recipient,
/// with the delivery's session id as the `250` reply names it.
fn log_deliveries(
    info: &ConnectionInfo,
    recipients: &[Accepted],
    results: &[(Result<(), DeliveryError>, Option<u32>)],
    replies: &[u8],
    head: &[u8],
) {
    let msgid = message_id::for_log(head);
    let reply_lines: Vec<&[u8]> = replies
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    for (i, (r, (result, _))) in recipients.iter().zip(results).enumerate() {
        if result.is_err() {
            continue;
        }
        let session = reply_lines
            .get(i)
            .and_then(|l| delivery_session_id(l))
            .unwrap_or_else(|| info.session_id.clone());
        log::info(
            &format!("lmtp({})<{}><{session}>", r.user, std::process::id()),
            &format!("msgid={msgid}: saved mail to INBOX"),
        );
    }
}

/// What the `Received:` header Dovecot's LMTP adds is made of.
struct Trace {
    hostname: String,
    /// The client's address, `[127.0.0.1]`-style.
    from: String,
    session_id: String,
    /// The name the client gave in LHLO.
    lhlo: Option<String>,
    /// The connection's first line, until it is complete (bounded).
    first_line: Vec<u8>,
    /// Transactions delivered so far.
    transactions: u32,
    /// RCPT commands in the current transaction.
    rcpts: usize,
}

impl Trace {
    /// Picks the LHLO name out of the connection's first line.
    fn watch_lhlo(&mut self, data: &[u8]) {
        if self.lhlo.is_some() || self.first_line.len() > 512 {
            return;
        }
        self.first_line.extend_from_slice(data);
        let Some(end) = self.first_line.iter().position(|&b| b == b'\n') else {
            return;
        };
        let line = String::from_utf8_lossy(&self.first_line[..end]).into_owned();
        let mut words = line.split_whitespace();
        if words.next().is_some_and(|w| w.eq_ignore_ascii_case("LHLO")) {
            self.lhlo = words
                .next()
                .map(|w| w.chars().filter(|c| !c.is_control()).take(255).collect());
        }
        self.first_line = vec![0; 513]; // done looking
    }

    /// The header's value for one recipient, folded as Dovecot folds it,
    /// with the delivery's id as the `250` reply gives it.
    fn received(&self, from: &str, rcpt: &str, rcpt_number: usize) -> String {
        let mut id = self.session_id.clone();
        if self.transactions > 1 {
            id.push_str(&format!(":T{}", self.transactions));
        }
        if rcpt_number > 1 {
            id.push_str(&format!(":R{rcpt_number}"));
        }
        let date = super::log::timestamp::now("%a, %d %b %Y %H:%M:%S %z");
        format!(
            "from {} ({})\r\n\tby {} with LMTP\r\n\tid {id}\r\n\t(envelope-from <{from}>)\r\n\tfor <{rcpt}>; {date}",
            self.lhlo.as_deref().unwrap_or("unknown"),
            self.from,
            self.hostname
        )
    }
}

/// Dovecot's `hostname`, else the system's host name.
fn server_hostname(config: &Config) -> String {
    if let Some(h) = config.hostname.as_ref().filter(|h| !h.is_empty()) {
        return h.clone();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && !h.contains(char::is_whitespace))
        .unwrap_or_else(|| "localhost".to_string())
}

/// The id in `250 2.0.0 <rcpt> <id> Saved`.
fn delivery_session_id(line: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?.trim_end();
    let rest = text.strip_prefix("250 2.0.0 <")?;
    let (_, rest) = rest.split_once("> ")?;
    let id = rest.strip_suffix(" Saved")?;
    (!id.is_empty() && !id.contains(' ')).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_id_comes_from_the_saved_reply() {
        assert_eq!(
            delivery_session_id(b"250 2.0.0 <a@b> 9KLvDxaWC2sBJAAAg+zDdQ:R3 Saved\r"),
            Some("9KLvDxaWC2sBJAAAg+zDdQ:R3".to_string())
        );
        assert_eq!(delivery_session_id(b"250 2.0.0 <a@b> Saved"), None);
        assert_eq!(delivery_session_id(b"451 4.2.0 <a@b> x"), None);
    }
}
