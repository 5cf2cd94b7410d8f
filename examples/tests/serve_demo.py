"""End-to-end scenario against `columba serve --demo`, with Python's own
IMAP, POP3 and LMTP clients. Arguments: the server's stdout file. Prints
one line per step; exits non-zero at the first surprise."""
import email
import imaplib
import poplib
import re
import smtplib
import ssl
import sys
import threading
import time

banner = open(sys.argv[1]).read()
password = re.search(r"password: (\S+)", banner).group(1)
imap_port, imaps_port = map(int, re.search(r"IMAP  [\d.]+:(\d+) \(STARTTLS\)   IMAPS [\d.]+:(\d+)", banner).groups())
pop3_port, pop3s_port = map(int, re.search(r"POP3  [\d.]+:(\d+) \(STLS\)       POP3S [\d.]+:(\d+)", banner).groups())
lmtp_port = int(re.search(r"LMTP  [\d.]+:(\d+)", banner).group(1))
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok:", what)


# STARTTLS, then LOGIN
m = imaplib.IMAP4("127.0.0.1", imap_port)
check("STARTTLS" in m.capabilities, "STARTTLS advertised")
m.starttls(ssl_context=ctx)
check(m.login("demo", password)[0] == "OK", "login after STARTTLS")
typ, data = m.list()
check(typ == "OK" and any(b"INBOX" in d for d in data), "LIST shows INBOX")
check(m.create("Archive")[0] == "OK" or True, "CREATE Archive")
typ, data = m.select("INBOX")
check(typ == "OK", "SELECT INBOX")
before = int(data[0])
msg = b"From: Ann <ann@example.com>\r\nTo: demo@localhost\r\nSubject: appended\r\n\r\nhello from APPEND\r\n"
typ, data = m.append("INBOX", r"(\Flagged)", None, msg)
check(typ == "OK" and b"APPENDUID" in data[0], "APPEND with APPENDUID")
m.noop()
typ, data = m.uid("SEARCH", None, "SUBJECT", "appended")
uid = data[0].split()[-1]
check(typ == "OK" and uid, "UID SEARCH SUBJECT finds it")
typ, data = m.uid("FETCH", uid, "(FLAGS ENVELOPE BODY.PEEK[])")
check(typ == "OK" and data[0][1] == msg, "UID FETCH BODY[] returns the appended bytes")
check(b"\\Flagged" in data[0][0] and b"\"appended\"" in data[0][0], "FLAGS and ENVELOPE")
typ, data = m.uid("STORE", uid, "+FLAGS", r"(\Deleted)")
check(typ == "OK" and b"\\Deleted" in data[0], "UID STORE +FLAGS \\Deleted")
typ, data = m.expunge()
check(typ == "OK" and data and data[0] is not None, "EXPUNGE reports the message")
typ, data = m.select("INBOX")
check(int(data[0]) == before, "the message is gone")
m.logout()

# implicit TLS, AUTHENTICATE PLAIN (SASL-IR), IDLE that sees an LMTP delivery
m = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx)
check(m.authenticate("PLAIN", lambda _: b"\0demo\0" + password.encode())[0] == "OK", "AUTHENTICATE PLAIN over implicit TLS")
typ, data = m.select("INBOX")
count = int(data[0])
tag = m._new_tag()
m.send(tag + b" IDLE\r\n")
check(m.readline().startswith(b"+"), "IDLE accepted")


def deliver():
    time.sleep(0.5)
    with smtplib.LMTP("127.0.0.1", lmtp_port) as l:
        refused = l.sendmail("sender@example.com", ["demo@localhost"],
                             b"From: sender@example.com\r\nSubject: by lmtp\r\n\r\n.dot line\r\nbody\r\n")
        check(refused == {}, "LMTP delivery accepted")


t = threading.Thread(target=deliver)
t.start()
line = m.readline()
t.join()
check(line == b"* %d EXISTS\r\n" % (count + 1), "IDLE sees the delivery: " + line.decode().strip())
m.send(b"DONE\r\n")
while True:
    line = m.readline()
    if line.startswith(tag):
        break
check(b"OK" in line, "IDLE done")
typ, data = m.fetch(str(count + 1), "(BODY.PEEK[TEXT])")
check(data[0][1] == b".dot line\r\nbody\r\n", "delivered body (dot-unstuffed)")
m.logout()

# POP3 over STLS and implicit TLS: retrieve and delete
p = poplib.POP3("127.0.0.1", pop3_port)
p.stls(context=ctx)
p.user("demo")
p.pass_(password)
n, size = p.stat()
check(n == count + 1, "POP3 STAT counts the messages")
uidl = p.uidl(n).decode()
check(re.fullmatch(r"\+OK \d+ [0-9A-F]{16}", uidl) is not None, "UIDL in %08Xu%08Xv: " + uidl)
resp, lines, octets = p.retr(n)
check(b"Subject: by lmtp" in lines, "RETR")
p.dele(n)
p.quit()
p = poplib.POP3_SSL("127.0.0.1", pop3s_port, context=ctx)
p.user("demo")
p.pass_(password)
check(p.stat()[0] == count, "POP3S: DELE was applied at QUIT")
p.quit()
print("all ok")
