"""POP3 up to login (issue 2): greeting, CAPA before and after STLS, refusal of
USER/PASS/AUTH in clear, and USER/PASS, AUTH PLAIN, AUTH LOGIN and AUTH
SCRAM-SHA-256 over pop3s and after STLS."""

import poplib
import unittest

from harness import (
    OTHER_HOST, SCRAM_USERS, PerTestServerCase, ServerTestCase, b64, password, plain_b64,
    pop3_scram_login, require_user, scheme_users, wrong_password,
)


def capa_lines(client):
    client.cmd("CAPA")
    first = client.line()
    assert first.startswith("+OK"), first
    return client.read_multiline()


class Pop3GreetingTest(ServerTestCase):
    def test_greeting_has_no_version(self):
        for name in ("pop3", "pop3s"):
            with self.subTest(listener=name), self.srv.raw(name) as c:
                raw = c.readline()
                self.assertTrue(raw.startswith(b"+OK "), raw)
                self.assertTrue(raw.endswith(b"\r\n"))
                self.assertNotRegex(raw.decode(), r"\d+\.\d+", "greeting carries a version")

    def test_cleartext_capa_offers_stls_only(self):
        for source in (None, OTHER_HOST):  # loopback gets no exemption
            with self.subTest(source=source), self.srv.raw("pop3", source=source) as c:
                c.line()
                caps = capa_lines(c)
                names = [x.split()[0].upper() for x in caps if x.strip()]
                self.assertIn("STLS", names)
                self.assertNotIn("USER", names)
                self.assertNotIn("SASL", names)

    def test_tls_capa_offers_user_and_sasl(self):
        for name in ("pop3s", "pop3"):
            with self.subTest(listener=name), self.srv.raw(name) as c:
                c.line()
                if name == "pop3":
                    c.cmd("STLS")
                    self.assertTrue(c.line().startswith("+OK"))
                    c.starttls(self.srv.ctx())
                caps = capa_lines(c)
                names = [x.split()[0].upper() for x in caps if x.strip()]
                self.assertIn("USER", names)
                self.assertNotIn("STLS", names)
                sasl = [x.upper().split() for x in caps if x.upper().startswith("SASL")]
                self.assertEqual(len(sasl), 1, caps)
                self.assertLessEqual({"PLAIN", "LOGIN", "SCRAM-SHA-256"}, set(sasl[0][1:]))

    def test_poplib_stls(self):
        p = self.srv.pop3_plain()
        try:
            self.assertIn("STLS", p.capa())
            p.stls(context=self.srv.ctx())
            caps = p.capa()
            self.assertNotIn("STLS", caps)
            self.assertIn("USER", caps)
            self.assertTrue(p.user("alice").startswith(b"+OK"))
            self.assertEqual(p.pass_(password("alice")), b"+OK Logged in.")
            self.assertTrue(p.quit().startswith(b"+OK"))
        finally:
            p.close()

    def test_user_pass_auth_refused_in_clear(self):
        for source in (None, OTHER_HOST):
            with self.subTest(source=source), self.srv.raw("pop3", source=source) as c:
                c.line()
                c.cmd("USER alice")
                self.assertTrue(c.line().startswith("-ERR [AUTH] "))
                c.cmd("PASS alice-pw-1")
                self.assertTrue(c.line().startswith("-ERR [AUTH] "))
                c.cmd("AUTH PLAIN " + plain_b64("alice", "alice-pw-1"))
                self.assertTrue(c.line().startswith("-ERR [AUTH] "))
                c.cmd("AUTH PLAIN")
                self.assertTrue(c.line().startswith("-ERR [AUTH] "))
                # then STLS and a login on the same connection
                c.cmd("STLS")
                self.assertTrue(c.line().startswith("+OK"))
                c.starttls()
                c.cmd("USER alice")
                self.assertTrue(c.line().startswith("+OK"))
                c.cmd("PASS alice-pw-1")
                self.assertEqual(c.line(), "+OK Logged in.")

    def test_poplib_user_refused_in_clear(self):
        p = self.srv.pop3_plain()
        try:
            with self.assertRaises(poplib.error_proto) as cm:
                p.user("alice")
            self.assertTrue(str(cm.exception).startswith("b'-ERR [AUTH]"), str(cm.exception))
        finally:
            p.close()


