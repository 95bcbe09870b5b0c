"""The mail admin commands (Dovecot's doveadm, for gannet): mailbox
list/create/delete/rename/status, fetch, import, index rebuild and deliver,
run as the real binary against a temporary config and mail directory.

Run as root (as CI does), every command must drop to mail_uid (nobody) before
touching mail: every file under the mail directory is checked to belong to it.
"""

import calendar
import os
import pty
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import GANNET, HOST, REPO, GannetServer

DATA = os.path.join(REPO, "tests", "data")

SIMPLE = (b"From: Alice Example <alice@example.org>\r\n"
          b"To: bob@example.org\r\n"
          b"Subject: Hello\r\n"
          b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
          b"Message-ID: <1@example.org>\r\n"
          b"\r\n"
          b"Hi Bob.\r\n")
SIMPLE_ENVELOPE = ('("Thu, 26 Nov 2026 10:00:00 +0000" "Hello" '
                   '(("Alice Example" NIL "alice" "example.org")) '
                   '(("Alice Example" NIL "alice" "example.org")) '
                   '(("Alice Example" NIL "alice" "example.org")) '
                   '((NIL NIL "bob" "example.org")) NIL NIL NIL "<1@example.org>")')
SIMPLE_BODYSTRUCTURE = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 9 1 NIL NIL NIL NIL)'


def message(n, subject=None):
    subject = subject or f"message {n}"
    return (f"From: sender{n}@example.org\r\nTo: alice@example.org\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{n}@example.org>\r\n\r\n"
            f"Body of message {n}.\r\n").encode()


def _admin_commands_built():
    """The commands are registered once the store links (src/cli/pending/README.md)."""
    if not os.access(GANNET, os.X_OK):
        return False
    r = subprocess.run([GANNET, "mailbox", "--help"], capture_output=True, timeout=30)
    return r.returncode == 0


