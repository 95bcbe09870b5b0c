"""The IMAP transcripts in tests/imap/*.script (format: tests/imap/README.md).

Each .script file is one test class with one gannet for all its tests; each
`test` in it is one test method, run as a user of its own that is added to the
running server's passwd-file. The runner itself is tested here too: its
matcher, and a script that expects the wrong thing from a real server fails
with the transcript and the line that did not match."""

import glob
import os
import re
import unittest

from harness import REPO, GannetServer, password
from imapscript import (
    Pattern, Runner, ScriptError, ScriptFailure, match_unordered, parse_file, parse_text,
    substitute,
)

SCRIPT_DIR = os.path.join(REPO, "tests", "imap")

# What every script file's server has unless the file says otherwise (`set`):
# a failed login is answered at once, the penalty having its own tests
# (test_auth_failure.py).
BASE_SETTINGS = {"auth_failure_delay": "0"}


def script_user(path, name):
    """The user of one script: its file and test name, e.g. login-wrong_password."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return re.sub(r"[^A-Za-z0-9_.-]", "-", f"{stem}-{name}")


class ScriptFileCase(unittest.TestCase):
    """One .script file: a server for the class, a fresh user per test."""

    script_file = None
    srv = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        settings = dict(BASE_SETTINGS)
        settings.update(cls.script_file.settings)
        cls.srv = GannetServer(settings=settings)

    @classmethod
    def tearDownClass(cls):
        if cls.srv is not None:
            cls.srv.cleanup()
        super().tearDownClass()

    def run_script(self, script):
        user = script_user(script.path, script.name)
        pw = self.srv.add_user(user)
        Runner(self.srv, script, user, pw).run()


def _script_test(script):
    def test(self):
        self.run_script(script)
    test.__doc__ = f"{script.path}:{script.lineno}: {script.name}"
    return test


def _broken_file_test(error):
    def test(self):
        self.fail(str(error))
    return test


def _class_name(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    return "Script_" + re.sub(r"\W", "_", stem)


for _path in sorted(glob.glob(os.path.join(SCRIPT_DIR, "*.script"))):
    try:
        _file = parse_file(os.path.relpath(_path))
    except ScriptError as _e:
        globals()[_class_name(_path)] = type(_class_name(_path), (unittest.TestCase,),
                                             {"test_script_file_reads": _broken_file_test(_e)})
        continue
    _attrs = {"script_file": _file}
    for _s in _file.scripts:
        _attrs["test_" + _s.name] = _script_test(_s)
    globals()[_class_name(_path)] = type(_class_name(_path), (ScriptFileCase,), _attrs)


# --------------------------------------------------------------------------
# The runner's own tests


class MatcherTest(unittest.TestCase):
    def test_literal_text_matches_the_whole_line_only(self):
        p = Pattern("a OK NOOP completed.")
        self.assertEqual(p.match("a OK NOOP completed.", {}), {})
        self.assertIsNone(p.match("a OK NOOP completed", {}))
        self.assertIsNone(p.match("a OK NOOP completed. ", {}))
        self.assertIsNone(p.match("xa OK NOOP completed.", {}))
        # regex characters in the text are text
        self.assertIsNone(Pattern("* OK [a.c]").match("* OK [abc]", {}))
        self.assertEqual(Pattern("* OK (a|b) +.?").match("* OK (a|b) +.?", {}), {})

    def test_a_wrong_expectation_does_not_match(self):
        self.assertIsNone(Pattern("a OK LOGOUT completed.").match("a BAD Unknown command.", {}))
        self.assertIsNone(Pattern("a NO $*").match("a OK done", {}))
        self.assertIsNone(Pattern("* ID ($*)").match("* ID NIL", {}))

    def test_wildcard(self):
        p = Pattern("* OK [CAPABILITY IMAP4rev1 $*] $*")
        self.assertIsNotNone(p.match("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ID] gannet ready.", {}))
        self.assertIsNone(p.match("* OK [CAPABILITY IMAP4rev2 IMAP4rev1] gannet ready.", {}))
        self.assertIsNotNone(Pattern("a OK$*").match("a OK", {}))

    def test_regex(self):
        p = Pattern(r"* OK [UIDVALIDITY $/\d+/] UIDs valid")
        self.assertIsNotNone(p.match("* OK [UIDVALIDITY 1764000000] UIDs valid", {}))
        self.assertIsNone(p.match("* OK [UIDVALIDITY 17x] UIDs valid", {}))
        # \/ is a slash inside the regex
        self.assertIsNotNone(Pattern(r"* $/a\/b/ x").match("* a/b x", {}))

    def test_variables_bind_once_and_must_then_be_equal(self):
        p = Pattern(r"* OK [UIDVALIDITY $uv/\d+/] ok")
        b = p.match("* OK [UIDVALIDITY 42] ok", {})
        self.assertEqual(b, {"uv": "42"})
        self.assertIsNotNone(p.match("* OK [UIDVALIDITY 42] ok", b))
        self.assertIsNone(p.match("* OK [UIDVALIDITY 43] ok", b))
        # a plain $name is one token, and twice in a line means the same token
        q = Pattern("* $n EXISTS $n")
        self.assertEqual(q.match("* 3 EXISTS 3", {}), {"n": "3"})
        self.assertIsNone(q.match("* 3 EXISTS 4", {}))
        self.assertIsNone(Pattern("* $n EXISTS").match("* 3 4 EXISTS", {}))
        self.assertEqual(substitute("a FETCH $n FLAGS $$x", {"n": "3"}), "a FETCH 3 FLAGS $x")
        with self.assertRaises(ScriptError):
            substitute("a FETCH $m", {"n": "3"})

    def test_unordered(self):
        pats = [Pattern("* BYE $*"), Pattern("a OK LOGOUT completed.")]
        self.assertIsNotNone(match_unordered(pats, ["a OK LOGOUT completed.", "* BYE x"], {}))
        self.assertIsNotNone(match_unordered(pats, ["* BYE x", "a OK LOGOUT completed."], {}))
        self.assertIsNone(match_unordered(pats, ["* BYE x", "* BYE y"], {}))
        # the first pattern that fits a line is not always the right one
        pats = [Pattern("* $*"), Pattern("* ID NIL")]
        self.assertIsNotNone(match_unordered(pats, ["* ID NIL", "* CAPABILITY X"], {}))

    def test_script_mistakes_are_reported_with_their_line(self):
        cases = [
            ("test a\nC: x NOOP\nS: x OK $", ":3:"),
            ("test a\nS: $/unclosed", ":2:"),
            ("test a\nS: $/(/", ":2:"),
            ("C: x NOOP", ":1:"),
            ("test a\nconnect pop3", ":2:"),
            ("test a\nunordered\nC: x NOOP\nend", ":3:"),
            ("test a\nunordered\nS: x\n", ":2:"),
            ("test a\nend", ":2:"),
            ("test a\nC: x NOOP\ntest a\nC: y NOOP", ":3:"),
            ("test a\nC: x NOOP\nset a = b", ":3:"),
            ("test a\nsend a NOOP", ":2:"),
            ("test a\nC: a LOGIN $ x", ":2:"),
            ("test a\n", ":1:"),
            ("test a\nfrobnicate", ":2:"),
            ("test a\nC: a NOOP \n", ":2:"),
        ]
        for text, where in cases:
            with self.subTest(text=text):
                with self.assertRaises(ScriptError) as cm:
                    parse_text(text, "x.script")
                self.assertIn("x.script" + where, str(cm.exception))

    def test_a_file_reads_into_settings_and_tests(self):
        f = parse_text("# c\nset login_greeting = Hi there.\n\ntest one\nlogin imaps  # note\n"
                       "C: a NOOP\nS: a OK $*\nunordered\nS: x\nS: y\nend\nsend \"a\\x00\\n\"\n"
                       "closed\ntest two\nconnect imap\ntls\nlogin\n", "f.script")
        self.assertEqual(f.settings, {"login_greeting": "Hi there."})
        self.assertEqual([s.name for s in f.scripts], ["one", "two"])
        self.assertEqual([(st.kind, st.lineno) for st in f.scripts[0].steps],
                         [("login", 5), ("send", 6), ("expect", 7), ("unordered", 8),
                          ("raw", 12), ("closed", 13)])
        self.assertEqual(f.scripts[0].steps[0].arg, "imaps")
        self.assertEqual(f.scripts[0].steps[4].arg, b"a\x00\n")
        self.assertEqual([st.kind for st in f.scripts[1].steps], ["connect", "tls", "login"])


    def test_the_readme_example_reads(self):
        with open(os.path.join(SCRIPT_DIR, "README.md")) as f:
            text = f.read().split("## An example\n", 1)[1].split("\n## ", 1)[0]
        example = "\n".join(l[4:] for l in text.splitlines() if l.startswith("    "))
        f = parse_text(example, "README.md")
        self.assertEqual(f.settings, {"login_greeting": "Hello."})
        self.assertEqual(len(f.scripts[0].steps), 11)


class RunnerTest(unittest.TestCase):
    """The runner against a real server: right scripts pass, wrong ones fail
    and say where."""

    @classmethod
    def setUpClass(cls):
        cls.srv = GannetServer(settings=dict(BASE_SETTINGS))

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()

    def run_text(self, text, user="runner"):
        """Runs the first test of text as user (added to the server unless it
        is "stranger"); returns the transcript."""
        script = parse_text(text, "self.script").scripts[0]
        if user != "stranger" and not any(u.startswith(user + ":") for u in self.srv.extra_users):
            self.srv.add_user(user)
        return Runner(self.srv, script, user, password(user)).run()

    def assertScriptFails(self, text, *words, user="runner"):
        with self.assertRaises(ScriptFailure) as cm:
            self.run_text(text, user)
        msg = str(cm.exception)
        for w in words:
            self.assertIn(w, msg)
        return msg

    def test_a_right_script_passes_and_returns_its_transcript(self):
        t = self.run_text("test ok\nlogin imaps\nC: a NOOP\nS: a OK $*\nC: b LOGOUT\n"
                          "unordered\nS: b OK $*\nS: * BYE $*\nend\nclosed\n")
        self.assertIn("C: a NOOP", t)
        self.assertIn("S: a OK NOOP completed.", t)
        self.assertEqual(t[-1], "-- the server closed the connection")

    def test_a_wrong_expectation_fails_with_transcript_and_line(self):
        msg = self.assertScriptFails(
            "test wrong\nlogin imaps\nC: a NOOP\nS: a OK NOOP completed.\n"
            "C: b CAPABILITY\nS: * CAPABILITY IMAP4rev1\nS: b OK CAPABILITY completed.\n",
            "self.script:6: test wrong: the server's line does not match",
            "transcript so far:", "C: L1 LOGIN runner runner-pw-1", "S: a OK NOOP completed.",
            "C: b CAPABILITY", "expected (line 6):\n  S: * CAPABILITY IMAP4rev1\n",
            "got:\n  S: * CAPABILITY IMAP4rev1 IMAP4rev2")
        # what followed the mismatch is shown too
        self.assertIn("S: b OK CAPABILITY completed.", msg.split("got:")[1])

    def test_a_wrong_tag_fails(self):
        self.assertScriptFails("test tag\nlogin imaps\nC: a NOOP\nS: b OK NOOP completed.\n",
                               "expected (line 4):", "got:\n  S: a OK NOOP completed.")

    def test_an_unexpected_extra_line_fails(self):
        # the tagged OK is left unread: the next command finds it
        self.assertScriptFails("test extra\nlogin imaps\nC: a CAPABILITY\nS: * CAPABILITY $*\n"
                               "C: b NOOP\nS: b OK $*\n",
                               "self.script:5:", "sent lines the script does not expect",
                               "S: a OK CAPABILITY completed.")

    def test_an_unordered_block_that_does_not_fit_fails(self):
        self.assertScriptFails("test unordered\nlogin imaps\nC: b LOGOUT\n"
                               "unordered\nS: b OK $*\nS: * BYE Bye.\nend\n",
                               "self.script:4:", "do not match the unordered block",
                               "S: * BYE Logging out.")

    def test_expecting_a_close_when_more_comes_fails(self):
        self.assertScriptFails("test closed\nlogin imaps\nC: b LOGOUT\nS: * BYE $*\nclosed\n",
                               "self.script:5:", "sent more before closing",
                               "S: b OK LOGOUT completed.")

    def test_a_line_after_a_close_fails(self):
        self.assertScriptFails("test eof\nlogin imaps\nC: b LOGOUT\nS: * BYE $*\nS: b OK $*\n"
                               "S: * OK more\n",
                               "self.script:6:", "the server closed the connection",
                               "(connection closed)")

    def test_a_refused_login_fails(self):
        self.assertScriptFails("test login\nlogin starttls\n", "`L1` was refused",
                               "S: L1 NO [AUTHENTICATIONFAILED]", user="stranger")
        self.run_text("test login\nlogin starttls\n")

    def test_variables_carry_from_server_to_client_lines(self):
        self.run_text("test vars\nlogin imaps\nC: a ID NIL\nS: * ID (\"name\" \"$name\")\n"
                      "S: a OK $*\nC: b ID (\"name\" \"$name\")\nS: * ID (\"name\" \"$name\")\n"
                      "S: b OK ID completed.\n")
        self.assertScriptFails("test vars\nlogin imaps\nC: a ID NIL\nS: * ID (\"name\" \"$n\")\n"
                               "S: a OK $*\nC: b NOOP\nS: b OK $n\n", "self.script:7:")


if __name__ == "__main__":
    unittest.main()
