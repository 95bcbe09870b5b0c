"""FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9, §7.5.2; BINARY of RFC 3516;
MODSEQ and CHANGEDSINCE of RFC 7162): every data item, against the real
binary, compared with what Dovecot 2.3 answers for the same messages where it
is installed; the RFC's example exchanges; and a 50 MB message sent with the
worker's memory growing by less than 2 MiB."""

import hashlib
import imaplib
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import GANNET, REPO, SANITIZED, ServerTestCase, password
from imapwire import DovecotImap, WireReader, body_parts, lower_strings, parse_fetch
from test_command_budget import reset_peak, status_kib

CORPUS = os.path.join(REPO, "tests", "data", "mime")

USERS = ("fa", "fb", "fc", "fd", "fe", "ff", "fg", "fh", "fi", "fj", "fk", "fl", "fm", "fn", "fw",
         "fo", "fp", "fq", "fr", "fs", "ft", "fu", "fv")

SIMPLE = (b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: hello\r\n"
          b"Date: Wed, 17 Jul 1996 02:23:25 -0700\r\nMessage-ID: <1@example.org>\r\n\r\n"
          b"Hi Bob.\r\nSecond line.\r\n")

MULTIPART = (b"From: a@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=XX\r\n\r\npreamble\r\n"
             b"--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             b"aGVsbG8gd29ybGQ=\r\n"
             b"--XX\r\nContent-Type: application/x-thing\r\nContent-Transfer-Encoding: x-weird\r\n"
             b"\r\nzzz\r\n"
             b"--XX\r\nContent-Type: message/rfc822\r\n\r\n"
             b"From: inner@example.org\r\nSubject: inner\r\n\r\ninner body\r\n"
             b"--XX\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Transfer-Encoding: quoted-printable\r\n\r\nab=3Dc=\r\nd=00e\r\n"
             b"--XX--\r\nepilogue\r\n")


def corpus_messages():
    names = sorted(n for n in os.listdir(CORPUS)
                   if not re.search(r"\.(expected|gannet-differs|sh|py|md)$", n))
    out = []
    for n in names:
        with open(os.path.join(CORPUS, n), "rb") as f:
            out.append((n, f.read()))
    return out


