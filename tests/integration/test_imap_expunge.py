"""EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, §6.4.9; UIDPLUS, RFC 4315 §2.1):
the \\Deleted messages go, each announced by an untagged EXPUNGE, highest
number first; other sessions hear of it at their next command."""

import imaplib
import unittest

from harness import ServerTestCase, password
from test_imap_store import fill, run

USERS = ("ann", "bo", "cy", "di", "ed", "flo")


def apply_expunges(numbers, untagged):
    """The messages left after the client applies the EXPUNGE responses in
    order, each renumbering those after it (RFC 9051 §7.5.1)."""
    left = list(numbers)
    for line in untagged:
        word = line.split()
        assert word[0] == "*" and word[2] == "EXPUNGE", line
        del left[int(word[1]) - 1]
    return left


class ExpungeTest(ServerTestCase):
    SERVER_SETTINGS = {"workers": "1"}
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{u}-pw-1::::::" for u in USERS]}

    def selected(self, user, flag_lists):
        c = self.srv.imap_logged_in(user)
        fill(c, flag_lists)
        self.assertEqual(run(c, "s", "SELECT INBOX")[1], "s OK [READ-WRITE] SELECT completed.")
        return c

    def test_rfc9051_example(self):
        # §6.4.3: messages 3, 4, 7 and 11 had \Deleted
        flags = ["(\\Deleted)" if i in (3, 4, 7, 11) else "" for i in range(1, 12)]
        with self.selected("ann", flags) as c:
            untagged, tagged = run(c, "A202", "EXPUNGE")
            self.assertEqual(tagged, "A202 OK EXPUNGE completed.")
            # the same four removals, sent highest first
            self.assertEqual(untagged, ["* 11 EXPUNGE", "* 7 EXPUNGE", "* 4 EXPUNGE",
                                        "* 3 EXPUNGE"])
            self.assertEqual(apply_expunges(range(1, 12), untagged), [1, 2, 5, 6, 8, 9, 10])
            self.assertEqual(run(c, "b", "EXPUNGE"), ([], "b OK EXPUNGE completed."))

    def test_uid_expunge_example(self):
        # RFC 4315 §2.1 and RFC 9051 §6.4.9: UID EXPUNGE 3000:3002 removed
        # messages 3, 4 and 5; here their UIDs are 3:5, and 2 and 6 are
        # \Deleted too but outside the set
        flags = ["", "(\\Deleted)", "(\\Deleted)", "(\\Deleted)", "(\\Deleted)", "(\\Deleted)", ""]
        with self.selected("bo", flags) as c:
            untagged, tagged = run(c, "A003", "UID EXPUNGE 3:5")
            self.assertEqual(tagged, "A003 OK UID EXPUNGE completed.")
            self.assertEqual(untagged, ["* 5 EXPUNGE", "* 4 EXPUNGE", "* 3 EXPUNGE"])
            # a message without \Deleted stays, whatever the set says
            run(c, "a", "UID STORE 7 -FLAGS.SILENT (\\Deleted)")
            self.assertEqual(run(c, "b", "UID EXPUNGE 1:2,7,99")[0], ["* 2 EXPUNGE"])
            self.assertEqual(run(c, "c", "UID EXPUNGE 1:*")[0], ["* 2 EXPUNGE"])
            self.assertEqual(run(c, "d", "STORE 1:* +FLAGS ()")[0],
                             ["* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS ())"])

    def test_imaplib(self):
        with self.srv.imap_logged_in("cy") as c:
            fill(c, ["", "(\\Deleted)", "", "(\\Deleted)", "(\\Deleted)"])
        m = imaplib.IMAP4_SSL("127.0.0.1", self.srv.ports["imaps"], ssl_context=self.srv.ctx())
        m.login("cy", password("cy"))
        m.select("INBOX")
        # imaplib's uid() returns FETCH answers; the EXPUNGE ones wait
        self.assertEqual(m.uid("EXPUNGE", "4")[0], "OK")
        self.assertEqual(m.response("EXPUNGE"), ("EXPUNGE", [b"4"]))
        typ, data = m.expunge()
        self.assertEqual((typ, data), ("OK", [b"4", b"2"]))
        typ, data = m.expunge()
        self.assertEqual((typ, data), ("OK", [None]))
        m.logout()

    def test_other_sessions_see_the_expunge(self):
        with self.selected("di", ["(\\Deleted)", "", "(\\Deleted)"]) as a, \
                self.srv.imap_logged_in("di") as b:
            run(b, "s", "SELECT INBOX")
            # b deletes 2 as well; a's EXPUNGE hears of it and takes it too
            run(b, "b1", "STORE 2 +FLAGS.SILENT (\\Deleted)")
            untagged, tagged = run(a, "a1", "EXPUNGE")
            self.assertEqual(tagged, "a1 OK EXPUNGE completed.")
            self.assertEqual(untagged, ["* 3 EXPUNGE", "* 2 EXPUNGE", "* 1 EXPUNGE"])
            untagged, tagged = run(b, "b2", "NOOP")
            self.assertEqual(untagged, ["* 3 EXPUNGE", "* 2 EXPUNGE", "* 1 EXPUNGE"])
            # and an EXPUNGE tells what another session expunged meanwhile
            fill(a, ["(\\Deleted)", "(\\Deleted)"])
            run(a, "a2", "NOOP")
            run(b, "b3", "NOOP")
            run(b, "b4", "UID EXPUNGE 4")
            self.assertEqual(run(a, "a3", "UID EXPUNGE 5")[0], ["* 2 EXPUNGE", "* 1 EXPUNGE"])

    def test_bad_input_and_read_only(self):
        with self.selected("ed", ["(\\Deleted)"]) as c:
            for line in ("EXPUNGE 1", "UID EXPUNGE", "UID EXPUNGE 0", "UID EXPUNGE x",
                         "UID EXPUNGE 1 2", "UID EXPUNGE (1)"):
                with self.subTest(line=line):
                    self.assertRegex(run(c, "t", line)[1], r"^t BAD ")
            # "$" after SELECT names nothing (RFC 9051 §6.4.4.1): message 1 stays
            self.assertEqual(run(c, "t2", "UID EXPUNGE $"), ([], "t2 OK UID EXPUNGE completed."))
            run(c, "e", "EXAMINE INBOX")
            self.assertEqual(run(c, "r", "EXPUNGE"), ([], "r NO Mailbox is read-only."))
            self.assertEqual(run(c, "r2", "UID EXPUNGE 1"), ([], "r2 NO Mailbox is read-only."))
            run(c, "s", "SELECT INBOX")
            self.assertEqual(run(c, "x", "EXPUNGE"), (["* 1 EXPUNGE"], "x OK EXPUNGE completed."))
            run(c, "u", "UNSELECT")
            self.assertRegex(run(c, "v", "EXPUNGE")[1], r"^v BAD ")
            self.assertEqual(run(c, "w", "NOOP")[1], "w OK NOOP completed.")


if __name__ == "__main__":
    unittest.main()
