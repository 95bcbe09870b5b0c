"""An unknown user must not be told from a real one (issue "Defects found
trying gannet as a new user would", point 4): not by the time a login takes,
not by the SCRAM server-first message, not by the answer.

The server runs with auth_failure_delay = 0, so that what is timed is the
hashing work itself, on a passdb of slow hashes: BLF-CRYPT (cost 10) for the
password logins, and SCRAM-SHA-256 stored with a high iteration count. Known
and unknown users take turns (in a random order each round) so that the load
of a shared machine weighs on both alike; the medians of TRIES tries each
must agree within TOLERANCE. A burst of load during one measurement can still
skew it, so a difference must show in each of RUNS measurements to fail the
test; before the fix an unknown user cost no hash at all and every run failed.
"""

import base64
import os
import random
import re
import stat
import statistics
import subprocess
import time
import unittest

from harness import (
    GANNET, ScramClient, ServerTestCase, b64, dovecot_scram_sha256, plain_b64, unb64,
)

TRIES = 20
RUNS = 3
TOLERANCE = 0.20  # the medians may differ by this much of the known users' one
MIN_WORK = 0.010  # seconds: a known user's check is a slow hash, well above noise
ITERATIONS = 100000  # the stored SCRAM users' count (tens of ms of PBKDF2)

BCRYPT_USERS = ("kb1", "kb2", "kb3")  # the passdb's most common kind of hash
SCRAM_USERS = ("ks1", "ks2")  # {SCRAM-SHA-256}ITERATIONS,...
PLAIN_USERS = ("kp1",)  # {PLAIN}: SCRAM derives its keys with PBKDF2 per exchange
UNKNOWN_USERS = ("nosuch1", "nosuch2", "nosuch3")

IMAP_FAILED = "a NO [AUTHENTICATIONFAILED] Authentication failed."
POP3_FAILED = "-ERR [AUTH] Authentication failed."


def pw(user):
    return f"{user}-pw-1"


def guess(user):
    """What the attacker sends: a wrong password for a known user, anything
    for an unknown one."""
    return f"{user}-guess-9"


def bcrypt_line(user):
    r = subprocess.run([GANNET, "passwd", "-s", "BLF-CRYPT", "-p", pw(user)],
                       capture_output=True, timeout=60)
    out = r.stdout.decode().strip()
    if r.returncode != 0 or not out.startswith("{BLF-CRYPT}$2y$10$"):
        raise unittest.SkipTest(f"`gannet passwd -s BLF-CRYPT` did not work: {r.stderr!r}")
    return f"{user}:{out}::::::"


def passwd_lines():
    if not os.access(GANNET, os.X_OK):
        raise unittest.SkipTest(f"{GANNET} is not built")
    lines = [bcrypt_line(u) for u in BCRYPT_USERS]
    lines += [f"{u}:{dovecot_scram_sha256(pw(u), ITERATIONS)}::::::" for u in SCRAM_USERS]
    lines += [f"{u}:{{PLAIN}}{pw(u)}::::::" for u in PLAIN_USERS]
    return lines


def scram_attrs(server_first):
    return dict(kv.split("=", 1) for kv in server_first.split(","))


