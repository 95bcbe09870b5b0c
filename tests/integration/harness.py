"""Integration test harness: runs the real gannet binary on free loopback ports.

Python 3 standard library only. Each GannetServer lives in its own
tempfile.TemporaryDirectory with a self-signed certificate, a passwd-file with
test users in several password schemes and a Dovecot-syntax config; nothing
outside that directory and 127.0.0.1-127.0.0.3 is touched.

    with GannetServer(settings={"auth_failure_delay": "100 ms"}) as srv:
        m = srv.imap_ssl()
        m.login("alice", password("alice"))

The binary is $GANNET, or build/gannet in the repository.
"""

import atexit
import base64
import contextlib
import errno
import grp
import hashlib
import hmac
import imaplib
import os
import poplib
import pwd
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GANNET = os.environ.get("GANNET") or os.path.join(REPO, "build", "gannet")


def _sanitized(path):
    """True for a build with AddressSanitizer: its quarantine keeps freed
    memory, so memory figures of that build mean nothing."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = _sanitized(GANNET)
HOST = "127.0.0.1"
OTHER_HOST = "127.0.0.2"  # a second loopback address (the whole 127/8 is on lo)
READY_SOURCE = "127.0.0.3"  # GannetServer.start's readiness probes, apart from the tests' addresses
TIMEOUT = 10.0  # seconds a client waits for any single answer

# The test users: name -> password scheme. Every password is "<name>-pw-1".
# frank and grace are hashed outside gannet (openssl passwd -6, and Dovecot's
# SCRAM-SHA-256 format computed here) to show interoperability with existing
# passwd-files.
USERS = {
    "alice": "SHA512-CRYPT",
    "bob": "SCRAM-SHA-256",
    "carol": "PLAIN",
    "dave": "ARGON2ID",
    "erin": "BLF-CRYPT",
}
EXTERNAL_USERS = {
    "frank": "SHA512-CRYPT",  # openssl passwd -6
    "grace": "SCRAM-SHA-256",  # Dovecot's "{SCRAM-SHA-256}iter,salt,stored,server"
}
ALL_USERS = dict(USERS, **EXTERNAL_USERS)
# Users whose stored password lets SCRAM-SHA-256 work (RFC 5802 needs the
# salted password or the stored/server keys, not a crypt hash).
SCRAM_USERS = ("bob", "carol", "grace")


def password(user):
    return f"{user}-pw-1"


def wrong_password(user):
    return f"{user}-wrong-pw-9"


# --------------------------------------------------------------------------
# Password hashes for the passwd-file (computed once per test run)

_hash_cache = {}
_hash_notes = {}  # user -> why the entry is missing or came from a fallback


def _run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=60, **kw)


def _gannet_passwd(scheme, pw):
    """`gannet passwd -s SCHEME -p PW`, else the password on stdin. Returns the
    "{SCHEME}..." line or None."""
    if not os.access(GANNET, os.X_OK):
        return None
    attempts = [
        ([GANNET, "passwd", "-s", scheme, "-p", pw], None),
        ([GANNET, "passwd", "-s", scheme], (pw + "\n" + pw + "\n").encode()),
    ]
    for cmd, stdin in attempts:
        try:
            r = _run(cmd, input=stdin)
        except (OSError, subprocess.TimeoutExpired):
            continue
        out = r.stdout.decode(errors="replace").strip().splitlines()
        if r.returncode == 0 and out and out[-1].startswith("{" + scheme + "}"):
            return out[-1].strip()
    return None


def dovecot_scram_sha256(pw, iterations=4096, salt=None):
    """Dovecot's stored SCRAM-SHA-256 format: iterations,salt,StoredKey,ServerKey (base64)."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = lambda b: base64.b64encode(b).decode()
    return f"{{SCRAM-SHA-256}}{iterations},{b64(salt)},{b64(stored_key)},{b64(server_key)}"


