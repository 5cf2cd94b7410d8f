//! The `imap` role: one authenticated IMAP client, as the user.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use columba_session::{ImapConfig, ImapEvent, ImapHandoff, ImapSession};

use super::counting::{CountingStorage, MailCounters};
use super::watch::SelectedWatch;
use super::{refusal_text, LoggedIn, Refusal};
use crate::serve::control::{Control, Handoff, Service};
use crate::serve::error::ServeError;
use crate::serve::log;
use crate::serve::role::RoleContext;
use crate::serve::stats::StatsClient;

/// How often the loop looks at the selected mailbox and the master.
const TICK: Duration = Duration::from_millis(100);
/// How long the loop sleeps when the session does not idle.
const IDLE_TICK: Duration = Duration::from_secs(60);
/// Dovecot's autologout for a client that sends nothing (IMAP's 30 minutes).
const AUTOLOGOUT: Duration = Duration::from_secs(30 * 60);

/// Runs the `imap` role: waits for one handoff and serves that client.
pub fn run(mut ctx: RoleContext) -> Result<(), ServeError> {
    let Some(login) = super::accept(&mut ctx, Service::Imap, refuse)? else {
        return Ok(());
    };
    let state = match ImapHandoff::decode(&login.handoff.session_state) {
        Ok(s) => s,
        Err(e) => {
            let mut client = login.client;
            let _ = client.write_all(
                format!(
                    "* BYE {}\r\n",
                    refusal_text(&Refusal::Internal(String::new()))
                )
                .as_bytes(),
            );
            log::error(&login.prefix, &format!("invalid login handoff: {e}"));
            return Err(ServeError::Control(format!("invalid IMAP handoff: {e}")));
        }
    };
    serve(ctx, login, state)
}

/// Answers the pending login command when the login cannot be finished:
/// `NO [LIMIT]` for too many connections as Dovecot answers it, otherwise
/// `NO [UNAVAILABLE]` with Dovecot's internal-error text; then the
/// connection closes (the login state stayed in the login process).
fn refuse(client: &mut UnixStream, handoff: &Handoff, refusal: &Refusal) {
    let tag = ImapHandoff::decode(&handoff.session_state)
        .map(|h| h.tag)
        .unwrap_or_default();
    let code = match refusal {
        Refusal::TooManyConnections(_) => "LIMIT",
        Refusal::Internal(_) => "UNAVAILABLE",
    };
    let text = refusal_text(refusal);
    let reply = if tag.is_empty() {
        format!("* BYE {text}\r\n")
    } else {
        format!("{tag} NO [{code}] {text}\r\n")
    };
    let _ = client.write_all(reply.as_bytes());
}

/// Bytes in and out, for the logout line.
#[derive(Default)]
struct Traffic {
    bytes_in: u64,
    bytes_out: u64,
    /// Length of the line end the last input ended with (CRLF 2, LF 1).
    last_line_end: u64,
    completions: Completions,
}

fn send(client: &mut UnixStream, traffic: &mut Traffic, out: Vec<u8>) -> std::io::Result<()> {
    if !out.is_empty() {
        client.write_all(&out)?;
        traffic.bytes_out += out.len() as u64;
        traffic.completions.scan(&out);
    }
    Ok(())
}

/// The length of the line end `data` ends with: 2 for CRLF, 1 for LF.
fn line_end(data: &[u8]) -> u64 {
    if data.ends_with(b"\r\n") {
        2
    } else if data.ends_with(b"\n") {
        1
    } else {
        0
    }
}

/// Counts finished commands in the server's output: tagged `OK`/`NO`/`BAD`
/// lines, skipping the literals (message bodies) between them, across
/// chunk boundaries.
#[derive(Default)]
struct Completions {
    /// Bytes of a literal still to skip.
    skip: u64,
    /// The start of the current line (bounded).
    line: Vec<u8>,
    /// Tagged completions seen and not yet reported.
    count: u64,
    /// The current line continues an untagged response after a literal.
    continuing: bool,
    /// The session answered IDLE with its continuation and has not
    /// finished that command yet.
    idling: bool,
    /// FETCH header sections sent (`hdr_count`) and their bytes.
    hdr_count: u64,
    hdr_bytes: u64,
    /// FETCH body sections sent (`body_count`) and their bytes.
    body_count: u64,
    body_bytes: u64,
}

impl Completions {
    const MAX_LINE_KEPT: usize = 128;

