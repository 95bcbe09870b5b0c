#!/usr/bin/env python3
"""POP3 sessions per second, gannet and Dovecot side by side in the same run.

POP3_THREADS client threads (default 4) each loop for POP3_SECONDS (default
5) over one whole session on the POP3S port: connect, TLS 1.3 handshake,
greeting, USER, PASS, STAT, UIDL, RETR of each of the POP3_MESSAGES (default
20) messages, QUIT (nothing deleted, so every session finds the same
maildrop). Both servers get one user with the same {SHA512-CRYPT}
passwd-file line, the same certificate, the same messages in a Maildir
(LF line ends, as MTAs store them; 2 to 40 KB each), the same
UIDL format (Dovecot's default) and no per-user or per-address cap in the
way; the clients connect from 127.0.0.2. Every RETR is checked against the
message (CRLF, byte-stuffing undone) and the UIDLs must be the same at
every session. Dovecot (from Debian, /usr/sbin/dovecot) needs root to
start; without it only gannet is measured.

Prints a Markdown section for docs/BENCHMARKS.md (make bench). Python 3
standard library only.
"""

import os
import pwd
import random
import re
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import dovecot_pop3  # noqa: E402
from harness import (  # noqa: E402
    HOST, OTHER_HOST, GannetServer, client_context, password, user_hash,
)

THREADS = int(os.environ.get("POP3_THREADS", "4"))
SECONDS = float(os.environ.get("POP3_SECONDS", "5"))
MESSAGES = int(os.environ.get("POP3_MESSAGES", "20"))
USER = "alice"  # a SHA512-CRYPT user of the test harness
LIMIT = "10000"


def make_messages():
    """MESSAGES messages of 2 to 40 KB, LF line ends, some lines starting with '.'."""
    rnd = random.Random(1939)
    out = []
    for n in range(1, MESSAGES + 1):
        words = ["lorem", "ipsum", "dolor", "sit", "amet", ".dot", "consectetur", "adipiscing"]
        size = rnd.randint(2000, 40000)
        body = []
        total = 0
        while total < size:
            line = " ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12)))
            body.append(line)
            total += len(line) + 1
        out.append((f"From: Sender {n} <s{n}@example.org>\nTo: {USER}@example.org\n"
                    f"Subject: benchmark message {n}\nMessage-ID: <{n}.bench@example.org>\n"
                    "Date: Mon, 30 Nov 2026 12:00:00 +0000\n\n" + "\n".join(body) + "\n").encode())
    return out


def expect_ok(f):
    line = f.readline()
    if not line.startswith(b"+OK"):
        raise ConnectionError(f"answer {line!r}")
    return line


def read_multiline(f):
    """The lines of a multi-line answer, byte-stuffing undone, CRLF kept."""
    out = []
    while True:
        line = f.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError(f"line without CRLF or closed: {line[-40:]!r}")
        if line == b".\r\n":
            return out
        out.append(line[1:] if line.startswith(b".") else line)


def one_session(port, ctx, pw, expected):
    """One whole session; returns (seconds, the UIDL lines)."""
    t0 = time.perf_counter()
    sock = socket.create_connection((HOST, port), timeout=10, source_address=(OTHER_HOST, 0))
    with ctx.wrap_socket(sock, server_hostname="localhost") as s:
        f = s.makefile("rb")
        expect_ok(f)
        s.sendall(f"USER {USER}\r\n".encode())
        expect_ok(f)
        s.sendall(f"PASS {pw}\r\n".encode())
        expect_ok(f)
        s.sendall(b"STAT\r\n")
        if int(expect_ok(f).split()[1]) != len(expected):
            raise ConnectionError("STAT does not count every message")
        s.sendall(b"UIDL\r\n")
        expect_ok(f)
        uidls = read_multiline(f)
        got = set()
        for n in range(1, len(expected) + 1):
            s.sendall(b"RETR %d\r\n" % n)
            expect_ok(f)
            # the order of the messages is the order the server found the files in
            data = b"".join(read_multiline(f))
            if data not in expected or data in got:
                raise ConnectionError(f"RETR {n} is not one of the messages")
            got.add(data)
        s.sendall(b"QUIT\r\n")
        expect_ok(f)
    return time.perf_counter() - t0, uidls


