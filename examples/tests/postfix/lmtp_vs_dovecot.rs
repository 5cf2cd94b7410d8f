//! The same Postfix delivering the same messages to columba's LMTP and
//! to a private Dovecot's, and what differs.

use super::*;

/// The same Postfix delivering the same two messages to columba's LMTP
/// and to a private Dovecot's (both over TCP), and what it saw of each.
struct LmtpComparison {
    /// Postfix's delivery lines of the four-recipient message per server,
    /// by recipient: (status, the reply as Postfix logs it).
    replies: [BTreeMap<String, (String, String)>; 2],
    /// The first message as each server stored it for demo.
    stored: [Vec<u8>; 2],
    /// Postfix's delivery line of a message to `demo+tag@example.test` and
    /// the trace headers stored with it, per server.
    detail: [(support::Delivery, Vec<(String, String)>); 2],
}

/// Masks what differs between two servers that behave alike: the delivery
/// session id in `250 2.0.0 <rcpt> ID Saved`, the server's address, and
/// (with `stamp`) the time Dovecot appends to an internal error.
fn masked_reply(reply: &str, stamp: bool) -> String {
    let mut reply = match reply.split_once(" said: ") {
        Some((_, said)) => format!("said: {said}"),
        None => reply.to_string(),
    };
    let words: Vec<&str> = reply.split(' ').collect();
    if words.len() == 5 && words[0] == "250" && words[4] == "Saved" {
        return format!("250 2.0.0 {} <id> Saved", words[2]);
    }
    // "... for more information. [2026-11-29 04:05:01] (in reply to ..."
    if stamp {
        if let Some(at) = reply.find(". [") {
            if reply[at..].get(22..24) == Some("] ") {
                reply.replace_range(at + 1..at + 23, "");
            }
        }
    }
    reply
}

