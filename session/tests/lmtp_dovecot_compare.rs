//! The same LMTP conversations with a live Dovecot 2.3 LMTP and with
//! [`LmtpSession`], whose adapter here answers as Dovecot's passwd-file and
//! quota would: the replies must be equal once Dovecot's product name and
//! session id are masked. BDAT (CHUNKING) is compared too.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use columba_interop::{require_tool, DovecotConfig, PrivateDovecot};
use columba_session::{DeliveryError, LmtpConfig, LmtpEvent, LmtpSession};

/// One client line and how many replies Dovecot gives it.
type Step = (String, usize);

fn step(line: &str, replies: usize) -> Step {
    (line.to_string(), replies)
}

/// Reads one (possibly multi-line) reply.
fn reply(reader: &mut BufReader<TcpStream>) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            all.push_str("<no reply>\r\n");
            return all;
        }
        assert!(!line.is_empty(), "closed after {all}");
        all.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            return all;
        }
    }
}

fn dovecot_lmtp(port: u16, steps: &[Step]) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    let mut all = reply(&mut reader);
    for (line, replies) in steps {
        w.write_all(line.as_bytes()).unwrap();
        for _ in 0..*replies {
            all.push_str(&reply(&mut reader));
        }
    }
    all
}

/// How the test adapter answers for Columba.
struct Adapter {
    users: &'static [&'static str],
    /// Deliveries larger than this exceed the quota.
    quota: usize,
}

fn columba_lmtp(config: LmtpConfig, adapter: &Adapter, steps: &[Step]) -> String {
    let mut s = LmtpSession::new(config);
    let mut all = String::from_utf8(s.take_output()).unwrap();
    for (line, _) in steps {
        s.feed(line.as_bytes());
        while let Some(e) = s.poll_event() {
            match e {
                LmtpEvent::CheckRecipient(r) => s.recipient_checked(adapter.users.contains(&&*r)),
                LmtpEvent::Deliver {
                    recipients, data, ..
                } => {
                    let result = if data.len() > adapter.quota {
                        Err(DeliveryError::QuotaExceeded)
                    } else {
                        Ok(())
                    };
                    s.delivered(vec![result; recipients.len()]);
                }
                LmtpEvent::Close => {}
            }
        }
        all.push_str(&String::from_utf8(s.take_output()).unwrap());
    }
    all
}

/// Masks Dovecot's product name and session id.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        let mut l = line.replace(" Dovecot (Debian) ready.", " Columba ready.");
        if l.starts_with("250 2.0.0 <") && l.ends_with(" Saved\r\n") {
            if let Some(start) = l.find("> ").map(|i| i + 2) {
                let id_end = l[start..].find([':', ' ']).map_or(start, |i| start + i);
                l.replace_range(start..id_end, "SESSION");
            }
        }
        out.push_str(&l);
    }
    out
}

fn hostname(greeting: &str) -> String {
    greeting.split(' ').nth(1).unwrap().to_string()
}

fn compare(dovecot: &PrivateDovecot, config: LmtpConfig, adapter: &Adapter, steps: &[Step]) {
    let theirs = dovecot_lmtp(dovecot.lmtp_port, steps);
    let config = LmtpConfig {
        hostname: hostname(&theirs),
        session_id: "SESSION".into(),
        ..config
    };
    let ours = columba_lmtp(config, adapter, steps);
    assert_eq!(
        normalize(&theirs),
        ours,
        "Dovecot:\n{theirs}\nColumba:\n{ours}"
    );
}

fn big_message() -> String {
    format!("Subject: big\r\n\r\n{}\r\n.\r\n", "x".repeat(3000))
}