@unittest.skipUnless(_admin_commands_built(), "gannet has no mailbox command yet")
class AdminTestCase(unittest.TestCase):
    """A config and mail directory of its own for every test (no server runs)."""

    def setUp(self):
        self.srv = GannetServer(start=False)
        self.addCleanup(self.srv.cleanup)
        self.home = self.srv.home
        self.mail_uid = pwd.getpwnam(self.srv.mail_user).pw_uid

    def run_g(self, *args, input=b"", check=None, **kw):
        r = subprocess.run([GANNET, *args, "-c", self.srv.conf], input=input,
                           capture_output=True, timeout=120, **kw)
        if check is not None:
            self.assertEqual(r.returncode, check,
                             f"gannet {' '.join(args)}: {r.returncode}\n"
                             f"{r.stdout.decode(errors='replace')[-2000:]}\n"
                             f"{r.stderr.decode(errors='replace')}")
        return r

    def out(self, *args, **kw):
        return self.run_g(*args, check=0, **kw).stdout.decode()

    def deliver(self, data, user="alice", *extra):
        self.run_g("deliver", "-u", user, *extra, input=data, check=0)

    def maildir(self, user="alice"):
        return os.path.join(self.home, user, "Maildir")

    def status(self, mailbox="INBOX", user="alice", fields="all"):
        line = self.out("mailbox", "status", "-u", user, "-f", fields, mailbox).strip()
        return {k: int(v) for k, v in (kv.split("=") for kv in line.split())}

    def fetch(self, seqset, items, mailbox="INBOX", user="alice"):
        return self.out("fetch", "-u", user, mailbox, seqset, items).splitlines()

    def assertOneErrorLine(self, r):
        err = r.stderr.decode()
        self.assertTrue(err.strip(), "no error message")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertEqual(r.stdout, b"")

    def assertOwnedByMailUser(self, top=None):
        top = top or self.home
        for d, dirs, files in os.walk(top):
            for name in dirs + files:
                p = os.path.join(d, name)
                self.assertEqual(os.lstat(p).st_uid, self.mail_uid,
                                 f"{p} is owned by uid {os.lstat(p).st_uid}")

    def write_tree(self, root, files):
        """files: relative path -> bytes; directories are made 0755."""
        for rel, data in files.items():
            p = os.path.join(root, rel)
            os.makedirs(os.path.dirname(p), mode=0o755, exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
        for d, _, _ in os.walk(root):
            os.chmod(d, 0o755)


class TestDeliverStatusList(AdminTestCase):
    def test_deliver_then_status_and_list(self):
        msgs = [message(i) for i in range(1, 4)]
        for m in msgs:
            self.deliver(m)
        st = self.status()
        self.assertEqual(st["messages"], 3)
        self.assertEqual(st["unseen"], 3)
        self.assertEqual(st["deleted"], 0)
        self.assertEqual(st["uidnext"], 4)
        self.assertEqual(st["size"], sum(len(m) for m in msgs))
        self.assertGreater(st["uidvalidity"], 0)
        self.assertGreater(st["highestmodseq"], 0)
        # the default fields, in doveadm's style and order
        line = self.out("mailbox", "status", "-u", "alice", "INBOX").strip()
        self.assertRegex(line, r"^messages=3 unseen=3 uidnext=4 uidvalidity=\d+ size=\d+ "
                               r"highestmodseq=\d+$")
        self.assertEqual(self.out("mailbox", "status", "-u", "alice", "-f", "messages uidnext",
                                  "INBOX"), "messages=3 uidnext=4\n")
        names = self.out("mailbox", "list", "-u", "alice").splitlines()
        self.assertEqual(names[0], "INBOX")
        self.assertEqual(len(names), len(set(names)))
        self.assertOwnedByMailUser()

    def test_message_stored_byte_for_byte(self):
        # bare LF line ends and 8-bit bytes stay as they came
        data = (b"From: MimeKit Unit Tests <mimekit@mimekit.net>\nSubject: caf\xc3\xa9\n"
                b"MIME-Version: 1.0\nContent-Type: text/plain\n\nThis is the text body.\n\x00\xff\n")
        self.deliver(data)
        got = self.run_g("fetch", "-u", "alice", "INBOX", "1", "body", check=0).stdout
        self.assertEqual(got, f"* 1 FETCH (BODY[] {{{len(data)}}}\n".encode() + data + b")\n")
        files = [f for sub in ("cur", "new") for f in os.listdir(os.path.join(self.maildir(), sub))]
        self.assertEqual(len(files), 1)

    def test_deliver_to_mailbox_and_fallback_to_inbox(self):
        self.out("mailbox", "create", "-u", "alice", "Work")
        self.deliver(message(1), "alice", "-m", "Work")
        self.deliver(message(2), "alice", "-m", "Does/Not/Exist")
        self.assertEqual(self.status("Work")["messages"], 1)
        self.assertEqual(self.status("INBOX")["messages"], 1)
        self.assertNotIn("Does/Not/Exist", self.out("mailbox", "list", "-u", "alice").splitlines())

    def test_deliver_drops_an_mbox_from_line(self):
        self.deliver(b"From alice@example.org Thu Nov 26 10:00:00 2026\n" + SIMPLE)
        got = self.run_g("fetch", "-u", "alice", "INBOX", "1", "body", check=0).stdout
        self.assertEqual(got, f"* 1 FETCH (BODY[] {{{len(SIMPLE)}}}\n".encode() + SIMPLE + b")\n")


class TestDeliverExitCodes(AdminTestCase):
    def test_unknown_user_is_67(self):
        r = self.run_g("deliver", "-u", "nosuchuser", input=message(1))
        self.assertEqual(r.returncode, 67)
        self.assertOneErrorLine(r)
        self.assertIn("nosuchuser", r.stderr.decode())

    def test_usage_errors_are_64(self):
        self.assertEqual(self.run_g("deliver", input=message(1)).returncode, 64)
        self.assertEqual(self.run_g("deliver", "-u", "alice", "extra", input=message(1)).returncode,
                         64)
        self.assertEqual(self.run_g("deliver", "-u", "alice", "-x", input=message(1)).returncode, 64)

    def test_store_that_cannot_be_opened_is_75(self):
        # the Maildir's place is taken by a file: a temporary failure for the MTA
        os.makedirs(os.path.join(self.home, "bob"))
        with open(self.maildir("bob"), "w") as f:
            f.write("not a directory\n")
        r = self.run_g("deliver", "-u", "bob", input=message(1))
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertOneErrorLine(r)

    def test_broken_config_is_75(self):
        r = subprocess.run([GANNET, "deliver", "-u", "alice", "-c", self.srv.path("missing.conf")],
                           input=message(1), capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 75)
        self.assertOneErrorLine(r)

    def test_empty_message_is_refused(self):
        r = self.run_g("deliver", "-u", "alice", input=b"")
        self.assertEqual(r.returncode, 65)
        self.assertOneErrorLine(r)

    def test_stored_is_0(self):
        r = self.run_g("deliver", "-u", "alice", input=message(1))
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, b"", b""))


