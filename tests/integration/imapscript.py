"""IMAP transcripts: parser, line matcher and runner for tests/imap/*.script.

The format is described in tests/imap/README.md. In short:

    set auth_failure_delay = 0        # server settings for the whole file

    test noop_after_login             # one test case
    login imaps                       # connect, greeting, LOGIN as this test's user
    C: a NOOP                         # a line from the client
    S: a OK NOOP completed.           # the server's next line, matched whole
    C: b LOGOUT
    unordered                         # these lines in any order
    S: * BYE $*
    S: b OK $*
    end
    closed                            # the server closes, nothing more is sent

In S: lines `$*` matches any text, `$/REGEX/` a regular expression, `$name` a
token that is bound at its first match and must be equal later (also in C:
lines), `$name/REGEX/` binds what REGEX matched, `$$` is a dollar sign. $user
and $password are the test's own user, made for it on the shared server
($user_len and $password_len their lengths in bytes, for literals).

Python 3 standard library only; test_imap_scripts.py runs the files.
"""

import ast
import re
import socket
import ssl

from harness import ConnectionClosed

READ_TIMEOUT = 5.0  # seconds the runner waits for any one expected line
AFTER_MISMATCH = 1.0  # seconds it keeps reading after a mismatch, for the report

VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEFAULT_VAR = r"[^\s()\[\]]+"  # what an unbound $name matches: one token


class ScriptError(Exception):
    """A script that cannot be read (a mistake in the script, not in gannet)."""


class ScriptFailure(AssertionError):
    """The server did not do what the script expects."""


# --------------------------------------------------------------------------
# Patterns


class Pattern:
    """One expected server line. parts: ("text", s) | ("any",) |
    ("re", regex) | ("var", name, regex or None)."""

    def __init__(self, text):
        self.text = text
        self.parts = parse_pattern(text)

    def names(self):
        return {p[1] for p in self.parts if p[0] == "var"}

    def regex(self, bound):
        out, seen = [], set()
        for p in self.parts:
            if p[0] == "text":
                out.append(re.escape(p[1]))
            elif p[0] == "any":
                out.append(".*")
            elif p[0] == "re":
                out.append("(?:" + p[1] + ")")
            elif p[1] in bound:
                out.append(re.escape(bound[p[1]]))
            elif p[1] in seen:
                out.append(f"(?P={p[1]})")
            else:
                seen.add(p[1])
                out.append(f"(?P<{p[1]}>{p[2] or DEFAULT_VAR})")
        return re.compile("".join(out), re.S)

    def match(self, line, bound):
        """The bindings after matching line (a new dict), or None."""
        m = self.regex(bound).fullmatch(line)
        if m is None:
            return None
        out = dict(bound)
        out.update({k: v for k, v in m.groupdict().items() if v is not None})
        return out

    def __repr__(self):
        return f"Pattern({self.text!r})"


def parse_pattern(text):
    parts, lit, i = [], [], 0

    def flush():
        if lit:
            parts.append(("text", "".join(lit)))
            lit.clear()

    while i < len(text):
        c = text[i]
        if c != "$":
            lit.append(c)
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt == "$":
            lit.append("$")
            i += 2
            continue
        flush()
        if nxt == "*":
            parts.append(("any",))
            i += 2
            continue
        m = VAR_RE.match(text, i + 1)
        name = m.group(0) if m else None
        j = m.end() if m else i + 1
        regex = None
        if text[j:j + 1] == "/":
            regex, j = _slashed(text, j)
        elif name is None:
            raise ScriptError(f"`$` must start $*, $$, $name or $/regex/: {text!r}")
        parts.append(("var", name, regex) if name else ("re", regex))
        i = j
    flush()
    for p in parts:
        if p[0] in ("re", "var") and p[-1] is not None:
            try:
                re.compile(p[-1])
            except re.error as e:
                raise ScriptError(f"bad regex {p[-1]!r} in {text!r}: {e}") from None
    return parts


