"""Dovecot's POP3 server from Debian, on a free loopback POP3S port in a
temporary directory, for the tests that compare gannet with it (UIDLs) and
for bench/pop3-sessions.py. Needs root (Dovecot starts as root and drops to
nobody) and /usr/sbin/dovecot. Python 3 standard library only."""

import os
import pwd
import socket
import subprocess
import tempfile
import time

from harness import HOST, client_context, free_ports, server_cert

DOVECOT = "/usr/sbin/dovecot"


def available():
    return os.geteuid() == 0 and os.access(DOVECOT, os.X_OK)


def version():
    try:
        return subprocess.run([DOVECOT, "--version"], capture_output=True, text=True,
                              timeout=10).stdout.split()[0]
    except (OSError, IndexError):
        return "?"


def write_maildir(maildir, messages, owner):
    """A plain Maildir with the messages in new/, as an MTA leaves them, owned
    by `owner` (a pwd entry) up to its parent directory."""
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(maildir, sub), exist_ok=True)
    for n, data in enumerate(messages, 1):
        with open(os.path.join(maildir, "new", f"1764500000.M{n}P1.host"), "wb") as f:
            f.write(data)
    top = os.path.dirname(maildir)
    os.chown(top, owner.pw_uid, owner.pw_gid)
    for d, dirs, files in os.walk(top):
        for name in dirs + files:
            os.chown(os.path.join(d, name), owner.pw_uid, owner.pw_gid)


class DovecotPop3:
    """users: name -> passwd-file line. The Maildir of a user is
    maildir(user). shared_login: login processes that serve many connections
    each (service_count = 0) instead of one process per connection, Dovecot's
    default."""

    def __init__(self, passwd_lines, shared_login=False, limit="10000"):
        self.tmp = tempfile.TemporaryDirectory(prefix="gannet-dovecot-pop3-")
        d = self.dir = self.tmp.name
        os.chmod(d, 0o755)
        cert, key = server_cert(d)
        self.port = free_ports(1)[0]
        with open(f"{d}/passwd", "w") as f:
            f.write("\n".join(passwd_lines) + "\n")
        self.owner = pwd.getpwnam("nobody")
        os.mkdir(f"{d}/home", 0o755)
        os.chown(f"{d}/home", self.owner.pw_uid, self.owner.pw_gid)
        login = ("  service_count = 0\n  process_min_avail = %d\n" % (os.cpu_count() or 1)
                 if shared_login else "")
        conf = (f"base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n"
                f"protocols = pop3\nlisten = {HOST}\n"
                f"ssl = required\nssl_cert = <{cert}\nssl_key = <{key}\n"
                "ssl_dh = </usr/share/dovecot/dh.pem\n"
                "disable_plaintext_auth = yes\nauth_mechanisms = plain login\n"
                "login_trusted_networks =\n"
                f"mail_max_userip_connections = {limit}\n"
                "pop3_uidl_format = %08Xu%08Xv\n"
                f"passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n"
                f"userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/home/%u\n}}\n"
                f"mail_location = maildir:{d}/home/%u/Maildir\n"
                "service pop3-login {\n"
                "  inet_listener pop3 {\n    port = 0\n  }\n"
                f"  inet_listener pop3s {{\n    port = {self.port}\n    ssl = yes\n  }}\n"
                f"{login}}}\n"
                f"service pop3 {{\n  process_limit = {limit}\n}}\n"
                f"default_client_limit = {limit}\ndefault_process_limit = {limit}\n")
        self.conf = f"{d}/dovecot.conf"
        with open(self.conf, "w") as f:
            f.write(conf)

    def maildir(self, user):
        return f"{self.dir}/home/{user}/Maildir"

    def start(self):
        with open(f"{self.dir}/start.err", "w+") as err:
            r = subprocess.run([DOVECOT, "-c", self.conf], stdout=subprocess.DEVNULL,
                               stderr=err, timeout=30)
            if r.returncode != 0:
                err.seek(0)
                raise RuntimeError("dovecot did not start: " + err.read())
        deadline = time.monotonic() + 10
        while True:
            try:
                with client_context().wrap_socket(
                        socket.create_connection((HOST, self.port), timeout=5),
                        server_hostname="localhost") as s:
                    if s.makefile("rb").readline().startswith(b"+OK"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("dovecot does not greet on port %d" % self.port)
            time.sleep(0.05)

    def pid(self):
        """The master's process id."""
        with open(f"{self.dir}/run/master.pid") as f:
            return int(f.read().strip())

    def stop(self):
        pid = None
        if os.path.exists(f"{self.dir}/run/master.pid"):
            with open(f"{self.dir}/run/master.pid") as f:
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

    def cleanup(self):
        self.stop()
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
