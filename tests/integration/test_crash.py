"""The crash test of issue 3's acceptance list: bench/crash-driver loops over
deliveries, copies, moves, flag changes and expunges on a store, and is killed
with SIGKILL at random moments, many times. After every kill:

- every message the driver logged as acknowledged (ACK, fsynced only after the
  store call returned) and did not start to remove (INTENT) is present and
  byte-identical, read back through the index with `gannet fetch ... body`;
- no (mailbox, UID) was acknowledged twice (a UID is never reused);
- UIDVALIDITY never changes, and UIDNEXT stays above every acknowledged UID;
- the index agrees with the files: the UIDs, sizes and flags `gannet fetch`
  reports are those in the Maildir's file names (",U=", ":2,").

CRASH_SECONDS (default 40) sets how long it runs; `make crash` runs it longer.
"""

import os
import pwd
import random
import re
import signal
import subprocess
import time
import unittest

from harness import GANNET, GannetServer

DRIVER = os.environ.get("CRASH_DRIVER") or os.path.join(os.path.dirname(GANNET), "bench",
                                                        "crash-driver")
SECONDS = float(os.environ.get("CRASH_SECONDS", "40"))
FLAG_LETTERS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                "T": "\\Deleted"}
FETCH_RE = re.compile(rb"\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\) RFC822.SIZE (\d+) "
                      rb"BODY\[\] \{(\d+)\}\n")


def fnv64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def parse_fetch(out):
    """{uid: (flags set, size, body)} from `fetch 1:* uid flags size body`."""
    msgs, pos = {}, 0
    while pos < len(out):
        m = FETCH_RE.match(out, pos)
        if not m:
            raise AssertionError(f"unexpected fetch output at {pos}: {out[pos:pos + 200]!r}")
        n = int(m.group(5))
        body = out[m.end():m.end() + n]
        if out[m.end() + n:m.end() + n + 2] != b")\n":
            raise AssertionError(f"literal of UID {m.group(2)} not followed by )")
        msgs[int(m.group(2))] = (set(m.group(3).decode().split()), int(m.group(4)), body)
        pos = m.end() + n + 2
    return msgs