class TestFetch(AdminTestCase):
    def test_simple_message_lines(self):
        self.deliver(SIMPLE)
        self.assertEqual(self.fetch("1", "uid flags size"),
                         [f"* 1 FETCH (UID 1 FLAGS () RFC822.SIZE {len(SIMPLE)})"])
        self.assertEqual(self.fetch("1:*", "envelope"), [f"* 1 FETCH (ENVELOPE {SIMPLE_ENVELOPE})"])
        self.assertEqual(self.fetch("1", "bodystructure"),
                         [f"* 1 FETCH (BODYSTRUCTURE {SIMPLE_BODYSTRUCTURE})"])
        line = self.fetch("1", "uid internaldate")[0]
        self.assertRegex(line, r'^\* 1 FETCH \(UID 1 INTERNALDATE "\d\d-[A-Z][a-z]{2}-\d{4} '
                               r'\d\d:\d\d:\d\d \+0000"\)$')
        # several arguments, IMAP's names and parentheses are accepted too
        self.assertEqual(self.out("fetch", "-u", "alice", "INBOX", "1", "(UID", "RFC822.SIZE)"),
                         f"* 1 FETCH (UID 1 RFC822.SIZE {len(SIMPLE)})\n")
        body = self.run_g("fetch", "-u", "alice", "INBOX", "1", "body", check=0).stdout
        self.assertEqual(body, f"* 1 FETCH (BODY[] {{{len(SIMPLE)}}}\n".encode() + SIMPLE + b")\n")

    def test_sequence_sets(self):
        for i in range(1, 7):
            self.deliver(message(i))
        self.assertEqual(self.fetch("2,4:6", "uid"),
                         [f"* {n} FETCH (UID {n})" for n in (2, 4, 5, 6)])
        self.assertEqual(self.fetch("*", "uid"), ["* 6 FETCH (UID 6)"])
        self.assertEqual(self.fetch("5:3", "uid"), [f"* {n} FETCH (UID {n})" for n in (3, 4, 5)])
        self.assertEqual(len(self.fetch("1:*", "uid flags")), 6)
        for bad in ("7", "0", "1:x", "", "2,,3"):
            r = self.run_g("fetch", "-u", "alice", "INBOX", bad, "uid")
            self.assertNotEqual(r.returncode, 0, bad)
            self.assertOneErrorLine(r)

    def test_empty_mailbox_and_errors(self):
        self.out("mailbox", "create", "-u", "alice", "Empty")
        self.assertEqual(self.fetch("1:*", "uid", mailbox="Empty"), [])
        r = self.run_g("fetch", "-u", "alice", "NoSuchBox", "1:*", "uid")
        self.assertNotEqual(r.returncode, 0)
        self.assertOneErrorLine(r)
        r = self.run_g("fetch", "-u", "alice", "INBOX", "1:*", "bogus")
        self.assertEqual(r.returncode, 64)
        r = self.run_g("fetch", "-u", "alice", "INBOX", "1:*")
        self.assertEqual(r.returncode, 64)


