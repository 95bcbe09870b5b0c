"""The dependencies (scripts/deps, the Makefile): `make run` installs what
building and running need and no test peer (Debian's Dovecot would start on the
ports gannet serves), `make check` adds the test peers, and under `make -j` no
compiler starts, and pkg-config is not asked, before the packages are in."""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_probe import DOVECOT, NMAP  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPS = os.path.join(REPO, "scripts", "deps")
# the packages that only the tests need: never installed by `make` or `make run`
TEST_ONLY = ("dovecot-core", "dovecot-imapd", "dovecot-pop3d", "nmap", "libcmocka-dev", "python3",
             "postfix", "swaks")


def packages(*args):
    r = subprocess.run([DEPS, "--list", *args], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"scripts/deps --list {' '.join(args)}: {r.stderr}")
    return r.stdout.split()


def dpkg_owner(path):
    """The Debian package that holds PATH, or None."""
    r = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return None
    return r.stdout.split(":", 1)[0].strip()


class PackageListTest(unittest.TestCase):
    def test_run_list_has_no_test_peer(self):
        run = packages()
        self.assertTrue(run)
        for p in run:
            self.assertFalse(p.startswith("dovecot") or p.startswith("nmap") or p in TEST_ONLY,
                             f"`make run` would install {p}, which only the tests need")
        # what building and running need
        for p in ("gcc", "pkg-config", "libssl-dev", "openssl"):
            self.assertIn(p, run)

    def test_test_list_adds_the_peers(self):
        run, test = packages(), packages("test")
        self.assertEqual(test[:len(run)], run)
        for p in TEST_ONLY:
            self.assertIn(p, test)

    @unittest.skipUnless(shutil.which("dpkg-query"), "not a Debian system")
    def test_programs_the_tests_run_come_from_the_test_list(self):
        test = packages("test")
        for program in ("openssl", "curl", DOVECOT, NMAP, "postfix", "swaks"):
            path = shutil.which(program)
            with self.subTest(program=program):
                if path is None:
                    self.skipTest(f"{program} is not installed")
                owner = dpkg_owner(os.path.realpath(path)) or dpkg_owner(path)
                self.assertIn(owner, test, f"{path} comes from {owner}, not in scripts/deps test")

    @unittest.skipUnless(shutil.which("dpkg-query"), "not a Debian system")
    def test_run_packages_ship_no_daemon(self):
        for p in packages():
            r = subprocess.run(["dpkg-query", "-L", p], capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                continue  # not installed here
            daemons = [f for f in r.stdout.split()
                       if f.startswith("/etc/init.d/")
                       or ("/systemd/system/" in f and f.endswith((".service", ".socket")))]
            self.assertEqual(daemons, [], f"`make run` installs {p}, which starts a service")

    def test_unknown_argument_is_refused(self):
        r = subprocess.run([DEPS, "--list", "everything"], capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 2)


class ParallelBuildTest(unittest.TestCase):
    """`make -j2 deps OBJ OBJ`, the shape of `all: deps $(BUILD)/gannet`, with a
    scripts/deps that takes two seconds and then makes the packages appear:
    the compiler and pkg-config record whether they ran before that."""

    def test_compiles_wait_for_the_packages(self):
        with tempfile.TemporaryDirectory(prefix="gannet-deps-") as tmp:
            installed = os.path.join(tmp, "installed")
            log = os.path.join(tmp, "log")

            def script(name, body):
                path = os.path.join(tmp, name)
                with open(path, "w") as f:
                    f.write("#!/bin/sh\n" + body)
                os.chmod(path, 0o755)
                return path

            deps = script("deps", f"sleep 2\necho \"deps $*\" >>{log}\ntouch {installed}\n")
            # before scripts/deps has run, pkg-config is not there (as on a
            # fresh machine); after, it answers, with a define added that
            # shows whether its answer reached the compiler
            pkg_config = script("pkg-config", f"""
[ -e {installed} ] || {{ echo "pkg-config early" >>{log}; exit 127; }}
echo "pkg-config after" >>{log}
case " $* " in *" --cflags "*) echo "$(pkg-config "$@") -DGANNET_DEPS_PROBE";; *) exec pkg-config "$@";; esac
""")
            cc = script("cc", f"""
[ -e {installed} ] && when=after || when=early
case " $* " in *" -DGANNET_DEPS_PROBE "*) flags=flags;; *) flags=noflags;; esac
echo "cc $when $flags" >>{log}
exec cc "$@"
""")
            build = os.path.join(tmp, "build")
            sources = sorted(glob.glob(os.path.join(REPO, "src", "lib", "*.c")))[:2]
            objects = [os.path.join(build, os.path.relpath(s, REPO))[:-2] + ".o" for s in sources]
            r = subprocess.run(["make", "-j2", "-C", REPO, f"BUILD={build}", f"CC={cc}",
                                f"PKG_CONFIG={pkg_config}", f"DEPS_SCRIPT={deps}", "deps", *objects],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(log) as f:
                lines = f.read().splitlines()
            self.assertEqual(lines.count("deps "), 1, lines)
            self.assertEqual(lines.count("cc after flags"), 2, lines)
            self.assertEqual([l for l in lines if "early" in l or "noflags" in l], [], lines)
            self.assertTrue(all(os.path.exists(o) for o in objects))


if __name__ == "__main__":
    unittest.main()
