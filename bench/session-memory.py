#!/usr/bin/env python3
"""Memory per connection: one worker holding N logged-in IMAPS sessions.
Prints a Markdown section for docs/BENCHMARKS.md (make bench)."""

import os
import resource
import socket
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from harness import GannetServer, password  # noqa: E402

N = int(os.environ.get("SESSIONS", "1000"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * N + 100)), hard))
    limit = str(N + 10)
    srv = GannetServer(settings={"workers": "1", "login_max_connections_per_ip": limit,
                                 "login_max_connections": limit,
                                 "mail_max_userip_connections": limit})
    try:
        worker = srv.workers()[0]
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        before = rss_kib(worker)
        sessions = []
        for _ in range(N):
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.ports["imaps"])))
            f = s.makefile("rb")
            f.readline()
            s.sendall(f"a LOGIN alice {password('alice')}\r\n".encode())
            line = f.readline()
            if not line.startswith(b"a OK"):
                raise SystemExit(f"login {len(sessions) + 1} failed: {line!r}")
            sessions.append((s, f))
        time.sleep(0.5)
        after = rss_kib(worker)
        # then each selects INBOX: the user's store is open in every session
        for i, (s, f) in enumerate(sessions):
            s.sendall(b"s SELECT INBOX\r\n")
            while True:
                line = f.readline()
                if line.startswith(b"s "):
                    break
            if not line.startswith(b"s OK"):
                raise SystemExit(f"SELECT {i + 1} failed: {line!r}")
        time.sleep(0.5)
        selected = rss_kib(worker)
        for s, _ in sessions:
            s.close()
    finally:
        srv.cleanup()
    print("\n## Memory per connection\n")
    print("`python3 bench/session-memory.py` (SESSIONS=%d): one worker process, TLS 1.3, "
          "each session logged in and idle, then each with INBOX selected (the user's "
          "index open in every session).\n" % N)
    print("| worker RSS before | logged in, %d sessions | per session | INBOX selected | "
          "per session |" % N)
    print("| ---: | ---: | ---: | ---: | ---: |")
    print("| %d KiB | %d KiB | %.1f KiB | %d KiB | %.1f KiB |" % (
        before, after, (after - before) / N, selected, (selected - before) / N))


if __name__ == "__main__":
    main()