class TestMailboxes(AdminTestCase):
    def names(self, user="alice"):
        return self.out("mailbox", "list", "-u", user).splitlines()

    def test_create_rename_delete(self):
        self.out("mailbox", "create", "-u", "alice", "Work", "Work/2026", "Privé")
        names = self.names()
        for n in ("Work", "Work/2026", "Privé"):
            self.assertIn(n, names)
        self.assertEqual(self.names()[0], "INBOX")
        self.deliver(message(1), "alice", "-m", "Work/2026")
        uidvalidity = self.status("Work/2026")["uidvalidity"]

        self.out("mailbox", "rename", "-u", "alice", "Work", "Jobs")
        names = self.names()
        self.assertIn("Jobs", names)
        self.assertIn("Jobs/2026", names)
        self.assertNotIn("Work", names)
        self.assertNotIn("Work/2026", names)
        st = self.status("Jobs/2026")
        self.assertEqual((st["messages"], st["uidvalidity"]), (1, uidvalidity))

        # exists already; INBOX can't go; a mailbox with children is refused
        for args in (("create", "Jobs"), ("delete", "INBOX"), ("delete", "NoSuch"),
                     ("rename", "NoSuch", "Other"), ("create", "../escape")):
            r = self.run_g("mailbox", args[0], "-u", "alice", *args[1:])
            self.assertNotEqual(r.returncode, 0, args)
            self.assertTrue(r.stderr.strip(), args)
        self.out("mailbox", "delete", "-u", "alice", "Jobs/2026", "Privé")
        self.out("mailbox", "delete", "-u", "alice", "Jobs")
        names = self.names()
        for n in ("Jobs", "Jobs/2026", "Privé"):
            self.assertNotIn(n, names)
        self.assertFalse(os.path.exists(os.path.join(self.maildir(), ".Jobs")))
        self.assertFalse(os.path.exists(os.path.join(self.home, "escape")))
        self.assertOwnedByMailUser()

    def test_usage_and_unknown_user(self):
        self.assertEqual(self.run_g("mailbox").returncode, 64)
        self.assertEqual(self.run_g("mailbox", "frobnicate", "-u", "alice").returncode, 64)
        self.assertEqual(self.run_g("mailbox", "list").returncode, 64)
        self.assertEqual(self.run_g("mailbox", "rename", "-u", "alice", "A").returncode, 64)
        self.assertEqual(self.run_g("mailbox", "status", "-u", "alice", "-f", "bogus",
                                    "INBOX").returncode, 64)
        r = self.run_g("mailbox", "list", "-u", "nosuchuser")
        self.assertEqual(r.returncode, 67)
        self.assertOneErrorLine(r)
        self.assertFalse(os.path.exists(os.path.join(self.home, "nosuchuser")))


