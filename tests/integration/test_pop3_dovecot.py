"""Moving from Dovecot without downloading everything again: a Maildir that
Dovecot's own POP3 server (from Debian) has served, brought over with
`gannet import`, gives the same UIDL for every message from gannet as it did
from Dovecot (pop3_uidl_format's default, %08Xu%08Xv, is Dovecot's), and the
same bytes for RETR."""

import poplib
import subprocess
import unittest

import dovecot_pop3
from harness import GANNET, HOST, GannetServer, client_context, password, require_user, user_hash
from test_pop3_mail import message

USER = "alice"


def session(port):
    p = poplib.POP3_SSL(HOST, port, context=client_context(), timeout=10)
    p.user(USER)
    p.pass_(password(USER))
    return p


def everything(p):
    """UIDL lines and every message's RETR lines."""
    uidls = p.uidl()[1]
    return uidls, [p.retr(n)[1] for n in range(1, len(uidls) + 1)]


@unittest.skipUnless(dovecot_pop3.available(), "needs Dovecot from Debian and root to start it")
class DovecotUidlTest(unittest.TestCase):
    def test_imported_maildir_keeps_dovecot_uidls(self):
        require_user(self, USER)
        msgs = [message(n, f"body {n}\n.dotted\n") for n in range(1, 7)]
        with dovecot_pop3.DovecotPop3([f"{USER}:{user_hash(USER)}::::::"]) as dv:
            dovecot_pop3.write_maildir(dv.maildir(USER), msgs, dv.owner)
            dv.start()
            # a first session: Dovecot gives the UIDs; two messages go, so the
            # UIDs have holes and message numbers no longer are UIDs
            p = session(dv.port)
            p.dele(2)
            p.dele(4)
            p.quit()
            p = session(dv.port)
            dovecot_uidls, dovecot_bodies = everything(p)
            p.quit()
            dv.stop()
            self.assertEqual(len(dovecot_uidls), 4)
            with GannetServer(users=[USER], listeners=["pop3s"]) as srv:
                r = subprocess.run([GANNET, "import", "-u", USER, dv.maildir(USER), "-c", srv.conf],
                                   capture_output=True, timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
                p = srv.pop3_ssl()
                p.user(USER)
                p.pass_(password(USER))
                uidls, bodies = everything(p)
                p.quit()
        self.assertEqual(uidls, dovecot_uidls)
        self.assertEqual(bodies, dovecot_bodies)


if __name__ == "__main__":
    unittest.main()
