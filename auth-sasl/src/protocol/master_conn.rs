//! The server side of the auth-master / auth-userdb protocol (version 1.1):
//! lines in, lines out, with the lookups done through an [`AuthServer`].

use super::commands::{parse_master_command, request_id, MasterCommand, RequestParams};
use super::line::{Line, LineBuffer};
use crate::db::{Fields, LookupRequest};
use crate::escape::tab_escape_into;
use crate::server::AuthServer;

/// `MAX_INBUF_SIZE` of Dovecot's master connections.
pub const MASTER_MAX_LINE: usize = 1024;

/// What the adapter must do.
#[derive(Debug, PartialEq, Eq)]
pub enum MasterAction {
    /// Write this text (one or more LF-terminated lines).
    Send(String),
    /// Close the connection.
    Disconnect(String),
}

/// One auth-master or auth-userdb connection, server side.
#[derive(Debug)]
pub struct MasterConnection {
    lines: LineBuffer,
    userdb_only: bool,
    restricted_to_uid: Option<u32>,
    peer_pid: Option<u32>,
    got_version: bool,
    closed: bool,
}

fn lookup_request(user: &str, params: &RequestParams) -> LookupRequest {
    LookupRequest {
        user: user.to_string(),
        service: params.service.clone().unwrap_or_default(),
        remote_ip: params.remote_ip,
        local_ip: params.local_ip,
        session: params.session.clone(),
    }
}

fn user_line(kind: &str, id: u32, user: &str, fields: &Fields, user_key: bool) -> String {
    let mut line = format!("{kind}\t{id}\t");
    if user_key {
        line.push_str("user=");
    }
    tab_escape_into(&mut line, user);
    fields.write_tab_separated(&mut line);
    line.push('\n');
    line
}

impl MasterConnection {
    /// A new connection; `userdb_only` for auth-userdb (no `REQUEST`,
    /// `CACHE-FLUSH`). Returns it and the handshake to send.
    pub fn new(server_pid: u32, userdb_only: bool) -> (MasterConnection, String) {
        (
            MasterConnection {
                lines: LineBuffer::new(MASTER_MAX_LINE),
                userdb_only,
                restricted_to_uid: None,
                peer_pid: None,
                got_version: false,
                closed: false,
            },
            format!("VERSION\t1\t1\nSPID\t{server_pid}\n"),
        )
    }

    /// Applies Dovecot's auth-userdb rule for a peer whose uid/gid differ
    /// from the socket owner's on a 0666 socket: `USER` answers only for
    /// users whose userdb `uid` is the peer's, `PASS` and `LIST` fail.
    pub fn restrict_to_uid(&mut self, uid: u32) {
        self.restricted_to_uid = Some(uid);
    }

    /// The peer's pid (from `SO_PEERCRED`): a `REQUEST` whose `session_pid`
    /// differs fails, as in Dovecot.
    pub fn set_peer_pid(&mut self, pid: u32) {
        self.peer_pid = Some(pid);
    }

    /// Whether the connection must be closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Feeds bytes read from the socket.
    pub fn feed(&mut self, data: &[u8], server: &AuthServer) -> Vec<MasterAction> {
        let mut out = Vec::new();
        for line in self.lines.push(data) {
            if self.closed {
                break;
            }
            match line {
                Line::Complete(l) => self.line(&l, server, &mut out),
                Line::TooLong(prefix) => match request_id(&prefix).filter(|_| self.got_version) {
                    Some(id) => out.push(MasterAction::Send(format!(
                        "FAIL\t{id}\treason=Line too long\n"
                    ))),
                    None => {
                        self.closed = true;
                        out.push(MasterAction::Disconnect("line too long".into()));
                    }
                },
            }
        }
        out
    }

