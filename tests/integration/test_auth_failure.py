"""Failed logins (issue 2): answered only after auth_failure_delay (default
2 secs), the same for a wrong password and an unknown user, while another
client's login completes meanwhile (hashing and the delay never block the
event loop).

The other client connects from 127.0.0.2: a failure penalty that grows per
address may legitimately slow the failing address itself, but never anyone else.
"""

import imaplib
import threading
import time
import unittest

from harness import (
    OTHER_HOST, PerTestServerCase, ScramClient, b64, imap_scram_login, password, plain_b64,
    pop3_scram_login, wrong_password,
)

DELAY_MIN = 1.9  # default auth_failure_delay is 2 s
FAST_MAX = 1.5  # "well under the delay"
IMAP_FAILED = "NO [AUTHENTICATIONFAILED] Authentication failed."
POP3_FAILED = "-ERR [AUTH] Authentication failed."


class Timed(threading.Thread):
    """Runs fn() in a thread; records the result, the elapsed time and when it ended."""

    def __init__(self, fn, start_after=0.0):
        super().__init__(daemon=True)
        self.fn, self.start_after = fn, start_after
        self.result = self.error = None
        self.elapsed = self.ended = None

    def run(self):
        time.sleep(self.start_after)
        t0 = time.monotonic()
        try:
            self.result = self.fn()
        except BaseException as e:  # reported by the test
            self.error = e
        self.ended = time.monotonic()
        self.elapsed = self.ended - t0

    def get(self, test):
        self.join(30)
        test.assertFalse(self.is_alive(), "client thread hung")
        if self.error is not None:
            raise self.error
        return self.result


