"""TLS (issue 2): the STARTTLS/STLS plaintext injection is defeated, TLS 1.0
and 1.1 are refused by default (and accepted when configured, which shows the
test client really can speak them), ALPN (RFC 9325, ALPACA) is checked."""

import socket
import ssl
import subprocess
import unittest

from harness import (
    ConnectionClosed, GannetServer, HOST, PerTestServerCase, ServerTestCase, client_context,
    openssl_s_client, password,
)


class StartTlsInjectionTest(ServerTestCase):
    def test_imap_pipelined_command_after_starttls_is_discarded(self):
        with self.srv.raw("imap") as c:
            c.line()
            c.send(b"a STARTTLS\r\nb CAPABILITY\r\n")  # one write: the injection
            line = c.line()
            self.assertTrue(line.startswith("a OK"), line)
            # starttls() fails if anything followed the OK in clear
            c.starttls()
            c.cmd("c NOOP")
            first = c.line()
            self.assertTrue(first.startswith("c OK"),
                            f"first line inside TLS is {first!r}: the injected `b` was answered")
            # nothing else came: the next command's answer is the next line
            c.cmd("d NOOP")
            self.assertEqual(c.read_until_tagged("d"), ([], "d OK NOOP completed."))

    def test_imap_injected_login_is_not_executed(self):
        # the classic attack: a man in the middle appends a command in clear
        # that the server would run inside the victim's TLS session
        with self.srv.raw("imap") as c:
            c.line()
            c.send(b"a STARTTLS\r\nb LOGIN alice alice-pw-1\r\n")
            self.assertTrue(c.line().startswith("a OK"))
            c.starttls()
            c.cmd("c CAPABILITY")
            untagged, tagged = c.read_until_tagged("c")
            self.assertTrue(tagged.startswith("c OK"), tagged)
            self.assertTrue(untagged and untagged[0].startswith("* CAPABILITY"), untagged)
            self.assertIn("AUTH=PLAIN", untagged[0], "session is logged in: injection executed")

    def test_pop3_pipelined_command_after_stls_is_discarded(self):
        # inject a command whose answer is -ERR; inside TLS, CAPA (+OK) must be
        # the first thing answered
        with self.srv.raw("pop3") as c:
            c.line()
            c.send(b"STLS\r\nXINJECTED\r\n")
            self.assertTrue(c.line().startswith("+OK"))
            c.starttls()
            c.cmd("CAPA")
            first = c.line()
            self.assertTrue(first.startswith("+OK"),
                            f"first line inside TLS is {first!r}: the injected command was answered")
            c.read_multiline()
            # nothing else came: the next command's answer is the next line
            c.cmd("CAPA")
            self.assertTrue(c.line().startswith("+OK"))

    def test_pop3_injected_capa_not_answered(self):
        # inject CAPA; inside TLS send QUIT: exactly one line (+OK) before EOF
        with self.srv.raw("pop3") as c:
            c.line()
            c.send(b"STLS\r\nCAPA\r\n")
            self.assertTrue(c.line().startswith("+OK"))
            c.starttls()
            c.cmd("QUIT")
            lines = c.wait_closed(5)
            self.assertEqual(len(lines), 1, lines)
            self.assertTrue(lines[0].startswith("+OK"), lines)


TLS_LEGACY = dict(min_version=ssl.TLSVersion.TLSv1, max_version=ssl.TLSVersion.TLSv1_1,
                  ciphers="DEFAULT:@SECLEVEL=0")


def handshake(port, ctx, starttls=None):
    """Handshakes on port (after an IMAP STARTTLS / POP3 STLS when asked);
    returns the negotiated version, raises ssl.SSLError/OSError on failure."""
    with socket.create_connection((HOST, port), timeout=10) as s:
        if starttls:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b"a STARTTLS\r\n" if starttls == "imap" else b"STLS\r\n")
            f.readline()
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            # the server may abort only after its Finished; make it answer
            t.settimeout(5)
            if not starttls:
                t.recv(1)
            return t.version()


class LegacyTlsTest(PerTestServerCase):
    def test_tls10_and_tls11_refused_by_default(self):
        ports = self.srv.ports
        for name, starttls in (("imaps", None), ("pop3s", None), ("imap", "imap"), ("pop3", "pop3")):
            with self.subTest(listener=name):
                with self.assertRaises((ssl.SSLError, ConnectionError)):
                    version = handshake(ports[name], client_context(**TLS_LEGACY), starttls)
                    self.fail(f"{name} negotiated {version}")

    def test_tls12_accepted_by_default(self):
        ctx = client_context(min_version=ssl.TLSVersion.TLSv1_2,
                             max_version=ssl.TLSVersion.TLSv1_2)
        self.assertEqual(handshake(self.srv.ports["imaps"], ctx), "TLSv1.2")

    def test_same_client_succeeds_when_tls1_allowed(self):
        # the control: the client above can speak TLS 1.0/1.1, so the refusal
        # is the server's doing
        srv = self.server(settings={"ssl_min_protocol": "TLSv1",
                                    "ssl_cipher_list": "DEFAULT:@SECLEVEL=0"})
        try:
            version = handshake(srv.ports["imaps"], client_context(**TLS_LEGACY))
        except ssl.SSLError as e:
            if "no protocols available" in str(e).lower():
                self.skipTest(f"the local OpenSSL refuses TLS 1.0/1.1 client-side: {e}")
            raise
        self.assertIn(version, ("TLSv1", "TLSv1.1"))


