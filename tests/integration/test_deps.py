"""The dependencies (scripts/deps, the Makefile): under `make -j` no compiler
starts, and pkg-config is not asked, before the packages are in."""

import glob
import os
import subprocess
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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