class FailureDelayTest(PerTestServerCase):
    SERVER_SETTINGS = {}  # the default auth_failure_delay

    def test_imap_wrong_password_and_unknown_user_delayed_other_login_not(self):
        wrong = self.srv.raw("imaps")
        unknown = self.srv.raw("imaps")
        for c in (wrong, unknown):
            self.addCleanup(c.close)
            c.line()
        good = self.srv.imap_ssl(source=OTHER_HOST)  # imaplib, connected before timing
        self.addCleanup(good.shutdown)

        def login_wrong():
            wrong.cmd(f"a LOGIN alice {wrong_password('alice')}")
            return wrong.read_until_tagged("a")[1]

        def login_unknown():
            unknown.cmd("a LOGIN nosuchuser nosuchuser-pw-1")
            return unknown.read_until_tagged("a")[1]

        def login_good():
            return good.login("bob", password("bob"))

        threads = [Timed(login_wrong), Timed(login_unknown), Timed(login_good, start_after=0.3)]
        for t in threads:
            t.start()
        t_wrong, t_unknown, t_good = threads
        self.assertEqual(t_wrong.get(self), "a " + IMAP_FAILED)
        self.assertEqual(t_unknown.get(self), "a " + IMAP_FAILED)
        self.assertEqual(t_good.get(self)[0], "OK")
        self.assertGreaterEqual(t_wrong.elapsed, DELAY_MIN)
        self.assertGreaterEqual(t_unknown.elapsed, DELAY_MIN)
        self.assertLess(t_good.elapsed, FAST_MAX,
                        "a good login waited for someone else's failure delay")
        self.assertLess(t_good.ended, t_wrong.ended)
        # the refused connection can try again
        wrong.cmd("b LOGIN alice alice-pw-1")
        self.assertRegex(wrong.read_until_tagged("b")[1], r"^b OK \[CAPABILITY ")

    def test_imaplib_sees_authentication_failed(self):
        m = self.srv.imap_ssl()
        self.addCleanup(m.shutdown)
        t0 = time.monotonic()
        with self.assertRaises(imaplib.IMAP4.error) as cm:
            m.login("alice", wrong_password("alice"))
        self.assertGreaterEqual(time.monotonic() - t0, DELAY_MIN)
        self.assertIn("[AUTHENTICATIONFAILED] Authentication failed.", str(cm.exception))

    def test_imap_authenticate_failures_delayed(self):
        # AUTHENTICATE PLAIN with a wrong password, SCRAM for an unknown user
        # (the exchange must not reveal that the user does not exist)
        plain = self.srv.raw("imaps")
        scram = self.srv.raw("imaps")
        for c in (plain, scram):
            self.addCleanup(c.close)
            c.line()

        def plain_wrong():
            plain.cmd("a AUTHENTICATE PLAIN " + plain_b64("alice", wrong_password("alice")))
            return plain.read_until_tagged("a")[1]

        def scram_unknown():
            return imap_scram_login(scram, "a", "nosuchuser", "nosuchuser-pw-1")

        threads = [Timed(plain_wrong), Timed(scram_unknown)]
        for t in threads:
            t.start()
        for t in threads:
            self.assertEqual(t.get(self), "a " + IMAP_FAILED)
            self.assertGreaterEqual(t.elapsed, DELAY_MIN)

    def test_pop3_wrong_password_and_unknown_user_delayed_other_login_not(self):
        wrong = self.srv.raw("pop3s")
        unknown = self.srv.raw("pop3s")
        good = self.srv.raw("pop3s", source=OTHER_HOST)
        for c, user in ((wrong, "alice"), (unknown, "nosuchuser"), (good, "bob")):
            self.addCleanup(c.close)
            c.line()
            c.cmd(f"USER {user}")
            self.assertTrue(c.line().startswith("+OK"))  # USER never reveals unknown users

        def run(c, pw):
            def fn():
                c.cmd(f"PASS {pw}")
                return c.line()
            return fn

        threads = [Timed(run(wrong, wrong_password("alice"))),
                   Timed(run(unknown, "nosuchuser-pw-1")),
                   Timed(run(good, password("bob")), start_after=0.3)]
        for t in threads:
            t.start()
        t_wrong, t_unknown, t_good = threads
        self.assertEqual(t_wrong.get(self), POP3_FAILED)
        self.assertEqual(t_unknown.get(self), POP3_FAILED)
        self.assertEqual(t_good.get(self), "+OK Logged in.")
        self.assertGreaterEqual(t_wrong.elapsed, DELAY_MIN)
        self.assertGreaterEqual(t_unknown.elapsed, DELAY_MIN)
        self.assertLess(t_good.elapsed, FAST_MAX)

    def test_pop3_auth_failures_delayed(self):
        plain = self.srv.raw("pop3s")
        scram = self.srv.raw("pop3s")
        for c in (plain, scram):
            self.addCleanup(c.close)
            c.line()

        def plain_wrong():
            plain.cmd("AUTH PLAIN " + plain_b64("alice", wrong_password("alice")))
            return plain.line()

        def scram_wrong():
            return pop3_scram_login(scram, "bob", wrong_password("bob"))

        threads = [Timed(plain_wrong), Timed(scram_wrong)]
        for t in threads:
            t.start()
        for t in threads:
            self.assertEqual(t.get(self), POP3_FAILED)
            self.assertGreaterEqual(t.elapsed, DELAY_MIN)


class ConfiguredDelayTest(PerTestServerCase):
    """auth_failure_delay is honoured: a shorter setting answers sooner."""

    SERVER_SETTINGS = {"auth_failure_delay": "500 ms"}

    def test_shorter_delay(self):
        with self.srv.raw("imaps") as c:
            c.line()
            t0 = time.monotonic()
            c.cmd(f"a LOGIN alice {wrong_password('alice')}")
            self.assertEqual(c.read_until_tagged("a")[1], "a " + IMAP_FAILED)
            elapsed = time.monotonic() - t0
            self.assertGreaterEqual(elapsed, 0.45)
            self.assertLess(elapsed, 1.9)


if __name__ == "__main__":
    unittest.main()
