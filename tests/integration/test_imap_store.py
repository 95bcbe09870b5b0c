"""STORE and UID STORE (RFC 9051 §6.4.6, §6.4.9) with CONDSTORE's
UNCHANGEDSINCE (RFC 7162 §3.1.3): every form of the data item, the untagged
FETCH answers, changes of other sessions, flags kept across a restart, a
STORE on 10,000 messages in bounded memory, and bad input."""

import grp
import imaplib
import os
import pwd
import re
import time
import unittest

from harness import SANITIZED, GannetServer, ServerTestCase, password
from test_command_budget import reset_peak, status_kib

MESSAGE = b"From: a@example.org\r\nSubject: s\r\n\r\nbody\r\n"
USERS = ("amy", "bea", "cal", "dot", "eli", "fox", "gil", "hob", "ida", "jo", "kit")

FETCH_RE = re.compile(r"^\* (\d+) FETCH \((.*)\)$")
ITEM_RE = re.compile(r"(UID|MODSEQ|FLAGS) (\d+|\([^()]*\))(?: |$)")


def append(c, tag, flags=""):
    c.send(f"{tag} APPEND INBOX {flags}{{{len(MESSAGE)}+}}\r\n".encode() + MESSAGE + b"\r\n")
    tagged = c.read_until_tagged(tag)[1]
    assert tagged.startswith(f"{tag} OK [APPENDUID"), tagged


def fill(c, flag_lists):
    """One message per entry, with those flags (a string such as "(\\Seen)")."""
    for i, flags in enumerate(flag_lists):
        append(c, f"p{i}", flags + " " if flags else "")


def fetch_items(line):
    """"* 3 FETCH (UID 4 MODSEQ (9) FLAGS (\\Seen a))" -> (3, {"UID": "4",
    "MODSEQ": "9", "FLAGS": {"\\Seen", "a"}}); FLAGS as a set, since RFC 9051
    fixes no order."""
    m = FETCH_RE.match(line)
    assert m, line
    items, rest, pos = {}, m.group(2), 0
    while pos < len(rest):
        item = ITEM_RE.match(rest, pos)
        assert item and item.group(1) not in items, line
        name, value = item.group(1), item.group(2)
        items[name] = set(value[1:-1].split()) if name == "FLAGS" else value.strip("()")
        pos = item.end()
    return int(m.group(1)), items


def run(c, tag, line, timeout=None):
    c.cmd(f"{tag} {line}")
    return c.read_until_tagged(tag, timeout)


def chown_to_mail_user(srv, path):
    """Files a test puts in a Maildir belong to the mail user, as gannet's do."""
    if os.geteuid() != 0:
        return
    uid, gid = pwd.getpwnam(srv.mail_user).pw_uid, grp.getgrnam(srv.mail_group).gr_gid
    for root, _, files in os.walk(path):
        os.chown(root, uid, gid)
        for f in files:
            os.chown(os.path.join(root, f), uid, gid)


