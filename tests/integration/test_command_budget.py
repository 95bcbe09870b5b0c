"""One byte budget per IMAP command covers its line and its literals: a
client cannot make the server hold more than that, before login (a few KiB)
or after (imap_max_line_length). Measured: before the budget, 20 connections
each sending `a ID (` and 900 literals of 8000 bytes grew the worker by
142 MiB."""

import socket
import ssl
import time
import unittest

from harness import SANITIZED, ConnectionClosed, ServerTestCase

LITERALS = 900
LITERAL = 8000
CONNECTIONS = 20


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def reset_peak(pid):
    """Starts VmHWM again from the current RSS (Linux: clear_refs 5)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def flood(c):
    """Sends the 900-literal command; stops when the server closes. Returns
    what the server answered."""
    try:
        c.send(b"a ID (")
        chunk = b"{%d+}\r\n" % LITERAL + b"x" * LITERAL + b" "
        for _ in range(LITERALS):
            c.send(chunk)
        c.send(b")\r\n")
    except (ConnectionClosed, ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
        pass
    try:
        return c.line(5)
    except (ConnectionClosed, ConnectionResetError, ssl.SSLError, OSError, socket.timeout):
        return "(closed)"


class CommandBudgetTest(ServerTestCase):
    SERVER_SETTINGS = {"workers": "1", "login_max_connections_per_ip": "100",
                       "login_max_connections": "200", "mail_max_userip_connections": "100"}

    def check_flood(self, open_client):
        worker = self.srv.workers()[0]
        clients = [open_client() for _ in range(CONNECTIONS)]
        try:
            time.sleep(0.2)
            before = status_kib(worker, "VmRSS")
            reset_peak(worker)
            for c in clients:
                answer = flood(c)
                self.assertRegex(answer, r"^(\* BYE|a BAD|\* BAD|\(closed\))", answer)
            peak = status_kib(worker, "VmHWM")
        finally:
            for c in clients:
                c.close()
        grown = peak - before
        if not SANITIZED:
            self.assertLess(grown, 2048, f"the worker grew by {grown} KiB")
        # and it still serves
        with self.srv.raw("imaps") as c:
            c.line()
            c.cmd("n NOOP")
            self.assertEqual(c.line(), "n OK NOOP completed.")

    def test_before_login(self):
        def client():
            c = self.srv.raw("imaps")
            c.line()
            return c
        self.check_flood(client)

    def test_after_login(self):
        self.check_flood(lambda: self.srv.imap_logged_in("alice"))

    def test_commands_within_the_budget_work(self):
        # a literal password, and ID with literals, stay possible
        with self.srv.raw("imaps") as c:
            c.line()
            c.send(b'i ID ("name" {5+}\r\nmutt1 "os" {4+}\r\nlinu)\r\n')
            _, tagged = c.read_until_tagged("i")
            self.assertEqual(tagged, "i OK ID completed.")


if __name__ == "__main__":
    unittest.main()