    fn scan(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = (self.skip as usize).min(data.len());
                self.skip -= n as u64;
                data = &data[n..];
                continue;
            }
            match data.iter().position(|&b| b == b'\n') {
                Some(nl) => {
                    self.keep(&data[..nl]);
                    self.end_of_line();
                    data = &data[nl + 1..];
                }
                None => {
                    self.keep(data);
                    data = &[];
                }
            }
        }
    }

    fn keep(&mut self, part: &[u8]) {
        let room = Self::MAX_LINE_KEPT.saturating_sub(self.line.len());
        self.line.extend_from_slice(&part[..part.len().min(room)]);
        // the literal's length is at the end of the line: keep the tail
        if part.len() > room {
            let tail = &part[part.len().saturating_sub(24)..];
            self.line.truncate(Self::MAX_LINE_KEPT.saturating_sub(24));
            self.line.extend_from_slice(tail);
        }
    }

    fn end_of_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if let Some(open) = line
            .strip_suffix(b"}")
            .and_then(|l| l.iter().rposition(|&b| b == b'{').map(|i| &l[i + 1..]))
        {
            let digits = open.strip_suffix(b"+").unwrap_or(open);
            if let Some(n) = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| d.parse::<u64>().ok())
            {
                self.skip = n;
                self.count_section(line, n);
                self.continuing = line.starts_with(b"* ") || self.continuing;
                return;
            }
        }
        if std::mem::take(&mut self.continuing) {
            return;
        }
        if line.starts_with(b"+ idling") {
            self.idling = true;
        }
        if !line.starts_with(b"* ") && !line.starts_with(b"+") {
            let mut words = line.splitn(3, |&b| b == b' ');
            let (tag, status) = (words.next(), words.next());
            if tag.is_some_and(|t| !t.is_empty()) && matches!(status, Some(b"OK" | b"NO" | b"BAD"))
            {
                self.count += 1;
                self.idling = false;
            }
        }
    }

    /// A FETCH literal: a header or a body section, as Dovecot counts
    /// them for `hdr_count`/`body_count` (the literal's size in bytes).
    fn count_section(&mut self, line: &[u8], size: u64) {
        if !line.starts_with(b"* ") && !self.continuing {
            return;
        }
        let text = String::from_utf8_lossy(line).to_ascii_uppercase();
        // the item right before the literal: `BODY[...]`, `BINARY[...]`,
        // `RFC822`, `RFC822.HEADER`, `RFC822.TEXT`
        let Some(brace) = text.rfind('{') else {
            return;
        };
        let item = text[..brace].trim_end();
        let item = item.rsplit([' ', '(']).next().unwrap_or("");
        let is_section = item.starts_with("BODY[")
            || item.starts_with("BINARY[")
            || item.starts_with("RFC822")
            || item.contains("]<");
        if !is_section {
            // a long section name, e.g. HEADER.FIELDS (...), splits at spaces
            if !text[..brace].contains("BODY[") && !text[..brace].contains("BINARY[") {
                return;
            }
        }
        let section = text[..brace]
            .rfind("BODY[")
            .or_else(|| text[..brace].rfind("BINARY["))
            .map(|i| &text[i..brace])
            .unwrap_or(item);
        let header = section.contains("HEADER") || item == "RFC822.HEADER";
        if header {
            self.hdr_count += 1;
            self.hdr_bytes += size;
        } else {
            self.body_count += 1;
            self.body_bytes += size;
        }
    }

    fn take(&mut self) -> u64 {
        std::mem::take(&mut self.count)
    }
}

