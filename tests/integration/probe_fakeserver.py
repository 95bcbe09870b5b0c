"""A fake IMAP/POP3 server for the `gannet probe` tests: replays recorded
greetings, capability lines and answers of other products, so that the
fingerprint table, the NTLM and APOP decoding and the STARTTLS injection test
can be shown without those products installed.

Python 3 standard library only. One FakeServer listens on a free 127.0.0.1
port; each connection gets its own thread. The recordings are in PROFILES;
"{tag}" is replaced by the client's tag.

    with FakeServer("dovecot-imap", certfile=c, keyfile=k) as fs:
        ... probe 127.0.0.1:fs.port ...
"""

import base64
import socket
import ssl
import struct
import threading


def _ntlm_challenge():
    """A CHALLENGE message (MS-NLMP §2.2.1.2) as an Exchange server sends it."""
    def u(s):
        return s.encode("utf-16-le")
    av = b""
    for i, v in [(2, "EXAMPLE"), (1, "EXCH01"), (4, "example.local"),
                 (3, "exch01.example.local"), (5, "example.local")]:
        av += struct.pack("<HH", i, len(u(v))) + u(v)
    filetime = (1764000000 + 11644473600) * 10000000
    av += struct.pack("<HHQ", 7, 8, filetime) + struct.pack("<HH", 0, 0)
    tn = u("EXAMPLE")
    flags = 0xA2898205
    off_tn = 56
    off_ti = off_tn + len(tn)
    msg = (b"NTLMSSP\0" + struct.pack("<I", 2) + struct.pack("<HHI", len(tn), len(tn), off_tn)
           + struct.pack("<I", flags) + bytes(range(8)) + b"\0" * 8
           + struct.pack("<HHI", len(av), len(av), off_ti)
           + bytes([10, 0]) + struct.pack("<H", 14393) + b"\0\0\0\x0f" + tn + av)
    return base64.b64encode(msg).decode()


# Recorded from the products (greeting, CAPABILITY and its tagged text, ID, the
# answer to an unknown command).
PROFILES = {
    "dovecot-imap": {
        "proto": "imap",
        "greeting": "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
                    "STARTTLS LOGINDISABLED] Dovecot (Debian) ready.",
        "capability": ["* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
                       "STARTTLS LOGINDISABLED"],
        "capability_tls": ["* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ "
                           "AUTH=PLAIN"],
        "capability_ok": "OK Pre-login capabilities listed, post-login capabilities have more.",
        "id": '* ID ("name" "Dovecot" "version" "2.3.19")',
        "bogus": "BAD Error in IMAP command received by server.",
    },
    "exchange-imap": {
        "proto": "imap",
        "greeting": "* OK The Microsoft Exchange IMAP4 service is ready. "
                    "[TQBCAFgAUABSADAAMgBDAEEAMAAwADEAMAAuAG4AYQBtAHAAcgBkADAAMgAuAHAAcgBvAGQA]",
        "capability": ["* CAPABILITY IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=NTLM AUTH=GSSAPI SASL-IR "
                       "UIDPLUS MOVE ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+"],
        "capability_ok": "OK CAPABILITY completed.",
        "id": "* ID NIL",
        "bogus": "BAD Command Error. 12",
        "ntlm": True,
    },
    "cyrus-imap": {
        "proto": "imap",
        "greeting": "* OK [CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE AUTH=PLAIN AUTH=LOGIN SASL-IR "
                    "AUTH=CRAM-MD5] mail.example.org Cyrus IMAP 3.2.6-Debian-3.2.6-2+deb11u2 "
                    "server ready",
        "capability": ["* CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE AUTH=PLAIN AUTH=LOGIN SASL-IR "
                       "AUTH=CRAM-MD5 URLAUTHA0001 X-NETSCAPE"],
        "capability_ok": "OK Completed",
        "id": '* ID ("name" "Cyrus IMAPD" "version" "3.2.6-Debian-3.2.6-2+deb11u2" '
              '"vendor" "Project Cyrus" "support-url" "https://www.cyrusimap.org" '
              '"os" "Linux" "os-version" "5.10.0-26-amd64")',
        "bogus": "BAD Unrecognized command",
    },
    "courier-imap": {
        "proto": "imap",
        "greeting": "* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT "
                    "THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION] Courier-IMAP ready. "
                    "Copyright 1998-2018 Double Precision, Inc.  See COPYING for distribution "
                    "information.",
        "capability": ["* CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT "
                       "THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION"],
        "capability_ok": "OK CAPABILITY completed",
        "bogus": "BAD Error in IMAP command received by server.",
    },
    "dovecot-pop3": {
        "proto": "pop3",
        "greeting": "+OK Dovecot ready. <1896.697170952@mail.example.org>",
        "capa": ["CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER",
                 "SASL PLAIN CRAM-MD5"],
        "bogus": "-ERR Unknown command: GANNET-BOGUS",
    },
    # A server that greets and then never answers: each probe connection stays
    # open until the probe's timeout (for the concurrency test).
    "stalling-imap": {
        "proto": "imap",
        "greeting": "* OK IMAP server ready",
        "stall": True,
    },
    # A server that answers a command pipelined behind STARTTLS inside TLS
    # (the flaw of CVE-2011-0411 and its IMAP siblings).
    "injectable-imap": {
        "proto": "imap",
        "greeting": "* OK IMAP server ready",
        "capability": ["* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED"],
        "capability_tls": ["* CAPABILITY IMAP4rev1 AUTH=PLAIN"],
        "capability_ok": "OK done",
        "bogus": "BAD unknown",
        "injectable": True,
    },
}