class TestImport(AdminTestCase):
    def src(self):
        d = tempfile.mkdtemp(prefix="import-", dir=self.srv.dir)
        os.chmod(d, 0o755)
        return d

    def test_maildir_with_folders(self):
        src = self.src()
        self.write_tree(src, {
            "cur/1700000001.M1P1.old:2,S": message(1),
            "cur/1700000002.M2P1.old:2,": message(2),
            "new/1700000003.M3P1.old": message(3),
            "tmp/1700000004.M4P1.old": message(4),  # unfinished: not a message
            ".Sent/cur/1700000005.M5P1.old:2,S": message(5),
            ".Sent/maildirfolder": b"",
            ".Work.2026/cur/1700000006.M6P1.old:2,FS": message(6),
            ".Work.2026/maildirfolder": b"",
        })
        r = self.run_g("import", "-u", "alice", src, check=0)
        self.assertEqual(r.stdout.decode(), f"imported 5 messages from {src}\n")
        self.assertEqual(r.stderr, b"")  # no progress when stderr is not a terminal
        names = self.out("mailbox", "list", "-u", "alice").splitlines()
        self.assertIn("Sent", names)
        self.assertIn("Work/2026", names)
        st = self.status()
        self.assertEqual((st["messages"], st["unseen"]), (3, 2))
        self.assertEqual(self.status("Work/2026")["messages"], 1)
        self.assertEqual(self.fetch("1", "flags", mailbox="Work/2026"),
                         ["* 1 FETCH (FLAGS (\\Flagged \\Seen))"])
        bodies = b"".join(self.run_g("fetch", "-u", "alice", "INBOX", "1:*", "body",
                                     check=0).stdout.split(b"\n"))
        for i in (1, 2, 3):
            self.assertIn(b"".join(message(i).split(b"\n")), bodies)
        self.assertOwnedByMailUser()

    def test_dovecot_maildir_keeps_uids_and_keywords(self):
        src = self.src()
        a, b = "1700000000.M1P1.dove,S=100", "1700000001.M2P1.dove"
        self.write_tree(src, {
            f"cur/{a}:2,Sa": message(1),
            f"cur/{b}:2,b": message(2),
            "dovecot-uidlist": f"3 V1234567890 N20 G1234\n5 :{a}\n9 :{b}\n".encode(),
            "dovecot-keywords": b"0 $Label1\n1 Important\n",
        })
        self.out("import", "-u", "carol", src)
        st = self.status(user="carol")
        self.assertEqual(st["uidvalidity"], 1234567890)
        self.assertEqual(st["messages"], 2)
        self.assertGreaterEqual(st["uidnext"], 10)
        self.assertEqual(self.fetch("1:*", "uid flags", user="carol"),
                         ["* 1 FETCH (UID 5 FLAGS (\\Seen $Label1))",
                          "* 2 FETCH (UID 9 FLAGS (Important))"])
        # the next delivery never reuses an imported UID
        self.deliver(message(3), "carol")
        self.assertGreaterEqual(int(self.fetch("3", "uid", user="carol")[0].split()[4][:-1]), 10)

    def test_mbox_with_from_quoting(self):
        src = os.path.join(self.src(), "old.mbox")
        with open(src, "wb") as f:
            f.write(b"From alice@example.org Thu Nov 26 10:00:00 2026\n"
                    b"Subject: first\nStatus: RO\n\n>From the start\n>>From quoted\n\n"
                    b"From bob@example.org Fri Nov 27 11:30:00 2026\n"
                    b"Subject: second\n\nFrom Russia with love\n\n"
                    b"From carol@example.org Sat Nov 28 12:00:00 2026\n"
                    b"Subject: third\nX-Status: F\n\nbye\n")
        os.chmod(src, 0o644)
        r = self.run_g("import", "-u", "alice", src, "-m", "Archive/2026", check=0)
        self.assertEqual(r.stdout.decode(), f"imported 3 messages from {src}\n")
        first = b"Subject: first\nStatus: RO\n\nFrom the start\n>From quoted\n"
        second = b"Subject: second\n\nFrom Russia with love\n"
        out = self.run_g("fetch", "-u", "alice", "Archive/2026", "1:2", "body", check=0).stdout
        self.assertEqual(out, f"* 1 FETCH (BODY[] {{{len(first)}}}\n".encode() + first + b")\n" +
                         f"* 2 FETCH (BODY[] {{{len(second)}}}\n".encode() + second + b")\n")
        self.assertEqual(self.fetch("1:*", "flags internaldate", mailbox="Archive/2026"), [
            '* 1 FETCH (FLAGS (\\Seen) INTERNALDATE "26-Nov-2026 10:00:00 +0000")',
            '* 2 FETCH (FLAGS () INTERNALDATE "27-Nov-2026 11:30:00 +0000")',
            '* 3 FETCH (FLAGS (\\Flagged) INTERNALDATE "28-Nov-2026 12:00:00 +0000")'])
        # MimeKit's mbox files, into INBOX by default
        mbox = os.path.join(DATA, "mbox", "mbox_simple.mbox.txt")
        copy = os.path.join(self.src(), "simple.mbox")
        shutil.copy(mbox, copy)
        os.chmod(copy, 0o644)
        self.out("import", "-u", "alice", copy)
        self.assertEqual(self.status()["messages"], 3)
        self.assertOwnedByMailUser()

    def test_bad_sources(self):
        r = self.run_g("import", "-u", "alice", self.srv.path("nothing-here"))
        self.assertNotEqual(r.returncode, 0)
        self.assertOneErrorLine(r)
        notmbox = os.path.join(self.src(), "notmbox")
        with open(notmbox, "w") as f:
            f.write("Subject: hi\n\nthis is not an mbox\n")
        os.chmod(notmbox, 0o644)
        r = self.run_g("import", "-u", "alice", notmbox)
        self.assertNotEqual(r.returncode, 0)
        self.assertOneErrorLine(r)
        self.assertEqual(self.run_g("import", "-u", "alice").returncode, 64)
        self.assertEqual(self.run_g("import", "-u", "alice", self.src(), "-m", "X").returncode, 64)

    def test_progress_on_a_terminal(self):
        src = os.path.join(self.src(), "many.mbox")
        with open(src, "wb") as f:
            for i in range(200):
                f.write(b"From x@example.org Thu Nov 26 10:00:00 2026\n" + message(i) + b"\n")
        os.chmod(src, 0o644)
        master, slave = pty.openpty()
        try:
            r = subprocess.run([GANNET, "import", "-u", "alice", src, "-c", self.srv.conf],
                               stdout=subprocess.PIPE, stderr=slave, timeout=120)
            os.close(slave)
            slave = None
            err = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                err += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"\rimporting: ", err)
        self.assertTrue(err.rstrip().endswith(b"(100%)\x1b[K"), err[-200:])
        self.assertEqual(self.status()["messages"], 200)