fn serve(mut ctx: RoleContext, login: LoggedIn, state: ImapHandoff) -> Result<(), ServeError> {
    let LoggedIn {
        handoff: _,
        mut client,
        storage,
        prefix,
        anvil,
        trash,
        mail_root,
    } = login;
    let config = &ctx.config;
    let (storage, counters) = CountingStorage::new(storage, trash);
    let storage = storage.logging_problems(&prefix);
    let imap_config = ImapConfig {
        starttls: false,
        tls: state.tls,
        plaintext_without_tls: true,
        greeting: config.login_greeting.clone(),
        append_limit: (config.imap_max_append_size > 0).then_some(config.imap_max_append_size),
        ..ImapConfig::default()
    };
    let mut stats = StatsClient::connect(config);
    let mut traffic = Traffic {
        bytes_in: state.client_input.len() as u64,
        ..Traffic::default()
    };
    let mut session = ImapSession::resume(imap_config, state, Box::new(storage));
    let mut watch = SelectedWatch::new(&mail_root);
    let mut buf = vec![0u8; 64 * 1024];
    let mut last_input = Instant::now();
    let mut login_answer = 1u64;

    let reason: String = 'session: loop {
        if let Err(e) = send(&mut client, &mut traffic, session.take_output()) {
            break 'session format!("Connection closed ({e})");
        }
        while let Some(event) = session.poll_event() {
            match event {
                ImapEvent::Close => {
                    let _ = send(&mut client, &mut traffic, session.take_output());
                    break 'session "Logged out".to_string();
                }
                // other processes see changes through the mailbox itself
                ImapEvent::MailboxChanged(_) => {}
                // a post-login session never starts TLS or authenticates
                // again: those events belong to the login process
                _ => {}
            }
            if let Err(e) = send(&mut client, &mut traffic, session.take_output()) {
                break 'session format!("Connection closed ({e})");
            }
        }

        // the mailbox watcher needs a look now and then only while the
        // session idles (any other command looks at the mailbox itself);
        // otherwise sleep until the client or the master says something
        let tick = if traffic.completions.idling {
            TICK
        } else {
            IDLE_TICK
        };
        let (client_ready, control_ready) = match ctx.wait_readable(&client, tick) {
            Ok(r) => r,
            Err(e) => break 'session format!("Connection closed ({e})"),
        };
        if control_ready {
            // the master is the only writer: a shutdown, or it went away
            match Control::recv(&mut ctx.control) {
                Ok(Some((Control::Shutdown, _))) | Ok(None) | Err(_) => {
                    let _ = send(
                        &mut client,
                        &mut traffic,
                        b"* BYE Server shutting down.\r\n".to_vec(),
                    );
                    break 'session "Server shutting down.".to_string();
                }
                Ok(Some(_)) => {}
            }
        }
        if client_ready {
            match client.read(&mut buf) {
                Ok(0) => break 'session "Connection closed".to_string(),
                Ok(n) => {
                    traffic.bytes_in += n as u64;
                    traffic.last_line_end = line_end(&buf[..n]);
                    last_input = Instant::now();
                    session.set_now(unix_now());
                    session.feed(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break 'session format!("Connection closed ({e})"),
            }
        }
        // the login command's answer (written by resume) is not a command
        // of this process
        let done = traffic
            .completions
            .take()
            .saturating_sub(std::mem::take(&mut login_answer));
        if done > 0 {
            stats.inc("imap.commands", done);
        }
        let watched = if traffic.completions.idling {
            session.selected_mailbox()
        } else {
            None
        };
        if watch.changed(watched) {
            if let Some(name) = session.selected_mailbox().map(str::to_string) {
                session.mailbox_changed(&name);
            }
        }
        if last_input.elapsed() > AUTOLOGOUT {
            let _ = send(
                &mut client,
                &mut traffic,
                b"* BYE Disconnected for inactivity.\r\n".to_vec(),
            );
            break 'session "Disconnected for inactivity".to_string();
        }
    };
    let done = traffic.completions.take().saturating_sub(login_answer);
    if done > 0 {
        stats.inc("imap.commands", done);
    }
    if reason == "Logged out" {
        // Dovecot's in= counts the input it consumed: what followed the
        // LOGOUT command, and its own line end, were never read
        let unread = session.buffered_input() as u64 + traffic.last_line_end;
        traffic.bytes_in = traffic.bytes_in.saturating_sub(unread);
    }
    let c = counters.lock().map(|c| *c).unwrap_or_default();
    log::info(&prefix, &logout_line(&reason, &traffic, &c));
    drop(anvil);
    Ok(())
}

/// Dovecot's `Disconnected:` line with its default `imap_logout_format`
/// fields that Columba counts.
fn logout_line(reason: &str, traffic: &Traffic, c: &MailCounters) -> String {
    let f = &traffic.completions;
    format!(
        "Disconnected: {reason} in={} out={} deleted={} expunged={} trashed={} \
         hdr_count={} hdr_bytes={} body_count={} body_bytes={}",
        traffic.bytes_in,
        traffic.bytes_out,
        c.deleted,
        c.expunged,
        c.trashed,
        f.hdr_count,
        f.hdr_bytes,
        f.body_count,
        f.body_bytes
    )
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logout_line_reads_as_dovecots() {
        let line = logout_line(
            "Logged out",
            &Traffic {
                bytes_in: 12,
                bytes_out: 477,
                ..Traffic::default()
            },
            &MailCounters {
                deleted: 1,
                expunged: 2,
                trashed: 3,
                ..MailCounters::default()
            },
        );
        assert_eq!(
            line,
            "Disconnected: Logged out in=12 out=477 deleted=1 expunged=2 trashed=3 \
             hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0"
        );
    }

    #[test]
    fn finished_commands_are_counted_but_not_inside_literals() {
        let mut c = Completions::default();
        c.scan(b"* 1 FETCH (BODY[] {21}\r\na1 OK inside body\r\n)\r\na2 OK Fetch");
        c.scan(b" completed.\r\n* OK [ALERT] x\r\n+ idling\r\na3 NO [TRYCREATE] no\r\n");
        assert_eq!(c.take(), 2);
        c.scan(b"a4 BAD Error in IMAP command\r\n* BYE Logging out\r\na5 OK Logout completed.\r\n");
        assert_eq!(c.take(), 2);
        // a literal length split across chunks
        c.scan(b"* 2 FETCH (BODY[] {1");
        c.scan(b"2}\r\nb1 OK hidden\r\n)\r\nb2 OK done\r\n");
        assert_eq!(c.take(), 1);
        assert_eq!((c.body_count, c.body_bytes), (2, 33));
        c.scan(b"* 3 FETCH (UID 3 BODY[HEADER.FIELDS (FROM TO)] {5}\r\nab\r\n\r\n)\r\n");
        c.scan(b"* 3 FETCH (RFC822.HEADER {2}\r\n\r\n BODY[TEXT] {3}\r\nxyz)\r\n");
        assert_eq!((c.hdr_count, c.hdr_bytes), (2, 7));
        assert_eq!((c.body_count, c.body_bytes), (3, 36));
    }
}
