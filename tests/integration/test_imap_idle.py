"""IDLE (RFC 9051 §6.3.13, RFC 2177): changes made to the selected mailbox
by another session in another worker, by `gannet deliver`, by POP3 or by a
program writing into the Maildir are pushed to an idling client within one
second (the store's inotify fd wakes the session's loop, not a poll); DONE
ends the IDLE, any other line is BAD and ends it too; a client that goes away
while idling leaves nothing behind."""

import os
import poplib
import pwd
import re
import socket
import subprocess
import time
import unittest

from harness import GANNET, SANITIZED, ServerTestCase, password

MESSAGE = b"From: a@example.org\r\nSubject: idle\r\n\r\nbody\r\n"
USERS = ("ida", "ivo", "ian", "ilo", "ima", "ina", "ira", "isa", "ita", "iva", "iza")
PUSH_DEADLINE = 1.0


def workers(srv):
    """The pids of the master's children, from /proc."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == srv.pid:
                        pids.append(int(pid))
            except OSError:
                pass
    return pids


def worker_of(srv, client):
    """The pid of the gannet worker holding the server side of client's
    connection: the socket whose remote port is the client's local port,
    found in /proc/net/tcp and then among the workers' fds."""
    cport = client.sock.getsockname()[1]
    sport = client.sock.getpeername()[1]
    inode = None
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (int(local.split(":")[1], 16) == sport and
                    int(remote.split(":")[1], 16) == cport):
                inode = fields[9]
    if inode is None:
        return None
    for pid in workers(srv):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return pid
        except OSError:
            continue
    return None