/// Runs columba and a private Dovecot configured alike (users demo, bob
/// and broken, whose home its mail process cannot enter), each behind its
/// own Postfix, and delivers the first message, one to
/// `demo+tag@example.test` and the four-recipient one to both.
fn lmtp_comparison() -> LmtpComparison {
    let columba = Columba::start(MECHANISMS);
    let dovecot = PrivateDovecot::start(
        DovecotConfig::default()
            .user("demo", "demopw")
            .user("bob", "bobpw")
            .user("broken", "x")
            // as columba is configured: demo@example.test is demo
            .extra("auth_username_format = %Ln")
            // Dovecot's default, which the test instance turns off
            .extra("lmtp_add_received_header = yes")
            .extra("postmaster_address = postmaster@example.test")
            .extra("hostname = columba.test"),
    )
    .expect("start a private Dovecot");
    // broken's home is there but closed to its owner, as with columba
    let broken = dovecot.home("broken");
    std::os::unix::fs::chown(&broken, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&broken, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut replies: [BTreeMap<String, (String, String)>; 2] = Default::default();
    let mut stored: [Vec<u8>; 2] = Default::default();
    let mut detail: [(support::Delivery, Vec<(String, String)>); 2] = Default::default();
    let targets = [
        (columba.lmtp_port, columba.imap_port),
        (dovecot.lmtp_port, dovecot.imap_port),
    ];
    for (i, (lmtp, imap)) in targets.into_iter().enumerate() {
        let postfix = Postfix::start(
            &format!("lmtp:inet:127.0.0.1:{lmtp}"),
            None,
            &[SmtpdPort::default()],
        );
        let port = postfix.ports[0].to_string();
        let first = postfix.write_file("first.eml", &first_message());
        let second = postfix.write_file("second.eml", &second_message());
        client(&[
            "send",
            &port,
            "alice@remote.test",
            "demo@example.test",
            &first,
        ]);
        client(&[
            "send",
            &port,
            "demo@example.test",
            "demo@example.test,bob@example.test,broken@example.test,nobody@example.test",
            &second,
        ]);
        let third = postfix.write_file(
            "third.eml",
            b"From: a@remote.test\r\nMessage-ID: <third@remote.test>\r\n\
              Date: Sun, 29 Nov 2026 04:00:03 +0000\r\n\r\nwith a detail\r\n",
        );
        client(&[
            "send",
            &port,
            "alice@remote.test",
            "demo+tag@example.test",
            &third,
        ]);
        postfix.wait_for_deliveries("<first@remote.test>", 1);
        let third_delivery = postfix
            .wait_for_deliveries("<third@remote.test>", 1)
            .remove(0);
        for d in postfix.wait_for_deliveries("<second@example.test>", 4) {
            replies[i].insert(d.to.clone(), (d.status.clone(), d.reply.clone()));
        }
        let inbox = fetch_inbox(imap, "demo", "demopw");
        let find = |id: &[u8]| {
            inbox
                .iter()
                .find(|m| contains(m, id))
                .unwrap_or_else(|| panic!("{} not in demo's INBOX", String::from_utf8_lossy(id)))
                .clone()
        };
        stored[i] = find(b"Message-ID: <first@remote.test>");
        let third_trace = added_trace_headers(&find(b"Message-ID: <third@remote.test>")).0;
        detail[i] = (third_delivery, third_trace);
    }
    LmtpComparison {
        replies,
        stored,
        detail,
    }
}

/// Postfix gets the same replies, recipient by recipient, from columba's
/// LMTP as from Dovecot's: 250 with a session id for the delivered, the
/// same 550 for the unknown, the same 451 after DATA, time stamp
/// included, for the one whose mail process fails; and the message is
/// stored with the same trace headers in front (Return-Path, Delivered-To
/// and, `lmtp_add_received_header = yes` being the default, LMTP's own
/// Received line before Postfix's).
#[test]
fn postfix_gets_the_same_lmtp_replies_and_headers_from_columba_and_dovecot() {
    require_tool!("postfix");
    require_tool!("python3");
    require_tool!("dovecot");
    if !runnable() {
        return;
    }
    let LmtpComparison {
        replies,
        stored,
        detail,
    } = lmtp_comparison();

    // replies of the four-recipient message
    let masked = |r: &BTreeMap<String, (String, String)>| -> BTreeMap<String, (String, String)> {
        r.iter()
            .map(|(k, (status, reply))| (k.clone(), (status.clone(), masked_reply(reply, true))))
            .collect()
    };
    let (columba, dovecot) = (masked(&replies[0]), masked(&replies[1]));
    assert_eq!(columba.len(), 4, "{columba:#?}");
    assert_eq!(columba, dovecot, "columba (left), Dovecot (right)");
    assert_eq!(columba["demo@example.test"].0, "sent");
    assert_eq!(columba["bob@example.test"].0, "sent");
    assert_eq!(columba["broken@example.test"].0, "deferred");
    assert_eq!(columba["nobody@example.test"].0, "bounced");
    // the 451's time stamp: "information. [2026-11-29 04:05:01] (in reply ..."
    let stamp_at = |r: &str| r.find("information. [").map(|at| r.len() - at);
    let broken = |i: usize| masked_reply(&replies[i]["broken@example.test"].1, false);
    assert!(stamp_at(&broken(1)).is_some(), "{}", broken(1));
    assert_eq!(
        stamp_at(&broken(0)),
        stamp_at(&broken(1)),
        "{}\n{}",
        broken(0),
        broken(1)
    );

    // user+detail: the same reply, Return-Path and Delivered-To (Dovecot's
    // lmtp_hdr_delivery_address = final)
    let [(c_reply, c_trace), (d_reply, d_trace)] = &detail;
    assert_eq!(c_reply.status, "sent", "{c_reply:?}");
    assert_eq!(
        masked_reply(&c_reply.reply, true),
        masked_reply(&d_reply.reply, true)
    );
    let envelope = |t: &[(String, String)]| -> Vec<(String, String)> {
        t.iter().filter(|(n, _)| n != "Received").cloned().collect()
    };
    assert_eq!(
        envelope(c_trace),
        envelope(d_trace),
        "columba (left), Dovecot (right)"
    );

    // the trace headers of the first message, LMTP's Received line with
    // its id and date masked
    let trace = |m: &[u8]| -> Vec<(String, String)> {
        let mut t = added_trace_headers(m).0;
        t.pop(); // Postfix's own Received
        for (name, value) in &mut t {
            if name == "Received" {
                *value = masked_received(value);
            }
        }
        t
    };
    assert_eq!(
        trace(&stored[0]),
        trace(&stored[1]),
        "columba (left), Dovecot (right)\n{}\n{}",
        String::from_utf8_lossy(&stored[0]),
        String::from_utf8_lossy(&stored[1])
    );
}

/// A Received value with the word after ` id ` and the date after `; `
/// masked.
fn masked_received(value: &str) -> String {
    let value = value.split("; ").next().unwrap_or(value);
    let mut out = Vec::new();
    let mut words = value.split(' ');
    while let Some(w) = words.next() {
        out.push(w.to_string());
        if w == "id" && words.next().is_some() {
            out.push("<id>".to_string());
        }
    }
    out.join(" ")
}
