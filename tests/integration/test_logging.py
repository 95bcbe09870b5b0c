"""Logging (issue 2): with auth_verbose and auth_debug on, after logins with
every mechanism, failed ones included, the log holds no password and no SASL
exchange; failures are logged with the user and a reason."""

import base64
import re
import time
import unittest

from harness import (
    ALL_USERS, SCRAM_USERS, PerTestServerCase, ScramClient, b64, imap_scram_login, password,
    plain_b64, pop3_scram_login, scheme_users, wrong_password,
)


class NoPasswordsInLogTest(PerTestServerCase):
    SERVER_SETTINGS = {"auth_verbose": "yes", "auth_debug": "yes",
                       "auth_failure_delay": "100 ms"}

    def secrets(self):
        """Every string that would reveal a password if it appeared in the log."""
        out = []
        for user in ALL_USERS:
            for pw in (password(user), wrong_password(user)):
                out += [pw, b64(pw), plain_b64(user, pw)]
        out += ["nosuchuser-pw-1"]
        return out

    def exercise(self):
        for user in scheme_users():
            with self.srv.raw("imaps") as c:
                c.line()
                c.cmd(f"a LOGIN {user} {password(user)}")
                c.read_until_tagged("a")
            with self.srv.raw("imaps") as c:
                c.line()
                c.cmd(f"a AUTHENTICATE PLAIN {plain_b64(user, password(user))}")
                c.read_until_tagged("a")
            with self.srv.raw("imaps") as c:
                c.line()
                c.cmd("a AUTHENTICATE LOGIN")
                c.line()
                c.cmd(b64(user))
                c.line()
                c.cmd(b64(password(user)))
                c.read_until_tagged("a")
            with self.srv.raw("pop3s") as c:
                c.line()
                c.cmd(f"USER {user}")
                c.line()
                c.cmd(f"PASS {password(user)}")
                c.line()
        for user in SCRAM_USERS:
            if user in scheme_users():
                with self.srv.raw("imaps") as c:
                    c.line()
                    imap_scram_login(c, "a", user, password(user))
                with self.srv.raw("pop3s") as c:
                    c.line()
                    pop3_scram_login(c, user, password(user))
        # failures: wrong passwords, an unknown user, a password in clear
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd(f"a LOGIN alice {wrong_password('alice')}")
            c.read_until_tagged("a")
            c.cmd(f"b AUTHENTICATE PLAIN {plain_b64('bob', wrong_password('bob'))}")
            c.read_until_tagged("b")
            c.cmd("c LOGIN nosuchuser nosuchuser-pw-1")
            c.read_until_tagged("c")
            imap_scram_login(c, "d", "carol", wrong_password("carol"))
        with self.srv.raw("imap") as c:
            c.line()
            c.cmd(f"a LOGIN dave {password('dave')}")
            c.read_until_tagged("a")
        with self.srv.raw("pop3s") as c:
            c.line()
            c.cmd("USER erin")
            c.line()
            c.cmd(f"PASS {wrong_password('erin')}")
            c.line()

    def test_log_has_no_password(self):
        self.exercise()
        time.sleep(0.3)
        log = self.srv.log()
        self.assertTrue(log.strip(), "the log is empty: nothing to check")
        for secret in self.secrets():
            self.assertNotIn(secret, log, f"the log contains {secret!r}")
        # nor a SASL exchange: no SCRAM client proof, no raw base64 challenge lines
        self.assertNotRegex(log, r"p=[A-Za-z0-9+/]{40,}={0,2}")

    def test_failures_logged_with_user_and_reason(self):
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd(f"a LOGIN alice {wrong_password('alice')}")
            c.read_until_tagged("a")
        # auth_verbose: the failure, the user name and a reason
        m = self.srv.wait_log(r"^.*alice.*$", timeout=3)
        self.assertIsNotNone(m, "auth_verbose = yes but the failure was not logged:\n" + self.srv.log())
        self.assertRegex(m.group(0).lower(), r"password|mismatch|fail")
        self.assertNotIn(wrong_password("alice"), self.srv.log())


class QuietByDefaultTest(PerTestServerCase):
    SERVER_SETTINGS = {"auth_failure_delay": "100 ms"}

    def test_default_log_does_not_name_failed_accounts(self):
        # auth_verbose = no (the default): a failed login does not put the
        # account name it tried into the log
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd(f"a LOGIN zed-probe-account {wrong_password('zed')}")
            c.read_until_tagged("a")
        time.sleep(0.5)
        self.assertNotIn(wrong_password("zed"), self.srv.log())
        self.assertNotIn("zed-probe-account", self.srv.log())


if __name__ == "__main__":
    unittest.main()
