"""POP3 after login (RFC 1939, RFC 2449): every command through Python's
poplib and on the raw line, the maildrop as INBOX of the same store IMAP
sees, message transfer (CRLF, byte-stuffing, TOP, sizes), pipelining, bad
input, pop3_lock_session, LOGIN-DELAY, and a large message streamed without
holding it in memory."""

import imaplib
import os
import poplib
import re
import socket
import subprocess
import time
import unittest

from harness import (
    GANNET, SANITIZED, ConnectionClosed, PerTestServerCase, ServerTestCase, password,
)
from test_command_budget import reset_peak, status_kib

USERS = ("pam", "pat", "peg", "phil", "pia", "poe", "pru", "pip", "pol", "pen", "ray", "rob",
         "roy", "ria")


def message(n, body=None):
    body = body if body is not None else f"Body of message {n}.\n"
    return (f"From: sender{n}@example.org\nTo: pam@example.org\nSubject: message {n}\n"
            f"Message-ID: <{n}@example.org>\n\n{body}").encode()


def crlf(data):
    """What RETR sends for stored bytes: every bare LF as CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def deliver(srv, user, data):
    r = subprocess.run([GANNET, "deliver", "-u", user, "-c", srv.conf], input=data,
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"deliver failed: {r.stderr.decode(errors='replace')}")


def gannet_fetch(srv, user, seqset, *items):
    r = subprocess.run([GANNET, "fetch", "-u", user, "INBOX", seqset, *items, "-c", srv.conf],
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"fetch failed: {r.stderr.decode(errors='replace')}")
    return r.stdout.decode()


def pop3_login(srv, user):
    p = srv.pop3_ssl()
    p.user(user)
    p.pass_(password(user))
    return p


def raw_login(srv, user, name="pop3s"):
    c = srv.raw(name)
    c.line()
    c.cmd(f"USER {user}")
    c.line()
    c.cmd(f"PASS {password(user)}")
    line = c.line()
    if line != "+OK Logged in.":
        c.close()
        raise AssertionError(f"login as {user}: {line}")
    return c


def read_multiline_raw(c):
    """A multi-line answer's lines after its +OK line, raw (still stuffed),
    with their CRLF, and the terminating line."""
    out = []
    while True:
        line = c.readline()
        out.append(line)
        if line == b".\r\n":
            return out


def imap_inbox(srv, user):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.ports["imaps"], ssl_context=srv.ctx())
    m.login(user, password(user))
    m.select("INBOX")
    return m


class Pop3CommandsTest(ServerTestCase):
    SERVER_SETTINGS = {"workers": "1", "mail_max_userip_connections": "50",
                       "pop3_expire": "30", "pop3_login_delay": "0"}
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{u}-pw-1::::::" for u in USERS]}

    def test_every_command_with_poplib_ssl(self):
        self.every_command("pam", self.srv.pop3_ssl)

    def test_every_command_with_poplib_stls(self):
        self.every_command("roy", self.srv.pop3_stls)

    def every_command(self, user, connect):
        msgs = [message(1), message(2, "a\n.dot\n..two\nlast line without end"), message(3)]
        for m in msgs:
            deliver(self.srv, user, m)
        p = connect()
        try:
            self.assertEqual(p.user(user), b"+OK")
            self.assertEqual(p.pass_(password(user)), b"+OK Logged in.")
            self.assertEqual(p.stat(), (3, sum(len(crlf(m)) for m in msgs)))
            resp, lines, _ = p.list()
            self.assertEqual(resp, f"+OK 3 messages ({sum(len(crlf(m)) for m in msgs)} octets)"
                             .encode())
            self.assertEqual(lines, [f"{i + 1} {len(crlf(m))}".encode()
                                     for i, m in enumerate(msgs)])
            self.assertEqual(p.list(2), f"+OK 2 {len(crlf(msgs[1]))}".encode())
            resp, uidls, _ = p.uidl()
            self.assertEqual(resp, b"+OK")
            self.assertEqual([u.split()[0] for u in uidls], [b"1", b"2", b"3"])
            for u in uidls:
                self.assertRegex(u.split()[1].decode(), r"^[0-9a-f]{16}$")
            self.assertEqual(p.uidl(3), b"+OK " + uidls[2])
            for i, m in enumerate(msgs):
                resp, lines, octets = p.retr(i + 1)
                self.assertEqual(resp, f"+OK {len(crlf(m))} octets".encode())
                body = b"\r\n".join(lines) + b"\r\n"
                # message 2 has no line end at its end: the one "." needs comes on top
                self.assertEqual(body, crlf(m) + (b"\r\n" if i == 1 else b""))
            resp, lines, _ = p.top(2, 1)
            self.assertEqual(lines[-2:], [b"", b"a"])
            resp, lines, _ = p.top(2, 0)
            self.assertEqual(lines[-1], b"")
            self.assertEqual(len(lines), 5)
            self.assertEqual(p.noop(), b"+OK")
            self.assertEqual(p.dele(1), b"+OK Message 1 deleted.")
            self.assertEqual(p.stat()[0], 2)
            with self.assertRaisesRegex(poplib.error_proto, "deleted"):
                p.retr(1)
            self.assertEqual(p.rset(), f"+OK 3 messages ({sum(len(crlf(m)) for m in msgs)} "
                             "octets)".encode())
            self.assertEqual(p.dele(2), b"+OK Message 2 deleted.")
            self.assertEqual(p.quit(), b"+OK Logging out, 1 message deleted.")
        finally:
            p.close()
        p = pop3_login(self.srv, user)
        try:
            self.assertEqual(p.stat()[0], 2)
            # UIDLs stay with their messages
            self.assertEqual(p.uidl()[1], [b"1 " + uidls[0].split()[1], b"2 " + uidls[2].split()[1]])
            p.quit()
        finally:
            p.close()

    def test_stls_and_capa_in_each_state(self):
        deliver(self.srv, "pat", message(1))
        p = self.srv.pop3_stls()
        try:
            caps = p.capa()
            for cap in ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "UTF8",
                        "USER", "SASL"):
                self.assertIn(cap, caps)
            self.assertEqual(caps["EXPIRE"], ["30"])
            self.assertEqual(caps["LOGIN-DELAY"], ["0"])
            self.assertNotIn("IMPLEMENTATION", caps)
            self.assertNotIn("STLS", caps)
            p.user("pat")
            p.pass_(password("pat"))
            caps = p.capa()
            self.assertNotIn("USER", caps)
            self.assertNotIn("SASL", caps)
            self.assertIn("TOP", caps)
            self.assertEqual(caps["EXPIRE"], ["30"])
            self.assertEqual(p.stat()[0], 1)
            self.assertEqual(p.retr(1)[1][-1], b"Body of message 1.")
            p.quit()
        finally:
            p.close()

    def test_utf8_then_no_stls(self):
        with self.srv.raw("pop3") as c:
            c.line()
            c.cmd("UTF8 x")
            self.assertEqual(c.line(), "-ERR UTF8 takes no argument.")
            c.cmd("UTF8")
            self.assertEqual(c.line(), "+OK UTF8 enabled.")
            c.cmd("STLS")
            self.assertEqual(c.line(), "-ERR STLS is not allowed after UTF8.")

    def test_bad_arguments_and_states(self):
        deliver(self.srv, "peg", message(1))
        with self.srv.raw("pop3s") as c:
            c.line()
            c.cmd("STAT")
            self.assertEqual(c.line(), "-ERR STAT is not allowed in the AUTHORIZATION state.")
            c.cmd("RETR 1")
            self.assertEqual(c.line(), "-ERR RETR is not allowed in the AUTHORIZATION state.")
        with raw_login(self.srv, "peg") as c:
            for cmd, answer in (
                    ("RETR", "-ERR A message number is expected."),
                    ("RETR x", "-ERR Invalid message number."),
                    ("RETR -1", "-ERR Invalid message number."),
                    ("RETR +1", "-ERR Invalid message number."),
                    ("RETR 0", "-ERR There is no message 0."),
                    ("RETR 2", "-ERR There is no message 2."),
                    ("RETR 99999999999999999999", "-ERR Invalid message number."),
                    ("LIST 1 2", "-ERR Too many arguments."),
                    ("STAT 1", "-ERR Too many arguments."),
                    ("TOP 1", "-ERR A number of lines is expected."),
                    ("TOP 1 x", "-ERR Invalid number of lines."),
                    ("TOP 1 -1", "-ERR Invalid number of lines."),
                    ("DELE", "-ERR A message number is expected."),
                    ("USER peg", "-ERR USER is not allowed in the TRANSACTION state."),
                    ("STLS", "-ERR STLS is not allowed in the TRANSACTION state."),
                    ("APOP peg 0123", "-ERR APOP is not allowed in the TRANSACTION state."),
                    ("XYZZY", "-ERR Unknown command."),
                    ("NOOP", "+OK")):
                with self.subTest(cmd=cmd):
                    c.cmd(cmd)
                    self.assertEqual(c.line(), answer)
            c.cmd("TOP 1 99999999999999999999999")  # more lines than any body: all of it
            self.assertEqual(c.line(), "+OK")
            self.assertEqual(read_multiline_raw(c)[-2:], [b"Body of message 1.\r\n", b".\r\n"])
            c.cmd("DELE 1")
            c.line()
            c.cmd("DELE 1")
            self.assertEqual(c.line(), "-ERR Message 1 is deleted.")
            c.cmd("LIST 1")
            self.assertEqual(c.line(), "-ERR Message 1 is deleted.")
            c.cmd("LIST")
            self.assertEqual(c.line(), "+OK 0 messages (0 octets)")
            self.assertEqual(c.line(), ".")
            # an over-long line is refused and the session goes on
            c.cmd("NOOP " + "x" * 5000)
            self.assertEqual(c.line(), "-ERR Command line too long.")
            c.cmd("NOOP")
            self.assertEqual(c.line(), "+OK")
            c.cmd("RSET")
            self.assertEqual(c.line(), "+OK 1 messages (%d octets)" % len(crlf(message(1))))
            c.cmd("QUIT")
            self.assertEqual(c.line(), "+OK Logging out, 0 messages deleted.")
        p = pop3_login(self.srv, "peg")
        self.assertEqual(p.stat()[0], 1)
        p.quit()

    def test_pipelined_commands_answered_in_order(self):
        for i in range(1, 4):
            deliver(self.srv, "phil", message(i))
        with self.srv.raw("pop3s") as c:
            c.line()
            # RFC 2449 §6.6: the login and every command in one write
            c.send(f"USER phil\r\nPASS {password('phil')}\r\nSTAT\r\nRETR 1\r\nLIST\r\n"
                   "TOP 2 0\r\nBOGUS\r\nUIDL 3\r\nRETR 3\r\nNOOP\r\nQUIT\r\n")
            self.assertEqual(c.line(), "+OK")
            self.assertEqual(c.line(), "+OK Logged in.")
            self.assertTrue(c.line().startswith("+OK 3 "))
            self.assertTrue(c.line().startswith("+OK "))
            self.assertIn(b"Subject: message 1\r\n", read_multiline_raw(c))
            self.assertEqual(c.line(), "+OK 3 messages (%d octets)"
                             % (3 * len(crlf(message(1)))))
            self.assertEqual(len(read_multiline_raw(c)), 4)
            self.assertEqual(c.line(), "+OK")
            self.assertIn(b"Subject: message 2\r\n", read_multiline_raw(c))
            self.assertEqual(c.line(), "-ERR Unknown command.")
            self.assertRegex(c.line(), r"^\+OK 3 [0-9a-f]{16}$")
            self.assertTrue(c.line().startswith("+OK "))
            self.assertIn(b"Subject: message 3\r\n", read_multiline_raw(c))
            self.assertEqual(c.line(), "+OK")
            self.assertEqual(c.line(), "+OK Logging out, 0 messages deleted.")
            self.assertEqual(c.wait_closed(3), [])

    def test_flood_of_pipelined_commands(self):
        deliver(self.srv, "pia", message(1))
        with raw_login(self.srv, "pia") as c:
            # many commands, answers not read while they are sent: the server
            # stops reading when the answers pile up, then goes on in order
            n = 3000
            try:
                c.send(b"RETR 1\r\nBAD\r\nLIST\r\n" * n)
            except OSError:
                pass
            for _ in range(n):
                self.assertTrue(c.line().startswith("+OK"))
                read_multiline_raw(c)
                line = c.line()
                if line == "-ERR Too many invalid commands.":
                    break  # 20 bad commands in a row are not: RETR resets the count
                self.assertEqual(line, "-ERR Unknown command.")
                self.assertTrue(c.line().startswith("+OK 1 messages"))
                read_multiline_raw(c)
            c.cmd("NOOP")
            self.assertEqual(c.line(), "+OK")
        self.assertAlive()

    def test_twenty_bad_commands_in_a_row_close(self):
        with raw_login(self.srv, "poe") as c:
            for _ in range(19):
                c.cmd("BOGUS")
                self.assertEqual(c.line(), "-ERR Unknown command.")
            c.cmd("BOGUS")
            self.assertEqual(c.wait_closed(3), ["-ERR Unknown command.",
                                                "-ERR Too many invalid commands."])

    def test_raw_stuffing_and_line_ends(self):
        data = b"Subject: x\n\n.\n.hidden\r\n..\nend"
        deliver(self.srv, "pru", data)
        with raw_login(self.srv, "pru") as c:
            c.cmd("LIST 1")
            self.assertEqual(c.line(), f"+OK 1 {len(crlf(data))}")
            c.cmd("RETR 1")
            self.assertEqual(c.line(), f"+OK {len(crlf(data))} octets")
            raw = read_multiline_raw(c)
            self.assertEqual(b"".join(raw),
                             b"Subject: x\r\n\r\n..\r\n..hidden\r\n...\r\nend\r\n.\r\n")
            # what the client gets back after un-stuffing is the stored message, CRLF
            unstuffed = b"".join(l[1:] if l.startswith(b".") else l for l in raw[:-1])
            self.assertEqual(unstuffed, crlf(data) + b"\r\n")

    def test_messages_after_login_wait_for_the_next_session(self):
        deliver(self.srv, "pip", message(1))
        p = pop3_login(self.srv, "pip")
        try:
            deliver(self.srv, "pip", message(2))
            m = imap_inbox(self.srv, "pip")
            m.append("INBOX", None, None, message(3).replace(b"\n", b"\r\n"))
            m.logout()
            self.assertEqual(p.stat()[0], 1)
            self.assertEqual(len(p.uidl()[1]), 1)
            p.quit()
        finally:
            p.close()
        p = pop3_login(self.srv, "pip")
        self.assertEqual(p.stat()[0], 3)
        p.quit()

    def test_uidl_is_uid_and_uidvalidity(self):
        m = imap_inbox(self.srv, "pol")
        for i in range(3):
            m.append("INBOX", None, None, message(i).replace(b"\n", b"\r\n"))
        m.select("INBOX")
        m.store("2", "+FLAGS", r"(\Deleted)")
        m.expunge()
        m.select("INBOX")
        uidvalidity = int(m.untagged_responses.get("UIDVALIDITY", [b"0"])[0])
        m.logout()
        uids = [int(u) for u in re.findall(r"UID (\d+)",
                                           gannet_fetch(self.srv, "pol", "1:*", "UID"))]
        self.assertEqual(uids, [1, 3])
        p = pop3_login(self.srv, "pol")
        self.assertEqual(p.uidl()[1], [f"{n} {uid:08x}{uidvalidity:08x}".encode()
                                       for n, uid in enumerate(uids, 1)])
        p.quit()

    def test_dele_quit_expunges_for_imap_and_retr_sets_seen(self):
        for i in range(1, 4):
            deliver(self.srv, "pen", message(i))
        p = pop3_login(self.srv, "pen")
        p.retr(3)
        p.dele(1)
        p.quit()
        self.assertTrue(self.srv.wait_log(r"pop3: user=<pen>: QUIT: 1 deleted, 1 marked seen"))
        m = imap_inbox(self.srv, "pen")
        self.assertEqual(m.select("INBOX")[1], [b"2"])
        m.logout()
        self.assertEqual(gannet_fetch(self.srv, "pen", "1:*", "(UID", "FLAGS)"),
                         "* 1 FETCH (UID 2 FLAGS ())\n* 2 FETCH (UID 3 FLAGS (\\Seen))\n")

    def test_dropped_connection_deletes_nothing(self):
        for i in range(1, 3):
            deliver(self.srv, "ray", message(i))
        c = raw_login(self.srv, "ray")
        c.cmd("DELE 1")
        self.assertEqual(c.line(), "+OK Message 1 deleted.")
        c.cmd("DELE 2")
        self.assertEqual(c.line(), "+OK Message 2 deleted.")
        c.close()
        time.sleep(0.3)
        p = pop3_login(self.srv, "ray")
        self.assertEqual(p.stat()[0], 2)
        p.quit()
        m = imap_inbox(self.srv, "ray")
        self.assertEqual(m.select("INBOX")[1], [b"2"])
        m.logout()

    def test_imap_append_shows_in_pop3_and_imap_expunge_during_session(self):
        m = imap_inbox(self.srv, "rob")
        m.append("INBOX", None, None, message(1).replace(b"\n", b"\r\n"))
        m.append("INBOX", None, None, message(2).replace(b"\n", b"\r\n"))
        p = pop3_login(self.srv, "rob")
        try:
            self.assertEqual(p.stat()[0], 2)
            # expunged by IMAP after the snapshot: RETR says so, the session goes on
            m.select("INBOX")
            m.store("1", "+FLAGS", r"(\Deleted)")
            m.expunge()
            with self.assertRaisesRegex(poplib.error_proto, "expunged"):
                p.retr(1)
            self.assertIn(b"Subject: message 2", p.retr(2)[1])
            p.dele(2)
            self.assertTrue(p.quit().startswith(b"+OK Logging out"))
        finally:
            p.close()
        self.assertEqual(m.select("INBOX")[1], [b"0"])
        m.logout()


class Pop3LargeMessageTest(ServerTestCase):
    SERVER_SETTINGS = {"workers": "1"}
    SERVER_KW = {"extra_users": ["big:{PLAIN}big-pw-1::::::", "gone:{PLAIN}gone-pw-1::::::"]}

    def test_connection_dropped_during_retr(self):
        data = b"Subject: big\n\n" + b"x" * 79 + b"\n" * 1 + (b"y" * 79 + b"\n") * 100000
        deliver(self.srv, "gone", data)
        for _ in range(3):
            c = raw_login(self.srv, "gone")
            c.cmd("DELE 1")
            c.line()
            c.cmd("RETR 1")  # deleted: refused
            self.assertEqual(c.line(), "-ERR Message 1 is deleted.")
            c.cmd("RSET")
            c.line()
            c.cmd("RETR 1")
            self.assertTrue(c.line().startswith("+OK"))
            c.close()  # in the middle of the message
        time.sleep(0.3)
        p = pop3_login(self.srv, "gone")
        self.assertEqual(p.stat()[0], 1)
        self.assertEqual(b"\r\n".join(p.retr(1)[1]) + b"\r\n", crlf(data))
        p.quit()
        self.assertAlive()

    def test_large_message_streams(self):
        line = b"0123456789" * 7 + b"\n"
        data = b"Subject: big\n\n" + line * (24 * 1024 * 1024 // len(line)) + b".\n"
        deliver(self.srv, "big", data)
        worker = self.srv.workers()[0]
        with raw_login(self.srv, "big") as c:
            time.sleep(0.2)
            before = status_kib(worker, "VmRSS")
            reset_peak(worker)
            c.cmd("RETR 1")
            self.assertEqual(c.line(), f"+OK {len(crlf(data))} octets")
            # a slow client: the server must wait, not buffer the message
            time.sleep(1.0)
            mid_peak = status_kib(worker, "VmHWM")
            got = bytearray()
            c.sock.settimeout(30)
            while not got.endswith(b"\r\n.\r\n"):
                if c.buf:
                    got += c.buf
                    c.buf = b""
                    continue
                chunk = c.sock.recv(1 << 20)
                if not chunk:
                    raise ConnectionClosed("closed during RETR")
                got += chunk
            peak = status_kib(worker, "VmHWM")
            self.assertEqual(bytes(got), crlf(data).replace(b"\r\n.\r\n", b"\r\n..\r\n")
                             + b".\r\n")
            c.cmd("NOOP")
            self.assertEqual(c.line(), "+OK")
        if not SANITIZED:
            self.assertLess(mid_peak - before, 4096, "the worker buffered the message")
            self.assertLess(peak - before, 8192, f"the worker grew by {peak - before} KiB")


class Pop3LargeMaildropTest(ServerTestCase):
    SERVER_SETTINGS = {"workers": "1"}
    SERVER_KW = {"extra_users": ["many:{PLAIN}many-pw-1::::::"]}
    COUNT = 12000  # a UIDL answer of about 300 KB: more than the output buffer's high mark

    def test_listing_a_large_maildrop_in_slices(self):
        import pwd
        from dovecot_pop3 import write_maildir
        owner = pwd.getpwnam(self.srv.mail_user)
        write_maildir(os.path.join(self.srv.home, "many", "Maildir"),
                      [b"Subject: %d\n\nx\n" % n for n in range(self.COUNT)], owner)
        with raw_login(self.srv, "many") as c:
            c.send("UIDL\r\nLIST\r\nSTAT\r\n")
            time.sleep(0.5)  # the answers pile up at the server meanwhile
            self.assertEqual(c.line(), "+OK")
            uidls = read_multiline_raw(c)
            self.assertEqual(len(uidls), self.COUNT + 1)
            self.assertEqual([int(l.split()[0]) for l in uidls[:-1]], list(range(1, self.COUNT + 1)))
            self.assertEqual(len(set(l.split()[1] for l in uidls[:-1])), self.COUNT)
            total = sum(len(b"Subject: %d\r\n\r\nx\r\n" % n) for n in range(self.COUNT))
            self.assertEqual(c.line(), f"+OK {self.COUNT} messages ({total} octets)")
            self.assertEqual(len(read_multiline_raw(c)), self.COUNT + 1)
            self.assertEqual(c.line(), f"+OK {self.COUNT} {total}")


class Pop3LockTest(PerTestServerCase):
    SERVER_SETTINGS = {"workers": "2", "pop3_lock_session": "yes"}
    SERVER_KW = {"extra_users": ["lou:{PLAIN}lou-pw-1::::::"]}

    def test_second_session_is_in_use(self):
        deliver(self.srv, "lou", message(1))
        first = raw_login(self.srv, "lou")
        try:
            # other connections, which the kernel spreads over both workers
            for _ in range(4):
                with self.srv.raw("pop3s") as c:
                    c.line()
                    c.cmd("USER lou")
                    c.line()
                    c.cmd(f"PASS {password('lou')}")
                    self.assertEqual(c.wait_closed(5),
                                     ["-ERR [IN-USE] Mailbox is locked by another POP3 session."])
            # and IMAP is not held up
            m = imap_inbox(self.srv, "lou")
            m.logout()
            first.cmd("DELE 1")
            first.line()
            first.cmd("QUIT")
            self.assertEqual(first.line(), "+OK Logging out, 1 message deleted.")
        finally:
            first.close()
        time.sleep(0.2)
        p = pop3_login(self.srv, "lou")
        self.assertEqual(p.stat()[0], 0)
        p.quit()

    def test_lock_held_by_another_process(self):
        import fcntl
        import pwd
        # the lock is a flock on a file beside the index: held here, by this
        # process, the server's workers must see it
        deliver(self.srv, "lou", message(1))
        path = os.path.join(self.srv.home, "lou", "Maildir", "gannet-pop3.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        owner = pwd.getpwnam(self.srv.mail_user)
        os.fchown(fd, owner.pw_uid, owner.pw_gid)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self.assertRaisesRegex(poplib.error_proto, r"\[IN-USE\]"):
                pop3_login(self.srv, "lou")
            fcntl.flock(fd, fcntl.LOCK_UN)
            p = pop3_login(self.srv, "lou")
            # and while the server holds it, so does this process not get it
            with self.assertRaises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            p.quit()
        finally:
            os.close(fd)

    def test_lock_goes_with_a_dropped_connection(self):
        first = raw_login(self.srv, "lou")
        first.close()
        deadline = time.monotonic() + 5
        while True:
            try:
                p = pop3_login(self.srv, "lou")
                break
            except poplib.error_proto as e:
                self.assertIn("IN-USE", str(e))
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        p.quit()

    def test_without_the_setting_two_sessions(self):
        self.srv.set(pop3_lock_session="no")
        self.srv.reload()
        time.sleep(1)
        a = pop3_login(self.srv, "lou")
        b = pop3_login(self.srv, "lou")
        a.quit()
        b.quit()


class Pop3LoginDelayTest(PerTestServerCase):
    SERVER_SETTINGS = {"pop3_login_delay": "1 hour"}
    SERVER_KW = {"extra_users": ["liz:{PLAIN}liz-pw-1::::::"]}

    def test_login_delay(self):
        p = self.srv.pop3_ssl()
        self.assertEqual(p.capa()["LOGIN-DELAY"], ["3600"])
        p.user("liz")
        p.pass_(password("liz"))
        p.quit()
        with self.srv.raw("pop3s") as c:
            c.line()
            c.cmd("USER liz")
            c.line()
            c.cmd(f"PASS {password('liz')}")
            self.assertEqual(c.wait_closed(5),
                             ["-ERR [LOGIN-DELAY] Logged in less than 3600 seconds ago."])


class Pop3BrokenStoreTest(PerTestServerCase):
    SERVER_KW = {"extra_users": ["zed:{PLAIN}zed-pw-1::::::"]}

    def test_unopenable_mailbox_is_sys_temp(self):
        # the user's home is a file: the Maildir cannot be made
        with open(os.path.join(self.srv.home, "zed"), "w") as f:
            f.write("not a directory\n")
        with self.srv.raw("pop3s") as c:
            c.line()
            c.cmd("USER zed")
            c.line()
            c.cmd(f"PASS {password('zed')}")
            self.assertEqual(c.wait_closed(5), ["-ERR [SYS/TEMP] Cannot open the mailbox."])
        self.assertIn("user=<zed>", self.srv.log())


class Pop3BadLocationTest(PerTestServerCase):
    SERVER_EXTRA = "mail_location = mbox:~/mail\n"  # after the harness's own: it wins
    SERVER_KW = {"extra_users": ["zoe:{PLAIN}zoe-pw-1::::::"]}

    def test_unusable_mail_location_is_sys_perm(self):
        with self.srv.raw("pop3s") as c:
            c.line()
            c.cmd("USER zoe")
            c.line()
            c.cmd(f"PASS {password('zoe')}")
            self.assertEqual(c.wait_closed(5), ["-ERR [SYS/PERM] Cannot open the mailbox."])


if __name__ == "__main__":
    unittest.main()
