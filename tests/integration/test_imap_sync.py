"""Sessions seeing each other (RFC 9051 §5.2, §7.4.1) and the CONDSTORE and
QRESYNC extensions (RFC 7162 §3): the changes another session or program
made are told before the completion of the next command of the selected
state, with sequence numbers a client can follow; ENABLE, SELECT (CONDSTORE)
and SELECT (QRESYNC ...) with VANISHED (EARLIER); VANISHED instead of EXPUNGE
once QRESYNC is enabled; MODSEQ in the FETCHes once CONDSTORE is."""

import os
import pwd
import re
import unittest

from harness import ServerTestCase, password

MESSAGE = b"From: a@example.org\r\nSubject: sync\r\n\r\nbody\r\n"
USERS = ("sia", "sib", "sic", "sid", "sie", "sif", "sig", "sih", "sii", "sij", "sik", "sil",
         "sim")


class SyncTest(ServerTestCase):
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{password(u)}::::::" for u in USERS]}

    def append(self, c, tag, flags=""):
        c.send(f"{tag} APPEND INBOX {flags}{{{len(MESSAGE)}+}}\r\n".encode() + MESSAGE + b"\r\n")
        tagged = c.read_until_tagged(tag)[1]
        m = re.match(rf"{tag} OK \[APPENDUID \d+ (\d+)\]", tagged)
        self.assertTrue(m, tagged)
        return int(m.group(1))

    def ok(self, c, tag, line):
        c.cmd(f"{tag} {line}")
        untagged, tagged = c.read_until_tagged(tag)
        self.assertTrue(tagged.startswith(f"{tag} OK"), tagged)
        return untagged, tagged

    def expunge_deleted(self, c):
        """Removes the \\Deleted messages from another session: SELECT, CLOSE."""
        self.ok(c, "x1", "SELECT INBOX")
        self.ok(c, "x2", "CLOSE")

    def status(self, untagged, code):
        for line in untagged:
            m = re.fullmatch(rf"\* OK \[{code} (\d+)\].*", line)
            if m:
                return int(m.group(1))
        self.fail(f"no {code} in {untagged}")

    def cur_file(self, user, uid):
        cur = os.path.join(self.srv.home, user, "Maildir", "cur")
        return os.path.join(cur, next(n for n in os.listdir(cur) if f",U={uid}:" in n))

    def set_seen_by_program(self, user, uid):
        """Another mail program sets \\Seen by renaming the file."""
        path = self.cur_file(user, uid)
        os.rename(path, path.split(":2,")[0] + ":2,S")

    def test_two_clients_follow_each_others_appends_and_expunges(self):
        with self.srv.imap_logged_in("sia") as a, self.srv.imap_logged_in("sia") as b:
            for i in range(4):
                self.append(a, f"p{i}")
            self.ok(a, "s", "SELECT INBOX")
            self.ok(b, "s", "SELECT INBOX")
            # b appends two and expunges messages 2 and 4 of four
            self.append(b, "q1")
            self.append(b, "q2")
            for uid in (2, 4):
                os.unlink(self.cur_file("sia", uid))
            # a learns it at its next command, any command: numbers as a had them
            untagged, _ = self.ok(a, "n", "NOOP")
            self.assertEqual(untagged, ["* 4 EXPUNGE", "* 2 EXPUNGE", "* 4 EXISTS"])
            # b saw its own appends at once (EXISTS before each APPEND's OK)
            untagged, _ = self.ok(b, "n", "NOOP")
            self.assertEqual(untagged, ["* 4 EXPUNGE", "* 2 EXPUNGE"])
            # a appends to the selected mailbox: told before APPEND's OK
            a.send(f"p9 APPEND INBOX {{{len(MESSAGE)}+}}\r\n".encode() + MESSAGE + b"\r\n")
            untagged, tagged = a.read_until_tagged("p9")
            self.assertEqual(untagged, ["* 5 EXISTS"])
            self.assertRegex(tagged, r"^p9 OK \[APPENDUID \d+ 7\]")
            # b learns it at a command that is not NOOP (LIST here)
            untagged, _ = self.ok(b, "l", 'LIST "" INBOX')
            self.assertEqual(untagged[-1], "* 5 EXISTS")
            self.assertTrue(untagged[0].startswith("* LIST"), untagged)
            # nothing more to tell
            self.assertEqual(self.ok(a, "n2", "NOOP")[0], [])
            self.assertEqual(self.ok(b, "n2", "CHECK")[0], [])

    def test_flag_changes_by_another_program(self):
        with self.srv.imap_logged_in("sib") as a:
            self.append(a, "p1")
            self.append(a, "p2")
            self.ok(a, "s", "SELECT INBOX")
            self.set_seen_by_program("sib", 2)
            untagged, _ = self.ok(a, "n", "NOOP")
            self.assertEqual(untagged, ["* 2 FETCH (UID 2 FLAGS (\\Seen))"])

    # -- ENABLE (RFC 7162 §3.2.3, RFC 5161)

    def test_enable(self):
        with self.srv.imap_logged_in("sic") as c:
            self.assertEqual(self.ok(c, "a", "ENABLE CONDSTORE")[0], ["* ENABLED CONDSTORE"])
            self.assertEqual(self.ok(c, "b", "ENABLE CONDSTORE")[0], ["* ENABLED"])
            self.assertEqual(self.ok(c, "c", "ENABLE QRESYNC")[0], ["* ENABLED QRESYNC"])
            self.assertEqual(self.ok(c, "d", "ENABLE QRESYNC")[0], ["* ENABLED"])
        with self.srv.imap_logged_in("sic") as c:
            self.assertEqual(self.ok(c, "a", "ENABLE QRESYNC CONDSTORE")[0],
                             ["* ENABLED QRESYNC CONDSTORE"])
        with self.srv.imap_logged_in("sic") as c:
            untagged, tagged = self.ok(c, "a", "CAPABILITY")
            caps = untagged[0].split()
            for cap in ("IDLE", "CONDSTORE", "QRESYNC", "ENABLE"):
                self.assertIn(cap, caps)

    def test_enable_condstore_with_a_mailbox_selected_tells_highestmodseq(self):
        """RFC 7162 §3.1: the first CONDSTORE enabling command with a mailbox
        selected returns its HIGHESTMODSEQ."""
        with self.srv.imap_logged_in("sid") as c:
            self.append(c, "p1")
            untagged, _ = self.ok(c, "s", "SELECT INBOX")
            hms = self.status(untagged, "HIGHESTMODSEQ")
            untagged, _ = self.ok(c, "e", "ENABLE CONDSTORE")
            self.assertEqual(untagged, ["* ENABLED CONDSTORE",
                                        f"* OK [HIGHESTMODSEQ {hms}] Highest."])
            # from now on the FETCHes told carry MODSEQ (§3.1, §3.2.4)
            self.set_seen_by_program("sid", 1)
            untagged, _ = self.ok(c, "n", "NOOP")
            self.assertEqual(len(untagged), 1)
            self.assertRegex(untagged[0], r"^\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ \((\d+)\)\)$")
            self.assertGreater(int(re.search(r"MODSEQ \((\d+)\)", untagged[0]).group(1)), hms)

    def test_status_highestmodseq_enables_condstore(self):
        with self.srv.imap_logged_in("sil") as c:
            self.append(c, "p1")
            untagged, _ = self.ok(c, "s", "SELECT INBOX")
            hms = self.status(untagged, "HIGHESTMODSEQ")
            untagged, _ = self.ok(c, "t", "STATUS INBOX (HIGHESTMODSEQ)")
            self.assertEqual(untagged, [f"* STATUS INBOX (HIGHESTMODSEQ {hms})",
                                        f"* OK [HIGHESTMODSEQ {hms}] Highest."])
            self.set_seen_by_program("sil", 1)
            untagged, _ = self.ok(c, "n", "NOOP")
            self.assertRegex(untagged[0], r"^\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$")

    # -- SELECT (CONDSTORE) (RFC 7162 §3.1.8, example 18)

    def test_select_condstore(self):
        with self.srv.imap_logged_in("sie") as c:
            self.append(c, "p1")
            untagged, tagged = self.ok(c, "A142", "SELECT INBOX (CONDSTORE)")
            self.assertEqual(tagged, "A142 OK [READ-WRITE] SELECT completed.")
            self.assertEqual(untagged[0], "* 1 EXISTS")
            self.assertIn("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)", untagged)
            self.assertGreater(self.status(untagged, "HIGHESTMODSEQ"), 0)
            self.status(untagged, "UIDVALIDITY")
            self.status(untagged, "UIDNEXT")
            # CONDSTORE is enabled: the flag FETCH carries MODSEQ
            self.set_seen_by_program("sie", 1)
            untagged, _ = self.ok(c, "n", "NOOP")
            self.assertRegex(untagged[0], r"^\* 1 FETCH \(UID 1 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$")
            c.cmd("b EXAMINE INBOX (UNKNOWN)")
            self.assertEqual(c.read_until_tagged("b")[1], "b BAD Unknown select parameter.")

    # -- QRESYNC (RFC 7162 §3.2.5)

    def test_select_qresync_needs_enable(self):
        with self.srv.imap_logged_in("sif") as c:
            c.cmd("a SELECT INBOX (QRESYNC (67890007 20050715194045000))")
            self.assertEqual(c.read_until_tagged("a")[1],
                             "a BAD QRESYNC needs ENABLE QRESYNC first.")
            self.ok(c, "b", "ENABLE QRESYNC")
            for bad in ("(QRESYNC)", "(QRESYNC (0 1))", "(QRESYNC (1))", "(QRESYNC (1 x))",
                        "(QRESYNC (1 2 3:x))", "(QRESYNC (1 2 1:5 (1:2)))"):
                c.cmd(f"c SELECT INBOX {bad}")
                self.assertRegex(c.read_until_tagged("c")[1], r"^c BAD ", bad)

    def test_qresync_uidvalidity_mismatch_reports_nothing(self):
        """The example of §3.2.5 with another UIDVALIDITY: the mailbox is
        selected as without parameters."""
        with self.srv.imap_logged_in("sig") as c:
            self.append(c, "p1", "(\\Deleted) ")
            self.append(c, "p2")
            self.ok(c, "s", "SELECT INBOX")
            self.ok(c, "x", "CLOSE")
            self.ok(c, "e", "ENABLE QRESYNC")
            untagged, tagged = self.ok(
                c, "A02", "SELECT INBOX (QRESYNC (67890007 1 41,43:211,214:541))")
            self.assertEqual(tagged, "A02 OK [READ-WRITE] SELECT completed.")
            self.assertEqual(untagged[0], "* 1 EXISTS")
            self.assertFalse([l for l in untagged if "VANISHED" in l or "FETCH" in l], untagged)

    def test_qresync_resync_after_changes_while_away(self):
        """The A03 example of §3.2.5: a client that was away learns in one
        round trip what was expunged (VANISHED (EARLIER)) and which flags
        changed (FETCH UID FLAGS MODSEQ), for the UIDs it knows."""
        with self.srv.imap_logged_in("sih") as c:
            for i in range(1, 11):
                self.append(c, f"p{i}")
            self.ok(c, "e", "ENABLE QRESYNC")
            untagged, _ = self.ok(c, "s", "SELECT INBOX")
            uidvalidity = self.status(untagged, "UIDVALIDITY")
            modseq = self.status(untagged, "HIGHESTMODSEQ")
        # while it is away: 3, 4 and 8 are expunged, 5 and 9 get \Seen, 11 comes
        with self.srv.imap_logged_in("sih") as o:
            self.append(o, "q1")
            for uid in (3, 4, 8):
                os.unlink(self.cur_file("sih", uid))
            self.set_seen_by_program("sih", 5)
            self.set_seen_by_program("sih", 9)
            self.ok(o, "s", "SELECT INBOX")  # the changes are indexed
        with self.srv.imap_logged_in("sih") as c:
            self.ok(c, "e", "ENABLE QRESYNC")
            untagged, tagged = self.ok(
                c, "A03", f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} 1:10))")
            self.assertEqual(tagged, "A03 OK [READ-WRITE] SELECT completed.")
            self.assertEqual(untagged[0], "* 8 EXISTS")
            hms = self.status(untagged, "HIGHESTMODSEQ")
            self.assertGreater(hms, modseq)
            rest = untagged[untagged.index("* VANISHED (EARLIER) 3:4,8"):]
            self.assertEqual(len(rest), 3, untagged)
            self.assertRegex(rest[1], r"^\* 3 FETCH \(UID 5 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$")
            self.assertRegex(rest[2], r"^\* 6 FETCH \(UID 9 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$")
            # the known UIDs limit the answer (UID 11 is new, not changed: not told)
            self.ok(c, "u", "UNSELECT")
            untagged, _ = self.ok(
                c, "A04", f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} 1:4,9))")
            self.assertIn("* VANISHED (EARLIER) 3:4", untagged)
            fetches = [l for l in untagged if "FETCH" in l]
            self.assertEqual(len(fetches), 1)
            self.assertRegex(fetches[0], r"^\* 6 FETCH \(UID 9 ")
            # without known UIDs: every UID below UIDNEXT; a HIGHESTMODSEQ that
            # is current: nothing to tell
            self.ok(c, "u2", "UNSELECT")
            untagged, _ = self.ok(c, "A05", f"SELECT INBOX (QRESYNC ({uidvalidity} {hms}))")
            self.assertFalse([l for l in untagged if "VANISHED" in l or "FETCH" in l], untagged)
            # sequence match data (§3.2.5.2): the client knows the mailbox up to
            # UID 6 (message 4 is UID 6 here): only the expunge of 8 is told
            self.ok(c, "u3", "UNSELECT")
            untagged, _ = self.ok(
                c, "B04", f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} 1:10 (2,4 2,6)))")
            self.assertIn("* VANISHED (EARLIER) 8", untagged)
            # a pair that does not match (message 4 is not UID 7): from UID 3 on
            self.ok(c, "u4", "UNSELECT")
            untagged, _ = self.ok(
                c, "B05", f"SELECT INBOX (QRESYNC ({uidvalidity} {modseq} 1:10 (2,4 2,7)))")
            self.assertIn("* VANISHED (EARLIER) 3:4,8", untagged)

    def test_vanished_instead_of_expunge_once_qresync_is_enabled(self):
        """RFC 7162 §3.2.10.2: expunges made elsewhere are told as VANISHED,
        which also counts the messages down (no EXISTS for them)."""
        with self.srv.imap_logged_in("sii") as a, self.srv.imap_logged_in("sii") as b:
            for i in range(5):
                self.append(a, f"p{i}", "(\\Deleted) " if i in (1, 3) else "")
            self.ok(a, "e", "ENABLE QRESYNC")
            self.ok(a, "s", "SELECT INBOX")
            self.expunge_deleted(b)
            self.append(b, "q1")
            untagged, _ = self.ok(a, "n", "NOOP")
            self.assertEqual(untagged, ["* VANISHED 2,4", "* 4 EXISTS"])

    def test_store_holds_back_expunges_uid_store_does_not(self):
        """RFC 9051 §7.5.1: no EXPUNGE while answering STORE (its numbers are
        the client's); the message expunged elsewhere keeps its number until
        a command may tell it. UID STORE may tell it."""
        with self.srv.imap_logged_in("sij") as a:
            for i in range(4):
                self.append(a, f"p{i}")
            self.ok(a, "s", "SELECT INBOX")
            os.unlink(self.cur_file("sij", 2))
            o = self.srv.imap_logged_in("sij")
            self.append(o, "q1")
            o.close()
            untagged, _ = self.ok(a, "a", "STORE 3 +FLAGS (\\Flagged)")
            # message 3 is still UID 3; the new message is told (EXISTS), the
            # expunge is not
            self.assertEqual(untagged, ["* 3 FETCH (FLAGS (\\Flagged))", "* 5 EXISTS"])
            untagged, _ = self.ok(a, "b", "STORE 4 +FLAGS (\\Seen)")
            self.assertEqual(untagged, ["* 4 FETCH (FLAGS (\\Seen))"])
            untagged, _ = self.ok(a, "n", "NOOP")
            self.assertEqual(untagged, ["* 2 EXPUNGE"])
            os.unlink(self.cur_file("sij", 1))
            untagged, _ = self.ok(a, "c", "UID STORE 3 -FLAGS (\\Flagged)")
            self.assertEqual(untagged, ["* 2 FETCH (UID 3 FLAGS ())", "* 1 EXPUNGE"])

    def test_expunge_and_move_say_vanished_with_qresync(self):
        """RFC 7162 §3.2.7 (example B202) and §3.2.10.2: EXPUNGE, UID EXPUNGE
        and MOVE tell VANISHED once QRESYNC is enabled, with the new
        HIGHESTMODSEQ in EXPUNGE's completion."""
        with self.srv.imap_logged_in("sik") as c:
            for i in range(1, 12):
                self.append(c, f"p{i}", "(\\Deleted) " if i in (3, 4, 7, 11) else "")
            self.ok(c, "e", "ENABLE QRESYNC")
            untagged, _ = self.ok(c, "s", "SELECT INBOX")
            hms = self.status(untagged, "HIGHESTMODSEQ")
            untagged, tagged = self.ok(c, "B202", "EXPUNGE")
            self.assertEqual(untagged, ["* VANISHED 3:4,7,11"])
            m = re.fullmatch(r"B202 OK \[HIGHESTMODSEQ (\d+)\] EXPUNGE completed\.", tagged)
            self.assertTrue(m, tagged)
            self.assertGreater(int(m.group(1)), hms)
            self.ok(c, "f", "UID STORE 5,6 +FLAGS.SILENT (\\Deleted)")
            untagged, tagged = self.ok(c, "g", "UID EXPUNGE 6:9")
            self.assertEqual(untagged, ["* VANISHED 6"])
            self.assertRegex(tagged, r"^g OK \[HIGHESTMODSEQ \d+\] ")
            untagged, _ = self.ok(c, "h", "MOVE 1:2 Trash")
            self.assertEqual(untagged[1:], ["* VANISHED 1:2"])
            self.assertTrue(untagged[0].startswith("* OK [COPYUID "), untagged)
            # without QRESYNC, the same as EXPUNGEs (highest first)
        with self.srv.imap_logged_in("sik") as c:
            self.ok(c, "s", "SELECT INBOX")
            self.ok(c, "f", "STORE 1,3 +FLAGS.SILENT (\\Deleted)")
            untagged, tagged = self.ok(c, "a", "EXPUNGE")
            self.assertEqual(untagged, ["* 3 EXPUNGE", "* 1 EXPUNGE"])
            self.assertEqual(tagged, "a OK EXPUNGE completed.")


if __name__ == "__main__":
    unittest.main()
