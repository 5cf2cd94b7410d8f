//! Postfix delivering to columba's LMTP: what arrives, byte for byte,
//! and what Postfix is told, recipient by recipient.

use super::*;

/// A 2 MB message whose every third line starts with a dot, some lines
/// only a dot: LMTP's dot-stuffing across every buffer boundary.
fn big_message() -> Vec<u8> {
    let mut m = b"From: Alice <alice@remote.test>\r\n\
        To: Demo <demo@example.test>\r\n\
        Subject: big\r\n\
        Date: Sun, 29 Nov 2026 04:00:02 +0000\r\n\
        Message-ID: <big@remote.test>\r\n\
        \r\n"
        .to_vec();
    let mut n = 0u64;
    while m.len() < 2 << 20 {
        n += 1;
        let line = match n % 3 {
            0 if n.is_multiple_of(7) => ".".to_string(),
            0 => format!(".{n} {}", "y".repeat((n % 97) as usize)),
            _ => format!("{n} {}", "z".repeat((n * 31 % 200) as usize)),
        };
        m.extend_from_slice(line.as_bytes());
        m.extend_from_slice(b"\r\n");
    }
    m
}

/// Postfix delivers to columba's LMTP at `transport` (a `lmtp:` next hop
/// naming columba's socket or port), and what a user notices is checked:
/// the message in the Maildir (read back over IMAP) byte for byte, one LMTP
/// reply per recipient after DATA, the 550 of an unknown recipient in
/// Postfix's log and in the bounce the sender receives.
fn lmtp_scenario(columba: &Columba, postfix: &Postfix) {
    let port = postfix.ports[0];
    let first = first_message();
    let out = client(&[
        "send",
        &port.to_string(),
        "alice@remote.test",
        "demo@example.test",
        &postfix.write_file("first.eml", &first),
    ]);
    assert_eq!(out, serde_json::json!({"refused": {}}), "{}", postfix.log());
    let first_lines = postfix.wait_for_deliveries("<first@remote.test>", 1);
    assert_eq!(first_lines[0].status, "sent", "{first_lines:?}");
    assert!(
        first_lines[0]
            .reply
            .starts_with("250 2.0.0 <demo@example.test> "),
        "{first_lines:?}"
    );

    let inbox = fetch_inbox(columba.imap_port, "demo", "demopw");
    let stored = inbox
        .iter()
        .find(|m| contains(m, b"Message-ID: <first@remote.test>"))
        .unwrap_or_else(|| panic!("not in demo's INBOX: {inbox:?}"));
    let (trace, rest) = added_trace_headers(stored);
    assert_eq!(
        rest,
        &first[..],
        "the stored message differs from the one sent:\n{}",
        String::from_utf8_lossy(stored)
    );
    let names: Vec<&str> = trace.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[..2], ["Return-Path", "Delivered-To"], "{trace:?}");
    assert_eq!(trace[0].1, "<alice@remote.test>");
    assert_eq!(trace[1].1, "demo@example.test");
    let postfix_received = &trace.last().unwrap().1;
    assert!(
        postfix_received.contains("by postfix.test (Postfix) with ESMTP id "),
        "{trace:?}"
    );

    // 2 MB, dot lines throughout
    let big = big_message();
    let out = client(&[
        "send",
        &port.to_string(),
        "alice@remote.test",
        "demo@example.test",
        &postfix.write_file("big.eml", &big),
    ]);
    assert_eq!(out, serde_json::json!({"refused": {}}), "{}", postfix.log());
    let big_lines = postfix.wait_for_deliveries("<big@remote.test>", 1);
    assert_eq!(big_lines[0].status, "sent", "{big_lines:?}");
    let inbox = fetch_inbox(columba.imap_port, "demo", "demopw");
    let stored = inbox
        .iter()
        .find(|m| contains(m, b"Message-ID: <big@remote.test>"))
        .expect("the big message in demo's INBOX");
    assert!(
        added_trace_headers(stored).1 == &big[..],
        "the 2 MB message differs"
    );

    // Four recipients: two delivered, one failing in the mail process
    // (its home is unusable), one unknown.
    let out = client(&[
        "send",
        &port.to_string(),
        "demo@example.test",
        "demo@example.test,bob@example.test,broken@example.test,nobody@example.test",
        &postfix.write_file("second.eml", &second_message()),
    ]);
    assert_eq!(out, serde_json::json!({"refused": {}}), "{}", postfix.log());
    let lines = postfix.wait_for_deliveries("<second@example.test>", 4);
    let by_rcpt: BTreeMap<&str, &support::Delivery> =
        lines.iter().map(|d| (d.to.as_str(), d)).collect();
    let demo = by_rcpt["demo@example.test"];
    let bob = by_rcpt["bob@example.test"];
    let broken = by_rcpt["broken@example.test"];
    let nobody = by_rcpt["nobody@example.test"];
    assert_eq!(
        (demo.status.as_str(), bob.status.as_str()),
        ("sent", "sent"),
        "{lines:#?}"
    );
    assert!(
        demo.reply.starts_with("250 2.0.0 <demo@example.test> ") && demo.reply.ends_with(" Saved")
    );
    assert!(
        bob.reply.starts_with("250 2.0.0 <bob@example.test> ") && bob.reply.ends_with(" Saved")
    );
    // each recipient got its own reply: its own delivery session id
    assert_ne!(
        demo.reply.split(' ').nth(3),
        bob.reply.split(' ').nth(3),
        "{lines:#?}"
    );
    assert_eq!(broken.status, "deferred", "{lines:#?}");
    assert!(
        broken.reply.contains("451 4.2.0 <broken@example.test> ")
            && broken.reply.ends_with("(in reply to end of DATA command)"),
        "{lines:#?}"
    );
    assert_eq!(nobody.status, "bounced", "{lines:#?}");
    assert!(
        nobody.reply.ends_with(
            "said: 550 5.1.1 <nobody@example.test> User doesn't exist: \
             nobody@example.test (in reply to RCPT TO command)"
        ),
        "{lines:#?}"
    );

    let bob_inbox = fetch_inbox(columba.imap_port, "bob", "bobpw");
    assert_eq!(bob_inbox.len(), 1, "{bob_inbox:?}");
    assert_eq!(added_trace_headers(&bob_inbox[0]).1, &second_message()[..]);

    // The bounce for nobody reaches the sender, demo, through LMTP too.
    let bounce = support::poll(|| {
        fetch_inbox(columba.imap_port, "demo", "demopw")
            .into_iter()
            .find(|m| contains(m, b"Subject: Undelivered Mail Returned to Sender"))
    })
    .unwrap_or_else(|| panic!("no bounce in demo's INBOX\n{}", postfix.log()));
    let unfolded = String::from_utf8_lossy(&bounce).replace("\r\n    ", " ");
    assert!(
        unfolded.contains(
            "said: 550 5.1.1 <nobody@example.test> User doesn't exist: \
             nobody@example.test (in reply to RCPT TO command)"
        ),
        "{unfolded}"
    );
    assert!(!unfolded.contains("<broken@example.test>:"), "{unfolded}");
    assert!(!unfolded.contains("<bob@example.test>:"), "{unfolded}");
}

