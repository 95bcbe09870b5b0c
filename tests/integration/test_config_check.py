"""`gannet config check`: the real binary on real files.

A deliberately bad configuration must produce each finding identifier of
docs/findings.md exactly once, a good one none, and a syntax error exit 1 with
FILE:LINE on stderr. Python 3 standard library only; the binary is $GANNET,
or build/gannet in the repository.
"""

import os
import re
import subprocess
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GANNET = os.environ.get("GANNET") or os.path.join(REPO, "build", "gannet")

ALL_IDS = [
    "log.passwords",
    "log.auth_debug",
    "log.auth_verbose",
    "auth.anonymous",
    "starttls.missing",
    "auth.plaintext_pre_tls",
    "tls.legacy_protocol",
    "tls.weak_cipher",
    "passdb.weak_scheme",
    "passdb.world_readable",
    "tls.key_world_readable",
    "auth.trusted_networks_wide",
    "lmtp.public",
]

WARNING_LINE = re.compile(r"^warning: \[([a-z_.]+)\] (.+)$")
PLAIN_PASSWORD = "carol-secret-pw-1"


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


class ConfigCheckTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(GANNET, os.X_OK):
            raise unittest.SkipTest("no gannet binary at %s (make build/gannet)" % GANNET)
        cls.tmp = tempfile.TemporaryDirectory(prefix="gannet-config-check-")
        d = cls.tmp.name
        cls.cert = os.path.join(d, "cert.pem")
        cls.key = os.path.join(d, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-days", "2", "-keyout", cls.key, "-out", cls.cert],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.hash = subprocess.run(
            ["openssl", "passwd", "-6", "alice-pw-1"], check=True, capture_output=True,
            text=True).stdout.strip()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        # A fresh directory per test, inside the class's one.
        self.dir = tempfile.mkdtemp(dir=self.tmp.name)

    def run_check(self, config_text, *extra_args):
        path = write(os.path.join(self.dir, "gannet.conf"), config_text, 0o644)
        proc = subprocess.run([GANNET, "config", "check", "-c", path, *extra_args],
                              capture_output=True, text=True, timeout=30)
        return path, proc

    def warnings(self, stdout):
        found = []
        for line in stdout.splitlines():
            if line.startswith("warning:"):
                m = WARNING_LINE.match(line)
                self.assertIsNotNone(m, "malformed warning line: %r" % line)
                found.append((m.group(1), m.group(2)))
        return found

    def good_config(self):
        """A configuration a careful administrator would write."""
        key = os.path.join(self.dir, "good-key.pem")
        with open(self.key) as src:
            write(key, src.read(), 0o600)
        users = write(os.path.join(self.dir, "users"),
                      "alice:%s::::::\n" % self.hash, 0o600)
        return (
            "ssl = required\n"
            "ssl_cert = <%s\n"
            "ssl_key = <%s\n"
            "auth_mechanisms = plain login scram-sha-256\n"
            "login_trusted_networks = 127.0.0.1 10.0.0.0/8 2001:db8::/48\n"
            "passdb { driver = passwd-file args = %s }\n"
            "userdb { driver = static args = uid=vmail gid=vmail home=/var/mail/%%d/%%n }\n"
            "mail_uid = vmail\n"
            "mail_gid = vmail\n" % (self.cert, key, users))

    def test_bad_config_reports_every_id_once(self):
        key = os.path.join(self.dir, "key.pem")
        with open(self.key) as src:
            write(key, src.read(), 0o644)
        users = write(os.path.join(self.dir, "users"),
                      "alice:%s::::::\ncarol:{PLAIN}%s::::::\n" % (self.hash, PLAIN_PASSWORD),
                      0o644)
        config = (
            "# every dangerous setting at once\n"
            "ssl = no\n"
            "ssl_cert = <%s\n"
            "ssl_key = <key.pem\n"
            "ssl_min_protocol = TLSv1\n"
            "ssl_cipher_list = ALL:eNULL:@SECLEVEL=0\n"
            "disable_plaintext_auth = no\n"
            "auth_mechanisms = plain login anonymous\n"
            "auth_anonymous_username = guest\n"
            "auth_verbose = yes\n"
            "auth_debug = yes\n"
            "auth_debug_passwords = yes\n"
            "login_trusted_networks = 127.0.0.1 0.0.0.0/0\n"
            "passdb {\n"
            "  driver = passwd-file\n"
            "  args = %s\n"
            "}\n"
            "userdb { driver = static args = uid=vmail gid=vmail home=/var/mail/%%d/%%n }\n"
            "protocols = imap pop3 lmtp\n"
            "service lmtp { inet_listener lmtp { address = 127.0.0.1, 192.0.2.1 port = 24 } }\n"
            % (self.cert, users))
        path, proc = self.run_check(config)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "")
        lines = proc.stdout.splitlines()
        self.assertTrue(lines[0].startswith("# gannet "), lines[0])
        self.assertTrue(lines[0].endswith(", " + path), lines[0])
        # The changed settings come before the warnings.
        self.assertIn("ssl = no", lines)
        self.assertIn("ssl_key = <%s" % key, lines)
        self.assertIn("auth_debug_passwords = yes", lines)

        found = self.warnings(proc.stdout)
        ids = [i for i, _ in found]
        for finding in ALL_IDS:
            self.assertEqual(ids.count(finding), 1, "%s in %s" % (finding, ids))
        self.assertEqual(sorted(ids), sorted(ALL_IDS))
        messages = dict(found)
        self.assertIn("auth_debug_passwords = yes writes passwords to the log",
                      messages["log.passwords"])
        self.assertIn("1 of 2 users", messages["passdb.weak_scheme"])
        self.assertIn("{PLAIN}", messages["passdb.weak_scheme"])
        self.assertIn("0644", messages["passdb.world_readable"])
        self.assertIn(key, messages["tls.key_world_readable"])
        self.assertIn("0.0.0.0/0", messages["auth.trusted_networks_wide"])
        self.assertNotIn("127.0.0.1", messages["auth.trusted_networks_wide"])
        self.assertIn("without encryption", messages["tls.weak_cipher"])
        self.assertIn("SECLEVEL=0", messages["tls.weak_cipher"])
        self.assertIn("192.0.2.1 port 24", messages["lmtp.public"])
        self.assertNotIn("127.0.0.1", messages["lmtp.public"])
        # Never a password, a user name from the file, or the key.
        self.assertNotIn(PLAIN_PASSWORD, proc.stdout)
        self.assertNotIn("carol", proc.stdout)
        self.assertNotIn(self.hash, proc.stdout)
        self.assertNotIn("PRIVATE KEY", proc.stdout)

    def test_good_config_has_no_warning(self):
        _, proc = self.run_check(self.good_config())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(self.warnings(proc.stdout), [])
        self.assertNotIn("warning", proc.stdout)
        self.assertNotIn("PRIVATE KEY", proc.stdout)

    def test_verbose_passwords_is_log_passwords(self):
        for value in ("plain", "yes", "sha1"):
            with self.subTest(value=value):
                _, proc = self.run_check(self.good_config() +
                                         "auth_verbose_passwords = %s\n" % value)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                found = self.warnings(proc.stdout)
                self.assertEqual([i for i, _ in found], ["log.passwords"])
                self.assertIn("auth_verbose_passwords", found[0][1])

    def test_each_setting_alone(self):
        # One dangerous setting on top of the good config gives its id only.
        cases = {
            "auth_debug = yes\n": "log.auth_debug",
            "auth_mechanisms = plain anonymous\n": "auth.anonymous",
            "auth_anonymous_username = guest\n": "auth.anonymous",
            "ssl = no\n": "starttls.missing",
            "disable_plaintext_auth = no\n": "auth.plaintext_pre_tls",
            "ssl_min_protocol = TLSv1.1\n": "tls.legacy_protocol",
            "ssl_cipher_list = AES128-SHA\n": "tls.weak_cipher",
            "login_trusted_networks = ::/0\n": "auth.trusted_networks_wide",
            "login_trusted_networks = ::ffff:0.0.0.0/96\n": "auth.trusted_networks_wide",
            "protocols = lmtp\nservice lmtp { inet_listener lmtp { address = * port = 24 } }\n":
                "lmtp.public",
            "protocols = lmtp\nservice lmtp { inet_listener lmtp { address = :: port = 24 } }\n":
                "lmtp.public",
        }
        for extra, finding in cases.items():
            with self.subTest(setting=extra.strip()):
                _, proc = self.run_check(self.good_config() + extra)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertEqual([i for i, _ in self.warnings(proc.stdout)], [finding])
        # Strong choices stay quiet.
        for extra in ("ssl_min_protocol = TLSv1.3\n",
                      "ssl_cipher_list = ECDHE+AESGCM:!aNULL\n",
                      "login_trusted_networks = 10.0.0.0/8\n",
                      # LMTP on loopback (its default) or on a socket, or not served
                      "protocols = lmtp\nservice lmtp { inet_listener lmtp { port = 24 } }\n",
                      "protocols = lmtp\nservice lmtp { inet_listener lmtp {\n"
                      "  address = 127.0.0.2, ::1 port = 24 } }\n",
                      "service lmtp { inet_listener lmtp { address = * port = 24 } }\n"):
            with self.subTest(setting=extra.strip()):
                _, proc = self.run_check(self.good_config() + extra)
                self.assertEqual(self.warnings(proc.stdout), [])

    def test_syntax_error_exits_1_with_file_and_line(self):
        path, proc = self.run_check("# a comment\nprotocols = imap\nssl yes\n")
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(proc.stdout, "")
        self.assertIn("%s:3: expected '=' after 'ssl'" % path, proc.stderr)

        path, proc = self.run_check("service imap-login {\n  inet_listener imap {\n"
                                    "    port = 143\n  }\n")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("%s:4: missing '}' for section 'service' opened at line 1" % path,
                      proc.stderr)

        path, proc = self.run_check("auth_mechanisms = plain cram-md5\n")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("%s:1: auth_mechanisms: unsupported mechanism 'cram-md5'" % path,
                      proc.stderr)

    def test_missing_file_and_usage(self):
        missing = os.path.join(self.dir, "nope.conf")
        proc = subprocess.run([GANNET, "config", "check", "-c", missing],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("cannot read '%s': No such file or directory" % missing, proc.stderr)

        proc = subprocess.run([GANNET, "config"], capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("usage: gannet config check", proc.stderr)

        proc = subprocess.run([GANNET, "config", "check", "--bogus"],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("--bogus", proc.stderr)

    def test_example_config(self):
        example = os.path.join(REPO, "docs", "gannet.conf")
        proc = subprocess.run([GANNET, "config", "check", "-c", example],
                              capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("mail_uid = vmail", proc.stdout.splitlines())
        self.assertEqual(self.warnings(proc.stdout), [])


if __name__ == "__main__":
    unittest.main()
