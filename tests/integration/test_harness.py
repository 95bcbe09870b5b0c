"""The harness itself: GannetServer.start returns when the server serves (and
fails when it does not), its readiness probes leave nothing behind that a
test's first connection could trip over, and add_user works on a running
server."""

import os
import time
import unittest

from harness import GannetServer, ServerFailed, password


class StartTest(unittest.TestCase):
    def server(self, **kw):
        s = GannetServer(**kw)
        self.addCleanup(s.cleanup)
        return s

    def fake_binary(self, srv, body):
        path = os.path.join(srv.dir, "fake-gannet")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)
        srv.binary = path

    def test_first_connection_after_start_is_served_under_a_per_address_limit_of_one(self):
        # the probes come from their own address and are closed by the server
        # before start returns: the test's connection is the only one counted
        # (a server per listener: the test's own connections, closed one after
        # the other, would race each other for the one place)
        for name in ("imaps", "imap", "pop3s", "pop3"):
            srv = self.server(settings={"login_max_connections_per_ip": "1"})
            with self.subTest(listener=name), srv.raw(name) as c:
                self.assertRegex(c.line(), r"^(\* OK|\+OK)")

    def test_start_fails_when_the_ports_never_answer(self):
        srv = self.server(start=False)
        self.fake_binary(srv, "exec sleep 30")
        t0 = time.monotonic()
        with self.assertRaisesRegex(ServerFailed, r"not answering after 1\.0s"):
            srv.start(timeout=1.0)
        self.assertLess(time.monotonic() - t0, 5)

    def test_start_fails_when_the_server_exits(self):
        srv = self.server(start=False)
        self.fake_binary(srv, "echo broken config >&2; exit 3")
        with self.assertRaisesRegex(ServerFailed, r"exited with 3 during start-up:\nbroken config"):
            srv.start(timeout=5.0)


class AddUserTest(unittest.TestCase):
    def test_a_user_added_to_a_running_server_can_log_in(self):
        with GannetServer(users=["alice"], settings={"auth_failure_delay": "0"}) as srv:
            inode = os.stat(srv.users_file).st_ino
            with srv.raw("imaps") as c:
                c.line()
                c.cmd(f"a LOGIN newcomer {password('newcomer')}")
                self.assertRegex(c.read_until_tagged("a")[1], r"^a NO ")
            self.assertEqual(srv.add_user("newcomer"), password("newcomer"))
            # renamed into place: a reader sees the old file or the new one
            self.assertNotEqual(os.stat(srv.users_file).st_ino, inode)
            self.assertFalse(os.path.exists(srv.users_file + ".new"))
            with srv.raw("imaps") as c:
                c.line()
                c.cmd(f"b LOGIN newcomer {password('newcomer')}")
                self.assertRegex(c.read_until_tagged("b")[1], r"^b OK ")
                c.cmd(f"c LOGIN alice {password('alice')}")
                self.assertRegex(c.read_until_tagged("c")[1], r"^c BAD ")  # logged in already


if __name__ == "__main__":
    unittest.main()
