"""Real clients other than Python's (issue 2): curl over imaps://, pop3s:// and
imap:// with --ssl-reqd, and `openssl s_client -starttls imap|pop3`."""

import queue
import re
import shutil
import subprocess
import threading
import time
import unittest

from harness import HOST, ServerTestCase, password

CURL = shutil.which("curl")
OPENSSL = shutil.which("openssl")


def curl(*args, timeout=20):
    r = subprocess.run([CURL, "-sk", "-v", "--max-time", "15"] + list(args),
                       capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


@unittest.skipUnless(CURL, "curl is not installed")
class CurlTest(ServerTestCase):
    SERVER_SETTINGS = {"auth_failure_delay": "100 ms"}

    # curl -v shows the server's lines as "< ..."
    IMAP_LOGGED_IN = re.compile(r"^< (A\d+) OK \[CAPABILITY [^\]]*\] Logged in", re.M)

    def assertImapLogin(self, rc, out, err):
        # exit 0 (the mailbox list came back) or a later failure after a
        # successful login (the IMAP command set is its own issue)
        self.assertNotEqual(rc, 67, "curl: login denied\n" + err)
        self.assertRegex(err, self.IMAP_LOGGED_IN, f"curl exit {rc}, no login:\n{err}")

    def test_imaps_login(self):
        url = f"imaps://{HOST}:{self.srv.ports['imaps']}/"
        for user in ("alice", "bob", "carol"):
            with self.subTest(user=user):
                self.assertImapLogin(*curl(url, "-u", f"{user}:{password(user)}"))

    def test_imap_starttls_login(self):
        url = f"imap://{HOST}:{self.srv.ports['imap']}/"
        rc, out, err = curl("--ssl-reqd", url, "-u", f"alice:{password('alice')}")
        self.assertRegex(err, r"(?m)^> A\d+ STARTTLS", err)
        self.assertImapLogin(rc, out, err)

    def test_imap_cleartext_login_refused(self):
        # curl without TLS: the server refuses to see the password
        url = f"imap://{HOST}:{self.srv.ports['imap']}/"
        rc, out, err = curl(url, "-u", f"alice:{password('alice')}")
        self.assertNotEqual(rc, 0, err)
        self.assertNotRegex(err, self.IMAP_LOGGED_IN)

    def test_imaps_wrong_password_exit_67(self):
        url = f"imaps://{HOST}:{self.srv.ports['imaps']}/"
        rc, out, err = curl(url, "-u", "alice:not-the-password")
        self.assertEqual(rc, 67, err)

    def test_pop3s_login(self):
        url = f"pop3s://{HOST}:{self.srv.ports['pop3s']}/"
        rc, out, err = curl(url, "-u", f"alice:{password('alice')}")
        self.assertNotEqual(rc, 67, err)
        self.assertRegex(err, r"(?m)^< \+OK Logged in\.", f"curl exit {rc}:\n{err}")

    def test_pop3_starttls_login(self):
        url = f"pop3://{HOST}:{self.srv.ports['pop3']}/"
        rc, out, err = curl("--ssl-reqd", url, "-u", f"carol:{password('carol')}")
        self.assertRegex(err, r"(?m)^> STLS", err)
        self.assertRegex(err, r"(?m)^< \+OK Logged in\.", f"curl exit {rc}:\n{err}")

    def test_pop3s_wrong_password_exit_67(self):
        url = f"pop3s://{HOST}:{self.srv.ports['pop3s']}/"
        rc, out, err = curl(url, "-u", "alice:not-the-password")
        self.assertEqual(rc, 67, err)


class SClient:
    """An interactive `openssl s_client`: write lines, wait for a pattern."""

    def __init__(self, args):
        self.proc = subprocess.Popen([OPENSSL, "s_client"] + args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode(errors="replace").rstrip("\r\n"))
        self.lines.put(None)

    def expect(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"timed out waiting for {pattern!r}:\n" + "\n".join(self.seen))
            if line is None:
                raise AssertionError(f"s_client ended before {pattern!r}:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\r\n")
        self.proc.stdin.flush()

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@unittest.skipUnless(OPENSSL, "openssl is not installed")
class OpensslStartTlsTest(ServerTestCase):
    def s_client(self, name, proto):
        c = SClient(["-connect", f"{HOST}:{self.srv.ports[name]}", "-starttls", proto,
                     "-servername", "localhost", "-ign_eof"])
        self.addCleanup(c.close)
        c.expect(r"^-----BEGIN CERTIFICATE-----$")  # the certificate is shown
        c.expect(r"subject=.*CN ?= ?localhost")
        c.expect(r"^(New|Reused), TLSv1\.[23]")
        return c

    def test_starttls_imap_login(self):
        c = self.s_client("imap", "imap")
        c.send(f"a LOGIN alice {password('alice')}")
        line = c.expect(r"^a (OK|NO|BAD)")
        self.assertRegex(line, r"^a OK \[CAPABILITY [^\]]*\] Logged in")
        c.send("b LOGOUT")
        c.expect(r"^b OK")

    def test_starttls_pop3_login(self):
        c = self.s_client("pop3", "pop3")
        c.send("USER alice")
        c.expect(r"^(\+OK|-ERR)")
        c.send(f"PASS {password('alice')}")
        self.assertEqual(c.expect(r"^(\+OK|-ERR)"), "+OK Logged in.")
        c.send("QUIT")
        c.expect(r"^\+OK")


if __name__ == "__main__":
    unittest.main()
