"""LMTP delivery (RFC 2033) against the real binary: Python's smtplib.LMTP and
swaks from Debian as clients, raw sessions for the exact replies (PIPELINING,
CHUNKING, the limits, bad input), and the delivered messages read back with
`gannet fetch -u USER INBOX 1 body` (the bytes of the file as stored) and over
IMAP with imaplib.

Each test starts its own server on free loopback ports, with an LMTP
inet_listener and a unix_listener in the test's temporary directory."""

import imaplib
import os
import re
import shutil
import smtplib
import socket
import sqlite3
import stat
import subprocess
import threading
import time
import unittest

from harness import (GANNET, HOST, TIMEOUT, GannetServer, LineClient, free_port,
                     listening_sockets, password)

DOMAIN = "example.org"
SENDER = "sender@example.net"
MESSAGE = (b"From: Sender <sender@example.net>\r\n"
           b"To: Alice <alice@example.org>\r\n"
           b"Subject: delivered over LMTP\r\n"
           b"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
           b"Message-ID: <lmtp-1@example.net>\r\n"
           b"\r\n"
           b"Hello Alice,\r\n"
           b".a line that starts with a period\r\n"
           b"\r\n"
           b"bye\r\n")
SWAKS = shutil.which("swaks")


def dot_stuff(data):
    """What an SMTP client sends for data (RFC 5321 §4.5.2)."""
    return re.sub(rb"(^|\r\n)\.", rb"\1..", data)


def split_trace(stored):
    """(the trace header fields gannet put in front, the rest): Return-Path,
    Delivered-To when there is one, and one Received with its folded lines
    (a Received of the MTA's own follows in the rest)."""
    lines = stored.split(b"\r\n")
    fields = []
    i = 0
    for name in (b"Return-Path:", b"Delivered-To:", b"Received:"):
        if i < len(lines) and lines[i].startswith(name):
            fields.append(lines[i])
            i += 1
            while i < len(lines) and lines[i][:1] in (b"\t", b" "):
                fields[-1] += b"\r\n" + lines[i]
                i += 1
    return fields, b"\r\n".join(lines[i:])


class LmtpClient(LineClient):
    """A raw LMTP client on TCP or on the unix socket."""

    def __init__(self, port=None, path=None, timeout=TIMEOUT):
        if path is None:
            super().__init__(port, timeout=timeout)
            return
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.timeout = timeout

    def reply(self, timeout=None):
        """One reply, all its lines joined by \\n (as str)."""
        lines = []
        while True:
            line = self.line(timeout)
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def session(self):
        """Greeting and LHLO."""
        greeting = self.reply()
        assert greeting.startswith("220 "), greeting
        self.cmd("LHLO client.example")
        lhlo = self.reply()
        assert lhlo.startswith("250"), lhlo
        return lhlo


class LmtpTestCase(unittest.TestCase):
    def start(self, settings=None, unix_listener="", workers=None, users=None):
        """A server with LMTP on a free port and on DIR/lmtp.sock."""
        all_settings = {"protocols": "imap pop3 lmtp"}
        if workers:
            all_settings["workers"] = str(workers)
        all_settings.update(settings or {})
        srv = GannetServer(settings=all_settings, listeners=("imap", "imaps"), start=False,
                           users=users)
        self.addCleanup(srv.cleanup)
        srv.lmtp_port = free_port()
        srv.lmtp_socket = srv.path("lmtp.sock")
        srv.extra_config = (
            "service lmtp {\n"
            f"  inet_listener lmtp {{\n    port = {srv.lmtp_port}\n  }}\n"
            f"  unix_listener lmtp {{\n    path = {srv.lmtp_socket}\n{unix_listener}  }}\n"
            "}\n")
        srv.write_config()
        srv.start()
        self.addCleanup(self.check_sanitizer_reports, srv)
        self.srv = srv
        self.wait_lmtp()
        return srv

    def wait_lmtp(self):
        """Until both LMTP listeners accept connections."""
        deadline = time.monotonic() + 10
        for family, address in ((socket.AF_INET, (HOST, self.srv.lmtp_port)),
                                (socket.AF_UNIX, self.srv.lmtp_socket)):
            while True:
                try:
                    with socket.socket(family, socket.SOCK_STREAM) as s:
                        s.settimeout(1)
                        s.connect(address)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"LMTP on {address} does not answer:\n" +
                                             self.srv.log())
                    time.sleep(0.05)

    def check_sanitizer_reports(self, srv):
        """With an ASan/UBSan build: no report in the server's output, leaks
        included (they are reported when the processes exit)."""
        srv.stop()
        log = srv.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            self.assertNotIn(marker, log, log[-5000:])

    def client(self, unix=False, timeout=TIMEOUT):
        c = (LmtpClient(path=self.srv.lmtp_socket, timeout=timeout) if unix else
             LmtpClient(self.srv.lmtp_port, timeout=timeout))
        self.addCleanup(c.close)
        return c

    def smtplib(self):
        lmtp = smtplib.LMTP(HOST, self.srv.lmtp_port, timeout=TIMEOUT)
        self.addCleanup(lambda: lmtp.close())
        return lmtp

    def gannet(self, *args, check=True):
        r = subprocess.run([GANNET, *args, "-c", self.srv.conf], capture_output=True,
                           timeout=60)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r

    def fetch_body(self, user, seq=1, mailbox="INBOX"):
        """The stored bytes of message seq (`gannet fetch ... body`)."""
        out = self.gannet("fetch", "-u", user, mailbox, str(seq), "body").stdout
        m = re.match(rb"\* \d+ FETCH \(BODY\[\] \{(\d+)\}\n", out)
        self.assertIsNotNone(m, out[:200])
        n = int(m.group(1))
        return out[m.end():m.end() + n]

    def messages(self, user, mailbox="INBOX"):
        r = self.gannet("mailbox", "status", "-u", user, "-f", "messages", mailbox, check=False)
        if r.returncode != 0:
            return 0
        return int(r.stdout.decode().strip().split("=")[1])

    def maildir(self, user):
        return os.path.join(self.srv.home, user, "Maildir")

    def files_in(self, user, sub, mailbox=""):
        d = os.path.join(self.maildir(user), mailbox, sub)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def transaction(self, c, rcpts, sender=SENDER, params=""):
        """MAIL FROM and the RCPTs, one command at a time; returns the replies."""
        c.cmd(f"MAIL FROM:<{sender}>{params}")
        replies = [c.reply()]
        for r in rcpts:
            c.cmd(f"RCPT TO:<{r}>")
            replies.append(c.reply())
        return replies