class Session:
    """A logged-in raw connection that reads whole responses."""

    def __init__(self, srv, user, name="imaps", client=None):
        self.c = client or srv.imap_logged_in(user, name=name)
        self.reader = WireReader(self.c.sock.recv)
        self.reader.buf = self.c.buf
        self.n = 0

    def send(self, data):
        self.c.send(data)

    def command(self, line, timeout=None):
        self.c.cmd(line)
        return self.reader.until_tagged(line.split()[0], timeout)

    def append(self, message, flags="", date=""):
        self.n += 1
        tag = f"ap{self.n}"
        extra = (flags + " " if flags else "") + (f'"{date}" ' if date else "")
        self.send(f"{tag} APPEND INBOX {extra}{{{len(message)}+}}\r\n".encode() + message
                  + b"\r\n")
        _, tagged = self.reader.until_tagged(tag)
        if not tagged.startswith(f"{tag} OK"):
            raise AssertionError(tagged)

    def fetch(self, line):
        """{seq: items} of a FETCH (responses merged per message), and the tagged line."""
        responses, tagged = self.command(line)
        out = {}
        for r in responses:
            if re.match(rb"\* \d+ FETCH ", r):
                seq, items = parse_fetch(r)
                out.setdefault(seq, {}).update(items)
        return out, tagged

    def close(self):
        self.c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FetchTest(ServerTestCase):
    SERVER_SETTINGS = {"workers": "1", "mail_max_message_size": "60M"}
    SERVER_KW = {"extra_users": [f"{u}:{{PLAIN}}{u}-pw-1::::::" for u in USERS]}

    def session(self, user, name="imaps"):
        s = Session(self.srv, user, name)
        self.addCleanup(s.close)
        return s

    def dovecot(self):
        tmp = tempfile.TemporaryDirectory(prefix="gannet-dovecot-")
        self.addCleanup(tmp.cleanup)
        os.chmod(tmp.name, 0o755)
        d = DovecotImap(tmp.name)
        self.addCleanup(d.close)
        return d

    def deliver(self, user, data):
        r = subprocess.run([GANNET, "deliver", "-u", user, "-c", self.srv.conf], input=data,
                           capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))

    def assertOk(self, tagged, tag):
        self.assertTrue(tagged.startswith(f"{tag} OK "), tagged)

    # ---- the same answers as Dovecot ----

    def items_for(self, structure, multipart):
        """What to ask for one message: the whole, its header and text, and
        every part with its MIME header, its HEADER and TEXT when it is a
        message, and BINARY for the leaves."""
        items = ["BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]", "RFC822.SIZE",
                 "BODY.PEEK[HEADER.FIELDS (From To Subject Content-Type)]",
                 "BODY.PEEK[HEADER.FIELDS.NOT (Received Subject Content-Type)]",
                 "BODY.PEEK[]<0.10>", "BODY.PEEK[]<17.100>", "BODY.PEEK[TEXT]<3.7>",
                 "BODY.PEEK[HEADER.FIELDS (Subject)]<2.5>", "BODY.PEEK[99]"]
        if not multipart and not (isinstance(structure[0], bytes) and
                                  structure[0].lower() == b"message"):
            # BINARY[] of a whole message whose body is a leaf part. Of a
            # multipart or message/rfc822 one, Dovecot decodes every part
            # inside; gannet sends it as it is (RFC 9051 §6.4.5 defines
            # BINARY for leaf parts only)
            items += ["BINARY.PEEK[]", "BINARY.SIZE[]"]
        for path, kind in body_parts(structure):
            sec = ".".join(map(str, path))
            items += [f"BODY.PEEK[{sec}]", f"BODY.PEEK[{sec}.MIME]", f"BODY.PEEK[{sec}]<1.20>"]
            if kind in ("message/rfc822", "message/global"):
                items += [f"BODY.PEEK[{sec}.HEADER]", f"BODY.PEEK[{sec}.TEXT]",
                          f"BODY.PEEK[{sec}.HEADER.FIELDS (Subject)]"]
            elif not kind.startswith("multipart/"):
                items += [f"BINARY.PEEK[{sec}]", f"BINARY.SIZE[{sec}]",
                          f"BINARY.PEEK[{sec}]<2.5>"]
        return items

    def test_corpus_matches_dovecot(self):
        """Every corpus message, every section: byte for byte what Dovecot sends."""
        dov = self.dovecot()
        s = self.session("fa")
        messages = corpus_messages()
        messages.append(("multipart", MULTIPART))
        for _, m in messages:
            s.append(m)
            dov.append(m)
        s.command("s SELECT INBOX")
        dov.command("s SELECT INBOX")
        compared = 0
        for seq, (name, _) in enumerate(messages, 1):
            got, tagged = s.fetch(f"b{seq} FETCH {seq} (BODYSTRUCTURE ENVELOPE BODY)")
            self.assertOk(tagged, f"b{seq}")
            structure = got[seq]["BODYSTRUCTURE"]
            theirs = dov.command(f"b{seq} FETCH {seq} (BODYSTRUCTURE ENVELOPE BODY)")[0]
            dv = parse_fetch(theirs[0])[1]
            for item in ("ENVELOPE", "BODY", "BODYSTRUCTURE"):
                self.assertEqual(lower_strings(got[seq][item]), lower_strings(dv[item]),
                                 f"{name} {item}")
            multipart = isinstance(structure[0], list)
            binary = {}  # Dovecot's BINARY literals of this message
            for k, item in enumerate(self.items_for(structure, multipart)):
                with self.subTest(message=name, item=item):
                    tag = f"i{seq}x{k}"
                    ours, our_tagged = s.fetch(f"{tag} FETCH {seq} ({item})")
                    resp, their_tagged = dov.command(f"{tag} FETCH {seq} ({item})")
                    theirs = {}
                    for r in resp:
                        if re.match(rb"\* \d+ FETCH ", r):
                            theirs.update(parse_fetch(r)[1])
                    ours = ours.get(seq, {})
                    if item.startswith("BINARY.SIZE"):
                        # RFC 9051 §7.5.2: the size of what BINARY sends. Dovecot
                        # 2.3 answers other numbers at times (and UNKNOWN-CTE for
                        # a part of a message with another part it cannot
                        # decode): the reference is its BINARY literal
                        section = item[len("BINARY.SIZE"):]
                        if f"BINARY{section}" in binary:
                            self.assertOk(our_tagged, tag)
                            self.assertEqual(ours, {item: len(binary[f"BINARY{section}"])})
                            compared += 1
                            continue
                    self.assertEqual(our_tagged.split()[1], their_tagged.split()[1],
                                     f"{our_tagged} / {their_tagged}")
                    if "UNKNOWN-CTE" in their_tagged:
                        self.assertIn("[UNKNOWN-CTE]", our_tagged)
                        continue
                    ours.pop("UID", None)
                    theirs.pop("UID", None)
                    self.assertEqual(ours, theirs)
                    binary.update({k: v for k, v in theirs.items() if k.startswith("BINARY[")})
                    compared += 1
        self.assertGreater(compared, 1000)

    def test_bare_lf_delivery(self):
        """A message delivered with bare LF line ends goes out with CRLF, and
        RFC822.SIZE is the size of what goes out (as Dovecot does)."""
        lf = b"From: a@example.org\nSubject: unix\n\nline one\nline two\n\nlast\n"
        crlf = lf.replace(b"\n", b"\r\n")
        self.deliver("fb", lf)
        s = self.session("fb")
        s.command("s SELECT INBOX")
        got, tagged = s.fetch("f FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT] "
                              "BODY.PEEK[HEADER] BODY.PEEK[]<8.12> BINARY.PEEK[1])")
        self.assertOk(tagged, "f")
        items = got[1]
        self.assertEqual(items["BODY[]"], crlf)
        self.assertEqual(items["RFC822.SIZE"], len(crlf))
        self.assertEqual(items["BODY[TEXT]"], b"line one\r\nline two\r\n\r\nlast\r\n")
        self.assertEqual(items["BODY[HEADER]"], b"From: a@example.org\r\nSubject: unix\r\n\r\n")
        self.assertEqual(items["BODY[]<8>"], crlf[8:20])
        self.assertEqual(items["BINARY[1]"], b"line one\r\nline two\r\n\r\nlast\r\n")
        dov = self.dovecot()
        dov.append(lf)
        dov.command("s SELECT INBOX")
        theirs = parse_fetch(dov.command("f FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT] "
                                         "BODY.PEEK[HEADER] BODY.PEEK[]<8.12> "
                                         "BINARY.PEEK[1])")[0][0])[1]
        self.assertEqual(items, theirs)

    def test_delivered_crlf_message_is_sent_as_stored(self):
        self.deliver("fc", SIMPLE)
        s = self.session("fc")
        s.command("s SELECT INBOX")
        got, tagged = s.fetch("f FETCH 1 (BODY.PEEK[] RFC822.SIZE)")
        self.assertOk(tagged, "f")
        self.assertEqual(got[1]["BODY[]"], SIMPLE)
        self.assertEqual(got[1]["RFC822.SIZE"], len(SIMPLE))

    # ---- the RFC's examples ----

    def test_rfc9051_sample_connection(self):
        """§8: a003 fetch 12 full, a004 fetch 12 body[header]. The example's
        RFC822.SIZE (4286) does not add up with its own header (342 octets)
        and body (3028 octets, 92 lines): the real size is answered. Its
        Message-ID is written with the "u" that the example's ENVELOPE lost,
        and the addresses of a list follow each other without a space, as
        §9's env-cc = "(" 1*address ")" has them (and Dovecot sends them)."""
        header = (b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
                  b"From: Terry Gray <gray@cac.washington.edu>\r\n"
                  b"Subject: IMAP4rev2 WG mtg summary and minutes\r\n"
                  b"To: imap@cac.washington.edu\r\n"
                  b"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
                  b"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
                  b"MIME-Version: 1.0\r\n"
                  b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n")
        self.assertEqual(len(header), 342)
        line = b"x" * 30 + b"\r\n"
        body = line * 91 + b"y" * (3028 - 32 * 91 - 2) + b"\r\n"
        self.assertEqual((len(body), body.count(b"\n")), (3028, 92))
        s = self.session("fd")
        for i in range(11):
            s.append(SIMPLE)
        s.append(header + body, flags="(\\Seen)", date="17-Jul-1996 02:44:25 -0700")
        s.command("a002 select inbox")
        untagged, tagged = s.command("a003 fetch 12 full")
        self.assertEqual(tagged, "a003 OK FETCH completed.")
        self.assertEqual(untagged, [
            b'* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 09:44:25 +0000" '
            b'RFC822.SIZE 3370 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" '
            b'"IMAP4rev2 WG mtg summary and minutes" '
            b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
            b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
            b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
            b'((NIL NIL "imap" "cac.washington.edu")) '
            b'((NIL NIL "minutes" "CNRI.Reston.VA.US")'
            b'("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL '
            b'"<B27397-0100000@cac.washington.edu>") '
            b'BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7bit" 3028 92))\r\n'])
        untagged, tagged = s.command("a004 fetch 12 body[header]")
        self.assertEqual(tagged, "a004 OK FETCH completed.")
        self.assertEqual(untagged, [b"* 12 FETCH (BODY[HEADER] {342}\r\n" + header + b")\r\n"])

    def test_rfc9051_fetch_example(self):
        """§6.4.5: A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)]),
        which sets \\Seen: the FLAGS show it."""
        s = self.session("fe")
        for i in range(5):
            s.append(SIMPLE.replace(b"hello", b"hello %d" % i))
        s.command("s SELECT INBOX")
        untagged, tagged = s.command("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])")
        self.assertEqual(tagged, "A654 OK FETCH completed.")
        fields = (b"From: Alice <alice@example.org>\r\n"
                  b"Date: Wed, 17 Jul 1996 02:23:25 -0700\r\n\r\n")
        self.assertEqual(untagged, [
            b"* %d FETCH (FLAGS (\\Seen) BODY[HEADER.FIELDS (DATE FROM)] {%d}\r\n%s)\r\n"
            % (n, len(fields), fields) for n in (2, 3, 4)])

    def test_rfc9051_uid_fetch_example(self):
        """§6.4.9: A999 UID FETCH 4827313:4828442 FLAGS, with this mailbox's
        UIDs: the UIDs come with the answers; UIDs beyond the mailbox give
        nothing, and n:* includes the last UID even when n is above it."""
        s = self.session("ff")
        for i in range(4):
            s.append(SIMPLE, flags="(\\Seen)")
        s.command("s SELECT INBOX")
        untagged, tagged = s.command("A999 UID FETCH 2:3 FLAGS")
        self.assertEqual(tagged, "A999 OK UID FETCH completed.")
        self.assertEqual(untagged, [b"* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n",
                                    b"* 3 FETCH (UID 3 FLAGS (\\Seen))\r\n"])
        untagged, tagged = s.command("b UID FETCH 100:200 FLAGS")
        self.assertEqual((untagged, tagged), ([], "b OK UID FETCH completed."))
        untagged, tagged = s.command("c UID FETCH 7:* UID")
        self.assertEqual(untagged, [b"* 4 FETCH (UID 4)\r\n"])
        untagged, tagged = s.command("e UID FETCH 1,3 (UID FLAGS)")
        self.assertEqual(untagged, [b"* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n",
                                    b"* 3 FETCH (UID 3 FLAGS (\\Seen))\r\n"])

    def test_section_layout_of_rfc9051(self):
        """§6.4.5.1's example of a complex message: every specifier it lists."""
        msg = NESTED
        s = self.session("fg")
        s.append(msg)
        s.command("s SELECT INBOX")
        sections = ["HEADER", "TEXT", "1", "2", "3", "3.HEADER", "3.TEXT", "3.1", "3.2", "4",
                    "4.1", "4.1.MIME", "4.2", "4.2.HEADER", "4.2.TEXT", "4.2.1", "4.2.2",
                    "4.2.2.1", "4.2.2.2"]
        got, tagged = s.fetch("f FETCH 1 (" + " ".join(f"BODY.PEEK[{x}]" for x in sections)
                              + ")")
        self.assertOk(tagged, "f")
        items = got[1]
        self.assertEqual(items["BODY[1]"], b"part 1")
        self.assertEqual(items["BODY[3.1]"], b"part 3.1")
        self.assertEqual(items["BODY[3.HEADER]"], b"Subject: three\r\n"
                         b"Content-Type: multipart/mixed; boundary=three\r\n\r\n")
        self.assertEqual(items["BODY[4.1.MIME]"], b"Content-Type: image/gif\r\n\r\n")
        self.assertEqual(items["BODY[4.2.2.2]"], b"part 4.2.2.2")
        self.assertTrue(items["BODY[4.2.TEXT]"].startswith(b"--fourtwo\r\n"))
        dov = self.dovecot()
        dov.append(msg)
        dov.command("s SELECT INBOX")
        theirs = parse_fetch(dov.command("f FETCH 1 (" + " ".join(
            f"BODY.PEEK[{x}]" for x in sections) + ")")[0][0])[1]
        self.assertEqual(items, theirs)

    # ---- the data items ----

    def test_imaplib_every_item(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.srv.ports["imaps"], ssl_context=self.srv.ctx())
        m.login("fh", password("fh"))
        self.assertEqual(m.append("INBOX", r"(\Flagged $Label)",
                                  imaplib.Time2Internaldate(1700000000), SIMPLE)[0], "OK")
        self.assertEqual(m.append("INBOX", None, None, MULTIPART)[0], "OK")
        m.select("INBOX")
        cases = {
            "UID": rb"1 \(UID 1\)",
            "FLAGS": rb"1 \(FLAGS \(\\Flagged \$Label\)\)",
            "INTERNALDATE": rb'1 \(INTERNALDATE "14-Nov-2023 22:13:20 \+0000"\)',
            "RFC822.SIZE": rb"1 \(RFC822.SIZE %d\)" % len(SIMPLE),
            "ENVELOPE": rb'1 \(ENVELOPE \("Wed, 17 Jul 1996 02:23:25 -0700" "hello" '
                        rb'\(\("Alice" NIL "alice" "example.org"\)\)',
            "BODY": rb'1 \(BODY \("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" 23 2\)\)',
            "BODYSTRUCTURE": rb'1 \(BODYSTRUCTURE \("text" "plain" \("charset" "us-ascii"\) NIL '
                             rb'NIL "7bit" 23 2 NIL NIL NIL NIL\)\)',
            "MODSEQ": rb"1 \(MODSEQ \(\d+\)\)",
            "FAST": rb'1 \(FLAGS \(\\Flagged \$Label\) INTERNALDATE "[^"]+" RFC822.SIZE \d+\)',
            "ALL": rb'1 \(FLAGS \(.*\) INTERNALDATE "[^"]+" RFC822.SIZE \d+ ENVELOPE \(',
            "FULL": rb'1 \(FLAGS \(.*\) INTERNALDATE .* ENVELOPE \(.*\) BODY \("text"',
        }
        for item, pattern in cases.items():
            typ, data = m.fetch("1", item)
            self.assertEqual(typ, "OK", item)
            self.assertRegex(data[0], pattern, item)
        literals = {
            "BODY.PEEK[]": SIMPLE,
            "BODY.PEEK[HEADER]": SIMPLE[:SIMPLE.index(b"\r\n\r\n") + 4],
            "BODY.PEEK[TEXT]": b"Hi Bob.\r\nSecond line.\r\n",
            "BODY.PEEK[1]": b"Hi Bob.\r\nSecond line.\r\n",
            "BODY.PEEK[1.MIME]": SIMPLE[:SIMPLE.index(b"\r\n\r\n") + 4],
            "BODY.PEEK[HEADER.FIELDS (SUBJECT)]": b"Subject: hello\r\n\r\n",
            "BODY.PEEK[HEADER.FIELDS.NOT (From Date Message-ID)]":
                b"To: bob@example.org\r\nSubject: hello\r\n\r\n",
            "BODY.PEEK[]<0.10>": SIMPLE[:10],
            "RFC822.HEADER": SIMPLE[:SIMPLE.index(b"\r\n\r\n") + 4],
            "BINARY.PEEK[1]": b"Hi Bob.\r\nSecond line.\r\n",
        }
        for item, want in literals.items():
            typ, data = m.fetch("1", f"({item})")
            self.assertEqual(typ, "OK", item)
            self.assertEqual(data[0][1], want, item)
        typ, data = m.fetch("1", "(BINARY.SIZE[1])")
        self.assertRegex(data[0], rb"BINARY.SIZE\[1\] 23")
        # the multipart: a part decoded, one with an unknown encoding refused
        typ, data = m.fetch("2", "(BINARY.PEEK[1] BODY.PEEK[1])")
        self.assertEqual((data[0][1], data[1][1]), (b"hello world", b"aGVsbG8gd29ybGQ="))
        typ, data = m.fetch("2", "(BINARY.PEEK[2])")
        self.assertEqual(typ, "NO")
        self.assertRegex(data[-1], rb"^\[UNKNOWN-CTE\] ")
        # RFC822 and RFC822.TEXT set \Seen, as BODY[] does
        typ, data = m.fetch("1", "(RFC822.TEXT)")
        self.assertEqual(data[0][1], b"Hi Bob.\r\nSecond line.\r\n")
        self.assertIn(rb"\Seen", data[0][0])
        typ, data = m.fetch("2", "RFC822")
        self.assertEqual(data[0][1], MULTIPART)
        m.logout()

    def test_partial_fetches(self):
        s = self.session("fi")
        s.append(SIMPLE)
        s.command("s SELECT INBOX")
        got, _ = s.fetch("a FETCH 1 (BODY.PEEK[]<0.10> BODY.PEEK[]<10.5> BODY.PEEK[TEXT]<3.4>)")
        self.assertEqual(got[1], {"BODY[]<0>": SIMPLE[:10], "BODY[]<10>": SIMPLE[10:15],
                                  "BODY[TEXT]<3>": b"Bob."})
        # RFC 9051 §6.4.5: <0.2048> of a shorter message is BODY[]<0>, truncated
        untagged, _ = s.command("b FETCH 1 BODY.PEEK[]<0.2048>")
        self.assertEqual(untagged, [b"* 1 FETCH (BODY[]<0> {%d}\r\n%s)\r\n"
                                    % (len(SIMPLE), SIMPLE)])
        # beyond the end: an empty string
        untagged, _ = s.command("c FETCH 1 BODY.PEEK[]<5000.10>")
        self.assertEqual(untagged, [b"* 1 FETCH (BODY[]<5000> {0}\r\n)\r\n"])
        # HEADER.FIELDS: the substring of the subset
        untagged, _ = s.command("d FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject To)]<4.12>")
        self.assertEqual(untagged, [b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT TO)]<4> {12}\r\n"
                                    b"bob@example.)\r\n"])

    def test_seen_set_by_body_not_by_peek(self):
        s = self.session("fj")
        for _ in range(3):
            s.append(SIMPLE)
        s.command("s SELECT INBOX")
        untagged, _ = s.command("a FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)] FLAGS)")
        self.assertEqual(untagged, [b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\n"
                                    b"Subject: hello\r\n\r\n FLAGS ())\r\n"])
        # BODY[] sets \Seen and says so, FLAGS not even asked for
        untagged, _ = s.command("b FETCH 1 BODY[TEXT]")
        self.assertEqual(untagged, [b"* 1 FETCH (FLAGS (\\Seen) BODY[TEXT] {23}\r\n"
                                    b"Hi Bob.\r\nSecond line.\r\n)\r\n"])
        # already \Seen: nothing more to say
        untagged, _ = s.command("c FETCH 1 BODY[TEXT]<0.2>")
        self.assertEqual(untagged, [b"* 1 FETCH (BODY[TEXT]<0> {2}\r\nHi)\r\n"])
        # RFC822.HEADER and BINARY.PEEK peek; BINARY does not
        s.command("d FETCH 2 (RFC822.HEADER BINARY.PEEK[1] BINARY.SIZE[1])")
        self.assertEqual(s.fetch("e FETCH 2 FLAGS")[0][2]["FLAGS"], [])
        untagged, _ = s.command("f FETCH 2 BINARY[1]")
        self.assertTrue(untagged[0].startswith(b"* 2 FETCH (FLAGS (\\Seen) BINARY[1] {23}"))
        # a mailbox opened with EXAMINE is read-only: nothing is set
        s.command("g EXAMINE INBOX")
        untagged, _ = s.command("h FETCH 3 (BODY[] FLAGS)")
        self.assertIn(b"FLAGS ()", untagged[0])
        s.command("i SELECT INBOX")
        self.assertEqual(s.fetch("j FETCH 3 FLAGS")[0][3]["FLAGS"], [])

    def test_binary(self):
        s = self.session("fk")
        s.append(MULTIPART)
        nul = (b"From: a@example.org\r\nMIME-Version: 1.0\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\nYQBi\r\n")
        s.append(nul)
        s.command("s SELECT INBOX")
        untagged, tagged = s.command("a FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[4])")
        self.assertOk(tagged, "a")
        # 8-bit data without NUL is a string, with a NUL a literal8 (RFC 9051 §7.5.2)
        self.assertEqual(untagged, [b"* 1 FETCH (BINARY[1] {11}\r\nhello world "
                                    b"BINARY.SIZE[1] 11 BINARY[4] ~{7}\r\nab=cd\x00e)\r\n"])
        untagged, tagged = s.command("b FETCH 1 BINARY.PEEK[2]")
        self.assertEqual(tagged, "b NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding, the part "
                                 "cannot be decoded.")
        untagged, tagged = s.command("c FETCH 2 (BINARY.PEEK[] BINARY.PEEK[1] BODY.PEEK[1])")
        self.assertOk(tagged, "c")
        self.assertEqual(untagged, [
            b"* 2 FETCH (BINARY[] ~{80}\r\nFrom: a@example.org\r\nMIME-Version: 1.0\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\na\x00b BINARY[1] ~{3}\r\na\x00b "
            b"BODY[1] {6}\r\nYQBi\r\n)\r\n"])
        # the message/rfc822 part is not decoded: it has no encoding of its own
        got, _ = s.fetch("d FETCH 1 BINARY.PEEK[3]")
        self.assertEqual(got[1]["BINARY[3]"],
                         b"From: inner@example.org\r\nSubject: inner\r\n\r\ninner body")

    def test_nul_in_a_body_is_never_sent(self):
        """IMAP strings cannot hold NUL (RFC 9051 §4.3): BODY[] sends 0x80
        for it, as Dovecot does; BINARY sends it in a literal8."""
        msg = b"From: a@example.org\r\nContent-Type: application/octet-stream\r\n" \
              b"Content-Transfer-Encoding: binary\r\n\r\na\x00b\r\n"
        s = self.session("fl")
        s.append(msg)
        s.command("s SELECT INBOX")
        got, _ = s.fetch("a FETCH 1 (BODY.PEEK[TEXT] BINARY.PEEK[1])")
        self.assertEqual(got[1], {"BODY[TEXT]": b"a\x80b\r\n", "BINARY[1]": b"a\x00b\r\n"})

    def test_changedsince_and_modseq(self):
        """RFC 7162 §3.1.4: only what changed after the given mod-sequence,
        each with its MODSEQ."""
        s = self.session("fm")
        for _ in range(3):
            s.append(SIMPLE)
        s.command("s SELECT INBOX")
        modseqs = {seq: v["MODSEQ"][0] for seq, v in s.fetch("a FETCH 1:* MODSEQ")[0].items()}
        top = max(modseqs.values())
        s.command("b FETCH 2 BODY[TEXT]")  # sets \Seen: a new MODSEQ
        got, tagged = s.fetch(f"c FETCH 1:* (FLAGS) (CHANGEDSINCE {top})")
        self.assertEqual(tagged, "c OK FETCH completed.")
        self.assertEqual(list(got), [2])
        self.assertEqual(got[2]["FLAGS"], ["\\Seen"])
        self.assertGreater(got[2]["MODSEQ"][0], top)
        got, _ = s.fetch(f"d UID FETCH 1:* (FLAGS) (CHANGEDSINCE {got[2]['MODSEQ'][0]})")
        self.assertEqual(got, {})

    def test_condstore_seen_and_vanished(self):
        """RFC 7162 §3.2.4: once CONDSTORE is on, a message a FETCH gives
        \\Seen goes out with its UID and MODSEQ; §3.2.6: UID FETCH's VANISHED
        modifier tells the UIDs expunged since CHANGEDSINCE, before the
        FETCH responses, and needs ENABLE QRESYNC."""
        s = self.session("ft")
        for _ in range(4):
            s.append(SIMPLE)
        s.command("s SELECT INBOX")
        self.assertRegex(s.command("v UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)")[1],
                         r"^v BAD ")
        s.command("a FETCH 1 MODSEQ")  # a CONDSTORE enabling command
        untagged, tagged = s.command("b FETCH 2 BODY[TEXT]<0.2>")
        self.assertEqual(tagged, "b OK FETCH completed.")
        self.assertEqual(len(untagged), 1)
        self.assertRegex(untagged[0], rb"^\* 2 FETCH \(FLAGS \(\\Seen\) UID 2 MODSEQ \(\d+\) "
                                      rb"BODY\[TEXT\]<0> \{2\}\r\nHi\)\r\n$")
        top = max(v["MODSEQ"][0] for v in s.fetch("c FETCH 1:* MODSEQ")[0].values())
        s.command("d STORE 3 +FLAGS.SILENT (\\Deleted)")
        self.assertOk(s.command("e EXPUNGE")[1], "e")
        self.assertEqual(s.command("f ENABLE QRESYNC")[1], "f OK ENABLE completed.")
        for bad in ("FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)",
                    "UID FETCH 1:* FLAGS (VANISHED)",
                    "UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED VANISHED)"):
            self.assertRegex(s.command(f"g {bad}")[1], r"^g BAD ", bad)
        untagged, tagged = s.command(f"h UID FETCH 1:* FLAGS (CHANGEDSINCE {top} VANISHED)")
        self.assertEqual(tagged, "h OK UID FETCH completed.")
        self.assertEqual(untagged, [b"* VANISHED (EARLIER) 3\r\n"])

    def test_flags_changed_elsewhere_told_once(self):
        """What another session changed is told once, whether by the FETCH
        that set \\Seen or at its end, and this FETCH's \\Seen only with its
        message."""
        s = self.session("fu")
        for _ in range(3):
            s.append(SIMPLE)
        s.command("s SELECT INBOX")
        other = self.session("fu")
        other.command("s SELECT INBOX")
        self.assertOk(other.command("t STORE 3 +FLAGS.SILENT (\\Flagged)")[1], "t")
        untagged, tagged = s.command("a FETCH 1 BODY[TEXT]<0.2>")
        self.assertEqual(tagged, "a OK FETCH completed.")
        self.assertEqual(sorted(untagged), [
            b"* 1 FETCH (FLAGS (\\Seen) BODY[TEXT]<0> {2}\r\nHi)\r\n",
            b"* 3 FETCH (UID 3 FLAGS (\\Flagged))\r\n"])
        self.assertEqual(s.command("b NOOP"), ([], "b OK NOOP completed."))

    def test_message_expunged_by_another_session(self):
        s = self.session("fn")
        s.append(SIMPLE)
        s.append(SIMPLE, flags="(\\Deleted)")
        s.command("s SELECT INBOX")
        other = self.session("fn")
        other.command("s SELECT INBOX")
        self.assertOk(other.command("c CLOSE")[1], "c")
        # still message 2 for this session until it is told otherwise
        untagged, tagged = s.command("f FETCH 1:2 (UID BODY.PEEK[HEADER.FIELDS (Subject)])")
        self.assertEqual(tagged, "f NO [EXPUNGEISSUED] Some of the requested messages no longer "
                                 "exist.")
        self.assertEqual(untagged, [b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (SUBJECT)] {18}\r\n"
                                    b"Subject: hello\r\n\r\n)\r\n"])

    def test_bad_input_keeps_the_session(self):
        s = self.session("fo")
        untagged, tagged = s.command("a FETCH 1 FLAGS")
        self.assertRegex(tagged, r"^a BAD ")  # nothing selected
        s.command("s SELECT INBOX")
        # RFC 9051 §9 seq-number: "*" of an empty mailbox is an error
        self.assertRegex(s.command("b FETCH * FLAGS")[1], r"^b BAD ")
        self.assertRegex(s.command("b2 FETCH 1:* FLAGS")[1], r"^b2 BAD ")
        self.assertEqual(s.command("c UID FETCH * FLAGS"), ([], "c OK UID FETCH completed."))
        self.assertEqual(s.command("c2 UID FETCH 1:* FLAGS"), ([], "c2 OK UID FETCH completed."))
        for i in range(3):
            s.append(SIMPLE)
        s.command("s2 NOOP")
        bad = ["FETCH 4 FLAGS", "FETCH 2:4 FLAGS", "FETCH 4:* FLAGS", "FETCH 0 FLAGS",
               "FETCH 1:x FLAGS", "FETCH 1 FOO", "FETCH 1 (FLAGS FOO)", "FETCH 1 BODY[HEADER",
               "FETCH 1 BODY[HEADER.FIELDS (From]", "FETCH 1 BODY[HEADER.FIELDS ()]",
               "FETCH 1 BODY[HEADER.FIELDS]", "FETCH 1 BODY[TEXT.1]", "FETCH 1 BODY[MIME]",
               "FETCH 1 BODY[0]", "FETCH 1 BODY[1.]", "FETCH 1 BODY[1..2]", "FETCH 1 BODY[FOO]",
               "FETCH 1 BODY[]<1>", "FETCH 1 BODY[]<0.0>", "FETCH 1 BODY[]<a.1>",
               "FETCH 1 BODY[]x", "FETCH 1 BODY.PEEK", "FETCH 1 BINARY[TEXT]",
               "FETCH 1 BINARY[1.MIME]", "FETCH 1 BINARY.SIZE[1]<0.1>", "FETCH 1 (ALL)",
               "FETCH 1 (FAST FLAGS)", "FETCH 1 ()", "FETCH 1", "FETCH FLAGS",
               "FETCH 1 FLAGS (CHANGEDSINCE)", "FETCH 1 FLAGS (FOO 1)", "FETCH 1 FLAGS extra",
               "FETCH 1 BODY[HEADER.FIELDS (\"From)]", "FETCH 1 BODY[HEADER.FIELDS (From:)]",
               "UID FETCH 0 FLAGS"]
        for k, line in enumerate(bad):
            with self.subTest(line=line):
                untagged, tagged = s.command(f"x{k} {line}")
                self.assertRegex(tagged, rf"^x{k} BAD ")
                self.assertEqual(untagged, [])
        self.assertEqual(s.command("z NOOP")[1], "z OK NOOP completed.")
        got, tagged = s.fetch("y FETCH 3 UID")
        self.assertEqual(got, {3: {"UID": 3}})

    # ---- big answers in bounded memory ----

    def big_message(self):
        size = 50 * 1024 * 1024
        line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
        head = b"From: a@example.org\r\nSubject: big\r\n\r\n"
        return head + line * ((size - len(head)) // len(line))

    def fetch_big(self, s, worker, data):
        """Fetches BODY[] of message 2 (the big one) on session s; returns its
        literal, what followed it, and the KiB the worker grew meanwhile."""
        s.command("s SELECT INBOX")
        # the small message first: caches and threads are then as they stay
        s.command("w FETCH 1 BODY.PEEK[]")
        time.sleep(0.2)
        before = status_kib(worker, "VmRSS")
        reset_peak(worker)
        s.c.cmd("a FETCH 2 BODY.PEEK[]")
        head = s.reader.response(timeout=120)
        m = re.match(rb"\* 2 FETCH \(BODY\[\] \{(\d+)\}\r\n", head)
        self.assertIsNotNone(m, head[:100])
        self.assertEqual(int(m.group(1)), len(data))
        got = head[m.end():]
        self.assertEqual(s.reader.until_tagged("a", timeout=120), ([], "a OK FETCH completed."))
        grown = status_kib(worker, "VmHWM") - before
        return got[:-3], got[-3:], grown

    def check_big(self, got, end, grown, data):
        self.assertEqual(end, b")\r\n")
        self.assertEqual(len(got), len(data))
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(data).hexdigest())
        if not SANITIZED:
            self.assertLess(grown, 2048, f"the worker grew by {grown} KiB")

    def test_50mb_message_over_tls_in_bounded_memory(self):
        data = self.big_message()
        self.deliver("fp", SIMPLE)
        self.deliver("fp", data)
        worker = self.srv.workers()[0]
        self.check_big(*self.fetch_big(self.session("fp"), worker, data), data)

    def test_50mb_message_over_plaintext_by_sendfile(self):
        srv = self.server(settings={"workers": "1", "ssl": "yes", "disable_plaintext_auth": "no",
                                    "mail_max_message_size": "60M"},
                          extra_users=["fq:{PLAIN}fq-pw-1::::::"])
        data = self.big_message()
        for m in (SIMPLE, data):
            r = subprocess.run([GANNET, "deliver", "-u", "fq", "-c", srv.conf], input=m,
                               capture_output=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
        worker = srv.workers()[0]
        c = srv.raw("imap", tls=False)
        c.line()
        c.cmd(f"l LOGIN fq {password('fq')}")
        self.assertRegex(c.read_until_tagged("l")[1], r"^l OK")
        s = Session(srv, "fq", client=c)
        self.addCleanup(s.close)
        self.check_big(*self.fetch_big(s, worker, data), data)

    def test_many_messages_in_slices(self):
        """A FETCH of thousands of messages: all of them, in order, while the
        server holds a slice at a time (the client reads slowly)."""
        s = self.session("fr")
        n = 3000
        body = b"From: a@example.org\r\nSubject: m\r\n\r\n" + b"z" * 1000 + b"\r\n"
        # files put in the Maildir by another program are picked up at SELECT
        # (thousands of APPENDs would cost thousands of fsyncs)
        self.assertOk(s.command("st STATUS INBOX (MESSAGES)")[1], "st")  # the store is open
        cur = os.path.join(self.srv.home, "fr", "Maildir", "cur")
        owner = os.stat(cur)
        for i in range(n):
            path = os.path.join(cur, f"1700000000.M{i:06d}P1.test:2,")
            with open(path, "wb") as f:
                f.write(body)
            os.chown(path, owner.st_uid, owner.st_gid)
        _, tagged = s.command("s SELECT INBOX", timeout=120)
        self.assertOk(tagged, "s")
        worker = self.srv.workers()[0]
        s.command("w FETCH 1:10 (UID FLAGS BODY.PEEK[])")
        before = status_kib(worker, "VmRSS")
        reset_peak(worker)
        s.c.cmd("a FETCH 1:* (UID RFC822.SIZE BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
        time.sleep(1.0)  # the client does not read: the server must wait, not buffer
        seqs = []
        while True:
            r = s.reader.response(timeout=60)
            if r.startswith(b"a "):
                self.assertEqual(r, b"a OK FETCH completed.\r\n")
                break
            seq, items = parse_fetch(r)
            seqs.append(seq)
            self.assertEqual(items["UID"], seq)
            self.assertEqual(items["BODY[TEXT]"], body[body.index(b"\r\n\r\n") + 4:])
        self.assertEqual(seqs, list(range(1, n + 1)))
        grown = status_kib(worker, "VmHWM") - before
        if not SANITIZED:
            self.assertLess(grown, 2048, f"the worker grew by {grown} KiB")

    # ---- a real client ----

    def test_curl_prints_the_message(self):
        if not shutil.which("curl"):
            self.skipTest("curl is not installed")
        self.deliver("fs", SIMPLE)
        self.deliver("fs", MULTIPART)
        for url, want in ((f"imaps://127.0.0.1:{self.srv.ports['imaps']}/INBOX;UID=1", SIMPLE),
                          (f"imaps://127.0.0.1:{self.srv.ports['imaps']}/INBOX;UID=2", MULTIPART),
                          (f"imaps://127.0.0.1:{self.srv.ports['imaps']}/INBOX;UID=2;"
                           "SECTION=1", b"aGVsbG8gd29ybGQ=")):
            r = subprocess.run(["curl", "-s", "-S", "--cacert", self.srv.cert, "-u",
                                f"fs:{password('fs')}", url], capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, want)


NESTED = (b"From: a@example.org\r\nSubject: top\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\npreamble\r\n"
          b"--outer\r\nContent-Type: text/plain\r\n\r\npart 1\r\n"
          b"--outer\r\nContent-Type: application/octet-stream\r\n"
          b"Content-Transfer-Encoding: base64\r\n\r\ncGFydCAy\r\n"
          b"--outer\r\nContent-Type: message/rfc822\r\n\r\n"
          b"Subject: three\r\nContent-Type: multipart/mixed; boundary=three\r\n\r\n"
          b"--three\r\n\r\npart 3.1\r\n"
          b"--three\r\nContent-Type: application/octet-stream\r\n\r\npart 3.2\r\n"
          b"--three--\r\n"
          b"--outer\r\nContent-Type: multipart/mixed; boundary=four\r\n\r\n"
          b"--four\r\nContent-Type: image/gif\r\n\r\npart 4.1\r\n"
          b"--four\r\nContent-Type: message/rfc822\r\n\r\n"
          b"Subject: four two\r\nContent-Type: multipart/mixed; boundary=fourtwo\r\n\r\n"
          b"--fourtwo\r\nContent-Type: text/plain\r\n\r\npart 4.2.1\r\n"
          b"--fourtwo\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n"
          b"--alt\r\nContent-Type: text/plain\r\n\r\npart 4.2.2.1\r\n"
          b"--alt\r\nContent-Type: text/richtext\r\n\r\npart 4.2.2.2\r\n"
          b"--alt--\r\n--fourtwo--\r\n--four--\r\n--outer--\r\nepilogue\r\n")


if __name__ == "__main__":
    unittest.main()