class UnknownUserTimingTest(ServerTestCase):
    SERVER_SETTINGS = {
        "auth_failure_delay": "0",
        "ssl": "yes",
        "disable_plaintext_auth": "no",  # plaintext listeners: no TLS work in the way
        "login_max_connections_per_ip": "100",
    }

    @classmethod
    def setUpClass(cls):
        cls.SERVER_KW = {"users": [], "extra_users": passwd_lines()}
        super().setUpClass()

    # -- one try each; returns (seconds, the answer that ended it)

    def connect(self, name):
        c = self.srv.raw(name)
        self.addCleanup(c.close)
        self.assertTrue(c.line().startswith(("* OK", "+OK")))
        return c

    def imap_login(self, user):
        with self.connect("imap") as c:
            t0 = time.monotonic()
            c.cmd(f"a LOGIN {user} {guess(user)}")
            answer = c.read_until_tagged("a")[1]
            return time.monotonic() - t0, answer

    def imap_authenticate_plain(self, user):
        with self.connect("imap") as c:
            t0 = time.monotonic()
            c.cmd("a AUTHENTICATE PLAIN " + plain_b64(user, guess(user)))
            answer = c.read_until_tagged("a")[1]
            return time.monotonic() - t0, answer

    def imap_authenticate_login(self, user):
        with self.connect("imap") as c:
            c.cmd("a AUTHENTICATE LOGIN")
            self.assertEqual(c.line(), "+ " + b64("Username:"))
            c.cmd(b64(user))
            self.assertEqual(c.line(), "+ " + b64("Password:"))
            t0 = time.monotonic()
            c.cmd(b64(guess(user)))
            answer = c.read_until_tagged("a")[1]
            return time.monotonic() - t0, answer

    def pop3_user_pass(self, user):
        with self.connect("pop3") as c:
            c.cmd(f"USER {user}")
            self.assertEqual(c.line(), "+OK")
            t0 = time.monotonic()
            c.cmd(f"PASS {guess(user)}")
            answer = c.line()
            return time.monotonic() - t0, answer

    def imap_scram(self, user):
        """Times client-first to server-first; then ends the exchange with a
        proof for a wrong password. Returns (seconds, (server-first, answer))."""
        with self.connect("imap") as c:
            scram = ScramClient(user, guess(user))
            t0 = time.monotonic()
            c.cmd("a AUTHENTICATE SCRAM-SHA-256 " + b64(scram.first()))
            line = c.line()
            elapsed = time.monotonic() - t0
            self.assertTrue(line.startswith("+ "), line)
            server_first = unb64(line[2:]).decode()
            c.cmd(b64(scram.final(server_first)))
            return elapsed, (server_first, c.read_until_tagged("a")[1])

    # -- measuring

    def measure(self, attempt, groups):
        """TRIES tries for each group of users, the groups in a random order in
        each round, after one untimed round. Returns {group: [seconds]},
        {group: [answers]}."""
        for users in groups.values():
            attempt(users[0])
        times = {g: [] for g in groups}
        answers = {g: [] for g in groups}
        for i in range(TRIES):
            order = list(groups)
            random.shuffle(order)
            for g in order:
                users = groups[g]
                elapsed, answer = attempt(users[i % len(users)])
                times[g].append(elapsed)
                answers[g].append(answer)
        return times, answers

    @staticmethod
    def time_difference(what, times, known, unknown="unknown"):
        """None when the medians agree (and the known users' one shows the
        hashing), else what is wrong."""
        mk, mu = statistics.median(times[known]), statistics.median(times[unknown])
        detail = (f"{what}: median {mu * 1000:.1f} ms for unknown users, {mk * 1000:.1f} ms for "
                  f"{known} users")
        print("\n  " + detail, end="")
        detail += "; all (ms): " + "; ".join(
            f"{g}: " + " ".join(f"{t * 1000:.0f}" for t in ts) for g, ts in times.items())
        if mk <= MIN_WORK:
            return "no hashing measured for the known users: " + detail
        if abs(mu - mk) > TOLERANCE * mk:
            return detail
        return None

    def assertSameTimes(self, what, attempt, groups, known_groups, check_answers):
        """Measures up to RUNS times; fails when every run finds a difference."""
        problems = []
        for _ in range(RUNS):
            times, answers = self.measure(attempt, groups)
            found = [self.time_difference(what + (f", {k}" if len(known_groups) > 1 else ""),
                                          times, k) for k in known_groups]
            found = [p for p in found if p]
            check_answers(answers)
            if not found:
                return
            problems.append(found)
        self.fail(f"in each of {RUNS} runs:\n" + "\n".join("; ".join(p) for p in problems))

    def check_password_login(self, what, attempt, failed):
        def same_answers(answers):
            # The same words for both
            self.assertEqual(set(answers["known"]), {failed})
            self.assertEqual(set(answers["unknown"]), {failed})
        self.assertSameTimes(what, attempt, {"known": BCRYPT_USERS, "unknown": UNKNOWN_USERS},
                             ["known"], same_answers)

    # -- the tests

    def test_imap_login(self):
        self.check_password_login("IMAP LOGIN", self.imap_login, IMAP_FAILED)

    def test_imap_authenticate_plain(self):
        self.check_password_login("AUTHENTICATE PLAIN", self.imap_authenticate_plain, IMAP_FAILED)

    def test_imap_authenticate_login(self):
        self.check_password_login("AUTHENTICATE LOGIN", self.imap_authenticate_login, IMAP_FAILED)

    def test_pop3_user_pass(self):
        self.check_password_login("POP3 USER/PASS", self.pop3_user_pass, POP3_FAILED)

    def test_scram_server_first(self):
        """Up to server-first, an unknown user costs what a {PLAIN} user (keys
        derived with PBKDF2) and a {SCRAM-SHA-256} user (keys stored) cost,
        and gets a message of the same shape; the exchange then fails with
        the same answer."""
        def same_answers(answers):
            shapes = set()
            for g, results in answers.items():
                for server_first, answer in results:
                    self.assertEqual(answer, IMAP_FAILED, g)
                    attrs = scram_attrs(server_first)
                    shapes.add((g, len(base64.b64decode(attrs["s"])), attrs["i"]))
            self.assertEqual({(n, i) for _, n, i in shapes}, {(16, str(ITERATIONS))},
                             f"salt lengths and iteration counts differ: {sorted(shapes)}")
        self.assertSameTimes(
            "SCRAM-SHA-256 to server-first", self.imap_scram,
            {"{PLAIN}": PLAIN_USERS, "{SCRAM-SHA-256}": SCRAM_USERS, "unknown": UNKNOWN_USERS},
            ["{PLAIN}", "{SCRAM-SHA-256}"], same_answers)

    def test_scram_fake_salt_stable_per_name(self):
        """An unknown user's salt is the same at every try, as a stored one
        is, and another for another name."""
        def salt(user):
            return scram_attrs(self.imap_scram(user)[1][0])["s"]
        self.assertEqual(salt("nosuch1"), salt("nosuch1"))
        self.assertNotEqual(salt("nosuch1"), salt("nosuch2"))
        self.assertEqual(salt("ks1"), salt("ks1"))

    def test_failure_log_lines_alike(self):
        """Without auth_verbose the log line for a failure says no more for
        an unknown user than for a wrong password."""
        def failures():
            return [line for line in self.srv.log().splitlines() if "authentication failed" in line]
        seen = len(failures())
        for user in ("kb1", "nosuch1"):
            self.assertEqual(self.imap_login(user)[1], IMAP_FAILED)
        deadline = time.monotonic() + 5
        while len(failures()) < seen + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = failures()[seen:]
        self.assertEqual(len(lines), 2, lines)
        # the same but for the time, the process and the connection's id
        alike = {re.sub(r"^.*?<[^>]*> ", "", line) for line in lines}
        self.assertEqual(len(alike), 1, lines)
        self.assertNotIn("nosuch1", self.srv.log())