class Pop3LoginTest(ServerTestCase):
    SERVER_SETTINGS = {"auth_failure_delay": "100 ms"}

    def test_poplib_ssl_user_pass_each_scheme(self):
        for user in scheme_users():
            with self.subTest(user=user):
                p = self.srv.pop3_ssl()
                try:
                    self.assertTrue(p.getwelcome().startswith(b"+OK"))
                    self.assertTrue(p.user(user).startswith(b"+OK"))
                    self.assertEqual(p.pass_(password(user)), b"+OK Logged in.")
                    self.assertTrue(p.quit().startswith(b"+OK"))
                finally:
                    p.close()

    def test_poplib_stls_user_pass_each_scheme(self):
        for user in scheme_users():
            with self.subTest(user=user):
                p = self.srv.pop3_stls()
                try:
                    p.user(user)
                    self.assertEqual(p.pass_(password(user)), b"+OK Logged in.")
                    p.quit()
                finally:
                    p.close()

    def test_auth_plain_each_scheme(self):
        for user in scheme_users():
            for name in ("pop3s", "pop3"):
                with self.subTest(user=user, listener=name), self.srv.raw(name) as c:
                    c.line()
                    if name == "pop3":
                        c.cmd("STLS")
                        self.assertTrue(c.line().startswith("+OK"))
                        c.starttls()
                    c.cmd("AUTH PLAIN " + plain_b64(user, password(user)))
                    self.assertEqual(c.line(), "+OK Logged in.")

    def test_auth_plain_without_initial_response(self):
        with self.srv.raw("pop3s") as c:
            c.line()
            c.cmd("AUTH PLAIN")
            self.assertEqual(c.readline(), b"+ \r\n")
            c.cmd(plain_b64("carol", password("carol")))
            self.assertEqual(c.line(), "+OK Logged in.")

    def test_auth_login(self):
        with self.srv.raw("pop3s") as c:
            c.line()
            c.cmd("AUTH LOGIN")
            self.assertTrue(c.line().startswith("+ "))
            c.cmd(b64("alice"))
            self.assertTrue(c.line().startswith("+ "))
            c.cmd(b64(password("alice")))
            self.assertEqual(c.line(), "+OK Logged in.")

    def test_auth_scram_sha256(self):
        for user in SCRAM_USERS:
            require_user(self, user)
            for name in ("pop3s", "pop3"):
                with self.subTest(user=user, listener=name), self.srv.raw(name) as c:
                    c.line()
                    if name == "pop3":
                        c.cmd("STLS")
                        self.assertTrue(c.line().startswith("+OK"))
                        c.starttls()
                    self.assertEqual(pop3_scram_login(c, user, password(user)), "+OK Logged in.")

    def test_commands_after_login(self):
        with self.srv.raw("pop3s") as c:
            c.line()
            c.cmd("USER alice")
            c.line()
            c.cmd("PASS alice-pw-1")
            self.assertEqual(c.line(), "+OK Logged in.")
            c.cmd("USER bob")  # no second login
            self.assertTrue(c.line().startswith("-ERR"))
            c.cmd("QUIT")
            self.assertTrue(c.line().startswith("+OK"))
            self.assertEqual(c.wait_closed(3), [])


class Pop3RefusedTest(PerTestServerCase):
    SERVER_SETTINGS = {"auth_failure_delay": "100 ms"}

    def test_scram_refused_for_crypt_hash(self):
        with self.srv.raw("pop3s") as c:
            c.line()
            self.assertTrue(pop3_scram_login(c, "alice", password("alice")).startswith("-ERR"))
            c.cmd("USER alice")
            self.assertTrue(c.line().startswith("+OK"))
            c.cmd("PASS alice-pw-1")
            self.assertEqual(c.line(), "+OK Logged in.")

    def test_scram_wrong_password(self):
        with self.srv.raw("pop3s") as c:
            c.line()
            self.assertEqual(pop3_scram_login(c, "bob", wrong_password("bob")),
                             "-ERR [AUTH] Authentication failed.")

    def test_pass_without_user_and_bad_base64(self):
        with self.srv.raw("pop3s") as c:
            c.line()
            c.cmd("PASS alice-pw-1")
            self.assertTrue(c.line().startswith("-ERR"))
            c.cmd("AUTH PLAIN !!!notbase64")
            self.assertTrue(c.line().startswith("-ERR"))
            c.cmd("AUTH CRAM-MD5")
            self.assertTrue(c.line().startswith("-ERR"))
            c.cmd("AUTH PLAIN")
            self.assertTrue(c.line().startswith("+"))
            c.cmd("*")  # RFC 5034: the client cancels
            self.assertTrue(c.line().startswith("-ERR"))
            c.cmd("USER alice")
            c.line()
            c.cmd("PASS alice-pw-1")
            self.assertEqual(c.line(), "+OK Logged in.")


if __name__ == "__main__":
    unittest.main()