class TestLmtpProtocol(LmtpTestCase):
    def test_greeting_lhlo_and_extensions(self):
        self.start(settings={"mail_max_message_size": "10M"})
        c = self.client()
        greeting = c.reply()
        self.assertRegex(greeting, r"^220 \S+ LMTP gannet ready\.$")
        # RFC 2033 §4.1: HELO and EHLO are not LMTP
        c.cmd("EHLO client.example")
        self.assertEqual(c.reply(), "500 5.5.1 This is LMTP: use LHLO")
        c.cmd("HELO client.example")
        self.assertEqual(c.reply(), "500 5.5.1 This is LMTP: use LHLO")
        c.cmd("MAIL FROM:<a@example.net>")
        self.assertEqual(c.reply(), "503 5.5.1 Send LHLO first")
        c.cmd("LHLO client.example")
        lines = c.reply().split("\n")
        self.assertTrue(lines[0].startswith("250-"), lines)
        self.assertEqual([l[4:] for l in lines[1:]],
                         ["PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SMTPUTF8", "CHUNKING",
                          f"SIZE {10 * 1024 * 1024}"])
        c.cmd("LHLO two words")
        self.assertEqual(c.reply(), "501 5.5.4 LHLO expects a domain name or an address literal")
        c.cmd("NOOP")
        self.assertEqual(c.reply(), "250 2.0.0 OK")
        c.cmd("VRFY alice")
        self.assertEqual(c.reply(), "502 5.5.1 Command not implemented")
        c.cmd("RSET")
        self.assertEqual(c.reply(), "250 2.0.0 OK")
        c.cmd("QUIT")
        self.assertEqual(c.reply(), "221 2.0.0 Bye")
        self.assertEqual(c.wait_closed(), [])

    def test_smtplib_one_recipient(self):
        """Python's smtplib.LMTP; the message comes back byte for byte behind
        the trace fields."""
        self.start()
        lmtp = self.smtplib()
        refused = lmtp.sendmail(SENDER, [f"alice@{DOMAIN}"], MESSAGE)
        self.assertEqual(refused, {})
        lmtp.quit()
        stored = self.fetch_body("alice")
        fields, rest = split_trace(stored)
        self.assertEqual(rest, MESSAGE)
        self.assertEqual(fields[0], f"Return-Path: <{SENDER}>".encode())
        self.assertEqual(fields[1], f"Delivered-To: alice@{DOMAIN}".encode())
        self.assertRegex(fields[2].decode(),
                         r"^Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby \S+ with LMTP id "
                         r"\S+\r\n\tfor <alice@example\.org>; \w{3}, \d\d \w{3} \d{4} "
                         r"\d\d:\d\d:\d\d [+-]\d{4}$")
        self.assertEqual(len(fields), 3)
        self.assertEqual(self.messages("alice"), 1)
        self.assertRegex(self.srv.log(), r"lmtp: saved mail to user=<alice> mailbox=INBOX uid=1")
        # and over IMAP, as a mail client reads it
        imap = imaplib.IMAP4_SSL(HOST, self.srv.ports["imaps"], ssl_context=self.srv.ctx())
        imap.login("alice", password("alice"))
        self.assertEqual(imap.select("INBOX"), ("OK", [b"1"]))
        typ, data = imap.fetch("1", "(BODY.PEEK[])")
        imap.logout()
        self.assertEqual(typ, "OK")
        self.assertEqual(data[0][1], stored)

    def test_several_recipients_one_unknown(self):
        """One reply per accepted recipient after DATA (RFC 2033 §4.2), the
        unknown one refused at RCPT; one file, linked into every mailbox."""
        self.start()
        lmtp = self.smtplib()
        lmtp.ehlo("client.example")
        self.assertEqual(lmtp.mail(SENDER), (250, b"2.1.0 OK"))
        self.assertEqual(lmtp.rcpt(f"alice@{DOMAIN}"), (250, b"2.1.5 OK"))
        self.assertEqual(lmtp.rcpt(f"nobody@{DOMAIN}"), (550, b"5.1.1 User doesn't exist"))
        self.assertEqual(lmtp.rcpt(f"bob@{DOMAIN}"), (250, b"2.1.5 OK"))
        self.assertEqual(lmtp.rcpt(f"carol@{DOMAIN}"), (250, b"2.1.5 OK"))
        # smtplib reads the first reply; the other two follow, in RCPT order
        replies = [lmtp.data(MESSAGE), lmtp.getreply(), lmtp.getreply()]
        for code, text in replies:
            self.assertEqual(code, 250)
            self.assertTrue(text.startswith(b"2.0.0 Saved"), text)
        lmtp.quit()
        inodes = set()
        for user in ("alice", "bob", "carol"):
            fields, rest = split_trace(self.fetch_body(user))
            self.assertEqual(rest, MESSAGE)
            # several recipients share one file: it names none of them
            self.assertEqual([f.split(b":")[0] for f in fields], [b"Return-Path", b"Received"])
            self.assertNotIn(b"for <", fields[1])
            cur = self.files_in(user, "cur")
            self.assertEqual(len(cur), 1)
            inodes.add(os.stat(os.path.join(self.maildir(user), "cur", cur[0])).st_ino)
            self.assertEqual(self.files_in(user, "tmp"), [])
        self.assertEqual(len(inodes), 1, "the message was written more than once")
        self.assertEqual(self.messages("nobody"), 0)

    def test_pipelining(self):
        """RFC 2920: the commands of a transaction in one write, the replies in
        their order."""
        self.start()
        c = self.client()
        c.session()
        c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<alice@{DOMAIN}>\r\n"
               f"RCPT TO:<nobody@{DOMAIN}>\r\nRCPT TO:<bob@{DOMAIN}>\r\nDATA\r\n")
        self.assertEqual([c.reply() for _ in range(5)],
                         ["250 2.1.0 OK", "250 2.1.5 OK", "550 5.1.1 User doesn't exist",
                          "250 2.1.5 OK", "354 Start mail input; end with <CRLF>.<CRLF>"])
        c.send(dot_stuff(MESSAGE) + b".\r\n" + f"MAIL FROM:<{SENDER}>\r\n".encode() +
               f"RCPT TO:<carol@{DOMAIN}>\r\nDATA\r\n".encode())
        self.assertEqual([c.reply()[:15] for _ in range(2)], ["250 2.0.0 Saved"] * 2)
        self.assertEqual([c.reply() for _ in range(3)],
                         ["250 2.1.0 OK", "250 2.1.5 OK",
                          "354 Start mail input; end with <CRLF>.<CRLF>"])
        c.send(b"second\r\n.\r\nQUIT\r\n")
        self.assertTrue(c.reply().startswith("250 2.0.0 Saved"))
        self.assertEqual(c.reply(), "221 2.0.0 Bye")
        self.assertEqual(split_trace(self.fetch_body("bob"))[1], MESSAGE)
        self.assertEqual(split_trace(self.fetch_body("carol"))[1], b"second\r\n")

    def test_sequence_errors(self):
        self.start()
        c = self.client()
        c.session()
        c.cmd(f"RCPT TO:<alice@{DOMAIN}>")
        self.assertEqual(c.reply(), "503 5.5.1 MAIL needed first")
        c.cmd("DATA")
        self.assertEqual(c.reply(), "503 5.5.1 MAIL needed first")
        c.cmd(f"MAIL FROM:<{SENDER}>")
        self.assertEqual(c.reply(), "250 2.1.0 OK")
        c.cmd(f"MAIL FROM:<{SENDER}>")
        self.assertEqual(c.reply(), "503 5.5.1 Nested MAIL command")
        # RFC 2033 §4.2: DATA without a successful RCPT fails with 503
        c.cmd(f"RCPT TO:<nobody@{DOMAIN}>")
        self.assertEqual(c.reply(), "550 5.1.1 User doesn't exist")
        c.cmd("DATA")
        self.assertEqual(c.reply(), "503 5.5.1 No valid recipients")
        c.cmd("RCPT TO:alice@example.org")
        self.assertEqual(c.reply(), "501 5.1.3 Address must be in angle brackets")
        c.cmd("RCPT TO:<alice@example.org> NOTIFY=NEVER")
        self.assertEqual(c.reply(), "555 5.5.4 Unsupported parameter")
        c.cmd(f"MAIL FROM:<{SENDER}> RET=HDRS")
        self.assertEqual(c.reply(), "503 5.5.1 Nested MAIL command")
        c.cmd("RSET")
        self.assertEqual(c.reply(), "250 2.0.0 OK")
        c.cmd(f"MAIL FROM:<{SENDER}> RET=HDRS")
        self.assertEqual(c.reply(), "555 5.5.4 Unsupported parameter")
        c.cmd(f"MAIL FROM:<{SENDER}> BODY=BINARYMIME")
        self.assertEqual(c.reply(), "501 5.5.4 Unsupported BODY type")
        c.cmd("MAIL FROM:<> BODY=8BITMIME")
        self.assertEqual(c.reply(), "250 2.1.0 OK")
        c.cmd(f"RCPT TO:<alice@{DOMAIN}>")
        self.assertEqual(c.reply(), "250 2.1.5 OK")
        c.cmd("DATA")
        self.assertTrue(c.reply().startswith("354 "))
        c.send(b"Subject: bounce\r\n\r\n8bit \xc3\xa9t\xc3\xa9\r\n.\r\n")
        self.assertTrue(c.reply().startswith("250 2.0.0 "))
        stored = self.fetch_body("alice")
        self.assertTrue(stored.startswith(b"Return-Path: <>\r\n"), stored[:40])
        self.assertTrue(stored.endswith(b"\r\n\r\n8bit \xc3\xa9t\xc3\xa9\r\n"))

    def test_chunking(self):
        """RFC 3030 BDAT: chunks taken as they are (no dot-stuffing), one reply
        per chunk and one per recipient after LAST."""
        self.start()
        c = self.client()
        c.session()
        body = b"Subject: chunks\r\n\r\n.not stuffed\r\n..two\r\n.\r\nend\r\n"
        first, second = body[:25], body[25:]
        c.send(f"MAIL FROM:<{SENDER}>\r\nRCPT TO:<alice@{DOMAIN}>\r\nRCPT TO:<bob@{DOMAIN}>\r\n"
               f"BDAT {len(first)}\r\n".encode() + first +
               f"BDAT {len(second)} LAST\r\n".encode() + second + b"NOOP\r\n")
        self.assertEqual([c.reply() for _ in range(4)],
                         ["250 2.1.0 OK", "250 2.1.5 OK", "250 2.1.5 OK",
                          f"250 2.0.0 {len(first)} octets received"])
        self.assertTrue(c.reply().startswith("250 2.0.0 Saved"))
        self.assertTrue(c.reply().startswith("250 2.0.0 Saved"))
        self.assertEqual(c.reply(), "250 2.0.0 OK")
        for user in ("alice", "bob"):
            self.assertEqual(split_trace(self.fetch_body(user))[1], body)
        # A BDAT without a transaction is refused, and its bytes are skipped,
        # not taken for commands.
        c.send(b"BDAT 12 LAST\r\nRSET\r\nQUIT\r\nNOOP\r\n")
        self.assertEqual(c.reply(), "503 5.5.1 MAIL needed first")
        self.assertEqual(c.reply(), "250 2.0.0 OK")
        # DATA after BDAT in one transaction is refused (RFC 3030 §3)
        self.transaction(c, [f"alice@{DOMAIN}"])
        c.send(b"BDAT 3\r\nabc")
        self.assertEqual(c.reply(), "250 2.0.0 3 octets received")
        c.cmd("DATA")
        self.assertEqual(c.reply(), "503 5.5.1 DATA after BDAT")
        c.cmd("RSET")
        self.assertEqual(c.reply(), "250 2.0.0 OK")
        # a BDAT whose size cannot be read: nothing after it can be trusted
        c.cmd("BDAT ten")
        self.assertEqual(c.wait_closed(), ["501 5.5.4 Invalid BDAT command, closing connection"])
        self.assertEqual(self.messages("alice"), 1)

    def test_smtputf8(self):
        """RFC 6531: UTF-8 addresses with SMTPUTF8, refused without it."""
        self.start()
        c = self.client()
        c.session()
        sender = "j\u00f6rg@b\u00fccher.example"
        c.send(f"MAIL FROM:<{sender}>\r\n".encode())
        self.assertEqual(c.reply(), "553 5.6.7 Non-ASCII address without SMTPUTF8")
        c.send(f"MAIL FROM:<{sender}> SMTPUTF8\r\n".encode())
        self.assertEqual(c.reply(), "250 2.1.0 OK")
        c.send(b"MAIL FROM:<j\xc3rg@example.org> SMTPUTF8\r\n")
        self.assertEqual(c.reply(), "503 5.5.1 Nested MAIL command")
        self.transaction(c, [])
        c.cmd(f"RCPT TO:<alice@{DOMAIN}>")
        self.assertEqual(c.reply(), "250 2.1.5 OK")
        c.cmd("DATA")
        c.reply()
        c.send("Subject: gr\u00fc\u00dfe\r\n\r\nhi\r\n.\r\n".encode())
        self.assertTrue(c.reply().startswith("250 2.0.0 Saved"))
        fields, rest = split_trace(self.fetch_body("alice"))
        self.assertEqual(fields[0], f"Return-Path: <{sender}>".encode())
        self.assertIn(b"with UTF8LMTP id", fields[2])