class FakeServer:
    def __init__(self, profile, certfile=None, keyfile=None):
        self.profile = PROFILES[profile]
        self.ctx = None
        if certfile:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(certfile, keyfile)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.port = self.sock.getsockname()[1]
        self.received = []  # every line received, for assertions
        self.connections = 0  # accepted so far
        self.active = 0  # open now
        self.max_active = 0  # most open at once
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass

    def _accept(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(10)
        with self._lock:
            self.connections += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.profile["proto"] == "imap":
                self._imap(conn)
            else:
                self._pop3(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            with self._lock:
                self.active -= 1
            try:
                conn.close()
            except OSError:
                pass

    def _lines(self, conn, pending):
        """Yields lines; pending is the bytes already read (a list of one bytes)."""
        while True:
            while b"\n" not in pending[0]:
                data = conn.recv(4096)
                if not data:
                    return
                pending[0] += data
            line, pending[0] = pending[0].split(b"\n", 1)
            line = line.rstrip(b"\r").decode("latin-1")
            self.received.append(line)
            yield line

    def _imap(self, conn):
        p = self.profile
        send = lambda s: conn.sendall((s + "\r\n").encode())
        send(p["greeting"])
        pending = [b""]
        tls = False
        ntlm_tag = None
        lines = self._lines(conn, pending)
        for line in lines:
            if p.get("stall"):
                continue
            if ntlm_tag:
                if line == "*":
                    send(f"{ntlm_tag} BAD AUTHENTICATE aborted")
                    ntlm_tag = None
                else:
                    send("+ " + _ntlm_challenge())
                continue
            if not line.strip():
                continue
            tag, _, rest = line.partition(" ")
            cmd = rest.split(" ")[0].upper()
            if cmd == "CAPABILITY":
                for c in p["capability_tls"] if tls and "capability_tls" in p else p["capability"]:
                    send(c)
                send(f"{tag} {p['capability_ok']}")
            elif cmd == "ID":
                if "id" in p:
                    send(p["id"])
                    send(f"{tag} OK ID completed.")
                else:
                    send(f"{tag} {p['bogus']}")
            elif cmd == "STARTTLS" and self.ctx and not tls:
                send(f"{tag} OK Begin TLS negotiation now.")
                leftover = pending[0]
                conn = self.ctx.wrap_socket(conn, server_side=True)
                send = lambda s, c=conn: c.sendall((s + "\r\n").encode())
                tls = True
                if p.get("injectable"):
                    pending[0] = leftover  # the flaw: keep what came in clear
                else:
                    pending[0] = b""
                lines = self._lines(conn, pending)
                return self._imap_after_tls(conn, lines, send)
            elif cmd == "AUTHENTICATE" and p.get("ntlm") and "NTLM" in rest.upper():
                ntlm_tag = tag
                send("+ ")
            elif cmd == "LOGOUT":
                send("* BYE bye")
                send(f"{tag} OK LOGOUT completed.")
                return
            else:
                send(f"{tag} {p['bogus']}")

    def _imap_after_tls(self, conn, lines, send):
        try:
            self._imap_tls_commands(lines, send)
        finally:
            conn.close()

    def _imap_tls_commands(self, lines, send):
        p = self.profile
        for line in lines:
            if not line.strip():
                continue
            tag, _, rest = line.partition(" ")
            cmd = rest.split(" ")[0].upper()
            if cmd == "CAPABILITY":
                for c in p.get("capability_tls", p["capability"]):
                    send(c)
                send(f"{tag} {p['capability_ok']}")
            elif cmd == "NOOP":
                send(f"{tag} OK NOOP completed.")
            elif cmd == "LOGOUT":
                send(f"{tag} OK LOGOUT completed.")
                return
            else:
                send(f"{tag} {p['bogus']}")

    def _pop3(self, conn):
        p = self.profile
        send = lambda s: conn.sendall((s + "\r\n").encode())
        send(p["greeting"])
        pending = [b""]
        for line in self._lines(conn, pending):
            cmd = line.split(" ")[0].upper()
            if cmd == "CAPA":
                send("+OK")
                for c in p["capa"]:
                    send(c)
                send(".")
            elif cmd == "USER":
                send("+OK")
            elif cmd == "QUIT":
                send("+OK Logging out.")
                return
            elif not line.strip():
                continue
            else:
                send(p["bogus"])
