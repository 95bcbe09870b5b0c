"""SEARCH and UID SEARCH (RFC 9051 §6.4.4): every search key, substring
semantics over the full-text index, CHARSET, ESEARCH (RFC 4731), SEARCHRES
(RFC 5182), MODSEQ (RFC 7162 §3.1.5); the RFC examples replayed; a 10,000
message mailbox searched while another user's NOOP is answered at once; bad
input answered BAD with the session going on; and the same searches against
Dovecot 2.3 from Debian on a copy of the same Maildir.

The server runs with TZ=UTC, so that an INTERNALDATE's day (which SEARCH
reckons on the server's clock, as Dovecot does) is the day the tests wrote."""

import base64
import grp
import imaplib
import os
import pwd
import re
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

from harness import HOST, REPO, LineClient, ServerTestCase, free_port, password

os.environ["TZ"] = "UTC"

CORPUS = os.path.join(REPO, "tests", "data", "mime")
DOVECOT = "/usr/sbin/dovecot"

USERS = ("keys", "uids", "subs", "chars", "rfc", "sres", "modseq", "bad", "rev2", "reset",
         "expunge", "big", "other", "dove", "cond", "slices", "odd")


def crlf(text):
    return text.replace("\n", "\r\n").encode()


# The messages every-key tests search, APPENDed with these flags and dates.
MESSAGES = [
    (r"(\Seen \Flagged)", "01-Feb-1994 10:00:00 +0000", crlf(
        "From: Alice Smith <alice@example.org>\n"
        "To: Bob <bob@example.net>\n"
        "Cc: carol@example.com\n"
        "Subject: Meeting tomorrow\n"
        "Date: Mon, 1 Jan 2024 23:30:00 -0500\n"
        "Message-ID: <m1@example.org>\n"
        "\n"
        "Hello Bob, the meeting is at noon.\n")),
    (r"(\Answered $Work)", "02-Feb-1994 23:59:59 +0000", crlf(
        "From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\n"
        "To: alice@example.org\n"
        "Bcc: secret@example.org\n"
        "Subject: =?utf-8?q?=C3=84pfel_und_Birnen?=\n"
        "Date: Tue, 2 Jan 2024 10:00:00 +0000\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=iso-8859-1\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "Die =C4pfel sind rot.\n")),
    (r"(\Deleted \Draft)", "15-Mar-2000 12:00:00 +0000", crlf(
        "From: Dmitri <dm@example.ru>\n"
        "To: alice@example.org\n"
        "Subject: plans\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/alternative; boundary=\"b1\"\n"
        "\n"
        "--b1\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        + base64.b64encode("отпуск в июле\n".encode()).decode() + "\n"
        "--b1\n"
        "Content-Type: text/html; charset=utf-8\n"
        "\n"
        "<p><b>Vacation</b> &amp; more</p>\n"
        "--b1--\n")),
    ("", "31-Dec-2010 00:00:00 +0000", crlf(
        "From: Smithers <smithers@example.com>\n"
        "To: team@example.org\n"
        "Subject: Smith report\n"
        "Date: Sun, 11 Feb 1996 12:00:00 +1400\n"
        "\n" + "lorem ipsum dolor sit amet\n" * 120)),
    ("(Important)", "01-Jan-2024 00:00:00 +0000", crlf(
        "From: Eve <eve@example.org>\n"
        "To: team@example.org\n"
        "Subject: nut\n"
        "Date: Wed, 31 Jan 2024 20:00:00 -1100\n"
        "X-Custom: Value-42\n"
        "\n"
        "shell of a nut\n")),
]

# (criteria, the sequence numbers found); strings after "~" go as a literal
KEYS = [
    ("ALL", [1, 2, 3, 4, 5]),
    ("SEEN", [1]), ("UNSEEN", [2, 3, 4, 5]),
    ("FLAGGED", [1]), ("UNFLAGGED", [2, 3, 4, 5]),
    ("ANSWERED", [2]), ("UNANSWERED", [1, 3, 4, 5]),
    ("DELETED", [3]), ("UNDELETED", [1, 2, 4, 5]),
    ("DRAFT", [3]), ("UNDRAFT", [1, 2, 4, 5]),
    ("KEYWORD $Work", [2]), ("keyword $WORK", [2]), ("UNKEYWORD $Work", [1, 3, 4, 5]),
    ("KEYWORD Important", [5]), ("KEYWORD Nothing", []),
    ("RECENT", [1, 2, 3, 4, 5]), ("NEW", [2, 3, 4, 5]), ("OLD", []),
    # INTERNALDATE, disregarding time and zone
    ("BEFORE 2-Feb-1994", [1]), ("ON 2-Feb-1994", [2]), ("ON 02-Feb-1994", [2]),
    ('SINCE "2-Feb-1994"', [2, 3, 4, 5]), ("SINCE 1-Jan-2024", [5]), ("BEFORE 1-Jan-1990", []),
    # Date:, on the day its writer wrote (1 January at -0500 is 2 January UTC)
    ("SENTON 1-Jan-2024", [1]), ("SENTON 2-Jan-2024", [2]), ("SENTBEFORE 2-Jan-2024", [1, 4]),
    ("SENTSINCE 2-Jan-2024", [2, 5]), ("SENTON 11-Feb-1996", [4]), ("SENTON 10-Feb-1996", []),
    ("SENTON 31-Jan-2024", [5]), ("SENTON 1-Feb-2024", []), ("NOT SENTBEFORE 1-Jan-2100", [3]),
    # RFC822.SIZE
    ("LARGER 3000", [4]), ("SMALLER 3000", [1, 2, 3, 5]),
    # header fields, decoded, substrings, any case
    ("FROM smith", [1, 4]), ("FROM ALICE@", [1]), ("FROM ~Jürgen", [2]),
    ("FROM \"Alice Smith <alice@\"", [1]), ("TO alice", [2, 3]), ("TO \"bob <\"", [1]),
    ("CC carol", [1]), ("BCC secret", [2]), ("BCC alice", []),
    ("SUBJECT meeting", [1]), ("SUBJECT ~äpfel", [2]), ("SUBJECT ~ÄPFEL UND", [2]),
    ("HEADER X-Custom value-42", [5]), ("HEADER x-custom \"\"", [5]),
    ("HEADER Message-ID \"<m1@\"", [1]), ("HEADER Content-Transfer-Encoding QUOTED", [2]),
    ("HEADER X-Missing \"\"", []),
    # body text: transfer encodings and charsets decoded, HTML as text
    ("BODY ello", [1]), ("BODY noon", [1]), ("BODY ~äpfel", [2]), ("BODY ~ОТПУСК", [3]),
    ("BODY vacation", [3]), ("BODY \"vacation & more\"", [3]), ("BODY &amp;", []),
    ("BODY smith", []), ("BODY \"hell of a nu\"", [5]), ("BODY \"\"", [1, 2, 3, 4, 5]),
    ("TEXT smith", [1, 4]), ("TEXT \"subject: plans\"", [3]), ("TEXT noon", [1]),
    # combinations
    ("OR SEEN DELETED", [1, 3]), ("NOT OR SEEN DELETED", [2, 4, 5]), ("(SEEN FLAGGED)", [1]),
    ("NOT (FROM smith)", [2, 3, 5]), ("OR (SEEN DELETED) KEYWORD Important", [5]),
    ("UNSEEN NOT DELETED TO team", [4, 5]), ("OR OR SEEN DRAFT ANSWERED", [1, 2, 3]),
    # sequence sets and UIDs (the mailbox's UIDs are 2 to 6)
    ("2:4", [2, 3, 4]), ("4:2", [2, 3, 4]), ("*", [5]), ("2,4", [2, 4]), ("1:* SEEN", [1]),
    ("UID 2:3", [1, 2]), ("UID 6:*", [5]), ("UID 1,5", [4]), ("UID 7:*", [5]),
    ("MODSEQ 1", [1, 2, 3, 4, 5]), ("MODSEQ 999999", []),
]


def literal_command(tag, text):
    """A command line as bytes; the part after "~" goes as a literal (LITERAL+)."""
    if "~" not in text:
        return f"{tag} {text}\r\n".encode()
    head, lit = text.split("~", 1)
    lit = lit.encode()
    return f"{tag} {head}".encode() + b"{%d+}\r\n" % len(lit) + lit + b"\r\n"


def numbers(line, word="SEARCH"):
    """The numbers of a `* SEARCH` line (without a trailing (MODSEQ n))."""
    assert line.startswith(f"* {word}"), line
    return [int(x) for x in re.sub(r" \(MODSEQ \d+\)$", "", line)[len(f"* {word}"):].split()]


def chown_tree(path):
    if os.geteuid() != 0:
        return
    uid, gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    for d, dirs, files in os.walk(path):
        os.chown(d, uid, gid)
        for f in files:
            os.chown(os.path.join(d, f), uid, gid)


def write_maildir(root, messages, uidvalidity=1234567, keywords=(), dovecot=False):
    """A Maildir as a delivery program leaves it: messages are
    (uid, maildir flag letters, INTERNALDATE as a Unix time, bytes); the UID is
    in the file name, the next one in gannet-uidlist (dovecot-uidlist with
    dovecot=True), keywords letters in dovecot-keywords."""
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    bases = []
    for uid, flags, date, data in messages:
        base = f"{date}.M{uid}P1.test,U={uid}"
        path = os.path.join(root, "cur", f"{base}:2,{flags}")
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (date, date))
        bases.append((uid, base))
    nxt = max(u for u, _ in bases) + 1
    if dovecot:
        with open(os.path.join(root, "dovecot-uidlist"), "w") as f:
            f.write(f"3 V{uidvalidity} N{nxt} G1\n")
            f.writelines(f"{u} :{b}\n" for u, b in bases)
    else:
        with open(os.path.join(root, "gannet-uidlist"), "w") as f:
            f.write(f"gannet-uidlist 1\nV {uidvalidity}\nN {nxt}\n")
    if keywords:
        with open(os.path.join(root, "dovecot-keywords"), "w") as f:
            f.writelines(f"{i} {k}\n" for i, k in enumerate(keywords))
    chown_tree(root)


class SearchTest(ServerTestCase):
    SERVER_SETTINGS = {"workers": "1"}
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{u}-pw-1::::::" for u in USERS]}

    # -- helpers

    def login(self, user):
        c = self.srv.imap_logged_in(user)
        self.addCleanup(c.close)
        return c

    def run_cmd(self, c, tag, text):
        c.send(literal_command(tag, text))
        return c.read_until_tagged(tag)

    def ok(self, c, tag, text):
        untagged, tagged = self.run_cmd(c, tag, text)
        self.assertTrue(tagged.startswith(f"{tag} OK"), f"{text}: {tagged}")
        return untagged

    def search(self, c, tag, criteria, uid=False):
        """The numbers one SEARCH (IMAP4rev1 form) found."""
        untagged = self.ok(c, tag, f"{'UID ' if uid else ''}SEARCH {criteria}")
        lines = [l for l in untagged if l.startswith("* SEARCH")]
        self.assertEqual(len(lines), 1, f"{criteria}: {untagged}")
        return numbers(lines[0])

    def append_messages(self, c, messages=MESSAGES):
        for i, (flags, date, data) in enumerate(messages):
            c.send(f'a{i} APPEND INBOX {flags} "{date}" '.replace("  ", " ").encode()
                   + b"{%d+}\r\n" % len(data) + data + b"\r\n")
            tagged = c.read_until_tagged(f"a{i}")[1]
            self.assertTrue(tagged.startswith(f"a{i} OK"), tagged)

    def keys_mailbox(self, user):
        """MESSAGES in INBOX with UIDs 2 to 6 (UID 1 was expunged), selected."""
        c = self.login(user)
        self.append_messages(c, [(r"(\Deleted)", "01-Jan-2000 00:00:00 +0000", MESSAGES[0][2])])
        self.ok(c, "s0", "SELECT INBOX")
        self.ok(c, "c0", "CLOSE")
        self.append_messages(c)
        self.ok(c, "s1", "SELECT INBOX")
        return c

    def index(self, user):
        return sqlite3.connect(
            os.path.join(self.srv.home, user, "Maildir", "gannet.index.sqlite"), timeout=10)

    def modseqs(self, user):
        """UID -> MODSEQ of INBOX, from the index."""
        with self.index(user) as db:
            return dict(db.execute(
                "SELECT uid, modseq FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
                " WHERE b.name = 'INBOX'").fetchall())

    # -- every key

    def test_every_key(self):
        c = self.keys_mailbox("keys")
        for i, (criteria, want) in enumerate(KEYS):
            with self.subTest(criteria=criteria):
                self.assertEqual(self.search(c, f"k{i}", criteria), want)
        # the same with CHARSET US-ASCII and UTF-8 where the strings allow
        self.assertEqual(self.search(c, "u1", "CHARSET US-ASCII FROM smith"), [1, 4])
        self.assertEqual(self.search(c, "u2", "CHARSET utf-8 SUBJECT ~äpfel"), [2])

    def test_uid_search_answers_uids(self):
        c = self.keys_mailbox("uids")
        for i, (criteria, want) in enumerate(KEYS):
            with self.subTest(criteria=criteria):
                self.assertEqual(self.search(c, f"k{i}", criteria, uid=True),
                                 [n + 1 for n in want])
        # RFC 9051 §6.4.9: UID SEARCH takes message numbers as keys too
        self.assertEqual(self.search(c, "u1", "1:2", uid=True), [2, 3])
        c.cmd("u2 UID SEARCH RETURN (MIN MAX COUNT ALL) SEEN")
        self.assertEqual(c.read_until_tagged("u2"),
                         (['* ESEARCH (TAG "u2") UID MIN 2 MAX 2 ALL 2 COUNT 1'],
                          "u2 OK UID SEARCH completed."))
        # imaplib
        m = imaplib.IMAP4_SSL(HOST, self.srv.ports["imaps"], ssl_context=self.srv.ctx())
        self.addCleanup(m.logout)
        m.login("uids", password("uids"))
        m.select("INBOX")
        self.assertEqual(m.uid("SEARCH", "UNSEEN", "NOT", "DELETED"), ("OK", [b"3 5 6"]))
        self.assertEqual(m.search(None, "OR", "FROM", "smith", "BCC", "secret"),
                         ("OK", [b"1 2 4"]))

    def test_substrings_not_words(self):
        c = self.keys_mailbox("subs")
        # "ello" is no word of "Hello", yet SEARCH finds substrings
        self.assertEqual(self.search(c, "a", "BODY ello"), [1])
        self.assertEqual(self.search(c, "b", "BODY \"eeting is at no\""), [1])
        self.assertEqual(self.search(c, "c", "BODY \"MEETING IS\""), [1])
        # across the words of the index, and not where a word was split
        self.assertEqual(self.search(c, "d", "BODY \"meetingis\""), [])
        self.assertEqual(self.search(c, "e", "TEXT \"smith <ali\""), [1])
        self.assertEqual(self.search(c, "f", "TEXT \"h report\""), [4])
        # words the text has, but not as the substring asked
        self.assertEqual(self.search(c, "g", "BODY \"noon meeting\""), [])
        self.assertEqual(self.search(c, "h", "BODY \"nut shell\""), [])
        # more text keys than the word index narrows: the same answers
        parts = ["hello", "bob", "the", "meeting", "is", "at", "noon", "ello", "ob,", "eeting",
                 "oon", "hel", "lo b", "o bo", "he m", "ng i", "t no", "at noon."]
        self.assertEqual(self.search(c, "i", " ".join(f'BODY "{p}"' for p in parts)), [1])
        self.assertEqual(self.search(c, "j", " ".join(f'TEXT "{p}"' for p in parts)
                                     + " NOT TEXT \"zz\""), [1])

    def test_headers_the_index_cuts_short(self):
        c = self.login("odd")
        long_to = "To: " + ",\r\n ".join(f"person{i}@example.org" for i in range(4000))
        msgs = [
            # a header section over the 64 KiB the index keeps
            ("", "01-Jan-2024 00:00:00 +0000",
             (long_to + "\r\nX-Late: found after 90 KB\r\nSubject: late\r\n\r\nbody\r\n").encode()),
            # the first Date: field counts; the index took the last one, empty
            ("", "01-Jan-2024 00:00:00 +0000",
             crlf("Date: Mon, 13 Oct 2025 10:00:00 +0000\nDate:\nSubject: two dates\n\nbody\n")),
        ]
        self.assertGreater(len(msgs[0][2]), 80000)
        self.append_messages(c, msgs)
        self.ok(c, "s", "SELECT INBOX")
        self.assertEqual(self.search(c, "a", "HEADER X-Late \"after 90\""), [1])
        self.assertEqual(self.search(c, "b", "SUBJECT late"), [1])
        self.assertEqual(self.search(c, "c", "TO person3999@"), [1])
        self.assertEqual(self.search(c, "d", "SENTON 13-Oct-2025"), [2])
        self.assertEqual(self.search(c, "e", "SENTSINCE 1-Jan-2025"), [2])

    # -- CHARSET

    def test_charsets(self):
        c = self.keys_mailbox("chars")
        self.assertEqual(self.search(c, "a", "CHARSET UTF-8 BODY ~äpfel"), [2])
        self.assertEqual(self.search(c, "b", "CHARSET US-ASCII BODY noon"), [1])
        untagged, tagged = self.run_cmd(c, "c", "SEARCH CHARSET KOI8-R BODY ~XXXX")
        self.assertEqual((untagged, tagged),
                         ([], "c NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset."))
        untagged, tagged = self.run_cmd(c, "d", "SEARCH CHARSET ISO-8859-1 ALL")
        self.assertTrue(tagged.startswith("d NO [BADCHARSET"), tagged)
        # bytes that are not UTF-8 are no string of either charset
        c.send(b"e SEARCH CHARSET UTF-8 BODY {3+}\r\nh\xe9a\r\n")
        self.assertEqual(c.read_until_tagged("e"), ([], "e BAD Search string is not UTF-8."))
        self.ok(c, "f", "NOOP")

    # -- RFC 9051 §6.4.4's examples, in IMAP4rev2

    def rfc_mailbox(self, user, extra=()):
        """43 messages for RFC 9051 §6.4.4's examples, written into the Maildir
        before the user's first login: UIDs 7 to 3800; messages 2, 10 and 11
        flagged since 1-Feb-1994 and not from Smith (5 flagged from Smith, 20
        flagged before); 1 to 3 seen; 21 to 35 deleted; 43 says отпуск."""
        seq_uids = [7, 17, 900, 901] + list(range(1005, 1005 + 38)) + [3800]
        msgs = []
        for seq, uid in enumerate(seq_uids, 1):
            sender = "John Smith <smith@example.org>" if seq in (5, 30) else \
                "Jones <jones@example.org>"
            body = "Мой отпуск начинается завтра.\n" if seq == 43 else \
                ("мать\n" if seq == 12 else f"message {seq}\n")
            if seq == 6:
                body += "filler line\n" * 400
            data = crlf(f"From: {sender}\nTo: me@example.org\nSubject: number {seq}\n"
                        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                        "Content-Transfer-Encoding: 8bit\n\n") + body.replace(
                            "\n", "\r\n").encode()
            flags = ("F" if seq in (2, 5, 10, 11, 20) else "") + ("S" if seq <= 3 else "") + \
                ("T" if 21 <= seq <= 35 else "")
            date = 631152000 if seq == 20 else 1117584000  # 1-Jan-1990, 1-Jun-2005
            msgs.append((uid, flags, date, data))
        msgs.extend(extra)
        write_maildir(os.path.join(self.srv.home, user, "Maildir"), msgs)
        c = self.login(user)
        self.ok(c, "e", "ENABLE IMAP4rev2")
        untagged = self.ok(c, "s", "SELECT INBOX")
        self.assertIn("* 43 EXISTS", untagged)
        return c

    def test_rfc9051_search_examples(self):
        c = self.rfc_mailbox("rfc")
        exchanges = [
            ('A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"',
             ['* ESEARCH (TAG "A282") MIN 2 COUNT 3']),
            ('A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"',
             ['* ESEARCH (TAG "A283") ALL 2,10:11']),
            ('A284 SEARCH TEXT "string not in mailbox"', ['* ESEARCH (TAG "A284")']),
            ("A285 SEARCH CHARSET UTF-8 TEXT ~отпуск", ['* ESEARCH (TAG "A285") ALL 43']),
            ("A284 SEARCH RETURN (MIN) UNSEEN", ['* ESEARCH (TAG "A284") MIN 4']),
            ("A285 UID SEARCH RETURN (MIN MAX) 1:5000",
             ['* ESEARCH (TAG "A285") UID MIN 7 MAX 3800']),
            ("A286 SEARCH RETURN (COUNT) DELETED", ['* ESEARCH (TAG "A286") COUNT 15']),
        ]
        for line, want in exchanges:
            tag, text = line.split(" ", 1)
            with self.subTest(line=line):
                untagged, tagged = self.run_cmd(c, tag, text)
                self.assertEqual(untagged, want)
                self.assertRegex(tagged, rf"^{tag} OK ")

    def test_rfc5182_searchres_examples(self):
        c = self.rfc_mailbox("sres")
        since_not_smith = [s for s in range(1, 44) if s not in (5, 20, 30)]

        def esearch_all(tag, seqs, uid=False):
            uids = [7, 17, 900, 901] + list(range(1005, 1043)) + [3800]
            nums = [uids[s - 1] for s in seqs] if uid else seqs
            runs, i = [], 0
            while i < len(nums):
                j = i
                while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
                    j += 1
                runs.append(str(nums[i]) if i == j else f"{nums[i]}:{nums[j]}")
                i = j + 1
            return f'* ESEARCH (TAG "{tag}"){" UID" if uid else ""} ALL {",".join(runs)}'

        # Example 1: SAVE answers nothing but OK; FETCH $ reads what it saved
        self.assertEqual(self.run_cmd(
            c, "A282", 'SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"'),
            ([], "A282 OK SEARCH completed."))
        self.assertEqual(self.run_cmd(c, "A283", "FETCH $ (UID)"),
                         (["* 2 FETCH (UID 17)", "* 10 FETCH (UID 1010)", "* 11 FETCH (UID 1011)"],
                          "A283 OK FETCH completed."))
        self.assertEqual(self.run_cmd(c, "A284", "SEARCH $")[0], [esearch_all("A284", [2, 10, 11])])
        # Example 2: pipelined
        c.send(b'A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"\r\n'
               b"A283 UID SEARCH $\r\n")
        self.assertEqual(c.read_until_tagged("A282"), ([], "A282 OK SEARCH completed."))
        self.assertEqual(c.read_until_tagged("A283")[0],
                         [esearch_all("A283", [2, 10, 11], uid=True)])
        # Example 3: "$" in UID SEARCH, as UID $ or as $
        self.ok(c, "A300", 'SEARCH RETURN (SAVE) SINCE 1-Jan-2004 NOT FROM "Smith"')
        want = [s for s in since_not_smith if s != 6]  # 6 is the big one
        self.assertEqual(self.run_cmd(c, "A301", "UID SEARCH UID $ SMALLER 4096")[0],
                         [esearch_all("A301", want, uid=True)])
        self.assertEqual(self.run_cmd(c, "A301", "UID SEARCH $ SMALLER 4096")[0],
                         [esearch_all("A301", want, uid=True)])
        # Example 4: "$" with other numbers, in OR
        self.ok(c, "P282", 'SEARCH RETURN (SAVE) SINCE 1-Feb-1994 NOT FROM "Smith"')
        self.assertEqual(self.run_cmd(c, "P283", "SEARCH CHARSET UTF-8 (OR $ 1,30:31) TEXT ~мать")[0],
                         [esearch_all("P283", [12])])
        self.assertEqual(self.run_cmd(c, "P284", "SEARCH CHARSET UTF-8 (OR $ 1,30:31) TEXT ~number 3")[0],
                         [esearch_all("P284", [3, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39])])
        # Example 5: a failed SEARCH ... SAVE empties "$"
        self.ok(c, "B282", 'SEARCH RETURN (SAVE) SINCE 1-Feb-1994 NOT FROM "Smith"')
        untagged, tagged = self.run_cmd(
            c, "B283", "SEARCH RETURN (SAVE) CHARSET KOI8-R (OR $ 1,3000:3021) TEXT ~XXXX")
        self.assertEqual((untagged, tagged),
                         ([], "B283 NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset."))
        self.assertEqual(self.run_cmd(c, "B284", "SEARCH $")[0], ['* ESEARCH (TAG "B284")'])
        # Example 6: "$" naming no message is no error
        self.ok(c, "E282", 'SEARCH RETURN (SAVE) SINCE 28-Oct-2006 NOT FROM "Eric"')
        self.assertEqual(self.run_cmd(c, "E283", "SEARCH $"), (['* ESEARCH (TAG "E283")'],
                                                            "E283 OK SEARCH completed."))
        # Example 9: the second SAVE overrides the first
        c.send(b"H282 SEARCH RETURN (SAVE) DELETED\r\nH283 SEARCH RETURN (SAVE) SEEN\r\n"
               b"H284 SEARCH $\r\n")
        self.assertEqual(c.read_until_tagged("H282"), ([], "H282 OK SEARCH completed."))
        self.assertEqual(c.read_until_tagged("H283"), ([], "H283 OK SEARCH completed."))
        self.assertEqual(c.read_until_tagged("H284")[0], [esearch_all("H284", [1, 2, 3])])
        # Example 10: what "$" holds with each combination of options
        crit = 'SINCE 12-Feb-2005 NOT FROM "Smith"'  # the messages are of June 2005
        found = since_not_smith
        cases = [
            ("C282", "ALL", f'* ESEARCH (TAG "C282") ALL 1:4,6:19,21:29,31:43', None),
            ("C283", "ALL SAVE", f'* ESEARCH (TAG "C283") ALL 1:4,6:19,21:29,31:43', found),
            ("C284", "SAVE MIN", '* ESEARCH (TAG "C284") MIN 1', [1]),
            ("C285", "MAX SAVE MIN", '* ESEARCH (TAG "C285") MIN 1 MAX 43', [1, 43]),
            ("C286", "MAX SAVE MIN COUNT", '* ESEARCH (TAG "C286") MIN 1 MAX 43 COUNT 40', found),
            ("C287", "ALL SAVE MIN", '* ESEARCH (TAG "C287") MIN 1 ALL 1:4,6:19,21:29,31:43',
             found),
        ]
        saved = [1, 2, 3]
        self.ok(c, "C281", "SEARCH RETURN (SAVE) SEEN")
        for tag, opts, line, now_saved in cases:
            with self.subTest(opts=opts):
                self.assertEqual(self.run_cmd(c, tag, f"SEARCH RETURN ({opts}) {crit}"),
                                 ([line], f"{tag} OK SEARCH completed."))
                saved = now_saved or saved
                self.assertEqual(self.run_cmd(c, "X" + tag, "SEARCH $")[0],
                                 [esearch_all("X" + tag, saved)])

    def test_saved_result_is_the_mailboxes(self):
        c = self.keys_mailbox("reset")
        self.ok(c, "a", "SEARCH RETURN (SAVE) SEEN")
        self.assertEqual(self.search(c, "b", "$"), [1])
        # the other commands read "$" too
        self.ok(c, "b2", "UID SEARCH RETURN (SAVE) UNSEEN TO team")
        self.assertEqual(self.run_cmd(c, "b3", "STORE $ +FLAGS.SILENT (\\Flagged)"),
                         ([], "b3 OK STORE completed."))
        self.assertEqual(self.search(c, "b4", "FLAGGED"), [1, 4, 5])
        # SELECT empties it (RFC 9051 §6.4.4.1), and so does leaving the mailbox
        self.ok(c, "c", "SELECT INBOX")
        self.assertEqual(self.search(c, "d", "$"), [])
        self.ok(c, "e", "SEARCH RETURN (SAVE) ALL")
        self.ok(c, "f", "UNSELECT")
        self.ok(c, "g", "EXAMINE INBOX")
        self.assertEqual(self.search(c, "h", "$"), [])
        # a BAD SEARCH ... SAVE leaves it alone; a NO empties it
        self.ok(c, "i", "SEARCH RETURN (SAVE) OR SEEN DELETED")
        self.assertTrue(self.run_cmd(c, "j", "SEARCH RETURN (SAVE) FOO")[1].startswith("j BAD"))
        self.assertEqual(self.search(c, "k", "$"), [1, 3])

    # -- IMAP4rev2

    def test_imap4rev2_gets_esearch(self):
        c = self.keys_mailbox("rev2")
        self.assertEqual(self.run_cmd(c, "a", "SEARCH SEEN")[0], ["* SEARCH 1"])
        self.ok(c, "e", "ENABLE IMAP4rev2")
        self.assertEqual(self.run_cmd(c, "b", "SEARCH UNSEEN"),
                         (['* ESEARCH (TAG "b") ALL 2:5'], "b OK SEARCH completed."))
        self.assertEqual(self.run_cmd(c, "c", "UID SEARCH UNSEEN"),
                         (['* ESEARCH (TAG "c") UID ALL 3:6'], "c OK UID SEARCH completed."))
        self.assertEqual(self.run_cmd(c, "d", "SEARCH KEYWORD Nothing"),
                         (['* ESEARCH (TAG "d")'], "d OK SEARCH completed."))
        self.assertEqual(self.run_cmd(c, "f", "SEARCH RETURN (COUNT) KEYWORD Nothing")[0],
                         ['* ESEARCH (TAG "f") COUNT 0'])

    # -- CONDSTORE

    def test_modseq_rfc7162_and_rfc4731_examples(self):
        c = self.keys_mailbox("cond")
        ms = self.modseqs("cond")  # UID -> MODSEQ; message n has UID n + 1
        seq_modseq = {n: ms[n + 1] for n in range(1, 6)}
        floor = seq_modseq[2]
        found = [n for n in range(1, 6) if seq_modseq[n] >= floor]
        top = max(seq_modseq[n] for n in found)
        # the first CONDSTORE enabling command reports HIGHESTMODSEQ (RFC 7162 §3.1)
        untagged, tagged = self.run_cmd(c, "a", f'SEARCH MODSEQ "/flags/\\\\draft" all {floor}')
        self.assertEqual(untagged, ["* SEARCH " + " ".join(map(str, found))
                                    + f" (MODSEQ {top})"])
        self.assertEqual(tagged, "a OK SEARCH completed.")
        # the first CONDSTORE enabling command gets HIGHESTMODSEQ told (RFC
        # 7162 §3.1), once no expunge is held back for sequence numbers
        untagged = self.ok(c, "n", "NOOP")
        self.assertEqual(len(untagged), 1, untagged)
        self.assertRegex(untagged[0], r"^\* OK \[HIGHESTMODSEQ \d+\] ")
        # Example 16: nothing found, no MODSEQ; no HIGHESTMODSEQ the second time
        self.assertEqual(self.run_cmd(c, "t", "SEARCH OR NOT MODSEQ 1 LARGER 50000"),
                         (["* SEARCH"], "t OK SEARCH completed."))
        # RFC 4731 §3.2
        first, last = found[0], found[-1]
        self.assertEqual(self.run_cmd(c, "a1", f'SEARCH RETURN (MIN) MODSEQ "/flags/\\\\draft" all {floor}')[0],
                         [f'* ESEARCH (TAG "a1") MIN {first} MODSEQ {seq_modseq[first]}'])
        self.assertEqual(self.run_cmd(c, "a2", f'SEARCH RETURN (MAX) MODSEQ "/flags/\\\\draft" all {floor}')[0],
                         [f'* ESEARCH (TAG "a2") MAX {last} MODSEQ {seq_modseq[last]}'])
        self.assertEqual(self.run_cmd(c, "a3", f'SEARCH RETURN (MIN MAX) MODSEQ "/flags/\\\\draft" all {floor}')[0],
                         [f'* ESEARCH (TAG "a3") MIN {first} MAX {last} MODSEQ '
                          f'{max(seq_modseq[first], seq_modseq[last])}'])
        self.assertEqual(self.run_cmd(c, "a4", f'SEARCH RETURN (MIN COUNT) MODSEQ "/flags/\\\\draft" all {floor}')[0],
                         [f'* ESEARCH (TAG "a4") MIN {first} COUNT {len(found)} MODSEQ {top}'])
        # RFC 7162 Example 19
        self.assertEqual(self.run_cmd(c, "b", f"SEARCH RETURN (ALL) MODSEQ {floor}")[0],
                         [f'* ESEARCH (TAG "b") ALL {first}:{last} MODSEQ {top}'])

    # -- the session goes on

    def test_expunges_are_not_reported_during_search(self):
        a = self.keys_mailbox("expunge")
        b = self.login("expunge")
        self.ok(b, "s", "SELECT INBOX")
        self.ok(b, "c", "CLOSE")  # expunges message 3 (\Deleted)
        untagged = self.ok(a, "x", "SEARCH ALL")
        self.assertEqual(len(untagged), 1, untagged)
        self.assertTrue(untagged[0].startswith("* SEARCH"), untagged)
        self.assertEqual(self.run_cmd(a, "x2", "SEARCH 4:5")[0], ["* SEARCH 4 5"])
        # UID SEARCH is another command: the expunge may follow its answer
        # (RFC 9051 §7.5.1)
        self.assertEqual(self.run_cmd(a, "y", "UID SEARCH 4:5")[0], ["* SEARCH 5 6", "* 3 EXPUNGE"])
        self.assertEqual(self.ok(a, "n", "NOOP"), [])
        self.assertEqual(self.search(a, "z", "4"), [4])

    def test_bad_input_is_bad_and_the_session_goes_on(self):
        c = self.keys_mailbox("bad")
        bad = [
            ("SEARCH FOO", "Unknown search key."),
            ("SEARCH", "Missing search keys."),
            ("SEARCH CHARSET UTF-8", "Missing search keys."),
            ("SEARCH CHARSET", "CHARSET needs a charset name."),
            ("SEARCH BEFORE 32-Jan-2024", "Invalid date."),
            ("SEARCH SINCE 1-Foo-2024", "Invalid date."),
            ("SEARCH ON", "Search key needs an argument."),
            ("SEARCH FROM", "Search key needs an argument."),
            ("SEARCH HEADER Subject", "HEADER needs a field name and a string."),
            ("SEARCH NOT", "NOT needs a search key."),
            ("SEARCH OR SEEN", "OR needs two search keys."),
            ("SEARCH LARGER x", "Invalid size."),
            ("SEARCH 1:x", "Invalid sequence set."),
            ("SEARCH 0", "Invalid sequence set."),
            ("SEARCH UID 1,,2", "Invalid UID set."),
            ("SEARCH ()", "Empty search key list."),
            ('SEARCH "ALL"', "Search key expected."),
            ("SEARCH MODSEQ foo", "Invalid mod-sequence."),
            ('SEARCH MODSEQ "/flags/\\\\seen" 5', "Invalid MODSEQ entry."),
            ("SEARCH RETURN (FOO) ALL", "Invalid RETURN options."),
            ("SEARCH RETURN ALL", "Invalid RETURN options."),
            ("SEARCH " + "NOT " * 40 + "ALL", "Search keys nested too deeply."),
            ("SEARCH " + "OR ALL " * 40 + "ALL", "Search keys nested too deeply."),
            ("SEARCH " + " ".join(["SEEN"] * 1001), "Too many search keys."),
            ("SEARCH " + " ".join(["BODY x"] * 65), "Too many text search keys."),
        ]
        for i, (text, reason) in enumerate(bad):
            with self.subTest(text=text[:60]):
                self.assertEqual(self.run_cmd(c, f"b{i}", text), ([], f"b{i} BAD {reason}"))
        # parentheses deeper than the command parser allows
        untagged, tagged = self.run_cmd(c, "p", "SEARCH " + "(" * 20 + "ALL" + ")" * 20)
        self.assertTrue(tagged.startswith("p BAD "), tagged)
        self.assertEqual(self.search(c, "n", "(((SEEN)))"), [1])
        # not selected: no SEARCH
        self.ok(c, "u", "UNSELECT")
        self.assertTrue(self.run_cmd(c, "q", "SEARCH ALL")[1].startswith("q BAD "))
        self.ok(c, "z", "NOOP")

    # -- a big mailbox

    def big_mailbox(self, user, count, first_uid=1):
        words = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima "
                 "mike november oscar papa").split()
        msgs = []
        for i in range(1, count + 1):
            body = " ".join(words[(i * 7 + k * 3) % len(words)] for k in range(40))
            if i % 1000 == 0:
                body += " zanzibar"
            data = crlf(f"From: sender{i % 37}@example.org\nTo: me@example.org\n"
                        f"Subject: message {i}\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\n{body}\n")
            msgs.append((first_uid + i - 1, "S" if i % 3 else "", 1700000000 + i, data))
        write_maildir(os.path.join(self.srv.home, user, "Maildir"), msgs)
        c = self.login(user)
        c.cmd("s SELECT INBOX")
        untagged, tagged = c.read_until_tagged("s", timeout=120)
        self.assertIn(f"* {count} EXISTS", untagged)
        return c

    def test_ten_thousand_messages_and_another_users_noop(self):
        c = self.big_mailbox("big", 10000)
        # every number in one line, and ESEARCH's compact form
        self.assertEqual(self.search(c, "a", "ALL"), list(range(1, 10001)))
        self.assertEqual(self.run_cmd(c, "b", "SEARCH RETURN (ALL COUNT) UNSEEN")[0],
                         ['* ESEARCH (TAG "b") ALL ' + ",".join(str(i) for i in range(3, 10001, 3))
                          + " COUNT 3333"])
        self.assertEqual(self.search(c, "c", "TEXT zanzibar"), list(range(1000, 10001, 1000)))
        self.assertEqual(self.search(c, "d", "UID 9990:* BODY ravo"), list(range(9990, 10001)))
        # the full-text index narrows a rare word to its messages at once: far
        # less work than reading every text, as "ravo" (inside "bravo") needs
        t = time.monotonic()
        self.assertEqual(self.search(c, "r1", "TEXT \" zanzibar\""), list(range(1000, 10001, 1000)))
        narrowed = time.monotonic() - t
        t = time.monotonic()
        self.assertEqual(len(self.search(c, "r2", "TEXT ravo")), 10000)
        full = time.monotonic() - t
        self.assertLess(narrowed, full / 2, (narrowed, full))
        # Searches no index can narrow ("ravo" is inside "bravo"), pipelined,
        # keep the store busy; another user's NOOP on the same worker is
        # answered at once all the same.
        other = self.login("other")
        n = 6
        c.send(b"".join(b"w%d SEARCH OR BODY ravo%d TEXT harli%d\r\n" % (i, i, i)
                        for i in range(n)))
        delays = []
        for i in range(10):
            t = time.monotonic()
            other.cmd(f"n{i} NOOP")
            self.assertEqual(other.line(), f"n{i} OK NOOP completed.")
            delays.append(time.monotonic() - t)
            time.sleep(0.02)
        noops_done = time.monotonic()
        for i in range(n):
            untagged, tagged = c.read_until_tagged(f"w{i}", timeout=120)
            self.assertEqual(untagged, ["* SEARCH"])
        self.assertGreater(time.monotonic(), noops_done + 0.1,
                           "the searches ended too soon to tell")
        self.assertLess(max(delays), 0.1, delays)

    def test_big_answers_go_in_slices(self):
        # 10,000 UIDs of ten digits: each answer is 110 KB, written in slices;
        # three of them pipelined to a client that does not read yet make the
        # command wait for the output to drain
        first = 4000000001
        c = self.big_mailbox("slices", 10000, first_uid=first)
        c.send(b"a UID SEARCH ALL\r\nb UID SEARCH ALL\r\nc UID SEARCH UNSEEN\r\nd NOOP\r\n")
        time.sleep(1.0)
        uids = list(range(first, first + 10000))
        for tag, want in (("a", uids), ("b", uids), ("c", uids[2::3])):
            line = c.readline(timeout=60)
            self.assertEqual(line, ("* SEARCH " + " ".join(map(str, want)) + "\r\n").encode())
            self.assertEqual(c.line(), f"{tag} OK UID SEARCH completed.")
        self.assertEqual(c.line(), "d OK NOOP completed.")
        self.assertEqual(self.run_cmd(c, "e", f"UID SEARCH RETURN (MIN MAX COUNT) UID {first + 5}:*"),
                         ([f'* ESEARCH (TAG "e") UID MIN {first + 5} MAX {first + 9999} COUNT 9995'],
                          "e OK UID SEARCH completed."))