class TestLmtpLimits(LmtpTestCase):
    def test_message_size_limit(self):
        """mail_max_message_size: SIZE= refused at MAIL (RFC 1870 §6.1), a
        bigger message refused for each recipient at its end, and BDAT too;
        nothing is delivered, nothing left in tmp/."""
        self.start(settings={"mail_max_message_size": "2k"})
        c = self.client()
        c.session()
        c.cmd(f"MAIL FROM:<{SENDER}> SIZE=2049")
        self.assertEqual(c.reply(), "552 5.3.4 Message size exceeds fixed maximum message size")
        self.transaction(c, [f"alice@{DOMAIN}", f"bob@{DOMAIN}"], params=" SIZE=2048")
        c.cmd("DATA")
        self.assertTrue(c.reply().startswith("354"))
        big = b"Subject: big\r\n\r\n" + b"x" * 100 + b"\r\n"
        big = big * 30
        c.send(big + b".\r\n")
        self.assertEqual([c.reply(), c.reply()], ["552 5.3.4 Message too big for system"] * 2)
        self.transaction(c, [f"alice@{DOMAIN}"])
        c.send(b"BDAT 3000 LAST\r\n" + b"y" * 3000)
        self.assertEqual(c.reply(), "552 5.3.4 Message too big for system")
        # the session goes on
        self.transaction(c, [f"alice@{DOMAIN}"])
        c.cmd("DATA")
        c.reply()
        c.send(b"Subject: small\r\n\r\nfits\r\n.\r\n")
        self.assertTrue(c.reply().startswith("250 2.0.0 Saved"))
        self.assertEqual(self.messages("alice"), 1)
        self.assertEqual(self.messages("bob"), 0)
        self.assertEqual(self.files_in("alice", "tmp"), [])

    def test_long_lines(self):
        """A command line over the bound is refused and the session goes on;
        a long line inside a message is content, kept whole."""
        self.start()
        c = self.client()
        c.session()
        c.cmd("NOOP " + "x" * 5000)
        self.assertEqual(c.reply(), "500 5.5.2 Line too long")
        c.cmd(f"RCPT TO:<{'a' * 300}@{DOMAIN}>")
        self.assertEqual(c.reply(), "503 5.5.1 MAIL needed first")
        self.transaction(c, [])
        c.cmd(f"RCPT TO:<{'a' * 300}@{DOMAIN}>")
        self.assertEqual(c.reply(), "501 5.1.3 Local part too long")
        c.cmd(f"RCPT TO:<alice@{DOMAIN}>")
        self.assertEqual(c.reply(), "250 2.1.5 OK")
        c.cmd("DATA")
        c.reply()
        line = b"Subject: long\r\n\r\n" + b"z" * 200000 + b"\r\n"
        c.send(line + b".\r\n")
        self.assertTrue(c.reply().startswith("250 2.0.0 Saved"))
        self.assertEqual(split_trace(self.fetch_body("alice"))[1], line)

    def test_bare_lf_is_content(self):
        """Only <CRLF>.<CRLF> ends the data: "<LF>.<LF>" and "<LF>.<CRLF>"
        inside a message do not (SMTP smuggling), and the bytes are stored as
        sent."""
        self.start()
        c = self.client()
        c.session()
        self.transaction(c, [f"alice@{DOMAIN}"])
        c.cmd("DATA")
        c.reply()
        body = (b"Subject: lf\n\nunix line\n.\nMAIL FROM:<evil@example.net>\n.\r\n"
                b"RCPT TO:<bob@example.org>\r\nstill the message\r\n")
        c.send(body + b".\r\n")
        self.assertTrue(c.reply().startswith("250 2.0.0 Saved"))
        c.cmd("NOOP")
        self.assertEqual(c.reply(), "250 2.0.0 OK")
        self.assertEqual(split_trace(self.fetch_body("alice"))[1], body)
        self.assertEqual(self.messages("alice"), 1)
        self.assertEqual(self.messages("bob"), 0)

    def wait_no_tmp(self, user):
        deadline = time.monotonic() + 5
        while self.files_in(user, "tmp") and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.files_in(user, "tmp")

    def test_client_gone_mid_data(self):
        """A client that disappears before the final dot (a missing final dot)
        delivers nothing and leaves nothing half-written, whether the message
        was small or already partly in the store."""
        self.start()
        for size in (100, 3 * 1024 * 1024):
            c = LmtpClient(self.srv.lmtp_port)
            c.session()
            self.transaction(c, [f"alice@{DOMAIN}", f"bob@{DOMAIN}"])
            c.cmd("DATA")
            c.reply()
            c.send(b"Subject: cut\r\n\r\n" + b"y" * size + b"\r\n")
            time.sleep(0.3)
            c.close()
            self.assertEqual(self.wait_no_tmp("alice"), [])
            self.assertEqual(self.files_in("bob", "tmp"), [])
        self.assertEqual(self.files_in("alice", "cur") + self.files_in("alice", "new"), [])
        self.assertEqual(self.messages("alice"), 0)
        self.assertEqual(self.messages("bob"), 0)
        # and the next delivery is not disturbed
        lmtp = self.smtplib()
        self.assertEqual(lmtp.sendmail(SENDER, [f"alice@{DOMAIN}"], MESSAGE), {})
        self.assertEqual(self.messages("alice"), 1)

    def test_recipient_limit(self):
        """lmtp_max_recipients: RFC 5321 §4.5.3.1.10's 452 for the ones over the
        bound; the client sends them in another transaction."""
        self.start(settings={"lmtp_max_recipients": "2"})
        c = self.client()
        c.session()
        replies = self.transaction(c, [f"{u}@{DOMAIN}" for u in ("alice", "bob", "carol")] * 30)
        self.assertEqual(replies[:3], ["250 2.1.0 OK", "250 2.1.5 OK", "250 2.1.5 OK"])
        self.assertEqual(set(replies[3:]), {"452 4.5.3 Too many recipients"})
        c.cmd("DATA")
        c.reply()
        c.send(b"Subject: limited\r\n\r\nx\r\n.\r\n")
        self.assertTrue(c.reply().startswith("250 2.0.0 Saved"))
        self.assertTrue(c.reply().startswith("250 2.0.0 Saved"))
        c.cmd("NOOP")
        self.assertEqual(c.reply(), "250 2.0.0 OK")
        self.assertEqual([self.messages(u) for u in ("alice", "bob", "carol")], [1, 1, 0])

    def test_size_over_free_space_refused_at_rcpt(self):
        """SIZE bigger than the disk's free space: 452 4.3.1 at RCPT, so that
        the MTA keeps the message instead of sending it for nothing."""
        self.start(settings={"mail_max_message_size": "1048576G"})
        c = self.client()
        c.session()
        replies = self.transaction(c, [f"alice@{DOMAIN}"], params=f" SIZE={2 ** 49}")
        self.assertEqual(replies, ["250 2.1.0 OK", "452 4.3.1 Insufficient system storage"])

    def test_duplicate_delivery_is_harmless(self):
        """The MTA lost the reply and sends the message again: a second,
        intact copy, with a UID of its own."""
        self.start()
        for _ in range(2):
            lmtp = self.smtplib()
            self.assertEqual(lmtp.sendmail(SENDER, [f"alice@{DOMAIN}"], MESSAGE), {})
            lmtp.quit()
        out = self.gannet("fetch", "-u", "alice", "INBOX", "1:*", "uid").stdout.decode()
        self.assertEqual(out.splitlines(), ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)"])
        self.assertEqual(split_trace(self.fetch_body("alice", 1))[1], MESSAGE)
        self.assertEqual(split_trace(self.fetch_body("alice", 2))[1], MESSAGE)

    def test_too_many_bad_commands(self):
        self.start(settings={"login_max_bad_commands": "3"})
        c = self.client()
        c.session()
        for _ in range(2):
            c.cmd("BOGUS")
            self.assertEqual(c.reply(), "500 5.5.1 Unknown command")
        c.cmd("BOGUS")
        self.assertEqual(c.wait_closed(), [
            "500 5.5.1 Unknown command",
            "421 4.7.0 Too many invalid commands, closing connection"])


