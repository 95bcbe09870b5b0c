"""IMAP up to login (issue 2): greeting and capabilities on each kind of
connection, LOGINDISABLED/PRIVACYREQUIRED before STARTTLS, and login with every
mechanism for every password scheme, with imaplib and byte-exact raw clients."""

import imaplib
import re
import unittest

from harness import (
    HOST, OTHER_HOST, SCRAM_USERS, GREETING_RE, PerTestServerCase, ServerTestCase, ScramClient, b64, imap_caps,
    imap_scram_login, password, plain_b64, require_user, scheme_users, unb64, wrong_password,
)

BASE_CAPS = {"IMAP4REV1", "IMAP4REV2", "SASL-IR", "ID", "ENABLE", "LITERAL+"}
TLS_AUTH = {"AUTH=PLAIN", "AUTH=LOGIN", "AUTH=SCRAM-SHA-256"}
LOGGED_IN_RE = re.compile(r"^(\S+) OK \[CAPABILITY ([^\]]*)\] Logged in$")


class ImapGreetingTest(ServerTestCase):
    SERVER_SETTINGS = {"auth_failure_delay": "100 ms"}

    def assertGreeting(self, line):
        m = GREETING_RE.match(line)
        self.assertIsNotNone(m, f"greeting {line!r} is not `* OK [CAPABILITY ...] ...`")
        self.assertEqual(m.group(2), "gannet ready.")
        # no product version in the greeting (a scanner's first question)
        self.assertNotRegex(line, r"\d+\.\d+", "greeting carries a version number")
        return set(imap_caps(line))

    def assertTlsCaps(self, caps):
        self.assertLessEqual(BASE_CAPS, caps)
        self.assertLessEqual(TLS_AUTH, caps)
        self.assertNotIn("STARTTLS", caps)
        self.assertNotIn("LOGINDISABLED", caps)

    def assertCleartextCaps(self, caps):
        self.assertLessEqual(BASE_CAPS, caps)
        self.assertIn("STARTTLS", caps)
        self.assertIn("LOGINDISABLED", caps)
        self.assertEqual([c for c in caps if c.startswith("AUTH=")], [])

    def test_cleartext_greeting_offers_starttls_and_disables_login(self):
        for source in (None, OTHER_HOST):  # loopback gets no exemption
            with self.subTest(source=source), self.srv.raw("imap", source=source) as c:
                raw = c.readline()
                self.assertTrue(raw.endswith(b"\r\n"))
                caps = self.assertGreeting(raw[:-2].decode())
                self.assertCleartextCaps(caps)
                c.cmd("a CAPABILITY")
                untagged, tagged = c.read_until_tagged("a")
                self.assertRegex(tagged, r"^a OK")
                self.assertEqual(len(untagged), 1, untagged)
                self.assertCleartextCaps(set(imap_caps(untagged[0])))

    def test_imaps_greeting_offers_auth_mechanisms(self):
        with self.srv.raw("imaps") as c:
            caps = self.assertGreeting(c.line())
            self.assertTlsCaps(caps)
            c.cmd("a CAPABILITY")
            untagged, tagged = c.read_until_tagged("a")
            self.assertTrue(tagged.startswith("a OK"), tagged)
            self.assertTlsCaps(set(imap_caps(untagged[0])))

    def test_capabilities_after_starttls(self):
        with self.srv.raw("imap") as c:
            c.line()
            c.cmd("a STARTTLS")
            untagged, tagged = c.read_until_tagged("a")
            self.assertEqual(untagged, [])
            self.assertTrue(tagged.startswith("a OK"), tagged)
            c.starttls(self.srv.ctx())  # verifies the certificate for "localhost"
            c.cmd("b CAPABILITY")
            untagged, tagged = c.read_until_tagged("b")
            self.assertTrue(tagged.startswith("b OK"), tagged)
            self.assertTlsCaps(set(imap_caps(untagged[0])))
            # a second STARTTLS inside TLS is refused
            c.cmd("c STARTTLS")
            _, tagged = c.read_until_tagged("c")
            self.assertRegex(tagged, r"^c (BAD|NO) ")

    def test_imaplib_starttls_sees_new_capabilities(self):
        m = self.srv.imap_plain()
        try:
            self.assertIn("STARTTLS", m.capabilities)
            self.assertIn("LOGINDISABLED", m.capabilities)
            m.starttls(ssl_context=self.srv.ctx())
            self.assertNotIn("STARTTLS", m.capabilities)
            self.assertNotIn("LOGINDISABLED", m.capabilities)
            self.assertIn("AUTH=PLAIN", m.capabilities)
        finally:
            m.shutdown()

    def test_capability_after_login_has_no_auth_and_no_starttls(self):
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a LOGIN alice alice-pw-1")
            _, tagged = c.read_until_tagged("a")
            m = LOGGED_IN_RE.match(tagged)
            self.assertIsNotNone(m, tagged)
            for caps in (set(m.group(2).upper().split()),):
                self.assertIn("IMAP4REV1", caps)
                self.assertEqual([x for x in caps if x.startswith("AUTH=")], [])
                self.assertNotIn("STARTTLS", caps)
            c.cmd("b CAPABILITY")
            untagged, tagged = c.read_until_tagged("b")
            self.assertTrue(tagged.startswith("b OK"), tagged)
            caps = set(imap_caps(untagged[0]))
            self.assertIn("IMAP4REV1", caps)
            self.assertEqual([x for x in caps if x.startswith("AUTH=")], [])
            self.assertNotIn("STARTTLS", caps)
            self.assertNotIn("LOGINDISABLED", caps)
            # a second login is not allowed once authenticated
            c.cmd("c LOGIN bob bob-pw-1")
            _, tagged = c.read_until_tagged("c")
            self.assertRegex(tagged, r"^c (BAD|NO) ")
            c.cmd("d LOGOUT")
            untagged, tagged = c.read_until_tagged("d")
            self.assertTrue(any(u.startswith("* BYE") for u in untagged), untagged)
            self.assertTrue(tagged.startswith("d OK"), tagged)

    def test_noop_id_enable_logout_before_login(self):
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a NOOP")
            self.assertEqual(c.read_until_tagged("a")[1][:4], "a OK")
            c.cmd('b ID ("name" "gannet-tests")')
            untagged, tagged = c.read_until_tagged("b")
            self.assertTrue(tagged.startswith("b OK"), tagged)
            self.assertTrue(any(u.startswith("* ID ") for u in untagged), untagged)
            self.assertNotRegex(" ".join(untagged), r"\d+\.\d+\.\d+", "ID reveals a version")
            c.cmd("x FROBNICATE")
            self.assertTrue(c.read_until_tagged("x")[1].startswith("x BAD"))
            c.cmd("z LOGOUT")
            untagged, tagged = c.read_until_tagged("z")
            self.assertTrue(untagged and untagged[0].startswith("* BYE"), untagged)
            self.assertTrue(tagged.startswith("z OK"), tagged)
            self.assertEqual(c.wait_closed(3), [])