class AlpnTest(ServerTestCase):
    """RFC 9325 §3.4 / ALPACA: a client that offers ALPN gets a handshake only
    for the protocol of the port."""

    def s_client(self, name, alpn=None, starttls=None, servername="localhost"):
        args = ["-connect", f"{HOST}:{self.srv.ports[name]}", "-servername", servername]
        if alpn:
            args += ["-alpn", alpn]
        if starttls:
            args += ["-starttls", starttls]
        return openssl_s_client(args)

    def assertRefused(self, rc, out):
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out.lower(), r"no.application.protocol|alert number 120", out)

    def test_http_alpn_refused_on_imaps(self):
        self.assertRefused(*self.s_client("imaps", alpn="http/1.1"))

    def test_http_alpn_refused_on_pop3s(self):
        self.assertRefused(*self.s_client("pop3s", alpn="http/1.1"))

    def test_cross_protocol_alpn_refused(self):
        self.assertRefused(*self.s_client("imaps", alpn="pop3"))
        self.assertRefused(*self.s_client("pop3s", alpn="imap"))

    def test_http_alpn_refused_after_starttls(self):
        self.assertRefused(*self.s_client("imap", alpn="http/1.1", starttls="imap"))
        self.assertRefused(*self.s_client("pop3", alpn="http/1.1", starttls="pop3"))

    def test_unrelated_server_name_refused(self):
        # strict SNI: a name the certificate is not for means the wrong service
        for name, starttls in (("imaps", None), ("pop3s", None), ("imap", "imap"), ("pop3", "pop3")):
            with self.subTest(listener=name):
                rc, out = self.s_client(name, starttls=starttls, servername="unrelated.invalid")
                self.assertNotEqual(rc, 0, out)
                self.assertRegex(out.lower(), r"unrecognized.name|alert number 112", out)
                # the certificate's own name is accepted
                rc, out = self.s_client(name, starttls=starttls)
                self.assertEqual(rc, 0, out)

    def test_ip_address_as_server_name_accepted(self):
        # not a name (RFC 6066 §3 forbids it), but fetchmail sends its "via"
        # address there: nothing to check it against, so it goes on
        for name, starttls in (("pop3s", None), ("imaps", None), ("pop3", "pop3")):
            with self.subTest(listener=name):
                rc, out = self.s_client(name, starttls=starttls, servername="127.0.0.1")
                self.assertEqual(rc, 0, out)

    def test_matching_alpn_accepted(self):
        for name, proto in (("imaps", "imap"), ("pop3s", "pop3")):
            with self.subTest(listener=name):
                rc, out = self.s_client(name, alpn=proto)
                self.assertEqual(rc, 0, out)
                self.assertIn(f"ALPN protocol: {proto}", out)

    def test_matching_alpn_among_others_accepted(self):
        ctx = client_context(alpn=["h2", "imap"])
        with socket.create_connection((HOST, self.srv.ports["imaps"]), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                self.assertEqual(t.selected_alpn_protocol(), "imap")
                self.assertTrue(t.recv(100).startswith(b"* OK"))

    def test_no_alpn_accepted(self):
        for name in ("imaps", "pop3s"):
            with self.subTest(listener=name):
                rc, out = self.s_client(name)
                self.assertEqual(rc, 0, out)
                self.assertIn("No ALPN negotiated", out)


class CertificateTest(ServerTestCase):
    def test_certificate_verifies_for_localhost(self):
        # the configured certificate is the one served (hostname checked)
        ctx = self.srv.ctx()
        with socket.create_connection((HOST, self.srv.ports["imaps"]), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname="localhost") as t:
                self.assertTrue(t.recv(100).startswith(b"* OK"))
                self.assertIn(t.version(), ("TLSv1.2", "TLSv1.3"))


if __name__ == "__main__":
    unittest.main()


class GreetingLatencyTest(ServerTestCase):
    """The greeting follows the TLS handshake at once. Without TCP_NODELAY it
    waited for the client's delayed ACK (about 40 ms on Linux), which held TLS
    logins to a third of Dovecot's rate."""

    def median_greeting_ms(self, name, tries=20):
        import statistics
        import time
        ctx = client_context()
        delays = []
        for _ in range(tries):
            with socket.create_connection((HOST, self.srv.ports[name]), timeout=5) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    start = time.perf_counter()
                    data = s.recv(4096)
                    delays.append((time.perf_counter() - start) * 1000)
                    self.assertTrue(data.startswith(b"* OK") or data.startswith(b"+OK"), data)
        return statistics.median(delays)

    def test_imaps_greeting_within_5ms_of_handshake(self):
        self.assertLess(self.median_greeting_ms("imaps"), 5.0)

    def test_pop3s_greeting_within_5ms_of_handshake(self):
        self.assertLess(self.median_greeting_ms("pop3s"), 5.0)