class TestLmtpDelivery(LmtpTestCase):
    def test_detail_mailbox(self):
        """recipient_delimiter and lmtp_save_to_detail_mailbox, with Dovecot's
        meaning: user+folder@ into folder when it exists, else INBOX."""
        self.start(settings={"lmtp_save_to_detail_mailbox": "yes", "recipient_delimiter": "+-"})
        self.gannet("mailbox", "create", "-u", "alice", "Lists")
        lmtp = self.smtplib()
        for rcpt in ("alice+Lists", "alice-Lists", "alice+Nope", "alice+"):
            self.assertEqual(lmtp.sendmail(SENDER, [f"{rcpt}@{DOMAIN}"], MESSAGE), {}, rcpt)
        self.assertEqual(self.messages("alice", "Lists"), 2)
        self.assertEqual(self.messages("alice"), 2)
        fields, _ = split_trace(self.fetch_body("alice", 1, "Lists"))
        self.assertEqual(fields[1], f"Delivered-To: alice+Lists@{DOMAIN}".encode())

    def test_detail_ignored_by_default(self):
        self.start()
        self.gannet("mailbox", "create", "-u", "alice", "Lists")
        lmtp = self.smtplib()
        self.assertEqual(lmtp.sendmail(SENDER, [f"alice+Lists@{DOMAIN}"], MESSAGE), {})
        self.assertEqual(self.messages("alice", "Lists"), 0)
        self.assertEqual(self.messages("alice"), 1)

    def test_user_names(self):
        """local@domain, then local; as given, then in lower case."""
        self.start(users=["alice", "bob"])
        lmtp = self.smtplib()
        lmtp.ehlo("client.example")
        lmtp.mail(SENDER)
        self.assertEqual(lmtp.rcpt("ALICE@Example.ORG")[0], 250)
        self.assertEqual(lmtp.rcpt("bob@other.example")[0], 250)
        self.assertEqual(lmtp.rcpt("carol@example.org")[0], 550)
        self.assertEqual(lmtp.data(MESSAGE)[0], 250)
        self.assertEqual(lmtp.getreply()[0], 250)
        self.assertEqual([self.messages(u) for u in ("alice", "bob")], [1, 1])

    def test_postmaster(self):
        """RFC 5321 §4.1.1.3 and §4.5.1: <postmaster> without a domain is
        accepted and, the userdb knowing no postmaster, goes to
        postmaster_address."""
        self.start(settings={"postmaster_address": f"carol@{DOMAIN}"})
        lmtp = self.smtplib()
        lmtp.ehlo("client.example")
        lmtp.mail(SENDER)
        self.assertEqual(lmtp.rcpt("PostMaster"), (250, b"2.1.5 OK"))
        self.assertEqual(lmtp.rcpt(f"postmaster@{DOMAIN}"), (250, b"2.1.5 OK"))
        self.assertEqual(lmtp.data(MESSAGE)[0], 250)
        self.assertEqual(lmtp.getreply()[0], 250)
        self.assertEqual(self.messages("carol"), 2)

    def test_no_postmaster_address(self):
        self.start()
        lmtp = self.smtplib()
        lmtp.ehlo("client.example")
        lmtp.mail(SENDER)
        self.assertEqual(lmtp.rcpt("postmaster"), (550, b"5.1.1 User doesn't exist"))

    def test_index_locked_is_a_temporary_failure(self):
        """The user's index locked by another process for longer than gannet
        waits (10 s): 451, so the MTA retries; the message is not lost, the
        worker's loop answers other clients meanwhile, and the retry after
        the lock is gone succeeds."""
        self.start(workers=1)
        lmtp = self.smtplib()
        self.assertEqual(lmtp.sendmail(SENDER, [f"alice@{DOMAIN}"], MESSAGE), {})
        lmtp.quit()
        db = sqlite3.connect(os.path.join(self.maildir("alice"), "gannet.index.sqlite"),
                             timeout=1, isolation_level=None)
        self.addCleanup(db.close)
        db.execute("BEGIN IMMEDIATE")
        c = self.client(timeout=30)
        c.session()
        self.transaction(c, [f"alice@{DOMAIN}"])
        c.cmd("DATA")
        c.reply()
        c.send(dot_stuff(MESSAGE) + b".\r\n")
        # the same worker answers another session at once
        time.sleep(0.5)
        other = self.client()
        started = time.monotonic()
        other.session()
        other.cmd("NOOP")
        self.assertEqual(other.reply(), "250 2.0.0 OK")
        self.assertLess(time.monotonic() - started, 1.0)
        reply = c.reply(timeout=30)
        self.assertTrue(reply.startswith("451 4."), reply)
        db.execute("ROLLBACK")
        self.assertEqual(self.messages("alice"), 1)
        self.assertEqual(self.files_in("alice", "tmp"), [])
        self.transaction(c, [f"alice@{DOMAIN}"])
        c.cmd("DATA")
        c.reply()
        c.send(dot_stuff(MESSAGE) + b".\r\n")
        self.assertTrue(c.reply().startswith("250 2.0.0 Saved"))
        self.assertEqual(self.messages("alice"), 2)

    def test_imap_idle_sees_delivery(self):
        """An IMAP client in IDLE on INBOX is told of the message delivered over
        LMTP within a second of the 250, by another worker's session."""
        self.start()
        c = self.srv.imap_logged_in("alice")
        self.addCleanup(c.close)
        c.cmd("s SELECT INBOX")
        self.assertTrue(c.read_until_tagged("s")[1].startswith("s OK"))
        c.cmd("i IDLE")
        self.assertEqual(c.line(), "+ idling")
        lmtp = self.smtplib()
        self.assertEqual(lmtp.sendmail(SENDER, [f"alice@{DOMAIN}"], MESSAGE), {})
        delivered = time.monotonic()
        seen = []
        while "* 1 EXISTS" not in seen:
            seen.append(c.line(timeout=5))
        elapsed = time.monotonic() - delivered
        self.assertLess(elapsed, 1.0, f"EXISTS after {elapsed:.2f}s: {seen}")
        c.send(b"DONE\r\n")
        self.assertEqual(c.read_until_tagged("i")[1], "i OK IDLE terminated.")


