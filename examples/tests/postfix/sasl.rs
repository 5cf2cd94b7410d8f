//! Postfix's SMTP AUTH through the auth-client socket, side by side with
//! the same Postfix in front of a private Dovecot.

use super::*;

/// Runs the same client steps against the Postfix in front of columba
/// and the one in front of Dovecot (smtpd listener `port`), all at once;
/// returns (columba's answer, Dovecot's answer) per step.
fn both(
    columba: &Postfix,
    dovecot: &Postfix,
    port: usize,
    steps: &[Vec<String>],
) -> Vec<(serde_json::Value, serde_json::Value)> {
    let mut all = Vec::new();
    for pf in [columba, dovecot] {
        for s in steps {
            let mut argv = s.clone();
            argv.insert(1, pf.ports[port].to_string());
            all.push(argv);
        }
    }
    let out = client_all(&all);
    let (c, d) = out.split_at(steps.len());
    c.iter().cloned().zip(d.iter().cloned()).collect()
}

/// The smtpd listeners of the SASL comparisons: Postfix's default
/// `smtpd_sasl_security_options` first, then others that filter on the
/// flags of the auth socket's MECH lines.
fn sasl_listeners() -> Vec<SmtpdPort> {
    vec![
        SmtpdPort::default(),
        SmtpdPort::with("smtpd_sasl_security_options=noanonymous,noplaintext"),
        SmtpdPort::with("smtpd_sasl_security_options=noanonymous,noplaintext,nodictionary"),
        SmtpdPort::with("smtpd_sasl_security_options=noanonymous,noactive"),
        SmtpdPort::with("smtpd_sasl_security_options=mutual_auth"),
        // empty: ANONYMOUS allowed
        SmtpdPort::with("smtpd_sasl_security_options="),
    ]
}

/// columba and a private Dovecot with the same users and
/// `auth_mechanisms`, each behind its own Postfix.
struct SaslPair {
    // dropped in this order: the Postfixes before the servers they use
    with_columba: Postfix,
    with_dovecot: Postfix,
    columba: Columba,
    _dovecot: PrivateDovecot,
}

fn sasl_pair() -> SaslPair {
    sasl_pair_with(false)
}

/// [`sasl_pair`] with both servers' `disable_plaintext_auth` as given.
fn sasl_pair_with(disable_plaintext_auth: bool) -> SaslPair {
    let columba = Columba::start_with(MECHANISMS, disable_plaintext_auth);
    let yes_no = if disable_plaintext_auth { "yes" } else { "no" };
    let dovecot = PrivateDovecot::start(
        DovecotConfig {
            auth_mechanisms: MECHANISMS.into(),
            ..DovecotConfig::default()
        }
        .user("demo", "demopw")
        .extra(&format!("disable_plaintext_auth = {yes_no}")),
    )
    .expect("start a private Dovecot");
    let listeners = sasl_listeners();
    let nowhere = "discard:no delivery in this test";
    let with_columba = Postfix::start(
        nowhere,
        Some(&columba.base_dir.join("auth-client")),
        &listeners,
    );
    let with_dovecot = Postfix::start(nowhere, Some(&dovecot.socket("auth-client")), &listeners);
    SaslPair {
        with_columba,
        with_dovecot,
        columba,
        _dovecot: dovecot,
    }
}

/// An `auth` step of the Python client.
fn auth_step(mech: &str, user: &str, pass: &str) -> Vec<String> {
    ["auth", mech, user, pass].map(str::to_string).to_vec()
}

/// Postfix's log lines about failed authentications, sorted, without
/// their time, process id and client name.
fn sasl_failures(postfix: &Postfix) -> Vec<String> {
    let mut v: Vec<String> = postfix
        .log()
        .lines()
        .filter_map(|l| l.split_once("]: SASL ").map(|x| format!("SASL {}", x.1)))
        .collect();
    v.sort();
    v
}