    fn line(&mut self, line: &[u8], server: &AuthServer, out: &mut Vec<MasterAction>) {
        if line.is_empty() {
            return;
        }
        let cmd = match parse_master_command(line) {
            Ok(c) => c,
            Err(e) => {
                match request_id(line).filter(|_| self.got_version) {
                    Some(id) => out.push(MasterAction::Send(format!(
                        "FAIL\t{id}\treason=Invalid request\n"
                    ))),
                    None => {
                        self.closed = true;
                        out.push(MasterAction::Disconnect(format!("malformed line: {e}")));
                    }
                }
                return;
            }
        };
        let send = |out: &mut Vec<MasterAction>, s: String| out.push(MasterAction::Send(s));
        match cmd {
            MasterCommand::Version { major, .. } => {
                if major != 1 {
                    self.closed = true;
                    out.push(MasterAction::Disconnect("unsupported VERSION".into()));
                } else {
                    self.got_version = true;
                }
            }
            _ if !self.got_version => {
                self.closed = true;
                out.push(MasterAction::Disconnect("command before VERSION".into()));
            }
            MasterCommand::User { id, user, params } => {
                if params.service.is_none() {
                    return send(out, format!("FAIL\t{id}\treason=Missing service\n"));
                }
                let restricted = self.restricted_to_uid.map(|uid| uid.to_string());
                match server.user_lookup(&lookup_request(&user, &params)) {
                    Ok(Some((_, fields)))
                        if restricted
                            .as_deref()
                            .is_some_and(|uid| fields.get("uid") != Some(uid)) =>
                    {
                        send(out, format!("FAIL\t{id}\treason=Permission denied\n"))
                    }
                    Ok(Some((user, fields))) => {
                        send(out, user_line("USER", id, &user, &fields, false))
                    }
                    Ok(None) => send(out, format!("NOTFOUND\t{id}\n")),
                    Err(_) => send(
                        out,
                        format!("FAIL\t{id}\treason=Temporary lookup failure\n"),
                    ),
                }
            }
            MasterCommand::Pass { id, .. } if self.restricted_to_uid.is_some() => {
                send(out, format!("FAIL\t{id}\treason=Permission denied\n"))
            }
            MasterCommand::List { id, .. } if self.restricted_to_uid.is_some() => {
                send(out, format!("DONE\t{id}\tfail\n"))
            }
            MasterCommand::Pass { id, user, params } => {
                if params.service.is_none() {
                    return send(out, format!("FAIL\t{id}\treason=Missing service\n"));
                }
                match server.pass_lookup(&lookup_request(&user, &params)) {
                    Ok(Some((user, fields))) => {
                        send(out, user_line("PASS", id, &user, &fields, true))
                    }
                    Ok(None) => send(out, format!("NOTFOUND\t{id}\n")),
                    Err(_) => send(
                        out,
                        format!("FAIL\t{id}\treason=Temporary lookup failure\n"),
                    ),
                }
            }
            MasterCommand::List { id, params } => {
                match server.list_users(params.user_mask.as_deref()) {
                    Ok(users) => {
                        let mut text = String::new();
                        for u in users {
                            text.push_str(&format!("LIST\t{id}\t"));
                            tab_escape_into(&mut text, &u);
                            text.push('\n');
                        }
                        text.push_str(&format!("DONE\t{id}\t\n"));
                        send(out, text);
                    }
                    Err(_) => send(out, format!("DONE\t{id}\tfail\n")),
                }
            }
            MasterCommand::Request {
                id,
                client_pid,
                auth_id,
                cookie,
                session_pid,
            } => {
                if let (Some(claimed), Some(peer)) = (session_pid, self.peer_pid) {
                    if claimed != peer {
                        return send(
                            out,
                            format!("FAIL\t{id}\treason=session_pid does not match the peer\n"),
                        );
                    }
                }
                if self.userdb_only {
                    return send(
                        out,
                        format!("FAIL\t{id}\treason=REQUEST is not allowed on this socket\n"),
                    );
                }
                let Some(login) = server.take_login(client_pid, auth_id, &cookie) else {
                    return send(out, format!("FAIL\t{id}\n"));
                };
                let request = LookupRequest::new(&login.user, "");
                match server.user_lookup(&request) {
                    Ok(Some((user, mut fields))) => {
                        fields.set("auth_mech", Some(&login.mechanism));
                        if let Some(m) = &login.master_user {
                            fields.set("master_user", Some(m));
                            fields.set("auth_user", Some(m));
                        }
                        send(out, user_line("USER", id, &user, &fields, false))
                    }
                    Ok(None) => send(out, format!("NOTFOUND\t{id}\n")),
                    Err(_) => send(out, format!("FAIL\t{id}\n")),
                }
            }
            MasterCommand::CacheFlush { id, users } => {
                if self.userdb_only {
                    return send(out, format!("FAIL\t{id}\n"));
                }
                let users: Vec<&str> = users.iter().map(String::as_str).collect();
                let n: usize = server.config().caches.iter().map(|c| c.flush(&users)).sum();
                send(out, format!("OK\t{id}\t{n}\n"))
            }
        }
    }
}
