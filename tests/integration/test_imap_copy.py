"""COPY, MOVE and their UID forms (RFC 9051 §6.4.7, §6.4.8, §6.4.9; RFC 6851)
with UIDPLUS's COPYUID (RFC 4315 §3) and TRYCREATE."""

import imaplib
import re
import subprocess
import unittest

from harness import GANNET, ServerTestCase, password
from test_imap_store import fill, run

USERS = ("al", "bez", "cid", "dee", "eve", "fay", "gus", "hal")


class CopyTest(ServerTestCase):
    SERVER_SETTINGS = {"workers": "1"}
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{u}-pw-1::::::" for u in USERS]}

    def gannet(self, *args):
        r = subprocess.run([GANNET, *args, "-c", self.srv.conf], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
        return r.stdout.decode()

    def status(self, user, mailbox, field):
        out = self.gannet("mailbox", "status", "-u", user, "-f", field, mailbox)
        return int(out.strip().split("=")[1])

    def selected(self, user, flag_lists, mailboxes=()):
        if mailboxes:
            self.gannet("mailbox", "create", "-u", user, *mailboxes)
        c = self.srv.imap_logged_in(user)
        fill(c, flag_lists)
        self.assertEqual(run(c, "s", "SELECT INBOX")[1], "s OK [READ-WRITE] SELECT completed.")
        return c

    def test_rfc4315_copy_examples(self):
        # RFC 9051 §6.4.7, RFC 4315 §3: COPY 2:4 of messages whose UIDs are
        # not contiguous (UIDs 2, 3 and 5 gone: 2:4 are UIDs 4, 6 and 7)
        with self.selected("al", [""] * 7, ["meeting"]) as c:
            run(c, "x", "UID STORE 2,3,5 +FLAGS.SILENT (\\Deleted)")
            run(c, "y", "EXPUNGE")
            validity = self.status("al", "meeting", "uidvalidity")
            untagged, tagged = run(c, "A004", "COPY 2:4 meeting")
            self.assertEqual(tagged, f"A004 OK [COPYUID {validity} 4,6:7 1:3] COPY completed.")
            self.assertEqual(untagged, [])
            # no message matches: nothing copied, and no COPYUID
            untagged, tagged = run(c, "A005", "UID COPY 305:310 meeting")
            self.assertEqual(tagged, "A005 OK No messages matched, UID COPY did nothing.")
            untagged, tagged = run(c, "A006", "COPY 2 funny")
            self.assertEqual(tagged, "A006 NO [TRYCREATE] Mailbox does not exist.")
            self.assertEqual(run(c, "A007", "UID COPY 305:310 funny")[1],
                             "A007 NO [TRYCREATE] Mailbox does not exist.")
            self.assertEqual(self.status("al", "meeting", "messages"), 3)
            self.assertEqual(self.status("al", "INBOX", "messages"), 4)

    def test_rfc6851_move_example(self):
        with self.selected("bez", [""] * 5, ["foo"]) as c:
            run(c, "c", "COPY 1:2 foo")  # foo's next UIDs are 3 and on
            validity = self.status("bez", "foo", "uidvalidity")
            untagged, tagged = run(c, "a", "UID MOVE 2:4 foo")
            self.assertEqual(tagged, "a OK UID MOVE completed.")
            # COPYUID in an untagged OK before the EXPUNGEs (RFC 6851 §4.3)
            self.assertEqual(untagged, [f"* OK [COPYUID {validity} 2:4 3:5] Moved.",
                                        "* 4 EXPUNGE", "* 3 EXPUNGE", "* 2 EXPUNGE"])
            self.assertEqual(self.status("bez", "foo", "messages"), 5)
            self.assertEqual(self.status("bez", "INBOX", "messages"), 2)
            untagged, tagged = run(c, "b", "MOVE 2 foo")
            self.assertEqual(untagged, [f"* OK [COPYUID {validity} 5 6] Moved.", "* 2 EXPUNGE"])
            self.assertEqual(tagged, "b OK MOVE completed.")
            self.assertEqual(run(c, "d", "MOVE 1 nofoo")[1], "d NO [TRYCREATE] Mailbox does not exist.")
            self.assertEqual(self.status("bez", "INBOX", "messages"), 1)

    def test_imaplib_keeps_flags_and_dates(self):
        c = self.srv.imap_logged_in("cid")
        c.send(b"p APPEND INBOX (\\Seen $Work) \"14-Nov-2023 22:13:20 +0000\" {5+}\r\nhello\r\n")
        self.assertRegex(c.read_until_tagged("p")[1], r"^p OK ")
        fill(c, ["(\\Flagged)", ""])
        c.close()
        m = imaplib.IMAP4_SSL("127.0.0.1", self.srv.ports["imaps"], ssl_context=self.srv.ctx())
        m.login("cid", password("cid"))
        m.select("INBOX")
        typ, data = m.copy("1:2", "Trash")
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0].decode(), r"^\[COPYUID \d+ 1:2 1:2\] COPY completed\.$")
        # imaplib's uid() keeps only FETCH answers: the tagged text, through its core
        typ, data = m._simple_command("UID", "COPY", "1", "Archive")
        self.assertRegex(data[0].decode(), r"^\[COPYUID \d+ 1 1\] UID COPY completed\.$")
        typ, data = m._simple_command("MOVE", "3", "Archive")
        self.assertEqual(typ, "OK")
        self.assertEqual(m.response("EXPUNGE"), ("EXPUNGE", [b"3"]))
        typ, data = m.uid("MOVE", "2", "Junk")
        self.assertEqual(typ, "OK")
        self.assertEqual(m.response("EXPUNGE"), ("EXPUNGE", [b"2"]))
        m.logout()
        out = self.gannet("fetch", "-u", "cid", "Archive", "1", "flags", "internaldate")
        self.assertIn("\\Seen", out)
        self.assertIn("$Work", out)
        self.assertIn("14-Nov-2023 22:13:20 +0000", out)
        self.assertIn("\\Flagged", self.gannet("fetch", "-u", "cid", "Trash", "2", "flags"))
        self.assertEqual(self.status("cid", "INBOX", "messages"), 1)
        self.assertEqual(self.status("cid", "Archive", "messages"), 2)
        self.assertEqual(self.status("cid", "Junk", "messages"), 1)

    def test_into_the_selected_mailbox(self):
        with self.selected("dee", ["(\\Seen)", ""]) as c:
            untagged, tagged = run(c, "a", "COPY 1 INBOX")
            self.assertRegex(tagged, r"^a OK \[COPYUID \d+ 1 3\] COPY completed\.$")
            self.assertEqual(untagged, ["* 3 EXISTS"])
            # a MOVE into the mailbox itself: the message gets a new UID at the end
            untagged, tagged = run(c, "b", "MOVE 1 inbox")
            self.assertEqual(tagged, "b OK MOVE completed.")
            self.assertRegex(untagged[0], r"^\* OK \[COPYUID \d+ 1 4\] Moved\.$")
            self.assertEqual(untagged[1:], ["* 1 EXPUNGE", "* 3 EXISTS"])
            self.assertEqual(run(c, "c", "STORE 1:* +FLAGS ()")[0],
                             ["* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS (\\Seen))",
                              "* 3 FETCH (FLAGS (\\Seen))"])

    def test_other_sessions_see_the_move(self):
        with self.selected("eve", ["", ""]) as a, self.srv.imap_logged_in("eve") as b:
            run(b, "s", "SELECT INBOX")
            self.assertEqual(run(a, "a", "MOVE 1 Trash")[0][1:], ["* 1 EXPUNGE"])
            self.assertEqual(run(b, "b", "NOOP")[0], ["* 1 EXPUNGE"])
            run(b, "t", "SELECT Trash")
            self.assertEqual(run(a, "a2", "UID MOVE 2 Trash")[0][1:], ["* 1 EXPUNGE"])
            self.assertEqual(run(b, "b2", "NOOP")[0], ["* 2 EXISTS"])

    def test_uidplus_and_move_announced_after_login(self):
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("l LOGIN gus gus-pw-1")
            tagged = c.read_until_tagged("l")[1]
            caps = re.search(r"\[CAPABILITY ([^\]]*)\]", tagged).group(1).split()
            self.assertIn("UIDPLUS", caps)
            self.assertIn("MOVE", caps)
            untagged, tagged = run(c, "c", "CAPABILITY")
            self.assertEqual(tagged, "c OK CAPABILITY completed.")
            self.assertIn("UIDPLUS", untagged[0].split())
            self.assertIn("MOVE", untagged[0].split())

    def test_read_only_and_bad_input(self):
        with self.selected("fay", ["", ""]) as c:
            run(c, "e", "EXAMINE INBOX")
            # copying out of an EXAMINEd mailbox changes nothing in it
            self.assertRegex(run(c, "r", "COPY 1 Trash")[1], r"^r OK \[COPYUID ")
            self.assertEqual(run(c, "r2", "MOVE 1 Trash"), ([], "r2 NO Mailbox is read-only."))
            self.assertEqual(run(c, "r3", "UID MOVE 1 Trash"), ([], "r3 NO Mailbox is read-only."))
            run(c, "s", "SELECT INBOX")
            for line, answer in (("COPY", "BAD"), ("COPY 1", "BAD"), ("COPY 1 Trash x", "BAD"),
                                 ("COPY x Trash", "BAD"), ("COPY 3 Trash", "BAD"),
                                 ("COPY 0 Trash", "BAD"), ("MOVE 1:5 Trash", "BAD"),
                                 # "$" after SELECT names nothing (RFC 9051 §6.4.4.1)
                                 ("COPY $ Trash", "OK"), ("UID MOVE $ Trash", "OK"),
                                 ("COPY 1 (Trash)", "BAD"), ("UID COPY 1", "BAD"),
                                 ("COPY 1 \"a\\\\b\x01\"", "NO"), ("MOVE 1 ../../etc", "NO")):
                with self.subTest(line=line):
                    untagged, tagged = run(c, "t", line)
                    self.assertRegex(tagged, rf"^t {answer} ")
                    self.assertEqual(untagged, [])
            self.assertEqual(self.status("fay", "INBOX", "messages"), 2)
            self.assertEqual(self.status("fay", "Trash", "messages"), 1)
            run(c, "u", "UNSELECT")
            self.assertRegex(run(c, "v", "COPY 1 Trash")[1], r"^v BAD ")
            self.assertEqual(run(c, "w", "NOOP")[1], "w OK NOOP completed.")


if __name__ == "__main__":
    unittest.main()
