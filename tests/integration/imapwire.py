"""IMAP responses as bytes on the wire, for tests that compare what two
servers answer: a reader that takes whole responses (literals included) from
a socket or a pipe, a parser of FETCH responses into Python values, and
Dovecot's imap process run on a pipe as a reference server.

    with DovecotImap(tmpdir) as dov:
        dov.append(message)
        dov.command("s SELECT INBOX")
        responses, tagged = dov.command("f FETCH 1 BODY.PEEK[1]")
        seq, items = parse_fetch(responses[0])

Dovecot is the one from Debian's dovecot-imapd (2.3), started preauthenticated
on stdin/stdout with a configuration of its own in the test's directory:
nothing outside that directory is touched, no port is opened."""

import contextlib
import os
import pwd
import re
import select
import shutil
import subprocess
import time
import unittest

DOVECOT_IMAP = "/usr/lib/dovecot/imap"
LITERAL_RE = re.compile(rb"~?\{(\d+)\+?\}\r\n$")


class WireReader:
    """Reads IMAP responses from recv(n) -> bytes (b"" at the end)."""

    def __init__(self, recv, timeout=30.0):
        self.recv = recv
        self.buf = b""
        self.timeout = timeout

    def _fill(self, deadline):
        if time.monotonic() > deadline:
            raise TimeoutError("no answer from the server")
        data = self.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buf += data

    def response(self, timeout=None):
        """One whole response: its lines and literals, as sent (CRLF kept)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        out = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill(deadline)
            line, self.buf = self.buf.split(b"\r\n", 1)
            line += b"\r\n"
            out += line
            m = LITERAL_RE.search(line)
            if not m:
                return out
            n = int(m.group(1))
            # a big literal: in pieces, not by growing one bytes object
            pieces, have = [self.buf[:n]], min(len(self.buf), n)
            self.buf = self.buf[n:]
            while have < n:
                if time.monotonic() > deadline:
                    raise TimeoutError("no answer from the server")
                data = self.recv(1 << 20)
                if not data:
                    raise ConnectionError("the server closed the connection")
                take = min(len(data), n - have)
                pieces.append(data[:take])
                have += take
                self.buf = data[take:]
            out += b"".join(pieces)

    def until_tagged(self, tag, timeout=None):
        """(untagged responses as bytes, the tagged line as str without CRLF)."""
        untagged = []
        prefix = tag.encode() + b" "
        while True:
            r = self.response(timeout)
            if r.startswith(prefix):
                return untagged, r[:-2].decode("utf-8", "replace")
            untagged.append(r)


# ---- parsing FETCH responses --------------------------------------------


class Parser:
    """The values of a response: numbers as int, NIL as None, strings
    (quoted or literal, ~{n} too) as bytes, atoms as str, lists as lists."""

    def __init__(self, data):
        self.s = data
        self.i = 0

    def peek(self):
        return self.s[self.i:self.i + 1]

    def space(self):
        while self.peek() == b" ":
            self.i += 1

    def value(self):
        self.space()
        c = self.peek()
        if c == b"(":
            self.i += 1
            items = []
            while True:
                self.space()
                if self.peek() == b")":
                    self.i += 1
                    return items
                if not self.peek():
                    raise ValueError("unterminated list")
                items.append(self.value())
        if c == b'"':
            self.i += 1
            out = b""
            while True:
                ch = self.s[self.i:self.i + 1]
                if not ch:
                    raise ValueError("unterminated string")
                self.i += 1
                if ch == b"\\":
                    out += self.s[self.i:self.i + 1]
                    self.i += 1
                elif ch == b'"':
                    return out
                else:
                    out += ch
        m = re.compile(rb"~?\{(\d+)\+?\}\r\n").match(self.s, self.i)
        if m:
            n = int(m.group(1))
            self.i = m.end() + n
            return self.s[m.end():m.end() + n]
        return self.atom()

    def atom(self):
        """An atom, or a data item name with its [section] and <origin>."""
        start = self.i
        depth = 0
        while self.i < len(self.s):
            ch = self.s[self.i:self.i + 1]
            if ch == b"[":
                depth += 1
            elif ch == b"]":
                depth -= 1
            elif depth == 0 and ch in b" ()\r\n":
                break
            self.i += 1
        text = self.s[start:self.i].decode("utf-8", "replace")
        if text.upper() == "NIL":
            return None
        if text.isdigit():
            return int(text)
        return text


def parse_fetch(response):
    """b'* 3 FETCH (UID 7 BODY[] {5}\\r\\nhello)\\r\\n' -> (3, {"UID": 7, "BODY[]": b"hello"})."""
    m = re.match(rb"\* (\d+) FETCH ", response)
    if not m:
        raise ValueError(f"not a FETCH response: {response[:80]!r}")
    p = Parser(response[m.end():])
    items = p.value()
    if not isinstance(items, list) or len(items) % 2:
        raise ValueError(f"bad FETCH data: {response[:200]!r}")
    out = {}
    for k in range(0, len(items), 2):
        out[str(items[k]).upper()] = items[k + 1]
    return int(m.group(1)), out


def lower_strings(value):
    """BODYSTRUCTURE with its type, subtype and parameter strings compared
    without regard to case (servers differ in what they upper-case)."""
    if isinstance(value, list):
        return [lower_strings(v) for v in value]
    if isinstance(value, bytes):
        return value.lower()
    return value


def body_parts(structure):
    """The section-part numbers of a BODYSTRUCTURE (RFC 9051 §6.4.5.1), each
    with its type: [((1,), "text/plain"), ((3,), "message/rfc822"), ((3, 1), ...)].
    A message that is not multipart has the part 1, itself."""
    if isinstance(structure[0], list):
        return [p for i, child in enumerate(children(structure), 1)
                for p in walk_part(child, (i,))]
    return walk_part(structure, (1,))


def children(multipart):
    """The parts of a multipart BODYSTRUCTURE: the lists before its subtype."""
    out = []
    for v in multipart:
        if not isinstance(v, list):
            break
        out.append(v)
    return out


def walk_part(part, path):
    if isinstance(part[0], list):
        subtype = next((v for v in part if isinstance(v, bytes)), b"").decode().lower()
        out = [(path, "multipart/" + subtype)]
        for i, child in enumerate(children(part), 1):
            out += walk_part(child, path + (i,))
        return out
    kind = (part[0] or b"").decode().lower() + "/" + (part[1] or b"").decode().lower()
    out = [(path, kind)]
    if kind in ("message/rfc822", "message/global") and len(part) > 8 and \
            isinstance(part[8], list):
        inner = part[8]
        if isinstance(inner[0], list):
            for i, child in enumerate(children(inner), 1):
                out += walk_part(child, path + (i,))
        else:
            out += walk_part(inner, path + (1,))
    return out


# ---- Dovecot as the reference ---------------------------------------------


def dovecot_available():
    return os.access(DOVECOT_IMAP, os.X_OK)


class DovecotImap:
    """Dovecot's imap process on a pipe, logged in, with a Maildir of its own
    under directory (which the mail user must be able to enter)."""

    def __init__(self, directory):
        if not dovecot_available():
            raise unittest.SkipTest(f"{DOVECOT_IMAP} is not installed (dovecot-imapd)")
        self.dir = os.path.join(directory, "dovecot")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        if os.geteuid() == 0:
            user, group = "nobody", "nogroup"
        else:
            user = pwd.getpwuid(os.geteuid()).pw_name
            group = None
        home = os.path.join(self.dir, "home")
        os.makedirs(os.path.join(home, "Maildir"))
        conf = os.path.join(self.dir, "dovecot.conf")
        lines = [
            "protocols = imap",
            f"base_dir = {self.dir}/run",
            f"state_dir = {self.dir}/state",
            "log_path = /dev/stderr",
            "ssl = no",
            f"mail_location = maildir:{home}/Maildir",
            f"mail_uid = {user}",
        ]
        if group:
            lines.append(f"mail_gid = {group}")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            shutil.chown(home, user, group)
            shutil.chown(os.path.join(home, "Maildir"), user, group)
        env = {"USER": "test", "HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self.proc = subprocess.Popen([DOVECOT_IMAP, "-c", conf], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, cwd=self.dir)
        fd = self.proc.stdout.fileno()

        def recv(n):
            r, _, _ = select.select([fd], [], [], 30)
            return os.read(fd, n) if r else b""

        self.reader = WireReader(recv)
        greeting = self.reader.response()
        if not greeting.startswith(b"* PREAUTH"):
            self.close()
            raise unittest.SkipTest(f"Dovecot did not start: {greeting!r}")
        self.n = 0

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def command(self, line):
        """Sends "TAG ..." and returns (untagged responses, tagged line)."""
        self.send(line.encode() + b"\r\n" if isinstance(line, str) else line + b"\r\n")
        return self.reader.until_tagged(line.split()[0] if isinstance(line, str)
                                        else line.split()[0].decode())

    def append(self, message, flags=""):
        self.n += 1
        tag = f"ap{self.n}"
        self.send(f"{tag} APPEND INBOX {flags}{{{len(message)}+}}\r\n".encode() + message + b"\r\n")
        _, tagged = self.reader.until_tagged(tag)
        if not tagged.startswith(f"{tag} OK"):
            raise AssertionError(f"Dovecot refused the APPEND: {tagged}")

    def close(self):
        with contextlib.suppress(Exception):
            self.proc.stdin.close()
        with contextlib.suppress(Exception):
            self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        with contextlib.suppress(Exception):
            self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
