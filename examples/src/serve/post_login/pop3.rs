//! The `pop3` role: one authenticated POP3 client, as the user.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use columba_session::{MailStorage, Pop3Config, Pop3Event, Pop3Handoff, Pop3Session};

use super::counting::CountingStorage;
use super::{refusal_text, LoggedIn, Refusal};
use crate::serve::control::{Control, Handoff, Service};
use crate::serve::error::ServeError;
use crate::serve::log;
use crate::serve::role::RoleContext;
use crate::serve::stats::StatsClient;

/// How long the loop sleeps between looks at the autologout clock (the
/// client and the master wake it at once).
const TICK: Duration = Duration::from_secs(30);
/// Dovecot's POP3 autologout (10 minutes).
const AUTOLOGOUT: Duration = Duration::from_secs(10 * 60);
/// Longest command line kept while waiting for its end.
const MAX_LINE: usize = 8192;

/// Runs the `pop3` role: waits for one handoff and serves that client.
pub fn run(mut ctx: RoleContext) -> Result<(), ServeError> {
    let Some(login) = super::accept(&mut ctx, Service::Pop3, refuse)? else {
        return Ok(());
    };
    let state = match Pop3Handoff::decode(&login.handoff.session_state) {
        Ok(s) => s,
        Err(e) => {
            let mut client = login.client;
            let _ = client.write_all(
                format!(
                    "-ERR [SYS/TEMP] {}\r\n",
                    refusal_text(&Refusal::Internal(String::new()))
                )
                .as_bytes(),
            );
            log::error(&login.prefix, &format!("invalid login handoff: {e}"));
            return Err(ServeError::Control(format!("invalid POP3 handoff: {e}")));
        }
    };
    serve(ctx, login, state)
}

/// Answers the pending login as Dovecot does: `-ERR [IN-USE]` for too
/// many connections, `-ERR [SYS/TEMP]` otherwise; then the connection closes.
fn refuse(client: &mut UnixStream, _handoff: &Handoff, refusal: &Refusal) {
    let code = match refusal {
        Refusal::TooManyConnections(_) => "IN-USE",
        Refusal::Internal(_) => "SYS/TEMP",
    };
    let _ = client.write_all(format!("-ERR [{code}] {}\r\n", refusal_text(refusal)).as_bytes());
}

/// What the session did, for Dovecot's `pop3_logout_format`
/// (`top=%t/%p, retr=%r/%b, del=%d/%m, size=%s`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Pop3Counters {
    top_count: u64,
    top_bytes: u64,
    retr_count: u64,
    retr_bytes: u64,
    deleted: u64,
    messages: u64,
    size: u64,
}

impl Pop3Counters {
    /// Counts one command and what the session answered to it.
    fn command(&mut self, line: &[u8], reply: &[u8]) {
        let verb: Vec<u8> = line
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .map(u8::to_ascii_uppercase)
            .collect();
        let ok = reply.starts_with(b"+OK");
        // the message bytes: without the status line and the final ".\r\n"
        let body = || {
            let first = reply.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
            reply.len().saturating_sub(first).saturating_sub(3) as u64
        };
        match verb.as_slice() {
            b"RETR" if ok => {
                self.retr_count += 1;
                self.retr_bytes += body();
            }
            b"TOP" if ok => {
                self.top_count += 1;
                self.top_bytes += body();
            }
            b"DELE" if ok => self.deleted += 1,
            b"RSET" if ok => self.deleted = 0,
            _ => {}
        }
    }

    fn logout_line(&self, reason: &str) -> String {
        format!(
            "Disconnected: {reason} top={}/{}, retr={}/{}, del={}/{}, size={}",
            self.top_count,
            self.top_bytes,
            self.retr_count,
            self.retr_bytes,
            self.deleted,
            self.messages,
            self.size
        )
    }
}

