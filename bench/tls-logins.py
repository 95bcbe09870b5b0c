#!/usr/bin/env python3
"""TLS logins per second, gannet and Dovecot side by side in the same run.

LOGIN_THREADS client threads (default 4) each loop for LOGIN_SECONDS (default
5) over: connect -> TLS handshake -> read the greeting -> LOGIN -> LOGOUT, on
the IMAPS port. Also measured: the time from the end of the client's TLS
handshake to the arrival of the greeting. Both servers get one user with the
same {SHA512-CRYPT} passwd-file line, the same certificate, and the same
limits (no per-user or per-address cap in the way); the clients connect from
127.0.0.2 so that neither server treats them as local. Dovecot (from Debian,
/usr/sbin/dovecot) needs root to start; without it only gannet is measured.

Prints a Markdown section for docs/BENCHMARKS.md (make bench). Python 3
standard library only.
"""

import os
import pwd
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import (  # noqa: E402
    HOST, OTHER_HOST, GannetServer, client_context, free_ports, password, server_cert,
    user_hash,
)

THREADS = int(os.environ.get("LOGIN_THREADS", "4"))
SECONDS = float(os.environ.get("LOGIN_SECONDS", "5"))
DOVECOT = "/usr/sbin/dovecot"
USER = "alice"  # a SHA512-CRYPT user of the test harness
LIMIT = "10000"  # connections per user, address, in total: far above what the clients open


