//! The LMTP session (RFC 2033): LHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT,
//! with one reply per accepted recipient after DATA, as Postfix expects.
//! Replies are worded as Dovecot 2.3's LMTP words them (`250 2.0.0 <rcpt>
//! <session-id> Saved`, `552 5.2.2 <rcpt> Quota exceeded ...`), so logs and
//! MTA bounces read the same.
//! [`LmtpSession`] asks the adapter, through [`LmtpEvent`]s, whether a
//! recipient exists and to deliver the message; it never touches storage.

use std::collections::VecDeque;

use base64::Engine;

/// Longest command line accepted (RFC 5321 allows 512; Dovecot is lenient).
const MAX_LINE: usize = 4096;

/// How an LMTP session is set up.
#[derive(Debug, Clone)]
pub struct LmtpConfig {
    /// The host name in the greeting and LHLO answer.
    pub hostname: String,
    /// Largest message accepted, in bytes. A larger one is refused for
    /// every recipient after DATA, as Dovecot refuses a message over
    /// `quota_max_mail_size`.
    pub max_message: usize,
    /// This connection's session id (Dovecot: 22 base64 characters, see
    /// [`session_id`]), from which each delivery's id in the `Saved` reply
    /// is derived. Empty: the replies carry no id.
    pub session_id: String,
}

/// A session id as Dovecot writes it: 16 random bytes (the adapter reads
/// them from the OS) in base64 without padding.
pub fn session_id(random: [u8; 16]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(random)
}

/// Why a delivery to one recipient failed ([`LmtpSession::delivered`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// The user's quota is full: `552 5.2.2 <rcpt> Quota exceeded (mailbox
    /// for user is full)`, a permanent failure as in Dovecot (with
    /// `quota_full_tempfail = no`).
    QuotaExceeded,
    /// Any other failure, retried by the MTA: `451 4.2.0 <rcpt> <reason>`.
    /// Dovecot's reason for a storage fault is `Internal error occurred.
    /// Refer to server log for more information.`
    Temporary(String),
}

impl Default for LmtpConfig {
    fn default() -> Self {
        LmtpConfig {
            hostname: "localhost".into(),
            max_message: 64 * 1024 * 1024,
            session_id: String::new(),
        }
    }
}

/// What the adapter has to do for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LmtpEvent {
    /// Does this recipient exist? Answer with [`LmtpSession::recipient_checked`].
    CheckRecipient(String),
    /// Deliver `data` to each recipient; answer with
    /// [`LmtpSession::delivered`], one result per recipient, in order.
    Deliver {
        /// MAIL FROM's address.
        from: String,
        /// The accepted recipients.
        recipients: Vec<String>,
        /// The message, dot-unstuffed, with the client's line endings.
        data: Vec<u8>,
    },
    /// Send the pending output, then close the connection.
    Close,
}

#[derive(Debug, PartialEq, Eq)]
enum Waiting {
    No,
    Recipient(String),
    Delivery,
}

/// One LMTP connection's protocol state, sans-IO.
pub struct LmtpSession {
    config: LmtpConfig,
    input: Vec<u8>,
    out: Vec<u8>,
    events: VecDeque<LmtpEvent>,
    from: Option<String>,
    recipients: Vec<String>,
    /// Each accepted recipient's place among the transaction's RCPT
    /// commands (Dovecot numbers refused ones too: `:R3` after one refusal).
    rcpt_numbers: Vec<usize>,
    /// RCPT commands checked in this transaction.
    rcpts_checked: usize,
    in_data: bool,
    data: Vec<u8>,
    too_big: bool,
    waiting: Waiting,
    closed: bool,
    /// Transactions (MAIL commands accepted) so far in this connection.
    transactions: u32,
}