class ScramSaltAcrossRestartsTest(ServerTestCase):
    """The secret behind made-up salts lives in state_dir: an unknown user's
    salt (and a {PLAIN} user's) is the same after a restart, as a stored
    user's is; a salt that changed would single out the names that do not
    exist."""

    SERVER_KW = {"users": ["carol"]}  # {PLAIN}

    def salt(self, user):
        with self.srv.raw("imaps") as c:
            c.line()
            scram = ScramClient(user, guess(user))
            c.cmd("a AUTHENTICATE SCRAM-SHA-256 " + b64(scram.first()))
            line = c.line()
            self.assertTrue(line.startswith("+ "), line)
            c.cmd("*")
            c.read_until_tagged("a")
            return scram_attrs(unb64(line[2:]).decode())["s"]

    def test_salt_survives_restart(self):
        before = (self.salt("nosuchuser"), self.salt("carol"))
        self.srv.stop()
        self.srv.start()
        self.assertEqual((self.salt("nosuchuser"), self.salt("carol")), before)
        key = self.srv.path("scram-salt.key")
        st = os.stat(key)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(st.st_size, 32)
        # Another install (another secret): other salts.
        os.unlink(key)
        self.srv.stop()
        self.srv.start()
        self.assertNotEqual(self.salt("nosuchuser"), before[0])


if __name__ == "__main__":
    unittest.main()