def _openssl_sha512_crypt(pw):
    r = _run(["openssl", "passwd", "-6", "-stdin"], input=pw.encode())
    if r.returncode != 0:
        return None
    return "{SHA512-CRYPT}" + r.stdout.decode().strip()


def _python_crypt(pw, method_name, prefix):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # deprecated, but the only stdlib door to libxcrypt
        method = getattr(crypt, method_name, None)
        if method is None or method not in crypt.methods:
            return None
        return "{" + prefix + "}" + crypt.crypt(pw, crypt.mksalt(method))
    except Exception:
        return None


def user_hash(user):
    """The passwd-file password field for a test user, or None when no tool
    could make one (the user is then left out of the passwd-file)."""
    if user in _hash_cache:
        return _hash_cache[user]
    pw = password(user)
    h = None
    if user in EXTERNAL_USERS:
        h = _openssl_sha512_crypt(pw) if user == "frank" else dovecot_scram_sha256(pw)
        _hash_notes[user] = "made outside gannet"
    else:
        scheme = USERS[user]
        h = _gannet_passwd(scheme, pw)
        if h is None:
            _hash_notes[user] = f"`gannet passwd -s {scheme}` did not work"
            if scheme == "SHA512-CRYPT":
                h = _openssl_sha512_crypt(pw)
            elif scheme == "SCRAM-SHA-256":
                h = dovecot_scram_sha256(pw)
            elif scheme == "PLAIN":
                h = "{PLAIN}" + pw
            elif scheme == "BLF-CRYPT":
                h = _python_crypt(pw, "METHOD_BLOWFISH", "BLF-CRYPT")
            if h is not None:
                _hash_notes[user] += "; used a fallback hash"
    _hash_cache[user] = h
    return h


def require_user(test, user):
    """Skips the test when the user could not be put in the passwd-file."""
    if user_hash(user) is None:
        test.skipTest(f"no {ALL_USERS[user]} hash for {user}: {_hash_notes.get(user)}")


def scheme_users():
    """The users that made it into the passwd-file."""
    return [u for u in ALL_USERS if user_hash(u) is not None]


# --------------------------------------------------------------------------
# Ports, certificates, TLS contexts


def free_port(host=HOST):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_ports(n, host=HOST):
    ports = set()
    while len(ports) < n:
        ports.add(free_port(host))
    return sorted(ports)


def port_is_free(port, host=HOST):
    """True when nothing listens on the port (connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def listening_sockets():
    """The TCP sockets listening on this machine, as (address, port) pairs
    ("127.0.0.1", "0.0.0.0", "::", ...), read from /proc/net/tcp and tcp6 (as
    `ss -ltn`, which a minimal Debian does not have)."""
    found = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        try:
            with open(f"/proc/net/{name}") as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            addr_hex, port_hex = fields[1].split(":")
            raw = bytes.fromhex(addr_hex)
            if width == 8:
                addr = socket.inet_ntop(socket.AF_INET, raw[::-1])
            else:  # four little-endian 32-bit words
                words = b"".join(raw[k:k + 4][::-1] for k in range(0, 16, 4))
                addr = socket.inet_ntop(socket.AF_INET6, words)
            found.add((addr, int(port_hex, 16)))
    return found


def child_pids(pid):
    """The pids of PID's child processes, read from /proc (as `pgrep -P`, which
    a minimal Debian does not have)."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:  # gone meanwhile
            continue
        # "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry))
    return sorted(kids)


def make_cert(directory, cert="cert.pem", key="key.pem", cn="localhost",
              san="DNS:localhost,IP:127.0.0.1"):
    """A self-signed certificate, as the brief and `make run` make it."""
    r = _run([
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
        "-keyout", os.path.join(directory, key), "-out", os.path.join(directory, cert),
        "-subj", f"/CN={cn}", "-days", "2",
        "-addext", f"subjectAltName={san}",
    ])
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: " + r.stderr.decode(errors="replace"))
    return os.path.join(directory, cert), os.path.join(directory, key)


_server_pems = None  # (certificate, key) PEM bytes shared by every GannetServer of a run