#[test]
fn lmtp_replies_and_errors_as_dovecot_writes_them() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(DovecotConfig::default().user("alice", "alicepw").extra(
        "mail_plugins = $mail_plugins quota\n\
         plugin {\n  quota = count:User quota\n  quota_rule = *:storage=1K\n  quota_vsizes = yes\n}",
    ))
    .unwrap();
    let adapter = Adapter {
        users: &["alice"],
        quota: 1024,
    };
    let config = LmtpConfig::default();
    compare(
        &dovecot,
        config.clone(),
        &adapter,
        &[
            step("LHLO client.example\r\n", 1),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("RCPT TO:<alice>\r\n", 1),
            step("RCPT TO:<nobody>\r\n", 1),
            step("DATA\r\n", 1),
            step("Subject: small\r\n\r\nhi\r\n.\r\n", 1),
            step("NOOP\r\n", 1),
            step("RSET\r\n", 1),
            step("FROB\r\n", 1),
            step("QUIT\r\n", 1),
        ],
    );
    // sequence errors, MAIL before LHLO, and a delivery over quota
    compare(
        &dovecot,
        config,
        &adapter,
        &[
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("LHLO client.example\r\n", 1),
            step("RCPT TO:<alice>\r\n", 1),
            step("DATA\r\n", 1),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("DATA\r\n", 1),
            step("RCPT TO:<alice>\r\n", 1),
            step("RCPT TO:<alice@localhost>\r\n", 1),
            step("DATA\r\n", 1),
            (big_message(), 1),
            step("MAIL FROM:<a@example.com> SIZE=5000\r\n", 1),
            step("MAIL FROM:<a@example.com> BODY=8BITMIME\r\n", 1),
            step("RCPT TO:<alice> NOTIFY=NEVER\r\n", 1),
            step("QUIT\r\n", 1),
        ],
    );
}

#[test]
fn lmtp_session_ids_and_size_limit_as_dovecot_writes_them() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .user("bob", "bobpw")
            .extra(
                "mail_plugins = $mail_plugins quota\n\
                 plugin {\n  quota = count:User quota\n  quota_rule = *:storage=1M\n  \
                 quota_max_mail_size = 2k\n  quota_vsizes = yes\n}",
            ),
    )
    .unwrap();
    let adapter = Adapter {
        users: &["alice", "bob"],
        quota: usize::MAX,
    };
    let config = LmtpConfig {
        max_message: 2048,
        ..LmtpConfig::default()
    };
    compare(
        &dovecot,
        config,
        &adapter,
        &[
            step("LHLO client.example\r\n", 1),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("RCPT TO:<alice>\r\n", 1),
            step("RCPT TO:<bob>\r\n", 1),
            step("DATA\r\n", 1),
            step("Subject: small\r\n\r\nhi\r\n.\r\n", 2),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("RCPT TO:<bob>\r\n", 1),
            step("RCPT TO:<nobody>\r\n", 1),
            step("RCPT TO:<alice>\r\n", 1),
            step("DATA\r\n", 1),
            step("Subject: small\r\n\r\nhi\r\n.\r\n", 2),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("RCPT TO:<bob>\r\n", 1),
            step("DATA\r\n", 1),
            (big_message(), 1),
            step("QUIT\r\n", 1),
        ],
    );
}

#[test]
fn lmtp_bdat_chunks_as_dovecot_answers_them() {
    require_tool!("dovecot");
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("alice", "alicepw")
            .user("bob", "bobpw")
            .extra(
                "mail_plugins = $mail_plugins quota\n\
                 plugin {\n  quota = count:User quota\n  quota_rule = *:storage=1M\n  \
                 quota_max_mail_size = 2k\n  quota_vsizes = yes\n}",
            ),
    )
    .unwrap();
    let adapter = Adapter {
        users: &["alice", "bob"],
        quota: usize::MAX,
    };
    let config = LmtpConfig {
        max_message: 2048,
        ..LmtpConfig::default()
    };
    let big = "x".repeat(3000);
    compare(
        &dovecot,
        config,
        &adapter,
        &[
            step("LHLO client.example\r\n", 1),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("RCPT TO:<alice>\r\n", 1),
            step("RCPT TO:<bob>\r\n", 1),
            step("BDAT 10\r\nSubject: a", 1),
            step("BDAT 8 LAST\r\n\r\nbody\r\n", 2),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("RCPT TO:<alice>\r\n", 1),
            step("BDAT 0 LAST\r\n", 1),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("RCPT TO:<alice>\r\n", 1),
            step("BDAT 5\r\nabcde", 1),
            step("DATA\r\n", 1),
            step("RSET\r\n", 1),
            step("BDAT 3\r\nabc", 1),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("BDAT 3 LAST\r\nabc", 1),
            step("RSET\r\n", 1),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("BDAT 3 LAST\r\nabc", 1),
            step("RSET\r\n", 1),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("RCPT TO:<alice>\r\n", 1),
            step("BDAT x\r\n", 1),
            step("BDAT 3 FOO\r\nabc", 1),
            step("RSET\r\n", 1),
            step("MAIL FROM:<a@example.com>\r\n", 1),
            step("RCPT TO:<alice>\r\n", 1),
            (format!("BDAT 3000 LAST\r\n{big}"), 1),
            step("QUIT\r\n", 1),
        ],
    );
}
