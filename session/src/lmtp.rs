//! The LMTP session (RFC 2033): LHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT,
//! with one reply per accepted recipient after DATA, as Postfix expects.
//! Replies are worded as Dovecot 2.3's LMTP words them (`250 2.0.0 <rcpt>
//! <session-id> Saved`, `552 5.2.2 <rcpt> Quota exceeded ...`), so logs and
//! MTA bounces read the same.
//! [`LmtpSession`] asks the adapter, through [`LmtpEvent`]s, whether a
//! recipient exists and to deliver the message; it never touches storage.
//!
//! The message comes with DATA (dot-stuffed) or with BDAT chunks (RFC 3030
//! CHUNKING, as Dovecot offers it). It is unstuffed as it arrives, never
//! held as whole lines: without a spool it is collected up to
//! [`LmtpConfig::max_message`] and handed over in [`LmtpEvent::Deliver`];
//! with a [`DataSpool`] ([`LmtpSession::with_spool`]) every chunk goes to
//! the spool as it arrives, so memory stays bounded whatever the size.

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

/// Where a session with [`LmtpSession::with_spool`] writes each message as
/// it arrives (dot-unstuffed, with the client's line endings), e.g. a file
/// in the recipients' `tmp/`; the adapter reads it back at
/// [`LmtpEvent::Deliver`].
pub trait DataSpool: Send {
    /// A new message begins: anything written before is discarded.
    fn begin(&mut self) -> std::io::Result<()>;
    /// The next bytes of the message.
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()>;
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
        /// The message, dot-unstuffed, with the client's line endings;
        /// empty when the session has a [`DataSpool`] (the message is in
        /// the spool).
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
    /// DATA: the next byte starts a line (a dot there is special).
    line_start: bool,
    data: Vec<u8>,
    /// Bytes of the current message so far.
    data_size: usize,
    too_big: bool,
    spool: Option<Box<dyn DataSpool>>,
    /// Writing the current message to the spool failed.
    spool_failed: bool,
    /// BDAT: bytes of the current chunk still to come.
    bdat_remaining: u64,
    /// BDAT: the current chunk is skipped (its command was refused).
    bdat_skip: bool,
    /// BDAT: the current chunk is the LAST one.
    bdat_last: bool,
    /// BDAT: its size, for the `Added <n> octets` reply.
    bdat_size: u64,
    /// BDAT: this transaction's message is being sent in chunks.
    bdat_active: bool,
    /// BDAT: a chunk of this transaction was refused; until RSET every
    /// further chunk is refused too, as Dovecot does.
    chunk_failed: bool,
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
            line_start: true,
            data: Vec::new(),
            data_size: 0,
            too_big: false,
            spool: None,
            spool_failed: false,
            bdat_remaining: 0,
            bdat_skip: false,
            bdat_last: false,
            bdat_size: 0,
            bdat_active: false,
            chunk_failed: false,
            waiting: Waiting::No,
            closed: false,
            transactions: 0,
        }
    }

    /// A session whose messages are written to `spool` as they arrive
    /// (bounded memory); [`LmtpEvent::Deliver`] then carries no data.
    pub fn with_spool(config: LmtpConfig, spool: Box<dyn DataSpool>) -> LmtpSession {
        let mut s = LmtpSession::new(config);
        s.spool = Some(spool);
        s
    }

    /// Client bytes the session holds that were not handled yet: a partial
    /// command line, or at most the two bytes of a possible `.` end marker
    /// during DATA (message bytes go on at once). An adapter can use this
    /// for backpressure.
    pub fn buffered_input(&self) -> usize {
        self.input.len()
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
            if self.bdat_remaining > 0 {
                if self.input.is_empty() {
                    break;
                }
                let n = self.bdat_remaining.min(self.input.len() as u64) as usize;
                let chunk: Vec<u8> = self.input.drain(..n).collect();
                if !self.bdat_skip {
                    self.message_bytes(&chunk);
                }
                self.bdat_remaining -= n as u64;
                if self.bdat_remaining == 0 {
                    self.chunk_done();
                }
                continue;
            }
            if self.in_data {
                if self.scan_data() {
                    self.in_data = false;
                    self.end_message();
                    continue;
                }
                break;
            }
            let Some(nl) = self.input.iter().position(|&b| b == b'\n') else {
                if !self.in_data && self.input.len() > MAX_LINE {
                    self.reply("500 5.5.2 Line too long");
                    self.input.clear();
                }
                break;
            };
            let mut line: Vec<u8> = self.input.drain(..=nl).collect();
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

    /// DATA: unstuffs what is buffered, up to the end marker; true once
    /// the `.` line was read. A partial line is passed on at once, so no
    /// line is ever held whole.
    fn scan_data(&mut self) -> bool {
        let input = std::mem::take(&mut self.input);
        let mut i = 0;
        let mut ended = false;
        while i < input.len() {
            if self.line_start {
                let rest = &input[i..];
                if rest[0] == b'.' {
                    match rest.get(1) {
                        None => break,
                        Some(b'\n') => {
                            i += 2;
                            ended = true;
                            break;
                        }
                        Some(b'\r') => match rest.get(2) {
                            None => break,
                            Some(b'\n') => {
                                i += 3;
                                ended = true;
                                break;
                            }
                            Some(_) => i += 1,
                        },
                        // a stuffed dot
                        Some(_) => i += 1,
                    }
                }
                self.line_start = false;
                continue;
            }
            match input[i..].iter().position(|&b| b == b'\n') {
                Some(p) => {
                    self.message_bytes(&input[i..=i + p]);
                    i += p + 1;
                    self.line_start = true;
                }
                None => {
                    self.message_bytes(&input[i..]);
                    i = input.len();
                }
            }
        }
        self.input = input[i..].to_vec();
        ended
    }

    /// A new message begins (DATA accepted, or the first BDAT chunk).
    fn begin_message(&mut self) {
        self.data.clear();
        self.data_size = 0;
        self.too_big = false;
        self.spool_failed = false;
        if let Some(spool) = self.spool.as_mut() {
            self.spool_failed = spool.begin().is_err();
        }
    }

    /// The next bytes of the current message.
    fn message_bytes(&mut self, bytes: &[u8]) {
        if self.too_big {
            return;
        }
        if self.data_size + bytes.len() > self.config.max_message {
            self.too_big = true;
            self.data = Vec::new();
            return;
        }
        self.data_size += bytes.len();
        match self.spool.as_mut() {
            Some(spool) => {
                if !self.spool_failed && spool.write(bytes).is_err() {
                    self.spool_failed = true;
                }
            }
            None => self.data.extend_from_slice(bytes),
        }
    }

    /// The message is complete: deliver it, or refuse it for every
    /// recipient.
    fn end_message(&mut self) {
        self.bdat_active = false;
        if self.too_big || self.spool_failed {
            let text = if self.too_big {
                "451 4.2.0 <{}> Mail size is larger than the maximum size allowed by server \
                 configuration"
            } else {
                "451 4.3.0 <{}> Internal error occurred. Refer to server log for more \
                 information."
            };
            self.too_big = false;
            self.spool_failed = false;
            self.data = Vec::new();
            let rcpts = std::mem::take(&mut self.recipients);
            self.rcpt_numbers.clear();
            self.rcpts_checked = 0;
            for r in rcpts {
                self.reply(&text.replace("{}", &r));
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
    }

    /// A BDAT chunk was read (or skipped) whole.
    fn chunk_done(&mut self) {
        if self.bdat_skip {
            self.bdat_skip = false;
            return;
        }
        if self.bdat_last {
            self.end_message();
        } else {
            let n = self.bdat_size;
            self.reply(&format!("250 2.0.0 Added {n} octets"));
        }
    }

    /// `BDAT <size> [LAST]`, answered as Dovecot 2.3 answers it.
    fn bdat(&mut self, line: &str) {
        let mut args = line.split(' ').skip(1);
        let Some(size) = args.next().and_then(|n| n.parse::<u64>().ok()) else {
            return self.reply("501 5.5.4 Invalid chunk size parameter");
        };
        let last = match args.next() {
            None => false,
            Some(m) if m.eq_ignore_ascii_case("LAST") && args.next().is_none() => true,
            Some(_) => {
                self.skip_chunk(size);
                return self.reply("501 5.5.4 Invalid end marker parameter");
            }
        };
        if self.chunk_failed {
            self.skip_chunk(size);
            return self.reply("503 5.5.0 Previous data chunk failed, issue RSET first");
        }
        let refusal = if self.from.is_none() {
            Some("503 5.5.0 MAIL needed first")
        } else if self.recipients.is_empty() {
            Some("503 5.5.0 No valid recipients")
        } else {
            None
        };
        if let Some(text) = refusal {
            self.chunk_failed = true;
            self.skip_chunk(size);
            return self.reply(text);
        }
        if !self.bdat_active {
            self.bdat_active = true;
            self.begin_message();
        }
        self.bdat_size = size;
        self.bdat_last = last;
        self.bdat_skip = false;
        self.bdat_remaining = size;
        if size == 0 {
            self.chunk_done();
        }
    }

    /// The client sends the chunk's bytes anyway: they are read and dropped.
    fn skip_chunk(&mut self, size: u64) {
        self.bdat_skip = size > 0;
        self.bdat_remaining = size;
    }

    /// A transaction ends without a message (RSET, LHLO).
    fn reset_transaction(&mut self) {
        self.from = None;
        self.recipients.clear();
        self.rcpt_numbers.clear();
        self.rcpts_checked = 0;
        self.bdat_active = false;
        self.chunk_failed = false;
        self.data = Vec::new();
    }

    fn command(&mut self, line: &str) {
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "LHLO" => {
                self.reset_transaction();
                let host = self.config.hostname.clone();
                self.reply(&format!("250-{host}"));
                self.reply("250-8BITMIME");
                self.reply("250-CHUNKING");
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
                if self.bdat_active || self.chunk_failed {
                    return self.reply("503 5.5.0 Bad sequence of commands");
                }
                if self.recipients.is_empty() {
                    return self.reply("503 5.5.0 No valid recipients");
                }
                self.in_data = true;
                self.line_start = true;
                self.begin_message();
                self.reply("354 OK");
            }
            "BDAT" => self.bdat(line),
            "RSET" => {
                self.reset_transaction();
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