def server_cert(directory, cert="cert.pem", key="key.pem"):
    """make_cert's two files, for a GannetServer: the key pair is made once per
    test run (an RSA key costs up to seconds on a busy machine) and copied with
    make_cert's modes. A test that needs a certificate of its own calls make_cert."""
    global _server_pems
    if _server_pems is None:
        with tempfile.TemporaryDirectory(prefix="gannet-cert-") as d:
            paths = make_cert(d)
            pems = []
            for path in paths:
                with open(path, "rb") as f:
                    pems.append(f.read())
        _server_pems = tuple(pems)
    out = []
    for name, pem, mode in ((cert, _server_pems[0], 0o644), (key, _server_pems[1], 0o600)):
        path = os.path.join(directory, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        out.append(path)
    return tuple(out)


def cert_fingerprint_pem(path):
    with open(path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def client_context(cafile=None, alpn=None, max_version=None, min_version=None, ciphers=None):
    """A TLS client context: verifies against cafile when given, else unverified
    (the test certificate is self-signed)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.check_hostname = True
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if min_version is not None:
            ctx.minimum_version = min_version
        if max_version is not None:
            ctx.maximum_version = max_version
    if ciphers:
        ctx.set_ciphers(ciphers)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def connect_from(port, source=None, host=HOST, timeout=TIMEOUT):
    """A TCP connection to host:port, from the given source address (e.g. 127.0.0.2)."""
    return socket.create_connection(
        (host, port), timeout=timeout, source_address=(source, 0) if source else None)


# --------------------------------------------------------------------------
# A raw line client for exact-byte tests


class ConnectionClosed(Exception):
    pass


class LineClient:
    """Sends bytes and reads CRLF lines exactly as the server wrote them.
    Reads never consume more than they return unless told to (starttls() checks
    that nothing the server sent in clear is still unread)."""

    def __init__(self, port, tls=False, source=None, context=None, host=HOST,
                 timeout=TIMEOUT, server_hostname="localhost"):
        self.sock = connect_from(port, source, host, timeout)
        self.buf = b""
        self.timeout = timeout
        if tls:
            self.sock = (context or client_context()).wrap_socket(
                self.sock, server_hostname=server_hostname)

    # context manager
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, line):
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out waiting for the server")
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionClosed("server closed the connection")
        self.buf += data

    def readline(self, timeout=None):
        """One line including its CRLF, as bytes. ConnectionClosed at EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n" not in self.buf:
            if self.buf and len(self.buf) > 1 << 20:
                raise AssertionError("line longer than 1 MiB from the server")
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def line(self, timeout=None):
        """One line without CRLF, as str."""
        return self.readline(timeout)[:-2].decode("utf-8", errors="replace")

    def read_until_tagged(self, tag, timeout=None):
        """IMAP: all lines up to and including the tagged answer for tag; returns
        (untagged lines, tagged line) as str without CRLF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        untagged = []
        while True:
            line = self.line(max(0.01, deadline - time.monotonic()))
            if line.startswith(tag + " "):
                return untagged, line
            untagged.append(line)

    def read_multiline(self, timeout=None):
        """POP3: a multi-line answer after its +OK line, up to the "." line."""
        lines = []
        while True:
            line = self.line(timeout)
            if line == ".":
                return lines
            lines.append(line[1:] if line.startswith("..") else line)

    def pending(self, wait=0.3):
        """Whatever the server sends within `wait` seconds (b"" if nothing);
        raises ConnectionClosed if it closes and nothing was buffered.
        Every call costs the whole wait: to show that nothing more came, send
        a command and check that its answer is the next line instead."""
        out = self.buf
        self.buf = b""
        end = time.monotonic() + wait
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return out
            if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                out += self.sock.recv(65536)
                continue
            r, _, _ = select.select([self.sock], [], [], remaining)
            if not r:
                return out
            try:
                data = self.sock.recv(65536)
            except ssl.SSLWantReadError:
                continue
            if not data:
                if out:
                    return out
                raise ConnectionClosed("server closed the connection")
            out += data

    def wait_closed(self, timeout=5.0):
        """Reads until EOF; returns the lines received before it (str). Raises
        socket.timeout if the server keeps the connection open."""
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            while b"\r\n" in self.buf:
                line, self.buf = self.buf.split(b"\r\n", 1)
                lines.append(line.decode("utf-8", errors="replace"))
            try:
                self._fill(deadline)
            except ConnectionClosed:
                if self.buf:
                    lines.append(self.buf.decode("utf-8", errors="replace"))
                return lines
            except ConnectionResetError:
                return lines

    def starttls(self, context=None, server_hostname="localhost"):
        """Upgrades to TLS. Fails if the server sent anything after the line
        that accepted STARTTLS/STLS (it would have been sent in clear)."""
        if self.buf:
            raise AssertionError(f"server sent {self.buf!r} in clear after accepting STARTTLS")
        self.sock.settimeout(self.timeout)
        self.sock = (context or client_context()).wrap_socket(
            self.sock, server_hostname=server_hostname)


def plain_b64(user, pw, authzid=""):
    return base64.b64encode(f"{authzid}\0{user}\0{pw}".encode()).decode()


# --------------------------------------------------------------------------
# SCRAM-SHA-256 client (RFC 5802, RFC 7677)


class ScramClient:
    def __init__(self, user, pw, nonce=None):
        self.user, self.pw = user, pw
        self.nonce = nonce or base64.b64encode(os.urandom(18)).decode()
        name = user.replace("=", "=3D").replace(",", "=2C")
        self.client_first_bare = f"n={name},r={self.nonce}"
        self.server_signature = None

    def first(self):
        return ("n,," + self.client_first_bare).encode()

    def final(self, server_first):
        server_first = server_first.decode() if isinstance(server_first, bytes) else server_first
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        if not attrs["r"].startswith(self.nonce) or attrs["r"] == self.nonce:
            raise AssertionError(f"server nonce {attrs['r']!r} does not extend ours")
        salt = base64.b64decode(attrs["s"])
        iterations = int(attrs["i"])
        salted = hashlib.pbkdf2_hmac("sha256", self.pw.encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth_message = f"{self.client_first_bare},{server_first},{without_proof}".encode()
        client_sig = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, client_sig))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify_server_final(self, server_final):
        server_final = server_final.decode() if isinstance(server_final, bytes) else server_final
        if server_final.startswith("e="):
            raise AssertionError(f"server-final is an error: {server_final}")
        if not server_final.startswith("v="):
            raise AssertionError(f"server-final without v=: {server_final!r}")
        got = base64.b64decode(server_final[2:].split(",")[0])
        if not hmac.compare_digest(got, self.server_signature):
            raise AssertionError("server signature does not verify")
        return True


def b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


def unb64(text):
    return base64.b64decode(text.strip())


def imap_scram_login(client, tag, user, pw, sasl_ir=False):
    """AUTHENTICATE SCRAM-SHA-256 on a LineClient. Returns the tagged line;
    raises AssertionError if the server signature does not verify."""
    scram = ScramClient(user, pw)
    if sasl_ir:
        client.cmd(f"{tag} AUTHENTICATE SCRAM-SHA-256 {b64(scram.first())}")
    else:
        client.cmd(f"{tag} AUTHENTICATE SCRAM-SHA-256")
        line = client.line()
        if not line.startswith("+"):
            return line
        client.cmd(b64(scram.first()))
    line = client.line()
    if not line.startswith("+ "):
        return line
    client.cmd(b64(scram.final(unb64(line[2:]))))
    line = client.line()
    if line.startswith("+ "):
        scram.verify_server_final(unb64(line[2:]))
        client.cmd("")
        line = client.line()
    elif line.startswith(tag + " OK"):
        raise AssertionError("server finished SCRAM without sending server-final: " + line)
    return line


def pop3_scram_login(client, user, pw):
    scram = ScramClient(user, pw)
    client.cmd(f"AUTH SCRAM-SHA-256 {b64(scram.first())}")
    line = client.line()
    if not line.startswith("+ "):
        return line
    client.cmd(b64(scram.final(unb64(line[2:]))))
    line = client.line()
    if line.startswith("+ "):
        scram.verify_server_final(unb64(line[2:]))
        client.cmd("")
        line = client.line()
    elif line.startswith("+OK"):
        raise AssertionError("server finished SCRAM without sending server-final: " + line)
    return line


# --------------------------------------------------------------------------
# Parsing helpers

GREETING_RE = re.compile(r"^\* OK \[CAPABILITY ([^\]]*)\] (.*)$")


def imap_caps(line):
    """Capabilities from a greeting/`* CAPABILITY` line/`[CAPABILITY ...]` code, upper-cased."""
    m = re.search(r"\[CAPABILITY ([^\]]*)\]", line)
    if m:
        return m.group(1).upper().split()
    if line.upper().startswith("* CAPABILITY "):
        return line[len("* CAPABILITY "):].upper().split()
    raise AssertionError(f"no capability list in {line!r}")


# --------------------------------------------------------------------------
# The server


def _conf_value(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


class ServerFailed(AssertionError):
    pass


_live_servers = set()


@atexit.register
def _kill_leftover_servers():
    """A test run that dies without its cleanups must not leave servers behind."""
    for srv in list(_live_servers):
        with contextlib.suppress(Exception):
            srv.kill()


class GannetServer:
    """One gannet process in its own temporary directory.

    settings: top-level `key = value` overrides (value None removes a default
    key); extra_config: text appended to the config; listeners: which of
    imap/imaps/pop3/pop3s to configure (all by default); users: which test users
    go in the passwd-file (all by default)."""

    DEFAULTS = {
        "protocols": "imap pop3",
        "listen": HOST,
        "ssl": "required",
        "auth_mechanisms": "plain login scram-sha-256",
    }

    def __init__(self, settings=None, extra_config="", users=None, listeners=None,
                 start=True, binary=None, extra_users=()):
        self.binary = binary or GANNET
        self._tmp = tempfile.TemporaryDirectory(prefix="gannet-test-")
        self.dir = self._tmp.name
        self.settings = dict(self.DEFAULTS)
        self.settings.update(settings or {})
        self.extra_config = extra_config
        self.users = list(users) if users is not None else list(ALL_USERS)
        self.listener_names = list(listeners or ("imap", "imaps", "pop3", "pop3s"))
        self.proc = None
        self.stderr_file = None
        self.returncode = None
        if os.geteuid() == 0:
            self.mail_user, self.mail_group = "nobody", "nogroup"
            os.chmod(self.dir, 0o755)
        else:
            self.mail_user = pwd.getpwuid(os.geteuid()).pw_name
            self.mail_group = grp.getgrgid(os.getegid()).gr_name
        self.ports = dict(zip(("imap", "imaps", "pop3", "pop3s"), free_ports(4)))
        self.cert, self.key = server_cert(self.dir)
        self.home = os.path.join(self.dir, "home")
        os.mkdir(self.home, 0o700)
        if os.geteuid() == 0:
            os.chown(self.home, pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid)
        self.users_file = os.path.join(self.dir, "users")
        self.extra_users = list(extra_users)
        self.write_users()
        self.conf = os.path.join(self.dir, "gannet.conf")
        self.log_file = os.path.join(self.dir, "gannet.log")
        self.write_config()
        if start:
            try:
                self.start()
            except BaseException:
                self.cleanup()
                raise

    # -- files

    def path(self, name):
        return os.path.join(self.dir, name)

    def reachable_copy(self, program):
        """A copy of program in this server's directory, for running it as
        another user: the checkout may lie under a directory (a private /tmp
        clone, /root) that the mail user cannot enter."""
        dest = os.path.join(self.dir, os.path.basename(program))
        if not os.path.exists(dest):
            shutil.copy2(program, dest)
            os.chmod(dest, 0o755)
        return dest

    def write_users(self):
        """The passwd-file: the test users, then extra_users (raw lines).
        Written beside and renamed into place, so that a running server never
        reads half a file."""
        lines = []
        for u in self.users:
            h = user_hash(u)
            if h is not None:
                lines.append(f"{u}:{h}::::::")
        lines.extend(self.extra_users)
        tmp = self.users_file + ".new"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            os.chown(tmp, 0, grp.getgrnam("nogroup").gr_gid)
            os.chmod(tmp, 0o640)
        else:
            os.chmod(tmp, 0o600)
        os.replace(tmp, self.users_file)

    def add_user(self, user, pw=None, scheme="SHA512-CRYPT"):
        """Adds a user to the passwd-file, also while the server runs (gannet
        reads the file again when it changes). Returns the password, by
        default password(user)."""
        pw = pw or password(user)
        h = _gannet_passwd(scheme, pw)
        if h is None and scheme == "SHA512-CRYPT":
            h = _openssl_sha512_crypt(pw)
        if h is None:
            raise RuntimeError(f"no {scheme} hash for {user}")
        self.extra_users.append(f"{user}:{h}::::::")
        self.write_users()
        return pw

    def config_text(self):
        out = []
        for k, v in self.settings.items():
            if v is not None:
                out.append(f"{k} = {_conf_value(v)}")
        out += [
            f"ssl_cert = <{self.cert}",
            f"ssl_key = <{self.key}",
            f"mail_uid = {self.mail_user}",
            f"mail_gid = {self.mail_group}",
            f"mail_location = maildir:{self.home}/%u/Maildir",
            f"state_dir = {self.dir}",
            "passdb {",
            "  driver = passwd-file",
            f"  args = {self.users_file}",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={self.mail_user} gid={self.mail_group} home={self.home}/%u",
            "}",
        ]
        for service, names in (("imap-login", ("imap", "imaps")), ("pop3-login", ("pop3", "pop3s"))):
            out.append(f"service {service} {{")
            for n in names:
                # port 0 disables a listener (otherwise the default port applies)
                port = self.ports[n] if n in self.listener_names else 0
                out += [f"  inet_listener {n} {{", f"    address = {HOST}", f"    port = {port}"]
                if n.endswith("s"):
                    out.append("    ssl = yes")
                out.append("  }")
            out.append("}")
        if self.extra_config:
            out.append(self.extra_config)
        return "\n".join(out) + "\n"

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write(self.config_text())
        os.chmod(self.conf, 0o644)

    def set(self, **settings):
        """Changes settings (before start, or followed by reload())."""
        self.settings.update(settings)
        self.write_config()

    # -- process

    def spawn(self, args=None):
        """Starts `gannet serve -c CONF -F` without waiting for the ports."""
        if not os.access(self.binary, os.X_OK):
            raise unittest.SkipTest(f"{self.binary} is not built")
        self.stderr_file = open(self.log_file, "ab")
        self.proc = subprocess.Popen(
            args or [self.binary, "serve", "-c", self.conf, "-F"],
            stdin=subprocess.DEVNULL, stdout=self.stderr_file, stderr=self.stderr_file,
            cwd=self.dir, start_new_session=True)
        _live_servers.add(self)
        return self.proc

    def start(self, timeout=10.0):
        """Spawns gannet and returns once every listener has answered a
        connection (see _listener_answers): a worker is serving each port.
        The listeners are probed side by side."""
        self.spawn()
        deadline = time.monotonic() + timeout
        answered = set()

        def probe(name):
            while self.proc.poll() is None:
                with contextlib.suppress(OSError):
                    if self._listener_answers(name, deadline):
                        answered.add(name)
                        return
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)

        threads = [threading.Thread(target=probe, args=(n,), daemon=True)
                   for n in self.listener_names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.proc.poll() is not None:
            self.returncode = self.proc.returncode
            raise ServerFailed(
                f"gannet exited with {self.proc.returncode} during start-up:\n{self.log()}")
        waiting = sorted(set(self.listener_names) - answered)
        if waiting:
            self.kill()
            raise ServerFailed(f"ports {waiting} not answering after {timeout}s:\n{self.log()}")
        return self

    def _listener_answers(self, name, deadline):
        """One readiness probe of listener `name`: connects from READY_SOURCE,
        does the TLS handshake on the implicit-TLS ports, reads the first line
        and says goodbye (LOGOUT, QUIT), then waits for the server to close.
        True once the server answered: a greeting, a refusal, a TLS alert all
        show a worker at work. False while nothing listens on the port.

        The probe comes from its own loopback address and ends only when the
        server has closed it, so a test's first connection finds no probe in
        the per-address count of unauthenticated connections
        (login_max_connections_per_ip), nor, closed, in the total."""
        def remaining():
            return max(0.01, deadline - time.monotonic())
        try:
            sock = socket.create_connection((HOST, self.ports[name]), timeout=remaining(),
                                            source_address=(READY_SOURCE, 0))
        except ConnectionRefusedError:
            return False
        try:
            if name.endswith("s"):
                sock = client_context().wrap_socket(sock, server_hostname="localhost")
            f = sock.makefile("rb")
            sock.settimeout(remaining())
            if not f.readline():
                return True  # closed without a word: still an answer
            sock.sendall(b"r LOGOUT\r\n" if name.startswith("imap") else b"QUIT\r\n")
            sock.settimeout(remaining())
            while f.readline():
                pass
            return True
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return True
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_file, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=5.0):
        """Waits until the log matches the regex; returns the match or None."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log(), re.M)
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.05)

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def reload(self):
        self.signal(signal.SIGHUP)

    def workers(self):
        """The pids of the master's child processes."""
        return child_pids(self.pid)

    def stop(self, timeout=10.0):
        """SIGTERM and wait; returns the exit code. Kills and fails after timeout."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise ServerFailed(f"gannet did not exit within {timeout}s of SIGTERM")
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        _live_servers.discard(self)

    def leaked_secrets(self):
        """The test passwords (right or wrong, plain or in a base64 PLAIN
        response) that appear in the log."""
        log = self.log()
        found = []
        for user in ALL_USERS:
            for pw in (password(user), wrong_password(user)):
                for secret in (pw, base64.b64encode(pw.encode()).decode(),
                               base64.b64encode(f"\0{user}\0{pw}".encode()).decode()):
                    if secret in log:
                        found.append(secret)
        return found

    def cleanup(self):
        """Stops the server and removes its directory. Fails if the log holds a
        test password (every test checks this, not only test_logging), unless
        the test asked for passwords in the log."""
        leaked = []
        try:
            self.stop()
            wants_passwords = any(
                str(self.settings.get(k, "no")).lower() not in ("no", "none", "false")
                for k in ("auth_debug_passwords", "auth_verbose_passwords"))
            if not wants_passwords:
                leaked = self.leaked_secrets()
        finally:
            self.kill()
            # workers left behind by a master that died would hold the ports
            if self.proc is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            if self.stderr_file:
                self.stderr_file.close()
            log_tail = self.log()[-3000:] if leaked else ""
            self._tmp.cleanup()
        if leaked:
            raise AssertionError(f"the server log contains passwords {leaked}:\n{log_tail}")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # -- clients

    def ctx(self, **kw):
        """A client context that verifies the server against this test's certificate."""
        return client_context(cafile=self.cert, **kw)

    def imap_ssl(self, timeout=TIMEOUT, source=None):
        cls = imaplib.IMAP4_SSL if source is None else _imap4_ssl_from(source)
        return cls(HOST, self.ports["imaps"], ssl_context=client_context(), timeout=timeout)

    def imap_plain(self, timeout=TIMEOUT):
        return imaplib.IMAP4(HOST, self.ports["imap"], timeout=timeout)

    def imap_starttls(self, timeout=TIMEOUT):
        m = self.imap_plain(timeout)
        m.starttls(ssl_context=self.ctx())
        return m

    def pop3_ssl(self, timeout=TIMEOUT):
        return poplib.POP3_SSL(HOST, self.ports["pop3s"], context=client_context(),
                               timeout=timeout)

    def pop3_plain(self, timeout=TIMEOUT):
        return poplib.POP3(HOST, self.ports["pop3"], timeout=timeout)

    def pop3_stls(self, timeout=TIMEOUT):
        p = self.pop3_plain(timeout)
        p.stls(context=self.ctx())
        return p

    def raw(self, name, source=None, tls=None, context=None, timeout=TIMEOUT):
        """A LineClient on listener `name` (imap, imaps, pop3, pop3s); TLS for the
        implicit-TLS ones unless told otherwise."""
        if tls is None:
            tls = name.endswith("s")
        return LineClient(self.ports[name], tls=tls, source=source, context=context,
                          timeout=timeout)

    def imap_logged_in(self, user="alice", name="imaps", source=None):
        """A raw IMAP client already logged in (LOGIN), greeting consumed."""
        c = self.raw(name, source=source)
        c.line()
        if not name.endswith("s"):
            c.cmd("s STARTTLS")
            c.read_until_tagged("s")
            c.starttls()
        c.cmd(f"l LOGIN {user} {password(user)}")
        _, tagged = c.read_until_tagged("l")
        if not tagged.startswith("l OK"):
            c.close()
            raise AssertionError(f"login as {user} failed: {tagged}")
        return c


def _imap4_ssl_from(source):
    """imaplib.IMAP4_SSL connecting from a given source address."""

    class IMAP4_SSL_From(imaplib.IMAP4_SSL):
        def _create_socket(self, timeout):
            sock = socket.create_connection((self.host, self.port), timeout,
                                            source_address=(source, 0))
            return self.ssl_context.wrap_socket(sock, server_hostname=self.host)

    return IMAP4_SSL_From


def openssl_s_client(args, stdin=b"", timeout=15):
    """Runs `openssl s_client ARGS`; returns (exit code, stdout+stderr text)."""
    r = subprocess.run(["openssl", "s_client"] + args, input=stdin, capture_output=True,
                       timeout=timeout)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", errors="replace")


class ServerTestCase(unittest.TestCase):
    """A test case with one server for the whole class (SERVER_SETTINGS,
    SERVER_EXTRA) and helpers to start more per test."""

    SERVER_SETTINGS = {}
    SERVER_EXTRA = ""
    SERVER_KW = {}  # more GannetServer arguments (extra_users, listeners, ...)
    srv = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = GannetServer(settings=dict(cls.SERVER_SETTINGS), extra_config=cls.SERVER_EXTRA,
                               **cls.SERVER_KW)

    @classmethod
    def tearDownClass(cls):
        if cls.srv is not None:
            cls.srv.cleanup()
        super().tearDownClass()

    def server(self, **kw):
        """A server for this test only, stopped at the end of it."""
        s = GannetServer(**kw)
        self.addCleanup(s.cleanup)
        return s

    def assertAlive(self, srv=None):
        """The server still accepts and greets a new IMAPS connection."""
        srv = srv or self.srv
        self.assertTrue(srv.running(), "gannet died:\n" + srv.log()[-3000:])
        with srv.raw("imaps") as c:
            self.assertTrue(c.line().startswith("* OK"))


class PerTestServerCase(ServerTestCase):
    """Like ServerTestCase, but a fresh server for every test: for tests whose
    failed logins would otherwise grow the per-address failure delay of the
    others, or that change the server's state."""

    @classmethod
    def setUpClass(cls):
        unittest.TestCase.setUpClass()

    @classmethod
    def tearDownClass(cls):
        unittest.TestCase.tearDownClass()

    def setUp(self):
        super().setUp()
        self.srv = self.server(settings=dict(self.SERVER_SETTINGS), extra_config=self.SERVER_EXTRA,
                               **self.SERVER_KW)
