"""The selected state (RFC 9051 §6.3.2, §6.3.3, §6.4.1, §6.4.2): SELECT and
EXAMINE, CLOSE and UNSELECT, and NOOP telling a session what other sessions
changed."""

import imaplib
import re
import unittest

from harness import ServerTestCase, password

MESSAGE = b"From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n"
USERS = ("sam", "sue", "tom", "tim", "una", "val")


class SelectTest(ServerTestCase):
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{u}-pw-1::::::" for u in USERS]}

    def append(self, c, tag, flags=""):
        c.send(f"{tag} APPEND INBOX {flags}{{{len(MESSAGE)}+}}\r\n".encode() + MESSAGE + b"\r\n")
        tagged = c.read_until_tagged(tag)[1]
        self.assertTrue(tagged.startswith(f"{tag} OK [APPENDUID"), tagged)

    def test_select_an_empty_inbox(self):
        with self.srv.imap_logged_in("sam") as c:
            c.cmd("s SELECT INBOX")
            untagged, tagged = c.read_until_tagged("s")
            self.assertEqual(tagged, "s OK [READ-WRITE] SELECT completed.")
            self.assertEqual(untagged[0], "* 0 EXISTS")
            self.assertIn("* 0 RECENT", untagged)
            self.assertIn("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)", untagged)
            self.assertIn("* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft "
                          "\\*)] Flags permitted.", untagged)
            self.assertTrue(any(re.fullmatch(r"\* OK \[UIDVALIDITY \d+\] UIDs valid\.", l)
                                for l in untagged), untagged)
            self.assertIn("* OK [UIDNEXT 1] Predicted next UID.", untagged)

    def test_imaplib_select_examine_close(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.srv.ports["imaps"], ssl_context=self.srv.ctx())
        m.login("sue", password("sue"))
        for _ in range(2):
            self.assertEqual(m.append("INBOX", None, None, MESSAGE)[0], "OK")
        self.assertEqual(m.append("INBOX", r"(\Deleted)", None, MESSAGE)[0], "OK")
        typ, data = m.select("INBOX", readonly=True)
        self.assertEqual((typ, data), ("OK", [b"3"]))
        self.assertEqual(m.untagged_responses.get("READ-ONLY"), [b""])
        self.assertEqual(m.response("UNSEEN")[1], [b"1"])
        # CLOSE after EXAMINE expunges nothing
        self.assertEqual(m.close()[0], "OK")
        self.assertEqual(m.select("INBOX")[1], [b"3"])
        self.assertEqual(m.close()[0], "OK")
        self.assertEqual(m.select("INBOX")[1], [b"2"])
        self.assertEqual(m.unselect()[0], "OK")
        m.logout()

    def test_select_missing_mailbox_leaves_the_selected_state(self):
        with self.srv.imap_logged_in("tom") as c:
            c.cmd("a SELECT INBOX")
            c.read_until_tagged("a")
            c.cmd("b SELECT NoSuchBox")
            untagged, tagged = c.read_until_tagged("b")
            self.assertEqual(untagged, ["* OK [CLOSED] Previous mailbox closed."])
            self.assertEqual(tagged, "b NO [NONEXISTENT] Mailbox does not exist.")
            c.cmd("c CLOSE")
            self.assertRegex(c.read_until_tagged("c")[1], r"^c BAD ")
            c.cmd("d SELECT \"bad\x01name\"")
            self.assertRegex(c.read_until_tagged("d")[1], r"^d (NO|BAD) ")

    def test_noop_reports_other_sessions_changes(self):
        with self.srv.imap_logged_in("tim") as a, self.srv.imap_logged_in("tim") as b:
            self.append(a, "p1")
            self.append(a, "p2", "(\\Deleted) ")
            a.cmd("s SELECT INBOX")
            a.read_until_tagged("s")
            # b adds one and expunges the \Deleted one (CLOSE)
            self.append(b, "q1")
            b.cmd("q2 SELECT INBOX")
            b.read_until_tagged("q2")
            b.cmd("q3 CLOSE")
            self.assertEqual(b.read_until_tagged("q3")[1], "q3 OK Completed.")
            a.cmd("n NOOP")
            untagged, tagged = a.read_until_tagged("n")
            self.assertEqual(tagged, "n OK NOOP completed.")
            self.assertEqual(untagged, ["* 2 EXPUNGE", "* 2 EXISTS"])
            a.cmd("m CHECK")
            self.assertEqual(a.read_until_tagged("m"), ([], "m OK CHECK completed."))


if __name__ == "__main__":
    unittest.main()