def tree_cpu(root):
    """CPU seconds used by process root and its descendants, those already
    reaped included (a process's cutime and cstime): Dovecot's per-connection
    processes come and go, gannet's workers stay."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                parents[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
            except (OSError, IndexError, ValueError):
                pass
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += [p for p, (ppid, _) in parents.items() if ppid == pid and p not in tree]
    return sum(parents[p][1] for p in tree if p in parents) / os.sysconf("SC_CLK_TCK")


def measure(port, pw, messages, server_pid):
    """THREADS clients for SECONDS: (sessions per second, session times, errors, UIDLs,
    the server's CPU seconds per session)."""
    expected = {re.sub(rb"(?<!\r)\n", b"\r\n", m) for m in messages}
    ctx = client_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    # a first session indexes the Maildir: not measured
    _, uidls = one_session(port, ctx, pw, expected)
    times, errors, seen = [], [], set()
    lock = threading.Lock()
    cpu_before = tree_cpu(server_pid)
    start = time.monotonic()
    deadline = start + SECONDS

    def client():
        while time.monotonic() < deadline:
            try:
                t, u = one_session(port, ctx, pw, expected)
            except (OSError, ConnectionError, ValueError) as e:
                with lock:
                    errors.append(str(e))
                continue
            with lock:
                times.append(t)
                seen.add(tuple(u))

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    cpu = tree_cpu(server_pid) - cpu_before
    if seen - {tuple(uidls)}:
        errors.append("the UIDLs changed between sessions")
    return len(times) / elapsed, times, errors, uidls, cpu / max(1, len(times))


def ms(values, q):
    if not values:
        return "-"
    if q == 50:
        return "%.1f ms" % (statistics.median(values) * 1000)
    return "%.1f ms" % (statistics.quantiles(values, n=100)[q - 1] * 1000)


def gannet_commit():
    top = os.path.join(HERE, "..")
    try:
        r = subprocess.run(["git", "-C", top, "log", "-1", "--format=%h (%cs)", "--", "src"],
                           capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", top, "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip() + (" with uncommitted changes" if dirty else "")
    except OSError:
        pass
    return "unknown"


def main():
    passwd_line = f"{USER}:{user_hash(USER)}::::::"
    if not user_hash(USER).startswith("{SHA512-CRYPT}"):
        raise SystemExit(f"no SHA512-CRYPT hash for {USER}")
    messages = make_messages()
    load = os.getloadavg()[0]
    rows, notes = [], []

    srv = GannetServer(users=[USER], listeners=["pop3s"], start=False, settings={
        "login_max_connections_per_ip": LIMIT, "login_max_connections": LIMIT,
        "mail_max_userip_connections": LIMIT, "auth_mechanisms": "plain login",
        "protocols": "pop3"})
    try:
        owner = pwd.getpwnam(srv.mail_user)
        dovecot_pop3.write_maildir(os.path.join(srv.home, USER, "Maildir"), messages, owner)
        srv.start()
        workers = len(srv.workers())
        rows.append((f"gannet ({workers} workers)",) + measure(srv.ports["pop3s"],
                                                               password(USER), messages,
                                                               srv.pid))
    finally:
        srv.cleanup()

    if dovecot_pop3.available():
        for shared, name in ((False, "Dovecot %s, defaults (a login process per connection)"),
                             (True, "Dovecot %s, login processes shared (service_count = 0)")):
            with dovecot_pop3.DovecotPop3([passwd_line], shared_login=shared, limit=LIMIT) as dv:
                dovecot_pop3.write_maildir(dv.maildir(USER), messages, dv.owner)
                dv.start()
                rows.append((name % dovecot_pop3.version(),) + measure(dv.port, password(USER),
                                                                       messages, dv.pid()))
    else:
        notes.append("Dovecot not measured: it needs root and /usr/sbin/dovecot.")

    size = sum(len(m) for m in messages)
    print("\n## POP3 sessions per second\n")
    print(f"`python3 bench/pop3-sessions.py` (POP3_THREADS={THREADS}, "
          f"POP3_SECONDS={SECONDS:g}, POP3_MESSAGES={MESSAGES}): each client thread loops over "
          "whole sessions on the POP3S port from 127.0.0.2: connect, TLS 1.3 handshake, "
          f"greeting, USER, PASS, STAT, UIDL, RETR of each of the {MESSAGES} messages "
          f"({size // 1024} KiB stored with LF line ends, sent with CRLF), QUIT; every RETR "
          "checked against the message. One user whose {SHA512-CRYPT} passwd-file line is the "
          "same for both servers, the same RSA 2048 certificate, the same Maildir, Dovecot's "
          f"default UIDL format on both. gannet's src/ at {gannet_commit()}; {os.cpu_count()} "
          f"CPUs shared by the clients and the server, load average {load:.2f} at the start.\n")
    print("| server | sessions/s | session median | session p95 | messages/s | "
          "server CPU per session | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, rate, times, errors, _, cpu in rows:
        print(f"| {name} | {rate:.1f} | {ms(times, 50)} | {ms(times, 95)} | "
              f"{rate * MESSAGES:.0f} | {cpu * 1000:.1f} ms | {len(errors)} |")
    if len(rows) > 1:
        gl = [l.split()[1].decode() for l in rows[0][4]]
        dl = [l.split()[1].decode() for l in rows[1][4]]
        agree = [u[:8] for u in gl] == [u[:8] for u in dl]
        notes.append(f"UIDLs: the UID halves {'agree' if agree else 'DIFFER'} between the two "
                     "servers (the UIDVALIDITY halves differ: each server gave the Maildir its "
                     f"own), e.g. gannet {gl[0]}, Dovecot {dl[0]}. The client threads are "
                     "Python's, one interpreter, and take much of the CPU themselves: \"server "
                     "CPU per session\" is the CPU time of the server's processes (those that "
                     "ended included) over the sessions measured.")
    for name, _, _, errors, _, _ in rows:
        if errors:
            notes.append(f"{name}, first error: {errors[0]}")
    for n in notes:
        print(f"\n{n}")


if __name__ == "__main__":
    main()
