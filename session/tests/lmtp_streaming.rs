//! LMTP DATA and BDAT reach a spool as they arrive: a 20 MB message, fed in
//! 64 KiB reads with lines far longer than any buffer, is never held by
//! the session (at most a couple of bytes stay buffered), and the spool
//! receives exactly the dot-unstuffed message.

use std::sync::{Arc, Mutex};

use columba_session::lmtp::DataSpool;
use columba_session::{LmtpConfig, LmtpEvent, LmtpSession};

/// Counts the bytes and keeps a hash-free fingerprint: length, the first
/// and last bytes, and how many dots start a line.
#[derive(Default)]
struct Seen {
    begun: usize,
    bytes: u64,
    head: Vec<u8>,
    tail: Vec<u8>,
}

struct Spool(Arc<Mutex<Seen>>);

impl DataSpool for Spool {
    fn begin(&mut self) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        s.begun += 1;
        s.bytes = 0;
        s.head.clear();
        s.tail.clear();
        Ok(())
    }

    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        let mut s = self.0.lock().unwrap();
        s.bytes += chunk.len() as u64;
        if s.head.len() < 64 {
            let n = (64 - s.head.len()).min(chunk.len());
            s.head.extend_from_slice(&chunk[..n]);
        }
        s.tail.extend_from_slice(chunk);
        let keep = s.tail.len().saturating_sub(64);
        s.tail.drain(..keep);
        Ok(())
    }
}

fn session(max: usize) -> (LmtpSession, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = LmtpSession::with_spool(
        LmtpConfig {
            max_message: max,
            ..LmtpConfig::default()
        },
        Box::new(Spool(seen.clone())),
    );
    (s, seen)
}

fn answer(s: &mut LmtpSession) -> Option<Vec<u8>> {
    let mut delivered = None;
    while let Some(e) = s.poll_event() {
        match e {
            LmtpEvent::CheckRecipient(_) => s.recipient_checked(true),
            LmtpEvent::Deliver {
                recipients, data, ..
            } => {
                delivered = Some(data);
                s.delivered(vec![Ok(()); recipients.len()]);
            }
            LmtpEvent::Close => {}
        }
    }
    delivered
}

#[test]
fn a_20_mb_data_goes_to_the_spool_in_bounded_memory() {
    let (mut s, seen) = session(64 * 1024 * 1024);
    s.feed(b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<u>\r\nDATA\r\n");
    answer(&mut s);
    // 20 lines of 1 MB each, every one starting with a stuffed dot
    let mut line = vec![b'.'; 1];
    line.extend(std::iter::repeat_n(b'y', 1024 * 1024 - 3));
    line.extend_from_slice(b"\r\n");
    let mut max_buffered = 0;
    for _ in 0..20 {
        for chunk in line.chunks(64 * 1024) {
            s.feed(chunk);
            max_buffered = max_buffered.max(s.buffered_input());
            assert!(answer(&mut s).is_none());
        }
    }
    s.feed(b".\r\n");
    let data = answer(&mut s).expect("delivered");
    assert!(
        data.is_empty(),
        "the message is in the spool, not the event"
    );
    assert!(max_buffered <= 2, "session held {max_buffered} bytes");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.begun, 1);
    // each line lost its stuffed dot
    assert_eq!(seen.bytes, 20 * (1024 * 1024 - 1));
    assert!(seen.head.iter().all(|&b| b == b'y'));
    assert!(seen.tail.ends_with(b"yy\r\n"));
    let out = String::from_utf8(s.take_output()).unwrap();
    assert!(out.ends_with("354 OK\r\n250 2.0.0 <u> Saved\r\n"), "{out}");
}

#[test]
fn bdat_chunks_go_to_the_spool_and_the_limit_refuses_at_the_end() {
    let (mut s, seen) = session(100);
    s.feed(b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<u>\r\n");
    answer(&mut s);
    s.take_output();
    s.feed(b"BDAT 5\r\n.abc\n");
    s.feed(b"BDAT 3 LAST\r\n\r\n.");
    assert!(answer(&mut s).expect("delivered").is_empty());
    assert_eq!(seen.lock().unwrap().bytes, 8, "BDAT data is not unstuffed");
    assert_eq!(seen.lock().unwrap().tail, b".abc\n\r\n.");
    assert_eq!(
        String::from_utf8(s.take_output()).unwrap(),
        "250 2.0.0 Added 5 octets\r\n250 2.0.0 <u> Saved\r\n"
    );
    // over max_message: refused for every recipient, nothing delivered
    s.feed(b"MAIL FROM:<a@b>\r\nRCPT TO:<u>\r\nRCPT TO:<v>\r\n");
    answer(&mut s);
    s.take_output();
    s.feed(format!("BDAT 200 LAST\r\n{}", "z".repeat(200)).as_bytes());
    assert!(answer(&mut s).is_none());
    let out = String::from_utf8(s.take_output()).unwrap();
    assert_eq!(
        out,
        "451 4.2.0 <u> Mail size is larger than the maximum size allowed by server configuration\r\n\
         451 4.2.0 <v> Mail size is larger than the maximum size allowed by server configuration\r\n"
    );
}