def _slashed(text, j):
    """The regex between text[j] == "/" and the next unescaped "/" (where \\/
    stands for /), and the index after it."""
    out, k = [], j + 1
    while k < len(text):
        if text.startswith("\\/", k):
            out.append("/")
            k += 2
        elif text[k] == "\\" and k + 1 < len(text):
            out.append(text[k:k + 2])
            k += 2
        elif text[k] == "/":
            return "".join(out), k + 1
        else:
            out.append(text[k])
            k += 1
    raise ScriptError(f"unterminated $/regex/ in {text!r}")


def substitute(text, bound):
    """A C: line with its $name variables replaced; `$$` is a dollar sign."""
    def repl(m):
        if m.group(0) == "$$":
            return "$"
        if m.group(1) not in bound:
            raise ScriptError(f"${m.group(1)} is not bound yet in {text!r}")
        return bound[m.group(1)]
    return re.sub(r"\$\$|\$([A-Za-z_][A-Za-z0-9_]*)", repl, text)


def match_unordered(patterns, lines, bound):
    """Bindings after matching every line to a different pattern, or None.
    Backtracks, so patterns that could take more than one line still work."""
    if not lines:
        return bound
    first, rest = lines[0], lines[1:]
    for i, p in enumerate(patterns):
        b = p.match(first, bound)
        if b is not None:
            done = match_unordered(patterns[:i] + patterns[i + 1:], rest, b)
            if done is not None:
                return done
    return None


# --------------------------------------------------------------------------
# Files


class Step:
    def __init__(self, kind, arg, lineno, source):
        self.kind, self.arg, self.lineno, self.source = kind, arg, lineno, source

    def __repr__(self):
        return f"Step({self.kind!r}, line {self.lineno})"


class Script:
    def __init__(self, name, path, lineno):
        self.name, self.path, self.lineno = name, path, lineno
        self.steps = []


class ScriptFile:
    def __init__(self, path, settings, scripts):
        self.path, self.settings, self.scripts = path, settings, scripts


CONNECT_KINDS = ("imaps", "imap")
LOGIN_KINDS = ("imaps", "starttls")


def parse_text(text, path="<script>"):
    """A ScriptFile from the text of a .script file; ScriptError on a mistake."""
    settings, scripts = {}, []
    script, block = None, None

    def err(lineno, msg):
        raise ScriptError(f"{path}:{lineno}: {msg}")

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if line.startswith("C:") and line != raw.rstrip("\r\n"):
            err(lineno, "a C: line ending in a space or tab (invisible, and dropped by "
                        'editors): write it with send, e.g. send "a NOOP \\r\\n"')
        if line.startswith(("C:", "S:")):
            if script is None:
                err(lineno, "a C:/S: line before the first `test`")
            kind, rest = line[0], line[2:]
            rest = rest[1:] if rest.startswith(" ") else rest
            if kind == "C":
                if block is not None:
                    err(lineno, "a C: line inside an `unordered` block")
                substitute_check(rest, lineno, err)
                script.steps.append(Step("send", rest, lineno, line))
            else:
                try:
                    pat = Pattern(rest)
                except ScriptError as e:
                    err(lineno, str(e))
                if block is not None:
                    block.arg.append(pat)
                else:
                    script.steps.append(Step("expect", pat, lineno, line))
            continue
        words = line.split(None, 1)
        if not words or words[0].startswith("#"):
            continue
        word, rest = words[0], (words[1] if len(words) > 1 else "")
        if rest.startswith("#"):
            rest = ""
        rest = re.sub(r"\s+#.*$", "", rest) if word != "send" else rest
        if word == "set":
            if script is not None:
                err(lineno, "`set` belongs before the first `test` (it configures the server)")
            key, eq, value = rest.partition("=")
            if not eq or not key.strip():
                err(lineno, "expected `set key = value`")
            settings[key.strip()] = value.strip()
            continue
        if word == "test":
            if block is not None:
                err(lineno, "`unordered` block not closed with `end`")
            if not re.fullmatch(r"[A-Za-z0-9_]+", rest):
                err(lineno, "expected `test NAME` (letters, digits, _)")
            if any(s.name == rest for s in scripts):
                err(lineno, f"a second test named {rest}")
            script = Script(rest, path, lineno)
            scripts.append(script)
            continue
        if script is None:
            err(lineno, f"`{word}` before the first `test`")
        if word == "unordered" and not rest:
            if block is not None:
                err(lineno, "nested `unordered`")
            block = Step("unordered", [], lineno, line)
        elif word == "end" and not rest:
            if block is None:
                err(lineno, "`end` without `unordered`")
            if not block.arg:
                err(lineno, "an empty `unordered` block")
            script.steps.append(block)
            block = None
        elif block is not None:
            err(lineno, f"only S: lines inside an `unordered` block, not `{word}`")
        elif word == "connect" and rest in CONNECT_KINDS:
            script.steps.append(Step("connect", rest, lineno, line))
        elif word == "login" and (rest in LOGIN_KINDS or not rest):
            script.steps.append(Step("login", rest or None, lineno, line))
        elif word in ("tls", "closed") and not rest:
            script.steps.append(Step(word, None, lineno, line))
        elif word == "send":
            try:
                data = ast.literal_eval(rest)
            except (ValueError, SyntaxError):
                data = None
            if not isinstance(data, (str, bytes)):
                err(lineno, 'expected `send "python string literal"`, e.g. send "a NOOP\\n"')
            script.steps.append(Step("raw", data.encode() if isinstance(data, str) else data,
                                     lineno, line))
        else:
            err(lineno, f"unknown line {line!r}")
    if block is not None:
        err(block.lineno, "`unordered` block not closed with `end`")
    for s in scripts:
        if not s.steps:
            err(s.lineno, f"test {s.name} has no steps")
    return ScriptFile(path, settings, scripts)


