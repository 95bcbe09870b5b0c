"""scripts/check-layers (`make layers`, part of `make check`): the tree as it
is passes; a tree with an upward include, an include between siblings, a
folder outside the order or a banned function fails and names file:line."""

import contextlib
import importlib.machinery
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(REPO, "scripts", "check-layers")


def load_script():
    """The script as a module, to run it many times without a process each."""
    loader = importlib.machinery.SourceFileLoader("check_layers", SCRIPT)
    spec = importlib.util.spec_from_loader("check_layers", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


check_layers = load_script()


class CheckLayersTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory(prefix="gannet-layers-")
        self.addCleanup(tmp.cleanup)
        self.src = os.path.join(tmp.name, "src")
        self.tmp = tmp.name

    def write(self, rel, text):
        path = os.path.join(self.src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_script(self, src=None):
        """(exit code, output) of `scripts/check-layers SRC`, run in this process."""
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            rc = check_layers.main([SCRIPT, src or self.src])
        return rc, out.getvalue()

    def run_process(self, *args, cwd=None):
        r = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                           cwd=cwd, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def assertPasses(self, src=None):
        rc, out = self.run_script(src)
        self.assertEqual(rc, 0, out)
        self.assertEqual(out, "")

    def assertFailsAt(self, path, line, *words):
        rc, out = self.run_script()
        self.assertEqual(rc, 1, out)
        self.assertIn(f"{path}:{line}: ", out)
        for w in words:
            self.assertIn(w, out)
        return out

    def small_tree(self):
        """Every layer, each including what it may."""
        self.write("lib/buf.h", '#pragma once\n#include <stddef.h>\n')
        self.write("lib/buf.c", '#include "lib/buf.h"\n#include "buf.h"\n')
        self.write("lib-imap/quote.h", '#include "lib/buf.h"\n')
        self.write("mail/mime.c", '#include "lib/buf.h"\n#include "lib-imap/quote.h"\n')
        self.write("store/store.c", '#include "mail/mime.h"\n#include "../lib/buf.h"\n')
        self.write("auth/passdb.c", '#include "store/store.h"\n')
        self.write("net/conn.c", '#include "auth/passdb.h"\n#include "lib/buf.h"\n')
        self.write("login/login.c", '#include "net/conn.h"\n#include "auth/passdb.h"\n')
        self.write("imap/session.c", '#include "login/login.h"\n#include "session.h"\n')
        self.write("imap/session.h", '#include "net/conn.h"\n')
        self.write("pop3/session.c", '#include "login/login.h"\n#include "net/conn.h"\n')
        self.write("lmtp/session.c", '#include "store/store.h"\n')
        self.write("probe/probe.c", '#include "lib/buf.h"\n#include "lib-imap/quote.h"\n')
        self.write("cli/main.c", "".join(
            f'#include "{d}/x.h"\n'
            for d in ("lib", "lib-imap", "mail", "store", "auth", "net", "login", "imap",
                      "pop3", "lmtp", "probe")))

    def test_the_source_tree_passes(self):
        self.assertPasses(os.path.join(REPO, "src"))

    def test_without_argument_it_checks_the_checkout(self):
        rc, out = self.run_process(cwd=self.tmp)
        self.assertEqual(rc, 0, out)

    def test_as_a_program_it_exits_1_naming_file_and_line(self):
        path = self.write("store/index.c", '#include "lib/buf.h"\n#include "net/conn.h"\n')
        rc, out = self.run_process(self.src)
        self.assertEqual(rc, 1, out)
        self.assertIn(f"{path}:2: store/ includes net/conn.h: net/ is not below store/", out)

    def test_a_tree_that_follows_the_order_passes(self):
        self.small_tree()
        self.assertPasses()

    def test_absent_folders_are_fine(self):
        self.write("lib/buf.c", '#include "lib/buf.h"\n')
        self.write("imap/session.c", '#include "lib/buf.h"\n')
        self.assertPasses()

    def test_lib_including_imap_fails_with_file_and_line(self):
        self.small_tree()
        path = self.write("lib/buf.c", '#include "lib/buf.h"\n\n#include "imap/session.h"\n')
        out = self.assertFailsAt(path, 3, "imap/session.h", "lib/")
        self.assertEqual(len(out.strip().splitlines()), 2, out)  # one problem + the summary

    def test_every_upward_pair_fails(self):
        order = ["lib", "lib-imap", "mail", "store", "auth", "net", "login", "imap"]
        for i, low in enumerate(order):
            for high in order[i + 1:]:
                with self.subTest(low=low, high=high):
                    shutil.rmtree(self.src, ignore_errors=True)
                    path = self.write(f"{low}/x.c", f'#include "{high}/y.h"\n')
                    self.assertFailsAt(path, 1)

    def test_a_relative_upward_include_fails(self):
        path = self.write("mail/mime.c", '#include "../store/store.h"\n')
        self.write("store/store.h", "\n")
        self.assertFailsAt(path, 1, "store/store.h")

    def test_siblings_may_not_include_each_other(self):
        self.small_tree()
        path = self.write("pop3/session.c", '#include "net/conn.h"\n#include "imap/session.h"\n')
        self.assertFailsAt(path, 2, "imap/session.h")
        os.remove(path)
        path = self.write("imap/cmd.c", '#include "lmtp/session.h"\n')
        self.assertFailsAt(path, 1, "lmtp/session.h")

    def test_probe_may_include_lib_and_lib_imap_only(self):
        self.small_tree()
        for other in ("mail", "store", "auth", "net", "login", "imap"):
            with self.subTest(other=other):
                path = self.write("probe/checks.c",
                                  f'#include "lib/buf.h"\n#include "{other}/x.h"\n')
                self.assertFailsAt(path, 2, f"{other}/x.h")
        for layer in ("mail", "imap", "cli"):
            with self.subTest(includes_probe=layer):
                os.remove(path)
                path = self.write(f"{layer}/p.c", '#include "probe/probe.h"\n')
                if layer == "cli":
                    self.assertPasses()
                else:
                    self.assertFailsAt(path, 1, "probe/probe.h")

    def test_nothing_may_include_cli(self):
        path = self.write("imap/session.c", '#include "cli/commands.h"\n')
        self.assertFailsAt(path, 1, "cli/commands.h")

    def test_a_folder_outside_the_order_fails(self):
        self.small_tree()
        self.write("smtp/session.c", '#include "lib/buf.h"\n')
        rc, out = self.run_script()
        self.assertEqual(rc, 1, out)
        self.assertIn(os.path.join(self.src, "smtp") + "/: folder not in the layer order", out)

    def test_banned_functions_fail_with_file_and_line(self):
        for fn in ("strcpy", "sprintf", "vsprintf", "strcat", "gets", "strncpy"):
            with self.subTest(fn=fn):
                shutil.rmtree(self.src, ignore_errors=True)
                path = self.write("net/conn.c", f"int f(char *d)\n{{\n    {fn} (d, \"x\");\n}}\n")
                self.assertFailsAt(path, 3, f"banned function {fn}()")

    def test_banned_names_in_comments_strings_and_longer_names_pass(self):
        self.write("lib/buf.c",
                   "/* never strcpy(a, b) or\n * sprintf(a, ...) here */\n"
                   "// strcat(a, b)\n"
                   'static const char *s = "gets(x) \\" strncpy(";\n'
                   "char c = '\"'; int d = snprintf(b, 1, \"\"); fgets(b, 1, f);\n"
                   "buf_strcpy(b); vsnprintf(b, 1, f, ap); strncat(b, c, 1);\n")
        self.assertPasses()

    def test_a_copy_of_the_real_tree_with_one_upward_include_fails(self):
        shutil.copytree(os.path.join(REPO, "src"), self.src)
        path = os.path.join(self.src, "lib", "buf.h")
        with open(path) as f:
            n = len(f.read().splitlines())
        with open(path, "a") as f:
            f.write('#include "store/store.h"\n')
        out = self.assertFailsAt(path, n + 1, "store/store.h")
        self.assertEqual(len(out.strip().splitlines()), 2, out)


if __name__ == "__main__":
    unittest.main()
