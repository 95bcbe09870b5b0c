"""APPEND, the first mailbox command on the command core (RFC 9051 §6.3.12):
the literal streams into the store, the store works off the event loop, and
what is stored is byte for byte what was sent."""

import hashlib
import imaplib
import os
import sqlite3
import subprocess
import threading
import time
import unittest

from harness import GANNET, SANITIZED, ServerTestCase, password
from test_command_budget import reset_peak, status_kib

MESSAGE = (b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n"
           b"Subject: hello\r\nMessage-ID: <1@example.org>\r\n\r\nHi Bob.\r\n")


class AppendTest(ServerTestCase):
    SERVER_SETTINGS = {"workers": "1", "mail_max_message_size": "60M"}
    # one user per test, with a cheap hash: the tests are about APPEND
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{u}-pw-1::::::" for u in
                                 ("ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal")]}

    def gannet(self, *args):
        r = subprocess.run([GANNET, *args, "-c", self.srv.conf], capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r.stdout

    def body_of(self, user, seq, mailbox="INBOX"):
        """BODY[] as `gannet fetch` prints it."""
        out = self.gannet("fetch", "-u", user, mailbox, str(seq), "body")
        head, _, rest = out.partition(b"}\n")
        size = int(head.rsplit(b"{", 1)[1])
        return rest[:size]

    def count(self, user, mailbox="INBOX"):
        line = self.gannet("mailbox", "status", "-u", user, "-f", "messages", mailbox).decode()
        return int(line.strip().split("=")[1])

    def login(self, user):
        c = self.srv.imap_logged_in(user)
        return c

    def test_imaplib_append_with_flags_and_date(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.srv.ports["imaps"],
                              ssl_context=self.srv.ctx())
        m.login("ann", password("ann"))
        typ, data = m.append("INBOX", r"(\Seen $Forwarded)",
                             imaplib.Time2Internaldate(1700000000), MESSAGE)
        self.assertEqual(typ, "OK", data)
        self.assertRegex(data[0].decode(), r"^\[APPENDUID \d+ 1\] APPEND completed\.$")
        m.logout()
        self.assertEqual(self.body_of("ann", 1), MESSAGE)
        out = self.gannet("fetch", "-u", "ann", "INBOX", "1", "(FLAGS INTERNALDATE)").decode()
        self.assertIn("\\Seen", out)
        self.assertIn("$Forwarded", out)
        self.assertIn("14-Nov-2023 22:13:20 +0000", out)

    def test_missing_mailbox_refused_before_the_literal(self):
        with self.login("ben") as c:
            c.cmd("a APPEND NoSuchBox {5}")
            self.assertEqual(c.line(), "a NO [TRYCREATE] Mailbox does not exist.")
            # LITERAL+: the bytes come anyway and are skipped; the session goes on
            c.send(b"b APPEND NoSuchBox (\\Seen) {5+}\r\nhello\r\nc NOOP\r\n")
            self.assertEqual(c.line(), "b NO [TRYCREATE] Mailbox does not exist.")
            self.assertEqual(c.line(), "c OK NOOP completed.")

    def test_bad_arguments_and_limits(self):
        with self.login("cat") as c:
            for line, answer in (
                    ("a APPEND INBOX (\\Recent) {5}", r"^a BAD "),
                    ("a APPEND INBOX \"1-Jan-2020\" {5}", r"^a BAD "),
                    ("a APPEND INBOX {0}", r"^a NO "),
                    ("a APPEND INBOX {62914561}", r"^a NO \[TOOBIG\] "),
                    ("a APPEND INBOX", r"^a BAD ")):
                with self.subTest(line=line):
                    c.cmd(line)
                    self.assertRegex(c.line(), answer)
            c.cmd("z NOOP")
            self.assertEqual(c.line(), "z OK NOOP completed.")
        self.assertEqual(self.count("cat"), 0)

    def test_one_message_per_append(self):
        with self.login("dan") as c:
            c.send(b"a APPEND INBOX {5+}\r\nhello {5+}\r\nworld\r\nb NOOP\r\n")
            self.assertRegex(c.line(), r"^a BAD ")
            self.assertEqual(c.line(), "b OK NOOP completed.")
        self.assertEqual(self.count("dan"), 0)

    def test_dropped_connection_stores_nothing(self):
        c = self.login("eve")
        c.send(b"a APPEND INBOX {100000+}\r\n" + b"x" * 50000)
        time.sleep(0.3)
        c.close()
        time.sleep(0.5)
        self.assertEqual(self.count("eve"), 0)
        tmp = os.path.join(self.srv.home, "eve", "Maildir", "tmp")
        self.assertEqual(os.listdir(tmp), [])

    def test_50mb_message_streams_in_bounded_memory(self):
        size = 50 * 1024 * 1024
        line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
        head = b"From: a@example.org\r\nSubject: big\r\n\r\n"
        body = line * ((size - len(head)) // len(line))
        data = head + body
        worker = self.srv.workers()[0]
        with self.login("fay") as c:
            # a first, small message: the store's caches and the threads'
            # memory are then what they stay; the big one must add nothing
            small = head + line * 30000
            c.cmd(f"w APPEND INBOX {{{len(small)}}}")
            self.assertTrue(c.line().startswith("+"))
            c.send(small + b"\r\n")
            self.assertRegex(c.read_until_tagged("w")[1], r"^w OK ")
            time.sleep(0.2)
            before = status_kib(worker, "VmRSS")
            reset_peak(worker)
            c.cmd(f"a APPEND INBOX {{{len(data)}}}")
            self.assertTrue(c.line().startswith("+"))
            view = memoryview(data)
            for i in range(0, len(data), 1 << 20):
                c.send(bytes(view[i:i + (1 << 20)]))
            c.send(b"\r\n")
            tagged = c.read_until_tagged("a", timeout=120)[1]
            self.assertRegex(tagged, r"^a OK \[APPENDUID \d+ 2\]")
            grown = status_kib(worker, "VmHWM") - before
        if not SANITIZED:
            self.assertLess(grown, 2048, f"the worker grew by {grown} KiB")
        got = self.body_of("fay", 2)
        self.assertEqual(len(got), len(data))
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(data).hexdigest())

    def test_locked_index_does_not_stall_other_sessions(self):
        # ivan's APPEND waits for his index's write lock, held by another
        # process for 2 s; judy's NOOP on the same worker is answered at once
        with self.login("gus") as ivan, self.login("hal") as judy:
            # the store is opened by the first command that needs it
            ivan.cmd("w STATUS INBOX (MESSAGES)")
            self.assertEqual(ivan.read_until_tagged("w")[1], "w OK STATUS completed.")
            index = os.path.join(self.srv.home, "gus", "Maildir", "gannet.index.sqlite")
            self.assertTrue(os.path.exists(index))
            db = sqlite3.connect(index, timeout=5, isolation_level=None, check_same_thread=False)
            db.execute("BEGIN IMMEDIATE")
            released = threading.Event()

            def release():
                time.sleep(2.0)
                db.execute("COMMIT")
                released.set()
            t = threading.Thread(target=release)
            t.start()
            try:
                ivan.send(b"a APPEND INBOX {%d+}\r\n" % len(MESSAGE) + MESSAGE + b"\r\n")
                time.sleep(0.3)  # ivan's commit now waits on the lock
                delays = []
                for i in range(5):
                    start = time.monotonic()
                    judy.cmd(f"n{i} NOOP")
                    self.assertEqual(judy.line(), f"n{i} OK NOOP completed.")
                    delays.append(time.monotonic() - start)
                self.assertFalse(released.is_set(), "the lock was released too early to tell")
                self.assertLess(max(delays), 0.1, delays)
                tagged = ivan.read_until_tagged("a", timeout=15)[1]
                self.assertTrue(released.is_set())
                self.assertRegex(tagged, r"^a OK \[APPENDUID ")
            finally:
                t.join()
                db.close()
        self.assertEqual(self.body_of("gus", 1), MESSAGE)


if __name__ == "__main__":
    unittest.main()