class TestRebuild(AdminTestCase):
    def test_rebuild_keeps_uids_and_uidvalidity(self):
        for i in range(1, 6):
            self.deliver(message(i))
        self.out("mailbox", "create", "-u", "alice", "Kept")
        self.deliver(message(6), "alice", "-m", "Kept")
        before = self.fetch("1:*", "uid flags size envelope")
        st = self.status()
        # a message another program put into new/ gets the next UID
        with open(os.path.join(self.maildir(), "new", "1800000000.M1P1.outside"), "wb") as f:
            f.write(message(7))
        os.chown(os.path.join(self.maildir(), "new", "1800000000.M1P1.outside"), self.mail_uid, -1)
        for index in [f for f in os.listdir(self.maildir()) if f.startswith("gannet.index")]:
            os.unlink(os.path.join(self.maildir(), index))
        r = self.run_g("index", "rebuild", "-u", "alice", check=0)
        self.assertEqual((r.stdout, r.stderr), (b"", b""))
        after = self.fetch("1:*", "uid flags size envelope")
        self.assertEqual(after[:5], before)
        self.assertRegex(after[5], r"^\* 6 FETCH \(UID 6 ")
        st2 = self.status()
        self.assertEqual(st2["uidvalidity"], st["uidvalidity"])
        self.assertEqual((st2["messages"], st2["uidnext"]), (6, 7))
        self.assertIn("Kept", self.out("mailbox", "list", "-u", "alice").splitlines())
        self.assertEqual(self.status("Kept")["messages"], 1)
        # once more, with the index in place
        self.out("index", "rebuild", "-u", "alice")
        self.assertEqual(self.fetch("1:*", "uid flags size envelope"), after)
        self.assertOwnedByMailUser()
        self.assertEqual(self.run_g("index", "-u", "alice").returncode, 64)
        self.assertEqual(self.run_g("index", "rebuild", "-u", "nosuchuser").returncode, 67)

    def test_schema_1_index_migrated_in_place(self):
        """An index of schema 1 cached only the last To field's addresses:
        the first command after the upgrade re-reads the message, keeping the
        index instead of rebuilding it."""
        self.deliver(b"From: alice@example.org\r\nTo: a@x.org\r\nTo: b@y.org\r\n"
                     b"Subject: two To lines\r\n\r\nHi.\r\n")
        alice = '((NIL NIL "alice" "example.org"))'
        want = (f'(NIL "two To lines" {alice} {alice} {alice} '
                '((NIL NIL "a" "x.org")(NIL NIL "b" "y.org")) NIL NIL NIL NIL)')
        self.assertEqual(self.fetch("1", "envelope"), [f"* 1 FETCH (ENVELOPE {want})"])
        modseq = self.status()["highestmodseq"]
        # what schema 1 stored, and its version number
        index = os.path.join(self.maildir(), "gannet.index.sqlite")
        db = sqlite3.connect(index)
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
        db.execute("UPDATE messages SET envelope = ?",
                   (want.replace('(NIL NIL "a" "x.org")', ""),))
        db.commit()
        db.close()
        for f in os.listdir(self.maildir()):
            if f.startswith("gannet.index"):
                os.chown(os.path.join(self.maildir(), f), self.mail_uid, -1)
        r = self.run_g("fetch", "-u", "alice", "INBOX", "1", "envelope", check=0)
        self.assertEqual(r.stdout.decode().splitlines(), [f"* 1 FETCH (ENVELOPE {want})"])
        self.assertIn("schema 1 migrated to 2, 1 messages re-read", r.stderr.decode())
        db = sqlite3.connect(index)
        self.assertEqual(db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchall(),
                         [("2",)])
        db.close()
        self.assertFalse(os.path.exists(index + ".corrupt"))
        self.assertEqual(self.status()["highestmodseq"], modseq)
        self.assertOwnedByMailUser()


