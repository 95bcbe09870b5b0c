#!/usr/bin/env python3
"""LMTP deliveries per second, with fsync: gannet and Dovecot's LMTP (from
Debian's dovecot-lmtpd) on this machine, in the same run, driven by the same
client. Prints a Markdown section for docs/BENCHMARKS.md (make bench).

Both servers run on a free loopback port with a passwd-file of 10 users and
Maildirs in a temporary directory; every delivery is durable before its 250
(gannet: fsync of the file, of cur/ and of the index's WAL; Dovecot: its
default mail_fsync = optimized, and mail_fsync = always).

The client pipelines each transaction (MAIL, RCPT..., DATA in one write) and
reads every reply. Scenarios:
  - one connection, one recipient per message (an MTA that keeps its
    connection, as Postfix does under load);
  - 4 connections at once, each to its own user;
  - one connection, 10 recipients per message (counted per recipient);
  - a new connection for every message.

Python 3 standard library only; DOVECOT=/path/to/dovecot to use another one,
DELIVERIES=N to scale the runs."""

import os
import pwd
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import GannetServer, free_port  # noqa: E402

HOST = "127.0.0.1"
N = int(os.environ.get("DELIVERIES", "400"))
DOVECOT = os.environ.get("DOVECOT", "/usr/sbin/dovecot")
DOVECOT_LMTP = "/usr/lib/dovecot/lmtp"
USERS = [f"user{i}" for i in range(10)]
BODY = (b"From: Bench <bench@example.net>\r\nTo: someone@example.org\r\n"
        b"Subject: a message of about two kilobytes\r\n"
        b"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench@example.net>\r\n\r\n" +
        b"".join(b"line %04d of the body, some words to make it look like text.\r\n" % i
                 for i in range(30)))


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=60)
        self.f = self.sock.makefile("rb")
        self.reply()
        self.sock.sendall(b"LHLO bench.example\r\n")
        self.reply()

    def reply(self):
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("connection closed")
            if line[3:4] != b"-":
                return line

    def deliver(self, rcpts):
        cmds = b"MAIL FROM:<bench@example.net>\r\n" + b"".join(
            b"RCPT TO:<%s@example.org>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n"
        self.sock.sendall(cmds)
        for _ in range(len(rcpts) + 1):
            line = self.reply()
            if not line.startswith(b"250"):
                raise RuntimeError(f"refused: {line!r}")
        line = self.reply()
        if not line.startswith(b"354"):
            raise RuntimeError(f"DATA refused: {line!r}")
        self.sock.sendall(BODY + b".\r\n")
        for _ in rcpts:
            line = self.reply()
            if not line.startswith(b"250"):
                raise RuntimeError(f"not delivered: {line!r}")

    def close(self):
        try:
            self.sock.sendall(b"QUIT\r\n")
            self.reply()
        except OSError:
            pass
        self.sock.close()


def run_scenarios(port):
    """Returns [(scenario, deliveries, seconds)]."""
    results = []
    warm = Client(port)
    for u in USERS:  # first deliveries create the Maildirs
        warm.deliver([u])
    warm.close()

    c = Client(port)
    start = time.perf_counter()
    for _ in range(N):
        c.deliver([USERS[0]])
    results.append(("1 connection, 1 recipient", N, time.perf_counter() - start))
    c.close()

    per = N // 4
    errors = []

    def worker(i):
        try:
            cl = Client(port)
            for _ in range(per):
                cl.deliver([USERS[1 + i]])
            cl.close()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    results.append(("4 connections, 1 recipient each", 4 * per, time.perf_counter() - start))

    c = Client(port)
    msgs = N // 10
    start = time.perf_counter()
    for _ in range(msgs):
        c.deliver(USERS)
    results.append(("1 connection, 10 recipients per message (per recipient)", msgs * 10,
                    time.perf_counter() - start))
    c.close()

    n = N // 2
    start = time.perf_counter()
    for _ in range(n):
        cl = Client(port)
        cl.deliver([USERS[5]])
        cl.close()
    results.append(("a new connection per message", n, time.perf_counter() - start))
    return results


def bench_gannet():
    port = free_port()
    srv = GannetServer(settings={"protocols": "imap lmtp"}, listeners=("imap",), start=False,
                       extra_users=[f"{u}:{{PLAIN}}x::::::" for u in USERS])
    try:
        srv.extra_config = (f"service lmtp {{\n inet_listener lmtp {{\n  port = {port}\n }}\n"
                            f" unix_listener lmtp {{\n  path = {srv.path('lmtp.sock')}\n }}\n}}\n")
        srv.write_config()
        srv.start()
        wait_port(port)
        return run_scenarios(port)
    finally:
        srv.cleanup()


def wait_port(port):
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing answers on port {port}")
            time.sleep(0.1)


def bench_dovecot(fsync):
    tmp = tempfile.TemporaryDirectory(prefix="gannet-bench-dovecot-")
    d = tmp.name
    os.chmod(d, 0o755)
    port = free_port()
    nobody = pwd.getpwnam("nobody")
    os.mkdir(f"{d}/home", 0o755)
    os.chown(f"{d}/home", nobody.pw_uid, nobody.pw_gid)
    with open(f"{d}/passwd", "w") as f:
        f.writelines(f"{u}:{{PLAIN}}x::::::\n" for u in USERS)
    conf = f"{d}/dovecot.conf"
    with open(conf, "w") as f:
        f.write(f"""base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = lmtp
listen = {HOST}
ssl = no
auth_username_format = %Ln
postmaster_address = postmaster@example.org
mail_location = maildir:{d}/home/%n/Maildir
mail_fsync = {fsync}
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%n
}}
service lmtp {{
  inet_listener lmtp {{
    address = {HOST}
    port = {port}
  }}
}}
""")
    # the daemon keeps what it inherits open: no pipes, or run() never returns
    with open(f"{d}/start.err", "w") as err:
        r = subprocess.run([DOVECOT, "-c", conf], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err, timeout=30)
    if r.returncode != 0:
        with open(f"{d}/start.err") as err:
            msg = err.read()
        tmp.cleanup()
        raise RuntimeError("dovecot did not start: " + msg)
    try:
        wait_port(port)
        return run_scenarios(port)
    finally:
        pid = None
        try:
            with open(f"{d}/run/master.pid") as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            pass
        subprocess.run([DOVECOT, "-c", conf, "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
        deadline = time.monotonic() + 10
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                time.sleep(0.1)
            except OSError:
                break
        tmp.cleanup()


def source_revision():
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    r = subprocess.run(["git", "-C", repo, "log", "-1", "--format=%h (%cs)", "--", "src"],
                       capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


def main():
    load = os.getloadavg()[0]
    runs = [("gannet", bench_gannet())]
    note = ""
    if os.geteuid() != 0:
        note = "Dovecot not run: it needs root to start."
    elif not (os.access(DOVECOT, os.X_OK) and os.access(DOVECOT_LMTP, os.X_OK)):
        note = ("Dovecot's LMTP not run: install Debian's dovecot-lmtpd "
                "(`apt-get install dovecot-lmtpd`) to compare.")
    else:
        version = subprocess.run([DOVECOT, "--version"], capture_output=True,
                                 text=True).stdout.split()[0]
        runs.append((f"Dovecot {version} (mail_fsync = optimized, its default)",
                     bench_dovecot("optimized")))
        runs.append((f"Dovecot {version} (mail_fsync = always)", bench_dovecot("always")))
    print("\n## LMTP deliveries\n")
    print(f"`python3 bench/lmtp-deliveries.py` (DELIVERIES={N}): a message of {len(BODY)} "
          "bytes delivered over LMTP on 127.0.0.1, every one durable before its 250; the "
          "same pipelining client for every server; gannet's src/ at "
          f"{source_revision()}, one worker per core; load average {load:.1f} on "
          f"{os.cpu_count()} CPUs (shared with the clients) when it started.\n")
    scenarios = [s for s, _, _ in runs[0][1]]
    print("| scenario | " + " | ".join(name for name, _ in runs) + " |")
    print("| --- |" + " ---: |" * len(runs))
    for i, scenario in enumerate(scenarios):
        cells = []
        for _, res in runs:
            _, n, secs = res[i]
            cells.append(f"{n / secs:.0f}/s ({n} in {secs:.2f} s)")
        print(f"| {scenario} | " + " | ".join(cells) + " |")
    print("\nWhat each server makes durable per delivery: gannet fsyncs the message file, "
          "gannet-uidlist and its directory (the UID reserved before it is used), cur/ after "
          "the rename, and the index's WAL at its commit; Dovecot's default, optimized, fsyncs "
          "\"whenever necessary to avoid losing important data\" in its documentation's words, "
          "`always` after every write. "
          "With several recipients gannet writes the message once and links it into each "
          "mailbox, committing the other users' copies on up to four threads at once.")
    if note:
        print(f"\n{note}")


if __name__ == "__main__":
    main()