class ImapPrivacyRequiredTest(ServerTestCase):
    """disable_plaintext_auth = yes (the default): no password before STARTTLS,
    from any address including loopback."""

    def test_login_and_authenticate_refused_in_clear(self):
        for source in (None, OTHER_HOST):
            with self.subTest(source=source), self.srv.raw("imap", source=source) as c:
                c.line()
                c.cmd("a LOGIN alice alice-pw-1")
                _, tagged = c.read_until_tagged("a")
                self.assertTrue(tagged.startswith("a NO [PRIVACYREQUIRED] "), tagged)
                c.cmd("b AUTHENTICATE PLAIN " + plain_b64("alice", "alice-pw-1"))
                _, tagged = c.read_until_tagged("b")
                self.assertTrue(tagged.startswith("b NO [PRIVACYREQUIRED] "), tagged)
                # without an initial response: refused at once, no "+" continuation
                c.cmd("c AUTHENTICATE PLAIN")
                _, tagged = c.read_until_tagged("c")
                self.assertTrue(tagged.startswith("c NO [PRIVACYREQUIRED] "), tagged)
                c.cmd("d AUTHENTICATE SCRAM-SHA-256")
                _, tagged = c.read_until_tagged("d")
                self.assertTrue(tagged.startswith("d NO [PRIVACYREQUIRED] "), tagged)
                # still usable: STARTTLS then login works on the same connection
                c.cmd("e STARTTLS")
                self.assertTrue(c.read_until_tagged("e")[1].startswith("e OK"))
                c.starttls()
                c.cmd("f LOGIN alice alice-pw-1")
                self.assertRegex(c.read_until_tagged("f")[1], LOGGED_IN_RE)

    def test_imaplib_login_refused_in_clear(self):
        m = self.srv.imap_plain()
        try:
            with self.assertRaises(imaplib.IMAP4.error) as cm:
                m.login("alice", "alice-pw-1")
            self.assertIn("PRIVACYREQUIRED", str(cm.exception))
        finally:
            m.shutdown()