def substitute_check(text, lineno, err):
    """Catches a malformed `$` in a C: line when the file is read."""
    stripped = text.replace("$$", "")
    if re.search(r"\$(?![A-Za-z_])", stripped):
        err(lineno, f"a lone `$` in {text!r} (write $$ for a dollar sign)")


def parse_file(path):
    with open(path, encoding="utf-8") as f:
        return parse_text(f.read(), path)


# --------------------------------------------------------------------------
# Running


class Runner:
    """Runs one Script against a GannetServer as user/password. run() returns
    the transcript (a list of lines) or raises ScriptFailure."""

    def __init__(self, server, script, user, password):
        self.srv, self.script = server, script
        self.vars = {"user": user, "password": password, "user_len": str(len(user.encode())),
                     "password_len": str(len(password.encode()))}
        self.conn = None
        self.transcript = []
        self.step = None
        self.login_count = 0

    # -- the record shown on failure

    def note(self, text):
        self.transcript.append(text)

    def fail(self, what, got=()):
        where = f"{self.script.path}:{self.step.lineno}" if self.step else self.script.path
        out = [f"{where}: test {self.script.name}: {what}", "transcript so far:"]
        out += ["  " + t for t in self.transcript] or ["  (nothing)"]
        out.append(f"expected (line {self.step.lineno}):" if self.step else "expected:")
        if self.step is not None and self.step.kind == "unordered":
            out += ["  " + p.text for p in self.step.arg]
        elif self.step is not None:
            out.append("  " + self.step.source.strip())
        if got:
            out.append("got:")
            out += ["  " + g for g in got]
        raise ScriptFailure("\n".join(out))

    # -- I/O

    def need_conn(self):
        if self.conn is None:
            self.fail("no connection (start with `connect` or `login`)")
        return self.conn

    def read_line(self):
        """The next server line (str, no CRLF); fails on EOF or a timeout."""
        c = self.need_conn()
        try:
            raw = c.readline(READ_TIMEOUT)
        except ConnectionClosed:
            self.note("-- the server closed the connection")
            self.fail("the server closed the connection", ["(connection closed)"])
        except (socket.timeout, TimeoutError):
            self.fail(f"no line from the server within {READ_TIMEOUT:g} s",
                      [f"(nothing within {READ_TIMEOUT:g} s)"])
        except (ConnectionResetError, ssl.SSLError) as e:
            self.note(f"-- connection error: {e}")
            self.fail(f"connection error: {e}", [f"({e})"])
        line = raw[:-2].decode("utf-8", errors="backslashreplace")
        self.note("S: " + line)
        return line

    def lines_after_mismatch(self):
        """What else the server sends soon after a mismatch, for the report."""
        out = []
        c = self.conn
        if c is None:
            return out
        while len(out) < 20:
            try:
                raw = c.readline(AFTER_MISMATCH)
            except (ConnectionClosed, ConnectionResetError, ssl.SSLError):
                out.append("(connection closed)")
                break
            except (socket.timeout, TimeoutError):
                break
            out.append("S: " + raw[:-2].decode("utf-8", errors="backslashreplace"))
        return out

    def send(self, data, shown):
        c = self.need_conn()
        if c.buf:
            extra = c.buf.decode("utf-8", errors="backslashreplace").rstrip("\r\n")
            self.fail("the server sent lines the script does not expect",
                      ["S: " + l for l in extra.split("\r\n")])
        self.note(shown)
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError) as e:
            self.fail(f"could not send: {e}", [f"({e})"])

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    # -- steps

    def run(self):
        try:
            for self.step in self.script.steps:
                getattr(self, "do_" + self.step.kind)(self.step.arg)
            self.step = None
            if self.conn is not None and self.conn.buf:
                extra = self.conn.buf.decode("utf-8", errors="backslashreplace")
                self.fail("the server sent lines after the last expected one",
                          ["S: " + l for l in extra.rstrip("\r\n").split("\r\n")])
        finally:
            self.close()
        return self.transcript

    def do_connect(self, kind):
        self.close()
        self.note(f"-- connect {kind}")
        try:
            self.conn = self.srv.raw(kind)
        except (OSError, ssl.SSLError) as e:
            self.fail(f"cannot connect: {e}")

    def do_tls(self, _):
        self.note("-- TLS handshake")
        try:
            self.need_conn().starttls(self.srv.ctx())
        except AssertionError as e:  # the server sent something in clear after OK
            self.fail(str(e))
        except (OSError, ssl.SSLError) as e:
            self.fail(f"TLS handshake failed: {e}")

    def expect_tagged_ok(self, tag):
        while True:
            line = self.read_line()
            if line.startswith(tag + " "):
                if not line.startswith(tag + " OK"):
                    self.fail(f"`{tag}` was refused", ["S: " + line])
                return
            if not line.startswith("* "):
                self.fail(f"unexpected line before `{tag}` completed", ["S: " + line])

    def do_login(self, kind):
        if kind is not None:
            self.do_connect("imaps" if kind == "imaps" else "imap")
            greeting = self.read_line()
            if not greeting.startswith("* OK"):
                self.fail("no `* OK` greeting", ["S: " + greeting])
            if kind == "starttls":
                self.send(b"L0 STARTTLS\r\n", "C: L0 STARTTLS")
                self.expect_tagged_ok("L0")
                self.do_tls(None)
        self.login_count += 1
        tag = f"L{self.login_count}"
        line = f"{tag} LOGIN {self.vars['user']} {self.vars['password']}"
        self.send(line.encode() + b"\r\n", "C: " + line)
        self.expect_tagged_ok(tag)

    def do_send(self, text):
        try:
            line = substitute(text, self.vars)
        except ScriptError as e:
            self.fail(str(e))
        self.send(line.encode() + b"\r\n", "C: " + line)

    def do_raw(self, data):
        self.send(data, f"C: (raw) {data!r}")

    def do_expect(self, pattern):
        line = self.read_line()
        bound = pattern.match(line, self.vars)
        if bound is None:
            del self.transcript[-1:]  # shown under "got:"
            self.fail("the server's line does not match", ["S: " + line]
                      + self.lines_after_mismatch())
        self.vars = bound

    def do_unordered(self, patterns):
        lines = [self.read_line() for _ in patterns]
        bound = match_unordered(patterns, lines, self.vars)
        if bound is None:
            del self.transcript[-len(lines):]
            self.fail("the server's lines do not match the unordered block",
                      ["S: " + l for l in lines] + self.lines_after_mismatch())
        self.vars = bound

    def do_closed(self, _):
        c = self.need_conn()
        try:
            lines = c.wait_closed(READ_TIMEOUT)
        except (socket.timeout, TimeoutError):
            self.fail(f"the connection is still open after {READ_TIMEOUT:g} s")
        except ssl.SSLError:
            lines = []  # a TLS error on the way out: closed all the same
        self.note("-- the server closed the connection")
        if lines:
            self.fail("the server sent more before closing", ["S: " + l for l in lines])
        self.close()
