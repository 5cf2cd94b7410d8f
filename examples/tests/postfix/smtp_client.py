"""SMTP and IMAP client steps for examples/tests/postfix.rs.

Each command prints one JSON value on standard output (SMTP_SOURCE in the
environment names the loopback address to connect from):
  ehlo PORT                      the EHLO AUTH parameters ("" without AUTH)
  auth PORT MECH USER PASS       [code, text] of the AUTH exchange
  retry PORT MECH USER BAD GOOD  [first code, second code, seconds the
                                 second AUTH took]: a failed AUTH, then a
                                 good one from the same address
  relay PORT USER PASS RCPT      [code, text] of RCPT TO after AUTH PLAIN
                                 (USER "" skips AUTH)
  send PORT FROM RCPTS FILE      {"refused": {rcpt: [code, text]}} or
                                 {"error": [code, text]}; RCPTS is
                                 comma-separated, FILE the message
  fetch PORT USER PASS           the BODY[] of every INBOX message, base64
"""

import base64
import hashlib
import hmac
import imaplib
import json
import os
import smtplib
import sys
import time


def smtp(port):
    # Each step may come from its own loopback address (SMTP_SOURCE), so
    # one step's failed authentications do not slow down the next through
    # the auth server's per-address penalty.
    source = os.environ.get("SMTP_SOURCE")
    s = smtplib.SMTP("127.0.0.1", int(port), timeout=30,
                     source_address=(source, 0) if source else None)
    s.ehlo("client.test")
    return s


def scram(s, name, user, password):
    """SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802, RFC 7677) over smtplib."""
    digest = hashlib.sha1 if name == "SCRAM-SHA-1" else hashlib.sha256
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=%s,r=%s" % (user, nonce)
    state = {"step": 0}

    def respond(challenge=None):
        if state["step"] == 0:
            state["step"] = 1
            return "n,," + first_bare
        if state["step"] == 1:
            state["step"] = 2
            server_first = challenge.decode()
            attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
            salted = hashlib.pbkdf2_hmac(
                digest().name, password.encode(), base64.b64decode(attrs["s"]),
                int(attrs["i"]))
            client_key = hmac.new(salted, b"Client Key", digest).digest()
            stored = digest(client_key).digest()
            final_bare = "c=biws,r=" + attrs["r"]
            message = ",".join([first_bare, server_first, final_bare]).encode()
            signature = hmac.new(stored, message, digest).digest()
            proof = bytes(a ^ b for a, b in zip(client_key, signature))
            return final_bare + ",p=" + base64.b64encode(proof).decode()
        return ""

    return s.auth(name, respond, initial_response_ok=True)


def authenticate(s, mech, user, password):
    s.user, s.password = user, password
    try:
        if mech.startswith("SCRAM-"):
            code, text = scram(s, mech, user, password)
        elif mech == "ANONYMOUS":
            # RFC 4505: the trace information is the whole response
            code, text = s.auth(mech, lambda challenge=None: user,
                                initial_response_ok=True)
        else:
            obj = getattr(s, "auth_" + mech.lower().replace("-", "_"))
            code, text = s.auth(mech, obj, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as e:
        code, text = e.smtp_code, e.smtp_error
    return [code, text.decode(errors="replace")]


def main(argv):
    cmd = argv[0]
    if cmd == "ehlo":
        s = smtp(argv[1])
        out = s.esmtp_features.get("auth", "")
        s.quit()
    elif cmd == "auth":
        s = smtp(argv[1])
        out = authenticate(s, argv[2], argv[3], argv[4])
        s.quit()
    elif cmd == "retry":
        s = smtp(argv[1])
        first = authenticate(s, argv[2], argv[3], argv[4])
        s.quit()
        s = smtp(argv[1])
        start = time.monotonic()
        second = authenticate(s, argv[2], argv[3], argv[5])
        took = time.monotonic() - start
        s.quit()
        out = [first[0], second[0], round(took, 2)]
    elif cmd == "relay":
        s = smtp(argv[1])
        if argv[2]:
            out = authenticate(s, "PLAIN", argv[2], argv[3])
            if out[0] != 235:
                print(json.dumps(out))
                return
        s.mail("sender@example.test")
        code, text = s.rcpt(argv[4])
        out = [code, text.decode(errors="replace")]
        s.rset()
        s.quit()
    elif cmd == "send":
        with open(argv[4], "rb") as f:
            message = f.read()
        s = smtp(argv[1])
        try:
            refused = s.sendmail(argv[2], argv[3].split(","), message)
            out = {"refused": {k: [c, t.decode(errors="replace")]
                               for k, (c, t) in refused.items()}}
        except smtplib.SMTPResponseException as e:
            out = {"error": [e.smtp_code, e.smtp_error.decode(errors="replace")]}
        s.quit()
    elif cmd == "fetch":
        m = imaplib.IMAP4("127.0.0.1", int(argv[1]), timeout=20)
        m.login(argv[2], argv[3])
        m.select("INBOX", readonly=True)
        typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
        out = [base64.b64encode(part[1]).decode()
               for part in data if isinstance(part, tuple)]
        m.logout()
    else:
        raise SystemExit("unknown command " + cmd)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