# --------------------------------------------------------------------------
# The same searches against Dovecot


class Dovecot:
    """Dovecot from Debian on a free loopback port, in a temporary directory,
    serving user "dove" from a Maildir the test writes."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="gannet-search-dovecot-")
        d = self.dir = self.tmp.name
        os.chmod(d, 0o755)
        self.port = free_port()
        os.makedirs(f"{d}/home/dove", 0o755)
        chown_tree(f"{d}/home")
        with open(f"{d}/passwd", "w") as f:
            f.write("dove:{PLAIN}dove-pw-1::::::\n")
        self.conf = f"{d}/dovecot.conf"
        with open(self.conf, "w") as f:
            f.write(f"base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n"
                    f"protocols = imap\nlisten = {HOST}\nssl = no\n"
                    "disable_plaintext_auth = no\nauth_mechanisms = plain\n"
                    f"passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n"
                    f"userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup "
                    f"home={d}/home/%u\n}}\n"
                    f"mail_location = maildir:{d}/home/%u/Maildir\n"
                    "service imap-login {\n  inet_listener imap {\n"
                    f"    port = {self.port}\n  }}\n  inet_listener imaps {{\n"
                    "    port = 0\n  }\n}\n")
        self.maildir = f"{d}/home/dove/Maildir"

    def __enter__(self):
        # the daemon keeps no pipe of ours open: its errors go to a file
        with open(f"{self.dir}/start.err", "w") as err:
            r = subprocess.run([DOVECOT, "-c", self.conf], stdout=subprocess.DEVNULL,
                               stderr=err, timeout=20, env=dict(os.environ, TZ="UTC"))
        if r.returncode != 0:
            with open(f"{self.dir}/start.err") as err:
                raise RuntimeError("dovecot did not start: " + err.read())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        subprocess.run([DOVECOT, "-c", self.conf, "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=20)
        pid_file = f"{self.dir}/run/master.pid"
        deadline = time.monotonic() + 10
        while os.path.exists(pid_file) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.tmp.cleanup()


def corpus_messages():
    """The MIME corpus and MESSAGES: (name, (uid, flags, date, bytes))."""
    names = sorted(n for n in os.listdir(CORPUS)
                   if n.endswith((".eml", ".txt")) and not n.endswith(".expected"))
    out = []
    for i, n in enumerate(names, 1):
        with open(os.path.join(CORPUS, n), "rb") as f:
            data = f.read()
        flags = "".join(letter for k, letter in ((2, "F"), (3, "S"), (5, "R"), (7, "T"))
                        if i % k == 0)
        out.append((n, (i, flags, 1500000000 + i * 86400 * 17, data)))
    for j, (_, _, data) in enumerate(MESSAGES, len(out) + 1):
        out.append((f"MESSAGES[{j - len(names) - 1}]",
                    (j, "S" if j % 2 else "", 1500000000 + j * 86400 * 17, data)))
    return out


# Searches whose results gannet and Dovecot must agree on, over the corpus.
COMPARED = [
    "ALL", "SEEN", "UNSEEN FLAGGED", "OR ANSWERED DELETED", "NOT FLAGGED",
    "BEFORE 1-Jan-2019", "SINCE 1-Jan-2020", "ON 21-Jul-2017", "LARGER 5000", "SMALLER 1000",
    "SENTBEFORE 1-Jan-2000", "SENTSINCE 1-Jan-2010", "SENTON 21-Jul-1997", "SENTON 25-Sep-1992",
    "FROM smith", "FROM jeff", "FROM .com", "FROM ~jürgen", "FROM \"doe, john\"", "FROM boss",
    "TO alice", "TO undisclosed", "TO friends:", "CC carol", "CC .org", "BCC secret",
    "BCC \"group:ed\"", "SUBJECT test", "SUBJECT re:", "SUBJECT ~äpfel", "SUBJECT \"  \"",
    "HEADER Message-ID \"@\"", "HEADER X-Mailer \"\"", "HEADER Content-Type multipart",
    "HEADER X-Custom value", "HEADER Received \"\"", "HEADER From \"(the boss)\"",
    "BODY ello", "BODY the", "BODY \"this is\"", "BODY meeting", "BODY ~отпуск",
    "BODY vacation", "BODY noon", "BODY \"shell of\"", "BODY abuse", "BODY spam",
    "BODY \"content-type\"", "BODY \"subject: re\"", "BODY \"feedback-type\"",
    "TEXT smith", "TEXT ello", "TEXT \"hello world\"", "TEXT nut", "TEXT \"subject: re\"",
    "TEXT \"content-type: application\"", "TEXT \"boundary=\"", "TEXT \"feedback-type\"",
    "OR FROM smith SUBJECT test", "NOT BODY the", "2:20 UNSEEN", "UID 10:30 NOT SEEN",
]

# Where the two differ on purpose: criteria -> (the messages only Dovecot
# finds, those only gannet finds).
NO_DATE = {"delivery-status-multiple-blank-lines.txt", "delivery-status2.txt",
           "edge-broken-content-type.eml", "edge-repeated-nested.eml",
           "edge-repeated-sender.eml", "mbox_unmunged.1.eml", "mbox_unmunged.2.eml",
           "multipart-related-mhtml.txt", "rfc2060.txt", "MESSAGES[2]"}
DIFFERENCES = {
    # A message without a Date: field has no date to be before anything;
    # Dovecot takes it for 1 January 1970.
    "SENTBEFORE 1-Jan-2000": (NO_DATE, set()),
    # "Date: Thu, 13 Feb 1969": Dovecot has it since 2010; gannet reads no
    # date before 1970, so it is neither before nor since.
    "SENTSINCE 1-Jan-2010": ({"edge-groups.eml"}, set()),
    # "nut" is in the base64 of a 7z attachment: Dovecot searches the decoded
    # bytes of every part, gannet the text and message parts (RFC 9051
    # §6.4.4 lets a server leave the others out).
    "TEXT nut": ({"mbox_issue1189.2.eml"}, set()),
    # In the markup of HTML parts (<meta http-equiv="Content-Type">): gannet
    # searches the text an HTML part shows, Dovecot its source.
    "BODY \"content-type\"": ({"bounce.txt", "issue358.txt", "multipart-related-mhtml.txt"},
                              set()),
}


@unittest.skipUnless(os.access(DOVECOT, os.X_OK) and os.geteuid() == 0,
                     "needs Dovecot from Debian and root to start it")
class SearchLikeDovecot(ServerTestCase):
    SERVER_SETTINGS = {"workers": "1"}
    SERVER_KW = {"extra_users": ["dove:{PLAIN}dove-pw-1::::::"]}

    def session(self, port, tls):
        c = LineClient(port, tls=tls)
        self.addCleanup(c.close)
        c.line()
        c.cmd("l LOGIN dove dove-pw-1")
        self.assertTrue(c.read_until_tagged("l")[1].startswith("l OK"))
        c.cmd("s SELECT INBOX")
        self.assertTrue(c.read_until_tagged("s", timeout=60)[1].startswith("s OK"))
        return c

    def test_same_results_as_dovecot(self):
        named = corpus_messages()
        msgs = [m for _, m in named]
        write_maildir(os.path.join(self.srv.home, "dove", "Maildir"), msgs)
        with Dovecot() as dv:
            write_maildir(dv.maildir, msgs, dovecot=True)
            g = self.session(self.srv.ports["imaps"], True)
            d = self.session(dv.port, False)
            for i, criteria in enumerate(COMPARED):
                results = []
                for c in (g, d):
                    c.send(literal_command(f"c{i}", f"SEARCH {criteria}"))
                    untagged, tagged = c.read_until_tagged(f"c{i}", timeout=60)
                    self.assertTrue(tagged.startswith(f"c{i} OK"), f"{criteria}: {tagged}")
                    lines = [numbers(l) for l in untagged if l.startswith("* SEARCH")]
                    self.assertEqual(len(lines), 1, untagged)
                    results.append({named[n - 1][0] for n in lines[0]})
                with self.subTest(criteria=criteria):
                    ours, theirs = results
                    self.assertEqual((theirs - ours, ours - theirs),
                                     DIFFERENCES.get(criteria, (set(), set())))


if __name__ == "__main__":
    unittest.main()