#[test]
fn postfix_delivers_through_the_lmtp_unix_socket() {
    require_tool!("postfix");
    require_tool!("python3");
    if !runnable() {
        return;
    }
    let columba = Columba::start(MECHANISMS);
    let transport = format!("lmtp:unix:{}", columba.base_dir.join("lmtp").display());
    let postfix = Postfix::start(&transport, None, &[SmtpdPort::default()]);
    lmtp_scenario(&columba, &postfix);
    columba.assert_log_clean(&["broken"]);
}

#[test]
fn postfix_delivers_through_the_lmtp_tcp_listener() {
    require_tool!("postfix");
    require_tool!("python3");
    if !runnable() {
        return;
    }
    let columba = Columba::start(MECHANISMS);
    let transport = format!("lmtp:inet:127.0.0.1:{}", columba.lmtp_port);
    let postfix = Postfix::start(&transport, None, &[SmtpdPort::default()]);
    lmtp_scenario(&columba, &postfix);
    columba.assert_log_clean(&["broken"]);
}

/// Thirty recipients in one LMTP transaction (Postfix sends up to 50):
/// thirty replies after DATA, each naming its recipient, thirty copies in
/// the INBOX.
#[test]
fn thirty_recipients_get_thirty_replies_after_data() {
    require_tool!("postfix");
    require_tool!("python3");
    if !runnable() {
        return;
    }
    let columba = Columba::start(MECHANISMS);
    let transport = format!("lmtp:unix:{}", columba.base_dir.join("lmtp").display());
    let postfix = Postfix::start(&transport, None, &[SmtpdPort::default()]);
    let rcpts: Vec<String> = (1..=30).map(|n| format!("demo+{n}@example.test")).collect();
    let message = b"From: a@remote.test\r\nMessage-ID: <thirty@remote.test>\r\n\
                    Date: Sun, 29 Nov 2026 04:00:04 +0000\r\n\r\nthirty\r\n";
    let out = client(&[
        "send",
        &postfix.ports[0].to_string(),
        "alice@remote.test",
        &rcpts.join(","),
        &postfix.write_file("thirty.eml", message),
    ]);
    assert_eq!(out, serde_json::json!({"refused": {}}), "{}", postfix.log());
    let lines = postfix.wait_for_deliveries("<thirty@remote.test>", 30);
    let mut ids = std::collections::BTreeSet::new();
    for rcpt in &rcpts {
        let d = lines
            .iter()
            .find(|d| &d.to == rcpt)
            .unwrap_or_else(|| panic!("no delivery line for {rcpt}: {lines:#?}"));
        assert_eq!(d.status, "sent", "{d:?}");
        let words: Vec<&str> = d.reply.split(' ').collect();
        assert_eq!(
            (words.len(), words[0], words[2], words[4]),
            (5, "250", format!("<{rcpt}>").as_str(), "Saved"),
            "{d:?}"
        );
        ids.insert(words[3].to_string());
    }
    assert_eq!(
        ids.len(),
        30,
        "one delivery session id per recipient: {ids:?}"
    );
    let copies = fetch_inbox(columba.imap_port, "demo", "demopw")
        .iter()
        .filter(|m| contains(m, b"Message-ID: <thirty@remote.test>"))
        .count();
    assert_eq!(copies, 30);
    columba.assert_log_clean(&[]);
}