/// Postfix's SMTP AUTH against columba's auth-client socket, side by side
/// with the same Postfix against a private Dovecot's: the mechanisms EHLO
/// advertises under several `smtpd_sasl_security_options`, every
/// mechanism with the right password, a wrong one and an unknown user,
/// and relaying that authentication grants.
#[test]
fn smtp_auth_through_the_auth_socket_matches_dovecot() {
    require_tool!("postfix");
    require_tool!("python3");
    require_tool!("dovecot");
    if !runnable() {
        return;
    }
    let pair = sasl_pair();
    let (with_columba, with_dovecot) = (&pair.with_columba, &pair.with_dovecot);

    // EHLO: what the MECH lines let Postfix advertise.
    let listeners = sasl_listeners();
    let mut ehlo = Vec::new();
    for i in 0..listeners.len() {
        ehlo.push(both(with_columba, with_dovecot, i, &[vec!["ehlo".into()]]).remove(0));
    }
    for (i, (c, d)) in ehlo.iter().enumerate() {
        assert_eq!(
            c, d,
            "EHLO AUTH with {:?}: columba (left), Dovecot (right)",
            listeners[i]
        );
    }
    let advertised: Vec<&str> = ehlo.iter().map(|(c, _)| c.as_str().unwrap()).collect();
    assert_eq!(
        advertised,
        [
            " PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256",
            " CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256",
            " SCRAM-SHA-1 SCRAM-SHA-256",
            " PLAIN LOGIN SCRAM-SHA-1 SCRAM-SHA-256",
            " SCRAM-SHA-1 SCRAM-SHA-256",
            " PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 ANONYMOUS",
        ]
    );

    // Every mechanism: right password, wrong password, unknown user.
    let mut steps = Vec::new();
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"] {
        for (user, pass) in [("demo", "demopw"), ("demo", "wrong"), ("nobody", "demopw")] {
            steps.push(auth_step(mech, user, pass));
        }
    }
    // Relaying: granted after AUTH, refused without.
    steps.push(
        ["relay", "demo", "demopw", "someone@elsewhere.test"]
            .map(str::to_string)
            .to_vec(),
    );
    steps.push(
        ["relay", "", "", "someone@elsewhere.test"]
            .map(str::to_string)
            .to_vec(),
    );
    let results = both(with_columba, with_dovecot, 0, &steps);
    for (step, (c, d)) in steps.iter().zip(&results) {
        assert_eq!(c, d, "{step:?}: columba (left) and Dovecot (right) differ");
        let want = match step[0].as_str() {
            "auth" if step[2] == "demo" && step[3] == "demopw" => {
                serde_json::json!([235, "2.7.0 Authentication successful"])
            }
            "auth" => serde_json::json!([
                535,
                "5.7.8 Error: authentication failed: (reason unavailable)"
            ]),
            _ if step[1].is_empty() => {
                serde_json::json!([554, "5.7.1 <someone@elsewhere.test>: Relay access denied"])
            }
            _ => serde_json::json!([250, "2.1.5 Ok"]),
        };
        assert_eq!(c, &want, "{step:?}");
    }
    // ANONYMOUS, where smtpd_sasl_security_options allows it (listener 5)
    let anonymous = both(
        with_columba,
        with_dovecot,
        5,
        &[auth_step("ANONYMOUS", "trace@remote.test", "")],
    );
    assert_eq!(
        anonymous[0].0, anonymous[0].1,
        "ANONYMOUS: columba (left), Dovecot (right)"
    );
    assert_eq!(anonymous[0].0[0], 235, "{anonymous:?}");

    // Postfix logs one warning per failure, with the mechanism.
    let failures = sasl_failures(with_columba);
    assert_eq!(failures.len(), 10, "{failures:#?}");
    for pf in [with_columba, with_dovecot] {
        let log = pf.log();
        assert!(
            !log.contains("Connection lost") && !log.contains("fatal:"),
            "{log}"
        );
    }
    pair.columba.assert_log_clean(&[]);
}

/// What Postfix logs about a failed CRAM-MD5 or SCRAM authentication
/// names the user, as it does with Dovecot (whose FAIL reply carries
/// `user=`).
#[test]
fn postfix_logs_the_failed_user_of_every_mechanism_as_with_dovecot() {
    require_tool!("postfix");
    require_tool!("python3");
    require_tool!("dovecot");
    if !runnable() {
        return;
    }
    let pair = sasl_pair();
    let mut steps = Vec::new();
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"] {
        steps.push(auth_step(mech, "demo", "wrong"));
        steps.push(auth_step(mech, "nobody", "demopw"));
    }
    both(&pair.with_columba, &pair.with_dovecot, 0, &steps);
    let (c, d) = (
        sasl_failures(&pair.with_columba),
        sasl_failures(&pair.with_dovecot),
    );
    assert_eq!(c.len(), 10, "{c:#?}");
    assert_eq!(c, d, "columba (left), Dovecot (right)");
}

/// After a failed authentication, the next one from the same address waits
/// out the auth penalty, as long with columba as with Dovecot. Dovecot
/// 2.3.19 holds the next request 2 s << failures: 4 s after one failure,
/// 8 s after two, then 15 s (not "starting at 2 s"), counted from the
/// request; past Postfix's 10 s auth timeout the SMTP client sees 454
/// "Connection lost to authentication server".
#[test]
fn the_auth_penalty_after_a_failure_is_dovecots() {
    require_tool!("postfix");
    require_tool!("python3");
    require_tool!("dovecot");
    if !runnable() {
        return;
    }
    let pair = sasl_pair();
    let step = ["retry", "PLAIN", "demo", "wrong", "demopw"].map(str::to_string);
    let (c, d) = both(&pair.with_columba, &pair.with_dovecot, 0, &[step.to_vec()]).remove(0);
    assert_eq!(c[1], 235, "{c}");
    assert_eq!(d[1], 235, "{d}");
    let secs = |v: &serde_json::Value| v[2].as_f64().unwrap();
    assert!(
        (secs(&c) - secs(&d)).abs() < 1.5,
        "the AUTH after a failure took {} s with columba, {} s with Dovecot",
        secs(&c),
        secs(&d)
    );
}

/// With `disable_plaintext_auth = yes` (both servers' default) and no TLS
/// between the SMTP client and Postfix, Postfix offers and runs the same
/// mechanisms against columba as against Dovecot.
#[test]
fn plaintext_auth_disabled_behaves_as_with_dovecot() {
    require_tool!("postfix");
    require_tool!("python3");
    require_tool!("dovecot");
    if !runnable() {
        return;
    }
    let pair = sasl_pair_with(true);
    let ehlo = both(
        &pair.with_columba,
        &pair.with_dovecot,
        0,
        &[vec!["ehlo".into()]],
    );
    assert_eq!(
        ehlo[0].0, ehlo[0].1,
        "EHLO AUTH: columba (left), Dovecot (right)"
    );
    let steps: Vec<Vec<String>> = ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256"]
        .iter()
        .map(|m| auth_step(m, "demo", "demopw"))
        .collect();
    let results = both(&pair.with_columba, &pair.with_dovecot, 0, &steps);
    for (step, (c, d)) in steps.iter().zip(&results) {
        assert_eq!(c, d, "{step:?}: columba (left), Dovecot (right)");
        assert_eq!(c[0], 235, "{step:?}: {c}");
    }
    // The auth process leaves disable_plaintext_auth to the login
    // processes: Postfix, its client, offers PLAIN and LOGIN as it pleases.
    assert_eq!(ehlo[0].0, " PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256");
}