/// The address inside `<...>` after `prefix:` (case-insensitive).
fn path_arg(line: &str, prefix: &str) -> Option<String> {
    let rest = line.get(..prefix.len())?;
    if !rest.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = line[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    Some(rest[..end].to_string())
}

/// Whether every `NAME=value` parameter after the path is one of `known`
/// (Dovecot answers `555 5.5.4 Unsupported parameters` otherwise).
fn params_supported(line: &str, known: &[&str]) -> bool {
    let after_path = line.find('>').map_or("", |i| &line[i + 1..]);
    after_path.split_ascii_whitespace().all(|p| {
        let name = p.split('=').next().unwrap_or(p);
        known.iter().any(|k| k.eq_ignore_ascii_case(name))
    })
}

impl LmtpSession {
    /// A new session; the greeting is already in the output.
    pub fn new(config: LmtpConfig) -> LmtpSession {
        let out = format!("220 {} Columba ready.\r\n", config.hostname).into_bytes();
        LmtpSession {
            config,
            input: Vec::new(),
            out,
            events: VecDeque::new(),
            from: None,
            recipients: Vec::new(),
            rcpt_numbers: Vec::new(),
            rcpts_checked: 0,
            in_data: false,
            data: Vec::new(),
            too_big: false,
            waiting: Waiting::No,
            closed: false,
            transactions: 0,
        }
    }

    /// Bytes to send (taken).
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The next event for the adapter.
    pub fn poll_event(&mut self) -> Option<LmtpEvent> {
        self.events.pop_front()
    }

    /// Bytes from the client.
    pub fn feed(&mut self, data: &[u8]) {
        if self.closed {
            return;
        }
        self.input.extend_from_slice(data);
        self.process();
    }

    /// The answer to [`LmtpEvent::CheckRecipient`].
    pub fn recipient_checked(&mut self, exists: bool) {
        let Waiting::Recipient(rcpt) = std::mem::replace(&mut self.waiting, Waiting::No) else {
            return;
        };
        self.rcpts_checked += 1;
        if exists {
            self.recipients.push(rcpt);
            self.rcpt_numbers.push(self.rcpts_checked);
            self.reply("250 2.1.5 OK");
        } else {
            self.reply(&format!("550 5.1.1 <{rcpt}> User doesn't exist: {rcpt}"));
        }
        self.process();
    }

    /// The id Dovecot gives the delivery to the recipient of the current
    /// transaction's `n`th (1-based) RCPT command: the session id, `:T<t>` from the second
    /// transaction on, `:R<n>` from the second recipient on.
    fn delivery_id(&self, n: usize) -> String {
        let mut id = self.config.session_id.clone();
        if self.transactions > 1 {
            id.push_str(&format!(":T{}", self.transactions));
        }
        if n > 1 {
            id.push_str(&format!(":R{n}"));
        }
        id
    }

    /// The answer to [`LmtpEvent::Deliver`]: one result per recipient.
    pub fn delivered(&mut self, results: Vec<Result<(), DeliveryError>>) {
        if self.waiting != Waiting::Delivery {
            return;
        }
        self.waiting = Waiting::No;
        let recipients = std::mem::take(&mut self.recipients);
        let numbers = std::mem::take(&mut self.rcpt_numbers);
        self.rcpts_checked = 0;
        for (i, rcpt) in recipients.iter().enumerate() {
            match results.get(i) {
                Some(Ok(())) => {
                    let id = self.delivery_id(numbers.get(i).copied().unwrap_or(i + 1));
                    if id.is_empty() {
                        self.reply(&format!("250 2.0.0 <{rcpt}> Saved"));
                    } else {
                        self.reply(&format!("250 2.0.0 <{rcpt}> {id} Saved"));
                    }
                }
                Some(Err(DeliveryError::QuotaExceeded)) => self.reply(&format!(
                    "552 5.2.2 <{rcpt}> Quota exceeded (mailbox for user is full)"
                )),
                Some(Err(DeliveryError::Temporary(reason))) => {
                    self.reply(&format!("451 4.2.0 <{rcpt}> {reason}"))
                }
                None => self.reply(&format!(
                    "451 4.3.0 <{rcpt}> Internal error occurred. Refer to server log for more \
                     information."
                )),
            }
        }
        self.from = None;
        self.process();
    }

    fn reply(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn process(&mut self) {
        while self.waiting == Waiting::No && !self.closed {
            let Some(nl) = self.input.iter().position(|&b| b == b'\n') else {
                if !self.in_data && self.input.len() > MAX_LINE {
                    self.reply("500 5.5.2 Line too long");
                    self.input.clear();
                }
                break;
            };
            let mut line: Vec<u8> = self.input.drain(..=nl).collect();
            if self.in_data {
                self.data_line(line);
                continue;
            }
            line.truncate(line.len() - 1);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.len() > MAX_LINE {
                self.reply("500 5.5.2 Line too long");
                continue;
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            self.command(&text);
        }
    }

    fn data_line(&mut self, line: Vec<u8>) {
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content == b"." {
            self.in_data = false;
            if self.too_big {
                self.too_big = false;
                self.data.clear();
                let rcpts = std::mem::take(&mut self.recipients);
                self.rcpt_numbers.clear();
                self.rcpts_checked = 0;
                for r in rcpts {
                    self.reply(&format!(
                        "451 4.2.0 <{r}> Mail size is larger than the maximum size allowed \
                         by server configuration"
                    ));
                }
                self.from = None;
                return;
            }
            self.waiting = Waiting::Delivery;
            self.events.push_back(LmtpEvent::Deliver {
                from: self.from.clone().unwrap_or_default(),
                recipients: self.recipients.clone(),
                data: std::mem::take(&mut self.data),
            });
            return;
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        if self.data.len() + unstuffed.len() > self.config.max_message {
            self.too_big = true;
            self.data.clear();
        }
        if !self.too_big {
            self.data.extend_from_slice(unstuffed);
        }
    }

    fn command(&mut self, line: &str) {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "LHLO" => {
                self.from = None;
                self.recipients.clear();
                self.rcpt_numbers.clear();
                self.rcpts_checked = 0;
                let host = self.config.hostname.clone();
                self.reply(&format!("250-{host}"));
                self.reply("250-8BITMIME");
                self.reply("250-ENHANCEDSTATUSCODES");
                self.reply("250 PIPELINING");
            }
            "MAIL" => {
                // Dovecot takes MAIL before LHLO too
                if self.from.is_some() {
                    return self.reply("503 5.5.1 MAIL already given");
                }
                match path_arg(line, "MAIL FROM:") {
                    Some(_) if !params_supported(line, &["BODY"]) => {
                        self.reply("555 5.5.4 Unsupported parameters")
                    }
                    Some(from) => {
                        self.from = Some(from);
                        self.transactions += 1;
                        self.reply("250 2.1.0 OK");
                    }
                    None => self.reply("501 5.5.4 Invalid parameters"),
                }
            }
            "RCPT" => {
                if self.from.is_none() {
                    return self.reply("503 5.5.0 MAIL needed first");
                }
                match path_arg(line, "RCPT TO:") {
                    Some(_) if !params_supported(line, &[]) => {
                        self.reply("555 5.5.4 Unsupported parameters")
                    }
                    Some(to) if !to.is_empty() => {
                        self.waiting = Waiting::Recipient(to.clone());
                        self.events.push_back(LmtpEvent::CheckRecipient(to));
                    }
                    _ => self.reply("501 5.5.4 Invalid parameters"),
                }
            }
            "DATA" => {
                if self.from.is_none() {
                    return self.reply("503 5.5.0 MAIL needed first");
                }
                if self.recipients.is_empty() {
                    return self.reply("503 5.5.0 No valid recipients");
                }
                self.in_data = true;
                self.data.clear();
                self.reply("354 OK");
            }
            "RSET" => {
                self.from = None;
                self.recipients.clear();
                self.rcpt_numbers.clear();
                self.rcpts_checked = 0;
                self.reply("250 2.0.0 OK");
            }
            "NOOP" => self.reply("250 2.0.0 OK"),
            "QUIT" => {
                self.reply("221 2.0.0 Bye");
                self.closed = true;
                self.events.push_back(LmtpEvent::Close);
            }
            _ => self.reply("500 5.5.1 Unknown command"),
        }
    }
}