@unittest.skipUnless(os.access(DRIVER, os.X_OK), f"{DRIVER} is not built")
class TestCrash(unittest.TestCase):
    def setUp(self):
        self.srv = GannetServer(start=False)
        self.addCleanup(self.srv.cleanup)
        self.maildir = os.path.join(self.srv.home, "alice", "Maildir")
        self.log = os.path.join(self.srv.dir, "driver.log")
        self.pw = pwd.getpwnam(self.srv.mail_user)
        os.mkdir(os.path.dirname(self.maildir), 0o700)
        open(self.log, "w").close()
        if os.geteuid() == 0:
            os.chown(os.path.dirname(self.maildir), self.pw.pw_uid, self.pw.pw_gid)
            os.chown(self.log, self.pw.pw_uid, self.pw.pw_gid)

    def gannet(self, *args):
        r = subprocess.run([GANNET, *args, "-c", self.srv.conf], capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, f"gannet {args}: {r.stderr.decode(errors='replace')}")
        return r.stdout

    def run_driver(self, seed, lifetime):
        kw = {}
        if os.geteuid() == 0:
            kw = dict(user=self.pw.pw_uid, group=self.pw.pw_gid, extra_groups=[])
        p = subprocess.Popen([self.srv.reachable_copy(DRIVER), self.maildir, self.log, str(seed)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)
        time.sleep(lifetime)
        p.send_signal(signal.SIGKILL)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, -signal.SIGKILL,
                         f"the driver stopped by itself: {err.decode(errors='replace')}")

    def read_log(self):
        acked, intents, gone, uidvalidity = {}, set(), set(), {}
        with open(self.log) as f:
            for line in f:
                parts = line.split()
                if not line.endswith("\n"):
                    break  # the last line was being written at the kill
                if parts[0] == "UIDVALIDITY":
                    first = uidvalidity.setdefault(parts[1], int(parts[2]))
                    self.assertEqual(first, int(parts[2]), f"UIDVALIDITY of {parts[1]} changed")
                elif parts[0] == "ACK":
                    key = (parts[1], int(parts[2]))
                    self.assertNotIn(key, acked, f"UID {key} acknowledged twice: reused")
                    acked[key] = parts[3]
                elif parts[0] == "INTENT":
                    intents.add((parts[1], int(parts[2])))
                elif parts[0] == "GONE":
                    gone.add((parts[1], int(parts[2])))
        return acked, intents, gone, uidvalidity

    def files(self, mailbox):
        """{uid: (flags, size)} from the Maildir's file names."""
        d = self.maildir if mailbox == "INBOX" else os.path.join(self.maildir, "." + mailbox)
        out = {}
        for sub in ("cur", "new"):
            for name in os.listdir(os.path.join(d, sub)):
                m = re.search(r",U=(\d+)", name)
                self.assertIsNotNone(m, f"{sub}/{name} has no UID after a sync")
                uid = int(m.group(1))
                self.assertNotIn(uid, out, f"two files with UID {uid} in {mailbox}")
                letters = name.split(":2,", 1)[1] if ":2," in name else ""
                flags = {FLAG_LETTERS[c] for c in letters if c in FLAG_LETTERS}
                out[uid] = (flags, os.path.getsize(os.path.join(d, sub, name)))
        return out

    def check(self, rounds_done):
        acked, intents, gone, uidvalidity = self.read_log()
        for mailbox in ("INBOX", "A"):
            if mailbox not in uidvalidity:
                continue  # killed before it was opened
            status = self.gannet("mailbox", "status", "-u", "alice", "-f", "uidvalidity uidnext",
                                 mailbox).decode().split()
            st = {k: int(v) for k, v in (kv.split("=") for kv in status)}
            self.assertEqual(st["uidvalidity"], uidvalidity[mailbox], "UIDVALIDITY changed")
            max_acked = max([u for (mb, u) in acked if mb == mailbox], default=0)
            self.assertGreater(st["uidnext"], max_acked, f"UIDNEXT of {mailbox} went back")
            msgs = parse_fetch(self.gannet("fetch", "-u", "alice", mailbox, "1:*",
                                           "uid flags size body"))
            for (mb, uid), checksum in acked.items():
                if mb != mailbox:
                    continue
                if (mb, uid) not in intents:
                    self.assertIn(uid, msgs, f"acknowledged {mb} UID {uid} lost after "
                                             f"{rounds_done} kills")
                if uid in msgs:
                    self.assertEqual(fnv64(msgs[uid][2]), checksum,
                                     f"{mb} UID {uid} changed after {rounds_done} kills")
            for uid in msgs:
                if (mailbox, uid) in gone:
                    self.fail(f"{mailbox} UID {uid} was expunged and acknowledged, yet is back")
            files = self.files(mailbox)
            index = {uid: (flags - {"\\Recent"}, size) for uid, (flags, size, _) in msgs.items()}
            self.assertEqual(index, files, f"index and files of {mailbox} disagree")
            for uid, (_, size, body) in msgs.items():
                self.assertEqual(size, len(body))  # CRLF messages: RFC822.SIZE is the file size

    def test_sigkill_at_random_moments(self):
        rng = random.Random(os.environ.get("CRASH_SEED") or time.time())
        deadline = time.monotonic() + SECONDS
        rounds = 0
        while time.monotonic() < deadline or rounds < 10:
            self.run_driver(rng.randrange(1 << 30), rng.uniform(0.05, 0.6))
            rounds += 1
            self.check(rounds)
        acked, _, gone, _ = self.read_log()
        # the run must have done real work, or it proved nothing
        self.assertGreater(len(acked), 50)
        self.assertGreater(len(gone), 10)
        print(f"\ncrash test: {rounds} kills, {len(acked)} acknowledged messages, "
              f"{len(gone)} removed", flush=True)


if __name__ == "__main__":
    unittest.main()
