"""POP3 with the clients people run (Debian's packages; scripts/deps): fetchmail
and getmail6 fetching into a local mbox, with the mail kept on the server and
without, twice, so that UIDL is seen to keep them from fetching a message
again; and curl's pop3s:// LIST, RETR and DELE."""

import os
import pwd
import re
import shutil
import subprocess
import unittest

from harness import ServerTestCase, password
from test_pop3_mail import crlf, deliver, message, pop3_login

USERS = ("fred", "fran", "gwen", "gil", "cody", "cleo")


def message_ids(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        return re.findall(rb"^Message-ID: <(\d+)@example.org>", f.read(), re.M)


class Pop3ClientsTest(ServerTestCase):
    SERVER_SETTINGS = {"mail_max_userip_connections": "50"}
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{u}-pw-1::::::" for u in USERS]}

    def setUp(self):
        super().setUp()
        self.env = dict(os.environ, HOME=self.srv.dir, FETCHMAILHOME=self.srv.dir)

    def stat(self, user):
        p = pop3_login(self.srv, user)
        try:
            return p.stat()[0]
        finally:
            p.quit()

    # -- fetchmail

    def fetchmail(self, user, keep):
        if not shutil.which("fetchmail"):
            self.skipTest("fetchmail is not installed (scripts/deps)")
        d = os.path.join(self.srv.dir, f"fetchmail-{user}")
        os.makedirs(d, exist_ok=True)
        mbox = os.path.join(d, "mbox")
        rc = os.path.join(d, "fetchmailrc")
        with open(rc, "w") as f:
            f.write("set no syslog\n"
                    f"poll localhost via 127.0.0.1 with proto POP3 port {self.srv.ports['pop3s']}"
                    " uidl\n"
                    f'  user "{user}" there with password "{password(user)}" is "root" here\n'
                    f'  ssl sslcertfile "{self.srv.cert}" sslcertck sslcommonname localhost\n'
                    f"  {'keep' if keep else 'nokeep'}\n"
                    f"  mda \"/bin/sh -c 'cat >> {mbox}'\"\n")
        os.chmod(rc, 0o600)
        env = dict(self.env, FETCHMAILHOME=d)
        r = subprocess.run(["fetchmail", "-f", rc, "-v", "--nodetach", "--idfile",
                            os.path.join(d, "fetchids")], env=env, capture_output=True,
                           timeout=120)
        # 0: mail came, 1: no mail; anything else is an error
        self.assertIn(r.returncode, (0, 1), r.stdout.decode(errors="replace")[-3000:]
                      + r.stderr.decode(errors="replace")[-2000:])
        return r.returncode, mbox

    def test_fetchmail_keep_uses_uidl(self):
        for i in range(1, 4):
            deliver(self.srv, "fred", message(i))
        rc, mbox = self.fetchmail("fred", keep=True)
        self.assertEqual(rc, 0)
        self.assertEqual(message_ids(mbox), [b"1", b"2", b"3"])
        # the second run finds every UIDL in its list: nothing again
        rc, mbox = self.fetchmail("fred", keep=True)
        self.assertEqual(rc, 1)
        self.assertEqual(message_ids(mbox), [b"1", b"2", b"3"])
        self.assertEqual(self.stat("fred"), 3)
        # a new message: only that one
        deliver(self.srv, "fred", message(4))
        rc, mbox = self.fetchmail("fred", keep=True)
        self.assertEqual(rc, 0)
        self.assertEqual(message_ids(mbox), [b"1", b"2", b"3", b"4"])

    def test_fetchmail_without_keep_deletes(self):
        for i in range(1, 3):
            deliver(self.srv, "fran", message(i, "a\n.line with a dot\n"))
        rc, mbox = self.fetchmail("fran", keep=False)
        self.assertEqual(rc, 0)
        self.assertEqual(message_ids(mbox), [b"1", b"2"])
        with open(mbox, "rb") as f:
            self.assertIn(b"\n.line with a dot\n", f.read())
        self.assertEqual(self.stat("fran"), 0)
        rc, mbox = self.fetchmail("fran", keep=False)
        self.assertEqual(rc, 1)
        self.assertEqual(message_ids(mbox), [b"1", b"2"])

    # -- getmail6

    def getmail(self, user, delete):
        if not shutil.which("getmail"):
            self.skipTest("getmail6 is not installed (scripts/deps)")
        d = os.path.join(self.srv.dir, f"getmail-{user}")
        os.makedirs(d, exist_ok=True)
        mbox = os.path.join(d, "mbox")
        if not os.path.exists(mbox):
            open(mbox, "w").close()
        # getmail refuses to deliver as root: then it delivers as nobody
        as_user = ""
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(mbox, nobody.pw_uid, nobody.pw_gid)
            as_user = "user = nobody\n"
        with open(os.path.join(d, "getmailrc"), "w") as f:
            f.write("[retriever]\ntype = SimplePOP3SSLRetriever\nserver = localhost\n"
                    f"port = {self.srv.ports['pop3s']}\nusername = {user}\n"
                    f"password = {password(user)}\nca_certs = {self.srv.cert}\n"
                    f"[destination]\ntype = Mboxrd\npath = {mbox}\n{as_user}"
                    f"[options]\ndelete = {'true' if delete else 'false'}\nread_all = false\n"
                    "verbose = 1\n")
        r = subprocess.run(["getmail", "--getmaildir", d, "--rcfile", "getmailrc"],
                           env=self.env, capture_output=True, timeout=120)
        out = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 0, out[-3000:])
        return out, mbox

    def test_getmail_keep_uses_uidl(self):
        for i in range(1, 4):
            deliver(self.srv, "gwen", message(i))
        out, mbox = self.getmail("gwen", delete=False)
        self.assertIn("3 messages", out)
        self.assertEqual(message_ids(mbox), [b"1", b"2", b"3"])
        out, mbox = self.getmail("gwen", delete=False)
        self.assertIn("0 messages", out)
        self.assertEqual(message_ids(mbox), [b"1", b"2", b"3"])
        self.assertEqual(self.stat("gwen"), 3)

    def test_getmail_delete(self):
        for i in range(1, 3):
            deliver(self.srv, "gil", message(i))
        out, mbox = self.getmail("gil", delete=True)
        self.assertEqual(message_ids(mbox), [b"1", b"2"])
        self.assertEqual(self.stat("gil"), 0)
        out, mbox = self.getmail("gil", delete=True)
        self.assertIn("0 messages", out)
        self.assertEqual(message_ids(mbox), [b"1", b"2"])

    # -- curl

    def curl(self, user, path="", *args):
        if not shutil.which("curl"):
            self.skipTest("curl is not installed")
        r = subprocess.run(["curl", "-sS", "--cacert", self.srv.cert,
                            f"pop3s://localhost:{self.srv.ports['pop3s']}/{path}",
                            "-u", f"{user}:{password(user)}", *args],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r.stdout

    def test_curl_list_retr_dele(self):
        msgs = [message(1), message(2, "x\n.y\n")]
        for m in msgs:
            deliver(self.srv, "cody", m)
        self.assertEqual(self.curl("cody"),
                         b"".join(b"%d %d\r\n" % (i, len(crlf(m))) for i, m in enumerate(msgs, 1)))
        self.assertEqual(self.curl("cody", "2"), crlf(msgs[1]))
        self.curl("cody", "1", "-X", "DELE", "-I")
        self.assertEqual(self.curl("cody"), b"1 %d\r\n" % len(crlf(msgs[1])))


if __name__ == "__main__":
    unittest.main()