class TestConfigOption(AdminTestCase):
    """-c FILE before the command (as doveadm takes it), between a command and
    its subcommand, and among the options; given twice, the last one counts,
    as with doveadm (issue: global options anywhere)."""

    def raw(self, *args, input=b"", check=None):
        """gannet with exactly these arguments (run_g adds -c FILE at the end)."""
        r = subprocess.run([GANNET, *args], input=input, capture_output=True, timeout=120)
        if check is not None:
            self.assertEqual(r.returncode, check,
                             f"gannet {' '.join(args)}: {r.returncode}\n"
                             f"{r.stderr.decode(errors='replace')}")
        return r

    def messages(self, *args):
        line = self.raw(*args, check=0).stdout.decode().strip()
        self.assertRegex(line, r"^messages=\d+$", args)
        return int(line.split("=")[1])

    def test_before_the_command(self):
        conf = self.srv.conf
        self.raw("-c", conf, "deliver", "-u", "alice", input=message(1), check=0)
        self.assertEqual(self.status()["messages"], 1)
        self.assertEqual(
            self.messages("-c", conf, "mailbox", "status", "-u", "alice", "-f", "messages",
                          "INBOX"), 1)
        self.raw("-c", conf, "mailbox", "create", "-u", "alice", "Work", check=0)
        self.assertIn("Work", self.raw("-c", conf, "mailbox", "list", "-u", "alice",
                                       check=0).stdout.decode().splitlines())
        self.assertRegex(self.raw("-c", conf, "fetch", "-u", "alice", "INBOX", "1", "uid",
                                  check=0).stdout.decode(), r"^\* 1 FETCH \(UID 1\)")
        self.raw("-c" + conf, "index", "rebuild", "-u", "alice", check=0)
        out = self.raw("-c", conf, "config", "check", check=0).stdout.decode()
        self.assertIn(conf, out.splitlines()[0])
        self.assertOwnedByMailUser()

    def test_between_the_command_and_its_subcommand(self):
        conf = self.srv.conf
        self.deliver(message(1))
        self.assertEqual(
            self.messages("mailbox", "-c", conf, "status", "-u", "alice", "-f", "messages",
                          "INBOX"), 1)
        self.raw("mailbox", "-u", "alice", "-c", conf, "create", "Work", check=0)
        self.assertEqual(self.status("Work")["messages"], 0)
        self.raw("index", "-c", conf, "rebuild", "-u", "alice", check=0)
        out = self.raw("config", "-c", conf, "check", check=0).stdout.decode()
        self.assertIn(conf, out.splitlines()[0])

    def test_among_the_options_and_the_last_one_counts(self):
        conf, missing = self.srv.conf, os.path.join(self.srv.dir, "missing.conf")
        self.deliver(message(1))
        # before the command, then among the options: the second one counts
        self.assertEqual(
            self.messages("-c", missing, "mailbox", "status", "-u", "alice", "-c", conf, "-f",
                          "messages", "INBOX"), 1)
        self.assertEqual(
            self.messages("-c", missing, "-c", conf, "mailbox", "status", "-u", "alice", "-f",
                          "messages", "INBOX"), 1)
        self.raw("-c", missing, "deliver", "-u", "alice", "-c", conf, input=message(2), check=0)
        self.assertEqual(self.status()["messages"], 2)
        # and the other way round: the file named last is the one read
        for args in (("-c", conf, "mailbox", "status", "-u", "alice", "INBOX", "-c", missing),
                     ("mailbox", "-c", conf, "list", "-c", missing, "-u", "alice"),
                     ("-c", conf, "index", "rebuild", "-u", "alice", "-c", missing),
                     ("-c", conf, "config", "check", "-c", missing)):
            r = self.raw(*args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(f"cannot read '{missing}'", r.stderr.decode(), args)
            self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1, args)

    def test_usage_errors(self):
        r = self.raw("-c")
        self.assertEqual(r.returncode, 1)
        self.assertIn("option -c needs a value", r.stderr.decode())
        r = self.raw("mailbox", "status", "-u", "alice", "INBOX", "-c")
        self.assertEqual(r.returncode, 64)
        self.assertIn("option -c needs a value", r.stderr.decode())
        # commands that read no configuration say so instead of ignoring it
        for cmd in ("passwd", "probe", "version"):
            r = self.raw("-c", self.srv.conf, cmd)
            self.assertEqual(r.returncode, 1, cmd)
            self.assertIn(f"gannet {cmd}: reads no configuration file (-c)", r.stderr.decode())
        r = self.raw("-c", self.srv.conf, "mailbox")
        self.assertEqual(r.returncode, 64)
        self.assertIn("usage: gannet mailbox", r.stderr.decode())

    def test_serve(self):
        self.srv.spawn([GANNET, "-c", self.srv.conf, "serve", "-F"])
        deadline = time.monotonic() + 10
        while True:
            self.assertIsNone(self.srv.proc.poll(), self.srv.log())
            try:
                with socket.create_connection((HOST, self.srv.ports["imap"]),
                                              timeout=5) as s:
                    self.assertTrue(s.recv(1024).startswith(b"* OK"))
                break
            except OSError:
                self.assertLess(time.monotonic(), deadline, self.srv.log())
                time.sleep(0.1)


