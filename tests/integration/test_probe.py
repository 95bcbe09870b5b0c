"""`gannet probe` against gannet itself (default and weakened configurations)
and against a fake server replaying other products (probe_fakeserver.py).

The probes run from 127.0.0.2 to 127.0.0.1, so that the server does not see
a same-host client (issue 4, DESIGN.md)."""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import (GANNET, HOST, OTHER_HOST, GannetServer, free_ports, make_cert,  # noqa: E402
                     password)
from probe_fakeserver import FakeServer  # noqa: E402

MEDIUM_OR_ABOVE = ("medium", "high", "critical")

WEAK = {
    "ssl": "yes",
    "disable_plaintext_auth": "no",
    "ssl_min_protocol": "TLSv1",
    "ssl_cipher_list": "ALL:@SECLEVEL=0",
    "login_greeting": "gannet 0.1.0 ready.",
    "auth_mechanisms": "plain anonymous",
    "auth_anonymous_username": "alice",
}


def probe(*args, timeout=60):
    """Runs gannet probe; returns (exit status, stdout, stderr, seconds)."""
    t = time.monotonic()
    r = subprocess.run([GANNET, "probe", *args], capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr, time.monotonic() - t


def assert_probe_time(test, seconds, limit=15.0):
    """The probe's wall time against its limit. On a machine loaded beyond its
    CPUs (other tests, builds) wall time measures the load, not the probe: the
    check is made only when the load average is at most the CPU count."""
    if os.getloadavg()[0] <= (os.cpu_count() or 1):
        test.assertLess(seconds, limit)


def targets(srv):
    return [f"imap://{HOST}:{srv.ports['imap']}", f"imaps://{HOST}:{srv.ports['imaps']}",
            f"pop3://{HOST}:{srv.ports['pop3']}", f"pop3s://{HOST}:{srv.ports['pop3s']}"]


def failed(port, at_least=None):
    order = ["info", "low", "medium", "high", "critical"]
    return {f["id"] for f in port["findings"] if f["status"] == "fail"
            and (at_least is None or order.index(f["severity"]) >= order.index(at_least))}


def alpaca(port):
    return next(f for f in port["findings"] if f["id"] == "tls.alpaca")


class ProbeGannetDefault(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = GannetServer()
        cls.srv.__enter__()
        cls.rc, out, cls.err, cls.seconds = probe(
            "--json", "--source", OTHER_HOST, "--ca", cls.srv.cert, *targets(cls.srv))
        cls.doc = json.loads(out)

    @classmethod
    def tearDownClass(cls):
        cls.srv.__exit__(None, None, None)

    def test_nothing_at_medium_or_above(self):
        for p in self.doc["ports"]:
            self.assertEqual(failed(p, "medium"), set(), p["destination"])
        self.assertEqual(self.rc, 0, self.err)
        self.assertEqual(self.doc["scan"]["exit_status"], 0)

    def test_four_ports_under_15_seconds(self):
        assert_probe_time(self, self.seconds)
        self.assertEqual(len(self.doc["ports"]), 4)
        for p in self.doc["ports"]:
            self.assertIsNotNone(p["tls"], p["destination"])
            self.assertTrue(p["tls"]["reachable"], p["destination"])

    def test_product_and_transport(self):
        by_port = {p["port"]: p for p in self.doc["ports"]}
        for name, transport, proto in [("imap", "cleartext", "imap"), ("imaps", "implicit-tls", "imap"),
                                       ("pop3", "cleartext", "pop3"), ("pop3s", "implicit-tls", "pop3")]:
            p = by_port[self.srv.ports[name]]
            self.assertEqual(p["transport"], transport)
            self.assertEqual(p["protocol"], proto)
            self.assertEqual(p["product"]["name"], "gannet")
            self.assertGreaterEqual(p["product"]["confidence"], 80)
            self.assertEqual(p["source"], OTHER_HOST)
            self.assertFalse(p["same_host"])
            self.assertIsNone(p["error"])

    def test_capabilities_and_starttls(self):
        by_port = {p["port"]: p for p in self.doc["ports"]}
        imap = by_port[self.srv.ports["imap"]]
        self.assertEqual(imap["greeting"][:5], "* OK ")
        self.assertIn("LOGINDISABLED", imap["capabilities"]["pre_tls"])
        self.assertIn("STARTTLS", imap["capabilities"]["pre_tls"])
        self.assertNotIn("STARTTLS", imap["capabilities"]["tls"])
        self.assertIn("STARTTLS", imap["capabilities"]["removed_by_tls"])
        self.assertEqual(imap["capabilities"]["ok_text"], "CAPABILITY completed.")
        self.assertEqual(imap["starttls"], {"offered": True, "works": True, "injection": False})
        self.assertEqual(imap["id"], {"name": "gannet"})
        pop3 = by_port[self.srv.ports["pop3"]]
        self.assertIn("STLS", pop3["capabilities"]["pre_tls"])
        self.assertEqual(pop3["starttls"]["injection"], False)
        ids = {f["id"]: f for f in imap["findings"]}
        self.assertEqual(ids["auth.plaintext_pre_tls"]["status"], "pass")
        self.assertEqual(ids["starttls.injection"]["status"], "pass")
        self.assertIn("a5 STARTTLS\\r\\na6 NOOP\\r\\n", ids["starttls.injection"]["evidence"] +
                      ids["starttls.missing"]["evidence"])
        self.assertEqual(ids["tls.cert.self_signed"]["status"], "pass")
        self.assertEqual(ids["disclosure.version"]["status"], "pass")

    def test_self_signed_without_ca(self):
        rc, out, err, _ = probe("--json", "--source", OTHER_HOST,
                                f"imaps://{HOST}:{self.srv.ports['imaps']}")
        doc = json.loads(out)
        self.assertEqual(failed(doc["ports"][0], "medium"), {"tls.cert.self_signed"})
        self.assertEqual(rc, 2)
        rc, _, _, _ = probe("--fail-on", "high", "--source", OTHER_HOST,
                            f"imaps://{HOST}:{self.srv.ports['imaps']}")
        self.assertEqual(rc, 0)

    def test_table_and_trace(self):
        rc, out, err, _ = probe("--trace", "--no-tls-scan", "--source", OTHER_HOST,
                                f"{HOST}:{self.srv.ports['imap']}")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("SEVERITY", out)
        self.assertIn("starttls.injection", out)
        self.assertRegex(out, r"imap\s+cleartext\s+gannet")
        self.assertIn("> a1 CAPABILITY\\r\\n", err)
        self.assertIn("< * OK [CAPABILITY", err)

    def test_capabilities_after_login(self):
        for name in ("imap", "pop3s"):
            rc, out, err, _ = probe("--json", "--no-tls-scan", "--source", OTHER_HOST,
                                    "--user", "alice", "--password", password("alice"),
                                    f"{HOST}:{self.srv.ports[name]}")
            p = json.loads(out)["ports"][0]
            self.assertIsNotNone(p["capabilities"]["login"], name + err)
            if name == "imap":
                self.assertIn("IMAP4rev2", p["capabilities"]["login"])
                self.assertNotIn("AUTH=PLAIN", p["capabilities"]["login"])
            self.assertNotIn(password("alice"), out)

    def test_same_host_warning(self):
        rc, out, err, _ = probe("--no-tls-scan", "--source", HOST, f"{HOST}:{self.srv.ports['pop3']}")
        self.assertIn("warning:", out)
        self.assertIn("its own address", out)


class ProbeGannetWeak(unittest.TestCase):
    def test_weaknesses_found(self):
        with GannetServer(settings=WEAK) as srv:
            rc, out, err, seconds = probe("--json", "--intrusive", "--source", OTHER_HOST,
                                          "--ca", srv.cert, *targets(srv))
            doc = json.loads(out)
            by_port = {p["port"]: p for p in doc["ports"]}
            for name in ("imap", "imaps", "pop3", "pop3s"):
                f = failed(by_port[srv.ports[name]])
                for expected in ("tls.legacy_protocol", "tls.weak_cipher", "disclosure.version",
                                 "auth.anonymous"):
                    self.assertIn(expected, f, name)
                self.assertEqual(by_port[srv.ports[name]]["product"]["version"], "0.1.0")
            self.assertIn("auth.plaintext_pre_tls", failed(by_port[srv.ports["imap"]]))
            self.assertIn("auth.plaintext_pre_tls", failed(by_port[srv.ports["pop3"]]))
            self.assertEqual(rc, 2)
            self.assertLess(seconds, 30.0)
            # Everything here is at most high: --fail-on critical passes.
            rc, _, _, _ = probe("--fail-on", "critical", "--source", OTHER_HOST, "--ca", srv.cert,
                                *targets(srv))
            self.assertEqual(rc, 0)

    def test_anonymous_only_with_intrusive(self):
        with GannetServer(settings=WEAK, listeners=("imaps",)) as srv:
            rc, out, err, _ = probe("--json", "--no-tls-scan", "--source", OTHER_HOST,
                                    f"imaps://{HOST}:{srv.ports['imaps']}")
            port = json.loads(out)["ports"][0]
            anon = [f for f in port["findings"] if f["id"] == "auth.anonymous"][0]
            self.assertEqual(anon["status"], "fail")
            self.assertIn("not tried", anon["title"])
            self.assertNotIn("AUTHENTICATE", anon["evidence"])
            throttle = [f for f in port["findings"] if f["id"] == "auth.no_throttling"][0]
            self.assertEqual(throttle["status"], "skipped")


DOVECOT = "/usr/sbin/dovecot"


class DovecotServer:
    """Dovecot from Debian on four free loopback ports, in a temporary
    directory, hardened or weakened as the issue describes."""

    def __init__(self, weak, san=None):
        import shutil
        import tempfile
        self.tmp = tempfile.TemporaryDirectory(prefix="gannet-probe-dovecot-")
        d = self.dir = self.tmp.name
        os.chmod(d, 0o755)
        self.cert, key = make_cert(d, **({"san": san} if san else {}))
        self.ports = dict(zip(("imap", "imaps", "pop3", "pop3s"), free_ports(4)))
        with open(f"{d}/passwd", "w") as f:
            f.write("alice:{PLAIN}alice-pw-1::::::\n")
        # alice's mail, writable by the mail user, so that a session (the
        # anonymous one) can open INBOX instead of being dropped
        import pwd
        nobody = pwd.getpwnam("nobody")
        for sub in ("home", "home/alice"):
            os.mkdir(f"{d}/{sub}", 0o755)
            os.chown(f"{d}/{sub}", nobody.pw_uid, nobody.pw_gid)
        listeners = "".join(
            f"service {proto}-login {{\n"
            f"  inet_listener {proto} {{\n    port = {self.ports[proto]}\n  }}\n"
            f"  inet_listener {proto}s {{\n    port = {self.ports[proto + 's']}\n    ssl = yes\n  }}\n}}\n"
            for proto in ("imap", "pop3"))
        conf = (f"base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n"
                f"protocols = imap pop3\nlisten = {HOST}\n"
                f"ssl_cert = <{self.cert}\nssl_key = <{key}\n"
                "ssl_dh = </usr/share/dovecot/dh.pem\n"
                f"passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n"
                f"userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/home/%u\n}}\n"
                f"mail_location = maildir:{d}/home/%u/Maildir\n" + listeners)
        if weak:
            conf += ("ssl = yes\ndisable_plaintext_auth = no\nssl_min_protocol = TLSv1\n"
                     "ssl_cipher_list = ALL:@SECLEVEL=0\n"
                     "auth_mechanisms = plain login cram-md5 digest-md5 apop anonymous\n"
                     "auth_anonymous_username = alice\n"
                     "login_greeting = Dovecot 2.3.19 ready.\n"
                     'imap_id_send = "name" * "version" *\n')
        else:
            conf += "ssl = required\ndisable_plaintext_auth = yes\nssl_min_protocol = TLSv1.2\n"
        self.conf = f"{d}/dovecot.conf"
        with open(self.conf, "w") as f:
            f.write(conf)

    def __enter__(self):
        with open(f"{self.dir}/start.err", "w") as err:
            r = subprocess.run([DOVECOT, "-c", self.conf], stdout=subprocess.DEVNULL, stderr=err,
                               timeout=20)
        if r.returncode != 0:
            with open(f"{self.dir}/start.err") as err:
                raise RuntimeError("dovecot did not start: " + err.read())
        deadline = time.monotonic() + 10
        import socket
        while time.monotonic() < deadline:
            try:
                socket.create_connection((HOST, self.ports["pop3s"]), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        pid_file = f"{self.dir}/run/master.pid"
        pid = None
        if os.path.exists(pid_file):
            with open(pid_file) as f:
                pid = int(f.read().strip())
        subprocess.run([DOVECOT, "-c", self.conf, "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=20)
        deadline = time.monotonic() + 10
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                time.sleep(0.1)
            except OSError:
                break
        self.tmp.cleanup()

    def targets(self):
        return targets(self)


@unittest.skipUnless(os.access(DOVECOT, os.X_OK) and os.geteuid() == 0,
                     "needs Dovecot from Debian and root to start it")
class ProbeDovecot(unittest.TestCase):
    def probe_dovecot(self, weak, san=None):
        with DovecotServer(weak, san) as dv:
            args = ["--json", "--source", OTHER_HOST, "--ca", dv.cert]
            if weak:
                args.append("--intrusive")
            rc, out, err, seconds = probe(*args, *dv.targets())
            doc = json.loads(out)
            return rc, {name: next(p for p in doc["ports"] if p["port"] == dv.ports[name])
                        for name in dv.ports}, seconds

    def test_hardened(self):
        rc, ports, seconds = self.probe_dovecot(weak=False)
        for name, p in ports.items():
            self.assertEqual(p["product"]["name"], "Dovecot", name)
            self.assertIsNone(p["product"]["version"], name)
            self.assertIsNone(p["error"], name)
            # Dovecot 2.3 does not check ALPN or SNI: the one true weakness,
            # and a low one with a certificate for one DNS name (localhost,
            # and 127.0.0.1 besides), which a web server is unlikely to share.
            self.assertEqual(failed(p, "low"), {"tls.alpaca"}, name)
            self.assertEqual(alpaca(p)["severity"], "low", name)
            self.assertIn("ALPN http/1.1 accepted, none selected", alpaca(p)["evidence"])
            self.assertIn("strict ALPN where the server has it", alpaca(p)["title"])
            self.assertFalse(p["tls"]["alpn"]["http/1.1_selected"], name)
        # nothing at or above the default --fail-on medium: a hardened Dovecot passes
        self.assertEqual(rc, 0)
        for name in ("imap", "pop3"):
            self.assertTrue(ports[name]["starttls"]["works"])
            self.assertFalse(ports[name]["starttls"]["injection"])
        self.assertIn("LOGINDISABLED", ports["imap"]["capabilities"]["pre_tls"])
        self.assertEqual(ports["imap"]["capabilities"]["ok_text"],
                         "Pre-login capabilities listed, post-login capabilities have more.")
        assert_probe_time(self, seconds)

    def test_hardened_with_a_shared_certificate(self):
        # The same Dovecot with a certificate that also names a web host: a
        # browser sent to www.example.test accepts it, so ignoring ALPN is medium.
        rc, ports, seconds = self.probe_dovecot(
            weak=False, san="DNS:mail.example.test,DNS:www.example.test,IP:127.0.0.1")
        for name, p in ports.items():
            self.assertEqual(failed(p, "low"), {"tls.alpaca"}, name)
            self.assertEqual(alpaca(p)["severity"], "medium", name)
            self.assertIn("mail.example.test, www.example.test", alpaca(p)["evidence"])
        self.assertEqual(rc, 2)

    def test_weakened(self):
        rc, ports, seconds = self.probe_dovecot(weak=True)
        self.assertEqual(rc, 2)
        for name, p in ports.items():
            self.assertEqual(p["product"]["name"], "Dovecot", name)
            # the greeting says 2.3.19, ID the full 2.3.19.1 of Debian's package
            self.assertTrue(p["product"]["version"].startswith("2.3.19"), name)
            f = failed(p)
            for expected in ("tls.legacy_protocol", "tls.weak_cipher", "auth.weak_mechanism",
                             "auth.anonymous", "disclosure.version", "tls.alpaca"):
                self.assertIn(expected, f, f"{name}: {p['error']} {p['findings']}")
        for name in ("imap", "pop3"):
            self.assertIn("auth.plaintext_pre_tls", failed(ports[name]), name)
        for name in ("pop3", "pop3s"):
            self.assertIn("disclosure.apop_host", failed(ports[name]), name)
        for name in ("imap", "imaps"):
            self.assertIn("disclosure.id", failed(ports[name]), name)
            self.assertTrue(ports[name]["id"].get("version", "").startswith("2.3.19"))
        weak = [f for f in ports["imap"]["findings"] if f["id"] == "auth.weak_mechanism"][0]
        self.assertIn("CRAM-MD5", weak["title"])
        self.assertIn("DIGEST-MD5", weak["title"])


NMAP = "/usr/bin/nmap"


@unittest.skipUnless(os.access(DOVECOT, os.X_OK) and os.access(NMAP, os.X_OK) and os.geteuid() == 0,
                     "needs Dovecot, nmap, and root (nmap -S binds 127.0.0.2)")
class ProbeVersusNmap(unittest.TestCase):
    """Everything nmap's scripts report about the same Dovecot ports is also in
    gannet probe --json (issue 4)."""

    def test_nmap_subset(self):
        import xml.etree.ElementTree as ET
        with DovecotServer(weak=True) as dv:
            ports = ",".join(str(dv.ports[n]) for n in ("imap", "imaps", "pop3", "pop3s"))
            xml_path = os.path.join(dv.dir, "nmap.xml")
            subprocess.run([NMAP, "-sV", "-Pn", "-n", "-S", OTHER_HOST, "-e", "lo", "-p", ports,
                            "--script", "imap-capabilities,pop3-capabilities,ssl-cert,ssl-enum-ciphers",
                            "-oX", xml_path, HOST], capture_output=True, timeout=300, check=True)
            rc, out, err, _ = probe("--json", "--source", OTHER_HOST, "--ca", dv.cert, *dv.targets())
            ours = {p["port"]: p for p in json.loads(out)["ports"]}
            seen = set()
            for port in ET.parse(xml_path).iter("port"):
                p = ours[int(port.get("portid"))]
                caps = set((p["capabilities"]["pre_tls"] or []) + (p["capabilities"]["tls"] or []))
                for script in port.iter("script"):
                    sid = script.get("id")
                    seen.add(sid)
                    if sid == "imap-capabilities":
                        ok_words = set((p["capabilities"]["ok_text"] or "").replace(",", " ").replace(".", " ").split())
                        for tok in script.get("output").split():
                            # nmap merges the tagged text into the list, and
                            # glues its own tag "A0001" to the last capability.
                            tok = tok[:-5] if tok.endswith("A0001") else tok
                            if tok == "OK":
                                continue
                            self.assertTrue(tok in caps or tok in ok_words, tok)
                    elif sid == "pop3-capabilities":
                        out_text = script.get("output")
                        mechs = out_text[out_text.index("SASL(") + 5:out_text.index(")")].split()
                        self.assertEqual(set(mechs), set(p["sasl"]["pre_tls"] or p["sasl"]["tls"]))
                        for tok in out_text.split():
                            if tok.startswith("SASL(") or tok.endswith(")") or tok in mechs:
                                continue
                            if tok == "APOP":
                                self.assertIsNotNone(p["apop"])
                            else:
                                self.assertIn(tok, {c.split()[0] for c in caps})
                    elif sid == "ssl-cert":
                        cert = p["tls"]["certificate"]
                        el = {e.get("key"): e.text for e in script.iter("elem")}
                        self.assertIn("CN=" + el["commonName"], cert["subject"])
                        self.assertEqual(el["type"].upper(), cert["key_type"].upper())
                        self.assertEqual(int(el["bits"]), cert["key_bits"])
                        self.assertEqual(el["sig_algo"], cert["signature_algorithm"])
                        not_after = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cert["not_after"]))
                        self.assertEqual(el["notAfter"], not_after)
                    elif sid == "ssl-enum-ciphers":
                        for table in script.findall("table"):
                            version = table.get("key")
                            self.assertEqual(p["tls"]["versions"].get(version), "yes", version)
                            names = {c["iana_name"] for c in p["tls"]["ciphers"][version]}
                            for c in table.findall("table[@key='ciphers']/table"):
                                name = [e.text for e in c.findall("elem") if e.get("key") == "name"][0]
                                # nmap's TLS 1.3 names: TLS_AKE_WITH_AES_128_GCM_SHA256
                                name = name.replace("TLS_AKE_WITH_", "TLS_")
                                self.assertIn(name, names, f"{port.get('portid')} {version}")
            for sid in ("imap-capabilities", "pop3-capabilities", "ssl-cert", "ssl-enum-ciphers"):
                self.assertIn(sid, seen)


class ProbeErrors(unittest.TestCase):
    def test_usage_and_bad_targets(self):
        self.assertEqual(probe()[0], 1)
        self.assertEqual(probe("smtp://x")[0], 1)
        self.assertEqual(probe("--fail-on", "severe", "h")[0], 1)
        self.assertEqual(probe("--user", "u", "h")[0], 1)
        # Numbers are digits only: what strtoul() would take with a sign or a
        # blank is a usage error, not a probe of the target.
        for option, value in (("--timeout", "+5"), ("--timeout", " 5"), ("--concurrency", "+20"),
                              ("--timeout", "4294967297")):
            rc, out, err, seconds = probe(option, value, f"{HOST}:1")
            self.assertEqual(rc, 1)
            self.assertIn(f"gannet probe: {option} takes", err)

    def test_nothing_listening(self):
        import socket
        s = socket.socket()
        s.bind((HOST, 0))
        port = s.getsockname()[1]
        s.close()
        rc, out, err, seconds = probe("--json", "--timeout", "2", f"{HOST}:{port}")
        self.assertEqual(rc, 1)
        doc = json.loads(out)
        self.assertIsNone(doc["ports"][0]["transport"])
        self.assertIsNotNone(doc["ports"][0]["error"])


class ProbeFakeProducts(unittest.TestCase):
    """The fingerprint table at work on recorded greetings and capabilities."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.TemporaryDirectory(prefix="gannet-probe-")
        cls.cert, cls.key = make_cert(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_fake(self, profile, *args, scheme="imap"):
        with FakeServer(profile, certfile=self.cert, keyfile=self.key) as fs:
            rc, out, err, _ = probe("--json", "--no-tls-scan", *args, f"{scheme}://{HOST}:{fs.port}")
            return rc, json.loads(out)["ports"][0], fs.received

    def test_dovecot(self):
        rc, p, received = self.run_fake("dovecot-imap")
        self.assertEqual(p["product"]["name"], "Dovecot")
        self.assertEqual(p["product"]["version"], "2.3.19")
        self.assertIn("id.name:Dovecot", p["product"]["signals"])
        # nmap's imap-capabilities bug: the tagged text is not a capability.
        caps = p["capabilities"]["pre_tls"]
        self.assertEqual(caps[-1], "LOGINDISABLED")
        for word in ("Pre-login", "capabilities", "listed,", "more."):
            self.assertNotIn(word, caps)
        self.assertEqual(p["capabilities"]["ok_text"],
                         "Pre-login capabilities listed, post-login capabilities have more.")
        self.assertIn("AUTH=PLAIN", p["capabilities"]["added_by_tls"])
        self.assertIn("disclosure.version", failed(p))
        self.assertIn('a2 ID ("name" "gannet-probe")', received)

    def test_exchange_ntlm(self):
        rc, p, _ = self.run_fake("exchange-imap")
        self.assertEqual(p["product"]["name"], "Microsoft Exchange")
        self.assertEqual(p["ntlm"]["dns_computer"], "exch01.example.local")
        self.assertEqual(p["ntlm"]["netbios_domain"], "EXAMPLE")
        self.assertEqual(p["ntlm"]["os_version"], "10.0.14393")
        f = failed(p)
        self.assertIn("disclosure.ntlm", f)
        self.assertIn("auth.weak_mechanism", f)
        self.assertIn("starttls.missing", f)
        self.assertIn("auth.plaintext_pre_tls", f)

    def test_cyrus(self):
        rc, p, _ = self.run_fake("cyrus-imap")
        self.assertEqual(p["product"]["name"], "Cyrus")
        self.assertTrue(p["product"]["version"].startswith("3.2.6"))
        f = failed(p)
        self.assertIn("disclosure.id", f)
        self.assertIn("auth.weak_mechanism", f)

    def test_courier(self):
        rc, p, _ = self.run_fake("courier-imap")
        self.assertEqual(p["product"]["name"], "Courier")

    def test_dovecot_pop3_apop(self):
        rc, p, received = self.run_fake("dovecot-pop3", scheme="pop3")
        self.assertEqual(p["product"]["name"], "Dovecot")
        self.assertEqual(p["apop"], {"timestamp": "<1896.697170952@mail.example.org>",
                                     "host": "mail.example.org", "pid": "1896"})
        f = failed(p)
        self.assertIn("disclosure.apop_host", f)
        self.assertIn("auth.weak_mechanism", f)
        self.assertIn("auth.plaintext_pre_tls", f)
        self.assertTrue(any(r.startswith("USER probe-nonexistent-") for r in received))

    def test_starttls_injection(self):
        rc, p, _ = self.run_fake("injectable-imap")
        self.assertTrue(p["starttls"]["works"])
        self.assertTrue(p["starttls"]["injection"])
        inj = [f for f in p["findings"] if f["id"] == "starttls.injection"][0]
        self.assertEqual(inj["status"], "fail")
        self.assertEqual(inj["severity"], "high")
        self.assertIn("a6 OK", inj["evidence"])
        self.assertEqual(rc, 2)

    def test_many_ports_concurrently(self):
        # 120 ports on one loop are concurrent, not serialised (one port takes
        # about 2 s, mostly waiting for answers that never come).
        with FakeServer("dovecot-pop3") as fs:
            many = [f"pop3://{HOST}:{fs.port}"] * 120
            rc, out, err, seconds = probe("--json", "--no-tls-scan", "--concurrency", "20", *many)
            doc = json.loads(out)
            self.assertEqual(len(doc["ports"]), 120)
            self.assertTrue(all(p["product"]["name"] == "Dovecot" for p in doc["ports"]), err)
            self.assertLess(seconds, 30.0)
            self.assertEqual(fs.connections, 120)
            self.assertGreaterEqual(fs.max_active, 15)

    def test_concurrency_bound(self):
        # A server that never answers holds every connection for --timeout:
        # one second in, exactly --concurrency of the 40 ports are connected.
        with FakeServer("stalling-imap") as fs:
            proc = subprocess.Popen([GANNET, "probe", "--json", "--no-tls-scan", "--timeout", "3",
                                     "--concurrency", "20", *([f"imap://{HOST}:{fs.port}"] * 40)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(1.0)
            self.assertEqual(fs.connections, 20)
            out, err = proc.communicate(timeout=60)
            self.assertEqual(fs.connections, 40)
            self.assertEqual(proc.returncode, 0, err)  # reached, nothing failed at medium+
            for p in json.loads(out)["ports"]:
                self.assertIn("no answer within 3000 ms", p["error"])

    def test_not_intrusive_by_default(self):
        rc, p, received = self.run_fake("dovecot-imap")
        for line in received:
            self.assertNotIn("AUTHENTICATE ANONYMOUS", line)
            self.assertNotIn(" LOGIN ", line)


if __name__ == "__main__":
    unittest.main()