class TestLmtpSocket(LmtpTestCase):
    def test_unix_socket(self):
        """The unix_listener: Dovecot's default mode 0666, a delivery over it."""
        self.start()
        st = os.stat(self.srv.lmtp_socket)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o666)
        c = self.client(unix=True)
        c.session()
        self.transaction(c, [f"alice@{DOMAIN}"])
        c.cmd("DATA")
        c.reply()
        c.send(dot_stuff(MESSAGE) + b".\r\n")
        self.assertTrue(c.reply().startswith("250 2.0.0 Saved"))
        fields, rest = split_trace(self.fetch_body("alice"))
        self.assertEqual(rest, MESSAGE)
        self.assertTrue(fields[2].startswith(b"Received: from client.example (unix)"), fields[2])
        # removed when the server stops
        self.srv.stop()
        self.assertFalse(os.path.exists(self.srv.lmtp_socket))

    @unittest.skipUnless(os.geteuid() == 0, "needs root to give the socket to another user")
    def test_unix_socket_mode_and_owner(self):
        """mode, user and group, as Postfix's chroot wants them; a socket left
        behind by a server that died is replaced."""
        self.start(unix_listener="    mode = 0660\n    user = nobody\n    group = nogroup\n")
        st = os.stat(self.srv.lmtp_socket)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual((st.st_uid, st.st_gid), (65534, 65534))
        self.srv.kill()
        self.srv.stderr_file.close()
        self.assertTrue(os.path.exists(self.srv.lmtp_socket))  # stale
        self.srv.start()
        self.wait_lmtp()
        c = self.client(unix=True)
        c.session()

    def test_inet_listener_defaults_to_loopback(self):
        """An LMTP inet_listener without an address listens on 127.0.0.1 only,
        whatever `listen` says: LMTP has no authentication."""
        self.start(settings={"listen": "*"})
        listening = {addr for addr, port in listening_sockets() if port == self.srv.lmtp_port}
        self.assertEqual(listening, {"127.0.0.1"})

    @unittest.skipUnless(SWAKS, "swaks is not installed (scripts/deps installs it)")
    def test_swaks(self):
        """swaks from Debian, over TCP and over the unix socket."""
        self.start()
        for where in (["--server", f"{HOST}:{self.srv.lmtp_port}"],
                      ["--socket", self.srv.lmtp_socket]):
            r = subprocess.run([SWAKS, "--protocol", "LMTP", *where, "--helo", "swaks.example",
                                "--from", SENDER, "--to", f"alice@{DOMAIN},bob@{DOMAIN}",
                                "--header", "Subject: from swaks", "--body", "swaks body"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(len(re.findall(r"<-  250 2\.0\.0 Saved", r.stdout)), 2, r.stdout)
        for user in ("alice", "bob"):
            self.assertEqual(self.messages(user), 2)
            _, rest = split_trace(self.fetch_body(user))
            self.assertIn(b"Subject: from swaks\r\n", rest)
            self.assertIn(b"\r\n\r\nswaks body\r\n", rest)


if __name__ == "__main__":
    unittest.main()
