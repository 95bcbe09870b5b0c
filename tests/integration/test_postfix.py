"""End to end with a real MTA: Postfix from Debian, run by the test as its own
instance (`postfix -c DIR start`, with a main.cf and master.cf written here,
its queue in a temporary directory, its SMTP server on a free loopback port),
hands mail to gannet over LMTP; a message sent to Postfix with smtplib lands in
the user's INBOX (read back with `gannet fetch`, the bytes of the file).

Nothing is installed here (scripts/deps does that), nothing listens on port 25,
and the Postfix instance is stopped at the end."""

import os
import pwd
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
import unittest

from harness import HOST, free_port, listening_sockets
from test_lmtp import DOMAIN, MESSAGE, LmtpTestCase, split_trace

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
HAVE_POSTFIX = os.access(POSTFIX, os.X_OK) and os.path.isdir("/usr/lib/postfix/sbin")


def listening_ports():
    return {port for _, port in listening_sockets()}


MASTER_CF = """\
{smtpd} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixInstance:
    """A Postfix of its own: config, queue and log in a temporary directory,
    no chroot, its SMTP server on 127.0.0.1:port only, every domain but
    example.org refused, example.org handed to `transport`."""

    def __init__(self, transport, users):
        self.tmp = tempfile.TemporaryDirectory(prefix="gannet-postfix-")
        d = self.dir = self.tmp.name
        os.chmod(d, 0o755)  # the postfix user walks into the queue
        self.conf = os.path.join(d, "conf")
        self.queue = os.path.join(d, "queue")
        self.data = os.path.join(d, "data")
        self.log = os.path.join(d, "postfix.log")
        for sub in (self.conf, self.queue, self.data):
            os.mkdir(sub, 0o755)
        postfix = pwd.getpwnam("postfix")
        os.chown(self.data, postfix.pw_uid, postfix.pw_gid)
        self.port = free_port()
        with open(os.path.join(self.conf, "vmailbox"), "w") as f:
            f.writelines(f"{u}@{DOMAIN} x\n" for u in users)
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(f"""\
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.gannet-test.example
mydomain = gannet-test.example
myorigin = $mydomain
mydestination =
relay_domains =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
maillog_file_prefixes = {d}
maillog_file = {self.log}
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps = texthash:{self.conf}/vmailbox
virtual_transport = {transport}
""")
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(smtpd=f"{HOST}:{self.port}"))

    def postfix(self, *args):
        return subprocess.run([POSTFIX, "-c", self.conf, *args], capture_output=True, text=True,
                              timeout=60)

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def start(self):
        r = self.postfix("start")
        if r.returncode != 0:
            raise AssertionError(f"postfix start: {r.stdout}{r.stderr}\n{self.read_log()}")
        deadline = time.monotonic() + 20
        while self.port not in listening_ports():
            if time.monotonic() > deadline:
                raise AssertionError("Postfix's SMTP port does not listen:\n" + self.read_log())
            time.sleep(0.1)

    def stop(self):
        pid = self.master_pid()
        self.postfix("stop")
        deadline = time.monotonic() + 20
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                time.sleep(0.1)
            except OSError:
                pid = None
        if pid:  # its own master only, by its pid file
            os.kill(pid, 9)

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        self.tmp.cleanup()


@unittest.skipUnless(HAVE_POSTFIX and os.geteuid() == 0,
                     "needs Postfix from Debian (scripts/deps) and root to start its master")
class TestPostfixToGannet(LmtpTestCase):
    def run_postfix(self, transport, users=("alice", "bob", "carol", "nobody")):
        before = listening_ports()
        pf = PostfixInstance(transport, users)
        self.addCleanup(pf.cleanup)
        pf.start()
        self.addCleanup(self.assert_stopped, pf, before)
        now = listening_ports()
        if 25 not in before:
            self.assertNotIn(25, now, "a Postfix listens on port 25")
        self.assertIn(pf.port, now)
        return pf

    def assert_stopped(self, pf, before):
        pf.stop()
        self.assertIsNone(pf.master_pid() and self._alive(pf.master_pid()))
        self.assertNotIn(pf.port, listening_ports())
        if 25 not in before:
            self.assertNotIn(25, listening_ports())

    @staticmethod
    def _alive(pid):
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return None

    def wait_messages(self, user, n, pf, timeout=60):
        deadline = time.monotonic() + timeout
        while self.messages(user) < n:
            if time.monotonic() > deadline:
                self.fail(f"{user} has {self.messages(user)} messages, not {n}, after "
                          f"{timeout}s:\n{pf.read_log()[-3000:]}\n{self.srv.log()[-2000:]}")
            time.sleep(0.2)

    def send(self, pf, sender, rcpts, message=MESSAGE):
        with smtplib.SMTP(HOST, pf.port, timeout=30) as smtp:
            smtp.ehlo("client.example")
            self.assertEqual(smtp.sendmail(sender, rcpts, message), {})

    def test_postfix_over_lmtp_inet(self):
        """virtual_transport = lmtp:inet:127.0.0.1:PORT"""
        self.start()
        pf = self.run_postfix(f"lmtp:inet:{HOST}:{self.srv.lmtp_port}")
        self.send(pf, "sender@example.net", [f"alice@{DOMAIN}"])
        self.wait_messages("alice", 1, pf)
        fields, rest = split_trace(self.fetch_body("alice"))
        self.assertEqual(fields[:2], [b"Return-Path: <sender@example.net>",
                                      f"Delivered-To: alice@{DOMAIN}".encode()])
        self.assertRegex(fields[2].decode(), r"^Received: from mx\.gannet-test\.example "
                                             r"\(\[127\.0\.0\.1\]\)")
        # Postfix's own Received: comes first, then the message as sent
        self.assertTrue(rest.startswith(b"Received: from client.example"), rest[:200])
        self.assertEqual(rest[rest.index(b"\r\nFrom: ") + 2:], MESSAGE)
        self.assertRegex(pf.read_log(), r"to=<alice@example\.org>, relay=127\.0\.0\.1\[127\.0\.0"
                                        r"\.1\]:\d+, .*status=sent \(250 2\.0\.0 Saved")

    def test_postfix_over_lmtp_unix_with_an_unknown_user(self):
        """virtual_transport = lmtp:unix:/path; several recipients in one
        transaction, one of them unknown to gannet: Postfix delivers to the
        others and bounces that one to the sender, over LMTP too."""
        self.start()
        pf = self.run_postfix(f"lmtp:unix:{self.srv.lmtp_socket}")
        self.send(pf, f"carol@{DOMAIN}", [f"alice@{DOMAIN}", f"nobody@{DOMAIN}", f"bob@{DOMAIN}"])
        self.wait_messages("alice", 1, pf)
        self.wait_messages("bob", 1, pf)
        self.wait_messages("carol", 1, pf)  # the bounce
        for user in ("alice", "bob"):
            fields, rest = split_trace(self.fetch_body(user))
            self.assertEqual([f.split(b":")[0] for f in fields], [b"Return-Path", b"Received"])
            self.assertTrue(rest.endswith(MESSAGE))
            self.assertIn(b"(unix)", fields[1])
        bounce = self.fetch_body("carol")
        self.assertIn(b"Return-Path: <>", bounce)
        self.assertIn(b"nobody@example.org", bounce)
        self.assertIn(b"5.1.1", bounce)
        self.assertRegex(pf.read_log(), r"to=<nobody@example\.org>.*status=bounced \(host "
                                        r"\S+ said: 550 5\.1\.1 User doesn't exist")


if __name__ == "__main__":
    unittest.main()