class ImapTrustedNetworkTest(ServerTestCase):
    """login_trusted_networks is the only way to allow plaintext without TLS:
    listed addresses may log in in clear, other loopback addresses may not."""

    SERVER_SETTINGS = {"login_trusted_networks": "127.0.0.2/32"}

    def test_trusted_address_may_log_in_in_clear(self):
        with self.srv.raw("imap", source=OTHER_HOST) as c:
            caps = set(imap_caps(c.line()))
            self.assertNotIn("LOGINDISABLED", caps)
            self.assertIn("AUTH=PLAIN", caps)
            c.cmd("a LOGIN alice alice-pw-1")
            self.assertRegex(c.read_until_tagged("a")[1], LOGGED_IN_RE)

    def test_other_loopback_address_still_refused(self):
        with self.srv.raw("imap") as c:
            self.assertIn("LOGINDISABLED", imap_caps(c.line()))
            c.cmd("a LOGIN alice alice-pw-1")
            self.assertTrue(c.read_until_tagged("a")[1].startswith("a NO [PRIVACYREQUIRED] "))


class ImapLoginMechanismsTest(ServerTestCase):
    """Every mechanism for every user (password scheme)."""

    SERVER_SETTINGS = {"auth_failure_delay": "100 ms"}

    def assertLoggedIn(self, tagged, tag):
        m = LOGGED_IN_RE.match(tagged)
        self.assertIsNotNone(m, f"expected `{tag} OK [CAPABILITY ...] Logged in`, got {tagged!r}")
        self.assertEqual(m.group(1), tag)
        return m

    def test_imaplib_ssl_login_each_scheme(self):
        for user in scheme_users():
            with self.subTest(user=user):
                m = self.srv.imap_ssl()
                try:
                    typ, data = m.login(user, password(user))
                    self.assertEqual(typ, "OK")
                    self.assertRegex(data[0].decode(), r"^\[CAPABILITY [^\]]*\] Logged in$")
                    self.assertEqual(m.noop()[0], "OK")
                finally:
                    self.assertEqual(m.logout()[0], "BYE")

    def test_imaplib_starttls_login_each_scheme(self):
        for user in scheme_users():
            with self.subTest(user=user):
                m = self.srv.imap_starttls()
                try:
                    typ, _ = m.login(user, password(user))
                    self.assertEqual(typ, "OK")
                finally:
                    m.logout()

    def test_every_scheme_present(self):
        # the brief's five schemes must be in the passwd-file, or the per-scheme
        # tests above silently test fewer users
        for user in ("alice", "bob", "carol", "dave", "erin"):
            with self.subTest(user=user):
                require_user(self, user)

    def test_login_with_literal_password(self):
        with self.srv.raw("imaps") as c:
            c.line()
            pw = password("alice").encode()
            c.cmd(f"a LOGIN alice {{{len(pw)}}}")
            cont = c.line()
            self.assertTrue(cont.startswith("+"), cont)
            c.cmd(pw)
            self.assertLoggedIn(c.read_until_tagged("a")[1], "a")
        with self.srv.raw("imaps") as c:  # LITERAL+: no continuation
            c.line()
            pw = password("bob").encode()
            c.send(b"b LOGIN {3+}\r\nbob {%d+}\r\n%s\r\n" % (len(pw), pw))
            self.assertLoggedIn(c.read_until_tagged("b")[1], "b")
        with self.srv.raw("imaps") as c:  # quoted strings with an escaped quote in neither
            c.line()
            c.cmd('c LOGIN "carol" "carol-pw-1"')
            self.assertLoggedIn(c.read_until_tagged("c")[1], "c")

    def test_authenticate_plain_with_and_without_sasl_ir(self):
        for user in scheme_users():
            with self.subTest(user=user, sasl_ir=True), self.srv.raw("imaps") as c:
                c.line()
                c.cmd(f"a AUTHENTICATE PLAIN {plain_b64(user, password(user))}")
                self.assertLoggedIn(c.read_until_tagged("a")[1], "a")
            with self.subTest(user=user, sasl_ir=False), self.srv.raw("imaps") as c:
                c.line()
                c.cmd("a AUTHENTICATE PLAIN")
                self.assertEqual(c.readline(), b"+ \r\n")
                c.cmd(plain_b64(user, password(user)))
                self.assertLoggedIn(c.read_until_tagged("a")[1], "a")

    def test_imaplib_authenticate_plain(self):
        m = self.srv.imap_ssl()
        try:
            typ, data = m.authenticate(
                "PLAIN", lambda challenge: b"\0alice\0" + password("alice").encode())
            self.assertEqual(typ, "OK")
            self.assertRegex(data[0].decode(), r"^\[CAPABILITY [^\]]*\] Logged in$")
        finally:
            m.shutdown()

    def test_authenticate_login(self):
        for user in scheme_users():
            with self.subTest(user=user):
                m = self.srv.imap_ssl()
                answers = iter([user.encode(), password(user).encode()])
                try:
                    typ, _ = m.authenticate("LOGIN", lambda challenge: next(answers))
                    self.assertEqual(typ, "OK")
                finally:
                    m.shutdown()


