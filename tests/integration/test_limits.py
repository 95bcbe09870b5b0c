"""Limits against bad input (issue 2): line length, pre-login timeout,
unauthenticated connections per address and in total, SASL message size,
sessions per user and address. Each gives a clear protocol error or a clean
disconnect, and the server keeps serving the others."""

import socket
import ssl
import time
import unittest

from harness import (
    HOST, OTHER_HOST, ConnectionClosed, PerTestServerCase, ServerTestCase, b64, password,
    plain_b64,
)

LONG = 9000  # over login_max_line_length (8192 before login)


def closed_or_continues(test, c, probe, expect_prefix):
    """After a refused line: either the server closes the connection cleanly
    (possibly after a `* BYE`/`-ERR` line) or it answers `probe` normally.
    Returns "closed" or "continued". The probe goes out at once and the answer
    decides (a server that closes answers it with EOF or a reset), so nothing
    waits for a silence."""
    try:
        c.cmd(probe)
        line = c.line(5)
    except (ConnectionClosed, ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
        return "closed"
    if line.startswith(expect_prefix):
        return "continued"
    test.assertRegex(line, r"^(\* BYE|-ERR)", f"unexpected after the refused line: {line!r}")
    # a goodbye: the connection must now end, the probe unanswered
    try:
        test.assertEqual(c.wait_closed(3), [])
    except (ConnectionResetError, ssl.SSLEOFError):
        pass
    return "closed"


class LineLengthTest(ServerTestCase):
    SERVER_SETTINGS = {"auth_failure_delay": "100 ms"}

    def test_imap_overlong_line_gets_bad(self):
        for name in ("imaps", "imap"):
            with self.subTest(listener=name), self.srv.raw(name) as c:
                c.line()
                c.send(b"a LOGIN alice " + b"x" * LONG + b"\r\n")
                line = c.line()
                self.assertRegex(line, r"^(\*|a) BAD ")
                closed_or_continues(self, c, "x NOOP", "x OK")
        self.assertAlive()

    def test_imap_overlong_line_refused_before_it_ends(self):
        # a client that never ends its line: answered as soon as the line is
        # over the limit (the server does not keep buffering it)
        with self.srv.raw("imaps") as c:
            c.line()
            try:
                for _ in range(4):
                    c.send(b"a " + b"y" * LONG)
                    time.sleep(0.05)
                line = c.line(3)
            except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                line = "(closed)"
            self.assertRegex(line, r"^(\* BAD|a BAD|\* BYE|\(closed\))")
            if line != "(closed)":
                c.send(b"\r\n")
                closed_or_continues(self, c, "x NOOP", "x OK")
        self.assertAlive()

    def test_line_under_the_limit_is_processed(self):
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd('a LOGIN alice "' + "x" * 8000 + '"')
            self.assertEqual(c.read_until_tagged("a")[1],
                             "a NO [AUTHENTICATIONFAILED] Authentication failed.")

    def test_pop3_overlong_line_gets_err(self):
        for name in ("pop3s", "pop3"):
            with self.subTest(listener=name), self.srv.raw(name) as c:
                c.line()
                c.send(b"USER " + b"x" * LONG + b"\r\n")
                self.assertTrue(c.line().startswith("-ERR"))
                closed_or_continues(self, c, "CAPA", "+OK")
        self.assertAlive()


class BadCommandsTest(PerTestServerCase):
    def test_too_many_bad_commands_disconnects(self):
        # login_max_bad_commands (default 10): a client that only sends garbage
        # is disconnected before login
        with self.srv.raw("imaps") as c:
            c.line()
            closed = False
            for i in range(30):
                try:
                    c.cmd(f"x{i} FROBNICATE")
                    line = c.line()
                except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
                    closed = True
                    break
                if line.startswith("* BYE"):
                    c.wait_closed(3)
                    closed = True
                    break
                self.assertTrue(line.startswith(f"x{i} BAD"), line)
            self.assertTrue(closed, "30 bad commands and still connected")
        self.assertAlive()


class LoggedInBadCommandsTest(ServerTestCase):
    # login_max_bad_commands counts before login only; after login a client is
    # closed after 20 bad commands in a row (Dovecot's CLIENT_MAX_BAD_COMMANDS),
    # and a command that runs starts the count again. POP3 after login has its
    # own line bound, not imap_max_line_length.
    SERVER_SETTINGS = {"login_max_bad_commands": "3", "imap_max_line_length": "1k"}

    def pop3_logged_in(self):
        c = self.srv.raw("pop3s")
        c.line()
        c.cmd("USER alice")
        self.assertTrue(c.line().startswith("+OK"))
        c.cmd(f"PASS {password('alice')}")
        self.assertEqual(c.line(), "+OK Logged in.")
        return c

    def test_imap_before_login_the_setting_counts(self):
        with self.srv.raw("imaps") as c:
            c.line()
            for i in range(2):
                c.cmd(f"x{i} FROBNICATE")
                self.assertEqual(c.line(), f"x{i} BAD Unknown command.")
            c.cmd("x2 FROBNICATE")
            self.assertEqual(c.line(), "x2 BAD Unknown command.")
            self.assertEqual(c.wait_closed(3), ["* BYE Too many invalid commands."])

    def test_imap_after_login_twenty_in_a_row(self):
        with self.srv.imap_logged_in() as c:
            for i in range(19):
                c.cmd(f"x{i} FROBNICATE")
                self.assertEqual(c.line(), f"x{i} BAD Unknown command.")
            c.cmd("n NOOP")
            self.assertEqual(c.line(), "n OK NOOP completed.")
            for i in range(19):
                c.cmd(f"y{i} LOGIN alice x")  # not allowed once logged in
                self.assertEqual(c.line(), f"y{i} BAD Not allowed once logged in.")
            c.cmd("z FROBNICATE")
            self.assertEqual(c.line(), "z BAD Unknown command.")
            self.assertEqual(c.wait_closed(3), ["* BYE Too many invalid commands."])

    def test_pop3_before_login_the_setting_counts(self):
        with self.srv.raw("pop3s") as c:
            c.line()
            for _ in range(2):
                c.cmd("FROB")
                self.assertEqual(c.line(), "-ERR Unknown command.")
            c.cmd("FROB")
            self.assertEqual(c.line(), "-ERR Unknown command.")
            self.assertEqual(c.wait_closed(3), ["-ERR Too many invalid commands."])

    def test_pop3_after_login_twenty_in_a_row(self):
        with self.pop3_logged_in() as c:
            for _ in range(19):
                c.cmd("FROB")
                self.assertEqual(c.line(), "-ERR Unknown command.")
            c.cmd("NOOP")
            self.assertEqual(c.line(), "+OK")
            for _ in range(19):
                c.cmd("USER bob")  # not in the TRANSACTION state
                self.assertEqual(c.line(), "-ERR USER is not allowed in the TRANSACTION state.")
            c.cmd("FROB")
            self.assertEqual(c.line(), "-ERR Unknown command.")
            self.assertEqual(c.wait_closed(3), ["-ERR Too many invalid commands."])

    def test_pop3_after_login_line_bound_is_its_own(self):
        with self.pop3_logged_in() as c:
            # over imap_max_line_length (1k here), under POP3's 2048 octets
            c.cmd("NOOP " + "x" * 1500)
            self.assertEqual(c.line(), "+OK")
            c.cmd("NOOP " + "x" * 3000)
            self.assertEqual(c.line(), "-ERR Command line too long.")
            c.cmd("NOOP")
            self.assertEqual(c.line(), "+OK")


class LoginTimeoutTest(PerTestServerCase):
    SERVER_SETTINGS = {"login_timeout": "1 secs"}

    def test_idle_unauthenticated_imap_closed(self):
        for name in ("imaps", "imap"):
            with self.subTest(listener=name), self.srv.raw(name) as c:
                c.line()
                t0 = time.monotonic()
                lines = c.wait_closed(5)
                elapsed = time.monotonic() - t0
                self.assertTrue(lines and lines[0].startswith("* BYE"), lines)
                self.assertGreater(elapsed, 0.8)
                self.assertLess(elapsed, 3.0)

    def test_idle_unauthenticated_pop3_closed(self):
        for name in ("pop3s", "pop3"):
            with self.subTest(listener=name), self.srv.raw(name) as c:
                c.line()
                t0 = time.monotonic()
                lines = c.wait_closed(5)
                elapsed = time.monotonic() - t0
                for l in lines:
                    self.assertTrue(l.startswith("-ERR"), lines)
                self.assertGreater(elapsed, 0.8)
                self.assertLess(elapsed, 3.0)

    def test_silent_client_closed_before_tls_handshake(self):
        # a client that connects to imaps and never starts the handshake
        with socket.create_connection((HOST, self.srv.ports["imaps"]), timeout=5) as s:
            t0 = time.monotonic()
            self.assertEqual(s.recv(100), b"")
            self.assertLess(time.monotonic() - t0, 3.0)

    def test_logged_in_session_not_subject_to_login_timeout(self):
        c = self.srv.imap_logged_in("alice")
        self.addCleanup(c.close)
        time.sleep(2.0)
        c.cmd("n NOOP")
        self.assertTrue(c.read_until_tagged("n")[1].startswith("n OK"))


class ConnectionsPerAddressTest(PerTestServerCase):
    SERVER_SETTINGS = {"login_max_connections_per_ip": "3"}

    def open(self, name, n, source=None):
        clients = []
        for _ in range(n):
            c = self.srv.raw(name, source=source)
            self.addCleanup(c.close)
            clients.append(c)
            first = c.line()
            self.assertTrue(first.startswith("* OK") or first.startswith("+OK"), first)
        return clients

    def test_imap_fourth_unauthenticated_connection_refused(self):
        held = self.open("imap", 3)
        with self.srv.raw("imap") as c:
            lines = c.wait_closed(5)
            self.assertTrue(lines and lines[0].startswith("* BYE"), lines)
        with self.srv.raw("imap", source=OTHER_HOST) as c:  # another address is not affected
            self.assertTrue(c.line().startswith("* OK"))
        # implicit TLS counts too: refused with * BYE, or closed at the handshake
        try:
            with self.srv.raw("imaps") as c:
                lines = c.wait_closed(5)
                self.assertTrue(not lines or lines[0].startswith("* BYE"), lines)
        except (ssl.SSLError, ConnectionError):
            pass
        # closing one frees a slot
        held[0].close()
        deadline = time.monotonic() + 3
        while True:
            with self.srv.raw("imap") as c:
                line = c.line()
            if line.startswith("* OK") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertTrue(line.startswith("* OK"), line)

    def test_pop3_fourth_unauthenticated_connection_refused(self):
        self.open("pop3", 3)
        with self.srv.raw("pop3") as c:
            lines = c.wait_closed(5)
            self.assertTrue(lines and lines[0].startswith("-ERR"), lines)
        with self.srv.raw("pop3", source=OTHER_HOST) as c:
            self.assertTrue(c.line().startswith("+OK"))

    def test_authenticated_connections_do_not_count(self):
        for _ in range(3):
            self.addCleanup(self.srv.imap_logged_in("alice" if _ < 2 else "bob").close)
        held = self.open("imaps", 3)
        self.assertEqual(len(held), 3)


class ConnectionsTotalTest(PerTestServerCase):
    SERVER_SETTINGS = {"login_max_connections": "4"}

    def test_total_unauthenticated_connections_limited(self):
        for source in (None, None, OTHER_HOST, OTHER_HOST):
            c = self.srv.raw("imap", source=source)
            self.addCleanup(c.close)
            self.assertTrue(c.line().startswith("* OK"))
        with self.srv.raw("imap", source=OTHER_HOST) as c:
            lines = c.wait_closed(5)
            self.assertTrue(lines and lines[0].startswith("* BYE"), lines)


# a valid password (gannet takes passwords up to 1024 bytes) whose PLAIN
# response, 1008 bytes and 1344 in base64, is over auth_max_sasl_size = 512
LONGPW = "L" * 1000


class SaslSizeTest(PerTestServerCase):
    SERVER_SETTINGS = {"auth_failure_delay": "100 ms", "auth_max_sasl_size": "512"}
    SERVER_KW = {"extra_users": [f"longpw:{{PLAIN}}{LONGPW}::::::"]}

    def test_response_over_bound_refused_even_if_correct(self):
        resp = plain_b64("longpw", LONGPW)
        self.assertGreater(len(resp), 1024)  # over 512 whether counted encoded or decoded
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a AUTHENTICATE PLAIN " + resp)
            self.assertRegex(c.read_until_tagged("a")[1], r"^a (BAD|NO) ")
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a AUTHENTICATE PLAIN")
            self.assertTrue(c.line().startswith("+"))
            c.cmd(resp)
            self.assertRegex(c.read_until_tagged("a")[1], r"^a (BAD|NO) ")
        with self.srv.raw("pop3s") as c:
            c.line()
            c.cmd("AUTH PLAIN " + resp)
            self.assertTrue(c.line().startswith("-ERR"))
        self.assertAlive()

    def test_response_under_bound_accepted(self):
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a AUTHENTICATE PLAIN " + plain_b64("alice", password("alice")))
            self.assertRegex(c.read_until_tagged("a")[1], r"^a OK ")


class SaslSizeDefaultTest(PerTestServerCase):
    SERVER_SETTINGS = {"auth_failure_delay": "100 ms"}
    SERVER_KW = {"extra_users": [f"longpw:{{PLAIN}}{LONGPW}::::::"]}

    def test_control_long_password_logs_in_with_default_bound(self):
        # the control for SaslSizeTest: the same exchange succeeds under the
        # default bound (16384)
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a AUTHENTICATE PLAIN " + plain_b64("longpw", LONGPW))
            self.assertRegex(c.read_until_tagged("a")[1], r"^a OK \[CAPABILITY ")

    def test_huge_response_refused_server_survives(self):
        huge = b64(b"\0alice\0" + b"z" * 20000)  # over 16384 (and over the line limit)
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a AUTHENTICATE PLAIN")
            self.assertTrue(c.line().startswith("+"))
            try:
                c.cmd(huge)
                line = c.line()
                while line.startswith("* "):
                    self.assertRegex(line, r"^\* (BAD|BYE) ")
                    line = c.line()
                self.assertRegex(line, r"^a (BAD|NO) ")
            except (ConnectionClosed, ConnectionResetError):
                pass  # a clean disconnect is allowed too
        self.assertAlive()


class UserIpConnectionsTest(PerTestServerCase):
    SERVER_SETTINGS = {"mail_max_userip_connections": "2"}

    def test_imap_third_session_of_user_from_same_address_refused(self):
        first = self.srv.imap_logged_in("alice")
        self.addCleanup(first.close)
        self.addCleanup(self.srv.imap_logged_in("alice").close)
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a LOGIN alice alice-pw-1")
            self.assertTrue(c.read_until_tagged("a")[1].startswith("a NO [LIMIT] "))
        # other users and other addresses are not affected
        self.addCleanup(self.srv.imap_logged_in("bob").close)
        self.addCleanup(self.srv.imap_logged_in("alice", source=OTHER_HOST).close)
        # a session that ends frees its slot
        first.cmd("z LOGOUT")
        first.read_until_tagged("z")
        deadline = time.monotonic() + 3
        while True:
            with self.srv.raw("imaps") as c:
                c.line()
                c.cmd("a LOGIN alice alice-pw-1")
                tagged = c.read_until_tagged("a")[1]
            if tagged.startswith("a OK") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertTrue(tagged.startswith("a OK"), tagged)

    def test_pop3_third_session_of_user_from_same_address_refused(self):
        for _ in range(2):
            p = self.srv.pop3_ssl()
            self.addCleanup(p.close)
            p.user("carol")
            self.assertEqual(p.pass_(password("carol")), b"+OK Logged in.")
        with self.srv.raw("pop3s") as c:
            c.line()
            c.cmd("USER carol")
            c.line()
            c.cmd("PASS carol-pw-1")
            self.assertTrue(c.line().startswith("-ERR [IN-USE] "))


if __name__ == "__main__":
    unittest.main()