class Dovecot:
    """Dovecot with its own config on a free loopback IMAPS port, in a
    temporary directory. high_performance: login processes that serve many
    connections each (service_count = 0) instead of one process per
    connection, Dovecot's default."""

    def __init__(self, passwd_line, high_performance):
        self.tmp = tempfile.TemporaryDirectory(prefix="gannet-bench-dovecot-")
        d = self.dir = self.tmp.name
        os.chmod(d, 0o755)
        cert, key = server_cert(d)
        self.port = free_ports(1)[0]
        with open(f"{d}/passwd", "w") as f:
            f.write(passwd_line + "\n")
        nobody = pwd.getpwnam("nobody")
        os.mkdir(f"{d}/home", 0o755)
        os.chown(f"{d}/home", nobody.pw_uid, nobody.pw_gid)
        login = ("  service_count = 0\n  process_min_avail = %d\n" % (os.cpu_count() or 1)
                 if high_performance else "")
        conf = (f"base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n"
                f"protocols = imap\nlisten = {HOST}\n"
                f"ssl = required\nssl_cert = <{cert}\nssl_key = <{key}\n"
                "ssl_dh = </usr/share/dovecot/dh.pem\n"
                "disable_plaintext_auth = yes\nauth_mechanisms = plain login\n"
                "login_trusted_networks =\n"
                f"mail_max_userip_connections = {LIMIT}\n"
                f"passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n"
                f"userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/home/%u\n}}\n"
                f"mail_location = maildir:{d}/home/%u/Maildir\n"
                "service imap-login {\n"
                f"  inet_listener imap {{\n    port = 0\n  }}\n"
                f"  inet_listener imaps {{\n    port = {self.port}\n    ssl = yes\n  }}\n"
                f"{login}}}\n"
                "service imap {\n  process_limit = 10000\n}\n"
                "default_client_limit = 10000\ndefault_process_limit = 10000\n")
        self.conf = f"{d}/dovecot.conf"
        with open(self.conf, "w") as f:
            f.write(conf)

    def start(self):
        # the daemon keeps its stderr open: a file, not a pipe that would never end
        with open(f"{self.dir}/start.err", "w+") as err:
            r = subprocess.run([DOVECOT, "-c", self.conf], stdout=subprocess.DEVNULL,
                               stderr=err, timeout=30)
            if r.returncode != 0:
                err.seek(0)
                raise RuntimeError("dovecot did not start: " + err.read())
        deadline = time.monotonic() + 10
        while True:
            try:
                ctx = client_context()
                with ctx.wrap_socket(socket.create_connection((HOST, self.port), timeout=5),
                                     server_hostname="localhost") as s:
                    if s.makefile("rb").readline().startswith(b"* OK"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("dovecot does not greet on port %d" % self.port)
            time.sleep(0.05)

    def cleanup(self):
        pid = None
        with_pid = f"{self.dir}/run/master.pid"
        if os.path.exists(with_pid):
            with open(with_pid) as f:
                pid = int(f.read().strip())
        subprocess.run([DOVECOT, "-c", self.conf, "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        deadline = time.monotonic() + 10
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                time.sleep(0.05)
            except OSError:
                break
        self.tmp.cleanup()


def read_tagged(f, tag):
    """Lines up to the tagged answer for tag; returns that line."""
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        if line.startswith(tag + b" "):
            return line


def one_login(port, ctx, user, pw):
    """One connect/handshake/greeting/LOGIN/LOGOUT; returns (seconds from the
    end of the handshake to the greeting, seconds for the whole)."""
    t0 = time.perf_counter()
    sock = socket.create_connection((HOST, port), timeout=10, source_address=(OTHER_HOST, 0))
    with ctx.wrap_socket(sock, server_hostname="localhost") as s:
        t1 = time.perf_counter()
        f = s.makefile("rb")
        greeting = f.readline()
        t2 = time.perf_counter()
        if not greeting.startswith(b"* OK"):
            raise ConnectionError(f"greeting {greeting!r}")
        s.sendall(f"a LOGIN {user} {pw}\r\n".encode())
        line = read_tagged(f, b"a")
        if not line.startswith(b"a OK"):
            raise ConnectionError(f"login refused: {line!r}")
        s.sendall(b"b LOGOUT\r\n")
        read_tagged(f, b"b")
    return t2 - t1, time.perf_counter() - t0


def measure(port, user, pw):
    """THREADS clients for SECONDS: (logins per second, greeting delays, login times, errors)."""
    ctx = client_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    greet, total, errors = [], [], []
    lock = threading.Lock()
    start = time.monotonic()
    deadline = start + SECONDS

    def client():
        while time.monotonic() < deadline:
            try:
                g, t = one_login(port, ctx, user, pw)
            except (OSError, ConnectionError) as e:
                with lock:
                    errors.append(str(e))
                continue
            with lock:
                greet.append(g)
                total.append(t)

    threads = [threading.Thread(target=client) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    return len(total) / elapsed, greet, total, errors


def ms(values, q):
    if not values:
        return "-"
    if q == 50:
        return "%.1f ms" % (statistics.median(values) * 1000)
    return "%.1f ms" % (statistics.quantiles(values, n=100)[q - 1] * 1000)


def gannet_commit():
    """The last commit that changed src/ (what the binary is built from), and
    whether src/ has changes beyond it."""
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


def dovecot_version():
    try:
        return subprocess.run([DOVECOT, "--version"], capture_output=True, text=True,
                              timeout=10).stdout.split()[0]
    except (OSError, IndexError):
        return "?"


def main():
    passwd_line = f"{USER}:{user_hash(USER)}::::::"
    if not user_hash(USER).startswith("{SHA512-CRYPT}"):
        raise SystemExit(f"no SHA512-CRYPT hash for {USER}")
    load = os.getloadavg()[0]
    rows, notes = [], []

    srv = GannetServer(users=[USER], listeners=["imaps"], settings={
        "login_max_connections_per_ip": LIMIT, "login_max_connections": LIMIT,
        "mail_max_userip_connections": LIMIT, "auth_mechanisms": "plain login"})
    try:
        workers = len(srv.workers())
        rows.append((f"gannet ({workers} workers)",) + measure(srv.ports["imaps"], USER,
                                                               password(USER)))
    finally:
        srv.cleanup()

    if os.geteuid() == 0 and os.access(DOVECOT, os.X_OK):
        for high, name in ((False, "Dovecot %s, defaults (a login process per connection)"),
                           (True, "Dovecot %s, login processes shared (service_count = 0)")):
            dv = Dovecot(passwd_line, high)
            try:
                dv.start()
                rows.append((name % dovecot_version(),) + measure(dv.port, USER, password(USER)))
            finally:
                dv.cleanup()
    else:
        notes.append("Dovecot not measured: it needs root and /usr/sbin/dovecot.")

    print("\n## TLS logins per second\n")
    print(f"`python3 bench/tls-logins.py` (LOGIN_THREADS={THREADS}, LOGIN_SECONDS={SECONDS:g}): "
          "each client thread loops over connect, TLS 1.3 handshake, greeting, LOGIN, LOGOUT "
          "on the IMAPS port, from 127.0.0.2; one user whose {SHA512-CRYPT} passwd-file line "
          "is the same for both servers; the same RSA 2048 certificate. \"Greeting\" is the "
          "time from the end of the client's handshake to the greeting line. "
          f"gannet's src/ at {gannet_commit()}; {os.cpu_count()} CPUs shared by the clients and the "
          f"server, load average {load:.2f} at the start.\n")
    print("| server | logins/s | greeting median | greeting p95 | whole login median | "
          "whole login p95 | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, rate, greet, total, errors in rows:
        print(f"| {name} | {rate:.0f} | {ms(greet, 50)} | {ms(greet, 95)} | {ms(total, 50)} | "
              f"{ms(total, 95)} | {len(errors)} |")
    for name, _, _, _, errors in rows:
        if errors:
            notes.append(f"{name}, first error: {errors[0]}")
    for n in notes:
        print(f"\n{n}")


if __name__ == "__main__":
    main()
