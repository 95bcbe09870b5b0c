"""Authentication policy (issue 2): the failure delay grows for an address that
keeps failing and for no other; a userdb entry whose uid/gid differ from
mail_uid/mail_gid is refused at login with a log line that says why; the
start-up log says when passwords are going to be logged; auth_debug traces."""

import os
import re
import time
import unittest

from harness import (
    OTHER_HOST, GannetServer, PerTestServerCase, ServerTestCase, b64, password, plain_b64,
    wrong_password,
)

BASE_DELAY = 0.3


def timed_login(srv, user, pw, source=None):
    """One LOGIN on a new imaps connection: (tagged answer, seconds it took)."""
    with srv.raw("imaps", source=source) as c:
        c.line()
        t0 = time.monotonic()
        c.cmd(f"a LOGIN {user} {pw}")
        answer = c.read_until_tagged("a")[1]
        return answer, time.monotonic() - t0


class PenaltyGrowthTest(PerTestServerCase):
    SERVER_SETTINGS = {"auth_failure_delay": "300 ms"}

    def test_repeated_failures_from_one_address_grow_the_delay(self):
        delays = []
        for _ in range(3):
            answer, took = timed_login(self.srv, "alice", wrong_password("alice"))
            self.assertTrue(answer.startswith("a NO [AUTHENTICATIONFAILED]"), answer)
            delays.append(took)
        # 0.3 s, then 0.6 s, then 1.2 s: doubling per recent failure
        self.assertGreaterEqual(delays[0], BASE_DELAY - 0.05)
        self.assertLess(delays[0], 2 * BASE_DELAY - 0.05)
        self.assertGreaterEqual(delays[1], 2 * BASE_DELAY - 0.05)
        self.assertGreaterEqual(delays[2], 4 * BASE_DELAY - 0.05)
        # another address is not penalised for the first one's failures
        answer, took = timed_login(self.srv, "alice", wrong_password("alice"), source=OTHER_HOST)
        self.assertTrue(answer.startswith("a NO [AUTHENTICATIONFAILED]"), answer)
        self.assertLess(took, 2 * BASE_DELAY - 0.05)
        # and a correct login is never delayed by the penalty
        answer, took = timed_login(self.srv, "alice", password("alice"))
        self.assertTrue(answer.startswith("a OK "), answer)
        self.assertLess(took, BASE_DELAY)

    def test_success_clears_the_penalty(self):
        for _ in range(2):
            timed_login(self.srv, "alice", wrong_password("alice"))
        answer, _ = timed_login(self.srv, "alice", password("alice"))
        self.assertTrue(answer.startswith("a OK "), answer)
        answer, took = timed_login(self.srv, "alice", wrong_password("alice"))
        self.assertTrue(answer.startswith("a NO "), answer)
        self.assertLess(took, 2 * BASE_DELAY - 0.05)


class UserdbUidTest(ServerTestCase):
    """All mail belongs to mail_uid/mail_gid: a userdb that gives a user any
    other uid or gid is a configuration mistake, refused at login."""

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()
        srv = GannetServer(start=False)
        # alice: the server's own ids (empty fields); mallory: someone else's uid
        userdb = os.path.join(srv.dir, "userdb")
        with open(userdb, "w") as f:
            f.write(f"alice::::{srv.home}/alice::\n")
            f.write(f"mallory::4242:4242::{srv.home}/mallory::\n")
        os.chmod(userdb, 0o644)
        with open(srv.users_file, "a") as f:
            with open(srv.users_file) as r:
                alice = [line for line in r if line.startswith("alice:")][0]
            f.write(alice.replace("alice:", "mallory:", 1))
        text = srv.config_text()
        static = re.search(r"userdb \{\n.*?\n\}\n", text, re.S).group(0)
        text = text.replace(static, f"userdb {{\n  driver = passwd-file\n  args = {userdb}\n}}\n")
        with open(srv.conf, "w") as f:
            f.write(text)
        cls.srv = srv
        try:
            srv.start()
        except BaseException:
            srv.cleanup()
            raise

    def test_matching_user_logs_in(self):
        answer, _ = timed_login(self.srv, "alice", password("alice"))
        self.assertTrue(answer.startswith("a OK "), answer)

    def test_other_uid_refused_with_a_clear_log_line(self):
        # mallory has alice's password but a userdb uid of 4242
        answer, _ = timed_login(self.srv, "mallory", password("alice"))
        self.assertTrue(answer.startswith("a NO [UNAVAILABLE] "), answer)
        m = self.srv.wait_log(r"user=<mallory>: userdb gives uid 4242 gid 4242, but all mail "
                              r"is served as mail_uid \d+ mail_gid \d+: login refused")
        self.assertIsNotNone(m, self.srv.log()[-2000:])