@unittest.skipUnless(os.geteuid() == 0, "needs root to run as another user")
class TestPrivileges(AdminTestCase):
    def setUp(self):
        super().setUp()
        # the config names the TLS key, which only root may read (0600): the
        # commands must work without it, as an LDA run by Postfix as vmail does
        os.chmod(self.srv.key, 0o600)

    def test_other_user_than_mail_uid_is_refused(self):
        other = pwd.getpwnam("daemon")
        for args in (("mailbox", "list", "-u", "alice"), ("deliver", "-u", "alice")):
            r = subprocess.run([self.srv.reachable_copy(GANNET), *args, "-c", self.srv.conf],
                               input=message(1),
                               capture_output=True, timeout=30, user=other.pw_uid,
                               group=other.pw_gid, extra_groups=[])
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn("mail_uid", r.stderr.decode(), args)
            self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1)
        self.assertFalse(os.path.exists(os.path.join(self.home, "alice")))

    def test_as_the_mail_user_it_works(self):
        r = subprocess.run([self.srv.reachable_copy(GANNET), "deliver", "-u", "alice", "-c",
                            self.srv.conf],
                           input=message(1), capture_output=True, timeout=30,
                           user=self.mail_uid, group=pwd.getpwnam("nobody").pw_gid,
                           extra_groups=[])
        # the passwd-file is root:nogroup 0640; nobody's group is nogroup
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.status()["messages"], 1)
        self.assertOwnedByMailUser()


if __name__ == "__main__":
    unittest.main()
