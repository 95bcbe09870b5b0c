"""The process model (issue 2): SIGTERM stops cleanly, SIGHUP reloads the
certificate without dropping connections, a dead worker is replaced, and
start-up errors are one line on stderr with a non-zero exit."""

import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import unittest

from harness import (
    HOST, GannetServer, PerTestServerCase, cert_fingerprint_pem, client_context, free_port,
    make_cert, password, port_is_free,
)


def served_fingerprint(port):
    with socket.create_connection((HOST, port), timeout=10) as s:
        with client_context().wrap_socket(s, server_hostname="localhost") as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0): look at its state
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


class SignalTest(PerTestServerCase):
    def test_sigterm_stops_cleanly_and_frees_ports(self):
        c = self.srv.imap_logged_in("alice")
        self.addCleanup(c.close)
        workers = self.srv.workers()
        self.assertTrue(workers, "no worker processes under the master")
        t0 = time.monotonic()
        self.srv.signal(signal.SIGTERM)
        self.assertEqual(self.srv.proc.wait(10), 0, self.srv.log()[-2000:])
        self.assertLess(time.monotonic() - t0, 5.0)
        deadline = time.monotonic() + 3
        while any(pid_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse([p for p in workers if pid_alive(p)], "workers outlived the master")
        for name, port in self.srv.ports.items():
            self.assertTrue(port_is_free(port), f"{name} port {port} still bound")

    def test_sighup_reloads_certificate_and_keeps_connections(self):
        old = cert_fingerprint_pem(self.srv.cert)
        self.assertEqual(served_fingerprint(self.srv.ports["imaps"]), old)
        session = self.srv.imap_ssl()
        self.addCleanup(session.shutdown)
        self.assertEqual(session.login("alice", password("alice"))[0], "OK")
        pop = self.srv.pop3_ssl()
        self.addCleanup(pop.close)
        pop.user("bob")
        pop.pass_(password("bob"))
        # a new certificate and key, written over the configured files
        newdir = self.srv.path("new")
        os.mkdir(newdir)
        cert, key = make_cert(newdir)
        new = cert_fingerprint_pem(cert)
        self.assertNotEqual(new, old)
        os.replace(cert, self.srv.cert)
        os.replace(key, self.srv.key)
        self.srv.reload()
        deadline = time.monotonic() + 5
        while True:
            got = {name: served_fingerprint(self.srv.ports[name]) for name in ("imaps", "pop3s")}
            if set(got.values()) == {new} or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(got, {"imaps": new, "pop3s": new}, "new connections still get the old certificate")
        # the connections made before the reload still work
        self.assertEqual(session.noop()[0], "OK")
        self.assertTrue(pop.noop().startswith(b"+OK"))
        self.assertTrue(self.srv.running())
        # and STARTTLS gets the new one too
        with self.srv.raw("imap") as c:
            c.line()
            c.cmd("a STARTTLS")
            c.read_until_tagged("a")
            c.starttls()
            self.assertEqual(hashlib.sha256(c.sock.getpeercert(binary_form=True)).hexdigest(), new)

    def test_sighup_with_broken_config_keeps_serving(self):
        # a reload that fails keeps the old settings rather than dying
        with open(self.srv.conf, "a") as f:
            f.write("this_is_not_a_setting = yes\n")
        self.srv.reload()
        time.sleep(1.0)
        self.assertTrue(self.srv.running(), "a bad config on SIGHUP killed the server")
        self.assertAlive()

    def test_killed_worker_is_replaced(self):
        before = self.srv.workers()
        self.assertTrue(before, "no worker processes under the master")
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while True:
            now = self.srv.workers()
            if victim not in now and len(now) >= len(before) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertNotIn(victim, now)
        self.assertEqual(len(now), len(before), f"workers before {before}, after {now}")
        self.assertTrue(self.srv.running())
        # every new connection is served (whichever worker takes it)
        for i in range(2 * len(now) + 2):
            with self.subTest(connection=i):
                m = self.srv.imap_ssl()
                try:
                    self.assertEqual(m.login("carol", password("carol"))[0], "OK")
                finally:
                    m.shutdown()

    def test_workers_are_found_without_any_program(self):
        # a minimal Debian has no procps (pgrep, ps): the harness must find the
        # workers by itself, here with nothing on PATH
        empty = self.srv.path("empty-bin")
        os.mkdir(empty)
        saved = os.environ["PATH"]
        os.environ["PATH"] = empty
        try:
            workers = self.srv.workers()
        finally:
            os.environ["PATH"] = saved
        self.assertTrue(workers, "no worker processes under the master")
        for pid in workers:
            with open(f"/proc/{pid}/status") as f:
                status = dict(l.split(":", 1) for l in f if ":" in l)
            self.assertEqual(int(status["PPid"]), self.srv.pid, f"process {pid}")
        self.assertNotIn(os.getpid(), workers)

    def test_workers_do_not_run_as_root(self):
        for pid in self.srv.workers():
            with open(f"/proc/{pid}/status") as f:
                status = dict(l.split(":", 1) for l in f if ":" in l)
            uids = status["Uid"].split()
            gids = status["Gid"].split()
            if os.geteuid() == 0:
                self.assertEqual(set(uids), {"65534"}, f"worker {pid} uids {uids}")
                self.assertEqual(set(gids), {"65534"}, f"worker {pid} gids {gids}")
            else:
                self.assertEqual(set(uids), {str(os.geteuid())})


class StartupErrorTest(unittest.TestCase):
    """A mistake at start-up: exit non-zero within a few seconds, with one line
    on stderr naming the problem."""

    def start_failing(self, srv):
        self.addCleanup(srv.cleanup)
        proc = srv.spawn()
        try:
            rc = proc.wait(5)
        except subprocess.TimeoutExpired:
            self.fail("gannet kept running despite the error:\n" + srv.log())
        self.assertNotEqual(rc, 0)
        return [l for l in srv.log().splitlines() if l.strip()]

    def assertOneLineNaming(self, lines, needle):
        matching = [l for l in lines if needle in l]
        self.assertTrue(matching, f"no stderr line names {needle!r}:\n" + "\n".join(lines))
        # one error: besides it, at most start-up warnings and notices. The
        # same message printed twice (plainly, and as a log line with a time
        # stamp) counts once.
        others = [l for l in lines if not re.search(r"(?i)\b(warn|warning|info|notice)\b", l)]
        messages = {re.sub(r"^(\S+T\S+ \S+\[\d+\]: \w+: |gannet: )", "", l) for l in others}
        self.assertEqual(len(messages), 1, "expected one error:\n" + "\n".join(lines))

    def test_missing_certificate(self):
        srv = GannetServer(start=False)
        missing = srv.path("missing-cert.pem")
        srv.cert = missing
        srv.write_config()
        self.assertOneLineNaming(self.start_failing(srv), "missing-cert.pem")

    def test_unreadable_key_is_not_a_certificate(self):
        srv = GannetServer(start=False)
        with open(srv.key, "w") as f:
            f.write("not a key\n")
        lines = self.start_failing(srv)
        self.assertOneLineNaming(lines, "key.pem")

    def test_port_in_use(self):
        srv = GannetServer(start=False)
        blocker = socket.socket()
        self.addCleanup(blocker.close)
        blocker.bind((HOST, srv.ports["imaps"]))
        blocker.listen(1)
        lines = self.start_failing(srv)
        self.assertOneLineNaming(lines, str(srv.ports["imaps"]))

    def test_unknown_key(self):
        srv = GannetServer(start=False, extra_config="frobnicate_widgets = yes")
        lines = self.start_failing(srv)
        self.assertOneLineNaming(lines, "frobnicate_widgets")
        line = [l for l in lines if "frobnicate_widgets" in l][0]
        n = srv.config_text().splitlines().index("frobnicate_widgets = yes") + 1
        self.assertIn(f"gannet.conf:{n}", line)

    def test_unknown_mail_user(self):
        srv = GannetServer(start=False)
        srv.mail_user = "no-such-user-gannet"
        srv.write_config()
        self.assertOneLineNaming(self.start_failing(srv), "no-such-user-gannet")

    def test_mail_uid_root_refused(self):
        srv = GannetServer(start=False)
        srv.mail_user, srv.mail_group = "root", "root"
        srv.write_config()
        self.assertOneLineNaming(self.start_failing(srv), "root")


if __name__ == "__main__":
    unittest.main()