fn serve(mut ctx: RoleContext, login: LoggedIn, state: Pop3Handoff) -> Result<(), ServeError> {
    let LoggedIn {
        mut client,
        mut storage,
        prefix,
        anvil,
        trash,
        ..
    } = login;
    let config = &ctx.config;
    let mut stats = StatsClient::connect(config);
    let mut counters = Pop3Counters::default();
    if let Ok(status) = storage.status("INBOX", true) {
        counters.messages = u64::from(status.messages);
        counters.size = status.size.unwrap_or(0);
    }
    let (storage, _mail) = CountingStorage::new(storage, trash);
    let storage = storage.logging_problems(&prefix);
    let pop3_config = Pop3Config {
        stls: false,
        tls: state.tls,
        plaintext_without_tls: true,
        greeting: config.login_greeting.clone(),
        ..Pop3Config::default()
    };
    // pipelined commands in the handoff are fed line by line below
    let mut pending: Vec<u8> = state.client_input.clone();
    let state = Pop3Handoff {
        client_input: Vec::new(),
        ..state
    };
    let mut session = Pop3Session::resume(pop3_config, state, Box::new(storage));
    let mut buf = vec![0u8; 16 * 1024];
    let mut last_input = Instant::now();

    let reason: String = 'session: loop {
        // one command line at a time, so each reply is counted with its command
        while let Some(nl) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=nl).collect();
            let before = session.take_output();
            if let Err(e) = client.write_all(&before) {
                break 'session format!("Connection closed ({e})");
            }
            session.feed(&line);
            let reply = session.take_output();
            counters.command(&line, &reply);
            stats.inc("pop3.commands", 1);
            if let Err(e) = client.write_all(&reply) {
                break 'session format!("Connection closed ({e})");
            }
        }
        if pending.len() > MAX_LINE {
            // let the session answer the overlong line itself
            session.feed(&std::mem::take(&mut pending));
        }
        if let Err(e) = client.write_all(&session.take_output()) {
            break 'session format!("Connection closed ({e})");
        }
        // other events: expunges are seen by other processes through the
        // mailbox; TLS and authentication belong to the login process
        while let Some(event) = session.poll_event() {
            if event == Pop3Event::Close {
                let _ = client.write_all(&session.take_output());
                break 'session "Logged out".to_string();
            }
        }
        let (client_ready, control_ready) = match ctx.wait_readable(&client, TICK) {
            Ok(r) => r,
            Err(e) => break 'session format!("Connection closed ({e})"),
        };
        if control_ready {
            match Control::recv(&mut ctx.control) {
                Ok(Some((Control::Shutdown, _))) | Ok(None) | Err(_) => {
                    let _ = client.write_all(b"-ERR Server shutting down.\r\n");
                    break 'session "Server shutting down.".to_string();
                }
                Ok(Some(_)) => {}
            }
        }
        if client_ready {
            match client.read(&mut buf) {
                Ok(0) => break 'session "Connection closed".to_string(),
                Ok(n) => {
                    last_input = Instant::now();
                    pending.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => break 'session format!("Connection closed ({e})"),
            }
        }
        if last_input.elapsed() > AUTOLOGOUT {
            let _ = client.write_all(b"-ERR Disconnected for inactivity.\r\n");
            break 'session "Disconnected for inactivity".to_string();
        }
    };
    log::info(&prefix, &counters.logout_line(&reason));
    drop(anvil);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_counted_as_dovecot_counts_them() {
        let mut c = Pop3Counters {
            messages: 5,
            size: 1234,
            ..Pop3Counters::default()
        };
        c.command(b"RETR 1\r\n", b"+OK 5 octets\r\nhello\r\n.\r\n");
        c.command(b"retr 9\r\n", b"-ERR There's no message 9.\r\n");
        c.command(b"TOP 2 0\r\n", b"+OK\r\nSubject: x\r\n\r\n.\r\n");
        c.command(b"DELE 1\r\n", b"+OK Marked to be deleted.\r\n");
        assert_eq!(
            c.logout_line("Logged out"),
            "Disconnected: Logged out top=1/14, retr=1/7, del=1/5, size=1234"
        );
        c.command(b"RSET\r\n", b"+OK\r\n");
        assert_eq!(c.deleted, 0);
    }
}