class IdleTest(ServerTestCase):
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{password(u)}::::::" for u in USERS]}

    def append(self, c, tag, flags=""):
        c.send(f"{tag} APPEND INBOX {flags}{{{len(MESSAGE)}+}}\r\n".encode() + MESSAGE + b"\r\n")
        tagged = c.read_until_tagged(tag)[1]
        self.assertTrue(tagged.startswith(f"{tag} OK"), tagged)

    def select(self, c, tag="s"):
        c.cmd(f"{tag} SELECT INBOX")
        untagged, tagged = c.read_until_tagged(tag)
        self.assertTrue(tagged.startswith(f"{tag} OK"), tagged)
        return untagged

    def idle(self, c, tag="i"):
        c.cmd(f"{tag} IDLE")
        self.assertEqual(c.line(), "+ idling")

    def expect_push(self, c, want, start):
        """Reads untagged lines until one matches want; it must come within
        PUSH_DEADLINE seconds of start (when the change was made)."""
        seen = []
        while True:
            line = c.line(timeout=5)
            seen.append(line)
            if re.fullmatch(want, line):
                break
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, PUSH_DEADLINE, f"{want} after {elapsed:.2f}s: {seen}")
        return seen

    def done(self, c, tag="i"):
        c.send(b"DONE\r\n")
        untagged, tagged = c.read_until_tagged(tag)
        self.assertEqual(tagged, f"{tag} OK IDLE terminated.")
        return untagged

    def maildir(self, user):
        return os.path.join(self.srv.home, user, "Maildir")

    def as_mail_user(self, path):
        if os.geteuid() == 0:
            pw = pwd.getpwnam(self.srv.mail_user)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def test_idle_then_done(self):
        with self.srv.imap_logged_in("ida") as c:
            self.select(c)
            self.idle(c)
            self.assertEqual(c.pending(wait=0.3), b"")
            self.assertEqual(self.done(c), [])
            c.cmd("n NOOP")
            self.assertEqual(c.read_until_tagged("n"), ([], "n OK NOOP completed."))
            # IDLE without a mailbox: nothing to watch, DONE still ends it
            c.cmd("u UNSELECT")
            c.read_until_tagged("u")
            self.idle(c, "j")
            self.assertEqual(self.done(c, "j"), [])
            # DONE in any case, pipelined with the next command
            self.idle(c, "k")
            c.send(b"done\r\nm NOOP\r\n")
            self.assertEqual(c.read_until_tagged("k")[1], "k OK IDLE terminated.")
            self.assertEqual(c.read_until_tagged("m")[1], "m OK NOOP completed.")

    def test_a_line_other_than_done_is_bad_and_ends_idle(self):
        with self.srv.imap_logged_in("ivo") as c:
            self.select(c)
            self.idle(c)
            c.send(b"x NOOP\r\n")
            self.assertEqual(c.read_until_tagged("i")[1], "i BAD Expected DONE to end IDLE.")
            c.cmd("n NOOP")
            self.assertEqual(c.read_until_tagged("n")[1], "n OK NOOP completed.")
            c.cmd("a IDLE now")
            self.assertEqual(c.read_until_tagged("a")[1], "a BAD IDLE takes no arguments.")
            # a line that never ends is not DONE either
            self.idle(c, "j")
            c.send(b"D" * 2000)
            self.assertEqual(c.read_until_tagged("j")[1], "j BAD Expected DONE to end IDLE.")
            c.send(b"\r\n")
            c.cmd("o NOOP")
            self.assertEqual(c.read_until_tagged("o")[1], "o OK NOOP completed.")

    def test_append_from_a_session_in_another_worker_wakes_idle(self):
        self.assertGreaterEqual(len(workers(self.srv)), 2)
        a = self.srv.imap_logged_in("ian")
        self.addCleanup(a.close)
        wa = worker_of(self.srv, a)
        self.assertIsNotNone(wa)
        for _ in range(40):
            b = self.srv.imap_logged_in("ian")
            if worker_of(self.srv, b) not in (None, wa):
                break
            b.close()
        else:
            self.fail("no connection reached the other worker")
        self.addCleanup(b.close)
        self.append(a, "p1")
        self.select(a)
        self.idle(a)
        start = time.monotonic()
        self.append(b, "q1")
        self.expect_push(a, r"\* 2 EXISTS", start)
        # and an expunge: b removes the first message (\Deleted, then CLOSE)
        self.append(b, "q2", "(\\Deleted) ")
        self.expect_push(a, r"\* 3 EXISTS", time.monotonic())
        b.cmd("q3 SELECT INBOX")
        b.read_until_tagged("q3")
        start = time.monotonic()
        b.cmd("q4 CLOSE")
        b.read_until_tagged("q4")
        self.expect_push(a, r"\* 3 EXPUNGE", start)
        self.assertEqual(self.done(a), [])
        a.cmd("n NOOP")
        self.assertEqual(a.read_until_tagged("n"), ([], "n OK NOOP completed."))

    def test_gannet_deliver_wakes_idle(self):
        with self.srv.imap_logged_in("ilo") as c:
            self.select(c)
            self.idle(c)
            start = time.monotonic()
            r = subprocess.run([GANNET, "deliver", "-u", "ilo", "-c", self.srv.conf],
                               input=MESSAGE, capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.expect_push(c, r"\* 1 EXISTS", start)
            self.done(c)

    def test_a_program_writing_into_the_maildir_wakes_idle(self):
        with self.srv.imap_logged_in("ima") as c:
            self.append(c, "p1")
            self.select(c)
            self.idle(c)
            md = self.maildir("ima")
            # an MTA: tmp/ then rename into new/
            tmp = os.path.join(md, "tmp", "1700000000.M1P1.mta")
            with open(tmp, "wb") as f:
                f.write(MESSAGE)
            self.as_mail_user(tmp)
            start = time.monotonic()
            os.rename(tmp, os.path.join(md, "new", "1700000000.M1P1.mta"))
            self.expect_push(c, r"\* 2 EXISTS", start)
            # a mail reader of its own: \Seen by renaming in cur/
            name = next(n for n in os.listdir(os.path.join(md, "cur")) if ",U=1:" in n)
            start = time.monotonic()
            os.rename(os.path.join(md, "cur", name),
                      os.path.join(md, "cur", name.split(":")[0] + ":2,S"))
            self.expect_push(c, r"\* 1 FETCH \(UID 1 FLAGS \(\\Seen\)\)", start)
            # and deletes it
            name = next(n for n in os.listdir(os.path.join(md, "cur")) if ",U=1:" in n)
            start = time.monotonic()
            os.unlink(os.path.join(md, "cur", name))
            self.expect_push(c, r"\* 1 EXPUNGE", start)
            self.assertEqual(self.done(c), [])

    def test_pop3_expunge_wakes_idle(self):
        with self.srv.imap_logged_in("ina") as c:
            self.append(c, "p1")
            self.append(c, "p2")
            self.select(c)
            self.idle(c)
            p = self.srv.pop3_ssl()
            self.addCleanup(p.close)
            p.user("ina")
            p.pass_(password("ina"))
            try:
                p.dele(1)
            except poplib.error_proto as e:
                if b"Unknown command" in e.args[0]:
                    self.skipTest("POP3 has no DELE yet")
                raise
            start = time.monotonic()
            p.quit()
            self.expect_push(c, r"\* 1 EXPUNGE", start)
            self.done(c)

    def test_closing_during_idle_leaves_nothing_behind(self):
        """Clients that go away while idling, while a push is on its way, or
        in the middle of the IDLE line: the server goes on serving, and under
        AddressSanitizer its workers exit without a leak or a use after free."""
        srv = self.server(extra_users=[f"ira:{{PLAIN}}{password('ira')}::::::"])
        for round_ in range(5):
            c = srv.imap_logged_in("ira")
            c.send(f"p APPEND INBOX {{{len(MESSAGE)}+}}\r\n".encode() + MESSAGE + b"\r\n")
            c.read_until_tagged("p")
            c.cmd("s SELECT INBOX")
            c.read_until_tagged("s")
            c.cmd("i IDLE")
            self.assertEqual(c.line(), "+ idling")
            if round_ % 2:
                # a change on its way while the client goes
                d = srv.imap_logged_in("ira")
                d.send(f"q APPEND INBOX {{{len(MESSAGE)}+}}\r\n".encode() + MESSAGE + b"\r\n")
                d.read_until_tagged("q")
                d.close()
            c.sock.shutdown(socket.SHUT_RDWR)
            c.close()
        # an IDLE cut half way through its line
        c = srv.imap_logged_in("ira")
        c.cmd("s SELECT INBOX")
        c.read_until_tagged("s")
        c.send(b"i IDL")
        c.close()
        self.assertAlive(srv)
        with srv.imap_logged_in("ira") as c:
            self.select(c)
            self.idle(c)
            self.done(c)
            c.cmd("z LOGOUT")
            c.read_until_tagged("z")
        # every session is over (and its store closed) before the workers exit
        deadline = time.monotonic() + 10
        log = srv.log()
        while log.count("imap: disconnected") < log.count("imap: login:"):
            self.assertLess(time.monotonic(), deadline, log[-3000:])
            time.sleep(0.05)
            log = srv.log()
        time.sleep(0.5)
        self.assertEqual(srv.stop(), 0)
        log = srv.log()
        self.assertNotRegex(log, r"(AddressSanitizer|LeakSanitizer|runtime error)", log[-4000:])

    @unittest.skipUnless(os.path.exists("/proc/self/fd"), "needs /proc")
    def test_many_idle_rounds_keep_fds_and_wake(self):
        """IDLE, pushes and DONE again and again on one connection: every round
        is woken, and the worker's open fds do not grow."""
        with self.srv.imap_logged_in("isa") as c, self.srv.imap_logged_in("isa") as d:
            self.select(c)
            w = worker_of(self.srv, c)
            fds = None
            for n in range(1, 11):
                self.idle(c)
                start = time.monotonic()
                self.append(d, f"q{n}")
                self.expect_push(c, rf"\* {n} EXISTS", start)
                self.done(c)
                count = len(os.listdir(f"/proc/{w}/fd"))
                if n == 2:
                    fds = count
                elif n > 2:
                    self.assertLessEqual(count, fds + 1)


if __name__ == "__main__":
    unittest.main()