class PasswordLoggingTest(ServerTestCase):
    SERVER_SETTINGS = {"auth_debug_passwords": "yes", "auth_debug": "yes"}

    def test_startup_log_says_passwords_are_logged(self):
        log = self.srv.log()
        self.assertRegex(log, r"Warning: .*passwords given by clients are written to this log")
        self.assertRegex(log, r"Warning: \[log\.passwords\] ")
        self.assertRegex(log, r"Warning: \[log\.auth_debug\] ")

    def test_auth_debug_traces_a_login(self):
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a AUTHENTICATE PLAIN " + plain_b64("nosuchuser", "traced-secret"))
            self.assertTrue(c.read_until_tagged("a")[1].startswith("a NO "))
        m = self.srv.wait_log(r"Debug: <[^>]+> auth: mechanism PLAIN started")
        self.assertIsNotNone(m, self.srv.log()[-2000:])
        # with auth_debug_passwords the failed password is in the log, as promised
        self.assertIsNotNone(self.srv.wait_log(r"given password: traced-secret"))


class AnonymousTest(ServerTestCase):
    """ANONYMOUS (RFC 4505) exists for those who ask for it: it needs both the
    mechanism and auth_anonymous_username, and logs in as that user."""

    SERVER_SETTINGS = {"auth_mechanisms": "plain anonymous", "auth_anonymous_username": "alice"}

    def test_anonymous_logs_in_as_the_configured_user(self):
        with self.srv.raw("imaps") as c:
            greeting = c.line()
            self.assertIn(" AUTH=ANONYMOUS", greeting)
            c.cmd("a AUTHENTICATE ANONYMOUS " + b64(b"someone@example.org"))
            self.assertTrue(c.read_until_tagged("a")[1].startswith("a OK "))
        self.assertIsNotNone(self.srv.wait_log(r"login: user=<alice>, method=ANONYMOUS"))
        self.assertRegex(self.srv.log(), r"Warning: \[auth\.anonymous\] ")

    def test_mechanism_alone_is_not_enough(self):
        srv = self.server(settings={"auth_mechanisms": "plain anonymous"})
        with srv.raw("imaps") as c:
            self.assertNotIn("ANONYMOUS", c.line())
            c.cmd("a AUTHENTICATE ANONYMOUS " + b64(b"x"))
            self.assertEqual(c.read_until_tagged("a")[1],
                             "a NO Unsupported authentication mechanism.")


class DefaultLoggingTest(ServerTestCase):
    def test_no_debug_lines_and_no_password_warning_by_default(self):
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a AUTHENTICATE PLAIN " + plain_b64("nosuchuser", "quiet-secret"))
            self.assertTrue(c.read_until_tagged("a")[1].startswith("a NO "))
        self.srv.wait_log(r"authentication failed")
        log = self.srv.log()
        self.assertNotIn("Debug:", log)
        self.assertNotIn("quiet-secret", log)
        self.assertNotIn("passwords given by clients", log)


if __name__ == "__main__":
    unittest.main()