class StoreTest(ServerTestCase):
    SERVER_SETTINGS = {"workers": "1"}
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{u}-pw-1::::::" for u in USERS]}

    def selected(self, user, flag_lists):
        c = self.srv.imap_logged_in(user)
        fill(c, flag_lists)
        untagged, tagged = run(c, "s", "SELECT INBOX")
        self.assertEqual(tagged, "s OK [READ-WRITE] SELECT completed.")
        return c

    def test_rfc9051_example(self):
        # §6.4.6: messages 2, 3 and 4 had \Seen, nothing, \Flagged \Seen
        with self.selected("amy", ["", "(\\Seen)", "", "(\\Flagged \\Seen)"]) as c:
            untagged, tagged = run(c, "A003", "STORE 2:4 +FLAGS (\\Deleted)")
            self.assertEqual(tagged, "A003 OK STORE completed.")
            self.assertEqual([fetch_items(l) for l in untagged], [
                (2, {"FLAGS": {"\\Deleted", "\\Seen"}}),
                (3, {"FLAGS": {"\\Deleted"}}),
                (4, {"FLAGS": {"\\Deleted", "\\Flagged", "\\Seen"}})])

    def test_imaplib_every_form(self):
        c = self.srv.imap_logged_in("bea")
        fill(c, ["", "", "", ""])
        c.close()
        m = imaplib.IMAP4_SSL("127.0.0.1", self.srv.ports["imaps"], ssl_context=self.srv.ctx())
        m.login("bea", password("bea"))
        self.assertEqual(m.select("INBOX")[0], "OK")
        typ, data = m.store("1:2", "+FLAGS", r"(\Seen \Flagged)")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"1 (FLAGS (\\Flagged \\Seen))", b"2 (FLAGS (\\Flagged \\Seen))"])
        typ, data = m.store("2", "-FLAGS", r"(\Flagged)")
        self.assertEqual(data, [b"2 (FLAGS (\\Seen))"])
        typ, data = m.store("3", "FLAGS", r"(\Answered $Forwarded Work)")
        self.assertEqual(data, [b"3 (FLAGS (\\Answered $Forwarded Work))"])
        # keywords are matched without regard to case
        typ, data = m.store("3", "-FLAGS", "(work)")
        self.assertEqual(data, [b"3 (FLAGS (\\Answered $Forwarded))"])
        # flags without parentheses (RFC 9051 §9 store-att-flags)
        typ, data = m.store("4", "+FLAGS", r"\Draft $Junk")
        self.assertEqual(data, [b"4 (FLAGS (\\Draft $Junk))"])
        # FLAGS () clears everything
        typ, data = m.store("4", "FLAGS", "()")
        self.assertEqual(data, [b"4 (FLAGS ())"])
        for item in ("FLAGS.SILENT", "+FLAGS.SILENT", "-FLAGS.SILENT"):
            typ, data = m.store("1", item, r"(\Deleted)")
            self.assertEqual((typ, data), ("OK", [None]), item)
        # UID STORE answers carry the UID
        typ, data = m.uid("STORE", "1:*", "+FLAGS", r"(\Seen)")
        self.assertEqual(typ, "OK")
        self.assertEqual(data, [b"1 (UID 1 FLAGS (\\Seen))", b"2 (UID 2 FLAGS (\\Seen))",
                                b"3 (UID 3 FLAGS (\\Answered \\Seen $Forwarded))",
                                b"4 (UID 4 FLAGS (\\Seen))"])
        typ, data = m.uid("STORE", "2,4", "-FLAGS.SILENT", r"(\Seen)")
        self.assertEqual((typ, data), ("OK", [None]))
        # a UID that is not there is no error (RFC 9051 §6.4.9)
        typ, data = m.uid("STORE", "99", "+FLAGS", r"(\Seen)")
        self.assertEqual((typ, data), ("OK", [None]))
        typ, data = m.store("1:*", "+FLAGS", "()")
        self.assertEqual(data, [b"1 (FLAGS (\\Seen))", b"2 (FLAGS ())",
                                b"3 (FLAGS (\\Answered \\Seen $Forwarded))", b"4 (FLAGS ())"])
        m.logout()

    def test_rfc7162_examples(self):
        with self.selected("cal", [""] * 9) as c, self.srv.imap_logged_in("cal") as other:
            modseq = int(re.search(r"HIGHESTMODSEQ (\d+)",
                                   " ".join(run(c, "n", "SELECT INBOX")[0])).group(1))
            # example 3: every message passes; MODSEQ even with .SILENT
            untagged, tagged = run(c, "a103",
                                   f"UID STORE 6,4,8 (UNCHANGEDSINCE {modseq}) +FLAGS.SILENT (\\Deleted)")
            self.assertEqual(tagged, "a103 OK UID STORE completed.")
            # the first CONDSTORE enabling command with a mailbox selected
            # returns its HIGHESTMODSEQ (RFC 7162 §3.1), after the FETCHes
            self.assertRegex(untagged.pop(), r"^\* OK \[HIGHESTMODSEQ \d+\] ")
            got = [fetch_items(l) for l in untagged]
            self.assertEqual([(n, i["UID"]) for n, i in got], [(4, "4"), (6, "6"), (8, "8")])
            self.assertTrue(all(int(i["MODSEQ"]) > modseq and "FLAGS" not in i for _, i in got))
            # example 4: STORE *
            untagged, tagged = run(c, "a104", f"STORE * (UNCHANGEDSINCE {modseq}) +FLAGS.SILENT "
                                              "(\\Deleted $Processed)")
            self.assertEqual(tagged, "a104 OK STORE completed.")
            self.assertEqual(len(untagged), 1)
            n, items = fetch_items(untagged[0])
            self.assertEqual((n, list(items)), (9, ["MODSEQ"]))
            # example 6/10: 7 and 9 changed by another session since
            now = int(re.search(r"HIGHESTMODSEQ (\d+)",
                                " ".join(run(other, "o", "SELECT INBOX")[0])).group(1))
            run(other, "o2", "STORE 7 +FLAGS (\\Seen)")
            run(other, "o3", "STORE 9 +FLAGS (\\Answered)")
            untagged, tagged = run(c, "d105", f"STORE 7,5,9 (UNCHANGEDSINCE {now}) "
                                              "+FLAGS.SILENT (\\Deleted)")
            self.assertEqual(tagged, "d105 OK [MODIFIED 7,9] Conditional STORE failed.")
            got = dict(fetch_items(l) for l in untagged)
            self.assertEqual(sorted(got), [5, 7, 9])
            self.assertEqual(set(got[5]), {"MODSEQ"})
            self.assertEqual(got[7]["FLAGS"], {"\\Seen"})
            self.assertEqual(got[9]["FLAGS"], {"\\Answered", "\\Deleted", "$Processed"})
            self.assertTrue(int(got[5]["MODSEQ"]) > int(got[9]["MODSEQ"]) > now)
            # example 8: UNCHANGEDSINCE 0 always fails, nothing is stored
            untagged, tagged = run(c, "a102", "STORE 2 (UNCHANGEDSINCE 0) +FLAGS.SILENT ($MDNSent)")
            self.assertEqual(tagged, "a102 OK [MODIFIED 2] Conditional STORE failed.")
            self.assertEqual(fetch_items(untagged[0])[1]["FLAGS"], set())
            # UID STORE names the failed messages by UID
            untagged, tagged = run(c, "u", "UID STORE 2:3 (UNCHANGEDSINCE 0) +FLAGS.SILENT (x)")
            self.assertEqual(tagged, "u OK [MODIFIED 2:3] Conditional UID STORE failed.")
            # once UNCHANGEDSINCE was used, FETCH answers carry MODSEQ (§3.1)
            untagged, tagged = run(c, "b", "STORE 1 +FLAGS (\\Seen)")
            n, items = fetch_items(untagged[0])
            self.assertEqual((n, items["FLAGS"]), (1, {"\\Seen"}))
            self.assertIn("MODSEQ", items)

    def test_silent_store_reports_other_sessions_changes(self):
        with self.selected("dot", ["", "", ""]) as a, self.srv.imap_logged_in("dot") as b:
            run(b, "s", "SELECT INBOX")
            run(b, "b1", "STORE 2 +FLAGS.SILENT (\\Flagged)")
            untagged, tagged = run(a, "a1", "STORE 1 +FLAGS.SILENT (\\Seen)")
            self.assertEqual(tagged, "a1 OK STORE completed.")
            self.assertEqual([fetch_items(l) for l in untagged], [(2, {"FLAGS": {"\\Flagged"}})])
            # nothing again at the next NOOP: neither b's change nor a's own
            self.assertEqual(run(a, "a2", "NOOP"), ([], "a2 OK NOOP completed."))
            # and b, which has not seen a's change, sees it at its NOOP
            untagged, _ = run(b, "b2", "NOOP")
            self.assertEqual(untagged, ["* 1 FETCH (UID 1 FLAGS (\\Seen))"])

    def test_two_sessions_see_flag_changes_at_noop(self):
        with self.selected("eli", ["", "", ""]) as a, self.srv.imap_logged_in("eli") as b:
            run(b, "s", "SELECT INBOX")
            run(a, "a1", "STORE 1,3 +FLAGS (\\Deleted \\Answered)")
            untagged, tagged = run(b, "b1", "NOOP")
            self.assertEqual(tagged, "b1 OK NOOP completed.")
            self.assertEqual(untagged, ["* 1 FETCH (UID 1 FLAGS (\\Answered \\Deleted))",
                                        "* 3 FETCH (UID 3 FLAGS (\\Answered \\Deleted))"])
            run(b, "b2", "UID STORE 3 FLAGS.SILENT ($Later)")
            self.assertEqual(run(a, "a2", "NOOP")[0], ["* 3 FETCH (UID 3 FLAGS ($Later))"])
            # each heard once
            self.assertEqual(run(a, "a3", "NOOP")[0], [])
            self.assertEqual(run(b, "b3", "NOOP")[0], [])

    def test_bad_input_and_read_only(self):
        with self.selected("fox", ["", ""]) as c:
            for line, answer in (
                    ("STORE 1 +FLAGS (\\Recent)", "BAD"),
                    ("STORE 1 +FLAGS \\Recent", "BAD"),
                    ("STORE 1 FLAGS (\\Unknown)", "BAD"),
                    ("STORE 1 FLAGS (\\*)", "BAD"),
                    ("STORE 1 +FLAGS (a[b])", "BAD"),
                    ("STORE 1 +FLAGS (\\Seen) \\Draft", "BAD"),
                    ("STORE 1 +FLAGS ((\\Seen))", "BAD"),
                    ("STORE 1 +FLAGS", "BAD"),
                    ("STORE 1 FLAGS.LOUD (\\Seen)", "BAD"),
                    ("STORE 1 *FLAGS (\\Seen)", "BAD"),
                    ("STORE 1 BODY (\\Seen)", "BAD"),
                    ("STORE 0 +FLAGS (\\Seen)", "BAD"),
                    ("STORE 3 +FLAGS (\\Seen)", "BAD"),
                    ("STORE 1:3 +FLAGS (\\Seen)", "BAD"),
                    ("STORE 1: +FLAGS (\\Seen)", "BAD"),
                    ("STORE a +FLAGS (\\Seen)", "BAD"),
                    ("STORE 1,,2 +FLAGS (\\Seen)", "BAD"),
                    ("STORE \"1\" +FLAGS (\\Seen)", "BAD"),
                    ("STORE 4294967296 +FLAGS (\\Seen)", "BAD"),
                    # "$" after SELECT: the empty result, valid and naming
                    # nothing (RFC 9051 §6.4.4.1)
                    ("STORE $ +FLAGS (\\Seen)", "OK"),
                    ("UID STORE $ +FLAGS (\\Seen)", "OK"),
                    ("STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)", "BAD"),
                    ("STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)", "BAD"),
                    ("STORE 1 (UNCHANGEDSINCE -1) +FLAGS (\\Seen)", "BAD"),
                    ("STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) +FLAGS (\\Seen)", "BAD"),
                    ("STORE 1 (FOO 1) +FLAGS (\\Seen)", "BAD"),
                    ("STORE 1 () +FLAGS (\\Seen)", "BAD"),
                    ("STORE 1 +FLAGS (" + "k" * 200 + ")", "NO"),
                    ("UID STORE 1:* +FLAGS", "BAD"),
                    ("STORE", "BAD")):
                with self.subTest(line=line):
                    untagged, tagged = run(c, "t", line)
                    self.assertRegex(tagged, rf"^t {answer} ")
                    self.assertEqual(untagged, [])
            # nothing was changed by any of them
            self.assertEqual(run(c, "z", "STORE 1:* +FLAGS ()")[0],
                             ["* 1 FETCH (FLAGS ())", "* 2 FETCH (FLAGS ())"])
            run(c, "e", "EXAMINE INBOX")
            untagged, tagged = run(c, "r", "STORE 1 +FLAGS (\\Seen)")
            self.assertEqual(tagged, "r NO Mailbox is read-only.")
            untagged, tagged = run(c, "r2", "UID STORE 1:* FLAGS.SILENT ()")
            self.assertEqual(tagged, "r2 NO Mailbox is read-only.")
            run(c, "u", "UNSELECT")
            # not in the authenticated state
            self.assertRegex(run(c, "v", "STORE 1 +FLAGS (\\Seen)")[1], r"^v BAD ")
            self.assertEqual(run(c, "w", "NOOP")[1], "w OK NOOP completed.")

    def test_star_of_an_empty_mailbox(self):
        with self.selected("gil", []) as c:
            self.assertEqual(run(c, "a", "STORE 1:* +FLAGS (\\Seen)"), ([], "a OK STORE completed."))
            self.assertEqual(run(c, "b", "UID STORE * +FLAGS (\\Seen)"),
                             ([], "b OK UID STORE completed."))
            self.assertRegex(run(c, "c", "STORE 1 +FLAGS (\\Seen)")[1], r"^c BAD ")

    def test_store_on_10000_messages_in_bounded_memory(self):
        n = 10000
        maildir = os.path.join(self.srv.home, "hob", "Maildir")
        for d in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(maildir, d))
        for i in range(n):
            with open(os.path.join(maildir, "cur", f"{1700000000 + i}.M{i}P1.test:2,"), "wb") as f:
                f.write(b"From: a@example.org\r\nSubject: m%d\r\n\r\nbody\r\n" % i)
        chown_to_mail_user(self.srv, os.path.join(self.srv.home, "hob"))
        worker = self.srv.workers()[0]
        # 20 keywords of 100 characters: each FETCH answer is 2 KB, 20 MB in all
        keywords = " ".join(f"k{j:02d}" + "x" * 97 for j in range(20))
        with self.srv.imap_logged_in("hob") as c:
            untagged, tagged = run(c, "s", "SELECT INBOX", timeout=120)
            self.assertIn(f"* {n} EXISTS", untagged)
            # a first pass over every message: the index's pages and the
            # threads' memory are then what they stay
            self.assertEqual(run(c, "w", "STORE 1:* +FLAGS.SILENT (\\Draft)", timeout=120)[1],
                             "w OK STORE completed.")
            time.sleep(0.2)
            before = status_kib(worker, "VmRSS")
            reset_peak(worker)
            c.cmd(f"a STORE 1:* +FLAGS ({keywords})")
            time.sleep(2)  # not reading: the server must wait, not buffer
            untagged, tagged = c.read_until_tagged("a", timeout=120)
            grown = status_kib(worker, "VmHWM") - before
        self.assertEqual(tagged, "a OK STORE completed.")
        self.assertEqual(len(untagged), n)
        expected = {"\\Draft"} | set(keywords.split())
        for i in (0, n // 2, n - 1):
            self.assertEqual(fetch_items(untagged[i]), (i + 1, {"FLAGS": expected}))
        if not SANITIZED:
            self.assertLess(grown, 8192, f"the worker grew by {grown} KiB")


class StoreRestartTest(unittest.TestCase):
    def test_flags_survive_a_restart_and_a_lost_index(self):
        with GannetServer(users=[], extra_users=["ivy:{PLAIN}ivy-pw-1::::::"]) as srv:
            with srv.imap_logged_in("ivy") as c:
                fill(c, ["", "", ""])
                run(c, "s", "SELECT INBOX")
                run(c, "a", "STORE 1 FLAGS (\\Seen \\Flagged $Label1)")
                run(c, "b", "STORE 2 +FLAGS.SILENT (\\Answered \\Deleted \\Draft)")
                run(c, "l", "LOGOUT")
            want = ["* 1 FETCH (FLAGS (\\Flagged \\Seen $Label1))",
                    "* 2 FETCH (FLAGS (\\Answered \\Deleted \\Draft))",
                    "* 3 FETCH (FLAGS ())"]
            maildir = os.path.join(srv.home, "ivy", "Maildir")
            # the Maildir letters: \Seen S, \Flagged F, the first keyword a;
            # \Answered R, \Deleted T, \Draft D
            names = os.listdir(os.path.join(maildir, "cur"))
            by_uid = {re.search(r",U=(\d+):", n).group(1): n for n in names}
            self.assertTrue(by_uid["1"].endswith(":2,FSa"), names)
            self.assertTrue(by_uid["2"].endswith(":2,DRT"), names)
            for lose_index in (False, True):
                srv.stop()
                if lose_index:
                    for name in os.listdir(maildir):
                        if name.startswith("gannet.index.sqlite"):
                            os.remove(os.path.join(maildir, name))
                srv.start()
                with srv.imap_logged_in("ivy") as c:
                    run(c, "s", "SELECT INBOX")
                    self.assertEqual(run(c, "f", "STORE 1:* +FLAGS ()")[0], want, lose_index)


if __name__ == "__main__":
    unittest.main()