class ImapRefusedAuthenticationTest(PerTestServerCase):
    """Refused and malformed exchanges, each on its own server so that the
    failure penalty of one test does not slow the next."""

    SERVER_SETTINGS = {"auth_failure_delay": "100 ms"}

    assertLoggedIn = ImapLoginMechanismsTest.assertLoggedIn

    def test_authenticate_plain_with_authzid_of_someone_else_refused(self):
        # authorization as another user is not allowed (no master users)
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a AUTHENTICATE PLAIN " + plain_b64("alice", password("alice"), authzid="bob"))
            self.assertRegex(c.read_until_tagged("a")[1], r"^a NO ")

    def test_scram_sha256(self):
        for user in SCRAM_USERS:
            require_user(self, user)
            for sasl_ir in (False, True):
                with self.subTest(user=user, sasl_ir=sasl_ir), self.srv.raw("imaps") as c:
                    c.line()
                    tagged = imap_scram_login(c, "a", user, password(user), sasl_ir=sasl_ir)
                    self.assertLoggedIn(tagged, "a")

    def test_scram_sha256_with_imaplib(self):
        scram = ScramClient("bob", password("bob"))
        steps = iter([lambda ch: scram.first(), lambda ch: scram.final(ch),
                      lambda ch: b"" if scram.verify_server_final(ch) else None])
        m = self.srv.imap_ssl()
        try:
            typ, data = m.authenticate("SCRAM-SHA-256", lambda ch: next(steps)(ch))
            self.assertEqual(typ, "OK")
        finally:
            m.shutdown()

    def test_scram_wrong_password_refused(self):
        with self.srv.raw("imaps") as c:
            c.line()
            tagged = imap_scram_login(c, "a", "bob", wrong_password("bob"))
            self.assertEqual(tagged, "a NO [AUTHENTICATIONFAILED] Authentication failed.")

    def test_scram_refused_for_crypt_hashes(self):
        # a crypt hash cannot give SCRAM's keys: the exchange fails with NO
        for user in ("alice", "dave", "erin", "frank"):
            if user not in scheme_users():
                continue
            with self.subTest(user=user), self.srv.raw("imaps") as c:
                c.line()
                tagged = imap_scram_login(c, "a", user, password(user))
                self.assertRegex(tagged, r"^a NO ")
                # the connection is still usable
                c.cmd(f"b LOGIN {user} {password(user)}")
                self.assertLoggedIn(c.read_until_tagged("b")[1], "b")

    def test_authenticate_cancelled_by_client(self):
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a AUTHENTICATE PLAIN")
            self.assertTrue(c.line().startswith("+"))
            c.cmd("*")
            self.assertRegex(c.read_until_tagged("a")[1], r"^a BAD ")
            c.cmd("b LOGIN alice alice-pw-1")
            self.assertLoggedIn(c.read_until_tagged("b")[1], "b")

    def test_unknown_mechanism(self):
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("a AUTHENTICATE CRAM-MD5")
            self.assertRegex(c.read_until_tagged("a")[1], r"^a (NO|BAD) ")
            c.cmd("b AUTHENTICATE ANONYMOUS")
            self.assertRegex(c.read_until_tagged("b")[1], r"^b (NO|BAD) ")

    def test_malformed_plain_response(self):
        with self.srv.raw("imaps") as c:
            c.line()
            for i, resp in enumerate(["!!!notbase64", b64("no-nuls-at-all"),
                                      b64("\0\0"), b64("\0alice")]):
                c.cmd(f"a{i} AUTHENTICATE PLAIN {resp}")
                self.assertRegex(c.read_until_tagged(f"a{i}")[1], rf"^a{i} (NO|BAD) ")
        self.assertAlive()


class ImapMechanismsConfiguredTest(ServerTestCase):
    """auth_mechanisms decides what is advertised and accepted."""

    SERVER_SETTINGS = {"auth_mechanisms": "plain"}

    def test_only_configured_mechanisms(self):
        with self.srv.raw("imaps") as c:
            caps = set(imap_caps(c.line()))
            self.assertIn("AUTH=PLAIN", caps)
            self.assertNotIn("AUTH=LOGIN", caps)
            self.assertNotIn("AUTH=SCRAM-SHA-256", caps)
            c.cmd("a AUTHENTICATE LOGIN")
            self.assertRegex(c.read_until_tagged("a")[1], r"^a (NO|BAD) ")
            c.cmd("b AUTHENTICATE PLAIN " + plain_b64("alice", password("alice")))
            self.assertRegex(c.read_until_tagged("b")[1], r"^b OK ")


if __name__ == "__main__":
    unittest.main()
